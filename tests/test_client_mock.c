/* tests/test_client_mock.c: the producer against librdkafka's mock cluster
 * (rdkafka_mock.h: an independent Kafka broker implementation on loopback),
 * black-box through client/client.h. Every test checks its delivery reports,
 * then reads the topic back with a librdkafka consumer: each acknowledged
 * record is there once, at its reported partition and offset, in send order
 * within its partition, with its key, value, headers and timestamp; no failed
 * record is. Errors are injected with rd_kafka_mock_push_request_errors
 * (retriable ones, disconnects, a final one), leader moves, brokers down and
 * slow brokers.
 * Mock limits the tests respect: it checks idempotent sequences only for
 * transactional producers, so a test that mixes errors with several requests
 * in flight per partition would see reordering no real broker allows; error
 * tests therefore use max.in.flight 1, and the pipelined test moves leaders
 * between flushes (every request then sent to the old leader fails).
 * Partitions keep 5 MB. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client.h"
#include "mock_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- producing with a model of every record ------------------------------------------- */

struct track {
    int calls;
    int err;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
    int32_t attempts;
    int last_err;
};

struct run {
    const char *topic;
    int n;
    struct track *tr;
    int64_t ts0;
};

static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    struct track *t = opaque;
    t->calls++;
    t->err = d->err;
    t->partition = d->partition;
    t->offset = d->offset;
    t->timestamp = d->timestamp;
    t->attempts = d->attempts;
    t->last_err = d->last_err;
}

/* Record i: key "key-<i % 97>", value "<i>:" + filler, header idx=<i>, timestamp ts0 + i. */
static int rec_value(int i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%d:", i);
    int len = n + (i * 7) % 120;
    for (int k = n; k < len; k++) buf[k] = (char)('a' + (i + k) % 26);
    return len;
}

static int send_one(struct weir_producer *p, struct run *r, int i)
{
    char key[32], value[160], hidx[16];
    int klen = snprintf(key, sizeof key, "key-%d", i % 97);
    int vlen = rec_value(i, value, sizeof value);
    int hlen = snprintf(hidx, sizeof hidx, "%d", i);
    struct weir_msg_header hdrs[2] = { { "idx", 3, hidx, (size_t)hlen }, { "nil", 3, NULL, 0 } };
    struct weir_msg m = {
        .topic = r->topic,
        .partition = WEIR_PARTITION_ANY,
        .key = key,
        .key_len = (size_t)klen,
        .value = value,
        .value_len = (size_t)vlen,
        .headers = hdrs,
        .headers_count = 2,
        .timestamp_ms = r->ts0 + i,
        .on_delivery = on_delivery,
        .opaque = &r->tr[i],
    };
    return weir_producer_send(p, &m);
}

static struct weir_producer *producer_new(const struct mock *m, const char *const *kv)
{
    char err[256];
    struct weir_conf *c = weir_conf_new();
    assert_int_equal(weir_conf_set(c, "bootstrap.servers", m->bootstraps, err, sizeof err), WEIR_CONF_OK);
    assert_int_equal(weir_conf_set(c, "retry.backoff.ms", "20", err, sizeof err), WEIR_CONF_OK);
    for (; kv && kv[0]; kv += 2)
        if (weir_conf_set(c, kv[0], kv[1], err, sizeof err) != WEIR_CONF_OK) fail_msg("%s=%s: %s", kv[0], kv[1], err);
    struct weir_producer *p = weir_producer_new(c, err, sizeof err);
    if (!p) fail_msg("producer: %s", err);
    weir_conf_destroy(c);
    return p;
}

static void run_init(struct run *r, const char *topic, int n)
{
    r->topic = topic;
    r->n = n;
    r->tr = calloc((size_t)n, sizeof *r->tr);
    r->ts0 = 1700000000000;
}

/* ---- reading back with librdkafka --------------------------------------------------------- */

static int header_idx(rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *v = NULL;
    size_t sz = 0;
    if (rd_kafka_message_headers(msg, &hdrs) || rd_kafka_header_get_last(hdrs, "idx", &v, &sz)) return -1;
    char buf[16];
    if (sz == 0 || sz >= sizeof buf) return -1;
    memcpy(buf, v, sz);
    buf[sz] = '\0';
    if (rd_kafka_header_get_last(hdrs, "nil", &v, &sz) || v != NULL) return -2; /* a null header value */
    return atoi(buf);
}

/* Every record with err 0 once, where its report says, in order; none other. */
static void verify_log(const struct mock *m, struct run *r, int32_t partitions)
{
    char err[256];
    rd_kafka_conf_t *conf = mock_rd_conf(m);
    rd_kafka_conf_set(conf, "group.id", "weir-verify", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "check.crcs", "true", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(list, r->topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, list), 0);
    rd_kafka_topic_partition_list_destroy(list);

    int want = 0;
    for (int i = 0; i < r->n; i++) want += r->tr[i].err == 0;
    char *seen = calloc((size_t)r->n, 1);
    int *last = malloc((size_t)partitions * sizeof *last);
    for (int32_t p = 0; p < partitions; p++) last[p] = -1;
    int got = 0, bad = 0;
    int64_t deadline = now_ms() + 60000, quiet_until = 0;
    while (now_ms() < deadline && (got < want || now_ms() < quiet_until) && bad < 10) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
        if (!msg) continue;
        if (msg->err) {
            if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) print_message("consume: %s\n", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        int i = header_idx(msg);
        char value[160];
        const struct track *t = i >= 0 && i < r->n ? &r->tr[i] : NULL;
        const char *why = NULL;
        if (!t) why = "no idx header / bad index";
        else if (seen[i]) why = "duplicate";
        else if (t->err) why = "a failed record is in the log";
        else if (t->partition != msg->partition || t->offset != msg->offset) why = "not where its report said";
        else if (i <= last[msg->partition]) why = "out of order";
        else if ((int)msg->len != rec_value(i, value, sizeof value) || memcmp(msg->payload, value, msg->len)) why = "value";
        else if (rd_kafka_message_timestamp(msg, NULL) != r->ts0 + i) why = "timestamp";
        if (why) {
            print_message("record %d at %d/%lld: %s (attempts %d; last in partition %d, attempts %d)\n", i,
                          (int)msg->partition, (long long)msg->offset, why, t ? t->attempts : -1, last[msg->partition],
                          last[msg->partition] >= 0 ? r->tr[last[msg->partition]].attempts : -1);
            bad++;
        } else {
            seen[i] = 1;
            last[msg->partition] = i;
            got++;
            if (got == want) quiet_until = now_ms() + 500; /* then look for extras */
        }
        rd_kafka_message_destroy(msg);
    }
    print_message("%s: read back %d of %d acknowledged records, %d bad\n", r->topic, got, want, bad);
    assert_int_equal(bad, 0);
    assert_int_equal(got, want);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(seen);
    free(last);
}

static void reports_check(const struct run *r, int want_failed, int fail_err)
{
    int failed = 0;
    for (int i = 0; i < r->n; i++) {
        const struct track *t = &r->tr[i];
        if (t->calls != 1) fail_msg("record %d: %d delivery reports", i, t->calls);
        if (t->err) {
            failed++;
            if (fail_err && t->err != fail_err) fail_msg("record %d: %s", i, weir_client_err_str(t->err));
        } else if (t->offset < 0) {
            fail_msg("record %d: offset %lld", i, (long long)t->offset);
        }
        /* The reported timestamp is not checked: the mock answers Produce with a
         * made-up LogAppendTime, which any client reports (Java's RecordMetadata
         * too). verify_log checks the stored CreateTime. */
    }
    if (want_failed >= 0) assert_int_equal(failed, want_failed);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_murmur2_matches_librdkafka(void **state)
{
    (void)state;
    uint64_t rng = 88172645463325252ull;
    uint8_t key[80];
    for (int i = 0; i < 50000; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        size_t len = rng % sizeof key;
        for (size_t k = 0; k < len; k++) key[k] = (uint8_t)(rng >> (k % 56));
        int32_t parts = (int32_t)(1 + (rng >> 40) % 200);
        int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, key, len, parts, NULL, NULL);
        assert_int_equal(weir_partition_for_key(key, len, parts), want);
    }
}

static void produce_and_verify(const char *topic, const char *codec)
{
    struct mock m;
    mock_new(&m, 3);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, topic, 6, 3), 0);
    /* Leaders spread over the three brokers, not left to the mock (which may
     * give them all to fewer: 2 connects seen once in a full run). */
    for (int32_t part = 0; part < 6; part++)
        assert_int_equal(rd_kafka_mock_partition_set_leader(m.mc, topic, part, 1 + part % 3), 0);
    struct run r;
    run_init(&r, topic, 30000);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "compression.type", codec, "linger.ms", "2", NULL });
    for (int i = 0; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    print_message("%s: %llu requests, %llu batches, %llu connects, %llu metadata requests\n", topic,
                  (unsigned long long)st.requests_sent, (unsigned long long)st.batches_sent,
                  (unsigned long long)st.connects, (unsigned long long)st.metadata_requests);
    assert_int_equal(st.records_delivered, (uint64_t)r.n);
    assert_true(st.connects >= 3); /* a bootstrap connection and the three leaders */
    weir_producer_destroy(p);
    reports_check(&r, 0, 0);
    /* Keyed records are where the Java partitioner puts them. */
    for (int i = 0; i < r.n; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "key-%d", i % 97);
        assert_int_equal(r.tr[i].partition, weir_partition_for_key(key, (size_t)klen, 6));
    }
    verify_log(&m, &r, 6);
    free(r.tr);
    mock_free(&m);
}

static void test_produce_none(void **state)
{
    (void)state;
    produce_and_verify("plain", "none");
}

static void test_produce_lz4(void **state)
{
    (void)state;
    produce_and_verify("packed", "lz4");
}

/* Retriable errors and disconnects, one request in flight per connection. */
static void test_retriable_errors_in_order(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 3);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "flaky", 4, 3), 0);
    struct run r;
    run_init(&r, "flaky", 20000);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "max.in.flight.requests.per.connection", "1",
                                                                       "batch.size", "4096", "linger.ms", "1", NULL });
    static const rd_kafka_resp_err_t errs[] = {
        RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR__TRANSPORT,             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,   RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    };
    for (int i = 0; i < r.n; i++) {
        if (i % 1000 == 500) {
            rd_kafka_resp_err_t e[3] = { errs[i / 1000 % ARRAY_LEN(errs)], errs[(i / 1000 + 2) % ARRAY_LEN(errs)],
                                         errs[(i / 1000 + 5) % ARRAY_LEN(errs)] };
            rd_kafka_mock_push_request_errors_array(m.mc, 0 /* Produce */, 3, e);
        }
        assert_int_equal(send_one(p, &r, i), 0);
        if (i % 1000 == 999) usleep(20000); /* let the errors meet requests */
    }
    assert_int_equal(weir_producer_close(p, -1), 0);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    print_message("retried %llu batches, %llu disconnects, %llu metadata requests\n",
                  (unsigned long long)st.batches_retried, (unsigned long long)st.disconnects,
                  (unsigned long long)st.metadata_requests);
    assert_true(st.batches_retried >= 40);
    assert_true(st.disconnects >= 1);
    weir_producer_destroy(p);
    reports_check(&r, 0, 0);
    int retried = 0;
    for (int i = 0; i < r.n; i++) retried += r.tr[i].attempts > 1;
    assert_true(retried > 0);
    verify_log(&m, &r, 4);
    free(r.tr);
    mock_free(&m);
}

/* Five requests in flight per connection; leaders move under them. */
static void test_pipelined_leader_moves(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 3);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "moving", 3, 3), 0);
    struct run r;
    run_init(&r, "moving", 30000);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "batch.size", "1024", "linger.ms", "0", NULL });
    for (int i = 0; i < r.n; i++) {
        if (i % 3000 == 1500) {
            /* The mock accepts any sequence: a leader that moved away and back
             * while requests were in flight would take a later batch after
             * refusing an earlier one, which a real broker refuses (OUT_OF_ORDER).
             * So leaders move between flushes; the requests that then go to
             * the old leader (stale metadata), five in flight, all fail. */
            assert_int_equal(weir_producer_flush(p, 60000), 0);
            for (int32_t part = 0; part < 3; part++)
                rd_kafka_mock_partition_set_leader(m.mc, "moving", part, 1 + (i / 3000 + part) % 3);
        }
        assert_int_equal(send_one(p, &r, i), 0);
    }
    assert_int_equal(weir_producer_close(p, -1), 0);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    print_message("%llu requests, retried %llu batches, %llu metadata requests\n",
                  (unsigned long long)st.requests_sent, (unsigned long long)st.batches_retried,
                  (unsigned long long)st.metadata_requests);
    assert_true(st.batches_retried > 0);
    weir_producer_destroy(p);
    reports_check(&r, 0, 0);
    verify_log(&m, &r, 3);
    free(r.tr);
    mock_free(&m);
}

/* A final error fails one batch; the sequence gap costs a new producer id,
 * and everything after it is delivered, in order. */
static void test_final_error_resets_producer_id(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "final", 1, 1), 0);
    struct run r;
    run_init(&r, "final", 3000);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "max.in.flight.requests.per.connection", "1",
                                                                       "linger.ms", "0", NULL });
    for (int i = 0; i < 1000; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 30000), 0);
    rd_kafka_mock_push_request_errors(m.mc, 0, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    for (int i = 1000; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    assert_int_equal(st.pid_inits, 2);
    assert_int_equal(weir_producer_fatal_error(p, NULL, 0), 0);
    weir_producer_destroy(p);
    int failed = 0, first = -1, lastf = -1;
    for (int i = 0; i < r.n; i++)
        if (r.tr[i].err) {
            failed++;
            if (first < 0) first = i;
            lastf = i;
        }
    print_message("records %d..%d failed (%d)\n", first, lastf, failed);
    assert_true(failed > 0 && lastf - first + 1 == failed); /* one batch */
    reports_check(&r, failed, WEIR_KAFKA_MESSAGE_TOO_LARGE);
    verify_log(&m, &r, 1);
    free(r.tr);
    mock_free(&m);
}

/* Brokers down: records fail after delivery.timeout.ms; back up: delivered. */
static void test_delivery_timeout(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "down", 2, 1), 0);
    struct run r;
    run_init(&r, "down", 300);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "delivery.timeout.ms", "1500",
                                                                       "request.timeout.ms", "1000", NULL });
    for (int i = 0; i < 100; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    int64_t t0 = now_ms();
    for (int i = 100; i < 200; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    int64_t took = now_ms() - t0;
    print_message("down: reported in %lld ms\n", (long long)took);
    assert_true(took >= 1400 && took < 8000);
    for (int i = 100; i < 200; i++) assert_int_equal(r.tr[i].err, WEIR_CLIENT_E_MSG_TIMED_OUT);
    rd_kafka_mock_broker_set_up(m.mc, 1);
    for (int i = 200; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    reports_check(&r, 100, WEIR_CLIENT_E_MSG_TIMED_OUT);
    verify_log(&m, &r, 2);
    free(r.tr);
    mock_free(&m);
}

/* A leader gone without a goodbye (refusing connections) and replaced: while
 * a batch waits for it, the producer asks for metadata every retry.backoff.ms
 * (20 ms here), not only after each reconnect attempt (100, 200, 400, 800 ms
 * apart: at most 5 in the 1.5 s below), and delivers at the new leader. */
static void test_lost_leader_requery(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 2);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "lost", 1, 1), 0);
    assert_int_equal(rd_kafka_mock_partition_set_leader(m.mc, "lost", 0, 1), 0);
    struct run r;
    run_init(&r, "lost", 20);
    struct weir_producer *p = producer_new(&m, NULL);
    for (int i = 0; i < 10; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct weir_producer_stats st0, st1;
    weir_producer_stats(p, &st0);
    for (int i = 10; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    usleep(1500 * 1000);
    weir_producer_stats(p, &st1);
    uint64_t asked = st1.metadata_requests - st0.metadata_requests;
    print_message("lost leader: %llu metadata requests in 1.5 s\n", (unsigned long long)asked);
    assert_true(asked >= 10);
    assert_int_equal(rd_kafka_mock_partition_set_leader(m.mc, "lost", 0, 2), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    rd_kafka_mock_broker_set_up(m.mc, 1);
    reports_check(&r, 0, 0);
    verify_log(&m, &r, 1);
    free(r.tr);
    mock_free(&m);
}

/* A broker whose disk is full answers KAFKA_STORAGE_ERROR (56, retriable):
 * the producer retries it until delivery.timeout.ms; the records then fail with
 * E_MSG_TIMED_OUT and last_err names the storage error, also for records
 * queued behind the refused batch and never sent (librdkafka reports a bare
 * ERR__MSG_TIMED_OUT here). Out of `retries` first: the error itself. A record
 * that got through after a 56 has last_err 0. */
static void test_storage_error_reported(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "full", 1, 1), 0);
    struct run r;
    run_init(&r, "full", 200);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "delivery.timeout.ms", "1500",
                                                                       "request.timeout.ms", "1000", "linger.ms", "0",
                                                                       "max.in.flight.requests.per.connection", "1",
                                                                       NULL });
    for (int i = 0; i < 50; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);

    /* One refusal, then space returns: delivered, nothing to report. */
    rd_kafka_mock_push_request_errors(m.mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
    for (int i = 50; i < 100; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    int retried = 0;
    for (int i = 50; i < 100; i++) {
        assert_int_equal(r.tr[i].err, 0);
        retried += r.tr[i].attempts > 1;
    }
    assert_true(retried > 0);

    /* The disk stays full: every try is refused until delivery.timeout.ms. */
    rd_kafka_resp_err_t errs[400];
    for (size_t k = 0; k < ARRAY_LEN(errs); k++) errs[k] = RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR;
    rd_kafka_mock_push_request_errors_array(m.mc, 0, ARRAY_LEN(errs), errs);
    int64_t t0 = now_ms();
    for (int i = 100; i < 150; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    int64_t took = now_ms() - t0;
    rd_kafka_mock_clear_request_errors(m.mc, 0);
    assert_true(r.tr[100].attempts > 1); /* the head batch was refused again and again */
    for (int i = 100; i < 150; i++) assert_int_equal(r.tr[i].err, WEIR_CLIENT_E_MSG_TIMED_OUT);
    print_message("full: timed out in %lld ms after %d tries; last error %s\n", (long long)took, r.tr[100].attempts,
                  weir_client_err_str(r.tr[100].last_err));
    for (int i = 100; i < 150; i++) assert_int_equal(r.tr[i].last_err, WEIR_KAFKA_KAFKA_STORAGE_ERROR);
    assert_true(took >= 1400 && took < 8000);
    for (int i = 0; i < 100; i++) assert_int_equal(r.tr[i].last_err, 0);

    /* Space is back: delivered. */
    for (int i = 150; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    for (int i = 150; i < r.n; i++) assert_int_equal(r.tr[i].last_err, 0);
    reports_check(&r, 50, WEIR_CLIENT_E_MSG_TIMED_OUT);
    verify_log(&m, &r, 1);
    free(r.tr);

    /* retries=1: out of retries before the timeout, the error itself is reported. */
    run_init(&r, "full", 10);
    p = producer_new(&m, (const char *const[]){ "retries", "1", "enable.idempotence", "false", "linger.ms", "0",
                                                "max.in.flight.requests.per.connection", "1", NULL });
    rd_kafka_mock_push_request_errors(m.mc, 0, 2, RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
                                      RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR);
    for (int i = 0; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    int failed = 0;
    for (int i = 0; i < r.n; i++) {
        if (r.tr[i].err) assert_int_equal(r.tr[i].err, WEIR_KAFKA_KAFKA_STORAGE_ERROR);
        assert_int_equal(r.tr[i].last_err, 0);
        failed += r.tr[i].err != 0;
    }
    assert_true(failed > 0);
    free(r.tr);
    mock_free(&m);
}

/* close() with requests in flight on a slow broker loses nothing. */
static void test_close_in_flight(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 2);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "slow", 4, 2), 0);
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 100); /* the mock answers one request per rtt */
    rd_kafka_mock_broker_set_rtt(m.mc, 2, 100);
    struct run r;
    run_init(&r, "slow", 8000);
    struct weir_producer *p = producer_new(&m, (const char *const[]){ "batch.size", "8192", NULL });
    for (int i = 0; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    struct weir_producer_stats st;
    weir_producer_stats(p, &st);
    assert_true(st.records_delivered < (uint64_t)r.n); /* still in flight */
    assert_int_equal(weir_producer_close(p, -1), 0);
    for (int i = 0; i < r.n; i++) assert_int_equal(r.tr[i].calls, 1); /* every report before close returns */
    weir_producer_destroy(p);
    reports_check(&r, 0, 0);
    verify_log(&m, &r, 4);
    free(r.tr);
    mock_free(&m);
}

/* Callbacks may send (without blocking) but not flush or close. */
struct chain {
    struct weir_producer *p;
    struct run *r;
    int flush_err, close_err, sends, send_errs;
};
static struct chain chain;

static void on_chain(const struct weir_delivery *d, void *opaque)
{
    on_delivery(d, opaque);
    int i = (int)((struct track *)opaque - chain.r->tr);
    chain.flush_err = weir_producer_flush(chain.p, 1000);
    chain.close_err = weir_producer_close(chain.p, 1000);
    if (i < chain.r->n / 2) {
        char v[16];
        int n = snprintf(v, sizeof v, "%d", i + chain.r->n / 2);
        struct weir_msg m = { .topic = chain.r->topic, .partition = 0, .value = v, .value_len = (size_t)n,
                              .timestamp_ms = 1, .on_delivery = on_delivery, .opaque = &chain.r->tr[i + chain.r->n / 2] };
        int e = weir_producer_send(chain.p, &m);
        chain.sends++;
        chain.send_errs += e != 0;
    }
}

static void test_callbacks_reenter(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "chain", 1, 1), 0);
    struct run r;
    run_init(&r, "chain", 400);
    struct weir_producer *p = producer_new(&m, NULL);
    chain = (struct chain){ .p = p, .r = &r };
    for (int i = 0; i < r.n / 2; i++) {
        char v[16];
        int n = snprintf(v, sizeof v, "%d", i);
        struct weir_msg msg = { .topic = "chain", .partition = 0, .value = v, .value_len = (size_t)n,
                                .timestamp_ms = 1, .on_delivery = on_chain, .opaque = &r.tr[i] };
        assert_int_equal(weir_producer_send(p, &msg), 0);
    }
    assert_int_equal(weir_producer_flush(p, 30000), 0); /* waits for the records the callbacks sent too */
    assert_int_equal(chain.flush_err, WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(chain.close_err, WEIR_CLIENT_E_INVALID_ARG);
    assert_int_equal(chain.sends, r.n / 2);
    assert_int_equal(chain.send_errs, 0);
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.tr[i].calls, 1);
        assert_int_equal(r.tr[i].err, 0);
    }
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    free(r.tr);
    mock_free(&m);
}

/* close() with a timeout on a stuck broker: returns in time, every record
 * reported (delivered, or WEIR_CLIENT_E_CLOSED), nothing leaked. */
static void test_close_timeout_aborts(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "stuck", 2, 1), 0);
    struct run r;
    run_init(&r, "stuck", 600);
    struct weir_producer *p = producer_new(&m, NULL);
    for (int i = 0; i < 100; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_flush(p, 10000), 0);
    rd_kafka_mock_broker_set_rtt(m.mc, 1, 5000);
    for (int i = 100; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    int64_t t0 = now_ms();
    assert_int_equal(weir_producer_close(p, 300), WEIR_CLIENT_E_TIMED_OUT);
    int64_t took = now_ms() - t0;
    assert_true(took >= 290 && took < 3000);
    assert_int_equal(weir_producer_close(p, -1), 0); /* idempotent */
    struct weir_msg late = { .topic = "stuck", .partition = 0, .value = "x", .value_len = 1 };
    assert_int_equal(weir_producer_send(p, &late), WEIR_CLIENT_E_CLOSED);
    weir_producer_destroy(p);
    int closed = 0;
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.tr[i].calls, 1);
        if (i < 100) assert_int_equal(r.tr[i].err, 0);
        else if (r.tr[i].err) assert_int_equal(r.tr[i].err, WEIR_CLIENT_E_CLOSED), closed++;
    }
    print_message("close(300) took %lld ms; %d records reported E_CLOSED\n", (long long)took, closed);
    assert_true(closed > 0);
    free(r.tr);
    mock_free(&m);
}

/* A broker with ApiVersions 0-2 and Produce 3 only: ApiVersions falls back, Produce v3 is used. */
static void test_old_versions(void **state)
{
    (void)state;
    struct mock m;
    mock_new(&m, 1);
    assert_int_equal(rd_kafka_mock_topic_create(m.mc, "old", 1, 1), 0);
    rd_kafka_mock_set_apiversion(m.mc, 18, 0, 2);
    rd_kafka_mock_set_apiversion(m.mc, 0, 0, 3);
    rd_kafka_mock_set_apiversion(m.mc, 3, 0, 4);
    struct run r;
    run_init(&r, "old", 2000);
    struct weir_producer *p = producer_new(&m, NULL);
    for (int i = 0; i < r.n; i++) assert_int_equal(send_one(p, &r, i), 0);
    assert_int_equal(weir_producer_close(p, -1), 0);
    weir_producer_destroy(p);
    reports_check(&r, 0, 0);
    verify_log(&m, &r, 1);
    free(r.tr);
    mock_free(&m);
}

int main(int argc, char **argv)
{
    if (argc > 1) cmocka_set_test_filter(argv[1]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_matches_librdkafka),
        cmocka_unit_test(test_produce_none),
        cmocka_unit_test(test_produce_lz4),
        cmocka_unit_test(test_retriable_errors_in_order),
        cmocka_unit_test(test_pipelined_leader_moves),
        cmocka_unit_test(test_final_error_resets_producer_id),
        cmocka_unit_test(test_delivery_timeout),
        cmocka_unit_test(test_lost_leader_requery),
        cmocka_unit_test(test_storage_error_reported),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_close_timeout_aborts),
        cmocka_unit_test(test_callbacks_reenter),
        cmocka_unit_test(test_old_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
