/* repl/zkev.c: what zk.c and zkmem.c share: queued callbacks with copied
 * results, path rules, rp_zk_ensure_path. */
#include "zk_int.h"

#include <stdlib.h>

const char *rp_zk_rc_str(enum rp_zk_rc rc)
{
    switch (rc) {
    case RP_ZK_OK: return "OK";
    case RP_ZK_NONODE: return "NONODE";
    case RP_ZK_NODEEXISTS: return "NODEEXISTS";
    case RP_ZK_BADVERSION: return "BADVERSION";
    case RP_ZK_NOTEMPTY: return "NOTEMPTY";
    case RP_ZK_CONNECTIONLOSS: return "CONNECTIONLOSS";
    case RP_ZK_SESSIONEXPIRED: return "SESSIONEXPIRED";
    case RP_ZK_OPERATIONTIMEOUT: return "OPERATIONTIMEOUT";
    case RP_ZK_CLOSED: return "CLOSED";
    case RP_ZK_OTHER: return "OTHER";
    }
    return "?";
}

void *rp_zk_xmalloc(size_t n)
{
    void *p = weir_malloc(n);
    if (!p) weir_panic("zookeeper: out of memory (%zu bytes)", n);
    return p;
}

char *rp_zk_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(rp_zk_xmalloc(n), s, n);
}

static struct rp_zk_ev *ev_new(enum rp_zk_ev_kind kind, void *ctx)
{
    struct rp_zk_ev *ev = rp_zk_xmalloc(sizeof *ev);
    *ev = (struct rp_zk_ev){ .kind = kind, .ctx = ctx };
    ev->res.failed_op = -1;
    return ev;
}

struct rp_zk_ev *rp_zk_ev_done(rp_zk_done_fn *done, void *ctx, enum rp_zk_rc rc)
{
    struct rp_zk_ev *ev = ev_new(RP_ZK_EV_KIND_DONE, ctx);
    ev->done = done;
    ev->rc = rc;
    return ev;
}

struct rp_zk_ev *rp_zk_ev_watch(rp_zk_watch_fn *watch, void *ctx, enum rp_zk_event event, const char *path)
{
    struct rp_zk_ev *ev = ev_new(RP_ZK_EV_KIND_WATCH, ctx);
    ev->watch = watch;
    ev->event = event;
    ev->event_path = rp_zk_xstrdup(path);
    return ev;
}

struct rp_zk_ev *rp_zk_ev_session(rp_zk_session_fn *session, void *ctx, enum rp_zk_session_event event)
{
    struct rp_zk_ev *ev = ev_new(RP_ZK_EV_KIND_SESSION, ctx);
    ev->session = session;
    ev->session_event = event;
    return ev;
}

void rp_zk_ev_set_data(struct rp_zk_ev *ev, const void *data, size_t len)
{
    WEIR_ASSERT(!ev->data_copy);
    if (len == 0) return;
    ev->data_copy = memcpy(rp_zk_xmalloc(len), data, len);
    ev->res.data = ev->data_copy;
    ev->res.len = len;
}

void rp_zk_ev_set_path(struct rp_zk_ev *ev, const char *path)
{
    WEIR_ASSERT(!ev->path_copy);
    ev->path_copy = rp_zk_xstrdup(path);
    ev->res.path = ev->path_copy;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rp_zk_ev_set_children(struct rp_zk_ev *ev, const char *const *names, size_t n)
{
    WEIR_ASSERT(!ev->children_copy);
    ev->children_copy = rp_zk_xmalloc((n ? n : 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) ev->children_copy[i] = rp_zk_xstrdup(names[i]);
    qsort(ev->children_copy, n, sizeof(char *), name_cmp);
    ev->res.children = (const char *const *)ev->children_copy;
    ev->res.n_children = n;
}

void rp_zk_ev_set_ops(struct rp_zk_ev *ev, size_t n)
{
    WEIR_ASSERT(!ev->ops_copy && n > 0);
    ev->ops_copy = rp_zk_xmalloc(n * sizeof *ev->ops_copy);
    for (size_t i = 0; i < n; i++) ev->ops_copy[i] = (struct rp_zk_op_result){ .rc = RP_ZK_OK };
    ev->res.ops = ev->ops_copy;
    ev->res.n_ops = n;
}

void rp_zk_ev_set_op(struct rp_zk_ev *ev, size_t i, enum rp_zk_rc rc, const char *path,
                     const struct rp_zk_stat *stat)
{
    WEIR_ASSERT(i < ev->res.n_ops);
    struct rp_zk_op_result *r = &ev->ops_copy[i];
    r->rc = rc;
    if (path) r->path = rp_zk_xstrdup(path);
    if (stat) r->stat = *stat;
}

static void ev_free_result(struct rp_zk_ev *ev)
{
    weir_free(ev->data_copy);
    weir_free(ev->path_copy);
    if (ev->children_copy) {
        for (size_t i = 0; i < ev->res.n_children; i++) weir_free(ev->children_copy[i]);
        weir_free(ev->children_copy);
    }
    if (ev->ops_copy) {
        for (size_t i = 0; i < ev->res.n_ops; i++) weir_free((char *)ev->ops_copy[i].path);
        weir_free(ev->ops_copy);
    }
    ev->data_copy = NULL, ev->path_copy = NULL, ev->children_copy = NULL, ev->ops_copy = NULL;
    ev->res = (struct rp_zk_result){ .failed_op = -1 };
}

void rp_zk_ev_clear(struct rp_zk_ev *ev, enum rp_zk_rc rc)
{
    ev_free_result(ev);
    ev->rc = rc;
}

void rp_zk_ev_free(struct rp_zk_ev *ev)
{
    ev_free_result(ev);
    weir_free(ev->event_path);
    weir_free(ev);
}

void rp_zk_ev_run(struct rp_zk_ev *ev)
{
    switch (ev->kind) {
    case RP_ZK_EV_KIND_DONE: ev->done(ev->ctx, ev->rc, &ev->res); break;
    case RP_ZK_EV_KIND_WATCH: ev->watch(ev->ctx, ev->event, ev->event_path); break;
    case RP_ZK_EV_KIND_SESSION:
        if (ev->session) ev->session(ev->ctx, ev->session_event);
        break;
    }
    rp_zk_ev_free(ev);
}

void rp_zk_evq_push(struct rp_zk_evq *q, struct rp_zk_ev *ev)
{
    ev->next = NULL;
    *q->tail = ev;
    q->tail = &ev->next;
}

struct rp_zk_ev *rp_zk_evq_pop(struct rp_zk_evq *q)
{
    struct rp_zk_ev *ev = q->head;
    if (!ev) return NULL;
    q->head = ev->next;
    if (!q->head) q->tail = &q->head;
    ev->next = NULL;
    return ev;
}

void rp_zk_evq_move(struct rp_zk_evq *to, struct rp_zk_evq *from)
{
    if (!from->head) return;
    *to->tail = from->head;
    to->tail = from->tail;
    rp_zk_evq_init(from);
}

bool rp_zk_path_valid(const char *path)
{
    if (!path || path[0] != '/') return false;
    if (path[1] == '\0') return true;
    for (const char *c = path; *c;) { /* c is at a '/' */
        const char *e = c + 1;
        while (*e && *e != '/') e++;
        size_t n = (size_t)(e - c - 1);
        if (n == 0) return false; /* "//" or a trailing '/' */
        if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.')) return false;
        c = e;
    }
    return true;
}

bool rp_zk_path_valid_create(const char *path, unsigned flags)
{
    if (!(flags & RP_ZK_SEQUENTIAL) || !path) return rp_zk_path_valid(path);
    size_t n = strlen(path);
    char *p = rp_zk_xmalloc(n + 11);
    memcpy(p, path, n);
    memcpy(p + n, "0000000000", 11);
    bool ok = rp_zk_path_valid(p);
    weir_free(p);
    return ok;
}

/* ---- rp_zk_ensure_path: create "/a", "/a/b", ... in turn ------------------------ */

struct ensure {
    struct rp_zk *zk;
    char *path;
    size_t at; /* the prefix path[0, at) is next */
    rp_zk_done_fn *done;
    void *ctx;
};

static void ensure_next(struct ensure *e);

static void ensure_created(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    (void)res;
    struct ensure *e = ctx;
    if (rc != RP_ZK_OK && rc != RP_ZK_NODEEXISTS) {
        e->done(e->ctx, rc, &(struct rp_zk_result){ .failed_op = -1 });
        weir_free(e->path);
        weir_free(e);
        return;
    }
    ensure_next(e);
}

static void ensure_next(struct ensure *e)
{
    size_t n = strlen(e->path);
    if (e->at >= n) {
        e->done(e->ctx, RP_ZK_OK, &(struct rp_zk_result){ .failed_op = -1 });
        weir_free(e->path);
        weir_free(e);
        return;
    }
    size_t end = e->at + 1;
    while (end < n && e->path[end] != '/') end++;
    char save = e->path[end];
    e->path[end] = '\0';
    e->at = end;
    rp_zk_create(e->zk, e->path, NULL, 0, 0, ensure_created, e); /* copies the path */
    e->path[end] = save;
}

void rp_zk_ensure_path(struct rp_zk *zk, const char *path, rp_zk_done_fn *done, void *ctx)
{
    struct ensure *e = rp_zk_xmalloc(sizeof *e);
    *e = (struct ensure){ .zk = zk, .path = rp_zk_xstrdup(path), .done = done, .ctx = ctx };
    if (!rp_zk_path_valid(path)) { /* the same answer as a create of a bad path */
        rp_zk_create(zk, path, NULL, 0, 0, ensure_created, e);
    } else if (strcmp(path, "/") == 0) { /* exists: "/" always does; completes from dispatch */
        e->at = 1;
        rp_zk_exists(zk, "/", NULL, NULL, ensure_created, e);
    } else {
        ensure_next(e);
    }
}
