/* repl/controller.c: the controller over struct rp_zk, on its member's
 * session (kafka.controller.KafkaController, ZooKeeper era).
 *
 * Election (KafkaZkClient.registerControllerAndIncrementControllerEpoch):
 * read /controller_epoch (create it with 0 when absent), then one multi
 * creates the ephemeral /controller and sets /controller_epoch to epoch + 1
 * conditional on the version read. The winner is ACTIVE at that epoch; every
 * write it makes is a multi whose first op CHECKs /controller_epoch at the
 * version its win left, so a deposed controller's writes fail (failed_op 0).
 * Others stand by with an exists watch on /controller and stand again when
 * it goes. The active one watches /controller too and resigns when it is
 * gone or not its own, and on session expiry.
 *
 * Decisions (ctl.c) are made on the member's cache and written conditional
 * on the state znode's version read; a conflict means the cache is behind,
 * and the member's watch brings the newer state, which runs evaluate again.
 *
 * Invariants:
 *  1. ACTIVE only after the election multi succeeded on the current session
 *     (or our own /controller was found on it, and the epoch re-read).
 *  2. At most one write per state znode in flight (inflight), kept until the
 *     cache shows a version other than the one written against.
 *  3. A completion of an older session (gen) does nothing but free itself. */
#include "cluster_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum cop_kind { COP_EPOCH_GET, COP_EPOCH_CREATE, COP_ELECT, COP_CTL_EXISTS, COP_ADOPT, COP_DEL_CHILDREN, COP_DEL_WALK,
                COP_DEL_MULTI, COP_SHUT_CHILDREN, COP_TCFG_GET, COP_TCFG_EXISTS };
/* A topic's unclean.leader.election.enable, as its config znode says (tcfg). */
enum { TCFG_FALSE, TCFG_TRUE, TCFG_DEFAULT, TCFG_READING };
enum { PATH_LEN = 512, DEL_TRIES = 3 };

/* A topic deletion: the znodes under its roots, found by a walk, then deleted in one multi. */
struct dwalk {
    struct rp_ctlr *c;
    uint64_t gen;
    char *topic;
    char **paths; /* parents before children */
    size_t n, cap;
    int pending, tries;
    bool failed;
};

struct cop {
    struct rp_ctlr *c;
    uint64_t gen;
    enum cop_kind kind;
    bool watched;
    int32_t epoch; /* COP_ELECT: the epoch it stands for */
    struct dwalk *dw;
    char path[];
};

/* A state write (internal: done NULL). */
struct wop {
    struct rp_ctlr *c;
    uint64_t gen;
    char topic[WEIR_KAFKA_NAME_MAX + 1];
    uint32_t partition;
    struct rp_pstate st;
    int32_t version;             /* -1: create */
    bool skip_parts, skip_p;     /* the parents exist */
    int idx_parts, idx_p;        /* their op indexes in the multi, -1: not in it */
    rp_zk_done_fn *done;
    void *ctx;
};

static void cop_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res);
static void evaluate(struct rp_ctlr *c);
static void elect(struct rp_ctlr *c);

static struct cop *cop_new(struct rp_ctlr *c, enum cop_kind kind, const char *path)
{
    size_t n = strlen(path) + 1;
    struct cop *op = rp_zk_xmalloc(sizeof *op + n);
    *op = (struct cop){ .c = c, .gen = c->gen, .kind = kind };
    memcpy(op->path, path, n);
    return op;
}

static void state_path(char *buf, const char *topic, uint32_t p)
{
    snprintf(buf, PATH_LEN, "/brokers/topics/%s/partitions/%u/state", topic, p);
}

/* ---- active, resign ----------------------------------------------------------------- */

/* Stops acting (ACTIVE -> STANDBY); an election in flight goes on. */
static void resign(struct rp_ctlr *c, const char *why)
{
    if (c->state == RP_CTLR_ACTIVE) {
        weir_log(WEIR_LOG_WARN, "replication: broker %d resigns as controller (epoch %d): %s", c->id, c->epoch, why);
        c->resigned++;
        c->state = RP_CTLR_STANDBY;
    }
    rp_strmap_clear(&c->inflight);
    rp_strmap_clear(&c->deleting);
}

static void watch_controller(struct rp_ctlr *c);
static void read_deletes(struct rp_ctlr *c);
static void read_shutdowns(struct rp_ctlr *c);

static void become_active(struct rp_ctlr *c, int32_t epoch, int32_t version)
{
    c->state = RP_CTLR_ACTIVE;
    c->epoch = epoch;
    c->epoch_version = version;
    c->elected++;
    rp_strmap_clear(&c->inflight);
    rp_strmap_clear(&c->deleting);
    rp_strmap_clear(&c->broker_zxid); /* first sight from here */
    weir_log(WEIR_LOG_INFO, "replication: broker %d is the controller at epoch %d", c->id, epoch);
    watch_controller(c);
    read_deletes(c);
    read_shutdowns(c);
    evaluate(c);
}

static void ctl_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev, (void)path;
    struct rp_ctlr *c = ctx;
    c->ctl_armed = false;
    watch_controller(c);
}

/* exists /controller, with our watch unless one is registered. */
static void watch_controller(struct rp_ctlr *c)
{
    struct cop *op = cop_new(c, COP_CTL_EXISTS, "/controller");
    op->watched = !c->ctl_armed;
    c->ctl_armed = true;
    rp_zk_exists(c->zk, "/controller", op->watched ? ctl_watch : NULL, c, cop_done, op);
}

static bool parse_epoch(const struct rp_zk_result *res, int32_t *out)
{
    char buf[16];
    if (res->len == 0 || res->len >= sizeof buf) return false;
    memcpy(buf, res->data, res->len);
    buf[res->len] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end != '\0' || v < 0 || v >= INT32_MAX) return false;
    *out = (int32_t)v;
    return true;
}

static void elect(struct rp_ctlr *c)
{
    if (!c->zk || c->state == RP_CTLR_ELECTING || c->state == RP_CTLR_ACTIVE) return;
    c->state = RP_CTLR_ELECTING;
    rp_zk_get(c->zk, "/controller_epoch", NULL, NULL, cop_done, cop_new(c, COP_EPOCH_GET, "/controller_epoch"));
}

static void elect_multi(struct rp_ctlr *c, int32_t epoch, int32_t version)
{
    char ctl[128], ep[16];
    size_t len;
    struct rp_controller rc = { .broker_id = c->id, .timestamp_ms = c->m->cfg.timestamp_ms };
    WEIR_ASSERT(rp_controller_encode(&rc, ctl, sizeof ctl, &len) == WEIR_OK);
    int n = snprintf(ep, sizeof ep, "%d", epoch + 1);
    struct rp_zk_op ops[2] = {
        { .type = RP_ZK_OP_CREATE, .path = "/controller", .data = ctl, .len = len, .flags = RP_ZK_EPHEMERAL },
        { .type = RP_ZK_OP_SET, .path = "/controller_epoch", .data = ep, .len = (size_t)n, .version = version },
    };
    struct cop *op = cop_new(c, COP_ELECT, "/controller");
    op->epoch = epoch + 1;
    rp_zk_multi(c->zk, ops, 2, cop_done, op);
}

/* ---- decisions and writes ---------------------------------------------------------- */

static void write_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res);

static void write_submit(struct wop *w)
{
    struct rp_ctlr *c = w->c;
    char parts[PATH_LEN], pdir[PATH_LEN + 16], spath[PATH_LEN], data[1024];
    size_t len;
    snprintf(parts, sizeof parts, "/brokers/topics/%s/partitions", w->topic);
    snprintf(pdir, sizeof pdir, "%s/%u", parts, w->partition);
    state_path(spath, w->topic, w->partition);
    WEIR_ASSERT(rp_pstate_encode(&w->st, data, sizeof data, &len) == WEIR_OK);
    struct rp_zk_op ops[4];
    size_t n = 0;
    ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_CHECK, .path = "/controller_epoch", .version = c->epoch_version };
    w->idx_parts = w->idx_p = -1;
    if (w->version < 0) {
        if (!w->skip_parts) w->idx_parts = (int)n, ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_CREATE, .path = parts };
        if (!w->skip_p) w->idx_p = (int)n, ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_CREATE, .path = pdir };
        ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_CREATE, .path = spath, .data = data, .len = len };
    } else {
        ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_SET, .path = spath, .data = data, .len = len,
                                      .version = w->version };
    }
    rp_zk_multi(c->zk, ops, n, write_done, w);
}

void rp_ctlr_write_state(struct rp_ctlr *c, const char *topic, uint32_t partition, const struct rp_pstate *s,
                         int32_t version, rp_zk_done_fn *done, void *ctx)
{
    WEIR_ASSERT(c->zk && strlen(topic) <= WEIR_KAFKA_NAME_MAX);
    struct wop *w = rp_zk_xmalloc(sizeof *w);
    *w = (struct wop){ .c = c, .gen = c->gen, .partition = partition, .st = *s, .version = version, .done = done,
                       .ctx = ctx };
    memcpy(w->topic, topic, strlen(topic) + 1);
    write_submit(w);
}

static void write_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    struct wop *w = ctx;
    struct rp_ctlr *c = w->c;
    if (w->done) { /* rp_ctlr_write_state's caller */
        w->done(w->ctx, rc, res);
        weir_free(w);
        return;
    }
    char key[PATH_LEN];
    state_path(key, w->topic, w->partition);
    if (rc == RP_ZK_CLOSED || w->gen != c->gen || c->state != RP_CTLR_ACTIVE) {
        weir_free(w);
        return;
    }
    if (rc == RP_ZK_OK) { /* inflight stays until the member reads the new version */
        weir_log(WEIR_LOG_INFO, "replication: controller %d: %s: leader %d, leader epoch %d, isr of %u", c->id, key,
                 w->st.leader, w->st.leader_epoch, w->st.isr_n);
        weir_free(w);
        return;
    }
    if (res->failed_op == 0) { /* /controller_epoch moved: another controller won since */
        c->fenced++;
        resign(c, "/controller_epoch changed (fenced)");
        watch_controller(c);
        weir_free(w);
        return;
    }
    if (rc == RP_ZK_NODEEXISTS && (res->failed_op == w->idx_parts || res->failed_op == w->idx_p)) {
        if (res->failed_op == w->idx_parts) w->skip_parts = true;
        else w->skip_p = true;
        write_submit(w);
        return;
    }
    rp_strmap_del(&c->inflight, key);
    weir_free(w);
    /* A conflict: the cache is behind and the member's read is on its way. */
    if (rc == RP_ZK_BADVERSION || rc == RP_ZK_NONODE || rc == RP_ZK_NODEEXISTS) evaluate(c);
}

static bool isr_differs(const struct rp_pstate *a, const struct rp_pstate *b)
{
    if (a->leader != b->leader || a->isr_n != b->isr_n) return true;
    for (uint32_t i = 0; i < a->isr_n; i++)
        if (a->isr[i] != b->isr[i]) return true;
    return false;
}

/* The czxid of a live broker's registration; 0 when not live or not read yet. */
static int64_t czxid_of(const struct rp_member *m, int32_t id)
{
    for (uint32_t i = 0; i < m->brokers_n; i++)
        if (m->brokers[i] == id) return m->broker_czxid[i];
    return 0;
}

/* The change a present state needs, if any: a leader or ISR members gone
 * (onReplicasBecomeOffline, as one write), or an offline partition whose ISR
 * has a live member again. A result that changes neither leader nor ISR (the
 * last ISR member of an offline partition, KIP-966) is no change.
 * A live leader or ISR member that registered after the state was written
 * (czxid > mzxid) has restarted or re-registered since: it is handled as gone
 * and back, as a bounce is (its log may have lost an unflushed tail, and its
 * member does not lead from that state: member.c invariant 5). */
static bool decide(const struct rp_ctlr *c, const struct rp_ctl *ctl, const struct rp_mpart *p, bool unclean,
                   struct rp_pstate *next)
{
    const struct rp_pstate *cur = &p->st;
    if (cur->leader < RP_NO_LEADER) return false;
    int32_t gone[2 * RP_REPLICAS_MAX + 2], stale[RP_REPLICAS_MAX + 1];
    uint32_t n = 0, stale_n = 0;
    if (cur->leader != RP_NO_LEADER && !rp_member_broker_live(c->m, cur->leader)) gone[n++] = cur->leader;
    for (uint32_t i = 0; i < cur->isr_n; i++)
        if (cur->isr[i] != cur->leader && !rp_member_broker_live(c->m, cur->isr[i])) gone[n++] = cur->isr[i];
    for (uint32_t i = 0; i <= cur->isr_n; i++) {
        int32_t id = i < cur->isr_n ? cur->isr[i] : cur->leader;
        if ((i < cur->isr_n && id == cur->leader) || id == RP_NO_LEADER) continue;
        if (czxid_of(c->m, id) > p->mzxid) gone[n++] = stale[stale_n++] = id;
    }
    if (n == 0)
        return cur->leader == RP_NO_LEADER && rp_ctl_offline_retry(ctl, p->replicas, p->replicas_n, cur, unclean, next);
    int32_t *live = rp_zk_xmalloc((ctl->live_n + 1) * sizeof *live);
    uint32_t live_n = 0;
    for (uint32_t i = 0; i < ctl->live_n; i++) {
        bool is_stale = false;
        for (uint32_t k = 0; k < stale_n; k++) is_stale |= ctl->live[i] == stale[k];
        if (!is_stale) live[live_n++] = ctl->live[i];
    }
    struct rp_ctl c2 = { .live = live, .live_n = live_n, .epoch = ctl->epoch };
    bool change = rp_ctl_brokers_gone(&c2, p->replicas, p->replicas_n, cur, gone, n, unclean, next) &&
                  isr_differs(cur, next);
    weir_free(live);
    if (!change && stale_n > 0 && cur->leader == RP_NO_LEADER) /* the last ISR member, back (KIP-966) */
        return rp_ctl_offline_retry(ctl, p->replicas, p->replicas_n, cur, unclean, next);
    return change;
}

/* Writes next for partition i of t, against the version the cache holds. */
static void submit(struct rp_ctlr *c, const struct rp_mtopic *t, uint32_t i, int32_t cur_version,
                   const struct rp_pstate *next)
{
    char key[PATH_LEN];
    state_path(key, t->name, i);
    WEIR_DASSERT(next->controller_epoch == c->epoch);
    rp_strmap_put(&c->inflight, key, cur_version);
    struct wop *w = rp_zk_xmalloc(sizeof *w);
    *w = (struct wop){ .c = c, .gen = c->gen, .partition = i, .st = *next, .version = cur_version };
    memcpy(w->topic, t->name, strlen(t->name) + 1);
    write_submit(w);
}

static bool shutting(const struct rp_ctlr *c, int32_t id)
{
    for (uint32_t k = 0; k < c->shut_n; k++)
        if (c->shut[k] == id) return true;
    return false;
}

/* Controlled shutdown (KafkaController.doControlledShutdown) of every live
 * broker asking for it: a leadership moves to another live ISR member not
 * shutting down; a follower leaves the ISR once per request (Kafka's
 * StopReplica has no counterpart here: a follower that catches up again may
 * rejoin, and is not taken out again). */
static bool decide_shutdown(struct rp_ctlr *c, const struct rp_mtopic *t, uint32_t i, struct rp_pstate *next)
{
    const struct rp_mpart *p = &t->parts[i];
    struct rp_member *m = c->m;
    if (c->shut_n == 0 || p->st.leader < RP_NO_LEADER) return false;
    int32_t live[RP_REPLICAS_MAX]; /* candidates: live replicas not shutting down (ctl.c asks only about replicas) */
    uint32_t live_n = 0;
    for (uint32_t k = 0; k < p->replicas_n && k < RP_REPLICAS_MAX; k++)
        if (rp_member_broker_live(m, p->replicas[k]) && !shutting(c, p->replicas[k])) live[live_n++] = p->replicas[k];
    struct rp_ctl ctl = { .live = live, .live_n = live_n, .epoch = c->epoch };
    struct rp_pstate s = p->st, n;
    bool change = false;
    char key[PATH_LEN + 16], path[PATH_LEN];
    state_path(path, t->name, i);
    for (uint32_t k = 0; k < c->shut_n; k++) {
        int32_t b = c->shut[k];
        if (!rp_member_broker_live(m, b)) continue;
        bool leads = s.leader == b;
        snprintf(key, sizeof key, "%d:%s", b, path);
        if (!leads && rp_strmap_get(&c->shut_done, key, NULL)) continue;
        if (!rp_ctl_shutdown(&ctl, p->replicas, p->replicas_n, &s, b, &n) || !isr_differs(&s, &n)) continue;
        rp_strmap_put(&c->shut_done, key, 1);
        weir_log(WEIR_LOG_INFO, "replication: controller %d: %s: controlled shutdown of broker %d", c->id, path, b);
        s = n, change = true;
    }
    if (change) *next = s;
    return change;
}

static void evaluate_part(struct rp_ctlr *c, const struct rp_ctl *ctl, const struct rp_mtopic *t, uint32_t i,
                          bool unclean)
{
    const struct rp_mpart *p = &t->parts[i];
    char key[PATH_LEN];
    state_path(key, t->name, i);
    int64_t base;
    if (p->known == RP_UNREAD) return;
    int32_t cur_version = p->known == RP_PRESENT ? p->version : -1;
    if (rp_strmap_get(&c->inflight, key, &base)) {
        if (base == cur_version) return;
        rp_strmap_del(&c->inflight, key);
    }
    struct rp_pstate next;
    bool change = p->known == RP_ABSENT ? rp_ctl_new_partition(ctl, p->replicas, p->replicas_n, &next)
                                        : decide(c, ctl, p, unclean, &next) || decide_shutdown(c, t, i, &next);
    if (change) submit(c, t, i, cur_version, &next);
}

/* ---- per-topic unclean.leader.election.enable (/config/topics/<t>) ---------------------- */

static void tcfg_read(struct rp_ctlr *c, const char *topic, bool exists);

static void tcfg_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev;
    struct rp_ctlr *c = ctx;
    const char *topic = path + strlen("/config/topics/");
    rp_strmap_del(&c->tcfg_armed, topic);
    rp_strmap_del(&c->tcfg, topic); /* read again when next needed */
    evaluate(c);
}

/* Whether the topic's elections may be unclean. Until its config has been
 * read, no: an unclean election cannot be undone, a clean one only waits. */
static bool unclean_for(struct rp_ctlr *c, const char *topic)
{
    int64_t v;
    if (!rp_strmap_get(&c->tcfg, topic, &v)) {
        if (c->zk && strlen(topic) <= WEIR_KAFKA_NAME_MAX) tcfg_read(c, topic, false);
        return false;
    }
    return v == TCFG_TRUE || (v == TCFG_DEFAULT && c->unclean);
}

/* get (exists after a NONODE, to see it created), with our watch unless one is set. */
static void tcfg_read(struct rp_ctlr *c, const char *topic, bool exists)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "/config/topics/%s", topic);
    rp_strmap_put(&c->tcfg, topic, TCFG_READING);
    struct cop *op = cop_new(c, exists ? COP_TCFG_EXISTS : COP_TCFG_GET, path);
    op->watched = !rp_strmap_get(&c->tcfg_armed, topic, NULL);
    if (op->watched) rp_strmap_put(&c->tcfg_armed, topic, 1);
    if (exists) rp_zk_exists(c->zk, path, op->watched ? tcfg_watch : NULL, c, cop_done, op);
    else rp_zk_get(c->zk, path, op->watched ? tcfg_watch : NULL, c, cop_done, op);
}

static int64_t tcfg_value(const struct rp_zk_result *res, const char *path)
{
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 4096, 64u << 20) != WEIR_OK) weir_panic("controller: out of memory");
    struct rp_topic_config tc;
    char why[256];
    int64_t v = TCFG_DEFAULT;
    if (rp_topic_config_decode(res->data, res->len, &a, &tc, why, sizeof why) != WEIR_OK) {
        weir_log(WEIR_LOG_WARN, "replication: %s unreadable, broker defaults used: %s", path, why);
    } else {
        for (uint32_t i = 0; i < tc.n; i++) {
            if (strcmp(tc.entries[i].key, "unclean.leader.election.enable") != 0) continue;
            if (strcasecmp(tc.entries[i].value, "true") == 0) v = TCFG_TRUE;
            else if (strcasecmp(tc.entries[i].value, "false") == 0) v = TCFG_FALSE;
        }
    }
    weir_arena_destroy(&a);
    return v;
}

static void on_tcfg(struct rp_ctlr *c, const struct cop *op, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    const char *topic = op->path + strlen("/config/topics/");
    bool exists = op->kind == COP_TCFG_EXISTS;
    bool watch_set = rc == RP_ZK_OK || (exists && rc == RP_ZK_NONODE);
    if (op->watched && !watch_set) rp_strmap_del(&c->tcfg_armed, topic);
    if (rc == RP_ZK_OK && exists) {
        tcfg_read(c, topic, false); /* created meanwhile; our watch is set */
    } else if (rc == RP_ZK_NONODE && !exists) {
        tcfg_read(c, topic, true);
    } else if (rc == RP_ZK_OK || rc == RP_ZK_NONODE) {
        rp_strmap_put(&c->tcfg, topic, rc == RP_ZK_OK ? tcfg_value(res, op->path) : TCFG_DEFAULT);
        evaluate(c);
    } else {
        rp_strmap_del(&c->tcfg, topic); /* the next evaluation reads it again */
    }
}

/* Live brokers whose registration changed (czxid) since this controller last
 * saw them: back on a new session before it saw them gone (Kafka's bounced
 * brokers, told apart by broker epoch). Records what it sees. */
static uint32_t bounced(struct rp_ctlr *c, int32_t *out)
{
    struct rp_member *m = c->m;
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->brokers_n; i++) {
        char key[16];
        int64_t seen;
        if (m->broker_czxid[i] == 0) continue; /* not read yet */
        snprintf(key, sizeof key, "%d", m->brokers[i]);
        if (rp_strmap_get(&c->broker_zxid, key, &seen) && seen != m->broker_czxid[i]) out[n++] = m->brokers[i];
        rp_strmap_put(&c->broker_zxid, key, m->broker_czxid[i]);
    }
    return n;
}

/* A bounced broker is treated as gone and back (onBrokerFailure, then
 * onBrokerStartup): leaderships it held move to other ISR members and it
 * leaves the ISRs, as if it had died; a partition it alone kept goes offline
 * and the next evaluation elects it again. Written even over a write in flight. */
static void evaluate_bounced(struct rp_ctlr *c, const int32_t *b, uint32_t nb)
{
    struct rp_member *m = c->m;
    int32_t *live = rp_zk_xmalloc((m->brokers_n + 1) * sizeof *live);
    uint32_t live_n = 0;
    for (uint32_t i = 0; i < m->brokers_n; i++) {
        bool gone = false;
        for (uint32_t k = 0; k < nb; k++) gone |= m->brokers[i] == b[k];
        if (!gone) live[live_n++] = m->brokers[i];
    }
    struct rp_ctl ctl = { .live = live, .live_n = live_n, .epoch = c->epoch };
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        const struct rp_mtopic *t = m->topics[ti];
        if (!t->assigned || rp_strmap_get(&c->deleting, t->name, NULL)) continue;
        bool unclean = unclean_for(c, t->name);
        for (uint32_t i = 0; i < t->parts_n; i++) {
            const struct rp_mpart *p = &t->parts[i];
            struct rp_pstate next;
            if (p->known != RP_PRESENT || p->st.leader < RP_NO_LEADER ||
                !rp_ctl_brokers_gone(&ctl, p->replicas, p->replicas_n, &p->st, b, nb, unclean, &next) ||
                !isr_differs(&p->st, &next))
                continue;
            char key[PATH_LEN];
            state_path(key, t->name, i);
            weir_log(WEIR_LOG_INFO, "replication: controller %d: %s: a replica came back on a new session", c->id, key);
            rp_strmap_put(&c->inflight, key, p->version);
            struct wop *w = rp_zk_xmalloc(sizeof *w);
            *w = (struct wop){ .c = c, .gen = c->gen, .partition = i, .st = next, .version = p->version };
            memcpy(w->topic, t->name, strlen(t->name) + 1);
            write_submit(w);
        }
    }
    weir_free(live);
}

/* Every partition of the cache against the live brokers. */
static void evaluate(struct rp_ctlr *c)
{
    struct rp_member *m = c->m;
    if (c->state != RP_CTLR_ACTIVE || !c->zk || !m->brokers_known) return;
    int32_t *b = rp_zk_xmalloc((m->brokers_n + 1) * sizeof *b);
    uint32_t nb = bounced(c, b);
    if (nb > 0) evaluate_bounced(c, b, nb);
    weir_free(b);
    struct rp_ctl ctl = { .live = m->brokers, .live_n = m->brokers_n, .epoch = c->epoch };
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        const struct rp_mtopic *t = m->topics[ti];
        if (!t->assigned || rp_strmap_get(&c->deleting, t->name, NULL)) continue;
        bool unclean = unclean_for(c, t->name);
        for (uint32_t i = 0; i < t->parts_n; i++) evaluate_part(c, &ctl, t, i, unclean);
    }
}

/* ---- topic deletion (TopicDeletionManager, without the replica handshake) ------------ */

static void del_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev, (void)path;
    struct rp_ctlr *c = ctx;
    c->del_armed = false;
    if (c->state == RP_CTLR_ACTIVE) read_deletes(c);
}

static void read_deletes(struct rp_ctlr *c)
{
    struct cop *op = cop_new(c, COP_DEL_CHILDREN, "/admin/delete_topics");
    op->watched = !c->del_armed;
    c->del_armed = true;
    rp_zk_get_children(c->zk, op->path, op->watched ? del_watch : NULL, c, cop_done, op);
}

static void walk(struct dwalk *dw, const char *path)
{
    struct cop *op = cop_new(dw->c, COP_DEL_WALK, path);
    op->dw = dw;
    dw->pending++;
    rp_zk_get_children(dw->c->zk, path, NULL, NULL, cop_done, op);
}

static void dwalk_start(struct dwalk *dw)
{
    char path[PATH_LEN];
    for (size_t i = 0; i < dw->n; i++) weir_free(dw->paths[i]);
    dw->n = 0;
    dw->failed = false;
    dw->tries++;
    snprintf(path, sizeof path, "/brokers/topics/%s", dw->topic);
    walk(dw, path);
    snprintf(path, sizeof path, "/config/topics/%s", dw->topic);
    walk(dw, path);
}

static void dwalk_free(struct dwalk *dw)
{
    for (size_t i = 0; i < dw->n; i++) weir_free(dw->paths[i]);
    weir_free(dw->paths);
    weir_free(dw->topic);
    weir_free(dw);
}

static void dwalk_multi(struct dwalk *dw)
{
    struct rp_ctlr *c = dw->c;
    char req[PATH_LEN];
    snprintf(req, sizeof req, "/admin/delete_topics/%s", dw->topic);
    struct rp_zk_op *ops = rp_zk_xmalloc((dw->n + 2) * sizeof *ops);
    size_t n = 0;
    ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_CHECK, .path = "/controller_epoch", .version = c->epoch_version };
    for (size_t i = dw->n; i-- > 0;) ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_DELETE, .path = dw->paths[i], .version = -1 };
    ops[n++] = (struct rp_zk_op){ .type = RP_ZK_OP_DELETE, .path = req, .version = -1 };
    struct cop *op = cop_new(c, COP_DEL_MULTI, req);
    op->dw = dw;
    rp_zk_multi(c->zk, ops, n, cop_done, op);
    weir_free(ops);
}

static void on_del_walk(struct cop *op, enum rp_zk_rc rc, const struct rp_zk_result *res, bool stale)
{
    struct dwalk *dw = op->dw;
    dw->pending--;
    if (!stale && rc == RP_ZK_OK) {
        if (dw->n == dw->cap) {
            dw->cap = dw->cap ? 2 * dw->cap : 16;
            dw->paths = weir_realloc(dw->paths, dw->cap * sizeof *dw->paths);
            if (!dw->paths) weir_panic("controller: out of memory");
        }
        dw->paths[dw->n++] = rp_zk_xstrdup(op->path);
        for (size_t i = 0; i < res->n_children; i++) {
            char kid[PATH_LEN];
            snprintf(kid, sizeof kid, "%s/%s", op->path, res->children[i]);
            walk(dw, kid);
        }
    } else if (rc != RP_ZK_NONODE) {
        dw->failed = true;
    }
    if (dw->pending > 0) return;
    if (stale || dw->failed || dw->c->state != RP_CTLR_ACTIVE) { /* resigned meanwhile: nothing to write */
        if (!stale) rp_strmap_del(&dw->c->deleting, dw->topic); /* the next request read retries */
        dwalk_free(dw);
        return;
    }
    dwalk_multi(dw);
}

static void on_del_multi(struct cop *op, enum rp_zk_rc rc, const struct rp_zk_result *res, bool stale)
{
    struct dwalk *dw = op->dw;
    struct rp_ctlr *c = dw->c;
    if (stale) {
        dwalk_free(dw);
        return;
    }
    if (rc == RP_ZK_OK) {
        weir_log(WEIR_LOG_INFO, "replication: controller %d deleted topic %s (%zu znodes)", c->id, dw->topic, dw->n);
        rp_strmap_del(&c->deleting, dw->topic);
        dwalk_free(dw);
    } else if (res->failed_op == 0) {
        dwalk_free(dw);
        c->fenced++;
        resign(c, "/controller_epoch changed (fenced)");
        watch_controller(c);
    } else if ((rc == RP_ZK_NOTEMPTY || rc == RP_ZK_NONODE) && dw->tries < DEL_TRIES) {
        dwalk_start(dw); /* the topic changed under the walk */
    } else {
        weir_log(WEIR_LOG_WARN, "replication: controller %d: deleting topic %s failed: %s", c->id, dw->topic,
                 rp_zk_rc_str(rc));
        rp_strmap_del(&c->deleting, dw->topic);
        dwalk_free(dw);
    }
}

static void on_del_children(struct rp_ctlr *c, const struct rp_zk_result *res)
{
    for (size_t i = 0; i < res->n_children; i++) {
        const char *t = res->children[i];
        if (rp_strmap_get(&c->deleting, t, NULL) || strlen(t) > WEIR_KAFKA_NAME_MAX) continue;
        rp_strmap_put(&c->deleting, t, 1);
        struct dwalk *dw = rp_zk_xmalloc(sizeof *dw);
        *dw = (struct dwalk){ .c = c, .gen = c->gen, .topic = rp_zk_xstrdup(t) };
        dwalk_start(dw);
    }
}

/* ---- controlled shutdown requests and preferred leaders ---------------------------------- */

static void shut_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev, (void)path;
    struct rp_ctlr *c = ctx;
    c->shut_armed = false;
    if (c->state == RP_CTLR_ACTIVE) read_shutdowns(c);
}

static void read_shutdowns(struct rp_ctlr *c)
{
    struct cop *op = cop_new(c, COP_SHUT_CHILDREN, "/weir/shutdown");
    op->watched = !c->shut_armed;
    c->shut_armed = true;
    rp_zk_get_children(c->zk, op->path, op->watched ? shut_watch : NULL, c, cop_done, op);
}

static void on_shut_children(struct rp_ctlr *c, const struct rp_zk_result *res)
{
    uint32_t n;
    int32_t *ids = rp_children_ids(res, &n);
    bool same = n == c->shut_n && (n == 0 || memcmp(ids, c->shut, n * sizeof *ids) == 0);
    if (!same) {
        for (uint32_t i = 0; i < n; i++)
            if (!shutting(c, ids[i]))
                weir_log(WEIR_LOG_INFO, "replication: controller %d: broker %d asks for a controlled shutdown", c->id,
                         ids[i]);
        rp_strmap_clear(&c->shut_done); /* a new request is handled afresh */
    }
    weir_free(c->shut);
    c->shut = ids;
    c->shut_n = n;
    evaluate(c);
}

void rp_ctlr_rebalance(struct rp_ctlr *c, int32_t imbalance_pct)
{
    struct rp_member *m = c->m;
    if (c->state != RP_CTLR_ACTIVE || !c->zk || !m->brokers_known) return;
    uint32_t n = 0;
    for (uint32_t ti = 0; ti < m->topics_n; ti++) n += m->topics[ti]->parts_n;
    struct rp_ctl_part *parts = rp_zk_xmalloc((n + 1) * sizeof *parts);
    n = 0;
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        const struct rp_mtopic *t = m->topics[ti];
        if (!t->assigned || rp_strmap_get(&c->deleting, t->name, NULL)) continue;
        for (uint32_t i = 0; i < t->parts_n; i++)
            if (t->parts[i].known == RP_PRESENT)
                parts[n++] = (struct rp_ctl_part){ t->parts[i].replicas, t->parts[i].replicas_n, &t->parts[i].st };
    }
    struct rp_ctl ctl = { .live = m->brokers, .live_n = m->brokers_n, .epoch = c->epoch };
    for (uint32_t bi = 0; bi < m->brokers_n; bi++) {
        int32_t b = m->brokers[bi];
        if (shutting(c, b) || !rp_ctl_imbalanced(parts, n, b, imbalance_pct)) continue;
        weir_log(WEIR_LOG_INFO, "replication: controller %d: broker %d leads too few of its preferred partitions: "
                 "preferred leader election", c->id, b);
        for (uint32_t ti = 0; ti < m->topics_n; ti++) {
            const struct rp_mtopic *t = m->topics[ti];
            if (!t->assigned || rp_strmap_get(&c->deleting, t->name, NULL)) continue;
            for (uint32_t i = 0; i < t->parts_n; i++) {
                const struct rp_mpart *p = &t->parts[i];
                char key[PATH_LEN];
                struct rp_pstate next;
                state_path(key, t->name, i);
                if (p->known != RP_PRESENT || p->replicas_n == 0 || p->replicas[0] != b ||
                    rp_strmap_get(&c->inflight, key, NULL) ||
                    !rp_ctl_preferred(&ctl, p->replicas, p->replicas_n, &p->st, &next))
                    continue;
                submit(c, t, i, p->version, &next);
            }
        }
    }
    weir_free(parts);
}

/* ---- completions ---------------------------------------------------------------------- */


static void cop_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    struct cop *op = ctx;
    struct rp_ctlr *c = op->c;
    bool stale = rc == RP_ZK_CLOSED || op->gen != c->gen || !c->zk;
    if (op->kind == COP_DEL_WALK) on_del_walk(op, rc, res, stale);
    if (op->kind == COP_DEL_MULTI) on_del_multi(op, rc, res, stale);
    if (stale || op->kind == COP_DEL_WALK || op->kind == COP_DEL_MULTI) {
        weir_free(op);
        return;
    }
    int32_t epoch;
    switch (op->kind) {
    case COP_EPOCH_GET:
        if (rc == RP_ZK_OK && parse_epoch(res, &epoch)) {
            elect_multi(c, epoch, res->stat.version);
        } else if (rc == RP_ZK_NONODE) { /* KafkaController.InitialControllerEpoch */
            rp_zk_create(c->zk, "/controller_epoch", "0", 1, 0, cop_done, cop_new(c, COP_EPOCH_CREATE, op->path));
        } else {
            if (rc == RP_ZK_OK) weir_log(WEIR_LOG_ERROR, "replication: /controller_epoch is not a number");
            c->state = RP_CTLR_IDLE; /* a reconnect stands again */
        }
        break;
    case COP_EPOCH_CREATE:
        c->state = RP_CTLR_IDLE;
        if (rc == RP_ZK_OK || rc == RP_ZK_NODEEXISTS) elect(c);
        break;
    case COP_ELECT:
        c->state = RP_CTLR_IDLE;
        if (rc == RP_ZK_OK) {
            become_active(c, op->epoch, res->ops[1].stat.version);
        } else if (res->failed_op == 0 && rc == RP_ZK_NODEEXISTS) {
            c->state = RP_CTLR_STANDBY;
            watch_controller(c);
        } else if (res->failed_op == 1) { /* another election moved the epoch: again */
            elect(c);
        }
        break;
    case COP_CTL_EXISTS:
        if (op->watched && rc != RP_ZK_OK && rc != RP_ZK_NONODE) c->ctl_armed = false;
        if (rc == RP_ZK_OK && res->stat.ephemeral_owner == rp_zk_session_id(c->zk)) {
            if (c->state != RP_CTLR_ACTIVE && c->state != RP_CTLR_ELECTING) { /* ours: an election whose answer was lost */
                c->state = RP_CTLR_ELECTING;
                rp_zk_get(c->zk, "/controller_epoch", NULL, NULL, cop_done, cop_new(c, COP_ADOPT, "/controller_epoch"));
            }
        } else if (rc == RP_ZK_OK) {
            resign(c, "/controller belongs to another broker");
        } else if (rc == RP_ZK_NONODE) {
            resign(c, "/controller is gone");
            elect(c);
        }
        break;
    case COP_ADOPT:
        c->state = RP_CTLR_IDLE;
        if (rc == RP_ZK_OK && parse_epoch(res, &epoch)) become_active(c, epoch, res->stat.version);
        break;
    case COP_DEL_CHILDREN:
        if (op->watched && rc != RP_ZK_OK) c->del_armed = false;
        if (rc == RP_ZK_OK && c->state == RP_CTLR_ACTIVE) on_del_children(c, res);
        break;
    case COP_SHUT_CHILDREN:
        if (op->watched && rc != RP_ZK_OK) c->shut_armed = false;
        if (rc == RP_ZK_OK && c->state == RP_CTLR_ACTIVE) on_shut_children(c, res);
        break;
    case COP_TCFG_GET:
    case COP_TCFG_EXISTS: on_tcfg(c, op, rc, res); break;
    default: break;
    }
    weir_free(op);
}

/* ---- the member's listener ------------------------------------------------------------ */

static void on_session(void *ctx, struct rp_zk *zk)
{
    struct rp_ctlr *c = ctx;
    if (zk != c->zk || !zk) { /* a new session, or none: everything in flight is stale */
        c->gen++;
        c->zk = NULL;
        resign(c, "ZooKeeper session lost");
        c->zk = zk;
        c->ctl_armed = c->del_armed = c->shut_armed = false;
        rp_strmap_clear(&c->tcfg); /* the watches went with the session */
        rp_strmap_clear(&c->tcfg_armed);
        c->state = RP_CTLR_IDLE;
        elect(c);
        return;
    }
    /* A reconnect: ops in flight failed with CONNECTIONLOSS (their watches too). */
    rp_strmap_clear(&c->inflight);
    rp_strmap_clear(&c->deleting);
    if (c->state == RP_CTLR_IDLE) {
        elect(c);
    } else {
        watch_controller(c);
        if (c->state == RP_CTLR_ACTIVE) {
            read_deletes(c);
            read_shutdowns(c);
            evaluate(c);
        }
    }
}

static void on_change(void *ctx) { evaluate(ctx); }

static const struct rp_member_listener listener = { on_session, on_change };

void rp_ctlr_init(struct rp_ctlr *c, struct rp_member *m, bool unclean)
{
    *c = (struct rp_ctlr){ .m = m, .id = m->cfg.id, .unclean = unclean };
    rp_member_listen(m, &listener, c);
    if (m->registered) on_session(c, m->zk);
}

void rp_ctlr_fini(struct rp_ctlr *c)
{
    WEIR_ASSERT(c->zk == NULL); /* the member was freed first */
    rp_strmap_clear(&c->broker_zxid);
    rp_strmap_clear(&c->inflight);
    rp_strmap_clear(&c->deleting);
    rp_strmap_clear(&c->shut_done);
    rp_strmap_clear(&c->tcfg);
    rp_strmap_clear(&c->tcfg_armed);
    weir_free(c->shut);
    c->shut = NULL;
    c->shut_n = 0;
}
