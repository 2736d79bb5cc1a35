/* net/metrics.c: the broker's HTTP listener of its own (weir.metrics.listen):
 * GET /metrics (Prometheus text exposition format 0.0.4), /health (200 while
 * the process is up) and /ready (200 once data is loaded and the Kafka
 * listeners accept; 503 before and while stopping).
 *
 * HTTP is libmicrohttpd's, on its own thread (one polling thread: requests
 * are served one after another, each in well under a millisecond): no reactor
 * ever parses HTTP or formats text. A request's headers are bounded
 * (METRICS_REQUEST_BYTES: past it MHD refuses the request), a connection
 * idle for METRICS_IDLE_S is closed, at most METRICS_CONNS are open.
 *
 * What the reactors own (partitions, groups, appender counters) is read by a
 * snapshot task posted to each reactor, which copies it on that reactor's
 * thread; the HTTP thread waits for all of them (at most METRICS_WAIT_MS,
 * else 503), then formats. Counters kept as atomics (reactor_stats) are read
 * directly. Invariants:
 *  (1) a snapshot task is posted only while `posting` (metrics_quiesce clears
 *      it before the reactors stop), and metrics_quiesce returns only once
 *      every posted task has run (tasks_out == 0), so none is left in a
 *      stopped reactor's mailbox;
 *  (2) a scrape's state is freed by whichever of the scraper and its tasks
 *      lets go of it last (refs), so a scraper that timed out leaves no task
 *      writing into freed memory. */
#include "net_int.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    METRICS_REQUEST_BYTES = 8 << 10, /* a request's line and headers (MHD's connection memory) */
    METRICS_IDLE_S = 10,             /* a connection silent this long is closed */
    METRICS_CONNS = 32,
    METRICS_WAIT_MS = 2000,          /* for the reactors' snapshots */
    QUIESCE_WAIT_MS = 10000,
};

struct metrics {
    struct broker *b;
    struct MHD_Daemon *d;
    _Atomic bool ready;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool posting;      /* (1) */
    unsigned tasks_out;
};

/* ---- snapshots taken on the reactors ---------------------------------------------- */

struct snap_part {
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
    int64_t start, end, hw;
    uint64_t size;
    unsigned segments;
};

struct snap_offset {
    char *group, *topic; /* in the snapshot's arena */
    int32_t partition;
    int64_t offset;
};

struct scrape;

struct snap {
    struct task t;
    struct scrape *sc;
    struct metrics *m;
    struct weir_appender_stats ap;
    struct snap_part *parts;
    size_t n_parts;
    struct snap_offset *offsets;
    size_t n_offsets, cap_offsets;
    struct weir_arena arena;
    bool failed; /* out of memory: what it has is partial */
};

struct scrape {
    unsigned left, refs; /* under metrics.mu */
    unsigned n;
    struct snap snaps[];
};

static void scrape_unref(struct metrics *m, struct scrape *sc) /* under m->mu */
{
    (void)m;
    WEIR_ASSERT(sc->refs > 0);
    if (--sc->refs > 0) return;
    for (unsigned i = 0; i < sc->n; i++) {
        weir_free(sc->snaps[i].parts);
        weir_free(sc->snaps[i].offsets);
        weir_arena_destroy(&sc->snaps[i].arena);
    }
    weir_free(sc);
}

static char *snap_strdup(struct snap *s, const char *text)
{
    size_t n = strlen(text) + 1;
    char *p = weir_arena_alloc(&s->arena, n);
    if (p) memcpy(p, text, n);
    return p;
}

static void snap_offset(void *ctx, const char *group, const char *topic, int32_t partition, int64_t offset)
{
    struct snap *s = ctx;
    if (s->failed) return;
    if (s->n_offsets == s->cap_offsets) {
        size_t cap = s->cap_offsets ? 2 * s->cap_offsets : 64;
        struct snap_offset *grown = weir_realloc(s->offsets, cap * sizeof *grown);
        if (!grown) {
            s->failed = true;
            return;
        }
        s->offsets = grown, s->cap_offsets = cap;
    }
    struct snap_offset *o = &s->offsets[s->n_offsets];
    o->group = snap_strdup(s, group);
    o->topic = snap_strdup(s, topic);
    if (!o->group || !o->topic) {
        s->failed = true;
        return;
    }
    o->partition = partition, o->offset = offset;
    s->n_offsets++;
}

/* On the reactor: copies what it owns, then lets the scraper know. */
static void snap_run(struct reactor *r, struct task *t)
{
    struct snap *s = weir_container_of(t, struct snap, t);
    weir_appender_stats(r->ap, &s->ap);
    s->parts = r->parts.count ? weir_calloc(r->parts.count, sizeof *s->parts) : NULL;
    s->failed = r->parts.count && !s->parts;
    for (size_t i = 0; s->parts && i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i]; p && s->n_parts < r->parts.count; p = p->hnext) {
            struct snap_part *sp = &s->parts[s->n_parts++];
            snprintf(sp->topic, sizeof sp->topic, "%s", p->topic);
            sp->partition = p->partition;
            sp->start = weir_log_start_offset(p->log);
            sp->end = weir_log_end_offset(p->log);
            sp->hw = weir_log_high_watermark(p->log);
            sp->size = weir_log_size_bytes(p->log);
            sp->segments = weir_log_segment_count(p->log);
        }
    groups_offsets_each(r, snap_offset, s);
    struct metrics *m = s->m;
    pthread_mutex_lock(&m->mu);
    s->sc->left--;
    m->tasks_out--;
    scrape_unref(m, s->sc); /* s may be gone now */
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Posts a snapshot task to every reactor and waits for them. NULL: not now
 * (stopping, out of memory, or a reactor did not answer in time). */
static struct scrape *scrape_take(struct metrics *m)
{
    struct broker *b = m->b;
    struct scrape *sc = weir_calloc(1, sizeof *sc + b->n_reactors * sizeof sc->snaps[0]);
    if (!sc) return NULL;
    sc->n = b->n_reactors;
    for (unsigned i = 0; i < sc->n; i++) {
        struct snap *s = &sc->snaps[i];
        *s = (struct snap){ .t.run = snap_run, .sc = sc, .m = m };
        if (weir_arena_init_growable(&s->arena, 4096, 1u << 30) != WEIR_OK) {
            for (unsigned j = 0; j < i; j++) weir_arena_destroy(&sc->snaps[j].arena);
            weir_free(sc);
            return NULL;
        }
    }
    pthread_mutex_lock(&m->mu);
    sc->refs = 1;
    if (m->posting) {
        sc->left = sc->n;
        sc->refs += sc->n;
        m->tasks_out += sc->n;
        for (unsigned i = 0; i < sc->n; i++) reactor_post(&b->reactors[i], &sc->snaps[i].t);
    }
    bool posted = m->posting;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += METRICS_WAIT_MS / 1000;
    while (posted && sc->left > 0)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT) break;
    bool complete = posted && sc->left == 0;
    if (!complete) {
        scrape_unref(m, sc);
        sc = NULL;
    }
    pthread_mutex_unlock(&m->mu);
    if (posted && !complete) WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "metrics: a reactor did not answer in %d ms",
                                                  METRICS_WAIT_MS);
    return sc;
}

static void scrape_free(struct metrics *m, struct scrape *sc)
{
    pthread_mutex_lock(&m->mu);
    scrape_unref(m, sc);
    pthread_mutex_unlock(&m->mu);
}

/* ---- the text format ----------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !o->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = WEIR_MAX(2 * o->cap, o->len + (size_t)n + 1);
        char *grown = realloc(o->buf, cap); /* handed to MHD, which frees it with free() */
        if (!grown) {
            o->failed = true;
            return;
        }
        o->buf = grown, o->cap = cap;
    }
}

static void out_help(struct out *o, const char *name, const char *type, const char *help)
{
    out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \, " and newline escaped (group ids are any string). */
static void out_label(struct out *o, const char *v)
{
    for (; *v && !o->failed; v++) {
        if (*v == '\\') out_printf(o, "\\\\");
        else if (*v == '"') out_printf(o, "\\\"");
        else if (*v == '\n') out_printf(o, "\\n");
        else out_printf(o, "%c", *v);
    }
}

static const char *api_name(unsigned slot)
{
    if (slot == METRICS_APIS - 1) return "unknown";
    const struct kproto_api *a = kproto_api_find((int16_t)slot);
    return a ? a->name : "unknown";
}

static uint64_t ld(const _Atomic uint64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static void format_requests(struct out *o, const struct broker *b)
{
    out_help(o, "weir_requests_total", "counter", "Kafka requests answered, by API.");
    for (unsigned a = 0; a < METRICS_APIS; a++) {
        uint64_t n = 0;
        for (unsigned i = 0; i < b->n_reactors; i++) n += ld(&b->reactors[i].stats.api_requests[a]);
        if (n) out_printf(o, "weir_requests_total{api=\"%s\"} %" PRIu64 "\n", api_name(a), n);
    }
    out_help(o, "weir_request_errors_total", "counter",
             "Error codes answered, by API and Kafka error code (per partition for Produce, Fetch, OffsetCommit).");
    for (unsigned a = 0; a < METRICS_APIS; a++)
        for (unsigned c = 0; c < METRICS_CODES; c++) {
            uint64_t n = 0;
            for (unsigned i = 0; i < b->n_reactors; i++) n += ld(&b->reactors[i].stats.api_errors[a][c]);
            if (n) out_printf(o, "weir_request_errors_total{api=\"%s\",code=\"%d\"} %" PRIu64 "\n", api_name(a),
                              (int)c - 1, n);
        }
    out_help(o, "weir_request_duration_seconds", "histogram",
             "Time from a request's frame received to its response ready, by API.");
    for (unsigned a = 0; a < METRICS_APIS; a++) {
        uint64_t bucket[METRICS_LAT_BUCKETS + 1] = { 0 }, sum_ns = 0, count = 0;
        for (unsigned i = 0; i < b->n_reactors; i++) {
            const struct reactor_stats *s = &b->reactors[i].stats;
            for (unsigned k = 0; k <= METRICS_LAT_BUCKETS; k++) bucket[k] += ld(&s->api_latency[a][k]);
            sum_ns += ld(&s->api_latency_ns[a]);
        }
        for (unsigned k = 0; k <= METRICS_LAT_BUCKETS; k++) count += bucket[k];
        if (!count) continue;
        uint64_t cum = 0;
        const char *name = api_name(a);
        for (unsigned k = 0; k < METRICS_LAT_BUCKETS; k++) {
            cum += bucket[k];
            out_printf(o, "weir_request_duration_seconds_bucket{api=\"%s\",le=\"%g\"} %" PRIu64 "\n", name,
                       (double)metrics_latency_bound_ns[k] / 1e9, cum);
        }
        out_printf(o, "weir_request_duration_seconds_bucket{api=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, count);
        out_printf(o, "weir_request_duration_seconds_sum{api=\"%s\"} %.9f\n", name, (double)sum_ns / 1e9);
        out_printf(o, "weir_request_duration_seconds_count{api=\"%s\"} %" PRIu64 "\n", name, count);
    }
}

#define SUM_STAT(field) sum_stat(b, offsetof(struct reactor_stats, field))
static uint64_t sum_stat(const struct broker *b, size_t off)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < b->n_reactors; i++)
        n += ld((const _Atomic uint64_t *)((const char *)&b->reactors[i].stats + off));
    return n;
}

static void format_counter(struct out *o, const char *name, const char *help, uint64_t v)
{
    out_help(o, name, "counter", help);
    out_printf(o, "%s %" PRIu64 "\n", name, v);
}

static void format_gauge(struct out *o, const char *name, const char *help, double v)
{
    out_help(o, name, "gauge", help);
    out_printf(o, "%s %.17g\n", name, v);
}

static void format_reactors(struct out *o, const struct broker *b)
{
    static const struct {
        const char *name, *help;
        size_t off;
        double scale;
    } per_reactor[] = {
        { "weir_reactor_turns_total", "Reactor loop turns.", offsetof(struct reactor_stats, turns), 1 },
        { "weir_reactor_sqes_submitted_total", "io_uring SQEs submitted by the reactor (sockets and appender).",
          offsetof(struct reactor_stats, sqes_submitted), 1 },
        { "weir_reactor_cqes_reaped_total", "io_uring CQEs reaped by the reactor.",
          offsetof(struct reactor_stats, cqes_reaped), 1 },
        { "weir_reactor_enter_seconds_total",
          "Time in io_uring_submit_and_wait (submitting, then waiting); 1 - its rate is the busy ratio.",
          offsetof(struct reactor_stats, enter_ns), 1e-9 },
    };
    for (size_t k = 0; k < WEIR_ARRAY_LEN(per_reactor); k++) {
        out_help(o, per_reactor[k].name, "counter", per_reactor[k].help);
        for (unsigned i = 0; i < b->n_reactors; i++) {
            uint64_t v = ld((const _Atomic uint64_t *)((const char *)&b->reactors[i].stats + per_reactor[k].off));
            if (per_reactor[k].scale == 1) out_printf(o, "%s{reactor=\"%u\"} %" PRIu64 "\n", per_reactor[k].name, i, v);
            else out_printf(o, "%s{reactor=\"%u\"} %.9f\n", per_reactor[k].name, i, (double)v * per_reactor[k].scale);
        }
    }
}

static void format_broker(struct out *o, struct metrics *m)
{
    struct broker *b = m->b;
    format_gauge(o, "weir_ready", "1 when /ready answers 200: data loaded, Kafka listeners accepting.",
                 atomic_load(&m->ready) ? 1 : 0);
    format_gauge(o, "weir_reactors", "Reactor threads.", b->n_reactors);
    format_gauge(o, "weir_connections_open", "Kafka client connections open.",
                 atomic_load_explicit(&b->conns_open, memory_order_relaxed));
    format_counter(o, "weir_connections_accepted_total", "Kafka client connections accepted.",
                   SUM_STAT(connections));
    format_counter(o, "weir_received_bytes_total", "Bytes received on Kafka connections.", SUM_STAT(bytes_in));
    format_counter(o, "weir_sent_bytes_total", "Bytes sent on Kafka connections.", SUM_STAT(bytes_out));
    out_help(o, "weir_fetch_record_bytes_total", "counter", "Record bytes sent by Fetch, by send mode.");
    out_printf(o, "weir_fetch_record_bytes_total{mode=\"splice\"} %" PRIu64 "\n", SUM_STAT(fetch_bytes_splice));
    out_printf(o, "weir_fetch_record_bytes_total{mode=\"copy\"} %" PRIu64 "\n", SUM_STAT(fetch_bytes_copy));
    format_counter(o, "weir_produced_records_total", "Records appended by Produce requests.", SUM_STAT(records_in));
    format_counter(o, "weir_fetched_records_total",
                   "Records in the batches Fetch v4+ sent (followers' fetches included; a batch counts whole).",
                   SUM_STAT(records_out));
    format_reactors(o, b);
    format_counter(o, "weir_waiter_wakeups_total", "Long-poll waiters woken by appends.", SUM_STAT(wakeups));
    format_counter(o, "weir_waiter_wake_posts_total", "Wake-up tasks posted between reactors.",
                   SUM_STAT(wake_posts));
    struct weir_disk_stats ds;
    weir_store_disk_stats(b->store, &ds);
    format_gauge(o, "weir_disk_free_bytes", "Free bytes on the data directory's file system (last check).",
                 (double)ds.free_bytes);
    format_gauge(o, "weir_disk_reserve_bytes", "Free bytes below which produce is refused (log.disk.reserve.bytes).",
                 (double)ds.reserve_bytes);
    format_gauge(o, "weir_disk_preallocated_unused_bytes", "Bytes allocated ahead of writes, all logs.",
                 (double)ds.prealloc_unused_bytes);
    format_gauge(o, "weir_disk_low", "1 while free space is below the reserve (produce refused).", ds.low ? 1 : 0);
}

static void format_appender(struct out *o, const struct scrape *sc)
{
    struct weir_appender_stats t = { 0 };
    for (unsigned i = 0; i < sc->n; i++) {
        const struct weir_appender_stats *s = &sc->snaps[i].ap;
        t.submits += s->submits, t.writes += s->writes, t.fsyncs += s->fsyncs, t.batches += s->batches;
        t.bytes += s->bytes, t.fsync_ns += s->fsync_ns;
        for (unsigned k = 0; k <= WEIR_FSYNC_BUCKETS; k++) t.fsync_hist[k] += s->fsync_hist[k];
    }
    format_counter(o, "weir_appender_submissions_total", "io_uring submissions that carried appender work.",
                   t.submits);
    format_counter(o, "weir_appender_writes_total", "writev operations of write groups.", t.writes);
    format_counter(o, "weir_appended_batches_total", "Record batches written.", t.batches);
    format_counter(o, "weir_appended_bytes_total", "Record batch bytes written.", t.bytes);
    format_counter(o, "weir_fsyncs_total", "fdatasync operations queued on logs.", t.fsyncs);
    out_help(o, "weir_fsync_duration_seconds", "histogram",
             "fdatasync latency, from queued (after its linked writev) to completed.");
    uint64_t cum = 0;
    for (unsigned k = 0; k < WEIR_FSYNC_BUCKETS; k++) {
        cum += t.fsync_hist[k];
        out_printf(o, "weir_fsync_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                   (double)weir_fsync_bucket_ns[k] / 1e9, cum);
    }
    cum += t.fsync_hist[WEIR_FSYNC_BUCKETS];
    out_printf(o, "weir_fsync_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    out_printf(o, "weir_fsync_duration_seconds_sum %.9f\n", (double)t.fsync_ns / 1e9);
    out_printf(o, "weir_fsync_duration_seconds_count %" PRIu64 "\n", cum);
}

static const struct {
    const char *name, *help;
    size_t off;
    bool u64;
} part_series[] = {
    { "weir_partition_log_start_offset", "First offset of the partition's log.", offsetof(struct snap_part, start), 0 },
    { "weir_partition_log_end_offset", "Offset after the last appended record.", offsetof(struct snap_part, end), 0 },
    { "weir_partition_high_watermark", "Offset after the last committed record (what consumers read up to).",
      offsetof(struct snap_part, hw), 0 },
    { "weir_partition_size_bytes", "Bytes of the partition's segments on disk.", offsetof(struct snap_part, size), 1 },
};

static void format_parts(struct out *o, const struct scrape *sc)
{
    for (size_t k = 0; k < WEIR_ARRAY_LEN(part_series); k++) {
        out_help(o, part_series[k].name, "gauge", part_series[k].help);
        for (unsigned i = 0; i < sc->n; i++)
            for (size_t j = 0; j < sc->snaps[i].n_parts; j++) {
                const struct snap_part *p = &sc->snaps[i].parts[j];
                const char *at = (const char *)p + part_series[k].off;
                int64_t v = part_series[k].u64 ? (int64_t) * (const uint64_t *)at : *(const int64_t *)at;
                out_printf(o, "%s{topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64 "\n", part_series[k].name,
                           p->topic, p->partition, v);
            }
    }
    out_help(o, "weir_partition_segments", "gauge", "Segments of the partition's log.");
    for (unsigned i = 0; i < sc->n; i++)
        for (size_t j = 0; j < sc->snaps[i].n_parts; j++) {
            const struct snap_part *p = &sc->snaps[i].parts[j];
            out_printf(o, "weir_partition_segments{topic=\"%s\",partition=\"%" PRId32 "\"} %u\n", p->topic,
                       p->partition, p->segments);
        }
}

static const struct snap_part *part_lookup(const struct scrape *sc, const char *topic, int32_t partition)
{
    for (unsigned i = 0; i < sc->n; i++) /* O(partitions) per offset; see docs/operations.md on the cost */
        for (size_t j = 0; j < sc->snaps[i].n_parts; j++)
            if (sc->snaps[i].parts[j].partition == partition && !strcmp(sc->snaps[i].parts[j].topic, topic))
                return &sc->snaps[i].parts[j];
    return NULL;
}

static void format_groups(struct out *o, const struct scrape *sc)
{
    for (int lag = 0; lag < 2; lag++) {
        const char *name = lag ? "weir_group_lag_records" : "weir_group_committed_offset";
        out_help(o, name, "gauge",
                 lag ? "High watermark minus committed offset (partitions hosted here)." : "Committed offset.");
        for (unsigned i = 0; i < sc->n; i++)
            for (size_t j = 0; j < sc->snaps[i].n_offsets; j++) {
                const struct snap_offset *c = &sc->snaps[i].offsets[j];
                int64_t v = c->offset;
                if (lag) {
                    const struct snap_part *p = part_lookup(sc, c->topic, c->partition);
                    if (!p) continue;
                    v = WEIR_MAX(0, p->hw - c->offset);
                }
                out_printf(o, "%s{group=\"", name);
                out_label(o, c->group);
                out_printf(o, "\",topic=\"%s\",partition=\"%" PRId32 "\"} %" PRId64 "\n", c->topic, c->partition, v);
            }
    }
}

/* ---- HTTP --------------------------------------------------------------------------- */

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_metrics(struct metrics *m, struct MHD_Connection *conn)
{
    struct out o = { .cap = 64 << 10 };
    o.buf = malloc(o.cap);
    if (!o.buf) return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    format_broker(&o, m);
    format_requests(&o, m->b);
    struct scrape *sc = scrape_take(m);
    if (sc) {
        format_appender(&o, sc);
        format_parts(&o, sc);
        format_groups(&o, sc);
        scrape_free(m, sc);
    }
    if (o.failed) {
        free(o.buf);
        return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(o.len, o.buf, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(o.buf);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    struct metrics *m = cls;
    bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
    bool known = !strcmp(url, "/metrics") || !strcmp(url, "/health") || !strcmp(url, "/ready");
    if (!known) return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: /metrics, /health, /ready\n");
    if (!get) return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (!strcmp(url, "/health")) return reply_text(conn, MHD_HTTP_OK, "ok\n");
    if (!strcmp(url, "/ready"))
        return atomic_load(&m->ready) ? reply_text(conn, MHD_HTTP_OK, "ready\n")
                                      : reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    return reply_metrics(m, conn);
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "metrics: %s", line);
}

enum weir_err metrics_start(struct broker *b, uint16_t *port, char *why, size_t cap)
{
    const struct weir_listener *l = &b->cfg.metrics;
    *port = 0;
    if (!b->cfg.metrics_on) return WEIR_OK;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *ai = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", l->port);
    int rc = getaddrinfo(l->host, service, &hints, &ai);
    if (rc != 0) {
        snprintf(why, cap, "cannot listen on %s:%u (weir.metrics.listen): %s", l->host, l->port, gai_strerror(rc));
        return WEIR_E_IO;
    }
    struct metrics *m = weir_calloc(1, sizeof *m);
    if (!m) {
        freeaddrinfo(ai);
        return WEIR_E_NOMEM;
    }
    m->b = b;
    m->posting = true;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    m->d = MHD_start_daemon(flags, l->port, NULL, NULL, http_request, m, MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_IDLE_S,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONNS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)METRICS_REQUEST_BYTES, MHD_OPTION_END);
    int saved = errno;
    freeaddrinfo(ai);
    if (!m->d) {
        snprintf(why, cap, "cannot listen on %s:%u (weir.metrics.listen): %s", l->host, l->port,
                 saved ? strerror(saved) : "libmicrohttpd could not start");
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        weir_free(m);
        return WEIR_E_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : l->port;
    b->metrics = m;
    return WEIR_OK;
}

void metrics_ready(struct broker *b)
{
    struct metrics *m = b->metrics;
    if (!m) return;
    /* A snapshot's round trip: every reactor has opened its partitions
     * (reactor_main does that before it runs any task). */
    for (int tries = 0; tries < 30; tries++) {
        struct scrape *sc = scrape_take(m);
        if (sc) {
            scrape_free(m, sc);
            atomic_store(&m->ready, true);
            return;
        }
    }
    weir_log(WEIR_LOG_WARN, "metrics: the reactors did not answer: /ready stays 503");
}

void metrics_quiesce(struct broker *b)
{
    struct metrics *m = b->metrics;
    if (!m) return;
    atomic_store(&m->ready, false);
    pthread_mutex_lock(&m->mu);
    m->posting = false;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += QUIESCE_WAIT_MS / 1000;
    while (m->tasks_out > 0)
        if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT) break;
    WEIR_ASSERT(m->tasks_out == 0); /* (1): the reactors still run, so every posted task has had its turn */
    pthread_mutex_unlock(&m->mu);
}

void metrics_stop(struct broker *b)
{
    struct metrics *m = b->metrics;
    if (!m) return;
    metrics_quiesce(b);
    MHD_stop_daemon(m->d);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    weir_free(m);
    b->metrics = NULL;
}
