/* proto/proto_leavegroup.c: LeaveGroup (key 13), v0-5 (schemas/LeaveGroup*.json;
 * v4+ flexible). Request: group_id, then member_id (v0-2) or
 * members[member_id, group_instance_id (nullable), reason (v5+, nullable)] (v3+).
 * Response: throttle (v1+), error_code, members[member_id,
 * group_instance_id, error_code] (v3+). */
#include "proto.h"

enum weir_err kproto_leavegroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                       struct kleavegroup_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LEAVE_GROUP, version), false };
    if (!kproto_supported(KAPI_LEAVE_GROUP, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    if (version < 3) {
        req->n_members = 1;
        req->members = kd_alloc(&d, 1, sizeof *req->members);
        if (req->members)
            req->members[0] = (struct kleavegroup_member){ .member_id = kd_str(&d), .group_instance_id = KSTR_NULL,
                                                           .reason = KSTR_NULL };
    } else {
        req->n_members = kd_array(&d, KPROTO_MEMBERS_MAX);
        req->members = kd_alloc(&d, req->n_members, sizeof *req->members);
        for (int32_t i = 0; req->members && i < req->n_members && !rd->err; i++) {
            req->members[i].member_id = kd_str(&d);
            req->members[i].group_instance_id = kd_nstr(&d);
            req->members[i].reason = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
            req->members[i].error_code = 0;
            kd_tags(&d);
        }
    }
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_leavegroup_encode(struct kbuf *out, int16_t version, const struct kleavegroup_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_LEAVE_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_LEAVE_GROUP, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    if (version >= 3) {
        kb_arr(out, flex, resp->n_members);
        for (int32_t i = 0; i < resp->n_members; i++) {
            kb_str(out, flex, resp->members[i].member_id);
            kb_nstr(out, flex, resp->members[i].group_instance_id);
            kb_i16(out, resp->members[i].error_code);
            kb_tags(out, flex);
        }
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

/* v0-2 carry one member: members[0].member_id (asserted n_members == 1). */
void kproto_leavegroup_request_encode(struct kbuf *out, int16_t version, const struct kleavegroup_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_LEAVE_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_LEAVE_GROUP, version);
    kb_str(out, flex, req->group_id);
    if (version < 3) {
        WEIR_ASSERT(req->n_members == 1);
        kb_str(out, flex, req->members[0].member_id);
    } else {
        kb_arr(out, flex, req->n_members);
        for (int32_t i = 0; i < req->n_members; i++) {
            kb_str(out, flex, req->members[i].member_id);
            kb_nstr(out, flex, req->members[i].group_instance_id);
            if (version >= 5) kb_nstr(out, flex, req->members[i].reason);
            kb_tags(out, flex);
        }
    }
    kb_tags(out, flex);
}

enum weir_err kproto_leavegroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                struct kleavegroup_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LEAVE_GROUP, version), true };
    if (!kproto_supported(KAPI_LEAVE_GROUP, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    resp->members = NULL;
    resp->n_members = 0;
    if (version >= 3) {
        resp->n_members = kd_array(&d, KPROTO_MEMBERS_MAX);
        struct kleavegroup_member *m = kd_alloc(&d, resp->n_members, sizeof *m);
        for (int32_t i = 0; m && i < resp->n_members && !rd->err; i++) {
            m[i].member_id = kd_str(&d);
            m[i].group_instance_id = kd_nstr(&d);
            m[i].error_code = weir_rd_i16(rd);
            kd_tags(&d);
        }
        resp->members = m;
    }
    kd_tags(&d);
    return kd_done(&d);
}
