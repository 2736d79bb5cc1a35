/* net/proto_deletetopics.c: DeleteTopics (key 20), v0-1 (schemas/DeleteTopics*.json).
 * Request: topic_names []string, timeout. Response: throttle first (v1+), per
 * topic name and error_code (error_message only from v5). */
#include "proto_int.h"

enum weir_err kproto_deletetopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletetopics_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_TOPICS, version) };
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
