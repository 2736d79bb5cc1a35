/* proto/proto_createpartitions.c: CreatePartitions (key 37), v0-3
 * (schemas/CreatePartitions*.json; v1 = v0, v2 is flexible, v3 = v2). Request: per topic the new total
 * count and a nullable assignments array of broker-id lists. Response:
 * throttle first (v0+), per topic name, error_code, error_message (nullable). */
#include "proto.h"

static void createpartitions_decode_topic(struct kdec *d, struct kcreatepartitions_req_topic *t)
{
    t->name = kd_str(d);
    t->count = weir_rd_i32(d->rd);
    t->n_assignments = kd_narray(d, KPROTO_PARTITIONS_MAX);
    t->assignments = kd_alloc(d, t->n_assignments, sizeof *t->assignments);
    for (int32_t i = 0; i < t->n_assignments && d->rd->err == WEIR_OK; i++) {
        struct kcreatepartitions_assignment *as = &t->assignments[i];
        as->broker_ids = kd_i32_array(d, KPROTO_REPLICAS_MAX, &as->n_broker_ids);
        kd_tags(d);
    }
    kd_tags(d);
}

enum weir_err kproto_createpartitions_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                             struct kcreatepartitions_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_CREATE_PARTITIONS, version), false };
    if (!kproto_supported(KAPI_CREATE_PARTITIONS, version)) return WEIR_E_UNSUPPORTED;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++)
        createpartitions_decode_topic(&d, &req->topics[i]);
    req->timeout_ms = weir_rd_i32(rd);
    req->validate_only = kr_bool(rd);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_createpartitions_encode(struct kbuf *out, int16_t version, const struct kcreatepartitions_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_CREATE_PARTITIONS, version));
    bool flex = kproto_request_flexible(KAPI_CREATE_PARTITIONS, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_results);
    for (int32_t i = 0; i < resp->n_results; i++) {
        const struct ktopic_result *r = &resp->results[i];
        kb_str(out, flex, r->name);
        kb_i16(out, r->error_code);
        kb_nstr(out, flex, r->error_message);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

static void createpartitions_encode_request_topic(struct kbuf *out, bool flex,
                                                  const struct kcreatepartitions_req_topic *t)
{
    kb_str(out, flex, t->name);
    kb_i32(out, t->count);
    kb_arr(out, flex, t->n_assignments); /* -1 = null */
    for (int32_t i = 0; i < t->n_assignments; i++) {
        kb_i32_array(out, flex, t->assignments[i].broker_ids, t->assignments[i].n_broker_ids);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_createpartitions_request_encode(struct kbuf *out, int16_t version,
                                            const struct kcreatepartitions_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_CREATE_PARTITIONS, version));
    bool flex = kproto_request_flexible(KAPI_CREATE_PARTITIONS, version);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) createpartitions_encode_request_topic(out, flex, &req->topics[i]);
    kb_i32(out, req->timeout_ms);
    kb_bool(out, req->validate_only);
    kb_tags(out, flex);
}

enum weir_err kproto_createpartitions_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                      struct kcreatepartitions_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_CREATE_PARTITIONS, version), true };
    if (!kproto_supported(KAPI_CREATE_PARTITIONS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_results = kd_array(&d, KPROTO_TOPICS_MAX);
    struct ktopic_result *res = kd_alloc(&d, resp->n_results, sizeof *res);
    for (int32_t i = 0; i < resp->n_results && rd->err == WEIR_OK; i++) {
        res[i].name = kd_str(&d);
        res[i].error_code = weir_rd_i16(rd);
        res[i].error_message = kd_nstr(&d);
        kd_tags(&d);
    }
    resp->results = res;
    kd_tags(&d);
    return kd_done(&d);
}
