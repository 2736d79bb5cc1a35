/* client/group.c: the consumer's group membership (classic protocol, eager
 * or cooperative rebalancing): the state machine run by one group thread per consumer that
 * has a group.id (group_main, rebalance, revoke and leave, the rebalance
 * callback handoff, heartbeats and metadata checks, start/stop). Commits are
 * group_commit.c, the subscription group_sub.c, JoinGroup/SyncGroup and the
 * assignment group_join.c, helpers and coordinator requests group_coord.c.
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
 * assignment; then joins again. Cooperative (cooperative-sticky alone,
 * KIP-429): the assignment is kept through the join, and after SyncGroup
 * only what the new one lacks is revoked (then a rejoin) and only what it
 * adds is started (cooperative_apply).
 *
 * Invariants:
 *  (1) g->state and g->generation change only on the group thread, under
 *      c->lock; g->generation >= 0 exactly while the state is CG_STABLE.
 *  (2) a partition is assigned by the group only between a successful
 *      SyncGroup of g->generation and the revoke that precedes the next
 *      JoinGroup, so no two members of one generation fetch it. Cooperative:
 *      from the SyncGroup that gives it until the one whose assignment
 *      lacks it (or the member is refused: all lost, revoked before the
 *      next JoinGroup); it is listed as owned in every JoinGroup meanwhile,
 *      and a leader gives no one a partition another member lists.
 *  (3) the rebalance callback runs in the polling thread while the group
 *      thread waits for it (serving commits meanwhile): a commit made in a
 *      REVOKE callback goes out with the generation that owns the partitions.
 *  (4) a static member (group.instance.id, KIP-345) sends its instance id in
 *      JoinGroup, SyncGroup, Heartbeat and OffsetCommit and never sends
 *      LeaveGroup (Java's maybeLeaveGroup); FENCED_INSTANCE_ID from any of
 *      them sets g->fenced, after which the thread only drops the
 *      assignment and serves refusals: no heartbeat, no JoinGroup. */
#include "group_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
    struct cgcallback cb = { kind, parts, n, false, false, pthread_self() };
    pthread_mutex_lock(&c->lock);
    g->cb = &cb;
    pthread_cond_broadcast(&c->cond_data);
    while (!cb.done) {
        if (g->commits) {
            pthread_mutex_unlock(&c->lock);
            cw_group_serve_requests(c);
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
        cw_group_wait_ms(c, beat ? WEIR_MIN(g->hb_next, cw_now_ms() + IDLE_WAIT_MS) : cw_now_ms() + IDLE_WAIT_MS);
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
    cb->thread = pthread_self();
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

/* Lock held: hold_all for parts[0, n) only. */
static void hold_some(struct weir_consumer *c, const struct weir_topic_partition *parts, size_t n)
{
    for (struct cpart *p = c->parts; p; p = p->next)
        for (size_t i = 0; i < n; i++)
            if (p->id == parts[i].partition && !strcmp(p->topic, parts[i].topic)) {
                p->epoch++;
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
    c->g.owned_gen = -1;
    size_t n;
    struct weir_topic_partition *parts;
    pthread_mutex_lock(&c->lock);
    cw_positions(c, CW_POS_ALL, &parts, &n);
    hold_all(c);
    pthread_mutex_unlock(&c->lock);
    if (parts) {
        run_callback(c, WEIR_REBALANCE_REVOKE, parts, n);
        if (c->conf.auto_commit && !lost) cw_group_auto_commit(c);
        weir_consumer_partitions_free(parts, n);
    }
    cw_assign(c, NULL, 0);
}

static void leave_send(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (c->conf.group_instance_id) { /* static: the broker keeps the membership until the session timeout */
        g->member_id[0] = '\0';
        return;
    }
    if (!g->member_id[0] || cw_group_coord_up(c) != 0) return; /* a JoinGroup cut by close took the connection */
    struct kleavegroup_member m = { kstr_c(g->member_id), KSTR_NULL, 0, KSTR_NULL };
    struct kleavegroup_req req = { kstr_c(c->conf.group_id), &m, 1 };
    int16_t v;
    int32_t corr;
    struct kframe f;
    if (cw_group_begin(c, &g->coord, KAPI_LEAVE_GROUP, &v, &corr, &f) != 0) return;
    kproto_leavegroup_request_encode(&g->kb, v, &req);
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = cw_group_finish(c, &g->coord, KAPI_LEAVE_GROUP, v, corr, &f, WEIR_MIN(c->conf.request_timeout_ms, 5000), &frame, &rd);
    if (rc != 0) weir_log(WEIR_LOG_DEBUG, "consumer group %s: LeaveGroup: %s", c->conf.group_id, g->coord.err);
    cw_frame_unref(frame);
    g->member_id[0] = '\0';
}

/* CG_IDLE: the group's assignment is gone; wakes cw_group_leave_wait. */
static void left(struct weir_consumer *c)
{
    pthread_mutex_lock(&c->lock);
    c->g.state = CG_IDLE;
    c->g.generation = -1;
    pthread_cond_broadcast(&c->cond_data);
    pthread_mutex_unlock(&c->lock);
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
        left(c);
        return;
    }
    if (member) revoke_all(c, false);
    left(c); /* before the LeaveGroup: unsubscribe waits for the assignment only */
    leave_send(c);
}

/* Errors that retrying does not mend: reported, then retried slowly. */
static bool fatal(int err)
{
    return err == WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL || err == WEIR_KERR_INVALID_GROUP_ID ||
           err == WEIR_KERR_INVALID_SESSION_TIMEOUT || err == WEIR_CLIENT_E_UNSUPPORTED ||
           err == WEIR_KERR_GROUP_AUTHORIZATION_FAILED;
}

/* Ends the join's requests: later ones (the ASSIGN callback's commits,
 * LeaveGroup) are not unsubscribe's to cut. True when it cut them (the
 * eventfd is drained here, under the lock unsubscribe wrote it under). */
static bool join_end(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    bool cut = g->join_cut;
    g->in_join = false;
    g->join_cut = false;
    uint64_t drain;
    if (cut && read(g->wake_fd, &drain, sizeof drain) < 0 && errno != EAGAIN) { /* nothing pending */ }
    pthread_mutex_unlock(&c->lock);
    return cut;
}

/* Cooperative (KIP-429), after SyncGroup: what the new assignment parts[0, n)
 * no longer has is revoked (REVOKE callback with those only, auto commit,
 * dropped; then a rejoin, so the leader can hand them on); what it adds
 * starts at its committed offsets; the rest goes on untouched. *added gets
 * the added ones (owned), for the ASSIGN callback. */
static int cooperative_apply(struct weir_consumer *c, const struct weir_topic_partition *parts, size_t n,
                             struct weir_topic_partition **added, size_t *n_added)
{
    struct cgroup *g = &c->g;
    struct weir_topic_partition *cur, *gone = NULL, *add = NULL;
    size_t n_cur, n_gone = 0, n_add = 0;
    *added = NULL;
    *n_added = 0;
    pthread_mutex_lock(&c->lock);
    int rc = cw_positions(c, CW_POS_ALL, &cur, &n_cur);
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) return rc;
    gone = weir_calloc(n_cur ? n_cur : 1, sizeof *gone);
    add = weir_calloc(n ? n : 1, sizeof *add);
    if (!gone || !add) rc = WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n_cur; i++) {
        bool kept = false;
        for (size_t k = 0; k < n && !kept; k++) kept = parts[k].partition == cur[i].partition && !strcmp(parts[k].topic, cur[i].topic);
        if (!kept) gone[n_gone++] = cur[i], cur[i].topic = NULL; /* moved: freed with gone */
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        bool held = false;
        for (size_t i = 0; i < n_cur && !held; i++)
            held = cur[i].topic && parts[k].partition == cur[i].partition && !strcmp(parts[k].topic, cur[i].topic);
        if (held) continue;
        add[n_add] = (struct weir_topic_partition){ weir_strdup(parts[k].topic), parts[k].partition, -1, 0 };
        if (!add[n_add++].topic) rc = WEIR_CLIENT_E_NOMEM;
    }
    weir_consumer_partitions_free(cur, n_cur); /* frees NULL topics too */
    if (rc == 0 && n_gone) {
        pthread_mutex_lock(&c->lock);
        hold_some(c, gone, n_gone);
        pthread_mutex_unlock(&c->lock);
        run_callback(c, WEIR_REBALANCE_REVOKE, gone, n_gone);
        if (c->conf.auto_commit) cw_group_auto_commit(c);
        rc = cw_assign_change(c, NULL, 0, gone, n_gone, false);
        g->need_rejoin = true; /* the second round: the leader hands them on */
        weir_log(WEIR_LOG_DEBUG, "consumer group %s: %zu partitions revoked: rejoining", c->conf.group_id, n_gone);
    }
    if (rc == 0) rc = cw_group_assign_committed(c, add, n_add, false);
    weir_consumer_partitions_free(gone, n_gone);
    if (rc != 0) {
        weir_consumer_partitions_free(add, n_add);
        return rc;
    }
    *added = add;
    *n_added = n_add;
    return 0;
}

/* One attempt at becoming a member with an assignment. */
static void rebalance(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    bool coop = cw_assignors_cooperative(c->conf.assignors);
    pthread_mutex_lock(&c->lock);
    bool member = g->state == CG_STABLE, holds = c->parts != NULL;
    uint64_t sub_gen = g->sub_gen;
    pthread_mutex_unlock(&c->lock);
    /* Eager: everything goes before the JoinGroup. Cooperative: the
     * assignment is kept through it (KIP-429) unless it was lost. */
    if (!coop && member) revoke_all(c, false);
    if (coop && g->gen_lost && holds) revoke_all(c, true);
    g->gen_lost = false;
    cw_group_serve_requests(c); /* commits asked before now go with the generation they were asked in */
    /* No JoinGroup when fenced by a heartbeat or commit meanwhile (invariant
     * 4), nor once unsubscribed (group_main leaves instead). In one critical
     * section with CG_JOINING: unsubscribe then sees in_join and cuts. */
    pthread_mutex_lock(&c->lock);
    bool skip = g->fenced || g->n_sub == 0;
    if (!skip) {
        g->state = CG_JOINING;
        g->generation = -1;
        g->in_join = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (skip) return;
    int64_t t0 = cw_now_ms();
    int rc = cw_group_coord_up(c);
    if (rc == 0) {
        cw_group_topics_free(g);
        rc = cw_group_sub_resolve(c, &g->topics, &g->counts, &g->n_topics);
    }
    struct weir_topic_partition *parts = NULL;
    size_t n = 0;
    if (rc == 0) rc = cw_group_join_sync(c, &parts, &n);
    if (rc == 0) {
        g->need_rejoin = false;
        g->joined_sub_gen = sub_gen;
        g->owned_gen = g->generation;
        /* Gate: poll hands out nothing until the ASSIGN callback ran (Java's
         * onPartitionsAssigned comes before any record of the partitions). */
        pthread_mutex_lock(&c->lock);
        g->gate = c->conf.rebalance_cb != NULL;
        pthread_mutex_unlock(&c->lock);
        if (coop) {
            struct weir_topic_partition *added;
            size_t n_added;
            rc = cooperative_apply(c, parts, n, &added, &n_added);
            if (rc == 0) { /* the ASSIGN callback names the added ones only */
                weir_consumer_partitions_free(parts, n);
                parts = added, n = n_added;
            }
        } else {
            rc = cw_group_assign_committed(c, parts, n, true);
        }
        if (rc != 0) {
            cw_group_set_state(c, CG_JOINING, -1);
            g->need_rejoin = true;
        }
    } else if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID || rc == WEIR_KERR_ILLEGAL_GENERATION) {
        g->gen_lost = true;
    }
    bool cut = join_end(c);
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
        if (cw_group_coord_lost(rc)) cw_close(&g->coord);
        bool quiet = cut || rc == WEIR_KERR_REBALANCE_IN_PROGRESS || rc == WEIR_KERR_UNKNOWN_MEMBER_ID ||
                     rc == WEIR_KERR_ILLEGAL_GENERATION || rc == WEIR_KERR_MEMBER_ID_REQUIRED;
        if (cw_group_fence_check(c, rc)) quiet = true; /* reported there */
        if (!quiet) {
            const char *why = g->coord.err[0] ? g->coord.err : g->boot.err;
            cw_group_error(c, rc, "joining: %s%s%s", weir_client_err_str(rc), why[0] ? ": " : "", why);
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
    int rc = cw_group_coord_up(c);
    int16_t v;
    int32_t corr;
    struct kframe f;
    if (rc == 0) rc = cw_group_begin(c, &g->coord, KAPI_HEARTBEAT, &v, &corr, &f);
    if (rc == 0) {
        struct kheartbeat_req req = { kstr_c(c->conf.group_id), g->generation, kstr_c(g->member_id), cw_group_instance_id(c) };
        kproto_heartbeat_request_encode(&g->kb, v, &req);
        struct cw_frame *frame = NULL;
        struct weir_rd rd;
        struct kheartbeat_resp resp;
        weir_arena_reset(&g->arena);
        rc = cw_group_finish(c, &g->coord, KAPI_HEARTBEAT, v, corr, &f, c->conf.request_timeout_ms, &frame, &rd);
        if (rc == 0 && kproto_heartbeat_response_decode(&rd, v, &g->arena, &resp) != WEIR_OK) rc = cw_group_malformed(&g->coord, "Heartbeat");
        if (rc == 0) rc = resp.error_code;
        cw_frame_unref(frame);
    }
    if (rc == 0) return;
    if (cw_group_coord_lost(rc)) {
        cw_close(&g->coord);
        g->hb_next = cw_now_ms() + c->conf.retry_backoff_ms;
        return;
    }
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: heartbeat: %s", c->conf.group_id, weir_client_err_str(rc));
    if (cw_group_fence_check(c, rc)) return;
    if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID) g->member_id[0] = '\0';
    if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID || rc == WEIR_KERR_ILLEGAL_GENERATION) g->gen_lost = true;
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
    if (cw_group_sub_resolve(c, &names, &counts, &n) != 0) return;
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
            cw_group_serve_requests(c);
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
            else if (c->conf.auto_commit && now >= g->commit_next) step = cw_group_auto_commit;
            else if (now >= g->meta_next) step = meta_check;
            if (step) {
                if (step == cw_group_auto_commit) g->commit_next = now + c->conf.auto_commit_interval_ms;
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
        cw_group_wait_ms(c, wake);
    }
    /* close: commit what was consumed, revoke, leave */
    pthread_mutex_unlock(&c->lock);
    uint64_t drain;
    if (read(g->wake_fd, &drain, sizeof drain) < 0 && errno != EAGAIN) { /* nothing pending */ }
    cw_group_serve_requests(c);
    leave(c);
    /* Requests queued until here are served; later ones get E_CLOSED (request_run, group_commit.c). */
    pthread_mutex_lock(&c->lock);
    while (g->commits) {
        pthread_mutex_unlock(&c->lock);
        cw_group_serve_requests(c);
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
    g->owned_gen = -1;
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

/* Java's unsubscribe() gives the assignment up before it returns (the
 * listener's onPartitionsRevoked runs in it), and librdkafka's
 * rd_kafka_unsubscribe waits for its main thread to drop the subscription
 * and start the revoke: assign() may follow at once in both. Here the group
 * thread revokes; this waits for it (CG_IDLE), running the REVOKE callback
 * in this thread when the poller has not taken it. A JoinGroup or SyncGroup
 * in flight is cut (it is for a subscription that is gone), so the wait is
 * bounded by the revoke: the callback and one auto commit. Not on the group
 * thread (a commit callback) nor inside the rebalance callback: the group
 * thread waits for those to return. Stops early when the consumer closes or
 * the subscription changes again (sub_gen: the one unsubscribe made). */
void cw_group_leave_wait(struct weir_consumer *c, uint64_t sub_gen)
{
    struct cgroup *g = &c->g;
    if (!g->thread_started) return;
    pthread_mutex_lock(&c->lock);
    pthread_t self = pthread_self();
    bool inside = pthread_equal(g->thread, self) || (g->cb && g->cb->taken && !g->cb->done && pthread_equal(g->cb->thread, self));
    if (g->in_join && !g->join_cut) {
        uint64_t one = 1;
        if (write(g->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            weir_log(WEIR_LOG_WARN, "consumer: eventfd write: %s", strerror(errno));
        g->join_cut = true;
    }
    while (!inside && g->state != CG_IDLE && !g->exited && !g->stop && g->sub_gen == sub_gen) {
        if (callback_take(c)) continue;
        cw_cond_wait_until(&c->cond_data, &c->lock, cw_now_ms() + 50);
    }
    pthread_mutex_unlock(&c->lock);
}

void cw_group_free(struct weir_consumer *c)
{
    struct cgroup *g = &c->g;
    if (!g->inited) return;
    cw_close(&g->coord);
    cw_close(&g->boot);
    cw_group_topics_free(g);
    for (size_t i = 0; i < g->n_sub; i++) weir_free(g->sub[i]);
    weir_free(g->sub);
    weir_free(g->member_id);
    kbuf_free(&g->kb);
    if (g->arena_ok) weir_arena_destroy(&g->arena);
    if (g->cond_ok) pthread_cond_destroy(&g->cond);
    if (g->wake_fd >= 0) close(g->wake_fd);
}

const char *weir_consumer_rebalance_protocol(const struct weir_consumer *c)
{
    if (!c || !c->conf.group_id) return "NONE";
    return cw_assignors_cooperative(c->conf.assignors) ? "COOPERATIVE" : "EAGER";
}

int weir_consumer_assignment(struct weir_consumer *c, struct weir_topic_partition **parts, size_t *n)
{
    if (!c || !parts || !n) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    int rc = cw_positions(c, CW_POS_ALL, parts, n);
    pthread_mutex_unlock(&c->lock);
    return rc;
}
