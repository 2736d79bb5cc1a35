/* proto/proto_deletetopics.c: DeleteTopics (key 20), v0-6 (schemas/DeleteTopics*.json).
 * Request: topic_names []string (v0-5), or from v6 topics [name (nullable),
 * topic_id], then timeout; v4 is flexible. Response: throttle first (v1+),
 * per topic name (nullable v6+), topic_id (v6+), error_code, error_message
 * (v5+, nullable). */
#include "proto.h"

static void deletetopics_decode_v6(struct kdec *d, struct kdeletetopics_req *req)
{
    req->n_topic_names = kd_array(d, KPROTO_TOPICS_MAX);
    req->topic_names = kd_alloc(d, req->n_topic_names, sizeof *req->topic_names);
    req->topic_ids = kd_alloc(d, req->n_topic_names, sizeof *req->topic_ids);
    for (int32_t i = 0; i < req->n_topic_names && d->rd->err == WEIR_OK; i++) {
        req->topic_names[i] = kd_nstr(d);
        req->topic_ids[i] = kr_uuid(d->rd);
        kd_tags(d);
    }
}

enum weir_err kproto_deletetopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletetopics_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_TOPICS, version), false };
    if (!kproto_supported(KAPI_DELETE_TOPICS, version)) return WEIR_E_UNSUPPORTED;
    req->topic_ids = NULL;
    if (version >= 6)
        deletetopics_decode_v6(&d, req);
    else
        req->topic_names = kd_str_array(&d, KPROTO_TOPICS_MAX, false, &req->n_topic_names);
    req->timeout_ms = weir_rd_i32(rd);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_deletetopics_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_TOPICS, version);
    static const struct weir_uuid zero;
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_responses);
    for (int32_t i = 0; i < resp->n_responses; i++) {
        const struct ktopic_result *r = &resp->responses[i];
        if (version >= 6) kb_nstr(out, flex, r->name);
        else kb_str(out, flex, r->name);
        if (version >= 6) kb_uuid(out, resp->topic_ids ? &resp->topic_ids[i] : &zero);
        kb_i16(out, r->error_code);
        if (version >= 5) kb_nstr(out, flex, r->error_message);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_deletetopics_request_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_TOPICS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_TOPICS, version);
    static const struct weir_uuid zero;
    if (version >= 6) {
        kb_arr(out, flex, req->n_topic_names);
        for (int32_t i = 0; i < req->n_topic_names; i++) {
            kb_nstr(out, flex, req->topic_names[i]);
            kb_uuid(out, req->topic_ids ? &req->topic_ids[i] : &zero);
            kb_tags(out, flex);
        }
    } else {
        kb_str_array(out, flex, req->topic_names, req->n_topic_names);
    }
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
    struct weir_uuid *ids = version >= 6 ? kd_alloc(&d, resp->n_responses, sizeof *ids) : NULL;
    for (int32_t i = 0; i < resp->n_responses && rd->err == WEIR_OK; i++) {
        res[i].name = version >= 6 ? kd_nstr(&d) : kd_str(&d);
        if (version >= 6) ids[i] = kr_uuid(rd);
        res[i].error_code = weir_rd_i16(rd);
        res[i].error_message = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
        kd_tags(&d);
    }
    resp->responses = res;
    resp->topic_ids = ids;
    kd_tags(&d);
    return kd_done(&d);
}
