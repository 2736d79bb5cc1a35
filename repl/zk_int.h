/* repl/zk_int.h: one asynchronous interface over a ZooKeeper session
 * (`struct rp_zk`), private to repl/. Two implementations:
 *   zk.c     libzookeeper_mt against real servers (rp_zk_open)
 *   zkmem.c  an in-memory tree shared by any number of sessions, for the
 *            simulation and unit tests (rp_zkmem_world_new, rp_zkmem_open)
 * tests/test_repl_zk.c runs one conformance suite against both.
 *
 * Contract (both implementations):
 *  1. Every op (get, get_children, exists, create, set, del, multi) returns
 *     nothing and runs its completion exactly once: from rp_zk_dispatch, or
 *     from rp_zk_close with RP_ZK_CLOSED. Even an op refused at once (a bad
 *     path, an expired session) completes that way, never inside the submit
 *     call. Arguments (paths, data, op arrays) are copied before the submit
 *     call returns.
 *  2. Completions, watch events and session events run only on the thread
 *     that calls rp_zk_dispatch(zk), in the order the session saw them: a
 *     watch event is dispatched before the completion of any op submitted
 *     after the change that fired it (ZooKeeper's ordering guarantee).
 *  3. Results (data, children, paths, stats) are copies owned by the handle
 *     and valid only while the callback runs.
 *  4. A watch is one registration: the watch function passed with one get,
 *     get_children or exists runs at most once, for the first change of the
 *     kind it watches (get: changed/deleted; exists: created/changed/deleted;
 *     get_children: children changed/deleted). It is set only if the op
 *     succeeds (exists: also when it answers RP_ZK_NONODE). Two registrations
 *     on one path each run. After RP_ZK_SESSION_EXPIRED no watch runs.
 *  5. rp_zk_close(zk) ends the session (the server deletes its ephemeral
 *     nodes) and, before it returns, runs every completion not yet dispatched
 *     with RP_ZK_CLOSED and an empty result (the op's outcome is unknown), on
 *     the calling thread. No watch or session callback
 *     runs after close is called. An op submitted from such a completion also
 *     completes with RP_ZK_CLOSED before close returns (do not retry on
 *     CLOSED). Called from inside a callback, close takes effect when that
 *     callback returns; rp_zk_dispatch then returns and zk is gone.
 *
 * Differences that remain: while disconnected, zkmem fails an op at once with
 * CONNECTIONLOSS; the C client holds it until it reconnects (then sends it)
 * or gives up (CONNECTIONLOSS). A real session learns of its expiry only
 * when it reconnects.
 *
 * Paths are absolute ZooKeeper paths ("/brokers/ids/1"), relative to the
 * session's chroot; paths in results and events are too. Children are
 * sorted bytewise (ZooKeeper gives no order). */
#ifndef WEIR_REPL_ZK_INT_H
#define WEIR_REPL_ZK_INT_H

#include "base/base.h"

enum rp_zk_rc {
    RP_ZK_OK = 0,
    RP_ZK_NONODE,           /* the node (or a create's parent) does not exist */
    RP_ZK_NODEEXISTS,
    RP_ZK_BADVERSION,       /* an expected version did not match */
    RP_ZK_NOTEMPTY,         /* delete of a node with children */
    RP_ZK_CONNECTIONLOSS,   /* outcome unknown; the session may still be alive */
    RP_ZK_SESSIONEXPIRED,   /* the session is gone; close the handle, open another */
    RP_ZK_OPERATIONTIMEOUT,
    RP_ZK_CLOSED,           /* the handle closed before the op completed: outcome unknown */
    RP_ZK_OTHER,            /* anything else: bad path, children of an ephemeral, ... */
};
const char *rp_zk_rc_str(enum rp_zk_rc rc);

enum rp_zk_event {
    RP_ZK_EV_CREATED = 1,
    RP_ZK_EV_DELETED,
    RP_ZK_EV_CHANGED,  /* data changed */
    RP_ZK_EV_CHILD,    /* children changed */
};
enum rp_zk_session_event {
    RP_ZK_SESSION_CONNECTED = 1,  /* (re)connected; the session and its watches live */
    RP_ZK_SESSION_DISCONNECTED,   /* ops fail with CONNECTIONLOSS until CONNECTED */
    RP_ZK_SESSION_EXPIRED,        /* final: ephemerals are gone, watches dead */
};

/* create flags */
enum { RP_ZK_EPHEMERAL = 1, RP_ZK_SEQUENTIAL = 2 };

struct rp_zk_stat {
    int64_t czxid, mzxid, pzxid;  /* creation, last data change, last child change */
    int64_t ephemeral_owner;      /* session id, 0 for a persistent node */
    int32_t version, cversion;    /* data version, children version */
    int32_t data_len, num_children;
};

struct rp_zk_op_result {
    enum rp_zk_rc rc;
    const char *path;        /* create: the created path */
    struct rp_zk_stat stat;  /* set: the node's new stat */
};

/* What an op answers; fields not named for the op are zero. */
struct rp_zk_result {
    const uint8_t *data;     /* get; NULL when len is 0 */
    size_t len;
    struct rp_zk_stat stat;  /* get, exists, set, get_children (the parent's) */
    const char *const *children;  /* get_children: names, not paths, sorted */
    size_t n_children;
    const char *path;        /* create: the created path (with a sequential suffix) */
    /* multi: one result per op when rc is RP_ZK_OK; on failure failed_op is
     * the index of the first op that failed (rc is its rc) and nothing applied */
    const struct rp_zk_op_result *ops;
    size_t n_ops;
    int failed_op;           /* -1 unless a multi failed at an op */
};

typedef void rp_zk_done_fn(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res);
typedef void rp_zk_watch_fn(void *ctx, enum rp_zk_event ev, const char *path);
typedef void rp_zk_session_fn(void *ctx, enum rp_zk_session_event ev);

enum rp_zk_op_type { RP_ZK_OP_CREATE = 1, RP_ZK_OP_SET, RP_ZK_OP_DELETE, RP_ZK_OP_CHECK };
/* One op of a multi: create (path, data, len, flags), set (path, data, len,
 * version), delete (path, version), check (path, version; -1: exists). */
struct rp_zk_op {
    enum rp_zk_op_type type;
    const char *path;
    const void *data;
    size_t len;
    unsigned flags;
    int32_t version;
};

struct rp_zk;
struct rp_zk_vtable {
    void (*get)(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx, rp_zk_done_fn *done,
                void *ctx);
    void (*get_children)(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                         rp_zk_done_fn *done, void *ctx);
    void (*exists)(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx, rp_zk_done_fn *done,
                   void *ctx);
    void (*create)(struct rp_zk *zk, const char *path, const void *data, size_t len, unsigned flags,
                   rp_zk_done_fn *done, void *ctx);
    void (*set)(struct rp_zk *zk, const char *path, const void *data, size_t len, int32_t version,
                rp_zk_done_fn *done, void *ctx);
    void (*del)(struct rp_zk *zk, const char *path, int32_t version, rp_zk_done_fn *done, void *ctx);
    void (*multi)(struct rp_zk *zk, const struct rp_zk_op *ops, size_t n, rp_zk_done_fn *done, void *ctx);
    int (*dispatch)(struct rp_zk *zk);
    int (*fd)(struct rp_zk *zk);
    int64_t (*session_id)(struct rp_zk *zk);
    void (*close)(struct rp_zk *zk);
};

/* A session handle. Owned by the thread that dispatches it. */
struct rp_zk {
    const struct rp_zk_vtable *vt;
};

/* get: data and stat. watch (NULL: none) fires on CHANGED or DELETED. */
static inline void rp_zk_get(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                             rp_zk_done_fn *done, void *ctx)
{
    zk->vt->get(zk, path, watch, wctx, done, ctx);
}
/* get_children: names and the node's stat. watch fires on CHILD or DELETED. */
static inline void rp_zk_get_children(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                                      rp_zk_done_fn *done, void *ctx)
{
    zk->vt->get_children(zk, path, watch, wctx, done, ctx);
}
/* exists: RP_ZK_OK with the stat, or RP_ZK_NONODE. watch fires on CREATED,
 * CHANGED or DELETED, and is set in both cases. */
static inline void rp_zk_exists(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                                rp_zk_done_fn *done, void *ctx)
{
    zk->vt->exists(zk, path, watch, wctx, done, ctx);
}
/* create with RP_ZK_EPHEMERAL / RP_ZK_SEQUENTIAL flags; answers the created
 * path. Sequential appends %010d of the number of children the parent has had
 * created (ZooKeeper 3.8 counts creations only: unlike cversion, deletes do
 * not advance it). NONODE: no parent; NODEEXISTS; OTHER: the parent is
 * ephemeral, or a bad path. */
static inline void rp_zk_create(struct rp_zk *zk, const char *path, const void *data, size_t len, unsigned flags,
                                rp_zk_done_fn *done, void *ctx)
{
    zk->vt->create(zk, path, data, len, flags, done, ctx);
}
/* set if the data version is `version` (-1: any); answers the new stat. */
static inline void rp_zk_set(struct rp_zk *zk, const char *path, const void *data, size_t len, int32_t version,
                             rp_zk_done_fn *done, void *ctx)
{
    zk->vt->set(zk, path, data, len, version, done, ctx);
}
/* delete if the data version is `version` (-1: any). NOTEMPTY: has children. */
static inline void rp_zk_delete(struct rp_zk *zk, const char *path, int32_t version, rp_zk_done_fn *done,
                                void *ctx)
{
    zk->vt->del(zk, path, version, done, ctx);
}
/* All of ops[0, n) or none, as one transaction (n >= 1). */
static inline void rp_zk_multi(struct rp_zk *zk, const struct rp_zk_op *ops, size_t n, rp_zk_done_fn *done,
                               void *ctx)
{
    zk->vt->multi(zk, ops, n, done, ctx);
}
/* Runs the callbacks ready when it is called (not those they cause); returns
 * how many ran. Never blocks; not from inside a callback of the same handle. */
static inline int rp_zk_dispatch(struct rp_zk *zk) { return zk->vt->dispatch(zk); }
/* An fd that polls readable when rp_zk_dispatch has work (real sessions: an
 * eventfd, drained by dispatch); -1 for in-memory sessions, whose work is
 * ready as soon as it is queued. */
static inline int rp_zk_fd(struct rp_zk *zk) { return zk->vt->fd(zk); }
/* The session id (the ephemeral owner of its nodes); 0 until the first
 * RP_ZK_SESSION_CONNECTED has been dispatched. */
static inline int64_t rp_zk_session_id(struct rp_zk *zk) { return zk->vt->session_id(zk); }
static inline void rp_zk_close(struct rp_zk *zk) { zk->vt->close(zk); }

/* Creates `path` and each missing parent (persistent, empty), ignoring
 * NODEEXISTS; done gets RP_ZK_OK or the first other error. "/" is a no-op. */
void rp_zk_ensure_path(struct rp_zk *zk, const char *path, rp_zk_done_fn *done, void *ctx);

/* ---- zk.c: libzookeeper_mt ------------------------------------------------ */

/* Opens a session to `connect` ("h1:p1,h2:p2" with an optional "/chroot"
 * suffix; the chroot must exist: create it with rp_zk_ensure_path on a session
 * without it). The session connects in the background: session_cb gets
 * RP_ZK_SESSION_CONNECTED from rp_zk_dispatch; ops submitted before that wait
 * for the connection. ZooKeeper's client logs warnings and errors to weir's log.
 * Errors: WEIR_E_BAD_CONFIG (connect string refused), WEIR_E_NOMEM, WEIR_E_IO. */
enum weir_err rp_zk_open(const char *connect, int32_t session_timeout_ms, rp_zk_session_fn *session_cb, void *ctx,
                         struct rp_zk **out);

/* For tests: makes the server end zk's session as an expiry would (a second
 * connection takes the session over and closes it, again until a takeover
 * finds it expired); blocks up to 10 s per takeover. RP_ZK_OK once it is
 * ended; RP_ZK_SESSIONEXPIRED when it already was. zk then sees DISCONNECTED
 * and, on reconnecting, EXPIRED. */
enum rp_zk_rc rp_zk_end_session(struct rp_zk *zk);

/* ---- zkmem.c: in memory ---------------------------------------------------- */

/* One tree and its sessions. Deterministic: no clock, thread or randomness;
 * every op applies atomically when it is submitted, in submission order across
 * sessions, and its completion (and every watch or session event) waits in its
 * session's queue until that session's owner calls rp_zk_dispatch. Session ids
 * are 1, 2, 3, ... in opening order; zxids count transactions from 1.
 * Single-threaded: the world and its sessions belong to one thread. */
struct rp_zkmem_world;
struct rp_zkmem_world *rp_zkmem_world_new(void);
/* The world must have no open sessions left. */
void rp_zkmem_world_free(struct rp_zkmem_world *w);
/* The zxid of the last transaction (0: none yet). */
int64_t rp_zkmem_zxid(const struct rp_zkmem_world *w);
/* A session on w; `chroot` NULL or "" for none, else the path every path of
 * the session is relative to (as in "h:p/chroot"; if it does not exist, ops
 * fail as on a real server). Closing it deletes its ephemerals at once, even
 * while disconnected. The session
 * is connected; RP_ZK_SESSION_CONNECTED is its first event. */
struct rp_zk *rp_zkmem_open(struct rp_zkmem_world *w, const char *chroot, rp_zk_session_fn *session_cb,
                            void *ctx);
/* World controls: not from inside a callback of the session they act on.
 * Connection loss: completions not yet dispatched turn into CONNECTIONLOSS (the
 * op applied but its answer was lost), then DISCONNECTED is queued; ops fail
 * with CONNECTIONLOSS; watch events are held until reconnect. No-op unless
 * connected. */
void rp_zkmem_disconnect(struct rp_zk *zk);
/* Queues CONNECTED, then the watch events held while disconnected. No-op
 * unless disconnected. */
void rp_zkmem_reconnect(struct rp_zk *zk);
/* The server expires the session: disconnects it if connected, deletes its
 * ephemeral nodes (one transaction; others' watches fire), drops its watches
 * and held events, queues EXPIRED. Later ops fail with SESSIONEXPIRED. */
void rp_zkmem_expire(struct rp_zk *zk);

/* ---- shared by the implementations (zkev.c) ----------------------------------- */

/* One callback waiting for dispatch, with copies of everything it reports. */
enum rp_zk_ev_kind { RP_ZK_EV_KIND_DONE = 1, RP_ZK_EV_KIND_WATCH, RP_ZK_EV_KIND_SESSION };
struct rp_zk_ev {
    struct rp_zk_ev *next;
    enum rp_zk_ev_kind kind;
    void *ctx;
    rp_zk_done_fn *done;
    rp_zk_watch_fn *watch;
    rp_zk_session_fn *session;
    enum rp_zk_rc rc;
    enum rp_zk_event event;
    enum rp_zk_session_event session_event;
    char *event_path;
    struct rp_zk_result res;  /* points into the copies below */
    uint8_t *data_copy;
    char *path_copy;
    char **children_copy;
    struct rp_zk_op_result *ops_copy;
};
struct rp_zk_evq {
    struct rp_zk_ev *head, **tail;
};

/* The allocation functions panic when memory runs out (control plane only). */
void *rp_zk_xmalloc(size_t n);
char *rp_zk_xstrdup(const char *s);
struct rp_zk_ev *rp_zk_ev_done(rp_zk_done_fn *done, void *ctx, enum rp_zk_rc rc);
struct rp_zk_ev *rp_zk_ev_watch(rp_zk_watch_fn *watch, void *ctx, enum rp_zk_event event, const char *path);
struct rp_zk_ev *rp_zk_ev_session(rp_zk_session_fn *session, void *ctx, enum rp_zk_session_event event);
void rp_zk_ev_set_data(struct rp_zk_ev *ev, const void *data, size_t len);
void rp_zk_ev_set_path(struct rp_zk_ev *ev, const char *path);
/* Copies names[0, n) and sorts them. */
void rp_zk_ev_set_children(struct rp_zk_ev *ev, const char *const *names, size_t n);
/* n op results, rc RP_ZK_OK and no path each; fill them in with rp_zk_ev_set_op. */
void rp_zk_ev_set_ops(struct rp_zk_ev *ev, size_t n);
void rp_zk_ev_set_op(struct rp_zk_ev *ev, size_t i, enum rp_zk_rc rc, const char *path,
                     const struct rp_zk_stat *stat);
/* Drops the result: a completion reports rc with an empty result. */
void rp_zk_ev_clear(struct rp_zk_ev *ev, enum rp_zk_rc rc);
/* Runs the callback, then frees ev. */
void rp_zk_ev_run(struct rp_zk_ev *ev);
void rp_zk_ev_free(struct rp_zk_ev *ev);

static inline void rp_zk_evq_init(struct rp_zk_evq *q) { q->head = NULL, q->tail = &q->head; }
static inline bool rp_zk_evq_empty(const struct rp_zk_evq *q) { return q->head == NULL; }
void rp_zk_evq_push(struct rp_zk_evq *q, struct rp_zk_ev *ev);
struct rp_zk_ev *rp_zk_evq_pop(struct rp_zk_evq *q);
/* Moves all of `from` to the end of `to`. */
void rp_zk_evq_move(struct rp_zk_evq *to, struct rp_zk_evq *from);

/* Path rules shared by both sides: absolute, no empty or "."/".." component,
 * no trailing '/' except "/" itself. */
bool rp_zk_path_valid(const char *path);
/* For a create: with RP_ZK_SEQUENTIAL the path plus its suffix ("/a/" is fine). */
bool rp_zk_path_valid_create(const char *path, unsigned flags);

#endif
