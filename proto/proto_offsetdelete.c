/* proto/proto_offsetdelete.c: OffsetDelete (key 47), v0, not flexible (Kafka's
 * OffsetDelete*.json). Request: group_id, topics[name, partitions[index]].
 * Response: error_code first, then throttle, topics[name, partitions[index,
 * error_code]]. */
#include "proto.h"

enum weir_err kproto_offsetdelete_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct koffsetdelete_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_DELETE, version), false };
    if (!kproto_supported(KAPI_OFFSET_DELETE, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct koffsetdelete_req_topic *t = kd_alloc(&d, req->n_topics, sizeof *t);
    for (int32_t i = 0; t && i < req->n_topics && rd->err == WEIR_OK; i++) {
        t[i].name = kd_str(&d);
        t[i].partitions = kd_i32_array(&d, KPROTO_PARTITIONS_MAX, &t[i].n_partitions);
        kd_tags(&d);
    }
    req->topics = t;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_offsetdelete_encode(struct kbuf *out, int16_t version, const struct koffsetdelete_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_DELETE, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_DELETE, version);
    kb_i16(out, resp->error_code);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct koffsetdelete_resp_topic *t = &resp->topics[i];
        kb_str(out, flex, t->name);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            kb_i32(out, t->partitions[j].partition_index);
            kb_i16(out, t->partitions[j].error_code);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_offsetdelete_request_encode(struct kbuf *out, int16_t version, const struct koffsetdelete_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_DELETE, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_DELETE, version);
    kb_str(out, flex, req->group_id);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) {
        kb_str(out, flex, req->topics[i].name);
        kb_i32_array(out, flex, req->topics[i].partitions, req->topics[i].n_partitions);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_offsetdelete_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct koffsetdelete_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_DELETE, version), true };
    if (!kproto_supported(KAPI_OFFSET_DELETE, version)) return WEIR_E_UNSUPPORTED;
    resp->error_code = weir_rd_i16(rd);
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct koffsetdelete_resp_topic *t = kd_alloc(&d, resp->n_topics, sizeof *t);
    for (int32_t i = 0; t && i < resp->n_topics && rd->err == WEIR_OK; i++) {
        t[i].name = kd_str(&d);
        t[i].n_partitions = kd_array(&d, KPROTO_PARTITIONS_MAX);
        struct koffsetdelete_resp_part *p = kd_alloc(&d, t[i].n_partitions, sizeof *p);
        for (int32_t j = 0; p && j < t[i].n_partitions && rd->err == WEIR_OK; j++) {
            p[j].partition_index = weir_rd_i32(rd);
            p[j].error_code = weir_rd_i16(rd);
            kd_tags(&d);
        }
        t[i].partitions = p;
        kd_tags(&d);
    }
    resp->topics = t;
    kd_tags(&d);
    return kd_done(&d);
}
