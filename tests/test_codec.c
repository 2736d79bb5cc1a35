/* tests/test_codec.c: record/codec.c: Kafka's four codecs (gzip, snappy,
 * lz4, zstd) through weir_codec_*: round trips at each level range's ends,
 * the bound on output (zip bombs), snappy read raw and xerial-framed, zstd
 * frames without a content size and back to back, every truncation and
 * byte flips of compressed data (an error or a result, never a crash); and
 * batches: the builder with each codec, weir_batch_records_check, and
 * weir_batch_recompress between every pair of codecs keeping the header. */
#include "testutil.h"

#include "engine/engine.h"
#include "record/record.h"

#include <snappy-c.h>
#include <stdio.h>
#include <zstd.h>

enum { DATA_BYTES = 300 * 1000, MAX_OUT = 8 << 20 };

static const enum weir_codec codecs[] = { WEIR_CODEC_GZIP, WEIR_CODEC_SNAPPY, WEIR_CODEC_LZ4, WEIR_CODEC_ZSTD };
static const enum weir_codec all_codecs[] = { WEIR_CODEC_NONE, WEIR_CODEC_GZIP, WEIR_CODEC_SNAPPY, WEIR_CODEC_LZ4,
                                              WEIR_CODEC_ZSTD };

/* Half text (compressible), half random. */
static uint8_t *data_make(size_t n, uint64_t seed)
{
    uint8_t *p = weir_malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = i < n / 2 ? (uint8_t)("weir log broker, kafka wire "[i % 28] + (i % 977 == 0)) : (uint8_t)tu_rand(&seed);
    return p;
}

static uint8_t *pack(enum weir_codec c, int level, const uint8_t *src, size_t n, size_t *clen)
{
    size_t cap = weir_codec_bound(c, n);
    uint8_t *dst = weir_malloc(cap);
    assert_non_null(dst);
    assert_int_equal(weir_codec_compress(c, level, src, n, dst, cap, clen), WEIR_OK);
    assert_true(*clen <= cap);
    return dst;
}

static void round_trip(enum weir_codec c, int level, const uint8_t *src, size_t n)
{
    size_t clen = 0, out = 0, cap = 0;
    uint8_t *z = pack(c, level, src, n, &clen), *dst = NULL;
    enum weir_err err = weir_codec_decompress(c, z, clen, &dst, &cap, MAX_OUT, &out);
    if (err != WEIR_OK) print_message("%s level %d size %zu: %s\n", weir_codec_name(c), level, n, weir_err_str(err));
    assert_int_equal(err, WEIR_OK);
    assert_int_equal(out, n);
    if (n) assert_memory_equal(dst, src, n);
    /* Exactly n allowed: fine; one less: too large. */
    if (n > 0) {
        size_t out2 = 0;
        assert_int_equal(weir_codec_decompress(c, z, clen, &dst, &cap, n, &out2), WEIR_OK);
        assert_int_equal(out2, n);
        uint8_t *d2 = NULL;
        size_t cap2 = 0;
        assert_int_equal(weir_codec_decompress(c, z, clen, &d2, &cap2, n - 1, &out2), WEIR_E_TOO_LARGE);
        assert_true(cap2 <= n - 1);
        weir_free(d2);
    }
    weir_free(dst);
    weir_free(z);
}

static void test_round_trips(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 100, 32767, 32768, 32769, 65536, 100001, DATA_BYTES };
    static const struct {
        enum weir_codec c;
        int levels[4];
    } cases[] = {
        { WEIR_CODEC_GZIP, { -1, 1, 9, -1 } },
        { WEIR_CODEC_SNAPPY, { -1, -1, -1, -1 } },
        { WEIR_CODEC_LZ4, { -1, 1, 9, 17 } },
        { WEIR_CODEC_ZSTD, { -1, -131072, 1, 19 } },
    };
    uint8_t *data = data_make(DATA_BYTES, 7);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++)
        for (size_t l = 0; l < 4; l++)
            for (size_t s = 0; s < WEIR_ARRAY_LEN(sizes); s++) round_trip(cases[i].c, cases[i].levels[l], data, sizes[s]);
    round_trip(WEIR_CODEC_ZSTD, 22, data, 100001);
    weir_free(data);
}

static void test_levels_and_names(void **state)
{
    (void)state;
    assert_true(weir_codec_level_valid(WEIR_CODEC_GZIP, 1) && weir_codec_level_valid(WEIR_CODEC_GZIP, 9));
    assert_false(weir_codec_level_valid(WEIR_CODEC_GZIP, 0) || weir_codec_level_valid(WEIR_CODEC_GZIP, 10));
    assert_true(weir_codec_level_valid(WEIR_CODEC_LZ4, 17) && !weir_codec_level_valid(WEIR_CODEC_LZ4, 18));
    assert_false(weir_codec_level_valid(WEIR_CODEC_LZ4, 0));
    assert_true(weir_codec_level_valid(WEIR_CODEC_ZSTD, -131072) && weir_codec_level_valid(WEIR_CODEC_ZSTD, 22));
    assert_false(weir_codec_level_valid(WEIR_CODEC_ZSTD, -131073) || weir_codec_level_valid(WEIR_CODEC_ZSTD, 23));
    assert_true(weir_codec_level_valid(WEIR_CODEC_SNAPPY, -1) && !weir_codec_level_valid(WEIR_CODEC_SNAPPY, 1));
    assert_true(weir_codec_level_valid(WEIR_CODEC_NONE, -1) && !weir_codec_level_valid(WEIR_CODEC_NONE, 3));
    for (size_t i = 0; i < WEIR_ARRAY_LEN(all_codecs); i++) {
        enum weir_codec c = WEIR_CODEC_ZSTD;
        assert_int_equal(weir_codec_parse(weir_codec_name(all_codecs[i]), &c), WEIR_OK);
        assert_int_equal(c, all_codecs[i]);
    }
    enum weir_codec c;
    assert_int_equal(weir_codec_parse("brotli", &c), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_codec_parse("producer", &c), WEIR_E_BAD_CONFIG);
    uint8_t in[4] = { 1, 2, 3, 4 }, out[128];
    size_t n;
    assert_int_equal(weir_codec_compress(WEIR_CODEC_GZIP, 10, in, 4, out, sizeof out, &n), WEIR_E_BAD_CONFIG);
    assert_int_equal(weir_codec_compress(WEIR_CODEC_NONE, -1, in, 4, out, sizeof out, &n), WEIR_E_UNSUPPORTED);
    uint8_t *d = NULL;
    size_t cap = 0;
    assert_int_equal(weir_codec_decompress((enum weir_codec)5, in, 4, &d, &cap, 100, &n), WEIR_E_UNSUPPORTED);
}

/* 64 MiB of zeros: each codec's bomb stops at max, with at most max bytes held. */
static void test_bombs(void **state)
{
    (void)state;
    size_t n = 64u << 20, max = 1u << 20;
    uint8_t *zeros = weir_calloc(1, n);
    assert_non_null(zeros);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(codecs); i++) {
        size_t clen = 0, out = 0, cap = 0;
        uint8_t *z = pack(codecs[i], -1, zeros, n, &clen), *dst = NULL;
        print_message("%s: 64 MiB of zeros in %zu bytes\n", weir_codec_name(codecs[i]), clen);
        assert_int_equal(weir_codec_decompress(codecs[i], z, clen, &dst, &cap, max, &out), WEIR_E_TOO_LARGE);
        assert_true(cap <= max);
        weir_free(dst);
        weir_free(z);
    }
    /* A raw snappy block that claims 2 GiB: refused before any allocation. */
    uint8_t claim[] = { 0x80, 0x80, 0x80, 0x80, 0x08, 0x00 };
    uint8_t *dst = NULL;
    size_t cap = 0, out = 0;
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_SNAPPY, claim, sizeof claim, &dst, &cap, max, &out),
                     WEIR_E_TOO_LARGE);
    assert_int_equal(cap, 0);
    weir_free(zeros);
}

static void test_snappy_raw_and_xerial(void **state)
{
    (void)state;
    size_t n = 100000, clen = snappy_max_compressed_length(n), out = 0, cap = 0;
    uint8_t *data = data_make(n, 3), *raw = weir_malloc(clen), *dst = NULL;
    assert_int_equal(snappy_compress((const char *)data, n, (char *)raw, &clen), SNAPPY_OK);
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_SNAPPY, raw, clen, &dst, &cap, MAX_OUT, &out), WEIR_OK);
    assert_int_equal(out, n);
    assert_memory_equal(dst, data, n);
    /* Ours is xerial-framed: the magic, version 1, compatible 1, then 32 KiB blocks. */
    size_t xlen = 0;
    uint8_t *x = pack(WEIR_CODEC_SNAPPY, -1, data, n, &xlen);
    static const uint8_t head[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 };
    assert_memory_equal(x, head, 16);
    size_t blocks = 0;
    for (size_t pos = 16; pos < xlen; blocks++) pos += 4 + weir_load_be32(x + pos);
    assert_int_equal(blocks, (n + 32767) / 32768);
    /* A block length past the end, and a zero one: invalid. */
    weir_store_be32(x + 16, (uint32_t)xlen);
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_SNAPPY, x, xlen, &dst, &cap, MAX_OUT, &out), WEIR_E_INVALID);
    weir_store_be32(x + 16, 0);
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_SNAPPY, x, xlen, &dst, &cap, MAX_OUT, &out), WEIR_E_INVALID);
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_SNAPPY, x, 0, &dst, &cap, MAX_OUT, &out), WEIR_E_INVALID);
    weir_free(x);
    weir_free(dst);
    weir_free(raw);
    weir_free(data);
}

/* Java's ZstdOutputStream writes frames without a content size. */
static void test_zstd_streamed_frames(void **state)
{
    (void)state;
    size_t n = 200000, cap = ZSTD_compressBound(n) * 2 + 64, out = 0, dcap = 0;
    uint8_t *data = data_make(n, 5), *z = weir_malloc(cap), *dst = NULL;
    size_t zlen = 0;
    for (int frame = 0; frame < 2; frame++) {
        ZSTD_CStream *cs = ZSTD_createCStream();
        ZSTD_initCStream(cs, 3);
        ZSTD_inBuffer in = { data, n, 0 };
        ZSTD_outBuffer o = { z + zlen, cap - zlen, 0 };
        assert_false(ZSTD_isError(ZSTD_compressStream(cs, &o, &in)));
        assert_int_equal(ZSTD_endStream(cs, &o), 0);
        ZSTD_freeCStream(cs);
        assert_true(ZSTD_getFrameContentSize(z + zlen, o.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
        zlen += o.pos;
    }
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_ZSTD, z, zlen, &dst, &dcap, MAX_OUT, &out), WEIR_OK);
    assert_int_equal(out, 2 * n);
    assert_memory_equal(dst, data, n);
    assert_memory_equal(dst + n, data, n);
    assert_int_equal(weir_codec_decompress(WEIR_CODEC_ZSTD, z, zlen, &dst, &dcap, 2 * n - 1, &out), WEIR_E_TOO_LARGE);
    weir_free(dst);
    weir_free(z);
    weir_free(data);
}

/* Every prefix, and 2000 random byte changes, of each codec's output: an
 * error or some output within max, never a crash (ASan builds check reads). */
static void test_truncated_and_flipped(void **state)
{
    (void)state;
    size_t n = 70000;
    uint8_t *data = data_make(n, 11);
    uint64_t rng = 99;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(codecs); i++) {
        size_t clen = 0, cap = 0, out = 0, ok_prefix = 0, ok_flip = 0;
        uint8_t *z = pack(codecs[i], -1, data, n, &clen), *dst = NULL;
        for (size_t cut = 0; cut < clen; cut++) {
            enum weir_err err = weir_codec_decompress(codecs[i], z, cut, &dst, &cap, MAX_OUT, &out);
            if (err == WEIR_OK) ok_prefix++;
            else assert_true(err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE);
        }
        uint8_t *work = weir_malloc(clen);
        for (int t = 0; t < 2000; t++) {
            memcpy(work, z, clen);
            for (int k = 0; k < 1 + (int)(tu_rand(&rng) % 4); k++) work[tu_rand(&rng) % clen] ^= (uint8_t)(1 + tu_rand(&rng) % 255);
            enum weir_err err = weir_codec_decompress(codecs[i], work, clen, &dst, &cap, MAX_OUT, &out);
            if (err == WEIR_OK) ok_flip++, assert_true(out <= MAX_OUT);
            else assert_true(err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE);
        }
        print_message("%s: %zu of %zu prefixes and %zu of 2000 flipped inputs decoded\n", weir_codec_name(codecs[i]),
                      ok_prefix, clen, ok_flip);
        /* A zstd or snappy prefix never passes for the whole (a gzip or lz4 one may not either). */
        if (codecs[i] == WEIR_CODEC_ZSTD) assert_int_equal(ok_prefix, 0);
        weir_free(work);
        weir_free(dst);
        weir_free(z);
    }
    weir_free(data);
}

/* ---- batches ---------------------------------------------------------------------- */

enum { RECS = 500 };

static size_t batch_build(enum weir_codec c, int level, uint8_t *buf, size_t cap)
{
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, c);
    b.level = level;
    char key[32], value[200];
    struct weir_header h[2] = { { (const uint8_t *)"h", 1, (const uint8_t *)"v", 1 },
                                { (const uint8_t *)"trace", 5, NULL, -1 } };
    for (int i = 0; i < RECS; i++) {
        int kl = snprintf(key, sizeof key, "key-%d", i % 17);
        int vl = snprintf(value, sizeof value, "value %d of the codec test, repeated repeated repeated", i);
        assert_int_equal(weir_batch_builder_add(&b, 1700000000000 + i, key, kl, i % 50 ? value : NULL,
                                                i % 50 ? vl : -1, h, i % 3),
                         WEIR_OK);
    }
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, 4242, 7, 100, &len), WEIR_OK);
    return len;
}

/* Every record of a and b equal (offsets, timestamps, keys, values, headers). */
static void records_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uint8_t *sa = NULL, *sb = NULL;
    size_t ca = 0, cb = 0;
    struct weir_record_iter ia, ib;
    struct weir_record ra, rb;
    assert_int_equal(weir_record_iter_init(&ia, a, alen, &sa, &ca, MAX_OUT), WEIR_OK);
    assert_int_equal(weir_record_iter_init(&ib, b, blen, &sb, &cb, MAX_OUT), WEIR_OK);
    int n = 0;
    for (;; n++) {
        enum weir_err ea = weir_record_iter_next(&ia, &ra), eb = weir_record_iter_next(&ib, &rb);
        assert_int_equal(ea, eb);
        if (ea != WEIR_OK) {
            assert_int_equal(ea, WEIR_E_NOT_FOUND);
            break;
        }
        assert_int_equal(ra.offset, rb.offset);
        assert_int_equal(ra.timestamp, rb.timestamp);
        assert_int_equal(ra.key_len, rb.key_len);
        assert_int_equal(ra.value_len, rb.value_len);
        if (ra.value) assert_memory_equal(ra.value, rb.value, (size_t)ra.value_len);
        assert_int_equal(ra.headers_raw_len, rb.headers_raw_len);
    }
    assert_int_equal(n, RECS);
    weir_free(sa);
    weir_free(sb);
}

static void test_batches_each_codec(void **state)
{
    (void)state;
    size_t cap = 1 << 20;
    uint8_t *plain = weir_malloc(cap), *buf = weir_malloc(cap), *scratch = NULL;
    size_t scap = 0, plen = batch_build(WEIR_CODEC_NONE, -1, plain, cap);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(codecs); i++) {
        size_t len = batch_build(codecs[i], -1, buf, cap), bytes = 0;
        print_message("%s batch: %zu bytes (uncompressed %zu)\n", weir_codec_name(codecs[i]), len, plen);
        assert_true(len < plen / 2);
        assert_int_equal(weir_batch_validate(buf, len, len, true, &bytes), WEIR_OK);
        assert_int_equal(buf[WEIR_BATCH_OFF_ATTRS + 1] & WEIR_ATTR_CODEC_MASK, codecs[i]);
        assert_int_equal(weir_batch_records_check(buf, len, &scratch, &scap, MAX_OUT), WEIR_OK);
        assert_int_equal(weir_batch_records_check(buf, len, &scratch, &scap, plen - WEIR_BATCH_HEADER_BYTES - 1),
                         WEIR_E_TOO_LARGE);
        records_equal(plain, plen, buf, len);
        /* A payload cut short (length and CRC made right again): refused. */
        uint8_t *bad = weir_malloc(len);
        size_t blen = len - 10;
        memcpy(bad, buf, blen);
        weir_store_be32(bad + WEIR_BATCH_OFF_LENGTH, (uint32_t)(blen - WEIR_BATCH_LOG_OVERHEAD));
        weir_store_be32(bad + WEIR_BATCH_OFF_CRC, weir_crc32c(0, bad + WEIR_BATCH_OFF_ATTRS, blen - WEIR_BATCH_OFF_ATTRS));
        assert_int_equal(weir_batch_validate(bad, blen, blen, true, &bytes), WEIR_OK);
        assert_int_equal(weir_batch_records_check(bad, blen, &scratch, &scap, MAX_OUT), WEIR_E_INVALID);
        weir_free(bad);
    }
    weir_free(scratch);
    weir_free(buf);
    weir_free(plain);
}

static void test_recompress_pairs(void **state)
{
    (void)state;
    size_t cap = 1 << 20;
    uint8_t *src = weir_malloc(cap), *scratch = NULL;
    size_t scap = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(all_codecs); i++) {
        size_t slen = batch_build(all_codecs[i], -1, src, cap);
        /* Header fields a broker may have set: transactional bit off, log append time on. */
        for (size_t j = 0; j < WEIR_ARRAY_LEN(all_codecs); j++) {
            uint8_t *out = NULL;
            size_t olen = 0, bytes = 0;
            int level = all_codecs[j] == WEIR_CODEC_ZSTD ? 19 : -1;
            assert_int_equal(weir_batch_recompress(src, slen, all_codecs[j], level, MAX_OUT, SIZE_MAX, &scratch, &scap,
                                                   &out, &olen),
                             WEIR_OK);
            assert_int_equal(weir_batch_validate(out, olen, olen, true, &bytes), WEIR_OK);
            assert_int_equal(bytes, olen);
            struct weir_batch_header a, b;
            assert_int_equal(weir_batch_header_decode(src, slen, &a), WEIR_OK);
            assert_int_equal(weir_batch_header_decode(out, olen, &b), WEIR_OK);
            assert_int_equal(b.attributes & WEIR_ATTR_CODEC_MASK, all_codecs[j]);
            assert_int_equal(a.attributes & ~WEIR_ATTR_CODEC_MASK, b.attributes & ~WEIR_ATTR_CODEC_MASK);
            assert_int_equal(a.base_timestamp, b.base_timestamp);
            assert_int_equal(a.max_timestamp, b.max_timestamp);
            assert_int_equal(a.producer_id, b.producer_id);
            assert_int_equal(a.producer_epoch, b.producer_epoch);
            assert_int_equal(a.base_sequence, b.base_sequence);
            assert_int_equal(a.records_count, b.records_count);
            assert_int_equal(a.last_offset_delta, b.last_offset_delta);
            records_equal(src, slen, out, olen);
            weir_free(out);
        }
        uint8_t *out = NULL;
        size_t olen = 0;
        assert_int_equal(weir_batch_recompress(src, slen, WEIR_CODEC_GZIP, 12, MAX_OUT, SIZE_MAX, &scratch, &scap, &out,
                                               &olen),
                         WEIR_E_BAD_CONFIG);
        assert_int_equal(weir_batch_recompress(src, slen, WEIR_CODEC_NONE, -1, MAX_OUT, 100, &scratch, &scap, &out,
                                               &olen),
                         WEIR_E_TOO_LARGE);
        assert_null(out);
        /* A bad CRC is refused, never recomputed over the damage. */
        src[slen - 1] ^= 1;
        assert_int_equal(weir_batch_recompress(src, slen, WEIR_CODEC_ZSTD, -1, MAX_OUT, SIZE_MAX, &scratch, &scap,
                                               &out, &olen),
                         WEIR_E_CRC);
        assert_null(out);
    }
    weir_free(scratch);
    weir_free(src);
}

/* The topic key compression.type: Kafka's six values, printed back as set. */
static void test_topic_compression_type(void **state)
{
    (void)state;
    static const char *const values[] = { "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd" };
    struct weir_log_config c;
    weir_log_config_default(&c);
    assert_int_equal(c.compression_type, WEIR_COMPRESSION_PRODUCER);
    char why[256], text[4096], line[64];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(values); i++) {
        assert_int_equal(weir_log_config_set(&c, "compression.type", values[i], why, sizeof why), WEIR_OK);
        assert_int_equal(c.compression_type, i);
        weir_log_config_format(&c, text, sizeof text);
        snprintf(line, sizeof line, "\ncompression.type=%s\n", values[i]);
        assert_non_null(strstr(text, line));
    }
    assert_int_equal(weir_log_config_set(&c, "compression.type", "brotli", why, sizeof why), WEIR_E_BAD_CONFIG);
    assert_non_null(strstr(why, "compression.type"));
    assert_int_equal(c.compression_type, WEIR_COMPRESSION_ZSTD); /* unchanged */
    assert_int_equal(weir_log_config_set(&c, "compression.type", "none", why, sizeof why), WEIR_E_BAD_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_levels_and_names),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_snappy_raw_and_xerial),
        cmocka_unit_test(test_zstd_streamed_frames),
        cmocka_unit_test(test_truncated_and_flipped),
        cmocka_unit_test(test_batches_each_codec),
        cmocka_unit_test(test_recompress_pairs),
        cmocka_unit_test(test_topic_compression_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
