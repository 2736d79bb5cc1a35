/* engine/engine.h: weir's storage engine, the one header other modules include.
 *
 * Two layers over record batches (the format: record/record.h), which are
 * stored byte for byte as the producer sent them:
 *  - logs: one partition = a directory of segments (<20-digit base>.log,
 *    .index, .timeindex). Appends go down through an io_uring `weir_appender`
 *    shared by many logs; reads return file ranges for zero-copy send. Each
 *    log checks idempotent producers' sequences (snapshots: <offset>.snapshot).
 *  - store: a data directory of topics and their partitions, with topic
 *    metadata written atomically.
 *
 * Threads: a log and its appender belong to one thread (a reactor). The store's
 * segment preparer thread only hands over ready files through a locked slot. */
#ifndef WEIR_ENGINE_H
#define WEIR_ENGINE_H

#include "base/base.h"

#include <sys/uio.h>

struct io_uring;

/* ======================================================================== */
/* Log configuration                                                         */
/* ======================================================================== */

#define WEIR_SEGMENT_BYTES_MAX ((uint64_t)UINT32_MAX) /* index positions are 32-bit */
/* Idempotent producers, per partition (Kafka's values where it has one). */
enum { WEIR_PRODUCER_BATCHES = 5,      /* NUM_BATCHES_TO_RETAIN */
       WEIR_PRODUCERS_MAX = 1 << 16 }; /* beyond it the least recently appended is forgotten */
#define WEIR_PRODUCER_EXPIRATION_MS ((int64_t)86400000) /* producer.id.expiration.ms */

/* Kafka topic config names; defaults as in Kafka where it has one. Every key
 * Kafka 3.7 documents is here; weir_log_config_info says which ones weir does
 * not act on (stored and described only). */
enum { WEIR_LOG_CONFIG_TEXT_BYTES = 256, /* a text value's bytes, with its NUL */
       WEIR_LOG_CONFIG_FORMAT_BYTES = 4096 }; /* enough for weir_log_config_format */
enum { WEIR_CLEANUP_DELETE = 1u << 0, WEIR_CLEANUP_COMPACT = 1u << 1 }; /* cleanup.policy bits */
enum weir_compression_type { /* compression.type, in Kafka's order of the docs */
    WEIR_COMPRESSION_PRODUCER, WEIR_COMPRESSION_UNCOMPRESSED, WEIR_COMPRESSION_GZIP, WEIR_COMPRESSION_SNAPPY,
    WEIR_COMPRESSION_LZ4, WEIR_COMPRESSION_ZSTD };
enum weir_log_timestamp_type { WEIR_LOG_TIMESTAMP_CREATE, WEIR_LOG_TIMESTAMP_APPEND }; /* message.timestamp.type */
struct weir_log_config {
    uint64_t segment_bytes;        /* segment.bytes, default 1 GiB */
    int64_t segment_ms;            /* segment.ms, default 7 days */
    uint64_t segment_index_bytes;  /* segment.index.bytes, default 10 MiB */
    uint32_t index_interval_bytes; /* index.interval.bytes, default 4096 */
    int64_t retention_bytes;       /* retention.bytes, negative = unlimited (default -1) */
    int64_t retention_ms;          /* retention.ms, default 7 days, -1 = unlimited */
    uint32_t max_message_bytes;    /* max.message.bytes, default 1048588 */
    int64_t flush_messages;        /* flush.messages: fdatasync every N records; INT64_MAX = never, 1 = always */
    int64_t flush_ms;              /* flush.ms: fdatasync when unflushed data is this old; INT64_MAX = never */
    uint32_t min_insync_replicas;  /* min.insync.replicas: acks=all needs this many in the ISR, default 1 (>= 1) */
    uint8_t cleanup_policy;        /* cleanup.policy: WEIR_CLEANUP_* bits, default delete */
    uint8_t compression_type;      /* compression.type: enum weir_compression_type, default producer */
    uint8_t timestamp_type;        /* message.timestamp.type: enum weir_log_timestamp_type, default CreateTime */
    bool message_downconversion;   /* message.downconversion.enable, default true */
    bool preallocate;              /* preallocate, default false */
    bool remote_storage;           /* remote.storage.enable: always false (no tiered storage) */
    bool unclean_leader_election;  /* unclean.leader.election.enable, default false */
    int64_t delete_retention_ms;   /* delete.retention.ms: tombstones kept this long, default 1 day */
    int64_t file_delete_delay_ms;  /* file.delete.delay.ms, default 60000 */
    int64_t local_retention_bytes; /* local.retention.bytes, default -2 (= retention.bytes) */
    int64_t local_retention_ms;    /* local.retention.ms, default -2 (= retention.ms) */
    int64_t min_compaction_lag_ms; /* min.compaction.lag.ms, default 0 */
    int64_t max_compaction_lag_ms; /* max.compaction.lag.ms, default INT64_MAX */
    double min_cleanable_dirty_ratio;    /* min.cleanable.dirty.ratio in [0, 1], default 0.5 */
    int64_t segment_jitter_ms;           /* segment.jitter.ms, default 0 */
    int64_t timestamp_difference_max_ms; /* message.timestamp.difference.max.ms, default INT64_MAX */
    int64_t timestamp_before_max_ms;     /* message.timestamp.before.max.ms, default INT64_MAX */
    int64_t timestamp_after_max_ms;      /* message.timestamp.after.max.ms, default INT64_MAX */
    char message_format_version[WEIR_LOG_CONFIG_TEXT_BYTES];   /* message.format.version, default 3.0-IV1 */
    char leader_throttled[WEIR_LOG_CONFIG_TEXT_BYTES];   /* leader.replication.throttled.replicas, default "" */
    char follower_throttled[WEIR_LOG_CONFIG_TEXT_BYTES]; /* follower.replication.throttled.replicas, default "" */
};
void weir_log_config_default(struct weir_log_config *c);
/* Sets one Kafka-named key from its text value (trimmed first, as Kafka
 * does). Errors: WEIR_E_BAD_CONFIG with a one-line reason in why naming the
 * key (unknown key, not a number, out of range, not one of the choices,
 * remote.storage.enable=true). */
enum weir_err weir_log_config_set(struct weir_log_config *c, const char *key, const char *value, char *why,
                                  size_t why_cap);
/* Writes "key=value\n" lines for every key into buf, values as Kafka
 * describes them; returns bytes (snprintf rules). */
size_t weir_log_config_format(const struct weir_log_config *c, char *buf, size_t cap);
/* One key's value as weir_log_config_format writes it. Errors: WEIR_E_NOT_FOUND. */
enum weir_err weir_log_config_get(const struct weir_log_config *c, const char *key, char *buf, size_t cap);
/* Kafka's ConfigType ids (DescribeConfigs' config_type). */
enum { WEIR_CONFIG_TYPE_BOOLEAN = 1, WEIR_CONFIG_TYPE_STRING = 2, WEIR_CONFIG_TYPE_INT = 3,
       WEIR_CONFIG_TYPE_LONG = 5, WEIR_CONFIG_TYPE_DOUBLE = 6, WEIR_CONFIG_TYPE_LIST = 7 };
/* What DescribeConfigs says of a key; static strings. */
struct weir_log_config_info {
    const char *name;
    int8_t type;          /* WEIR_CONFIG_TYPE_* */
    const char *synonyms; /* the broker keys that set its default, highest precedence first, ' '-separated; or NULL */
    const char *note;     /* NULL when weir honours it; else what weir does not do with it */
};
/* The i-th key (0, 1, ... until false), in weir_log_config_format's order. */
bool weir_log_config_key(size_t i, struct weir_log_config_info *out);
/* A key by name; false when it is not a topic config. */
bool weir_log_config_info(const char *key, struct weir_log_config_info *out);
/* The produce timestamp bounds Kafka 3.6+ uses: message.timestamp.before.max.ms
 * (after.max.ms) when set, else message.timestamp.difference.max.ms. */
int64_t weir_log_config_timestamp_before_ms(const struct weir_log_config *c);
int64_t weir_log_config_timestamp_after_ms(const struct weir_log_config *c);
/* Cross-field checks (index large enough for one entry, ...). */
enum weir_err weir_log_config_check(const struct weir_log_config *c, char *why, size_t why_cap);

/* ======================================================================== */
/* The appender: io_uring submission shared by many logs                      */
/* ======================================================================== */

struct weir_log;
struct weir_appender;

/* One append. Owned by the caller, which keeps it (and the batch) alive until
 * on_done runs. On success `base_offset` is the first assigned offset. */
struct weir_append {
    uint8_t *batch;       /* borrowed; its baseOffset field is rewritten */
    size_t len;           /* one whole batch */
    int32_t records;      /* filled by weir_log_append */
    int64_t max_timestamp;/* filled by weir_log_append */
    int64_t base_offset;  /* out; for a duplicate, the original batch's */
    enum weir_err err;    /* out */
    bool duplicate;       /* out: a retry of an appended batch; nothing was written */
    void (*on_done)(struct weir_append *a);
    void *user;
    /* engine-private */
    struct weir_append *next;          /* queue link (for a duplicate: its original's dups list) */
    struct weir_append *producer_next; /* the same producer's next in-flight append */
    struct weir_append *dups;          /* retries of this in-flight append, answered with it */
    void *producer;                    /* its producer state; NULL when not idempotent */
    int16_t producer_epoch;            /* with producer: the batch's, kept so that */
    int32_t base_sequence;             /* completion needs no second header decode */
    int32_t batches;                   /* batches in it (several for weir_log_append_replica) */
    bool replica;                      /* from weir_log_append_replica: offsets kept */
};

/* Fault injection for tests: the nth (1-based) write or fsync completion of an
 * appender gets `res` instead of the kernel's answer. 0 = off. */
struct weir_appender_fault {
    uint64_t write_nth;
    int32_t write_res;
    uint64_t fsync_nth;
    int32_t fsync_res;
};

/* fsync latency buckets: the upper bounds, in ns (a Prometheus histogram's le). */
enum { WEIR_FSYNC_BUCKETS = 14 };
extern const int64_t weir_fsync_bucket_ns[WEIR_FSYNC_BUCKETS];

struct weir_appender_stats {
    uint64_t submits;       /* io_uring_submit calls that carried work */
    uint64_t writes;        /* writev ops */
    uint64_t fsyncs;        /* fdatasync ops */
    uint64_t batches;       /* batches completed */
    uint64_t bytes;         /* batch bytes completed */
    /* fdatasyncs completed, by latency (from queued, after their linked
     * writev, to completion): per bucket of weir_fsync_bucket_ns, the last
     * above every bound; and the sum */
    uint64_t fsync_hist[WEIR_FSYNC_BUCKETS + 1];
    uint64_t fsync_ns;
};

/* Creates an appender with its own ring of `entries` SQEs. */
enum weir_err weir_appender_create(unsigned entries, struct weir_appender **out);
/* Creates an appender on a ring its caller owns (a reactor): the caller calls
 * weir_appender_prepare each turn before submitting, and dispatches every CQE
 * as a struct weir_uop (base.h). weir_appender_run/drain are not used then. */
enum weir_err weir_appender_create_on(struct io_uring *ring, struct weir_appender **out);
/* Queues (does not submit) the SQEs of every log's next write group. */
void weir_appender_prepare(struct weir_appender *ap, int64_t now_ms);
void weir_appender_destroy(struct weir_appender *ap);
/* Submits every log's pending appends (one writev per log, linked to an
 * fdatasync when its flush policy asks) in one io_uring submission, then
 * reaps whatever has completed; waits for at least one completion when
 * `wait` and something is in flight. Runs on_done callbacks. Returns the
 * number of appends completed. */
int weir_appender_run(struct weir_appender *ap, bool wait);
/* Runs until no append is pending or in flight. */
void weir_appender_drain(struct weir_appender *ap);
/* Starts the fdatasyncs that flush.ms asks for at time now_ms; call each turn. */
void weir_appender_tick(struct weir_appender *ap, int64_t now_ms);
bool weir_appender_idle(const struct weir_appender *ap);
void weir_appender_stats(const struct weir_appender *ap, struct weir_appender_stats *out);
void weir_appender_fault_set(struct weir_appender *ap, const struct weir_appender_fault *f);

/* ======================================================================== */
/* Logs (one partition)                                                      */
/* ======================================================================== */

/* Disk allocation follows the data. A segment's .log is allocated (fallocate)
 * in steps ahead of its writes: a step starts at WEIR_PREALLOC_STEP_MIN_BYTES
 * and doubles while each step is filled within a second (halves when it takes
 * over ten), up to prealloc_max_bytes; all logs sharing a preparer together
 * hold at most prealloc_budget_bytes allocated but unwritten (past it a write
 * allocates just what it needs). Index files grow from one page as entries
 * come. A spare next segment is made only for a log writing at the largest
 * step. Free space below reserve_bytes refuses appends (WEIR_E_NOSPACE) except
 * to logs given the reserve (internal metadata); they resume by themselves
 * once space returns. */
enum { WEIR_PREALLOC_STEP_MIN_BYTES = 64 << 10 };
struct weir_disk_policy {
    uint64_t prealloc_max_bytes;    /* log.preallocate.max.bytes, default 32 MiB */
    uint64_t prealloc_budget_bytes; /* log.preallocate.budget.bytes, default 1 GiB */
    int64_t reserve_bytes;          /* log.disk.reserve.bytes; -1 (default): min(512 MiB, 5% of the file system) */
};
void weir_disk_policy_default(struct weir_disk_policy *p);

struct weir_disk_stats {
    uint64_t free_bytes;            /* at the last check (statvfs f_bavail), minus allocations since */
    uint64_t reserve_bytes;         /* in force */
    uint64_t prealloc_unused_bytes; /* allocated ahead of writes, all logs */
    bool low;                       /* appends refused: free space below the reserve */
    uint64_t low_events;            /* times it became low */
};

/* The segment preparer: a thread that makes spare segments for hot logs,
 * truncates and syncs rolled segments off the hot path, and watches the free
 * space of `watch_dir` (NULL: no watching, no reserve). `pol` NULL: defaults.
 * Destroy it only after every log using it is closed. */
struct weir_preparer;
enum weir_err weir_preparer_create(const char *watch_dir, const struct weir_disk_policy *pol,
                                   struct weir_preparer **out);
void weir_preparer_destroy(struct weir_preparer *p);
/* Waits until every queued job has run. */
void weir_preparer_sync(struct weir_preparer *p);
/* Applies a new policy (takes effect at the next allocation and check). */
void weir_preparer_set_policy(struct weir_preparer *p, const struct weir_disk_policy *pol);
void weir_preparer_disk_stats(struct weir_preparer *p, struct weir_disk_stats *out);

/* Opens or creates the log in `dir` (created if missing). Runs recovery when
 * the directory has no clean-shutdown marker. Errors: WEIR_E_IO, WEIR_E_CORRUPT,
 * WEIR_E_NOMEM, WEIR_E_BAD_CONFIG. `prep` may be NULL (segments are then
 * prepared synchronously, counted in stats.roll_stalls). */
enum weir_err weir_log_open(const char *dir, const struct weir_log_config *cfg, struct weir_appender *ap,
                            struct weir_preparer *prep, struct weir_log **out);
/* Completes every queued append, seals files to their true size, writes the
 * recovery checkpoint and the clean-shutdown marker (unless FAILED), frees. */
void weir_log_close(struct weir_log *log);
/* Closes a log whose files are about to be removed (its topic is deleted):
 * completes queued appends like close, but seals, syncs and marks nothing. */
void weir_log_discard(struct weir_log *log);
/* Applies new limits (retention, flush, ...); segment_bytes applies at the next roll. */
enum weir_err weir_log_reconfigure(struct weir_log *log, const struct weir_log_config *cfg);

/* Validates the batch, checks it against the partition's idempotent-producer
 * state (producerId >= 0, Kafka's rules, in-flight appends included), then
 * queues it; it is written at the appender's next run.
 * Errors (nothing queued, on_done not called): WEIR_E_TRUNCATED, WEIR_E_CRC,
 * WEIR_E_INVALID (also: a record without a key in a compacted log, as
 * Kafka's INVALID_RECORD), WEIR_E_TOO_LARGE, WEIR_E_UNSUPPORTED, WEIR_E_FAILED
 * (partition read-only), WEIR_E_CLOSED, WEIR_E_NOMEM, WEIR_E_TRANSACTIONAL,
 * WEIR_E_PRODUCER_EPOCH (epoch older than the producer's last),
 * WEIR_E_OUT_OF_SEQUENCE (a gap, or a new epoch not starting at 0),
 * WEIR_E_TIMESTAMP (CreateTime: the batch's first or max timestamp outside
 * message.timestamp.before/after.max.ms of now; with message.timestamp.type
 * LogAppendTime the batch is rewritten to the broker's time instead), and
 * WEIR_E_DUPLICATE: the batch repeats one of the producer's last 5 completed
 * batches; a->base_offset and a->duplicate are set, nothing is written.
 * A repeat of an append still in flight returns WEIR_OK and completes with it
 * (same err and base_offset, a->duplicate set). After WEIR_OK, on_done always
 * runs exactly once, with a->err set. An append that fails after WEIR_OK
 * leaves no trace in the producer state, and the same producer's later
 * appends in flight fail too (WEIR_E_OUT_OF_SEQUENCE unless the log failed):
 * a retry is in sequence, never a gap or a duplicate. */
enum weir_err weir_log_append(struct weir_log *log, struct weir_append *a);

/* ---- replication: leader epochs, follower appends, high watermark ----------
 * A log may be a replica of a partition led elsewhere. Kafka's semantics
 * (KIP-101, KIP-279): every batch carries the leader epoch it was appended in
 * (partitionLeaderEpoch, outside the CRC); the log keeps the leader-epoch
 * cache, epoch -> start offset, in the partition's `leader-epoch-checkpoint`
 * file; followers copy the leader's batches verbatim and truncate to the end
 * offset of their epoch (weir_log_epoch_end_offset) before following. */

enum { WEIR_EPOCH_NONE = -1 };  /* Kafka's UNDEFINED_EPOCH; UNDEFINED_EPOCH_OFFSET is -1 too */

/* Makes `epoch` (>= 0) the log's leader epoch: weir_log_append stamps it into
 * each batch's partitionLeaderEpoch as offsets are assigned, and the cache
 * gets (epoch, the next offset to assign) now, as Kafka's makeLeader does
 * (a no-op when that epoch is already the latest). Until it is called the
 * epoch is WEIR_EPOCH_NONE and client batches keep the field their producer
 * wrote (a single node stores exactly the bytes it was sent). An epoch below
 * the latest cached one removes the later entries (Kafka's assign).
 * Errors: WEIR_E_INVALID (epoch < 0), WEIR_E_FAILED, WEIR_E_IO / WEIR_E_NOSPACE
 * (the checkpoint could not be written; nothing changed). */
enum weir_err weir_log_set_leader_epoch(struct weir_log *log, int32_t epoch);
int32_t weir_log_leader_epoch(const struct weir_log *log);   /* WEIR_EPOCH_NONE until set */
/* The latest epoch in the cache, WEIR_EPOCH_NONE when it is empty. */
int32_t weir_log_latest_epoch(const struct weir_log *log);
/* Kafka's OffsetsForLeaderEpoch answer (LeaderEpochFileCache.endOffsetFor):
 * requested == WEIR_EPOCH_NONE, or above every cached epoch, or an empty
 * cache: (-1, -1). The latest epoch: (it, log end offset). Otherwise the
 * largest cached epoch <= requested and the start offset of the next cached
 * epoch; when every cached epoch is above requested: (requested, the first
 * entry's start offset). Queued appends do not count: the end is the visible one. */
void weir_log_epoch_end_offset(const struct weir_log *log, int32_t requested, int32_t *epoch_out,
                               int64_t *end_offset_out);
/* The epoch of the batch holding `offset` (LeaderEpochFileCache.epochForOffset):
 * the last cached epoch starting at or before it; WEIR_EPOCH_NONE when none. */
int32_t weir_log_epoch_for_offset(const struct weir_log *log, int64_t offset);

/* Follower append: a->batch holds one or more whole batches as the leader
 * stored them (a fetched record set, at most segment.bytes in all). They are
 * written verbatim: baseOffset, partitionLeaderEpoch, timestamps, producer
 * fields and compression kept. Checked: structure and CRC of each batch
 * (control and transactional batches allowed), the first baseOffset at or
 * past the offset after every append queued so far (the log end when none
 * is), each next baseOffset past the previous batch's last offset (a
 * compacted leader log has gaps, copied as they are). The
 * leader-epoch cache takes every batch's epoch (>= 0) before the append is
 * queued (the checkpoint is written then, as Kafka does); the idempotent-
 * producer state takes the batches when they complete, with no sequence
 * check (a retry reaching this log once it leads is a duplicate as on the
 * leader). Completion as weir_log_append: on_done runs once after WEIR_OK;
 * a->base_offset is the expected offset (the first batch's unless a gap
 * precedes it), a->records the offsets spanned from there.
 * Errors (nothing queued): as weir_batch_validate, WEIR_E_OFFSET_RANGE (the
 * first baseOffset is below the expected one), WEIR_E_INVALID (offsets not
 * contiguous inside the set, or client appends are queued: a log takes one
 * kind at a time), WEIR_E_TOO_LARGE (over segment.bytes + max.message.bytes),
 * WEIR_E_FAILED, WEIR_E_CLOSED, WEIR_E_NOSPACE, WEIR_E_IO (epoch checkpoint).
 * A queued append whose offset no longer follows (an append before it
 * failed) completes with WEIR_E_OFFSET_RANGE. weir_log_append returns
 * WEIR_E_INVALID while replica appends are queued or in flight. */
enum weir_err weir_log_append_replica(struct weir_log *log, struct weir_append *a);

/* The high watermark: offsets below it are committed (replicated to the ISR).
 * By default it follows the log end (single node: every visible batch is
 * committed). Otherwise it moves only by weir_log_set_high_watermark, never
 * back (a lower value is ignored), clamped into [log start, log end]; a
 * truncation below it lowers it to the new end. Retention never deletes a
 * segment holding offsets at or above it (Kafka's deletion upper bound). */
int64_t weir_log_high_watermark(const struct weir_log *log);
/* Errors: WEIR_E_INVALID (the HW follows the end). Calls the HW listener when it moved. */
enum weir_err weir_log_set_high_watermark(struct weir_log *log, int64_t hw);
/* true (default): HW = log end after every change; false: the HW stays where
 * it is until set. weir_store_open restores a checkpointed HW with false. */
void weir_log_set_hw_follows_end(struct weir_log *log, bool follows);
bool weir_log_hw_follows_end(const struct weir_log *log);
/* on_hw(ctx, log) runs on the log's thread after the HW advanced (by a write
 * group when it follows the end, after on_advance; or by set). NULL removes it. */
void weir_log_set_hw_listener(struct weir_log *log, void (*on_hw)(void *ctx, struct weir_log *log), void *ctx);

/* A contiguous range of whole batches in one segment file. The segment stays
 * mapped and its file open until weir_log_view_release. */
struct weir_log_view {
    int fd;                /* segment .log file */
    uint64_t pos;          /* file position of the first batch */
    size_t len;            /* bytes of whole batches; 0 at log end */
    const uint8_t *data;   /* the same bytes, mapped read-only */
    int64_t offset_first;  /* base offset of the first batch (may be < requested) */
    int64_t offset_next;   /* offset after the last batch in the view */
    void *segment;         /* engine-private pin */
};
/* Finds the batch holding `offset` and returns up to max_bytes of whole
 * batches from there, never past the visible end; at least one whole batch
 * when `min_one` (KIP-74). Errors: WEIR_E_OFFSET_RANGE (offset < log start or
 * > log end; == log end gives an empty view), WEIR_E_CORRUPT. */
enum weir_err weir_log_read(struct weir_log *log, int64_t offset, size_t max_bytes, bool min_one,
                            struct weir_log_view *view);
/* Drops the view's pin. Safe from any thread (the pin is atomic). */
void weir_log_view_release(struct weir_log *log, struct weir_log_view *view);
/* Calls on_advance(ctx, log) on the log's thread after each write group makes
 * new batches visible (long-polling fetches wake on it). NULL removes it. */
void weir_log_set_listener(struct weir_log *log, void (*on_advance)(void *ctx, struct weir_log *log), void *ctx);

/* First offset whose record timestamp >= ts (exact, across non-monotonic
 * timestamps); WEIR_E_NOT_FOUND when none. *found_ts gets that record's timestamp. */
enum weir_err weir_log_offset_for_time(struct weir_log *log, int64_t ts, int64_t *offset, int64_t *found_ts);
/* The first record holding the log's largest timestamp (ListOffsets -3,
 * KIP-734); WEIR_E_NOT_FOUND when the log has no record with one (>= 0). */
enum weir_err weir_log_offset_for_max_time(struct weir_log *log, int64_t *offset, int64_t *found_ts);

int64_t weir_log_start_offset(const struct weir_log *log);
/* The log's compression.type (enum weir_compression_type), as last set by
 * weir_log_open or weir_log_reconfigure; what the broker stores batches in. */
uint8_t weir_log_compression_type(const struct weir_log *log);
int64_t weir_log_end_offset(const struct weir_log *log);     /* visible: completed appends */
int64_t weir_log_flushed_offset(const struct weir_log *log); /* durable on disk */
uint64_t weir_log_size_bytes(const struct weir_log *log);
unsigned weir_log_segment_count(const struct weir_log *log);
/* The newest min(cap, segment count) segments, oldest first: each one's base
 * offset and largest record timestamp (INT64_MIN when it holds no record),
 * for ListOffsets v0 (Kafka's UnifiedLog.legacyFetchOffsetsBefore lists
 * segment starts). Returns how many were filled. Log's thread. */
unsigned weir_log_segment_starts(const struct weir_log *log, int64_t *base_offsets, int64_t *max_timestamps,
                                 unsigned cap);
/* WEIR_OK, or the sticky error that made the partition read-only. */
enum weir_err weir_log_state(const struct weir_log *log);
/* Lets appends to this log use the free-space reserve (internal metadata logs). */
void weir_log_set_reserve_access(struct weir_log *log, bool allowed);
/* Bytes of disk the log's files hold (st_blocks of segments and indexes). */
uint64_t weir_log_allocated_bytes(const struct weir_log *log);

/* Rolls the active segment now (no-op when it is empty). */
enum weir_err weir_log_roll(struct weir_log *log);
/* Deletes whole sealed segments past retention.bytes / retention.ms at now_ms
 * (an expired non-empty active segment is rolled first); advances the log
 * start offset. Returns the number of segments deleted in *deleted. Producer
 * state outlives the deleted batches (as in Kafka); producers idle for
 * WEIR_PRODUCER_EXPIRATION_MS are forgotten here. */
enum weir_err weir_log_retain(struct weir_log *log, int64_t now_ms, unsigned *deleted);
/* Deletes the whole sealed segments every batch of which is below `offset`
 * (never the active one), oldest first, syncing the directory after each so
 * that a crash leaves a suffix of the log; advances the log start offset
 * (producer snapshots below it go, as with retention). For compacted logs
 * whose live records were rewritten from `offset` on.
 * *deleted (may be NULL) gets the count. Errors: WEIR_E_FAILED, WEIR_E_IO
 * (a directory sync failed; the log is then read-only). */
enum weir_err weir_log_delete_below(struct weir_log *log, int64_t offset, unsigned *deleted);
/* Kafka's maybeIncrementLogStartOffset (DeleteRecords, and a follower
 * following its leader's log start): moves the log start up to `offset`,
 * which may lie inside a batch or a segment; reads below it then fail with
 * WEIR_E_OFFSET_RANGE. Durable before it returns (the file log-start-offset,
 * written atomically); then the whole sealed segments below it go as in
 * weir_log_delete_below (*deleted, may be NULL, gets their count) and the
 * leader-epoch cache loses what starts below it. offset <= the log start:
 * nothing changes, WEIR_OK. Errors: WEIR_E_OFFSET_RANGE (offset < 0 or above
 * the high watermark; nothing changes), WEIR_E_FAILED, WEIR_E_IO (the log is
 * then read-only). Owner thread only. */
enum weir_err weir_log_advance_start(struct weir_log *log, int64_t offset, unsigned *deleted);
/* True when no append is queued or being written (a roll is then immediate). */
bool weir_log_idle(const struct weir_log *log);
/* Drops every batch at or above `offset`, for replication (Kafka's
 * truncateTo): later segments are removed whole, the one holding offset is
 * cut there, its indexes with it; the leader-epoch cache loses the entries
 * starting at or after offset; the HW is lowered to offset when above it;
 * producer state is reloaded from the newest snapshot at or below offset and
 * the batches after it. Durable before it returns (the cut file synced, the
 * removals and the directory synced): no crash brings truncated batches back.
 * offset >= log end: no batch goes, but the leader-epoch cache loses entries
 * starting at or after the log end (an epoch this broker led without
 * appending), as Kafka's truncateTo does. offset < log start: the log restarts
 * empty at offset (truncateFullyAndStartAt). Otherwise offset must be a batch
 * boundary (a batch's baseOffset). The engine applies no HW policy: the
 * caller decides whether truncating below the HW is allowed (Kafka allows it
 * for a follower after OffsetsForLeaderEpoch, and below the HW when the
 * leader's epoch end says so). Errors: WEIR_E_INVALID (appends queued or in
 * flight, or offset inside a batch), WEIR_E_FAILED, WEIR_E_IO (the log is
 * then read-only; the next open recovers), WEIR_E_CORRUPT. */
enum weir_err weir_log_truncate(struct weir_log *log, int64_t offset);
/* Kafka's truncateFullyAndStartAt: every batch goes and the log restarts
 * empty at `offset` (>= 0, above its end too), with no leader epochs and no
 * producer state; durable before it returns. For a follower whose log ends
 * below its leader's log start. Errors: as weir_log_truncate (WEIR_E_INVALID
 * also for a negative offset). */
enum weir_err weir_log_restart_at(struct weir_log *log, int64_t offset);

/* ---- compaction (cleanup.policy=compact): Kafka's LogCleaner ---------------
 * A pass rewrites the closed segments of a log (sealed, synced, below the
 * active segment and the HW, older than min.compaction.lag.ms) keeping the
 * latest record of each key: a record goes when a later record of its key is
 * in the cleaned range; a record without a key goes; a tombstone (null value)
 * goes once delete.retention.ms has passed since its segment was first
 * cleaned; the last batch of each idempotent producer stays whole (its state
 * can be rebuilt from the log). Offsets are kept: a rewritten batch keeps its
 * base offset and producer fields, its records their offsets (gaps); it is
 * compressed again with its codec. Files and crash safety: engine/cleaner.c and
 * docs/on-disk-format.md. The dirty part starts at the cleaner checkpoint. */
struct weir_clean_config {
    int64_t delete_retention_ms;      /* delete.retention.ms, default 1 day */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms, default 0 */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms, default INT64_MAX: cleans a log whose
                                         first dirty batch is older, whatever its dirty ratio */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio, default 0.5: dirty bytes / cleanable bytes */
    uint32_t map_entries_max;         /* keys mapped per pass; past it the pass stops at a segment end */
};
void weir_clean_config_default(struct weir_clean_config *c);

struct weir_clean_stats {
    uint64_t segments, batches_read, records_read, records_kept, tombstones_dropped;
    uint64_t bytes_before, bytes_after;
    int64_t cleaned_below;            /* the cleaner checkpoint after the pass */
};

struct weir_clean_job;
/* cleanup.policy has compact (the broker cleans it). */
bool weir_log_compacted(const struct weir_log *log);
/* Owner thread: picks the segments to clean and pins them; `cc` NULL: the
 * log's own config (delete.retention.ms, ...). WEIR_E_NOT_FOUND:
 * nothing cleanable, or (unless `force`) the dirty ratio is below the config's
 * and max.compaction.lag.ms has not passed. WEIR_E_BUSY: a job of this log is
 * pending. WEIR_E_FAILED, WEIR_E_CLOSED, WEIR_E_NOMEM. On WEIR_OK, *out must
 * go to weir_log_clean_finish (or weir_clean_job_abandon) before the log closes. */
enum weir_err weir_log_clean_begin(struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms,
                                   bool force, struct weir_clean_job **out);
/* Any thread, never two at once for one job: reads the pinned segments (pread),
 * writes and syncs the rewritten ones under temporary names. Touches no log
 * state. Errors (the pass is dropped at finish): WEIR_E_IO, WEIR_E_NOSPACE,
 * WEIR_E_CORRUPT, WEIR_E_NOMEM. */
enum weir_err weir_clean_job_run(struct weir_clean_job *job);
/* Owner thread: commits the pass (crash-safe swap; readers of the old
 * segments keep them until their views go) and frees the job. WEIR_E_BUSY:
 * the log changed meanwhile (truncation, retention), nothing done. Errors of
 * run are returned as they were. WEIR_E_IO: the swap failed half way; the log
 * is then read-only and the next open finishes it. */
enum weir_err weir_log_clean_finish(struct weir_log *log, struct weir_clean_job *job, struct weir_clean_stats *stats);
/* Owner thread: drops a job (its temporary files go). */
void weir_clean_job_abandon(struct weir_log *log, struct weir_clean_job *job);
/* begin, run and finish in one call (tests, small logs). */
enum weir_err weir_log_clean(struct weir_log *log, const struct weir_clean_config *cc, int64_t now_ms, bool force,
                             struct weir_clean_stats *stats);
/* The cleaner checkpoint: offsets below it were compacted (0: none yet). */
int64_t weir_log_cleaned_below(const struct weir_log *log);

struct weir_log_stats {
    uint64_t recovered_bytes_cut;  /* torn tail bytes removed at open */
    uint64_t recovered_batches;    /* batches scanned at open */
    uint64_t rolls;
    uint64_t roll_stalls;          /* rolls that had to create files inline */
    uint64_t segments_deleted;
    int64_t producer_snapshot;     /* offset of the producer snapshot loaded at open; -1 none */
    uint64_t producer_batches_replayed; /* batch headers replayed into producer state since open */
    uint64_t prealloc_extends;     /* fallocate steps of .log files */
    uint64_t prealloc_step;        /* the step in force now */
    uint64_t nospace_refusals;     /* appends refused with WEIR_E_NOSPACE */
    uint64_t corrupt_reads;        /* reads stopped at a batch that failed its CRC or bounds */
    uint64_t index_repairs;        /* index entries found not to point at their batch */
    uint64_t cleaner_passes;       /* compaction passes committed since open */
};
void weir_log_stats(const struct weir_log *log, struct weir_log_stats *out);

/* ======================================================================== */
/* The store: a data directory of topics                                      */
/* ======================================================================== */

enum { WEIR_TOPIC_NAME_MAX = WEIR_KAFKA_NAME_MAX, WEIR_PARTITIONS_MAX = 100000 };

struct weir_store;

/* Opens (creating) the data directory, finishes interrupted topic deletions,
 * and loads topic metadata. Starts the segment preparer thread.
 * Single-thread mode (`ap` given): every partition of every topic is opened
 * now (recovering as needed) and as topics are created, all on `ap`.
 * Broker mode (`ap` NULL): only metadata; each partition's owner thread opens
 * it with weir_store_partition_open. `defaults` are the broker-level topic
 * defaults. Errors: WEIR_E_BUSY (directory locked by another process),
 * WEIR_E_CORRUPT / WEIR_E_UNSUPPORTED (a topic file), WEIR_E_IO, WEIR_E_BAD_CONFIG.
 * Every store function is thread-safe; a log is used by its owner only. */
enum weir_err weir_store_open(const char *dir, const struct weir_log_config *defaults, struct weir_appender *ap,
                              struct weir_store **out);
/* Closes the logs still open (single-thread mode: all of them) and frees. */
void weir_store_close(struct weir_store *st);
/* The store's disk policy (weir_disk_policy_default at open) and free-space state. */
void weir_store_set_disk_policy(struct weir_store *st, const struct weir_disk_policy *pol);
void weir_store_disk_stats(struct weir_store *st, struct weir_disk_stats *out);

/* Errors: WEIR_E_BAD_NAME, WEIR_E_EXISTS, WEIR_E_BAD_PARTITIONS, WEIR_E_BAD_CONFIG
 * (why says which key), WEIR_E_IO. configs: n pairs of Kafka key/value.
 * Atomic: on error no topic exists. */
enum weir_err weir_store_topic_create(struct weir_store *st, const char *name, int32_t partitions,
                                      const char *const (*configs)[2], size_t n_configs, char *why,
                                      size_t why_cap);
/* Deletion in two steps for broker mode: begin makes the topic unknown and
 * durable-deleted (tombstone); owners take and close their logs; finish
 * closes any left and removes the files. Errors: WEIR_E_NOT_FOUND, WEIR_E_IO. */
struct weir_topic_deletion;
enum weir_err weir_store_topic_delete_begin(struct weir_store *st, const char *name, struct weir_topic_deletion **out);
int32_t weir_store_deletion_partitions(const struct weir_topic_deletion *d);
struct weir_log *weir_store_deletion_take_log(struct weir_topic_deletion *d, int32_t partition);
void weir_store_topic_delete_finish(struct weir_store *st, struct weir_topic_deletion *d);
/* begin + finish, for single-thread mode. */
enum weir_err weir_store_topic_delete(struct weir_store *st, const char *name);
/* Grows the partition count (opens the new logs in single-thread mode).
 * Errors: WEIR_E_NOT_FOUND, WEIR_E_BAD_PARTITIONS, WEIR_E_IO. */
enum weir_err weir_store_topic_add_partitions(struct weir_store *st, const char *name, int32_t new_total);
/* Undoes a grow (CreatePartitions whose new partitions did not all open):
 * the topic has `partitions` again, metadata first; the logs of the
 * partitions past it move to *out, to be taken and closed by their owners
 * (weir_store_deletion_take_log) before weir_store_topic_delete_finish
 * removes those partitions' files. Errors: WEIR_E_NOT_FOUND,
 * WEIR_E_BAD_PARTITIONS (not fewer than now), WEIR_E_NOMEM, WEIR_E_IO. */
enum weir_err weir_store_topic_shrink_begin(struct weir_store *st, const char *name, int32_t partitions,
                                           struct weir_topic_deletion **out);
/* Replaces all of a topic's own configs with these (the store's defaults
 * for every other key): checked first, persisted, then applied to the open
 * logs (each field a word the owner reads as it goes: a reader sees the old
 * or the new value of each). AlterConfigs' semantics. Errors:
 * WEIR_E_NOT_FOUND, WEIR_E_BAD_CONFIG (why names the key; nothing changed),
 * WEIR_E_IO (nothing changed). */
enum weir_err weir_store_topic_configs_replace(struct weir_store *st, const char *name,
                                               const char *const (*configs)[2], size_t n_configs, char *why,
                                               size_t why_cap);
/* Changes topic configs (persisted, applied to open logs). Errors as create. */
enum weir_err weir_store_topic_configure(struct weir_store *st, const char *name,
                                         const char *const (*configs)[2], size_t n_configs, char *why,
                                         size_t why_cap);

/* Broker mode: opens partition's log on `ap` (call on its owner thread).
 * Errors: WEIR_E_NOT_FOUND, WEIR_E_EXISTS (already open), as weir_log_open. */
enum weir_err weir_store_partition_open(struct weir_store *st, const char *topic, int32_t partition,
                                        struct weir_appender *ap, struct weir_log **out);
void weir_store_partition_close(struct weir_store *st, const char *topic, int32_t partition);

/* The open log, or NULL when unknown or not open. Only its owner may use it. */
struct weir_log *weir_store_log(struct weir_store *st, const char *topic, int32_t partition);
/* -1 when the topic is unknown. */
int32_t weir_store_topic_partitions(struct weir_store *st, const char *topic);

/* Topic ids (Kafka's Uuid). weir_store_topic_create gives a new topic a
 * random id, kept in its metadata (topic_id=); a topic from before ids has
 * a zero id until set. Opening a partition writes its partition.metadata
 * (Kafka's file: "version: 0\ntopic_id: <id>\n") when the topic's id is
 * known and the file is missing; a file holding another id stays as it is.
 * Errors: WEIR_E_NOT_FOUND (no such topic). */
enum weir_err weir_store_topic_id(struct weir_store *st, const char *topic, struct weir_uuid *out);
/* Sets the topic's id (durably: the metadata is rewritten). Partition files
 * already written are not touched. Errors: WEIR_E_NOT_FOUND, WEIR_E_IO. */
enum weir_err weir_store_topic_set_id(struct weir_store *st, const char *topic, const struct weir_uuid *id);
/* The id in the partition's partition.metadata. Errors: WEIR_E_NOT_FOUND
 * (no topic or partition, or no file), WEIR_E_CORRUPT (unreadable), WEIR_E_IO. */
enum weir_err weir_store_partition_topic_id(struct weir_store *st, const char *topic, int32_t partition,
                                            struct weir_uuid *out);
/* Removes every file of a partition that is not open (its next open starts
 * it empty at offset 0). Errors: WEIR_E_NOT_FOUND, WEIR_E_BUSY (open). */
enum weir_err weir_store_partition_reset(struct weir_store *st, const char *topic, int32_t partition);
/* New broker-level defaults (dynamic broker configs changed): every topic's
 * effective config becomes defaults with its own overrides over them; not
 * persisted (the topic files hold only overrides). Single-thread mode
 * reconfigures the open logs too; in broker mode each log's owner does
 * (weir_log_reconfigure with weir_store_topic_config). Errors:
 * WEIR_E_BAD_CONFIG (why; nothing changed: a topic's overrides conflict with them). */
enum weir_err weir_store_defaults_set(struct weir_store *st, const struct weir_log_config *defaults, char *why,
                                      size_t why_cap);
/* Copies the topic's effective config. Errors: WEIR_E_NOT_FOUND. */
enum weir_err weir_store_topic_config(struct weir_store *st, const char *topic, struct weir_log_config *out);
/* True when the topic sets `key` itself (not the broker default). */
bool weir_store_topic_override(struct weir_store *st, const char *topic, const char *key);
struct weir_topic_info {
    char name[249 + 1];
    int32_t partitions;
};
/* Copies up to max topics (creation order); returns how many exist. */
size_t weir_store_topics(struct weir_store *st, struct weir_topic_info *out, size_t max);
/* Writes <dir>/replication-offset-checkpoint (Kafka's format: "0", the
 * count, then "topic partition offset" lines) atomically, when it would
 * change: the HW of every open log whose HW does not follow its end, and the
 * entries read at open for partitions not open now (topics that still exist).
 * weir_store_open reads it; a log opened later with an entry there starts
 * with that HW (clamped to its end) and hw_follows_end false.
 * Thread-safe (a log's HW is read atomically). Errors: WEIR_E_IO, WEIR_E_NOSPACE, WEIR_E_NOMEM. */
enum weir_err weir_store_checkpoint_hw(struct weir_store *st);
/* Runs retention over every open partition (single-thread mode). */
void weir_store_retain(struct weir_store *st, int64_t now_ms);

/* Legal Kafka topic name: [a-zA-Z0-9._-], 1..249 characters, not "." or "..". */
bool weir_topic_name_valid(const char *name);

/* ---- broker_configs.c: a single node's dynamic broker configs ----------------
 * <dir>/broker-configs.properties holds the cluster-wide defaults (AlterConfigs
 * on BROKER "") and this broker's own (BROKER "<id>"), each as "key=value\n"
 * lines of at most WEIR_BROKER_CONFIGS_BYTES - 1 bytes. */
enum { WEIR_BROKER_CONFIGS_BYTES = 8192 };
/* Reads both sets (empty when the file does not exist). Errors: WEIR_E_CORRUPT,
 * WEIR_E_UNSUPPORTED (another format), WEIR_E_TOO_LARGE, WEIR_E_IO; then both
 * are empty and one ERROR line names the file. */
enum weir_err weir_broker_configs_read(const char *dir, char *dflt, size_t dflt_cap, char *self, size_t self_cap);
/* Replaces the file with both sets, crash-safely (the old file or the new
 * one, whole). Errors: WEIR_E_INVALID (a line is not "key=value"),
 * WEIR_E_TOO_LARGE, WEIR_E_IO / WEIR_E_NOSPACE (the file is unchanged). */
enum weir_err weir_broker_configs_write(const char *dir, const char *dflt, const char *self);

#endif
