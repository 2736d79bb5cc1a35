/* tests/test_client.c: the producer without a broker (the client/ sources, white-box).
 * An "offline" producer (no Sender thread, a fake clock) lets each test drive
 * the accumulator and the Sender's steps by hand: murmur2 and partition
 * choice against Kafka's vectors, config errors, batches decoded back with the
 * engine's reader (CRC, lz4), linger and batch.size readiness, buffer.memory
 * back-pressure, and the outcome rules (retry order, sequence errors,
 * producer-id reset, retries and delivery.timeout.ms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

/* ---- helpers ------------------------------------------------------------------------ */

static int64_t fake_now = 1000;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

/* kv: NULL-terminated key, value pairs. */
static struct weir_producer *offline_new(const char *const *kv)
{
    char err[256];
    struct weir_conf *c = weir_conf_new();
    assert_non_null(c);
    assert_int_equal(weir_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), WEIR_CONF_OK);
    for (; kv && kv[0]; kv += 2) {
        enum weir_conf_res r = weir_conf_set(c, kv[0], kv[1], err, sizeof err);
        if (r != WEIR_CONF_OK) fail_msg("%s=%s: %s", kv[0], kv[1], err);
    }
    c->hooks.now_ms = fake_clock;
    c->hooks.offline = true;
    struct weir_producer *p = weir_producer_new(c, err, sizeof err);
    if (!p) fail_msg("producer: %s", err);
    weir_conf_destroy(c);
    if (p->idempotent) { /* as if InitProducerId had answered */
        p->s->pid = 1;
        p->s->epoch = 0;
        p->s->pid_state = CL_PID_OK;
    }
    return p;
}

static void offline_topic(struct weir_producer *p, const char *name, int32_t n)
{
    pthread_mutex_lock(&p->lock);
    struct cl_topic *t = cl_topic_get(p, name);
    assert_non_null(t);
    assert_int_equal(cl_topic_set_partitions(p, t, n), WEIR_CLIENT_OK);
    for (int32_t i = 0; i < n; i++) t->parts[i]->leader = 0;
    pthread_mutex_unlock(&p->lock);
}

static void offline_pid(struct weir_producer *p, int64_t pid, int16_t epoch)
{
    p->s->pid = pid;
    p->s->epoch = epoch;
    p->s->pid_state = CL_PID_OK;
}

/* Scan and drain at fake_now; seals what it drains. Returns the count. */
static size_t offline_drain(struct weir_producer *p, struct cl_batch **out, size_t max)
{
    pthread_mutex_lock(&p->lock);
    p->s->next_wake_ms = INT64_MAX;
    cl_accum_scan(p->s, fake_now);
    size_t n = cl_accum_drain(p->s, fake_now, 0, SIZE_MAX, out, max);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < n; i++)
        if (!out[i]->len) assert_int_equal(cl_batch_seal(p, out[i]), WEIR_CLIENT_OK);
    return n;
}

static void offline_outcome(struct weir_producer *p, struct cl_batch *b, int err, int64_t base)
{
    pthread_mutex_lock(&p->lock);
    cl_batch_outcome(p->s, b, err, base, -1);
    pthread_mutex_unlock(&p->lock);
    cl_done_run(p);
}

struct report {
    int calls;
    int err;
    int64_t offset;
    int64_t timestamp;
    int32_t partition;
};

static void on_report(const struct weir_delivery *d, void *opaque)
{
    struct report *r = opaque;
    r->calls++;
    r->err = d->err;
    r->offset = d->offset;
    r->timestamp = d->timestamp;
    r->partition = d->partition;
}

static int send_rec(struct weir_producer *p, const char *topic, int32_t partition, const char *key, size_t value_len,
                    int64_t ts, struct report *r)
{
    static char zeros[1 << 16];
    struct weir_msg m = {
        .topic = topic,
        .partition = partition,
        .key = key,
        .key_len = key ? strlen(key) : 0,
        .value = zeros,
        .value_len = value_len,
        .timestamp_ms = ts,
        .on_delivery = r ? on_report : NULL,
        .opaque = r,
    };
    return weir_producer_send(p, &m);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* ---- murmur2 and the partitioner --------------------------------------------------------- */

static void test_murmur2_vectors(void **state)
{
    (void)state;
    /* librdkafka src/rdmurmur2.c unittest_murmur2 (java_murmur2_results). */
    static const char unaligned[] = "PreAmbleWillBeRemoved,ThePrePartThatIs";
    static const struct { const char *key; size_t skip; uint32_t hash; } rdk[] = {
        { "kafka", 0, 0xd067cf64 }, { "giberish123456789", 0, 0x8f552b0c }, { "1234", 0, 0x9fc97b14 },
        { "1234", 1, 0xe7c009ca },  { "1234", 2, 0x873930da },              { "1234", 3, 0x5a4b5ca1 },
        { unaligned, 0, 0x78424f1c }, { unaligned, 1, 0x4a62b377 },        { unaligned, 2, 0xe0e4e09e },
        { unaligned, 3, 0x62b8b43f }, { "", 0, 0x106e08d9 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(rdk); i++) {
        const char *k = rdk[i].key + rdk[i].skip; /* unaligned starts, as librdkafka tests */
        assert_int_equal(weir_murmur2(k, strlen(k)), rdk[i].hash);
    }
    assert_int_equal(weir_murmur2(NULL, 0), 0x106e08d9);
    /* Generated with the JVM Kafka client 1.0.0 (Utils.murmur2, toPositive). */
    static const struct { const char *key; size_t len; int32_t hash; uint32_t positive; } java[] = {
        { "21", 2, -973932308, 1173551340 },
        { "foobar", 6, -790332482, 1357151166 },
        { "\x0c\x2a\x38\x18\x6d\x6f", 6, 274204207, 274204207 },
        { "a-little-bit-long-string", 24, -985981536, 1161502112 },
        { "a-little-bit-longer-string", 26, -1486304829, 661178819 },
        { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48, -58897971, 2088585677 },
        { "abc", 3, 479470107, 479470107 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(java); i++) {
        uint32_t h = weir_murmur2(java[i].key, java[i].len);
        assert_int_equal((int32_t)h, java[i].hash);
        assert_int_equal(h & 0x7fffffffu, java[i].positive);
    }
    /* kafkajs' defaultJava vectors (generated with Kafka's Java DefaultPartitioner). */
    static const struct { const char *key; int32_t hash; } kjs[] = {
        { "0", 971027396 },          { "1", -1993445489 },        { "128", -326012175 },
        { "2187", -1508407203 },     { "16384", -325739742 },     { "78125", -1654490814 },
        { "279936", 1462227128 },    { "823543", -2014198330 },   { "2097152", 607668903 },
        { "4782969", -1182699775 },  { "10000000", -1830336757 }, { "19487171", -1603849305 },
        { "35831808", -857013643 },  { "62748517", -1167431028 }, { "105413504", -381294639 },
        { "170859375", -1658323481 }, { "100:48069", 1009543857 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(kjs); i++)
        assert_int_equal((int32_t)weir_murmur2(kjs[i].key, strlen(kjs[i].key)), kjs[i].hash);
}

static void test_partition_for_key(void **state)
{
    (void)state;
    /* toPositive(murmur2(key)) % n from the Java hashes above. */
    static const int32_t counts[] = { 1, 2, 3, 7, 10, 100, 1000 };
    static const struct { const char *key; int32_t want[7]; } cases[] = {
        { "21", { 0, 0, 0, 3, 0, 40, 340 } },
        { "foobar", { 0, 0, 0, 0, 6, 66, 166 } },
        { "a-little-bit-long-string", { 0, 0, 2, 1, 2, 12, 112 } },
        { "a-little-bit-longer-string", { 0, 1, 2, 0, 9, 19, 819 } },
        { "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", { 0, 1, 2, 3, 7, 77, 677 } },
        { "abc", { 0, 1, 0, 4, 7, 7, 107 } },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++)
        for (size_t j = 0; j < WEIR_ARRAY_LEN(counts); j++)
            assert_int_equal(weir_partition_for_key(cases[i].key, strlen(cases[i].key), counts[j]), cases[i].want[j]);
    assert_int_equal(weir_partition_for_key("x", 1, 0), -1);

    /* The producer puts a keyed record where the partitioner says. */
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "60000", NULL });
    offline_topic(p, "t", 10);
    struct report r = { 0 };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        assert_int_equal(send_rec(p, "t", WEIR_PARTITION_ANY, cases[i].key, 10, 5, &r), 0);
        struct cl_topic *t = cl_topic_find(p, "t");
        struct cl_part *part = t->parts[cases[i].want[4]];
        assert_non_null(part->tail);
        assert_int_equal(part->tail->recs[part->tail->bld.count - 1].opaque, &r);
    }
    weir_producer_destroy(p);
    assert_int_equal(r.calls, (int)WEIR_ARRAY_LEN(cases));
    assert_int_equal(r.err, WEIR_CLIENT_E_CLOSED);
}

static void test_sticky_partitioner(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "60000", NULL });
    offline_topic(p, "s", 4);
    struct cl_topic *t = cl_topic_find(p, "s");
    /* 1000-byte values: 16 fit a 16384-byte batch. */
    int32_t first = -1, prev = -1, switches = 0;
    for (int i = 0; i < 16 * 6; i++) {
        assert_int_equal(send_rec(p, "s", WEIR_PARTITION_ANY, NULL, 1000, 5, NULL), 0);
        int32_t now_part = t->sticky;
        if (first < 0) first = now_part;
        if (prev >= 0 && now_part != prev) {
            switches++;
            assert_int_equal(i % 16, 0); /* only when a new batch was needed */
        }
        prev = now_part;
    }
    assert_int_equal(switches, 5);
    /* Every batch is full and on one partition. */
    int32_t batches = 0;
    for (int32_t i = 0; i < 4; i++)
        for (struct cl_batch *b = t->parts[i]->head; b; b = b->next) {
            assert_int_equal(b->bld.count, 16);
            batches++;
        }
    assert_int_equal(batches, 6);
    weir_producer_destroy(p);
}

/* ---- configuration ------------------------------------------------------------------- */

static void test_conf_errors(void **state)
{
    (void)state;
    static const struct { const char *key, *value; enum weir_conf_res res; const char *why; } cases[] = {
        { "linger.ms", "5", WEIR_CONF_OK, "" },
        { "linger.ms", "-1", WEIR_CONF_INVALID, "linger.ms: expected an integer in [0, 900000]" },
        { "linger.ms", "5ms", WEIR_CONF_INVALID, "invalid value \"5ms\"" },
        { "linger.ms", "", WEIR_CONF_INVALID, "invalid value" },
        { "lingerms", "5", WEIR_CONF_UNKNOWN, "unknown configuration key \"lingerms\"" },
        { "acks", "all", WEIR_CONF_OK, "" },
        { "acks", "2", WEIR_CONF_INVALID, "expected 0, 1, all or -1" },
        { "compression.type", "lz4", WEIR_CONF_OK, "" },
        { "compression.type", "gzip", WEIR_CONF_OK, "" },
        { "compression.type", "snappy", WEIR_CONF_OK, "" },
        { "compression.type", "zstd", WEIR_CONF_OK, "" },
        { "compression.type", "brotli", WEIR_CONF_INVALID, "expected none, gzip, snappy, lz4 or zstd" },
        { "compression.level", "-131073", WEIR_CONF_INVALID, "compression.level" },
        { "compression.level", "23", WEIR_CONF_INVALID, "compression.level" },
        { "compression.level", "9", WEIR_CONF_OK, "" },
        { "enable.idempotence", "yes", WEIR_CONF_INVALID, "expected true or false" },
        { "enable.idempotence", "FALSE", WEIR_CONF_OK, "" },
        { "batch.size", "0", WEIR_CONF_INVALID, "batch.size" },
        { "buffer.memory", "99999999999999999999", WEIR_CONF_INVALID, "buffer.memory" },
        { "message.max.bytes", "999", WEIR_CONF_INVALID, "[1000, 1000000000]" },
        { "bootstrap.servers", "localhost", WEIR_CONF_INVALID, "expected host:port" },
        { "bootstrap.servers", "a:1,b:x", WEIR_CONF_INVALID, "\"b:x\"" },
        { "bootstrap.servers", "a:70000", WEIR_CONF_INVALID, "a:70000" },
        { "bootstrap.servers", "[::1]:9092, host:1", WEIR_CONF_OK, "" },
        { "queue.buffering.max.ms", "7", WEIR_CONF_OK, "" },
        { "max.in.flight.requests.per.connection", "0", WEIR_CONF_INVALID, "max.in.flight" },
    };
    struct weir_conf *c = weir_conf_new();
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        enum weir_conf_res r = weir_conf_set(c, cases[i].key, cases[i].value, err, sizeof err);
        print_message("%s=%s -> %d %s\n", cases[i].key, cases[i].value, r, err);
        assert_int_equal(r, cases[i].res);
        assert_non_null(strstr(err, cases[i].why));
    }
    char buf[64];
    assert_int_equal(weir_conf_get(c, "linger.ms", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "7"); /* set through its librdkafka alias */
    assert_int_equal(weir_conf_get(c, "compression.type", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "zstd"); /* the last valid one set */
    assert_int_equal(weir_conf_get(c, "acks", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "all");
    assert_int_equal(weir_conf_get(c, "nope", buf, sizeof buf), WEIR_CONF_UNKNOWN);
    struct weir_conf *d = weir_conf_dup(c);
    assert_int_equal(weir_conf_get(d, "bootstrap.servers", buf, sizeof buf), WEIR_CONF_OK);
    assert_string_equal(buf, "[::1]:9092, host:1");
    weir_conf_destroy(d);
    weir_conf_destroy(c);
}

static void test_conf_cross_rules(void **state)
{
    (void)state;
    static const struct { const char *kv[8]; bool ok; const char *why; int idempotent; } cases[] = {
        { { NULL }, true, "", 1 },
        { { "acks", "1", NULL }, true, "", 0 },                           /* default idempotence gives way */
        { { "max.in.flight.requests.per.connection", "6", NULL }, true, "", 0 },
        { { "enable.idempotence", "true", "acks", "1", NULL }, false, "acks must be all", -1 },
        { { "enable.idempotence", "true", "max.in.flight.requests.per.connection", "6", NULL }, false, "<= 5", -1 },
        { { "enable.idempotence", "true", "retries", "0", NULL }, false, "retries must be > 0", -1 },
        { { "enable.idempotence", "false", NULL }, true, "", 0 },
        { { "delivery.timeout.ms", "1000", "linger.ms", "500", "request.timeout.ms", "600", NULL }, false,
          "delivery.timeout.ms (1000) must be >= linger.ms + request.timeout.ms (1100)", -1 },
        { { "compression.type", "gzip", "compression.level", "9", NULL }, true, "", 1 },
        { { "compression.type", "gzip", "compression.level", "10", NULL }, false, "out of range for compression.type gzip", -1 },
        { { "compression.type", "lz4", "compression.level", "17", NULL }, true, "", 1 },
        { { "compression.type", "lz4", "compression.level", "0", NULL }, false, "1-17", -1 },
        { { "compression.type", "zstd", "compression.level", "-131072", NULL }, true, "", 1 },
        { { "compression.type", "snappy", "compression.level", "3", NULL }, false, "no levels", -1 },
        { { "compression.type", "none", "compression.level", "-1", NULL }, true, "", 1 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        char err[256] = "";
        struct weir_conf *c = weir_conf_new();
        assert_int_equal(weir_conf_set(c, "bootstrap.servers", "127.0.0.1:1", err, sizeof err), WEIR_CONF_OK);
        for (const char *const *kv = cases[i].kv; kv[0]; kv += 2)
            assert_int_equal(weir_conf_set(c, kv[0], kv[1], err, sizeof err), WEIR_CONF_OK);
        c->hooks.offline = true;
        struct weir_producer *p = weir_producer_new(c, err, sizeof err);
        print_message("case %zu: %s\n", i, p ? "ok" : err);
        assert_int_equal(p != NULL, cases[i].ok);
        if (p) assert_int_equal(p->idempotent, cases[i].idempotent);
        else assert_non_null(strstr(err, cases[i].why));
        weir_producer_destroy(p);
        weir_conf_destroy(c);
    }
    char err[128];
    struct weir_conf *c = weir_conf_new();
    assert_null(weir_producer_new(c, err, sizeof err));
    assert_string_equal(err, "bootstrap.servers is not set");
    weir_conf_destroy(c);
}

/* ---- batches: built, sealed, decoded back -------------------------------------------------- */

struct model {
    int64_t ts;
    uint8_t key[40];
    int32_t key_len; /* -1 null */
    uint8_t value[300];
    int32_t value_len;
    int n_hdrs;
    struct weir_msg_header hdrs[3];
    uint8_t hval[3][8];
    struct report rep;
};

static void model_gen(struct model *m, int i, uint64_t *rng)
{
    memset(m, 0, sizeof *m);
    m->ts = 1700000000000 + i * 3 - (int64_t)(rng_next(rng) % 5); /* not monotonic */
    m->key_len = i % 11 == 0 ? -1 : (int32_t)(rng_next(rng) % 40);
    for (int32_t k = 0; k < m->key_len; k++) m->key[k] = (uint8_t)rng_next(rng);
    m->value_len = i % 13 == 0 ? -1 : (int32_t)(rng_next(rng) % 300);
    for (int32_t k = 0; k < m->value_len; k++) m->value[k] = (uint8_t)(k % 7 ? rng_next(rng) : 'a');
    m->n_hdrs = (int)(rng_next(rng) % 4);
    static const char *const names[] = { "trace", "", "h2" };
    for (int h = 0; h < m->n_hdrs; h++) {
        snprintf((char *)m->hval[h], sizeof m->hval[h], "v%d", i);
        m->hdrs[h] = (struct weir_msg_header){ names[h], strlen(names[h]), h == 2 ? NULL : m->hval[h],
                                               strlen((char *)m->hval[h]) };
    }
}

static void model_send(struct weir_producer *p, struct model *m)
{
    struct weir_msg msg = {
        .topic = "b",
        .partition = 0,
        .key = m->key_len < 0 ? NULL : m->key,
        .key_len = m->key_len < 0 ? 0 : (size_t)m->key_len,
        .value = m->value_len < 0 ? NULL : m->value,
        .value_len = m->value_len < 0 ? 0 : (size_t)m->value_len,
        .headers = m->hdrs,
        .headers_count = (size_t)m->n_hdrs,
        .timestamp_ms = m->ts,
        .on_delivery = on_report,
        .opaque = &m->rep,
    };
    assert_int_equal(weir_producer_send(p, &msg), 0);
}

static void bytes_equal(const uint8_t *got, int32_t got_len, const uint8_t *want, int32_t want_len)
{
    assert_int_equal(got_len, want_len);
    if (want_len > 0) assert_memory_equal(got, want, (size_t)want_len);
    if (want_len < 0) assert_null(got);
}

/* Decodes b with the engine's reader and compares with models[first, first + count). */
static void batch_check(const struct cl_batch *b, const struct model *models, int first, enum weir_codec codec,
                        int64_t pid, int32_t seq)
{
    size_t bytes = 0;
    assert_int_equal(weir_batch_validate(b->bld.buf, b->len, SIZE_MAX, true, &bytes), WEIR_OK);
    assert_int_equal(bytes, b->len);
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(b->bld.buf, b->len, &h), WEIR_OK);
    assert_int_equal(h.attributes & WEIR_ATTR_CODEC_MASK, codec);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(h.producer_id, pid);
    assert_int_equal(h.base_sequence, seq);
    assert_int_equal(h.records_count, b->bld.count);
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    assert_int_equal(weir_record_iter_init(&it, b->bld.buf, b->len, &scratch, &scratch_cap, 1 << 24), WEIR_OK);
    struct weir_record rec;
    int n = 0;
    int64_t max_ts = INT64_MIN;
    while (weir_record_iter_next(&it, &rec) == WEIR_OK) {
        const struct model *m = &models[first + n];
        assert_int_equal(rec.offset, n);
        assert_int_equal(rec.timestamp, m->ts);
        max_ts = WEIR_MAX(max_ts, m->ts);
        bytes_equal(rec.key, rec.key_len, m->key, m->key_len);
        bytes_equal(rec.value, rec.value_len, m->value, m->value_len);
        assert_int_equal(rec.headers_count, m->n_hdrs);
        size_t pos = 0;
        struct weir_header wh;
        for (int k = 0; k < m->n_hdrs; k++) {
            assert_int_equal(weir_record_header_next(&rec, &pos, &wh), WEIR_OK);
            bytes_equal(wh.key, wh.key_len, (const uint8_t *)m->hdrs[k].key, (int32_t)m->hdrs[k].key_len);
            bytes_equal(wh.value, wh.value_len, m->hdrs[k].value,
                        m->hdrs[k].value ? (int32_t)m->hdrs[k].value_len : -1);
        }
        n++;
    }
    assert_int_equal(n, b->bld.count);
    assert_int_equal(h.max_timestamp, max_ts);
    weir_free(scratch);
}

static void batches_round_trip(const char *codec, bool idempotent)
{
    enum { N = 400 };
    struct model *models = calloc(N, sizeof *models);
    uint64_t rng = 0x1234567 + (uint64_t)idempotent;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", "compression.type", codec,
                                                                  "enable.idempotence", idempotent ? "true" : "false",
                                                                  NULL });
    offline_topic(p, "b", 1);
    if (idempotent) offline_pid(p, 42, 3);
    for (int i = 0; i < N; i++) {
        model_gen(&models[i], i, &rng);
        model_send(p, &models[i]);
    }
    struct cl_batch *bs[64];
    int first = 0, n_batches = 0;
    int64_t base = 1000;
    for (;;) {
        size_t n = offline_drain(p, bs, 64);
        if (n == 0) break;
        assert_int_equal(n, 1); /* one batch per partition per drain */
        enum weir_codec want = !strcmp(codec, "lz4") ? WEIR_CODEC_LZ4 : WEIR_CODEC_NONE;
        batch_check(bs[0], models, first, want, idempotent ? 42 : -1, idempotent ? first : -1);
        if (want == WEIR_CODEC_LZ4) assert_true(bs[0]->len < bs[0]->bld.cap); /* compressed */
        int count = bs[0]->bld.count;
        offline_outcome(p, bs[0], 0, base);
        for (int i = first; i < first + count; i++) {
            assert_int_equal(models[i].rep.calls, 1);
            assert_int_equal(models[i].rep.err, 0);
            assert_int_equal(models[i].rep.offset, base + (i - first));
            assert_int_equal(models[i].rep.timestamp, models[i].ts);
        }
        base += count + 7;
        first += count;
        n_batches++;
    }
    assert_int_equal(first, N);
    assert_true(n_batches >= 3); /* ~65 KiB of records in 16 KiB batches */
    assert_int_equal(p->outstanding, 0);
    weir_producer_destroy(p);
    free(models);
}

static void test_batch_round_trip_none(void **state)
{
    (void)state;
    batches_round_trip("none", false);
}

static void test_batch_round_trip_lz4_idempotent(void **state)
{
    (void)state;
    batches_round_trip("lz4", true);
}

static void test_lz4_incompressible(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", "compression.type", "lz4", NULL });
    offline_topic(p, "b", 1);
    uint8_t noise[15000];
    uint64_t rng = 99;
    for (size_t i = 0; i < sizeof noise; i++) noise[i] = (uint8_t)rng_next(&rng);
    struct weir_msg m = { .topic = "b", .partition = 0, .value = noise, .value_len = sizeof noise, .timestamp_ms = 1 };
    assert_int_equal(weir_producer_send(p, &m), 0);
    struct cl_batch *b;
    assert_int_equal(offline_drain(p, &b, 1), 1);
    size_t bytes;
    assert_int_equal(weir_batch_validate(b->bld.buf, b->len, SIZE_MAX, true, &bytes), WEIR_OK);
    /* Whichever codec it ended with, the record reads back. */
    uint8_t *scratch = NULL;
    size_t cap = 0;
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, b->bld.buf, b->len, &scratch, &cap, 1 << 20), WEIR_OK);
    assert_int_equal(weir_record_iter_next(&it, &rec), WEIR_OK);
    bytes_equal(rec.value, rec.value_len, noise, sizeof noise);
    weir_free(scratch);
    offline_outcome(p, b, 0, 0);
    weir_producer_destroy(p);
}

/* ---- readiness: linger.ms, batch.size, flush --------------------------------------------- */

static void test_linger_fake_clock(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "5", NULL });
    offline_topic(p, "l", 1);
    struct cl_batch *b;
    fake_now = 5000;
    assert_int_equal(send_rec(p, "l", 0, "k", 10, 0, NULL), 0);
    fake_now = 5002;
    assert_int_equal(send_rec(p, "l", 0, "k", 10, 0, NULL), 0);
    fake_now = 5004;
    assert_int_equal(offline_drain(p, &b, 1), 0);
    assert_int_equal(p->s->next_wake_ms, 5005); /* the Sender sleeps until linger is up */
    fake_now = 5005;
    assert_int_equal(offline_drain(p, &b, 1), 1);
    assert_int_equal(b->bld.count, 2);
    offline_outcome(p, b, 0, 0);
    /* flush(): ready at once. */
    assert_int_equal(send_rec(p, "l", 0, "k", 10, 0, NULL), 0);
    assert_int_equal(offline_drain(p, &b, 1), 0);
    p->flushing = 1;
    assert_int_equal(offline_drain(p, &b, 1), 1);
    p->flushing = 0;
    offline_outcome(p, b, 0, 0);
    weir_producer_destroy(p);
}

static void test_batch_size_ready(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "60000", "batch.size", "16384", NULL });
    offline_topic(p, "z", 1);
    fake_now = 9000;
    struct cl_batch *bs[4];
    int i = 0;
    while (cl_topic_find(p, "z")->parts[0]->head == cl_topic_find(p, "z")->parts[0]->tail) {
        assert_int_equal(send_rec(p, "z", 0, "k", 1000, 7, NULL), 0);
        i++;
        assert_true(i < 100);
    }
    assert_int_equal(i, 17); /* 16 x ~1010 bytes fit 16384 with the 61-byte header */
    assert_int_equal(offline_drain(p, bs, 4), 1);
    assert_int_equal(bs[0]->bld.count, 16);
    assert_true(bs[0]->len <= 16384);
    offline_outcome(p, bs[0], 0, 0);
    /* A record larger than batch.size gets a batch of its own size. */
    assert_int_equal(send_rec(p, "z", 0, NULL, 40000, 7, NULL), 0);
    assert_int_equal(offline_drain(p, bs, 4), 1); /* the 17th record's batch, closed by the big one */
    assert_int_equal(bs[0]->bld.count, 1);
    offline_outcome(p, bs[0], 0, 0);
    p->flushing = 1;
    assert_int_equal(offline_drain(p, bs, 4), 1);
    assert_true(bs[0]->buf_cap > 40000);
    offline_outcome(p, bs[0], 0, 0);
    /* Over message.max.bytes: refused at send. */
    char *big = calloc(1, 1000001);
    struct weir_msg m = { .topic = "z", .partition = 0, .value = big, .value_len = 1000001 };
    assert_int_equal(weir_producer_send(p, &m), WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE);
    free(big);
    weir_producer_destroy(p);
}

static void test_send_errors(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new(NULL);
    offline_topic(p, "e", 2);
    assert_int_equal(send_rec(p, "e", 2, NULL, 1, 0, NULL), WEIR_CLIENT_E_UNKNOWN_PARTITION);
    assert_int_equal(send_rec(p, "e", -2, NULL, 1, 0, NULL), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(send_rec(p, "", 0, NULL, 1, 0, NULL), WEIR_CLIENT_E_INVALID_ARG);
    struct weir_msg m = { .topic = NULL };
    assert_int_equal(weir_producer_send(p, &m), WEIR_CLIENT_E_INVALID_ARG);
    struct weir_msg h = { .topic = "e", .headers_count = 1 };
    assert_int_equal(weir_producer_send(p, &h), WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(weir_producer_send(p, NULL), WEIR_CLIENT_E_INVALID_ARG);
    /* No metadata and no Sender: the wait for the topic ends at once. */
    assert_int_equal(send_rec(p, "unknown", 0, NULL, 1, 0, NULL), WEIR_CLIENT_E_TIMED_OUT);
    assert_int_equal(weir_producer_close(p, 0), 0);
    assert_int_equal(send_rec(p, "e", 0, NULL, 1, 0, NULL), WEIR_CLIENT_E_CLOSED);
    weir_producer_destroy(p);
}

/* ---- buffer.memory back-pressure ---------------------------------------------------------- */

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void test_backpressure_blocks_then_fails(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "buffer.memory", "32768", "batch.size", "16384",
                                                                  "max.block.ms", "300", "linger.ms", "60000", NULL });
    offline_topic(p, "m", 1);
    int sent = 0;
    struct timespec t0;
    int err = 0;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        err = send_rec(p, "m", 0, NULL, 1000, 1, NULL);
        if (err) break;
        sent++;
        assert_true(sent < 100);
    }
    double ms = elapsed_ms(&t0);
    print_message("%d records sent, then %s after %.0f ms\n", sent, weir_client_err_str(err), ms);
    assert_int_equal(err, WEIR_CLIENT_E_QUEUE_FULL);
    assert_int_equal(sent, 32); /* two full 16-record batches */
    assert_true(ms >= 290 && ms < 3000);
    assert_int_equal(p->pool_used, 32768);
    assert_int_equal(p->space_waiters, 0);
    weir_producer_destroy(p);

    /* batch.size above buffer.memory: batches are cut to buffer.memory, not waited for. */
    p = offline_new((const char *const[]){ "buffer.memory", "20000", "batch.size", "65536", "max.block.ms", "0",
                                          "linger.ms", "60000", NULL });
    offline_topic(p, "m", 1);
    assert_int_equal(send_rec(p, "m", 0, NULL, 1000, 1, NULL), 0);
    assert_int_equal(p->pool_used, 20000);
    assert_int_equal(send_rec(p, "m", 0, NULL, 30000, 1, NULL), WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE);
    weir_producer_destroy(p);
}

struct unblocker {
    struct weir_producer *p;
    int delay_ms;
};

static void *unblock_main(void *arg)
{
    struct unblocker *u = arg;
    usleep((useconds_t)u->delay_ms * 1000);
    struct cl_batch *b;
    size_t n = offline_drain(u->p, &b, 1); /* the blocked send made everything ready */
    assert_int_equal(n, 1);
    offline_outcome(u->p, b, 0, 0);
    return NULL;
}

static void test_backpressure_unblocks(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "buffer.memory", "32768", "batch.size", "16384",
                                                                  "max.block.ms", "10000", "linger.ms", "60000", NULL });
    offline_topic(p, "m", 1);
    for (int i = 0; i < 32; i++) assert_int_equal(send_rec(p, "m", 0, NULL, 1000, 1, NULL), 0);
    struct unblocker u = { p, 150 };
    pthread_t th;
    pthread_create(&th, NULL, unblock_main, &u);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(send_rec(p, "m", 0, NULL, 1000, 1, NULL), 0);
    double ms = elapsed_ms(&t0);
    pthread_join(th, NULL);
    print_message("send blocked %.0f ms until a batch completed\n", ms);
    assert_true(ms >= 140 && ms < 5000);
    weir_producer_destroy(p);
}

/* ---- outcomes: retries, sequences, timeouts ------------------------------------------------- */

/* n batches of `per` records each on partition 0, all drained (in flight). */
static void inflight_batches(struct weir_producer *p, struct cl_batch **bs, int n, int per, struct report *reps)
{
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < per; i++) assert_int_equal(send_rec(p, "o", 0, "k", 50, 100 + k, &reps[k]), 0);
        p->flushing = 1;
        assert_int_equal(offline_drain(p, &bs[k], 1), 1);
        p->flushing = 0;
    }
}

static void test_outcome_retry_keeps_order(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", NULL });
    offline_topic(p, "o", 1);
    offline_pid(p, 7, 0);
    struct cl_batch *bs[3];
    struct report reps[3] = { 0 };
    fake_now = 20000;
    inflight_batches(p, bs, 3, 4, reps);
    assert_int_equal(bs[0]->base_seq, 0);
    assert_int_equal(bs[1]->base_seq, 4);
    assert_int_equal(bs[2]->base_seq, 8);
    uint8_t copy[3][512];
    for (int k = 0; k < 3; k++) memcpy(copy[k], bs[k]->bld.buf, bs[k]->len);
    struct cl_part *part = cl_topic_find(p, "o")->parts[0];
    assert_int_equal(part->inflight, 3);
    /* The head fails (leader moved); the two behind it get OUT_OF_ORDER, out of order. */
    pthread_mutex_lock(&p->lock);
    p->s->meta_needed = false;
    cl_batch_outcome(p->s, bs[0], WEIR_KAFKA_NOT_LEADER_OR_FOLLOWER, -1, -1);
    assert_true(p->s->meta_needed);
    assert_true(part->draining);
    cl_batch_outcome(p->s, bs[2], WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, -1);
    cl_batch_outcome(p->s, bs[1], WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, -1, -1);
    assert_true(cl_part_check(part, true));
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(p->fatal_err, 0);
    assert_int_equal(reps[0].calls + reps[1].calls + reps[2].calls, 0);
    /* Backoff: nothing before retry.backoff.ms. */
    struct cl_batch *b;
    assert_int_equal(offline_drain(p, &b, 1), 0);
    fake_now += 100;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(offline_drain(p, &b, 1), 1);
        assert_ptr_equal(b, bs[k]); /* in sequence order, the same bytes */
        assert_memory_equal(b->bld.buf, copy[k], b->len);
        assert_int_equal(b->attempts, 2);
    }
    assert_int_equal(bs[0]->retries, 1);
    assert_int_equal(bs[1]->retries, 0); /* not charged: it only followed a failed batch */
    for (int k = 0; k < 3; k++) offline_outcome(p, bs[k], 0, 10 * k);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(reps[k].calls, 4);
        assert_int_equal(reps[k].err, 0);
        assert_int_equal(reps[k].offset, 10 * k + 3);
    }
    assert_int_equal(part->next_ack_seq, 12);
    weir_producer_destroy(p);
}

static void test_outcome_sequence_desync_is_fatal(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", NULL });
    offline_topic(p, "o", 1);
    offline_pid(p, 7, 0);
    struct cl_batch *bs[2];
    struct report reps[3] = { 0 };
    inflight_batches(p, bs, 2, 2, reps);
    assert_int_equal(send_rec(p, "o", 0, "k", 50, 1, &reps[2]), 0); /* queued, not sent */
    offline_outcome(p, bs[0], WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    char why[256];
    assert_int_equal(weir_producer_fatal_error(p, why, sizeof why), WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    print_message("fatal: %s\n", why);
    assert_int_equal(reps[0].err, WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER);
    offline_outcome(p, bs[1], WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
    assert_int_equal(reps[1].err, WEIR_CLIENT_E_FATAL);
    struct cl_batch *b;
    assert_int_equal(offline_drain(p, &b, 1), 0); /* the scan fails what is queued */
    cl_done_run(p);
    assert_int_equal(reps[2].err, WEIR_CLIENT_E_FATAL);
    assert_int_equal(send_rec(p, "o", 0, "k", 1, 1, NULL), WEIR_CLIENT_E_FATAL);
    weir_producer_destroy(p);
}

static void test_outcome_unknown_producer_id_renumbers(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", NULL });
    offline_topic(p, "o", 1);
    offline_pid(p, 7, 0);
    struct cl_batch *bs[2];
    struct report reps[2] = { 0 };
    inflight_batches(p, bs, 2, 3, reps);
    offline_outcome(p, bs[0], 0, 100); /* seq 0-2 acknowledged */
    offline_outcome(p, bs[1], WEIR_KAFKA_UNKNOWN_PRODUCER_ID, -1);
    assert_int_equal(p->fatal_err, 0);
    assert_int_equal(p->s->pid_state, CL_PID_RESET);
    struct cl_batch *b;
    fake_now += 1000;
    assert_int_equal(offline_drain(p, &b, 1), 0); /* no sends until a new id */
    /* What the InitProducerId answer does: a new id, every queued batch renumbered. */
    pthread_mutex_lock(&p->lock);
    offline_pid(p, 8, 0);
    cl_pid_renumber(p->s);
    pthread_mutex_unlock(&p->lock);
    assert_int_equal(offline_drain(p, &b, 1), 1);
    assert_ptr_equal(b, bs[1]);
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(b->bld.buf, b->len, &h), WEIR_OK);
    assert_int_equal(h.producer_id, 8);
    assert_int_equal(h.base_sequence, 0);
    size_t bytes;
    assert_int_equal(weir_batch_validate(b->bld.buf, b->len, SIZE_MAX, true, &bytes), WEIR_OK); /* CRC redone */
    offline_outcome(p, b, 0, 200);
    assert_int_equal(reps[1].err, 0);
    assert_int_equal(reps[1].offset, 202);
    weir_producer_destroy(p);
}

static void test_outcome_retries_and_timeout(void **state)
{
    (void)state;
    struct weir_producer *p = offline_new((const char *const[]){ "linger.ms", "0", "retries", "2",
                                                                  "enable.idempotence", "false",
                                                                  "delivery.timeout.ms", "40000", NULL });
    offline_topic(p, "o", 1);
    struct cl_batch *b;
    struct report r = { 0 };
    fake_now = 100000;
    assert_int_equal(send_rec(p, "o", 0, "k", 5, 1, &r), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(offline_drain(p, &b, 1), 1);
        offline_outcome(p, b, WEIR_KAFKA_REQUEST_TIMED_OUT, -1);
        fake_now += 100;
    }
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.err, WEIR_KAFKA_REQUEST_TIMED_OUT); /* out of retries */
    /* A final error is reported as it is. */
    assert_int_equal(send_rec(p, "o", 0, "k", 5, 1, &r), 0);
    assert_int_equal(offline_drain(p, &b, 1), 1);
    offline_outcome(p, b, WEIR_KAFKA_MESSAGE_TOO_LARGE, -1);
    assert_int_equal(r.err, WEIR_KAFKA_MESSAGE_TOO_LARGE);
    /* Never sent (no leader): expires after delivery.timeout.ms. */
    cl_topic_find(p, "o")->parts[0]->leader = -1;
    assert_int_equal(send_rec(p, "o", 0, "k", 5, 1, &r), 0);
    assert_int_equal(offline_drain(p, &b, 1), 0);
    assert_true(p->s->meta_needed);
    fake_now += 39999;
    assert_int_equal(offline_drain(p, &b, 1), 0);
    assert_int_equal(r.calls, 2);
    fake_now += 1;
    assert_int_equal(offline_drain(p, &b, 1), 0);
    cl_done_run(p);
    assert_int_equal(r.calls, 3);
    assert_int_equal(r.err, WEIR_CLIENT_E_MSG_TIMED_OUT);
    assert_int_equal(p->outstanding, 0);
    weir_producer_destroy(p);
}

static void test_err_str(void **state)
{
    (void)state;
    assert_string_equal(weir_client_err_str(0), "NONE: success");
    assert_non_null(strstr(weir_client_err_str(WEIR_KAFKA_NOT_LEADER_OR_FOLLOWER), "NOT_LEADER_OR_FOLLOWER"));
    assert_non_null(strstr(weir_client_err_str(WEIR_CLIENT_E_QUEUE_FULL), "E_QUEUE_FULL"));
    assert_non_null(strstr(weir_client_err_str(-1), "UNKNOWN_SERVER_ERROR"));
    assert_non_null(strstr(weir_client_err_str(5000), "KAFKA_ERROR"));
    assert_non_null(strstr(weir_client_err_str(-99), "E_UNKNOWN"));
    for (int e = WEIR_CLIENT_E_FIRST; e <= WEIR_CLIENT_E_INVALID_ARG; e++)
        assert_non_null(strstr(weir_client_err_str(e), "E_"));
    assert_int_equal(cl_err_action(WEIR_KAFKA_DUPLICATE_SEQUENCE_NUMBER), CL_ACT_OK);
    assert_int_equal(cl_err_action(WEIR_KAFKA_NOT_LEADER_OR_FOLLOWER), CL_ACT_RETRY_REFRESH);
    assert_int_equal(cl_err_action(WEIR_KAFKA_NOT_ENOUGH_REPLICAS), CL_ACT_RETRY);
    assert_int_equal(cl_err_action(WEIR_KAFKA_CORRUPT_MESSAGE), CL_ACT_FAIL);
    /* codes without the client's own wording or action: proto's table */
    assert_string_equal(weir_client_err_str(WEIR_KERR_INVALID_REGISTRATION),
                        weir_kerr_str(WEIR_KERR_INVALID_REGISTRATION));
    assert_non_null(strstr(weir_client_err_str(WEIR_KERR_LAST + 1), "KAFKA_ERROR"));
    assert_string_equal(weir_client_err_text(WEIR_KAFKA_KAFKA_STORAGE_ERROR),
                        "broker storage error (its disk is full or failing)");
    assert_int_equal(cl_err_action(WEIR_KERR_NOT_CONTROLLER), CL_ACT_RETRY);
    assert_int_equal(cl_err_action(WEIR_KERR_BROKER_NOT_AVAILABLE), CL_ACT_RETRY_REFRESH);
    assert_int_equal(cl_err_action(WEIR_KERR_REBALANCE_IN_PROGRESS), CL_ACT_FAIL);
    assert_int_equal(cl_err_action(WEIR_CLIENT_E_QUEUE_FULL), CL_ACT_FAIL);
    assert_int_equal(cl_err_action(5000), CL_ACT_FAIL);
    assert_int_equal(cl_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(cl_seq_add(INT32_MAX - 1, 3), 1);
    assert_true(cl_seq_cmp(1, INT32_MAX) > 0);
    assert_true(cl_seq_cmp(INT32_MAX, 1) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_vectors),
        cmocka_unit_test(test_partition_for_key),
        cmocka_unit_test(test_sticky_partitioner),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_conf_cross_rules),
        cmocka_unit_test(test_batch_round_trip_none),
        cmocka_unit_test(test_batch_round_trip_lz4_idempotent),
        cmocka_unit_test(test_lz4_incompressible),
        cmocka_unit_test(test_linger_fake_clock),
        cmocka_unit_test(test_batch_size_ready),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_backpressure_blocks_then_fails),
        cmocka_unit_test(test_backpressure_unblocks),
        cmocka_unit_test(test_outcome_retry_keeps_order),
        cmocka_unit_test(test_outcome_sequence_desync_is_fatal),
        cmocka_unit_test(test_outcome_unknown_producer_id_renumbers),
        cmocka_unit_test(test_outcome_retries_and_timeout),
        cmocka_unit_test(test_err_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
