/* proto/proto_alterconfigs.c: AlterConfigs (key 33), v0-2 (v1 = v0, v2
 * flexible), and IncrementalAlterConfigs (key 44), v0-1 (v1 flexible), which
 * share one shape (Kafka 3.7's schemas): resources of type, name and configs
 * (name, 44's config_operation, nullable value), then validate_only.
 * Response: throttle, then per resource error code, nullable message, type
 * and name. */
#include "proto.h"

enum weir_err kproto_alterconfigs_decode(struct weir_rd *rd, int16_t key, int16_t version, struct weir_arena *a,
                                         struct kalterconfigs_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(key, version), false };
    if (!kproto_supported(key, version)) return WEIR_E_UNSUPPORTED;
    bool incremental = key == KAPI_INCREMENTAL_ALTER_CONFIGS;
    req->n_resources = kd_array(&d, KPROTO_RESOURCES_MAX);
    req->resources = kd_alloc(&d, req->n_resources, sizeof *req->resources);
    for (int32_t i = 0; i < req->n_resources && rd->err == WEIR_OK; i++) {
        struct kalterconfigs_resource *r = &req->resources[i];
        r->resource_type = kr_i8(rd);
        r->resource_name = kd_str(&d);
        r->n_configs = kd_array(&d, KPROTO_CONFIGS_MAX);
        r->configs = kd_alloc(&d, r->n_configs, sizeof *r->configs);
        for (int32_t j = 0; j < r->n_configs && rd->err == WEIR_OK; j++) {
            struct kalterconfigs_config *c = &r->configs[j];
            c->name = kd_str(&d);
            c->op = incremental ? kr_i8(rd) : KCONFIG_OP_SET;
            c->value = kd_nstr(&d);
            kd_tags(&d);
        }
        kd_tags(&d);
    }
    req->validate_only = kr_bool(rd);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_alterconfigs_encode(struct kbuf *out, int16_t key, int16_t version, const struct kalterconfigs_resp *resp)
{
    WEIR_ASSERT(kproto_supported(key, version));
    bool flex = kproto_request_flexible(key, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_results);
    for (int32_t i = 0; i < resp->n_results; i++) {
        const struct kalterconfigs_result *r = &resp->results[i];
        kb_i16(out, r->error_code);
        kb_nstr(out, flex, r->error_message);
        kb_i8(out, r->resource_type);
        kb_str(out, flex, r->resource_name);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_alterconfigs_request_encode(struct kbuf *out, int16_t key, int16_t version,
                                        const struct kalterconfigs_req *req)
{
    WEIR_ASSERT(kproto_supported(key, version));
    bool flex = kproto_request_flexible(key, version);
    kb_arr(out, flex, req->n_resources);
    for (int32_t i = 0; i < req->n_resources; i++) {
        const struct kalterconfigs_resource *r = &req->resources[i];
        kb_i8(out, r->resource_type);
        kb_str(out, flex, r->resource_name);
        kb_arr(out, flex, r->n_configs);
        for (int32_t j = 0; j < r->n_configs; j++) {
            kb_str(out, flex, r->configs[j].name);
            if (key == KAPI_INCREMENTAL_ALTER_CONFIGS) kb_i8(out, r->configs[j].op);
            kb_nstr(out, flex, r->configs[j].value);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_bool(out, req->validate_only);
    kb_tags(out, flex);
}

enum weir_err kproto_alterconfigs_response_decode(struct weir_rd *rd, int16_t key, int16_t version,
                                                  struct weir_arena *a, struct kalterconfigs_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(key, version), true };
    if (!kproto_supported(key, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_results = kd_array(&d, KPROTO_RESOURCES_MAX);
    struct kalterconfigs_result *res = kd_alloc(&d, resp->n_results, sizeof *res);
    for (int32_t i = 0; i < resp->n_results && rd->err == WEIR_OK; i++) {
        res[i].error_code = weir_rd_i16(rd);
        res[i].error_message = kd_nstr(&d);
        res[i].resource_type = kr_i8(rd);
        res[i].resource_name = kd_str(&d);
        kd_tags(&d);
    }
    resp->results = res;
    kd_tags(&d);
    return kd_done(&d);
}
