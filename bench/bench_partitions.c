/* bench/bench_partitions.c: what partitions cost the broker, at scale.
 *
 * The program starts its own broker (`weir serve` on 127.0.0.1:0, broker
 * defaults, a fresh data directory under --dir) and:
 *  1. creates --topics topics of --partitions partitions (default 1,000 x 10 =
 *     10,000) with weir's admin client, --batch-topics topics per CreateTopics
 *     request (the first request holds one topic: the program measures it and
 *     stops before the others when they would fill the disk), and waits until
 *     every partition directory exists and Metadata lists every partition with
 *     a leader;
 *  2. reports the broker's footprint before and after: disk allocated
 *     (st_blocks * 512 over the data directory, as du) and apparent (st_size),
 *     resident memory (VmRSS of /proc/PID/status), open file descriptors
 *     (entries of /proc/PID/fd) and mappings (lines of /proc/PID/maps), each
 *     also per partition;
 *  3. produces with librdkafka, for acks=1 and acks=all: --records records of
 *     --value-bytes bytes, record i to partition i mod N round-robin over every
 *     partition of every topic, and the same run against one topic of
 *     --baseline-partitions partitions (default 10) created in the same broker
 *     (the baseline; vs_baseline = records/s over the baseline's). One
 *     warm-up record per partition is sent and flushed before the clock starts
 *     (metadata, connections, producer id). Then the disk allocation again,
 *     and the allocation minus the value bytes written;
 *  4. stops the broker (SIGTERM, clean shutdown) and starts it again on the
 *     same directory: the time until Metadata lists every topic with all its
 *     partitions, and the footprint after the restart;
 *  5. stops the broker and removes the data directory.
 *
 * Limits: each open partition holds file descriptors and mappings; the machine
 * line gives RLIMIT_NOFILE (the broker raises its soft limit to the hard one)
 * and vm.max_map_count, and the creation row the projections for every
 * partition from the first topic's cost. A broker log line "cannot open
 * partition" is counted in open_errors.
 *
 * Rows (one JSON object per line on stdout; progress on stderr): machine,
 * partitions_idle (before any topic), partitions_create, partitions_produce
 * (one per acks and target), partitions_after_produce, partitions_restart, end.
 * Field list: bench/README.md. MB = 10^6 value bytes, MiB = 2^20 bytes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef WEIR_HAVE_RDKAFKA

int main(void)
{
    fputs("bench_partitions: built without librdkafka (apt-get install librdkafka-dev, then rebuild)\n", stderr);
    return 77;
}

#else

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "bench/util.h"
#include "client/client.h"

enum {
    SCHEMA = 1,
    SETS_MAX = 6,
    START_TIMEOUT_MS = 120000,
    STOP_TIMEOUT_MS = 600000,
    READY_TIMEOUT_MS = 900000,
    TOPIC_NAME_BYTES = 32,
};
#define MIB ((double)(1u << 20))
#define BASE_TOPIC "bench-base"

struct opts {
    const char *dir_arg, *weir_bin;
    char weir_buf[PATH_MAX];
    long topics, parts, batch_topics, records, value_bytes, base_parts, reactors, linger_ms;
    uint64_t disk_max;
    const char *sets[SETS_MAX];
    int n_sets;
    bool no_produce, no_restart;
};

/* The broker's footprint at one moment. */
struct usage {
    uint64_t alloc, apparent; /* data directory: st_blocks * 512, st_size */
    uint64_t log_bytes;       /* st_size of the segments (*.log): the data once closed (preallocation cut) */
    double rss_mib, rss_anon_mib, rss_file_mib; /* VmRSS, RssAnon, RssFile (mapped segments and indexes) */
    long fds, maps;
};

struct ctx {
    struct opts o;
    char root[PATH_MAX - 64];
    char data[PATH_MAX];
    char log_path[PATH_MAX];
    char bootstrap[64];
    pid_t broker;
    sigset_t stop_signals;
    struct weir_admin *admin;
    long total_parts; /* topics x parts */
    uint64_t value_bytes_written;
};

static struct ctx *g_ctx;

static _Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const struct ctx *x = g_ctx;
    bench_vfail("bench_partitions", x ? x->broker : 0, x && x->broker > 0 ? x->log_path : NULL, x ? x->root : NULL,
                fmt, ap);
}

static void check_interrupt(const struct ctx *x)
{
    int sig = stop_signal_pending(&x->stop_signals);
    if (sig) fatal("interrupted by signal %d", sig);
    int status;
    if (x->broker > 0 && waitpid(x->broker, &status, WNOHANG) == x->broker) {
        g_ctx->broker = 0;
        fatal("the broker exited (status 0x%x)", status);
    }
}

static double secs_since(int64_t t0)
{
    return (double)(now_ns() - t0) / 1e9;
}

/* ---- /proc and the data directory ------------------------------------------------------------ */

static uint64_t du_alloc, du_apparent, du_log;

static int du_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)type;
    du_alloc += (uint64_t)st->st_blocks * 512;
    du_apparent += (uint64_t)st->st_size;
    size_t len = strlen(path + ftw->base);
    if (S_ISREG(st->st_mode) && len > 4 && !strcmp(path + ftw->base + len - 4, ".log")) du_log += (uint64_t)st->st_size;
    return 0;
}

/* du of path (every file and directory, links not followed). */
static void du(const char *path, struct usage *u)
{
    du_alloc = du_apparent = du_log = 0;
    nftw(path, du_one, 64, FTW_PHYS);
    u->alloc = du_alloc;
    u->apparent = du_apparent;
    u->log_bytes = du_log;
}

/* Entries of a directory (without . and ..), -1 when it cannot be read;
 * with prefix, only the subdirectories whose name starts with it. */
static long dir_count(const char *path, const char *prefix)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (prefix && (strncmp(e->d_name, prefix, strlen(prefix)) || e->d_type != DT_DIR)) continue;
        n++;
    }
    closedir(d);
    return n;
}

static long file_lines(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long n = 0;
    for (int c; (c = getc(f)) != EOF;) n += c == '\n';
    fclose(f);
    return n;
}

/* VmRSS, RssAnon and RssFile of /proc/PID/status in MiB (-1 when absent). */
static void rss_mib(pid_t pid, struct usage *u)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    double kib;
    u->rss_mib = u->rss_anon_mib = u->rss_file_mib = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %lf kB", &kib) == 1) u->rss_mib = kib / 1024;
        if (sscanf(line, "RssAnon: %lf kB", &kib) == 1) u->rss_anon_mib = kib / 1024;
        if (sscanf(line, "RssFile: %lf kB", &kib) == 1) u->rss_file_mib = kib / 1024;
    }
    if (f) fclose(f);
}

static long proc_sys_long(const char *path)
{
    FILE *f = fopen(path, "re");
    long v = -1;
    if (f && fscanf(f, "%ld", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

static void usage_take(const struct ctx *x, struct usage *u)
{
    char path[64];
    du(x->data, u);
    rss_mib(x->broker, u);
    snprintf(path, sizeof path, "/proc/%d/fd", (int)x->broker);
    u->fds = dir_count(path, NULL);
    snprintf(path, sizeof path, "/proc/%d/maps", (int)x->broker);
    u->maps = file_lines(path);
}

/* Waits until the broker's fd and mapping counts have not changed for
 * 500 ms (partitions still opening), at most 60 s, then takes the usage. */
static void usage_settled(const struct ctx *x, struct usage *u)
{
    struct usage prev = { 0 };
    usage_take(x, &prev);
    for (int i = 0; i < 120; i++) {
        sleep_ms(500);
        usage_take(x, u);
        if (u->fds == prev.fds && u->maps == prev.maps) return;
        prev = *u;
    }
}

/* ,"<p>alloc_bytes":...: the usage, and per partition against idle when n > 0. */
static void usage_json(const char *p, const struct usage *u, const struct usage *idle, long n)
{
    printf(",\"%sdisk_alloc_bytes\":%" PRIu64 ",\"%sdisk_apparent_bytes\":%" PRIu64 ",\"%srss_mib\":%.1f,"
           "\"%srss_anon_mib\":%.1f,\"%srss_file_mib\":%.1f,\"%sfds\":%ld,\"%smaps\":%ld",
           p, u->alloc, p, u->apparent, p, u->rss_mib, p, u->rss_anon_mib, p, u->rss_file_mib, p, u->fds, p, u->maps);
    if (idle && n > 0)
        printf(",\"%sdisk_alloc_kib_per_partition\":%.2f,\"%srss_kib_per_partition\":%.2f,"
               "\"%sfds_per_partition\":%.3f,\"%smaps_per_partition\":%.3f",
               p, ((double)u->alloc - (double)idle->alloc) / 1024 / (double)n, p,
               (u->rss_mib - idle->rss_mib) * 1024 / (double)n, p, (double)(u->fds - idle->fds) / (double)n, p,
               (double)(u->maps - idle->maps) / (double)n);
}

/* Lines of the broker log that say a partition could not be opened. */
static long open_errors(const struct ctx *x)
{
    FILE *f = fopen(x->log_path, "re");
    if (!f) return 0;
    long n = 0;
    char line[1024];
    while (fgets(line, sizeof line, f)) n += strstr(line, "cannot open") != NULL;
    fclose(f);
    return n;
}

/* ---- the broker and its admin client ---------------------------------------------------------- */

static void broker_start(struct ctx *x)
{
    const char *extra[2 * SETS_MAX + 3];
    char reactors[32];
    int n = 0;
    for (int i = 0; i < x->o.n_sets; i++) extra[n++] = "--set", extra[n++] = x->o.sets[i];
    if (x->o.reactors >= 0) {
        snprintf(reactors, sizeof reactors, "%ld", x->o.reactors);
        extra[n++] = "--reactors", extra[n++] = reactors;
    }
    extra[n] = NULL;
    char err[PATH_MAX + 128];
    int port;
    if (serve_start(x->o.weir_bin, x->root, x->log_path, extra, START_TIMEOUT_MS, &x->broker, &port, err,
                    sizeof err) != 0)
        fatal("%s", err);
    snprintf(x->bootstrap, sizeof x->bootstrap, "127.0.0.1:%d", port);
    fprintf(stderr, "   broker pid %d on %s\n", (int)x->broker, x->bootstrap);
}

/* SIGTERM and wait: the clean shutdown's seconds. */
static double broker_stop(struct ctx *x)
{
    if (x->broker <= 0) return 0;
    int64_t t0 = now_ns();
    kill(x->broker, SIGTERM);
    int status = 0;
    if (!child_wait(x->broker, STOP_TIMEOUT_MS, &status)) fatal("the broker did not stop within %d ms", STOP_TIMEOUT_MS);
    x->broker = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench_partitions: WARNING: the broker exited with status 0x%x\n", status);
    return secs_since(t0);
}

/* Connects the admin client, retrying for up to 60 s (a broker still starting). */
static void admin_open(struct ctx *x)
{
    char err[512] = "";
    for (int i = 0; i < 600 && !x->admin; i++) {
        struct weir_conf *conf = weir_conf_new();
        if (!conf || weir_conf_set(conf, "bootstrap.servers", x->bootstrap, err, sizeof err) != WEIR_CONF_OK)
            fatal("admin config: %s", conf ? err : "out of memory");
        weir_conf_set(conf, "client.id", "bench-partitions", NULL, 0);
        weir_conf_set(conf, "request.timeout.ms", "300000", NULL, 0);
        x->admin = weir_admin_new(conf, err, sizeof err);
        weir_conf_destroy(conf);
        if (!x->admin) sleep_ms(100);
    }
    if (!x->admin) fatal("admin client: %s", err);
}

static void topic_name(char *out, long i)
{
    snprintf(out, TOPIC_NAME_BYTES, "bp-%05ld", i);
}

/* Metadata of every topic: how many of ours have all their partitions with a leader. */
static long topics_complete(struct ctx *x, bool *base_ok)
{
    struct weir_metadata *md = NULL;
    if (weir_admin_metadata(x->admin, NULL, 0, &md) != 0) return -1;
    long n = 0;
    *base_ok = false;
    for (size_t i = 0; i < md->topics_count; i++) {
        const struct weir_md_topic *t = &md->topics[i];
        bool ok = t->err == 0;
        for (size_t p = 0; ok && p < t->partitions_count; p++) ok = t->partitions[p].err == 0 && t->partitions[p].leader >= 0;
        if (ok && !strncmp(t->name, "bp-", 3) && (long)t->partitions_count == x->o.parts) n++;
        if (ok && !strcmp(t->name, BASE_TOPIC) && (long)t->partitions_count == x->o.base_parts) *base_ok = true;
    }
    weir_metadata_destroy(md);
    return n;
}

/* Until Metadata lists `topics` of ours (and the baseline topic when want_base)
 * and, when dirs, every partition directory exists. */
static void wait_ready(struct ctx *x, long topics, bool want_base, bool dirs, const char *what)
{
    int64_t t0 = now_ns();
    for (;;) {
        check_interrupt(x);
        bool base_ok = false;
        long have = topics_complete(x, &base_ok);
        long dir_n = dirs ? dir_count(x->data, "bp-") : 0;
        if (have == topics && (base_ok || !want_base) && dir_n >= (dirs ? topics * x->o.parts : 0)) return;
        if (now_ns() - t0 > (int64_t)READY_TIMEOUT_MS * 1000000)
            fatal("%s: after %d s, Metadata lists %ld of %ld topics and %ld of %ld partition directories exist "
                  "(broker log: %ld 'cannot open' lines)",
                  what, READY_TIMEOUT_MS / 1000, have, topics, dir_n, topics * x->o.parts, open_errors(x));
        sleep_ms(have < 0 ? 200 : 50);
    }
}

static void topics_create(struct ctx *x, long from, long n, long parts, const char *single)
{
    struct weir_new_topic *nt = calloc((size_t)n, sizeof *nt);
    struct weir_admin_result *res = calloc((size_t)n, sizeof *res);
    char(*names)[TOPIC_NAME_BYTES] = calloc((size_t)n, TOPIC_NAME_BYTES);
    if (!nt || !res || !names) fatal("out of memory");
    for (long i = 0; i < n; i++) {
        if (single) snprintf(names[i], TOPIC_NAME_BYTES, "%s", single);
        else topic_name(names[i], from + i);
        nt[i] = (struct weir_new_topic){ names[i], (int32_t)parts, -1, NULL, 0 };
    }
    if (weir_admin_create_topics(x->admin, nt, (size_t)n, 0, res) != 0)
        fatal("CreateTopics (%ld topics from %s): %s", n, names[0], weir_admin_error(x->admin));
    for (long i = 0; i < n; i++)
        if (res[i].err) fatal("CreateTopics %s: error %d: %s", names[i], res[i].err, res[i].message);
    free(nt), free(res), free(names);
}

/* ---- step 1 and 2: creation --------------------------------------------------------------------- */

/* After the first topic: what every partition would cost, and a stop when the
 * disk would not hold it. */
static void project(struct ctx *x, const struct usage *idle, const struct usage *one, double *alloc_total,
                    double *fds_total, double *maps_total)
{
    double per_alloc = ((double)one->alloc - (double)idle->alloc) / (double)x->o.parts;
    double per_fds = (double)(one->fds - idle->fds) / (double)x->o.parts;
    double per_maps = (double)(one->maps - idle->maps) / (double)x->o.parts;
    *alloc_total = per_alloc * (double)x->total_parts;
    *fds_total = (double)idle->fds + per_fds * (double)x->total_parts;
    *maps_total = (double)idle->maps + per_maps * (double)x->total_parts;
    struct statvfs vfs;
    double free_bytes = statvfs(x->data, &vfs) == 0 ? (double)vfs.f_bavail * (double)vfs.f_frsize : 0;
    fprintf(stderr, "   first topic: %.1f KiB allocated, %.2f fds, %.2f mappings per partition; for %ld partitions: "
                    "%.2f GiB, %.0f fds, %.0f mappings\n",
            per_alloc / 1024, per_fds, per_maps, x->total_parts, *alloc_total / MIB / 1024, *fds_total, *maps_total);
    if (*alloc_total > (double)x->o.disk_max || *alloc_total > free_bytes / 2)
        fatal("%ld partitions would allocate %.1f GiB (%.1f MiB each, measured on the first topic); --disk-max is "
              "%.1f GiB and %.1f GiB are free: stopping before filling the disk",
              x->total_parts, *alloc_total / MIB / 1024, per_alloc / MIB, (double)x->o.disk_max / MIB / 1024,
              free_bytes / MIB / 1024);
    struct rlimit rl;
    long max_maps = proc_sys_long("/proc/sys/vm/max_map_count");
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && *fds_total > (double)rl.rlim_max)
        fprintf(stderr, "bench_partitions: WARNING: about %.0f fds needed, RLIMIT_NOFILE hard limit %ju\n", *fds_total,
                (uintmax_t)rl.rlim_max);
    if (max_maps > 0 && *maps_total > (double)max_maps)
        fprintf(stderr, "bench_partitions: WARNING: about %.0f mappings needed, vm.max_map_count %ld\n", *maps_total,
                max_maps);
}

static void bench_create(struct ctx *x, struct usage *idle, struct usage *created)
{
    usage_settled(x, idle);
    printf("{\"schema\":%d,\"bench\":\"partitions_idle\"", SCHEMA);
    usage_json("", idle, NULL, 0);
    printf("}\n");
    fflush(stdout);

    int64_t t0 = now_ns();
    topics_create(x, 0, 1, x->o.parts, NULL);
    wait_ready(x, 1, false, true, "the first topic");
    double first_s = secs_since(t0);
    struct usage one;
    usage_settled(x, &one);
    double alloc_total, fds_total, maps_total;
    project(x, idle, &one, &alloc_total, &fds_total, &maps_total);

    int64_t t1 = now_ns(); /* the clock stops while the first topic is measured */
    double batch_max_s = 0;
    for (long from = 1; from < x->o.topics; from += x->o.batch_topics) {
        check_interrupt(x);
        long n = x->o.topics - from < x->o.batch_topics ? x->o.topics - from : x->o.batch_topics;
        int64_t b0 = now_ns();
        topics_create(x, from, n, x->o.parts, NULL);
        double s = secs_since(b0);
        if (s > batch_max_s) batch_max_s = s;
        fprintf(stderr, "   created %ld of %ld topics (%.2f s for %ld)\n", from + n, x->o.topics, s, n);
    }
    double acked_s = first_s + secs_since(t1);
    wait_ready(x, x->o.topics, false, true, "every topic");
    double ready_s = first_s + secs_since(t1);
    usage_settled(x, created);
    double per_k = (double)x->total_parts / 1000;
    printf("{\"schema\":%d,\"bench\":\"partitions_create\",\"topics\":%ld,\"partitions_per_topic\":%ld,"
           "\"partitions\":%ld,\"batch_topics\":%ld,\"first_topic_s\":%.3f,\"create_acked_s\":%.3f,"
           "\"create_ready_s\":%.3f,\"create_ready_s_per_1000\":%.3f,\"batch_max_s\":%.3f,"
           "\"projected_disk_alloc_bytes\":%.0f,\"projected_fds\":%.0f,\"projected_maps\":%.0f,\"open_errors\":%ld",
           SCHEMA, x->o.topics, x->o.parts, x->total_parts, x->o.batch_topics, first_s, acked_s, ready_s,
           ready_s / per_k, batch_max_s, alloc_total, fds_total, maps_total, open_errors(x));
    usage_json("", created, idle, x->total_parts);
    printf("}\n");
    fflush(stdout);
}

/* ---- step 3: produce ---------------------------------------------------------------------------------- */

static atomic_uint_fast64_t rk_done, rk_failed;
static atomic_int rk_first_err;
static atomic_bool rk_stop;

static void rk_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        int none = 0;
        atomic_compare_exchange_strong(&rk_first_err, &none, m->err);
        atomic_fetch_add(&rk_failed, 1);
    }
    atomic_fetch_add(&rk_done, 1);
}

static void *rk_poller(void *arg)
{
    rd_kafka_t *rk = arg;
    while (!atomic_load(&rk_stop)) rd_kafka_poll(rk, 100);
    return NULL;
}

static void rk_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) fatal("librdkafka %s=%s: %s", k, v, err);
}

static rd_kafka_t *rk_producer(const struct ctx *x, const char *acks)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rk_set(conf, "bootstrap.servers", x->bootstrap);
    rk_set(conf, "client.id", "bench-partitions");
    rk_set(conf, "acks", acks);
    rk_set(conf, "enable.idempotence", strcmp(acks, "all") ? "false" : "true");
    char linger[32];
    snprintf(linger, sizeof linger, "%ld", x->o.linger_ms);
    rk_set(conf, "linger.ms", linger);
    rk_set(conf, "queue.buffering.max.kbytes", "65536");
    rk_set(conf, "queue.buffering.max.messages", "0");
    rk_set(conf, "socket.nagle.disable", "true");
    rk_set(conf, "message.timeout.ms", "300000");
    const char *dbg = getenv("BENCH_PARTITIONS_RDKAFKA_DEBUG");
    if (dbg && *dbg) rk_set(conf, "debug", dbg);
    rd_kafka_conf_set_dr_msg_cb(conf, rk_on_delivery);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) fatal("rd_kafka_new: %s", err);
    return rk;
}

static void rk_wait(rd_kafka_t *rk, uint64_t n)
{
    if (rd_kafka_flush(rk, 600000) != RD_KAFKA_RESP_ERR_NO_ERROR) fatal("rd_kafka_flush timed out");
    while (atomic_load(&rk_done) < n) sleep_ms(1);
}

/* One produce run: records over every partition of n_topics topics of parts
 * partitions each (the baseline: the one topic BASE_TOPIC). Prints its row. */
struct run_result {
    double records_s, cpu_us_per_record;
};

static struct run_result produce_run(struct ctx *x, const char *acks, bool base, const struct run_result *baseline)
{
    long n_topics = base ? 1 : x->o.topics, parts = base ? x->o.base_parts : x->o.parts;
    uint64_t total = (uint64_t)(n_topics * parts), n = (uint64_t)x->o.records;
    size_t vlen = (size_t)x->o.value_bytes;
    uint8_t *value = malloc(vlen);
    rd_kafka_topic_t **rkt = calloc((size_t)n_topics, sizeof *rkt);
    if (!value || !rkt) fatal("out of memory");
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    weir_value_make(value, vlen, 0, &rng);
    atomic_store(&rk_done, 0), atomic_store(&rk_failed, 0), atomic_store(&rk_first_err, 0), atomic_store(&rk_stop, false);
    rd_kafka_t *rk = rk_producer(x, acks);
    for (long t = 0; t < n_topics; t++) {
        char name[TOPIC_NAME_BYTES];
        if (base) snprintf(name, sizeof name, "%s", BASE_TOPIC);
        else topic_name(name, t);
        rkt[t] = rd_kafka_topic_new(rk, name, NULL);
        if (!rkt[t]) fatal("rd_kafka_topic_new %s: %s", name, rd_kafka_err2str(rd_kafka_last_error()));
    }
    pthread_t th;
    if (pthread_create(&th, NULL, rk_poller, rk) != 0) fatal("pthread_create failed");
    int64_t w0 = now_ns();
    double cpu0 = 0, client0 = 0;
    for (uint64_t i = 0; i < n + total; i++) {
        uint64_t g = i % total;
        if (rd_kafka_produce(rkt[g / (uint64_t)parts], (int32_t)(g % (uint64_t)parts),
                             RD_KAFKA_MSG_F_COPY | RD_KAFKA_MSG_F_BLOCK, value, vlen, NULL, 0, NULL) != 0)
            fatal("rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
        if (i + 1 == total) { /* the warm-up: one record per partition, then the clock */
            rk_wait(rk, total);
            fprintf(stderr, "   warm-up (%" PRIu64 " partitions) %.1f s\n", total, secs_since(w0));
            w0 = now_ns();
            cpu0 = proc_cpu_s(x->broker);
            client0 = weir_self_cpu_s();
        }
    }
    rk_wait(rk, n + total);
    double secs = secs_since(w0), broker_cpu = proc_cpu_s(x->broker) - cpu0, client_cpu = weir_self_cpu_s() - client0;
    atomic_store(&rk_stop, true);
    pthread_join(th, NULL);
    for (long t = 0; t < n_topics; t++) rd_kafka_topic_destroy(rkt[t]);
    rd_kafka_destroy(rk);
    free(rkt), free(value);
    if (atomic_load(&rk_failed))
        fatal("librdkafka: %" PRIu64 " records failed: %s", (uint64_t)atomic_load(&rk_failed),
              rd_kafka_err2str(atomic_load(&rk_first_err)));
    x->value_bytes_written += (n + total) * vlen;
    double records_s = (double)n / secs;
    printf("{\"schema\":%d,\"bench\":\"partitions_produce\",\"target\":\"%s\",\"acks\":\"%s\",\"topics\":%ld,"
           "\"partitions\":%" PRIu64 ",\"records\":%" PRIu64 ",\"warmup_records\":%" PRIu64 ",\"value_bytes\":%zu,"
           "\"linger_ms\":%ld,\"elapsed_s\":%.3f,\"records_s\":%.0f,\"mb_s\":%.2f,\"broker_cpu_s\":%.3f,"
           "\"broker_cpu_us_per_record\":%.2f,\"client_cpu_s\":%.3f,\"client_cpu_us_per_record\":%.2f",
           SCHEMA, base ? "baseline" : "all", acks, n_topics, total, n, total, vlen, x->o.linger_ms, secs, records_s,
           (double)n * (double)vlen / 1e6 / secs, broker_cpu, broker_cpu * 1e6 / (double)n, client_cpu,
           client_cpu * 1e6 / (double)n);
    double cpu_us = broker_cpu * 1e6 / (double)n;
    if (baseline && baseline->records_s > 0)
        printf(",\"vs_baseline\":%.3f,\"broker_cpu_vs_baseline\":%.2f", records_s / baseline->records_s,
               baseline->cpu_us_per_record > 0 ? cpu_us / baseline->cpu_us_per_record : 0);
    printf("}\n");
    fflush(stdout);
    fprintf(stderr, "   produce acks=%s %s: %.0f records/s\n", acks, base ? "baseline" : "all partitions", records_s);
    return (struct run_result){ records_s, cpu_us };
}

static void bench_produce(struct ctx *x, const struct usage *idle, const struct usage *created, struct usage *after)
{
    topics_create(x, 0, 1, x->o.base_parts, BASE_TOPIC);
    wait_ready(x, x->o.topics, true, false, "the baseline topic");
    static const char *const acks[] = { "1", "all" };
    for (size_t a = 0; a < 2; a++) {
        check_interrupt(x);
        struct run_result base = produce_run(x, acks[a], true, NULL);
        check_interrupt(x);
        produce_run(x, acks[a], false, &base);
    }
    struct usage u;
    usage_settled(x, &u);
    *after = u;
    printf("{\"schema\":%d,\"bench\":\"partitions_after_produce\",\"partitions\":%ld,\"value_bytes_written\":%" PRIu64
           ",\"alloc_growth_bytes\":%.0f,\"alloc_growth_minus_value_bytes\":%.0f,\"alloc_minus_value_bytes\":%.0f,"
           "\"open_errors\":%ld",
           SCHEMA, x->total_parts + x->o.base_parts, x->value_bytes_written, (double)u.alloc - (double)created->alloc,
           (double)u.alloc - (double)created->alloc - (double)x->value_bytes_written,
           (double)u.alloc - (double)x->value_bytes_written, open_errors(x));
    usage_json("", &u, idle, x->total_parts + x->o.base_parts);
    printf("}\n");
    fflush(stdout);
}

/* ---- step 4: restart ---------------------------------------------------------------------------------- */

static void bench_restart(struct ctx *x, const struct usage *idle, const struct usage *after)
{
    weir_admin_destroy(x->admin);
    x->admin = NULL;
    double stop_s = broker_stop(x);
    fprintf(stderr, "   broker stopped in %.1f s; starting again\n", stop_s);
    int64_t t0 = now_ns();
    broker_start(x);
    double listen_s = secs_since(t0);
    admin_open(x);
    wait_ready(x, x->o.topics, !x->o.no_produce, false, "after the restart");
    double ready_s = secs_since(t0);
    struct usage u;
    usage_settled(x, &u);
    double settled_s = secs_since(t0);
    long parts = x->total_parts + (x->o.no_produce ? 0 : x->o.base_parts);
    printf("{\"schema\":%d,\"bench\":\"partitions_restart\",\"partitions\":%ld,\"stop_s\":%.3f,\"listen_s\":%.3f,"
           "\"metadata_ready_s\":%.3f,\"settled_s\":%.3f,\"open_errors\":%ld,\"log_bytes\":%" PRIu64
           ",\"alloc_minus_log_bytes\":%.0f",
           SCHEMA, parts, stop_s, listen_s, ready_s, settled_s, open_errors(x), u.log_bytes,
           (double)u.alloc - (double)u.log_bytes);
    if (after)
        printf(",\"after_produce_alloc_minus_log_bytes\":%.0f", (double)after->alloc - (double)u.log_bytes);
    usage_json("", &u, idle, parts);
    printf("}\n");
    fflush(stdout);
}

/* ---- options and main ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: bench_partitions [--topics N] [--partitions N] [--batch-topics N] [--records N]\n"
          "                        [--value-bytes N] [--baseline-partitions N] [--linger-ms N] [--reactors N]\n"
          "                        [--set KEY=VALUE]...\n"
          "                        [--disk-max SIZE] [--no-produce] [--no-restart] [--quick] [--dir PATH] [--weir PATH]\n"
          "  --topics N               topics to create (default 1000)\n"
          "  --partitions N           partitions per topic (default 10)\n"
          "  --batch-topics N         topics per CreateTopics request (default 100)\n"
          "  --records N              records per produce run (default 1000000)\n"
          "  --value-bytes N          bytes per record value (default 100)\n"
          "  --baseline-partitions N  partitions of the baseline topic (default 10)\n"
          "  --linger-ms N            the producer's linger.ms (default 5)\n"
          "  --reactors N             the broker's reactors (default: its own, one per CPU)\n"
          "  --set KEY=VALUE          a broker config key (repeatable, up to 6)\n"
          "  --disk-max SIZE          stop when the topics would allocate more (default 20G)\n"
          "  --no-produce, --no-restart  leave out those steps\n"
          "  --quick                  10 topics x 10 partitions, 100000 records\n"
          "  --dir PATH               where the bench directory is made (default $TMPDIR or /tmp)\n"
          "  --weir PATH              the weir binary (default: next to this program)\n",
          f);
}

static long parse_long(const char *s, long lo, long hi)
{
    long v;
    if (!long_parse(s, lo, hi, &v)) fatal("bad number %s (want %ld..%ld)", s, lo, hi);
    return v;
}

static void parse_args(struct ctx *x, int argc, char **argv)
{
    struct opts *o = &x->o;
    bool quick = false;
    o->reactors = -1;
    o->linger_ms = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--quick")) quick = true, takes = false;
        else if (!strcmp(a, "--no-produce")) o->no_produce = true, takes = false;
        else if (!strcmp(a, "--no-restart")) o->no_restart = true, takes = false;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(stdout), exit(0);
        else if (!v) usage(stderr), fatal("%s: unknown or missing its value", a);
        else if (!strcmp(a, "--topics")) o->topics = parse_long(v, 1, 99999);
        else if (!strcmp(a, "--partitions")) o->parts = parse_long(v, 1, 100000);
        else if (!strcmp(a, "--batch-topics")) o->batch_topics = parse_long(v, 1, 10000);
        else if (!strcmp(a, "--records")) o->records = parse_long(v, 1, 1L << 34);
        else if (!strcmp(a, "--value-bytes")) o->value_bytes = parse_long(v, 1, 900000);
        else if (!strcmp(a, "--baseline-partitions")) o->base_parts = parse_long(v, 1, 100000);
        else if (!strcmp(a, "--reactors")) o->reactors = parse_long(v, 0, 64);
        else if (!strcmp(a, "--linger-ms")) o->linger_ms = parse_long(v, 0, 900000);
        else if (!strcmp(a, "--disk-max") && !size_parse(v, &o->disk_max)) fatal("--disk-max: bad size %s", v);
        else if (!strcmp(a, "--disk-max")) {}
        else if (!strcmp(a, "--set") && o->n_sets == SETS_MAX) fatal("--set: at most %d", SETS_MAX);
        else if (!strcmp(a, "--set")) o->sets[o->n_sets++] = v;
        else if (!strcmp(a, "--dir")) o->dir_arg = v;
        else if (!strcmp(a, "--weir")) o->weir_bin = v;
        else usage(stderr), fatal("unknown argument: %s", a);
        i += takes;
    }
    if (!o->topics) o->topics = quick ? 10 : 1000;
    if (!o->parts) o->parts = 10;
    if (!o->batch_topics) o->batch_topics = 100;
    if (!o->records) o->records = quick ? 100000 : 1000000;
    if (!o->value_bytes) o->value_bytes = 100;
    if (!o->base_parts) o->base_parts = 10;
    if (o->linger_ms < 0) o->linger_ms = 5;
    if (!o->disk_max) o->disk_max = (uint64_t)20 << 30;
    if (o->topics * o->parts > 1000000) fatal("at most 1,000,000 partitions");
    x->total_parts = o->topics * o->parts;
    if (!o->weir_bin) {
        int rc = exe_sibling("weir", o->weir_buf, sizeof o->weir_buf);
        if (rc == -1) fatal("readlink /proc/self/exe: %s", strerror(errno));
        if (rc == -2) fatal("path too long: weir next to this program");
        o->weir_bin = o->weir_buf;
    }
    if (access(o->weir_bin, X_OK) != 0) fatal("no weir binary at %s (--weir)", o->weir_bin);
}

static void print_machine(const struct ctx *x)
{
    struct rlimit rl = { 0, 0 };
    getrlimit(RLIMIT_NOFILE, &rl);
    struct statvfs vfs;
    double free_gib = statvfs(x->root, &vfs) == 0 ? (double)vfs.f_bavail * (double)vfs.f_frsize / MIB / 1024 : -1;
    print_machine_head(SCHEMA, x->root);
    printf(",\"librdkafka\":\"%s\",\"rlimit_nofile_soft\":%ju,\"rlimit_nofile_hard\":%ju,\"vm_max_map_count\":%ld,"
           "\"disk_free_gib\":%.1f,\"topics\":%ld,\"partitions_per_topic\":%ld,\"partitions\":%ld,\"records\":%ld,"
           "\"value_bytes\":%ld,\"baseline_partitions\":%ld,\"linger_ms\":%ld,\"loadavg_1m\":%.2f",
           rd_kafka_version_str(), (uintmax_t)rl.rlim_cur, (uintmax_t)rl.rlim_max,
           proc_sys_long("/proc/sys/vm/max_map_count"), free_gib, x->o.topics, x->o.parts, x->total_parts,
           x->o.records, x->o.value_bytes, x->o.base_parts, x->o.linger_ms, loadavg1());
    printf(",\"broker_sets\":[");
    for (int i = 0; i < x->o.n_sets; i++) {
        if (i) putchar(',');
        json_str(x->o.sets[i]);
    }
    printf("]}\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static struct ctx x;
    g_ctx = &x;
    int64_t t0 = now_ns();
    parse_args(&x, argc, argv);
    stop_signals_block(&x.stop_signals); /* checked between steps */
    signal(SIGPIPE, SIG_IGN);
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(x.o.dir_arg, "weir-bench-partitions", x.root, sizeof x.root, tmpl);
    if (rc < 0) fatal("--dir path too long");
    if (rc > 0) fatal("mkdtemp %s: %s", tmpl, strerror(rc));
    snprintf(x.data, sizeof x.data, "%s/data", x.root);
    snprintf(x.log_path, sizeof x.log_path, "%s/broker.log", x.root);
    print_machine(&x);
    broker_start(&x);
    admin_open(&x);
    struct usage idle, created, after;
    bench_create(&x, &idle, &created);
    if (!x.o.no_produce) bench_produce(&x, &idle, &created, &after);
    if (!x.o.no_restart) bench_restart(&x, &idle, x.o.no_produce ? NULL : &after);
    weir_admin_destroy(x.admin);
    x.admin = NULL;
    broker_stop(&x);
    rmrf(x.root);
    printf("{\"schema\":%d,\"bench\":\"end\",\"elapsed_s\":%.0f,\"loadavg_1m\":%.2f}\n", SCHEMA, secs_since(t0),
           loadavg1());
    return 0;
}

#endif /* WEIR_HAVE_RDKAFKA */
