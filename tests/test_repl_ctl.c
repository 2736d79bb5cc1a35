/* tests/test_repl_ctl.c: repl/ctl.c, the controller's decisions as Kafka's
 * ZooKeeper-era controller makes them: offline election (clean, unclean,
 * none), new partitions, a broker dying as leader and as follower (KIP-966:
 * the last ISR member stays), a broker coming back, controlled shutdown,
 * preferred leaders, AdminUtils' rack-unaware assignment (Kafka's own test
 * vector), and seeded random inputs with the invariants: an elected leader is
 * live and (clean) in the old ISR, the epoch rises by one on every change,
 * the ISR is never empty and holds the leader when there is one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include "repl/core_int.h"
#include "testutil.h"

static struct rp_pstate st(int32_t leader, int32_t epoch, const int32_t *isr, uint32_t n)
{
    struct rp_pstate s = { .leader = leader, .leader_epoch = epoch, .controller_epoch = 1, .isr_n = n };
    memcpy(s.isr, isr, sizeof *isr * n);
    return s;
}

static bool gone1(const struct rp_ctl *c, const int32_t *replicas, uint32_t n, const struct rp_pstate *cur,
                  int32_t gone, bool unclean, struct rp_pstate *next)
{
    return rp_ctl_brokers_gone(c, replicas, n, cur, &gone, 1, unclean, next);
}

static void assert_isr(const struct rp_pstate *s, const int32_t *want, uint32_t n)
{
    assert_int_equal(s->isr_n, n);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(s->isr[i], want[i]);
}

static void test_elect_offline(void **state)
{
    (void)state;
    int32_t replicas[] = { 3, 1, 2 }, live[] = { 1, 2 }, isr[] = { 2, 1, 3 };
    struct rp_ctl c = { live, 2, 7 };
    struct rp_pstate cur = st(3, 4, isr, 3), next;
    /* assignment order decides, not ISR order */
    assert_true(rp_elect_offline(&c, replicas, 3, &cur, false, &next));
    assert_int_equal(next.leader, 1);
    assert_int_equal(next.leader_epoch, 5);
    assert_int_equal(next.controller_epoch, 7);
    int32_t want[] = { 2, 1 };
    assert_isr(&next, want, 2);
    /* no live ISR member: clean fails, unclean takes the first live replica alone */
    int32_t isr3[] = { 3 };
    cur = st(3, 4, isr3, 1);
    assert_false(rp_elect_offline(&c, replicas, 3, &cur, false, &next));
    assert_true(rp_elect_offline(&c, replicas, 3, &cur, true, &next));
    assert_int_equal(next.leader, 1);
    int32_t want1[] = { 1 };
    assert_isr(&next, want1, 1);
    struct rp_ctl none = { live, 0, 7 };
    assert_false(rp_elect_offline(&none, replicas, 3, &cur, true, &next));
}

static void test_new_partition(void **state)
{
    (void)state;
    int32_t replicas[] = { 2, 0, 1 }, live[] = { 0, 1, 5 };
    struct rp_ctl c = { live, 3, 3 };
    struct rp_pstate next;
    assert_true(rp_ctl_new_partition(&c, replicas, 3, &next));
    assert_int_equal(next.leader, 0);
    assert_int_equal(next.leader_epoch, 0);
    assert_int_equal(next.controller_epoch, 3);
    int32_t want[] = { 0, 1 };
    assert_isr(&next, want, 2);
    int32_t dead[] = { 7 };
    assert_false(rp_ctl_new_partition(&c, dead, 1, &next));
}

static void test_broker_gone(void **state)
{
    (void)state;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2, 3 }, live[] = { 2, 3 };
    struct rp_ctl c = { live, 2, 9 };
    struct rp_pstate cur = st(1, 10, isr, 3), next;
    /* its leader dies: the next in assignment order, ISR without it */
    assert_true(gone1(&c, replicas, 3, &cur, 1, false, &next));
    assert_int_equal(next.leader, 2);
    assert_int_equal(next.leader_epoch, 11);
    int32_t w23[] = { 2, 3 };
    assert_isr(&next, w23, 2);
    /* a follower dies: out of the ISR, leader kept, epoch bumped (newLeaderAndIsr) */
    cur = st(2, 11, isr, 3);
    int32_t live13[] = { 1, 3 };
    struct rp_ctl c2 = { live13, 2, 9 };
    assert_true(gone1(&c2, replicas, 3, &cur, 2, false, &next));
    assert_int_equal(next.leader, 1); /* 2 was the leader: 1 is first live in the ISR */
    cur = st(3, 11, isr, 3);
    assert_true(gone1(&c2, replicas, 3, &cur, 2, false, &next));
    assert_int_equal(next.leader, 3);
    assert_int_equal(next.leader_epoch, 12);
    int32_t w13[] = { 1, 3 };
    assert_isr(&next, w13, 2);
    /* not in the ISR: nothing to do */
    int32_t isr13[] = { 1, 3 };
    cur = st(3, 11, isr13, 2);
    assert_false(gone1(&c2, replicas, 3, &cur, 2, false, &next));
}

/* Two brokers die at once: one election, then each leaves the ISR (each an epoch). */
static void test_brokers_gone_together(void **state)
{
    (void)state;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2, 3 }, live[] = { 3 }, gone[] = { 1, 2 };
    struct rp_ctl c = { live, 1, 9 };
    struct rp_pstate cur = st(1, 4, isr, 3), next;
    assert_true(rp_ctl_brokers_gone(&c, replicas, 3, &cur, gone, 2, false, &next));
    assert_int_equal(next.leader, 3);
    assert_int_equal(next.leader_epoch, 5); /* the election already dropped both from the ISR */
    int32_t w3[] = { 3 };
    assert_isr(&next, w3, 1);
    /* a follower partition: 3 leads; 1 and 2 leave one after the other */
    cur = st(3, 4, isr, 3);
    assert_true(rp_ctl_brokers_gone(&c, replicas, 3, &cur, gone, 2, false, &next));
    assert_int_equal(next.leader, 3);
    assert_int_equal(next.leader_epoch, 6);
    assert_isr(&next, w3, 1);
    /* all replicas gone: the last ISR member in order stays */
    struct rp_ctl nobody = { live, 0, 9 };
    int32_t all[] = { 1, 2, 3 };
    cur = st(1, 4, isr, 3);
    assert_true(rp_ctl_brokers_gone(&nobody, replicas, 3, &cur, all, 3, false, &next));
    assert_int_equal(next.leader, RP_NO_LEADER);
    assert_isr(&next, w3, 1);
    assert_int_equal(next.leader_epoch, 7);
}

static void test_imbalance(void **state)
{
    (void)state;
    int32_t r1[] = { 1, 2 }, r2[] = { 2, 1 }, isr[] = { 1, 2 };
    struct rp_pstate led1 = st(1, 1, isr, 2), led2 = st(2, 1, isr, 2);
    /* broker 1 prefers 10 partitions; k of them led by 2 */
    struct rp_ctl_part parts[11];
    for (int k = 0; k <= 2; k++) {
        for (int i = 0; i < 10; i++) parts[i] = (struct rp_ctl_part){ r1, 2, i < k ? &led2 : &led1 };
        parts[10] = (struct rp_ctl_part){ r2, 2, &led1 }; /* broker 2's, led by 1 */
        /* 10%: more than 1 in 10 */
        assert_int_equal(rp_ctl_imbalanced(parts, 11, 1, 10), k > 1);
    }
    assert_true(rp_ctl_imbalanced(parts, 11, 2, 10)); /* 1 of 1 */
    assert_false(rp_ctl_imbalanced(parts, 11, 3, 10)); /* prefers none */
}

static void test_broker_gone_elects_live(void **state)
{
    (void)state;
    /* leader 2 dies; 1 (first in assignment) is live and in ISR */
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2, 3 }, live[] = { 1, 3 };
    struct rp_ctl c = { live, 2, 9 };
    struct rp_pstate cur = st(2, 5, isr, 3), next;
    assert_true(gone1(&c, replicas, 3, &cur, 2, false, &next));
    assert_int_equal(next.leader, 1);
    int32_t w13[] = { 1, 3 };
    assert_isr(&next, w13, 2);
}

/* KIP-966: the last ISR member dies; clean election impossible: leader -1,
 * the ISR keeps it; when it comes back it leads; another replica does not
 * (unless unclean). */
static void test_last_replica_standing(void **state)
{
    (void)state;
    int32_t replicas[] = { 1, 2 }, isr1[] = { 1 }, live2[] = { 2 };
    struct rp_ctl c = { live2, 2, 4 };
    c.live_n = 1;
    struct rp_pstate cur = st(1, 8, isr1, 1), next;
    assert_true(gone1(&c, replicas, 2, &cur, 1, false, &next));
    assert_int_equal(next.leader, RP_NO_LEADER);
    assert_int_equal(next.leader_epoch, 9);
    assert_isr(&next, isr1, 1);
    /* 2 is live but not in the ISR: clean retry does nothing */
    struct rp_pstate off = next;
    assert_false(rp_ctl_offline_retry(&c, replicas, 2, &off, false, &next));
    /* unclean: 2 alone */
    assert_true(rp_ctl_offline_retry(&c, replicas, 2, &off, true, &next));
    assert_int_equal(next.leader, 2);
    assert_isr(&next, live2, 1);
    /* 1 comes back: it leads again */
    int32_t live12[] = { 1, 2 };
    struct rp_ctl back = { live12, 2, 4 };
    assert_true(rp_ctl_offline_retry(&back, replicas, 2, &off, false, &next));
    assert_int_equal(next.leader, 1);
    assert_int_equal(next.leader_epoch, 10);
    assert_isr(&next, isr1, 1);
    /* an online partition is left alone */
    assert_false(rp_ctl_offline_retry(&back, replicas, 2, &next, false, &next));
}

static void test_controlled_shutdown(void **state)
{
    (void)state;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 1, 2, 3 }, live[] = { 1, 2, 3 };
    struct rp_ctl c = { live, 3, 2 };
    struct rp_pstate cur = st(1, 3, isr, 3), next;
    assert_true(rp_ctl_shutdown(&c, replicas, 3, &cur, 1, &next));
    assert_int_equal(next.leader, 2);
    assert_int_equal(next.leader_epoch, 4);
    int32_t w23[] = { 2, 3 };
    assert_isr(&next, w23, 2);
    /* followed: leaves the ISR */
    assert_true(rp_ctl_shutdown(&c, replicas, 3, &cur, 3, &next));
    assert_int_equal(next.leader, 1);
    int32_t w12[] = { 1, 2 };
    assert_isr(&next, w12, 2);
    /* alone in the ISR: it keeps leading (retry later) */
    int32_t isr1[] = { 1 };
    cur = st(1, 3, isr1, 1);
    assert_false(rp_ctl_shutdown(&c, replicas, 3, &cur, 1, &next));
    /* replication factor 1: nothing to move */
    int32_t one[] = { 1 };
    assert_false(rp_ctl_shutdown(&c, one, 1, &cur, 1, &next));
}

static void test_preferred(void **state)
{
    (void)state;
    int32_t replicas[] = { 1, 2, 3 }, isr[] = { 2, 3, 1 }, live[] = { 1, 2, 3 };
    struct rp_ctl c = { live, 3, 2 };
    struct rp_pstate cur = st(2, 3, isr, 3), next;
    assert_true(rp_ctl_preferred(&c, replicas, 3, &cur, &next));
    assert_int_equal(next.leader, 1);
    assert_int_equal(next.leader_epoch, 4);
    assert_isr(&next, isr, 3);
    assert_false(rp_ctl_preferred(&c, replicas, 3, &next, &next)); /* already */
    int32_t isr23[] = { 2, 3 };
    cur = st(2, 3, isr23, 2);
    assert_false(rp_ctl_preferred(&c, replicas, 3, &cur, &next)); /* not in ISR */
    int32_t live23[] = { 2, 3 };
    struct rp_ctl c2 = { live23, 2, 2 };
    cur = st(2, 3, isr, 3);
    assert_false(rp_ctl_preferred(&c2, replicas, 3, &cur, &next)); /* not live */
}

static void test_assign_kafka_vector(void **state)
{
    (void)state;
    /* AdminRackAwareTest.testReplicaAssignment: 5 brokers, 10 partitions, rf 3, start 0 */
    int32_t brokers[] = { 0, 1, 2, 3, 4 }, out[30];
    const int32_t want[10][3] = { { 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
                                  { 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 } };
    assert_int_equal(rp_assign_rack_unaware(10, 3, brokers, 5, 0, 0, 0, out), WEIR_OK);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(rp_assign_rack_unaware(10, 0, brokers, 5, 0, 0, 0, out), WEIR_E_INVALID);
    assert_int_equal(rp_assign_rack_unaware(10, 6, brokers, 5, 0, 0, 0, out), WEIR_E_INVALID);
    assert_int_equal(rp_assign_rack_unaware(0, 3, brokers, 5, 0, 0, 0, out), WEIR_E_BAD_PARTITIONS);
    int32_t unsorted[] = { 1, 0 };
    assert_int_equal(rp_assign_rack_unaware(1, 1, unsorted, 2, 0, 0, 0, out), WEIR_E_INVALID);
    assert_int_equal(rp_assign_rack_unaware(1, 1, brokers, 5, 5, 0, 0, out), WEIR_E_INVALID);
    /* CreatePartitions continues from start_partition: partitions 5..9 equal the above */
    assert_int_equal(rp_assign_rack_unaware(5, 3, brokers, 5, 0, 0, 5, out), WEIR_OK);
    assert_memory_equal(out, want[5], sizeof want[0] * 5);
    /* ids need not be dense: index into the sorted list */
    int32_t ids[] = { 10, 20, 30 };
    assert_int_equal(rp_assign_rack_unaware(3, 2, ids, 3, 1, 0, 0, out), WEIR_OK);
    const int32_t want2[] = { 20, 30, 30, 10, 10, 20 };
    assert_memory_equal(out, want2, sizeof want2);
}

static bool in(const int32_t *ids, uint32_t n, int32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static void check_change(const struct rp_pstate *cur, const struct rp_pstate *next, const struct rp_ctl *c)
{
    assert_int_equal(next->leader_epoch, cur->leader_epoch + 1);
    assert_int_equal(next->controller_epoch, c->epoch);
    assert_true(next->isr_n >= 1);
    if (next->leader != RP_NO_LEADER) assert_true(in(next->isr, next->isr_n, next->leader));
    for (uint32_t i = 0; i < next->isr_n; i++)
        for (uint32_t k = 0; k < i; k++) assert_int_not_equal(next->isr[i], next->isr[k]);
}

static void test_random_invariants(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20000; seed++) {
        uint64_t rng = seed * 0x9e3779b97f4a7c15ull;
        int32_t replicas[6], live[8], isr[6];
        uint32_t n = 1 + (uint32_t)(tu_rand(&rng) % 5), live_n = 0, isr_n = 0;
        /* replicas: distinct ids from 0..7 in random order */
        for (uint32_t i = 0; i < n;) {
            int32_t id = (int32_t)(tu_rand(&rng) % 8);
            if (!in(replicas, i, id)) replicas[i++] = id;
        }
        for (int32_t id = 0; id < 8; id++)
            if (tu_rand(&rng) % 3) live[live_n++] = id;
        for (uint32_t i = 0; i < n; i++)
            if (tu_rand(&rng) % 2) isr[isr_n++] = replicas[i];
        if (isr_n == 0) isr[isr_n++] = replicas[0];
        int32_t leader = tu_rand(&rng) % 4 == 0 ? RP_NO_LEADER : isr[tu_rand(&rng) % isr_n];
        struct rp_pstate cur = st(leader, (int32_t)(tu_rand(&rng) % 100), isr, isr_n), next;
        struct rp_ctl c = { live, live_n, 3 };
        bool unclean = tu_rand(&rng) % 2;
        if (rp_elect_offline(&c, replicas, n, &cur, unclean, &next)) {
            check_change(&cur, &next, &c);
            assert_true(in(live, live_n, next.leader) && in(replicas, n, next.leader));
            bool clean = in(cur.isr, cur.isr_n, next.leader);
            assert_true(clean || unclean);
            if (clean)
                for (uint32_t i = 0; i < next.isr_n; i++)
                    assert_true(in(cur.isr, cur.isr_n, next.isr[i]) && in(live, live_n, next.isr[i]));
        } else {
            /* clean: no live ISR member; unclean: no live replica */
            for (uint32_t i = 0; i < n; i++)
                assert_false(in(live, live_n, replicas[i]) && (unclean || in(cur.isr, cur.isr_n, replicas[i])));
        }
        /* a live broker dies */
        if (live_n) {
            uint32_t k = (uint32_t)(tu_rand(&rng) % live_n);
            int32_t gone = live[k], after[8];
            uint32_t after_n = 0;
            for (uint32_t i = 0; i < live_n; i++)
                if (i != k) after[after_n++] = live[i];
            struct rp_ctl ca = { after, after_n, 3 };
            if (gone1(&ca, replicas, n, &cur, gone, unclean, &next)) {
                assert_true(next.leader_epoch > cur.leader_epoch);
                assert_int_equal(next.controller_epoch, 3);
                assert_true(next.isr_n >= 1);
                if (next.leader != RP_NO_LEADER) assert_true(in(next.isr, next.isr_n, next.leader));
                assert_int_not_equal(next.leader, gone);
                if (next.leader != cur.leader && next.leader != RP_NO_LEADER)
                    assert_true(in(after, after_n, next.leader) && (unclean || in(cur.isr, cur.isr_n, next.leader)));
                if (cur.isr_n > 1) assert_false(in(next.isr, next.isr_n, gone));
            } else {
                assert_false(in(cur.isr, cur.isr_n, gone));
                assert_true(cur.leader != gone);
            }
            /* controlled shutdown of a live broker */
            if (rp_ctl_shutdown(&c, replicas, n, &cur, gone, &next)) {
                check_change(&cur, &next, &c);
                assert_int_not_equal(next.leader, gone);
                if (next.leader != cur.leader) assert_true(in(cur.isr, cur.isr_n, next.leader) && in(live, live_n, next.leader));
            }
        }
        if (rp_ctl_preferred(&c, replicas, n, &cur, &next)) {
            check_change(&cur, &next, &c);
            assert_int_equal(next.leader, replicas[0]);
        }
        /* assignment: distinct brokers per partition, leaders spread evenly */
        int32_t brokers[8], out[16 * 6];
        uint32_t bn = 0;
        for (int32_t id = 0; id < 8; id++)
            if (tu_rand(&rng) % 2 || id == 0) brokers[bn++] = id * 3;
        uint32_t rf = 1 + (uint32_t)(tu_rand(&rng) % bn), parts = 1 + (uint32_t)(tu_rand(&rng) % 16);
        uint32_t start = (uint32_t)(tu_rand(&rng) % bn), shift = (uint32_t)(tu_rand(&rng) % bn);
        if (rf > 6) rf = 6;
        assert_int_equal(rp_assign_rack_unaware(parts, rf, brokers, bn, start, shift, 0, out), WEIR_OK);
        uint32_t lead[8] = { 0 };
        for (uint32_t p = 0; p < parts; p++) {
            for (uint32_t j = 0; j < rf; j++) {
                assert_true(in(brokers, bn, out[p * rf + j]));
                for (uint32_t k = 0; k < j; k++) assert_int_not_equal(out[p * rf + j], out[p * rf + k]);
            }
            lead[out[p * rf] / 3]++;
        }
        uint32_t lo = UINT32_MAX, hi = 0;
        for (uint32_t i = 0; i < bn; i++) {
            uint32_t v = lead[brokers[i] / 3];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        assert_true(hi - lo <= 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elect_offline),
        cmocka_unit_test(test_new_partition),
        cmocka_unit_test(test_broker_gone),
        cmocka_unit_test(test_broker_gone_elects_live),
        cmocka_unit_test(test_brokers_gone_together),
        cmocka_unit_test(test_imbalance),
        cmocka_unit_test(test_last_replica_standing),
        cmocka_unit_test(test_controlled_shutdown),
        cmocka_unit_test(test_preferred),
        cmocka_unit_test(test_assign_kafka_vector),
        cmocka_unit_test(test_random_invariants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
