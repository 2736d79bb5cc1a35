/* tests/test_repl_znode.c: repl/json.c and repl/znode.c: the strict JSON
 * reader and writer, and Kafka's znode JSON: samples as Kafka writes them
 * (ZkData.scala's encoders and real ZooKeeper dumps), exact encoder output,
 * round trips, and malformed inputs (every truncation, wrong types, huge
 * numbers, deep nesting, duplicate keys, bad strings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "repl/core_int.h"
#include "testutil.h"

/* A heap copy of exactly n bytes, so ASan sees a read past the end. */
static char *dup_exact(const char *s, size_t n)
{
    char *d = malloc(n ? n : 1);
    assert_non_null(d);
    memcpy(d, s, n);
    return d;
}

/* ---- JSON reader ------------------------------------------------------------------ */

static bool skip_all(const char *s, size_t n, char *why, size_t cap)
{
    char *d = dup_exact(s, n);
    struct rp_jr r;
    rp_jr_init(&r, d, n);
    bool ok = rp_jr_skip(&r) && rp_jr_finish(&r);
    if (!ok) rp_jr_error(&r, why, cap);
    free(d);
    return ok;
}

static void assert_valid(const char *s)
{
    char why[128];
    if (!skip_all(s, strlen(s), why, sizeof why)) fail_msg("rejected %s: %s", s, why);
}

static void assert_invalid(const char *s, const char *want_why)
{
    char why[128];
    if (skip_all(s, strlen(s), why, sizeof why)) fail_msg("accepted %s", s);
    if (want_why && !strstr(why, want_why)) fail_msg("%s: got \"%s\", want \"%s\"", s, why, want_why);
}

static void test_json_valid(void **state)
{
    (void)state;
    const char *ok[] = {
        "{}", "[]", " { } ", "0", "-0", "1.5", "-1.25e+10", "1E5", "\"\"", "true", "false", "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\"}", "[\"\xc3\xa9\xf0\x9f\x98\x80\"]",
        "\t\r\n[ 1 , 2 ]\n",
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ok); i++) assert_valid(ok[i]);
}

static void test_json_invalid(void **state)
{
    (void)state;
    assert_invalid("", "unexpected end");
    assert_invalid("{", "unexpected end");
    assert_invalid("{\"a\"}", "expected ':'");
    assert_invalid("{\"a\":1,}", "trailing comma");
    assert_invalid("[1,]", "trailing comma");
    assert_invalid("[1 2]", "expected ',' or ']'");
    assert_invalid("{a:1}", "unexpected character");
    assert_invalid("[01]", "expected ',' or ']'");
    assert_invalid("[1.]", "bad number");
    assert_invalid("[-]", "bad number");
    assert_invalid("[1e]", "bad number");
    assert_invalid("[tru]", "bad literal");
    assert_invalid("[nul]", "bad literal");
    assert_invalid("{} {}", "trailing data");
    assert_invalid("[\"a\x01\"]", "control character");
    assert_invalid("[\"\\x\"]", "bad escape");
    assert_invalid("[\"\\u12\"]", "bad \\u escape");
    assert_invalid("[\"\\ud800\"]", "unpaired surrogate");
    assert_invalid("[\"\\udc00\"]", "unpaired surrogate");
    assert_invalid("[\"\\ud800\\u0041\"]", "unpaired surrogate");
    assert_invalid("[\"\xc0\xaf\"]", "invalid UTF-8");     /* overlong '/' */
    assert_invalid("[\"\xed\xa0\x80\"]", "invalid UTF-8");  /* UTF-8 surrogate */
    assert_invalid("[\"\xf4\x90\x80\x80\"]", "invalid UTF-8"); /* > U+10FFFF */
    assert_invalid("[\"\xe2\x82\"]", "invalid UTF-8");
    assert_invalid("[\"abc", "unterminated string");
    assert_invalid("[\xff]", "unexpected character");
    /* a NUL byte inside the input is just a bad byte */
    char why[128];
    assert_false(skip_all("[1,\0]", 5, why, sizeof why));
}

static void test_json_depth(void **state)
{
    (void)state;
    char doc[2 * RP_JSON_DEPTH_MAX + 8];
    for (int depth = RP_JSON_DEPTH_MAX; depth <= RP_JSON_DEPTH_MAX + 1; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) doc[n++] = '[';
        for (int i = 0; i < depth; i++) doc[n++] = ']';
        doc[n] = '\0';
        if (depth <= RP_JSON_DEPTH_MAX) assert_valid(doc);
        else assert_invalid(doc, "nesting too deep");
    }
    /* deep nesting inside an unknown znode field is refused too */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"leader\":1,\"leader_epoch\":1,\"isr\":[1],\"controller_epoch\":1,\"x\":");
    for (int i = 0; i < 1000; i++) big[n++] = '[';
    for (int i = 0; i < 1000; i++) big[n++] = ']';
    big[n++] = '}';
    struct rp_pstate ps;
    char w[128];
    assert_int_equal(rp_pstate_decode(big, n, &ps, w, sizeof w), WEIR_E_CORRUPT);
    assert_non_null(strstr(w, "nesting too deep"));
}

static void test_json_int(void **state)
{
    (void)state;
    struct { const char *text; int64_t min, max; bool ok; int64_t v; } cases[] = {
        { "0", INT64_MIN, INT64_MAX, true, 0 },
        { "-0", INT64_MIN, INT64_MAX, true, 0 },
        { "9223372036854775807", INT64_MIN, INT64_MAX, true, INT64_MAX },
        { "-9223372036854775808", INT64_MIN, INT64_MAX, true, INT64_MIN },
        { "9223372036854775808", INT64_MIN, INT64_MAX, false, 0 },
        { "-9223372036854775809", INT64_MIN, INT64_MAX, false, 0 },
        { "99999999999999999999999999", INT64_MIN, INT64_MAX, false, 0 },
        { "2147483647", INT32_MIN, INT32_MAX, true, INT32_MAX },
        { "2147483648", INT32_MIN, INT32_MAX, false, 0 },
        { "1.0", INT64_MIN, INT64_MAX, false, 0 },
        { "1e3", INT64_MIN, INT64_MAX, false, 0 },
        { "\"1\"", INT64_MIN, INT64_MAX, false, 0 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        struct rp_jr r;
        int64_t v = -42;
        rp_jr_init(&r, cases[i].text, strlen(cases[i].text));
        bool ok = rp_jr_int(&r, cases[i].min, cases[i].max, &v) && rp_jr_finish(&r);
        if (ok != cases[i].ok) fail_msg("%s: ok=%d", cases[i].text, ok);
        if (ok) assert_int_equal(v, cases[i].v);
        else assert_non_null(r.err);
    }
}

static void test_json_str_unescape(void **state)
{
    (void)state;
    const char *in = "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\xc3\xa9\"";
    const char *want = "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9";
    char buf[64];
    size_t len;
    struct rp_jr r;
    rp_jr_init(&r, in, strlen(in));
    assert_true(rp_jr_str(&r, buf, sizeof buf, &len));
    assert_int_equal(len, strlen(want));
    assert_string_equal(buf, want);
    /* exactly the capacity: the NUL must fit too */
    char small[4];
    rp_jr_init(&r, "\"abc\"", 5);
    assert_true(rp_jr_str(&r, small, sizeof small, NULL));
    rp_jr_init(&r, "\"abcd\"", 6);
    assert_false(rp_jr_str(&r, small, sizeof small, NULL));
    assert_string_equal(r.err, "string too long");
}

/* {"a":[1,-2,{}],"s\"":"q\"\\\n\u0001é/","n":null} */
static void sample_doc(struct rp_jw *w)
{
    rp_jw_obj_begin(w);
    rp_jw_key(w, "a");
    rp_jw_arr_begin(w);
    rp_jw_int(w, 1);
    rp_jw_int(w, -2);
    rp_jw_obj_begin(w);
    rp_jw_obj_end(w);
    rp_jw_arr_end(w);
    rp_jw_key(w, "s\"");
    rp_jw_str(w, "q\"\\\n\x01\xc3\xa9/");
    rp_jw_key(w, "n");
    rp_jw_null(w);
    rp_jw_obj_end(w);
}

static void test_json_writer(void **state)
{
    (void)state;
    char buf[128];
    struct rp_jw w;
    size_t len;
    rp_jw_init(&w, buf, sizeof buf);
    sample_doc(&w);
    assert_int_equal(rp_jw_done(&w, &len), WEIR_OK);
    assert_string_equal(buf, "{\"a\":[1,-2,{}],\"s\\\"\":\"q\\\"\\\\\\n\\u0001\xc3\xa9/\",\"n\":null}");
    assert_int_equal(len, strlen(buf));
    /* it reads back */
    assert_valid(buf);
    /* overflow sticks at every size below the full length */
    for (size_t cap = 0; cap <= len; cap++) {
        char small[128];
        rp_jw_init(&w, small, cap);
        sample_doc(&w);
        assert_int_equal(rp_jw_done(&w, &len), WEIR_E_TOO_LARGE);
        if (cap) assert_true(strlen(small) < cap);
    }
}

/* ---- broker registration ------------------------------------------------------------ */

static enum weir_err broker_decode(const char *s, struct rp_broker_reg *b, char *why)
{
    char *d = dup_exact(s, strlen(s));
    enum weir_err e = rp_broker_reg_decode(d, strlen(s), b, why, 128);
    free(d);
    return e;
}

static void test_broker_kafka_samples(void **state)
{
    (void)state;
    struct rp_broker_reg b;
    char why[128];
    /* a Kafka 2.x registration (version 4) as found in ZooKeeper */
    assert_int_equal(broker_decode("{\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
                                   "\"endpoints\":[\"PLAINTEXT://10.9.167.48:9092\"],\"jmx_port\":9999,"
                                   "\"host\":\"10.9.167.48\",\"timestamp\":\"1543300074836\",\"port\":9092,"
                                   "\"version\":4}", &b, why), WEIR_OK);
    assert_int_equal(b.version, 4);
    assert_int_equal(b.jmx_port, 9999);
    assert_int_equal(b.timestamp_ms, 1543300074836);
    assert_string_equal(b.host, "10.9.167.48");
    assert_int_equal(b.port, 9092);
    assert_int_equal(b.endpoints_n, 1);
    assert_string_equal(b.endpoints[0].listener, "PLAINTEXT");
    assert_string_equal(b.endpoints[0].protocol, "PLAINTEXT");
    assert_string_equal(b.endpoints[0].host, "10.9.167.48");
    assert_int_equal(b.endpoints[0].port, 9092);
    /* version 5 with features, rack, two listeners, no PLAINTEXT one (host null, port -1) */
    assert_int_equal(broker_decode("{\"features\":{\"metadata.version\":{\"min_version\":1,\"max_version\":7}},"
                                   "\"listener_security_protocol_map\":{\"CLIENT\":\"SSL\",\"REPL\":\"SASL_PLAINTEXT\"},"
                                   "\"endpoints\":[\"CLIENT://h1.example:9093\",\"REPL://[::1]:9094\"],"
                                   "\"jmx_port\":-1,\"host\":null,\"rack\":\"dc1\",\"timestamp\":\"17\",\"port\":-1,"
                                   "\"version\":5}", &b, why), WEIR_OK);
    assert_string_equal(b.host, "");
    assert_string_equal(b.rack, "dc1");
    assert_int_equal(b.endpoints_n, 2);
    assert_string_equal(b.endpoints[0].protocol, "SSL");
    assert_string_equal(b.endpoints[1].listener, "REPL");
    assert_string_equal(b.endpoints[1].protocol, "SASL_PLAINTEXT");
    assert_string_equal(b.endpoints[1].host, "::1");
    assert_int_equal(b.endpoints[1].port, 9094);
    /* version 1: host and port only */
    assert_int_equal(broker_decode("{\"version\":1,\"host\":\"localhost\",\"port\":9092,\"jmx_port\":9999,"
                                   "\"timestamp\":\"2233345666\"}", &b, why), WEIR_OK);
    assert_int_equal(b.endpoints_n, 1);
    assert_string_equal(b.endpoints[0].host, "localhost");
    assert_int_equal(b.endpoints[0].port, 9092);
    /* version 2: endpoints without the map: listener names are protocols */
    assert_int_equal(broker_decode("{\"version\":2,\"host\":\"localhost\",\"port\":9092,\"jmx_port\":9999,"
                                   "\"timestamp\":\"2233345666\",\"endpoints\":[\"PLAINTEXT://host1:9092\","
                                   "\"SSL://host1:9093\"]}", &b, why), WEIR_OK);
    assert_string_equal(b.endpoints[1].protocol, "SSL");
    assert_int_equal(broker_decode("{\"version\":2,\"jmx_port\":1,\"endpoints\":[\"CLIENT://h:1\"]}", &b, why),
                     WEIR_E_CORRUPT);
    assert_non_null(strstr(why, "not a security protocol"));
}

static void test_broker_encode(void **state)
{
    (void)state;
    struct rp_broker_reg b;
    memset(&b, 0, sizeof b);
    b.jmx_port = -1;
    b.timestamp_ms = 1700000000123;
    b.endpoints_n = 1;
    assert_true(rp_endpoint_parse("PLAINTEXT://127.0.0.1:9092", &b.endpoints[0]));
    char buf[512];
    size_t len;
    assert_int_equal(rp_broker_reg_encode(&b, buf, sizeof buf, &len), WEIR_OK);
    assert_string_equal(buf, "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
                             "\"endpoints\":[\"PLAINTEXT://127.0.0.1:9092\"],\"jmx_port\":-1,"
                             "\"host\":\"127.0.0.1\",\"timestamp\":\"1700000000123\",\"port\":9092,\"version\":5}");
    assert_int_equal(len, strlen(buf));
    /* round trip, with IPv6, a rack and a non-PLAINTEXT listener */
    b.endpoints_n = 2;
    assert_true(rp_endpoint_parse("INTERNAL://[fe80::1%eth0]:9093", &b.endpoints[1]));
    strcpy(b.endpoints[1].protocol, "SSL");
    strcpy(b.rack, "r\"1");
    assert_int_equal(rp_broker_reg_encode(&b, buf, sizeof buf, &len), WEIR_OK);
    struct rp_broker_reg back;
    char why[128];
    assert_int_equal(rp_broker_reg_decode(buf, len, &back, why, sizeof why), WEIR_OK);
    assert_int_equal(back.version, 5);
    assert_int_equal(back.jmx_port, -1);
    assert_int_equal(back.timestamp_ms, b.timestamp_ms);
    assert_string_equal(back.rack, "r\"1");
    assert_int_equal(back.endpoints_n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(back.endpoints[i].listener, b.endpoints[i].listener);
        assert_string_equal(back.endpoints[i].protocol, b.endpoints[i].protocol);
        assert_string_equal(back.endpoints[i].host, b.endpoints[i].host);
        assert_int_equal(back.endpoints[i].port, b.endpoints[i].port);
    }
    /* too small a buffer */
    assert_int_equal(rp_broker_reg_encode(&b, buf, 40, &len), WEIR_E_TOO_LARGE);
    /* no PLAINTEXT endpoint: host null, port -1, as Kafka writes */
    b.endpoints[0] = b.endpoints[1];
    b.endpoints_n = 1;
    assert_int_equal(rp_broker_reg_encode(&b, buf, sizeof buf, &len), WEIR_OK);
    assert_non_null(strstr(buf, "\"host\":null"));
    assert_non_null(strstr(buf, "\"port\":-1"));
}

static void test_endpoint_parse(void **state)
{
    (void)state;
    struct rp_endpoint ep;
    assert_true(rp_endpoint_parse("PLAINTEXT://:9092", &ep));
    assert_string_equal(ep.host, "");
    assert_true(rp_endpoint_parse("SSL://host-1.a_b:0", &ep));
    const char *bad[] = { "PLAINTEXT//h:1", "://h:1", "P://h", "P://h:", "P://h:x", "P://h:65536",
                          "P://[::1:1", "P://h h:1", "P://[::1]1" };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++)
        if (rp_endpoint_parse(bad[i], &ep)) fail_msg("accepted %s", bad[i]);
}

static void test_broker_malformed(void **state)
{
    (void)state;
    struct rp_broker_reg b;
    char why[128];
    struct { const char *doc, *why; } cases[] = {
        { "{\"jmx_port\":1,\"endpoints\":[]}", "missing version" },
        { "{\"version\":5,\"endpoints\":[]}", "missing jmx_port" },
        { "{\"version\":0,\"jmx_port\":1,\"endpoints\":[]}", "unsupported version" },
        { "{\"version\":5,\"jmx_port\":1}", "missing endpoints" },
        { "{\"version\":1,\"jmx_port\":1,\"host\":\"h\"}", "missing host or port" },
        { "{\"version\":\"5\",\"jmx_port\":1,\"endpoints\":[]}", "expected a number" },
        { "{\"version\":5,\"version\":5,\"jmx_port\":1,\"endpoints\":[]}", "duplicate key" },
        { "{\"version\":5,\"jmx_port\":1,\"endpoints\":[\"PLAINTEXT:/h:1\"]}", "bad endpoint" },
        { "{\"version\":5,\"jmx_port\":1,\"endpoints\":[7]}", "expected a string" },
        { "{\"version\":5,\"jmx_port\":99999999999,\"endpoints\":[]}", "number out of range" },
        { "{\"version\":5,\"jmx_port\":1,\"endpoints\":[\"X://h:1\"],\"listener_security_protocol_map\":{}}",
          "missing from listener_security_protocol_map" },
        { "{\"version\":5,\"jmx_port\":1,\"endpoints\":[],\"listener_security_protocol_map\":{\"A\":\"TLS\"}}",
          "unknown security protocol" },
        { "{\"version\":5,\"jmx_port\":1,\"endpoints\":[],\"listener_security_protocol_map\":{\"A\":\"SSL\",\"A\":\"SSL\"}}",
          "duplicate key" },
        { "[]", "expected an object" },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        if (broker_decode(cases[i].doc, &b, why) != WEIR_E_CORRUPT) fail_msg("accepted %s", cases[i].doc);
        if (!strstr(why, cases[i].why)) fail_msg("%s: got \"%s\", want \"%s\"", cases[i].doc, why, cases[i].why);
    }
    /* unknown fields of any shape are ignored, as are odd timestamps */
    assert_int_equal(broker_decode("{\"version\":5,\"jmx_port\":1,\"endpoints\":[],\"x\":{\"y\":[1,{}]},"
                                   "\"timestamp\":1.5}", &b, why), WEIR_OK);
    assert_int_equal(b.timestamp_ms, -1);
    assert_int_equal(broker_decode("{\"version\":5,\"jmx_port\":1,\"endpoints\":[],\"timestamp\":\"soon\"}", &b, why),
                     WEIR_OK);
    assert_int_equal(b.timestamp_ms, -1);
}

/* ---- controller --------------------------------------------------------------------- */

static void test_controller(void **state)
{
    (void)state;
    struct rp_controller c = { .broker_id = 3, .timestamp_ms = 1543300074836 };
    char buf[128], why[128];
    size_t len;
    assert_int_equal(rp_controller_encode(&c, buf, sizeof buf, &len), WEIR_OK);
    assert_string_equal(buf, "{\"version\":1,\"brokerid\":3,\"timestamp\":\"1543300074836\"}");
    struct rp_controller back;
    assert_int_equal(rp_controller_decode(buf, len, &back, why, sizeof why), WEIR_OK);
    assert_int_equal(back.broker_id, 3);
    assert_int_equal(back.timestamp_ms, 1543300074836);
    /* Kafka 3.x during migration adds kraftControllerEpoch: ignored */
    const char *k3 = "{\"version\":2,\"brokerid\":1,\"timestamp\":\"1\",\"kraftControllerEpoch\":5}";
    assert_int_equal(rp_controller_decode(k3, strlen(k3), &back, why, sizeof why), WEIR_OK);
    assert_int_equal(back.broker_id, 1);
    const char *bad[] = { "{\"version\":1}", "{\"brokerid\":\"1\"}", "{\"brokerid\":1,\"brokerid\":2}",
                          "{\"brokerid\":1", "{\"brokerid\":1}x" };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++)
        if (rp_controller_decode(bad[i], strlen(bad[i]), &back, why, sizeof why) != WEIR_E_CORRUPT)
            fail_msg("accepted %s", bad[i]);
}

/* ---- topic assignment --------------------------------------------------------------- */

static void test_topic_kafka_samples(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct rp_topic_assign t;
    char why[128];
    /* version 2 as Kafka 2.4-2.7 write it; partitions in hash order */
    const char *v2 = "{\"version\":2,\"partitions\":{\"2\":[3,1,2],\"1\":[2,3,1],\"0\":[1,2,3]},"
                     "\"adding_replicas\":{\"1\":[4]},\"removing_replicas\":{\"1\":[1]}}";
    assert_int_equal(rp_topic_assign_decode(v2, strlen(v2), &a, &t, why, sizeof why), WEIR_OK);
    assert_int_equal(t.version, 2);
    assert_int_equal(t.partitions_n, 3);
    assert_int_equal(t.parts[0].replicas_n, 3);
    assert_int_equal(t.parts[0].replicas[0], 1);
    assert_int_equal(t.parts[2].replicas[0], 3);
    assert_int_equal(t.parts[1].adding_n, 1);
    assert_int_equal(t.parts[1].adding[0], 4);
    assert_int_equal(t.parts[1].removing[0], 1);
    assert_int_equal(t.parts[0].adding_n, 0);
    assert_string_equal(t.topic_id, "");
    /* version 1 (no adding/removing), version 3 (topic_id, Kafka 2.8+) */
    const char *v1 = "{\"version\":1,\"partitions\":{\"0\":[0]}}";
    assert_int_equal(rp_topic_assign_decode(v1, strlen(v1), &a, &t, why, sizeof why), WEIR_OK);
    assert_int_equal(t.partitions_n, 1);
    assert_int_equal(t.parts[0].removing_n, 0);
    const char *v3 = "{\"removing_replicas\":{},\"partitions\":{\"0\":[1]},\"topic_id\":\"pZ5G3jVNTn2fJg1NWZAdbw\","
                     "\"adding_replicas\":{},\"version\":3}";
    assert_int_equal(rp_topic_assign_decode(v3, strlen(v3), &a, &t, why, sizeof why), WEIR_OK);
    assert_string_equal(t.topic_id, "pZ5G3jVNTn2fJg1NWZAdbw");
    /* adding_replicas for a partition Kafka does not list: ignored */
    const char *extra = "{\"version\":2,\"adding_replicas\":{\"5\":[1]},\"partitions\":{\"0\":[1]}}";
    assert_int_equal(rp_topic_assign_decode(extra, strlen(extra), &a, &t, why, sizeof why), WEIR_OK);
    assert_int_equal(t.parts[0].adding_n, 0);
    weir_arena_destroy(&a);
}

static void test_topic_encode_round_trip(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 20), WEIR_OK);
    int32_t r0[] = { 1, 2 }, r1[] = { 2, 1 }, add[] = { 3 };
    struct rp_part_assign parts[2] = {
        { .replicas = r0, .replicas_n = 2 },
        { .replicas = r1, .replicas_n = 2, .adding = add, .adding_n = 1 },
    };
    struct rp_topic_assign t = { .partitions_n = 2, .parts = parts };
    char buf[512], why[128];
    size_t len;
    assert_int_equal(rp_topic_assign_encode(&t, buf, sizeof buf, &len), WEIR_OK);
    assert_string_equal(buf, "{\"version\":2,\"partitions\":{\"0\":[1,2],\"1\":[2,1]},"
                             "\"adding_replicas\":{\"1\":[3]},\"removing_replicas\":{}}");
    struct rp_topic_assign back;
    assert_int_equal(rp_topic_assign_decode(buf, len, &a, &back, why, sizeof why), WEIR_OK);
    assert_int_equal(back.partitions_n, 2);
    assert_memory_equal(back.parts[1].replicas, r1, sizeof r1);
    assert_int_equal(back.parts[1].adding_n, 1);
    strcpy(t.topic_id, "AAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(rp_topic_assign_encode(&t, buf, sizeof buf, &len), WEIR_OK);
    assert_non_null(strstr(buf, "\"version\":3"));
    assert_int_equal(rp_topic_assign_decode(buf, len, &a, &back, why, sizeof why), WEIR_OK);
    assert_string_equal(back.topic_id, t.topic_id);
    /* many partitions */
    enum { N = 2000 };
    struct rp_part_assign *many = calloc(N, sizeof *many);
    int32_t ids[3] = { 0, 1, 2 };
    for (int p = 0; p < N; p++) many[p].replicas = ids, many[p].replicas_n = 3;
    struct rp_topic_assign big = { .partitions_n = N, .parts = many };
    char *bbuf = malloc(64 * N);
    assert_int_equal(rp_topic_assign_encode(&big, bbuf, 64 * N, &len), WEIR_OK);
    weir_arena_reset(&a);
    assert_int_equal(rp_topic_assign_decode(bbuf, len, &a, &back, why, sizeof why), WEIR_OK);
    assert_int_equal(back.partitions_n, N);
    assert_int_equal(back.parts[N - 1].replicas[2], 2);
    /* an arena too small: NOMEM, not CORRUPT */
    struct weir_arena tiny;
    assert_int_equal(weir_arena_init(&tiny, 256), WEIR_OK);
    assert_int_equal(rp_topic_assign_decode(bbuf, len, &tiny, &back, why, sizeof why), WEIR_E_NOMEM);
    weir_arena_destroy(&tiny);
    free(bbuf);
    free(many);
    weir_arena_destroy(&a);
}

static void test_topic_malformed(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct rp_topic_assign t;
    char why[128];
    struct { const char *doc, *why; } cases[] = {
        { "{\"version\":2,\"partitions\":{\"0\":[1],\"2\":[1]}}", "partitions are not 0..n-1" },
        { "{\"version\":2,\"partitions\":{\"0\":[1],\"0\":[2]}}", "duplicate key" },
        { "{\"version\":2,\"partitions\":{\"00\":[1]}}", "bad partition key" },
        { "{\"version\":2,\"partitions\":{\"-1\":[1]}}", "bad partition key" },
        { "{\"version\":2,\"partitions\":{\"x\":[1]}}", "bad partition key" },
        { "{\"version\":2,\"partitions\":{\"0\":[1,1]}}", "repeated" },
        { "{\"version\":2,\"partitions\":{\"0\":[-1]}}", "negative broker id" },
        { "{\"version\":2,\"partitions\":{\"0\":[1.5]}}", "expected an integer" },
        { "{\"version\":2,\"partitions\":{\"0\":[4294967297]}}", "number out of range" },
        { "{\"version\":2,\"partitions\":{\"0\":{}}}", "expected an array" },
        { "{\"version\":2,\"partitions\":[]}", "expected an object" },
        { "{\"version\":2,\"partitions\":{},\"partitions\":{}}", "duplicate key" },
        { "{\"version\":2,\"partitions\":{\"0\":[1]},\"adding_replicas\":{\"0\":[2],\"0\":[3]}}", "duplicate key" },
        { "{\"version\":2,\"partitions\":{\"0\":[1]},\"topic_id\":7}", "expected a string" },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        const char *doc = cases[i].doc;
        if (rp_topic_assign_decode(doc, strlen(doc), &a, &t, why, sizeof why) != WEIR_E_CORRUPT)
            fail_msg("accepted %s", doc);
        if (!strstr(why, cases[i].why)) fail_msg("%s: got \"%s\", want \"%s\"", doc, why, cases[i].why);
    }
    /* more than RP_REPLICAS_MAX replicas */
    char doc[1024];
    size_t n = (size_t)snprintf(doc, sizeof doc, "{\"version\":2,\"partitions\":{\"0\":[");
    for (int i = 0; i <= RP_REPLICAS_MAX; i++) n += (size_t)snprintf(doc + n, sizeof doc - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(doc + n, sizeof doc - n, "]}}");
    assert_int_equal(rp_topic_assign_decode(doc, n, &a, &t, why, sizeof why), WEIR_E_CORRUPT);
    assert_non_null(strstr(why, "too many replicas"));
    weir_arena_destroy(&a);
}

/* ---- partition state ---------------------------------------------------------------- */

static void test_pstate(void **state)
{
    (void)state;
    struct rp_pstate s;
    char why[128], buf[256];
    size_t len;
    /* as Kafka writes it (a real ZooKeeper dump) */
    const char *k = "{\"controller_epoch\":1,\"leader\":3,\"version\":1,\"leader_epoch\":55,\"isr\":[1,2,3]}";
    assert_int_equal(rp_pstate_decode(k, strlen(k), &s, why, sizeof why), WEIR_OK);
    assert_int_equal(s.controller_epoch, 1);
    assert_int_equal(s.leader, 3);
    assert_int_equal(s.leader_epoch, 55);
    assert_int_equal(s.isr_n, 3);
    assert_int_equal(s.isr[2], 3);
    assert_int_equal(rp_pstate_encode(&s, buf, sizeof buf, &len), WEIR_OK);
    assert_string_equal(buf, k);
    /* offline: leader -1; during delete: -2; 3.x adds leader_recovery_state: ignored */
    const char *off = "{\"controller_epoch\":2,\"leader\":-1,\"version\":1,\"leader_epoch\":56,\"isr\":[3],"
                      "\"leader_recovery_state\":0}";
    assert_int_equal(rp_pstate_decode(off, strlen(off), &s, why, sizeof why), WEIR_OK);
    assert_int_equal(s.leader, RP_NO_LEADER);
    const char *del = "{\"controller_epoch\":2,\"leader\":-2,\"version\":1,\"leader_epoch\":-2,\"isr\":[]}";
    assert_int_equal(rp_pstate_decode(del, strlen(del), &s, why, sizeof why), WEIR_OK);
    assert_int_equal(s.isr_n, 0);
    const char *bad[] = {
        "{\"controller_epoch\":1,\"leader\":3,\"leader_epoch\":55}",
        "{\"controller_epoch\":1,\"leader\":3,\"leader_epoch\":55,\"isr\":[1],\"isr\":[1]}",
        "{\"controller_epoch\":1,\"leader\":-3,\"leader_epoch\":55,\"isr\":[1]}",
        "{\"controller_epoch\":1,\"leader\":3,\"leader_epoch\":2147483648,\"isr\":[1]}",
        "{\"controller_epoch\":1,\"leader\":null,\"leader_epoch\":1,\"isr\":[1]}",
        "{\"controller_epoch\":1,\"leader\":3,\"leader_epoch\":1,\"isr\":\"1\"}",
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++)
        if (rp_pstate_decode(bad[i], strlen(bad[i]), &s, why, sizeof why) != WEIR_E_CORRUPT)
            fail_msg("accepted %s", bad[i]);
}

/* Every strict prefix of a valid document is rejected, and never read past. */
static void test_truncation_everywhere(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    const char *docs[] = {
        "{\"controller_epoch\":1,\"leader\":3,\"version\":1,\"leader_epoch\":55,\"isr\":[1,2,3]}",
        "{\"version\":1,\"brokerid\":3,\"timestamp\":\"1543300074836\"}",
        "{\"version\":2,\"partitions\":{\"0\":[1,2]},\"adding_replicas\":{},\"removing_replicas\":{}}",
        "{\"version\":1,\"config\":{\"retention.ms\":\"1000\",\"x\":\"\\u00e9\"}}",
        "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\"},"
        "\"endpoints\":[\"PLAINTEXT://h:9092\"],\"jmx_port\":-1,\"host\":\"h\",\"timestamp\":\"1\",\"port\":9092,"
        "\"version\":5}",
    };
    char why[128];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(docs); i++) {
        size_t full = strlen(docs[i]);
        for (size_t n = 0; n <= full; n++) {
            char *d = dup_exact(docs[i], n);
            struct rp_pstate s;
            struct rp_controller c;
            struct rp_topic_assign t;
            struct rp_topic_config cf;
            struct rp_broker_reg *b = malloc(sizeof *b);
            enum weir_err e;
            weir_arena_reset(&a);
            switch (i) {
            case 0: e = rp_pstate_decode(d, n, &s, why, sizeof why); break;
            case 1: e = rp_controller_decode(d, n, &c, why, sizeof why); break;
            case 2: e = rp_topic_assign_decode(d, n, &a, &t, why, sizeof why); break;
            case 3: e = rp_topic_config_decode(d, n, &a, &cf, why, sizeof why); break;
            default: e = rp_broker_reg_decode(d, n, b, why, sizeof why); break;
            }
            if ((n == full) != (e == WEIR_OK)) fail_msg("doc %zu at %zu bytes: %d (%s)", i, n, e, why);
            if (e != WEIR_OK) assert_true(why[0] != '\0');
            free(b);
            free(d);
        }
    }
    weir_arena_destroy(&a);
}

/* ---- topic config -------------------------------------------------------------------- */

static void test_config(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct rp_topic_config c;
    char why[128], buf[256];
    size_t len;
    const char *k = "{\"version\":1,\"config\":{\"retention.ms\":\"1000\",\"cleanup.policy\":\"compact\"}}";
    assert_int_equal(rp_topic_config_decode(k, strlen(k), &a, &c, why, sizeof why), WEIR_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.entries[0].key, "retention.ms");
    assert_string_equal(c.entries[0].value, "1000");
    assert_string_equal(c.entries[1].value, "compact");
    assert_int_equal(rp_topic_config_encode(&c, buf, sizeof buf, &len), WEIR_OK);
    assert_string_equal(buf, k);
    /* empty config, no config, config not an object (Kafka ignores it) */
    const char *ok[] = { "{\"version\":1,\"config\":{}}", "{\"version\":1}", "{\"version\":1,\"config\":[1]}" };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ok); i++) {
        assert_int_equal(rp_topic_config_decode(ok[i], strlen(ok[i]), &a, &c, why, sizeof why), WEIR_OK);
        assert_int_equal(c.n, 0);
    }
    /* escapes round trip */
    struct rp_config_entry e = { "k\"ey", "v\\al\n\xc3\xa9" };
    struct rp_topic_config one = { 1, &e };
    assert_int_equal(rp_topic_config_encode(&one, buf, sizeof buf, &len), WEIR_OK);
    assert_int_equal(rp_topic_config_decode(buf, len, &a, &c, why, sizeof why), WEIR_OK);
    assert_string_equal(c.entries[0].key, e.key);
    assert_string_equal(c.entries[0].value, e.value);
    const char *bad[] = {
        "{\"version\":1,\"config\":{\"a\":1}}",
        "{\"version\":1,\"config\":{\"a\":\"1\",\"a\":\"2\"}}",
        "{\"version\":1,\"config\":{},\"config\":{}}",
        "{\"version\":1,\"config\":{\"a\":null}}",
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(bad); i++)
        if (rp_topic_config_decode(bad[i], strlen(bad[i]), &a, &c, why, sizeof why) != WEIR_E_CORRUPT)
            fail_msg("accepted %s", bad[i]);
    weir_arena_destroy(&a);
}

/* Deterministic mutations of valid documents: no crash, no read past the
 * input (ASan), and whatever decodes re-encodes and decodes the same. */
static void test_mutations(void **state)
{
    (void)state;
    const char *seeds[] = {
        "{\"controller_epoch\":1,\"leader\":3,\"version\":1,\"leader_epoch\":55,\"isr\":[1,2,3]}",
        "{\"version\":2,\"partitions\":{\"1\":[2,1],\"0\":[1,2]},\"adding_replicas\":{\"0\":[3]},\"removing_replicas\":{}}",
        "{\"version\":1,\"config\":{\"retention.ms\":\"1000\"}}",
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char why[128], out[4096];
    uint8_t buf[512];
    for (int iter = 0; iter < 30000; iter++) {
        size_t which = iter % WEIR_ARRAY_LEN(seeds);
        size_t n = strlen(seeds[which]);
        memcpy(buf, seeds[which], n);
        n = tu_mutate(buf, n, sizeof buf, &rng);
        char *d = dup_exact((const char *)buf, n);
        size_t len;
        weir_arena_reset(&a);
        if (which == 0) {
            struct rp_pstate s, s2;
            if (rp_pstate_decode(d, n, &s, why, sizeof why) == WEIR_OK) {
                assert_int_equal(rp_pstate_encode(&s, out, sizeof out, &len), WEIR_OK);
                assert_int_equal(rp_pstate_decode(out, len, &s2, why, sizeof why), WEIR_OK);
                assert_memory_equal(&s, &s2, sizeof s);
            }
        } else if (which == 1) {
            struct rp_topic_assign t, t2;
            if (rp_topic_assign_decode(d, n, &a, &t, why, sizeof why) == WEIR_OK) {
                assert_int_equal(rp_topic_assign_encode(&t, out, sizeof out, &len), WEIR_OK);
                assert_int_equal(rp_topic_assign_decode(out, len, &a, &t2, why, sizeof why), WEIR_OK);
                assert_int_equal(t.partitions_n, t2.partitions_n);
                for (uint32_t p = 0; p < t.partitions_n; p++) {
                    assert_int_equal(t.parts[p].replicas_n, t2.parts[p].replicas_n);
                    assert_memory_equal(t.parts[p].replicas, t2.parts[p].replicas, 4 * t.parts[p].replicas_n);
                    assert_int_equal(t.parts[p].adding_n, t2.parts[p].adding_n);
                    assert_int_equal(t.parts[p].removing_n, t2.parts[p].removing_n);
                }
            }
        } else {
            struct rp_topic_config c, c2;
            if (rp_topic_config_decode(d, n, &a, &c, why, sizeof why) == WEIR_OK) {
                assert_int_equal(rp_topic_config_encode(&c, out, sizeof out, &len), WEIR_OK);
                assert_int_equal(rp_topic_config_decode(out, len, &a, &c2, why, sizeof why), WEIR_OK);
                assert_int_equal(c.n, c2.n);
                for (uint32_t i = 0; i < c.n; i++) {
                    assert_string_equal(c.entries[i].key, c2.entries[i].key);
                    assert_string_equal(c.entries[i].value, c2.entries[i].value);
                }
            }
        }
        free(d);
    }
    weir_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_json_invalid),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_json_int),
        cmocka_unit_test(test_json_str_unescape),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_broker_kafka_samples),
        cmocka_unit_test(test_broker_encode),
        cmocka_unit_test(test_endpoint_parse),
        cmocka_unit_test(test_broker_malformed),
        cmocka_unit_test(test_controller),
        cmocka_unit_test(test_topic_kafka_samples),
        cmocka_unit_test(test_topic_encode_round_trip),
        cmocka_unit_test(test_topic_malformed),
        cmocka_unit_test(test_pstate),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
