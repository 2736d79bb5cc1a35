/* proto/proto_describecluster.c: DescribeCluster (key 60), v0-1, flexible from
 * v0 (Kafka's DescribeCluster*.json). Request: include_cluster_authorized_
 * operations, v1 endpoint_type (KIP-919; 1 brokers, 2 controllers). Response:
 * throttle, error code and message, v1 endpoint_type, cluster id, controller
 * id, brokers[id, host, port, rack], cluster authorized operations. */
#include "proto.h"

enum weir_err kproto_describecluster_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribecluster_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_CLUSTER, version), false };
    if (!kproto_supported(KAPI_DESCRIBE_CLUSTER, version)) return WEIR_E_UNSUPPORTED;
    req->include_cluster_authorized_operations = kr_bool(rd);
    req->endpoint_type = version >= 1 ? kr_i8(rd) : KPROTO_ENDPOINT_BROKERS;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_describecluster_encode(struct kbuf *out, int16_t version, const struct kdescribecluster_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_CLUSTER, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_CLUSTER, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_i16(out, resp->error_code);
    kb_nstr(out, flex, resp->error_message);
    if (version >= 1) kb_i8(out, resp->endpoint_type);
    kb_str(out, flex, resp->cluster_id);
    kb_i32(out, resp->controller_id);
    kb_arr(out, flex, resp->n_brokers);
    for (int32_t i = 0; i < resp->n_brokers; i++) {
        const struct kmetadata_broker *br = &resp->brokers[i];
        kb_i32(out, br->node_id);
        kb_str(out, flex, br->host);
        kb_i32(out, br->port);
        kb_nstr(out, flex, br->rack);
        kb_tags(out, flex);
    }
    kb_i32(out, resp->cluster_authorized_operations);
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_describecluster_request_encode(struct kbuf *out, int16_t version, const struct kdescribecluster_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_CLUSTER, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_CLUSTER, version);
    kb_bool(out, req->include_cluster_authorized_operations);
    if (version >= 1) kb_i8(out, req->endpoint_type);
    kb_tags(out, flex);
}

enum weir_err kproto_describecluster_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribecluster_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_CLUSTER, version), true };
    if (!kproto_supported(KAPI_DESCRIBE_CLUSTER, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->error_code = weir_rd_i16(rd);
    resp->error_message = kd_nstr(&d);
    resp->endpoint_type = version >= 1 ? kr_i8(rd) : KPROTO_ENDPOINT_BROKERS;
    resp->cluster_id = kd_str(&d);
    resp->controller_id = weir_rd_i32(rd);
    resp->n_brokers = kd_array(&d, KPROTO_BROKERS_MAX);
    struct kmetadata_broker *br = kd_alloc(&d, resp->n_brokers, sizeof *br);
    for (int32_t i = 0; br && i < resp->n_brokers && rd->err == WEIR_OK; i++) {
        br[i].node_id = weir_rd_i32(rd);
        br[i].host = kd_str(&d);
        br[i].port = weir_rd_i32(rd);
        br[i].rack = kd_nstr(&d);
        kd_tags(&d);
    }
    resp->brokers = br;
    resp->cluster_authorized_operations = weir_rd_i32(rd);
    kd_tags(&d);
    return kd_done(&d);
}
