/* engine/engine_int.h: engine-private structures. Included only inside engine/.
 *
 * A log is an array of segments sorted by base offset; the last is active.
 * Invariants (log_check() walks them in debug builds, at open, after each
 * write group starts and completes, at rolls, retention and truncation):
 *  (1) segs[i].base_offset < segs[i+1].base_offset == segs[i].offset_next.
 *  (2) per segment: [0, size) holds whole valid batches with rising offsets
 *      from base_offset to offset_next (contiguous, except the gaps that
 *      compaction leaves: cleaner.c); size <= size_queued <= map_len.
 *  (3) only the active segment is written; at most one write group per log is
 *      in flight, so writes complete in order and visible ends only grow.
 *  (4) every index entry points at a batch start below size.
 *  (5) offset_flushed <= end offset <= offset_queued.
 * States: OK -> FAILED (sticky: log_fail) ; OK -> CLOSING (weir_log_close). */
#ifndef WEIR_ENGINE_INT_H
#define WEIR_ENGINE_INT_H

#include "engine.h"
#include "record/record.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

enum {
    INDEX_ENTRY_BYTES = 8,       /* u32 relative offset, u32 position */
    TIME_ENTRY_BYTES = 12,       /* i64 max timestamp before, u32 relative offset */
    GROUP_IOV_MAX = 1024,        /* batches per writev (IOV_MAX) */
    SEGMENT_NAME_DIGITS = 20,
};

struct weir_segment {
    int64_t base_offset;
    int64_t offset_next;        /* after the last visible batch */
    int64_t offset_queued_next; /* after the last batch assigned to it */
    uint64_t size;              /* visible bytes: whole, completed batches */
    uint64_t size_queued;       /* bytes assigned to writes (>= size) */
    uint64_t map_len;           /* mapped length of .log (bytes beyond EOF never touched) */
    uint64_t alloc_len;         /* .log bytes allocated (its file size while active) */
    uint64_t index_alloc, time_alloc; /* index file bytes with real blocks under the mapping */
    int log_fd;                 /* the index files are reached through their mappings only */
    uint8_t *log_map;
    uint8_t *index_map;         /* entries, mapped index_cap entries */
    uint8_t *time_map;
    uint32_t index_cap, index_count;
    uint32_t time_cap, time_count;
    /* CRC-checked in this process (reads check the rest before serving it):
     * [0, vlo), [vmid_a, vmid_b) and [vhi, end of file). Batch boundaries. */
    uint64_t vlo, vmid_a, vmid_b, vhi;
    int64_t vlo_next, vmid_next;     /* offsets after [0, vlo) and [vmid_a, vmid_b) */
    bool index_bad;             /* an entry did not point at its batch: scan from 0 */
    bool corrupt_logged;
    uint64_t bytes_since_index;
    int64_t max_timestamp;      /* over visible batches; INT64_MIN when empty */
    int64_t created_ms;         /* first append (segment.ms roll) */
    bool sealed;                /* files truncated to true size (or about to be) */
    bool deleted;               /* unlinked; freed when refs drop to 0 */
    atomic_int refs;            /* views and preparer jobs pinning it; +1 while in the log */
    char *path_base;            /* "<dir>/<20 digits>" without extension */
};

/* A spare, preallocated segment made ahead of a roll, under temporary names
 * "<prefix>.log" ... until segment_from_spare renames it. */
struct seg_spare {
    const char *prefix;         /* "spare" (preparer) or "inline" (roll stall) */
    int log_fd;
    uint8_t *log_map, *index_map, *time_map;
    uint64_t map_len, alloc_len;
    uint32_t index_cap, time_cap;
    bool ready;
};

/* The write group of a log: batches sharing one writev and maybe an fdatasync. */
struct log_group {
    struct weir_append *head, *tail;
    unsigned n;
    struct iovec iov[GROUP_IOV_MAX];
    struct weir_segment *seg;
    uint64_t pos, len;
    int64_t offset_first, offset_next;
    int64_t records;
    bool fsync;
    int ops_pending;            /* CQEs still to come */
    int32_t write_res, fsync_res, dir_res;
    struct weir_uop write_op, fsync_op, dir_op;
    int64_t fsync_start_ns;     /* when its sync was queued (weir_clock_ns): the fsync latency */
};

/* Idempotent-producer state of one log (producers.c). */
struct prod_batch {
    int64_t base_offset;        /* -1 while in flight */
    int64_t max_ts;
    int32_t first_seq, last_seq;
    int32_t last_delta;         /* lastOffsetDelta */
    struct weir_append *pending;/* in flight: the append (effective view only); else NULL */
};

struct prod_entry {
    int64_t pid;
    int64_t last_ts;            /* committed: max timestamp of the last batch (expiry) */
    int16_t epoch, epoch_eff;   /* committed; effective (in-flight appends applied) */
    uint8_t n, n_eff;           /* batches in ring / ring_eff, oldest first */
    bool on_lru;                /* has committed state */
    struct prod_batch ring[WEIR_PRODUCER_BATCHES];
    struct prod_batch ring_eff[WEIR_PRODUCER_BATCHES];
    struct weir_append *pend_head, *pend_tail; /* in flight, queue order */
    struct prod_entry *lru_prev, *lru_next;    /* by last commit, oldest first */
};

struct prod_table {
    struct prod_entry **slots;  /* open addressing, linear probing; NULL = empty */
    uint32_t cap;               /* power of two, or 0 */
    uint32_t count;             /* entries in slots */
    uint32_t committed;         /* entries on the LRU list */
    struct prod_entry *lru_head, *lru_tail;
    int64_t *snaps;             /* offsets of snapshot files, ascending */
    unsigned n_snaps, cap_snaps;
    uint64_t evicted;           /* forgotten at WEIR_PRODUCERS_MAX */
};

/* Leader-epoch cache (epochs.c): Kafka's LeaderEpochFileCache. Entries rise
 * strictly in epoch and in start offset; the last start <= the log end once
 * the log is open (an epoch assigned at the end has no batch yet). */
struct epoch_entry {
    int32_t epoch;
    int64_t start;
};
struct epoch_cache {
    struct epoch_entry *v;
    unsigned n, cap;
};

struct weir_log {
    char *dir;
    int dir_fd;                  /* open only while a directory fsync is due or in flight */
    struct weir_log_config cfg;
    struct weir_appender *ap;
    struct weir_preparer *prep;
    struct weir_segment **segs;
    unsigned n_segs, cap_segs;
    int64_t offset_queued;       /* next offset to assign */
    int64_t offset_flushed;
    int64_t unflushed_records;
    int64_t unflushed_since_ms;  /* wall time of the oldest unflushed write; 0 none */
    bool dir_dirty;              /* a create/rename not yet fsync'd */
    enum weir_err failed;        /* sticky: WEIR_OK until log_fail */
    bool closing;
    struct weir_append *pending_head, *pending_tail;
    bool group_busy;
    bool on_dirty_list;
    struct weir_log *dirty_next;
    struct log_group group;
    struct seg_spare spare;      /* guarded by prep->mu when prep != NULL */
    bool spare_taken;            /* prep->mu: a taken spare's files still have their temporary names */
    int jobs_pending;            /* preparer jobs naming this log; guarded by prep->mu */
    atomic_int seal_err;         /* set by the preparer when a seal failed */
    struct weir_log_stats stats;
    uint64_t prealloc_step;      /* next .log extension beyond what a write needs */
    int64_t prealloc_last_ms;    /* time of the last extension; 0 none */
    uint64_t prealloc_charged;   /* allocated-but-unwritten bytes charged to prep's budget */
    bool reserve_ok;             /* appends may use the free-space reserve */
    bool spare_asked;            /* a spare was asked for the active segment */
    bool changed;                /* written, rolled, truncated or recovered since open */
    bool marker_unsynced;        /* the clean-shutdown marker's removal is not synced yet */
    struct prod_table producers; /* owner thread only */
    void (*on_advance)(void *ctx, struct weir_log *log); /* after the end offset moved */
    void *on_advance_ctx;
    void (*on_hw)(void *ctx, struct weir_log *log);      /* after the HW moved up */
    void *on_hw_ctx;
    int32_t leader_epoch;        /* stamped by weir_log_append; WEIR_EPOCH_NONE: not stamped */
    struct epoch_cache epochs;
    int64_t hw;                  /* __atomic: the store's checkpoint reads it from its thread */
    int64_t start_floor;         /* log start set by weir_log_advance_start (file LOG_START_FILE); 0 none */
    bool hw_follows;             /* __atomic likewise */
    unsigned replica_appends;    /* replica appends queued or in flight */
    int64_t pending_next;        /* offset after the last queued append (valid while one is queued) */
    int64_t cleaned_below;       /* cleaner checkpoint (LOG_CLEANER_FILE): segments below were compacted, gaps allowed */
    uint64_t clean_gen;          /* bumped by truncation: a cleaner pass begun before it is dropped */
    bool clean_busy;             /* a cleaner job (cleaner.c) pins segments of this log */
    bool compacted;              /* cleanup.policy has compact (log_gaps_ok) */
    int64_t tombstones_since_ms; /* first-clean time of the oldest cleaned segment keeping a tombstone:
                                    INT64_MAX none, INT64_MIN unknown (after open) */
};

struct weir_appender {
    struct io_uring own_ring;
    struct io_uring *ring;       /* &own_ring, or a reactor's ring it shares */
    bool external;
    struct weir_log *dirty_head, *dirty_tail;
    unsigned inflight_ops;
    unsigned groups_busy;
    struct weir_appender_fault fault;
    uint64_t write_seen, fsync_seen;
    struct weir_appender_stats stats;
    struct weir_log **logs;      /* every open log, for tick */
    unsigned n_logs, cap_logs;
};

/* ---- segment.c ---------------------------------------------------------- */

/* Creates a fresh, mapped, empty segment at base_offset. */
enum weir_err segment_create(struct weir_log *log, int64_t base_offset, struct weir_segment **out);
/* Turns a prepared spare into the segment at base_offset (renames files). */
enum weir_err segment_from_spare(struct weir_log *log, struct seg_spare *sp, int64_t base_offset,
                                 struct weir_segment **out);
/* Makes the files of a spare under temporary names, its .log allocated to
 * `alloc` bytes (0: none), its indexes empty. */
enum weir_err segment_spare_make(const char *dir, const struct weir_log_config *cfg, const char *prefix,
                                 uint64_t alloc, struct seg_spare *sp);
/* Makes [0, need) of the active segment's .log allocated, extending it by the
 * log's step (see weir_disk_policy); the caller then charges the budget
 * (log_charge). Errors: WEIR_E_NOSPACE (nothing changed; the disk or the
 * reserve is full), WEIR_E_IO (errno kept). */
enum weir_err segment_reserve(struct weir_log *log, struct weir_segment *seg, uint64_t need, int64_t now_ms);
/* Checks the batches in [pos, end) not yet checked in this process: CRC,
 * bounds, and offsets continuing (past it when `gaps`) from the batch at `from` (<= pos, a batch
 * boundary known to hold base offset from_offset, e.g. an index entry's).
 * Returns the end of the valid prefix of [pos, end): pos when the first
 * batch is bad. */
uint64_t segment_verify(struct weir_segment *seg, bool gaps, uint64_t from, int64_t from_offset, uint64_t pos,
                        uint64_t end);
void segment_spare_discard(const char *dir, struct seg_spare *sp);
/* Opens an existing segment (files named by base offset); maps it. When
 * `trusted`, sizes come from the files; otherwise the caller recovers it. */
enum weir_err segment_open(struct weir_log *log, int64_t base_offset, bool trusted, struct weir_segment **out);
/* Scans every batch from position 0, truncates a torn tail, rebuilds the indexes. */
enum weir_err segment_recover(struct weir_log *log, struct weir_segment *seg);
/* Finds offset_next and max_timestamp of a trusted segment from its last index entry. */
enum weir_err segment_load_tail(struct weir_log *log, struct weir_segment *seg);
/* Makes the last segment of an opened log the active one (appendable). */
enum weir_err segment_activate(struct weir_log *log, struct weir_segment *seg);
/* st_blocks of the segment's three files, in bytes. */
uint64_t segment_allocated_bytes(const struct weir_segment *seg);
/* Records one visible batch at `pos` (index entries, sizes, max timestamp). */
void segment_batch_done(struct weir_log *log, struct weir_segment *seg, uint64_t pos, uint64_t len,
                        int64_t base_offset, int64_t offset_next, int64_t max_ts);
/* Adds the closing time-index entry and truncates the files to their true
 * sizes; syncs them when `sync`. */
enum weir_err segment_seal(struct weir_segment *seg, bool sync);
/* Drops every batch at or above pos (and its index entries), zeroing the tail. */
enum weir_err segment_truncate_at(struct weir_log *log, struct weir_segment *seg, uint64_t pos, int64_t offset);
/* Position of the last index entry with relative offset <= offset - base,
 * checked to hold that batch (else 0, and the index is not used again). */
uint64_t segment_index_lookup(struct weir_segment *seg, int64_t offset);
/* The same, with the base offset of the batch at that position in *at_offset. */
uint64_t segment_index_find(struct weir_segment *seg, int64_t offset, int64_t *at_offset);
/* Relative offset to start a timestamp scan from (time index). */
int64_t segment_time_lookup(const struct weir_segment *seg, int64_t ts);
/* Finds the batch that holds `offset` (or the first after it) at or after
 * `pos`; *found_pos = its position, or seg->size at the end. */
enum weir_err segment_find_batch(const struct weir_segment *seg, uint64_t pos, int64_t offset, uint64_t *found_pos);
/* Invariants (2) and (4) of one segment; the whole index when `full`, else
 * its newest entries. For WEIR_DASSERT. */
bool segment_check(const struct weir_segment *seg, bool full);
/* Adds the closing time entry (largest timestamp, end); marks it sealed. */
void segment_seal_mark(struct weir_segment *seg);
void segment_unlink(struct weir_segment *seg);
void segment_put(struct weir_segment *seg);   /* drops a ref; frees at 0 */
void segment_path(const char *dir, int64_t base_offset, const char *ext, char *out, size_t cap);

/* ---- log.c ---------------------------------------------------------------- */

#define LOG_CHECKPOINT_FILE "recovery-checkpoint"
#define LOG_CLEANER_FILE "cleaner-offset-checkpoint"
/* One-line text files of the log directory holding an offset: the read gives
 * INT64_MIN when absent or unreadable; the write is atomic (tmp, fsync, rename, dir fsync). */
int64_t log_offset_file_read(const char *dir, const char *name);
enum weir_err log_offset_file_write(const char *dir, const char *name, int64_t offset);

void log_fail(struct weir_log *log, enum weir_err why, const char *what, int errnum);
/* Walks invariants (1)-(5) and the allocation counters; every segment when
 * `full`, else the active one. For WEIR_DASSERT at every state change. */
bool log_check(const struct weir_log *log, bool full);
/* Rolls to a fresh active segment at log->offset_queued (no group in flight). */
enum weir_err log_roll_now(struct weir_log *log);
/* Before any change to the log's files: syncs the removal of the clean-shutdown
 * marker (once). Errors: WEIR_E_IO (the log is then read-only). */
enum weir_err log_files_change(struct weir_log *log);
/* Charges the active segment's allocated-but-unwritten bytes to the budget. */
void log_charge(struct weir_log *log);
/* Writes the recovery checkpoint: segments below base_offset need no scan. */
enum weir_err log_checkpoint_write(const char *dir, int64_t base_offset);
/* Offsets may skip (gaps, never overlaps) in a compacted log: one the cleaner
 * rewrote, or whose topic compacts (a follower copies its leader's gaps). */
static inline bool log_gaps_ok(const struct weir_log *log)
{
    return log->cleaned_below > 0 || log->compacted;
}
static inline struct weir_segment *log_active(const struct weir_log *log) { return log->segs[log->n_segs - 1]; }

/* Index of the segment holding offset: the last with base_offset <= offset. */
unsigned log_find_segment(const struct weir_log *log, int64_t offset);

/* Sets the HW (clamped into [start, end]), calling the HW listener when it rose. */
void log_hw_set(struct weir_log *log, int64_t hw);
/* At open by the store: a checkpointed HW (clamped); the HW no longer follows the end. */
void log_hw_restore(struct weir_log *log, int64_t hw);

/* ---- cleaner.c ------------------------------------------------------------ */

/* The cleaner's settings from a topic config (log.c's config_compacts says whether it cleans). */
void log_clean_config(const struct weir_log_config *c, struct weir_clean_config *out);

/* At open, before the segments are listed: finishes the swaps whose
 * <base>.log.swap exists, deletes the .cleaned and other .swap files. */
enum weir_err cleaner_recover_files(const char *dir);

/* ---- epochs.c ------------------------------------------------------------- */

void epochs_free(struct epoch_cache *c);
/* At open (segments loaded): reads leader-epoch-checkpoint; a missing file is
 * an empty cache (a log that never had an epoch); an unreadable one is
 * rebuilt from the batches' partitionLeaderEpoch. Then drops entries at or
 * past the log end and rewrites the start (truncateFromEnd/FromStart). */
enum weir_err epochs_load(struct weir_log *log);
/* Kafka's assign of (epoch, start) for each of n pairs, then one checkpoint
 * write when the cache changed. On a write error nothing changed. epoch < 0 is skipped. */
enum weir_err epochs_assign(struct weir_log *log, const struct epoch_entry *e, unsigned n);
/* Kafka's truncateFromEnd(end) / truncateFromStart(start), written when changed. */
enum weir_err epochs_truncate_end(struct weir_log *log, int64_t end);
enum weir_err epochs_truncate_start(struct weir_log *log, int64_t start);
/* Entries rising in epoch and start, the last start <= end. For WEIR_DASSERT. */
bool epochs_valid(const struct epoch_cache *c, int64_t end);

/* ---- producers.c ---------------------------------------------------------- */

void producers_init(struct prod_table *t);
void producers_free(struct prod_table *t);
/* Checks a validated batch (header h) and admits it: see weir_log_append.
 * a->records and a->max_timestamp are h's (weir_log_append sets them); an
 * admitted a keeps h's producer epoch and base sequence, so its completion
 * reads no header. *queue false: a is a retry of an in-flight append and waits for it. */
enum weir_err producers_append(struct weir_log *log, struct weir_append *a, const struct weir_batch_header *h,
                               bool *queue);
/* Before a's on_done: commits or forgets a (by a->err); completes its dups. */
void producers_done(struct weir_log *log, struct weir_append *a);
/* Applies one batch of the log (replay). Errors: WEIR_E_NOMEM. */
enum weir_err producers_replay(struct prod_table *t, const struct weir_batch_header *h);
/* Serializes the committed state as snapshot `offset`; *out is weir_malloc'd. */
enum weir_err producers_serialize(const struct prod_table *t, int64_t offset, uint8_t **out, size_t *len);
/* Replaces t's state with a snapshot's. Errors: WEIR_E_CORRUPT (t then empty), WEIR_E_NOMEM. */
enum weir_err producers_deserialize(struct prod_table *t, const uint8_t *buf, size_t len, int64_t offset);
/* Writes snapshot bytes to <dir>/<offset>.snapshot atomically. */
enum weir_err producers_snapshot_write(const char *dir, int64_t offset, const uint8_t *buf, size_t len);
/* At open (list_dir) or after a truncation: drops snapshots outside [log start,
 * log end], loads the newest readable one, replays the batches after it. */
enum weir_err producers_load(struct weir_log *log, bool list_dir);
/* At a roll to new_base (nothing in flight): serializes the snapshot that the
 * caller writes once the old segment is synced. NULL buffer when out of memory. */
void producers_roll(struct weir_log *log, int64_t new_base, uint8_t **buf, size_t *len);
/* After retention moved the log start: deletes snapshots below it; expires idle producers. */
void producers_retain(struct weir_log *log, int64_t now_ms);
/* A completed replica append: its batches' headers replayed, unchecked. */
void producers_replica_done(struct weir_log *log, const struct weir_append *a);
/* O(n) invariant walk for debug asserts and tests. */
bool producers_valid(const struct prod_table *t);

/* ---- appender.c ------------------------------------------------------------ */

void appender_log_add(struct weir_appender *ap, struct weir_log *log);
void appender_log_remove(struct weir_appender *ap, struct weir_log *log);
void appender_mark_dirty(struct weir_appender *ap, struct weir_log *log);

/* ---- preparer.c ------------------------------------------------------------ */

/* Free space and the preallocation budget (see weir_disk_policy). p may be NULL. */
uint64_t preparer_step_max(const struct weir_preparer *p);
/* Bytes the budget still allows beyond what writes need (UINT64_MAX without p). */
uint64_t preparer_budget_left(const struct weir_preparer *p);
void preparer_charge(struct weir_preparer *p, int64_t delta);
/* Takes `bytes` from the free-space estimate; false (nothing taken) when that
 * would go below the reserve and !reserve_ok. */
bool preparer_space_take(struct weir_preparer *p, uint64_t bytes, bool reserve_ok);
void preparer_space_return(struct weir_preparer *p, uint64_t bytes); /* not allocated after all */
/* An allocation of `bytes` was refused (fs_full: ENOSPC; else the reserve):
 * appends are refused until a check finds the reserve, a margin and `bytes` free. */
void preparer_space_exhausted(struct weir_preparer *p, uint64_t bytes, bool fs_full);
bool preparer_disk_low(const struct weir_preparer *p);
/* Takes a ready spare for log into *sp; false when none is ready. */
bool preparer_take_spare(struct weir_preparer *p, struct weir_log *log, struct seg_spare *sp);
/* Ends a take: the spare's files are renamed (or discarded); names are free again. */
void preparer_spare_done(struct weir_preparer *p, struct weir_log *log);
/* Asks for a new spare for log, its .log allocated to `alloc` bytes. */
void preparer_want_spare(struct weir_preparer *p, struct weir_log *log, uint64_t alloc);
/* Truncates and syncs a sealed segment off the hot path, then writes the
 * producer snapshot `snap` (taken; may be NULL) at checkpoint_offset, then
 * advances the recovery checkpoint to checkpoint_offset. Holds a ref on seg. */
void preparer_seal(struct weir_preparer *p, struct weir_log *log, struct weir_segment *seg, int64_t checkpoint_offset,
                   uint8_t *snap, size_t snap_len);
/* Waits until no job names log; discards its spare when `discard`. */
void preparer_wait(struct weir_preparer *p, struct weir_log *log, bool discard);

#endif
