/* tests/test_repl_zk.c: one conformance suite for struct rp_zk (repl/zk_int.h),
 * run against the in-memory implementation (zkmem.c) and against a real
 * ZooKeeper server this test starts (zk.c), then zkmem's own controls
 * (disconnect, reconnect, expiry, determinism). */
#include "repl/zk_int.h"
#include "testutil.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* ---- the implementation under test ------------------------------------------------- */

enum { MAX_OPEN = 8 };
struct sess {
    struct impl *im;
    struct rp_zk *zk;
    int connected, disconnected, expired;
    enum rp_zk_session_event events[16]; /* the first 16 */
    int n_events;
    enum rp_zk_session_event last;       /* the latest, however many came */
};

/* Sessions live here, not on a test's stack: teardown closes what a failed
 * test left open. */
struct impl {
    bool real;
    struct weir_test_zk server;       /* real */
    struct rp_zkmem_world *world;     /* zkmem: a fresh one per test */
    struct sess pool[MAX_OPEN];       /* zk != NULL: open */
};

static void sess_event(void *ctx, enum rp_zk_session_event ev)
{
    struct sess *s = ctx;
    if (s->n_events < 16) s->events[s->n_events++] = ev;
    s->last = ev;
    if (ev == RP_ZK_SESSION_CONNECTED) s->connected++;
    if (ev == RP_ZK_SESSION_DISCONNECTED) s->disconnected++;
    if (ev == RP_ZK_SESSION_EXPIRED) s->expired++;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Dispatches zk until *flag is set (bounded: ms). In memory, nothing can
 * arrive later: an empty dispatch with the flag unset is a failure. */
static void wait_for_ms(struct rp_zk *zk, const int *flag, int64_t ms)
{
    int64_t deadline = now_ms() + ms;
    while (!*flag) {
        int ran = rp_zk_dispatch(zk);
        if (*flag) break;
        int fd = rp_zk_fd(zk);
        if (fd < 0) {
            assert_true(ran > 0);
            continue;
        }
        int64_t left = deadline - now_ms();
        assert_true(left > 0);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        poll(&p, 1, (int)left);
    }
}

static void wait_for(struct rp_zk *zk, const int *flag) { wait_for_ms(zk, flag, 20000); }

static struct sess *sess_open(struct impl *im, const char *chroot)
{
    struct sess *s = NULL;
    for (int i = 0; i < MAX_OPEN && !s; i++)
        if (!im->pool[i].zk) s = &im->pool[i];
    assert_non_null(s);
    *s = (struct sess){ .im = im };
    if (im->real) {
        char connect[128];
        snprintf(connect, sizeof connect, "%s%s", im->server.connect, chroot ? chroot : "");
        assert_int_equal(rp_zk_open(connect, 30000, sess_event, s, &s->zk), WEIR_OK);
    } else {
        s->zk = rp_zkmem_open(im->world, chroot, sess_event, s);
    }
    wait_for(s->zk, &s->connected);
    assert_int_equal(s->events[0], RP_ZK_SESSION_CONNECTED);
    assert_true(rp_zk_session_id(s->zk) != 0);
    return s;
}

static void sess_close(struct sess *s)
{
    struct rp_zk *zk = s->zk;
    s->zk = NULL;
    rp_zk_close(zk);
}

#define assert_rc(expr, want) assert_string_equal(rp_zk_rc_str(expr), rp_zk_rc_str(want))

/* ---- synchronous helpers ------------------------------------------------------------ */

struct res {
    int done;
    enum rp_zk_rc rc;
    char data[256];
    size_t len;
    struct rp_zk_stat stat;
    char path[256];
    char children[16][64];
    size_t n_children;
    int failed_op;
    size_t n_ops;
    enum rp_zk_rc op_rc[8];
    char op_path[8][128];
    struct rp_zk_stat op_stat[8];
};

static void res_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct res *out = ctx;
    *out = (struct res){ .done = 1, .rc = rc, .len = r->len, .stat = r->stat, .n_children = r->n_children,
                         .failed_op = r->failed_op, .n_ops = r->n_ops };
    assert_true(r->len < sizeof out->data);
    if (r->len) memcpy(out->data, r->data, r->len);
    if (r->path) snprintf(out->path, sizeof out->path, "%s", r->path);
    assert_true(r->n_children <= 16);
    for (size_t i = 0; i < r->n_children; i++) snprintf(out->children[i], 64, "%s", r->children[i]);
    assert_true(r->n_ops <= 8);
    for (size_t i = 0; i < r->n_ops; i++) {
        out->op_rc[i] = r->ops[i].rc;
        out->op_stat[i] = r->ops[i].stat;
        if (r->ops[i].path) snprintf(out->op_path[i], 128, "%s", r->ops[i].path);
    }
}

static struct res r_; /* the last answer of the helpers below */

static enum rp_zk_rc zcreate(struct sess *s, const char *path, const char *data, unsigned flags)
{
    r_ = (struct res){ 0 };
    rp_zk_create(s->zk, path, data, data ? strlen(data) : 0, flags, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zget(struct sess *s, const char *path)
{
    r_ = (struct res){ 0 };
    rp_zk_get(s->zk, path, NULL, NULL, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zexists(struct sess *s, const char *path)
{
    r_ = (struct res){ 0 };
    rp_zk_exists(s->zk, path, NULL, NULL, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zchildren(struct sess *s, const char *path)
{
    r_ = (struct res){ 0 };
    rp_zk_get_children(s->zk, path, NULL, NULL, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zset(struct sess *s, const char *path, const char *data, int32_t version)
{
    r_ = (struct res){ 0 };
    rp_zk_set(s->zk, path, data, strlen(data), version, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zdelete(struct sess *s, const char *path, int32_t version)
{
    r_ = (struct res){ 0 };
    rp_zk_delete(s->zk, path, version, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zmulti(struct sess *s, const struct rp_zk_op *ops, size_t n)
{
    r_ = (struct res){ 0 };
    rp_zk_multi(s->zk, ops, n, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

static enum rp_zk_rc zensure(struct sess *s, const char *path)
{
    r_ = (struct res){ 0 };
    rp_zk_ensure_path(s->zk, path, res_cb, &r_);
    wait_for(s->zk, &r_.done);
    return r_.rc;
}

/* A server ends a closed session's ephemerals soon after close; in memory at once. */
static void wait_nonode(struct sess *s, const char *path)
{
    for (int i = 0; i < 200 && zexists(s, path) == RP_ZK_OK; i++) {
        assert_true(s->im->real);
        usleep(50 * 1000);
    }
    assert_rc(zexists(s, path), RP_ZK_NONODE);
}

struct wres {
    int fired;
    enum rp_zk_event ev;
    char path[128];
};

static void watch_cb(void *ctx, enum rp_zk_event ev, const char *path)
{
    struct wres *w = ctx;
    w->fired++;
    w->ev = ev;
    snprintf(w->path, sizeof w->path, "%s", path);
}


/* ---- conformance cases -------------------------------------------------------------- */

static void t_crud_versions(void **state)
{
    struct sess *a;
    a = sess_open(*state, NULL);
    assert_rc(zcreate(a, "/crud", "a", 0), RP_ZK_OK);
    assert_string_equal(r_.path, "/crud");
    assert_rc(zget(a, "/crud"), RP_ZK_OK);
    assert_int_equal(r_.len, 1);
    assert_memory_equal(r_.data, "a", 1);
    assert_int_equal(r_.stat.version, 0);
    assert_int_equal(r_.stat.data_len, 1);
    assert_int_equal(r_.stat.ephemeral_owner, 0);
    assert_true(r_.stat.czxid > 0 && r_.stat.czxid == r_.stat.mzxid);
    int64_t czxid = r_.stat.czxid;

    assert_rc(zset(a, "/crud", "bb", 0), RP_ZK_OK);
    assert_int_equal(r_.stat.version, 1);
    assert_int_equal(r_.stat.czxid, czxid);
    assert_true(r_.stat.mzxid > czxid);
    assert_rc(zset(a, "/crud", "cc", 0), RP_ZK_BADVERSION);
    assert_rc(zget(a, "/crud"), RP_ZK_OK);
    assert_int_equal(r_.len, 2);
    assert_memory_equal(r_.data, "bb", 2);
    assert_rc(zset(a, "/crud", "ccc", -1), RP_ZK_OK);
    assert_int_equal(r_.stat.version, 2);
    assert_rc(zset(a, "/crud", "", 2), RP_ZK_OK); /* empty data */
    assert_rc(zget(a, "/crud"), RP_ZK_OK);
    assert_int_equal(r_.len, 0);
    assert_int_equal(r_.stat.version, 3);

    assert_rc(zdelete(a, "/crud", 2), RP_ZK_BADVERSION);
    assert_rc(zexists(a, "/crud"), RP_ZK_OK);
    assert_int_equal(r_.stat.version, 3);
    assert_rc(zdelete(a, "/crud", 3), RP_ZK_OK);
    assert_rc(zget(a, "/crud"), RP_ZK_NONODE);
    assert_rc(zexists(a, "/crud"), RP_ZK_NONODE);
    assert_rc(zcreate(a, "/crud", NULL, 0), RP_ZK_OK); /* again, from version 0 */
    assert_rc(zget(a, "/crud"), RP_ZK_OK);
    assert_int_equal(r_.stat.version, 0);
    assert_true(r_.stat.czxid > czxid);
    assert_rc(zdelete(a, "/crud", -1), RP_ZK_OK);
    sess_close(a);
}

static void t_errors(void **state)
{
    struct sess *a;
    a = sess_open(*state, NULL);
    assert_rc(zcreate(a, "/err", "x", 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/err", "y", 0), RP_ZK_NODEEXISTS);
    assert_rc(zcreate(a, "/err-missing/child", "y", 0), RP_ZK_NONODE);
    assert_rc(zset(a, "/err-missing", "y", -1), RP_ZK_NONODE);
    assert_rc(zdelete(a, "/err-missing", -1), RP_ZK_NONODE);
    assert_rc(zchildren(a, "/err-missing"), RP_ZK_NONODE);
    assert_rc(zget(a, "/err-missing"), RP_ZK_NONODE);
    assert_rc(zcreate(a, "/err/kid", NULL, 0), RP_ZK_OK);
    assert_rc(zdelete(a, "/err", -1), RP_ZK_NOTEMPTY);
    assert_rc(zdelete(a, "/err", 0), RP_ZK_NOTEMPTY);
    assert_rc(zdelete(a, "/err", 7), RP_ZK_BADVERSION); /* the version is checked first */
    static const char *const bad[] = { "err", "/err/", "//err", "/err//kid", "/err/./kid", "/err/..", "" };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++) {
        assert_rc(zcreate(a, bad[i], NULL, 0), RP_ZK_OTHER);
        assert_rc(zget(a, bad[i]), RP_ZK_OTHER);
    }
    assert_rc(zexists(a, "/"), RP_ZK_OK);
    assert_rc(zdelete(a, "/err/kid", -1), RP_ZK_OK);
    assert_rc(zdelete(a, "/err", -1), RP_ZK_OK);
    sess_close(a);
}

static void t_children(void **state)
{
    struct sess *a;
    a = sess_open(*state, NULL);
    assert_rc(zcreate(a, "/ch", NULL, 0), RP_ZK_OK);
    assert_rc(zchildren(a, "/ch"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 0);
    assert_int_equal(r_.stat.cversion, 0);
    static const char *const names[] = { "b", "a", "c10", "c9", "B" };
    char path[64];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(names); i++) {
        snprintf(path, sizeof path, "/ch/%s", names[i]);
        assert_rc(zcreate(a, path, names[i], 0), RP_ZK_OK);
    }
    assert_rc(zchildren(a, "/ch"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 5);
    static const char *const sorted[] = { "B", "a", "b", "c10", "c9" };
    for (size_t i = 0; i < 5; i++) assert_string_equal(r_.children[i], sorted[i]);
    assert_int_equal(r_.stat.num_children, 5);
    assert_int_equal(r_.stat.cversion, 5);
    assert_int_equal(r_.stat.version, 0); /* children do not change the data version */
    int64_t pzxid = r_.stat.pzxid;
    assert_rc(zdelete(a, "/ch/b", -1), RP_ZK_OK);
    assert_rc(zchildren(a, "/ch"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 4);
    assert_string_equal(r_.children[1], "a");
    assert_string_equal(r_.children[2], "c10");
    assert_int_equal(r_.stat.cversion, 6);
    assert_true(r_.stat.pzxid > pzxid);
    assert_rc(zset(a, "/ch/a", "changed", -1), RP_ZK_OK);
    assert_rc(zexists(a, "/ch"), RP_ZK_OK);
    assert_int_equal(r_.stat.cversion, 6); /* a child's data is not a child change */
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/ch/%s", sorted[i]);
        enum rp_zk_rc rc = zdelete(a, path, -1);
        assert_true(rc == RP_ZK_OK || (i == 2 && rc == RP_ZK_NONODE));
    }
    assert_rc(zdelete(a, "/ch", -1), RP_ZK_OK);
    sess_close(a);
}

static void t_ephemeral(void **state)
{
    struct sess *a, *b;
    a = sess_open(*state, NULL);
    b = sess_open(*state, NULL);
    assert_true(rp_zk_session_id(a->zk) != rp_zk_session_id(b->zk));
    assert_rc(zcreate(a, "/eph", NULL, 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/eph/e1", "mine", RP_ZK_EPHEMERAL), RP_ZK_OK);
    assert_rc(zget(b, "/eph/e1"), RP_ZK_OK);
    assert_int_equal(r_.stat.ephemeral_owner, rp_zk_session_id(a->zk));
    assert_rc(zcreate(b, "/eph/e1/kid", NULL, 0), RP_ZK_OTHER); /* no children for ephemerals */
    assert_rc(zcreate(a, "/eph/e1/kid", NULL, 0), RP_ZK_OTHER);

    struct wres wexists = { 0 }, wkids = { 0 };
    struct res r1 = { 0 }, r2 = { 0 };
    rp_zk_exists(b->zk, "/eph/e1", watch_cb, &wexists, res_cb, &r1);
    wait_for(b->zk, &r1.done);
    assert_rc(r1.rc, RP_ZK_OK);
    rp_zk_get_children(b->zk, "/eph", watch_cb, &wkids, res_cb, &r2);
    wait_for(b->zk, &r2.done);
    assert_int_equal(r2.n_children, 1);

    sess_close(a);
    wait_for(b->zk, &wexists.fired);
    assert_int_equal(wexists.ev, RP_ZK_EV_DELETED);
    assert_string_equal(wexists.path, "/eph/e1");
    wait_for(b->zk, &wkids.fired);
    assert_int_equal(wkids.ev, RP_ZK_EV_CHILD);
    assert_string_equal(wkids.path, "/eph");
    assert_rc(zexists(b, "/eph/e1"), RP_ZK_NONODE);
    assert_rc(zchildren(b, "/eph"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 0);
    assert_int_equal(wexists.fired, 1);
    assert_int_equal(wkids.fired, 1);
    assert_rc(zdelete(b, "/eph", -1), RP_ZK_OK);
    sess_close(b);
}

static void t_sequential(void **state)
{
    struct sess *a;
    a = sess_open(*state, NULL);
    assert_rc(zcreate(a, "/seq", NULL, 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/seq/n-", "0", RP_ZK_SEQUENTIAL), RP_ZK_OK);
    assert_string_equal(r_.path, "/seq/n-0000000000");
    assert_rc(zcreate(a, "/seq/n-", "1", RP_ZK_SEQUENTIAL), RP_ZK_OK);
    assert_string_equal(r_.path, "/seq/n-0000000001");
    assert_rc(zdelete(a, "/seq/n-0000000000", -1), RP_ZK_OK);
    assert_rc(zchildren(a, "/seq"), RP_ZK_OK);
    assert_int_equal(r_.stat.cversion, 3); /* a delete is a child change */
    /* but the suffix counts the parent's child creations (as ZooKeeper 3.8 does) */
    assert_rc(zcreate(a, "/seq/e-", NULL, RP_ZK_SEQUENTIAL | RP_ZK_EPHEMERAL), RP_ZK_OK);
    assert_string_equal(r_.path, "/seq/e-0000000002");
    assert_rc(zget(a, "/seq/e-0000000002"), RP_ZK_OK);
    assert_int_equal(r_.stat.ephemeral_owner, rp_zk_session_id(a->zk));
    assert_rc(zcreate(a, "/seq/", NULL, RP_ZK_SEQUENTIAL), RP_ZK_OK); /* a name of digits alone */
    assert_string_equal(r_.path, "/seq/0000000003");
    assert_rc(zcreate(a, "/seq/plain", NULL, 0), RP_ZK_OK); /* any creation counts */
    assert_rc(zdelete(a, "/seq/plain", -1), RP_ZK_OK);
    assert_rc(zcreate(a, "/seq/n-", NULL, RP_ZK_SEQUENTIAL), RP_ZK_OK);
    assert_string_equal(r_.path, "/seq/n-0000000005");
    assert_rc(zdelete(a, "/seq/n-0000000005", -1), RP_ZK_OK);
    assert_rc(zchildren(a, "/seq"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 3);
    assert_int_equal(r_.stat.cversion, 9);
    assert_string_equal(r_.children[0], "0000000003");
    assert_string_equal(r_.children[1], "e-0000000002");
    assert_string_equal(r_.children[2], "n-0000000001");
    sess_close(a);
}

static void t_multi(void **state)
{
    struct sess *a;
    a = sess_open(*state, NULL);
    assert_rc(zcreate(a, "/m", "v0", 0), RP_ZK_OK);
    struct rp_zk_op ok_ops[] = {
        { .type = RP_ZK_OP_CREATE, .path = "/m/a", .data = "x", .len = 1 },
        { .type = RP_ZK_OP_SET, .path = "/m", .data = "v1", .len = 2, .version = 0 },
        { .type = RP_ZK_OP_CHECK, .path = "/m", .version = 1 },
        { .type = RP_ZK_OP_CREATE, .path = "/m/s-", .flags = RP_ZK_SEQUENTIAL },
        { .type = RP_ZK_OP_CHECK, .path = "/m/a", .version = -1 },
    };
    assert_rc(zmulti(a, ok_ops, WEIR_ARRAY_LEN(ok_ops)), RP_ZK_OK);
    assert_int_equal(r_.n_ops, 5);
    assert_int_equal(r_.failed_op, -1);
    for (size_t i = 0; i < 5; i++) assert_rc(r_.op_rc[i], RP_ZK_OK);
    assert_string_equal(r_.op_path[0], "/m/a");
    assert_int_equal(r_.op_stat[1].version, 1);
    assert_string_equal(r_.op_path[3], "/m/s-0000000001"); /* after /m/a's create */
    int64_t zxid = r_.op_stat[1].mzxid;
    assert_rc(zget(a, "/m/a"), RP_ZK_OK);
    assert_int_equal(r_.stat.czxid, zxid); /* one transaction, one zxid */
    assert_rc(zget(a, "/m/s-0000000001"), RP_ZK_OK);
    assert_int_equal(r_.stat.czxid, zxid);

    /* A failing check aborts everything before and after it. */
    struct rp_zk_op bad_check[] = {
        { .type = RP_ZK_OP_CREATE, .path = "/m/c", .data = "x", .len = 1 },
        { .type = RP_ZK_OP_SET, .path = "/m", .data = "v2", .len = 2, .version = -1 },
        { .type = RP_ZK_OP_DELETE, .path = "/m/a", .version = -1 },
        { .type = RP_ZK_OP_CHECK, .path = "/m", .version = 1 }, /* /m is at 2 by now */
        { .type = RP_ZK_OP_CREATE, .path = "/m/d" },
    };
    assert_rc(zmulti(a, bad_check, WEIR_ARRAY_LEN(bad_check)), RP_ZK_BADVERSION);
    assert_int_equal(r_.failed_op, 3);
    assert_rc(zexists(a, "/m/c"), RP_ZK_NONODE);
    assert_rc(zexists(a, "/m/d"), RP_ZK_NONODE);
    assert_rc(zexists(a, "/m/a"), RP_ZK_OK);
    assert_rc(zget(a, "/m"), RP_ZK_OK);
    assert_int_equal(r_.len, 2);
    assert_memory_equal(r_.data, "v1", 2);
    assert_int_equal(r_.stat.version, 1);
    assert_int_equal(r_.stat.cversion, 2);

    struct rp_zk_op exists_op[] = {
        { .type = RP_ZK_OP_DELETE, .path = "/m/a", .version = 0 },
        { .type = RP_ZK_OP_CREATE, .path = "/m/s-0000000001" },
    };
    assert_rc(zmulti(a, exists_op, 2), RP_ZK_NODEEXISTS);
    assert_int_equal(r_.failed_op, 1);
    assert_rc(zexists(a, "/m/a"), RP_ZK_OK);
    struct rp_zk_op nonode_op[] = {
        { .type = RP_ZK_OP_CHECK, .path = "/m/none", .version = -1 },
    };
    assert_rc(zmulti(a, nonode_op, 1), RP_ZK_NONODE);
    assert_int_equal(r_.failed_op, 0);

    /* Ops see the earlier ops' effects: a node created and deleted at once. */
    struct rp_zk_op chain[] = {
        { .type = RP_ZK_OP_CREATE, .path = "/m/t" },
        { .type = RP_ZK_OP_CREATE, .path = "/m/t/u" },
        { .type = RP_ZK_OP_DELETE, .path = "/m/t/u", .version = 0 },
        { .type = RP_ZK_OP_DELETE, .path = "/m/t", .version = 0 },
        { .type = RP_ZK_OP_DELETE, .path = "/m/a", .version = 0 },
        { .type = RP_ZK_OP_DELETE, .path = "/m/s-0000000001", .version = 0 },
        { .type = RP_ZK_OP_DELETE, .path = "/m", .version = 1 },
    };
    assert_rc(zmulti(a, chain, WEIR_ARRAY_LEN(chain)), RP_ZK_OK);
    assert_rc(zexists(a, "/m"), RP_ZK_NONODE);
    sess_close(a);
}

static void t_watches(void **state)
{
    struct sess *a, *b;
    a = sess_open(*state, NULL);
    b = sess_open(*state, NULL);
    assert_rc(zcreate(b, "/w", "0", 0), RP_ZK_OK);

    /* get: one registration, one event, however many changes follow */
    struct wres wd = { 0 }, wd2 = { 0 };
    struct res r = { 0 };
    rp_zk_get(a->zk, "/w", watch_cb, &wd, res_cb, &r);
    wait_for(a->zk, &r.done);
    r = (struct res){ 0 };
    rp_zk_get(a->zk, "/w", watch_cb, &wd2, res_cb, &r); /* a second registration on the path */
    wait_for(a->zk, &r.done);
    assert_rc(zset(b, "/w", "1", -1), RP_ZK_OK);
    wait_for(a->zk, &wd.fired);
    wait_for(a->zk, &wd2.fired);
    assert_int_equal(wd.ev, RP_ZK_EV_CHANGED);
    assert_string_equal(wd.path, "/w");
    assert_rc(zset(b, "/w", "2", -1), RP_ZK_OK);
    assert_rc(zget(a, "/w"), RP_ZK_OK); /* a round trip: an event would come before it */
    assert_memory_equal(r_.data, "2", 1);
    assert_int_equal(wd.fired, 1);
    assert_int_equal(wd2.fired, 1);

    /* exists on a missing node: CREATED */
    struct wres we = { 0 };
    r = (struct res){ 0 };
    rp_zk_exists(a->zk, "/w/k", watch_cb, &we, res_cb, &r);
    wait_for(a->zk, &r.done);
    assert_rc(r.rc, RP_ZK_NONODE);
    /* children: CHILD */
    struct wres wc = { 0 };
    r = (struct res){ 0 };
    rp_zk_get_children(a->zk, "/w", watch_cb, &wc, res_cb, &r);
    wait_for(a->zk, &r.done);
    assert_rc(zcreate(b, "/w/k", NULL, 0), RP_ZK_OK);
    wait_for(a->zk, &we.fired);
    assert_int_equal(we.ev, RP_ZK_EV_CREATED);
    assert_string_equal(we.path, "/w/k");
    wait_for(a->zk, &wc.fired);
    assert_int_equal(wc.ev, RP_ZK_EV_CHILD);
    assert_string_equal(wc.path, "/w");

    /* a failed get sets no watch */
    struct wres wnone = { 0 };
    r = (struct res){ 0 };
    rp_zk_get(a->zk, "/w/none", watch_cb, &wnone, res_cb, &r);
    wait_for(a->zk, &r.done);
    assert_rc(r.rc, RP_ZK_NONODE);
    assert_rc(zcreate(b, "/w/none", NULL, 0), RP_ZK_OK);

    /* deletion: data and child watches both fire DELETED */
    struct wres wdel = { 0 }, wkdel = { 0 };
    r = (struct res){ 0 };
    rp_zk_exists(a->zk, "/w/k", watch_cb, &wdel, res_cb, &r);
    wait_for(a->zk, &r.done);
    r = (struct res){ 0 };
    rp_zk_get_children(a->zk, "/w/k", watch_cb, &wkdel, res_cb, &r);
    wait_for(a->zk, &r.done);
    assert_rc(zdelete(b, "/w/k", -1), RP_ZK_OK);
    wait_for(a->zk, &wdel.fired);
    wait_for(a->zk, &wkdel.fired);
    assert_int_equal(wdel.ev, RP_ZK_EV_DELETED);
    assert_int_equal(wkdel.ev, RP_ZK_EV_DELETED);
    assert_string_equal(wkdel.path, "/w/k");

    /* an own change fires an own watch too */
    struct wres wown = { 0 };
    r = (struct res){ 0 };
    rp_zk_exists(a->zk, "/w", watch_cb, &wown, res_cb, &r);
    wait_for(a->zk, &r.done);
    assert_rc(zset(a, "/w", "3", 2), RP_ZK_OK);
    assert_int_equal(wown.fired, 1); /* dispatched before the set's completion */
    assert_int_equal(wown.ev, RP_ZK_EV_CHANGED);

    assert_rc(zget(a, "/w/none"), RP_ZK_OK);
    assert_int_equal(wnone.fired, 0);
    assert_int_equal(we.fired, 1);
    assert_int_equal(wc.fired, 1);
    assert_rc(zdelete(b, "/w/none", -1), RP_ZK_OK);
    assert_rc(zdelete(b, "/w", -1), RP_ZK_OK);
    sess_close(a);
    sess_close(b);
}

static void t_chroot(void **state)
{
    struct impl *im = *state;
    struct sess *a, *c;
    a = sess_open(im, NULL);
    assert_rc(zensure(a, "/chr/a/b"), RP_ZK_OK);
    assert_rc(zensure(a, "/chr/a/b"), RP_ZK_OK); /* idempotent */
    assert_rc(zensure(a, "/"), RP_ZK_OK);
    assert_rc(zensure(a, "/chr//x"), RP_ZK_OTHER);
    assert_rc(zexists(a, "/chr/a/b"), RP_ZK_OK);

    c = sess_open(im, "/chr/a");
    assert_rc(zcreate(c, "/x", "in", 0), RP_ZK_OK);
    assert_string_equal(r_.path, "/x");
    assert_rc(zcreate(c, "/s-", NULL, RP_ZK_SEQUENTIAL), RP_ZK_OK);
    assert_string_equal(r_.path, "/s-0000000002");
    assert_rc(zchildren(c, "/"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 3);
    assert_string_equal(r_.children[0], "b");
    assert_string_equal(r_.children[1], "s-0000000002");
    assert_string_equal(r_.children[2], "x");
    assert_rc(zget(a, "/chr/a/x"), RP_ZK_OK);
    assert_memory_equal(r_.data, "in", 2);

    struct wres w = { 0 };
    struct res r = { 0 };
    rp_zk_exists(c->zk, "/y", watch_cb, &w, res_cb, &r);
    wait_for(c->zk, &r.done);
    assert_rc(r.rc, RP_ZK_NONODE);
    assert_rc(zcreate(a, "/chr/a/y", NULL, 0), RP_ZK_OK);
    wait_for(c->zk, &w.fired);
    assert_int_equal(w.ev, RP_ZK_EV_CREATED);
    assert_string_equal(w.path, "/y");

    struct rp_zk_op ops[] = {
        { .type = RP_ZK_OP_CREATE, .path = "/z-", .flags = RP_ZK_SEQUENTIAL },
        { .type = RP_ZK_OP_SET, .path = "/", .data = "root", .len = 4, .version = -1 },
    };
    assert_rc(zmulti(c, ops, 2), RP_ZK_OK);
    assert_string_equal(r_.op_path[0], "/z-0000000004");
    assert_rc(zget(a, "/chr/a"), RP_ZK_OK);
    assert_memory_equal(r_.data, "root", 4);
    assert_rc(zensure(c, "/p/q"), RP_ZK_OK);
    assert_rc(zexists(a, "/chr/a/p/q"), RP_ZK_OK);

    struct sess *n;
    n = sess_open(im, "/chr/none"); /* a missing chroot: ops fail as on a server */
    assert_rc(zcreate(n, "/x", NULL, 0), RP_ZK_NONODE);
    assert_rc(zget(n, "/"), RP_ZK_NONODE);
    sess_close(n);
    sess_close(c);
    sess_close(a);
}

/* Many ops in flight at once: each completes once, in submission order, and
 * they apply in that order (a chain of conditional sets only works so). */
enum { PIPE_N = 300 };
struct pipe_slot {
    struct pipeline *p;
    int done_at;
    enum rp_zk_rc rc;
    char path[64];
    int32_t version;
};
struct pipeline {
    int next, all_done;
    struct pipe_slot slot[PIPE_N];
};

static void pipe_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct pipe_slot *s = ctx;
    assert_int_equal(s->done_at, -1);
    s->done_at = s->p->next++;
    s->rc = rc;
    s->version = r->stat.version;
    if (r->path) snprintf(s->path, sizeof s->path, "%s", r->path);
    if (s->p->next == PIPE_N) s->p->all_done = 1;
}

static void pipe_reset(struct pipeline *p)
{
    p->next = p->all_done = 0;
    for (int i = 0; i < PIPE_N; i++) p->slot[i] = (struct pipe_slot){ .p = p, .done_at = -1 };
}

static void pipe_check(struct pipeline *p, enum rp_zk_rc want)
{
    for (int i = 0; i < PIPE_N; i++) {
        assert_int_equal(p->slot[i].done_at, i);
        assert_rc(p->slot[i].rc, want);
    }
}

static void t_pipeline(void **state)
{
    struct sess *a = sess_open(*state, NULL);
    static struct pipeline p;
    assert_rc(zcreate(a, "/pipe", NULL, 0), RP_ZK_OK);
    pipe_reset(&p);
    for (int i = 0; i < PIPE_N; i++) rp_zk_create(a->zk, "/pipe/n-", "v", 1, RP_ZK_SEQUENTIAL, pipe_cb, &p.slot[i]);
    wait_for(a->zk, &p.all_done);
    pipe_check(&p, RP_ZK_OK);
    char want[64];
    for (int i = 0; i < PIPE_N; i++) {
        snprintf(want, sizeof want, "/pipe/n-%010d", i);
        assert_string_equal(p.slot[i].path, want);
    }
    pipe_reset(&p);
    for (int i = 0; i < PIPE_N; i++) rp_zk_set(a->zk, "/pipe", "x", 1, i, pipe_cb, &p.slot[i]);
    wait_for(a->zk, &p.all_done);
    pipe_check(&p, RP_ZK_OK);
    assert_int_equal(p.slot[PIPE_N - 1].version, PIPE_N);
    pipe_reset(&p);
    for (int i = 0; i < PIPE_N; i++) {
        snprintf(want, sizeof want, "/pipe/n-%010d", i);
        rp_zk_delete(a->zk, want, 0, pipe_cb, &p.slot[i]);
    }
    wait_for(a->zk, &p.all_done);
    pipe_check(&p, RP_ZK_OK);
    assert_rc(zchildren(a, "/pipe"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 0);
    assert_int_equal(r_.stat.cversion, 2 * PIPE_N);
    assert_rc(zdelete(a, "/pipe", PIPE_N), RP_ZK_OK);
    sess_close(a);
}

struct close_probe {
    struct rp_zk *zk;
    struct res first, second, late;
    int late_submitted;
};

static void close_in_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct close_probe *p = ctx;
    res_cb(&p->first, rc, r);
    rp_zk_close(p->zk); /* takes effect when this returns */
    rp_zk_get(p->zk, "/", NULL, NULL, res_cb, &p->second); /* still legal: completes CLOSED */
}

static void resubmit_cb(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *r)
{
    struct close_probe *p = ctx;
    res_cb(&p->second, rc, r);
    if (!p->late_submitted) {
        p->late_submitted = 1;
        rp_zk_get(p->zk, "/", NULL, NULL, res_cb, &p->late);
    }
}

static void t_close(void **state)
{
    struct impl *im = *state;
    /* close with ops in flight: each completes once, CLOSED, inside close */
    struct sess *a, *b;
    a = sess_open(im, NULL);
    b = sess_open(im, NULL);
    assert_rc(zcreate(a, "/close", NULL, 0), RP_ZK_OK);
    struct wres w = { 0 };
    struct res r = { 0 };
    rp_zk_get(a->zk, "/close", watch_cb, &w, res_cb, &r);
    wait_for(a->zk, &r.done);
    struct close_probe p = { .zk = a->zk };
    rp_zk_create(a->zk, "/close/e", NULL, 0, RP_ZK_EPHEMERAL, res_cb, &p.first);
    rp_zk_get(a->zk, "/close", NULL, NULL, resubmit_cb, &p);
    sess_close(a);
    assert_int_equal(p.first.done, 1);
    assert_int_equal(p.second.done, 1);
    assert_int_equal(p.late.done, 1);
    assert_rc(p.first.rc, RP_ZK_CLOSED);
    assert_rc(p.second.rc, RP_ZK_CLOSED);
    assert_rc(p.late.rc, RP_ZK_CLOSED);
    assert_int_equal(w.fired, 0);
    /* the session is gone: its ephemeral (if the create got through) too */
    wait_nonode(b, "/close/e");
    assert_rc(zset(b, "/close", "x", -1), RP_ZK_OK);
    assert_int_equal(w.fired, 0); /* a closed session runs no watch */

    /* close from inside a completion: the rest completes CLOSED, no more dispatch */
    struct sess *c;
    c = sess_open(im, NULL);
    struct close_probe q = { .zk = c->zk };
    c->zk = NULL; /* closed by the callback, not by teardown */
    rp_zk_get(q.zk, "/close", NULL, NULL, close_in_cb, &q);
    rp_zk_get(q.zk, "/close", NULL, NULL, res_cb, &q.late);
    int64_t deadline = now_ms() + 20000;
    while (!q.first.done) {
        int fd = rp_zk_fd(q.zk);
        if (fd >= 0) poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 100);
        rp_zk_dispatch(q.zk); /* the last call frees q.zk */
        assert_true(now_ms() < deadline);
    }
    assert_rc(q.first.rc, RP_ZK_OK);
    assert_int_equal(q.second.done, 1);
    assert_rc(q.second.rc, RP_ZK_CLOSED);
    assert_int_equal(q.late.done, 1);
    assert_true(q.late.rc == RP_ZK_CLOSED);
    assert_rc(zdelete(b, "/close", -1), RP_ZK_OK);
    sess_close(b);
}

/* ---- zkmem's own controls --------------------------------------------------------------- */

static void t_mem_disconnect_expire(void **state)
{
    struct impl *im = *state;
    struct sess *a, *b;
    a = sess_open(im, NULL);
    b = sess_open(im, NULL);
    assert_int_equal(rp_zk_session_id(a->zk), 1);
    assert_int_equal(rp_zk_session_id(b->zk), 2);
    int64_t zxid0 = rp_zkmem_zxid(im->world);
    assert_rc(zcreate(a, "/d", NULL, 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/d/e", NULL, RP_ZK_EPHEMERAL), RP_ZK_OK);
    assert_int_equal(rp_zkmem_zxid(im->world), zxid0 + 2);
    assert_rc(zcreate(a, "/d", NULL, 0), RP_ZK_NODEEXISTS);
    assert_int_equal(rp_zkmem_zxid(im->world), zxid0 + 2); /* a failed write is no transaction */

    /* an answer not yet dispatched is lost with the connection */
    struct wres wa = { 0 };
    struct res r = { 0 }, lost = { 0 };
    rp_zk_get(a->zk, "/d", watch_cb, &wa, res_cb, &r);
    wait_for(a->zk, &r.done);
    rp_zk_set(a->zk, "/d", "applied", 7, -1, res_cb, &lost);
    rp_zkmem_disconnect(a->zk);
    wait_for(a->zk, &a->disconnected);
    assert_int_equal(lost.done, 1);
    assert_rc(lost.rc, RP_ZK_CONNECTIONLOSS);
    assert_int_equal(wa.fired, 1); /* its own set fired it before the loss */
    assert_rc(zget(b, "/d"), RP_ZK_OK);
    assert_memory_equal(r_.data, "applied", 7); /* the op applied */
    assert_rc(zget(a, "/d"), RP_ZK_CONNECTIONLOSS);

    /* watch events wait for the reconnection */
    r = (struct res){ 0 };
    rp_zkmem_reconnect(a->zk);
    struct wres wb = { 0 };
    rp_zk_exists(a->zk, "/d/f", watch_cb, &wb, res_cb, &r);
    wait_for(a->zk, &r.done);
    rp_zkmem_disconnect(a->zk);
    assert_rc(zcreate(b, "/d/f", NULL, 0), RP_ZK_OK);
    assert_int_equal(rp_zk_dispatch(a->zk), 1); /* DISCONNECTED only */
    assert_int_equal(wb.fired, 0);
    rp_zkmem_reconnect(a->zk);
    int connected = a->connected;
    assert_int_equal(rp_zk_dispatch(a->zk), 2);
    assert_int_equal(a->connected, connected + 1);
    assert_int_equal(wb.fired, 1);
    assert_int_equal(wb.ev, RP_ZK_EV_CREATED);

    /* expiry: ephemerals go (others' watches fire), own watches die */
    struct wres weph = { 0 }, wdead = { 0 };
    r = (struct res){ 0 };
    rp_zk_exists(b->zk, "/d/e", watch_cb, &weph, res_cb, &r);
    wait_for(b->zk, &r.done);
    r = (struct res){ 0 };
    rp_zk_exists(a->zk, "/d/f", watch_cb, &wdead, res_cb, &r);
    wait_for(a->zk, &r.done);
    int64_t zxid1 = rp_zkmem_zxid(im->world);
    rp_zkmem_expire(a->zk);
    assert_int_equal(rp_zkmem_zxid(im->world), zxid1 + 1);
    wait_for(b->zk, &weph.fired);
    assert_int_equal(weph.ev, RP_ZK_EV_DELETED);
    wait_for(a->zk, &a->expired);
    assert_int_equal(a->events[a->n_events - 2], RP_ZK_SESSION_DISCONNECTED);
    assert_int_equal(a->events[a->n_events - 1], RP_ZK_SESSION_EXPIRED);
    assert_rc(zexists(a, "/d"), RP_ZK_SESSIONEXPIRED);
    assert_rc(zdelete(b, "/d/f", -1), RP_ZK_OK);
    assert_int_equal(rp_zk_dispatch(a->zk), 0);
    assert_int_equal(wdead.fired, 0);
    rp_zkmem_reconnect(a->zk); /* no-op once expired */
    assert_int_equal(rp_zk_dispatch(a->zk), 0);
    sess_close(a);
    assert_rc(zchildren(b, "/d"), RP_ZK_OK);
    assert_int_equal(r_.n_children, 0);
    sess_close(b);
}

/* The same script on two worlds: the same ids, zxids, names and events. */
static void mem_script(char *trace, size_t cap)
{
    struct rp_zkmem_world *w = rp_zkmem_world_new();
    struct impl im = { .world = w };
    struct sess *s[3];
    for (int i = 0; i < 3; i++) s[i] = sess_open(&im, NULL);
    size_t at = 0;
    assert_rc(zcreate(s[0], "/r", NULL, 0), RP_ZK_OK);
    struct wres wr[3] = { { 0 } };
    for (int i = 0; i < 3; i++) {
        assert_rc(zcreate(s[i], "/r/n-", NULL, RP_ZK_EPHEMERAL | RP_ZK_SEQUENTIAL), RP_ZK_OK);
        at += (size_t)snprintf(trace + at, cap - at, "%s:%lld ", r_.path, (long long)rp_zk_session_id(s[i]->zk));
    }
    for (int i = 0; i < 3; i++) {
        struct res r = { 0 };
        rp_zk_get_children(s[i]->zk, "/r", watch_cb, &wr[i], res_cb, &r);
        wait_for(s[i]->zk, &r.done);
    }
    rp_zkmem_expire(s[1]->zk);
    for (int i = 0; i < 3; i++) {
        rp_zk_dispatch(s[i]->zk);
        at += (size_t)snprintf(trace + at, cap - at, "w%d=%d/%d ", i, wr[i].fired, (int)wr[i].ev);
    }
    at += (size_t)snprintf(trace + at, cap - at, "zxid=%lld", (long long)rp_zkmem_zxid(w));
    for (int i = 0; i < 3; i++) sess_close(s[i]);
    rp_zkmem_world_free(w);
}

static void t_mem_deterministic(void **state)
{
    (void)state;
    char t1[512], t2[512];
    mem_script(t1, sizeof t1);
    mem_script(t2, sizeof t2);
    assert_string_equal(t1, t2);
    assert_string_equal(t1, "/r/n-0000000000:1 /r/n-0000000001:2 /r/n-0000000002:3 w0=1/4 w1=0/0 w2=1/4 zxid=5");
}

/* ---- the real server's own: a restart within the session timeout ------------------- */

static void t_real_restart(void **state)
{
    struct impl *im = *state;
    struct sess *a = sess_open(im, NULL);
    int64_t id = rp_zk_session_id(a->zk);
    assert_rc(zcreate(a, "/rs", "0", 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/rs/e", NULL, RP_ZK_EPHEMERAL), RP_ZK_OK);
    struct wres w = { 0 };
    struct res r = { 0 };
    rp_zk_get(a->zk, "/rs", watch_cb, &w, res_cb, &r);
    wait_for(a->zk, &r.done);

    weir_test_zk_kill(&im->server);
    wait_for(a->zk, &a->disconnected);
    a->connected = 0;
    assert_int_equal(weir_test_zk_restart(&im->server), 0);
    /* the same session: it outlived the restart (a JVM start on a loaded box can take most of 20 s) */
    wait_for_ms(a->zk, &a->connected, 60000);
    assert_int_equal(a->events[a->n_events - 1], RP_ZK_SESSION_CONNECTED);
    assert_int_equal(rp_zk_session_id(a->zk), id);
    assert_int_equal(a->expired, 0);

    struct sess *b = sess_open(im, NULL);
    assert_rc(zset(b, "/rs", "1", 0), RP_ZK_OK);
    wait_for(a->zk, &w.fired); /* the client set the watch again on reconnecting */
    assert_int_equal(w.ev, RP_ZK_EV_CHANGED);
    assert_rc(zexists(b, "/rs/e"), RP_ZK_OK);
    assert_int_equal(r_.stat.ephemeral_owner, id);
    sess_close(a);
    wait_nonode(b, "/rs/e");
    assert_rc(zdelete(b, "/rs", -1), RP_ZK_OK);
    sess_close(b);
}

/* A watch of a's that records whether a had seen EXPIRED when it ran. */
struct own_watch {
    struct wres w;
    const struct sess *s;
    int after_expiry;
};

static void own_watch_cb(void *ctx, enum rp_zk_event ev, const char *path)
{
    struct own_watch *ow = ctx;
    if (ow->s->expired) ow->after_expiry++;
    watch_cb(&ow->w, ev, path);
}

/* A real session expires: its ephemerals go, others' watches fire, its own
 * never run after EXPIRED; ops answer SESSIONEXPIRED.
 *
 * What is ordered: rp_zk_end_session emulates an expiry by taking the session
 * over from a second connection and closing it there, which a's client races
 * (each takeover drops a's connection; a reconnects and moves the session
 * back: a DISCONNECTED, CONNECTED pair per round, any number of rounds under
 * load). When a's reconnect lands between the server reading the closeSession
 * and applying it, a's connection owns the session when its ephemeral goes, and
 * ZooKeeper delivers a's child watch on /ex (CHILD) before it drops a, hence
 * before a can learn of EXPIRED. A real expiry (a silent for the session
 * timeout) cannot do that. So: wa may run, but only before EXPIRED; a watch on
 * what only changes after EXPIRED (wd) never runs; EXPIRED is the last session
 * event, however many came before it. */
static void t_real_expire(void **state)
{
    struct impl *im = *state;
    struct sess *a = sess_open(im, NULL), *b = sess_open(im, NULL);
    assert_rc(zcreate(a, "/ex", NULL, 0), RP_ZK_OK);
    assert_rc(zcreate(a, "/ex/e", NULL, RP_ZK_EPHEMERAL), RP_ZK_OK);
    struct wres wb = { 0 };
    struct own_watch wa = { .s = a }, wd = { .s = a };
    struct res r = { 0 };
    rp_zk_exists(b->zk, "/ex/e", watch_cb, &wb, res_cb, &r);
    wait_for(b->zk, &r.done);
    r = (struct res){ 0 };
    rp_zk_get_children(a->zk, "/ex", own_watch_cb, &wa, res_cb, &r);
    wait_for(a->zk, &r.done);
    r = (struct res){ 0 };
    rp_zk_get(a->zk, "/ex", own_watch_cb, &wd, res_cb, &r);
    wait_for(a->zk, &r.done);

    assert_rc(rp_zk_end_session(a->zk), RP_ZK_OK);
    wait_for(b->zk, &wb.fired);
    assert_int_equal(wb.ev, RP_ZK_EV_DELETED);
    /* a learns of the expiry when it reconnects; a reconnect can wait out the
     * C client's connect timeout first (2/3 of the 30 s session: seen once) */
    wait_for_ms(a->zk, &a->expired, 60000);
    assert_int_equal(a->last, RP_ZK_SESSION_EXPIRED);
    assert_int_equal(a->expired, 1);
    assert_rc(zexists(a, "/ex"), RP_ZK_SESSIONEXPIRED);
    assert_rc(zcreate(b, "/ex/other", NULL, 0), RP_ZK_OK);
    assert_rc(zset(b, "/ex", "x", -1), RP_ZK_OK);
    assert_rc(zexists(b, "/ex/other"), RP_ZK_OK);
    assert_int_equal(rp_zk_dispatch(a->zk), 0);
    assert_int_equal(wd.w.fired, 0);
    assert_int_equal(wa.after_expiry, 0);
    if (wa.w.fired) { /* the takeover race above: the ephemeral's deletion */
        assert_int_equal(wa.w.fired, 1);
        assert_int_equal(wa.w.ev, RP_ZK_EV_CHILD);
        assert_string_equal(wa.w.path, "/ex");
    }
    sess_close(a);
    assert_rc(zdelete(b, "/ex/other", -1), RP_ZK_OK);
    assert_rc(zdelete(b, "/ex", -1), RP_ZK_OK);
    sess_close(b);
}

/* ---- groups ---------------------------------------------------------------------- */

static int test_setup(void **state)
{
    struct impl *im = *state;
    memset(im->pool, 0, sizeof im->pool);
    if (!im->real) im->world = rp_zkmem_world_new();
    return 0;
}

static int test_teardown(void **state)
{
    struct impl *im = *state;
    for (int i = 0; i < MAX_OPEN; i++) /* left open by a failed test */
        if (im->pool[i].zk) sess_close(&im->pool[i]);
    if (!im->real) {
        rp_zkmem_world_free(im->world);
        im->world = NULL;
    }
    return 0;
}

static struct impl mem_impl, real_impl = { .real = true };

static int mem_group_setup(void **state)
{
    *state = &mem_impl;
    return 0;
}

static int real_group_setup(void **state)
{
    *state = &real_impl;
    return weir_test_zk_start(&real_impl.server) == 0 ? 0 : -1;
}

static int real_group_teardown(void **state)
{
    (void)state;
    weir_test_zk_stop(&real_impl.server);
    return 0;
}

#define CASE(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void)
{
    weir_log_set_level(WEIR_LOG_WARN);
    const char *filter = getenv("WEIR_TEST_FILTER"); /* e.g. "t_multi" */
    if (filter) cmocka_set_test_filter(filter);
#define CONFORMANCE                                                                                     \
    CASE(t_crud_versions), CASE(t_errors), CASE(t_children), CASE(t_ephemeral), CASE(t_sequential),         \
        CASE(t_multi), CASE(t_watches), CASE(t_chroot), CASE(t_pipeline), CASE(t_close)
    const struct CMUnitTest conformance[] = { CONFORMANCE };
    const struct CMUnitTest real[] = { CONFORMANCE, CASE(t_real_restart), CASE(t_real_expire) };
    const struct CMUnitTest mem_only[] = {
        CASE(t_mem_disconnect_expire),
        CASE(t_mem_deterministic),
    };
    int failed = cmocka_run_group_tests_name("zkmem", conformance, mem_group_setup, NULL);
    failed += cmocka_run_group_tests_name("zkmem_controls", mem_only, mem_group_setup, NULL);
    if (access(WEIR_TEST_ZK_SERVER, X_OK) != 0) {
        fprintf(stderr, "SKIP the real ZooKeeper half: no %s (Debian package zookeeper)\n", WEIR_TEST_ZK_SERVER);
        return failed ? 1 : 77;
    }
    failed += cmocka_run_group_tests_name("zookeeper", real, real_group_setup, real_group_teardown);
    return failed ? 1 : 0;
}
