/* tests/test_client_group.c: the consumer's group side (client/assignor.c,
 * client/group.c), white-box through client/wire_int.h.
 *
 * Units, no broker: the range and roundrobin assignors give what Kafka's
 * RangeAssignor and RoundRobinAssignor give (their Javadoc examples, members
 * with different subscriptions, member id order whatever the input order,
 * no members, topics nobody subscribes, members subscribing to a topic that
 * does not exist), and, over random groups, the same as a literal
 * transcription of the Java code; partition.assignment.strategy, group.id
 * and group.instance.id validation; the group calls' argument and state checks; close while the
 * coordinator never answers.
 *
 * Against librdkafka 2.0.2's mock cluster (rdkafka_mock.h, 3 brokers, so the
 * coordinator is usually not the bootstrap broker), built when librdkafka is
 * installed: two weir consumers over a 4-partition topic get two partitions
 * each; records produced by a librdkafka producer are consumed exactly once
 * (no rebalance happens while they are consumed); commit then committed reads
 * the offsets back; when one closes the other gets all four, starting at the
 * committed offsets; rebalance callbacks alternate REVOKE / ASSIGN, each
 * REVOKE naming what the ASSIGN before gave, and no record is handed out for a
 * partition outside the last ASSIGN; unsubscribe revokes; a ^pattern
 * subscription picks up a topic created later. Members join and leave while
 * a producer writes: every assignment starts at the committed offset its
 * ASSIGN names and goes on without a gap, nothing is handed out after a
 * REVOKE, every acknowledged record is consumed. Coordinator errors
 * (JoinGroup refused, a moved coordinator, fenced heartbeats, a refused
 * SyncGroup) end in a member again at the committed offsets. unsubscribe
 * returns once the group let go (its REVOKE ran): an assignment made right
 * after it works and is not taken by the group's revoke. A member
 * that stops polling for max.poll.interval.ms gets, at its next poll, the
 * error, a REVOKE (its commit refused: it left) and a new ASSIGN. A static
 * member (group.instance.id) joins and consumes; FENCED_INSTANCE_ID ends its
 * membership for good; JoinGroup below v5 fails its join.
 * What the mock (2.0.2) does differently from a Kafka broker, which the tests
 * respect:
 *  - it answers ApiVersions v3 UNSUPPORTED_VERSION in the flexible format
 *    (client/wire.c retries at v0, as the producer's conn.c does);
 *  - it elects the leader among the members that rejoined within
 *    session.timeout.ms - 1000 (3 s after the first join), never earlier, so
 *    every rebalance takes that long; session.timeout.ms is 4000 here;
 *  - it answers OffsetCommit with REBALANCE_IN_PROGRESS while the group is
 *    joining (Kafka accepts commits of the current generation then), so a
 *    commit made in a REVOKE callback fails there; the tests commit before
 *    causing a rebalance;
 *  - it completes a SyncGroup round as soon as the leader's assignments are
 *    in, so a follower whose SyncGroup comes after the leader's is refused
 *    with 42 INVALID_REQUEST and the group rebalances again, with the same
 *    leader and the same race. On loopback with 2 cores the leader (one
 *    Metadata round trip, then SyncGroup) can win it every time and the group
 *    never forms; the tests with several members give every mock answer
 *    10 ms of delay (group_mock_new), so the follower's SyncGroup, sent as
 *    its JoinGroup answer arrives, is ahead by a round trip. A test may still
 *    see extra ASSIGN/REVOKE pairs, checked for order but not counted;
 *  - its error answers to JoinGroup and SyncGroup carry null strings and
 *    bytes where the protocol has non-nullable ones (weir's client reads
 *    them as empty, as librdkafka does);
 *  - it picks the leader's first protocol without checking the others;
 *  - it has no MEMBER_ID_REQUIRED step and no initial-delay setting;
 *  - it advertises Metadata v0-2 only (its handler speaks more): the tests
 *    set v0-6 as tests/test_client_mock.c does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef WEIR_HAVE_RDKAFKA
#include "mock_util.h"
#endif

#include "client/wire_int.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ==== assignors ========================================================================= */

enum { RANGE = 0, ROUNDROBIN = 1, MAX_M = 32, MAX_T = 16, MAX_SUB = MAX_T };

struct mspec {
    const char *id;
    const char *topics[MAX_SUB + 1]; /* NULL-terminated */
};

static int32_t count_topics(const char *const *t)
{
    int32_t n = 0;
    while (t[n]) n++;
    return n;
}

static int cmp_atp_by_name(const struct cw_atopic *t, const struct cw_atp *a, const struct cw_atp *b)
{
    int c = strcmp(t[a->topic].name, t[b->topic].name);
    return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Renders "t0p0,t1p0" (sorted by topic name, partition) into buf. */
static void render(const struct cw_atopic *t, const struct cw_atp *out, int32_t n, char *buf, size_t cap)
{
    struct cw_atp *v = malloc(((size_t)n + 1) * sizeof *v);
    assert_non_null(v);
    if (n > 0) memcpy(v, out, (size_t)n * sizeof *v);
    for (int32_t i = 1; i < n; i++) /* insertion sort */
        for (int32_t k = i; k > 0 && cmp_atp_by_name(t, &v[k - 1], &v[k]) > 0; k--) {
            struct cw_atp x = v[k];
            v[k] = v[k - 1];
            v[k - 1] = x;
        }
    size_t len = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%sp%d", i ? "," : "", t[v[i].topic].name, (int)v[i].partition);
    assert_true(len < cap);
    free(v);
}

/* Runs the assignor; out[i] gets member i's partitions rendered. */
static void run_assignor(int strategy, const struct mspec *ms, size_t nm, const struct cw_atopic *t, size_t nt,
                         char out[][512])
{
    struct cw_amember m[MAX_M];
    assert_true(nm <= MAX_M);
    memset(m, 0, sizeof m);
    for (size_t i = 0; i < nm; i++) {
        m[i].id = ms[i].id;
        m[i].topics = ms[i].topics;
        m[i].n_topics = count_topics(ms[i].topics);
    }
    assert_int_equal(cw_assignor_run(strategy, m, nm, t, nt), 0);
    for (size_t i = 0; i < nm; i++) {
        render(t, m[i].out, m[i].n_out, out[i], 512);
        weir_free(m[i].out);
    }
}

static void expect(int strategy, const struct mspec *ms, size_t nm, const struct cw_atopic *t, size_t nt,
                   const char *const *want)
{
    char out[MAX_M][512];
    run_assignor(strategy, ms, nm, t, nt, out);
    for (size_t i = 0; i < nm; i++)
        if (strcmp(out[i], want[i]))
            fail_msg("%s: member %s got [%s], expected [%s]", strategy == RANGE ? "range" : "roundrobin", ms[i].id,
                     out[i], want[i]);
}

/* RangeAssignor's Javadoc: two consumers, t0 and t1 with 3 partitions each. */
static void test_range_javadoc(void **state)
{
    (void)state;
    const struct cw_atopic t[] = { { "t0", 3 }, { "t1", 3 } };
    const struct mspec two[] = { { "C0", { "t0", "t1", NULL } }, { "C1", { "t0", "t1", NULL } } };
    expect(RANGE, two, 2, t, 2, (const char *const[]){ "t0p0,t0p1,t1p0,t1p1", "t0p2,t1p2" });
    const struct mspec three[] = { { "C0", { "t0", "t1", NULL } }, { "C1", { "t0", "t1", NULL } },
                                   { "C2", { "t0", "t1", NULL } } };
    expect(RANGE, three, 3, t, 2, (const char *const[]){ "t0p0,t1p0", "t0p1,t1p1", "t0p2,t1p2" });
    /* 7 partitions over 3: the first 7 % 3 members get one more */
    const struct cw_atopic t7[] = { { "t", 7 } };
    const struct mspec m3[] = { { "a", { "t", NULL } }, { "b", { "t", NULL } }, { "c", { "t", NULL } } };
    expect(RANGE, m3, 3, t7, 1, (const char *const[]){ "tp0,tp1,tp2", "tp3,tp4", "tp5,tp6" });
    /* more members than partitions: the last ones get nothing */
    const struct cw_atopic t2[] = { { "t", 2 } };
    expect(RANGE, m3, 3, t2, 1, (const char *const[]){ "tp0", "tp1", "" });
    /* 6 partitions over 3 (the CLI test's shape) */
    const struct cw_atopic t6[] = { { "t", 6 } };
    expect(RANGE, m3, 3, t6, 1, (const char *const[]){ "tp0,tp1", "tp2,tp3", "tp4,tp5" });
}

/* RoundRobinAssignor's Javadoc: the same two consumers; then C0 subscribed to
 * t0, C1 to t0 and t1, C2 to t0, t1, t2 (1, 2, 3 partitions). */
static void test_roundrobin_javadoc(void **state)
{
    (void)state;
    const struct cw_atopic t[] = { { "t0", 3 }, { "t1", 3 } };
    const struct mspec two[] = { { "C0", { "t0", "t1", NULL } }, { "C1", { "t0", "t1", NULL } } };
    expect(ROUNDROBIN, two, 2, t, 2, (const char *const[]){ "t0p0,t0p2,t1p1", "t0p1,t1p0,t1p2" });
    const struct cw_atopic t3[] = { { "t0", 1 }, { "t1", 2 }, { "t2", 3 } };
    const struct mspec diff[] = { { "C0", { "t0", NULL } }, { "C1", { "t0", "t1", NULL } },
                                  { "C2", { "t0", "t1", "t2", NULL } } };
    expect(ROUNDROBIN, diff, 3, t3, 3, (const char *const[]){ "t0p0", "t1p0", "t1p1,t2p0,t2p1,t2p2" });
}

/* Different subscriptions with range: each topic is split among its own subscribers only. */
static void test_range_different_subscriptions(void **state)
{
    (void)state;
    const struct cw_atopic t[] = { { "t0", 3 }, { "t1", 4 }, { "t2", 1 } };
    const struct mspec ms[] = { { "C0", { "t0", NULL } }, { "C1", { "t1", "t0", NULL } }, { "C2", { "t0", "t1", "t2", NULL } } };
    expect(RANGE, ms, 3, t, 3, (const char *const[]){ "t0p0", "t0p1,t1p0,t1p1", "t0p2,t1p2,t1p3,t2p0" });
}

/* Member id order decides, not the order the members come in (nor the
 * topics'): ids compare as bytes ("c-10" < "c-2"). */
static void test_member_order(void **state)
{
    (void)state;
    const struct cw_atopic t[] = { { "b", 4 }, { "a", 3 } };
    const struct cw_atopic t_rev[] = { { "a", 3 }, { "b", 4 } };
    const struct mspec shuffled[] = { { "c-2", { "a", "b", NULL } }, { "c-10", { "b", "a", NULL } },
                                      { "c-1", { "a", "b", NULL } } };
    /* sorted: c-1, c-10, c-2 */
    const char *const range_want[] = { "ap2,bp3", "ap1,bp2", "ap0,bp0,bp1" };
    expect(RANGE, shuffled, 3, t, 2, range_want);
    expect(RANGE, shuffled, 3, t_rev, 2, range_want);
    /* roundrobin over a0 a1 a2 b0 b1 b2 b3 -> c-1 c-10 c-2 c-1 c-10 c-2 c-1 */
    const char *const rr_want[] = { "ap2,bp2", "ap1,bp1", "ap0,bp0,bp3" };
    expect(ROUNDROBIN, shuffled, 3, t, 2, rr_want);
    expect(ROUNDROBIN, shuffled, 3, t_rev, 2, rr_want);
}

static void test_edges(void **state)
{
    (void)state;
    const struct cw_atopic t[] = { { "t0", 3 }, { "nobody", 5 }, { "empty", 0 } };
    /* no members: nothing to do, no error */
    for (int s = 0; s < 2; s++) assert_int_equal(cw_assignor_run(s, NULL, 0, t, 3), 0);
    /* a topic nobody subscribes is not given out; a subscribed topic that
     * does not exist (not in t) is ignored; a topic with 0 partitions gives nothing */
    const struct mspec ms[] = { { "m1", { "t0", "ghost", "empty", NULL } }, { "m2", { "t0", NULL } } };
    expect(RANGE, ms, 2, t, 3, (const char *const[]){ "t0p0,t0p1", "t0p2" });
    expect(ROUNDROBIN, ms, 2, t, 3, (const char *const[]){ "t0p0,t0p2", "t0p1" });
    /* a member subscribed to nothing gets nothing, and does not take a roundrobin turn */
    const struct mspec idle[] = { { "a", { NULL } }, { "b", { "t0", NULL } }, { "c", { "t0", NULL } } };
    expect(RANGE, idle, 3, t, 3, (const char *const[]){ "", "t0p0,t0p1", "t0p2" });
    expect(ROUNDROBIN, idle, 3, t, 3, (const char *const[]){ "", "t0p0,t0p2", "t0p1" });
    /* nobody subscribes to any existing topic */
    const struct mspec none[] = { { "a", { "ghost", NULL } } };
    expect(ROUNDROBIN, none, 1, t, 3, (const char *const[]){ "" });
    expect(RANGE, none, 1, t, 0, (const char *const[]){ "" });
    /* unknown strategies */
    struct cw_amember m = { .id = "x", .topics = ms[1].topics, .n_topics = 1 };
    assert_int_equal(cw_assignor_run(-1, &m, 1, t, 3), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(cw_assignor_run(3, &m, 1, t, 3), WEIR_CLIENT_E_INVALID_ARG);
    /* a rerun replaces the previous output */
    assert_int_equal(cw_assignor_run(RANGE, &m, 1, t, 3), 0);
    assert_int_equal(m.n_out, 3);
    assert_int_equal(cw_assignor_run(RANGE, &m, 1, t, 3), 0);
    assert_int_equal(m.n_out, 3);
    weir_free(m.out);
}

/* ---- a literal transcription of Kafka's assignors, for random groups ---------- */

struct ref_member {
    const char *id;
    const char *const *topics;
    int32_t n_topics;
    struct cw_atp out[1024];
    int32_t n_out;
};

static bool ref_subscribes(const struct ref_member *m, const char *topic)
{
    for (int32_t i = 0; i < m->n_topics; i++)
        if (!strcmp(m->topics[i], topic)) return true;
    return false;
}

static const struct ref_member *ref_sort_base;
static int ref_by_id(const void *a, const void *b)
{
    return strcmp(ref_sort_base[*(const int *)a].id, ref_sort_base[*(const int *)b].id);
}
static const struct cw_atopic *ref_topic_base;
static int ref_by_name(const void *a, const void *b)
{
    return strcmp(ref_topic_base[*(const int *)a].name, ref_topic_base[*(const int *)b].name);
}

/* RangeAssignor.assign: for each topic, consumers = its subscribers sorted;
 * numPartitionsPerConsumer = n / c, extra = n % c; consumer i gets
 * [i * per + min(i, extra), + per + (i + 1 > extra ? 0 : 1)). */
static void ref_range(struct ref_member *m, int nm, const struct cw_atopic *t, int nt)
{
    int order[MAX_M];
    for (int i = 0; i < nm; i++) order[i] = i;
    ref_sort_base = m;
    qsort(order, (size_t)nm, sizeof *order, ref_by_id);
    for (int ti = 0; ti < nt; ti++) {
        int subs[MAX_M], c = 0;
        for (int i = 0; i < nm; i++)
            if (ref_subscribes(&m[order[i]], t[ti].name)) subs[c++] = order[i];
        if (c == 0) continue;
        int per = t[ti].n_partitions / c, extra = t[ti].n_partitions % c;
        for (int i = 0; i < c; i++) {
            int start = per * i + (i < extra ? i : extra);
            int length = per + (i + 1 > extra ? 0 : 1);
            for (int p = start; p < start + length; p++) m[subs[i]].out[m[subs[i]].n_out++] = (struct cw_atp){ ti, p };
        }
    }
}

/* RoundRobinAssignor.assign: a CircularIterator over the sorted members; for
 * every partition of allPartitionsSorted (topics in a TreeSet, then partition
 * order): while (!subscribed(assigner.peek())) assigner.next(); then the
 * partition goes to assigner.next(). */
static void ref_roundrobin(struct ref_member *m, int nm, const struct cw_atopic *t, int nt)
{
    int order[MAX_M], torder[MAX_T];
    for (int i = 0; i < nm; i++) order[i] = i;
    for (int i = 0; i < nt; i++) torder[i] = i;
    ref_sort_base = m;
    qsort(order, (size_t)nm, sizeof *order, ref_by_id);
    ref_topic_base = t;
    qsort(torder, (size_t)nt, sizeof *torder, ref_by_name);
    int it = 0;
    for (int k = 0; k < nt; k++) {
        int ti = torder[k];
        bool any = false;
        for (int i = 0; i < nm; i++) any = any || ref_subscribes(&m[i], t[ti].name);
        if (!any) continue; /* not in allPartitionsSorted: no member subscribes */
        for (int p = 0; p < t[ti].n_partitions; p++) {
            while (!ref_subscribes(&m[order[it]], t[ti].name)) it = (it + 1) % nm;
            m[order[it]].out[m[order[it]].n_out++] = (struct cw_atp){ ti, p };
            it = (it + 1) % nm;
        }
    }
}

static void test_random_against_reference(void **state)
{
    (void)state;
    static const char *const names[MAX_T] = { "orders", "a", "zeta", "b-1", "b-10", "b-2", "logs-x", "q",
                                              "Upper", "m", "n", "o", "p", "r", "s", "t" };
    static char ids[MAX_M][32];
    srand(12345);
    for (int round = 0; round < 3000; round++) {
        int nm = 1 + rand() % 12, nt = 1 + rand() % 6;
        struct cw_atopic t[MAX_T];
        int first = rand() % (MAX_T - nt + 1);
        for (int i = 0; i < nt; i++) t[i] = (struct cw_atopic){ names[first + i], rand() % 13 };
        const char *subs[MAX_M][MAX_SUB];
        struct cw_amember m[MAX_M];
        static struct ref_member r[MAX_M];
        bool same = rand() % 3 == 0; /* a third of the groups: one subscription for all */
        for (int i = 0; i < nm; i++) {
            snprintf(ids[i], sizeof ids[i], "%s-%d-%x", rand() % 2 ? "consumer" : "rdkafka", rand() % 100, (unsigned)rand());
            int ns = 0;
            for (int k = 0; k < nt + 1; k++) {
                bool take = same ? k < nt : rand() % 2;
                if (take) subs[i][ns++] = k < nt ? t[k].name : "ghost";
            }
            m[i] = (struct cw_amember){ .id = ids[i], .topics = subs[i], .n_topics = ns };
            r[i].id = ids[i];
            r[i].topics = subs[i];
            r[i].n_topics = ns;
        }
        for (int s = 0; s < 2; s++) {
            for (int i = 0; i < nm; i++) r[i].n_out = 0;
            if (s == RANGE) ref_range(r, nm, t, nt);
            else ref_roundrobin(r, nm, t, nt);
            assert_int_equal(cw_assignor_run(s, m, (size_t)nm, t, (size_t)nt), 0);
            int total = 0, want_total = 0;
            for (int k = 0; k < nt; k++) {
                bool any = false;
                for (int i = 0; i < nm; i++) any = any || ref_subscribes(&r[i], t[k].name);
                if (any) want_total += t[k].n_partitions;
            }
            for (int i = 0; i < nm; i++) {
                char got[512], want[512];
                render(t, m[i].out, m[i].n_out, got, sizeof got);
                render(t, r[i].out, r[i].n_out, want, sizeof want);
                if (strcmp(got, want))
                    fail_msg("round %d, %s, member %s: got [%s], Kafka's gives [%s]", round, s ? "roundrobin" : "range",
                             ids[i], got, want);
                total += m[i].n_out;
                for (int32_t k = 0; k < m[i].n_out; k++) assert_true(ref_subscribes(&r[i], t[m[i].out[k].topic].name));
            }
            assert_int_equal(total, want_total); /* every subscribed partition once (render compared the sets) */
            /* with one subscription for all, roundrobin is balanced to within one */
            if (same && s == ROUNDROBIN) {
                int lo = 1 << 30, hi = 0;
                for (int i = 0; i < nm; i++) lo = m[i].n_out < lo ? m[i].n_out : lo, hi = m[i].n_out > hi ? m[i].n_out : hi;
                assert_true(hi - lo <= 1);
            }
        }
        for (int i = 0; i < nm; i++) weir_free(m[i].out);
    }
}

/* ==== configuration ===================================================================== */

static void test_strategy_names(void **state)
{
    (void)state;
    const char *good[] = { "range", "roundrobin", "range,roundrobin", "roundrobin,range", " range , roundrobin ",
                           "range,range", "cooperative-sticky", "range,cooperative-sticky" };
    const char *bad[] = { "", " ", "range,", ",range", "range,,roundrobin", "sticky", "cooperative",
                          "Range", "range;roundrobin", "roundrobinx", "rang", "cooperative-sticky," };
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (!cw_assignors_valid(good[i])) fail_msg("\"%s\" rejected", good[i]);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (cw_assignors_valid(bad[i])) fail_msg("\"%s\" accepted", bad[i]);
    assert_false(cw_assignors_valid(NULL));
    assert_int_equal(cw_assignor_index("range", 5), 0);
    assert_int_equal(cw_assignor_index("roundrobin", 10), 1);
    assert_int_equal(cw_assignor_index("range,", 6), -1);
    assert_string_equal(cw_assignor_name(0), "range");
    assert_string_equal(cw_assignor_name(1), "roundrobin");
    assert_int_equal(cw_assignor_index("cooperative-sticky", 18), 2);
    assert_string_equal(cw_assignor_name(2), "cooperative-sticky");
    /* cooperative only when every listed assignor is (Java: the common rebalance protocol) */
    assert_true(cw_assignors_cooperative("cooperative-sticky"));
    assert_true(cw_assignors_cooperative(" cooperative-sticky , cooperative-sticky"));
    assert_false(cw_assignors_cooperative("range,cooperative-sticky"));
    assert_false(cw_assignors_cooperative("cooperative-sticky,roundrobin"));
    assert_false(cw_assignors_cooperative("range"));
    assert_false(cw_assignors_cooperative(NULL));
}

static void test_group_conf(void **state)
{
    (void)state;
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    char err[256], buf[256];
    assert_int_equal(weir_consumer_conf_get(cc, "partition.assignment.strategy", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "range,roundrobin");
    const char *bad[] = { "sticky", "", "range,", "range,sticky", "cooperative" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        assert_int_equal(weir_consumer_conf_set(cc, "partition.assignment.strategy", bad[i], err, sizeof err),
                         WEIR_CONF_INVALID);
        assert_non_null(strstr(err, "partition.assignment.strategy"));
        weir_consumer_conf_get(cc, "partition.assignment.strategy", buf, sizeof buf);
        assert_string_equal(buf, "range,roundrobin"); /* unchanged */
    }
    assert_int_equal(weir_consumer_conf_set(cc, "partition.assignment.strategy", "cooperative-sticky", err, sizeof err),
                     WEIR_CONF_OK);
    weir_consumer_conf_get(cc, "partition.assignment.strategy", buf, sizeof buf);
    assert_string_equal(buf, "cooperative-sticky");
    assert_int_equal(weir_consumer_conf_set(cc, "partition.assignment.strategy", "roundrobin", err, sizeof err), WEIR_CONF_OK);
    weir_consumer_conf_get(cc, "partition.assignment.strategy", buf, sizeof buf);
    assert_string_equal(buf, "roundrobin");
    /* numeric group keys: ranges */
    const char *bad_num[][2] = { { "session.timeout.ms", "0" }, { "heartbeat.interval.ms", "-1" },
                                 { "max.poll.interval.ms", "x" }, { "auto.commit.interval.ms", "" },
                                 { "metadata.max.age.ms", "9" }, { "enable.auto.commit", "maybe" } };
    for (size_t i = 0; i < ARRAY_LEN(bad_num); i++)
        assert_int_equal(weir_consumer_conf_set(cc, bad_num[i][0], bad_num[i][1], err, sizeof err), WEIR_CONF_INVALID);
    assert_int_equal(weir_consumer_conf_set(cc, "topic.metadata.refresh.interval.ms", "1000", err, sizeof err), WEIR_CONF_OK);
    weir_consumer_conf_get(cc, "metadata.max.age.ms", buf, sizeof buf);
    assert_string_equal(buf, "1000");
    /* group.id: a name too long for the protocol is refused */
    char *longid = malloc(40000);
    memset(longid, 'g', 39999);
    longid[39999] = '\0';
    assert_int_equal(weir_consumer_conf_set(cc, "group.id", longid, err, sizeof err), WEIR_CONF_INVALID);
    free(longid);
    /* ... and so is an empty one (Kafka's InvalidGroupIdException at subscribe) */
    assert_int_equal(weir_consumer_conf_set(cc, "group.id", "", err, sizeof err), WEIR_CONF_INVALID);
    weir_consumer_conf_get(cc, "group.id", buf, sizeof buf);
    assert_string_equal(buf, "");
    /* group.instance.id: Kafka's validateGroupInstanceId (1 to 249 of [a-zA-Z0-9._-], not "." or "..") */
    assert_int_equal(weir_consumer_conf_get(cc, "group.instance.id", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, ""); /* unset: a dynamic member */
    char id249[250], id250[251];
    memset(id249, 'i', 249);
    id249[249] = '\0';
    memset(id250, 'i', 250);
    id250[250] = '\0';
    const char *good_id[] = { "s1", "a", "...", ".a", "A.b_c-9", "consumer-7.host_A", id249 };
    for (size_t i = 0; i < ARRAY_LEN(good_id); i++) {
        if (weir_consumer_conf_set(cc, "group.instance.id", good_id[i], err, sizeof err) != WEIR_CONF_OK)
            fail_msg("group.instance.id \"%s\" refused: %s", good_id[i], err);
        weir_consumer_conf_get(cc, "group.instance.id", buf, sizeof buf);
        assert_string_equal(buf, good_id[i]);
    }
    assert_int_equal(weir_consumer_conf_set(cc, "group.instance.id", "s1", err, sizeof err), WEIR_CONF_OK);
    const char *bad_id[] = { "", ".", "..", id250, "a b", "a/b", "a:b", "a*", "s1\n", "caf\xc3\xa9", "a+b", "a\tb" };
    for (size_t i = 0; i < ARRAY_LEN(bad_id); i++) {
        err[0] = '\0';
        if (weir_consumer_conf_set(cc, "group.instance.id", bad_id[i], err, sizeof err) != WEIR_CONF_INVALID)
            fail_msg("group.instance.id \"%s\" accepted", bad_id[i]);
        assert_non_null(strstr(err, "group.instance.id"));
        assert_null(strchr(err, '\n')); /* one line */
        weir_consumer_conf_get(cc, "group.instance.id", buf, sizeof buf);
        assert_string_equal(buf, "s1"); /* unchanged */
    }
    err[0] = '\0';
    weir_consumer_conf_set(cc, "group.instance.id", "", err, sizeof err);
    assert_non_null(strstr(err, "empty"));
    weir_consumer_conf_set(cc, "group.instance.id", id250, err, sizeof err);
    assert_non_null(strstr(err, "249"));
    weir_consumer_conf_set(cc, "group.instance.id", "a b", err, sizeof err);
    assert_non_null(strstr(err, "character"));
    /* copied with the configuration (the consumer's own copy), freed with it */
    struct weir_consumer_conf copy;
    assert_int_equal(cw_cconf_copy(&copy, cc), 0);
    assert_string_equal(copy.group_instance_id, "s1");
    assert_ptr_not_equal(copy.group_instance_id, cc->group_instance_id);
    cw_cconf_free_strings(&copy);
    weir_consumer_conf_destroy(cc);
}

/* ==== the group calls without a broker ==================================================== */

static struct weir_consumer *consumer_at(const char *bootstrap, const char *group, const char *const *kv)
{
    char err[256];
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", bootstrap, err, sizeof err), WEIR_CONF_OK);
    if (group) assert_int_equal(weir_consumer_conf_set(cc, "group.id", group, err, sizeof err), WEIR_CONF_OK);
    for (; kv && kv[0]; kv += 2)
        if (weir_consumer_conf_set(cc, kv[0], kv[1], err, sizeof err) != WEIR_CONF_OK) fail_msg("%s=%s: %s", kv[0], kv[1], err);
    struct weir_consumer *c = weir_consumer_new(cc, err, sizeof err);
    if (!c) fail_msg("consumer: %s", err);
    weir_consumer_conf_destroy(cc);
    return c;
}

static void test_calls_without_group(void **state)
{
    (void)state;
    struct weir_consumer *c = consumer_at("127.0.0.1:1", NULL, NULL);
    const char *topics[] = { "t" };
    struct weir_topic_partition tp = { "t", 0, 5, 0 };
    assert_int_equal(weir_consumer_subscribe(c, topics, 1), WEIR_CLIENT_E_STATE);
    assert_int_equal(weir_consumer_unsubscribe(c), WEIR_CLIENT_E_STATE);
    assert_int_equal(weir_consumer_commit(c, &tp, 1, 0), WEIR_CLIENT_E_STATE);
    assert_int_equal(weir_consumer_commit(c, &tp, 1, 1), WEIR_CLIENT_E_STATE);
    assert_int_equal(weir_consumer_committed(c, &tp, 1, 1000), WEIR_CLIENT_E_STATE);
    struct weir_topic_partition *parts = (void *)1;
    size_t n = 99;
    assert_int_equal(weir_consumer_assignment(c, &parts, &n), 0);
    assert_null(parts);
    assert_int_equal(n, 0);
    struct weir_partition_start s = { "t", 1, 7, 0 };
    assert_int_equal(weir_consumer_assign(c, &s, 1), 0);
    assert_int_equal(weir_consumer_assignment(c, &parts, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(parts[0].topic, "t");
    assert_int_equal(parts[0].partition, 1);
    assert_int_equal(parts[0].offset, 7);
    weir_consumer_partitions_free(parts, n);
    weir_consumer_partitions_free(NULL, 0);
    weir_consumer_destroy(c);
}

static void test_call_arguments(void **state)
{
    (void)state;
    struct weir_consumer *c = consumer_at("127.0.0.1:1", "g", (const char *const[]){ "retry.backoff.ms", "10", NULL });
    char name250[251];
    memset(name250, 'x', 250);
    name250[250] = '\0';
    char name249[250];
    memset(name249, 'y', 249);
    name249[249] = '\0';
    const char *one[] = { "t" }, *with_null[] = { "t", NULL }, *empty[] = { "" }, *bad_re[] = { "^(" },
               *too_long[] = { name250 }, *longest[] = { name249 };
    assert_int_equal(weir_consumer_subscribe(NULL, one, 1), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, one, 0), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, NULL, 1), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, with_null, 2), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, empty, 1), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, bad_re, 1), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_subscribe(c, too_long, 1), WEIR_CLIENT_E_INVALID_ARG);
    /* assign, then subscribe: refused until the assignment is dropped */
    struct weir_partition_start s = { "t", 0, 0, 0 };
    assert_int_equal(weir_consumer_assign(c, &s, 1), 0);
    assert_int_equal(weir_consumer_subscribe(c, one, 1), WEIR_CLIENT_E_STATE);
    assert_int_equal(weir_consumer_assign(c, NULL, 0), 0);
    assert_int_equal(weir_consumer_subscribe(c, longest, 1), 0);
    assert_int_equal(weir_consumer_subscribe(c, one, 1), 0); /* replaces */
    /* subscribed: assign is refused */
    assert_int_equal(weir_consumer_assign(c, &s, 1), WEIR_CLIENT_E_STATE);
    /* commit arguments */
    struct weir_topic_partition bad[] = { { NULL, 0, 1, 0 }, { "t", -1, 1, 0 }, { "t", 0, -1, 0 } };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(weir_consumer_commit(c, &bad[i], 1, 0), WEIR_CLIENT_E_INVALID_ARG);
        assert_int_equal(weir_consumer_commit(c, &bad[i], 1, 1), WEIR_CLIENT_E_INVALID_ARG);
    }
    assert_int_equal(weir_consumer_commit(NULL, NULL, 0, 0), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_commit(c, NULL, 3, 0), WEIR_CLIENT_E_INVALID_ARG);
    /* nothing assigned: committing the positions commits nothing */
    assert_int_equal(weir_consumer_commit(c, NULL, 0, 0), 0);
    assert_int_equal(weir_consumer_committed(c, NULL, 0, 100), 0);
    struct weir_topic_partition nt = { NULL, 0, 0, 0 };
    assert_int_equal(weir_consumer_committed(c, &nt, 1, 100), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_consumer_assignment(c, NULL, NULL), WEIR_CLIENT_E_INVALID_ARG);
    /* subscribed, not a member (no broker): nothing may be committed */
    struct weir_topic_partition tp = { "t", 0, 3, 0 };
    assert_int_equal(weir_consumer_commit(c, &tp, 1, 0), WEIR_KAFKA_REBALANCE_IN_PROGRESS);
    assert_int_equal(weir_consumer_unsubscribe(c), 0);
    assert_int_equal(weir_consumer_unsubscribe(c), 0);
    /* unsubscribed: a simple commit (generation -1) is tried, and fails
     * without a broker, bounded */
    int64_t t0 = now_ms();
    int rc = weir_consumer_commit(c, &tp, 1, 0);
    if (rc != WEIR_CLIENT_E_TRANSPORT) fail_msg("commit without a broker: %d", rc);
    assert_true(now_ms() - t0 < 10000);
    assert_int_equal(weir_consumer_assign(c, &s, 1), 0); /* unsubscribed: assign works again */
    weir_consumer_close(c);
    /* closed: group calls fail, nothing hangs */
    assert_int_equal(weir_consumer_commit(c, &tp, 1, 0), WEIR_CLIENT_E_CLOSED);
    assert_int_equal(weir_consumer_committed(c, &tp, 1, 100), WEIR_CLIENT_E_CLOSED);
    assert_int_equal(weir_consumer_subscribe(c, one, 1), WEIR_CLIENT_E_CLOSED);
    weir_consumer_destroy(c);
}

/* A coordinator that accepts connections and never answers: close must not
 * wait for request.timeout.ms (the eventfd interrupts the group thread). */
static void test_close_while_broker_silent(void **state)
{
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    char bootstrap[64];
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", ntohs(a.sin_port));
    struct weir_consumer *c = consumer_at(bootstrap, "silent", (const char *const[]){ "request.timeout.ms", "60000", NULL });
    const char *one[] = { "t" };
    assert_int_equal(weir_consumer_subscribe(c, one, 1), 0);
    struct weir_consumer_record *r = weir_consumer_poll(c, 300);
    weir_consumer_record_release(r);
    int64_t t0 = now_ms();
    weir_consumer_destroy(c);
    int64_t took = now_ms() - t0;
    close(ls);
    if (took > 3000) fail_msg("destroy took %lld ms while the broker was silent", (long long)took);
}

/* A join that the coordinator never answers: unsubscribe cuts it and
 * returns at once (not after request.timeout.ms), and assign works right
 * after it, as in Java and librdkafka. */
static void test_unsubscribe_while_broker_silent(void **state)
{
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(ls, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    char bootstrap[64];
    snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", ntohs(a.sin_port));
    struct weir_consumer *c = consumer_at(bootstrap, "silent", (const char *const[]){ "request.timeout.ms", "60000", NULL });
    const char *one[] = { "t" };
    for (int round = 0; round < 3; round++) {
        assert_int_equal(weir_consumer_subscribe(c, one, 1), 0);
        struct weir_consumer_record *r = weir_consumer_poll(c, 100 * round);
        weir_consumer_record_release(r);
        int64_t t0 = now_ms();
        assert_int_equal(weir_consumer_unsubscribe(c), 0);
        int64_t took = now_ms() - t0;
        if (took > 5000) fail_msg("unsubscribe took %lld ms while the broker was silent", (long long)took);
        struct weir_partition_start s = { "t", 0, 0, 0 };
        assert_int_equal(weir_consumer_assign(c, &s, 1), 0);
        assert_int_equal(weir_consumer_assign(c, NULL, 0), 0);
    }
    weir_consumer_destroy(c);
    close(ls);
}

/* ==== against librdkafka's mock cluster =================================================== */

#ifdef WEIR_HAVE_RDKAFKA

enum { NPART = 4, MAXOFF = 1 << 16, MAX_EV = 64 };

/* Produces values "<first + i>" for i < n to partition (first + i) % NPART
 * with a librdkafka producer; waits for every delivery. */
static void rd_produce(const struct mock *m, const char *topic, int first, int n, int nparts)
{
    char err[256];
    rd_kafka_conf_t *conf = mock_rd_conf(m);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(p);
    for (int i = first; i < first + n; i++) assert_int_equal(mock_produce_int(p, topic, i % nparts, i), 0);
    assert_int_equal(rd_kafka_flush(p, 30000), 0);
    rd_kafka_destroy(p);
}

struct ev {
    enum weir_rebalance kind;
    int32_t parts[16];
    int64_t offs[16];
    size_t n;
};

struct member {
    const char *name;
    struct weir_consumer *c;
    struct ev ev[MAX_EV];
    int n_ev;
    bool owns[NPART];       /* per the callbacks */
    int foreign;            /* records of partitions the callbacks did not give */
    int64_t next[NPART];    /* the offset the next record must have, -1 unknown */
    int gaps;               /* records not at `next` (skipped or repeated offsets) */
    int records;
    bool commit_in_revoke;
    int revoke_commit_err;
    bool commit_each_poll;  /* commit the positions after each poll round */
    int commit_errs;
    int errors[8];          /* EVENT_ERROR codes seen */
    int n_errors;
    char errstr[256];       /* the last EVENT_ERROR's text */
};

static int counts[NPART][MAXOFF]; /* times each (partition, offset) was consumed */

static void on_rebalance(struct weir_consumer *c, enum weir_rebalance kind, const struct weir_topic_partition *parts,
                         size_t n, void *opaque)
{
    struct member *m = opaque;
    assert_ptr_equal(c, m->c);
    assert_true(m->n_ev < MAX_EV && n <= 16);
    struct ev *e = &m->ev[m->n_ev++];
    e->kind = kind;
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(parts[i].topic, "gt")) continue; /* other tests' topics */
        e->parts[i] = parts[i].partition;
        e->offs[i] = parts[i].offset;
        m->owns[parts[i].partition] = kind == WEIR_REBALANCE_ASSIGN;
        m->next[parts[i].partition] = kind == WEIR_REBALANCE_ASSIGN && parts[i].offset >= 0 ? parts[i].offset : -1;
    }
    if (kind == WEIR_REBALANCE_REVOKE) {
        for (int p = 0; p < NPART; p++) m->owns[p] = false;
        if (m->commit_in_revoke) m->revoke_commit_err = weir_consumer_commit(c, NULL, 0, 0);
    }
}

static struct member *member_new(struct member *m, const struct mock *mk, const char *name, const char *const *kv)
{
    memset(m, 0, sizeof *m);
    m->name = name;
    char err[256];
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    const char *base[] = { "bootstrap.servers", mk->bootstraps, "group.id", "wg", "client.id", name,
                           "session.timeout.ms", "4000", "heartbeat.interval.ms", "300", "enable.auto.commit", "false",
                           "auto.offset.reset", "earliest", "fetch.max.wait.ms", "100", "retry.backoff.ms", "50",
                           "request.timeout.ms", "10000", NULL };
    for (const char *const *p = base; *p; p += 2)
        assert_int_equal(weir_consumer_conf_set(cc, p[0], p[1], err, sizeof err), WEIR_CONF_OK);
    for (; kv && kv[0]; kv += 2)
        if (weir_consumer_conf_set(cc, kv[0], kv[1], err, sizeof err) != WEIR_CONF_OK) fail_msg("%s=%s: %s", kv[0], kv[1], err);
    weir_consumer_conf_set_rebalance_cb(cc, on_rebalance);
    weir_consumer_conf_set_opaque(cc, m);
    m->c = weir_consumer_new(cc, err, sizeof err);
    if (!m->c) fail_msg("consumer: %s", err);
    weir_consumer_conf_destroy(cc);
    return m;
}

/* Polls every member once (up to ms each); counts records. */
static void poll_all(struct member **ms, size_t n, int ms_each)
{
    for (size_t i = 0; i < n; i++) {
        struct member *m = ms[i];
        if (!m->c) continue;
        int got = 0;
        for (int k = 0; k < 500; k++) {
            struct weir_consumer_record *r = weir_consumer_poll(m->c, k == 0 ? ms_each : 0);
            if (!r) break;
            if (r->event == WEIR_EVENT_RECORD && !strcmp(r->topic, "gt")) {
                assert_true(r->partition >= 0 && r->partition < NPART && r->offset >= 0 && r->offset < MAXOFF);
                int p = r->partition;
                counts[p][r->offset]++;
                if (!m->owns[p] && m->foreign++ < 3)
                    print_message("%s: partition %d offset %lld handed out after %d callbacks (last %s)\n", m->name, p,
                                  (long long)r->offset, m->n_ev,
                                  m->n_ev == 0 ? "none" : m->ev[m->n_ev - 1].kind == WEIR_REBALANCE_ASSIGN ? "ASSIGN" : "REVOKE");
                if (m->next[p] >= 0 && r->offset != m->next[p]) {
                    if (m->gaps++ < 5)
                        print_message("%s: partition %d: offset %lld, expected %lld\n", m->name, p, (long long)r->offset,
                                      (long long)m->next[p]);
                }
                char v[32];
                snprintf(v, sizeof v, "%.*s", (int)r->value_len, (const char *)r->value);
                assert_int_equal(atoi(v) % NPART, p);
                m->next[p] = r->offset + 1;
                m->records++;
                got++;
            } else if (r->event == WEIR_EVENT_ERROR) {
                print_message("%s: event error %d: %s\n", m->name, r->err, r->errstr);
                if (m->n_errors < (int)ARRAY_LEN(m->errors)) m->errors[m->n_errors++] = r->err;
                snprintf(m->errstr, sizeof m->errstr, "%s", r->errstr);
            }
            weir_consumer_record_release(r);
        }
        if (got && m->commit_each_poll && weir_consumer_commit(m->c, NULL, 0, 0) != 0) m->commit_errs++;
    }
}

/* The member's assignment (from weir_consumer_assignment) as a bit set. */
static unsigned assigned_set(struct member *m)
{
    struct weir_topic_partition *parts;
    size_t n;
    assert_int_equal(weir_consumer_assignment(m->c, &parts, &n), 0);
    unsigned set = 0;
    for (size_t i = 0; i < n; i++) set |= 1u << parts[i].partition;
    weir_consumer_partitions_free(parts, n);
    return set;
}

static int bits(unsigned x) { return __builtin_popcount(x); }

/* Polls until pred holds (bounded); returns the ms it took. */
static int64_t poll_until(struct member **ms, size_t n, bool (*pred)(struct member **ms, size_t n), int timeout_ms,
                          const char *what)
{
    int64_t t0 = now_ms();
    while (!pred(ms, n)) {
        if (now_ms() - t0 > timeout_ms) {
            for (size_t i = 0; i < n; i++)
                if (ms[i]->c) print_message("%s: assignment %#x, %d events\n", ms[i]->name, assigned_set(ms[i]), ms[i]->n_ev);
            fail_msg("timed out after %d ms waiting for %s", timeout_ms, what);
        }
        poll_all(ms, n, 20);
    }
    return now_ms() - t0;
}

/* Every live member holds NPART / live partitions, disjoint, covering all,
 * and the callbacks agree. */
static bool split_even(struct member **ms, size_t n)
{
    unsigned all = 0;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) live += ms[i]->c != NULL;
    for (size_t i = 0; i < n; i++) {
        if (!ms[i]->c) continue;
        unsigned s = assigned_set(ms[i]);
        if (bits(s) != NPART / (int)live || (all & s)) return false;
        for (int p = 0; p < NPART; p++)
            if (ms[i]->owns[p] != !!(s & (1u << p))) return false;
        all |= s;
    }
    return all == (1u << NPART) - 1;
}

static int produced_total;
static bool all_consumed(struct member **ms, size_t n)
{
    (void)ms, (void)n;
    int seen = 0;
    for (int p = 0; p < NPART; p++)
        for (int o = 0; o < MAXOFF; o++) seen += counts[p][o] > 0;
    return seen >= produced_total;
}

/* Checks m's callbacks: ASSIGN first, then alternating; each REVOKE names
 * exactly the partitions of the ASSIGN before it. */
static void check_callbacks(const struct member *m)
{
    for (int i = 0; i < m->n_ev; i++) {
        const struct ev *e = &m->ev[i];
        enum weir_rebalance want = i % 2 == 0 ? WEIR_REBALANCE_ASSIGN : WEIR_REBALANCE_REVOKE;
        if (e->kind != want) fail_msg("%s: callback %d is %s", m->name, i, e->kind == WEIR_REBALANCE_ASSIGN ? "ASSIGN" : "REVOKE");
        if (want == WEIR_REBALANCE_REVOKE) {
            const struct ev *a = &m->ev[i - 1];
            assert_int_equal(e->n, a->n);
            for (size_t k = 0; k < e->n; k++) assert_int_equal(e->parts[k], a->parts[k]);
        }
    }
}

/* A mock for several members: see the header (the SyncGroup race). */
static void group_mock_new(struct mock *mk, int brokers)
{
    mock_new(mk, brokers);
    assert_int_equal(rd_kafka_mock_broker_set_rtt(mk->mc, -1, 10), 0);
}

static void test_mock_group(void **state)
{
    (void)state;
    struct mock mk;
    group_mock_new(&mk, 3);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a, b;
    member_new(&a, &mk, "a", NULL);
    member_new(&b, &mk, "b", NULL);
    struct member *ms[] = { &a, &b };
    const char *topics[] = { "gt" };

    /* a alone: all four */
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    int64_t t = poll_until(ms, 1, split_even, 20000, "a to own all partitions");
    print_message("first join: %lld ms\n", (long long)t);
    /* b joins: two each */
    assert_int_equal(weir_consumer_subscribe(b.c, topics, 1), 0);
    t = poll_until(ms, 2, split_even, 45000, "two partitions each");
    print_message("second member: split in %lld ms\n", (long long)t);

    /* records produced now are consumed exactly once (the group is stable) */
    produced_total = 400;
    rd_produce(&mk, "gt", 0, 400, NPART);
    poll_until(ms, 2, all_consumed, 30000, "every record consumed");
    poll_all(ms, 2, 200);
    for (int p = 0; p < NPART; p++)
        for (int o = 0; o < 100; o++)
            if (counts[p][o] != 1) fail_msg("partition %d offset %d consumed %d times", p, o, counts[p][o]);
    assert_int_equal(a.records + b.records, 400);
    assert_true(a.records > 0 && b.records > 0);
    assert_int_equal(a.foreign + b.foreign, 0);
    assert_int_equal(a.gaps + b.gaps, 0);

    /* commit the positions, then read them back (also another member's) */
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0);
    assert_int_equal(weir_consumer_commit(b.c, NULL, 0, 0), 0);
    struct weir_topic_partition q[NPART];
    for (int p = 0; p < NPART; p++) q[p] = (struct weir_topic_partition){ "gt", p, -5, -5 };
    assert_int_equal(weir_consumer_committed(a.c, q, NPART, 5000), 0);
    for (int p = 0; p < NPART; p++) {
        assert_int_equal(q[p].err, 0);
        assert_int_equal(q[p].offset, 100);
        assert_string_equal(q[p].topic, "gt");
    }
    /* explicit offsets, synchronous and asynchronous (async is ordered behind sync) */
    unsigned sa = assigned_set(&a);
    int pa = __builtin_ctz(sa);
    struct weir_topic_partition c1 = { "gt", pa, 42, 0 };
    assert_int_equal(weir_consumer_commit(a.c, &c1, 1, 0), 0);
    struct weir_topic_partition one = { "gt", pa, -5, -5 };
    assert_int_equal(weir_consumer_committed(b.c, &one, 1, 5000), 0);
    assert_int_equal(one.offset, 42);
    c1.offset = 100;
    assert_int_equal(weir_consumer_commit(a.c, &c1, 1, 1), 0);
    assert_int_equal(weir_consumer_committed(a.c, &one, 1, 5000), 0);
    assert_int_equal(one.offset, 100);
    /* a partition nobody committed */
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "other", 1, 1), 0);
    struct weir_topic_partition none = { "other", 0, 9, 0 };
    assert_int_equal(weir_consumer_committed(a.c, &none, 1, 5000), 0);
    assert_int_equal(none.offset, -1);

    /* b closes: a gets all four, starting at the committed offsets */
    unsigned sb = assigned_set(&b);
    int64_t t0 = now_ms();
    weir_consumer_destroy(b.c);
    b.c = NULL;
    t = poll_until(ms, 2, split_even, 30000, "a to own all partitions again");
    print_message("member left: a owns everything %lld ms after close began (close took part)\n",
                  (long long)(now_ms() - t0));
    const struct ev *last = &a.ev[a.n_ev - 1];
    assert_int_equal(last->kind, WEIR_REBALANCE_ASSIGN);
    assert_int_equal(last->n, NPART);
    for (size_t i = 0; i < last->n; i++) assert_int_equal(last->offs[i], 100);
    /* b's callbacks: ASSIGN, REVOKE (close), more pairs when the mock
     * rebalanced again (see the header) */
    check_callbacks(&b);
    assert_true(b.n_ev >= 2 && b.n_ev % 2 == 0);
    unsigned b_last = 0;
    for (size_t i = 0; i < b.ev[b.n_ev - 1].n; i++) b_last |= 1u << b.ev[b.n_ev - 1].parts[i];
    assert_int_equal(b_last, sb);

    produced_total = 480;
    rd_produce(&mk, "gt", 400, 80, NPART);
    poll_until(ms, 1, all_consumed, 30000, "the new records consumed");
    poll_all(ms, 1, 200);
    for (int p = 0; p < NPART; p++)
        for (int o = 0; o < 120; o++)
            if (counts[p][o] != 1) fail_msg("partition %d offset %d consumed %d times", p, o, counts[p][o]);
    assert_int_equal(a.foreign, 0);
    assert_int_equal(a.gaps, 0);

    /* a's callbacks: A[4] R[4] A[2] R[2] A[4] (more A[2] R[2] pairs when the mock rebalanced again) */
    check_callbacks(&a);
    assert_true(a.n_ev >= 5 && a.n_ev % 2 == 1);
    assert_int_equal(a.ev[0].n, 4);
    assert_int_equal(a.ev[2].n, 2);
    assert_int_equal(a.ev[a.n_ev - 1].n, 4);

    /* unsubscribe: the REVOKE ran in it (as in Java), nothing assigned when it returns */
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0);
    int n_ev = a.n_ev;
    assert_int_equal(weir_consumer_unsubscribe(a.c), 0);
    assert_int_equal(a.n_ev, n_ev + 1);
    assert_int_equal(a.ev[n_ev].kind, WEIR_REBALANCE_REVOKE);
    assert_int_equal(assigned_set(&a), 0);
    struct weir_topic_partition *left;
    size_t n_left;
    assert_int_equal(weir_consumer_assignment(a.c, &left, &n_left), 0);
    assert_int_equal(n_left, 0);
    /* subscribe again: back at the committed offsets (120 per partition) */
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    poll_until(ms, 1, split_even, 30000, "a to own all partitions after resubscribing");
    last = &a.ev[a.n_ev - 1];
    for (size_t i = 0; i < last->n; i++) assert_int_equal(last->offs[i], 120);
    poll_all(ms, 1, 300);
    for (int p = 0; p < NPART; p++)
        for (int o = 0; o < 120; o++) assert_int_equal(counts[p][o], 1);
    weir_consumer_destroy(a.c);
    a.c = NULL;
    (void)sa;
    mock_free(&mk);
}

/* ^pattern: a topic created after the subscription is picked up within
 * metadata.max.age.ms (plus the mock's rebalance delay). */
static void test_mock_pattern(void **state)
{
    (void)state;
    struct mock mk;
    mock_new(&mk, 1);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "logs-a", 2, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "metrics", 2, 1), 0);
    static struct member a;
    member_new(&a, &mk, "pat", (const char *const[]){ "metadata.max.age.ms", "500", NULL });
    struct member *ms[] = { &a };
    const char *pattern[] = { "^logs-.*" };
    assert_int_equal(weir_consumer_subscribe(a.c, pattern, 1), 0);
    int64_t d = now_ms() + 20000;
    struct weir_topic_partition *parts = NULL;
    size_t n = 0;
    while (now_ms() < d) {
        poll_all(ms, 1, 50);
        assert_int_equal(weir_consumer_assignment(a.c, &parts, &n), 0);
        if (n == 2) break;
        weir_consumer_partitions_free(parts, n);
        parts = NULL;
    }
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) assert_string_equal(parts[i].topic, "logs-a");
    weir_consumer_partitions_free(parts, n);
    int64_t t0 = now_ms();
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "logs-b", 3, 1), 0);
    d = now_ms() + 30000;
    n = 0;
    while (now_ms() < d && n != 5) {
        poll_all(ms, 1, 50);
        assert_int_equal(weir_consumer_assignment(a.c, &parts, &n), 0);
        weir_consumer_partitions_free(parts, n);
    }
    assert_int_equal(n, 5);
    print_message("pattern: new topic assigned %lld ms after it was created\n", (long long)(now_ms() - t0));
    weir_consumer_destroy(a.c);
    mock_free(&mk);
}

/* ---- rebalances while records flow ---------------------------------------------------- */

struct feeder {
    const struct mock *mk;
    pthread_t thread;
    volatile bool stop;
    int sent;
    int64_t acked[NPART]; /* records acknowledged per partition */
    pthread_mutex_t lock;
};

static void feeder_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct feeder *f = opaque;
    if (m->err == 0) {
        pthread_mutex_lock(&f->lock);
        f->acked[m->partition]++;
        pthread_mutex_unlock(&f->lock);
    }
}

/* Produces value i to partition i % NPART, about 1000 records/s, until stopped. */
static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    char err[256];
    rd_kafka_conf_t *conf = mock_rd_conf(f->mk);
    rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err);
    rd_kafka_conf_set_dr_msg_cb(conf, feeder_dr);
    rd_kafka_conf_set_opaque(conf, f);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    int64_t t0 = now_ms();
    while (!f->stop) {
        while (f->sent < (now_ms() - t0)) {
            if (mock_produce_int(p, "gt", f->sent % NPART, f->sent) != 0) break;
            f->sent++;
        }
        rd_kafka_poll(p, 5);
    }
    rd_kafka_flush(p, 30000);
    rd_kafka_destroy(p);
    return NULL;
}

static int64_t acked_total(struct feeder *f)
{
    int64_t n = 0;
    pthread_mutex_lock(&f->lock);
    for (int p = 0; p < NPART; p++) n += f->acked[p];
    pthread_mutex_unlock(&f->lock);
    return n;
}

static struct feeder *the_feeder;
static bool all_acked_consumed(struct member **ms, size_t n)
{
    (void)ms, (void)n;
    for (int p = 0; p < NPART; p++)
        for (int64_t o = 0; o < the_feeder->acked[p]; o++)
            if (!counts[p][o]) return false;
    return true;
}

/* Members join and leave while a producer writes and the members commit
 * after each poll round: no record handed out outside the partitions the
 * callbacks gave, none skipped within an assignment (each assignment starts
 * at the committed offset the ASSIGN callback names, then contiguous), every
 * acknowledged record consumed at least once. */
static void test_mock_rebalance_under_load(void **state)
{
    (void)state;
    struct mock mk;
    group_mock_new(&mk, 3);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a, b, c;
    /* The mock answers a Fetch with one record batch per partition, and holds
     * an answer without data for the whole max wait: with the consumer's one
     * Fetch round over all leaders, a short wait keeps a busy partition
     * behind an idle broker from falling far behind. */
    const char *const fast[] = { "fetch.max.wait.ms", "10", NULL };
    member_new(&a, &mk, "a", fast);
    member_new(&b, &mk, "b", fast);
    member_new(&c, &mk, "c", fast);
    a.commit_each_poll = b.commit_each_poll = c.commit_each_poll = true;
    a.commit_in_revoke = b.commit_in_revoke = c.commit_in_revoke = true;
    struct member *ms[] = { &a, &b, &c };
    const char *topics[] = { "gt" };
    static struct feeder f;
    memset(&f, 0, sizeof f);
    f.mk = &mk;
    pthread_mutex_init(&f.lock, NULL);
    the_feeder = &f;
    assert_int_equal(pthread_create(&f.thread, NULL, feeder_main, &f), 0);

    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    assert_int_equal(weir_consumer_subscribe(b.c, topics, 1), 0);
    weir_consumer_destroy(c.c); /* c joins later */
    c.c = NULL;
    struct member *ab[] = { &a, &b };
    int64_t t = poll_until(ab, 2, split_even, 30000, "a and b: two partitions each");
    print_message("a, b: split in %lld ms\n", (long long)t);
    member_new(&c, &mk, "c", fast);
    c.commit_each_poll = c.commit_in_revoke = true;
    assert_int_equal(weir_consumer_subscribe(c.c, topics, 1), 0);
    /* three members over four partitions: 2/1/1 */
    int64_t t0 = now_ms();
    for (;;) {
        poll_all(ms, 3, 20);
        unsigned sa = assigned_set(&a), sb = assigned_set(&b), sc = assigned_set(&c);
        if ((sa | sb | sc) == 0xf && !(sa & sb) && !(sa & sc) && !(sb & sc) && sa && sb && sc) break;
        if (now_ms() - t0 > 30000) fail_msg("no 2/1/1 split: %#x %#x %#x", sa, sb, sc);
    }
    print_message("c joined: 2/1/1 in %lld ms\n", (long long)(now_ms() - t0));
    int64_t d = now_ms() + 1500;
    while (now_ms() < d) poll_all(ms, 3, 20);
    t0 = now_ms();
    weir_consumer_destroy(a.c);
    a.c = NULL;
    t = poll_until(ms, 3, split_even, 30000, "b and c: two each after a closed");
    print_message("a closed: b, c two each %lld ms after close began\n", (long long)(now_ms() - t0));
    d = now_ms() + 1500;
    while (now_ms() < d) poll_all(ms, 3, 20);
    f.stop = true;
    pthread_join(f.thread, NULL);
    print_message("produced %d, acknowledged %lld\n", f.sent, (long long)acked_total(&f));
    assert_int_equal(acked_total(&f), f.sent);
    int64_t td = now_ms();
    while (!all_acked_consumed(ms, 3)) {
        if (now_ms() - td > 60000) {
            for (int p = 0; p < NPART; p++) {
                int64_t o = 0;
                while (o < f.acked[p] && counts[p][o]) o++;
                int64_t last = f.acked[p] - 1;
                while (last >= 0 && !counts[p][last]) last--;
                print_message("partition %d: acknowledged %lld, first not consumed %lld, last consumed %lld\n", p,
                              (long long)f.acked[p], (long long)o, (long long)last);
            }
            for (size_t i = 0; i < 3; i++) {
                if (!ms[i]->c) continue;
                struct weir_topic_partition *parts;
                size_t n;
                weir_consumer_assignment(ms[i]->c, &parts, &n);
                for (size_t k = 0; k < n; k++) {
                    struct weir_topic_partition q = { "gt", parts[k].partition, -5, -5 };
                    weir_consumer_committed(ms[i]->c, &q, 1, 5000);
                    print_message("%s: partition %d position %lld committed %lld (err %d)\n", ms[i]->name,
                                  parts[k].partition, (long long)parts[k].offset, (long long)q.offset, q.err);
                }
                weir_consumer_partitions_free(parts, n);
                struct weir_consumer *wc = ms[i]->c; /* white-box: the fetch state */
                pthread_mutex_lock(&wc->lock);
                for (struct cpart *cp = wc->parts; cp; cp = cp->next)
                    print_message("%s: cpart %d state %d fetch_pos %lld app_pos %lld leader %d hwm %lld epoch %u "
                                  "queued %zu retry_at %lld (now %lld) last_err %d\n",
                                  ms[i]->name, cp->id, (int)cp->state, (long long)cp->fetch_pos, (long long)cp->app_pos,
                                  (int)cp->leader, (long long)cp->hwm, cp->epoch, cp->queued_bytes,
                                  (long long)cp->retry_at_ms, (long long)cw_now_ms(), cp->last_err);
                print_message("%s: queued %zu, head %p, group state %d gen %d cb %p\n", ms[i]->name, wc->queued_bytes,
                              (void *)wc->head, (int)wc->g.state, (int)wc->g.generation, (void *)wc->g.cb);
                pthread_mutex_unlock(&wc->lock);
                for (int e = 0; e < ms[i]->n_ev; e++) {
                    char line[256];
                    size_t len = 0;
                    for (size_t k = 0; k < ms[i]->ev[e].n; k++)
                        len += (size_t)snprintf(line + len, sizeof line - len, " %d@%lld", ms[i]->ev[e].parts[k],
                                                (long long)ms[i]->ev[e].offs[k]);
                    print_message("%s: %s%s\n", ms[i]->name, ms[i]->ev[e].kind == WEIR_REBALANCE_ASSIGN ? "ASSIGN" : "REVOKE",
                                  line);
                }
            }
            for (int p = 0; p < NPART; p++) { /* can librdkafka read on from where the consumers stopped? */
                int64_t o = 0;
                while (o < f.acked[p] && counts[p][o]) o++;
                if (o == f.acked[p]) continue;
                char err[256];
                rd_kafka_conf_t *conf = mock_rd_conf(&mk);
                rd_kafka_conf_set(conf, "group.id", "diag", err, sizeof err);
                rd_kafka_t *rc = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, "gt", p)->offset = o;
                rd_kafka_assign(rc, l);
                rd_kafka_topic_partition_list_destroy(l);
                int64_t dl = now_ms() + 5000;
                int got = 0;
                int64_t first = -1;
                while (now_ms() < dl) {
                    rd_kafka_message_t *msg = rd_kafka_consumer_poll(rc, 100);
                    if (!msg) continue;
                    if (!msg->err) {
                        if (first < 0) first = msg->offset;
                        got++;
                    } else {
                        print_message("librdkafka: partition %d: %s\n", p, rd_kafka_message_errstr(msg));
                    }
                    rd_kafka_message_destroy(msg);
                }
                print_message("librdkafka from partition %d offset %lld: %d records, the first at %lld\n", p,
                              (long long)o, got, (long long)first);
                rd_kafka_consumer_close(rc);
                rd_kafka_destroy(rc);
            }
            fail_msg("not every acknowledged record consumed within 60 s");
        }
        poll_all(ms, 3, 20);
    }
    int dups = 0;
    for (int p = 0; p < NPART; p++)
        for (int64_t o = 0; o < f.acked[p]; o++) dups += counts[p][o] - 1;
    print_message("%d duplicates; commit errors a %d b %d c %d; revoke commits a %d b %d c %d\n", dups, a.commit_errs,
                  b.commit_errs, c.commit_errs, a.revoke_commit_err, b.revoke_commit_err, c.revoke_commit_err);
    for (size_t i = 0; i < 3; i++) {
        struct member *m = ms[i];
        check_callbacks(m);
        if (m->foreign) fail_msg("%s: %d records of partitions it did not own (per its callbacks)", m->name, m->foreign);
        if (m->gaps) fail_msg("%s: %d records not at the expected offset", m->name, m->gaps);
    }
    weir_consumer_destroy(b.c);
    b.c = NULL;
    weir_consumer_destroy(c.c);
    c.c = NULL;
    for (size_t i = 0; i < 3; i++) check_callbacks(ms[i]);
    pthread_mutex_destroy(&f.lock);
    mock_free(&mk);
}

/* ---- errors from the coordinator ----------------------------------------------------- */

static bool all_four(struct member **ms, size_t n)
{
    (void)n;
    return assigned_set(ms[0]) == 0xf && ms[0]->n_ev % 2 == 1;
}

static void test_mock_coordinator_errors(void **state)
{
    (void)state;
    struct mock mk;
    mock_new(&mk, 3);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a;
    member_new(&a, &mk, "a", NULL);
    struct member *ms[] = { &a };
    const char *topics[] = { "gt" };
    /* JoinGroup refused with retriable coordinator errors first */
    rd_kafka_mock_push_request_errors(mk.mc, 11 /* JoinGroup */, 3, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    poll_until(ms, 1, all_four, 30000, "a member despite JoinGroup errors");
    rd_produce(&mk, "gt", 0, 40, NPART);
    produced_total = 40;
    poll_until(ms, 1, all_consumed, 10000, "the first records");
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0);

    /* a commit refused by a coordinator that moved: the error, then the next one works */
    rd_kafka_mock_push_request_errors(mk.mc, 8 /* OffsetCommit */, 1, RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    struct weir_topic_partition tp = { "gt", 0, 10, 0 };
    int rc = weir_consumer_commit(a.c, &tp, 1, 0);
    assert_true(rc == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || rc == 0);
    tp.offset = 10;
    assert_int_equal(weir_consumer_commit(a.c, &tp, 1, 0), 0);

    /* the coordinator moves for real: commits and heartbeats follow it, no rebalance */
    int n_ev = a.n_ev;
    for (int32_t broker = 1; broker <= 3; broker++) {
        assert_int_equal(rd_kafka_mock_coordinator_set(mk.mc, "group", "wg", broker), 0);
        int64_t d = now_ms() + 1500;
        while (now_ms() < d) poll_all(ms, 1, 20);
        tp.offset = 20 + broker;
        int64_t t0 = now_ms();
        while ((rc = weir_consumer_commit(a.c, &tp, 1, 0)) != 0 && now_ms() - t0 < 10000) poll_all(ms, 1, 50);
        if (rc != 0) fail_msg("commit with the coordinator on broker %d: %d", (int)broker, rc);
        struct weir_topic_partition q = { "gt", 0, -5, -5 };
        assert_int_equal(weir_consumer_committed(a.c, &q, 1, 5000), 0);
        assert_int_equal(q.offset, 20 + broker);
    }
    assert_int_equal(a.n_ev, n_ev);
    assert_int_equal(assigned_set(&a), 0xf);

    /* fenced: ILLEGAL_GENERATION then UNKNOWN_MEMBER_ID on heartbeats: a
     * rejoins each time (REVOKE, ASSIGN) and resumes at the committed offsets */
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0);
    const int fence[] = { RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID };
    for (size_t i = 0; i < ARRAY_LEN(fence); i++) {
        n_ev = a.n_ev;
        rd_kafka_mock_push_request_errors(mk.mc, 12 /* Heartbeat */, 1, fence[i]);
        int64_t t0 = now_ms();
        while (!(a.n_ev >= n_ev + 2 && assigned_set(&a) == 0xf && a.n_ev % 2 == 1)) {
            if (now_ms() - t0 > 45000) fail_msg("no rejoin after heartbeat error %d (%d events)", fence[i], a.n_ev - n_ev);
            poll_all(ms, 1, 20);
        }
        print_message("heartbeat error %d: assigned again in %lld ms\n", fence[i], (long long)(now_ms() - t0));
        const struct ev *e = &a.ev[a.n_ev - 1];
        for (size_t k = 0; k < e->n; k++) assert_int_equal(e->offs[k], 10);
    }
    /* SyncGroup refused once: rejoin */
    rd_kafka_mock_push_request_errors(mk.mc, 14 /* SyncGroup */, 1, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    rd_kafka_mock_push_request_errors(mk.mc, 12 /* Heartbeat */, 1, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
    n_ev = a.n_ev;
    int64_t t0 = now_ms();
    while (!(a.n_ev >= n_ev + 2 && assigned_set(&a) == 0xf && a.n_ev % 2 == 1)) {
        if (now_ms() - t0 > 45000) fail_msg("no rejoin after a refused SyncGroup");
        poll_all(ms, 1, 20);
    }
    rd_produce(&mk, "gt", 40, 40, NPART);
    produced_total = 80;
    poll_until(ms, 1, all_consumed, 10000, "the later records");
    check_callbacks(&a);
    assert_int_equal(a.foreign, 0);
    assert_int_equal(a.gaps, 0);
    weir_consumer_destroy(a.c);
    a.c = NULL;
    mock_free(&mk);
}

/* ---- unsubscribe, then assign by hand ---------------------------------------------------- */

/* assign right after unsubscribe works, as in Java and librdkafka
 * (unsubscribe returns once the group let go), and the group's revoke does
 * not take the application's own assignment. */
static void test_mock_unsubscribe_then_assign(void **state)
{
    (void)state;
    struct mock mk;
    mock_new(&mk, 1);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "manual", 1, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a;
    member_new(&a, &mk, "a", NULL);
    struct member *ms[] = { &a };
    const char *topics[] = { "gt" };
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    poll_until(ms, 1, all_four, 30000, "a member");
    assert_int_equal(weir_consumer_unsubscribe(a.c), 0);
    struct weir_partition_start s = { "manual", 0, WEIR_OFFSET_BEGINNING, 0 };
    assert_int_equal(weir_consumer_assign(a.c, &s, 1), 0);
    int64_t d = now_ms() + 2000;
    while (now_ms() < d) poll_all(ms, 1, 20);
    struct weir_topic_partition *parts;
    size_t n;
    assert_int_equal(weir_consumer_assignment(a.c, &parts, &n), 0);
    if (n != 1 || strcmp(parts[0].topic, "manual"))
        fail_msg("the assignment made after unsubscribe is gone: %zu partitions%s%s", n, n ? ", first " : "",
                 n ? parts[0].topic : "");
    weir_consumer_partitions_free(parts, n);
    /* the REVOKE named the group's partitions only */
    check_callbacks(&a);
    assert_int_equal(a.n_ev, 2);
    assert_int_equal(a.ev[1].n, NPART);
    /* unsubscribe, then subscribe at once: accepted (the group's own
     * assignment is not the application's), and the member comes back */
    assert_int_equal(weir_consumer_assign(a.c, NULL, 0), 0);
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    poll_until(ms, 1, all_four, 30000, "a member again");
    int n_ev = a.n_ev;
    assert_int_equal(weir_consumer_unsubscribe(a.c), 0);
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    int64_t t0 = now_ms();
    while (!(a.n_ev >= n_ev + 2 && assigned_set(&a) == 0xf && a.n_ev % 2 == 1)) {
        if (now_ms() - t0 > 30000) fail_msg("no rejoin after unsubscribe + subscribe (%d callbacks)", a.n_ev - n_ev);
        poll_all(ms, 1, 20);
    }
    check_callbacks(&a);
    weir_consumer_destroy(a.c);
    a.c = NULL;
    mock_free(&mk);
}

/* ---- max.poll.interval.ms --------------------------------------------------------------------- */

/* A member that stops polling leaves; at its next poll it hears of it (an
 * error event, a REVOKE before the next ASSIGN) and rejoins. */
static void test_mock_poll_interval(void **state)
{
    (void)state;
    struct mock mk;
    mock_new(&mk, 1);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a;
    member_new(&a, &mk, "a", (const char *const[]){ "max.poll.interval.ms", "2500", NULL });
    a.commit_in_revoke = true;
    struct member *ms[] = { &a };
    const char *topics[] = { "gt" };
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    poll_until(ms, 1, all_four, 30000, "a member");
    assert_int_equal(a.n_ev, 1);
    usleep(7000 * 1000); /* the point of the test: no poll for longer than max.poll.interval.ms */
    int64_t t0 = now_ms();
    while (!(a.n_ev >= 3 && assigned_set(&a) == 0xf)) {
        if (now_ms() - t0 > 30000) fail_msg("not a member again: %d callbacks, assignment %#x", a.n_ev, assigned_set(&a));
        poll_all(ms, 1, 20);
    }
    print_message("poll timeout: member again %lld ms after polling resumed\n", (long long)(now_ms() - t0));
    assert_true(a.n_errors >= 1);
    assert_int_equal(a.errors[0], WEIR_CLIENT_E_TIMED_OUT);
    check_callbacks(&a);
    assert_int_equal(a.n_ev, 3);
    /* the member had left when the REVOKE ran: its commit there was refused */
    if (a.revoke_commit_err == 0) fail_msg("a commit in the REVOKE of lost partitions succeeded");
    weir_consumer_destroy(a.c);
    a.c = NULL;
    mock_free(&mk);
}

/* ---- static membership ------------------------------------------------------------------ */

/* group.instance.id on the mock, which takes the field and ignores it (its
 * semantics are tests/it_client_groups.py's, against weir's broker): a
 * static member joins, gets everything, consumes, commits; UNKNOWN_MEMBER_ID
 * makes it rejoin; FENCED_INSTANCE_ID (pushed as a heartbeat's answer) is
 * one error event and a REVOKE, after which it holds nothing and never
 * rejoins, commit and subscribe refuse with it; a coordinator whose JoinGroup
 * stops at v4 (no group.instance.id) fails the join with a clear error. */
static void test_mock_static_member(void **state)
{
    (void)state;
    struct mock mk;
    mock_new(&mk, 1);
    assert_int_equal(rd_kafka_mock_topic_create(mk.mc, "gt", NPART, 1), 0);
    memset(counts, 0, sizeof counts);
    static struct member a, b;
    member_new(&a, &mk, "a", (const char *const[]){ "group.instance.id", "static-a", NULL });
    a.commit_in_revoke = true;
    struct member *ms[] = { &a };
    const char *topics[] = { "gt" };
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), 0);
    int64_t t = poll_until(ms, 1, all_four, 30000, "the static member to own all partitions");
    print_message("static member: all partitions in %lld ms\n", (long long)t);
    rd_produce(&mk, "gt", 0, 40, NPART);
    produced_total = 40;
    poll_until(ms, 1, all_consumed, 10000, "the records");
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0);
    struct weir_topic_partition q = { "gt", 0, -5, -5 };
    assert_int_equal(weir_consumer_committed(a.c, &q, 1, 5000), 0);
    assert_int_equal(q.offset, 10);

    /* UNKNOWN_MEMBER_ID: rejoins (with an empty member id) at the committed offsets */
    int n_ev = a.n_ev;
    rd_kafka_mock_push_request_errors(mk.mc, 12 /* Heartbeat */, 1, RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID);
    int64_t t0 = now_ms();
    while (!(a.n_ev >= n_ev + 2 && assigned_set(&a) == 0xf && a.n_ev % 2 == 1)) {
        if (now_ms() - t0 > 45000) fail_msg("no rejoin after UNKNOWN_MEMBER_ID (%d events)", a.n_ev - n_ev);
        poll_all(ms, 1, 20);
    }
    for (size_t k = 0; k < a.ev[a.n_ev - 1].n; k++) assert_int_equal(a.ev[a.n_ev - 1].offs[k], 10);
    assert_int_equal(a.n_errors, 0);

    /* FENCED_INSTANCE_ID: one error event, a REVOKE (its commit refused), nothing after */
    n_ev = a.n_ev;
    rd_kafka_mock_push_request_errors(mk.mc, 12 /* Heartbeat */, 1, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID);
    t0 = now_ms();
    while (!(a.n_errors >= 1 && a.n_ev == n_ev + 1 && assigned_set(&a) == 0)) {
        if (now_ms() - t0 > 15000)
            fail_msg("not fenced: %d errors, %d events, assignment %#x", a.n_errors, a.n_ev - n_ev, assigned_set(&a));
        poll_all(ms, 1, 20);
    }
    print_message("fenced: reported and revoked in %lld ms: %s\n", (long long)(now_ms() - t0), a.errstr);
    assert_int_equal(a.errors[0], WEIR_KAFKA_FENCED_INSTANCE_ID);
    assert_non_null(strstr(a.errstr, "group.instance.id \"static-a\""));
    assert_null(strchr(a.errstr, '\n'));
    assert_int_equal(a.ev[n_ev].kind, WEIR_REBALANCE_REVOKE);
    assert_int_equal(a.revoke_commit_err, WEIR_KAFKA_FENCED_INSTANCE_ID);
    /* no heartbeat, no rejoin: nothing for longer than a mock rebalance (3 s) takes */
    t0 = now_ms();
    while (now_ms() - t0 < 5000) poll_all(ms, 1, 50);
    assert_int_equal(a.n_ev, n_ev + 1);
    assert_int_equal(a.n_errors, 1); /* once */
    assert_int_equal(assigned_set(&a), 0);
    assert_int_equal(weir_consumer_commit(a.c, NULL, 0, 0), 0); /* nothing assigned: nothing to commit */
    struct weir_topic_partition tp = { "gt", 0, 11, 0 };
    assert_int_equal(weir_consumer_commit(a.c, &tp, 1, 0), WEIR_KAFKA_FENCED_INSTANCE_ID);
    assert_int_equal(weir_consumer_subscribe(a.c, topics, 1), WEIR_KAFKA_FENCED_INSTANCE_ID);
    assert_int_equal(weir_consumer_committed(a.c, &q, 1, 5000), 0); /* reading offsets needs no membership */
    assert_int_equal(q.offset, 10);
    check_callbacks(&a);
    weir_consumer_destroy(a.c);
    a.c = NULL;

    /* JoinGroup v0-4 only: no group.instance.id there, the join fails with one clear error */
    rd_kafka_mock_set_apiversion(mk.mc, 11 /* JoinGroup */, 0, 4);
    member_new(&b, &mk, "b", (const char *const[]){ "group.instance.id", "static-b", NULL });
    struct member *mb[] = { &b };
    assert_int_equal(weir_consumer_subscribe(b.c, topics, 1), 0);
    t0 = now_ms();
    while (b.n_errors == 0 && now_ms() - t0 < 15000) poll_all(mb, 1, 20);
    print_message("JoinGroup v4: %s\n", b.errstr);
    assert_int_equal(b.n_errors, 1);
    assert_int_equal(b.errors[0], WEIR_CLIENT_E_UNSUPPORTED);
    assert_non_null(strstr(b.errstr, "JoinGroup v4"));
    assert_non_null(strstr(b.errstr, "group.instance.id"));
    t0 = now_ms();
    while (now_ms() - t0 < 1500) poll_all(mb, 1, 50);
    assert_int_equal(b.n_ev, 0);
    assert_int_equal(b.n_errors, 1); /* retried slowly, reported once */
    weir_consumer_destroy(b.c);
    b.c = NULL;
    mock_free(&mk);
}

#endif /* WEIR_HAVE_RDKAFKA */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_javadoc),
        cmocka_unit_test(test_roundrobin_javadoc),
        cmocka_unit_test(test_range_different_subscriptions),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_strategy_names),
        cmocka_unit_test(test_group_conf),
        cmocka_unit_test(test_calls_without_group),
        cmocka_unit_test(test_call_arguments),
        cmocka_unit_test(test_close_while_broker_silent),
        cmocka_unit_test(test_unsubscribe_while_broker_silent),
#ifdef WEIR_HAVE_RDKAFKA
        cmocka_unit_test(test_mock_group),
        cmocka_unit_test(test_mock_pattern),
        cmocka_unit_test(test_mock_rebalance_under_load),
        cmocka_unit_test(test_mock_coordinator_errors),
        cmocka_unit_test(test_mock_unsubscribe_then_assign),
        cmocka_unit_test(test_mock_poll_interval),
        cmocka_unit_test(test_mock_static_member),
#endif
    };
    if (getenv("WEIR_TEST_DEBUG")) weir_log_set_level(WEIR_LOG_DEBUG);
    if (getenv("WEIR_TEST_FILTER")) cmocka_set_test_filter(getenv("WEIR_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
