/* proto/proto_offsetcommit.c: OffsetCommit (key 8), v0-9
 * (schemas/OffsetCommit*.json; v8 flexible, v9 the same bytes). Request: group_id,
 * generation_id and member_id (v1+), group_instance_id (v7+, nullable),
 * retention_time_ms (v2-4), topics[name, partitions[partition_index,
 * committed_offset, committed_leader_epoch (v6+), commit_timestamp (v1 only),
 * committed_metadata (nullable)]]. Response: throttle (v3+),
 * topics[name, partitions[partition_index, error_code]]. */
#include "proto.h"

enum weir_err kproto_offsetcommit_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct koffsetcommit_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_COMMIT, version), false };
    if (!kproto_supported(KAPI_OFFSET_COMMIT, version)) return WEIR_E_UNSUPPORTED;
    req->group_id = kd_str(&d);
    req->generation_id = version >= 1 ? weir_rd_i32(rd) : -1;
    req->member_id = version >= 1 ? kd_str(&d) : kstr_c("");
    req->group_instance_id = version >= 7 ? kd_nstr(&d) : KSTR_NULL;
    req->retention_time_ms = version >= 2 && version <= 4 ? weir_rd_i64(rd) : -1;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t t = 0; req->topics && t < req->n_topics && !rd->err; t++) {
        struct koffsetcommit_req_topic *tp = &req->topics[t];
        tp->name = kd_str(&d);
        tp->n_partitions = kd_array(&d, KPROTO_PARTITIONS_MAX);
        tp->partitions = kd_alloc(&d, tp->n_partitions, sizeof *tp->partitions);
        for (int32_t p = 0; tp->partitions && p < tp->n_partitions && !rd->err; p++) {
            struct koffsetcommit_req_part *pp = &tp->partitions[p];
            pp->partition_index = weir_rd_i32(rd);
            pp->committed_offset = weir_rd_i64(rd);
            pp->committed_leader_epoch = version >= 6 ? weir_rd_i32(rd) : -1;
            pp->commit_timestamp = version == 1 ? weir_rd_i64(rd) : -1;
            pp->committed_metadata = kd_nstr(&d);
            kd_tags(&d);
        }
        kd_tags(&d);
    }
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_offsetcommit_encode(struct kbuf *out, int16_t version, const struct koffsetcommit_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_COMMIT, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_COMMIT, version);
    if (version >= 3) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t t = 0; t < resp->n_topics; t++) {
        const struct koffsetcommit_resp_topic *tp = &resp->topics[t];
        kb_str(out, flex, tp->name);
        kb_arr(out, flex, tp->n_partitions);
        for (int32_t p = 0; p < tp->n_partitions; p++) {
            kb_i32(out, tp->partitions[p].partition_index);
            kb_i16(out, tp->partitions[p].error_code);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_offsetcommit_request_encode(struct kbuf *out, int16_t version, const struct koffsetcommit_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_COMMIT, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_COMMIT, version);
    kb_str(out, flex, req->group_id);
    if (version >= 1) kb_i32(out, req->generation_id);
    if (version >= 1) kb_str(out, flex, req->member_id);
    if (version >= 7) kb_nstr(out, flex, req->group_instance_id);
    if (version >= 2 && version <= 4) kb_i64(out, req->retention_time_ms);
    kb_arr(out, flex, req->n_topics);
    for (int32_t t = 0; t < req->n_topics; t++) {
        const struct koffsetcommit_req_topic *tp = &req->topics[t];
        kb_str(out, flex, tp->name);
        kb_arr(out, flex, tp->n_partitions);
        for (int32_t p = 0; p < tp->n_partitions; p++) {
            const struct koffsetcommit_req_part *pp = &tp->partitions[p];
            kb_i32(out, pp->partition_index);
            kb_i64(out, pp->committed_offset);
            if (version >= 6) kb_i32(out, pp->committed_leader_epoch);
            if (version == 1) kb_i64(out, pp->commit_timestamp);
            kb_nstr(out, flex, pp->committed_metadata);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

enum weir_err kproto_offsetcommit_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct koffsetcommit_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_COMMIT, version), true };
    if (!kproto_supported(KAPI_OFFSET_COMMIT, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 3 ? weir_rd_i32(rd) : 0;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct koffsetcommit_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t t = 0; topics && t < resp->n_topics && !rd->err; t++) {
        topics[t].name = kd_str(&d);
        topics[t].n_partitions = kd_array(&d, KPROTO_PARTITIONS_MAX);
        struct koffsetcommit_resp_part *parts = kd_alloc(&d, topics[t].n_partitions, sizeof *parts);
        for (int32_t p = 0; parts && p < topics[t].n_partitions && !rd->err; p++) {
            parts[p].partition_index = weir_rd_i32(rd);
            parts[p].error_code = weir_rd_i16(rd);
            kd_tags(&d);
        }
        topics[t].partitions = parts;
        kd_tags(&d);
    }
    resp->topics = topics;
    kd_tags(&d);
    return kd_done(&d);
}
