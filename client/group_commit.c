/* client/group_commit.c: commits and committed offsets. The application's
 * weir_consumer_commit and weir_consumer_committed queue a request for the
 * group thread (request_run), which serves them in order (cw_group_serve_requests):
 * consecutive commits go out pipelined on the coordinator connection, each
 * with the generation it was asked in; auto commit of the moved positions. */
#include "group_int.h"

/* ---- commits and committed offsets ----------------------------------------------------- */

/* Lock held: notes a successful commit on the assigned partition. */
void cw_group_note_committed(struct weir_consumer *c, const char *topic, int32_t partition, int64_t offset)
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
    /* asked in another generation: the partitions may be another member's now */
    if (gen != now_gen) rc = WEIR_KERR_ILLEGAL_GENERATION;
    if (rc == 0) rc = cw_group_coord_up(c);
    size_t *order;
    int32_t *run;
    int32_t n_topics = rc == 0 ? topic_runs(&g->arena, parts, n, &order, &run) : 0;
    struct koffsetcommit_req_topic *topics = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *topics);
    struct koffsetcommit_req_part *rp = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *rp);
    if (rc == 0 && (n_topics < 0 || !topics || !rp)) rc = WEIR_CLIENT_E_NOMEM;
    for (int32_t t = 0, k = 0; rc == 0 && t < n_topics; k += run[t], t++) {
        topics[t] = (struct koffsetcommit_req_topic){ kstr_c(parts[order[k]].topic), &rp[k], run[t] };
        for (int32_t j = k; j < k + run[t]; j++)
            rp[j] = (struct koffsetcommit_req_part){ parts[order[j]].partition, parts[order[j]].offset, -1, kstr_c(""), -1 };
    }
    struct koffsetcommit_req req = {
        .group_id = kstr_c(c->conf.group_id), .generation_id = gen,
        .member_id = kstr_c(gen >= 0 ? g->member_id : ""), .group_instance_id = gen >= 0 ? cw_group_instance_id(c) : KSTR_NULL,
        .topics = topics, .n_topics = n_topics,
    };
    struct kframe f;
    if (rc == 0) rc = cw_group_begin(c, &g->coord, KAPI_OFFSET_COMMIT, &s->v, &s->corr, &f);
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
        rc = cw_group_malformed(&g->coord, "OffsetCommit");
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) parts[i].err = WEIR_CLIENT_E_BAD_MSG; /* unless answered */
        pthread_mutex_lock(&c->lock);
        for (int32_t t = 0; t < resp.n_topics; t++)
            for (int32_t k = 0; k < resp.topics[t].n_partitions; k++) {
                const struct koffsetcommit_resp_part *a = &resp.topics[t].partitions[k];
                for (size_t i = 0; i < n; i++)
                    if (parts[i].partition == a->partition_index && kstr_eq(resp.topics[t].name, parts[i].topic)) {
                        parts[i].err = a->error_code;
                        if (a->error_code == 0) cw_group_note_committed(c, parts[i].topic, parts[i].partition, parts[i].offset);
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
    if (cw_group_coord_lost(rc)) cw_close(&g->coord);
    if (cw_group_fence_check(c, rc)) return;
    if (rc == WEIR_KERR_ILLEGAL_GENERATION || rc == WEIR_KERR_UNKNOWN_MEMBER_ID || rc == WEIR_KERR_REBALANCE_IN_PROGRESS ||
        rc == WEIR_KERR_GROUP_ID_NOT_FOUND) /* v9: the coordinator has no such group */
        g->need_rejoin = true;
    if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID || rc == WEIR_KERR_GROUP_ID_NOT_FOUND) g->member_id[0] = '\0';
    if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID || rc == WEIR_KERR_GROUP_ID_NOT_FOUND || rc == WEIR_KERR_ILLEGAL_GENERATION)
        g->gen_lost = true;
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
    } else if (cw_group_coord_lost(rc)) {
        cw_close(&c->g.coord);
    }
    return rc;
}

/* OffsetFetch of parts[0, n): fills offset (-1 none) and err. */
int cw_group_committed_fetch(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n)
{
    struct cgroup *g = &c->g;
    int rc = cw_group_coord_up(c);
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
    struct koffsetfetch_req req = { .group_id = kstr_c(c->conf.group_id), .topics = topics, .n_topics = n_topics };
    int16_t v;
    int32_t corr;
    struct kframe f;
    if ((rc = cw_group_begin(c, &g->coord, KAPI_OFFSET_FETCH, &v, &corr, &f)) != 0) return rc;
    kproto_offsetfetch_request_encode(&g->kb, v, &req);
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    struct koffsetfetch_resp resp;
    rc = cw_group_finish(c, &g->coord, KAPI_OFFSET_FETCH, v, corr, &f, c->conf.request_timeout_ms, &frame, &rd);
    if (rc == 0 && kproto_offsetfetch_response_decode(&rd, v, &g->arena, &resp) != WEIR_OK)
        rc = cw_group_malformed(&g->coord, "OffsetFetch");
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
    if (cw_group_coord_lost(rc)) cw_close(&g->coord);
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
void cw_group_serve_requests(struct weir_consumer *c)
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
            request_done(c, batch[0], batch[0]->n ? cw_group_committed_fetch(c, batch[0]->parts, batch[0]->n) : 0);
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
            else if (cw_group_coord_lost(err[i])) lost = err[i];
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
void cw_group_auto_commit(struct weir_consumer *c)
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

/* Queues r for the group thread and waits for it, or, async, hands it over
 * (the group thread frees it). */
static int request_run(struct weir_consumer *c, struct cgcommit *r)
{
    struct cgroup *g = &c->g;
    pthread_mutex_lock(&c->lock);
    int refuse = g->exited || !g->thread_started ? WEIR_CLIENT_E_CLOSED : 0;
    if (!refuse && g->fenced && !r->offset_fetch) refuse = WEIR_KERR_FENCED_INSTANCE_ID;
    r->generation = g->state == CG_STABLE ? g->generation : -1;
    /* A member between generations has nothing it may commit (Kafka's RebalanceInProgressException). */
    if (!refuse && !r->offset_fetch && g->n_sub > 0 && g->state != CG_STABLE) refuse = WEIR_KERR_REBALANCE_IN_PROGRESS;
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
        r->parts = cw_group_parts_dup(offsets, n);
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
    if (!r || !(r->parts = cw_group_parts_dup(parts, n))) {
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
