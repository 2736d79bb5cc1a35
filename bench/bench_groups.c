/* bench/bench_groups.c: consumer groups on loopback, librdkafka's consumer and
 * weir's (libweir_client) measured the same way in the same run.
 *
 * The program starts its own broker (`weir serve` on 127.0.0.1:0, a fresh data
 * directory under --dir) with one topic of 6 partitions holding --records
 * records per partition. Group members are child processes: this program
 * exec'd with --member CLIENT, one consumer each, librdkafka's or weir's
 * (range assignor, manual commits, auto.offset.reset earliest,
 * session.timeout.ms and heartbeat.interval.ms from the options, the same for
 * both), reading commands on stdin and writing events with their
 * CLOCK_MONOTONIC time (one clock for every process) on stdout: the rebalance
 * callback's assign and revoke, the first record, subscribe and close. So a
 * member can die without a LeaveGroup (SIGKILL) and every time is taken where
 * it happens. Each run uses a fresh group, of one client's members only. Run
 * by run the two clients alternate (librdkafka first on even runs, weir first
 * on odd ones), so both see the same machine load as far as back-to-back
 * runs can.
 *
 * Rows (one JSON object per line on stdout; progress on stderr), each group
 * row once per client ("client": "librdkafka" or "weir"); weir's rows add
 * vs_librdkafka (weir's median over librdkafka's) and vs_librdkafka_paired
 * (the median of the per-run ratios):
 *  - machine: the box, the options, the client libraries, the load average.
 *  - group_rebalance, case member_death: 3 members own 2 partitions each; one
 *    is killed with SIGKILL; the time from the kill to the moment the two
 *    survivors' rebalance callbacks have assigned all 6 partitions (3 + 3).
 *    Split into detect_ms (kill to the first survivor's revoke: the session
 *    timeout running out, plus up to a heartbeat interval) and rejoin_ms
 *    (that revoke to the full assignment: the other survivor's next heartbeat,
 *    JoinGroup, SyncGroup).
 *  - group_rebalance, case graceful_leave: the same, but the member closes its
 *    consumer (LeaveGroup); the time runs from that call.
 *  - group_join: 2 members are stable (3 partitions each, no commits); a third
 *    process, already started (connected, metadata loaded), subscribes; the
 *    times from that call to its assignment and to its first record (from
 *    offset 0, records exist in every partition). Baseline: such a process
 *    assigned 2 partitions from the beginning without the group protocol
 *    (rd_kafka_assign, weir_consumer_assign), assign to first record.
 *  - group_commit: one subscribed consumer (all 6 partitions) per client
 *    commits for --commit-secs: synchronously, 1 or 6 partitions per commit,
 *    and asynchronously (at most --async-window outstanding) 1 or 6
 *    partitions per commit. Baseline in the same runs: the disk's fdatasync
 *    rate (100-byte pwrite + fdatasync appended into a preallocated file in
 *    the bench directory, as the broker appends a commit to
 *    __consumer_offsets before it answers); vs_fdatasync = commits/s over
 *    fdatasync/s. And the committed-offset lookup in a loop
 *    (group_offset_fetch: rd_kafka_committed, weir_consumer_committed): a
 *    round trip to the coordinator without the disk.
 *  - end: elapsed seconds, the load average.
 * Each row gives the median, min and max over --runs runs. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef WEIR_HAVE_RDKAFKA

int main(void)
{
    fputs("bench_groups: built without librdkafka (apt-get install librdkafka-dev, then rebuild)\n", stderr);
    return 77;
}

#else

#include <librdkafka/rdkafka.h>
#include "bench/util.h"
#include "client/client.h"

enum {
    SCHEMA = 1,
    RUNS_MAX = 99,
    PARTS = 6,
    ALL_PARTS = (1 << PARTS) - 1,
    MEMBERS_MAX = 4,
    VALUE_BYTES = 100,
    START_TIMEOUT_MS = 60000,
    STOP_TIMEOUT_MS = 60000,
    ADMIN_TIMEOUT_MS = 30000,
    STABLE_TIMEOUT_MS = 60000,   /* a group forms or rebalances (besides the session timeout) */
    CLOSE_TIMEOUT_MS = 30000,
    WARMUP_TIMEOUT_MS = 30000,   /* the weir member's first OffsetFetch */
    DRAIN_TIMEOUT_MS = 30000,    /* the answers of the last asynchronous commits */
    BASELINE_FILE_BYTES = 64 << 20,
};
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum part { PART_DEATH = 1, PART_LEAVE = 2, PART_JOIN = 4, PART_COMMIT = 8, PART_ALL = 15 };

/* The consumers compared; librdkafka is the baseline of the vs_ ratios. */
enum client { CL_RDKAFKA = 0, CL_WEIR = 1, CLIENTS = 2 };
static const char *const CLIENT_NAMES[CLIENTS] = { "librdkafka", "weir" };
static const char *const CLIENT_ARGS[CLIENTS] = { "rdkafka", "weir" }; /* --member and --clients names */

static const char TOPIC[] = "bench-groups";

struct opts {
    const char *dir_arg, *weir_bin;
    char weir_buf[PATH_MAX];
    int runs, session_ms, heartbeat_ms, records, commit_secs, async_window;
    unsigned parts, clients; /* clients: bit per enum client */
};

/* One member process, as the parent sees it through its events. */
struct member {
    pid_t pid;                  /* 0: not running */
    int cmd_fd, ev_fd;          /* its stdin; its stdout */
    char buf[4096];
    size_t len;
    bool ready, eof;
    unsigned parts;             /* current assignment, one bit per partition */
    int64_t sub_ns, assign_ns, revoke_ns, first_ns, closing_ns; /* 0: not yet */
};

struct ctx {
    struct opts o;
    char self[PATH_MAX];        /* this program, exec'd for members */
    char root[PATH_MAX - 64];
    sigset_t stop_signals;
    pid_t broker;
    char bootstrap[64];
    char log_path[PATH_MAX];
    rd_kafka_t *admin;
    struct member m[MEMBERS_MAX];
    int group_seq;
};

static void members_kill(struct ctx *x)
{
    for (int i = 0; i < MEMBERS_MAX; i++)
        if (x->m[i].pid > 0) kill(x->m[i].pid, SIGKILL), waitpid(x->m[i].pid, NULL, 0), x->m[i].pid = 0;
}

/* Kills the members, then as every bench: the broker, its log's end, the
 * bench directory; exit 1. */
static _Noreturn void fatal(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fatal(struct ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    members_kill(x);
    bench_vfail("bench_groups", x->broker, x->log_path, x->root, fmt, ap);
}

/* Stop signals stay blocked (the clients' threads inherit the mask) and are
 * checked in every wait, so an interrupted bench still stops its children
 * and removes its data. */
static void check_interrupt(struct ctx *x)
{
    int sig = stop_signal_pending(&x->stop_signals);
    if (sig) fatal(x, "interrupted by signal %d", sig);
}

struct stat3 {
    double med, min, max;
};

static struct stat3 stat3_of(const double *v, int n)
{
    double s[RUNS_MAX];
    memcpy(s, v, (size_t)n * sizeof s[0]);
    double med = median(s, n); /* sorts s */
    return (struct stat3){ med, s[0], s[n - 1] };
}

/* The median over runs of a[r] / b[r] (run r of both ran back to back). */
static double paired_ratio(const double *a, const double *b, int n)
{
    double v[RUNS_MAX];
    for (int i = 0; i < n; i++) v[i] = b[i] > 0 ? a[i] / b[i] : 0;
    return median(v, n);
}

static bool both_clients(const struct ctx *x) { return x->o.clients == (1u << CLIENTS) - 1; }

/* The clients of run r in their order: librdkafka first on even runs. */
static int run_order(const struct ctx *x, int r, enum client out[CLIENTS])
{
    int n = 0;
    for (int k = 0; k < CLIENTS; k++) {
        enum client c = (enum client)((k + r) % CLIENTS);
        if (x->o.clients & (1u << c)) out[n++] = c;
    }
    return n;
}

/* Calls fn(x, client, run, arg) for --runs runs of every client, in
 * run_order, checking for stop signals before each. */
static void runs_alternate(struct ctx *x, void (*fn)(struct ctx *x, enum client c, int r, void *arg), void *arg)
{
    for (int r = 0; r < x->o.runs; r++) {
        enum client order[CLIENTS];
        for (int k = 0, n = run_order(x, r, order); k < n; k++) {
            check_interrupt(x);
            fn(x, order[k], r, arg);
        }
    }
}

/* Ends a weir row: its medians and paired runs over librdkafka's. */
static void print_vs(const struct ctx *x, enum client c, double weir_med, double rdk_med, const double *weir_runs,
                     const double *rdk_runs)
{
    if (c == CL_WEIR && both_clients(x))
        printf(",\"vs_librdkafka\":%.3f,\"vs_librdkafka_paired\":%.3f", weir_med / rdk_med,
               paired_ratio(weir_runs, rdk_runs, x->o.runs));
    printf("}\n");
}

/* ---- the member process (--member CLIENT ...) -------------------------------------------- */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDOUT_FILENO, line, (size_t)n) < 0) _exit(3); /* one write < PIPE_BUF: whole lines */
}

/* "assign T N P,P,...": the rebalance callback's new assignment at time t. */
static void emit_assign(int64_t t, const int32_t *parts, int n)
{
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof list - 16; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", (int)parts[i]);
    emit("assign %" PRId64 " %d %s", t, n, n ? list : "-");
}

/* One consumer behind the member loop. The calls return NULL or why they failed. */
struct mclient {
    void *h;
    const char *(*subscribe)(void *h);
    const char *(*assign)(void *h, const int32_t *parts, int n); /* from the beginning, no group */
    /* Up to 10 ms: 1 a record (*part, *off), 0 nothing, -1 an error (in err). */
    int (*poll)(void *h, int32_t *part, int64_t *off, char *err, size_t cap);
    void (*close)(void *h);
    void (*destroy)(void *h);
};

/* Commands on stdin, one a line: "subscribe", "assign P,P,..." (from the
 * beginning, no group), "close". EOF on stdin closes too. */
static int member_loop(const struct mclient *mc)
{
    emit("ready %" PRId64, now_ns());
    char cmd[256];
    size_t cmd_len = 0;
    bool first_seen = false, stop = false;
    while (!stop) {
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        if (poll(&pfd, 1, 0) > 0) {
            ssize_t n = read(STDIN_FILENO, cmd + cmd_len, sizeof cmd - 1 - cmd_len);
            if (n <= 0) break;
            cmd_len += (size_t)n;
            char *nl;
            while ((nl = memchr(cmd, '\n', cmd_len)) != NULL) {
                *nl = '\0';
                const char *e;
                if (!strcmp(cmd, "subscribe")) {
                    emit("subscribe %" PRId64, now_ns());
                    if ((e = mc->subscribe(mc->h)) != NULL) emit("error subscribe %s", e);
                } else if (!strncmp(cmd, "assign ", 7)) {
                    int32_t parts[PARTS];
                    int np = 0;
                    for (char *p = cmd + 7, *q; *p && np < PARTS; p = q + (*q == ',')) {
                        long part = strtol(p, &q, 10);
                        if (q == p) break;
                        parts[np++] = (int32_t)part;
                    }
                    emit("subscribe %" PRId64, now_ns());
                    if ((e = mc->assign(mc->h, parts, np)) != NULL) emit("error assign %s", e);
                } else if (!strcmp(cmd, "close")) {
                    stop = true;
                }
                size_t used = (size_t)(nl - cmd) + 1;
                memmove(cmd, nl + 1, cmd_len - used);
                cmd_len -= used;
            }
            if (cmd_len == sizeof cmd - 1) cmd_len = 0; /* no line: drop */
        }
        int32_t part = -1;
        int64_t off = -1;
        char err[256];
        int k = mc->poll(mc->h, &part, &off, err, sizeof err);
        if (k > 0 && !first_seen) {
            first_seen = true;
            emit("first %" PRId64 " %d %" PRId64, now_ns(), (int)part, off);
        } else if (k < 0) {
            emit("error %s", err);
        }
    }
    emit("closing %" PRId64, now_ns());
    mc->close(mc->h);
    emit("closed %" PRId64, now_ns());
    mc->destroy(mc->h);
    return 0;
}

/* -- librdkafka's member -- */

static void rk_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)opaque;
    int64_t t = now_ns();
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(rk, parts);
        int32_t list[PARTS];
        int n = 0;
        for (int i = 0; i < parts->cnt && n < PARTS; i++) list[n++] = parts->elems[i].partition;
        emit_assign(t, list, parts->cnt);
    } else {
        rd_kafka_assign(rk, NULL);
        emit("revoke %" PRId64, t);
    }
}

static void rk_mconf(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench_groups member: %s=%s: %s\n", k, v, err);
        _exit(2);
    }
}

static const char *rk_subscribe(void *h)
{
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(h, t);
    rd_kafka_topic_partition_list_destroy(t);
    return e ? rd_kafka_err2str(e) : NULL;
}

static const char *rk_assign(void *h, const int32_t *parts, int n)
{
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(PARTS);
    for (int i = 0; i < n; i++) rd_kafka_topic_partition_list_add(t, TOPIC, parts[i])->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(h, t);
    rd_kafka_topic_partition_list_destroy(t);
    return e ? rd_kafka_err2str(e) : NULL;
}

static int rk_poll(void *h, int32_t *part, int64_t *off, char *err, size_t cap)
{
    rd_kafka_message_t *msg = rd_kafka_consumer_poll(h, 10);
    if (!msg) return 0;
    int k = 0;
    if (!msg->err) *part = msg->partition, *off = msg->offset, k = 1;
    else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) snprintf(err, cap, "%s", rd_kafka_message_errstr(msg)), k = -1;
    rd_kafka_message_destroy(msg);
    return k;
}

static void rk_close(void *h) { rd_kafka_consumer_close(h); }
static void rk_destroy(void *h) { rd_kafka_destroy(h); }

/* argv: bootstrap group session_ms heartbeat_ms. */
static int rk_member_main(char **argv)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rk_mconf(c, "bootstrap.servers", argv[0]);
    rk_mconf(c, "group.id", argv[1]);
    rk_mconf(c, "client.id", "bench_groups");
    rk_mconf(c, "session.timeout.ms", argv[2]);
    rk_mconf(c, "heartbeat.interval.ms", argv[3]);
    rk_mconf(c, "enable.auto.commit", "false");
    rk_mconf(c, "auto.offset.reset", "earliest");
    rk_mconf(c, "partition.assignment.strategy", "range");
    const char *debug = getenv("BENCH_GROUPS_RDKAFKA_DEBUG");
    if (debug && *debug) rk_mconf(c, "debug", debug);
    rd_kafka_conf_set_rebalance_cb(c, rk_rebalance);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench_groups member: rd_kafka_new: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    /* Connected, with the topic's metadata, before any timed step (with a
     * group.id librdkafka also looks the coordinator up by itself). */
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, TOPIC, NULL);
    const struct rd_kafka_metadata *md = NULL;
    for (int i = 0; i < 100 && rd_kafka_metadata(rk, 0, rkt, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR; i++) sleep_ms(50);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    const struct mclient mc = { rk, rk_subscribe, rk_assign, rk_poll, rk_close, rk_destroy };
    return member_loop(&mc);
}

/* -- weir's member -- */

static void wc_rebalance(struct weir_consumer *c, enum weir_rebalance kind, const struct weir_topic_partition *parts,
                         size_t n, void *opaque)
{
    (void)c, (void)opaque;
    int64_t t = now_ns();
    if (kind == WEIR_REBALANCE_ASSIGN) {
        int32_t list[PARTS];
        int k = 0;
        for (size_t i = 0; i < n && k < PARTS; i++) list[k++] = parts[i].partition;
        emit_assign(t, list, (int)n);
    } else {
        emit("revoke %" PRId64, t);
    }
}

static const char *wc_subscribe(void *h)
{
    const char *topics[] = { TOPIC };
    int rc = weir_consumer_subscribe(h, topics, 1);
    return rc ? weir_client_err_str(rc) : NULL;
}

static const char *wc_assign(void *h, const int32_t *parts, int n)
{
    struct weir_partition_start s[PARTS];
    for (int i = 0; i < n; i++) s[i] = (struct weir_partition_start){ TOPIC, parts[i], WEIR_OFFSET_BEGINNING, 0 };
    int rc = weir_consumer_assign(h, s, (size_t)n);
    return rc ? weir_client_err_str(rc) : NULL;
}

static int wc_poll(void *h, int32_t *part, int64_t *off, char *err, size_t cap)
{
    struct weir_consumer_record *r = weir_consumer_poll(h, 10);
    if (!r) return 0;
    int k = 0;
    if (r->event == WEIR_EVENT_RECORD) *part = r->partition, *off = r->offset, k = 1;
    else if (r->event == WEIR_EVENT_ERROR) snprintf(err, cap, "%s", r->errstr ? r->errstr : weir_client_err_str(r->err)), k = -1;
    weir_consumer_record_release(r);
    return k;
}

static void wc_close(void *h) { weir_consumer_close(h); }
static void wc_destroy(void *h) { weir_consumer_destroy(h); }

/* The same keys as librdkafka's side; the caller checks *failed. */
static struct weir_consumer_conf *wc_conf(const char *bootstrap, const char *group, const char *session, const char *hb,
                                          char *err, size_t cap, bool *failed)
{
    const char *kv[][2] = { { "bootstrap.servers", bootstrap }, { "group.id", group }, { "client.id", "bench_groups" },
                            { "session.timeout.ms", session }, { "heartbeat.interval.ms", hb },
                            { "enable.auto.commit", "false" }, { "auto.offset.reset", "earliest" },
                            { "partition.assignment.strategy", "range" } };
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    *failed = !cc;
    for (size_t i = 0; cc && !*failed && i < ARRAY_LEN(kv); i++)
        if (weir_consumer_conf_set(cc, kv[i][0], kv[i][1], err, cap) != WEIR_CONF_OK) *failed = true;
    return cc;
}

/* argv: bootstrap group session_ms heartbeat_ms. */
static int wc_member_main(char **argv)
{
    char err[512] = "out of memory";
    bool failed;
    struct weir_consumer_conf *cc = wc_conf(argv[0], argv[1], argv[2], argv[3], err, sizeof err, &failed);
    struct weir_consumer *c = NULL;
    if (!failed) {
        weir_consumer_conf_set_rebalance_cb(cc, wc_rebalance);
        c = weir_consumer_new(cc, err, sizeof err);
    }
    weir_consumer_conf_destroy(cc);
    if (!c) {
        fprintf(stderr, "bench_groups member: weir consumer: %s\n", err);
        return 2;
    }
    /* Before any timed step: an OffsetFetch, so the group thread knows the
     * coordinator and is connected (librdkafka looks it up by itself). Not a
     * warm-up assignment: its last Fetch, a long poll of fetch.max.wait.ms,
     * would hold the next assignment's first Fetch back (librdkafka's too);
     * the fetch thread connects and loads metadata at its first assignment
     * (about a millisecond on loopback). */
    struct weir_topic_partition tp = { TOPIC, 0, -1, 0 };
    int rc = weir_consumer_committed(c, &tp, 1, WARMUP_TIMEOUT_MS);
    if (rc == 0) rc = tp.err;
    if (rc != 0) emit("error warm-up: %s", weir_client_err_str(rc));
    const struct mclient mc = { c, wc_subscribe, wc_assign, wc_poll, wc_close, wc_destroy };
    return member_loop(&mc);
}

/* ---- members, from the parent ------------------------------------------------------- */

static struct member *member_spawn(struct ctx *x, const char *group, enum client client)
{
    struct member *m = NULL;
    for (int i = 0; i < MEMBERS_MAX && !m; i++)
        if (x->m[i].pid == 0) m = &x->m[i];
    if (!m) fatal(x, "too many members");
    int cmd[2], ev[2];
    if (pipe2(cmd, O_CLOEXEC) != 0 || pipe2(ev, O_CLOEXEC) != 0) fatal(x, "pipe: %s", strerror(errno));
    char session[16], hb[16];
    snprintf(session, sizeof session, "%d", x->o.session_ms);
    snprintf(hb, sizeof hb, "%d", x->o.heartbeat_ms);
    char *argv[] = { x->self, "--member", (char *)CLIENT_ARGS[client], x->bootstrap, (char *)group, session, hb, NULL };
    pid_t pid = child_spawn(argv, cmd[0], ev[1], -1, SIGKILL);
    if (pid < 0) fatal(x, "fork: %s", strerror(errno));
    close(cmd[0]);
    close(ev[1]);
    *m = (struct member){ .pid = pid, .cmd_fd = cmd[1], .ev_fd = ev[0] };
    return m;
}
static void member_send(struct ctx *x, struct member *m, const char *line)
{
    size_t n = strlen(line);
    if (write(m->cmd_fd, line, n) != (ssize_t)n) fatal(x, "member %d: cannot send '%s'", (int)m->pid, line);
}

static void member_line(struct ctx *x, struct member *m, const char *line)
{
    int64_t t;
    int cnt;
    char list[256];
    if (sscanf(line, "ready %" SCNd64, &t) == 1) m->ready = true;
    else if (sscanf(line, "subscribe %" SCNd64, &t) == 1) m->sub_ns = t;
    else if (sscanf(line, "assign %" SCNd64 " %d %255s", &t, &cnt, list) == 3) {
        m->parts = 0;
        for (char *p = list; cnt > 0 && *p;) {
            long part = strtol(p, &p, 10);
            if (part >= 0 && part < PARTS) m->parts |= 1u << part;
            p += *p == ',';
        }
        m->assign_ns = t;
    } else if (sscanf(line, "revoke %" SCNd64, &t) == 1) m->parts = 0, m->revoke_ns = t;
    else if (sscanf(line, "first %" SCNd64, &t) == 1) m->first_ns = t;
    else if (sscanf(line, "closing %" SCNd64, &t) == 1) m->closing_ns = t;
    else if (!strncmp(line, "error ", 6)) fprintf(stderr, "bench_groups: member %d: %s\n", (int)m->pid, line);
    else if (strncmp(line, "closed ", 7) != 0) fatal(x, "member %d: %s", (int)m->pid, line);
}

/* Reads what the members wrote, for up to timeout_ms. */
static void members_pump(struct ctx *x, int timeout_ms)
{
    struct pollfd pfd[MEMBERS_MAX];
    struct member *who[MEMBERS_MAX];
    int n = 0;
    for (int i = 0; i < MEMBERS_MAX; i++)
        if (x->m[i].pid > 0 && !x->m[i].eof) pfd[n] = (struct pollfd){ .fd = x->m[i].ev_fd, .events = POLLIN }, who[n++] = &x->m[i];
    if (n == 0) {
        sleep_ms(timeout_ms);
        return;
    }
    if (poll(pfd, (nfds_t)n, timeout_ms) <= 0) return;
    for (int i = 0; i < n; i++) {
        if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        struct member *m = who[i];
        ssize_t got = read(m->ev_fd, m->buf + m->len, sizeof m->buf - 1 - m->len);
        if (got <= 0) {
            m->eof = true;
            continue;
        }
        m->len += (size_t)got;
        char *nl;
        while ((nl = memchr(m->buf, '\n', m->len)) != NULL) {
            *nl = '\0';
            member_line(x, m, m->buf);
            size_t used = (size_t)(nl - m->buf) + 1;
            memmove(m->buf, nl + 1, m->len - used);
            m->len -= used;
        }
        if (m->len == sizeof m->buf - 1) fatal(x, "member %d: line too long", (int)m->pid);
    }
}

typedef bool (*cond_fn)(struct ctx *x, const void *arg);

static void wait_cond(struct ctx *x, cond_fn cond, const void *arg, int timeout_ms, const char *what)
{
    int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
    while (!cond(x, arg)) {
        check_interrupt(x);
        for (int i = 0; i < MEMBERS_MAX; i++)
            if (x->m[i].pid > 0 && x->m[i].eof && !x->m[i].closing_ns)
                fatal(x, "%s: member %d exited", what, (int)x->m[i].pid);
        if (now_ns() > end) {
            for (int i = 0; i < MEMBERS_MAX; i++)
                if (x->m[i].pid > 0)
                    fprintf(stderr, "   member %d: partitions 0x%x, assigned at %.3f s\n", (int)x->m[i].pid,
                            x->m[i].parts, (double)x->m[i].assign_ns / 1e9);
            fatal(x, "%s: not within %d ms", what, timeout_ms);
        }
        members_pump(x, 20);
    }
}

/* Members ms[0..n) own `each` partitions apiece, disjoint, all of them, by
 * assignments made after `since`. */
struct split {
    struct member *ms[MEMBERS_MAX];
    int n, each;
    int64_t since;
};

static bool split_done(struct ctx *x, const void *arg)
{
    (void)x;
    const struct split *s = arg;
    unsigned all = 0;
    for (int i = 0; i < s->n; i++) {
        const struct member *m = s->ms[i];
        if (m->assign_ns <= s->since || __builtin_popcount(m->parts) != s->each || (all & m->parts)) return false;
        all |= m->parts;
    }
    return all == ALL_PARTS;
}

static int64_t split_wait(struct ctx *x, const struct split *s, int timeout_ms, const char *what)
{
    wait_cond(x, split_done, s, timeout_ms, what);
    int64_t last = 0;
    for (int i = 0; i < s->n; i++) last = s->ms[i]->assign_ns > last ? s->ms[i]->assign_ns : last;
    return last;
}

static bool all_ready(struct ctx *x, const void *arg)
{
    (void)arg;
    for (int i = 0; i < MEMBERS_MAX; i++)
        if (x->m[i].pid > 0 && !x->m[i].ready) return false;
    return true;
}

static bool has_first(struct ctx *x, const void *arg)
{
    (void)x;
    return ((const struct member *)arg)->first_ns > 0;
}

static bool has_closing(struct ctx *x, const void *arg)
{
    (void)x;
    return ((const struct member *)arg)->closing_ns > 0;
}

static void member_reap(struct member *m)
{
    close(m->cmd_fd);
    close(m->ev_fd);
    m->pid = 0;
}

/* Closes every member (its consumer's close); SIGKILL for one that hangs. */
static void members_close(struct ctx *x)
{
    for (int i = 0; i < MEMBERS_MAX; i++)
        if (x->m[i].pid > 0 && !x->m[i].closing_ns && !x->m[i].eof && write(x->m[i].cmd_fd, "close\n", 6) != 6)
            fprintf(stderr, "bench_groups: WARNING: member %d: cannot send close\n", (int)x->m[i].pid);
    for (int i = 0; i < MEMBERS_MAX; i++) {
        struct member *m = &x->m[i];
        if (m->pid <= 0) continue;
        int64_t end = now_ns() + (int64_t)CLOSE_TIMEOUT_MS * 1000000;
        int status = 0;
        while (waitpid(m->pid, &status, WNOHANG) == 0) {
            if (now_ns() > end) {
                fprintf(stderr, "bench_groups: WARNING: member %d did not close in %d ms, killed\n", (int)m->pid,
                        CLOSE_TIMEOUT_MS);
                kill(m->pid, SIGKILL);
                waitpid(m->pid, &status, 0);
                break;
            }
            members_pump(x, 10); /* keeps its pipe drained */
        }
        member_reap(m);
    }
}

static void member_kill(struct member *m)
{
    kill(m->pid, SIGKILL);
    waitpid(m->pid, NULL, 0);
    member_reap(m);
}

/* A fresh group of n subscribed members of one client, stable with PARTS / n
 * partitions each. */
static void group_form(struct ctx *x, struct member **ms, int n, char *group, size_t cap, const char *kind,
                       enum client client)
{
    snprintf(group, cap, "bench-%s-%s-%d", kind, CLIENT_ARGS[client], ++x->group_seq);
    for (int i = 0; i < n; i++) ms[i] = member_spawn(x, group, client);
    wait_cond(x, all_ready, NULL, START_TIMEOUT_MS, "members start");
    for (int i = 0; i < n; i++) member_send(x, ms[i], "subscribe\n");
    struct split s = { .n = n, .each = PARTS / n };
    memcpy(s.ms, ms, (size_t)n * sizeof ms[0]);
    split_wait(x, &s, STABLE_TIMEOUT_MS, "the group's first assignment");
}

/* ---- the broker and the topic ---------------------------------------------------------- */

static void broker_start(struct ctx *x)
{
    static const char *const extra[] = { "--set", "log.segment.bytes=67108864", NULL };
    char err[PATH_MAX + 128];
    int port;
    snprintf(x->log_path, sizeof x->log_path, "%s/broker.log", x->root);
    int64_t t0 = now_ns();
    if (serve_start(x->o.weir_bin, x->root, x->log_path, extra, START_TIMEOUT_MS, &x->broker, &port, err, sizeof err) != 0)
        fatal(x, "%s", err);
    snprintf(x->bootstrap, sizeof x->bootstrap, "127.0.0.1:%d", port);
    fprintf(stderr, "   broker on %s, started in %.0f ms\n", x->bootstrap, (double)(now_ns() - t0) / 1e6);
}

static void broker_stop(struct ctx *x)
{
    int status = 0;
    kill(x->broker, SIGTERM);
    if (!child_wait(x->broker, STOP_TIMEOUT_MS, &status)) fatal(x, "the broker did not stop within %d ms", STOP_TIMEOUT_MS);
    x->broker = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_groups: WARNING: the broker exited with status 0x%x\n", status);
        log_tail("bench_groups", x->log_path);
    }
}

static void conf_set(struct ctx *x, rd_kafka_conf_t *c, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(c, key, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        fatal(x, "librdkafka config %s=%s: %s", key, value, err);
}

static rd_kafka_t *client_new(struct ctx *x, rd_kafka_type_t type, rd_kafka_conf_t *c)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
    if (!rk) fatal(x, "rd_kafka_new: %s", err);
    return rk;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (m->err) ++*(int *)opaque;
}

/* The topic: PARTS partitions, --records 100-byte values in each. */
static void topic_fill(struct ctx *x)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(x, c, "bootstrap.servers", x->bootstrap);
    conf_set(x, c, "linger.ms", "5");
    int failed = 0;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, &failed);
    x->admin = client_new(x, RD_KAFKA_PRODUCER, c);
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(TOPIC, PARTS, 1, err, sizeof err);
    if (!nt) fatal(x, "NewTopic: %s", err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(x->admin);
    rd_kafka_CreateTopics(x->admin, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS);
    if (!ev) fatal(x, "CreateTopics: no answer");
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_topic_result_error(res[0]))
        fatal(x, "CreateTopics %s failed", TOPIC);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    for (int i = 0; !rdk_topic_ready(x->admin, TOPIC, PARTS); i++) {
        if (i >= 100) fatal(x, "topic %s: no metadata with %d partitions", TOPIC, PARTS);
        sleep_ms(50);
    }
    uint8_t value[VALUE_BYTES];
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < x->o.records * PARTS; i++) {
        weir_value_make(value, sizeof value, (uint32_t)i, &rng);
        while (rd_kafka_producev(x->admin, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(i % PARTS),
                                 RD_KAFKA_V_VALUE(value, sizeof value), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(x->admin, 10);
    }
    if (rd_kafka_flush(x->admin, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR || failed)
        fatal(x, "producing the topic failed (%d deliveries)", failed);
    fprintf(stderr, "   topic %s: %d partitions x %d records\n", TOPIC, PARTS, x->o.records);
}

/* ---- 1. rebalance after a member's death or leave ------------------------------------ */

/* 300 ms plus a pseudo-random part of a heartbeat interval: the timed step
 * that follows starts at any phase of the members' heartbeat cycle. */
static void phase_sleep(struct ctx *x) { sleep_ms(300 + (int)(now_ns() / 1000 % x->o.heartbeat_ms)); }

struct rebalance_sample {
    double ms, detect_ms, rejoin_ms;
};

/* One run: 3 members, 2 partitions each; member 2 is killed (death) or
 * closes (leave); the time until members 0 and 1 own 3 + 3. */
static struct rebalance_sample rebalance_run(struct ctx *x, bool death, enum client client)
{
    struct member *ms[3];
    char group[64];
    group_form(x, ms, 3, group, sizeof group, death ? "death" : "leave", client);
    phase_sleep(x);
    int64_t t0;
    if (death) {
        t0 = now_ns();
        member_kill(ms[2]);
    } else {
        member_send(x, ms[2], "close\n");
        wait_cond(x, has_closing, ms[2], CLOSE_TIMEOUT_MS, "the leaving member's close");
        t0 = ms[2]->closing_ns;
    }
    struct split s = { .ms = { ms[0], ms[1] }, .n = 2, .each = 3, .since = t0 };
    int64_t t1 = split_wait(x, &s, 3 * x->o.session_ms + STABLE_TIMEOUT_MS, "the survivors' full reassignment");
    int64_t revoke = ms[0]->revoke_ns > t0 ? ms[0]->revoke_ns : t1;
    if (ms[1]->revoke_ns > t0 && ms[1]->revoke_ns < revoke) revoke = ms[1]->revoke_ns;
    fprintf(stderr, "   %-10s survivors: revoked at +%.0f/+%.0f ms, assigned at +%.0f/+%.0f ms\n", CLIENT_NAMES[client],
            (double)(ms[0]->revoke_ns - t0) / 1e6, (double)(ms[1]->revoke_ns - t0) / 1e6,
            (double)(ms[0]->assign_ns - t0) / 1e6, (double)(ms[1]->assign_ns - t0) / 1e6);
    members_close(x);
    return (struct rebalance_sample){ (double)(t1 - t0) / 1e6, (double)(revoke - t0) / 1e6, (double)(t1 - revoke) / 1e6 };
}

struct rebalance_runs {
    bool death;
    double ms[CLIENTS][RUNS_MAX], det[CLIENTS][RUNS_MAX], proto[CLIENTS][RUNS_MAX];
};

static void rebalance_one(struct ctx *x, enum client c, int r, void *arg)
{
    struct rebalance_runs *rr = arg;
    struct rebalance_sample s = rebalance_run(x, rr->death, c);
    rr->ms[c][r] = s.ms, rr->det[c][r] = s.detect_ms, rr->proto[c][r] = s.rejoin_ms;
    fprintf(stderr, "   run %d/%d %-10s: %.0f ms to full reassignment (%.0f to the first revoke, %.0f after)\n", r + 1,
            x->o.runs, CLIENT_NAMES[c], s.ms, s.detect_ms, s.rejoin_ms);
}

static void bench_rebalance(struct ctx *x, bool death)
{
    const char *name = death ? "member_death" : "graceful_leave";
    fprintf(stderr, "== rebalance, %s: 3 members, %d partitions, session.timeout.ms %d, heartbeat.interval.ms %d, %d runs\n",
            name, PARTS, x->o.session_ms, x->o.heartbeat_ms, x->o.runs);
    struct rebalance_runs rr = { .death = death };
    runs_alternate(x, rebalance_one, &rr);
    double (*ms)[RUNS_MAX] = rr.ms, (*det)[RUNS_MAX] = rr.det, (*proto)[RUNS_MAX] = rr.proto;
    double rdk_med = 0;
    for (int c = 0; c < CLIENTS; c++) {
        if (!(x->o.clients & (1u << c))) continue;
        struct stat3 a = stat3_of(ms[c], x->o.runs), d = stat3_of(det[c], x->o.runs), p = stat3_of(proto[c], x->o.runs);
        printf("{\"schema\":%d,\"bench\":\"group_rebalance\",\"client\":\"%s\",\"case\":\"%s\",\"members\":3,"
               "\"partitions\":%d,\"session_timeout_ms\":%d,\"heartbeat_interval_ms\":%d,\"runs\":%d,\"ms_median\":%.0f,"
               "\"ms_min\":%.0f,\"ms_max\":%.0f,\"detect_ms_median\":%.0f,\"detect_ms_min\":%.0f,\"detect_ms_max\":%.0f,"
               "\"rejoin_ms_median\":%.0f,\"rejoin_ms_min\":%.0f,\"rejoin_ms_max\":%.0f,\"vs_session_timeout\":%.3f",
               SCHEMA, CLIENT_NAMES[c], name, PARTS, x->o.session_ms, x->o.heartbeat_ms, x->o.runs, a.med, a.min, a.max,
               d.med, d.min, d.max, p.med, p.min, p.max, a.med / x->o.session_ms);
        if (c == CL_RDKAFKA) rdk_med = a.med;
        print_vs(x, (enum client)c, a.med, rdk_med, ms[CL_WEIR], ms[CL_RDKAFKA]);
    }
    fflush(stdout);
}

/* ---- 2. a new member's join to its first record --------------------------------------- */

struct join_sample {
    double assign_ms, first_ms, baseline_ms;
};

static struct join_sample join_run(struct ctx *x, enum client client)
{
    struct member *ms[2];
    char group[64];
    group_form(x, ms, 2, group, sizeof group, "join", client);
    struct member *m = member_spawn(x, group, client);
    wait_cond(x, all_ready, NULL, START_TIMEOUT_MS, "the new member's start");
    phase_sleep(x);
    member_send(x, m, "subscribe\n");
    wait_cond(x, has_first, m, STABLE_TIMEOUT_MS, "the new member's first record");
    struct split s = { .ms = { ms[0], ms[1], m }, .n = 3, .each = 2, .since = m->sub_ns };
    split_wait(x, &s, STABLE_TIMEOUT_MS, "the 2/2/2 split");
    struct join_sample js = { (double)(m->assign_ns - m->sub_ns) / 1e6, (double)(m->first_ns - m->sub_ns) / 1e6, 0 };
    members_close(x);
    /* Baseline: an assignment of 2 partitions, no group protocol. */
    snprintf(group, sizeof group, "bench-assign-%s-%d", CLIENT_ARGS[client], ++x->group_seq);
    m = member_spawn(x, group, client);
    wait_cond(x, all_ready, NULL, START_TIMEOUT_MS, "the baseline consumer's start");
    sleep_ms(300);
    member_send(x, m, "assign 4,5\n");
    wait_cond(x, has_first, m, STABLE_TIMEOUT_MS, "the baseline consumer's first record");
    js.baseline_ms = (double)(m->first_ns - m->sub_ns) / 1e6;
    members_close(x);
    return js;
}

struct join_runs {
    double as[CLIENTS][RUNS_MAX], fr[CLIENTS][RUNS_MAX], bl[CLIENTS][RUNS_MAX];
};

static void join_one(struct ctx *x, enum client c, int r, void *arg)
{
    struct join_runs *jr = arg;
    struct join_sample s = join_run(x, c);
    jr->as[c][r] = s.assign_ms, jr->fr[c][r] = s.first_ms, jr->bl[c][r] = s.baseline_ms;
    fprintf(stderr, "   run %d/%d %-10s: assigned after %.0f ms, first record after %.0f ms (assign() baseline %.0f ms)\n",
            r + 1, x->o.runs, CLIENT_NAMES[c], s.assign_ms, s.first_ms, s.baseline_ms);
}

static void bench_join(struct ctx *x)
{
    static const char *const baseline[CLIENTS] = { "rd_kafka_assign, no group", "weir_consumer_assign, no group" };
    fprintf(stderr, "== join: a third member joins 2 stable ones; subscribe to first record, %d runs\n", x->o.runs);
    struct join_runs jr = { 0 };
    runs_alternate(x, join_one, &jr);
    double (*as)[RUNS_MAX] = jr.as, (*fr)[RUNS_MAX] = jr.fr, (*bl)[RUNS_MAX] = jr.bl;
    double rdk_med = 0;
    for (int c = 0; c < CLIENTS; c++) {
        if (!(x->o.clients & (1u << c))) continue;
        struct stat3 a = stat3_of(as[c], x->o.runs), f = stat3_of(fr[c], x->o.runs), b = stat3_of(bl[c], x->o.runs);
        printf("{\"schema\":%d,\"bench\":\"group_join\",\"client\":\"%s\",\"members_before\":2,\"partitions\":%d,"
               "\"records_per_partition\":%d,\"session_timeout_ms\":%d,\"heartbeat_interval_ms\":%d,\"runs\":%d,"
               "\"first_record_ms_median\":%.0f,\"first_record_ms_min\":%.0f,\"first_record_ms_max\":%.0f,"
               "\"assign_ms_median\":%.0f,\"assign_ms_min\":%.0f,\"assign_ms_max\":%.0f,\"baseline\":\"%s\","
               "\"baseline_first_record_ms_median\":%.0f,\"baseline_first_record_ms_min\":%.0f,"
               "\"baseline_first_record_ms_max\":%.0f",
               SCHEMA, CLIENT_NAMES[c], PARTS, x->o.records, x->o.session_ms, x->o.heartbeat_ms, x->o.runs, f.med, f.min,
               f.max, a.med, a.min, a.max, baseline[c], b.med, b.min, b.max);
        if (c == CL_RDKAFKA) rdk_med = f.med;
        print_vs(x, (enum client)c, f.med, rdk_med, fr[CL_WEIR], fr[CL_RDKAFKA]);
    }
    fflush(stdout);
}

/* ---- 3. commit throughput ----------------------------------------------------------------- */

/* pwrite of 100 bytes appended into a preallocated file + fdatasync, per second. */
static double fdatasync_run(struct ctx *x)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fdatasync-baseline", x->root);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fatal(x, "open %s: %s", path, strerror(errno));
    if (fallocate(fd, 0, 0, BASELINE_FILE_BYTES) != 0) fatal(x, "fallocate %s: %s", path, strerror(errno));
    if (fsync(fd) != 0) fatal(x, "fsync: %s", strerror(errno));
    uint8_t buf[VALUE_BYTES];
    memset(buf, 'c', sizeof buf);
    off_t off = 0;
    long n = 0;
    int64_t t0 = now_ns(), end = t0 + (int64_t)x->o.commit_secs * 1000000000;
    int64_t t;
    do {
        if (pwrite(fd, buf, sizeof buf, off) != (ssize_t)sizeof buf) fatal(x, "pwrite: %s", strerror(errno));
        if (fdatasync(fd) != 0) fatal(x, "fdatasync: %s", strerror(errno));
        off = off + (off_t)sizeof buf < BASELINE_FILE_BYTES ? off + (off_t)sizeof buf : 0;
        n++;
        t = now_ns();
    } while (t < end);
    close(fd);
    unlink(path);
    return (double)n / ((double)(t - t0) / 1e9);
}

/* One committing consumer, subscribed in a fresh group, owning all PARTS
 * partitions: librdkafka's (rk) or weir's (wc). */
struct committer {
    enum client client;
    rd_kafka_t *rk;
    struct weir_consumer *wc;
    /* weir's asynchronous commits, from its commit callback (the group thread) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    long done;       /* answered */
    int err;         /* the first error */
};

static void wc_commit_cb(struct weir_consumer *c, int err, const struct weir_topic_partition *parts, size_t n,
                         void *opaque)
{
    (void)c;
    struct committer *cm = opaque;
    for (size_t i = 0; !err && i < n; i++) err = parts[i].err;
    pthread_mutex_lock(&cm->lock);
    if (err && !cm->err) cm->err = err;
    cm->done++;
    pthread_cond_signal(&cm->cond);
    pthread_mutex_unlock(&cm->lock);
}

/* Hands out (and drops) what the consumer fetched, serving its callbacks. */
static void committer_poll(struct committer *cm, int timeout_ms)
{
    if (cm->rk) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(cm->rk, timeout_ms);
        if (msg) rd_kafka_message_destroy(msg);
    } else {
        weir_consumer_record_release(weir_consumer_poll(cm->wc, timeout_ms));
    }
}

static int committer_assigned(struct committer *cm)
{
    if (cm->rk) {
        rd_kafka_topic_partition_list_t *a = NULL;
        int cnt = rd_kafka_assignment(cm->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a ? a->cnt : 0;
        if (a) rd_kafka_topic_partition_list_destroy(a);
        return cnt;
    }
    struct weir_topic_partition *parts = NULL;
    size_t n = 0;
    if (weir_consumer_assignment(cm->wc, &parts, &n) != 0) return 0;
    weir_consumer_partitions_free(parts, n);
    return (int)n;
}

static void rk_committer_open(struct ctx *x, struct committer *cm, const char *group, const char *session, const char *hb)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(x, c, "bootstrap.servers", x->bootstrap);
    conf_set(x, c, "group.id", group);
    conf_set(x, c, "client.id", "bench_groups");
    conf_set(x, c, "session.timeout.ms", session);
    conf_set(x, c, "heartbeat.interval.ms", hb);
    conf_set(x, c, "enable.auto.commit", "false");
    conf_set(x, c, "auto.offset.reset", "earliest");
    cm->rk = client_new(x, RD_KAFKA_CONSUMER, c);
    rd_kafka_poll_set_consumer(cm->rk);
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(t, TOPIC, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(cm->rk, t)) fatal(x, "rd_kafka_subscribe failed");
    rd_kafka_topic_partition_list_destroy(t);
}

static void wc_committer_open(struct ctx *x, struct committer *cm, const char *group, const char *session, const char *hb)
{
    char err[512] = "out of memory";
    bool failed;
    struct weir_consumer_conf *cc = wc_conf(x->bootstrap, group, session, hb, err, sizeof err, &failed);
    if (!failed) {
        weir_consumer_conf_set_commit_cb(cc, wc_commit_cb);
        weir_consumer_conf_set_opaque(cc, cm);
        cm->wc = weir_consumer_new(cc, err, sizeof err);
    }
    weir_consumer_conf_destroy(cc);
    if (!cm->wc) fatal(x, "weir consumer: %s", err);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&cm->lock, NULL) != 0 || pthread_cond_init(&cm->cond, &ca) != 0) fatal(x, "pthread init failed");
    pthread_condattr_destroy(&ca);
    const char *topics[] = { TOPIC };
    int rc = weir_consumer_subscribe(cm->wc, topics, 1);
    if (rc) fatal(x, "weir_consumer_subscribe: %s", weir_client_err_str(rc));
}

static void committer_open(struct ctx *x, struct committer *cm, enum client client)
{
    char group[64], session[16], hb[16];
    snprintf(group, sizeof group, "bench-commit-%s-%d", CLIENT_ARGS[client], ++x->group_seq);
    snprintf(session, sizeof session, "%d", x->o.session_ms);
    snprintf(hb, sizeof hb, "%d", x->o.heartbeat_ms);
    *cm = (struct committer){ .client = client };
    if (client == CL_RDKAFKA) rk_committer_open(x, cm, group, session, hb);
    else wc_committer_open(x, cm, group, session, hb);
    int64_t end = now_ns() + (int64_t)STABLE_TIMEOUT_MS * 1000000;
    for (;;) {
        committer_poll(cm, 50);
        if (committer_assigned(cm) == PARTS) break;
        check_interrupt(x);
        if (now_ns() > end)
            fatal(x, "the committing consumer (%s) got no assignment of %d partitions", CLIENT_NAMES[client], PARTS);
    }
}

static void committer_close(struct committer *cm)
{
    if (cm->rk) {
        rd_kafka_consumer_close(cm->rk);
        rd_kafka_destroy(cm->rk);
    } else if (cm->wc) {
        weir_consumer_destroy(cm->wc); /* closes first */
        pthread_cond_destroy(&cm->cond);
        pthread_mutex_destroy(&cm->lock);
    }
    *cm = (struct committer){ .client = cm->client };
}

/* The committed offset of one partition (an OffsetFetch round trip, no
 * disk) in a loop: calls per second. */
static double offset_fetch_run(struct ctx *x, struct committer *cm)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, 0);
    struct weir_topic_partition tp = { TOPIC, 0, -1, 0 };
    long n = 0;
    int64_t t0 = now_ns(), end = t0 + (int64_t)x->o.commit_secs * 1000000000, t;
    do {
        if (cm->rk) {
            rd_kafka_resp_err_t err = rd_kafka_committed(cm->rk, l, 10000);
            if (err || l->elems[0].err) fatal(x, "rd_kafka_committed: %s", rd_kafka_err2str(err ? err : l->elems[0].err));
        } else {
            int rc = weir_consumer_committed(cm->wc, &tp, 1, 10000);
            if (rc || tp.err) fatal(x, "weir_consumer_committed: %s", weir_client_err_str(rc ? rc : tp.err));
        }
        n++;
        t = now_ns();
    } while (t < end);
    rd_kafka_topic_partition_list_destroy(l);
    return (double)n / ((double)(t - t0) / 1e9);
}

struct async_state {
    long done;
    rd_kafka_resp_err_t err;
};

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    struct async_state *st = opaque;
    for (int i = 0; !err && offsets && i < offsets->cnt; i++) err = offsets->elems[i].err;
    if (err && !st->err) st->err = err;
    st->done++;
}

/* librdkafka's side of commit_run. */
static double rk_commit_run(struct ctx *x, rd_kafka_t *rk, bool async, int parts)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) rd_kafka_topic_partition_list_add(offs, TOPIC, p)->offset = 1;
    if (rd_kafka_commit(rk, offs, 0)) fatal(x, "warm-up commit failed"); /* coordinator known */
    struct async_state st = { 0 };
    rd_kafka_queue_t *q = async ? rd_kafka_queue_new(rk) : NULL;
    long issued = 0;
    int64_t t0 = now_ns(), end = t0 + (int64_t)x->o.commit_secs * 1000000000, t = t0;
    while (t < end) {
        for (int p = 0; p < parts; p++) offs->elems[p].offset = 1 + issued % x->o.records;
        if (!async) {
            rd_kafka_resp_err_t err = rd_kafka_commit(rk, offs, 0);
            if (err) fatal(x, "rd_kafka_commit: %s", rd_kafka_err2str(err));
            issued++;
            st.done++;
        } else {
            if (issued - st.done < x->o.async_window) {
                rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, offs, q, on_commit, &st);
                if (err) fatal(x, "rd_kafka_commit_queue: %s", rd_kafka_err2str(err));
                issued++;
            }
            rd_kafka_queue_poll_callback(q, issued - st.done < x->o.async_window ? 0 : 100);
            if (st.err) fatal(x, "async commit: %s", rd_kafka_err2str(st.err));
        }
        t = now_ns();
    }
    long done_in_time = st.done;
    int64_t drain_end = now_ns() + (int64_t)DRAIN_TIMEOUT_MS * 1000000;
    while (async && st.done < issued && now_ns() < drain_end) rd_kafka_queue_poll_callback(q, 100);
    if (async && (st.done < issued || st.err)) fatal(x, "async commits: %ld of %ld answered", st.done, issued);
    if (q) rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(offs);
    return (double)done_in_time / ((double)(t - t0) / 1e9);
}

/* Lock held: waits up to 100 ms for a commit callback. */
static void wc_wait_answer(struct committer *cm)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 100000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&cm->cond, &cm->lock, &ts);
}

/* weir's side of commit_run: weir_consumer_commit, async 0 or 1. */
static double wc_commit_run(struct ctx *x, struct committer *cm, bool async, int parts)
{
    struct weir_topic_partition offs[PARTS];
    for (int p = 0; p < parts; p++) offs[p] = (struct weir_topic_partition){ TOPIC, p, 1, 0 };
    int rc = weir_consumer_commit(cm->wc, offs, (size_t)parts, 0);
    if (rc) fatal(x, "warm-up commit failed: %s", weir_client_err_str(rc));
    pthread_mutex_lock(&cm->lock);
    cm->done = 0, cm->err = 0;
    pthread_mutex_unlock(&cm->lock);
    long issued = 0, done = 0;
    int64_t t0 = now_ns(), end = t0 + (int64_t)x->o.commit_secs * 1000000000, t = t0;
    while (t < end) {
        for (int p = 0; p < parts; p++) offs[p].offset = 1 + issued % x->o.records;
        if (!async) {
            rc = weir_consumer_commit(cm->wc, offs, (size_t)parts, 0);
            if (rc) fatal(x, "weir_consumer_commit: %s", weir_client_err_str(rc));
            issued++, done++;
        } else {
            pthread_mutex_lock(&cm->lock);
            if (issued - cm->done >= x->o.async_window) wc_wait_answer(cm);
            done = cm->done, rc = cm->err;
            pthread_mutex_unlock(&cm->lock);
            if (rc) fatal(x, "async commit: %s", weir_client_err_str(rc));
            if (issued - done < x->o.async_window) {
                rc = weir_consumer_commit(cm->wc, offs, (size_t)parts, 1);
                if (rc) fatal(x, "weir_consumer_commit (async): %s", weir_client_err_str(rc));
                issued++;
            }
        }
        t = now_ns();
    }
    int64_t drain_end = now_ns() + (int64_t)DRAIN_TIMEOUT_MS * 1000000;
    pthread_mutex_lock(&cm->lock);
    long done_in_time = async ? cm->done : done;
    while (async && cm->done < issued && !cm->err && now_ns() < drain_end) wc_wait_answer(cm);
    done = async ? cm->done : done, rc = cm->err;
    pthread_mutex_unlock(&cm->lock);
    if (async && (done < issued || rc))
        fatal(x, "async commits: %ld of %ld answered (%s)", done, issued, rc ? weir_client_err_str(rc) : "no error");
    return (double)done_in_time / ((double)(t - t0) / 1e9);
}

/* Commits per second for --commit-secs: parts partitions per commit, each at
 * an offset within the topic; async keeps at most --async-window outstanding. */
static double commit_run(struct ctx *x, struct committer *cm, bool async, int parts)
{
    double rate = cm->rk ? rk_commit_run(x, cm->rk, async, parts) : wc_commit_run(x, cm, async, parts);
    committer_poll(cm, 0); /* well within max.poll.interval.ms however long the bench */
    return rate;
}

static void bench_commit(struct ctx *x)
{
    static const struct {
        bool async;
        int parts;
    } modes[] = { { false, 1 }, { false, PARTS }, { true, 1 }, { true, PARTS } };
    static const char *const fetch_api[CLIENTS] = { "rd_kafka_committed", "weir_consumer_committed" };
    enum { N_MODES = ARRAY_LEN(modes) };
    fprintf(stderr, "== commit: one member per client, %d s per mode, async window %d, %d runs (fdatasync baseline each run)\n",
            x->o.commit_secs, x->o.async_window, x->o.runs);
    double rate[CLIENTS][N_MODES][RUNS_MAX] = { { { 0 } } }, fetches[CLIENTS][RUNS_MAX] = { { 0 } }, fsyncs[RUNS_MAX];
    struct committer cm[CLIENTS];
    for (int c = 0; c < CLIENTS; c++)
        if (x->o.clients & (1u << c)) committer_open(x, &cm[c], (enum client)c);
    for (int r = 0; r < x->o.runs; r++) {
        check_interrupt(x);
        fsyncs[r] = fdatasync_run(x);
        fprintf(stderr, "   run %d/%d: fdatasync %.0f/s\n", r + 1, x->o.runs, fsyncs[r]);
        enum client order[CLIENTS];
        for (int k = 0, n = run_order(x, r, order); k < n; k++) {
            enum client c = order[k];
            check_interrupt(x);
            fetches[c][r] = offset_fetch_run(x, &cm[c]);
            for (int j = 0; j < N_MODES; j++) {
                int i = (j + r) % N_MODES; /* rotated: no mode always first */
                rate[c][i][r] = commit_run(x, &cm[c], modes[i].async, modes[i].parts);
            }
            fprintf(stderr, "   run %d/%d %-10s: committed() %.0f/s", r + 1, x->o.runs, CLIENT_NAMES[c], fetches[c][r]);
            for (int i = 0; i < N_MODES; i++)
                fprintf(stderr, ", %s p=%d %.0f/s", modes[i].async ? "async" : "sync", modes[i].parts, rate[c][i][r]);
            fputc('\n', stderr);
        }
    }
    for (int c = 0; c < CLIENTS; c++)
        if (x->o.clients & (1u << c)) committer_close(&cm[c]);
    struct stat3 f = stat3_of(fsyncs, x->o.runs), of[CLIENTS] = { { 0, 0, 0 } };
    printf("{\"schema\":%d,\"bench\":\"fdatasync\",\"write_bytes\":%d,\"secs\":%d,\"runs\":%d,\"per_s_median\":%.0f,"
           "\"per_s_min\":%.0f,\"per_s_max\":%.0f,\"us_median\":%.0f}\n",
           SCHEMA, VALUE_BYTES, x->o.commit_secs, x->o.runs, f.med, f.min, f.max, 1e6 / f.med);
    for (int c = 0; c < CLIENTS; c++) {
        if (!(x->o.clients & (1u << c))) continue;
        of[c] = stat3_of(fetches[c], x->o.runs);
        printf("{\"schema\":%d,\"bench\":\"group_offset_fetch\",\"client\":\"%s\",\"api\":\"%s\",\"partitions\":1,"
               "\"secs\":%d,\"runs\":%d,\"calls_s_median\":%.0f,\"calls_s_min\":%.0f,\"calls_s_max\":%.0f,"
               "\"us_median\":%.0f",
               SCHEMA, CLIENT_NAMES[c], fetch_api[c], x->o.commit_secs, x->o.runs, of[c].med, of[c].min, of[c].max,
               1e6 / of[c].med);
        print_vs(x, (enum client)c, of[c].med, of[CL_RDKAFKA].med, fetches[CL_WEIR], fetches[CL_RDKAFKA]);
    }
    for (int c = 0; c < CLIENTS; c++) {
        if (!(x->o.clients & (1u << c))) continue;
        for (int i = 0; i < N_MODES; i++) {
            struct stat3 s = stat3_of(rate[c][i], x->o.runs), rdk = stat3_of(rate[CL_RDKAFKA][i], x->o.runs);
            printf("{\"schema\":%d,\"bench\":\"group_commit\",\"client\":\"%s\",\"mode\":\"%s\",\"partitions_per_commit\":%d,",
                   SCHEMA, CLIENT_NAMES[c], modes[i].async ? "async" : "sync", modes[i].parts);
            if (modes[i].async) printf("\"async_window\":%d,", x->o.async_window);
            printf("\"secs\":%d,\"runs\":%d,\"commits_s_median\":%.0f,\"commits_s_min\":%.0f,\"commits_s_max\":%.0f,"
                   "\"offsets_s_median\":%.0f,\"us_median\":%.0f,\"fdatasync_s_median\":%.0f,\"vs_fdatasync\":%.3f,"
                   "\"offset_fetch_s_median\":%.0f",
                   x->o.commit_secs, x->o.runs, s.med, s.min, s.max, s.med * modes[i].parts, 1e6 / s.med, f.med,
                   s.med / f.med, of[c].med);
            print_vs(x, (enum client)c, s.med, rdk.med, rate[CL_WEIR][i], rate[CL_RDKAFKA][i]);
        }
    }
    fflush(stdout);
}

/* ---- options and main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: bench_groups [--runs N] [--session-ms N] [--heartbeat-ms N] [--records N] [--commit-secs N]\n"
          "                    [--async-window N] [--clients LIST] [--dir PATH] [--weir PATH] [--only LIST] [--quick]\n"
          "  --runs N           runs per row and client, medians reported (default 5, max 99)\n"
          "  --session-ms N     members' session.timeout.ms (default 6000, the broker's minimum)\n"
          "  --heartbeat-ms N   members' heartbeat.interval.ms (default 1000)\n"
          "  --records N        records per partition in the topic (default 1000)\n"
          "  --commit-secs N    seconds per commit mode and per fdatasync baseline run (default 3)\n"
          "  --async-window N   asynchronous commits outstanding at most (default 64)\n"
          "  --clients LIST     comma list of librdkafka,weir (default both)\n"
          "  --dir PATH         make the bench directory under PATH (default $TMPDIR or /tmp)\n"
          "  --weir PATH        the broker binary (default: next to this program)\n"
          "  --only LIST        comma list of death,leave,join,commit\n"
          "  --quick            1 run, 1 s per commit mode\n",
          f);
}

static int parse_int(struct ctx *x, const char *s, int lo, int hi)
{
    long v;
    if (!long_parse(s, lo, hi, &v)) fatal(x, "bad number %s (want %d..%d)", s, lo, hi);
    return (int)v;
}

static unsigned parse_names(struct ctx *x, const char *opt, const char *s, const char *const names[], size_t n)
{
    unsigned mask;
    const char *bad;
    int bad_len;
    if (!names_mask(s, names, n, &mask, &bad, &bad_len)) fatal(x, "%s: unknown name '%.*s'", opt, bad_len, bad);
    return mask;
}

static const char *arg_value(struct ctx *x, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) fatal(x, "%s needs a value", argv[*i]);
    return argv[++*i];
}

static void parse_args(struct ctx *x, int argc, char **argv)
{
    static const char *const part_names[] = { "death", "leave", "join", "commit" };
    struct opts *o = &x->o;
    bool quick = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--runs")) o->runs = parse_int(x, arg_value(x, argc, argv, &i), 1, RUNS_MAX);
        else if (!strcmp(a, "--session-ms")) o->session_ms = parse_int(x, arg_value(x, argc, argv, &i), 1, 3600000);
        else if (!strcmp(a, "--heartbeat-ms")) o->heartbeat_ms = parse_int(x, arg_value(x, argc, argv, &i), 1, 3600000);
        else if (!strcmp(a, "--records")) o->records = parse_int(x, arg_value(x, argc, argv, &i), 1, 10000000);
        else if (!strcmp(a, "--commit-secs")) o->commit_secs = parse_int(x, arg_value(x, argc, argv, &i), 1, 3600);
        else if (!strcmp(a, "--async-window")) o->async_window = parse_int(x, arg_value(x, argc, argv, &i), 1, 100000);
        else if (!strcmp(a, "--dir")) o->dir_arg = arg_value(x, argc, argv, &i);
        else if (!strcmp(a, "--weir")) o->weir_bin = arg_value(x, argc, argv, &i);
        else if (!strcmp(a, "--only"))
            o->parts = parse_names(x, a, arg_value(x, argc, argv, &i), part_names, ARRAY_LEN(part_names));
        else if (!strcmp(a, "--clients"))
            o->clients = parse_names(x, a, arg_value(x, argc, argv, &i), CLIENT_NAMES, CLIENTS);
        else if (!strcmp(a, "--quick")) quick = true;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(stdout), exit(0);
        else usage(stderr), fatal(x, "unknown argument: %s", a);
    }
    if (!o->runs) o->runs = quick ? 1 : 5;
    if (!o->session_ms) o->session_ms = 6000;
    if (!o->heartbeat_ms) o->heartbeat_ms = 1000;
    if (!o->records) o->records = 1000;
    if (!o->commit_secs) o->commit_secs = quick ? 1 : 3;
    if (!o->async_window) o->async_window = 64;
    if (!o->parts) o->parts = PART_ALL;
    if (!o->clients) o->clients = (1u << CLIENTS) - 1;
    ssize_t n = readlink("/proc/self/exe", x->self, sizeof x->self - 1);
    if (n <= 0) fatal(x, "readlink /proc/self/exe: %s", strerror(errno));
    x->self[n] = '\0';
    if (!o->weir_bin) {
        if (exe_sibling("weir", o->weir_buf, sizeof o->weir_buf) != 0) fatal(x, "path too long: weir next to %s", x->self);
        o->weir_bin = o->weir_buf;
    }
    if (access(o->weir_bin, X_OK) != 0) fatal(x, "no broker binary at %s (--weir)", o->weir_bin);
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "--member")) {
        if (!strcmp(argv[2], CLIENT_ARGS[CL_RDKAFKA])) return rk_member_main(argv + 3);
        if (!strcmp(argv[2], CLIENT_ARGS[CL_WEIR])) return wc_member_main(argv + 3);
        return 2;
    }
    static struct ctx x;
    int64_t t0 = now_ns();
    parse_args(&x, argc, argv);
    stop_signals_block(&x.stop_signals);
    signal(SIGPIPE, SIG_IGN);
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(x.o.dir_arg, "weir-bench-groups", x.root, sizeof x.root, tmpl);
    if (rc) fatal(&x, "cannot make the bench directory under %s", x.o.dir_arg ? x.o.dir_arg : "$TMPDIR");
    print_machine_head(SCHEMA, x.root);
    char clients[64] = "";
    for (int c = 0; c < CLIENTS; c++)
        if (x.o.clients & (1u << c))
            snprintf(clients + strlen(clients), sizeof clients - strlen(clients), "%s%s", clients[0] ? "," : "",
                     CLIENT_NAMES[c]);
    printf(",\"librdkafka\":\"%s\",\"weir_client\":\"%s\",\"clients\":\"%s\",\"runs\":%d,\"partitions\":%d,"
           "\"records_per_partition\":%d,\"session_timeout_ms\":%d,\"heartbeat_interval_ms\":%d,\"commit_secs\":%d,"
           "\"async_window\":%d,\"loadavg_1m\":%.2f}\n",
           rd_kafka_version_str(), WEIR_CLIENT_VERSION, clients, x.o.runs, PARTS, x.o.records, x.o.session_ms,
           x.o.heartbeat_ms, x.o.commit_secs, x.o.async_window, loadavg1());
    fflush(stdout);
    broker_start(&x);
    topic_fill(&x);
    if (x.o.parts & PART_DEATH) bench_rebalance(&x, true);
    if (x.o.parts & PART_LEAVE) bench_rebalance(&x, false);
    if (x.o.parts & PART_JOIN) bench_join(&x);
    if (x.o.parts & PART_COMMIT) bench_commit(&x);
    rd_kafka_destroy(x.admin);
    x.admin = NULL;
    broker_stop(&x);
    printf("{\"schema\":%d,\"bench\":\"end\",\"elapsed_s\":%.0f,\"loadavg_1m\":%.2f}\n", SCHEMA,
           (double)(now_ns() - t0) / 1e9, loadavg1());
    rmrf(x.root);
    return 0;
}

#endif /* WEIR_HAVE_RDKAFKA */
