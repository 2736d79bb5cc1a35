/* client/client.h: weir's Kafka client library, the one public header of
 * libweir_client (link with `pkg-config --cflags --libs weir-client`).
 *
 * It holds the producer (first part), the consumer and the admin client.
 * Producer semantics and config names follow Apache Kafka's Java producer and
 * librdkafka:
 *
 *   struct weir_conf *conf = weir_conf_new();
 *   char err[256];
 *   weir_conf_set(conf, "bootstrap.servers", "127.0.0.1:9092", err, sizeof err);
 *   weir_conf_set(conf, "linger.ms", "5", err, sizeof err);
 *   struct weir_producer *p = weir_producer_new(conf, err, sizeof err);
 *   weir_conf_destroy(conf);                     // the producer keeps a copy
 *   struct weir_msg m = { .topic = "t", .partition = WEIR_PARTITION_ANY,
 *                         .key = "k", .key_len = 1, .value = "v", .value_len = 1,
 *                         .on_delivery = cb, .opaque = ctx };
 *   weir_producer_send(p, &m);                   // 0: cb will run exactly once
 *   weir_producer_close(p, -1);                  // flushes: every cb has run
 *   weir_producer_destroy(p);
 *
 * Threads: every producer function is thread-safe except destroy. Delivery
 * callbacks run on the producer's one background thread (the Sender), never
 * while a lock is held; a callback may call weir_producer_send, which then
 * never blocks (WEIR_CLIENT_E_QUEUE_FULL instead of waiting for memory,
 * WEIR_CLIENT_E_TIMED_OUT for a topic without metadata yet); flush and close
 * from a callback return WEIR_CLIENT_E_INVALID_ARG; destroy must not be called.
 *
 * Errors: one int space, as librdkafka's. 0 = success; values >= -1 are the
 * broker's Kafka error codes (Errors.java numbering, WEIR_KAFKA_*); values
 * <= -100 are local to the client (WEIR_CLIENT_E_*). weir_client_err_str
 * names both, every code of Kafka's list included. */
#ifndef WEIR_CLIENT_H
#define WEIR_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WEIR_API __attribute__((visibility("default")))
#else
#define WEIR_API
#endif

#define WEIR_CLIENT_VERSION "0.1.0"

/* ---- errors ----------------------------------------------------------------- */

enum weir_client_err {
    WEIR_CLIENT_OK = 0,

    /* Local errors (the client's own), -101 and below. */
    WEIR_CLIENT_E_INVALID_ARG = -101,       /* NULL topic, negative length, ... */
    WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE = -102,/* record over message.max.bytes or buffer.memory */
    WEIR_CLIENT_E_UNKNOWN_PARTITION = -103, /* explicit partition >= the topic's count */
    WEIR_CLIENT_E_QUEUE_FULL = -104,        /* buffer.memory stayed full for max.block.ms */
    WEIR_CLIENT_E_TIMED_OUT = -105,         /* flush/close timeout, or no metadata within max.block.ms */
    WEIR_CLIENT_E_MSG_TIMED_OUT = -106,     /* not acknowledged within delivery.timeout.ms */
    WEIR_CLIENT_E_CLOSED = -107,            /* the producer is closing: not sent / aborted */
    WEIR_CLIENT_E_FATAL = -108,             /* the producer is in a fatal error state (idempotence) */
    WEIR_CLIENT_E_TRANSPORT = -109,         /* connection failed or closed */
    WEIR_CLIENT_E_BAD_MSG = -110,           /* malformed response from the broker */
    WEIR_CLIENT_E_UNSUPPORTED = -111,       /* the broker lacks an API or version we need */
    WEIR_CLIENT_E_NOMEM = -112,             /* allocation failed */
    WEIR_CLIENT_E_RESOLVE = -113,           /* host name did not resolve */
    WEIR_CLIENT_E_BAD_CONFIG = -114,        /* inconsistent configuration */
    WEIR_CLIENT_E_STATE = -115,             /* not in this state: assign while subscribed, commit without group.id */
    WEIR_CLIENT_E_FIRST = WEIR_CLIENT_E_STATE,

    /* Broker errors a producer may see (Kafka's codes; any other code may
     * also be reported, by number). */
    WEIR_KAFKA_UNKNOWN_SERVER_ERROR = -1,
    WEIR_KAFKA_CORRUPT_MESSAGE = 2,
    WEIR_KAFKA_UNKNOWN_TOPIC_OR_PARTITION = 3,
    WEIR_KAFKA_LEADER_NOT_AVAILABLE = 5,
    WEIR_KAFKA_NOT_LEADER_OR_FOLLOWER = 6,
    WEIR_KAFKA_REQUEST_TIMED_OUT = 7,
    WEIR_KAFKA_MESSAGE_TOO_LARGE = 10,
    WEIR_KAFKA_NETWORK_EXCEPTION = 13,
    WEIR_KAFKA_INVALID_TOPIC_EXCEPTION = 17,
    WEIR_KAFKA_RECORD_LIST_TOO_LARGE = 18,
    WEIR_KAFKA_NOT_ENOUGH_REPLICAS = 19,
    WEIR_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    WEIR_KAFKA_INVALID_REQUIRED_ACKS = 21,
    WEIR_KAFKA_ILLEGAL_GENERATION = 22,
    WEIR_KAFKA_INCONSISTENT_GROUP_PROTOCOL = 23,
    WEIR_KAFKA_INVALID_GROUP_ID = 24,
    WEIR_KAFKA_UNKNOWN_MEMBER_ID = 25,
    WEIR_KAFKA_INVALID_SESSION_TIMEOUT = 26,
    WEIR_KAFKA_REBALANCE_IN_PROGRESS = 27,
    WEIR_KAFKA_TOPIC_AUTHORIZATION_FAILED = 29,
    WEIR_KAFKA_CLUSTER_AUTHORIZATION_FAILED = 31,
    WEIR_KAFKA_INVALID_TIMESTAMP = 32,
    WEIR_KAFKA_UNSUPPORTED_VERSION = 35,
    WEIR_KAFKA_INVALID_REQUEST = 42,
    WEIR_KAFKA_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    WEIR_KAFKA_DUPLICATE_SEQUENCE_NUMBER = 46,
    WEIR_KAFKA_INVALID_PRODUCER_EPOCH = 47,
    WEIR_KAFKA_KAFKA_STORAGE_ERROR = 56,
    WEIR_KAFKA_UNKNOWN_PRODUCER_ID = 59,
    WEIR_KAFKA_FENCED_LEADER_EPOCH = 74,
    WEIR_KAFKA_UNKNOWN_LEADER_EPOCH = 75,
    WEIR_KAFKA_UNSUPPORTED_COMPRESSION_TYPE = 76,
    WEIR_KAFKA_FENCED_INSTANCE_ID = 82,     /* another consumer joined with this group.instance.id */
    WEIR_KAFKA_INVALID_RECORD = 87,
    WEIR_KAFKA_THROTTLING_QUOTA_EXCEEDED = 89,
};

/* "NAME: text" for a local error or a Kafka code ("KAFKA_ERROR_<n>: ..." for
 * codes it does not know). Static storage; never NULL. */
WEIR_API const char *weir_client_err_str(int err);
/* The text alone, without the name ("broker storage error (...)"): what to show a
 * user. Static storage; never NULL. */
WEIR_API const char *weir_client_err_text(int err);

/* ---- configuration -------------------------------------------------------- */

/* Keys (defaults): bootstrap.servers (required: "host:port[,host:port...]",
 * IPv6 as "[addr]:port"), client.id ("weir"), acks (all; 0, 1, all or -1),
 * linger.ms (5), batch.size (16384), buffer.memory (33554432), max.block.ms
 * (60000), compression.type (none; none, gzip, snappy, lz4 or zstd),
 * compression.level (-1: the codec's default; gzip 1-9, lz4 1-17, zstd
 * -131072..22; none and snappy only -1), retries (2147483647),
 * retry.backoff.ms (100), delivery.timeout.ms (120000), request.timeout.ms
 * (30000), max.in.flight.requests.per.connection (5), enable.idempotence
 * (true), message.max.bytes (1000000), metadata.max.age.ms (300000).
 * librdkafka's names are accepted as aliases: metadata.broker.list,
 * queue.buffering.max.ms, request.required.acks, compression.codec,
 * message.send.max.retries, message.timeout.ms, max.in.flight.
 * Cross-key rules are checked by weir_producer_new, as the Java producer
 * does: enable.idempotence=true (set explicitly) needs acks=all and
 * max.in.flight <= 5; left at its default it is turned off by acks 0/1 or
 * max.in.flight > 5. delivery.timeout.ms >= linger.ms + request.timeout.ms.
 * compression.level must be in compression.type's range. */
struct weir_conf;

enum weir_conf_res {
    WEIR_CONF_OK = 0,
    WEIR_CONF_INVALID = -1, /* bad value: errbuf says why; nothing changed */
    WEIR_CONF_UNKNOWN = -2, /* unknown key: errbuf says which */
};

/* A configuration with every default. NULL when out of memory. */
WEIR_API struct weir_conf *weir_conf_new(void);
/* A deep copy. NULL when out of memory. */
WEIR_API struct weir_conf *weir_conf_dup(const struct weir_conf *conf);
WEIR_API void weir_conf_destroy(struct weir_conf *conf);
/* Sets key to value (text, as in a properties file). On error errbuf (may be
 * NULL) gets a one-line reason. */
WEIR_API enum weir_conf_res weir_conf_set(struct weir_conf *conf, const char *key, const char *value,
                                          char *errbuf, size_t errbuf_size);
/* Writes the current value of key as text into buf (NUL-terminated,
 * truncated to buf_size). WEIR_CONF_UNKNOWN for unknown keys. */
WEIR_API enum weir_conf_res weir_conf_get(const struct weir_conf *conf, const char *key, char *buf,
                                          size_t buf_size);

/* ---- the producer --------------------------------------------------------- */

struct weir_producer;

#define WEIR_PARTITION_ANY (-1) /* let the partitioner choose */

/* One record header. key need not be NUL-terminated. value NULL = null. */
struct weir_msg_header {
    const char *key;
    size_t key_len;
    const void *value;
    size_t value_len;
};

/* What a delivery callback is told. Valid only during the callback. */
struct weir_delivery {
    const char *topic;     /* NUL-terminated */
    int32_t partition;
    int64_t offset;        /* the record's offset; -1 on error or with acks=0 */
    int64_t timestamp;     /* the record's timestamp (CreateTime), or the broker's LogAppendTime */
    int err;               /* 0, a WEIR_KAFKA_* code, or a WEIR_CLIENT_E_* code */
    int32_t attempts;      /* Produce requests that carried the record (0: never sent) */
    int last_err;          /* with err WEIR_CLIENT_E_MSG_TIMED_OUT: why the last try of the record, or of
                              its partition when the record was not tried, failed (a retriable WEIR_KAFKA_*
                              code such as KAFKA_STORAGE_ERROR from a broker whose disk is full, or
                              WEIR_CLIENT_E_TRANSPORT, WEIR_CLIENT_E_TIMED_OUT); 0 when none failed. Else 0 */
};

/* One record to send. Every pointer is read during weir_producer_send only:
 * the bytes are copied into the partition's open batch before it returns. */
struct weir_msg {
    const char *topic;                     /* NUL-terminated, required */
    int32_t partition;                     /* WEIR_PARTITION_ANY or 0..n-1 */
    const void *key;                       /* NULL = null key */
    size_t key_len;
    const void *value;                     /* NULL = null value (a tombstone) */
    size_t value_len;
    const struct weir_msg_header *headers; /* may be NULL when headers_count is 0 */
    size_t headers_count;
    int64_t timestamp_ms;                  /* CreateTime; 0 = now */
    /* Called exactly once, on the Sender thread, when the record is
     * acknowledged or fails for good. May be NULL. */
    void (*on_delivery)(const struct weir_delivery *d, void *opaque);
    void *opaque;
};

/* Creates a producer from a copy of conf (the caller keeps conf) and starts
 * its Sender thread; connecting happens in the background. NULL on error,
 * with errbuf (may be NULL) telling why: a missing bootstrap.servers, a
 * cross-key rule, out of memory, or a thread that did not start. */
WEIR_API struct weir_producer *weir_producer_new(const struct weir_conf *conf, char *errbuf, size_t errbuf_size);

/* Appends the record to its partition's open batch and returns; the batch
 * leaves at batch.size, after linger.ms, or at flush. Picks the partition when
 * msg->partition is WEIR_PARTITION_ANY: murmur2 of the key as Kafka's Java
 * client does (weir_partition_for_key), or a sticky partition for a null key
 * that changes each time a new batch is needed.
 * Blocks up to max.block.ms, in total, for the topic's metadata (first use
 * of a topic) and for buffer.memory to have room. Returns 0, and then
 * on_delivery runs exactly once later; or, with on_delivery never called:
 * WEIR_CLIENT_E_INVALID_ARG, WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE,
 * WEIR_CLIENT_E_UNKNOWN_PARTITION, WEIR_CLIENT_E_QUEUE_FULL,
 * WEIR_CLIENT_E_TIMED_OUT (no metadata for the topic in time),
 * WEIR_CLIENT_E_CLOSED, WEIR_CLIENT_E_FATAL, or the topic's Kafka error
 * (e.g. WEIR_KAFKA_INVALID_TOPIC_EXCEPTION). */
WEIR_API int weir_producer_send(struct weir_producer *p, const struct weir_msg *msg);

/* Sends every open batch now and waits until no record is outstanding (every
 * delivery callback has returned), or timeout_ms passed (-1 = no limit):
 * 0 or WEIR_CLIENT_E_TIMED_OUT. Records sent by other threads meanwhile are
 * waited for too (librdkafka's flush semantics). */
WEIR_API int weir_producer_flush(struct weir_producer *p, int timeout_ms);

/* Stops accepting records (send then returns WEIR_CLIENT_E_CLOSED), flushes
 * with timeout_ms (-1 = until every record is delivered or has failed, which
 * delivery.timeout.ms bounds), then stops the Sender thread. Records still
 * outstanding after the timeout are reported with WEIR_CLIENT_E_CLOSED. Every
 * callback has run when it returns. 0 or WEIR_CLIENT_E_TIMED_OUT. Idempotent. */
WEIR_API int weir_producer_close(struct weir_producer *p, int timeout_ms);

/* weir_producer_close(p, -1) if not closed yet, then frees everything. Not
 * thread-safe: no other call on p may run or follow. NULL is a no-op. */
WEIR_API void weir_producer_destroy(struct weir_producer *p);

/* 0 when healthy; else the fatal error (the producer then fails every record
 * and send) and, in errbuf, its reason. */
WEIR_API int weir_producer_fatal_error(struct weir_producer *p, char *errbuf, size_t errbuf_size);

/* Counters since creation (a consistent snapshot). */
struct weir_producer_stats {
    uint64_t records_sent;      /* accepted by weir_producer_send */
    uint64_t records_delivered; /* reported with err 0 */
    uint64_t records_failed;    /* reported with an error */
    uint64_t batches_sent;      /* batches put in Produce requests (retries included) */
    uint64_t batches_retried;   /* batches put back in their queue for another try */
    uint64_t requests_sent;     /* Produce requests */
    uint64_t metadata_requests;
    uint64_t connects;          /* successful connection setups (ApiVersions done) */
    uint64_t disconnects;
    uint64_t pid_inits;         /* InitProducerId answers taken */
    uint64_t bytes_sent;        /* record batch bytes put in Produce requests */
};
WEIR_API void weir_producer_stats(struct weir_producer *p, struct weir_producer_stats *out);

/* ---- partitioning ------------------------------------------------------------ */

/* Kafka's murmur2 (Utils.murmur2, seed 0x9747b28c) of len bytes. */
WEIR_API uint32_t weir_murmur2(const void *key, size_t len);
/* The partition Kafka's default partitioner gives a non-null key:
 * (murmur2(key) & 0x7fffffff) % partitions; -1 when partitions < 1. */
WEIR_API int32_t weir_partition_for_key(const void *key, size_t len, int32_t partitions);

/* ======================================================================== */
/* consumer (client/consumer.c, fetcher.c, crecords.c, cconf.c)               */
/* ======================================================================== */

/* A consumer reads assigned partitions (or, subscribed with a group.id, the
 * partitions its consumer group gives it: see "consumer groups" below): the
 * application says where each partition starts, a background fetch thread keeps a Fetch
 * outstanding while the application processes what came before (prefetch,
 * bounded by queued.max.messages.kbytes), and weir_consumer_poll hands out
 * records one at a time, in offset order within a partition:
 *
 *   struct weir_consumer_conf *cc = weir_consumer_conf_new();
 *   weir_consumer_conf_set(cc, "bootstrap.servers", "127.0.0.1:9092", err, sizeof err);
 *   struct weir_consumer *c = weir_consumer_new(cc, err, sizeof err);
 *   weir_consumer_conf_destroy(cc);
 *   struct weir_partition_start s = { "t", 0, WEIR_OFFSET_BEGINNING, 0 };
 *   weir_consumer_assign(c, &s, 1);
 *   for (;;) {
 *       struct weir_consumer_record *r = weir_consumer_poll(c, 1000);
 *       if (r && r->event == WEIR_EVENT_RECORD) use(r->value, r->value_len);
 *       weir_consumer_record_release(r);
 *   }
 *   weir_consumer_destroy(c);
 *
 * Records are zero copy: key, value and headers point into the Fetch response
 * (or, for a compressed batch, into its decompressed records), which lives until the
 * last record pointing into it is released.
 * Threads: poll may be called from one thread at a time; assign, seek,
 * position and record_release from any thread. */

/* Start positions. Any value >= 0 is an absolute offset. */
#define WEIR_OFFSET_END (-1)       /* the high watermark: records produced from now on */
#define WEIR_OFFSET_BEGINNING (-2) /* the log start offset */
#define WEIR_OFFSET_TIMESTAMP (-3) /* the first record with timestamp >= timestamp_ms; the end when none */

/* Keys (defaults): bootstrap.servers (required), client.id ("weir"),
 * fetch.min.bytes (1), fetch.max.wait.ms (500), max.partition.fetch.bytes
 * (1048576), fetch.max.bytes (52428800), queued.max.messages.kbytes (65536:
 * fetched bytes waiting for poll, over all partitions, before fetching
 * pauses), request.timeout.ms (30000), retry.backoff.ms (100),
 * reconnect.backoff.ms (100), auto.offset.reset (latest; earliest, latest, or error = report
 * WEIR_KAFKA_OFFSET_OUT_OF_RANGE and pause the partition until a seek),
 * enable.partition.eof (false: when true, an EVENT_PARTITION_EOF each time a
 * partition's position reaches its high watermark), check.crcs (true).
 * librdkafka's names are accepted as aliases: metadata.broker.list,
 * fetch.wait.max.ms, fetch.message.max.bytes; auto.offset.reset also takes
 * smallest/beginning, largest/end, none. */
struct weir_consumer_conf;
WEIR_API struct weir_consumer_conf *weir_consumer_conf_new(void);
WEIR_API void weir_consumer_conf_destroy(struct weir_consumer_conf *conf);
/* As weir_conf_set: WEIR_CONF_OK, or _INVALID / _UNKNOWN with a reason in errbuf. */
WEIR_API enum weir_conf_res weir_consumer_conf_set(struct weir_consumer_conf *conf, const char *key,
                                                   const char *value, char *errbuf, size_t errbuf_size);
WEIR_API enum weir_conf_res weir_consumer_conf_get(const struct weir_consumer_conf *conf, const char *key,
                                                   char *buf, size_t buf_size);

struct weir_consumer;

#define WEIR_KAFKA_OFFSET_OUT_OF_RANGE 1 /* Kafka's code, as a consumer sees it */

/* Creates a consumer from a copy of conf and starts its fetch thread (which
 * connects in the background). NULL on error with a reason in errbuf: no
 * bootstrap.servers, out of memory, a thread that did not start. */
WEIR_API struct weir_consumer *weir_consumer_new(const struct weir_consumer_conf *conf, char *errbuf,
                                                 size_t errbuf_size);

struct weir_partition_start {
    const char *topic;    /* NUL-terminated */
    int32_t partition;
    int64_t offset;       /* >= 0, or WEIR_OFFSET_END / _BEGINNING / _TIMESTAMP */
    int64_t timestamp_ms; /* with WEIR_OFFSET_TIMESTAMP */
};

/* Replaces the assignment with parts[0, n) (n 0: none). Records of
 * partitions no longer assigned are dropped, also those already fetched.
 * A partition the broker does not know is reported by poll as an
 * EVENT_ERROR (WEIR_KAFKA_UNKNOWN_TOPIC_OR_PARTITION) and retried.
 * 0, WEIR_CLIENT_E_INVALID_ARG (NULL topic, partition < 0, bad offset, a
 * partition twice), WEIR_CLIENT_E_STATE (subscribed), WEIR_CLIENT_E_NOMEM,
 * WEIR_CLIENT_E_CLOSED. */
WEIR_API int weir_consumer_assign(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n);
/* Moves one assigned partition: records fetched before are dropped, poll
 * continues from the new position. 0, WEIR_CLIENT_E_UNKNOWN_PARTITION (not
 * assigned), WEIR_CLIENT_E_INVALID_ARG. */
WEIR_API int weir_consumer_seek(struct weir_consumer *c, const struct weir_partition_start *pos);
/* The offset of the next record poll hands out for the partition, or -1
 * while a logical start (END, BEGINNING, TIMESTAMP) is being looked up.
 * 0 or WEIR_CLIENT_E_UNKNOWN_PARTITION. */
WEIR_API int weir_consumer_position(struct weir_consumer *c, const char *topic, int32_t partition,
                                    int64_t *offset);

enum weir_event {
    WEIR_EVENT_RECORD = 0,        /* a record */
    WEIR_EVENT_PARTITION_EOF = 1, /* the position reached the high watermark (`offset`) */
    WEIR_EVENT_ERROR = 2,         /* `err` and `errstr`, about the partition (or -1: the consumer) */
};
enum weir_timestamp_type { WEIR_TIMESTAMP_CREATE_TIME = 0, WEIR_TIMESTAMP_LOG_APPEND_TIME = 1 };

/* What poll returns. Everything it points to is valid until the record is
 * released. */
struct weir_consumer_record {
    enum weir_event event;
    int err;                               /* EVENT_ERROR: a WEIR_KAFKA_* or WEIR_CLIENT_E_* code */
    const char *errstr;                    /* EVENT_ERROR: one line; else NULL */
    const char *topic;                     /* NUL-terminated */
    int32_t partition;                     /* -1: an error of the consumer as a whole */
    int64_t offset;                        /* the record's; EOF: the high watermark; ERROR: the offset concerned or -1 */
    int64_t timestamp;                     /* ms since the epoch */
    enum weir_timestamp_type timestamp_type;
    const void *key;                       /* NULL = null key */
    size_t key_len;
    const void *value;                     /* NULL = null value */
    size_t value_len;
    const struct weir_msg_header *headers; /* NULL when headers_count is 0; value NULL = null */
    size_t headers_count;
};

/* ---- consumer groups ---------------------------------------------------------
 *
 * With group.id set, weir_consumer_subscribe makes the consumer a member of a
 * Kafka consumer group (the classic protocol): a group
 * thread finds the coordinator, joins, and when it is the leader assigns the
 * partitions of every member's subscription (partition.assignment.strategy:
 * range, roundrobin, cooperative-sticky; the one most members list first
 * among those all support is chosen by the broker). Rebalancing is eager
 * (every partition is revoked before the member joins again, and the new
 * assignment is handed out whole) unless the strategy list is
 * cooperative-sticky alone: then it is cooperative (KIP-429, what Java's
 * CooperativeStickyAssignor and librdkafka's cooperative-sticky do, and
 * members of both mix in one group): the member keeps its partitions
 * through a rebalance and sends them as its owned partitions; the leader
 * keeps each where it is unless balance needs it elsewhere; a partition
 * that moves is first only revoked by its owner, which joins again at once,
 * and the next rebalance hands it over. The rebalance callback then names
 * only the partitions revoked (REVOKE) and only the ones added (ASSIGN,
 * possibly none); records of the kept ones flow on (see
 * weir_consumer_rebalance_protocol). When the member is refused
 * (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) its partitions are lost: one
 * REVOKE of all, no commit, then a join from scratch. Each assigned partition starts at the group's committed offset, or
 * by auto.offset.reset when it has none. Heartbeats go every
 * heartbeat.interval.ms; a member that misses session.timeout.ms is removed
 * by the broker; one that does not call poll for max.poll.interval.ms leaves
 * the group (an EVENT_ERROR tells) and rejoins at the next poll.
 * Topics starting with '^' are POSIX extended regular expressions matched
 * against every topic except the internal ones (names starting "__"), looked
 * up again every metadata.max.age.ms; a change of the matched set, or of a
 * subscribed topic's partition count, makes the member rejoin.
 * Committed offsets are "the next record to read". enable.auto.commit (true)
 * commits the position of every assigned partition every
 * auto.commit.interval.ms, before partitions are revoked, and at close: a
 * record polled and not yet processed when the consumer dies is skipped then.
 * For at least once, set enable.auto.commit=false and commit after
 * processing.
 * Static membership (KIP-345): with group.instance.id set (1 to 249 of
 * [a-zA-Z0-9._-], not "." or "..", as Kafka checks it; it needs JoinGroup
 * v5+, else joining fails with WEIR_CLIENT_E_UNSUPPORTED, reported once and
 * retried slowly) the member is known to the group by that id:
 * close, unsubscribe and a max.poll.interval.ms timeout give the partitions
 * up as usual but send no LeaveGroup, as Java's consumer does, so the partitions
 * stay this member's until session.timeout.ms ends, and a consumer restarted
 * with the same id within it gets them back without a rebalance. When another
 * consumer joins with the same id, the broker answers this one
 * FENCED_INSTANCE_ID: poll returns one EVENT_ERROR
 * (WEIR_KAFKA_FENCED_INSTANCE_ID, partition -1), the assignment is revoked
 * (no commit) and the consumer stays out of the group for good: no heartbeat,
 * no rejoin; commit and subscribe return WEIR_KAFKA_FENCED_INSTANCE_ID.
 * Close it.
 * Keys (defaults): group.id (none), group.instance.id (none: a dynamic
 * member), session.timeout.ms (45000),
 * heartbeat.interval.ms (3000), max.poll.interval.ms (300000; also the
 * rebalance timeout sent in JoinGroup), enable.auto.commit (true),
 * auto.commit.interval.ms (5000), partition.assignment.strategy
 * ("range,roundrobin"), metadata.max.age.ms (300000; alias
 * topic.metadata.refresh.interval.ms). */

struct weir_topic_partition {
    const char *topic;  /* NUL-terminated */
    int32_t partition;
    int64_t offset;     /* commit: the offset to commit; committed: filled, -1 when none */
    int err;            /* per-partition outcome (commit callback, committed) */
};

enum weir_rebalance { WEIR_REBALANCE_ASSIGN = 1, WEIR_REBALANCE_REVOKE = 2 };

/* Called from weir_consumer_poll (or close), in the polling thread, when
 * partitions are about to be revoked (they are still assigned, positions
 * valid: commit here for at-least-once) and after new ones were assigned
 * (offset = where each starts: committed, or a WEIR_OFFSET_* when by
 * auto.offset.reset). The rebalance waits for the callback, up to
 * max.poll.interval.ms. The callback may call commit, position, seek,
 * committed; not poll, close or destroy. */
typedef void weir_rebalance_cb(struct weir_consumer *c, enum weir_rebalance kind,
                               const struct weir_topic_partition *parts, size_t n, void *opaque);
/* Outcome of an asynchronous commit (err 0: every partition committed; else
 * the first error; parts[i].err per partition). Called on the consumer's
 * group thread (or in weir_consumer_commit itself when the commit is refused
 * at once): it must not block nor call commit synchronously. */
typedef void weir_commit_cb(struct weir_consumer *c, int err, const struct weir_topic_partition *parts, size_t n,
                            void *opaque);
WEIR_API void weir_consumer_conf_set_rebalance_cb(struct weir_consumer_conf *conf, weir_rebalance_cb *cb);
/* "COOPERATIVE" when partition.assignment.strategy is cooperative-sticky
 * alone (the rebalance callback is incremental: REVOKE and ASSIGN name the
 * partitions that leave or join the assignment, the others stay), else
 * "EAGER" (REVOKE names the whole assignment, ASSIGN the whole new one), as
 * librdkafka's rd_kafka_rebalance_protocol; "NONE" without a group.id.
 * Static string. */
WEIR_API const char *weir_consumer_rebalance_protocol(const struct weir_consumer *c);
WEIR_API void weir_consumer_conf_set_commit_cb(struct weir_consumer_conf *conf, weir_commit_cb *cb);
/* The opaque pointer passed to both callbacks. */
WEIR_API void weir_consumer_conf_set_opaque(struct weir_consumer_conf *conf, void *opaque);

/* Replaces the subscription with topics[0, n) (names, or "^regex"). Needs
 * group.id; not with an assignment made by weir_consumer_assign (unassign
 * with n 0 first). 0, WEIR_CLIENT_E_STATE, WEIR_CLIENT_E_INVALID_ARG (empty,
 * a name over 249 bytes, a regex that does not compile), WEIR_CLIENT_E_NOMEM. */
WEIR_API int weir_consumer_subscribe(struct weir_consumer *c, const char *const *topics, size_t n);
/* Leaves the group (revoking the assignment first; a static member sends no
 * LeaveGroup). Returns once the assignment is given up, as Java's
 * unsubscribe(): the REVOKE callback ran (in this thread when no poll took
 * it), the auto commit went out, so weir_consumer_assign may follow at once;
 * a join in progress is cut short. Called in the rebalance or commit callback
 * it does not wait (the revoke follows after the callback). 0 or
 * WEIR_CLIENT_E_STATE (no group.id). */
WEIR_API int weir_consumer_unsubscribe(struct weir_consumer *c);
/* The current assignment, in *parts (offset = position, -1 while being looked
 * up), freed with weir_consumer_partitions_free. */
WEIR_API int weir_consumer_assignment(struct weir_consumer *c, struct weir_topic_partition **parts, size_t *n);
WEIR_API void weir_consumer_partitions_free(struct weir_topic_partition *parts, size_t n);
/* Commits offsets[0, n) for the group (offsets NULL: the position of every
 * assigned partition). Synchronous (async 0): waits for the broker's answer
 * (bounded by request.timeout.ms) and returns 0 or the first error:
 * WEIR_KAFKA_REBALANCE_IN_PROGRESS / _ILLEGAL_GENERATION / _UNKNOWN_MEMBER_ID
 * (the group moved on: the partitions may belong to another member now),
 * a transport error, WEIR_CLIENT_E_STATE (no group.id), WEIR_CLIENT_E_CLOSED.
 * Asynchronous: queued in order behind earlier commits; the commit callback
 * reports the outcome. Without a subscription (assign) the commit goes as a
 * simple group's (generation -1), which the broker accepts while the group
 * has no members. */
WEIR_API int weir_consumer_commit(struct weir_consumer *c, const struct weir_topic_partition *offsets, size_t n,
                                  int async);
/* Fills parts[i].offset with the group's committed offset (-1 none) and
 * parts[i].err. 0, or an error of the request as a whole. */
WEIR_API int weir_consumer_committed(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n,
                                     int timeout_ms);

/* Waits up to timeout_ms (-1: no limit, 0: do not wait) for the next record
 * or event. NULL when none came in time (or the consumer is closed).
 * A batch the consumer cannot read becomes one EVENT_ERROR naming its first
 * offset, then the records after it follow: WEIR_KAFKA_UNSUPPORTED_COMPRESSION_TYPE
 * (codecs 5-7: this client decodes gzip, snappy, lz4 and zstd), WEIR_KAFKA_CORRUPT_MESSAGE
 * (CRC, compressed data that does not decode, truncated or malformed records). */
WEIR_API struct weir_consumer_record *weir_consumer_poll(struct weir_consumer *c, int timeout_ms);
/* Gives a polled record back. Any thread; NULL is a no-op. Every record must
 * be released before weir_consumer_destroy. */
WEIR_API void weir_consumer_record_release(struct weir_consumer_record *r);
/* In a group: revokes the assignment (the rebalance callback runs in this
 * thread), commits the positions when enable.auto.commit, and leaves the
 * group (LeaveGroup: the others rebalance at once, not after the session
 * timeout; a static member, with group.instance.id, sends none). Then stops
 * the fetch thread and drops what is queued; poll returns NULL after.
 * Idempotent. */
WEIR_API void weir_consumer_close(struct weir_consumer *c);
/* close, then frees everything. Not thread-safe: no other call on c may run
 * or follow. NULL is a no-op. */
WEIR_API void weir_consumer_destroy(struct weir_consumer *c);

/* ======================================================================== */
/* admin (client/admin.c)                                                     */
/* ======================================================================== */

/* Topic administration over one blocking connection to the controller. The
 * admin client uses bootstrap.servers, client.id and request.timeout.ms of a
 * weir_conf (the producer's configuration type); other keys are ignored.
 * Every call blocks the calling thread for one request/response (bounded by
 * request.timeout.ms) and reconnects when the last one failed; calls on one
 * admin client must not overlap (one thread at a time).
 * Return values: 0 when the broker answered (per-topic outcomes are in the
 * results), or a WEIR_CLIENT_E_* code with weir_admin_error() telling why.
 * Kafka codes the broker gives per topic: 17 INVALID_TOPIC_EXCEPTION,
 * 3 UNKNOWN_TOPIC_OR_PARTITION, 36 TOPIC_ALREADY_EXISTS, 37 INVALID_PARTITIONS,
 * 38 INVALID_REPLICATION_FACTOR, 39 INVALID_REPLICA_ASSIGNMENT, 40 INVALID_CONFIG. */
struct weir_admin;

/* Connects (blocking). NULL on error with a reason in errbuf. */
WEIR_API struct weir_admin *weir_admin_new(const struct weir_conf *conf, char *errbuf, size_t errbuf_size);
WEIR_API void weir_admin_destroy(struct weir_admin *a);
/* The last call's failure as one line ("" after a success). Valid until the next call. */
WEIR_API const char *weir_admin_error(const struct weir_admin *a);

struct weir_admin_config {
    const char *name;  /* a Kafka topic config name, e.g. retention.ms */
    const char *value; /* NULL = null */
};
struct weir_new_topic {
    const char *name;
    int32_t partitions;         /* -1: the broker's num.partitions */
    int16_t replication_factor; /* -1: the broker's default */
    const struct weir_admin_config *configs;
    size_t configs_count;
};
/* One topic's outcome: err 0, or a Kafka code with the broker's message
 * (or weir_client_err_str's text when it sent none). */
struct weir_admin_result {
    int err;
    char message[256];
};

/* results[i] is the outcome of topics[i]. validate_only: check, create nothing. */
WEIR_API int weir_admin_create_topics(struct weir_admin *a, const struct weir_new_topic *topics, size_t n,
                                      int validate_only, struct weir_admin_result *results);
WEIR_API int weir_admin_delete_topics(struct weir_admin *a, const char *const *names, size_t n,
                                      struct weir_admin_result *results);
/* Moves the log start offset of (topic, partition) up to `offset` (-1: the
 * high watermark), deleting the records below it (DeleteRecords, sent to the
 * partition's leader). result->err: 0, 1 OFFSET_OUT_OF_RANGE (above the high
 * watermark), 3 UNKNOWN_TOPIC_OR_PARTITION, 6 NOT_LEADER_OR_FOLLOWER, 17 (an
 * internal topic), ...; *low_watermark: the log start after it, -1 on an error. */
WEIR_API int weir_admin_delete_records(struct weir_admin *a, const char *topic, int32_t partition, int64_t offset,
                                       struct weir_admin_result *result, int64_t *low_watermark);
/* Grows topic to `total` partitions (CreatePartitions). */
WEIR_API int weir_admin_create_partitions(struct weir_admin *a, const char *topic, int32_t total,
                                          int validate_only, struct weir_admin_result *result);

struct weir_md_broker {
    int32_t id;
    const char *host;
    int32_t port;
    const char *rack; /* NULL when none */
};
struct weir_md_partition {
    int32_t id;
    int err;        /* Kafka code for this partition */
    int32_t leader; /* -1: none */
    const int32_t *replicas;
    size_t replicas_count;
    const int32_t *isr;
    size_t isr_count;
};
struct weir_md_topic {
    const char *name;
    int err;        /* 3 UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist */
    int internal;
    const struct weir_md_partition *partitions; /* ascending by id */
    size_t partitions_count;
};
struct weir_metadata {
    const char *cluster_id; /* NULL when the broker sent none */
    int32_t controller_id;
    const struct weir_md_broker *brokers;
    size_t brokers_count;
    const struct weir_md_topic *topics;
    size_t topics_count;
};
/* Metadata of topics[0, n), or of every topic when n is 0 (no topic is
 * auto-created). *out is freed with weir_metadata_destroy. */
WEIR_API int weir_admin_metadata(struct weir_admin *a, const char *const *topics, size_t n,
                                 struct weir_metadata **out);
WEIR_API void weir_metadata_destroy(struct weir_metadata *m);

/* DescribeLogDirs of the broker at host:port (one of the cluster's, as
 * Metadata lists them): each log directory with its partitions' sizes. */
struct weir_log_dir_partition {
    const char *topic;
    int32_t partition;
    int64_t size_bytes;
};
struct weir_log_dir {
    const char *path;     /* absolute */
    int err;              /* Kafka code for the directory (56 KAFKA_STORAGE_ERROR: offline) */
    int64_t total_bytes;  /* of its file system; -1 when the broker does not say (DescribeLogDirs < v4) */
    int64_t usable_bytes; /* likewise */
    const struct weir_log_dir_partition *partitions; /* in the broker's order */
    size_t partitions_count;
};
struct weir_log_dirs {
    const struct weir_log_dir *dirs;
    size_t dirs_count;
};
/* 0 (*out freed with weir_log_dirs_destroy), the response's Kafka error, or a
 * WEIR_CLIENT_E_* code. Uses the admin's coordinator connection when host:port
 * is not its bootstrap broker. */
WEIR_API int weir_admin_describe_log_dirs(struct weir_admin *a, const char *host, int port, struct weir_log_dirs **out);
WEIR_API void weir_log_dirs_destroy(struct weir_log_dirs *d);

/* ListOffsets of one partition, asked of the admin client's broker (the
 * partition's leader on a single-node cluster; another broker answers 6
 * NOT_LEADER_OR_FOLLOWER). timestamp: WEIR_OFFSET_END (the high watermark),
 * WEIR_OFFSET_BEGINNING (the log start offset), or ms since the epoch (the
 * first offset whose record timestamp is >= it; *offset -1 when none).
 * 0, the partition's Kafka error (3 for an unknown topic or partition), or a
 * WEIR_CLIENT_E_* code. */
WEIR_API int weir_admin_list_offset(struct weir_admin *a, const char *topic, int32_t partition, int64_t timestamp,
                                    int64_t *offset);

#define WEIR_RESOURCE_TOPIC 2
#define WEIR_RESOURCE_BROKER 4
/* Kafka's ConfigSource: 1 DYNAMIC_TOPIC_CONFIG (a topic override), 4
 * STATIC_BROKER_CONFIG, 5 DEFAULT_CONFIG, ... */
struct weir_config_entry {
    const char *name;
    const char *value; /* NULL: null (or sensitive) */
    int source;
    int read_only;
    int sensitive;
};
struct weir_configs {
    const struct weir_config_entry *entries;
    size_t entries_count;
};
/* Every config of one resource (WEIR_RESOURCE_TOPIC + topic name, or
 * WEIR_RESOURCE_BROKER + broker id as text). The resource's Kafka error is
 * returned as is (e.g. 3 for an unknown topic), with the broker's message in
 * weir_admin_error(). *out is freed with weir_configs_destroy. */
WEIR_API int weir_admin_describe_configs(struct weir_admin *a, int resource_type, const char *name,
                                         struct weir_configs **out);
WEIR_API void weir_configs_destroy(struct weir_configs *c);
/* One change of IncrementalAlterConfigs (Kafka's AlterConfigOp). */
enum { WEIR_CONFIG_OP_SET = 0, WEIR_CONFIG_OP_DELETE = 1, WEIR_CONFIG_OP_APPEND = 2, WEIR_CONFIG_OP_SUBTRACT = 3 };
struct weir_config_op {
    const char *name;
    int op;            /* WEIR_CONFIG_OP_* */
    const char *value; /* NULL for DELETE */
};
/* IncrementalAlterConfigs of one resource (as describe_configs): the n
 * changes applied together, or (validate_only) only checked. The
 * resource's Kafka error is returned as is (40 INVALID_CONFIG, 42
 * INVALID_REQUEST, 3 ...), with the broker's message in weir_admin_error(). */
WEIR_API int weir_admin_alter_configs(struct weir_admin *a, int resource_type, const char *name,
                                      const struct weir_config_op *ops, size_t n, int validate_only);

/* ---- consumer groups (admin) ------------------------------------------------
 *
 * Group calls go to the group's coordinator (FindCoordinator; a second
 * connection when it is not the admin client's broker), retried within
 * request.timeout.ms while the broker answers 14 COORDINATOR_LOAD_IN_PROGRESS,
 * 15 COORDINATOR_NOT_AVAILABLE or 16 NOT_COORDINATOR. Return values as above:
 * 0 when the broker answered (per-group and per-partition outcomes in the
 * results), or a WEIR_CLIENT_E_* code with weir_admin_error(). Kafka codes
 * seen here: 24 INVALID_GROUP_ID, 25 UNKNOWN_MEMBER_ID (an admin commit while
 * the group has members), 68 NON_EMPTY_GROUP, 69 GROUP_ID_NOT_FOUND. */

struct weir_group_listing {
    const char *group_id;
    const char *protocol_type; /* "consumer" for Kafka consumers; "" when none */
};
struct weir_group_list {
    const struct weir_group_listing *groups; /* sorted by group_id */
    size_t groups_count;
};
/* Every group the broker coordinates (ListGroups; weir is a single node, so
 * that is every group). The broker's error code, if any, is returned as is.
 * *out is freed with weir_group_list_destroy. */
WEIR_API int weir_admin_list_groups(struct weir_admin *a, struct weir_group_list **out);
WEIR_API void weir_group_list_destroy(struct weir_group_list *l);

struct weir_group_tp {
    const char *topic;
    int32_t partition;
};
struct weir_group_member {
    const char *member_id;
    const char *client_id;
    const char *client_host;
    /* The member's partitions, decoded from its assignment when the group's
     * protocol type is "consumer" (ConsumerProtocolAssignment, any version),
     * sorted by topic then partition. */
    const struct weir_group_tp *assignment;
    size_t assignment_count;
    int assignment_err; /* 0, or WEIR_CLIENT_E_BAD_MSG: the bytes are not a consumer assignment */
};
struct weir_group_description {
    const char *group_id;
    int err;                   /* the group's Kafka error (the rest is empty then) */
    const char *state;         /* Empty, PreparingRebalance, CompletingRebalance, Stable, Dead (no such group) */
    const char *protocol_type; /* "" when none */
    const char *protocol;      /* the chosen assignor ("range"), "" while rebalancing */
    const struct weir_group_member *members;
    size_t members_count;
};
struct weir_group_descriptions {
    const struct weir_group_description *groups; /* in the order asked */
    size_t groups_count;
};
/* DescribeGroups of groups[0, n), each asked of its coordinator; a group the
 * broker refuses (e.g. 24 INVALID_GROUP_ID for "") has that code in err.
 * Freed with weir_group_descriptions_destroy. */
WEIR_API int weir_admin_describe_groups(struct weir_admin *a, const char *const *groups, size_t n,
                                        struct weir_group_descriptions **out);
WEIR_API void weir_group_descriptions_destroy(struct weir_group_descriptions *d);

struct weir_group_offsets {
    /* offset = the committed offset (the next record to read); err per
     * partition. Sorted by topic then partition. */
    const struct weir_topic_partition *parts;
    size_t parts_count;
};
/* The committed offsets of `group` (OffsetFetch): of every partition it has
 * committed when parts is NULL (n 0), else of parts[0, n) (offsets -1 when
 * none). An unknown group has none (not an error). The group-level Kafka error
 * is returned as is. Freed with weir_group_offsets_destroy. */
WEIR_API int weir_admin_group_offsets(struct weir_admin *a, const char *group, const struct weir_group_tp *parts,
                                      size_t n, struct weir_group_offsets **out);
WEIR_API void weir_group_offsets_destroy(struct weir_group_offsets *o);

/* Commits offsets[i].offset for offsets[i].topic/partition on behalf of
 * `group` as an admin (OffsetCommit with generation -1 and no member id, as
 * kafka-consumer-groups.sh --reset-offsets does). The broker accepts it only
 * while the group has no members (else 25 UNKNOWN_MEMBER_ID per partition).
 * offsets[i].err receives each partition's outcome; 0 when the broker
 * answered. */
WEIR_API int weir_admin_commit_group_offsets(struct weir_admin *a, const char *group,
                                             struct weir_topic_partition *offsets, size_t n);

/* Deletes groups[0, n) with their committed offsets (DeleteGroups).
 * results[i]: 0, 69 GROUP_ID_NOT_FOUND, 68 NON_EMPTY_GROUP (it has members),
 * 24 INVALID_GROUP_ID. */
WEIR_API int weir_admin_delete_groups(struct weir_admin *a, const char *const *groups, size_t n,
                                      struct weir_admin_result *results);

/* Deletes the committed offsets of `group` for parts[0, n) (OffsetDelete;
 * .offset unused). Returns 0 when the broker answered for the partitions:
 * parts[i].err is then 0, 3 UNKNOWN_TOPIC_OR_PARTITION or 86
 * GROUP_SUBSCRIBED_TO_TOPIC (a member subscribes to the topic). A group-level
 * Kafka error is returned as is (69 GROUP_ID_NOT_FOUND, 68 NON_EMPTY_GROUP,
 * 24 INVALID_GROUP_ID), else a WEIR_CLIENT_E_* code. */
WEIR_API int weir_admin_delete_group_offsets(struct weir_admin *a, const char *group, struct weir_topic_partition *parts,
                                             size_t n);

#ifdef __cplusplus
}
#endif

#endif
