/* bench/util.h: helpers shared by the bench_* programs (time, statistics,
 * /proc readers, JSON bits, the value generator, the scratch directory, the
 * start of the machine line, option parsing, stop signals, child processes and
 * the `weir serve` child with its log, and the failure path). Not a bench program itself: the name keeps it out
 * of CMake's bench/bench_*.c glob; each bench executable compiles bench/util.c. */
#ifndef WEIR_BENCH_UTIL_H
#define WEIR_BENCH_UTIL_H

#include "base/base.h" /* weir_value_make, weir_pct_us, weir_self_cpu_s: shared with `weir bench` */

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Removes path and everything below it (errors ignored). */
void rmrf(const char *path);

/* CLOCK_MONOTONIC in ns; sleeps to an absolute monotonic time, or for ms. */
int64_t now_ns(void);
void sleep_until(int64_t ns);
void sleep_ms(int ms);

/* qsort comparator (weir_cmp_i64: base/base.h). */
int cmp_double(const void *a, const void *b);

/* Median of n values (sorted in place). */
double median(double *v, int n);

/* CPU seconds of process pid, all threads (io_uring workers included); -1 when unknown. */
double proc_cpu_s(pid_t pid);

/* The 1-minute load average; -1 when unknown. */
double loadavg1(void);

/* Writes s to stdout as a JSON string (quotes, backslashes and control bytes escaped). */
void json_str(const char *s);

/* The number after "key": in a flat JSON line; false when absent. */
bool json_num(const char *line, const char *key, double *out);

/* LZ4 (block format) compression ratio of the first min(len, 1 MB) bytes at
 * p: about one producer batch. 0 when it cannot be computed. */
double lz4_ratio(const uint8_t *p, size_t len);

/* The CPU's model name from /proc/cpuinfo ("unknown" when absent). */
void cpu_model(char *out, size_t cap);

/* A file system's name from its statfs magic. */
const char *fs_name(unsigned long magic);

/* Makes the directory <dir_arg, else $TMPDIR, else /tmp>/<prefix>-XXXXXX and
 * copies its path into root (cap bytes). tmpl (PATH_MAX bytes) holds the
 * template. Returns 0; -1 when the path does not fit in root; or mkdtemp's errno. */
int make_tmpdir(const char *dir_arg, const char *prefix, char *root, size_t cap, char *tmpl);

/* Prints the start of the machine line, up to and including "dir":<dir>:
 * schema, nproc, kernel, cpu, mem_gib, fs, fs_magic and dir. */
void print_machine_head(int schema, const char *dir);

/* A size: digits with an optional K, M or G suffix (powers of 2); false when
 * malformed, zero or too large. */
bool size_parse(const char *s, uint64_t *out);

/* Reads fd to EOF into out (cap bytes, NUL-terminated, the excess dropped),
 * closes fd and waits for pid. Returns its exit status, -1 when it did not exit. */
int drain_wait(int fd, pid_t pid, char *out, size_t cap);

/* ---- options ---------------------------------------------------------------------- */

/* A decimal integer in [lo, hi]: false when malformed or out of range. */
bool long_parse(const char *s, long lo, long hi, long *out);

/* A comma list of names[0, n) as a bit mask (bit i: names[i]). False at the
 * first unknown name, with *bad and *bad_len pointing at it in list. */
bool names_mask(const char *list, const char *const names[], size_t n, unsigned *mask, const char **bad,
                int *bad_len);

/* The path of `name` in this program's directory (/proc/self/exe). 0, -1 when
 * /proc/self/exe cannot be read (errno set), -2 when it does not fit cap. */
int exe_sibling(const char *name, char *out, size_t cap);

/* ---- stop signals --------------------------------------------------------------------- */

/* Blocks SIGINT, SIGTERM and SIGHUP and puts them in *set. Threads started
 * later inherit the mask, children of child_fork get an empty one; the
 * programs check stop_signal_pending between steps, so an interrupted bench
 * still stops its children and removes its files. */
void stop_signals_block(sigset_t *set);
/* The lowest signal of set that is pending, 0 when none. */
int stop_signal_pending(const sigset_t *set);

/* ---- child processes ------------------------------------------------------------------ */

/* fork() after flushing stdio. In the child: an empty signal mask,
 * death_sig (0: none) when this process dies, and in_fd, out_fd, err_fd
 * (-1: inherited) as its stdin, stdout, stderr. Returns what fork returns. */
pid_t child_fork(int in_fd, int out_fd, int err_fd, int death_sig);
/* child_fork, then execv(argv[0], argv) in the child (exit status 127 when
 * that fails). The child's pid, or -1 when fork failed (errno set). */
pid_t child_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, int death_sig);
/* Waits up to timeout_ms for pid: true with *status (may be NULL) when it exited. */
bool child_wait(pid_t pid, int timeout_ms, int *status);
/* SIGTERM, up to 5 s to exit, then SIGKILL; reaped. pid <= 0: nothing. */
void child_kill(pid_t pid);

/* ---- the broker ----------------------------------------------------------------------- */

/* Starts `weir_bin serve --listen 127.0.0.1:0 --data-dir ROOT/data --set
 * weir.port.file=ROOT/port` followed by extra[] (NULL-terminated; NULL: none),
 * stdout and stderr into log_path (truncated), SIGTERM when this process dies,
 * and waits up to timeout_ms for the port file. 0 with *pid and *port; else
 * -1 with the reason in err and no child left running. */
int serve_start(const char *weir_bin, const char *root, const char *log_path, const char *const extra[],
                int timeout_ms, pid_t *pid, int *port, char *err, size_t cap);

/* The last 4 KiB of the file at path on stderr, after "prog: the end of PATH:".
 * Empty path or no file: nothing. */
void log_tail(const char *prog, const char *path);

/* How a bench program fails: "prog: <message>" on stderr, the broker
 * (broker > 0) stopped with child_kill, the tail of its log (log_path may be
 * NULL or empty), the bench directory (root, may be NULL or empty) removed,
 * exit status 1. */
_Noreturn void bench_vfail(const char *prog, pid_t broker, const char *log_path, const char *root, const char *fmt,
                           va_list ap);

#ifdef WEIR_HAVE_RDKAFKA /* the programs that link librdkafka */
#include <librdkafka/rdkafka.h>

/* Metadata (one request, 5 s at most) shows topic `name` with `parts`
 * partitions, each with a leader. */
bool rdk_topic_ready(rd_kafka_t *rk, const char *name, int parts);
#endif

#endif /* WEIR_BENCH_UTIL_H */
