/* net/group_offsets.c: OffsetCommit and OffsetFetch on the group's owner.
 * A commit is one batch appended to the group's offsets partition and applied
 * to memory when its append completes. Invariants (1)-(3): group_log.c. */
#include "group_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- OffsetCommit, OffsetFetch ---------------------------------------------------- */

enum { COMMIT_REPL_TIMEOUT_MS = 5000 }; /* Kafka's offsets.commit.timeout.ms */

/* Kafka's createOffsetAndMetadata: v1's commit_timestamp, when given, is the
 * commit time; v2-4's retention_time_ms, when not -1, sets the offsets'
 * expiry (commit time + retention, whatever its sign). */
static int64_t commit_ts(const struct gop *op, const struct koffsetcommit_req_part *pp)
{
    return pp->commit_timestamp != -1 ? pp->commit_timestamp : op->commit_ts;
}

static int64_t commit_expire_ms(const struct gop *op)
{
    int64_t ret = op->in.commit.retention_time_ms;
    if (ret == -1) return -1;
    int64_t at = ret > INT64_MAX - op->commit_ts ? INT64_MAX : op->commit_ts + ret;
    return WEIR_MAX(at, 0);
}

/* The commit's batch is in the log (and, in a cluster, below the HW): applied
 * to memory and answered; or answered with code. */
static void commit_apply(struct gop *op, int16_t code)
{
    struct gcoord *gc = group_coord_of(op->owner);
    const struct koffsetcommit_req *cr = &op->in.commit;
    struct group *g = group_find(gc, cr->group_id);
    WEIR_ASSERT(g && g->writes > 0 && g->offsets_reserved >= op->new_offsets); /* (2) */
    g->writes--;
    g->offsets_reserved -= op->new_offsets;
    gc->inflight[op->pt.partition]--;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            if (rp->error_code) continue;
            rp->error_code = code;
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            if (!code)
                group_offset_apply(gc, cr->group_id, cr->topics[t].name, pp->partition_index, pp->committed_offset,
                                   pp->committed_leader_epoch, pp->committed_metadata, commit_ts(op, pp),
                                   commit_expire_ms(op));
        }
    group_check(gc, g);
    group_maybe_free(gc, g);
    weir_free(op->batch);
    op->batch = NULL;
    group_op_reply(op->owner, op);
}

/* Kafka's mapping of a commit's append errors (GroupMetadataManager). */
static void commit_replicated(struct reactor *owner, struct repl_hold *h, int16_t code)
{
    (void)owner;
    struct gop *op = weir_container_of(h, struct gop, hold);
    if (code == WEIR_KERR_NOT_LEADER_OR_FOLLOWER) code = WEIR_KERR_NOT_COORDINATOR;
    else if (code == WEIR_KERR_REQUEST_TIMED_OUT || code == WEIR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
    commit_apply(op, code);
}

/* A commit is answered once the HW passes it (every ISR member has it; led
 * alone: at once), so a new coordinator's replay sees every acknowledged commit. */
static void commit_done(struct weir_append *a)
{
    struct gop *op = a->user;
    if (a->err != WEIR_OK) {
        commit_apply(op, weir_kerr_from_err(a->err));
        return;
    }
    int64_t last_delta = (int64_t)weir_load_be32(op->batch + WEIR_BATCH_OFF_LAST_DELTA);
    op->hold = (struct repl_hold){ .required_offset = a->base_offset + last_delta + 1, .min_insync = 1,
                                   .timeout_ms = COMMIT_REPL_TIMEOUT_MS, .done = commit_replicated };
    part_repl_hold(op->owner, part_find(op->owner, GROUP_OFFSETS_TOPIC, op->pt.partition), &op->hold);
}

void group_offset_commit(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct koffsetcommit_req *cr = &op->in.commit;
    int16_t all = 0;
    struct group *g = group_find(gc, cr->group_id);
    struct gmember *m = NULL;
    bool simple = cr->generation_id < 0 && cr->member_id.len <= 0; /* assign() consumers, tools */
    int16_t check = 0;
    if (cr->group_id.len <= 0) all = WEIR_KERR_INVALID_GROUP_ID;
    else if (simple && (!g || !g->members)) all = 0;
    else if (!g && cr->generation_id >= 0) /* Kafka 3.7: 69 from v9 (OffsetMetadataManager), 22 before */
        all = op->version >= 9 ? WEIR_KERR_GROUP_ID_NOT_FOUND : WEIR_KERR_ILLEGAL_GENERATION;
    else if (simple && kstr_is_null(cr->group_instance_id)) all = WEIR_KERR_UNKNOWN_MEMBER_ID;
    else if ((check = group_member_check(g, cr->member_id, cr->group_instance_id, &m))) all = check;
    else if (cr->generation_id != g->generation) all = WEIR_KERR_ILLEGAL_GENERATION;
    else if (g->state == G_COMPLETING) all = WEIR_KERR_REBALANCE_IN_PROGRESS; /* Stable and Preparing commit, as Kafka */
    if (m) m->hb_deadline_ns = weir_clock_ns() + (int64_t)m->session_ms * 1000000;
    bool created = false; /* a simple commit's new group: freed again when nothing is written */
    if (!all && !g) {
        g = group_new_capped(gc, cr->group_id);
        if (!g) all = LIMIT_GROUPS_FULL;
        created = g != NULL;
    }
    size_t cap = WEIR_BATCH_HEADER_BYTES + 64;
    int32_t n_ok = 0, n_new = 0, refused = 0;
    int32_t offsets_max = r->b->cfg.group_offsets_max;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            if (rp->error_code) continue; /* UNKNOWN_TOPIC_OR_PARTITION (handle_group) */
            rp->error_code = all;
            if (!all && pp->committed_metadata.len > METADATA_BYTES_MAX) rp->error_code = WEIR_KERR_OFFSET_METADATA_TOO_LARGE;
            if (rp->error_code) continue;
            /* A new key counts against weir.group.offsets.max with those of commits in flight. */
            struct kstr topic = cr->topics[t].name;
            if (!group_offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), pp->partition_index)) {
                if ((int64_t)g->n_offsets + g->offsets_reserved + n_new >= offsets_max) {
                    rp->error_code = LIMIT_OFFSETS_FULL;
                    refused++;
                    continue;
                }
                n_new++;
            }
            n_ok++;
            cap += 72 + (size_t)cr->group_id.len + (size_t)WEIR_MAX(cr->topics[t].name.len, 0) +
                   (size_t)WEIR_MAX(pp->committed_metadata.len, 0) + 32;
        }
    if (refused)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "group %s: %d new committed offsets refused: it holds %d, "
                             "weir.group.offsets.max = %d (error %d to the client)", g->id, refused, g->n_offsets,
                             offsets_max, LIMIT_OFFSETS_FULL);
    if (!n_ok) {
        if (created) group_maybe_free(gc, g);
        group_op_reply(r, op);
        return;
    }
    int16_t code = 0;
    struct part *part = part_get(r, GROUP_OFFSETS_TOPIC, op->pt.partition, &code);
    op->batch = weir_malloc(cap);
    uint8_t *kv = weir_malloc(2 * (size_t)KPROTO_STRING_MAX + 64 + METADATA_BYTES_MAX);
    if (!part || !op->batch || !kv) {
        code = code ? code : WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        goto fail;
    }
    op->commit_ts = weir_time_ms();
    struct weir_batch_builder bb;
    weir_batch_builder_init(&bb, op->batch, cap, WEIR_CODEC_NONE);
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            if (op->out.commit.topics[t].partitions[p].error_code) continue;
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            size_t kn = 0, vn;
            kv[kn++] = 1;
            kn += group_put_str(kv + kn, cr->group_id);
            kn += group_put_str(kv + kn, cr->topics[t].name);
            weir_store_be32(kv + kn, (uint32_t)pp->partition_index), kn += 4;
            uint8_t *v = kv + kn;
            vn = group_offset_value(v, pp->committed_offset, pp->committed_leader_epoch, pp->committed_metadata,
                                    commit_ts(op, pp), commit_expire_ms(op));
            if (weir_batch_builder_add(&bb, op->commit_ts, kv, (int32_t)kn, v, (int32_t)vn, NULL, 0) != WEIR_OK) {
                code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
                goto fail;
            }
        }
    size_t len;
    if (weir_batch_builder_finish(&bb, -1, -1, -1, &len) != WEIR_OK) {
        code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        goto fail;
    }
    weir_free(kv);
    kv = NULL;
    op->owner = r;
    op->app = (struct weir_append){ .batch = op->batch, .len = len, .on_done = commit_done, .user = op };
    op->new_offsets = n_new;
    g->writes++;
    g->offsets_reserved += n_new;
    gc->inflight[op->pt.partition]++;
    enum weir_err err = weir_log_append(part->log, &op->app);
    if (err == WEIR_OK) return; /* commit_done answers */
    g->writes--;
    g->offsets_reserved -= n_new;
    gc->inflight[op->pt.partition]--;
    code = weir_kerr_from_err(err);
    group_maybe_free(gc, g);
    created = false;
fail:
    if (created) group_maybe_free(gc, g);
    weir_free(kv);
    weir_free(op->batch);
    op->batch = NULL;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            if (!rp->error_code) rp->error_code = code;
        }
    group_op_reply(r, op);
}

static void fetch_part(struct request *req, struct group *g, struct kstr topic, int32_t partition,
                       struct koffsetfetch_resp_part *out)
{
    *out = (struct koffsetfetch_resp_part){ .partition_index = partition, .committed_offset = -1,
                                            .committed_leader_epoch = -1, .metadata = kstr_c("") };
    struct goffset *o = g ? group_offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), partition) : NULL;
    if (!o) return;
    out->committed_offset = o->offset;
    out->committed_leader_epoch = o->epoch;
    out->metadata = group_resp_kstr(&req->arena, o->meta);
}

void group_offset_fetch(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    struct request *req = op->pt.req;
    const struct koffsetfetch_req *fr = &op->in.fetch;
    struct koffsetfetch_resp *out = &op->out.fetch;
    *out = (struct koffsetfetch_resp){ 0 };
    struct group *g = group_find(gc, fr->group_id);
    if (fr->group_id.len <= 0) {
        out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    } else if (fr->n_topics >= 0) {
        struct koffsetfetch_resp_topic *ts = group_resp_alloc(&req->arena, (size_t)WEIR_MAX(fr->n_topics, 1) * sizeof *ts);
        for (int32_t t = 0; ts && t < fr->n_topics; t++) {
            const struct koffsetfetch_req_topic *it = &fr->topics[t];
            struct koffsetfetch_resp_part *ps =
                group_resp_alloc(&req->arena, (size_t)WEIR_MAX(it->n_partition_indexes, 1) * sizeof *ps);
            ts[t] = (struct koffsetfetch_resp_topic){ .name = it->name, .partitions = ps,
                                                      .n_partitions = ps ? it->n_partition_indexes : 0 };
            for (int32_t p = 0; ps && p < it->n_partition_indexes; p++)
                fetch_part(req, g, it->name, it->partition_indexes[p], &ps[p]);
        }
        out->topics = ts;
        out->n_topics = ts ? fr->n_topics : 0;
    } else if (g) {
        /* All committed partitions: one topic entry per offset (clients group by name). */
        int32_t n = 0;
        for (struct goffset *o = g->offsets; o; o = o->next) n++;
        struct koffsetfetch_resp_topic *ts = group_resp_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ts);
        struct koffsetfetch_resp_part *ps = group_resp_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ps);
        int32_t i = 0;
        for (struct goffset *o = g->offsets; ts && ps && o; o = o->next, i++) {
            ts[i] = (struct koffsetfetch_resp_topic){ .name = group_resp_kstr(&req->arena, o->topic), .partitions = &ps[i],
                                                      .n_partitions = 1 };
            fetch_part(req, g, kstr_c(o->topic), o->partition, &ps[i]);
        }
        out->topics = ts;
        out->n_topics = ts && ps ? n : 0;
    }
    group_op_reply(r, op);
}
