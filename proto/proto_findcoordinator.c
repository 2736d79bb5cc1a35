/* proto/proto_findcoordinator.c: FindCoordinator (key 10), v0-4
 * (schemas/FindCoordinator*.json; v2 = v1, v3 flexible). Request: key (v0-3),
 * key_type (v1+), coordinator_keys[] (v4+). Response: throttle first (v1+);
 * v0-3: error_code, error_message (v1+, nullable), node_id, host, port;
 * v4+: coordinators[key, node_id, host, port, error_code, error_message]. */
#include "proto.h"

enum { KPROTO_COORDINATOR_KEYS_MAX = 100000 };

enum weir_err kproto_findcoordinator_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kfindcoordinator_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FIND_COORDINATOR, version), false };
    if (!kproto_supported(KAPI_FIND_COORDINATOR, version)) return WEIR_E_UNSUPPORTED;
    req->key = version < 4 ? kd_str(&d) : kstr_c("");
    req->key_type = version >= 1 ? kr_i8(rd) : 0;
    if (version >= 4) {
        req->keys = kd_str_array(&d, KPROTO_COORDINATOR_KEYS_MAX, false, &req->n_keys);
        if (req->n_keys > 0 && req->keys) req->key = req->keys[0];
    } else {
        req->n_keys = 1;
        req->keys = kd_alloc(&d, 1, sizeof *req->keys);
        if (req->keys) req->keys[0] = req->key;
    }
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_findcoordinator_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_FIND_COORDINATOR, version));
    bool flex = kproto_request_flexible(KAPI_FIND_COORDINATOR, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    if (version >= 4) {
        kb_arr(out, flex, resp->n_coordinators);
        for (int32_t i = 0; i < resp->n_coordinators; i++) {
            const struct kfindcoordinator_coord *c = &resp->coordinators[i];
            kb_str(out, flex, c->key);
            kb_i32(out, c->node_id);
            kb_str(out, flex, c->host);
            kb_i32(out, c->port);
            kb_i16(out, c->error_code);
            kb_nstr(out, flex, c->error_message);
            kb_tags(out, flex);
        }
    } else {
        kb_i16(out, resp->error_code);
        if (version >= 1) kb_nstr(out, flex, resp->error_message);
        kb_i32(out, resp->node_id);
        kb_str(out, flex, resp->host);
        kb_i32(out, resp->port);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_findcoordinator_request_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_FIND_COORDINATOR, version));
    bool flex = kproto_request_flexible(KAPI_FIND_COORDINATOR, version);
    if (version < 4) kb_str(out, flex, req->key);
    if (version >= 1) kb_i8(out, req->key_type);
    if (version >= 4) {
        if (req->n_keys > 0)
            kb_str_array(out, flex, req->keys, req->n_keys);
        else
            kb_str_array(out, flex, &req->key, 1);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_findcoordinator_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kfindcoordinator_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FIND_COORDINATOR, version), true };
    if (!kproto_supported(KAPI_FIND_COORDINATOR, version)) return WEIR_E_UNSUPPORTED;
    *resp = (struct kfindcoordinator_resp){ .error_message = KSTR_NULL, .host = kstr_c(""), .node_id = -1, .port = -1 };
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    if (version < 4) {
        resp->error_code = weir_rd_i16(rd);
        resp->error_message = version >= 1 ? kd_nstr(&d) : KSTR_NULL;
        resp->node_id = weir_rd_i32(rd);
        resp->host = kd_str(&d);
        resp->port = weir_rd_i32(rd);
        kd_tags(&d);
        return kd_done(&d);
    }
    resp->n_coordinators = kd_array(&d, KPROTO_COORDINATOR_KEYS_MAX);
    struct kfindcoordinator_coord *c = kd_alloc(&d, resp->n_coordinators, sizeof *c);
    for (int32_t i = 0; c && i < resp->n_coordinators && !rd->err; i++) {
        c[i].key = kd_str(&d);
        c[i].node_id = weir_rd_i32(rd);
        c[i].host = kd_str(&d);
        c[i].port = weir_rd_i32(rd);
        c[i].error_code = weir_rd_i16(rd);
        c[i].error_message = kd_nstr(&d);
        kd_tags(&d);
    }
    resp->coordinators = c;
    kd_tags(&d);
    if (c && resp->n_coordinators > 0 && !rd->err) {
        resp->error_code = c[0].error_code, resp->error_message = c[0].error_message;
        resp->node_id = c[0].node_id, resp->host = c[0].host, resp->port = c[0].port;
    } else if (!rd->err) {
        resp->error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    return kd_done(&d);
}
