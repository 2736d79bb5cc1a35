/* tests/test_store.c: the data directory: topics, metadata, configs, locking,
 * interrupted deletions and bad input. */
#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sfx {
    char *dir;
    struct weir_appender *ap;
    struct weir_store *st;
    struct weir_log_config defaults;
};

static void sfx_init(struct sfx *fx)
{
    fx->dir = tu_tmpdir("store");
    weir_log_config_default(&fx->defaults);
    fx->defaults.segment_bytes = 1 << 20;
    assert_int_equal(weir_appender_create(64, &fx->ap), WEIR_OK);
    assert_int_equal(weir_store_open(fx->dir, &fx->defaults, fx->ap, &fx->st), WEIR_OK);
}

static void sfx_reopen(struct sfx *fx)
{
    weir_store_close(fx->st);
    assert_int_equal(weir_store_open(fx->dir, &fx->defaults, fx->ap, &fx->st), WEIR_OK);
}

static void sfx_done(struct sfx *fx)
{
    weir_store_close(fx->st);
    weir_appender_destroy(fx->ap);
    tu_rmrf(fx->dir);
    weir_free(fx->dir);
}

static struct weir_log_config cfg_of(struct weir_store *st, const char *topic)
{
    struct weir_log_config c;
    assert_int_equal(weir_store_topic_config(st, topic, &c), WEIR_OK);
    return c;
}

static size_t topic_count(struct weir_store *st) { return weir_store_topics(st, NULL, 0); }

static bool exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_topic_names(void **state)
{
    (void)state;
    char long_ok[250], long_bad[251];
    memset(long_ok, 'a', 249), long_ok[249] = '\0';
    memset(long_bad, 'a', 250), long_bad[250] = '\0';
    static const struct { const char *name; bool ok; } cases[] = {
        { "orders", true }, { "a.b_c-D9", true }, { "...", true }, { "", false }, { ".", false },
        { "..", false }, { "a/b", false }, { "a b", false }, { "ä", false }, { "x:y", false },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("name '%s'\n", cases[i].name);
        assert_int_equal(weir_topic_name_valid(cases[i].name), cases[i].ok);
    }
    assert_true(weir_topic_name_valid(long_ok));
    assert_false(weir_topic_name_valid(long_bad));
}

static void test_create_append_reopen(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256];
    const char *const cfgs[][2] = { { "retention.ms", "3600000" }, { "segment.bytes", "65536" } };
    assert_int_equal(weir_store_topic_create(fx.st, "orders", 3, cfgs, 2, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_create(fx.st, "audit", 1, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(topic_count(fx.st), 2);
    assert_int_equal(weir_store_topic_partitions(fx.st, "orders"), 3);
    assert_int_equal(cfg_of(fx.st, "orders").segment_bytes, 65536);
    assert_int_equal(cfg_of(fx.st, "audit").segment_bytes, 1 << 20);
    assert_true(exists(fx.dir, "orders.topic") && exists(fx.dir, "orders-2"));
    for (int32_t p = 0; p < 3; p++) {
        size_t len;
        uint8_t *b = tu_batch(10 + p, 100, 5, 1, WEIR_CODEC_NONE, 1, &len);
        assert_int_equal(tu_append_sync(fx.ap, weir_store_log(fx.st, "orders", p), b, len, NULL), WEIR_OK);
        weir_free(b);
    }
    assert_null(weir_store_log(fx.st, "orders", 3));
    assert_null(weir_store_log(fx.st, "orders", -1));
    assert_null(weir_store_log(fx.st, "nope", 0));
    /* Broker defaults change; topics without an override follow them. */
    fx.defaults.segment_bytes = 2 << 20;
    sfx_reopen(&fx);
    assert_int_equal(topic_count(fx.st), 2);
    assert_int_equal(cfg_of(fx.st, "orders").retention_ms, 3600000);
    assert_int_equal(cfg_of(fx.st, "orders").segment_bytes, 65536);
    assert_int_equal(cfg_of(fx.st, "audit").segment_bytes, 2 << 20);
    for (int32_t p = 0; p < 3; p++) assert_int_equal(weir_log_end_offset(weir_store_log(fx.st, "orders", p)), 10 + p);
    sfx_done(&fx);
}

static void test_bad_input_refused(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256] = "";
    assert_int_equal(weir_store_topic_create(fx.st, "a/b", 1, NULL, 0, why, sizeof why), WEIR_E_BAD_NAME);
    assert_int_equal(weir_store_topic_create(fx.st, "t", 0, NULL, 0, why, sizeof why), WEIR_E_BAD_PARTITIONS);
    assert_int_equal(weir_store_topic_create(fx.st, "t", WEIR_PARTITIONS_MAX + 1, NULL, 0, why, sizeof why),
                     WEIR_E_BAD_PARTITIONS);
    static const char *const bad[][2] = {
        { "no.such.key", "1" },     { "retention.ms", "abc" },     { "retention.ms", "" },
        { "segment.bytes", "13" },  { "segment.bytes", "1e9" },    { "retention.ms", "-2" },
        { "flush.messages", "0" },  { "max.message.bytes", "99999999999" }, { "segment.ms", "12x" },
        { "min.insync.replicas", "0" },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        assert_int_equal(weir_store_topic_create(fx.st, "t", 1, &bad[i], 1, why, sizeof why), WEIR_E_BAD_CONFIG);
        print_message("%s=%s -> %s\n", bad[i][0], bad[i][1], why);
        assert_true(strlen(why) > 0 && strchr(why, '\n') == NULL);
    }
    assert_int_equal(topic_count(fx.st), 0);
    assert_false(exists(fx.dir, "t.topic") || exists(fx.dir, "t-0"));
    assert_int_equal(weir_store_topic_create(fx.st, "t", 2, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_create(fx.st, "t", 2, NULL, 0, why, sizeof why), WEIR_E_EXISTS);
    assert_int_equal(weir_store_topic_add_partitions(fx.st, "t", 2), WEIR_E_BAD_PARTITIONS);
    assert_int_equal(weir_store_topic_add_partitions(fx.st, "t", 1), WEIR_E_BAD_PARTITIONS);
    assert_int_equal(weir_store_topic_add_partitions(fx.st, "zz", 3), WEIR_E_NOT_FOUND);
    assert_int_equal(weir_store_topic_delete(fx.st, "zz"), WEIR_E_NOT_FOUND);
    const char *const badcfg[][2] = { { "retention.bytes", "x" } };
    assert_int_equal(weir_store_topic_configure(fx.st, "t", badcfg, 1, why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_int_equal(cfg_of(fx.st, "t").retention_bytes, -1);
    sfx_done(&fx);
}

static void test_add_partitions_and_configure(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256];
    assert_int_equal(weir_store_topic_create(fx.st, "t", 2, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_add_partitions(fx.st, "t", 5), WEIR_OK);
    assert_non_null(weir_store_log(fx.st, "t", 4));
    assert_int_equal(cfg_of(fx.st, "t").min_insync_replicas, 1);
    const char *const cfgs[][2] = { { "retention.bytes", "1000" }, { "min.insync.replicas", "2" } };
    assert_int_equal(weir_store_topic_configure(fx.st, "t", cfgs, 2, why, sizeof why), WEIR_OK);
    sfx_reopen(&fx);
    assert_int_equal(weir_store_topic_partitions(fx.st, "t"), 5);
    assert_int_equal(cfg_of(fx.st, "t").retention_bytes, 1000);
    assert_int_equal(cfg_of(fx.st, "t").min_insync_replicas, 2);
    sfx_done(&fx);
}

static void test_delete_and_interrupted_delete(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256];
    assert_int_equal(weir_store_topic_create(fx.st, "gone", 2, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_create(fx.st, "half", 3, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_create(fx.st, "half-1x", 1, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_delete(fx.st, "gone"), WEIR_OK);
    assert_false(exists(fx.dir, "gone.topic") || exists(fx.dir, "gone-0") || exists(fx.dir, "gone-1"));
    assert_int_equal(weir_store_topic_partitions(fx.st, "gone"), -1);
    /* Crash after the tombstone was written: open finishes the deletion. */
    weir_store_close(fx.st);
    char from[4096], to[4096];
    snprintf(from, sizeof from, "%s/half.topic", fx.dir);
    snprintf(to, sizeof to, "%s/half.topic.delete", fx.dir);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &fx.st), WEIR_OK);
    assert_false(exists(fx.dir, "half-0") || exists(fx.dir, "half-2") || exists(fx.dir, "half.topic.delete"));
    assert_int_equal(weir_store_topic_partitions(fx.st, "half"), -1);
    assert_true(exists(fx.dir, "half-1x-0")); /* a similarly named topic survives */
    assert_int_equal(weir_store_topic_partitions(fx.st, "half-1x"), 1);
    /* The name can be used again. */
    assert_int_equal(weir_store_topic_create(fx.st, "gone", 1, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_log_end_offset(weir_store_log(fx.st, "gone", 0)), 0);
    sfx_done(&fx);
}

/* Leaves of removals cut short by a crash: a partition directory renamed
 * for deletion, and partitions past their topic's count (a shrink whose
 * files were not yet removed). Open removes both; a later grow starts the
 * partition empty. A reset partition goes in one rename. */
static void test_interrupted_partition_removal(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256], path[4096];
    assert_int_equal(weir_store_topic_create(fx.st, "s", 2, NULL, 0, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_store_topic_create(fx.st, "s-3", 1, NULL, 0, why, sizeof why), WEIR_OK);
    size_t len;
    uint8_t *b = tu_batch(5, 7, 1000, 1, WEIR_CODEC_NONE, 1, &len);
    assert_int_equal(tu_append_sync(fx.ap, weir_store_log(fx.st, "s", 1), b, len, NULL), WEIR_OK);
    assert_int_equal(tu_append_sync(fx.ap, weir_store_log(fx.st, "s-3", 0), b, len, NULL), WEIR_OK);
    weir_free(b);
    weir_store_close(fx.st);
    /* s-1's directory as a shrink to 1 would leave it, then one renamed for deletion. */
    snprintf(path, sizeof path, "%s/s.topic", fx.dir);
    FILE *f = fopen(path, "r");
    char meta[1024];
    size_t n = fread(meta, 1, sizeof meta - 1, f);
    fclose(f);
    meta[n] = '\0';
    char *at = strstr(meta, "partitions=2");
    assert_non_null(at);
    at[11] = '1';
    f = fopen(path, "w");
    fputs(meta, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/s-9.00ff00ff00ff00ff-delete", fx.dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/s-9.00ff00ff00ff00ff-delete/00000000000000000000.log", fx.dir);
    f = fopen(path, "w");
    fputs("stale", f);
    fclose(f);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &fx.st), WEIR_OK);
    assert_false(exists(fx.dir, "s-1") || exists(fx.dir, "s-9.00ff00ff00ff00ff-delete"));
    assert_true(exists(fx.dir, "s-0") && exists(fx.dir, "s-3-0")); /* kept: s's first, and topic s-3 */
    assert_int_equal(weir_log_end_offset(weir_store_log(fx.st, "s-3", 0)), 5);
    assert_int_equal(weir_store_topic_add_partitions(fx.st, "s", 2), WEIR_OK);
    assert_int_equal(weir_log_end_offset(weir_store_log(fx.st, "s", 1)), 0); /* not the stale copy */
    sfx_done(&fx);

    /* Reset: the partition's files go, nothing is left renamed. */
    char *dir = tu_tmpdir("reset");
    struct weir_store *st;
    assert_int_equal(weir_store_open(dir, &fx.defaults, NULL, &st), WEIR_OK);
    assert_int_equal(weir_store_topic_create(st, "r", 2, NULL, 0, why, sizeof why), WEIR_OK);
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log *log;
    assert_int_equal(weir_store_partition_open(st, "r", 1, ap, &log), WEIR_OK);
    assert_int_equal(weir_store_partition_reset(st, "r", 1), WEIR_E_BUSY); /* open */
    weir_store_close(st);
    assert_int_equal(weir_store_open(dir, &fx.defaults, NULL, &st), WEIR_OK);
    assert_true(exists(dir, "r-1"));
    assert_int_equal(weir_store_partition_reset(st, "r", 1), WEIR_OK);
    assert_false(exists(dir, "r-1"));
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d))) assert_null(strstr(e->d_name, "-delete"));
    closedir(d);
    weir_store_close(st);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_lock_and_corrupt_metadata(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256];
    assert_int_equal(weir_store_topic_create(fx.st, "t", 1, NULL, 0, why, sizeof why), WEIR_OK);
    struct weir_store *second;
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &second), WEIR_E_BUSY);
    weir_store_close(fx.st);
    char path[4096];
    snprintf(path, sizeof path, "%s/t.topic", fx.dir);
    FILE *f = fopen(path, "w");
    fputs("format=1\nname=t\npartitions=banana\n", f);
    fclose(f);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &fx.st), WEIR_E_CORRUPT);
    f = fopen(path, "w");
    fputs("format=9\nname=t\npartitions=1\n", f);
    fclose(f);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &fx.st), WEIR_E_UNSUPPORTED);
    f = fopen(path, "w");
    fputs("# ok\nformat=1\nname=t\npartitions=1\nconfig.retention.ms=5\n", f);
    fclose(f);
    weir_log_set_level(WEIR_LOG_INFO);
    assert_int_equal(weir_store_open(fx.dir, &fx.defaults, fx.ap, &fx.st), WEIR_OK);
    assert_int_equal(cfg_of(fx.st, "t").retention_ms, 5);
    sfx_done(&fx);
}

static void test_retain_through_store(void **state)
{
    (void)state;
    struct sfx fx;
    sfx_init(&fx);
    char why[256];
    const char *const cfgs[][2] = { { "segment.bytes", "4096" }, { "retention.bytes", "4096" },
                                    { "retention.ms", "-1" } };
    assert_int_equal(weir_store_topic_create(fx.st, "t", 1, cfgs, 3, why, sizeof why), WEIR_OK);
    struct weir_log *log = weir_store_log(fx.st, "t", 0);
    for (int i = 0; i < 40; i++) {
        size_t len;
        uint8_t *b = tu_batch(5, 100, 5, 1, WEIR_CODEC_NONE, (uint64_t)i, &len);
        assert_int_equal(tu_append_sync(fx.ap, log, b, len, NULL), WEIR_OK);
        weir_free(b);
    }
    weir_store_retain(fx.st, weir_time_ms());
    assert_true(weir_log_start_offset(log) > 0);
    assert_true(weir_log_size_bytes(log) < 4096 * 3);
    sfx_done(&fx);
}

struct opener {
    struct weir_store *st;
    struct weir_appender *ap;
    int32_t partition;
    enum weir_err err;
    struct weir_log *log;
};

static void *open_on_thread(void *arg)
{
    struct opener *o = arg;
    o->err = weir_store_partition_open(o->st, "t", o->partition, o->ap, &o->log);
    return NULL;
}

/* Broker mode: metadata only; owner threads open their partitions, each
 * with its own appender; deletion takes the logs back in two steps. */
static void test_broker_mode(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bmode");
    struct weir_log_config defaults;
    weir_log_config_default(&defaults);
    defaults.segment_bytes = 1 << 20;
    struct weir_store *st;
    assert_int_equal(weir_store_open(dir, &defaults, NULL, &st), WEIR_OK);
    char why[256];
    assert_int_equal(weir_store_topic_create(st, "t", 2, NULL, 0, why, sizeof why), WEIR_OK);
    assert_null(weir_store_log(st, "t", 0)); /* not open until its owner opens it */
    struct opener o[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        o[i] = (struct opener){ .st = st, .partition = i };
        assert_int_equal(weir_appender_create(64, &o[i].ap), WEIR_OK);
        assert_int_equal(pthread_create(&th[i], NULL, open_on_thread, &o[i]), 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(o[i].err, WEIR_OK);
        assert_ptr_equal(weir_store_log(st, "t", i), o[i].log);
    }
    struct weir_log *again;
    assert_int_equal(weir_store_partition_open(st, "t", 0, o[0].ap, &again), WEIR_E_EXISTS);
    assert_int_equal(weir_store_partition_open(st, "t", 2, o[0].ap, &again), WEIR_E_NOT_FOUND);
    size_t len;
    uint8_t *b = tu_batch(4, 10, 5, 1, WEIR_CODEC_NONE, 1, &len);
    assert_int_equal(tu_append_sync(o[1].ap, o[1].log, b, len, NULL), WEIR_OK);
    weir_free(b);
    struct weir_topic_info info[4];
    assert_int_equal(weir_store_topics(st, info, 4), 1);
    assert_string_equal(info[0].name, "t");
    assert_int_equal(info[0].partitions, 2);
    struct weir_topic_deletion *d;
    assert_int_equal(weir_store_topic_delete_begin(st, "t", &d), WEIR_OK);
    assert_int_equal(weir_store_topic_partitions(st, "t"), -1);
    assert_int_equal(weir_store_deletion_partitions(d), 2);
    for (int i = 0; i < 2; i++) {
        struct weir_log *log = weir_store_deletion_take_log(d, i);
        assert_ptr_equal(log, o[i].log);
        weir_log_close(log);
    }
    weir_store_topic_delete_finish(st, d);
    assert_false(exists(dir, "t-0") || exists(dir, "t.topic.delete"));
    weir_store_close(st);
    for (int i = 0; i < 2; i++) weir_appender_destroy(o[i].ap);
    tu_rmrf(dir);
    weir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),
        cmocka_unit_test(test_create_append_reopen),
        cmocka_unit_test(test_bad_input_refused),
        cmocka_unit_test(test_add_partitions_and_configure),
        cmocka_unit_test(test_delete_and_interrupted_delete),
        cmocka_unit_test(test_interrupted_partition_removal),
        cmocka_unit_test(test_lock_and_corrupt_metadata),
        cmocka_unit_test(test_retain_through_store),
        cmocka_unit_test(test_broker_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
