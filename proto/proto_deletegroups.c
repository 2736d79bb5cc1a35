/* proto/proto_deletegroups.c: DeleteGroups (key 42), v0-2; v2 flexible (Kafka's
 * DeleteGroups*.json; v1 = v0, v2 = v1 flexible). Request: groups_names
 * []string. Response: throttle first, results[group_id, error_code]. */
#include "proto.h"

enum weir_err kproto_deletegroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletegroups_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_GROUPS, version), false };
    if (!kproto_supported(KAPI_DELETE_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    req->groups = kd_str_array(&d, KPROTO_GROUPS_MAX, false, &req->n_groups);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_deletegroups_encode(struct kbuf *out, int16_t version, const struct kdeletegroups_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_GROUPS, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_results);
    for (int32_t i = 0; i < resp->n_results; i++) {
        kb_str(out, flex, resp->results[i].group_id);
        kb_i16(out, resp->results[i].error_code);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_deletegroups_request_encode(struct kbuf *out, int16_t version, const struct kdeletegroups_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_GROUPS, version);
    kb_str_array(out, flex, req->groups, req->n_groups);
    kb_tags(out, flex);
}

enum weir_err kproto_deletegroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kdeletegroups_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_GROUPS, version), true };
    if (!kproto_supported(KAPI_DELETE_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_results = kd_array(&d, KPROTO_GROUPS_MAX);
    struct kdeletegroups_result *res = kd_alloc(&d, resp->n_results, sizeof *res);
    for (int32_t i = 0; res && i < resp->n_results && rd->err == WEIR_OK; i++) {
        res[i].group_id = kd_str(&d);
        res[i].error_code = weir_rd_i16(rd);
        kd_tags(&d);
    }
    resp->results = res;
    kd_tags(&d);
    return kd_done(&d);
}
