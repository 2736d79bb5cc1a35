/* tests/test_repl_cluster.c: the control plane (repl/member.c,
 * repl/controller.c) on one in-memory ZooKeeper (zkmem): three brokers, each
 * a member and a controller on one session. One controller is elected; a
 * topic written as an assignment gets partition states and every broker the
 * right roles; a leader's session expiring moves leadership within the ISR
 * (epoch + 1) and the broker re-registers when it comes back; a controller's
 * expiry elects another at a higher epoch, and the deposed one's write fails
 * the /controller_epoch check; a duplicate broker id is refused; with unclean
 * election off, a partition whose ISR is all gone stays offline keeping its
 * last member (KIP-966) until that member returns; topic deletion; a state
 * of a lower leader epoch ignored; a reconnect; a broker back on a new
 * session before the controller saw it gone (bounce); a restarted broker never
 * leading from a state older than its registration; 40 steps of random faults
 * (expiries, returns, reconnects, topics created and deleted) with the
 * invariants checked after each. Each scenario runs in id order and under 40
 * seeded random dispatch orders. Then one smoke run on a
 * real ZooKeeper (zk.c): election, a topic's states and roles, a broker
 * stopping and its partition led by the next in the ISR, a session the
 * server ends (the broker registers again on a new one). The stray-partition
 * rule (KIP-858) over a hand-made cache. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "repl/cluster_int.h"
#include "testutil.h"

enum { NB = 3, ROLES_MAX = 32 };

struct role_rec {
    char topic[32];
    uint32_t partition;
    struct rp_role r;
    int32_t first_led; /* the first epoch it was LEADER at, -1 never */
};

struct broker {
    struct cluster *cl;
    int32_t id;
    struct rp_member *m;
    struct rp_ctlr c;
    bool up; /* dispatched by settle; a down broker's session events wait */
    struct role_rec roles[ROLES_MAX];
    int n_roles, role_events;
};

struct cluster {
    struct rp_zkmem_world *w;
    struct rp_zk *admin; /* the test's own session */
    struct broker b[NB + 1]; /* b[1..NB] */
    uint64_t rng;        /* 0: dispatch in id order */
    const char *connect; /* a real ZooKeeper (w unused), else zkmem */
};

static struct rp_zk *open_mem(void *ctx, rp_zk_session_fn *cb, void *cb_ctx)
{
    struct cluster *cl = ctx;
    if (!cl->connect) return rp_zkmem_open(cl->w, NULL, cb, cb_ctx);
    struct rp_zk *zk;
    assert_int_equal(rp_zk_open(cl->connect, 10000, cb, cb_ctx, &zk), WEIR_OK);
    return zk;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct role_rec *role_find(struct broker *b, const char *topic, uint32_t p)
{
    for (int i = 0; i < b->n_roles; i++)
        if (strcmp(b->roles[i].topic, topic) == 0 && b->roles[i].partition == p) return &b->roles[i];
    return NULL;
}

/* Roles arrive only on a change, and a partition's epoch never goes back. */
static void on_role(void *ctx, const char *topic, uint32_t p, const struct rp_role *r)
{
    struct broker *b = ctx;
    struct role_rec *rec = role_find(b, topic, p);
    if (!rec) {
        assert_true(b->n_roles < ROLES_MAX);
        rec = &b->roles[b->n_roles++];
        *rec = (struct role_rec){ .partition = p, .r = { RP_ROLE_NONE, RP_NO_LEADER, 0 }, .first_led = -1 };
        snprintf(rec->topic, sizeof rec->topic, "%s", topic);
    }
    assert_false(rec->r.kind == r->kind && rec->r.leader == r->leader && rec->r.epoch == r->epoch);
    if (rec->r.kind != RP_ROLE_NONE && r->kind != RP_ROLE_NONE) assert_true(r->epoch >= rec->r.epoch);
    rec->r = *r;
    if (r->kind == RP_ROLE_LEADER && rec->first_led < 0) rec->first_led = r->epoch;
    b->role_events++;
}

static void noop_session(void *ctx, enum rp_zk_session_event ev) { (void)ctx, (void)ev; }

static void broker_start(struct cluster *cl, int32_t id)
{
    struct broker *b = &cl->b[id];
    *b = (struct broker){ .cl = cl, .id = id, .up = true };
    struct rp_member_cfg cfg = { .id = id, .host = "127.0.0.1", .port = 9090 + id, .timestamp_ms = 1000 + id,
                                 .open = open_mem, .open_ctx = cl, .on_role = on_role, .role_ctx = b };
    b->m = rp_member_new(&cfg);
    rp_ctlr_init(&b->c, b->m, false);
}

static uint64_t rnd(struct cluster *cl)
{
    cl->rng ^= cl->rng << 13, cl->rng ^= cl->rng >> 7, cl->rng ^= cl->rng << 17; /* xorshift64 */
    return cl->rng;
}

/* Dispatches the up brokers (in id order, or one at a time at random) until
 * a whole pass runs nothing; the admin session too. */
static void settle(struct cluster *cl)
{
    for (int round = 0; round < 100000; round++) {
        int ran = rp_zk_dispatch(cl->admin);
        if (cl->rng) {
            int order[NB] = { 1, 2, 3 };
            for (int i = NB - 1; i > 0; i--) {
                int j = (int)(rnd(cl) % (uint64_t)(i + 1)), t = order[i];
                order[i] = order[j], order[j] = t;
            }
            for (int k = 0; k < NB; k++) {
                struct broker *b = &cl->b[order[k]];
                int times = 1 + (int)(rnd(cl) % 3);
                for (int i = 0; i < times && b->up; i++) ran += rp_member_dispatch(b->m);
            }
        } else {
            for (int id = 1; id <= NB; id++)
                if (cl->b[id].up) ran += rp_member_dispatch(cl->b[id].m);
        }
        if (ran == 0) return;
    }
    fail_msg("the cluster never settled");
}

/* ---- the test's synchronous ZooKeeper ops ------------------------------------------------ */

struct res {
    bool done;
    enum rp_zk_rc rc;
    char data[1024];
    size_t len;
    struct rp_zk_stat stat;
    int failed_op;
};

static void res_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct res *out = ctx;
    *out = (struct res){ .done = true, .rc = rc, .len = r->len, .stat = r->stat, .failed_op = r->failed_op };
    if (r->len && r->len < sizeof out->data) memcpy(out->data, r->data, r->len);
}

static void admin_wait(struct cluster *cl, struct res *r)
{
    int64_t deadline = now_ms() + 30000;
    while (!r->done) {
        int ran = rp_zk_dispatch(cl->admin);
        if (r->done) break;
        int fd = rp_zk_fd(cl->admin);
        if (fd < 0) {
            assert_true(ran > 0); /* in memory nothing arrives later */
            continue;
        }
        assert_true(now_ms() < deadline);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        poll(&pfd, 1, 100);
    }
}

static enum rp_zk_rc zget(struct cluster *cl, const char *path, struct res *r)
{
    *r = (struct res){ 0 };
    rp_zk_get(cl->admin, path, NULL, NULL, res_cb, r);
    admin_wait(cl, r);
    return r->rc;
}

static enum rp_zk_rc zcreate(struct cluster *cl, const char *path, const char *data)
{
    struct res r = { 0 };
    rp_zk_create(cl->admin, path, data, data ? strlen(data) : 0, 0, res_cb, &r);
    admin_wait(cl, &r);
    return r.rc;
}

static void create_topic(struct cluster *cl, const char *name, uint32_t n, const int32_t *replicas, uint32_t rf)
{
    struct rp_part_assign parts[8];
    assert_true(n <= 8);
    for (uint32_t i = 0; i < n; i++)
        parts[i] = (struct rp_part_assign){ .replicas = (int32_t *)replicas + i * rf, .replicas_n = rf };
    struct rp_topic_assign ta = { .version = 2, .partitions_n = n, .parts = parts };
    char buf[1024], path[128];
    size_t len;
    assert_int_equal(rp_topic_assign_encode(&ta, buf, sizeof buf - 1, &len), WEIR_OK);
    buf[len] = '\0';
    snprintf(path, sizeof path, "/brokers/topics/%s", name);
    assert_int_equal(zcreate(cl, path, buf), RP_ZK_OK);
}

static struct rp_pstate state_of(struct cluster *cl, const char *topic, uint32_t p, int32_t *version)
{
    char path[128], why[128];
    struct res r;
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%u/state", topic, p);
    assert_int_equal(zget(cl, path, &r), RP_ZK_OK);
    struct rp_pstate st;
    assert_int_equal(rp_pstate_decode(r.data, r.len, &st, why, sizeof why), WEIR_OK);
    if (version) *version = r.stat.version;
    return st;
}

static void assert_isr(const struct rp_pstate *s, const int32_t *want, uint32_t n)
{
    assert_int_equal(s->isr_n, n);
    for (uint32_t i = 0; i < n; i++) assert_int_equal(s->isr[i], want[i]);
}

/* The one active controller among the up brokers (0: none). */
static int32_t controller_of(struct cluster *cl)
{
    int32_t who = 0;
    for (int id = 1; id <= NB; id++) {
        if (!cl->b[id].up || cl->b[id].c.state != RP_CTLR_ACTIVE) continue;
        assert_int_equal(who, 0);
        who = id;
    }
    return who;
}

static int32_t epoch_znode(struct cluster *cl)
{
    struct res r;
    assert_int_equal(zget(cl, "/controller_epoch", &r), RP_ZK_OK);
    r.data[r.len] = '\0';
    return (int32_t)atoi(r.data);
}

/* Every up broker's roles and cache agree with the state znodes of topic. */
static bool roles_match(struct cluster *cl, const char *topic, uint32_t n, const int32_t *replicas, uint32_t rf)
{
    for (uint32_t p = 0; p < n; p++) {
        char path[128], why[128];
        struct res r;
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%u/state", topic, p);
        struct rp_pstate st;
        if (zget(cl, path, &r) != RP_ZK_OK || rp_pstate_decode(r.data, r.len, &st, why, sizeof why) != WEIR_OK)
            return false;
        for (int id = 1; id <= NB; id++) {
            struct broker *b = &cl->b[id];
            if (!b->up) continue;
            struct rp_mtopic *t = rp_member_topic(b->m, topic);
            if (!t || p >= t->parts_n || t->parts[p].known != RP_PRESENT || t->parts[p].version != r.stat.version ||
                t->parts[p].st.leader_epoch != st.leader_epoch)
                return false;
            bool hosted = false;
            for (uint32_t k = 0; k < rf; k++) hosted |= replicas[p * rf + k] == id;
            struct role_rec *rec = role_find(b, topic, p);
            if (!hosted) {
                if (rec && rec->r.kind != RP_ROLE_NONE) return false;
                continue;
            }
            enum rp_role_kind want = st.leader == id ? RP_ROLE_LEADER
                                     : st.leader == RP_NO_LEADER ? RP_ROLE_OFFLINE
                                                                 : RP_ROLE_FOLLOWER;
            if (!rec || rec->r.kind != want || rec->r.leader != st.leader || rec->r.epoch != st.leader_epoch)
                return false;
        }
    }
    return true;
}

static void assert_roles(struct cluster *cl, const char *topic, uint32_t n, const int32_t *replicas, uint32_t rf)
{
    assert_true(roles_match(cl, topic, n, replicas, rf));
}

/* ---- setup ----------------------------------------------------------------------------- */

static struct cluster *cluster_new(uint64_t seed)
{
    struct cluster *cl = test_calloc(1, sizeof *cl);
    cl->w = rp_zkmem_world_new();
    cl->admin = rp_zkmem_open(cl->w, NULL, noop_session, NULL);
    cl->rng = seed;
    for (int id = 1; id <= NB; id++) broker_start(cl, id);
    settle(cl);
    return cl;
}

static void cluster_free(struct cluster *cl)
{
    for (int id = 1; id <= NB; id++) {
        if (!cl->b[id].m) continue;
        rp_member_free(cl->b[id].m);
        rp_ctlr_fini(&cl->b[id].c);
    }
    rp_zk_close(cl->admin);
    if (cl->w) rp_zkmem_world_free(cl->w);
    test_free(cl);
}

static void expire(struct cluster *cl, int32_t id)
{
    rp_zkmem_expire(cl->b[id].m->zk);
    cl->b[id].up = false;
}

static const int32_t T3[] = { 1, 2, 3, 2, 3, 1, 3, 1, 2 };

/* ---- scenarios (each run in id order and under random seeds) ------------------------------ */

static void sc_elect_and_create(struct cluster *cl)
{
    int32_t ctl = controller_of(cl);
    assert_true(ctl >= 1);
    assert_int_equal(cl->b[ctl].c.epoch, 1);
    assert_int_equal(epoch_znode(cl), 1);
    struct res r;
    assert_int_equal(zget(cl, "/controller", &r), RP_ZK_OK);
    struct rp_controller cz;
    char why[128];
    assert_int_equal(rp_controller_decode(r.data, r.len, &cz, why, sizeof why), WEIR_OK);
    assert_int_equal(cz.broker_id, ctl);
    for (int id = 1; id <= NB; id++) {
        assert_int_equal(cl->b[id].m->brokers_n, 3);
        assert_null(rp_member_failure(cl->b[id].m));
    }
    create_topic(cl, "t", 3, T3, 3);
    settle(cl);
    for (uint32_t p = 0; p < 3; p++) {
        struct rp_pstate st = state_of(cl, "t", p, NULL);
        assert_int_equal(st.leader, T3[p * 3]);
        assert_int_equal(st.leader_epoch, 0);
        assert_int_equal(st.controller_epoch, 1);
        assert_isr(&st, T3 + p * 3, 3);
    }
    assert_roles(cl, "t", 3, T3, 3);
}

static void sc_leader_expiry(struct cluster *cl)
{
    sc_elect_and_create(cl);
    expire(cl, 1); /* leads t-0, follows t-1 and t-2 */
    settle(cl);
    assert_true(controller_of(cl) >= 2);
    struct rp_pstate s0 = state_of(cl, "t", 0, NULL), s1 = state_of(cl, "t", 1, NULL),
                     s2 = state_of(cl, "t", 2, NULL);
    int32_t isr23[] = { 2, 3 }, isr32[] = { 3, 2 };
    assert_int_equal(s0.leader, 2); /* the next in assignment order, in the ISR */
    assert_int_equal(s0.leader_epoch, 1);
    assert_isr(&s0, isr23, 2);
    assert_int_equal(s1.leader, 2);
    assert_int_equal(s1.leader_epoch, 1); /* ISR-only changes bump the epoch too */
    assert_isr(&s1, isr23, 2);
    assert_int_equal(s2.leader, 3);
    assert_isr(&s2, isr32, 2);
    assert_roles(cl, "t", 3, T3, 3);
    for (int id = 2; id <= NB; id++) assert_int_equal(cl->b[id].m->brokers_n, 2);
    /* it comes back: a new session, registered again, a follower of the new leaders */
    struct broker *b1 = &cl->b[1];
    b1->up = true;
    settle(cl);
    assert_int_equal(b1->m->sessions, 2);
    assert_true(b1->m->registered);
    struct res r;
    assert_int_equal(zget(cl, "/brokers/ids/1", &r), RP_ZK_OK);
    assert_int_equal(r.stat.ephemeral_owner, rp_zk_session_id(b1->m->zk));
    for (int id = 1; id <= NB; id++) assert_int_equal(cl->b[id].m->brokers_n, 3);
    assert_roles(cl, "t", 3, T3, 3);
    struct role_rec *rec = role_find(b1, "t", 0);
    assert_int_equal(rec->r.kind, RP_ROLE_FOLLOWER);
    assert_int_equal(rec->r.leader, 2);
    assert_int_equal(rec->r.epoch, 1);
}

struct wres {
    bool done;
    enum rp_zk_rc rc;
    int failed_op;
};

static void wres_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct wres *w = ctx;
    *w = (struct wres){ true, rc, r->failed_op };
}

static void sc_controller_expiry(struct cluster *cl)
{
    sc_elect_and_create(cl);
    int32_t old = controller_of(cl);
    int32_t old_epoch = cl->b[old].c.epoch;
    expire(cl, old);
    settle(cl);
    int32_t now = controller_of(cl);
    assert_true(now >= 1 && now != old);
    assert_int_equal(cl->b[now].c.epoch, old_epoch + 1);
    assert_int_equal(epoch_znode(cl), old_epoch + 1);
    /* the old one's partitions were handled by the new controller */
    for (uint32_t p = 0; p < 3; p++) {
        struct rp_pstate st = state_of(cl, "t", p, NULL);
        assert_true(st.leader != old && st.leader != RP_NO_LEADER);
        for (uint32_t i = 0; i < st.isr_n; i++) assert_true(st.isr[i] != old);
        if (T3[p * 3] == old) assert_int_equal(st.controller_epoch, old_epoch + 1);
    }
    /* back on a new session, standing by; a write at its old epoch is fenced */
    cl->b[old].up = true;
    settle(cl);
    assert_int_equal(controller_of(cl), now);
    assert_int_equal(cl->b[old].c.state, RP_CTLR_STANDBY);
    assert_int_equal(cl->b[old].c.resigned, 1);
    int32_t version;
    struct rp_pstate st = state_of(cl, "t", 0, &version), forged = st;
    forged.leader = old;
    forged.leader_epoch++;
    struct wres w = { 0 };
    rp_ctlr_write_state(&cl->b[old].c, "t", 0, &forged, version, wres_cb, &w);
    settle(cl);
    assert_true(w.done);
    assert_int_equal(w.rc, RP_ZK_BADVERSION);
    assert_int_equal(w.failed_op, 0);
    int32_t after;
    struct rp_pstate st2 = state_of(cl, "t", 0, &after);
    assert_int_equal(after, version);
    assert_int_equal(st2.leader, st.leader);
    /* the new controller's own writes pass the check */
    w = (struct wres){ 0 };
    rp_ctlr_write_state(&cl->b[now].c, "t", 0, &st, version, wres_cb, &w);
    settle(cl);
    assert_int_equal(w.rc, RP_ZK_OK);
}

static void sc_kip966(struct cluster *cl)
{
    static const int32_t U[] = { 1, 2 };
    create_topic(cl, "u", 1, U, 2);
    settle(cl);
    expire(cl, 2);
    settle(cl);
    struct rp_pstate s = state_of(cl, "u", 0, NULL);
    int32_t isr1[] = { 1 };
    assert_int_equal(s.leader, 1);
    assert_int_equal(s.leader_epoch, 1);
    assert_isr(&s, isr1, 1);
    expire(cl, 1); /* the whole ISR is gone: offline, the last member kept */
    settle(cl);
    assert_int_equal(controller_of(cl), 3);
    s = state_of(cl, "u", 0, NULL);
    assert_int_equal(s.leader, RP_NO_LEADER);
    assert_int_equal(s.leader_epoch, 2);
    assert_isr(&s, isr1, 1);
    assert_null(role_find(&cl->b[3], "u", 0)); /* not a replica */
    cl->b[2].up = true; /* not in the ISR: no unclean election */
    settle(cl);
    s = state_of(cl, "u", 0, NULL);
    assert_int_equal(s.leader, RP_NO_LEADER);
    assert_int_equal(s.leader_epoch, 2);
    assert_roles(cl, "u", 1, U, 2);
    assert_int_equal(role_find(&cl->b[2], "u", 0)->r.kind, RP_ROLE_OFFLINE);
    cl->b[1].up = true; /* the last member returns: elected */
    settle(cl);
    s = state_of(cl, "u", 0, NULL);
    assert_int_equal(s.leader, 1);
    assert_int_equal(s.leader_epoch, 3);
    assert_isr(&s, isr1, 1);
    assert_roles(cl, "u", 1, U, 2);
}

static void config_is(struct cluster *cl, const char *topic, const char *want)
{
    for (int id = 1; id <= NB; id++) {
        const struct rp_mtopic *t = rp_member_topic(cl->b[id].m, topic);
        assert_non_null(t);
        assert_non_null(t->config);
        assert_string_equal(t->config, want);
    }
}

/* A topic's configs are in every member's cache: read with the topic znode
 * (none: ""), refreshed by the watch on /config/topics/<t>. */
static void sc_topic_config(struct cluster *cl)
{
    sc_elect_and_create(cl);
    config_is(cl, "t", "");
    assert_int_equal(zcreate(cl, "/config/topics/c", "{\"version\":1,\"config\":{\"retention.ms\":\"5\"}}"),
                     RP_ZK_OK);
    create_topic(cl, "c", 3, T3, 3);
    settle(cl);
    config_is(cl, "c", "retention.ms=5\n");
    struct res r = { 0 };
    const char *v6 = "{\"version\":1,\"config\":{\"retention.ms\":\"6\",\"cleanup.policy\":\"compact\"}}";
    rp_zk_set(cl->admin, "/config/topics/c", v6, strlen(v6), -1, res_cb, &r);
    admin_wait(cl, &r);
    assert_int_equal(r.rc, RP_ZK_OK);
    settle(cl);
    char text[64];
    for (int id = 1; id <= NB; id++) {
        snprintf(text, sizeof text, "%s", rp_member_topic(cl->b[id].m, "c")->config);
        assert_non_null(strstr(text, "retention.ms=6\n"));
        assert_non_null(strstr(text, "cleanup.policy=compact\n"));
    }
}

static void sc_delete_topic(struct cluster *cl)
{
    sc_elect_and_create(cl);
    assert_int_equal(zcreate(cl, "/config/topics/t", "{\"version\":1,\"config\":{}}"), RP_ZK_OK);
    assert_int_equal(zcreate(cl, "/admin/delete_topics/t", NULL), RP_ZK_OK);
    settle(cl);
    struct res r;
    assert_int_equal(zget(cl, "/brokers/topics/t", &r), RP_ZK_NONODE);
    assert_int_equal(zget(cl, "/config/topics/t", &r), RP_ZK_NONODE);
    assert_int_equal(zget(cl, "/admin/delete_topics/t", &r), RP_ZK_NONODE);
    for (int id = 1; id <= NB; id++) {
        assert_null(rp_member_topic(cl->b[id].m, "t"));
        for (uint32_t p = 0; p < 3; p++) assert_int_equal(role_find(&cl->b[id], "t", p)->r.kind, RP_ROLE_NONE);
    }
    /* created again: from epoch 0 */
    create_topic(cl, "t", 3, T3, 3);
    settle(cl);
    assert_int_equal(state_of(cl, "t", 0, NULL).leader_epoch, 0);
    assert_roles(cl, "t", 3, T3, 3);
}

static enum rp_zk_rc zset_state(struct cluster *cl, const char *topic, uint32_t p, const struct rp_pstate *st)
{
    char path[128], buf[512];
    size_t len;
    assert_int_equal(rp_pstate_encode(st, buf, sizeof buf, &len), WEIR_OK);
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%u/state", topic, p);
    struct res r = { 0 };
    rp_zk_set(cl->admin, path, buf, len, -1, res_cb, &r);
    admin_wait(cl, &r);
    return r.rc;
}

/* A state whose epoch is lower than the cached one is ignored (no role
 * change, the cache keeps the higher epoch); the controller's next write
 * replaces it. */
static void sc_stale_epoch(struct cluster *cl)
{
    sc_elect_and_create(cl);
    struct rp_pstate s = state_of(cl, "t", 0, NULL); /* leader 1, isr [1,2,3], epoch 0 */
    s.leader = 2;
    s.leader_epoch = 5;
    assert_int_equal(zset_state(cl, "t", 0, &s), RP_ZK_OK);
    settle(cl);
    assert_roles(cl, "t", 3, T3, 3);
    assert_int_equal(role_find(&cl->b[2], "t", 0)->r.kind, RP_ROLE_LEADER);
    int events[NB + 1];
    for (int id = 1; id <= NB; id++) events[id] = cl->b[id].role_events;
    struct rp_pstate low = s;
    low.leader = 3;
    low.leader_epoch = 3;
    assert_int_equal(zset_state(cl, "t", 0, &low), RP_ZK_OK);
    settle(cl);
    for (int id = 1; id <= NB; id++) {
        assert_int_equal(cl->b[id].role_events, events[id]);
        struct rp_mpart *p = &rp_member_topic(cl->b[id].m, "t")->parts[0];
        assert_int_equal(p->st.leader_epoch, 5);
        assert_int_equal(p->st.leader, 2);
        assert_int_equal(role_find(&cl->b[id], "t", 0)->r.epoch, 5);
    }
    expire(cl, 2); /* the leader as cached: the controller elects from epoch 5 */
    settle(cl);
    s = state_of(cl, "t", 0, NULL);
    assert_int_equal(s.leader, 1);
    assert_int_equal(s.leader_epoch, 6);
}

/* A broker's session is cut and comes back (same session): it reads again
 * what changed meanwhile; a disconnected controller keeps its seat and acts
 * after the reconnect. */
static void sc_reconnect(struct cluster *cl)
{
    sc_elect_and_create(cl);
    rp_zkmem_disconnect(cl->b[3].m->zk);
    expire(cl, 1);
    settle(cl);
    rp_zkmem_reconnect(cl->b[3].m->zk);
    settle(cl);
    assert_true(controller_of(cl) >= 2);
    struct rp_pstate s0 = state_of(cl, "t", 0, NULL);
    assert_int_equal(s0.leader, 2);
    assert_int_equal(s0.leader_epoch, 1);
    assert_int_equal(cl->b[3].m->sessions, 1);
    assert_roles(cl, "t", 3, T3, 3);
    for (int id = 2; id <= NB; id++) assert_int_equal(cl->b[id].m->brokers_n, 2);
}

/* ---- seeded random faults ------------------------------------------------------------------ */

enum { RT_TOPICS = 4, RT_STEPS = 40 };
struct rt_topic {
    bool exists;
    int32_t replicas[3 * 3];
    uint32_t rf;
    int32_t epochs[3]; /* highest leader epoch seen per partition */
};

/* After a settle: one controller when any broker is up; every state agrees
 * with the live brokers (a leader is live and in the ISR, ISR members are
 * live, or the partition is offline keeping one member); epochs never go
 * back; every up broker's cache and roles match the znodes. */
static void rt_check(struct cluster *cl, struct rt_topic *ts)
{
    bool any_up = false;
    for (int id = 1; id <= NB; id++) any_up |= cl->b[id].up;
    assert_int_equal(controller_of(cl) != 0, any_up);
    for (int k = 0; k < RT_TOPICS; k++) {
        struct rt_topic *t = &ts[k];
        char name[8];
        snprintf(name, sizeof name, "r%d", k);
        if (!t->exists || !any_up) continue;
        for (uint32_t p = 0; p < 3; p++) {
            struct rp_pstate st = state_of(cl, name, p, NULL);
            assert_true(st.leader_epoch >= t->epochs[p]);
            t->epochs[p] = st.leader_epoch;
            assert_true(st.isr_n >= 1);
            if (st.leader != RP_NO_LEADER) {
                assert_true(cl->b[st.leader].up);
                bool in = false;
                for (uint32_t i = 0; i < st.isr_n; i++) in |= st.isr[i] == st.leader;
                assert_true(in);
                for (uint32_t i = 0; i < st.isr_n; i++) assert_true(cl->b[st.isr[i]].up);
            } else {
                assert_int_equal(st.isr_n, 1); /* KIP-966: the last member stays */
                assert_false(cl->b[st.isr[0]].up);
            }
        }
        assert_roles(cl, name, 3, t->replicas, t->rf);
    }
}

static void sc_random_faults(struct cluster *cl)
{
    struct rt_topic ts[RT_TOPICS] = { 0 };
    for (int step = 0; step < RT_STEPS; step++) {
        int id = 1 + (int)(rnd(cl) % NB), k = (int)(rnd(cl) % RT_TOPICS);
        char name[8], path[64];
        snprintf(name, sizeof name, "r%d", k);
        switch (rnd(cl) % 5) {
        case 0: /* a broker's session expires (it stays down) */
            if (cl->b[id].up) expire(cl, id);
            break;
        case 1: /* it comes back */
            cl->b[id].up = true;
            break;
        case 2: /* its connection drops and comes back */
            if (cl->b[id].up && cl->b[id].m->zk) {
                rp_zkmem_disconnect(cl->b[id].m->zk);
                settle(cl);
                rp_zkmem_reconnect(cl->b[id].m->zk);
            }
            break;
        case 3: /* a topic, every replica registered */
            if (ts[k].exists || !cl->b[1].up || !cl->b[2].up || !cl->b[3].up) break;
            ts[k] = (struct rt_topic){ .exists = true, .rf = 2 + (uint32_t)(rnd(cl) % 2) };
            for (uint32_t p = 0; p < 3; p++)
                for (uint32_t r = 0; r < ts[k].rf; r++) ts[k].replicas[p * ts[k].rf + r] = 1 + (int32_t)((p + r + (uint32_t)k) % NB);
            create_topic(cl, name, 3, ts[k].replicas, ts[k].rf);
            break;
        case 4: /* its deletion */
            if (!ts[k].exists || controller_of(cl) == 0) break;
            snprintf(path, sizeof path, "/admin/delete_topics/%s", name);
            assert_int_equal(zcreate(cl, path, NULL), RP_ZK_OK);
            ts[k].exists = false;
            break;
        }
        settle(cl);
        if (!ts[k].exists) {
            struct res r;
            snprintf(path, sizeof path, "/brokers/topics/%s", name);
            if (controller_of(cl)) assert_int_equal(zget(cl, path, &r), RP_ZK_NONODE);
        }
        rt_check(cl, ts);
    }
    for (int id = 1; id <= NB; id++) cl->b[id].up = true;
    settle(cl);
    rt_check(cl, ts);
    for (int k = 0; k < RT_TOPICS; k++) /* everyone is back: nothing stays offline */
        for (uint32_t p = 0; p < 3 && ts[k].exists; p++) {
            char name[8];
            snprintf(name, sizeof name, "r%d", k);
            assert_true(state_of(cl, name, p, NULL).leader != RP_NO_LEADER);
        }
}

/* A broker back on a new session before the controller saw it gone (its
 * registration's czxid changed): treated as gone and back, its leadership
 * moves within the ISR and it leaves the ISRs. */
static void sc_bounce(struct cluster *cl)
{
    sc_elect_and_create(cl);
    int32_t ctl = controller_of(cl), b = ctl == 1 ? 2 : 1; /* b leads t-(b-1) */
    struct broker *bb = &cl->b[b];
    rp_zkmem_expire(bb->m->zk);
    for (int i = 0; i < 100 && !(bb->m->sessions == 2 && bb->m->registered); i++) rp_member_dispatch(bb->m);
    assert_true(bb->m->registered);
    settle(cl);
    assert_int_equal(controller_of(cl), ctl);
    for (uint32_t p = 0; p < 3; p++) {
        struct rp_pstate st = state_of(cl, "t", p, NULL);
        assert_true(st.leader != b && st.leader != RP_NO_LEADER);
        assert_int_equal(st.leader_epoch, 1);
        assert_int_equal(st.isr_n, 2);
        for (uint32_t i = 0; i < st.isr_n; i++) assert_true(st.isr[i] != b);
    }
    assert_roles(cl, "t", 3, T3, 3);
    assert_int_equal(role_find(bb, "t", (uint32_t)b - 1)->r.kind, RP_ROLE_FOLLOWER);
}

/* A broker that restarts never leads from a state written before its new
 * registration (it may have lost an unflushed tail: leading again at that
 * epoch writes a second history into it; found by tests/sim_repl.c). The
 * whole cluster stops at once, so no controller sees anyone go; the leader
 * of t-0 comes back alone, becomes the controller and leads t-0 only at a
 * new epoch, after taking itself out as a bounced replica (KIP-966 keeps it
 * as the last ISR member, so it is elected again). */
static void sc_restart_same_epoch(struct cluster *cl)
{
    sc_elect_and_create(cl);
    for (int id = 1; id <= NB; id++) cl->b[id].up = false;
    for (int id = 1; id <= NB; id++) {
        rp_member_free(cl->b[id].m);
        rp_ctlr_fini(&cl->b[id].c);
        cl->b[id].m = NULL;
    }
    broker_start(cl, 1);
    settle(cl);
    assert_int_equal(controller_of(cl), 1);
    struct rp_pstate s0 = state_of(cl, "t", 0, NULL);
    assert_int_equal(s0.leader, 1);
    assert_true(s0.leader_epoch > 0);
    struct role_rec *rec = role_find(&cl->b[1], "t", 0);
    assert_int_equal(rec->r.kind, RP_ROLE_LEADER);
    assert_int_equal(rec->r.epoch, s0.leader_epoch);
    assert_int_equal(rec->first_led, s0.leader_epoch); /* never at epoch 0 again */
    for (uint32_t p = 1; p < 3; p++) { /* led by brokers still down: offline, or led by 1 at a new epoch */
        struct rp_pstate st = state_of(cl, "t", p, NULL);
        assert_true(st.leader_epoch > 0);
        struct role_rec *r = role_find(&cl->b[1], "t", p);
        if (r->r.kind == RP_ROLE_LEADER) assert_true(r->first_led > 0);
    }
    for (int id = 2; id <= NB; id++) broker_start(cl, id);
    settle(cl);
    assert_roles(cl, "t", 3, T3, 3);
    for (int id = 2; id <= NB; id++)
        for (uint32_t p = 0; p < 3; p++) {
            struct role_rec *r = role_find(&cl->b[id], "t", p);
            if (r && r->first_led >= 0) assert_true(r->first_led > 0);
        }
}

static void run(void (*sc)(struct cluster *), uint64_t seed)
{
    struct cluster *cl = cluster_new(seed);
    sc(cl);
    cluster_free(cl);
}

enum { SEEDS = 40 };
static void run_seeded(void (*sc)(struct cluster *))
{
    run(sc, 0);
    for (uint64_t s = 1; s <= SEEDS; s++) run(sc, s * 0x9E3779B97F4A7C15ull);
}

static void t_elect_and_create(void **state) { (void)state, run_seeded(sc_elect_and_create); }
static void t_leader_expiry(void **state) { (void)state, run_seeded(sc_leader_expiry); }
static void t_controller_expiry(void **state) { (void)state, run_seeded(sc_controller_expiry); }
static void t_unclean_off_kip966(void **state) { (void)state, run_seeded(sc_kip966); }
static void t_delete_topic(void **state) { (void)state, run_seeded(sc_delete_topic); }
static void t_topic_config(void **state) { (void)state, run_seeded(sc_topic_config); }
static void t_stale_epoch_ignored(void **state) { (void)state, run_seeded(sc_stale_epoch); }
static void t_reconnect(void **state) { (void)state, run_seeded(sc_reconnect); }
static void t_random_faults(void **state) { (void)state, run_seeded(sc_random_faults); }
static void t_bounce(void **state) { (void)state, run_seeded(sc_bounce); }
static void t_restart_same_epoch(void **state) { (void)state, run_seeded(sc_restart_same_epoch); }

static void t_duplicate_id(void **state)
{
    (void)state;
    struct cluster *cl = cluster_new(0);
    struct broker dup = { .cl = cl, .id = 2 };
    struct rp_member_cfg cfg = { .id = 2, .host = "10.0.0.9", .port = 9999, .open = open_mem, .open_ctx = cl,
                                 .on_role = on_role, .role_ctx = &dup };
    struct rp_member *m = rp_member_new(&cfg);
    for (int i = 0; i < 100 && rp_member_dispatch(m) > 0; i++) settle(cl);
    const char *why = rp_member_failure(m);
    assert_non_null(why);
    assert_non_null(strstr(why, "broker id 2 is already registered"));
    assert_non_null(strstr(why, "127.0.0.1:9092"));
    assert_false(m->registered);
    struct res r;
    assert_int_equal(zget(cl, "/brokers/ids/2", &r), RP_ZK_OK);
    assert_int_equal(r.stat.ephemeral_owner, rp_zk_session_id(cl->b[2].m->zk));
    rp_member_free(m);
    settle(cl);
    assert_int_equal(cl->b[1].m->brokers_n, 3);
    cluster_free(cl);
}

/* Several listeners: the registration holds every endpoint and the
 * listener_security_protocol_map, as Kafka's; the others' caches hold them all. */
static void t_listeners_registration(void **state)
{
    (void)state;
    struct cluster *cl = cluster_new(0);
    struct broker extra = { .cl = cl, .id = 7 };
    struct rp_endpoint eps[2] = {
        { .listener = "PLAINTEXT", .protocol = "PLAINTEXT", .host = "127.0.0.1", .port = 9092 },
        { .listener = "REPLICATION", .protocol = "PLAINTEXT", .host = "proxy.example", .port = 19093 },
    };
    struct rp_member_cfg cfg = { .id = 7, .endpoints = eps, .endpoints_n = 2, .timestamp_ms = 1234,
                                 .open = open_mem, .open_ctx = cl, .on_role = on_role, .role_ctx = &extra };
    struct rp_member *m = rp_member_new(&cfg);
    for (int i = 0; i < 100 && (rp_member_dispatch(m) > 0 || !m->registered); i++) settle(cl);
    assert_true(m->registered);
    struct res r;
    assert_int_equal(zget(cl, "/brokers/ids/7", &r), RP_ZK_OK);
    r.data[r.len < sizeof r.data ? r.len : sizeof r.data - 1] = '\0';
    print_message("%s\n", r.data);
    assert_non_null(strstr(r.data, "\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\","
                                   "\"REPLICATION\":\"PLAINTEXT\"}"));
    assert_non_null(strstr(r.data, "\"endpoints\":[\"PLAINTEXT://127.0.0.1:9092\","
                                   "\"REPLICATION://proxy.example:19093\"]"));
    assert_non_null(strstr(r.data, "\"host\":\"127.0.0.1\"")); /* the PLAINTEXT endpoint's */
    assert_non_null(strstr(r.data, "\"port\":9092"));
    struct rp_broker_reg reg;
    char why[128];
    assert_int_equal(rp_broker_reg_decode(r.data, r.len, &reg, why, sizeof why), WEIR_OK);
    assert_int_equal(reg.endpoints_n, 2);
    assert_string_equal(reg.endpoints[1].listener, "REPLICATION");
    assert_string_equal(reg.endpoints[1].protocol, "PLAINTEXT");
    assert_string_equal(reg.endpoints[1].host, "proxy.example");
    assert_int_equal(reg.endpoints[1].port, 19093);
    settle(cl);
    const struct rp_member *other = cl->b[1].m;
    uint32_t k = 0;
    while (k < other->brokers_n && other->brokers[k] != 7) k++;
    assert_true(k < other->brokers_n);
    assert_true(other->broker_addr[k].read);
    assert_int_equal(other->broker_addr[k].endpoints_n, 2);
    assert_string_equal(other->broker_addr[k].endpoints[0].listener, "PLAINTEXT");
    assert_string_equal(other->broker_addr[k].endpoints[1].host, "proxy.example");
    rp_member_free(m);
    settle(cl);
    cluster_free(cl);
}

/* ---- one smoke run on a real ZooKeeper (zk.c) ---------------------------------------------- */

static struct weir_test_zk server;

/* Dispatches every session until cond holds or ms pass; returns cond. */
static bool wait_ms(struct cluster *cl, bool (*cond)(struct cluster *), int64_t ms)
{
    int64_t deadline = now_ms() + ms;
    while (!cond(cl)) {
        if (now_ms() > deadline) return false;
        struct pollfd pfd[NB + 1];
        int n = 0;
        for (int id = 1; id <= NB; id++) {
            struct broker *b = &cl->b[id];
            if (!b->up) continue;
            rp_member_dispatch(b->m);
            if (b->m->zk) pfd[n++] = (struct pollfd){ .fd = rp_zk_fd(b->m->zk), .events = POLLIN };
        }
        poll(pfd, (nfds_t)n, 50);
    }
    return true;
}

/* wait_ms for 30 s, else a failure that shows each broker's state. */
static void wait_until(struct cluster *cl, bool (*cond)(struct cluster *), const char *what)
{
    if (wait_ms(cl, cond, 30000)) return;
    for (int id = 1; id <= NB; id++)
        if (cl->b[id].up)
            fprintf(stderr, "broker %d: sessions %llu registered %d connected %d controller state %d %s\n", id,
                    (unsigned long long)cl->b[id].m->sessions, cl->b[id].m->registered, cl->b[id].m->connected,
                    (int)cl->b[id].c.state, rp_member_failure(cl->b[id].m) ? rp_member_failure(cl->b[id].m) : "");
    fail_msg("timed out waiting for %s", what);
}

static bool all_registered(struct cluster *cl)
{
    int active = 0;
    for (int id = 1; id <= NB; id++) {
        struct broker *b = &cl->b[id];
        if (!b->up) continue;
        if (b->m->brokers_n != 3) return false;
        active += b->c.state == RP_CTLR_ACTIVE;
    }
    return active == 1;
}

static bool t_roles(struct cluster *cl) { return roles_match(cl, "t", 3, T3, 3); }

static bool leader_moved(struct cluster *cl)
{
    if (controller_of(cl) == 0) return false;
    struct res r;
    char why[128];
    struct rp_pstate st;
    if (zget(cl, "/brokers/topics/t/partitions/0/state", &r) != RP_ZK_OK ||
        rp_pstate_decode(r.data, r.len, &st, why, sizeof why) != WEIR_OK || st.leader != 2)
        return false;
    return roles_match(cl, "t", 3, T3, 3);
}

static bool reregistered(struct cluster *cl)
{
    struct broker *b = &cl->b[2];
    struct res r;
    return b->m->sessions == 2 && b->m->registered && zget(cl, "/brokers/ids/2", &r) == RP_ZK_OK &&
           r.stat.ephemeral_owner == rp_zk_session_id(b->m->zk) && controller_of(cl) != 0;
}

static void t_real_zookeeper(void **state)
{
    (void)state;
    struct cluster *cl = test_calloc(1, sizeof *cl);
    cl->connect = server.connect;
    assert_int_equal(rp_zk_open(server.connect, 10000, noop_session, NULL, &cl->admin), WEIR_OK);
    for (int id = 1; id <= NB; id++) broker_start(cl, id);
    wait_until(cl, all_registered, "registration and one controller");
    create_topic(cl, "t", 3, T3, 3);
    wait_until(cl, t_roles, "partition states and roles");
    struct rp_pstate s0 = state_of(cl, "t", 0, NULL);
    assert_int_equal(s0.leader, 1);
    assert_int_equal(s0.leader_epoch, 0);
    /* broker 1 stops: its session closes, its registration goes */
    rp_member_free(cl->b[1].m);
    rp_ctlr_fini(&cl->b[1].c);
    cl->b[1].m = NULL;
    cl->b[1].up = false;
    wait_until(cl, leader_moved, "t-0 led by broker 2");
    s0 = state_of(cl, "t", 0, NULL);
    int32_t isr23[] = { 2, 3 };
    assert_int_equal(s0.leader_epoch, 1);
    assert_isr(&s0, isr23, 2);
    /* the server ends broker 2's session: it registers again on a new one and
     * every broker's roles agree with the states (whether or not the
     * controller saw it gone: it may be back before the controller looks) */
    int64_t old_session = rp_zk_session_id(cl->b[2].m->zk);
    assert_int_equal(rp_zk_end_session(cl->b[2].m->zk), RP_ZK_OK);
    wait_until(cl, reregistered, "broker 2 registered on a new session");
    assert_true(rp_zk_session_id(cl->b[2].m->zk) != old_session);
    wait_until(cl, t_roles, "roles after the expiry");
    cluster_free(cl);
}

/* The stray rule (KIP-858) over a hand-made cache of broker 2: topic "t"
 * (id A, 2 partitions: p0 on {0, 2}, p1 on {0, 1}). */
static void t_stray_rule(void **state)
{
    (void)state;
    struct weir_uuid a = { { 0xA } }, b = { { 0xB } }, zero = { { 0 } };
    int32_t r0[] = { 0, 2 }, r1[] = { 0, 1 };
    struct rp_mpart parts[2] = { { .replicas = r0, .replicas_n = 2 }, { .replicas = r1, .replicas_n = 2 } };
    struct rp_mtopic t = { .name = "t", .assigned = true, .topic_id = a, .parts_n = 2, .parts = parts };
    struct rp_mtopic fresh = { .name = "fresh", .assigned = false };
    struct rp_mtopic *topics[] = { &t, &fresh };
    struct rp_member m = { .cfg.id = 2, .topics_listed = true, .topics = topics, .topics_n = 1 };
    static const struct {
        const char *name, *topic;
        int32_t partition;
        int local; /* 0: no partition.metadata, 1: id A, 2: id B, 3: a zero id */
        enum weir_stray want;
    } cases[] = {
        { "no such topic", "gone", 0, 1, WEIR_STRAY_NO_TOPIC },
        { "no such topic, no local id", "gone", 3, 0, WEIR_STRAY_NO_TOPIC },
        { "past the partition count", "t", 2, 1, WEIR_STRAY_BEYOND },
        { "same id, assigned here", "t", 0, 1, WEIR_STRAY_KEEP },
        { "same id, not assigned here", "t", 1, 1, WEIR_STRAY_KEEP },
        { "other id, assigned here (its role resets it)", "t", 0, 2, WEIR_STRAY_KEEP },
        { "other id, not assigned here", "t", 1, 2, WEIR_STRAY_OTHER_ID },
        { "no local id", "t", 1, 0, WEIR_STRAY_KEEP },
        { "zero local id", "t", 1, 3, WEIR_STRAY_KEEP },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct weir_uuid *ids[] = { NULL, &a, &b, &zero };
        print_message("%s\n", cases[i].name);
        assert_int_equal(rp_member_stray(&m, cases[i].topic, cases[i].partition, ids[cases[i].local]), cases[i].want);
    }
    t.topic_id = zero; /* a topic znode without an id: another id cannot be told */
    assert_int_equal(rp_member_stray(&m, "t", 1, &b), WEIR_STRAY_KEEP);
    m.topics_n = 2; /* a listed topic whose znode is not read (being created): nothing is decided */
    assert_int_equal(rp_member_stray(&m, "gone", 0, &a), WEIR_STRAY_UNSURE);
    assert_int_equal(rp_member_stray(&m, "t", 5, &a), WEIR_STRAY_UNSURE);
    m.topics_n = 1, m.topics_listed = false; /* the topic list not read since start */
    assert_int_equal(rp_member_stray(&m, "gone", 0, &a), WEIR_STRAY_UNSURE);
}

static int real_setup(void **state)
{
    (void)state;
    return weir_test_zk_start(&server) == 0 ? 0 : -1;
}

static int real_teardown(void **state)
{
    (void)state;
    weir_test_zk_stop(&server);
    return 0;
}

int main(void)
{
    weir_log_set_level(getenv("RT_INFO") ? WEIR_LOG_INFO : WEIR_LOG_ERROR); /* the duplicate id test logs one ERROR line */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_elect_and_create), cmocka_unit_test(t_leader_expiry),
        cmocka_unit_test(t_controller_expiry), cmocka_unit_test(t_unclean_off_kip966),
        cmocka_unit_test(t_delete_topic), cmocka_unit_test(t_topic_config),      cmocka_unit_test(t_duplicate_id), cmocka_unit_test(t_listeners_registration),
        cmocka_unit_test(t_stale_epoch_ignored), cmocka_unit_test(t_reconnect),
        cmocka_unit_test(t_random_faults),     cmocka_unit_test(t_bounce),
        cmocka_unit_test(t_restart_same_epoch), cmocka_unit_test(t_stray_rule),
    };
    int failed = cmocka_run_group_tests_name("zkmem", tests, NULL, NULL);
    if (access(WEIR_TEST_ZK_SERVER, X_OK) != 0) {
        fprintf(stderr, "SKIP the real ZooKeeper run: no %s (Debian package zookeeper)\n", WEIR_TEST_ZK_SERVER);
        return failed ? 1 : 0;
    }
    const struct CMUnitTest real[] = { cmocka_unit_test(t_real_zookeeper) };
    failed += cmocka_run_group_tests_name("zookeeper", real, real_setup, real_teardown);
    return failed ? 1 : 0;
}
