/* bench/bench_append.c: append and read throughput of partition logs, with the
 * raw system-call baseline measured in the same process on the same file system.
 *
 * Rows (one JSON object per line on stdout; progress on stderr):
 *  - append/weir: batches of 100-byte-value records (null key, codec none)
 *    appended through one io_uring appender to 1 or 8 logs (segment.bytes
 *    1 GiB, a segment preparer), at most `depth` appends outstanding per log,
 *    each log's prebuilt batch buffers reused cyclically once their on_done ran.
 *  - append/pwrite, append/pwrite+fdatasync: the same batch bytes written with
 *    pwrite, round-robin over one file per partition, each preallocated with
 *    fallocate; fdatasync after every batch when flush=always.
 *  - read/weir: the log just written, scanned with weir_log_read (1 MiB, min_one)
 *    from start to end; read/pread: the same segment files read sequentially
 *    with pread into a 1 MiB buffer. Both touch one byte per 64-byte line.
 * Runs alternate engine and baseline (engine, raw, engine, raw, ...); rows
 * report medians. Each run starts from empty files; files are deleted between
 * runs outside the timed section. The page cache is never dropped: reads are
 * of data just written, so they are served from memory. MB = 10^6 bytes. */
#include "bench/util.h"
#include "engine/engine.h"
#include "record/record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

enum {
    SCHEMA = 1,
    VALUE_BYTES = 100,
    DEPTH_DEFAULT = 64,      /* appends outstanding per partition: batches, and MiB */
    DEPTH_MAX = 4096,
    READ_CHUNK = 1 << 20,    /* max_bytes per weir_log_read, pread buffer */
    RUNS_MAX = 99,
    RING_ENTRIES = 256,
    SETTLE_MS = 100,         /* lets the preparer make its spare segments before timing */
};
#define PREALLOC_BYTES ((uint64_t)1 << 30)
#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)

struct opts {
    uint64_t bytes;          /* per run, all partitions, flush=none */
    uint64_t sync_bytes;     /* per run, all partitions, flush=always */
    int runs;
    int depth;               /* at most this many batches and MiB outstanding per partition */
    const char *dir_arg;     /* parent of the fresh bench directory */
    char root[PATH_MAX - 64];/* the fresh directory; removed at exit; room for names under it */
    bool quick;
    size_t only_batch;       /* filters; 0 / -1 = all */
    int only_parts;
    int only_flush;
    sigset_t stop_signals;   /* blocked; polled between runs so cleanup always runs */
};

struct part;

struct slot {
    struct weir_append a;
    uint8_t *buf;
    struct part *part;
    bool busy;
};

struct part {
    struct slot *slots;      /* depth of them */
    uint8_t *bufs;           /* depth * batch_len bytes, built once */
    struct weir_log *log;
    uint64_t issued, done;
    unsigned inflight;
    enum weir_err err;
    int fd;                  /* raw baseline file */
    uint64_t off;
    char dir[PATH_MAX];      /* engine log directory */
};

struct work {
    const struct opts *o;
    size_t batch_target;     /* nominal batch size */
    size_t batch_len;        /* bytes of one built batch */
    int32_t records;         /* records per batch */
    int parts;
    bool sync;
    unsigned depth;
    uint64_t batches;        /* per partition per run */
    struct part *p;
    uint64_t sink;           /* read checksums, printed so reads are not optimized out */
};

struct sample {
    double mb_s, rec_s, fsyncs_per_batch;
};

/* ---- small helpers ---------------------------------------------------------- */

static _Noreturn void fatal(const struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fatal(const struct opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_append: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (o->root[0]) rmrf(o->root);
    exit(1);
}

/* Stop signals stay blocked and are checked between runs, so an interrupted
 * bench still removes its (large, preallocated) files. */
static void check_interrupt(const struct opts *o)
{
    int sig = stop_signal_pending(&o->stop_signals);
    if (sig) fatal(o, "interrupted by signal %d", sig);
}

static double secs(int64_t ns) { return (double)ns / 1e9; }

static struct sample sample_make(uint64_t bytes, uint64_t records, int64_t ns)
{
    double s = secs(WEIR_MAX(ns, 1));
    return (struct sample){ .mb_s = (double)bytes / 1e6 / s, .rec_s = (double)records / s };
}

/* Field `off` (a double in struct sample) of n samples, sorted into v. */
static void field_sorted(const struct sample *s, int n, size_t off, double *v)
{
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)&s[i] + off, sizeof v[i]);
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
}

static double field_median(const struct sample *s, int n, size_t off)
{
    double v[RUNS_MAX];
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)&s[i] + off, sizeof v[i]);
    return median(v, n);
}

/* One byte per 64-byte cache line: every line of the data is brought in. */
static uint64_t touch(const uint8_t *p, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i += 64) sum += p[i];
    return sum;
}

/* ---- the workload ----------------------------------------------------------- */

/* Fills buf (cap bytes) with as many 100-byte-value records as fit. */
static size_t batch_build(uint8_t *buf, size_t cap, uint64_t seed, int32_t *records)
{
    uint8_t value[VALUE_BYTES];
    for (int i = 0; i < VALUE_BYTES; i++) value[i] = (uint8_t)('a' + (seed + (uint64_t)i * 7) % 26);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, WEIR_CODEC_NONE);
    int64_t ts = weir_time_ms();
    for (int32_t i = 0; i < INT32_MAX; i++)
        if (weir_batch_builder_add(&b, ts, NULL, -1, value, VALUE_BYTES, NULL, 0) != WEIR_OK) break;
    size_t len = 0;
    if (weir_batch_builder_finish(&b, -1, -1, -1, &len) != WEIR_OK) return 0;
    *records = b.count;
    return len;
}

static void part_init(struct work *w, struct part *p, int index)
{
    p->slots = weir_calloc(w->depth, sizeof *p->slots);
    p->bufs = weir_malloc((size_t)w->depth * w->batch_len);
    if (!p->slots || !p->bufs) fatal(w->o, "out of memory for batch buffers");
    int32_t records = 0;
    if (batch_build(p->bufs, w->batch_len, (uint64_t)index, &records) != w->batch_len || records != w->records)
        fatal(w->o, "batch build differs between partitions");
    for (unsigned i = 0; i < w->depth; i++) {
        p->slots[i].buf = p->bufs + (size_t)i * w->batch_len;
        p->slots[i].part = p;
        if (i > 0) memcpy(p->slots[i].buf, p->bufs, w->batch_len);
    }
    snprintf(p->dir, sizeof p->dir, "%s/weir/p%d", w->o->root, index);
    p->fd = -1;
}

static void work_init(struct work *w, const struct opts *o, size_t target, int parts, bool sync)
{
    *w = (struct work){ .o = o, .batch_target = target, .parts = parts, .sync = sync };
    uint8_t *probe = weir_malloc(target);
    if (!probe) fatal(o, "out of memory");
    w->batch_len = batch_build(probe, target, 0, &w->records);
    weir_free(probe);
    if (w->batch_len == 0) fatal(o, "cannot build a %zu-byte batch", target);
    uint64_t total = sync ? o->sync_bytes : o->bytes;
    w->batches = WEIR_MAX(1, total / ((uint64_t)w->batch_len * (uint64_t)parts));
    size_t depth = WEIR_MIN((size_t)o->depth, (size_t)o->depth * MIB / w->batch_len);
    w->depth = (unsigned)WEIR_MAX(1, WEIR_MIN(depth, w->batches));
    w->p = weir_calloc((size_t)parts, sizeof *w->p);
    if (!w->p) fatal(o, "out of memory");
    for (int i = 0; i < parts; i++) part_init(w, &w->p[i], i);
}

static void work_free(struct work *w)
{
    for (int i = 0; i < w->parts; i++) {
        weir_free(w->p[i].slots);
        weir_free(w->p[i].bufs);
    }
    weir_free(w->p);
}

static uint64_t work_bytes(const struct work *w) { return w->batches * (uint64_t)w->parts * w->batch_len; }
static uint64_t work_records(const struct work *w)
{
    return w->batches * (uint64_t)w->parts * (uint64_t)w->records;
}

/* ---- the engine ------------------------------------------------------------- */

static void append_done(struct weir_append *a)
{
    struct slot *s = weir_container_of(a, struct slot, a);
    struct part *p = s->part;
    s->busy = false;
    p->inflight--;
    p->done++;
    if (a->err != WEIR_OK && p->err == WEIR_OK) p->err = a->err;
}

/* Queues appends until depth are outstanding. Completions come back in order
 * per log, so slot issued % depth is always the oldest free one. */
static void part_fill(struct work *w, struct part *p)
{
    while (p->inflight < w->depth && p->issued < w->batches) {
        struct slot *s = &p->slots[p->issued % w->depth];
        WEIR_ASSERT(!s->busy);
        s->a = (struct weir_append){ .batch = s->buf, .len = w->batch_len, .on_done = append_done };
        enum weir_err err = weir_log_append(p->log, &s->a);
        if (err != WEIR_OK) fatal(w->o, "weir_log_append: %s", weir_err_str(err));
        s->busy = true;
        p->inflight++;
        p->issued++;
    }
}

static void engine_drive(struct work *w, struct weir_appender *ap)
{
    /* Each waiting turn reaps at least one op; a batch costs at most a write,
     * an fdatasync and a directory fsync. */
    uint64_t bound = 3 * w->batches * (uint64_t)w->parts + 16;
    for (uint64_t turn = 0;; turn++) {
        WEIR_ASSERT(turn <= bound);
        bool more = false;
        for (int i = 0; i < w->parts; i++) {
            struct part *p = &w->p[i];
            if (p->err != WEIR_OK) fatal(w->o, "append failed: %s", weir_err_str(p->err));
            part_fill(w, p);
            more |= p->done < w->batches;
        }
        if (!more) return;
        weir_appender_run(ap, true);
    }
}

static void logs_open(struct work *w, struct weir_appender *ap, struct weir_preparer *prep)
{
    struct weir_log_config cfg;
    weir_log_config_default(&cfg); /* segment.bytes 1 GiB: preallocation matters */
    cfg.flush_messages = w->sync ? 1 : INT64_MAX;
    cfg.flush_ms = INT64_MAX;
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/weir", w->o->root);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) fatal(w->o, "mkdir %s: %s", dir, strerror(errno));
    for (int i = 0; i < w->parts; i++) {
        struct part *p = &w->p[i];
        p->issued = p->done = 0;
        p->inflight = 0;
        p->err = WEIR_OK;
        enum weir_err err = weir_log_open(p->dir, &cfg, ap, prep, &p->log);
        if (err != WEIR_OK) fatal(w->o, "weir_log_open %s: %s", p->dir, weir_err_str(err));
    }
}

static void logs_close(struct work *w)
{
    for (int i = 0; i < w->parts; i++) {
        weir_log_close(w->p[i].log);
        w->p[i].log = NULL;
    }
}

/* Scans every log from start to end in 1 MiB views. */
static struct sample read_engine(struct work *w)
{
    uint64_t bytes = 0, records = 0, sum = 0;
    int64_t t0 = weir_clock_ns();
    for (int i = 0; i < w->parts; i++) {
        struct weir_log *log = w->p[i].log;
        int64_t off = weir_log_start_offset(log), end = weir_log_end_offset(log);
        records += (uint64_t)(end - off);
        for (uint64_t steps = 0; off < end; steps++) {
            WEIR_ASSERT(steps <= w->batches);
            struct weir_log_view v;
            enum weir_err err = weir_log_read(log, off, READ_CHUNK, true, &v);
            if (err != WEIR_OK || v.len == 0) fatal(w->o, "weir_log_read at %" PRId64 ": %s", off, weir_err_str(err));
            sum += touch(v.data, v.len);
            bytes += v.len;
            off = v.offset_next;
            weir_log_view_release(log, &v);
        }
    }
    struct sample s = sample_make(bytes, records, weir_clock_ns() - t0);
    if (bytes != work_bytes(w)) fatal(w->o, "read %" PRIu64 " bytes, wrote %" PRIu64, bytes, work_bytes(w));
    w->sink += sum;
    return s;
}

static int is_segment_log(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n == 24 && strcmp(d->d_name + 20, ".log") == 0 && strspn(d->d_name, "0123456789") == 20;
}

/* Reads one file sequentially to EOF; adds its bytes and checksum. */
static void pread_file(const struct work *w, const char *path, uint8_t *buf, uint64_t *bytes, uint64_t *sum)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) fatal(w->o, "open %s: %s", path, strerror(errno));
    uint64_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, READ_CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fatal(w->o, "pread %s: %s", path, strerror(errno));
        if (n == 0) break;
        *sum += touch(buf, (size_t)n);
        off += (uint64_t)n;
    }
    *bytes += off;
    close(fd);
}

/* The baseline read: the closed logs' segment files (true sizes), in order. */
static struct sample read_pread(struct work *w)
{
    uint8_t *buf = weir_malloc(READ_CHUNK);
    if (!buf) fatal(w->o, "out of memory");
    uint64_t bytes = 0, sum = 0;
    int64_t t0 = weir_clock_ns();
    for (int i = 0; i < w->parts; i++) {
        struct dirent **names;
        int n = scandir(w->p[i].dir, &names, is_segment_log, alphasort);
        if (n < 0) fatal(w->o, "scandir %s: %s", w->p[i].dir, strerror(errno));
        for (int j = 0; j < n; j++) {
            char path[PATH_MAX + sizeof names[j]->d_name + 1];
            snprintf(path, sizeof path, "%s/%s", w->p[i].dir, names[j]->d_name);
            pread_file(w, path, buf, &bytes, &sum);
            free(names[j]);
        }
        free(names);
    }
    int64_t ns = weir_clock_ns() - t0;
    weir_free(buf);
    if (bytes != work_bytes(w)) fatal(w->o, "pread %" PRIu64 " bytes, wrote %" PRIu64, bytes, work_bytes(w));
    w->sink += sum;
    return sample_make(bytes, bytes / w->batch_len * (uint64_t)w->records, ns);
}

/* One engine run: fresh logs, timed appends, timed read scan, close, timed
 * pread of the closed files, delete. */
static void engine_run(struct work *w, struct sample *app, struct sample *rd, struct sample *rd_base)
{
    struct weir_appender *ap;
    struct weir_preparer *prep;
    if (weir_appender_create(RING_ENTRIES, &ap) != WEIR_OK) fatal(w->o, "weir_appender_create failed");
    if (weir_preparer_create(w->o->root, NULL, &prep) != WEIR_OK) fatal(w->o, "weir_preparer_create failed");
    logs_open(w, ap, prep);
    sleep_ms(SETTLE_MS);
    struct weir_appender_stats s0, s1;
    weir_appender_stats(ap, &s0);
    int64_t t0 = weir_clock_ns();
    engine_drive(w, ap);
    int64_t ns = weir_clock_ns() - t0;
    weir_appender_stats(ap, &s1);
    *app = sample_make(work_bytes(w), work_records(w), ns);
    uint64_t batches = s1.batches - s0.batches;
    app->fsyncs_per_batch = batches ? (double)(s1.fsyncs - s0.fsyncs) / (double)batches : 0;
    *rd = read_engine(w);
    logs_close(w);
    weir_preparer_destroy(prep);
    weir_appender_destroy(ap);
    *rd_base = read_pread(w);
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/weir", w->o->root);
    rmrf(dir);
}

/* ---- the raw baseline ------------------------------------------------------- */

static void raw_open(struct work *w)
{
    uint64_t len = WEIR_MAX(PREALLOC_BYTES, w->batches * (uint64_t)w->batch_len);
    for (int i = 0; i < w->parts; i++) {
        struct part *p = &w->p[i];
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/raw-p%d.dat", w->o->root, i);
        p->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (p->fd < 0) fatal(w->o, "open %s: %s", path, strerror(errno));
        if (fallocate(p->fd, 0, 0, (off_t)len) != 0) fatal(w->o, "fallocate %s: %s", path, strerror(errno));
        p->off = 0;
    }
}

static void raw_write(const struct work *w, struct part *p, const uint8_t *buf)
{
    size_t done = 0;
    while (done < w->batch_len) {
        ssize_t n = pwrite(p->fd, buf + done, w->batch_len - done, (off_t)(p->off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fatal(w->o, "pwrite: %s", n < 0 ? strerror(errno) : "wrote nothing");
        done += (size_t)n;
    }
    if (w->sync && fdatasync(p->fd) != 0) fatal(w->o, "fdatasync: %s", strerror(errno));
    p->off += w->batch_len;
}

/* Same bytes, same batch granularity, round-robin over partitions. */
static struct sample raw_run(struct work *w)
{
    raw_open(w);
    int64_t t0 = weir_clock_ns();
    for (uint64_t b = 0; b < w->batches; b++)
        for (int i = 0; i < w->parts; i++) raw_write(w, &w->p[i], w->p[i].slots[b % w->depth].buf);
    int64_t ns = weir_clock_ns() - t0;
    for (int i = 0; i < w->parts; i++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/raw-p%d.dat", w->o->root, i);
        close(w->p[i].fd);
        unlink(path);
        w->p[i].fd = -1;
    }
    return sample_make(work_bytes(w), work_records(w), ns);
}

/* ---- output ----------------------------------------------------------------- */

static void print_machine(const struct opts *o)
{
    print_machine_head(SCHEMA, o->root);
    printf(",\"bytes\":%" PRIu64 ",\"sync_bytes\":%" PRIu64 ",\"runs\":%d,\"page_cache_dropped\":false,"
           "\"read_touch\":\"one byte per 64\",\"mb\":1000000,\"depth\":%d}\n",
           o->bytes, o->sync_bytes, o->runs, o->depth);
    fflush(stdout);
}

/* One row; vs_baseline when base is given, fsyncs_per_batch when asked. */
static void print_row(const struct work *w, const char *bench, const char *impl, const struct sample *s,
                      const struct sample *base, bool fsyncs)
{
    int n = w->o->runs;
    double mb = field_median(s, n, offsetof(struct sample, mb_s)), v[RUNS_MAX];
    field_sorted(s, n, offsetof(struct sample, mb_s), v);
    printf("{\"schema\":%d,\"bench\":\"%s\",\"impl\":\"%s\",\"batch_bytes\":%zu,\"partitions\":%d,"
           "\"flush\":\"%s\",\"runs\":%d,\"mb_s_median\":%.1f,\"records_s_median\":%.0f",
           SCHEMA, bench, impl, w->batch_target, w->parts, w->sync ? "always" : "none", n, mb,
           field_median(s, n, offsetof(struct sample, rec_s)));
    printf(",\"mb_s_min\":%.1f,\"mb_s_max\":%.1f", v[0], v[n - 1]);
    printf(",\"batch_len\":%zu,\"batch_records\":%d,\"bytes\":%" PRIu64, w->batch_len, w->records, work_bytes(w));
    if (base) printf(",\"vs_baseline\":%.3f", mb / field_median(base, n, offsetof(struct sample, mb_s)));
    if (fsyncs) printf(",\"fsyncs_per_batch\":%.4f", field_median(s, n, offsetof(struct sample, fsyncs_per_batch)));
    printf("}\n");
    fflush(stdout);
}

/* ---- the driver ------------------------------------------------------------- */

static void bench_config(const struct opts *o, size_t target, int parts, bool sync)
{
    struct work w;
    work_init(&w, o, target, parts, sync);
    struct sample app[RUNS_MAX], raw[RUNS_MAX], rd[RUNS_MAX], rd_base[RUNS_MAX];
    const char *flush = sync ? "always" : "none", *raw_impl = sync ? "pwrite+fdatasync" : "pwrite";
    fprintf(stderr, "== append %zu B batches (%zu B, %d records) x %d partitions, flush=%s, %" PRIu64 " MB/run\n",
            target, w.batch_len, w.records, parts, flush, work_bytes(&w) / 1000000);
    for (int r = 0; r < o->runs; r++) {
        check_interrupt(o);
        engine_run(&w, &app[r], &rd[r], &rd_base[r]);
        check_interrupt(o);
        raw[r] = raw_run(&w);
        fprintf(stderr, "   run %d/%d: append weir %.1f MB/s, %s %.1f MB/s; read weir %.1f MB/s, pread %.1f MB/s\n",
                r + 1, o->runs, app[r].mb_s, raw_impl, raw[r].mb_s, rd[r].mb_s, rd_base[r].mb_s);
    }
    print_row(&w, "append", "weir", app, raw, sync);
    print_row(&w, "append", raw_impl, raw, NULL, false);
    print_row(&w, "read", "weir", rd, rd_base, false);
    print_row(&w, "read", "pread", rd_base, NULL, false);
    fprintf(stderr, "   (read checksum %" PRIx64 ")\n", w.sink);
    work_free(&w);
}

/* One untimed engine run and raw run: the first runs of a process fault in
 * memory the guest (or host) has not touched yet and are much slower. */
static void warm_up(const struct opts *o, size_t target, int parts, bool sync)
{
    struct work w;
    struct sample app, rd, rd_base;
    work_init(&w, o, target, parts, sync);
    fprintf(stderr, "== warm-up (not reported): %zu B batches x %d partitions, flush=%s\n", target, parts,
            sync ? "always" : "none");
    engine_run(&w, &app, &rd, &rd_base);
    raw_run(&w);
    work_free(&w);
}

static void usage(FILE *f)
{
    fputs("usage: bench_append [--bytes N] [--sync-bytes N] [--runs N] [--dir PATH] [--quick]\n"
          "                    [--depth N] [--batch N] [--partitions N] [--flush none|always]\n"
          "  --bytes N       bytes per run with flush=none (default 1G; K/M/G suffixes)\n"
          "  --sync-bytes N  bytes per run with flush=always (default 256M)\n"
          "  --runs N        runs per row, medians reported (default 5, max 99)\n"
          "  --dir PATH      make the bench directory under PATH (default $TMPDIR or /tmp)\n"
          "  --quick         64M / 8M, 1 run: a smoke check\n"
          "  --depth N       appends outstanding per partition: at most N batches and N MiB (default 64)\n"
          "  --batch, --partitions, --flush  run only the matching rows\n",
          f);
}

static uint64_t parse_size(const struct opts *o, const char *s)
{
    uint64_t v;
    if (!size_parse(s, &v)) fatal(o, "bad size: %s", s);
    return v;
}

static int parse_flush(const struct opts *o, const char *s)
{
    if (!strcmp(s, "none")) return 0;
    if (!strcmp(s, "always")) return 1;
    fatal(o, "--flush takes none or always, not %s", s);
}

static const char *arg_value(const struct opts *o, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) fatal(o, "%s needs a value", argv[*i]);
    return argv[++*i];
}

static void parse_args(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){ .only_flush = -1 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--bytes")) o->bytes = parse_size(o, arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--sync-bytes")) o->sync_bytes = parse_size(o, arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--runs")) o->runs = atoi(arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--depth")) o->depth = atoi(arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--dir")) o->dir_arg = arg_value(o, argc, argv, &i);
        else if (!strcmp(a, "--quick")) o->quick = true;
        else if (!strcmp(a, "--batch")) o->only_batch = (size_t)parse_size(o, arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--partitions")) o->only_parts = atoi(arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--flush")) o->only_flush = parse_flush(o, arg_value(o, argc, argv, &i));
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            fatal(o, "unknown argument: %s", a);
        }
    }
    if (!o->bytes) o->bytes = o->quick ? 64 * MIB : GIB;
    if (!o->sync_bytes) o->sync_bytes = o->quick ? 8 * MIB : 256 * MIB;
    if (!o->runs) o->runs = o->quick ? 1 : 5;
    if (o->runs < 1 || o->runs > RUNS_MAX) fatal(o, "--runs must be 1..%d", RUNS_MAX);
    if (!o->depth) o->depth = DEPTH_DEFAULT;
    if (o->depth < 1 || o->depth > DEPTH_MAX) fatal(o, "--depth must be 1..%d", DEPTH_MAX);
}

static void make_root(struct opts *o)
{
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(o->dir_arg, "weir-bench", o->root, sizeof o->root, tmpl);
    if (rc < 0) fatal(o, "--dir path too long");
    if (rc > 0) fatal(o, "mkdtemp %s: %s", tmpl, strerror(rc));
}

static bool selected(const struct opts *o, size_t batch, int parts, bool sync)
{
    return (!o->only_batch || o->only_batch == batch) && (!o->only_parts || o->only_parts == parts) &&
           (o->only_flush < 0 || o->only_flush == (int)sync);
}

int main(int argc, char **argv)
{
    static const size_t batch_sizes[] = { 16 << 10, 64 << 10, 1 << 20 };
    static const int part_counts[] = { 1, 8 };
    struct opts o;
    parse_args(&o, argc, argv);
    stop_signals_block(&o.stop_signals);
    make_root(&o);
    weir_log_set_level(WEIR_LOG_WARN);
    print_machine(&o);
    bool warm = false;
    for (int sync = 0; sync <= 1; sync++)
        for (size_t b = 0; b < WEIR_ARRAY_LEN(batch_sizes); b++)
            for (size_t p = 0; p < WEIR_ARRAY_LEN(part_counts); p++)
                if (selected(&o, batch_sizes[b], part_counts[p], sync)) {
                    if (!warm) warm_up(&o, batch_sizes[b], part_counts[p], sync);
                    warm = true;
                    bench_config(&o, batch_sizes[b], part_counts[p], sync);
                }
    rmrf(o.root);
    return 0;
}
