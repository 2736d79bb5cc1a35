/* tests/test_alloc_paths.c: heap allocations per request on the broker's
 * request path. A broker runs in this process (one reactor); after a warm-up
 * the test sends N Produce and N Fetch requests over a socket (one at a time,
 * then pipelined bursts) and reads weir_alloc_counts around each run. Every
 * frame is built before the counted runs and responses are decoded into an
 * arena that never grows, so the counts are the broker's. Skips (77) where
 * allocations are not counted (Release builds without WEIR_ALLOC_COUNT). */
#include "testutil.h"

#include "engine/engine.h"
#include "net/net.h"
#include "proto/proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    N = 200,          /* requests per counted run */
    WARM = 64,        /* requests before counting */
    BURST = 8,        /* pipelined requests per burst */
    RESP_MAX = 1 << 20,
    /* Allowed allocations per counted run of N requests: the request path
     * itself allocates nothing; this leaves room for background work on the
     * broker's threads (segment preparation, timers) while a run lasts. */
    RUN_ALLOCS_MAX = N / 20,
};

static const char TOPIC[] = "alloc-paths";

struct broker_run {
    struct weir_broker_config cfg;
    char why[512];
    enum weir_err err;
    pthread_t thread;
    char *dir;
    uint16_t port;
};

static void *broker_main(void *arg)
{
    struct broker_run *b = arg;
    b->err = weir_broker_run(&b->cfg, b->why, sizeof b->why);
    return NULL;
}

static void broker_start(struct broker_run *b)
{
    b->dir = tu_tmpdir("alloc-paths");
    weir_broker_config_default(&b->cfg);
    char why[256];
    char data[4200], port_file[4200];
    snprintf(data, sizeof data, "%s/data", b->dir);
    snprintf(port_file, sizeof port_file, "%s/port", b->dir);
    assert_int_equal(weir_broker_config_set(&b->cfg, "log.dirs", data, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&b->cfg, "weir.port.file", port_file, why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&b->cfg, "listeners", "PLAINTEXT://127.0.0.1:0", why, sizeof why), WEIR_OK);
    assert_int_equal(weir_broker_config_set(&b->cfg, "weir.reactors", "1", why, sizeof why), WEIR_OK);
    /* The broker thread inherits the mask: it takes SIGTERM by sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    assert_int_equal(pthread_create(&b->thread, NULL, broker_main, b), 0);
    for (int i = 0; i < 2000 && !b->port; i++) {
        FILE *f = fopen(port_file, "r");
        unsigned port = 0;
        if (f && fscanf(f, "%u", &port) == 1) b->port = (uint16_t)port;
        if (f) fclose(f);
        if (!b->port) usleep(10000);
    }
    assert_true(b->port != 0);
}

static void broker_stop(struct broker_run *b)
{
    kill(getpid(), SIGTERM);
    pthread_join(b->thread, NULL);
    assert_int_equal(b->err, WEIR_OK);
    tu_rmrf(b->dir);
    weir_free(b->dir);
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* A request frame in one buffer. */
struct frame {
    uint8_t *p;
    size_t len;
};

static struct frame frame_flatten(struct kbuf *b)
{
    assert_int_equal(b->err, WEIR_OK);
    struct frame f = { malloc(kbuf_total_len(b)), 0 };
    assert_non_null(f.p);
    for (size_t i = 0; i < kbuf_chunk_count(b); i++) {
        struct kchunk k = kbuf_chunk(b, i);
        assert_true(k.kind != KCHUNK_FILE);
        memcpy(f.p + f.len, k.mem, k.len);
        f.len += k.len;
    }
    return f;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p += w, n -= (size_t)w;
    }
}

static void recv_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        assert_true(r > 0);
        p += r, n -= (size_t)r;
    }
}

/* One response frame (without its size) into buf; returns its length. */
static size_t recv_frame(int fd, uint8_t *buf)
{
    uint8_t size[4];
    recv_all(fd, size, 4);
    uint32_t n = weir_load_be32(size);
    assert_true(n <= RESP_MAX);
    recv_all(fd, buf, n);
    return n;
}

static struct weir_rd response_body(const uint8_t *buf, size_t n, int16_t key, int16_t version)
{
    struct weir_rd rd = weir_rd_make(buf, n);
    int32_t corr;
    assert_int_equal(kproto_response_header_decode(&rd, key, version, &corr), WEIR_OK);
    return rd;
}

enum { PRODUCE_V = 7, FETCH_V = 11, CREATE_V = 4 };

static void topic_create(int fd, uint8_t *buf, struct weir_arena *a)
{
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kreq_header h = { KAPI_CREATE_TOPICS, CREATE_V, 1, kstr_c("t") };
    struct kframe kf = kproto_request_begin(&b, &h);
    struct kcreatetopics_req_topic t = { .name = kstr_c(TOPIC), .num_partitions = 1, .replication_factor = 1 };
    kproto_createtopics_request_encode(&b, CREATE_V, &(struct kcreatetopics_req){ &t, 1, 10000, false });
    kproto_request_end(&b, &kf);
    struct frame f = frame_flatten(&b);
    kbuf_free(&b);
    send_all(fd, f.p, f.len);
    free(f.p);
    size_t n = recv_frame(fd, buf);
    struct weir_rd rd = response_body(buf, n, KAPI_CREATE_TOPICS, CREATE_V);
    struct kcreatetopics_resp resp;
    weir_arena_reset(a);
    assert_int_equal(kproto_createtopics_response_decode(&rd, CREATE_V, a, &resp), WEIR_OK);
    assert_int_equal(resp.n_topics, 1);
    assert_int_equal(resp.topics[0].error_code, 0);
}

static struct frame produce_frame(int32_t corr, uint8_t *batch, size_t batch_len)
{
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kreq_header h = { KAPI_PRODUCE, PRODUCE_V, corr, kstr_c("t") };
    struct kframe kf = kproto_request_begin(&b, &h);
    struct kproduce_req_part p = { 0, batch, (int32_t)batch_len };
    struct kproduce_req_topic t = { kstr_c(TOPIC), &p, 1 };
    kproto_produce_request_encode(&b, PRODUCE_V, &(struct kproduce_req){ KSTR_NULL, 1, 10000, &t, 1 });
    kproto_request_end(&b, &kf);
    struct frame f = frame_flatten(&b);
    kbuf_free(&b);
    return f;
}

static struct frame fetch_frame(int32_t corr, int64_t offset, int32_t max_wait_ms)
{
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kreq_header h = { KAPI_FETCH, FETCH_V, corr, kstr_c("t") };
    struct kframe kf = kproto_request_begin(&b, &h);
    struct kfetch_req_part p = { .partition = 0, .current_leader_epoch = -1, .fetch_offset = offset,
                                 .log_start_offset = -1, .partition_max_bytes = 1 << 20 };
    struct kfetch_req_topic t = { .topic = kstr_c(TOPIC), .partitions = &p, .n_partitions = 1 };
    struct kfetch_req r = { .replica_id = -1, .max_wait_ms = max_wait_ms, .min_bytes = 1, .max_bytes = 1 << 20,
                            .session_epoch = -1, .topics = &t, .n_topics = 1, .rack_id = kstr_c("") };
    kproto_fetch_request_encode(&b, FETCH_V, &r);
    kproto_request_end(&b, &kf);
    struct frame f = frame_flatten(&b);
    kbuf_free(&b);
    return f;
}

static void produce_check(const uint8_t *buf, size_t n, struct weir_arena *a, int64_t *next_offset)
{
    struct weir_rd rd = response_body(buf, n, KAPI_PRODUCE, PRODUCE_V);
    struct kproduce_resp resp;
    weir_arena_reset(a);
    assert_int_equal(kproto_produce_response_decode(&rd, PRODUCE_V, a, &resp), WEIR_OK);
    assert_int_equal(resp.n_topics, 1);
    assert_int_equal(resp.topics[0].partitions[0].error_code, 0);
    assert_int_equal(resp.topics[0].partitions[0].base_offset, *next_offset);
    *next_offset += 10;
}

/* want_records: the partition has data at the fetch offset. */
static void fetch_check(const uint8_t *buf, size_t n, struct weir_arena *a, bool want_records)
{
    struct weir_rd rd = response_body(buf, n, KAPI_FETCH, FETCH_V);
    struct kfetch_resp resp;
    weir_arena_reset(a);
    assert_int_equal(kproto_fetch_response_decode(&rd, FETCH_V, a, &resp), WEIR_OK);
    assert_int_equal(resp.n_topics, 1);
    assert_int_equal(resp.topics[0].partitions[0].error_code, 0);
    if (want_records) assert_true(resp.topics[0].partitions[0].record_set.len > 0);
    else assert_true(resp.topics[0].partitions[0].record_set.len <= 0);
}

static uint64_t allocs_now(struct weir_alloc_counts *c)
{
    assert_true(weir_alloc_counts(c));
    return weir_alloc_total(c);
}

static void report(const char *what, int n, const struct weir_alloc_counts *a, const struct weir_alloc_counts *b)
{
    uint64_t total = weir_alloc_total(b) - weir_alloc_total(a);
    printf("alloc_paths: %-28s %4d requests: %6llu allocations (%.3f per request; malloc %llu calloc %llu realloc "
           "%llu strdup %llu; arena blocks %llu)\n",
           what, n, (unsigned long long)total, (double)total / n, (unsigned long long)(b->mallocs - a->mallocs),
           (unsigned long long)(b->callocs - a->callocs), (unsigned long long)(b->reallocs - a->reallocs),
           (unsigned long long)(b->strdups - a->strdups), (unsigned long long)(b->arena_blocks - a->arena_blocks));
    fflush(stdout);
}

struct run {
    int fd;
    uint8_t *buf;
    struct weir_arena *a;
    struct frame produce[BURST], fetch[BURST], fetch_empty;
    int64_t next_offset; /* of the next produced batch */
};

/* n produce requests, `burst` at a time on the wire. */
static void produce_n(struct run *r, int n, int burst)
{
    for (int i = 0; i < n; i += burst) {
        for (int j = 0; j < burst; j++) send_all(r->fd, r->produce[j].p, r->produce[j].len);
        for (int j = 0; j < burst; j++) produce_check(r->buf, recv_frame(r->fd, r->buf), r->a, &r->next_offset);
    }
}

static void fetch_n(struct run *r, int n, int burst)
{
    for (int i = 0; i < n; i += burst) {
        for (int j = 0; j < burst; j++) send_all(r->fd, r->fetch[j].p, r->fetch[j].len);
        for (int j = 0; j < burst; j++) fetch_check(r->buf, recv_frame(r->fd, r->buf), r->a, true);
    }
}

static void test_request_path_allocations(void **state)
{
    (void)state;
    struct weir_alloc_counts c0, c1;
    if (!weir_alloc_counts(&c0)) {
        printf("alloc_paths: allocations are not counted in this build (WEIR_ALLOC_COUNT)\n");
        exit(77);
    }
    struct broker_run b = { 0 };
    broker_start(&b);
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 20), WEIR_OK);
    struct run r = { .fd = connect_to(b.port), .buf = malloc(RESP_MAX), .a = &a };
    assert_non_null(r.buf);
    topic_create(r.fd, r.buf, &a);
    size_t batch_len;
    uint8_t *batch = tu_batch(10, 100, weir_time_ms(), 1, WEIR_CODEC_NONE, 7, &batch_len);
    for (int j = 0; j < BURST; j++) {
        r.produce[j] = produce_frame(100 + j, batch, batch_len);
        r.fetch[j] = fetch_frame(200 + j, 10 * j, 0);
    }
    /* Warm-up: pools fill, the segment is open, the response buffers grown. */
    produce_n(&r, WARM, 1);
    produce_n(&r, WARM, BURST);
    fetch_n(&r, WARM, 1);
    fetch_n(&r, WARM, BURST);
    r.fetch_empty = fetch_frame(300, r.next_offset, 5);
    for (int i = 0; i < 4; i++) {
        send_all(r.fd, r.fetch_empty.p, r.fetch_empty.len);
        fetch_check(r.buf, recv_frame(r.fd, r.buf), &a, false);
    }

    uint64_t worst = 0, before;
    before = allocs_now(&c0);
    produce_n(&r, N, 1);
    worst = WEIR_MAX(worst, allocs_now(&c1) - before);
    report("produce (one at a time)", N, &c0, &c1);

    before = allocs_now(&c0);
    produce_n(&r, N, BURST);
    worst = WEIR_MAX(worst, allocs_now(&c1) - before);
    report("produce (bursts of 8)", N, &c0, &c1);

    /* LZ4 batches: the engine takes them as they are (no decompression). */
    size_t lz4_len;
    uint8_t *lz4 = tu_batch(10, 100, weir_time_ms(), 1, WEIR_CODEC_LZ4, 8, &lz4_len);
    struct frame plain[BURST];
    for (int j = 0; j < BURST; j++) plain[j] = r.produce[j], r.produce[j] = produce_frame(400 + j, lz4, lz4_len);
    produce_n(&r, BURST, BURST);
    before = allocs_now(&c0);
    produce_n(&r, N, BURST);
    worst = WEIR_MAX(worst, allocs_now(&c1) - before);
    report("produce lz4 (bursts of 8)", N, &c0, &c1);
    for (int j = 0; j < BURST; j++) free(r.produce[j].p), r.produce[j] = plain[j];
    weir_free(lz4);

    before = allocs_now(&c0);
    fetch_n(&r, N, 1);
    worst = WEIR_MAX(worst, allocs_now(&c1) - before);
    report("fetch (one at a time)", N, &c0, &c1);

    before = allocs_now(&c0);
    fetch_n(&r, N, BURST);
    worst = WEIR_MAX(worst, allocs_now(&c1) - before);
    report("fetch (bursts of 8)", N, &c0, &c1);

    /* Long poll that expires: the wait list and the subscriptions, no data. */
    enum { EMPTY = 40 };
    free(r.fetch_empty.p);
    r.fetch_empty = fetch_frame(301, r.next_offset, 5); /* at the end again */
    before = allocs_now(&c0);
    for (int i = 0; i < EMPTY; i++) {
        send_all(r.fd, r.fetch_empty.p, r.fetch_empty.len);
        fetch_check(r.buf, recv_frame(r.fd, r.buf), &a, false);
    }
    uint64_t empty = allocs_now(&c1) - before;
    report("fetch (empty, 5 ms wait)", EMPTY, &c0, &c1);

    printf("alloc_paths: worst run %llu allocations for %d requests (bound %d)\n", (unsigned long long)worst, N,
           (int)RUN_ALLOCS_MAX);
    const char *no_bound = getenv("WEIR_ALLOC_PATHS_REPORT_ONLY");
    if (!no_bound || !*no_bound) {
        assert_true(worst <= RUN_ALLOCS_MAX);
        assert_true(empty <= EMPTY / 4);
    }

    close(r.fd);
    for (int j = 0; j < BURST; j++) free(r.produce[j].p), free(r.fetch[j].p);
    free(r.fetch_empty.p);
    weir_free(batch);
    free(r.buf);
    weir_arena_destroy(&a);
    broker_stop(&b);
}

int main(void)
{
    weir_log_set_level(WEIR_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_path_allocations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
