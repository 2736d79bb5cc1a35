/* repl/cluster.c: struct weir_cluster (repl.h) over member.c and
 * controller.c, on one thread of its own.
 *
 * Threads: the cluster thread owns the member, the controller and the
 * ZooKeeper session; it loops poll() on the session's fd (which changes when
 * an expired session is reopened) and an eventfd for requests, then runs
 * rp_member_dispatch. Every callback into the caller (on_role, on_change,
 * done) runs on it. Other threads queue requests (admin writes, ISR writes,
 * the shutdown request) under qmu and signal the eventfd.
 *
 * Locks: `mu` (recursive) guards the member's cache and the fields below
 * marked so; the cluster thread holds it while it dispatches, so the callers'
 * callbacks may query (the same thread re-enters it) and a query from any
 * other thread sees the cache between two dispatch rounds, consistent.
 * `wmu` + `wcv` wake threads that wait (start, shutdown, topic configs); it
 * is never held while taking `mu`.
 *
 * Invariants:
 *  1. Each request's done runs exactly once, on the cluster thread, before
 *     weir_cluster_stop returns (WEIR_E_UNAVAILABLE when the session goes
 *     first: an op's completion with RP_ZK_CLOSED).
 *  2. Our watches on /controller and /admin/delete_topics children: at most
 *     one registration each per session (ctl_armed, del_armed). */
#include "cluster_int.h"
#include "repl.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

enum { PATH_LEN = 512, ADD_TRIES = 3 };
enum start_state { START_PENDING, START_REGISTERED, START_REFUSED };

enum req_kind { REQ_CREATE, REQ_DELETE, REQ_ADD, REQ_ISR, REQ_SHUTDOWN, REQ_CONFIG, REQ_BCONFIG };

struct req {
    struct req *next;
    struct weir_cluster *cl;
    enum req_kind kind;
    int step, tries;
    char topic[WEIR_KAFKA_NAME_MAX + 1]; /* BCONFIG: the entity ("<default>" or a broker id) */
    int32_t count;        /* CREATE: partitions; ADD: the total */
    int16_t rf;
    char *config;         /* CREATE, CONFIG, BCONFIG: the encoded config znode */
    size_t config_len;
    char *assign;         /* CREATE: the encoded topic znode */
    size_t assign_len;
    int32_t *manual;      /* CREATE, ADD: a client's assignment (manual_parts x rf ids), else NULL */
    int32_t manual_parts;
    int32_t partition, leader_epoch, zk_version; /* ISR */
    uint32_t isr_n;
    int32_t isr[WEIR_REPLICAS_MAX];
    struct rp_pstate st;  /* ISR: what is written */
    weir_cluster_done_fn *done;
    weir_cluster_isr_done_fn *isr_done;
    void *ctx;
    struct create_args *ca; /* CREATE, CONFIG, BCONFIG: the configs until they are encoded */
};

struct create_args {
    char **keys, **values;
    uint32_t n;
};

/* One of our own reads (the controller's id, deletion requests). */
enum cop_kind { C_CTL_EXISTS, C_CTL_GET, C_DEL_CHILDREN };
struct cop {
    struct weir_cluster *cl;
    uint64_t gen;
    enum cop_kind kind;
    bool watched;
};

struct weir_cluster {
    struct weir_cluster_config cfg;
    struct weir_cluster_ops ops;
    void *ctx;
    char *connect;                 /* zk_connect, a lone trailing "/" dropped */
    pthread_t thread;
    int efd;
    pthread_mutex_t mu;            /* recursive */
    /* under mu (the cluster thread writes them) */
    struct rp_member *m;
    struct rp_ctlr ctlr;
    const struct rp_member_listener *ctlr_l;
    void *ctlr_ctx;
    struct rp_zk *zk_seen;         /* the session our watches were set on */
    uint64_t gen;                  /* bumped when the session changes */
    bool ctl_armed, del_armed;
    int32_t controller;
    struct rp_strmap deleting;     /* topics with a deletion request */
    bool shutting;                 /* controlled shutdown asked: /weir/shutdown/<id> on every session */
    struct rp_zk *pre;             /* the first session, opened by start */
    rp_zk_session_fn *sess_cb;
    void *sess_ctx;
    uint64_t rng;
    /* under qmu */
    pthread_mutex_t qmu;
    struct req *q, **qtail;
    bool stopping;
    /* under wmu */
    pthread_mutex_t wmu;
    pthread_cond_t wcv;
    enum start_state start;
    uint64_t seq;                  /* bumped on every change of the cache */
};

static void req_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res);

/* ---- small helpers ------------------------------------------------------------------- */

static bool on_thread(const struct weir_cluster *cl) { return pthread_equal(pthread_self(), cl->thread); }

static void lock(struct weir_cluster *cl) { pthread_mutex_lock(&cl->mu); }
static void unlock(struct weir_cluster *cl) { pthread_mutex_unlock(&cl->mu); }

static void notify(struct weir_cluster *cl)
{
    pthread_mutex_lock(&cl->wmu);
    cl->seq++;
    pthread_cond_broadcast(&cl->wcv);
    pthread_mutex_unlock(&cl->wmu);
}

static void wake(struct weir_cluster *cl)
{
    uint64_t one = 1;
    if (write(cl->efd, &one, sizeof one) != sizeof one && errno != EAGAIN)
        weir_panic("cluster: eventfd write: %s", strerror(errno));
}

static void deadline_ts(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) ts->tv_sec++, ts->tv_nsec -= 1000000000;
}

static int64_t mono_ms(void) { return weir_clock_ns() / 1000000; }

/* A ZooKeeper answer as the error the caller gets. */
static enum weir_err err_of(enum rp_zk_rc rc)
{
    switch (rc) {
    case RP_ZK_OK: return WEIR_OK;
    case RP_ZK_CONNECTIONLOSS:
    case RP_ZK_SESSIONEXPIRED:
    case RP_ZK_OPERATIONTIMEOUT:
    case RP_ZK_CLOSED: return WEIR_E_UNAVAILABLE;
    case RP_ZK_NONODE: return WEIR_E_NOT_FOUND;
    case RP_ZK_NODEEXISTS: return WEIR_E_EXISTS;
    case RP_ZK_BADVERSION: return WEIR_E_STALE;
    default: return WEIR_E_IO;
    }
}

/* ---- the cache as the public structs --------------------------------------------------- */

static const struct rp_mpart *part_find(const struct weir_cluster *cl, const char *topic, int32_t partition)
{
    const struct rp_mtopic *t = rp_member_topic(cl->m, topic);
    if (!t || !t->assigned || partition < 0 || (uint32_t)partition >= t->parts_n) return NULL;
    return &t->parts[partition];
}

static void info_of(const struct rp_mpart *p, struct weir_partition_info *out)
{
    memset(out, 0, sizeof *out);
    out->leader = p->known == RP_PRESENT ? p->st.leader : WEIR_NO_LEADER;
    out->leader_epoch = p->st.leader_epoch;
    out->zk_version = p->version;
    out->replicas_n = WEIR_MIN(p->replicas_n, (uint32_t)WEIR_REPLICAS_MAX);
    memcpy(out->replicas, p->replicas, sizeof out->replicas[0] * out->replicas_n);
    out->isr_n = WEIR_MIN(p->st.isr_n, (uint32_t)WEIR_REPLICAS_MAX);
    memcpy(out->isr, p->st.isr, sizeof out->isr[0] * out->isr_n);
}

/* member.c's config change -> ops->on_topic_config. */
static void config_cb(void *ctx, const char *topic)
{
    struct weir_cluster *cl = ctx;
    if (cl->ops.on_topic_config) cl->ops.on_topic_config(cl->ctx, topic);
}

/* member.c's broker config change -> ops->on_broker_config. */
static void bconfig_cb(void *ctx)
{
    struct weir_cluster *cl = ctx;
    if (cl->ops.on_broker_config) cl->ops.on_broker_config(cl->ctx);
}

/* member.c's role change -> ops->on_role, with the state it comes from. */
static void role_cb(void *ctx, const char *topic, uint32_t partition, const struct rp_role *r)
{
    struct weir_cluster *cl = ctx;
    struct weir_role role = { .kind = WEIR_ROLE_NONE };
    switch (r->kind) {
    case RP_ROLE_NONE: role.kind = WEIR_ROLE_NONE; break;
    case RP_ROLE_LEADER: role.kind = WEIR_ROLE_LEADER; break;
    case RP_ROLE_FOLLOWER: role.kind = WEIR_ROLE_FOLLOWER; break;
    case RP_ROLE_OFFLINE: role.kind = WEIR_ROLE_OFFLINE; break;
    }
    const struct rp_mtopic *t = rp_member_topic(cl->m, topic);
    if (t && partition < t->parts_n) info_of(&t->parts[partition], &role.info);
    else role.info.leader = WEIR_NO_LEADER;
    if (t) role.topic_id = t->topic_id;
    role.info.leader = r->kind == RP_ROLE_NONE ? role.info.leader : r->leader;
    role.info.leader_epoch = r->kind == RP_ROLE_NONE ? role.info.leader_epoch : r->epoch;
    if (cl->ops.on_role) cl->ops.on_role(cl->ctx, topic, (int32_t)partition, &role);
}

/* ---- our reads: the controller's id, deletion requests -------------------------------- */

static void cop_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res);

static struct cop *cop_new(struct weir_cluster *cl, enum cop_kind kind)
{
    struct cop *op = rp_zk_xmalloc(sizeof *op);
    *op = (struct cop){ .cl = cl, .gen = cl->gen, .kind = kind };
    return op;
}

static void ctl_watch(void *ctx, enum rp_zk_event ev, const char *path);
static void del_watch(void *ctx, enum rp_zk_event ev, const char *path);

static void ctl_read(struct weir_cluster *cl)
{
    struct cop *op = cop_new(cl, C_CTL_EXISTS);
    op->watched = !cl->ctl_armed;
    cl->ctl_armed = true;
    rp_zk_exists(cl->m->zk, "/controller", op->watched ? ctl_watch : NULL, cl, cop_done, op);
}

static void del_read(struct weir_cluster *cl)
{
    struct cop *op = cop_new(cl, C_DEL_CHILDREN);
    op->watched = !cl->del_armed;
    cl->del_armed = true;
    rp_zk_get_children(cl->m->zk, "/admin/delete_topics", op->watched ? del_watch : NULL, cl, cop_done, op);
}

static void ctl_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev, (void)path;
    struct weir_cluster *cl = ctx;
    cl->ctl_armed = false;
    if (cl->m->zk) ctl_read(cl);
}

static void del_watch(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev, (void)path;
    struct weir_cluster *cl = ctx;
    cl->del_armed = false;
    if (cl->m->zk) del_read(cl);
}

static void changed(struct weir_cluster *cl)
{
    notify(cl);
    if (cl->ops.on_change) cl->ops.on_change(cl->ctx);
}

static void cop_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    struct cop *op = ctx;
    struct weir_cluster *cl = op->cl;
    bool stale = rc == RP_ZK_CLOSED || op->gen != cl->gen || !cl->m->zk;
    if (!stale && op->watched && rc != RP_ZK_OK && !(op->kind == C_CTL_EXISTS && rc == RP_ZK_NONODE)) {
        if (op->kind == C_DEL_CHILDREN) cl->del_armed = false;
        else cl->ctl_armed = false;
    }
    if (stale) {
        weir_free(op);
        return;
    }
    switch (op->kind) {
    case C_CTL_EXISTS:
        if (rc == RP_ZK_OK) rp_zk_get(cl->m->zk, "/controller", NULL, NULL, cop_done, cop_new(cl, C_CTL_GET));
        else if (rc == RP_ZK_NONODE && cl->controller != -1) cl->controller = -1, changed(cl);
        break;
    case C_CTL_GET: {
        struct rp_controller c;
        char why[128];
        int32_t id = -1;
        if (rc == RP_ZK_OK && rp_controller_decode(res->data, res->len, &c, why, sizeof why) == WEIR_OK)
            id = c.broker_id;
        if (rc == RP_ZK_OK || rc == RP_ZK_NONODE) {
            if (id != cl->controller) cl->controller = id, changed(cl);
        }
        break;
    }
    case C_DEL_CHILDREN:
        if (rc == RP_ZK_OK) {
            rp_strmap_clear(&cl->deleting);
            for (size_t i = 0; i < res->n_children; i++) rp_strmap_put(&cl->deleting, res->children[i], 1);
            changed(cl);
        }
        break;
    }
    weir_free(op);
}

/* ---- the member's listener: the controller's, then ours --------------------------------- */

/* Start is over once this broker is registered and the cache holds the live
 * brokers with its own address (so Metadata names it from the first request). */
static void start_check(struct weir_cluster *cl)
{
    const struct rp_member *m = cl->m;
    bool self = false;
    for (uint32_t i = 0; i < m->brokers_n && !self; i++)
        self = m->brokers[i] == cl->cfg.broker_id && m->broker_addr[i].read;
    if (!m->registered || !m->brokers_known || !self) return;
    pthread_mutex_lock(&cl->wmu);
    if (cl->start == START_PENDING) cl->start = START_REGISTERED, pthread_cond_broadcast(&cl->wcv);
    pthread_mutex_unlock(&cl->wmu);
}

static void shutdown_create(struct weir_cluster *cl);

static void l_session(void *ctx, struct rp_zk *zk)
{
    struct weir_cluster *cl = ctx;
    cl->ctlr_l->on_session(cl->ctlr_ctx, zk);
    if (zk != cl->zk_seen || !zk) {
        cl->gen++;
        cl->zk_seen = zk;
        cl->ctl_armed = cl->del_armed = false;
    }
    if (zk) {
        ctl_read(cl);
        del_read(cl);
        if (cl->shutting) shutdown_create(cl);
    }
    start_check(cl);
    notify(cl);
}

static void l_change(void *ctx)
{
    struct weir_cluster *cl = ctx;
    cl->ctlr_l->on_change(cl->ctlr_ctx);
    start_check(cl);
    changed(cl);
}

static const struct rp_member_listener chain = { l_session, l_change };

/* ---- sessions ------------------------------------------------------------------------ */

static void session_tramp(void *ctx, enum rp_zk_session_event ev)
{
    struct weir_cluster *cl = ctx;
    if (cl->sess_cb) cl->sess_cb(cl->sess_ctx, ev);
}

/* member.c's open: the first session is the one start opened (and so checked). */
static struct rp_zk *session_open(void *ctx, rp_zk_session_fn *cb, void *cb_ctx)
{
    struct weir_cluster *cl = ctx;
    cl->sess_cb = cb;
    cl->sess_ctx = cb_ctx;
    struct rp_zk *zk = cl->pre;
    cl->pre = NULL;
    if (zk) return zk;
    enum weir_err e = rp_zk_open(cl->connect, cl->cfg.session_timeout_ms, session_tramp, cl, &zk);
    if (e != WEIR_OK) weir_panic("replication: reopening the ZooKeeper session failed: %s", weir_err_text(e));
    return zk;
}

struct ensure_wait {
    bool done;
    enum rp_zk_rc rc;
};

static void ensure_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    (void)res;
    struct ensure_wait *w = ctx;
    w->done = true;
    w->rc = rc;
}

static void no_session_cb(void *ctx, enum rp_zk_session_event ev) { (void)ctx, (void)ev; }

/* The chroot of "h:p/chroot", over a session without it (docs/replication.md). */
static enum weir_err chroot_ensure(const char *hosts, const char *chroot, int32_t session_ms, int64_t deadline_ms,
                                   char *why, size_t why_cap)
{
    if (!rp_zk_path_valid(chroot)) {
        snprintf(why, why_cap, "zookeeper.connect: the chroot \"%s\" is not a valid ZooKeeper path", chroot);
        return WEIR_E_BAD_CONFIG;
    }
    struct rp_zk *zk;
    enum weir_err e = rp_zk_open(hosts, session_ms, no_session_cb, NULL, &zk);
    if (e != WEIR_OK) {
        snprintf(why, why_cap, "zookeeper.connect \"%s\" refused: %s", hosts, weir_err_text(e));
        return e;
    }
    struct ensure_wait w = { 0 };
    rp_zk_ensure_path(zk, chroot, ensure_done, &w);
    while (!w.done) {
        int64_t left = deadline_ms - mono_ms();
        if (left <= 0) break;
        struct pollfd pfd = { .fd = rp_zk_fd(zk), .events = POLLIN };
        poll(&pfd, 1, (int)WEIR_MIN(left, 1000));
        rp_zk_dispatch(zk);
    }
    rp_zk_close(zk); /* completes the ensure with CLOSED if it is still out */
    if (w.rc == RP_ZK_OK) return WEIR_OK;
    if (w.rc == RP_ZK_CLOSED) {
        snprintf(why, why_cap, "no ZooKeeper session at %s in time to create the chroot %s "
                 "(zookeeper.connection.timeout.ms)", hosts, chroot);
        return WEIR_E_TIMEOUT;
    }
    snprintf(why, why_cap, "creating the chroot %s on ZooKeeper %s failed: %s", chroot, hosts, rp_zk_rc_str(w.rc));
    return WEIR_E_IO;
}

/* ---- requests ------------------------------------------------------------------------- */

static struct create_args *create_args_new(const char *const *keys, const char *const *values, uint32_t n)
{
    struct create_args *ca = rp_zk_xmalloc(sizeof *ca);
    ca->n = n;
    ca->keys = rp_zk_xmalloc((n + 1) * sizeof *ca->keys);
    ca->values = rp_zk_xmalloc((n + 1) * sizeof *ca->values);
    for (uint32_t i = 0; i < n; i++) ca->keys[i] = rp_zk_xstrdup(keys[i]), ca->values[i] = rp_zk_xstrdup(values[i]);
    return ca;
}

static void create_args_free(struct create_args *ca)
{
    if (!ca) return;
    for (uint32_t i = 0; i < ca->n; i++) weir_free(ca->keys[i]), weir_free(ca->values[i]);
    weir_free(ca->keys);
    weir_free(ca->values);
    weir_free(ca);
}

static void req_free(struct req *r)
{
    create_args_free(r->ca);
    weir_free(r->config);
    weir_free(r->assign);
    weir_free(r->manual);
    weir_free(r);
}

/* The answer of a request; frees it. */
static void req_finish(struct req *r, enum weir_err err, int32_t version, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void req_finish(struct req *r, enum weir_err err, int32_t version, const char *fmt, ...)
{
    char why[768] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
    }
    if (err != WEIR_OK && !why[0]) snprintf(why, sizeof why, "%s", weir_err_text(err));
    switch (r->kind) {
    case REQ_ISR:
        if (r->isr_done) r->isr_done(r->ctx, err, version);
        break;
    case REQ_SHUTDOWN:
        if (err != WEIR_OK && err != WEIR_E_EXISTS)
            weir_log(WEIR_LOG_WARN, "replication: broker %d: the controlled shutdown request failed: %s", r->cl->cfg.broker_id, why);
        break;
    default:
        if (r->done) r->done(r->ctx, err, err == WEIR_OK ? "" : why);
        break;
    }
    req_free(r);
}

static void req_zk_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res) { req_next(ctx, rc, res); }

static uint32_t rnd(struct weir_cluster *cl, uint32_t n) { return n ? (uint32_t)(weir_xorshift(&cl->rng) % n) : 0; }

/* Kafka's Uuid as text (Uuid.randomUuid): from getrandom, else the cluster's rng. */
static void topic_id_new(struct weir_cluster *cl, char out[RP_TOPIC_ID_MAX])
{
    struct weir_uuid u;
    if (weir_uuid_random(&u) != WEIR_OK) {
        for (int i = 0; i < 16; i += 8) {
            uint64_t v = weir_xorshift(&cl->rng);
            memcpy(u.b + i, &v, 8);
        }
        u.b[0] &= 0x7f; /* text never starts with '-' */
    }
    _Static_assert((int)RP_TOPIC_ID_MAX >= (int)WEIR_UUID_TEXT_CAP, "topic id text");
    weir_uuid_text(&u, out);
}

static void path_of(char *buf, const char *fmt, const char *topic) { snprintf(buf, PATH_LEN, fmt, topic); }

static void create_multi(struct req *r, bool set_config)
{
    char cpath[PATH_LEN], tpath[PATH_LEN];
    path_of(cpath, "/config/topics/%s", r->topic);
    path_of(tpath, "/brokers/topics/%s", r->topic);
    struct rp_zk_op ops[2] = {
        set_config ? (struct rp_zk_op){ .type = RP_ZK_OP_SET, .path = cpath, .data = r->config, .len = r->config_len,
                                        .version = -1 }
                   : (struct rp_zk_op){ .type = RP_ZK_OP_CREATE, .path = cpath, .data = r->config,
                                        .len = r->config_len },
        { .type = RP_ZK_OP_CREATE, .path = tpath, .data = r->assign, .len = r->assign_len },
    };
    rp_zk_multi(r->cl->m->zk, ops, 2, req_zk_done, r);
}

/* The config znode of keys[i]=values[i] into r->config; false: finished with the error. */
static bool config_encode(struct req *r, const char *const *keys, const char *const *values, uint32_t n)
{
    struct rp_config_entry *ents = rp_zk_xmalloc((n + 1) * sizeof *ents);
    size_t cap = 64;
    for (uint32_t i = 0; i < n; i++) {
        ents[i] = (struct rp_config_entry){ keys[i], values[i] };
        cap += 6 * (strlen(keys[i]) + strlen(values[i])) + 8; /* \uXXXX escapes at worst */
    }
    struct rp_topic_config tc = { .n = n, .entries = ents };
    r->config = rp_zk_xmalloc(cap);
    enum weir_err e = rp_topic_config_encode(&tc, r->config, cap, &r->config_len);
    weir_free(ents);
    if (e != WEIR_OK) req_finish(r, e, 0, "encoding the topic's configs failed: %s", weir_err_text(e));
    return e == WEIR_OK;
}

/* AdminZkClient.changeTopicConfig: the topic must exist; then its config
 * znode is replaced (created when the topic has none). */
static void config_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    (void)res;
    char path[PATH_LEN];
    path_of(path, "/config/topics/%s", r->topic);
    switch (r->step++) {
    case 0: /* the topic znode */
        if (rc == RP_ZK_NONODE) return req_finish(r, WEIR_E_NOT_FOUND, 0, "Topic '%s' does not exist.", r->topic);
        if (rc != RP_ZK_OK) break;
        return rp_zk_set(r->cl->m->zk, path, r->config, r->config_len, -1, req_zk_done, r);
    case 1:
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        if (rc != RP_ZK_NONODE) break;
        return rp_zk_create(r->cl->m->zk, path, r->config, r->config_len, 0, req_zk_done, r);
    case 2:
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        break;
    }
    req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc));
}

/* AdminZkClient.changeBrokerConfig: /config/brokers/<entity> replaced, or
 * created. Every broker's watch on it applies it (member.c). */
static void bconfig_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    (void)res;
    char path[PATH_LEN];
    path_of(path, "/config/brokers/%s", r->topic);
    switch (r->step++) {
    case 0: /* the set */
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        if (rc != RP_ZK_NONODE) break;
        return rp_zk_create(r->cl->m->zk, path, r->config, r->config_len, 0, req_zk_done, r);
    case 1: /* the create */
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        if (rc != RP_ZK_NODEEXISTS) break;
        return rp_zk_set(r->cl->m->zk, path, r->config, r->config_len, -1, req_zk_done, r); /* another's create won */
    case 2:
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        break;
    }
    req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc));
}

/* AdminZkClient.createTopic: the assignment (rack-unaware, random start; or
 * the client's, createTopicWithAssignment) and the config znode, then the
 * topic znode (here one multi: a topic that exists keeps its config). */
static void create_start(struct req *r, const char *const *keys, const char *const *values, uint32_t n)
{
    struct weir_cluster *cl = r->cl;
    struct rp_member *m = cl->m;
    const char *bad = weir_kafka_name_problem(r->topic);
    if (bad) return req_finish(r, WEIR_E_BAD_NAME, 0, "Invalid topic name \"%s\": %s", r->topic, bad);
    if (r->count <= 0 || (uint32_t)r->count > RP_PARTITIONS_MAX)
        return req_finish(r, WEIR_E_BAD_PARTITIONS, 0, "Number of partitions must be larger than 0.");
    if (r->rf <= 0) return req_finish(r, WEIR_E_INVALID, 0, "Replication factor must be larger than 0.");
    if ((uint32_t)r->rf > m->brokers_n && !r->manual)
        return req_finish(r, WEIR_E_INVALID, 0, "Replication factor: %d larger than available brokers: %u.", r->rf,
                          m->brokers_n);
    if (r->rf > WEIR_REPLICAS_MAX)
        return req_finish(r, WEIR_E_INVALID, 0, "Replication factor: %d above %d.", r->rf, WEIR_REPLICAS_MAX);
    size_t cells = (size_t)r->count * (size_t)r->rf;
    int32_t *ids = rp_zk_xmalloc(cells * sizeof *ids);
    uint32_t start = rnd(cl, m->brokers_n), shift = rnd(cl, m->brokers_n);
    enum weir_err e = WEIR_OK;
    if (r->manual) memcpy(ids, r->manual, cells * sizeof *ids);
    else e = rp_assign_rack_unaware((uint32_t)r->count, (uint32_t)r->rf, m->brokers, m->brokers_n, start, shift, 0, ids);
    if (e != WEIR_OK) {
        weir_free(ids);
        return req_finish(r, e, 0, "replica assignment failed: %s", weir_err_text(e));
    }
    struct rp_part_assign *parts = rp_zk_xmalloc((size_t)r->count * sizeof *parts);
    for (int32_t p = 0; p < r->count; p++)
        parts[p] = (struct rp_part_assign){ .replicas = ids + (size_t)p * r->rf, .replicas_n = (uint32_t)r->rf };
    struct rp_topic_assign ta = { .version = 3, .partitions_n = (uint32_t)r->count, .parts = parts };
    topic_id_new(cl, ta.topic_id);
    size_t cap = 256 + cells * 12 + (size_t)r->count * 64;
    r->assign = rp_zk_xmalloc(cap);
    e = rp_topic_assign_encode(&ta, r->assign, cap, &r->assign_len);
    weir_free(parts);
    weir_free(ids);
    if (e != WEIR_OK) return req_finish(r, e, 0, "encoding the topic znode failed: %s", weir_err_text(e));
    if (!config_encode(r, keys, values, n)) return;
    char path[PATH_LEN];
    path_of(path, "/admin/delete_topics/%s", r->topic);
    rp_zk_exists(m->zk, path, NULL, NULL, req_zk_done, r);
}

static void create_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    switch (r->step++) {
    case 0: /* the deletion marker */
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_E_EXISTS, 0, "Topic '%s' is marked for deletion.", r->topic);
        if (rc != RP_ZK_NONODE) break;
        return create_multi(r, false);
    case 1:
    case 2:
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        if (rc == RP_ZK_NODEEXISTS && res->failed_op == 1)
            return req_finish(r, WEIR_E_EXISTS, 0, "Topic '%s' already exists.", r->topic);
        if (rc == RP_ZK_NODEEXISTS && res->failed_op == 0 && r->step == 2) return create_multi(r, true);
        break;
    }
    req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc));
}

/* AdminZkClient.deleteTopic: a deletion request for the controller. */
static void delete_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    (void)res;
    char path[PATH_LEN];
    switch (r->step++) {
    case 0:
        if (rc == RP_ZK_NONODE) return req_finish(r, WEIR_E_NOT_FOUND, 0, "Topic '%s' does not exist.", r->topic);
        if (rc != RP_ZK_OK) break;
        path_of(path, "/admin/delete_topics/%s", r->topic);
        return rp_zk_create(r->cl->m->zk, path, NULL, 0, 0, req_zk_done, r);
    case 1: /* already marked: the deletion is on its way (ZkAdminManager swallows it too) */
        if (rc == RP_ZK_OK || rc == RP_ZK_NODEEXISTS) return req_finish(r, WEIR_OK, 0, NULL);
        break;
    }
    req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc));
}

/* AdminZkClient.createNewPartitionsAssignment's checks of a client's
 * assignment against the topic as read: one per new partition, each of
 * partition 0's replica count. why: Kafka's words. */
static bool add_manual_fits(const struct req *r, uint32_t have, uint32_t rf, char *why, size_t why_cap)
{
    int32_t add = r->count - (int32_t)have;
    if (r->manual_parts != add) {
        snprintf(why, why_cap, "Increasing the number of partitions by %d but %d assignments provided.", add,
                 r->manual_parts);
        return false;
    }
    if ((uint32_t)r->rf != rf) {
        snprintf(why, why_cap, "Inconsistent replication factor between partitions, partition 0 has %u while "
                 "partitions [%u..%d] have replication factor %d.", rf, have, r->count - 1, r->rf);
        return false;
    }
    return true;
}

/* AdminZkClient.addPartitions: new partitions assigned from the broker at
 * or after the first replica of partition 0 (or as the client gave them),
 * written conditionally. */
static void add_assigned(struct req *r, const struct rp_zk_result *res)
{
    struct rp_member *m = r->cl->m;
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 4096, 256u << 20) != WEIR_OK) weir_panic("cluster: out of memory");
    struct rp_topic_assign ta;
    char why[256];
    if (rp_topic_assign_decode(res->data, res->len, &a, &ta, why, sizeof why) != WEIR_OK) {
        weir_arena_destroy(&a);
        return req_finish(r, WEIR_E_CORRUPT, 0, "/brokers/topics/%s unreadable: %s", r->topic, why);
    }
    uint32_t have = ta.partitions_n;
    if (r->count <= 0 || (uint32_t)r->count <= have || (uint32_t)r->count > RP_PARTITIONS_MAX || have == 0) {
        weir_arena_destroy(&a);
        if ((uint32_t)r->count == have) return req_finish(r, WEIR_E_BAD_PARTITIONS, 0, "Topic already has %u partitions.", have);
        return req_finish(r, WEIR_E_BAD_PARTITIONS, 0,
                          "Topic currently has %u partitions, which is higher than the requested %d.", have, r->count);
    }
    uint32_t rf = ta.parts[0].replicas_n, add = (uint32_t)r->count - have;
    if (r->manual && !add_manual_fits(r, have, rf, why, sizeof why)) {
        weir_arena_destroy(&a);
        return req_finish(r, WEIR_E_INVALID, 0, "%s", why);
    }
    if (rf == 0 || (rf > m->brokers_n && !r->manual)) {
        weir_arena_destroy(&a);
        return req_finish(r, WEIR_E_INVALID, 0, "Replication factor: %u larger than available brokers: %u.", rf,
                          m->brokers_n);
    }
    uint32_t start = 0;
    while (start < m->brokers_n && m->brokers[start] < ta.parts[0].replicas[0]) start++;
    if (start == m->brokers_n) start = 0;
    int32_t *ids = rp_zk_xmalloc((size_t)add * rf * sizeof *ids);
    enum weir_err e = WEIR_OK;
    if (r->manual) memcpy(ids, r->manual, (size_t)add * rf * sizeof *ids);
    else e = rp_assign_rack_unaware(add, rf, m->brokers, m->brokers_n, start, start, have, ids);
    struct rp_part_assign *parts = rp_zk_xmalloc((size_t)r->count * sizeof *parts);
    memcpy(parts, ta.parts, have * sizeof *parts);
    for (uint32_t k = 0; k < add; k++)
        parts[have + k] = (struct rp_part_assign){ .replicas = ids + (size_t)k * rf, .replicas_n = rf };
    ta.parts = parts;
    ta.partitions_n = (uint32_t)r->count;
    size_t cap = res->len + 256 + (size_t)add * (rf * 12 + 64), len = 0;
    char *buf = rp_zk_xmalloc(cap);
    if (e == WEIR_OK) e = rp_topic_assign_encode(&ta, buf, cap, &len);
    weir_free(parts);
    weir_free(ids);
    weir_arena_destroy(&a);
    if (e != WEIR_OK) {
        weir_free(buf);
        return req_finish(r, e, 0, "assigning the new partitions failed: %s", weir_err_text(e));
    }
    char path[PATH_LEN];
    path_of(path, "/brokers/topics/%s", r->topic);
    rp_zk_set(m->zk, path, buf, len, res->stat.version, req_zk_done, r);
    weir_free(buf);
}

static void add_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    char path[PATH_LEN];
    switch (r->step++) {
    case 0:
        if (rc == RP_ZK_NONODE) return req_finish(r, WEIR_E_NOT_FOUND, 0, "Topic '%s' does not exist.", r->topic);
        if (rc != RP_ZK_OK) break;
        return add_assigned(r, res);
    case 1:
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, 0, NULL);
        if (rc == RP_ZK_BADVERSION && ++r->tries < ADD_TRIES) { /* changed meanwhile: again */
            r->step = 0;
            path_of(path, "/brokers/topics/%s", r->topic);
            return rp_zk_get(r->cl->m->zk, path, NULL, NULL, req_zk_done, r);
        }
        break;
    }
    req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc));
}

/* The leader's ISR change: {leader: me, leader_epoch, isr} with the
 * controller epoch as read, conditional on the version the leader read. */
static void isr_set(struct req *r)
{
    char data[1024], path[PATH_LEN];
    size_t len;
    WEIR_ASSERT(rp_pstate_encode(&r->st, data, sizeof data, &len) == WEIR_OK);
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", r->topic, r->partition);
    r->step = 0;
    rp_zk_set(r->cl->m->zk, path, data, len, r->zk_version, req_zk_done, r);
}

static void isr_start(struct req *r)
{
    struct weir_cluster *cl = r->cl;
    const struct rp_mpart *p = part_find(cl, r->topic, r->partition);
    if (!p || p->known != RP_PRESENT) return req_finish(r, WEIR_E_NOT_FOUND, -1, NULL);
    if (r->isr_n == 0 || r->isr_n > RP_REPLICAS_MAX) return req_finish(r, WEIR_E_INVALID, -1, NULL);
    r->st = (struct rp_pstate){ .leader = cl->cfg.broker_id, .leader_epoch = r->leader_epoch,
                                .controller_epoch = p->st.controller_epoch, .isr_n = r->isr_n };
    memcpy(r->st.isr, r->isr, sizeof r->st.isr[0] * r->isr_n);
    isr_set(r);
}

/* A lost answer is told apart from a lost race as Kafka does
 * (ReplicationUtils.checkLeaderAndIsrZkData): after BADVERSION the znode is
 * read, and holding what was written it is a success at its version. A
 * CONNECTIONLOSS is retried (the C client sends it on reconnecting). */
static void isr_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    char path[PATH_LEN];
    if (r->step == 0) {
        if (rc == RP_ZK_OK) return req_finish(r, WEIR_OK, res->stat.version, NULL);
        if (rc == RP_ZK_CONNECTIONLOSS && ++r->tries < ADD_TRIES) return isr_set(r);
        if (rc != RP_ZK_BADVERSION) return req_finish(r, err_of(rc) == WEIR_OK ? WEIR_E_IO : err_of(rc), -1, NULL);
        r->step = 1;
        snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%d/state", r->topic, r->partition);
        return rp_zk_get(r->cl->m->zk, path, NULL, NULL, req_zk_done, r);
    }
    struct rp_pstate now;
    char why[128];
    if (rc != RP_ZK_OK) return req_finish(r, rc == RP_ZK_NONODE ? WEIR_E_STALE : err_of(rc), -1, NULL);
    if (rp_pstate_decode(res->data, res->len, &now, why, sizeof why) == WEIR_OK && now.leader == r->st.leader &&
        now.leader_epoch == r->st.leader_epoch && now.controller_epoch == r->st.controller_epoch &&
        now.isr_n == r->st.isr_n && memcmp(now.isr, r->st.isr, sizeof now.isr[0] * now.isr_n) == 0)
        return req_finish(r, WEIR_OK, res->stat.version, NULL);
    req_finish(r, WEIR_E_STALE, -1, NULL);
}

static void req_next(struct req *r, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    switch (r->kind) {
    case REQ_CREATE: create_next(r, rc, res); break;
    case REQ_DELETE: delete_next(r, rc, res); break;
    case REQ_ADD: add_next(r, rc, res); break;
    case REQ_ISR: isr_next(r, rc, res); break;
    case REQ_CONFIG: config_next(r, rc, res); break;
    case REQ_BCONFIG: bconfig_next(r, rc, res); break;
    case REQ_SHUTDOWN: req_finish(r, err_of(rc), 0, "ZooKeeper: %s", rp_zk_rc_str(rc)); break;
    }
}

static void req_start(struct req *r)
{
    struct weir_cluster *cl = r->cl;
    struct rp_member *m = cl->m;
    if (r->kind == REQ_SHUTDOWN) cl->shutting = true; /* made on the next session if not on this one */
    if (!m->zk || !m->registered) return req_finish(r, WEIR_E_UNAVAILABLE, -1, "no ZooKeeper session now");
    char path[PATH_LEN];
    struct create_args *ca = r->ca;
    switch (r->kind) {
    case REQ_CREATE:
        r->ca = NULL;
        create_start(r, (const char *const *)ca->keys, (const char *const *)ca->values, ca->n);
        create_args_free(ca);
        break;
    case REQ_DELETE:
        path_of(path, "/brokers/topics/%s", r->topic);
        rp_zk_exists(m->zk, path, NULL, NULL, req_zk_done, r);
        break;
    case REQ_ADD:
        path_of(path, "/brokers/topics/%s", r->topic);
        rp_zk_get(m->zk, path, NULL, NULL, req_zk_done, r);
        break;
    case REQ_ISR: isr_start(r); break;
    case REQ_CONFIG:
        r->ca = NULL;
        if (config_encode(r, (const char *const *)ca->keys, (const char *const *)ca->values, ca->n)) {
            path_of(path, "/brokers/topics/%s", r->topic);
            rp_zk_exists(m->zk, path, NULL, NULL, req_zk_done, r);
        }
        create_args_free(ca);
        break;
    case REQ_BCONFIG:
        r->ca = NULL;
        if (config_encode(r, (const char *const *)ca->keys, (const char *const *)ca->values, ca->n)) {
            path_of(path, "/config/brokers/%s", r->topic);
            rp_zk_set(m->zk, path, r->config, r->config_len, -1, req_zk_done, r);
        }
        create_args_free(ca);
        break;
    case REQ_SHUTDOWN:
        snprintf(path, sizeof path, "/weir/shutdown/%d", cl->cfg.broker_id);
        rp_zk_create(m->zk, path, NULL, 0, RP_ZK_EPHEMERAL, req_zk_done, r);
        break;
    }
}

/* The ephemeral shutdown request again, on a new session (the old one's went with it). */
static void shutdown_create(struct weir_cluster *cl)
{
    struct req *r = rp_zk_xmalloc(sizeof *r);
    *r = (struct req){ .kind = REQ_SHUTDOWN, .cl = cl };
    req_start(r);
}

/* Queues r for the cluster thread (or answers it at once when stopping). */
static void submit(struct weir_cluster *cl, struct req *r)
{
    r->cl = cl;
    pthread_mutex_lock(&cl->qmu);
    bool stopping = cl->stopping;
    if (!stopping) {
        *cl->qtail = r;
        cl->qtail = &r->next;
    }
    pthread_mutex_unlock(&cl->qmu);
    if (!stopping) {
        wake(cl);
        return;
    }
    /* racing weir_cluster_stop: no callback may run once it returns */
    weir_log(WEIR_LOG_WARN, "replication: a request while the cluster stops was dropped");
    req_free(r);
}

static struct req *req_new(enum req_kind kind, const char *topic)
{
    struct req *r = rp_zk_xmalloc(sizeof *r);
    *r = (struct req){ .kind = kind };
    if (topic) snprintf(r->topic, sizeof r->topic, "%s", topic);
    return r;
}

/* ---- the thread ---------------------------------------------------------------------- */

static struct req *queue_take(struct weir_cluster *cl)
{
    pthread_mutex_lock(&cl->qmu);
    struct req *q = cl->q;
    cl->q = NULL;
    cl->qtail = &cl->q;
    pthread_mutex_unlock(&cl->qmu);
    return q;
}

static void *run(void *arg)
{
    struct weir_cluster *cl = arg;
    int64_t next_rebalance = mono_ms() + WEIR_MAX(cl->cfg.rebalance_check_ms, 1);
    lock(cl);
    for (;;) {
        pthread_mutex_lock(&cl->qmu);
        bool stopping = cl->stopping;
        pthread_mutex_unlock(&cl->qmu);
        if (stopping) break;
        int ran = 0;
        for (struct req *r = queue_take(cl), *next; r; r = next) {
            next = r->next;
            req_start(r);
            ran++;
        }
        ran += rp_member_dispatch(cl->m);
        if (rp_member_failure(cl->m)) {
            pthread_mutex_lock(&cl->wmu);
            if (cl->start == START_PENDING) cl->start = START_REFUSED, pthread_cond_broadcast(&cl->wcv);
            pthread_mutex_unlock(&cl->wmu);
        }
        int64_t now = mono_ms(), wait = 1000;
        if (cl->cfg.auto_rebalance && cl->cfg.rebalance_check_ms > 0) {
            if (now >= next_rebalance) {
                rp_ctlr_rebalance(&cl->ctlr, cl->cfg.imbalance_pct);
                next_rebalance = now + cl->cfg.rebalance_check_ms;
            }
            wait = WEIR_MIN(wait, next_rebalance - now);
        }
        struct pollfd pfd[2] = { { .fd = cl->efd, .events = POLLIN },
                                 { .fd = cl->m->zk ? rp_zk_fd(cl->m->zk) : -1, .events = POLLIN } };
        unlock(cl);
        poll(pfd, 2, ran > 0 || cl->m->reopen ? 0 : (int)WEIR_MAX(wait, 1));
        if (pfd[0].revents & POLLIN) {
            uint64_t v;
            if (read(cl->efd, &v, sizeof v) < 0 && errno != EAGAIN) weir_panic("cluster: eventfd read: %s", strerror(errno));
        }
        lock(cl);
    }
    /* Stopping: requests still queued are answered, then the session closes
     * (its ops complete CLOSED: UNAVAILABLE), all on this thread. */
    for (struct req *r = queue_take(cl), *next; r; r = next) {
        next = r->next;
        req_finish(r, WEIR_E_UNAVAILABLE, -1, "the broker is stopping");
    }
    rp_member_free(cl->m);
    cl->m = NULL;
    rp_ctlr_fini(&cl->ctlr);
    unlock(cl);
    return NULL;
}

/* ---- the interface ---------------------------------------------------------------------- */

static void cluster_free(struct weir_cluster *cl)
{
    if (cl->pre) rp_zk_close(cl->pre);
    rp_strmap_clear(&cl->deleting);
    if (cl->efd >= 0) close(cl->efd);
    pthread_mutex_destroy(&cl->mu);
    pthread_mutex_destroy(&cl->qmu);
    pthread_mutex_destroy(&cl->wmu);
    pthread_cond_destroy(&cl->wcv);
    weir_free(cl->connect);
    weir_free(cl);
}

enum weir_err weir_cluster_start(const struct weir_cluster_config *cfg, const struct weir_cluster_ops *ops,
                                 void *ctx, struct weir_cluster **out, char *why, size_t why_cap)
{
    *out = NULL;
    if (why_cap) why[0] = '\0';
    if (!cfg->zk_connect[0] || cfg->zk_connect[0] == '/') {
        snprintf(why, why_cap, "zookeeper.connect \"%s\" names no server", cfg->zk_connect);
        return WEIR_E_BAD_CONFIG;
    }
    struct weir_cluster *cl = weir_malloc(sizeof *cl);
    if (!cl) return WEIR_E_NOMEM;
    *cl = (struct weir_cluster){ .cfg = *cfg, .ops = ops ? *ops : (struct weir_cluster_ops){ 0 }, .ctx = ctx,
                                 .efd = -1, .controller = -1, .start = START_PENDING };
    cl->qtail = &cl->q;
    if (cl->cfg.session_timeout_ms <= 0) cl->cfg.session_timeout_ms = 18000;
    if (cl->cfg.connect_timeout_ms <= 0) cl->cfg.connect_timeout_ms = cl->cfg.session_timeout_ms;
    if (cl->cfg.imbalance_pct < 0) cl->cfg.imbalance_pct = 10;
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&cl->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_mutex_init(&cl->qmu, NULL);
    pthread_mutex_init(&cl->wmu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cl->wcv, &ca);
    pthread_condattr_destroy(&ca);
    if (getrandom(&cl->rng, sizeof cl->rng, 0) != sizeof cl->rng) cl->rng = (uint64_t)weir_clock_ns();
    cl->rng |= 1;
    cl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cl->connect = weir_strdup(cfg->zk_connect);
    if (cl->efd < 0 || !cl->connect) {
        cluster_free(cl);
        return WEIR_E_NOMEM;
    }
    int64_t deadline = mono_ms() + cl->cfg.connect_timeout_ms;
    char *slash = strchr(cl->connect, '/');
    if (slash && slash[1] == '\0') *slash = '\0'; /* "h:p/": no chroot */
    else if (slash) {
        char root[sizeof cfg->zk_connect];
        snprintf(root, sizeof root, "%s", slash);
        *slash = '\0';
        enum weir_err e = chroot_ensure(cl->connect, root, cl->cfg.session_timeout_ms, deadline, why, why_cap);
        *slash = '/';
        if (e != WEIR_OK) {
            cluster_free(cl);
            return e;
        }
    }
    enum weir_err e = rp_zk_open(cl->connect, cl->cfg.session_timeout_ms, session_tramp, cl, &cl->pre);
    if (e != WEIR_OK) {
        snprintf(why, why_cap, "zookeeper.connect \"%s\" refused: %s", cl->connect, weir_err_text(e));
        cl->pre = NULL;
        cluster_free(cl);
        return e;
    }
    struct rp_endpoint eps[RP_ENDPOINTS_MAX];
    _Static_assert((int)WEIR_REPL_ENDPOINTS_MAX <= (int)RP_ENDPOINTS_MAX, "");
    for (uint32_t i = 0; i < cfg->endpoints_n && i < WEIR_REPL_ENDPOINTS_MAX; i++) {
        eps[i] = (struct rp_endpoint){ .port = cfg->endpoints[i].port };
        snprintf(eps[i].listener, sizeof eps[i].listener, "%s", cfg->endpoints[i].listener);
        snprintf(eps[i].protocol, sizeof eps[i].protocol, "PLAINTEXT");
        snprintf(eps[i].host, sizeof eps[i].host, "%s", cfg->endpoints[i].host);
    }
    struct rp_member_cfg mc = { .id = cfg->broker_id, .host = cfg->host, .port = cfg->port,
                                .endpoints = eps, .endpoints_n = WEIR_MIN(cfg->endpoints_n, WEIR_REPL_ENDPOINTS_MAX),
                                .timestamp_ms = weir_time_ms(), .open = session_open, .open_ctx = cl,
                                .on_role = role_cb, .on_config = config_cb, .on_bconfig = bconfig_cb, .role_ctx = cl, .cluster_id_want = cfg->cluster_id };
    cl->m = rp_member_new(&mc);
    rp_ctlr_init(&cl->ctlr, cl->m, cfg->unclean_election);
    cl->ctlr_l = cl->m->listener;
    cl->ctlr_ctx = cl->m->listener_ctx;
    rp_member_listen(cl->m, &chain, cl);
    /* Published before the thread runs: its first roles reach reactors that
     * ask the cluster about them (a NULL cluster there crashed a restart). */
    __atomic_store_n(out, cl, __ATOMIC_RELEASE);
    if (pthread_create(&cl->thread, NULL, run, cl) != 0) {
        __atomic_store_n(out, NULL, __ATOMIC_RELEASE);
        rp_member_free(cl->m);
        rp_ctlr_fini(&cl->ctlr);
        cluster_free(cl);
        return WEIR_E_NOMEM;
    }
    struct timespec ts;
    deadline_ts(&ts, WEIR_MAX(deadline - mono_ms(), 0));
    pthread_mutex_lock(&cl->wmu);
    while (cl->start == START_PENDING)
        if (pthread_cond_timedwait(&cl->wcv, &cl->wmu, &ts) == ETIMEDOUT) break;
    enum start_state st = cl->start;
    pthread_mutex_unlock(&cl->wmu);
    enum weir_err refused = WEIR_E_EXISTS;
    if (st == START_REGISTERED) {
        return WEIR_OK;
    }
    if (st == START_REFUSED) {
        lock(cl);
        snprintf(why, why_cap, "%s", rp_member_failure(cl->m));
        refused = cl->m->failure_err;
        unlock(cl);
    } else {
        snprintf(why, why_cap, "broker %d: not registered on ZooKeeper %s within %d ms (zookeeper.connection.timeout.ms)",
                 cfg->broker_id, cfg->zk_connect, cl->cfg.connect_timeout_ms);
    }
    __atomic_store_n(out, NULL, __ATOMIC_RELEASE);
    weir_cluster_stop(cl);
    return st == START_REFUSED ? refused : WEIR_E_TIMEOUT;
}

void weir_cluster_stop(struct weir_cluster *cl)
{
    if (!cl) return;
    WEIR_ASSERT(!on_thread(cl));
    pthread_mutex_lock(&cl->qmu);
    cl->stopping = true;
    pthread_mutex_unlock(&cl->qmu);
    wake(cl);
    pthread_join(cl->thread, NULL);
    cluster_free(cl);
}

int32_t weir_cluster_id_self(const struct weir_cluster *cl) { return cl->cfg.broker_id; }

void weir_cluster_id(struct weir_cluster *cl, char *buf, size_t cap)
{
    lock(cl);
    snprintf(buf, cap, "%s", cl->m->cluster_id);
    unlock(cl);
}

int32_t weir_cluster_controller(struct weir_cluster *cl)
{
    lock(cl);
    int32_t id = cl->controller;
    unlock(cl);
    return id;
}

/* false: its registration not read yet. Without the listener: host "", port -1. */
static bool addr_of(const struct rp_member *m, uint32_t i, const char *listener, struct weir_broker_addr *out)
{
    const struct rp_broker_addr *ba = &m->broker_addr[i];
    if (!ba->read) return false;
    *out = (struct weir_broker_addr){ .id = m->brokers[i], .port = -1 };
    for (uint32_t k = 0; k < ba->endpoints_n; k++)
        if (listener && strcmp(ba->endpoints[k].listener, listener) == 0) {
            snprintf(out->host, sizeof out->host, "%s", ba->endpoints[k].host);
            out->port = ba->endpoints[k].port;
            break;
        }
    return true;
}

size_t weir_cluster_brokers(struct weir_cluster *cl, const char *listener, struct weir_broker_addr *out, size_t cap)
{
    lock(cl);
    size_t n = 0;
    struct weir_broker_addr a;
    for (uint32_t i = 0; i < cl->m->brokers_n; i++) {
        if (!addr_of(cl->m, i, listener, &a)) continue; /* its registration not read yet */
        if (n < cap) out[n] = a;
        n++;
    }
    unlock(cl);
    return n;
}

bool weir_cluster_broker(struct weir_cluster *cl, int32_t id, const char *listener, struct weir_broker_addr *out)
{
    lock(cl);
    bool found = false;
    for (uint32_t i = 0; i < cl->m->brokers_n && !found; i++)
        if (cl->m->brokers[i] == id) found = addr_of(cl->m, i, listener, out) && out->port >= 0;
    unlock(cl);
    return found;
}

int32_t weir_cluster_topic_partitions(struct weir_cluster *cl, const char *topic)
{
    lock(cl);
    const struct rp_mtopic *t = rp_member_topic(cl->m, topic);
    int32_t n = t && t->assigned ? (int32_t)t->parts_n : -1;
    unlock(cl);
    return n;
}

bool weir_cluster_topic_id(struct weir_cluster *cl, const char *topic, struct weir_uuid *out)
{
    lock(cl);
    const struct rp_mtopic *t = rp_member_topic(cl->m, topic);
    *out = t && t->assigned ? t->topic_id : (struct weir_uuid){ { 0 } };
    unlock(cl);
    return !weir_uuid_is_zero(out);
}

int weir_cluster_topic_listed(struct weir_cluster *cl, const char *topic)
{
    lock(cl);
    int r = !cl->m->topics_listed ? -1 : rp_member_topic(cl->m, topic) != NULL;
    unlock(cl);
    return r;
}

enum weir_stray weir_cluster_stray(struct weir_cluster *cl, const char *topic, int32_t partition,
                                   const struct weir_uuid *local_id)
{
    lock(cl);
    enum weir_stray s = rp_strmap_get(&cl->deleting, topic, NULL) ? WEIR_STRAY_UNSURE
                                                                  : rp_member_stray(cl->m, topic, partition, local_id);
    unlock(cl);
    return s;
}

size_t weir_cluster_topics(struct weir_cluster *cl, char **out, size_t cap)
{
    lock(cl);
    size_t n = 0;
    for (uint32_t i = 0; i < cl->m->topics_n; i++) {
        const struct rp_mtopic *t = cl->m->topics[i];
        if (!t->assigned || rp_strmap_get(&cl->deleting, t->name, NULL)) continue;
        if (n < cap) {
            out[n] = weir_strdup(t->name);
            if (!out[n]) weir_panic("cluster: out of memory");
        }
        n++;
    }
    unlock(cl);
    return n;
}

bool weir_cluster_partition(struct weir_cluster *cl, const char *topic, int32_t partition,
                            struct weir_partition_info *out)
{
    lock(cl);
    const struct rp_mpart *p = part_find(cl, topic, partition);
    bool ok = p && p->known == RP_PRESENT;
    if (ok) info_of(p, out);
    unlock(cl);
    return ok;
}

/* A copy of a client's assignment into r (NULL: none). */
static void req_manual(struct req *r, const struct weir_assignment *asg)
{
    if (!asg) return;
    size_t cells = (size_t)WEIR_MAX(asg->parts, 0) * (size_t)WEIR_MAX(asg->rf, 0);
    r->manual = rp_zk_xmalloc((cells ? cells : 1) * sizeof *r->manual);
    if (cells) memcpy(r->manual, asg->ids, cells * sizeof *r->manual);
    r->manual_parts = asg->parts;
    r->rf = asg->rf;
}

void weir_cluster_topic_create(struct weir_cluster *cl, const char *topic, int32_t partitions, int16_t rf,
                               const struct weir_assignment *asg, const char *const *keys,
                               const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx)
{
    struct req *r = req_new(REQ_CREATE, topic);
    r->count = asg ? asg->parts : partitions;
    r->rf = rf;
    req_manual(r, asg);
    r->done = done;
    r->ctx = ctx;
    if (strlen(topic) > WEIR_KAFKA_NAME_MAX) r->topic[0] = '\0'; /* refused as a bad name */
    r->ca = create_args_new(keys, values, n);
    submit(cl, r);
}

void weir_cluster_topic_configure(struct weir_cluster *cl, const char *topic, const char *const *keys,
                                  const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx)
{
    struct req *r = req_new(REQ_CONFIG, topic);
    r->done = done;
    r->ctx = ctx;
    r->ca = create_args_new(keys, values, n);
    submit(cl, r);
}

void weir_cluster_broker_configure(struct weir_cluster *cl, const char *broker, const char *lines,
                                   weir_cluster_done_fn *done, void *ctx)
{
    struct req *r = req_new(REQ_BCONFIG, broker ? broker : "<default>");
    r->done = done;
    r->ctx = ctx;
    enum { LINES_MAX = 256 };
    char *copy = rp_zk_xstrdup(lines), *save = NULL;
    const char *keys[LINES_MAX], *values[LINES_MAX];
    uint32_t n = 0;
    for (char *line = strtok_r(copy, "\n", &save); line && n < LINES_MAX; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        keys[n] = line, values[n++] = eq + 1;
    }
    r->ca = create_args_new(keys, values, n);
    weir_free(copy);
    submit(cl, r);
}

enum weir_err weir_cluster_broker_configs(struct weir_cluster *cl, char *dflt, size_t dflt_cap, char *self,
                                          size_t self_cap)
{
    lock(cl);
    const char *d = cl->m->bconfig[0], *s = cl->m->bconfig[1];
    enum weir_err e = !d || !s ? WEIR_E_UNAVAILABLE : strlen(d) >= dflt_cap || strlen(s) >= self_cap ? WEIR_E_TOO_LARGE
                                                                                                     : WEIR_OK;
    if (e == WEIR_OK) {
        memcpy(dflt, d, strlen(d) + 1);
        memcpy(self, s, strlen(s) + 1);
    }
    unlock(cl);
    return e;
}

void weir_cluster_topic_delete(struct weir_cluster *cl, const char *topic, weir_cluster_done_fn *done, void *ctx)
{
    struct req *r = req_new(REQ_DELETE, topic);
    r->done = done;
    r->ctx = ctx;
    submit(cl, r);
}

void weir_cluster_partitions_add(struct weir_cluster *cl, const char *topic, int32_t total,
                                 const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx)
{
    struct req *r = req_new(REQ_ADD, topic);
    r->count = total;
    req_manual(r, asg);
    r->done = done;
    r->ctx = ctx;
    submit(cl, r);
}

/* From the cache (read with the topic znode, kept by a watch on the config
 * znode): never waits for ZooKeeper. */
enum weir_err weir_cluster_topic_configs(struct weir_cluster *cl, const char *topic, char *buf, size_t cap)
{
    lock(cl);
    const struct rp_mtopic *t = rp_member_topic(cl->m, topic);
    enum weir_err e = !t ? WEIR_E_NOT_FOUND : !t->config ? WEIR_E_UNAVAILABLE : WEIR_OK;
    if (e == WEIR_OK) {
        size_t n = strlen(t->config);
        if (n + 1 > cap) e = WEIR_E_TOO_LARGE;
        else memcpy(buf, t->config, n + 1);
    }
    unlock(cl);
    return e;
}

void weir_cluster_isr_write(struct weir_cluster *cl, const char *topic, int32_t partition, int32_t leader_epoch,
                            int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                            void *ctx)
{
    struct req *r = req_new(REQ_ISR, topic);
    r->partition = partition;
    r->leader_epoch = leader_epoch;
    r->zk_version = zk_version;
    r->isr_n = WEIR_MIN(isr_n, (uint32_t)WEIR_REPLICAS_MAX + 1); /* above the max: refused */
    memcpy(r->isr, isr, sizeof *isr * WEIR_MIN(isr_n, (uint32_t)WEIR_REPLICAS_MAX));
    r->isr_done = done;
    r->ctx = ctx;
    submit(cl, r);
}

/* Leads a partition that another live ISR member could take. */
static bool leads_movable(const struct weir_cluster *cl)
{
    const struct rp_member *m = cl->m;
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        const struct rp_mtopic *t = m->topics[ti];
        for (uint32_t i = 0; i < t->parts_n; i++) {
            const struct rp_mpart *p = &t->parts[i];
            if (p->known != RP_PRESENT || p->st.leader != cl->cfg.broker_id) continue;
            for (uint32_t k = 0; k < p->st.isr_n; k++)
                if (p->st.isr[k] != cl->cfg.broker_id && rp_member_broker_live(m, p->st.isr[k])) return true;
        }
    }
    return false;
}

enum weir_err weir_cluster_shutdown(struct weir_cluster *cl, int64_t timeout_ms)
{
    WEIR_ASSERT(!on_thread(cl));
    submit(cl, req_new(REQ_SHUTDOWN, NULL));
    int64_t deadline = mono_ms() + WEIR_MAX(timeout_ms, 0);
    for (;;) {
        pthread_mutex_lock(&cl->wmu);
        uint64_t seq = cl->seq;
        pthread_mutex_unlock(&cl->wmu);
        lock(cl);
        bool busy = leads_movable(cl);
        unlock(cl);
        if (!busy) return WEIR_OK;
        int64_t left = deadline - mono_ms();
        if (left <= 0) return WEIR_E_TIMEOUT;
        struct timespec ts;
        deadline_ts(&ts, WEIR_MIN(left, 100));
        pthread_mutex_lock(&cl->wmu);
        if (cl->seq == seq) pthread_cond_timedwait(&cl->wcv, &cl->wmu, &ts);
        pthread_mutex_unlock(&cl->wmu);
    }
}
