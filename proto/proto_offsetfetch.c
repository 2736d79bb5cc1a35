/* proto/proto_offsetfetch.c: OffsetFetch (key 9), v0-9
 * (schemas/OffsetFetch*.json; v6+ flexible). Request v0-7: group_id,
 * topics (nullable from v2: null = all)[name, partition_indexes[]],
 * require_stable (v7+); v8: groups[group_id, member_id (v9+, nullable),
 * member_epoch (v9+), topics (nullable)[...]], require_stable. Response: throttle (v3+); v0-7: topics[name,
 * partitions[partition_index, committed_offset, committed_leader_epoch (v5+),
 * metadata (nullable), error_code]], error_code (v2+); v8: groups[group_id,
 * topics[...as v7], error_code]. */
#include "proto.h"

enum { KPROTO_FETCH_GROUPS_MAX = 10000 };

static struct koffsetfetch_req_topic *topics_decode(struct kdec *d, bool nullable, int32_t *n)
{
    *n = nullable ? kd_narray(d, KPROTO_TOPICS_MAX) : kd_array(d, KPROTO_TOPICS_MAX);
    struct koffsetfetch_req_topic *ts = kd_alloc(d, *n, sizeof *ts);
    for (int32_t t = 0; ts && t < *n && !d->rd->err; t++) {
        ts[t].name = kd_str(d);
        ts[t].partition_indexes = kd_i32_array(d, KPROTO_PARTITIONS_MAX, &ts[t].n_partition_indexes);
        kd_tags(d);
    }
    return ts;
}

enum weir_err kproto_offsetfetch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct koffsetfetch_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FETCH, version), false };
    if (!kproto_supported(KAPI_OFFSET_FETCH, version)) return WEIR_E_UNSUPPORTED;
    *req = (struct koffsetfetch_req){ .group_id = kstr_c("") };
    if (version < 8) {
        req->group_id = kd_str(&d);
        req->topics = topics_decode(&d, version >= 2, &req->n_topics);
        req->n_groups = 1;
        req->groups = kd_alloc(&d, 1, sizeof *req->groups);
        if (req->groups)
            req->groups[0] = (struct koffsetfetch_req_group){ req->group_id, KSTR_NULL, -1, req->topics, req->n_topics };
    } else {
        req->n_groups = kd_array(&d, KPROTO_FETCH_GROUPS_MAX);
        req->groups = kd_alloc(&d, req->n_groups, sizeof *req->groups);
        for (int32_t i = 0; req->groups && i < req->n_groups && !rd->err; i++) {
            req->groups[i].group_id = kd_str(&d);
            req->groups[i].member_id = version >= 9 ? kd_nstr(&d) : KSTR_NULL;
            req->groups[i].member_epoch = version >= 9 ? weir_rd_i32(rd) : -1;
            req->groups[i].topics = topics_decode(&d, true, &req->groups[i].n_topics);
            kd_tags(&d);
        }
        if (req->groups && req->n_groups > 0 && !rd->err)
            req->group_id = req->groups[0].group_id, req->topics = req->groups[0].topics,
            req->n_topics = req->groups[0].n_topics;
    }
    req->require_stable = version >= 7 ? kr_bool(rd) : false;
    kd_tags(&d);
    return kd_done(&d);
}

static void topics_encode(struct kbuf *out, int16_t version, bool flex, const struct koffsetfetch_resp_topic *ts,
                          int32_t n)
{
    kb_arr(out, flex, n);
    for (int32_t t = 0; t < n; t++) {
        const struct koffsetfetch_resp_topic *tp = &ts[t];
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
}

void kproto_offsetfetch_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FETCH, version));
    bool flex = kproto_request_flexible(KAPI_OFFSET_FETCH, version);
    if (version >= 3) kb_i32(out, resp->throttle_time_ms);
    if (version < 8) {
        topics_encode(out, version, flex, resp->topics, resp->n_topics);
        if (version >= 2) kb_i16(out, resp->error_code);
    } else {
        kb_arr(out, flex, resp->n_groups);
        for (int32_t i = 0; i < resp->n_groups; i++) {
            const struct koffsetfetch_resp_group *g = &resp->groups[i];
            kb_str(out, flex, g->group_id);
            topics_encode(out, version, flex, g->topics, g->n_topics);
            kb_i16(out, g->error_code);
            kb_tags(out, flex);
        }
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

static void req_topics_encode(struct kbuf *out, bool flex, const struct koffsetfetch_req_topic *ts, int32_t n)
{
    kb_arr(out, flex, n < 0 ? -1 : n);
    for (int32_t t = 0; t < n; t++) {
        kb_str(out, flex, ts[t].name);
        kb_i32_array(out, flex, ts[t].partition_indexes, ts[t].n_partition_indexes);
        kb_tags(out, flex);
    }
}

/* n_topics -1 = null = every partition the group has committed (v2+). */
void kproto_offsetfetch_request_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_OFFSET_FETCH, version));
    WEIR_ASSERT(version >= 2 || req->n_topics >= 0);
    bool flex = kproto_request_flexible(KAPI_OFFSET_FETCH, version);
    if (version < 8) {
        kb_str(out, flex, req->group_id);
        req_topics_encode(out, flex, req->topics, req->n_topics);
    } else if (req->n_groups <= 0) {
        kb_arr(out, flex, 1);
        kb_str(out, flex, req->group_id);
        if (version >= 9) kb_nstr(out, flex, KSTR_NULL), kb_i32(out, -1);
        req_topics_encode(out, flex, req->topics, req->n_topics);
        kb_tags(out, flex);
    } else {
        kb_arr(out, flex, req->n_groups);
        for (int32_t i = 0; i < req->n_groups; i++) {
            kb_str(out, flex, req->groups[i].group_id);
            if (version >= 9) kb_nstr(out, flex, req->groups[i].member_id), kb_i32(out, req->groups[i].member_epoch);
            req_topics_encode(out, flex, req->groups[i].topics, req->groups[i].n_topics);
            kb_tags(out, flex);
        }
    }
    if (version >= 7) kb_bool(out, req->require_stable);
    kb_tags(out, flex);
}

static const struct koffsetfetch_resp_topic *resp_topics_decode(struct kdec *d, int32_t *n)
{
    *n = kd_array(d, KPROTO_CLUSTER_TOPICS_MAX);
    struct koffsetfetch_resp_topic *topics = kd_alloc(d, *n, sizeof *topics);
    for (int32_t t = 0; topics && t < *n && !d->rd->err; t++) {
        topics[t].name = kd_str(d);
        topics[t].n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
        struct koffsetfetch_resp_part *parts = kd_alloc(d, topics[t].n_partitions, sizeof *parts);
        for (int32_t p = 0; parts && p < topics[t].n_partitions && !d->rd->err; p++) {
            parts[p].partition_index = weir_rd_i32(d->rd);
            parts[p].committed_offset = weir_rd_i64(d->rd);
            parts[p].committed_leader_epoch = d->version >= 5 ? weir_rd_i32(d->rd) : -1;
            parts[p].metadata = kd_nstr(d);
            parts[p].error_code = weir_rd_i16(d->rd);
            kd_tags(d);
        }
        topics[t].partitions = parts;
        kd_tags(d);
    }
    return topics;
}

enum weir_err kproto_offsetfetch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct koffsetfetch_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_OFFSET_FETCH, version), true };
    if (!kproto_supported(KAPI_OFFSET_FETCH, version)) return WEIR_E_UNSUPPORTED;
    *resp = (struct koffsetfetch_resp){ 0 };
    resp->throttle_time_ms = version >= 3 ? weir_rd_i32(rd) : 0;
    if (version < 8) {
        resp->topics = resp_topics_decode(&d, &resp->n_topics);
        resp->error_code = version >= 2 ? weir_rd_i16(rd) : 0;
    } else {
        resp->n_groups = kd_array(&d, KPROTO_FETCH_GROUPS_MAX);
        struct koffsetfetch_resp_group *gs = kd_alloc(&d, resp->n_groups, sizeof *gs);
        for (int32_t i = 0; gs && i < resp->n_groups && !rd->err; i++) {
            gs[i].group_id = kd_str(&d);
            gs[i].topics = resp_topics_decode(&d, &gs[i].n_topics);
            gs[i].error_code = weir_rd_i16(rd);
            kd_tags(&d);
        }
        resp->groups = gs;
        if (gs && resp->n_groups > 0 && !rd->err)
            resp->topics = gs[0].topics, resp->n_topics = gs[0].n_topics, resp->error_code = gs[0].error_code;
    }
    kd_tags(&d);
    return kd_done(&d);
}
