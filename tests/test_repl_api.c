/* tests/test_repl_api.c: repl/repl.h as net/ sees it. The per-partition
 * wrappers (replica.c): a leader's high watermark, ISR expand and shrink
 * proposals and acks=all through weir_repl_leader_*, and the follower's
 * truncation answers mapped to weir_trunc. Then struct weir_cluster on a
 * real ZooKeeper: three clusters in this process register (a duplicate id
 * is refused naming the other's address), a topic created with RF=3 gives
 * every broker its role (one leader, two followers, one epoch) and the
 * partition info, queried from inside the role callbacks too; an ISR write
 * succeeds, then loses on the old version; partitions are added; the
 * leader's cluster stops and a follower leads at a higher epoch; the
 * stopped broker comes back; a controlled shutdown moves leadership away
 * before it returns; the topic is deleted and the roles go to NONE. Auto
 * rebalance gives the preferred leader back. Per-topic unclean leader
 * election. A ZooKeeper restart under them. A chroot holds its own tree; a
 * server that does not answer times out; an empty zk_connect is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- struct weir_cluster on a real ZooKeeper -------------------------------------------- */

enum { NB = 3, RECS = 32 };

struct rec {
    char topic[32];
    int32_t partition;
    struct weir_role role;
    bool queried_ok; /* weir_cluster_partition from inside the callback agreed */
};

struct node {
    int32_t id;
    struct weir_cluster *cl;
    pthread_mutex_t mu; /* guards the records: on_role runs on the cluster's thread */
    struct rec recs[RECS];
    int n, events, changes;
    bool bad_order;     /* a role arrived with a lower epoch than the last */
};

static struct weir_test_zk server;
static struct node nodes[NB + 1]; /* nodes[1..NB] */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_role(void *ctx, const char *topic, int32_t partition, const struct weir_role *role)
{
    struct node *n = ctx;
    struct weir_partition_info info;
    bool have = weir_cluster_partition(n->cl, topic, partition, &info); /* re-entering from the callback */
    pthread_mutex_lock(&n->mu);
    struct rec *r = NULL;
    for (int i = 0; i < n->n && !r; i++)
        if (strcmp(n->recs[i].topic, topic) == 0 && n->recs[i].partition == partition) r = &n->recs[i];
    if (!r && n->n < RECS) {
        r = &n->recs[n->n++];
        *r = (struct rec){ .partition = partition };
        snprintf(r->topic, sizeof r->topic, "%s", topic);
    }
    if (r) {
        if (r->role.kind != WEIR_ROLE_NONE && role->kind != WEIR_ROLE_NONE &&
            role->info.leader_epoch < r->role.info.leader_epoch)
            n->bad_order = true;
        r->role = *role;
        r->queried_ok = role->kind == WEIR_ROLE_NONE ||
                        (have && info.leader == role->info.leader && info.leader_epoch == role->info.leader_epoch &&
                         info.zk_version == role->info.zk_version);
    }
    n->events++;
    pthread_mutex_unlock(&n->mu);
}

static void on_change(void *ctx)
{
    struct node *n = ctx;
    pthread_mutex_lock(&n->mu);
    n->changes++;
    pthread_mutex_unlock(&n->mu);
}

static const struct weir_cluster_ops node_ops = { on_role, on_change, NULL, NULL };

static struct weir_cluster_config config(int32_t id, const char *connect)
{
    struct weir_cluster_config c = { .broker_id = id, .port = 9090 + id, .session_timeout_ms = 10000,
                                     .connect_timeout_ms = 20000, .rebalance_check_ms = 300, .imbalance_pct = 0 };
    snprintf(c.zk_connect, sizeof c.zk_connect, "%s", connect);
    snprintf(c.host, sizeof c.host, "127.0.0.1");
    return c;
}

static void node_start(int32_t id, bool rebalance)
{
    struct node *n = &nodes[id];
    if (n->id == 0) pthread_mutex_init(&n->mu, NULL);
    pthread_mutex_lock(&n->mu);
    n->id = id;
    n->n = n->events = n->changes = 0;
    n->bad_order = false;
    pthread_mutex_unlock(&n->mu);
    struct weir_cluster_config c = config(id, server.connect);
    c.auto_rebalance = rebalance;
    char why[512];
    enum weir_err e = weir_cluster_start(&c, &node_ops, n, &n->cl, why, sizeof why);
    if (e != WEIR_OK) fail_msg("broker %d: start: %s: %s", id, weir_err_text(e), why);
    assert_int_equal(weir_cluster_id_self(n->cl), id);
    struct weir_broker_addr a; /* start returns with its own registration in the cache */
    assert_true(weir_cluster_broker(n->cl, id, "PLAINTEXT", &a));
    assert_int_equal(a.port, 9090 + id);
}

static void node_stop(int32_t id)
{
    struct node *n = &nodes[id];
    weir_cluster_stop(n->cl);
    n->cl = NULL;
    pthread_mutex_lock(&n->mu); /* no callback after stop */
    int events = n->events;
    pthread_mutex_unlock(&n->mu);
    usleep(50 * 1000);
    pthread_mutex_lock(&n->mu);
    assert_int_equal(n->events, events);
    pthread_mutex_unlock(&n->mu);
}

static struct weir_role role_of(int32_t id, const char *topic, int32_t p, bool *queried_ok)
{
    struct node *n = &nodes[id];
    struct weir_role r = { .kind = WEIR_ROLE_NONE };
    pthread_mutex_lock(&n->mu);
    for (int i = 0; i < n->n; i++)
        if (strcmp(n->recs[i].topic, topic) == 0 && n->recs[i].partition == p) {
            r = n->recs[i].role;
            if (queried_ok) *queried_ok = n->recs[i].queried_ok;
        }
    pthread_mutex_unlock(&n->mu);
    return r;
}

/* Polls cond (every 20 ms) for up to ms; returns whether it held. */
#define WAIT_FOR(cond, ms)                                                                                        \
    ({                                                                                                            \
        int64_t _end = now_ms() + (ms);                                                                           \
        bool _ok;                                                                                                 \
        while (!(_ok = (cond)) && now_ms() < _end) usleep(20 * 1000);                                             \
        _ok;                                                                                                      \
    })

static bool all_see_brokers(const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++) {
        struct weir_broker_addr a[NB + 1];
        struct weir_cluster *cl = nodes[ids[i]].cl;
        if (weir_cluster_brokers(cl, "PLAINTEXT", a, NB + 1) != (size_t)n) return false;
        for (int k = 0; k < n; k++)
            if (a[k].id != ids[k] || a[k].port != 9090 + ids[k] || strcmp(a[k].host, "127.0.0.1") != 0) return false;
        if (weir_cluster_controller(cl) < 0) return false;
    }
    int32_t c = weir_cluster_controller(nodes[ids[0]].cl);
    for (int i = 1; i < n; i++)
        if (weir_cluster_controller(nodes[ids[i]].cl) != c) return false;
    return true;
}

/* Every live node holds the role the partition's info says, at one epoch,
 * and each agrees with the info of the first. */
static bool roles_agree(const int32_t *ids, int n, const char *topic, int32_t p, int32_t min_epoch)
{
    struct weir_partition_info info;
    if (!weir_cluster_partition(nodes[ids[0]].cl, topic, p, &info) || info.leader < 0 ||
        info.leader_epoch < min_epoch)
        return false;
    int leaders = 0;
    for (int i = 0; i < n; i++) {
        struct weir_partition_info o;
        if (!weir_cluster_partition(nodes[ids[i]].cl, topic, p, &o) || o.leader != info.leader ||
            o.leader_epoch != info.leader_epoch || o.zk_version != info.zk_version)
            return false;
        bool hosted = false;
        for (uint32_t k = 0; k < info.replicas_n; k++) hosted |= info.replicas[k] == ids[i];
        bool q = false;
        struct weir_role r = role_of(ids[i], topic, p, &q);
        if (!hosted) {
            if (r.kind != WEIR_ROLE_NONE) return false;
            continue;
        }
        enum weir_role_kind want = info.leader == ids[i] ? WEIR_ROLE_LEADER : WEIR_ROLE_FOLLOWER;
        if (r.kind != want || r.info.leader != info.leader || r.info.leader_epoch != info.leader_epoch || !q)
            return false;
        leaders += want == WEIR_ROLE_LEADER;
    }
    return leaders <= 1;
}

struct done_rec {
    pthread_mutex_t mu;
    bool done;
    enum weir_err err;
    int32_t version;
    char why[512];
};

static void admin_done(void *ctx, enum weir_err err, const char *why)
{
    struct done_rec *d = ctx;
    pthread_mutex_lock(&d->mu);
    d->done = true;
    d->err = err;
    snprintf(d->why, sizeof d->why, "%s", why ? why : "(null)");
    pthread_mutex_unlock(&d->mu);
}

static void isr_done(void *ctx, enum weir_err err, int32_t version)
{
    struct done_rec *d = ctx;
    pthread_mutex_lock(&d->mu);
    d->done = true;
    d->err = err;
    d->version = version;
    pthread_mutex_unlock(&d->mu);
}

static bool is_done(struct done_rec *d)
{
    pthread_mutex_lock(&d->mu);
    bool v = d->done;
    pthread_mutex_unlock(&d->mu);
    return v;
}

static void done_init(struct done_rec *d)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
}

/* Waits for d (bounded) and returns its error. */
static enum weir_err done_wait(struct done_rec *d)
{
    if (!WAIT_FOR(is_done(d), 15000)) fail_msg("no answer in 15 s");
    pthread_mutex_destroy(&d->mu);
    return d->err;
}

static enum weir_err create(int32_t via, const char *topic, int32_t parts, int16_t rf, char *why)
{
    struct done_rec d;
    done_init(&d);
    const char *keys[] = { "min.insync.replicas", "cleanup.policy" }, *values[] = { "2", "delete" };
    weir_cluster_topic_create(nodes[via].cl, topic, parts, rf, NULL, keys, values, 2, admin_done, &d);
    enum weir_err e = done_wait(&d);
    if (why) snprintf(why, 512, "%s", d.why);
    return e;
}

static enum weir_err create_one(int32_t via, const char *topic, int16_t rf, const char *key, const char *value)
{
    struct done_rec d;
    done_init(&d);
    weir_cluster_topic_create(nodes[via].cl, topic, 1, rf, NULL, &key, &value, key ? 1 : 0, admin_done, &d);
    return done_wait(&d);
}

static enum weir_err add_parts(int32_t via, const char *topic, int32_t total)
{
    struct done_rec d;
    done_init(&d);
    weir_cluster_partitions_add(nodes[via].cl, topic, total, NULL, admin_done, &d);
    return done_wait(&d);
}

/* CreateTopics / CreatePartitions with a client's assignment (parts x rf ids). */
static enum weir_err create_given(int32_t via, const char *topic, const int32_t *ids, int32_t parts, int16_t rf)
{
    struct done_rec d;
    done_init(&d);
    struct weir_assignment asg = { ids, parts, rf };
    weir_cluster_topic_create(nodes[via].cl, topic, parts, rf, &asg, NULL, NULL, 0, admin_done, &d);
    return done_wait(&d);
}

static enum weir_err add_given(int32_t via, const char *topic, int32_t total, const int32_t *ids, int32_t parts,
                               int16_t rf, char *why)
{
    struct done_rec d;
    done_init(&d);
    struct weir_assignment asg = { ids, parts, rf };
    weir_cluster_partitions_add(nodes[via].cl, topic, total, &asg, admin_done, &d);
    enum weir_err e = done_wait(&d);
    snprintf(why, 512, "%s", d.why);
    return e;
}

static enum weir_err delete_topic(int32_t via, const char *topic)
{
    struct done_rec d;
    done_init(&d);
    weir_cluster_topic_delete(nodes[via].cl, topic, admin_done, &d);
    return done_wait(&d);
}

static enum weir_err isr_write(int32_t via, const char *topic, int32_t p, int32_t epoch, int32_t version,
                               const int32_t *isr, uint32_t n, int32_t *new_version)
{
    struct done_rec d;
    done_init(&d);
    weir_cluster_isr_write(nodes[via].cl, topic, p, epoch, version, isr, n, isr_done, &d);
    enum weir_err e = done_wait(&d);
    if (new_version) *new_version = d.version;
    return e;
}

static bool partition_is(int32_t via, const char *topic, int32_t p, int32_t version, uint32_t isr_n)
{
    struct weir_partition_info info;
    return weir_cluster_partition(nodes[via].cl, topic, p, &info) && info.zk_version == version && info.isr_n == isr_n;
}

static bool leader_not(const int32_t *ids, int n, const char *topic, int32_t p, int32_t old, int32_t min_epoch)
{
    struct weir_partition_info info;
    return weir_cluster_partition(nodes[ids[0]].cl, topic, p, &info) && info.leader != old && info.leader >= 0 &&
           roles_agree(ids, n, topic, p, min_epoch);
}

static bool all_none(const int32_t *ids, int n, const char *topic, int32_t parts)
{
    for (int i = 0; i < n; i++) {
        if (weir_cluster_topic_partitions(nodes[ids[i]].cl, topic) != -1) return false;
        for (int32_t p = 0; p < parts; p++)
            if (role_of(ids[i], topic, p, NULL).kind != WEIR_ROLE_NONE) return false;
    }
    return true;
}

/* The broker, among ids, that leads a partition of topic with another live ISR member, else -1. */
static int32_t a_movable_leader(const int32_t *ids, int n, const char *topic, int32_t parts, int32_t *part)
{
    for (int32_t p = 0; p < parts; p++) {
        struct weir_partition_info info;
        if (!weir_cluster_partition(nodes[ids[0]].cl, topic, p, &info) || info.leader < 0) continue;
        for (uint32_t k = 0; k < info.isr_n; k++) {
            bool live = false;
            for (int i = 0; i < n; i++) live |= ids[i] == info.isr[k];
            if (live && info.isr[k] != info.leader) {
                *part = p;
                return info.leader;
            }
        }
    }
    return -1;
}

/* Partition p of topic, as node `via` reads it, has exactly these replicas and the first leads. */
static bool placed_as(int32_t via, const char *topic, int32_t p, const int32_t *want, uint32_t n)
{
    struct weir_partition_info info;
    return weir_cluster_partition(nodes[via].cl, topic, p, &info) && info.replicas_n == n &&
           !memcmp(info.replicas, want, n * sizeof *want) && info.leader == want[0];
}

/* A client's assignment is written as given (the first replica leads); new
 * partitions' are checked again against the topic znode: their count and
 * replication factor. */
static void cluster_manual_assignments(const int32_t *all)
{
    char why[512];
    const int32_t m[] = { 3, 1, 2, 3 }, grow[] = { 1, 2 }, wide[] = { 1, 2, 3 };
    assert_int_equal(create_given(2, "m", m, 2, 2), WEIR_OK);
    for (int32_t p = 0; p < 2; p++) assert_true(WAIT_FOR(roles_agree(all, NB, "m", p, 0), 15000));
    assert_true(placed_as(1, "m", 0, m, 2));
    assert_true(placed_as(1, "m", 1, m + 2, 2));
    assert_int_equal(add_given(1, "m", 4, grow, 1, 2, why), WEIR_E_INVALID);
    assert_non_null(strstr(why, "Increasing the number of partitions by 2 but 1 assignments provided."));
    assert_int_equal(add_given(1, "m", 3, wide, 1, 3, why), WEIR_E_INVALID);
    assert_non_null(strstr(why, "Inconsistent replication factor"));
    assert_int_equal(add_given(1, "m", 3, grow, 1, 2, why), WEIR_OK);
    assert_true(WAIT_FOR(roles_agree(all, NB, "m", 2, 0), 15000));
    assert_true(placed_as(3, "m", 2, grow, 2));
    assert_true(placed_as(3, "m", 0, m, 2));
    assert_int_equal(delete_topic(2, "m"), WEIR_OK);
    assert_true(WAIT_FOR(all_none(all, NB, "m", 3), 15000));
}

static void t_cluster(void **state)
{
    (void)state;
    int64_t t0 = now_ms();
    int32_t all[NB] = { 1, 2, 3 };
    for (int32_t id = 1; id <= NB; id++) node_start(id, false);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));

    /* a second broker 2 is refused, naming the first one's address */
    struct weir_cluster_config dup = config(2, server.connect);
    dup.port = 7777;
    struct weir_cluster *dcl = NULL;
    char why[512];
    assert_int_equal(weir_cluster_start(&dup, &node_ops, &nodes[0], &dcl, why, sizeof why), WEIR_E_EXISTS);
    assert_null(dcl);
    assert_non_null(strstr(why, "broker id 2"));
    assert_non_null(strstr(why, "127.0.0.1:9092"));
    assert_true(all_see_brokers(all, NB)); /* the refusal left broker 2's registration alone */

    /* RF=3: one leader, two followers, one epoch, everywhere */
    assert_int_equal(create(1, "t", 2, 3, why), WEIR_OK);
    assert_int_equal(create(2, "t", 2, 3, why), WEIR_E_EXISTS);
    assert_non_null(strstr(why, "already exists"));
    assert_int_equal(create(2, "u", 1, 4, why), WEIR_E_INVALID);
    assert_int_equal(create(2, "bad/name", 1, 1, why), WEIR_E_BAD_NAME);
    for (int32_t p = 0; p < 2; p++) assert_true(WAIT_FOR(roles_agree(all, NB, "t", p, 0), 15000));
    struct weir_partition_info info;
    assert_true(weir_cluster_partition(nodes[3].cl, "t", 0, &info));
    assert_int_equal(info.replicas_n, 3);
    assert_int_equal(info.isr_n, 3);
    assert_int_equal(info.leader, info.replicas[0]);
    assert_int_equal(info.leader_epoch, 0);
    assert_false(weir_cluster_partition(nodes[3].cl, "t", 2, &info));
    assert_false(weir_cluster_partition(nodes[3].cl, "nope", 0, &info));
    assert_int_equal(weir_cluster_topic_partitions(nodes[2].cl, "t"), 2);
    assert_int_equal(weir_cluster_topic_partitions(nodes[2].cl, "nope"), -1);
    char *names[4];
    assert_int_equal(weir_cluster_topics(nodes[1].cl, names, 4), 1);
    assert_string_equal(names[0], "t");
    weir_free(names[0]);
    char cfg[256];
    assert_int_equal(weir_cluster_topic_configs(nodes[3].cl, "t", cfg, sizeof cfg), WEIR_OK);
    assert_non_null(strstr(cfg, "min.insync.replicas=2\n"));
    assert_non_null(strstr(cfg, "cleanup.policy=delete\n"));
    assert_int_equal(weir_cluster_topic_configs(nodes[3].cl, "t", cfg, 4), WEIR_E_TOO_LARGE);
    assert_int_equal(weir_cluster_topic_configs(nodes[3].cl, "nope", cfg, sizeof cfg), WEIR_E_NOT_FOUND);

    /* the leader's ISR write: ok at the version read, stale after */
    assert_true(weir_cluster_partition(nodes[1].cl, "t", 0, &info));
    int32_t L = info.leader, other = info.isr[0] == L ? info.isr[1] : info.isr[0], v2 = -1;
    int32_t isr2[] = { L, other };
    assert_int_equal(isr_write(L, "t", 0, info.leader_epoch, info.zk_version, isr2, 2, &v2), WEIR_OK);
    assert_true(v2 > info.zk_version);
    /* the same write again at the old version: what an answer lost to a
     * connection loss looks like; the znode holds it, so it succeeded */
    int32_t v3 = -1;
    assert_int_equal(isr_write(L, "t", 0, info.leader_epoch, info.zk_version, isr2, 2, &v3), WEIR_OK);
    assert_int_equal(v3, v2);
    int32_t isr1[] = { L };
    assert_int_equal(isr_write(L, "t", 0, info.leader_epoch, info.zk_version, isr1, 1, NULL), WEIR_E_STALE);
    for (int32_t id = 1; id <= NB; id++) assert_true(WAIT_FOR(partition_is(id, "t", 0, v2, 2), 10000));
    assert_int_equal(isr_write(L, "nope", 0, 0, 0, isr2, 2, NULL), WEIR_E_NOT_FOUND);

    /* partitions added: roles for the new one */
    assert_int_equal(add_parts(3, "t", 3), WEIR_OK);
    assert_int_equal(add_parts(3, "t", 2), WEIR_E_BAD_PARTITIONS);
    assert_int_equal(add_parts(3, "nope", 2), WEIR_E_NOT_FOUND);
    assert_true(WAIT_FOR(roles_agree(all, NB, "t", 2, 0), 15000));
    assert_int_equal(weir_cluster_topic_partitions(nodes[1].cl, "t"), 3);
    cluster_manual_assignments(all);

    /* the leader of t-1 stops: its session closes; a follower leads at a higher epoch */
    assert_true(weir_cluster_partition(nodes[1].cl, "t", 1, &info));
    int32_t gone = info.leader, e1 = info.leader_epoch, rest[NB - 1], nr = 0;
    for (int32_t id = 1; id <= NB; id++)
        if (id != gone) rest[nr++] = id;
    node_stop(gone);
    assert_true(WAIT_FOR(leader_not(rest, nr, "t", 1, gone, e1 + 1), 15000));
    assert_true(WAIT_FOR(all_see_brokers(rest, nr), 15000));
    /* it comes back (a new session, the same id) and follows */
    node_start(gone, false);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    for (int32_t p = 0; p < 3; p++) assert_true(WAIT_FOR(roles_agree(all, NB, "t", p, 0), 15000));

    /* controlled shutdown: a broker leading a partition with another live
     * ISR member leads it no more when the call returns */
    int32_t part = -1, b = a_movable_leader(all, NB, "t", 3, &part);
    assert_true(b > 0);
    assert_true(weir_cluster_partition(nodes[b].cl, "t", part, &info));
    int32_t eb = info.leader_epoch;
    assert_int_equal(weir_cluster_shutdown(nodes[b].cl, 20000), WEIR_OK);
    assert_true(weir_cluster_partition(nodes[b].cl, "t", part, &info));
    assert_int_not_equal(info.leader, b);
    assert_true(info.leader_epoch > eb);
    for (uint32_t k = 0; k < info.isr_n; k++) assert_int_not_equal(info.isr[k], b);
    assert_int_equal(weir_cluster_shutdown(nodes[b].cl, 1000), WEIR_OK); /* again: nothing left to move */
    node_stop(b);
    nr = 0;
    for (int32_t id = 1; id <= NB; id++)
        if (id != b) rest[nr++] = id;

    /* deletion: roles go to NONE, the topic from the lists */
    assert_int_equal(delete_topic(rest[0], "t"), WEIR_OK);
    assert_true(WAIT_FOR(all_none(rest, nr, "t", 3), 15000));
    assert_int_equal(weir_cluster_topics(nodes[rest[1]].cl, names, 4), 0);
    assert_int_equal(delete_topic(rest[0], "t"), WEIR_E_NOT_FOUND);
    for (int i = 0; i < nr; i++) {
        pthread_mutex_lock(&nodes[rest[i]].mu);
        assert_false(nodes[rest[i]].bad_order);
        assert_true(nodes[rest[i]].changes > 0);
        pthread_mutex_unlock(&nodes[rest[i]].mu);
        node_stop(rest[i]);
    }
    fprintf(stderr, "t_cluster: %lld ms\n", (long long)(now_ms() - t0));
}

static bool offline_everywhere(const int32_t *ids, int n, const char *topic, int32_t last)
{
    for (int i = 0; i < n; i++) {
        struct weir_partition_info info;
        if (!weir_cluster_partition(nodes[ids[i]].cl, topic, 0, &info) || info.leader != WEIR_NO_LEADER ||
            info.isr_n != 1 || info.isr[0] != last || role_of(ids[i], topic, 0, NULL).kind != WEIR_ROLE_OFFLINE)
            return false;
    }
    return true;
}

static bool led_alone_by_one_of(const int32_t *ids, int n, const char *topic)
{
    struct weir_partition_info info;
    if (!weir_cluster_partition(nodes[ids[0]].cl, topic, 0, &info) || info.isr_n != 1 || info.isr[0] != info.leader)
        return false;
    bool among = false;
    for (int i = 0; i < n; i++) among |= ids[i] == info.leader;
    return among && roles_agree(ids, n, topic, 0, 0);
}

/* Per-topic unclean.leader.election.enable: with every ISR member gone, "u"
 * (true in its config) elects a live replica outside the ISR; "k" (the
 * broker default, false) stays offline keeping its last ISR member
 * (KIP-966), which leads again when it comes back. */
static void t_unclean(void **state)
{
    (void)state;
    int32_t all[NB] = { 1, 2, 3 };
    for (int32_t id = 1; id <= NB; id++) node_start(id, false);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    assert_int_equal(create_one(1, "u", 3, "unclean.leader.election.enable", "true"), WEIR_OK);
    assert_int_equal(create_one(2, "k", 3, NULL, NULL), WEIR_OK);
    const char *topics[2] = { "u", "k" };
    int32_t leader[2];
    for (int k = 0; k < 2; k++) { /* each leader alone in its ISR */
        assert_true(WAIT_FOR(roles_agree(all, NB, topics[k], 0, 0), 15000));
        struct weir_partition_info info;
        assert_true(weir_cluster_partition(nodes[1].cl, topics[k], 0, &info));
        leader[k] = info.leader;
        int32_t v;
        assert_int_equal(isr_write(info.leader, topics[k], 0, info.leader_epoch, info.zk_version, &info.leader, 1, &v),
                         WEIR_OK);
        for (int32_t id = 1; id <= NB; id++) assert_true(WAIT_FOR(partition_is(id, topics[k], 0, v, 1), 10000));
    }
    int32_t rest[NB], nr = 0;
    for (int32_t id = 1; id <= NB; id++)
        if (id == leader[0] || id == leader[1]) node_stop(id);
        else rest[nr++] = id;
    assert_true(WAIT_FOR(led_alone_by_one_of(rest, nr, "u"), 15000));
    assert_true(WAIT_FOR(offline_everywhere(rest, nr, "k", leader[1]), 15000));
    for (int32_t id = 1; id <= NB; id++)
        if (!nodes[id].cl) node_start(id, false);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    struct weir_partition_info info;
    assert_true(WAIT_FOR(roles_agree(all, NB, "k", 0, 0) && weir_cluster_partition(nodes[1].cl, "k", 0, &info) &&
                             info.leader == leader[1],
                         15000));
    assert_int_equal(delete_topic(1, "u"), WEIR_OK);
    assert_int_equal(delete_topic(1, "k"), WEIR_OK);
    assert_true(WAIT_FOR(all_none(all, NB, "u", 1) && all_none(all, NB, "k", 1), 15000));
    for (int32_t id = 1; id <= NB; id++) node_stop(id);
}

/* ZooKeeper restarts under the clusters (sessions kept, or expired and
 * registered again when it takes long): they reconnect and go on, roles of
 * a topic made before it still agree, admin writes work again. */
static void t_zk_restart(void **state)
{
    (void)state;
    int32_t all[NB] = { 1, 2, 3 };
    for (int32_t id = 1; id <= NB; id++) node_start(id, false);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    assert_int_equal(create_one(1, "before", 3, "retention.ms", "12345"), WEIR_OK);
    assert_true(WAIT_FOR(roles_agree(all, NB, "before", 0, 0), 15000));
    weir_test_zk_kill(&server);
    for (int32_t id = 1; id <= NB; id++) { /* from the cache, at once, with ZooKeeper down */
        char cfg[256];
        int64_t t0 = now_ms();
        assert_int_equal(weir_cluster_topic_configs(nodes[id].cl, "before", cfg, sizeof cfg), WEIR_OK);
        assert_true(now_ms() - t0 < 1000);
        assert_non_null(strstr(cfg, "retention.ms=12345\n"));
    }
    assert_int_equal(weir_test_zk_restart(&server), 0);
    enum weir_err e = WEIR_E_UNAVAILABLE;
    int64_t end = now_ms() + 60000;
    while (e == WEIR_E_UNAVAILABLE && now_ms() < end) { /* a client retries what found no session */
        e = create_one(2, "after", 3, NULL, NULL);
        if (e == WEIR_E_UNAVAILABLE) usleep(200 * 1000);
    }
    assert_true(e == WEIR_OK || e == WEIR_E_EXISTS); /* EXISTS: a retry of one whose answer was lost */
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 30000));
    assert_true(WAIT_FOR(roles_agree(all, NB, "after", 0, 0), 30000));
    assert_true(WAIT_FOR(roles_agree(all, NB, "before", 0, 0), 30000));
    assert_int_equal(delete_topic(3, "before"), WEIR_OK);
    assert_int_equal(delete_topic(3, "after"), WEIR_OK);
    assert_true(WAIT_FOR(all_none(all, NB, "before", 1) && all_none(all, NB, "after", 1), 15000));
    for (int32_t id = 1; id <= NB; id++) node_stop(id);
}

/* Auto leader rebalance: after a failover the preferred replica (back, and
 * put in the ISR again by the leader's write) gets its leadership back. */
static void t_rebalance(void **state)
{
    (void)state;
    int32_t all[NB] = { 1, 2, 3 };
    for (int32_t id = 1; id <= NB; id++) node_start(id, true);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    assert_int_equal(create(1, "r", 1, 3, NULL), WEIR_OK);
    assert_true(WAIT_FOR(roles_agree(all, NB, "r", 0, 0), 15000));
    struct weir_partition_info info;
    assert_true(weir_cluster_partition(nodes[1].cl, "r", 0, &info));
    int32_t pref = info.replicas[0], rest[NB - 1], nr = 0;
    for (int32_t id = 1; id <= NB; id++)
        if (id != pref) rest[nr++] = id;
    node_stop(pref);
    assert_true(WAIT_FOR(leader_not(rest, nr, "r", 0, pref, 1), 15000));
    node_start(pref, true);
    assert_true(WAIT_FOR(all_see_brokers(all, NB), 15000));
    assert_true(WAIT_FOR(roles_agree(all, NB, "r", 0, 1), 15000));
    /* the leader takes it back into the ISR (as its fetches would) */
    assert_true(weir_cluster_partition(nodes[pref].cl, "r", 0, &info));
    int32_t isr[WEIR_REPLICAS_MAX];
    memcpy(isr, info.isr, sizeof isr[0] * info.isr_n);
    isr[info.isr_n] = pref;
    assert_int_equal(isr_write(info.leader, "r", 0, info.leader_epoch, info.zk_version, isr, info.isr_n + 1, NULL),
                     WEIR_OK);
    bool back = WAIT_FOR(roles_agree(all, NB, "r", 0, 0) && role_of(pref, "r", 0, NULL).kind == WEIR_ROLE_LEADER,
                         15000);
    assert_true(back);
    assert_int_equal(delete_topic(1, "r"), WEIR_OK);
    assert_true(WAIT_FOR(all_none(all, NB, "r", 1), 15000));
    for (int32_t id = 1; id <= NB; id++) node_stop(id);
}

static void t_chroot_and_errors(void **state)
{
    (void)state;
    char connect[64], why[512];
    snprintf(connect, sizeof connect, "%s/weir/test", server.connect);
    struct weir_cluster_config c = config(7, connect);
    struct weir_cluster *cl, *cl6, *cl8;
    assert_int_equal(weir_cluster_start(&c, &node_ops, &nodes[0], &cl, why, sizeof why), WEIR_OK);
    c = config(6, connect);
    assert_int_equal(weir_cluster_start(&c, &node_ops, &nodes[0], &cl6, why, sizeof why), WEIR_OK);
    c = config(8, server.connect);
    assert_int_equal(weir_cluster_start(&c, &node_ops, &nodes[0], &cl8, why, sizeof why), WEIR_OK);
    /* 6 and 7 share the chroot's tree; 8, at the root, sees only itself */
    struct weir_broker_addr a[4];
    assert_true(WAIT_FOR(weir_cluster_brokers(cl6, "PLAINTEXT", a, 4) == 2 &&
                         weir_cluster_brokers(cl, "PLAINTEXT", a, 4) == 2, 10000));
    assert_true(weir_cluster_broker(cl6, 7, "PLAINTEXT", &a[0]));
    assert_int_equal(a[0].port, 9097);
    assert_true(WAIT_FOR(weir_cluster_brokers(cl8, "PLAINTEXT", a, 4) == 1, 10000));
    assert_int_equal(a[0].id, 8);
    assert_false(weir_cluster_broker(cl8, 7, "PLAINTEXT", &a[1]));
    weir_cluster_stop(cl);
    weir_cluster_stop(cl6);
    weir_cluster_stop(cl8);

    c = config(9, "");
    assert_int_equal(weir_cluster_start(&c, &node_ops, &nodes[0], &cl, why, sizeof why), WEIR_E_BAD_CONFIG);
    /* nothing listens there: no session within the connect timeout */
    c = config(9, "127.0.0.1:1");
    c.connect_timeout_ms = 1500;
    int64_t t0 = now_ms();
    assert_int_equal(weir_cluster_start(&c, &node_ops, &nodes[0], &cl, why, sizeof why), WEIR_E_TIMEOUT);
    assert_true(now_ms() - t0 >= 1400 && now_ms() - t0 < 10000);
    assert_non_null(strstr(why, "1500 ms"));
}

/* A failed test leaves no cluster running into the next. */
static int stop_all(void **state)
{
    (void)state;
    for (int32_t id = 1; id <= NB; id++)
        if (nodes[id].cl) node_stop(id);
    return 0;
}

static int zk_setup(void **state)
{
    (void)state;
    return weir_test_zk_start(&server) == 0 ? 0 : -1;
}

static int zk_teardown(void **state)
{
    (void)state;
    weir_test_zk_stop(&server);
    return 0;
}

int main(void)
{
    weir_log_set_level(getenv("RT_INFO") ? WEIR_LOG_INFO : WEIR_LOG_ERROR);
    const struct CMUnitTest unit[] = { cmocka_unit_test(t_leader_wrappers), cmocka_unit_test(t_follower_wrappers) };
    int failed = cmocka_run_group_tests_name("replica", unit, NULL, NULL);
    if (access(WEIR_TEST_ZK_SERVER, X_OK) != 0) {
        fprintf(stderr, "SKIP the cluster tests: no %s (Debian package zookeeper)\n", WEIR_TEST_ZK_SERVER);
        return failed ? 1 : 0;
    }
    const struct CMUnitTest real[] = { cmocka_unit_test_teardown(t_cluster, stop_all),
                                       cmocka_unit_test_teardown(t_rebalance, stop_all),
                                       cmocka_unit_test_teardown(t_unclean, stop_all),
                                       cmocka_unit_test_teardown(t_zk_restart, stop_all),
                                       cmocka_unit_test(t_chroot_and_errors) };
    failed += cmocka_run_group_tests_name("cluster", real, zk_setup, zk_teardown);
    return failed ? 1 : 0;
}
