/* bench/bench_broker.c: the broker end to end with a real Kafka client
 * (librdkafka), with the loopback link (iperf3) and the storage engine
 * (bench_append) measured in the same run as baselines.
 *
 * The program starts its own broker (`weir serve`, ephemeral port, a fresh
 * data directory under --dir) and restarts it as needed; with --bootstrap it
 * uses a running broker instead (then no send-mode switch and no splice counts).
 *
 * Rows (one JSON object per line on stdout; progress on stderr):
 *  - machine: the box, the sizes, the client library.
 *  - iperf3: one TCP stream over 127.0.0.1 for --iperf-secs (skipped with a note
 *    when iperf3 is not installed).
 *  - engine: bench_append's append/weir row for 64 KiB batches of 100-byte
 *    records, 1 partition, flush=none, with its pwrite baseline.
 *  - produce: --records 100-byte values per run into a fresh topic, for
 *    acks 1|all x compression none|lz4 x 1|6 partitions (flush never), plus
 *    acks=all, none, 1 partition with flush.messages=1 (fdatasync per batch).
 *    Messages go round-robin over partitions; the clock runs from the first
 *    produce call to the end of rd_kafka_flush (every delivery report in).
 *    The topic is deleted after each run. A "fill" row reports the writing of
 *    the consume topic (one run).
 *  - consume: the whole consume topic (--consume-bytes of --consume-value-bytes
 *    values, 1 partition) read from offset 0 by a consumer assigned there,
 *    once per mode run (--mode-runs) with the broker in splice mode and once in
 *    copy mode (a fresh broker process on the same data directory each time;
 *    the order alternates by run, so pairs run back to back). The clock runs
 *    from assign() to the last record. Splice and copy byte counts come from
 *    the broker's last log line; topic_log_bytes is the size of the partition's
 *    segment files, what one full read should send.
 *  - latency: --rate messages/s for --latency-secs (after 1 s of warm-up that is
 *    not counted) with acks=1, linger.ms=0; each value carries its send time
 *    (CLOCK_MONOTONIC ns); a consumer in this process, assigned at the end of
 *    the topic (default fetch.wait.max.ms), takes the difference on receipt.
 *    Once per mode run and send mode, each on a fresh broker process.
 * Produce and consume rows also give the CPU used during the timed section, in
 * cores (CPU seconds per second): this process (client) and the broker
 * (all its threads, io_uring workers included).
 * Rows report medians over --runs or --mode-runs (min and max too). The page
 * cache is never dropped: the consume topic was just written and is read from
 * memory. MB = 10^6 bytes; produce and consume MB/s count value (payload) bytes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef WEIR_HAVE_RDKAFKA

int main(void)
{
    fputs("bench_broker: built without librdkafka (apt-get install librdkafka-dev, then rebuild)\n", stderr);
    return 77;
}

#else

#include <librdkafka/rdkafka.h>
#include "bench/util.h"
#include <pthread.h>

enum {
    SCHEMA = 1,
    VALUE_BYTES = 100,
    RUNS_MAX = 99,
    POOL_VALUES = 65536,          /* distinct values cycled through by producers */
    LAT_HEADER = 16,             /* sequence number and send time at the start of a latency value */
    START_TIMEOUT_MS = 300000,   /* broker start (recovery of a large topic included) */
    STOP_TIMEOUT_MS = 120000,
    ADMIN_TIMEOUT_MS = 30000,
    STALL_MS = 30000,            /* a consumer that gets nothing this long fails the bench */
    WARMUP_RECORDS = 200000,
};
#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum phase { PH_IPERF = 1, PH_ENGINE = 2, PH_PRODUCE = 4, PH_CONSUME = 8, PH_LATENCY = 16, PH_ALL = 31 };

struct opts {
    const char *bootstrap;       /* a running broker; NULL = spawn one */
    const char *dir_arg, *weir_bin, *append_bin, *engine_bytes;
    char weir_buf[PATH_MAX], append_buf[PATH_MAX];
    int runs, mode_runs, reactors, rate, latency_secs, iperf_secs, consume_value_bytes;
    long records;
    uint64_t consume_bytes;
    unsigned phases;
};

struct broker {
    pid_t pid;                   /* 0: none running (or external) */
    int instance;
    const char *mode;            /* "splice", "copy" or "external" */
    char bootstrap[320];
    char log_path[PATH_MAX];
    uint64_t splice_bytes, copy_bytes;
    bool stats_seen;
    double start_ms;
};

struct pool {
    uint8_t *buf;
    size_t value_len, n;
};

struct ctx {
    struct opts o;
    char root[PATH_MAX - 64];
    sigset_t stop_signals;
    struct broker b;
    rd_kafka_t *admin;
    struct pool small, big;      /* 100-byte values; consume-topic values */
    double iperf_mb_s, engine_rec_s, engine_mb_s; /* baselines; 0 = not measured */
    uint64_t consume_log_bytes;  /* the consume topic's .log files after a clean stop; 0 = unknown */
    char iperf3[PATH_MAX];       /* empty: not installed */
};

struct sample {
    double mb_s, rec_s;
    double client_cores, broker_cores; /* CPU seconds per second: this process; the broker (-1: unknown) */
};

/* ---- small helpers ---------------------------------------------------------- */

/* Stops the broker, shows the end of its log (it is removed with the bench
 * directory), removes the bench directory, exits 1. */
static _Noreturn void fatal(const struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fatal(const struct ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bench_vfail("bench_broker", x->b.pid, x->b.log_path, x->root, fmt, ap);
}

/* Stop signals stay blocked (librdkafka's threads inherit the mask) and are
 * checked between runs. */
static void check_interrupt(const struct ctx *x)
{
    int sig = stop_signal_pending(&x->stop_signals);
    if (sig) fatal(x, "interrupted by signal %d", sig);
}

struct stat3 {
    double med, min, max;
};

/* Median, min and max of field `off` (a double) of n structs of `size` bytes. */
static struct stat3 stat_of(const void *items, size_t size, int n, size_t off)
{
    double v[RUNS_MAX];
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)items + (size_t)i * size + off, sizeof v[i]);
    double med = median(v, n);
    return (struct stat3){ med, v[0], v[n - 1] };
}

#define STAT(arr, n, type, field) stat_of((arr), sizeof(type), (n), offsetof(type, field))

static struct sample sample_make(uint64_t bytes, uint64_t records, int64_t ns)
{
    double s = (double)(ns > 0 ? ns : 1) / 1e9;
    return (struct sample){ .mb_s = (double)bytes / 1e6 / s, .rec_s = (double)records / s };
}

/* CPU use over a timed section: start marks, then cpu_end fills the sample. */
struct cpu_mark {
    double self, broker;
};

static struct cpu_mark cpu_start(pid_t broker) { return (struct cpu_mark){ weir_self_cpu_s(), proc_cpu_s(broker) }; }

static void cpu_end(struct sample *s, struct cpu_mark m, pid_t broker, int64_t ns)
{
    double secs = (double)(ns > 0 ? ns : 1) / 1e9, b = proc_cpu_s(broker);
    s->client_cores = (weir_self_cpu_s() - m.self) / secs;
    s->broker_cores = b >= 0 && m.broker >= 0 ? (b - m.broker) / secs : -1;
}

/* ---- payloads --------------------------------------------------------------- */

static void pool_make(const struct ctx *x, struct pool *p, size_t value_len)
{
    p->value_len = value_len;
    p->n = POOL_VALUES;
    p->buf = malloc(p->n * value_len);
    if (!p->buf) fatal(x, "out of memory for a %zu-byte value pool", p->n * value_len);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < p->n; i++) weir_value_make(p->buf + i * value_len, value_len, (uint32_t)i, &rng);
}

static const uint8_t *pool_value(const struct pool *p, uint64_t i) { return p->buf + (i % p->n) * p->value_len; }


/* ---- child processes ---------------------------------------------------------- */

/* Starts argv[0] (a path) with stdout/stderr on the given fds (-1: inherited).
 * The child dies with a SIGTERM when this process dies. */
static pid_t spawn(const struct ctx *x, char *const argv[], int out_fd, int err_fd)
{
    pid_t pid = child_spawn(argv, -1, out_fd, err_fd, SIGTERM);
    if (pid < 0) fatal(x, "fork: %s", strerror(errno));
    return pid;
}

/* Runs argv to completion with its stdout in out (NUL-terminated, truncated to
 * cap); stderr passes through. Returns the exit status (-1: killed by a signal). */
static int run_capture(const struct ctx *x, char *const argv[], char *out, size_t cap)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) fatal(x, "pipe: %s", strerror(errno));
    pid_t pid = spawn(x, argv, fds[1], -1);
    close(fds[1]);
    return drain_wait(fds[0], pid, out, cap);
}

static bool find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, cap, "%.*s/%s", (int)n, path, name);
        if (n > 0 && access(out, X_OK) == 0) return true;
        path += n + (path[n] == ':');
    }
    out[0] = '\0';
    return false;
}

/* ---- the broker ------------------------------------------------------------------ */

static void broker_start(struct ctx *x, const char *mode)
{
    struct broker *b = &x->b;
    b->stats_seen = false;
    b->splice_bytes = b->copy_bytes = 0;
    if (x->o.bootstrap) {
        b->mode = "external";
        snprintf(b->bootstrap, sizeof b->bootstrap, "%s", x->o.bootstrap);
        return;
    }
    b->mode = mode;
    b->instance++;
    char set_mode[64], reactors[16], err[PATH_MAX + 128];
    snprintf(b->log_path, sizeof b->log_path, "%s/broker-%d.log", x->root, b->instance);
    snprintf(set_mode, sizeof set_mode, "weir.fetch.send.mode=%s", mode);
    snprintf(reactors, sizeof reactors, "%d", x->o.reactors);
    const char *extra[] = { "--set", set_mode, x->o.reactors ? "--reactors" : NULL, reactors, NULL };
    int64_t t0 = now_ns();
    int port;
    if (serve_start(x->o.weir_bin, x->root, b->log_path, extra, START_TIMEOUT_MS, &b->pid, &port, err, sizeof err) != 0)
        fatal(x, "%s", err);
    b->start_ms = (double)(now_ns() - t0) / 1e6;
    snprintf(b->bootstrap, sizeof b->bootstrap, "127.0.0.1:%d", port);
    fprintf(stderr, "   broker %d (%s) on %s, started in %.0f ms\n", b->instance, mode, b->bootstrap, b->start_ms);
}

/* The counters of the broker's last "fetch record bytes sent by splice X, by copy Y". */
static void broker_parse_stats(struct broker *b)
{
    static const char key[] = "fetch record bytes sent by splice ";
    FILE *f = fopen(b->log_path, "r");
    if (!f) return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key);
        uint64_t s, c;
        if (p && sscanf(p + sizeof key - 1, "%" SCNu64 ", by copy %" SCNu64, &s, &c) == 2)
            b->splice_bytes = s, b->copy_bytes = c, b->stats_seen = true;
    }
    fclose(f);
}

/* SIGTERM, wait, and read the final counters. A broker that fails to stop
 * cleanly (exit status not 0) is reported, not hidden. */
static void broker_stop(struct ctx *x)
{
    struct broker *b = &x->b;
    if (b->pid <= 0) return;
    int status = 0;
    int64_t t0 = now_ns();
    kill(b->pid, SIGTERM);
    if (!child_wait(b->pid, STOP_TIMEOUT_MS, &status)) fatal(x, "the broker did not stop within %d ms", STOP_TIMEOUT_MS);
    b->pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench_broker: WARNING: broker %d exited with status 0x%x (log %s)\n", b->instance, status,
                b->log_path);
    broker_parse_stats(b);
    if (!b->stats_seen) fprintf(stderr, "bench_broker: WARNING: no fetch byte counts in %s\n", b->log_path);
    fprintf(stderr, "   broker %d stopped in %.0f ms: fetch bytes by splice %" PRIu64 ", by copy %" PRIu64 "\n",
            b->instance, (double)(now_ns() - t0) / 1e6, b->splice_bytes, b->copy_bytes);
}

/* ---- librdkafka plumbing ---------------------------------------------------------- */

static void conf_set(const struct ctx *x, rd_kafka_conf_t *c, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(c, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        fatal(x, "librdkafka config %s=%s: %s", key, value, err);
}

static rd_kafka_conf_t *conf_base(const struct ctx *x)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(x, c, "bootstrap.servers", x->b.bootstrap);
    conf_set(x, c, "client.id", "bench_broker");
    return c;
}

static rd_kafka_t *client_new(const struct ctx *x, rd_kafka_type_t type, rd_kafka_conf_t *c)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) fatal(x, "rd_kafka_new: %s", err);
    return rk;
}

static void admin_open(struct ctx *x) { x->admin = client_new(x, RD_KAFKA_PRODUCER, conf_base(x)); }

static void admin_close(struct ctx *x)
{
    if (x->admin) rd_kafka_destroy(x->admin);
    x->admin = NULL;
}

/* The one topic result of a CreateTopics or DeleteTopics event; fatal on error. */
static void admin_check(const struct ctx *x, rd_kafka_event_t *ev, const char *what, const char *name)
{
    if (!ev) fatal(x, "%s %s: no answer within %d ms", what, name, ADMIN_TIMEOUT_MS);
    if (rd_kafka_event_error(ev)) fatal(x, "%s %s: %s", what, name, rd_kafka_event_error_string(ev));
    const rd_kafka_topic_result_t **res = NULL;
    size_t n = 0;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_CREATETOPICS_RESULT)
        res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DELETETOPICS_RESULT)
        res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    if (n != 1) fatal(x, "%s %s: %zu results", what, name, n);
    if (rd_kafka_topic_result_error(res[0]))
        fatal(x, "%s %s: %s", what, name, rd_kafka_err2str(rd_kafka_topic_result_error(res[0])));
}

static void topic_wait(const struct ctx *x, rd_kafka_t *rk, const char *name, int parts)
{
    for (int i = 0; !rdk_topic_ready(rk, name, parts); i++) {
        if (i >= 100) fatal(x, "topic %s: metadata does not show %d partitions with leaders", name, parts);
        sleep_ms(50);
    }
}

/* Creates a topic of `parts` partitions; flush_always sets flush.messages=1. */
static void topic_create(const struct ctx *x, const char *name, int parts, bool flush_always)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, parts, 1, err, sizeof err);
    if (!nt) fatal(x, "NewTopic %s: %s", name, err);
    if (flush_always && rd_kafka_NewTopic_set_config(nt, "flush.messages", "1"))
        fatal(x, "NewTopic %s: cannot set flush.messages", name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(x->admin);
    rd_kafka_CreateTopics(x->admin, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS);
    admin_check(x, ev, "CreateTopics", name);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    topic_wait(x, x->admin, name, parts);
}

static void topic_delete(const struct ctx *x, const char *name)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(x->admin);
    rd_kafka_DeleteTopics(x->admin, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS);
    admin_check(x, ev, "DeleteTopics", name);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
}

/* Connects rk and loads the topic's metadata (outside any timed section). */
static void metadata_prime(const struct ctx *x, rd_kafka_t *rk, const char *topic, int parts)
{
    topic_wait(x, rk, topic, parts);
}

/* ---- producing -------------------------------------------------------------------- */

struct produce_cfg {
    const char *acks, *codec;
    int parts;
    bool flush_always;
};

struct deliveries {
    uint64_t ok, failed;
    rd_kafka_resp_err_t first_err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct deliveries *d = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) d->ok++;
    else if (d->failed++ == 0) d->first_err = m->err;
}

/* A producer with large batches (1 MB, linger.ms=linger) and a queue that never fills. */
static rd_kafka_t *producer_new(const struct ctx *x, const char *acks, const char *codec, const char *linger,
                                struct deliveries *d)
{
    rd_kafka_conf_t *c = conf_base(x);
    conf_set(x, c, "acks", acks);
    conf_set(x, c, "compression.codec", codec);
    conf_set(x, c, "linger.ms", linger);
    conf_set(x, c, "batch.size", "1000000");
    conf_set(x, c, "batch.num.messages", "1000000");
    conf_set(x, c, "queue.buffering.max.messages", "1000000");
    conf_set(x, c, "queue.buffering.max.kbytes", "2097152");
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, d);
    return client_new(x, RD_KAFKA_PRODUCER, c);
}

/* Produces n pool values round-robin over parts partitions, without copying
 * them (the pool outlives the producer), then waits for every delivery. */
static void produce_all(const struct ctx *x, rd_kafka_t *rk, rd_kafka_topic_t *rkt, int parts, const struct pool *p,
                        uint64_t n, const struct deliveries *d)
{
    for (uint64_t i = 0; i < n; i++) {
        void *value = (void *)pool_value(p, i);
        while (rd_kafka_produce(rkt, (int32_t)(i % (uint64_t)parts), 0, value, p->value_len, NULL, 0, NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                fatal(x, "rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) fatal(x, "rd_kafka_flush timed out");
    if (d->failed) fatal(x, "%" PRIu64 " deliveries failed, the first with %s", d->failed, rd_kafka_err2str(d->first_err));
    if (d->ok != n) fatal(x, "%" PRIu64 " of %" PRIu64 " records delivered", d->ok, n);
}

/* Produces n records of pool p into an existing topic; returns the timed sample. */
static struct sample produce_into(const struct ctx *x, const struct produce_cfg *pc, const struct pool *p,
                                  const char *topic, uint64_t n)
{
    struct deliveries d = { 0 };
    rd_kafka_t *rk = producer_new(x, pc->acks, pc->codec, "5", &d);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    metadata_prime(x, rk, topic, pc->parts);
    struct cpu_mark cm = cpu_start(x->b.pid);
    int64_t t0 = now_ns();
    produce_all(x, rk, rkt, pc->parts, p, n, &d);
    int64_t ns = now_ns() - t0;
    struct sample s = sample_make(n * p->value_len, n, ns);
    cpu_end(&s, cm, x->b.pid, ns);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return s;
}

static struct sample produce_run(const struct ctx *x, const struct produce_cfg *pc, uint64_t n, int run)
{
    char topic[128];
    snprintf(topic, sizeof topic, "bench-produce-a%s-%s-p%d-f%d-r%d", pc->acks, pc->codec, pc->parts,
             pc->flush_always, run);
    topic_create(x, topic, pc->parts, pc->flush_always);
    struct sample s = produce_into(x, pc, &x->small, topic, n);
    topic_delete(x, topic);
    return s;
}

static void print_cores(double client, double broker)
{
    printf(",\"client_cpu_cores_median\":%.2f", client);
    if (broker >= 0) printf(",\"broker_cpu_cores_median\":%.2f", broker);
}

static void print_produce(const struct ctx *x, const struct produce_cfg *pc, const struct sample *s, int runs,
                          uint64_t records, size_t value_len, const char *note)
{
    struct stat3 mb = STAT(s, runs, struct sample, mb_s), rec = STAT(s, runs, struct sample, rec_s);
    printf("{\"schema\":%d,\"bench\":\"produce\",\"acks\":\"%s\",\"compression\":\"%s\",\"partitions\":%d,"
           "\"flush\":\"%s\",\"linger_ms\":5,\"value_bytes\":%zu,\"records\":%" PRIu64 ",\"runs\":%d,"
           "\"records_s_median\":%.0f,\"mb_s_median\":%.1f,\"mb_s_min\":%.1f,\"mb_s_max\":%.1f",
           SCHEMA, pc->acks, pc->codec, pc->parts, pc->flush_always ? "always" : "none", value_len, records, runs,
           rec.med, mb.med, mb.min, mb.max);
    if (x->engine_rec_s > 0 && value_len == VALUE_BYTES) printf(",\"vs_engine_records\":%.3f", rec.med / x->engine_rec_s);
    if (x->iperf_mb_s > 0) printf(",\"vs_iperf3\":%.4f", mb.med / x->iperf_mb_s);
    print_cores(STAT(s, runs, struct sample, client_cores).med, STAT(s, runs, struct sample, broker_cores).med);
    if (note) printf(",\"note\":\"%s\"", note);
    printf("}\n");
    fflush(stdout);
}

static void bench_produce(struct ctx *x)
{
    static const struct produce_cfg cfgs[] = {
        { "1", "none", 1, false }, { "1", "lz4", 1, false }, { "1", "none", 6, false }, { "1", "lz4", 6, false },
        { "all", "none", 1, false }, { "all", "lz4", 1, false }, { "all", "none", 6, false }, { "all", "lz4", 6, false },
        { "all", "none", 1, true },
    };
    enum { N_CFGS = ARRAY_LEN(cfgs) };
    int runs = x->o.runs;
    uint64_t n = (uint64_t)x->o.records;
    struct sample s[N_CFGS][RUNS_MAX];
    fprintf(stderr, "== produce: %" PRIu64 " x %d-byte values per run, %d configurations x %d runs\n", n, VALUE_BYTES,
            N_CFGS, runs);
    fprintf(stderr, "   warm-up (not reported): %d records, acks=1, none, 1 partition\n", WARMUP_RECORDS);
    produce_run(x, &cfgs[0], WARMUP_RECORDS < n ? WARMUP_RECORDS : n, -1);
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < N_CFGS; k++) { /* rotated so no configuration always runs first */
            int c = (k + r) % N_CFGS;
            check_interrupt(x);
            s[c][r] = produce_run(x, &cfgs[c], n, r);
            fprintf(stderr, "   run %d/%d acks=%s %s p=%d flush=%s: %.0f records/s, %.1f MB/s, cpu cores %.2f + %.2f\n",
                    r + 1, runs, cfgs[c].acks, cfgs[c].codec, cfgs[c].parts, cfgs[c].flush_always ? "always" : "none",
                    s[c][r].rec_s, s[c][r].mb_s, s[c][r].client_cores, s[c][r].broker_cores);
        }
    for (int c = 0; c < N_CFGS; c++) print_produce(x, &cfgs[c], s[c], runs, n, VALUE_BYTES, NULL);
}

/* ---- consuming ---------------------------------------------------------------------- */

static const char CONSUME_TOPIC[] = "bench-consume";

static uint64_t consume_records(const struct ctx *x)
{
    uint64_t n = x->o.consume_bytes / (uint64_t)x->o.consume_value_bytes;
    return n ? n : 1;
}

/* Writes the consume topic (one run, reported as a produce row with a note). */
static void consume_fill(const struct ctx *x)
{
    static const struct produce_cfg pc = { "1", "none", 1, false };
    uint64_t n = consume_records(x);
    fprintf(stderr, "== consume topic: %" PRIu64 " x %d-byte values (%.2f GB)\n", n, x->o.consume_value_bytes,
            (double)(n * (uint64_t)x->o.consume_value_bytes) / 1e9);
    topic_create(x, CONSUME_TOPIC, 1, false);
    struct sample s = produce_into(x, &pc, &x->big, CONSUME_TOPIC, n);
    fprintf(stderr, "   written at %.0f records/s, %.1f MB/s\n", s.rec_s, s.mb_s);
    print_produce(x, &pc, &s, 1, n, x->big.value_len, "fill of the consume topic");
}

/* Bytes of the consume partition's segment files (true sizes after a clean stop). */
static uint64_t consume_log_bytes(const struct ctx *x)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/data/%s-0", x->root, CONSUME_TOPIC);
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint64_t sum = 0;
    struct dirent *e;
    struct stat st;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && !strcmp(e->d_name + n - 4, ".log") && fstatat(dirfd(d), e->d_name, &st, 0) == 0)
            sum += (uint64_t)st.st_size;
    }
    closedir(d);
    return sum;
}

/* A consumer with no group (assign only, no commits). big: large fetches. */
static rd_kafka_t *consumer_new(const struct ctx *x, bool big)
{
    rd_kafka_conf_t *c = conf_base(x);
    conf_set(x, c, "group.id", "bench-broker"); /* librdkafka 2.0 wants one for assign(); nothing is committed */
    conf_set(x, c, "enable.auto.commit", "false");
    conf_set(x, c, "enable.auto.offset.store", "false");
    conf_set(x, c, "enable.partition.eof", "false");
    if (big) {
        conf_set(x, c, "fetch.max.bytes", "67108864");
        conf_set(x, c, "max.partition.fetch.bytes", "16777216");
        conf_set(x, c, "receive.message.max.bytes", "67109376");
    }
    rd_kafka_t *rk = client_new(x, RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static void consumer_assign(const struct ctx *x, rd_kafka_t *rk, const char *topic, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset = offset;
    rd_kafka_resp_err_t err = rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err) fatal(x, "rd_kafka_assign %s: %s", topic, rd_kafka_err2str(err));
}

/* Reads n records from the queue in batches; returns the value bytes. */
static uint64_t consume_n(const struct ctx *x, rd_kafka_t *rk, uint64_t n)
{
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[4096];
    uint64_t got = 0, bytes = 0;
    int64_t last = now_ns();
    while (got < n) {
        ssize_t k = rd_kafka_consume_batch_queue(q, 100, msgs, ARRAY_LEN(msgs));
        if (k < 0) fatal(x, "consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        for (ssize_t i = 0; i < k; i++) {
            if (msgs[i]->err) fatal(x, "consume at %" PRIu64 ": %s", got, rd_kafka_message_errstr(msgs[i]));
            bytes += msgs[i]->len;
            got++;
            rd_kafka_message_destroy(msgs[i]);
        }
        if (k > 0) last = now_ns();
        else if (now_ns() - last > (int64_t)STALL_MS * 1000000)
            fatal(x, "consume stalled at record %" PRIu64 " of %" PRIu64 " (broker %s)", got, n, x->b.mode);
    }
    rd_kafka_queue_destroy(q);
    return bytes;
}

struct consume_sample {
    double mb_s, rec_s, client_cores, broker_cores, splice_frac, start_ms;
    double broker_cpu_s_per_gb;  /* broker CPU seconds per 10^9 value bytes */
    uint64_t splice_bytes, copy_bytes;
};

static struct consume_sample consume_run(const struct ctx *x)
{
    uint64_t n = consume_records(x);
    rd_kafka_t *rk = consumer_new(x, true);
    metadata_prime(x, rk, CONSUME_TOPIC, 1);
    struct cpu_mark cm = cpu_start(x->b.pid);
    int64_t t0 = now_ns();
    consumer_assign(x, rk, CONSUME_TOPIC, 0);
    uint64_t bytes = consume_n(x, rk, n);
    int64_t ns = now_ns() - t0;
    struct sample s = sample_make(bytes, n, ns);
    cpu_end(&s, cm, x->b.pid, ns);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (bytes != n * (uint64_t)x->o.consume_value_bytes) fatal(x, "consumed %" PRIu64 " value bytes", bytes);
    return (struct consume_sample){ .mb_s = s.mb_s, .rec_s = s.rec_s, .client_cores = s.client_cores,
                                    .broker_cores = s.broker_cores,
                                    .broker_cpu_s_per_gb = s.broker_cores >= 0 ? s.broker_cores / (s.mb_s / 1e3) : -1 };
}

/* ---- latency ------------------------------------------------------------------------- */

struct lat_run {
    rd_kafka_t *rk;              /* the consumer */
    int64_t *lat_ns;             /* by sequence number; -1 = not received */
    uint64_t total;
    _Atomic uint64_t received;
    _Atomic bool stop;
    uint64_t dups, errors;
};

struct lat_sample {
    double p50_us, p99_us, p999_us, max_us, lost, send_late_max_us, splice_frac;
};

static void *lat_consume(void *arg)
{
    struct lat_run *lr = arg;
    while (!atomic_load(&lr->stop) && atomic_load(&lr->received) < lr->total) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(lr->rk, 50);
        if (!m) continue;
        int64_t now = now_ns();
        uint64_t seq;
        int64_t ts;
        if (m->err || m->len < LAT_HEADER) lr->errors++;
        else {
            memcpy(&seq, m->payload, sizeof seq);
            memcpy(&ts, (const uint8_t *)m->payload + 8, sizeof ts);
            if (seq >= lr->total) lr->errors++;
            else if (lr->lat_ns[seq] >= 0) lr->dups++;
            else lr->lat_ns[seq] = now - ts, atomic_fetch_add(&lr->received, 1);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

/* Sends total records at o.rate, each stamped just before rd_kafka_produce.
 * Returns how late (ns) the most delayed send was against its schedule. */
static int64_t lat_produce(const struct ctx *x, rd_kafka_t *rk, rd_kafka_topic_t *rkt, uint64_t total)
{
    uint8_t v[VALUE_BYTES];
    int64_t t0 = now_ns() + 1000000, late = 0;
    for (uint64_t i = 0; i < total; i++) {
        int64_t due = t0 + (int64_t)(i * 1000000000ull / (uint64_t)x->o.rate);
        sleep_until(due);
        int64_t t = now_ns();
        late = t - due > late ? t - due : late;
        memcpy(v, &i, 8);
        memcpy(v + 8, &t, 8);
        memcpy(v + LAT_HEADER, pool_value(&x->small, i) + LAT_HEADER, VALUE_BYTES - LAT_HEADER);
        while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, v, sizeof v, NULL, 0, NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                fatal(x, "rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(rk, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    return late;
}

/* Percentiles of the records after the warm-up; counts the ones never received. */
static struct lat_sample lat_summarize(const struct lat_run *lr, uint64_t warm)
{
    size_t n = 0;
    uint64_t lost = 0;
    int64_t *v = malloc((lr->total - warm) * sizeof *v + 1);
    for (uint64_t i = warm; v && i < lr->total; i++)
        if (lr->lat_ns[i] < 0) lost++;
        else v[n++] = lr->lat_ns[i];
    if (!v) return (struct lat_sample){ .p50_us = -1 };
    qsort(v, n, sizeof v[0], weir_cmp_i64);
    struct lat_sample s = { .p50_us = weir_pct_us(v, n, 0.50), .p99_us = weir_pct_us(v, n, 0.99), .p999_us = weir_pct_us(v, n, 0.999),
                            .max_us = weir_pct_us(v, n, 1.0), .lost = (double)lost };
    free(v);
    return s;
}

static void lat_wait_all(const struct lat_run *lr)
{
    int64_t end = now_ns() + (int64_t)10000 * 1000000;
    while (atomic_load(&lr->received) < lr->total && now_ns() < end) sleep_ms(5);
}

static struct lat_sample latency_run(const struct ctx *x, int run)
{
    char topic[96];
    snprintf(topic, sizeof topic, "bench-latency-%s-r%d", x->b.mode, run);
    topic_create(x, topic, 1, false);
    uint64_t warm = (uint64_t)x->o.rate, total = warm * (uint64_t)(x->o.latency_secs + 1);
    struct lat_run lr = { .rk = consumer_new(x, false), .total = total, .lat_ns = malloc(total * sizeof(int64_t)) };
    if (!lr.lat_ns) fatal(x, "out of memory");
    memset(lr.lat_ns, 0xff, total * sizeof(int64_t)); /* -1 */
    struct deliveries d = { 0 };
    rd_kafka_t *prod = producer_new(x, "1", "none", "0", &d);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(prod, topic, NULL);
    metadata_prime(x, prod, topic, 1);
    metadata_prime(x, lr.rk, topic, 1);
    consumer_assign(x, lr.rk, topic, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, lat_consume, &lr) != 0) fatal(x, "pthread_create failed");
    int64_t late = lat_produce(x, prod, rkt, total);
    if (rd_kafka_flush(prod, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR || d.ok != total)
        fatal(x, "latency: %" PRIu64 " of %" PRIu64 " delivered", d.ok, total);
    lat_wait_all(&lr);
    atomic_store(&lr.stop, true);
    pthread_join(th, NULL);
    struct lat_sample s = lat_summarize(&lr, warm);
    s.send_late_max_us = (double)late / 1e3;
    if (lr.dups || lr.errors) fprintf(stderr, "   latency: %" PRIu64 " duplicates, %" PRIu64 " errors\n", lr.dups, lr.errors);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(prod);
    rd_kafka_consumer_close(lr.rk);
    rd_kafka_destroy(lr.rk);
    free(lr.lat_ns);
    topic_delete(x, topic);
    return s;
}

/* ---- consume and latency, per send mode ------------------------------------------------ */

struct mode_results {
    const char *mode;
    struct consume_sample c[RUNS_MAX];
    struct lat_sample l[RUNS_MAX];
};

static double splice_frac(const struct broker *b)
{
    uint64_t all = b->splice_bytes + b->copy_bytes;
    return b->stats_seen && all ? (double)b->splice_bytes / (double)all : -1;
}

static void mode_consume(struct ctx *x, struct mode_results *m, int r)
{
    broker_start(x, m->mode);
    admin_open(x);
    struct consume_sample s = consume_run(x);
    admin_close(x);
    broker_stop(x);
    s.start_ms = x->b.start_ms;
    s.splice_bytes = x->b.splice_bytes;
    s.copy_bytes = x->b.copy_bytes;
    s.splice_frac = splice_frac(&x->b);
    m->c[r] = s;
    fprintf(stderr, "   run %d/%d consume %s: %.1f MB/s, %.0f records/s, splice fraction %.4f, cpu cores %.2f + %.2f\n",
            r + 1, x->o.mode_runs, m->mode, s.mb_s, s.rec_s, s.splice_frac, s.client_cores, s.broker_cores);
}

static void mode_latency(struct ctx *x, struct mode_results *m, int r)
{
    broker_start(x, m->mode);
    admin_open(x);
    struct lat_sample s = latency_run(x, r);
    admin_close(x);
    broker_stop(x);
    s.splice_frac = splice_frac(&x->b);
    m->l[r] = s;
    fprintf(stderr, "   run %d/%d latency %s: p50 %.0f us, p99 %.0f us, p999 %.0f us, max %.0f us, lost %.0f\n", r + 1,
            x->o.mode_runs, m->mode, s.p50_us, s.p99_us, s.p999_us, s.max_us, s.lost);
}

static void print_consume(const struct ctx *x, const struct mode_results *m, const struct mode_results *other)
{
    int n = x->o.mode_runs;
    struct stat3 mb = STAT(m->c, n, struct consume_sample, mb_s), rec = STAT(m->c, n, struct consume_sample, rec_s);
    struct stat3 fr = STAT(m->c, n, struct consume_sample, splice_frac);
    struct stat3 st = STAT(m->c, n, struct consume_sample, start_ms);
    printf("{\"schema\":%d,\"bench\":\"consume\",\"mode\":\"%s\",\"partitions\":1,\"value_bytes\":%d,"
           "\"records\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"runs\":%d,\"mb_s_median\":%.1f,\"mb_s_min\":%.1f,"
           "\"mb_s_max\":%.1f,\"records_s_median\":%.0f",
           SCHEMA, m->mode, x->o.consume_value_bytes, consume_records(x),
           consume_records(x) * (uint64_t)x->o.consume_value_bytes, n, mb.med, mb.min, mb.max, rec.med);
    if (fr.med >= 0)
        printf(",\"splice_fraction\":%.4f,\"fetch_bytes_splice\":%" PRIu64 ",\"fetch_bytes_copy\":%" PRIu64
               ",\"broker_start_ms_median\":%.0f",
               fr.med, m->c[n - 1].splice_bytes, m->c[n - 1].copy_bytes, st.med);
    if (fr.med >= 0 && x->consume_log_bytes) /* what one full read puts on the wire as record bytes */
        printf(",\"topic_log_bytes\":%" PRIu64 ",\"fetch_bytes_vs_log\":%.3f", x->consume_log_bytes,
               (double)(m->c[n - 1].splice_bytes + m->c[n - 1].copy_bytes) / (double)x->consume_log_bytes);
    if (other) {
        double v[RUNS_MAX]; /* paired: run r of both modes ran back to back */
        for (int r = 0; r < n; r++) v[r] = m->c[r].mb_s / other->c[r].mb_s;
        double vs = mb.med / STAT(other->c, n, struct consume_sample, mb_s).med;
        printf(",\"vs_%s\":%.3f,\"vs_%s_paired_median\":%.3f", other->mode, vs, other->mode, median(v, n));
    }
    if (x->iperf_mb_s > 0) printf(",\"vs_iperf3\":%.4f", mb.med / x->iperf_mb_s);
    print_cores(STAT(m->c, n, struct consume_sample, client_cores).med,
                STAT(m->c, n, struct consume_sample, broker_cores).med);
    struct stat3 per_gb = STAT(m->c, n, struct consume_sample, broker_cpu_s_per_gb);
    if (per_gb.med >= 0) printf(",\"broker_cpu_s_per_gb_median\":%.3f", per_gb.med);
    printf("}\n");
    fflush(stdout);
}

static void print_latency(const struct ctx *x, const struct mode_results *m)
{
    int n = x->o.mode_runs;
    struct stat3 p50 = STAT(m->l, n, struct lat_sample, p50_us), p99 = STAT(m->l, n, struct lat_sample, p99_us);
    struct stat3 p999 = STAT(m->l, n, struct lat_sample, p999_us), mx = STAT(m->l, n, struct lat_sample, max_us);
    struct stat3 lost = STAT(m->l, n, struct lat_sample, lost);
    struct stat3 late = STAT(m->l, n, struct lat_sample, send_late_max_us);
    printf("{\"schema\":%d,\"bench\":\"latency\",\"mode\":\"%s\",\"acks\":\"1\",\"linger_ms\":0,\"partitions\":1,"
           "\"value_bytes\":%d,\"rate\":%d,\"secs\":%d,\"records\":%" PRIu64 ",\"runs\":%d,"
           "\"p50_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"max_us\":%.0f,\"p99_us_min\":%.0f,\"p99_us_max\":%.0f,"
           "\"lost_max\":%.0f,\"send_late_max_us\":%.0f}\n",
           SCHEMA, m->mode, VALUE_BYTES, x->o.rate, x->o.latency_secs,
           (uint64_t)x->o.rate * (uint64_t)x->o.latency_secs, n, p50.med, p99.med, p999.med, mx.med, p99.min, p99.max,
           lost.max, late.max);
    fflush(stdout);
}

/* Run r does splice then copy when r is even, copy then splice when odd. */
static void bench_modes(struct ctx *x)
{
    struct mode_results modes[2] = { 0 };
    bool ext = x->o.bootstrap != NULL;
    int n_modes = ext ? 1 : 2;
    modes[0].mode = ext ? "external" : "splice";
    modes[1].mode = "copy";
    bool consume = x->o.phases & PH_CONSUME, latency = x->o.phases & PH_LATENCY;
    fprintf(stderr, "== %s%s%s, %d runs per send mode\n", consume ? "consume" : "", consume && latency ? " and " : "",
            latency ? "latency" : "", x->o.mode_runs);
    for (int r = 0; r < x->o.mode_runs; r++)
        for (int k = 0; k < n_modes; k++) {
            struct mode_results *m = &modes[(k + r) % n_modes];
            check_interrupt(x);
            if (consume) mode_consume(x, m, r);
            if (latency) mode_latency(x, m, r);
        }
    for (int k = 0; consume && k < n_modes; k++) print_consume(x, &modes[k], ext ? NULL : &modes[1 - k]);
    for (int k = 0; latency && k < n_modes; k++) print_latency(x, &modes[k]);
}

/* ---- baselines: iperf3 and the engine ------------------------------------------------- */

static int free_port(const struct ctx *x)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        fatal(x, "cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}

/* One iperf3 test over 127.0.0.1; Gbit/s received, or -1. */
static double iperf_once(const struct ctx *x, char *out, size_t cap)
{
    char port[16], secs[16];
    snprintf(port, sizeof port, "%d", free_port(x));
    snprintf(secs, sizeof secs, "%d", x->o.iperf_secs);
    char *server[] = { (char *)x->iperf3, "-s", "-1", "-p", port, NULL };
    char *client[] = { (char *)x->iperf3, "-c", "127.0.0.1", "-p", port, "-t", secs, "-J", NULL };
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    pid_t srv = spawn(x, server, devnull, devnull);
    close(devnull);
    int status = -1;
    for (int i = 0; i < 50 && status != 0; i++) { /* until the server listens */
        sleep_ms(100);
        status = run_capture(x, client, out, cap);
    }
    int srv_status;
    if (!child_wait(srv, 10000, &srv_status)) kill(srv, SIGKILL), waitpid(srv, NULL, 0);
    const char *sum = strstr(out, "\"sum_received\"");
    double bps;
    return status == 0 && sum && json_num(sum, "bits_per_second", &bps) ? bps / 1e9 : -1;
}

static void bench_iperf(struct ctx *x)
{
    if (!x->iperf3[0]) {
        fprintf(stderr, "== iperf3: not installed, skipped (apt-get install iperf3)\n");
        printf("{\"schema\":%d,\"bench\":\"iperf3\",\"skipped\":\"iperf3 not installed\"}\n", SCHEMA);
        return;
    }
    fprintf(stderr, "== iperf3: one TCP stream over 127.0.0.1, %d s, %d runs\n", x->o.iperf_secs, x->o.runs);
    double g[RUNS_MAX];
    size_t cap = 1 << 20;
    char *out = malloc(cap);
    if (!out) fatal(x, "out of memory");
    for (int r = 0; r < x->o.runs; r++) {
        check_interrupt(x);
        g[r] = iperf_once(x, out, cap);
        if (g[r] < 0) fatal(x, "iperf3 failed; its output:\n%.2000s", out);
        fprintf(stderr, "   run %d/%d: %.2f Gbit/s\n", r + 1, x->o.runs, g[r]);
    }
    free(out);
    double med = median(g, x->o.runs);
    x->iperf_mb_s = med * 1e9 / 8 / 1e6;
    printf("{\"schema\":%d,\"bench\":\"iperf3\",\"streams\":1,\"secs\":%d,\"runs\":%d,\"gbit_s_median\":%.2f,"
           "\"gbit_s_min\":%.2f,\"gbit_s_max\":%.2f,\"mb_s_median\":%.0f}\n",
           SCHEMA, x->o.iperf_secs, x->o.runs, med, g[0], g[x->o.runs - 1], x->iperf_mb_s);
    fflush(stdout);
}

/* bench_append's line for impl (append rows only). */
static const char *append_row(const char *out, const char *impl)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"bench\":\"append\",\"impl\":\"%s\"", impl);
    const char *p = strstr(out, pat);
    return p;
}

static void bench_engine(struct ctx *x)
{
    char runs[16];
    snprintf(runs, sizeof runs, "%d", x->o.runs);
    char *argv[] = { (char *)x->o.append_bin, "--batch", "64K", "--partitions", "1", "--flush", "none", "--bytes",
                     (char *)x->o.engine_bytes, "--runs", runs, "--dir", x->root, NULL };
    fprintf(stderr, "== engine: %s --batch 64K --partitions 1 --flush none --bytes %s --runs %s\n", x->o.append_bin,
            x->o.engine_bytes, runs);
    char out[16384];
    int status = run_capture(x, argv, out, sizeof out);
    const char *weir = append_row(out, "weir"), *raw = append_row(out, "pwrite");
    double mb, rec, bytes, raw_mb, recs;
    if (status != 0 || !weir || !raw || !json_num(weir, "mb_s_median", &mb) || !json_num(weir, "records_s_median", &rec) ||
        !json_num(weir, "bytes", &bytes) || !json_num(weir, "batch_records", &recs) || !json_num(raw, "mb_s_median", &raw_mb))
        fatal(x, "bench_append failed (status %d); its output:\n%s", status, out);
    x->engine_mb_s = mb;
    x->engine_rec_s = rec;
    printf("{\"schema\":%d,\"bench\":\"engine\",\"impl\":\"weir\",\"source\":\"bench_append\",\"batch_bytes\":65536,"
           "\"batch_records\":%.0f,\"value_bytes\":%d,\"partitions\":1,\"flush\":\"none\",\"bytes\":%.0f,\"runs\":%d,"
           "\"mb_s_median\":%.1f,\"records_s_median\":%.0f,\"payload_mb_s_median\":%.1f,\"pwrite_mb_s_median\":%.1f,"
           "\"vs_pwrite\":%.3f}\n",
           SCHEMA, recs, VALUE_BYTES, bytes, x->o.runs, mb, rec, rec * VALUE_BYTES / 1e6, raw_mb, mb / raw_mb);
    fflush(stdout);
}

/* ---- the machine line ------------------------------------------------------------------ */

static void print_machine(const struct ctx *x)
{
    print_machine_head(SCHEMA, x->root);
    printf(",\"librdkafka\":\"%s\",\"broker\":\"%s\",\"reactors\":%d,\"runs\":%d,\"mode_runs\":%d,\"records\":%ld,"
           "\"consume_bytes\":%" PRIu64 ",\"consume_value_bytes\":%d,\"rate\":%d,\"latency_secs\":%d,"
           "\"payload_lz4_ratio\":%.2f,\"loadavg_1m\":%.2f,\"page_cache_dropped\":false,\"mb\":1000000}\n",
           rd_kafka_version_str(), x->o.bootstrap ? "external" : "spawned", x->o.reactors, x->o.runs,
           x->o.mode_runs, x->o.records,
           x->o.consume_bytes, x->o.consume_value_bytes, x->o.rate, x->o.latency_secs,
           lz4_ratio(x->small.buf, x->small.n * x->small.value_len),
           loadavg1());
    fflush(stdout);
}

/* ---- options ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: bench_broker [--bootstrap HOST:PORT] [--runs N] [--mode-runs N] [--records N] [--consume-bytes N]\n"
          "                    [--consume-value-bytes N] [--rate N] [--latency-secs N] [--iperf-secs N]\n"
          "                    [--engine-bytes N] [--reactors N] [--dir PATH] [--weir PATH]\n"
          "                    [--bench-append PATH] [--only LIST] [--quick]\n"
          "  --bootstrap HOST:PORT  use a running broker (no send-mode switch, no splice counts)\n"
          "  --runs N               runs per row, medians reported (default 3, max 99)\n"
          "  --mode-runs N          consume and latency runs per send mode (default 5)\n"
          "  --records N            100-byte records per produce run (default 10000000)\n"
          "  --consume-bytes N      value bytes in the consume topic (default 5000000000 = 5 GB;\n"
          "                         K/M/G suffixes are binary: 5G = 5 GiB)\n"
          "  --consume-value-bytes N  value size in the consume topic (default 1000)\n"
          "  --rate N               latency: messages per second (default 10000)\n"
          "  --latency-secs N       latency: measured seconds, after 1 s of warm-up (default 10)\n"
          "  --iperf-secs N         iperf3 test length (default 5)\n"
          "  --engine-bytes N       bench_append --bytes (default 512M)\n"
          "  --reactors N           broker --reactors (default: the broker's, one per CPU)\n"
          "  --dir PATH             make the bench directory under PATH (default $TMPDIR or /tmp)\n"
          "  --weir PATH, --bench-append PATH  binaries (default: next to this program)\n"
          "  --only LIST            comma list of iperf3,engine,produce,consume,latency\n"
          "  --quick                200000 records, 256M consume, 2 s latency, 1 s iperf3, 1 run\n",
          f);
}

static uint64_t parse_size(const struct ctx *x, const char *s)
{
    uint64_t v;
    if (!size_parse(s, &v)) fatal(x, "bad size: %s", s);
    return v;
}

static int parse_int(const struct ctx *x, const char *s, int lo, int hi)
{
    long v;
    if (!long_parse(s, lo, hi, &v)) fatal(x, "bad number %s (want %d..%d)", s, lo, hi);
    return (int)v;
}

static unsigned parse_phases(const struct ctx *x, const char *s)
{
    static const char *const names[] = { "iperf3", "engine", "produce", "consume", "latency" };
    unsigned mask;
    const char *bad;
    int bad_len;
    if (!names_mask(s, names, ARRAY_LEN(names), &mask, &bad, &bad_len)) fatal(x, "--only: unknown part '%.*s'", bad_len, bad);
    return mask;
}

static const char *arg_value(const struct ctx *x, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) fatal(x, "%s needs a value", argv[*i]);
    return argv[++*i];
}

static void parse_one(struct ctx *x, int argc, char **argv, int *i, bool *quick)
{
    struct opts *o = &x->o;
    const char *a = argv[*i];
    if (!strcmp(a, "--bootstrap")) o->bootstrap = arg_value(x, argc, argv, i);
    else if (!strcmp(a, "--runs")) o->runs = parse_int(x, arg_value(x, argc, argv, i), 1, RUNS_MAX);
    else if (!strcmp(a, "--mode-runs")) o->mode_runs = parse_int(x, arg_value(x, argc, argv, i), 1, RUNS_MAX);
    else if (!strcmp(a, "--records")) o->records = (long)parse_size(x, arg_value(x, argc, argv, i));
    else if (!strcmp(a, "--consume-bytes")) o->consume_bytes = parse_size(x, arg_value(x, argc, argv, i));
    else if (!strcmp(a, "--consume-value-bytes"))
        o->consume_value_bytes = parse_int(x, arg_value(x, argc, argv, i), LAT_HEADER, 900000);
    else if (!strcmp(a, "--rate")) o->rate = parse_int(x, arg_value(x, argc, argv, i), 1, 1000000);
    else if (!strcmp(a, "--latency-secs")) o->latency_secs = parse_int(x, arg_value(x, argc, argv, i), 1, 3600);
    else if (!strcmp(a, "--iperf-secs")) o->iperf_secs = parse_int(x, arg_value(x, argc, argv, i), 1, 3600);
    else if (!strcmp(a, "--engine-bytes")) o->engine_bytes = arg_value(x, argc, argv, i);
    else if (!strcmp(a, "--reactors")) o->reactors = parse_int(x, arg_value(x, argc, argv, i), 1, 256);
    else if (!strcmp(a, "--dir")) o->dir_arg = arg_value(x, argc, argv, i);
    else if (!strcmp(a, "--weir")) o->weir_bin = arg_value(x, argc, argv, i);
    else if (!strcmp(a, "--bench-append")) o->append_bin = arg_value(x, argc, argv, i);
    else if (!strcmp(a, "--only")) o->phases = parse_phases(x, arg_value(x, argc, argv, i));
    else if (!strcmp(a, "--quick")) *quick = true;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(stdout), exit(0);
    else usage(stderr), fatal(x, "unknown argument: %s", a);
}

/* A binary next to this program (build/release/...), unless given. */
static const char *sibling(const struct ctx *x, const char *given, const char *name, char *buf, size_t cap)
{
    if (given) return given;
    int rc = exe_sibling(name, buf, cap);
    if (rc == -1) fatal(x, "readlink /proc/self/exe: %s", strerror(errno));
    if (rc == -2) fatal(x, "path too long: %s next to this program", name);
    return buf;
}

static void parse_args(struct ctx *x, int argc, char **argv)
{
    bool quick = false;
    for (int i = 1; i < argc; i++) parse_one(x, argc, argv, &i, &quick);
    struct opts *o = &x->o;
    if (!o->runs) o->runs = quick ? 1 : 3;
    if (!o->mode_runs) o->mode_runs = quick ? 1 : 5;
    if (!o->records) o->records = quick ? 200000 : 10000000;
    if (!o->consume_bytes) o->consume_bytes = quick ? 256 * MIB : 5000000000ull;
    if (!o->consume_value_bytes) o->consume_value_bytes = 1000;
    if (!o->rate) o->rate = 10000;
    if (!o->latency_secs) o->latency_secs = quick ? 2 : 10;
    if (!o->iperf_secs) o->iperf_secs = quick ? 1 : 5;
    if (!o->engine_bytes) o->engine_bytes = quick ? "64M" : "512M";
    if (!o->phases) o->phases = PH_ALL;
    if (o->bootstrap) o->phases &= ~(unsigned)PH_ENGINE; /* the engine bench runs here, not on that broker */
    o->weir_bin = sibling(x, o->weir_bin, "weir", o->weir_buf, sizeof o->weir_buf);
    o->append_bin = sibling(x, o->append_bin, "bench_append", o->append_buf, sizeof o->append_buf);
    if (!o->bootstrap && access(o->weir_bin, X_OK) != 0) fatal(x, "no broker binary at %s (--weir)", o->weir_bin);
}

static void make_root(struct ctx *x)
{
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(x->o.dir_arg, "weir-bench-broker", x->root, sizeof x->root, tmpl);
    if (rc < 0) fatal(x, "--dir path too long");
    if (rc > 0) fatal(x, "mkdtemp %s: %s", tmpl, strerror(rc));
}

int main(int argc, char **argv)
{
    struct ctx x = { 0 };
    int64_t t0 = now_ns();
    parse_args(&x, argc, argv);
    stop_signals_block(&x.stop_signals);
    signal(SIGPIPE, SIG_IGN);
    make_root(&x);
    find_in_path("iperf3", x.iperf3, sizeof x.iperf3);
    pool_make(&x, &x.small, VALUE_BYTES);
    pool_make(&x, &x.big, (size_t)x.o.consume_value_bytes);
    print_machine(&x);
    if (x.o.phases & PH_IPERF) bench_iperf(&x);
    if (x.o.phases & PH_ENGINE) bench_engine(&x);
    if (x.o.phases & (PH_PRODUCE | PH_CONSUME)) {
        broker_start(&x, "copy");
        admin_open(&x);
        if (x.o.phases & PH_PRODUCE) bench_produce(&x);
        if (x.o.phases & PH_CONSUME) consume_fill(&x);
        admin_close(&x);
        broker_stop(&x);
        if (!x.o.bootstrap) x.consume_log_bytes = consume_log_bytes(&x);
    }
    if (x.o.phases & (PH_CONSUME | PH_LATENCY)) bench_modes(&x);
    printf("{\"schema\":%d,\"bench\":\"end\",\"elapsed_s\":%.0f,\"loadavg_1m\":%.2f}\n", SCHEMA,
           (double)(now_ns() - t0) / 1e9, loadavg1());
    free(x.small.buf);
    free(x.big.buf);
    rmrf(x.root);
    return 0;
}

#endif /* WEIR_HAVE_RDKAFKA */
