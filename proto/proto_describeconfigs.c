/* proto/proto_describeconfigs.c: DescribeConfigs (key 32), v0-4
 * (schemas/DescribeConfigs*.json; v2 = v1, v4 flexible). Request: resources
 * with a nullable configuration_keys array (null = all), include_synonyms
 * (v1+), include_documentation (v3+). Response: throttle first (v0+); per
 * config name, value (nullable), read_only, is_default (v0 only) or
 * config_source (v1+), is_sensitive, synonyms (v1+), config_type and
 * documentation (v3+, nullable). */
#include "proto.h"

enum weir_err kproto_describeconfigs_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribeconfigs_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_CONFIGS, version), false };
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
    req->include_synonyms = version >= 1 ? kr_bool(rd) : false;
    req->include_documentation = version >= 3 ? kr_bool(rd) : false;
    kd_tags(&d);
    return kd_done(&d);
}

static void describeconfigs_encode_config(struct kbuf *out, int16_t version, bool flex,
                                          const struct kdescribeconfigs_config *c)
{
    kb_str(out, flex, c->name);
    kb_nstr(out, flex, c->value);
    kb_bool(out, c->read_only);
    if (version == 0) kb_bool(out, c->config_source == KCONFIG_SOURCE_DEFAULT); /* is_default */
    else kb_i8(out, c->config_source);
    kb_bool(out, c->is_sensitive);
    if (version >= 1) {
        kb_arr(out, flex, c->n_synonyms);
        for (int32_t i = 0; i < c->n_synonyms; i++) {
            kb_str(out, flex, c->synonyms[i].name);
            kb_nstr(out, flex, c->synonyms[i].value);
            kb_i8(out, c->synonyms[i].source);
            kb_tags(out, flex);
        }
    }
    if (version >= 3) kb_i8(out, c->config_type);
    if (version >= 3) kb_nstr(out, flex, c->documentation);
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
        for (int32_t j = 0; j < r->n_configs; j++) describeconfigs_encode_config(out, version, flex, &r->configs[j]);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_describeconfigs_request_encode(struct kbuf *out, int16_t version, const struct kdescribeconfigs_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_CONFIGS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_CONFIGS, version);
    kb_arr(out, flex, req->n_resources);
    for (int32_t i = 0; i < req->n_resources; i++) {
        const struct kdescribeconfigs_resource *r = &req->resources[i];
        kb_i8(out, r->resource_type);
        kb_str(out, flex, r->resource_name);
        kb_str_array(out, flex, r->config_keys, r->n_config_keys); /* -1 = null = all */
        kb_tags(out, flex);
    }
    if (version >= 1) kb_bool(out, req->include_synonyms);
    if (version >= 3) kb_bool(out, req->include_documentation);
    kb_tags(out, flex);
}

static void describeconfigs_decode_config(struct kdec *d, struct kdescribeconfigs_config *c)
{
    c->name = kd_str(d);
    c->value = kd_nstr(d);
    c->read_only = kr_bool(d->rd);
    if (d->version == 0) c->config_source = kr_bool(d->rd) ? KCONFIG_SOURCE_DEFAULT : -1; /* is_default: v0 has no source */
    else c->config_source = kr_i8(d->rd);
    c->is_sensitive = kr_bool(d->rd);
    c->n_synonyms = d->version >= 1 ? kd_array(d, KPROTO_CONFIGS_MAX) : 0;
    struct kdescribeconfigs_synonym *syn = kd_alloc(d, c->n_synonyms, sizeof *syn);
    for (int32_t i = 0; i < c->n_synonyms && d->rd->err == WEIR_OK; i++) {
        syn[i].name = kd_str(d);
        syn[i].value = kd_nstr(d);
        syn[i].source = kr_i8(d->rd);
        kd_tags(d);
    }
    c->synonyms = syn;
    c->config_type = d->version >= 3 ? kr_i8(d->rd) : KCONFIG_TYPE_UNKNOWN;
    c->documentation = d->version >= 3 ? kd_nstr(d) : KSTR_NULL;
    kd_tags(d);
}

static void describeconfigs_decode_result(struct kdec *d, struct kdescribeconfigs_result *r)
{
    r->error_code = weir_rd_i16(d->rd);
    r->error_message = kd_nstr(d);
    r->resource_type = kr_i8(d->rd);
    r->resource_name = kd_str(d);
    r->n_configs = kd_array(d, KPROTO_CONFIGS_MAX);
    struct kdescribeconfigs_config *cfg = kd_alloc(d, r->n_configs, sizeof *cfg);
    for (int32_t i = 0; i < r->n_configs && d->rd->err == WEIR_OK; i++) describeconfigs_decode_config(d, &cfg[i]);
    r->configs = cfg;
    kd_tags(d);
}

enum weir_err kproto_describeconfigs_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribeconfigs_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_CONFIGS, version), true };
    if (!kproto_supported(KAPI_DESCRIBE_CONFIGS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_results = kd_array(&d, KPROTO_RESOURCES_MAX);
    struct kdescribeconfigs_result *res = kd_alloc(&d, resp->n_results, sizeof *res);
    for (int32_t i = 0; i < resp->n_results && rd->err == WEIR_OK; i++) describeconfigs_decode_result(&d, &res[i]);
    resp->results = res;
    kd_tags(&d);
    return kd_done(&d);
}
