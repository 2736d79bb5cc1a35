/* proto/proto_syncgroup.c: SyncGroup (key 14), v0-5 (schemas/SyncGroup*.json;
 * v4+ flexible). Request: group_id, generation_id, member_id,
 * group_instance_id (v3+, nullable), protocol_type and protocol_name (v5+,
 * nullable), assignments[member_id, assignment]. Response: throttle (v1+),
 * error_code, protocol_type and protocol_name (v5+, nullable), assignment. */
#include "proto.h"

enum weir_err kproto_syncgroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct ksyncgroup_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_SYNC_GROUP, version), false };
    if (!kproto_supported(KAPI_SYNC_GROUP, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->generation_id = weir_rd_i32(rd);
    req->member_id = kd_str(&d);
    req->group_instance_id = version >= 3 ? kd_nstr(&d) : KSTR_NULL;
    req->protocol_type = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
    req->protocol_name = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
    req->n_assignments = kd_array(&d, KPROTO_MEMBERS_MAX);
    req->assignments = kd_alloc(&d, req->n_assignments, sizeof *req->assignments);
    for (int32_t i = 0; req->assignments && i < req->n_assignments && !rd->err; i++) {
        req->assignments[i].member_id = kd_str(&d);
        req->assignments[i].assignment = kd_bytes(&d);
        kd_tags(&d);
    }
    kd_tags(&d);
    return kd_done(&d);
}

static struct kstr null_if_empty(struct kstr s) { return s.len > 0 ? s : KSTR_NULL; }

void kproto_syncgroup_encode(struct kbuf *out, int16_t version, const struct ksyncgroup_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_SYNC_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_SYNC_GROUP, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    if (version >= 5) {
        kb_nstr(out, flex, null_if_empty(resp->protocol_type));
        kb_nstr(out, flex, null_if_empty(resp->protocol_name));
    }
    kb_blob(out, flex, resp->assignment);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_syncgroup_request_encode(struct kbuf *out, int16_t version, const struct ksyncgroup_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_SYNC_GROUP, version));
    bool flex = kproto_request_flexible(KAPI_SYNC_GROUP, version);
    kb_str(out, flex, req->group_id);
    kb_i32(out, req->generation_id);
    kb_str(out, flex, req->member_id);
    if (version >= 3) kb_nstr(out, flex, req->group_instance_id);
    if (version >= 5) {
        kb_nstr(out, flex, null_if_empty(req->protocol_type));
        kb_nstr(out, flex, null_if_empty(req->protocol_name));
    }
    kb_arr(out, flex, req->n_assignments);
    for (int32_t i = 0; i < req->n_assignments; i++) {
        const struct ksyncgroup_assignment *s = &req->assignments[i];
        kb_str(out, flex, s->member_id);
        kb_blob(out, flex, s->assignment);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_syncgroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct ksyncgroup_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_SYNC_GROUP, version), true };
    if (!kproto_supported(KAPI_SYNC_GROUP, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    resp->protocol_type = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
    resp->protocol_name = version >= 5 ? kd_nstr(&d) : KSTR_NULL;
    resp->assignment = kd_bytes(&d);
    kd_tags(&d);
    return kd_done(&d);
}
