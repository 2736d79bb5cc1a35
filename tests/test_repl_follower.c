/* tests/test_repl_follower.c: repl/follower.c: LeaderEpochFileCache.endOffsetFor
 * cases, KIP-101's two scenarios (high-watermark truncation losing a
 * committed record; replicas diverging after both crash), KIP-279's fast
 * leader changes (truncate, ask again), and the fallbacks (no epochs locally,
 * a leader without epoch info, protocol v0 answers, errors). Each scenario
 * runs the follower's loop against the leader's cache to the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include "repl/core_int.h"
#include "testutil.h"

/* A replica: its epoch cache and log end. */
struct rep {
    struct rp_epoch_entry e[8];
    uint32_t n;
    int64_t leo, hw;
};

static bool rep_lookup(void *ctx, int32_t epoch, int32_t *epoch_out, int64_t *end_out)
{
    const struct rep *r = ctx;
    rp_epoch_end_offset(r->e, r->n, epoch, r->leo, epoch_out, end_out);
    return *end_out != RP_UNDEFINED_EPOCH_OFFSET; /* Log.endOffsetForEpoch */
}

/* LeaderEpochFileCache.truncateFromEnd and the log's truncation. */
static void rep_truncate(struct rep *r, int64_t to)
{
    while (r->n && r->e[r->n - 1].start >= to) r->n--;
    r->leo = to;
    if (r->hw > to) r->hw = to;
}

/* The follower's truncation loop against leader; returns the fetch offset
 * and counts the OffsetsForLeaderEpoch round trips. */
static int64_t reconcile(struct rep *f, const struct rep *leader, int *asks)
{
    struct rp_trunc t;
    *asks = 0;
    if (!rp_follower_should_ask(f->n ? f->e[f->n - 1].epoch : RP_UNDEFINED_EPOCH, f->hw, &t)) {
        rep_truncate(f, t.offset);
        return t.offset;
    }
    int32_t ask = f->e[f->n - 1].epoch;
    for (;;) {
        int32_t le;
        int64_t lend;
        (*asks)++;
        assert_true(*asks < 10);
        rp_epoch_end_offset(leader->e, leader->n, ask, leader->leo, &le, &lend);
        rp_follower_truncation(f->n ? f->e[f->n - 1].epoch : RP_UNDEFINED_EPOCH, f->leo, f->hw, rep_lookup, f, 0, le,
                               lend, &t);
        assert_true(t.offset <= f->leo);
        rep_truncate(f, t.offset);
        if (t.action == RP_TRUNC_FETCH) return t.offset;
        assert_int_equal(t.action, RP_TRUNC_AGAIN);
        assert_int_equal(f->e[f->n - 1].epoch, t.next_epoch); /* the cache's latest after truncation */
        ask = t.next_epoch;
    }
}

static void test_end_offset_for(void **state)
{
    (void)state;
    struct rp_epoch_entry e[] = { { 2, 10 }, { 4, 20 }, { 5, 30 } };
    int32_t ep;
    int64_t end;
    rp_epoch_end_offset(e, 3, 5, 42, &ep, &end); /* latest: the log end */
    assert_int_equal(ep, 5), assert_int_equal(end, 42);
    rp_epoch_end_offset(e, 3, 4, 42, &ep, &end);
    assert_int_equal(ep, 4), assert_int_equal(end, 30);
    rp_epoch_end_offset(e, 3, 3, 42, &ep, &end); /* never had 3: its floor 2 ends at 4's start */
    assert_int_equal(ep, 2), assert_int_equal(end, 20);
    rp_epoch_end_offset(e, 3, 1, 42, &ep, &end); /* below every epoch */
    assert_int_equal(ep, 1), assert_int_equal(end, 10);
    rp_epoch_end_offset(e, 3, 6, 42, &ep, &end); /* above every epoch */
    assert_int_equal(ep, -1), assert_int_equal(end, -1);
    rp_epoch_end_offset(e, 3, -1, 42, &ep, &end);
    assert_int_equal(ep, -1), assert_int_equal(end, -1);
    rp_epoch_end_offset(e, 0, 3, 42, &ep, &end);
    assert_int_equal(ep, -1), assert_int_equal(end, -1);
}

/* KIP-101 scenario 1: B fetched m2 but has hw 1 when it restarts. Truncating
 * to hw (the old rule) drops m2; A then dies, B leads, and m2 (acknowledged)
 * is gone. By epoch, B keeps m2. */
static void test_kip101_hw_truncation(void **state)
{
    (void)state;
    struct rep a = { { { 0, 0 } }, 1, 2, 2 }; /* m1 m2, hw 2 */
    struct rep b = { { { 0, 0 } }, 1, 2, 1 }; /* m1 m2, hw 1 (not yet told) */
    int asks;
    assert_int_equal(reconcile(&b, &a, &asks), 2);
    assert_int_equal(asks, 1);
    assert_int_equal(b.leo, 2); /* m2 kept */
}

/* KIP-101 scenario 2: A has m1 m2 (epoch 0), B has m1; both crash; B comes
 * back first, leads at epoch 1 and writes m3 at offset 1. A, following,
 * must drop its m2 at offset 1 (else the logs diverge at offset 1). */
static void test_kip101_divergence(void **state)
{
    (void)state;
    struct rep a = { { { 0, 0 } }, 1, 2, 2 };
    struct rep b = { { { 0, 0 }, { 1, 1 } }, 2, 2, 1 }; /* m1, then m3 at epoch 1 */
    int asks;
    assert_int_equal(reconcile(&a, &b, &asks), 1);
    assert_int_equal(asks, 1);
    assert_int_equal(a.leo, 1);
    assert_int_equal(a.n, 1);
}

/* KIP-279: fast leader changes. The follower F led epoch 2 and wrote 5..7;
 * L led epoch 1 (writing 5..8) and now epoch 3. L answers epoch 2 with
 * (1, 9); F never had epoch 1: KIP-101 alone would keep F's 5..7 (min(9, 8))
 * and diverge. F truncates to the end of its floor epoch 0 (5) and asks again
 * with epoch 0: L answers (0, 5): fetch from 5. */
static void test_kip279_fast_leader_change(void **state)
{
    (void)state;
    struct rep f = { { { 0, 0 }, { 2, 5 } }, 2, 8, 5 };
    struct rep l = { { { 0, 0 }, { 1, 5 }, { 3, 9 } }, 3, 12, 9 };
    int asks;
    struct rp_trunc t;
    int32_t le;
    int64_t lend;
    rp_epoch_end_offset(l.e, l.n, 2, l.leo, &le, &lend);
    assert_int_equal(le, 1), assert_int_equal(lend, 9);
    rp_follower_truncation(2, f.leo, f.hw, rep_lookup, &f, 0, le, lend, &t);
    assert_int_equal(t.action, RP_TRUNC_AGAIN);
    assert_int_equal(t.offset, 5);
    assert_int_equal(t.next_epoch, 0);
    assert_int_equal(reconcile(&f, &l, &asks), 5);
    assert_int_equal(asks, 2);
}

/* KIP-279 where the follower does have the leader's answered epoch. */
static void test_kip279_common_epoch(void **state)
{
    (void)state;
    /* F: epochs 0 at 0, 1 at 4, 3 at 7 (its own short reign), leo 9. L: 0, 1, 2 at 8, 4 at 12, leo 15. */
    struct rep f = { { { 0, 0 }, { 1, 4 }, { 3, 7 } }, 3, 9, 7 };
    struct rep l = { { { 0, 0 }, { 1, 4 }, { 2, 8 }, { 4, 12 } }, 4, 15, 12 };
    int asks;
    /* ask 3 -> L (2, 12); F's floor for 2 is 1 ending at 7 -> AGAIN at 7 with 1;
     * ask 1 -> L (1, 8); F (1, leo 7) -> fetch from min(7, 8) = 7 */
    assert_int_equal(reconcile(&f, &l, &asks), 7);
    assert_int_equal(asks, 2);
}

static void test_fallbacks(void **state)
{
    (void)state;
    struct rep f = { { { 3, 0 } }, 1, 100, 60 };
    struct rp_trunc t;
    /* no epochs locally (old message format): truncate to hw, no request */
    assert_false(rp_follower_should_ask(RP_UNDEFINED_EPOCH, 60, &t));
    assert_int_equal(t.action, RP_TRUNC_FETCH);
    assert_int_equal(t.offset, 60);
    assert_true(rp_follower_should_ask(3, 60, &t));
    /* the leader has no epoch info: the initial fetch offset (hw) */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, RP_UNDEFINED_EPOCH, RP_UNDEFINED_EPOCH_OFFSET, &t);
    assert_int_equal(t.action, RP_TRUNC_FETCH);
    assert_int_equal(t.offset, 60);
    /* an offset without an epoch (v0): the leader's offset, capped at ours */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, RP_UNDEFINED_EPOCH, 80, &t);
    assert_int_equal(t.offset, 80);
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, RP_UNDEFINED_EPOCH, 120, &t);
    assert_int_equal(t.offset, 100);
    /* an epoch below any we track: the leader's offset */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, 2, 90, &t);
    assert_int_equal(t.action, RP_TRUNC_FETCH);
    /* rep_lookup of 2 answers (2, 0): same epoch -> min(0, 90, 100) */
    assert_int_equal(t.offset, 0);
    struct rep g = { { { 3, 50 } }, 1, 100, 60 };
    g.n = 0; /* an empty cache answers nothing */
    rp_follower_truncation(3, 100, 60, rep_lookup, &g, 0, 2, 90, &t);
    assert_int_equal(t.offset, 90);
    /* same epoch, leader longer: keep ours */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, 3, 150, &t);
    assert_int_equal(t.offset, 100);
    /* an answer above what we asked: bad, retry */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 0, 4, 150, &t);
    assert_int_equal(t.action, RP_TRUNC_RETRY);
    /* errors */
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, RP_ERR_FENCED_LEADER_EPOCH, -1, -1, &t);
    assert_int_equal(t.action, RP_TRUNC_FENCED);
    rp_follower_truncation(3, 100, 60, rep_lookup, &f, 6, -1, -1, &t);
    assert_int_equal(t.action, RP_TRUNC_RETRY);
}

/* Random histories: a leader and a follower share a prefix, then each
 * appends under its own epochs (the leader's epochs above the follower's
 * divergent ones interleave). After reconcile, the follower's log is a
 * prefix of the leader's (by epoch of every offset), and nothing common was
 * dropped: the fetch offset >= the shared prefix. */
static int32_t epoch_at(const struct rep *r, int64_t off)
{
    int32_t ep = -1;
    for (uint32_t i = 0; i < r->n && r->e[i].start <= off; i++) ep = r->e[i].epoch;
    return ep;
}

static void test_random_histories(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 2000; seed++) {
        uint64_t rng = seed * 0x2545f4914f6cdd1dull;
        struct rep l = { .n = 0 }, f = { .n = 0 };
        /* shared prefix: epochs 0.. */
        int32_t epoch = 0;
        int64_t off = 0;
        int shared = 1 + (int)(tu_rand(&rng) % 3);
        for (int i = 0; i < shared; i++) {
            l.e[l.n++] = (struct rp_epoch_entry){ epoch, off };
            off += 1 + (int64_t)(tu_rand(&rng) % 5);
            epoch += 1 + (int32_t)(tu_rand(&rng) % 2);
        }
        memcpy(f.e, l.e, sizeof l.e);
        f.n = l.n;
        int64_t common = off;
        l.leo = f.leo = off;
        /* divergent tails: alternating reigns with rising epochs */
        int reigns = (int)(tu_rand(&rng) % 5);
        for (int i = 0; i < reigns; i++) {
            struct rep *who = tu_rand(&rng) % 2 ? &l : &f;
            if (who->n >= 7) continue;
            int64_t n = 1 + (int64_t)(tu_rand(&rng) % 4);
            who->e[who->n++] = (struct rp_epoch_entry){ epoch, who->leo };
            who->leo += n;
            epoch += 1;
        }
        if (f.n > l.n || (f.n && l.n && f.e[f.n - 1].epoch > l.e[l.n - 1].epoch)) {
            /* the leader must hold the latest epoch: it is the leader */
            if (l.n >= 8) continue;
            l.e[l.n++] = (struct rp_epoch_entry){ epoch, l.leo };
            l.leo += 1;
        }
        f.hw = common < f.leo ? common : f.leo;
        int asks;
        int64_t keep = common < f.leo ? common : f.leo; /* what both logs hold */
        int64_t at = reconcile(&f, &l, &asks);
        assert_true(at >= keep);
        assert_true(at <= l.leo);
        for (int64_t o = 0; o < at; o++)
            if (epoch_at(&f, o) != epoch_at(&l, o))
                fail_msg("seed %llu: offset %lld epoch %d vs leader %d", (unsigned long long)seed, (long long)o,
                         epoch_at(&f, o), epoch_at(&l, o));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_end_offset_for),
        cmocka_unit_test(test_kip101_hw_truncation),
        cmocka_unit_test(test_kip101_divergence),
        cmocka_unit_test(test_kip279_fast_leader_change),
        cmocka_unit_test(test_kip279_common_epoch),
        cmocka_unit_test(test_fallbacks),
        cmocka_unit_test(test_random_histories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
