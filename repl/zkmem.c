/* repl/zkmem.c: struct rp_zk in memory: one tree, many sessions, no threads.
 *
 * Invariants:
 *  1. A node's children are sorted by name; stat.num_children and
 *     stat.data_len always match the node.
 *  2. Every write (a single create/set/delete or a multi) is one transaction:
 *     its ops apply in order against the tree as the earlier ones left it; if
 *     one fails, an undo log restores the tree exactly and nothing else
 *     happens; if all succeed, world->zxid grows by one and the watch
 *     triggers collected on the way fire, in op order.
 *  3. A watch registration fires once and is then freed; it belongs to one
 *     session and goes when that session expires or closes.
 *  4. Each session's events are queued in the order they happened and run
 *     only from rp_zk_dispatch (or rp_zk_close, for completions). */
#include "zk_int.h"

#include <stdio.h>
#include <stdlib.h>

struct node {
    char *name;              /* "" for the root */
    struct node *parent;
    struct node **kids;      /* sorted by name */
    size_t kids_cap;
    uint8_t *data;
    struct rp_zk_stat stat;  /* num_children = kids in use, data_len = bytes of data */
    int32_t creations;       /* children ever created: the sequential suffix */
};

enum wkind { W_DATA, W_EXIST, W_CHILD };
struct wreg {
    struct wreg *next;
    struct mem_session *s;
    char *path;  /* world path */
    enum wkind kind;
    rp_zk_watch_fn *fn;
    void *ctx;
};

enum sstate { S_CONNECTED, S_DISCONNECTED, S_EXPIRED };
struct mem_session {
    struct rp_zk zk;
    struct rp_zkmem_world *w;
    struct mem_session *next;  /* world's list */
    int64_t id, id_seen;       /* id_seen: 0 until CONNECTED ran */
    char *chroot;              /* "" or "/a/b" */
    size_t chroot_len;
    enum sstate state;
    struct rp_zk_evq q;        /* ready for dispatch */
    struct rp_zk_evq held;     /* watch events while disconnected */
    rp_zk_session_fn *session_cb;
    void *ctx;
    bool in_dispatch, closing;
};

struct rp_zkmem_world {
    struct node *root;
    struct wreg *watches, **watches_tail;  /* registration order */
    struct mem_session *sessions;
    int64_t zxid, next_session_id;
};

static const struct rp_zk_vtable mem_vt;

/* ---- the tree ----------------------------------------------------------------- */

static struct node *node_new(const char *name, size_t name_len)
{
    struct node *n = rp_zk_xmalloc(sizeof *n);
    *n = (struct node){ .name = rp_zk_xmalloc(name_len + 1) };
    memcpy(n->name, name, name_len);
    n->name[name_len] = '\0';
    return n;
}

static void node_free(struct node *n)
{
    for (int32_t i = 0; i < n->stat.num_children; i++) node_free(n->kids[i]);
    weir_free(n->kids);
    weir_free(n->data);
    weir_free(n->name);
    weir_free(n);
}

/* Index of the child named name[0, len), or where it would go (*found false). */
static size_t kid_find(const struct node *p, const char *name, size_t len, bool *found)
{
    size_t lo = 0, hi = (size_t)p->stat.num_children;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *k = p->kids[mid]->name;
        int c = strncmp(k, name, len);
        if (c == 0) c = k[len] == '\0' ? 0 : 1;
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = false;
    return lo;
}

static void kid_insert(struct node *p, struct node *n)
{
    bool found;
    size_t at = kid_find(p, n->name, strlen(n->name), &found);
    WEIR_ASSERT(!found);
    size_t cnt = (size_t)p->stat.num_children;
    if (cnt == p->kids_cap) {
        p->kids_cap = p->kids_cap ? 2 * p->kids_cap : 4;
        p->kids = weir_realloc(p->kids, p->kids_cap * sizeof *p->kids);
        if (!p->kids) weir_panic("zookeeper (memory): out of memory");
    }
    memmove(p->kids + at + 1, p->kids + at, (cnt - at) * sizeof *p->kids);
    p->kids[at] = n;
    p->stat.num_children++;
    n->parent = p;
}

static void kid_remove(struct node *p, struct node *n)
{
    bool found;
    size_t at = kid_find(p, n->name, strlen(n->name), &found);
    WEIR_ASSERT(found && p->kids[at] == n);
    size_t cnt = (size_t)p->stat.num_children;
    memmove(p->kids + at, p->kids + at + 1, (cnt - at - 1) * sizeof *p->kids);
    p->stat.num_children--;
    n->parent = NULL;
}

/* The node at a valid world path, or NULL. */
static struct node *lookup(struct rp_zkmem_world *w, const char *path)
{
    struct node *n = w->root;
    const char *c = path + 1;
    while (n && *c) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        bool found;
        size_t at = kid_find(n, c, len, &found);
        n = found ? n->kids[at] : NULL;
        c += len + (e ? 1 : 0);
    }
    return n;
}

/* ---- sessions' paths ---------------------------------------------------------- */

/* The world path of a session path; NULL if the path is not valid (for a
 * create with these flags). */
static char *world_path(const struct mem_session *s, const char *path, unsigned create_flags)
{
    if (!rp_zk_path_valid_create(path, create_flags)) return NULL;
    if (s->chroot_len == 0) return rp_zk_xstrdup(path);
    size_t n = strlen(path);
    if (n == 1) return rp_zk_xstrdup(s->chroot);
    char *p = rp_zk_xmalloc(s->chroot_len + n + 1);
    memcpy(p, s->chroot, s->chroot_len);
    memcpy(p + s->chroot_len, path, n + 1);
    return p;
}

/* The session path of a world path inside the session's chroot. */
static const char *session_path(const struct mem_session *s, const char *wpath)
{
    if (s->chroot_len == 0) return wpath;
    WEIR_ASSERT(strncmp(wpath, s->chroot, s->chroot_len) == 0);
    return wpath[s->chroot_len] ? wpath + s->chroot_len : "/";
}

static void session_push(struct mem_session *s, struct rp_zk_ev *ev) { rp_zk_evq_push(&s->q, ev); }

/* ---- watches ---------------------------------------------------------------- */

static void watch_add(struct mem_session *s, const char *wpath, enum wkind kind, rp_zk_watch_fn *fn, void *ctx)
{
    struct rp_zkmem_world *w = s->w;
    struct wreg *r = rp_zk_xmalloc(sizeof *r);
    *r = (struct wreg){ .s = s, .path = rp_zk_xstrdup(wpath), .kind = kind, .fn = fn, .ctx = ctx };
    *w->watches_tail = r;
    w->watches_tail = &r->next;
}

/* Unlinks every registration `match` accepts; returns them in order. */
static struct wreg *watch_take(struct rp_zkmem_world *w, bool (*match)(const struct wreg *r, const void *arg),
                               const void *arg)
{
    struct wreg *taken = NULL, **ttail = &taken;
    struct wreg **pp = &w->watches;
    while (*pp) {
        struct wreg *r = *pp;
        if (match(r, arg)) {
            *pp = r->next;
            r->next = NULL;
            *ttail = r;
            ttail = &r->next;
        } else {
            pp = &r->next;
        }
    }
    w->watches_tail = pp;
    return taken;
}

static void wreg_free(struct wreg *r)
{
    weir_free(r->path);
    weir_free(r);
}

struct trigger {
    const char *path;
    enum rp_zk_event ev;
};

static bool trigger_match(const struct wreg *r, const void *arg)
{
    const struct trigger *t = arg;
    if (strcmp(r->path, t->path) != 0) return false;
    switch (t->ev) {
    case RP_ZK_EV_CREATED:
    case RP_ZK_EV_CHANGED: return r->kind == W_DATA || r->kind == W_EXIST;
    case RP_ZK_EV_DELETED: return true;
    case RP_ZK_EV_CHILD: return r->kind == W_CHILD;
    }
    return false;
}

static void trigger_fire(struct rp_zkmem_world *w, const char *path, enum rp_zk_event ev)
{
    struct trigger t = { path, ev };
    struct wreg *r = watch_take(w, trigger_match, &t);
    while (r) {
        struct wreg *next = r->next;
        struct mem_session *s = r->s;
        struct rp_zk_ev *e = rp_zk_ev_watch(r->fn, r->ctx, ev, session_path(s, path));
        rp_zk_evq_push(s->state == S_DISCONNECTED ? &s->held : &s->q, e);
        wreg_free(r);
        r = next;
    }
}

static bool session_match(const struct wreg *r, const void *arg) { return r->s == arg; }

static void session_drop_watches(struct mem_session *s)
{
    struct wreg *r = watch_take(s->w, session_match, s);
    while (r) {
        struct wreg *next = r->next;
        wreg_free(r);
        r = next;
    }
}

/* ---- transactions ------------------------------------------------------------ */

enum undo_kind { U_CREATE, U_SET, U_DELETE };
struct undo {
    enum undo_kind kind;
    struct node *n;
    struct node *parent;          /* create, delete */
    struct rp_zk_stat saved;      /* parent's (create, delete) or the node's (set) */
    int32_t saved_creations;      /* create: the parent's */
    uint8_t *saved_data;          /* set */
};

struct txn {
    struct rp_zkmem_world *w;
    struct mem_session *s;
    int64_t zxid;
    struct undo *undo;
    size_t n_undo;
    char **trig_path;             /* world paths, owned */
    enum rp_zk_event *trig_ev;
    size_t n_trig;
};

static void txn_trigger(struct txn *t, const char *path, enum rp_zk_event ev)
{
    t->trig_path[t->n_trig] = rp_zk_xstrdup(path);
    t->trig_ev[t->n_trig++] = ev;
}

/* "/a/b" -> "/a"; "/a" -> "/". Into buf (strlen(path) + 1 bytes). */
static void parent_of(const char *path, char *buf)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(buf, path, n);
    buf[n] = '\0';
}

/* Applies one op to the tree; *created (create) gets the world path. */
static enum rp_zk_rc txn_op(struct txn *t, const struct rp_zk_op *op, const char *wpath, char **created,
                            struct rp_zk_stat *stat)
{
    struct rp_zkmem_world *w = t->w;
    size_t plen = strlen(wpath);
    switch (op->type) {
    case RP_ZK_OP_CREATE: {
        if (plen == 1 && !(op->flags & RP_ZK_SEQUENTIAL)) return RP_ZK_NODEEXISTS; /* "/" */
        char *ppath = rp_zk_xmalloc(plen + 1);
        parent_of(wpath, ppath);
        struct node *p = lookup(w, ppath);
        if (!p) {
            weir_free(ppath);
            return RP_ZK_NONODE;
        }
        char *full = rp_zk_xmalloc(plen + 16);
        memcpy(full, wpath, plen + 1);
        if (op->flags & RP_ZK_SEQUENTIAL) snprintf(full + plen, 16, "%010d", p->creations);
        const char *name = strrchr(full, '/') + 1;
        bool found;
        kid_find(p, name, strlen(name), &found);
        if (found || p->stat.ephemeral_owner != 0) {
            weir_free(full);
            weir_free(ppath);
            return found ? RP_ZK_NODEEXISTS : RP_ZK_OTHER; /* OTHER: NOCHILDRENFOREPHEMERALS */
        }
        struct node *n = node_new(name, strlen(name));
        n->stat = (struct rp_zk_stat){ .czxid = t->zxid, .mzxid = t->zxid, .pzxid = t->zxid,
                                       .ephemeral_owner = (op->flags & RP_ZK_EPHEMERAL) ? t->s->id : 0,
                                       .data_len = (int32_t)op->len };
        if (op->len) n->data = memcpy(rp_zk_xmalloc(op->len), op->data, op->len);
        t->undo[t->n_undo++] = (struct undo){ .kind = U_CREATE, .n = n, .parent = p, .saved = p->stat,
                                              .saved_creations = p->creations };
        kid_insert(p, n);
        p->creations++;
        p->stat.cversion++;
        p->stat.pzxid = t->zxid;
        txn_trigger(t, full, RP_ZK_EV_CREATED);
        txn_trigger(t, ppath, RP_ZK_EV_CHILD);
        weir_free(ppath);
        *created = full;
        return RP_ZK_OK;
    }
    case RP_ZK_OP_SET: {
        struct node *n = lookup(w, wpath);
        if (!n) return RP_ZK_NONODE;
        if (op->version != -1 && op->version != n->stat.version) return RP_ZK_BADVERSION;
        t->undo[t->n_undo++] = (struct undo){ .kind = U_SET, .n = n, .saved = n->stat, .saved_data = n->data };
        n->data = op->len ? memcpy(rp_zk_xmalloc(op->len), op->data, op->len) : NULL;
        n->stat.data_len = (int32_t)op->len;
        n->stat.version++;
        n->stat.mzxid = t->zxid;
        *stat = n->stat;
        txn_trigger(t, wpath, RP_ZK_EV_CHANGED);
        return RP_ZK_OK;
    }
    case RP_ZK_OP_DELETE: {
        if (plen == 1) return RP_ZK_OTHER; /* the root stays */
        struct node *n = lookup(w, wpath);
        if (!n) return RP_ZK_NONODE;
        if (op->version != -1 && op->version != n->stat.version) return RP_ZK_BADVERSION;
        if (n->stat.num_children > 0) return RP_ZK_NOTEMPTY;
        struct node *p = n->parent;
        t->undo[t->n_undo++] = (struct undo){ .kind = U_DELETE, .n = n, .parent = p, .saved = p->stat };
        kid_remove(p, n);
        p->stat.cversion++;
        p->stat.pzxid = t->zxid;
        char *ppath = rp_zk_xmalloc(plen + 1);
        parent_of(wpath, ppath);
        txn_trigger(t, wpath, RP_ZK_EV_DELETED);
        txn_trigger(t, ppath, RP_ZK_EV_CHILD);
        weir_free(ppath);
        return RP_ZK_OK;
    }
    case RP_ZK_OP_CHECK: {
        struct node *n = lookup(w, wpath);
        if (!n) return RP_ZK_NONODE;
        if (op->version != -1 && op->version != n->stat.version) return RP_ZK_BADVERSION;
        return RP_ZK_OK;
    }
    }
    return RP_ZK_OTHER;
}

static void txn_undo(struct txn *t)
{
    while (t->n_undo > 0) {
        struct undo *u = &t->undo[--t->n_undo];
        switch (u->kind) {
        case U_CREATE:
            kid_remove(u->parent, u->n);
            u->parent->stat = u->saved;
            u->parent->creations = u->saved_creations;
            node_free(u->n);
            break;
        case U_SET:
            weir_free(u->n->data);
            u->n->data = u->saved_data;
            u->n->stat = u->saved;
            break;
        case U_DELETE:
            kid_insert(u->parent, u->n);
            u->parent->stat = u->saved;
            break;
        }
    }
}

static void txn_commit(struct txn *t)
{
    for (size_t i = 0; i < t->n_undo; i++) {
        struct undo *u = &t->undo[i];
        if (u->kind == U_SET) weir_free(u->saved_data);
        if (u->kind == U_DELETE) node_free(u->n);
    }
    t->w->zxid = t->zxid;
    for (size_t i = 0; i < t->n_trig; i++) trigger_fire(t->w, t->trig_path[i], t->trig_ev[i]);
}

/* Runs ops[0, n) of session s as one transaction. With ev, the results go
 * there (multi: per op; single: as the op's own result). Returns the rc. */
static enum rp_zk_rc txn_run(struct mem_session *s, const struct rp_zk_op *ops, size_t n, struct rp_zk_ev *ev,
                             bool multi)
{
    struct txn t = { .w = s->w, .s = s, .zxid = s->w->zxid + 1 };
    t.undo = rp_zk_xmalloc(n * sizeof *t.undo);
    t.trig_path = rp_zk_xmalloc(2 * n * sizeof *t.trig_path);
    t.trig_ev = rp_zk_xmalloc(2 * n * sizeof *t.trig_ev);
    char **created = rp_zk_xmalloc(n * sizeof *created);
    struct rp_zk_stat *stats = rp_zk_xmalloc(n * sizeof *stats);
    enum rp_zk_rc rc = RP_ZK_OK;
    size_t i;
    for (i = 0; i < n; i++) {
        created[i] = NULL;
        stats[i] = (struct rp_zk_stat){ 0 };
        char *wpath = world_path(s, ops[i].path, ops[i].type == RP_ZK_OP_CREATE ? ops[i].flags : 0);
        rc = wpath ? txn_op(&t, &ops[i], wpath, &created[i], &stats[i]) : RP_ZK_OTHER;
        weir_free(wpath);
        if (rc != RP_ZK_OK) break;
    }
    if (rc == RP_ZK_OK) txn_commit(&t);
    else txn_undo(&t);
    if (ev && rc == RP_ZK_OK) {
        if (multi) {
            rp_zk_ev_set_ops(ev, n);
            for (size_t j = 0; j < n; j++)
                rp_zk_ev_set_op(ev, j, RP_ZK_OK, created[j] ? session_path(s, created[j]) : NULL,
                                ops[j].type == RP_ZK_OP_SET ? &stats[j] : NULL);
        } else if (created[0]) {
            rp_zk_ev_set_path(ev, session_path(s, created[0]));
        } else {
            ev->res.stat = stats[0];
        }
    } else if (ev && multi) {
        ev->res.failed_op = (int)i;
    }
    for (size_t j = 0; j < n && j <= i; j++) weir_free(created[j]);
    for (size_t j = 0; j < t.n_trig; j++) weir_free(t.trig_path[j]);
    weir_free(created);
    weir_free(stats);
    weir_free(t.undo);
    weir_free(t.trig_path);
    weir_free(t.trig_ev);
    return rc;
}

/* Deletes the session's ephemeral nodes in one transaction (closeSession). */
static void collect_ephemerals(struct node *n, int64_t owner, struct rp_zk_op **ops, size_t *cnt, size_t *cap,
                               char *path, size_t plen)
{
    for (int32_t i = 0; i < n->stat.num_children; i++) {
        struct node *k = n->kids[i];
        size_t klen = strlen(k->name);
        char *kpath = rp_zk_xmalloc(plen + klen + 2);
        memcpy(kpath, path, plen);
        kpath[plen] = '/';
        memcpy(kpath + plen + 1, k->name, klen + 1);
        if (k->stat.ephemeral_owner == owner) {
            if (*cnt == *cap) {
                *cap = *cap ? 2 * *cap : 8;
                *ops = weir_realloc(*ops, *cap * sizeof **ops);
                if (!*ops) weir_panic("zookeeper (memory): out of memory");
            }
            (*ops)[(*cnt)++] = (struct rp_zk_op){ .type = RP_ZK_OP_DELETE, .path = kpath, .version = -1 };
        } else {
            collect_ephemerals(k, owner, ops, cnt, cap, kpath, plen + klen + 1);
            weir_free(kpath);
        }
    }
}

static void delete_ephemerals(struct mem_session *s)
{
    struct rp_zk_op *ops = NULL;
    size_t cnt = 0, cap = 0;
    collect_ephemerals(s->w->root, s->id, &ops, &cnt, &cap, "", 0);
    if (cnt == 0) return;
    /* World paths: run as a session without chroot. */
    struct mem_session root_view = { .w = s->w, .id = s->id, .chroot = "" };
    enum rp_zk_rc rc = txn_run(&root_view, ops, cnt, NULL, true);
    WEIR_ASSERT(rc == RP_ZK_OK); /* ephemerals have no children */
    for (size_t i = 0; i < cnt; i++) weir_free((char *)ops[i].path);
    weir_free(ops);
}

/* ---- the ops -------------------------------------------------------------------- */

static struct mem_session *mem_of(struct rp_zk *zk)
{
    WEIR_ASSERT(zk->vt == &mem_vt);
    return weir_container_of(zk, struct mem_session, zk);
}

/* The rc an op gets without touching the tree, or RP_ZK_OK to go on. */
static enum rp_zk_rc session_gate(const struct mem_session *s)
{
    if (s->closing) return RP_ZK_CLOSED;
    if (s->state == S_DISCONNECTED) return RP_ZK_CONNECTIONLOSS;
    if (s->state == S_EXPIRED) return RP_ZK_SESSIONEXPIRED;
    return RP_ZK_OK;
}

enum read_kind { R_GET, R_CHILDREN, R_EXISTS };

static void mem_read(struct rp_zk *zk, enum read_kind kind, const char *path, rp_zk_watch_fn *watch, void *wctx,
                     rp_zk_done_fn *done, void *ctx)
{
    struct mem_session *s = mem_of(zk);
    struct rp_zk_ev *ev = rp_zk_ev_done(done, ctx, session_gate(s));
    if (ev->rc != RP_ZK_OK) {
        session_push(s, ev);
        return;
    }
    char *wpath = world_path(s, path, 0);
    struct node *n = wpath ? lookup(s->w, wpath) : NULL;
    ev->rc = !wpath ? RP_ZK_OTHER : !n ? RP_ZK_NONODE : RP_ZK_OK;
    if (n) {
        ev->res.stat = n->stat;
        if (kind == R_GET) rp_zk_ev_set_data(ev, n->data, (size_t)n->stat.data_len);
        if (kind == R_CHILDREN) {
            const char **names = rp_zk_xmalloc(((size_t)n->stat.num_children + 1) * sizeof *names);
            for (int32_t i = 0; i < n->stat.num_children; i++) names[i] = n->kids[i]->name;
            rp_zk_ev_set_children(ev, names, (size_t)n->stat.num_children);
            weir_free(names);
        }
    }
    if (watch && wpath && (n || kind == R_EXISTS))
        watch_add(s, wpath, kind == R_CHILDREN ? W_CHILD : n ? W_DATA : W_EXIST, watch, wctx);
    weir_free(wpath);
    session_push(s, ev);
}

static void mem_get(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx, rp_zk_done_fn *done,
                    void *ctx)
{
    mem_read(zk, R_GET, path, watch, wctx, done, ctx);
}

static void mem_get_children(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx,
                             rp_zk_done_fn *done, void *ctx)
{
    mem_read(zk, R_CHILDREN, path, watch, wctx, done, ctx);
}

static void mem_exists(struct rp_zk *zk, const char *path, rp_zk_watch_fn *watch, void *wctx, rp_zk_done_fn *done,
                       void *ctx)
{
    mem_read(zk, R_EXISTS, path, watch, wctx, done, ctx);
}

static void mem_write(struct rp_zk *zk, const struct rp_zk_op *ops, size_t n, bool multi, rp_zk_done_fn *done,
                      void *ctx)
{
    struct mem_session *s = mem_of(zk);
    struct rp_zk_ev *ev = rp_zk_ev_done(done, ctx, session_gate(s));
    if (ev->rc == RP_ZK_OK && n == 0) ev->rc = RP_ZK_OTHER;
    if (ev->rc == RP_ZK_OK) ev->rc = txn_run(s, ops, n, ev, multi);
    session_push(s, ev);
}

static void mem_create(struct rp_zk *zk, const char *path, const void *data, size_t len, unsigned flags,
                       rp_zk_done_fn *done, void *ctx)
{
    struct rp_zk_op op = { .type = RP_ZK_OP_CREATE, .path = path, .data = data, .len = len, .flags = flags };
    mem_write(zk, &op, 1, false, done, ctx);
}

static void mem_set(struct rp_zk *zk, const char *path, const void *data, size_t len, int32_t version,
                    rp_zk_done_fn *done, void *ctx)
{
    struct rp_zk_op op = { .type = RP_ZK_OP_SET, .path = path, .data = data, .len = len, .version = version };
    mem_write(zk, &op, 1, false, done, ctx);
}

static void mem_del(struct rp_zk *zk, const char *path, int32_t version, rp_zk_done_fn *done, void *ctx)
{
    struct rp_zk_op op = { .type = RP_ZK_OP_DELETE, .path = path, .version = version };
    mem_write(zk, &op, 1, false, done, ctx);
}

static void mem_multi(struct rp_zk *zk, const struct rp_zk_op *ops, size_t n, rp_zk_done_fn *done, void *ctx)
{
    mem_write(zk, ops, n, true, done, ctx);
}

/* ---- dispatch, close ---------------------------------------------------------- */

static void session_free(struct mem_session *s)
{
    struct mem_session **pp = &s->w->sessions;
    while (*pp != s) pp = &(*pp)->next;
    *pp = s->next;
    weir_free(s->chroot);
    weir_free(s);
}

/* Runs the completions left with RP_ZK_CLOSED (and those their callbacks
 * submit), drops everything else, frees the session. */
static void session_close(struct mem_session *s)
{
    s->closing = true;
    session_drop_watches(s);
    if (s->state != S_EXPIRED) delete_ephemerals(s);
    struct rp_zk_ev *ev;
    while ((ev = rp_zk_evq_pop(&s->held))) rp_zk_ev_free(ev);
    while ((ev = rp_zk_evq_pop(&s->q))) {
        if (ev->kind == RP_ZK_EV_KIND_DONE) {
            rp_zk_ev_clear(ev, RP_ZK_CLOSED);
            rp_zk_ev_run(ev);
        } else {
            rp_zk_ev_free(ev);
        }
    }
    session_free(s);
}

static int mem_dispatch(struct rp_zk *zk)
{
    struct mem_session *s = mem_of(zk);
    WEIR_ASSERT(!s->in_dispatch);
    struct rp_zk_evq now = s->q; /* only what is queued at the start */
    if (rp_zk_evq_empty(&now)) return 0;
    rp_zk_evq_init(&s->q);
    s->in_dispatch = true;
    int ran = 0;
    struct rp_zk_ev *ev;
    while (!s->closing && (ev = rp_zk_evq_pop(&now))) {
        if (ev->kind == RP_ZK_EV_KIND_SESSION && ev->session_event == RP_ZK_SESSION_CONNECTED) s->id_seen = s->id;
        rp_zk_ev_run(ev);
        ran++;
    }
    s->in_dispatch = false;
    rp_zk_evq_move(&now, &s->q); /* what was not run goes first */
    s->q = now;
    if (rp_zk_evq_empty(&s->q)) rp_zk_evq_init(&s->q);
    if (s->closing) session_close(s);
    return ran;
}

static int mem_fd(struct rp_zk *zk)
{
    (void)zk;
    return -1;
}

static int64_t mem_session_id(struct rp_zk *zk) { return mem_of(zk)->id_seen; }

static void mem_close(struct rp_zk *zk)
{
    struct mem_session *s = mem_of(zk);
    if (s->in_dispatch) {
        s->closing = true;
        return;
    }
    session_close(s);
}

static const struct rp_zk_vtable mem_vt = {
    .get = mem_get,
    .get_children = mem_get_children,
    .exists = mem_exists,
    .create = mem_create,
    .set = mem_set,
    .del = mem_del,
    .multi = mem_multi,
    .dispatch = mem_dispatch,
    .fd = mem_fd,
    .session_id = mem_session_id,
    .close = mem_close,
};

/* ---- the world -------------------------------------------------------------- */

struct rp_zkmem_world *rp_zkmem_world_new(void)
{
    struct rp_zkmem_world *w = rp_zk_xmalloc(sizeof *w);
    *w = (struct rp_zkmem_world){ .root = node_new("", 0), .next_session_id = 1 };
    w->watches_tail = &w->watches;
    return w;
}

void rp_zkmem_world_free(struct rp_zkmem_world *w)
{
    if (!w) return;
    WEIR_ASSERT(w->sessions == NULL && w->watches == NULL);
    node_free(w->root);
    weir_free(w);
}

int64_t rp_zkmem_zxid(const struct rp_zkmem_world *w) { return w->zxid; }

struct rp_zk *rp_zkmem_open(struct rp_zkmem_world *w, const char *chroot, rp_zk_session_fn *session_cb,
                            void *ctx)
{
    if (chroot && *chroot) WEIR_ASSERT(rp_zk_path_valid(chroot) && strcmp(chroot, "/") != 0);
    struct mem_session *s = rp_zk_xmalloc(sizeof *s);
    *s = (struct mem_session){ .zk = { &mem_vt }, .w = w, .id = w->next_session_id++,
                               .chroot = rp_zk_xstrdup(chroot ? chroot : ""), .session_cb = session_cb,
                               .ctx = ctx };
    s->chroot_len = strlen(s->chroot);
    rp_zk_evq_init(&s->q);
    rp_zk_evq_init(&s->held);
    s->next = w->sessions;
    w->sessions = s;
    session_push(s, rp_zk_ev_session(session_cb, ctx, RP_ZK_SESSION_CONNECTED));
    return &s->zk;
}

void rp_zkmem_disconnect(struct rp_zk *zk)
{
    struct mem_session *s = mem_of(zk);
    if (s->closing || s->state != S_CONNECTED) return;
    for (struct rp_zk_ev *ev = s->q.head; ev; ev = ev->next)
        if (ev->kind == RP_ZK_EV_KIND_DONE) rp_zk_ev_clear(ev, RP_ZK_CONNECTIONLOSS);
    s->state = S_DISCONNECTED;
    session_push(s, rp_zk_ev_session(s->session_cb, s->ctx, RP_ZK_SESSION_DISCONNECTED));
}

void rp_zkmem_reconnect(struct rp_zk *zk)
{
    struct mem_session *s = mem_of(zk);
    if (s->closing || s->state != S_DISCONNECTED) return;
    s->state = S_CONNECTED;
    session_push(s, rp_zk_ev_session(s->session_cb, s->ctx, RP_ZK_SESSION_CONNECTED));
    rp_zk_evq_move(&s->q, &s->held);
}

void rp_zkmem_expire(struct rp_zk *zk)
{
    struct mem_session *s = mem_of(zk);
    if (s->closing || s->state == S_EXPIRED) return;
    rp_zkmem_disconnect(zk);
    s->state = S_EXPIRED;
    session_drop_watches(s);
    struct rp_zk_ev *ev;
    while ((ev = rp_zk_evq_pop(&s->held))) rp_zk_ev_free(ev);
    delete_ephemerals(s);
    session_push(s, rp_zk_ev_session(s->session_cb, s->ctx, RP_ZK_SESSION_EXPIRED));
}
