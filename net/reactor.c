/* net/reactor.c: one thread, one io_uring ring, a share of the partitions.
 *
 * Each turn: run tasks posted to self, let the appender queue its writes,
 * submit everything and wait (bounded by the nearest timer), reap a batch of
 * completions, run their callbacks, fire due timers, then the tick hooks.
 * Stopping: stop accepting, tell the hooks (no more reading, answer what is in
 * flight), report quiesced once no hook is busy; once every reactor is
 * quiesced, the hooks drop what is left, then the logs close (clean-shutdown
 * markers) and the thread exits.
 *
 * Layering: this file calls nothing above it (connections, handlers, groups).
 * They register at broker start: hooks (reactor_hook_add), the accept
 * callback (on_accept), timers, and waiters that a partition's advance wakes. */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CQE_BATCH = 128, TURN_MS_MAX = 100 };

static __thread struct reactor *tls_reactor;

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

struct reactor *reactor_owner(struct broker *b, const char *topic, int32_t partition)
{
    return &b->reactors[(fnv1a(topic) + (uint32_t)partition) % b->n_reactors];
}

struct reactor *reactor_current(void) { return tls_reactor; }

/* ---- the mailbox ------------------------------------------------------------ */

void reactor_post(struct reactor *to, struct task *t)
{
    t->next = NULL;
    if (to == tls_reactor) {
        if (to->local_tail) to->local_tail->next = t;
        else to->local_head = t;
        to->local_tail = t;
        return;
    }
    pthread_mutex_lock(&to->mbox_mu);
    bool was_empty = to->mbox_head == NULL;
    if (to->mbox_tail) to->mbox_tail->next = t;
    else to->mbox_head = t;
    to->mbox_tail = t;
    pthread_mutex_unlock(&to->mbox_mu);
    if (was_empty) {
        uint64_t one = 1;
        if (write(to->event_fd, &one, sizeof one) != sizeof one) weir_panic("reactor: eventfd write: %s", strerror(errno));
    }
}

static void tasks_run(struct reactor *r, struct task *t)
{
    while (t) {
        struct task *next = t->next; /* run may free t */
        t->run(r, t);
        t = next;
    }
}

static void mailbox_drain(struct reactor *r)
{
    pthread_mutex_lock(&r->mbox_mu);
    struct task *t = r->mbox_head;
    r->mbox_head = r->mbox_tail = NULL;
    pthread_mutex_unlock(&r->mbox_mu);
    tasks_run(r, t);
}

static void local_drain(struct reactor *r)
{
    for (int rounds = 0; r->local_head && rounds < 1000; rounds++) {
        struct task *t = r->local_head;
        r->local_head = r->local_tail = NULL;
        tasks_run(r, t);
    }
}

static void event_arm(struct reactor *r);

static void event_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct reactor *r = weir_container_of(op, struct reactor, event_op);
    if (res < 0 && res != -EINTR && res != -EAGAIN) weir_panic("reactor %u: eventfd read: %s", r->id, strerror(-res));
    mailbox_drain(r);
    event_arm(r);
}

static void event_arm(struct reactor *r)
{
    io_uring_prep_read(reactor_sqe(r, &r->event_op), r->event_fd, &r->event_val, sizeof r->event_val, 0);
}

struct io_uring_sqe *reactor_sqe(struct reactor *r, struct weir_uop *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) { /* SQ full: push what is queued, then there is room */
        int rc = io_uring_submit(&r->ring);
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) weir_panic("reactor %u: io_uring_submit: %s", r->id, strerror(-rc));
        sqe = io_uring_get_sqe(&r->ring);
    }
    WEIR_ASSERT(sqe);
    io_uring_sqe_set_data(sqe, op);
    return sqe;
}

/* ---- partitions ---------------------------------------------------------------- */

static size_t part_hash(const struct part_map *m, const char *topic, int32_t partition)
{
    return (fnv1a(topic) ^ ((uint32_t)partition * 0x9e3779b1u)) & (m->n_buckets - 1);
}

struct part *part_find(struct reactor *r, const char *topic, int32_t partition)
{
    if (r->parts.n_buckets == 0) return NULL;
    for (struct part *p = r->parts.buckets[part_hash(&r->parts, topic, partition)]; p; p = p->hnext)
        if (p->partition == partition && !strcmp(p->topic, topic)) return p;
    return NULL;
}

static void part_map_grow(struct part_map *m)
{
    size_t n = m->n_buckets ? m->n_buckets * 2 : 64;
    struct part **b = weir_calloc(n, sizeof *b);
    WEIR_ASSERT(b); /* setup-rate path */
    struct part_map next = { b, n, m->count };
    for (size_t i = 0; i < m->n_buckets; i++)
        for (struct part *p = m->buckets[i], *nx; p; p = nx) {
            nx = p->hnext;
            size_t h = part_hash(&next, p->topic, p->partition);
            p->hnext = b[h];
            b[h] = p;
        }
    weir_free(m->buckets);
    *m = next;
}

uint64_t part_key(const char *topic, int32_t partition)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64 over the name, then the partition */
    for (; *topic; topic++) h = (h ^ (uint8_t)*topic) * 1099511628211ull;
    h ^= (uint32_t)partition;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

/* ---- waiters ----------------------------------------------------------------------
 *
 * A reactor's waiters sit in a hash table by key (intrusive chains, pprev
 * links; it doubles when it holds more waiters than buckets, and stays as it
 * is when that allocation fails). An owner whose partition advanced appends
 * the key to each told reactor's inbox and posts the inbox's embedded task
 * unless it is posted already: one post per reactor and drain, no allocation.
 * The drain wakes the waiters of each key; a full inbox (overflow) wakes all. */

static struct reactor_waiter **bucket_of(struct reactor *r, uint64_t key)
{
    return &r->wait_buckets[key & (r->wait_n_buckets - 1)];
}

static void waiter_link(struct reactor_waiter **head, struct reactor_waiter *w)
{
    w->next = *head;
    if (w->next) w->next->pprev = &w->next;
    w->pprev = head;
    *head = w;
}

static void waiters_grow(struct reactor *r)
{
    size_t n = r->wait_n_buckets * 2 < 64 ? 64 : r->wait_n_buckets * 2;
    struct reactor_waiter **b = weir_calloc(n, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    struct reactor_waiter **old = r->wait_buckets;
    size_t old_n = r->wait_n_buckets;
    r->wait_buckets = b;
    r->wait_n_buckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (struct reactor_waiter *w = old[i], *next; w; w = next) {
            next = w->next;
            waiter_link(bucket_of(r, w->key), w);
        }
    if (old != &r->wait_bucket_one) weir_free(old);
}

void reactor_waiter_add(struct reactor *r, struct reactor_waiter *w)
{
    WEIR_ASSERT(!w->pprev && w->wake);
    if (r->wait_count >= r->wait_n_buckets) waiters_grow(r);
    waiter_link(bucket_of(r, w->key), w);
    r->wait_count++;
}

static void waiter_unlink(struct reactor_waiter *w)
{
    *w->pprev = w->next;
    if (w->next) w->next->pprev = w->pprev;
    w->next = NULL;
    w->pprev = NULL;
}

void reactor_waiter_remove(struct reactor *r, struct reactor_waiter *w)
{
    if (!w->pprev) return;
    waiter_unlink(w);
    WEIR_ASSERT(r->wait_count > 0);
    r->wait_count--;
}

/* Wakes the waiters moved to `fired`. A wake may remove others (of the
 * same fetch), from fired too, so the head is taken one at a time. */
static void fired_wake(struct reactor *r, struct reactor_waiter *fired)
{
    if (fired) fired->pprev = &fired;
    while (fired) {
        struct reactor_waiter *w = fired;
        reactor_waiter_remove(r, w);
        atomic_fetch_add_explicit(&r->stats.wakeups, 1, memory_order_relaxed);
        w->wake(r, w);
    }
}

static void waiters_wake_key(struct reactor *r, uint64_t key)
{
    struct reactor_waiter *fired = NULL;
    for (struct reactor_waiter *w = *bucket_of(r, key), *next; w; w = next) {
        next = w->next;
        if (w->key != key) continue;
        waiter_unlink(w);
        waiter_link(&fired, w); /* still counted in wait_count */
    }
    fired_wake(r, fired);
}

static void waiters_wake_all(struct reactor *r)
{
    struct reactor_waiter *fired = NULL;
    for (size_t i = 0; i < r->wait_n_buckets; i++)
        while (r->wait_buckets[i]) {
            struct reactor_waiter *w = r->wait_buckets[i];
            waiter_unlink(w);
            waiter_link(&fired, w);
        }
    fired_wake(r, fired);
}

static void inbox_run(struct reactor *r, struct task *t)
{
    struct wake_inbox *in = weir_container_of(t, struct wake_inbox, task);
    uint64_t keys[WAKE_INBOX_KEYS];
    pthread_mutex_lock(&in->mu);
    unsigned n = in->n;
    bool overflow = in->overflow;
    memcpy(keys, in->keys, n * sizeof keys[0]);
    in->n = 0;
    in->overflow = false;
    in->posted = false;
    pthread_mutex_unlock(&in->mu);
    if (overflow) waiters_wake_all(r);
    else
        for (unsigned i = 0; i < n; i++) waiters_wake_key(r, keys[i]);
}

void part_tell(struct part *p, uint64_t *waiters)
{
    for (uint64_t mask = *waiters; mask; mask &= mask - 1) {
        struct reactor *to = &p->owner->b->reactors[__builtin_ctzll(mask)];
        struct wake_inbox *in = &to->wake_inbox;
        pthread_mutex_lock(&in->mu);
        if (in->n < WAKE_INBOX_KEYS) in->keys[in->n++] = p->key;
        else in->overflow = true;
        bool post = !in->posted;
        in->posted = true;
        pthread_mutex_unlock(&in->mu);
        if (post) {
            atomic_fetch_add_explicit(&to->stats.wake_posts, 1, memory_order_relaxed);
            reactor_post(to, &in->task);
        }
    }
    *waiters = 0;
}

/* The log's listener, on p's owner: replication first (the HW may move),
 * then each reactor with waiters on p is told, once. */
static void part_advanced(void *ctx, struct weir_log *log)
{
    (void)log;
    struct part *p = ctx;
    struct reactor *r = p->owner;
    for (unsigned i = 0; p->repl && i < r->n_hooks; i++)
        if (r->hooks[i].ops->part_advanced) r->hooks[i].ops->part_advanced(r, r->hooks[i].ctx, p);
    part_tell(p, &p->waiters);
}

/* The log's HW listener, on p's owner: consumers waiting on p look again.
 * Where the HW follows the log end (a partition led alone) it moves with
 * every append, after part_advanced; otherwise replication sets it. */
static void part_hw_advanced(void *ctx, struct weir_log *log)
{
    (void)log;
    struct part *p = ctx;
    part_tell(p, &p->hw_waiters);
}

static void part_closing(struct reactor *r, struct part *p)
{
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->part_closing) r->hooks[i].ops->part_closing(r, r->hooks[i].ctx, p);
}

enum weir_err part_open(struct reactor *r, const char *topic, int32_t partition, struct part **out)
{
    struct part *p = part_find(r, topic, partition);
    if (p) {
        *out = p;
        return WEIR_OK;
    }
    p = weir_calloc(1, sizeof *p);
    if (!p) return WEIR_E_NOMEM;
    snprintf(p->topic, sizeof p->topic, "%s", topic);
    p->partition = partition;
    p->key = part_key(topic, partition);
    p->owner = r;
    enum weir_err err = weir_store_partition_open(r->b->store, topic, partition, r->ap, &p->log);
    if (err != WEIR_OK) {
        limits_open_failed(topic, partition, err, errno);
        weir_free(p);
        return err;
    }
    part_topic_id_load(r, p);
    weir_log_set_listener(p->log, part_advanced, p);
    weir_log_set_hw_listener(p->log, part_hw_advanced, p);
    /* Offset commits go on when produce is refused for a low disk. */
    weir_log_set_reserve_access(p->log, !strcmp(topic, GROUP_OFFSETS_TOPIC));
    if (r->parts.count + 1 > r->parts.n_buckets) part_map_grow(&r->parts);
    size_t h = part_hash(&r->parts, topic, partition);
    p->hnext = r->parts.buckets[h];
    r->parts.buckets[h] = p;
    r->parts.count++;
    *out = p;
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->part_opened) r->hooks[i].ops->part_opened(r, r->hooks[i].ctx, p);
    return WEIR_OK;
}

void part_topic_id_load(struct reactor *r, struct part *p)
{
    if (weir_store_partition_topic_id(r->b->store, p->topic, p->partition, &p->topic_id) != WEIR_OK)
        p->topic_id = (struct weir_uuid){ { 0 } };
}

/* Forgets an owned partition; closes `taken` (a deletion's log) or the store's. */
void part_close(struct reactor *r, const char *topic, int32_t partition, struct weir_log *taken)
{
    struct part **link = r->parts.n_buckets ? &r->parts.buckets[part_hash(&r->parts, topic, partition)] : NULL;
    for (; link && *link; link = &(*link)->hnext) {
        struct part *p = *link;
        if (p->partition != partition || strcmp(p->topic, topic)) continue;
        *link = p->hnext;
        r->parts.count--;
        part_closing(r, p);
        part_tell(p, &p->waiters); /* waiters look again and see it gone */
        part_tell(p, &p->hw_waiters);
        if (taken) weir_log_discard(taken); /* its files go next: nothing to seal or sync */
        else weir_store_partition_close(r->b->store, topic, partition);
        weir_free(p);
        return;
    }
    if (taken) weir_log_discard(taken);
}

static void parts_open_owned(struct reactor *r)
{
    size_t n = weir_store_topics(r->b->store, NULL, 0);
    struct weir_topic_info *topics = weir_calloc(n ? n : 1, sizeof *topics);
    WEIR_ASSERT(topics);
    n = WEIR_MIN(n, weir_store_topics(r->b->store, topics, n));
    for (size_t i = 0; i < n; i++)
        for (int32_t p = 0; p < topics[i].partitions; p++) {
            if (reactor_owner(r->b, topics[i].name, p) != r) continue;
            struct part *part;
            enum weir_err err = part_open(r, topics[i].name, p, &part);
            if (err != WEIR_OK)
                WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "reactor %u: cannot open %s-%d: %s", r->id, topics[i].name, p,
                                     weir_err_text(err));
        }
    weir_free(topics);
}

static void parts_close_all(struct reactor *r)
{
    for (size_t i = 0; i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i], *next; p; p = next) {
            next = p->hnext;
            part_closing(r, p);
            weir_store_partition_close(r->b->store, p->topic, p->partition);
            weir_free(p);
        }
    weir_free(r->parts.buckets);
    r->parts = (struct part_map){ 0 };
}

static void parts_retain(struct reactor *r, int64_t now_ms)
{
    if (now_ms < r->next_retain_ms) return;
    r->next_retain_ms = now_ms + r->b->cfg.retention_check_ms;
    for (size_t i = 0; i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i]; p; p = p->hnext) weir_log_retain(p->log, now_ms, NULL);
}

/* ---- accepting ------------------------------------------------------------------ */

static void accept_arm(struct acceptor *a);

/* Out of file descriptors: an accept fails at once whether or not a
 * connection waits (io_uring takes the fd first), so re-arming it would spin,
 * and a waiting client would hang in the backlog. So wait for a connection
 * with a poll instead; when one comes, accept it if fds are free again (and
 * go back to the multishot accept), else free the spare fd, take it, close it
 * (its client sees the connection closed) and hold the spare again. The
 * listener is this reactor's alone, so after the poll accept4 does not block.
 *
 * The fd table is the process's, so a slot a spare frees can be taken by
 * another thread before accept4 (say, another reactor's multishot accept).
 * shed_mu orders the reactors' spares; a reactor that lost its own borrows
 * another's; the refused connection's slot becomes the spare again by dup2,
 * which leaves no window. */
enum { ACCEPT_BACKOFF_MS = 50 };
static pthread_mutex_t shed_mu = PTHREAD_MUTEX_INITIALIZER;

/* Refuses one connection waiting on listen_fd with a spare fd; false when
 * there is none or its slot was taken first (it is then lost until the
 * back-off reopens it). The spare ends up this reactor's. */
static bool shed_one(struct reactor *r, int listen_fd)
{
    pthread_mutex_lock(&shed_mu);
    int *spare = &r->spare_fd;
    for (unsigned i = 0; *spare < 0 && i < r->b->n_reactors; i++) spare = &r->b->reactors[i].spare_fd;
    int fd = -1;
    if (*spare >= 0) {
        close(*spare);
        *spare = -1;
        fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        /* The socket closes as its slot becomes a copy of the event fd. */
        if (fd >= 0 && dup3(r->event_fd, fd, O_CLOEXEC) < 0) {
            close(fd);
            fd = -1;
        }
        r->spare_fd = fd;
    }
    pthread_mutex_unlock(&shed_mu);
    return fd >= 0;
}

static void spare_reopen(struct reactor *r)
{
    pthread_mutex_lock(&shed_mu);
    if (r->spare_fd < 0) r->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pthread_mutex_unlock(&shed_mu);
}

static void accepted(struct acceptor *a, int fd)
{
    struct reactor *r = a->r;
    if (r->on_accept) r->on_accept(r, fd, a->listener);
    else close(fd);
}

static void accept_poll_arm(struct acceptor *a)
{
    io_uring_prep_poll_add(reactor_sqe(a->r, &a->poll_op), a->fd, POLLIN);
    a->polling = true;
}

static void accept_limit_log(struct reactor *r, int errnum)
{
    struct rlimit rl = { 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "reactor %u: accept: %s (RLIMIT_NOFILE %ju): new connections are closed "
                         "at once; raise `ulimit -n` or hold fewer partitions", r->id, strerror(errnum),
                         (uintmax_t)rl.rlim_cur);
}

static void accept_poll_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct acceptor *a = weir_container_of(op, struct acceptor, poll_op);
    struct reactor *r = a->r;
    a->polling = false;
    if (r->stopping || res == -ECANCELED) return;
    if (res == -ETIME) { /* the back-off is over */
        spare_reopen(r);
        accept_poll_arm(a);
        return;
    }
    if (res < 0) return;
    int fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) { /* fds are free again */
        accepted(a, fd);
        accept_arm(a);
        return;
    }
    if (errno == EMFILE || errno == ENFILE) {
        accept_limit_log(r, errno);
        if (!shed_one(r, a->fd)) { /* no spare: try again later, not at once */
            a->backoff = (struct __kernel_timespec){ .tv_nsec = ACCEPT_BACKOFF_MS * 1000000L };
            io_uring_prep_timeout(reactor_sqe(r, &a->poll_op), &a->backoff, 0, 0);
            a->polling = true;
            return;
        }
    }
    accept_poll_arm(a);
}

static void accept_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    struct acceptor *a = weir_container_of(op, struct acceptor, op);
    struct reactor *r = a->r;
    if (!(flags & IORING_CQE_F_MORE)) a->armed = false;
    if (res >= 0) {
        if (r->stopping) close(res);
        else accepted(a, res);
    } else if (res == -EMFILE || res == -ENFILE) {
        accept_limit_log(r, -res);
        if (!a->armed && !r->stopping && !a->polling) accept_poll_arm(a);
        return;
    } else if (res != -ECANCELED) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "reactor %u: accept: %s", r->id, strerror(-res));
    }
    if (!a->armed && !r->stopping) accept_arm(a);
}

static void accept_arm(struct acceptor *a)
{
    io_uring_prep_multishot_accept(reactor_sqe(a->r, &a->op), a->fd, NULL, NULL, SOCK_CLOEXEC);
    a->armed = true;
}

static void cancel_cb(struct weir_uop *op, int32_t res, uint32_t flags) { (void)op, (void)res, (void)flags; }
static struct weir_uop cancel_op = { cancel_cb }; /* cancel completions: nothing to do */

void reactor_cancel(struct reactor *r, struct weir_uop *target)
{
    io_uring_prep_cancel(reactor_sqe(r, &cancel_op), target, 0);
}

/* ---- the loop ------------------------------------------------------------------- */

/* ---- hooks and timers ------------------------------------------------------------ */

void reactor_hook_add(struct reactor *r, const struct reactor_hook_ops *ops, void *ctx)
{
    WEIR_ASSERT(r->n_hooks < REACTOR_HOOKS_MAX); /* a fixed set, registered at start */
    r->hooks[r->n_hooks].ops = ops;
    r->hooks[r->n_hooks].ctx = ctx;
    r->n_hooks++;
}

void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t)
{
    if (!t->armed) return;
    if (t->prev) t->prev->next = t->next;
    else r->timers_head = t->next;
    if (t->next) t->next->prev = t->prev;
    else r->timers_tail = t->prev;
    t->next = t->prev = NULL;
    t->armed = false;
}

/* Sorted insertion from the tail: deadlines mostly come in rising order
 * (now + a wait), so this is O(1) then. */
void reactor_timer_arm(struct reactor *r, struct reactor_timer *t, int64_t deadline_ns)
{
    WEIR_ASSERT(t->fire);
    reactor_timer_cancel(r, t);
    t->deadline_ns = deadline_ns;
    struct reactor_timer *after = r->timers_tail;
    while (after && after->deadline_ns > deadline_ns) after = after->prev;
    t->prev = after;
    t->next = after ? after->next : r->timers_head;
    if (t->next) t->next->prev = t;
    else r->timers_tail = t;
    if (after) after->next = t;
    else r->timers_head = t;
    t->armed = true;
}

static void timers_fire(struct reactor *r, int64_t now_ns)
{
    while (r->timers_head && r->timers_head->deadline_ns <= now_ns) {
        struct reactor_timer *t = r->timers_head;
        reactor_timer_cancel(r, t);
        t->fire(r, t);
    }
}

/* ---- the loop ------------------------------------------------------------------- */

static int64_t turn_timeout_ns(struct reactor *r, int64_t now_ns)
{
    int64_t t = (int64_t)TURN_MS_MAX * 1000000;
    if (r->timers_head && r->timers_head->deadline_ns - now_ns < t) t = r->timers_head->deadline_ns - now_ns;
    return t < 0 ? 0 : t;
}

/* Returns the CQEs reaped. */
static unsigned reap(struct reactor *r)
{
    unsigned reaped = 0;
    for (int rounds = 0; rounds < 64; rounds++) {
        struct io_uring_cqe *cqes[CQE_BATCH];
        struct { struct weir_uop *op; int32_t res; uint32_t flags; } done[CQE_BATCH];
        unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, CQE_BATCH);
        if (n == 0) return reaped;
        reaped += n;
        for (unsigned i = 0; i < n; i++) {
            done[i].op = io_uring_cqe_get_data(cqes[i]);
            done[i].res = cqes[i]->res;
            done[i].flags = cqes[i]->flags;
        }
        io_uring_cq_advance(&r->ring, n); /* slots free before callbacks queue more */
        for (unsigned i = 0; i < n; i++) done[i].op->cb(done[i].op, done[i].res, done[i].flags);
    }
    return reaped;
}

static bool reactor_busy(const struct reactor *r)
{
    if (r->local_head || !weir_appender_idle(r->ap)) return true;
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->busy && r->hooks[i].ops->busy(r, r->hooks[i].ctx)) return true;
    return false;
}

static bool reactor_open(const struct reactor *r)
{
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->open && r->hooks[i].ops->open(r, r->hooks[i].ctx)) return true;
    return false;
}

static void hooks_stop(struct reactor *r, bool force)
{
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->stop) r->hooks[i].ops->stop(r, r->hooks[i].ctx, force);
}

static void stop_begin(struct reactor *r)
{
    r->stopping = true;
    r->stop_deadline_ns = weir_clock_ns() + (int64_t)STOP_DRAIN_MS * 1000000;
    for (unsigned i = 0; i < r->n_acc; i++) {
        if (r->acc[i].armed) reactor_cancel(r, &r->acc[i].op);
        if (r->acc[i].polling) reactor_cancel(r, &r->acc[i].poll_op);
    }
    hooks_stop(r, false); /* no more reading; in-flight requests are still answered */
}

static void turn(struct reactor *r)
{
    local_drain(r);
    int64_t now_ms = weir_time_ms();
    weir_appender_tick(r->ap, now_ms);
    weir_appender_prepare(r->ap, now_ms);
    int64_t enter_ns = weir_clock_ns();
    int64_t wait_ns = r->local_head ? 0 : turn_timeout_ns(r, enter_ns);
    struct __kernel_timespec ts = { .tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000 };
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
        weir_panic("reactor %u: io_uring_submit_and_wait: %s", r->id, strerror(-rc)); /* our bug */
    int64_t left_ns = weir_clock_ns();
    unsigned reaped = reap(r);
    local_drain(r);
    int64_t now_ns = weir_clock_ns();
    struct reactor_stats *st = &r->stats; /* for /metrics (metrics.c); relaxed: only this thread writes */
    atomic_fetch_add_explicit(&st->turns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sqes_submitted, rc > 0 ? (uint64_t)rc : 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->cqes_reaped, reaped, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->enter_ns, (uint64_t)(left_ns - enter_ns), memory_order_relaxed);
    timers_fire(r, now_ns);
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->tick) r->hooks[i].ops->tick(r, r->hooks[i].ctx, now_ns);
    parts_retain(r, weir_time_ms());
}

static void *reactor_main(void *arg)
{
    struct reactor *r = arg;
    tls_reactor = r;
    parts_open_owned(r);
    event_arm(r);
    for (unsigned i = 0; i < r->n_acc; i++) accept_arm(&r->acc[i]);
    for (uint64_t turns = 0;; turns++) {
        WEIR_ASSERT(turns < UINT64_MAX); /* runs until stopped */
        turn(r);
        if (atomic_load(&r->b->stopping) && !r->stopping) stop_begin(r);
        if (r->stopping && !r->forced && weir_clock_ns() > r->stop_deadline_ns) {
            if (reactor_open(r))
                weir_log(WEIR_LOG_WARN, "reactor %u: closing connections that did not drain in %d ms", r->id,
                         STOP_DRAIN_MS);
            r->forced = true;
            hooks_stop(r, true);
        }
        if (r->stopping && !r->quiesced && !reactor_busy(r)) {
            r->quiesced = true;
            atomic_fetch_add(&r->b->quiesced, 1);
        }
        if (r->quiesced && atomic_load(&r->b->quiesced) == r->b->n_reactors && !reactor_busy(r)) break;
    }
    hooks_stop(r, true);
    for (int i = 0; i < 1000 && reactor_open(r); i++) turn(r); /* let closes finish */
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->fini) r->hooks[i].ops->fini(r, r->hooks[i].ctx);
    parts_close_all(r);
    return NULL;
}

enum weir_err reactor_start(struct reactor *r)
{
    int rc = io_uring_queue_init(RING_ENTRIES, &r->ring, 0);
    if (rc < 0) {
        weir_log(WEIR_LOG_ERROR, "reactor %u: io_uring_queue_init: %s", r->id, strerror(-rc));
        return WEIR_E_UNSUPPORTED;
    }
    r->event_fd = eventfd(0, EFD_CLOEXEC);
    if (r->event_fd < 0) return WEIR_E_IO;
    r->event_op.cb = event_cb;
    for (unsigned i = 0; i < r->n_acc; i++) {
        r->acc[i].r = r;
        r->acc[i].op.cb = accept_cb;
        r->acc[i].poll_op.cb = accept_poll_cb;
    }
    spare_reopen(r);
    pthread_mutex_init(&r->mbox_mu, NULL);
    pthread_mutex_init(&r->wake_inbox.mu, NULL);
    r->wake_inbox.task.run = inbox_run;
    r->wait_buckets = &r->wait_bucket_one;
    r->wait_n_buckets = 1;
    enum weir_err err = weir_appender_create_on(&r->ring, &r->ap);
    if (err != WEIR_OK) return err;
    if (pthread_create(&r->thread, NULL, reactor_main, r) != 0) return WEIR_E_NOMEM;
    return WEIR_OK;
}

void reactor_discard(struct reactor *r)
{
    for (unsigned i = 0; i < r->n_hooks; i++)
        if (r->hooks[i].ops->fini) r->hooks[i].ops->fini(r, r->hooks[i].ctx);
    r->n_hooks = 0;
}

void reactor_join(struct reactor *r)
{
    pthread_join(r->thread, NULL);
    /* A late wake-up may sit in the mailbox: the inbox's own task. */
    for (struct task *t = r->mbox_head; t; t = t->next) WEIR_ASSERT(t == &r->wake_inbox.task);
    if (r->wait_buckets != &r->wait_bucket_one) weir_free(r->wait_buckets);
    weir_free(r->inflate);
    pthread_mutex_destroy(&r->wake_inbox.mu);
    weir_appender_destroy(r->ap);
    io_uring_queue_exit(&r->ring);
    close(r->event_fd);
    for (unsigned i = 0; i < r->n_acc; i++) close(r->acc[i].fd);
    pthread_mutex_lock(&shed_mu); /* another reactor may still borrow it */
    if (r->spare_fd >= 0) close(r->spare_fd);
    r->spare_fd = -1;
    pthread_mutex_unlock(&shed_mu);
    pthread_mutex_destroy(&r->mbox_mu);
}

void reactor_wake(struct reactor *r)
{
    uint64_t one = 1;
    if (write(r->event_fd, &one, sizeof one) != sizeof one) weir_log(WEIR_LOG_WARN, "reactor %u: wake failed", r->id);
}
