/* tests/test_proto.c: proto/, the Kafka codec (broker side): primitives against README §2
 * vectors, the output buffer and its chunks, request headers v1/v2, ApiVersions
 * byte for byte (librdkafka 2.0.2's v3 request, v0/v3 responses, the
 * unsupported-version answer), every other API's request decode and response
 * encode at every supported version, truncation at every length,
 * array counts over their maximum, and a deterministic mutation fuzz loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "proto/proto.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------ */


/* A heap copy of exactly n bytes, so ASan catches any read past the frame. */
static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

static void assert_bytes(const uint8_t *got, size_t got_n, const uint8_t *want, size_t want_n)
{
    if (got_n != want_n || memcmp(got, want, want_n) != 0) {
        print_message("got %zu bytes:", got_n);
        for (size_t i = 0; i < got_n; i++) print_message(" %02x", got[i]);
        print_message("\nwant %zu bytes:", want_n);
        for (size_t i = 0; i < want_n; i++) print_message(" %02x", want[i]);
        print_message("\n");
        fail();
    }
}

static void assert_kstr(struct kstr got, const char *want)
{
    if (!want) {
        assert_true(kstr_is_null(got));
        return;
    }
    if (!kstr_eq(got, want)) {
        print_message("got \"%.*s\" (%d), want \"%s\"\n", got.len > 0 ? got.len : 0, got.ptr ? got.ptr : "",
                      got.len, want);
        fail();
    }
}

static struct kstr ks(const char *s) { return s ? kstr_c(s) : KSTR_NULL; }
static void b_str(struct kbuf *b, const char *s) { kb_string(b, kstr_c(s)); }
static void b_nstr(struct kbuf *b, const char *s) { kb_nstring(b, ks(s)); }

/* The kbuf's bytes with every FILE chunk replaced by len bytes of (uint8_t)fd. */
static uint8_t *flatten(const struct kbuf *b, size_t *n)
{
    assert_int_equal(b->err, WEIR_OK);
    *n = (size_t)kbuf_total_len(b);
    uint8_t *out = malloc(*n ? *n : 1);
    assert_non_null(out);
    size_t at = 0;
    for (size_t i = 0; i < kbuf_chunk_count(b); i++) {
        struct kchunk c = kbuf_chunk(b, i);
        if (c.kind == KCHUNK_MEM)
            memcpy(out + at, c.mem, c.len);
        else
            memset(out + at, (uint8_t)c.fd, c.len);
        at += c.len;
    }
    assert_int_equal(at, *n);
    return out;
}

/* ---- the API table --------------------------------------------------------------- */

static void test_api_table(void **state)
{
    (void)state;
    static const struct { int16_t key, min, max; } want[] = {
        { 0, 0, 9 },  { 1, 0, 13 }, { 2, 0, 8 },  { 3, 0, 12 }, { 8, 0, 9 },  { 9, 0, 9 },
        { 10, 0, 4 }, { 11, 0, 9 }, { 12, 0, 4 }, { 13, 0, 5 }, { 14, 0, 5 }, { 15, 0, 5 },
        { 16, 0, 4 }, { 18, 0, 3 }, { 19, 0, 7 }, { 20, 0, 6 }, { 21, 0, 2 }, { 22, 0, 4 }, { 23, 0, 4 },
        { 32, 0, 4 }, { 33, 0, 2 }, { 35, 0, 4 }, { 37, 0, 3 }, { 42, 0, 2 }, { 44, 0, 1 }, { 47, 0, 0 }, { 60, 0, 1 },
    };
    size_t n, supported = 0;
    const struct kproto_api *t = kproto_api_table(&n);
    for (size_t i = 0; i < n; i++) {
        supported += t[i].min >= 0;
        if (i) assert_true(t[i - 1].key < t[i].key); /* ascending */
    }
    assert_int_equal(supported, WEIR_ARRAY_LEN(want));
    for (size_t i = 0; i < WEIR_ARRAY_LEN(want); i++) {
        print_message("key %d\n", want[i].key);
        assert_false(kproto_supported(want[i].key, (int16_t)(want[i].min - 1)));
        assert_true(kproto_supported(want[i].key, want[i].min));
        assert_true(kproto_supported(want[i].key, want[i].max));
        assert_false(kproto_supported(want[i].key, (int16_t)(want[i].max + 1)));
        for (int16_t v = want[i].min; v <= want[i].max; v++)
            assert_int_equal(kproto_request_flexible(want[i].key, v),
                             (want[i].key == 18 && v >= 3) || (want[i].key == 23 && v >= 4) ||
                                 (want[i].key == 42 && v >= 2) || (want[i].key == 2 && v >= 6) ||
                                 (want[i].key == 3 && v >= 9) || (want[i].key == 0 && v >= 9) ||
                                 (want[i].key == 1 && v >= 12) || (want[i].key == 19 && v >= 5) ||
                                 (want[i].key == 20 && v >= 4) || (want[i].key == 22 && v >= 2) ||
                                 (want[i].key == 32 && v >= 4) || (want[i].key == 37 && v >= 2) ||
                                 (want[i].key == 8 && v >= 8) ||
                                 (want[i].key == 9 && v >= 6) || (want[i].key == 10 && v >= 3) ||
                                 (want[i].key == 11 && v >= 6) || (want[i].key == 12 && v >= 4) ||
                                 (want[i].key == 13 && v >= 4) || (want[i].key == 14 && v >= 4) ||
                                 (want[i].key == 15 && v >= 5) || (want[i].key == 16 && v >= 3) ||
                                 (want[i].key == 35 && v >= 2) || (want[i].key == 33 && v >= 2) ||
                                 (want[i].key == 44 && v >= 1) ||
                                 (want[i].key == 21 && v >= 2) || want[i].key == 60);
    }
    assert_false(kproto_supported(21, 3)); /* DeleteRecords: 0-2, as Kafka 3.7 */
    assert_false(kproto_supported(99, 0));
    assert_null(kproto_api_find(99));
    assert_true(kproto_request_flexible(KAPI_PRODUCE, 9));
    assert_false(kproto_request_flexible(KAPI_PRODUCE, 8));
    assert_true(kproto_request_flexible(KAPI_OFFSET_FETCH, 6));
    assert_false(kproto_request_flexible(99, 100));
    assert_true(kproto_response_header_v1(KAPI_PRODUCE, 9));
    assert_false(kproto_response_header_v1(KAPI_API_VERSIONS, 3)); /* always header v0 */
    assert_false(kproto_response_header_v1(KAPI_API_VERSIONS, 4));
    assert_false(kproto_response_header_v1(KAPI_FETCH, 11));
}

/* ---- primitives: README §2 vectors ------------------------------------------------------ */

static void test_uvarint_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t in[6];
        size_t len;
        uint32_t want;
        enum weir_err err;
    } cases[] = {
        { "0", { 0x00 }, 1, 0, WEIR_OK },
        { "127", { 0x7f }, 1, 127, WEIR_OK },
        { "128", { 0x80, 0x01 }, 2, 128, WEIR_OK },
        { "300", { 0xac, 0x02 }, 2, 300, WEIR_OK },
        { "2^32-1", { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, UINT32_MAX, WEIR_OK },
        { "over 32 bits", { 0xff, 0xff, 0xff, 0xff, 0x1f }, 5, 0, WEIR_E_INVALID },
        { "6 bytes", { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 6, 0, WEIR_E_INVALID },
        { "truncated", { 0x80 }, 1, 0, WEIR_E_TRUNCATED },
        { "empty", { 0 }, 0, 0, WEIR_E_TRUNCATED },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("uvarint %s\n", cases[i].name);
        struct weir_rd rd = weir_rd_make(cases[i].in, cases[i].len);
        uint32_t got = kr_uvarint(&rd);
        assert_int_equal(rd.err, cases[i].err);
        if (rd.err != WEIR_OK) continue;
        assert_int_equal(got, cases[i].want);
        assert_int_equal(weir_rd_left(&rd), 0);
        struct kbuf b;
        kbuf_init(&b, 0);
        kb_uvarint(&b, cases[i].want);
        assert_bytes(b.mem, b.mem_len, cases[i].in, cases[i].len);
        kbuf_free(&b);
    }
}

enum str_kind { S_STRING, S_NSTRING, S_CSTRING, S_CNSTRING, B_BYTES, B_NBYTES, B_CBYTES, B_CNBYTES };

static void str_case_read(enum str_kind k, struct weir_rd *rd, const void **ptr, int32_t *len)
{
    struct kstr s = { NULL, 0 };
    struct kbytes b = { NULL, 0 };
    switch (k) {
    case S_STRING: s = kr_string(rd); break;
    case S_NSTRING: s = kr_nstring(rd); break;
    case S_CSTRING: s = kr_compact_string(rd); break;
    case S_CNSTRING: s = kr_compact_nstring(rd); break;
    case B_BYTES: b = kr_bytes(rd); break;
    case B_NBYTES: b = kr_nbytes(rd); break;
    case B_CBYTES: b = kr_compact_bytes(rd); break;
    case B_CNBYTES: b = kr_compact_nbytes(rd); break;
    }
    *ptr = k < B_BYTES ? (const void *)s.ptr : (const void *)b.ptr;
    *len = k < B_BYTES ? s.len : b.len;
}

static void str_case_write(enum str_kind k, struct kbuf *out, const char *p, int32_t len)
{
    struct kstr s = { p, len };
    struct kbytes b = { (const uint8_t *)p, len };
    switch (k) {
    case S_STRING: kb_string(out, s); break;
    case S_NSTRING: kb_nstring(out, s); break;
    case S_CSTRING: kb_compact_string(out, s); break;
    case S_CNSTRING: kb_compact_nstring(out, s); break;
    case B_BYTES: kb_bytes(out, b); break;
    case B_NBYTES: kb_nbytes(out, b); break;
    case B_CBYTES: kb_compact_bytes(out, b); break;
    case B_CNBYTES: kb_compact_nbytes(out, b); break;
    }
}

static void test_string_bytes_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum str_kind kind;
        uint8_t in[8];
        size_t len;
        int32_t want_len; /* -1 = null */
        enum weir_err err;
    } cases[] = {
        { "STRING abc", S_STRING, { 0, 3, 'a', 'b', 'c' }, 5, 3, WEIR_OK },
        { "STRING empty", S_STRING, { 0, 0 }, 2, 0, WEIR_OK },
        { "STRING null refused", S_STRING, { 0xff, 0xff }, 2, 0, WEIR_E_INVALID },
        { "STRING -2", S_NSTRING, { 0xff, 0xfe }, 2, 0, WEIR_E_INVALID },
        { "STRING short", S_STRING, { 0, 5, 'a', 'b' }, 4, 0, WEIR_E_TRUNCATED },
        { "NULLABLE_STRING null", S_NSTRING, { 0xff, 0xff }, 2, -1, WEIR_OK },
        { "COMPACT_STRING abc", S_CSTRING, { 4, 'a', 'b', 'c' }, 4, 3, WEIR_OK },
        { "COMPACT_STRING empty", S_CSTRING, { 1 }, 1, 0, WEIR_OK },
        { "COMPACT_STRING null refused", S_CSTRING, { 0 }, 1, 0, WEIR_E_INVALID },
        { "COMPACT_NULLABLE_STRING null", S_CNSTRING, { 0 }, 1, -1, WEIR_OK },
        { "COMPACT_STRING over 32767", S_CSTRING, { 0x81, 0x80, 0x02 }, 3, 0, WEIR_E_INVALID },
        { "BYTES ab", B_BYTES, { 0, 0, 0, 2, 'a', 'b' }, 6, 2, WEIR_OK },
        { "BYTES null refused", B_BYTES, { 0xff, 0xff, 0xff, 0xff }, 4, 0, WEIR_E_INVALID },
        { "NULLABLE_BYTES null", B_NBYTES, { 0xff, 0xff, 0xff, 0xff }, 4, -1, WEIR_OK },
        { "NULLABLE_BYTES -2", B_NBYTES, { 0xff, 0xff, 0xff, 0xfe }, 4, 0, WEIR_E_INVALID },
        { "BYTES short", B_BYTES, { 0, 0, 0, 9, 1 }, 5, 0, WEIR_E_TRUNCATED },
        { "COMPACT_BYTES ab", B_CBYTES, { 3, 'a', 'b' }, 3, 2, WEIR_OK },
        { "COMPACT_NULLABLE_BYTES null", B_CNBYTES, { 0 }, 1, -1, WEIR_OK },
        { "COMPACT_BYTES null refused", B_CBYTES, { 0 }, 1, 0, WEIR_E_INVALID },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("%s\n", cases[i].name);
        uint8_t *in = dup_exact(cases[i].in, cases[i].len);
        struct weir_rd rd = weir_rd_make(in, cases[i].len);
        const void *ptr;
        int32_t len;
        str_case_read(cases[i].kind, &rd, &ptr, &len);
        assert_int_equal(rd.err, cases[i].err);
        if (rd.err == WEIR_OK) {
            assert_int_equal(len, cases[i].want_len);
            assert_int_equal(weir_rd_left(&rd), 0);
            if (len > 0) assert_ptr_equal(ptr, in + cases[i].len - (size_t)len); /* borrowed */
            struct kbuf b;
            kbuf_init(&b, 0);
            str_case_write(cases[i].kind, &b, ptr, len);
            assert_bytes(b.mem, b.mem_len, cases[i].in, cases[i].len);
            kbuf_free(&b);
        }
        free(in);
    }
}

static void test_array_len(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        bool compact, nullable;
        int32_t max;
        uint8_t in[12];
        size_t len;
        int32_t want;
        enum weir_err err;
    } cases[] = {
        { "3 of max 3", false, false, 3, { 0, 0, 0, 3, 1, 2, 3 }, 7, 3, WEIR_OK },
        { "0", false, false, 3, { 0, 0, 0, 0 }, 4, 0, WEIR_OK },
        { "null when nullable", false, true, 3, { 0xff, 0xff, 0xff, 0xff }, 4, -1, WEIR_OK },
        { "null refused", false, false, 3, { 0xff, 0xff, 0xff, 0xff }, 4, 0, WEIR_E_INVALID },
        { "-2 refused", false, true, 3, { 0xff, 0xff, 0xff, 0xfe }, 4, 0, WEIR_E_INVALID },
        { "over max", false, false, 3, { 0, 0, 0, 4, 1, 2, 3, 4 }, 8, 0, WEIR_E_TOO_LARGE },
        { "INT32_MAX", false, false, 3, { 0x7f, 0xff, 0xff, 0xff }, 4, 0, WEIR_E_TOO_LARGE },
        { "over bytes left", false, false, 100, { 0, 0, 0, 9, 1, 2 }, 6, 0, WEIR_E_TRUNCATED },
        { "count truncated", false, false, 3, { 0, 0 }, 2, 0, WEIR_E_TRUNCATED },
        { "compact 2", true, false, 3, { 3, 1, 2 }, 3, 2, WEIR_OK },
        { "compact empty", true, false, 3, { 1 }, 1, 0, WEIR_OK },
        { "compact null", true, true, 3, { 0 }, 1, -1, WEIR_OK },
        { "compact null refused", true, false, 3, { 0 }, 1, 0, WEIR_E_INVALID },
        { "compact over max", true, false, 3, { 0x85, 0x01 }, 2, 0, WEIR_E_TOO_LARGE },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("array %s\n", cases[i].name);
        struct weir_rd rd = weir_rd_make(cases[i].in, cases[i].len);
        int32_t n = cases[i].compact ? kr_compact_array_len(&rd, cases[i].max, cases[i].nullable)
                                     : kr_array_len(&rd, cases[i].max, cases[i].nullable);
        assert_int_equal(rd.err, cases[i].err);
        assert_int_equal(n, rd.err == WEIR_OK ? cases[i].want : 0);
        if (rd.err != WEIR_OK) continue;
        struct kbuf b;
        kbuf_init(&b, 0);
        if (cases[i].compact)
            kb_compact_array_len(&b, n);
        else
            kb_array_len(&b, n);
        assert_bytes(b.mem, b.mem_len, cases[i].in, cases[i].compact ? 1 : 4);
        kbuf_free(&b);
    }
}

static void test_tags_skip(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t in[10];
        size_t len;
        enum weir_err err;
    } cases[] = {
        { "empty section", { 0x00 }, 1, WEIR_OK },
        { "two unknown tags", { 0x02, 0x00, 0x01, 0xaa, 0x05, 0x02, 0xbb, 0xcc }, 8, WEIR_OK },
        { "size past the end", { 0x01, 0x00, 0x05, 0xaa }, 4, WEIR_E_TRUNCATED },
        { "count over bytes left", { 0x7f, 0x00, 0x00 }, 3, WEIR_E_TRUNCATED },
        { "huge count", { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, WEIR_E_TRUNCATED },
        { "bad varint", { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 6, WEIR_E_INVALID },
        { "missing", { 0 }, 0, WEIR_E_TRUNCATED },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("tags %s\n", cases[i].name);
        struct weir_rd rd = weir_rd_make(cases[i].in, cases[i].len);
        kr_tags_skip(&rd);
        assert_int_equal(rd.err, cases[i].err);
        if (rd.err == WEIR_OK) assert_int_equal(weir_rd_left(&rd), 0);
    }
}

/* Writers produce the README §2 encodings; readers read them back. */
static void test_writers_roundtrip(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    kb_i8(&b, -2);
    kb_bool(&b, true);
    kb_i16(&b, -300);
    kb_i32(&b, 0x01020304);
    kb_i64(&b, -2);
    b_str(&b, "hi");
    kb_nstring(&b, KSTR_NULL);
    kb_compact_string(&b, kstr_c("x"));
    kb_compact_nstring(&b, KSTR_NULL);
    kb_nbytes(&b, (struct kbytes){ NULL, -1 });
    kb_compact_array_len(&b, 2);
    kb_array_len(&b, -1);
    kb_tags_empty(&b);
    kb_tags(&b, false); /* nothing */
    static const uint8_t want[] = {
        0xfe, 0x01, 0xfe, 0xd4, 0x01, 0x02, 0x03, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
        0x00, 0x02, 'h',  'i',  0xff, 0xff, 0x02, 'x',  0x00, 0xff, 0xff, 0xff, 0xff, 0x03, 0xff, 0xff,
        0xff, 0xff, 0x00,
    };
    assert_bytes(b.mem, b.mem_len, want, sizeof want);
    struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
    assert_int_equal(kr_i8(&rd), -2);
    assert_true(kr_bool(&rd));
    assert_int_equal(weir_rd_i16(&rd), -300);
    assert_int_equal(weir_rd_i32(&rd), 0x01020304);
    assert_int_equal(weir_rd_i64(&rd), -2);
    assert_kstr(kr_string(&rd), "hi");
    assert_kstr(kr_nstring(&rd), NULL);
    assert_kstr(kr_compact_string(&rd), "x");
    assert_kstr(kr_compact_nstring(&rd), NULL);
    assert_int_equal(kr_nbytes(&rd).len, -1);
    assert_int_equal(kr_compact_array_len(&rd, 10, false), 2);
    assert_int_equal(kr_array_len(&rd, 10, true), -1);
    kr_tags_skip(&rd);
    assert_int_equal(rd.err, WEIR_OK);
    assert_int_equal(weir_rd_left(&rd), 0);
    /* A string over the INT16 limit is refused, and the error sticks. */
    char *big = malloc(KPROTO_STRING_MAX + 1);
    assert_non_null(big);
    memset(big, 'a', KPROTO_STRING_MAX + 1);
    size_t before = b.mem_len;
    kb_string(&b, (struct kstr){ big, KPROTO_STRING_MAX + 1 });
    assert_int_equal(b.err, WEIR_E_TOO_LARGE);
    kb_i32(&b, 1);
    assert_int_equal(b.mem_len, before);
    free(big);
    kbuf_free(&b);
}

/* ---- the output buffer ------------------------------------------------------------------ */

static void test_kbuf_chunks(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    int pin1, pin2, pin3;
    assert_int_equal(kbuf_chunk_count(&b), 0);
    assert_true(kb_file(&b, 7, 1000, 0, &pin1)); /* FILE first, even of length 0 */
    kb_i32(&b, 1);
    size_t at = kb_reserve_i32(&b);
    assert_true(kb_file(&b, 8, 4096, 100, &pin2));
    assert_true(kb_file(&b, 8, 8192, 50, &pin3));
    kb_i16(&b, 2);
    kb_patch_i32(&b, at, 0x0a0b0c0d);
    assert_int_equal(kbuf_total_len(&b), 4 + 4 + 2 + 150);
    assert_int_equal(kbuf_chunk_count(&b), 5);
    static const struct { enum kchunk_kind kind; uint32_t len; int fd; uint64_t pos; } want[] = {
        { KCHUNK_FILE, 0, 7, 1000 }, { KCHUNK_MEM, 8, -1, 0 },    { KCHUNK_FILE, 100, 8, 4096 },
        { KCHUNK_FILE, 50, 8, 8192 }, { KCHUNK_MEM, 2, -1, 0 },
    };
    void *pins[] = { &pin1, NULL, &pin2, &pin3, NULL };
    uint64_t sum = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(want); i++) {
        struct kchunk c = kbuf_chunk(&b, i);
        assert_int_equal(c.kind, want[i].kind);
        assert_int_equal(c.len, want[i].len);
        sum += c.len;
        if (c.kind == KCHUNK_FILE) {
            assert_int_equal(c.fd, want[i].fd);
            assert_int_equal(c.pos, want[i].pos);
            assert_ptr_equal(c.pin, pins[i]);
        }
    }
    assert_int_equal(sum, kbuf_total_len(&b));
    static const uint8_t m1[] = { 0, 0, 0, 1, 0x0a, 0x0b, 0x0c, 0x0d }, m2[] = { 0, 2 };
    assert_bytes(kbuf_chunk(&b, 1).mem, 8, m1, 8);
    assert_bytes(kbuf_chunk(&b, 4).mem, 2, m2, 2);
    kbuf_reset(&b);
    assert_int_equal(kbuf_total_len(&b), 0);
    assert_int_equal(kbuf_chunk_count(&b), 0);
    kbuf_free(&b);
}

/* Two pipelined frames in one kbuf, the second with file bytes. */
static void test_kbuf_frames(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kframe f1 = kproto_response_begin(&b, KAPI_FIND_COORDINATOR, 0, 0x11);
    kb_i16(&b, 0);
    kproto_response_end(&b, &f1);
    struct kframe f2 = kproto_response_begin(&b, KAPI_PRODUCE, 9, 0x22); /* flexible: header v1 */
    kb_i8(&b, 5);
    kb_file(&b, 3, 0, 1000, NULL);
    kb_i8(&b, 6);
    kproto_response_end(&b, &f2);
    static const uint8_t want[] = { 0, 0, 0, 6, 0, 0, 0, 0x11, 0, 0,                /* frame 1 */
                                    0, 0, 0x03, 0xef, 0, 0, 0, 0x22, 0x00, 5, 6 }; /* 4+1+1+1000+1 */
    assert_bytes(b.mem, b.mem_len, want, sizeof want);
    assert_int_equal(kbuf_total_len(&b), sizeof want + 1000);
    kbuf_free(&b);
}

static void test_kbuf_cap(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 10);
    kb_i64(&b, 1);
    kb_i16(&b, 2);
    assert_int_equal(b.err, WEIR_OK);
    size_t at = kb_reserve_i32(&b); /* over the cap */
    assert_int_equal(at, KBUF_POS_NONE);
    assert_int_equal(b.err, WEIR_E_TOO_LARGE);
    kb_patch_i32(&b, at, 5); /* ignored */
    assert_false(kb_file(&b, 1, 0, 10, NULL));
    assert_int_equal(b.mem_len, 10);
    assert_int_equal(kbuf_chunk_count(&b), 1);
    struct kframe f = kproto_response_begin(&b, KAPI_FETCH, 4, 1);
    kproto_response_end(&b, &f);
    kbuf_reset(&b);
    assert_int_equal(b.err, WEIR_OK);
    kb_i32(&b, 1);
    assert_int_equal(b.mem_len, 4);
    kbuf_free(&b);
    /* An encoder into a tiny kbuf fails cleanly. */
    kbuf_init(&b, 16);
    struct kmetadata_broker br = { 1, kstr_c("a-rather-long-hostname.example"), 9092, KSTR_NULL };
    struct kmetadata_resp r = { .brokers = &br, .n_brokers = 1, .cluster_id = KSTR_NULL };
    kproto_metadata_encode(&b, 4, &r);
    assert_int_equal(b.err, WEIR_E_TOO_LARGE);
    kbuf_free(&b);
}

/* ---- request header --------------------------------------------------------------------- */

/* librdkafka 2.0.2's first request on a connection (README §4, §9.13): header
 * v2 with an INT16 client_id "rdkafka" then 00, compact strings, 00. */
static const uint8_t rdkafka_apiversions_v3[] = {
    0x00, 0x00, 0x00, 0x24,                               /* size 36 */
    0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,       /* key 18, v3, correlation 1 */
    0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a',  /* client_id */
    0x00,                                                 /* header tags */
    0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f',  'k', 'a', /* client_software_name */
    0x06, '2',  '.',  '0',  '.',  '2',                    /* client_software_version */
    0x00,                                                 /* body tags */
};

static void test_header_and_apiversions_request(void **state)
{
    (void)state;
    const uint8_t *frame = rdkafka_apiversions_v3;
    assert_int_equal(weir_load_be32(frame), sizeof rdkafka_apiversions_v3 - 4);
    struct weir_rd rd = weir_rd_make(frame + 4, sizeof rdkafka_apiversions_v3 - 4);
    struct kreq_header h;
    assert_int_equal(kproto_header_decode(&rd, &h), WEIR_OK);
    assert_int_equal(h.api_key, 18);
    assert_int_equal(h.api_version, 3);
    assert_int_equal(h.correlation_id, 1);
    assert_kstr(h.client_id, "rdkafka");
    assert_ptr_equal(rd.pos, frame + 22); /* the header tags were read */
    struct kapiversions_req req;
    assert_int_equal(kproto_apiversions_decode(&rd, h.api_version, NULL, &req), WEIR_OK);
    assert_kstr(req.client_software_name, "librdkafka");
    assert_kstr(req.client_software_version, "2.0.2");
    assert_int_equal(weir_rd_left(&rd), 0);

    /* Header v1 (Metadata v4, null client_id): no tags read, body starts at 10. */
    static const uint8_t v1[] = { 0, 3, 0, 4, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xaa };
    rd = weir_rd_make(v1, sizeof v1);
    assert_int_equal(kproto_header_decode(&rd, &h), WEIR_OK);
    assert_int_equal(h.api_key, 3);
    assert_int_equal(h.correlation_id, INT32_MAX);
    assert_true(kstr_is_null(h.client_id));
    assert_int_equal(weir_rd_left(&rd), 1);

    /* Header v2 of a too-new ApiVersions (v4) with a non-empty tag section. */
    static const uint8_t v2[] = { 0, 18, 0, 4, 0, 0, 0, 9, 0, 1, 'c', 0x01, 0x05, 0x02, 0xaa, 0xbb, 0x01, 0x01, 0x00 };
    rd = weir_rd_make(v2, sizeof v2);
    assert_int_equal(kproto_header_decode(&rd, &h), WEIR_OK);
    assert_int_equal(h.api_version, 4);
    assert_false(kproto_supported(h.api_key, h.api_version));
    assert_int_equal(kproto_apiversions_decode(&rd, h.api_version, NULL, &req), WEIR_OK);
    assert_kstr(req.client_software_name, "");
    assert_kstr(req.client_software_version, "");

    /* Every truncation of the librdkafka frame fails cleanly. */
    for (size_t n = 0; n < sizeof rdkafka_apiversions_v3 - 4; n++) {
        uint8_t *p = dup_exact(frame + 4, n);
        rd = weir_rd_make(p, n);
        enum weir_err err = kproto_header_decode(&rd, &h);
        if (err == WEIR_OK) err = kproto_apiversions_decode(&rd, h.api_version, NULL, &req);
        assert_int_equal(err, WEIR_E_TRUNCATED);
        free(p);
    }
}

/* ---- ApiVersions responses, byte for byte ------------------------------------------------- */

/* The 25 supported APIs, ascending: key, min, max. */
static const int16_t api_ranges[][3] = {
    { 0, 0, 9 },  { 1, 0, 13 }, { 2, 0, 8 },  { 3, 0, 12 }, { 8, 0, 9 },  { 9, 0, 9 },
    { 10, 0, 4 }, { 11, 0, 9 }, { 12, 0, 4 }, { 13, 0, 5 }, { 14, 0, 5 }, { 15, 0, 5 },
    { 16, 0, 4 }, { 18, 0, 3 }, { 19, 0, 7 }, { 20, 0, 6 }, { 21, 0, 2 }, { 22, 0, 4 }, { 23, 0, 4 },
    { 32, 0, 4 }, { 33, 0, 2 }, { 35, 0, 4 }, { 37, 0, 3 }, { 42, 0, 2 }, { 44, 0, 1 }, { 47, 0, 0 }, { 60, 0, 1 },
};

/* Hand-built expected frame, one field at a time. */
static size_t apiversions_expected(uint8_t *p, int16_t version, int32_t corr)
{
    size_t n = 0;
    bool v3 = version >= 3;
    n += 4; /* size, patched below */
    weir_store_be32(p + n, (uint32_t)corr), n += 4; /* header v0 even for v3 */
    p[n++] = 0, p[n++] = 0;                          /* error */
    if (v3)
        p[n++] = (uint8_t)(WEIR_ARRAY_LEN(api_ranges) + 1); /* compact count + 1 */
    else
        weir_store_be32(p + n, WEIR_ARRAY_LEN(api_ranges)), n += 4;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_ranges); i++) {
        for (int j = 0; j < 3; j++) weir_store_be16(p + n, (uint16_t)api_ranges[i][j]), n += 2;
        if (v3) p[n++] = 0; /* entry tags */
    }
    if (version >= 1) weir_store_be32(p + n, 0), n += 4; /* throttle */
    if (v3) p[n++] = 0;                                  /* final tags */
    weir_store_be32(p, (uint32_t)(n - 4));
    return n;
}

static void test_apiversions_responses(void **state)
{
    (void)state;
    for (int16_t v = 0; v <= 3; v++) {
        print_message("ApiVersions v%d response\n", v);
        struct kbuf b;
        kbuf_init(&b, 0);
        struct kframe f = kproto_response_begin(&b, KAPI_API_VERSIONS, v, 0x01020304);
        struct kapiversions_resp r = { 0, 0 };
        kproto_apiversions_encode(&b, v, &r);
        kproto_response_end(&b, &f);
        uint8_t want[256];
        size_t n = apiversions_expected(want, v, 0x01020304);
        assert_bytes(b.mem, b.mem_len, want, n);
        kbuf_free(&b);
    }
    /* v0: 4 + 4 + 2 + 4 + 27*6 = 176; v3: 4 + 4 + 2 + 1 + 27*7 + 4 + 1 = 205. */
    uint8_t tmp[256];
    assert_int_equal(apiversions_expected(tmp, 0, 1), 176);
    assert_int_equal(apiversions_expected(tmp, 3, 1), 205);
}

static void test_apiversions_unsupported(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    kproto_apiversions_encode_unsupported(&b, 42);
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x10, /* size 16 */
        0x00, 0x00, 0x00, 0x2a, /* correlation id, header v0 */
        0x00, 0x23,             /* UNSUPPORTED_VERSION */
        0x00, 0x00, 0x00, 0x01, /* INT32 count: v0 format */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, /* ApiVersions 0..3; no throttle */
    };
    assert_bytes(b.mem, b.mem_len, want, sizeof want);
    assert_int_equal(kbuf_chunk_count(&b), 1);
    kbuf_free(&b);
}

/* ======================================================================== */
/* Requests of every API: test-side encoders per schema, decode, check.      */
/* ======================================================================== */

union any_req {
    struct kapiversions_req apiversions;
    struct kmetadata_req metadata;
    struct kproduce_req produce;
    struct kfetch_req fetch;
    struct klistoffsets_req listoffsets;
    struct kcreatetopics_req createtopics;
    struct kdeletetopics_req deletetopics;
    struct kdeleterecords_req deleterecords;
    struct kcreatepartitions_req createpartitions;
    struct kdescribeconfigs_req describeconfigs;
    struct kinitproducerid_req initproducerid;
    struct kfindcoordinator_req findcoordinator;
    struct koffsetforleaderepoch_req offsetforleaderepoch;
};

/* Bounds of the frame under test: every borrowed pointer must fall inside. */
struct span {
    const uint8_t *lo, *hi;
};
static void in_span(const struct span *sp, const void *p, int32_t len)
{
    if (len <= 0) return;
    assert_true((const uint8_t *)p >= sp->lo && (const uint8_t *)p + len <= sp->hi);
}

/* Reads n bytes of decoded (arena) memory so ASan sees any bad pointer. */
static void touch(const void *p, size_t n)
{
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++) sink ^= ((const uint8_t *)p)[i];
    (void)sink;
}

/* ---- ApiVersions ---- */
static void build_apiversions(struct kbuf *b, int16_t v)
{
    if (v < 3) return; /* empty body */
    kb_compact_string(b, kstr_c("librdkafka"));
    kb_compact_string(b, kstr_c("2.0.2"));
    kb_tags_empty(b);
}
static enum weir_err dec_apiversions(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_apiversions_decode(rd, v, a, &r->apiversions);
}
static void check_apiversions(const union any_req *r, int16_t v)
{
    assert_kstr(r->apiversions.client_software_name, v >= 3 ? "librdkafka" : NULL);
    assert_kstr(r->apiversions.client_software_version, v >= 3 ? "2.0.2" : NULL);
}
static void walk_apiversions(const union any_req *r, const struct span *sp)
{
    in_span(sp, r->apiversions.client_software_name.ptr, r->apiversions.client_software_name.len);
    in_span(sp, r->apiversions.client_software_version.ptr, r->apiversions.client_software_version.len);
}

/* ---- Metadata: v0 asks for all topics (empty array), v1-3 for two (auto-create
 * implied), v4 for all topics (null), v5+ for two, no auto-create;
 * v8+ ask for topic authorized operations (v8-10 cluster ones too), v10+ send
 * ids (v12: the second by id, name null), v9+ flexible with a tagged field ---- */
static const uint8_t md_id[16] = { 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xee };
static void md_name(struct kbuf *b, int16_t v, const char *name)
{
    if (v >= 9) kb_compact_nstring(b, name ? kstr_c(name) : KSTR_NULL);
    else b_str(b, name);
}
static void build_metadata(struct kbuf *b, int16_t v)
{
    if (v == 0) {
        kb_array_len(b, 0);
        return;
    }
    if (v == 4) {
        kb_array_len(b, -1);
        kb_bool(b, true);
        return;
    }
    if (v >= 9) kb_uvarint(b, 3);
    else kb_array_len(b, 2);
    if (v >= 10) kb_raw(b, (uint8_t[16]){ 0 }, 16);
    md_name(b, v, "orders");
    if (v >= 9) kb_tags_empty(b);
    if (v >= 10) kb_raw(b, md_id, 16);
    md_name(b, v, v >= 12 ? NULL : "logs");
    if (v >= 9) kb_uvarint(b, 1), kb_uvarint(b, 7), kb_uvarint(b, 2), kb_i16(b, 0x55aa); /* an unknown tag */
    if (v >= 4) kb_bool(b, false);
    if (v >= 8 && v <= 10) kb_bool(b, true);
    if (v >= 8) kb_bool(b, v % 2 == 0);
    if (v >= 9) kb_tags_empty(b);
}
static enum weir_err dec_metadata(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_metadata_decode(rd, v, a, &r->metadata);
}
static void check_metadata(const union any_req *r, int16_t v)
{
    const struct kmetadata_req *m = &r->metadata;
    bool all = v == 0 || v == 4;
    assert_int_equal(m->all_topics, all);
    assert_int_equal(m->allow_auto_topic_creation, v <= 4);
    assert_int_equal(m->n_topics, all ? 0 : 2);
    assert_int_equal(m->include_cluster_authorized_operations, v >= 8 && v <= 10);
    assert_int_equal(m->include_topic_authorized_operations, v >= 8 && v % 2 == 0);
    if (all) return;
    assert_kstr(m->topics[0], "orders");
    assert_kstr(m->topics[1], v >= 12 ? NULL : "logs");
    if (v < 10) {
        assert_null(m->topic_ids);
        return;
    }
    assert_true(weir_uuid_is_zero(&m->topic_ids[0]));
    assert_memory_equal(m->topic_ids[1].b, md_id, 16);
}
static void walk_metadata(const union any_req *r, const struct span *sp)
{
    for (int32_t i = 0; i < r->metadata.n_topics; i++) in_span(sp, r->metadata.topics[i].ptr, r->metadata.topics[i].len);
}

/* ---- Produce: two topics, records / null / empty; v9 flexible ---- */
static void b_records(struct kbuf *b, bool flex, struct kbytes r)
{
    if (flex) kb_compact_nbytes(b, r);
    else kb_nbytes(b, r);
}
static void build_produce(struct kbuf *b, int16_t v)
{
    bool flex = v >= 9;
    uint8_t batch[70];
    for (size_t i = 0; i < sizeof batch; i++) batch[i] = (uint8_t)(i * 7);
    if (v >= 3) kb_nstr(b, flex, ks(v >= 7 ? "txn-1" : NULL)); /* v3+ */
    kb_i16(b, -1);
    kb_i32(b, 30000);
    kb_arr(b, flex, 2);
    kb_str(b, flex, kstr_c("orders"));
    kb_arr(b, flex, 2);
    kb_i32(b, 0);
    b_records(b, flex, (struct kbytes){ batch, sizeof batch });
    kb_tags(b, flex);
    kb_i32(b, 1);
    b_records(b, flex, (struct kbytes){ NULL, -1 });
    kb_tags(b, flex);
    kb_tags(b, flex);
    kb_str(b, flex, kstr_c("logs"));
    kb_arr(b, flex, 1);
    kb_i32(b, 3);
    b_records(b, flex, (struct kbytes){ NULL, 0 });
    kb_tags(b, flex);
    kb_tags(b, flex);
    kb_tags(b, flex);
}
static enum weir_err dec_produce(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_produce_decode(rd, v, a, &r->produce);
}
static void check_produce(const union any_req *r, int16_t v)
{
    const struct kproduce_req *p = &r->produce;
    assert_kstr(p->transactional_id, v >= 7 ? "txn-1" : NULL);
    assert_int_equal(p->acks, -1);
    assert_int_equal(p->timeout_ms, 30000);
    assert_int_equal(p->n_topics, 2);
    assert_kstr(p->topics[0].name, "orders");
    assert_int_equal(p->topics[0].n_partitions, 2);
    assert_int_equal(p->topics[0].partitions[0].index, 0);
    assert_int_equal(p->topics[0].partitions[0].records_len, 70);
    for (int i = 0; i < 70; i++) assert_int_equal(p->topics[0].partitions[0].records[i], (uint8_t)(i * 7));
    p->topics[0].partitions[0].records[0] = 0x5a; /* writable in place */
    assert_int_equal(p->topics[0].partitions[1].index, 1);
    assert_int_equal(p->topics[0].partitions[1].records_len, -1);
    assert_null(p->topics[0].partitions[1].records);
    assert_kstr(p->topics[1].name, "logs");
    assert_int_equal(p->topics[1].n_partitions, 1);
    assert_int_equal(p->topics[1].partitions[0].index, 3);
    assert_int_equal(p->topics[1].partitions[0].records_len, 0);
}
static void walk_produce(const union any_req *r, const struct span *sp)
{
    const struct kproduce_req *p = &r->produce;
    in_span(sp, p->transactional_id.ptr, p->transactional_id.len);
    for (int32_t i = 0; i < p->n_topics; i++) {
        in_span(sp, p->topics[i].name.ptr, p->topics[i].name.len);
        for (int32_t j = 0; j < p->topics[i].n_partitions; j++)
            in_span(sp, p->topics[i].partitions[j].records, p->topics[i].partitions[j].records_len);
    }
}

/* ---- Fetch: one topic of two partitions; v11 adds everything, v12
 * flexible with last_fetched_epoch, v13 by topic id ---- */
static void build_fetch(struct kbuf *b, int16_t v)
{
    bool flex = v >= 12;
    kb_i32(b, -1);                   /* replica_id */
    kb_i32(b, 500);                  /* max_wait_ms */
    kb_i32(b, 1);                    /* min_bytes */
    if (v >= 3) kb_i32(b, 52428800); /* max_bytes */
    if (v >= 4) kb_i8(b, 1);         /* isolation_level */
    if (v >= 7) kb_i32(b, 0), kb_i32(b, -1);
    kb_arr(b, flex, 1);
    if (v >= 13) kb_raw(b, md_id, 16);
    else kb_str(b, flex, kstr_c("orders"));
    kb_arr(b, flex, 2);
    for (int32_t p = 0; p < 2; p++) {
        kb_i32(b, p);
        if (v >= 9) kb_i32(b, 5);
        kb_i64(b, 42 + p);
        if (v >= 12) kb_i32(b, 3 + p);
        if (v >= 5) kb_i64(b, -1);
        kb_i32(b, 1048576);
        kb_tags(b, flex);
    }
    kb_tags(b, flex);
    if (v >= 7) {
        kb_arr(b, flex, 1);
        if (v >= 13) kb_raw(b, md_id, 16);
        else kb_str(b, flex, kstr_c("old"));
        int32_t parts[] = { 3, 4 };
        kb_i32_array(b, flex, parts, 2);
        kb_tags(b, flex);
    }
    if (v >= 11) kb_str(b, flex, kstr_c("rack-a"));
    kb_tags(b, flex);
}
static enum weir_err dec_fetch(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_fetch_decode(rd, v, a, &r->fetch);
}
static void check_fetch(const union any_req *r, int16_t v)
{
    const struct kfetch_req *f = &r->fetch;
    assert_int_equal(f->replica_id, -1);
    assert_int_equal(f->max_wait_ms, 500);
    assert_int_equal(f->min_bytes, 1);
    assert_int_equal(f->max_bytes, v >= 3 ? 52428800 : INT32_MAX);
    assert_int_equal(f->isolation_level, v >= 4 ? 1 : 0);
    assert_int_equal(f->session_id, 0);
    assert_int_equal(f->session_epoch, -1);
    assert_int_equal(f->n_topics, 1);
    assert_kstr(f->topics[0].topic, v >= 13 ? "" : "orders");
    if (v >= 13) assert_memory_equal(f->topics[0].topic_id.b, md_id, 16);
    else assert_true(weir_uuid_is_zero(&f->topics[0].topic_id));
    assert_int_equal(f->topics[0].n_partitions, 2);
    for (int32_t p = 0; p < 2; p++) {
        const struct kfetch_req_part *fp = &f->topics[0].partitions[p];
        assert_int_equal(fp->partition, p);
        assert_int_equal(fp->current_leader_epoch, v >= 9 ? 5 : -1);
        assert_int_equal(fp->fetch_offset, 42 + p);
        assert_int_equal(fp->last_fetched_epoch, v >= 12 ? 3 + p : -1);
        assert_int_equal(fp->log_start_offset, -1);
        assert_int_equal(fp->partition_max_bytes, 1048576);
    }
    assert_int_equal(f->n_forgotten, v >= 7 ? 1 : 0);
    if (v >= 7) {
        assert_kstr(f->forgotten[0].topic, v >= 13 ? "" : "old");
        if (v >= 13) assert_memory_equal(f->forgotten[0].topic_id.b, md_id, 16);
        assert_int_equal(f->forgotten[0].n_partitions, 2);
        assert_int_equal(f->forgotten[0].partitions[1], 4);
    }
    assert_kstr(f->rack_id, v >= 11 ? "rack-a" : "");
}
static void walk_fetch(const union any_req *r, const struct span *sp)
{
    const struct kfetch_req *f = &r->fetch;
    for (int32_t i = 0; i < f->n_topics; i++) {
        in_span(sp, f->topics[i].topic.ptr, f->topics[i].topic.len);
        touch(f->topics[i].partitions, (size_t)f->topics[i].n_partitions * sizeof *f->topics[i].partitions);
    }
    for (int32_t i = 0; i < f->n_forgotten; i++) {
        in_span(sp, f->forgotten[i].topic.ptr, f->forgotten[i].topic.len);
        touch(f->forgotten[i].partitions, (size_t)f->forgotten[i].n_partitions * sizeof(int32_t));
    }
    in_span(sp, f->rack_id.ptr, f->rack_id.len);
}

/* ---- ListOffsets: latest, earliest and a timestamp (v7: max timestamp, v8:
 * earliest local); v0 with max_num_offsets, v2+ isolation level, v4+ with
 * current leader epochs, v6+ flexible ---- */
static void lo_arr(struct kbuf *b, int16_t v, int32_t n)
{
    if (v >= 6) kb_uvarint(b, (uint64_t)n + 1);
    else kb_array_len(b, n);
}
static void lo_part(struct kbuf *b, int16_t v, int32_t index, int32_t epoch, int64_t ts)
{
    kb_i32(b, index);
    if (v >= 4) kb_i32(b, epoch);
    kb_i64(b, ts);
    if (v == 0) kb_i32(b, index + 3); /* max_num_offsets */
    if (v >= 6) kb_tags_empty(b);
}
static void build_listoffsets(struct kbuf *b, int16_t v)
{
    kb_i32(b, -1);
    if (v >= 2) kb_i8(b, v == 3 ? 1 : 0);
    lo_arr(b, v, 2);
    if (v >= 6) kb_compact_string(b, kstr_c("orders"));
    else b_str(b, "orders");
    lo_arr(b, v, 2);
    lo_part(b, v, 0, 5, -1);
    lo_part(b, v, 1, -1, -2);
    if (v >= 6) kb_tags_empty(b);
    if (v >= 6) kb_compact_string(b, kstr_c("ts"));
    else b_str(b, "ts");
    lo_arr(b, v, 1);
    lo_part(b, v, 0, 2147483647, v >= 8 ? -4 : v >= 7 ? -3 : 1700000000000);
    if (v >= 6) kb_uvarint(b, 1), kb_uvarint(b, 0), kb_uvarint(b, 0); /* an unknown, empty tag */
    if (v >= 6) kb_tags_empty(b);
}
static enum weir_err dec_listoffsets(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_listoffsets_decode(rd, v, a, &r->listoffsets);
}
static void check_listoffsets(const union any_req *r, int16_t v)
{
    const struct klistoffsets_req *l = &r->listoffsets;
    assert_int_equal(l->replica_id, -1);
    assert_int_equal(l->isolation_level, v == 3 ? 1 : 0);
    assert_int_equal(l->n_topics, 2);
    assert_kstr(l->topics[0].name, "orders");
    assert_int_equal(l->topics[0].n_partitions, 2);
    assert_int_equal(l->topics[0].partitions[0].timestamp, -1);
    assert_int_equal(l->topics[0].partitions[0].current_leader_epoch, v >= 4 ? 5 : -1);
    assert_int_equal(l->topics[0].partitions[1].partition_index, 1);
    assert_int_equal(l->topics[0].partitions[1].timestamp, -2);
    assert_int_equal(l->topics[0].partitions[1].current_leader_epoch, -1);
    assert_kstr(l->topics[1].name, "ts");
    assert_int_equal(l->topics[1].partitions[0].timestamp, v >= 8 ? -4 : v >= 7 ? -3 : 1700000000000);
    for (int32_t p = 0; p < 2; p++)
        assert_int_equal(l->topics[0].partitions[p].max_num_offsets, v == 0 ? p + 3 : 1);
    assert_int_equal(l->topics[1].partitions[0].current_leader_epoch, v >= 4 ? 2147483647 : -1);
}
static void walk_listoffsets(const union any_req *r, const struct span *sp)
{
    for (int32_t i = 0; i < r->listoffsets.n_topics; i++) {
        in_span(sp, r->listoffsets.topics[i].name.ptr, r->listoffsets.topics[i].name.len);
        touch(r->listoffsets.topics[i].partitions,
              (size_t)r->listoffsets.topics[i].n_partitions * sizeof *r->listoffsets.topics[i].partitions);
    }
}

/* ---- CreateTopics: counts + configs (v0-3, v5, v7), defaults (-1) + assignments
 * (v4, v6); validate_only at even versions from v2; v5+ flexible ---- */
static bool ct_counts(int16_t v) { return v != 4 && v != 6; }
static void build_createtopics(struct kbuf *b, int16_t v)
{
    bool flex = v >= 5, counts = ct_counts(v);
    kb_arr(b, flex, 2);
    kb_str(b, flex, kstr_c("t1"));
    kb_i32(b, counts ? 3 : -1);
    kb_i16(b, counts ? 1 : -1);
    if (counts) {
        kb_arr(b, flex, 0);
        kb_arr(b, flex, 2);
        kb_str(b, flex, kstr_c("retention.ms")), kb_nstr(b, flex, kstr_c("86400000")), kb_tags(b, flex);
        kb_str(b, flex, kstr_c("cleanup.policy")), kb_nstr(b, flex, KSTR_NULL), kb_tags(b, flex);
    } else {
        int32_t brokers[] = { 1 };
        kb_arr(b, flex, 2);
        kb_i32(b, 0), kb_i32_array(b, flex, brokers, 1), kb_tags(b, flex);
        kb_i32(b, 1), kb_i32_array(b, flex, brokers, 1), kb_tags(b, flex);
        kb_arr(b, flex, 0);
    }
    kb_tags(b, flex);
    kb_str(b, flex, kstr_c("t2"));
    kb_i32(b, 1);
    kb_i16(b, 1);
    kb_arr(b, flex, 0);
    kb_arr(b, flex, 0);
    kb_tags(b, flex);
    kb_i32(b, 60000);
    if (v >= 1) kb_bool(b, v % 2 == 0);
    kb_tags(b, flex);
}
static enum weir_err dec_createtopics(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_createtopics_decode(rd, v, a, &r->createtopics);
}
static void check_createtopics(const union any_req *r, int16_t v)
{
    const struct kcreatetopics_req *c = &r->createtopics;
    bool counts = ct_counts(v);
    assert_int_equal(c->n_topics, 2);
    const struct kcreatetopics_req_topic *t = &c->topics[0];
    assert_kstr(t->name, "t1");
    assert_int_equal(t->num_partitions, counts ? 3 : -1);
    assert_int_equal(t->replication_factor, counts ? 1 : -1);
    assert_int_equal(t->n_assignments, counts ? 0 : 2);
    assert_int_equal(t->n_configs, counts ? 2 : 0);
    if (counts) {
        assert_kstr(t->configs[0].name, "retention.ms");
        assert_kstr(t->configs[0].value, "86400000");
        assert_kstr(t->configs[1].name, "cleanup.policy");
        assert_kstr(t->configs[1].value, NULL);
    } else {
        assert_int_equal(t->assignments[1].partition_index, 1);
        assert_int_equal(t->assignments[1].n_broker_ids, 1);
        assert_int_equal(t->assignments[1].broker_ids[0], 1);
    }
    assert_kstr(c->topics[1].name, "t2");
    assert_int_equal(c->topics[1].num_partitions, 1);
    assert_int_equal(c->timeout_ms, 60000);
    assert_int_equal(c->validate_only, v >= 1 && v % 2 == 0);
}
static void walk_createtopics(const union any_req *r, const struct span *sp)
{
    const struct kcreatetopics_req *c = &r->createtopics;
    for (int32_t i = 0; i < c->n_topics; i++) {
        const struct kcreatetopics_req_topic *t = &c->topics[i];
        in_span(sp, t->name.ptr, t->name.len);
        for (int32_t j = 0; j < t->n_assignments; j++)
            touch(t->assignments[j].broker_ids, (size_t)t->assignments[j].n_broker_ids * sizeof(int32_t));
        for (int32_t j = 0; j < t->n_configs; j++) {
            in_span(sp, t->configs[j].name.ptr, t->configs[j].name.len);
            in_span(sp, t->configs[j].value.ptr, t->configs[j].value.len);
        }
    }
}

/* ---- DeleteTopics: names (v0-5; v4+ flexible), v6 one by name and one by id ---- */
static const uint8_t dt_id[16] = { 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 1, 2, 3, 4, 5, 6, 7, 8 };
static void build_deletetopics(struct kbuf *b, int16_t v)
{
    bool flex = v >= 4;
    kb_arr(b, flex, 2);
    if (v >= 6) {
        kb_nstr(b, flex, kstr_c("t1")), kb_raw(b, (uint8_t[16]){ 0 }, 16), kb_tags(b, flex);
        kb_nstr(b, flex, KSTR_NULL), kb_raw(b, dt_id, 16), kb_tags(b, flex);
    } else {
        kb_str(b, flex, kstr_c("t1"));
        kb_str(b, flex, kstr_c(v == 0 ? "t2" : "topic-two"));
    }
    kb_i32(b, 30000);
    kb_tags(b, flex);
}
static enum weir_err dec_deletetopics(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_deletetopics_decode(rd, v, a, &r->deletetopics);
}
static void check_deletetopics(const union any_req *r, int16_t v)
{
    assert_int_equal(r->deletetopics.n_topic_names, 2);
    assert_kstr(r->deletetopics.topic_names[0], "t1");
    assert_kstr(r->deletetopics.topic_names[1], v >= 6 ? NULL : v == 0 ? "t2" : "topic-two");
    assert_int_equal(r->deletetopics.timeout_ms, 30000);
    if (v < 6) {
        assert_null(r->deletetopics.topic_ids);
        return;
    }
    assert_true(weir_uuid_is_zero(&r->deletetopics.topic_ids[0]));
    assert_memory_equal(r->deletetopics.topic_ids[1].b, dt_id, 16);
}
static void walk_deletetopics(const union any_req *r, const struct span *sp)
{
    for (int32_t i = 0; i < r->deletetopics.n_topic_names; i++)
        in_span(sp, r->deletetopics.topic_names[i].ptr, r->deletetopics.topic_names[i].len);
}

/* ---- DeleteRecords: v2 flexible, with an unknown tag on a partition ---- */
static void build_deleterecords(struct kbuf *b, int16_t v)
{
    bool flex = v >= 2;
    kb_arr(b, flex, 2);
    kb_str(b, flex, kstr_c("orders"));
    kb_arr(b, flex, 2);
    kb_i32(b, 0), kb_i64(b, 42);
    if (flex) kb_uvarint(b, 1), kb_uvarint(b, 7), kb_uvarint(b, 0); /* an unknown, empty tag */
    kb_i32(b, 3), kb_i64(b, KPROTO_DELETE_RECORDS_HW);
    kb_tags(b, flex);
    kb_tags(b, flex);
    kb_str(b, flex, kstr_c("t2"));
    kb_arr(b, flex, 0);
    kb_tags(b, flex);
    kb_i32(b, 30000);
    kb_tags(b, flex);
}
static enum weir_err dec_deleterecords(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_deleterecords_decode(rd, v, a, &r->deleterecords);
}
static void check_deleterecords(const union any_req *r, int16_t v)
{
    (void)v;
    const struct kdeleterecords_req *d = &r->deleterecords;
    assert_int_equal(d->n_topics, 2);
    assert_kstr(d->topics[0].name, "orders");
    assert_int_equal(d->topics[0].n_partitions, 2);
    assert_int_equal(d->topics[0].partitions[0].partition_index, 0);
    assert_int_equal(d->topics[0].partitions[0].offset, 42);
    assert_int_equal(d->topics[0].partitions[1].partition_index, 3);
    assert_int_equal(d->topics[0].partitions[1].offset, -1);
    assert_kstr(d->topics[1].name, "t2");
    assert_int_equal(d->topics[1].n_partitions, 0);
    assert_int_equal(d->timeout_ms, 30000);
}
static void walk_deleterecords(const union any_req *r, const struct span *sp)
{
    for (int32_t i = 0; i < r->deleterecords.n_topics; i++)
        in_span(sp, r->deleterecords.topics[i].name.ptr, r->deleterecords.topics[i].name.len);
}

/* ---- CreatePartitions: null assignments at even versions, explicit at odd; v2+ flexible ---- */
static void build_createpartitions(struct kbuf *b, int16_t v)
{
    bool flex = v >= 2, none = v % 2 == 0;
    kb_arr(b, flex, 1);
    kb_str(b, flex, kstr_c("orders"));
    kb_i32(b, none ? 6 : 4);
    if (none) {
        kb_arr(b, flex, -1);
    } else {
        int32_t brokers[] = { 1 };
        kb_arr(b, flex, 2);
        kb_i32_array(b, flex, brokers, 1), kb_tags(b, flex);
        kb_i32_array(b, flex, brokers, 1), kb_tags(b, flex);
    }
    kb_tags(b, flex);
    kb_i32(b, none ? 30000 : 1000);
    kb_bool(b, !none);
    kb_tags(b, flex);
}
static enum weir_err dec_createpartitions(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_createpartitions_decode(rd, v, a, &r->createpartitions);
}
static void check_createpartitions(const union any_req *r, int16_t v)
{
    const struct kcreatepartitions_req *c = &r->createpartitions;
    bool none = v % 2 == 0;
    assert_int_equal(c->n_topics, 1);
    assert_kstr(c->topics[0].name, "orders");
    assert_int_equal(c->topics[0].count, none ? 6 : 4);
    assert_int_equal(c->topics[0].n_assignments, none ? -1 : 2);
    if (!none) assert_int_equal(c->topics[0].assignments[1].broker_ids[0], 1);
    assert_int_equal(c->timeout_ms, none ? 30000 : 1000);
    assert_int_equal(c->validate_only, !none);
}
static void walk_createpartitions(const union any_req *r, const struct span *sp)
{
    const struct kcreatepartitions_req *c = &r->createpartitions;
    for (int32_t i = 0; i < c->n_topics; i++) {
        in_span(sp, c->topics[i].name.ptr, c->topics[i].name.len);
        for (int32_t j = 0; j < c->topics[i].n_assignments; j++)
            touch(c->topics[i].assignments[j].broker_ids,
                  (size_t)c->topics[i].assignments[j].n_broker_ids * sizeof(int32_t));
    }
}

/* ---- DescribeConfigs: a topic (all keys) and a broker (two keys); synonyms
 * asked at v2, documentation at v3; v4 flexible ---- */
static void build_describeconfigs(struct kbuf *b, int16_t v)
{
    bool flex = v >= 4;
    kb_arr(b, flex, 2);
    kb_i8(b, KRESOURCE_TOPIC);
    kb_str(b, flex, kstr_c("orders"));
    kb_arr(b, flex, -1);
    kb_tags(b, flex);
    kb_i8(b, KRESOURCE_BROKER);
    kb_str(b, flex, kstr_c("1"));
    kb_arr(b, flex, 2);
    kb_str(b, flex, kstr_c("log.retention.ms"));
    kb_str(b, flex, kstr_c("num.partitions"));
    kb_tags(b, flex);
    if (v >= 1) kb_bool(b, v == 2);
    if (v >= 3) kb_bool(b, v == 3);
    kb_tags(b, flex);
}
static enum weir_err dec_describeconfigs(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_describeconfigs_decode(rd, v, a, &r->describeconfigs);
}
static void check_describeconfigs(const union any_req *r, int16_t v)
{
    const struct kdescribeconfigs_req *d = &r->describeconfigs;
    assert_int_equal(d->n_resources, 2);
    assert_int_equal(d->resources[0].resource_type, KRESOURCE_TOPIC);
    assert_kstr(d->resources[0].resource_name, "orders");
    assert_int_equal(d->resources[0].n_config_keys, -1);
    assert_null(d->resources[0].config_keys);
    assert_int_equal(d->resources[1].resource_type, KRESOURCE_BROKER);
    assert_int_equal(d->resources[1].n_config_keys, 2);
    assert_kstr(d->resources[1].config_keys[1], "num.partitions");
    assert_int_equal(d->include_synonyms, v == 2);
    assert_int_equal(d->include_documentation, v == 3);
}
static void walk_describeconfigs(const union any_req *r, const struct span *sp)
{
    const struct kdescribeconfigs_req *d = &r->describeconfigs;
    for (int32_t i = 0; i < d->n_resources; i++) {
        in_span(sp, d->resources[i].resource_name.ptr, d->resources[i].resource_name.len);
        for (int32_t j = 0; j < d->resources[i].n_config_keys; j++)
            in_span(sp, d->resources[i].config_keys[j].ptr, d->resources[i].config_keys[j].len);
    }
}

/* ---- InitProducerId: idempotent (null id) at v0 and v2-3, transactional at v1
 * and v4; v2+ flexible; v3 asks to bump producer 1234 epoch 5, v4 none ---- */
static bool ip_txn(int16_t v) { return v == 1 || v == 4; }
static void build_initproducerid(struct kbuf *b, int16_t v)
{
    bool flex = v >= 2;
    kb_nstr(b, flex, ip_txn(v) ? kstr_c("tx-1") : KSTR_NULL);
    kb_i32(b, ip_txn(v) ? 60000 : -1);
    if (v >= 3) kb_i64(b, v == 3 ? 1234 : -1), kb_i16(b, v == 3 ? 5 : -1);
    kb_tags(b, flex);
}
static enum weir_err dec_initproducerid(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_initproducerid_decode(rd, v, a, &r->initproducerid);
}
static void check_initproducerid(const union any_req *r, int16_t v)
{
    assert_kstr(r->initproducerid.transactional_id, ip_txn(v) ? "tx-1" : NULL);
    assert_int_equal(r->initproducerid.transaction_timeout_ms, ip_txn(v) ? 60000 : -1);
    assert_int_equal(r->initproducerid.producer_id, v == 3 ? 1234 : -1);
    assert_int_equal(r->initproducerid.producer_epoch, v == 3 ? 5 : -1);
}
static void walk_initproducerid(const union any_req *r, const struct span *sp)
{
    in_span(sp, r->initproducerid.transactional_id.ptr, r->initproducerid.transactional_id.len);
}

/* ---- FindCoordinator: group at v0, transaction at v2 ---- */
static void build_findcoordinator(struct kbuf *b, int16_t v)
{
    bool f = kproto_request_flexible(KAPI_FIND_COORDINATOR, v);
    if (v < 4) kb_str(b, f, kstr_c(v == 0 ? "group-1" : "tx-1"));
    if (v >= 1) kb_i8(b, 1);
    if (v >= 4) kb_arr(b, f, 1), kb_str(b, f, kstr_c("tx-1"));
    kb_tags(b, f);
}
static enum weir_err dec_findcoordinator(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_findcoordinator_decode(rd, v, a, &r->findcoordinator);
}
static void check_findcoordinator(const union any_req *r, int16_t v)
{
    assert_kstr(r->findcoordinator.key, v == 0 ? "group-1" : "tx-1");
    assert_int_equal(r->findcoordinator.key_type, v == 0 ? 0 : 1);
}
static void walk_findcoordinator(const union any_req *r, const struct span *sp)
{
    in_span(sp, r->findcoordinator.key.ptr, r->findcoordinator.key.len);
}

/* ---- OffsetForLeaderEpoch: a follower's two partitions; v4 is flexible ---- */
static void build_offsetforleaderepoch(struct kbuf *b, int16_t v)
{
    bool flex = v >= 4;
    if (v >= 3) kb_i32(b, 2); /* replica_id */
    kb_arr(b, flex, 1);
    kb_str(b, flex, kstr_c("orders"));
    kb_arr(b, flex, 2);
    for (int32_t p = 0; p < 2; p++) {
        kb_i32(b, p);
        if (v >= 2) kb_i32(b, 7); /* current_leader_epoch */
        kb_i32(b, 5 - p);         /* leader_epoch */
        kb_tags(b, flex);
    }
    kb_tags(b, flex);
    kb_tags(b, flex);
}
static enum weir_err dec_offsetforleaderepoch(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_offsetforleaderepoch_decode(rd, v, a, &r->offsetforleaderepoch);
}
static void check_offsetforleaderepoch(const union any_req *r, int16_t v)
{
    const struct koffsetforleaderepoch_req *o = &r->offsetforleaderepoch;
    assert_int_equal(o->replica_id, v >= 3 ? 2 : -2);
    assert_int_equal(o->n_topics, 1);
    assert_kstr(o->topics[0].topic, "orders");
    assert_int_equal(o->topics[0].n_partitions, 2);
    for (int32_t p = 0; p < 2; p++) {
        assert_int_equal(o->topics[0].partitions[p].partition, p);
        assert_int_equal(o->topics[0].partitions[p].current_leader_epoch, v >= 2 ? 7 : -1);
        assert_int_equal(o->topics[0].partitions[p].leader_epoch, 5 - p);
    }
}
static void walk_offsetforleaderepoch(const union any_req *r, const struct span *sp)
{
    const struct koffsetforleaderepoch_req *o = &r->offsetforleaderepoch;
    for (int32_t i = 0; i < o->n_topics; i++) {
        in_span(sp, o->topics[i].topic.ptr, o->topics[i].topic.len);
        touch(o->topics[i].partitions, (size_t)o->topics[i].n_partitions * sizeof *o->topics[i].partitions);
    }
}

struct api_case {
    const char *name;
    int16_t key;
    void (*build)(struct kbuf *b, int16_t version);
    enum weir_err (*decode)(struct weir_rd *rd, int16_t version, struct weir_arena *a, union any_req *req);
    void (*check)(const union any_req *req, int16_t version);
    void (*walk)(const union any_req *req, const struct span *sp);
};
#define API_CASE(n, k) { #n, k, build_##n, dec_##n, check_##n, walk_##n }
static const struct api_case api_cases[] = {
    API_CASE(apiversions, KAPI_API_VERSIONS),       API_CASE(metadata, KAPI_METADATA),
    API_CASE(produce, KAPI_PRODUCE),                API_CASE(fetch, KAPI_FETCH),
    API_CASE(listoffsets, KAPI_LIST_OFFSETS),       API_CASE(createtopics, KAPI_CREATE_TOPICS),
    API_CASE(deletetopics, KAPI_DELETE_TOPICS),     API_CASE(createpartitions, KAPI_CREATE_PARTITIONS),
    API_CASE(describeconfigs, KAPI_DESCRIBE_CONFIGS), API_CASE(initproducerid, KAPI_INIT_PRODUCER_ID),
    API_CASE(findcoordinator, KAPI_FIND_COORDINATOR), API_CASE(offsetforleaderepoch, KAPI_OFFSET_FOR_LEADER_EPOCH),
    API_CASE(deleterecords, KAPI_DELETE_RECORDS),
};

/* The body of api_cases[i] at version v, as an exact-size heap copy. */
static uint8_t *case_body(const struct api_case *c, int16_t v, size_t *n)
{
    struct kbuf b;
    kbuf_init(&b, 0);
    c->build(&b, v);
    assert_int_equal(b.err, WEIR_OK);
    *n = b.mem_len;
    uint8_t *p = dup_exact(b.mem, b.mem_len);
    kbuf_free(&b);
    return p;
}

/* DeleteRecords round trip at v0-v2: the client's request encoder to the
 * broker's decoder, the broker's response encoder (bytes checked at v1 and
 * v2) to the client's decoder. */
static void test_deleterecords_round_trip(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kdeleterecords_req_part rp[] = { { 0, 10 }, { 1, KPROTO_DELETE_RECORDS_HW } };
    struct kdeleterecords_req_topic rt = { kstr_c("t"), rp, 2 };
    struct kdeleterecords_req req = { &rt, 1, 5000 };
    struct kdeleterecords_resp_part sp[] = { { 0, 10, 0 }, { 1, KPROTO_INVALID_LOW_WATERMARK, 1 } };
    struct kdeleterecords_resp_topic st = { kstr_c("t"), sp, 2 };
    struct kdeleterecords_resp resp = { 7, &st, 1 };
    static const uint8_t v1[] = { 0, 0, 0, 7, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0,
                                  0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1 };
    static const uint8_t v2[] = { 0, 0, 0, 7, 2, 2, 't', 3,
                                  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0,
                                  0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0 };
    for (int16_t v = 0; v <= 2; v++) {
        struct kbuf b;
        kbuf_init(&b, 0);
        kproto_deleterecords_request_encode(&b, v, &req);
        assert_int_equal(b.err, WEIR_OK);
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        struct kdeleterecords_req got;
        weir_arena_reset(&a);
        assert_int_equal(kproto_deleterecords_decode(&rd, v, &a, &got), WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        assert_int_equal(got.n_topics, 1);
        assert_kstr(got.topics[0].name, "t");
        assert_int_equal(got.topics[0].n_partitions, 2);
        assert_int_equal(got.topics[0].partitions[1].offset, KPROTO_DELETE_RECORDS_HW);
        assert_int_equal(got.timeout_ms, 5000);
        kbuf_free(&b);
        kbuf_init(&b, 0);
        kproto_deleterecords_encode(&b, v, &resp);
        assert_int_equal(b.err, WEIR_OK);
        if (v == 1) assert_bytes(b.mem, b.mem_len, v1, sizeof v1);
        if (v == 2) assert_bytes(b.mem, b.mem_len, v2, sizeof v2);
        rd = weir_rd_make(b.mem, b.mem_len);
        struct kdeleterecords_resp back;
        assert_int_equal(kproto_deleterecords_response_decode(&rd, v, &a, &back), WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        assert_int_equal(back.throttle_time_ms, 7);
        assert_int_equal(back.n_topics, 1);
        assert_int_equal(back.topics[0].n_partitions, 2);
        assert_int_equal(back.topics[0].partitions[0].low_watermark, 10);
        assert_int_equal(back.topics[0].partitions[1].low_watermark, -1);
        assert_int_equal(back.topics[0].partitions[1].error_code, 1);
        kbuf_free(&b);
    }
    weir_arena_destroy(&a);
}

static void test_requests_decode(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++) {
            print_message("%s v%d\n", c->name, v);
            size_t n;
            uint8_t *body = case_body(c, v, &n);
            struct weir_rd rd = weir_rd_make(body, n);
            union any_req req;
            weir_arena_reset(&a);
            assert_int_equal(c->decode(&rd, v, &a, &req), WEIR_OK);
            assert_int_equal(weir_rd_left(&rd), 0); /* every byte consumed */
            c->check(&req, v);
            struct span sp = { body, body + n };
            c->walk(&req, &sp);
            /* Outside the supported range: refused without reading. */
            if (c->key != KAPI_API_VERSIONS) {
                rd = weir_rd_make(body, n);
                assert_int_equal(c->decode(&rd, (int16_t)(api->max + 1), &a, &req), WEIR_E_UNSUPPORTED);
                assert_int_equal(c->decode(&rd, (int16_t)(api->min - 1), &a, &req), WEIR_E_UNSUPPORTED);
            }
            free(body);
        }
    }
    weir_arena_destroy(&a);
}

/* Every strict prefix of every valid body is a clean WEIR_E_TRUNCATED. */
static void test_requests_truncated(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    size_t total = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++) {
            size_t n;
            uint8_t *body = case_body(c, v, &n);
            for (size_t len = 0; len < n; len++) {
                uint8_t *p = dup_exact(body, len);
                struct weir_rd rd = weir_rd_make(p, len);
                union any_req req;
                weir_arena_reset(&a);
                enum weir_err err = c->decode(&rd, v, &a, &req);
                if (err != WEIR_E_TRUNCATED) print_message("%s v%d len %zu/%zu: %s\n", c->name, v, len, n, weir_err_str(err));
                assert_int_equal(err, WEIR_E_TRUNCATED);
                free(p);
                total++;
            }
            free(body);
        }
    }
    print_message("%zu truncations\n", total);
    weir_arena_destroy(&a);
}

/* A valid request with an arena too small for it: WEIR_E_NOMEM, no crash. */
static void test_requests_arena_full(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        size_t n;
        uint8_t *body = case_body(c, api->max, &n);
        for (size_t cap = 0; cap <= 256; cap += 16) {
            struct weir_arena a;
            assert_int_equal(weir_arena_init(&a, cap ? cap : 1), WEIR_OK);
            struct weir_rd rd = weir_rd_make(body, n);
            union any_req req;
            enum weir_err err = c->decode(&rd, api->max, &a, &req);
            assert_true(err == WEIR_OK || err == WEIR_E_NOMEM);
            assert_true(a.used <= a.cap);
            weir_arena_destroy(&a);
        }
        free(body);
    }
}

/* ---- counts over their maximum: refused before any allocation ---- */

static void over_produce_topics(struct kbuf *b)
{
    b_nstr(b, NULL), kb_i16(b, 1), kb_i32(b, 1000), kb_array_len(b, KPROTO_TOPICS_MAX + 1);
}
static void over_produce_parts(struct kbuf *b)
{
    b_nstr(b, NULL), kb_i16(b, 1), kb_i32(b, 1000), kb_array_len(b, 1), b_str(b, "t");
    kb_array_len(b, KPROTO_PARTITIONS_MAX + 1);
}
static void over_fetch_topics(struct kbuf *b)
{
    for (int i = 0; i < 4; i++) kb_i32(b, 0);
    kb_i8(b, 0), kb_i32(b, 0), kb_i32(b, -1), kb_array_len(b, KPROTO_TOPICS_MAX + 1);
}
static void over_fetch_forgotten_parts(struct kbuf *b)
{
    for (int i = 0; i < 4; i++) kb_i32(b, 0);
    kb_i8(b, 0), kb_i32(b, 0), kb_i32(b, -1), kb_array_len(b, 0);
    kb_array_len(b, 1), b_str(b, "t"), kb_array_len(b, KPROTO_PARTITIONS_MAX + 1);
}
static void over_metadata(struct kbuf *b) { kb_array_len(b, KPROTO_TOPICS_MAX + 1); }
static void neg_metadata(struct kbuf *b) { kb_i32(b, -2), kb_bool(b, true); }
static void null_metadata_v0(struct kbuf *b) { kb_i32(b, -1); } /* not nullable in v0 */
static void lying_metadata(struct kbuf *b) { kb_array_len(b, 5000), b_str(b, "only-one"), kb_bool(b, true); }
static void over_createtopics_brokers(struct kbuf *b)
{
    kb_array_len(b, 1), b_str(b, "t"), kb_i32(b, 1), kb_i16(b, 1), kb_array_len(b, 1), kb_i32(b, 0);
    kb_array_len(b, KPROTO_REPLICAS_MAX + 1);
}
static void over_createtopics_configs(struct kbuf *b)
{
    kb_array_len(b, 1), b_str(b, "t"), kb_i32(b, 1), kb_i16(b, 1), kb_array_len(b, 0);
    kb_array_len(b, KPROTO_CONFIGS_MAX + 1);
}
static void over_deletetopics(struct kbuf *b) { kb_array_len(b, INT32_MAX); }
static void neg_createpartitions(struct kbuf *b)
{
    kb_array_len(b, 1), b_str(b, "t"), kb_i32(b, 2), kb_i32(b, -5);
}
static void over_describeconfigs_keys(struct kbuf *b)
{
    kb_array_len(b, 1), kb_i8(b, 2), b_str(b, "t"), kb_array_len(b, KPROTO_CONFIGS_MAX + 1);
}
static void over_describeconfigs_resources(struct kbuf *b) { kb_array_len(b, KPROTO_RESOURCES_MAX + 1); }
static void neg_listoffsets(struct kbuf *b) { kb_i32(b, -1), kb_i8(b, 0), kb_array_len(b, -1); }
static void over_ofle_parts(struct kbuf *b)
{
    kb_i32(b, 1), kb_array_len(b, 1), b_str(b, "t"), kb_array_len(b, KPROTO_PARTITIONS_MAX + 1);
}
static void neg_ofle_flex(struct kbuf *b) { kb_i32(b, 1), kb_uvarint(b, 0); } /* compact null topics */
/* Tagged fields: a field whose size runs past the frame; a count above the bytes left. */
static void badtag_metadata(struct kbuf *b)
{
    kb_uvarint(b, 2), kb_raw(b, (uint8_t[16]){ 0 }, 16), kb_compact_string(b, kstr_c("t"));
    kb_uvarint(b, 1), kb_uvarint(b, 3), kb_uvarint(b, 0xfffffff); /* one tag, size 2^28 - 1 */
}
static void badtags_listoffsets(struct kbuf *b)
{
    kb_i32(b, -1), kb_i8(b, 0), kb_uvarint(b, 1), kb_uvarint(b, 100000); /* no topics, 100000 tags */
}
static void nulltopic_listoffsets(struct kbuf *b)
{
    kb_i32(b, -1), kb_i8(b, 0), kb_uvarint(b, 2), kb_uvarint(b, 0); /* a null (compact) topic name */
}
static void lying_metadata_v12(struct kbuf *b) { kb_uvarint(b, 5001), kb_raw(b, (uint8_t[16]){ 0 }, 16), kb_uvarint(b, 0); }

static void test_requests_counts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t api; /* index in api_cases */
        int16_t version;
        void (*build)(struct kbuf *b);
        enum weir_err want;
    } cases[] = {
        { "produce topics", 2, 7, over_produce_topics, WEIR_E_TOO_LARGE },
        { "produce partitions", 2, 3, over_produce_parts, WEIR_E_TOO_LARGE },
        { "fetch topics", 3, 11, over_fetch_topics, WEIR_E_TOO_LARGE },
        { "fetch forgotten partitions", 3, 7, over_fetch_forgotten_parts, WEIR_E_TOO_LARGE },
        { "metadata topics", 1, 4, over_metadata, WEIR_E_TOO_LARGE },
        { "metadata -2", 1, 5, neg_metadata, WEIR_E_INVALID },
        { "metadata v0 null topics", 1, 0, null_metadata_v0, WEIR_E_INVALID },
        { "metadata count over bytes", 1, 6, lying_metadata, WEIR_E_TRUNCATED },
        { "createtopics broker ids", 5, 3, over_createtopics_brokers, WEIR_E_TOO_LARGE },
        { "createtopics configs", 5, 4, over_createtopics_configs, WEIR_E_TOO_LARGE },
        { "deletetopics INT32_MAX", 6, 1, over_deletetopics, WEIR_E_TOO_LARGE },
        { "createpartitions assignments -5", 7, 0, neg_createpartitions, WEIR_E_INVALID },
        { "describeconfigs keys", 8, 1, over_describeconfigs_keys, WEIR_E_TOO_LARGE },
        { "describeconfigs resources", 8, 2, over_describeconfigs_resources, WEIR_E_TOO_LARGE },
        { "listoffsets null topics", 4, 2, neg_listoffsets, WEIR_E_INVALID },
        { "offsetforleaderepoch partitions", 11, 3, over_ofle_parts, WEIR_E_TOO_LARGE },
        { "offsetforleaderepoch null topics", 11, 4, neg_ofle_flex, WEIR_E_INVALID },
        { "metadata v10 tag past the end", 1, 10, badtag_metadata, WEIR_E_TRUNCATED },
        { "metadata v12 count over bytes", 1, 12, lying_metadata_v12, WEIR_E_TRUNCATED },
        { "listoffsets v6 tag count over bytes", 4, 6, badtags_listoffsets, WEIR_E_TRUNCATED },
        { "listoffsets v7 null topic name", 4, 7, nulltopic_listoffsets, WEIR_E_INVALID },
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 64 << 20), WEIR_OK); /* big: the limit, not the arena, must refuse */
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("count: %s\n", cases[i].name);
        struct kbuf b;
        kbuf_init(&b, 0);
        cases[i].build(&b);
        /* Plenty of bytes after the count, so only the maximum can refuse it. */
        for (int k = 0; k < 64; k++) kb_i64(&b, 0);
        if (cases[i].want == WEIR_E_TRUNCATED) b.mem_len -= 64 * 8;
        uint8_t *body = dup_exact(b.mem, b.mem_len);
        struct weir_rd rd = weir_rd_make(body, b.mem_len);
        union any_req req;
        weir_arena_reset(&a);
        assert_int_equal(api_cases[cases[i].api].decode(&rd, cases[i].version, &a, &req), cases[i].want);
        assert_true(a.used <= 256); /* at most the enclosing one-element arrays */
        free(body);
        kbuf_free(&b);
    }
    weir_arena_destroy(&a);
}

/* ---- fuzz: random mutations of valid requests through every decoder ---- */


static void fuzz_one(const struct api_case *c, int16_t v, const uint8_t *p, size_t n, struct weir_arena *a)
{
    uint8_t *body = dup_exact(p, n);
    struct weir_rd rd = weir_rd_make(body, n);
    union any_req req;
    weir_arena_reset(a);
    enum weir_err err = c->decode(&rd, v, a, &req);
    assert_true(err == WEIR_OK || err == WEIR_E_TRUNCATED || err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE ||
                err == WEIR_E_NOMEM);
    assert_true(rd.pos >= body && rd.pos <= body + n);
    if (err == WEIR_OK) {
        struct span sp = { body, body + n };
        c->walk(&req, &sp);
    }
    free(body);
}

static void test_requests_fuzz(void **state)
{
    (void)state;
    enum { ITER_PER_BODY = 4000, CAP = 1024 };
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    uint8_t *buf = malloc(CAP);
    assert_non_null(buf);
    size_t iters = 0, ok = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        int16_t versions[] = { api->min, api->max };
        for (int vi = 0; vi < 2; vi++) {
            size_t n0;
            uint8_t *body = case_body(c, versions[vi], &n0);
            assert_true(n0 <= CAP);
            for (int it = 0; it < ITER_PER_BODY; it++, iters++) {
                memcpy(buf, body, n0);
                size_t n = tu_mutate(buf, n0, CAP, &seed);
                fuzz_one(c, versions[vi], buf, n, &a);
                /* The same bytes through another decoder at a random supported version. */
                const struct api_case *o = &api_cases[tu_rand(&seed) % WEIR_ARRAY_LEN(api_cases)];
                const struct kproto_api *oa = kproto_api_find(o->key);
                fuzz_one(o, (int16_t)(oa->min + (int16_t)(tu_rand(&seed) % (uint64_t)(oa->max - oa->min + 1))), buf, n, &a);
                /* And as a frame: header first. */
                uint8_t *f = dup_exact(buf, n);
                struct weir_rd rd = weir_rd_make(f, n);
                struct kreq_header h;
                ok += kproto_header_decode(&rd, &h) == WEIR_OK;
                free(f);
            }
            free(body);
        }
    }
    print_message("%zu fuzz iterations (x3 decodes), %zu headers parsed\n", iters, ok);
    assert_true(iters >= 20000);
    free(buf);
    weir_arena_destroy(&a);
}

/* ======================================================================== */
/* Responses at every supported version                                      */
/* ======================================================================== */

/* Encodes one body into a fresh kbuf; the caller frees. */
#define ENCODE(fn, b, v, resp) \
    do { \
        kbuf_init((b), 0); \
        fn((b), (v), (resp)); \
        assert_int_equal((b)->err, WEIR_OK); \
    } while (0)

static void test_response_produce(void **state)
{
    (void)state;
    struct kproduce_resp_part p = { .index = 0, .base_offset = 100, .log_append_time_ms = -1, .log_start_offset = 7 };
    struct kproduce_resp_topic t = { kstr_c("orders"), &p, 1 };
    struct kproduce_resp r = { &t, 1, 0x01020304 };
    for (int16_t v = 0; v <= 9; v++) {
        struct kbuf b;
        ENCODE(kproto_produce_encode, &b, v, &r);
        bool flex = v >= 9;
        uint8_t want[64];
        size_t n = 0;
        if (flex) want[n++] = 2; /* compact count + 1 */
        else weir_store_be32(want + n, 1), n += 4;
        if (flex) want[n++] = 7;
        else want[n++] = 0, want[n++] = 6;
        memcpy(want + n, "orders", 6), n += 6;
        if (flex) want[n++] = 2;
        else weir_store_be32(want + n, 1), n += 4;
        weir_store_be32(want + n, 0), n += 4;
        want[n++] = 0, want[n++] = 0;
        weir_store_be64(want + n, 100), n += 8;
        if (v >= 2) weir_store_be64(want + n, (uint64_t)-1), n += 8;
        if (v >= 5) weir_store_be64(want + n, 7), n += 8;
        if (v == 8) weir_store_be32(want + n, 0), n += 4, want[n++] = 0xff, want[n++] = 0xff; /* [] , null */
        if (flex) want[n++] = 1, want[n++] = 0, want[n++] = 0, want[n++] = 0; /* [], null, part + topic tags */
        if (v >= 1) weir_store_be32(want + n, 0x01020304), n += 4; /* throttle last */
        if (flex) want[n++] = 0;
        assert_int_equal(n, v == 0 ? 30 : v == 1 ? 34 : v < 5 ? 42 : v < 8 ? 50 : v == 8 ? 56 : 48);
        assert_bytes(b.mem, b.mem_len, want, n);
        kbuf_free(&b);
    }
    /* v8: record errors with a null and a set message, and an error message. */
    struct kproduce_record_error errs[] = { { 2, KSTR_NULL }, { 5, kstr_c("k") } };
    p = (struct kproduce_resp_part){ .index = 0, .error_code = 87, .base_offset = -1, .log_append_time_ms = -1,
                                     .log_start_offset = -1, .record_errors = errs, .n_record_errors = 2,
                                     .error_message = kstr_c("bad") };
    struct kbuf b;
    ENCODE(kproto_produce_encode, &b, 8, &r);
    static const uint8_t tail[] = { 0, 0, 0, 2, 0, 0, 0, 2, 0xff, 0xff, 0, 0, 0, 5, 0, 1, 'k', 0, 3, 'b', 'a', 'd',
                                    1, 2, 3, 4 };
    assert_true(b.mem_len > sizeof tail);
    assert_memory_equal(b.mem + b.mem_len - sizeof tail, tail, sizeof tail);
    kbuf_free(&b);
}

static void test_response_small_apis(void **state)
{
    (void)state;
    struct kbuf b;
    /* InitProducerId v0/v1: throttle, error, producer id, epoch. */
    struct kinitproducerid_resp ip = { 0, 0, 0x0102030405060708, 3 };
    static const uint8_t ip_want[] = { 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3 };
    static const uint8_t ip_flex[] = { 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0 }; /* v2+: + tags */
    for (int16_t v = 0; v <= 4; v++) {
        ENCODE(kproto_initproducerid_encode, &b, v, &ip);
        if (v <= 1) assert_bytes(b.mem, b.mem_len, ip_want, sizeof ip_want);
        else assert_bytes(b.mem, b.mem_len, ip_flex, sizeof ip_flex);
        kbuf_free(&b);
    }
    /* FindCoordinator v0: error, node, host, port. v2: throttle + message first. */
    struct kfindcoordinator_resp fc = { 9, 0, KSTR_NULL, 1, kstr_c("localhost"), 9092, NULL, 0 };
    static const uint8_t fc0[] = { 0, 0, 0, 0, 0, 1, 0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0, 0, 0x23, 0x84 };
    static const uint8_t fc2[] = { 0, 0, 0, 9, 0, 0, 0xff, 0xff, 0, 0, 0, 1, 0, 9, 'l', 'o', 'c',
                                   'a', 'l', 'h', 'o', 's', 't', 0, 0, 0x23, 0x84 };
    ENCODE(kproto_findcoordinator_encode, &b, 0, &fc);
    assert_bytes(b.mem, b.mem_len, fc0, sizeof fc0);
    kbuf_free(&b);
    ENCODE(kproto_findcoordinator_encode, &b, 2, &fc);
    assert_bytes(b.mem, b.mem_len, fc2, sizeof fc2);
    kbuf_free(&b);
    /* DeleteTopics v0: no throttle; v1-3: throttle first; v4 flexible; v5
     * error_message; v6 nullable name and topic_id. */
    struct ktopic_result dt = { kstr_c("t1"), 3, kstr_c("gone") };
    static const struct weir_uuid dt_ids[] = { { { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1 } } };
    struct kdeletetopics_resp dr = { 5, &dt, 1, dt_ids };
    static const uint8_t dt0[] = { 0, 0, 0, 1, 0, 2, 't', '1', 0, 3 };
    static const uint8_t dt1[] = { 0, 0, 0, 5, 0, 0, 0, 1, 0, 2, 't', '1', 0, 3 };
    static const uint8_t dt4[] = { 0, 0, 0, 5, 2, 3, 't', '1', 0, 3, 0, 0 };
    static const uint8_t dt5[] = { 0, 0, 0, 5, 2, 3, 't', '1', 0, 3, 5, 'g', 'o', 'n', 'e', 0, 0 };
    static const uint8_t dt6[] = { 0, 0, 0, 5, 2, 3, 't', '1', 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1,
                                   0, 3, 5, 'g', 'o', 'n', 'e', 0, 0 };
    for (int16_t v = 0; v <= 6; v++) {
        ENCODE(kproto_deletetopics_encode, &b, v, &dr);
        if (v == 0) assert_bytes(b.mem, b.mem_len, dt0, sizeof dt0);
        else if (v <= 3) assert_bytes(b.mem, b.mem_len, dt1, sizeof dt1);
        else if (v == 4) assert_bytes(b.mem, b.mem_len, dt4, sizeof dt4);
        else if (v == 5) assert_bytes(b.mem, b.mem_len, dt5, sizeof dt5);
        else assert_bytes(b.mem, b.mem_len, dt6, sizeof dt6);
        kbuf_free(&b);
    }
    {   /* v6: a null name (an unknown id), the id given; no ids: zero */
        struct ktopic_result unk = { KSTR_NULL, 100, KSTR_NULL };
        struct kdeletetopics_resp ur = { 0, &unk, 1, NULL };
        static const uint8_t u6[] = { 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 100, 0, 0, 0 };
        ENCODE(kproto_deletetopics_encode, &b, 6, &ur);
        assert_bytes(b.mem, b.mem_len, u6, sizeof u6);
        kbuf_free(&b);
    }
    /* CreatePartitions v0/v1: throttle, [name, error, message]. */
    struct ktopic_result cp[] = { { kstr_c("a"), 37, kstr_c("no") }, { kstr_c("b"), 0, KSTR_NULL } };
    struct kcreatepartitions_resp cr = { 0, cp, 2 };
    static const uint8_t cp_want[] = { 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 37, 0, 2, 'n', 'o',
                                       0, 1, 'b', 0, 0, 0xff, 0xff };
    static const uint8_t cp_flex[] = { 0, 0, 0, 0, 3, 2, 'a', 0, 37, 3, 'n', 'o', 0, 2, 'b', 0, 0, 0, 0, 0 };
    for (int16_t v = 0; v <= 3; v++) {
        ENCODE(kproto_createpartitions_encode, &b, v, &cr);
        if (v <= 1) assert_bytes(b.mem, b.mem_len, cp_want, sizeof cp_want);
        else assert_bytes(b.mem, b.mem_len, cp_flex, sizeof cp_flex); /* v2+: compact + tags */
        kbuf_free(&b);
    }
    /* ListOffsets v2/v3: throttle first, then [name, [index, error, timestamp, offset]]. */
    struct klistoffsets_resp_part lp = { 2, 0, -1, 99, 4, NULL, 0 };
    struct klistoffsets_resp_topic lt = { kstr_c("t"), &lp, 1 };
    struct klistoffsets_resp lr = { 0, &lt, 1 };
    /* v0: no throttle, [name, [index, error, old_style_offsets]]; v1: (timestamp, offset), no throttle. */
    static const uint8_t lo0[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
                                   0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 99 };
    static const uint8_t lo1[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 99 };
    ENCODE(kproto_listoffsets_encode, &b, 0, &lr);
    assert_bytes(b.mem, b.mem_len, lo0, sizeof lo0);
    kbuf_free(&b);
    ENCODE(kproto_listoffsets_encode, &b, 1, &lr);
    assert_bytes(b.mem, b.mem_len, lo1, sizeof lo1);
    kbuf_free(&b);
    {   /* v0 with no offset: an empty array; weir's client reads -1 back */
        struct klistoffsets_resp_part none = { 2, 0, -1, -1, -1, NULL, 0 };
        struct klistoffsets_resp_topic nt = { kstr_c("t"), &none, 1 };
        struct klistoffsets_resp nr = { 0, &nt, 1 };
        static const uint8_t lo0e[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0 };
        ENCODE(kproto_listoffsets_encode, &b, 0, &nr);
        assert_bytes(b.mem, b.mem_len, lo0e, sizeof lo0e);
        kbuf_free(&b);
        struct weir_arena a;
        assert_int_equal(weir_arena_init(&a, 4096), WEIR_OK);
        struct klistoffsets_resp back;
        struct weir_rd rd = weir_rd_make(lo0, sizeof lo0);
        assert_int_equal(kproto_listoffsets_response_decode(&rd, 0, &a, &back), WEIR_OK);
        assert_int_equal(back.topics[0].partitions[0].offset, 99);
        assert_int_equal(back.topics[0].partitions[0].timestamp, -1);
        weir_arena_reset(&a);
        rd = weir_rd_make(lo0e, sizeof lo0e);
        assert_int_equal(kproto_listoffsets_response_decode(&rd, 0, &a, &back), WEIR_OK);
        assert_int_equal(back.topics[0].partitions[0].offset, -1);
        /* several old-style offsets, newest first, as sent; read back whole */
        static const int64_t olds[] = { 9, 5, 0 };
        struct klistoffsets_resp_part three = { 2, 0, -1, -1, -1, olds, 3 };
        struct klistoffsets_resp_topic tt = { kstr_c("t"), &three, 1 };
        struct klistoffsets_resp tr = { 0, &tt, 1 };
        static const uint8_t lo03[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3,
                                        0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0 };
        ENCODE(kproto_listoffsets_encode, &b, 0, &tr);
        assert_bytes(b.mem, b.mem_len, lo03, sizeof lo03);
        kbuf_free(&b);
        weir_arena_reset(&a);
        rd = weir_rd_make(lo03, sizeof lo03);
        assert_int_equal(kproto_listoffsets_response_decode(&rd, 0, &a, &back), WEIR_OK);
        assert_int_equal(back.topics[0].partitions[0].offset, 9);
        assert_int_equal(back.topics[0].partitions[0].n_old_style_offsets, 3);
        assert_int_equal(back.topics[0].partitions[0].old_style_offsets[2], 0);
        weir_arena_destroy(&a);
    }
    uint8_t lo_want[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 99 };
    for (int16_t v = 2; v <= 3; v++) {
        ENCODE(kproto_listoffsets_encode, &b, v, &lr);
        assert_bytes(b.mem, b.mem_len, lo_want, sizeof lo_want);
        kbuf_free(&b);
    }
    /* v4/v5: leader_epoch after the offset; v6/v7: compact + tags. */
    uint8_t lo4[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0,
                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 4 };
    uint8_t lo6[] = { 0, 0, 0, 0, 2, 2, 't', 2, 0, 0, 0, 2, 0, 0,
                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0, 4, 0, 0, 0 };
    for (int16_t v = 4; v <= 8; v++) {
        ENCODE(kproto_listoffsets_encode, &b, v, &lr);
        if (v <= 5) assert_bytes(b.mem, b.mem_len, lo4, sizeof lo4);
        else assert_bytes(b.mem, b.mem_len, lo6, sizeof lo6);
        kbuf_free(&b);
    }
    /* OffsetForLeaderEpoch: [throttle v2+], [topic, [error, partition, epoch v1+, end]]; v4 compact + tags. */
    struct koffsetforleaderepoch_resp_part ep = { 74, 3, 9, 1000 };
    struct koffsetforleaderepoch_resp_topic et = { kstr_c("t"), &ep, 1 };
    struct koffsetforleaderepoch_resp er = { 5, &et, 1 };
    static const uint8_t e0[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 74, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 3, 0xe8 };
    static const uint8_t e1[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 74, 0, 0, 0, 3, 0, 0, 0, 9,
                                  0, 0, 0, 0, 0, 0, 3, 0xe8 };
    static const uint8_t e2[] = { 0, 0, 0, 5, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 74, 0, 0, 0, 3,
                                  0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 3, 0xe8 };
    static const uint8_t e4[] = { 0, 0, 0, 5, 2, 2, 't', 2, 0, 74, 0, 0, 0, 3, 0, 0, 0, 9,
                                  0, 0, 0, 0, 0, 0, 3, 0xe8, 0, 0, 0 };
    for (int16_t v = 0; v <= 4; v++) {
        ENCODE(kproto_offsetforleaderepoch_encode, &b, v, &er);
        if (v == 0) assert_bytes(b.mem, b.mem_len, e0, sizeof e0);
        else if (v == 1) assert_bytes(b.mem, b.mem_len, e1, sizeof e1);
        else if (v <= 3) assert_bytes(b.mem, b.mem_len, e2, sizeof e2);
        else assert_bytes(b.mem, b.mem_len, e4, sizeof e4);
        kbuf_free(&b);
    }
}

static void test_response_createtopics(void **state)
{
    (void)state;
    struct ktopic_result t[] = { { kstr_c("t1"), 0, KSTR_NULL }, { kstr_c("t2"), 36, kstr_c("exists") } };
    struct kdescribeconfigs_config cfg = { .name = kstr_c("retention.ms"), .value = kstr_c("9"),
                                           .config_source = KCONFIG_SOURCE_DYNAMIC_TOPIC };
    struct kcreatetopics_detail det[] = {
        { { { 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xbb } }, 3, 1, &cfg, 1 },
        { { { 0 } }, -1, -1, NULL, -1 },
    };
    struct kcreatetopics_resp r = { 7, t, 2, det };
    for (int16_t v = 0; v <= 4; v++) {
        struct kbuf b;
        ENCODE(kproto_createtopics_encode, &b, v, &r);
        /* [4 throttle v2+] + 4 count + (4 [+ 2] + 2) + (4 [+ 8] + 2) */
        assert_int_equal(b.mem_len, (v >= 2 ? 4 : 0) + 4 + 6 + 6 + (v >= 1 ? 2 + 8 : 0));
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        if (v >= 2) assert_int_equal(weir_rd_i32(&rd), 7);
        assert_int_equal(kr_array_len(&rd, 10, false), 2);
        assert_kstr(kr_string(&rd), "t1");
        assert_int_equal(weir_rd_i16(&rd), 0);
        if (v >= 1) assert_kstr(kr_nstring(&rd), NULL);
        assert_kstr(kr_string(&rd), "t2");
        assert_int_equal(weir_rd_i16(&rd), 36);
        if (v >= 1) assert_kstr(kr_nstring(&rd), "exists");
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        kbuf_free(&b);
    }
    /* v5-7 flexible: num_partitions, replication_factor, configs (null for
     * t2) after the message; v7 the topic id after the name. */
    for (int16_t v = 5; v <= 7; v++) {
        struct kbuf b;
        ENCODE(kproto_createtopics_encode, &b, v, &r);
        uint8_t want[128];
        size_t n = 0;
        static const uint8_t head[] = { 0, 0, 0, 7, 3, 3, 't', '1' };
        memcpy(want + n, head, sizeof head), n += sizeof head;
        if (v >= 7) memcpy(want + n, det[0].topic_id.b, 16), n += 16;
        static const uint8_t t1[] = { 0, 0, 0, /* error, null message */
                                      0, 0, 0, 3, 0, 1, 2, /* partitions, rf, one config */
                                      13, 'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.', 'm', 's', 2, '9',
                                      0, 1, 0, 0, /* read_only, source, sensitive, config tags */
                                      0, 3, 't', '2' }; /* topic tags; t2 */
        memcpy(want + n, t1, sizeof t1), n += sizeof t1;
        if (v >= 7) memset(want + n, 0, 16), n += 16;
        static const uint8_t t2[] = { 0, 36, 7, 'e', 'x', 'i', 's', 't', 's',
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, /* -1, -1, null configs */
                                      0, 0 };                                /* topic tags, top tags */
        memcpy(want + n, t2, sizeof t2), n += sizeof t2;
        assert_bytes(b.mem, b.mem_len, want, n);
        /* weir's client decoder reads it back */
        struct weir_arena a;
        assert_int_equal(weir_arena_init(&a, 4096), WEIR_OK);
        struct kcreatetopics_resp back;
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        assert_int_equal(kproto_createtopics_response_decode(&rd, v, &a, &back), WEIR_OK);
        assert_int_equal(back.details[0].num_partitions, 3);
        assert_int_equal(back.details[0].n_configs, 1);
        assert_kstr(back.details[0].configs[0].value, "9");
        assert_int_equal(back.details[1].n_configs, -1);
        assert_int_equal(back.details[0].topic_id.b[0], v >= 7 ? 0xaa : 0);
        weir_arena_destroy(&a);
        kbuf_free(&b);
    }
    {   /* no details (out of memory at the broker): -1, -1, null configs */
        struct kbuf b;
        struct kcreatetopics_resp nr = { 0, t, 1, NULL };
        static const uint8_t w5[] = { 0, 0, 0, 0, 2, 3, 't', '1', 0, 0, 0,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0 };
        ENCODE(kproto_createtopics_encode, &b, 5, &nr);
        assert_bytes(b.mem, b.mem_len, w5, sizeof w5);
        kbuf_free(&b);
    }
}

/* Metadata v9..v12, flexible: compact arrays and strings, tags after every
 * struct; leader_epoch (v7+) after leader_id; topic_id (v10+) after the
 * name; topic authorized ops (v8+) after partitions; cluster ops (v8-10) last. */
static void test_response_metadata_flexible(void **state)
{
    (void)state;
    static const int32_t one[] = { 1 };
    struct kmetadata_broker br = { 1, kstr_c("h"), 9092, KSTR_NULL };
    struct kmetadata_part part = { 0, 0, 1, one, 1, one, 1, NULL, 0, 6 };
    struct kmetadata_topic top = { 0, kstr_c("t"), false, &part, 1,
                                   { { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } },
                                   KPROTO_AUTHORIZED_OPS_NONE };
    struct kmetadata_resp r = { 0, &br, 1, KSTR_NULL, 1, &top, 1, KPROTO_AUTHORIZED_OPS_NONE };
    for (int16_t v = 9; v <= 12; v++) {
        struct kbuf b;
        ENCODE(kproto_metadata_encode, &b, v, &r);
        uint8_t want[128];
        size_t n = 0;
        static const uint8_t head[] = { 0, 0, 0, 0, 2, 0, 0, 0, 1, 2, 'h', 0, 0, 0x23, 0x84, 0, 0, /* broker */
                                        0, /* null cluster id */ 0, 0, 0, 1, 2, 0, 0, 2, 't' };
        memcpy(want + n, head, sizeof head), n += sizeof head;
        if (v >= 10) for (int i = 1; i <= 16; i++) want[n++] = (uint8_t)i;
        static const uint8_t mid[] = { 0, 2,                /* internal, 1 partition */
                                       0, 0, 0, 0, 0, 0,    /* error, index */
                                       0, 0, 0, 1, 0, 0, 0, 6, /* leader, epoch */
                                       2, 0, 0, 0, 1, 2, 0, 0, 0, 1, /* replicas, isr */
                                       1, 0,                /* offline, part tags */
                                       0x80, 0, 0, 0, 0 };  /* topic ops, topic tags */
        memcpy(want + n, mid, sizeof mid), n += sizeof mid;
        if (v == 9 || v == 10) want[n++] = 0x80, want[n++] = 0, want[n++] = 0, want[n++] = 0;
        want[n++] = 0; /* top-level tags */
        assert_bytes(b.mem, b.mem_len, want, n);
        kbuf_free(&b);
    }
}

static void test_response_metadata(void **state)
{
    (void)state;
    static const int32_t one[] = { 1 };
    struct kmetadata_broker br = { 1, kstr_c("localhost"), 9092, KSTR_NULL };
    struct kmetadata_part parts[] = { { 0, 0, 1, one, 1, one, 1, NULL, 0, 0 }, { 5, 1, -1, one, 1, NULL, 0, one, 1, -1 } };
    struct kmetadata_topic top = { 0, kstr_c("orders"), false, parts, 2, { { 0 } }, KPROTO_AUTHORIZED_OPS_NONE };
    struct kmetadata_resp r = { 0, &br, 1, kstr_c("weir-cluster"), 1, &top, 1, KPROTO_AUTHORIZED_OPS_NONE };
    for (int16_t v = 4; v <= 6; v++) {
        struct kbuf b;
        ENCODE(kproto_metadata_encode, &b, v, &r);
        /* throttle 4, brokers 4 + 21, cluster 14, controller 4, topics 4 + 15,
         * partitions (10 + 8 + 8 [+ 4 offline]) and (10 + 8 + 4 [+ 8]) */
        assert_int_equal(b.mem_len, v < 5 ? 4 + 25 + 14 + 4 + 19 + 26 + 22 : 4 + 25 + 14 + 4 + 19 + 30 + 30);
        assert_int_equal(weir_load_be32(b.mem), 0);         /* throttle first */
        assert_int_equal(weir_load_be16(b.mem + 29), 12);   /* cluster_id length */
        assert_int_equal(weir_load_be32(b.mem + 43), 1);    /* controller_id */
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        (void)weir_rd_i32(&rd);
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i32(&rd), 1);
        assert_kstr(kr_string(&rd), "localhost");
        assert_int_equal(weir_rd_i32(&rd), 9092);
        assert_kstr(kr_nstring(&rd), NULL); /* rack */
        assert_kstr(kr_nstring(&rd), "weir-cluster");
        assert_int_equal(weir_rd_i32(&rd), 1);
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i16(&rd), 0);
        assert_kstr(kr_string(&rd), "orders");
        assert_false(kr_bool(&rd));
        assert_int_equal(kr_array_len(&rd, 10, false), 2);
        for (int p = 0; p < 2; p++) {
            assert_int_equal(weir_rd_i16(&rd), parts[p].error_code);
            assert_int_equal(weir_rd_i32(&rd), parts[p].partition_index);
            assert_int_equal(weir_rd_i32(&rd), parts[p].leader_id);
            assert_int_equal(kr_array_len(&rd, 10, false), 1);
            assert_int_equal(weir_rd_i32(&rd), 1);
            int32_t n_isr = kr_array_len(&rd, 10, false);
            assert_int_equal(n_isr, parts[p].n_isr);
            for (int32_t k = 0; k < n_isr; k++) (void)weir_rd_i32(&rd);
            if (v >= 5) {
                int32_t n_off = kr_array_len(&rd, 10, false);
                assert_int_equal(n_off, parts[p].n_offline);
                for (int32_t k = 0; k < n_off; k++) assert_int_equal(weir_rd_i32(&rd), 1);
            }
        }
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        kbuf_free(&b);
    }
}

/* Metadata v0-v3: no rack and no controller/is_internal in v0, cluster_id
 * from v2, throttle from v3 (schemas/MetadataResponse.json). */
static void test_response_metadata_old(void **state)
{
    (void)state;
    static const int32_t one[] = { 1 };
    struct kmetadata_broker br = { 1, kstr_c("localhost"), 9092, kstr_c("rack-a") };
    struct kmetadata_part part = { 0, 0, 1, one, 1, one, 1, one, 1, 4 };
    struct kmetadata_topic top = { 3, kstr_c("orders"), true, &part, 1, { { 0 } }, KPROTO_AUTHORIZED_OPS_NONE };
    struct kmetadata_resp r = { 7, &br, 1, kstr_c("weir-cluster"), 1, &top, 1, KPROTO_AUTHORIZED_OPS_NONE };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    for (int16_t v = 0; v <= 3; v++) {
        struct kbuf b;
        ENCODE(kproto_metadata_encode, &b, v, &r);
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        if (v >= 3) assert_int_equal(weir_rd_i32(&rd), 7);
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i32(&rd), 1);
        assert_kstr(kr_string(&rd), "localhost");
        assert_int_equal(weir_rd_i32(&rd), 9092);
        if (v >= 1) assert_kstr(kr_nstring(&rd), "rack-a");
        if (v >= 2) assert_kstr(kr_nstring(&rd), "weir-cluster");
        if (v >= 1) assert_int_equal(weir_rd_i32(&rd), 1);
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i16(&rd), 3);
        assert_kstr(kr_string(&rd), "orders");
        if (v >= 1) assert_true(kr_bool(&rd));
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i16(&rd), 0);
        assert_int_equal(weir_rd_i32(&rd), 0);
        assert_int_equal(weir_rd_i32(&rd), 1);           /* leader; no epoch before v7 */
        for (int k = 0; k < 2; k++) {                    /* replicas, isr; no offline before v5 */
            assert_int_equal(kr_array_len(&rd, 10, false), 1);
            assert_int_equal(weir_rd_i32(&rd), 1);
        }
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        /* weir's client-side decoder reads the same bytes back */
        struct kmetadata_resp back;
        weir_arena_reset(&a);
        rd = weir_rd_make(b.mem, b.mem_len);
        assert_int_equal(kproto_metadata_response_decode(&rd, v, &a, &back), WEIR_OK);
        assert_int_equal(back.throttle_time_ms, v >= 3 ? 7 : 0);
        assert_int_equal(back.controller_id, v >= 1 ? 1 : -1);
        assert_kstr(back.cluster_id, v >= 2 ? "weir-cluster" : NULL);
        assert_kstr(back.brokers[0].rack, v >= 1 ? "rack-a" : NULL);
        assert_int_equal(back.topics[0].is_internal, v >= 1);
        kbuf_free(&b);
    }
    weir_arena_destroy(&a);
}

/* A version outside the served range: the API's empty response at the
 * nearest version, 35 in the top-level error_code where there is one. */
static void test_unsupported_versions(void **state)
{
    (void)state;
    struct kbuf b;
    /* Heartbeat v99 -> v4's shape (flexible): throttle, error, tags. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_HEARTBEAT, 99);
    static const uint8_t hb[] = { 0, 0, 0, 0, 0, 35, 0 };
    assert_bytes(b.mem, b.mem_len, hb, sizeof hb);
    kbuf_free(&b);
    /* InitProducerId v5 -> v4 (flexible): throttle, error, id -1, epoch -1, tags. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_INIT_PRODUCER_ID, 5);
    static const uint8_t ip[] = { 0, 0, 0, 0, 0, 35, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
    assert_bytes(b.mem, b.mem_len, ip, sizeof ip);
    kbuf_free(&b);
    /* Metadata v13 -> v12: throttle, no brokers, null cluster id, controller -1, no topics, tags. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_METADATA, 13);
    static const uint8_t md[] = { 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 1, 0 };
    assert_bytes(b.mem, b.mem_len, md, sizeof md);
    kbuf_free(&b);
    /* OffsetDelete v1 -> v0: error first, throttle, no topics. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_OFFSET_DELETE, 1);
    static const uint8_t od[] = { 0, 35, 0, 0, 0, 0, 0, 0, 0, 0 };
    assert_bytes(b.mem, b.mem_len, od, sizeof od);
    kbuf_free(&b);
    /* CreateTopics v8 -> v7: throttle, no topics, tags. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_CREATE_TOPICS, 8);
    static const uint8_t ct[] = { 0, 0, 0, 0, 1, 0 };
    assert_bytes(b.mem, b.mem_len, ct, sizeof ct);
    kbuf_free(&b);
    /* Every served key, below and above its range: a well-formed body. */
    size_t n;
    const struct kproto_api *t = kproto_api_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].min < 0 || t[i].key == KAPI_API_VERSIONS) continue;
        for (int k = 0; k < 2; k++) {
            int16_t v = k ? (int16_t)(t[i].max + 1) : (int16_t)(t[i].min - 1);
            if (v < 0) continue;
            kbuf_init(&b, 0);
            kproto_unsupported_encode(&b, t[i].key, v);
            assert_int_equal(b.err, WEIR_OK);
            assert_true(b.mem_len >= 2);
            kbuf_free(&b);
        }
    }
    /* DeleteRecords v3 -> v2 (flexible): throttle, no topics, tags. */
    kbuf_init(&b, 0);
    kproto_unsupported_encode(&b, KAPI_DELETE_RECORDS, 3);
    assert_bytes(b.mem, b.mem_len, ct, sizeof ct);
    kbuf_free(&b);
    /* Not served at all (SaslHandshake, key 17; an unknown key): the code alone. */
    static const uint8_t code[] = { 0, 35 };
    for (int k = 0; k < 2; k++) {
        kbuf_init(&b, 0);
        kproto_unsupported_encode(&b, k ? 999 : 17, 0);
        assert_bytes(b.mem, b.mem_len, code, sizeof code);
        kbuf_free(&b);
    }
}

static void test_response_describeconfigs(void **state)
{
    (void)state;
    struct kdescribeconfigs_synonym syn = { kstr_c("log.retention.ms"), kstr_c("1000"), 5 };
    struct kdescribeconfigs_config cfg[] = {
        { kstr_c("retention.ms"), kstr_c("1000"), false, 1, false, &syn, 1, KCONFIG_TYPE_LONG, KSTR_NULL },
        { kstr_c("secret"), KSTR_NULL, true, 5, true, NULL, 0, KCONFIG_TYPE_STRING, kstr_c("d") },
    };
    struct kdescribeconfigs_result res = { 0, KSTR_NULL, KRESOURCE_TOPIC, kstr_c("orders"), cfg, 2 };
    struct kdescribeconfigs_resp r = { 0, &res, 1 };
    for (int16_t v = 1; v <= 2; v++) {
        struct kbuf b;
        ENCODE(kproto_describeconfigs_encode, &b, v, &r);
        struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
        assert_int_equal(weir_rd_i32(&rd), 0); /* throttle first */
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_int_equal(weir_rd_i16(&rd), 0);
        assert_kstr(kr_nstring(&rd), NULL);
        assert_int_equal(kr_i8(&rd), KRESOURCE_TOPIC);
        assert_kstr(kr_string(&rd), "orders");
        assert_int_equal(kr_array_len(&rd, 10, false), 2);
        for (int c = 0; c < 2; c++) {
            assert_true(kstr_eq(kr_string(&rd), cfg[c].name.ptr));
            struct kstr val = kr_nstring(&rd);
            assert_int_equal(val.len, cfg[c].value.len);
            assert_int_equal(kr_bool(&rd), cfg[c].read_only);
            assert_int_equal(kr_i8(&rd), cfg[c].config_source);
            assert_int_equal(kr_bool(&rd), cfg[c].is_sensitive);
            int32_t ns = kr_array_len(&rd, 10, false);
            assert_int_equal(ns, cfg[c].n_synonyms);
            for (int32_t s = 0; s < ns; s++) {
                assert_kstr(kr_string(&rd), "log.retention.ms");
                assert_kstr(kr_nstring(&rd), "1000");
                assert_int_equal(kr_i8(&rd), 5);
            }
        }
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        /* 4+4 + 2+2+1+8+4 + cfg0 (14+6+1+1+1+4 + 18+6+1) + cfg1 (8+2+1+1+1+4) = 25 + 52 + 17 */
        assert_int_equal(b.mem_len, 94);
        kbuf_free(&b);
    }
    /* v0: is_default (source 5) instead of the source, no synonyms. */
    struct kbuf b;
    ENCODE(kproto_describeconfigs_encode, &b, 0, &r);
    struct weir_rd rd = weir_rd_make(b.mem, b.mem_len);
    assert_int_equal(weir_rd_i32(&rd), 0);
    assert_int_equal(kr_array_len(&rd, 10, false), 1);
    (void)weir_rd_i16(&rd), (void)kr_nstring(&rd), (void)kr_i8(&rd), (void)kr_string(&rd);
    assert_int_equal(kr_array_len(&rd, 10, false), 2);
    for (int c = 0; c < 2; c++) {
        assert_true(kstr_eq(kr_string(&rd), cfg[c].name.ptr));
        (void)kr_nstring(&rd);
        assert_int_equal(kr_bool(&rd), cfg[c].read_only);
        assert_int_equal(kr_bool(&rd), c == 1); /* is_default */
        assert_int_equal(kr_bool(&rd), cfg[c].is_sensitive);
    }
    assert_int_equal(rd.err, WEIR_OK);
    assert_int_equal(weir_rd_left(&rd), 0);
    kbuf_free(&b);
    /* v3: config_type and documentation after the synonyms; v4 the same, flexible. */
    for (int16_t v = 3; v <= 4; v++) {
        bool flex = v >= 4;
        ENCODE(kproto_describeconfigs_encode, &b, v, &r);
        rd = weir_rd_make(b.mem, b.mem_len);
        struct kdec d = { &rd, NULL, v, flex, false };
        assert_int_equal(weir_rd_i32(&rd), 0);
        assert_int_equal(kd_array(&d, 10), 1);
        (void)weir_rd_i16(&rd), (void)kd_nstr(&d), (void)kr_i8(&rd), (void)kd_str(&d);
        assert_int_equal(kd_array(&d, 10), 2);
        for (int c = 0; c < 2; c++) {
            assert_true(kstr_eq(kd_str(&d), cfg[c].name.ptr));
            (void)kd_nstr(&d);
            assert_int_equal(kr_bool(&rd), cfg[c].read_only);
            assert_int_equal(kr_i8(&rd), cfg[c].config_source);
            assert_int_equal(kr_bool(&rd), cfg[c].is_sensitive);
            int32_t ns = kd_array(&d, 10);
            for (int32_t k = 0; k < ns; k++) (void)kd_str(&d), (void)kd_nstr(&d), (void)kr_i8(&rd), kd_tags(&d);
            assert_int_equal(kr_i8(&rd), cfg[c].config_type);
            assert_kstr(kd_nstr(&d), c == 1 ? "d" : NULL);
            kd_tags(&d);
        }
        kd_tags(&d);
        kd_tags(&d);
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        kbuf_free(&b);
    }
}

/* Fetch: records length equals the file ranges, chunks interleave, null vs
 * empty aborted transactions, v11 preferred_read_replica. */
static void test_response_fetch(void **state)
{
    (void)state;
    int pin_a, pin_b;
    struct kfile_range ranges[] = { { 5, 0, 100, &pin_a }, { 6, 4096, 50, &pin_b } };
    struct kfetch_aborted ab = { 77, 10 };
    struct kfetch_resp_part parts[] = {
        { 0, 0, 200, 200, 0, NULL, -1, -1, ranges, 2, { NULL, 0 }, false, -1, -1 },
        { 1, 1, 10, 10, 3, &ab, 1, -1, NULL, 0, { NULL, 0 }, false, -1, -1 },
    };
    struct kfetch_resp_topic top = { kstr_c("orders"), parts, 2, { { 0 } } };
    struct kfetch_resp r = { 0, 0, 0, &top, 1 };
    for (int16_t v = 4; v <= 11; v++) {
        struct kbuf b;
        kbuf_init(&b, 0);
        struct kframe f = kproto_response_begin(&b, KAPI_FETCH, v, 99);
        kproto_fetch_encode(&b, v, &r);
        kproto_response_end(&b, &f);
        assert_int_equal(b.err, WEIR_OK);
        /* MEM (up to p0's records length), FILE 100, FILE 50, MEM (the rest). */
        assert_int_equal(kbuf_chunk_count(&b), 4);
        assert_int_equal(kbuf_chunk(&b, 1).kind, KCHUNK_FILE);
        assert_int_equal(kbuf_chunk(&b, 1).len, 100);
        assert_ptr_equal(kbuf_chunk(&b, 1).pin, &pin_a);
        assert_int_equal(kbuf_chunk(&b, 2).len, 50);
        assert_int_equal(kbuf_chunk(&b, 2).fd, 6);
        assert_int_equal(kbuf_chunk(&b, 2).pos, 4096);
        struct kchunk m0 = kbuf_chunk(&b, 0);
        assert_int_equal(weir_load_be32(m0.mem + m0.len - 4), 150); /* RECORDS length, exactly */
        assert_int_equal(b.file_len, 150);
        assert_int_equal(weir_load_be32(b.mem), (uint32_t)(kbuf_total_len(&b) - 4)); /* frame size */

        size_t n;
        uint8_t *flat = flatten(&b, &n);
        struct weir_rd rd = weir_rd_make(flat + 8, n - 8); /* after size + correlation id */
        assert_int_equal(weir_rd_i32(&rd), 0);              /* throttle first */
        if (v >= 7) {
            assert_int_equal(weir_rd_i16(&rd), 0); /* error_code */
            assert_int_equal(weir_rd_i32(&rd), 0); /* session_id */
        }
        assert_int_equal(kr_array_len(&rd, 10, false), 1);
        assert_kstr(kr_string(&rd), "orders");
        assert_int_equal(kr_array_len(&rd, 10, false), 2);
        for (int p = 0; p < 2; p++) {
            assert_int_equal(weir_rd_i32(&rd), p);
            assert_int_equal(weir_rd_i16(&rd), parts[p].error_code);
            assert_int_equal(weir_rd_i64(&rd), parts[p].high_watermark);
            assert_int_equal(weir_rd_i64(&rd), parts[p].last_stable_offset);
            if (v >= 5) assert_int_equal(weir_rd_i64(&rd), parts[p].log_start_offset);
            int32_t na = kr_array_len(&rd, 10, true);
            assert_int_equal(na, parts[p].n_aborted); /* -1: null */
            for (int32_t k = 0; k < na; k++) {
                assert_int_equal(weir_rd_i64(&rd), 77);
                assert_int_equal(weir_rd_i64(&rd), 10);
            }
            if (v >= 11) assert_int_equal(weir_rd_i32(&rd), -1);
            struct kbytes rec = kr_nbytes(&rd);
            assert_int_equal(rec.len, p == 0 ? 150 : 0); /* empty, never null */
            for (int32_t k = 0; k < rec.len; k++) assert_int_equal(rec.ptr[k], k < 100 ? 5 : 6);
        }
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        free(flat);
        kbuf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_table),
        cmocka_unit_test(test_uvarint_vectors),
        cmocka_unit_test(test_string_bytes_vectors),
        cmocka_unit_test(test_array_len),
        cmocka_unit_test(test_tags_skip),
        cmocka_unit_test(test_writers_roundtrip),
        cmocka_unit_test(test_kbuf_chunks),
        cmocka_unit_test(test_kbuf_frames),
        cmocka_unit_test(test_kbuf_cap),
        cmocka_unit_test(test_header_and_apiversions_request),
        cmocka_unit_test(test_apiversions_responses),
        cmocka_unit_test(test_apiversions_unsupported),
        cmocka_unit_test(test_requests_decode),
        cmocka_unit_test(test_deleterecords_round_trip),
        cmocka_unit_test(test_requests_truncated),
        cmocka_unit_test(test_requests_arena_full),
        cmocka_unit_test(test_requests_counts),
        cmocka_unit_test(test_requests_fuzz),
        cmocka_unit_test(test_response_produce),
        cmocka_unit_test(test_response_small_apis),
        cmocka_unit_test(test_response_createtopics),
        cmocka_unit_test(test_response_metadata),
        cmocka_unit_test(test_response_metadata_flexible),
        cmocka_unit_test(test_response_metadata_old),
        cmocka_unit_test(test_unsupported_versions),
        cmocka_unit_test(test_response_describeconfigs),
        cmocka_unit_test(test_response_fetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
