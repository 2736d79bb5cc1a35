/* tests/test_repl_api.c: repl/repl.h as net/ sees it. The per-partition
 * wrappers (replica.c): a leader's high watermark, ISR expand and shrink
 * proposals and acks=all through weir_repl_leader_*, and the follower's
 * truncation answers mapped to weir_trunc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "repl/repl.h"
#include "testutil.h"

/* ---- replica.c ------------------------------------------------------------------ */

static struct weir_partition_info info3(int32_t leader, int32_t epoch, uint32_t isr_n)
{
    struct weir_partition_info in = { .leader = leader, .leader_epoch = epoch, .zk_version = 0, .replicas_n = 3,
                                      .isr_n = isr_n, .replicas = { 1, 2, 3 }, .isr = { 1, 2, 3 } };
    return in;
}

static void t_leader_wrappers(void **state)
{
    (void)state;
    const int64_t T = 100000; /* far past the lag: a replica never caught up is not waited for */
    struct weir_repl_leader *l = weir_repl_leader_new();
    assert_non_null(l);
    bool adv;
    struct weir_partition_info in = info3(1, 5, 2); /* ISR {1,2}: 3 is out */
    struct weir_partition_info bad = in;
    bad.isr[0] = 2, bad.isr[1] = 3;                 /* me not in the ISR */
    assert_int_equal(weir_repl_leader_make(l, 1, &bad, 10, 0, 1000, T + 0, &adv), WEIR_E_INVALID);
    assert_int_equal(weir_repl_leader_make(l, 1, &in, 10, 4, 1000, T + 0, &adv), WEIR_OK);
    assert_int_equal(weir_repl_leader_epoch(l), 5);
    assert_int_equal(weir_repl_leader_hw(l), 4);
    int32_t isr[WEIR_REPLICAS_MAX];
    assert_int_equal(weir_repl_leader_isr(l, isr, WEIR_REPLICAS_MAX), 2);
    assert_int_equal(isr[0], 1);
    assert_int_equal(isr[1], 2);
    assert_true(weir_repl_leader_can_append_all(l, 2));
    assert_false(weir_repl_leader_can_append_all(l, 3));
    assert_int_equal(weir_repl_leader_ack_check(l, 10, 2), WEIR_REPL_ACK_WAIT);

    struct weir_repl_result res;
    assert_int_equal(weir_repl_leader_on_fetch(l, 9, 0, 10, T + 1, &res), WEIR_E_NOT_FOUND);
    assert_int_equal(weir_repl_leader_on_fetch(l, 2, 11, 10, T + 1, &res), WEIR_E_OFFSET_RANGE);
    assert_int_equal(weir_repl_leader_on_fetch(l, 2, 10, 10, T + 1, &res), WEIR_OK); /* 2 caught up: hw 10 */
    assert_true(res.hw_advanced);
    assert_false(res.propose);
    assert_int_equal(weir_repl_leader_hw(l), 10);
    assert_int_equal(weir_repl_leader_ack_check(l, 10, 2), WEIR_REPL_ACK_OK);
    assert_int_equal(weir_repl_leader_ack_check(l, 10, 3), WEIR_REPL_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND);

    /* 3 reaches the hw: proposed into the ISR; applied only after the write */
    assert_int_equal(weir_repl_leader_on_fetch(l, 3, 10, 10, T + 2, &res), WEIR_OK);
    assert_true(res.propose);
    assert_int_equal(res.isr_n, 3);
    assert_int_equal(res.isr[2], 3);
    assert_int_equal(weir_repl_leader_isr(l, isr, WEIR_REPLICAS_MAX), 2);
    weir_repl_leader_isr_failed(l);
    assert_int_equal(weir_repl_leader_isr(l, isr, WEIR_REPLICAS_MAX), 2);
    assert_int_equal(weir_repl_leader_on_fetch(l, 3, 10, 10, T + 3, &res), WEIR_OK);
    assert_true(res.propose);
    weir_repl_leader_isr_applied(l, T + 3);
    assert_int_equal(weir_repl_leader_isr(l, isr, 1), 3); /* count beyond cap */
    assert_int_equal(isr[0], 1);

    /* appends: 2 and 3 fall behind; after the lag both are proposed out */
    assert_false(weir_repl_leader_on_append(l, 20, T + 4)); /* followers hold the hw at 10 */
    weir_repl_leader_tick(l, T + 500, 1000, &res);
    assert_false(res.propose);
    weir_repl_leader_tick(l, T + 2000, 1000, &res);
    assert_true(res.propose);
    assert_int_equal(res.isr_n, 1);
    assert_int_equal(res.isr[0], 1);
    assert_true(weir_repl_leader_isr_applied(l, T + 2000)); /* alone: hw = leo */
    assert_int_equal(weir_repl_leader_hw(l), 20);

    /* a newer state while leading; an older epoch is refused */
    in = info3(1, 6, 3);
    assert_int_equal(weir_repl_leader_make(l, 1, &in, 20, 20, 1000, T + 2001, &adv), WEIR_OK);
    assert_int_equal(weir_repl_leader_epoch(l), 6);
    in.leader_epoch = 4;
    assert_int_equal(weir_repl_leader_make(l, 1, &in, 20, 20, 1000, T + 2002, &adv), WEIR_E_INVALID);
    assert_int_equal(weir_repl_leader_epoch(l), 6);
    weir_repl_leader_free(l);
}

/* Local epochs: 0 at 0, 2 at 50, 4 at 80; leo 100. */
static bool lookup(void *ctx, int32_t epoch, int32_t *epoch_out, int64_t *end_out)
{
    (void)ctx;
    static const int32_t ep[] = { 0, 2, 4 };
    static const int64_t start[] = { 0, 50, 80 };
    int i = 2;
    while (i >= 0 && ep[i] > epoch) i--;
    if (i < 0) return false;
    *epoch_out = ep[i];
    *end_out = i == 2 ? 100 : start[i + 1];
    return true;
}

static void t_follower_wrappers(void **state)
{
    (void)state;
    struct weir_trunc t = { .action = WEIR_TRUNC_RETRY, .offset = -7 };
    assert_true(weir_repl_follower_should_ask(4, 60, &t));
    assert_false(weir_repl_follower_should_ask(WEIR_UNDEFINED_EPOCH, 60, &t));
    assert_int_equal(t.action, WEIR_TRUNC_FETCH);
    assert_int_equal(t.offset, 60);
    /* the leader had epoch 4 up to 90: truncate to 90 */
    weir_repl_follower_truncation(4, 100, 60, lookup, NULL, 0, 4, 90, &t);
    assert_int_equal(t.action, WEIR_TRUNC_FETCH);
    assert_int_equal(t.offset, 90);
    /* the leader names epoch 3, which we never had: to our end of 2, ask with 2 */
    weir_repl_follower_truncation(4, 100, 60, lookup, NULL, 0, 3, 95, &t);
    assert_int_equal(t.action, WEIR_TRUNC_AGAIN);
    assert_int_equal(t.offset, 80);
    assert_int_equal(t.next_epoch, 2);
    weir_repl_follower_truncation(4, 100, 60, lookup, NULL, 74, -1, -1, &t);
    assert_int_equal(t.action, WEIR_TRUNC_FENCED);
    weir_repl_follower_truncation(4, 100, 60, lookup, NULL, 6, -1, -1, &t);
    assert_int_equal(t.action, WEIR_TRUNC_RETRY);
    weir_repl_follower_truncation(4, 100, 60, lookup, NULL, 0, WEIR_UNDEFINED_EPOCH, WEIR_UNDEFINED_EPOCH_OFFSET, &t);
    assert_int_equal(t.action, WEIR_TRUNC_FETCH);
    assert_int_equal(t.offset, 60);
}

int main(void)
{
    weir_log_set_level(getenv("RT_INFO") ? WEIR_LOG_INFO : WEIR_LOG_ERROR);
    const struct CMUnitTest unit[] = { cmocka_unit_test(t_leader_wrappers), cmocka_unit_test(t_follower_wrappers) };
    return cmocka_run_group_tests_name("replica", unit, NULL, NULL) ? 1 : 0;
}
