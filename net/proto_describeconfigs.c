/* net/proto_describeconfigs.c: DescribeConfigs (key 32), v1-2
 * (schemas/DescribeConfigs*.json; v2 = v1). Request: resources with a nullable
 * configuration_keys array (null = all), include_synonyms (v1+). Response:
 * throttle first (v0+); per config name, value (nullable), read_only,
 * config_source (v1+, replaces v0's is_default), is_sensitive, synonyms (v1+). */
#include "proto_int.h"

enum weir_err kproto_describeconfigs_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribeconfigs_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_CONFIGS, version) };
    if (!kproto_supported(KAPI_DESCRIBE_CONFIGS, version)) return WEIR_E_UNSUPPORTED;
    req->n_resources = kd_array(&d, KPROTO_RESOURCES_MAX);
    req->resources = kd_alloc(&d, req->n_resources, sizeof *req->resources);
    for (int32_t i = 0; i < req->n_resources && rd->err == WEIR_OK; i++) {
        struct kdescribeconfigs_resource *r = &req->resources[i];
        r->resource_type = kr_i8(rd);
        r->resource_name = kd_str(&d);
        r->config_keys = kd_str_array(&d, KPROTO_CONFIGS_MAX, true, &r->n_config_keys);
        kd_tags(&d);
    }
    req->include_synonyms = kr_bool(rd); /* v1+ */
    kd_tags(&d);
    return kd_done(&d);
}

static void describeconfigs_encode_config(struct kbuf *out, bool flex, const struct kdescribeconfigs_config *c)
{
    kb_str(out, flex, c->name);
    kb_nstr(out, flex, c->value);
    kb_bool(out, c->read_only);
    kb_i8(out, c->config_source); /* v1+ */
    kb_bool(out, c->is_sensitive);
    kb_arr(out, flex, c->n_synonyms); /* v1+ */
    for (int32_t i = 0; i < c->n_synonyms; i++) {
        kb_str(out, flex, c->synonyms[i].name);
        kb_nstr(out, flex, c->synonyms[i].value);
        kb_i8(out, c->synonyms[i].source);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_describeconfigs_encode(struct kbuf *out, int16_t version, const struct kdescribeconfigs_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_CONFIGS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_CONFIGS, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_results);
    for (int32_t i = 0; i < resp->n_results; i++) {
        const struct kdescribeconfigs_result *r = &resp->results[i];
        kb_i16(out, r->error_code);
        kb_nstr(out, flex, r->error_message);
        kb_i8(out, r->resource_type);
        kb_str(out, flex, r->resource_name);
        kb_arr(out, flex, r->n_configs);
        for (int32_t j = 0; j < r->n_configs; j++) describeconfigs_encode_config(out, flex, &r->configs[j]);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}
