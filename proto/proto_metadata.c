/* proto/proto_metadata.c: Metadata (key 3), v0-12 (schemas/Metadata*.json).
 * Request: a null topics array means all topics, an empty one none (v1+,
 * README §9.2); in v0 the array is not nullable and an empty one means all
 * topics (Kafka's MetadataRequest.isAllTopics); allow_auto_topic_creation
 * is v4+ (true before); v8-10 ask for cluster authorized operations, v8+ for topic
 * ones; v10+ give each topic an id before its name (the name nullable: v12
 * asks by id). Response: throttle first (v3+), rack (v1+), cluster_id (v2+),
 * controller_id (v1+), is_internal (v1+), leader_epoch (v7+), offline_replicas
 * (v5+), topic_authorized_operations (v8+), topic_id after the name (v10+),
 * cluster_authorized_operations last (v8-10). Flexible from v9. */
#include "proto.h"

enum weir_err kproto_metadata_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                     struct kmetadata_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_METADATA, version), false };
    if (!kproto_supported(KAPI_METADATA, version)) return WEIR_E_UNSUPPORTED;
    int32_t n = version >= 1 ? kd_narray(&d, KPROTO_TOPICS_MAX) : kd_array(&d, KPROTO_TOPICS_MAX);
    req->all_topics = n < 0 || (version == 0 && n == 0);
    req->n_topics = n < 0 ? 0 : n;
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    req->topic_ids = version >= 10 ? kd_alloc(&d, req->n_topics, sizeof *req->topic_ids) : NULL;
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) {
        if (version >= 10) req->topic_ids[i] = kr_uuid(rd);
        req->topics[i] = version >= 10 ? kd_nstr(&d) : kd_str(&d);
        kd_tags(&d);
    }
    req->allow_auto_topic_creation = version >= 4 ? kr_bool(rd) : true;
    req->include_cluster_authorized_operations = version >= 8 && version <= 10 ? kr_bool(rd) : false;
    req->include_topic_authorized_operations = version >= 8 ? kr_bool(rd) : false;
    kd_tags(&d);
    return kd_done(&d);
}

static void metadata_encode_broker(struct kbuf *out, int16_t version, bool flex, const struct kmetadata_broker *b)
{
    kb_i32(out, b->node_id);
    kb_str(out, flex, b->host);
    kb_i32(out, b->port);
    if (version >= 1) kb_nstr(out, flex, b->rack);
    kb_tags(out, flex);
}

static void metadata_encode_part(struct kbuf *out, int16_t version, bool flex, const struct kmetadata_part *p)
{
    kb_i16(out, p->error_code);
    kb_i32(out, p->partition_index);
    kb_i32(out, p->leader_id);
    if (version >= 7) kb_i32(out, p->leader_epoch);
    kb_i32_array(out, flex, p->replicas, p->n_replicas);
    kb_i32_array(out, flex, p->isr, p->n_isr);
    if (version >= 5) kb_i32_array(out, flex, p->offline, p->n_offline);
    kb_tags(out, flex);
}

static void metadata_encode_topic(struct kbuf *out, int16_t version, bool flex, const struct kmetadata_topic *t)
{
    kb_i16(out, t->error_code);
    if (version >= 12) kb_nstr(out, flex, t->name);
    else kb_str(out, flex, t->name);
    if (version >= 10) kb_uuid(out, &t->topic_id);
    if (version >= 1) kb_bool(out, t->is_internal);
    kb_arr(out, flex, t->n_partitions);
    for (int32_t i = 0; i < t->n_partitions; i++) metadata_encode_part(out, version, flex, &t->partitions[i]);
    if (version >= 8) kb_i32(out, t->topic_authorized_operations);
    kb_tags(out, flex);
}

void kproto_metadata_encode(struct kbuf *out, int16_t version, const struct kmetadata_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_METADATA, version));
    bool flex = kproto_request_flexible(KAPI_METADATA, version);
    if (version >= 3) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_brokers);
    for (int32_t i = 0; i < resp->n_brokers; i++) metadata_encode_broker(out, version, flex, &resp->brokers[i]);
    if (version >= 2) kb_nstr(out, flex, resp->cluster_id);
    if (version >= 1) kb_i32(out, resp->controller_id);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) metadata_encode_topic(out, version, flex, &resp->topics[i]);
    if (version >= 8 && version <= 10) kb_i32(out, resp->cluster_authorized_operations);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_metadata_request_encode(struct kbuf *out, int16_t version, const struct kmetadata_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_METADATA, version));
    bool flex = kproto_request_flexible(KAPI_METADATA, version);
    static const struct weir_uuid zero;
    WEIR_ASSERT(version >= 1 || !req->all_topics || req->n_topics == 0);
    kb_arr(out, flex, req->all_topics ? (version >= 1 ? -1 : 0) : req->n_topics); /* null = all (v1+), v0: empty */
    for (int32_t i = 0; !req->all_topics && i < req->n_topics; i++) {
        if (version >= 10) kb_uuid(out, req->topic_ids ? &req->topic_ids[i] : &zero);
        if (version >= 10) kb_nstr(out, flex, req->topics[i]);
        else kb_str(out, flex, req->topics[i]);
        kb_tags(out, flex);
    }
    if (version >= 4) kb_bool(out, req->allow_auto_topic_creation);
    if (version >= 8 && version <= 10) kb_bool(out, req->include_cluster_authorized_operations);
    if (version >= 8) kb_bool(out, req->include_topic_authorized_operations);
    kb_tags(out, flex);
}

static void metadata_decode_broker(struct kdec *d, struct kmetadata_broker *b)
{
    b->node_id = weir_rd_i32(d->rd);
    b->host = kd_str(d);
    b->port = weir_rd_i32(d->rd);
    b->rack = d->version >= 1 ? kd_nstr(d) : KSTR_NULL;
    kd_tags(d);
}

static void metadata_decode_part(struct kdec *d, struct kmetadata_part *p)
{
    p->error_code = weir_rd_i16(d->rd);
    p->partition_index = weir_rd_i32(d->rd);
    p->leader_id = weir_rd_i32(d->rd);
    p->leader_epoch = d->version >= 7 ? weir_rd_i32(d->rd) : -1;
    p->replicas = kd_i32_array(d, KPROTO_REPLICAS_MAX, &p->n_replicas);
    p->isr = kd_i32_array(d, KPROTO_REPLICAS_MAX, &p->n_isr);
    p->offline = NULL;
    p->n_offline = 0;
    if (d->version >= 5) p->offline = kd_i32_array(d, KPROTO_REPLICAS_MAX, &p->n_offline);
    kd_tags(d);
}

static void metadata_decode_topic(struct kdec *d, struct kmetadata_topic *t)
{
    t->error_code = weir_rd_i16(d->rd);
    t->name = d->version >= 12 ? kd_nstr(d) : kd_str(d);
    t->topic_id = d->version >= 10 ? kr_uuid(d->rd) : (struct weir_uuid){ { 0 } };
    t->is_internal = d->version >= 1 ? kr_bool(d->rd) : false;
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct kmetadata_part *parts = kd_alloc(d, t->n_partitions, sizeof *parts);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) metadata_decode_part(d, &parts[i]);
    t->partitions = parts;
    t->topic_authorized_operations = d->version >= 8 ? weir_rd_i32(d->rd) : KPROTO_AUTHORIZED_OPS_NONE;
    kd_tags(d);
}

enum weir_err kproto_metadata_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                              struct kmetadata_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_METADATA, version), true };
    if (!kproto_supported(KAPI_METADATA, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 3 ? weir_rd_i32(rd) : 0;
    resp->n_brokers = kd_array(&d, KPROTO_BROKERS_MAX);
    struct kmetadata_broker *brokers = kd_alloc(&d, resp->n_brokers, sizeof *brokers);
    for (int32_t i = 0; i < resp->n_brokers && rd->err == WEIR_OK; i++) metadata_decode_broker(&d, &brokers[i]);
    resp->brokers = brokers;
    resp->cluster_id = version >= 2 ? kd_nstr(&d) : KSTR_NULL;
    resp->controller_id = version >= 1 ? weir_rd_i32(rd) : -1;
    resp->n_topics = kd_array(&d, KPROTO_CLUSTER_TOPICS_MAX);
    struct kmetadata_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) metadata_decode_topic(&d, &topics[i]);
    resp->topics = topics;
    resp->cluster_authorized_operations =
        version >= 8 && version <= 10 ? weir_rd_i32(rd) : KPROTO_AUTHORIZED_OPS_NONE;
    kd_tags(&d);
    return kd_done(&d);
}
