/* bench/util.h: helpers shared by the bench_* programs (time, statistics,
 * /proc readers, JSON bits, the value generator, the scratch directory and the
 * start of the machine line). Not a bench program itself: the name keeps it out
 * of CMake's bench/bench_*.c glob; each bench executable compiles bench/util.c. */
#ifndef WEIR_BENCH_UTIL_H
#define WEIR_BENCH_UTIL_H

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

/* qsort comparators. */
int cmp_double(const void *a, const void *b);
int cmp_i64(const void *a, const void *b);

/* Median of n values (sorted in place). */
double median(double *v, int n);

/* The q-quantile (0..1) of n sorted ns values, in microseconds; -1 when n is 0. */
double pct_us(const int64_t *sorted, size_t n, double q);

/* CPU seconds (user + system) of this process, all threads. */
double self_cpu_s(void);

/* CPU seconds of process pid, all threads (io_uring workers included); -1 when unknown. */
double proc_cpu_s(pid_t pid);

/* The 1-minute load average; -1 when unknown. */
double loadavg1(void);

/* Writes s to stdout as a JSON string (quotes, backslashes and control bytes escaped). */
void json_str(const char *s);

/* The number after "key": in a flat JSON line; false when absent. */
bool json_num(const char *line, const char *key, double *out);

uint64_t xorshift(uint64_t *s);

/* One JSON-looking event of exactly len bytes: a few keys and fields, then
 * words from a small dictionary. LZ4 finds the repeats a real event stream has.
 * The same bytes as cli/cmd_bench.c. */
void value_make(uint8_t *out, size_t len, uint32_t i, uint64_t *rng);

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

#endif /* WEIR_BENCH_UTIL_H */
