/* tests/fuzz/fuzz_batch.c: the RecordBatch v2 validator, record iteration,
 * record headers and the four codecs' decompression (record/batch.c,
 * record/codec.c, gzip.c, lz4.c), and broker-side recompression.
 *
 * The input is one batch as a producer sends it (or as recovery reads it),
 * and also, on its own, compressed data of each codec. Each run:
 *  1. weir_batch_validate, both as from a client and from disk; when only the
 *     CRC is wrong, again on a copy with the CRC fixed, so the checks after
 *     the CRC are reached too;
 *  2. iterates every record and header of the raw bytes (no validation
 *     first: the iterator must refuse on its own), decompressing any codec
 *     into scratch with a 1 MiB cap; a batch that validates is also
 *     recompressed (to zstd, or to none when it is zstd) and must validate;
 *  3. weir_codec_decompress of the whole input with each codec, same cap.
 * Properties: every record's key, value and headers lie inside the batch or
 * the decompressed scratch; no more records than the header counts; a valid
 * batch's length is within the input; decompression respects its cap. */
#include "record/record.h"

#include "fuzz.h"

enum { DECOMPRESSED_MAX = 1 << 20 };

struct span {
    const uint8_t *lo, *hi;
};

static bool in_spans(const struct span *s, const void *p, int32_t n)
{
    if (n <= 0) return true;
    return fuzz_within(p, (size_t)n, s[0].lo, s[0].hi) || fuzz_within(p, (size_t)n, s[1].lo, s[1].hi);
}

static void check_headers(const struct weir_record *rec, const struct span *s)
{
    size_t pos = 0;
    struct weir_header h;
    int32_t n = 0;
    enum weir_err err;
    while ((err = weir_record_header_next(rec, &pos, &h)) == WEIR_OK) {
        FUZZ_CHECK(pos <= rec->headers_raw_len);
        FUZZ_CHECK(h.key != NULL && h.key_len >= 0 && in_spans(s, h.key, h.key_len));
        FUZZ_CHECK(h.value_len >= -1 && (h.value_len < 0) == (h.value == NULL) && in_spans(s, h.value, h.value_len));
        fuzz_touch(h.key, (size_t)h.key_len);
        if (h.value) fuzz_touch(h.value, (size_t)h.value_len);
        n++;
        FUZZ_CHECK(n <= rec->headers_count);
    }
    /* The iterator read the headers whole: walking them again cannot fail. */
    FUZZ_CHECK(err == WEIR_E_NOT_FOUND && n == rec->headers_count);
}

static void iterate(const uint8_t *p, size_t n)
{
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    if (weir_record_iter_init(&it, p, n, &scratch, &scratch_cap, DECOMPRESSED_MAX) == WEIR_OK) {
        struct span s[2] = { { p, p + n }, { scratch, scratch ? scratch + scratch_cap : NULL } };
        struct weir_record rec;
        int32_t count = 0;
        while (weir_record_iter_next(&it, &rec) == WEIR_OK) {
            FUZZ_CHECK(++count <= it.hdr.records_count);
            FUZZ_CHECK(rec.key_len >= -1 && (rec.key_len < 0) == (rec.key == NULL) && in_spans(s, rec.key, rec.key_len));
            FUZZ_CHECK(rec.value_len >= -1 && (rec.value_len < 0) == (rec.value == NULL) &&
                       in_spans(s, rec.value, rec.value_len));
            FUZZ_CHECK(rec.headers_count >= 0 && in_spans(s, rec.headers_raw, (int32_t)rec.headers_raw_len));
            if (rec.key) fuzz_touch(rec.key, (size_t)rec.key_len);
            if (rec.value) fuzz_touch(rec.value, (size_t)rec.value_len);
            check_headers(&rec, s);
        }
    }
    weir_free(scratch);
}

/* A batch that passes the broker's checks recompresses to one that validates. */
static void recompress(const uint8_t *p, size_t n)
{
    struct weir_batch_header h;
    if (weir_batch_check(p, n, n, true, &h) != WEIR_OK) return;
    size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length, out_len = 0, scratch_cap = 0, len = 0;
    enum weir_codec to = (h.attributes & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_ZSTD ? WEIR_CODEC_NONE : WEIR_CODEC_ZSTD;
    uint8_t *scratch = NULL, *out = NULL;
    if (weir_batch_recompress(p, total, to, -1, DECOMPRESSED_MAX, SIZE_MAX, &scratch, &scratch_cap, &out, &out_len) ==
        WEIR_OK) {
        FUZZ_CHECK(weir_batch_validate(out, out_len, out_len, true, &len) == WEIR_OK && len == out_len);
        FUZZ_CHECK(weir_batch_records_check(out, out_len, &scratch, &scratch_cap, DECOMPRESSED_MAX) == WEIR_OK);
        weir_free(out);
    }
    weir_free(scratch);
}

static void validate(const uint8_t *p, size_t n)
{
    size_t len = 0;
    for (int from_client = 0; from_client < 2; from_client++) {
        enum weir_err err = weir_batch_validate(p, n, n, from_client, &len);
        FUZZ_CHECK(err != WEIR_OK || (len >= WEIR_BATCH_HEADER_BYTES && len <= n));
    }
    if (weir_batch_validate(p, n, n, false, &len) != WEIR_E_CRC) return;
    uint8_t *copy = weir_malloc(n);
    if (!copy) return;
    memcpy(copy, p, n);
    size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)(int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LENGTH);
    weir_store_be32(copy + WEIR_BATCH_OFF_CRC, weir_crc32c(0, copy + WEIR_BATCH_OFF_ATTRS, total - WEIR_BATCH_OFF_ATTRS));
    for (int from_client = 0; from_client < 2; from_client++) {
        enum weir_err err = weir_batch_validate(copy, n, n, from_client, &len);
        FUZZ_CHECK(err != WEIR_E_CRC);
        FUZZ_CHECK(err != WEIR_OK || (len >= WEIR_BATCH_HEADER_BYTES && len <= n));
    }
    iterate(copy, n);
    recompress(copy, n);
    weir_free(copy);
}

static void decompress(const uint8_t *p, size_t n)
{
    for (int c = WEIR_CODEC_GZIP; c <= WEIR_CODEC_ZSTD; c++) {
        uint8_t *dst = NULL;
        size_t cap = 0, out = 0;
        enum weir_err err = weir_codec_decompress((enum weir_codec)c, p, n, &dst, &cap, DECOMPRESSED_MAX, &out);
        FUZZ_CHECK(cap <= DECOMPRESSED_MAX);
        if (err == WEIR_OK) {
            FUZZ_CHECK(out <= cap || out == 0);
            fuzz_touch(dst, out);
        } else {
            FUZZ_CHECK(err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE || err == WEIR_E_NOMEM);
        }
        weir_free(dst);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy: ASan sees a read one byte past the input. */
    uint8_t *p = weir_malloc(size ? size : 1);
    if (!p) return 0;
    if (size) memcpy(p, data, size);
    validate(p, size);
    iterate(p, size);
    decompress(p, size);
    weir_free(p);
    return 0;
}
