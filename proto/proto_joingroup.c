/* proto/proto_joingroup.c: JoinGroup (key 11), v0-9 (schemas/JoinGroup*.json;
 * v6+ flexible). Request: group_id, session_timeout_ms, rebalance_timeout_ms
 * (v1+), member_id, group_instance_id (v5+, nullable), protocol_type,
 * protocols[name, metadata], reason (v8+, nullable). Response: throttle (v2+),
 * error_code, generation_id, protocol_type (v7+, nullable), protocol_name
 * (nullable v7+), leader, skip_assignment (v9+), member_id,
 * members[member_id, group_instance_id (v5+), metadata]. */
#include "proto.h"

enum weir_err kproto_joingroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct kjoingroup_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_JOIN_GROUP, version), false };
    if (!kproto_supported(KAPI_JOIN_GROUP, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->session_timeout_ms = weir_rd_i32(rd);
    req->rebalance_timeout_ms = version >= 1 ? weir_rd_i32(rd) : req->session_timeout_ms;
    req->member_id = kd_str(&d);
    req->group_instance_id = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
    req->protocol_type = kd_str(&d);
    req->n_protocols = kd_array(&d, KPROTO_GROUP_PROTOCOLS_MAX);
    req->protocols = kd_alloc(&d, req->n_protocols, sizeof *req->protocols);
    for (int32_t i = 0; req->protocols && i < req->n_protocols && !rd->err; i++) {
        req->protocols[i].name = kd_str(&d);
        req->protocols[i].metadata = kd_bytes(&d);
        kd_tags(&d);
    }
    req->reason = version >= 8 ? kd_nstr(&d) : KSTR_NULL;
    kd_tags(&d);
    return kd_done(&d);
}

/* v7+: empty is null (Kafka's JoinGroupResponse); before, null is empty. */
static void name_put(struct kbuf *out, int16_t version, bool flex, struct kstr s)
{
    if (version >= 7)
        kb_nstr(out, flex, s.len > 0 ? s : KSTR_NULL);
    else
        kb_str(out, flex, s.len > 0 ? s : kstr_c(""));
}

void kproto_joingroup_encode(struct kbuf *out, int16_t version, const struct kjoingroup_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_JOIN_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_JOIN_GROUP, version);
    if (version >= 2) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    kb_i32(out, resp->generation_id);
    if (version >= 7) name_put(out, version, flex, resp->protocol_type);
    name_put(out, version, flex, resp->protocol_name);
    kb_str(out, flex, resp->leader);
    if (version >= 9) kb_bool(out, resp->skip_assignment);
    kb_str(out, flex, resp->member_id);
    kb_arr(out, flex, resp->n_members);
    for (int32_t i = 0; i < resp->n_members; i++) {
        const struct kjoingroup_member *m = &resp->members[i];
        kb_str(out, flex, m->member_id);
        if (version >= 5) kb_nstr(out, flex, m->group_instance_id);
        kb_blob(out, flex, m->metadata);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_joingroup_request_encode(struct kbuf *out, int16_t version, const struct kjoingroup_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_JOIN_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_JOIN_GROUP, version);
    kb_str(out, flex, req->group_id);
    kb_i32(out, req->session_timeout_ms);
    if (version >= 1) kb_i32(out, req->rebalance_timeout_ms);
    kb_str(out, flex, req->member_id);
    if (version >= 5) kb_nstr(out, flex, req->group_instance_id);
    kb_str(out, flex, req->protocol_type);
    kb_arr(out, flex, req->n_protocols);
    for (int32_t i = 0; i < req->n_protocols; i++) {
        kb_str(out, flex, req->protocols[i].name);
        kb_blob(out, flex, req->protocols[i].metadata);
        kb_tags(out, flex);
    }
    if (version >= 8) kb_nstr(out, flex, req->reason);
    kb_tags(out, flex);
}

enum weir_err kproto_joingroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct kjoingroup_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_JOIN_GROUP, version), true };
    if (!kproto_supported(KAPI_JOIN_GROUP, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 2 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    resp->generation_id = weir_rd_i32(rd);
    resp->protocol_type = version >= 7 ? kd_nstr(&d) : KSTR_NULL;
    resp->protocol_name = version >= 7 ? kd_nstr(&d) : kd_str(&d);
    if (resp->protocol_name.len < 0) resp->protocol_name = kstr_c(""); /* callers compare it */
    resp->leader = kd_str(&d);
    resp->skip_assignment = version >= 9 ? kr_bool(rd) : false;
    resp->member_id = kd_str(&d);
    resp->n_members = kd_array(&d, KPROTO_MEMBERS_MAX);
    struct kjoingroup_member *m = kd_alloc(&d, resp->n_members, sizeof *m);
    for (int32_t i = 0; m && i < resp->n_members && !rd->err; i++) {
        m[i].member_id = kd_str(&d);
        m[i].group_instance_id = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
        m[i].metadata = kd_bytes(&d);
        kd_tags(&d);
    }
    resp->members = m;
    kd_tags(&d);
    return kd_done(&d);
}
