/* repl/zk.c: struct rp_zk over libzookeeper_mt.
 *
 * Threads: the C client runs an I/O thread and a completion thread; every
 * completion and watcher function below runs on the completion thread. They
 * copy what they report into a struct rp_zk_ev, queue it under `mu` and
 * signal the eventfd; rp_zk_dispatch runs the queue on the owner's thread.
 *
 * Ownership: a struct zop lives from submission until its completion is
 * queued (or until close, after zookeeper_close has joined the C client's
 * threads), because the C client writes a multi's results and created paths
 * into buffers the zop holds. A struct zwatch is the watcher context of one
 * registration; it is freed when the watch fires, when the op's answer shows
 * the C client did not register it, or at close. */
#include "zk_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

enum zop_kind { K_GET, K_CHILDREN, K_EXISTS, K_CREATE, K_SET, K_DELETE, K_MULTI };

struct zwatch {
    struct zwatch *prev, *next; /* zk_real.watches, under mu */
    struct zk_real *z;
    rp_zk_watch_fn *fn;
    void *ctx;
};

struct zop {
    struct zop *prev, *next; /* zk_real.inflight, under mu */
    struct zk_real *z;
    enum zop_kind kind;
    struct rp_zk_ev *ev;     /* the completion to queue */
    struct zwatch *w;        /* the watch this read asked for, or NULL */
    /* multi: what the C client fills in at completion */
    size_t n;
    enum rp_zk_op_type *types;
    zoo_op_result_t *results;
    char **path_bufs;        /* creates */
    struct Stat *stats;      /* sets */
};

struct zk_real {
    struct rp_zk zk;
    zhandle_t *zh;
    char *connect;
    int efd;
    pthread_mutex_t mu;
    /* under mu */
    struct rp_zk_evq ready;
    struct zop *inflight;
    struct zwatch *watches;
    enum rp_zk_session_event last_session; /* 0: none yet */
    int64_t connected_id;
    /* owner's thread */
    int64_t session_id;
    rp_zk_session_fn *session_cb;
    void *ctx;
    bool in_dispatch, closing;
};

static const struct rp_zk_vtable real_vt;

#ifdef WEIR_SANITIZE
/* libzookeeper_mt 3.8 leaks the answers its completion thread has not run when
 * zookeeper_close stops it (do_completion leaves on close_requested; destroy
 * only queues fake ZCLOSING answers for a thread that is gone). Our side of
 * such an op completes CLOSED and is freed here; their entries are theirs. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libzookeeper_mt.so\n"; }
#endif

static struct zk_real *real_of(struct rp_zk *zk)
{
    WEIR_ASSERT(zk->vt == &real_vt);
    return weir_container_of(zk, struct zk_real, zk);
}

static enum rp_zk_rc rc_of(int zrc)
{
    switch (zrc) {
    case ZOK: return RP_ZK_OK;
    case ZNONODE: return RP_ZK_NONODE;
    case ZNODEEXISTS: return RP_ZK_NODEEXISTS;
    case ZBADVERSION: return RP_ZK_BADVERSION;
    case ZNOTEMPTY: return RP_ZK_NOTEMPTY;
    case ZCONNECTIONLOSS: return RP_ZK_CONNECTIONLOSS;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE: return RP_ZK_SESSIONEXPIRED; /* the handle is expired (or auth failed) */
    case ZOPERATIONTIMEOUT: return RP_ZK_OPERATIONTIMEOUT;
    case ZCLOSING: return RP_ZK_CLOSED;
    default: return RP_ZK_OTHER;
    }
}

static struct rp_zk_stat stat_of(const struct Stat *st)
{
    if (!st) return (struct rp_zk_stat){ 0 };
    return (struct rp_zk_stat){ .czxid = st->czxid, .mzxid = st->mzxid, .pzxid = st->pzxid,
                                .ephemeral_owner = st->ephemeralOwner, .version = st->version,
                                .cversion = st->cversion, .data_len = st->dataLength,
                                .num_children = st->numChildren };
}

static void signal_ready(struct zk_real *z)
{
    uint64_t one = 1;
    if (write(z->efd, &one, sizeof one) != sizeof one && errno != EAGAIN)
        weir_panic("zookeeper: eventfd write: %s", strerror(errno));
}

/* ---- logging: the C client's warnings and errors into weir's log ------------------ */

/* A server that is down makes the C client log every connection attempt
 * (several lines a second): each source line ("ZOO_ERROR@check_events@2985")
 * is rate-limited (hashed into a few limiters). */
static struct weir_ratelimit log_limits[64];

static void log_line(const char *msg)
{
    /* "<time>:<pid>(<thread>):ZOO_WARN@<function>@<line>: text\n" */
    const char *p = strstr(msg, ":ZOO_");
    p = p ? p + 1 : msg;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) n--;
    uint32_t h = 2166136261u; /* FNV-1a of the source tag */
    for (const char *c = p; c < p + n && *c != ':'; c++) h = (h ^ (uint8_t)*c) * 16777619u;
    enum weir_log_level level = strncmp(p, "ZOO_ERROR", 9) == 0 ? WEIR_LOG_ERROR : WEIR_LOG_WARN;
    weir_log_ratelimited(&log_limits[h % WEIR_ARRAY_LEN(log_limits)], WEIR_LOG_REPEAT_MS, level, "zookeeper: %.*s",
                         (int)n, p);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void log_setup(void) { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); }

/* ---- the completion thread's side ----------------------------------------------- */

static void watch_unlink(struct zk_real *z, struct zwatch *w)
{
    if (w->prev) w->prev->next = w->next;
    else z->watches = w->next;
    if (w->next) w->next->prev = w->prev;
}

static void op_unlink(struct zk_real *z, struct zop *op)
{
    if (op->prev) op->prev->next = op->next;
    else z->inflight = op->next;
    if (op->next) op->next->prev = op->prev;
}

static void op_free(struct zop *op)
{
    for (size_t i = 0; op->path_bufs && i < op->n; i++) weir_free(op->path_bufs[i]);
    weir_free(op->path_bufs);
    weir_free(op->types);
    weir_free(op->results);
    weir_free(op->stats);
    weir_free(op);
}

/* Queues op's completion with rc (the result already in op->ev); frees op and,
 * unless the C client registered it, op's watch. */
static void op_finish(struct zop *op, int zrc)
{
    struct zk_real *z = op->z;
    bool watch_set = op->kind == K_EXISTS ? (zrc == ZOK || zrc == ZNONODE) : zrc == ZOK;
    pthread_mutex_lock(&z->mu);
    op_unlink(z, op);
    if (op->w && !watch_set) {
        watch_unlink(z, op->w);
        weir_free(op->w);
    }
    op->ev->rc = rc_of(zrc);
    rp_zk_evq_push(&z->ready, op->ev);
    pthread_mutex_unlock(&z->mu);
    op_free(op);
    signal_ready(z);
}

static void data_done(int zrc, const char *value, int value_len, const struct Stat *st, const void *data)
{
    struct zop *op = (struct zop *)data;
    if (zrc == ZOK) {
        rp_zk_ev_set_data(op->ev, value, value_len > 0 ? (size_t)value_len : 0);
        op->ev->res.stat = stat_of(st);
    }
    op_finish(op, zrc);
}

static void children_done(int zrc, const struct String_vector *names, const struct Stat *st, const void *data)
{
    struct zop *op = (struct zop *)data;
    if (zrc == ZOK) {
        rp_zk_ev_set_children(op->ev, (const char *const *)(names ? names->data : NULL),
                              names ? (size_t)names->count : 0);
        op->ev->res.stat = stat_of(st);
    }
    op_finish(op, zrc);
}

static void stat_done(int zrc, const struct Stat *st, const void *data)
{
    struct zop *op = (struct zop *)data;
    if (zrc == ZOK) op->ev->res.stat = stat_of(st);
    op_finish(op, zrc);
}

static void string_done(int zrc, const char *value, const void *data)
{
    struct zop *op = (struct zop *)data;
    if (zrc == ZOK && value) rp_zk_ev_set_path(op->ev, value);
    op_finish(op, zrc);
}

static void void_done(int zrc, const void *data) { op_finish((struct zop *)data, zrc); }

static void multi_done(int zrc, const void *data)
{
    struct zop *op = (struct zop *)data;
    struct rp_zk_ev *ev = op->ev;
    for (size_t i = 0; zrc == ZOK && i < op->n; i++)
        if (op->results[i].err != ZOK) zrc = op->results[i].err; /* in case the overall rc missed it */
    if (zrc == ZOK) {
        rp_zk_ev_set_ops(ev, op->n);
        for (size_t i = 0; i < op->n; i++) {
            struct rp_zk_stat st = stat_of(&op->stats[i]);
            rp_zk_ev_set_op(ev, i, RP_ZK_OK, op->types[i] == RP_ZK_OP_CREATE ? op->path_bufs[i] : NULL,
                            op->types[i] == RP_ZK_OP_SET ? &st : NULL);
        }
    } else {
        /* A failed multi: OK for the ops before the one that failed, its
         * error, RUNTIMEINCONSISTENCY after (untouched on connection loss). */
        for (size_t i = 0; i < op->n; i++) {
            if (op->results[i].err != ZOK) {
                ev->res.failed_op = (int)i;
                zrc = op->results[i].err;
                break;
            }
        }
    }
    op_finish(op, zrc);
}

static enum rp_zk_event event_of(int type)
{
    if (type == ZOO_CREATED_EVENT) return RP_ZK_EV_CREATED;
    if (type == ZOO_DELETED_EVENT) return RP_ZK_EV_DELETED;
    if (type == ZOO_CHANGED_EVENT) return RP_ZK_EV_CHANGED;
    if (type == ZOO_CHILD_EVENT) return RP_ZK_EV_CHILD;
    return 0;
}

/* One registration's watcher: fires once. Session events (every registered
 * watcher gets them) are the session watcher's business. */
static void watch_fired(zhandle_t *zh, int type, int state, const char *path, void *wctx)
{
    (void)zh, (void)state;
    enum rp_zk_event ev = event_of(type);
    if (ev == 0) return;
    struct zwatch *w = wctx;
    struct zk_real *z = w->z;
    pthread_mutex_lock(&z->mu);
    watch_unlink(z, w);
    if (z->last_session != RP_ZK_SESSION_EXPIRED)
        rp_zk_evq_push(&z->ready, rp_zk_ev_watch(w->fn, w->ctx, ev, path ? path : "/"));
    pthread_mutex_unlock(&z->mu);
    weir_free(w);
    signal_ready(z);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    if (type != ZOO_SESSION_EVENT) return;
    struct zk_real *z = ctx;
    enum rp_zk_session_event ev;
    if (state == ZOO_CONNECTED_STATE) ev = RP_ZK_SESSION_CONNECTED;
    else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) ev = RP_ZK_SESSION_DISCONNECTED;
    else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) ev = RP_ZK_SESSION_EXPIRED;
    else return;
    pthread_mutex_lock(&z->mu);
    bool news = z->last_session != ev && z->last_session != RP_ZK_SESSION_EXPIRED;
    if (news) {
        z->last_session = ev;
        if (ev == RP_ZK_SESSION_CONNECTED) z->connected_id = zoo_client_id(zh)->client_id;
        rp_zk_evq_push(&z->ready, rp_zk_ev_session(z->session_cb, z->ctx, ev));
    }
    pthread_mutex_unlock(&z->mu);
    if (news) signal_ready(z);
}

/* ---- the owner's side: submitting ------------------------------------------------ */

static struct zop *op_new(struct zk_real *z, enum zop_kind kind, rp_zk_done_fn *done, void *ctx)
{
    struct zop *op = rp_zk_xmalloc(sizeof *op);
    *op = (struct zop){ .z = z, .kind = kind, .ev = rp_zk_ev_done(done, ctx, RP_ZK_OK) };
    return op;
}

/* Completes op at once (never registered with the C client). */
static void op_refuse(struct zk_real *z, struct zop *op, enum rp_zk_rc rc)
{
    pthread_mutex_lock(&z->mu);
    op->ev->rc = rc;
    rp_zk_evq_push(&z->ready, op->ev);
    pthread_mutex_unlock(&z->mu);
    weir_free(op->w);
    op_free(op);
    signal_ready(z);
}

/* Before the C client sees op: it may complete before zoo_a* returns. */
static void op_track(struct zk_real *z, struct zop *op)
{
    pthread_mutex_lock(&z->mu);
    op->next = z->inflight;
    if (z->inflight) z->inflight->prev = op;
    z->inflight = op;
    if (op->w) {
        op->w->next = z->watches;
        if (z->watches) z->watches->prev = op->w;
        z->watches = op->w;
    }
    pthread_mutex_unlock(&z->mu);
}

/* zoo_a*'s answer: anything but ZOK means no completion will come. */
static void op_submitted(struct zk_real *z, struct zop *op, int zrc)
{
    if (zrc == ZOK) return;
    pthread_mutex_lock(&z->mu);
    op_unlink(z, op);
    if (op->w) watch_unlink(z, op->w);
    pthread_mutex_unlock(&z->mu);
    op_refuse(z, op, rc_of(zrc));
}

/* The gate every op passes first; false: op completed already. */
static bool op_gate(struct zk_real *z, struct zop *op, const char *path, unsigned create_flags)
{
    if (z->closing) op_refuse(z, op, RP_ZK_CLOSED);
    else if (!rp_zk_path_valid_create(path, create_flags)) op_refuse(z, op, RP_ZK_OTHER);
    else return true;
    return false;
}

static void real_read(struct rp_zk *zk, enum zop_kind kind, const char *path, rp_zk_watch_fn *watch, void *wctx,
                      rp_zk_done_fn *done, void *ctx)
{
    struct zk_real *z = real_of(zk);
    struct zop *op = op_new(z, kind, done, ctx);
    if (watch) {
        op->w = rp_zk_xmalloc(sizeof *op->w);
        *op->w = (struct zwatch){ .z = z, .fn = watch, .ctx = wctx };
    }
    if (!op_gate(z, op, path, 0)) return;
    op_track(z, op);
    watcher_fn wfn = watch ? watch_fired : NULL;
    int zrc;
    if (kind == K_GET) zrc = zoo_awget(z->zh, path, wfn, op->w, data_done, op);
    else if (kind == K_CHILDREN) zrc = zoo_awget_children2(z->zh, path, wfn, op->w, children_done, op);
    else zrc = zoo_awexists(z->zh, path, wfn, op->w, stat_done, op);
    op_submitted(z, op, zrc);
}

static void real_get(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx, rp_zk_done_fn *done,
                     void *ctx)
{
    real_read(zk, K_GET, path, watch, wctx, done, ctx);
}

static void real_get_children(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                              rp_zk_done_fn *done, void *ctx)
{
    real_read(zk, K_CHILDREN, path, watch, wctx, done, ctx);
}

static void real_exists(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                        rp_zk_done_fn *done, void *ctx)
{
    real_read(zk, K_EXISTS, path, watch, wctx, done, ctx);
}

static int create_mode(unsigned flags)
{
    bool eph = flags & RP_ZK_EPHEMERAL, seq = flags & RP_ZK_SEQUENTIAL;
    return eph ? (seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL) : (seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
}

/* Data of len bytes as the C client takes it: empty, never null. */
static const char *data_arg(const void *data, size_t len) { return len ? (const char *)data : ""; }

static void real_create(struct rp_zk *zk, const char *path, const void *data, size_t len, unsigned flags,
                        rp_zk_done_fn *done, void *ctx)
{
    struct zk_real *z = real_of(zk);
    struct zop *op = op_new(z, K_CREATE, done, ctx);
    if (!op_gate(z, op, path, flags)) return;
    if (len > INT32_MAX) return op_refuse(z, op, RP_ZK_OTHER);
    op_track(z, op);
    op_submitted(z, op, zoo_acreate(z->zh, path, data_arg(data, len), (int)len, &ZOO_OPEN_ACL_UNSAFE,
                                    create_mode(flags), string_done, op));
}

static void real_set(struct rp_zk *zk, const char *path, const void *data, size_t len, int32_t version,
                     rp_zk_done_fn *done, void *ctx)
{
    struct zk_real *z = real_of(zk);
    struct zop *op = op_new(z, K_SET, done, ctx);
    if (!op_gate(z, op, path, 0)) return;
    if (len > INT32_MAX) return op_refuse(z, op, RP_ZK_OTHER);
    op_track(z, op);
    op_submitted(z, op, zoo_aset(z->zh, path, data_arg(data, len), (int)len, version, stat_done, op));
}

static void real_del(struct rp_zk *zk, const char *path, int32_t version, rp_zk_done_fn *done, void *ctx)
{
    struct zk_real *z = real_of(zk);
    struct zop *op = op_new(z, K_DELETE, done, ctx);
    if (!op_gate(z, op, path, 0)) return;
    op_track(z, op);
    op_submitted(z, op, zoo_adelete(z->zh, path, version, void_done, op));
}

static void real_multi(struct rp_zk *zk, const struct rp_zk_op *ops, size_t n, rp_zk_done_fn *done, void *ctx)
{
    struct zk_real *z = real_of(zk);
    struct zop *op = op_new(z, K_MULTI, done, ctx);
    if (!op_gate(z, op, n ? ops[0].path : NULL, n ? ops[0].flags : 0)) return;
    for (size_t i = 0; i < n; i++) {
        if (!rp_zk_path_valid_create(ops[i].path, ops[i].type == RP_ZK_OP_CREATE ? ops[i].flags : 0) ||
            ops[i].len > INT32_MAX) return op_refuse(z, op, RP_ZK_OTHER);
    }
    op->n = n;
    op->types = rp_zk_xmalloc(n * sizeof *op->types);
    op->results = rp_zk_xmalloc(n * sizeof *op->results);
    op->path_bufs = rp_zk_xmalloc(n * sizeof *op->path_bufs);
    op->stats = rp_zk_xmalloc(n * sizeof *op->stats);
    for (size_t i = 0; i < n; i++) {
        op->types[i] = ops[i].type;
        op->path_bufs[i] = NULL;
        op->results[i] = (zoo_op_result_t){ .err = ZOK };
        memset(&op->stats[i], 0, sizeof op->stats[i]);
    }
    zoo_op_t *zops = rp_zk_xmalloc(n * sizeof *zops);
    for (size_t i = 0; i < n; i++) {
        const struct rp_zk_op *o = &ops[i];
        switch (o->type) {
        case RP_ZK_OP_CREATE: {
            int cap = (int)strlen(o->path) + 16; /* the sequential suffix is 10 digits */
            op->path_bufs[i] = rp_zk_xmalloc((size_t)cap);
            op->path_bufs[i][0] = '\0';
            zoo_create_op_init(&zops[i], o->path, data_arg(o->data, o->len), (int)o->len, &ZOO_OPEN_ACL_UNSAFE,
                               create_mode(o->flags), op->path_bufs[i], cap);
            break;
        }
        case RP_ZK_OP_SET:
            zoo_set_op_init(&zops[i], o->path, data_arg(o->data, o->len), (int)o->len, o->version, &op->stats[i]);
            break;
        case RP_ZK_OP_DELETE: zoo_delete_op_init(&zops[i], o->path, o->version); break;
        case RP_ZK_OP_CHECK: zoo_check_op_init(&zops[i], o->path, o->version); break;
        default:
            weir_free(zops);
            return op_refuse(z, op, RP_ZK_OTHER);
        }
    }
    op_track(z, op);
    int zrc = zoo_amulti(z->zh, (int)n, zops, op->results, multi_done, op); /* serializes zops */
    weir_free(zops);
    op_submitted(z, op, zrc);
}

/* ---- dispatch, close, open ---------------------------------------------------------- */

static void real_free(struct zk_real *z)
{
    if (z->efd >= 0) close(z->efd);
    pthread_mutex_destroy(&z->mu);
    weir_free(z->connect);
    weir_free(z);
}

/* After zookeeper_close returned no C client thread is left: everything here
 * runs on the owner's thread. */
static void real_close_now(struct zk_real *z)
{
    z->closing = true;
    int zrc = zookeeper_close(z->zh);
    if (zrc != ZOK) weir_log(WEIR_LOG_WARN, "zookeeper: close: %s", zerror(zrc));
    z->zh = NULL;
    /* Answered (ZooKeeper answers a session in order) before unanswered,
     * those oldest first (the inflight list is newest first). */
    struct zop *last = z->inflight;
    while (last && last->next) last = last->next;
    for (struct zop *op = last; op;) {
        struct zop *prev = op->prev;
        rp_zk_evq_push(&z->ready, op->ev);
        op_free(op);
        op = prev;
    }
    z->inflight = NULL;
    while (z->watches) {
        struct zwatch *w = z->watches;
        z->watches = w->next;
        weir_free(w);
    }
    struct rp_zk_ev *ev;
    while ((ev = rp_zk_evq_pop(&z->ready))) { /* ops submitted meanwhile queue here, CLOSED */
        if (ev->kind == RP_ZK_EV_KIND_DONE) {
            rp_zk_ev_clear(ev, RP_ZK_CLOSED);
            rp_zk_ev_run(ev);
        } else {
            rp_zk_ev_free(ev);
        }
    }
    real_free(z);
}

static int real_dispatch(struct rp_zk *zk)
{
    struct zk_real *z = real_of(zk);
    WEIR_ASSERT(!z->in_dispatch && !z->closing);
    uint64_t cnt;
    if (read(z->efd, &cnt, sizeof cnt) < 0 && errno != EAGAIN)
        weir_panic("zookeeper: eventfd read: %s", strerror(errno));
    pthread_mutex_lock(&z->mu);
    struct rp_zk_evq now = z->ready;
    rp_zk_evq_init(&z->ready);
    int64_t connected_id = z->connected_id;
    pthread_mutex_unlock(&z->mu);
    if (rp_zk_evq_empty(&now)) return 0;
    z->in_dispatch = true;
    int ran = 0;
    struct rp_zk_ev *ev;
    while (!z->closing && (ev = rp_zk_evq_pop(&now))) {
        if (ev->kind == RP_ZK_EV_KIND_SESSION && ev->session_event == RP_ZK_SESSION_CONNECTED)
            z->session_id = connected_id;
        rp_zk_ev_run(ev);
        ran++;
    }
    z->in_dispatch = false;
    if (!rp_zk_evq_empty(&now)) { /* closed from a callback: the rest goes first */
        pthread_mutex_lock(&z->mu);
        rp_zk_evq_move(&now, &z->ready);
        z->ready = now;
        pthread_mutex_unlock(&z->mu);
    }
    if (z->closing) real_close_now(z);
    return ran;
}

static int real_fd(struct rp_zk *zk) { return real_of(zk)->efd; }

static int64_t real_session_id(struct rp_zk *zk) { return real_of(zk)->session_id; }

static void real_close(struct rp_zk *zk)
{
    struct zk_real *z = real_of(zk);
    if (z->in_dispatch) {
        z->closing = true;
        return;
    }
    real_close_now(z);
}

static const struct rp_zk_vtable real_vt = {
    .get = real_get,
    .get_children = real_get_children,
    .exists = real_exists,
    .create = real_create,
    .set = real_set,
    .del = real_del,
    .multi = real_multi,
    .dispatch = real_dispatch,
    .fd = real_fd,
    .session_id = real_session_id,
    .close = real_close,
};

enum weir_err rp_zk_open(const char *connect, int32_t session_timeout_ms, rp_zk_session_fn *session_cb, void *ctx,
                         struct rp_zk **out)
{
    *out = NULL;
    pthread_once(&log_once, log_setup);
    struct zk_real *z = weir_malloc(sizeof *z);
    if (!z) return WEIR_E_NOMEM;
    *z = (struct zk_real){ .zk = { &real_vt }, .session_cb = session_cb, .ctx = ctx };
    rp_zk_evq_init(&z->ready);
    pthread_mutex_init(&z->mu, NULL);
    z->connect = weir_strdup(connect);
    z->efd = z->connect ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    if (z->efd < 0) {
        weir_log(WEIR_LOG_ERROR, "zookeeper: eventfd: %s", strerror(errno));
        real_free(z);
        return WEIR_E_IO;
    }
    errno = 0;
    z->zh = zookeeper_init2(connect, session_watcher, session_timeout_ms, NULL, z, 0, log_line);
    if (!z->zh) {
        int e = errno;
        weir_log(WEIR_LOG_ERROR, "zookeeper: cannot use '%s': %s", connect, e ? strerror(e) : "refused");
        real_free(z);
        return e == ENOMEM ? WEIR_E_NOMEM : e == EINVAL || e == 0 ? WEIR_E_BAD_CONFIG : WEIR_E_IO;
    }
    *out = &z->zk;
    return WEIR_OK;
}

static void quiet_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

enum rp_zk_rc rp_zk_end_session(struct rp_zk *zk)
{
    struct zk_real *z = real_of(zk);
    WEIR_ASSERT(!z->closing);
    clientid_t id = *zoo_client_id(z->zh);
    if (id.client_id == 0) return RP_ZK_CONNECTIONLOSS;
    /* Take the session over and close it, until a takeover finds it expired:
     * zk's own reconnect can move the session back before our closeSession
     * arrives, and then the close ends nothing. */
    for (int attempt = 0; attempt < 20; attempt++) {
        zhandle_t *other = zookeeper_init2(z->connect, quiet_watcher, zoo_recv_timeout(z->zh), &id, NULL, 0, log_line);
        if (!other) return RP_ZK_OTHER;
        int state = 0;
        for (int i = 0; i < 1000; i++) {
            state = zoo_state(other);
            if (state == ZOO_CONNECTED_STATE || state == ZOO_EXPIRED_SESSION_STATE) break;
            usleep(10 * 1000);
        }
        int zrc = zookeeper_close(other); /* when connected: closeSession ends it for both */
        if (state == ZOO_EXPIRED_SESSION_STATE) return attempt > 0 ? RP_ZK_OK : RP_ZK_SESSIONEXPIRED;
        if (state != ZOO_CONNECTED_STATE) return RP_ZK_CONNECTIONLOSS;
        if (zrc != ZOK) return rc_of(zrc);
    }
    return RP_ZK_OTHER;
}
