/* tests/test_repl_meta.c: the metadata interface (repl.h, weir_meta_*) with
 * the single node's backend over a real store: one live broker (itself, the
 * controller), every partition led by it at epoch 0 with replicas = ISR =
 * {self}; topics created through it are opened by the host hook before done
 * runs, refused ones never reach the store nor the hook; a topic's config
 * and the keys it sets itself; and the ISR of one giving HW = log end
 * through the same leader rule a cluster uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/repl.h"
#include "testutil.h"

struct fx {
    char *dir;
    struct weir_log_config defaults;
    struct weir_store *st;
    struct weir_meta *m;
    /* the host hook's record */
    int opens;
    char opened[64];
    int32_t from, to;
    enum weir_err open_err;
    /* done's */
    int dones;
    enum weir_err done_err;
};

static void host_open(void *ctx, const char *topic, int32_t from, int32_t to, weir_cluster_done_fn *done,
                      void *done_ctx)
{
    struct fx *fx = ctx;
    fx->opens++;
    snprintf(fx->opened, sizeof fx->opened, "%s", topic);
    fx->from = from, fx->to = to;
    done(done_ctx, fx->open_err, fx->open_err == WEIR_OK ? "" : "no room");
}

static void on_done(void *ctx, enum weir_err err, const char *why)
{
    (void)why;
    struct fx *fx = ctx;
    fx->dones++;
    fx->done_err = err;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof *fx);
    fx->dir = tu_tmpdir("meta");
    weir_log_config_default(&fx->defaults);
    assert_int_equal(weir_store_open(fx->dir, &fx->defaults, NULL, &fx->st), WEIR_OK);
    struct weir_repl_endpoint eps[2] = { { .listener = "PLAINTEXT", .host = "h.example", .port = 9092 },
                                         { .listener = "REPLICATION", .host = "r.example", .port = 9093 } };
    struct weir_meta_local_host host = { .open = host_open, .ctx = fx };
    fx->m = weir_meta_local_new(fx->st, 7, eps, 2, "abcdefghijklmnopqrstuv", &host);
    assert_non_null(fx->m);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    weir_meta_free(fx->m);
    weir_store_close(fx->st);
    tu_rmrf(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static void t_brokers(void **state)
{
    struct fx *fx = *state;
    struct weir_broker_addr v[4], one;
    assert_int_equal(weir_meta_id_self(fx->m), 7);
    assert_int_equal(weir_meta_controller(fx->m), 7);
    assert_int_equal(weir_meta_brokers(fx->m, "PLAINTEXT", v, 0), 1);
    assert_int_equal(weir_meta_brokers(fx->m, "PLAINTEXT", v, 4), 1);
    assert_int_equal(v[0].id, 7);
    assert_string_equal(v[0].host, "h.example");
    assert_int_equal(v[0].port, 9092);
    assert_true(weir_meta_broker(fx->m, 7, "PLAINTEXT", &one));
    assert_int_equal(one.port, 9092);
    assert_false(weir_meta_broker(fx->m, 8, "PLAINTEXT", &one));
    /* per listener: another endpoint, or none */
    assert_true(weir_meta_broker(fx->m, 7, "REPLICATION", &one));
    assert_string_equal(one.host, "r.example");
    assert_int_equal(one.port, 9093);
    assert_false(weir_meta_broker(fx->m, 7, "OTHER", &one));
    assert_int_equal(weir_meta_brokers(fx->m, "OTHER", v, 4), 1);
    assert_int_equal(v[0].port, -1);
    char id[64];
    weir_meta_cluster_id(fx->m, id, sizeof id);
    assert_string_equal(id, "abcdefghijklmnopqrstuv");
}

static void t_create_and_partitions(void **state)
{
    struct fx *fx = *state;
    char why[256];
    struct weir_partition_info info;
    assert_int_equal(weir_meta_topic_partitions(fx->m, "t"), -1);
    assert_false(weir_meta_partition(fx->m, "t", 0, &info));
    assert_int_equal(weir_meta_topic_create(fx->m, "t", 3, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why), WEIR_OK);
    assert_int_equal(fx->opens, 1);
    assert_string_equal(fx->opened, "t");
    assert_int_equal(fx->from, 0);
    assert_int_equal(fx->to, 3);
    assert_int_equal(fx->dones, 1);
    assert_int_equal(fx->done_err, WEIR_OK);
    assert_int_equal(weir_meta_topic_partitions(fx->m, "t"), 3);
    for (int32_t p = 0; p < 3; p++) {
        assert_true(weir_meta_partition(fx->m, "t", p, &info));
        assert_int_equal(info.leader, 7);
        assert_int_equal(info.leader_epoch, 0);
        assert_int_equal(info.replicas_n, 1);
        assert_int_equal(info.replicas[0], 7);
        assert_int_equal(info.isr_n, 1);
        assert_int_equal(info.isr[0], 7);
    }
    assert_false(weir_meta_partition(fx->m, "t", 3, &info));
    assert_false(weir_meta_partition(fx->m, "t", -1, &info));
    /* rf 1 is this node; any other is refused before the store */
    assert_int_equal(weir_meta_topic_create(fx->m, "u", 1, 1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_meta_topic_create(fx->m, "v", 1, 3, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why),
                     WEIR_E_INVALID);
    assert_non_null(strstr(why, "replication factor"));
    assert_int_equal(weir_meta_topic_partitions(fx->m, "v"), -1);
    assert_int_equal(weir_meta_topic_create(fx->m, "t", 1, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why),
                     WEIR_E_EXISTS);
    assert_int_equal(weir_meta_topic_create(fx->m, "a/b", 1, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why),
                     WEIR_E_BAD_NAME);
    assert_int_equal(weir_meta_topic_create(fx->m, "w", 0, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why),
                     WEIR_E_BAD_PARTITIONS);
    assert_int_equal(fx->opens, 2); /* t and u only */
    assert_int_equal(fx->dones, 2);
    /* the host could not open: its done carries the error */
    fx->open_err = WEIR_E_NOSPACE;
    assert_int_equal(weir_meta_topic_create(fx->m, "x", 2, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why), WEIR_OK);
    assert_int_equal(fx->dones, 3);
    assert_int_equal(fx->done_err, WEIR_E_NOSPACE);
}

static void t_topics(void **state)
{
    struct fx *fx = *state;
    char why[256];
    char *names[4] = { 0 };
    assert_int_equal(weir_meta_topics(fx->m, names, 4), 0);
    const char *want[] = { "one", "two", "three" };
    for (int i = 0; i < 3; i++)
        assert_int_equal(weir_meta_topic_create(fx->m, want[i], 1, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why),
                         WEIR_OK);
    assert_int_equal(weir_meta_topics(fx->m, names, 2), 3); /* more than cap: the count */
    assert_string_equal(names[0], "one");
    assert_string_equal(names[1], "two");
    for (int i = 0; i < 2; i++) weir_free(names[i]), names[i] = NULL;
    assert_int_equal(weir_meta_topics(fx->m, names, 4), 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(names[i], want[i]); /* creation order */
        weir_free(names[i]);
    }
}

static void t_config(void **state)
{
    struct fx *fx = *state;
    char why[256], set[256];
    const char *keys[] = { "retention.ms" }, *values[] = { "1000" };
    assert_int_equal(weir_meta_topic_create(fx->m, "c", 1, -1, NULL, keys, values, 1, on_done, fx, why, sizeof why), WEIR_OK);
    struct weir_log_config cfg;
    assert_int_equal(weir_meta_topic_config(fx->m, "c", &fx->defaults, &cfg, set, sizeof set), WEIR_OK);
    assert_int_equal(cfg.retention_ms, 1000);
    assert_true(cfg.segment_bytes == fx->defaults.segment_bytes);
    assert_string_equal(set, "\nretention.ms\n");
    assert_int_equal(weir_meta_topic_create(fx->m, "d", 1, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_meta_topic_config(fx->m, "d", &fx->defaults, &cfg, set, sizeof set), WEIR_OK);
    assert_true(cfg.retention_ms == fx->defaults.retention_ms);
    assert_string_equal(set, "\n");
    assert_int_equal(weir_meta_topic_config(fx->m, "nope", &fx->defaults, &cfg, set, sizeof set), WEIR_E_NOT_FOUND);
}

/* The single node's partition state, given to the leader rule a cluster
 * uses: with an ISR of one the HW is the log end after every append. */
static void t_isr_of_one(void **state)
{
    struct fx *fx = *state;
    char why[256];
    struct weir_partition_info info;
    assert_int_equal(weir_meta_topic_create(fx->m, "h", 1, -1, NULL, NULL, NULL, 0, on_done, fx, why, sizeof why), WEIR_OK);
    assert_true(weir_meta_partition(fx->m, "h", 0, &info));
    struct weir_repl_leader *l = weir_repl_leader_new();
    assert_non_null(l);
    bool adv = false;
    assert_int_equal(weir_repl_leader_make(l, weir_meta_id_self(fx->m), &info, 10, 4, 1000, 0, &adv), WEIR_OK);
    assert_true(adv);
    assert_int_equal(weir_repl_leader_hw(l), 10);
    assert_true(weir_repl_leader_on_append(l, 25, 1));
    assert_int_equal(weir_repl_leader_hw(l), 25);
    assert_int_equal(weir_repl_leader_ack_check(l, 25, 1), WEIR_REPL_ACK_OK);
    weir_repl_leader_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_brokers, setup, teardown),
        cmocka_unit_test_setup_teardown(t_create_and_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(t_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(t_config, setup, teardown),
        cmocka_unit_test_setup_teardown(t_isr_of_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
