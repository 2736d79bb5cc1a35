/* cli/cmd_bench.c: `weir bench produce|consume`: a load generator for weir's
 * own client library (client.h), printing one result line (--json: one JSON
 * object) on stdout.
 *
 * produce: --records values of --value-bytes bytes (JSON-like events from a
 * fixed pool, so LZ4 finds what a real event stream has), null keys, sent
 * round-robin over the topic's partitions (record i to partition i % P), as
 * fast as send() takes them (--rate 0) or on a fixed schedule (--rate N:
 * record i is due at i/N s). The topic is created with --partitions when it
 * does not exist. Before the clock starts, --warmup records (default one per
 * partition) are sent and flushed, so connecting, metadata and the producer
 * id are not timed. The clock runs from the first timed send() to the end of
 * flush (every delivery callback has run). Delivery latency is per record,
 * from just before send() to its delivery callback (CLOCK_MONOTONIC).
 *
 * consume: every partition of the topic from its first record, assigned
 * directly (no group), until --records records (default: all there were when
 * it started). The clock runs from assign() to the last record.
 *
 * bench/bench_client.c drives the same workload through librdkafka and
 * compares; it relies on the JSON field names below and on the value pool
 * being the same (payload_hash). MB = 10^6 bytes of values. */
#include "cli.h"
#include "base/base.h" /* weir_value_make, weir_pct_us: the same as the bench/ programs */

#include <getopt.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    SETS_MAX = 64,
    POOL_VALUES = 65536,            /* distinct values cycled through */
    POOL_BYTES_MAX = 64 << 20,      /* fewer values when they are large */
    STALL_MS = 30000,               /* a consumer that gets nothing this long fails */
    PARTITIONS_MAX = 10000,
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_RECORDS,
    OPT_VALUE_BYTES,
    OPT_BATCH_SIZE,
    OPT_LINGER_MS,
    OPT_ACKS,
    OPT_COMPRESSION,
    OPT_PARTITIONS,
    OPT_RATE,
    OPT_WARMUP,
    OPT_SET,
    OPT_JSON,
};

struct bench_args {
    bool produce;              /* else consume */
    const char *bootstrap, *topic;
    int64_t records;           /* consume: -1 = all */
    int64_t value_bytes;
    const char *batch_size, *linger_ms, *acks, *compression; /* NULL: the client's default */
    int64_t partitions;        /* -1: the topic's (1 when it is created) */
    int64_t rate;              /* records/s, 0 = unlimited */
    int64_t warmup;            /* -1: one per partition */
    const char *sets[SETS_MAX];
    size_t n_sets;
    bool json;
};

static const struct option bench_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "records", required_argument, NULL, OPT_RECORDS },
    { "value-bytes", required_argument, NULL, OPT_VALUE_BYTES },
    { "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
    { "linger-ms", required_argument, NULL, OPT_LINGER_MS },
    { "acks", required_argument, NULL, OPT_ACKS },
    { "compression", required_argument, NULL, OPT_COMPRESSION },
    { "partitions", required_argument, NULL, OPT_PARTITIONS },
    { "rate", required_argument, NULL, OPT_RATE },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "set", required_argument, NULL, OPT_SET },
    { "json", no_argument, NULL, OPT_JSON },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_bench(FILE *out)
{
    fprintf(out,
            "usage: weir bench produce [--topic T] [--records N] [--value-bytes N] [--batch-size N]\n"
            "                          [--linger-ms N] [--acks 0|1|all] [--compression none|gzip|snappy|lz4|zstd]\n"
            "                          [--partitions N] [--rate N] [--warmup N] [--set KEY=VALUE]...\n"
            "                          [--json] [--bootstrap HOST:PORT]\n"
            "       weir bench consume [--topic T] [--records N] [--set KEY=VALUE]... [--json]\n"
            "                          [--bootstrap HOST:PORT]\n\n"
            "Measures weir's client library against a broker: records/s, MB/s (values) and,\n"
            "for produce, delivery latency (send() to delivery callback) percentiles.\n\n"
            "  --topic T             the topic (default weir-bench)\n"
            "  --records N           records to send (default 1000000); consume: records to\n"
            "                        read (default: all the topic has when it starts)\n"
            "  --value-bytes N       value size (default 100); keys are null\n"
            "  --batch-size N        batch.size (default: the client's, 16384)\n"
            "  --linger-ms N         linger.ms (default: the client's, 5)\n"
            "  --acks 0|1|all        acks (default all; idempotence is on with all)\n"
            "  --compression C       none, gzip, snappy, lz4 or zstd (default none)\n"
            "  --partitions N        create the topic with N partitions when it does not exist\n"
            "                        (default 1); an existing topic must have N\n"
            "  --rate N              records per second, 0 = as fast as possible (default 0)\n"
            "  --warmup N            records sent and flushed before the clock starts\n"
            "                        (default: one per partition)\n"
            "  --set KEY=VALUE       a producer (consumer) config key; repeatable\n"
            "  --json                one JSON object instead of text\n"
            "  --bootstrap HOST:PORT a broker (default " CLI_BOOTSTRAP_DEFAULT ")\n"
            "  -h, --help            this text\n\n"
            "Records go round-robin over the partitions. Exit codes: 0 ok, 1 failed (a\n"
            "delivery failed, broker unreachable), 2 bad command line.\n");
}

static int num_opt(const char *name, const char *arg, int64_t min, int64_t max, int64_t *out)
{
    if (!cli_parse_i64(arg, min, max, out))
        return cli_usage("bench: %s: '%.160s' is not a number in %" PRId64 "..%" PRId64, name, arg, min, max);
    return 0;
}

static int apply_option(struct bench_args *a, int opt, const char *arg)
{
    switch (opt) {
    case OPT_BOOTSTRAP: a->bootstrap = arg; return 0;
    case OPT_TOPIC:
        if (!*arg) return cli_usage("bench: --topic: empty topic name");
        a->topic = arg;
        return 0;
    case OPT_RECORDS: return num_opt("--records", arg, 1, INT64_C(1) << 40, &a->records);
    case OPT_VALUE_BYTES: return num_opt("--value-bytes", arg, 0, 900000, &a->value_bytes);
    case OPT_BATCH_SIZE: a->batch_size = arg; return 0;
    case OPT_LINGER_MS: a->linger_ms = arg; return 0;
    case OPT_ACKS: a->acks = arg; return 0;
    case OPT_COMPRESSION: a->compression = arg; return 0;
    case OPT_PARTITIONS: return num_opt("--partitions", arg, 1, PARTITIONS_MAX, &a->partitions);
    case OPT_RATE: return num_opt("--rate", arg, 0, 100000000, &a->rate);
    case OPT_WARMUP: return num_opt("--warmup", arg, 0, 100000000, &a->warmup);
    case OPT_SET:
        if (!strchr(arg, '=') || arg[0] == '=') return cli_usage("bench: --set: expected KEY=VALUE, got '%.160s'", arg);
        if (a->n_sets == SETS_MAX) return cli_usage("bench: more than %d --set options", SETS_MAX);
        a->sets[a->n_sets++] = arg;
        return 0;
    case OPT_JSON: a->json = true; return 0;
    default: return 0;
    }
}

/* "key=value" of --set, split into key (truncated to cap) and the value. */
static const char *set_split(const char *kv, char *key, size_t cap)
{
    const char *eq = strchr(kv, '=');
    snprintf(key, cap, "%.*s", (int)(eq - kv), kv);
    return eq + 1;
}

/* The producer config: the flags, then --set in order. */
static bool producer_conf(const struct bench_args *a, struct weir_conf *conf, char *why, size_t why_size)
{
    const char *keys[] = { "batch.size", "linger.ms", "acks", "compression.type" };
    const char *vals[] = { a->batch_size, a->linger_ms, a->acks, a->compression };
    weir_conf_set(conf, "bootstrap.servers", a->bootstrap, NULL, 0);
    weir_conf_set(conf, "client.id", "weir-bench", NULL, 0);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (vals[i] && weir_conf_set(conf, keys[i], vals[i], why, why_size) != WEIR_CONF_OK) return false;
    for (size_t i = 0; i < a->n_sets; i++) {
        char key[256];
        const char *v = set_split(a->sets[i], key, sizeof key);
        if (weir_conf_set(conf, key, v, why, why_size) != WEIR_CONF_OK) return false;
    }
    return true;
}

static bool consumer_conf(const struct bench_args *a, struct weir_consumer_conf *cc, char *why, size_t why_size)
{
    weir_consumer_conf_set(cc, "bootstrap.servers", a->bootstrap, NULL, 0);
    weir_consumer_conf_set(cc, "client.id", "weir-bench", NULL, 0);
    weir_consumer_conf_set(cc, "auto.offset.reset", "error", NULL, 0);
    for (size_t i = 0; i < a->n_sets; i++) {
        char key[256];
        const char *v = set_split(a->sets[i], key, sizeof key);
        if (weir_consumer_conf_set(cc, key, v, why, why_size) != WEIR_CONF_OK) return false;
    }
    return true;
}

/* -1 to go on, else the exit code. */
static int bench_parse(int argc, char **argv, struct bench_args *a)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage_bench(stdout);
        return cli_stdout_done();
    }
    if (argc < 2 || (strcmp(argv[1], "produce") && strcmp(argv[1], "consume")))
        return cli_usage("bench: expected 'produce' or 'consume' (try 'weir bench --help')");
    a->produce = !strcmp(argv[1], "produce");
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc - 1, argv + 1, "+:h", bench_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return cli_bad_option(opt, argv + 1, "bench", "h");
        if (opt == 'h') {
            usage_bench(stdout);
            return cli_stdout_done();
        }
        int rc = apply_option(a, opt, optarg);
        if (rc != 0) return rc;
    }
    if (optind < argc - 1) return cli_usage("bench: unexpected argument '%.160s'", argv[optind + 1]);
    if (!cli_bootstrap_ok("bench", a->bootstrap)) return CLI_EXIT_USAGE;
    char why[512];
    bool ok = true;
    if (a->produce) {
        struct weir_conf *conf = weir_conf_new();
        ok = !conf || producer_conf(a, conf, why, sizeof why);
        weir_conf_destroy(conf);
    } else {
        struct weir_consumer_conf *cc = weir_consumer_conf_new();
        ok = !cc || consumer_conf(a, cc, why, sizeof why);
        weir_consumer_conf_destroy(cc);
    }
    if (!ok) return cli_usage("bench: %s", why);
    return -1;
}

/* ---- time (values, percentiles and CPU time: base/bench.c) ------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
}

/* ---- the value pool (weir_value_make: the same bytes as bench/bench_broker.c and bench_client.c) ---- */

struct pool {
    uint8_t *buf;
    size_t value_len, n;
    uint64_t hash; /* FNV-1a of the pool: the same workload on both sides */
};

static bool pool_make(struct pool *p, size_t value_len)
{
    p->value_len = value_len;
    p->n = POOL_VALUES;
    if (value_len && p->n > (size_t)POOL_BYTES_MAX / value_len) p->n = (size_t)POOL_BYTES_MAX / value_len;
    if (p->n == 0) p->n = 1;
    p->buf = malloc(p->n * value_len + 1);
    if (!p->buf) return false;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < p->n; i++) weir_value_make(p->buf + i * value_len, value_len, (uint32_t)i, &rng);
    p->hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < p->n * value_len; i++) p->hash = (p->hash ^ p->buf[i]) * 0x100000001b3ull;
    return true;
}

static const uint8_t *pool_value(const struct pool *p, uint64_t i) { return p->buf + (i % p->n) * p->value_len; }

/* ---- the topic ------------------------------------------------------------------------ */

/* Creates the topic (a->partitions, default 1) when it does not exist, else
 * checks that it has a->partitions; sets *parts. 0 or the exit code. */
static int topic_ensure(const struct bench_args *a, int32_t *parts)
{
    struct weir_admin *adm = cli_admin("bench", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    struct weir_metadata *md = NULL;
    int rc = 0;
    if (weir_admin_metadata(adm, &a->topic, 1, &md) != 0) {
        rc = cli_fail("bench: %s", weir_admin_error(adm));
    } else if (md->topics_count == 1 && md->topics[0].err == 0) {
        *parts = (int32_t)md->topics[0].partitions_count;
        if (a->partitions > 0 && a->partitions != *parts)
            rc = cli_fail("bench: topic '%s' has %" PRId32 " partitions, not %" PRId64 " (--partitions)", a->topic,
                          *parts, a->partitions);
    } else if (md->topics_count != 1 || md->topics[0].err != 3) {
        rc = cli_fail("bench: topic '%s': %s", a->topic,
                      weir_client_err_text(md->topics_count ? md->topics[0].err : WEIR_CLIENT_E_BAD_MSG));
    } else if (!a->produce) {
        rc = cli_fail("bench: topic '%s' does not exist", a->topic);
    } else {
        struct weir_new_topic nt = { a->topic, a->partitions > 0 ? (int32_t)a->partitions : 1, -1, NULL, 0 };
        struct weir_admin_result res;
        if (weir_admin_create_topics(adm, &nt, 1, 0, &res) != 0) rc = cli_fail("bench: %s", weir_admin_error(adm));
        else if (res.err) rc = cli_fail("bench: cannot create topic '%s': %s", a->topic, res.message);
        *parts = nt.partitions;
    }
    weir_metadata_destroy(md);
    weir_admin_destroy(adm);
    return rc;
}

/* ---- produce ---------------------------------------------------------------------------- */

/* Written by delivery callbacks (the Sender thread). */
static atomic_uint_fast64_t g_failed;
static atomic_int g_first_err;

/* opaque: the record's slot, holding its send time; it becomes the latency
 * (ns), or -1 when the record failed. */
static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    int64_t *slot = opaque;
    if (d->err == 0) {
        *slot = now_ns() - *slot;
        return;
    }
    *slot = -1;
    int none = 0;
    atomic_compare_exchange_strong(&g_first_err, &none, d->err);
    atomic_fetch_add(&g_failed, 1);
}

struct produce_result {
    double elapsed_s, cpu_s;
    int64_t late_max_ns;
    struct weir_producer_stats st;
};

static int send_one(struct weir_producer *p, const struct bench_args *a, const struct pool *pool, uint64_t i,
                    int32_t parts, int64_t *slot)
{
    struct weir_msg m = { .topic = a->topic, .partition = (int32_t)(i % (uint64_t)parts),
                          .value = pool_value(pool, i), .value_len = pool->value_len,
                          .on_delivery = on_delivery, .opaque = slot };
    *slot = now_ns();
    return weir_producer_send(p, &m);
}

/* Warm-up, then the timed section. 0 or the exit code. */
static int produce_loop(struct weir_producer *p, const struct bench_args *a, const struct pool *pool, int32_t parts,
                        int64_t *lat, struct produce_result *res)
{
    uint64_t warm = a->warmup >= 0 ? (uint64_t)a->warmup : (uint64_t)parts, n = (uint64_t)a->records;
    int64_t *warm_slots = calloc(warm ? warm : 1, sizeof *warm_slots);
    if (!warm_slots) return cli_fail("bench: out of memory");
    int err = 0;
    for (uint64_t i = 0; i < warm && !err; i++) err = send_one(p, a, pool, i, parts, &warm_slots[i]);
    int flush_err = weir_producer_flush(p, -1);
    free(warm_slots); /* every callback has run */
    if (err) return cli_fail("bench: warm-up record not sent: %s", weir_client_err_text(err));
    if (flush_err) return cli_fail("bench: warm-up flush failed");
    if (atomic_load(&g_failed)) return cli_fail("bench: warm-up failed: %s", weir_client_err_text(atomic_load(&g_first_err)));
    weir_producer_stats(p, &res->st);
    struct weir_producer_stats st0 = res->st;
    double c0 = weir_self_cpu_s();
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (a->rate > 0) {
            int64_t due = t0 + (int64_t)((double)i * 1e9 / (double)a->rate);
            sleep_until(due);
            int64_t late = now_ns() - due;
            if (late > res->late_max_ns) res->late_max_ns = late;
        }
        err = send_one(p, a, pool, warm + i, parts, &lat[i]);
        if (err) return cli_fail("bench: record %" PRIu64 " not sent: %s", i, weir_client_err_text(err));
    }
    if (weir_producer_flush(p, -1) != 0) return cli_fail("bench: flush failed");
    res->elapsed_s = (double)(now_ns() - t0) / 1e9;
    res->cpu_s = weir_self_cpu_s() - c0;
    weir_producer_stats(p, &res->st);
    res->st.requests_sent -= st0.requests_sent;
    res->st.batches_sent -= st0.batches_sent;
    res->st.bytes_sent -= st0.bytes_sent;
    res->st.batches_retried -= st0.batches_retried;
    res->st.disconnects -= st0.disconnects;
    uint64_t failed = atomic_load(&g_failed);
    if (failed)
        return cli_fail("bench: %" PRIu64 " of %" PRIu64 " records failed: %s", failed, n,
                        weir_client_err_text(atomic_load(&g_first_err)));
    return 0;
}

static void produce_print(const struct bench_args *a, const struct weir_conf *conf, int32_t parts,
                          const struct pool *pool, int64_t *lat, const struct produce_result *r)
{
    size_t n = (size_t)a->records;
    qsort(lat, n, sizeof *lat, weir_cmp_i64); /* no failures here: every slot is a latency */
    double s = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;
    char batch[32], linger[32], acks[16], codec[16];
    weir_conf_get(conf, "batch.size", batch, sizeof batch);
    weir_conf_get(conf, "linger.ms", linger, sizeof linger);
    weir_conf_get(conf, "acks", acks, sizeof acks);
    weir_conf_get(conf, "compression.type", codec, sizeof codec);
    if (!strcmp(acks, "-1")) snprintf(acks, sizeof acks, "all");
    double rec_s = (double)n / s, mb_s = (double)n * (double)pool->value_len / 1e6 / s;
    double p50 = weir_pct_us(lat, n, 0.50), p99 = weir_pct_us(lat, n, 0.99), p999 = weir_pct_us(lat, n, 0.999),
           mx = weir_pct_us(lat, n, 1.0);
    if (!a->json) {
        printf("produce %" PRIu64 " records of %zu bytes to %s (%" PRId32 " partitions, acks=%s, %s, batch.size %s, "
               "linger.ms %s%s): %.0f records/s, %.1f MB/s, %.2f s\n"
               "delivery latency: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us; client CPU %.2f cores\n",
               (uint64_t)n, pool->value_len, a->topic, parts, acks, codec, batch, linger,
               a->rate ? ", rate-limited" : "", rec_s, mb_s, r->elapsed_s, p50, p99, p999, mx, r->cpu_s / s);
        return;
    }
    printf("{\"bench\":\"produce\",\"client\":\"weir\",\"client_version\":\"%s\",\"topic\":\"%s\",\"partitions\":%" PRId32
           ",\"records\":%zu,\"warmup_records\":%" PRId64 ",\"value_bytes\":%zu,\"batch_size\":%s,\"linger_ms\":%s,"
           "\"acks\":\"%s\",\"compression\":\"%s\",\"idempotence\":%s,\"rate\":%" PRId64 ",\"elapsed_s\":%.6f,"
           "\"records_s\":%.0f,\"mb_s\":%.2f,\"lat_p50_us\":%.0f,\"lat_p99_us\":%.0f,\"lat_p999_us\":%.0f,"
           "\"lat_max_us\":%.0f,\"send_late_max_us\":%.0f,\"cpu_s\":%.3f,\"cpu_cores\":%.3f,\"requests\":%" PRIu64
           ",\"batches\":%" PRIu64 ",\"records_per_batch\":%.1f,\"batches_retried\":%" PRIu64 ",\"disconnects\":%" PRIu64
           ",\"payload_hash\":\"%016" PRIx64 "\"}\n",
           WEIR_CLIENT_VERSION, a->topic, parts, n, a->warmup >= 0 ? a->warmup : (int64_t)parts, pool->value_len,
           batch, linger, acks, codec, r->st.pid_inits ? "true" : "false", a->rate, r->elapsed_s, rec_s, mb_s, p50,
           p99, p999, mx, (double)r->late_max_ns / 1e3, r->cpu_s, r->cpu_s / s, r->st.requests_sent,
           r->st.batches_sent, r->st.batches_sent ? (double)n / (double)r->st.batches_sent : 0.0, r->st.batches_retried,
           r->st.disconnects, pool->hash);
}

static int bench_produce(const struct bench_args *a)
{
    int32_t parts = 0;
    int rc = topic_ensure(a, &parts);
    if (rc) return rc;
    struct pool pool = { 0 };
    int64_t *lat = calloc((size_t)a->records, sizeof *lat);
    if (!lat || !pool_make(&pool, (size_t)a->value_bytes)) {
        free(lat);
        free(pool.buf);
        return cli_fail("bench: out of memory for %" PRId64 " records", a->records);
    }
    struct weir_conf *conf = weir_conf_new();
    char why[512];
    struct weir_producer *p = NULL;
    if (!conf || !producer_conf(a, conf, why, sizeof why)) rc = cli_fail("bench: out of memory");
    else if (!(p = weir_producer_new(conf, why, sizeof why))) rc = cli_fail("bench: %s", why);
    struct produce_result res = { 0 };
    if (p) rc = produce_loop(p, a, &pool, parts, lat, &res);
    weir_producer_destroy(p); /* waits for every callback: lat is no longer written */
    if (rc == 0) produce_print(a, conf, parts, &pool, lat, &res);
    weir_conf_destroy(conf);
    free(lat);
    free(pool.buf);
    return rc ? rc : cli_stdout_done();
}

/* ---- consume ------------------------------------------------------------------------------ */

struct consume_plan {
    int32_t parts;
    int64_t available; /* records between each partition's start and end, summed */
};

static int consume_plan(const struct bench_args *a, struct consume_plan *plan)
{
    int32_t parts = 0;
    int rc = topic_ensure(a, &parts);
    if (rc) return rc;
    struct weir_admin *adm = cli_admin("bench", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    plan->parts = parts;
    plan->available = 0;
    for (int32_t i = 0; rc == 0 && i < parts; i++) {
        int64_t begin, end;
        if (weir_admin_list_offset(adm, a->topic, i, WEIR_OFFSET_BEGINNING, &begin) != 0 ||
            weir_admin_list_offset(adm, a->topic, i, WEIR_OFFSET_END, &end) != 0)
            rc = cli_fail("bench: partition %" PRId32 ": %s", i, weir_admin_error(adm));
        else
            plan->available += end - begin;
    }
    weir_admin_destroy(adm);
    return rc;
}

static int bench_consume(const struct bench_args *a)
{
    struct consume_plan plan;
    int rc = consume_plan(a, &plan);
    if (rc) return rc;
    int64_t want = a->records > 0 ? a->records : plan.available;
    if (want > plan.available)
        return cli_fail("bench: topic '%s' has %" PRId64 " records, fewer than --records %" PRId64, a->topic,
                        plan.available, want);
    struct weir_partition_start *starts = calloc((size_t)plan.parts, sizeof *starts);
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    char why[512], crcs[16] = "?";
    struct weir_consumer *c = NULL;
    if (!starts || !cc || !consumer_conf(a, cc, why, sizeof why)) rc = cli_fail("bench: out of memory");
    else if (!(c = weir_consumer_new(cc, why, sizeof why))) rc = cli_fail("bench: %s", why);
    if (cc) weir_consumer_conf_get(cc, "check.crcs", crcs, sizeof crcs);
    weir_consumer_conf_destroy(cc);
    for (int32_t i = 0; c && i < plan.parts; i++)
        starts[i] = (struct weir_partition_start){ a->topic, i, WEIR_OFFSET_BEGINNING, 0 };
    double c0 = weir_self_cpu_s();
    int64_t t0 = now_ns(), first = 0, last = t0, got = 0;
    uint64_t bytes = 0;
    if (c && weir_consumer_assign(c, starts, (size_t)plan.parts) != 0) rc = cli_fail("bench: assign failed");
    while (c && rc == 0 && got < want) {
        struct weir_consumer_record *r = weir_consumer_poll(c, 100);
        if (!r) {
            if (now_ns() - last > (int64_t)STALL_MS * 1000000)
                rc = cli_fail("bench: consume stalled at record %" PRId64 " of %" PRId64, got, want);
            continue;
        }
        if (r->event == WEIR_EVENT_RECORD) {
            bytes += r->value_len;
            if (got++ == 0) first = now_ns();
            last = now_ns();
        } else if (r->event == WEIR_EVENT_ERROR) {
            rc = cli_fail("bench: %s", r->errstr);
        }
        weir_consumer_record_release(r);
    }
    double secs = (double)(last - t0) / 1e9, used = weir_self_cpu_s() - c0;
    weir_consumer_destroy(c);
    free(starts);
    if (rc) return rc;
    secs = secs > 0 ? secs : 1e-9;
    if (!a->json)
        printf("consume %" PRId64 " records (%" PRIu64 " value bytes) from %s (%" PRId32 " partitions): "
               "%.0f records/s, %.1f MB/s, %.2f s; client CPU %.2f cores\n",
               got, bytes, a->topic, plan.parts, (double)got / secs, (double)bytes / 1e6 / secs, secs, used / secs);
    else
        printf("{\"bench\":\"consume\",\"client\":\"weir\",\"client_version\":\"%s\",\"topic\":\"%s\",\"partitions\":%" PRId32
               ",\"records\":%" PRId64 ",\"bytes\":%" PRIu64 ",\"check_crcs\":%s,\"elapsed_s\":%.4f,\"records_s\":%.0f,"
               "\"mb_s\":%.2f,\"first_record_ms\":%.1f,\"cpu_s\":%.3f,\"cpu_cores\":%.3f}\n",
               WEIR_CLIENT_VERSION, a->topic, plan.parts, got, bytes, crcs, secs, (double)got / secs,
               (double)bytes / 1e6 / secs, (double)(first - t0) / 1e6, used, used / secs);
    return cli_stdout_done();
}

int cmd_bench(int argc, char **argv)
{
    struct bench_args a = { .bootstrap = CLI_BOOTSTRAP_DEFAULT, .topic = "weir-bench", .records = -1,
                            .value_bytes = 100, .partitions = -1, .warmup = -1 };
    int rc = bench_parse(argc, argv, &a);
    if (rc >= 0) return rc; /* --help, or a usage error */
    if (a.produce && a.records < 0) a.records = 1000000;
    return a.produce ? bench_produce(&a) : bench_consume(&a);
}
