/* engine/appender.c: the io_uring append path shared by many logs.
 *
 * Each run: every log with pending appends and no write group in flight
 * starts one group (its pending batches, contiguous in the active segment,
 * as one writev; an fdatasync linked after it when the flush policy asks;
 * an fsync of the directory when a roll created files), all groups go down
 * in one io_uring_submit, then completions are reaped as a batch before any
 * callback runs. While a group is in flight, new appends to that log wait,
 * so the next group carries all of them under one fdatasync: group commit.
 * A group's appends complete (and become visible) only when every op of the
 * group has completed: after the fdatasync when there is one. An I/O error
 * fails the whole log (sticky, never retried). A full disk (ENOSPC from the
 * allocation ahead of the write, or a short write) only fails the group's and
 * the pending appends with WEIR_E_NOSPACE: their offsets are taken back, the
 * bytes past the visible end are overwritten by the next write. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

enum { REAP_BATCH = 64, GROUP_BYTES_MAX = 1u << 30, GROUP_SQES_MAX = 3 };

const int64_t weir_fsync_bucket_ns[WEIR_FSYNC_BUCKETS] = {
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000,
    500000000, 1000000000, 2500000000,
};

static void group_write_cb(struct weir_uop *op, int32_t res, uint32_t flags);
static void group_fsync_cb(struct weir_uop *op, int32_t res, uint32_t flags);
static void group_dir_cb(struct weir_uop *op, int32_t res, uint32_t flags);

enum weir_err weir_appender_create(unsigned entries, struct weir_appender **out)
{
    struct weir_appender *ap = weir_calloc(1, sizeof *ap);
    if (!ap) return WEIR_E_NOMEM;
    int rc = io_uring_queue_init(entries, &ap->own_ring, 0);
    if (rc < 0) {
        weir_log(WEIR_LOG_ERROR, "appender: io_uring_queue_init(%u): %s", entries, strerror(-rc));
        weir_free(ap);
        return rc == -ENOMEM ? WEIR_E_NOMEM : WEIR_E_UNSUPPORTED;
    }
    ap->ring = &ap->own_ring;
    *out = ap;
    return WEIR_OK;
}

enum weir_err weir_appender_create_on(struct io_uring *ring, struct weir_appender **out)
{
    struct weir_appender *ap = weir_calloc(1, sizeof *ap);
    if (!ap) return WEIR_E_NOMEM;
    ap->ring = ring;
    ap->external = true;
    *out = ap;
    return WEIR_OK;
}

void weir_appender_destroy(struct weir_appender *ap)
{
    if (!ap) return;
    WEIR_ASSERT(ap->inflight_ops == 0 && ap->n_logs == 0);
    if (!ap->external) io_uring_queue_exit(&ap->own_ring);
    weir_free(ap->logs);
    weir_free(ap);
}

void appender_log_add(struct weir_appender *ap, struct weir_log *log)
{
    if (ap->n_logs == ap->cap_logs) {
        unsigned cap = ap->cap_logs ? ap->cap_logs * 2 : 16;
        struct weir_log **logs = weir_realloc(ap->logs, cap * sizeof *logs);
        WEIR_ASSERT(logs); /* setup path; a broker cannot run without it */
        ap->logs = logs;
        ap->cap_logs = cap;
    }
    ap->logs[ap->n_logs++] = log;
}

void appender_log_remove(struct weir_appender *ap, struct weir_log *log)
{
    WEIR_ASSERT(!log->group_busy && !log->pending_head);
    for (unsigned i = 0; i < ap->n_logs; i++)
        if (ap->logs[i] == log) ap->logs[i] = ap->logs[--ap->n_logs];
    struct weir_log **link = &ap->dirty_head, *prev = NULL;
    for (; *link; prev = *link, link = &(*link)->dirty_next) {
        if (*link != log) continue;
        *link = log->dirty_next;
        if (ap->dirty_tail == log) ap->dirty_tail = prev;
        break;
    }
    log->on_dirty_list = false;
}

void appender_mark_dirty(struct weir_appender *ap, struct weir_log *log)
{
    if (log->on_dirty_list) return;
    log->on_dirty_list = true;
    log->dirty_next = NULL;
    if (ap->dirty_tail) ap->dirty_tail->dirty_next = log;
    else ap->dirty_head = log;
    ap->dirty_tail = log;
}

static struct weir_log *dirty_pop(struct weir_appender *ap)
{
    struct weir_log *log = ap->dirty_head;
    if (!log) return NULL;
    ap->dirty_head = log->dirty_next;
    if (!ap->dirty_head) ap->dirty_tail = NULL;
    log->on_dirty_list = false;
    return log;
}

static struct io_uring_sqe *sqe_get(struct weir_appender *ap, struct weir_uop *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ap->ring);
    WEIR_ASSERT(sqe); /* group_start checked space for a whole group */
    io_uring_sqe_set_data(sqe, op);
    ap->inflight_ops++;
    return sqe;
}

static void appends_complete(struct weir_log *log, struct weir_append *a, enum weir_err err)
{
    while (a) {
        struct weir_append *next = a->next; /* on_done may free a */
        a->err = err;
        producers_done(log, a);
        a->on_done(a);
        a = next;
    }
}

/* ---- building a group -------------------------------------------------------- */

/* An append's batches fit the segment: bytes, and an index and a time entry
 * each plus the closing time entry. */
static bool batch_fits(const struct weir_log *log, const struct weir_segment *seg, const struct weir_append *a)
{
    uint64_t len = a->len, n = (uint64_t)a->batches;
    if (seg->size_queued + len > seg->map_len) return false;
    if (seg->index_count + n + 1 > seg->index_cap || seg->time_count + n + 2 > seg->time_cap) return false;
    return seg->size_queued == 0 || seg->size_queued + len <= log->cfg.segment_bytes;
}

static bool roll_due(const struct weir_log *log, const struct weir_segment *seg, const struct weir_append *next,
                     int64_t now_ms)
{
    if (seg->size_queued == 0) return false;
    return now_ms - seg->created_ms >= log->cfg.segment_ms || !batch_fits(log, seg, next);
}

/* Moves pending appends into the group while they fit the active segment. */
static void group_take(struct weir_log *log, struct log_group *g, struct weir_segment *seg)
{
    struct weir_append *a;
    while ((a = log->pending_head) && g->n < GROUP_IOV_MAX && batch_fits(log, seg, a) &&
           (g->n == 0 || g->len + a->len <= GROUP_BYTES_MAX)) {
        if (a->replica && a->base_offset != log->offset_queued) break; /* an append before it failed */
        log->pending_head = a->next;
        if (!log->pending_head) log->pending_tail = NULL;
        a->next = NULL;
        if (!a->replica) {
            a->base_offset = log->offset_queued;
            weir_batch_set_base_offset(a->batch, a->base_offset);
            if (log->leader_epoch != WEIR_EPOCH_NONE) weir_batch_set_leader_epoch(a->batch, log->leader_epoch);
        }
        log->offset_queued += a->records;
        seg->size_queued += a->len;
        seg->offset_queued_next = log->offset_queued;
        g->iov[g->n++] = (struct iovec){ a->batch, a->len };
        g->len += a->len;
        g->records += a->records;
        if (g->tail) g->tail->next = a;
        else g->head = a;
        g->tail = a;
    }
}

static bool flush_due(const struct weir_log *log, int64_t records, int64_t now_ms)
{
    const struct weir_log_config *c = &log->cfg;
    if (log->unflushed_records + records >= c->flush_messages) return true;
    if (c->flush_ms == INT64_MAX) return false;
    if (c->flush_ms == 0) return true;
    return log->unflushed_since_ms != 0 && now_ms - log->unflushed_since_ms >= c->flush_ms;
}

/* Takes back the offsets and bytes of group g, none of which became visible. */
static void group_undo(struct weir_log *log, struct log_group *g)
{
    WEIR_ASSERT(log->offset_queued == g->offset_next && g->seg->size == g->pos);
    log->offset_queued = g->offset_first;
    g->seg->size_queued = g->pos;
    g->seg->offset_queued_next = g->offset_first;
    log_charge(log);
}

/* The disk is full: every pending append fails, retriably. */
static void pending_nospace(struct weir_log *log)
{
    struct weir_append *pending = log->pending_head;
    log->pending_head = log->pending_tail = NULL;
    for (struct weir_append *a = pending; a; a = a->next) log->stats.nospace_refusals++;
    appends_complete(log, pending, WEIR_E_NOSPACE);
}

/* The disk is full: the group's appends and every pending one fail, retriably. */
static void group_nospace(struct weir_log *log, struct log_group *g)
{
    group_undo(log, g);
    log->stats.nospace_refusals += g->n;
    appends_complete(log, g->head, WEIR_E_NOSPACE);
    pending_nospace(log);
}

/* Allocates the group's bytes ahead of its write; asks for a spare segment
 * when the log writes at the largest step past half its segment. */
static enum weir_err group_reserve(struct weir_log *log, struct log_group *g, int64_t now_ms)
{
    struct weir_segment *seg = g->seg;
    enum weir_err err = segment_reserve(log, seg, g->pos + g->len, now_ms);
    if (err == WEIR_OK) log_charge(log); /* the group's bytes are no longer ahead of the data */
    if (err == WEIR_OK && log->prep && !log->spare_asked && seg->size_queued > log->cfg.segment_bytes / 2 &&
        log->prealloc_step >= preparer_step_max(log->prep) && preparer_budget_left(log->prep) >= log->prealloc_step) {
        log->spare_asked = true;
        preparer_want_spare(log->prep, log, log->prealloc_step);
    }
    return err;
}

/* The directory fd lives only while its fsync is due (one fd per log otherwise). */
static bool group_dir_open(struct weir_log *log)
{
    if (log->dir_fd < 0) log->dir_fd = weir_io->open(log->dir, O_RDONLY | O_DIRECTORY, 0);
    return log->dir_fd >= 0;
}

/* Queues the SQEs of one group for log: writes when it has pending appends,
 * or a lone fdatasync when `sync_only`. No group of log may be in flight. */
static void group_start(struct weir_appender *ap, struct weir_log *log, int64_t now_ms, bool sync_only)
{
    WEIR_ASSERT(!log->group_busy);
    struct log_group *g = &log->group;
    *g = (struct log_group){ .write_op.cb = group_write_cb, .fsync_op.cb = group_fsync_cb, .dir_op.cb = group_dir_cb };
    if (atomic_load(&log->seal_err) != 0) log_fail(log, WEIR_E_IO, "sealing a rolled segment", 0);
    if (log->failed != WEIR_OK) return;
    if (!sync_only && log_files_change(log) != WEIR_OK) return; /* log_fail answered every append */
    struct weir_segment *seg = log_active(log);
    if (!sync_only && roll_due(log, seg, log->pending_head, now_ms)) {
        enum weir_err err = log_roll_now(log);
        if (err == WEIR_E_NOSPACE) { /* no room for the next segment: the old one stays active */
            preparer_space_exhausted(log->prep, log->pending_head->len, true);
            pending_nospace(log);
            return;
        }
        if (err != WEIR_OK) {
            log_fail(log, err, "roll", errno);
            return;
        }
        seg = log_active(log);
    }
    g->seg = seg;
    g->pos = seg->size_queued;
    g->offset_first = log->offset_queued;
    if (!sync_only) group_take(log, g, seg);
    if (g->n == 0 && !sync_only) { /* larger than an empty segment can map, or a replica gap */
        struct weir_append *a = log->pending_head;
        log->pending_head = a->next;
        if (!log->pending_head) log->pending_tail = NULL;
        a->next = NULL;
        appends_complete(log, a, a->replica && a->base_offset != log->offset_queued ? WEIR_E_OFFSET_RANGE
                                                                                     : WEIR_E_TOO_LARGE);
        if (log->pending_head) appender_mark_dirty(ap, log);
        return;
    }
    g->offset_next = log->offset_queued;
    if (g->n > 0) {
        enum weir_err err = group_reserve(log, g, now_ms);
        if (err == WEIR_E_NOSPACE) {
            group_nospace(log, g);
            return;
        }
        if (err != WEIR_OK) {
            int errnum = errno;
            group_undo(log, g);
            appends_complete(log, g->head, WEIR_E_IO);
            log_fail(log, WEIR_E_IO, "allocate segment space", errnum);
            return;
        }
    }
    g->fsync = sync_only || flush_due(log, g->records, now_ms);
    if (g->fsync && log->dir_dirty && !group_dir_open(log)) {
        int errnum = errno;
        if (g->n > 0) group_undo(log, g);
        appends_complete(log, g->head, WEIR_E_IO);
        log_fail(log, WEIR_E_IO, "open the directory to sync it", errnum);
        return;
    }
    if (seg->created_ms == 0) seg->created_ms = now_ms;
    if (g->n > 0) {
        struct io_uring_sqe *sqe = sqe_get(ap, &g->write_op);
        io_uring_prep_writev(sqe, seg->log_fd, g->iov, g->n, g->pos);
        if (g->fsync) sqe->flags |= IOSQE_IO_LINK; /* the sync starts after the write */
        g->ops_pending++;
        ap->stats.writes++;
    }
    if (g->fsync) {
        io_uring_prep_fsync(sqe_get(ap, &g->fsync_op), seg->log_fd, IORING_FSYNC_DATASYNC);
        g->ops_pending++;
        ap->stats.fsyncs++;
        g->fsync_start_ns = weir_clock_ns();
        if (log->dir_dirty) {
            io_uring_prep_fsync(sqe_get(ap, &g->dir_op), log->dir_fd, 0);
            g->ops_pending++;
            log->dir_dirty = false;
        }
    }
    log->group_busy = true;
    ap->groups_busy++;
    WEIR_DASSERT(log_check(log, false));
}

/* ---- completing a group ------------------------------------------------------- */

static void group_finish(struct weir_log *log)
{
    struct weir_appender *ap = log->ap;
    struct log_group *g = &log->group;
    log->group_busy = false;
    ap->groups_busy--;
    if (log->dir_fd >= 0 && !log->dir_dirty) { /* its fsync (if any) has completed */
        close(log->dir_fd);
        log->dir_fd = -1;
    }
    if (g->n > 0 && (g->write_res == -ENOSPC || g->write_res == -EDQUOT ||
                     (g->write_res >= 0 && (uint64_t)g->write_res < g->len))) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "partition %s: write of %" PRIu64 " bytes: %s; appends refused until space returns",
                 log->dir, g->len, g->write_res < 0 ? strerror(-g->write_res) : "short write (disk full)");
        preparer_space_exhausted(log->prep, g->len, true);
        group_nospace(log, g);
        return;
    }
    const char *what = NULL;
    int errnum = 0;
    if (g->n > 0 && g->write_res < 0) what = "writev", errnum = -g->write_res;
    else if (g->fsync && g->fsync_res < 0) what = "fdatasync", errnum = -g->fsync_res;
    else if (g->dir_res < 0) what = "fsync of the directory", errnum = -g->dir_res;
    if (what) {
        appends_complete(log, g->head, WEIR_E_IO);
        log_fail(log, WEIR_E_IO, what, errnum);
        return;
    }
    uint64_t pos = g->pos;
    for (struct weir_append *a = g->head; a; a = a->next) {
        if (!a->replica) {
            segment_batch_done(log, g->seg, pos, a->len, a->base_offset, a->base_offset + a->records, a->max_timestamp);
            pos += a->len;
            continue;
        }
        for (size_t at = 0; at < a->len;) { /* validated at weir_log_append_replica */
            const uint8_t *b = a->batch + at;
            uint64_t len = (uint64_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
            int64_t base = (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET);
            segment_batch_done(log, g->seg, pos, len, base, base + (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA) + 1,
                               (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_MAX_TS));
            pos += len;
            at += len;
        }
    }
    if (g->fsync) {
        log->offset_flushed = g->offset_next;
        log->unflushed_records = 0;
        log->unflushed_since_ms = 0;
    } else if (g->n > 0) {
        log->unflushed_records += g->records;
        if (log->unflushed_since_ms == 0) log->unflushed_since_ms = weir_time_ms();
    }
    ap->stats.batches += g->n;
    if (g->n > 0) log->changed = true;
    ap->stats.bytes += g->len;
    WEIR_DASSERT(log_check(log, false));
    appends_complete(log, g->head, WEIR_OK);
    if (log->pending_head) appender_mark_dirty(ap, log);
    if (g->n > 0 && log->on_advance) log->on_advance(log->on_advance_ctx, log);
    if (g->n > 0 && log->hw_follows) log_hw_set(log, weir_log_end_offset(log));
}

static int32_t fault_apply(uint64_t *seen, uint64_t nth, int32_t fault_res, int32_t res)
{
    return (++*seen == nth && nth != 0) ? fault_res : res;
}

static void group_op_done(struct log_group *g)
{
    struct weir_appender *ap = weir_container_of(g, struct weir_log, group)->ap;
    WEIR_ASSERT(g->ops_pending > 0 && ap->inflight_ops > 0);
    ap->inflight_ops--;
    if (--g->ops_pending == 0) group_finish(weir_container_of(g, struct weir_log, group));
}

static void group_write_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct log_group *g = weir_container_of(op, struct log_group, write_op);
    struct weir_appender *ap = weir_container_of(g, struct weir_log, group)->ap;
    g->write_res = fault_apply(&ap->write_seen, ap->fault.write_nth, ap->fault.write_res, res);
    group_op_done(g);
}

static void group_fsync_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct log_group *g = weir_container_of(op, struct log_group, fsync_op);
    struct weir_appender *ap = weir_container_of(g, struct weir_log, group)->ap;
    g->fsync_res = fault_apply(&ap->fsync_seen, ap->fault.fsync_nth, ap->fault.fsync_res, res);
    int64_t took = weir_clock_ns() - g->fsync_start_ns;
    unsigned b = 0;
    while (b < WEIR_FSYNC_BUCKETS && took > weir_fsync_bucket_ns[b]) b++;
    ap->stats.fsync_hist[b]++;
    ap->stats.fsync_ns += (uint64_t)took;
    group_op_done(g);
}

static void group_dir_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct log_group *g = weir_container_of(op, struct log_group, dir_op);
    g->dir_res = res;
    group_op_done(g);
}

/* ---- the loop ----------------------------------------------------------------- */

static bool ring_has_room(struct weir_appender *ap)
{
    /* Bound in-flight ops by the CQ size so completions never overflow. */
    return io_uring_sq_space_left(ap->ring) >= GROUP_SQES_MAX &&
           ap->inflight_ops + GROUP_SQES_MAX <= ap->ring->cq.ring_entries;
}

static void prepare_phase(struct weir_appender *ap, int64_t now_ms)
{
    struct weir_log *log;
    while (ring_has_room(ap) && (log = dirty_pop(ap))) {
        if (log->group_busy || !log->pending_head) continue; /* group_finish marks it again */
        group_start(ap, log, now_ms, false);
    }
}

static void submit_phase(struct weir_appender *ap, int64_t now_ms)
{
    prepare_phase(ap, now_ms);
    if (io_uring_sq_ready(ap->ring) == 0) return;
    int rc;
    do rc = io_uring_submit(ap->ring);
    while (rc == -EINTR || rc == -EAGAIN);
    if (rc < 0) weir_panic("appender: io_uring_submit: %s", strerror(-rc)); /* EINVAL/EFAULT: our bug */
    ap->stats.submits++;
}

void weir_appender_prepare(struct weir_appender *ap, int64_t now_ms)
{
    uint64_t before = ap->stats.writes + ap->stats.fsyncs;
    prepare_phase(ap, now_ms);
    if (ap->stats.writes + ap->stats.fsyncs != before) ap->stats.submits++;
}

static unsigned reap_phase(struct weir_appender *ap, bool wait)
{
    unsigned total = 0;
    if (wait && ap->inflight_ops > 0) {
        struct io_uring_cqe *cqe;
        int rc;
        do rc = io_uring_wait_cqe(ap->ring, &cqe);
        while (rc == -EINTR || rc == -EAGAIN);
        if (rc < 0) weir_panic("appender: io_uring_wait_cqe: %s", strerror(-rc));
    }
    for (;;) {
        struct io_uring_cqe *cqes[REAP_BATCH];
        struct { struct weir_uop *op; int32_t res; uint32_t flags; } done[REAP_BATCH];
        unsigned n = io_uring_peek_batch_cqe(ap->ring, cqes, REAP_BATCH);
        if (n == 0) break;
        for (unsigned i = 0; i < n; i++) {
            done[i].op = io_uring_cqe_get_data(cqes[i]);
            done[i].res = cqes[i]->res;
            done[i].flags = cqes[i]->flags;
        }
        io_uring_cq_advance(ap->ring, n); /* CQ slots free before callbacks queue more */
        for (unsigned i = 0; i < n; i++) done[i].op->cb(done[i].op, done[i].res, done[i].flags);
        total += n;
    }
    return total;
}

int weir_appender_run(struct weir_appender *ap, bool wait)
{
    WEIR_ASSERT(!ap->external);
    uint64_t before = ap->stats.batches;
    int64_t now_ms = weir_time_ms();
    submit_phase(ap, now_ms);
    reap_phase(ap, wait);
    submit_phase(ap, now_ms); /* logs freed by completions go down at once */
    return (int)(ap->stats.batches - before);
}

bool weir_appender_idle(const struct weir_appender *ap)
{
    return ap->inflight_ops == 0 && ap->dirty_head == NULL;
}

void weir_appender_drain(struct weir_appender *ap)
{
    for (uint64_t i = 0; !weir_appender_idle(ap); i++) {
        WEIR_ASSERT(i < UINT32_MAX);
        weir_appender_run(ap, true);
    }
}

void weir_appender_tick(struct weir_appender *ap, int64_t now_ms)
{
    for (unsigned i = 0; i < ap->n_logs && ring_has_room(ap); i++) {
        struct weir_log *log = ap->logs[i];
        const struct weir_log_config *c = &log->cfg;
        if (log->group_busy || log->failed != WEIR_OK || log->unflushed_records == 0 || c->flush_ms == INT64_MAX)
            continue;
        if (now_ms - log->unflushed_since_ms >= c->flush_ms) group_start(ap, log, now_ms, true);
    }
    if (!ap->external && io_uring_sq_ready(ap->ring) > 0) {
        int rc = io_uring_submit(ap->ring);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN) weir_panic("appender: io_uring_submit: %s", strerror(-rc));
    }
}

void weir_appender_stats(const struct weir_appender *ap, struct weir_appender_stats *out) { *out = ap->stats; }

void weir_appender_fault_set(struct weir_appender *ap, const struct weir_appender_fault *f)
{
    ap->fault = *f;
    ap->write_seen = ap->fsync_seen = 0;
}
