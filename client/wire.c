/* client/wire.c: a blocking connection to one broker, for the admin client
 * and the consumer's fetch thread: connect (bounded), ApiVersions (v3, then
 * the fallback of README §4), then requests each answered by one response
 * frame with the expected correlation id. The socket is non-blocking and every
 * wait is a poll() bounded by a deadline, optionally woken by `wake_fd`.
 * Response frames are reference counted (cw_frame) so that decoded records may
 * keep pointing into them. Any failure closes the connection, with one line in
 * c->err; the caller reconnects. */
#include "wire_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t cw_now_ms(void) { return weir_clock_ns() / 1000000; }

void cw_errf(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

/* ---- frames --------------------------------------------------------------------------- */

void cw_frame_ref(struct cw_frame *f) { atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed); }

void cw_frame_unref(struct cw_frame *f)
{
    if (f && atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) == 1) weir_free(f);
}

/* ---- connection ------------------------------------------------------------------------- */

void cw_conn_init(struct cw_conn *c, const char *client_id)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->node_id = -1;
    c->wake_fd = -1;
    c->client_id = client_id ? client_id : "weir";
    for (int i = 0; i < CW_API_KEYS; i++) c->ver[i] = -1;
}

void cw_close(struct cw_conn *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* Fails the connection: closes it and keeps the reason. Returns err. */
__attribute__((format(printf, 3, 4))) static int conn_fail(struct cw_conn *c, int err, const char *fmt, ...)
{
    char why[CW_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    cw_errf(c->err, sizeof c->err, "%s:%d: %s", c->host, c->port, why);
    cw_close(c);
    return err;
}

int16_t cw_version(const struct cw_conn *c, int16_t key)
{
    return key >= 0 && key < CW_API_KEYS ? c->ver[key] : -1;
}

/* Waits until fd is ready for `events` or the deadline passes. 0 ready, else
 * an error (the connection is failed). */
static int conn_wait(struct cw_conn *c, short events, int64_t deadline_ms, const char *what)
{
    for (;;) {
        int64_t left = deadline_ms - cw_now_ms();
        if (left <= 0) return conn_fail(c, WEIR_CLIENT_E_TIMED_OUT, "timed out %s", what);
        struct pollfd pfd[2] = { { c->fd, events, 0 }, { c->wake_fd, POLLIN, 0 } };
        int rc = poll(pfd, c->wake_fd >= 0 ? 2 : 1, (int)WEIR_MIN(left, INT32_MAX));
        if (rc < 0 && errno == EINTR) continue;
        if (rc < 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "poll: %s", strerror(errno));
        if (c->wake_fd >= 0 && (pfd[1].revents & POLLIN)) return conn_fail(c, WEIR_CLIENT_E_CLOSED, "closing");
        if (rc > 0) return 0;
    }
}

static int conn_open(struct cw_conn *c, const struct addrinfo *ai, int64_t deadline_ms)
{
    c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (c->fd < 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "socket: %s", strerror(errno));
    int one = 1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "connect: %s", strerror(errno));
    int rc = conn_wait(c, POLLOUT, deadline_ms, "connecting");
    if (rc != 0) return rc;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr != 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "connect: %s", strerror(soerr));
    return 0;
}

/* Picks, for every key we know, the highest version both sides speak. */
static void versions_pick(struct cw_conn *c, const struct kapiversions_client_resp *resp)
{
    for (int i = 0; i < CW_API_KEYS; i++) c->ver[i] = -1;
    for (int32_t i = 0; i < resp->n_api_keys; i++) {
        const struct kapiversions_key *k = &resp->api_keys[i];
        const struct kproto_api *ours = kproto_api_find(k->api_key);
        if (!ours || ours->max < 0 || k->api_key < 0 || k->api_key >= CW_API_KEYS) continue;
        int16_t hi = WEIR_MIN(k->max_version, ours->max);
        int16_t lo = WEIR_MAX(k->min_version, ours->min);
        if (hi >= lo) c->ver[k->api_key] = hi;
    }
}

/* ApiVersions, retrying lower on UNSUPPORTED_VERSION: min(sent - 1, the
 * broker's ApiVersions max) when its answer names one, else v0. */
static int conn_apiversions(struct cw_conn *c, int64_t deadline_ms)
{
    struct kbuf kb;
    kbuf_init(&kb, 0);
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 4096, 1 << 20) != WEIR_OK) return conn_fail(c, WEIR_CLIENT_E_NOMEM, "out of memory");
    int16_t v = 3;
    int rc = 0;
    for (int tries = 0; tries < 4; tries++) {
        int32_t corr;
        struct kframe f = cw_request_begin(c, &kb, KAPI_API_VERSIONS, v, &corr);
        struct kapiversions_req req = { kstr_c("weir"), kstr_c(WEIR_CLIENT_VERSION) };
        kproto_apiversions_request_encode(&kb, v, &req);
        kproto_request_end(&kb, &f);
        struct cw_frame *frame = NULL;
        struct weir_rd rd;
        rc = cw_send(c, &kb, deadline_ms);
        if (rc == 0) rc = cw_recv_response(c, KAPI_API_VERSIONS, v, corr, deadline_ms, &frame, &rd);
        if (rc != 0) break;
        struct kapiversions_client_resp resp;
        struct weir_rd peek = rd;
        weir_arena_reset(&a);
        if (kproto_apiversions_response_decode(&rd, v, &a, &resp) != WEIR_OK) {
            /* UNSUPPORTED_VERSION in a format other than Kafka's v0 one
             * (librdkafka's mock answers in the request's flexible format):
             * retry at v0, as the producer's conn.c does. */
            bool retry = v > 0 && weir_rd_i16(&peek) == WEIR_KERR_UNSUPPORTED_VERSION;
            cw_frame_unref(frame);
            if (retry) {
                v = 0;
                continue;
            }
            rc = conn_fail(c, WEIR_CLIENT_E_BAD_MSG, "malformed ApiVersions v%d response", v);
            break;
        }
        if (resp.base.error_code == WEIR_KERR_UNSUPPORTED_VERSION && v > 0) {
            int16_t next = 0;
            for (int32_t i = 0; i < resp.n_api_keys; i++)
                if (resp.api_keys[i].api_key == KAPI_API_VERSIONS)
                    next = WEIR_MIN((int16_t)(v - 1), resp.api_keys[i].max_version);
            v = WEIR_MAX(next, 0);
            cw_frame_unref(frame);
            continue;
        }
        if (resp.base.error_code != 0) {
            rc = conn_fail(c, WEIR_CLIENT_E_UNSUPPORTED, "ApiVersions: %s", weir_client_err_str(resp.base.error_code));
        } else {
            versions_pick(c, &resp);
        }
        cw_frame_unref(frame);
        break;
    }
    kbuf_free(&kb);
    weir_arena_destroy(&a);
    return rc;
}

int cw_connect(struct cw_conn *c, const char *host, int port, int timeout_ms)
{
    cw_close(c);
    if (host != c->host) snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    c->err[0] = '\0';
    int64_t deadline = cw_now_ms() + timeout_ms;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        cw_errf(c->err, sizeof c->err, "%s:%d: cannot resolve: %s", host, port, gai_strerror(gai));
        return WEIR_CLIENT_E_RESOLVE;
    }
    int rc = WEIR_CLIENT_E_TRANSPORT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        rc = conn_open(c, ai, deadline);
        if (rc == 0 || rc == WEIR_CLIENT_E_CLOSED) break;
    }
    freeaddrinfo(res);
    if (rc == 0) rc = conn_apiversions(c, deadline);
    return rc;
}

bool cw_parse_hostport(const char *s, size_t len, char *host, size_t host_cap, int *port)
{
    while (len && *s == ' ') s++, len--;
    while (len && s[len - 1] == ' ') len--;
    const char *colon = len ? memrchr(s, ':', len) : NULL;
    if (!colon || colon == s || (size_t)(colon - s) + 1 >= len) return false;
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[') {
        if (hlen < 3 || h[hlen - 1] != ']') return false;
        h++, hlen -= 2;
    }
    long p = 0;
    for (const char *q = colon + 1; q < s + len; q++) {
        if (*q < '0' || *q > '9' || p > 65535) return false;
        p = p * 10 + (*q - '0');
    }
    if (p < 1 || p > 65535 || hlen + 1 > host_cap) return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return true;
}

int cw_connect_bootstrap(struct cw_conn *c, const char *servers, int timeout_ms)
{
    int rc = WEIR_CLIENT_E_BAD_CONFIG;
    cw_errf(c->err, sizeof c->err, "bootstrap.servers is empty");
    for (const char *s = servers; s && *s;) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char host[CW_HOST_MAX];
        int port;
        if (!cw_parse_hostport(s, len, host, sizeof host, &port)) {
            cw_errf(c->err, sizeof c->err, "invalid bootstrap.servers entry \"%.*s\": expected host:port", (int)len, s);
            return WEIR_CLIENT_E_BAD_CONFIG;
        }
        rc = cw_connect(c, host, port, timeout_ms);
        if (rc == 0 || rc == WEIR_CLIENT_E_CLOSED) return rc;
        if (!end) break;
        s = end + 1;
    }
    return rc;
}

/* ---- requests ------------------------------------------------------------------------------ */

struct kframe cw_request_begin(struct cw_conn *c, struct kbuf *kb, int16_t key, int16_t version, int32_t *corr)
{
    kbuf_reset(kb);
    *corr = c->corr++;
    if (c->corr < 0) c->corr = 0;
    struct kreq_header h = {
        .api_key = key,
        .api_version = version,
        .correlation_id = *corr,
        .client_id = kstr_c(c->client_id),
    };
    return kproto_request_begin(kb, &h);
}

int cw_send(struct cw_conn *c, const struct kbuf *kb, int64_t deadline_ms)
{
    if (c->fd < 0) return WEIR_CLIENT_E_TRANSPORT;
    if (kb->err != WEIR_OK) return conn_fail(c, WEIR_CLIENT_E_NOMEM, "request: %s", weir_err_str(kb->err));
    struct kbuf_cursor cur = { 0, 0 };
    size_t left = kbuf_total_len(kb);
    /* Each turn sends >= 1 byte or waits; the deadline bounds the waits. */
    while (left > 0) {
        struct iovec iov[CW_IOV_MAX];
        int n = kbuf_gather(kb, &cur, iov, CW_IOV_MAX);
        WEIR_ASSERT(n > 0);
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = conn_wait(c, POLLOUT, deadline_ms, "sending");
            if (rc != 0) return rc;
            continue;
        }
        if (w < 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "send: %s", strerror(errno));
        kbuf_advance(kb, &cur, (size_t)w);
        left -= (size_t)w;
    }
    return 0;
}

static int conn_read(struct cw_conn *c, uint8_t *p, size_t n, int64_t deadline_ms)
{
    while (n > 0) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            int rc = conn_wait(c, POLLIN, deadline_ms, "waiting for the response");
            if (rc != 0) return rc;
            continue;
        }
        if (r < 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "recv: %s", strerror(errno));
        if (r == 0) return conn_fail(c, WEIR_CLIENT_E_TRANSPORT, "connection closed by the broker");
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int cw_recv_response(struct cw_conn *c, int16_t key, int16_t version, int32_t corr, int64_t deadline_ms,
                     struct cw_frame **frame, struct weir_rd *body)
{
    *frame = NULL;
    if (c->fd < 0) return WEIR_CLIENT_E_TRANSPORT;
    uint8_t size_be[4];
    int rc = conn_read(c, size_be, sizeof size_be, deadline_ms);
    if (rc != 0) return rc;
    int32_t size = (int32_t)weir_load_be32(size_be);
    if (size < 4 || size > CW_FRAME_MAX)
        return conn_fail(c, WEIR_CLIENT_E_BAD_MSG, "response frame of %" PRId32 " bytes", size);
    struct cw_frame *f = weir_malloc(sizeof *f + (size_t)size);
    if (!f) return conn_fail(c, WEIR_CLIENT_E_NOMEM, "out of memory for a %" PRId32 "-byte response", size);
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)size;
    rc = conn_read(c, f->data, (size_t)size, deadline_ms);
    if (rc != 0) {
        weir_free(f);
        return rc;
    }
    struct weir_rd rd = weir_rd_make(f->data, f->len);
    int32_t got;
    if (kproto_response_header_decode(&rd, key, version, &got) != WEIR_OK || got != corr) {
        weir_free(f);
        return conn_fail(c, WEIR_CLIENT_E_BAD_MSG, "response header: correlation id %" PRId32 ", expected %" PRId32,
                         weir_load_be32(f->data), corr);
    }
    *frame = f;
    *body = rd;
    return 0;
}

int cw_call(struct cw_conn *c, const struct kbuf *kb, int16_t key, int16_t version, int32_t corr, int timeout_ms,
            struct cw_frame **frame, struct weir_rd *body)
{
    int64_t deadline = cw_now_ms() + timeout_ms;
    int rc = cw_send(c, kb, deadline);
    if (rc == 0) rc = cw_recv_response(c, key, version, corr, deadline, frame, body);
    return rc;
}

int cw_metadata(struct cw_conn *c, struct weir_arena *a, const char *const *topics, int n, int timeout_ms,
                struct kmetadata_resp *out, struct cw_frame **frame)
{
    int16_t v = cw_version(c, KAPI_METADATA);
    if (v < 0) {
        cw_errf(c->err, sizeof c->err, "%s:%d: the broker offers no Metadata version this client speaks", c->host,
                 c->port);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    struct kstr *names = n > 0 ? weir_arena_alloc(a, (size_t)n * sizeof *names) : NULL;
    if (n > 0 && !names) return WEIR_CLIENT_E_NOMEM;
    for (int i = 0; i < n; i++) names[i] = kstr_c(topics[i]);
    struct kmetadata_req req = {
        .all_topics = n < 0,
        .n_topics = WEIR_MAX(n, 0),
        .topics = names,
        .allow_auto_topic_creation = false,
    };
    struct kbuf kb;
    kbuf_init(&kb, 0);
    int32_t corr;
    struct kframe f = cw_request_begin(c, &kb, KAPI_METADATA, v, &corr);
    kproto_metadata_request_encode(&kb, v, &req);
    kproto_request_end(&kb, &f);
    struct weir_rd rd;
    int rc = cw_call(c, &kb, KAPI_METADATA, v, corr, timeout_ms, frame, &rd);
    kbuf_free(&kb);
    if (rc != 0) return rc;
    if (kproto_metadata_response_decode(&rd, v, a, out) != WEIR_OK) {
        cw_frame_unref(*frame);
        *frame = NULL;
        return conn_fail(c, WEIR_CLIENT_E_BAD_MSG, "malformed Metadata v%d response", v);
    }
    return 0;
}

int cw_find_coordinator(struct cw_conn *c, struct weir_arena *a, const char *group, int timeout_ms, char *host,
                        size_t host_cap, int *port, int32_t *node_id)
{
    int16_t v = cw_version(c, KAPI_FIND_COORDINATOR);
    if (v < 0) {
        cw_errf(c->err, sizeof c->err, "%s:%d: the broker offers no FindCoordinator version this client speaks",
                c->host, c->port);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    struct kfindcoordinator_req req = { .key = kstr_c(group) };
    struct kbuf kb;
    kbuf_init(&kb, 0);
    int32_t corr;
    struct kframe f = cw_request_begin(c, &kb, KAPI_FIND_COORDINATOR, v, &corr);
    kproto_findcoordinator_request_encode(&kb, v, &req);
    kproto_request_end(&kb, &f);
    struct weir_rd rd;
    struct cw_frame *frame = NULL;
    int rc = cw_call(c, &kb, KAPI_FIND_COORDINATOR, v, corr, timeout_ms, &frame, &rd);
    kbuf_free(&kb);
    if (rc != 0) return rc;
    struct kfindcoordinator_resp resp;
    if (kproto_findcoordinator_response_decode(&rd, v, a, &resp) != WEIR_OK ||
        (resp.error_code == 0 && (resp.host.len <= 0 || (size_t)resp.host.len >= host_cap))) {
        cw_frame_unref(frame);
        return conn_fail(c, WEIR_CLIENT_E_BAD_MSG, "malformed FindCoordinator v%d response", v);
    }
    rc = resp.error_code;
    if (rc != 0 && resp.error_message.len > 0)
        cw_errf(c->err, sizeof c->err, "FindCoordinator: %.*s", (int)resp.error_message.len, resp.error_message.ptr);
    else if (rc != 0)
        cw_errf(c->err, sizeof c->err, "FindCoordinator: %s", weir_client_err_str(rc));
    else {
        memcpy(host, resp.host.ptr, (size_t)resp.host.len);
        host[resp.host.len] = '\0';
        *port = resp.port;
        *node_id = resp.node_id;
    }
    cw_frame_unref(frame);
    return rc;
}

void cw_cond_wait_until(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t until_ms)
{
    int64_t ns = weir_clock_ns() + (until_ms - cw_now_ms()) * 1000000;
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    pthread_cond_timedwait(cond, lock, &ts);
}
