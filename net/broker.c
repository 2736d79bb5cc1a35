/* net/broker.c: the broker's life: open the store, bind one SO_REUSEPORT
 * listener per reactor, start the reactors, wait for SIGINT/SIGTERM, stop.
 *
 * Files it keeps in the data directory besides the store's:
 *   meta.properties   cluster.id and node.id, written once
 *   producer-ids      start of the next unallocated block of producer ids */
#include "net_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

enum { PID_BLOCK = 1000, LISTEN_BACKLOG = 1024 };

enum weir_err reactor_start(struct reactor *r);
void reactor_join(struct reactor *r);
void reactor_wake(struct reactor *r);

static enum weir_err cluster_id_load(struct broker *b)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/meta.properties", b->cfg.data_dir);
    if (weir_read_file(path, 4096, &text, NULL) == WEIR_OK) {
        const char *at = strstr(text, "cluster.id=");
        if (at) sscanf(at + 11, "%22[A-Za-z0-9_-]", b->cluster_id);
        weir_free(text);
        if (b->cluster_id[0]) return WEIR_OK;
    }
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
    char body[128];
    int n = snprintf(body, sizeof body, "version=1\ncluster.id=%s\nnode.id=%" PRId32 "\n", b->cluster_id,
                     b->cfg.node_id);
    return weir_write_file_atomic(path, body, (size_t)n);
}

/* Reserves the next block of producer ids durably before handing any out. */
static enum weir_err pid_block_reserve(struct broker *b)
{
    char path[4200], text[32];
    snprintf(path, sizeof path, "%s/producer-ids", b->cfg.data_dir);
    int n = snprintf(text, sizeof text, "%" PRId64 "\n", b->pid_next + PID_BLOCK);
    enum weir_err err = weir_write_file_atomic(path, text, (size_t)n);
    if (err == WEIR_OK) b->pid_block_end = b->pid_next + PID_BLOCK;
    return err;
}

static enum weir_err pid_init(struct broker *b)
{
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/producer-ids", b->cfg.data_dir);
    b->pid_next = 0;
    if (weir_read_file(path, 64, &text, NULL) == WEIR_OK) {
        b->pid_next = strtoll(text, NULL, 10);
        weir_free(text);
        if (b->pid_next < 0) b->pid_next = 0;
    }
    pthread_mutex_init(&b->pid_mu, NULL);
    return pid_block_reserve(b);
}

int64_t broker_producer_id_next(struct broker *b)
{
    pthread_mutex_lock(&b->pid_mu);
    int64_t id = -1;
    if (b->pid_next < b->pid_block_end || pid_block_reserve(b) == WEIR_OK) id = b->pid_next++;
    pthread_mutex_unlock(&b->pid_mu);
    return id;
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
    if (sa.ss_family == AF_INET) ((struct sockaddr_in *)&sa)->sin_port = htons(port);
    else ((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
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

static enum weir_err listeners_open(struct broker *b)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
    const char *host = b->cfg.listen_host[0] ? b->cfg.listen_host : NULL;
    int rc = getaddrinfo(host, "0", &hints, &ai);
    if (rc != 0) {
        weir_log(WEIR_LOG_ERROR, "cannot resolve listen host '%s': %s", b->cfg.listen_host, gai_strerror(rc));
        return WEIR_E_IO;
    }
    uint16_t port = b->cfg.listen_port;
    enum weir_err err = WEIR_OK;
    for (unsigned i = 0; i < b->n_reactors && err == WEIR_OK; i++) {
        b->reactors[i].listen_fd = listen_one(ai, port);
        if (b->reactors[i].listen_fd < 0) {
            weir_log(WEIR_LOG_ERROR, "cannot listen on %s:%u: %s", b->cfg.listen_host, port, strerror(errno));
            err = WEIR_E_IO;
        } else if (port == 0) {
            port = bound_port(b->reactors[i].listen_fd);
        }
    }
    freeaddrinfo(ai);
    b->port = port;
    return err;
}

static void port_file_write(const struct broker *b)
{
    if (!b->cfg.port_file[0]) return;
    char text[16];
    int n = snprintf(text, sizeof text, "%u\n", b->port);
    if (weir_write_file_atomic(b->cfg.port_file, text, (size_t)n) != WEIR_OK)
        weir_log(WEIR_LOG_WARN, "cannot write port file %s", b->cfg.port_file);
}

static unsigned reactors_wanted(const struct weir_broker_config *cfg)
{
    long n = cfg->reactors ? (long)cfg->reactors : sysconf(_SC_NPROCESSORS_ONLN);
    return (unsigned)WEIR_MAX(1, WEIR_MIN(n, REACTORS_MAX));
}

static void stats_log(const struct broker *b)
{
    uint64_t req = 0, splice = 0, copy = 0, conns = 0;
    for (unsigned i = 0; i < b->n_reactors; i++) {
        const struct reactor_stats *s = &b->reactors[i].stats;
        req += s->requests, splice += s->fetch_bytes_splice, copy += s->fetch_bytes_copy, conns += s->connections;
    }
    weir_log(WEIR_LOG_INFO,
             "stopped: %" PRIu64 " connections, %" PRIu64 " requests; fetch record bytes sent by splice %" PRIu64
             ", by copy %" PRIu64,
             conns, req, splice, copy);
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

static enum weir_err broker_start(struct broker *b)
{
    b->n_reactors = reactors_wanted(&b->cfg);
    b->reactors = weir_calloc(b->n_reactors, sizeof *b->reactors);
    if (!b->reactors) return WEIR_E_NOMEM;
    for (unsigned i = 0; i < b->n_reactors; i++)
        b->reactors[i] = (struct reactor){ .b = b, .id = i, .listen_fd = -1, .event_fd = -1 };
    enum weir_err err = weir_store_open(b->cfg.data_dir, &b->cfg.log, NULL, &b->store);
    if (err == WEIR_OK) err = cluster_id_load(b);
    if (err == WEIR_OK) err = pid_init(b);
    if (err == WEIR_OK) err = groups_topic_ensure(b);
    if (err == WEIR_OK) err = listeners_open(b);
    return err;
}

enum weir_err weir_broker_run(const struct weir_broker_config *cfg)
{
    struct broker *b = weir_calloc(1, sizeof *b);
    if (!b) return WEIR_E_NOMEM;
    b->cfg = *cfg;
    limits_nofile_raise();
    enum weir_err err = broker_start(b);
    unsigned started = 0;
    for (; err == WEIR_OK && started < b->n_reactors; started++) err = reactor_start(&b->reactors[started]);
    if (err == WEIR_OK) {
        port_file_write(b);
        weir_log(WEIR_LOG_INFO, "weir listening on %s:%u (advertised %s:%u), %u reactors, data in %s",
                 cfg->listen_host, b->port, cfg->advertised_host[0] ? cfg->advertised_host : cfg->listen_host,
                 cfg->advertised_port ? cfg->advertised_port : b->port, b->n_reactors, cfg->data_dir);
        wait_for_signal();
    }
    atomic_store(&b->stopping, true);
    for (unsigned i = 0; i < started; i++) reactor_wake(&b->reactors[i]);
    for (unsigned i = 0; i < started; i++) reactor_join(&b->reactors[i]);
    for (unsigned i = started; i < b->n_reactors && b->reactors; i++)
        if (b->reactors[i].listen_fd >= 0) close(b->reactors[i].listen_fd);
    if (started) stats_log(b);
    weir_store_close(b->store);
    weir_free(b->reactors);
    weir_free(b);
    return err;
}
