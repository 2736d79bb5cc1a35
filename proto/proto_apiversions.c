/* proto/proto_apiversions.c: ApiVersions (key 18), v0-3. v3 is the first
 * flexible version (schemas/ApiVersions*.json): compact strings and arrays,
 * tagged sections, but the response keeps header v0 (KIP-511). */
#include "proto.h"

enum weir_err kproto_apiversions_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct kapiversions_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_API_VERSIONS, version), false };
    req->client_software_name = KSTR_NULL;
    req->client_software_version = KSTR_NULL;
    if (version < 0) return WEIR_E_UNSUPPORTED;
    if (version >= 3) { /* v0-2 have an empty body */
        req->client_software_name = kd_str(&d);
        req->client_software_version = kd_str(&d);
    }
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_apiversions_encode(struct kbuf *out, int16_t version, const struct kapiversions_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_API_VERSIONS, version));
    bool flex = kproto_request_flexible(KAPI_API_VERSIONS, version);
    size_t n_table;
    const struct kproto_api *t = kproto_api_table(&n_table);
    int32_t n = 0;
    for (size_t i = 0; i < n_table; i++) n += t[i].min >= 0;

    kb_i16(out, resp->error_code);
    kb_arr(out, flex, n);
    for (size_t i = 0; i < n_table; i++) {
        if (t[i].min < 0) continue;
        kb_i16(out, t[i].key);
        kb_i16(out, t[i].min);
        kb_i16(out, t[i].max);
        kb_tags(out, flex);
    }
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    kb_tags(out, flex); /* SupportedFeatures etc. are tagged: we send none */
}

void kproto_apiversions_encode_unsupported(struct kbuf *out, int32_t correlation_id)
{
    const struct kproto_api *api = kproto_api_find(KAPI_API_VERSIONS);
    struct kframe f = kproto_response_begin(out, KAPI_API_VERSIONS, 0, correlation_id);
    kb_i16(out, WEIR_KERR_UNSUPPORTED_VERSION);
    kb_array_len(out, 1);
    kb_i16(out, api->key);
    kb_i16(out, api->min);
    kb_i16(out, api->max);
    kproto_response_end(out, &f);
}

/* ---- client side ---- */

void kproto_apiversions_request_encode(struct kbuf *out, int16_t version, const struct kapiversions_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_API_VERSIONS, version));
    bool flex = kproto_request_flexible(KAPI_API_VERSIONS, version);
    if (version >= 3) {
        kb_str(out, flex, req->client_software_name);
        kb_str(out, flex, req->client_software_version);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_apiversions_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct kapiversions_client_resp *resp)
{
    if (!kproto_supported(KAPI_API_VERSIONS, version)) return WEIR_E_UNSUPPORTED;
    resp->base.error_code = weir_rd_i16(rd);
    if (resp->base.error_code == WEIR_KERR_UNSUPPORTED_VERSION) version = 0; /* README §4 */
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_API_VERSIONS, version), true };
    int32_t n = kd_array(&d, KPROTO_API_KEYS_MAX);
    struct kapiversions_key *keys = kd_alloc(&d, n, sizeof *keys);
    for (int32_t i = 0; i < n && rd->err == WEIR_OK; i++) {
        keys[i].api_key = weir_rd_i16(rd);
        keys[i].min_version = weir_rd_i16(rd);
        keys[i].max_version = weir_rd_i16(rd);
        kd_tags(&d);
    }
    resp->api_keys = keys;
    resp->n_api_keys = n;
    resp->base.throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    kd_tags(&d); /* SupportedFeatures, FinalizedFeatures...: tagged, skipped */
    return kd_done(&d);
}
