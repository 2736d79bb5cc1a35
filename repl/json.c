/* repl/json.c: a strict JSON reader (RFC 8259) and writer for znode data.
 *
 * The reader is a pull cursor: the caller walks objects and arrays and asks
 * for the type it expects, so nothing is allocated and unknown members are
 * skipped. Invariants: pos never passes end; depth <= RP_JSON_DEPTH_MAX; the
 * first error sticks and every later call returns false. Strings must be
 * valid UTF-8 (no overlong forms, no surrogates) and \u escapes of surrogates
 * must come in pairs. */
#include <stdio.h>

#include "core_int.h"

/* ---- reader ------------------------------------------------------------------- */

void rp_jr_init(struct rp_jr *r, const void *p, size_t n)
{
    r->base = r->pos = (const uint8_t *)p;
    r->end = r->pos + n;
    r->err = NULL;
    r->err_at = 0;
    r->depth = 0;
    r->first = 0;
}

bool rp_jr_fail(struct rp_jr *r, const char *why)
{
    if (!r->err) {
        r->err = why;
        r->err_at = (size_t)(r->pos - r->base);
    }
    return false;
}

void rp_jr_error(const struct rp_jr *r, char *buf, size_t cap)
{
    if (cap == 0) return;
    snprintf(buf, cap, "offset %zu: %s", r->err_at, r->err ? r->err : "no error");
}

static void ws(struct rp_jr *r)
{
    while (r->pos < r->end && (*r->pos == ' ' || *r->pos == '\t' || *r->pos == '\n' || *r->pos == '\r')) r->pos++;
}

enum rp_jtype rp_jr_peek(struct rp_jr *r)
{
    if (r->err) return RP_J_ERR;
    ws(r);
    if (r->pos == r->end) return rp_jr_fail(r, "unexpected end of input"), RP_J_ERR;
    switch (*r->pos) {
    case '{': return RP_J_OBJ;
    case '[': return RP_J_ARR;
    case '"': return RP_J_STR;
    case 't': case 'f': return RP_J_BOOL;
    case 'n': return RP_J_NULL;
    default:
        if (*r->pos == '-' || (*r->pos >= '0' && *r->pos <= '9')) return RP_J_NUM;
        rp_jr_fail(r, "unexpected character");
        return RP_J_ERR;
    }
}

static bool expect_type(struct rp_jr *r, enum rp_jtype t, const char *why)
{
    enum rp_jtype got = rp_jr_peek(r);
    if (got == RP_J_ERR) return false;
    return got == t ? true : rp_jr_fail(r, why);
}

static bool container_begin(struct rp_jr *r, enum rp_jtype t, const char *why)
{
    if (!expect_type(r, t, why)) return false;
    if (r->depth >= RP_JSON_DEPTH_MAX) return rp_jr_fail(r, "nesting too deep");
    r->pos++;
    r->depth++;
    r->first |= (uint64_t)1 << r->depth;
    return true;
}

bool rp_jr_obj_begin(struct rp_jr *r) { return container_begin(r, RP_J_OBJ, "expected an object"); }
bool rp_jr_arr_begin(struct rp_jr *r) { return container_begin(r, RP_J_ARR, "expected an array"); }

/* Before the next member or element: consumes the closer (returns 0), a comma
 * when one is due (returns 1), or fails (returns -1). */
static int container_next(struct rp_jr *r, uint8_t closer)
{
    if (r->err) return -1;
    WEIR_ASSERT(r->depth > 0);
    ws(r);
    if (r->pos == r->end) return rp_jr_fail(r, "unexpected end of input"), -1;
    uint64_t bit = (uint64_t)1 << r->depth;
    bool first = (r->first & bit) != 0;
    if (*r->pos == closer) {
        r->pos++;
        r->first &= ~bit;
        r->depth--;
        return 0;
    }
    if (!first) {
        if (*r->pos != ',') return rp_jr_fail(r, closer == '}' ? "expected ',' or '}'" : "expected ',' or ']'"), -1;
        r->pos++;
        ws(r);
        if (r->pos < r->end && *r->pos == closer) return rp_jr_fail(r, "trailing comma"), -1;
    }
    r->first &= ~bit;
    return 1;
}

static bool string_read(struct rp_jr *r, char *buf, size_t cap, size_t *len);

bool rp_jr_obj_next(struct rp_jr *r, char key[RP_JSON_KEY_MAX])
{
    int k = container_next(r, '}');
    if (k <= 0) return false;
    if (!expect_type(r, RP_J_STR, "expected a key string")) return false;
    size_t n;
    if (!string_read(r, key, RP_JSON_KEY_MAX, &n)) return false;
    if (memchr(key, '\0', n)) return rp_jr_fail(r, "NUL in key");
    ws(r);
    if (r->pos == r->end || *r->pos != ':') return rp_jr_fail(r, "expected ':'");
    r->pos++;
    return true;
}

bool rp_jr_arr_next(struct rp_jr *r) { return container_next(r, ']') > 0; }

static bool hex4(struct rp_jr *r, uint32_t *out)
{
    if (r->end - r->pos < 4) return rp_jr_fail(r, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = r->pos[i];
        uint32_t d = c >= '0' && c <= '9' ? (uint32_t)(c - '0')
                   : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                   : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10) : 16u;
        if (d == 16) return rp_jr_fail(r, "bad \\u escape");
        v = v << 4 | d;
    }
    r->pos += 4;
    *out = v;
    return true;
}

/* Appends code point cp as UTF-8; buf may be NULL (validation only). */
static bool put_cp(struct rp_jr *r, char *buf, size_t cap, size_t *n, uint32_t cp)
{
    uint8_t u[4];
    size_t k;
    if (cp < 0x80) u[0] = (uint8_t)cp, k = 1;
    else if (cp < 0x800) u[0] = (uint8_t)(0xc0 | cp >> 6), u[1] = (uint8_t)(0x80 | (cp & 0x3f)), k = 2;
    else if (cp < 0x10000)
        u[0] = (uint8_t)(0xe0 | cp >> 12), u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)),
        u[2] = (uint8_t)(0x80 | (cp & 0x3f)), k = 3;
    else
        u[0] = (uint8_t)(0xf0 | cp >> 18), u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f)),
        u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f)), u[3] = (uint8_t)(0x80 | (cp & 0x3f)), k = 4;
    if (buf) {
        if (cap - *n <= k) return rp_jr_fail(r, "string too long");
        memcpy(buf + *n, u, k);
    }
    *n += k;
    return true;
}

/* One raw UTF-8 sequence starting at pos (first byte >= 0x80). */
static bool utf8_seq(struct rp_jr *r, uint32_t *cp)
{
    uint8_t c = *r->pos;
    size_t k;
    uint32_t v, min;
    if (c >= 0xc2 && c <= 0xdf) k = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) k = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) k = 4, v = c & 0x07, min = 0x10000;
    else return rp_jr_fail(r, "invalid UTF-8");
    if ((size_t)(r->end - r->pos) < k) return rp_jr_fail(r, "truncated UTF-8");
    for (size_t i = 1; i < k; i++) {
        if ((r->pos[i] & 0xc0) != 0x80) return rp_jr_fail(r, "invalid UTF-8");
        v = v << 6 | (r->pos[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return rp_jr_fail(r, "invalid UTF-8");
    r->pos += k;
    *cp = v;
    return true;
}

/* At '"': reads the string into buf (NULL: validate only). */
static bool string_read(struct rp_jr *r, char *buf, size_t cap, size_t *len)
{
    r->pos++;
    size_t n = 0;
    for (;;) {
        if (r->pos == r->end) return rp_jr_fail(r, "unterminated string");
        uint8_t c = *r->pos;
        uint32_t cp;
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0x20) return rp_jr_fail(r, "control character in string");
        if (c == '\\') {
            r->pos++;
            if (r->pos == r->end) return rp_jr_fail(r, "unterminated string");
            uint8_t e = *r->pos++;
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (!hex4(r, &cp)) return false;
                if (cp >= 0xdc00 && cp <= 0xdfff) return rp_jr_fail(r, "unpaired surrogate escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    uint32_t lo;
                    if (r->end - r->pos < 2 || r->pos[0] != '\\' || r->pos[1] != 'u')
                        return rp_jr_fail(r, "unpaired surrogate escape");
                    r->pos += 2;
                    if (!hex4(r, &lo)) return false;
                    if (lo < 0xdc00 || lo > 0xdfff) return rp_jr_fail(r, "unpaired surrogate escape");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                break;
            default: return rp_jr_fail(r, "bad escape");
            }
        } else if (c >= 0x80) {
            if (!utf8_seq(r, &cp)) return false;
        } else {
            cp = c;
            r->pos++;
        }
        if (!put_cp(r, buf, cap, &n, cp)) return false;
    }
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return true;
}

bool rp_jr_str(struct rp_jr *r, char *buf, size_t cap, size_t *len)
{
    WEIR_ASSERT(buf && cap > 0);
    if (!expect_type(r, RP_J_STR, "expected a string")) return false;
    return string_read(r, buf, cap, len);
}

/* At '-' or a digit: the number grammar; *is_int when no fraction or exponent. */
static bool number_scan(struct rp_jr *r, bool *is_int)
{
    const uint8_t *p = r->pos;
    if (p < r->end && *p == '-') p++;
    if (p == r->end || *p < '0' || *p > '9') return rp_jr_fail(r, "bad number");
    if (*p == '0') p++;
    else while (p < r->end && *p >= '0' && *p <= '9') p++;
    *is_int = true;
    if (p < r->end && *p == '.') {
        p++;
        if (p == r->end || *p < '0' || *p > '9') return rp_jr_fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9') p++;
        *is_int = false;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) p++;
        if (p == r->end || *p < '0' || *p > '9') return rp_jr_fail(r, "bad number");
        while (p < r->end && *p >= '0' && *p <= '9') p++;
        *is_int = false;
    }
    r->pos = p;
    return true;
}

bool rp_jr_int(struct rp_jr *r, int64_t min, int64_t max, int64_t *out)
{
    if (!expect_type(r, RP_J_NUM, "expected a number")) return false;
    const uint8_t *start = r->pos;
    bool is_int;
    if (!number_scan(r, &is_int)) return false;
    if (!is_int) return rp_jr_fail(r, "expected an integer");
    bool neg = *start == '-';
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (const uint8_t *p = start + neg; p < r->pos; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (lim - d) / 10) return rp_jr_fail(r, "number out of range");
        v = v * 10 + d;
    }
    int64_t s = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (s < min || s > max) return rp_jr_fail(r, "number out of range");
    *out = s;
    return true;
}

static bool literal(struct rp_jr *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->pos) < n || memcmp(r->pos, word, n) != 0) return rp_jr_fail(r, "bad literal");
    r->pos += n;
    return true;
}

bool rp_jr_null(struct rp_jr *r)
{
    if (!expect_type(r, RP_J_NULL, "expected null")) return false;
    return literal(r, "null");
}

bool rp_jr_skip(struct rp_jr *r)
{
    char key[RP_JSON_KEY_MAX];
    bool is_int;
    switch (rp_jr_peek(r)) {
    case RP_J_ERR: return false;
    case RP_J_OBJ:
        if (!rp_jr_obj_begin(r)) return false;
        while (rp_jr_obj_next(r, key))
            if (!rp_jr_skip(r)) return false;
        return r->err == NULL;
    case RP_J_ARR:
        if (!rp_jr_arr_begin(r)) return false;
        while (rp_jr_arr_next(r))
            if (!rp_jr_skip(r)) return false;
        return r->err == NULL;
    case RP_J_STR: return string_read(r, NULL, 0, NULL);
    case RP_J_NUM: return number_scan(r, &is_int);
    case RP_J_BOOL: return literal(r, *r->pos == 't' ? "true" : "false");
    case RP_J_NULL: return literal(r, "null");
    }
    return false;
}

bool rp_jr_finish(struct rp_jr *r)
{
    if (r->err) return false;
    WEIR_ASSERT(r->depth == 0);
    ws(r);
    return r->pos == r->end ? true : rp_jr_fail(r, "trailing data");
}

/* ---- writer --------------------------------------------------------------------- */

void rp_jw_init(struct rp_jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = false;
    w->depth = 0;
    w->first = 1; /* the top level: one value, no comma */
    w->after_key = false;
    if (cap) buf[0] = '\0';
}

static void put(struct rp_jw *w, const char *s, size_t n)
{
    if (w->overflow) return;
    if (w->cap == 0 || w->cap - 1 - w->len < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Before a value or key: the comma, unless first in its container or after a key. */
static void sep(struct rp_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    uint64_t bit = (uint64_t)1 << w->depth;
    if (w->first & bit) w->first &= ~bit;
    else put(w, ",", 1);
}

static void open_(struct rp_jw *w, char c)
{
    sep(w);
    put(w, &c, 1);
    WEIR_ASSERT(w->depth + 1 < 64);
    w->depth++;
    w->first |= (uint64_t)1 << w->depth;
}

static void close_(struct rp_jw *w, char c)
{
    WEIR_ASSERT(w->depth > 0 && !w->after_key);
    w->first &= ~((uint64_t)1 << w->depth);
    w->depth--;
    put(w, &c, 1);
}

void rp_jw_obj_begin(struct rp_jw *w) { open_(w, '{'); }
void rp_jw_obj_end(struct rp_jw *w) { close_(w, '}'); }
void rp_jw_arr_begin(struct rp_jw *w) { open_(w, '['); }
void rp_jw_arr_end(struct rp_jw *w) { close_(w, ']'); }

static void str_raw(struct rp_jw *w, const char *s)
{
    put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': put(w, "\\\"", 2); break;
        case '\\': put(w, "\\\\", 2); break;
        case '\b': put(w, "\\b", 2); break;
        case '\f': put(w, "\\f", 2); break;
        case '\n': put(w, "\\n", 2); break;
        case '\r': put(w, "\\r", 2); break;
        case '\t': put(w, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04X", *p);
                put(w, esc, 6);
            } else {
                put(w, (const char *)p, 1);
            }
        }
    }
    put(w, "\"", 1);
}

void rp_jw_key(struct rp_jw *w, const char *key)
{
    WEIR_ASSERT(w->depth > 0 && !w->after_key);
    sep(w);
    str_raw(w, key);
    put(w, ":", 1);
    w->after_key = true;
}

void rp_jw_int(struct rp_jw *w, int64_t v)
{
    char num[24];
    sep(w);
    int n = snprintf(num, sizeof num, "%lld", (long long)v);
    put(w, num, (size_t)n);
}

void rp_jw_str(struct rp_jw *w, const char *s)
{
    sep(w);
    str_raw(w, s);
}

void rp_jw_null(struct rp_jw *w)
{
    sep(w);
    put(w, "null", 4);
}

enum weir_err rp_jw_done(const struct rp_jw *w, size_t *len)
{
    if (w->overflow) return WEIR_E_TOO_LARGE;
    WEIR_ASSERT(w->depth == 0 && !w->after_key);
    if (len) *len = w->len;
    return WEIR_OK;
}
