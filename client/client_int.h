/* client/client_int.h: the producer's internals, shared by the client/ sources only
 * (and white-box tests).
 *
 * Objects and who owns them:
 *  - struct weir_producer: the accumulator (topics, partitions, batches, the
 *    buffer pool) under `lock`, shared by application threads (send, flush)
 *    and the Sender thread; conds wake senders waiting for memory, metadata,
 *    or deliveries.
 *  - struct cl_sender: the Sender thread's private state (brokers, their
 *    connections and requests, metadata and producer-id state). No lock: only
 *    the Sender touches it (tests drive it offline, single-threaded).
 *  - struct cl_batch: one RecordBatch v2 being built or sent. States:
 *
 *      OPEN ──(full / linger / flush)──► CLOSED ──(drained: seq assigned)──► INFLIGHT
 *        ▲ appended to by send()             records frozen     │ sealed: header, CRC
 *                                                               ▼
 *                          done (callbacks, freed) ◄── response / failure
 *                          SEALED (in its queue again) ◄── retriable failure
 *
 *    OPEN and CLOSED batches are in their partition's queue, and so are
 *    SEALED ones (retries, in sequence order, before any CLOSED batch);
 *    INFLIGHT ones belong to a request. Only send() writes records into an
 *    OPEN batch (under lock); only the Sender changes states and seals.
 * Invariants (cl_part_check walks them in debug builds):
 *  (1) a partition queue is SEALED* CLOSED* OPEN?, and SEALED batches are in
 *      ascending sequence order (idempotent producer);
 *  (2) pool_used is the sum of buf_cap over live batches, and
 *      pool_used + pool_free_bytes <= buffer.memory;
 *  (3) outstanding is the number of records appended and not yet reported. */
#ifndef WEIR_CLIENT_INT_H
#define WEIR_CLIENT_INT_H

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "base/base.h"
#include "client/client.h"
#include "proto/proto.h"
#include "record/record.h"

/* ---- limits ------------------------------------------------------------------- */

enum {
    CL_TOPIC_BUCKETS = 256,
    CL_RECV_MAX = 100000000,       /* receive.message.max.bytes (librdkafka's default) */
    CL_RECV_INITIAL = 64 * 1024,
    CL_IOV_MAX = 128,              /* iovecs per sendmsg */
    CL_HEADERS_STACK = 32,         /* record headers converted on the stack */
    CL_BACKOFF_MS_MAX = 1000,      /* reconnect.backoff.max.ms */
    CL_BACKOFF_MS_MIN = 100,       /* reconnect.backoff.ms */
    CL_BUF_FREE_MAX = 64,          /* batch.size buffers kept for reuse */
    CL_RECORD_OVERHEAD_MAX = 5 + 1 + 10 + 5 + 5 + 5 + 5, /* length, attrs, varints of a record */
};

/* ---- configuration --------------------------------------------------------------- */

/* Test hooks: a fake clock, and "offline" (no Sender thread: the test drives
 * the accumulator and the Sender's steps itself). */
struct cl_hooks {
    int64_t (*now_ms)(void *ctx); /* monotonic ms; NULL = the real clock */
    void *ctx;
    bool offline;
};

enum {
    CL_SET_ACKS = 1u << 0,
    CL_SET_IDEMPOTENCE = 1u << 1,
    CL_SET_MAX_IN_FLIGHT = 1u << 2,
    CL_SET_RETRIES = 1u << 3,
};

struct weir_conf {
    char *bootstrap_servers; /* NULL = not set */
    char *client_id;
    int16_t acks;            /* 0, 1, -1 */
    int32_t linger_ms;
    int32_t batch_size;
    int64_t buffer_memory;
    int32_t max_block_ms;
    int32_t codec;           /* enum weir_codec: any of Kafka's five */
    int32_t codec_level;     /* compression.level: WEIR_CODEC_LEVEL_DEFAULT or the codec's range */
    int32_t retries;
    int32_t retry_backoff_ms;
    int32_t delivery_timeout_ms;
    int32_t request_timeout_ms;
    int32_t max_in_flight;
    bool idempotence;
    int32_t message_max_bytes;
    int32_t metadata_max_age_ms;
    uint32_t set_bits;       /* CL_SET_*: keys set explicitly */
    struct cl_hooks hooks;
};

/* Applies the cross-key rules (client.h) to *conf: may turn idempotence off.
 * WEIR_CLIENT_E_BAD_CONFIG with a reason in errbuf. */
int cl_conf_finalize(struct weir_conf *conf, char *errbuf, size_t errbuf_size);
/* Copies src into dst (strings duplicated). WEIR_CLIENT_E_NOMEM. */
int cl_conf_copy(struct weir_conf *dst, const struct weir_conf *src);
void cl_conf_free_strings(struct weir_conf *conf);

/* ---- errors ------------------------------------------------------------------------- */

/* What the Sender does with a Produce partition error. */
enum cl_action {
    CL_ACT_OK,            /* delivered (NONE, DUPLICATE_SEQUENCE_NUMBER) */
    CL_ACT_RETRY,         /* try again after retry.backoff.ms */
    CL_ACT_RETRY_REFRESH, /* try again, and refresh metadata first */
    CL_ACT_SEQUENCE,      /* idempotence rules decide (45, 59) */
    CL_ACT_FAIL,          /* report the error */
};
enum cl_action cl_err_action(int err);
/* Metadata and InitProducerId errors that are worth another try. */
bool cl_err_retriable(int err);
void cl_errbuf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- topics, partitions, batches ---------------------------------------------------- */

enum cl_batch_state { CL_BATCH_OPEN, CL_BATCH_CLOSED, CL_BATCH_SEALED, CL_BATCH_INFLIGHT };

struct cl_rec {
    void (*on_delivery)(const struct weir_delivery *d, void *opaque);
    void *opaque;
    int64_t timestamp;
};

struct cl_part;

struct cl_batch {
    struct cl_batch *next;          /* partition queue, request, done list or free list */
    struct cl_part *part;
    enum cl_batch_state state;
    struct weir_batch_builder bld;  /* records go straight into bld.buf */
    size_t buf_cap;                 /* bytes charged to buffer.memory */
    size_t len;                     /* sealed batch bytes (0 before sealing) */
    struct cl_rec *recs;            /* one per record, bld.count used */
    uint32_t recs_cap;
    int64_t created_ms;             /* monotonic: linger and delivery.timeout.ms start here */
    int64_t retry_at_ms;            /* not sent again before */
    int32_t attempts;               /* Produce requests that carried it */
    int32_t retries;                /* retries charged against `retries` */
    int last_err;                   /* the retriable error of the last try, 0 none (weir_delivery.last_err) */
    int32_t base_seq;               /* -1 without idempotence */
    int64_t pid;
    int16_t epoch;
    bool sequenced;                 /* base_seq/pid/epoch assigned */
    /* the outcome, set just before it goes to the done list */
    int err;
    int64_t base_offset;
    int64_t append_time;            /* LogAppendTime, -1 for CreateTime */
};

struct cl_topic;

struct cl_part {
    struct cl_topic *topic;
    int32_t id;
    int32_t leader;                 /* broker node id; -1 unknown */
    struct cl_batch *head, *tail;   /* the queue; tail may be OPEN */
    int32_t inflight;               /* batches of this partition in requests */
    int32_t inflight_node;          /* the broker they went to (valid while inflight > 0) */
    /* idempotence */
    int32_t next_seq;               /* given to the next batch sequenced */
    int32_t next_ack_seq;           /* the sequence the broker acknowledges next */
    bool draining;                  /* after a retriable failure: send nothing until inflight == 0 */
    int last_err;                   /* the retriable error of its last answered try, 0 after a success */
};

struct cl_topic {
    struct cl_topic *hnext;         /* bucket chain */
    char *name;                     /* NUL-terminated, immutable, freed at destroy */
    size_t name_len;
    int32_t n_parts;                /* 0 until metadata tells */
    struct cl_part **parts;         /* stable pointers: the array grows, parts never move */
    int err;                        /* a non-retriable metadata error (send fails with it) */
    int32_t sticky;                 /* partition for null keys; -1 = pick one */
};

struct cl_sender;

struct weir_producer {
    struct weir_conf conf;          /* finalized copy; immutable after new */
    bool idempotent;

    pthread_mutex_t lock;
    pthread_cond_t cond_space;      /* buffer memory was freed */
    pthread_cond_t cond_meta;       /* topic metadata changed */
    pthread_cond_t cond_done;       /* records were reported */

    /* ---- under lock ---- */
    struct cl_topic *topics[CL_TOPIC_BUCKETS];
    uint32_t n_topics;
    uint64_t topics_version;        /* bumped when a topic is added */
    struct cl_part **parts;         /* every partition, for the Sender's scans */
    size_t n_parts, parts_cap;
    size_t drain_start;             /* rotates, so no partition always goes last */
    int64_t pool_used;              /* live batch buffers */
    int64_t pool_free_bytes;        /* cached free batch.size buffers */
    uint8_t *free_bufs[CL_BUF_FREE_MAX];
    uint32_t n_free_bufs;
    struct cl_batch *free_batches;
    uint32_t space_waiters;         /* send() calls waiting for memory: drain everything */
    uint64_t outstanding;           /* records appended, not yet reported */
    uint32_t flushing;              /* flush() calls in progress: every batch is ready */
    bool closing;                   /* close(): send fails */
    bool aborting;                  /* close timed out: fail what is left */
    bool stop;                      /* the Sender exits once nothing is left */
    int fatal_err;
    char fatal_msg[256];
    uint64_t rng;
    struct weir_producer_stats stats;
    struct cl_batch *done_head, *done_tail; /* outcomes waiting for their callbacks */

    /* ---- wakeups ---- */
    int efd;                        /* eventfd the Sender polls */
    atomic_bool wake_pending;

    /* ---- the Sender ---- */
    pthread_t thread;
    bool thread_started;
    bool closed;                    /* close() finished */
    struct cl_sender *s;
};

/* The monotonic clock (ms), or the test hook's. */
int64_t cl_now_ms(const struct weir_producer *p);
/* Wakes the Sender (an eventfd write, skipped when one is pending). Any thread. */
void cl_wake(struct weir_producer *p);
bool cl_on_sender_thread(const struct weir_producer *p);

/* accum.c (lock held unless said otherwise) */
struct cl_topic *cl_topic_find(struct weir_producer *p, const char *name);
/* Finds or adds the topic (n_parts 0). NULL when out of memory. */
struct cl_topic *cl_topic_get(struct weir_producer *p, const char *name);
/* Grows the topic to n partitions (never shrinks). WEIR_CLIENT_E_NOMEM. */
int cl_topic_set_partitions(struct weir_producer *p, struct cl_topic *t, int32_t n);
/* The send path with `now` given (weir_producer_send calls it). */
int cl_send(struct weir_producer *p, const struct weir_msg *msg, int64_t now);
/* Puts a finished batch on the done list with its outcome; frees nothing. */
void cl_batch_done(struct weir_producer *p, struct cl_batch *b, int err, int64_t base_offset, int64_t append_time);
/* Runs the callbacks of every batch on the done list, then frees those
 * batches and wakes waiters. Takes and drops the lock itself: call unlocked. */
void cl_done_run(struct weir_producer *p);
/* Writes the header (pid, epoch, sequence as assigned) and CRC; compresses
 * (lz4). Lock not needed: the batch is the Sender's. Error: WEIR_CLIENT_E_NOMEM. */
int cl_batch_seal(struct weir_producer *p, struct cl_batch *b);
/* Rewrites producer id, epoch and base sequence of a sealed batch, and its CRC. */
void cl_batch_restamp(struct cl_batch *b, int64_t pid, int16_t epoch, int32_t base_seq);
/* Puts a batch that failed retriably back in its queue: in sequence order
 * among the SEALED batches (idempotent), else at the head. */
void cl_part_requeue(struct cl_part *part, struct cl_batch *b, bool idempotent);
/* Unlinks b (not INFLIGHT) from its partition's queue. */
void cl_part_unlink(struct cl_part *part, struct cl_batch *b);
bool cl_part_check(const struct cl_part *part, bool idempotent);
/* Sequence arithmetic with wrap-around after INT32_MAX (Kafka's). */
static inline int32_t cl_seq_add(int32_t seq, int32_t n)
{
    int64_t v = (int64_t)seq + n;
    return (int32_t)(v > INT32_MAX ? v - INT32_MAX - 1 : v);
}
/* a - b as a small signed distance on the sequence circle. */
static inline int32_t cl_seq_cmp(int32_t a, int32_t b)
{
    int64_t d = (int64_t)a - b;
    const int64_t half = ((int64_t)INT32_MAX + 1) / 2;
    if (d > half) d -= (int64_t)INT32_MAX + 1;
    if (d < -half) d += (int64_t)INT32_MAX + 1;
    return (int32_t)d;
}

/* Latches a fatal error: every queued record and every later send fails. */
void cl_set_fatal(struct weir_producer *p, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the Sender: connections and requests ------------------------------------------ */

enum cl_conn_state { CL_CONN_DOWN, CL_CONN_CONNECTING, CL_CONN_APIVERSIONS, CL_CONN_UP };
enum cl_req_kind { CL_REQ_APIVERSIONS, CL_REQ_METADATA, CL_REQ_INITPID, CL_REQ_PRODUCE };

struct cl_req {
    struct cl_req *next;
    enum cl_req_kind kind;
    int16_t key, version;
    int32_t corr;
    bool no_response;               /* Produce with acks=0 */
    int64_t deadline_ms;            /* request.timeout.ms from when it was queued */
    struct kbuf kb;                 /* the frame; Produce records are BORROW chunks */
    struct cl_batch **batches;      /* Produce: the batches it carries */
    uint32_t n_batches, batches_cap;
    uint64_t bytes;                 /* record bytes */
};

struct cl_broker;

struct cl_conn {
    struct cl_broker *broker;
    int fd;
    enum cl_conn_state state;
    int64_t retry_at_ms;            /* reconnect not before */
    int32_t backoff_ms;
    int16_t apiv_version;           /* ApiVersions version to try next */
    int16_t v_produce, v_metadata, v_initpid; /* chosen versions, -1 = not offered */
    struct cl_req *out_head, *out_tail;      /* queued, the head maybe partly written */
    struct kbuf_cursor out_cur;
    uint64_t out_done;              /* bytes of out_head sent */
    struct cl_req *wait_head, *wait_tail;    /* written, waiting for the response */
    uint32_t n_reqs;                /* out + wait: max.in.flight applies to it */
    uint8_t *rbuf;
    size_t rpos, rlen, rcap;        /* unparsed bytes are rbuf[rpos, rlen) */
    int64_t connect_deadline_ms;
};

struct cl_broker {
    int32_t node_id;                /* < 0: a bootstrap address */
    char *host;
    int32_t port;
    struct cl_conn conn;
};

enum cl_pid_state { CL_PID_NONE, CL_PID_REQUESTING, CL_PID_OK, CL_PID_RESET, CL_PID_FATAL };

struct cl_sender {
    struct weir_producer *p;
    struct cl_broker **brokers;
    size_t n_brokers, brokers_cap;
    size_t rr;                      /* round robin for "any broker" requests */
    struct weir_arena arena;        /* response decoding; reset per response */
    struct weir_arena scratch;      /* request building; reset per request */
    int32_t corr;
    bool meta_inflight;
    bool meta_needed;               /* ask as soon as meta_next_ms allows */
    int64_t meta_next_ms;           /* backoff between metadata requests */
    int64_t meta_refresh_ms;        /* metadata.max.age.ms */
    uint64_t meta_topics_version;   /* topics_version the last request covered */
    enum cl_pid_state pid_state;
    bool pid_inflight;
    int64_t pid;
    int16_t epoch;
    int64_t pid_next_ms;
    int32_t produce_inflight;       /* batches in requests, all partitions */
    struct cl_req *free_reqs;
    struct pollfd *pfds;
    struct cl_conn **pconns;
    size_t pfds_cap;
    struct cl_batch **drain;        /* cl_accum_drain's output, one slot per partition */
    size_t drain_cap;
    int64_t next_wake_ms;           /* the step functions lower it */
};

/* sender.c */
void *cl_sender_main(void *arg);
struct cl_sender *cl_sender_new(struct weir_producer *p, char *errbuf, size_t errbuf_size);
void cl_sender_free(struct cl_sender *s);
/* One turn without I/O waiting: scans the accumulator (linger, expiry), asks
 * for metadata and a producer id, drains ready batches into requests. */
void cl_sender_step(struct cl_sender *s, int64_t now);
/* Lock held: makes OPEN batches whose time has come CLOSED, expires batches
 * past delivery.timeout.ms, and lowers s->next_wake_ms. */
void cl_accum_scan(struct cl_sender *s, int64_t now);
/* Lock held: takes up to max_bytes of sendable head batches of partitions led
 * by `node` (one per partition) into out[0, max), marks them INFLIGHT and
 * assigns their sequences. Returns the count. */
size_t cl_accum_drain(struct cl_sender *s, int64_t now, int32_t node, size_t max_bytes, struct cl_batch **out,
                      size_t max);
/* Lock held: the outcome of one batch of a Produce response (or of a failed
 * request: err < 0). Handles retries and the idempotence rules. */
void cl_batch_outcome(struct cl_sender *s, struct cl_batch *b, int err, int64_t base_offset, int64_t append_time);
/* Decodes a Produce response and applies every batch's outcome. */
int cl_produce_response(struct cl_sender *s, struct cl_req *r, struct weir_rd *rd);
/* Lock held: fails every queued batch (not INFLIGHT) with err. */
void cl_accum_fail_all(struct cl_sender *s, int err);

/* meta.c */
void cl_meta_step(struct cl_sender *s, int64_t now);
void cl_pid_step(struct cl_sender *s, int64_t now);
int cl_meta_response(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, struct weir_rd *rd);
int cl_pid_response(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, struct weir_rd *rd);
/* A request that will never be answered (its connection failed). */
void cl_meta_request_lost(struct cl_sender *s, struct cl_req *r);
/* Lock held: renumbers every sequenced batch under the new producer id. */
void cl_pid_renumber(struct cl_sender *s);
struct cl_broker *cl_broker_find(struct cl_sender *s, int32_t node_id);
int cl_bootstrap_parse(struct cl_sender *s, const char *list, char *errbuf, size_t errbuf_size);

/* conn.c */
/* A request from the free list (kbuf reset), or a new one. NULL: out of memory. */
struct cl_req *cl_req_new(struct cl_sender *s, enum cl_req_kind kind, int16_t key, int16_t version);
void cl_req_free(struct cl_sender *s, struct cl_req *r);
/* Starts the frame (size placeholder, header); the caller encodes the body. */
struct kframe cl_req_begin(struct cl_sender *s, struct cl_req *r);
/* Patches the size and queues the request on c. Errors (kbuf) free it and
 * are returned (WEIR_CLIENT_E_NOMEM). */
int cl_conn_enqueue(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, const struct kframe *f, int64_t now);
/* Starts connecting when DOWN and the backoff allows. */
void cl_conn_kick(struct cl_sender *s, struct cl_conn *c, int64_t now);
/* Closes the socket and fails every request on it (err). */
void cl_conn_fail(struct cl_sender *s, struct cl_conn *c, int err, const char *why);
/* Handles poll revents of c. */
void cl_conn_io(struct cl_sender *s, struct cl_conn *c, short revents, int64_t now);
/* Fails requests past their deadline (closing the connection, as Kafka's clients do). */
void cl_conn_timeouts(struct cl_sender *s, struct cl_conn *c, int64_t now);
void cl_conn_free(struct cl_sender *s, struct cl_conn *c);
/* Any UP connection with room for one more request, preferring the least
 * loaded; kicks a DOWN one when none is UP. NULL when none is ready. */
struct cl_conn *cl_conn_any(struct cl_sender *s, int64_t now);
bool cl_conn_has_room(const struct cl_sender *s, const struct cl_conn *c);

#endif
