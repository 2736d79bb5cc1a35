/* bench/util.c: helpers shared by the bench_* programs; see bench/util.h. */
#include "bench/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <lz4.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void rmrf(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

int64_t now_ns(void) { return weir_clock_ns(); }

void sleep_until(int64_t ns) { weir_sleep_until_ns(ns); }

void sleep_ms(int ms) { sleep_until(now_ns() + (int64_t)ms * 1000000); }

int cmp_double(const void *a, const void *b)
{
    double p = *(const double *)a, q = *(const double *)b;
    return (p > q) - (p < q);
}

double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double loadavg1(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &v) != 1) v = -1;
    if (f) fclose(f);
    return v;
}

void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

bool json_num(const char *line, const char *key, double *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p) return false;
    char *end;
    *out = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        colon += strspn(colon + 1, " \t") + 1;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, cap, "%s", colon);
        break;
    }
    fclose(f);
}

const char *fs_name(unsigned long magic)
{
    switch (magic) {
    case 0xef53: return "ext4"; /* ext2/3/4 share the magic */
    case 0x58465342: return "xfs";
    case 0x01021994: return "tmpfs";
    case 0x9123683e: return "btrfs";
    case 0x2fc12fc1: return "zfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
    }
}

int make_tmpdir(const char *dir_arg, const char *prefix, char *root, size_t cap, char *tmpl)
{
    const char *base = dir_arg ? dir_arg : getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    snprintf(tmpl, PATH_MAX, "%s/%s-XXXXXX", base, prefix);
    if (strlen(tmpl) >= cap) return -1;
    if (!mkdtemp(tmpl)) return errno;
    memcpy(root, tmpl, strlen(tmpl) + 1); /* fits: checked above */
    return 0;
}

void print_machine_head(int schema, const char *dir)
{
    struct utsname u;
    struct statfs sf;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "unknown");
    unsigned long magic = statfs(dir, &sf) == 0 ? (unsigned long)sf.f_type : 0;
    double mem_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (double)((uint64_t)1 << 30);
    printf("{\"schema\":%d,\"bench\":\"machine\",\"nproc\":%ld,\"kernel\":", schema, sysconf(_SC_NPROCESSORS_ONLN));
    json_str(u.release);
    printf(",\"cpu\":");
    json_str(cpu);
    printf(",\"mem_gib\":%.1f,\"fs\":\"%s\",\"fs_magic\":\"0x%lx\",\"dir\":", mem_gib, fs_name(magic), magic);
    json_str(dir);
}

bool size_parse(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1 << 10, end++;
    else if (*end == 'M' || *end == 'm') mult = (uint64_t)1 << 20, end++;
    else if (*end == 'G' || *end == 'g') mult = (uint64_t)1 << 30, end++;
    if (errno || end == s || *end || v == 0 || v > UINT64_MAX / mult) return false;
    *out = (uint64_t)v * mult;
    return true;
}

int drain_wait(int fd, pid_t pid, char *out, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char chunk[4096];
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t take = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(out + len, chunk, take);
        len += take;
    }
    out[len] = '\0';
    close(fd);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool long_parse(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool names_mask(const char *list, const char *const names[], size_t n, unsigned *mask, const char **bad, int *bad_len)
{
    *mask = 0;
    while (*list) {
        size_t len = strcspn(list, ","), i = 0;
        while (i < n && (strlen(names[i]) != len || strncmp(names[i], list, len) != 0)) i++;
        if (i == n) {
            *bad = list, *bad_len = (int)len;
            return false;
        }
        *mask |= 1u << i;
        list += len + (list[len] == ',');
    }
    return true;
}

int exe_sibling(const char *name, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) *slash = '\0';
    int len = snprintf(out, cap, "%s/%s", self, name);
    return len < 0 || (size_t)len >= cap ? -2 : 0;
}

void stop_signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
    sigprocmask(SIG_BLOCK, set, NULL);
}

int stop_signal_pending(const sigset_t *set)
{
    sigset_t pending;
    if (sigpending(&pending) != 0) return 0;
    for (int sig = 1; sig < 32; sig++)
        if (sigismember(set, sig) && sigismember(&pending, sig)) return sig;
    return 0;
}

pid_t child_fork(int in_fd, int out_fd, int err_fd, int death_sig)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0) return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (death_sig) prctl(PR_SET_PDEATHSIG, death_sig);
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (err_fd >= 0) dup2(err_fd, STDERR_FILENO);
    return 0;
}

pid_t child_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, int death_sig)
{
    pid_t pid = child_fork(in_fd, out_fd, err_fd, death_sig);
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

bool child_wait(pid_t pid, int timeout_ms, int *status)
{
    int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return false;
        if (now_ns() >= end) return false;
        sleep_ms(5);
    }
}

void child_kill(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500 && waitpid(pid, NULL, WNOHANG) == 0; i++) sleep_ms(10);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static bool port_read(const char *path, int *port)
{
    char text[32] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0 || text[n - 1] != '\n') return false;
    *port = atoi(text);
    return *port > 0 && *port < 65536;
}

int serve_start(const char *weir_bin, const char *root, const char *log_path, const char *const extra[],
                int timeout_ms, pid_t *pid, int *port, char *err, size_t cap)
{
    enum { EXTRA_MAX = 16 };
    char port_path[PATH_MAX], data[PATH_MAX], set_port[PATH_MAX + 32];
    snprintf(port_path, sizeof port_path, "%s/port", root);
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(set_port, sizeof set_port, "weir.port.file=%s", port_path);
    char *argv[8 + EXTRA_MAX + 1] = { (char *)weir_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                                      "--set", set_port };
    size_t argc = 8;
    for (size_t i = 0; extra && extra[i]; i++) {
        if (i == EXTRA_MAX) return snprintf(err, cap, "serve_start: more than %d extra arguments", EXTRA_MAX), -1;
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    unlink(port_path); /* a restart on the same directory: wait for the new one */
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return snprintf(err, cap, "open %s: %s", log_path, strerror(errno)), -1;
    int64_t t0 = now_ns();
    pid_t child = child_spawn(argv, -1, fd, fd, SIGTERM);
    int fork_errno = errno;
    close(fd);
    if (child < 0) return snprintf(err, cap, "fork: %s", strerror(fork_errno)), -1;
    int status;
    while (!port_read(port_path, port)) {
        if (waitpid(child, &status, WNOHANG) == child)
            return snprintf(err, cap, "the broker exited while starting (status 0x%x); its log: %s", status, log_path), -1;
        if (now_ns() - t0 > (int64_t)timeout_ms * 1000000) {
            child_kill(child);
            return snprintf(err, cap, "the broker did not start in time"), -1;
        }
        sleep_ms(5);
    }
    *pid = child;
    return 0;
}

void log_tail(const char *prog, const char *path)
{
    int fd = path && path[0] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0) return;
    char buf[4096];
    off_t end = lseek(fd, 0, SEEK_END);
    ssize_t n = pread(fd, buf, sizeof buf, end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0);
    close(fd);
    if (n <= 0) return;
    fprintf(stderr, "%s: the end of %s:\n", prog, path);
    fwrite(buf, 1, (size_t)n, stderr);
}

void bench_vfail(const char *prog, pid_t broker, const char *log_path, const char *root, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    child_kill(broker);
    log_tail(prog, log_path);
    if (root && root[0]) rmrf(root);
    exit(1);
}

double lz4_ratio(const uint8_t *p, size_t len)
{
    int in = (int)(len < 1000000 ? len : 1000000);
    char *out = malloc((size_t)LZ4_compressBound(in));
    if (!out) return 0;
    int n = LZ4_compress_default((const char *)p, out, in, LZ4_compressBound(in));
    free(out);
    return n > 0 ? (double)in / n : 0;
}

#ifdef WEIR_HAVE_RDKAFKA
bool rdk_topic_ready(rd_kafka_t *rk, const char *name, int parts)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    bool ok = false;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ok = md->topic_cnt == 1 && md->topics[0].err == 0 && md->topics[0].partition_cnt == parts;
        for (int i = 0; ok && i < md->topics[0].partition_cnt; i++) ok = md->topics[0].partitions[i].leader >= 0;
        rd_kafka_metadata_destroy(md);
    }
    if (rkt) rd_kafka_topic_destroy(rkt);
    return ok;
}
#endif
