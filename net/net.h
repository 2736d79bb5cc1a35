/* net/net.h: the weir broker: io_uring reactors speaking the Kafka protocol
 * over a weir_store. The one header other modules include from net/.
 * It does not re-export the engine: weir_broker_config holds the engine's
 * weir_log_config and weir_disk_policy by value, so include engine/engine.h
 * before it. */
#ifndef WEIR_NET_H
#define WEIR_NET_H

#include "base/base.h"

#ifndef WEIR_ENGINE_H
#error "net/net.h needs engine/engine.h included first (weir_broker_config embeds its config structs)"
#endif

enum weir_fetch_send {
    WEIR_FETCH_SEND_SPLICE, /* segment file -> pipe -> socket, no user-space copy */
    WEIR_FETCH_SEND_COPY,   /* send from the mmap'd segment */
};

enum {
    WEIR_LISTENERS_MAX = 8,       /* listeners, advertised.listeners */
    WEIR_LISTENER_NAME_MAX = 64,  /* a listener or security protocol name, NUL included */
    WEIR_PROTOCOL_MAP_MAX = 16,   /* listener.security.protocol.map entries */
};

/* NAME://HOST:PORT. Names are upper case ([A-Z0-9_]); as a listener, an
 * empty host is 0.0.0.0 and port 0 an ephemeral port. */
struct weir_listener {
    char name[WEIR_LISTENER_NAME_MAX];
    char host[256];
    uint16_t port;
};

struct weir_broker_config {
    /* listeners: default PLAINTEXT://127.0.0.1:9092; names and ports unique */
    struct weir_listener listeners[WEIR_LISTENERS_MAX];
    unsigned listeners_n;
    /* advertised.listeners as given, each naming a listener; a listener
     * without one advertises its host (localhost for 0.0.0.0) and bound port */
    struct weir_listener advertised[WEIR_LISTENERS_MAX];
    unsigned advertised_n;
    /* listener.security.protocol.map; default Kafka's (PLAINTEXT:PLAINTEXT,
     * SSL:SSL, SASL_PLAINTEXT:SASL_PLAINTEXT, SASL_SSL:SASL_SSL). Every
     * listener's protocol must be PLAINTEXT. */
    struct { char listener[WEIR_LISTENER_NAME_MAX], protocol[WEIR_LISTENER_NAME_MAX]; } protocol_map[WEIR_PROTOCOL_MAP_MAX];
    unsigned protocol_map_n;
    char inter_broker_listener[WEIR_LISTENER_NAME_MAX]; /* inter.broker.listener.name; "" = PLAINTEXT or the only listener */
    char data_dir[4096];         /* default ./weir-data */
    char port_file[4096];        /* when set, the bound ports are written there once listening (broker.c) */
    /* weir.metrics.listen: the HTTP listener of /metrics, /health, /ready
     * (net/metrics.c); off by default (metrics_on false). */
    struct weir_listener metrics;
    bool metrics_on;
    unsigned reactors;           /* 0 = one per online CPU */
    int32_t node_id;             /* broker.id / node.id, default 0 */
    int32_t num_partitions;      /* num.partitions, default 1 */
    bool auto_create_topics;     /* auto.create.topics.enable, default true */
    int32_t socket_request_max_bytes; /* socket.request.max.bytes, default 104857600 */
    int32_t max_connections;     /* max.connections: open client connections, default INT32_MAX (no limit) */
    int32_t max_connections_per_ip; /* max.connections.per.ip: from one client address, default INT32_MAX */
    int64_t retention_check_ms;  /* log.retention.check.interval.ms, default 300000 */
    bool cleaner_enable;         /* log.cleaner.enable, default true: compacted topics are cleaned */
    int64_t cleaner_backoff_ms;  /* log.cleaner.backoff.ms, default 15000: how often logs are looked at */
    int64_t replica_lag_time_max_ms; /* replica.lag.time.max.ms: a follower not caught up this long leaves the ISR (30000) */
    /* __consumer_offsets (net/group*.c) */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes (10080) × 60000, or weir.offsets.retention.ms */
    int64_t offsets_retention_check_ms; /* offsets.retention.check.interval.ms, default 600000 */
    int64_t offsets_segment_bytes;      /* offsets.topic.segment.bytes; 0: min(104857600, log.segment.bytes) */
    int32_t group_max_size;             /* group.max.size: members per group, default 1000 */
    int64_t groups_max;                 /* weir.groups.max: groups per broker, default 100000 */
    int32_t group_offsets_max;          /* weir.group.offsets.max: committed offsets per group, default 100000 */
    enum weir_fetch_send fetch_send; /* weir.fetch.send.mode: splice|copy (default: the measured winner) */
    /* Replication (cluster mode when zk_connect is set; docs/replication.md) */
    char zk_connect[1024];              /* zookeeper.connect "h:p[,h:p...][/chroot]"; "" = a single node */
    int32_t zk_session_timeout_ms;      /* zookeeper.session.timeout.ms, default 18000 */
    int32_t zk_connection_timeout_ms;   /* zookeeper.connection.timeout.ms; 0 (default) = the session timeout */
    int32_t default_replication_factor; /* default.replication.factor, default 1 */
    int32_t offsets_topic_replication_factor; /* offsets.topic.replication.factor, default 3 */
    bool unclean_leader_election;       /* unclean.leader.election.enable, default false */
    bool controlled_shutdown;           /* controlled.shutdown.enable, default true */
    int32_t controlled_shutdown_max_retries; /* controlled.shutdown.max.retries, default 3 */
    int64_t controlled_shutdown_backoff_ms;  /* controlled.shutdown.retry.backoff.ms, default 5000 */
    bool auto_leader_rebalance;         /* auto.leader.rebalance.enable, default true */
    int64_t leader_imbalance_check_ms;  /* leader.imbalance.check.interval.seconds (300) x 1000 */
    int32_t leader_imbalance_pct;       /* leader.imbalance.per.broker.percentage, default 10 */
    int32_t replica_fetch_max_bytes;    /* replica.fetch.max.bytes: per partition, default 1048576 */
    int32_t replica_fetch_min_bytes;    /* replica.fetch.min.bytes, default 1 */
    int32_t replica_fetch_wait_max_ms;  /* replica.fetch.wait.max.ms, default 500 */
    int32_t replica_fetch_response_max_bytes; /* replica.fetch.response.max.bytes, default 10485760 */
    int32_t replica_fetch_backoff_ms;   /* replica.fetch.backoff.ms, default 1000 */
    struct weir_log_config log;  /* broker-level topic defaults (log.*, message.max.bytes) */
    struct weir_disk_policy disk; /* log.preallocate.max.bytes, log.preallocate.budget.bytes, log.disk.reserve.bytes */
    char log_keys_text[1024];    /* the topic-default keys (log.*) set, as "key=value\n" lines (later lines win):
                                    DescribeConfigs' STATIC_BROKER_CONFIG sources and synonyms */
    uint32_t keys_set;           /* config.c only: bits of the keys ranked by precedence that were set
                                    (log.retention.ms > .minutes > .hours, ...); 0 after _default */
};

void weir_broker_config_default(struct weir_broker_config *c);
/* Whether key is one of the server.properties keys weir reads. */
bool weir_broker_config_known(const char *key);
/* Sets one Kafka-style key (server.properties names; see docs/operations.md).
 * Errors: WEIR_E_BAD_CONFIG with a one-line reason in why. */
enum weir_err weir_broker_config_set(struct weir_broker_config *c, const char *key, const char *value, char *why,
                                     size_t why_cap);
/* The checks that span keys, after every key is set: each advertised
 * listener names a listener, each listener has a PLAINTEXT security
 * protocol, inter.broker.listener.name names a listener.
 * Errors: WEIR_E_BAD_CONFIG with a one-line reason in why. */
enum weir_err weir_broker_config_check(const struct weir_broker_config *c, char *why, size_t why_cap);
/* The listener the brokers dial each other on (inter.broker.listener.name or
 * its default); -1 when none (weir_broker_config_check refuses that). */
int weir_broker_config_inter_broker(const struct weir_broker_config *c);
/* Reads `key=value` lines ('#' and '!' comments, blank lines, whitespace
 * around key and value trimmed). Errors name the file and line in why. */
enum weir_err weir_broker_config_load(struct weir_broker_config *c, const char *path, char *why, size_t why_cap);

/* Runs the broker until SIGINT or SIGTERM (blocked in the caller's threads),
 * then answers in-flight requests, closes every log cleanly and returns.
 * Errors: WEIR_E_IO (cannot create or write the data directory, cannot listen,
 * the port is another broker's), store errors from weir_store_open. On error
 * why holds one line for the user naming the path or address and the reason
 * ("cannot listen on 127.0.0.1:9092: Address already in use"). */
enum weir_err weir_broker_run(const struct weir_broker_config *cfg, char *why, size_t why_cap);

#endif
