/* client/conn.c: the Sender's connections: a non-blocking TCP socket per
 * broker, connected lazily; ApiVersions first (v3, falling back per the
 * broker's answer, README §4), then pipelined requests. Requests leave in
 * order and Kafka answers in order, so a response always belongs to the
 * oldest request waiting (its correlation id is checked). Output is a chain
 * of kbuf chunks gathered into sendmsg iovecs: record batches go from the
 * producer's batch buffers to the socket without a copy. A request older than
 * request.timeout.ms closes its connection, as in Kafka's clients; every
 * request on a failed connection is reported lost (Produce: retriable). */
#include "client_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

enum { CONNECT_TIMEOUT_MS_MAX = 10000 }; /* socket.connection.setup.timeout.ms */

/* ---- requests ----------------------------------------------------------------------- */

struct cl_req *cl_req_new(struct cl_sender *s, enum cl_req_kind kind, int16_t key, int16_t version)
{
    struct cl_req *r = s->free_reqs;
    if (r) {
        s->free_reqs = r->next;
    } else {
        r = weir_calloc(1, sizeof *r);
        if (!r) return NULL;
        kbuf_init(&r->kb, 0);
    }
    r->next = NULL;
    r->kind = kind;
    r->key = key;
    r->version = version;
    r->no_response = false;
    r->n_batches = 0;
    r->bytes = 0;
    kbuf_reset(&r->kb);
    return r;
}

void cl_req_free(struct cl_sender *s, struct cl_req *r)
{
    WEIR_ASSERT(r->n_batches == 0); /* every batch has its outcome */
    kbuf_reset(&r->kb);
    r->next = s->free_reqs;
    s->free_reqs = r;
}

struct kframe cl_req_begin(struct cl_sender *s, struct cl_req *r)
{
    r->corr = s->corr++;
    if (s->corr < 0) s->corr = 0;
    struct kreq_header h = {
        .api_key = r->key,
        .api_version = r->version,
        .correlation_id = r->corr,
        .client_id = kstr_c(s->p->conf.client_id),
    };
    return kproto_request_begin(&r->kb, &h);
}

/* The request will never be answered: hand its work back. */
static void req_lost(struct cl_sender *s, struct cl_req *r, int err)
{
    if (r->kind == CL_REQ_PRODUCE) {
        pthread_mutex_lock(&s->p->lock);
        for (uint32_t i = 0; i < r->n_batches; i++) cl_batch_outcome(s, r->batches[i], err, -1, -1);
        r->n_batches = 0;
        pthread_mutex_unlock(&s->p->lock);
    } else {
        cl_meta_request_lost(s, r);
    }
}

int cl_conn_enqueue(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, const struct kframe *f, int64_t now)
{
    kproto_request_end(&r->kb, f);
    if (r->kb.err != WEIR_OK) {
        weir_log(WEIR_LOG_ERROR, "producer: encoding request %d failed: %s", r->key, weir_err_str(r->kb.err));
        int err = r->kb.err == WEIR_E_NOMEM ? WEIR_CLIENT_E_NOMEM : WEIR_CLIENT_E_INVALID_ARG;
        req_lost(s, r, err);
        cl_req_free(s, r);
        return err;
    }
    r->deadline_ms = now + s->p->conf.request_timeout_ms;
    r->next = NULL;
    if (c->out_tail)
        c->out_tail->next = r;
    else
        c->out_head = r;
    c->out_tail = r;
    c->n_reqs++;
    /* Written at the next poll turn (POLLOUT), so several requests share a sendmsg. */
    return WEIR_CLIENT_OK;
}

bool cl_conn_has_room(const struct cl_sender *s, const struct cl_conn *c)
{
    return c->state == CL_CONN_UP && c->n_reqs < (uint32_t)s->p->conf.max_in_flight;
}

/* ---- connecting -------------------------------------------------------------------------- */

static int conn_apiversions(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    struct cl_req *r = cl_req_new(s, CL_REQ_APIVERSIONS, KAPI_API_VERSIONS, c->apiv_version);
    if (!r) return WEIR_CLIENT_E_NOMEM;
    struct kapiversions_req req = { kstr_c("weir"), kstr_c(WEIR_CLIENT_VERSION) };
    struct kframe f = cl_req_begin(s, r);
    kproto_apiversions_request_encode(&r->kb, r->version, &req);
    c->state = CL_CONN_APIVERSIONS;
    return cl_conn_enqueue(s, c, r, &f, now);
}

static int conn_start(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    struct cl_broker *b = c->broker;
    char port[16];
    snprintf(port, sizeof port, "%" PRId32, b->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int rc = getaddrinfo(b->host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        weir_log(WEIR_LOG_WARN, "producer: resolving %s:%s: %s", b->host, port, gai_strerror(rc));
        if (ai) freeaddrinfo(ai);
        return WEIR_CLIENT_E_RESOLVE;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(ai);
        return WEIR_CLIENT_E_TRANSPORT;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc < 0 && errno != EINPROGRESS) {
        close(fd);
        return WEIR_CLIENT_E_TRANSPORT;
    }
    c->fd = fd;
    c->state = CL_CONN_CONNECTING;
    c->connect_deadline_ms = now + WEIR_MIN(s->p->conf.request_timeout_ms, CONNECT_TIMEOUT_MS_MAX);
    if (rc == 0) return conn_apiversions(s, c, now);
    return WEIR_CLIENT_OK;
}

void cl_conn_kick(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    if (c->state != CL_CONN_DOWN) return;
    if (now < c->retry_at_ms) {
        if (c->retry_at_ms < s->next_wake_ms) s->next_wake_ms = c->retry_at_ms;
        return;
    }
    int err = conn_start(s, c, now);
    if (err) cl_conn_fail(s, c, err, "connect failed");
}

struct cl_conn *cl_conn_any(struct cl_sender *s, int64_t now)
{
    struct cl_conn *best = NULL;
    bool pending = false;
    for (size_t i = 0; i < s->n_brokers; i++) {
        struct cl_conn *c = &s->brokers[i]->conn;
        pending |= c->state == CL_CONN_CONNECTING || c->state == CL_CONN_APIVERSIONS;
        if (!cl_conn_has_room(s, c)) continue;
        /* Prefer a broker from metadata over a bootstrap address, then the least loaded. */
        bool better = !best || (best->broker->node_id < 0 && c->broker->node_id >= 0) ||
                      ((best->broker->node_id < 0) == (c->broker->node_id < 0) && c->n_reqs < best->n_reqs);
        if (better) best = c;
    }
    if (best || pending) return best;
    /* Nothing up or coming up: start the next one whose backoff allows. */
    for (size_t k = 0; k < s->n_brokers; k++) {
        struct cl_conn *c = &s->brokers[(s->rr + k) % s->n_brokers]->conn;
        if (c->state != CL_CONN_DOWN) continue;
        if (now < c->retry_at_ms) {
            if (c->retry_at_ms < s->next_wake_ms) s->next_wake_ms = c->retry_at_ms;
            continue;
        }
        s->rr = (s->rr + k + 1) % s->n_brokers;
        cl_conn_kick(s, c, now);
        break;
    }
    return NULL;
}

/* ---- failing -------------------------------------------------------------------------------- */

static void queue_lost(struct cl_sender *s, struct cl_req *head, int err)
{
    while (head) {
        struct cl_req *r = head;
        head = r->next;
        req_lost(s, r, err);
        cl_req_free(s, r);
    }
}

void cl_conn_fail(struct cl_sender *s, struct cl_conn *c, int err, const char *why)
{
    struct weir_producer *p = s->p;
    bool was_up = c->state == CL_CONN_UP;
    if (c->fd >= 0) {
        if (err != WEIR_CLIENT_E_CLOSED)
            weir_log(was_up ? WEIR_LOG_WARN : WEIR_LOG_INFO, "producer: broker %s:%" PRId32 " (node %" PRId32 "): %s (%s)",
                     c->broker->host, c->broker->port, c->broker->node_id, why, weir_client_err_str(err));
        close(c->fd);
        c->fd = -1;
    }
    /* Closed on during ApiVersions: a broker that does not take our version
     * (librdkafka falls back the same way); v0 has everything we read. */
    if (c->state == CL_CONN_APIVERSIONS && err != WEIR_CLIENT_E_CLOSED) c->apiv_version = 0;
    c->state = CL_CONN_DOWN;
    c->retry_at_ms = cl_now_ms(p) + c->backoff_ms;
    c->backoff_ms = WEIR_MIN(c->backoff_ms * 2, CL_BACKOFF_MS_MAX);
    struct cl_req *wait = c->wait_head, *out = c->out_head;
    c->wait_head = c->wait_tail = c->out_head = c->out_tail = NULL;
    c->out_cur = (struct kbuf_cursor){ 0, 0 };
    c->out_done = 0;
    c->n_reqs = 0;
    c->rpos = c->rlen = 0;
    queue_lost(s, wait, err); /* oldest first: retries keep their order */
    queue_lost(s, out, err);
    s->meta_needed = true;
    if (was_up && err != WEIR_CLIENT_E_CLOSED) {
        pthread_mutex_lock(&p->lock);
        p->stats.disconnects++;
        pthread_mutex_unlock(&p->lock);
    }
}

void cl_conn_free(struct cl_sender *s, struct cl_conn *c)
{
    if (c->fd >= 0 || c->out_head || c->wait_head) cl_conn_fail(s, c, WEIR_CLIENT_E_CLOSED, "freed");
    weir_free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = 0;
}

void cl_conn_timeouts(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    if (c->fd < 0) return;
    if (c->state == CL_CONN_CONNECTING) {
        if (now >= c->connect_deadline_ms) {
            cl_conn_fail(s, c, WEIR_CLIENT_E_TRANSPORT, "connect timed out");
            return;
        }
        if (c->connect_deadline_ms < s->next_wake_ms) s->next_wake_ms = c->connect_deadline_ms;
    }
    const struct cl_req *oldest = c->wait_head ? c->wait_head : c->out_head;
    if (!oldest) return;
    if (now >= oldest->deadline_ms) {
        cl_conn_fail(s, c, WEIR_CLIENT_E_TIMED_OUT, "request timed out (request.timeout.ms)");
        return;
    }
    if (oldest->deadline_ms < s->next_wake_ms) s->next_wake_ms = oldest->deadline_ms;
}

/* ---- ApiVersions -------------------------------------------------------------------------- */

/* The highest version both sides speak, within [need_min, our max]; -1 = none. */
static int16_t version_pick(const struct kapiversions_client_resp *resp, int16_t key, int16_t need_min)
{
    const struct kproto_api *ours = kproto_api_find(key);
    if (!ours || ours->min < 0) return -1;
    for (int32_t i = 0; i < resp->n_api_keys; i++) {
        const struct kapiversions_key *k = &resp->api_keys[i];
        if (k->api_key != key) continue;
        int16_t hi = WEIR_MIN(k->max_version, ours->max);
        int16_t lo = WEIR_MAX(WEIR_MAX(k->min_version, ours->min), need_min);
        return hi >= lo ? hi : -1;
    }
    return -1;
}

static int apiversions_response(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, struct weir_rd *rd,
                                int64_t now)
{
    struct kapiversions_client_resp resp;
    struct weir_rd peek = *rd;
    weir_arena_reset(&s->arena);
    if (kproto_apiversions_response_decode(rd, r->version, &s->arena, &resp) != WEIR_OK) {
        /* UNSUPPORTED_VERSION in a format other than Kafka's v0 one (librdkafka's
         * mock answers in the request's flexible format): retry at v0. */
        if (weir_rd_i16(&peek) != WEIR_KERR_UNSUPPORTED_VERSION || r->version == 0) return WEIR_CLIENT_E_BAD_MSG;
        c->apiv_version = 0;
        return conn_apiversions(s, c, now);
    }
    if (resp.base.error_code == WEIR_KERR_UNSUPPORTED_VERSION && r->version > 0) {
        /* Retry lower: min(sent - 1, the broker's ApiVersions max), else v0 (librdkafka's rule). */
        int16_t v = 0;
        for (int32_t i = 0; i < resp.n_api_keys; i++)
            if (resp.api_keys[i].api_key == KAPI_API_VERSIONS) v = WEIR_MIN((int16_t)(r->version - 1), resp.api_keys[i].max_version);
        c->apiv_version = WEIR_MAX(v, 0);
        return conn_apiversions(s, c, now);
    }
    if (resp.base.error_code != 0) return WEIR_CLIENT_E_UNSUPPORTED;
    c->v_produce = version_pick(&resp, KAPI_PRODUCE, 3); /* RecordBatch v2 needs Produce v3+ */
    c->v_metadata = version_pick(&resp, KAPI_METADATA, 0);
    c->v_initpid = version_pick(&resp, KAPI_INIT_PRODUCER_ID, 0);
    if (c->v_produce < 0 || c->v_metadata < 0) {
        weir_log(WEIR_LOG_ERROR, "producer: broker %s:%" PRId32 " offers no Produce v3-7 or Metadata v4-6", c->broker->host,
                 c->broker->port);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    c->state = CL_CONN_UP;
    c->backoff_ms = CL_BACKOFF_MS_MIN;
    pthread_mutex_lock(&s->p->lock);
    s->p->stats.connects++;
    pthread_mutex_unlock(&s->p->lock);
    return WEIR_CLIENT_OK;
}

/* ---- I/O -------------------------------------------------------------------------------------- */

static void req_written(struct cl_sender *s, struct cl_conn *c, struct cl_req *r)
{
    c->out_head = r->next;
    if (!c->out_head) c->out_tail = NULL;
    c->out_cur = (struct kbuf_cursor){ 0, 0 };
    c->out_done = 0;
    r->next = NULL;
    if (r->no_response) { /* acks=0: done once written, offsets unknown */
        c->n_reqs--;
        pthread_mutex_lock(&s->p->lock);
        for (uint32_t i = 0; i < r->n_batches; i++) cl_batch_outcome(s, r->batches[i], 0, -1, -1);
        r->n_batches = 0;
        pthread_mutex_unlock(&s->p->lock);
        cl_req_free(s, r);
        return;
    }
    if (c->wait_tail)
        c->wait_tail->next = r;
    else
        c->wait_head = r;
    c->wait_tail = r;
}

static int conn_write(struct cl_sender *s, struct cl_conn *c)
{
    struct iovec iov[CL_IOV_MAX];
    while (c->out_head) {
        int n = 0;
        /* Gather across requests: several pipelined frames in one sendmsg. */
        struct kbuf_cursor cur = c->out_cur;
        for (struct cl_req *r = c->out_head; r && n < CL_IOV_MAX; r = r->next) {
            n += kbuf_gather(&r->kb, &cur, iov + n, CL_IOV_MAX - n);
            cur = (struct kbuf_cursor){ 0, 0 };
        }
        if (n == 0) { /* the head is all written */
            req_written(s, c, c->out_head);
            continue;
        }
        struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return WEIR_CLIENT_OK;
            return WEIR_CLIENT_E_TRANSPORT;
        }
        for (size_t left = (size_t)w; left > 0;) {
            struct cl_req *r = c->out_head;
            uint64_t total = kbuf_total_len(&r->kb);
            size_t step = (size_t)WEIR_MIN((uint64_t)left, total - c->out_done);
            kbuf_advance(&r->kb, &c->out_cur, step);
            c->out_done += step;
            left -= step;
            if (c->out_done == total) req_written(s, c, r);
        }
    }
    return WEIR_CLIENT_OK;
}

static int conn_frame(struct cl_sender *s, struct cl_conn *c, const uint8_t *frame, size_t size, int64_t now)
{
    struct cl_req *r = c->wait_head;
    if (!r || size < 4 || (int32_t)weir_load_be32(frame) != r->corr) {
        weir_log(WEIR_LOG_WARN, "producer: broker %s:%" PRId32 ": response with correlation id %" PRId32 ", expected %" PRId32,
                 c->broker->host, c->broker->port, size >= 4 ? (int32_t)weir_load_be32(frame) : -1, r ? r->corr : -1);
        return WEIR_CLIENT_E_BAD_MSG;
    }
    c->wait_head = r->next;
    if (!c->wait_head) c->wait_tail = NULL;
    c->n_reqs--;
    struct weir_rd rd = weir_rd_make(frame, size);
    int32_t corr;
    int err = WEIR_CLIENT_E_BAD_MSG;
    if (kproto_response_header_decode(&rd, r->key, r->version, &corr) == WEIR_OK) {
        switch (r->kind) {
        case CL_REQ_APIVERSIONS: err = apiversions_response(s, c, r, &rd, now); break;
        case CL_REQ_METADATA: err = cl_meta_response(s, c, r, &rd); break;
        case CL_REQ_INITPID: err = cl_pid_response(s, c, r, &rd); break;
        case CL_REQ_PRODUCE: err = cl_produce_response(s, r, &rd); break;
        }
    }
    if (err) req_lost(s, r, err);
    cl_req_free(s, r);
    return err;
}

/* Room for `need` unparsed bytes from rpos. */
static bool rbuf_room(struct cl_conn *c, size_t need)
{
    if (c->rpos > 0 && c->rcap - c->rpos < need) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rcap >= need && c->rlen < c->rcap) return true;
    size_t cap = WEIR_MAX(WEIR_MAX(need, (size_t)CL_RECV_INITIAL), c->rcap * 2);
    uint8_t *buf = weir_realloc(c->rbuf, cap);
    if (!buf) return false;
    c->rbuf = buf;
    c->rcap = cap;
    return true;
}

static int conn_parse(struct cl_sender *s, struct cl_conn *c, int64_t now, size_t *need)
{
    *need = 4;
    while (c->rlen - c->rpos >= 4 && c->fd >= 0) {
        int32_t size = (int32_t)weir_load_be32(c->rbuf + c->rpos);
        if (size < 4 || size > CL_RECV_MAX) return WEIR_CLIENT_E_BAD_MSG;
        if (c->rlen - c->rpos < 4 + (size_t)size) {
            *need = 4 + (size_t)size;
            return WEIR_CLIENT_OK;
        }
        const uint8_t *frame = c->rbuf + c->rpos + 4;
        c->rpos += 4 + (size_t)size;
        int err = conn_frame(s, c, frame, (size_t)size, now);
        if (err) return err;
    }
    if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
    return WEIR_CLIENT_OK;
}

static int conn_read(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    size_t need = 4;
    for (int turns = 0; turns < 64 && c->fd >= 0; turns++) {
        if (!rbuf_room(c, need)) return WEIR_CLIENT_E_NOMEM;
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
        if (n == 0) return WEIR_CLIENT_E_TRANSPORT;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return WEIR_CLIENT_OK;
            return WEIR_CLIENT_E_TRANSPORT;
        }
        c->rlen += (size_t)n;
        int err = conn_parse(s, c, now, &need);
        if (err) return err;
    }
    return WEIR_CLIENT_OK;
}

void cl_conn_io(struct cl_sender *s, struct cl_conn *c, short revents, int64_t now)
{
    int err = WEIR_CLIENT_OK;
    const char *why = "connection error";
    if (c->state == CL_CONN_CONNECTING && (revents & (POLLOUT | POLLERR | POLLHUP))) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr) {
            cl_conn_fail(s, c, WEIR_CLIENT_E_TRANSPORT, soerr ? strerror(soerr) : "connect failed");
            return;
        }
        err = conn_apiversions(s, c, now);
        why = "ApiVersions";
    }
    if (!err && (revents & POLLIN)) {
        err = conn_read(s, c, now);
        why = "receive";
    }
    if (!err && c->fd >= 0 && (revents & (POLLERR | POLLHUP)) && !(revents & POLLIN)) {
        err = WEIR_CLIENT_E_TRANSPORT;
        why = "connection closed";
    }
    if (!err && c->fd >= 0 && c->out_head) {
        err = conn_write(s, c);
        why = "send";
    }
    if (err && c->fd >= 0) cl_conn_fail(s, c, err, why);
}
