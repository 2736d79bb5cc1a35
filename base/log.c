/* base/log.c: one line per event on stderr, and the fatal paths. */
#include "base.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic int log_level_min = WEIR_LOG_INFO;

void weir_log_set_level(enum weir_log_level min) { log_level_min = (int)min; }
enum weir_log_level weir_log_get_level(void) { return (enum weir_log_level)log_level_min; }

static void log_line(enum weir_log_level level, const char *fmt, va_list ap)
{
    static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     names[level]);
    if (n < 0) return;
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (m < 0) return;
    size_t len = WEIR_MIN((size_t)n + (size_t)m, sizeof line - 2);
    line[len++] = '\n';
    fwrite(line, 1, len, stderr); /* one write: lines from threads do not interleave */
}

void weir_log(enum weir_log_level level, const char *fmt, ...)
{
    if ((int)level < log_level_min) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

bool weir_log_ratelimited(struct weir_ratelimit *rl, int64_t interval_ms, enum weir_log_level level,
                          const char *fmt, ...)
{
    if ((int)level < log_level_min) return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t next = atomic_load(&rl->next_ms);
    /* One thread wins the slot; the others count themselves as suppressed. */
    if (now_ms < next || !atomic_compare_exchange_strong(&rl->next_ms, &next, now_ms + interval_ms)) {
        atomic_fetch_add(&rl->suppressed, 1);
        return false;
    }
    uint64_t dropped = atomic_exchange(&rl->suppressed, 0);
    char text[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (dropped) weir_log(level, "%s (%" PRIu64 " similar suppressed)", text, dropped);
    else weir_log(level, "%s", text);
    return true;
}

_Noreturn void weir_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(WEIR_LOG_ERROR, fmt, ap);
    va_end(ap);
    abort();
}

_Noreturn void weir_assert_fail(const char *expr, const char *file, int line)
{
    weir_panic("assertion failed: %s (%s:%d)", expr, file, line);
}
