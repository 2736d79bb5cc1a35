/* cli/cmd_bench.c: `weir bench produce|consume|e2e`: a load generator and
 * verifier over weir's own client library (client.h), so it runs against any
 * Kafka broker.
 *
 * produce: --producers threads, each with its own producer, send --records
 * values (split between them) or for --duration seconds, of --value-bytes
 * bytes (JSON-like events from a fixed pool, so LZ4 finds what a real event
 * stream has), null keys round-robin over the partitions (record i of
 * producer j to partition (i + j) % P) or keys from --key-dist, as fast as
 * send() takes them (--rate 0) or on a fixed schedule (--rate N records/s in
 * all: producer j's record i is due at t0 + (i + j/P') * P'/N s). Before the
 * clock starts each producer sends and flushes --warmup records (default one
 * per partition), so connecting, metadata and the producer id are not timed;
 * then --warmup-seconds of traffic are sent but not counted. Delivery latency
 * runs from the send time, or with a rate from the time the record was due
 * (coordinated omission corrected: a stalled sender does not hide the
 * records it should have sent), to its delivery callback.
 *
 * consume: --consumers threads split the partitions (p % C), read from the
 * start, until --records, --duration, or every record there was at the start.
 *
 * e2e: the consumers start at the end of every partition, then the
 * producers run; after the last delivery each partition's end is read and the
 * consumers drain up to it. End-to-end latency: from the record's due time
 * (its header, wall clock ns; the record timestamp is the same in ms) to its
 * arrival at a consumer.
 *
 * Every record from produce and e2e carries a header "weir.bench" (28 bytes,
 * big-endian: run id u64, producer u32, sequence u64, due time ns u64), the
 * sequence counting per producer and partition. --verify checks them: in
 * e2e, lost = acknowledged and never read, duplicated = read more than once,
 * reordered = read after a higher sequence of its stream; records whose
 * delivery failed are counted apart (absent or present). consume --verify
 * sees only what is in the log: lost = a gap below a stream's highest
 * sequence.
 *
 * Progress every --interval seconds on stderr (--json: also as lines on
 * stdout) and a summary. bench/bench_client.c drives produce and consume and
 * relies on the summary's field names, on it being the one stdout line that
 * starts {"bench": and on the value pool (payload_hash). MB = 10^6 bytes of
 * values. */
#include "cli.h"
#include "base/base.h" /* weir_value_make, weir_hist_*, the clocks: the same as the bench/ programs */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    SETS_MAX = 64,
    POOL_VALUES = 65536,            /* distinct values cycled through */
    POOL_BYTES_MAX = 64 << 20,      /* fewer values when they are large */
    STALL_MS = 30000,               /* a consumer that gets nothing this long fails */
    DRAIN_MS = 30000,               /* e2e: the consumers' time to reach the ends after the producers */
    PARTITIONS_MAX = 10000,
    THREADS_MAX = 64,               /* producers, consumers */
    KEYS_MAX = 10000000,
    HDR_BYTES = 28,
    BENCH_EXIT_VERIFY = 3,
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_RECORDS,
    OPT_DURATION,
    OPT_VALUE_BYTES,
    OPT_BATCH_SIZE,
    OPT_LINGER_MS,
    OPT_ACKS,
    OPT_COMPRESSION,
    OPT_PARTITIONS,
    OPT_RATE,
    OPT_WARMUP,
    OPT_WARMUP_SECONDS,
    OPT_PRODUCERS,
    OPT_CONSUMERS,
    OPT_KEY_DIST,
    OPT_KEYS,
    OPT_INTERVAL,
    OPT_VERIFY,
    OPT_PLOT,
    OPT_SET,
    OPT_JSON,
};

static const char HDR_KEY[] = "weir.bench";

enum bench_mode { MODE_PRODUCE, MODE_CONSUME, MODE_E2E };
static const char *const MODE_NAMES[] = { "produce", "consume", "e2e" };
enum key_dist { KEYS_NONE, KEYS_UNIFORM, KEYS_ZIPF };
static const char *const KEY_DIST_NAMES[] = { "none", "uniform", "zipf" };

struct bench_args {
    enum bench_mode mode;
    const char *bootstrap, *topic;
    int64_t records;           /* -1: unset */
    int64_t duration_s;        /* 0: unset */
    int64_t value_bytes;
    const char *batch_size, *linger_ms, *acks, *compression; /* NULL: the client's default */
    int64_t partitions;        /* -1: the topic's (1 when it is created) */
    int64_t rate;              /* records/s in all, 0 = unlimited */
    int64_t warmup;            /* records per producer before the clock; -1: one per partition */
    int64_t warmup_s;
    int64_t producers, consumers;
    enum key_dist key_dist;
    int64_t keys;
    int64_t interval_s;        /* 0: no progress */
    bool verify, json;
    const char *plot_dir;
    const char *sets[SETS_MAX];
    size_t n_sets;
};

static const struct option bench_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "records", required_argument, NULL, OPT_RECORDS },
    { "duration", required_argument, NULL, OPT_DURATION },
    { "value-bytes", required_argument, NULL, OPT_VALUE_BYTES },
    { "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
    { "linger-ms", required_argument, NULL, OPT_LINGER_MS },
    { "acks", required_argument, NULL, OPT_ACKS },
    { "compression", required_argument, NULL, OPT_COMPRESSION },
    { "partitions", required_argument, NULL, OPT_PARTITIONS },
    { "rate", required_argument, NULL, OPT_RATE },
    { "warmup", required_argument, NULL, OPT_WARMUP },
    { "warmup-seconds", required_argument, NULL, OPT_WARMUP_SECONDS },
    { "producers", required_argument, NULL, OPT_PRODUCERS },
    { "consumers", required_argument, NULL, OPT_CONSUMERS },
    { "key-dist", required_argument, NULL, OPT_KEY_DIST },
    { "keys", required_argument, NULL, OPT_KEYS },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "verify", no_argument, NULL, OPT_VERIFY },
    { "plot", required_argument, NULL, OPT_PLOT },
    { "set", required_argument, NULL, OPT_SET },
    { "json", no_argument, NULL, OPT_JSON },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_bench(FILE *out)
{
    fprintf(out,
            "usage: weir bench produce|consume|e2e [options]\n\n"
            "Measures weir's client library against any Kafka broker. produce: delivery\n"
            "records/s, MB/s (values) and latency; consume: read records/s from the start of\n"
            "the topic; e2e: both at once, and the latency from a record's due time to its\n"
            "arrival at a consumer.\n\n"
            "  --topic T             the topic (default weir-bench)\n"
            "  --records N           records to send in all (produce, e2e; default 1000000\n"
            "                        unless --duration); consume: records to read (default:\n"
            "                        all the topic has when it starts)\n"
            "  --duration S          run for S seconds after the warm-up instead\n"
            "  --value-bytes N       value size (default 100)\n"
            "  --key-dist D          none (null keys, round-robin; default), uniform or zipf\n"
            "                        keys over --keys N (default 1000), partitioned as Kafka's\n"
            "                        client does (murmur2)\n"
            "  --batch-size N        batch.size (default: the client's, 16384)\n"
            "  --linger-ms N         linger.ms (default: the client's, 5)\n"
            "  --acks 0|1|all        acks (default all; idempotence is on with all)\n"
            "  --compression C       none, gzip, snappy, lz4 or zstd (default none)\n"
            "  --partitions N        create the topic with N partitions when it does not exist\n"
            "                        (default 1); an existing topic must have N\n"
            "  --rate N              records per second in all, 0 = as fast as possible\n"
            "                        (default 0); latency then counts from the due time\n"
            "  --producers N         producer threads, each its own producer (default 1)\n"
            "  --consumers N         consumer threads splitting the partitions (default 1)\n"
            "  --warmup N            records each producer sends and flushes before the clock\n"
            "                        starts (default: one per partition)\n"
            "  --warmup-seconds S    then S seconds of traffic not counted (default 0)\n"
            "  --interval S          progress every S seconds on stderr, 0 = none (default 2)\n"
            "  --verify              check per-producer, per-partition sequences: lost,\n"
            "                        duplicated and reordered records per partition\n"
            "  --plot DIR            write DIR/bench.jsonl and throughput and latency charts\n"
            "                        (PNG, SVG) through scripts/bench_plot.py (python3-matplotlib)\n"
            "  --set KEY=VALUE       a producer (consumer) config key; repeatable\n"
            "  --json                progress and summary as JSON lines on stdout\n"
            "  --bootstrap HOST:PORT a broker (default " CLI_BOOTSTRAP_DEFAULT ")\n"
            "  -h, --help            this text\n\n"
            "Exit codes: 0 ok, 1 failed (a delivery failed, broker unreachable), 2 bad\n"
            "command line, 3 --verify found lost, duplicated or reordered records.\n");
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
    case OPT_DURATION: return num_opt("--duration", arg, 1, 86400 * 7, &a->duration_s);
    case OPT_VALUE_BYTES: return num_opt("--value-bytes", arg, 0, 900000, &a->value_bytes);
    case OPT_BATCH_SIZE: a->batch_size = arg; return 0;
    case OPT_LINGER_MS: a->linger_ms = arg; return 0;
    case OPT_ACKS: a->acks = arg; return 0;
    case OPT_COMPRESSION: a->compression = arg; return 0;
    case OPT_PARTITIONS: return num_opt("--partitions", arg, 1, PARTITIONS_MAX, &a->partitions);
    case OPT_RATE: return num_opt("--rate", arg, 0, 100000000, &a->rate);
    case OPT_WARMUP: return num_opt("--warmup", arg, 0, 100000000, &a->warmup);
    case OPT_WARMUP_SECONDS: return num_opt("--warmup-seconds", arg, 0, 3600, &a->warmup_s);
    case OPT_PRODUCERS: return num_opt("--producers", arg, 1, THREADS_MAX, &a->producers);
    case OPT_CONSUMERS: return num_opt("--consumers", arg, 1, THREADS_MAX, &a->consumers);
    case OPT_KEYS: return num_opt("--keys", arg, 1, KEYS_MAX, &a->keys);
    case OPT_INTERVAL: return num_opt("--interval", arg, 0, 3600, &a->interval_s);
    case OPT_KEY_DIST:
        for (int i = 0; i < 3; i++)
            if (!strcmp(arg, KEY_DIST_NAMES[i])) {
                a->key_dist = (enum key_dist)i;
                return 0;
            }
        return cli_usage("bench: --key-dist: '%.160s' is not none, uniform or zipf", arg);
    case OPT_VERIFY: a->verify = true; return 0;
    case OPT_PLOT:
        if (!*arg) return cli_usage("bench: --plot: empty directory name");
        a->plot_dir = arg;
        return 0;
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
        enum weir_conf_res res = weir_conf_set(conf, key, v, why, why_size);
        if (res != WEIR_CONF_OK && !(res == WEIR_CONF_UNKNOWN && a->mode == MODE_E2E)) return false;
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
        enum weir_conf_res res = weir_consumer_conf_set(cc, key, v, why, why_size);
        if (res != WEIR_CONF_OK && !(res == WEIR_CONF_UNKNOWN && a->mode == MODE_E2E)) return false;
    }
    return true;
}

/* e2e: a --set key goes to the clients that know it; one neither knows is an error. */
static bool e2e_sets_known(const struct bench_args *a, char *why, size_t why_size)
{
    for (size_t i = 0; i < a->n_sets; i++) {
        char key[256];
        set_split(a->sets[i], key, sizeof key);
        struct weir_conf *conf = weir_conf_new();
        char buf[256];
        bool known = conf && weir_conf_get(conf, key, buf, sizeof buf) != WEIR_CONF_UNKNOWN;
        weir_conf_destroy(conf);
        struct weir_consumer_conf *cc = known ? NULL : weir_consumer_conf_new();
        known = known || (cc && weir_consumer_conf_get(cc, key, buf, sizeof buf) != WEIR_CONF_UNKNOWN);
        weir_consumer_conf_destroy(cc);
        if (!known) {
            snprintf(why, why_size, "--set: '%s' is neither a producer nor a consumer configuration key", key);
            return false;
        }
    }
    return true;
}

/* The config checks of the mode's clients (e2e: both). */
static int confs_check(const struct bench_args *a)
{
    char why[512];
    bool ok = true;
    if (a->mode != MODE_CONSUME) {
        struct weir_conf *conf = weir_conf_new();
        ok = !conf || producer_conf(a, conf, why, sizeof why);
        weir_conf_destroy(conf);
    }
    if (ok && a->mode != MODE_PRODUCE) {
        struct weir_consumer_conf *cc = weir_consumer_conf_new();
        ok = !cc || consumer_conf(a, cc, why, sizeof why);
        weir_consumer_conf_destroy(cc);
    }
    if (ok && a->mode == MODE_E2E) ok = e2e_sets_known(a, why, sizeof why);
    return ok ? -1 : cli_usage("bench: %s", why);
}

/* -1 to go on, else the exit code. */
static int bench_parse(int argc, char **argv, struct bench_args *a)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage_bench(stdout);
        return cli_stdout_done();
    }
    int m = -1;
    for (int i = 0; argc >= 2 && i < 3; i++)
        if (!strcmp(argv[1], MODE_NAMES[i])) m = i;
    if (m < 0) return cli_usage("bench: expected 'produce', 'consume' or 'e2e' (try 'weir bench --help')");
    a->mode = (enum bench_mode)m;
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
    if (a->mode == MODE_CONSUME && (a->producers > 1 || a->rate || a->key_dist != KEYS_NONE))
        return cli_usage("bench: consume takes no --producers, --rate or --key-dist");
    if (a->mode == MODE_PRODUCE && a->consumers > 1) return cli_usage("bench: produce takes no --consumers");
    return confs_check(a);
}

/* ---- time (monotonic: weir_clock_ns, weir_sleep_until_ns in base/) ---------------------- */

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

/* ---- the bench header ------------------------------------------------------------------- */

struct bench_hdr {
    uint64_t run, seq;
    uint32_t producer;
    int64_t due_wall_ns;
};

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static void hdr_encode(const struct bench_hdr *h, uint8_t out[HDR_BYTES])
{
    put_be(out, h->run, 8);
    put_be(out + 8, h->producer, 4);
    put_be(out + 12, h->seq, 8);
    put_be(out + 20, (uint64_t)h->due_wall_ns, 8);
}

/* The record's bench header; false when it has none. */
static bool hdr_find(const struct weir_consumer_record *r, struct bench_hdr *h)
{
    for (size_t i = 0; i < r->headers_count; i++) {
        const struct weir_msg_header *x = &r->headers[i];
        if (x->key_len != sizeof HDR_KEY - 1 || memcmp(x->key, HDR_KEY, x->key_len) || x->value_len != HDR_BYTES ||
            !x->value)
            continue;
        const uint8_t *p = x->value;
        *h = (struct bench_hdr){ get_be(p, 8), get_be(p + 12, 8), (uint32_t)get_be(p + 8, 4), (int64_t)get_be(p + 20, 8) };
        return true;
    }
    return false;
}

/* ---- verification state ------------------------------------------------------------------ */

/* A byte per sequence, grown by its one writer thread. */
struct seqmap {
    uint8_t *b;
    uint64_t cap;
};

static bool seqmap_at(struct seqmap *m, uint64_t seq)
{
    if (seq < m->cap) return true;
    uint64_t cap = m->cap ? m->cap : 1024;
    while (cap <= seq) cap *= 2;
    uint8_t *b = realloc(m->b, cap);
    if (!b) return false;
    memset(b + m->cap, 0, cap - m->cap);
    m->b = b;
    m->cap = cap;
    return true;
}

static uint8_t seqmap_get(const struct seqmap *m, uint64_t seq) { return seq < m->cap ? m->b[seq] : 0; }

enum { ACK_OK = 1, ACK_FAILED = 2 };

/* What a consumer saw of one (run, producer) in one partition. */
struct vstream {
    uint64_t run;
    uint32_t producer;
    struct seqmap seen; /* times read, saturating at 255 */
    uint64_t top;       /* highest sequence read + 1 */
    uint64_t dup, reordered;
};

/* One partition's streams: written by the consumer that owns the partition. */
struct vpart {
    struct vstream *s;
    size_t n, cap;
    uint64_t records, no_header;
    bool oom;
};

static struct vstream *vpart_stream(struct vpart *vp, uint64_t run, uint32_t producer)
{
    for (size_t i = 0; i < vp->n; i++)
        if (vp->s[i].run == run && vp->s[i].producer == producer) return &vp->s[i];
    if (vp->n == vp->cap) {
        size_t cap = vp->cap ? vp->cap * 2 : 4;
        struct vstream *s = realloc(vp->s, cap * sizeof *s);
        if (!s) return NULL;
        vp->s = s;
        vp->cap = cap;
    }
    vp->s[vp->n] = (struct vstream){ .run = run, .producer = producer };
    return &vp->s[vp->n++];
}

static void vpart_see(struct vpart *vp, const struct bench_hdr *h)
{
    vp->records++;
    struct vstream *s = vpart_stream(vp, h->run, h->producer);
    if (!s || !seqmap_at(&s->seen, h->seq)) {
        vp->oom = true;
        return;
    }
    uint8_t *c = &s->seen.b[h->seq];
    if (*c) s->dup++;
    else if (h->seq + 1 < s->top) s->reordered++;
    if (*c < 255) (*c)++;
    if (h->seq + 1 > s->top) s->top = h->seq + 1;
}

static void vpart_free(struct vpart *vp)
{
    for (size_t i = 0; i < vp->n; i++) free(vp->s[i].seen.b);
    free(vp->s);
}

/* ---- the run ------------------------------------------------------------------------------- */

struct run;

struct prod {
    struct run *run;
    uint32_t id;
    pthread_t th;
    struct weir_producer *p;
    uint64_t quota;              /* counted records to send; UINT64_MAX: until the end time */
    uint64_t next;               /* records sent (warm-up included) */
    uint64_t *seq;               /* per partition: the next sequence (this producer's thread) */
    struct seqmap *acks;         /* per partition: ACK_* by sequence (its Sender thread) */
    struct weir_producer_stats st0;
    int64_t late_max_ns, done_ns;
    int rc;
};

struct cons {
    struct run *run;
    uint32_t id;
    pthread_t th;
    struct weir_consumer *c;
    int64_t *pos;                /* per partition: the next offset to read (owned partitions only) */
    int64_t first_ns, last_ns;   /* counted records' arrivals; 0: none */
    int rc;
};

/* Counters read by the reporter while the threads write them. */
struct counts {
    atomic_uint_fast64_t acked, acked_bytes, consumed, consumed_bytes;
};

struct run {
    const struct bench_args *a;
    int32_t parts;
    struct pool pool;
    uint64_t run_id;
    double *zipf_cdf;            /* KEYS_ZIPF: a->keys cumulative weights 1/k */
    int64_t wall_minus_mono;     /* wall clock - monotonic, ns, taken once */
    int64_t t0_ns, measure_ns, end_ns; /* monotonic: start, end of --warmup-seconds, --duration's end */
    double cpu0_s;               /* this process's CPU time at t0 */
    struct prod prods[THREADS_MAX];
    struct cons conss[THREADS_MAX];
    int n_prods, n_conss;
    atomic_int prods_running, conss_running;
    atomic_bool stop;            /* a thread failed: every one stops */
    /* Each record goes to one side: the warm-up's or the counted (results); progress shows both. */
    struct counts warm, n;
    struct weir_hist *ack_warm, *e2e_warm, *ack_hist, *e2e_hist; /* ns */
    atomic_uint_fast64_t errors;
    bool hdr;                    /* records carry the bench header (--verify, e2e) */
    atomic_int first_err;
    /* consume: records wanted in all (-1: until the end time); e2e: ends to drain to */
    int64_t want;
    atomic_int_fast64_t taken;
    int64_t *targets;            /* e2e: per partition, set before drain is */
    atomic_bool drain;
    struct vpart *vparts;        /* per partition */
    FILE *plot;                  /* DIR/bench.jsonl or NULL */
};

static void note_err(struct run *r, int err)
{
    int none = 0;
    atomic_compare_exchange_strong(&r->first_err, &none, err);
    atomic_fetch_add(&r->errors, 1);
}

/* ---- produce --------------------------------------------------------------------------------- */

struct dctx {
    struct prod *pr;
    int64_t due_ns;     /* monotonic */
    uint64_t seq;
    int32_t partition;
    bool counted;
};

/* On the producer's Sender thread. */
static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    struct dctx *x = opaque;
    struct prod *pr = x->pr;
    struct run *r = pr->run;
    if (d->err == 0) {
        struct counts *c = x->counted ? &r->n : &r->warm;
        weir_hist_record(x->counted ? r->ack_hist : r->ack_warm, weir_clock_ns() - x->due_ns);
        atomic_fetch_add_explicit(&c->acked, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->acked_bytes, r->pool.value_len, memory_order_relaxed);
    } else {
        note_err(r, d->err);
    }
    if (r->a->verify && seqmap_at(&pr->acks[x->partition], x->seq))
        pr->acks[x->partition].b[x->seq] = d->err ? ACK_FAILED : ACK_OK;
    free(x);
}

static uint64_t key_pick(struct run *r, uint64_t *rng)
{
    uint64_t k = r->a->keys;
    if (r->a->key_dist == KEYS_UNIFORM) return weir_xorshift(rng) % k;
    double u = (double)(weir_xorshift(rng) >> 11) / 9007199254740992.0 * r->zipf_cdf[k - 1];
    uint64_t lo = 0, hi = k - 1;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (r->zipf_cdf[mid] < u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Sends the producer's next record, due at due_ns (monotonic). 0 or a client error. */
static int send_next(struct prod *pr, int64_t due_ns, bool counted, uint64_t *rng)
{
    struct run *r = pr->run;
    const struct bench_args *a = r->a;
    char key[24];
    size_t key_len = 0;
    int32_t part = (int32_t)((pr->next + pr->id) % (uint64_t)r->parts);
    if (a->key_dist != KEYS_NONE) {
        key_len = (size_t)snprintf(key, sizeof key, "k%08" PRIu64, key_pick(r, rng));
        part = weir_partition_for_key(key, key_len, r->parts);
    }
    struct dctx *x = malloc(sizeof *x);
    if (!x) return WEIR_CLIENT_E_NOMEM;
    *x = (struct dctx){ pr, due_ns, pr->seq[part], part, counted };
    uint8_t hv[HDR_BYTES];
    int64_t due_wall = due_ns + r->wall_minus_mono;
    if (r->hdr) hdr_encode(&(struct bench_hdr){ r->run_id, x->seq, pr->id, due_wall }, hv);
    struct weir_msg_header h = { HDR_KEY, sizeof HDR_KEY - 1, hv, sizeof hv };
    struct weir_msg m = { .topic = a->topic, .partition = part, .key = key_len ? key : NULL, .key_len = key_len,
                          .value = pool_value(&r->pool, pr->next), .value_len = r->pool.value_len,
                          .headers = r->hdr ? &h : NULL, .headers_count = r->hdr, .timestamp_ms = due_wall / 1000000,
                          .on_delivery = on_delivery, .opaque = x };
    int err = weir_producer_send(pr->p, &m);
    if (err) {
        free(x);
        return err;
    }
    pr->seq[part]++;
    pr->next++;
    return 0;
}

/* The timed section of one producer thread. */
static void *produce_main(void *arg)
{
    struct prod *pr = arg;
    struct run *r = pr->run;
    const struct bench_args *a = r->a;
    uint64_t rng = 0x2545f4914f6cdd1dull + pr->id, counted = 0;
    double period = a->rate ? 1e9 * (double)r->n_prods / (double)a->rate : 0;
    int64_t phase = a->rate ? (int64_t)(period * pr->id / r->n_prods) : 0;
    for (uint64_t i = 0; !atomic_load_explicit(&r->stop, memory_order_relaxed); i++) {
        int64_t due = weir_clock_ns();
        if (a->rate) {
            int64_t at = r->t0_ns + phase + (int64_t)((double)i * period);
            if (at >= r->end_ns) break;
            if (at > due) weir_sleep_until_ns(at);
            else if (due - at > pr->late_max_ns) pr->late_max_ns = due - at;
            due = at;
        } else if (due >= r->end_ns) {
            break;
        }
        bool count = due >= r->measure_ns;
        if (count && counted == pr->quota) break;
        int err = send_next(pr, due, count, &rng);
        if (err) {
            cli_fail("bench: producer %" PRIu32 ": record not sent: %s", pr->id, weir_client_err_text(err));
            pr->rc = CLI_EXIT_FAILED;
            atomic_store(&r->stop, true);
            break;
        }
        counted += count;
    }
    if (weir_producer_flush(pr->p, -1) != 0 && !pr->rc) {
        cli_fail("bench: producer %" PRIu32 ": flush failed", pr->id);
        pr->rc = CLI_EXIT_FAILED;
    }
    pr->done_ns = weir_clock_ns();
    atomic_fetch_sub(&r->prods_running, 1);
    return NULL;
}

/* Creates the producers and sends their warm-up records (flushed). 0 or the exit code. */
static int producers_start(struct run *r)
{
    const struct bench_args *a = r->a;
    struct weir_conf *conf = weir_conf_new();
    char why[512];
    if (!conf || !producer_conf(a, conf, why, sizeof why)) {
        weir_conf_destroy(conf);
        return cli_fail("bench: out of memory");
    }
    int rc = 0;
    uint64_t warm = a->warmup >= 0 ? (uint64_t)a->warmup : (uint64_t)r->parts, rng = 1;
    for (int j = 0; j < r->n_prods && !rc; j++) {
        struct prod *pr = &r->prods[j];
        pr->seq = calloc((size_t)r->parts, sizeof *pr->seq);
        pr->acks = calloc((size_t)r->parts, sizeof *pr->acks);
        if (!pr->seq || !pr->acks) rc = cli_fail("bench: out of memory");
        else if (!(pr->p = weir_producer_new(conf, why, sizeof why))) rc = cli_fail("bench: %s", why);
        for (uint64_t i = 0; !rc && i < warm; i++) {
            int err = send_next(pr, weir_clock_ns(), false, &rng);
            if (err) rc = cli_fail("bench: warm-up record not sent: %s", weir_client_err_text(err));
        }
        if (!rc && weir_producer_flush(pr->p, -1) != 0) rc = cli_fail("bench: warm-up flush failed");
        if (!rc && atomic_load(&r->errors))
            rc = cli_fail("bench: warm-up failed: %s", weir_client_err_text(atomic_load(&r->first_err)));
        if (!rc) weir_producer_stats(pr->p, &pr->st0);
    }
    weir_conf_destroy(conf);
    return rc;
}

/* ---- consume ----------------------------------------------------------------------------------- */

static bool cons_owns(const struct run *r, const struct cons *cs, int32_t p) { return p % r->n_conss == (int32_t)cs->id; }

static void consumed_one(struct cons *cs, const struct weir_consumer_record *rec, int64_t now)
{
    struct run *r = cs->run;
    if (rec->partition < 0 || rec->partition >= r->parts) return;
    cs->pos[rec->partition] = rec->offset + 1;
    struct bench_hdr h;
    bool has = hdr_find(rec, &h), ours = has && h.run == r->run_id;
    int64_t measure_wall = r->measure_ns + r->wall_minus_mono;
    /* e2e counts the records the producers counted; consume, those after the warm-up */
    bool counted = r->a->mode == MODE_E2E ? ours && h.due_wall_ns >= measure_wall : now >= r->measure_ns;
    struct counts *c = counted ? &r->n : &r->warm;
    atomic_fetch_add_explicit(&c->consumed, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->consumed_bytes, rec->value_len, memory_order_relaxed);
    if (counted) {
        if (!cs->first_ns) cs->first_ns = now;
        cs->last_ns = now;
    }
    if (ours && r->a->mode == MODE_E2E)
        weir_hist_record(counted ? r->e2e_hist : r->e2e_warm, now + r->wall_minus_mono - h.due_wall_ns);
    if (!r->a->verify) return;
    if (has) vpart_see(&r->vparts[rec->partition], &h);
    else r->vparts[rec->partition].records++, r->vparts[rec->partition].no_header++;
}

/* e2e, draining: every owned partition is read up to its end. */
static bool cons_drained(const struct cons *cs)
{
    const struct run *r = cs->run;
    for (int32_t p = 0; p < r->parts; p++)
        if (cons_owns(r, cs, p) && cs->pos[p] < r->targets[p]) return false;
    return true;
}

/* 0 to go on, 1 when done, else the exit code. */
static int cons_check(struct cons *cs, int64_t now, int64_t *drain_deadline, int64_t last_rec)
{
    struct run *r = cs->run;
    if (atomic_load(&r->stop)) return 1;
    if (r->a->mode == MODE_E2E) {
        if (!atomic_load(&r->drain)) return 0;
        if (!*drain_deadline) *drain_deadline = now + (int64_t)DRAIN_MS * 1000000;
        if (cons_drained(cs)) return 1;
        if (now < *drain_deadline) return 0;
        if (r->a->verify) return 1; /* what is missing is reported as lost */
        return cli_fail("bench: consumer %" PRIu32 ": the partitions' ends not reached %d s after the producers",
                        cs->id, DRAIN_MS / 1000);
    }
    if (r->want >= 0 && atomic_load(&r->taken) >= r->want) return 1;
    if (now >= r->end_ns) return 1;
    if (now - last_rec > (int64_t)STALL_MS * 1000000 && r->want >= 0)
        return cli_fail("bench: consume stalled at record %" PRId64 " of %" PRId64, (int64_t)atomic_load(&r->taken),
                        r->want);
    return 0;
}

static void *consume_main(void *arg)
{
    struct cons *cs = arg;
    struct run *r = cs->run;
    int64_t drain_deadline = 0, last_rec = weir_clock_ns();
    for (;;) {
        int64_t now = weir_clock_ns();
        int st = cons_check(cs, now, &drain_deadline, last_rec);
        if (st) {
            if (st > 1) cs->rc = st, atomic_store(&r->stop, true);
            break;
        }
        struct weir_consumer_record *rec = weir_consumer_poll(cs->c, 100);
        if (!rec) continue;
        now = weir_clock_ns();
        if (rec->event == WEIR_EVENT_RECORD) {
            last_rec = now;
            if (r->want < 0 || atomic_fetch_add(&r->taken, 1) < r->want) consumed_one(cs, rec, now);
        } else if (rec->event == WEIR_EVENT_ERROR) {
            cs->rc = cli_fail("bench: consumer %" PRIu32 ": %s", cs->id, rec->errstr);
            atomic_store(&r->stop, true);
        }
        weir_consumer_record_release(rec);
    }
    atomic_fetch_sub(&r->conss_running, 1);
    return NULL;
}

/* Creates the consumers and assigns each its partitions from starts[p]. 0 or the exit code. */
static int consumers_start(struct run *r, const int64_t *starts)
{
    const struct bench_args *a = r->a;
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    struct weir_partition_start *ps = calloc((size_t)r->parts, sizeof *ps);
    char why[512];
    int rc = 0;
    if (!cc || !ps) rc = cli_fail("bench: out of memory");
    else if (!consumer_conf(a, cc, why, sizeof why)) rc = cli_usage("bench: %s", why);
    for (int c = 0; c < r->n_conss && !rc; c++) {
        struct cons *cs = &r->conss[c];
        size_t n = 0;
        cs->pos = calloc((size_t)r->parts, sizeof *cs->pos);
        if (!cs->pos) rc = cli_fail("bench: out of memory");
        else if (!(cs->c = weir_consumer_new(cc, why, sizeof why))) rc = cli_fail("bench: %s", why);
        for (int32_t p = 0; !rc && p < r->parts; p++) {
            if (!cons_owns(r, cs, p)) continue;
            ps[n++] = (struct weir_partition_start){ a->topic, p, starts ? starts[p] : WEIR_OFFSET_BEGINNING, 0 };
            cs->pos[p] = starts ? starts[p] : 0;
        }
        if (!rc && weir_consumer_assign(cs->c, ps, n) != 0) rc = cli_fail("bench: assign failed");
    }
    weir_consumer_conf_destroy(cc);
    free(ps);
    return rc;
}

/* ---- the topic ------------------------------------------------------------------------ */

/* Creates the topic (a->partitions, default 1) when it does not exist and the
 * mode produces, else checks that it has a->partitions; sets *parts. 0 or the exit code. */
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
    } else if (a->mode == MODE_CONSUME) {
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

/* Every partition's offset `which` (WEIR_OFFSET_BEGINNING or _END) into out[parts]. 0 or the exit code. */
static int topic_offsets(const struct bench_args *a, int32_t parts, int64_t which, int64_t *out)
{
    struct weir_admin *adm = cli_admin("bench", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    int rc = 0;
    for (int32_t i = 0; rc == 0 && i < parts; i++)
        if (weir_admin_list_offset(adm, a->topic, i, which, &out[i]) != 0)
            rc = cli_fail("bench: partition %" PRId32 ": %s", i, weir_admin_error(adm));
    weir_admin_destroy(adm);
    return rc;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* One JSON line: to stdout with --json, to the plot file with --plot. */
static void emit_json(struct run *r, const char *line)
{
    if (r->a->json) fputs(line, stdout), fflush(stdout);
    if (r->plot) fputs(line, r->plot);
}

static double us_at(const struct weir_hist *h, double q)
{
    int64_t v = weir_hist_value_at(h, q);
    return v < 0 ? -1 : (double)v / 1e3;
}

/* ,"<name>_p50_us":..,"<name>_p99_us":.. and more, of h. */
static void json_lat(FILE *m, const char *name, const struct weir_hist *h, bool full)
{
    fprintf(m, ",\"%s_p50_us\":%.0f,\"%s_p99_us\":%.0f", name, us_at(h, 0.5), name, us_at(h, 0.99));
    if (!full) {
        fprintf(m, ",\"%s_max_us\":%.0f", name, us_at(h, 1));
        return;
    }
    static const double curve[] = { 0,    10,   20,   30,   40,   50,    60,    70,     75,     80,    90,
                                    95,   97.5, 99,   99.5, 99.9, 99.95, 99.99, 99.995, 99.999, 100 };
    fprintf(m, ",\"%s_p999_us\":%.0f,\"%s_p9999_us\":%.0f,\"%s_max_us\":%.0f,\"%s_mean_us\":%.1f,\"%s_curve\":[", name,
            us_at(h, 0.999), name, us_at(h, 0.9999), name, us_at(h, 1), name,
            weir_hist_mean(h) < 0 ? -1 : weir_hist_mean(h) / 1e3, name);
    for (size_t i = 0; i < sizeof curve / sizeof curve[0]; i++)
        fprintf(m, "%s[%g,%.1f]", i ? "," : "", curve[i], us_at(h, curve[i] / 100));
    fputc(']', m);
}

struct snap {
    uint64_t acked, acked_bytes, errors, consumed, consumed_bytes;
    struct weir_hist *ack, *e2e;
    int64_t t;
};

static void snap_take(struct run *r, struct snap *s)
{
    s->t = weir_clock_ns();
    s->acked = atomic_load(&r->warm.acked) + atomic_load(&r->n.acked);
    s->acked_bytes = atomic_load(&r->warm.acked_bytes) + atomic_load(&r->n.acked_bytes);
    s->errors = atomic_load(&r->errors);
    s->consumed = atomic_load(&r->warm.consumed) + atomic_load(&r->n.consumed);
    s->consumed_bytes = atomic_load(&r->warm.consumed_bytes) + atomic_load(&r->n.consumed_bytes);
    weir_hist_copy(s->ack, r->ack_warm);
    weir_hist_merge(s->ack, r->ack_hist);
    weir_hist_copy(s->e2e, r->e2e_warm);
    weir_hist_merge(s->e2e, r->e2e_hist);
}

/* One progress line on stderr (and JSON) for the interval from prev to cur; d: scratch. */
static void progress_print(struct run *r, const struct snap *prev, const struct snap *cur, struct weir_hist *d)
{
    const struct bench_args *a = r->a;
    double dt = (double)(cur->t - prev->t) / 1e9, ts = (double)(cur->t - r->t0_ns) / 1e9;
    bool warm = prev->t < r->measure_ns; /* the interval began in the warm-up */
    double pr = (double)(cur->acked - prev->acked) / dt, pmb = (double)(cur->acked_bytes - prev->acked_bytes) / 1e6 / dt;
    double cr = (double)(cur->consumed - prev->consumed) / dt;
    double cmb = (double)(cur->consumed_bytes - prev->consumed_bytes) / 1e6 / dt;
    char *line = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&line, &len);
    if (!m) return;
    fprintf(m, "{\"type\":\"progress\",\"mode\":\"%s\",\"t_s\":%.3f,\"warmup\":%s,\"errors\":%" PRIu64, MODE_NAMES[a->mode],
            ts, warm ? "true" : "false", cur->errors);
    fprintf(stderr, "bench: %6.1f s%s", ts, warm ? " warm-up" : "");
    if (a->mode != MODE_CONSUME) {
        weir_hist_diff(d, cur->ack, prev->ack);
        fprintf(m, ",\"produced_records_s\":%.0f,\"produced_mb_s\":%.2f", pr, pmb);
        json_lat(m, "ack", d, false);
        fprintf(stderr, " | produce %.0f records/s %.2f MB/s, ack p50 %.2f ms p99 %.2f ms", pr, pmb,
                us_at(d, 0.5) / 1e3, us_at(d, 0.99) / 1e3);
    }
    if (a->mode != MODE_PRODUCE) {
        fprintf(m, ",\"consumed_records_s\":%.0f,\"consumed_mb_s\":%.2f", cr, cmb);
        fprintf(stderr, " | consume %.0f records/s %.2f MB/s", cr, cmb);
    }
    if (a->mode == MODE_E2E) {
        weir_hist_diff(d, cur->e2e, prev->e2e);
        json_lat(m, "e2e", d, false);
        fprintf(stderr, ", e2e p50 %.2f ms p99 %.2f ms", us_at(d, 0.5) / 1e3, us_at(d, 0.99) / 1e3);
    }
    fprintf(stderr, " | errors %" PRIu64 "\n", cur->errors);
    fputs("}\n", m);
    fclose(m);
    emit_json(r, line);
    free(line);
}

/* ---- the verdict ------------------------------------------------------------------------------- */

struct vres {
    uint64_t records, lost, dup, reordered, failed_absent, failed_present, no_header, foreign;
};

/* consume: a gap below a stream's highest sequence is lost. */
static void verify_gaps(const struct vstream *s, struct vres *v)
{
    for (uint64_t q = 0; q < s->top; q++) v->lost += seqmap_get(&s->seen, q) == 0;
}

/* e2e: this run's producers' sequences of partition p against what was read. */
static void verify_sent(const struct run *r, const struct vpart *vp, int32_t p, struct vres *v)
{
    for (int j = 0; j < r->n_prods; j++) {
        const struct prod *pr = &r->prods[j];
        const struct vstream *s = NULL;
        for (size_t i = 0; i < vp->n; i++)
            if (vp->s[i].run == r->run_id && vp->s[i].producer == pr->id) s = &vp->s[i];
        for (uint64_t q = 0; q < pr->seq[p]; q++) {
            bool seen = s && seqmap_get(&s->seen, q) > 0;
            uint8_t st = seqmap_get(&pr->acks[p], q);
            v->lost += st == ACK_OK && !seen;
            v->failed_absent += st != ACK_OK && !seen;
            v->failed_present += st != ACK_OK && seen;
        }
    }
}

static void verify_partition(const struct run *r, int32_t p, struct vres *v)
{
    const struct vpart *vp = &r->vparts[p];
    *v = (struct vres){ .records = vp->records, .no_header = vp->no_header };
    for (size_t i = 0; i < vp->n; i++) {
        const struct vstream *s = &vp->s[i];
        v->dup += s->dup;
        v->reordered += s->reordered;
        if (r->a->mode == MODE_CONSUME) verify_gaps(s, v);
        else if (s->run != r->run_id) v->foreign++;
    }
    if (r->a->mode == MODE_E2E) verify_sent(r, vp, p, v);
}

static void vres_add(struct vres *t, const struct vres *v)
{
    t->records += v->records, t->lost += v->lost, t->dup += v->dup, t->reordered += v->reordered;
    t->failed_absent += v->failed_absent, t->failed_present += v->failed_present;
    t->no_header += v->no_header, t->foreign += v->foreign;
}

/* Prints the verdict (text on stdout, or into the JSON line m); true when clean. */
static bool verify_report(const struct run *r, FILE *m, bool *oom)
{
    struct vres t = { 0 };
    if (m) fputs(",\"verify\":{\"partitions\":[", m);
    for (int32_t p = 0; p < r->parts; p++) {
        struct vres v;
        verify_partition(r, p, &v);
        vres_add(&t, &v);
        *oom |= r->vparts[p].oom;
        if (m)
            fprintf(m, "%s{\"partition\":%" PRId32 ",\"records\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64
                       ",\"reordered\":%" PRIu64 "}",
                    p ? "," : "", p, v.records, v.lost, v.dup, v.reordered);
        else if (v.lost || v.dup || v.reordered)
            printf("verify: partition %" PRId32 ": %" PRIu64 " records read, %" PRIu64 " lost, %" PRIu64
                   " duplicated, %" PRIu64 " reordered\n",
                   p, v.records, v.lost, v.dup, v.reordered);
    }
    if (m)
        fprintf(m, "],\"records\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64 ",\"reordered\":%" PRIu64
                   ",\"failed_absent\":%" PRIu64 ",\"failed_present\":%" PRIu64 ",\"no_header\":%" PRIu64 "}",
                t.records, t.lost, t.dup, t.reordered, t.failed_absent, t.failed_present, t.no_header);
    else
        printf("verify: %" PRId32 " partitions, %" PRIu64 " records read: %" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64
               " reordered; failed deliveries %" PRIu64 " absent, %" PRIu64 " present; %" PRIu64 " without a bench header\n",
               r->parts, t.records, t.lost, t.dup, t.reordered, t.failed_absent, t.failed_present, t.no_header);
    return !t.lost && !t.dup && !t.reordered;
}

/* ---- the summary ------------------------------------------------------------------------------- */

struct totals {
    double p_elapsed_s, c_elapsed_s, cpu_s, first_ms;
    int64_t late_max_ns;
    struct weir_producer_stats st;
    char batch[32], linger[32], acks[16], codec[16], crcs[16];
};

static void produce_text(const struct run *r, const struct totals *t)
{
    const struct bench_args *a = r->a;
    uint64_t n = atomic_load(&r->n.acked);
    double s = t->p_elapsed_s > 0 ? t->p_elapsed_s : 1e-9;
    printf("produce %" PRIu64 " records of %zu bytes to %s (%" PRId32 " partitions, %d producers, acks=%s, %s, "
           "batch.size %s, linger.ms %s, keys %s%s): %.0f records/s, %.1f MB/s, %.2f s\n",
           n, r->pool.value_len, a->topic, r->parts, r->n_prods, t->acks, t->codec, t->batch, t->linger,
           KEY_DIST_NAMES[a->key_dist], a->rate ? ", rate-limited" : "", (double)n / s,
           (double)atomic_load(&r->n.acked_bytes) / 1e6 / s, t->p_elapsed_s);
    printf("delivery latency%s: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, p99.99 %.0f us, max %.0f us; "
           "client CPU %.2f cores; errors %" PRIu64 "\n",
           a->rate ? " (from the due time)" : "", us_at(r->ack_hist, 0.5), us_at(r->ack_hist, 0.99),
           us_at(r->ack_hist, 0.999), us_at(r->ack_hist, 0.9999), us_at(r->ack_hist, 1), t->cpu_s / s,
           (uint64_t)atomic_load(&r->errors));
}

static void consume_text(const struct run *r, const struct totals *t)
{
    uint64_t n = atomic_load(&r->n.consumed), bytes = atomic_load(&r->n.consumed_bytes);
    double s = t->c_elapsed_s > 0 ? t->c_elapsed_s : 1e-9;
    printf("consume %" PRIu64 " records (%" PRIu64 " value bytes) from %s (%" PRId32 " partitions, %d consumers): "
           "%.0f records/s, %.1f MB/s, %.2f s; client CPU %.2f cores\n",
           n, bytes, r->a->topic, r->parts, r->n_conss, (double)n / s, (double)bytes / 1e6 / s, t->c_elapsed_s,
           t->cpu_s / s);
    if (r->a->mode == MODE_E2E)
        printf("end-to-end latency%s: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, p99.99 %.0f us, max %.0f us\n",
               r->a->rate ? " (from the due time)" : "", us_at(r->e2e_hist, 0.5), us_at(r->e2e_hist, 0.99),
               us_at(r->e2e_hist, 0.999), us_at(r->e2e_hist, 0.9999), us_at(r->e2e_hist, 1));
}

static void produce_json(const struct run *r, const struct totals *t, FILE *m)
{
    const struct bench_args *a = r->a;
    uint64_t n = atomic_load(&r->n.acked);
    double s = t->p_elapsed_s > 0 ? t->p_elapsed_s : 1e-9;
    uint64_t warm = (uint64_t)(a->warmup >= 0 ? a->warmup : r->parts) * (uint64_t)r->n_prods;
    fprintf(m, ",\"records\":%" PRIu64 ",\"warmup_records\":%" PRIu64 ",\"warmup_s\":%" PRId64 ",\"duration_s\":%" PRId64
               ",\"producers\":%d,\"value_bytes\":%zu,\"key_dist\":\"%s\",\"keys\":%" PRId64 ",\"batch_size\":%s,"
               "\"linger_ms\":%s,\"acks\":\"%s\",\"compression\":\"%s\",\"idempotence\":%s,\"rate\":%" PRId64
               ",\"co_corrected\":%s,\"elapsed_s\":%.6f,\"records_s\":%.0f,\"mb_s\":%.2f",
            n, warm, a->warmup_s, a->duration_s, r->n_prods, r->pool.value_len, KEY_DIST_NAMES[a->key_dist],
            a->key_dist == KEYS_NONE ? 0 : a->keys, t->batch, t->linger, t->acks, t->codec,
            t->st.pid_inits ? "true" : "false", a->rate, a->rate ? "true" : "false", t->p_elapsed_s, (double)n / s,
            (double)atomic_load(&r->n.acked_bytes) / 1e6 / s);
    json_lat(m, "lat", r->ack_hist, true);
    fprintf(m, ",\"send_late_max_us\":%.0f,\"errors\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"batches\":%" PRIu64
               ",\"records_per_batch\":%.1f,\"batches_retried\":%" PRIu64 ",\"disconnects\":%" PRIu64
               ",\"payload_hash\":\"%016" PRIx64 "\"",
            (double)t->late_max_ns / 1e3, (uint64_t)atomic_load(&r->errors), t->st.requests_sent,
            t->st.batches_sent, t->st.batches_sent ? (double)n / (double)t->st.batches_sent : 0.0,
            t->st.batches_retried, t->st.disconnects, r->pool.hash);
}

static void consume_json(const struct run *r, const struct totals *t, FILE *m)
{
    uint64_t n = atomic_load(&r->n.consumed), bytes = atomic_load(&r->n.consumed_bytes);
    double s = t->c_elapsed_s > 0 ? t->c_elapsed_s : 1e-9;
    const char *pre = r->a->mode == MODE_E2E ? "consumed_" : "";
    fprintf(m, ",\"consumers\":%d,\"%srecords\":%" PRIu64 ",\"%sbytes\":%" PRIu64 ",\"check_crcs\":%s,\"%selapsed_s\":%.4f,"
               "\"%srecords_s\":%.0f,\"%smb_s\":%.2f,\"first_record_ms\":%.1f",
            r->n_conss, pre, n, pre, bytes, t->crcs, pre, t->c_elapsed_s, pre, (double)n / s, pre,
            (double)bytes / 1e6 / s, t->first_ms);
    if (r->a->mode == MODE_E2E) json_lat(m, "e2e", r->e2e_hist, true);
}

/* The summary line or lines; returns the exit code. */
static int summary_print(struct run *r, const struct totals *t)
{
    const struct bench_args *a = r->a;
    bool clean = true, oom = false;
    char *line = NULL;
    size_t len = 0;
    FILE *m = a->json || r->plot ? open_memstream(&line, &len) : NULL;
    if (m) {
        fprintf(m, "{\"bench\":\"%s\",\"type\":\"summary\",\"client\":\"weir\",\"client_version\":\"%s\",\"topic\":\"%s\","
                   "\"partitions\":%" PRId32,
                MODE_NAMES[a->mode], WEIR_CLIENT_VERSION, a->topic, r->parts);
        if (a->mode != MODE_CONSUME) produce_json(r, t, m);
        if (a->mode != MODE_PRODUCE) consume_json(r, t, m);
        double s = a->mode == MODE_CONSUME ? t->c_elapsed_s : t->p_elapsed_s;
        fprintf(m, ",\"cpu_s\":%.3f,\"cpu_cores\":%.3f", t->cpu_s, t->cpu_s / (s > 0 ? s : 1e-9));
        if (a->verify && a->mode != MODE_PRODUCE) clean = verify_report(r, m, &oom);
        fputs("}\n", m);
        fclose(m);
        emit_json(r, line ? line : "");
        free(line);
    }
    if (!a->json) {
        if (a->mode != MODE_CONSUME) produce_text(r, t);
        if (a->mode != MODE_PRODUCE) consume_text(r, t);
        if (a->verify && a->mode != MODE_PRODUCE) clean = verify_report(r, NULL, &oom);
        if (a->verify && a->mode == MODE_PRODUCE) printf("verify: sequences written; read them with 'weir bench consume --verify'\n");
    }
    uint64_t errs = atomic_load(&r->errors);
    if (oom) return cli_fail("bench: verify: out of memory, the verdict is incomplete");
    if (!clean) {
        fflush(stdout);
        cli_warn("bench: verify found lost, duplicated or reordered records");
        return BENCH_EXIT_VERIFY;
    }
    if (errs)
        return cli_fail("bench: %" PRIu64 " records failed: %s", errs, weir_client_err_text(atomic_load(&r->first_err)));
    return 0;
}

/* ---- charts ----------------------------------------------------------------------------------- */

#ifndef WEIR_BENCH_PLOT_SCRIPT
#define WEIR_BENCH_PLOT_SCRIPT "scripts/bench_plot.py"
#endif

/* Opens DIR/bench.jsonl (DIR made when missing). 0 or the exit code. */
static int plot_open(struct run *r)
{
    const char *dir = r->a->plot_dir;
    char path[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return cli_fail("bench: --plot: %s: %s", dir, strerror(errno));
    if (snprintf(path, sizeof path, "%s/bench.jsonl", dir) >= (int)sizeof path) return cli_fail("bench: --plot: path too long");
    r->plot = fopen(path, "w");
    if (!r->plot) return cli_fail("bench: --plot: %s: %s", path, strerror(errno));
    return 0;
}

/* Runs /usr/bin/python3 (else python3 on PATH) <script> DIR/bench.jsonl DIR; its output goes to stderr. 0 or the exit code. */
static int plot_render(struct run *r)
{
    const char *dir = r->a->plot_dir, *script = getenv("WEIR_BENCH_PLOT");
    if (!script || !*script) script = WEIR_BENCH_PLOT_SCRIPT;
    if (fclose(r->plot) != 0) return r->plot = NULL, cli_fail("bench: --plot: writing %s/bench.jsonl failed", dir);
    r->plot = NULL;
    char jsonl[4096];
    snprintf(jsonl, sizeof jsonl, "%s/bench.jsonl", dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return cli_fail("bench: --plot: fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(2, 1);
        execl("/usr/bin/python3", "python3", script, jsonl, dir, (char *)NULL); /* Debian's, with matplotlib */
        execlp("python3", "python3", script, jsonl, dir, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cli_fail("bench: --plot: %s failed (status %d; it needs python3-matplotlib)", script,
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

/* ---- the run -------------------------------------------------------------------------------- */

static int run_init(struct run *r, const struct bench_args *a, int32_t parts)
{
    r->a = a;
    r->parts = parts;
    r->n_prods = a->mode == MODE_CONSUME ? 0 : (int)a->producers;
    r->n_conss = a->mode == MODE_PRODUCE ? 0 : (int)a->consumers;
    if (r->n_conss > parts)
        return cli_usage("bench: --consumers %d is more than the topic's %" PRId32 " partitions", r->n_conss, parts);
    r->run_id = (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 40);
    r->wall_minus_mono = wall_ns() - weir_clock_ns();
    r->t0_ns = r->measure_ns = r->end_ns = INT64_MAX;
    r->want = -1;
    for (int i = 0; i < THREADS_MAX; i++) r->prods[i] = (struct prod){ .run = r, .id = (uint32_t)i };
    for (int i = 0; i < THREADS_MAX; i++) r->conss[i] = (struct cons){ .run = r, .id = (uint32_t)i };
    r->hdr = a->verify || a->mode == MODE_E2E;
    r->ack_warm = weir_hist_new(), r->ack_hist = weir_hist_new();
    r->e2e_warm = weir_hist_new(), r->e2e_hist = weir_hist_new();
    if (!r->ack_warm || !r->ack_hist || !r->e2e_warm || !r->e2e_hist || !pool_make(&r->pool, (size_t)a->value_bytes))
        return cli_fail("bench: out of memory");
    if (a->verify && !(r->vparts = calloc((size_t)parts, sizeof *r->vparts))) return cli_fail("bench: out of memory");
    if (a->key_dist == KEYS_ZIPF) {
        if (!(r->zipf_cdf = malloc((size_t)a->keys * sizeof *r->zipf_cdf))) return cli_fail("bench: out of memory");
        double acc = 0;
        for (int64_t k = 0; k < a->keys; k++) r->zipf_cdf[k] = acc += 1.0 / (double)(k + 1);
    }
    return a->plot_dir ? plot_open(r) : 0;
}

static void run_free(struct run *r)
{
    for (int j = 0; j < r->n_prods; j++) {
        weir_producer_destroy(r->prods[j].p); /* waits for every callback */
        for (int32_t p = 0; r->prods[j].acks && p < r->parts; p++) free(r->prods[j].acks[p].b);
        free(r->prods[j].acks);
        free(r->prods[j].seq);
    }
    for (int c = 0; c < r->n_conss; c++) {
        weir_consumer_destroy(r->conss[c].c);
        free(r->conss[c].pos);
    }
    for (int32_t p = 0; r->vparts && p < r->parts; p++) vpart_free(&r->vparts[p]);
    free(r->vparts);
    free(r->targets);
    free(r->zipf_cdf);
    free(r->pool.buf);
    free(r->ack_warm), free(r->ack_hist), free(r->e2e_warm), free(r->e2e_hist);
    if (r->plot) fclose(r->plot);
}

/* consume: how many records to read (r->want). 0 or the exit code. */
static int consume_want(struct run *r)
{
    const struct bench_args *a = r->a;
    int64_t *b = calloc((size_t)r->parts, sizeof *b), *e = calloc((size_t)r->parts, sizeof *e), avail = 0;
    int rc = !b || !e ? cli_fail("bench: out of memory") : topic_offsets(a, r->parts, WEIR_OFFSET_BEGINNING, b);
    if (!rc) rc = topic_offsets(a, r->parts, WEIR_OFFSET_END, e);
    for (int32_t p = 0; !rc && p < r->parts; p++) avail += e[p] - b[p];
    free(b);
    free(e);
    if (rc) return rc;
    r->want = a->records > 0 ? a->records : a->duration_s ? -1 : avail;
    if (!a->duration_s && r->want > avail)
        return cli_fail("bench: topic '%s' has %" PRId64 " records, fewer than --records %" PRId64, a->topic, avail,
                        r->want);
    return 0;
}

/* The clock: t0 now, then --warmup-seconds, then --duration. */
static void run_clock(struct run *r)
{
    const struct bench_args *a = r->a;
    r->t0_ns = weir_clock_ns();
    r->cpu0_s = weir_self_cpu_s();
    r->measure_ns = r->t0_ns + a->warmup_s * 1000000000;
    r->end_ns = a->duration_s ? r->measure_ns + a->duration_s * 1000000000 : INT64_MAX;
    int64_t n = a->records > 0 ? a->records : a->duration_s ? -1 : 1000000;
    for (int j = 0; j < r->n_prods; j++)
        r->prods[j].quota = n < 0 ? UINT64_MAX : (uint64_t)(n / r->n_prods + (j < n % r->n_prods));
}

/* Sets up clients and the clock. 0 or the exit code. */
static int run_prepare(struct run *r)
{
    const struct bench_args *a = r->a;
    int rc = 0;
    if (a->mode == MODE_CONSUME) {
        rc = consume_want(r);
        if (!rc) run_clock(r), rc = consumers_start(r, NULL);
        return rc;
    }
    if (a->mode == MODE_E2E) {
        int64_t *ends = calloc((size_t)r->parts, sizeof *ends);
        rc = ends ? topic_offsets(a, r->parts, WEIR_OFFSET_END, ends) : cli_fail("bench: out of memory");
        if (!rc) rc = consumers_start(r, ends);
        free(ends);
    }
    if (!rc) rc = producers_start(r);
    if (!rc) run_clock(r);
    return rc;
}

/* e2e, once the producers are done: each partition's end, then the consumers drain to it. */
static int run_drain(struct run *r)
{
    if (!(r->targets = calloc((size_t)r->parts, sizeof *r->targets))) return cli_fail("bench: out of memory");
    int rc = topic_offsets(r->a, r->parts, WEIR_OFFSET_END, r->targets);
    if (rc) atomic_store(&r->stop, true);
    atomic_store(&r->drain, true);
    return rc;
}

/* Reports progress until every thread is done. 0 or the exit code. */
static int run_watch(struct run *r)
{
    const struct bench_args *a = r->a;
    struct snap s[2] = { { .ack = weir_hist_new(), .e2e = weir_hist_new() }, { .ack = weir_hist_new(), .e2e = weir_hist_new() } };
    struct weir_hist *d = weir_hist_new();
    int rc = 0, cur = 0;
    if (!s[0].ack || !s[0].e2e || !s[1].ack || !s[1].e2e || !d) {
        atomic_store(&r->stop, true);
        rc = cli_fail("bench: out of memory");
    }
    if (!rc) snap_take(r, &s[0]);
    int64_t next = r->t0_ns + a->interval_s * 1000000000;
    while (atomic_load(&r->prods_running) || atomic_load(&r->conss_running)) {
        struct timespec ts = { 0, 20000000 };
        nanosleep(&ts, NULL);
        if (a->mode == MODE_E2E && !atomic_load(&r->drain) && !atomic_load(&r->prods_running)) rc = run_drain(r);
        if (!a->interval_s || rc || weir_clock_ns() < next) continue;
        snap_take(r, &s[!cur]);
        progress_print(r, &s[cur], &s[!cur], d);
        cur = !cur;
        next += a->interval_s * 1000000000;
    }
    for (int i = 0; i < 2; i++) free(s[i].ack), free(s[i].e2e);
    free(d);
    return rc;
}

static int run_threads(struct run *r)
{
    int rc = 0, nc = 0, np = 0;
    atomic_store(&r->conss_running, r->n_conss);
    atomic_store(&r->prods_running, r->n_prods);
    for (; nc < r->n_conss && !rc; nc += !rc)
        if (pthread_create(&r->conss[nc].th, NULL, consume_main, &r->conss[nc]) != 0) rc = cli_fail("bench: no thread");
    for (; np < r->n_prods && !rc; np += !rc)
        if (pthread_create(&r->prods[np].th, NULL, produce_main, &r->prods[np]) != 0) rc = cli_fail("bench: no thread");
    if (rc) { /* the ones not started count as done */
        atomic_store(&r->stop, true);
        atomic_fetch_sub(&r->conss_running, r->n_conss - nc);
        atomic_fetch_sub(&r->prods_running, r->n_prods - np);
    }
    int wrc = run_watch(r);
    for (int j = 0; j < np; j++) pthread_join(r->prods[j].th, NULL);
    for (int c = 0; c < nc; c++) pthread_join(r->conss[c].th, NULL);
    for (int j = 0; j < r->n_prods && !rc; j++) rc = r->prods[j].rc;
    for (int c = 0; c < r->n_conss && !rc; c++) rc = r->conss[c].rc;
    return rc ? rc : wrc;
}

/* After the threads: elapsed times, CPU, producer stats and config names. */
static void run_totals(struct run *r, struct totals *t)
{
    const struct bench_args *a = r->a;
    t->cpu_s = weir_self_cpu_s() - r->cpu0_s;
    int64_t pend = r->measure_ns, cfirst = 0, clast = r->measure_ns;
    for (int j = 0; j < r->n_prods; j++) {
        struct prod *pr = &r->prods[j];
        struct weir_producer_stats st;
        weir_producer_stats(pr->p, &st);
        if (pr->done_ns > pend) pend = pr->done_ns;
        if (pr->late_max_ns > t->late_max_ns) t->late_max_ns = pr->late_max_ns;
        t->st.requests_sent += st.requests_sent - pr->st0.requests_sent;
        t->st.batches_sent += st.batches_sent - pr->st0.batches_sent;
        t->st.batches_retried += st.batches_retried - pr->st0.batches_retried;
        t->st.disconnects += st.disconnects - pr->st0.disconnects;
        t->st.pid_inits += st.pid_inits;
    }
    for (int c = 0; c < r->n_conss; c++) {
        if (r->conss[c].first_ns && (!cfirst || r->conss[c].first_ns < cfirst)) cfirst = r->conss[c].first_ns;
        if (r->conss[c].last_ns > clast) clast = r->conss[c].last_ns;
    }
    t->p_elapsed_s = (double)(pend - r->measure_ns) / 1e9;
    t->c_elapsed_s = (double)(clast - r->measure_ns) / 1e9;
    t->first_ms = cfirst ? (double)(cfirst - r->t0_ns) / 1e6 : -1;
    struct weir_conf *conf = weir_conf_new();
    char why[256];
    snprintf(t->crcs, sizeof t->crcs, "true");
    if (conf && producer_conf(a, conf, why, sizeof why)) {
        weir_conf_get(conf, "batch.size", t->batch, sizeof t->batch);
        weir_conf_get(conf, "linger.ms", t->linger, sizeof t->linger);
        weir_conf_get(conf, "acks", t->acks, sizeof t->acks);
        weir_conf_get(conf, "compression.type", t->codec, sizeof t->codec);
        if (!strcmp(t->acks, "-1")) snprintf(t->acks, sizeof t->acks, "all");
    }
    weir_conf_destroy(conf);
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    if (cc && a->mode == MODE_CONSUME && consumer_conf(a, cc, why, sizeof why))
        weir_consumer_conf_get(cc, "check.crcs", t->crcs, sizeof t->crcs);
    weir_consumer_conf_destroy(cc);
}

int cmd_bench(int argc, char **argv)
{
    struct bench_args a = { .bootstrap = CLI_BOOTSTRAP_DEFAULT, .topic = "weir-bench", .records = -1,
                            .value_bytes = 100, .partitions = -1, .warmup = -1, .producers = 1, .consumers = 1,
                            .keys = 1000, .interval_s = 2 };
    int rc = bench_parse(argc, argv, &a);
    if (rc >= 0) return rc; /* --help, or a usage error */
    int32_t parts = 0;
    rc = topic_ensure(&a, &parts);
    if (rc) return rc;
    struct run *r = calloc(1, sizeof *r);
    if (!r) return cli_fail("bench: out of memory");
    rc = run_init(r, &a, parts);
    if (!rc) rc = run_prepare(r);
    if (!rc) rc = run_threads(r);
    struct totals t = { 0 };
    if (!rc) {
        run_totals(r, &t);
        rc = summary_print(r, &t);
        if (rc != CLI_EXIT_FAILED && r->plot) {
            int prc = plot_render(r);
            rc = rc ? rc : prc;
        }
    }
    run_free(r);
    free(r);
    return rc ? rc : cli_stdout_done();
}
