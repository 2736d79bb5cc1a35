/* cli/format.c: `weir consume --format`, kcat's output tokens with kcat's
 * output (null keys and values print nothing, lengths print -1, headers as
 * name=value pairs joined by commas with NULL for a null value), and the TIME
 * argument of --at. Pure functions over client.h types and libc. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool fmt_add(struct cli_fmt *f, enum cli_fmt_kind kind, char *err, size_t err_size)
{
    if (f->n == CLI_FMT_ITEMS_MAX) {
        snprintf(err, err_size, "too many items (at most %d)", CLI_FMT_ITEMS_MAX);
        return false;
    }
    f->items[f->n++] = (struct cli_fmt_item){ kind, f->lit_len, 0 };
    return true;
}

/* Appends one literal byte, merging with a literal just before it. */
static bool fmt_lit(struct cli_fmt *f, char c, char *err, size_t err_size)
{
    if (f->lit_len == sizeof f->lit) {
        snprintf(err, err_size, "longer than %d bytes", CLI_FMT_BYTES_MAX);
        return false;
    }
    if (f->n == 0 || f->items[f->n - 1].kind != CLI_FMT_LIT)
        if (!fmt_add(f, CLI_FMT_LIT, err, err_size)) return false;
    f->lit[f->lit_len++] = c;
    f->items[f->n - 1].lit_len++;
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One escape after a backslash at *s; advances *s past it. */
static bool fmt_escape(struct cli_fmt *f, const char **s, char *err, size_t err_size)
{
    char c = **s;
    (*s)++;
    switch (c) {
    case 'n': return fmt_lit(f, '\n', err, err_size);
    case 'r': return fmt_lit(f, '\r', err, err_size);
    case 't': return fmt_lit(f, '\t', err, err_size);
    case '0': return fmt_lit(f, '\0', err, err_size);
    case '\\': return fmt_lit(f, '\\', err, err_size);
    case 'x': {
        int hi = hex_digit((*s)[0]), lo = hi < 0 ? -1 : hex_digit((*s)[1]);
        if (lo < 0) {
            snprintf(err, err_size, "\\x needs two hex digits");
            return false;
        }
        *s += 2;
        return fmt_lit(f, (char)(hi << 4 | lo), err, err_size);
    }
    case '\0': snprintf(err, err_size, "ends with a lone backslash"); return false;
    default: snprintf(err, err_size, "unknown escape '\\%c' (known: \\n \\r \\t \\\\ \\0 \\xHH)", c); return false;
    }
}

bool cli_fmt_parse(const char *s, struct cli_fmt *f, char *err, size_t err_size)
{
    static const struct { char c; enum cli_fmt_kind kind; } tokens[] = {
        { 't', CLI_FMT_TOPIC }, { 'p', CLI_FMT_PARTITION }, { 'o', CLI_FMT_OFFSET }, { 'k', CLI_FMT_KEY },
        { 'K', CLI_FMT_KEY_LEN }, { 's', CLI_FMT_VALUE }, { 'S', CLI_FMT_VALUE_LEN }, { 'T', CLI_FMT_TIMESTAMP },
        { 'h', CLI_FMT_HEADERS },
    };
    memset(f, 0, sizeof *f);
    while (*s) {
        char c = *s++;
        if (c == '\\') {
            if (!fmt_escape(f, &s, err, err_size)) return false;
            continue;
        }
        if (c != '%') {
            if (!fmt_lit(f, c, err, err_size)) return false;
            continue;
        }
        c = *s++;
        if (c == '%') {
            if (!fmt_lit(f, '%', err, err_size)) return false;
            continue;
        }
        if (c == '\0') {
            snprintf(err, err_size, "ends with a lone '%%'");
            return false;
        }
        size_t i = 0;
        while (i < sizeof tokens / sizeof tokens[0] && tokens[i].c != c) i++;
        if (i == sizeof tokens / sizeof tokens[0]) {
            snprintf(err, err_size, "unknown token '%%%c' (known: %%t %%p %%o %%k %%K %%s %%S %%T %%h %%%%)", c);
            return false;
        }
        if (!fmt_add(f, tokens[i].kind, err, err_size)) return false;
    }
    return true;
}

static bool put(FILE *out, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, out) == n; }

static bool put_headers(FILE *out, const struct weir_consumer_record *r)
{
    bool ok = true;
    for (size_t i = 0; ok && i < r->headers_count; i++) {
        const struct weir_msg_header *h = &r->headers[i];
        ok = (i == 0 || put(out, ",", 1)) && put(out, h->key, h->key_len) && put(out, "=", 1) &&
             (h->value ? put(out, h->value, h->value_len) : put(out, "NULL", 4));
    }
    return ok;
}

bool cli_fmt_write(FILE *out, const struct cli_fmt *f, const struct weir_consumer_record *r)
{
    bool ok = true;
    for (size_t i = 0; ok && i < f->n; i++) {
        const struct cli_fmt_item *it = &f->items[i];
        switch (it->kind) {
        case CLI_FMT_LIT: ok = put(out, f->lit + it->lit_off, it->lit_len); break;
        case CLI_FMT_TOPIC: ok = fputs(r->topic, out) >= 0; break;
        case CLI_FMT_PARTITION: ok = fprintf(out, "%" PRId32, r->partition) > 0; break;
        case CLI_FMT_OFFSET: ok = fprintf(out, "%" PRId64, r->offset) > 0; break;
        case CLI_FMT_KEY: ok = !r->key || put(out, r->key, r->key_len); break;
        case CLI_FMT_KEY_LEN: ok = fprintf(out, "%lld", r->key ? (long long)r->key_len : -1LL) > 0; break;
        case CLI_FMT_VALUE: ok = !r->value || put(out, r->value, r->value_len); break;
        case CLI_FMT_VALUE_LEN: ok = fprintf(out, "%lld", r->value ? (long long)r->value_len : -1LL) > 0; break;
        case CLI_FMT_TIMESTAMP: ok = fprintf(out, "%" PRId64, r->timestamp) > 0; break;
        case CLI_FMT_HEADERS: ok = put_headers(out, r); break;
        }
    }
    return ok;
}

/* ---- --at TIME ---------------------------------------------------------------------------------- */

/* Exactly `n` digits at *s into *v; advances *s. */
static bool digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**s)) return false;
        *v = *v * 10 + (**s - '0');
        (*s)++;
    }
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* [.fff...] then Z, +HH:MM, -HH:MM or nothing. */
static bool iso_tail(const char *s, int64_t *ms, int64_t *zone_ms)
{
    if (*s == '.') {
        s++;
        int64_t scale = 100;
        if (!isdigit((unsigned char)*s)) return false;
        for (; isdigit((unsigned char)*s); s++, scale /= 10) *ms += (*s - '0') * scale;
    }
    *zone_ms = 0;
    if (*s == 'Z' || *s == 'z') return s[1] == '\0';
    if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1, hh, mm;
        s++;
        if (!digits(&s, 2, &hh) || *s++ != ':' || !digits(&s, 2, &mm) || *s || hh > 23 || mm > 59) return false;
        *zone_ms = sign * ((int64_t)hh * 3600 + mm * 60) * 1000;
        return true;
    }
    return *s == '\0';
}

static bool parse_iso(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' || !digits(&s, 2, &d)) return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)) return false;
        if (*s == ':' && (s++, !digits(&s, 2, &sec))) return false;
        if (h > 23 || mi > 59 || sec > 60) return false;
    }
    int64_t ms = 0, zone_ms;
    if (!iso_tail(s, &ms, &zone_ms)) return false;
    *out = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000) + ms - zone_ms;
    return true;
}

bool cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms)
{
    if (!s || !*s) return false;
    if (!strcmp(s, "now")) {
        *out_ms = now_ms;
        return true;
    }
    if (s[0] == '-') {
        char *end;
        errno = 0;
        long long n = strtoll(s + 1, &end, 10);
        if (errno || end == s + 1 || n < 0 || !isdigit((unsigned char)s[1])) return false;
        static const struct { const char *unit; int64_t ms; } units[] = {
            { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 },
        };
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (!strcmp(end, units[i].unit) && n <= INT64_MAX / units[i].ms / 2) {
                *out_ms = now_ms - n * units[i].ms;
                return true;
            }
        return false;
    }
    size_t n_digits = strspn(s, "0123456789");
    if (s[n_digits] == '\0') {
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno) return false;
        *out_ms = v;
        return true;
    }
    return parse_iso(s, out_ms);
}
