/* bench/bench_client.c: weir's client library against librdkafka, the same
 * workload on the same broker in the same run.
 *
 * The program starts its own broker (`weir serve`, ephemeral port, a fresh
 * data directory under --dir; with --bootstrap it uses a running one) and,
 * for each configuration, runs the workload alternately through
 *  - weir: `weir bench produce|consume --json` (cli/cmd_bench.c), a child
 *    process per run, and
 *  - librdkafka: the same loop written against librdkafka, in a child process
 *    forked per run (this program is single-threaded when it forks: topics are
 *    managed with weir's admin client, which blocks and starts no thread),
 * and prints one JSON row per configuration with the medians of both and the
 * ratios weir/librdkafka. Run order alternates (weir first on even runs of a
 * configuration, librdkafka first on odd ones; configurations rotate), so the
 * two sides see the same machine load as far as back-to-back runs can.
 *
 * The workload (both sides; see cmd_bench.c): null keys, 100-byte JSON-like
 * values from one fixed pool (both sides report a hash of it, checked equal),
 * record i to partition i % P, warm-up records (one per partition) sent and
 * flushed before the clock starts, the clock from the first timed send to the
 * last delivery callback, per-record latency from just before send/produce to
 * its delivery callback. Each produce run writes a fresh topic, deleted after.
 * Settings, mapped to librdkafka's names: batch.size -> batch.size (with
 * batch.num.messages 1000000, so batch.size governs), linger.ms, acks,
 * compression.type -> compression.codec, enable.idempotence as weir's default
 * (on with acks=all, off with acks=1), max.in.flight 5 (weir's default),
 * buffer.memory 32 MiB -> queue.buffering.max.kbytes 32768 (with
 * queue.buffering.max.messages 0 = no count limit), TCP_NODELAY ->
 * socket.nagle.disable=true. librdkafka gets F_COPY (the caller's bytes may be
 * reused once produce returns, as with weir_producer_send) and F_BLOCK (wait
 * for queue room, as weir's send does), and a thread that serves delivery
 * reports (rd_kafka_poll) continuously, as weir's Sender thread runs callbacks.
 * Consume: both consumers at their defaults (fetch.max.bytes 50 MiB,
 * max.partition.fetch.bytes 1 MiB, fetch.wait.max.ms 500, 64 MiB of prefetch)
 * with check.crcs=true on both (weir's default); records one at a time
 * (weir_consumer_poll, rd_kafka_consumer_poll), every partition assigned at
 * the beginning, the clock from assign to the last record.
 *
 * Rows (one JSON object per line on stdout; progress on stderr): machine,
 * client_produce (throughput at an unlimited rate), client_latency (a fixed
 * rate), client_fill (the consume topic, written once by weir bench),
 * client_consume, end. Field list: bench/README.md. MB = 10^6 value bytes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef WEIR_HAVE_RDKAFKA

int main(void)
{
    fputs("bench_client: built without librdkafka (apt-get install librdkafka-dev, then rebuild)\n", stderr);
    return 77;
}

#else

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "bench/util.h"
#include "client/client.h"

enum {
    SCHEMA = 1,
    RUNS_MAX = 99,
    POOL_VALUES = 65536,
    POOL_BYTES_MAX = 64 << 20,
    START_TIMEOUT_MS = 60000,
    STOP_TIMEOUT_MS = 60000,
    STALL_MS = 30000,
    OUT_CAP = 8192,
};
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum phase { PH_PRODUCE = 1, PH_LATENCY = 2, PH_CONSUME = 4, PH_ALL = 7 };

struct opts {
    const char *bootstrap, *dir_arg, *weir_bin, *match;
    char weir_buf[PATH_MAX];
    int runs, lat_runs, consume_runs, rate, lat_secs, linger_ms, value_bytes;
    long records, consume_records, batch_size; /* batch_size: the first of batch_sizes */
    long batch_sizes[4];
    int n_batch_sizes;
    unsigned phases;
    unsigned codecs; /* bit i: codec_names[i] in the produce rows */
};

static const char *const codec_names[] = { "none", "gzip", "snappy", "lz4", "zstd" };
enum { CODECS_DEFAULT = 1u << 0 | 1u << 3 }; /* none and lz4 */

struct ctx {
    struct opts o;
    char root[PATH_MAX - 64];
    char bootstrap[320];
    char log_path[PATH_MAX];
    pid_t broker;
    sigset_t stop_signals;
    struct weir_admin *admin;
};

/* One workload configuration. */
struct cfg {
    const char *acks, *codec;
    int parts;
    long batch_size;
    int linger_ms;
    int rate;   /* 0 = unlimited */
    long records;
};

/* One run's result, parsed from either side's JSON line. */
struct res {
    double records_s, mb_s, p50, p99, p999, max, late, cpu_cores, cpu_us_per_rec, elapsed, broker_cpu_s_per_mrec;
    double records, records_per_batch, first_ms;
    char hash[24], version[32];
};

/* ---- small helpers ------------------------------------------------------------------ */

static struct ctx *g_ctx; /* for fatal() from the librdkafka children's helpers */

/* Stops the broker and shows the end of its log, removes the bench
 * directory, exits 1; in a forked child (g_ctx NULL) only exits. */
static _Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const struct ctx *x = g_ctx;
    bench_vfail("bench_client", x ? x->broker : 0, x && x->broker > 0 ? x->log_path : NULL, x ? x->root : NULL, fmt, ap);
}

static void check_interrupt(const struct ctx *x)
{
    int sig = stop_signal_pending(&x->stop_signals);
    if (sig) fatal("interrupted by signal %d", sig);
}

static void json_strval(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    out[0] = '\0';
    if (p) snprintf(out, cap, "%.*s", (int)strcspn(p + strlen(pat), "\""), p + strlen(pat));
}

/* ---- the value pool: the same bytes as cli/cmd_bench.c --------------------------------- */

struct pool {
    uint8_t *buf;
    size_t value_len, n;
    uint64_t hash;
};

static void pool_make(struct pool *p, size_t value_len)
{
    p->value_len = value_len;
    p->n = POOL_VALUES;
    if (value_len && p->n > (size_t)POOL_BYTES_MAX / value_len) p->n = (size_t)POOL_BYTES_MAX / value_len;
    if (p->n == 0) p->n = 1;
    p->buf = malloc(p->n * value_len + 1);
    if (!p->buf) fatal("out of memory for the value pool");
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < p->n; i++) weir_value_make(p->buf + i * value_len, value_len, (uint32_t)i, &rng);
    p->hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < p->n * value_len; i++) p->hash = (p->hash ^ p->buf[i]) * 0x100000001b3ull;
}

static const uint8_t *pool_value(const struct pool *p, uint64_t i) { return p->buf + (i % p->n) * p->value_len; }


/* ---- the librdkafka side (runs in a forked child; prints one JSON line) ---------------- */

struct rk_work {
    const char *bootstrap, *topic;
    struct cfg c;
    size_t value_bytes;
    long want;             /* consume: records to read */
    bool batch_api;        /* consume: rd_kafka_consume_batch_queue instead of rd_kafka_consumer_poll */
};

static void rk_set(rd_kafka_conf_t *c, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(c, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        fatal("librdkafka config %s=%s: %s", key, value, err);
}

/* librdkafka's own debug log on stderr: BENCH_CLIENT_RDKAFKA_DEBUG=fetch,cgrp,... */
static rd_kafka_conf_t *rk_conf_new(void)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *dbg = getenv("BENCH_CLIENT_RDKAFKA_DEBUG");
    if (dbg && *dbg) rk_set(c, "debug", dbg);
    return c;
}

static atomic_uint_fast64_t rk_done, rk_failed;
static atomic_int rk_first_err;
static atomic_bool rk_stop;

/* msg_opaque: the record's slot, as in cmd_bench.c. */
static void rk_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    int64_t *slot = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        *slot = now_ns() - *slot;
    } else {
        *slot = -1;
        int none = 0;
        atomic_compare_exchange_strong(&rk_first_err, &none, m->err);
        atomic_fetch_add(&rk_failed, 1);
    }
    atomic_fetch_add(&rk_done, 1);
}

/* Serves delivery reports as they come, as weir's Sender thread runs callbacks. */
static void *rk_poller(void *arg)
{
    rd_kafka_t *rk = arg;
    while (!atomic_load(&rk_stop)) rd_kafka_poll(rk, 100);
    return NULL;
}

static rd_kafka_t *rk_producer(const struct rk_work *w)
{
    const struct cfg *c = &w->c;
    char v[32];
    rd_kafka_conf_t *conf = rk_conf_new();
    rk_set(conf, "bootstrap.servers", w->bootstrap);
    rk_set(conf, "client.id", "bench-client");
    rk_set(conf, "acks", c->acks);
    rk_set(conf, "enable.idempotence", strcmp(c->acks, "all") ? "false" : "true");
    rk_set(conf, "max.in.flight", "5");
    snprintf(v, sizeof v, "%ld", c->batch_size);
    rk_set(conf, "batch.size", v);
    rk_set(conf, "batch.num.messages", "1000000");
    snprintf(v, sizeof v, "%d", c->linger_ms);
    rk_set(conf, "linger.ms", v);
    rk_set(conf, "compression.codec", c->codec);
    rk_set(conf, "queue.buffering.max.kbytes", "32768");
    rk_set(conf, "queue.buffering.max.messages", "0");
    rk_set(conf, "socket.nagle.disable", "true");
    rd_kafka_conf_set_dr_msg_cb(conf, rk_on_delivery);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) fatal("rd_kafka_new: %s", err);
    return rk;
}

static void rk_send(rd_kafka_topic_t *rkt, const struct pool *pool, uint64_t i, int parts, int64_t *slot)
{
    *slot = now_ns();
    if (rd_kafka_produce(rkt, (int32_t)(i % (uint64_t)parts), RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK,
                         (void *)pool_value(pool, i), pool->value_len, NULL, 0, slot) != 0)
        fatal("rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
}

static void rk_wait_done(rd_kafka_t *rk, uint64_t n)
{
    if (rd_kafka_flush(rk, 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) fatal("rd_kafka_flush timed out");
    while (atomic_load(&rk_done) < n) sleep_ms(0);
}

static int rk_produce(const struct rk_work *w)
{
    const struct cfg *c = &w->c;
    struct pool pool;
    pool_make(&pool, w->value_bytes);
    uint64_t n = (uint64_t)c->records, warm = (uint64_t)c->parts;
    int64_t *lat = calloc(n, sizeof *lat), warm_slot, late_max = 0;
    if (!lat) fatal("out of memory");
    rd_kafka_t *rk = rk_producer(w);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, w->topic, NULL);
    pthread_t th;
    if (pthread_create(&th, NULL, rk_poller, rk) != 0) fatal("pthread_create failed");
    for (uint64_t i = 0; i < warm; i++) {
        rk_send(rkt, &pool, i, c->parts, &warm_slot);
        rk_wait_done(rk, i + 1);
    }
    double c0 = weir_self_cpu_s();
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (c->rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e9 / (double)c->rate);
            sleep_until(due);
            int64_t late = now_ns() - due;
            if (late > late_max) late_max = late;
        }
        rk_send(rkt, &pool, warm + i, c->parts, &lat[i]);
    }
    rk_wait_done(rk, warm + n);
    double secs = (double)(now_ns() - t0) / 1e9, cpu = weir_self_cpu_s() - c0;
    atomic_store(&rk_stop, true);
    pthread_join(th, NULL);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    if (atomic_load(&rk_failed))
        fatal("librdkafka: %" PRIu64 " records failed: %s", (uint64_t)atomic_load(&rk_failed),
              rd_kafka_err2str(atomic_load(&rk_first_err)));
    qsort(lat, n, sizeof *lat, weir_cmp_i64);
    printf("{\"bench\":\"produce\",\"client\":\"librdkafka\",\"client_version\":\"%s\",\"topic\":\"%s\",\"partitions\":%d,"
           "\"records\":%" PRIu64 ",\"warmup_records\":%" PRIu64 ",\"value_bytes\":%zu,\"batch_size\":%ld,"
           "\"linger_ms\":%d,\"acks\":\"%s\",\"compression\":\"%s\",\"idempotence\":%s,\"rate\":%d,\"elapsed_s\":%.4f,"
           "\"records_s\":%.0f,\"mb_s\":%.2f,\"lat_p50_us\":%.0f,\"lat_p99_us\":%.0f,\"lat_p999_us\":%.0f,"
           "\"lat_max_us\":%.0f,\"send_late_max_us\":%.0f,\"cpu_s\":%.3f,\"cpu_cores\":%.3f,"
           "\"payload_hash\":\"%016" PRIx64 "\"}\n",
           rd_kafka_version_str(), w->topic, c->parts, n, warm, pool.value_len, c->batch_size, c->linger_ms, c->acks,
           c->codec, strcmp(c->acks, "all") ? "false" : "true", c->rate, secs, (double)n / secs,
           (double)n * (double)pool.value_len / 1e6 / secs, weir_pct_us(lat, n, 0.5), weir_pct_us(lat, n, 0.99),
           weir_pct_us(lat, n, 0.999), weir_pct_us(lat, n, 1.0), (double)late_max / 1e3, cpu, cpu / secs, pool.hash);
    free(lat);
    free(pool.buf);
    return 0;
}

/* Loads the topic's metadata before the clock starts: librdkafka assigned a
 * partition whose leader it does not know yet retries its offset lookup only
 * after 500 ms, a start-up artefact that is not what this measures (weir's
 * consumer looks the leader up at once). */
static void rk_metadata_prime(rd_kafka_t *rk, const char *topic, int parts)
{
    for (int i = 0; !rdk_topic_ready(rk, topic, parts); i++) {
        if (i >= 100) fatal("librdkafka: no metadata for %s", topic);
        sleep_ms(50);
    }
}

static int rk_consume(const struct rk_work *w)
{
    rd_kafka_conf_t *conf = rk_conf_new();
    rk_set(conf, "bootstrap.servers", w->bootstrap);
    rk_set(conf, "client.id", "bench-client");
    rk_set(conf, "group.id", "bench-client"); /* librdkafka 2.0 wants one for assign(); nothing is committed */
    rk_set(conf, "enable.auto.commit", "false");
    rk_set(conf, "enable.auto.offset.store", "false");
    rk_set(conf, "enable.partition.eof", "false");
    rk_set(conf, "check.crcs", "true");
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) fatal("rd_kafka_new: %s", err);
    rd_kafka_poll_set_consumer(rk);
    rk_metadata_prime(rk, w->topic, w->c.parts);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(w->c.parts);
    for (int i = 0; i < w->c.parts; i++) rd_kafka_topic_partition_list_add(l, w->topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    double c0 = weir_self_cpu_s();
    int64_t t0 = now_ns(), first = 0, last = t0;
    long got = 0;
    uint64_t bytes = 0;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e) fatal("rd_kafka_assign: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_message_t *msgs[4096];
    while (got < w->want) {
        ssize_t k = 1;
        if (w->batch_api) k = rd_kafka_consume_batch_queue(q, 100, msgs, ARRAY_LEN(msgs));
        else msgs[0] = rd_kafka_consumer_poll(rk, 100);
        if (k < 0) fatal("librdkafka consume: %s", rd_kafka_err2str(rd_kafka_last_error()));
        if (k == 0 || !msgs[0]) {
            if (now_ns() - last > (int64_t)STALL_MS * 1000000) fatal("librdkafka consume stalled at %ld", got);
            continue;
        }
        for (ssize_t i = 0; i < k; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) fatal("librdkafka consume: %s", rd_kafka_message_errstr(m));
            bytes += m->len;
            if (got++ == 0) first = now_ns();
            rd_kafka_message_destroy(m);
        }
        last = now_ns();
    }
    rd_kafka_queue_destroy(q);
    double secs = (double)(last - t0) / 1e9, cpu = weir_self_cpu_s() - c0;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("{\"bench\":\"consume\",\"client\":\"librdkafka\",\"client_version\":\"%s\",\"topic\":\"%s\",\"partitions\":%d,"
           "\"records\":%ld,\"bytes\":%" PRIu64 ",\"check_crcs\":true,\"api\":\"%s\",\"elapsed_s\":%.4f,\"records_s\":%.0f,"
           "\"mb_s\":%.2f,\"first_record_ms\":%.1f,\"cpu_s\":%.3f,\"cpu_cores\":%.3f}\n",
           rd_kafka_version_str(), w->topic, w->c.parts, got, bytes, w->batch_api ? "batch" : "poll", secs, (double)got / secs,
           (double)bytes / 1e6 / secs, (double)(first - t0) / 1e6, cpu, cpu / secs);
    return 0;
}

/* ---- child processes ---------------------------------------------------------------- */

/* Runs either argv (exec) or fn(w) (fork only) with stdout into out
 * (NUL-terminated, truncated to cap); stderr passes through. Returns the exit
 * status (-1: killed by a signal). */
static int run_capture(char *const argv[], int (*fn)(const struct rk_work *), const struct rk_work *w, char *out,
                       size_t cap)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) fatal("pipe: %s", strerror(errno));
    pid_t pid = child_fork(-1, fds[1], -1, SIGTERM);
    if (pid < 0) fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        g_ctx = NULL; /* a failing child must not touch the broker or the bench directory */
        if (argv) {
            execv(argv[0], argv);
            _exit(127);
        }
        int rc = fn(w);
        fflush(stdout);
        _exit(rc);
    }
    close(fds[1]);
    return drain_wait(fds[0], pid, out, cap);
}

/* ---- the broker and topics ------------------------------------------------------------- */

static void broker_start(struct ctx *x)
{
    static const char *const extra[] = { "--set", "log.segment.bytes=67108864", NULL };
    char err[PATH_MAX + 128];
    int port;
    snprintf(x->log_path, sizeof x->log_path, "%s/broker.log", x->root);
    if (serve_start(x->o.weir_bin, x->root, x->log_path, extra, START_TIMEOUT_MS, &x->broker, &port, err, sizeof err) != 0)
        fatal("%s", err);
    snprintf(x->bootstrap, sizeof x->bootstrap, "127.0.0.1:%d", port);
    fprintf(stderr, "   broker pid %d on %s\n", (int)x->broker, x->bootstrap);
}

static void broker_stop(struct ctx *x)
{
    if (x->broker <= 0) return;
    kill(x->broker, SIGTERM);
    int status = 0;
    if (!child_wait(x->broker, STOP_TIMEOUT_MS, &status)) fatal("the broker did not stop within %d ms", STOP_TIMEOUT_MS);
    x->broker = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench_client: WARNING: the broker exited with status 0x%x\n", status);
}

static void admin_open(struct ctx *x)
{
    struct weir_conf *conf = weir_conf_new();
    char err[512];
    if (!conf || weir_conf_set(conf, "bootstrap.servers", x->bootstrap, err, sizeof err) != WEIR_CONF_OK)
        fatal("admin config: %s", conf ? err : "out of memory");
    weir_conf_set(conf, "client.id", "bench-client", NULL, 0);
    x->admin = weir_admin_new(conf, err, sizeof err);
    weir_conf_destroy(conf);
    if (!x->admin) fatal("admin client: %s", err);
}

static void topic_create(struct ctx *x, const char *name, int parts)
{
    struct weir_new_topic nt = { name, parts, -1, NULL, 0 };
    struct weir_admin_result res;
    if (weir_admin_create_topics(x->admin, &nt, 1, 0, &res) != 0) fatal("CreateTopics %s: %s", name, weir_admin_error(x->admin));
    if (res.err) fatal("CreateTopics %s: %s", name, res.message);
}

static void topic_delete(struct ctx *x, const char *name)
{
    struct weir_admin_result res;
    if (weir_admin_delete_topics(x->admin, &name, 1, &res) != 0) fatal("DeleteTopics %s: %s", name, weir_admin_error(x->admin));
    if (res.err) fatal("DeleteTopics %s: %s", name, res.message);
}

/* ---- one run of either side ----------------------------------------------------------------- */

static const char *const SIDES[3] = { "weir", "librdkafka", "rdk-batch" };

static void res_parse(const char *out, const char *what, int side, struct res *r)
{
    const char *line = strstr(out, "{\"bench\":");
    double cpu_s = 0;
    if (!line || !json_num(line, "records_s", &r->records_s) || !json_num(line, "mb_s", &r->mb_s) ||
        !json_num(line, "cpu_cores", &r->cpu_cores) || !json_num(line, "cpu_s", &cpu_s) ||
        !json_num(line, "elapsed_s", &r->elapsed) || !json_num(line, "records", &r->records))
        fatal("%s (%s): no result line; its output:\n%s", what, SIDES[side], out);
    r->p50 = r->p99 = r->p999 = r->max = r->late = r->records_per_batch = r->first_ms = -1;
    json_num(line, "lat_p50_us", &r->p50);
    json_num(line, "lat_p99_us", &r->p99);
    json_num(line, "lat_p999_us", &r->p999);
    json_num(line, "lat_max_us", &r->max);
    json_num(line, "send_late_max_us", &r->late);
    json_num(line, "records_per_batch", &r->records_per_batch);
    json_num(line, "first_record_ms", &r->first_ms);
    r->cpu_us_per_rec = cpu_s / r->records * 1e6;
    json_strval(line, "payload_hash", r->hash, sizeof r->hash);
    json_strval(line, "client_version", r->version, sizeof r->version);
}

/* One produce run of side 0 (weir) or 1 (librdkafka) into a fresh topic. */
static struct res produce_once(struct ctx *x, const struct cfg *c, int side, int run, const char *tag)
{
    char topic[160], recs[32], vb[32], bs[32], lg[32], pa[16], rate[32], out[OUT_CAP];
    snprintf(topic, sizeof topic, "bc-%s-a%s-%s-p%d-b%ld-l%d-r%d-%d-%s", tag, c->acks, c->codec, c->parts,
             c->batch_size, c->linger_ms, c->rate, run, SIDES[side]);
    topic_create(x, topic, c->parts);
    snprintf(recs, sizeof recs, "%ld", c->records);
    snprintf(vb, sizeof vb, "%d", x->o.value_bytes);
    snprintf(bs, sizeof bs, "%ld", c->batch_size);
    snprintf(lg, sizeof lg, "%d", c->linger_ms);
    snprintf(pa, sizeof pa, "%d", c->parts);
    snprintf(rate, sizeof rate, "%d", c->rate);
    char *argv[] = { (char *)x->o.weir_bin, "bench", "produce", "--json", "--bootstrap", x->bootstrap, "--topic", topic,
                     "--records", recs, "--value-bytes", vb, "--batch-size", bs, "--linger-ms", lg, "--acks",
                     (char *)c->acks, "--compression", (char *)c->codec, "--partitions", pa, "--rate", rate, NULL };
    struct rk_work w = { x->bootstrap, topic, *c, (size_t)x->o.value_bytes, 0, false };
    double b0 = proc_cpu_s(x->broker);
    int status = run_capture(side == 0 ? argv : NULL, rk_produce, &w, out, sizeof out);
    double b1 = proc_cpu_s(x->broker);
    if (status != 0) fatal("%s produce (%s) exited with %d; its output:\n%s", topic, SIDES[side], status, out);
    struct res r;
    res_parse(out, topic, side, &r);
    r.broker_cpu_s_per_mrec = b0 >= 0 && b1 >= 0 ? (b1 - b0) / ((double)c->records / 1e6) : -1;
    topic_delete(x, topic);
    return r;
}

/* ---- rows ----------------------------------------------------------------------------------- */

struct stat3 {
    double med, min, max;
};

static struct stat3 stat_of(const struct res *rs, int n, size_t off)
{
    double v[RUNS_MAX];
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)&rs[i] + off, sizeof v[i]);
    double med = median(v, n);
    return (struct stat3){ med, v[0], v[n - 1] };
}

#define STAT(rs, n, field) stat_of((rs), (n), offsetof(struct res, field))

/* Median over runs of weir's value / librdkafka's value (run r of both sides ran back to back). */
static double paired(const struct res *a, const struct res *b, int n, size_t off)
{
    double v[RUNS_MAX];
    for (int i = 0; i < n; i++) {
        double p, q;
        memcpy(&p, (const char *)&a[i] + off, sizeof p);
        memcpy(&q, (const char *)&b[i] + off, sizeof q);
        v[i] = q > 0 ? p / q : 0;
    }
    return median(v, n);
}

#define PAIRED(a, b, n, field) paired((a), (b), (n), offsetof(struct res, field))

static void print_side(const char *pfx, const struct res *rs, int n, bool produce)
{
    struct stat3 rec = STAT(rs, n, records_s), mb = STAT(rs, n, mb_s);
    printf(",\"%s_records_s\":%.0f,\"%s_records_s_min\":%.0f,\"%s_records_s_max\":%.0f,\"%s_mb_s\":%.1f", pfx, rec.med,
           pfx, rec.min, pfx, rec.max, pfx, mb.med);
    if (produce) {
        struct stat3 p99 = STAT(rs, n, p99);
        printf(",\"%s_p50_us\":%.0f,\"%s_p99_us\":%.0f,\"%s_p99_us_min\":%.0f,\"%s_p99_us_max\":%.0f,\"%s_p999_us\":%.0f,"
               "\"%s_max_us\":%.0f,\"%s_send_late_max_us\":%.0f",
               pfx, STAT(rs, n, p50).med, pfx, p99.med, pfx, p99.min, pfx, p99.max, pfx, STAT(rs, n, p999).med, pfx,
               STAT(rs, n, max).med, pfx, STAT(rs, n, late).max);
        double bcpu = STAT(rs, n, broker_cpu_s_per_mrec).med;
        if (bcpu >= 0) printf(",\"%s_broker_cpu_s_per_mrec\":%.3f", pfx, bcpu);
        if (rs[0].records_per_batch >= 0) printf(",\"%s_records_per_batch\":%.1f", pfx, STAT(rs, n, records_per_batch).med);
    } else {
        printf(",\"%s_first_record_ms\":%.1f", pfx, STAT(rs, n, first_ms).med);
    }
    printf(",\"%s_cpu_cores\":%.2f,\"%s_cpu_us_per_record\":%.3f", pfx, STAT(rs, n, cpu_cores).med, pfx,
           STAT(rs, n, cpu_us_per_rec).med);
}

static void print_row(const char *bench, const struct cfg *c, const struct res *wr, const struct res *rr, int n)
{
    bool produce = strcmp(bench, "client_consume") != 0;
    printf("{\"schema\":%d,\"bench\":\"%s\",\"partitions\":%d,\"records\":%ld,\"runs\":%d", SCHEMA, bench, c->parts,
           c->records, n);
    if (!produce) printf(",\"rdkafka_api\":\"%s\"", c->acks);
    if (produce)
        printf(",\"acks\":\"%s\",\"compression\":\"%s\",\"batch_size\":%ld,\"linger_ms\":%d,\"rate\":%d,"
               "\"idempotence\":%s",
               c->acks, c->codec, c->batch_size, c->linger_ms, c->rate, strcmp(c->acks, "all") ? "false" : "true");
    print_side("weir", wr, n, produce);
    print_side("rdkafka", rr, n, produce);
    double wrec = STAT(wr, n, records_s).med, rrec = STAT(rr, n, records_s).med;
    printf(",\"vs_records_s\":%.3f,\"vs_records_s_paired\":%.3f", wrec / rrec, PAIRED(wr, rr, n, records_s));
    if (produce) {
        double wp = STAT(wr, n, p99).med, rp = STAT(rr, n, p99).med;
        printf(",\"vs_p99\":%.3f,\"vs_p99_paired\":%.3f", rp > 0 ? wp / rp : 0, PAIRED(wr, rr, n, p99));
    }
    printf(",\"vs_cpu_us_per_record\":%.3f}\n", STAT(wr, n, cpu_us_per_rec).med / STAT(rr, n, cpu_us_per_rec).med);
    fflush(stdout);
}

static void progress(const char *what, int run, int runs, int side, const struct res *r, bool produce)
{
    fprintf(stderr, "   run %d/%d %-40s %-10s %9.0f rec/s %7.1f MB/s", run + 1, runs, what, SIDES[side], r->records_s,
            r->mb_s);
    if (produce) fprintf(stderr, "  p50 %6.0f p99 %6.0f us", r->p50, r->p99);
    fprintf(stderr, "  cpu %.2f us/rec\n", r->cpu_us_per_rec);
}

static void check_hash(const struct res *w, const struct res *r)
{
    if (w->hash[0] && r->hash[0] && strcmp(w->hash, r->hash) != 0)
        fatal("the two sides sent different values (payload hash %s vs %s)", w->hash, r->hash);
}

/* Runs every configuration `runs` times on both sides, alternating, and prints the rows. */
static void cfg_name(const struct cfg *c, char *out, size_t cap)
{
    snprintf(out, cap, "acks=%s %s p=%d b=%ld l=%d rate=%d", c->acks, c->codec, c->parts, c->batch_size, c->linger_ms,
             c->rate);
}

static void bench_cfgs(struct ctx *x, const char *bench, const char *tag, const struct cfg *all, int n_all, int runs)
{
    struct cfg cfgs[32];
    int n_cfgs = 0;
    for (int i = 0; i < n_all && n_cfgs < (int)ARRAY_LEN(cfgs); i++) { /* --match */
        char what[96];
        cfg_name(&all[i], what, sizeof what);
        if (!x->o.match || strstr(what, x->o.match)) cfgs[n_cfgs++] = all[i];
    }
    struct res(*res)[2][RUNS_MAX] = calloc((size_t)n_cfgs + 1, sizeof *res);
    if (!res) fatal("out of memory");
    for (int r = 0; r < runs; r++)
        for (int k = 0; k < n_cfgs; k++) {
            int c = (k + r) % n_cfgs;
            char what[96];
            cfg_name(&cfgs[c], what, sizeof what);
            for (int j = 0; j < 2; j++) {
                int side = (j + r + c) % 2;
                check_interrupt(x);
                res[c][side][r] = produce_once(x, &cfgs[c], side, r, tag);
                progress(what, r, runs, side, &res[c][side][r], true);
            }
            check_hash(&res[c][0][r], &res[c][1][r]);
        }
    for (int c = 0; c < n_cfgs; c++) print_row(bench, &cfgs[c], res[c][0], res[c][1], runs);
    free(res);
}

/* acks x partitions x the --codecs, per batch size: (1, none, 1), (1, lz4, 1), (1, none, 6), ... */
static void bench_produce(struct ctx *x)
{
    static const char *const acks[] = { "1", "all" };
    static const int parts[] = { 1, 6 };
    struct cfg cfgs[ARRAY_LEN(acks) * ARRAY_LEN(parts) * ARRAY_LEN(codec_names) * ARRAY_LEN(x->o.batch_sizes)];
    int n = 0;
    for (int b = 0; b < x->o.n_batch_sizes; b++)
        for (size_t a = 0; a < ARRAY_LEN(acks); a++)
            for (size_t p = 0; p < ARRAY_LEN(parts); p++)
                for (size_t c = 0; c < ARRAY_LEN(codec_names); c++)
                    if (x->o.codecs & (1u << c))
                        cfgs[n++] = (struct cfg){ acks[a], codec_names[c], parts[p], x->o.batch_sizes[b],
                                                  x->o.linger_ms, 0, x->o.records };
    fprintf(stderr, "== produce: %ld records of %d bytes per run, linger.ms %d, %d configurations x %d runs x 2 clients\n",
            x->o.records, x->o.value_bytes, x->o.linger_ms, n, x->o.runs);
    bench_cfgs(x, "client_produce", "t", cfgs, n, x->o.runs);
}

static void bench_latency(struct ctx *x)
{
    long n = (long)x->o.rate * x->o.lat_secs;
    struct cfg cfgs[] = {
        { "all", "none", 1, x->o.batch_size, 0, x->o.rate, n },
        { "all", "none", 1, x->o.batch_size, 5, x->o.rate, n },
        { "1", "none", 1, x->o.batch_size, 0, x->o.rate, n },
    };
    fprintf(stderr, "== latency: %d records/s for %d s, %zu configurations x %d runs x 2 clients\n", x->o.rate,
            x->o.lat_secs, ARRAY_LEN(cfgs), x->o.lat_runs);
    bench_cfgs(x, "client_latency", "l", cfgs, (int)ARRAY_LEN(cfgs), x->o.lat_runs);
}

/* The consume topic: written once by weir bench (acks=1, 1 MB batches). */
static void consume_fill(struct ctx *x, const char *topic, int parts)
{
    char recs[32], pa[16], vb[32], out[OUT_CAP];
    snprintf(recs, sizeof recs, "%ld", x->o.consume_records);
    snprintf(pa, sizeof pa, "%d", parts);
    snprintf(vb, sizeof vb, "%d", x->o.value_bytes);
    topic_create(x, topic, parts);
    char *argv[] = { (char *)x->o.weir_bin, "bench", "produce", "--json", "--bootstrap", x->bootstrap, "--topic", (char *)topic,
                     "--records", recs, "--value-bytes", vb, "--partitions", pa, "--acks", "1", "--batch-size", "1000000",
                     "--linger-ms", "5", NULL };
    int status = run_capture(argv, NULL, NULL, out, sizeof out);
    const char *line = strstr(out, "{\"bench\":");
    if (status != 0 || !line) fatal("filling %s failed (status %d):\n%s", topic, status, out);
    double rec_s = 0;
    json_num(line, "records_s", &rec_s);
    fprintf(stderr, "   %s: %ld records written at %.0f records/s\n", topic, x->o.consume_records, rec_s);
    printf("{\"schema\":%d,\"bench\":\"client_fill\",\"topic\":\"%s\",\"partitions\":%d,\"weir\":%.*s}\n", SCHEMA,
           topic, parts, (int)strcspn(line, "\n"), line);
    fflush(stdout);
}

static struct res consume_once(struct ctx *x, const char *topic, int parts, long want, int side)
{
    char pa[16], recs[32], out[OUT_CAP];
    snprintf(pa, sizeof pa, "%d", parts);
    snprintf(recs, sizeof recs, "%ld", want);
    char *argv[] = { (char *)x->o.weir_bin, "bench", "consume", "--json", "--bootstrap", x->bootstrap, "--topic",
                     (char *)topic, "--records", recs, NULL };
    struct rk_work w = { x->bootstrap, topic, { .parts = parts }, (size_t)x->o.value_bytes, want, side == 2 };
    int status = run_capture(side == 0 ? argv : NULL, rk_consume, &w, out, sizeof out);
    if (status != 0) fatal("%s consume (%s) exited with %d; its output:\n%s", topic, SIDES[side], status, out);
    struct res r;
    res_parse(out, topic, side, &r);
    if ((long)r.records != want) fatal("%s: %s read %.0f records, not %ld", topic, SIDES[side], r.records, want);
    r.broker_cpu_s_per_mrec = -1;
    return r;
}

static void bench_consume(struct ctx *x)
{
    static const int parts[] = { 1, 6 };
    int runs = x->o.consume_runs;
    fprintf(stderr, "== consume: %ld records of %d bytes from the start, 1 and 6 partitions, %d runs x 3 clients "
                    "(weir, librdkafka poll, librdkafka batch)\n",
            x->o.consume_records, x->o.value_bytes, runs);
    for (size_t k = 0; k < ARRAY_LEN(parts); k++) {
        char topic[64];
        snprintf(topic, sizeof topic, "bc-consume-p%d", parts[k]);
        consume_fill(x, topic, parts[k]);
        long want = x->o.consume_records + parts[k]; /* the warm-up records too */
        struct res res[3][RUNS_MAX];
        for (int r = 0; r < runs; r++)
            for (int j = 0; j < 3; j++) {
                int side = (j + r) % 3;
                check_interrupt(x);
                res[side][r] = consume_once(x, topic, parts[k], want, side);
                progress(topic, r, runs, side, &res[side][r], false);
            }
        struct cfg c = { .parts = parts[k], .records = want, .acks = "poll" };
        print_row("client_consume", &c, res[0], res[1], runs);
        c.acks = "batch";
        print_row("client_consume", &c, res[0], res[2], runs);
        topic_delete(x, topic);
    }
}

/* ---- the machine line and options ----------------------------------------------------------- */

static void print_machine(const struct ctx *x)
{
    struct utsname u;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "unknown");
    struct pool p;
    pool_make(&p, (size_t)x->o.value_bytes);
    char sizes[128] = "";
    for (int i = 0; i < x->o.n_batch_sizes; i++)
        snprintf(sizes + strlen(sizes), sizeof sizes - strlen(sizes), "%s%ld", i ? "," : "", x->o.batch_sizes[i]);
    printf("{\"schema\":%d,\"bench\":\"machine\",\"nproc\":%ld,\"kernel\":\"%s\",\"cpu\":\"%s\",\"mem_gib\":%.1f,"
           "\"librdkafka\":\"%s\",\"weir_client\":\"%s\",\"broker\":\"%s\",\"runs\":%d,\"lat_runs\":%d,"
           "\"consume_runs\":%d,\"records\":%ld,\"consume_records\":%ld,\"value_bytes\":%d,\"batch_sizes\":\"%s\","
           "\"linger_ms\":%d,\"rate\":%d,\"lat_secs\":%d,\"payload_lz4_ratio\":%.2f,\"loadavg_1m\":%.2f,\"mb\":1000000}\n",
           SCHEMA, sysconf(_SC_NPROCESSORS_ONLN), u.release, cpu,
           (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (double)(1 << 30), rd_kafka_version_str(),
           WEIR_CLIENT_VERSION, x->o.bootstrap ? "external" : "spawned", x->o.runs, x->o.lat_runs, x->o.consume_runs,
           x->o.records, x->o.consume_records, x->o.value_bytes, sizes, x->o.linger_ms, x->o.rate,
           x->o.lat_secs, lz4_ratio(p.buf, p.n * p.value_len), loadavg1());
    free(p.buf);
    fflush(stdout);
}

static void usage(FILE *f)
{
    fputs("usage: bench_client [--runs N] [--lat-runs N] [--consume-runs N] [--records N] [--consume-records N]\n"
          "                    [--batch-sizes LIST] [--linger-ms N] [--rate N] [--lat-secs N] [--value-bytes N]\n"
          "                    [--only LIST] [--codecs LIST] [--match STR] [--quick] [--dir PATH] [--weir PATH]\n"
          "                    [--bootstrap HOST:PORT]\n"
          "  --runs N            produce runs per configuration and client (default 3)\n"
          "  --lat-runs N        latency runs per configuration and client (default 5)\n"
          "  --consume-runs N    consume runs per topic and client (default 3)\n"
          "  --records N         records per produce run (default 2000000)\n"
          "  --consume-records N records in each consume topic (default 5000000)\n"
          "  --batch-sizes LIST  batch.size of the throughput rows, comma list (default 16384,1000000);\n"
          "                      the latency rows use the first\n"
          "  --linger-ms N       linger.ms of the throughput rows (default 5)\n"
          "  --rate N            latency rows: records/s (default 10000)\n"
          "  --lat-secs N        latency rows: seconds per run (default 5)\n"
          "  --value-bytes N     value size (default 100)\n"
          "  --only LIST         comma list of produce,latency,consume\n"
          "  --codecs LIST       the produce rows' codecs, comma list of none,gzip,snappy,lz4,zstd\n"
          "                      (default none,lz4)\n"
          "  --quick             100000 records, 200000 consume records, 1 s latency, 1 run each\n"
          "  --dir PATH          make the bench directory under PATH (default $TMPDIR or /tmp)\n"
          "  --weir PATH         the weir binary (default: next to this program)\n"
          "  --bootstrap H:P     use a running broker (no broker CPU figures)\n"
          "  --match STR         only the produce/latency configurations whose name contains STR\n"
          "                      (names as in the progress lines: \"acks=all lz4 p=6 b=16384 l=5 rate=0\")\n",
          f);
}

static long parse_long(const char *s, long lo, long hi)
{
    long v;
    if (!long_parse(s, lo, hi, &v)) fatal("bad number %s (want %ld..%ld)", s, lo, hi);
    return v;
}

static void parse_sizes(struct opts *o, const char *s)
{
    o->n_batch_sizes = 0;
    while (*s) {
        char num[32];
        size_t n = strcspn(s, ",");
        if (o->n_batch_sizes == (int)ARRAY_LEN(o->batch_sizes)) fatal("--batch-sizes: at most %zu", ARRAY_LEN(o->batch_sizes));
        snprintf(num, sizeof num, "%.*s", (int)(n < sizeof num - 1 ? n : sizeof num - 1), s);
        o->batch_sizes[o->n_batch_sizes++] = parse_long(num, 1, 1000000000);
        s += n + (s[n] == ',');
    }
    if (!o->n_batch_sizes) fatal("--batch-sizes: empty");
}

static unsigned parse_phases(const char *s)
{
    static const char *const names[] = { "produce", "latency", "consume" };
    unsigned mask;
    const char *bad;
    int bad_len;
    if (!names_mask(s, names, ARRAY_LEN(names), &mask, &bad, &bad_len)) fatal("--only: unknown part '%.*s'", bad_len, bad);
    return mask;
}

static unsigned parse_codecs(const char *s)
{
    unsigned mask;
    const char *bad;
    int bad_len;
    if (!names_mask(s, codec_names, ARRAY_LEN(codec_names), &mask, &bad, &bad_len))
        fatal("--codecs: unknown codec '%.*s'", bad_len, bad);
    if (!mask) fatal("--codecs: empty");
    return mask;
}

static void parse_args(struct ctx *x, int argc, char **argv)
{
    struct opts *o = &x->o;
    bool quick = false;
    o->linger_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--quick")) quick = true, takes = false;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(stdout), exit(0);
        else if (!v) usage(stderr), fatal("%s: unknown or missing its value", a);
        else if (!strcmp(a, "--runs")) o->runs = (int)parse_long(v, 1, RUNS_MAX);
        else if (!strcmp(a, "--lat-runs")) o->lat_runs = (int)parse_long(v, 1, RUNS_MAX);
        else if (!strcmp(a, "--consume-runs")) o->consume_runs = (int)parse_long(v, 1, RUNS_MAX);
        else if (!strcmp(a, "--records")) o->records = parse_long(v, 1, 1L << 34);
        else if (!strcmp(a, "--consume-records")) o->consume_records = parse_long(v, 1, 1L << 34);
        else if (!strcmp(a, "--batch-sizes")) parse_sizes(o, v);
        else if (!strcmp(a, "--linger-ms")) o->linger_ms = (int)parse_long(v, 0, 900000);
        else if (!strcmp(a, "--rate")) o->rate = (int)parse_long(v, 1, 10000000);
        else if (!strcmp(a, "--lat-secs")) o->lat_secs = (int)parse_long(v, 1, 3600);
        else if (!strcmp(a, "--value-bytes")) o->value_bytes = (int)parse_long(v, 2, 900000);
        else if (!strcmp(a, "--only")) o->phases = parse_phases(v);
        else if (!strcmp(a, "--codecs")) o->codecs = parse_codecs(v);
        else if (!strcmp(a, "--dir")) o->dir_arg = v;
        else if (!strcmp(a, "--weir")) o->weir_bin = v;
        else if (!strcmp(a, "--bootstrap")) o->bootstrap = v;
        else if (!strcmp(a, "--match")) o->match = v;
        else usage(stderr), fatal("unknown argument: %s", a);
        i += takes;
    }
    if (!o->runs) o->runs = quick ? 1 : 3;
    if (!o->lat_runs) o->lat_runs = quick ? 1 : 5;
    if (!o->consume_runs) o->consume_runs = quick ? 1 : 3;
    if (!o->records) o->records = quick ? 100000 : 2000000;
    if (!o->consume_records) o->consume_records = quick ? 200000 : 5000000;
    if (!o->n_batch_sizes) o->n_batch_sizes = 2, o->batch_sizes[0] = 16384, o->batch_sizes[1] = 1000000;
    o->batch_size = o->batch_sizes[0];
    if (o->linger_ms < 0) o->linger_ms = 5;
    if (!o->rate) o->rate = 10000;
    if (!o->lat_secs) o->lat_secs = quick ? 1 : 5;
    if (!o->value_bytes) o->value_bytes = 100;
    if (!o->phases) o->phases = PH_ALL;
    if (!o->codecs) o->codecs = CODECS_DEFAULT;
    if (!o->weir_bin) {
        int rc = exe_sibling("weir", o->weir_buf, sizeof o->weir_buf);
        if (rc == -1) fatal("readlink /proc/self/exe: %s", strerror(errno));
        if (rc == -2) fatal("path too long: weir next to this program");
        o->weir_bin = o->weir_buf;
    }
    if (access(o->weir_bin, X_OK) != 0) fatal("no weir binary at %s (--weir)", o->weir_bin);
}

static void make_root(struct ctx *x)
{
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(x->o.dir_arg, "weir-bench-client", x->root, sizeof x->root, tmpl);
    if (rc < 0) fatal("--dir path too long");
    if (rc > 0) fatal("mkdtemp %s: %s", tmpl, strerror(rc));
}

int main(int argc, char **argv)
{
    static struct ctx x;
    g_ctx = &x;
    int64_t t0 = now_ns();
    parse_args(&x, argc, argv);
    stop_signals_block(&x.stop_signals); /* checked between runs */
    signal(SIGPIPE, SIG_IGN);
    make_root(&x);
    if (x.o.bootstrap) snprintf(x.bootstrap, sizeof x.bootstrap, "%s", x.o.bootstrap);
    else broker_start(&x);
    admin_open(&x);
    print_machine(&x);
    if (x.o.phases & PH_PRODUCE) bench_produce(&x);
    if (x.o.phases & PH_LATENCY) bench_latency(&x);
    if (x.o.phases & PH_CONSUME) bench_consume(&x);
    weir_admin_destroy(x.admin);
    broker_stop(&x);
    rmrf(x.root);
    printf("{\"schema\":%d,\"bench\":\"end\",\"elapsed_s\":%.0f,\"loadavg_1m\":%.2f}\n", SCHEMA,
           (double)(now_ns() - t0) / 1e9, loadavg1());
    return 0;
}

#endif /* WEIR_HAVE_RDKAFKA */
