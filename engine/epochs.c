/* engine/epochs.c: the leader-epoch cache of a log and its checkpoint file,
 * as Kafka keeps them (LeaderEpochFileCache, LeaderEpochCheckpointFile).
 *
 * <dir>/leader-epoch-checkpoint, text (Kafka's CheckpointFile, version 0):
 *   0\n
 *   <count>\n
 *   <epoch> <start offset>\n     count lines, epochs and offsets rising
 * Replaced atomically (temp file, fsync, rename, directory fsync) whenever
 * the cache changes, before the batches that changed it are written: the
 * file never lacks an epoch of the log, and may only hold entries past the
 * end after a crash (open drops them). A log that never had an epoch has no
 * file. */
#include "engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define EPOCH_FILE "leader-epoch-checkpoint"
enum { EPOCH_FILE_BYTES_MAX = 16 << 20, EPOCH_LINE_BYTES = 40 };

void epochs_free(struct epoch_cache *c)
{
    weir_free(c->v);
    *c = (struct epoch_cache){ 0 };
}

static enum weir_err cache_reserve(struct epoch_cache *c, unsigned n)
{
    if (n <= c->cap) return WEIR_OK;
    unsigned cap = WEIR_MAX(n, c->cap ? c->cap * 2 : 8);
    struct epoch_entry *v = weir_realloc(c->v, cap * sizeof *v);
    if (!v) return WEIR_E_NOMEM;
    c->v = v;
    c->cap = cap;
    return WEIR_OK;
}

bool epochs_valid(const struct epoch_cache *c, int64_t end)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->v[i].epoch < 0 || c->v[i].start < 0) return false;
        if (i > 0 && (c->v[i].epoch <= c->v[i - 1].epoch || c->v[i].start <= c->v[i - 1].start)) return false;
    }
    return c->n == 0 || c->v[c->n - 1].start <= end;
}

/* Kafka's assign: a no-op when the epoch is the latest and starts no
 * earlier; else the entries not below it in epoch or start go, and it is
 * appended. Capacity for one more entry must be there. True when changed. */
static bool cache_assign(struct epoch_cache *c, int32_t epoch, int64_t start)
{
    WEIR_ASSERT(c->n < c->cap);
    if (epoch < 0 || start < 0) return false;
    if (c->n > 0 && c->v[c->n - 1].epoch == epoch && start >= c->v[c->n - 1].start) return false;
    while (c->n > 0 && (c->v[c->n - 1].epoch >= epoch || c->v[c->n - 1].start >= start)) c->n--;
    c->v[c->n++] = (struct epoch_entry){ epoch, start };
    return true;
}

static bool cache_truncate_end(struct epoch_cache *c, int64_t end)
{
    unsigned n0 = c->n;
    while (c->n > 0 && c->v[c->n - 1].start >= end) c->n--;
    return c->n != n0;
}

/* truncateFromStart: entries starting at or below start go; the last of them
 * comes back starting at start. */
static bool cache_truncate_start(struct epoch_cache *c, int64_t start)
{
    unsigned k = 0;
    while (k < c->n && c->v[k].start <= start) k++;
    if (k == 0 || (k == 1 && c->v[0].start == start)) return false;
    struct epoch_entry first = { c->v[k - 1].epoch, start };
    memmove(c->v + 1, c->v + k, (c->n - k) * sizeof *c->v);
    c->v[0] = first;
    c->n -= k - 1;
    return true;
}

static void epoch_path(const struct weir_log *log, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", log->dir, EPOCH_FILE);
}

static enum weir_err cache_write(const struct weir_log *log, const struct epoch_cache *c)
{
    size_t cap = 32 + (size_t)c->n * EPOCH_LINE_BYTES, len = 0;
    char *text = weir_malloc(cap), path[4096];
    if (!text) return WEIR_E_NOMEM;
    len += (size_t)snprintf(text, cap, "0\n%u\n", c->n);
    for (unsigned i = 0; i < c->n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%" PRId32 " %" PRId64 "\n", c->v[i].epoch, c->v[i].start);
    epoch_path(log, path, sizeof path);
    enum weir_err err = weir_write_file_atomic(path, text, len);
    weir_free(text);
    return err;
}

static bool parse_i64(const char **p, int64_t *v)
{
    char *end;
    errno = 0;
    long long x = strtoll(*p, &end, 10);
    if (end == *p || errno != 0 || (**p != '-' && (**p < '0' || **p > '9'))) return false;
    *v = x;
    *p = end;
    return true;
}

/* Kafka's reader: version line, count line, then "epoch offset" lines (any
 * whitespace between the two); also checks the order this cache keeps. */
static bool cache_parse(const char *text, struct epoch_cache *c)
{
    const char *p = text;
    int64_t version, count;
    if (!parse_i64(&p, &version) || version != 0 || *p++ != '\n') return false;
    if (!parse_i64(&p, &count) || count < 0 || count > EPOCH_FILE_BYTES_MAX / 4 || *p++ != '\n') return false;
    if (cache_reserve(c, (unsigned)count + 1) != WEIR_OK) return false;
    for (int64_t i = 0; i < count; i++) {
        int64_t epoch, start;
        if (!parse_i64(&p, &epoch) || (*p != ' ' && *p != '\t')) return false;
        while (*p == ' ' || *p == '\t') p++;
        if (!parse_i64(&p, &start) || *p++ != '\n') return false;
        if (epoch < 0 || epoch > INT32_MAX || start < 0) return false;
        c->v[c->n++] = (struct epoch_entry){ (int32_t)epoch, start };
    }
    return *p == '\0' && epochs_valid(c, INT64_MAX);
}

/* Rebuilds the cache from every batch's partitionLeaderEpoch. */
static enum weir_err cache_rebuild(const struct weir_log *log, struct epoch_cache *c)
{
    c->n = 0;
    for (unsigned i = 0; i < log->n_segs; i++) {
        const struct weir_segment *seg = log->segs[i];
        for (uint64_t pos = 0, steps = 0; pos + WEIR_BATCH_HEADER_BYTES <= seg->size; steps++) {
            WEIR_ASSERT(steps <= seg->size / WEIR_BATCH_HEADER_BYTES);
            const uint8_t *b = seg->log_map + pos;
            uint64_t len = (uint64_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
            if (len < WEIR_BATCH_HEADER_BYTES) return WEIR_E_CORRUPT; /* [0, size) is whole batches */
            if (cache_reserve(c, c->n + 1) != WEIR_OK) return WEIR_E_NOMEM;
            cache_assign(c, (int32_t)weir_load_be32(b + WEIR_BATCH_OFF_LEADER_EPOCH),
                         (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET));
            pos += len;
        }
    }
    return WEIR_OK;
}

enum weir_err epochs_load(struct weir_log *log)
{
    char path[4096], *text = NULL;
    struct stat st;
    epoch_path(log, path, sizeof path);
    struct epoch_cache *c = &log->epochs;
    c->n = 0;
    if (stat(path, &st) != 0 && errno == ENOENT) return WEIR_OK;
    enum weir_err err = weir_read_file(path, EPOCH_FILE_BYTES_MAX, &text, NULL);
    if (err == WEIR_E_NOMEM) return err;
    bool dirty = false;
    if (err != WEIR_OK || !cache_parse(text, c)) {
        weir_log(WEIR_LOG_WARN, "log %s: %s is unreadable; rebuilding it from the batches' leader epochs",
                 log->dir, EPOCH_FILE);
        err = cache_rebuild(log, c);
        dirty = true;
    }
    weir_free(text);
    if (err != WEIR_OK) return err;
    dirty |= cache_truncate_end(c, weir_log_end_offset(log));
    dirty |= cache_truncate_start(c, weir_log_start_offset(log));
    return dirty ? cache_write(log, c) : WEIR_OK;
}

enum weir_err epochs_assign(struct weir_log *log, const struct epoch_entry *e, unsigned n)
{
    struct epoch_cache c = { 0 };
    if (cache_reserve(&c, log->epochs.n + n) != WEIR_OK) return WEIR_E_NOMEM;
    if (log->epochs.n) memcpy(c.v, log->epochs.v, log->epochs.n * sizeof *c.v);
    c.n = log->epochs.n;
    bool changed = false;
    for (unsigned i = 0; i < n; i++) changed |= cache_assign(&c, e[i].epoch, e[i].start);
    enum weir_err err = changed ? cache_write(log, &c) : WEIR_OK;
    if (err == WEIR_OK && changed) {
        weir_log(WEIR_LOG_DEBUG, "log %s: leader epoch %" PRId32 " starts at offset %" PRId64 " (%u epochs cached)",
                 log->dir, c.v[c.n - 1].epoch, c.v[c.n - 1].start, c.n);
        epochs_free(&log->epochs);
        log->epochs = c;
    } else {
        epochs_free(&c);
    }
    return err;
}

enum weir_err epochs_truncate_end(struct weir_log *log, int64_t end)
{
    return cache_truncate_end(&log->epochs, end) ? cache_write(log, &log->epochs) : WEIR_OK;
}

enum weir_err epochs_truncate_start(struct weir_log *log, int64_t start)
{
    return cache_truncate_start(&log->epochs, start) ? cache_write(log, &log->epochs) : WEIR_OK;
}

/* ---- the public queries ------------------------------------------------------ */

int32_t weir_log_latest_epoch(const struct weir_log *log)
{
    return log->epochs.n ? log->epochs.v[log->epochs.n - 1].epoch : WEIR_EPOCH_NONE;
}

int32_t weir_log_epoch_for_offset(const struct weir_log *log, int64_t offset)
{
    const struct epoch_cache *c = &log->epochs;
    int32_t prev = WEIR_EPOCH_NONE;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->v[i].start == offset) return c->v[i].epoch;
        if (c->v[i].start > offset) return prev;
        prev = c->v[i].epoch;
    }
    return prev;
}

void weir_log_epoch_end_offset(const struct weir_log *log, int32_t requested, int32_t *epoch_out,
                               int64_t *end_offset_out)
{
    const struct epoch_cache *c = &log->epochs;
    *epoch_out = WEIR_EPOCH_NONE;
    *end_offset_out = -1;
    if (requested == WEIR_EPOCH_NONE || c->n == 0) return;
    if (c->v[c->n - 1].epoch == requested) {
        *epoch_out = requested;
        *end_offset_out = weir_log_end_offset(log);
        return;
    }
    unsigned hi = 0; /* the first entry above requested (higherEntry) */
    while (hi < c->n && c->v[hi].epoch <= requested) hi++;
    if (hi == c->n) return; /* above every cached epoch */
    *epoch_out = hi == 0 ? requested : c->v[hi - 1].epoch;
    *end_offset_out = c->v[hi].start;
}
