/* engine/preparer.c: one thread that makes a spare segment for each log that
 * writes fast (so its roll only renames files), seals rolled segments
 * (truncate to true size, fdatasync, write the producer snapshot, advance the
 * recovery checkpoint) off the hot path, and watches the free space of the
 * data directory. Jobs run in FIFO order, so a log's checkpoint only moves
 * forward. Everything it shares with a log's thread is under `mu`, except
 * the disk counters, which are atomics read on every append.
 *
 * Free space: `free_est` is the last statvfs answer minus what logs allocated
 * since; an allocation that would take it below the reserve is refused (logs
 * with reserve access excepted) and sets `low`, as does an ENOSPC. Only a
 * check (every CHECK_MS, or at once when asked) clears `low`, once free space
 * is back above the reserve plus a margin, so refusals do not flap. */
#include "engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/statvfs.h>
#include <time.h>

enum { CHECK_MS = 250 };
#define RESERVE_DEFAULT_MAX ((uint64_t)512 << 20)
#define RESERVE_DEFAULT_PERCENT 5
#define PREALLOC_MAX_DEFAULT ((uint64_t)32 << 20)
#define PREALLOC_BUDGET_DEFAULT ((uint64_t)1 << 30)

enum job_kind { JOB_SPARE, JOB_SEAL };

struct prep_job {
    enum job_kind kind;
    struct weir_log *log;
    struct weir_segment *seg;      /* JOB_SEAL: holds a ref */
    struct weir_log_config cfg;    /* JOB_SPARE: sizes at request time */
    uint64_t alloc;                /* JOB_SPARE: .log bytes to allocate */
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
    bool check_now;                /* mu: a log asked for a free-space check */
    char *watch_dir;               /* NULL: no free-space watching */
    _Atomic uint64_t step_max, budget;
    _Atomic int64_t reserve_set;   /* the policy's reserve_bytes (-1: default) */
    _Atomic uint64_t reserve;      /* in force */
    _Atomic int64_t free_est;
    _Atomic int64_t unused;        /* preallocated, unwritten, all logs */
    atomic_bool low;
    _Atomic uint64_t low_events;
    _Atomic uint64_t refused;      /* largest allocation refused while low: clearing needs room for it */
};

void weir_disk_policy_default(struct weir_disk_policy *p)
{
    *p = (struct weir_disk_policy){ .prealloc_max_bytes = PREALLOC_MAX_DEFAULT,
                                    .prealloc_budget_bytes = PREALLOC_BUDGET_DEFAULT,
                                    .reserve_bytes = -1 };
}

/* ---- free space and the budget --------------------------------------------------- */

uint64_t preparer_step_max(const struct weir_preparer *p)
{
    return p ? atomic_load_explicit(&p->step_max, memory_order_relaxed) : PREALLOC_MAX_DEFAULT;
}

uint64_t preparer_budget_left(const struct weir_preparer *p)
{
    if (!p) return UINT64_MAX;
    int64_t used = atomic_load_explicit(&p->unused, memory_order_relaxed);
    uint64_t budget = atomic_load_explicit(&p->budget, memory_order_relaxed);
    return used <= 0 ? budget : (uint64_t)used >= budget ? 0 : budget - (uint64_t)used;
}

void preparer_charge(struct weir_preparer *p, int64_t delta)
{
    if (p && delta) atomic_fetch_add_explicit(&p->unused, delta, memory_order_relaxed);
}

bool preparer_disk_low(const struct weir_preparer *p)
{
    return p && atomic_load_explicit(&p->low, memory_order_relaxed);
}

/* Low from now on, until a check finds the reserve, a margin and `bytes` free.
 * Each change of state is logged once (the margin keeps it from flapping). */
static void low_set(struct weir_preparer *p, uint64_t bytes, const char *why)
{
    uint64_t r = atomic_load(&p->refused);
    while (bytes > r && !atomic_compare_exchange_weak(&p->refused, &r, bytes)) {}
    if (atomic_exchange(&p->low, true)) return;
    atomic_fetch_add(&p->low_events, 1);
    int64_t free_b = atomic_load(&p->free_est);
    weir_log(WEIR_LOG_ERROR, "disk space low on %s (%s): %" PRId64 " MiB free, reserve %" PRIu64
             " MiB (log.disk.reserve.bytes); produce is refused with KAFKA_STORAGE_ERROR until space "
             "returns", p->watch_dir ? p->watch_dir : "the data directory", why,
             free_b > 0 ? free_b >> 20 : 0, atomic_load(&p->reserve) >> 20);
}

bool preparer_space_take(struct weir_preparer *p, uint64_t bytes, bool reserve_ok)
{
    if (!p || !p->watch_dir || bytes == 0) return true;
    int64_t left = atomic_fetch_sub(&p->free_est, (int64_t)bytes) - (int64_t)bytes;
    if (reserve_ok || left >= (int64_t)atomic_load(&p->reserve)) return true;
    atomic_fetch_add(&p->free_est, (int64_t)bytes);
    return false;
}

void preparer_space_return(struct weir_preparer *p, uint64_t bytes)
{
    if (p && p->watch_dir && bytes) atomic_fetch_add(&p->free_est, (int64_t)bytes);
}

void preparer_space_exhausted(struct weir_preparer *p, uint64_t bytes, bool fs_full)
{
    if (!p) return;
    if (p->watch_dir) low_set(p, bytes, fs_full ? "the file system is full" : "free space would fall below the reserve");
    pthread_mutex_lock(&p->mu);
    p->check_now = true;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

/* statvfs, then low = free < reserve (+ a margin to clear it). */
static void disk_check(struct weir_preparer *p)
{
    struct statvfs sv;
    if (!p->watch_dir || statvfs(p->watch_dir, &sv) != 0) return;
    uint64_t free_b = (uint64_t)sv.f_bavail * sv.f_frsize, size = (uint64_t)sv.f_blocks * sv.f_frsize;
    int64_t set = atomic_load(&p->reserve_set);
    uint64_t reserve = set >= 0 ? (uint64_t)set : WEIR_MIN(RESERVE_DEFAULT_MAX, size / 100 * RESERVE_DEFAULT_PERCENT);
    atomic_store(&p->reserve, reserve);
    atomic_store(&p->free_est, (int64_t)WEIR_MIN(free_b, (uint64_t)INT64_MAX));
    uint64_t margin = WEIR_MIN(reserve / 16, (uint64_t)64 << 20) + atomic_load(&p->refused);
    if (free_b < reserve) {
        low_set(p, 0, "free space is below the reserve");
    } else if (free_b >= reserve + margin && atomic_load(&p->low)) {
        /* Logged before produce resumes, so whoever sees it resume finds the line. */
        weir_log(WEIR_LOG_INFO, "disk space on %s is back: %" PRIu64 " MiB free, reserve %" PRIu64
                 " MiB; produce resumes", p->watch_dir, free_b >> 20, reserve >> 20);
        atomic_store(&p->refused, 0);
        atomic_store(&p->low, false);
    }
}

void weir_preparer_set_policy(struct weir_preparer *p, const struct weir_disk_policy *pol)
{
    atomic_store(&p->step_max, WEIR_MAX(pol->prealloc_max_bytes, (uint64_t)WEIR_PREALLOC_STEP_MIN_BYTES));
    atomic_store(&p->budget, pol->prealloc_budget_bytes);
    atomic_store(&p->reserve_set, pol->reserve_bytes);
    disk_check(p);
}

void weir_preparer_disk_stats(struct weir_preparer *p, struct weir_disk_stats *out)
{
    int64_t free_b = atomic_load(&p->free_est), unused = atomic_load(&p->unused);
    *out = (struct weir_disk_stats){ .free_bytes = free_b > 0 ? (uint64_t)free_b : 0,
                                     .reserve_bytes = atomic_load(&p->reserve),
                                     .prealloc_unused_bytes = unused > 0 ? (uint64_t)unused : 0,
                                     .low = atomic_load(&p->low),
                                     .low_events = atomic_load(&p->low_events) };
}

static void job_run(struct weir_preparer *p, struct prep_job *job)
{
    struct weir_log *log = job->log;
    if (job->kind == JOB_SPARE) {
        pthread_mutex_lock(&p->mu);
        bool have = log->spare.ready || log->spare_taken; /* never reuse names not yet renamed */
        pthread_mutex_unlock(&p->mu);
        if (have) return;
        struct seg_spare sp;
        uint64_t alloc = WEIR_MIN(job->alloc, preparer_budget_left(p));
        if (!preparer_space_take(p, alloc, false)) return; /* the roll creates it inline */
        if (segment_spare_make(log->dir, &job->cfg, "spare", alloc, &sp) != WEIR_OK) {
            weir_log(WEIR_LOG_WARN, "preparer: no spare segment for %s; the next roll creates it inline", log->dir);
            return;
        }
        preparer_charge(p, (int64_t)sp.alloc_len);
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
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (;;) {
        while (!p->head && !p->stop && !p->check_now) {
            if (pthread_cond_timedwait(&p->work_cv, &p->mu, &next) != ETIMEDOUT) continue;
            p->check_now = true;
        }
        if (p->check_now) { /* between jobs, outside the lock: statvfs may block */
            p->check_now = false;
            pthread_mutex_unlock(&p->mu);
            disk_check(p);
            clock_gettime(CLOCK_MONOTONIC, &next);
            next.tv_nsec += (long)CHECK_MS * 1000000L;
            if (next.tv_nsec >= 1000000000L) next.tv_sec++, next.tv_nsec -= 1000000000L;
            pthread_mutex_lock(&p->mu);
            continue;
        }
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

enum weir_err weir_preparer_create(const char *watch_dir, const struct weir_disk_policy *pol,
                                   struct weir_preparer **out)
{
    struct weir_preparer *p = weir_calloc(1, sizeof *p);
    if (!p) return WEIR_E_NOMEM;
    if (watch_dir && !(p->watch_dir = weir_strdup(watch_dir))) {
        weir_free(p);
        return WEIR_E_NOMEM;
    }
    struct weir_disk_policy def;
    weir_disk_policy_default(&def);
    weir_preparer_set_policy(p, pol ? pol : &def);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->work_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->done_cv, NULL);
    if (pthread_create(&p->thread, NULL, preparer_main, p) != 0) {
        weir_free(p->watch_dir);
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
    weir_free(p->watch_dir);
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
        log->spare = (struct seg_spare){ .prefix = "spare", .log_fd = -1 };
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

void preparer_want_spare(struct weir_preparer *p, struct weir_log *log, uint64_t alloc)
{
    struct prep_job *job = weir_calloc(1, sizeof *job);
    if (!job) return; /* the next roll creates its segment inline */
    job->kind = JOB_SPARE;
    job->log = log;
    job->cfg = log->cfg;
    job->alloc = alloc;
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
    if (discard && log->spare.ready) preparer_charge(p, -(int64_t)log->spare.alloc_len);
    if (discard) segment_spare_discard(log->dir, &log->spare);
    pthread_mutex_unlock(&p->mu);
}

void weir_preparer_sync(struct weir_preparer *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->head || p->busy) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
