/* proto/proto_initproducerid.c: InitProducerId (key 22), v0-4
 * (schemas/InitProducerId*.json; v1 = v0, v2 flexible, v4 = v3). Request:
 * transactional_id (nullable; null for the idempotent producer),
 * transaction_timeout_ms, then (v3+, KIP-360) the producer_id and
 * producer_epoch a producer asks to bump (-1, -1: none). Response: throttle
 * first (v0+), error_code, producer_id, producer_epoch. */
#include "proto.h"

enum weir_err kproto_initproducerid_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kinitproducerid_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_INIT_PRODUCER_ID, version), false };
    if (!kproto_supported(KAPI_INIT_PRODUCER_ID, version)) return WEIR_E_UNSUPPORTED;
    req->transactional_id = kd_nstr(&d);
    req->transaction_timeout_ms = weir_rd_i32(rd);
    req->producer_id = version >= 3 ? weir_rd_i64(rd) : -1;
    req->producer_epoch = version >= 3 ? weir_rd_i16(rd) : -1;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_initproducerid_encode(struct kbuf *out, int16_t version, const struct kinitproducerid_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_INIT_PRODUCER_ID, version));
    bool flex = kproto_request_flexible(KAPI_INIT_PRODUCER_ID, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    kb_i64(out, resp->producer_id);
    kb_i16(out, resp->producer_epoch);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_initproducerid_request_encode(struct kbuf *out, int16_t version, const struct kinitproducerid_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_INIT_PRODUCER_ID, version));
    bool flex = kproto_request_flexible(KAPI_INIT_PRODUCER_ID, version);
    kb_nstr(out, flex, req->transactional_id);
    kb_i32(out, req->transaction_timeout_ms);
    if (version >= 3) kb_i64(out, req->producer_id);
    if (version >= 3) kb_i16(out, req->producer_epoch);
    kb_tags(out, flex);
}

enum weir_err kproto_initproducerid_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                    struct kinitproducerid_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_INIT_PRODUCER_ID, version), true };
    if (!kproto_supported(KAPI_INIT_PRODUCER_ID, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->error_code = weir_rd_i16(rd);
    resp->producer_id = weir_rd_i64(rd);
    resp->producer_epoch = weir_rd_i16(rd);
    kd_tags(&d);
    return kd_done(&d);
}
