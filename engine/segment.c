/* engine/segment.c: one segment of a partition log: <base>.log, .index, .timeindex.
 *
 * The .log is allocated in steps ahead of its writes (segment_reserve) and
 * mapped read-only for reads; appends reach it by writev through the
 * appender. Indexes are mapped to their full capacity and written through
 * shared mappings; their files grow from one page as entries come, and
 * every entry is written over blocks allocated before (a page fault on a
 * full disk would be SIGBUS). Only the .log is held open.
 * Invariants:
 *  (1) [0, size) holds whole batches, offsets contiguous from base_offset.
 *  (2) [size, EOF) holds zeros or the torn bytes of writes lost in a crash;
 *      recovery cuts the file at the first batch that fails validation.
 *  (3) offset index: (relative offset, position) strictly rising, position < size,
 *      one entry once index.interval.bytes accumulated since the last.
 *  (4) time index: (T, relative offset R) strictly rising in T, where T is the
 *      largest timestamp of every batch before R. So no record before R has
 *      a timestamp above T; the entry at R = end (added at seal) gives the
 *      segment's largest timestamp.
 *  (5) a sealed segment is never written again; its files have true sizes.
 *  (6) alloc_len >= size_queued for the writes in flight, unless fallocate is
 *      unsupported (then writes extend the file). */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TORN_SCAN_BYTES_MAX = 64 << 20, INDEX_STEP_MIN_BYTES = 4096, ALLOC_ALIGN = 4096,
       STEP_GROW_MS = 1000, STEP_SHRINK_MS = 10000 };

void segment_path(const char *dir, int64_t base_offset, const char *ext, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%020" PRId64 "%s", dir, base_offset, ext);
}

static uint64_t page_round(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static uint64_t log_map_len(const struct weir_log_config *cfg, uint64_t file_size)
{
    return page_round(WEIR_MAX(file_size, cfg->segment_bytes + cfg->max_message_bytes));
}

/* Allocates [from, to) of fd (the file grows to `to`). 1 where the file
 * system cannot preallocate (nothing done; writes then allocate), 0 done,
 * -1 failed with errno. */
static int prealloc(int fd, uint64_t from, uint64_t to)
{
    if (to <= from) return 0;
    if (weir_io->fallocate(fd, 0, (off_t)from, (off_t)(to - from)) == 0) return 0;
    return errno == EOPNOTSUPP || errno == ENOSYS ? 1 : -1;
}

static void *map_file(int fd, uint64_t len, int prot)
{
    if (len == 0) return NULL;
    void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- spares and creation --------------------------------------------------- */

static const char *const seg_ext[3] = { ".log", ".index", ".timeindex" };
static const uint64_t entry_bytes[3] = { 1, INDEX_ENTRY_BYTES, TIME_ENTRY_BYTES };

static void spare_path(const char *dir, const char *prefix, int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s", dir, prefix, seg_ext[i]);
}

static void spare_close(struct seg_spare *sp)
{
    if (sp->log_map) munmap(sp->log_map, sp->map_len);
    if (sp->index_map) munmap(sp->index_map, (size_t)sp->index_cap * INDEX_ENTRY_BYTES);
    if (sp->time_map) munmap(sp->time_map, (size_t)sp->time_cap * TIME_ENTRY_BYTES);
    if (sp->log_fd >= 0) close(sp->log_fd);
    *sp = (struct seg_spare){ .prefix = sp->prefix, .log_fd = -1 };
}

void segment_spare_discard(const char *dir, struct seg_spare *sp)
{
    if (!sp->ready) return;
    spare_close(sp);
    for (int i = 0; i < 3; i++) {
        char path[4096];
        spare_path(dir, sp->prefix, i, path, sizeof path);
        weir_io->unlink(path);
    }
}

enum weir_err segment_spare_make(const char *dir, const struct weir_log_config *cfg, const char *prefix,
                                 uint64_t alloc, struct seg_spare *sp)
{
    *sp = (struct seg_spare){ .prefix = prefix, .log_fd = -1 };
    sp->map_len = log_map_len(cfg, 0);
    sp->index_cap = (uint32_t)(cfg->segment_index_bytes / INDEX_ENTRY_BYTES);
    sp->time_cap = (uint32_t)(cfg->segment_index_bytes / TIME_ENTRY_BYTES);
    uint8_t **maps[3] = { &sp->log_map, &sp->index_map, &sp->time_map };
    uint64_t lens[3] = { sp->map_len, (uint64_t)sp->index_cap * INDEX_ENTRY_BYTES,
                         (uint64_t)sp->time_cap * TIME_ENTRY_BYTES };
    for (int i = 0; i < 3; i++) {
        char path[4096];
        spare_path(dir, prefix, i, path, sizeof path);
        /* Only the .log is allocated ahead; an index grows with its first entry (index_room). */
        int fd = weir_io->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        int rc = fd < 0 ? -1 : i == 0 ? prealloc(fd, 0, alloc) : 0;
        if (rc < 0) {
            int errnum = errno;
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "segment: preparing %s: %s", path, strerror(errnum));
            if (fd >= 0) close(fd);
            sp->ready = true; /* so that discard removes the files made so far */
            segment_spare_discard(dir, sp);
            return errnum == ENOSPC || errnum == EDQUOT ? WEIR_E_NOSPACE : WEIR_E_IO;
        }
        if (i == 0) sp->alloc_len = rc == 0 ? alloc : 0;
        *maps[i] = map_file(fd, lens[i], i == 0 ? PROT_READ : PROT_READ | PROT_WRITE);
        if (i == 0) sp->log_fd = fd;
        else close(fd);
    }
    if (!sp->log_map || !sp->index_map || !sp->time_map) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "segment: mmap in %s: %s", dir, strerror(errno));
        sp->ready = true;
        segment_spare_discard(dir, sp);
        return WEIR_E_NOMEM;
    }
    sp->ready = true;
    return WEIR_OK;
}

static struct weir_segment *segment_alloc(const char *dir, int64_t base_offset)
{
    struct weir_segment *seg = weir_calloc(1, sizeof *seg);
    char path[4096];
    segment_path(dir, base_offset, "", path, sizeof path);
    if (seg) seg->path_base = weir_strdup(path);
    if (!seg || !seg->path_base) {
        weir_free(seg);
        return NULL;
    }
    seg->base_offset = seg->offset_next = seg->offset_queued_next = base_offset;
    seg->max_timestamp = INT64_MIN;
    seg->log_fd = -1;
    seg->vhi = UINT64_MAX; /* nothing checked yet */
    seg->vlo_next = base_offset;
    atomic_init(&seg->refs, 1);
    return seg;
}

enum weir_err segment_from_spare(struct weir_log *log, struct seg_spare *sp, int64_t base_offset,
                                 struct weir_segment **out)
{
    WEIR_ASSERT(sp->ready);
    struct weir_segment *seg = segment_alloc(log->dir, base_offset);
    if (!seg) return WEIR_E_NOMEM;
    for (int i = 0; i < 3; i++) {
        char from[4096], to[4096];
        spare_path(log->dir, sp->prefix, i, from, sizeof from);
        segment_path(log->dir, base_offset, seg_ext[i], to, sizeof to);
        if (weir_io->rename(from, to) != 0) {
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "segment: rename %s -> %s: %s", from, to, strerror(errno));
            segment_put(seg);
            return WEIR_E_IO;
        }
    }
    seg->log_fd = sp->log_fd;
    seg->log_map = sp->log_map, seg->index_map = sp->index_map, seg->time_map = sp->time_map;
    seg->map_len = sp->map_len, seg->index_cap = sp->index_cap, seg->time_cap = sp->time_cap;
    seg->alloc_len = sp->alloc_len; /* its indexes are empty: index_alloc stays 0 */
    seg->vhi = 0; /* every batch of it is written, and validated, by this process */
    *sp = (struct seg_spare){ .prefix = sp->prefix, .log_fd = -1 };
    log->dir_dirty = true;
    *out = seg;
    return WEIR_OK;
}

enum weir_err segment_create(struct weir_log *log, int64_t base_offset, struct weir_segment **out)
{
    struct seg_spare sp;
    enum weir_err err = segment_spare_make(log->dir, &log->cfg, "inline", 0, &sp);
    if (err != WEIR_OK) return err;
    err = segment_from_spare(log, &sp, base_offset, out);
    if (err != WEIR_OK) segment_spare_discard(log->dir, &sp);
    return err;
}

/* ---- index entries ------------------------------------------------------------ */

static uint32_t index_rel(const struct weir_segment *seg, uint32_t i)
{
    return weir_load_be32(seg->index_map + (size_t)i * INDEX_ENTRY_BYTES);
}
static uint32_t index_pos(const struct weir_segment *seg, uint32_t i)
{
    return weir_load_be32(seg->index_map + (size_t)i * INDEX_ENTRY_BYTES + 4);
}
static int64_t time_ts(const struct weir_segment *seg, uint32_t i)
{
    return (int64_t)weir_load_be64(seg->time_map + (size_t)i * TIME_ENTRY_BYTES);
}
static uint32_t time_rel(const struct weir_segment *seg, uint32_t i)
{
    return weir_load_be32(seg->time_map + (size_t)i * TIME_ENTRY_BYTES + 8);
}

/* Opens file i (0 .log, 1 .index, 2 .timeindex) of seg by its path. */
static int seg_file_open(const struct weir_segment *seg, int i)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", seg->path_base, seg_ext[i]);
    return weir_io->open(path, O_RDWR, 0);
}

/* Makes room for entry `count` of index file i: real blocks under it. The
 * file grows by doubling from one page. False (the entry is skipped: the
 * index is sparse anyway) when the disk is full. */
static bool index_room(struct weir_segment *seg, int i, uint32_t count)
{
    uint64_t *alloc = i == 1 ? &seg->index_alloc : &seg->time_alloc;
    uint64_t need = ((uint64_t)count + 1) * entry_bytes[i];
    if (need <= *alloc) return true;
    uint64_t cap = (uint64_t)(i == 1 ? seg->index_cap : seg->time_cap) * entry_bytes[i];
    uint64_t want = WEIR_MIN(cap, WEIR_MAX(need, WEIR_MAX(*alloc * 2, (uint64_t)INDEX_STEP_MIN_BYTES)));
    int fd = seg_file_open(seg, i);
    int rc = fd < 0 ? -1 : prealloc(fd, *alloc, want);
    if (rc == 1 && weir_io->ftruncate(fd, (off_t)want) != 0) rc = -1; /* no fallocate here: sparse */
    int errnum = errno;
    if (fd >= 0) close(fd);
    if (rc < 0) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "segment %s%s: cannot grow the index: %s", seg->path_base, seg_ext[i],
                 strerror(errnum));
        return false;
    }
    *alloc = want;
    return true;
}

static void time_entry_add(struct weir_segment *seg, int64_t ts_before, int64_t offset)
{
    if (ts_before == INT64_MIN || seg->time_count >= seg->time_cap) return;
    if (seg->time_count > 0 && ts_before <= time_ts(seg, seg->time_count - 1)) return;
    if (!index_room(seg, 2, seg->time_count)) return;
    uint8_t *e = seg->time_map + (size_t)seg->time_count * TIME_ENTRY_BYTES;
    weir_store_be64(e, (uint64_t)ts_before);
    weir_store_be32(e + 8, (uint32_t)(offset - seg->base_offset));
    seg->time_count++;
}

/* Accounts one batch at pos; adds index entries when `index` and one is due. */
static void batch_account(struct weir_segment *seg, uint32_t interval, bool index, uint64_t pos, uint64_t len,
                          int64_t base_offset, int64_t offset_next, int64_t max_ts)
{
    WEIR_ASSERT(pos == seg->size && base_offset >= seg->offset_next && offset_next > base_offset);
    if (index && pos > 0 && seg->bytes_since_index >= interval && seg->index_count < seg->index_cap &&
        index_room(seg, 1, seg->index_count)) {
        uint8_t *e = seg->index_map + (size_t)seg->index_count * INDEX_ENTRY_BYTES;
        weir_store_be32(e, (uint32_t)(base_offset - seg->base_offset));
        weir_store_be32(e + 4, (uint32_t)pos);
        seg->index_count++;
        time_entry_add(seg, seg->max_timestamp, base_offset);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += len;
    seg->size = pos + len;
    seg->offset_next = offset_next;
    if (max_ts > seg->max_timestamp) seg->max_timestamp = max_ts;
}

void segment_batch_done(struct weir_log *log, struct weir_segment *seg, uint64_t pos, uint64_t len,
                        int64_t base_offset, int64_t offset_next, int64_t max_ts)
{
    batch_account(seg, log->cfg.index_interval_bytes, true, pos, len, base_offset, offset_next, max_ts);
}

/* True when a batch of base offset `base` starts at pos, inside [0, size). */
static bool batch_at(const struct weir_segment *seg, uint64_t pos, int64_t base)
{
    if (pos >= seg->size || seg->size - pos < WEIR_BATCH_HEADER_BYTES) return false;
    const uint8_t *b = seg->log_map + pos;
    uint64_t len = (uint64_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
    return (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET) == base && len >= WEIR_BATCH_HEADER_BYTES &&
           len <= seg->size - pos;
}

static void index_distrust(struct weir_segment *seg, uint32_t entry)
{
    seg->index_bad = true;
    weir_log(WEIR_LOG_ERROR, "segment %s.index: entry %" PRIu32 " does not point at its batch; reads of this "
             "segment scan from its start", seg->path_base, entry);
}

uint64_t segment_index_lookup(struct weir_segment *seg, int64_t offset)
{
    int64_t at;
    return segment_index_find(seg, offset, &at);
}

uint64_t segment_index_find(struct weir_segment *seg, int64_t offset, int64_t *at_offset)
{
    int64_t rel = offset - seg->base_offset;
    *at_offset = seg->base_offset;
    if (rel <= 0 || seg->index_count == 0 || seg->index_bad) return 0;
    uint32_t lo = 0, hi = seg->index_count; /* first entry with rel > target */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((int64_t)index_rel(seg, mid) <= rel) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    uint64_t pos = index_pos(seg, lo - 1);
    if (batch_at(seg, pos, seg->base_offset + index_rel(seg, lo - 1))) {
        *at_offset = seg->base_offset + index_rel(seg, lo - 1);
        return pos;
    }
    index_distrust(seg, lo - 1);
    return 0;
}

int64_t segment_time_lookup(const struct weir_segment *seg, int64_t ts)
{
    uint32_t lo = 0, hi = seg->time_count; /* first entry with T >= ts */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (time_ts(seg, mid) < ts) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0 || seg->index_bad) return seg->base_offset;
    int64_t off = seg->base_offset + time_rel(seg, lo - 1);
    return off <= seg->offset_next ? off : seg->base_offset; /* a hint only: never past the end */
}

bool segment_check(const struct weir_segment *seg, bool full)
{
    if (seg->size > seg->size_queued || seg->size > seg->map_len || seg->offset_next > seg->offset_queued_next)
        return false;
    if (seg->offset_next < seg->base_offset || (seg->size > 0 && seg->offset_next == seg->base_offset))
        return false;
    if (seg->index_count > seg->index_cap || seg->time_count > seg->time_cap) return false;
    if ((uint64_t)seg->index_count * INDEX_ENTRY_BYTES > seg->index_alloc ||
        (uint64_t)seg->time_count * TIME_ENTRY_BYTES > seg->time_alloc)
        return false;
    uint32_t from = full || seg->index_count < 2 ? 0 : seg->index_count - 2; /* the newest entries, or all */
    for (uint32_t i = from; i < seg->index_count && !seg->index_bad; i++) {
        if (index_pos(seg, i) == 0 || index_pos(seg, i) >= seg->size) return false;
        if (seg->base_offset + index_rel(seg, i) >= seg->offset_next) return false;
        if (i > 0 && (index_rel(seg, i) <= index_rel(seg, i - 1) || index_pos(seg, i) <= index_pos(seg, i - 1)))
            return false;
    }
    return true;
}

/* ---- allocation ahead of writes ------------------------------------------------- */

static uint64_t align_down(uint64_t n) { return n / ALLOC_ALIGN * ALLOC_ALIGN; }

/* The step adapts to the write rate: filled within a second, it doubles. */
static void step_adapt(struct weir_log *log, int64_t now_ms)
{
    uint64_t max = WEIR_MAX(preparer_step_max(log->prep), (uint64_t)WEIR_PREALLOC_STEP_MIN_BYTES);
    if (log->prealloc_step == 0) log->prealloc_step = WEIR_PREALLOC_STEP_MIN_BYTES;
    else if (log->prealloc_last_ms != 0 && now_ms - log->prealloc_last_ms < STEP_GROW_MS)
        log->prealloc_step *= 2;
    else if (log->prealloc_last_ms != 0 && now_ms - log->prealloc_last_ms > STEP_SHRINK_MS)
        log->prealloc_step /= 2;
    log->prealloc_step = WEIR_MIN(WEIR_MAX(log->prealloc_step, (uint64_t)WEIR_PREALLOC_STEP_MIN_BYTES), max);
    log->prealloc_last_ms = now_ms;
    log->stats.prealloc_step = log->prealloc_step;
}

enum weir_err segment_reserve(struct weir_log *log, struct weir_segment *seg, uint64_t need, int64_t now_ms)
{
    if (need <= seg->alloc_len) return WEIR_OK;
    step_adapt(log, now_ms);
    uint64_t limit = WEIR_MAX(need, log->cfg.segment_bytes); /* the roll comes at segment.bytes */
    uint64_t extra = WEIR_MIN(log->prealloc_step, preparer_budget_left(log->prep));
    uint64_t want = WEIR_MIN(limit, WEIR_MAX(need, align_down(need + extra)));
    bool fs_full = false;
    for (;;) {
        int rc = -1;
        errno = 0;
        if (preparer_space_take(log->prep, want - seg->alloc_len, log->reserve_ok)) {
            rc = prealloc(seg->log_fd, seg->alloc_len, want);
            int errnum = errno;
            if (rc != 0) preparer_space_return(log->prep, want - seg->alloc_len);
            errno = errnum;
        }
        if (rc >= 0) {
            seg->alloc_len = rc == 0 ? want : need; /* 1: no fallocate; writes allocate */
            log->stats.prealloc_extends += rc == 0;
            return WEIR_OK; /* the caller charges the budget (log_charge) */
        }
        if (errno != 0 && errno != ENOSPC && errno != EDQUOT) return WEIR_E_IO;
        fs_full = errno != 0;
        if (want == need) break;
        want = need; /* a full step does not fit: try just this write (not low yet) */
    }
    preparer_space_exhausted(log->prep, need - seg->alloc_len, fs_full);
    return WEIR_E_NOSPACE;
}

/* ---- checking what is served ---------------------------------------------------- */

/* Walks [pos, end) checking each batch whole (bounds and CRC) and that its
 * base offset continues *next (the base offset is outside the CRC), or is
 * past it when `gaps` (a compacted log); returns
 * the end of the valid prefix, *next the offset after it. */
static uint64_t verify_range(const struct weir_segment *seg, uint64_t pos, uint64_t end, bool gaps, int64_t *next)
{
    for (uint64_t steps = 0; pos < end; steps++) {
        WEIR_ASSERT(steps <= end / WEIR_BATCH_HEADER_BYTES);
        size_t len;
        const uint8_t *b = seg->log_map + pos;
        if (weir_batch_validate(b, end - pos, end - pos, false, &len) != WEIR_OK) break;
        int64_t base = (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET);
        if (base != *next && !(gaps && base > *next)) break;
        *next += (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA) + 1;
        pos += len;
    }
    return pos;
}

uint64_t segment_verify(struct weir_segment *seg, bool gaps, uint64_t from, int64_t from_offset, uint64_t pos,
                        uint64_t end)
{
    if (end <= seg->vlo || pos >= seg->vhi || (pos >= seg->vmid_a && end <= seg->vmid_b)) return end;
    int64_t next = from_offset;
    if (from <= seg->vlo) from = seg->vlo, next = seg->vlo_next;
    if (from >= seg->vmid_a && from < seg->vmid_b) from = seg->vmid_b, next = seg->vmid_next;
    uint64_t to = WEIR_MIN(end, seg->vhi); /* checking a checked batch again is only time */
    uint64_t ok = verify_range(seg, from, to, gaps, &next);
    if (from == seg->vlo) seg->vlo = ok, seg->vlo_next = next;
    else if (from == seg->vmid_b) seg->vmid_b = ok, seg->vmid_next = next;
    else seg->vmid_a = from, seg->vmid_b = ok, seg->vmid_next = next; /* a new run: a sequential reader extends it */
    if (seg->vmid_a < seg->vmid_b && seg->vmid_a <= seg->vlo) {
        if (seg->vmid_b > seg->vlo) seg->vlo = seg->vmid_b, seg->vlo_next = seg->vmid_next;
        seg->vmid_a = seg->vmid_b = 0;
    }
    if (seg->vmid_a < seg->vmid_b && seg->vmid_b >= seg->vhi) {
        seg->vhi = seg->vmid_a;
        seg->vmid_a = seg->vmid_b = 0;
    }
    if (seg->vlo >= seg->vhi) seg->vlo = seg->vhi = 0; /* all of it checked */
    if (ok >= to) return end;
    return ok > pos ? ok : pos;
}

enum weir_err segment_find_batch(const struct weir_segment *seg, uint64_t pos, int64_t offset, uint64_t *found_pos)
{
    for (uint64_t steps = 0; pos < seg->size; steps++) {
        WEIR_ASSERT(steps <= seg->size / WEIR_BATCH_HEADER_BYTES);
        const uint8_t *b = seg->log_map + pos;
        if (seg->size - pos < WEIR_BATCH_HEADER_BYTES) return WEIR_E_CORRUPT;
        int64_t base = (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET);
        int32_t len = (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH);
        int32_t delta = (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA);
        if (len < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD ||
            (uint64_t)len + WEIR_BATCH_LOG_OVERHEAD > seg->size - pos)
            return WEIR_E_CORRUPT;
        if (base + delta >= offset) break;
        pos += (uint64_t)len + WEIR_BATCH_LOG_OVERHEAD;
    }
    *found_pos = pos;
    return WEIR_OK;
}

/* ---- open and recovery ----------------------------------------------------------- */

static int open_or_create(const char *path, bool *created)
{
    int fd = weir_io->open(path, O_RDWR, 0);
    if (fd >= 0 || errno != ENOENT) return fd;
    *created = true;
    return weir_io->open(path, O_RDWR | O_CREAT, 0644);
}

static enum weir_err segment_map(struct weir_log *log, struct weir_segment *seg, const int fds[3],
                                 const uint64_t sizes[3])
{
    seg->map_len = log_map_len(&log->cfg, sizes[0]);
    seg->index_cap = (uint32_t)WEIR_MAX(sizes[1] / INDEX_ENTRY_BYTES, log->cfg.segment_index_bytes / INDEX_ENTRY_BYTES);
    seg->time_cap = (uint32_t)WEIR_MAX(sizes[2] / TIME_ENTRY_BYTES, log->cfg.segment_index_bytes / TIME_ENTRY_BYTES);
    seg->alloc_len = sizes[0];
    seg->index_alloc = sizes[1];
    seg->time_alloc = sizes[2];
    seg->log_map = map_file(fds[0], seg->map_len, PROT_READ);
    seg->index_map = map_file(fds[1], (uint64_t)seg->index_cap * INDEX_ENTRY_BYTES, PROT_READ | PROT_WRITE);
    seg->time_map = map_file(fds[2], (uint64_t)seg->time_cap * TIME_ENTRY_BYTES, PROT_READ | PROT_WRITE);
    if (!seg->log_map || !seg->index_map || !seg->time_map) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "segment %s: mmap: %s", seg->path_base, strerror(errno));
        return WEIR_E_NOMEM;
    }
    return WEIR_OK;
}

/* Checks invariant (3) and the time index order against the file size. */
static bool segment_indexes_sane(const struct weir_segment *seg)
{
    for (uint32_t i = 0; i < seg->index_count; i++) {
        if (index_pos(seg, i) >= seg->size || index_pos(seg, i) == 0) return false;
        if (i > 0 && (index_rel(seg, i) <= index_rel(seg, i - 1) || index_pos(seg, i) <= index_pos(seg, i - 1)))
            return false;
    }
    for (uint32_t i = 1; i < seg->time_count; i++)
        if (time_ts(seg, i) <= time_ts(seg, i - 1) || time_rel(seg, i) < time_rel(seg, i - 1)) return false;
    return true;
}

enum weir_err segment_open(struct weir_log *log, int64_t base_offset, bool trusted, struct weir_segment **out)
{
    struct weir_segment *seg = segment_alloc(log->dir, base_offset);
    if (!seg) return WEIR_E_NOMEM;
    int fds[3] = { -1, -1, -1 };
    uint64_t sizes[3] = { 0, 0, 0 };
    bool created = false;
    enum weir_err err = WEIR_OK;
    for (int i = 0; i < 3 && err == WEIR_OK; i++) {
        char path[4096];
        segment_path(log->dir, base_offset, seg_ext[i], path, sizeof path);
        struct stat st;
        fds[i] = open_or_create(path, &created);
        if (fds[i] < 0 || fstat(fds[i], &st) != 0) {
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "segment: open %s: %s", path, strerror(errno));
            err = weir_err_from_errno(errno) == WEIR_E_NOSPACE ? WEIR_E_NOSPACE : WEIR_E_IO;
        } else {
            sizes[i] = (uint64_t)st.st_size;
        }
    }
    if (err == WEIR_OK && sizes[0] > UINT32_MAX) {
        weir_log(WEIR_LOG_ERROR, "segment %s: .log of %" PRIu64 " bytes exceeds 32-bit positions", seg->path_base,
                 sizes[0]);
        err = WEIR_E_CORRUPT;
    }
    if (err == WEIR_OK) err = segment_map(log, seg, fds, sizes);
    seg->log_fd = fds[0];
    for (int i = 1; i < 3; i++) /* mapped: their fds are not kept (one fd per segment) */
        if (fds[i] >= 0) close(fds[i]);
    if (err != WEIR_OK) {
        segment_put(seg);
        return err;
    }
    if (err == WEIR_OK && trusted && !created && sizes[1] % INDEX_ENTRY_BYTES == 0 &&
        sizes[2] % TIME_ENTRY_BYTES == 0) {
        seg->size = seg->size_queued = sizes[0];
        seg->index_count = (uint32_t)(sizes[1] / INDEX_ENTRY_BYTES);
        seg->time_count = (uint32_t)(sizes[2] / TIME_ENTRY_BYTES);
        seg->sealed = true;
        if (!segment_indexes_sane(seg) || segment_load_tail(log, seg) != WEIR_OK) {
            weir_log(WEIR_LOG_WARN, "segment %s: indexes or tail inconsistent; scanning it", seg->path_base);
            err = segment_recover(log, seg);
        }
    } else if (err == WEIR_OK) {
        seg->size = sizes[0]; /* bound for the scan */
        err = segment_recover(log, seg);
    }
    if (err != WEIR_OK) {
        segment_put(seg);
        return err;
    }
    *out = seg;
    return WEIR_OK;
}

/* Walks batches in [pos, limit) from seg->offset_next, accounting each (and
 * indexing when `index`). Stops at the first batch that fails validation
 * (CRC checked when `verify`) or does not continue the offsets (in a
 * compacted log, log_gaps_ok, a batch may start past seg->offset_next). */
static uint64_t segment_walk(struct weir_log *log, struct weir_segment *seg, uint64_t pos, uint64_t limit,
                             bool verify, bool index, uint64_t *batches)
{
    bool gaps = log_gaps_ok(log);
    for (uint64_t steps = 0; pos < limit; steps++) {
        WEIR_ASSERT(steps <= limit / WEIR_BATCH_HEADER_BYTES);
        const uint8_t *b = seg->log_map + pos;
        size_t len;
        struct weir_batch_header h;
        if (verify && weir_batch_validate(b, limit - pos, limit - pos, false, &len) != WEIR_OK) break;
        if (weir_batch_header_decode(b, limit - pos, &h) != WEIR_OK ||
            (h.base_offset != seg->offset_next && !(gaps && h.base_offset > seg->offset_next)) ||
            h.length < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD || h.last_offset_delta < 0 ||
            (uint64_t)h.length + WEIR_BATCH_LOG_OVERHEAD > limit - pos)
            break;
        len = (size_t)h.length + WEIR_BATCH_LOG_OVERHEAD;
        batch_account(seg, log->cfg.index_interval_bytes, index, pos, len, h.base_offset,
                      h.base_offset + h.last_offset_delta + 1, h.max_timestamp);
        pos += len;
        (*batches)++;
    }
    return pos;
}

enum weir_err segment_load_tail(struct weir_log *log, struct weir_segment *seg)
{
    uint64_t size = seg->size, batches = 0;
    /* Replay [last index entry, size) on top of the kept entries, adding none. */
    seg->size = seg->index_count ? index_pos(seg, seg->index_count - 1) : 0;
    seg->offset_next = seg->base_offset + (seg->index_count ? index_rel(seg, seg->index_count - 1) : 0);
    seg->max_timestamp = seg->time_count ? time_ts(seg, seg->time_count - 1) : INT64_MIN;
    seg->bytes_since_index = 0;
    uint64_t end = segment_walk(log, seg, seg->size, size, true, false, &batches);
    seg->size_queued = seg->size;
    seg->offset_queued_next = seg->offset_next;
    return end == size ? WEIR_OK : WEIR_E_CORRUPT;
}

static uint64_t torn_bytes(const struct weir_segment *seg, uint64_t from, uint64_t file_size)
{
    uint64_t end = WEIR_MIN(file_size, from + TORN_SCAN_BYTES_MAX), last = from;
    for (uint64_t p = from; p < end; p++)
        if (seg->log_map[p]) last = p + 1;
    return last - from;
}

enum weir_err segment_recover(struct weir_log *log, struct weir_segment *seg)
{
    uint64_t file_size = seg->size, batches = 0;
    seg->size = seg->bytes_since_index = 0;
    seg->index_count = seg->time_count = 0;
    seg->offset_next = seg->base_offset;
    seg->max_timestamp = INT64_MIN;
    uint64_t end = segment_walk(log, seg, 0, file_size, true, true, &batches);
    seg->size_queued = seg->size;
    seg->offset_queued_next = seg->offset_next;
    log->stats.recovered_batches += batches;
    uint64_t torn = torn_bytes(seg, end, file_size);
    if (torn > 0) {
        weir_log(WEIR_LOG_WARN,
                 "recovery: %s.log: cut %" PRIu64 " bytes of torn or corrupt data at position %" PRIu64
                 " (offset %" PRId64 "); %" PRIu64 " valid batches kept",
                 seg->path_base, torn, end, seg->offset_next, batches);
        log->stats.recovered_bytes_cut += torn;
    }
    /* Zero the tail so a later scan can never resurrect stale batches. */
    if (end < file_size && weir_io->ftruncate(seg->log_fd, (off_t)end) != 0) {
        weir_log(WEIR_LOG_ERROR, "recovery: truncate %s.log: %s", seg->path_base, strerror(errno));
        return WEIR_E_IO;
    }
    seg->alloc_len = end;
    seg->vlo = seg->vhi = 0; /* every batch kept passed its CRC */
    seg->sealed = true; /* file size is now the true size */
    return WEIR_OK;
}

enum weir_err segment_activate(struct weir_log *log, struct weir_segment *seg)
{
    (void)log; /* allocation comes with the writes (segment_reserve) */
    seg->alloc_len = seg->size; /* open and recovery left the file at its true size */
    seg->vhi = WEIR_MIN(seg->vhi, seg->size); /* what comes after is written by this process */
    seg->sealed = false;
    return WEIR_OK;
}

uint64_t segment_allocated_bytes(const struct weir_segment *seg)
{
    uint64_t total = 0;
    for (int i = 0; i < 3; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s%s", seg->path_base, seg_ext[i]);
        if (!seg->deleted && stat(path, &st) == 0) total += (uint64_t)st.st_blocks * 512;
    }
    return total;
}

enum weir_err segment_seal(struct weir_segment *seg, bool sync)
{
    uint64_t lens[3] = { seg->size, (uint64_t)seg->index_count * INDEX_ENTRY_BYTES,
                         (uint64_t)seg->time_count * TIME_ENTRY_BYTES };
    for (int i = 0; i < 3; i++) {
        uint64_t alloc = i == 1 ? seg->index_alloc : seg->time_alloc;
        if (i > 0 && !sync && alloc == lens[i]) continue; /* already its true size: no open, no truncate */
        int fd = i == 0 ? seg->log_fd : seg_file_open(seg, i);
        if (fd < 0 && errno == ENOENT && i > 0) continue; /* deleted by retention meanwhile */
        bool ok = fd >= 0 && weir_io->ftruncate(fd, (off_t)lens[i]) == 0 && (!sync || weir_io->fdatasync(fd) == 0);
        int errnum = errno;
        if (i > 0 && fd >= 0) close(fd);
        if (!ok) {
            weir_log(WEIR_LOG_ERROR, "segment %s%s: seal: %s", seg->path_base, seg_ext[i], strerror(errnum));
            return WEIR_E_IO;
        }
    }
    return WEIR_OK;
}

void segment_seal_mark(struct weir_segment *seg)
{
    time_entry_add(seg, seg->max_timestamp, seg->offset_next);
    seg->sealed = true;
}

enum weir_err segment_truncate_at(struct weir_log *log, struct weir_segment *seg, uint64_t pos, int64_t offset)
{
    (void)offset;
    uint64_t batches = 0;
    seg->size = seg->bytes_since_index = 0;
    seg->index_count = seg->time_count = 0;
    seg->offset_next = seg->base_offset;
    seg->max_timestamp = INT64_MIN;
    uint64_t end = segment_walk(log, seg, 0, pos, false, true, &batches);
    WEIR_ASSERT(end == pos);
    seg->size_queued = seg->size;
    seg->offset_queued_next = seg->offset_next;
    if (weir_io->ftruncate(seg->log_fd, (off_t)pos) != 0) {
        weir_log(WEIR_LOG_ERROR, "truncate %s.log: %s", seg->path_base, strerror(errno));
        return WEIR_E_IO;
    }
    seg->vlo = WEIR_MIN(seg->vlo, pos), seg->vmid_a = seg->vmid_b = 0;
    return segment_activate(log, seg);
}

void segment_unlink(struct weir_segment *seg)
{
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s%s", seg->path_base, seg_ext[i]);
        if (weir_io->unlink(path) != 0 && errno != ENOENT)
            weir_log(WEIR_LOG_WARN, "delete %s: %s", path, strerror(errno));
    }
    seg->deleted = true;
}

void segment_put(struct weir_segment *seg)
{
    if (atomic_fetch_sub(&seg->refs, 1) != 1) return;
    if (seg->log_map) munmap(seg->log_map, seg->map_len);
    if (seg->index_map) munmap(seg->index_map, (size_t)seg->index_cap * INDEX_ENTRY_BYTES);
    if (seg->time_map) munmap(seg->time_map, (size_t)seg->time_cap * TIME_ENTRY_BYTES);
    if (seg->log_fd >= 0) close(seg->log_fd);
    weir_free(seg->path_base);
    weir_free(seg);
}
