/* net/topic_open.c: a new topic (or a topic's new partitions) exists only
 * once every partition has opened on its owner; a deleted one is gone once
 * every partition's log has closed on its owner (topic_close_all).
 *
 * The store's metadata commit comes first (weir_store_topic_create or
 * weir_store_topic_add_partitions), then one task per partition opens the log
 * on its owner reactor and reports back to the origin reactor, which counts
 * them. When one failed (a full or read-only file system, a limit, a path in
 * the way), the job rolls back before anyone is told: a new topic is deleted
 * (weir_store_topic_delete_begin), a grown one shrinks back
 * (weir_store_topic_shrink_begin); either way the owners close the logs that
 * did open, then the files go. Only then does `done` run, with the first
 * error and a one-line reason for the user.
 *
 * Threads: the job lives on the heap (a request may close meanwhile; the
 * caller keeps its request alive with req->pending). Its counters are touched
 * on the origin reactor only; each slot by its owner, then by the origin. */
#include "net_int.h"

#include <stdio.h>

struct open_slot {
    struct task t;
    struct topic_job *job;
    int32_t partition;
    enum weir_err err;
};

struct topic_job {
    struct broker *b;
    struct reactor *origin;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t from, to;
    int32_t remaining;
    struct topic_open_result res;
    struct weir_topic_deletion *undo;
    void (*done)(const struct topic_open_result *res, void *ctx);
    void *ctx;
    struct open_slot slots[];
};

static void job_finish(struct topic_job *job)
{
    job->res.topic = job->topic;
    job->done(&job->res, job->ctx);
    weir_free(job);
}

/* ---- rollback: owners close what opened, then the files go ------------------------ */

static void undo_back(struct reactor *r, struct task *t)
{
    (void)r;
    struct open_slot *s = weir_container_of(t, struct open_slot, t);
    struct topic_job *job = s->job;
    if (--job->remaining > 0) return;
    weir_store_topic_delete_finish(job->b->store, job->undo);
    job_finish(job);
}

static void undo_owner(struct reactor *r, struct task *t)
{
    struct open_slot *s = weir_container_of(t, struct open_slot, t);
    struct topic_job *job = s->job;
    part_close(r, job->topic, s->partition, weir_store_deletion_take_log(job->undo, s->partition));
    s->t.run = undo_back;
    reactor_post(job->origin, &s->t);
}

static void job_undo(struct topic_job *job)
{
    struct weir_store *st = job->b->store;
    enum weir_err err = job->from == 0 ? weir_store_topic_delete_begin(st, job->topic, &job->undo)
                                       : weir_store_topic_shrink_begin(st, job->topic, job->from, &job->undo);
    if (err != WEIR_OK) { /* deleted meanwhile (nothing to undo), or the metadata cannot be written */
        if (err != WEIR_E_NOT_FOUND)
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot roll back topic %s: %s", job->topic, weir_err_str(err));
        job_finish(job);
        return;
    }
    job->remaining = job->to - job->from;
    for (int32_t i = 0; i < job->to - job->from; i++) {
        job->slots[i].t.run = undo_owner;
        reactor_post(reactor_owner(job->b, job->topic, job->slots[i].partition), &job->slots[i].t);
    }
}

/* ---- opening ------------------------------------------------------------------------ */

static void open_back(struct reactor *r, struct task *t)
{
    (void)r;
    struct open_slot *s = weir_container_of(t, struct open_slot, t);
    struct topic_job *job = s->job;
    if (s->err != WEIR_OK) {
        if (job->res.failed++ == 0) {
            job->res.err = s->err;
            job->res.first_failed = s->partition;
        }
    }
    if (--job->remaining > 0) return;
    if (job->res.err == WEIR_OK) {
        job_finish(job);
        return;
    }
    int32_t n = job->to - job->from;
    snprintf(job->res.why, sizeof job->res.why,
             "%s: partition %d could not be opened: %s (%d of %d new partitions failed; %s)", job->topic,
             job->res.first_failed, weir_err_text(job->res.err), job->res.failed, n,
             job->from == 0 ? "the topic was not created" : "the topic keeps its old partition count");
    job_undo(job);
}

static void open_owner(struct reactor *r, struct task *t)
{
    struct open_slot *s = weir_container_of(t, struct open_slot, t);
    struct part *p;
    s->err = part_open(r, s->job->topic, s->partition, &p);
    if (s->err != WEIR_OK)
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot open partition %s-%d: %s", s->job->topic, s->partition,
                             weir_err_text(s->err));
    s->t.run = open_back;
    reactor_post(s->job->origin, &s->t);
}

void topic_open_all(struct reactor *origin, const char *topic, int32_t from, int32_t to,
                    void (*done)(const struct topic_open_result *res, void *ctx), void *ctx)
{
    WEIR_ASSERT(from >= 0 && from < to);
    struct topic_job *job = weir_calloc(1, sizeof *job + (size_t)(to - from) * sizeof job->slots[0]);
    if (!job) { /* cannot count: reported as failed, the partitions open lazily on first use */
        struct topic_open_result res = { .topic = topic, .err = WEIR_E_NOMEM, .first_failed = from };
        snprintf(res.why, sizeof res.why, "%s: %s", topic, weir_err_text(WEIR_E_NOMEM));
        done(&res, ctx);
        return;
    }
    *job = (struct topic_job){ .b = origin->b, .origin = origin, .from = from, .to = to, .remaining = to - from,
                               .res = { .err = WEIR_OK, .first_failed = -1 }, .done = done, .ctx = ctx };
    snprintf(job->topic, sizeof job->topic, "%s", topic);
    for (int32_t p = from; p < to; p++) {
        struct open_slot *s = &job->slots[p - from];
        *s = (struct open_slot){ .t.run = open_owner, .job = job, .partition = p };
        reactor_post(reactor_owner(origin->b, topic, p), &s->t);
    }
}

/* ---- closing a deleted topic's partitions ---------------------------------------------- */

struct close_job;
struct close_slot {
    struct task t;
    struct reactor_timer retry;  /* the log still has appends in flight */
    struct close_job *job;
    int32_t partition;
    bool unhosted;               /* its replication state has gone */
};
struct close_job {
    struct broker *b;
    struct reactor *origin;
    struct weir_topic_deletion *d;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t remaining;
    void (*done)(void *ctx, const char *topic);
    void *ctx;
    struct close_slot slots[];
};

static void close_back(struct reactor *r, struct task *t)
{
    (void)r;
    struct close_job *job = weir_container_of(t, struct close_slot, t)->job;
    if (--job->remaining > 0) return;
    weir_store_topic_delete_finish(job->b->store, job->d);
    job->done(job->ctx, job->topic);
    weir_free(job);
}

static void close_owner(struct reactor *r, struct task *t);

static void close_retry(struct reactor *r, struct reactor_timer *tm)
{
    close_owner(r, &weir_container_of(tm, struct close_slot, retry)->t);
}

/* Its role goes first (a leader stops leading, a follower fetching); a log
 * closes only once its appends have completed: they complete on this
 * reactor's ring, which the close cannot run (a follower's or a producer's
 * append may still be out when the deletion arrives). */
static void close_owner(struct reactor *r, struct task *t)
{
    struct close_slot *s = weir_container_of(t, struct close_slot, t);
    struct close_job *job = s->job;
    struct part *p = part_find(r, job->topic, s->partition);
    if (p && !s->unhosted) part_unhost(r, p);
    s->unhosted = true;
    if (p && !weir_log_idle(p->log)) {
        s->retry.fire = close_retry;
        reactor_timer_arm(r, &s->retry, weir_clock_ns() + DEL_RETRY_NS);
        return;
    }
    part_close(r, job->topic, s->partition, weir_store_deletion_take_log(job->d, s->partition));
    s->t.run = close_back;
    reactor_post(job->origin, &s->t);
}

void topic_close_all(struct reactor *origin, const char *topic, struct weir_topic_deletion *d, int32_t from,
                     void (*done)(void *ctx, const char *topic), void *ctx)
{
    int32_t n = weir_store_deletion_partitions(d);
    WEIR_ASSERT(from >= 0 && (from == 0 || from < n));
    struct close_job *job = weir_calloc(1, sizeof *job + (size_t)WEIR_MAX(n - from, 1) * sizeof job->slots[0]);
    if (!job) { /* finish closes the logs itself */
        weir_store_topic_delete_finish(origin->b->store, d);
        done(ctx, topic);
        return;
    }
    *job = (struct close_job){ .b = origin->b, .origin = origin, .d = d, .remaining = WEIR_MAX(n - from, 1),
                               .done = done, .ctx = ctx };
    snprintf(job->topic, sizeof job->topic, "%s", topic);
    if (n == from) {
        job->slots[0] = (struct close_slot){ .job = job, .partition = from };
        close_back(origin, &job->slots[0].t);
        return;
    }
    for (int32_t p = from; p < n; p++) {
        job->slots[p - from] = (struct close_slot){ .t.run = close_owner, .job = job, .partition = p };
        reactor_post(reactor_owner(origin->b, topic, p), &job->slots[p - from].t);
    }
}

/* ---- the single node's metadata host -------------------------------------------------- */

struct host_open {
    weir_cluster_done_fn *done;
    void *ctx;
};

static void host_opened(const struct topic_open_result *res, void *ctx)
{
    struct host_open h = *(struct host_open *)ctx;
    weir_free(ctx);
    h.done(h.ctx, res->err, res->why);
}

void topic_host_open(void *ctx, const char *topic, int32_t from, int32_t to, weir_cluster_done_fn *done,
                     void *done_ctx)
{
    (void)ctx;
    struct reactor *origin = reactor_current();
    WEIR_ASSERT(origin);
    struct host_open *h = weir_malloc(sizeof *h);
    if (!h) { /* cannot wait for it: its partitions open lazily on first use */
        done(done_ctx, WEIR_OK, "");
        return;
    }
    *h = (struct host_open){ done, done_ctx };
    topic_open_all(origin, topic, from, to, host_opened, h);
}

static void host_removed(void *ctx, const char *topic)
{
    (void)topic;
    struct host_open h = *(struct host_open *)ctx;
    weir_free(ctx);
    h.done(h.ctx, WEIR_OK, "");
}

static void host_removed_direct(void *ctx, const char *topic)
{
    (void)ctx, (void)topic;
}

void topic_host_remove(void *ctx, const char *topic, struct weir_topic_deletion *d, weir_cluster_done_fn *done,
                       void *done_ctx)
{
    (void)ctx;
    struct reactor *origin = reactor_current();
    WEIR_ASSERT(origin);
    struct host_open *h = weir_malloc(sizeof *h);
    if (!h) { /* cannot wait for it: the logs close in the background */
        topic_close_all(origin, topic, d, 0, host_removed_direct, NULL);
        done(done_ctx, WEIR_OK, "");
        return;
    }
    *h = (struct host_open){ done, done_ctx };
    topic_close_all(origin, topic, d, 0, host_removed, h);
}
