/* net/conn.c: one client connection: framing, the request FIFO, sending.
 *
 * Reading: frames are the INT32 size then that many bytes. The size is checked
 * against socket.request.max.bytes before anything is allocated. Small frames
 * are cut from a 64 KiB receive buffer; a frame larger than what the buffer
 * holds gets its own buffer and the rest is received straight into it.
 * At most CONN_INFLIGHT_MAX requests wait per connection; beyond that the
 * connection is not read until responses drain.
 * Sending: only the FIFO head is sent, so responses keep request order.
 * Memory chunks go by sendmsg; file chunks (fetch records) go either
 * file -> pipe -> socket by splice, or by sendmsg from the segment mapping.
 * Teardown: a dead connection waits until no op is in flight, no request has
 * tasks out on other reactors, and no entry point is on the stack (refs),
 * then frees everything. A closing connection (broker stopping) reads no
 * more, answers what it has, then closes. */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

static void conn_recv_arm(struct conn *c);
static void conn_send_next(struct conn *c);
static void conn_maybe_free(struct conn *c);
static void conn_unadmit(struct broker *b, struct ip_count *ip);

#ifdef WEIR_DEBUG
/* The connection's invariants, checked (in debug builds) at every entry and
 * exit and at each FIFO change: the FIFO is a proper list of inflight
 * requests of c, the send cursor and busy flags refer to its head, a partial
 * frame is outside it. Returns true so that it sits in WEIR_DASSERT. */
static bool conn_check(const struct conn *c)
{
    WEIR_ASSERT(c->refs >= 0 && c->fd >= 0);
    WEIR_ASSERT(c->rlen <= CONN_RBUF_BYTES);
    WEIR_ASSERT(!c->recv_busy || !c->parsing);
    WEIR_ASSERT(!c->q_head == !c->q_tail);
    unsigned n = 0;
    for (const struct request *req = c->q_head; req; req = req->next) {
        WEIR_ASSERT(req->c == c && req->in_fifo && req->pending >= 0);
        WEIR_ASSERT(req->next || req == c->q_tail);
        WEIR_ASSERT(!req->ready || req != c->r->waiting); /* answered: off the long-poll list (fetch_check: all of it) */
        n++;
        WEIR_ASSERT(n <= c->inflight);
    }
    WEIR_ASSERT(n == c->inflight);
    /* Reading pauses at CONN_INFLIGHT_MAX; one receive buffer adds at most its frames. */
    WEIR_ASSERT(c->inflight <= CONN_INFLIGHT_MAX + CONN_RBUF_BYTES / 4);
    if (c->send_busy) WEIR_ASSERT(c->q_head && c->q_head->ready && !c->q_head->no_response);
    if (c->chunk || c->chunk_off) WEIR_ASSERT(c->q_head && c->chunk <= kbuf_chunk_count(&c->q_head->out));
    if (c->pipe_len && !c->dead) WEIR_ASSERT(c->send_busy);
    WEIR_ASSERT((c->pipe_fd[0] < 0) == (c->pipe_fd[1] < 0));
    if (c->partial) {
        WEIR_ASSERT(c->partial->c == c && !c->partial->in_fifo && c->partial->pending == 0);
        WEIR_ASSERT(c->partial_have <= c->partial->frame_len && c->partial->frame_len > CONN_RBUF_BYTES - 4);
    }
    return true;
}

/* The reactor's request pool: req_pool_n emptied requests, none in use. */
static bool req_pool_check(const struct reactor *r)
{
    unsigned n = 0;
    for (const struct request *req = r->req_pool; req; req = req->next, n++) {
        WEIR_ASSERT(n < REQ_POOL_MAX);
        WEIR_ASSERT(!req->c && !req->frame && !req->in_fifo && !req->pending && !req->on_release && !req->state);
        WEIR_ASSERT(req->arena.used == 0 && !req->arena.extra && kbuf_chunk_count(&req->out) == 0);
    }
    WEIR_ASSERT(n == r->req_pool_n);
    return true;
}
#endif

static void conn_enter(struct conn *c)
{
    WEIR_DASSERT(conn_check(c));
    c->refs++;
}
static void conn_leave(struct conn *c)
{
    WEIR_ASSERT(c->refs > 0);
    WEIR_DASSERT(conn_check(c));
    if (--c->refs == 0) conn_maybe_free(c);
}

/* ---- counters for /metrics (metrics.c reads them) ------------------------------------ */

const int64_t metrics_latency_bound_ns[METRICS_LAT_BUCKETS] = {
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};

unsigned metrics_latency_bucket(int64_t ns)
{
    unsigned i = 0;
    while (i < METRICS_LAT_BUCKETS && ns > metrics_latency_bound_ns[i]) i++;
    return i;
}

unsigned metrics_api_slot(int16_t key)
{
    return key >= 0 && key < METRICS_APIS - 1 ? (unsigned)key : METRICS_APIS - 1;
}

void metrics_request_done(struct request *req)
{
    struct reactor_stats *s = &req->c->r->stats;
    unsigned a = metrics_api_slot(req->hdr.api_key);
    int64_t took = weir_clock_ns() - req->start_ns;
    if (took < 0) took = 0;
    atomic_fetch_add_explicit(&s->api_requests[a], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->api_latency_ns[a], (uint64_t)took, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->api_latency[a][metrics_latency_bucket(took)], 1, memory_order_relaxed);
}

void metrics_request_error(struct request *req, int16_t code)
{
    if (code == 0) return;
    unsigned c = code >= -1 && code < METRICS_CODES - 2 ? (unsigned)(code + 1) : METRICS_CODES - 1;
    _Atomic uint64_t *n = &req->c->r->stats.api_errors[metrics_api_slot(req->hdr.api_key)][c];
    atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

/* ---- requests ------------------------------------------------------------------ */

static void request_destroy(struct request *req)
{
    kbuf_free(&req->out);
    weir_arena_destroy(&req->arena);
    weir_free(req->frame_buf);
    weir_free(req);
}

/* A request for a frame of frame_len bytes: from the reactor's pool when it
 * has one (no allocation for a frame up to REQ_FRAME_POOLED), else new. */
static struct request *request_new(struct conn *c, size_t frame_len)
{
    struct reactor *r = c->r;
    WEIR_DASSERT(req_pool_check(r));
    struct request *req = r->req_pool;
    if (req) {
        WEIR_ASSERT(r->req_pool_n > 0);
        r->req_pool = req->next;
        r->req_pool_n--;
        req->next = NULL;
    } else {
        req = weir_calloc(1, sizeof *req);
        if (!req) return NULL;
        if (weir_arena_init_growable(&req->arena, REQ_ARENA_MIN, REQ_ARENA_MIN) != WEIR_OK) {
            weir_free(req);
            return NULL;
        }
        kbuf_init(&req->out, 0);
    }
    if (frame_len <= REQ_FRAME_POOLED) {
        if (!req->frame_buf) req->frame_buf = weir_malloc(REQ_FRAME_POOLED);
        req->frame = req->frame_buf;
    } else {
        req->frame = weir_malloc(frame_len);
    }
    if (!req->frame) {
        request_destroy(req); /* a pooled one's response buffer too */
        return NULL;
    }
    /* Decoded arrays take at most a small multiple of the frame (proto/proto.h (1)).
     * The arena is empty here: only its first block, of REQ_ARENA_MIN bytes. */
    WEIR_ASSERT(req->arena.used == 0 && req->arena.total == REQ_ARENA_MIN);
    req->arena.limit = REQ_ARENA_MIN + 16 * frame_len;
    req->c = c;
    req->frame_len = frame_len;
    return req;
}

/* Releases what req holds for its handler and puts it on its reactor's pool,
 * emptied; past REQ_POOL_MAX it is freed instead. */
static void request_free(struct request *req)
{
    WEIR_ASSERT(!req->in_fifo && req->pending == 0);
    if (req->on_release) req->on_release(req);
    struct reactor *r = req->c->r;
    WEIR_ASSERT(r->waiting != req); /* off the long-poll list (fetch_release) */
    if (req->frame != req->frame_buf) weir_free(req->frame);
    if (r->req_pool_n >= REQ_POOL_MAX) {
        request_destroy(req);
        return;
    }
    weir_arena_reset(&req->arena);
    if (req->out.mem_cap > REQ_OUT_POOLED || req->out.chunks_cap > KBUF_CHUNKS_POOLED) kbuf_free(&req->out);
    else kbuf_reset(&req->out);
    *req = (struct request){ .frame_buf = req->frame_buf, .arena = req->arena, .out = req->out, .next = r->req_pool };
    r->req_pool = req;
    r->req_pool_n++;
    WEIR_DASSERT(req_pool_check(r));
}

void request_pool_free(struct reactor *r)
{
    while (r->req_pool) {
        struct request *req = r->req_pool;
        r->req_pool = req->next;
        r->req_pool_n--;
        request_destroy(req);
    }
    WEIR_ASSERT(r->req_pool_n == 0);
}

static void fifo_push(struct conn *c, struct request *req)
{
    WEIR_ASSERT(!req->in_fifo && !req->next && req->c == c);
    req->in_fifo = true;
    if (c->q_tail) c->q_tail->next = req;
    else c->q_head = req;
    c->q_tail = req;
    c->inflight++;
    WEIR_DASSERT(conn_check(c));
}

static struct request *fifo_pop(struct conn *c)
{
    struct request *req = c->q_head;
    WEIR_ASSERT(req && req->in_fifo && c->inflight > 0);
    c->q_head = req->next;
    if (!c->q_head) c->q_tail = NULL;
    req->next = NULL;
    req->in_fifo = false;
    c->inflight--;
    WEIR_DASSERT(conn_check(c));
    return req;
}

/* Frees req once it is out of the FIFO and no task of it is out. */
static void request_maybe_free(struct request *req)
{
    if (!req->in_fifo && req->pending == 0) request_free(req);
}

void request_task_done(struct request *req)
{
    WEIR_ASSERT(req->pending > 0 && req->c);
    struct conn *c = req->c;
    conn_enter(c);
    req->pending--;
    if (!req->in_fifo) request_maybe_free(req);
    conn_leave(c);
}

void response_begin(struct request *req)
{
    /* The frame position is kept in the arena-free kframe at the kbuf start. */
    struct kframe f = kproto_response_begin(&req->out, req->hdr.api_key, req->hdr.api_version, req->hdr.correlation_id);
    WEIR_ASSERT(f.size_pos == 0 || f.size_pos == KBUF_POS_NONE);
}

void response_end(struct request *req)
{
    struct kframe f = { .size_pos = 0, .file_start = 0 };
    kproto_response_end(&req->out, &f);
}

void request_respond(struct request *req)
{
    metrics_request_done(req);
    req->ready = true;
    if (req->in_fifo) conn_kick(req->c);
}

/* ---- framing --------------------------------------------------------------------- */

/* Marks c dead; the outermost entry point frees it (conn_leave). */
static void conn_close(struct conn *c, const char *why)
{
    if (c->dead) return;
    if (why) weir_log(WEIR_LOG_INFO, "closing connection from %s: %s", c->peer, why);
    c->dead = true;
    shutdown(c->fd, SHUT_RDWR); /* completes the outstanding recv and send */
}

static void request_start(struct conn *c, struct request *req)
{
    fifo_push(c, req);
    atomic_fetch_add_explicit(&c->r->stats.requests, 1, memory_order_relaxed);
    req->start_ns = weir_clock_ns();
    struct weir_rd rd = weir_rd_make(req->frame, req->frame_len);
    enum weir_err err = kproto_header_decode(&rd, &req->hdr);
    if (err != WEIR_OK) {
        req->ready = true;
        req->close_after = true;
        weir_log(WEIR_LOG_INFO, "connection from %s: malformed request header (%s)", c->peer, weir_err_str(err));
        return;
    }
    req->body = rd;
    c->r->b->dispatch(req);
}

/* Cuts whole frames out of rbuf; closes the connection on a bad size. */
static void frames_parse(struct conn *c)
{
    size_t pos = 0, max = (size_t)c->r->b->cfg.socket_request_max_bytes;
    while (c->rlen - pos >= 4 && !c->dead) {
        int32_t size = (int32_t)weir_load_be32(c->rbuf + pos);
        if (size < 0 || (size_t)size > max) {
            char why[96];
            snprintf(why, sizeof why, "frame size %d outside [0, socket.request.max.bytes=%zu]", size, max);
            conn_close(c, why);
            return;
        }
        size_t have = c->rlen - pos - 4;
        if (have < (size_t)size && (size_t)size + 4 <= CONN_RBUF_BYTES) break; /* fits: wait for the rest */
        struct request *req = request_new(c, (size_t)size);
        if (!req) {
            conn_close(c, "out of memory for a request");
            return;
        }
        size_t take = WEIR_MIN(have, (size_t)size);
        memcpy(req->frame, c->rbuf + pos + 4, take);
        pos += 4 + take;
        if (take < (size_t)size) { /* large: receive the rest into its own buffer */
            c->partial = req;
            c->partial_have = take;
            break;
        }
        request_start(c, req);
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
}

static void recv_process(struct conn *c, int32_t res)
{
    if (res <= 0) {
        if (res == -EINTR || res == -EAGAIN) return;
        if (res == -ECANCELED && c->closing) return; /* stopping: answer what we have */
        if (res == 0 && (c->partial || c->rlen)) {
            char why[96];
            snprintf(why, sizeof why, "peer closed in the middle of a frame (%zu bytes of it received)",
                     c->partial ? c->partial_have + 4 : c->rlen);
            conn_close(c, why);
            return;
        }
        conn_close(c, res == 0 || res == -ECANCELED || res == -ECONNRESET ? NULL : strerror(-res));
        return;
    }
    atomic_fetch_add_explicit(&c->r->stats.bytes_in, (uint64_t)res, memory_order_relaxed);
    if (c->partial) {
        c->partial_have += (size_t)res;
        if (c->partial_have == c->partial->frame_len) {
            struct request *req = c->partial;
            c->partial = NULL;
            request_start(c, req);
        }
    } else {
        c->rlen += (size_t)res;
        frames_parse(c);
    }
}

static void recv_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = weir_container_of(op, struct conn, recv_op);
    conn_enter(c);
    c->recv_busy = false;
    c->parsing = true;
    if (!c->dead) recv_process(c, res);
    c->parsing = false;
    if ((c->closing || c->dead) && c->partial) { /* a frame that will never complete */
        request_free(c->partial);
        c->partial = NULL;
    }
    conn_kick(c);
    conn_leave(c);
}

static void conn_recv_arm(struct conn *c)
{
    if (c->recv_busy || c->parsing || c->dead || c->closing || c->inflight >= CONN_INFLIGHT_MAX) return;
    struct io_uring_sqe *sqe = reactor_sqe(c->r, &c->recv_op);
    if (c->partial)
        io_uring_prep_recv(sqe, c->fd, c->partial->frame + c->partial_have, c->partial->frame_len - c->partial_have, 0);
    else
        io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, CONN_RBUF_BYTES - c->rlen, 0);
    c->recv_busy = true;
}

/* ---- sending ---------------------------------------------------------------------- */

static void send_done(struct conn *c)
{
    WEIR_ASSERT(c->q_head && c->q_head->ready && !c->send_busy);
    c->chunk = c->chunk_off = 0;
    struct request *req = fifo_pop(c);
    bool close_after = req->close_after;
    request_maybe_free(req);
    if (close_after) conn_close(c, "after answering a malformed or unsupported request");
}

/* Moves the send cursor over n sent bytes; returns how many were file bytes. */
static size_t advance(struct conn *c, size_t n)
{
    const struct kbuf *out = &c->q_head->out;
    size_t file_bytes = 0;
    while (n > 0) {
        struct kchunk k = kbuf_chunk(out, c->chunk);
        size_t step = WEIR_MIN(n, (size_t)k.len - c->chunk_off);
        if (k.kind == KCHUNK_FILE) file_bytes += step;
        c->chunk_off += step;
        n -= step;
        if (c->chunk_off == k.len) c->chunk++, c->chunk_off = 0;
    }
    while (c->chunk < kbuf_chunk_count(out) && kbuf_chunk(out, c->chunk).len == 0) c->chunk++;
    return file_bytes;
}

static bool send_finished(const struct conn *c) { return c->chunk >= kbuf_chunk_count(&c->q_head->out); }

static void sendmsg_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = weir_container_of(op, struct conn, send_op);
    conn_enter(c);
    c->send_busy = false;
    if (res == -EINTR || res == -EAGAIN) res = 0;
    if (res < 0) {
        conn_close(c, res != -EPIPE && res != -ECONNRESET && res != -ECANCELED ? strerror(-res) : NULL);
    } else if (!c->dead) {
        atomic_fetch_add_explicit(&c->r->stats.bytes_out, (uint64_t)res, memory_order_relaxed);
        size_t copied = advance(c, (size_t)res); /* file bytes sent from the mapping */
        atomic_fetch_add_explicit(&c->r->stats.fetch_bytes_copy, copied, memory_order_relaxed);
        if (send_finished(c)) send_done(c);
    }
    conn_kick(c);
    conn_leave(c);
}

/* A file chunk's bytes in the segment mapping (its pin is the engine view). */
static const uint8_t *file_chunk_mem(const struct kchunk *k)
{
    const struct weir_log_view *v = k->pin;
    WEIR_ASSERT(v && k->pos >= v->pos && k->pos + k->len <= v->pos + v->len);
    return v->data + (k->pos - v->pos);
}

/* Gathers chunks from the cursor into the iovec; stops before a file chunk in
 * splice mode. Returns the iovec count. */
static int gather(struct conn *c, bool splice_files)
{
    const struct kbuf *out = &c->q_head->out;
    size_t n_chunks = kbuf_chunk_count(out), off = c->chunk_off;
    int n = 0;
    for (size_t i = c->chunk; i < n_chunks && n < (int)WEIR_ARRAY_LEN(c->iov); i++, off = 0) {
        struct kchunk k = kbuf_chunk(out, i);
        if (k.kind == KCHUNK_FILE && splice_files) break;
        if (k.len == off) continue;
        const uint8_t *base = k.kind == KCHUNK_MEM ? k.mem : file_chunk_mem(&k);
        c->iov[n++] = (struct iovec){ (void *)(base + off), k.len - off };
    }
    return n;
}

static void splice_in_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = weir_container_of(op, struct conn, splice_in_op);
    conn_enter(c);
    if (res <= 0 || c->dead) {
        c->send_busy = false;
        conn_close(c, res < 0 ? strerror(-res) : c->dead ? NULL : "segment file ended early");
    } else {
        c->pipe_len = (size_t)res;
        io_uring_prep_splice(reactor_sqe(c->r, &c->splice_out_op), c->pipe_fd[0], -1, c->fd, -1, (unsigned)res,
                             SPLICE_F_MOVE);
    }
    conn_leave(c);
}

static void splice_out_cb(struct weir_uop *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct conn *c = weir_container_of(op, struct conn, splice_out_op);
    conn_enter(c);
    if (res <= 0 || c->dead) {
        c->send_busy = false;
        conn_close(c, res < 0 && res != -EPIPE && res != -ECONNRESET && res != -ECANCELED ? strerror(-res) : NULL);
    } else {
        atomic_fetch_add_explicit(&c->r->stats.fetch_bytes_splice, (uint64_t)res, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->r->stats.bytes_out, (uint64_t)res, memory_order_relaxed);
        advance(c, (size_t)res);
        c->pipe_len -= (size_t)res;
        if (c->pipe_len > 0) { /* short: send the rest of the pipe */
            io_uring_prep_splice(reactor_sqe(c->r, &c->splice_out_op), c->pipe_fd[0], -1, c->fd, -1,
                                 (unsigned)c->pipe_len, SPLICE_F_MOVE);
        } else {
            c->send_busy = false;
            if (send_finished(c)) send_done(c);
            conn_kick(c);
        }
    }
    conn_leave(c);
}

static bool pipe_ready(struct conn *c)
{
    if (c->pipe_fd[0] >= 0) return true;
    if (pipe2(c->pipe_fd, O_CLOEXEC) != 0) return false;
    fcntl(c->pipe_fd[1], F_SETPIPE_SZ, FETCH_PIPE_BYTES); /* best effort: 64 KiB otherwise */
    return true;
}

static void conn_send_next(struct conn *c)
{
    bool splice_files = c->r->b->cfg.fetch_send == WEIR_FETCH_SEND_SPLICE;
    int n = gather(c, splice_files);
    if (n > 0) {
        c->msg = (struct msghdr){ .msg_iov = c->iov, .msg_iovlen = (size_t)n };
        io_uring_prep_sendmsg(reactor_sqe(c->r, &c->send_op), c->fd, &c->msg, MSG_NOSIGNAL);
        c->send_busy = true;
        return;
    }
    struct kchunk k = kbuf_chunk(&c->q_head->out, c->chunk);
    WEIR_ASSERT(k.kind == KCHUNK_FILE && splice_files);
    if (!pipe_ready(c)) {
        conn_close(c, "cannot create a splice pipe");
        return;
    }
    int64_t off = (int64_t)(k.pos + c->chunk_off);
    unsigned len = (unsigned)WEIR_MIN((size_t)k.len - c->chunk_off, (size_t)FETCH_PIPE_BYTES);
    io_uring_prep_splice(reactor_sqe(c->r, &c->splice_in_op), k.fd, off, c->pipe_fd[1], -1, len, SPLICE_F_MOVE);
    c->send_busy = true;
}

void conn_kick(struct conn *c)
{
    conn_enter(c);
    while (!c->send_busy && !c->dead && c->q_head && c->q_head->ready) {
        struct request *head = c->q_head;
        if (head->no_response || kbuf_chunk_count(&head->out) == 0) {
            send_done(c);
            continue;
        }
        if (head->out.err != WEIR_OK) {
            weir_log(WEIR_LOG_ERROR, "connection from %s: response to api %d too large or out of memory: %s", c->peer,
                     head->hdr.api_key, weir_err_str(head->out.err));
            conn_close(c, "response could not be built");
            break;
        }
        conn_send_next(c);
    }
    if (c->closing && !c->q_head && !c->send_busy && !c->recv_busy) conn_close(c, NULL);
    conn_recv_arm(c);
    conn_leave(c);
}

/* ---- life ------------------------------------------------------------------------ */

static bool conn_requests_out(const struct conn *c)
{
    for (const struct request *req = c->q_head; req; req = req->next)
        if (req->pending > 0) return true;
    return false;
}

static void conn_maybe_free(struct conn *c)
{
    if (!c->dead || c->refs > 0 || c->recv_busy || c->send_busy || conn_requests_out(c)) return;
    WEIR_DASSERT(conn_check(c));
    /* Requests still waiting on tasks leave the FIFO and free themselves later.
     * The send cursor may be inside the head's response (a reader that went
     * away mid-send): it points at nothing once the head leaves. */
    c->chunk = c->chunk_off = 0;
    while (c->q_head) request_maybe_free(fifo_pop(c));
    if (c->partial) request_free(c->partial);
    if (c->prev) c->prev->next = c->next;
    else c->r->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    close(c->fd);
    conn_unadmit(c->r->b, c->ip);
    if (c->pipe_fd[0] >= 0) close(c->pipe_fd[0]), close(c->pipe_fd[1]);
    weir_free(c->rbuf);
    weir_free(c);
}

/* ---- connection limits ----------------------------------------------------------- */

/* max.connections counts every connection from its accept to its free, over
 * all reactors. max.connections.per.ip counts them by client address in a
 * table shared by the reactors (the kernel spreads one client's connections
 * over them): used only when the key is set; an entry lives while its count
 * is above zero. At a limit the new connection is closed at once. */
enum { IP_BUCKETS = 1024 };

struct ip_count {
    uint8_t addr[16];
    uint8_t len;                 /* 4 or 16 */
    int32_t n;                   /* connections open from addr, > 0 */
    struct ip_count *next;
};

void conn_limits_init(struct broker *b)
{
    atomic_init(&b->conns_open, 0);
    pthread_mutex_init(&b->ip_mu, NULL);
    b->ip_buckets = NULL;
}

void conn_limits_free(struct broker *b)
{
    WEIR_ASSERT(atomic_load(&b->conns_open) >= 0);
    for (size_t i = 0; b->ip_buckets && i < IP_BUCKETS; i++)
        for (struct ip_count *e = b->ip_buckets[i], *next; e; e = next) {
            next = e->next; /* left by connections a forced stop did not free */
            weir_free(e);
        }
    weir_free(b->ip_buckets);
    b->ip_buckets = NULL;
    pthread_mutex_destroy(&b->ip_mu);
}

static size_t ip_hash(const uint8_t *addr, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ addr[i]) * 16777619u;
    return h % IP_BUCKETS;
}

/* Counts a connection from addr unless the address has max of them open.
 * Returns its entry, or NULL when refused (*over set) or out of memory. */
static struct ip_count *ip_take(struct broker *b, const uint8_t *addr, uint8_t len, int32_t max, bool *over)
{
    *over = false;
    pthread_mutex_lock(&b->ip_mu);
    if (!b->ip_buckets) b->ip_buckets = weir_calloc(IP_BUCKETS, sizeof *b->ip_buckets);
    struct ip_count *e = NULL;
    if (b->ip_buckets) {
        struct ip_count **head = &b->ip_buckets[ip_hash(addr, len)];
        for (e = *head; e && (e->len != len || memcmp(e->addr, addr, len)); e = e->next) {}
        if (!e && (e = weir_calloc(1, sizeof *e))) {
            memcpy(e->addr, addr, len);
            e->len = len;
            e->next = *head;
            *head = e;
        }
        if (e && e->n >= max) *over = true, e = NULL; /* an entry at its limit has n >= 1: not freed here */
        else if (e) e->n++;
    }
    pthread_mutex_unlock(&b->ip_mu);
    return e;
}

static void ip_release(struct broker *b, struct ip_count *e)
{
    pthread_mutex_lock(&b->ip_mu);
    WEIR_ASSERT(e->n > 0);
    if (--e->n == 0) {
        struct ip_count **link = &b->ip_buckets[ip_hash(e->addr, e->len)];
        while (*link != e) link = &(*link)->next;
        *link = e->next;
        weir_free(e);
    }
    pthread_mutex_unlock(&b->ip_mu);
}

/* The client's address: 4 or 16 bytes into addr; 0 when unknown. */
static uint8_t peer_addr(const struct sockaddr_storage *sa, uint8_t addr[16])
{
    if (sa->ss_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->ss_family == AF_INET6) {
        memcpy(addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/* Admits a new connection under max.connections and max.connections.per.ip;
 * over one of them: one rate-limited WARN line and false. *ip: its entry. */
static bool conn_admit(struct reactor *r, const struct sockaddr_storage *sa, const char *peer, struct ip_count **ip)
{
    struct broker *b = r->b;
    *ip = NULL;
    int32_t open = atomic_fetch_add(&b->conns_open, 1);
    if (open >= b->cfg.max_connections) {
        atomic_fetch_sub(&b->conns_open, 1);
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "connection from %s closed: %d connections are open, the limit "
                             "max.connections=%d", peer, open, b->cfg.max_connections);
        return false;
    }
    uint8_t addr[16], len = peer_addr(sa, addr);
    if (b->cfg.max_connections_per_ip == INT32_MAX || len == 0) return true;
    bool over;
    *ip = ip_take(b, addr, len, b->cfg.max_connections_per_ip, &over);
    if (over) {
        atomic_fetch_sub(&b->conns_open, 1);
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "connection from %s closed: its address has %d connections open, the "
                             "limit max.connections.per.ip=%d", peer, b->cfg.max_connections_per_ip,
                             b->cfg.max_connections_per_ip);
        return false;
    }
    return true; /* out of memory for the entry: admitted, not counted by address */
}

/* Gives back what conn_admit counted. */
static void conn_unadmit(struct broker *b, struct ip_count *ip)
{
    if (ip) ip_release(b, ip);
    int32_t was = atomic_fetch_sub(&b->conns_open, 1);
    WEIR_ASSERT(was > 0);
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (sa->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    }
    snprintf(out, cap, "%s:%u", host, port);
}

void conn_accept(struct reactor *r, int fd, unsigned listener)
{
    struct sockaddr_storage sa = { .ss_family = AF_UNSPEC };
    socklen_t sa_len = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &sa_len) != 0) sa.ss_family = AF_UNSPEC;
    char peer[64];
    peer_name(&sa, peer, sizeof peer);
    struct ip_count *ip;
    if (!conn_admit(r, &sa, peer, &ip)) {
        close(fd);
        return;
    }
    struct conn *c = weir_calloc(1, sizeof *c);
    if (c) c->rbuf = weir_malloc(CONN_RBUF_BYTES);
    if (!c || !c->rbuf) {
        weir_log(WEIR_LOG_WARN, "reactor %u: out of memory for a connection", r->id);
        weir_free(c);
        conn_unadmit(r->b, ip);
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    _Static_assert(sizeof c->peer == sizeof peer, "");
    memcpy(c->peer, peer, sizeof peer);
    c->ip = ip;
    c->r = r;
    c->fd = fd;
    c->listener = listener;
    c->pipe_fd[0] = c->pipe_fd[1] = -1;
    c->recv_op.cb = recv_cb;
    c->send_op.cb = sendmsg_cb;
    c->splice_in_op.cb = splice_in_cb;
    c->splice_out_op.cb = splice_out_cb;
    c->next = r->conns;
    if (r->conns) r->conns->prev = c;
    r->conns = c;
    atomic_fetch_add_explicit(&r->stats.connections, 1, memory_order_relaxed);
    WEIR_DASSERT(conn_check(c));
    conn_recv_arm(c);
}

bool conn_busy_any(const struct reactor *r)
{
    for (const struct conn *c = r->conns; c; c = c->next)
        if (!c->dead && (c->q_head || c->send_busy || c->recv_busy)) return true;
    return false;
}

/* Stops reading every connection: idle ones close now, busy ones once their
 * responses are out. `force` (every reactor quiesced) closes all now. */
void conn_shutdown_all(struct reactor *r, bool force)
{
    for (struct conn *c = r->conns, *next; c; c = next) {
        conn_enter(c);
        c->closing = true;
        if (force) conn_close(c, NULL);
        else if (c->recv_busy) reactor_cancel(r, &c->recv_op);
        conn_kick(c);
        next = c->next; /* c stays linked while entered */
        conn_leave(c);
    }
}

/* ---- the reactor's hook ------------------------------------------------------------- */

static void conn_hook_stop(struct reactor *r, void *ctx, bool force)
{
    (void)ctx;
    conn_shutdown_all(r, force);
}

static bool conn_hook_busy(const struct reactor *r, void *ctx)
{
    (void)ctx;
    return conn_busy_any(r);
}

static bool conn_hook_open(const struct reactor *r, void *ctx)
{
    (void)ctx;
    return r->conns != NULL;
}

static void conn_hook_fini(struct reactor *r, void *ctx)
{
    (void)ctx;
    request_pool_free(r);
}

static const struct reactor_hook_ops conn_hook = { .stop = conn_hook_stop, .busy = conn_hook_busy,
                                                   .open = conn_hook_open, .fini = conn_hook_fini };

void conn_reactor_init(struct reactor *r)
{
    r->on_accept = conn_accept;
    reactor_hook_add(r, &conn_hook, NULL);
}
