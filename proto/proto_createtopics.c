/* proto/proto_createtopics.c: CreateTopics (key 19), v0-7 (schemas/CreateTopics*.json).
 * Request: validate_only from v1; v4 only changes semantics (num_partitions /
 * replication_factor may be -1 for the broker default, KIP-464); v5 is
 * flexible; v6 and v7 equal v5. Response: throttle first (v2+), per topic
 * name, topic_id (v7+), error_code, error_message (v1+, nullable), then
 * (v5+, KIP-525) num_partitions, replication_factor and the topic's configs
 * (nullable: name, value, read_only, config_source, is_sensitive); the tagged
 * topic_config_error_code is never sent. */
#include "proto.h"

static void createtopics_decode_assignments(struct kdec *d, struct kcreatetopics_req_topic *t)
{
    t->n_assignments = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->assignments = kd_alloc(d, t->n_assignments, sizeof *t->assignments);
    for (int32_t i = 0; i < t->n_assignments && d->rd->err == WEIR_OK; i++) {
        struct kcreatetopics_assignment *as = &t->assignments[i];
        as->partition_index = weir_rd_i32(d->rd);
        as->broker_ids = kd_i32_array(d, KPROTO_REPLICAS_MAX, &as->n_broker_ids);
        kd_tags(d);
    }
}

static void createtopics_decode_configs(struct kdec *d, struct kcreatetopics_req_topic *t)
{
    t->n_configs = kd_array(d, KPROTO_CONFIGS_MAX);
    t->configs = kd_alloc(d, t->n_configs, sizeof *t->configs);
    for (int32_t i = 0; i < t->n_configs && d->rd->err == WEIR_OK; i++) {
        t->configs[i].name = kd_str(d);
        t->configs[i].value = kd_nstr(d);
        kd_tags(d);
    }
}

enum weir_err kproto_createtopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kcreatetopics_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_CREATE_TOPICS, version), false };
    if (!kproto_supported(KAPI_CREATE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) {
        struct kcreatetopics_req_topic *t = &req->topics[i];
        t->name = kd_str(&d);
        t->num_partitions = weir_rd_i32(rd);
        t->replication_factor = weir_rd_i16(rd);
        createtopics_decode_assignments(&d, t);
        createtopics_decode_configs(&d, t);
        kd_tags(&d);
    }
    req->timeout_ms = weir_rd_i32(rd);
    req->validate_only = version >= 1 ? kr_bool(rd) : false;
    kd_tags(&d);
    return kd_done(&d);
}

static void createtopics_encode_detail(struct kbuf *out, const struct kcreatetopics_detail *dt)
{
    static const struct kcreatetopics_detail none = { .num_partitions = -1, .replication_factor = -1, .n_configs = -1 };
    if (!dt) dt = &none;
    kb_i32(out, dt->num_partitions);
    kb_i16(out, dt->replication_factor);
    kb_compact_array_len(out, dt->n_configs); /* flexible only */
    for (int32_t i = 0; i < dt->n_configs; i++) {
        const struct kdescribeconfigs_config *c = &dt->configs[i];
        kb_compact_string(out, c->name);
        kb_compact_nstring(out, c->value);
        kb_bool(out, c->read_only);
        kb_i8(out, c->config_source);
        kb_bool(out, c->is_sensitive);
        kb_tags_empty(out);
    }
}

void kproto_createtopics_encode(struct kbuf *out, int16_t version, const struct kcreatetopics_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_CREATE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_CREATE_TOPICS, version);
    static const struct weir_uuid zero;
    if (version >= 2) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct ktopic_result *t = &resp->topics[i];
        const struct kcreatetopics_detail *dt = resp->details ? &resp->details[i] : NULL;
        kb_str(out, flex, t->name);
        if (version >= 7) kb_uuid(out, dt ? &dt->topic_id : &zero);
        kb_i16(out, t->error_code);
        if (version >= 1) kb_nstr(out, flex, t->error_message);
        if (version >= 5) createtopics_encode_detail(out, dt);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

static void createtopics_encode_request_topic(struct kbuf *out, bool flex, const struct kcreatetopics_req_topic *t)
{
    kb_str(out, flex, t->name);
    kb_i32(out, t->num_partitions);
    kb_i16(out, t->replication_factor);
    kb_arr(out, flex, t->n_assignments);
    for (int32_t i = 0; i < t->n_assignments; i++) {
        kb_i32(out, t->assignments[i].partition_index);
        kb_i32_array(out, flex, t->assignments[i].broker_ids, t->assignments[i].n_broker_ids);
        kb_tags(out, flex);
    }
    kb_arr(out, flex, t->n_configs);
    for (int32_t i = 0; i < t->n_configs; i++) {
        kb_str(out, flex, t->configs[i].name);
        kb_nstr(out, flex, t->configs[i].value);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_createtopics_request_encode(struct kbuf *out, int16_t version, const struct kcreatetopics_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_CREATE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_CREATE_TOPICS, version);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) createtopics_encode_request_topic(out, flex, &req->topics[i]);
    kb_i32(out, req->timeout_ms);
    if (version >= 1) kb_bool(out, req->validate_only);
    kb_tags(out, flex);
}

static void createtopics_decode_detail(struct kdec *d, struct kcreatetopics_detail *dt)
{
    dt->num_partitions = weir_rd_i32(d->rd);
    dt->replication_factor = weir_rd_i16(d->rd);
    dt->n_configs = kd_narray(d, KPROTO_CONFIGS_MAX);
    struct kdescribeconfigs_config *cfg = kd_alloc(d, dt->n_configs, sizeof *cfg);
    for (int32_t i = 0; i < dt->n_configs && d->rd->err == WEIR_OK; i++) {
        cfg[i].name = kd_str(d);
        cfg[i].value = kd_nstr(d);
        cfg[i].read_only = kr_bool(d->rd);
        cfg[i].config_source = kr_i8(d->rd);
        cfg[i].is_sensitive = kr_bool(d->rd);
        cfg[i].documentation = KSTR_NULL;
        kd_tags(d);
    }
    dt->configs = cfg;
}

enum weir_err kproto_createtopics_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kcreatetopics_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_CREATE_TOPICS, version), true };
    if (!kproto_supported(KAPI_CREATE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 2 ? weir_rd_i32(rd) : 0;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct ktopic_result *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    struct kcreatetopics_detail *details = version >= 5 ? kd_alloc(&d, resp->n_topics, sizeof *details) : NULL;
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) {
        topics[i].name = kd_str(&d);
        if (version >= 7) details[i].topic_id = kr_uuid(rd);
        topics[i].error_code = weir_rd_i16(rd);
        topics[i].error_message = version >= 1 ? kd_nstr(&d) : KSTR_NULL;
        if (version >= 5) createtopics_decode_detail(&d, &details[i]);
        kd_tags(&d);
    }
    resp->topics = topics;
    resp->details = details;
    kd_tags(&d);
    return kd_done(&d);
}
