/* net/limits.c: the process and machine limits that bound how many partitions
 * one broker can hold open.
 *
 * Each open partition holds file descriptors (its segments) and memory
 * mappings (one per mapped segment or index). Two limits stop a broker with
 * many partitions long before memory or disk does:
 *   RLIMIT_NOFILE     open files of the process (`ulimit -n`); open() fails
 *                     with EMFILE. fs.file-max (ENFILE) is the system's.
 *   vm.max_map_count  mappings of the process (default 65530); mmap() fails
 *                     with ENOMEM, which otherwise reads as "out of memory".
 * At start the broker raises its soft RLIMIT_NOFILE to the hard limit (as
 * Kafka's packaging and most servers do). When a partition fails to open
 * because of one of them, one ERROR line names the limit, its value and what
 * to raise, instead of a bare "I/O error" (rate-limited: thousands of
 * partitions fail together). */
#include "net_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

enum {
    MAPS_LINES_MAX = 1 << 24,   /* bound of the /proc/self/maps count */
    MAPS_MARGIN = 64,           /* a failed open may have unmapped a few already */
};

void limits_nofile_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        weir_log(WEIR_LOG_WARN, "cannot read RLIMIT_NOFILE: %s", strerror(errno));
        return;
    }
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            weir_log(WEIR_LOG_WARN, "cannot raise RLIMIT_NOFILE from %ju to %ju: %s", (uintmax_t)before,
                     (uintmax_t)rl.rlim_max, strerror(errno));
            return;
        }
    }
    weir_log(WEIR_LOG_INFO, "open files limit (RLIMIT_NOFILE) %ju (was %ju, hard limit %ju)", (uintmax_t)rl.rlim_cur,
             (uintmax_t)before, (uintmax_t)rl.rlim_max);
}

/* A number from a one-line /proc/sys file; -1 when unreadable. */
static long long proc_sys_num(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1) v = -1;
    fclose(f);
    return v;
}

/* Lines of /proc/self/maps: this process's mappings; -1 when unreadable. */
static long long maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f) return -1;
    long long n = 0;
    for (int c; (c = getc(f)) != EOF && n < MAPS_LINES_MAX;)
        n += c == '\n';
    fclose(f);
    return n;
}

void limits_open_failed(const char *topic, int32_t partition, enum weir_err err, int saved_errno)
{
    static struct weir_ratelimit nofile_rl, nfile_rl, maps_rl;
    static atomic_uint fails;
    if (err == WEIR_E_IO && saved_errno == EMFILE) {
        struct rlimit rl = { 0, 0 };
        getrlimit(RLIMIT_NOFILE, &rl);
        weir_log_ratelimited(&nofile_rl, WEIR_LOG_REPEAT_MS, WEIR_LOG_ERROR,
                             "cannot open partition %s-%" PRId32 ": too many open files (RLIMIT_NOFILE %ju, hard "
                             "%ju); raise `ulimit -n` (nofile in limits.conf, LimitNOFILE= for systemd) "
                             "[%u partitions failed]",
                             topic, partition, (uintmax_t)rl.rlim_cur, (uintmax_t)rl.rlim_max,
                             atomic_fetch_add(&fails, 1) + 1);
    } else if (err == WEIR_E_IO && saved_errno == ENFILE) {
        weir_log_ratelimited(&nfile_rl, WEIR_LOG_REPEAT_MS, WEIR_LOG_ERROR,
                             "cannot open partition %s-%" PRId32 ": too many open files in the system (fs.file-max "
                             "%lld); raise `sysctl fs.file-max` [%u partitions failed]",
                             topic, partition, proc_sys_num("/proc/sys/fs/file-max"), atomic_fetch_add(&fails, 1) + 1);
    } else if ((err == WEIR_E_NOMEM || err == WEIR_E_IO) && saved_errno == ENOMEM) {
        long long max = proc_sys_num("/proc/sys/vm/max_map_count"), maps = maps_count();
        if (max <= 0 || maps < 0 || maps + MAPS_MARGIN < max) return; /* plain out of memory */
        weir_log_ratelimited(&maps_rl, WEIR_LOG_REPEAT_MS, WEIR_LOG_ERROR,
                             "cannot open partition %s-%" PRId32 ": too many memory mappings (%lld of "
                             "vm.max_map_count %lld); raise `sysctl vm.max_map_count` [%u partitions failed]",
                             topic, partition, maps, max, atomic_fetch_add(&fails, 1) + 1);
    }
}
