/* proto/proto_listgroups.c: ListGroups (key 16), v0-4 (schemas/ListGroups*.json;
 * v3+ flexible). Request: empty before v4; states_filter[] (v4+). Response:
 * throttle (v1+), error_code, groups[group_id, protocol_type, group_state
 * (v4+)]. */
#include "proto.h"

enum weir_err kproto_listgroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                       struct klistgroups_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LIST_GROUPS, version), false };
    if (!kproto_supported(KAPI_LIST_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    *req = (struct klistgroups_req){ NULL, 0 };
    if (version >= 4) req->states_filter = kd_str_array(&d, KPROTO_STATES_MAX, false, &req->n_states_filter);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_listgroups_encode(struct kbuf *out, int16_t version, const struct klistgroups_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_LIST_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_LIST_GROUPS, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    kb_arr(out, flex, resp->n_groups);
    for (int32_t i = 0; i < resp->n_groups; i++) {
        kb_str(out, flex, resp->groups[i].group_id);
        kb_str(out, flex, resp->groups[i].protocol_type);
        if (version >= 4) kb_str(out, flex, resp->groups[i].group_state);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

/* The body is empty before v3 (flexible: an empty tagged section). */
void kproto_listgroups_request_encode(struct kbuf *out, int16_t version, const struct klistgroups_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_LIST_GROUPS, version));
    bool flex = kproto_request_flexible(KAPI_LIST_GROUPS, version);
    if (version >= 4) kb_str_array(out, flex, req ? req->states_filter : NULL, req ? req->n_states_filter : 0);
    kb_tags(out, flex);
}

enum weir_err kproto_listgroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                struct klistgroups_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LIST_GROUPS, version), true };
    if (!kproto_supported(KAPI_LIST_GROUPS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    resp->n_groups = kd_array(&d, KPROTO_GROUPS_MAX);
    struct klistgroups_group *g = kd_alloc(&d, resp->n_groups, sizeof *g);
    for (int32_t i = 0; g && i < resp->n_groups && !rd->err; i++) {
        g[i].group_id = kd_str(&d);
        g[i].protocol_type = kd_str(&d);
        g[i].group_state = version >= 4 ? kd_str(&d) : kstr_c("");
        kd_tags(&d);
    }
    resp->groups = g;
    kd_tags(&d);
    return kd_done(&d);
}
