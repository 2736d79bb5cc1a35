/* tests/test_base.c: base/: CRC-32C, the byte cursor, the arena, the error table. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- CRC-32C ---------------------------------------------------------------- */

/* RFC 3720 (iSCSI) B.4 vectors and the standard check value. */
static void test_crc32c_vectors(void **state)
{
    (void)state;
    uint8_t zeros[32], ones[32], up[32], down[32];
    for (int i = 0; i < 32; i++) {
        zeros[i] = 0;
        ones[i] = 0xff;
        up[i] = (uint8_t)i;
        down[i] = (uint8_t)(31 - i);
    }
    static const struct {
        const char *name;
        uint32_t want;
    } names[] = {
        { "123456789", 0xe3069283u }, { "32 zeros", 0x8a9136aau }, { "32 x ff", 0x62a8ab43u },
        { "0..31", 0x46dd794eu },     { "31..0", 0x113fdb5cu },
    };
    const uint8_t *bufs[] = { (const uint8_t *)"123456789", zeros, ones, up, down };
    const size_t lens[] = { 9, 32, 32, 32, 32 };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(names); i++) {
        print_message("crc32c %s\n", names[i].name);
        assert_int_equal(weir_crc32c(0, bufs[i], lens[i]), names[i].want);
        assert_int_equal(weir_crc32c_portable(0, bufs[i], lens[i]), names[i].want);
    }
    assert_int_equal(weir_crc32c(0, NULL, 0), 0);
    assert_int_equal(weir_crc32c(0x12345678, "", 0), 0x12345678);
}

static uint8_t *random_buf(size_t n, uint64_t *seed)
{
    uint8_t *p = weir_malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)tu_rand(seed);
    return p;
}

/* The hardware path (3 streams, shift tables, unaligned head) equals the table path. */
static void test_crc32c_hw_matches_portable(void **state)
{
    (void)state;
    if (!weir_crc32c_hw_available()) print_message("no SSE4.2: weir_crc32c is the portable path\n");
    uint64_t seed = 42;
    uint8_t *buf = random_buf(200000 + 8, &seed);
    for (size_t n = 0; n <= 2000; n++) {
        size_t align = n & 7;
        uint32_t init = (uint32_t)tu_rand(&seed);
        assert_int_equal(weir_crc32c(init, buf + align, n), weir_crc32c_portable(init, buf + align, n));
        assert_int_equal(weir_crc32c(0, buf + align, n), weir_crc32c_portable(0, buf + align, n));
    }
    static const size_t big[] = { 767, 768, 769, 24575, 24576, 24577, 25343, 49152 + 768 + 7, 65536, 131072 + 5,
                                   200000 };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(big); i++)
        for (size_t align = 0; align < 8; align++)
            assert_int_equal(weir_crc32c(0, buf + align, big[i]), weir_crc32c_portable(0, buf + align, big[i]));
    weir_free(buf);
}

/* Continuing a CRC over pieces gives the one-shot CRC, however it is split. */
static void test_crc32c_incremental(void **state)
{
    (void)state;
    uint64_t seed = 7;
    size_t n = 100000;
    uint8_t *buf = random_buf(n, &seed);
    uint32_t whole = weir_crc32c(0, buf, n);
    for (int round = 0; round < 200; round++) {
        uint32_t crc = 0, crc_portable = 0;
        size_t pos = 0;
        while (pos < n) {
            size_t step = (size_t)(tu_rand(&seed) % (round < 100 ? 64 : 30000)); /* 0-length pieces too */
            step = WEIR_MIN(step, n - pos);
            crc = weir_crc32c(crc, buf + pos, step);
            crc_portable = weir_crc32c_portable(crc_portable, buf + pos, step);
            pos += step;
        }
        assert_int_equal(crc, whole);
        assert_int_equal(crc_portable, whole);
    }
    weir_free(buf);
}

/* ---- the reader ---------------------------------------------------------------- */

enum rd_kind { RD_U8, RD_I16, RD_I32, RD_I64 };

static const struct {
    const char *name;
    enum rd_kind kind;
    uint8_t in[9];
    size_t len;
    int64_t want;
    enum weir_err err;
} be_cases[] = {
    { "u8", RD_U8, { 0xfe }, 1, 0xfe, WEIR_OK },
    { "u8 empty", RD_U8, { 0 }, 0, 0, WEIR_E_TRUNCATED },
    { "i16 256", RD_I16, { 0x01, 0x00 }, 2, 256, WEIR_OK },
    { "i16 -2", RD_I16, { 0xff, 0xfe }, 2, -2, WEIR_OK },
    { "i16 truncated", RD_I16, { 0x01 }, 1, 0, WEIR_E_TRUNCATED },
    { "i32 0x01020304", RD_I32, { 1, 2, 3, 4 }, 4, 0x01020304, WEIR_OK },
    { "i32 min", RD_I32, { 0x80, 0, 0, 0 }, 4, INT32_MIN, WEIR_OK },
    { "i32 -1", RD_I32, { 0xff, 0xff, 0xff, 0xff }, 4, -1, WEIR_OK },
    { "i32 truncated", RD_I32, { 0, 0, 1 }, 3, 0, WEIR_E_TRUNCATED },
    { "i64", RD_I64, { 1, 2, 3, 4, 5, 6, 7, 8 }, 8, 0x0102030405060708ll, WEIR_OK },
    { "i64 min", RD_I64, { 0x80, 0, 0, 0, 0, 0, 0, 0 }, 8, INT64_MIN, WEIR_OK },
    { "i64 max", RD_I64, { 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8, INT64_MAX, WEIR_OK },
    { "i64 truncated", RD_I64, { 1, 2, 3, 4, 5, 6, 7 }, 7, 0, WEIR_E_TRUNCATED },
};

static int64_t rd_one(struct weir_rd *rd, enum rd_kind kind)
{
    switch (kind) {
    case RD_U8: return weir_rd_u8(rd);
    case RD_I16: return weir_rd_i16(rd);
    case RD_I32: return weir_rd_i32(rd);
    case RD_I64: return weir_rd_i64(rd);
    }
    return 0;
}

static void test_rd_big_endian(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(be_cases); i++) {
        print_message("%s\n", be_cases[i].name);
        struct weir_rd rd = weir_rd_make(be_cases[i].in, be_cases[i].len);
        int64_t got = rd_one(&rd, be_cases[i].kind);
        assert_int_equal(rd.err, be_cases[i].err);
        assert_int_equal(got, be_cases[i].want);
        if (rd.err == WEIR_OK) assert_int_equal(weir_rd_left(&rd), 0);
        else assert_int_equal(weir_rd_left(&rd), be_cases[i].len); /* a failed read consumes nothing */
    }
}

/* The first failure sticks: later reads return 0 even when bytes remain. */
static void test_rd_truncation_sticky(void **state)
{
    (void)state;
    const uint8_t in[] = { 0x11, 0x22, 0x33 };
    struct weir_rd rd = weir_rd_make(in, sizeof in);
    assert_int_equal(weir_rd_i16(&rd), 0x1122);
    assert_int_equal(weir_rd_i32(&rd), 0);
    assert_int_equal(rd.err, WEIR_E_TRUNCATED);
    assert_int_equal(weir_rd_u8(&rd), 0);
    assert_null(weir_rd_bytes(&rd, 1));
    assert_int_equal(weir_rd_varint(&rd), 0);
    assert_int_equal(weir_rd_left(&rd), 1);
    assert_int_equal(rd.err, WEIR_E_TRUNCATED);

    struct weir_rd rb = weir_rd_make(in, sizeof in);
    const uint8_t *p = weir_rd_bytes(&rb, 2);
    assert_ptr_equal(p, in);
    assert_non_null(weir_rd_bytes(&rb, 0));
    assert_null(weir_rd_bytes(&rb, 2));
    assert_int_equal(rb.err, WEIR_E_TRUNCATED);
}

enum vkind { V_ZIGZAG32, V_ZIGZAG64, V_UNSIGNED32, V_UNSIGNED64 };

static const struct {
    const char *name;
    enum vkind kind;
    uint8_t in[12];
    size_t len;
    int64_t want;
    enum weir_err err;
} varint_cases[] = {
    { "0 -> 00", V_ZIGZAG32, { 0x00 }, 1, 0, WEIR_OK },
    { "-1 -> 01", V_ZIGZAG32, { 0x01 }, 1, -1, WEIR_OK },
    { "1 -> 02", V_ZIGZAG32, { 0x02 }, 1, 1, WEIR_OK },
    { "-2 -> 03", V_ZIGZAG32, { 0x03 }, 1, -2, WEIR_OK },
    { "64 -> 80 01", V_ZIGZAG32, { 0x80, 0x01 }, 2, 64, WEIR_OK },
    { "-65 -> 81 01", V_ZIGZAG32, { 0x81, 0x01 }, 2, -65, WEIR_OK },
    { "int32 max", V_ZIGZAG32, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5, INT32_MAX, WEIR_OK },
    { "int32 min", V_ZIGZAG32, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, INT32_MIN, WEIR_OK },
    { "varint bit 32 set", V_ZIGZAG32, { 0xff, 0xff, 0xff, 0xff, 0x1f }, 5, 0, WEIR_E_INVALID },
    { "varint 6 bytes", V_ZIGZAG32, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 6, 0, WEIR_E_INVALID },
    { "varint truncated", V_ZIGZAG32, { 0x80, 0x80 }, 2, 0, WEIR_E_TRUNCATED },
    { "varint empty", V_ZIGZAG32, { 0 }, 0, 0, WEIR_E_TRUNCATED },
    { "varlong 64", V_ZIGZAG64, { 0x80, 0x01 }, 2, 64, WEIR_OK },
    { "int64 max", V_ZIGZAG64, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10, INT64_MAX,
      WEIR_OK },
    { "int64 min", V_ZIGZAG64, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10, INT64_MIN,
      WEIR_OK },
    { "varlong bit 64 set", V_ZIGZAG64, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 }, 10, 0,
      WEIR_E_INVALID },
    { "varlong 11 bytes", V_ZIGZAG64, { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 11, 0,
      WEIR_E_INVALID },
    { "varlong truncated", V_ZIGZAG64, { 0xff, 0xff, 0xff }, 3, 0, WEIR_E_TRUNCATED },
    { "unsigned 127", V_UNSIGNED32, { 0x7f }, 1, 127, WEIR_OK },
    { "unsigned 128", V_UNSIGNED32, { 0x80, 0x01 }, 2, 128, WEIR_OK },
    { "unsigned 300 -> ac 02", V_UNSIGNED32, { 0xac, 0x02 }, 2, 300, WEIR_OK },
    { "unsigned 32 max", V_UNSIGNED32, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, UINT32_MAX, WEIR_OK },
    { "unsigned 33 bits", V_UNSIGNED32, { 0xff, 0xff, 0xff, 0xff, 0x10 }, 5, 0, WEIR_E_INVALID },
    { "unsigned 64 max", V_UNSIGNED64, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10, -1,
      WEIR_OK },
};

static int64_t rd_varint_kind(struct weir_rd *rd, enum vkind kind)
{
    switch (kind) {
    case V_ZIGZAG32: return weir_rd_varint(rd);
    case V_ZIGZAG64: return weir_rd_varlong(rd);
    case V_UNSIGNED32: return (int64_t)weir_rd_uvarint(rd, 32);
    case V_UNSIGNED64: return (int64_t)weir_rd_uvarint(rd, 64);
    }
    return 0;
}

static void wr_varint_kind(struct weir_wr *wr, enum vkind kind, int64_t v)
{
    switch (kind) {
    case V_ZIGZAG32: weir_wr_varint(wr, (int32_t)v); break;
    case V_ZIGZAG64: weir_wr_varlong(wr, v); break;
    case V_UNSIGNED32:
    case V_UNSIGNED64: weir_wr_uvarint(wr, (uint64_t)v); break;
    }
}

/* Decodes each case; the valid ones must also encode back to the same bytes. */
static void test_varint_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(varint_cases); i++) {
        print_message("%s\n", varint_cases[i].name);
        struct weir_rd rd = weir_rd_make(varint_cases[i].in, varint_cases[i].len);
        int64_t got = rd_varint_kind(&rd, varint_cases[i].kind);
        assert_int_equal(rd.err, varint_cases[i].err);
        assert_int_equal(got, varint_cases[i].want);
        if (rd.err != WEIR_OK) continue;
        assert_int_equal(weir_rd_left(&rd), 0);
        uint8_t out[16];
        struct weir_wr wr = weir_wr_make(out, sizeof out);
        wr_varint_kind(&wr, varint_cases[i].kind, varint_cases[i].want);
        assert_int_equal(wr.err, WEIR_OK);
        assert_int_equal(weir_wr_len(&wr), varint_cases[i].len);
        assert_memory_equal(out, varint_cases[i].in, varint_cases[i].len);
    }
}

static void test_varint_round_trip(void **state)
{
    (void)state;
    int64_t fixed[] = { 0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, INT32_MAX, INT32_MIN, INT32_MAX - 1,
                        INT32_MIN + 1, (int64_t)INT32_MAX + 1, (int64_t)INT32_MIN - 1, INT64_MAX, INT64_MIN,
                        INT64_MAX - 1, INT64_MIN + 1 };
    uint64_t seed = 3;
    for (int i = 0; i < 20000; i++) {
        int64_t v = i < (int)WEIR_ARRAY_LEN(fixed) ? fixed[i]
                                                   : (int64_t)(tu_rand(&seed) >> (tu_rand(&seed) % 64));
        if (i & 1) v = ~v; /* -v - 1, without overflow */
        uint8_t buf[32];
        struct weir_wr wr = weir_wr_make(buf, sizeof buf);
        weir_wr_varlong(&wr, v);
        assert_int_equal(weir_wr_len(&wr), weir_varlong_len(v));
        bool fits32 = v >= INT32_MIN && v <= INT32_MAX;
        if (fits32) weir_wr_varint(&wr, (int32_t)v);
        weir_wr_uvarint(&wr, (uint64_t)v);
        assert_int_equal(wr.err, WEIR_OK);
        struct weir_rd rd = weir_rd_make(buf, weir_wr_len(&wr));
        assert_int_equal(weir_rd_varlong(&rd), v);
        if (fits32) assert_int_equal(weir_rd_varint(&rd), v);
        assert_int_equal(weir_rd_uvarint(&rd, 64), (uint64_t)v);
        assert_int_equal(rd.err, WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
    }
}

/* The writer's first overflow sticks: nothing more is written, even what would fit. */
static void test_wr_overflow_sticky(void **state)
{
    (void)state;
    uint8_t buf[8];
    memset(buf, 0xaa, sizeof buf);
    struct weir_wr wr = weir_wr_make(buf, 5);
    weir_wr_i16(&wr, 0x0102);
    weir_wr_i32(&wr, 0x03040506);
    assert_int_equal(wr.err, WEIR_E_TOO_LARGE);
    assert_int_equal(weir_wr_len(&wr), 2);
    weir_wr_u8(&wr, 0x77);
    weir_wr_bytes(&wr, "x", 1);
    weir_wr_varint(&wr, 1);
    assert_null(weir_wr_reserve(&wr, 0));
    assert_int_equal(wr.err, WEIR_E_TOO_LARGE);
    assert_int_equal(weir_wr_len(&wr), 2);
    const uint8_t want[] = { 0x01, 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa };
    assert_memory_equal(buf, want, sizeof want);

    struct weir_wr w2 = weir_wr_make(buf, 8);
    weir_wr_i64(&w2, -2);
    assert_int_equal(w2.err, WEIR_OK);
    assert_int_equal(weir_load_be64(buf), (uint64_t)-2);
    weir_wr_varint(&w2, 0);
    assert_int_equal(w2.err, WEIR_E_TOO_LARGE);
}

/* ---- arena ---------------------------------------------------------------------- */

static void test_arena(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 256), WEIR_OK);
    uint8_t *p1 = weir_arena_alloc(&a, 1);
    uint8_t *p2 = weir_arena_alloc(&a, 17);
    uint8_t *p3 = weir_arena_alloc(&a, 16);
    assert_non_null(p1);
    assert_ptr_equal(p2, p1 + 16); /* sizes round up to 16 */
    assert_ptr_equal(p3, p2 + 32);
    assert_int_equal((uintptr_t)p1 % 16, (uintptr_t)p3 % 16);
    assert_int_equal(a.used, 64);
    memset(p1, 1, 1);
    memset(p2, 2, 17);
    memset(p3, 3, 16);
    assert_null(weir_arena_alloc(&a, 193)); /* 208 > 192 left */
    assert_int_equal(a.used, 64);
    uint8_t *p4 = weir_arena_alloc(&a, 192);
    assert_ptr_equal(p4, p3 + 16);
    assert_null(weir_arena_alloc(&a, 1));
    assert_int_equal(a.used, 256);
    weir_arena_reset(&a);
    assert_null(weir_arena_alloc(&a, SIZE_MAX));      /* no wrap to a 0-byte block */
    assert_null(weir_arena_alloc(&a, SIZE_MAX - 14));
    assert_int_equal(a.used, 0);
    assert_ptr_equal(weir_arena_alloc(&a, 256), p1);
    weir_arena_destroy(&a);
    assert_null(a.base);
    assert_int_equal(a.cap, 0);
}

static void test_arena_growable(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init_growable(&a, 64, 1024), WEIR_OK);
    uint8_t *first = weir_arena_alloc(&a, 48);
    assert_non_null(first);
    uint8_t *p = weir_arena_alloc(&a, 100); /* does not fit the first block: a new one */
    assert_non_null(p);
    memset(p, 7, 100);
    memset(first, 1, 48);
    assert_true(a.total <= 1024);
    size_t got = 0;
    while (weir_arena_alloc(&a, 64)) got += 64;
    assert_true(got > 0 && a.total <= 1024); /* bounded by the limit */
    assert_null(weir_arena_alloc(&a, 2048));
    weir_arena_reset(&a);
    assert_int_equal(a.total, 64);               /* back to the first block */
    assert_ptr_equal(weir_arena_alloc(&a, 16), first);
    weir_arena_destroy(&a);
    assert_null(a.base);
}

/* ---- errors ---------------------------------------------------------------------- */

static void test_err_str(void **state)
{
    (void)state;
    for (int e = 0; e >= WEIR_E_LAST; e--) {
        const char *s = weir_err_str((enum weir_err)e);
        assert_non_null(s);
        assert_true(strncmp(s, "WEIR_", 5) == 0);
        for (int f = 0; f > e; f--) assert_string_not_equal(s, weir_err_str((enum weir_err)f));
        /* what users read: the same text without the enum name */
        const char *t = weir_err_text((enum weir_err)e);
        assert_null(strstr(t, "WEIR_"));
        assert_true(t[0] != '\0' && t[0] != ' ');
        assert_string_equal(s + strlen(s) - strlen(t), t);
    }
    assert_non_null(weir_err_str((enum weir_err)1));
    assert_null(strstr(weir_err_text((enum weir_err)1), "WEIR_"));
    assert_non_null(weir_err_str((enum weir_err)(WEIR_E_LAST - 1)));
}

static void test_log_ratelimited(void **state)
{
    (void)state;
    struct weir_ratelimit rl = { 0 };
    assert_true(weir_log_ratelimited(&rl, 60000, WEIR_LOG_ERROR, "repeated %d", 1));
    assert_false(weir_log_ratelimited(&rl, 60000, WEIR_LOG_ERROR, "repeated %d", 2));
    assert_false(weir_log_ratelimited(&rl, 60000, WEIR_LOG_ERROR, "repeated %d", 3));
    assert_int_equal(rl.suppressed, 2);
    rl.next_ms = 0; /* the interval passed: the next line says "(2 similar suppressed)" */
    assert_true(weir_log_ratelimited(&rl, 60000, WEIR_LOG_ERROR, "repeated %d", 4));
    assert_int_equal(rl.suppressed, 0);
}

/* Kafka's Uuid text: base64url, no padding (Uuid.toString / fromString). */
static void test_uuid_text(void **state)
{
    (void)state;
    char t[WEIR_UUID_TEXT_CAP];
    struct weir_uuid u = { { 0 } }, back;
    weir_uuid_text(&u, t);
    assert_string_equal(t, "AAAAAAAAAAAAAAAAAAAAAA"); /* Uuid.ZERO_UUID */
    assert_true(weir_uuid_is_zero(&u));
    u.b[15] = 1;
    weir_uuid_text(&u, t);
    assert_string_equal(t, "AAAAAAAAAAAAAAAAAAAAAQ"); /* Uuid.METADATA_TOPIC_ID */
    for (int i = 0; i < 16; i++) u.b[i] = (uint8_t)(0xf0 + i);
    weir_uuid_text(&u, t);
    assert_string_equal(t, "8PHy8_T19vf4-fr7_P3-_w");
    assert_true(weir_uuid_parse(t, &back));
    assert_true(weir_uuid_eq(&u, &back));
    assert_false(weir_uuid_parse("8PHy8_T19vf4-fr7_P3-_x", &back)); /* bits past byte 16 */
    assert_false(weir_uuid_parse("8PHy8_T19vf4-fr7_P3-_", &back));
    assert_false(weir_uuid_parse("8PHy8_T19vf4-fr7_P3-_w=", &back));
    assert_false(weir_uuid_parse("8PHy8+T19vf4-fr7_P3-_w", &back)); /* '+' is not base64url */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(weir_uuid_random(&u), WEIR_OK);
        assert_int_equal(u.b[6] >> 4, 4);
        weir_uuid_text(&u, t);
        assert_int_equal(strlen(t), 22);
        assert_true(t[0] != '-');
        assert_true(weir_uuid_parse(t, &back) && weir_uuid_eq(&u, &back));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_hw_matches_portable),
        cmocka_unit_test(test_crc32c_incremental),
        cmocka_unit_test(test_rd_big_endian),
        cmocka_unit_test(test_rd_truncation_sticky),
        cmocka_unit_test(test_varint_cases),
        cmocka_unit_test(test_varint_round_trip),
        cmocka_unit_test(test_wr_overflow_sticky),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_growable),
        cmocka_unit_test(test_err_str),
        cmocka_unit_test(test_log_ratelimited),
        cmocka_unit_test(test_uuid_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
