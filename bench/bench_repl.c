/* bench/bench_repl.c: a replicated weir cluster on one machine: throughput of
 * RF=3 acks=all against RF=3 acks=1 and RF=1 in the same run, the time a
 * producer waits after a kill -9 of a leader, the gap a controlled shutdown
 * leaves, and the replication traffic per produced byte.
 *
 * The program starts its own ZooKeeper (/usr/share/zookeeper/bin/zkServer.sh
 * start-foreground, a generated config, an ephemeral port) and three brokers
 * (`weir serve` on 127.0.0.1:0, broker.id 0..2, zookeeper.connect to it),
 * all under a fresh directory below --dir, removed at exit (also on Ctrl-C).
 * The clients are librdkafka and weir's own (client/, linked statically).
 *
 * Rows (one JSON object per line on stdout; progress on stderr):
 *  - machine: the box and the options.
 *  - produce: per client, --records 100-byte records into a fresh 1-partition
 *    topic per run, for (rf 1, acks 1), (rf 3, acks 1), (rf 3, acks all), the
 *    three interleaved run by run, the clients alternating which goes first
 *    (linger.ms 5, batch.size 1 MB; weir's client otherwise at its defaults,
 *    the Java producer's: 5 requests in flight, idempotent with acks=all).
 *    The clock runs from the first produce call (weir: the second, its
 *    metadata fetched) to the end of the flush. broker_cpu_us_per_record:
 *    the three brokers' CPU time over the run (topic setup included) per
 *    record. The acks=all row adds vs_rf3_acks1 (ratio of medians) and
 *    vs_rf3_acks1_paired (median of the per-run ratios). Brokers' stop lines
 *    ("replication: ...") give the acks=all hold times and follower fetch
 *    round trips over the produce part (--keep keeps the logs).
 *  - replication_traffic: record bytes the brokers sent in Fetch responses
 *    (their stop line's splice + copy counts: only followers fetch during the
 *    produce part) over the value bytes produced into RF=3 topics; record and
 *    batch framing (about 10% at 100-byte values) is in the numerator only.
 *  - failover: --kills times: while a producer per client (librdkafka, weir's)
 *    sends one acks=all record every 2 ms to an RF=3 partition with
 *    min.insync.replicas=2, the leader gets SIGKILL; first_ack_ms is the time
 *    from the kill to the first acknowledgement of a record sent after it,
 *    new_leader_ms the time until a survivor's Metadata names another leader
 *    (the brokers' part; polled every 5 ms). The killed broker restarts and
 *    the ISR is full again before the next kill. Median, p90, min, max, every
 *    value. ZooKeeper runs with tickTime 200 ms: it rounds a session's
 *    expiry up to a whole tick.
 *  - controlled_shutdown: --shutdowns times, the same producers, the leader
 *    gets SIGTERM (controlled.shutdown.enable=true); the longest gap between
 *    two acknowledgements from the signal until 2 s after the broker exited.
 * A restarted broker keeps its port; the steady producer's reconnect backoff
 * stops at 1 s (the Java client's default) rather than librdkafka's 10 s. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef WEIR_HAVE_RDKAFKA

int main(void)
{
    fputs("bench_repl: built without librdkafka (apt-get install librdkafka-dev, then rebuild)\n", stderr);
    return 77;
}

#else

#include <librdkafka/rdkafka.h>
#include "bench/util.h"
#include "client/client.h"

enum {
    SCHEMA = 1,
    BROKERS = 3,
    VALUE_BYTES = 100,
    ADMIN_TIMEOUT_MS = 30000,
    START_TIMEOUT_MS = 60000,
    ACKS_MAX = 1 << 20, /* acknowledgement times kept by the steady producer */
};

struct node {
    pid_t pid;
    int port;
    char root[PATH_MAX - 64];
    char log[PATH_MAX];
};

struct opts {
    const char *dir, *weir;
    long records, runs, kills, shutdowns, session_ms, reactors;
    bool produce, failover, shutdown, keep;
    unsigned configs;            /* --configs: bit c runs PCFGS[c] */
    unsigned clients;            /* --clients: 1 librdkafka, 2 weir */
    const char *broker_sets[8];  /* --broker-set KEY=VALUE, passed to every broker */
    int n_broker_sets;
};

struct ctx {
    struct opts o;
    char root[PATH_MAX - 128];
    char weir[PATH_MAX];
    sigset_t stop_signals;
    pid_t zk;
    int zk_port;
    char zk_log[PATH_MAX];
    struct node n[BROKERS];
    rd_kafka_t *admin;
    uint8_t *values;             /* 1,024 distinct 100-byte values */
    char bootstrap[256];
    uint64_t rf3_bytes;          /* record bytes produced into RF=3 topics (leader log size) */
    uint64_t fetch_bytes;        /* record bytes sent in Fetch responses, from stop lines */
};

static void stop_all(struct ctx *x)
{
    if (x->admin) rd_kafka_destroy(x->admin), x->admin = NULL;
    for (int i = 0; i < BROKERS; i++) child_kill(x->n[i].pid), x->n[i].pid = 0;
    child_kill(x->zk), x->zk = 0;
}

static _Noreturn void fatal(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fatal(struct ctx *x, const char *fmt, ...)
{
    for (int i = 0; i < BROKERS; i++)
        if (x->n[i].pid > 0) log_tail("bench_repl", x->n[i].log);
    for (int i = 0; i < BROKERS; i++) child_kill(x->n[i].pid), x->n[i].pid = 0;
    child_kill(x->zk), x->zk = 0;
    va_list ap;
    va_start(ap, fmt);
    bench_vfail("bench_repl", 0, x->zk_log, x->root, fmt, ap);
}

static void check_interrupt(struct ctx *x)
{
    int sig = stop_signal_pending(&x->stop_signals);
    if (sig) fatal(x, "interrupted by signal %d", sig);
}

/* ---- ZooKeeper ------------------------------------------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || getsockname(fd, (struct sockaddr *)&sa, &len)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* The `srvr` four-letter word answers with a "Mode:" line once serving. */
static bool zk_serving(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char buf[2048];
    size_t have = 0;
    bool ok = false;
    struct timeval tv = { .tv_sec = 2 }; /* a starting ZooKeeper may accept and not answer */
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, "srvr", 4) == 4) {
        ssize_t n;
        while (have < sizeof buf - 1 && (n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) have += (size_t)n;
        buf[have] = '\0';
        ok = strstr(buf, "Mode:") != NULL;
    }
    if (fd >= 0) close(fd);
    return ok;
}

static void zk_start(struct ctx *x)
{
    char dir[PATH_MAX - 64], cfg[PATH_MAX], text[PATH_MAX + 256];
    snprintf(dir, sizeof dir, "%s/zk", x->root);
    snprintf(cfg, sizeof cfg, "%s/zoo.cfg", dir);
    snprintf(x->zk_log, sizeof x->zk_log, "%s/zk.log", x->root);
    if (mkdir(dir, 0755) != 0) fatal(x, "mkdir %s: %s", dir, strerror(errno));
    x->zk_port = free_port();
    int n = snprintf(text, sizeof text,
                     "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\ntickTime=200\ninitLimit=50\n"
                     "syncLimit=25\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\nmaxSessionTimeout=60000\n",
                     dir, x->zk_port);
    int fd = open(cfg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, (size_t)n) != n) fatal(x, "cannot write %s", cfg);
    close(fd);
    int log = open(x->zk_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    setenv("ZOO_LOG_DIR", dir, 1);
    char *argv[] = { "/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", cfg, NULL };
    x->zk = child_spawn(argv, -1, log, log, SIGTERM);
    close(log);
    if (x->zk < 0) fatal(x, "cannot start ZooKeeper: %s", strerror(errno));
    for (int64_t t0 = now_ns(); !zk_serving(x->zk_port); sleep_ms(100)) {
        if (child_wait(x->zk, 0, NULL)) x->zk = 0, fatal(x, "ZooKeeper exited while starting (its log: %s)", x->zk_log);
        if (now_ns() - t0 > 30 * (int64_t)1000000000) fatal(x, "ZooKeeper did not serve within 30 s");
    }
}

/* ---- brokers ----------------------------------------------------------------------- */

/* A restart listens on the port the broker had (a rolling restart keeps
 * addresses; clients' connections to that id stay valid), else on any. */
static void broker_start(struct ctx *x, int i)
{
    struct node *b = &x->n[i];
    char zk[64], id[32], session[64], listen[64], reactors[64], err[512];
    snprintf(zk, sizeof zk, "zookeeper.connect=127.0.0.1:%d", x->zk_port);
    snprintf(id, sizeof id, "broker.id=%d", i);
    snprintf(session, sizeof session, "zookeeper.session.timeout.ms=%ld", x->o.session_ms);
    snprintf(reactors, sizeof reactors, "weir.reactors=%ld", x->o.reactors);
    const char *extra[32] = { "--set", zk, "--set", id, "--set", session, "--set", "log.segment.bytes=67108864",
                              "--set", "controlled.shutdown.enable=true", "--set", "auto.leader.rebalance.enable=false",
                              "--set", reactors };
    int n = 14;
    for (int k = 0; k < x->o.n_broker_sets; k++) {
        extra[n++] = "--set";
        extra[n++] = x->o.broker_sets[k];
    }
    int at_listen = n; /* NULL there: any port */
    extra[n++] = b->port > 0 ? "--listen" : NULL;
    extra[n++] = listen;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", b->port);
    if (b->port > 0 &&
        serve_start(x->weir, b->root, b->log, extra, START_TIMEOUT_MS, &b->pid, &b->port, err, sizeof err) == 0)
        return;
    if (b->port > 0) fprintf(stderr, "bench_repl: broker %d: cannot restart on port %d (%s); any port\n", i, b->port, err);
    extra[at_listen] = NULL;
    if (serve_start(x->weir, b->root, b->log, extra, START_TIMEOUT_MS, &b->pid, &b->port, err, sizeof err) != 0) {
        b->pid = 0;
        fatal(x, "broker %d: %s", i, err);
    }
}

/* SIGTERM and wait; adds the broker's Fetch record bytes (its stop line) to x->fetch_bytes. */
static void broker_stop(struct ctx *x, int i)
{
    struct node *b = &x->n[i];
    child_kill(b->pid);
    b->pid = 0;
    FILE *f = fopen(b->log, "r");
    char line[1024];
    uint64_t splice = 0, copy = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *at = strstr(line, "fetch record bytes sent by splice ");
        if (at) sscanf(at, "fetch record bytes sent by splice %" SCNu64 ", by copy %" SCNu64, &splice, &copy);
    }
    if (f) fclose(f);
    x->fetch_bytes += splice + copy;
}

static void bootstrap_make(struct ctx *x)
{
    size_t used = 0;
    x->bootstrap[0] = '\0';
    for (int i = 0; i < BROKERS; i++)
        if (x->n[i].pid > 0)
            used += (size_t)snprintf(x->bootstrap + used, sizeof x->bootstrap - used, "%s127.0.0.1:%d",
                                     used ? "," : "", x->n[i].port);
}

/* ---- librdkafka --------------------------------------------------------------------- */

static void conf_set(struct ctx *x, rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) fatal(x, "conf %s=%s: %s", k, v, err);
}

static rd_kafka_conf_t *conf_base(struct ctx *x)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    bootstrap_make(x);
    conf_set(x, c, "bootstrap.servers", x->bootstrap);
    conf_set(x, c, "log_level", "3");
    return c;
}

static rd_kafka_t *client_new(struct ctx *x, rd_kafka_conf_t *c)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) fatal(x, "rd_kafka_new: %s", err);
    return rk;
}

/* The partition's leader and ISR size (-1, 0 when unknown). */
static void partition_state(rd_kafka_t *rk, const char *topic, int *leader, int *isr)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    *leader = -1, *isr = 0;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt == 1 &&
            md->topics[0].partitions[0].err == 0)
            *leader = md->topics[0].partitions[0].leader, *isr = md->topics[0].partitions[0].isr_cnt;
        rd_kafka_metadata_destroy(md);
    }
    if (rkt) rd_kafka_topic_destroy(rkt);
}

/* Waits until the 1-partition topic has a leader and an ISR of isr_want. */
static int isr_wait(struct ctx *x, rd_kafka_t *rk, const char *topic, int isr_want, int timeout_ms)
{
    int leader, isr;
    for (int64_t t0 = now_ns();; sleep_ms(50)) {
        partition_state(rk, topic, &leader, &isr);
        if (leader >= 0 && isr >= isr_want) return leader;
        if (now_ns() - t0 > (int64_t)timeout_ms * 1000000)
            fatal(x, "topic %s: leader %d, ISR of %d after %d ms (want %d)", topic, leader, isr, timeout_ms, isr_want);
        check_interrupt(x);
    }
}

static void topic_create(struct ctx *x, const char *name, int rf, const char *min_isr)
{
    char err[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, 1, rf, err, sizeof err);
    if (!nt) fatal(x, "NewTopic %s: %s", name, err);
    if (min_isr && rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", min_isr))
        fatal(x, "NewTopic %s: cannot set min.insync.replicas", name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(x->admin);
    rd_kafka_CreateTopics(x->admin, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS);
    if (!ev) fatal(x, "CreateTopics %s: no answer", name);
    size_t n = 0;
    const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_topic_result_error(res[0]))
        fatal(x, "CreateTopics %s: %s", name,
              rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
              : n == 1               ? rd_kafka_err2str(rd_kafka_topic_result_error(res[0]))
                                     : "no result");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    isr_wait(x, x->admin, name, rf, ADMIN_TIMEOUT_MS);
}

static void topic_delete(struct ctx *x, const char *name)
{
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(x->admin);
    rd_kafka_DeleteTopics(x->admin, &dt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS);
    if (!ev || rd_kafka_event_error(ev)) fatal(x, "DeleteTopics %s: %s", name, ev ? rd_kafka_event_error_string(ev) : "no answer");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
}

/* ---- produce throughput --------------------------------------------------------------- */

struct deliveries {
    uint64_t ok, failed;
    rd_kafka_resp_err_t first_err;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct deliveries *d = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        d->ok++;
    } else if (d->failed++ == 0) {
        d->first_err = m->err;
    }
}

struct pcfg {
    int rf;
    const char *acks;
};
static const struct pcfg PCFGS[] = { { 1, "1" }, { 3, "1" }, { 3, "all" } };
enum { N_PCFGS = 3 };

static double brokers_cpu_s(struct ctx *x)
{
    double sum = 0;
    for (int i = 0; i < BROKERS; i++) sum += x->n[i].pid > 0 ? proc_cpu_s(x->n[i].pid) : 0;
    return sum;
}

/* librdkafka: records/s of n records into partition 0 of topic. */
static double produce_rdkafka(struct ctx *x, const char *topic, const struct pcfg *pc, int rf)
{
    struct deliveries d = { 0 };
    rd_kafka_conf_t *c = conf_base(x);
    conf_set(x, c, "acks", pc->acks);
    conf_set(x, c, "linger.ms", "5");
    conf_set(x, c, "batch.size", "1000000");
    conf_set(x, c, "batch.num.messages", "1000000");
    conf_set(x, c, "queue.buffering.max.messages", "1000000");
    conf_set(x, c, "queue.buffering.max.kbytes", "2097152");
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, &d);
    rd_kafka_t *rk = client_new(x, c);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    isr_wait(x, rk, topic, rf, ADMIN_TIMEOUT_MS);
    uint64_t n = (uint64_t)x->o.records;
    int64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        void *value = x->values + (i & 1023) * VALUE_BYTES;
        while (rd_kafka_produce(rkt, 0, 0, value, VALUE_BYTES, NULL, 0, NULL) != 0) {
            if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                fatal(x, "rd_kafka_produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_poll(rk, 1);
        }
        if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 300000) != RD_KAFKA_RESP_ERR_NO_ERROR) fatal(x, "rd_kafka_flush timed out");
    int64_t ns = now_ns() - t0;
    if (d.failed) fatal(x, "%" PRIu64 " deliveries failed, the first with %s", d.failed, rd_kafka_err2str(d.first_err));
    if (d.ok != n) fatal(x, "%" PRIu64 " of %" PRIu64 " records delivered", d.ok, n);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return (double)n / ((double)ns / 1e9);
}

struct wdeliveries {
    atomic_uint_fast64_t ok, failed;
    atomic_int first_err;
};

static void weir_on_delivery(const struct weir_delivery *dv, void *opaque)
{
    struct wdeliveries *d = opaque;
    if (dv->err == 0) atomic_fetch_add(&d->ok, 1);
    else if (atomic_fetch_add(&d->failed, 1) == 0) atomic_store(&d->first_err, dv->err);
}

static void wconf_set(struct ctx *x, struct weir_conf *c, const char *k, const char *v)
{
    char err[512];
    if (weir_conf_set(c, k, v, err, sizeof err) != WEIR_CONF_OK) fatal(x, "weir client conf %s=%s: %s", k, v, err);
}

/* A producer of weir's client on the cluster, with the NULL-ended key, value
 * pairs kv (bootstrap.servers set here). */
static struct weir_producer *wproducer_new(struct ctx *x, const char *const *kv)
{
    struct weir_conf *c = weir_conf_new();
    if (!c) fatal(x, "out of memory");
    bootstrap_make(x);
    wconf_set(x, c, "bootstrap.servers", x->bootstrap);
    for (; kv[0]; kv += 2) wconf_set(x, c, kv[0], kv[1]);
    char err[512];
    struct weir_producer *p = weir_producer_new(c, err, sizeof err);
    weir_conf_destroy(c);
    if (!p) fatal(x, "weir_producer_new: %s", err);
    return p;
}

/* weir's client, the same settings where they exist (its other defaults are
 * the Java producer's: idempotence on, 5 requests in flight); the metadata
 * comes with the first send, before the clock starts. */
static double produce_weir(struct ctx *x, const char *topic, const struct pcfg *pc)
{
    struct wdeliveries d = { 0 };
    /* idempotence (the default) needs acks=all */
    const char *idem = strcmp(pc->acks, "all") ? "false" : "true";
    struct weir_producer *p = wproducer_new(x, (const char *const[]){
        "client.id", "bench-repl", "acks", pc->acks, "linger.ms", "5", "batch.size", "1000000",
        "buffer.memory", "2147483648", "enable.idempotence", idem, NULL });
    struct weir_msg m = { .topic = topic, .partition = 0, .value = x->values, .value_len = VALUE_BYTES,
                          .on_delivery = weir_on_delivery, .opaque = &d };
    int rc = weir_producer_send(p, &m);
    if (rc != 0 || weir_producer_flush(p, 60000) != 0) fatal(x, "weir client: the first record: %d", rc);
    uint64_t n = (uint64_t)x->o.records;
    int64_t t0 = now_ns();
    for (uint64_t i = 1; i < n; i++) {
        m.value = x->values + (i & 1023) * VALUE_BYTES;
        if ((rc = weir_producer_send(p, &m)) != 0) fatal(x, "weir_producer_send: %d", rc);
    }
    if (weir_producer_flush(p, 300000) != 0) fatal(x, "weir_producer_flush timed out");
    int64_t ns = now_ns() - t0;
    weir_producer_destroy(p);
    if (d.failed) fatal(x, "%" PRIu64 " deliveries failed, the first with %d", (uint64_t)d.failed, d.first_err);
    if (d.ok != n) fatal(x, "%" PRIu64 " of %" PRIu64 " records delivered", (uint64_t)d.ok, n);
    return (double)(n - 1) / ((double)ns / 1e9);
}

/* Records/s of one run; the topic is created before and deleted after.
 * *cpu_s: the brokers' CPU seconds over the run (topic work included). */
static double produce_run(struct ctx *x, const struct pcfg *pc, int client, int run, double *cpu_s)
{
    char topic[128];
    snprintf(topic, sizeof topic, "bench-repl-%s-rf%d-acks%s-r%d", client ? "weir" : "rdk", pc->rf, pc->acks, run);
    topic_create(x, topic, pc->rf, NULL);
    double cpu0 = brokers_cpu_s(x);
    double rate = client ? produce_weir(x, topic, pc) : produce_rdkafka(x, topic, pc, pc->rf);
    *cpu_s = brokers_cpu_s(x) - cpu0;
    if (pc->rf == 3) x->rf3_bytes += (uint64_t)x->o.records * VALUE_BYTES;
    topic_delete(x, topic);
    return rate;
}

static void stat_print(const char *key, double *v, int n)
{
    double lo = v[0], hi = v[0];
    for (int i = 1; i < n; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
    printf(",\"%s_median\":%.0f,\"%s_min\":%.0f,\"%s_max\":%.0f", key, median(v, n), key, lo, key, hi);
}

static const char *const CLIENTS[] = { "librdkafka", "weir" };

static void bench_produce(struct ctx *x)
{
    int runs = (int)x->o.runs;
    double *rec = calloc((size_t)(2 * N_PCFGS * runs), sizeof *rec);
    double *cpu = calloc((size_t)(2 * N_PCFGS * runs), sizeof *cpu);
    if (!rec || !cpu) fatal(x, "out of memory");
    for (int r = 0; r < runs; r++)
        for (int cl = 0; cl < 2; cl++) {
            int client = (cl + r) % 2; /* alternate which client goes first */
            if (!(x->o.clients & (1u << client))) continue;
            for (int k = 0; k < N_PCFGS; k++) { /* rotate the order run by run: same load for each */
                int c = (k + r) % N_PCFGS, at = (client * N_PCFGS + c) * runs + r;
                if (!(x->o.configs & (1u << c))) continue;
                fprintf(stderr, "bench_repl: produce %s rf=%d acks=%s run %d/%d\n", CLIENTS[client], PCFGS[c].rf,
                        PCFGS[c].acks, r + 1, runs);
                rec[at] = produce_run(x, &PCFGS[c], client, r, &cpu[at]);
                check_interrupt(x);
            }
        }
    for (int client = 0; client < 2; client++) {
        if (!(x->o.clients & (1u << client))) continue;
        double *rc = rec + client * N_PCFGS * runs, *cc = cpu + client * N_PCFGS * runs;
        double ratio[64], one_med = 0;
        for (int r = 0; r < runs && r < 64; r++) ratio[r] = rc[2 * runs + r] / rc[1 * runs + r];
        for (int c = 0; c < N_PCFGS; c++) {
            if (!(x->o.configs & (1u << c))) continue;
            double copy[64], us[64];
            memcpy(copy, rc + c * runs, (size_t)runs * sizeof *copy);
            for (int r = 0; r < runs; r++) us[r] = cc[c * runs + r] * 1e6 / (double)x->o.records;
            printf("{\"schema\":%d,\"bench\":\"produce\",\"client\":\"%s\",\"rf\":%d,\"acks\":\"%s\","
                   "\"partitions\":1,\"value_bytes\":%d,\"records\":%ld,\"runs\":%d,\"reactors\":%ld",
                   SCHEMA, CLIENTS[client], PCFGS[c].rf, PCFGS[c].acks, VALUE_BYTES, x->o.records, runs,
                   x->o.reactors);
            stat_print("records_s", copy, runs);
            printf(",\"records_s\":[");
            for (int r = 0; r < runs; r++) printf("%s%.0f", r ? "," : "", rc[c * runs + r]); /* run order */
            printf("]");
            printf(",\"broker_cpu_us_per_record_median\":%.3f", median(us, runs));
            if (c == 1) one_med = median(copy, runs);
            if (c == 2 && (x->o.configs & 2))
                printf(",\"vs_rf3_acks1\":%.3f,\"vs_rf3_acks1_paired\":%.3f", median(copy, runs) / one_med,
                       median(ratio, runs));
            printf("}\n");
        }
    }
    fflush(stdout);
    free(rec);
    free(cpu);
}

/* ---- the steady producer: one acks=all record every 2 ms ------------------------------ */

struct steady {
    struct ctx *x;
    int client;                        /* 0: librdkafka, 1: weir's (CLIENTS) */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    struct weir_producer *wp;
    const char *topic;
    pthread_t thread;
    atomic_bool stop;
    atomic_int_fast64_t mark_ns;       /* records sent after this count for first_after */
    atomic_int_fast64_t first_after_ns; /* the first ack of such a record, 0 until then */
    pthread_mutex_t mu;
    int64_t *acks;                     /* ack times, in arrival order */
    size_t n_acks;
    atomic_uint_fast64_t failed;
};

static void steady_ack(struct steady *s, int64_t sent, bool ok)
{
    int64_t now = now_ns();
    if (!ok) {
        atomic_fetch_add(&s->failed, 1);
        return;
    }
    pthread_mutex_lock(&s->mu);
    if (s->n_acks < ACKS_MAX) s->acks[s->n_acks++] = now;
    pthread_mutex_unlock(&s->mu);
    int64_t mark = atomic_load(&s->mark_ns), zero = 0;
    if (mark && sent > mark) atomic_compare_exchange_strong(&s->first_after_ns, &zero, now);
}

static void steady_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    steady_ack(opaque, (int64_t)(intptr_t)m->_private, !m->err);
}

/* The send time of one record of weir's client, freed by its callback. */
struct wsent {
    struct steady *s;
    int64_t sent;
};

static void steady_wdelivery(const struct weir_delivery *d, void *opaque)
{
    struct wsent *w = opaque;
    steady_ack(w->s, w->sent, d->err == 0);
    free(w);
}

static void *steady_main(void *arg)
{
    struct steady *s = arg;
    uint8_t value[VALUE_BYTES];
    memset(value, 'v', sizeof value);
    for (int64_t next = now_ns(); !atomic_load(&s->stop); next += 2000000) {
        sleep_until(next);
        int64_t sent = now_ns();
        if (s->wp) {
            struct wsent *w = malloc(sizeof *w);
            if (!w) continue;
            *w = (struct wsent){ s, sent };
            struct weir_msg m = { .topic = s->topic, .partition = 0, .value = value, .value_len = sizeof value,
                                  .on_delivery = steady_wdelivery, .opaque = w };
            if (weir_producer_send(s->wp, &m) != 0) free(w), atomic_fetch_add(&s->failed, 1);
            continue;
        }
        if (rd_kafka_produce(s->rkt, 0, RD_KAFKA_MSG_F_COPY, value, sizeof value, NULL, 0, (void *)(intptr_t)sent))
            rd_kafka_poll(s->rk, 0);
        rd_kafka_poll(s->rk, 0);
    }
    if (s->wp) weir_producer_flush(s->wp, 60000);
    else rd_kafka_flush(s->rk, 60000);
    return NULL;
}

/* weir's client as the librdkafka one below where the key exists; it asks
 * for metadata again retry.backoff.ms after a failed send (no 1 s scan). */
static struct weir_producer *steady_weir(struct ctx *x)
{
    return wproducer_new(x, (const char *const[]){ "client.id", "bench-repl-steady", "acks", "all", "linger.ms", "0",
                                                   "delivery.timeout.ms", "120000", "retry.backoff.ms", "20",
                                                   "metadata.max.age.ms", "1000", NULL });
}

static void steady_start(struct ctx *x, struct steady *s, const char *topic, int client)
{
    *s = (struct steady){ .x = x, .client = client, .topic = topic };
    pthread_mutex_init(&s->mu, NULL);
    s->acks = malloc(ACKS_MAX * sizeof *s->acks);
    if (!s->acks) fatal(x, "out of memory");
    if (client == 1) {
        s->wp = steady_weir(x);
        if (pthread_create(&s->thread, NULL, steady_main, s) != 0) fatal(x, "pthread_create failed");
        return;
    }
    rd_kafka_conf_t *c = conf_base(x);
    conf_set(x, c, "acks", "all");
    conf_set(x, c, "linger.ms", "0");
    conf_set(x, c, "message.timeout.ms", "120000");
    conf_set(x, c, "topic.metadata.refresh.interval.ms", "1000");
    conf_set(x, c, "retry.backoff.ms", "20");
    conf_set(x, c, "reconnect.backoff.max.ms", "1000"); /* the Java client's default (librdkafka's: 10 s) */
    const char *debug = getenv("BENCH_REPL_DEBUG"); /* librdkafka's debug contexts, to stderr */
    if (debug && *debug) conf_set(x, c, "debug", debug);
    rd_kafka_conf_set_dr_msg_cb(c, steady_delivery);
    rd_kafka_conf_set_opaque(c, s);
    s->rk = client_new(x, c);
    s->rkt = rd_kafka_topic_new(s->rk, topic, NULL);
    if (pthread_create(&s->thread, NULL, steady_main, s) != 0) fatal(x, "pthread_create failed");
}

static void steady_stop(struct steady *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    if (s->wp) {
        weir_producer_destroy(s->wp);
    } else {
        rd_kafka_topic_destroy(s->rkt);
        rd_kafka_destroy(s->rk);
    }
    free(s->acks);
    pthread_mutex_destroy(&s->mu);
}

/* Waits until the steady producer's acks flow (one within the last 200 ms). */
static void steady_flowing(struct ctx *x, struct steady *s)
{
    for (int64_t t0 = now_ns();; sleep_ms(20)) {
        pthread_mutex_lock(&s->mu);
        int64_t last = s->n_acks ? s->acks[s->n_acks - 1] : 0;
        pthread_mutex_unlock(&s->mu);
        if (last && now_ns() - last < 200000000) return;
        if (now_ns() - t0 > 60 * (int64_t)1000000000) fatal(x, "the steady producer gets no acknowledgements");
        check_interrupt(x);
    }
}

static void ms_print(const char *key, double *v, int n)
{
    double s[256];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    printf(",\"%s_median\":%.0f,\"%s_p90\":%.0f,\"%s_min\":%.0f,\"%s_max\":%.0f,\"%s\":[", key, median(s, n), key,
           s[(int)((n - 1) * 0.9)], key, s[0], key, s[n - 1], key);
    for (int i = 0; i < n; i++) printf("%s%.0f", i ? "," : "", v[i]);
    printf("]");
}

/* One steady producer per client asked for (--clients), all on one topic. */
static int steadies_start(struct ctx *x, struct steady *s, const char *topic)
{
    int n = 0;
    for (int client = 0; client < 2; client++)
        if (x->o.clients & (1u << client)) steady_start(x, &s[n++], topic, client);
    return n;
}

static void bench_failover(struct ctx *x)
{
    const char *topic = "bench-repl-failover";
    topic_create(x, topic, 3, "2");
    struct steady s[2];
    int ns = steadies_start(x, s, topic);
    int kills = (int)x->o.kills;
    double ms[2][256], elected[256];
    for (int k = 0; k < kills; k++) {
        int leader = isr_wait(x, x->admin, topic, 3, 120000);
        for (int i = 0; i < ns; i++) steady_flowing(x, &s[i]), atomic_store(&s[i].first_after_ns, 0);
        int64_t t0 = now_ns();
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall); /* to line up with the brokers' logs */
        for (int i = 0; i < ns; i++) atomic_store(&s[i].mark_ns, t0);
        kill(x->n[leader].pid, SIGKILL);
        waitpid(x->n[leader].pid, NULL, 0);
        x->n[leader].pid = 0;
        /* The brokers' part: until a survivor's Metadata names a new leader
         * (polled every 5 ms); the rest of first_ack is the client finding it. */
        int64_t elected_ns = 0;
        for (int acked = 0; acked < ns || !elected_ns;) {
            if (now_ns() - t0 > 120 * (int64_t)1000000000) fatal(x, "no acknowledgement within 120 s of the kill");
            check_interrupt(x);
            int now_leader, isr;
            if (!elected_ns && (partition_state(x->admin, topic, &now_leader, &isr), now_leader >= 0 && now_leader != leader))
                elected_ns = now_ns();
            acked = 0;
            for (int i = 0; i < ns; i++) acked += atomic_load(&s[i].first_after_ns) != 0;
            sleep_ms(elected_ns ? 2 : 5);
        }
        elected[k] = (double)(elected_ns - t0) / 1e6;
        struct tm tm;
        gmtime_r(&wall.tv_sec, &tm);
        fprintf(stderr, "bench_repl: kill %d/%d of broker %d at %02d:%02d:%02d.%03ldZ: new leader in Metadata after %.0f ms",
                k + 1, kills, leader, tm.tm_hour, tm.tm_min, tm.tm_sec, wall.tv_nsec / 1000000, elected[k]);
        for (int i = 0; i < ns; i++) {
            ms[i][k] = (double)(atomic_load(&s[i].first_after_ns) - t0) / 1e6;
            fprintf(stderr, ", first ack (%s) after %.0f ms", CLIENTS[s[i].client], ms[i][k]);
        }
        fputc('\n', stderr);
        broker_start(x, leader);
    }
    for (int i = 0; i < ns; i++) {
        steady_stop(&s[i]);
        printf("{\"schema\":%d,\"bench\":\"failover\",\"client\":\"%s\",\"kills\":%d,"
               "\"zookeeper_session_timeout_ms\":%ld,\"aim_ms\":%ld,\"send_interval_ms\":2",
               SCHEMA, CLIENTS[s[i].client], kills, x->o.session_ms, x->o.session_ms + 1000);
        ms_print("first_ack_ms", ms[i], kills);
        ms_print("new_leader_ms", elected, kills);
        printf("}\n");
    }
    fflush(stdout);
    topic_delete(x, topic);
}

/* The longest gap between two acknowledgements of s from t0 (the signal)
 * until now; a producer whose acks stopped before exited counts until now. */
static double gap_longest(struct steady *s, size_t from, int64_t t0, int64_t exited)
{
    pthread_mutex_lock(&s->mu);
    int64_t prev = t0, worst = 0;
    for (size_t i = from; i < s->n_acks; i++) {
        worst = s->acks[i] - prev > worst ? s->acks[i] - prev : worst;
        prev = s->acks[i];
    }
    pthread_mutex_unlock(&s->mu);
    if (prev < exited) worst = now_ns() - prev > worst ? now_ns() - prev : worst; /* acks stopped */
    return (double)worst / 1e6;
}

static void bench_shutdown(struct ctx *x)
{
    const char *topic = "bench-repl-shutdown";
    topic_create(x, topic, 3, "2");
    struct steady s[2];
    int ns = steadies_start(x, s, topic);
    int n = (int)x->o.shutdowns;
    double gap[2][256];
    for (int k = 0; k < n; k++) {
        int leader = isr_wait(x, x->admin, topic, 3, 120000);
        size_t from[2];
        for (int i = 0; i < ns; i++) {
            steady_flowing(x, &s[i]);
            pthread_mutex_lock(&s[i].mu);
            from[i] = s[i].n_acks;
            pthread_mutex_unlock(&s[i].mu);
        }
        int64_t t0 = now_ns();
        pid_t pid = x->n[leader].pid;
        kill(pid, SIGTERM);
        if (!child_wait(pid, 120000, NULL)) fatal(x, "broker %d did not exit within 120 s of SIGTERM", leader);
        x->n[leader].pid = 0;
        int64_t exited = now_ns();
        sleep_ms(2000);
        fprintf(stderr, "bench_repl: controlled shutdown %d/%d of broker %d (exit after %.0f ms)", k + 1, n, leader,
                (double)(exited - t0) / 1e6);
        for (int i = 0; i < ns; i++) {
            gap[i][k] = gap_longest(&s[i], from[i], t0, exited);
            fprintf(stderr, ", longest gap (%s) %.0f ms", CLIENTS[s[i].client], gap[i][k]);
        }
        fputc('\n', stderr);
        broker_start(x, leader);
    }
    for (int i = 0; i < ns; i++) {
        steady_stop(&s[i]);
        printf("{\"schema\":%d,\"bench\":\"controlled_shutdown\",\"client\":\"%s\",\"shutdowns\":%d,"
               "\"aim_ms\":1000,\"send_interval_ms\":2",
               SCHEMA, CLIENTS[s[i].client], n);
        ms_print("longest_gap_ms", gap[i], n);
        printf("}\n");
    }
    fflush(stdout);
    topic_delete(x, topic);
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(void)
{
    fputs("usage: bench_repl [--weir PATH] [--dir PATH] [--records N] [--runs N] [--kills N] [--shutdowns N]\n"
          "                  [--session-ms N] [--only produce,failover,shutdown] [--configs rf1,acks1,acksall]\n"
          "                  [--clients librdkafka,weir] [--reactors N] [--broker-set KEY=VALUE]... [--quick] [--keep]\n",
          stderr);
    exit(2);
}

static void opts_parse(struct opts *o, int argc, char **argv)
{
    *o = (struct opts){ .records = 2000000, .runs = 3, .kills = 20, .shutdowns = 5, .session_ms = 6000,
                        .produce = true, .failover = true, .shutdown = true, .configs = 7, .clients = 3 };
    static const char *const parts[] = { "produce", "failover", "shutdown" };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long *num = !strcmp(a, "--records") ? &o->records : !strcmp(a, "--runs") ? &o->runs
                    : !strcmp(a, "--reactors") ? &o->reactors
                    : !strcmp(a, "--kills") ? &o->kills : !strcmp(a, "--shutdowns") ? &o->shutdowns
                    : !strcmp(a, "--session-ms") ? &o->session_ms : NULL;
        if (!strcmp(a, "--keep")) {
            o->keep = true;
        } else if (!strcmp(a, "--quick")) {
            o->records = 200000, o->runs = 1, o->kills = 2, o->shutdowns = 1;
        } else if (num) {
            if (!v || !long_parse(v, num == &o->reactors ? 0 : 1,
                                  !strcmp(a, "--records") ? 1000000000 : num == &o->session_ms ? 60000 : 64, num))
                fprintf(stderr, "bench_repl: %s wants a number in range\n", a), usage();
            i++;
        } else if (!strcmp(a, "--dir") && v) {
            o->dir = argv[++i];
        } else if (!strcmp(a, "--weir") && v) {
            o->weir = argv[++i];
        } else if (!strcmp(a, "--only") && v) {
            unsigned mask;
            const char *bad;
            int bad_len;
            if (!names_mask(v, parts, 3, &mask, &bad, &bad_len))
                fprintf(stderr, "bench_repl: --only: unknown part '%.*s'\n", bad_len, bad), usage();
            o->produce = mask & 1, o->failover = mask & 2, o->shutdown = mask & 4;
            i++;
        } else if (!strcmp(a, "--broker-set") && v && strchr(v, '=')) {
            if (o->n_broker_sets == 8) fputs("bench_repl: at most 8 --broker-set\n", stderr), usage();
            o->broker_sets[o->n_broker_sets++] = argv[++i];
        } else if (!strcmp(a, "--clients") && v) {
            static const char *const cls[] = { "librdkafka", "weir" };
            const char *bad;
            int bad_len;
            if (!names_mask(v, cls, 2, &o->clients, &bad, &bad_len) || !o->clients)
                fprintf(stderr, "bench_repl: --clients: unknown client '%.*s'\n", bad_len, bad), usage();
            i++;
        } else if (!strcmp(a, "--configs") && v) {
            static const char *const cfgs[] = { "rf1", "acks1", "acksall" };
            const char *bad;
            int bad_len;
            if (!names_mask(v, cfgs, 3, &o->configs, &bad, &bad_len) || !o->configs)
                fprintf(stderr, "bench_repl: --configs: unknown configuration '%.*s'\n", bad_len, bad), usage();
            i++;
        } else {
            fprintf(stderr, "bench_repl: unknown option %s\n", a);
            usage();
        }
    }
}

int main(int argc, char **argv)
{
    static struct ctx x;
    opts_parse(&x.o, argc, argv);
    if (x.o.weir) snprintf(x.weir, sizeof x.weir, "%s", x.o.weir);
    else if (exe_sibling("weir", x.weir, sizeof x.weir) != 0) fputs("bench_repl: cannot find weir\n", stderr), exit(1);
    if (access("/usr/share/zookeeper/bin/zkServer.sh", X_OK) != 0)
        fputs("bench_repl: ZooKeeper is not installed (apt-get install zookeeper)\n", stderr), exit(77);
    stop_signals_block(&x.stop_signals);
    char tmpl[PATH_MAX];
    int rc = make_tmpdir(x.o.dir, "weir-bench-repl", x.root, sizeof x.root, tmpl);
    if (rc != 0) fprintf(stderr, "bench_repl: cannot make a directory from %s\n", tmpl), exit(1);
    x.values = malloc(1024 * VALUE_BYTES);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; x.values && i < 1024; i++) weir_value_make(x.values + i * VALUE_BYTES, VALUE_BYTES, i, &rng);
    print_machine_head(SCHEMA, x.root);
    printf(",\"brokers\":%d,\"records\":%ld,\"runs\":%d,\"kills\":%ld,\"shutdowns\":%ld,\"session_ms\":%ld,"
           "\"librdkafka\":",
           BROKERS, x.o.records, (int)x.o.runs, x.o.kills, x.o.shutdowns, x.o.session_ms);
    json_str(rd_kafka_version_str());
    printf(",\"load1\":%.2f}\n", loadavg1());
    fflush(stdout);
    zk_start(&x);
    for (int i = 0; i < BROKERS; i++) {
        snprintf(x.n[i].root, sizeof x.n[i].root, "%s/b%d", x.root, i);
        snprintf(x.n[i].log, sizeof x.n[i].log, "%s/b%d.log", x.root, i);
        if (mkdir(x.n[i].root, 0755) != 0) fatal(&x, "mkdir %s: %s", x.n[i].root, strerror(errno));
        broker_start(&x, i);
    }
    x.admin = client_new(&x, conf_base(&x));
    if (x.o.produce) {
        bench_produce(&x);
        rd_kafka_destroy(x.admin), x.admin = NULL;
        for (int i = 0; i < BROKERS; i++) broker_stop(&x, i);
        printf("{\"schema\":%d,\"bench\":\"replication_traffic\",\"fetch_record_bytes\":%" PRIu64
               ",\"rf3_value_bytes\":%" PRIu64 ",\"per_produced_value_byte\":%.3f,\"aim\":2.0}\n",
               SCHEMA, x.fetch_bytes, x.rf3_bytes, x.rf3_bytes ? (double)x.fetch_bytes / (double)x.rf3_bytes : 0);
        fflush(stdout);
        if (x.o.failover || x.o.shutdown) { /* a restart overwrites each broker's log */
            for (int i = 0; i < BROKERS; i++) broker_start(&x, i);
            x.admin = client_new(&x, conf_base(&x));
        }
    }
    if (x.o.failover) bench_failover(&x);
    if (x.o.shutdown) bench_shutdown(&x);
    stop_all(&x);
    if (x.o.keep) fprintf(stderr, "bench_repl: kept %s (logs b0.log .. b2.log, zk.log)\n", x.root);
    else rmrf(x.root);
    return 0;
}

#endif
