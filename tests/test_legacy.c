/* tests/test_legacy.c: record/legacy.c and record/gzip.c: legacy message sets
 * (magic 0 and 1) up-converted to RecordBatch v2 (plain, gzip and lz4
 * wrappers, log-append-time wrappers, magic 0's broken LZ4 header checksum),
 * stored batches down-converted to magic 0/1 (offsets, timestamps, limits,
 * control batches, codecs), round trips, corrupt CRCs, truncated sets, and
 * mutated input. Messages are built here with zlib directly, independent of
 * the code under test. */
#include "testutil.h"

#include "record/record.h"

#include <stdlib.h>
#include <zlib.h>

enum { MAX_BYTES = 1 << 20, BUF_BYTES = 1 << 16 };

struct msg {
    int64_t ts; /* magic 1 */
    const char *key, *value; /* NULL = null */
};

/* Appends one message at *n; returns its start. */
static size_t put_msg(uint8_t *buf, size_t *n, int64_t offset, int magic, int attrs, int64_t ts, const void *key,
                      int32_t key_len, const void *value, int32_t value_len)
{
    size_t at = *n;
    uint8_t *p = buf + at;
    size_t body = 2 + (magic ? 8 : 0) + 4 + (size_t)WEIR_MAX(key_len, 0) + 4 + (size_t)WEIR_MAX(value_len, 0);
    weir_store_be64(p, (uint64_t)offset);
    weir_store_be32(p + 8, (uint32_t)(4 + body));
    size_t q = 16;
    p[q++] = (uint8_t)magic;
    p[q++] = (uint8_t)attrs;
    if (magic) weir_store_be64(p + q, (uint64_t)ts), q += 8;
    weir_store_be32(p + q, (uint32_t)key_len), q += 4;
    if (key_len > 0) memcpy(p + q, key, (size_t)key_len), q += (size_t)key_len;
    weir_store_be32(p + q, (uint32_t)value_len), q += 4;
    if (value_len > 0) memcpy(p + q, value, (size_t)value_len), q += (size_t)value_len;
    assert_int_equal(q, 12 + 4 + body);
    weir_store_be32(p + 12, (uint32_t)crc32(0, p + 16, (uInt)(q - 16)));
    *n += q;
    return at;
}

static int32_t slen(const char *s) { return s ? (int32_t)strlen(s) : -1; }

/* A plain set of msgs (offsets 0..n-1, or relative for a wrapper's inside). */
static size_t put_set(uint8_t *buf, int magic, const struct msg *m, size_t count)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        put_msg(buf, &n, (int64_t)i, magic, 0, m[i].ts, m[i].key, slen(m[i].key), m[i].value, slen(m[i].value));
    return n;
}

static size_t gzip_bytes(const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t out = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* A wrapper (codec attrs) around the inner set; value compressed here. */
static size_t put_wrapper(uint8_t *buf, int magic, int attrs, int64_t ts, const uint8_t *inner, size_t inner_len,
                          bool magic0_broken_hc)
{
    static uint8_t z[BUF_BYTES];
    size_t zn = 0;
    if ((attrs & 7) == WEIR_CODEC_GZIP) zn = gzip_bytes(inner, inner_len, z, sizeof z);
    if ((attrs & 7) == WEIR_CODEC_LZ4) {
        assert_int_equal(weir_lz4_compress(inner, inner_len, z, sizeof z, &zn), WEIR_OK);
        /* Old magic 0 writers hashed the magic number too (KAFKA-3160): a wrong HC. */
        if (magic0_broken_hc) z[6] ^= 0x5a;
    }
    if ((attrs & 7) == WEIR_CODEC_SNAPPY) /* xerial-framed, as old Java clients wrote it */
        assert_int_equal(weir_codec_compress(WEIR_CODEC_SNAPPY, -1, inner, inner_len, z, sizeof z, &zn), WEIR_OK);
    size_t n = 0;
    put_msg(buf, &n, (int64_t)inner_len, magic, attrs, ts, NULL, -1, z, (int32_t)zn);
    return n;
}

/* Iterates a v2 batch and checks it against msgs. */
static void check_batch(const uint8_t *b, size_t n, const struct msg *m, size_t count, int magic, int64_t ts_all,
                        enum weir_codec codec)
{
    struct weir_batch_header h; /* every check a producer's batch gets on append */
    assert_int_equal(weir_batch_check(b, n, MAX_BYTES, true, &h), WEIR_OK);
    assert_int_equal(WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length, n);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(h.records_count, (int32_t)count);
    assert_int_equal(h.attributes & WEIR_ATTR_CODEC_MASK, codec);
    assert_int_equal(h.producer_id, -1);
    uint8_t *scratch = NULL;
    size_t scap = 0;
    struct weir_record_iter it;
    assert_int_equal(weir_record_iter_init(&it, b, n, &scratch, &scap, MAX_BYTES), WEIR_OK);
    struct weir_record r;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(weir_record_iter_next(&it, &r), WEIR_OK);
        assert_int_equal(r.offset, (int64_t)i);
        assert_int_equal(r.timestamp, ts_all != INT64_MIN ? ts_all : magic ? m[i].ts : -1);
        assert_int_equal(r.key_len, slen(m[i].key));
        if (m[i].key && r.key_len > 0) assert_memory_equal(r.key, m[i].key, (size_t)r.key_len);
        assert_int_equal(r.value_len, slen(m[i].value));
        if (m[i].value && r.value_len > 0) assert_memory_equal(r.value, m[i].value, (size_t)r.value_len);
        assert_int_equal(r.headers_count, 0);
    }
    assert_int_equal(weir_record_iter_next(&it, &r), WEIR_E_NOT_FOUND);
    free(scratch);
}

static const struct msg msgs[] = {
    { 1700000000000, "k0", "v0" }, { 1700000000005, NULL, "no key" }, { 1699999999990, "k2", "" },
    { 1700000000001, "", NULL },   { 1700000000002, "key-four", "a longer value for record four" },
};
enum { N_MSGS = sizeof msgs / sizeof msgs[0] };

static void up_ok(uint8_t *set, size_t n, const struct msg *m, size_t count, int magic, int64_t ts_all,
                  enum weir_codec codec)
{
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(weir_legacy_upconvert(set, n, MAX_BYTES, &out, &out_len), WEIR_OK);
    check_batch(out, out_len, m, count, magic, ts_all, codec);
    free(out);
}

static enum weir_err up_err(uint8_t *set, size_t n, size_t max)
{
    uint8_t *out = (uint8_t *)0x1;
    size_t out_len = 7;
    enum weir_err err = weir_legacy_upconvert(set, n, max, &out, &out_len);
    if (err == WEIR_OK) free(out);
    else assert_ptr_equal(out, (uint8_t *)0x1); /* nothing allocated, nothing written */
    return err;
}

/* Plain sets of magic 0 and 1, and one of both mixed. */
static void test_up_plain(void **state)
{
    (void)state;
    static uint8_t set[BUF_BYTES];
    for (int magic = 0; magic <= 1; magic++) {
        size_t n = put_set(set, magic, msgs, N_MSGS);
        assert_true(weir_legacy_is_set(set, n));
        up_ok(set, n, msgs, N_MSGS, magic, INT64_MIN, WEIR_CODEC_NONE);
    }
    size_t n = 0;
    put_msg(set, &n, 0, 0, 0, 0, "a", 1, "b", 1);
    put_msg(set, &n, 1, 1, 0, 42, "c", 1, "d", 1);
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal(weir_legacy_upconvert(set, n, MAX_BYTES, &out, &out_len), WEIR_OK);
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(out, out_len, &h), WEIR_OK);
    assert_int_equal(h.records_count, 2);
    assert_int_equal(h.base_timestamp, -1); /* magic 0: no timestamp */
    assert_int_equal(h.max_timestamp, 42);
    free(out);
}

/* gzip and lz4 wrappers of both magics; a log-append-time wrapper's timestamp. */
static void test_up_wrappers(void **state)
{
    (void)state;
    static uint8_t inner[BUF_BYTES], set[BUF_BYTES];
    for (int magic = 0; magic <= 1; magic++) {
        size_t in = put_set(inner, magic, msgs, N_MSGS);
        size_t n = put_wrapper(set, magic, WEIR_CODEC_GZIP, 77, inner, in, false);
        up_ok(set, n, msgs, N_MSGS, magic, INT64_MIN, WEIR_CODEC_NONE);
        n = put_wrapper(set, magic, WEIR_CODEC_LZ4, 77, inner, in, magic == 0);
        up_ok(set, n, msgs, N_MSGS, magic, INT64_MIN, WEIR_CODEC_LZ4);
        n = put_wrapper(set, magic, WEIR_CODEC_SNAPPY, 77, inner, in, false);
        up_ok(set, n, msgs, N_MSGS, magic, INT64_MIN, WEIR_CODEC_NONE);
    }
    size_t in = put_set(inner, 1, msgs, N_MSGS);
    size_t n = put_wrapper(set, 1, WEIR_CODEC_GZIP | WEIR_ATTR_LOG_APPEND_TIME, 1234, inner, in, false);
    up_ok(set, n, msgs, N_MSGS, 1, 1234, WEIR_CODEC_NONE);
}

/* Every refusal names its cause; nothing is allocated. */
static void test_up_errors(void **state)
{
    (void)state;
    static uint8_t inner[BUF_BYTES], set[BUF_BYTES];
    size_t n = put_set(set, 1, msgs, N_MSGS);
    set[n - 3] ^= 1; /* a value byte of the last message */
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_CRC);
    assert_int_equal(up_err(set, 0, MAX_BYTES), WEIR_E_INVALID);
    /* An inner message's CRC, inside a gzip wrapper. */
    size_t in = put_set(inner, 1, msgs, N_MSGS);
    inner[in - 1] ^= 0x10;
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_CRC);
    /* Inner magic other than the wrapper's; nested compression. */
    in = put_set(inner, 0, msgs, N_MSGS);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_INVALID);
    size_t in2 = 0;
    put_msg(inner, &in2, 0, 1, WEIR_CODEC_GZIP, 0, NULL, -1, "x", 1);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in2, false);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_INVALID);
    /* Two wrappers; snappy that is not; zstd (never in magic 0/1); a magic 1 lz4 frame with a wrong header checksum;
     * gzip that is not; an empty wrapper; past max. */
    in = put_set(inner, 1, msgs, N_MSGS);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    size_t one = n;
    memcpy(set + n, set, one), n += one;
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_INVALID);
    n = 0;
    put_msg(set, &n, 0, 1, WEIR_CODEC_SNAPPY, 0, NULL, -1, "\xff\xff\xff\xff\xff not snappy", 16);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_CRC);
    n = 0;
    put_msg(set, &n, 0, 1, WEIR_CODEC_ZSTD, 0, NULL, -1, "zstd", 4);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_UNSUPPORTED);
    n = put_wrapper(set, 1, WEIR_CODEC_LZ4, 0, inner, in, true);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_CRC);
    n = 0;
    put_msg(set, &n, 0, 1, WEIR_CODEC_GZIP, 0, NULL, -1, "not gzip at all", 15);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_CRC);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, 0, false);
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_INVALID);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    assert_int_equal(up_err(set, n, in - 1), WEIR_E_TOO_LARGE);
    n = put_set(set, 1, msgs, N_MSGS);
    assert_int_equal(up_err(set, n, 40), WEIR_E_TOO_LARGE);
    /* Magic 2 is not legacy; magic 3 is refused. */
    n = put_set(set, 1, msgs, 1);
    set[16] = 3;
    assert_false(weir_legacy_is_set(set, n));
    assert_int_equal(up_err(set, n, MAX_BYTES), WEIR_E_INVALID);
}

/* Every prefix of a set: a whole number of messages converts, anything else is truncated. */
static void test_up_truncated(void **state)
{
    (void)state;
    static uint8_t set[BUF_BYTES], copy[BUF_BYTES];
    size_t bounds[N_MSGS + 1] = { 0 }, n = 0;
    for (size_t i = 0; i < N_MSGS; i++) {
        put_msg(set, &n, (int64_t)i, 1, 0, msgs[i].ts, msgs[i].key, slen(msgs[i].key), msgs[i].value,
                slen(msgs[i].value));
        bounds[i + 1] = n;
    }
    size_t whole = 0;
    for (size_t len = 1; len <= n; len++) {
        memcpy(copy, set, len);
        size_t k = 0;
        while (k <= N_MSGS && bounds[k] != len) k++;
        if (k <= N_MSGS) {
            up_ok(copy, len, msgs, k, 1, INT64_MIN, WEIR_CODEC_NONE);
            whole++;
        } else {
            assert_int_equal(up_err(copy, len, MAX_BYTES), WEIR_E_TRUNCATED);
        }
    }
    assert_int_equal(whole, N_MSGS);
    /* A wrapper cut anywhere. */
    static uint8_t inner[BUF_BYTES];
    size_t in = put_set(inner, 1, msgs, N_MSGS);
    n = put_wrapper(set, 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    for (size_t len = 1; len < n; len++) {
        memcpy(copy, set, len);
        assert_int_equal(up_err(copy, len, MAX_BYTES), WEIR_E_TRUNCATED);
    }
}

/* ---- down-conversion ---- */

struct parsed {
    int64_t offset, ts;
    int magic, attrs;
    const uint8_t *key, *value;
    int32_t key_len, value_len;
};

/* Parses a plain set back, checking every CRC with zlib; returns the count. */
static size_t parse_set(const uint8_t *p, size_t n, struct parsed *out, size_t max)
{
    size_t count = 0, pos = 0;
    while (pos < n) {
        assert_true(n - pos >= 26 && count < max);
        uint32_t size = weir_load_be32(p + pos + 8);
        assert_true(pos + 12 + size <= n);
        assert_int_equal(weir_load_be32(p + pos + 12), (uint32_t)crc32(0, p + pos + 16, size - 4));
        struct parsed *m = &out[count++];
        m->offset = (int64_t)weir_load_be64(p + pos);
        m->magic = p[pos + 16];
        m->attrs = p[pos + 17];
        size_t q = pos + 18;
        m->ts = m->magic ? (int64_t)weir_load_be64(p + q) : -1;
        q += m->magic ? 8 : 0;
        m->key_len = (int32_t)weir_load_be32(p + q), q += 4;
        m->key = m->key_len >= 0 ? p + q : NULL, q += (size_t)WEIR_MAX(m->key_len, 0);
        m->value_len = (int32_t)weir_load_be32(p + q), q += 4;
        m->value = m->value_len >= 0 ? p + q : NULL, q += (size_t)WEIR_MAX(m->value_len, 0);
        assert_int_equal(q, pos + 12 + size);
        pos = q;
    }
    return count;
}

/* A v2 batch of msgs (with a header each) at base offset `base`; codec none or lz4. */
static size_t v2_batch(uint8_t *buf, size_t cap, int64_t base, enum weir_codec codec)
{
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    struct weir_header hd = { (const uint8_t *)"h", 1, (const uint8_t *)"v", 1 };
    for (size_t i = 0; i < N_MSGS; i++)
        assert_int_equal(weir_batch_builder_add(&b, msgs[i].ts, msgs[i].key, slen(msgs[i].key), msgs[i].value,
                                                slen(msgs[i].value), &hd, 1),
                         WEIR_OK);
    size_t n = 0;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &n), WEIR_OK);
    weir_batch_set_base_offset(buf, base);
    return n;
}

/* Recompresses a v2 batch's records with gzip (or marks another codec) and re-CRCs it. */
static size_t v2_recodec(uint8_t *b, size_t n, int attrs_or)
{
    static uint8_t z[BUF_BYTES];
    size_t zn = n - 61;
    if ((attrs_or & 7) == WEIR_CODEC_GZIP) {
        zn = gzip_bytes(b + 61, n - 61, z, sizeof z);
        memcpy(b + 61, z, zn);
    }
    n = 61 + zn;
    weir_store_be32(b + 8, (uint32_t)(n - 12));
    weir_store_be16(b + 21, (uint16_t)(weir_load_be16(b + 21) | attrs_or));
    weir_store_be32(b + 17, weir_crc32c(0, b + 21, n - 21));
    return n;
}

static size_t down(const uint8_t *p, size_t n, int magic, int64_t first, size_t max, struct parsed *out,
                   uint8_t **buf, size_t *need, enum weir_err want)
{
    size_t cap = 0, len = 0;
    *buf = NULL;
    assert_int_equal(weir_legacy_downconvert(p, n, (int8_t)magic, first, max, MAX_BYTES, buf, &cap, &len, need), want);
    assert_true(len <= max && len <= cap);
    return parse_set(*buf, len, out, N_MSGS * 4);
}

static void check_down(const struct parsed *got, size_t count, int magic, int64_t base, size_t skip)
{
    for (size_t i = 0; i < count; i++) {
        const struct msg *m = &msgs[i + skip];
        assert_int_equal(got[i].offset, base + (int64_t)(i + skip));
        assert_int_equal(got[i].magic, magic);
        assert_int_equal(got[i].attrs, 0);
        assert_int_equal(got[i].ts, magic ? m->ts : -1);
        assert_int_equal(got[i].key_len, slen(m->key));
        assert_int_equal(got[i].value_len, slen(m->value));
        if (got[i].key_len > 0) assert_memory_equal(got[i].key, m->key, (size_t)got[i].key_len);
        if (got[i].value_len > 0) assert_memory_equal(got[i].value, m->value, (size_t)got[i].value_len);
    }
}

/* Two stored batches (none, then lz4 or gzip) down to magic 0 and 1; offsets absolute. */
static void test_down(void **state)
{
    (void)state;
    static uint8_t log[BUF_BYTES];
    struct parsed got[N_MSGS * 4];
    for (int codec = 0; codec < 2; codec++) {
        size_t n = v2_batch(log, sizeof log, 100, WEIR_CODEC_NONE);
        size_t n2 = v2_batch(log + n, sizeof log - n, 100 + N_MSGS, codec ? WEIR_CODEC_LZ4 : WEIR_CODEC_NONE);
        if (!codec) n2 = v2_recodec(log + n, n2, WEIR_CODEC_GZIP);
        n += n2;
        for (int magic = 0; magic <= 1; magic++) {
            uint8_t *buf;
            size_t need;
            size_t count = down(log, n, magic, 0, MAX_BYTES, got, &buf, &need, WEIR_OK);
            assert_int_equal(count, 2 * N_MSGS);
            assert_int_equal(need, 0);
            check_down(got, N_MSGS, magic, 100, 0);
            check_down(got + N_MSGS, N_MSGS, magic, 100 + N_MSGS, 0);
            free(buf);
            /* From offset 102: the first batch's first two records are dropped. */
            count = down(log, n, magic, 102, MAX_BYTES, got, &buf, &need, WEIR_OK);
            assert_int_equal(count, 2 * N_MSGS - 2);
            check_down(got, N_MSGS - 2, magic, 100, 2);
            free(buf);
            /* A partial batch at the end is not read. */
            count = down(log, n - 1, magic, 0, MAX_BYTES, got, &buf, &need, WEIR_OK);
            assert_int_equal(count, N_MSGS);
            free(buf);
        }
    }
}

/* max: whole messages only; need says how big the first one left out is. */
static void test_down_limits(void **state)
{
    (void)state;
    static uint8_t log[BUF_BYTES];
    struct parsed got[N_MSGS];
    size_t n = v2_batch(log, sizeof log, 0, WEIR_CODEC_NONE);
    uint8_t *buf;
    size_t need, first = 12 + 22 + 2 + 2; /* magic 1, "k0"/"v0" */
    assert_int_equal(down(log, n, 1, 0, first - 1, got, &buf, &need, WEIR_OK), 0);
    assert_int_equal(need, first);
    free(buf);
    assert_int_equal(down(log, n, 1, 0, first, got, &buf, &need, WEIR_OK), 1);
    assert_int_equal(need, 12 + 22 + 6); /* the second: null key, "no key" */
    free(buf);
    assert_int_equal(down(log, n, 0, 0, first, got, &buf, &need, WEIR_OK), 1); /* magic 0: 8 bytes fewer */
    free(buf);
}

/* Control batches are skipped; zstd and snappy cannot be read here. */
static void test_down_codecs(void **state)
{
    (void)state;
    static uint8_t log[BUF_BYTES];
    struct parsed got[N_MSGS * 2];
    uint8_t *buf;
    size_t need;
    size_t n = v2_batch(log, sizeof log, 0, WEIR_CODEC_NONE);
    n = v2_recodec(log, n, WEIR_ATTR_CONTROL);
    size_t n2 = v2_batch(log + n, sizeof log - n, N_MSGS, WEIR_CODEC_NONE);
    assert_int_equal(down(log, n + n2, 1, 0, MAX_BYTES, got, &buf, &need, WEIR_OK), N_MSGS);
    check_down(got, N_MSGS, 1, N_MSGS, 0);
    free(buf);
    /* snappy is decoded; plain records labelled snappy do not decode; zstd is never down-converted. */
    n = v2_batch(log, sizeof log, 0, WEIR_CODEC_SNAPPY);
    assert_int_equal(down(log, n, 1, 0, MAX_BYTES, got, &buf, &need, WEIR_OK), N_MSGS);
    check_down(got, N_MSGS, 1, 0, 0);
    free(buf);
    n = v2_batch(log, sizeof log, 0, WEIR_CODEC_NONE);
    n = v2_recodec(log, n, WEIR_CODEC_SNAPPY);
    assert_int_equal(down(log, n, 1, 0, MAX_BYTES, got, &buf, &need, WEIR_E_INVALID), 0);
    free(buf);
    n = v2_batch(log, sizeof log, 0, WEIR_CODEC_ZSTD);
    assert_int_equal(down(log, n, 1, 0, MAX_BYTES, got, &buf, &need, WEIR_E_UNSUPPORTED), 0);
    free(buf);
    /* A corrupt stored batch (gzip garbage). */
    n = v2_batch(log, sizeof log, 0, WEIR_CODEC_NONE);
    n = v2_recodec(log, n, WEIR_CODEC_GZIP);
    log[n - 5] ^= 0xff;
    weir_store_be32(log + 17, weir_crc32c(0, log + 21, n - 21));
    assert_int_equal(down(log, n, 1, 0, MAX_BYTES, got, &buf, &need, WEIR_E_INVALID), 0);
    free(buf);
}

/* v2 -> magic 1 -> v2 keeps offsets' order, keys, values and timestamps (headers go). */
static void test_round_trip(void **state)
{
    (void)state;
    static uint8_t log[BUF_BYTES];
    for (int magic = 0; magic <= 1; magic++) {
        size_t n = v2_batch(log, sizeof log, 0, WEIR_CODEC_LZ4);
        uint8_t *set = NULL;
        size_t cap = 0, len = 0, need = 0;
        assert_int_equal(weir_legacy_downconvert(log, n, (int8_t)magic, 0, MAX_BYTES, MAX_BYTES, &set, &cap, &len,
                                                 &need),
                         WEIR_OK);
        up_ok(set, len, msgs, N_MSGS, magic, INT64_MIN, WEIR_CODEC_NONE);
        free(set);
    }
}

/* Mutated sets and wrappers: any answer, never a crash or a leak (ASan). */
static void test_fuzz(void **state)
{
    (void)state;
    static uint8_t inner[BUF_BYTES], base[3][BUF_BYTES], set[BUF_BYTES + 64];
    size_t lens[3];
    lens[0] = put_set(base[0], 1, msgs, N_MSGS);
    size_t in = put_set(inner, 1, msgs, N_MSGS);
    lens[1] = put_wrapper(base[1], 1, WEIR_CODEC_GZIP, 0, inner, in, false);
    lens[2] = put_wrapper(base[2], 0, WEIR_CODEC_LZ4, 0, inner, put_set(inner, 0, msgs, N_MSGS), true);
    uint64_t rng = 0x1e9ac7;
    size_t ok = 0;
    for (int i = 0; i < 30000; i++) {
        size_t k = tu_rand(&rng) % 3;
        memcpy(set, base[k], lens[k]);
        size_t n = tu_mutate(set, lens[k], sizeof set, &rng);
        /* Fix the outer CRC half the time, so the mutation reaches inside. */
        if (n >= 26 && (tu_rand(&rng) & 1)) {
            uint32_t size = weir_load_be32(set + 8);
            if (size >= 4 && size <= n - 12) weir_store_be32(set + 12, (uint32_t)crc32(0, set + 16, size - 4));
        }
        uint8_t *out = NULL;
        size_t out_len = 0;
        if (weir_legacy_upconvert(set, n, 1 << 16, &out, &out_len) == WEIR_OK) {
            size_t len = 0;
            assert_int_equal(weir_batch_validate(out, out_len, MAX_BYTES, true, &len), WEIR_OK);
            free(out);
            ok++;
        }
    }
    print_message("%zu of 30000 mutated sets converted\n", ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_up_plain),    cmocka_unit_test(test_up_wrappers), cmocka_unit_test(test_up_errors),
        cmocka_unit_test(test_up_truncated), cmocka_unit_test(test_down),       cmocka_unit_test(test_down_limits),
        cmocka_unit_test(test_down_codecs), cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
