/* proto/proto_heartbeat.c: Heartbeat (key 12), v0-4 (schemas/Heartbeat*.json;
 * v4 flexible). Request: group_id,
 * generation_id, member_id, group_instance_id (v3+, nullable).
 * Response: throttle (v1+), error_code. */
#include "proto.h"

enum weir_err kproto_heartbeat_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct kheartbeat_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_HEARTBEAT, version), false };
    if (!kproto_supported(KAPI_HEARTBEAT, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->generation_id = weir_rd_i32(rd);
    req->member_id = kd_str(&d);
    req->group_instance_id = version >= 3 ? kd_nstr(&d) : KSTR_NULL;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_heartbeat_encode(struct kbuf *out, int16_t version, const struct kheartbeat_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_HEARTBEAT, version));
    bool flex = kproto_request_flexible(KAPI_HEARTBEAT, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_heartbeat_request_encode(struct kbuf *out, int16_t version, const struct kheartbeat_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_HEARTBEAT, version));
    bool flex = kproto_request_flexible(KAPI_HEARTBEAT, version);
    kb_str(out, flex, req->group_id);
    kb_i32(out, req->generation_id);
    kb_str(out, flex, req->member_id);
    if (version >= 3) kb_nstr(out, flex, req->group_instance_id);
    kb_tags(out, flex);
}

enum weir_err kproto_heartbeat_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct kheartbeat_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_HEARTBEAT, version), true };
    if (!kproto_supported(KAPI_HEARTBEAT, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    kd_tags(&d);
    return kd_done(&d);
}
