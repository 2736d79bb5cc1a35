/* net/group.c: the group coordinator (classic protocol): dispatch and tick.
 *
 * Group g belongs to partition fnv1a(g) % GROUP_OFFSETS_PARTITIONS of the
 * internal topic __consumer_offsets, and so to that partition's owner reactor
 * (reactor_owner): requests travel there as ptasks, the owner alone touches the
 * group's state and appends its commits to the same partition's log. A
 * JoinGroup or SyncGroup that must wait is held on the owner (its ptask is not
 * answered) until the rebalance completes; each turn the owner runs the
 * session and rebalance timers and offsets expiry (groups_tick); the log
 * cleaner compacts the topic.
 * On first use of an offsets partition its owner replays its log.
 *
 * This file: handle_group decodes a request on its connection's reactor and
 * sends it to the owner (gop_owner), which runs it (group_member.c,
 * group_offsets.c) and sends the answer back to be encoded (gop_origin);
 * groups_tick, groups_free, groups_topic_ensure. The other files: group_int.h. */
#include "group_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- on the owner -------------------------------------------------------------------- */

/* The group a request names (its arena goes with the answer). */
static struct kstr gop_group(const struct gop *op)
{
    switch (op->kind) {
    case GOP_JOIN: return op->in.join.group_id;
    case GOP_SYNC: return op->in.sync.group_id;
    case GOP_HB: return op->in.hb.group_id;
    case GOP_LEAVE: return op->in.leave.group_id;
    case GOP_COMMIT: return op->in.commit.group_id;
    case GOP_FETCH: return op->in.fetch.group_id;
    }
    return KSTR_NULL;
}

static void gop_run(struct reactor *r, struct gcoord *gc, struct gop *op);

static void gop_owner(struct reactor *r, struct ptask *pt)
{
    struct gop *op = weir_container_of(pt, struct gop, pt);
    struct gcoord *gc = group_coord_of(r);
    bool member_op = op->kind == GOP_JOIN || op->kind == GOP_SYNC || op->kind == GOP_LEAVE;
#ifdef WEIR_DEBUG
    member_op = true;
#endif
    if (!member_op) {
        gop_run(r, gc, op);
        return;
    }
    char *id = group_kdup(gop_group(op)); /* the answer may free the request */
    gop_run(r, gc, op);
    struct group *g = group_find(gc, kstr_c(id));
    if (g) group_store_membership(r, gc, g);
    group_check(gc, g);
    weir_free(id);
}

/* A group whose offsets partition this broker does not lead. */
static void gop_refuse(struct reactor *r, struct gop *op, int16_t code)
{
    switch (op->kind) {
    case GOP_JOIN:
        op->out.join = (struct kjoingroup_resp){ .error_code = code, .generation_id = -1, .protocol_name = kstr_c(""),
                                                 .leader = kstr_c(""), .member_id = op->in.join.member_id };
        break;
    case GOP_SYNC: op->out.sync = (struct ksyncgroup_resp){ .error_code = code }; break;
    case GOP_HB: op->out.hb = (struct kheartbeat_resp){ .error_code = code }; break;
    case GOP_LEAVE: op->out.leave = (struct kleavegroup_resp){ .error_code = code }; break;
    case GOP_COMMIT:
        for (int32_t t = 0; t < op->out.commit.n_topics; t++)
            for (int32_t p = 0; p < op->out.commit.topics[t].n_partitions; p++) {
                struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
                if (!rp->error_code) rp->error_code = code; /* an unknown partition keeps its 3 */
            }
        break;
    case GOP_FETCH: op->out.fetch = (struct koffsetfetch_resp){ .error_code = code }; break;
    }
    group_op_reply(r, op);
}

static void gop_run(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    struct ptask *pt = &op->pt;
    int16_t refused = group_coordinates(r, gc, pt->partition);
    if (refused) {
        gop_refuse(r, op, refused);
        return;
    }
    if (!gc->loaded[pt->partition]) {
        gc->loaded[pt->partition] = true;
        group_log_replay(r, gc, pt->partition);
    }
    if (r->stopping && (op->kind == GOP_JOIN || op->kind == GOP_SYNC)) {
        if (op->kind == GOP_JOIN) op->out.join = (struct kjoingroup_resp){ .error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE,
            .generation_id = -1, .protocol_name = kstr_c(""), .leader = kstr_c(""), .member_id = op->in.join.member_id };
        else op->out.sync = (struct ksyncgroup_resp){ .error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE };
        group_op_reply(r, op);
        return;
    }
    switch (op->kind) {
    case GOP_JOIN: group_join(r, gc, op); break;
    case GOP_SYNC: group_sync(r, gc, op); break;
    case GOP_HB: group_heartbeat(r, gc, op); break;
    case GOP_LEAVE: group_leave(r, gc, op); break;
    case GOP_COMMIT: group_offset_commit(r, gc, op); break;
    case GOP_FETCH: group_offset_fetch(r, gc, op); break;
    }
}

/* No longer led: the groups of offsets partition p go (waiting members are
 * answered NOT_COORDINATOR) and the next leadership replays the log, which
 * followed the leader meanwhile. Only once nothing of p is in flight; until
 * then gc->unload[p] stays set and each tick tries again. */
static bool offsets_unload(struct reactor *r, struct gcoord *gc, int32_t p)
{
    gc->unload[p] = true;
    if (gc->inflight[p] > 0) return false;
    for (struct group *g = gc->groups; g; g = g->next)
        if (g->writes > 0 && group_partition(kstr_c(g->id)) == p) return false;
    int32_t n = 0;
    for (struct group *g = gc->groups, *gnext; g; g = gnext) {
        gnext = g->next;
        if (group_partition(kstr_c(g->id)) != p) continue;
        for (struct gmember *m = g->members; m; m = m->next) {
            if (m->join_wait) gop_refuse(r, m->join_wait, WEIR_KERR_NOT_COORDINATOR), m->join_wait = NULL;
            if (m->sync_wait) gop_refuse(r, m->sync_wait, WEIR_KERR_NOT_COORDINATOR), m->sync_wait = NULL;
        }
        group_drop(gc, g);
        n++;
    }
    gc->loaded[p] = false;
    gc->n_live[p] = 0;
    gc->unload[p] = false;
    if (n) weir_log(WEIR_LOG_INFO, "%s-%d: %d groups unloaded", GROUP_OFFSETS_TOPIC, p, n);
    return true;
}

/* part_led of __consumer_offsets' partitions: a single node's from their
 * open, a cluster's by their roles. */
static void groups_offsets_role(struct reactor *r, int32_t partition, bool leader)
{
    if (partition < 0 || partition >= GROUP_OFFSETS_PARTITIONS) return;
    struct gcoord *gc = group_coord_of(r);
    if (gc->led[partition] == leader) return;
    gc->led[partition] = leader;
    weir_log(WEIR_LOG_INFO, "%s-%d: %s coordinating its groups", GROUP_OFFSETS_TOPIC, partition,
             leader ? "now" : "no longer");
    /* Either way what is in memory is not the log's state any more (the
     * other leader wrote to it): unload, and replay at the next use. */
    if (gc->loaded[partition] || gc->unload[partition]) offsets_unload(r, gc, partition);
}

void groups_tick(struct reactor *r)
{
    struct gcoord *gc = r->groups;
    if (!gc) return;
    int64_t now = weir_clock_ns();
    /* The walk is O(groups): only when a timer may be due (group_timer). */
    bool walk = r->stopping || now >= gc->timers_due_ns;
    if (walk) gc->timers_due_ns = INT64_MAX; /* lowered again below and by what the walk sets */
    for (struct group *g = walk ? gc->groups : NULL, *gnext; g; g = gnext) {
        gnext = g->next;
        if (r->stopping) {
            for (struct gmember *m = g->members; m; m = m->next) {
                if (m->join_wait) m->join_wait->out.join.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE,
                                  group_op_reply(r, m->join_wait), m->join_wait = NULL;
                if (m->sync_wait) m->sync_wait->out.sync.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE,
                                  group_op_reply(r, m->sync_wait), m->sync_wait = NULL;
            }
            continue;
        }
        bool changed = false;
        for (struct gpending **pp = &g->pending; *pp;) {
            if ((*pp)->deadline_ns > now) {
                pp = &(*pp)->next;
                continue;
            }
            struct gpending *p = *pp;
            *pp = p->next;
            g->n_pending--;
            weir_free(p->id);
            weir_free(p);
            changed = true;
        }
        for (struct gmember *m = g->members, *next; m; m = next) {
            next = m->next;
            /* Kafka's hasSatisfiedHeartbeat: a member waiting in JoinGroup or
             * SyncGroup is alive; any other, in any state, must heartbeat, so
             * a dead member holds a rebalance for its session timeout, not
             * for the rebalance timeout. */
            if (m->join_wait || m->sync_wait || m->hb_deadline_ns > now) continue;
            weir_log(WEIR_LOG_INFO, "group %s: member %s missed its session timeout", g->id, m->id);
            group_member_remove(r, g, m, WEIR_KERR_UNKNOWN_MEMBER_ID);
            group_prepare_rebalance(r, g);
            changed = true;
        }
        group_try_complete_join(r, g, now);
        group_store_membership(r, gc, g);
        group_check(gc, g);
        /* Left with nothing (its last pending id or member expired): freed now,
         * so it stops counting against weir.groups.max. */
        if (changed && group_maybe_free(gc, g)) continue;
        /* waiting members too: a deadline passed while waiting counts once the wait ends */
        for (struct gpending *p = g->pending; p; p = p->next) group_timer(gc, p->deadline_ns);
        for (struct gmember *m = g->members; m; m = m->next) group_timer(gc, m->hb_deadline_ns);
        if (g->state == G_PREPARING) group_timer(gc, g->rebalance_deadline_ns);
    }
    group_expire_tick(r, gc);
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++)
        if (gc->unload[p]) offsets_unload(r, gc, p);
}

void groups_free(struct reactor *r)
{
    struct gcoord *gc = r->groups;
    if (!gc) return;
    group_free_all(gc);
    weir_free(gc);
    r->groups = NULL;
}

static void groups_hook_tick(struct reactor *r, void *ctx, int64_t now_ns)
{
    (void)ctx, (void)now_ns;
    groups_tick(r);
}

static void groups_hook_fini(struct reactor *r, void *ctx)
{
    (void)ctx;
    groups_free(r);
}

static void groups_hook_part_led(struct reactor *r, void *ctx, struct part *p, bool leader)
{
    (void)ctx;
    if (!strcmp(p->topic, GROUP_OFFSETS_TOPIC)) groups_offsets_role(r, p->partition, leader);
}

static const struct reactor_hook_ops groups_hook = { .tick = groups_hook_tick, .fini = groups_hook_fini,
                                                     .part_led = groups_hook_part_led };

void groups_reactor_init(struct reactor *r) { reactor_hook_add(r, &groups_hook, NULL); }

/* ---- on the request's reactor ------------------------------------------------------- */

/* OffsetFetch v8 names several groups, each on its own owner: asked one at a
 * time (an owner writes its answer into the request's arena, so never two at
 * once), each answer kept in op->fetch_groups. True: the next one is asked. */
static bool fetch_next_group(struct gop *op)
{
    struct koffsetfetch_req *fr = &op->in.fetch;
    struct koffsetfetch_resp *out = &op->out.fetch;
    if (!op->fetch_groups) return false; /* v0-7: one group */
    op->fetch_groups[op->fetch_index] =
        (struct koffsetfetch_resp_group){ fr->group_id, out->topics, out->n_topics, out->error_code };
    if (++op->fetch_index < fr->n_groups) {
        const struct koffsetfetch_req_group *g = &fr->groups[op->fetch_index];
        fr->group_id = g->group_id, fr->topics = g->topics, fr->n_topics = g->n_topics;
        op->pt.partition = group_partition(fr->group_id);
        ptask_send(&op->pt);
        return true;
    }
    *out = (struct koffsetfetch_resp){ .groups = op->fetch_groups, .n_groups = fr->n_groups };
    return false;
}

/* OffsetFetch v0-1 have no top-level error: Kafka puts it on every partition
 * asked (OffsetFetchRequest.getErrorResponse). v0 is Kafka's ZooKeeper path
 * (KafkaApis.handleOffsetFetchRequestFromZookeeper in 3.7): a partition that
 * does not exist, or has no committed offset, answers -1 with
 * UNKNOWN_TOPIC_OR_PARTITION, and no metadata. v1+ answer -1 with no error
 * for either (GroupMetadataManager.getOffsets). */
static void fetch_old_versions(struct request *req, struct gop *op)
{
    struct koffsetfetch_resp *out = &op->out.fetch;
    const struct koffsetfetch_req *fr = &op->in.fetch;
    int16_t all = out->error_code;
    if (op->version >= 2 || (!all && op->version == 1)) return;
    if (all) { /* the topics as asked, each partition with the error */
        struct koffsetfetch_resp_topic *ts = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(fr->n_topics, 1) * sizeof *ts);
        for (int32_t t = 0; ts && t < fr->n_topics; t++) {
            int32_t n = fr->topics[t].n_partition_indexes;
            struct koffsetfetch_resp_part *ps = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ps);
            for (int32_t p = 0; ps && p < n; p++)
                ps[p] = (struct koffsetfetch_resp_part){ fr->topics[t].partition_indexes[p], -1, -1, kstr_c(""), all };
            ts[t] = (struct koffsetfetch_resp_topic){ fr->topics[t].name, ps, ps ? n : 0 };
        }
        *out = (struct koffsetfetch_resp){ .topics = ts, .n_topics = ts ? fr->n_topics : 0, .error_code = all };
        return;
    }
    struct weir_meta *meta = req->c->r->b->meta;
    for (int32_t t = 0; t < out->n_topics; t++) {
        const struct koffsetfetch_resp_topic *tp = &out->topics[t];
        char *name = arena_strdup(&req->arena, tp->name);
        int32_t n = name ? weir_meta_topic_partitions(meta, name) : -1;
        for (int32_t p = 0; p < tp->n_partitions; p++) {
            struct koffsetfetch_resp_part *pp = (struct koffsetfetch_resp_part *)&tp->partitions[p];
            pp->metadata = kstr_c("");
            if (pp->partition_index < 0 || pp->partition_index >= n || pp->committed_offset < 0)
                pp->committed_offset = -1, pp->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
}

/* /metrics: the error codes of a group answer (top level; OffsetCommit per
 * partition; OffsetFetch v8's per group are not counted). */
static void gop_count_errors(struct request *req, const struct gop *op)
{
    switch (op->kind) {
    case GOP_JOIN: metrics_request_error(req, op->out.join.error_code); break;
    case GOP_SYNC: metrics_request_error(req, op->out.sync.error_code); break;
    case GOP_HB: metrics_request_error(req, op->out.hb.error_code); break;
    case GOP_LEAVE: metrics_request_error(req, op->out.leave.error_code); break;
    case GOP_FETCH: metrics_request_error(req, op->out.fetch.error_code); break;
    case GOP_COMMIT:
        for (int32_t t = 0; t < op->out.commit.n_topics; t++)
            for (int32_t p = 0; p < op->out.commit.topics[t].n_partitions; p++)
                metrics_request_error(req, op->out.commit.topics[t].partitions[p].error_code);
        break;
    }
}

static void gop_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct gop *op = weir_container_of(pt, struct gop, pt);
    struct request *req = pt->req;
    if (op->kind == GOP_FETCH && fetch_next_group(op)) return;
    if (op->kind == GOP_FETCH) fetch_old_versions(req, op);
    response_begin(req);
    switch (op->kind) {
    case GOP_JOIN: kproto_joingroup_encode(&req->out, op->version, &op->out.join); break;
    case GOP_SYNC: kproto_syncgroup_encode(&req->out, op->version, &op->out.sync); break;
    case GOP_HB: kproto_heartbeat_encode(&req->out, op->version, &op->out.hb); break;
    case GOP_LEAVE: kproto_leavegroup_encode(&req->out, op->version, &op->out.leave); break;
    case GOP_COMMIT: kproto_offsetcommit_encode(&req->out, op->version, &op->out.commit); break;
    case GOP_FETCH: kproto_offsetfetch_encode(&req->out, op->version, &op->out.fetch); break;
    }
    response_end(req);
    gop_count_errors(req, op);
    request_respond(req);
}

/* Kafka 3.7's KafkaApis.handleOffsetCommitRequest: a partition of a topic the
 * cluster does not have, or past its partitions, gets UNKNOWN_TOPIC_OR_PARTITION
 * and goes no further; the coordinator sees the others. False: none is left. */
static bool commit_known_partitions(struct request *req, struct gop *op)
{
    const struct koffsetcommit_req *cr = &op->in.commit;
    struct weir_meta *meta = req->c->r->b->meta;
    bool any = false;
    for (int32_t t = 0; t < cr->n_topics; t++) {
        char *name = arena_strdup(&req->arena, cr->topics[t].name);
        int32_t n = name ? weir_meta_topic_partitions(meta, name) : -1;
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            if (rp->partition_index < 0 || rp->partition_index >= n) rp->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            else any = true;
        }
    }
    return any;
}

void handle_group(struct request *req)
{
    if (req->hdr.api_key == KAPI_DESCRIBE_GROUPS || req->hdr.api_key == KAPI_LIST_GROUPS ||
        req->hdr.api_key == KAPI_DELETE_GROUPS) {
        group_admin_handle(req);
        return;
    }
    if (req->hdr.api_key == KAPI_OFFSET_DELETE) {
        group_offsetdelete_handle(req);
        return;
    }
    struct gop *op = weir_arena_alloc(&req->arena, sizeof *op);
    if (!op) {
        request_malformed(req, WEIR_E_NOMEM);
        return;
    }
    memset(op, 0, sizeof *op);
    op->pt.req = req; /* answered here when nothing goes to the owner */
    op->version = req->hdr.api_version;
    op->client_id = req->hdr.client_id;
    op->client_host = kstr_c(arena_strdup(&req->arena, kstr_c(req->c->peer)));
    if (!op->client_host.ptr) op->client_host = kstr_c("");
    struct weir_rd *rd = &req->body;
    struct weir_arena *a = &req->arena;
    enum weir_err err = WEIR_OK;
    struct kstr group = KSTR_NULL;
    switch (req->hdr.api_key) {
    case KAPI_JOIN_GROUP:
        op->kind = GOP_JOIN, err = kproto_joingroup_decode(rd, op->version, a, &op->in.join);
        group = op->in.join.group_id;
        break;
    case KAPI_SYNC_GROUP:
        op->kind = GOP_SYNC, err = kproto_syncgroup_decode(rd, op->version, a, &op->in.sync);
        group = op->in.sync.group_id;
        break;
    case KAPI_HEARTBEAT:
        op->kind = GOP_HB, err = kproto_heartbeat_decode(rd, op->version, a, &op->in.hb);
        group = op->in.hb.group_id;
        break;
    case KAPI_LEAVE_GROUP:
        op->kind = GOP_LEAVE, err = kproto_leavegroup_decode(rd, op->version, a, &op->in.leave);
        group = op->in.leave.group_id;
        break;
    case KAPI_OFFSET_COMMIT: {
        op->kind = GOP_COMMIT, err = kproto_offsetcommit_decode(rd, op->version, a, &op->in.commit);
        group = op->in.commit.group_id;
        const struct koffsetcommit_req *cr = &op->in.commit;
        struct koffsetcommit_resp_topic *ts = NULL;
        if (err == WEIR_OK) ts = weir_arena_alloc(a, (size_t)WEIR_MAX(cr->n_topics, 1) * sizeof *ts);
        if (err == WEIR_OK && !ts) err = WEIR_E_NOMEM;
        for (int32_t t = 0; err == WEIR_OK && t < cr->n_topics; t++) {
            struct koffsetcommit_resp_part *ps =
                weir_arena_alloc(a, (size_t)WEIR_MAX(cr->topics[t].n_partitions, 1) * sizeof *ps);
            if (!ps) err = WEIR_E_NOMEM;
            for (int32_t p = 0; ps && p < cr->topics[t].n_partitions; p++)
                ps[p] = (struct koffsetcommit_resp_part){ cr->topics[t].partitions[p].partition_index, 0 };
            ts[t] = (struct koffsetcommit_resp_topic){ cr->topics[t].name, ps, cr->topics[t].n_partitions };
        }
        op->out.commit = (struct koffsetcommit_resp){ .topics = ts, .n_topics = cr->n_topics };
        if (err == WEIR_OK && !commit_known_partitions(req, op)) {
            gop_origin(req->c->r, &op->pt); /* nothing for the coordinator (Kafka answers so) */
            return;
        }
        break;
    }
    case KAPI_OFFSET_FETCH:
        op->kind = GOP_FETCH, err = kproto_offsetfetch_decode(rd, op->version, a, &op->in.fetch);
        group = op->in.fetch.group_id;
        if (err == WEIR_OK && op->version >= 8) {
            op->fetch_groups = weir_arena_alloc(a, (size_t)WEIR_MAX(op->in.fetch.n_groups, 1) * sizeof *op->fetch_groups);
            if (!op->fetch_groups) err = WEIR_E_NOMEM;
        }
        if (err == WEIR_OK && op->version >= 8 && op->in.fetch.n_groups == 0) {
            op->out.fetch = (struct koffsetfetch_resp){ .groups = op->fetch_groups, .n_groups = 0 };
            op->fetch_groups = NULL;
            gop_origin(req->c->r, &op->pt);
            return;
        }
        break;
    default: err = WEIR_E_UNSUPPORTED; break;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = op;
    op->pt = (struct ptask){ .req = req, .topic = GROUP_OFFSETS_TOPIC, .partition = group_partition(group),
                             .on_owner = gop_owner, .on_origin = gop_origin };
    ptask_send(&op->pt);
}

unsigned groups_topic_configs(const struct broker *b, char seg_text[24], const char *keys[GROUPS_TOPIC_CONFIGS],
                              const char *values[GROUPS_TOPIC_CONFIGS])
{
    /* Kafka's offsets.topic.segment.bytes (100 MiB): segments are preallocated. */
    int64_t seg = b->cfg.offsets_segment_bytes;
    if (seg == 0) seg = WEIR_MIN((int64_t)104857600, (int64_t)b->cfg.log.segment_bytes);
    snprintf(seg_text, 24, "%" PRId64, seg);
    static const char *const k[] = { "flush.messages", "retention.ms", "segment.bytes", "cleanup.policy" };
    const char *const v[] = { "1", "-1", seg_text, "compact" };
    _Static_assert(WEIR_ARRAY_LEN(k) == GROUPS_TOPIC_CONFIGS, "one value per key");
    for (unsigned i = 0; i < GROUPS_TOPIC_CONFIGS; i++) keys[i] = k[i], values[i] = v[i];
    return GROUPS_TOPIC_CONFIGS;
}

/* Creates the offsets topic at start when it is missing. */
enum weir_err groups_topic_ensure(struct broker *b)
{
    if (weir_store_topic_partitions(b->store, GROUP_OFFSETS_TOPIC) >= 0) return WEIR_OK;
    char seg_text[24];
    const char *keys[GROUPS_TOPIC_CONFIGS], *values[GROUPS_TOPIC_CONFIGS];
    unsigned n = groups_topic_configs(b, seg_text, keys, values);
    const char *configs[GROUPS_TOPIC_CONFIGS][2];
    for (unsigned i = 0; i < n; i++) configs[i][0] = keys[i], configs[i][1] = values[i];
    char why[256];
    enum weir_err err = weir_store_topic_create(b->store, GROUP_OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS,
                                                (const char *const(*)[2])configs, n, why, sizeof why);
    if (err == WEIR_E_EXISTS) return WEIR_OK;
    if (err != WEIR_OK) weir_log(WEIR_LOG_ERROR, "cannot create %s: %s", GROUP_OFFSETS_TOPIC, why);
    return err;
}
