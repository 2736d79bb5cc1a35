/* net/proto_metadata.c: Metadata (key 3), v4-6 (schemas/Metadata*.json).
 * Request: a null topics array means all topics, an empty one none (v1+,
 * README §9.2). Response: throttle first (v3+), rack (v1+), cluster_id (v2+),
 * controller_id (v1+), is_internal (v1+), offline_replicas (v5+). */
#include "proto_int.h"

enum weir_err kproto_metadata_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                     struct kmetadata_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_METADATA, version) };
    if (!kproto_supported(KAPI_METADATA, version)) return WEIR_E_UNSUPPORTED;
    int32_t n = kd_narray(&d, KPROTO_TOPICS_MAX); /* nullable from v1 */
    req->all_topics = n < 0;
    req->n_topics = n < 0 ? 0 : n;
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) {
        req->topics[i] = kd_str(&d);
        kd_tags(&d);
    }
    req->allow_auto_topic_creation = kr_bool(rd); /* v4+ */
    kd_tags(&d);
    return kd_done(&d);
}

static void metadata_encode_broker(struct kbuf *out, bool flex, const struct kmetadata_broker *b)
{
    kb_i32(out, b->node_id);
    kb_str(out, flex, b->host);
    kb_i32(out, b->port);
    kb_nstr(out, flex, b->rack);
    kb_tags(out, flex);
}

static void metadata_encode_part(struct kbuf *out, int16_t version, bool flex, const struct kmetadata_part *p)
{
    kb_i16(out, p->error_code);
    kb_i32(out, p->partition_index);
    kb_i32(out, p->leader_id);
    kb_i32_array(out, flex, p->replicas, p->n_replicas);
    kb_i32_array(out, flex, p->isr, p->n_isr);
    if (version >= 5) kb_i32_array(out, flex, p->offline, p->n_offline);
    kb_tags(out, flex);
}

static void metadata_encode_topic(struct kbuf *out, int16_t version, bool flex, const struct kmetadata_topic *t)
{
    kb_i16(out, t->error_code);
    kb_str(out, flex, t->name);
    kb_bool(out, t->is_internal);
    kb_arr(out, flex, t->n_partitions);
    for (int32_t i = 0; i < t->n_partitions; i++) metadata_encode_part(out, version, flex, &t->partitions[i]);
    kb_tags(out, flex);
}

void kproto_metadata_encode(struct kbuf *out, int16_t version, const struct kmetadata_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_METADATA, version));
    bool flex = kproto_request_flexible(KAPI_METADATA, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_brokers);
    for (int32_t i = 0; i < resp->n_brokers; i++) metadata_encode_broker(out, flex, &resp->brokers[i]);
    kb_nstr(out, flex, resp->cluster_id);
    kb_i32(out, resp->controller_id);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) metadata_encode_topic(out, version, flex, &resp->topics[i]);
    kb_tags(out, flex);
}
