/* engine/log.c: a partition log: its segments, open/recovery, reads, roll,
 * retention and truncation. The append path is in appender.c.
 *
 * Files in the log directory:
 *   <20-digit base offset>.log/.index/.timeindex   segments
 *   recovery-checkpoint   segments below this base offset need no scan
 *   <20 digits>.snapshot  producer state after every batch below that offset (producers.c)
 *   leader-epoch-checkpoint  epoch -> start offset (epochs.c); only once the log had an epoch
 *   log-start-offset      text: the log start moved by weir_log_advance_start (DeleteRecords),
 *                         which may lie inside the first segment; absent: the first segment's base
 *   cleaner-offset-checkpoint  text: segments below it were compacted (cleaner.c): gaps allowed
 *   <base>.*.cleaned / .swap   a cleaner pass in progress (cleaner.c finishes or drops it at open)
 *   clean-shutdown        present only between a clean close and the next open
 *   spare.* / inline.*    preallocated next segment (discarded at open) */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLEAN_MARKER "clean-shutdown"
#define CHECKPOINT_FILE LOG_CHECKPOINT_FILE
#define LOG_START_FILE "log-start-offset"

void log_fail(struct weir_log *log, enum weir_err why, const char *what, int errnum)
{
    if (log->failed != WEIR_OK) return;
    /* The page cache may now hold bytes the disk lacks: no more appends until
     * the log is reopened and recovered from disk. */
    log->failed = why;
    WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "partition %s is read-only: %s: %s (%s)", log->dir, what,
             errnum ? strerror(errnum) : "-", weir_err_str(why));
    struct weir_append *a = log->pending_head;
    log->pending_head = log->pending_tail = NULL;
    while (a) {
        struct weir_append *next = a->next;
        a->err = WEIR_E_FAILED;
        producers_done(log, a);
        a->on_done(a);
        a = next;
    }
}

bool log_check(const struct weir_log *log, bool full)
{
    if (log->n_segs == 0 || log->n_segs > log->cap_segs) return false;
    const struct weir_segment *active = log_active(log);
    for (unsigned i = full ? 0 : log->n_segs - 1; i < log->n_segs; i++) {
        const struct weir_segment *seg = log->segs[i];
        if (!segment_check(seg, full)) return false;
        if (i + 1 < log->n_segs && (seg->offset_next != log->segs[i + 1]->base_offset ||
                                    seg->size != seg->size_queued || !seg->sealed))
            return false;
    }
    int64_t end = active->offset_next;
    if (log->offset_flushed > end || end > log->offset_queued || log->offset_queued != active->offset_queued_next)
        return false;
    int64_t hw = __atomic_load_n(&log->hw, __ATOMIC_RELAXED);
    if (hw > end || hw < log->segs[0]->base_offset) return false;
    if (!epochs_valid(&log->epochs, log->pending_head ? WEIR_MAX(log->pending_next, log->offset_queued)
                                                      : log->offset_queued))
        return false;
    if (log->failed == WEIR_OK && !active->sealed && active->alloc_len < active->size) return false;
    uint64_t unused = active->alloc_len > active->size_queued ? active->alloc_len - active->size_queued : 0;
    return log->prealloc_charged == unused || log->closing || !log->prep;
}

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

enum weir_err log_offset_file_write(const char *dir, const char *name, int64_t offset)
{
    char path[4096], text[32];
    path_join(path, sizeof path, dir, name);
    int n = snprintf(text, sizeof text, "%" PRId64 "\n", offset);
    return weir_write_file_atomic(path, text, (size_t)n);
}

enum weir_err log_checkpoint_write(const char *dir, int64_t base_offset)
{
    return log_offset_file_write(dir, CHECKPOINT_FILE, base_offset);
}

static enum weir_err log_start_write(const char *dir, int64_t offset)
{
    return log_offset_file_write(dir, LOG_START_FILE, offset);
}

int64_t log_offset_file_read(const char *dir, const char *name)
{
    char path[4096], *text = NULL;
    path_join(path, sizeof path, dir, name);
    if (weir_read_file(path, 64, &text, NULL) != WEIR_OK) return INT64_MIN;
    char *end;
    long long v = strtoll(text, &end, 10);
    bool ok = end != text && (*end == '\n' || *end == '\0');
    weir_free(text);
    return ok ? v : INT64_MIN;
}

static enum weir_err segs_push(struct weir_log *log, struct weir_segment *seg)
{
    if (log->n_segs == log->cap_segs) {
        unsigned cap = log->cap_segs ? log->cap_segs * 2 : 8;
        struct weir_segment **segs = weir_realloc(log->segs, cap * sizeof *segs);
        if (!segs) return WEIR_E_NOMEM;
        log->segs = segs;
        log->cap_segs = cap;
    }
    log->segs[log->n_segs++] = seg;
    return WEIR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lists segment base offsets (sorted); removes leftovers of interrupted work. */
static enum weir_err log_list(struct weir_log *log, int64_t **bases, unsigned *n)
{
    DIR *d = opendir(log->dir);
    if (!d) return WEIR_E_IO;
    unsigned cap = 16, count = 0;
    int64_t *v = weir_malloc(cap * sizeof *v);
    struct dirent *e;
    while (v && (e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (!strncmp(name, "spare.", 6) || !strncmp(name, "inline.", 7) ||
            (len > 4 && !strcmp(name + len - 4, ".tmp"))) {
            char path[4096];
            path_join(path, sizeof path, log->dir, name);
            weir_io->unlink(path);
            continue;
        }
        if (len != SEGMENT_NAME_DIGITS + 4 || strcmp(name + SEGMENT_NAME_DIGITS, ".log") != 0) continue;
        if (strspn(name, "0123456789") != SEGMENT_NAME_DIGITS) continue;
        if (count == cap) {
            int64_t *nv = weir_realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        v[count++] = strtoll(name, NULL, 10);
    }
    closedir(d);
    if (!v || count > cap) {
        weir_free(v);
        return WEIR_E_NOMEM;
    }
    qsort(v, count, sizeof *v, cmp_i64);
    *bases = v;
    *n = count;
    return WEIR_OK;
}

/* Deletes segments [from, n): unreachable after a recovery cut before them. */
static void log_drop_after(struct weir_log *log, unsigned from)
{
    for (unsigned i = from; i < log->n_segs; i++) {
        weir_log(WEIR_LOG_WARN, "recovery: deleting %s.log: it follows a cut at offset %" PRId64,
                 log->segs[i]->path_base, log->segs[from - 1]->offset_next);
        log->stats.recovered_bytes_cut += log->segs[i]->size;
        segment_unlink(log->segs[i]);
        segment_put(log->segs[i]);
    }
    log->n_segs = from;
}

static enum weir_err log_load(struct weir_log *log, bool clean)
{
    int64_t *bases = NULL;
    unsigned n = 0;
    enum weir_err err = cleaner_recover_files(log->dir);
    if (err == WEIR_OK) err = log_list(log, &bases, &n);
    int64_t checkpoint = clean ? INT64_MAX : log_offset_file_read(log->dir, CHECKPOINT_FILE);
    for (unsigned i = 0; err == WEIR_OK && i < n; i++) {
        bool trusted = clean || (i + 1 < n && bases[i + 1] <= checkpoint);
        struct weir_segment *seg;
        err = segment_open(log, bases[i], trusted, &seg);
        if (err == WEIR_OK) err = segs_push(log, seg);
        if (err != WEIR_OK) break;
        struct weir_segment *prev = log->n_segs > 1 ? log->segs[log->n_segs - 2] : NULL;
        if (prev && prev->offset_next < seg->base_offset && seg->base_offset <= log->cleaned_below) {
            prev->offset_next = prev->offset_queued_next = seg->base_offset; /* compaction's gap */
        } else if (prev && prev->offset_next != seg->base_offset) {
            log_drop_after(log, log->n_segs - 1);
            break;
        }
        if (!trusted && i + 1 < n && seg->size > 0) { /* recovered, and not the last: reseal */
            segment_seal_mark(seg);
            err = segment_seal(seg, true);
        }
    }
    weir_free(bases);
    return err;
}

static enum weir_err log_open_files(struct weir_log *log)
{
    if (mkdir(log->dir, 0755) != 0 && errno != EEXIST) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "log: mkdir %s: %s", log->dir, strerror(errno));
        return WEIR_E_IO;
    }
    char marker[4096];
    path_join(marker, sizeof marker, log->dir, CLEAN_MARKER);
    bool clean = access(marker, F_OK) == 0;
    /* The marker must be gone for good before the log's files change: its
     * removal is synced by log_files_change, at the first change. */
    if (clean && weir_io->unlink(marker) != 0) return WEIR_E_IO;
    log->marker_unsynced = clean;
    enum weir_err err = log_load(log, clean);
    if (err != WEIR_OK) return err;
    log->changed = !clean && log->n_segs > 0; /* recovery may have cut files: the next clean close syncs them */
    if (log->n_segs == 0) { /* a new log; lost in a crash, the next open makes it again */
        struct weir_segment *seg;
        err = segment_create(log, 0, &seg);
        if (err == WEIR_OK) err = segs_push(log, seg);
        log->dir_dirty = true; /* synced with the first flushed write, or by the store's close */
    } else {
        err = segment_activate(log, log_active(log));
    }
    if (err == WEIR_OK && log_offset_file_read(log->dir, CHECKPOINT_FILE) != log_active(log)->base_offset)
        err = log_checkpoint_write(log->dir, log_active(log)->base_offset);
    return err;
}

/* cleanup.policy has compact. */
static bool config_compacts(const struct weir_log_config *c)
{
    return c->cleanup_policy & WEIR_CLEANUP_COMPACT;
}

enum weir_err weir_log_open(const char *dir, const struct weir_log_config *cfg, struct weir_appender *ap,
                            struct weir_preparer *prep, struct weir_log **out)
{
    char why[256];
    if (weir_log_config_check(cfg, why, sizeof why) != WEIR_OK) {
        weir_log(WEIR_LOG_ERROR, "log %s: %s", dir, why);
        return WEIR_E_BAD_CONFIG;
    }
    struct weir_log *log = weir_calloc(1, sizeof *log);
    if (!log || !(log->dir = weir_strdup(dir))) {
        weir_free(log);
        return WEIR_E_NOMEM;
    }
    log->cfg = *cfg;
    log->ap = ap;
    log->prep = prep;
    log->dir_fd = -1;
    log->spare = (struct seg_spare){ .prefix = "spare", .log_fd = -1 };
    log->leader_epoch = WEIR_EPOCH_NONE;
    log->hw_follows = true;
    atomic_init(&log->seal_err, 0);
    producers_init(&log->producers);
    log->start_floor = WEIR_MAX(log_offset_file_read(dir, LOG_START_FILE), 0);
    log->cleaned_below = WEIR_MAX(log_offset_file_read(dir, LOG_CLEANER_FILE), 0);
    log->compacted = config_compacts(cfg);
    log->tombstones_since_ms = INT64_MIN;
    enum weir_err err = log_open_files(log);
    if (err == WEIR_OK) err = producers_load(log, true);
    if (err == WEIR_OK) err = epochs_load(log);
    if (err != WEIR_OK) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "log %s: open failed: %s", dir, weir_err_str(err));
        producers_free(&log->producers);
        epochs_free(&log->epochs);
        for (unsigned i = 0; i < log->n_segs; i++) segment_put(log->segs[i]);
        if (log->dir_fd >= 0) close(log->dir_fd);
        weir_free(log->segs);
        weir_free(log->dir);
        weir_free(log);
        return err;
    }
    log->offset_queued = log->offset_flushed = log->hw = log_active(log)->offset_next;
    appender_log_add(ap, log);
    WEIR_DASSERT(log_check(log, true));
    *out = log;
    return WEIR_OK;
}

/* Writes the producer snapshot at offset (every batch below it is synced). */
static enum weir_err log_snapshot_now(struct weir_log *log, int64_t offset)
{
    uint8_t *buf;
    size_t len;
    producers_roll(log, offset, &buf, &len);
    if (!buf) return WEIR_E_NOMEM;
    enum weir_err err = producers_snapshot_write(log->dir, offset, buf, len);
    weir_free(buf);
    return err;
}

enum weir_err log_files_change(struct weir_log *log)
{
    if (!log->marker_unsynced) return WEIR_OK;
    if (weir_fsync_dir(log->dir) != WEIR_OK) {
        log_fail(log, WEIR_E_IO, "sync the removal of the clean-shutdown marker", errno);
        return WEIR_E_IO;
    }
    log->marker_unsynced = false;
    return WEIR_OK;
}

/* The clean-shutdown marker: empty, so its existence is all it says. It is
 * made after the syncs of everything it vouches for and needs no sync itself:
 * lost in a crash, the next open only recovers (the store syncs the file
 * system once at its close). */
static enum weir_err marker_create(struct weir_log *log)
{
    char marker[4096];
    path_join(marker, sizeof marker, log->dir, CLEAN_MARKER);
    int fd = weir_io->open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return weir_err_from_errno(errno);
    close(fd);
    return WEIR_OK;
}

static void log_close(struct weir_log *log, bool discard)
{
    log->closing = true;
    for (unsigned i = 0; log->group_busy || log->pending_head; i++) {
        WEIR_ASSERT(i < 100000000);
        weir_appender_run(log->ap, true);
    }
    if (log->prep) preparer_wait(log->prep, log, true);
    preparer_charge(log->prep, -(int64_t)log->prealloc_charged);
    log->prealloc_charged = 0;
    appender_log_remove(log->ap, log);
    struct weir_segment *active = log_active(log);
    bool clean = log->failed == WEIR_OK && atomic_load(&log->seal_err) == 0;
    if (clean && !discard) {
        /* A log not changed since its open needs no sync and no new snapshot
         * (the next open replays what this one did): closing it syncs nothing. */
        segment_seal_mark(active);
        clean = segment_seal(active, log->changed) == WEIR_OK &&
                (!log->changed || log_snapshot_now(log, active->offset_next) == WEIR_OK) &&
                marker_create(log) == WEIR_OK;
    }
    if (!clean && !discard)
        weir_log(WEIR_LOG_WARN, "log %s: closed without clean-shutdown marker; next open recovers", log->dir);
    producers_free(&log->producers);
    epochs_free(&log->epochs);
    for (unsigned i = 0; i < log->n_segs; i++) segment_put(log->segs[i]);
    if (log->dir_fd >= 0) close(log->dir_fd);
    weir_free(log->segs);
    weir_free(log->dir);
    weir_free(log);
}

void weir_log_close(struct weir_log *log) { log_close(log, false); }
void weir_log_discard(struct weir_log *log) { log_close(log, true); }

uint8_t weir_log_compression_type(const struct weir_log *log) { return log->cfg.compression_type; }

enum weir_err weir_log_reconfigure(struct weir_log *log, const struct weir_log_config *cfg)
{
    char why[256];
    if (weir_log_config_check(cfg, why, sizeof why) != WEIR_OK) return WEIR_E_BAD_CONFIG;
    log->cfg = *cfg;
    log->compacted = config_compacts(cfg);
    return WEIR_OK;
}

/* The offset the next queued append gets (if every one before it completes). */
static int64_t log_next_offset(const struct weir_log *log)
{
    return log->pending_head ? log->pending_next : log->offset_queued;
}

static void log_enqueue(struct weir_log *log, struct weir_append *a)
{
    log->pending_next = log_next_offset(log) + a->records;
    if (log->pending_tail) log->pending_tail->next = a;
    else log->pending_head = a;
    log->pending_tail = a;
    appender_mark_dirty(log->ap, log);
}

/* Kafka's LogValidator: a compacted topic takes no record without a key.
 * A batch whose records cannot be read here (a codec weir lacks) passes. */
static bool batch_keys_all(const uint8_t *batch, size_t len)
{
    uint8_t *scratch = NULL;
    size_t cap = 0;
    struct weir_record_iter it;
    struct weir_record r;
    bool ok = true;
    if (weir_record_iter_init(&it, batch, len, &scratch, &cap, 64u << 20) == WEIR_OK)
        while (ok && weir_record_iter_next(&it, &r) == WEIR_OK) ok = r.key != NULL;
    weir_free(scratch);
    return ok;
}

/* message.timestamp.type and its bounds, as Kafka's LogValidator: with
 * LogAppendTime the batch takes the broker's time as its max timestamp and
 * the timestamp-type attribute bit (CRC recomputed; records keep theirs);
 * with CreateTime a batch whose first or max timestamp is more than
 * message.timestamp.before.max.ms behind or after.max.ms ahead of now is
 * refused (Kafka checks each record: weir the batch's two timestamps). */
static enum weir_err append_timestamps(const struct weir_log_config *c, uint8_t *batch, size_t len,
                                       struct weir_batch_header *h)
{
    int64_t now_ms = weir_time_ms();
    if (c->timestamp_type == WEIR_LOG_TIMESTAMP_APPEND) {
        h->attributes = (int16_t)(h->attributes | WEIR_ATTR_LOG_APPEND_TIME);
        h->max_timestamp = now_ms;
        weir_store_be16(batch + WEIR_BATCH_OFF_ATTRS, (uint16_t)h->attributes);
        weir_store_be64(batch + WEIR_BATCH_OFF_MAX_TS, (uint64_t)now_ms);
        weir_store_be32(batch + WEIR_BATCH_OFF_CRC,
                        weir_crc32c(0, batch + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
        return WEIR_OK;
    }
    int64_t before = weir_log_config_timestamp_before_ms(c), after = weir_log_config_timestamp_after_ms(c);
    if ((before == INT64_MAX && after == INT64_MAX) || (h->attributes & WEIR_ATTR_LOG_APPEND_TIME)) return WEIR_OK;
    const int64_t ts[2] = { h->base_timestamp, h->max_timestamp };
    for (int i = 0; i < 2; i++)
        if (ts[i] >= 0 &&
            ((now_ms - ts[i] > 0 && now_ms - ts[i] > before) || (ts[i] - now_ms > 0 && ts[i] - now_ms > after)))
            return WEIR_E_TIMESTAMP;
    return WEIR_OK;
}

enum weir_err weir_log_append(struct weir_log *log, struct weir_append *a)
{
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    if (log->closing) return WEIR_E_CLOSED;
    if (log->replica_appends > 0) return WEIR_E_INVALID; /* one kind of append at a time */
    if (!log->reserve_ok && preparer_disk_low(log->prep)) {
        log->stats.nospace_refusals++;
        return WEIR_E_NOSPACE;
    }
    struct weir_batch_header h; /* the one decode on the client path: producers use its fields */
    enum weir_err err = weir_batch_check(a->batch, a->len, log->cfg.max_message_bytes, true, &h);
    if (err != WEIR_OK) return err;
    if (WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length != a->len) return WEIR_E_INVALID; /* one batch per append */
    if (log->compacted && !batch_keys_all(a->batch, a->len)) return WEIR_E_INVALID; /* Kafka's INVALID_RECORD */
    if ((err = append_timestamps(&log->cfg, a->batch, a->len, &h)) != WEIR_OK) return err;
    a->records = h.last_offset_delta + 1;
    a->max_timestamp = h.max_timestamp;
    a->base_offset = -1;
    a->err = WEIR_OK;
    a->next = NULL;
    a->batches = 1;
    a->replica = false;
    bool queue;
    err = producers_append(log, a, &h, &queue);
    if (err != WEIR_OK || !queue) return err; /* nothing may fail after an admitted append */
    log_enqueue(log, a);
    return WEIR_OK;
}

enum { REPLICA_EPOCHS_MAX = 64 }; /* epoch changes assigned per append; more: one assign each */

enum weir_err weir_log_append_replica(struct weir_log *log, struct weir_append *a)
{
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    if (log->closing) return WEIR_E_CLOSED;
    if (log->pending_head && log->replica_appends == 0) return WEIR_E_INVALID; /* client appends queued */
    if (!log->reserve_ok && preparer_disk_low(log->prep)) {
        log->stats.nospace_refusals++;
        return WEIR_E_NOSPACE;
    }
    if (a->len > log->cfg.segment_bytes + log->cfg.max_message_bytes) return WEIR_E_TOO_LARGE;
    int64_t expect = log_next_offset(log), max_ts = INT64_MIN;
    struct epoch_entry epochs[REPLICA_EPOCHS_MAX];
    unsigned n_epochs = 0;
    int32_t batches = 0;
    for (size_t pos = 0; pos < a->len || batches == 0; batches++) {
        struct weir_batch_header h;
        enum weir_err err = weir_batch_check(a->batch + pos, a->len - pos, SIZE_MAX, false, &h);
        if (err != WEIR_OK) return err;
        size_t len = WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length;
        /* A compacted leader log has gaps (Kafka's followers copy them); never overlaps. */
        if (h.base_offset != expect && !(log_gaps_ok(log) && h.base_offset > expect))
            return pos == 0 ? WEIR_E_OFFSET_RANGE : WEIR_E_INVALID;
        if (h.leader_epoch >= 0 && (n_epochs == 0 || epochs[n_epochs - 1].epoch != h.leader_epoch)) {
            if (n_epochs == REPLICA_EPOCHS_MAX) return WEIR_E_TOO_LARGE;
            epochs[n_epochs++] = (struct epoch_entry){ h.leader_epoch, h.base_offset };
        }
        expect = h.base_offset + h.last_offset_delta + 1;
        max_ts = WEIR_MAX(max_ts, h.max_timestamp);
        pos += len;
    }
    /* Kafka assigns the epochs before the append is written. */
    enum weir_err err = n_epochs ? epochs_assign(log, epochs, n_epochs) : WEIR_OK;
    if (err != WEIR_OK) return err;
    a->base_offset = log_next_offset(log);
    a->records = (int32_t)(expect - a->base_offset);
    a->max_timestamp = max_ts;
    a->batches = batches;
    a->replica = true;
    a->err = WEIR_OK;
    a->duplicate = false;
    a->next = a->producer_next = a->dups = NULL;
    a->producer = NULL;
    log->replica_appends++;
    log_enqueue(log, a);
    return WEIR_OK;
}

enum weir_err weir_log_set_leader_epoch(struct weir_log *log, int32_t epoch)
{
    if (epoch < 0 || log->replica_appends > 0) return WEIR_E_INVALID;
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    /* Appends not yet given offsets get them from offset_queued on, stamped with epoch. */
    struct epoch_entry e = { epoch, log->offset_queued };
    enum weir_err err = epochs_assign(log, &e, 1);
    if (err == WEIR_OK) log->leader_epoch = epoch;
    WEIR_DASSERT(log_check(log, false));
    return err;
}

int32_t weir_log_leader_epoch(const struct weir_log *log) { return log->leader_epoch; }

/* ---- the high watermark ------------------------------------------------------- */

int64_t weir_log_high_watermark(const struct weir_log *log) { return __atomic_load_n(&log->hw, __ATOMIC_RELAXED); }
bool weir_log_hw_follows_end(const struct weir_log *log) { return __atomic_load_n(&log->hw_follows, __ATOMIC_RELAXED); }

void log_hw_set(struct weir_log *log, int64_t hw)
{
    hw = WEIR_MIN(hw, weir_log_end_offset(log));
    hw = WEIR_MAX(hw, weir_log_start_offset(log));
    if (hw <= log->hw) return;
    __atomic_store_n(&log->hw, hw, __ATOMIC_RELAXED);
    if (log->on_hw) log->on_hw(log->on_hw_ctx, log);
}

void log_hw_restore(struct weir_log *log, int64_t hw)
{
    hw = WEIR_MAX(WEIR_MIN(hw, weir_log_end_offset(log)), weir_log_start_offset(log));
    __atomic_store_n(&log->hw_follows, false, __ATOMIC_RELAXED);
    __atomic_store_n(&log->hw, hw, __ATOMIC_RELAXED);
}

enum weir_err weir_log_set_high_watermark(struct weir_log *log, int64_t hw)
{
    if (log->hw_follows) return WEIR_E_INVALID;
    log_hw_set(log, hw);
    return WEIR_OK;
}

void weir_log_set_hw_follows_end(struct weir_log *log, bool follows)
{
    __atomic_store_n(&log->hw_follows, follows, __ATOMIC_RELAXED);
    if (follows) log_hw_set(log, weir_log_end_offset(log));
}

void weir_log_set_hw_listener(struct weir_log *log, void (*on_hw)(void *ctx, struct weir_log *log), void *ctx)
{
    log->on_hw = on_hw;
    log->on_hw_ctx = ctx;
}

/* ---- reads ------------------------------------------------------------------ */

/* The first segment's base, or the start DeleteRecords moved into it (never past the end). */
int64_t weir_log_start_offset(const struct weir_log *log)
{
    return WEIR_MAX(log->segs[0]->base_offset, WEIR_MIN(log->start_floor, log_active(log)->offset_next));
}
int64_t weir_log_end_offset(const struct weir_log *log) { return log_active(log)->offset_next; }
int64_t weir_log_flushed_offset(const struct weir_log *log) { return log->offset_flushed; }
unsigned weir_log_segment_count(const struct weir_log *log) { return log->n_segs; }

unsigned weir_log_segment_starts(const struct weir_log *log, int64_t *base_offsets, int64_t *max_timestamps,
                                 unsigned cap)
{
    unsigned n = WEIR_MIN(cap, log->n_segs), first = log->n_segs - n;
    for (unsigned i = 0; i < n; i++) {
        const struct weir_segment *seg = log->segs[first + i];
        base_offsets[i] = seg->base_offset;
        max_timestamps[i] = seg->size > 0 ? seg->max_timestamp : INT64_MIN;
    }
    return n;
}
enum weir_err weir_log_state(const struct weir_log *log) { return log->failed; }
void weir_log_set_reserve_access(struct weir_log *log, bool allowed) { log->reserve_ok = allowed; }

uint64_t weir_log_allocated_bytes(const struct weir_log *log)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < log->n_segs; i++) total += segment_allocated_bytes(log->segs[i]);
    return total;
}

void log_charge(struct weir_log *log)
{
    const struct weir_segment *seg = log_active(log);
    uint64_t unused = seg->alloc_len > seg->size_queued ? seg->alloc_len - seg->size_queued : 0;
    preparer_charge(log->prep, (int64_t)unused - (int64_t)log->prealloc_charged);
    log->prealloc_charged = unused;
}
void weir_log_stats(const struct weir_log *log, struct weir_log_stats *out) { *out = log->stats; }

void weir_log_set_listener(struct weir_log *log, void (*on_advance)(void *ctx, struct weir_log *log), void *ctx)
{
    log->on_advance = on_advance;
    log->on_advance_ctx = ctx;
}

uint64_t weir_log_size_bytes(const struct weir_log *log)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < log->n_segs; i++) total += log->segs[i]->size;
    return total;
}

unsigned log_find_segment(const struct weir_log *log, int64_t offset)
{
    unsigned lo = 0, hi = log->n_segs;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset) lo = mid + 1;
        else hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* A read found bytes that are not whole valid batches: never served. */
static enum weir_err log_read_corrupt(struct weir_log *log, struct weir_segment *seg, int64_t offset)
{
    log->stats.corrupt_reads++;
    if (!seg->corrupt_logged)
        weir_log(WEIR_LOG_ERROR, "partition %s: %s.log holds corrupt data at or after offset %" PRId64
                 " (CRC or bounds); reads there fail with a storage error", log->dir, seg->path_base, offset);
    seg->corrupt_logged = true;
    return WEIR_E_CORRUPT;
}

enum weir_err weir_log_read(struct weir_log *log, int64_t offset, size_t max_bytes, bool min_one,
                            struct weir_log_view *view)
{
    *view = (struct weir_log_view){ .fd = -1, .offset_first = offset, .offset_next = offset };
    if (offset < weir_log_start_offset(log) || offset > weir_log_end_offset(log)) return WEIR_E_OFFSET_RANGE;
    if (offset == weir_log_end_offset(log)) return WEIR_OK;
    unsigned si = log_find_segment(log, offset);
    struct weir_segment *seg = log->segs[si];
    uint64_t pos;
    int64_t ioff;
    uint64_t ipos = segment_index_find(seg, offset, &ioff);
    enum weir_err err = segment_find_batch(seg, ipos, offset, &pos);
    while (err == WEIR_OK && pos >= seg->size && si + 1 < log->n_segs) { /* a compacted segment ends in a gap */
        seg = log->segs[++si];
        ipos = 0, ioff = seg->base_offset;
        err = segment_find_batch(seg, 0, offset, &pos);
    }
    uint64_t size = seg->size;
    if (err == WEIR_OK && pos >= size && si + 1 == log->n_segs && log->cleaned_below > 0)
        return WEIR_OK; /* a gap up to the log end: nothing to read there yet */
    if (err != WEIR_OK || pos >= size) return log_read_corrupt(log, seg, offset);
    /* Whole batches from pos, up to max_bytes; `limit`: where the walk stops
     * (the end of what verification passed, on the second walk). */
    uint64_t end = pos, limit = size;
    int64_t next = offset;
    bool bad = false;
    for (int walk = 0; walk < 2; walk++) {
        end = pos;
        for (uint64_t steps = 0; end < limit; steps++) {
            WEIR_ASSERT(steps <= size / WEIR_BATCH_HEADER_BYTES);
            const uint8_t *b = seg->log_map + end;
            uint64_t len = (uint64_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
            if ((bad = size - end < WEIR_BATCH_HEADER_BYTES || len < WEIR_BATCH_HEADER_BYTES || len > size - end))
                break;
            if (end - pos + len > max_bytes && !(min_one && end == pos)) break;
            next = (int64_t)weir_load_be64(b) + (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA) + 1;
            end += len;
        }
        /* Bytes not written by this process are served only once their CRCs pass. */
        uint64_t good = walk == 0 ? segment_verify(seg, log_gaps_ok(log), ipos, ioff, pos, end) : end;
        if (good == pos && (end > pos || bad)) return log_read_corrupt(log, seg, offset);
        if (good == end) break;
        limit = good; /* a bad batch after good ones: serve those only (rare: walk them again) */
    }
    if (end > pos) view->offset_first = (int64_t)weir_load_be64(seg->log_map + pos);
    view->fd = seg->log_fd;
    view->pos = pos;
    view->len = (size_t)(end - pos);
    view->data = seg->log_map + pos;
    if (view->len > 0) view->offset_next = next;
    view->segment = seg;
    atomic_fetch_add(&seg->refs, 1);
    return WEIR_OK;
}

void weir_log_view_release(struct weir_log *log, struct weir_log_view *view)
{
    (void)log;
    if (view->segment) segment_put(view->segment);
    view->segment = NULL;
}

/* First record with timestamp >= ts and offset >= min in the batches of seg
 * from the one holding `offset` on (min: the log start, Kafka's startingOffset). */
static enum weir_err segment_time_scan(struct weir_segment *seg, int64_t offset, int64_t ts, int64_t min,
                                       int64_t *found, int64_t *found_ts)
{
    uint64_t pos, size = seg->size;
    enum weir_err err = segment_find_batch(seg, segment_index_lookup(seg, offset), offset, &pos);
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    for (uint64_t steps = 0; err == WEIR_OK && pos < size; steps++) {
        WEIR_ASSERT(steps <= size / WEIR_BATCH_HEADER_BYTES);
        const uint8_t *b = seg->log_map + pos;
        uint64_t len = (uint64_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
        if ((int64_t)weir_load_be64(b + WEIR_BATCH_OFF_MAX_TS) >= ts) {
            struct weir_record_iter it;
            struct weir_record rec;
            err = weir_record_iter_init(&it, b, len, &scratch, &scratch_cap, 64u << 20);
            if (err == WEIR_E_UNSUPPORTED) { /* codec 5-7 (never from a client): never skip a record */
                *found = WEIR_MAX((int64_t)weir_load_be64(b), min);
                *found_ts = (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_MAX_TS);
                weir_free(scratch);
                return WEIR_OK;
            }
            while (err == WEIR_OK && (err = weir_record_iter_next(&it, &rec)) == WEIR_OK) {
                if (rec.timestamp >= ts && rec.offset >= min) {
                    /* Inside the batch's own range: a record's offsetDelta is
                     * not checked against the header (a trusted file may lie). */
                    int64_t base = (int64_t)weir_load_be64(b);
                    int32_t delta = (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA);
                    int64_t last = (int64_t)((uint64_t)base + (uint64_t)(delta > 0 ? delta : 0));
                    *found = rec.offset < base ? base : rec.offset > last && last >= base ? last : rec.offset;
                    *found_ts = rec.timestamp;
                    weir_free(scratch);
                    return WEIR_OK;
                }
            }
            if (err == WEIR_E_NOT_FOUND) err = WEIR_OK; /* header max lied: go on */
        }
        pos += len;
    }
    weir_free(scratch);
    return err == WEIR_OK ? WEIR_E_NOT_FOUND : WEIR_E_CORRUPT;
}

enum weir_err weir_log_offset_for_time(struct weir_log *log, int64_t ts, int64_t *offset, int64_t *found_ts)
{
    int64_t start = weir_log_start_offset(log); /* records below it are gone (DeleteRecords) */
    for (unsigned i = log_find_segment(log, start); i < log->n_segs; i++) {
        struct weir_segment *seg = log->segs[i];
        if (seg->size == 0 || seg->max_timestamp < ts) continue;
        int64_t from = WEIR_MAX(segment_time_lookup(seg, ts), start);
        enum weir_err err = segment_time_scan(seg, from, ts, start, offset, found_ts);
        if (err != WEIR_E_NOT_FOUND) return err;
    }
    return WEIR_E_NOT_FOUND;
}

enum weir_err weir_log_offset_for_max_time(struct weir_log *log, int64_t *offset, int64_t *found_ts)
{
    int64_t max = INT64_MIN;
    for (unsigned i = 0; i < log->n_segs; i++)
        if (log->segs[i]->size > 0) max = WEIR_MAX(max, log->segs[i]->max_timestamp);
    if (max == INT64_MIN || max < 0) return WEIR_E_NOT_FOUND;
    return weir_log_offset_for_time(log, max, offset, found_ts);
}

/* ---- roll, retention, truncation ---------------------------------------------- */

static bool flush_policy_any(const struct weir_log_config *cfg)
{
    return cfg->flush_messages != INT64_MAX || cfg->flush_ms != INT64_MAX;
}

enum weir_err log_roll_now(struct weir_log *log)
{
    WEIR_ASSERT(!log->group_busy);
    struct weir_segment *old = log_active(log), *seg = NULL;
    if (old->size == 0) return WEIR_OK;
    if (log_files_change(log) != WEIR_OK) return WEIR_E_IO;
    WEIR_ASSERT(old->size == old->size_queued && old->offset_next == log->offset_queued);
    /* Unflushed records of a flushing policy must not outlive the switch of fd. */
    if (flush_policy_any(&log->cfg) && log->unflushed_records > 0) {
        if (weir_io->fdatasync(old->log_fd) != 0) return WEIR_E_IO;
        log->unflushed_records = 0;
        log->unflushed_since_ms = 0;
        log->offset_flushed = old->offset_next;
    }
    struct seg_spare sp;
    enum weir_err err;
    if (log->prep && preparer_take_spare(log->prep, log, &sp)) {
        preparer_charge(log->prep, -(int64_t)sp.alloc_len); /* log_charge takes it over */
        err = segment_from_spare(log, &sp, log->offset_queued, &seg);
        if (err != WEIR_OK) segment_spare_discard(log->dir, &sp);
        preparer_spare_done(log->prep, log);
    } else {
        log->stats.roll_stalls++;
        err = segment_create(log, log->offset_queued, &seg);
    }
    if (err == WEIR_OK) err = segs_push(log, seg);
    if (err != WEIR_OK) {
        if (seg) segment_put(seg);
        return err;
    }
    segment_seal_mark(old);
    log->stats.rolls++;
    log->changed = true;
    log->spare_asked = false;
    log_charge(log); /* the old segment's unwritten tail is cut by its seal */
    uint8_t *snap;
    size_t snap_len;
    producers_roll(log, seg->base_offset, &snap, &snap_len);
    WEIR_DASSERT(log_check(log, false));
    if (log->prep) {
        preparer_seal(log->prep, log, old, seg->base_offset, snap, snap_len);
        return WEIR_OK;
    }
    err = segment_seal(old, true);
    if (err == WEIR_OK && snap) producers_snapshot_write(log->dir, seg->base_offset, snap, snap_len); /* best effort */
    weir_free(snap);
    if (err == WEIR_OK) err = log_checkpoint_write(log->dir, seg->base_offset);
    return err;
}

enum weir_err weir_log_roll(struct weir_log *log)
{
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    for (unsigned i = 0; log->group_busy || log->pending_head; i++) {
        WEIR_ASSERT(i < 100000000);
        weir_appender_run(log->ap, true);
    }
    enum weir_err err = log_roll_now(log);
    if (err != WEIR_OK && err != WEIR_E_NOSPACE) log_fail(log, err, "roll", errno); /* full disk: try later */
    return err;
}

static void log_start_moved(struct weir_log *log);

static void log_drop_first(struct weir_log *log, const char *why)
{
    WEIR_ASSERT(log->n_segs > 1);
    if (log_files_change(log) != WEIR_OK) return;
    struct weir_segment *seg = log->segs[0];
    weir_log(WEIR_LOG_INFO, "%s: deleting %s (offsets %" PRId64 "..%" PRId64 ", %" PRIu64 " bytes)", why,
             seg->path_base, seg->base_offset, seg->offset_next - 1, seg->size);
    segment_unlink(seg);
    segment_put(seg);
    memmove(log->segs, log->segs + 1, (log->n_segs - 1) * sizeof *log->segs);
    log->n_segs--;
    log->stats.segments_deleted++;
}

enum weir_err weir_log_retain(struct weir_log *log, int64_t now_ms, unsigned *deleted)
{
    unsigned before = (unsigned)log->stats.segments_deleted;
    const struct weir_log_config *c = &log->cfg;
    struct weir_segment *active = log_active(log);
    bool deletes = c->cleanup_policy & WEIR_CLEANUP_DELETE; /* cleanup.policy without delete: no retention */
    if (deletes && c->retention_ms >= 0 && active->size > 0 && active->max_timestamp < now_ms - c->retention_ms &&
        !log->group_busy && !log->pending_head && log->failed == WEIR_OK) {
        enum weir_err err = log_roll_now(log); /* Kafka rolls an expired active segment */
        if (err != WEIR_OK && err != WEIR_E_NOSPACE) log_fail(log, err, "roll for retention", errno);
    }
    /* Never a segment with offsets at or above the HW (Kafka's upper bound). */
    while (deletes && c->retention_ms >= 0 && log->n_segs > 1 && log->segs[0]->max_timestamp < now_ms - c->retention_ms &&
           log->segs[0]->offset_next <= log->hw)
        log_drop_first(log, "retention");
    uint64_t total = weir_log_size_bytes(log);
    while (deletes && c->retention_bytes >= 0 && log->n_segs > 1 && total - log->segs[0]->size >= (uint64_t)c->retention_bytes &&
           log->segs[0]->offset_next <= log->hw) {
        total -= log->segs[0]->size;
        log_drop_first(log, "retention");
    }
    producers_retain(log, now_ms);
    log_start_moved(log);
    if (deleted) *deleted = (unsigned)log->stats.segments_deleted - before;
    WEIR_DASSERT(log_check(log, false));
    return WEIR_OK;
}

bool weir_log_idle(const struct weir_log *log) { return !log->group_busy && !log->pending_head; }

/* The leader-epoch cache follows a new log start (truncateFromStart). */
static void log_start_moved(struct weir_log *log)
{
    enum weir_err err = epochs_truncate_start(log, weir_log_start_offset(log));
    if (err != WEIR_OK) log_fail(log, err, "write the leader-epoch checkpoint", errno);
}

/* weir_log_delete_below, naming `why` in the log line of each deleted segment. */
static enum weir_err log_delete_below(struct weir_log *log, int64_t offset, const char *why, unsigned *deleted)
{
    unsigned before = (unsigned)log->stats.segments_deleted, n0 = log->n_segs;
    enum weir_err err = log->failed != WEIR_OK ? WEIR_E_FAILED : WEIR_OK;
    /* One directory sync per unlink: a crash never keeps an older segment
     * while losing a newer one (the log must stay a contiguous suffix). */
    for (unsigned steps = 0; err == WEIR_OK && log->n_segs > 1 && log->segs[0]->offset_next <= offset &&
                             log->segs[0]->offset_next <= log->hw; steps++) {
        WEIR_ASSERT(steps < n0);
        log_drop_first(log, why);
        if (weir_fsync_dir(log->dir) != WEIR_OK) {
            err = WEIR_E_IO;
            log_fail(log, err, "sync the directory after deleting a segment", errno);
        }
    }
    if ((unsigned)log->stats.segments_deleted != before) {
        producers_retain(log, weir_time_ms());
        log_start_moved(log);
    }
    if (deleted) *deleted = (unsigned)log->stats.segments_deleted - before;
    return err;
}

enum weir_err weir_log_delete_below(struct weir_log *log, int64_t offset, unsigned *deleted)
{
    return log_delete_below(log, offset, "compaction", deleted);
}

enum weir_err weir_log_advance_start(struct weir_log *log, int64_t offset, unsigned *deleted)
{
    if (deleted) *deleted = 0;
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    if (offset < 0 || offset > weir_log_high_watermark(log)) return WEIR_E_OFFSET_RANGE;
    if (offset <= weir_log_start_offset(log)) return WEIR_OK;
    /* Durable before anything is deleted or answered: a crash keeps the new
     * start, or the old one with every segment. */
    enum weir_err err = log_start_write(log->dir, offset);
    if (err != WEIR_OK) {
        log_fail(log, err, "write the log start offset", errno);
        return err;
    }
    log->start_floor = offset;
    WEIR_ASSERT(weir_log_start_offset(log) == offset);
    unsigned n = 0;
    err = log_delete_below(log, offset, "log start moved", &n);
    if (err == WEIR_OK && n == 0) log_start_moved(log); /* the epochs follow even without a deletion */
    if (deleted) *deleted = n;
    WEIR_DASSERT(log_check(log, false));
    return log->failed != WEIR_OK ? log->failed : err;
}

/* weir_log_truncate, or with `restart` weir_log_restart_at (every segment
 * goes, whatever offset is). */
static enum weir_err log_truncate(struct weir_log *log, int64_t offset, bool restart)
{
    if (log->group_busy || log->pending_head) return WEIR_E_INVALID;
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    if (!restart && offset >= weir_log_end_offset(log)) {
        /* No batch goes, but the epoch cache still loses entries starting at
         * the log end (Kafka's truncateTo): one is there when this broker led
         * at an epoch and appended nothing; kept, a follower would ask about
         * it (KIP-279) and truncate to where it already is, forever. */
        enum weir_err err = epochs_truncate_end(log, weir_log_end_offset(log));
        if (err != WEIR_OK) log_fail(log, err, "write the leader-epoch checkpoint", errno);
        return err;
    }
    unsigned keep = restart ? 0 : log_find_segment(log, offset);
    struct weir_segment *seg = log->segs[keep];
    uint64_t pos = 0;
    enum weir_err err = WEIR_OK;
    if (!restart && offset > seg->base_offset)
        err = segment_find_batch(seg, segment_index_lookup(seg, offset), offset, &pos);
    if (err != WEIR_OK) return err;
    if (!restart && offset > seg->base_offset &&
        (pos >= seg->size || (int64_t)weir_load_be64(seg->log_map + pos) != offset))
        return WEIR_E_INVALID; /* inside a batch */
    if (log_files_change(log) != WEIR_OK) return WEIR_E_IO;
    if (log->prep) preparer_wait(log->prep, log, false); /* no seal may still touch a segment */
    log->clean_gen++; /* a cleaner pass begun before is dropped at its finish */
    /* Before the cut: open accepts a gap only below the cleaner checkpoint,
     * and the gap a crash leaves after the cut must still drop what follows. */
    if (log->cleaned_below > offset) {
        err = log_offset_file_write(log->dir, LOG_CLEANER_FILE, offset);
        if (err != WEIR_OK) {
            log_fail(log, err, "write the cleaner checkpoint", errno);
            return err;
        }
        log->cleaned_below = offset;
    }
    const char *what = "truncate";
    if (restart || offset < seg->base_offset) { /* below the log start (or asked): start over there */
        for (unsigned i = log->n_segs; i-- > 0;) {
            segment_unlink(log->segs[i]);
            segment_put(log->segs[i]);
        }
        log->n_segs = 0;
        err = segment_create(log, offset, &seg);
        if (err == WEIR_OK) err = segs_push(log, seg);
    } else {
        /* The cut is synced before later segments go: a crash in between
         * leaves a gap after it, and open drops what follows a gap. */
        err = segment_truncate_at(log, seg, pos, offset);
        if (err == WEIR_OK && weir_io->fdatasync(seg->log_fd) != 0) err = WEIR_E_IO, what = "sync the cut segment";
        for (unsigned i = log->n_segs; err == WEIR_OK && i-- > keep + 1;) {
            segment_unlink(log->segs[i]);
            segment_put(log->segs[i]);
            log->n_segs = i;
        }
    }
    if (err == WEIR_OK && (err = weir_fsync_dir(log->dir)) != WEIR_OK) what = "sync the directory";
    if (err == WEIR_OK) err = log_checkpoint_write(log->dir, log_active(log)->base_offset);
    /* A start moved past the cut comes down to it (Kafka's truncateTo /
     * truncateFullyAndStartAt set the log start there). */
    if (err == WEIR_OK && log->start_floor > offset && (err = log_start_write(log->dir, offset)) != WEIR_OK)
        what = "write the log start offset";
    if (err == WEIR_OK) log->start_floor = WEIR_MIN(log->start_floor, offset);
    if (err == WEIR_OK) err = producers_load(log, false);
    /* A restart forgets every epoch (Kafka's clearAndFlush), those below offset too. */
    if (err == WEIR_OK && (err = epochs_truncate_end(log, restart ? INT64_MIN : offset)) != WEIR_OK)
        what = "write the leader-epoch checkpoint";
    if (err != WEIR_OK) {
        log_fail(log, err, what, errno);
        return err;
    }
    log->dir_dirty = false;
    log->offset_queued = log_active(log)->offset_next;
    log->offset_flushed = restart ? log->offset_queued : WEIR_MIN(log->offset_flushed, log->offset_queued);
    log->changed = true;
    int64_t hw = WEIR_MAX(WEIR_MIN(log->hw, log->offset_queued), weir_log_start_offset(log));
    __atomic_store_n(&log->hw, hw, __ATOMIC_RELAXED); /* the one way down */
    if (log->hw_follows) log_hw_set(log, log->offset_queued);
    log_charge(log);
    WEIR_DASSERT(log_check(log, true));
    return WEIR_OK;
}

enum weir_err weir_log_truncate(struct weir_log *log, int64_t offset) { return log_truncate(log, offset, false); }

enum weir_err weir_log_restart_at(struct weir_log *log, int64_t offset)
{
    if (offset < 0) return WEIR_E_INVALID;
    return log_truncate(log, offset, true);
}
