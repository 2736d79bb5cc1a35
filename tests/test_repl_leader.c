/* tests/test_repl_leader.c: repl/leader.c against Kafka's leader rules
 * (Partition.updateFollowerFetchState, Replica.updateFetchState,
 * maybeShrinkIsr/getOutOfSyncReplicas, maybeExpandIsr, maybeIncrementLeaderHW,
 * checkEnoughReplicasReachOffset): scripted scenarios, then seeded random
 * operation sequences with the invariants checked after every step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "repl/core_int.h"
#include "testutil.h"

enum { LAG = 10000 };

static void make3(struct rp_leader *l, int64_t leo, int64_t hw, int64_t now)
{
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2, 3 };
    bool adv;
    memset(l, 0, sizeof *l);
    assert_int_equal(rp_leader_make(l, 1, 5, replicas, 3, isr, 3, leo, hw, LAG, now, &adv), WEIR_OK);
    assert_false(adv);
}

static struct rp_leader_result fetch(struct rp_leader *l, int32_t id, int64_t off, int64_t now)
{
    struct rp_leader_result res;
    assert_int_equal(rp_leader_on_fetch(l, id, off, l->leo, now, &res), WEIR_OK);
    assert_true(rp_leader_check(l));
    return res;
}

static void test_hw_min_over_isr(void **state)
{
    (void)state;
    struct rp_leader l;
    make3(&l, 100, 90, 0);
    /* followers' leo unknown after becoming leader: hw holds */
    assert_int_equal(l.hw, 90);
    assert_int_equal(l.epoch_start, 100);
    assert_false(fetch(&l, 2, 100, 10).hw_advanced);
    assert_int_equal(l.hw, 90);
    assert_true(fetch(&l, 3, 95, 20).hw_advanced);
    assert_int_equal(l.hw, 95);
    assert_true(fetch(&l, 3, 100, 30).hw_advanced);
    assert_int_equal(l.hw, 100);
    /* the leader appends: nobody has it yet */
    assert_false(rp_leader_on_append(&l, 110, 40));
    assert_false(rp_leader_committed(&l, 100));
    assert_false(fetch(&l, 2, 110, 50).hw_advanced);
    assert_true(fetch(&l, 3, 110, 60).hw_advanced);
    assert_int_equal(l.hw, 110);
    assert_true(rp_leader_committed(&l, 109));
    /* a follower that fetches again at a lower offset (it truncated) never moves hw back */
    assert_false(fetch(&l, 2, 105, 70).hw_advanced);
    assert_int_equal(l.hw, 110);
    /* the same offset again: leo unchanged, no hw recompute */
    assert_false(fetch(&l, 3, 110, 80).hw_advanced);
}

static void test_caught_up_rule(void **state)
{
    (void)state;
    struct rp_leader l;
    make3(&l, 100, 100, 0);
    struct rp_leader_result res;
    fetch(&l, 3, 100, 0);
    /* follower 2 fetches at the leader's end */
    fetch(&l, 2, 100, 1000);
    assert_int_equal(l.replicas[1].last_caught_up_ms, 1000);
    rp_leader_on_append(&l, 150, 1500);
    /* behind the leader's end now, but past the leader's end at its previous
     * fetch: caught up as of that previous fetch (1000) */
    fetch(&l, 2, 120, 2000);
    assert_int_equal(l.replicas[1].last_caught_up_ms, 1000);
    rp_leader_on_append(&l, 200, 2500);
    fetch(&l, 2, 150, 3000); /* >= 150, the leader's end at the fetch at 2000 */
    assert_int_equal(l.replicas[1].last_caught_up_ms, 2000);
    fetch(&l, 2, 160, 4000); /* < 200, the leader's end at 3000 */
    assert_int_equal(l.replicas[1].last_caught_up_ms, 2000);
    fetch(&l, 3, 200, 4000);
    /* 2 is out once more than the lag passed since 2000 */
    rp_leader_tick(&l, 2000 + LAG, LAG, &res);
    assert_false(res.propose);
    rp_leader_tick(&l, 2000 + LAG + 1, LAG, &res);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 2);
    assert_int_equal(res.isr.isr[0], 1);
    assert_int_equal(res.isr.isr[1], 3);
    /* the ISR changes only when the write succeeded */
    assert_int_equal(l.isr.n, 3);
    assert_true(l.pending);
}

static void test_shrink_not_when_at_leader_end(void **state)
{
    (void)state;
    struct rp_leader l;
    struct rp_leader_result res;
    make3(&l, 100, 100, 0);
    fetch(&l, 2, 100, 0);
    fetch(&l, 3, 100, 0);
    /* no data for a long time, no fetch either: a follower at the leader's end stays */
    rp_leader_tick(&l, 10 * LAG, LAG, &res);
    assert_false(res.propose);
    /* the leader appends; the lag counts from the last caught-up time */
    rp_leader_on_append(&l, 101, 10 * LAG);
    rp_leader_tick(&l, 10 * LAG + 1, LAG, &res);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 1); /* both followers */
    assert_int_equal(res.isr.isr[0], 1);
    /* while pending, no other proposal */
    struct rp_leader_result res2;
    rp_leader_tick(&l, 20 * LAG, LAG, &res2);
    assert_false(res2.propose);
    /* hw waits for the maximal ISR (still 1,2,3) */
    assert_int_equal(l.hw, 100);
    assert_true(rp_leader_isr_applied(&l, 10 * LAG + 2));
    assert_int_equal(l.isr.n, 1);
    assert_int_equal(l.hw, 101); /* ISR down to the leader: its own end */
}

static void test_expand(void **state)
{
    (void)state;
    struct rp_leader l;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1 };
    bool adv;
    int64_t t = 100000; /* > LAG: followers outside the ISR start not caught up (clock 0) */
    memset(&l, 0, sizeof l);
    assert_int_equal(rp_leader_make(&l, 1, 7, replicas, 3, isr, 1, 200, 150, LAG, t, &adv), WEIR_OK);
    /* only the leader in the ISR and nobody caught up: the leader's end is the hw */
    assert_true(adv);
    assert_int_equal(l.hw, 200);
    rp_leader_on_append(&l, 300, t + 1);
    assert_int_equal(l.hw, 300);
    /* 2 reaches hw 300 (and the epoch start 200): proposed in */
    struct rp_leader_result res = fetch(&l, 2, 300, t + 2);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 2);
    assert_int_equal(res.isr.isr[1], 2);
    /* pending expand: 2 counts for the hw (the maximal ISR) */
    rp_leader_on_append(&l, 310, t + 3);
    assert_int_equal(l.hw, 300);
    /* 3 eligible too, but one proposal at a time */
    rp_leader_on_append(&l, 320, t + 4);
    res = fetch(&l, 3, 300, t + 5);
    assert_false(res.propose);
    rp_leader_isr_failed(&l);
    assert_int_equal(l.isr.n, 1);
    res = fetch(&l, 3, 300, t + 6);
    assert_true(res.propose);
    assert_false(rp_leader_isr_applied(&l, t + 7));
    assert_true(rp_isr_has(&l.isr, 3));
    assert_true(rp_leader_check(&l));
}

static void test_expand_needs_epoch_start(void **state)
{
    (void)state;
    struct rp_leader l;
    int32_t replicas[] = { 1, 2 }, isr[] = { 1 };
    bool adv;
    memset(&l, 0, sizeof l);
    /* new leader at end 500 with hw 400 (the previous leader's) */
    assert_int_equal(rp_leader_make(&l, 1, 9, replicas, 2, isr, 1, 500, 400, LAG, 0, &adv), WEIR_OK);
    assert_false(adv); /* follower 2 is caught up at time 0 (its clock restarted at 0) */
    /* 2 at 450 >= hw 400 but < epoch start 500: not in sync (it may lack
     * records the previous epoch committed above 400) */
    struct rp_leader_result res = fetch(&l, 2, 450, 1);
    assert_false(res.propose);
    assert_int_equal(l.hw, 450); /* caught up within the lag: waited for */
    res = fetch(&l, 2, 500, 2);
    assert_true(res.propose);
    assert_int_equal(l.hw, 500);
}

static void test_hw_waits_for_caught_up_follower(void **state)
{
    (void)state;
    struct rp_leader l;
    int32_t replicas[] = { 1, 2 }, isr[] = { 1 };
    bool adv;
    memset(&l, 0, sizeof l);
    assert_int_equal(rp_leader_make(&l, 1, 1, replicas, 2, isr, 1, 0, 0, LAG, 100000, &adv), WEIR_OK);
    fetch(&l, 2, 0, 100000);
    rp_leader_isr_failed(&l); /* its join is proposed at once (0 >= hw 0); refuse it */
    rp_leader_on_append(&l, 50, 100001);
    /* 2 is not in the ISR but caught up within the lag: hw waits for it */
    assert_int_equal(l.hw, 0);
    struct rp_leader_result f = fetch(&l, 2, 40, 100002);
    assert_int_equal(l.hw, 40);
    assert_true(f.propose); /* 40 >= hw: proposed again; while pending it is in the maximal ISR */
    rp_leader_isr_failed(&l);
    /* the failed write may have applied: 2 stays in the maximal ISR, even
     * once it is not caught up for the lag; the tick writes the ISR as it is
     * to settle that, and only its success lets hw go on without 2 */
    struct rp_leader_result res;
    rp_leader_tick(&l, 100000 + LAG + 1, LAG, &res);
    assert_false(res.hw_advanced);
    assert_int_equal(l.hw, 40);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 1);
    assert_true(rp_leader_isr_applied(&l, 100000 + LAG + 2));
    assert_int_equal(l.hw, 50);
}

/* An expansion whose answer was lost (the connection or the session went
 * with it) may have applied: the joiner may be in the ZooKeeper ISR, and a
 * clean election may pick it, so nothing is committed (or acknowledged)
 * that it lacks until a write or a new state settles it (found by
 * tests/sim_repl.c: the leader acknowledged a record the new ISR member
 * lacked, then that member was elected). */
static void test_failed_expansion_stays_maximal(void **state)
{
    (void)state;
    struct rp_leader l;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2 };
    bool adv;
    memset(&l, 0, sizeof l);
    assert_int_equal(rp_leader_make(&l, 1, 4, replicas, 3, isr, 2, 60, 60, LAG, 0, &adv), WEIR_OK);
    fetch(&l, 2, 60, 1);
    struct rp_leader_result res = fetch(&l, 3, 60, 2); /* 3 caught up: its join is proposed */
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 3);
    rp_leader_isr_failed(&l); /* CONNECTIONLOSS: the znode may hold [1,2,3] */
    rp_leader_on_append(&l, 61, 3);
    fetch(&l, 2, 61, 4); /* 2 has offset 60, 3 has not */
    assert_int_equal(l.hw, 60);
    assert_int_equal(rp_leader_ack_check(&l, 61, 2), RP_ACK_WAIT);
    /* 3 falls out of sync: the ISR as it is, written, settles it */
    rp_leader_tick(&l, 2 + LAG + 1, LAG, &res);
    assert_int_equal(l.hw, 60);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 2);
    assert_true(rp_leader_isr_applied(&l, 2 + LAG + 2));
    assert_int_equal(l.hw, 61);
    assert_int_equal(rp_leader_ack_check(&l, 61, 2), RP_ACK_OK);
    /* or a new state settles it: the doubt goes with a make */
    res = fetch(&l, 3, 61, 2 * LAG);
    assert_true(res.propose);
    rp_leader_isr_failed(&l);
    rp_leader_on_append(&l, 62, 2 * LAG + 1);
    fetch(&l, 2, 62, 2 * LAG + 2);
    assert_int_equal(l.hw, 61);
    int32_t isr3[] = { 1, 2, 3 }; /* the write had applied */
    assert_int_equal(rp_leader_make(&l, 1, 4, replicas, 3, isr3, 3, 62, 61, LAG, 2 * LAG + 3, &adv), WEIR_OK);
    assert_int_equal(l.hw, 61); /* 3 is in: waited for */
    assert_true(rp_leader_check(&l));
}

static void test_acks_all(void **state)
{
    (void)state;
    struct rp_leader l;
    struct rp_leader_result res;
    make3(&l, 100, 100, 0);
    assert_true(rp_leader_can_append_all(&l, 2));
    assert_true(rp_leader_can_append_all(&l, 3));
    assert_false(rp_leader_can_append_all(&l, 4));
    rp_leader_on_append(&l, 110, 1);
    assert_int_equal(rp_leader_ack_check(&l, 110, 2), RP_ACK_WAIT);
    fetch(&l, 2, 110, 2);
    assert_int_equal(rp_leader_ack_check(&l, 110, 2), RP_ACK_WAIT); /* 3 has not */
    /* 3 falls out; hw reaches 110 after the shrink: ISR 2 < 3 -> error 20 */
    rp_leader_on_append(&l, 111, 2);
    fetch(&l, 2, 111, 3);
    rp_leader_tick(&l, LAG + 1, LAG, &res);
    assert_true(res.propose);
    assert_int_equal(res.isr.n, 2); /* 3 never fetched: out */
    assert_int_equal(l.hw, 100);    /* 3 still counts while the shrink is pending */
    assert_true(rp_leader_isr_applied(&l, LAG + 1));
    assert_int_equal(l.hw, 111);
    assert_int_equal(rp_leader_ack_check(&l, 110, 2), RP_ACK_OK);
    assert_int_equal(rp_leader_ack_check(&l, 110, 3), RP_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    assert_false(rp_leader_can_append_all(&l, 3));
}

static void test_errors(void **state)
{
    (void)state;
    struct rp_leader l;
    struct rp_leader_result res;
    int32_t replicas[] = { 1, 2, 3 }, isr_bad[] = { 2, 3 }, isr_dup[] = { 1, 1 }, isr_out[] = { 1, 4 };
    bool adv;
    memset(&l, 0, sizeof l);
    assert_int_equal(rp_leader_make(&l, 1, 1, replicas, 3, isr_bad, 2, 10, 5, LAG, 0, &adv), WEIR_E_INVALID);
    assert_int_equal(rp_leader_make(&l, 1, 1, replicas, 3, isr_dup, 2, 10, 5, LAG, 0, &adv), WEIR_E_INVALID);
    assert_int_equal(rp_leader_make(&l, 1, 1, replicas, 3, isr_out, 2, 10, 5, LAG, 0, &adv), WEIR_E_INVALID);
    assert_int_equal(rp_leader_make(&l, 1, 1, replicas, 3, replicas, 3, 10, 11, LAG, 0, &adv), WEIR_E_INVALID);
    assert_false(l.active);
    make3(&l, 100, 100, 0);
    assert_int_equal(rp_leader_on_fetch(&l, 4, 10, 100, 1, &res), WEIR_E_NOT_FOUND);
    assert_int_equal(rp_leader_on_fetch(&l, 1, 10, 100, 1, &res), WEIR_E_NOT_FOUND);
    assert_int_equal(rp_leader_on_fetch(&l, 2, 101, 100, 1, &res), WEIR_E_OFFSET_RANGE);
    assert_int_equal(rp_leader_on_fetch(&l, 2, -1, 100, 1, &res), WEIR_E_OFFSET_RANGE);
    /* an older epoch while leading is refused */
    int32_t isr[] = { 1, 2, 3 };
    assert_int_equal(rp_leader_make(&l, 1, 4, replicas, 3, isr, 3, 100, 100, LAG, 1, &adv), WEIR_E_INVALID);
    /* a newer epoch while leading keeps the followers' offsets and the hw */
    fetch(&l, 2, 100, 1);
    assert_int_equal(rp_leader_make(&l, 1, 6, replicas, 3, isr, 3, 100, 100, LAG, 2, &adv), WEIR_OK);
    assert_int_equal(l.replicas[1].leo, 100);
    assert_int_equal(l.epoch, 6);
}

/* Random operation sequences: appends, fetches (mostly rising, sometimes
 * lower after a pretend truncation), ticks, proposals applied or refused.
 * After every step: rp_leader_check; hw never backwards; whenever hw moved,
 * every member of the maximal ISR and the leader has it (acks=all safety). */
static void test_random(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        uint64_t rng = seed * 0x9e3779b97f4a7c15ull;
        struct rp_leader l;
        int32_t n = 2 + (int32_t)(tu_rand(&rng) % 4);
        int32_t replicas[6], isr[6];
        uint32_t isr_n = 0;
        for (int32_t i = 0; i < n; i++) {
            replicas[i] = i + 10;
            if (i == 0 || tu_rand(&rng) % 2) isr[isr_n++] = i + 10;
        }
        int64_t now = 1000, leo = (int64_t)(tu_rand(&rng) % 100), lag = 50 + (int64_t)(tu_rand(&rng) % 200);
        bool adv;
        memset(&l, 0, sizeof l);
        assert_int_equal(rp_leader_make(&l, 10, 1, replicas, (uint32_t)n, isr, isr_n, leo, leo / 2, lag, now, &adv),
                         WEIR_OK);
        for (int step = 0; step < 400; step++) {
            int64_t hw_before = l.hw;
            struct rp_leader_result res = { 0 };
            now += (int64_t)(tu_rand(&rng) % 40);
            switch (tu_rand(&rng) % 6) {
            case 0: rp_leader_on_append(&l, l.leo + (int64_t)(tu_rand(&rng) % 10), now); break;
            case 1: rp_leader_tick(&l, now, lag, &res); break;
            case 2:
                if (l.pending) {
                    if (tu_rand(&rng) % 4) rp_leader_isr_applied(&l, now);
                    else rp_leader_isr_failed(&l);
                }
                break;
            default: {
                int32_t id = replicas[1 + tu_rand(&rng) % (uint64_t)(n - 1)];
                struct rp_replica *r = NULL;
                for (int32_t i = 0; i < n; i++)
                    if (l.replicas[i].id == id) r = &l.replicas[i];
                int64_t from = r->leo < 0 ? 0 : r->leo;
                int64_t off = tu_rand(&rng) % 20 == 0 ? (int64_t)(tu_rand(&rng) % (uint64_t)(l.leo + 1))
                                                      : from + (int64_t)(tu_rand(&rng) % (uint64_t)(l.leo - from + 1));
                assert_int_equal(rp_leader_on_fetch(&l, id, off, l.leo, now, &res), WEIR_OK);
                if (res.propose) assert_int_equal(res.isr.n, l.isr.n + 1);
            }
            }
            assert_true(rp_leader_check(&l));
            assert_true(l.hw >= hw_before);
            assert_true(rp_isr_has(&l.isr, 10));
            if (l.hw > hw_before) {
                for (int32_t i = 0; i < n; i++) {
                    const struct rp_replica *r = &l.replicas[i];
                    bool member = rp_isr_has(&l.isr, r->id) || (l.pending && rp_isr_has(&l.proposal, r->id));
                    if (member && r->leo < l.hw) fail_msg("seed %llu step %d: hw %lld above member %d at %lld",
                                                          (unsigned long long)seed, step, (long long)l.hw, r->id,
                                                          (long long)r->leo);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hw_min_over_isr),
        cmocka_unit_test(test_caught_up_rule),
        cmocka_unit_test(test_shrink_not_when_at_leader_end),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_needs_epoch_start),
        cmocka_unit_test(test_hw_waits_for_caught_up_follower),
        cmocka_unit_test(test_failed_expansion_stays_maximal),
        cmocka_unit_test(test_acks_all),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
