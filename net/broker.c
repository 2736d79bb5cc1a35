/* net/broker.c: the broker's life: claim the port, prepare the data
 * directory, open the store, bind one SO_REUSEPORT socket per reactor and listener,
 * start the reactors, wait for SIGINT/SIGTERM, stop.
 *
 * Files it keeps in the data directory besides the store's:
 *   meta.properties   cluster.id and node.id, written once
 *   producer-ids      start of the next unallocated block of producer ids
 *                     (producer_id.c) */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { LISTEN_BACKLOG = 1024 };

static enum weir_err meta_properties_write(struct broker *b, const char *cluster_id)
{
    char path[4200], body[160];
    snprintf(path, sizeof path, "%s/meta.properties", b->cfg.data_dir);
    int n = snprintf(body, sizeof body, "version=1\ncluster.id=%s\nnode.id=%" PRId32 "\n", cluster_id,
                     b->cfg.node_id);
    return weir_write_file_atomic(path, body, (size_t)n);
}

/* The id meta.properties holds, if any. In a cluster it is the cluster's
 * (/cluster/id): checked and written by cluster_id_adopt once joined; a
 * single node makes its own (cluster_id_make). */
static void cluster_id_load(struct broker *b)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/meta.properties", b->cfg.data_dir);
    if (weir_read_file(path, 4096, &text, NULL) == WEIR_OK) {
        const char *at = strstr(text, "cluster.id=");
        if (at) sscanf(at + 11, "%22[A-Za-z0-9_-]", b->cluster_id);
        weir_free(text);
    }
}

static enum weir_err cluster_id_make(struct broker *b)
{
    if (b->cluster_id[0]) return WEIR_OK;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[22];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, raw, sizeof raw) != (ssize_t)sizeof raw) {
        if (fd >= 0) close(fd);
        return WEIR_E_IO;
    }
    close(fd);
    for (int i = 0; i < 22; i++) b->cluster_id[i] = alphabet[raw[i] & 63];
    b->cluster_id[22] = '\0';
    return meta_properties_write(b, b->cluster_id);
}

/* Joined: a data directory new to the cluster takes its id (a different one
 * was refused by weir_cluster_start). */
static enum weir_err cluster_id_adopt(struct broker *b, char *why, size_t cap)
{
    if (b->cluster_id[0]) return WEIR_OK;
    char id[64];
    weir_cluster_id(b->cluster, id, sizeof id);
    enum weir_err err = meta_properties_write(b, id);
    if (err != WEIR_OK) snprintf(why, cap, "cannot write %s/meta.properties: %s", b->cfg.data_dir, weir_err_text(err));
    return err;
}

static void sockaddr_set_port(struct sockaddr_storage *sa, uint16_t port)
{
    if (sa->ss_family == AF_INET) ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

static int listen_one(const struct addrinfo *ai, uint16_t port)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_storage sa;
    memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
    sockaddr_set_port(&sa, port);
    if (bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static uint16_t bound_port(int fd)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    return ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
                                         : ((struct sockaddr_in6 *)&sa)->sin6_port);
}

/* One port, one broker. Each reactor gets its own SO_REUSEPORT listener, and
 * the kernel spreads new connections over them. But SO_REUSEPORT also lets
 * any later socket of the same user join that group: a second weir on the
 * port used to start, log "listening", and take a share of the first one's
 * connections. So before the listeners are bound, the port is claimed:
 *   1. A lock that lives exactly as long as the process: an abstract unix
 *      socket named after the port ("\0weir-port-9092"). Abstract names are
 *      per network namespace, like ports, and the kernel drops the name when
 *      the process dies, however it dies. bind() of a taken name fails
 *      atomically, so two weirs starting at once cannot both pass. It is
 *      keyed by the port alone, so 0.0.0.0:9092 and 127.0.0.1:9092 exclude
 *      each other too (two weirs on different addresses of one port: refused).
 *   2. An exclusive probe: a socket bound without SO_REUSEPORT, closed again.
 *      EADDRINUSE means another program listens there (a weir holds the lock
 *      as well, and step 1 answered already).
 * What is left is a program that is not weir, sets SO_REUSEPORT itself and
 * binds the port in the microseconds between the probe and our binds.
 * Port 0 (ephemeral) needs neither: the kernel picks a free port. */
static enum weir_err port_claim(struct broker *b, unsigned li, const struct addrinfo *ai, char *why, size_t cap)
{
    const struct weir_listener *l = &b->cfg.listeners[li];
    uint16_t port = l->port;
    if (port == 0) return WEIR_OK;
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    int n = snprintf(un.sun_path + 1, sizeof un.sun_path - 1, "weir-port-%u", port);
    int lock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lock >= 0 &&
        bind(lock, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
        int saved = errno;
        close(lock);
        lock = -1;
        if (saved == EADDRINUSE) {
            snprintf(why, cap, "cannot listen on %s:%u: %s (another weir broker uses port %u)", l->host, port,
                     strerror(saved), port);
            return WEIR_E_IO;
        }
    } /* no unix sockets at all (unlikely): the probe alone still catches a running broker */
    b->port_lock_fds[li] = lock;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    struct sockaddr_storage sa;
    memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
    sockaddr_set_port(&sa, port);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* TIME_WAIT is no owner */
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) != 0) {
        snprintf(why, cap, "cannot listen on %s:%u: %s", l->host, port, strerror(errno));
        if (fd >= 0) close(fd);
        return WEIR_E_IO;
    }
    close(fd);
    return WEIR_OK;
}

static enum weir_err listen_resolve(const struct broker *b, unsigned li, struct addrinfo **ai, char *why, size_t cap)
{
    const struct weir_listener *l = &b->cfg.listeners[li];
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    int rc = getaddrinfo(l->host[0] ? l->host : NULL, "0", &hints, ai);
    if (rc != 0) {
        snprintf(why, cap, "cannot listen on %s:%u: cannot resolve '%s': %s", l->host, l->port, l->host,
                 gai_strerror(rc));
        return WEIR_E_IO;
    }
    return WEIR_OK;
}

/* Every reactor accepts on every listener, each on its own SO_REUSEPORT
 * socket. */
static enum weir_err listeners_open(struct broker *b, unsigned li, const struct addrinfo *ai, char *why, size_t cap)
{
    const struct weir_listener *l = &b->cfg.listeners[li];
    uint16_t port = l->port;
    enum weir_err err = WEIR_OK;
    for (unsigned i = 0; i < b->n_reactors && err == WEIR_OK; i++) {
        struct acceptor *a = &b->reactors[i].acc[li];
        a->fd = listen_one(ai, port);
        if (a->fd < 0) {
            snprintf(why, cap, "cannot listen on %s:%u: %s", l->host, port, strerror(errno));
            err = WEIR_E_IO;
        } else if (port == 0) {
            port = bound_port(a->fd);
        }
    }
    b->ports[li] = port;
    return err;
}

/* mkdir -p: each missing component, 0755. */
static int mkdir_parents(const char *dir)
{
    char path[sizeof ((struct weir_broker_config *)0)->data_dir];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
        path[i] = saved;
    }
    return 0;
}

/* The data directory exists (made with its parents), is a directory, and a
 * file can be created in it (as root, permission bits do not stop writes, but
 * a read-only file system does). */
static enum weir_err data_dir_prepare(const char *dir, char *why, size_t cap)
{
    struct stat sb;
    if (mkdir_parents(dir) != 0) {
        snprintf(why, cap, "cannot create data dir %s: %s", dir, strerror(errno));
        return WEIR_E_IO;
    }
    int rc = stat(dir, &sb);
    if (rc != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(why, cap, "cannot use data dir %s: %s", dir, strerror(rc != 0 ? errno : ENOTDIR));
        return WEIR_E_IO;
    }
    char probe[sizeof ((struct weir_broker_config *)0)->data_dir + 32];
    snprintf(probe, sizeof probe, "%s/.weir-write-check", dir);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, cap, "cannot write in data dir %s: %s", dir, strerror(errno));
        return WEIR_E_IO;
    }
    close(fd);
    unlink(probe);
    return WEIR_OK;
}

/* The first listener's port on the first line (what a single listener's
 * file always held); with several listeners, then NAME=PORT for each. */
static void port_file_write(const struct broker *b)
{
    if (!b->cfg.port_file[0]) return;
    char text[WEIR_LISTENERS_MAX * (WEIR_LISTENER_NAME_MAX + 8) + 48];
    size_t n = (size_t)snprintf(text, sizeof text, "%u\n", b->ports[0]);
    for (unsigned i = 0; b->cfg.listeners_n > 1 && i < b->cfg.listeners_n; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s=%u\n", b->cfg.listeners[i].name, b->ports[i]);
    if (b->metrics) n += (size_t)snprintf(text + n, sizeof text - n, "METRICS=%u\n", b->metrics_port);
    if (weir_write_file_atomic(b->cfg.port_file, text, n) != WEIR_OK)
        weir_log(WEIR_LOG_WARN, "cannot write port file %s", b->cfg.port_file);
}

static unsigned reactors_wanted(const struct weir_broker_config *cfg)
{
    long n = cfg->reactors ? (long)cfg->reactors : sysconf(_SC_NPROCESSORS_ONLN);
    return (unsigned)WEIR_MAX(1, WEIR_MIN(n, REACTORS_MAX));
}

static void stats_log(const struct broker *b)
{
    uint64_t req = 0, splice = 0, copy = 0, conns = 0, wakeups = 0, posts = 0;
    char spread[REACTORS_MAX * 12] = "";
    size_t used = 0;
    for (unsigned i = 0; i < b->n_reactors; i++) {
        const struct reactor_stats *s = &b->reactors[i].stats;
        req += s->requests, splice += s->fetch_bytes_splice, copy += s->fetch_bytes_copy, conns += s->connections;
        wakeups += s->wakeups, posts += s->wake_posts;
        used += (size_t)snprintf(spread + used, sizeof spread - used, "%s%" PRIu64, i ? "/" : "",
                                 (uint64_t)s->connections);
    }
    weir_log(WEIR_LOG_DEBUG, "connections accepted per reactor: %s", spread);
    uint64_t v[9] = { 0 };
    for (unsigned i = 0; i < b->n_reactors; i++) {
        const struct reactor_stats *s = &b->reactors[i].stats;
        v[0] += s->held, v[1] += s->held_ns, v[2] += s->ffetch_reads, v[3] += s->ffetch_records;
        v[4] += s->ffetch_waits, v[5] += s->ffetch_wait_ns, v[6] += s->fetcher_sent, v[7] += s->fetcher_rtt_ns;
        v[8] += s->fetcher_turn_ns;
    }
    if (v[0] || v[2] || v[6])
        weir_log(WEIR_LOG_INFO,
                 "replication: %" PRIu64 " acks=all produces held, mean %" PRIu64 " us; follower fetches read %" PRIu64
                 " (%" PRIu64 " with records), parked %" PRIu64 " times, mean %" PRIu64 " us; fetcher: %" PRIu64
                 " Fetch requests, mean round trip %" PRIu64 " us, mean response-to-next-request %" PRIu64 " us",
                 v[0], v[0] ? v[1] / v[0] / 1000 : 0, v[2], v[3], v[4], v[4] ? v[5] / v[4] / 1000 : 0, v[6],
                 v[6] ? v[7] / v[6] / 1000 : 0, v[6] ? v[8] / v[6] / 1000 : 0);
    weir_log(WEIR_LOG_INFO,
             "stopped: %" PRIu64 " connections, %" PRIu64 " requests; fetch record bytes sent by splice %" PRIu64
             ", by copy %" PRIu64 "; waiter wake-ups %" PRIu64 " (%" PRIu64 " posts)",
             conns, req, splice, copy, wakeups, posts);
}

static void wait_for_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {}
    weir_log(WEIR_LOG_INFO, "received %s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- the metadata backend ------------------------------------------------------------
 * The one place in net/ (but cluster_glue.c) that knows whether this broker is
 * a single node or a cluster's member: meta_backend_pick. The rest asks b->meta
 * (repl.h) and the partitions' roles (repl_part.c), the same code for both.
 * Every step leaves one line in why on failure. */
struct meta_backend {
    void (*reactor_init)(struct reactor *r);                            /* each reactor, before it starts */
    enum weir_err (*open)(struct broker *b, char *why, size_t cap);     /* listening, reactors not started */
    enum weir_err (*join)(struct broker *b, char *why, size_t cap);     /* every reactor running */
};

/* A single node leads every partition it hosts, alone. */
static void local_reactor_init(struct reactor *r) { r->leads_alone = true; }

/* A single node's metadata: its store, itself the one broker; its cluster id
 * its own, its __consumer_offsets there from the start. */
static enum weir_err local_open(struct broker *b, char *why, size_t cap)
{
    const char *dir = b->cfg.data_dir;
    enum weir_err err = cluster_id_make(b);
    if (err != WEIR_OK) {
        snprintf(why, cap, "cannot write %s/meta.properties: %s", dir, weir_err_text(err));
        return err;
    }
    struct weir_repl_endpoint eps[WEIR_REPL_ENDPOINTS_MAX];
    unsigned n = broker_endpoints(b, eps);
    static const struct weir_meta_local_host host = { .open = topic_host_open, .remove = topic_host_remove };
    char in[200];
    err = weir_meta_local_open(b->store, b->cfg.node_id, eps, n, b->cluster_id, &host, &b->meta, in, sizeof in);
    if (err != WEIR_OK) {
        snprintf(why, cap, "%s in %s", in, dir);
        return err;
    }
    if ((err = groups_topic_ensure(b)) != WEIR_OK)
        snprintf(why, cap, "cannot create topic %s in %s: %s", GROUP_OFFSETS_TOPIC, dir, weir_err_text(err));
    return err;
}

/* A cluster's metadata is the cluster's once joined (b->meta set there), and
 * __consumer_offsets is created on FindCoordinator. */
static enum weir_err cluster_join(struct broker *b, char *why, size_t cap)
{
    enum weir_err err = cluster_glue_start(b, why, cap);
    return err == WEIR_OK ? cluster_id_adopt(b, why, cap) : err;
}

static const struct meta_backend *meta_backend_pick(const struct weir_broker_config *cfg)
{
    static const struct meta_backend local = { .reactor_init = local_reactor_init, .open = local_open };
    static const struct meta_backend cluster = { .reactor_init = cluster_glue_reactor_init, .join = cluster_join };
    return cfg->zk_connect[0] ? &cluster : &local;
}

static enum weir_err broker_start(struct broker *b, const struct meta_backend *mb, char *why, size_t cap)
{
    b->n_reactors = reactors_wanted(&b->cfg);
    b->reactors = weir_calloc(b->n_reactors, sizeof *b->reactors);
    if (!b->reactors) return WEIR_E_NOMEM;
    b->dispatch = handle_request;
    for (unsigned i = 0; i < b->n_reactors; i++) { /* what runs on each reactor, registered from above */
        struct reactor *r = &b->reactors[i];
        *r = (struct reactor){ .b = b, .id = i, .n_acc = b->cfg.listeners_n, .spare_fd = -1, .event_fd = -1 };
        for (unsigned li = 0; li < WEIR_LISTENERS_MAX; li++) r->acc[li] = (struct acceptor){ .listener = li, .fd = -1 };
        conn_reactor_init(r);
        fetch_reactor_init(r);
        groups_reactor_init(r);
        repl_reactor_init(r);
        fetcher_reactor_init(r);
        log_cleaner_reactor_init(r);
        mb->reactor_init(r);
    }
    const char *dir = b->cfg.data_dir;
    struct addrinfo *ai[WEIR_LISTENERS_MAX] = { NULL };
    enum weir_err err = weir_broker_config_check(&b->cfg, why, cap);
    b->inter_broker = weir_broker_config_inter_broker(&b->cfg);
    for (unsigned li = 0; li < b->cfg.listeners_n && err == WEIR_OK; li++) {
        err = listen_resolve(b, li, &ai[li], why, cap);
        if (err == WEIR_OK) err = port_claim(b, li, ai[li], why, cap); /* before recovery: a second broker fails fast */
    }
    if (err == WEIR_OK) err = data_dir_prepare(dir, why, cap);
    if (err == WEIR_OK && (err = weir_store_open(dir, &b->cfg.log, NULL, &b->store)) != WEIR_OK)
        snprintf(why, cap, err == WEIR_E_BUSY ? "cannot open data dir %s: it is in use by another weir process"
                                              : "cannot open data dir %s: %s (see the lines above)",
                 dir, weir_err_text(err));
    if (err == WEIR_OK) weir_store_set_disk_policy(b->store, &b->cfg.disk);
    if (err == WEIR_OK) err = broker_configs_init(b, why, cap);
    if (err == WEIR_OK) cluster_id_load(b);
    if (err == WEIR_OK && (err = producer_ids_init(b)) != WEIR_OK)
        snprintf(why, cap, "cannot write %s/producer-ids: %s", dir, weir_err_text(err));
    for (unsigned li = 0; li < b->cfg.listeners_n && err == WEIR_OK; li++) err = listeners_open(b, li, ai[li], why, cap);
    if (err == WEIR_OK && mb->open) err = mb->open(b, why, cap);
    for (unsigned li = 0; li < b->cfg.listeners_n; li++)
        if (ai[li]) freeaddrinfo(ai[li]);
    return err;
}

enum weir_err weir_broker_run(const struct weir_broker_config *cfg, char *why, size_t why_cap)
{
    struct broker *b = weir_calloc(1, sizeof *b);
    if (!b) {
        snprintf(why, why_cap, "%s", weir_err_text(WEIR_E_NOMEM));
        return WEIR_E_NOMEM;
    }
    b->cfg = *cfg;
    pthread_mutex_init(&b->dyn_mu, NULL);
    b->log_defaults = cfg->log;
    for (unsigned li = 0; li < WEIR_LISTENERS_MAX; li++) b->port_lock_fds[li] = -1;
    conn_limits_init(b);
    why[0] = '\0';
    limits_nofile_raise();
    const struct meta_backend *mb = meta_backend_pick(cfg);
    enum weir_err err = broker_start(b, mb, why, why_cap);
    if (err == WEIR_OK && (err = log_cleaner_start(b)) != WEIR_OK) snprintf(why, why_cap, "cannot start the log cleaner");
    unsigned started = 0;
    for (; err == WEIR_OK && started < b->n_reactors; started++) err = reactor_start(&b->reactors[started]);
    if (err != WEIR_OK && !why[0]) snprintf(why, why_cap, "cannot start: %s", weir_err_text(err));
    /* Listening with every reactor running: roles can be posted, the port is known. */
    if (err == WEIR_OK && mb->join) err = mb->join(b, why, why_cap);
    if (err == WEIR_OK) err = metrics_start(b, &b->metrics_port, why, why_cap);
    if (err == WEIR_OK) {
        metrics_ready(b);
        port_file_write(b);
        char where[WEIR_LISTENERS_MAX * 700] = "";
        size_t used = 0;
        for (unsigned li = 0; li < cfg->listeners_n; li++) {
            const char *host;
            int32_t port;
            listener_advertised(b, li, &host, &port);
            used += (size_t)snprintf(where + used, sizeof where - used, "%s%s%s%s:%u (advertised %s:%d)",
                                     li ? ", " : "", cfg->listeners_n > 1 ? cfg->listeners[li].name : "",
                                     cfg->listeners_n > 1 ? "://" : "", cfg->listeners[li].host, b->ports[li], host,
                                     port);
            used = WEIR_MIN(used, sizeof where - 1);
        }
        weir_log(WEIR_LOG_INFO, "weir listening on %s, %u reactors, data in %s", where, b->n_reactors, cfg->data_dir);
        if (b->metrics)
            weir_log(WEIR_LOG_INFO, "metrics on http://%s:%u/metrics (/health, /ready)", cfg->metrics.host,
                     b->metrics_port);
        wait_for_signal();
        metrics_quiesce(b); /* /ready 503 from here; no snapshot posted to a stopping reactor */
        cluster_glue_shutdown(b);
    }
    cluster_glue_close(b);
    metrics_quiesce(b);
    atomic_store(&b->stopping, true);
    for (unsigned i = 0; i < started; i++) reactor_wake(&b->reactors[i]);
    for (unsigned i = 0; i < started; i++) reactor_join(&b->reactors[i]);
    log_cleaner_stop(b);
    for (unsigned i = started; i < b->n_reactors && b->reactors; i++) {
        for (unsigned li = 0; li < b->reactors[i].n_acc; li++)
            if (b->reactors[i].acc[li].fd >= 0) close(b->reactors[i].acc[li].fd);
        reactor_discard(&b->reactors[i]);
    }
    weir_meta_free(b->meta); /* before the cluster it may borrow */
    b->meta = NULL;
    cluster_glue_stop(b);
    if (started) stats_log(b);
    metrics_stop(b); /* /health answers until here */
    weir_store_close(b->store);
    conn_limits_free(b);
    for (unsigned li = 0; li < WEIR_LISTENERS_MAX; li++)
        if (b->port_lock_fds[li] >= 0) close(b->port_lock_fds[li]);
    weir_free(b->reactors);
    pthread_mutex_destroy(&b->dyn_mu);
    weir_free(b);
    return err;
}
