/* tests/test_proto_admin.c: proto/, the cluster admin APIs, both directions:
 * DescribeCluster (60, v0-1), OffsetDelete (47, v0), DescribeLogDirs (35, v0-4),
 * AlterConfigs (33, v0-2) and IncrementalAlterConfigs (44, v0-1). Each round trip is client encode -> broker
 * decode and broker encode -> client decode, checked byte for byte against
 * the schema's layout and field for field; every truncation of a body fails
 * with WEIR_E_TRUNCATED; versions outside the range are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdlib.h>

#include "proto/proto.h"
#include "testutil.h"

/* One decoder of p[0, n) at version v into out; the wrappers below adapt each API's. */
typedef enum weir_err (*decode_fn)(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out);

/* Decodes an exact-size copy of p[0, n) (ASan sees any overread). The copy
 * lives until the next call (decoded strings borrow it); p NULL frees it. */
static enum weir_err decode_copy(decode_fn fn, const uint8_t *p, size_t n, int16_t v, struct weir_arena *a, void *out)
{
    static uint8_t *last;
    free(last);
    last = NULL;
    if (!p) return WEIR_OK;
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n) memcpy(copy, p, n);
    struct weir_rd rd = weir_rd_make(copy, n);
    weir_arena_reset(a);
    enum weir_err err = fn(&rd, v, a, out);
    if (err == WEIR_OK) assert_true(rd.pos == rd.end);
    last = copy;
    return err;
}

/* Every strict prefix of the body fails as truncated; returns how many. */
static size_t truncations(decode_fn fn, const struct kbuf *b, int16_t v, struct weir_arena *a, void *out)
{
    for (size_t len = 0; len < b->mem_len; len++)
        assert_int_equal(decode_copy(fn, b->mem, len, v, a, out), WEIR_E_TRUNCATED);
    return b->mem_len;
}

static void expect_bytes(const struct kbuf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, WEIR_OK);
    assert_int_equal(b->mem_len, n);
    assert_memory_equal(b->mem, want, n);
}

/* ---- DescribeCluster (60), v0-1 ---- */

static enum weir_err dc_req(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_describecluster_decode(rd, v, a, out);
}
static enum weir_err dc_resp(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_describecluster_response_decode(rd, v, a, out);
}

static void test_describecluster(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    static const uint8_t req0[] = { 1, 0 }, req1[] = { 1, 2, 0 };
    struct kmetadata_broker brokers[] = { { 0, kstr_c("h0"), 9092, KSTR_NULL }, { 2, kstr_c("h2"), 9094, kstr_c("r") } };
    struct kdescribecluster_resp resp = { 5, 0, KSTR_NULL, KPROTO_ENDPOINT_BROKERS, kstr_c("cid"), 2, brokers, 2,
                                          KPROTO_AUTHORIZED_OPS_NONE };
    /* throttle, error, message null, [endpoint], "cid", controller, 2 brokers, ops, tags */
    static const uint8_t resp1[] = { 0, 0, 0, 5, 0, 0, 0, 1, 4, 'c', 'i', 'd', 0, 0, 0, 2, 3,
                                     0, 0, 0, 0, 3, 'h', '0', 0, 0, 0x23, 0x84, 0, 0,
                                     0, 0, 0, 2, 3, 'h', '2', 0, 0, 0x23, 0x86, 2, 'r', 0,
                                     0x80, 0, 0, 0, 0 };
    size_t truncated = 0;
    for (int16_t v = 0; v <= 1; v++) {
        struct kdescribecluster_req rq;
        kproto_describecluster_request_encode(&b, v, &(struct kdescribecluster_req){ true, KPROTO_ENDPOINT_CONTROLLERS });
        expect_bytes(&b, v ? req1 : req0, v ? sizeof req1 : sizeof req0);
        assert_int_equal(decode_copy(dc_req, b.mem, b.mem_len, v, &a, &rq), WEIR_OK);
        assert_true(rq.include_cluster_authorized_operations);
        assert_int_equal(rq.endpoint_type, v ? KPROTO_ENDPOINT_CONTROLLERS : KPROTO_ENDPOINT_BROKERS);
        truncated += truncations(dc_req, &b, v, &a, &rq);
        kbuf_reset(&b);

        struct kdescribecluster_resp rs;
        kproto_describecluster_encode(&b, v, &resp);
        if (v == 1) expect_bytes(&b, resp1, sizeof resp1);
        else { /* v0 lacks the endpoint type byte after the null message */
            assert_int_equal(b.mem_len, sizeof resp1 - 1);
            assert_memory_equal(b.mem, resp1, 7);
            assert_memory_equal(b.mem + 7, resp1 + 8, sizeof resp1 - 8);
        }
        assert_int_equal(decode_copy(dc_resp, b.mem, b.mem_len, v, &a, &rs), WEIR_OK);
        assert_int_equal(rs.throttle_time_ms, 5);
        assert_int_equal(rs.error_code, 0);
        assert_true(kstr_is_null(rs.error_message));
        assert_int_equal(rs.endpoint_type, KPROTO_ENDPOINT_BROKERS);
        assert_true(kstr_eq(rs.cluster_id, "cid"));
        assert_int_equal(rs.controller_id, 2);
        assert_int_equal(rs.n_brokers, 2);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(rs.brokers[i].node_id, brokers[i].node_id);
            assert_true(kstr_eq(rs.brokers[i].host, brokers[i].host.ptr));
            assert_int_equal(rs.brokers[i].port, brokers[i].port);
        }
        assert_true(kstr_is_null(rs.brokers[0].rack));
        assert_true(kstr_eq(rs.brokers[1].rack, "r"));
        assert_int_equal(rs.cluster_authorized_operations, KPROTO_AUTHORIZED_OPS_NONE);
        truncated += truncations(dc_resp, &b, v, &a, &rs);
        kbuf_reset(&b);
    }
    /* An error answer: message, no brokers. */
    struct kdescribecluster_resp err = { 0, WEIR_KERR_MISMATCHED_ENDPOINT_TYPE, kstr_c("m"), 1, kstr_c(""), -1, NULL, 0,
                                         KPROTO_AUTHORIZED_OPS_NONE };
    kproto_describecluster_encode(&b, 1, &err);
    struct kdescribecluster_resp rs;
    assert_int_equal(decode_copy(dc_resp, b.mem, b.mem_len, 1, &a, &rs), WEIR_OK);
    assert_int_equal(rs.error_code, 114);
    assert_true(kstr_eq(rs.error_message, "m"));
    assert_int_equal(rs.n_brokers, 0);
    kbuf_reset(&b);
    struct kdescribecluster_req rq;
    assert_int_equal(decode_copy(dc_req, req1, sizeof req1, 2, &a, &rq), WEIR_E_UNSUPPORTED);
    assert_int_equal(decode_copy(dc_resp, resp1, sizeof resp1, 2, &a, &rs), WEIR_E_UNSUPPORTED);
    static const uint8_t huge[] = { 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x08 };
    assert_int_not_equal(decode_copy(dc_resp, huge, sizeof huge, 1, &a, &rs), WEIR_OK);
    decode_copy(dc_req, NULL, 0, 0, &a, &rq);
    print_message("DescribeCluster: %zu truncations\n", truncated);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* ---- OffsetDelete (47), v0 ---- */

static enum weir_err od_req(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_offsetdelete_decode(rd, v, a, out);
}
static enum weir_err od_resp(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_offsetdelete_response_decode(rd, v, a, out);
}

static void test_offsetdelete(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    int32_t parts[] = { 0, 3 };
    struct koffsetdelete_req_topic rts[] = { { kstr_c("t"), parts, 2 }, { kstr_c("u"), NULL, 0 } };
    static const uint8_t req0[] = { 0, 1, 'g', 0, 0, 0, 2, 0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3,
                                    0, 1, 'u', 0, 0, 0, 0 };
    kproto_offsetdelete_request_encode(&b, 0, &(struct koffsetdelete_req){ kstr_c("g"), rts, 2 });
    expect_bytes(&b, req0, sizeof req0);
    struct koffsetdelete_req rq;
    assert_int_equal(decode_copy(od_req, b.mem, b.mem_len, 0, &a, &rq), WEIR_OK);
    assert_true(kstr_eq(rq.group_id, "g"));
    assert_int_equal(rq.n_topics, 2);
    assert_true(kstr_eq(rq.topics[0].name, "t"));
    assert_int_equal(rq.topics[0].n_partitions, 2);
    assert_int_equal(rq.topics[0].partitions[1], 3);
    assert_int_equal(rq.topics[1].n_partitions, 0);
    size_t truncated = truncations(od_req, &b, 0, &a, &rq);
    kbuf_reset(&b);

    struct koffsetdelete_resp_part ps[] = { { 0, 0 }, { 3, WEIR_KERR_GROUP_SUBSCRIBED_TO_TOPIC } };
    struct koffsetdelete_resp_topic ts[] = { { kstr_c("t"), ps, 2 } };
    /* error code first, then throttle, then the topics */
    static const uint8_t resp0[] = { 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2,
                                     0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 86 };
    kproto_offsetdelete_encode(&b, 0, &(struct koffsetdelete_resp){ 0, 9, ts, 1 });
    expect_bytes(&b, resp0, sizeof resp0);
    struct koffsetdelete_resp rs;
    assert_int_equal(decode_copy(od_resp, b.mem, b.mem_len, 0, &a, &rs), WEIR_OK);
    assert_int_equal(rs.error_code, 0);
    assert_int_equal(rs.throttle_time_ms, 9);
    assert_int_equal(rs.n_topics, 1);
    assert_int_equal(rs.topics[0].n_partitions, 2);
    assert_int_equal(rs.topics[0].partitions[1].partition_index, 3);
    assert_int_equal(rs.topics[0].partitions[1].error_code, 86);
    truncated += truncations(od_resp, &b, 0, &a, &rs);
    kbuf_reset(&b);
    /* a group-level error: no topics */
    static const uint8_t err0[] = { 0, 69, 0, 0, 0, 0, 0, 0, 0, 0 };
    kproto_offsetdelete_encode(&b, 0, &(struct koffsetdelete_resp){ WEIR_KERR_GROUP_ID_NOT_FOUND, 0, NULL, 0 });
    expect_bytes(&b, err0, sizeof err0);
    kbuf_reset(&b);
    assert_int_equal(decode_copy(od_req, req0, sizeof req0, 1, &a, &rq), WEIR_E_UNSUPPORTED);
    assert_int_equal(decode_copy(od_resp, resp0, sizeof resp0, 1, &a, &rs), WEIR_E_UNSUPPORTED);
    static const uint8_t huge[] = { 0, 1, 'g', 0x7f, 0xff, 0xff, 0xff, 0, 1, 't' };
    assert_int_not_equal(decode_copy(od_req, huge, sizeof huge, 0, &a, &rq), WEIR_OK);
    static const uint8_t null_group[] = { 0xff, 0xff, 0, 0, 0, 0 };
    assert_int_equal(decode_copy(od_req, null_group, sizeof null_group, 0, &a, &rq), WEIR_E_INVALID);
    decode_copy(od_req, NULL, 0, 0, &a, &rq);
    print_message("OffsetDelete: %zu truncations\n", truncated);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* ---- AlterConfigs (33), v0-2, and IncrementalAlterConfigs (44), v0-1 ---- */

static enum weir_err ac_req33(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_alterconfigs_decode(rd, KAPI_ALTER_CONFIGS, v, a, out);
}
static enum weir_err ac_req44(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_alterconfigs_decode(rd, KAPI_INCREMENTAL_ALTER_CONFIGS, v, a, out);
}
static enum weir_err ac_resp44(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_alterconfigs_response_decode(rd, KAPI_INCREMENTAL_ALTER_CONFIGS, v, a, out);
}

static void test_alterconfigs(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kalterconfigs_config cs[] = { { kstr_c("a"), KCONFIG_OP_SET, kstr_c("1") },
                                         { kstr_c("b"), KCONFIG_OP_DELETE, KSTR_NULL } };
    struct kalterconfigs_resource rs[] = { { 2, kstr_c("t"), cs, 2 } };
    struct kalterconfigs_req req = { rs, 1, true };
    /* 44 v0: resources [type name [name op value]] validate_only */
    static const uint8_t req44v0[] = { 0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 2, 0, 1, 'a', 0, 0, 1, '1',
                                       0, 1, 'b', 1, 0xff, 0xff, 1 };
    kproto_alterconfigs_request_encode(&b, KAPI_INCREMENTAL_ALTER_CONFIGS, 0, &req);
    expect_bytes(&b, req44v0, sizeof req44v0);
    struct kalterconfigs_req got;
    assert_int_equal(decode_copy(ac_req44, b.mem, b.mem_len, 0, &a, &got), WEIR_OK);
    assert_int_equal(got.n_resources, 1);
    assert_true(got.validate_only);
    assert_true(kstr_eq(got.resources[0].resource_name, "t"));
    assert_int_equal(got.resources[0].n_configs, 2);
    assert_int_equal(got.resources[0].configs[1].op, KCONFIG_OP_DELETE);
    assert_true(kstr_is_null(got.resources[0].configs[1].value));
    size_t truncated = truncations(ac_req44, &b, 0, &a, &got);
    kbuf_reset(&b);
    /* 44 v1 flexible: compact strings and arrays, tags after each config, resource and the body */
    static const uint8_t req44v1[] = { 2, 2, 2, 't', 3, 2, 'a', 0, 2, '1', 0, 2, 'b', 1, 0, 0, 0, 1, 0 };
    kproto_alterconfigs_request_encode(&b, KAPI_INCREMENTAL_ALTER_CONFIGS, 1, &req);
    expect_bytes(&b, req44v1, sizeof req44v1);
    assert_int_equal(decode_copy(ac_req44, b.mem, b.mem_len, 1, &a, &got), WEIR_OK);
    assert_true(kstr_eq(got.resources[0].configs[0].value, "1"));
    truncated += truncations(ac_req44, &b, 1, &a, &got);
    kbuf_reset(&b);
    /* 33 v0: no operation; read as SET */
    static const uint8_t req33v0[] = { 0, 0, 0, 1, 2, 0, 1, 't', 0, 0, 0, 2, 0, 1, 'a', 0, 1, '1',
                                       0, 1, 'b', 0xff, 0xff, 1 };
    kproto_alterconfigs_request_encode(&b, KAPI_ALTER_CONFIGS, 0, &req);
    expect_bytes(&b, req33v0, sizeof req33v0);
    assert_int_equal(decode_copy(ac_req33, b.mem, b.mem_len, 0, &a, &got), WEIR_OK);
    assert_int_equal(got.resources[0].configs[1].op, KCONFIG_OP_SET);
    truncated += truncations(ac_req33, &b, 0, &a, &got);
    kbuf_reset(&b);

    struct kalterconfigs_result res[] = { { WEIR_KERR_INVALID_CONFIG, kstr_c("m"), 2, kstr_c("t") } };
    static const uint8_t resp44v0[] = { 0, 0, 0, 7, 0, 0, 0, 1, 0, 40, 0, 1, 'm', 2, 0, 1, 't' };
    kproto_alterconfigs_encode(&b, KAPI_INCREMENTAL_ALTER_CONFIGS, 0, &(struct kalterconfigs_resp){ 7, res, 1 });
    expect_bytes(&b, resp44v0, sizeof resp44v0);
    struct kalterconfigs_resp rsp;
    assert_int_equal(decode_copy(ac_resp44, b.mem, b.mem_len, 0, &a, &rsp), WEIR_OK);
    assert_int_equal(rsp.throttle_time_ms, 7);
    assert_int_equal(rsp.results[0].error_code, 40);
    assert_true(kstr_eq(rsp.results[0].error_message, "m"));
    truncated += truncations(ac_resp44, &b, 0, &a, &rsp);
    kbuf_reset(&b);
    assert_int_equal(decode_copy(ac_req44, req44v0, sizeof req44v0, 2, &a, &got), WEIR_E_UNSUPPORTED);
    assert_int_equal(decode_copy(ac_req33, req33v0, sizeof req33v0, 3, &a, &got), WEIR_E_UNSUPPORTED);
    decode_copy(ac_req44, NULL, 0, 0, &a, &got);
    print_message("AlterConfigs: %zu truncations\n", truncated);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* ---- DescribeLogDirs (35), v0-4 ---- */

static enum weir_err ld_req(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_describelogdirs_decode(rd, v, a, out);
}
static enum weir_err ld_resp(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out)
{
    return kproto_describelogdirs_response_decode(rd, v, a, out);
}

static void test_describelogdirs(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    int32_t parts[] = { 2 };
    struct kdescribelogdirs_req_topic rts[] = { { kstr_c("t"), parts, 1 } };
    static const uint8_t req0[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 2 };
    static const uint8_t req2[] = { 2, 2, 't', 2, 0, 0, 0, 2, 0, 0 };
    static const uint8_t null0[] = { 0xff, 0xff, 0xff, 0xff }, null2[] = { 0, 0 };
    struct kdescribelogdirs_part ps[] = { { 2, 300, 0, false } };
    struct kdescribelogdirs_topic ts[] = { { kstr_c("t"), ps, 1 } };
    struct kdescribelogdirs_result res[] = { { 0, kstr_c("/d"), ts, 1, 1000, 400 } };
    /* v4 (flexible): throttle, error, 1 result: error, "/d", 1 topic "t", 1 partition, total, usable */
    static const uint8_t resp4[] = { 0, 0, 0, 3, 0, 0, 2, 0, 0, 3, '/', 'd', 2, 2, 't', 2,
                                     0, 0, 0, 2,                         /* partition 2 */
                                     0, 0, 0, 0, 0, 0, 1, 0x2c,          /* size 300 */
                                     0, 0, 0, 0, 0, 0, 0, 0,             /* offset lag 0 */
                                     0, 0, 0,                            /* not future, tags, topic tags */
                                     0, 0, 0, 0, 0, 0, 0x03, 0xe8,       /* total 1000 */
                                     0, 0, 0, 0, 0, 0, 0x01, 0x90, 0, 0 }; /* usable 400, tags */
    size_t truncated = 0;
    for (int16_t v = 0; v <= 4; v++) {
        bool flex = v >= 2;
        struct kdescribelogdirs_req rq;
        kproto_describelogdirs_request_encode(&b, v, &(struct kdescribelogdirs_req){ rts, 1 });
        expect_bytes(&b, flex ? req2 : req0, flex ? sizeof req2 : sizeof req0);
        assert_int_equal(decode_copy(ld_req, b.mem, b.mem_len, v, &a, &rq), WEIR_OK);
        assert_int_equal(rq.n_topics, 1);
        assert_true(kstr_eq(rq.topics[0].topic, "t"));
        assert_int_equal(rq.topics[0].n_partitions, 1);
        assert_int_equal(rq.topics[0].partitions[0], 2);
        truncated += truncations(ld_req, &b, v, &a, &rq);
        kbuf_reset(&b);
        kproto_describelogdirs_request_encode(&b, v, &(struct kdescribelogdirs_req){ NULL, -1 });
        expect_bytes(&b, flex ? null2 : null0, flex ? sizeof null2 : sizeof null0);
        assert_int_equal(decode_copy(ld_req, b.mem, b.mem_len, v, &a, &rq), WEIR_OK);
        assert_int_equal(rq.n_topics, -1);
        kbuf_reset(&b);

        struct kdescribelogdirs_resp rs;
        kproto_describelogdirs_encode(&b, v, &(struct kdescribelogdirs_resp){ 3, 0, res, 1 });
        if (v == 4) expect_bytes(&b, resp4, sizeof resp4);
        assert_int_equal(b.err, WEIR_OK);
        /* v0-1 classic lengths; v3 adds 2 (error); v4 adds 16 (total, usable) */
        assert_int_equal(b.mem_len, v == 4 ? sizeof resp4 : v == 3 ? sizeof resp4 - 16 : v == 2 ? sizeof resp4 - 18
                                                                                                  : 4 + 4 + 2 + 4 + 4 + 3 + 4 + 21);
        assert_int_equal(decode_copy(ld_resp, b.mem, b.mem_len, v, &a, &rs), WEIR_OK);
        assert_int_equal(rs.throttle_time_ms, 3);
        assert_int_equal(rs.n_results, 1);
        assert_true(kstr_eq(rs.results[0].log_dir, "/d"));
        assert_int_equal(rs.results[0].n_topics, 1);
        assert_true(kstr_eq(rs.results[0].topics[0].name, "t"));
        assert_int_equal(rs.results[0].topics[0].partitions[0].partition_index, 2);
        assert_int_equal(rs.results[0].topics[0].partitions[0].partition_size, 300);
        assert_int_equal(rs.results[0].total_bytes, v >= 4 ? 1000 : -1);
        assert_int_equal(rs.results[0].usable_bytes, v >= 4 ? 400 : -1);
        truncated += truncations(ld_resp, &b, v, &a, &rs);
        kbuf_reset(&b);
    }
    struct kdescribelogdirs_req rq;
    struct kdescribelogdirs_resp rs;
    assert_int_equal(decode_copy(ld_req, req2, sizeof req2, 5, &a, &rq), WEIR_E_UNSUPPORTED);
    assert_int_equal(decode_copy(ld_resp, resp4, sizeof resp4, 5, &a, &rs), WEIR_E_UNSUPPORTED);
    static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 1, 't' };
    assert_int_not_equal(decode_copy(ld_req, huge, sizeof huge, 0, &a, &rq), WEIR_OK);
    decode_copy(ld_req, NULL, 0, 0, &a, &rq);
    print_message("DescribeLogDirs: %zu truncations\n", truncated);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describecluster),
        cmocka_unit_test(test_offsetdelete),
        cmocka_unit_test(test_describelogdirs),
        cmocka_unit_test(test_alterconfigs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
