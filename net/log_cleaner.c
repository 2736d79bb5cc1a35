/* net/log_cleaner.c: the broker's log cleaner thread (Kafka's LogCleaner
 * thread, log.cleaner.threads = 1).
 *
 * Every log.cleaner.backoff.ms each reactor looks at the compacted logs it
 * owns (leader or follower alike: Kafka's followers clean their own copy) and
 * begins a pass on those worth it (weir_log_clean_begin: dirty ratio or
 * max.compaction.lag.ms). The job goes to the cleaner thread, which reads and
 * writes files only (weir_clean_job_run); the owner takes the finished job
 * back in a later turn and commits it (weir_log_clean_finish: renames and
 * directory syncs, no data copied), so no reactor waits for a pass.
 *
 * A job is QUEUED (on todo), RUNNING (the thread has it) or DONE (on done,
 * for its owner to take). A partition that closes takes its job back in any
 * state: from todo or done at once, from the thread after waiting for the
 * run to end; then drops it (weir_clean_job_abandon) before its log closes. */
#include "net_int.h"

#include <errno.h>

struct cleaner_job {
    struct weir_clean_job *job;
    struct part *p;              /* its partition, on its owner reactor */
    struct reactor *owner;
    enum { CJ_QUEUED, CJ_RUNNING, CJ_DONE } state;
    struct cleaner_job *next;
};

struct log_cleaner {
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* todo gained a job, stop, or a run ended */
    struct cleaner_job *todo, *done;
    _Atomic unsigned n_done;     /* jobs on done: reactors look only when > 0 */
    bool stop;
    pthread_t thread;
};

static void list_push(struct cleaner_job **head, struct cleaner_job *j)
{
    j->next = NULL;
    while (*head) head = &(*head)->next;
    *head = j;
}

static bool list_remove(struct cleaner_job **head, struct cleaner_job *j)
{
    for (; *head; head = &(*head)->next)
        if (*head == j) {
            *head = j->next;
            return true;
        }
    return false;
}

static void *cleaner_main(void *arg)
{
    struct log_cleaner *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !c->todo) pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) break;
        struct cleaner_job *j = c->todo;
        c->todo = j->next;
        j->state = CJ_RUNNING;
        pthread_mutex_unlock(&c->mu);
        enum weir_err err = weir_clean_job_run(j->job); /* files only: no log state */
        if (err != WEIR_OK)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "cleaner: %s-%d: pass failed: %s (tried again later)", j->p->topic,
                                 j->p->partition, weir_err_text(err));
        pthread_mutex_lock(&c->mu);
        j->state = CJ_DONE;
        list_push(&c->done, j);
        atomic_fetch_add(&c->n_done, 1);
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

enum weir_err log_cleaner_start(struct broker *b)
{
    if (!b->cfg.cleaner_enable) return WEIR_OK;
    struct log_cleaner *c = weir_calloc(1, sizeof *c);
    if (!c) return WEIR_E_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (pthread_create(&c->thread, NULL, cleaner_main, c) != 0) {
        weir_log(WEIR_LOG_ERROR, "cleaner: cannot start its thread: %s", strerror(errno));
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
        weir_free(c);
        return WEIR_E_NOMEM;
    }
    b->cleaner = c;
    return WEIR_OK;
}

/* After the reactors have stopped: every partition has taken its job back. */
void log_cleaner_stop(struct broker *b)
{
    struct log_cleaner *c = b->cleaner;
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    WEIR_ASSERT(!c->todo && !c->done);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    weir_free(c);
    b->cleaner = NULL;
}

/* Owner: commits the jobs of this reactor that the thread has finished. */
static void cleaner_take_done(struct reactor *r, struct log_cleaner *c)
{
    if (atomic_load(&c->n_done) == 0) return;
    pthread_mutex_lock(&c->mu);
    struct cleaner_job *mine = NULL;
    for (struct cleaner_job **link = &c->done; *link;) {
        struct cleaner_job *j = *link;
        if (j->owner != r) {
            link = &j->next;
            continue;
        }
        *link = j->next;
        atomic_fetch_sub(&c->n_done, 1);
        list_push(&mine, j);
    }
    pthread_mutex_unlock(&c->mu);
    for (struct cleaner_job *j = mine, *next; j; j = next) {
        next = j->next;
        j->p->cleaning = NULL;
        enum weir_err err = weir_log_clean_finish(j->p->log, j->job, NULL);
        if (err != WEIR_OK && err != WEIR_E_BUSY)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "cleaner: %s-%d: %s", j->p->topic, j->p->partition,
                                 weir_err_text(err));
        weir_free(j);
    }
}

static void cleaner_begin(struct reactor *r, struct log_cleaner *c, struct part *p, int64_t now_ms)
{
    struct weir_clean_job *job;
    if (p->cleaning || !weir_log_compacted(p->log) || weir_log_clean_begin(p->log, NULL, now_ms, false, &job) != WEIR_OK)
        return;
    struct cleaner_job *j = weir_calloc(1, sizeof *j);
    if (!j) {
        weir_clean_job_abandon(p->log, job);
        return;
    }
    *j = (struct cleaner_job){ .job = job, .p = p, .owner = r, .state = CJ_QUEUED };
    p->cleaning = j;
    pthread_mutex_lock(&c->mu);
    list_push(&c->todo, j);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void cleaner_tick(struct reactor *r, void *ctx, int64_t now_ns)
{
    (void)ctx, (void)now_ns;
    struct log_cleaner *c = r->b->cleaner;
    int64_t now_ms = weir_time_ms(); /* wall clock: segment timestamps and file times are */
    if (!c) return;
    cleaner_take_done(r, c);
    if (now_ms < r->next_clean_ms || atomic_load(&r->b->stopping)) return;
    r->next_clean_ms = now_ms + r->b->cfg.cleaner_backoff_ms;
    for (size_t i = 0; i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i]; p; p = p->hnext) cleaner_begin(r, c, p, now_ms);
}

static void cleaner_part_closing(struct reactor *r, void *ctx, struct part *p)
{
    (void)ctx;
    struct cleaner_job *j = p->cleaning;
    struct log_cleaner *c = r->b->cleaner;
    if (!j) return;
    pthread_mutex_lock(&c->mu);
    while (j->state == CJ_RUNNING) pthread_cond_wait(&c->cv, &c->mu); /* at most one pass */
    if (j->state == CJ_QUEUED) list_remove(&c->todo, j);
    else if (list_remove(&c->done, j)) atomic_fetch_sub(&c->n_done, 1);
    pthread_mutex_unlock(&c->mu);
    weir_clean_job_abandon(p->log, j->job);
    weir_free(j);
    p->cleaning = NULL;
}

static const struct reactor_hook_ops cleaner_hook = { .tick = cleaner_tick, .part_closing = cleaner_part_closing };

void log_cleaner_reactor_init(struct reactor *r) { reactor_hook_add(r, &cleaner_hook, NULL); }
