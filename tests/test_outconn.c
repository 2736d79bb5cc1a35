/* tests/test_outconn.c: net/outconn.c, white-box, on a real reactor (one,
 * with a store in a temp dir) against a raw TCP server run by the test
 * thread: request frames as encoded (header, correlation ids), responses
 * matched by correlation id when answered out of order and when they arrive
 * in pieces, failure of every request in flight when the peer closes, the
 * reconnect only after replica.fetch.backoff.ms, a request timing out (also
 * with its response half received), and a reactor stop with a request in
 * flight (its callback runs, nothing leaks). */
#include "testutil.h"

#include "net/net_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BACKOFF_MS = 300, MAX_DONE = 16 };

struct done_rec {
    enum weir_err err;
    int32_t tag;       /* the ctx the request was sent with */
    int16_t error;     /* ApiVersions error_code when err == WEIR_OK */
};

/* What the reactor thread and the test thread share (under mu). */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;         /* ready callbacks seen */
    struct done_rec done[MAX_DONE];
    int n_done;
    int live;          /* the reactor's outconns not yet freed (reactor thread) */
    struct outconn *oc;
    uint16_t port;
    int64_t timeout_ms;
    int32_t next_tag;
    int to_send;
} S;

static void on_done(void *ctx, enum weir_err err, uint8_t *frame, struct weir_rd body)
{
    struct done_rec d = { .err = err, .tag = (int32_t)(intptr_t)ctx, .error = -99 };
    if (err == WEIR_OK) {
        d.error = weir_rd_i16(&body); /* ApiVersions: error_code first */
        weir_free(frame);
    } else {
        assert_null(frame);
    }
    pthread_mutex_lock(&S.mu);
    assert_true(S.n_done < MAX_DONE);
    S.done[S.n_done++] = d;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
}

/* On the reactor: sends S.to_send ApiVersions v0 requests, tags counting up. */
static void send_some(void)
{
    for (; S.to_send > 0; S.to_send--) {
        struct kbuf *b = outconn_begin(S.oc, KAPI_API_VERSIONS, 0);
        if (!b) return; /* not up yet: ready sends the rest */
        kproto_apiversions_request_encode(b, 0, &(struct kapiversions_req){ KSTR_NULL, KSTR_NULL });
        assert_int_equal(outconn_end(S.oc, S.timeout_ms, on_done, (void *)(intptr_t)S.next_tag++), WEIR_OK);
    }
}

static void on_ready(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&S.mu);
    S.ready++;
    pthread_cond_broadcast(&S.cv);
    pthread_mutex_unlock(&S.mu);
    send_some();
}

struct step {
    struct task t;
    void (*fn)(struct reactor *r);
};
static void step_run(struct reactor *r, struct task *t)
{
    struct step *s = weir_container_of(t, struct step, t);
    s->fn(r);
    weir_free(s);
}
static void post(struct reactor *r, void (*fn)(struct reactor *r))
{
    struct step *s = weir_calloc(1, sizeof *s);
    s->t.run = step_run;
    s->fn = fn;
    reactor_post(r, &s->t);
}

static void start_fn(struct reactor *r)
{
    S.oc = outconn_new(r, "broker-7-fetcher-1", BACKOFF_MS, on_ready, NULL, &S.live);
    assert_non_null(S.oc);
    outconn_target(S.oc, "127.0.0.1", S.port);
}
static void send_fn(struct reactor *r)
{
    (void)r;
    send_some();
}

/* The hook: the outconn goes with the reactor. */
static void hook_stop(struct reactor *r, void *ctx, bool force)
{
    (void)r, (void)ctx, (void)force;
    if (S.oc) outconn_free(S.oc);
    S.oc = NULL;
}
static bool hook_busy(const struct reactor *r, void *ctx)
{
    (void)r, (void)ctx;
    return S.live > 0;
}
static const struct reactor_hook_ops hook = { .stop = hook_stop, .busy = hook_busy, .open = hook_busy };

/* ---- the raw server side ---- */

static int listen_on(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(*port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 8), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Accepts within ms; -1 when nothing came. */
static int accept_within(int lfd, int ms)
{
    struct pollfd p = { lfd, POLLIN, 0 };
    if (poll(&p, 1, ms) != 1) return -1;
    return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

static void read_exact(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = recv(fd, p, n, 0);
        assert_true(got > 0);
        p += got, n -= (size_t)got;
    }
}

/* Reads one request frame; checks its header; returns its correlation id. */
static int32_t read_request(int fd)
{
    uint8_t size_be[4], frame[512];
    read_exact(fd, size_be, 4);
    uint32_t size = weir_load_be32(size_be);
    assert_true(size <= sizeof frame);
    read_exact(fd, frame, size);
    struct weir_rd rd = weir_rd_make(frame, size);
    struct kreq_header h;
    assert_int_equal(kproto_header_decode(&rd, &h), WEIR_OK);
    assert_int_equal(h.api_key, KAPI_API_VERSIONS);
    assert_int_equal(h.api_version, 0);
    assert_true(kstr_eq(h.client_id, "broker-7-fetcher-1"));
    assert_int_equal(weir_rd_left(&rd), 0); /* v0: empty body */
    return h.correlation_id;
}

/* An ApiVersions v0 response with error_code `error` and no keys, in pieces
 * of `piece` bytes with a pause between them. */
static void write_response(int fd, int32_t corr, int16_t error, size_t piece)
{
    uint8_t f[14];
    weir_store_be32(f, 10);
    weir_store_be32(f + 4, (uint32_t)corr);
    weir_store_be16(f + 8, (uint16_t)error);
    weir_store_be32(f + 10, 0);
    for (size_t at = 0; at < sizeof f; at += piece) {
        size_t n = WEIR_MIN(piece, sizeof f - at);
        assert_int_equal(send(fd, f + at, n, MSG_NOSIGNAL), (ssize_t)n);
        if (piece < sizeof f) usleep(2000);
    }
}

static void wait_done(int n)
{
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < 500 && S.n_done < n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&S.cv, &S.mu, &ts);
    }
    assert_int_equal(S.n_done, n);
    pthread_mutex_unlock(&S.mu);
}

static const struct done_rec *done_of(int32_t tag)
{
    for (int i = 0; i < S.n_done; i++)
        if (S.done[i].tag == tag) return &S.done[i];
    fail_msg("no completion for tag %d", tag);
    return NULL;
}

static void test_outconn(void **state)
{
    (void)state;
    pthread_mutex_init(&S.mu, NULL);
    pthread_cond_init(&S.cv, NULL);
    char *dir = tu_tmpdir("outconn");
    struct broker b = { 0 };
    weir_broker_config_default(&b.cfg);
    assert_int_equal(weir_store_open(dir, &b.cfg.log, NULL, &b.store), WEIR_OK);
    b.n_reactors = 1;
    b.reactors = weir_calloc(1, sizeof *b.reactors);
    struct reactor *r = &b.reactors[0];
    *r = (struct reactor){ .b = &b, .id = 0, .n_acc = 1, .spare_fd = -1, .event_fd = -1 };
    uint16_t unused = 0;
    r->acc[0].fd = listen_on(&unused); /* the reactor's own listener: nothing connects */
    reactor_hook_add(r, &hook, NULL);
    assert_int_equal(reactor_start(r), WEIR_OK);

    S.port = 0;
    int lfd = listen_on(&S.port);
    S.timeout_ms = 5000;

    /* 1. Three pipelined requests, answered out of order, one in 1-byte pieces. */
    S.to_send = 3;
    post(r, start_fn);
    int c = accept_within(lfd, 5000);
    assert_true(c >= 0);
    int32_t corr[3];
    for (int i = 0; i < 3; i++) corr[i] = read_request(c);
    assert_true(corr[1] == corr[0] + 1 && corr[2] == corr[1] + 1);
    write_response(c, corr[2], 2, 14);
    write_response(c, corr[0], 0, 1);
    write_response(c, corr[1], 1, 5);
    wait_done(3);
    for (int32_t t = 0; t < 3; t++) {
        assert_int_equal(done_of(t)->err, WEIR_OK);
        assert_int_equal(done_of(t)->error, t); /* tag t got the answer to request t */
    }
    assert_int_equal(S.ready, 1);

    /* 2. The peer closes with two requests in flight: both fail; the reconnect waits the backoff. */
    S.to_send = 2;
    post(r, send_fn);
    read_request(c);
    read_request(c);
    int64_t closed_ns = weir_clock_ns();
    close(c);
    wait_done(5);
    assert_int_equal(done_of(3)->err, WEIR_E_IO);
    assert_int_equal(done_of(4)->err, WEIR_E_IO);
    c = accept_within(lfd, 5000);
    assert_true(c >= 0);
    int64_t waited_ms = (weir_clock_ns() - closed_ns) / 1000000;
    print_message("reconnected after %lld ms (backoff %d)\n", (long long)waited_ms, BACKOFF_MS);
    assert_true(waited_ms >= BACKOFF_MS - 20); /* the timer's granularity */
    /* A request sent before the connection is up waits for ready. */
    S.to_send = 1;
    S.timeout_ms = 300;
    post(r, send_fn);
    int32_t k = read_request(c);
    write_response(c, k, 7, 14);
    wait_done(6);
    assert_int_equal(done_of(5)->err, WEIR_OK);
    assert_int_equal(done_of(5)->error, 7);

    /* 3. No answer: the request times out and the connection is dropped. */
    S.to_send = 1;
    post(r, send_fn);
    read_request(c);
    int64_t sent_ns = weir_clock_ns();
    wait_done(7);
    int64_t took_ms = (weir_clock_ns() - sent_ns) / 1000000;
    assert_int_equal(done_of(6)->err, WEIR_E_IO);
    assert_true(took_ms >= 250 && took_ms < 3000);
    uint8_t byte;
    assert_int_equal(recv(c, &byte, 1, 0), 0); /* closed from its side */
    close(c);
    c = accept_within(lfd, 5000); /* and dialled again */
    assert_true(c >= 0);

    /* 4. The request times out with its response half received (a recv
     * armed into the frame) and the rest comes after: the frame is dropped
     * once that recv is done (the kernel writes into it until then), and the
     * next connection starts on a fresh frame. */
    S.to_send = 1;
    post(r, send_fn);
    k = read_request(c);
    uint8_t f[14]; /* the response of write_response, in two halves */
    weir_store_be32(f, 10);
    weir_store_be32(f + 4, (uint32_t)k);
    weir_store_be16(f + 8, 0);
    weir_store_be32(f + 10, 0);
    assert_int_equal(send(c, f, 7, MSG_NOSIGNAL), 7); /* the size and 3 bytes of the correlation id */
    wait_done(8);
    assert_int_equal(done_of(7)->err, WEIR_E_IO);
    (void)send(c, f + 7, 7, MSG_NOSIGNAL); /* may find it closed */
    while (recv(c, &byte, 1, 0) > 0) {}
    close(c);
    c = accept_within(lfd, 5000);
    assert_true(c >= 0);
    S.to_send = 1;
    post(r, send_fn);
    k = read_request(c);
    write_response(c, k, 9, 3);
    wait_done(9);
    assert_int_equal(done_of(8)->err, WEIR_OK);
    assert_int_equal(done_of(8)->error, 9);

    /* 5. Stop with a request in flight: it fails, the outconn is freed. */
    S.to_send = 1;
    S.timeout_ms = 60000;
    post(r, send_fn);
    read_request(c);
    atomic_store(&b.stopping, true);
    reactor_wake(r);
    reactor_join(r);
    assert_int_equal(S.n_done, 10);
    assert_int_equal(done_of(9)->err, WEIR_E_IO);
    assert_int_equal(S.live, 0);
    close(c);
    close(lfd);
    weir_store_close(b.store);
    weir_free(b.reactors);
    tu_rmrf(dir);
    weir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outconn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
