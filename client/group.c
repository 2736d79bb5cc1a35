/* client/group.c: the consumer's group membership (classic protocol, eager
 * rebalancing) and offset commits, run by one group thread per consumer that
 * has a group.id.
 *
 * The group thread owns the coordinator connection and does, in turn:
 * FindCoordinator; JoinGroup (the MEMBER_ID_REQUIRED second try included);
 * as leader, the assignment (assignor.c) over every member's subscription;
 * SyncGroup; OffsetFetch of the assigned partitions; the assignment itself
 * (cw_assign: the fetch thread takes it from there). While a member it sends
 * heartbeats, auto commits, serves commit and committed requests queued by
 * the application, and looks at the subscription's metadata every
 * metadata.max.age.ms. A rebalance (heartbeat REBALANCE_IN_PROGRESS, a
 * fenced generation, a changed subscription) first revokes everything: the
 * rebalance callback in the polling thread, an auto commit, an empty
 * assignment; then joins again.
 *
 * Invariants:
 *  (1) g->state and g->generation change only on the group thread, under
 *      c->lock; g->generation >= 0 exactly while the state is CG_STABLE.
 *  (2) a partition is assigned by the group only between a successful
 *      SyncGroup of g->generation and the revoke that precedes the next
 *      JoinGroup, so no two members of one generation fetch it.
 *  (3) the rebalance callback runs in the polling thread while the group
 *      thread waits for it (serving commits meanwhile): a commit made in a
 *      REVOKE callback goes out with the generation that owns the partitions.
 *  (4) a static member (group.instance.id, KIP-345) sends its instance id in
 *      JoinGroup, SyncGroup, Heartbeat and OffsetCommit and never sends
 *      LeaveGroup (Java's maybeLeaveGroup); FENCED_INSTANCE_ID from any of
 *      them sets g->fenced, after which the thread only drops the
 *      assignment and serves refusals: no heartbeat, no JoinGroup. */
#include "wire_int.h"

#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

enum {
    KERR_COORD_LOADING = 14, KERR_COORD_NOT_AVAILABLE = 15, KERR_NOT_COORD = 16, KERR_ILLEGAL_GEN = 22,
    KERR_INCONSISTENT_PROTO = 23, KERR_INVALID_GROUP = 24, KERR_UNKNOWN_MEMBER = 25, KERR_INVALID_SESSION = 26,
    KERR_REBALANCING = 27, KERR_MEMBER_ID_REQUIRED = 79, KERR_FENCED_INSTANCE = 82,
    JOIN_INSTANCE_MIN_VERSION = 5, /* JoinGroup's first with group_instance_id */
    IDLE_WAIT_MS = 1000,
    COMMITS_PIPELINED = 64, /* commits in flight on the coordinator connection */
};

static const char PROTOCOL_TYPE[] = "consumer";

/* ---- small helpers ------------------------------------------------------------------ */

static void wait_ms(struct weir_consumer *c, int64_t until_ms) { cw_cond_wait_until(&c->g.cond, &c->lock, until_ms); }

static char *kstr_dup(struct kstr s)
{
    char *p = weir_malloc((size_t)WEIR_MAX(s.len, 0) + 1);
    if (!p) return NULL;
    if (s.len > 0) memcpy(p, s.ptr, (size_t)s.len);
    p[WEIR_MAX(s.len, 0)] = '\0';
    return p;
}

void weir_consumer_partitions_free(struct weir_topic_partition *parts, size_t n)
{
    if (!parts) return;
    for (size_t i = 0; i < n; i++) weir_free((char *)parts[i].topic);
    weir_free(parts);
}

/* An owned copy of parts (topic names too). */
static struct weir_topic_partition *parts_dup(const struct weir_topic_partition *parts, size_t n)
{
    struct weir_topic_partition *d = weir_calloc(n ? n : 1, sizeof *d);
    for (size_t i = 0; d && i < n; i++) {
        d[i] = parts[i];
        d[i].err = 0;
        d[i].topic = weir_strdup(parts[i].topic);
        if (!d[i].topic) {
            weir_consumer_partitions_free(d, i);
            return NULL;
        }
    }
    return d;
}

/* A consumer-level error event (partition -1). */
static void group_error(struct weir_consumer *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void group_error(struct weir_consumer *c, int err, const char *fmt, ...)
{
    char text[CW_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: %s", c->conf.group_id, text);
    char line[2 * CW_ERRBUF]; /* cw_queue_error cuts it to CW_ERRBUF */
    snprintf(line, sizeof line, "group %s: %s", c->conf.group_id, text);
    cw_consumer_error(c, err, line);
}

/* The static member's group.instance.id, null for a dynamic member. */
static struct kstr instance_id(const struct weir_consumer *c)
{
    return c->conf.group_instance_id ? kstr_c(c->conf.group_instance_id) : KSTR_NULL;
}

/* True when rc is FENCED_INSTANCE_ID: another consumer joined with this
 * group.instance.id. Final, as in Java (FencedInstanceIdException) and
 * librdkafka (a fatal error): reported once, then g->fenced keeps the thread
 * from heartbeating and rejoining (invariant 4). */
static bool fence_check(struct weir_consumer *c, int rc)
{
    if (rc != KERR_FENCED_INSTANCE) return false;
    pthread_mutex_lock(&c->lock);
    bool first = !c->g.fenced;
    c->g.fenced = true;
    pthread_cond_broadcast(&c->g.cond);
    pthread_mutex_unlock(&c->lock);
    if (first)
        group_error(c, rc,
                    "fenced: another consumer joined with group.instance.id \"%s\" (FENCED_INSTANCE_ID); this one "
                    "has left the group and will not rejoin",
                    c->conf.group_instance_id ? c->conf.group_instance_id : "");
    return true;
}

/* ---- requests to the coordinator ----------------------------------------------------- */

static int g_begin(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t *v, int32_t *corr,
                   struct kframe *f)
{
    *v = cw_version(conn, key);
    if (*v < 0) {
        cw_errf(conn->err, sizeof conn->err, "%s:%d: no version of API %d in common", conn->host, conn->port, key);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    *f = cw_request_begin(conn, &c->g.kb, key, *v, corr);
    return 0;
}

/* Ends the request in g->kb, sends it, reads the answer into *rd (the
 * frame stays referenced in *frame: the caller unrefs it). */
static int g_finish(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t v, int32_t corr,
                    struct kframe *f, int timeout_ms, struct cw_frame **frame, struct weir_rd *rd)
{
    kproto_request_end(&c->g.kb, f);
    if (c->g.kb.err != WEIR_OK) {
        cw_errf(conn->err, sizeof conn->err, "request too large or out of memory");
        return WEIR_CLIENT_E_NOMEM;
    }
    return cw_call(conn, &c->g.kb, key, v, corr, timeout_ms, frame, rd);
}

static int g_malformed(struct cw_conn *conn, const char *api)
{
    cw_close(conn);
    cw_errf(conn->err, sizeof conn->err, "%s:%d: malformed %s response", conn->host, conn->port, api);
    return WEIR_CLIENT_E_BAD_MSG;
}

/* Errors after which the coordinator is looked up again. */
static bool coord_lost(int err)
{
    return err == KERR_COORD_NOT_AVAILABLE || err == KERR_NOT_COORD || err == KERR_COORD_LOADING ||
           err == WEIR_CLIENT_E_TRANSPORT || err == WEIR_CLIENT_E_TIMED_OUT || err == WEIR_CLIENT_E_BAD_MSG;
}

static int boot_up(struct weir_consumer *c)
{
    if (cw_is_up(&c->g.boot)) return 0;
    return cw_connect_bootstrap(&c->g.boot, c->conf.bootstrap_servers, c->conf.request_timeout_ms);
}

/* Connects to the group's coordinator (FindCoordinator on a bootstrap connection). */
static int coord_up(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (cw_is_up(&g->coord)) return 0;
    int rc = boot_up(c);
    if (rc != 0) return rc;
    char host[CW_HOST_MAX];
    int port;
    weir_arena_reset(&g->arena);
    rc = cw_find_coordinator(&g->boot, &g->arena, c->conf.group_id, c->conf.request_timeout_ms, host, sizeof host, &port,
                             &g->coord.node_id);
    if (rc == 0) {
        rc = cw_connect(&g->coord, host, port, c->conf.request_timeout_ms);
        if (rc != 0) snprintf(g->boot.err, sizeof g->boot.err, "%s", g->coord.err);
    }
    return rc;
}

/* ---- commits and committed offsets ----------------------------------------------------- */

/* Lock held: notes a successful commit on the assigned partition. */
static void note_committed(struct weir_consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    for (struct cpart *p = c->parts; p; p = p->next)
        if (p->id == partition && !strcmp(p->topic, topic)) p->committed = offset;
}

/* Orders parts[0, n) by topic for a request: *order lists their indexes so
 * that each topic's are adjacent (topics in first-seen order), *run the
 * length of each topic's run. Arena memory. Returns the number of topics, -1
 * when out of memory. */
static int32_t topic_runs(struct weir_arena *a, const struct weir_topic_partition *parts, size_t n, size_t **order,
                          int32_t **run)
{
    *order = weir_arena_alloc(a, (n ? n : 1) * sizeof **order);
    *run = weir_arena_alloc(a, (n ? n : 1) * sizeof **run);
    bool *taken = weir_arena_alloc(a, (n ? n : 1) * sizeof *taken);
    if (!*order || !*run || !taken) return -1;
    memset(taken, 0, (n ? n : 1) * sizeof *taken);
    int32_t n_topics = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (taken[i]) continue;
        (*run)[n_topics] = 0;
        for (size_t j = i; j < n; j++) {
            if (taken[j] || strcmp(parts[j].topic, parts[i].topic)) continue;
            taken[j] = true;
            (*order)[used++] = j;
            (*run)[n_topics]++;
        }
        n_topics++;
    }
    return n_topics;
}

/* An OffsetCommit sent and not yet answered. */
struct commit_sent {
    int16_t v;
    int32_t corr;
};

/* Sends one OffsetCommit of parts[0, n) in generation `gen` (or as a simple
 * group when -1) without waiting; the request's memory is the arena's, which
 * the caller reset. 0, or an error for every part. */
static int commit_out(struct weir_consumer *c, int32_t gen, struct weir_topic_partition *parts, size_t n,
                      struct commit_sent *s)
{
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    int32_t now_gen = g->state == CG_STABLE ? g->generation : -1;
    pthread_mutex_unlock(&c->lock);
    int rc = 0;
    if (gen != now_gen) rc = KERR_ILLEGAL_GEN; /* asked in another generation: the partitions may be another member's now */
    if (rc == 0) rc = coord_up(c);
    size_t *order;
    int32_t *run;
    int32_t n_topics = rc == 0 ? topic_runs(&g->arena, parts, n, &order, &run) : 0;
    struct koffsetcommit_req_topic *topics = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *topics);
    struct koffsetcommit_req_part *rp = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *rp);
    if (rc == 0 && (n_topics < 0 || !topics || !rp)) rc = WEIR_CLIENT_E_NOMEM;
    for (int32_t t = 0, k = 0; rc == 0 && t < n_topics; k += run[t], t++) {
        topics[t] = (struct koffsetcommit_req_topic){ kstr_c(parts[order[k]].topic), &rp[k], run[t] };
        for (int32_t j = k; j < k + run[t]; j++)
            rp[j] = (struct koffsetcommit_req_part){ parts[order[j]].partition, parts[order[j]].offset, -1, kstr_c("") };
    }
    struct koffsetcommit_req req = {
        .group_id = kstr_c(c->conf.group_id), .generation_id = gen,
        .member_id = kstr_c(gen >= 0 ? g->member_id : ""), .group_instance_id = gen >= 0 ? instance_id(c) : KSTR_NULL,
        .topics = topics, .n_topics = n_topics,
    };
    struct kframe f;
    if (rc == 0) rc = g_begin(c, &g->coord, KAPI_OFFSET_COMMIT, &s->v, &s->corr, &f);
    if (rc == 0) {
        kproto_offsetcommit_request_encode(&g->kb, s->v, &req);
        kproto_request_end(&g->kb, &f);
        rc = g->kb.err != WEIR_OK ? WEIR_CLIENT_E_NOMEM
                                  : cw_send(&g->coord, &g->kb, cw_now_ms() + c->conf.request_timeout_ms);
    }
    if (rc != 0)
        for (size_t i = 0; i < n; i++) parts[i].err = rc;
    return rc;
}

/* Reads the answer to a commit_out; parts[i].err per partition. Returns 0 or
 * the first error. */
static int commit_in(struct weir_consumer *c, const struct commit_sent *s, struct weir_topic_partition *parts, size_t n)
{
    struct cgroup *g = &c->g;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    struct koffsetcommit_resp resp;
    int rc = cw_recv_response(&g->coord, KAPI_OFFSET_COMMIT, s->v, s->corr, cw_now_ms() + c->conf.request_timeout_ms,
                              &frame, &rd);
    if (rc == 0 && kproto_offsetcommit_response_decode(&rd, s->v, &g->arena, &resp) != WEIR_OK)
        rc = g_malformed(&g->coord, "OffsetCommit");
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) parts[i].err = WEIR_CLIENT_E_BAD_MSG; /* unless answered */
        pthread_mutex_lock(&c->lock);
        for (int32_t t = 0; t < resp.n_topics; t++)
            for (int32_t k = 0; k < resp.topics[t].n_partitions; k++) {
                const struct koffsetcommit_resp_part *a = &resp.topics[t].partitions[k];
                for (size_t i = 0; i < n; i++)
                    if (parts[i].partition == a->partition_index && kstr_eq(resp.topics[t].name, parts[i].topic)) {
                        parts[i].err = a->error_code;
                        if (a->error_code == 0) note_committed(c, parts[i].topic, parts[i].partition, parts[i].offset);
                    }
            }
        pthread_mutex_unlock(&c->lock);
        for (size_t i = 0; i < n && rc == 0; i++) rc = parts[i].err;
    } else {
        for (size_t i = 0; i < n; i++) parts[i].err = rc;
    }
    cw_frame_unref(frame);
    return rc;
}

/* What the broker's answer to a commit says about the membership and the
 * connection (a commit refused here, asked in another generation, says
 * nothing). */
static void commit_outcome(struct weir_consumer *c, int rc)
{
    struct cgroup *g = &c->g;
    if (coord_lost(rc)) cw_close(&g->coord);
    if (fence_check(c, rc)) return;
    if (rc == KERR_ILLEGAL_GEN || rc == KERR_UNKNOWN_MEMBER || rc == KERR_REBALANCING) g->need_rejoin = true;
    if (rc == KERR_UNKNOWN_MEMBER) g->member_id[0] = '\0';
}

/* One OffsetCommit of parts[0, n), answered. */
static int commit_send(struct weir_consumer *c, int32_t gen, struct weir_topic_partition *parts, size_t n)
{
    struct commit_sent s;
    weir_arena_reset(&c->g.arena);
    int rc = commit_out(c, gen, parts, n, &s);
    if (rc == 0) {
        rc = commit_in(c, &s, parts, n);
        commit_outcome(c, rc);
    } else if (coord_lost(rc)) {
        cw_close(&c->g.coord);
    }
    return rc;
}

/* OffsetFetch of parts[0, n): fills offset (-1 none) and err. */
static int committed_fetch(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n)
{
    struct cgroup *g = &c->g;
    int rc = coord_up(c);
    if (rc != 0) return rc;
    weir_arena_reset(&g->arena);
    size_t *order;
    int32_t *run;
    int32_t n_topics = topic_runs(&g->arena, parts, n, &order, &run);
    struct koffsetfetch_req_topic *topics = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *topics);
    int32_t *ids = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *ids);
    if (n_topics < 0 || !topics || !ids) return WEIR_CLIENT_E_NOMEM;
    for (int32_t t = 0, k = 0; t < n_topics; k += run[t], t++) {
        topics[t] = (struct koffsetfetch_req_topic){ kstr_c(parts[order[k]].topic), &ids[k], run[t] };
        for (int32_t j = k; j < k + run[t]; j++) ids[j] = parts[order[j]].partition;
    }
    struct koffsetfetch_req req = { kstr_c(c->conf.group_id), topics, n_topics };
    int16_t v;
    int32_t corr;
    struct kframe f;
    if ((rc = g_begin(c, &g->coord, KAPI_OFFSET_FETCH, &v, &corr, &f)) != 0) return rc;
    kproto_offsetfetch_request_encode(&g->kb, v, &req);
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    struct koffsetfetch_resp resp;
    rc = g_finish(c, &g->coord, KAPI_OFFSET_FETCH, v, corr, &f, c->conf.request_timeout_ms, &frame, &rd);
    if (rc == 0 && kproto_offsetfetch_response_decode(&rd, v, &g->arena, &resp) != WEIR_OK)
        rc = g_malformed(&g->coord, "OffsetFetch");
    if (rc == 0 && resp.error_code != 0) rc = resp.error_code;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) parts[i].offset = -1, parts[i].err = WEIR_CLIENT_E_BAD_MSG;
        for (int32_t t = 0; t < resp.n_topics; t++)
            for (int32_t k = 0; k < resp.topics[t].n_partitions; k++) {
                const struct koffsetfetch_resp_part *a = &resp.topics[t].partitions[k];
                for (size_t i = 0; i < n; i++)
                    if (parts[i].partition == a->partition_index && kstr_eq(resp.topics[t].name, parts[i].topic)) {
                        parts[i].err = a->error_code;
                        parts[i].offset = a->error_code ? -1 : a->committed_offset;
                    }
            }
        for (size_t i = 0; i < n && rc == 0; i++) rc = parts[i].err;
    }
    cw_frame_unref(frame);
    if (coord_lost(rc)) cw_close(&g->coord);
    return rc;
}

/* Lock held: pops the next queued request. */
static struct cgcommit *req_pop(struct cgroup *g)
{
    struct cgcommit *r = g->commits;
    if (r) {
        g->commits = r->next;
        if (!g->commits) g->commits_tail = NULL;
    }
    return r;
}

/* Hands a served request back: the waiter wakes, or (async) the commit
 * callback runs and the request is freed. */
static void request_done(struct weir_consumer *c, struct cgcommit *r, int err)
{
    if (r->async) {
        if (c->conf.commit_cb) c->conf.commit_cb(c, err, r->parts, r->n, c->conf.opaque);
        if (err != 0)
            weir_log(WEIR_LOG_DEBUG, "consumer group %s: asynchronous commit: %s", c->conf.group_id, weir_client_err_str(err));
        weir_consumer_partitions_free(r->parts, r->n);
        weir_free(r);
        return;
    }
    pthread_mutex_lock(&c->lock);
    r->err = err;
    r->done = true;
    pthread_cond_broadcast(&c->g.cond);
    pthread_mutex_unlock(&c->lock);
}

/* Serves queued commits and committed-offset requests (lock not held), in
 * order. Consecutive commits go out pipelined, up to COMMITS_PIPELINED
 * before the first answer is read: one connection answers in order, and the
 * broker's appends of commits in flight together share an fdatasync. */
static void serve_requests(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    struct cgcommit *batch[COMMITS_PIPELINED];
    struct commit_sent sent[COMMITS_PIPELINED];
    int err[COMMITS_PIPELINED];
    for (;;) {
        size_t k = 0;
        pthread_mutex_lock(&c->lock);
        while (k < COMMITS_PIPELINED && g->commits && (k == 0 || !g->commits->offset_fetch)) {
            batch[k++] = req_pop(g);
            if (batch[k - 1]->offset_fetch) break;
        }
        pthread_mutex_unlock(&c->lock);
        if (k == 0) return;
        if (batch[0]->offset_fetch) {
            request_done(c, batch[0], batch[0]->n ? committed_fetch(c, batch[0]->parts, batch[0]->n) : 0);
            continue;
        }
        weir_arena_reset(&g->arena);
        bool out[COMMITS_PIPELINED];
        int lost = 0; /* the connection failed: what follows is not sent */
        for (size_t i = 0; i < k; i++) {
            out[i] = false;
            if (!batch[i]->n) err[i] = 0;
            else if (lost) err[i] = lost;
            else if ((err[i] = commit_out(c, batch[i]->generation, batch[i]->parts, batch[i]->n, &sent[i])) == 0) out[i] = true;
            else if (coord_lost(err[i])) lost = err[i];
        }
        for (size_t i = 0; i < k; i++) {
            if (out[i]) {
                err[i] = commit_in(c, &sent[i], batch[i]->parts, batch[i]->n);
                commit_outcome(c, err[i]);
            }
            request_done(c, batch[i], err[i]);
        }
        if (lost) cw_close(&g->coord);
    }
}

static int32_t current_generation(struct weir_consumer *c)
{
    pthread_mutex_lock(&c->lock);
    int32_t gen = c->g.state == CG_STABLE ? c->g.generation : -1;
    pthread_mutex_unlock(&c->lock);
    return gen;
}

/* Commits the positions of the assigned partitions that moved (auto commit). */
static void auto_commit(struct weir_consumer *c)
{
    size_t n;
    struct weir_topic_partition *parts;
    pthread_mutex_lock(&c->lock);
    cw_positions(c, CW_POS_MOVED, &parts, &n);
    pthread_mutex_unlock(&c->lock);
    if (!parts) return;
    int err = commit_send(c, current_generation(c), parts, n);
    if (err != 0) weir_log(WEIR_LOG_DEBUG, "consumer group %s: auto commit: %s", c->conf.group_id, weir_client_err_str(err));
    weir_consumer_partitions_free(parts, n);
}

static void heartbeat(struct weir_consumer *c);

/* ---- the rebalance callback handoff ------------------------------------------------------- */

/* Hands (kind, parts) to the polling thread and waits until the callback
 * ran, serving commits meanwhile, however long the next poll takes: a
 * skipped callback would leave the application with an ASSIGN and no REVOKE
 * (it then tracks partitions it lost), so none is skipped; a member that
 * does not poll is removed by the broker meanwhile and rejoins after. At
 * close the closing thread serves it (cw_group_stop). */
static void run_callback(struct weir_consumer *c, enum weir_rebalance kind, struct weir_topic_partition *parts, size_t n)
{
    struct cgroup *g = &c->g;
    if (!c->conf.rebalance_cb) return;
    struct cgcallback cb = { kind, parts, n, false, false };
    pthread_mutex_lock(&c->lock);
    g->cb = &cb;
    pthread_cond_broadcast(&c->cond_data);
    while (!cb.done) {
        if (g->commits) {
            pthread_mutex_unlock(&c->lock);
            serve_requests(c);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        /* A slow callback must not cost the membership (the Java consumer heartbeats meanwhile too). */
        bool beat = g->state == CG_STABLE && !g->poll_expired && !g->stop && !g->fenced;
        if (beat && cw_now_ms() >= g->hb_next) {
            pthread_mutex_unlock(&c->lock);
            heartbeat(c);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        wait_ms(c, beat ? WEIR_MIN(g->hb_next, cw_now_ms() + IDLE_WAIT_MS) : cw_now_ms() + IDLE_WAIT_MS);
    }
    g->cb = NULL;
    pthread_mutex_unlock(&c->lock);
}

/* Lock held: runs the pending callback, if any, in this thread (the lock is
 * released around it). True when one ran. */
static bool callback_take(struct weir_consumer *c)
{
    struct cgcallback *cb = c->g.cb;
    if (!cb || cb->taken) return false;
    cb->taken = true;
    pthread_mutex_unlock(&c->lock);
    c->conf.rebalance_cb(c, cb->kind, cb->parts, cb->n, c->conf.opaque);
    pthread_mutex_lock(&c->lock);
    cb->done = true;
    pthread_cond_broadcast(&c->g.cond);
    return true;
}

void cw_group_poll(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (!c->conf.group_id) return;
    pthread_mutex_lock(&c->lock);
    g->last_poll_ms = cw_now_ms();
    if (g->poll_expired) {
        g->poll_expired = false;
        pthread_cond_broadcast(&g->cond);
    }
    callback_take(c);
    pthread_mutex_unlock(&c->lock);
}

/* ---- revoke, leave ------------------------------------------------------------------------- */

/* Lock held: stops fetching and handing out records of every assigned
 * partition, positions kept (what was handed out is still committed): from
 * the moment a revoke starts until the assignment goes, the poller would
 * otherwise hand out records after the REVOKE callback committed. */
static void hold_all(struct weir_consumer *c)
{
    for (struct cpart *p = c->parts; p; p = p->next) {
        p->epoch++; /* queued and in-flight data of the old epoch is dropped */
        p->state = CP_PAUSED;
    }
    c->work_gen++;
    pthread_cond_broadcast(&c->cond_work);
}

/* Gives the whole assignment up: callback, auto commit (unless lost: the
 * member already left), empty assignment. Unless lost, the generation stays
 * valid through it (invariant 3). */
static void revoke_all(struct weir_consumer *c, bool lost)
{
    size_t n;
    struct weir_topic_partition *parts;
    pthread_mutex_lock(&c->lock);
    cw_positions(c, CW_POS_ALL, &parts, &n);
    hold_all(c);
    pthread_mutex_unlock(&c->lock);
    if (parts) {
        run_callback(c, WEIR_REBALANCE_REVOKE, parts, n);
        if (c->conf.auto_commit && !lost) auto_commit(c);
        weir_consumer_partitions_free(parts, n);
    }
    cw_assign(c, NULL, 0);
}

static void set_state(struct weir_consumer *c, enum cg_state st, int32_t gen)
{
    pthread_mutex_lock(&c->lock);
    c->g.state = st;
    c->g.generation = gen;
    pthread_mutex_unlock(&c->lock);
}

static void leave_send(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (c->conf.group_instance_id) { /* static: the broker keeps the membership until the session timeout */
        g->member_id[0] = '\0';
        return;
    }
    if (!g->member_id[0] || coord_up(c) != 0) return; /* a JoinGroup cut by close took the connection */
    struct kleavegroup_member m = { kstr_c(g->member_id), KSTR_NULL, 0 };
    struct kleavegroup_req req = { kstr_c(c->conf.group_id), &m, 1 };
    int16_t v;
    int32_t corr;
    struct kframe f;
    if (g_begin(c, &g->coord, KAPI_LEAVE_GROUP, &v, &corr, &f) != 0) return;
    kproto_leavegroup_request_encode(&g->kb, v, &req);
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = g_finish(c, &g->coord, KAPI_LEAVE_GROUP, v, corr, &f, WEIR_MIN(c->conf.request_timeout_ms, 5000), &frame, &rd);
    if (rc != 0) weir_log(WEIR_LOG_DEBUG, "consumer group %s: LeaveGroup: %s", c->conf.group_id, g->coord.err);
    cw_frame_unref(frame);
    g->member_id[0] = '\0';
}

/* Revokes and leaves the group (unsubscribe, close, poll timeout, fenced).
 * After max.poll.interval.ms without a poll, or when fenced, the partitions
 * are lost rather than revoked: LeaveGroup goes first (not for a static
 * member), so the group moves on now, and the REVOKE callback waits for the
 * next poll (a commit in it is refused). */
static void leave(struct weir_consumer *c)
{
    pthread_mutex_lock(&c->lock);
    bool member = c->g.state == CG_STABLE, lost = (c->g.poll_expired && !c->g.stop) || c->g.fenced;
    pthread_mutex_unlock(&c->lock);
    if (member && lost) { /* CG_STABLE through the revoke: the partitions are still this consumer's to drop */
        leave_send(c);
        revoke_all(c, true);
        set_state(c, CG_IDLE, -1);
        return;
    }
    if (member) revoke_all(c, false);
    set_state(c, CG_IDLE, -1);
    leave_send(c);
}

/* ---- subscription ------------------------------------------------------------------------------ */

static void topics_free(struct cgroup *g)
{
    for (size_t i = 0; i < g->n_topics; i++) weir_free(g->topics[i]);
    weir_free(g->topics);
    weir_free(g->counts);
    g->topics = NULL;
    g->counts = NULL;
    g->n_topics = 0;
}

static bool sub_matches(char *const *sub, size_t n_sub, const regex_t *re, struct kstr name)
{
    char buf[WEIR_KAFKA_NAME_MAX + 1];
    if (name.len <= 0 || name.len > WEIR_KAFKA_NAME_MAX) return false;
    memcpy(buf, name.ptr, (size_t)name.len);
    buf[name.len] = '\0';
    for (size_t i = 0; i < n_sub; i++) {
        if (sub[i][0] != '^') {
            if (!strcmp(sub[i], buf)) return true;
        } else if (strncmp(buf, "__", 2) != 0 && regexec(&re[i], buf, 0, NULL, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* Looks the subscription up: the topics it names that exist (patterns
 * matched against every topic), with partition counts, sorted by name, into
 * names_out and counts_out. 0 or an error (metadata). */
static int sub_resolve(struct weir_consumer *c, char ***names_out, int32_t **counts_out, size_t *n_out)
{
    struct cgroup *g = &c->g;
    *names_out = NULL;
    *counts_out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&c->lock);
    size_t n_sub = g->n_sub;
    char **sub = weir_calloc(n_sub ? n_sub : 1, sizeof *sub);
    bool pattern = false;
    for (size_t i = 0; sub && i < n_sub; i++) {
        sub[i] = weir_strdup(g->sub[i]);
        pattern = pattern || g->sub[i][0] == '^';
    }
    pthread_mutex_unlock(&c->lock);
    regex_t *re = weir_calloc(n_sub ? n_sub : 1, sizeof *re);
    bool *compiled = weir_calloc(n_sub ? n_sub : 1, sizeof *compiled);
    int rc = sub && re && compiled ? 0 : WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n_sub; i++) {
        if (!sub[i]) rc = WEIR_CLIENT_E_NOMEM;
        else if (sub[i][0] == '^') compiled[i] = regcomp(&re[i], sub[i], REG_EXTENDED | REG_NOSUB) == 0;
    }
    const char **want = NULL;
    int n_want = 0;
    if (rc == 0 && !pattern) {
        want = weir_calloc(n_sub ? n_sub : 1, sizeof *want);
        if (!want) rc = WEIR_CLIENT_E_NOMEM;
        for (size_t i = 0; want && i < n_sub; i++) want[n_want++] = sub[i];
    }
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    if (rc == 0) rc = boot_up(c);
    weir_arena_reset(&g->arena);
    if (rc == 0) rc = cw_metadata(&g->boot, &g->arena, want, pattern ? -1 : n_want, c->conf.request_timeout_ms, &md, &frame);
    if (rc == 0) {
        char **names = weir_calloc((size_t)WEIR_MAX(md.n_topics, 1), sizeof *names);
        int32_t *counts = weir_calloc((size_t)WEIR_MAX(md.n_topics, 1), sizeof *counts);
        size_t k = 0;
        if (!names || !counts) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t i = 0; rc == 0 && i < md.n_topics; i++) {
            const struct kmetadata_topic *t = &md.topics[i];
            if (t->error_code != 0 || !sub_matches(sub, n_sub, re, t->name)) continue;
            /* sorted insert, so two resolutions compare element by element */
            char *name = kstr_dup(t->name);
            if (!name) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            size_t at = k;
            while (at > 0 && strcmp(names[at - 1], name) > 0) {
                names[at] = names[at - 1];
                counts[at] = counts[at - 1];
                at--;
            }
            names[at] = name;
            counts[at] = t->n_partitions;
            k++;
        }
        if (rc == 0) {
            *names_out = names;
            *counts_out = counts;
            *n_out = k;
        } else {
            for (size_t i = 0; names && i < k; i++) weir_free(names[i]);
            weir_free(names);
            weir_free(counts);
        }
    }
    cw_frame_unref(frame);
    for (size_t i = 0; i < n_sub; i++) {
        if (compiled && compiled[i]) regfree(&re[i]);
        if (sub) weir_free(sub[i]);
    }
    weir_free(want);
    weir_free(compiled);
    weir_free(re);
    weir_free(sub);
    return rc;
}

/* ---- join, assign, sync --------------------------------------------------------------------- */

struct assignor_pref {
    int order[8];
    int n;
};

static bool pref_add(const char *name, size_t len, void *arg)
{
    struct assignor_pref *p = arg;
    int i = cw_assignor_index(name, len);
    for (int k = 0; k < p->n; k++)
        if (p->order[k] == i) return true;
    if (p->n < (int)WEIR_ARRAY_LEN(p->order)) p->order[p->n++] = i;
    return true;
}

/* Bytes of a kbuf written with kb_* only (one MEM chunk), copied into the arena. */
static struct kbytes kbuf_to_arena(struct weir_arena *a, const struct kbuf *b)
{
    uint8_t *p = b->err == WEIR_OK ? weir_arena_alloc(a, b->mem_len ? b->mem_len : 1) : NULL;
    if (!p) return (struct kbytes){ NULL, -1 };
    memcpy(p, b->mem, b->mem_len);
    return (struct kbytes){ p, (int32_t)b->mem_len };
}

/* The id the assignors order a member by (owned): they sort by strcmp, so
 * the first byte puts static members first, ordered by group.instance.id,
 * then dynamic ones by member id: Java's MemberInfo order (librdkafka's for
 * static members too), so a static member restarted under a new member id
 * keeps its place in the order. NULL when out of memory. */
static char *member_sort_key(const struct kjoingroup_member *jm)
{
    bool is_static = jm->group_instance_id.len >= 0 && jm->group_instance_id.ptr;
    struct kstr k = is_static ? jm->group_instance_id : jm->member_id;
    char *key = weir_malloc((size_t)WEIR_MAX(k.len, 0) + 2);
    if (!key) return NULL;
    key[0] = is_static ? '\x01' : '\x02';
    if (k.len > 0) memcpy(key + 1, k.ptr, (size_t)k.len);
    key[1 + WEIR_MAX(k.len, 0)] = '\0';
    return key;
}

/* The leader's part: decode every member's subscription, look their topics
 * up, run the assignor, encode one assignment per member. */
static int leader_assign(struct weir_consumer *c, const struct kjoingroup_resp *jr, struct ksyncgroup_assignment **out,
                         int32_t *n_out)
{
    struct cgroup *g = &c->g;
    size_t nm = (size_t)jr->n_members;
    struct cw_amember *m = weir_calloc(nm ? nm : 1, sizeof *m);
    const char ***subs = weir_calloc(nm ? nm : 1, sizeof *subs);
    int rc = m && subs ? 0 : WEIR_CLIENT_E_NOMEM;
    /* names of every member's topics, deduplicated */
    size_t cap_topics = 0, n_topics = 0;
    const char **topics = NULL;
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        struct weir_rd rd = weir_rd_make(jr->members[i].metadata.ptr, (size_t)WEIR_MAX(jr->members[i].metadata.len, 0));
        struct kconsumer_subscription s;
        char *id = member_sort_key(&jr->members[i]);
        m[i].id = id;
        if (!id) rc = WEIR_CLIENT_E_NOMEM;
        else if (kproto_consumer_subscription_decode(&rd, &g->arena, &s) != WEIR_OK) s.n_topics = 0; /* subscribes to nothing */
        subs[i] = rc == 0 ? weir_calloc((size_t)WEIR_MAX(s.n_topics, 1), sizeof *subs[i]) : NULL;
        if (rc == 0 && !subs[i]) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t k = 0; rc == 0 && k < s.n_topics; k++) {
            char *name = kstr_dup(s.topics[k]);
            if (!name) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            subs[i][m[i].n_topics++] = name;
            bool seen = false;
            for (size_t t = 0; t < n_topics && !seen; t++) seen = !strcmp(topics[t], name);
            if (seen) continue;
            if (n_topics == cap_topics) {
                cap_topics = cap_topics ? 2 * cap_topics : 16;
                const char **nt = weir_realloc(topics, cap_topics * sizeof *nt);
                if (!nt) {
                    rc = WEIR_CLIENT_E_NOMEM;
                    break;
                }
                topics = nt;
            }
            topics[n_topics++] = name;
        }
        m[i].topics = subs[i];
    }
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    struct cw_atopic *at = NULL;
    size_t n_at = 0;
    if (rc == 0 && n_topics > 0) {
        rc = boot_up(c);
        if (rc == 0) rc = cw_metadata(&g->boot, &g->arena, topics, (int)n_topics, c->conf.request_timeout_ms, &md, &frame);
        at = rc == 0 ? weir_calloc(n_topics, sizeof *at) : NULL;
        if (rc == 0 && !at) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t i = 0; rc == 0 && i < md.n_topics; i++) {
            if (md.topics[i].error_code != 0) continue;
            for (size_t t = 0; t < n_topics; t++)
                if (kstr_eq(md.topics[i].name, topics[t])) at[n_at++] = (struct cw_atopic){ topics[t], md.topics[i].n_partitions };
        }
    }
    int strategy = -1;
    if (rc == 0) {
        for (int i = 0; i < 2 && strategy < 0; i++)
            if (kstr_eq(jr->protocol_name, cw_assignor_name(i))) strategy = i;
        if (strategy < 0) rc = KERR_INCONSISTENT_PROTO;
    }
    if (rc == 0) rc = cw_assignor_run(strategy, m, nm, at, n_at);
    struct ksyncgroup_assignment *as = rc == 0 ? weir_arena_alloc(&g->arena, (nm ? nm : 1) * sizeof *as) : NULL;
    if (rc == 0 && !as) rc = WEIR_CLIENT_E_NOMEM;
    struct kbuf tmp;
    kbuf_init(&tmp, 0);
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        /* group this member's partitions by topic, in topic order */
        struct kconsumer_topic_parts *tp = weir_arena_alloc(&g->arena, (n_at ? n_at : 1) * sizeof *tp);
        int32_t *ids = weir_arena_alloc(&g->arena, (size_t)(m[i].n_out ? m[i].n_out : 1) * sizeof *ids);
        if (!tp || !ids) {
            rc = WEIR_CLIENT_E_NOMEM;
            break;
        }
        int32_t n_tp = 0, used = 0;
        for (size_t t = 0; t < n_at; t++) {
            int32_t start = used;
            for (int32_t k = 0; k < m[i].n_out; k++)
                if (m[i].out[k].topic == (int32_t)t) ids[used++] = m[i].out[k].partition;
            if (used > start) tp[n_tp++] = (struct kconsumer_topic_parts){ kstr_c(at[t].name), &ids[start], used - start };
        }
        struct kconsumer_assignment ca = { 0, tp, n_tp, { NULL, -1 } };
        kbuf_reset(&tmp);
        kproto_consumer_assignment_encode(&tmp, &ca);
        as[i].member_id = jr->members[i].member_id;
        as[i].assignment = kbuf_to_arena(&g->arena, &tmp);
        if (as[i].assignment.len < 0) rc = WEIR_CLIENT_E_NOMEM;
        weir_log(WEIR_LOG_DEBUG, "consumer group %s: %s assigns %d partitions to %s", c->conf.group_id,
                 cw_assignor_name(strategy), (int)m[i].n_out, m[i].id + 1);
    }
    kbuf_free(&tmp);
    cw_frame_unref(frame);
    for (size_t i = 0; m && i < nm; i++) {
        for (int32_t k = 0; subs && subs[i] && k < m[i].n_topics; k++) weir_free((char *)subs[i][k]);
        if (subs) weir_free(subs[i]);
        weir_free((char *)m[i].id);
        weir_free(m[i].out);
    }
    weir_free(subs);
    weir_free(m);
    weir_free(topics);
    weir_free(at);
    *out = as;
    *n_out = rc == 0 ? (int32_t)nm : 0;
    return rc;
}

/* Join, (lead,) sync: on success *assignment holds this member's
 * partitions (owned) and the state is CG_STABLE of the new generation. */
static int join_sync(struct weir_consumer *c, struct weir_topic_partition **assigned, size_t *n_assigned)
{
    struct cgroup *g = &c->g;
    *assigned = NULL;
    *n_assigned = 0;
    /* subscription metadata: the resolved topic names */
    struct kbuf tmp;
    kbuf_init(&tmp, 0);
    weir_arena_reset(&g->arena);
    struct kstr *names = weir_arena_alloc(&g->arena, (g->n_topics ? g->n_topics : 1) * sizeof *names);
    if (!names) return WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; i < g->n_topics; i++) names[i] = kstr_c(g->topics[i]);
    struct kconsumer_subscription sub = { 0, names, (int32_t)g->n_topics, { NULL, -1 }, NULL, 0 };
    kproto_consumer_subscription_encode(&tmp, &sub);
    struct kbytes meta = kbuf_to_arena(&g->arena, &tmp);
    kbuf_free(&tmp);
    if (meta.len < 0) return WEIR_CLIENT_E_NOMEM;
    struct assignor_pref pref = { { 0 }, 0 };
    cw_assignors_each(c->conf.assignors, pref_add, &pref);
    struct kjoingroup_protocol protos[8];
    for (int i = 0; i < pref.n; i++) protos[i] = (struct kjoingroup_protocol){ kstr_c(cw_assignor_name(pref.order[i])), meta };

    struct kjoingroup_resp jr;
    struct cw_frame *jframe = NULL;
    int rc;
    /* A static member joins with its instance id and an empty member id; the
     * broker answers it at once (no MEMBER_ID_REQUIRED round). */
    int16_t jv = cw_version(&g->coord, KAPI_JOIN_GROUP);
    if (c->conf.group_instance_id && jv >= 0 && jv < JOIN_INSTANCE_MIN_VERSION) {
        cw_errf(g->coord.err, sizeof g->coord.err,
                "%s:%d: the coordinator's JoinGroup v%d has no group.instance.id (v%d+ needed): "
                "unset it or upgrade the broker",
                g->coord.host, g->coord.port, (int)jv, JOIN_INSTANCE_MIN_VERSION);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    for (int attempt = 0;; attempt++) {
        struct kjoingroup_req req = {
            .group_id = kstr_c(c->conf.group_id), .session_timeout_ms = c->conf.session_timeout_ms,
            .rebalance_timeout_ms = c->conf.max_poll_interval_ms, .member_id = kstr_c(g->member_id),
            .group_instance_id = instance_id(c), .protocol_type = kstr_c(PROTOCOL_TYPE), .protocols = protos,
            .n_protocols = pref.n,
        };
        int16_t v;
        int32_t corr;
        struct kframe f;
        if ((rc = g_begin(c, &g->coord, KAPI_JOIN_GROUP, &v, &corr, &f)) != 0) return rc;
        kproto_joingroup_request_encode(&g->kb, v, &req);
        struct weir_rd rd;
        cw_frame_unref(jframe);
        jframe = NULL;
        /* The broker holds a JoinGroup up to the rebalance timeout. */
        int timeout = (int)WEIR_MIN((int64_t)c->conf.max_poll_interval_ms + 5000 + c->conf.request_timeout_ms, INT32_MAX);
        rc = g_finish(c, &g->coord, KAPI_JOIN_GROUP, v, corr, &f, timeout, &jframe, &rd);
        if (rc == 0 && kproto_joingroup_response_decode(&rd, v, &g->arena, &jr) != WEIR_OK) rc = g_malformed(&g->coord, "JoinGroup");
        if (rc == 0) rc = jr.error_code;
        if (rc == KERR_MEMBER_ID_REQUIRED && attempt == 0) {
            char *id = kstr_dup(jr.member_id);
            if (!id) rc = WEIR_CLIENT_E_NOMEM;
            else {
                weir_free(g->member_id);
                g->member_id = id;
                continue;
            }
        }
        break;
    }
    if (rc == KERR_UNKNOWN_MEMBER) g->member_id[0] = '\0';
    if (rc != 0) {
        cw_frame_unref(jframe);
        return rc;
    }
    char *id = kstr_dup(jr.member_id);
    if (!id) {
        cw_frame_unref(jframe);
        return WEIR_CLIENT_E_NOMEM;
    }
    weir_free(g->member_id);
    g->member_id = id;
    int32_t generation = jr.generation_id;
    bool leader = kstr_eq(jr.leader, g->member_id);
    struct ksyncgroup_assignment *as = NULL;
    int32_t n_as = 0;
    if (leader) rc = leader_assign(c, &jr, &as, &n_as);
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: joined generation %d as %s%s (%.*s)", c->conf.group_id, (int)generation,
             g->member_id, leader ? ", the leader" : "", (int)WEIR_MAX(jr.protocol_name.len, 0), jr.protocol_name.ptr);
    struct ksyncgroup_resp sr;
    struct cw_frame *sframe = NULL;
    if (rc == 0) {
        struct ksyncgroup_req req = { kstr_c(c->conf.group_id), generation, kstr_c(g->member_id), instance_id(c),
                                      as, n_as };
        int16_t v;
        int32_t corr;
        struct kframe f;
        rc = g_begin(c, &g->coord, KAPI_SYNC_GROUP, &v, &corr, &f);
        if (rc == 0) {
            kproto_syncgroup_request_encode(&g->kb, v, &req);
            struct weir_rd rd;
            int timeout = (int)WEIR_MIN((int64_t)c->conf.max_poll_interval_ms + 5000 + c->conf.request_timeout_ms, INT32_MAX);
            rc = g_finish(c, &g->coord, KAPI_SYNC_GROUP, v, corr, &f, timeout, &sframe, &rd);
            if (rc == 0 && kproto_syncgroup_response_decode(&rd, v, &g->arena, &sr) != WEIR_OK) rc = g_malformed(&g->coord, "SyncGroup");
            if (rc == 0) rc = sr.error_code;
        }
    }
    cw_frame_unref(jframe);
    struct kconsumer_assignment ca = { 0, NULL, 0, { NULL, -1 } };
    if (rc == 0) {
        struct weir_rd rd = weir_rd_make(sr.assignment.ptr, (size_t)WEIR_MAX(sr.assignment.len, 0));
        if (kproto_consumer_assignment_decode(&rd, &g->arena, &ca) != WEIR_OK) rc = WEIR_CLIENT_E_BAD_MSG;
    }
    size_t n = 0;
    for (int32_t t = 0; rc == 0 && t < ca.n_partitions; t++) n += (size_t)WEIR_MAX(ca.partitions[t].n_partitions, 0);
    struct weir_topic_partition *parts = rc == 0 ? weir_calloc(n ? n : 1, sizeof *parts) : NULL;
    if (rc == 0 && !parts) rc = WEIR_CLIENT_E_NOMEM;
    size_t k = 0;
    for (int32_t t = 0; rc == 0 && t < ca.n_partitions; t++)
        for (int32_t i = 0; i < ca.partitions[t].n_partitions; i++) {
            char *topic = kstr_dup(ca.partitions[t].topic);
            if (!topic) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            parts[k++] = (struct weir_topic_partition){ topic, ca.partitions[t].partitions[i], -1, 0 };
        }
    cw_frame_unref(sframe);
    if (rc != 0) {
        weir_consumer_partitions_free(parts, k);
        if (rc == KERR_UNKNOWN_MEMBER) g->member_id[0] = '\0';
        return rc;
    }
    set_state(c, CG_STABLE, generation);
    *assigned = parts;
    *n_assigned = k;
    return 0;
}

/* Starts the assigned partitions at their committed offsets. */
static int assign_committed(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n)
{
    int rc = n ? committed_fetch(c, parts, n) : 0;
    if (rc != 0) return rc;
    struct weir_partition_start *s = weir_calloc(n ? n : 1, sizeof *s);
    if (!s) return WEIR_CLIENT_E_NOMEM;
    int64_t reset = c->conf.reset == CW_RESET_EARLIEST ? WEIR_OFFSET_BEGINNING
                    : c->conf.reset == CW_RESET_LATEST ? WEIR_OFFSET_END : CW_OFFSET_RESET_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].offset < 0) parts[i].offset = reset;
        s[i] = (struct weir_partition_start){ parts[i].topic, parts[i].partition, parts[i].offset, 0 };
    }
    rc = cw_assign(c, s, n);
    weir_free(s);
    if (rc != 0) return rc;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        if (parts[i].offset >= 0) note_committed(c, parts[i].topic, parts[i].partition, parts[i].offset);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Errors that retrying does not mend: reported, then retried slowly. */
static bool fatal(int err)
{
    return err == KERR_INCONSISTENT_PROTO || err == KERR_INVALID_GROUP || err == KERR_INVALID_SESSION ||
           err == WEIR_CLIENT_E_UNSUPPORTED || err == 30 /* GROUP_AUTHORIZATION_FAILED */;
}

/* One attempt at becoming a member with an assignment. */
static void rebalance(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    bool member = g->state == CG_STABLE;
    uint64_t sub_gen = g->sub_gen;
    pthread_mutex_unlock(&c->lock);
    if (member) revoke_all(c, false);
    serve_requests(c); /* commits asked before now go with the generation they were asked in */
    pthread_mutex_lock(&c->lock);
    bool fenced = g->fenced; /* by a heartbeat or commit meanwhile: no JoinGroup (invariant 4) */
    pthread_mutex_unlock(&c->lock);
    if (fenced) return;
    set_state(c, CG_JOINING, -1);
    int64_t t0 = cw_now_ms();
    int rc = coord_up(c);
    if (rc == 0) {
        topics_free(g);
        rc = sub_resolve(c, &g->topics, &g->counts, &g->n_topics);
    }
    struct weir_topic_partition *parts = NULL;
    size_t n = 0;
    if (rc == 0) rc = join_sync(c, &parts, &n);
    if (rc == 0) {
        g->need_rejoin = false;
        g->joined_sub_gen = sub_gen;
        /* Gate: poll hands out nothing until the ASSIGN callback ran (Java's
         * onPartitionsAssigned comes before any record of the partitions). */
        pthread_mutex_lock(&c->lock);
        g->gate = c->conf.rebalance_cb != NULL;
        pthread_mutex_unlock(&c->lock);
        rc = assign_committed(c, parts, n);
        if (rc != 0) {
            set_state(c, CG_JOINING, -1);
            g->need_rejoin = true;
        }
    }
    int64_t now = cw_now_ms();
    if (rc == 0) {
        weir_log(WEIR_LOG_DEBUG, "consumer group %s: generation %d: %zu partitions assigned in %" PRId64 " ms",
                 c->conf.group_id, (int)g->generation, n, now - t0);
        pthread_mutex_lock(&c->lock);
        c->conn_err = 0;
        pthread_mutex_unlock(&c->lock);
        g->hb_next = now + c->conf.heartbeat_interval_ms;
        g->commit_next = now + c->conf.auto_commit_interval_ms;
        g->meta_next = now + c->conf.metadata_max_age_ms;
        run_callback(c, WEIR_REBALANCE_ASSIGN, parts, n);
    } else {
        if (coord_lost(rc)) cw_close(&g->coord);
        bool quiet = rc == KERR_REBALANCING || rc == KERR_UNKNOWN_MEMBER || rc == KERR_ILLEGAL_GEN || rc == KERR_MEMBER_ID_REQUIRED;
        if (fence_check(c, rc)) quiet = true; /* reported there */
        if (!quiet) {
            const char *why = g->coord.err[0] ? g->coord.err : g->boot.err;
            group_error(c, rc, "joining: %s%s%s", weir_client_err_str(rc), why[0] ? ": " : "", why);
        }
        g->coord_retry = now + (fatal(rc) ? WEIR_MAX(c->conf.retry_backoff_ms, 1000) : quiet ? 0 : c->conf.retry_backoff_ms);
    }
    pthread_mutex_lock(&c->lock);
    if (g->gate) {
        g->gate = false;
        pthread_cond_broadcast(&c->cond_data);
    }
    pthread_mutex_unlock(&c->lock);
    weir_consumer_partitions_free(parts, n);
}

/* ---- while a member --------------------------------------------------------------------------- */

static void heartbeat(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    g->hb_next = cw_now_ms() + c->conf.heartbeat_interval_ms;
    int rc = coord_up(c);
    int16_t v;
    int32_t corr;
    struct kframe f;
    if (rc == 0) rc = g_begin(c, &g->coord, KAPI_HEARTBEAT, &v, &corr, &f);
    if (rc == 0) {
        struct kheartbeat_req req = { kstr_c(c->conf.group_id), g->generation, kstr_c(g->member_id), instance_id(c) };
        kproto_heartbeat_request_encode(&g->kb, v, &req);
        struct cw_frame *frame = NULL;
        struct weir_rd rd;
        struct kheartbeat_resp resp;
        weir_arena_reset(&g->arena);
        rc = g_finish(c, &g->coord, KAPI_HEARTBEAT, v, corr, &f, c->conf.request_timeout_ms, &frame, &rd);
        if (rc == 0 && kproto_heartbeat_response_decode(&rd, v, &g->arena, &resp) != WEIR_OK) rc = g_malformed(&g->coord, "Heartbeat");
        if (rc == 0) rc = resp.error_code;
        cw_frame_unref(frame);
    }
    if (rc == 0) return;
    if (coord_lost(rc)) {
        cw_close(&g->coord);
        g->hb_next = cw_now_ms() + c->conf.retry_backoff_ms;
        return;
    }
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: heartbeat: %s", c->conf.group_id, weir_client_err_str(rc));
    if (fence_check(c, rc)) return;
    if (rc == KERR_UNKNOWN_MEMBER) g->member_id[0] = '\0';
    g->need_rejoin = true;
}

/* Looks the subscription up again: rejoin when the matched topics or a
 * partition count changed since the join. */
static void meta_check(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    g->meta_next = cw_now_ms() + c->conf.metadata_max_age_ms;
    char **names;
    int32_t *counts;
    size_t n;
    if (sub_resolve(c, &names, &counts, &n) != 0) return;
    bool same = n == g->n_topics;
    for (size_t i = 0; same && i < n; i++) same = !strcmp(names[i], g->topics[i]) && counts[i] == g->counts[i];
    if (!same) {
        weir_log(WEIR_LOG_DEBUG, "consumer group %s: subscribed topics or partition counts changed: rejoining", c->conf.group_id);
        g->need_rejoin = true;
    }
    for (size_t i = 0; i < n; i++) weir_free(names[i]);
    weir_free(names);
    weir_free(counts);
}

/* ---- the thread ---------------------------------------------------------------------------------- */

static void *group_main(void *arg)
{
    struct weir_consumer *c = arg;
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        if (g->stop) break;
        int64_t now = cw_now_ms();
        int64_t wake = now + IDLE_WAIT_MS;
        bool subscribed = g->n_sub > 0;
        if (g->commits) {
            pthread_mutex_unlock(&c->lock);
            serve_requests(c);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        if (!subscribed || g->poll_expired || g->fenced) { /* fenced: invariant 4 */
            if (g->state != CG_IDLE) {
                pthread_mutex_unlock(&c->lock);
                leave(c);
                pthread_mutex_lock(&c->lock);
                continue;
            }
        } else if (g->state != CG_STABLE || g->need_rejoin || g->sub_gen != g->joined_sub_gen) {
            if (now >= g->coord_retry) {
                pthread_mutex_unlock(&c->lock);
                rebalance(c);
                pthread_mutex_lock(&c->lock);
                continue;
            }
            wake = WEIR_MIN(wake, g->coord_retry);
        } else if (now - g->last_poll_ms > c->conf.max_poll_interval_ms) {
            g->poll_expired = true;
            cw_queue_error(c, NULL, -1, WEIR_CLIENT_E_TIMED_OUT,
                           "group %s: no poll for max.poll.interval.ms (%d ms): left the group, rejoining at the next poll",
                           c->conf.group_id, (int)c->conf.max_poll_interval_ms);
            continue;
        } else {
            void (*step)(struct weir_consumer *) = NULL;
            if (now >= g->hb_next) step = heartbeat;
            else if (c->conf.auto_commit && now >= g->commit_next) step = auto_commit;
            else if (now >= g->meta_next) step = meta_check;
            if (step) {
                if (step == auto_commit) g->commit_next = now + c->conf.auto_commit_interval_ms;
                pthread_mutex_unlock(&c->lock);
                step(c);
                pthread_mutex_lock(&c->lock);
                continue;
            }
            wake = WEIR_MIN(wake, g->hb_next);
            if (c->conf.auto_commit) wake = WEIR_MIN(wake, g->commit_next);
            wake = WEIR_MIN(wake, g->meta_next);
            wake = WEIR_MIN(wake, g->last_poll_ms + c->conf.max_poll_interval_ms + 1);
        }
        wait_ms(c, wake);
    }
    /* close: commit what was consumed, revoke, leave */
    pthread_mutex_unlock(&c->lock);
    uint64_t drain;
    if (read(g->wake_fd, &drain, sizeof drain) < 0 && errno != EAGAIN) { /* nothing pending */ }
    serve_requests(c);
    leave(c);
    /* Requests queued until here are served; later ones get E_CLOSED (request_run). */
    pthread_mutex_lock(&c->lock);
    while (g->commits) {
        pthread_mutex_unlock(&c->lock);
        serve_requests(c);
        pthread_mutex_lock(&c->lock);
    }
    g->exited = true;
    pthread_cond_broadcast(&c->cond_data);
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------------------ */

int cw_group_start(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    g->wake_fd = -1;
    g->generation = -1;
    kbuf_init(&g->kb, 0);
    cw_conn_init(&g->coord, c->conf.client_id);
    cw_conn_init(&g->boot, c->conf.client_id);
    g->inited = true;
    if (!c->conf.group_id) return 0;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return WEIR_CLIENT_E_NOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int err = pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (err) return WEIR_CLIENT_E_NOMEM;
    g->member_id = weir_strdup("");
    g->cond_ok = true;
    if (!g->member_id || weir_arena_init_growable(&g->arena, 16 << 10, (size_t)1 << 30) != WEIR_OK) return WEIR_CLIENT_E_NOMEM;
    g->arena_ok = true;
    if ((g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) return WEIR_CLIENT_E_NOMEM;
    g->coord.wake_fd = g->boot.wake_fd = g->wake_fd;
    g->last_poll_ms = cw_now_ms();
    if (pthread_create(&g->thread, NULL, group_main, c) != 0) return WEIR_CLIENT_E_NOMEM;
    g->thread_started = true;
    return 0;
}

void cw_group_stop(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (!g->thread_started) return;
    /* The eventfd interrupts a JoinGroup held by the broker; written under
     * the lock, so group_main, which sees `stop` under it, drains it before
     * its last requests (commit, LeaveGroup). */
    pthread_mutex_lock(&c->lock);
    g->stop = true;
    uint64_t one = 1;
    if (write(g->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        weir_log(WEIR_LOG_WARN, "consumer: eventfd write: %s", strerror(errno));
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&c->lock);
    /* Serve the REVOKE callback from this (the closing) thread meanwhile. */
    pthread_mutex_lock(&c->lock);
    while (!g->exited) {
        if (callback_take(c)) continue;
        cw_cond_wait_until(&c->cond_data, &c->lock, cw_now_ms() + 50);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_join(g->thread, NULL);
    g->thread_started = false;
}

void cw_group_free(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (!g->inited) return;
    cw_close(&g->coord);
    cw_close(&g->boot);
    topics_free(g);
    for (size_t i = 0; i < g->n_sub; i++) weir_free(g->sub[i]);
    weir_free(g->sub);
    weir_free(g->member_id);
    kbuf_free(&g->kb);
    if (g->arena_ok) weir_arena_destroy(&g->arena);
    if (g->cond_ok) pthread_cond_destroy(&g->cond);
    if (g->wake_fd >= 0) close(g->wake_fd);
}

/* ---- the application's calls --------------------------------------------------------------------- */

int weir_consumer_subscribe(struct weir_consumer *c, const char *const *topics, size_t n)
{
    if (!c || (n > 0 && !topics) || n == 0) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    for (size_t i = 0; i < n; i++) {
        if (!topics[i] || !topics[i][0]) return WEIR_CLIENT_E_INVALID_ARG;
        if (topics[i][0] == '^') {
            regex_t re;
            if (regcomp(&re, topics[i], REG_EXTENDED | REG_NOSUB) != 0) return WEIR_CLIENT_E_INVALID_ARG;
            regfree(&re);
        } else if (strlen(topics[i]) > WEIR_KAFKA_NAME_MAX) {
            return WEIR_CLIENT_E_INVALID_ARG;
        }
    }
    char **sub = weir_calloc(n, sizeof *sub);
    for (size_t i = 0; sub && i < n; i++)
        if (!(sub[i] = weir_strdup(topics[i]))) {
            for (size_t k = 0; k < i; k++) weir_free(sub[k]);
            weir_free(sub);
            sub = NULL;
        }
    if (!sub) return WEIR_CLIENT_E_NOMEM;
    pthread_mutex_lock(&c->lock);
    /* parts made by weir_consumer_assign: not the group's (those exist only while not CG_IDLE) */
    bool assigned = c->parts && c->g.n_sub == 0 && c->g.state == CG_IDLE;
    int rc = c->stop ? WEIR_CLIENT_E_CLOSED : c->g.fenced ? KERR_FENCED_INSTANCE : assigned ? WEIR_CLIENT_E_STATE : 0;
    if (rc == 0) {
        for (size_t i = 0; i < c->g.n_sub; i++) weir_free(c->g.sub[i]);
        weir_free(c->g.sub);
        c->g.sub = sub;
        c->g.n_sub = n;
        c->g.sub_gen++;
        c->g.last_poll_ms = cw_now_ms();
        pthread_cond_broadcast(&c->g.cond);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) weir_free(sub[i]);
        weir_free(sub);
    }
    return rc;
}

int weir_consumer_unsubscribe(struct weir_consumer *c)
{
    if (!c) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->g.n_sub; i++) weir_free(c->g.sub[i]);
    weir_free(c->g.sub);
    c->g.sub = NULL;
    c->g.n_sub = 0;
    c->g.sub_gen++;
    pthread_cond_broadcast(&c->g.cond);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int weir_consumer_assignment(struct weir_consumer *c, struct weir_topic_partition **parts, size_t *n)
{
    if (!c || !parts || !n) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    int rc = cw_positions(c, CW_POS_ALL, parts, n);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* Queues r for the group thread and waits for it, or, async, hands it over
 * (the group thread frees it). */
static int request_run(struct weir_consumer *c, struct cgcommit *r)
{
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    int refuse = g->exited || !g->thread_started ? WEIR_CLIENT_E_CLOSED : 0;
    if (!refuse && g->fenced && !r->offset_fetch) refuse = KERR_FENCED_INSTANCE;
    r->generation = g->state == CG_STABLE ? g->generation : -1;
    /* A member between generations has nothing it may commit (Kafka's RebalanceInProgressException). */
    if (!refuse && !r->offset_fetch && g->n_sub > 0 && g->state != CG_STABLE) refuse = KERR_REBALANCING;
    if (refuse) { /* r is the caller's to free unless async */
        pthread_mutex_unlock(&c->lock);
        if (r->async) {
            if (c->conf.commit_cb) c->conf.commit_cb(c, refuse, r->parts, r->n, c->conf.opaque);
            weir_consumer_partitions_free(r->parts, r->n);
            weir_free(r);
        }
        return refuse;
    }
    if (g->commits_tail) g->commits_tail->next = r;
    else g->commits = r;
    g->commits_tail = r;
    pthread_cond_broadcast(&g->cond);
    if (r->async) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    while (!r->done) pthread_cond_wait(&g->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    return r->err;
}

int weir_consumer_commit(struct weir_consumer *c, const struct weir_topic_partition *offsets, size_t n, int async)
{
    if (!c || (n > 0 && !offsets)) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    for (size_t i = 0; offsets && i < n; i++)
        if (!offsets[i].topic || offsets[i].partition < 0 || offsets[i].offset < 0) return WEIR_CLIENT_E_INVALID_ARG;
    struct cgcommit *r = weir_calloc(1, sizeof *r);
    if (!r) return WEIR_CLIENT_E_NOMEM;
    if (offsets) {
        r->parts = parts_dup(offsets, n);
        r->n = n;
    } else {
        pthread_mutex_lock(&c->lock);
        int rc = cw_positions(c, CW_POS_KNOWN, &r->parts, &r->n);
        pthread_mutex_unlock(&c->lock);
        if (rc == 0 && !r->parts) {
            weir_free(r);
            return 0; /* nothing consumed: nothing to commit */
        }
    }
    if (!r->parts) {
        weir_free(r);
        return WEIR_CLIENT_E_NOMEM;
    }
    r->async = async != 0;
    if (r->async) return request_run(c, r);
    int rc = request_run(c, r);
    weir_consumer_partitions_free(r->parts, r->n);
    weir_free(r);
    return rc;
}

int weir_consumer_committed(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n, int timeout_ms)
{
    (void)timeout_ms; /* bounded by request.timeout.ms per request */
    if (!c || (n > 0 && !parts)) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    for (size_t i = 0; i < n; i++)
        if (!parts[i].topic || parts[i].partition < 0) return WEIR_CLIENT_E_INVALID_ARG;
    if (n == 0) return 0;
    struct cgcommit *r = weir_calloc(1, sizeof *r);
    if (!r || !(r->parts = parts_dup(parts, n))) {
        weir_free(r);
        return WEIR_CLIENT_E_NOMEM;
    }
    r->n = n;
    r->offset_fetch = true;
    int rc = request_run(c, r);
    for (size_t i = 0; i < n; i++) {
        parts[i].offset = r->parts[i].offset;
        parts[i].err = r->parts[i].err;
    }
    weir_consumer_partitions_free(r->parts, r->n);
    weir_free(r);
    return rc;
}
