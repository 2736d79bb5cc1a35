/* tests/testutil.c */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *tmpdir_in(const char *base, const char *tag)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/weir-%s-XXXXXX", base, tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return weir_strdup(d);
}

char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    return tmpdir_in(base && *base ? base : "/tmp", tag);
}

char *tu_tmpdir_mem(const char *tag)
{
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        return tmpdir_in("/dev/shm", tag);
    return tu_tmpdir(tag);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void tu_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

uint8_t *tu_batch(int32_t count, size_t value_len, int64_t ts0, int64_t ts_step, enum weir_codec codec,
                  uint64_t seed, size_t *len)
{
    size_t cap = WEIR_BATCH_HEADER_BYTES + (size_t)count * (value_len + 64) + 1024;
    uint8_t *buf = weir_malloc(cap);
    uint8_t *val = weir_malloc(value_len + 1);
    assert_non_null(buf);
    assert_non_null(val);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    for (int32_t i = 0; i < count; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "k%d", i);
        for (size_t j = 0; j < value_len; j++) val[j] = (uint8_t)('a' + (tu_rand(&seed) % 26));
        assert_int_equal(weir_batch_builder_add(&b, ts0 + i * ts_step, key, klen, val, (int32_t)value_len, NULL, 0),
                         WEIR_OK);
    }
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, len), WEIR_OK);
    weir_free(val);
    return buf;
}

static void sync_done(struct weir_append *a) { *(int *)a->user = 1; }

enum weir_err tu_append_sync(struct weir_appender *ap, struct weir_log *log, uint8_t *batch, size_t len,
                             int64_t *base_offset)
{
    int done = 0;
    struct weir_append a = { .batch = batch, .len = len, .on_done = sync_done, .user = &done };
    enum weir_err err = weir_log_append(log, &a);
    if (err != WEIR_OK) return err;
    for (int i = 0; !done && i < 1000000; i++) weir_appender_run(ap, true);
    assert_true(done);
    if (base_offset) *base_offset = a.base_offset;
    return a.err;
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Fuzz: 1-4 random mutations of p[0, n) (bit flips, boundary values, cuts,
 * inserted bytes while n < cap); returns the new length. */
size_t tu_mutate(uint8_t *p, size_t n, size_t cap, uint64_t *s)
{
    static const uint32_t w32[] = { 0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 0xfffffffe, 10001, 100001, 0x10000 };
    static const uint16_t w16[] = { 0, 0xffff, 0x7fff, 0x8000, 0xfffe, 0x0100 };
    static const uint8_t w8[] = { 0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe };
    for (int ops = 1 + (int)(tu_rand(s) % 4); ops > 0; ops--) {
        size_t at = n ? (size_t)(tu_rand(s) % n) : 0;
        switch (tu_rand(s) % 7) {
        case 0: if (n) p[at] ^= (uint8_t)(1u << (tu_rand(s) % 8)); break;
        case 1: if (n) p[at] = w8[tu_rand(s) % WEIR_ARRAY_LEN(w8)]; break;
        case 2: if (n >= 4) weir_store_be32(p + (at > n - 4 ? n - 4 : at), w32[tu_rand(s) % WEIR_ARRAY_LEN(w32)]); break;
        case 3: if (n >= 2) weir_store_be16(p + (at > n - 2 ? n - 2 : at), w16[tu_rand(s) % WEIR_ARRAY_LEN(w16)]); break;
        case 4: n = (size_t)(tu_rand(s) % (n + 1)); break;
        case 5:
            if (n < cap) {
                memmove(p + at + 1, p + at, n - at);
                p[at] = (uint8_t)tu_rand(s);
                n++;
            }
            break;
        default: if (n) p[at] = (uint8_t)tu_rand(s); break;
        }
    }
    return n;
}

/* ---- a private ZooKeeper server ---------------------------------------------------- */

/* The low end of the kernel's ephemeral range (connections' source ports), 0 if unknown. */
static int ephemeral_low(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int low = 0;
    if (f) {
        if (fscanf(f, "%d", &low) != 1) low = 0;
        fclose(f);
    }
    return low;
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A free port below the ephemeral range when there is room, as tests/it_common.py's
 * _free_port: a server restarted on it (weir_test_zk_restart) cannot find it taken
 * meanwhile by some connection's source port. */
static int free_port(void)
{
    int low = ephemeral_low();
    if (low > 11024) {
        /* Not pid ^ time: consecutive pids started in consecutive seconds
         * drew the same ports (two tests on one port: one talked to the
         * other's server). */
        unsigned seed;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed) seed = (unsigned)getpid() * 2654435761u;
        for (int i = 0; i < 100; i++) {
            int port = low - 10000 + (int)(rand_r(&seed) % 10000);
            if (port_free(port)) return port;
        }
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* Sends cmd (a four-letter word); its answer into buf (cap bytes, NUL-terminated). */
static void zk_4lw(int port, const char *cmd, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    buf[0] = '\0';
    if (fd < 0) return;
    struct timeval tv = { .tv_sec = 2 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, cmd, 4) == 4) {
        ssize_t n;
        while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0) got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
}

/* true when zk's own server serves requests on its port: "srvr" answers
 * "Mode: standalone" ("ruok" answers before sessions are taken), and "conf"
 * names zk's data dir (not some other test's server that holds the port). */
static bool zk_serving(const struct weir_test_zk *zk)
{
    char buf[4096], data[4200];
    zk_4lw(zk->port, "srvr", buf, sizeof buf);
    if (!strstr(buf, "Mode: ")) return false;
    zk_4lw(zk->port, "conf", buf, sizeof buf);
    snprintf(data, sizeof data, "dataDir=%s/data", zk->dir);
    return strstr(buf, data) != NULL;
}

static void zk_dump_output(const struct weir_test_zk *zk)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/server.out", zk->dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    fprintf(stderr, "---- %s (last 4 KB)\n", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > 4096 ? size - 4096 : 0, SEEK_SET);
    char line[1024];
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fprintf(stderr, "----\n");
    fclose(f);
}

/* Runs the server of zk->dir on zk->port and waits until it serves; on
 * failure it is killed (the dir stays). */
static int zk_spawn(struct weir_test_zk *zk)
{
    char cfg[4200], logs[4200], out[4200];
    snprintf(cfg, sizeof cfg, "%s/zoo.cfg", zk->dir);
    snprintf(logs, sizeof logs, "%s/log", zk->dir);
    snprintf(out, sizeof out, "%s/server.out", zk->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        setenv("ZOO_LOG_DIR", logs, 1);
        setenv("JVMFLAGS", "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1", 1);
        execl(WEIR_TEST_ZK_SERVER, WEIR_TEST_ZK_SERVER, "start-foreground", cfg, (char *)NULL);
        _exit(127);
    }
    zk->pid = pid;
    for (int i = 0; i < 900; i++) { /* 90 s: Java starts slowly on a busy machine */
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            zk->pid = 0;
            fprintf(stderr, "zookeeper: server exited (status %d) while starting\n", status);
            zk_dump_output(zk);
            return -1;
        }
        if (zk_serving(zk)) return 0;
        usleep(100 * 1000);
    }
    fprintf(stderr, "zookeeper: no answer on %s within 90 s\n", zk->connect);
    zk_dump_output(zk);
    weir_test_zk_kill(zk);
    return -1;
}

int weir_test_zk_start(struct weir_test_zk *zk)
{
    *zk = (struct weir_test_zk){ 0 };
    if (access(WEIR_TEST_ZK_SERVER, X_OK) != 0) {
        fprintf(stderr, "no ZooKeeper server (%s): install the Debian package zookeeper\n", WEIR_TEST_ZK_SERVER);
        return 77;
    }
    zk->dir = tu_tmpdir("zk");
    char cfg[4200], data[4200], logs[4200];
    snprintf(cfg, sizeof cfg, "%s/zoo.cfg", zk->dir);
    snprintf(data, sizeof data, "%s/data", zk->dir);
    snprintf(logs, sizeof logs, "%s/log", zk->dir);
    FILE *f = NULL;
    if (mkdir(data, 0700) != 0 || mkdir(logs, 0700) != 0 || !(f = fopen(cfg, "w"))) {
        fprintf(stderr, "zookeeper: setting up %s: %s\n", zk->dir, strerror(errno));
        weir_test_zk_stop(zk);
        return -1;
    }
    fclose(f);
    /* A port taken between the check and the server's bind: another one. */
    for (int attempt = 0; attempt < 4; attempt++) {
        zk->port = free_port();
        if (zk->port <= 0 || !(f = fopen(cfg, "w"))) {
            fprintf(stderr, "zookeeper: no free port or no %s: %s\n", cfg, strerror(errno));
            break;
        }
        snprintf(zk->connect, sizeof zk->connect, "127.0.0.1:%d", zk->port);
        /* Sessions may last 60 s: a session can outlive a server restart. */
        fprintf(f, "dataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\ntickTime=500\n"
                   "maxSessionTimeout=60000\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr,conf\n",
                data, zk->port);
        fclose(f);
        if (zk_spawn(zk) == 0) return 0;
        fprintf(stderr, "zookeeper: not serving on port %d; trying another\n", zk->port);
    }
    weir_test_zk_stop(zk);
    return -1;
}

void weir_test_zk_kill(struct weir_test_zk *zk)
{
    if (zk->pid <= 0) return;
    kill(-zk->pid, SIGKILL);
    waitpid(zk->pid, NULL, 0);
    zk->pid = 0;
}

int weir_test_zk_restart(struct weir_test_zk *zk)
{
    weir_test_zk_kill(zk);
    return zk_spawn(zk);
}

void weir_test_zk_stop(struct weir_test_zk *zk)
{
    if (zk->pid > 0) {
        kill(-zk->pid, SIGTERM);
        int status;
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++) {
            gone = waitpid(zk->pid, &status, WNOHANG) == zk->pid;
            if (!gone) usleep(100 * 1000);
        }
        if (!gone) {
            kill(-zk->pid, SIGKILL);
            waitpid(zk->pid, &status, 0);
        }
        kill(-zk->pid, SIGKILL); /* anything else left in its group */
        zk->pid = 0;
    }
    if (zk->dir) {
        tu_rmrf(zk->dir);
        weir_free(zk->dir);
        zk->dir = NULL;
    }
}
