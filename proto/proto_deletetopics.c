/* proto/proto_deletetopics.c: DeleteTopics (key 20), v0-1 (schemas/DeleteTopics*.json).
 * Request: topic_names []string, timeout. Response: throttle first (v1+), per
 * topic name and error_code (error_message only from v5). */
#include "proto.h"

enum weir_err kproto_deletetopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletetopics_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_TOPICS, version), false };
    if (!kproto_supported(KAPI_DELETE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    req->topic_names = kd_str_array(&d, KPROTO_TOPICS_MAX, false, &req->n_topic_names);
    req->timeout_ms = weir_rd_i32(rd);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_deletetopics_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_TOPICS, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_responses);
    for (int32_t i = 0; i < resp->n_responses; i++) {
        kb_str(out, flex, resp->responses[i].name);
        kb_i16(out, resp->responses[i].error_code);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_deletetopics_request_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_TOPICS, version);
    kb_str_array(out, flex, req->topic_names, req->n_topic_names);
    kb_i32(out, req->timeout_ms);
    kb_tags(out, flex);
}

enum weir_err kproto_deletetopics_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kdeletetopics_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_TOPICS, version), true };
    if (!kproto_supported(KAPI_DELETE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->n_responses = kd_array(&d, KPROTO_TOPICS_MAX);
    struct ktopic_result *res = kd_alloc(&d, resp->n_responses, sizeof *res);
    for (int32_t i = 0; i < resp->n_responses && rd->err == WEIR_OK; i++) {
        res[i].name = kd_str(&d);
        res[i].error_code = weir_rd_i16(rd);
        res[i].error_message = KSTR_NULL; /* v5+ */
        kd_tags(&d);
    }
    resp->responses = res;
    kd_tags(&d);
    return kd_done(&d);
}
