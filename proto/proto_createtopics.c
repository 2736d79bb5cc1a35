/* proto/proto_createtopics.c: CreateTopics (key 19), v3-4 (schemas/CreateTopics*.json).
 * v4 only changes semantics (num_partitions / replication_factor may be -1 for
 * the broker default, KIP-464); the bytes equal v3's. Response: throttle first
 * (v2+), per topic name, error_code, error_message (v1+, nullable). */
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
    req->validate_only = kr_bool(rd); /* v1+ */
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_createtopics_encode(struct kbuf *out, int16_t version, const struct kcreatetopics_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_CREATE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_CREATE_TOPICS, version);
    kb_i32(out, resp->throttle_time_ms); /* v2+ */
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct ktopic_result *t = &resp->topics[i];
        kb_str(out, flex, t->name);
        kb_i16(out, t->error_code);
        kb_nstr(out, flex, t->error_message); /* v1+ */
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
    kb_bool(out, req->validate_only); /* v1+ */
    kb_tags(out, flex);
}

enum weir_err kproto_createtopics_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kcreatetopics_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_CREATE_TOPICS, version), true };
    if (!kproto_supported(KAPI_CREATE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd); /* v2+ */
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct ktopic_result *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) {
        topics[i].name = kd_str(&d);
        topics[i].error_code = weir_rd_i16(rd);
        topics[i].error_message = kd_nstr(&d); /* v1+; v5+ fields are not in range */
        kd_tags(&d);
    }
    resp->topics = topics;
    kd_tags(&d);
    return kd_done(&d);
}
