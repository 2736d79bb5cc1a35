/* proto/proto_findcoordinator.c: FindCoordinator (key 10), v0-2
 * (schemas/FindCoordinator*.json; v2 = v1). Request: key, key_type (v1+).
 * Response: throttle first (v1+), error_code, error_message (v1+, nullable),
 * node_id, host, port. */
#include "proto.h"

enum weir_err kproto_findcoordinator_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kfindcoordinator_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FIND_COORDINATOR, version), false };
    if (!kproto_supported(KAPI_FIND_COORDINATOR, version)) return WEIR_E_UNSUPPORTED;
    req->key = kd_str(&d);
    req->key_type = version >= 1 ? kr_i8(rd) : 0;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_findcoordinator_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_FIND_COORDINATOR, version));
    bool flex = kproto_request_flexible(KAPI_FIND_COORDINATOR, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    if (version >= 1) kb_nstr(out, flex, resp->error_message);
    kb_i32(out, resp->node_id);
    kb_str(out, flex, resp->host);
    kb_i32(out, resp->port);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_findcoordinator_request_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_FIND_COORDINATOR, version));
    bool flex = kproto_request_flexible(KAPI_FIND_COORDINATOR, version);
    kb_str(out, flex, req->key);
    if (version >= 1) kb_i8(out, req->key_type);
    kb_tags(out, flex);
}

enum weir_err kproto_findcoordinator_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kfindcoordinator_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FIND_COORDINATOR, version), true };
    if (!kproto_supported(KAPI_FIND_COORDINATOR, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = weir_rd_i16(rd);
    resp->error_message = version >= 1 ? kd_nstr(&d) : KSTR_NULL;
    resp->node_id = weir_rd_i32(rd);
    resp->host = kd_str(&d);
    resp->port = weir_rd_i32(rd);
    kd_tags(&d);
    return kd_done(&d);
}
