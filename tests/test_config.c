/* tests/test_config.c: the broker configuration (net/config.c): defaults,
 * every key good and bad, listener forms, precedence, and the file loader. */
#include "testutil.h"

#include "engine/engine.h"
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define O(f) offsetof(struct weir_broker_config, f)

enum field_type { F_NONE, F_I32, F_U32, F_I64, F_U64, F_BOOL, F_SEND, F_STR };

static int64_t field_int(const struct weir_broker_config *c, size_t off, enum field_type t)
{
    const char *p = (const char *)c + off;
    switch (t) {
    case F_I32: return *(const int32_t *)(const void *)p;
    case F_U32: return *(const unsigned *)(const void *)p;
    case F_I64: return *(const int64_t *)(const void *)p;
    case F_U64: return (int64_t) * (const uint64_t *)(const void *)p;
    case F_BOOL: return *(const bool *)(const void *)p;
    case F_SEND: return *(const enum weir_fetch_send *)(const void *)p;
    default: fail_msg("not an integer field");
    }
    return 0;
}

/* A rejection: WEIR_E_BAD_CONFIG, one line naming the key (and the value). */
static void assert_rejected(enum weir_err err, const char *why, const char *key, const char *value)
{
    assert_int_equal(err, WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, key));
    if (value && *value && strlen(value) < 100 && !strpbrk(value, "\r\n")) assert_non_null(strstr(why, value));
    assert_null(strchr(why, '\n'));
}

static void test_defaults(void **state)
{
    (void)state;
    struct weir_broker_config c;
    struct weir_log_config log;
    memset(&c, 0xa5, sizeof c);
    weir_broker_config_default(&c);
    weir_log_config_default(&log);
    assert_int_equal(c.listeners_n, 1);
    assert_string_equal(c.listeners[0].name, "PLAINTEXT");
    assert_string_equal(c.listeners[0].host, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 9092);
    assert_int_equal(c.advertised_n, 0); /* derived at run time */
    assert_int_equal(c.protocol_map_n, 4);
    assert_string_equal(c.protocol_map[1].listener, "SSL");
    assert_string_equal(c.protocol_map[1].protocol, "SSL");
    assert_string_equal(c.inter_broker_listener, "");
    assert_int_equal(weir_broker_config_inter_broker(&c), 0);
    assert_string_equal(c.data_dir, "./weir-data");
    assert_string_equal(c.port_file, "");
    assert_int_equal(c.reactors, 0);
    assert_int_equal(c.node_id, 0);
    assert_int_equal(c.num_partitions, 1);
    assert_true(c.auto_create_topics);
    assert_int_equal(c.socket_request_max_bytes, 104857600);
    assert_int_equal(c.max_connections, INT32_MAX);
    assert_int_equal(c.max_connections_per_ip, INT32_MAX);
    assert_int_equal(c.retention_check_ms, 300000);
    assert_int_equal(c.offsets_retention_ms, 10080LL * 60000);
    assert_int_equal(c.offsets_retention_check_ms, 600000);
    assert_true(c.log.min_cleanable_dirty_ratio == 0.5);
    assert_int_equal(c.group_max_size, 1000);
    assert_int_equal(c.groups_max, 100000);
    assert_int_equal(c.group_offsets_max, 100000);
    assert_int_equal(c.fetch_send, WEIR_FETCH_SEND_COPY);
    assert_string_equal(c.zk_connect, ""); /* a single node */
    assert_int_equal(c.zk_session_timeout_ms, 18000);
    assert_int_equal(c.zk_connection_timeout_ms, 0);
    assert_int_equal(c.default_replication_factor, 1);
    assert_int_equal(c.offsets_topic_replication_factor, 3);
    assert_false(c.unclean_leader_election);
    assert_true(c.controlled_shutdown);
    assert_int_equal(c.controlled_shutdown_max_retries, 3);
    assert_int_equal(c.controlled_shutdown_backoff_ms, 5000);
    assert_true(c.auto_leader_rebalance);
    assert_int_equal(c.leader_imbalance_check_ms, 300000);
    assert_int_equal(c.leader_imbalance_pct, 10);
    assert_int_equal(c.replica_fetch_max_bytes, 1048576);
    assert_int_equal(c.replica_fetch_min_bytes, 1);
    assert_int_equal(c.replica_fetch_wait_max_ms, 500);
    assert_int_equal(c.replica_fetch_response_max_bytes, 10485760);
    assert_int_equal(c.replica_fetch_backoff_ms, 1000);
    assert_memory_equal(&c.log, &log, sizeof log);
    assert_int_equal(c.keys_set, 0);
    char why[256];
    assert_int_equal(weir_log_config_check(&c.log, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_check(&c, why, sizeof why), WEIR_OK);
}

static const struct key_case {
    const char *key, *value;
    bool ok;
    size_t off;
    enum field_type type;
    int64_t want;
    const char *want_str;
} key_cases[] = {
    { "listeners", "PLAINTEXT://10.0.0.1:9094", true, O(listeners[0].host), F_STR, 0, "10.0.0.1" },
    { "listeners", "10.0.0.1:9094", false, 0, F_NONE, 0, NULL },
    { "advertised.listeners", "PLAINTEXT://kafka.example:9094", true, O(advertised[0].host), F_STR, 0, "kafka.example" },
    { "advertised.listeners", "PLAINTEXT://:9094", false, 0, F_NONE, 0, NULL },
    { "log.dirs", "/var/lib/weir", true, O(data_dir), F_STR, 0, "/var/lib/weir" },
    { "log.dirs", " /a , ", true, O(data_dir), F_STR, 0, "/a" },
    { "log.dirs", "/a,/b", false, 0, F_NONE, 0, NULL },
    { "log.dirs", "", false, 0, F_NONE, 0, NULL },
    { "log.dirs", " , ", false, 0, F_NONE, 0, NULL },
    { "log.dir", "/d", true, O(data_dir), F_STR, 0, "/d" },
    { "log.dir", "/d,/e", false, 0, F_NONE, 0, NULL },
    { "broker.id", "7", true, O(node_id), F_I32, 7, NULL },
    { "broker.id", "2147483647", true, O(node_id), F_I32, INT32_MAX, NULL },
    { "broker.id", "-1", false, 0, F_NONE, 0, NULL },
    { "broker.id", "2147483648", false, 0, F_NONE, 0, NULL },
    { "broker.id", "x", false, 0, F_NONE, 0, NULL },
    { "broker.id", "", false, 0, F_NONE, 0, NULL },
    { "node.id", "0", true, O(node_id), F_I32, 0, NULL },
    { "node.id", "1.5", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "1", true, O(num_partitions), F_I32, 1, NULL },
    { "num.partitions", "100000", true, O(num_partitions), F_I32, 100000, NULL },
    { "num.partitions", "007", true, O(num_partitions), F_I32, 7, NULL },
    { "num.partitions", "0", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "100001", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "-5", false, 0, F_NONE, 0, NULL },
    { "num.partitions", " 5", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "5 ", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "+5", false, 0, F_NONE, 0, NULL },
    { "num.partitions", "5\n", false, 0, F_NONE, 0, NULL },
    { "auto.create.topics.enable", "false", true, O(auto_create_topics), F_BOOL, 0, NULL },
    { "auto.create.topics.enable", "TRUE", true, O(auto_create_topics), F_BOOL, 1, NULL },
    { "auto.create.topics.enable", "yes", false, 0, F_NONE, 0, NULL },
    { "auto.create.topics.enable", "1", false, 0, F_NONE, 0, NULL },
    { "auto.create.topics.enable", "", false, 0, F_NONE, 0, NULL },
    { "socket.request.max.bytes", "1024", true, O(socket_request_max_bytes), F_I32, 1024, NULL },
    { "socket.request.max.bytes", "2147483647", true, O(socket_request_max_bytes), F_I32, INT32_MAX, NULL },
    { "socket.request.max.bytes", "1023", false, 0, F_NONE, 0, NULL },
    { "socket.request.max.bytes", "2147483648", false, 0, F_NONE, 0, NULL },
    { "max.connections", "1", true, O(max_connections), F_I32, 1, NULL },
    { "max.connections", "2147483647", true, O(max_connections), F_I32, INT32_MAX, NULL },
    { "max.connections", "0", false, 0, F_NONE, 0, NULL },
    { "max.connections", "-1", false, 0, F_NONE, 0, NULL },
    { "max.connections", "2147483648", false, 0, F_NONE, 0, NULL },
    { "max.connections.per.ip", "3", true, O(max_connections_per_ip), F_I32, 3, NULL },
    { "max.connections.per.ip", "0", false, 0, F_NONE, 0, NULL },
    { "max.connections.per.ip", "many", false, 0, F_NONE, 0, NULL },
    { "log.retention.check.interval.ms", "1", true, O(retention_check_ms), F_I64, 1, NULL },
    { "log.retention.check.interval.ms", "9223372036854775807", true, O(retention_check_ms), F_I64, INT64_MAX, NULL },
    { "log.retention.check.interval.ms", "0", false, 0, F_NONE, 0, NULL },
    { "log.retention.check.interval.ms", "9223372036854775808", false, 0, F_NONE, 0, NULL },
    { "log.retention.check.interval.ms", "99999999999999999999999", false, 0, F_NONE, 0, NULL },
    { "weir.reactors", "0", true, O(reactors), F_U32, 0, NULL },
    { "weir.reactors", "64", true, O(reactors), F_U32, 64, NULL },
    { "weir.reactors", "65", false, 0, F_NONE, 0, NULL },
    { "weir.reactors", "-1", false, 0, F_NONE, 0, NULL },
    { "weir.reactors", "257", false, 0, F_NONE, 0, NULL },
    { "weir.reactors", "4x", false, 0, F_NONE, 0, NULL },
    { "weir.fetch.send.mode", "splice", true, O(fetch_send), F_SEND, WEIR_FETCH_SEND_SPLICE, NULL },
    { "weir.fetch.send.mode", "copy", true, O(fetch_send), F_SEND, WEIR_FETCH_SEND_COPY, NULL },
    { "weir.fetch.send.mode", "sendfile", false, 0, F_NONE, 0, NULL },
    { "weir.fetch.send.mode", "SPLICE", false, 0, F_NONE, 0, NULL },
    { "weir.port.file", "/run/weir.port", true, O(port_file), F_STR, 0, "/run/weir.port" },
    { "weir.port.file", "", true, O(port_file), F_STR, 0, "" },
    { "log.segment.bytes", "14", true, O(log.segment_bytes), F_U64, 14, NULL },
    { "log.segment.bytes", "2147483647", true, O(log.segment_bytes), F_U64, INT32_MAX, NULL },
    { "log.segment.bytes", "13", false, 0, F_NONE, 0, NULL },
    { "log.segment.bytes", "1e9", false, 0, F_NONE, 0, NULL },
    { "log.segment.bytes", "0x10", false, 0, F_NONE, 0, NULL },
    { "log.roll.ms", "1", true, O(log.segment_ms), F_I64, 1, NULL },
    { "log.roll.ms", "0", false, 0, F_NONE, 0, NULL },
    { "log.roll.hours", "1", true, O(log.segment_ms), F_I64, 3600000, NULL },
    { "log.roll.hours", "2562047788015", true, O(log.segment_ms), F_I64, 2562047788015LL * 3600000, NULL },
    { "log.roll.hours", "2562047788016", false, 0, F_NONE, 0, NULL },
    { "log.roll.hours", "0", false, 0, F_NONE, 0, NULL },
    { "log.roll.hours", "-1", false, 0, F_NONE, 0, NULL },
    { "log.index.size.max.bytes", "4096", true, O(log.segment_index_bytes), F_U64, 4096, NULL },
    { "log.index.size.max.bytes", "7", false, 0, F_NONE, 0, NULL },
    { "log.index.interval.bytes", "0", true, O(log.index_interval_bytes), F_U32, 0, NULL },
    { "log.index.interval.bytes", "-1", false, 0, F_NONE, 0, NULL },
    { "log.retention.bytes", "-1", true, O(log.retention_bytes), F_I64, -1, NULL },
    { "log.retention.bytes", "1073741824", true, O(log.retention_bytes), F_I64, 1073741824, NULL },
    { "log.retention.bytes", "-2", true, O(log.retention_bytes), F_I64, -2, NULL }, /* Kafka: any long, negative = unlimited */
    { "log.retention.ms", "-1", true, O(log.retention_ms), F_I64, -1, NULL },
    { "log.retention.ms", "0", true, O(log.retention_ms), F_I64, 0, NULL },
    { "log.retention.ms", "-2", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "-", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "--5", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "abc", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "-9223372036854775808", false, 0, F_NONE, 0, NULL },
    { "log.retention.ms", "-9223372036854775809", false, 0, F_NONE, 0, NULL },
    { "log.retention.minutes", "1", true, O(log.retention_ms), F_I64, 60000, NULL },
    { "log.retention.minutes", "-1", true, O(log.retention_ms), F_I64, -1, NULL },
    { "log.retention.minutes", "153722867280912", true, O(log.retention_ms), F_I64, 153722867280912LL * 60000, NULL },
    { "log.retention.minutes", "153722867280913", false, 0, F_NONE, 0, NULL },
    { "log.retention.minutes", "-2", false, 0, F_NONE, 0, NULL },
    { "log.retention.hours", "168", true, O(log.retention_ms), F_I64, 604800000, NULL },
    { "log.retention.hours", "-1", true, O(log.retention_ms), F_I64, -1, NULL },
    { "log.retention.hours", "2562047788015", true, O(log.retention_ms), F_I64, 2562047788015LL * 3600000, NULL },
    { "log.retention.hours", "2562047788016", false, 0, F_NONE, 0, NULL },
    { "log.retention.hours", "1h", false, 0, F_NONE, 0, NULL },
    { "message.max.bytes", "61", true, O(log.max_message_bytes), F_U32, 61, NULL },
    { "message.max.bytes", "60", false, 0, F_NONE, 0, NULL },
    { "log.flush.interval.messages", "1", true, O(log.flush_messages), F_I64, 1, NULL },
    { "log.flush.interval.messages", "0", false, 0, F_NONE, 0, NULL },
    { "log.flush.interval.ms", "0", true, O(log.flush_ms), F_I64, 0, NULL },
    { "log.flush.interval.ms", "-1", false, 0, F_NONE, 0, NULL },
    { "min.insync.replicas", "2", true, O(log.min_insync_replicas), F_U32, 2, NULL },
    { "min.insync.replicas", "0", false, 0, F_NONE, 0, NULL },
    { "min.insync.replicas", "-1", false, 0, F_NONE, 0, NULL },
    { "replica.lag.time.max.ms", "10000", true, O(replica_lag_time_max_ms), F_I64, 10000, NULL },
    { "replica.lag.time.max.ms", "0", false, 0, F_NONE, 0, NULL },
    { "offsets.retention.minutes", "1", true, O(offsets_retention_ms), F_I64, 60000, NULL },
    { "offsets.retention.minutes", "153722867280912", true, O(offsets_retention_ms), F_I64,
      153722867280912LL * 60000, NULL },
    { "offsets.retention.minutes", "153722867280913", false, 0, F_NONE, 0, NULL },
    { "offsets.retention.minutes", "0", false, 0, F_NONE, 0, NULL },
    { "offsets.retention.minutes", "-1", false, 0, F_NONE, 0, NULL },
    { "weir.offsets.retention.ms", "1500", true, O(offsets_retention_ms), F_I64, 1500, NULL },
    { "weir.offsets.retention.ms", "0", false, 0, F_NONE, 0, NULL },
    { "offsets.retention.check.interval.ms", "250", true, O(offsets_retention_check_ms), F_I64, 250, NULL },
    { "offsets.retention.check.interval.ms", "0", false, 0, F_NONE, 0, NULL },
    { "weir.offsets.compaction.min.bytes", "0", true, 0, F_NONE, 0, NULL }, /* retired: accepted, ignored */
    { "group.max.size", "1", true, O(group_max_size), F_I32, 1, NULL },
    { "group.max.size", "2147483647", true, O(group_max_size), F_I32, 2147483647, NULL },
    { "group.max.size", "0", false, 0, F_NONE, 0, NULL },
    { "group.max.size", "2147483648", false, 0, F_NONE, 0, NULL },
    { "group.max.size", "10k", false, 0, F_NONE, 0, NULL },
    { "weir.groups.max", "1", true, O(groups_max), F_I64, 1, NULL },
    { "weir.groups.max", "0", false, 0, F_NONE, 0, NULL },
    { "weir.groups.max", "-1", false, 0, F_NONE, 0, NULL },
    { "weir.group.offsets.max", "4", true, O(group_offsets_max), F_I32, 4, NULL },
    { "weir.group.offsets.max", "0", false, 0, F_NONE, 0, NULL },
    { "weir.group.offsets.max", "", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", "", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", ".", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", "1.5", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", "-0.5", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", "0.5.1", false, 0, F_NONE, 0, NULL },
    { "log.cleaner.min.cleanable.ratio", "1e-1", false, 0, F_NONE, 0, NULL },
    /* replication */
    { "zookeeper.connect", "localhost:2181", true, O(zk_connect), F_STR, 0, "localhost:2181" },
    { "zookeeper.connect", "zk1:2181,zk2:2182,[::1]:2183/weir/a", true, O(zk_connect), F_STR, 0,
      "zk1:2181,zk2:2182,[::1]:2183/weir/a" },
    { "zookeeper.connect", "", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:0", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:65536", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:2181,", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:2181,,zk2:2181", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", ":2181", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "/weir", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:2181/", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:2181/a//b", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk1:2181/a/", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect", "zk 1:2181", false, 0, F_NONE, 0, NULL },
    { "zookeeper.session.timeout.ms", "6000", true, O(zk_session_timeout_ms), F_I32, 6000, NULL },
    { "zookeeper.session.timeout.ms", "0", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connection.timeout.ms", "30000", true, O(zk_connection_timeout_ms), F_I32, 30000, NULL },
    { "zookeeper.connection.timeout.ms", "-1", false, 0, F_NONE, 0, NULL },
    { "default.replication.factor", "3", true, O(default_replication_factor), F_I32, 3, NULL },
    { "default.replication.factor", "64", true, O(default_replication_factor), F_I32, 64, NULL },
    { "default.replication.factor", "0", false, 0, F_NONE, 0, NULL },
    { "default.replication.factor", "65", false, 0, F_NONE, 0, NULL },
    { "offsets.topic.replication.factor", "1", true, O(offsets_topic_replication_factor), F_I32, 1, NULL },
    { "offsets.topic.replication.factor", "0", false, 0, F_NONE, 0, NULL },
    { "unclean.leader.election.enable", "true", true, O(unclean_leader_election), F_BOOL, 1, NULL },
    { "unclean.leader.election.enable", "on", false, 0, F_NONE, 0, NULL },
    { "controlled.shutdown.enable", "false", true, O(controlled_shutdown), F_BOOL, 0, NULL },
    { "controlled.shutdown.max.retries", "5", true, O(controlled_shutdown_max_retries), F_I32, 5, NULL },
    { "controlled.shutdown.max.retries", "0", false, 0, F_NONE, 0, NULL },
    { "controlled.shutdown.retry.backoff.ms", "100", true, O(controlled_shutdown_backoff_ms), F_I64, 100, NULL },
    { "controlled.shutdown.retry.backoff.ms", "2147483648", false, 0, F_NONE, 0, NULL },
    { "auto.leader.rebalance.enable", "false", true, O(auto_leader_rebalance), F_BOOL, 0, NULL },
    { "leader.imbalance.check.interval.seconds", "5", true, O(leader_imbalance_check_ms), F_I64, 5000, NULL },
    { "leader.imbalance.check.interval.seconds", "0", false, 0, F_NONE, 0, NULL },
    { "leader.imbalance.per.broker.percentage", "0", true, O(leader_imbalance_pct), F_I32, 0, NULL },
    { "leader.imbalance.per.broker.percentage", "101", false, 0, F_NONE, 0, NULL },
    { "replica.fetch.max.bytes", "65536", true, O(replica_fetch_max_bytes), F_I32, 65536, NULL },
    { "replica.fetch.max.bytes", "0", false, 0, F_NONE, 0, NULL },
    { "replica.fetch.min.bytes", "100", true, O(replica_fetch_min_bytes), F_I32, 100, NULL },
    { "replica.fetch.min.bytes", "0", false, 0, F_NONE, 0, NULL },
    { "replica.fetch.wait.max.ms", "0", true, O(replica_fetch_wait_max_ms), F_I32, 0, NULL },
    { "replica.fetch.wait.max.ms", "-1", false, 0, F_NONE, 0, NULL },
    { "replica.fetch.response.max.bytes", "1048576", true, O(replica_fetch_response_max_bytes), F_I32, 1048576, NULL },
    { "replica.fetch.response.max.bytes", "2147483648", false, 0, F_NONE, 0, NULL },
    { "replica.fetch.backoff.ms", "50", true, O(replica_fetch_backoff_ms), F_I32, 50, NULL },
    { "replica.fetch.backoff.ms", "-5", false, 0, F_NONE, 0, NULL },
    /* unknown keys, including topic-level names and wrong case */
    { "retention.ms", "1", false, 0, F_NONE, 0, NULL },
    { "zookeeper.connect.string", "localhost:2181", false, 0, F_NONE, 0, NULL },
    { "LISTENERS", "PLAINTEXT://:9092", false, 0, F_NONE, 0, NULL },
    { "", "1", false, 0, F_NONE, 0, NULL },
};

static void test_keys(void **state)
{
    (void)state;
    struct weir_broker_config def, c;
    weir_broker_config_default(&def);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(key_cases); i++) {
        const struct key_case *k = &key_cases[i];
        char why[512] = "";
        print_message("%s=%s\n", k->key, k->value);
        weir_broker_config_default(&c);
        enum weir_err err = weir_broker_config_set(&c, k->key, k->value, why, sizeof why);
        if (!k->ok) {
            bool unknown = strncmp(why, "unknown config key", 18) == 0; /* names the key only */
            assert_rejected(err, why, k->key, unknown ? NULL : k->value);
            assert_memory_equal(&c, &def, sizeof c); /* nothing changed */
            continue;
        }
        assert_int_equal(err, WEIR_OK);
        if (k->type == F_NONE) assert_memory_equal(&c, &def, sizeof c); /* accepted, nothing changed */
        else if (k->type == F_STR) assert_string_equal((const char *)&c + k->off, k->want_str);
        else assert_true(field_int(&c, k->off, k->type) == k->want);
    }
    char why[256];
    assert_int_equal(weir_broker_config_set(&c, "bogus.key", "1", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_string_equal(why, "unknown config key 'bogus.key'");
}

static const struct listener_case {
    const char *key, *value;
    bool ok;
    const char *host;
    uint16_t port;
} listener_cases[] = {
    { "listeners", "PLAINTEXT://127.0.0.1:9092", true, "127.0.0.1", 9092 },
    { "listeners", "PLAINTEXT://:9092", true, "0.0.0.0", 9092 },
    { "listeners", "PLAINTEXT://0.0.0.0:0", true, "0.0.0.0", 0 }, /* ephemeral: see weir.port.file */
    { "listeners", "plaintext://host.example:1", true, "host.example", 1 },
    { "listeners", "PLAINTEXT://my_host-1.local:65535", true, "my_host-1.local", 65535 },
    { "listeners", "PLAINTEXT://[::1]:9093", true, "::1", 9093 },
    { "listeners", "PLAINTEXT://[::]:9093", true, "::", 9093 },
    { "listeners", "PLAINTEXT://h:00080", true, "h", 80 },
    { "listeners", "PLAINTEXT://h:65536", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:99999", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:000080", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:abc", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:-1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:+80", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h:", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h", false, NULL, 0 },
    { "listeners", " PLAINTEXT://h:1 ", true, "h", 1 }, /* entries trimmed, as Kafka's parseCsvList */
    { "listeners", "PLAINTEXT://h:1/x", false, NULL, 0 },
    { "listeners", "localhost:9092", false, NULL, 0 },     /* no scheme */
    { "listeners", "//localhost:9092", false, NULL, 0 },
    { "listeners", "PLAIN-TEXT://h:1", false, NULL, 0 },
    { "listeners", "://h:1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2", false, NULL, 0 },
    { "listeners", "PLAINTEXT://a:1,", false, NULL, 0 },
    { "listeners", "", false, NULL, 0 },
    { "listeners", "PLAINTEXT://::1:9092", false, NULL, 0 },  /* IPv6 without brackets */
    { "listeners", "PLAINTEXT://[::1]9092", false, NULL, 0 },
    { "listeners", "PLAINTEXT://[::1]", false, NULL, 0 },
    { "listeners", "PLAINTEXT://[zz::1]:1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://[]:1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://[::1:1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h h:1", false, NULL, 0 },
    { "listeners", "PLAINTEXT://h/x:1", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://broker1:9092", true, "broker1", 9092 },
    { "advertised.listeners", "PLAINTEXT://[2001:db8::1]:19092", true, "2001:db8::1", 19092 },
    { "advertised.listeners", "PLAINTEXT://h:0", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://h:65536", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://h:abc", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://:9092", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://0.0.0.0:9092", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://[::]:9092", false, NULL, 0 },
    { "advertised.listeners", "broker1:9092", false, NULL, 0 },
    { "advertised.listeners", "PLAINTEXT://a:1,PLAINTEXT://b:2", false, NULL, 0 },
};

static void test_listeners(void **state)
{
    (void)state;
    struct weir_broker_config def, c;
    weir_broker_config_default(&def);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(listener_cases); i++) {
        const struct listener_case *l = &listener_cases[i];
        char why[512] = "";
        bool advertised = strcmp(l->key, "advertised.listeners") == 0;
        print_message("%s=%s\n", l->key, l->value);
        weir_broker_config_default(&c);
        enum weir_err err = weir_broker_config_set(&c, l->key, l->value, why, sizeof why);
        if (!l->ok) {
            assert_rejected(err, why, l->key, l->value);
            assert_memory_equal(&c, &def, sizeof c);
            continue;
        }
        assert_int_equal(err, WEIR_OK);
        const struct weir_listener *got = advertised ? &c.advertised[0] : &c.listeners[0];
        assert_int_equal(advertised ? c.advertised_n : c.listeners_n, 1);
        assert_string_equal(got->name, "PLAINTEXT");
        assert_string_equal(got->host, l->host);
        assert_int_equal(got->port, l->port);
        /* the other key is untouched */
        if (advertised) assert_memory_equal(c.listeners, def.listeners, sizeof c.listeners);
        else assert_int_equal(c.advertised_n, 0);
    }
}

static enum weir_err set1(struct weir_broker_config *c, const char *key, const char *value, char *why, size_t cap)
{
    why[0] = '\0';
    enum weir_err err = weir_broker_config_set(c, key, value, why, cap);
    print_message("%s=%s: %s\n", key, value, err == WEIR_OK ? "ok" : why);
    return err;
}

/* Named listeners, as Kafka's: several, each name and port unique; the
 * protocol map, the inter-broker listener and advertised listeners checked
 * against them once every key is set. */
static void test_listeners_named(void **state)
{
    (void)state;
    struct weir_broker_config c;
    char why[512];
    weir_broker_config_default(&c);
    assert_int_equal(set1(&c, "listeners", "PLAINTEXT://127.0.0.1:9092, replication://:0", why, sizeof why),
                     WEIR_OK);
    assert_int_equal(c.listeners_n, 2);
    assert_string_equal(c.listeners[1].name, "REPLICATION"); /* upper case, as Kafka's */
    assert_string_equal(c.listeners[1].host, "0.0.0.0");
    assert_int_equal(c.listeners[1].port, 0);
    /* Kafka's default map has no REPLICATION */
    assert_int_equal(weir_broker_config_check(&c, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "listener.security.protocol.map"));
    assert_non_null(strstr(why, "REPLICATION"));
    assert_null(strchr(why, '\n'));
    assert_int_equal(set1(&c, "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT", why,
                          sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_check(&c, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_inter_broker(&c), 0); /* PLAINTEXT by default */
    assert_int_equal(set1(&c, "inter.broker.listener.name", "replication", why, sizeof why), WEIR_OK);
    assert_string_equal(c.inter_broker_listener, "REPLICATION");
    assert_int_equal(weir_broker_config_inter_broker(&c), 1);
    assert_int_equal(set1(&c, "advertised.listeners", "REPLICATION://proxy.example:19093", why, sizeof why), WEIR_OK);
    assert_int_equal(c.advertised_n, 1);
    assert_int_equal(weir_broker_config_check(&c, why, sizeof why), WEIR_OK);

    struct weir_broker_config d = c;
    assert_int_equal(set1(&d, "inter.broker.listener.name", "OTHER", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_check(&d, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "inter.broker.listener.name"));
    assert_non_null(strstr(why, "OTHER"));
    d = c;
    assert_int_equal(set1(&d, "advertised.listeners", "PLAINTEXT://a:1,EXTERNAL://b:2", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_check(&d, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "advertised.listeners"));
    assert_non_null(strstr(why, "EXTERNAL"));
    /* no PLAINTEXT listener, several, no inter.broker.listener.name */
    d = c;
    d.inter_broker_listener[0] = '\0';
    d.advertised_n = 0;
    assert_int_equal(set1(&d, "listeners", "INTERNAL://h:1,EXTERNAL://h:2", why, sizeof why), WEIR_OK);
    assert_int_equal(set1(&d, "listener.security.protocol.map", "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT", why,
                          sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_check(&d, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "inter.broker.listener.name"));
    assert_int_equal(set1(&d, "listeners", "INTERNAL://h:1", why, sizeof why), WEIR_OK); /* one: that one */
    assert_int_equal(weir_broker_config_check(&d, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_inter_broker(&d), 0);

    /* only PLAINTEXT: another protocol is refused by name */
    weir_broker_config_default(&d);
    struct weir_broker_config before = d;
    assert_int_equal(set1(&d, "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,REPLICATION:SSL", why,
                          sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "SSL"));
    assert_non_null(strstr(why, "REPLICATION"));
    assert_memory_equal(&d, &before, sizeof d);
    assert_int_equal(set1(&d, "listeners", "SSL://h:9093", why, sizeof why), WEIR_OK); /* SSL:SSL by default */
    assert_int_equal(weir_broker_config_check(&d, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "security protocol SSL"));
    assert_null(strchr(why, '\n'));

    static const struct { const char *key, *value, *want; } bad[] = {
        { "listeners", "A://h:1,B://h:1", "has port 1 twice" },
        { "listeners", "A://h:1,a://h:2", "names listener A twice" },
        { "listeners", "A://h:1,B://h", "entry 'B://h'" },
        { "listeners", "A://h:1,,B://h:2", "is empty" },
        { "listeners", "A://h:1,", "ends with a comma" },
        { "listeners", "A://h:1,B://h:2,C://h:3,D://h:4,E://h:5,F://h:6,G://h:7,H://h:8,I://h:9", "more than 8" },
        { "advertised.listeners", "A://h:1,A://h:2", "names listener A twice" },
        { "advertised.listeners", "A://h:1,B://h:0", "port 0" },
        { "listener.security.protocol.map", "A", "LISTENER:PROTOCOL" },
        { "listener.security.protocol.map", "A:PLAINTEXT,a:PLAINTEXT", "maps listener A twice" },
        { "listener.security.protocol.map", "A:SASL_SSL", "SASL_SSL" },
        { "inter.broker.listener.name", "", "empty listener name" },
        { "inter.broker.listener.name", "a-b", "[A-Za-z0-9_]" },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++) {
        weir_broker_config_default(&d);
        before = d;
        assert_int_equal(set1(&d, bad[i].key, bad[i].value, why, sizeof why), WEIR_E_BAD_CONFIG);
        assert_rejected(WEIR_E_BAD_CONFIG, why, bad[i].key, NULL);
        assert_non_null(strstr(why, bad[i].want));
        assert_memory_equal(&d, &before, sizeof d);
    }
    /* several ephemeral ports are fine */
    weir_broker_config_default(&d);
    assert_int_equal(set1(&d, "listeners", "A://h:0,B://h:0", why, sizeof why), WEIR_OK);
    assert_int_equal(d.listeners_n, 2);
}

/* Hosts up to 255 bytes, paths up to 4095. */
static void test_lengths(void **state)
{
    (void)state;
    struct weir_broker_config c;
    char *big = malloc(10000), value[600], why[512];
    assert_non_null(big);
    weir_broker_config_default(&c);
    memset(big, 'h', 255), big[255] = '\0';
    snprintf(value, sizeof value, "PLAINTEXT://%s:1", big);
    assert_int_equal(weir_broker_config_set(&c, "listeners", value, why, sizeof why), WEIR_OK);
    assert_int_equal(strlen(c.listeners[0].host), 255);
    memset(big, 'h', 256), big[256] = '\0';
    snprintf(value, sizeof value, "PLAINTEXT://%s:1", big);
    assert_int_equal(weir_broker_config_set(&c, "listeners", value, why, sizeof why), WEIR_E_BAD_CONFIG);
    memset(big, '/', 4095), big[4095] = '\0';
    assert_int_equal(weir_broker_config_set(&c, "weir.port.file", big, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "log.dirs", big, why, sizeof why), WEIR_OK);
    assert_int_equal(strlen(c.data_dir), 4095);
    memset(big, '/', 4096), big[4096] = '\0';
    assert_int_equal(weir_broker_config_set(&c, "weir.port.file", big, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_broker_config_set(&c, "log.dir", big, why, sizeof why), WEIR_E_BAD_CONFIG);
    memcpy(big, "zk:2181/", 8), memset(big + 8, 'c', 1015), big[1023] = '\0'; /* zookeeper.connect: 1023 bytes */
    assert_int_equal(weir_broker_config_set(&c, "zookeeper.connect", big, why, sizeof why), WEIR_OK);
    assert_int_equal(strlen(c.zk_connect), 1023);
    big[1023] = 'c', big[1024] = '\0';
    assert_int_equal(weir_broker_config_set(&c, "zookeeper.connect", big, why, sizeof why), WEIR_E_BAD_CONFIG);
    /* messages stay short and on one line whatever the input */
    memset(big, '9', 9999), big[9999] = '\0';
    big[5] = '\n';
    assert_int_equal(weir_broker_config_set(&c, "num.partitions", big, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_null(strchr(why, '\n'));
    assert_true(strlen(why) < 300);
    assert_non_null(strstr(why, "..."));
    /* a small why buffer is cut, never overrun; a NULL one is allowed */
    char tiny[8];
    assert_int_equal(weir_broker_config_set(&c, "num.partitions", "0", tiny, sizeof tiny), WEIR_E_BAD_CONFIG);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(weir_broker_config_set(&c, "num.partitions", "0", NULL, 0), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_broker_config_set(&c, "listeners", "x", NULL, 0), WEIR_E_BAD_CONFIG);
    free(big);
}

static int64_t retention_after(const char *const (*kv)[2], size_t n)
{
    struct weir_broker_config c;
    char why[256];
    weir_broker_config_default(&c);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(weir_broker_config_set(&c, kv[i][0], kv[i][1], why, sizeof why), WEIR_OK);
    return c.log.retention_ms;
}

/* ms > minutes > hours whatever the order; likewise roll.ms > roll.hours and
 * log.dirs > log.dir; broker.id and node.id must agree. */
static void test_precedence(void **state)
{
    (void)state;
    static const char *const keys[3][2] = {
        { "log.retention.ms", "1000" }, { "log.retention.minutes", "2" }, { "log.retention.hours", "3" } };
    static const int orders[6][3] = { { 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 } };
    for (size_t o = 0; o < 6; o++) {
        const char *kv[3][2];
        for (size_t i = 0; i < 3; i++) kv[i][0] = keys[orders[o][i]][0], kv[i][1] = keys[orders[o][i]][1];
        assert_int_equal(retention_after((const char *const(*)[2])kv, 3), 1000);
        /* without ms, minutes win over hours in both orders */
        const char *mh[2][2] = { { keys[1][0], keys[1][1] }, { keys[2][0], keys[2][1] } };
        assert_int_equal(retention_after((const char *const(*)[2])mh, 2), 120000);
        const char *hm[2][2] = { { keys[2][0], keys[2][1] }, { keys[1][0], keys[1][1] } };
        assert_int_equal(retention_after((const char *const(*)[2])hm, 2), 120000);
    }
    assert_int_equal(retention_after(&keys[2], 1), 3 * 3600000);

    struct weir_broker_config c;
    char why[256];
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "log.retention.ms", "5", why, sizeof why), WEIR_OK);
    /* an outranked value is still checked */
    assert_int_equal(weir_broker_config_set(&c, "log.retention.hours", "abc", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_broker_config_set(&c, "log.retention.hours", "-1", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.retention_ms, 5);
    assert_int_equal(weir_broker_config_set(&c, "log.retention.ms", "-1", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.retention_ms, -1);

    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "log.roll.ms", "777", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "log.roll.hours", "1", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.segment_ms, 777);
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "log.roll.hours", "1", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "log.roll.ms", "777", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.segment_ms, 777);

    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "log.dirs", "/dirs", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "log.dir", "/dir", why, sizeof why), WEIR_OK);
    assert_string_equal(c.data_dir, "/dirs");
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "log.dir", "/dir", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "log.dirs", "/dirs", why, sizeof why), WEIR_OK);
    assert_string_equal(c.data_dir, "/dirs");

    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "broker.id", "3", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "broker.id", "4", why, sizeof why), WEIR_OK); /* same key: later wins */
    assert_int_equal(weir_broker_config_set(&c, "node.id", "4", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "node.id", "5", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_rejected(WEIR_E_BAD_CONFIG, why, "node.id", "5");
    assert_non_null(strstr(why, "broker.id=4"));
    assert_int_equal(c.node_id, 4);
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "node.id", "1", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "broker.id", "2", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_int_equal(c.node_id, 1);

    /* weir.offsets.retention.ms > offsets.retention.minutes, in both orders */
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "weir.offsets.retention.ms", "700", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&c, "offsets.retention.minutes", "x", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_broker_config_set(&c, "offsets.retention.minutes", "2", why, sizeof why), WEIR_OK);
    assert_int_equal(c.offsets_retention_ms, 700);
    weir_broker_config_default(&c);
    assert_int_equal(weir_broker_config_set(&c, "offsets.retention.minutes", "2", why, sizeof why), WEIR_OK);
    assert_int_equal(c.offsets_retention_ms, 120000);
    assert_int_equal(weir_broker_config_set(&c, "weir.offsets.retention.ms", "700", why, sizeof why), WEIR_OK);
    assert_int_equal(c.offsets_retention_ms, 700);
}

static void test_ratio(void **state)
{
    (void)state;
    static const struct { const char *text; double want; } good[] = {
        { "0", 0 }, { "1", 1 }, { "0.5", 0.5 }, { ".25", 0.25 }, { "1.0", 1 }, { "0.125", 0.125 }, { "00.75", 0.75 },
    };
    struct weir_broker_config c;
    char why[256];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(good); i++) {
        weir_broker_config_default(&c);
        assert_int_equal(weir_broker_config_set(&c, "log.cleaner.min.cleanable.ratio", good[i].text, why, sizeof why),
                         WEIR_OK);
        double got = c.log.min_cleanable_dirty_ratio; /* the default of every topic's min.cleanable.dirty.ratio */
        assert_true(got > good[i].want - 1e-12 && got < good[i].want + 1e-12);
    }
}

/* ---- the loader ---------------------------------------------------------------- */

/* A scratch directory holding one file, server.properties. Made here rather
 * than with tu_tmpdir so this suite links with net/config.c and base alone. */
struct lfx {
    char dir[4096];
    char path[4200];
};

static int lfx_setup(void **state)
{
    struct lfx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    const char *tmp = getenv("TMPDIR");
    snprintf(fx->dir, sizeof fx->dir, "%s/weir-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/server.properties", fx->dir);
    *state = fx;
    return 0;
}

static int lfx_teardown(void **state)
{
    struct lfx *fx = *state;
    unlink(fx->path);
    assert_int_equal(rmdir(fx->dir), 0);
    free(fx);
    return 0;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static enum weir_err load_str(struct lfx *fx, const char *text, struct weir_broker_config *c, char *why,
                              size_t why_cap)
{
    write_text(fx->path, text, strlen(text));
    return weir_broker_config_load(c, fx->path, why, why_cap);
}

static void test_load_good(void **state)
{
    struct lfx *fx = *state;
    struct weir_broker_config c;
    char why[512] = "";
    weir_broker_config_default(&c);
    const char *text = "\xef\xbb\xbf# weir test config\r\n"
                       "! a bang comment\n"
                       "\n"
                       "   \t \r\n"
                       "  # indented comment\n"
                       "listeners = PLAINTEXT://:19092\r\n"
                       "  log.dirs=/srv/weir  \n"
                       "num.partitions\t=\t3\n"
                       "num.partitions=4\n" /* later wins */
                       "weir.port.file=/tmp/a=b\n"
                       "log.retention.hours=1\n"
                       "log.retention.minutes=30\r\n"
                       "auto.create.topics.enable=false"; /* no final newline */
    assert_int_equal(load_str(fx, text, &c, why, sizeof why), WEIR_OK);
    assert_string_equal(c.listeners[0].host, "0.0.0.0");
    assert_int_equal(c.listeners[0].port, 19092);
    assert_string_equal(c.data_dir, "/srv/weir");
    assert_int_equal(c.num_partitions, 4);
    assert_string_equal(c.port_file, "/tmp/a=b");
    assert_int_equal(c.log.retention_ms, 30 * 60000);
    assert_false(c.auto_create_topics);

    /* the command line comes after the file; precedence still holds */
    assert_int_equal(weir_broker_config_set(&c, "log.retention.hours", "5", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.retention_ms, 30 * 60000);
    assert_int_equal(weir_broker_config_set(&c, "log.retention.ms", "42", why, sizeof why), WEIR_OK);
    assert_int_equal(c.log.retention_ms, 42);

    /* empty file, comments only: nothing changes */
    struct weir_broker_config def, d;
    weir_broker_config_default(&def);
    d = def;
    assert_int_equal(load_str(fx, "", &d, why, sizeof why), WEIR_OK);
    assert_int_equal(load_str(fx, "# only\n\n!comments\r\n", &d, why, sizeof why), WEIR_OK);
    assert_memory_equal(&d, &def, sizeof d);
}

static const struct bad_file {
    const char *text;
    const char *want; /* the message after "<path>:" */
} bad_files[] = {
    { "num.partitions=2\nnum.partitions 3\n", "2: expected KEY=VALUE, got 'num.partitions 3'" },
    { "# c\n\nlog.dirs=/x\nbogus.key=1\n", "4: unknown config key 'bogus.key'" },
    { "# c\r\nlog.retention.ms=abc\r\n", "2: config log.retention.ms: 'abc' is not an integer" },
    { "num.partitions=3 # inline comments are not comments\n",
      "1: config num.partitions: '3 # inline comments are not comments' is not an integer" },
    { "=5\n", "1: expected KEY=VALUE, got an empty key" },
    { "listeners=PLAINTEXT://a:1,PLAINTEXT://b:2\n",
      "1: config listeners: 'PLAINTEXT://a:1,PLAINTEXT://b:2' names listener PLAINTEXT twice "
      "(each name must be unique)" },
    { "log.dirs=/a,/b\n", "1: config log.dirs: '/a,/b' lists several: weir supports one data directory" },
    { "num.partitions=1\nlog.index.size.max.bytes=8\n",
      " broker topic defaults: config segment.index.bytes: 8 holds too few index entries" },
};

static void test_load_bad(void **state)
{
    struct lfx *fx = *state;
    struct weir_broker_config def, c;
    weir_broker_config_default(&def);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad_files); i++) {
        char why[512] = "", want[4400];
        print_message("bad file %zu\n", i);
        c = def;
        assert_int_equal(load_str(fx, bad_files[i].text, &c, why, sizeof why), WEIR_E_BAD_CONFIG);
        snprintf(want, sizeof want, "%s:%s", fx->path, bad_files[i].want);
        assert_string_equal(why, want);
        assert_memory_equal(&c, &def, sizeof c); /* lines before the bad one are not applied */
    }

    char why[512];
    c = def;
    write_text(fx->path, "num.partitions=2\nlog.dirs=/x\0y\n", 31);
    assert_int_equal(weir_broker_config_load(&c, fx->path, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, ":2: contains a NUL byte"));
    assert_memory_equal(&c, &def, sizeof c);
}

static void test_load_unreadable(void **state)
{
    struct lfx *fx = *state;
    struct weir_broker_config def, c;
    char why[512], path[4200];
    weir_broker_config_default(&def);
    c = def;
    snprintf(path, sizeof path, "%s/missing.properties", fx->dir);
    assert_int_not_equal(weir_broker_config_load(&c, path, why, sizeof why), WEIR_OK);
    assert_non_null(strstr(why, path));
    assert_non_null(strstr(why, "No such file or directory"));
    assert_null(strchr(why, '\n'));
    assert_int_not_equal(weir_broker_config_load(&c, fx->dir, why, sizeof why), WEIR_OK); /* a directory */
    assert_non_null(strstr(why, fx->dir));
    /* over 1 MiB: refused before reading */
    FILE *f = fopen(fx->path, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (2 << 20)), 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(weir_broker_config_load(&c, fx->path, why, sizeof why), WEIR_E_TOO_LARGE);
    assert_non_null(strstr(why, "larger than"));
    assert_memory_equal(&c, &def, sizeof c);
}

int main(void)
{
    weir_log_set_level(WEIR_LOG_ERROR); /* the "ignored: outranked" warnings are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_listeners),
        cmocka_unit_test(test_listeners_named),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_ratio),
        cmocka_unit_test_setup_teardown(test_load_good, lfx_setup, lfx_teardown),
        cmocka_unit_test_setup_teardown(test_load_bad, lfx_setup, lfx_teardown),
        cmocka_unit_test_setup_teardown(test_load_unreadable, lfx_setup, lfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
