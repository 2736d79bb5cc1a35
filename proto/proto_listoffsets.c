/* proto/proto_listoffsets.c: ListOffsets (key 2), v0-8 (schemas/ListOffsets*.json).
 * v0 asks with max_num_offsets (after the timestamp) and answers an array of
 * offsets (old_style_offsets) instead of one (timestamp, offset); v2 adds isolation_level to the request and throttle_time_ms (first) to the
 * response; v1+ answers one (timestamp, offset) per partition, not v0's
 * old-style offsets array; v3 is the same as v2; v4 adds current_leader_epoch
 * (before the timestamp) to the request and leader_epoch (last) to the
 * response; v5 only adds an error code; v6 is flexible; v7 allows timestamp
 * -3 (the record with the largest timestamp, KIP-734), v8 -4 (the local log
 * start, KIP-405). */
#include "proto.h"

static void listoffsets_decode_topic(struct kdec *d, struct klistoffsets_req_topic *t)
{
    t->name = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        t->partitions[i].partition_index = weir_rd_i32(d->rd);
        t->partitions[i].current_leader_epoch = d->version >= 4 ? weir_rd_i32(d->rd) : -1;
        t->partitions[i].timestamp = weir_rd_i64(d->rd);
        t->partitions[i].max_num_offsets = d->version == 0 ? weir_rd_i32(d->rd) : 1;
        kd_tags(d);
    }
    kd_tags(d);
}

enum weir_err kproto_listoffsets_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct klistoffsets_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LIST_OFFSETS, version), false };
    if (!kproto_supported(KAPI_LIST_OFFSETS, version)) return WEIR_E_UNSUPPORTED;
    req->replica_id = weir_rd_i32(rd);
    req->isolation_level = version >= 2 ? kr_i8(rd) : 0;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) listoffsets_decode_topic(&d, &req->topics[i]);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_listoffsets_encode(struct kbuf *out, int16_t version, const struct klistoffsets_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_LIST_OFFSETS, version));
    bool flex = kproto_request_flexible(KAPI_LIST_OFFSETS, version);
    if (version >= 2) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct klistoffsets_resp_topic *t = &resp->topics[i];
        kb_str(out, flex, t->name);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const struct klistoffsets_resp_part *p = &t->partitions[j];
            kb_i32(out, p->partition_index);
            kb_i16(out, p->error_code);
            if (version == 0 && p->old_style_offsets) {
                kb_array_len(out, p->n_old_style_offsets);
                for (int32_t k = 0; k < p->n_old_style_offsets; k++) kb_i64(out, p->old_style_offsets[k]);
            } else if (version == 0) {
                kb_array_len(out, p->offset >= 0 ? 1 : 0);
                if (p->offset >= 0) kb_i64(out, p->offset);
            } else {
                kb_i64(out, p->timestamp);
                kb_i64(out, p->offset);
            }
            if (version >= 4) kb_i32(out, p->leader_epoch);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_listoffsets_request_encode(struct kbuf *out, int16_t version, const struct klistoffsets_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_LIST_OFFSETS, version));
    bool flex = kproto_request_flexible(KAPI_LIST_OFFSETS, version);
    kb_i32(out, req->replica_id);
    if (version >= 2) kb_i8(out, req->isolation_level);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) {
        const struct klistoffsets_req_topic *t = &req->topics[i];
        kb_str(out, flex, t->name);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            kb_i32(out, t->partitions[j].partition_index);
            if (version >= 4) kb_i32(out, t->partitions[j].current_leader_epoch);
            kb_i64(out, t->partitions[j].timestamp);
            if (version == 0) kb_i32(out, t->partitions[j].max_num_offsets);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

static void listoffsets_decode_response_topic(struct kdec *d, struct klistoffsets_resp_topic *t)
{
    t->name = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct klistoffsets_resp_part *parts = kd_alloc(d, t->n_partitions, sizeof *parts);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        parts[i].partition_index = weir_rd_i32(d->rd);
        parts[i].error_code = weir_rd_i16(d->rd);
        if (d->version == 0) { /* old_style_offsets, newest first: offset is the first */
            int32_t n = kd_array(d, KPROTO_OLD_STYLE_OFFSETS_MAX);
            int64_t *offs = kd_alloc(d, n, sizeof *offs);
            for (int32_t k = 0; k < n && d->rd->err == WEIR_OK; k++) offs[k] = weir_rd_i64(d->rd);
            parts[i].old_style_offsets = offs;
            parts[i].n_old_style_offsets = n;
            parts[i].timestamp = -1;
            parts[i].offset = n > 0 && offs ? offs[0] : -1;
        } else {
            parts[i].timestamp = weir_rd_i64(d->rd);
            parts[i].offset = weir_rd_i64(d->rd);
        }
        parts[i].leader_epoch = d->version >= 4 ? weir_rd_i32(d->rd) : -1;
        kd_tags(d);
    }
    t->partitions = parts;
    kd_tags(d);
}

enum weir_err kproto_listoffsets_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct klistoffsets_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_LIST_OFFSETS, version), true };
    if (!kproto_supported(KAPI_LIST_OFFSETS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 2 ? weir_rd_i32(rd) : 0;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct klistoffsets_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++)
        listoffsets_decode_response_topic(&d, &topics[i]);
    resp->topics = topics;
    kd_tags(&d);
    return kd_done(&d);
}
