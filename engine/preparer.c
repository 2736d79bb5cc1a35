/* engine/preparer.c: one thread that keeps a preallocated spare segment ready
 * for each log (so a roll only renames files) and seals rolled segments
 * (truncate to true size, fdatasync, write the producer snapshot, advance the
 * recovery checkpoint) off the hot path. Jobs run in FIFO order, so a log's
 * checkpoint only moves forward. Everything it shares with a log's thread is
 * under `mu`. */
#include "engine_int.h"

#include <inttypes.h>

enum job_kind { JOB_SPARE, JOB_SEAL };

struct prep_job {
    enum job_kind kind;
    struct weir_log *log;
    struct weir_segment *seg;      /* JOB_SEAL: holds a ref */
    struct weir_log_config cfg;    /* JOB_SPARE: sizes at request time */
    int64_t checkpoint;
    uint8_t *snap;                 /* JOB_SEAL: producer snapshot at checkpoint, or NULL */
    size_t snap_len;
    struct prep_job *next;
};

struct weir_preparer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    struct prep_job *head, *tail;
    bool busy;                     /* a job is running */
    bool stop;
};

static void job_run(struct weir_preparer *p, struct prep_job *job)
{
    struct weir_log *log = job->log;
    if (job->kind == JOB_SPARE) {
        pthread_mutex_lock(&p->mu);
        bool have = log->spare.ready || log->spare_taken; /* never reuse names not yet renamed */
        pthread_mutex_unlock(&p->mu);
        if (have) return;
        struct seg_spare sp;
        if (segment_spare_make(log->dir, &job->cfg, "spare", &sp) != WEIR_OK) {
            weir_log(WEIR_LOG_WARN, "preparer: no spare segment for %s; the next roll creates it inline", log->dir);
            return;
        }
        pthread_mutex_lock(&p->mu);
        log->spare = sp;
        pthread_mutex_unlock(&p->mu);
        return;
    }
    enum weir_err err = segment_seal(job->seg, true);
    if (err == WEIR_OK) err = weir_fsync_dir(log->dir);
    /* After the seal: a snapshot never covers batches a crash could lose. Best effort. */
    if (err == WEIR_OK && job->snap) producers_snapshot_write(log->dir, job->checkpoint, job->snap, job->snap_len);
    if (err == WEIR_OK) err = log_checkpoint_write(log->dir, job->checkpoint);
    if (err != WEIR_OK) atomic_store(&log->seal_err, 1);
    weir_free(job->snap);
    segment_put(job->seg);
}

static void *preparer_main(void *arg)
{
    struct weir_preparer *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->head && !p->stop) pthread_cond_wait(&p->work_cv, &p->mu);
        if (!p->head) break;
        struct prep_job *job = p->head;
        p->head = job->next;
        if (!p->head) p->tail = NULL;
        p->busy = true;
        pthread_mutex_unlock(&p->mu);
        job_run(p, job);
        pthread_mutex_lock(&p->mu);
        p->busy = false;
        job->log->jobs_pending--;
        pthread_cond_broadcast(&p->done_cv);
        weir_free(job);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

enum weir_err weir_preparer_create(struct weir_preparer **out)
{
    struct weir_preparer *p = weir_calloc(1, sizeof *p);
    if (!p) return WEIR_E_NOMEM;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (pthread_create(&p->thread, NULL, preparer_main, p) != 0) {
        weir_free(p);
        return WEIR_E_NOMEM;
    }
    *out = p;
    return WEIR_OK;
}

void weir_preparer_destroy(struct weir_preparer *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    WEIR_ASSERT(p->head == NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    weir_free(p);
}

static void job_push(struct weir_preparer *p, struct prep_job *job)
{
    pthread_mutex_lock(&p->mu);
    job->log->jobs_pending++;
    if (p->tail) p->tail->next = job;
    else p->head = job;
    p->tail = job;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

bool preparer_take_spare(struct weir_preparer *p, struct weir_log *log, struct seg_spare *sp)
{
    pthread_mutex_lock(&p->mu);
    bool ready = log->spare.ready;
    if (ready) {
        *sp = log->spare;
        log->spare = (struct seg_spare){ .prefix = "spare", .log_fd = -1, .index_fd = -1, .time_fd = -1 };
        log->spare_taken = true;
    }
    pthread_mutex_unlock(&p->mu);
    return ready;
}

void preparer_spare_done(struct weir_preparer *p, struct weir_log *log)
{
    pthread_mutex_lock(&p->mu);
    log->spare_taken = false;
    pthread_mutex_unlock(&p->mu);
}

void preparer_want_spare(struct weir_preparer *p, struct weir_log *log)
{
    struct prep_job *job = weir_calloc(1, sizeof *job);
    if (!job) return; /* the next roll creates its segment inline */
    job->kind = JOB_SPARE;
    job->log = log;
    job->cfg = log->cfg;
    job_push(p, job);
}

void preparer_seal(struct weir_preparer *p, struct weir_log *log, struct weir_segment *seg, int64_t checkpoint_offset,
                   uint8_t *snap, size_t snap_len)
{
    struct prep_job *job = weir_calloc(1, sizeof *job);
    if (!job) { /* seal inline rather than lose the checkpoint */
        bool ok = segment_seal(seg, true) == WEIR_OK;
        if (ok && snap) producers_snapshot_write(log->dir, checkpoint_offset, snap, snap_len);
        if (!ok || log_checkpoint_write(log->dir, checkpoint_offset) != WEIR_OK) atomic_store(&log->seal_err, 1);
        weir_free(snap);
        return;
    }
    atomic_fetch_add(&seg->refs, 1);
    job->kind = JOB_SEAL;
    job->log = log;
    job->seg = seg;
    job->checkpoint = checkpoint_offset;
    job->snap = snap;
    job->snap_len = snap_len;
    job_push(p, job);
}

void preparer_wait(struct weir_preparer *p, struct weir_log *log, bool discard)
{
    pthread_mutex_lock(&p->mu);
    while (log->jobs_pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    if (discard) segment_spare_discard(log->dir, &log->spare);
    pthread_mutex_unlock(&p->mu);
}

void weir_preparer_sync(struct weir_preparer *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->head || p->busy) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
