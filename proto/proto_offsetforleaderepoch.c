/* proto/proto_offsetforleaderepoch.c: OffsetForLeaderEpoch (key 23), v0-4
 * (schemas/OffsetForLeaderEpoch*.json). A follower asks where the leader's
 * history of an epoch ends (KIP-101, KIP-279). v1 adds leader_epoch to the
 * answer, v2 current_leader_epoch (fencing) and the throttle time, v3
 * replica_id (default -2: a debug consumer), v4 is flexible. A response
 * partition carries error_code before the partition index. */
#include "proto.h"

static void ofle_decode_topic(struct kdec *d, struct koffsetforleaderepoch_req_topic *t)
{
    t->topic = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        struct koffsetforleaderepoch_req_part *p = &t->partitions[i];
        p->partition = weir_rd_i32(d->rd);
        p->current_leader_epoch = d->version >= 2 ? weir_rd_i32(d->rd) : -1;
        p->leader_epoch = weir_rd_i32(d->rd);
        kd_tags(d);
    }
    kd_tags(d);
}

enum weir_err kproto_offsetforleaderepoch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct koffsetforleaderepoch_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FOR_LEADER_EPOCH, version), false };
    if (!kproto_supported(KAPI_OFFSET_FOR_LEADER_EPOCH, version)) return WEIR_E_UNSUPPORTED;
    req->replica_id = version >= 3 ? weir_rd_i32(rd) : -2;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) ofle_decode_topic(&d, &req->topics[i]);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_offsetforleaderepoch_encode(struct kbuf *out, int16_t version,
                                        const struct koffsetforleaderepoch_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FOR_LEADER_EPOCH, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_FOR_LEADER_EPOCH, version);
    if (version >= 2) kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct koffsetforleaderepoch_resp_topic *t = &resp->topics[i];
        kb_str(out, flex, t->topic);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const struct koffsetforleaderepoch_resp_part *p = &t->partitions[j];
            kb_i16(out, p->error_code);
            kb_i32(out, p->partition);
            if (version >= 1) kb_i32(out, p->leader_epoch);
            kb_i64(out, p->end_offset);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side (the follower) ---- */

void kproto_offsetforleaderepoch_request_encode(struct kbuf *out, int16_t version,
                                                const struct koffsetforleaderepoch_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FOR_LEADER_EPOCH, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_FOR_LEADER_EPOCH, version);
    if (version >= 3) kb_i32(out, req->replica_id);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) {
        const struct koffsetforleaderepoch_req_topic *t = &req->topics[i];
        kb_str(out, flex, t->topic);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            const struct koffsetforleaderepoch_req_part *p = &t->partitions[j];
            kb_i32(out, p->partition);
            if (version >= 2) kb_i32(out, p->current_leader_epoch);
            kb_i32(out, p->leader_epoch);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

static void ofle_decode_response_topic(struct kdec *d, struct koffsetforleaderepoch_resp_topic *t)
{
    t->topic = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct koffsetforleaderepoch_resp_part *parts = kd_alloc(d, t->n_partitions, sizeof *parts);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        parts[i].error_code = weir_rd_i16(d->rd);
        parts[i].partition = weir_rd_i32(d->rd);
        parts[i].leader_epoch = d->version >= 1 ? weir_rd_i32(d->rd) : -1;
        parts[i].end_offset = weir_rd_i64(d->rd);
        kd_tags(d);
    }
    t->partitions = parts;
    kd_tags(d);
}

enum weir_err kproto_offsetforleaderepoch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                          struct koffsetforleaderepoch_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FOR_LEADER_EPOCH, version), true };
    if (!kproto_supported(KAPI_OFFSET_FOR_LEADER_EPOCH, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 2 ? weir_rd_i32(rd) : 0;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct koffsetforleaderepoch_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) ofle_decode_response_topic(&d, &topics[i]);
    resp->topics = topics;
    kd_tags(&d);
    return kd_done(&d);
}
