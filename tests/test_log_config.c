/* tests/test_log_config.c: the topic config table (engine/config.c): every
 * key Kafka 3.7 documents, its default as Kafka describes it, values Kafka
 * takes and values it refuses, and what DescribeConfigs is told of each. */
#include "testutil.h"

#include <stdio.h>

/* Kafka 3.7's topic keys and their defaults as DescribeConfigs shows them. */
static const char *const kafka_defaults[][2] = {
    { "cleanup.policy", "delete" },
    { "compression.type", "producer" },
    { "delete.retention.ms", "86400000" },
    { "file.delete.delay.ms", "60000" },
    { "flush.messages", "9223372036854775807" },
    { "flush.ms", "9223372036854775807" },
    { "follower.replication.throttled.replicas", "" },
    { "index.interval.bytes", "4096" },
    { "leader.replication.throttled.replicas", "" },
    { "local.retention.bytes", "-2" },
    { "local.retention.ms", "-2" },
    { "max.compaction.lag.ms", "9223372036854775807" },
    { "max.message.bytes", "1048588" },
    { "message.downconversion.enable", "true" },
    { "message.format.version", "3.0-IV1" },
    { "message.timestamp.after.max.ms", "9223372036854775807" },
    { "message.timestamp.before.max.ms", "9223372036854775807" },
    { "message.timestamp.difference.max.ms", "9223372036854775807" },
    { "message.timestamp.type", "CreateTime" },
    { "min.cleanable.dirty.ratio", "0.5" },
    { "min.compaction.lag.ms", "0" },
    { "min.insync.replicas", "1" },
    { "preallocate", "false" },
    { "remote.storage.enable", "false" },
    { "retention.bytes", "-1" },
    { "retention.ms", "604800000" },
    { "segment.bytes", "1073741824" },
    { "segment.index.bytes", "10485760" },
    { "segment.jitter.ms", "0" },
    { "segment.ms", "604800000" },
    { "unclean.leader.election.enable", "false" },
};

static void test_defaults(void **state)
{
    (void)state;
    struct weir_log_config c;
    weir_log_config_default(&c);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(kafka_defaults); i++) {
        char v[WEIR_LOG_CONFIG_TEXT_BYTES];
        assert_int_equal(weir_log_config_get(&c, kafka_defaults[i][0], v, sizeof v), WEIR_OK);
        assert_string_equal(v, kafka_defaults[i][1]);
    }
    /* the table holds exactly these keys, each once, in this order */
    struct weir_log_config_info info;
    size_t n = 0;
    while (weir_log_config_key(n, &info)) {
        assert_true(n < WEIR_ARRAY_LEN(kafka_defaults));
        assert_string_equal(info.name, kafka_defaults[n][0]);
        n++;
    }
    assert_int_equal(n, WEIR_ARRAY_LEN(kafka_defaults));
    char text[WEIR_LOG_CONFIG_FORMAT_BYTES];
    assert_true(weir_log_config_format(&c, text, sizeof text) < sizeof text);
    assert_non_null(strstr(text, "\ncleanup.policy=delete\n") ? text : strstr(text, "cleanup.policy=delete\n"));
    assert_int_equal(weir_log_config_check(&c, text, sizeof text), WEIR_OK);
    char v[8];
    assert_int_equal(weir_log_config_get(&c, "log.retention.ms", v, sizeof v), WEIR_E_NOT_FOUND);
}

/* key, value given, value described after */
static const char *const good[][3] = {
    { "cleanup.policy", "compact", "compact" },
    { "cleanup.policy", "delete,compact", "compact,delete" },
    { "cleanup.policy", " compact , delete ", "compact,delete" },
    { "cleanup.policy", "", "" },
    { "compression.type", "zstd", "zstd" },
    { "compression.type", "uncompressed", "uncompressed" },
    { "compression.type", " lz4 ", "lz4" },
    { "delete.retention.ms", "0", "0" },
    { "file.delete.delay.ms", "1000", "1000" },
    { "flush.messages", "1", "1" },
    { "flush.ms", "0", "0" },
    { "follower.replication.throttled.replicas", "*", "*" },
    { "leader.replication.throttled.replicas", "0:1,1:2", "0:1,1:2" },
    { "index.interval.bytes", "0", "0" },
    { "local.retention.bytes", "-2", "-2" },
    { "local.retention.ms", "1000", "1000" },
    { "max.compaction.lag.ms", "1", "1" },
    { "max.message.bytes", "2000000", "2000000" },
    { "message.downconversion.enable", "FALSE", "false" },
    { "message.format.version", "2.8", "2.8" },
    { "message.format.version", "0.10.2-IV0", "0.10.2-IV0" },
    { "message.format.version", "3.7-IV4", "3.7-IV4" },
    { "message.timestamp.type", "LogAppendTime", "LogAppendTime" },
    { "message.timestamp.difference.max.ms", "0", "0" },
    { "message.timestamp.before.max.ms", "3600000", "3600000" },
    { "message.timestamp.after.max.ms", "3600000", "3600000" },
    { "min.cleanable.dirty.ratio", "0.25", "0.25" },
    { "min.cleanable.dirty.ratio", "1", "1.0" },
    { "min.cleanable.dirty.ratio", "0", "0.0" },
    { "min.compaction.lag.ms", "100", "100" },
    { "min.insync.replicas", "2", "2" },
    { "preallocate", "true", "true" },
    { "remote.storage.enable", "false", "false" },
    { "retention.bytes", "-5", "-5" },
    { "retention.ms", "-1", "-1" },
    { "retention.ms", " 60000 ", "60000" },
    { "segment.bytes", "14", "14" },
    { "segment.index.bytes", "4096", "4096" },
    { "segment.jitter.ms", "10", "10" },
    { "segment.ms", "1", "1" },
    { "unclean.leader.election.enable", "True", "true" },
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(good); i++) {
        struct weir_log_config c;
        weir_log_config_default(&c);
        char why[256] = "", v[WEIR_LOG_CONFIG_TEXT_BYTES];
        enum weir_err err = weir_log_config_set(&c, good[i][0], good[i][1], why, sizeof why);
        if (err != WEIR_OK) fail_msg("%s=%s refused: %s", good[i][0], good[i][1], why);
        assert_int_equal(weir_log_config_get(&c, good[i][0], v, sizeof v), WEIR_OK);
        if (strcmp(v, good[i][2])) fail_msg("%s=%s described as '%s'", good[i][0], good[i][1], v);
    }
    struct weir_log_config c;
    weir_log_config_default(&c);
    char why[256];
    assert_int_equal(weir_log_config_set(&c, "cleanup.policy", "compact,delete", why, sizeof why), WEIR_OK);
    assert_int_equal(c.cleanup_policy, WEIR_CLEANUP_COMPACT | WEIR_CLEANUP_DELETE);
    assert_int_equal(weir_log_config_set(&c, "compression.type", "snappy", why, sizeof why), WEIR_OK);
    assert_int_equal(c.compression_type, WEIR_COMPRESSION_SNAPPY);
    assert_int_equal(weir_log_config_set(&c, "message.timestamp.type", "LogAppendTime", why, sizeof why), WEIR_OK);
    assert_int_equal(c.timestamp_type, WEIR_LOG_TIMESTAMP_APPEND);
    /* 3.6+: before/after when set, else the deprecated difference */
    assert_int_equal(weir_log_config_set(&c, "message.timestamp.difference.max.ms", "500", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_log_config_timestamp_before_ms(&c), 500);
    assert_int_equal(weir_log_config_timestamp_after_ms(&c), 500);
    assert_int_equal(weir_log_config_set(&c, "message.timestamp.after.max.ms", "70", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_log_config_timestamp_before_ms(&c), 500);
    assert_int_equal(weir_log_config_timestamp_after_ms(&c), 70);
}

/* Values Kafka refuses (ConfigException or InvalidConfigurationException:
 * INVALID_CONFIG on the wire). */
static const char *const bad[][2] = {
    { "cleanup.policy", "compacted" },
    { "cleanup.policy", "delete;compact" },
    { "compression.type", "GZIP" },
    { "compression.type", "brotli" },
    { "delete.retention.ms", "-1" },
    { "file.delete.delay.ms", "-1" },
    { "flush.messages", "0" },
    { "flush.ms", "-1" },
    { "follower.replication.throttled.replicas", "0-1" },
    { "leader.replication.throttled.replicas", "*,0:1" },
    { "index.interval.bytes", "-1" },
    { "local.retention.bytes", "-3" },
    { "local.retention.ms", "x" },
    { "max.compaction.lag.ms", "0" },
    { "max.message.bytes", "2147483648" },
    { "message.downconversion.enable", "yes" },
    { "message.format.version", "9.9" },
    { "message.format.version", "" },
    { "message.timestamp.type", "createtime" },
    { "message.timestamp.difference.max.ms", "-1" },
    { "message.timestamp.before.max.ms", "-1" },
    { "message.timestamp.after.max.ms", "1.5" },
    { "min.cleanable.dirty.ratio", "1.5" },
    { "min.cleanable.dirty.ratio", "-0.1" },
    { "min.cleanable.dirty.ratio", "half" },
    { "min.compaction.lag.ms", "-1" },
    { "min.insync.replicas", "0" },
    { "preallocate", "1" },
    { "remote.storage.enable", "true" },
    { "retention.bytes", "" },
    { "retention.ms", "-2" },
    { "segment.bytes", "13" },
    { "segment.bytes", "2147483648" },
    { "segment.jitter.ms", "-1" },
    { "segment.ms", "0" },
    { "unclean.leader.election.enable", "" },
    { "retention.ms", "1e3" },
    { "log.retention.ms", "1000" },
    { "no.such.key", "1" },
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++) {
        struct weir_log_config c, before;
        weir_log_config_default(&c);
        before = c;
        char why[256] = "";
        enum weir_err err = weir_log_config_set(&c, bad[i][0], bad[i][1], why, sizeof why);
        if (err != WEIR_E_BAD_CONFIG) fail_msg("%s=%s accepted", bad[i][0], bad[i][1]);
        if (!strstr(why, bad[i][0])) fail_msg("%s=%s: '%s' does not name the key", bad[i][0], bad[i][1], why);
        assert_null(strchr(why, '\n'));
        assert_memory_equal(&c, &before, sizeof c); /* unchanged */
    }
    /* cross-field: Kafka's LogConfig.validateValues */
    struct weir_log_config c;
    weir_log_config_default(&c);
    char why[256];
    assert_int_equal(weir_log_config_set(&c, "max.compaction.lag.ms", "100", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_log_config_set(&c, "min.compaction.lag.ms", "200", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_log_config_check(&c, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "min.compaction.lag.ms"));
    char long_value[400];
    memset(long_value, '*', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    assert_int_equal(weir_log_config_set(&c, "leader.replication.throttled.replicas", long_value, why, sizeof why),
                     WEIR_E_BAD_CONFIG);
}

static void test_info(void **state)
{
    (void)state;
    struct weir_log_config_info info;
    assert_true(weir_log_config_info("retention.ms", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_LONG);
    assert_string_equal(info.synonyms, "log.retention.ms log.retention.minutes log.retention.hours");
    assert_null(info.note);
    assert_true(weir_log_config_info("cleanup.policy", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_LIST);
    assert_true(weir_log_config_info("min.cleanable.dirty.ratio", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_DOUBLE);
    assert_true(weir_log_config_info("preallocate", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_BOOLEAN);
    assert_non_null(info.note); /* weir does not act on it: it says so */
    assert_true(weir_log_config_info("segment.bytes", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_INT);
    assert_string_equal(info.synonyms, "log.segment.bytes");
    assert_true(weir_log_config_info("message.format.version", &info));
    assert_int_equal(info.type, WEIR_CONFIG_TYPE_STRING);
    assert_non_null(info.note);
    assert_false(weir_log_config_info("log.retention.ms", &info));
    for (size_t i = 0; weir_log_config_key(i, &info); i++) assert_true(info.type > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
