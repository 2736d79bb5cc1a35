/* tests/test_client_sticky.c: the cooperative-sticky assignor (client/assignor.c),
 * white-box through client/wire_int.h. Units, no broker.
 *
 * A "round" runs the assignor as a group leader would; between rounds each
 * member owns what it was given (it revoked the rest), as a cooperative
 * member rejoins. Checked: a fresh group is balanced and every partition
 * goes to one member; a join moves only what the newcomer needs, in two
 * rounds (the first leaves the moving partitions out, the second hands them
 * over); a leave hands the leaver's partitions out in one round with no
 * revocation; of two members claiming a partition the newer generation keeps
 * it; a topic a member no longer subscribes to moves in two rounds; members
 * with different subscriptions get only their topics; and, over random
 * groups with joins, leaves and grown topics: no partition twice, balance
 * once settled, no revocation in the second round, a partition revoked never
 * handed back to the member that revoked it, each member keeping what it
 * owned up to its share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/wire_int.h"

enum { STICKY = 2, MAX_M = 12, MAX_T = 6, MAX_P = 64 };

struct grp {
    int nm, nt;
    struct cw_atopic t[MAX_T];
    char names[MAX_T][16];
    char ids[MAX_M][16];
    const char *subs[MAX_M][MAX_T];
    struct cw_amember m[MAX_M];
    struct cw_atp owned[MAX_M][MAX_T * MAX_P];
};

static void grp_topics(struct grp *g, int nt, const int32_t *parts)
{
    g->nt = nt;
    for (int i = 0; i < nt; i++) {
        snprintf(g->names[i], sizeof g->names[i], "t%d", i);
        g->t[i] = (struct cw_atopic){ g->names[i], parts[i] };
    }
}

/* Member i subscribes to the topics whose bit is set in mask. */
static void grp_member(struct grp *g, int i, const char *id, unsigned mask)
{
    char tmp[sizeof g->ids[i]];
    snprintf(tmp, sizeof tmp, "%s", id);
    memcpy(g->ids[i], tmp, sizeof tmp);
    struct cw_amember *m = &g->m[i];
    weir_free(m->out);
    *m = (struct cw_amember){ .id = g->ids[i], .topics = g->subs[i], .owned = g->owned[i], .generation = -1 };
    for (int t = 0; t < g->nt; t++)
        if (mask & (1u << t)) g->subs[i][m->n_topics++] = g->names[t];
}

static void grp_run(struct grp *g)
{
    assert_int_equal(cw_assignor_run(STICKY, g->m, (size_t)g->nm, g->t, (size_t)g->nt), 0);
}

static bool has(const struct cw_atp *v, int32_t n, int32_t t, int32_t p)
{
    for (int32_t i = 0; i < n; i++)
        if (v[i].topic == t && v[i].partition == p) return true;
    return false;
}

static bool out_has(const struct cw_amember *m, int32_t t, int32_t p) { return has(m->out, m->n_out, t, p); }
static bool owns(const struct cw_amember *m, int32_t t, int32_t p) { return has(m->owned, m->n_owned, t, p); }

/* Every member now owns what it was given; its generation goes up. */
static void grp_settle(struct grp *g, int32_t gen)
{
    for (int i = 0; i < g->nm; i++) {
        struct cw_amember *m = &g->m[i];
        if (m->n_out) memcpy(g->owned[i], m->out, (size_t)m->n_out * sizeof *m->out);
        m->n_owned = m->n_out;
        m->generation = gen;
    }
}

static void grp_free(struct grp *g)
{
    for (int i = 0; i < MAX_M; i++) weir_free(g->m[i].out), g->m[i].out = NULL;
}

/* No partition given twice, none outside its member's subscription. */
static void check_valid(const struct grp *g)
{
    for (int i = 0; i < g->nm; i++)
        for (int32_t k = 0; k < g->m[i].n_out; k++) {
            const struct cw_atp *a = &g->m[i].out[k];
            assert_true(a->topic >= 0 && a->topic < g->nt && a->partition >= 0 && a->partition < g->t[a->topic].n_partitions);
            bool sub = false;
            for (int32_t s = 0; s < g->m[i].n_topics; s++) sub = sub || !strcmp(g->m[i].topics[s], g->t[a->topic].name);
            if (!sub) fail_msg("%s got %s-%d, a topic it does not subscribe to", g->m[i].id, g->t[a->topic].name, a->partition);
            for (int j = 0; j < g->nm; j++)
                if (j != i && out_has(&g->m[j], a->topic, a->partition))
                    fail_msg("%s-%d given to %s and %s", g->t[a->topic].name, a->partition, g->m[i].id, g->m[j].id);
            for (int32_t l = k + 1; l < g->m[i].n_out; l++)
                assert_false(g->m[i].out[l].topic == a->topic && g->m[i].out[l].partition == a->partition);
        }
}

static int32_t given(const struct grp *g)
{
    int32_t n = 0;
    for (int i = 0; i < g->nm; i++) n += g->m[i].n_out;
    return n;
}

static int32_t spread(const struct grp *g)
{
    int32_t lo = INT32_MAX, hi = 0;
    for (int i = 0; i < g->nm; i++) lo = WEIR_MIN(lo, g->m[i].n_out), hi = WEIR_MAX(hi, g->m[i].n_out);
    return hi - lo;
}

static void test_fresh(void **state)
{
    (void)state;
    struct grp g = { 0 };
    grp_topics(&g, 2, (const int32_t[]){ 4, 3 });
    g.nm = 3;
    grp_member(&g, 0, "c", 3), grp_member(&g, 1, "a", 3), grp_member(&g, 2, "b", 3);
    grp_run(&g);
    check_valid(&g);
    assert_int_equal(given(&g), 7);
    assert_true(spread(&g) <= 1);
    /* rerun with what each owns: nothing changes */
    struct cw_atp before[MAX_M][MAX_T * MAX_P];
    int32_t nb[MAX_M];
    for (int i = 0; i < g.nm; i++) {
        if (g.m[i].n_out) memcpy(before[i], g.m[i].out, (size_t)g.m[i].n_out * sizeof **before);
        nb[i] = g.m[i].n_out;
    }
    grp_settle(&g, 1);
    grp_run(&g);
    for (int i = 0; i < g.nm; i++) {
        assert_int_equal(g.m[i].n_out, nb[i]);
        for (int32_t k = 0; k < nb[i]; k++) assert_true(out_has(&g.m[i], before[i][k].topic, before[i][k].partition));
    }
    /* no members, no topics */
    assert_int_equal(cw_assignor_run(STICKY, NULL, 0, g.t, 2), 0);
    g.nt = 0;
    grp_run(&g);
    assert_int_equal(given(&g), 0);
    grp_free(&g);
}

/* 6 partitions, a b c own two each; d joins. Round 1: c (last in id order
 * past the two places for one more than min 1) gives one up, d gets nothing
 * yet; round 2: d gets exactly that one, nobody else changes. */
static void test_join_two_phase(void **state)
{
    (void)state;
    struct grp g = { 0 };
    grp_topics(&g, 1, (const int32_t[]){ 6 });
    g.nm = 3;
    for (int i = 0; i < 3; i++) grp_member(&g, i, (const char *[]){ "a", "b", "c" }[i], 1);
    grp_run(&g);
    grp_settle(&g, 1);
    for (int i = 0; i < 3; i++) assert_int_equal(g.m[i].n_owned, 2);
    g.nm = 4;
    grp_member(&g, 3, "d", 1);
    grp_run(&g);
    check_valid(&g);
    assert_int_equal(g.m[3].n_out, 0); /* all six still owned by a, b, c */
    int32_t revoked_t = -1, revoked_p = -1, n_revoked = 0;
    for (int i = 0; i < 3; i++)
        for (int32_t k = 0; k < g.m[i].n_owned; k++)
            if (!out_has(&g.m[i], g.owned[i][k].topic, g.owned[i][k].partition))
                n_revoked++, revoked_t = g.owned[i][k].topic, revoked_p = g.owned[i][k].partition;
    assert_int_equal(n_revoked, 1);
    assert_int_equal(given(&g), 5);
    grp_settle(&g, 2);
    grp_run(&g);
    check_valid(&g);
    assert_int_equal(given(&g), 6);
    assert_int_equal(g.m[3].n_out, 1);
    assert_true(out_has(&g.m[3], revoked_t, revoked_p));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g.m[i].n_out, g.m[i].n_owned); /* no revocation in round 2 */
        for (int32_t k = 0; k < g.m[i].n_owned; k++) assert_true(out_has(&g.m[i], g.owned[i][k].topic, g.owned[i][k].partition));
    }
    assert_true(spread(&g) <= 1);
    grp_free(&g);
}

/* A member leaves: its partitions go out at once, nobody revokes. */
static void test_leave_one_round(void **state)
{
    (void)state;
    struct grp g = { 0 };
    grp_topics(&g, 2, (const int32_t[]){ 5, 4 });
    g.nm = 4;
    for (int i = 0; i < 4; i++) grp_member(&g, i, (const char *[]){ "a", "b", "c", "d" }[i], 3);
    for (int round = 0; round < 3; round++) grp_run(&g), grp_settle(&g, round + 1);
    /* b leaves: move d into its slot */
    memcpy(g.owned[1], g.owned[3], sizeof g.owned[3]);
    grp_member(&g, 1, "d", 3);
    g.m[1].n_owned = g.m[3].n_owned;
    g.nm = 3;
    grp_run(&g);
    check_valid(&g);
    assert_int_equal(given(&g), 9);
    assert_true(spread(&g) <= 1);
    for (int i = 0; i < 3; i++)
        for (int32_t k = 0; k < g.m[i].n_owned; k++) assert_true(out_has(&g.m[i], g.owned[i][k].topic, g.owned[i][k].partition));
    grp_free(&g);
}

/* Two members claim t0-0: the newer generation keeps it, the other's claim
 * is dropped (and, still owned by the winner, it is not handed over). */
static void test_generation_conflict(void **state)
{
    (void)state;
    for (int newer = 0; newer < 2; newer++) {
        struct grp g = { 0 };
        grp_topics(&g, 1, (const int32_t[]){ 2 });
        g.nm = 2;
        grp_member(&g, 0, "a", 1), grp_member(&g, 1, "b", 1);
        g.owned[0][0] = g.owned[1][0] = (struct cw_atp){ 0, 0 };
        g.m[0].n_owned = g.m[1].n_owned = 1;
        g.m[0].generation = newer == 0 ? 5 : 3;
        g.m[1].generation = newer == 0 ? 3 : 5;
        grp_run(&g);
        check_valid(&g);
        assert_true(out_has(&g.m[newer], 0, 0));
        assert_false(out_has(&g.m[1 - newer], 0, 0));
        assert_int_equal(given(&g), 2); /* t0-1 is free: given at once */
        grp_free(&g);
    }
}

/* a stops subscribing to t1 (it owns t1-0, t1-1): they move to b in two rounds. */
static void test_unsubscribed_topic(void **state)
{
    (void)state;
    struct grp g = { 0 };
    grp_topics(&g, 2, (const int32_t[]){ 2, 2 });
    g.nm = 2;
    grp_member(&g, 0, "a", 1), grp_member(&g, 1, "b", 3);
    g.owned[0][0] = (struct cw_atp){ 0, 0 };
    g.owned[0][1] = (struct cw_atp){ 1, 0 };
    g.owned[0][2] = (struct cw_atp){ 1, 1 };
    g.m[0].n_owned = 3;
    g.owned[1][0] = (struct cw_atp){ 0, 1 };
    g.m[1].n_owned = 1;
    grp_run(&g);
    check_valid(&g);
    assert_false(out_has(&g.m[1], 1, 0) || out_has(&g.m[1], 1, 1)); /* a still owns them */
    grp_settle(&g, 2);
    grp_run(&g);
    check_valid(&g);
    assert_true(out_has(&g.m[1], 1, 0) && out_has(&g.m[1], 1, 1));
    assert_int_equal(given(&g), 4);
    grp_free(&g);
}

/* Different subscriptions (the general path): only subscribed topics, everything given. */
static void test_unequal_subscriptions(void **state)
{
    (void)state;
    struct grp g = { 0 };
    grp_topics(&g, 3, (const int32_t[]){ 3, 5, 2 });
    g.nm = 3;
    grp_member(&g, 0, "a", 1), grp_member(&g, 1, "b", 3), grp_member(&g, 2, "c", 6);
    grp_run(&g);
    check_valid(&g);
    assert_int_equal(given(&g), 10);
    /* b and c share t1: 5 partitions plus c's t2 and a's/b's t0 even out */
    int32_t n[3] = { g.m[0].n_out, g.m[1].n_out, g.m[2].n_out };
    assert_true(n[0] >= 1 && n[1] >= 2 && n[2] >= 2);
    assert_true(n[1] - n[2] <= 1 && n[2] - n[1] <= 1);
    grp_free(&g);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Random groups, equal subscriptions; each step a join, a leave or a grown
 * topic, then rounds until settled (at most two). */
static void test_random(void **state)
{
    (void)state;
    int steps_total = 0, moves_total = 0;
    for (int trial = 0; trial < 300; trial++) {
        struct grp g = { 0 };
        int nt = 1 + (int)rnd(3);
        int32_t parts[MAX_T];
        for (int t = 0; t < nt; t++) parts[t] = 1 + (int32_t)rnd(12);
        grp_topics(&g, nt, parts);
        unsigned mask = (1u << nt) - 1;
        int next_id = 0;
        g.nm = 1 + (int)rnd(4);
        for (int i = 0; i < g.nm; i++) {
            char id[16];
            snprintf(id, sizeof id, "m%03d", next_id++);
            grp_member(&g, i, id, mask);
        }
        int32_t gen = 1;
        for (int step = 0; step < 12; step++, steps_total++) {
            int what = (int)rnd(3);
            if (what == 0 && g.nm < MAX_M) { /* join */
                char id[16];
                snprintf(id, sizeof id, "m%03d", next_id++);
                int at = (int)rnd((uint32_t)g.nm + 1); /* anywhere in the input order */
                for (int i = g.nm; i > at; i--) {
                    memcpy(g.owned[i], g.owned[i - 1], sizeof g.owned[i]);
                    memcpy(g.ids[i], g.ids[i - 1], sizeof g.ids[i]);
                    int32_t no = g.m[i - 1].n_owned, ge = g.m[i - 1].generation;
                    grp_member(&g, i, g.ids[i], mask);
                    g.m[i].n_owned = no, g.m[i].generation = ge;
                }
                grp_member(&g, at, id, mask);
                g.nm++;
            } else if (what == 1 && g.nm > 1) { /* leave */
                int at = (int)rnd((uint32_t)g.nm);
                for (int i = at; i < g.nm - 1; i++) {
                    memcpy(g.owned[i], g.owned[i + 1], sizeof g.owned[i]);
                    memcpy(g.ids[i], g.ids[i + 1], sizeof g.ids[i]);
                    int32_t no = g.m[i + 1].n_owned, ge = g.m[i + 1].generation;
                    grp_member(&g, i, g.ids[i], mask);
                    g.m[i].n_owned = no, g.m[i].generation = ge;
                }
                g.nm--;
            } else { /* a topic grows */
                int t = (int)rnd((uint32_t)nt);
                if (g.t[t].n_partitions < MAX_P) g.t[t].n_partitions += 1 + (int32_t)rnd(3);
                g.t[t].n_partitions = WEIR_MIN(g.t[t].n_partitions, MAX_P);
            }
            int32_t total = 0;
            for (int t = 0; t < nt; t++) total += g.t[t].n_partitions;
            /* round 1 */
            grp_run(&g);
            check_valid(&g);
            bool revoked[MAX_M][MAX_T][MAX_P];
            memset(revoked, 0, sizeof revoked);
            for (int i = 0; i < g.nm; i++) {
                int32_t kept = 0;
                for (int32_t k = 0; k < g.m[i].n_owned; k++) {
                    struct cw_atp a = g.owned[i][k];
                    if (out_has(&g.m[i], a.topic, a.partition)) kept++;
                    else revoked[i][a.topic][a.partition] = true, moves_total++;
                }
                /* sticky: keeps what it owned up to its share (min = total / members) */
                if (kept < WEIR_MIN(g.m[i].n_owned, total / g.nm))
                    fail_msg("trial %d step %d: %s kept %d of %d owned, share %d", trial, step, g.m[i].id, kept,
                             g.m[i].n_owned, total / g.nm);
                /* given only what it owned or nobody owns */
                for (int32_t k = 0; k < g.m[i].n_out; k++) {
                    struct cw_atp a = g.m[i].out[k];
                    if (owns(&g.m[i], a.topic, a.partition)) continue;
                    for (int j = 0; j < g.nm; j++)
                        if (j != i && owns(&g.m[j], a.topic, a.partition))
                            fail_msg("trial %d step %d: %s given %s-%d while %s owns it", trial, step, g.m[i].id,
                                     g.t[a.topic].name, a.partition, g.m[j].id);
                }
            }
            grp_settle(&g, ++gen);
            /* round 2: nothing revoked, all given, balanced, none handed back */
            grp_run(&g);
            check_valid(&g);
            for (int i = 0; i < g.nm; i++) {
                for (int32_t k = 0; k < g.m[i].n_owned; k++)
                    if (!out_has(&g.m[i], g.owned[i][k].topic, g.owned[i][k].partition))
                        fail_msg("trial %d step %d: %s revokes in round 2", trial, step, g.m[i].id);
                for (int32_t k = 0; k < g.m[i].n_out; k++)
                    if (revoked[i][g.m[i].out[k].topic][g.m[i].out[k].partition])
                        fail_msg("trial %d step %d: %s got back %s-%d it revoked", trial, step, g.m[i].id,
                                 g.t[g.m[i].out[k].topic].name, g.m[i].out[k].partition);
            }
            if (given(&g) != total || spread(&g) > 1)
                fail_msg("trial %d step %d: %d of %d given, spread %d", trial, step, given(&g), total, spread(&g));
            grp_settle(&g, ++gen);
        }
        grp_free(&g);
    }
    print_message("%d steps, %d partitions moved\n", steps_total, moves_total);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh),
        cmocka_unit_test(test_join_two_phase),
        cmocka_unit_test(test_leave_one_round),
        cmocka_unit_test(test_generation_conflict),
        cmocka_unit_test(test_unsubscribed_topic),
        cmocka_unit_test(test_unequal_subscriptions),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
