/* tests/test_client_consumer.c: the consumer's record path without a broker
 * (client/crecords.c and the poll side of client/consumer.c, white-box).
 * Batches are built with record/'s builder, then decoded back: keys,
 * values and headers (null and empty ones too), LZ4, records before the
 * requested offset skipped, control batches skipped, the fetch position after
 * a record set that ends in a partial batch, and bad input: every truncation,
 * every single-bit flip (with and without the CRC check), each codec, bad
 * lengths, all errors and never a crash. Then poll over chunks queued by hand:
 * order, skipping, an unreadable batch in the middle, EOF, a seek that drops
 * what was queued, and records that outlive the chunk they came from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "client/wire_int.h"

enum { BUF = 1 << 16 };

struct rec_spec {
    const char *key;   /* NULL = null */
    const char *value; /* NULL = null */
    int n_headers;
    struct weir_header headers[2];
};

/* Builds one batch of `n` records at base offset `base` into buf; returns its length. */
static size_t build(uint8_t *buf, int64_t base, const struct rec_spec *recs, int n, enum weir_codec codec, int64_t ts)
{
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, BUF, codec);
    for (int i = 0; i < n; i++) {
        const struct rec_spec *r = &recs[i];
        assert_int_equal(weir_batch_builder_add(&b, ts + i, r->key, r->key ? (int32_t)strlen(r->key) : -1, r->value,
                                                r->value ? (int32_t)strlen(r->value) : -1, r->headers, r->n_headers),
                         WEIR_OK);
    }
    size_t len;
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, &len), WEIR_OK);
    weir_batch_set_base_offset(buf, base);
    return len;
}

/* n simple records "v<base+i>" with key "k<i>". */
static size_t build_simple(uint8_t *buf, int64_t base, int n, enum weir_codec codec)
{
    static char keys[64][16], values[64][16];
    struct rec_spec recs[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        snprintf(values[i], sizeof values[i], "v%lld", (long long)(base + i));
        recs[i] = (struct rec_spec){ keys[i], values[i], 0, { { 0 } } };
    }
    return build(buf, base, recs, n, codec, 1700000000000);
}

static void set_codec(uint8_t *p, size_t len, int codec)
{
    uint16_t attrs = weir_load_be16(p + WEIR_BATCH_OFF_ATTRS);
    weir_store_be16(p + WEIR_BATCH_OFF_ATTRS, (uint16_t)((attrs & ~WEIR_ATTR_CODEC_MASK) | codec));
    weir_store_be32(p + WEIR_BATCH_OFF_CRC, weir_crc32c(0, p + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
}

static bool bytes_eq(const void *p, size_t n, const char *want)
{
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* ---- decoding ------------------------------------------------------------------------ */

static void test_decode_headers_nulls(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    struct rec_spec recs[] = {
        { "key", "value", 2, { { (const uint8_t *)"h1", 2, (const uint8_t *)"v1", 2 }, { (const uint8_t *)"h2", 2, NULL, -1 } } },
        { NULL, NULL, 0, { { 0 } } },
        { "", "", 1, { { (const uint8_t *)"e", 1, (const uint8_t *)"", 0 } } },
    };
    size_t len = build(buf, 100, recs, 3, WEIR_CODEC_NONE, 5000);
    struct cbatch *b;
    assert_int_equal(cw_batch_decode(buf, len, 0, true, "t", 7, NULL, &b), WEIR_OK);
    assert_non_null(b);
    assert_int_equal(b->n, 3);
    const struct weir_consumer_record *r = &b->recs[0].pub;
    assert_string_equal(r->topic, "t");
    assert_int_equal(r->partition, 7);
    assert_int_equal(r->offset, 100);
    assert_int_equal(r->timestamp, 5000);
    assert_int_equal(r->timestamp_type, WEIR_TIMESTAMP_CREATE_TIME);
    assert_true(bytes_eq(r->key, r->key_len, "key"));
    assert_true(bytes_eq(r->value, r->value_len, "value"));
    assert_int_equal(r->headers_count, 2);
    assert_true(bytes_eq(r->headers[0].key, r->headers[0].key_len, "h1"));
    assert_true(bytes_eq(r->headers[0].value, r->headers[0].value_len, "v1"));
    assert_true(bytes_eq(r->headers[1].key, r->headers[1].key_len, "h2"));
    assert_null(r->headers[1].value);
    /* Zero copy: the value points into the batch bytes. */
    assert_true((const uint8_t *)r->value > buf && (const uint8_t *)r->value < buf + len);
    r = &b->recs[1].pub;
    assert_int_equal(r->offset, 101);
    assert_int_equal(r->timestamp, 5001);
    assert_null(r->key);
    assert_null(r->value);
    assert_int_equal(r->headers_count, 0);
    assert_null(r->headers);
    r = &b->recs[2].pub;
    assert_non_null(r->key);
    assert_int_equal(r->key_len, 0);
    assert_non_null(r->value);
    assert_int_equal(r->value_len, 0);
    assert_int_equal(r->headers_count, 1);
    assert_non_null(r->headers[0].value);
    assert_int_equal(r->headers[0].value_len, 0);
    cw_cbatch_unref(b);
    free(buf);
}

static void test_decode_lz4_and_skip(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    size_t len = build_simple(buf, 50, 10, WEIR_CODEC_LZ4);
    assert_int_equal(weir_load_be16(buf + WEIR_BATCH_OFF_ATTRS) & WEIR_ATTR_CODEC_MASK, WEIR_CODEC_LZ4);
    struct cbatch *b;
    /* Records before the requested offset (55) are skipped inside the batch. */
    assert_int_equal(cw_batch_decode(buf, len, 55, true, "t", 0, NULL, &b), WEIR_OK);
    assert_non_null(b);
    assert_int_equal(b->n, 5);
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "v%d", 55 + i);
        assert_int_equal(b->recs[i].pub.offset, 55 + i);
        assert_true(bytes_eq(b->recs[i].pub.value, b->recs[i].pub.value_len, want));
    }
    assert_non_null(b->scratch); /* the records point into the LZ4 output */
    cw_cbatch_unref(b);
    /* A batch wholly before the position decodes to nothing. */
    assert_int_equal(cw_batch_decode(buf, len, 60, true, "t", 0, NULL, &b), WEIR_OK);
    assert_null(b);
    free(buf);
}

static void test_decode_control_and_log_append_time(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    size_t len = build_simple(buf, 0, 2, WEIR_CODEC_NONE);
    uint16_t attrs = weir_load_be16(buf + WEIR_BATCH_OFF_ATTRS);
    weir_store_be16(buf + WEIR_BATCH_OFF_ATTRS, attrs | WEIR_ATTR_LOG_APPEND_TIME);
    weir_store_be64(buf + WEIR_BATCH_OFF_MAX_TS, 777);
    weir_store_be32(buf + WEIR_BATCH_OFF_CRC, weir_crc32c(0, buf + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
    struct cbatch *b;
    assert_int_equal(cw_batch_decode(buf, len, 0, true, "t", 0, NULL, &b), WEIR_OK);
    assert_int_equal(b->recs[1].pub.timestamp, 777);
    assert_int_equal(b->recs[1].pub.timestamp_type, WEIR_TIMESTAMP_LOG_APPEND_TIME);
    cw_cbatch_unref(b);
    weir_store_be16(buf + WEIR_BATCH_OFF_ATTRS, attrs | WEIR_ATTR_CONTROL);
    weir_store_be32(buf + WEIR_BATCH_OFF_CRC, weir_crc32c(0, buf + WEIR_BATCH_OFF_ATTRS, len - WEIR_BATCH_OFF_ATTRS));
    assert_int_equal(cw_batch_decode(buf, len, 0, true, "t", 0, NULL, &b), WEIR_OK);
    assert_null(b); /* transaction markers are not records */
    free(buf);
}

/* Kafka's four codecs decode; plain records labelled with one of them are
 * an error (they do not decompress); codecs 5-7 are not Kafka's. */
static void test_decode_unsupported_codecs(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    for (int codec = 1; codec <= 4; codec++) {
        size_t len = build_simple(buf, 0, 3, (enum weir_codec)codec);
        struct cbatch *b = NULL;
        assert_int_equal(cw_batch_decode(buf, len, 0, true, "t", 0, NULL, &b), WEIR_OK);
        assert_non_null(b);
        assert_int_equal(b->n, 3);
        cw_cbatch_unref(b);
        len = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
        set_codec(buf, len, codec);
        b = (struct cbatch *)1;
        assert_int_not_equal(cw_batch_decode(buf, len, 0, true, "t", 0, NULL, &b), WEIR_OK);
        assert_null(b);
    }
    for (int codec = 5; codec <= 7; codec++) {
        size_t len = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
        set_codec(buf, len, codec);
        struct cbatch *b = (struct cbatch *)1;
        assert_int_equal(cw_batch_decode(buf, len, 0, true, "t", 0, NULL, &b), WEIR_E_UNSUPPORTED);
        assert_null(b);
    }
    free(buf);
}

/* Every prefix of a batch is an error (TRUNCATED), never a crash or a record. */
static void test_decode_truncated(void **state)
{
    (void)state;
    for (int codec = 0; codec <= 3; codec += 3) {
        uint8_t *buf = malloc(BUF);
        size_t len = build_simple(buf, 0, 5, (enum weir_codec)codec);
        for (size_t n = 0; n < len; n++) {
            uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
            memcpy(copy, buf, n);
            struct cbatch *b;
            enum weir_err err = cw_batch_decode(copy, n, 0, true, "t", 0, NULL, &b);
            assert_int_equal(err, WEIR_E_TRUNCATED);
            assert_null(b);
            free(copy);
        }
        free(buf);
    }
}

/* Every single-bit flip: with the CRC check an error; without it, an error
 * or records (the flip may land in a value), never a crash. */
static void test_decode_bit_flips(void **state)
{
    (void)state;
    for (int codec = 0; codec <= 3; codec += 3) {
        uint8_t *buf = malloc(BUF);
        size_t len = build_simple(buf, 0, 4, (enum weir_codec)codec);
        uint8_t *copy = malloc(len);
        int errors = 0, decoded = 0;
        for (size_t bit = WEIR_BATCH_OFF_ATTRS * 8; bit < len * 8; bit++) {
            memcpy(copy, buf, len);
            copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            struct cbatch *b;
            assert_int_not_equal(cw_batch_decode(copy, len, 0, true, "t", 0, NULL, &b), WEIR_OK);
            assert_null(b);
            enum weir_err err = cw_batch_decode(copy, len, 0, false, "t", 0, NULL, &b);
            if (err == WEIR_OK) {
                decoded++;
                for (int32_t i = 0; b && i < b->n; i++) assert_true(b->recs[i].pub.value_len < len);
                cw_cbatch_unref(b);
            } else {
                errors++;
                assert_null(b);
            }
        }
        print_message("codec %d: %d flips decoded, %d refused\n", codec, decoded, errors);
        assert_true(errors > 0);
        free(copy);
        free(buf);
    }
}

static void test_decode_bad_lengths(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    size_t len = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
    struct cbatch *b;
    static const int32_t lengths[] = { -1, 0, 48, INT32_MAX };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        weir_store_be32(buf + WEIR_BATCH_OFF_LENGTH, (uint32_t)lengths[i]);
        assert_int_not_equal(cw_batch_decode(buf, len, 0, false, "t", 0, NULL, &b), WEIR_OK);
        assert_null(b);
    }
    /* A record count larger than the records: refused, no huge allocation. */
    len = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
    weir_store_be32(buf + WEIR_BATCH_OFF_COUNT, 1000000000);
    assert_int_equal(cw_batch_decode(buf, len, 0, false, "t", 0, NULL, &b), WEIR_E_INVALID);
    /* Wrong magic. */
    len = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
    buf[WEIR_BATCH_OFF_MAGIC] = 1;
    assert_int_equal(cw_batch_decode(buf, len, 0, false, "t", 0, NULL, &b), WEIR_E_UNSUPPORTED);
    free(buf);
}

static void test_next_offset(void **state)
{
    (void)state;
    uint8_t *buf = malloc(BUF);
    size_t a = build_simple(buf, 10, 3, WEIR_CODEC_NONE);
    size_t b = build_simple(buf + a, 13, 2, WEIR_CODEC_LZ4);
    size_t whole;
    assert_int_equal(cw_batches_next_offset(buf, a + b, &whole), 15);
    assert_int_equal(whole, a + b);
    /* A Fetch may end in a partial batch: it is not counted. */
    for (size_t cut = 1; cut < b; cut++) {
        assert_int_equal(cw_batches_next_offset(buf, a + b - cut, &whole), 13);
        assert_int_equal(whole, a);
    }
    assert_int_equal(cw_batches_next_offset(buf, a - 1, &whole), -1);
    assert_int_equal(whole, 0);
    assert_int_equal(cw_batches_next_offset(buf, 0, &whole), -1);
    free(buf);
}

/* ---- poll over hand-queued chunks ------------------------------------------------------ */

struct fixture {
    struct weir_consumer *c;
    struct cpart *p;
};

/* A consumer whose fetch thread has nothing to do (no assignment), and a
 * partition queued to by hand: assigned, but not in c->parts. */
static void fixture_open(struct fixture *fx)
{
    char err[256];
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), WEIR_CONF_OK);
    fx->c = weir_consumer_new(cc, err, sizeof err);
    assert_non_null(fx->c);
    weir_consumer_conf_destroy(cc);
    fx->p = weir_calloc(1, sizeof *fx->p); /* the library frees it */
    fx->p->topic = "topic";
    fx->p->id = 3;
    fx->p->refs = 1;
    fx->p->assigned = true;
    fx->p->state = CP_ACTIVE;
    fx->p->leader = -1;
}

static void fixture_close(struct fixture *fx)
{
    struct weir_consumer *c = fx->c;
    pthread_mutex_lock(&c->lock);
    fx->p->assigned = false;
    pthread_mutex_unlock(&c->lock);
    weir_consumer_close(c); /* frees what is still queued */
    pthread_mutex_lock(&c->lock);
    cw_cpart_unref(c, fx->p);
    pthread_mutex_unlock(&c->lock);
    weir_consumer_destroy(c);
}

/* Queues `len` bytes of batches as one DATA chunk over a new frame. */
static void queue_data(struct fixture *fx, const uint8_t *bytes, size_t len)
{
    struct cw_frame *f = weir_malloc(sizeof *f + len);
    atomic_init(&f->refs, 1);
    f->len = (uint32_t)len;
    memcpy(f->data, bytes, len);
    struct cchunk *ch = weir_calloc(1, sizeof *ch);
    pthread_mutex_lock(&fx->c->lock);
    *ch = (struct cchunk){ .kind = CC_DATA, .part = fx->p, .epoch = fx->p->epoch, .frame = f, .p = f->data, .len = len };
    fx->p->refs++;
    cw_queue_push(fx->c, ch);
    pthread_mutex_unlock(&fx->c->lock);
}

static void queue_eof(struct fixture *fx, int64_t offset)
{
    struct cchunk *ch = weir_calloc(1, sizeof *ch);
    pthread_mutex_lock(&fx->c->lock);
    *ch = (struct cchunk){ .kind = CC_EOF, .part = fx->p, .epoch = fx->p->epoch, .offset = offset };
    fx->p->refs++;
    cw_queue_push(fx->c, ch);
    pthread_mutex_unlock(&fx->c->lock);
}

static void test_poll_order_skip_eof(void **state)
{
    (void)state;
    struct fixture fx;
    fixture_open(&fx);
    uint8_t *buf = malloc(BUF);
    size_t a = build_simple(buf, 0, 3, WEIR_CODEC_NONE);
    size_t b = build_simple(buf + a, 3, 3, WEIR_CODEC_LZ4);
    fx.p->app_pos = 1; /* the fetch asked for 1: offset 0 comes back in its batch and is skipped */
    queue_data(&fx, buf, a + b);
    queue_eof(&fx, 6);
    free(buf); /* the frame has its own copy */
    struct weir_consumer_record *kept[5];
    for (int i = 0; i < 5; i++) {
        struct weir_consumer_record *r = weir_consumer_poll(fx.c, 1000);
        assert_non_null(r);
        assert_int_equal(r->event, WEIR_EVENT_RECORD);
        assert_int_equal(r->offset, i + 1);
        assert_string_equal(r->topic, "topic");
        assert_int_equal(r->partition, 3);
        kept[i] = r;
    }
    struct weir_consumer_record *r = weir_consumer_poll(fx.c, 1000);
    assert_non_null(r);
    assert_int_equal(r->event, WEIR_EVENT_PARTITION_EOF);
    assert_int_equal(r->offset, 6);
    weir_consumer_record_release(r);
    assert_null(weir_consumer_poll(fx.c, 0));
    int64_t pos;
    pthread_mutex_lock(&fx.c->lock);
    pos = fx.p->app_pos;
    assert_int_equal(fx.c->queued_bytes, 0);
    pthread_mutex_unlock(&fx.c->lock);
    assert_int_equal(pos, 6);
    /* Records outlive their chunk; values are still readable (ASan). */
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "v%d", i + 1);
        assert_true(bytes_eq(kept[i]->value, kept[i]->value_len, want));
        weir_consumer_record_release(kept[i]);
    }
    fixture_close(&fx);
}

static void test_poll_bad_batch_in_the_middle(void **state)
{
    (void)state;
    struct fixture fx;
    fixture_open(&fx);
    uint8_t *buf = malloc(BUF);
    size_t a = build_simple(buf, 0, 2, WEIR_CODEC_NONE);
    size_t b = build_simple(buf + a, 2, 2, WEIR_CODEC_NONE);
    set_codec(buf + a, b, 5); /* not a Kafka codec */
    size_t c = build_simple(buf + a + b, 4, 2, WEIR_CODEC_NONE);
    queue_data(&fx, buf, a + b + c);
    free(buf);
    int64_t want[] = { 0, 1, -1, 4, 5 };
    for (size_t i = 0; i < 5; i++) {
        struct weir_consumer_record *r = weir_consumer_poll(fx.c, 1000);
        assert_non_null(r);
        if (want[i] < 0) {
            assert_int_equal(r->event, WEIR_EVENT_ERROR);
            assert_int_equal(r->err, 76);
            assert_int_equal(r->offset, 2);
            assert_non_null(strstr(r->errstr, "offset 2"));
        } else {
            assert_int_equal(r->event, WEIR_EVENT_RECORD);
            assert_int_equal(r->offset, want[i]);
        }
        weir_consumer_record_release(r);
    }
    assert_null(weir_consumer_poll(fx.c, 0));
    fixture_close(&fx);
}

static void test_poll_seek_drops_queued(void **state)
{
    (void)state;
    struct fixture fx;
    fixture_open(&fx);
    uint8_t *buf = malloc(BUF);
    size_t a = build_simple(buf, 0, 4, WEIR_CODEC_NONE);
    queue_data(&fx, buf, a);
    queue_data(&fx, buf, a);
    free(buf);
    struct weir_consumer_record *r = weir_consumer_poll(fx.c, 1000);
    assert_non_null(r);
    assert_int_equal(r->offset, 0);
    pthread_mutex_lock(&fx.c->lock);
    fx.p->epoch++; /* what a seek does */
    pthread_mutex_unlock(&fx.c->lock);
    assert_null(weir_consumer_poll(fx.c, 0));
    pthread_mutex_lock(&fx.c->lock);
    assert_int_equal(fx.c->queued_bytes, 0);
    assert_int_equal(fx.p->queued_bytes, 0);
    pthread_mutex_unlock(&fx.c->lock);
    weir_consumer_record_release(r); /* after its batch was dropped */
    fixture_close(&fx);
}

static void test_conf(void **state)
{
    (void)state;
    char err[256], buf[64];
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    assert_int_equal(weir_consumer_conf_set(cc, "fetch.min.bytes", "0", err, sizeof err), WEIR_CONF_INVALID);
    assert_non_null(strstr(err, "fetch.min.bytes"));
    assert_int_equal(weir_consumer_conf_set(cc, "nope", "1", err, sizeof err), WEIR_CONF_UNKNOWN);
    assert_int_equal(weir_consumer_conf_set(cc, "auto.offset.reset", "smallest", err, sizeof err), WEIR_CONF_OK);
    assert_int_equal(weir_consumer_conf_get(cc, "auto.offset.reset", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "earliest");
    assert_int_equal(weir_consumer_conf_set(cc, "fetch.wait.max.ms", "10", err, sizeof err), WEIR_CONF_OK);
    assert_int_equal(weir_consumer_conf_get(cc, "fetch.max.wait.ms", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "10");
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", "a:1,[::1]:2", err, sizeof err), WEIR_CONF_OK);
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", "a:1,b", err, sizeof err), WEIR_CONF_INVALID);
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", "", err, sizeof err), WEIR_CONF_INVALID);
    assert_null(weir_consumer_new(NULL, err, sizeof err));
    weir_consumer_conf_destroy(cc);
}

static void test_assign_checks(void **state)
{
    (void)state;
    char err[256];
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    assert_int_equal(weir_consumer_conf_set(cc, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), WEIR_CONF_OK);
    struct weir_consumer *c = weir_consumer_new(cc, err, sizeof err);
    weir_consumer_conf_destroy(cc);
    struct weir_partition_start bad[] = {
        { NULL, 0, 0, 0 }, { "t", -1, 0, 0 }, { "t", 0, -4, 0 }, { "", 0, 0, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(weir_consumer_assign(c, &bad[i], 1), WEIR_CLIENT_E_INVALID_ARG);
    struct weir_partition_start twice[] = { { "t", 0, 0, 0 }, { "t", 0, 5, 0 } };
    assert_int_equal(weir_consumer_assign(c, twice, 2), WEIR_CLIENT_E_INVALID_ARG);
    struct weir_partition_start ok[] = { { "t", 0, 7, 0 }, { "t", 1, WEIR_OFFSET_END, 0 } };
    assert_int_equal(weir_consumer_assign(c, ok, 2), 0);
    int64_t pos;
    assert_int_equal(weir_consumer_position(c, "t", 0, &pos), 0);
    assert_int_equal(pos, 7);
    assert_int_equal(weir_consumer_position(c, "t", 1, &pos), 0);
    assert_int_equal(pos, -1);
    assert_int_equal(weir_consumer_position(c, "t", 2, &pos), WEIR_CLIENT_E_UNKNOWN_PARTITION);
    struct weir_partition_start s = { "t", 0, 3, 0 };
    assert_int_equal(weir_consumer_seek(c, &s), 0);
    assert_int_equal(weir_consumer_position(c, "t", 0, &pos), 0);
    assert_int_equal(pos, 3);
    s.partition = 9;
    assert_int_equal(weir_consumer_seek(c, &s), WEIR_CLIENT_E_UNKNOWN_PARTITION);
    /* No broker at 127.0.0.1:1: a consumer-level error event says so. */
    struct weir_consumer_record *r = weir_consumer_poll(c, 10000);
    assert_non_null(r);
    assert_int_equal(r->event, WEIR_EVENT_ERROR);
    assert_int_equal(r->partition, -1);
    print_message("error event: %s\n", r->errstr);
    weir_consumer_record_release(r);
    assert_int_equal(weir_consumer_assign(c, NULL, 0), 0);
    weir_consumer_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_headers_nulls),
        cmocka_unit_test(test_decode_lz4_and_skip),
        cmocka_unit_test(test_decode_control_and_log_append_time),
        cmocka_unit_test(test_decode_unsupported_codecs),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_bit_flips),
        cmocka_unit_test(test_decode_bad_lengths),
        cmocka_unit_test(test_next_offset),
        cmocka_unit_test(test_poll_order_skip_eof),
        cmocka_unit_test(test_poll_bad_batch_in_the_middle),
        cmocka_unit_test(test_poll_seek_drops_queued),
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_assign_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
