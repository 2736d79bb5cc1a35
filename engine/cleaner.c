/* engine/cleaner.c: log compaction (cleanup.policy=compact), after Kafka's LogCleaner.
 *
 * A pass keeps the latest record of each key in the closed segments of a log:
 *  1. begin (owner thread): picks the cleanable segments [0, k): sealed, below
 *     the active segment, the high watermark and the recovery checkpoint (so
 *     synced and trusted at the next open), and whose largest timestamp is
 *     older than min.compaction.lag.ms. The dirty part starts at the cleaner
 *     checkpoint. The segments are pinned (refs), so retention or a truncation
 *     meanwhile only unlinks them.
 *  2. run (any thread; the broker's cleaner thread): reads the pinned segments
 *     with pread (never through their mappings: a truncation could shrink a
 *     file under a mapping), builds key -> last offset over the dirty part,
 *     then writes each cleanable segment again as <base>.log.cleaned (with
 *     .index.cleaned and .timeindex.cleaned), fdatasync'd, its mtime the time
 *     the segment was first cleaned. Consecutive segments may merge into one
 *     output (job_group; markers <base>.merged name where each group ends).
 *  3. finish (owner thread): if the log still holds those segments unchanged,
 *     writes the cleaner checkpoint and the merge markers, renames the index
 *     files to .swap, syncs the directory, renames each .log.cleaned to
 *     .log.swap and syncs again (the commit point of that output), deletes the
 *     merged members and syncs, renames the .swap files over the originals
 *     (indexes first, .log last), syncs, replaces the segments in memory, and
 *     deletes the markers. Views of the old segments keep their fd and mapping (the old
 *     inodes live until the last ref goes), as with retention.
 *
 * Recovery (cleaner_recover_files, before the segments are listed at open):
 * a .cleaned file is deleted (the pass had not committed); for a <base>.log.swap
 * the swap is finished: its index .swap files are renamed over (or rebuilt by
 * the open when missing), then the .log.swap; index .swap files without a
 * .log.swap are deleted (before the commit, or their .log was renamed last).
 * First, a marker whose leader's .log.cleaned is gone (committed) deletes the
 * segments of its group but the leader; a marker goes in any case.
 *
 * Offsets are kept: a rewritten batch keeps its base offset, its records keep
 * their offsets, so a cleaned segment has gaps, also at its end. The cleaner
 * checkpoint (file cleaner-offset-checkpoint, Kafka's first dirty offset) is
 * written before any swap commits; open accepts a gap after a segment only
 * below it (a gap elsewhere still means a recovery or truncation cut). */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { CLEAN_SEGS_MAX = 1 << 16, MAP_SLOTS_MIN = 1 << 10 };
#define MERGED_EXT ".merged" /* <leader base>.merged: the group's next offset, while its members go */

void weir_clean_config_default(struct weir_clean_config *c)
{
    *c = (struct weir_clean_config){
        .delete_retention_ms = 86400000,
        .min_compaction_lag_ms = 0,
        .max_compaction_lag_ms = INT64_MAX,
        .min_cleanable_dirty_ratio = 0.5,
        .map_entries_max = 1u << 22,
    };
}

void log_clean_config(const struct weir_log_config *c, struct weir_clean_config *out)
{
    weir_clean_config_default(out);
    out->delete_retention_ms = c->delete_retention_ms;
    out->min_compaction_lag_ms = c->min_compaction_lag_ms;
    out->max_compaction_lag_ms = c->max_compaction_lag_ms;
    out->min_cleanable_dirty_ratio = c->min_cleanable_dirty_ratio;
}

/* ---- key -> offset map: open addressing over 64-bit key hashes ------------ */

struct map_slot {
    uint64_t hash; /* 0 = empty */
    int64_t offset;
};
struct keymap {
    struct map_slot *v;
    uint32_t cap, count; /* cap: power of two */
};

static uint64_t key_hash(const uint8_t *p, int32_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)n;
    for (int32_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    h ^= h >> 33, h *= 0xff51afd7ed558ccdull, h ^= h >> 33, h *= 0xc4ceb9fe1a85ec53ull, h ^= h >> 33;
    return h ? h : 1;
}

static struct map_slot *map_find(const struct keymap *m, uint64_t hash)
{
    for (uint32_t i = (uint32_t)hash & (m->cap - 1), steps = 0;; i = (i + 1) & (m->cap - 1), steps++) {
        WEIR_ASSERT(steps < m->cap);
        if (m->v[i].hash == hash || m->v[i].hash == 0) return &m->v[i];
    }
}

static enum weir_err map_put(struct keymap *m, uint64_t hash, int64_t offset)
{
    if ((uint64_t)(m->count + 1) * 4 > (uint64_t)m->cap * 3) { /* keep it at most 3/4 full */
        uint32_t cap = m->cap ? m->cap * 2 : MAP_SLOTS_MIN;
        struct keymap n = { weir_calloc(cap, sizeof *n.v), cap, 0 };
        if (!n.v) return WEIR_E_NOMEM;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->v[i].hash) *map_find(&n, m->v[i].hash) = m->v[i], n.count++;
        weir_free(m->v);
        *m = n;
    }
    struct map_slot *s = map_find(m, hash);
    if (!s->hash) *s = (struct map_slot){ hash, offset }, m->count++;
    else if (offset > s->offset) s->offset = offset;
    return WEIR_OK;
}

static bool map_get(const struct keymap *m, uint64_t hash, int64_t *offset)
{
    if (!m->cap) return false;
    const struct map_slot *s = map_find(m, hash);
    if (!s->hash) return false;
    *offset = s->offset;
    return true;
}

/* ---- the job --------------------------------------------------------------- */

struct clean_seg {
    struct weir_segment *seg;  /* pinned */
    int64_t base, next;        /* next: the following segment's base */
    uint64_t size;
    int fd;
    bool was_clean;            /* below the cleaner checkpoint at begin */
    int64_t clean_ms;          /* when first cleaned (now for a dirty one) */
    bool written;              /* .cleaned files made */
    /* Merging (Kafka's groupSegmentsBySize): a group leader writes the output
     * of group_n segments [its index, + group_n) under its own base; 0: a
     * member merged into the leader before it. */
    unsigned group_n;
    int64_t group_next;        /* leader: the group's last segment's next */
    int64_t group_clean_ms;    /* leader: the output's first-cleaned time */
    bool marker;               /* leader: its <base>.merged file may exist */
};

struct weir_clean_job {
    struct weir_log *log;      /* identity only: run never touches it */
    char *dir;
    struct weir_clean_config cc;
    uint32_t index_interval;
    uint64_t index_entries_max;
    uint64_t segment_bytes;    /* a merged output's input stays within it */
    int64_t now_ms;
    uint64_t gen;
    int64_t dirty_from, uncleanable;
    int64_t clean_to;          /* out: segments below it were rewritten */
    int64_t tombstones_since_ms; /* out: the oldest first-clean time of a segment keeping a tombstone */
    int64_t out_clean_ms;      /* the first-cleaned time of the output being written */
    struct clean_seg *segs;
    unsigned n, n_clean;       /* pinned; rewritten (a prefix) */
    struct keymap keys, pids;  /* key -> last offset; producer id + 1 -> last batch base */
    enum weir_err err;
    struct weir_clean_stats stats;
    uint8_t *buf, *scratch, *out, *packed; /* a batch read, its records decompressed, its rewrite, compressed */
    size_t buf_cap, scratch_cap, out_cap, packed_cap;
};

static void job_path(const struct weir_clean_job *j, int64_t base, const char *ext, char *out, size_t cap)
{
    segment_path(j->dir, base, ext, out, cap);
}

static const char *const clean_ext[3][3] = {
    { ".log", ".log.cleaned", ".log.swap" },
    { ".index", ".index.cleaned", ".index.swap" },
    { ".timeindex", ".timeindex.cleaned", ".timeindex.swap" },
};

static void marker_path(const struct weir_clean_job *j, int64_t base, char *out, size_t cap)
{
    segment_path(j->dir, base, MERGED_EXT, out, cap);
}

/* An uncommitted leader's marker goes before its .cleaned files (recovery
 * reads a marker without a .log.cleaned as committed). False: it stays. */
static bool marker_drop(struct weir_clean_job *j, struct clean_seg *cs)
{
    if (!cs->marker) return true;
    char path[4096];
    job_path(j, cs->base, clean_ext[0][1], path, sizeof path);
    if (access(path, F_OK) != 0) return true; /* committed (a failed commit): recovery needs the marker */
    marker_path(j, cs->base, path, sizeof path);
    if ((weir_io->unlink(path) != 0 && errno != ENOENT) || weir_fsync_dir(j->dir) != WEIR_OK) return false;
    cs->marker = false;
    return true;
}

static void job_free(struct weir_clean_job *j)
{
    for (unsigned i = 0; i < j->n; i++) {
        bool drop = !j->segs[i].written || marker_drop(j, &j->segs[i]);
        for (int f = 0; f < 3 && j->segs[i].written && drop; f++) { /* never committed: its .cleaned go */
            char path[4096];
            job_path(j, j->segs[i].base, clean_ext[f][1], path, sizeof path);
            weir_io->unlink(path);
        }
        segment_put(j->segs[i].seg);
    }
    weir_free(j->segs);
    weir_free(j->keys.v);
    weir_free(j->pids.v);
    weir_free(j->buf);
    weir_free(j->scratch);
    weir_free(j->out);
    weir_free(j->packed);
    weir_free(j->dir);
    weir_free(j);
}

/* Test hook: WEIR_TEST_CLEANER_PAUSE="<step>:<ms>" sleeps at a real step of
 * the pass ("cleaned": the .cleaned files synced; "swap": committed, before
 * the final renames) so that a test can kill the process there. */
static void test_pause(const char *step)
{
    const char *env = getenv("WEIR_TEST_CLEANER_PAUSE");
    size_t n = strlen(step);
    if (!env || strncmp(env, step, n) != 0 || env[n] != ':') return;
    long ms = strtol(env + n + 1, NULL, 10);
    weir_log(WEIR_LOG_INFO, "cleaner: test pause at %s for %ld ms", step, ms);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- begin: owner thread ------------------------------------------------------ */

static int64_t file_mtime_ms(const struct weir_segment *seg, int64_t dflt)
{
    struct stat st;
    if (fstat(seg->log_fd, &st) != 0) return dflt;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Segments [0, k) that may be cleaned: sealed and synced (below the recovery
 * checkpoint, so trusted at open), below the HW, older than the min lag. */
static unsigned cleanable_count(const struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms)
{
    int64_t ckpt = log_offset_file_read(log->dir, LOG_CHECKPOINT_FILE);
    int64_t limit = WEIR_MIN(WEIR_MIN(log_active(log)->base_offset, log->hw), ckpt);
    unsigned k = 0;
    while (k + 1 < log->n_segs && k < CLEAN_SEGS_MAX && log->segs[k]->offset_next <= limit &&
           (cc->min_compaction_lag_ms <= 0 || log->segs[k]->max_timestamp == INT64_MIN ||
            log->segs[k]->max_timestamp <= now_ms - cc->min_compaction_lag_ms))
        k++;
    return k;
}

/* Kafka's choice of a log to clean: dirty ratio, or max.compaction.lag.ms passed. */
static bool worth_cleaning(const struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms,
                           unsigned k, int64_t dirty_from)
{
    uint64_t total = 0, dirty = 0;
    int64_t first_dirty_ts = INT64_MAX;
    for (unsigned i = 0; i < k; i++) {
        const struct weir_segment *s = log->segs[i];
        total += s->size;
        if (s->offset_next <= dirty_from) continue;
        dirty += s->size;
        if (first_dirty_ts == INT64_MAX && s->size >= WEIR_BATCH_HEADER_BYTES)
            first_dirty_ts = (int64_t)weir_load_be64(s->log_map + WEIR_BATCH_OFF_MAX_TS);
    }
    if (dirty == 0) return false;
    if (cc->max_compaction_lag_ms < INT64_MAX && first_dirty_ts != INT64_MAX &&
        first_dirty_ts <= now_ms - cc->max_compaction_lag_ms)
        return true;
    return (double)dirty >= cc->min_cleanable_dirty_ratio * (double)total;
}

/* When the oldest tombstone kept by a pass was cleaned first: known after a
 * pass; after an open, the oldest first-clean time of the cleaned segments. */
static int64_t tombstones_since(struct weir_log *log, unsigned k, int64_t now_ms)
{
    if (log->tombstones_since_ms != INT64_MIN) return log->tombstones_since_ms;
    int64_t since = INT64_MAX;
    for (unsigned i = 0; i < k && log->segs[i]->offset_next <= log->cleaned_below; i++)
        since = WEIR_MIN(since, file_mtime_ms(log->segs[i], now_ms));
    return log->tombstones_since_ms = since;
}

bool weir_log_compacted(const struct weir_log *log) { return log->compacted; }

enum weir_err weir_log_clean_begin(struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms,
                                   bool force, struct weir_clean_job **out)
{
    struct weir_clean_config from_log;
    if (!cc) {
        log_clean_config(&log->cfg, &from_log);
        cc = &from_log;
    }
    *out = NULL;
    if (log->failed != WEIR_OK) return WEIR_E_FAILED;
    if (log->closing) return WEIR_E_CLOSED;
    if (log->clean_busy) return WEIR_E_BUSY;
    unsigned k = cleanable_count(log, cc, now_ms);
    if (k == 0) return WEIR_E_NOT_FOUND;
    int64_t dirty_from = WEIR_MAX(log->cleaned_below, log->segs[0]->base_offset);
    bool tombstones_due = tombstones_since(log, k, now_ms) <= now_ms - cc->delete_retention_ms;
    if (!force && !tombstones_due && !worth_cleaning(log, cc, now_ms, k, dirty_from)) return WEIR_E_NOT_FOUND;
    struct weir_clean_job *j = weir_calloc(1, sizeof *j);
    if (!j || !(j->dir = weir_strdup(log->dir)) || !(j->segs = weir_calloc(k, sizeof *j->segs))) {
        if (j) weir_free(j->dir);
        weir_free(j);
        return WEIR_E_NOMEM;
    }
    j->log = log;
    j->cc = *cc;
    j->index_interval = log->cfg.index_interval_bytes;
    j->index_entries_max = log->cfg.segment_index_bytes / INDEX_ENTRY_BYTES;
    j->segment_bytes = log->cfg.segment_bytes;
    j->now_ms = now_ms;
    j->tombstones_since_ms = INT64_MAX;
    j->gen = log->clean_gen;
    j->dirty_from = dirty_from;
    j->uncleanable = log->segs[k - 1]->offset_next;
    for (unsigned i = 0; i < k; i++) {
        struct weir_segment *s = log->segs[i];
        atomic_fetch_add(&s->refs, 1);
        bool was_clean = s->offset_next <= log->cleaned_below;
        j->segs[i] = (struct clean_seg){ s, s->base_offset, s->offset_next, s->size, s->log_fd, was_clean,
                                         was_clean ? file_mtime_ms(s, now_ms) : now_ms, false, 1, 0, 0, false };
    }
    j->n = k;
    log->clean_busy = true;
    *out = j;
    return WEIR_OK;
}

/* ---- run: any thread ----------------------------------------------------------- */

/* Reads the batch at *pos of cs into j->buf; false at the end or on error (j->err). */
static bool batch_read(struct weir_clean_job *j, const struct clean_seg *cs, uint64_t *pos, struct weir_batch_header *h)
{
    if (*pos >= cs->size) return false;
    uint8_t head[WEIR_BATCH_HEADER_BYTES];
    if (cs->size - *pos < WEIR_BATCH_HEADER_BYTES ||
        weir_io->pread(cs->fd, head, sizeof head, (off_t)*pos) != (ssize_t)sizeof head ||
        weir_batch_header_decode(head, sizeof head, h) != WEIR_OK || h->length < 0) {
        j->err = WEIR_E_CORRUPT;
        return false;
    }
    size_t len = WEIR_BATCH_LOG_OVERHEAD + (size_t)h->length;
    if (len > cs->size - *pos) {
        j->err = WEIR_E_CORRUPT;
        return false;
    }
    if (len > j->buf_cap) {
        uint8_t *b = weir_realloc(j->buf, len);
        if (!b) {
            j->err = WEIR_E_NOMEM;
            return false;
        }
        j->buf = b, j->buf_cap = len;
    }
    if (weir_io->pread(cs->fd, j->buf, len, (off_t)*pos) != (ssize_t)len ||
        weir_batch_check(j->buf, len, SIZE_MAX, false, h) != WEIR_OK) {
        j->err = WEIR_E_CORRUPT;
        return false;
    }
    *pos += len;
    return true;
}

static bool records_begin(struct weir_clean_job *j, const struct weir_batch_header *h, struct weir_record_iter *it)
{
    if (h->attributes & WEIR_ATTR_CONTROL) return false;
    return weir_record_iter_init(it, j->buf, WEIR_BATCH_LOG_OVERHEAD + (size_t)h->length, &j->scratch,
                                 &j->scratch_cap, 64u << 20) == WEIR_OK;
}

/* Pass 1: key -> last offset over the dirty part, producer -> last batch over all. */
static void job_map(struct weir_clean_job *j)
{
    j->n_clean = j->n;
    for (unsigned i = 0; i < j->n && j->err == WEIR_OK; i++) {
        const struct clean_seg *cs = &j->segs[i];
        if (cs->next > j->dirty_from && j->keys.count >= j->cc.map_entries_max && i > 0 &&
            j->segs[i - 1].next > j->dirty_from) {
            j->n_clean = i; /* the map is full: clean up to here (Kafka's full segments) */
            break;
        }
        struct weir_batch_header h;
        for (uint64_t pos = 0; batch_read(j, cs, &pos, &h);) {
            if (h.producer_id >= 0 && map_put(&j->pids, (uint64_t)h.producer_id + 1, h.base_offset) != WEIR_OK)
                j->err = WEIR_E_NOMEM;
            struct weir_record_iter it;
            if (h.base_offset + h.last_offset_delta < j->dirty_from || !records_begin(j, &h, &it)) continue;
            struct weir_record r;
            while (weir_record_iter_next(&it, &r) == WEIR_OK && j->err == WEIR_OK)
                if (r.key && r.offset >= j->dirty_from && map_put(&j->keys, key_hash(r.key, r.key_len), r.offset) != WEIR_OK)
                    j->err = WEIR_E_NOMEM;
        }
    }
    j->clean_to = j->n_clean ? j->segs[j->n_clean - 1].next : j->dirty_from;
}

/* Kafka's shouldRetainRecord: a key's latest record stays; a tombstone stays
 * until delete.retention.ms after its segment was first cleaned; no key: gone. */
static bool record_keep(struct weir_clean_job *j, const struct clean_seg *cs, const struct weir_record *r)
{
    if (!r->key) return false;
    int64_t last;
    if (map_get(&j->keys, key_hash(r->key, r->key_len), &last) && last > r->offset) return false;
    if (!r->value && cs->was_clean && j->now_ms - cs->clean_ms >= j->cc.delete_retention_ms) {
        j->stats.tombstones_dropped++;
        return false;
    }
    if (!r->value) j->tombstones_since_ms = WEIR_MIN(j->tombstones_since_ms, j->out_clean_ms); /* its output's clock */
    return true;
}

static uint8_t *out_room(struct weir_clean_job *j, size_t n)
{
    if (n > j->out_cap) {
        uint8_t *o = weir_realloc(j->out, n);
        if (!o) return NULL;
        j->out = o, j->out_cap = n;
    }
    return j->out;
}

/* Compresses the records [o + header, o + *len) in place with the batch's
 * codec, as Kafka's cleaner keeps it; on a codec error they stay uncompressed
 * (and the codec bits are cleared). o holds out_cap bytes. */
static void records_pack(struct weir_clean_job *j, uint8_t *o, size_t *len, enum weir_codec codec)
{
    size_t raw = *len - WEIR_BATCH_HEADER_BYTES, bound = weir_codec_bound(codec, raw), packed = 0;
    if (bound > j->packed_cap) {
        uint8_t *p = weir_realloc(j->packed, bound);
        if (p) j->packed = p, j->packed_cap = bound;
    }
    uint16_t attrs = weir_load_be16(o + WEIR_BATCH_OFF_ATTRS) & (uint16_t)~WEIR_ATTR_CODEC_MASK;
    if (bound <= j->packed_cap && WEIR_BATCH_HEADER_BYTES + bound <= j->out_cap &&
        weir_codec_compress(codec, WEIR_CODEC_LEVEL_DEFAULT, o + WEIR_BATCH_HEADER_BYTES, raw, j->packed,
                            j->packed_cap, &packed) == WEIR_OK) {
        memcpy(o + WEIR_BATCH_HEADER_BYTES, j->packed, packed);
        *len = WEIR_BATCH_HEADER_BYTES + packed;
        attrs |= (uint16_t)codec;
    }
    weir_store_be16(o + WEIR_BATCH_OFF_ATTRS, attrs);
}

/* Rewrites the batch in j->buf with only the records kept, in its codec, its
 * base offset, producer fields and each record's offset kept. Returns its
 * length in j->out, 0 when no record is kept, SIZE_MAX when every record is
 * (write the original) or on error (j->err set). */
static size_t batch_filter(struct weir_clean_job *j, const struct clean_seg *cs, const struct weir_batch_header *h)
{
    struct weir_record_iter it;
    size_t in_len = WEIR_BATCH_LOG_OVERHEAD + (size_t)h->length;
    if (!records_begin(j, h, &it)) return SIZE_MAX; /* control batches and unknown codecs stay whole */
    if (h->producer_id >= 0) { /* the last batch of each producer stays (its state rebuilds from the log) */
        int64_t last;
        if (map_get(&j->pids, (uint64_t)h->producer_id + 1, &last) && last == h->base_offset) return SIZE_MAX;
    }
    /* Re-encoded, a record takes its decompressed size plus at
     * most a few bytes more for its new timestamp delta. */
    enum weir_codec codec = (enum weir_codec)(h->attributes & WEIR_ATTR_CODEC_MASK);
    size_t room = j->scratch_cap + in_len + (size_t)h->records_count * 20;
    uint8_t *o = out_room(j, WEIR_BATCH_HEADER_BYTES + (codec ? weir_codec_bound(codec, room) : room));
    if (!o) {
        j->err = WEIR_E_NOMEM;
        return SIZE_MAX;
    }
    bool log_time = h->attributes & WEIR_ATTR_LOG_APPEND_TIME;
    struct weir_wr wr = weir_wr_make(o + WEIR_BATCH_HEADER_BYTES, j->out_cap - WEIR_BATCH_HEADER_BYTES);
    int32_t kept = 0, all = 0, last_delta = 0;
    int64_t base_ts = log_time ? h->base_timestamp : INT64_MIN, max_ts = log_time ? h->max_timestamp : INT64_MIN;
    struct weir_record r;
    for (; weir_record_iter_next(&it, &r) == WEIR_OK; all++) {
        if (!record_keep(j, cs, &r)) continue;
        if (base_ts == INT64_MIN) base_ts = r.timestamp;
        if (!log_time) max_ts = WEIR_MAX(max_ts, r.timestamp);
        int32_t od = (int32_t)(r.offset - h->base_offset);
        int64_t td = r.timestamp - base_ts;
        size_t body = 1 + weir_varlong_len(td) + weir_varlong_len(od) + weir_varlong_len(r.key_len) +
                      (size_t)WEIR_MAX(r.key_len, 0) + weir_varlong_len(r.value_len) +
                      (size_t)WEIR_MAX(r.value_len, 0) + weir_varlong_len(r.headers_count) + r.headers_raw_len;
        weir_wr_varint(&wr, (int32_t)body);
        weir_wr_u8(&wr, 0);
        weir_wr_varlong(&wr, td);
        weir_wr_varint(&wr, od);
        weir_wr_varint(&wr, r.key_len);
        if (r.key_len > 0) weir_wr_bytes(&wr, r.key, (size_t)r.key_len);
        weir_wr_varint(&wr, r.value_len);
        if (r.value_len > 0) weir_wr_bytes(&wr, r.value, (size_t)r.value_len);
        weir_wr_varint(&wr, r.headers_count);
        weir_wr_bytes(&wr, r.headers_raw, r.headers_raw_len);
        kept++;
        last_delta = od;
    }
    j->stats.records_read += (uint64_t)all;
    j->stats.records_kept += (uint64_t)kept;
    if (wr.err != WEIR_OK || all != h->records_count) {
        j->err = wr.err != WEIR_OK ? wr.err : WEIR_E_CORRUPT;
        return SIZE_MAX;
    }
    if (kept == all) return SIZE_MAX;
    if (kept == 0) return 0;
    size_t len = WEIR_BATCH_HEADER_BYTES + weir_wr_len(&wr);
    memcpy(o, j->buf, WEIR_BATCH_HEADER_BYTES); /* base offset, epoch, producer fields */
    weir_store_be16(o + WEIR_BATCH_OFF_ATTRS, (uint16_t)(h->attributes & ~WEIR_ATTR_CODEC_MASK));
    weir_store_be32(o + WEIR_BATCH_OFF_LAST_DELTA, (uint32_t)last_delta);
    weir_store_be64(o + WEIR_BATCH_OFF_BASE_TS, (uint64_t)base_ts);
    weir_store_be64(o + WEIR_BATCH_OFF_MAX_TS, (uint64_t)max_ts);
    weir_store_be32(o + WEIR_BATCH_OFF_COUNT, (uint32_t)kept);
    if (codec != WEIR_CODEC_NONE) records_pack(j, o, &len, codec);
    weir_store_be32(o + WEIR_BATCH_OFF_LENGTH, (uint32_t)(len - WEIR_BATCH_LOG_OVERHEAD));
    weir_store_be32(o + WEIR_BATCH_OFF_CRC, weir_crc32c(0, o + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
    return len;
}

/* The output of one segment: the three .cleaned files and its index entries. */
struct seg_out {
    int fd[3];
    uint64_t pos, since_index, index_n, time_n;
    int64_t max_ts;
};

static bool out_write(struct seg_out *o, int f, const void *p, size_t n, uint64_t at)
{
    return weir_io->pwrite(o->fd[f], p, n, (off_t)at) == (ssize_t)n;
}

static bool out_time_entry(struct seg_out *o, int64_t ts_before, int64_t rel, int64_t *last_ts)
{
    if (ts_before == INT64_MIN || ts_before <= *last_ts) return true;
    uint8_t e[TIME_ENTRY_BYTES];
    weir_store_be64(e, (uint64_t)ts_before);
    weir_store_be32(e + 8, (uint32_t)rel);
    *last_ts = ts_before;
    return out_write(o, 2, e, sizeof e, o->time_n++ * TIME_ENTRY_BYTES);
}

/* Appends one batch (p, len; base offset base, largest timestamp ts) to o. */
static bool out_batch(struct weir_clean_job *j, const struct clean_seg *cs, struct seg_out *o, const uint8_t *p,
                      size_t len, int64_t ts, int64_t *last_time_ts)
{
    int64_t rel = (int64_t)weir_load_be64(p + WEIR_BATCH_OFF_BASE_OFFSET) - cs->base;
    if (o->pos > 0 && o->since_index >= j->index_interval && o->index_n < j->index_entries_max) {
        uint8_t e[INDEX_ENTRY_BYTES];
        weir_store_be32(e, (uint32_t)rel);
        weir_store_be32(e + 4, (uint32_t)o->pos);
        if (!out_write(o, 1, e, sizeof e, o->index_n++ * INDEX_ENTRY_BYTES)) return false;
        if (!out_time_entry(o, o->max_ts, rel, last_time_ts)) return false;
        o->since_index = 0;
    }
    if (!out_write(o, 0, p, len, o->pos)) return false;
    o->pos += len;
    o->since_index += len;
    o->max_ts = WEIR_MAX(o->max_ts, ts);
    return true;
}

static enum weir_err out_open(struct weir_clean_job *j, const struct clean_seg *cs, struct seg_out *o)
{
    *o = (struct seg_out){ { -1, -1, -1 }, 0, 0, 0, 0, INT64_MIN };
    for (int f = 0; f < 3; f++) {
        char path[4096];
        job_path(j, cs->base, clean_ext[f][1], path, sizeof path);
        o->fd[f] = weir_io->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (o->fd[f] < 0) {
            weir_log(WEIR_LOG_ERROR, "cleaner: create %s: %s", path, strerror(errno));
            return weir_err_from_errno(errno) == WEIR_E_NOSPACE ? WEIR_E_NOSPACE : WEIR_E_IO;
        }
    }
    return WEIR_OK;
}

/* Closing time entry, sync, the first-cleaned time as mtime, close. cs: the group's leader. */
static enum weir_err out_close(const struct clean_seg *cs, struct seg_out *o, int64_t last_time_ts, bool ok)
{
    ok = ok && out_time_entry(o, o->max_ts, (int64_t)(o->pos ? cs->group_next - cs->base : 0), &last_time_ts);
    struct timespec times[2] = { { 0, UTIME_OMIT },
                                 { cs->group_clean_ms / 1000, (long)(cs->group_clean_ms % 1000) * 1000000L } };
    for (int f = 0; f < 3; f++) {
        if (o->fd[f] < 0) continue;
        ok = ok && weir_io->fdatasync(o->fd[f]) == 0 && (f != 0 || futimens(o->fd[f], times) == 0);
        close(o->fd[f]);
    }
    return ok ? WEIR_OK : WEIR_E_IO;
}

/* Groups the rewritten segments (Kafka's groupSegmentsBySize): consecutive
 * ones whose input fits one segment (segment.bytes) and whose offsets fit a
 * 32-bit index entry become one output. The output's first-cleaned time (the
 * tombstone clock, its mtime) is the latest of its non-empty inputs', so a
 * tombstone is never dropped early; to keep it from moving forward pass after
 * pass (a merged segment taking in newer ones), segments first cleaned now
 * and ones cleaned before never share a group, nor do non-empty ones first
 * cleaned in different delete.retention.ms windows: a tombstone then goes
 * within twice delete.retention.ms. Empty inputs join any group. */
static void job_group(struct weir_clean_job *j)
{
    int64_t window_ms = WEIR_MAX(j->cc.delete_retention_ms, (int64_t)1);
    for (unsigned i = 0; i < j->n_clean;) {
        struct clean_seg *lead = &j->segs[i];
        uint64_t size = lead->size;
        unsigned k = 1;
        bool windowed = lead->size > 0;
        int64_t window = lead->clean_ms / window_ms, clean_ms = lead->size > 0 ? lead->clean_ms : INT64_MIN;
        for (; i + k < j->n_clean; k++) {
            const struct clean_seg *m = &j->segs[i + k];
            if (m->was_clean != lead->was_clean || size + m->size > j->segment_bytes || m->next - lead->base > INT32_MAX ||
                (m->size > 0 && windowed && m->clean_ms / window_ms != window))
                break;
            if (m->size > 0) windowed = true, window = m->clean_ms / window_ms, clean_ms = WEIR_MAX(clean_ms, m->clean_ms);
            size += m->size;
            j->segs[i + k].group_n = 0;
        }
        lead->group_n = k;
        lead->group_next = j->segs[i + k - 1].next;
        lead->group_clean_ms = clean_ms != INT64_MIN ? clean_ms : lead->clean_ms;
        i += k;
    }
}

/* Pass 2: one group's segments rewritten to its leader's .cleaned files. */
static void job_write_group(struct weir_clean_job *j, struct clean_seg *lead)
{
    struct seg_out o;
    lead->written = true;
    j->out_clean_ms = lead->group_clean_ms;
    enum weir_err err = out_open(j, lead, &o);
    int64_t last_time_ts = INT64_MIN;
    bool ok = err == WEIR_OK;
    struct weir_batch_header h;
    for (unsigned m = 0; m < lead->group_n && ok && j->err == WEIR_OK; m++) {
        struct clean_seg *cs = lead + m;
        for (uint64_t pos = 0; ok && batch_read(j, cs, &pos, &h);) {
            j->stats.batches_read++;
            size_t len = batch_filter(j, cs, &h);
            if (j->err != WEIR_OK) break;
            if (len == SIZE_MAX) ok = out_batch(j, lead, &o, j->buf, WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length,
                                                h.max_timestamp, &last_time_ts);
            else if (len > 0) ok = out_batch(j, lead, &o, j->out, len,
                                             (int64_t)weir_load_be64(j->out + WEIR_BATCH_OFF_MAX_TS), &last_time_ts);
        }
        j->stats.bytes_before += cs->size;
    }
    if (err == WEIR_OK) err = out_close(lead, &o, last_time_ts, ok);
    else out_close(lead, &o, last_time_ts, false);
    if (j->err == WEIR_OK && err != WEIR_OK) j->err = err;
    j->stats.bytes_after += o.pos;
}

enum weir_err weir_clean_job_run(struct weir_clean_job *j)
{
    job_map(j);
    job_group(j);
    for (unsigned i = 0; i < j->n_clean && j->err == WEIR_OK; i += j->segs[i].group_n) job_write_group(j, &j->segs[i]);
    j->stats.segments = j->n_clean;
    if (j->err == WEIR_OK) test_pause("cleaned");
    return j->err;
}

/* ---- finish: owner thread ------------------------------------------------------ */

static bool job_still_valid(const struct weir_log *log, const struct weir_clean_job *j)
{
    if (log->failed != WEIR_OK || log->clean_gen != j->gen || log->n_segs <= j->n_clean) return false;
    for (unsigned i = 0; i < j->n_clean; i++)
        if (log->segs[i] != j->segs[i].seg || log->segs[i]->offset_next != j->segs[i].next) return false;
    return true;
}

/* Renames ext[from] to ext[to] for file kinds [f0, f1) of the outputs (group leaders). */
static enum weir_err job_rename(struct weir_clean_job *j, int f0, int f1, int from, int to)
{
    for (unsigned i = 0; i < j->n_clean; i += j->segs[i].group_n)
        for (int f = f0; f < f1; f++) {
            char a[4096], b[4096];
            job_path(j, j->segs[i].base, clean_ext[f][from], a, sizeof a);
            job_path(j, j->segs[i].base, clean_ext[f][to], b, sizeof b);
            if (weir_io->rename(a, b) != 0) {
                weir_log(WEIR_LOG_ERROR, "cleaner: rename %s: %s", a, strerror(errno));
                return WEIR_E_IO;
            }
        }
    return weir_fsync_dir(j->dir);
}

/* The outputs replace their groups in memory (members leave the array,
 * which keeps invariant (1): an output ends where its group ended). */
static enum weir_err job_replace(struct weir_log *log, struct weir_clean_job *j)
{
    enum weir_err err = WEIR_OK;
    unsigned w = 0;
    for (unsigned i = 0; i < j->n_clean; i += j->segs[i].group_n) {
        const struct clean_seg *lead = &j->segs[i];
        struct weir_segment *seg, *keep = log->segs[i];
        if (err == WEIR_OK && (err = segment_open(log, lead->base, true, &seg)) == WEIR_OK) {
            keep->deleted = true; /* its name now holds the new file; its inode lives while pinned */
            segment_put(keep);
            keep = seg;
        }
        keep->offset_next = keep->offset_queued_next = lead->group_next; /* the gap to the next segment */
        log->segs[w++] = keep;
        for (unsigned m = 1; m < lead->group_n; m++) segment_put(log->segs[i + m]); /* unlinked at the commit */
    }
    memmove(log->segs + w, log->segs + j->n_clean, (log->n_segs - j->n_clean) * sizeof *log->segs);
    log->n_segs -= j->n_clean - w;
    return err;
}

/* Before the commit: each merging leader's marker names where its group
 * ends, so that recovery deletes the members of a committed merge. */
static enum weir_err job_markers_write(struct weir_clean_job *j)
{
    for (unsigned i = 0; i < j->n_clean; i += j->segs[i].group_n) {
        struct clean_seg *lead = &j->segs[i];
        if (lead->group_n < 2) continue;
        char path[4096], text[32];
        marker_path(j, lead->base, path, sizeof path);
        int n = snprintf(text, sizeof text, "%" PRId64 "\n", lead->group_next);
        lead->marker = true;
        enum weir_err err = weir_write_file_atomic(path, text, (size_t)n);
        if (err != WEIR_OK) return err;
    }
    return WEIR_OK;
}

/* Committed: the members' files go, then (once the outputs are in place) the markers. */
static enum weir_err job_members_unlink(struct weir_clean_job *j)
{
    bool any = false;
    for (unsigned i = 0; i < j->n_clean; i++)
        if (j->segs[i].group_n == 0) segment_unlink(j->segs[i].seg), any = true;
    return any ? weir_fsync_dir(j->dir) : WEIR_OK;
}

static enum weir_err job_markers_unlink(struct weir_clean_job *j)
{
    bool any = false;
    for (unsigned i = 0; i < j->n_clean; i += j->segs[i].group_n) {
        if (!j->segs[i].marker) continue;
        char path[4096];
        marker_path(j, j->segs[i].base, path, sizeof path);
        if (weir_io->unlink(path) != 0 && errno != ENOENT) return WEIR_E_IO;
        j->segs[i].marker = false, any = true;
    }
    return any ? weir_fsync_dir(j->dir) : WEIR_OK;
}

static enum weir_err job_commit(struct weir_log *log, struct weir_clean_job *j)
{
    const char *what = "write the cleaner checkpoint";
    enum weir_err err = log_files_change(log);
    if (err == WEIR_OK && j->clean_to > log->cleaned_below)
        err = log_offset_file_write(log->dir, LOG_CLEANER_FILE, j->clean_to);
    if (err == WEIR_OK) log->cleaned_below = WEIR_MAX(log->cleaned_below, j->clean_to);
    if (err == WEIR_OK && (err = job_markers_write(j)) != WEIR_OK) what = "write a merge marker";
    if (err == WEIR_OK && (err = job_rename(j, 1, 3, 1, 2)) != WEIR_OK) what = "commit cleaned indexes";
    if (err == WEIR_OK && (err = job_rename(j, 0, 1, 1, 2)) != WEIR_OK) what = "commit cleaned segments";
    if (err == WEIR_OK) {
        for (unsigned i = 0; i < j->n_clean; i++) j->segs[i].written = false; /* committed: recovery finishes it */
        test_pause("swap");
        if ((err = job_members_unlink(j)) != WEIR_OK) what = "delete merged segments";
        else if ((err = job_rename(j, 1, 3, 2, 0)) != WEIR_OK || (err = job_rename(j, 0, 1, 2, 0)) != WEIR_OK)
            what = "swap cleaned segments in";
    }
    if (err == WEIR_OK && (err = job_replace(log, j)) != WEIR_OK) what = "open a cleaned segment";
    if (err == WEIR_OK && (err = job_markers_unlink(j)) != WEIR_OK) what = "delete a merge marker";
    if (err != WEIR_OK) log_fail(log, err, what, errno); /* the next open finishes or rolls back */
    return err;
}

enum weir_err weir_log_clean_finish(struct weir_log *log, struct weir_clean_job *j, struct weir_clean_stats *stats)
{
    WEIR_ASSERT(j->log == log && log->clean_busy);
    log->clean_busy = false;
    enum weir_err err = j->err;
    if (err == WEIR_OK && j->n_clean > 0 && !job_still_valid(log, j)) err = WEIR_E_BUSY; /* changed meanwhile */
    if (err == WEIR_OK && j->n_clean > 0) err = job_commit(log, j);
    if (err == WEIR_OK) {
        if (j->n_clean > 0) log->tombstones_since_ms = j->tombstones_since_ms;
        log->stats.cleaner_passes++;
        log->changed = true;
        unsigned outs = 0;
        for (unsigned i = 0; i < j->n_clean; i += j->segs[i].group_n) outs++;
        weir_log(WEIR_LOG_INFO, "cleaner: %s: %u segments below offset %" PRId64 " (now %u): %" PRIu64 " -> %" PRIu64
                 " bytes, %" PRIu64 " of %" PRIu64 " records kept, %" PRIu64 " tombstones removed",
                 log->dir, j->n_clean, j->clean_to, outs, j->stats.bytes_before, j->stats.bytes_after,
                 j->stats.records_kept, j->stats.records_read, j->stats.tombstones_dropped);
    }
    j->stats.cleaned_below = log->cleaned_below;
    if (stats) *stats = j->stats;
    job_free(j);
    WEIR_DASSERT(log->failed != WEIR_OK || log_check(log, true));
    return err;
}

void weir_clean_job_abandon(struct weir_log *log, struct weir_clean_job *j)
{
    WEIR_ASSERT(j->log == log && log->clean_busy);
    log->clean_busy = false;
    job_free(j);
}

enum weir_err weir_log_clean(struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms, bool force,
                             struct weir_clean_stats *stats)
{
    struct weir_clean_job *j;
    enum weir_err err = weir_log_clean_begin(log, cc, now_ms, force, &j);
    if (err != WEIR_OK) return err;
    weir_clean_job_run(j);
    return weir_log_clean_finish(log, j, stats);
}

int64_t weir_log_cleaned_below(const struct weir_log *log) { return log->cleaned_below; }

/* ---- recovery: at open, before the segments are listed --------------------------- */

static bool name_is(const char *name, const char *ext, int64_t *base)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != SEGMENT_NAME_DIGITS + e || strcmp(name + SEGMENT_NAME_DIGITS, ext) != 0 ||
        strspn(name, "0123456789") != SEGMENT_NAME_DIGITS)
        return false;
    *base = strtoll(name, NULL, 10);
    return true;
}

/* Finishes the swap of one segment whose .log.swap exists. */
static enum weir_err recover_swap(const char *dir, int64_t base)
{
    for (int f = 2; f >= 0; f--) { /* indexes first, the .log last */
        char a[4096], b[4096];
        segment_path(dir, base, clean_ext[f][2], a, sizeof a);
        segment_path(dir, base, clean_ext[f][0], b, sizeof b);
        if (f > 0 && access(a, F_OK) != 0) { /* renamed already, or lost: the open checks or rebuilds it */
            continue;
        }
        if (weir_io->rename(a, b) != 0) {
            weir_log(WEIR_LOG_ERROR, "recovery: rename %s: %s", a, strerror(errno));
            return WEIR_E_IO;
        }
    }
    return WEIR_OK;
}

/* A merge marker <base>.merged (its group's next offset): the merge committed
 * when its leader's .log.cleaned is gone (renamed to .log.swap, then .log):
 * the members, segments based in (base, next), are deleted; otherwise the
 * pass had not committed and the marker just goes. Then the marker goes. */
static enum weir_err recover_merge(const char *dir, int64_t base, bool *changed)
{
    char path[4096], name[64];
    segment_path(dir, base, clean_ext[0][1], path, sizeof path);
    bool committed = access(path, F_OK) != 0;
    snprintf(name, sizeof name, "%0*" PRId64 "%s", SEGMENT_NAME_DIGITS, base, MERGED_EXT);
    int64_t next = log_offset_file_read(dir, name);
    DIR *d = committed ? opendir(dir) : NULL;
    if (committed && !d) return WEIR_E_IO;
    unsigned members = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        int64_t b;
        for (int f = 0; f < 3; f++)
            if (name_is(e->d_name, clean_ext[f][0], &b) && b > base && b < next) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                if (weir_io->unlink(path) != 0 && errno != ENOENT) {
                    closedir(d);
                    return WEIR_E_IO;
                }
                members += f == 0;
            }
    }
    if (d) closedir(d);
    if (committed && next < 0) return WEIR_E_CORRUPT; /* unreadable: neither side is safe to pick */
    if (members) weir_log(WEIR_LOG_WARN, "recovery: %s: deleted %u segments merged into %" PRId64, dir, members, base);
    if (weir_fsync_dir(dir) != WEIR_OK) return WEIR_E_IO;
    *changed = true;
    return WEIR_OK;
}

enum weir_err cleaner_recover_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return WEIR_E_IO;
    int64_t swaps[64], merges[64];
    unsigned n_swaps = 0, n_merges = 0;
    bool more = false, changed = false;
    unsigned dropped = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t base;
        if (name_is(e->d_name, ".log.swap", &base)) {
            if (n_swaps < WEIR_ARRAY_LEN(swaps)) swaps[n_swaps++] = base;
            else more = true;
        }
        if (name_is(e->d_name, MERGED_EXT, &base)) {
            if (n_merges < WEIR_ARRAY_LEN(merges)) merges[n_merges++] = base;
            else more = true;
        }
    }
    rewinddir(d);
    enum weir_err err = WEIR_OK;
    for (unsigned i = 0; i < n_merges && err == WEIR_OK; i++) err = recover_merge(dir, merges[i], &changed);
    for (unsigned i = 0; i < n_swaps && err == WEIR_OK; i++, changed = true) err = recover_swap(dir, swaps[i]);
    if (n_swaps > 0)
        weir_log(WEIR_LOG_WARN, "recovery: %s: finished the swap of %u cleaned segments (from %" PRId64 ")", dir,
                 n_swaps, swaps[0]);
    while (err == WEIR_OK && (e = readdir(d))) { /* whatever is left never committed; markers are done */
        size_t n = strlen(e->d_name);
        bool cleaned = n > 8 && !strcmp(e->d_name + n - 8, ".cleaned") && !more; /* markers read them */
        bool swap = n > 5 && !strcmp(e->d_name + n - 5, ".swap") && !more;
        bool marker = (n > 7 && !strcmp(e->d_name + n - 7, MERGED_EXT) && !more) || strstr(e->d_name, MERGED_EXT ".tmp");
        if (!cleaned && !swap && !marker) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        weir_io->unlink(path);
        dropped += !marker, changed = true;
    }
    closedir(d);
    if (dropped > 0)
        weir_log(WEIR_LOG_WARN, "recovery: %s: deleted %u files of an uncommitted cleaner pass", dir, dropped);
    if (err == WEIR_OK && more) return cleaner_recover_files(dir); /* more than fit in one go */
    if (err == WEIR_OK && changed) err = weir_fsync_dir(dir);
    return err;
}
