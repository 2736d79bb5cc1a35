/* net/outconn.c: an outbound Kafka connection owned by one reactor (a
 * follower's link to its leader).
 *
 * Life: DOWN -> (connect op) -> UP -> (any failure) -> DOWN, and the next
 * connect waits out the backoff (replica.fetch.backoff.ms) on a reactor
 * timer. A failure shuts the socket down (completing its ops), fails every
 * request in flight through its callback, and closes the fd once no op is
 * in flight. Requests: at most OC_INFLIGHT_MAX, each matched to its response
 * by correlation id, each with a deadline. Frames are written into one of
 * two reused kbufs while the other is being sent. A response frame is read
 * into a buffer of its own, handed to the callback (which frees it).
 * Name resolution: numeric addresses are parsed; a host name goes through
 * getaddrinfo on the reactor thread (blocking, once per connect). */
#include "net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    OC_INFLIGHT_MAX = 8,
    OC_CONNECT_TIMEOUT_MS = 10000, /* Kafka's socket.connection.setup.timeout.ms */
    OC_FRAME_MAX = 1 << 30,
};

struct oc_req {
    int32_t corr;
    int16_t key, version;
    int64_t deadline_ns;
    outconn_done_fn *done;
    void *ctx;
};

struct outconn {
    struct reactor *r;
    int *live;                   /* the owner's count of outconns not yet freed */
    char client_id[64];
    char host[WEIR_REPL_HOST_MAX];
    int32_t port;
    int64_t backoff_ns;
    void (*ready)(void *ctx);
    void *ctx;
    bool up, connecting, dead, freeing, backoff_over;
    int entered;                 /* callbacks on the stack: no free while > 0 */
    int fd;
    struct sockaddr_storage sa;
    socklen_t sa_len;
    struct weir_uop connect_op, send_op, recv_op;
    bool connect_busy, send_busy, recv_busy;
    int64_t connect_deadline_ns;
    int32_t next_corr;
    struct oc_req reqs[OC_INFLIGHT_MAX];
    unsigned n_reqs;
    struct kbuf out[2];          /* out[fill] takes new frames; the other is being sent */
    unsigned fill;
    struct kframe open_frame;    /* between outconn_begin and outconn_end */
    bool frame_open;
    struct kbuf_cursor cur;
    struct iovec iov[16];
    struct msghdr msg;
    uint8_t size_be[4];
    size_t size_have;
    uint8_t *frame;              /* the response being read */
    size_t frame_len, frame_have;
    struct reactor_timer timer;  /* a deadline (connect, response) or the backoff's end */
};

static void oc_settle(struct outconn *oc);
static void oc_timer_arm(struct outconn *oc);

static void oc_enter(struct outconn *oc) { oc->entered++; }
static void oc_leave(struct outconn *oc)
{
    WEIR_ASSERT(oc->entered > 0);
    oc->entered--;
    oc_settle(oc);
}

static bool oc_ops_busy(const struct outconn *oc) { return oc->connect_busy || oc->send_busy || oc->recv_busy; }

/* The frame being received, and how much of it came. */
static void oc_frame_drop(struct outconn *oc)
{
    WEIR_ASSERT(!oc->recv_busy); /* a recv in flight writes into the frame until it completes */
    weir_free(oc->frame);
    oc->frame = NULL;
    oc->size_have = 0;
}

/* Fails the connection: requests fail, the socket goes once its ops are done. */
static void oc_fail(struct outconn *oc, const char *why)
{
    if (oc->dead) return;
    if (why && !oc->freeing)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "%s: connection to %s:%d: %s", oc->client_id, oc->host, oc->port, why);
    oc->dead = true;
    oc->up = oc->connecting = false;
    oc->backoff_over = false;
    if (oc->fd >= 0) shutdown(oc->fd, SHUT_RDWR); /* completes the recv and the send */
    if (oc->connect_busy) reactor_cancel(oc->r, &oc->connect_op);
    if (oc->recv_busy) reactor_cancel(oc->r, &oc->recv_op);
    if (oc->send_busy) reactor_cancel(oc->r, &oc->send_op);
    kbuf_reset(&oc->out[0]);
    kbuf_reset(&oc->out[1]);
    oc->frame_open = false;
    if (!oc->recv_busy) oc_frame_drop(oc); /* else the kernel may still write into it: recv_cb drops it */
    struct oc_req failed[OC_INFLIGHT_MAX];
    unsigned n = oc->n_reqs;
    memcpy(failed, oc->reqs, n * sizeof failed[0]);
    oc->n_reqs = 0;
    if (!oc->freeing) reactor_timer_arm(oc->r, &oc->timer, weir_clock_ns() + oc->backoff_ns);
    else reactor_timer_cancel(oc->r, &oc->timer);
    oc_enter(oc);
    for (unsigned i = 0; i < n; i++) failed[i].done(failed[i].ctx, WEIR_E_IO, NULL, weir_rd_make(NULL, 0));
    oc_leave(oc);
}

static bool oc_resolve(struct outconn *oc)
{
    memset(&oc->sa, 0, sizeof oc->sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&oc->sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&oc->sa;
    if (inet_pton(AF_INET, oc->host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)oc->port);
        oc->sa_len = sizeof *v4;
        return true;
    }
    if (inet_pton(AF_INET6, oc->host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)oc->port);
        oc->sa_len = sizeof *v6;
        return true;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", oc->port);
    int rc = getaddrinfo(oc->host, port, &hints, &res);
    if (rc != 0 || !res) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "%s: cannot resolve %s: %s", oc->client_id, oc->host, gai_strerror(rc));
        if (res) freeaddrinfo(res);
        return false;
    }
    memcpy(&oc->sa, res->ai_addr, res->ai_addrlen);
    oc->sa_len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static void oc_recv_arm(struct outconn *oc);

static void connect_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct outconn *oc = weir_container_of(op, struct outconn, connect_op);
    oc_enter(oc);
    oc->connect_busy = false;
    if (!oc->dead) {
        if (res < 0) {
            char why[96];
            snprintf(why, sizeof why, "connect: %s", strerror(-res));
            oc_fail(oc, why);
        } else {
            oc->connecting = false;
            oc->up = true;
            oc_recv_arm(oc);
            oc_timer_arm(oc);
            if (oc->ready) oc->ready(oc->ctx);
        }
    }
    oc_leave(oc);
}

/* Connects when down, past the backoff, with no old op in flight. */
static void oc_try_connect(struct outconn *oc)
{
    if (oc->up || oc->connecting || oc->freeing || !oc->backoff_over || oc->fd >= 0 || oc_ops_busy(oc)) return;
    if (!oc->host[0] || oc->r->stopping) return;
    oc->dead = false;
    if (!oc_resolve(oc)) {
        oc->backoff_over = false;
        reactor_timer_arm(oc->r, &oc->timer, weir_clock_ns() + oc->backoff_ns);
        return;
    }
    oc->fd = socket(oc->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (oc->fd < 0) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "%s: socket: %s", oc->client_id, strerror(errno));
        oc->backoff_over = false;
        reactor_timer_arm(oc->r, &oc->timer, weir_clock_ns() + oc->backoff_ns);
        return;
    }
    int one = 1;
    setsockopt(oc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    oc->connecting = true;
    oc->connect_deadline_ns = weir_clock_ns() + (int64_t)OC_CONNECT_TIMEOUT_MS * 1000000;
    io_uring_prep_connect(reactor_sqe(oc->r, &oc->connect_op), oc->fd, (struct sockaddr *)&oc->sa, oc->sa_len);
    oc->connect_busy = true;
    oc_timer_arm(oc);
}

/* Closes a failed socket once its ops are done; frees a freed outconn then;
 * reconnects after the backoff. */
static void oc_settle(struct outconn *oc)
{
    if (oc->entered > 0 || oc_ops_busy(oc)) return;
    if (oc->dead && oc->fd >= 0) {
        close(oc->fd);
        oc->fd = -1;
    }
    if (oc->freeing) {
        if (oc->fd >= 0) close(oc->fd);
        reactor_timer_cancel(oc->r, &oc->timer);
        kbuf_free(&oc->out[0]);
        kbuf_free(&oc->out[1]);
        weir_free(oc->frame);
        (*oc->live)--;
        weir_free(oc);
        return;
    }
    oc_try_connect(oc);
}

static void oc_timer_fire(struct reactor *r, struct reactor_timer *t)
{
    (void)r;
    struct outconn *oc = weir_container_of(t, struct outconn, timer);
    oc_enter(oc);
    int64_t now = weir_clock_ns();
    if (oc->connecting && now >= oc->connect_deadline_ns) {
        oc_fail(oc, "connect timed out");
    } else if (oc->up) {
        for (unsigned i = 0; i < oc->n_reqs; i++)
            if (now >= oc->reqs[i].deadline_ns) {
                oc_fail(oc, "no response in time");
                break;
            }
        if (oc->up) oc_timer_arm(oc);
    } else if (!oc->connecting) {
        oc->backoff_over = true;
    }
    oc_leave(oc);
}

/* While up or connecting: the nearest deadline. */
static void oc_timer_arm(struct outconn *oc)
{
    int64_t at = INT64_MAX;
    if (oc->connecting) at = oc->connect_deadline_ns;
    for (unsigned i = 0; oc->up && i < oc->n_reqs; i++) at = WEIR_MIN(at, oc->reqs[i].deadline_ns);
    if (at == INT64_MAX) reactor_timer_cancel(oc->r, &oc->timer);
    else reactor_timer_arm(oc->r, &oc->timer, at);
}

/* ---- sending ---------------------------------------------------------------------- */

static void oc_send_next(struct outconn *oc)
{
    if (oc->send_busy || !oc->up || oc->dead) return;
    struct kbuf *sending = &oc->out[oc->fill ^ 1];
    int n = kbuf_gather(sending, &oc->cur, oc->iov, (int)WEIR_ARRAY_LEN(oc->iov));
    if (n == 0) { /* that one is out: send what was written meanwhile */
        kbuf_reset(sending);
        oc->cur = (struct kbuf_cursor){ 0, 0 };
        if (kbuf_total_len(&oc->out[oc->fill]) == 0 || oc->frame_open) return;
        oc->fill ^= 1;
        sending = &oc->out[oc->fill ^ 1];
        n = kbuf_gather(sending, &oc->cur, oc->iov, (int)WEIR_ARRAY_LEN(oc->iov));
        if (n == 0) return;
    }
    oc->msg = (struct msghdr){ .msg_iov = oc->iov, .msg_iovlen = (size_t)n };
    io_uring_prep_sendmsg(reactor_sqe(oc->r, &oc->send_op), oc->fd, &oc->msg, MSG_NOSIGNAL);
    oc->send_busy = true;
}

static void send_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct outconn *oc = weir_container_of(op, struct outconn, send_op);
    oc_enter(oc);
    oc->send_busy = false;
    if (res == -EINTR || res == -EAGAIN) res = 0;
    if (oc->dead) {
    } else if (res < 0) {
        char why[96];
        snprintf(why, sizeof why, "send: %s", strerror(-res));
        oc_fail(oc, why);
    } else {
        kbuf_advance(&oc->out[oc->fill ^ 1], &oc->cur, (size_t)res);
        oc_send_next(oc);
    }
    oc_leave(oc);
}

struct kbuf *outconn_begin(struct outconn *oc, int16_t key, int16_t version)
{
    if (!oc->up || oc->dead || oc->frame_open || oc->n_reqs >= OC_INFLIGHT_MAX) return NULL;
    struct kreq_header h = { key, version, oc->next_corr, kstr_c(oc->client_id) };
    struct kbuf *b = &oc->out[oc->fill];
    oc->open_frame = kproto_request_begin(b, &h);
    oc->frame_open = true;
    oc->reqs[oc->n_reqs] = (struct oc_req){ .corr = oc->next_corr, .key = key, .version = version };
    oc->next_corr = oc->next_corr == INT32_MAX ? 0 : oc->next_corr + 1;
    return b;
}

enum weir_err outconn_end(struct outconn *oc, int64_t timeout_ms, outconn_done_fn *done, void *ctx)
{
    WEIR_ASSERT(oc->frame_open && done);
    oc->frame_open = false;
    struct kbuf *b = &oc->out[oc->fill];
    kproto_request_end(b, &oc->open_frame);
    if (b->err != WEIR_OK) { /* too large or out of memory: the connection's frames are unusable */
        enum weir_err err = b->err;
        oc_fail(oc, "request frame could not be built");
        return err;
    }
    struct oc_req *q = &oc->reqs[oc->n_reqs++];
    q->deadline_ns = weir_clock_ns() + timeout_ms * 1000000;
    q->done = done;
    q->ctx = ctx;
    oc_timer_arm(oc);
    oc_send_next(oc);
    return WEIR_OK;
}

/* ---- receiving -------------------------------------------------------------------- */

static void oc_recv_arm(struct outconn *oc)
{
    if (oc->recv_busy || !oc->up || oc->dead) return;
    struct io_uring_sqe *sqe = reactor_sqe(oc->r, &oc->recv_op);
    if (oc->frame)
        io_uring_prep_recv(sqe, oc->fd, oc->frame + oc->frame_have, oc->frame_len - oc->frame_have, 0);
    else
        io_uring_prep_recv(sqe, oc->fd, oc->size_be + oc->size_have, sizeof oc->size_be - oc->size_have, 0);
    oc->recv_busy = true;
}

static void oc_frame_done(struct outconn *oc)
{
    uint8_t *frame = oc->frame;
    size_t len = oc->frame_len;
    oc->frame = NULL;
    oc->size_have = 0;
    if (len < 4) {
        weir_free(frame);
        oc_fail(oc, "response frame shorter than its header");
        return;
    }
    int32_t corr = (int32_t)weir_load_be32(frame);
    unsigned i = 0;
    while (i < oc->n_reqs && oc->reqs[i].corr != corr) i++;
    if (i == oc->n_reqs) {
        weir_free(frame);
        oc_fail(oc, "response to no request in flight");
        return;
    }
    struct oc_req q = oc->reqs[i];
    memmove(&oc->reqs[i], &oc->reqs[i + 1], (oc->n_reqs - i - 1) * sizeof oc->reqs[0]);
    oc->n_reqs--;
    struct weir_rd rd = weir_rd_make(frame, len);
    int32_t got;
    if (kproto_response_header_decode(&rd, q.key, q.version, &got) != WEIR_OK) {
        weir_free(frame);
        oc->reqs[oc->n_reqs++] = q; /* failed with the rest */
        oc_fail(oc, "malformed response header");
        return;
    }
    oc_timer_arm(oc);
    q.done(q.ctx, WEIR_OK, frame, rd);
}

static void recv_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct outconn *oc = weir_container_of(op, struct outconn, recv_op);
    oc_enter(oc);
    oc->recv_busy = false;
    if (oc->dead) {
        oc_frame_drop(oc);
    } else if (res <= 0 && res != -EINTR && res != -EAGAIN) {
        char why[96];
        snprintf(why, sizeof why, "%s", res == 0 ? "closed by the peer" : strerror(-res));
        oc_fail(oc, why);
    } else if (res > 0 && oc->frame) {
        oc->frame_have += (size_t)res;
        if (oc->frame_have == oc->frame_len) oc_frame_done(oc);
    } else if (res > 0) {
        oc->size_have += (size_t)res;
        if (oc->size_have == sizeof oc->size_be) {
            int32_t size = (int32_t)weir_load_be32(oc->size_be);
            if (size < 4 || size > OC_FRAME_MAX) {
                oc_fail(oc, "response frame size out of range");
            } else if (!(oc->frame = weir_malloc((size_t)size))) {
                oc_fail(oc, "out of memory for a response");
            } else {
                oc->frame_len = (size_t)size;
                oc->frame_have = 0;
            }
        }
    }
    oc_recv_arm(oc);
    oc_leave(oc);
}

/* ---- life ----------------------------------------------------------------------- */

struct outconn *outconn_new(struct reactor *r, const char *client_id, int64_t backoff_ms, void (*ready)(void *ctx),
                            void *ctx, int *live)
{
    struct outconn *oc = weir_calloc(1, sizeof *oc);
    if (!oc) return NULL;
    oc->r = r;
    oc->live = live;
    snprintf(oc->client_id, sizeof oc->client_id, "%s", client_id);
    oc->backoff_ns = backoff_ms * 1000000;
    oc->ready = ready;
    oc->ctx = ctx;
    oc->fd = -1;
    oc->backoff_over = true;
    oc->connect_op.cb = connect_cb;
    oc->send_op.cb = send_cb;
    oc->recv_op.cb = recv_cb;
    oc->timer.fire = oc_timer_fire;
    kbuf_init(&oc->out[0], 0);
    kbuf_init(&oc->out[1], 0);
    (*live)++;
    return oc;
}

void outconn_target(struct outconn *oc, const char *host, int32_t port)
{
    if (port == oc->port && !strcmp(host, oc->host)) {
        oc_settle(oc);
        return;
    }
    bool was = oc->host[0] != '\0';
    snprintf(oc->host, sizeof oc->host, "%s", host);
    oc->port = port;
    if (was && (oc->up || oc->connecting)) oc_fail(oc, "the broker's address changed");
    oc->backoff_over = true; /* a new address is dialled at once */
    oc_settle(oc);
}

bool outconn_ready(const struct outconn *oc) { return oc->up && !oc->dead; }

bool outconn_can_send(const struct outconn *oc)
{
    return outconn_ready(oc) && !oc->frame_open && oc->n_reqs < OC_INFLIGHT_MAX;
}

void outconn_free(struct outconn *oc)
{
    oc->ready = NULL;
    oc->freeing = true;
    if (!oc->dead && oc->fd >= 0) oc_fail(oc, NULL);
    else reactor_timer_cancel(oc->r, &oc->timer);
    oc_settle(oc);
}
