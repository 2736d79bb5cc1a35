/* client/wire_int.h: the consumer's and the admin client's internals, shared
 * by client/wire.c, admin.c, cconf.c, consumer.c, fetcher.c, crecords.c (and
 * white-box tests). The producer's internals are client_int.h; the two share
 * only the public client.h and the codec.
 *
 * Objects and who owns them:
 *  - struct cw_conn: one blocking connection to one broker (wire.c). Owned by
 *    one thread at a time: the admin's caller, or the consumer's fetch thread.
 *  - struct cw_frame: one response frame, reference counted, so decoded
 *    records can point into it (zero copy) after the connection reads on.
 *  - struct weir_consumer: the assignment (struct cpart), the queue of fetched
 *    chunks and the poller's state, under `lock`; the fetch thread owns the
 *    broker connections and the metadata it learns.
 *
 * A consumed record's life: Fetch response frame (cw_frame, refs 1) ─► one
 * cchunk per partition that had data (a frame ref each) ─► the poller decodes
 * one batch at a time into a cbatch (records + headers in one allocation,
 * a frame ref when the records point into the frame, or the LZ4 output) ─►
 * records handed out one by one; the cbatch goes when its last record is
 * released. */
#ifndef WEIR_WIRE_INT_H
#define WEIR_WIRE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "base/base.h"
#include "client/client.h"
#include "proto/proto.h"
#include "record/record.h"

/* ---- limits ------------------------------------------------------------------ */

enum {
    CW_API_KEYS = 70,             /* versions kept for API keys 0..69 */
    CW_FRAME_MAX = 100000000,     /* receive.message.max.bytes (librdkafka's default) */
    CW_HOST_MAX = 256,
    CW_ERRBUF = 256,
    CW_IOV_MAX = 64,
    CW_DECOMPRESSED_MAX = 256 << 20, /* one compressed batch, decompressed */
};

/* ---- frames --------------------------------------------------------------------- */

struct cw_frame {
    atomic_int refs;
    uint32_t len;                 /* bytes after the INT32 size */
    uint8_t data[];
};
void cw_frame_ref(struct cw_frame *f);
/* Frees the frame with its last reference. NULL is a no-op. Any thread. */
void cw_frame_unref(struct cw_frame *f);

/* ---- the blocking connection ------------------------------------------------------ */

struct cw_conn {
    int fd;                       /* -1 when closed */
    char host[CW_HOST_MAX];
    int port;
    int32_t node_id;              /* -1: a bootstrap address */
    int32_t corr;                 /* next correlation id */
    int16_t ver[CW_API_KEYS];     /* chosen version per key, -1 = none in common */
    const char *client_id;        /* borrowed from the owner's config */
    int wake_fd;                  /* polled with the socket: readable = give up (-1 none) */
    char err[CW_ERRBUF];          /* the last failure, one line */
};

void cw_conn_init(struct cw_conn *c, const char *client_id);
/* Connects to host:port and negotiates versions (ApiVersions v3, falling back
 * as README §4 says; each key gets min(our max, broker max) when the ranges
 * overlap). Blocks up to timeout_ms in all. Errors (c->err says why):
 * WEIR_CLIENT_E_RESOLVE, WEIR_CLIENT_E_TRANSPORT, WEIR_CLIENT_E_TIMED_OUT,
 * WEIR_CLIENT_E_BAD_MSG, WEIR_CLIENT_E_UNSUPPORTED, WEIR_CLIENT_E_CLOSED (woken). */
int cw_connect(struct cw_conn *c, const char *host, int port, int timeout_ms);
/* Tries each "host:port" of a bootstrap.servers list in order until one
 * connects; c->err holds the last failure when none does. */
int cw_connect_bootstrap(struct cw_conn *c, const char *servers, int timeout_ms);
void cw_close(struct cw_conn *c);
static inline bool cw_is_up(const struct cw_conn *c) { return c->fd >= 0; }
/* The version negotiated for key, or -1. */
int16_t cw_version(const struct cw_conn *c, int16_t key);
/* Writes the size placeholder and the request header of (key, version) with
 * the next correlation id into kb (reset first); the caller encodes the body,
 * then calls kproto_request_end. */
struct kframe cw_request_begin(struct cw_conn *c, struct kbuf *kb, int16_t key, int16_t version, int32_t *corr);
/* Sends the whole kbuf; then cw_recv_response. Errors close the connection. */
int cw_send(struct cw_conn *c, const struct kbuf *kb, int64_t deadline_ms);
/* Reads one response frame and checks its header against (key, version,
 * corr). On success *frame holds a reference and *body covers the body. */
int cw_recv_response(struct cw_conn *c, int16_t key, int16_t version, int32_t corr, int64_t deadline_ms,
                     struct cw_frame **frame, struct weir_rd *body);
/* Send then receive, one request in flight. */
int cw_call(struct cw_conn *c, const struct kbuf *kb, int16_t key, int16_t version, int32_t corr, int timeout_ms,
            struct cw_frame **frame, struct weir_rd *body);
/* Monotonic milliseconds. */
int64_t cw_now_ms(void);
/* Waits on cond (lock held; its clock CLOCK_MONOTONIC) until cw_now_ms()
 * reaches until_ms, or a signal. */
void cw_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t until_ms);

/* Metadata (v4+, allow_auto_topic_creation false) of `topics` (n < 0: all).
 * Decoded into `a`; strings point into *frame, which the caller unrefs. */
int cw_metadata(struct cw_conn *c, struct weir_arena *a, const char *const *topics, int n, int timeout_ms,
                struct kmetadata_resp *out, struct cw_frame **frame);
/* FindCoordinator of a group on c: the coordinator's host (NUL-terminated,
 * host_cap bytes at most), port and node id. 0; the broker's Kafka error
 * (c->err says it); WEIR_CLIENT_E_BAD_MSG (malformed: the connection is
 * closed), or the connection's errors. */
int cw_find_coordinator(struct cw_conn *c, struct weir_arena *a, const char *group, int timeout_ms, char *host,
                        size_t host_cap, int *port, int32_t *node_id);
/* "host:port" of one entry of a comma-separated list (IPv6 as [addr]:port).
 * Returns false when it does not parse. */
bool cw_parse_hostport(const char *s, size_t len, char *host, size_t host_cap, int *port);

/* Writes "NAME: text" (weir_client_err_str) or `msg` into buf. */
void cw_errf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- consumer configuration (cconf.c) ---------------------------------------------- */

enum cw_reset { CW_RESET_EARLIEST, CW_RESET_LATEST, CW_RESET_ERROR };

struct weir_consumer_conf {
    char *bootstrap_servers;
    char *client_id;
    int32_t fetch_min_bytes;
    int32_t fetch_max_wait_ms;
    int32_t max_partition_fetch_bytes;
    int32_t fetch_max_bytes;
    int32_t queued_max_kbytes;    /* queued.max.messages.kbytes */
    int32_t request_timeout_ms;
    int32_t retry_backoff_ms;
    int32_t reconnect_backoff_ms;
    int32_t reset;                /* enum cw_reset */
    bool partition_eof;
    bool check_crcs;
    /* groups */
    char *group_id;               /* NULL: no group */
    char *group_instance_id;      /* group.instance.id (KIP-345 static member); NULL: dynamic */
    char *assignors;              /* partition.assignment.strategy, validated */
    int32_t session_timeout_ms;
    int32_t heartbeat_interval_ms;
    int32_t max_poll_interval_ms;
    int32_t auto_commit_interval_ms;
    int32_t metadata_max_age_ms;
    bool auto_commit;
    weir_rebalance_cb *rebalance_cb;
    weir_commit_cb *commit_cb;
    void *opaque;
};
int cw_cconf_copy(struct weir_consumer_conf *dst, const struct weir_consumer_conf *src);
void cw_cconf_free_strings(struct weir_consumer_conf *c);

/* ---- assignors (assignor.c) -------------------------------------------------------- */

struct cw_atp {
    int32_t topic;                /* index into the topics given to cw_assign */
    int32_t partition;
};
struct cw_amember {
    const char *id;
    const char *const *topics;    /* the member's subscription */
    int32_t n_topics;
    const struct cw_atp *owned;   /* cooperative-sticky: what it holds now (topic: index into t) */
    int32_t n_owned;
    int32_t generation;           /* of its owned partitions, -1 unknown: the newer claim wins */
    struct cw_atp *out;           /* what it gets (weir_malloc'd, the caller frees) */
    int32_t n_out, cap_out;
};
struct cw_atopic {
    const char *name;
    int32_t n_partitions;
};
bool cw_assignors_each(const char *list, bool (*fn)(const char *name, size_t len, void *arg), void *arg);
bool cw_assignors_valid(const char *list);
/* True when every name is cooperative-sticky: the consumer rebalances
 * cooperatively (a list mixing eager ones is eager, as in Java). */
bool cw_assignors_cooperative(const char *list);
/* Index of a strategy name (0 range, 1 roundrobin, 2 cooperative-sticky), -1 unknown. */
int cw_assignor_index(const char *name, size_t len);
const char *cw_assignor_name(int index);
/* Fills every member's `out`. 0, WEIR_CLIENT_E_NOMEM, WEIR_CLIENT_E_INVALID_ARG. */
int cw_assignor_run(int strategy, struct cw_amember *m, size_t n_members, const struct cw_atopic *t, size_t n_topics);

/* ---- records (crecords.c) --------------------------------------------------------- */

/* One record as handed to the application; `pub` first, so the public pointer
 * is the private one. */
struct cbatch;
struct crec {
    struct weir_consumer_record pub;
    struct cbatch *owner;         /* NULL: a stand-alone event (EOF, error) */
};

/* Every record of one batch at or after `from` (records before it are
 * skipped), with headers, in one allocation. refs = records handed out + 1
 * while the poller still holds it. */
struct cbatch {
    atomic_int refs;
    struct cw_frame *frame;       /* when records point into it */
    uint8_t *scratch;             /* LZ4 output when they point there */
    int32_t n, next;              /* records, and the next to hand out */
    struct crec *recs;
    struct weir_msg_header *headers;
};

/* Decodes the batch at p (whole, n bytes of it available) into a new
 * cbatch: records with offset >= from, topic/partition filled in, key, value
 * and header pointers into the batch bytes (frame, which gets a reference) or
 * into the LZ4 output. *out is NULL (and WEIR_OK) when every record is before
 * `from` or the batch is a control batch. Errors, each a per-batch condition
 * the caller reports and skips: WEIR_E_TRUNCATED, WEIR_E_CRC (check_crc),
 * WEIR_E_INVALID, WEIR_E_UNSUPPORTED (gzip, snappy, zstd), WEIR_E_TOO_LARGE,
 * WEIR_E_NOMEM. */
enum weir_err cw_batch_decode(const uint8_t *p, size_t n, int64_t from, bool check_crc, const char *topic,
                              int32_t partition, struct cw_frame *frame, struct cbatch **out);
/* Drops one reference; frees with the last. */
void cw_cbatch_unref(struct cbatch *b);
/* Offset after the last record of the whole batches at the start of
 * [p, p+n): the fetch position after them; *whole_len = their bytes. -1 when
 * the first batch is not whole. Reads headers only. */
int64_t cw_batches_next_offset(const uint8_t *p, size_t n, size_t *whole_len);

/* ---- the consumer -------------------------------------------------------------------- */

enum cpart_state {
    CP_NEED_OFFSET,               /* `logical` (or `ts`) must become an offset (ListOffsets) */
    CP_ACTIVE,                    /* fetching from fetch_pos */
    CP_PAUSED,                    /* stopped after an error the application must act on (seek) */
};

struct cpart {
    struct cpart *next;           /* in the assignment, or the free list */
    int64_t committed;            /* last offset committed by this consumer, -1 none (auto commit skips equal) */
    const char *topic;            /* interned: lives until destroy */
    int32_t id;
    int refs;                     /* assignment, fetch-thread work list, chunks, poller */
    bool assigned;
    uint32_t epoch;               /* bumped on every seek: older data is dropped */
    enum cpart_state state;
    int64_t logical;              /* WEIR_OFFSET_BEGINNING / _END / _TIMESTAMP */
    int64_t ts;
    int64_t fetch_pos;            /* next offset to fetch */
    int64_t app_pos;              /* next offset to hand out (records below are skipped) */
    int64_t hwm;                  /* high watermark from the last answer, -1 unknown */
    int64_t eof_at;               /* position of the last EOF event, -1 none */
    size_t queued_bytes;          /* chunk bytes not yet handed out */
    int64_t retry_at_ms;          /* no request before (backoff after errors) */
    /* fetch thread only */
    int32_t leader;               /* -1 unknown */
    int last_err;                 /* last error reported (not repeated) */
};

enum cchunk_kind { CC_DATA, CC_EOF, CC_ERROR };

struct cchunk {
    struct cchunk *next;
    enum cchunk_kind kind;
    struct cpart *part;           /* holds a reference */
    uint32_t epoch;
    struct cw_frame *frame;       /* CC_DATA: holds a reference */
    const uint8_t *p;             /* CC_DATA: whole batches */
    size_t len, pos;
    int64_t offset;               /* EOF: the position; ERROR: the offset concerned */
    int err;
    char errstr[CW_ERRBUF];
};

/* One partition as the fetch thread planned it this round (a snapshot). */
struct pentry {
    struct cpart *part;           /* holds a reference */
    uint32_t epoch;
    enum cpart_state state;
    int64_t fetch_pos;
    int64_t logical, ts;
    int32_t leader;
    bool done;                    /* answered this round */
};

struct cbroker {
    struct cbroker *next;
    int32_t node_id;
    struct cw_conn conn;
    int64_t retry_at_ms;
};

/* A commit asked of the group thread. */
struct cgcommit {
    struct cgcommit *next;
    struct weir_topic_partition *parts; /* owned (topic names too) */
    size_t n;
    bool async, done;
    bool offset_fetch;            /* weir_consumer_committed: OffsetFetch instead */
    int32_t generation;           /* when asked (-1: not a member): sent only in that generation */
    int err;
};

/* A rebalance callback the group thread hands to the polling thread. */
struct cgcallback {
    enum weir_rebalance kind;
    struct weir_topic_partition *parts;
    size_t n;
    bool taken, done;
    pthread_t thread;             /* the thread running it, once taken */
};

enum cg_state {
    CG_IDLE,                      /* not subscribed */
    CG_JOINING,                   /* looking for the coordinator, joining, syncing */
    CG_STABLE,                    /* member of `generation` with an assignment */
};

/* The group membership; the group thread (group*.c) runs it. */
struct cgroup {
    pthread_t thread;
    bool thread_started;
    bool inited, cond_ok, arena_ok; /* what cw_group_free undoes */
    pthread_cond_t cond;          /* with c->lock: work for the group thread */
    int wake_fd;                  /* eventfd: interrupts the group thread's blocking I/O */
    /* ---- under c->lock ---- */
    char **sub;                   /* subscription: names and "^regex" */
    size_t n_sub;
    uint64_t sub_gen;             /* bumped by subscribe/unsubscribe */
    bool stop;                    /* close: leave and exit */
    bool exited;                  /* the group thread is done with the group */
    bool gate;                    /* a new assignment waits for its ASSIGN callback: poll hands out nothing */
    enum cg_state state;
    int32_t generation;           /* -1 when not a member */
    struct cgcommit *commits, *commits_tail;
    struct cgcallback *cb;        /* handed to the poller, NULL none */
    int64_t last_poll_ms;
    bool poll_expired;            /* left after max.poll.interval.ms; rejoin at the next poll */
    bool fenced;                  /* FENCED_INSTANCE_ID: out of the group for good (never cleared) */
    bool in_join;                 /* rebalance's requests in flight: unsubscribe may cut them */
    bool join_cut;                /* unsubscribe wrote wake_fd to cut them; drained when the join ends */
    /* ---- the group thread ---- */
    struct cw_conn coord;
    struct cw_conn boot;
    struct weir_arena arena;
    struct kbuf kb;
    char *member_id;              /* "" before the first JoinGroup */
    bool need_rejoin;
    bool gen_lost;                /* cooperative: the member or generation was refused, what it holds is lost */
    int32_t owned_gen;            /* generation the assignment was got in, -1 none (cooperative user data) */
    uint64_t joined_sub_gen;
    char **topics;                /* the resolved subscription at the last join */
    int32_t *counts;              /* their partition counts then */
    size_t n_topics;
    int64_t hb_next, commit_next, meta_next, coord_retry;
};

struct weir_consumer {
    struct weir_consumer_conf conf;
    struct cgroup g;

    pthread_mutex_t lock;
    pthread_cond_t cond_data;     /* chunks queued: pollers wake */
    pthread_cond_t cond_work;     /* assignment changed / room in the queue: the fetch thread wakes */
    /* ---- under lock ---- */
    struct cpart *parts;          /* the assignment */
    struct cchunk *head, *tail;   /* fetched, not yet polled */
    size_t queued_bytes;
    char **topics;                /* interned names */
    size_t n_topics, topics_cap;
    bool stop;
    bool closed;
    uint64_t work_gen;            /* bumped on assign/seek: the fetch thread re-plans */

    /* ---- the poller (one thread at a time: poll_lock) ---- */
    pthread_mutex_t poll_lock;
    struct cchunk *cur;           /* popped chunk being decoded */
    struct cbatch *cur_batch;     /* batch being handed out (the poller's ref) */
    struct cpart *cur_part;       /* cur's partition */

    /* ---- the fetch thread ---- */
    pthread_t thread;
    bool thread_started;
    int wake_fd;                  /* eventfd: stop */
    struct cbroker *brokers;
    struct cw_conn boot;          /* metadata */
    int64_t meta_next_ms;
    bool meta_needed;
    struct weir_arena arena;      /* request building and response decoding */
    struct kbuf kb;
    struct pentry *plan;
    size_t plan_cap;
    int conn_err;                 /* last consumer-level error reported (not repeated) */
    uint64_t stats_fetches, stats_bytes;
};

/* consumer.c, for the group thread */
/* Replaces the assignment (lock not held). Offsets: as weir_consumer_assign,
 * or CW_OFFSET_RESET_ERROR: no committed offset and auto.offset.reset=error. */
#define CW_OFFSET_RESET_ERROR (-1001)
int cw_assign(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n);
/* Cooperative: drops drop[0, n_drop) from the assignment (their fetched
 * records too) and adds parts[0, n) (none may be assigned); replace: drops
 * everything first (cw_assign). On error nothing changes. */
int cw_assign_change(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n,
                     const struct weir_topic_partition *drop, size_t n_drop, bool replace);
/* Lock held: the assigned partitions with their positions, as an owned
 * array (*out NULL when none): ALL (offset -1 while unknown), KNOWN (known
 * positions only), MOVED (known and not what this consumer committed last).
 * 0 or WEIR_CLIENT_E_NOMEM. */
enum cw_pos { CW_POS_ALL, CW_POS_KNOWN, CW_POS_MOVED };
int cw_positions(struct weir_consumer *c, enum cw_pos which, struct weir_topic_partition **out, size_t *n);

/* group.c (its other files: group_int.h) */
int cw_group_start(struct weir_consumer *c);
/* close: revokes, commits (auto commit), leaves, joins the thread. */
void cw_group_stop(struct weir_consumer *c);
/* After unsubscribe: returns once the group gave its assignment up (see
 * weir_consumer_unsubscribe); at once on the group thread or inside the
 * rebalance callback. */
void cw_group_leave_wait(struct weir_consumer *c, uint64_t sub_gen);
void cw_group_free(struct weir_consumer *c);
/* Poller: runs a pending rebalance callback and notes the poll. */
void cw_group_poll(struct weir_consumer *c);

/* fetcher.c */
void *cw_fetch_main(void *arg);
/* Lock held. */
void cw_cpart_unref(struct weir_consumer *c, struct cpart *p);
/* Lock held: appends a chunk (takes the chunk's references) and wakes pollers. */
void cw_queue_push(struct weir_consumer *c, struct cchunk *ch);
/* A consumer-level error event (partition -1), queued once until another
 * error (or a success clears c->conn_err). Lock not held. */
void cw_consumer_error(struct weir_consumer *c, int err, const char *text);
/* Lock held: queues an error event for p. */
void cw_queue_error(struct weir_consumer *c, struct cpart *p, int64_t offset, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
