/* net/net_int.h: the broker's internals. Included only inside net/.
 *
 * Threads: one reactor per core, each with one io_uring ring that carries its
 * sockets and its appender's writes. A partition belongs to exactly one
 * reactor (owner = hash(topic, partition) % reactors) and only that reactor
 * touches its log. A request is handled on the reactor of its connection;
 * work on another reactor's partition travels as a `struct task` through
 * that reactor's mailbox (mutex-guarded list + eventfd), and the answer comes
 * back the same way. Responses leave each connection in request order. */
#ifndef WEIR_NET_INT_H
#define WEIR_NET_INT_H

#include "engine/engine.h"
#include "net.h"
#include "proto/proto.h"
#include "record/record.h"
#include "repl/repl.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>

enum {
    CONN_RBUF_BYTES = 64 << 10,     /* receive buffer; larger frames get their own */
    CONN_INFLIGHT_MAX = 128,        /* requests queued per connection before reading pauses */
    DEL_RETRY_NS = 1000000,         /* a deleted partition's log with appends out: look again then */
    REQ_ARENA_MIN = 16 << 10,
    /* Freed requests wait on their reactor's pool for reuse, with their arena's
     * first block, their response buffer (when small) and a frame buffer of
     * REQ_FRAME_POOLED bytes: at most REQ_POOL_MAX per reactor stay idle. */
    REQ_POOL_MAX = 32,
    REQ_FRAME_POOLED = 16 << 10,    /* larger frames get a buffer of their own, freed with the request */
    REQ_OUT_POOLED = 16 << 10,      /* a response buffer larger than this is freed, not pooled */
    KBUF_CHUNKS_POOLED = 64,        /* likewise its chunk list */
    RING_ENTRIES = 1024,
    FETCH_PIPE_BYTES = 1 << 20,     /* splice pipe size */
    REACTORS_MAX = 64,
    REACTOR_HOOKS_MAX = 8,
    WAKE_INBOX_KEYS = 256,          /* advanced partitions a reactor is told of between two of its turns */
    STOP_DRAIN_MS = 10000,          /* shutdown waits this long for slow readers */
};

struct reactor;
struct broker;

/* Work posted to a reactor; runs on that reactor's thread. */
struct task {
    void (*run)(struct reactor *r, struct task *t);
    struct task *next;
};

/* A partition owned by this reactor. */
struct part {
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
    uint64_t key;                /* part_key(topic, partition) */
    struct weir_uuid topic_id;   /* its partition.metadata's (part_topic_id_load); zero: none */
    struct weir_log *log;
    struct reactor *owner;
    uint64_t waiters;            /* reactors with waiters on it (bit per id): told once when it advances */
    uint64_t hw_waiters;         /* likewise, told when its high watermark moves (consumers wait on it) */
    struct part_repl *repl;      /* its replication state (repl_part.c); NULL while it has no role (and when led alone) */
    uint64_t follow_gen;         /* fetcher.c: the current follow (or unfollow); older fetcher work is stale */
    int32_t follow_leader;       /* fetcher.c: the leader it follows, while followed */
    int32_t follow_epoch;        /* fetcher.c: at this leader epoch */
    bool followed;               /* fetcher.c: handed to a fetcher */
    struct cleaner_job *cleaning; /* log_cleaner.c: its pass in progress, or NULL */
    struct part *hnext;
};

/* What runs on a reactor's thread for the code above it: the loop knows
 * nothing of connections, fetches or groups. Any member may be NULL. */
struct reactor_hook_ops {
    void (*tick)(struct reactor *r, void *ctx, int64_t now_ns); /* each turn, after completions and timers */
    void (*stop)(struct reactor *r, void *ctx, bool force);     /* stopping: no new work; force: drop what is left */
    bool (*busy)(const struct reactor *r, void *ctx);           /* work the stop waits for before quiescing */
    bool (*open)(const struct reactor *r, void *ctx);           /* left after the forced stop: turns go on (bounded) */
    void (*fini)(struct reactor *r, void *ctx);                 /* on the thread after the loop, before the logs close */
    /* Only for a partition with replication state (p->repl != NULL): */
    void (*part_advanced)(struct reactor *r, void *ctx, struct part *p); /* its log grew; before its waiters are told */
    /* For every partition: */
    void (*part_opened)(struct reactor *r, void *ctx, struct part *p);   /* part_open, once its log is open */
    void (*part_closing)(struct reactor *r, void *ctx, struct part *p);  /* part_close, before its log closes */
    /* This broker starts (leader) or stops leading p: a reactor that leads
     * alone from p's open on, otherwise by the roles the cluster gives p. */
    void (*part_led)(struct reactor *r, void *ctx, struct part *p, bool leader);
};

/* A deadline on a reactor's clock (weir_clock_ns). Embedded by its user. */
struct reactor_timer {
    int64_t deadline_ns;
    void (*fire)(struct reactor *r, struct reactor_timer *t); /* on the reactor's thread; t is disarmed */
    struct reactor_timer *next, *prev;
    bool armed;
};

/* Something on a reactor waiting for a partition (key = part_key) to
 * advance. Embedded by its user. A wake may be spurious (a key collision, or
 * a burst of wake-ups too large to name each): the waiter checks again. */
struct reactor_waiter {
    uint64_t key;
    void (*wake)(struct reactor *r, struct reactor_waiter *w); /* on the reactor's thread; w is unlinked */
    struct reactor_waiter *next, **pprev;                      /* pprev NULL: not linked */
};

struct part_map {
    struct part **buckets;
    size_t n_buckets, count;
};

struct conn;
struct request;

struct request {
    struct conn *c;
    uint8_t *frame;              /* owned: the request without its size prefix (frame_buf or its own) */
    size_t frame_len;
    uint8_t *frame_buf;          /* REQ_FRAME_POOLED bytes kept across reuse, or NULL */
    struct kreq_header hdr;
    struct weir_rd body;         /* after the header */
    struct weir_arena arena;     /* decoded request and handler state */
    struct kbuf out;             /* the response frame */
    int pending;                 /* tasks still out on other reactors */
    bool ready;                  /* response complete (or none due) */
    bool no_response;            /* acks=0 produce */
    bool close_after;            /* close the connection once this is sent */
    bool in_fifo;
    void (*on_release)(struct request *req); /* frees handler state (pins) */
    void *state;
    struct request *next;        /* connection FIFO */
    int64_t start_ns;            /* framed (weir_clock_ns): its latency ends at request_respond */
};

struct ip_count;

struct conn {
    struct reactor *r;
    int fd;
    char peer[64];
    unsigned listener;           /* accepted on cfg.listeners[listener]: Metadata answers with its addresses */
    struct ip_count *ip;         /* its max.connections.per.ip count, or NULL */
    uint8_t *rbuf;
    size_t rlen;                 /* bytes buffered in rbuf */
    struct request *partial;     /* large frame being received into its own buffer */
    size_t partial_have;
    struct request *q_head, *q_tail;
    unsigned inflight;
    struct weir_uop recv_op, send_op, splice_in_op, splice_out_op;
    bool recv_busy, send_busy, closing, dead;
    bool parsing;                /* frames_parse running: rbuf offsets are in motion */
    int refs;                    /* entry points on the stack; no free while > 0 */
    /* send cursor over q_head's kbuf */
    size_t chunk, chunk_off;
    int pipe_fd[2];
    size_t pipe_len;             /* bytes in the pipe not yet sent */
    struct iovec iov[64];
    struct msghdr msg;
    struct conn *next, *prev;
};

/* Per-API counters for /metrics (net/metrics.c): API keys 0..METRICS_APIS-2
 * by key, the rest (unknown keys) in the last slot; Kafka error codes
 * -1..METRICS_CODES-2 at code + 1, the rest (none today) in the last slot;
 * latency buckets by metrics_latency_bucket. */
enum { METRICS_APIS = 64, METRICS_CODES = 131, METRICS_LAT_BUCKETS = 16 };

struct reactor_stats {
    _Atomic uint64_t api_requests[METRICS_APIS];
    _Atomic uint64_t api_latency_ns[METRICS_APIS];                        /* sum */
    _Atomic uint64_t api_latency[METRICS_APIS][METRICS_LAT_BUCKETS + 1];  /* last: above every bound */
    _Atomic uint64_t api_errors[METRICS_APIS][METRICS_CODES];
    _Atomic uint64_t records_in;  /* records appended by produces (their first batch's count) */
    _Atomic uint64_t records_out; /* records in the batches Fetch sent (v4+: not down-converted) */
    /* the loop (reactor.c): turns, SQEs submitted, CQEs reaped, and the time
     * spent in io_uring_submit_and_wait (submitting, then waiting) */
    _Atomic uint64_t turns, sqes_submitted, cqes_reaped, enter_ns;
    _Atomic uint64_t requests, bytes_in, bytes_out, fetch_bytes_splice, fetch_bytes_copy, connections;
    _Atomic uint64_t wakeups;    /* waiters woken (reactor_waiter.wake calls) */
    _Atomic uint64_t wake_posts; /* wake_inbox tasks posted to this reactor */
    /* Replication's commit path (cluster mode), for the stop line:
     * leader: acks=all produces held and their total hold; follower
     * fetches read (with records) and the time they waited parked;
     * fetcher: Fetch requests sent, their total round trip, and the time
     * from each response to the next request (the appends in between). */
    _Atomic uint64_t held, held_ns, ffetch_reads, ffetch_records, ffetch_waits, ffetch_wait_ns;
    _Atomic uint64_t fetcher_sent, fetcher_rtt_ns, fetcher_turn_ns;
};

struct reactor {
    struct broker *b;
    unsigned id;
    pthread_t thread;
    struct io_uring ring;
    struct weir_appender *ap;
    uint8_t *inflate;            /* produce's decompressed-records scratch, reused (handle_produce.c) */
    size_t inflate_cap;
    struct acceptor {            /* one per listener (cfg.listeners[listener]), this reactor's own socket */
        struct reactor *r;
        unsigned listener;
        int fd;                  /* -1: not open */
        struct weir_uop op;
        bool armed;
        struct weir_uop poll_op; /* at the fd limit: a poll for a connection (or a back-off timeout) */
        bool polling;
        struct __kernel_timespec backoff;
    } acc[WEIR_LISTENERS_MAX];
    unsigned n_acc;
    /* owns fd, accepted on cfg.listeners[listener]; NULL: closed */
    void (*on_accept)(struct reactor *r, int fd, unsigned listener);
    int spare_fd;                /* /dev/null held so that at the fd limit a connection can still be refused */
    int event_fd;
    uint64_t event_val;
    struct weir_uop event_op;
    pthread_mutex_t mbox_mu;
    struct task *mbox_head, *mbox_tail;
    struct task *local_head, *local_tail; /* posted to self */
    struct part_map parts;
    struct { const struct reactor_hook_ops *ops; void *ctx; } hooks[REACTOR_HOOKS_MAX];
    unsigned n_hooks;
    struct reactor_timer *timers_head, *timers_tail; /* armed, by deadline */
    struct reactor_waiter **wait_buckets;            /* linked waiters by key; power-of-two count */
    size_t wait_n_buckets, wait_count;
    struct reactor_waiter *wait_bucket_one;          /* the table before it first grows */
    struct wake_inbox {                              /* partitions advanced, told by their owners */
        pthread_mutex_t mu;
        uint64_t keys[WAKE_INBOX_KEYS];
        unsigned n;
        bool overflow;                               /* more than fit: every waiter wakes */
        bool posted;                                 /* task is in the mailbox */
        struct task task;
    } wake_inbox;
    struct conn *conns;          /* conn.c's */
    struct request *waiting;     /* handle_fetch.c's: long-poll fetches */
    struct request *req_pool;    /* freed requests for reuse (conn.c), linked by next */
    unsigned req_pool_n;         /* <= REQ_POOL_MAX */
    int64_t next_retain_ms;
    int64_t next_clean_ms;       /* log_cleaner.c: the next look for logs to compact */
    int64_t stop_deadline_ns;    /* connections still busy then are closed */
    bool stopping, quiesced, done, forced;
    struct reactor_stats stats;
    void *groups;                /* group*.c: the groups this reactor coordinates */
    void *repl;                  /* repl_part.c: the partitions this reactor leads */
    /* Every partition this reactor owns is led here alone: this broker is its
     * only replica and leads it at epoch 0 with ISR {itself}, so its HW is its
     * log end and an acks=all produce is committed once appended; no role
     * ever comes for it (a single node's reactors: broker.c sets it at start;
     * repl_part.c alone reads it). */
    bool leads_alone;
    void *fetchers;              /* fetcher.c: the fetchers living on this reactor */
};

struct broker {
    struct weir_broker_config cfg;
    struct weir_store *store;
    struct reactor *reactors;
    unsigned n_reactors;
    uint16_t ports[WEIR_LISTENERS_MAX];     /* bound, per cfg.listeners[i] */
    int port_lock_fds[WEIR_LISTENERS_MAX];  /* abstract unix sockets "weir-port-<port>": held while running (broker.c) */
    int inter_broker;            /* cfg.listeners index the brokers dial each other on */
    char cluster_id[32];
    void (*dispatch)(struct request *req); /* a request's decoded header is in; handle.c's handle_request */
    _Atomic unsigned quiesced;
    _Atomic bool stopping;
    _Atomic int64_t groups_live; /* group*.c: groups in memory on every reactor (weir.groups.max) */
    /* The metadata interface (repl.h): set once, before any request is
     * served (a single node: at start; a cluster: once joined, with cluster). */
    struct weir_meta *meta;
    struct weir_cluster *cluster; /* cluster mode (zookeeper.connect set); NULL on a single node */
    struct cluster_glue *glue;   /* cluster_glue.c's, with cluster */
    pthread_mutex_t pid_mu;      /* producer id blocks */
    int64_t pid_next, pid_block_end;
    /* Ids handed out are pid_prefix + pid_next, pid_next <= pid_local_max
     * (producer_id.c); a cluster member's range is set before it serves. */
    int64_t pid_prefix, pid_local_max;
    /* conn.c: connections open (accepted, not yet freed) for max.connections,
     * and per client address for max.connections.per.ip (only when it is set) */
    _Atomic int32_t conns_open;
    struct metrics *metrics;     /* metrics.c: the HTTP listener (weir.metrics.listen), or NULL */
    uint16_t metrics_port;       /* its bound port */
    pthread_mutex_t ip_mu;
    struct ip_count **ip_buckets; /* IP_BUCKETS chains, allocated at first use */
    struct log_cleaner *cleaner; /* log_cleaner.c; NULL when log.cleaner.enable=false */
    /* broker_configs.c: the dynamic broker configs as "key=value\n" lines
     * (the cluster-wide defaults, BROKER ""; this broker's own, BROKER
     * "<id>") and the topic defaults they make with cfg.log; under dyn_mu
     * (any thread reads them: broker_log_defaults). */
    pthread_mutex_t dyn_mu;
    char dyn_default[WEIR_BROKER_CONFIGS_BYTES], dyn_self[WEIR_BROKER_CONFIGS_BYTES];
    struct weir_log_config log_defaults;
};

/* What cfg.listeners[li] is advertised as: its advertised.listeners entry, else
 * its own host (localhost for a wildcard) and bound port. Inline: called from
 * the layers broker.c starts (handle.c, cluster_glue.c). */
static inline void listener_advertised(const struct broker *b, unsigned li, const char **host, int32_t *port)
{
    const struct weir_broker_config *c = &b->cfg;
    const struct weir_listener *l = &c->listeners[li];
    for (unsigned i = 0; i < c->advertised_n; i++)
        if (strcmp(c->advertised[i].name, l->name) == 0) {
            *host = c->advertised[i].host, *port = c->advertised[i].port;
            return;
        }
    *host = !l->host[0] || !strcmp(l->host, "0.0.0.0") || !strcmp(l->host, "::") ? "localhost" : l->host;
    *port = b->ports[li];
}

/* ---- reactor.c ------------------------------------------------------------ */
void reactor_post(struct reactor *to, struct task *t);

/* ---- log_cleaner.c: compaction of the logs with cleanup.policy=compact ---- */
struct cleaner_job;
struct log_cleaner;
enum weir_err log_cleaner_start(struct broker *b);   /* before the reactors start */
void log_cleaner_stop(struct broker *b);              /* after they have stopped */
void log_cleaner_reactor_init(struct reactor *r); /* its hook: finished passes and new ones each turn */
struct reactor *reactor_owner(struct broker *b, const char *topic, int32_t partition);
struct reactor *reactor_current(void); /* the calling thread's reactor, or NULL */
struct part *part_find(struct reactor *r, const char *topic, int32_t partition);
/* Opens (or finds) an owned partition's log on this reactor. */
enum weir_err part_open(struct reactor *r, const char *topic, int32_t partition, struct part **out);
/* p->topic_id from the store again (a role set or changed it). */
void part_topic_id_load(struct reactor *r, struct part *p);
void part_close(struct reactor *r, const char *topic, int32_t partition, struct weir_log *taken);
struct io_uring_sqe *reactor_sqe(struct reactor *r, struct weir_uop *op);
void reactor_cancel(struct reactor *r, struct weir_uop *target);
enum weir_err reactor_start(struct reactor *r);
void reactor_join(struct reactor *r);
/* A reactor that never started (the broker's start failed first): its hooks'
 * fini frees what their init allocated. */
void reactor_discard(struct reactor *r);
void reactor_wake(struct reactor *r);
/* Before reactor_start; hooks run in the order added (at most REACTOR_HOOKS_MAX). */
void reactor_hook_add(struct reactor *r, const struct reactor_hook_ops *ops, void *ctx);
/* (Re)arms t to fire at deadline_ns, at the end of the first turn that sees
 * it passed. Reactor thread only. */
void reactor_timer_arm(struct reactor *r, struct reactor_timer *t, int64_t deadline_ns);
void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t);
/* A partition's waiter key: a hash of (topic, partition). */
uint64_t part_key(const char *topic, int32_t partition);
/* Links w (w->key, w->wake set) on r until it is woken or removed. The owner
 * of the partition must then be asked to tell r when it advances (p->waiters
 * bit r->id): the advance wakes the waiters of that key linked on r when the
 * news arrives, once; no others (but for key collisions and overflow). */
void reactor_waiter_add(struct reactor *r, struct reactor_waiter *w);
void reactor_waiter_remove(struct reactor *r, struct reactor_waiter *w); /* no-op when not linked */
/* On p's owner: tells each reactor in *mask that p advanced (its waiters on
 * p's key wake), once; clears *mask. part_advanced does it for p->waiters. */
void part_tell(struct part *p, uint64_t *mask);

/* ---- limits.c: RLIMIT_NOFILE and vm.max_map_count ---------------------------- */
/* Raises the soft open-files limit to the hard one; logs the result at INFO. */
void limits_nofile_raise(void);
/* After weir_store_partition_open failed with err (errno was saved_errno):
 * when a process or machine limit is the cause (EMFILE, ENFILE, or an mmap
 * ENOMEM at vm.max_map_count), one ERROR line names it and what to raise. */
void limits_open_failed(const char *topic, int32_t partition, enum weir_err err, int saved_errno);

/* ---- conn.c ----------------------------------------------------------------- */
void conn_accept(struct reactor *r, int fd, unsigned listener);
void conn_kick(struct conn *c);          /* send what is ready, resume reading */
void conn_shutdown_all(struct reactor *r, bool force);
void request_pool_free(struct reactor *r); /* at the reactor's end */
void conn_limits_init(struct broker *b);
void conn_limits_free(struct broker *b);   /* once every reactor has ended */
bool conn_busy_any(const struct reactor *r); /* a connection has requests or I/O in flight */
/* Per reactor, before it starts: accepts connections, stops them with the broker. */
void conn_reactor_init(struct reactor *r);
void request_respond(struct request *req); /* response in req->out is complete */
void request_task_done(struct request *req); /* a posted task finished */
/* Starts a response frame: size placeholder and response header. */
void response_begin(struct request *req);
void response_end(struct request *req);

/* ---- handlers ---------------------------------------------------------------- */

/* One partition operation of a request: runs on the partition's owner, then
 * its answer runs back on the request's reactor. Lives in the request arena. */
struct ptask {
    struct task t;
    struct request *req;
    struct reactor *origin;
    const char *topic;           /* NUL-terminated, in the arena */
    int32_t partition;
    void (*on_owner)(struct reactor *owner, struct ptask *pt); /* ends with ptask_reply */
    void (*on_origin)(struct reactor *origin, struct ptask *pt);
    int16_t error_code;
    void *ctx;                   /* the handler's per-partition slot */
};
/* Posts pt to the owner of (topic, partition); counts it pending on req. */
void ptask_send(struct ptask *pt);
void ptask_reply(struct reactor *owner, struct ptask *pt);
/* The owner's log of (topic, partition), opening it on first use; NULL and
 * *error_code set when the topic or partition does not exist. */
struct part *part_get(struct reactor *owner, const char *topic, int32_t partition, int16_t *error_code);
char *arena_strdup(struct weir_arena *a, struct kstr s);
/* Closes the connection after logging a malformed request. */
void request_malformed(struct request *req, enum weir_err err);
/* ---- topic_open.c ---- */
struct topic_open_result {
    const char *topic;
    enum weir_err err;           /* the first partition's error; WEIR_OK: all opened */
    int32_t failed, first_failed;
    char why[384];               /* for the user (error_message) when err != WEIR_OK */
};
/* Opens partitions [from, to) of a just-created (from 0) or grown topic on
 * their owners; when one fails, deletes the new topic or shrinks the grown one
 * back to `from`, closing what opened. Then done(res, ctx) runs on `origin`. */
void topic_open_all(struct reactor *origin, const char *topic, int32_t from, int32_t to,
                    void (*done)(const struct topic_open_result *res, void *ctx), void *ctx);
/* The single node's metadata host (repl.h, struct weir_meta_local_host):
 * topic_open_all from the calling reactor, ctx the broker. */
void topic_host_open(void *ctx, const char *topic, int32_t from, int32_t to, weir_cluster_done_fn *done,
                     void *done_ctx);
/* A deletion d the store began, of partitions [from, n) of topic (0: the
 * whole topic): each owner drops the partition's role (part_unhost) and
 * closes its log once its appends are done, handing it to d; then
 * weir_store_topic_delete_finish(d) and done(ctx, topic) on `origin`
 * (directly when there is no partition to close). Any thread. */
void topic_close_all(struct reactor *origin, const char *topic, struct weir_topic_deletion *d, int32_t from,
                     void (*done)(void *ctx, const char *topic), void *ctx);
/* The single node's host remove: topic_close_all from the calling reactor. */
void topic_host_remove(void *ctx, const char *topic, struct weir_topic_deletion *d, weir_cluster_done_fn *done,
                       void *done_ctx);

void handle_request(struct request *req);
enum { CONFIGS_MAX = 64 }; /* configs one DescribeConfigs resource lists */
/* topic_configs.c: splits "k=v\n" lines of text (modified in place) into at
 * most max configs (the keys res asks for), each with its Kafka type; the
 * source is 4 (static broker) when set_keys is NULL, else 1 (dynamic topic)
 * for a key set_keys holds as "\nkey\n", 5 (default) for the others.
 * Returns the count; names and values point into text. */
int32_t configs_from_lines(char *text, const struct kdescribeconfigs_resource *res, struct kdescribeconfigs_config *out,
                           int32_t max, const char *set_keys);
/* topic_configs.c: a topic's configs as configs_from_lines listed them,
 * completed as Kafka describes them: STATIC_BROKER_CONFIG (4) for a default
 * the broker's config sets (a synonym in log_keys_text), with synonyms
 * (the topic's own, the broker's set keys, the default) and, for a key weir
 * does not act on, documentation saying so (docs). In the request's arena. */
void topic_configs_decorate(struct request *req, struct kdescribeconfigs_config *cfgs, int32_t n, bool synonyms,
                            bool docs);
/* topic_configs.c: CreateTopics v5+ (KIP-525): what each topic of cr whose result in
 * res succeeded got: partition count, replication factor (rf_default for -1),
 * its configs as DescribeConfigs lists them (the broker's defaults with the
 * request's overrides) and (v7) its id from the metadata. In the request's
 * arena, one per topic; NULL when out of memory (the encoder then sends -1,
 * -1 and null configs). Either mode; the request's reactor. */
const struct kcreatetopics_detail *createtopics_details(struct request *req, const struct kcreatetopics_req *cr,
                                                        const struct ktopic_result *res, int16_t rf_default);
/* handle_meta.c: from the metadata interface, in either mode. */
void handle_metadata(struct request *req);
void handle_findcoordinator(struct request *req);
void handle_describecluster(struct request *req);
void handle_describelogdirs(struct request *req); /* handle_logdirs.c */
size_t meta_live_count(struct weir_meta *m);
/* The name of the topic with this id into out (cap bytes); false when none
 * (Metadata v12 and Fetch v13 ask by id). Walks every topic: O(topics). */
bool meta_topic_name_of_id(struct weir_meta *m, const struct weir_uuid *id, char *out, size_t cap);
/* DeleteTopics v6 entries by topic id: each known id's name replaces the
 * entry's (a null one) in dr; errors[i] (n_topic_names of them) gets 100
 * UNKNOWN_TOPIC_ID for an unknown id, and every entry gets 42 INVALID_REQUEST
 * when any names both a topic and an id (Kafka refuses the whole request);
 * 0 otherwise. Names point into the request's arena. false: out of memory. */
bool deletetopics_resolve(struct request *req, struct kdeletetopics_req *dr, int16_t *errors);
/* DeleteTopics v5+: each failed result without an error_message gets the
 * code's own message (Kafka's ApiError without one: Errors.message()). */
void deletetopics_messages(const struct request *req, struct ktopic_result *res, int32_t n);
/* This broker's advertised listeners into out (WEIR_REPL_ENDPOINTS_MAX room;
 * listener_advertised for each); returns how many. */
unsigned broker_endpoints(const struct broker *b, struct weir_repl_endpoint *out);
void handle_produce(struct request *req);
void handle_fetch(struct request *req);
void handle_listoffsets(struct request *req);
void handle_deleterecords(struct request *req); /* handle_records.c */
void handle_createtopics(struct request *req);
void handle_deletetopics(struct request *req);
void handle_createpartitions(struct request *req);
void handle_alterconfigs(struct request *req); /* AlterConfigs and IncrementalAlterConfigs */
/* topic_configs.c, for handle_alterconfigs: a topic's new own configs
 * (keys[i]=values[i], n; in the request's arena) and what
 * weir_meta_topic_config will show once they are in (alter_settled). */
struct alter_plan {
    const char **keys, **values;
    uint32_t n;
    char *expect;
};
/* The plan for resource r of topic: 0, or Kafka's error code with why
 * (3 no topic, 40 unknown key or conflict, 42 bad value or operation). */
int16_t alter_topic_plan(struct request *req, const char *topic, const struct kalterconfigs_resource *r,
                         struct alter_plan *p, char *why, size_t cap);
/* Whether the topic's configs read now are the plan's expect (or the topic is gone). */
bool alter_settled(struct request *req, const char *topic, const char *expect);
/* ---- broker_configs.c: dynamic broker configs (Kafka's DynamicBrokerConfig) ----
 * The dynamic keys are the broker synonyms of topic configs (log.retention.ms,
 * log.segment.bytes, compression.type, ...; not log.message.format.version):
 * set cluster-wide (BROKER "") or for this broker (BROKER "<id>"), they
 * replace the static value in the defaults every topic inherits. Precedence
 * as Kafka: per key this broker's, then the cluster's, then the static
 * config; among synonyms the more specific (ms > minutes > hours). */
/* After the store opened, before the reactors start (dyn_mu initialised,
 * log_defaults = cfg.log): a single node reads its file and applies it. Error: why. */
enum weir_err broker_configs_init(struct broker *b, char *why, size_t cap);
/* topic_configs.c: the topic defaults now (cfg.log with the dynamic configs over it). Any thread. */
void broker_log_defaults(struct broker *b, struct weir_log_config *out);
/* Each reactor reconfigures the open logs it owns of topic (NULL: of every
 * topic) from the store, on its own thread. A single node, from a request
 * (a cluster posts configs_refresh_task itself: cluster_glue.c). */
void configs_refresh(struct broker *b, const char *topic);
/* The task that does it on the reactor it is posted to (NULL: no memory,
 * logged); freed when it has run, or with configs_refresh_task_free when
 * it could not be posted. */
struct task *configs_refresh_task(const char *topic);
void configs_refresh_task_free(struct task *t);
/* A cluster's /config/brokers znodes read anew (dflt, self: "k=v\n" lines)
 * into the store's defaults; true when they changed (then the caller has
 * every reactor refresh its logs). */
bool broker_configs_apply(struct broker *b, const char *dflt, const char *self);
/* AlterConfigs / IncrementalAlterConfigs on a BROKER resource: the entity's
 * new set of lines (in the request's arena). */
struct broker_alter {
    bool dflt;                   /* the cluster-wide default (""), else this broker's */
    char *lines;
};
/* 0, or Kafka's code with why: 42 for a key that is not dynamic (Kafka's
 * "Cannot update these configs dynamically"), a bad value or operation or
 * another broker's id; 40 for a key weir does not know. */
int16_t alter_broker_plan(struct request *req, const struct kalterconfigs_resource *r, struct broker_alter *a,
                          char *why, size_t cap);
/* Persists and applies a: a single node at once (its file, then the
 * defaults, then done), a cluster through ZooKeeper (done once written; the
 * watch applies it on every broker). WEIR_OK: done(ctx, err, why) runs once. */
enum weir_err broker_configs_write(struct broker *b, const struct broker_alter *a, weir_cluster_done_fn *done,
                                   void *ctx, char *why, size_t cap);
/* Whether the entity's lines now are a's (its write was applied here). */
bool broker_alter_settled(struct broker *b, const struct broker_alter *a);
/* DescribeConfigs of a BROKER resource into configs (at most max): "" lists
 * the cluster-wide dynamic configs; otherwise this broker's configs with
 * their sources (2, 3, 4, 5) and, when asked, synonyms. Returns how many. */
int32_t broker_configs_describe(struct request *req, const struct kdescribeconfigs_req *dr,
                                const struct kdescribeconfigs_resource *res, struct kdescribeconfigs_config *configs,
                                int32_t max);
/* topic_configs.c: the value of key in "k=v\n" lines (the last line naming
 * it) into out (cap bytes; out NULL: only whether it is there). */
bool config_lines_get(const char *lines, const char *key, char *out, size_t cap);
/* topic_configs.c: the broker-level synonyms of a topic key (synonyms: its ' '-separated
 * broker keys) set here, as Kafka orders them: this broker's dynamic ones
 * (2), the cluster's (3), the static config's (4); into out (at most max,
 * names and values in the request's arena). Returns how many. */
int32_t broker_synonyms(struct request *req, const char *synonyms, struct kdescribeconfigs_synonym *out, int32_t max);
/* DescribeConfigs: whether the resource asks for key (no key list: every key). */
bool configs_key_wanted(const struct kdescribeconfigs_resource *res, const char *key);
/* topic_configs.c: APPEND / SUBTRACT of a list config: items (commas) added
 * once each to, or removed from, old; in the request's arena (NULL: no memory). */
char *config_list_apply(struct request *req, const char *old, const char *items, bool add);
/* Encodes the answer: res[i] (error and message) for the request's resource i. */
void alter_respond(struct request *req, const struct kalterconfigs_req *ac, const struct ktopic_result *res, int32_t n);
/* Per reactor, before it starts: answers waiting fetches when stopping. */
void fetch_reactor_init(struct reactor *r);

/* ---- group*.c: consumer groups and committed offsets (see group_int.h) ---- */
#define GROUP_OFFSETS_TOPIC "__consumer_offsets"
enum { GROUP_OFFSETS_PARTITIONS = 8 };
int32_t group_partition(struct kstr group_id);
/* JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit/Fetch, DescribeGroups, ListGroups, DeleteGroups */
void handle_group(struct request *req);
void groups_tick(struct reactor *r);   /* timers, offsets expiry and compaction; each turn, on every reactor */
/* After CreatePartitions grew `topics` (n names, in req's arena): each offsets
 * partition's owner makes every Stable or CompletingRebalance "consumer" group
 * with a member subscribed to one of them prepare a rebalance; then
 * done(req, ctx) runs on req's reactor. */
void groups_partitions_grown(struct request *req, char **topics, int32_t n,
                             void (*done)(struct request *req, void *ctx), void *ctx);
void groups_free(struct reactor *r);
/* The committed offsets of the groups r coordinates, each as fn(ctx, group,
 * topic, partition, offset) (metrics.c's snapshot); on r's thread. */
void groups_offsets_each(struct reactor *r,
                         void (*fn)(void *ctx, const char *group, const char *topic, int32_t partition, int64_t offset),
                         void *ctx);
/* Per reactor, before it starts: groups_tick each turn, groups_free at the end. */
void groups_reactor_init(struct reactor *r);
enum weir_err groups_topic_ensure(struct broker *b);
/* The configs __consumer_offsets is made with (both modes): flush.messages=1,
 * retention.ms=-1, segment.bytes (offsets.topic.segment.bytes),
 * cleanup.policy=compact (the log cleaner compacts it). seg_text holds a value. */
enum { GROUPS_TOPIC_CONFIGS = 4 };
unsigned groups_topic_configs(const struct broker *b, char seg_text[24], const char *keys[GROUPS_TOPIC_CONFIGS],
                              const char *values[GROUPS_TOPIC_CONFIGS]);

/* ---- replication --------------------------------------------------------------------
 * In a cluster the cluster's thread learns a hosted partition's role (repl.h)
 * and posts it to the partition's owner (cluster_glue.c), which opens the log
 * and calls part_repl_role. A reactor that leads alone (leads_alone) gets no
 * roles: the queries below answer for a leader at epoch 0 with ISR {self}.
 * Everything below runs on the owner reactor. */
struct part_repl; /* repl_part.c: role, leader state, held acks=all produces */
/* Applies a role (epochs never go back: an older one is ignored). LEADER:
 * stamps the epoch into the log, the HW stops following the end, the
 * leader state starts; FOLLOWER: held produces fail with 6, the partition is
 * handed to fetcher_follow; OFFLINE and NONE: neither serves nor fetches. */
void part_repl_role(struct reactor *owner, struct part *p, const struct weir_role *role);
/* p is no longer hosted here: role NONE when it has one (no-op otherwise). */
void part_unhost(struct reactor *owner, struct part *p);
/* fetcher.c: follow `leader` at leader_epoch (truncate by OffsetsForLeaderEpoch,
 * then fetch); one connection per source broker carries all its partitions. */
void fetcher_follow(struct reactor *owner, struct part *p, int32_t leader, int32_t leader_epoch);
void fetcher_unfollow(struct reactor *owner, struct part *p); /* no-op when not followed */
/* Per reactor, before it starts: the ISR shrink tick, held produces answered
 * when stopping, state freed with its partitions. */
void repl_reactor_init(struct reactor *r);
/* May p be served here (produce, consumer and follower fetch, ListOffsets,
 * OffsetsForLeaderEpoch)? As Kafka: with current_leader_epoch != -1 and an
 * epoch known here (leader or follower; 0 on a single node),
 * FENCED_LEADER_EPOCH (74) when it is older than ours, UNKNOWN_LEADER_EPOCH
 * (75) when newer; then 0 when this broker leads it (always on a single
 * node), else NOT_LEADER_OR_FOLLOWER (6). */
int16_t part_repl_serve_check(const struct reactor *owner, const struct part *p, int32_t current_leader_epoch);
/* The epoch this broker leads p at: 0 on a single node, -1 when not leading. */
int32_t part_repl_leader_epoch(const struct reactor *owner, const struct part *p);
/* Produce before the append: 6 when not leading; acks=-1 and an ISR below
 * the topic's min.insync.replicas: 19 NOT_ENOUGH_REPLICAS (not checked for a
 * partition led alone).
 * *min_insync gets the topic's min.insync.replicas. */
int16_t part_repl_produce_check(struct reactor *owner, struct part *p, int16_t acks, int32_t *min_insync);
/* A follower's fetch at fetch_offset, read while the log ended at leo: its
 * progress moves the ISR and the HW; its log_start (Fetch v5+, else -1) may
 * answer held DeleteRecords. false: `replica` is not one of the partition's
 * followers (Kafka answers it with no records). */
bool part_repl_follower_fetched(struct reactor *owner, struct part *p, int32_t replica, int64_t fetch_offset,
                                int64_t leo, int64_t log_start);
/* An acks=all produce held on the owner after its local append until the HW
 * reaches required_offset (then 0, or 20 NOT_ENOUGH_REPLICAS_AFTER_APPEND when
 * the ISR is below min_insync then), the broker stops leading (6) or
 * timeout_ms passes (7). done runs once on the owner, maybe at once. */
struct repl_hold {
    int64_t required_offset;     /* last offset + 1 */
    int32_t min_insync;
    int32_t timeout_ms;
    void (*done)(struct reactor *owner, struct repl_hold *h, int16_t error_code);
    struct reactor_timer timer;
    struct repl_hold *next, *prev;
    struct part_repl *pr;        /* while held */
    struct repl_hold **list;     /* while held: the list it is on */
    int64_t held_ns;             /* when it was held */
    int64_t low_watermark;       /* part_repl_delete_hold: the answer's */
};
void part_repl_hold(struct reactor *owner, struct part *p, struct repl_hold *h);
/* DeleteRecords on the leader after its own log start moved (Kafka's
 * DelayedDeleteRecords): held until the low watermark (the minimum of the
 * leader's log start and each live follower's, -1 for one that has not
 * fetched since this broker leads) reaches required_offset, then done(0)
 * with h->low_watermark that minimum; 6 when the broker stops leading; 7
 * after timeout_ms (h->low_watermark: the minimum when it was held). Led
 * alone: done(0) at once with the log start. Owner thread. */
void part_repl_delete_hold(struct reactor *owner, struct part *p, struct repl_hold *h);
/* After weir_log_append refused a produce with WEIR_E_INVALID: true when the
 * cause is this new leader's follower appends still in flight (the engine
 * takes one kind at a time); the produce then gets a retriable 6. */
bool part_repl_follower_tail(struct part *p);
/* Whether a fetch with this replica_id is a follower's (replica_id >= 0, and
 * the partitions have followers: not led alone, where it reads as a consumer's). */
bool part_repl_follower_fetch(const struct reactor *r, int32_t replica_id);
void handle_offsetforleaderepoch(struct request *req);
/* Per reactor, before it starts: the fetchers living there (stopped with the reactor). */
void fetcher_reactor_init(struct reactor *r);
/* cluster_glue.c: the broker's membership. Per reactor, before it starts (cluster
 * mode only): its stop waits for role work in flight. */
void cluster_glue_reactor_init(struct reactor *r);
/* Once listening with every reactor started: weir_cluster_start with the
 * advertised address; b->cluster set. Error: one line in why. */
enum weir_err cluster_glue_start(struct broker *b, char *why, size_t cap);
void cluster_glue_shutdown(struct broker *b); /* SIGTERM: controlled shutdown, while still serving */
void cluster_glue_close(struct broker *b);    /* before the reactors stop: no more roles posted */
void cluster_glue_stop(struct broker *b);     /* after they ended: weir_cluster_stop */
/* From the cluster's thread (or any metadata completion, handle_admin.c):
 * reactor_post, unless the reactors are gone (then false, and t is not run). */
bool cluster_glue_post(struct broker *b, struct reactor *to, struct task *t);

/* ---- outconn.c: an outbound Kafka connection on one reactor ----------------------------
 * Connects to its target (again after replica-fetch backoff when it fails),
 * carries requests matched to responses by correlation id. Reactor thread only. */
struct outconn;
/* A request's end: WEIR_OK with the response frame (owned by the callee: weir_free
 * it) and body just after the response header; otherwise it failed (connection
 * lost or closed, no answer in time) and frame is NULL. */
typedef void outconn_done_fn(void *ctx, enum weir_err err, uint8_t *frame, struct weir_rd body);
/* ready(ctx) runs each time a connection comes up. *live counts outconns not
 * yet freed (the owner waits for 0 before its reactor ends). */
struct outconn *outconn_new(struct reactor *r, const char *client_id, int64_t backoff_ms, void (*ready)(void *ctx),
                            void *ctx, int *live);
/* Sets where to connect; a changed address drops the current connection. */
void outconn_target(struct outconn *oc, const char *host, int32_t port);
bool outconn_ready(const struct outconn *oc);
bool outconn_can_send(const struct outconn *oc);  /* ready, and room for one more request */
/* A request frame: write the body into the returned kbuf, then outconn_end.
 * NULL when it cannot be sent now (see outconn_can_send). */
struct kbuf *outconn_begin(struct outconn *oc, int16_t key, int16_t version);
/* Sends it; done runs exactly once (on the reactor), not before this returns
 * unless the frame could not be built (then an error is returned, nothing runs). */
enum weir_err outconn_end(struct outconn *oc, int64_t timeout_ms, outconn_done_fn *done, void *ctx);
/* Fails what is in flight (callbacks run), closes, frees once no op is in flight. */
void outconn_free(struct outconn *oc);

/* ---- metrics.c: /metrics, /health, /ready on an HTTP listener of its own -----------
 * libmicrohttpd's thread serves it; what reactors own is read by a task posted
 * to each (a snapshot), never from the HTTP thread. */
struct metrics;
/* Starts the listener (cfg.metrics; nothing when metrics_on is false); its
 * bound port in *port. Error: one line in why. */
enum weir_err metrics_start(struct broker *b, uint16_t *port, char *why, size_t cap);
/* Listening, with metadata: /ready answers 200 once every reactor has
 * opened its partitions (waits for that). */
void metrics_ready(struct broker *b);
/* Before the reactors stop: no more snapshots posted, and the posted ones ran. */
void metrics_quiesce(struct broker *b);
void metrics_stop(struct broker *b);               /* after: the listener closes */
/* conn.c, on the request path: the latency buckets' upper bounds (ns); the
 * bucket of ns (the first bound at or above it, else METRICS_LAT_BUCKETS);
 * req's response counted (latency since start_ns) and, for a nonzero code,
 * an error of its API. On the request's reactor. */
extern const int64_t metrics_latency_bound_ns[METRICS_LAT_BUCKETS];
unsigned metrics_latency_bucket(int64_t ns);
unsigned metrics_api_slot(int16_t key); /* an API key's index in the per-API counters */
void metrics_request_done(struct request *req);
void metrics_request_error(struct request *req, int16_t code);

/* ---- producer_id.c ------------------------------------------------------------ */
enum weir_err producer_ids_init(struct broker *b); /* at start: reserves the first block */
int64_t broker_producer_id_next(struct broker *b); /* -1 when the next block cannot be reserved */


#endif
