/* base/bench.c: what `weir bench` (cli/cmd_bench.c) and the bench/ programs
 * share, so both measure the same way: the value generator (the same bytes on
 * both sides), latency percentiles, process CPU time and the schedule's sleep
 * (the histogram: base/hist.c). */
#include "base.h"

#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include <sys/resource.h>
#include <time.h>

uint64_t weir_xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

void weir_value_make(uint8_t *out, size_t len, uint32_t i, uint64_t *rng)
{
    static const char *const events[] = { "view", "click", "cart", "buy" };
    static const char *const words[] = { "alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo",
                                         "lima", "mike", "oscar", "papa", "romeo", "tango", "victor", "zulu" };
    char tmp[256];
    int n = snprintf(tmp, sizeof tmp, "{\"seq\":%u,\"user\":\"u%05u\",\"event\":\"%s\",\"ts\":%" PRIu64 ",\"text\":\"", i,
                     (unsigned)(weir_xorshift(rng) % 100000), events[weir_xorshift(rng) % 4],
                     (uint64_t)1700000000000 + weir_xorshift(rng) % 100000000);
    size_t pos = 0;
    for (int k = 0; k < n && pos < len; k++) out[pos++] = (uint8_t)tmp[k];
    while (pos < len) {
        const char *w = words[weir_xorshift(rng) % (sizeof words / sizeof words[0])];
        for (size_t k = 0; w[k] && pos < len; k++) out[pos++] = (uint8_t)w[k];
        if (pos < len) out[pos++] = ' ';
    }
    if (len >= 2) out[len - 2] = '"', out[len - 1] = '}';
}

int weir_cmp_i64(const void *a, const void *b)
{
    int64_t p = *(const int64_t *)a, q = *(const int64_t *)b;
    return (p > q) - (p < q);
}

double weir_pct_us(const int64_t *sorted, size_t n, double q)
{
    if (n == 0) return -1;
    size_t i = (size_t)(q * (double)n); /* ceil, without libm */
    if ((double)i < q * (double)n) i++;
    return (double)sorted[i ? (i <= n ? i - 1 : n - 1) : 0] / 1e3;
}

double weir_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void weir_sleep_until_ns(int64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}
