/* proto/proto_offsetfetch.c: OffsetFetch (key 9), v4-5, broker direction
 * (schemas/OffsetFetch*.json; none flexible). Request: group_id, topics
 * (nullable: null = all)[name, partition_indexes[]]. Response: throttle,
 * topics[name, partitions[partition_index, committed_offset,
 * committed_leader_epoch (v5+), metadata (nullable), error_code]], error_code. */
#include "proto.h"

enum weir_err kproto_offsetfetch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct koffsetfetch_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FETCH, version), false };
    if (!kproto_supported(KAPI_OFFSET_FETCH, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->n_topics = kd_narray(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t t = 0; req->topics && t < req->n_topics && !rd->err; t++) {
        req->topics[t].name = kd_str(&d);
        req->topics[t].partition_indexes = kd_i32_array(&d, KPROTO_PARTITIONS_MAX, &req->topics[t].n_partition_indexes);
        kd_tags(&d);
    }
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_offsetfetch_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FETCH, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_FETCH, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t t = 0; t < resp->n_topics; t++) {
        const struct koffsetfetch_resp_topic *tp = &resp->topics[t];
        kb_str(out, flex, tp->name);
        kb_arr(out, flex, tp->n_partitions);
        for (int32_t p = 0; p < tp->n_partitions; p++) {
            const struct koffsetfetch_resp_part *pp = &tp->partitions[p];
            kb_i32(out, pp->partition_index);
            kb_i64(out, pp->committed_offset);
            if (version >= 5) kb_i32(out, pp->committed_leader_epoch);
            kb_nstr(out, flex, pp->metadata);
            kb_i16(out, pp->error_code);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_i16(out, resp->error_code);
    kb_tags(out, flex);
}

/* ---- client side ---- */

/* n_topics -1 = null = every partition the group has committed. */
void kproto_offsetfetch_request_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FETCH, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_FETCH, version);
    kb_str(out, flex, req->group_id);
    kb_arr(out, flex, req->n_topics < 0 ? -1 : req->n_topics);
    for (int32_t t = 0; t < req->n_topics; t++) {
        kb_str(out, flex, req->topics[t].name);
        kb_i32_array(out, flex, req->topics[t].partition_indexes, req->topics[t].n_partition_indexes);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_offsetfetch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct koffsetfetch_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FETCH, version), true };
    if (!kproto_supported(KAPI_OFFSET_FETCH, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd); /* v3+ */
    resp->n_topics = kd_array(&d, KPROTO_CLUSTER_TOPICS_MAX);
    struct koffsetfetch_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t t = 0; topics && t < resp->n_topics && !rd->err; t++) {
        topics[t].name = kd_str(&d);
        topics[t].n_partitions = kd_array(&d, KPROTO_PARTITIONS_MAX);
        struct koffsetfetch_resp_part *parts = kd_alloc(&d, topics[t].n_partitions, sizeof *parts);
        for (int32_t p = 0; parts && p < topics[t].n_partitions && !rd->err; p++) {
            parts[p].partition_index = weir_rd_i32(rd);
            parts[p].committed_offset = weir_rd_i64(rd);
            parts[p].committed_leader_epoch = version >= 5 ? weir_rd_i32(rd) : -1;
            parts[p].metadata = kd_nstr(&d);
            parts[p].error_code = weir_rd_i16(rd);
            kd_tags(&d);
        }
        topics[t].partitions = parts;
        kd_tags(&d);
    }
    resp->topics = topics;
    resp->error_code = weir_rd_i16(rd); /* v2+ */
    kd_tags(&d);
    return kd_done(&d);
}
