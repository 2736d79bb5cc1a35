/* engine/producers.c: idempotent-producer state of one partition log, as Kafka
 * keeps it (ProducerStateManager, ProducerStateEntry, ProducerAppendInfo): per
 * producer id, the epoch and the last WEIR_PRODUCER_BATCHES batches (sequence
 * range, base offset, offset delta, max timestamp).
 *
 * Each producer has two views. The committed view holds completed appends in
 * offset order: exactly what replaying the log's batch headers on top of a
 * snapshot gives. The effective view adds the appends still in flight, in
 * queue order; weir_log_append checks batches against it.
 * Invariants (producers_valid walks them):
 *  (1) pend_head..pend_tail are the producer's in-flight appends in queue
 *      order; a log completes appends in queue order, so each one completes
 *      at the head of its producer's list.
 *  (2) effective = committed with every in-flight append applied in order;
 *      a ring_eff entry has `pending` set iff its append is in flight.
 *  (3) an entry is on the LRU list iff it has committed batches (n >= 1); the
 *      list is ordered by last commit; `committed` counts it.
 *  (4) every entry has committed batches or appends in flight.
 *  (5) an append that fails leaves the effective view without it; its
 *      producer's later in-flight appends fail with it (45 when the log goes
 *      on), so a retry is always in sequence.
 *  (6) snapshot <offset> holds the committed state after every batch below
 *      offset, and nothing else; files outside [log start, log end] are dropped.
 *
 * Snapshot file <20-digit offset>.snapshot, big-endian (docs/on-disk-format.md):
 *   i16 version (1) | u32 CRC-32C of the rest | i64 offset | i32 producer count
 *   per producer, least recently appended first:
 *     i64 producer id | i16 epoch | u8 batches (1..5)
 *     per batch, oldest first: i32 first sequence | i32 last offset delta |
 *                              i64 base offset | i64 max timestamp */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    SNAP_VERSION = 1,
    SNAP_OFF_CRC = 2,
    SNAP_OFF_OFFSET = 6,
    SNAP_OFF_COUNT = 14,
    SNAP_HEADER_BYTES = 18,
    SNAP_ENTRY_BYTES = 11,       /* id, epoch, batch count */
    SNAP_BATCH_BYTES = 24,
    SNAP_PRODUCERS_MAX = 2 * WEIR_PRODUCERS_MAX, /* eviction may skip entries with appends in flight */
    EVICT_SCAN_MAX = 64,
};
_Static_assert(SNAP_OFF_CRC + 4 == SNAP_OFF_OFFSET, "the CRC covers everything after itself");
_Static_assert(SNAP_OFF_COUNT + 4 == SNAP_HEADER_BYTES, "entries follow the count");

#define SNAP_EXT ".snapshot"

/* ---- sequences (Kafka's DefaultRecordBatch.incrementSequence) ------------------ */

static int32_t seq_add(int32_t seq, int32_t n)
{
    int64_t sum = (int64_t)seq + n; /* n < 0 only in a damaged header: no overflow either way */
    return sum > INT32_MAX ? (int32_t)(sum - INT32_MAX - 1) : (int32_t)sum;
}

static bool seq_follows(int32_t last, int32_t next)
{
    return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

static struct prod_batch batch_meta(const struct weir_batch_header *h, int64_t base_offset, struct weir_append *pending)
{
    return (struct prod_batch){ .base_offset = base_offset, .max_ts = h->max_timestamp,
                                .first_seq = h->base_sequence,
                                .last_seq = seq_add(h->base_sequence, h->last_offset_delta),
                                .last_delta = h->last_offset_delta, .pending = pending };
}

/* batch_meta of a client append, from what weir_log_append kept of its header. */
static struct prod_batch append_meta(const struct weir_append *a, int64_t base_offset, struct weir_append *pending)
{
    WEIR_DASSERT(a->records >= 1);
    return (struct prod_batch){ .base_offset = base_offset, .max_ts = a->max_timestamp,
                                .first_seq = a->base_sequence,
                                .last_seq = seq_add(a->base_sequence, a->records - 1),
                                .last_delta = a->records - 1, .pending = pending };
}

/* Kafka's ProducerStateEntry.addBatch: a new epoch clears the batches. */
static void view_apply(int16_t *epoch, struct prod_batch *ring, uint8_t *n, int16_t batch_epoch,
                       const struct prod_batch *b)
{
    if (*epoch != batch_epoch) {
        *epoch = batch_epoch;
        *n = 0;
    }
    if (*n == WEIR_PRODUCER_BATCHES) {
        memmove(ring, ring + 1, (WEIR_PRODUCER_BATCHES - 1) * sizeof *ring);
        (*n)--;
    }
    ring[(*n)++] = *b;
}

/* ---- the table ---------------------------------------------------------------- */

static uint32_t pid_hash(int64_t pid)
{
    return (uint32_t)(((uint64_t)pid * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Slot holding pid, or the empty slot where it would go. t->cap > 0. */
static uint32_t slot_find(const struct prod_table *t, int64_t pid)
{
    uint32_t mask = t->cap - 1, i = pid_hash(pid) & mask;
    for (uint32_t steps = 0; t->slots[i] && t->slots[i]->pid != pid; i = (i + 1) & mask) {
        steps++;
        WEIR_ASSERT(steps < t->cap); /* load factor <= 1/2 */
    }
    return i;
}

static struct prod_entry *entry_find(const struct prod_table *t, int64_t pid)
{
    return t->cap ? t->slots[slot_find(t, pid)] : NULL;
}

static enum weir_err table_grow(struct prod_table *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 16;
    struct prod_entry **slots = weir_calloc(cap, sizeof *slots), **old = t->slots;
    if (!slots) return WEIR_E_NOMEM;
    uint32_t old_cap = t->cap;
    t->slots = slots;
    t->cap = cap;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i]) t->slots[slot_find(t, old[i]->pid)] = old[i];
    weir_free(old);
    return WEIR_OK;
}

/* Backward-shift deletion: no tombstones, probes stay short. */
static void slot_delete(struct prod_table *t, uint32_t i)
{
    uint32_t mask = t->cap - 1;
    t->slots[i] = NULL;
    uint32_t j = (i + 1) & mask;
    for (uint32_t steps = 0; t->slots[j]; j = (j + 1) & mask) {
        WEIR_ASSERT(++steps < t->cap);
        uint32_t home = pid_hash(t->slots[j]->pid) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) { /* i lies on j's probe path */
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
    t->count--;
}

static void lru_unlink(struct prod_table *t, struct prod_entry *e)
{
    if (e->lru_prev) e->lru_prev->lru_next = e->lru_next;
    else t->lru_head = e->lru_next;
    if (e->lru_next) e->lru_next->lru_prev = e->lru_prev;
    else t->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct prod_table *t, struct prod_entry *e)
{
    e->lru_prev = t->lru_tail;
    e->lru_next = NULL;
    if (t->lru_tail) t->lru_tail->lru_next = e;
    else t->lru_head = e;
    t->lru_tail = e;
}

static struct prod_entry *entry_new(struct prod_table *t, int64_t pid)
{
    if ((t->count + 1) * 2 > t->cap && table_grow(t) != WEIR_OK) return NULL;
    struct prod_entry *e = weir_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->pid = pid;
    e->epoch = e->epoch_eff = -1;
    t->slots[slot_find(t, pid)] = e;
    t->count++;
    return e;
}

static void entry_remove(struct prod_table *t, struct prod_entry *e)
{
    WEIR_ASSERT(!e->pend_head);
    if (e->on_lru) {
        lru_unlink(t, e);
        t->committed--;
    }
    uint32_t i = slot_find(t, e->pid);
    WEIR_ASSERT(t->slots[i] == e);
    slot_delete(t, i);
    weir_free(e);
}

static void table_clear(struct prod_table *t)
{
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!t->slots[i]) continue;
        WEIR_ASSERT(!t->slots[i]->pend_head);
        weir_free(t->slots[i]);
        t->slots[i] = NULL;
    }
    t->count = t->committed = 0;
    t->lru_head = t->lru_tail = NULL;
}

void producers_init(struct prod_table *t) { *t = (struct prod_table){ 0 }; }

void producers_free(struct prod_table *t)
{
    table_clear(t);
    weir_free(t->slots);
    weir_free(t->snaps);
    *t = (struct prod_table){ 0 };
}

/* At the cap, forgets the least recently appended producer without appends in flight. */
static void evict_one(struct prod_table *t, const struct prod_entry *keep)
{
    struct prod_entry *v = t->lru_head;
    for (int steps = 0; v && steps < EVICT_SCAN_MAX; steps++, v = v->lru_next) {
        if (v == keep || v->pend_head) continue;
        if (t->evicted++ == 0)
            weir_log(WEIR_LOG_WARN, "more than %d idempotent producers on one partition: forgetting the least "
                     "recently appended (their next batch is accepted with any sequence)", WEIR_PRODUCERS_MAX);
        entry_remove(t, v);
        return;
    }
}

static void commit_batch(struct prod_table *t, struct prod_entry *e, int16_t epoch, const struct prod_batch *b)
{
    WEIR_ASSERT(b->pending == NULL && b->base_offset >= 0);
    view_apply(&e->epoch, e->ring, &e->n, epoch, b);
    if (e->on_lru) {
        lru_unlink(t, e);
    } else {
        e->on_lru = true;
        t->committed++;
    }
    lru_push(t, e);
    if (t->committed > WEIR_PRODUCERS_MAX) evict_one(t, e);
}

static void effective_reset(struct prod_entry *e)
{
    e->epoch_eff = e->epoch;
    e->n_eff = e->n;
    memcpy(e->ring_eff, e->ring, sizeof e->ring);
}

/* ---- checks and the append path --------------------------------------------------- */

/* Kafka's rules, in its order, against the effective view. NULL entry: a
 * producer this partition does not know; any sequence is accepted (Kafka
 * since 2.5 / KIP-360 no longer answers UNKNOWN_PRODUCER_ID here). */
static enum weir_err check(const struct prod_entry *e, int16_t epoch, const struct prod_batch *b,
                           const struct prod_batch **dup)
{
    *dup = NULL;
    if (!e) return WEIR_OK;
    if (epoch == e->epoch_eff)
        for (unsigned i = 0; i < e->n_eff; i++)
            if (e->ring_eff[i].first_seq == b->first_seq && e->ring_eff[i].last_seq == b->last_seq) {
                *dup = &e->ring_eff[i];
                return WEIR_E_DUPLICATE;
            }
    if (epoch < e->epoch_eff) return WEIR_E_PRODUCER_EPOCH;
    if (epoch != e->epoch_eff) /* a bump starts over at 0 */
        return b->first_seq == 0 || e->epoch_eff == -1 ? WEIR_OK : WEIR_E_OUT_OF_SEQUENCE;
    int32_t last = e->n_eff ? e->ring_eff[e->n_eff - 1].last_seq : -1;
    return e->epoch_eff == -1 || seq_follows(last, b->first_seq) ? WEIR_OK : WEIR_E_OUT_OF_SEQUENCE;
}

enum weir_err producers_append(struct weir_log *log, struct weir_append *a, const struct weir_batch_header *h,
                               bool *queue)
{
    *queue = true;
    a->duplicate = false;
    a->producer = NULL;
    a->producer_next = a->dups = NULL;
    if (h->attributes & WEIR_ATTR_TRANSACTIONAL) return WEIR_E_TRANSACTIONAL;
    if (h->producer_id < 0) return WEIR_OK;
    WEIR_ASSERT(h->base_sequence >= 0); /* weir_batch_validate(from_client) */
    struct prod_table *t = &log->producers;
    struct prod_entry *e = entry_find(t, h->producer_id);
    struct prod_batch b = batch_meta(h, -1, a);
    const struct prod_batch *dup;
    enum weir_err err = check(e, h->producer_epoch, &b, &dup);
    if (err == WEIR_E_DUPLICATE) {
        weir_log(WEIR_LOG_DEBUG, "%s: producer %" PRId64 " epoch %d sequences %d..%d: a retry of %s %" PRId64,
                 log->dir, h->producer_id, h->producer_epoch, b.first_seq, b.last_seq,
                 dup->pending ? "the append in flight at" : "offset", dup->base_offset);
        a->duplicate = true;
        if (!dup->pending) {
            a->base_offset = dup->base_offset;
            return WEIR_E_DUPLICATE;
        }
        a->next = dup->pending->dups; /* answered when the original completes */
        dup->pending->dups = a;
        *queue = false;
        return WEIR_OK;
    }
    if (err != WEIR_OK) return err;
    if (!e && !(e = entry_new(t, h->producer_id))) return WEIR_E_NOMEM;
    view_apply(&e->epoch_eff, e->ring_eff, &e->n_eff, h->producer_epoch, &b);
    if (e->pend_tail) e->pend_tail->producer_next = a;
    else e->pend_head = a;
    e->pend_tail = a;
    a->producer = e;
    a->producer_epoch = h->producer_epoch;
    a->base_sequence = h->base_sequence;
    return WEIR_OK;
}

static void commit_append(struct prod_table *t, struct prod_entry *e, struct weir_append *a)
{
    struct prod_batch b = append_meta(a, a->base_offset, NULL);
    commit_batch(t, e, a->producer_epoch, &b);
    for (unsigned i = 0; i < e->n_eff; i++)
        if (e->ring_eff[i].pending == a) e->ring_eff[i] = b;
}

/* A failed append is forgotten: the effective view is rebuilt without it. */
static void forget_append(struct prod_table *t, struct prod_entry *e)
{
    effective_reset(e);
    for (struct weir_append *p = e->pend_head; p; p = p->producer_next) {
        struct prod_batch b = append_meta(p, -1, p);
        view_apply(&e->epoch_eff, e->ring_eff, &e->n_eff, p->producer_epoch, &b);
    }
    if (!e->on_lru && !e->pend_head) entry_remove(t, e);
}

static void pend_unlink(struct prod_entry *e, struct weir_append *a)
{
    struct weir_append **link = &e->pend_head, *prev = NULL;
    for (unsigned steps = 0; *link != a; prev = *link, link = &(*link)->producer_next)
        WEIR_ASSERT(*link && ++steps < UINT32_MAX);
    WEIR_DASSERT(prev == NULL); /* invariant (1) */
    *link = a->producer_next;
    if (e->pend_tail == a) e->pend_tail = prev;
    a->producer = NULL;
    a->producer_next = NULL;
}

/* Takes a out of the log's queue of appends not yet in a write group. */
static void queue_unlink(struct weir_log *log, struct weir_append *a)
{
    struct weir_append **link = &log->pending_head, *prev = NULL;
    for (unsigned steps = 0; *link != a; prev = *link, link = &(*link)->next)
        WEIR_ASSERT(*link && ++steps < UINT32_MAX); /* no group is in flight when this runs */
    *link = a->next;
    if (log->pending_tail == a) log->pending_tail = prev;
    a->next = NULL;
}

static void dups_complete(struct weir_append *a)
{
    struct weir_append *d = a->dups;
    a->dups = NULL;
    while (d) {
        struct weir_append *next = d->next; /* on_done may free d */
        d->next = NULL;
        d->base_offset = a->err == WEIR_OK ? a->base_offset : -1;
        d->err = a->err;
        d->on_done(d);
        d = next;
    }
}

void producers_replica_done(struct weir_log *log, const struct weir_append *a)
{
    for (size_t pos = 0; pos < a->len;) { /* validated at weir_log_append_replica */
        struct weir_batch_header h;
        enum weir_err err = weir_batch_header_decode(a->batch + pos, a->len - pos, &h);
        WEIR_ASSERT(err == WEIR_OK);
        if (producers_replay(&log->producers, &h) != WEIR_OK)
            weir_log(WEIR_LOG_WARN, "%s: no memory for producer %" PRId64 "; its state is incomplete", log->dir,
                     h.producer_id);
        pos += (size_t)h.length + WEIR_BATCH_LOG_OVERHEAD;
    }
}

void producers_done(struct weir_log *log, struct weir_append *a)
{
    if (a->replica) {
        WEIR_ASSERT(log->replica_appends > 0 && !a->producer && !a->dups);
        log->replica_appends--;
        if (a->err == WEIR_OK) producers_replica_done(log, a);
        else if (log->epochs.n && log->epochs.v[log->epochs.n - 1].start >= a->base_offset) {
            /* Its epochs never made it: forget them in memory (the file is
             * rewritten at the next change; open drops what is past the end). */
            while (log->epochs.n && log->epochs.v[log->epochs.n - 1].start >= a->base_offset) log->epochs.n--;
        }
        return;
    }
    struct prod_entry *e = a->producer;
    struct weir_append *followers = NULL, **tail = &followers;
    if (e) {
        pend_unlink(e, a);
        if (a->err == WEIR_OK) {
            commit_append(&log->producers, e, a);
        } else {
            /* The log goes on without a (too large for a fresh segment): Kafka
             * would have refused the producer's later appends as a gap. */
            while (a->err != WEIR_E_IO && a->err != WEIR_E_FAILED && e->pend_head) {
                struct weir_append *f = e->pend_head;
                pend_unlink(e, f);
                queue_unlink(log, f);
                f->err = WEIR_E_OUT_OF_SEQUENCE;
                *tail = f;
                tail = &f->next;
            }
            forget_append(&log->producers, e);
        }
    }
    dups_complete(a);
    while (followers) {
        struct weir_append *f = followers;
        followers = f->next;
        f->next = NULL;
        dups_complete(f);
        f->on_done(f);
    }
}

enum weir_err producers_replay(struct prod_table *t, const struct weir_batch_header *h)
{
    if (h->producer_id < 0 || h->base_sequence < 0 || (h->attributes & WEIR_ATTR_CONTROL)) return WEIR_OK;
    if (h->last_offset_delta < 0) return WEIR_OK; /* a damaged header (trusted file): never served either */
    struct prod_entry *e = entry_find(t, h->producer_id);
    if (!e && !(e = entry_new(t, h->producer_id))) return WEIR_E_NOMEM;
    WEIR_ASSERT(!e->pend_head);
    struct prod_batch b = batch_meta(h, h->base_offset, NULL);
    commit_batch(t, e, h->producer_epoch, &b);
    effective_reset(e);
    return WEIR_OK;
}

/* ---- snapshots: bytes ------------------------------------------------------------ */

enum weir_err producers_serialize(const struct prod_table *t, int64_t offset, uint8_t **out, size_t *len)
{
    size_t n = SNAP_HEADER_BYTES;
    for (const struct prod_entry *e = t->lru_head; e; e = e->lru_next)
        n += SNAP_ENTRY_BYTES + (size_t)e->n * SNAP_BATCH_BYTES;
    uint8_t *buf = weir_malloc(n);
    if (!buf) return WEIR_E_NOMEM;
    struct weir_wr wr = weir_wr_make(buf, n);
    weir_wr_i16(&wr, SNAP_VERSION);
    weir_wr_i32(&wr, 0); /* CRC, patched below */
    weir_wr_i64(&wr, offset);
    weir_wr_i32(&wr, (int32_t)t->committed);
    uint32_t count = 0;
    for (const struct prod_entry *e = t->lru_head; e; e = e->lru_next, count++) {
        weir_wr_i64(&wr, e->pid);
        weir_wr_i16(&wr, e->epoch);
        weir_wr_u8(&wr, e->n);
        for (unsigned i = 0; i < e->n; i++) {
            weir_wr_i32(&wr, e->ring[i].first_seq);
            weir_wr_i32(&wr, e->ring[i].last_delta);
            weir_wr_i64(&wr, e->ring[i].base_offset);
            weir_wr_i64(&wr, e->ring[i].max_ts);
        }
    }
    WEIR_ASSERT(wr.err == WEIR_OK && weir_wr_len(&wr) == n && count == t->committed);
    weir_store_be32(buf + SNAP_OFF_CRC, weir_crc32c(0, buf + SNAP_OFF_OFFSET, n - SNAP_OFF_OFFSET));
    *out = buf;
    *len = n;
    return WEIR_OK;
}

/* One entry's batches: counts and offsets consistent, all below the snapshot. */
static bool snap_batches_sane(const struct prod_batch *ring, unsigned n, int64_t offset)
{
    if (n < 1 || n > WEIR_PRODUCER_BATCHES) return false;
    for (unsigned i = 0; i < n; i++) {
        const struct prod_batch *b = &ring[i];
        if (b->first_seq < 0 || b->last_delta < 0 || b->base_offset < 0 || b->base_offset >= offset ||
            offset - b->base_offset <= b->last_delta)
            return false;
        if (i > 0 && ring[i - 1].base_offset + ring[i - 1].last_delta >= b->base_offset) return false;
    }
    return true;
}

static enum weir_err snap_entry_read(struct prod_table *t, struct weir_rd *rd, int64_t offset)
{
    int64_t pid = weir_rd_i64(rd);
    int16_t epoch = weir_rd_i16(rd);
    unsigned n = weir_rd_u8(rd);
    struct prod_batch ring[WEIR_PRODUCER_BATCHES];
    for (unsigned i = 0; i < n && i < WEIR_PRODUCER_BATCHES; i++) {
        ring[i].first_seq = weir_rd_i32(rd);
        ring[i].last_delta = weir_rd_i32(rd);
        ring[i].base_offset = weir_rd_i64(rd);
        ring[i].max_ts = weir_rd_i64(rd);
        ring[i].last_seq = seq_add(ring[i].first_seq, ring[i].last_delta < 0 ? 0 : ring[i].last_delta);
        ring[i].pending = NULL;
    }
    if (rd->err != WEIR_OK || pid < 0 || !snap_batches_sane(ring, n, offset) || entry_find(t, pid))
        return WEIR_E_CORRUPT;
    struct prod_entry *e = entry_new(t, pid);
    if (!e) return WEIR_E_NOMEM;
    e->epoch = epoch;
    e->n = (uint8_t)n;
    memcpy(e->ring, ring, n * sizeof *ring);
    e->on_lru = true;
    t->committed++;
    lru_push(t, e);
    effective_reset(e);
    return WEIR_OK;
}

enum weir_err producers_deserialize(struct prod_table *t, const uint8_t *buf, size_t len, int64_t offset)
{
    table_clear(t);
    if (len < SNAP_HEADER_BYTES || (int16_t)weir_load_be16(buf) != SNAP_VERSION ||
        weir_load_be32(buf + SNAP_OFF_CRC) != weir_crc32c(0, buf + SNAP_OFF_OFFSET, len - SNAP_OFF_OFFSET))
        return WEIR_E_CORRUPT;
    struct weir_rd rd = weir_rd_make(buf + SNAP_OFF_OFFSET, len - SNAP_OFF_OFFSET);
    int64_t at = weir_rd_i64(&rd);
    int32_t count = weir_rd_i32(&rd);
    enum weir_err err = at == offset && count >= 0 && count <= SNAP_PRODUCERS_MAX ? WEIR_OK : WEIR_E_CORRUPT;
    for (int32_t i = 0; err == WEIR_OK && i < count; i++) err = snap_entry_read(t, &rd, offset);
    if (err == WEIR_OK && weir_rd_left(&rd) != 0) err = WEIR_E_CORRUPT;
    if (err != WEIR_OK) table_clear(t);
    return err;
}

/* ---- snapshots: files ------------------------------------------------------------ */

enum weir_err producers_snapshot_write(const char *dir, int64_t offset, const uint8_t *buf, size_t len)
{
    char path[4096];
    segment_path(dir, offset, SNAP_EXT, path, sizeof path);
    return weir_write_file_atomic(path, buf, len);
}

static void snaps_add(struct prod_table *t, int64_t offset)
{
    unsigned i = t->n_snaps;
    while (i > 0 && t->snaps[i - 1] > offset) i--;
    if (i > 0 && t->snaps[i - 1] == offset) return;
    if (t->n_snaps == t->cap_snaps) {
        unsigned cap = t->cap_snaps ? t->cap_snaps * 2 : 8;
        int64_t *v = weir_realloc(t->snaps, cap * sizeof *v);
        if (!v) return; /* untracked: the next open removes it as a stray */
        t->snaps = v;
        t->cap_snaps = cap;
    }
    memmove(t->snaps + i + 1, t->snaps + i, (t->n_snaps - i) * sizeof *t->snaps);
    t->snaps[i] = offset;
    t->n_snaps++;
}

/* Deletes snapshot file i and forgets it. */
static void snaps_drop(struct weir_log *log, unsigned i)
{
    struct prod_table *t = &log->producers;
    char path[4096];
    segment_path(log->dir, t->snaps[i], SNAP_EXT, path, sizeof path);
    if (weir_io->unlink(path) != 0 && errno != ENOENT) weir_log(WEIR_LOG_WARN, "delete %s: %s", path, strerror(errno));
    memmove(t->snaps + i, t->snaps + i + 1, (t->n_snaps - i - 1) * sizeof *t->snaps);
    t->n_snaps--;
}

static enum weir_err snaps_list(struct weir_log *log)
{
    struct prod_table *t = &log->producers;
    t->n_snaps = 0;
    DIR *d = opendir(log->dir);
    if (!d) return WEIR_E_IO;
    const size_t name_len = SEGMENT_NAME_DIGITS + sizeof SNAP_EXT - 1;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        const char *name = ent->d_name;
        if (strlen(name) != name_len || strcmp(name + SEGMENT_NAME_DIGITS, SNAP_EXT) != 0 ||
            strspn(name, "0123456789") != SEGMENT_NAME_DIGITS)
            continue;
        snaps_add(t, strtoll(name, NULL, 10));
    }
    closedir(d);
    return WEIR_OK;
}

static bool is_segment_base(const struct weir_log *log, int64_t offset)
{
    return offset >= weir_log_start_offset(log) && log->segs[log_find_segment(log, offset)]->base_offset == offset;
}

static enum weir_err snapshot_load(struct weir_log *log, int64_t offset)
{
    char path[4096], *buf = NULL;
    size_t len = 0;
    segment_path(log->dir, offset, SNAP_EXT, path, sizeof path);
    size_t max = SNAP_HEADER_BYTES + (size_t)SNAP_PRODUCERS_MAX *
                 (SNAP_ENTRY_BYTES + WEIR_PRODUCER_BATCHES * SNAP_BATCH_BYTES);
    enum weir_err err = weir_read_file(path, max, &buf, &len);
    if (err == WEIR_OK) err = producers_deserialize(&log->producers, (const uint8_t *)buf, len, offset);
    else if (err != WEIR_E_NOMEM) err = WEIR_E_CORRUPT;
    weir_free(buf);
    if (err == WEIR_E_CORRUPT)
        weir_log(WEIR_LOG_WARN, "producer snapshot %s is missing or corrupt; using an older one or the log", path);
    return err;
}

/* Replays the headers of every batch in [from, log end). */
static enum weir_err replay_from(struct weir_log *log, int64_t from)
{
    for (unsigned i = log_find_segment(log, from); i < log->n_segs; i++) {
        struct weir_segment *seg = log->segs[i];
        uint64_t pos = 0;
        if (from > seg->base_offset &&
            segment_find_batch(seg, segment_index_lookup(seg, from), from, &pos) != WEIR_OK)
            return WEIR_E_CORRUPT;
        for (uint64_t steps = 0; pos < seg->size; steps++) {
            WEIR_ASSERT(steps <= seg->size / WEIR_BATCH_HEADER_BYTES);
            struct weir_batch_header h;
            if (weir_batch_header_decode(seg->log_map + pos, seg->size - pos, &h) != WEIR_OK ||
                h.length < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD ||
                (uint64_t)h.length + WEIR_BATCH_LOG_OVERHEAD > seg->size - pos)
                return WEIR_E_CORRUPT;
            if (h.base_offset >= from) {
                enum weir_err err = producers_replay(&log->producers, &h);
                if (err != WEIR_OK) return err;
                log->stats.producer_batches_replayed++;
            }
            pos += (uint64_t)h.length + WEIR_BATCH_LOG_OVERHEAD;
        }
    }
    return WEIR_OK;
}

enum weir_err producers_load(struct weir_log *log, bool list_dir)
{
    struct prod_table *t = &log->producers;
    table_clear(t);
    if (list_dir && snaps_list(log) != WEIR_OK) return WEIR_E_IO;
    int64_t start = weir_log_start_offset(log), end = weir_log_end_offset(log);
    for (unsigned i = t->n_snaps; i-- > 0;)
        if (t->snaps[i] > end || t->snaps[i] < start) snaps_drop(log, i);
    int64_t from = start;
    log->stats.producer_snapshot = -1;
    while (t->n_snaps > 0) {
        int64_t offset = t->snaps[t->n_snaps - 1];
        enum weir_err err = snapshot_load(log, offset);
        if (err == WEIR_E_NOMEM) return err;
        if (err == WEIR_OK) {
            from = log->stats.producer_snapshot = offset;
            break;
        }
        snaps_drop(log, t->n_snaps - 1);
    }
    enum weir_err err = replay_from(log, from);
    if (err != WEIR_OK) {
        table_clear(t);
        return err;
    }
    /* Keep one snapshot per segment base (truncation reloads from them) and the newest. */
    for (unsigned i = t->n_snaps > 1 ? t->n_snaps - 1 : 0; list_dir && i-- > 0;)
        if (!is_segment_base(log, t->snaps[i])) snaps_drop(log, i);
    WEIR_DASSERT(producers_valid(t));
    return WEIR_OK;
}

void producers_roll(struct weir_log *log, int64_t new_base, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (producers_serialize(&log->producers, new_base, buf, len) != WEIR_OK) {
        weir_log(WEIR_LOG_WARN, "log %s: no memory for the producer snapshot at %" PRId64, log->dir, new_base);
        return;
    }
    snaps_add(&log->producers, new_base);
}

void producers_retain(struct weir_log *log, int64_t now_ms)
{
    struct prod_table *t = &log->producers;
    int64_t start = weir_log_start_offset(log);
    while (t->n_snaps > 0 && t->snaps[0] < start) snaps_drop(log, 0);
    int64_t horizon = now_ms - WEIR_PRODUCER_EXPIRATION_MS;
    for (struct prod_entry *e = t->lru_head, *next; e; e = next) {
        next = e->lru_next;
        if (!e->pend_head && e->ring[e->n - 1].max_ts <= horizon) entry_remove(t, e);
    }
}

/* ---- invariants ------------------------------------------------------------------- */

static bool entry_valid(const struct prod_table *t, const struct prod_entry *e)
{
    if (t->slots[slot_find(t, e->pid)] != e) return false;
    if (e->on_lru != (e->n >= 1) || e->n > WEIR_PRODUCER_BATCHES || e->n_eff > WEIR_PRODUCER_BATCHES) return false;
    if (!e->on_lru && !e->pend_head) return false;                     /* (4) */
    int16_t epoch = e->epoch;                                         /* (2) */
    struct prod_batch ring[WEIR_PRODUCER_BATCHES];
    uint8_t n = e->n;
    memcpy(ring, e->ring, sizeof ring);
    for (const struct weir_append *p = e->pend_head; p; p = p->producer_next) {
        struct weir_batch_header h;
        if (p->producer != e || weir_batch_header_decode(p->batch, p->len, &h) != WEIR_OK) return false;
        if (p->producer_epoch != h.producer_epoch || p->base_sequence != h.base_sequence ||
            p->records != h.last_offset_delta + 1 || p->max_timestamp != h.max_timestamp)
            return false; /* append_meta's copy of the header */
        struct prod_batch b = batch_meta(&h, -1, (struct weir_append *)p);
        view_apply(&epoch, ring, &n, h.producer_epoch, &b);
        if (!p->producer_next && p != e->pend_tail) return false;
    }
    if (epoch != e->epoch_eff || n != e->n_eff) return false;
    for (unsigned i = 0; i < n; i++)
        if (ring[i].first_seq != e->ring_eff[i].first_seq || ring[i].last_seq != e->ring_eff[i].last_seq ||
            ring[i].pending != e->ring_eff[i].pending ||
            (!ring[i].pending && ring[i].base_offset != e->ring_eff[i].base_offset))
            return false;
    return true;
}

bool producers_valid(const struct prod_table *t)
{
    uint32_t count = 0, committed = 0;
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slots[i]) {
            count++;
            if (!entry_valid(t, t->slots[i])) return false;
        }
    const struct prod_entry *prev = NULL;
    for (const struct prod_entry *e = t->lru_head; e; prev = e, e = e->lru_next, committed++)
        if (!e->on_lru || e->lru_prev != prev || committed > count) return false;  /* (3) */
    for (unsigned i = 1; i < t->n_snaps; i++)
        if (t->snaps[i - 1] >= t->snaps[i]) return false;
    return count == t->count && committed == t->committed && prev == t->lru_tail;
}
