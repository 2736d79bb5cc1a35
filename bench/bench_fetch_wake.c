/* bench/bench_fetch_wake.c: what idle long-polling consumers cost the broker
 * while one partition is hot.
 *
 * The program starts its own broker (`weir serve` on 127.0.0.1:0, a fresh data
 * directory under --dir, `--set weir.reactors=N` when --reactors is given),
 * creates topic "wake" of --idle + 1 partitions (raw CreateTopics v3) and then,
 * once per run (--runs, a fresh broker each):
 *  1. opens --idle connections, each with one Fetch v4 of one partition of its
 *     own (offset 0 of an empty partition, max_wait --wait-ms, min_bytes 1):
 *     idle consumers, each answered only at its deadline (then asked again);
 *  2. one hot consumer long-polls the last partition from its high watermark,
 *     and one producer sends --batches one-record batches (Produce v3,
 *     acks=1, 100-byte value) to it, one at a time;
 *  3. reports the broker's CPU (utime + stime of /proc/PID/stat, all threads)
 *     over the produce window per batch, and the waiter wake-ups per batch
 *     (the broker's "waiter wake-ups N" of its stop line: every wake-up of the
 *     run is counted, and only the produce window has appends).
 *
 * Rows (one JSON object per line on stdout; progress on stderr): machine,
 * fetch_wake (one per run), fetch_wake_median, end. Raw Kafka over blocking
 * sockets and poll(); no client library. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/util.h"
#include "record/record.h"

enum {
    SCHEMA = 1,
    RUNS_MAX = 99,
    START_TIMEOUT_MS = 120000,
    STOP_TIMEOUT_MS = 120000,
    IDLE_RBUF = 4096,            /* an empty fetch answer is ~60 bytes */
    HOT_RBUF = 1 << 20,
    HOT_PART_MAX_BYTES = 64 << 10,
    VALUE_BYTES = 100,
    API_PRODUCE = 0, API_FETCH = 1, API_CREATE_TOPICS = 19,
};

static const char *const TOPIC = "wake";

struct opts {
    const char *dir_arg, *weir_bin;
    long idle, batches, runs, wait_ms, reactors;
    char weir_buf[PATH_MAX];
};

struct conn {
    int fd;
    uint8_t *rbuf;
    size_t cap, len;
    int32_t corr;
};

struct ctx {
    struct opts o;
    char root[PATH_MAX + 8], tmpl[PATH_MAX], log_path[PATH_MAX + 48];
    pid_t broker;
    int port;
};

static struct ctx *g_ctx;

_Noreturn static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bench_vfail("bench_fetch_wake", g_ctx ? g_ctx->broker : 0, g_ctx ? g_ctx->log_path : NULL,
                g_ctx ? g_ctx->root : NULL, fmt, ap);
}

/* ---- the wire ---------------------------------------------------------------------- */

struct wbuf {
    uint8_t b[HOT_PART_MAX_BYTES + 1024];
    size_t n;
};

static void w_i8(struct wbuf *w, int8_t v) { w->b[w->n++] = (uint8_t)v; }
static void w_i16(struct wbuf *w, int16_t v) { w->b[w->n++] = (uint8_t)((uint16_t)v >> 8), w->b[w->n++] = (uint8_t)v; }
static void w_i32(struct wbuf *w, int32_t v)
{
    for (int s = 24; s >= 0; s -= 8) w->b[w->n++] = (uint8_t)((uint32_t)v >> s);
}
static void w_i64(struct wbuf *w, int64_t v)
{
    for (int s = 56; s >= 0; s -= 8) w->b[w->n++] = (uint8_t)((uint64_t)v >> s);
}
static void w_str(struct wbuf *w, const char *s)
{
    if (!s) {
        w_i16(w, -1);
        return;
    }
    w_i16(w, (int16_t)strlen(s));
    memcpy(w->b + w->n, s, strlen(s));
    w->n += strlen(s);
}

static int32_t r_i32(const uint8_t *p) { return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]); }
static int16_t r_i16(const uint8_t *p) { return (int16_t)((uint16_t)p[0] << 8 | p[1]); }
static int64_t r_i64(const uint8_t *p) { return (int64_t)((uint64_t)(uint32_t)r_i32(p) << 32 | (uint32_t)r_i32(p + 4)); }

/* Starts a request: size placeholder and header v1. */
static void req_begin(struct wbuf *w, int16_t api, int16_t version, int32_t corr)
{
    w->n = 4;
    w_i16(w, api);
    w_i16(w, version);
    w_i32(w, corr);
    w_str(w, "bench_fetch_wake");
}

static void req_send(struct conn *c, struct wbuf *w)
{
    uint32_t size = (uint32_t)(w->n - 4);
    w->b[0] = (uint8_t)(size >> 24), w->b[1] = (uint8_t)(size >> 16), w->b[2] = (uint8_t)(size >> 8),
    w->b[3] = (uint8_t)size;
    for (size_t off = 0; off < w->n;) {
        ssize_t k = send(c->fd, w->b + off, w->n - off, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) fatal("send: %s", strerror(errno));
        off += (size_t)k;
    }
}

static void fetch_send(struct conn *c, struct wbuf *w, int32_t partition, int64_t offset, int32_t wait_ms)
{
    req_begin(w, API_FETCH, 4, ++c->corr);
    w_i32(w, -1);                 /* replica */
    w_i32(w, wait_ms);
    w_i32(w, 1);                  /* min_bytes */
    w_i32(w, HOT_PART_MAX_BYTES); /* max_bytes */
    w_i8(w, 0);                   /* read_uncommitted */
    w_i32(w, 1);
    w_str(w, TOPIC);
    w_i32(w, 1);
    w_i32(w, partition);
    w_i64(w, offset);
    w_i32(w, HOT_PART_MAX_BYTES);
    req_send(c, w);
}

static void produce_send(struct conn *c, struct wbuf *w, int32_t partition, const uint8_t *batch, size_t len)
{
    req_begin(w, API_PRODUCE, 3, ++c->corr);
    w_str(w, NULL);               /* transactional id */
    w_i16(w, 1);                  /* acks */
    w_i32(w, 30000);
    w_i32(w, 1);
    w_str(w, TOPIC);
    w_i32(w, 1);
    w_i32(w, partition);
    w_i32(w, (int32_t)len);
    memcpy(w->b + w->n, batch, len);
    w->n += len;
    req_send(c, w);
}

/* Reads what is there; returns the length of the first whole frame in rbuf
 * (size prefix included), 0 when none yet. Closed or failed: fatal. */
static size_t conn_poll_frame(struct conn *c, bool block)
{
    for (;;) {
        if (c->len >= 4) {
            size_t size = (size_t)r_i32(c->rbuf) + 4;
            if (size > c->cap) fatal("a response of %zu bytes (buffer %zu)", size, c->cap);
            if (c->len >= size) return size;
        }
        ssize_t k = recv(c->fd, c->rbuf + c->len, c->cap - c->len, block ? 0 : MSG_DONTWAIT);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
        if (k <= 0) fatal("the broker closed a connection (%s)", k == 0 ? "EOF" : strerror(errno));
        c->len += (size_t)k;
    }
}

static void conn_consume(struct conn *c, size_t frame)
{
    memmove(c->rbuf, c->rbuf + frame, c->len - frame);
    c->len -= frame;
}

/* Fetch v4 answer of one partition: its error and high watermark. */
static void fetch_parse(const uint8_t *f, size_t len, int16_t *err, int64_t *hw)
{
    /* size, corr, throttle, n_topics, topic string, n_parts, partition, error, hw */
    size_t pos = 4 + 4 + 4 + 4;
    if (len < pos + 2) fatal("short fetch answer");
    pos += 2 + (size_t)r_i16(f + pos);
    if (len < pos + 4 + 4 + 2 + 8) fatal("short fetch answer");
    pos += 4 + 4;
    *err = r_i16(f + pos);
    *hw = r_i64(f + pos + 2);
}

static struct conn conn_open(int port, size_t cap)
{
    struct conn c = { .fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), .cap = cap };
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c.fd < 0 || connect(c.fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        fatal("connect 127.0.0.1:%d: %s (raise ulimit -n for --idle)", port, strerror(errno));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.rbuf = malloc(cap);
    if (!c.rbuf) fatal("out of memory");
    return c;
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c->rbuf);
}

static void topic_create(int port, int32_t partitions)
{
    static struct wbuf w;
    struct conn c = conn_open(port, IDLE_RBUF);
    req_begin(&w, API_CREATE_TOPICS, 3, ++c.corr);
    w_i32(&w, 1);
    w_str(&w, TOPIC);
    w_i32(&w, partitions);
    w_i16(&w, 1);
    w_i32(&w, 0);  /* assignments */
    w_i32(&w, 0);  /* configs */
    w_i32(&w, 120000);
    w_i8(&w, 0);
    req_send(&c, &w);
    size_t n = conn_poll_frame(&c, true);
    /* size, corr, throttle, n_topics, name, error */
    size_t pos = 4 + 4 + 4 + 4;
    if (n < pos + 2) fatal("short CreateTopics answer");
    pos += 2 + (size_t)r_i16(c.rbuf + pos);
    int16_t err = n >= pos + 2 ? r_i16(c.rbuf + pos) : -1;
    if (err != 0) fatal("CreateTopics %s (%d partitions): error %d", TOPIC, partitions, err);
    conn_close(&c);
}

/* ---- one run ------------------------------------------------------------------------- */

struct result {
    double secs, cpu_s, wakeups;
    long idle_answered, hot_answers;
};

static uint64_t broker_wakeups(const char *log_path)
{
    FILE *f = fopen(log_path, "r");
    if (!f) return UINT64_MAX;
    char line[1024];
    uint64_t n = UINT64_MAX;
    while (fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "waiter wake-ups ");
        if (at) n = strtoull(at + 16, NULL, 10);
    }
    fclose(f);
    return n;
}

static struct result run_once(struct ctx *x, int run)
{
    static struct wbuf w;
    char err[512], set_reactors[64];
    snprintf(set_reactors, sizeof set_reactors, "weir.reactors=%ld", x->o.reactors);
    const char *extra[] = { "--set", set_reactors, NULL };
    rmrf(x->root);
    if (mkdir(x->root, 0700) != 0) fatal("mkdir %s: %s", x->root, strerror(errno));
    snprintf(x->log_path, sizeof x->log_path, "%s/broker.log", x->root);
    if (serve_start(x->o.weir_bin, x->root, x->log_path, x->o.reactors ? extra : NULL, START_TIMEOUT_MS, &x->broker,
                    &x->port, err, sizeof err) != 0)
        fatal("%s", err);
    int32_t hot = (int32_t)x->o.idle;
    topic_create(x->port, hot + 1);

    long n = x->o.idle;
    struct conn *idle = calloc((size_t)n, sizeof *idle);
    struct pollfd *pfd = calloc((size_t)n + 2, sizeof *pfd);
    if (!idle || !pfd) fatal("out of memory");
    for (long i = 0; i < n; i++) {
        idle[i] = conn_open(x->port, IDLE_RBUF);
        fetch_send(&idle[i], &w, (int32_t)i, 0, (int32_t)x->o.wait_ms);
    }
    struct conn hotc = conn_open(x->port, HOT_RBUF), prod = conn_open(x->port, IDLE_RBUF);
    int64_t hot_next = 0;
    fetch_send(&hotc, &w, hot, hot_next, (int32_t)x->o.wait_ms);
    sleep_ms(500); /* every fetch parked */

    uint8_t batch_buf[1024], value[VALUE_BYTES];
    uint64_t rng = 1;
    weir_value_make(value, sizeof value, 0, &rng);
    struct weir_batch_builder bb;
    weir_batch_builder_init(&bb, batch_buf, sizeof batch_buf, WEIR_CODEC_NONE);
    size_t batch_len = 0;
    if (weir_batch_builder_add(&bb, 0, NULL, -1, value, VALUE_BYTES, NULL, 0) != WEIR_OK ||
        weir_batch_builder_finish(&bb, -1, -1, -1, &batch_len) != WEIR_OK)
        fatal("cannot build a batch");

    struct result res = { 0 };
    double cpu0 = proc_cpu_s(x->broker);
    int64_t t0 = now_ns();
    long sent = 0, acked = 0;
    produce_send(&prod, &w, hot, batch_buf, batch_len), sent++;
    for (long i = 0; i < n; i++) pfd[i] = (struct pollfd){ .fd = idle[i].fd, .events = POLLIN };
    pfd[n] = (struct pollfd){ .fd = hotc.fd, .events = POLLIN };
    pfd[n + 1] = (struct pollfd){ .fd = prod.fd, .events = POLLIN };
    while (acked < x->o.batches) {
        int k = poll(pfd, (nfds_t)n + 2, 10000);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) fatal("no answer in 10 s (%ld of %ld batches acknowledged)", acked, x->o.batches);
        for (long i = 0; i < n; i++) {
            if (!(pfd[i].revents & POLLIN)) continue;
            for (size_t f; (f = conn_poll_frame(&idle[i], false)) > 0;) {
                conn_consume(&idle[i], f);
                res.idle_answered++;
                fetch_send(&idle[i], &w, (int32_t)i, 0, (int32_t)x->o.wait_ms);
            }
        }
        if (pfd[n].revents & POLLIN)
            for (size_t f; (f = conn_poll_frame(&hotc, false)) > 0;) {
                int16_t e;
                int64_t hw;
                fetch_parse(hotc.rbuf, f, &e, &hw);
                if (e != 0) fatal("hot fetch: error %d", e);
                conn_consume(&hotc, f);
                res.hot_answers++;
                hot_next = hw > hot_next ? hw : hot_next;
                fetch_send(&hotc, &w, hot, hot_next, (int32_t)x->o.wait_ms);
            }
        if (pfd[n + 1].revents & POLLIN)
            for (size_t f; (f = conn_poll_frame(&prod, false)) > 0;) {
                /* size, corr, n_topics, name, n_parts, index, error */
                size_t pos = 4 + 4 + 4;
                pos += 2 + (size_t)r_i16(prod.rbuf + pos) + 4 + 4;
                if (f < pos + 2 || r_i16(prod.rbuf + pos) != 0) fatal("produce failed");
                conn_consume(&prod, f);
                if (++acked < x->o.batches) produce_send(&prod, &w, hot, batch_buf, batch_len), sent++;
            }
    }
    res.secs = (double)(now_ns() - t0) / 1e9;
    res.cpu_s = proc_cpu_s(x->broker) - cpu0;
    for (long i = 0; i < n; i++) conn_close(&idle[i]);
    conn_close(&hotc);
    conn_close(&prod);
    free(idle);
    free(pfd);
    kill(x->broker, SIGTERM);
    int status;
    if (!child_wait(x->broker, STOP_TIMEOUT_MS, &status)) fatal("the broker did not stop in time");
    x->broker = 0;
    uint64_t wk = broker_wakeups(x->log_path);
    res.wakeups = wk == UINT64_MAX ? -1 : (double)wk;
    printf("{\"schema\":%d,\"bench\":\"fetch_wake\",\"run\":%d,\"idle\":%ld,\"reactors\":%ld,\"batches\":%ld,"
           "\"wait_ms\":%ld,\"secs\":%.3f,\"batches_s\":%.0f,\"broker_cpu_s\":%.3f,\"broker_cpu_us_per_batch\":%.1f,"
           "\"wakeups\":%.0f,\"wakeups_per_batch\":%.2f,\"idle_answered\":%ld,\"hot_answers\":%ld}\n",
           SCHEMA, run, n, x->o.reactors, x->o.batches, x->o.wait_ms, res.secs, (double)x->o.batches / res.secs,
           res.cpu_s, res.cpu_s / (double)x->o.batches * 1e6, res.wakeups,
           res.wakeups < 0 ? -1.0 : res.wakeups / (double)x->o.batches, res.idle_answered, res.hot_answers);
    fflush(stdout);
    fprintf(stderr, "   run %d: %.2f s, broker %.3f CPU s, %.0f wake-ups\n", run, res.secs, res.cpu_s, res.wakeups);
    return res;
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(void)
{
    fputs("usage: bench_fetch_wake [--weir PATH] [--dir PATH] [--idle N] [--batches N] [--runs N]\n"
          "                        [--wait-ms N] [--reactors N]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static struct ctx x = { .o = { .idle = 1000, .batches = 2000, .runs = 3, .wait_ms = 5000, .reactors = 0 } };
    g_ctx = &x;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--idle") ? &x.o.idle : !strcmp(a, "--batches") ? &x.o.batches
                  : !strcmp(a, "--runs") ? &x.o.runs : !strcmp(a, "--wait-ms") ? &x.o.wait_ms
                  : !strcmp(a, "--reactors") ? &x.o.reactors : NULL;
        if (!v) usage();
        if (!strcmp(a, "--weir")) x.o.weir_bin = v;
        else if (!strcmp(a, "--dir")) x.o.dir_arg = v;
        else if (!num || !long_parse(v, 0, 1000000, num)) usage();
        i++;
    }
    if (x.o.runs < 1 || x.o.runs > RUNS_MAX || x.o.batches < 1 || x.o.wait_ms < 1 || x.o.idle > 100000) usage();
    if (!x.o.weir_bin) {
        if (exe_sibling("weir", x.o.weir_buf, sizeof x.o.weir_buf) != 0) fatal("cannot find weir next to this program");
        x.o.weir_bin = x.o.weir_buf;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char made[PATH_MAX];
    if (make_tmpdir(x.o.dir_arg, "weir-bench-wake", made, sizeof made, x.tmpl) != 0) fatal("cannot make a directory");
    snprintf(x.root, sizeof x.root, "%s/run", made);
    print_machine_head(SCHEMA, made);
    printf(",\"weir\":");
    json_str(x.o.weir_bin);
    printf("}\n");
    double us[RUNS_MAX], wk[RUNS_MAX];
    for (int r = 0; r < x.o.runs; r++) {
        struct result res = run_once(&x, r);
        us[r] = res.cpu_s / (double)x.o.batches * 1e6;
        wk[r] = res.wakeups / (double)x.o.batches;
    }
    printf("{\"schema\":%d,\"bench\":\"fetch_wake_median\",\"runs\":%ld,\"broker_cpu_us_per_batch\":%.1f,"
           "\"wakeups_per_batch\":%.2f}\n",
           SCHEMA, x.o.runs, median(us, (int)x.o.runs), median(wk, (int)x.o.runs));
    printf("{\"schema\":%d,\"bench\":\"end\",\"loadavg_1m\":%.2f}\n", SCHEMA, loadavg1());
    rmrf(made);
    return 0;
}
