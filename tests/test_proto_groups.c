/* tests/test_proto_groups.c: proto/, the consumer-group APIs (broker direction):
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups.
 * Each request is written field by field (the schemas' order), decoded at every
 * supported version and checked; every truncation fails with WEIR_E_TRUNCATED;
 * responses are encoded and checked byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdlib.h>

#include "proto/proto.h"

static void kstr_is(struct kstr got, const char *want)
{
    if (!want) assert_true(kstr_is_null(got));
    else assert_true(kstr_eq(got, want));
}

/* Writes a request body for (key, v) into b. */
static void write_req(struct kbuf *b, int16_t key, int16_t v)
{
    switch (key) {
    case KAPI_JOIN_GROUP:
        kb_string(b, kstr_c("grp"));
        kb_i32(b, 30000);
        if (v >= 1) kb_i32(b, 60000);
        kb_string(b, kstr_c("m-1"));
        if (v >= 5) kb_nstring(b, KSTR_NULL);
        kb_string(b, kstr_c("consumer"));
        kb_array_len(b, 2);
        kb_string(b, kstr_c("range"));
        kb_bytes(b, (struct kbytes){ (const uint8_t *)"ab", 2 });
        kb_string(b, kstr_c("roundrobin"));
        kb_bytes(b, (struct kbytes){ NULL, 0 });
        break;
    case KAPI_SYNC_GROUP:
        kb_string(b, kstr_c("grp"));
        kb_i32(b, 7);
        kb_string(b, kstr_c("m-1"));
        if (v >= 3) kb_nstring(b, kstr_c("inst"));
        kb_array_len(b, 1);
        kb_string(b, kstr_c("m-2"));
        kb_bytes(b, (struct kbytes){ (const uint8_t *)"xyz", 3 });
        break;
    case KAPI_HEARTBEAT:
        kb_string(b, kstr_c("grp"));
        kb_i32(b, 7);
        kb_string(b, kstr_c("m-1"));
        if (v >= 3) kb_nstring(b, KSTR_NULL);
        break;
    case KAPI_LEAVE_GROUP:
        kb_string(b, kstr_c("grp"));
        if (v < 3) {
            kb_string(b, kstr_c("m-1"));
        } else {
            kb_array_len(b, 1);
            kb_string(b, kstr_c("m-1"));
            kb_nstring(b, KSTR_NULL);
        }
        break;
    case KAPI_OFFSET_COMMIT:
        kb_string(b, kstr_c("grp"));
        kb_i32(b, 7);
        kb_string(b, kstr_c("m-1"));
        if (v >= 7) kb_nstring(b, KSTR_NULL);
        kb_array_len(b, 1);
        kb_string(b, kstr_c("t"));
        kb_array_len(b, 1);
        kb_i32(b, 3);
        kb_i64(b, 42);
        if (v >= 6) kb_i32(b, 5);
        kb_nstring(b, kstr_c("md"));
        break;
    case KAPI_OFFSET_FETCH:
        kb_string(b, kstr_c("grp"));
        kb_array_len(b, 1);
        kb_string(b, kstr_c("t"));
        kb_array_len(b, 2);
        kb_i32(b, 0);
        kb_i32(b, 4);
        break;
    case KAPI_DESCRIBE_GROUPS:
        kb_array_len(b, 2);
        kb_string(b, kstr_c("grp"));
        kb_string(b, kstr_c("g2"));
        break;
    case KAPI_LIST_GROUPS: break; /* empty body (v0-2) */
    }
}

union any {
    struct kjoingroup_req join;
    struct ksyncgroup_req sync;
    struct kheartbeat_req hb;
    struct kleavegroup_req leave;
    struct koffsetcommit_req commit;
    struct koffsetfetch_req fetch;
    struct kdescribegroups_req describe;
};

static enum weir_err decode(int16_t key, struct weir_rd *rd, int16_t v, struct weir_arena *a, union any *u)
{
    switch (key) {
    case KAPI_JOIN_GROUP: return kproto_joingroup_decode(rd, v, a, &u->join);
    case KAPI_SYNC_GROUP: return kproto_syncgroup_decode(rd, v, a, &u->sync);
    case KAPI_HEARTBEAT: return kproto_heartbeat_decode(rd, v, a, &u->hb);
    case KAPI_LEAVE_GROUP: return kproto_leavegroup_decode(rd, v, a, &u->leave);
    case KAPI_OFFSET_COMMIT: return kproto_offsetcommit_decode(rd, v, a, &u->commit);
    case KAPI_OFFSET_FETCH: return kproto_offsetfetch_decode(rd, v, a, &u->fetch);
    case KAPI_DESCRIBE_GROUPS: return kproto_describegroups_decode(rd, v, a, &u->describe);
    case KAPI_LIST_GROUPS: return kproto_listgroups_decode(rd, v, a);
    }
    return WEIR_E_INVALID;
}

static void check(int16_t key, int16_t v, const union any *u)
{
    switch (key) {
    case KAPI_JOIN_GROUP:
        kstr_is(u->join.group_id, "grp");
        assert_int_equal(u->join.session_timeout_ms, 30000);
        assert_int_equal(u->join.rebalance_timeout_ms, v >= 1 ? 60000 : 30000);
        kstr_is(u->join.member_id, "m-1");
        kstr_is(u->join.group_instance_id, NULL);
        kstr_is(u->join.protocol_type, "consumer");
        assert_int_equal(u->join.n_protocols, 2);
        kstr_is(u->join.protocols[0].name, "range");
        assert_int_equal(u->join.protocols[0].metadata.len, 2);
        assert_memory_equal(u->join.protocols[0].metadata.ptr, "ab", 2);
        kstr_is(u->join.protocols[1].name, "roundrobin");
        assert_int_equal(u->join.protocols[1].metadata.len, 0);
        break;
    case KAPI_SYNC_GROUP:
        kstr_is(u->sync.group_id, "grp");
        assert_int_equal(u->sync.generation_id, 7);
        kstr_is(u->sync.member_id, "m-1");
        kstr_is(u->sync.group_instance_id, v >= 3 ? "inst" : NULL);
        assert_int_equal(u->sync.n_assignments, 1);
        kstr_is(u->sync.assignments[0].member_id, "m-2");
        assert_int_equal(u->sync.assignments[0].assignment.len, 3);
        break;
    case KAPI_HEARTBEAT:
        kstr_is(u->hb.group_id, "grp");
        assert_int_equal(u->hb.generation_id, 7);
        kstr_is(u->hb.member_id, "m-1");
        break;
    case KAPI_LEAVE_GROUP:
        kstr_is(u->leave.group_id, "grp");
        assert_int_equal(u->leave.n_members, 1);
        kstr_is(u->leave.members[0].member_id, "m-1");
        break;
    case KAPI_OFFSET_COMMIT:
        kstr_is(u->commit.group_id, "grp");
        assert_int_equal(u->commit.generation_id, 7);
        kstr_is(u->commit.member_id, "m-1");
        assert_int_equal(u->commit.n_topics, 1);
        kstr_is(u->commit.topics[0].name, "t");
        assert_int_equal(u->commit.topics[0].n_partitions, 1);
        assert_int_equal(u->commit.topics[0].partitions[0].partition_index, 3);
        assert_int_equal(u->commit.topics[0].partitions[0].committed_offset, 42);
        assert_int_equal(u->commit.topics[0].partitions[0].committed_leader_epoch, v >= 6 ? 5 : -1);
        kstr_is(u->commit.topics[0].partitions[0].committed_metadata, "md");
        break;
    case KAPI_OFFSET_FETCH:
        kstr_is(u->fetch.group_id, "grp");
        assert_int_equal(u->fetch.n_topics, 1);
        kstr_is(u->fetch.topics[0].name, "t");
        assert_int_equal(u->fetch.topics[0].n_partition_indexes, 2);
        assert_int_equal(u->fetch.topics[0].partition_indexes[1], 4);
        break;
    case KAPI_DESCRIBE_GROUPS:
        assert_int_equal(u->describe.n_groups, 2);
        kstr_is(u->describe.groups[0], "grp");
        kstr_is(u->describe.groups[1], "g2");
        break;
    }
}

static const int16_t keys[] = { KAPI_JOIN_GROUP, KAPI_SYNC_GROUP, KAPI_HEARTBEAT, KAPI_LEAVE_GROUP,
                                KAPI_OFFSET_COMMIT, KAPI_OFFSET_FETCH, KAPI_DESCRIBE_GROUPS, KAPI_LIST_GROUPS };

static void test_requests(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    size_t truncations = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const struct kproto_api *api = kproto_api_find(keys[k]);
        assert_non_null(api);
        assert_true(api->min >= 0);
        for (int16_t v = api->min; v <= api->max; v++) {
            struct kbuf b;
            kbuf_init(&b, 0);
            write_req(&b, keys[k], v);
            assert_int_equal(b.err, WEIR_OK);
            size_t n = b.mem_len;
            union any u;
            weir_arena_reset(&a);
            struct weir_rd rd = weir_rd_make(b.mem, n);
            assert_int_equal(decode(keys[k], &rd, v, &a, &u), WEIR_OK);
            assert_true(rd.pos == rd.end);
            check(keys[k], v, &u);
            for (size_t len = 0; len < n; len++) {
                uint8_t *p = malloc(len ? len : 1);
                assert_non_null(p);
                memcpy(p, b.mem, len);
                struct weir_rd t = weir_rd_make(p, len);
                weir_arena_reset(&a);
                assert_int_equal(decode(keys[k], &t, v, &a, &u), WEIR_E_TRUNCATED);
                free(p);
                truncations++;
            }
            kbuf_free(&b);
        }
        /* Outside the range: refused. */
        struct weir_rd rd = weir_rd_make((const uint8_t *)"", 0);
        union any u;
        assert_int_equal(decode(keys[k], &rd, (int16_t)(api->max + 1), &a, &u), WEIR_E_UNSUPPORTED);
    }
    print_message("%zu truncations\n", truncations);
    weir_arena_destroy(&a);
}

static void expect(struct kbuf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, WEIR_OK);
    assert_int_equal(b->mem_len, n);
    assert_memory_equal(b->mem, want, n);
    kbuf_free(b);
    kbuf_init(b, 0);
}

static void test_responses(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kjoingroup_member m = { kstr_c("a"), KSTR_NULL, { (const uint8_t *)"x", 1 } };
    struct kjoingroup_resp jr = { 0, 0, 3, kstr_c("r"), kstr_c("a"), kstr_c("a"), &m, 1 };
    kproto_joingroup_encode(&b, 5, &jr);
    static const uint8_t j5[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 'r', 0, 1, 'a', 0, 1, 'a', 0, 0, 0, 1,
                                  0, 1, 'a', 0xff, 0xff, 0, 0, 0, 1, 'x' };
    expect(&b, j5, sizeof j5);
    kproto_joingroup_encode(&b, 0, &jr);
    static const uint8_t j0[] = { 0, 0, 0, 0, 0, 3, 0, 1, 'r', 0, 1, 'a', 0, 1, 'a', 0, 0, 0, 1,
                                  0, 1, 'a', 0, 0, 0, 1, 'x' };
    expect(&b, j0, sizeof j0);
    kproto_syncgroup_encode(&b, 3, &(struct ksyncgroup_resp){ 0, 27, { NULL, 0 } });
    static const uint8_t s3[] = { 0, 0, 0, 0, 0, 27, 0, 0, 0, 0 };
    expect(&b, s3, sizeof s3);
    kproto_heartbeat_encode(&b, 0, &(struct kheartbeat_resp){ 0, 22 });
    static const uint8_t h0[] = { 0, 22 };
    expect(&b, h0, sizeof h0);
    struct kleavegroup_member lm = { kstr_c("a"), KSTR_NULL, 25 };
    kproto_leavegroup_encode(&b, 3, &(struct kleavegroup_resp){ 0, 0, &lm, 1 });
    static const uint8_t l3[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 'a', 0xff, 0xff, 0, 25 };
    expect(&b, l3, sizeof l3);
    struct koffsetcommit_resp_part cp = { 3, 22 };
    struct koffsetcommit_resp_topic ct = { kstr_c("t"), &cp, 1 };
    kproto_offsetcommit_encode(&b, 7, &(struct koffsetcommit_resp){ 0, &ct, 1 });
    static const uint8_t c7[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 3, 0, 22 };
    expect(&b, c7, sizeof c7);
    struct koffsetfetch_resp_part fp = { 1, -1, -1, kstr_c(""), 0 };
    struct koffsetfetch_resp_topic ft = { kstr_c("t"), &fp, 1 };
    kproto_offsetfetch_encode(&b, 5, &(struct koffsetfetch_resp){ 0, &ft, 1, 0 });
    static const uint8_t f5[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0, 0, 0, 0, 0, 0 };
    expect(&b, f5, sizeof f5);
    struct kdescribegroups_member dm = { kstr_c("m"), kstr_c("c"), kstr_c("/h"), { (const uint8_t *)"x", 1 },
                                         { NULL, 0 } };
    struct kdescribegroups_group dg = { 0, kstr_c("g"), kstr_c("Stable"), kstr_c("consumer"), kstr_c("range"), &dm, 1 };
    kproto_describegroups_encode(&b, 0, &(struct kdescribegroups_resp){ 0, &dg, 1 });
    static const uint8_t d0[] = { 0, 0, 0, 1, 0, 0, 0, 1, 'g', 0, 6, 'S', 't', 'a', 'b', 'l', 'e',
                                  0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0, 5, 'r', 'a', 'n', 'g', 'e',
                                  0, 0, 0, 1, 0, 1, 'm', 0, 1, 'c', 0, 2, '/', 'h', 0, 0, 0, 1, 'x', 0, 0, 0, 0 };
    expect(&b, d0, sizeof d0);
    kproto_describegroups_encode(&b, 2, &(struct kdescribegroups_resp){ 5, NULL, 0 });
    static const uint8_t d2[] = { 0, 0, 0, 5, 0, 0, 0, 0 };
    expect(&b, d2, sizeof d2);
    struct klistgroups_group lg = { kstr_c("g"), kstr_c("consumer") };
    kproto_listgroups_encode(&b, 0, &(struct klistgroups_resp){ 0, 0, &lg, 1 });
    static const uint8_t lg0[] = { 0, 0, 0, 0, 0, 1, 0, 1, 'g', 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r' };
    expect(&b, lg0, sizeof lg0);
    kproto_listgroups_encode(&b, 2, &(struct klistgroups_resp){ 0, 15, NULL, 0 });
    static const uint8_t lg2[] = { 0, 0, 0, 0, 0, 15, 0, 0, 0, 0 };
    expect(&b, lg2, sizeof lg2);
    kbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
