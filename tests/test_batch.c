/* tests/test_batch.c: record/batch.c and record/lz4.c: RecordBatch v2 build,
 * validate and iterate; the LZ4 frame; fuzzing of both with mutated input. */
#include "testutil.h"

#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>

enum { MAX_HEADERS = 64, POOL_BYTES = 1 << 16, MAX_DECOMPRESSED = 8 << 20 };

/* ---- a model of records, and helpers ---------------------------------------- */

struct model_rec {
    int64_t ts;
    const uint8_t *key; /* NULL when null */
    int32_t key_len;    /* -1 when null */
    const uint8_t *value;
    int32_t value_len;
    int32_t headers_count;
    struct weir_header headers[MAX_HEADERS];
};

static uint8_t pool[POOL_BYTES]; /* keys and values point into it */

static void pool_fill(uint64_t seed)
{
    for (size_t i = 0; i < sizeof pool; i++) pool[i] = (uint8_t)tu_rand(&seed);
}

static uint32_t rnd(uint64_t *rng, uint32_t n) { return (uint32_t)(tu_rand(rng) % n); }

/* choice 0: null, 1: empty, else random length below max. */
static void gen_bytes(uint64_t *rng, uint32_t max, bool nullable, const uint8_t **p, int32_t *len)
{
    uint32_t choice = rnd(rng, 6);
    if (nullable && choice == 0) {
        *p = NULL;
        *len = -1;
        return;
    }
    *len = choice == 1 ? 0 : (int32_t)rnd(rng, max);
    *p = pool + rnd(rng, POOL_BYTES - (uint32_t)*len);
}

static void gen_record(uint64_t *rng, int64_t ts0, struct model_rec *r)
{
    r->ts = ts0 + (int64_t)rnd(rng, 20001) - 10000; /* deltas of both signs */
    gen_bytes(rng, 40, true, &r->key, &r->key_len);
    gen_bytes(rng, rnd(rng, 10) == 0 ? 5000 : 300, true, &r->value, &r->value_len);
    uint32_t hc = rnd(rng, 10);
    r->headers_count = (int32_t)(hc < 5 ? 0 : hc < 9 ? 1 + rnd(rng, 4) : rnd(rng, MAX_HEADERS + 1));
    for (int32_t i = 0; i < r->headers_count; i++) {
        struct weir_header *h = &r->headers[i];
        gen_bytes(rng, 20, false, &h->key, &h->key_len);
        gen_bytes(rng, 50, true, &h->value, &h->value_len);
    }
}

static uint8_t *build(enum weir_codec codec, const struct model_rec *recs, int32_t n, int64_t pid, int16_t epoch,
                      int32_t seq, size_t *len)
{
    size_t raw = WEIR_BATCH_HEADER_BYTES;
    for (int32_t i = 0; i < n; i++)
        raw += weir_batch_record_size(recs[i].ts - recs[0].ts, i, recs[i].key_len, recs[i].value_len,
                                      recs[i].headers, recs[i].headers_count);
    size_t cap = WEIR_BATCH_HEADER_BYTES + weir_lz4_bound(raw);
    uint8_t *buf = weir_malloc(cap);
    assert_non_null(buf);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    for (int32_t i = 0; i < n; i++) {
        const struct model_rec *r = &recs[i];
        size_t before = b.len;
        assert_int_equal(weir_batch_builder_add(&b, r->ts, r->key, r->key_len, r->value, r->value_len, r->headers,
                                                r->headers_count),
                         WEIR_OK);
        assert_int_equal(b.len - before, weir_batch_record_size(r->ts - recs[0].ts, i, r->key_len, r->value_len,
                                                                r->headers, r->headers_count));
    }
    assert_int_equal(b.len, raw);
    assert_int_equal(weir_batch_builder_finish(&b, pid, epoch, seq, len), WEIR_OK);
    assert_true(b.finished);
    return buf;
}

static void assert_nullable_equal(const uint8_t *got, int32_t got_len, const uint8_t *want, int32_t want_len)
{
    if (!want) {
        assert_null(got);
        assert_int_equal(got_len, -1);
        return;
    }
    assert_non_null(got);
    assert_int_equal(got_len, want_len);
    if (want_len > 0) assert_memory_equal(got, want, (size_t)want_len);
}

static void check_headers(const struct weir_record *rec, const struct model_rec *want)
{
    assert_int_equal(rec->headers_count, want->headers_count);
    size_t pos = 0;
    struct weir_header h;
    for (int32_t i = 0; i < want->headers_count; i++) {
        assert_int_equal(weir_record_header_next(rec, &pos, &h), WEIR_OK);
        assert_non_null(h.key);
        assert_nullable_equal(h.key, h.key_len, want->headers[i].key, want->headers[i].key_len);
        assert_nullable_equal(h.value, h.value_len, want->headers[i].value, want->headers[i].value_len);
    }
    assert_int_equal(weir_record_header_next(rec, &pos, &h), WEIR_E_NOT_FOUND);
    assert_int_equal(pos, rec->headers_raw_len);
}

/* Iterates the batch and compares every field with the model. */
static void check_records(const uint8_t *batch, size_t len, const struct model_rec *recs, int32_t n,
                          int64_t base_offset)
{
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, batch, len, &scratch, &scratch_cap, MAX_DECOMPRESSED), WEIR_OK);
    assert_int_equal(it.hdr.records_count, n);
    int64_t ts_max = recs[0].ts;
    for (int32_t i = 0; i < n; i++) {
        assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
        assert_int_equal(rec.offset, base_offset + i);
        assert_int_equal(rec.timestamp, recs[i].ts);
        assert_nullable_equal(rec.key, rec.key_len, recs[i].key, recs[i].key_len);
        assert_nullable_equal(rec.value, rec.value_len, recs[i].value, recs[i].value_len);
        check_headers(&rec, &recs[i]);
        ts_max = WEIR_MAX(ts_max, recs[i].ts);
    }
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
    assert_int_equal(it.hdr.base_timestamp, recs[0].ts);
    assert_int_equal(it.hdr.max_timestamp, ts_max);
    weir_free(scratch);
}

static void fix_crc(uint8_t *b, size_t len)
{
    weir_store_be32(b + WEIR_BATCH_OFF_CRC, weir_crc32c(0, b + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
}

static uint8_t *dup_exact(const uint8_t *p, size_t n) /* exact size, so ASan sees any over-read */
{
    uint8_t *d = weir_malloc(n);
    assert_non_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

static enum weir_err validate_exact(const uint8_t *p, size_t n, size_t max, bool from_client)
{
    uint8_t *d = dup_exact(p, n);
    size_t bytes = 0;
    enum weir_err err = weir_batch_validate(d, n, max, from_client, &bytes);
    weir_free(d);
    return err;
}

/* ---- round trips ------------------------------------------------------------- */

static void round_trips(enum weir_codec codec)
{
    uint64_t rng = 1000 + (uint64_t)codec;
    pool_fill(rng);
    static struct model_rec recs[1000];
    for (int round = 0; round < 120; round++) {
        int32_t n = round == 0 ? 1 : round == 1 ? 1000 : 1 + (int32_t)rnd(&rng, 40);
        int64_t ts0 = round == 2 ? INT64_MAX / 2 : 1700000000000 + round;
        for (int32_t i = 0; i < n; i++) gen_record(&rng, ts0, &recs[i]);
        int64_t pid = round % 3 ? -1 : 77 + round;
        int32_t seq = pid < 0 ? -1 : 5 * round;
        size_t len = 0;
        uint8_t *b = build(codec, recs, n, pid, (int16_t)(pid < 0 ? -1 : 3), seq, &len);
        size_t bytes = 0;
        assert_int_equal(weir_batch_validate(b, len, len, true, &bytes), WEIR_OK);
        assert_int_equal(bytes, len);

        struct weir_batch_header h;
        assert_int_equal(weir_batch_header_decode(b, len, &h), WEIR_OK);
        assert_int_equal(h.base_offset, 0);
        assert_int_equal(h.length, (int32_t)(len - 12));
        assert_int_equal(h.leader_epoch, 0);
        assert_int_equal(h.magic, 2);
        assert_int_equal(h.attributes, codec);
        assert_int_equal(h.last_offset_delta, n - 1);
        assert_int_equal(h.records_count, n);
        assert_int_equal(h.producer_id, pid);
        assert_int_equal(h.base_sequence, seq);
        assert_int_equal(h.crc, weir_crc32c(0, b + 21, len - 21));
        check_records(b, len, recs, n, 0);

        /* The broker rewrites these without touching the CRC. */
        weir_batch_set_base_offset(b, 1000000 + round);
        weir_batch_set_leader_epoch(b, 9);
        assert_int_equal(weir_batch_validate(b, len, len, true, NULL), WEIR_OK);
        check_records(b, len, recs, n, 1000000 + round);
        weir_free(b);
    }
}

static void test_round_trip_none(void **state)
{
    (void)state;
    round_trips(WEIR_CODEC_NONE);
}

static void test_round_trip_lz4(void **state)
{
    (void)state;
    round_trips(WEIR_CODEC_LZ4);
}

/* ---- a batch written by hand from the README layout ---------------------------- */

static const uint8_t known_batch[70] = {
    0, 0, 0, 0, 0, 0, 0, 0,                         /* baseOffset 0 */
    0, 0, 0, 58,                                    /* batchLength: 70 - 12 */
    0, 0, 0, 0,                                     /* partitionLeaderEpoch 0 */
    2,                                              /* magic */
    0x71, 0x6a, 0x61, 0x89,                         /* CRC-32C of [21, 70) (computed independently) */
    0, 0,                                           /* attributes: CreateTime, no codec */
    0, 0, 0, 0,                                     /* lastOffsetDelta 0 */
    0, 0, 0, 0, 0, 0, 0x03, 0xe8,                   /* baseTimestamp 1000 */
    0, 0, 0, 0, 0, 0, 0x03, 0xe8,                   /* maxTimestamp 1000 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producerId -1 */
    0xff, 0xff,                                     /* producerEpoch -1 */
    0xff, 0xff, 0xff, 0xff,                         /* baseSequence -1 */
    0, 0, 0, 1,                                     /* recordsCount 1 */
    0x10,                                           /* record length 8 (zigzag 16) */
    0x00,                                           /* attributes */
    0x00,                                           /* timestampDelta 0 */
    0x00,                                           /* offsetDelta 0 */
    0x02, 'k',                                      /* key length 1, "k" */
    0x02, 'v',                                      /* value length 1, "v" */
    0x00,                                           /* headers count 0 */
};

static void test_known_batch(void **state)
{
    (void)state;
    uint8_t buf[128];
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, sizeof buf, WEIR_CODEC_NONE);
    assert_int_equal(weir_batch_builder_add(&b, 1000, "k", 1, "v", 1, NULL, 0), WEIR_OK);
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_OK);
    assert_int_equal(len, sizeof known_batch);
    assert_memory_equal(buf, known_batch, sizeof known_batch);
    assert_int_equal(weir_batch_record_size(0, 0, 1, 1, NULL, 0), 9);
    assert_int_equal(validate_exact(known_batch, sizeof known_batch, 1048588, true), WEIR_OK);

    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, known_batch, sizeof known_batch, NULL, NULL, 0), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
    assert_int_equal(rec.offset, 0);
    assert_int_equal(rec.timestamp, 1000);
    assert_nullable_equal(rec.key, rec.key_len, (const uint8_t *)"k", 1);
    assert_nullable_equal(rec.value, rec.value_len, (const uint8_t *)"v", 1);
    assert_int_equal(rec.headers_count, 0);
    assert_int_equal(rec.headers_raw_len, 0);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
}

/* ---- validation ---------------------------------------------------------------- */

/* What validate must answer after one bit flip at pos (batch of len bytes). */
static enum weir_err flip_expect(const uint8_t *flipped, size_t len, size_t pos, size_t max)
{
    if (pos < WEIR_BATCH_OFF_LENGTH) return WEIR_OK; /* baseOffset: outside the CRC */
    if (pos < WEIR_BATCH_OFF_LEADER_EPOCH) {
        int32_t length = (int32_t)weir_load_be32(flipped + WEIR_BATCH_OFF_LENGTH);
        if (length < 49) return WEIR_E_INVALID;
        if (12 + (size_t)length > max) return WEIR_E_TOO_LARGE;
        if (12 + (size_t)length > len) return WEIR_E_TRUNCATED;
        return WEIR_E_CRC; /* shorter: the CRC now covers fewer bytes */
    }
    if (pos < WEIR_BATCH_OFF_MAGIC) return WEIR_OK; /* leader epoch: outside the CRC */
    if (pos == WEIR_BATCH_OFF_MAGIC) return WEIR_E_UNSUPPORTED;
    return WEIR_E_CRC; /* the stored CRC, or a byte it covers */
}

static void bit_flips(enum weir_codec codec)
{
    uint64_t rng = 55;
    pool_fill(rng);
    struct model_rec recs[6];
    for (int i = 0; i < 6; i++) gen_record(&rng, 5000, &recs[i]);
    size_t len = 0;
    uint8_t *b = build(codec, recs, 6, -1, -1, -1, &len);
    size_t max = len + 100;
    size_t counts[16] = { 0 };
    for (size_t pos = 0; pos < len; pos++)
        for (int bit = 0; bit < 8; bit++) {
            b[pos] ^= (uint8_t)(1u << bit);
            enum weir_err want = flip_expect(b, len, pos, max);
            assert_int_equal(validate_exact(b, len, max, true), want);
            b[pos] ^= (uint8_t)(1u << bit);
            counts[-want]++;
        }
    assert_true(counts[-WEIR_E_CRC] >= (len - 21) * 8);
    assert_true(counts[-WEIR_E_TRUNCATED] > 0 && counts[-WEIR_E_TOO_LARGE] > 0 && counts[-WEIR_E_INVALID] > 0);
    assert_int_equal(validate_exact(b, len, max, true), WEIR_OK);
    weir_free(b);
}

static void test_validate_bit_flips_none(void **state)
{
    (void)state;
    bit_flips(WEIR_CODEC_NONE);
}

static void test_validate_bit_flips_lz4(void **state)
{
    (void)state;
    bit_flips(WEIR_CODEC_LZ4);
}

static void test_validate_truncated(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *b = tu_batch(5, 100, 1000, 1, WEIR_CODEC_NONE, 9, &len);
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(validate_exact(b, n, len, true), WEIR_E_TRUNCATED);
        uint8_t *d = dup_exact(b, n);
        struct weir_record_iter it;
        assert_int_equal(weir_record_iter_init(&it, d, n, &scratch, &scratch_cap, MAX_DECOMPRESSED),
                         WEIR_E_TRUNCATED);
        weir_free(d);
    }
    assert_int_equal(validate_exact(b, len, len, true), WEIR_OK);
    /* Bytes after the batch (the next one) are not its business. */
    uint8_t *more = weir_malloc(len + 10);
    memcpy(more, b, len);
    memset(more + len, 0xee, 10);
    size_t bytes = 0;
    assert_int_equal(weir_batch_validate(more, len + 10, len, true, &bytes), WEIR_OK);
    assert_int_equal(bytes, len);
    weir_free(more);
    weir_free(scratch);
    weir_free(b);
}

static void set_length(uint8_t *b, int32_t v) { weir_store_be32(b + WEIR_BATCH_OFF_LENGTH, (uint32_t)v); }
static void set_count(uint8_t *b, int32_t last_delta, int32_t count)
{
    weir_store_be32(b + WEIR_BATCH_OFF_LAST_DELTA, (uint32_t)last_delta);
    weir_store_be32(b + WEIR_BATCH_OFF_COUNT, (uint32_t)count);
}
static void set_attrs(uint8_t *b, int v) { weir_store_be16(b + WEIR_BATCH_OFF_ATTRS, (uint16_t)v); }
static void set_producer(uint8_t *b, int64_t pid, int32_t seq)
{
    weir_store_be64(b + WEIR_BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    weir_store_be32(b + WEIR_BATCH_OFF_BASE_SEQ, (uint32_t)seq);
}

enum defect {
    D_LEN_48, D_LEN_0, D_LEN_NEG, D_MAGIC_0, D_MAGIC_1, D_MAGIC_3, D_COUNT_2, D_COUNT_0, D_COUNT_NEG,
    D_DELTA_MAX, D_GZIP, D_SNAPPY, D_ZSTD, D_CODEC_5, D_CODEC_7, D_CONTROL, D_PID_NO_SEQ, D_PID_SEQ,
    D_NO_PID_BAD_SEQ, D_TXN, D_APPEND_TIME, D_CRC_BYTE, D_LEN_48_MAGIC_1, D_MAGIC_1_BAD_CRC,
    D_BAD_CRC_COUNT, D_COUNT_GZIP, D_GZIP_CONTROL, D_CONTROL_PID_NO_SEQ,
};

static const struct {
    const char *name;
    enum defect d;
    bool from_client;
    enum weir_err want;
} defects[] = {
    { "length 48", D_LEN_48, true, WEIR_E_INVALID },
    { "length 0", D_LEN_0, true, WEIR_E_INVALID },
    { "length -1", D_LEN_NEG, true, WEIR_E_INVALID },
    { "magic 0", D_MAGIC_0, true, WEIR_E_UNSUPPORTED },
    { "magic 1", D_MAGIC_1, true, WEIR_E_UNSUPPORTED },
    { "magic 3", D_MAGIC_3, false, WEIR_E_UNSUPPORTED },
    { "count 2, last delta 2 from a client", D_COUNT_2, true, WEIR_E_INVALID },
    { "count 2, last delta 2 stored (compacted: offsets kept)", D_COUNT_2, false, WEIR_OK },
    { "count 0, last delta -1", D_COUNT_0, false, WEIR_E_INVALID },
    { "count -1, last delta -2", D_COUNT_NEG, false, WEIR_E_INVALID },
    { "last delta INT32_MAX, count INT32_MIN", D_DELTA_MAX, false, WEIR_E_INVALID },
    { "codec gzip (stored verbatim)", D_GZIP, true, WEIR_OK },
    { "codec snappy (stored verbatim)", D_SNAPPY, true, WEIR_OK },
    { "codec zstd (stored verbatim)", D_ZSTD, false, WEIR_OK },
    { "codec 5", D_CODEC_5, false, WEIR_E_UNSUPPORTED },
    { "codec 7", D_CODEC_7, false, WEIR_E_UNSUPPORTED },
    { "control batch from a client", D_CONTROL, true, WEIR_E_INVALID },
    { "control batch at recovery", D_CONTROL, false, WEIR_OK },
    { "producer id without sequence from a client", D_PID_NO_SEQ, true, WEIR_E_INVALID },
    { "producer id without sequence at recovery", D_PID_NO_SEQ, false, WEIR_OK },
    { "producer id with sequence", D_PID_SEQ, true, WEIR_OK },
    { "no producer id, sequence -5", D_NO_PID_BAD_SEQ, true, WEIR_OK },
    { "transactional", D_TXN, true, WEIR_OK },
    { "log append time", D_APPEND_TIME, true, WEIR_OK },
    { "a CRC byte changed", D_CRC_BYTE, true, WEIR_E_CRC },
    { "order: length before magic", D_LEN_48_MAGIC_1, true, WEIR_E_INVALID },
    { "order: magic before CRC", D_MAGIC_1_BAD_CRC, true, WEIR_E_UNSUPPORTED },
    { "order: CRC before count", D_BAD_CRC_COUNT, true, WEIR_E_CRC },
    { "order: count before codec", D_COUNT_GZIP, true, WEIR_E_INVALID },
    { "order: codec before control", D_GZIP_CONTROL, true, WEIR_E_UNSUPPORTED },
    { "order: control and producer", D_CONTROL_PID_NO_SEQ, true, WEIR_E_INVALID },
};

/* Applies one defect; the CRC is recomputed unless the defect is about it. */
static void defect_apply(uint8_t *b, size_t len, enum defect d)
{
    bool crc = true;
    switch (d) {
    case D_LEN_48: set_length(b, 48); break;
    case D_LEN_0: set_length(b, 0); break;
    case D_LEN_NEG: set_length(b, -1); break;
    case D_MAGIC_0: b[16] = 0; break;
    case D_MAGIC_1: b[16] = 1; break;
    case D_MAGIC_3: b[16] = 3; break;
    case D_COUNT_2: set_count(b, 2, 2); break;
    case D_COUNT_0: set_count(b, -1, 0); break;
    case D_COUNT_NEG: set_count(b, -2, -1); break;
    case D_DELTA_MAX: set_count(b, INT32_MAX, INT32_MIN); break;
    case D_GZIP: set_attrs(b, WEIR_CODEC_GZIP); break;
    case D_SNAPPY: set_attrs(b, WEIR_CODEC_SNAPPY); break;
    case D_ZSTD: set_attrs(b, WEIR_CODEC_ZSTD); break;
    case D_CODEC_5: set_attrs(b, 5); break;
    case D_CODEC_7: set_attrs(b, 7); break;
    case D_CONTROL: set_attrs(b, WEIR_ATTR_CONTROL); break;
    case D_PID_NO_SEQ: set_producer(b, 7, -1); break;
    case D_PID_SEQ: set_producer(b, 7, 0); break;
    case D_NO_PID_BAD_SEQ: set_producer(b, -1, -5); break;
    case D_TXN: set_attrs(b, WEIR_ATTR_TRANSACTIONAL); break;
    case D_APPEND_TIME: set_attrs(b, WEIR_ATTR_LOG_APPEND_TIME); break;
    case D_CRC_BYTE: b[19] ^= 0x40; crc = false; break;
    case D_LEN_48_MAGIC_1: set_length(b, 48); b[16] = 1; break;
    case D_MAGIC_1_BAD_CRC: b[16] = 1; b[30] ^= 1; crc = false; break;
    case D_BAD_CRC_COUNT: set_count(b, 5, 5); crc = false; break;
    case D_COUNT_GZIP: set_count(b, 5, 5); set_attrs(b, WEIR_CODEC_GZIP); break;
    case D_GZIP_CONTROL: set_attrs(b, 5 | WEIR_ATTR_CONTROL); break; /* codec 5 is no Kafka codec */
    case D_CONTROL_PID_NO_SEQ: set_attrs(b, WEIR_ATTR_CONTROL); set_producer(b, 7, -1); break;
    }
    if (crc) fix_crc(b, len);
}

static void test_validate_defects(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *good = tu_batch(3, 20, 1000, 1, WEIR_CODEC_NONE, 4, &len);
    uint8_t *b = weir_malloc(len);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(defects); i++) {
        print_message("%s\n", defects[i].name);
        memcpy(b, good, len);
        defect_apply(b, len, defects[i].d);
        assert_int_equal(validate_exact(b, len, 1 << 20, defects[i].from_client), defects[i].want);
    }
    /* max_bytes: the whole batch, 12 + length, is what counts; it beats truncation. */
    assert_int_equal(validate_exact(good, len, len, true), WEIR_OK);
    assert_int_equal(validate_exact(good, len, len - 1, true), WEIR_E_TOO_LARGE);
    assert_int_equal(validate_exact(good, len - 1, len - 1, true), WEIR_E_TOO_LARGE);
    assert_int_equal(validate_exact(good, len, 0, true), WEIR_E_TOO_LARGE);
    assert_int_equal(validate_exact(good, 11, 0, true), WEIR_E_TRUNCATED);
    weir_free(b);
    weir_free(good);
}

/* A 61-byte batch passes validate (records are not parsed) but not the iterator. */
static void test_validate_header_only(void **state)
{
    (void)state;
    uint8_t b[61] = { 0 };
    set_length(b, 49);
    b[16] = 2;
    set_count(b, 0, 1);
    set_producer(b, -1, -1);
    fix_crc(b, sizeof b);
    assert_int_equal(validate_exact(b, sizeof b, 61, true), WEIR_OK);
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, b, sizeof b, NULL, NULL, 0), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_INVALID);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_INVALID);
}

/* ---- malformed records ------------------------------------------------------------ */

/* A batch of exactly 61 + n bytes around the given records bytes. */
static uint8_t *raw_batch(const uint8_t *records, size_t n, int32_t count, int attrs, size_t *len)
{
    *len = WEIR_BATCH_HEADER_BYTES + n;
    uint8_t *b = weir_calloc(1, *len);
    assert_non_null(b);
    set_length(b, (int32_t)(*len - 12));
    b[16] = 2;
    set_attrs(b, attrs);
    set_count(b, count - 1, count);
    weir_store_be64(b + WEIR_BATCH_OFF_BASE_TS, 100);
    weir_store_be64(b + WEIR_BATCH_OFF_MAX_TS, 900);
    set_producer(b, -1, -1);
    if (n) memcpy(b + WEIR_BATCH_HEADER_BYTES, records, n);
    fix_crc(b, *len);
    return b;
}

#define KV 0x10, 0, 0, 0, 2, 'k', 2, 'v', 0    /* key "k", value "v", offsetDelta 0 */
#define KV1 0x10, 0, 0, 2, 2, 'k', 2, 'v', 0   /* the same, offsetDelta 1 */
#define NULLS 0x0c, 0, 0, 0, 1, 1, 0           /* null key, null value */

static const struct {
    const char *name;
    int32_t count;
    uint8_t rec[24];
    size_t len;
    int n_ok;          /* records that come out before `err` */
    enum weir_err err; /* WEIR_E_NOT_FOUND: a clean end */
} rec_cases[] = {
    { "key and value", 1, { KV }, 9, 1, WEIR_E_NOT_FOUND },
    { "null key and value", 1, { NULLS }, 7, 1, WEIR_E_NOT_FOUND },
    { "two records", 2, { KV, KV1 }, 18, 2, WEIR_E_NOT_FOUND },
    { "no records, count 0", 0, { 0 }, 0, 0, WEIR_E_NOT_FOUND },
    { "header with null value", 1, { 0x10, 0, 0, 0, 1, 1, 2, 0, 1 }, 9, 1, WEIR_E_NOT_FOUND },
    { "fields shorter than length", 1, { 0x0e, 0, 0, 0, 1, 1, 0, 0xff }, 8, 0, WEIR_E_INVALID },
    { "fields longer than length", 1, { 0x0a, 0, 0, 0, 1, 1, 0 }, 7, 0, WEIR_E_INVALID },
    { "record past the region", 1, { 0x10, 0, 0, 0, 2, 'k', 2, 'v' }, 8, 0, WEIR_E_TRUNCATED },
    { "negative record length", 1, { 0x01, 0, 0, 0, 1, 1, 0 }, 7, 0, WEIR_E_INVALID },
    { "zero record length", 1, { 0x00 }, 1, 0, WEIR_E_INVALID },
    { "over-long length varint", 1, { 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 6, 0, WEIR_E_INVALID },
    { "length varint cut short", 1, { 0x80 }, 1, 0, WEIR_E_TRUNCATED },
    { "key length -2", 1, { 0x0c, 0, 0, 0, 3, 1, 0 }, 7, 0, WEIR_E_INVALID },
    { "value length -3", 1, { 0x0c, 0, 0, 0, 1, 5, 0 }, 7, 0, WEIR_E_INVALID },
    { "key longer than record", 1, { 0x0c, 0, 0, 0, 0x40, 1, 0 }, 7, 0, WEIR_E_INVALID },
    { "headers count -1", 1, { 0x0c, 0, 0, 0, 1, 1, 1 }, 7, 0, WEIR_E_INVALID },
    { "header key null", 1, { 0x10, 0, 0, 0, 1, 1, 2, 1, 1 }, 9, 0, WEIR_E_INVALID },
    { "header value length -2", 1, { 0x10, 0, 0, 0, 1, 1, 2, 0, 3 }, 9, 0, WEIR_E_INVALID },
    { "headers count 1000000", 1, { 0x14, 0, 0, 0, 1, 1, 0x80, 0x89, 0x7a, 0, 0 }, 11, 0, WEIR_E_INVALID },
    { "over-long timestamp delta", 1, { 0x0c, 0, 0xff, 0xff, 0xff, 0xff, 0xff }, 7, 0, WEIR_E_INVALID },
    { "fewer records than count", 2, { KV }, 9, 1, WEIR_E_INVALID },
    { "more records than count", 1, { KV, KV1 }, 18, 1, WEIR_E_INVALID },
    { "a byte after the last record", 1, { KV, 0 }, 10, 1, WEIR_E_INVALID },
    { "records but count 0", 0, { KV }, 9, 0, WEIR_E_INVALID },
    { "count 1, no records", 1, { 0 }, 0, 0, WEIR_E_INVALID },
};

static void test_iter_malformed_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(rec_cases); i++) {
        print_message("%s\n", rec_cases[i].name);
        size_t len = 0;
        uint8_t *b = raw_batch(rec_cases[i].rec, rec_cases[i].len, rec_cases[i].count, 0, &len);
        struct weir_record_iter it;
        struct weir_record rec;
        assert_int_equal(weir_record_iter_init(&it, b, len, NULL, NULL, 0), WEIR_OK);
        for (int k = 0; k < rec_cases[i].n_ok; k++) {
            assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
            assert_int_equal(rec.offset, k);
            assert_int_equal(rec.timestamp, 100);
        }
        assert_int_equal(weir_record_iter_next(&it, &rec), rec_cases[i].err);
        assert_int_equal(weir_record_iter_next(&it, &rec), rec_cases[i].err); /* sticky */
        weir_free(b);
    }
}

static void test_iter_header_walk(void **state)
{
    (void)state;
    /* Two headers: "a" -> null, "" -> "xy". */
    const uint8_t recs[] = { 0x1a, 0, 0, 0, 1, 1, 4, 2, 'a', 1, 0, 4, 'x', 'y' };
    size_t len = 0;
    uint8_t *b = raw_batch(recs, sizeof recs, 1, 0, &len);
    struct weir_record_iter it;
    struct weir_record rec;
    struct weir_header h;
    assert_int_equal(weir_record_iter_init(&it, b, len, NULL, NULL, 0), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
    assert_int_equal(rec.headers_count, 2);
    assert_int_equal(rec.headers_raw_len, 7);
    size_t pos = 0;
    assert_int_equal(weir_record_header_next(&rec, &pos, &h), WEIR_OK);
    assert_nullable_equal(h.key, h.key_len, (const uint8_t *)"a", 1);
    assert_nullable_equal(h.value, h.value_len, NULL, -1);
    assert_int_equal(weir_record_header_next(&rec, &pos, &h), WEIR_OK);
    assert_non_null(h.key);
    assert_int_equal(h.key_len, 0);
    assert_nullable_equal(h.value, h.value_len, (const uint8_t *)"xy", 2);
    assert_int_equal(weir_record_header_next(&rec, &pos, &h), WEIR_E_NOT_FOUND);
    pos = 100;
    assert_int_equal(weir_record_header_next(&rec, &pos, &h), WEIR_E_INVALID);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
    weir_free(b);
}

/* LogAppendTime: every record takes the batch's maxTimestamp. */
static void test_iter_log_append_time(void **state)
{
    (void)state;
    const uint8_t recs[] = { 0x0c, 0, 0x10, 0, 1, 1, 0, 0x0c, 0, 0x20, 2, 1, 1, 0 };
    size_t len = 0;
    for (int attrs = 0; attrs <= WEIR_ATTR_LOG_APPEND_TIME; attrs += WEIR_ATTR_LOG_APPEND_TIME) {
        uint8_t *b = raw_batch(recs, sizeof recs, 2, attrs, &len);
        struct weir_record_iter it;
        struct weir_record rec;
        assert_int_equal(weir_record_iter_init(&it, b, len, NULL, NULL, 0), WEIR_OK);
        assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
        assert_int_equal(rec.timestamp, attrs ? 900 : 100 + 8);
        assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
        assert_int_equal(rec.timestamp, attrs ? 900 : 100 + 16);
        assert_int_equal(rec.offset, 1);
        assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
        weir_free(b);
    }
}

static void iter_init_expect(uint8_t *b, size_t len, size_t max, bool with_scratch, enum weir_err want)
{
    uint8_t *scratch = NULL;
    size_t cap = 0;
    struct weir_record_iter it;
    struct weir_record rec;
    enum weir_err err = with_scratch ? weir_record_iter_init(&it, b, len, &scratch, &cap, max)
                                     : weir_record_iter_init(&it, b, len, NULL, NULL, max);
    assert_int_equal(err, want);
    if (want != WEIR_OK) assert_int_equal(weir_record_iter_next(&it, &rec), want);
    weir_free(scratch);
}

static void test_iter_init_errors(void **state)
{
    (void)state;
    const uint8_t kv[] = { KV };
    size_t len = 0;
    uint8_t *b = raw_batch(kv, sizeof kv, 1, 0, &len);
    iter_init_expect(b, 60, 0, false, WEIR_E_TRUNCATED);
    iter_init_expect(b, len - 1, 0, false, WEIR_E_TRUNCATED);
    b[16] = 1;
    iter_init_expect(b, len, 0, false, WEIR_E_UNSUPPORTED);
    b[16] = 2;
    set_attrs(b, WEIR_CODEC_GZIP);
    iter_init_expect(b, len, 0, false, WEIR_E_UNSUPPORTED);
    set_attrs(b, WEIR_CODEC_LZ4);
    iter_init_expect(b, len, 1 << 20, false, WEIR_E_UNSUPPORTED); /* nowhere to decompress */
    iter_init_expect(b, len, 1 << 20, true, WEIR_E_INVALID);      /* not an LZ4 frame */
    set_attrs(b, 0);
    set_length(b, 48);
    iter_init_expect(b, len, 0, false, WEIR_E_INVALID);
    set_length(b, (int32_t)len - 12);
    set_count(b, -2, -1);
    iter_init_expect(b, len, 0, false, WEIR_E_INVALID);
    weir_free(b);

    /* A compressed batch that inflates past max_decompressed. */
    size_t blen = 0;
    uint8_t *lz = tu_batch(100, 1000, 0, 1, WEIR_CODEC_LZ4, 5, &blen);
    iter_init_expect(lz, blen, 100 * 1000, true, WEIR_E_TOO_LARGE);
    iter_init_expect(lz, blen, 200 * 1000, true, WEIR_OK);
    weir_free(lz);

    /* An LZ4 frame of zero bytes holds zero records. */
    uint8_t frame[64];
    size_t flen = 0;
    assert_int_equal(weir_lz4_compress(NULL, 0, frame, sizeof frame, &flen), WEIR_OK);
    uint8_t *empty = raw_batch(frame, flen, 0, WEIR_CODEC_LZ4, &len);
    uint8_t *scratch = NULL;
    size_t cap = 0;
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, empty, len, &scratch, &cap, 1 << 20), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_E_NOT_FOUND);
    weir_free(scratch);
    weir_free(empty);
}

/* ---- the builder ------------------------------------------------------------------ */

static void test_builder_full(void **state)
{
    (void)state;
    const uint8_t val[100] = { 1 };
    size_t one = weir_batch_record_size(0, 0, 1, 100, NULL, 0);
    size_t two = weir_batch_record_size(5, 1, 1, 100, NULL, 0);
    size_t cap = WEIR_BATCH_HEADER_BYTES + one + two;
    uint8_t *buf = weir_malloc(cap);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, WEIR_CODEC_NONE);
    assert_int_equal(weir_batch_builder_add(&b, 10, "a", 1, val, 100, NULL, 0), WEIR_OK);
    assert_int_equal(weir_batch_builder_add(&b, 15, "b", 1, val, 101, NULL, 0), WEIR_E_TOO_LARGE);
    assert_int_equal(b.count, 1);
    assert_int_equal(b.len, WEIR_BATCH_HEADER_BYTES + one);
    assert_int_equal(weir_batch_builder_add(&b, 15, "b", 1, val, 100, NULL, 0), WEIR_OK); /* exactly fills */
    assert_int_equal(b.len, cap);
    assert_int_equal(weir_batch_builder_add(&b, 15, NULL, 0, NULL, 0, NULL, 0), WEIR_E_TOO_LARGE);
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, 1, 2, 3, &len), WEIR_OK);
    assert_int_equal(len, cap);
    assert_int_equal(weir_batch_builder_add(&b, 15, NULL, 0, NULL, 0, NULL, 0), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_finish(&b, 1, 2, 3, &len), WEIR_E_INVALID);
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(buf, len, &h), WEIR_OK);
    assert_int_equal(h.producer_id, 1);
    assert_int_equal(h.producer_epoch, 2);
    assert_int_equal(h.base_sequence, 3);
    assert_int_equal(h.base_timestamp, 10);
    assert_int_equal(h.max_timestamp, 15);
    assert_int_equal(validate_exact(buf, len, len, true), WEIR_OK);
    weir_free(buf);

    uint8_t tiny[40];
    weir_batch_builder_init(&b, tiny, sizeof tiny, WEIR_CODEC_NONE);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, NULL, 0), WEIR_E_TOO_LARGE);
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_E_INVALID); /* no records */
}

static void test_builder_bad_args(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct weir_batch_builder b;
    struct weir_header bad_key = { NULL, 3, NULL, -1 };
    struct weir_header bad_value = { (const uint8_t *)"k", 1, (const uint8_t *)"v", -2 };
    struct weir_header ok = { (const uint8_t *)"k", 1, NULL, 7 }; /* value NULL: null, length ignored */
    weir_batch_builder_init(&b, buf, sizeof buf, WEIR_CODEC_NONE);
    assert_int_equal(weir_batch_builder_add(&b, 0, "k", -1, NULL, 0, NULL, 0), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, "v", -5, NULL, 0), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, NULL, 2), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, &ok, -1), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, &bad_key, 1), WEIR_E_INVALID);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, &bad_value, 1), WEIR_E_INVALID);
    assert_int_equal(b.count, 0);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 9, NULL, 9, &ok, 1), WEIR_OK);
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_OK);
    struct weir_record_iter it;
    struct weir_record rec;
    struct weir_header h;
    assert_int_equal(weir_record_iter_init(&it, buf, len, NULL, NULL, 0), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
    assert_nullable_equal(rec.key, rec.key_len, NULL, -1);
    assert_nullable_equal(rec.value, rec.value_len, NULL, -1);
    size_t pos = 0;
    assert_int_equal(weir_record_header_next(&rec, &pos, &h), WEIR_OK);
    assert_nullable_equal(h.value, h.value_len, NULL, -1);

    weir_batch_builder_init(&b, buf, sizeof buf, (enum weir_codec)5);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, NULL, 0, NULL, 0), WEIR_OK);
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_E_UNSUPPORTED);
}

/* Timestamps: base is the first record's, deltas may be negative, max is the max. */
static void test_builder_timestamps(void **state)
{
    (void)state;
    uint8_t buf[512];
    struct weir_batch_builder b;
    const int64_t ts[] = { 1000, 500, 2000, -7, INT64_MAX / 4 };
    weir_batch_builder_init(&b, buf, sizeof buf, WEIR_CODEC_NONE);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ts); i++)
        assert_int_equal(weir_batch_builder_add(&b, ts[i], NULL, 0, "v", 1, NULL, 0), WEIR_OK);
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_OK);
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, buf, len, NULL, NULL, 0), WEIR_OK);
    assert_int_equal(it.hdr.base_timestamp, 1000);
    assert_int_equal(it.hdr.max_timestamp, INT64_MAX / 4);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ts); i++) {
        assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
        assert_int_equal(rec.timestamp, ts[i]);
        assert_int_equal(rec.offset, (int64_t)i);
    }
}

/* LZ4: records that fit uncompressed but not once framed (random bytes). */
static void test_builder_lz4_too_large(void **state)
{
    (void)state;
    uint64_t rng = 8;
    pool_fill(rng);
    size_t rec = weir_batch_record_size(0, 0, -1, 4000, NULL, 0);
    size_t cap = WEIR_BATCH_HEADER_BYTES + rec;
    uint8_t *buf = weir_malloc(cap);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, WEIR_CODEC_LZ4);
    assert_int_equal(weir_batch_builder_add(&b, 0, NULL, 0, pool, 4000, NULL, 0), WEIR_OK);
    size_t len = 0;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_E_TOO_LARGE);
    assert_false(b.finished);
    weir_free(buf);

    /* Compressible records shrink: a cap smaller than the raw records is fine after finish. */
    uint8_t zeros[3000] = { 0 };
    cap = 2 * WEIR_BATCH_HEADER_BYTES + weir_lz4_bound(4 * weir_batch_record_size(0, 3, -1, 3000, NULL, 0));
    buf = weir_malloc(cap);
    weir_batch_builder_init(&b, buf, cap, WEIR_CODEC_LZ4);
    for (int i = 0; i < 4; i++) assert_int_equal(weir_batch_builder_add(&b, i, NULL, 0, zeros, 3000, NULL, 0), WEIR_OK);
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_OK);
    assert_true(len < 200);
    assert_int_equal(validate_exact(buf, len, len, true), WEIR_OK);
    weir_free(buf);
}

/* ---- LZ4 frames ---------------------------------------------------------------------- */

static uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* XXH32, seed 0, for inputs under 16 bytes: the frame descriptor checksum. */
static uint32_t xxh32_small(const uint8_t *p, size_t n)
{
    const uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u, p5 = 374761393u;
    uint32_t h = p5 + (uint32_t)n;
    for (; n >= 4; p += 4, n -= 4) {
        h += ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) * p3;
        h = rotl32(h, 17) * p4;
    }
    for (; n > 0; p++, n--) {
        h += *p * p5;
        h = rotl32(h, 11) * p1;
    }
    h ^= h >> 15;
    h *= p2;
    h ^= h >> 13;
    h *= p3;
    h ^= h >> 16;
    return h;
}

static uint8_t *lz4_pack(const uint8_t *src, size_t n, size_t *out_len)
{
    size_t cap = weir_lz4_bound(n);
    uint8_t *dst = weir_malloc(cap);
    assert_non_null(dst);
    assert_int_equal(weir_lz4_compress(src, n, dst, cap, out_len), WEIR_OK);
    assert_true(*out_len <= cap);
    return dst;
}

/* Kafka's frame: magic, FLG 0x60 (version 01, independent blocks, no checksums
 * or size), BD 0x40 (64 KiB blocks), the descriptor checksum, ..., end mark. */
static void assert_kafka_frame(const uint8_t *f, size_t n)
{
    const uint8_t magic[] = { 0x04, 0x22, 0x4d, 0x18 };
    assert_true(n >= 11);
    assert_memory_equal(f, magic, 4);
    assert_int_equal(f[4] >> 6, 1);     /* version 01 */
    assert_true(f[4] & 0x20);           /* block independence */
    assert_int_equal(f[4] & 0x1f, 0);   /* no block checksum, size, content checksum, dict */
    assert_int_equal(f[5], 0x40);       /* 64 KiB */
    assert_int_equal(f[6], (xxh32_small(f + 4, 2) >> 8) & 0xff);
    assert_int_equal(weir_load_be32(f + n - 4), 0); /* end mark */
}

static void lz4_round_trip(const uint8_t *src, size_t n)
{
    size_t clen = 0, out = 0, cap = 0;
    uint8_t *frame = lz4_pack(src, n, &clen);
    assert_kafka_frame(frame, clen);
    uint8_t *dst = NULL;
    assert_int_equal(weir_lz4_decompress(frame, clen, &dst, &cap, n + 10, &out), WEIR_OK);
    assert_int_equal(out, n);
    if (n) assert_memory_equal(dst, src, n);
    assert_true(cap <= n + 10);
    /* Exactly max fits; one byte less does not. */
    assert_int_equal(weir_lz4_decompress(frame, clen, &dst, &cap, n, &out), WEIR_OK);
    assert_int_equal(out, n);
    if (n) {
        size_t cap2 = 0;
        uint8_t *dst2 = NULL;
        assert_int_equal(weir_lz4_decompress(frame, clen, &dst2, &cap2, n - 1, &out), WEIR_E_TOO_LARGE);
        assert_true(cap2 <= n - 1);
        weir_free(dst2);
        /* A buffer larger than max does not lift the limit. */
        assert_int_equal(weir_lz4_decompress(frame, clen, &dst, &cap, n - 1, &out), WEIR_E_TOO_LARGE);
    }
    weir_free(dst);
    weir_free(frame);
}

static void test_lz4_round_trip(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 100, 65535, 65536, 65537, 3 * 65536 + 17, 1 << 20 };
    size_t max = 1 << 20;
    uint8_t *random = weir_malloc(max), *text = weir_malloc(max);
    uint64_t rng = 21;
    for (size_t i = 0; i < max; i++) {
        random[i] = (uint8_t)tu_rand(&rng);
        text[i] = (uint8_t)("weir log broker "[i % 16] + (i % 1000 == 0));
    }
    for (size_t i = 0; i < WEIR_ARRAY_LEN(sizes); i++) {
        print_message("size %zu\n", sizes[i]);
        lz4_round_trip(random, sizes[i]);
        lz4_round_trip(text, sizes[i]);
    }
    size_t clen = 0;
    uint8_t *frame = lz4_pack(text, max, &clen);
    assert_true(clen < max / 20);
    weir_free(frame);
    weir_free(random);
    weir_free(text);
}

static void test_lz4_compress_cap(void **state)
{
    (void)state;
    uint8_t src[5000];
    memset(src, 'a', sizeof src);
    size_t clen = 0, len = 0;
    uint8_t *frame = lz4_pack(src, sizeof src, &clen);
    uint8_t dst[5000];
    assert_true(clen < weir_lz4_bound(sizeof src));
    assert_int_equal(weir_lz4_compress(src, sizeof src, dst, clen, &len), WEIR_OK);
    assert_int_equal(len, clen);
    assert_memory_equal(dst, frame, clen);
    assert_int_equal(weir_lz4_compress(src, sizeof src, dst, clen - 1, &len), WEIR_E_TOO_LARGE);
    assert_true(weir_lz4_bound(0) >= 11);
    assert_true(weir_lz4_bound(1 << 20) >= 1 << 20);
    weir_free(frame);
}

/* A frame as Java writes incompressible data: one stored (uncompressed) block. */
static void test_lz4_stored_block(void **state)
{
    (void)state;
    uint8_t f[64] = { 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0 };
    f[6] = (uint8_t)(xxh32_small(f + 4, 2) >> 8);
    const char *text = "stored block, as Java writes it";
    size_t n = strlen(text), pos = 7;
    uint32_t size = (uint32_t)n | 0x80000000u; /* high bit: stored */
    for (int i = 0; i < 4; i++) f[pos++] = (uint8_t)(size >> (8 * i));
    memcpy(f + pos, text, n);
    pos += n;
    pos += 4; /* end mark: 00 00 00 00 */
    uint8_t *dst = NULL;
    size_t cap = 0, out = 0;
    assert_int_equal(weir_lz4_decompress(f, pos, &dst, &cap, 1000, &out), WEIR_OK);
    assert_int_equal(out, n);
    assert_memory_equal(dst, text, n);
    f[6] ^= 1; /* wrong descriptor checksum */
    assert_int_equal(weir_lz4_decompress(f, pos, &dst, &cap, 1000, &out), WEIR_E_INVALID);
    weir_free(dst);
}

static void test_lz4_concat_and_garbage(void **state)
{
    (void)state;
    uint8_t a[3000], b2[70000];
    for (size_t i = 0; i < sizeof a; i++) a[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof b2; i++) b2[i] = (uint8_t)(i / 100);
    size_t la = 0, lb = 0, out = 0, cap = 0;
    uint8_t *fa = lz4_pack(a, sizeof a, &la), *fb = lz4_pack(b2, sizeof b2, &lb);
    uint8_t *both = weir_malloc(la + lb + 3);
    memcpy(both, fa, la);
    memcpy(both + la, fb, lb);
    uint8_t *dst = NULL;
    assert_int_equal(weir_lz4_decompress(both, la + lb, &dst, &cap, 1 << 20, &out), WEIR_OK);
    assert_int_equal(out, sizeof a + sizeof b2);
    assert_memory_equal(dst, a, sizeof a);
    assert_memory_equal(dst + sizeof a, b2, sizeof b2);

    memcpy(both + la, "xyz", 3); /* garbage after a frame */
    assert_int_equal(weir_lz4_decompress(both, la + 3, &dst, &cap, 1 << 20, &out), WEIR_E_INVALID);
    assert_int_equal(weir_lz4_decompress(both, 0, &dst, &cap, 1 << 20, &out), WEIR_E_INVALID);
    for (size_t n = 1; n < la; n++) { /* every cut of a frame */
        uint8_t *cut = dup_exact(fa, n);
        assert_int_equal(weir_lz4_decompress(cut, n, &dst, &cap, 1 << 20, &out), WEIR_E_INVALID);
        weir_free(cut);
    }
    weir_free(dst);
    weir_free(both);
    weir_free(fa);
    weir_free(fb);
}

/* ---- fuzzing --------------------------------------------------------------------------- */

static void mutate(uint8_t *p, size_t *n, size_t cap, uint64_t *rng)
{
    static const uint8_t special[] = { 0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe };
    for (uint32_t ops = 1 + rnd(rng, 4); ops > 0; ops--) {
        size_t len = *n, at = len ? rnd(rng, (uint32_t)len) : 0;
        switch (rnd(rng, 6)) {
        case 0:
            if (len) p[at] ^= (uint8_t)(1u << rnd(rng, 8));
            break;
        case 1:
            *n = rnd(rng, (uint32_t)len + 1);
            break;
        case 2: {
            size_t k = 1 + rnd(rng, 8);
            if (len + k > cap) break;
            memmove(p + at + k, p + at, len - at);
            for (size_t i = 0; i < k; i++) p[at + i] = (uint8_t)tu_rand(rng);
            *n = len + k;
            break;
        }
        case 3:
            if (len) p[at] = special[rnd(rng, sizeof special)];
            break;
        case 4: {
            size_t k = 1 + (size_t)rnd(rng, 16); /* not inside WEIR_MIN: it evaluates twice */
            k = WEIR_MIN(k, len - at);
            memmove(p + at, p + at + k, len - at - k);
            *n = len - k;
            break;
        }
        default:
            if (len) p[at] = (uint8_t)tu_rand(rng);
            break;
        }
    }
}

static uint64_t touch(const uint8_t *p, int32_t len) /* lets ASan check every byte */
{
    uint64_t s = 0;
    for (int32_t i = 0; i < len; i++) s += p[i];
    return s;
}

struct fuzz_stats {
    uint64_t sum;   /* of every byte handed out, so each is read */
    size_t records; /* records decoded without error */
};

/* Walks everything the iterator hands out. Returns the final status. */
static enum weir_err iterate_all(const uint8_t *b, size_t n, uint8_t **scratch, size_t *cap, struct fuzz_stats *st)
{
    struct weir_record_iter it;
    struct weir_record rec;
    enum weir_err err = weir_record_iter_init(&it, b, n, scratch, cap, 256 * 1024);
    if (err != WEIR_OK) return err;
    for (size_t steps = 0; steps <= 256 * 1024 + 1; steps++) {
        err = weir_record_iter_next(&it, &rec);
        if (err != WEIR_OK) return err;
        st->records++;
        st->sum += touch(rec.key, rec.key_len) + touch(rec.value, rec.value_len);
        size_t pos = 0;
        struct weir_header h;
        for (size_t k = 0; k <= rec.headers_raw_len; k++) {
            enum weir_err herr = weir_record_header_next(&rec, &pos, &h);
            if (herr == WEIR_E_NOT_FOUND) break;
            assert_int_equal(herr, WEIR_OK); /* the iterator checked them all */
            st->sum += touch(h.key, h.key_len) + touch(h.value, h.value_len);
        }
    }
    fail_msg("iterator did not terminate");
    return WEIR_OK;
}

static uint8_t *fuzz_seed_batch(enum weir_codec codec, int32_t n, uint64_t *rng, size_t *len)
{
    static struct model_rec recs[200];
    for (int32_t i = 0; i < n; i++) gen_record(rng, 1 << 20, &recs[i]);
    return build(codec, recs, n, -1, -1, -1, len);
}

static void test_fuzz_batches(void **state)
{
    (void)state;
    uint64_t rng = 0xfeed;
    pool_fill(rng);
    enum { SEEDS = 6 };
    uint8_t *seeds[SEEDS];
    size_t lens[SEEDS], maxlen = 0;
    for (int i = 0; i < SEEDS; i++) {
        static const int32_t counts[SEEDS] = { 1, 4, 30, 1, 4, 30 };
        seeds[i] = fuzz_seed_batch(i < 3 ? WEIR_CODEC_NONE : WEIR_CODEC_LZ4, counts[i], &rng, &lens[i]);
        maxlen = WEIR_MAX(maxlen, lens[i]);
    }
    size_t wcap = maxlen + 64;
    uint8_t *work = weir_malloc(wcap), *scratch = NULL;
    size_t scratch_cap = 0, outcomes[32] = { 0 };
    struct fuzz_stats st = { 0, 0 };
    for (int iter = 0; iter < 20000; iter++) {
        int s = (int)rnd(&rng, SEEDS);
        size_t n = lens[s];
        memcpy(work, seeds[s], n);
        mutate(work, &n, wcap, &rng);
        uint8_t *p = dup_exact(work, n);
        size_t bytes = 0;
        enum weir_err verr = weir_batch_validate(p, n, 1 << 20, rnd(&rng, 2), &bytes);
        if (verr == WEIR_OK) assert_true(bytes <= n);
        outcomes[-verr]++;
        enum weir_err ierr = iterate_all(p, n, &scratch, &scratch_cap, &st);
        assert_true(ierr != WEIR_OK);
        weir_free(p);
    }
    print_message("validate: ok %zu crc %zu truncated %zu invalid %zu unsupported %zu too_large %zu\n", outcomes[0],
                  outcomes[-WEIR_E_CRC], outcomes[-WEIR_E_TRUNCATED], outcomes[-WEIR_E_INVALID],
                  outcomes[-WEIR_E_UNSUPPORTED], outcomes[-WEIR_E_TOO_LARGE]);
    print_message("iterator: %zu records decoded from mutated batches\n", st.records);
    for (int i = 0; i < SEEDS; i++) weir_free(seeds[i]);
    weir_free(work);
    weir_free(scratch);
}

/* A length-prefixed field that mostly tells the truth: -1..10 bytes, and
 * now and then a length below -1 or one that disagrees with the bytes. */
static void fuzz_field(struct weir_wr *w, uint64_t *rng)
{
    int32_t len = (int32_t)rnd(rng, 12) - 1;
    if (rnd(rng, 32) == 0) len = -2 - (int32_t)rnd(rng, 3);
    uint32_t actual = len < 0 ? 0 : (uint32_t)len;
    if (rnd(rng, 32) == 0) actual = rnd(rng, 12);
    weir_wr_varint(w, len);
    for (uint32_t k = 0; k < actual; k++) weir_wr_u8(w, (uint8_t)tu_rand(rng));
}

/* Records that are nearly well formed: the iterator's every check gets hit. */
static size_t fuzz_records_gen(uint8_t *out, size_t cap, uint64_t *rng, int32_t *count)
{
    struct weir_wr wr = weir_wr_make(out, cap);
    *count = (int32_t)rnd(rng, 5);
    for (int32_t i = 0; i < *count; i++) {
        uint8_t body[256];
        struct weir_wr bw = weir_wr_make(body, sizeof body);
        weir_wr_u8(&bw, 0);
        weir_wr_varlong(&bw, (int64_t)rnd(rng, 2001) - 1000);
        weir_wr_varint(&bw, i);
        fuzz_field(&bw, rng);
        fuzz_field(&bw, rng);
        int32_t hc = (int32_t)rnd(rng, 4) - (rnd(rng, 16) == 0);
        weir_wr_varint(&bw, hc);
        for (int32_t j = 0, real = hc + (int32_t)(rnd(rng, 16) == 0); j < real; j++) {
            fuzz_field(&bw, rng);
            fuzz_field(&bw, rng);
        }
        int32_t lie = rnd(rng, 16) == 0 ? (int32_t)rnd(rng, 5) - 2 : 0;
        weir_wr_varint(&wr, (int32_t)weir_wr_len(&bw) + lie);
        weir_wr_bytes(&wr, body, weir_wr_len(&bw));
    }
    if (rnd(rng, 16) == 0) *count += (int32_t)rnd(rng, 3) - 1;
    return weir_wr_len(&wr);
}

/* Nearly valid records, sometimes mutated too, under a well-formed header. */
static void test_fuzz_records(void **state)
{
    (void)state;
    uint64_t rng = 0xbeef;
    struct fuzz_stats st = { 0, 0 };
    uint8_t recs[2048];
    size_t counts[32] = { 0 };
    for (int iter = 0; iter < 20000; iter++) {
        int32_t count = 0;
        size_t n = fuzz_records_gen(recs, sizeof recs - 64, &rng, &count);
        if (rnd(&rng, 4) == 0) mutate(recs, &n, sizeof recs, &rng);
        size_t len = 0;
        uint8_t *b = raw_batch(recs, n, count, rnd(&rng, 8) ? 0 : WEIR_ATTR_LOG_APPEND_TIME, &len);
        enum weir_err err = iterate_all(b, len, NULL, NULL, &st);
        assert_true(err == WEIR_E_NOT_FOUND || err == WEIR_E_INVALID || err == WEIR_E_TRUNCATED);
        counts[-err]++;
        weir_free(b);
    }
    print_message("records: clean end %zu invalid %zu truncated %zu, %zu records decoded\n",
                  counts[-WEIR_E_NOT_FOUND], counts[-WEIR_E_INVALID], counts[-WEIR_E_TRUNCATED], st.records);
}

static void test_fuzz_lz4(void **state)
{
    (void)state;
    uint64_t rng = 0xcafe;
    enum { SRC = 150000 };
    uint8_t *src = weir_malloc(SRC);
    for (size_t i = 0; i < SRC; i++) src[i] = (uint8_t)(rnd(&rng, 3) ? i / 64 : tu_rand(&rng));
    static const size_t sizes[] = { 1, 300, 70000, SRC };
    uint8_t *frames[4];
    size_t flens[4], maxlen = 0;
    for (int i = 0; i < 4; i++) {
        frames[i] = lz4_pack(src, sizes[i], &flens[i]);
        maxlen = WEIR_MAX(maxlen, flens[i]);
    }
    size_t wcap = maxlen + 64, cap = 0, ok = 0;
    uint8_t *work = weir_malloc(wcap), *dst = NULL;
    for (int iter = 0; iter < 5000; iter++) {
        int s = iter % 4 == 3 ? 3 : (int)rnd(&rng, 3);
        size_t n = flens[s], out = 0, max = rnd(&rng, 4) ? 200000 : rnd(&rng, 100000);
        memcpy(work, frames[s], n);
        mutate(work, &n, wcap, &rng);
        uint8_t *p = dup_exact(work, n);
        enum weir_err err = weir_lz4_decompress(p, n, &dst, &cap, max, &out);
        assert_true(err == WEIR_OK || err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE);
        if (err == WEIR_OK) {
            assert_true(out <= max);
            ok++;
        }
        weir_free(p);
    }
    print_message("lz4 mutated frames that still decoded: %zu of 5000\n", ok);
    for (int i = 0; i < 4; i++) weir_free(frames[i]);
    weir_free(work);
    weir_free(dst);
    weir_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_none),
        cmocka_unit_test(test_round_trip_lz4),
        cmocka_unit_test(test_known_batch),
        cmocka_unit_test(test_validate_bit_flips_none),
        cmocka_unit_test(test_validate_bit_flips_lz4),
        cmocka_unit_test(test_validate_truncated),
        cmocka_unit_test(test_validate_defects),
        cmocka_unit_test(test_validate_header_only),
        cmocka_unit_test(test_iter_malformed_records),
        cmocka_unit_test(test_iter_header_walk),
        cmocka_unit_test(test_iter_log_append_time),
        cmocka_unit_test(test_iter_init_errors),
        cmocka_unit_test(test_builder_full),
        cmocka_unit_test(test_builder_bad_args),
        cmocka_unit_test(test_builder_timestamps),
        cmocka_unit_test(test_builder_lz4_too_large),
        cmocka_unit_test(test_lz4_round_trip),
        cmocka_unit_test(test_lz4_compress_cap),
        cmocka_unit_test(test_lz4_stored_block),
        cmocka_unit_test(test_lz4_concat_and_garbage),
        cmocka_unit_test(test_fuzz_batches),
        cmocka_unit_test(test_fuzz_records),
        cmocka_unit_test(test_fuzz_lz4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
