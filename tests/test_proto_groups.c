/* tests/test_proto_groups.c: proto/, the consumer-group APIs (both directions)
 * at every version Kafka 3.7 serves (but OffsetCommit/OffsetFetch v9):
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups, FindCoordinator (requests; its client direction
 * is in test_proto_client); DeleteGroups (test_deletegroups: both directions,
 * byte for byte at v0 and v2, every truncation).
 * Each request is written field by field (the schemas' order), decoded at every
 * supported version and checked; every truncation fails with WEIR_E_TRUNCATED;
 * responses are encoded and checked byte for byte. The client direction: every
 * API at every supported version round trips (client encode -> broker decode,
 * broker encode -> client decode) with equal fields, every truncation fails,
 * mutations never crash; and the consumer embedded protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdlib.h>

#include "proto/proto.h"
#include "testutil.h"

static void kstr_is(struct kstr got, const char *want)
{
    if (!want) assert_true(kstr_is_null(got));
    else assert_true(kstr_eq(got, want));
}

/* Writes a request body for (key, v) into b, in the schemas' order (compact
 * strings, arrays and bytes and a tagged section per struct when flexible). */
static void write_req(struct kbuf *b, int16_t key, int16_t v)
{
    bool f = kproto_request_flexible(key, v);
    switch (key) {
    case KAPI_JOIN_GROUP:
        kb_str(b, f, kstr_c("grp"));
        kb_i32(b, 30000);
        if (v >= 1) kb_i32(b, 60000);
        kb_str(b, f, kstr_c("m-1"));
        if (v >= 5) kb_nstr(b, f, KSTR_NULL);
        kb_str(b, f, kstr_c("consumer"));
        kb_arr(b, f, 2);
        kb_str(b, f, kstr_c("range"));
        kb_blob(b, f, (struct kbytes){ (const uint8_t *)"ab", 2 });
        kb_tags(b, f);
        kb_str(b, f, kstr_c("roundrobin"));
        kb_blob(b, f, (struct kbytes){ NULL, 0 });
        kb_tags(b, f);
        if (v >= 8) kb_nstr(b, f, kstr_c("why"));
        break;
    case KAPI_SYNC_GROUP:
        kb_str(b, f, kstr_c("grp"));
        kb_i32(b, 7);
        kb_str(b, f, kstr_c("m-1"));
        if (v >= 3) kb_nstr(b, f, kstr_c("inst"));
        if (v >= 5) kb_nstr(b, f, kstr_c("consumer")), kb_nstr(b, f, KSTR_NULL);
        kb_arr(b, f, 1);
        kb_str(b, f, kstr_c("m-2"));
        kb_blob(b, f, (struct kbytes){ (const uint8_t *)"xyz", 3 });
        kb_tags(b, f);
        break;
    case KAPI_HEARTBEAT:
        kb_str(b, f, kstr_c("grp"));
        kb_i32(b, 7);
        kb_str(b, f, kstr_c("m-1"));
        if (v >= 3) kb_nstr(b, f, KSTR_NULL);
        break;
    case KAPI_LEAVE_GROUP:
        kb_str(b, f, kstr_c("grp"));
        if (v < 3) {
            kb_str(b, f, kstr_c("m-1"));
        } else {
            kb_arr(b, f, 1);
            kb_str(b, f, kstr_c("m-1"));
            kb_nstr(b, f, KSTR_NULL);
            if (v >= 5) kb_nstr(b, f, kstr_c("bye"));
            kb_tags(b, f);
        }
        break;
    case KAPI_OFFSET_COMMIT:
        kb_str(b, f, kstr_c("grp"));
        if (v >= 1) kb_i32(b, 7), kb_str(b, f, kstr_c("m-1"));
        if (v >= 7) kb_nstr(b, f, KSTR_NULL);
        if (v >= 2 && v <= 4) kb_i64(b, 86400000);
        kb_arr(b, f, 1);
        kb_str(b, f, kstr_c("t"));
        kb_arr(b, f, 1);
        kb_i32(b, 3);
        kb_i64(b, 42);
        if (v >= 6) kb_i32(b, 5);
        if (v == 1) kb_i64(b, 1700000000000);
        kb_nstr(b, f, kstr_c("md"));
        kb_tags(b, f);
        kb_tags(b, f);
        break;
    case KAPI_OFFSET_FETCH:
        if (v >= 8) kb_arr(b, f, 2);
        for (int g = 0; g < (v >= 8 ? 2 : 1); g++) {
            kb_str(b, f, kstr_c(g ? "g2" : "grp"));
            if (v >= 9) kb_nstr(b, f, g ? KSTR_NULL : kstr_c("m-1")), kb_i32(b, g ? -1 : 7); /* member id, epoch */
            if (g) {
                kb_arr(b, f, -1); /* all committed partitions */
            } else {
                kb_arr(b, f, 1);
                kb_str(b, f, kstr_c("t"));
                kb_arr(b, f, 2);
                kb_i32(b, 0);
                kb_i32(b, 4);
                kb_tags(b, f);
            }
            if (v >= 8) kb_tags(b, f);
        }
        if (v >= 7) kb_bool(b, true);
        break;
    case KAPI_DESCRIBE_GROUPS:
        kb_arr(b, f, 2);
        kb_str(b, f, kstr_c("grp"));
        kb_str(b, f, kstr_c("g2"));
        if (v >= 3) kb_bool(b, true);
        break;
    case KAPI_LIST_GROUPS: /* empty body before v4 */
        if (v >= 4) kb_arr(b, f, 2), kb_str(b, f, kstr_c("Stable")), kb_str(b, f, kstr_c("Empty"));
        break;
    case KAPI_FIND_COORDINATOR:
        if (v < 4) kb_str(b, f, kstr_c("grp"));
        if (v >= 1) kb_i8(b, 0);
        if (v >= 4) kb_arr(b, f, 2), kb_str(b, f, kstr_c("grp")), kb_str(b, f, kstr_c("g2"));
        break;
    }
    kb_tags(b, f);
}

union any {
    struct kjoingroup_req join;
    struct ksyncgroup_req sync;
    struct kheartbeat_req hb;
    struct kleavegroup_req leave;
    struct koffsetcommit_req commit;
    struct koffsetfetch_req fetch;
    struct kdescribegroups_req describe;
    struct klistgroups_req list;
    struct kfindcoordinator_req find;
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
    case KAPI_LIST_GROUPS: return kproto_listgroups_decode(rd, v, a, &u->list);
    case KAPI_FIND_COORDINATOR: return kproto_findcoordinator_decode(rd, v, a, &u->find);
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
        kstr_is(u->join.reason, v >= 8 ? "why" : NULL);
        break;
    case KAPI_SYNC_GROUP:
        kstr_is(u->sync.group_id, "grp");
        assert_int_equal(u->sync.generation_id, 7);
        kstr_is(u->sync.member_id, "m-1");
        kstr_is(u->sync.group_instance_id, v >= 3 ? "inst" : NULL);
        assert_int_equal(u->sync.n_assignments, 1);
        kstr_is(u->sync.assignments[0].member_id, "m-2");
        assert_int_equal(u->sync.assignments[0].assignment.len, 3);
        kstr_is(u->sync.protocol_type, v >= 5 ? "consumer" : NULL);
        kstr_is(u->sync.protocol_name, NULL);
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
        kstr_is(u->leave.members[0].reason, v >= 5 ? "bye" : NULL);
        break;
    case KAPI_OFFSET_COMMIT:
        kstr_is(u->commit.group_id, "grp");
        assert_int_equal(u->commit.generation_id, v >= 1 ? 7 : -1);
        kstr_is(u->commit.member_id, v >= 1 ? "m-1" : "");
        assert_int_equal(u->commit.retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1);
        assert_int_equal(u->commit.topics[0].partitions[0].commit_timestamp, v == 1 ? 1700000000000 : -1);
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
        assert_int_equal(u->fetch.require_stable, v >= 7);
        assert_int_equal(u->fetch.n_groups, v >= 8 ? 2 : 1);
        kstr_is(u->fetch.groups[0].group_id, "grp");
        assert_int_equal(u->fetch.groups[0].n_topics, 1);
        if (v >= 8) kstr_is(u->fetch.groups[1].group_id, "g2"), assert_int_equal(u->fetch.groups[1].n_topics, -1);
        if (v >= 9) kstr_is(u->fetch.groups[0].member_id, "m-1"), assert_int_equal(u->fetch.groups[0].member_epoch, 7);
        if (v >= 9) assert_true(kstr_is_null(u->fetch.groups[1].member_id));
        break;
    case KAPI_DESCRIBE_GROUPS:
        assert_int_equal(u->describe.n_groups, 2);
        kstr_is(u->describe.groups[0], "grp");
        kstr_is(u->describe.groups[1], "g2");
        assert_int_equal(u->describe.include_authorized_operations, v >= 3);
        break;
    case KAPI_LIST_GROUPS:
        assert_int_equal(u->list.n_states_filter, v >= 4 ? 2 : 0);
        if (v >= 4) kstr_is(u->list.states_filter[0], "Stable"), kstr_is(u->list.states_filter[1], "Empty");
        break;
    case KAPI_FIND_COORDINATOR:
        kstr_is(u->find.key, "grp");
        assert_int_equal(u->find.n_keys, v >= 4 ? 2 : 1);
        kstr_is(u->find.keys[0], "grp");
        if (v >= 4) kstr_is(u->find.keys[1], "g2");
        break;
    }
}

static const int16_t keys[] = { KAPI_JOIN_GROUP, KAPI_SYNC_GROUP, KAPI_HEARTBEAT, KAPI_LEAVE_GROUP,
                                KAPI_OFFSET_COMMIT, KAPI_OFFSET_FETCH, KAPI_DESCRIBE_GROUPS, KAPI_LIST_GROUPS,
                                KAPI_FIND_COORDINATOR };

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
    struct kjoingroup_resp jr = { 0, 0, 3, kstr_c("r"), kstr_c("a"), kstr_c("a"), &m, 1, kstr_c("consumer"), true };
    kproto_joingroup_encode(&b, 5, &jr);
    static const uint8_t j5[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 'r', 0, 1, 'a', 0, 1, 'a', 0, 0, 0, 1,
                                  0, 1, 'a', 0xff, 0xff, 0, 0, 0, 1, 'x' };
    expect(&b, j5, sizeof j5);
    kproto_joingroup_encode(&b, 0, &jr);
    static const uint8_t j0[] = { 0, 0, 0, 0, 0, 3, 0, 1, 'r', 0, 1, 'a', 0, 1, 'a', 0, 0, 0, 1,
                                  0, 1, 'a', 0, 0, 0, 1, 'x' };
    expect(&b, j0, sizeof j0);
    /* v9: flexible, protocol_type, skip_assignment; v7 protocol_name "" is null */
    kproto_joingroup_encode(&b, 9, &jr);
    static const uint8_t j9[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 2, 'r',
                                  2, 'a', 1, 2, 'a', 2, 2, 'a', 0, 2, 'x', 0, 0 };
    expect(&b, j9, sizeof j9);
    struct kjoingroup_resp jerr = { .error_code = 79, .generation_id = -1, .member_id = kstr_c("a") };
    kproto_joingroup_encode(&b, 7, &jerr);
    static const uint8_t j7[] = { 0, 0, 0, 0, 0, 79, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 2, 'a', 1, 0 };
    expect(&b, j7, sizeof j7);
    kproto_syncgroup_encode(&b, 3, &(struct ksyncgroup_resp){ 0, 27, { NULL, 0 }, KSTR_NULL, KSTR_NULL });
    static const uint8_t s3[] = { 0, 0, 0, 0, 0, 27, 0, 0, 0, 0 };
    expect(&b, s3, sizeof s3);
    kproto_syncgroup_encode(&b, 5, &(struct ksyncgroup_resp){ 0, 0, { (const uint8_t *)"x", 1 }, kstr_c("c"), kstr_c("") });
    static const uint8_t s5[] = { 0, 0, 0, 0, 0, 0, 2, 'c', 0, 2, 'x', 0 };
    expect(&b, s5, sizeof s5);
    kproto_heartbeat_encode(&b, 0, &(struct kheartbeat_resp){ 0, 22 });
    static const uint8_t h0[] = { 0, 22 };
    expect(&b, h0, sizeof h0);
    struct kleavegroup_member lm = { kstr_c("a"), KSTR_NULL, 25, KSTR_NULL };
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
    kproto_offsetfetch_encode(&b, 5, &(struct koffsetfetch_resp){ 0, &ft, 1, 0, NULL, 0 });
    static const uint8_t f5[] = { 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0, 0, 0, 0, 0, 0 };
    expect(&b, f5, sizeof f5);
    /* v0: no throttle, no leader epoch, no top-level error */
    kproto_offsetfetch_encode(&b, 0, &(struct koffsetfetch_resp){ 0, &ft, 1, 0, NULL, 0 });
    static const uint8_t f0[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0, 0, 0, 0 };
    expect(&b, f0, sizeof f0);
    /* v8: groups[group_id, topics, error_code] */
    struct koffsetfetch_resp_group fg = { kstr_c("g"), &ft, 1, 16 };
    kproto_offsetfetch_encode(&b, 8, &(struct koffsetfetch_resp){ 0, NULL, 0, 0, &fg, 1 });
    static const uint8_t f8[] = { 0, 0, 0, 0, 2, 2, 'g', 2, 2, 't', 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 16, 0, 0 };
    expect(&b, f8, sizeof f8);
    /* OffsetCommit v0: no throttle; v8 flexible */
    kproto_offsetcommit_encode(&b, 0, &(struct koffsetcommit_resp){ 9, &ct, 1 });
    static const uint8_t c0[] = { 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 3, 0, 22 };
    expect(&b, c0, sizeof c0);
    kproto_offsetcommit_encode(&b, 8, &(struct koffsetcommit_resp){ 0, &ct, 1 });
    static const uint8_t c8[] = { 0, 0, 0, 0, 2, 2, 't', 2, 0, 0, 0, 3, 0, 22, 0, 0, 0 };
    expect(&b, c8, sizeof c8);
    /* FindCoordinator v4: throttle, coordinators[key, node, host, port, error, message] */
    struct kfindcoordinator_coord fc = { kstr_c("g"), 1, kstr_c("h"), 9092, 0, KSTR_NULL };
    kproto_findcoordinator_encode(&b, 4, &(struct kfindcoordinator_resp){ .coordinators = &fc, .n_coordinators = 1 });
    static const uint8_t fc4[] = { 0, 0, 0, 0, 2, 2, 'g', 0, 0, 0, 1, 2, 'h', 0, 0, 0x23, 0x84, 0, 0, 0, 0, 0 };
    expect(&b, fc4, sizeof fc4);
    struct kdescribegroups_member dm = { kstr_c("m"), kstr_c("c"), kstr_c("/h"), { (const uint8_t *)"x", 1 },
                                         { NULL, 0 }, kstr_c("i") };
    struct kdescribegroups_group dg = { 0, kstr_c("g"), kstr_c("Stable"), kstr_c("consumer"), kstr_c("range"), &dm, 1,
                                        328 };
    kproto_describegroups_encode(&b, 0, &(struct kdescribegroups_resp){ 0, &dg, 1 });
    static const uint8_t d0[] = { 0, 0, 0, 1, 0, 0, 0, 1, 'g', 0, 6, 'S', 't', 'a', 'b', 'l', 'e',
                                  0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 0, 5, 'r', 'a', 'n', 'g', 'e',
                                  0, 0, 0, 1, 0, 1, 'm', 0, 1, 'c', 0, 2, '/', 'h', 0, 0, 0, 1, 'x', 0, 0, 0, 0 };
    expect(&b, d0, sizeof d0);
    kproto_describegroups_encode(&b, 2, &(struct kdescribegroups_resp){ 5, NULL, 0 });
    static const uint8_t d2[] = { 0, 0, 0, 5, 0, 0, 0, 0 };
    expect(&b, d2, sizeof d2);
    /* v5: flexible; member group_instance_id (v4+), authorized_operations (v3+) */
    kproto_describegroups_encode(&b, 5, &(struct kdescribegroups_resp){ 0, &dg, 1 });
    static const uint8_t d5[] = { 0, 0, 0, 0, 2, 0, 0, 2, 'g', 7, 'S', 't', 'a', 'b', 'l', 'e',
                                  9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', 6, 'r', 'a', 'n', 'g', 'e',
                                  2, 2, 'm', 2, 'i', 2, 'c', 3, '/', 'h', 2, 'x', 1, 0, 0, 0, 1, 0x48, 0, 0 };
    expect(&b, d5, sizeof d5);
    struct klistgroups_group lg = { kstr_c("g"), kstr_c("consumer"), kstr_c("Empty") };
    kproto_listgroups_encode(&b, 0, &(struct klistgroups_resp){ 0, 0, &lg, 1 });
    static const uint8_t lg0[] = { 0, 0, 0, 0, 0, 1, 0, 1, 'g', 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r' };
    expect(&b, lg0, sizeof lg0);
    kproto_listgroups_encode(&b, 2, &(struct klistgroups_resp){ 0, 15, NULL, 0 });
    static const uint8_t lg2[] = { 0, 0, 0, 0, 0, 15, 0, 0, 0, 0 };
    expect(&b, lg2, sizeof lg2);
    kproto_listgroups_encode(&b, 4, &(struct klistgroups_resp){ 0, 0, &lg, 1 });
    static const uint8_t lg4[] = { 0, 0, 0, 0, 0, 0, 2, 2, 'g', 9, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
                                   6, 'E', 'm', 'p', 't', 'y', 0, 0 };
    expect(&b, lg4, sizeof lg4);
    kbuf_free(&b);
}

/* ======================================================================== */
/* Client direction: client encode -> broker decode, broker encode -> client */
/* decode, at every supported version; every truncation and mutations of the */
/* responses; the consumer embedded protocol.                                */
/* ======================================================================== */

static bool str_same(struct kstr a, struct kstr b)
{
    if (a.len < 0 || b.len < 0) return a.len < 0 && b.len < 0;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}
static void assert_str(struct kstr got, struct kstr want) { assert_true(str_same(got, want)); }
static void assert_bytes(struct kbytes got, struct kbytes want)
{
    if (want.len < 0) {
        assert_true(got.len < 0);
        return;
    }
    assert_int_equal(got.len, want.len);
    if (want.len) assert_memory_equal(got.ptr, want.ptr, (size_t)want.len);
}
#define BY(s) ((struct kbytes){ (const uint8_t *)(s), (int32_t)(sizeof(s) - 1) })
#define NOBYTES ((struct kbytes){ NULL, 0 })

union anyc {
    struct kjoingroup_req join;
    struct kjoingroup_resp join_r;
    struct ksyncgroup_req sync;
    struct ksyncgroup_resp sync_r;
    struct kheartbeat_req hb;
    struct kheartbeat_resp hb_r;
    struct kleavegroup_req leave;
    struct kleavegroup_resp leave_r;
    struct koffsetcommit_req commit;
    struct koffsetcommit_resp commit_r;
    struct koffsetfetch_req fetch;
    struct koffsetfetch_resp fetch_r;
    struct kdescribegroups_req describe;
    struct kdescribegroups_resp describe_r;
    struct klistgroups_req list;
    struct klistgroups_resp list_r;
    struct kconsumer_subscription sub;
    struct kconsumer_assignment asg;
};

/* A decoder over `out` (one of union anyc's members). */
typedef enum weir_err (*dec_fn)(struct weir_rd *rd, int16_t v, struct weir_arena *a, void *out);

static enum weir_err d_join(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_joingroup_decode(r, v, a, o); }
static enum weir_err d_join_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_joingroup_response_decode(r, v, a, o); }
static enum weir_err d_sync(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_syncgroup_decode(r, v, a, o); }
static enum weir_err d_sync_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_syncgroup_response_decode(r, v, a, o); }
static enum weir_err d_hb(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_heartbeat_decode(r, v, a, o); }
static enum weir_err d_hb_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_heartbeat_response_decode(r, v, a, o); }
static enum weir_err d_leave(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_leavegroup_decode(r, v, a, o); }
static enum weir_err d_leave_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_leavegroup_response_decode(r, v, a, o); }
static enum weir_err d_commit(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_offsetcommit_decode(r, v, a, o); }
static enum weir_err d_commit_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_offsetcommit_response_decode(r, v, a, o); }
static enum weir_err d_fetch(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_offsetfetch_decode(r, v, a, o); }
static enum weir_err d_fetch_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_offsetfetch_response_decode(r, v, a, o); }
static enum weir_err d_desc(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_describegroups_decode(r, v, a, o); }
static enum weir_err d_desc_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_describegroups_response_decode(r, v, a, o); }
static enum weir_err d_list(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_listgroups_decode(r, v, a, o); }
static enum weir_err d_list_r(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { return kproto_listgroups_response_decode(r, v, a, o); }
static enum weir_err d_sub(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { (void)v; return kproto_consumer_subscription_decode(r, a, o); }
static enum weir_err d_asg(struct weir_rd *r, int16_t v, struct weir_arena *a, void *o) { (void)v; return kproto_consumer_assignment_decode(r, a, o); }

static const dec_fn all_response_decoders[] = { d_join_r, d_sync_r, d_hb_r, d_leave_r, d_commit_r, d_fetch_r, d_desc_r, d_list_r };
static size_t n_fuzzed, n_truncated;

/* Decodes b's bytes with fn: every shorter prefix must fail with WEIR_E_TRUNCATED
 * (except a zero-length one when empty_ok), mutations must not crash (any
 * result), then the whole body must decode into *out and consume every byte.
 * Returns the exact-size copy the decoded strings borrow from (caller frees). */
static uint8_t *decode_all(struct kbuf *b, dec_fn fn, int16_t v, struct weir_arena *a, void *out, bool empty_ok)
{
    enum { FUZZ = 200 };
    assert_int_equal(b->err, WEIR_OK);
    size_t n = b->mem_len;
    union anyc scratch;
    for (size_t len = 0; len < n; len++) {
        uint8_t *p = malloc(len ? len : 1);
        assert_non_null(p);
        if (len) memcpy(p, b->mem, len);
        struct weir_rd rd = weir_rd_make(p, len);
        weir_arena_reset(a);
        enum weir_err e = fn(&rd, v, a, &scratch);
        if (!(len == 0 && empty_ok)) assert_int_equal(e, WEIR_E_TRUNCATED);
        free(p);
        n_truncated++;
    }
    static uint64_t seed = 0x51ed270b2c4a9e3dull;
    size_t cap = n + 64;
    uint8_t *m = malloc(cap);
    assert_non_null(m);
    for (int i = 0; i < FUZZ; i++) {
        memcpy(m, b->mem, n);
        size_t mn = tu_mutate(m, n, cap, &seed);
        uint8_t *p = malloc(mn ? mn : 1);
        assert_non_null(p);
        if (mn) memcpy(p, m, mn);
        struct weir_rd rd = weir_rd_make(p, mn);
        weir_arena_reset(a);
        (void)fn(&rd, v, a, &scratch);
        /* the same bytes through another response decoder */
        rd = weir_rd_make(p, mn);
        weir_arena_reset(a);
        (void)all_response_decoders[tu_rand(&seed) % WEIR_ARRAY_LEN(all_response_decoders)](&rd, v, a, &scratch);
        free(p);
        n_fuzzed++;
    }
    free(m);
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    if (n) memcpy(p, b->mem, n);
    struct weir_rd rd = weir_rd_make(p, n);
    weir_arena_reset(a);
    assert_int_equal(fn(&rd, v, a, out), WEIR_OK);
    assert_true(rd.pos == rd.end);
    kbuf_reset(b);
    return p;
}

static void rt_joingroup(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct kjoingroup_protocol protos[] = { { kstr_c("range"), BY("sub\0\1") }, { kstr_c("roundrobin"), NOBYTES } };
    struct kjoingroup_req rq = { kstr_c("grp"), 30000, 60000, kstr_c("m-1"), kstr_c("inst"), kstr_c("consumer"),
                                 protos, 2, kstr_c("rejoin") };
    kproto_joingroup_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_join, v, a, &u, false);
    assert_str(u.join.group_id, rq.group_id);
    assert_int_equal(u.join.session_timeout_ms, 30000);
    assert_int_equal(u.join.rebalance_timeout_ms, v >= 1 ? 60000 : 30000);
    assert_str(u.join.member_id, rq.member_id);
    assert_str(u.join.group_instance_id, v >= 5 ? rq.group_instance_id : KSTR_NULL);
    assert_str(u.join.protocol_type, rq.protocol_type);
    assert_int_equal(u.join.n_protocols, 2);
    for (int i = 0; i < 2; i++) {
        assert_str(u.join.protocols[i].name, protos[i].name);
        assert_bytes(u.join.protocols[i].metadata, protos[i].metadata);
    }
    assert_str(u.join.reason, v >= 8 ? rq.reason : KSTR_NULL);
    free(keep);

    struct kjoingroup_member ms[] = { { kstr_c("m-1"), kstr_c("inst-1"), BY("md\0x") },
                                      { kstr_c("m-2"), KSTR_NULL, NOBYTES } };
    struct kjoingroup_resp rs = { 11, 27, 5, kstr_c("range"), kstr_c("m-1"), kstr_c("m-2"), ms, 2, kstr_c("consumer"),
                                  true };
    kproto_joingroup_encode(b, v, &rs);
    keep = decode_all(b, d_join_r, v, a, &u, false);
    assert_int_equal(u.join_r.throttle_time_ms, v >= 2 ? 11 : 0);
    assert_int_equal(u.join_r.error_code, 27);
    assert_int_equal(u.join_r.generation_id, 5);
    assert_str(u.join_r.protocol_name, rs.protocol_name);
    assert_str(u.join_r.leader, rs.leader);
    assert_str(u.join_r.member_id, rs.member_id);
    assert_str(u.join_r.protocol_type, v >= 7 ? rs.protocol_type : KSTR_NULL);
    assert_int_equal(u.join_r.skip_assignment, v >= 9);
    assert_int_equal(u.join_r.n_members, 2);
    for (int i = 0; i < 2; i++) {
        assert_str(u.join_r.members[i].member_id, ms[i].member_id);
        assert_str(u.join_r.members[i].group_instance_id, v >= 5 ? ms[i].group_instance_id : KSTR_NULL);
        assert_bytes(u.join_r.members[i].metadata, ms[i].metadata);
    }
    free(keep);
}

static void rt_syncgroup(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct ksyncgroup_assignment as[] = { { kstr_c("m-1"), BY("abc") }, { kstr_c("m-2"), NOBYTES } };
    struct ksyncgroup_req rq = { kstr_c("grp"), 7, kstr_c("m-1"), kstr_c("inst"), as, 2, kstr_c("consumer"),
                                 kstr_c("range") };
    kproto_syncgroup_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_sync, v, a, &u, false);
    assert_str(u.sync.group_id, rq.group_id);
    assert_int_equal(u.sync.generation_id, 7);
    assert_str(u.sync.member_id, rq.member_id);
    assert_str(u.sync.group_instance_id, v >= 3 ? rq.group_instance_id : KSTR_NULL);
    assert_int_equal(u.sync.n_assignments, 2);
    for (int i = 0; i < 2; i++) {
        assert_str(u.sync.assignments[i].member_id, as[i].member_id);
        assert_bytes(u.sync.assignments[i].assignment, as[i].assignment);
    }
    assert_str(u.sync.protocol_type, v >= 5 ? rq.protocol_type : KSTR_NULL);
    assert_str(u.sync.protocol_name, v >= 5 ? rq.protocol_name : KSTR_NULL);
    free(keep);

    struct ksyncgroup_resp rs = { 13, 25, BY("xyz\0"), kstr_c("consumer"), kstr_c("range") };
    kproto_syncgroup_encode(b, v, &rs);
    keep = decode_all(b, d_sync_r, v, a, &u, false);
    assert_int_equal(u.sync_r.throttle_time_ms, v >= 1 ? 13 : 0);
    assert_int_equal(u.sync_r.error_code, 25);
    assert_bytes(u.sync_r.assignment, rs.assignment);
    assert_str(u.sync_r.protocol_type, v >= 5 ? rs.protocol_type : KSTR_NULL);
    assert_str(u.sync_r.protocol_name, v >= 5 ? rs.protocol_name : KSTR_NULL);
    free(keep);
}

static void rt_heartbeat(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct kheartbeat_req rq = { kstr_c("grp"), 9, kstr_c("m-1"), kstr_c("inst") };
    kproto_heartbeat_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_hb, v, a, &u, false);
    assert_str(u.hb.group_id, rq.group_id);
    assert_int_equal(u.hb.generation_id, 9);
    assert_str(u.hb.member_id, rq.member_id);
    assert_str(u.hb.group_instance_id, v >= 3 ? rq.group_instance_id : KSTR_NULL);
    free(keep);

    kproto_heartbeat_encode(b, v, &(struct kheartbeat_resp){ 3, 27 });
    keep = decode_all(b, d_hb_r, v, a, &u, false);
    assert_int_equal(u.hb_r.throttle_time_ms, v >= 1 ? 3 : 0);
    assert_int_equal(u.hb_r.error_code, 27);
    free(keep);
}

static void rt_leavegroup(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct kleavegroup_member ms[] = { { kstr_c("m-1"), kstr_c("inst"), 0, kstr_c("done") },
                                       { kstr_c("m-2"), KSTR_NULL, 0, KSTR_NULL } };
    int32_t n = v >= 3 ? 2 : 1;
    struct kleavegroup_req rq = { kstr_c("grp"), ms, n };
    kproto_leavegroup_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_leave, v, a, &u, false);
    assert_str(u.leave.group_id, rq.group_id);
    assert_int_equal(u.leave.n_members, n);
    for (int32_t i = 0; i < n; i++) {
        assert_str(u.leave.members[i].member_id, ms[i].member_id);
        assert_str(u.leave.members[i].group_instance_id, v >= 3 ? ms[i].group_instance_id : KSTR_NULL);
        assert_str(u.leave.members[i].reason, v >= 5 ? ms[i].reason : KSTR_NULL);
    }
    free(keep);

    struct kleavegroup_member rm[] = { { kstr_c("m-1"), kstr_c("inst"), 0, KSTR_NULL },
                                       { kstr_c("m-9"), KSTR_NULL, 25, KSTR_NULL } };
    struct kleavegroup_resp rs = { 4, 0, rm, 2 };
    kproto_leavegroup_encode(b, v, &rs);
    keep = decode_all(b, d_leave_r, v, a, &u, false);
    assert_int_equal(u.leave_r.throttle_time_ms, v >= 1 ? 4 : 0);
    assert_int_equal(u.leave_r.error_code, 0);
    assert_int_equal(u.leave_r.n_members, v >= 3 ? 2 : 0);
    for (int32_t i = 0; i < u.leave_r.n_members; i++) {
        assert_str(u.leave_r.members[i].member_id, rm[i].member_id);
        assert_str(u.leave_r.members[i].group_instance_id, rm[i].group_instance_id);
        assert_int_equal(u.leave_r.members[i].error_code, rm[i].error_code);
    }
    free(keep);
}

static void rt_offsetcommit(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct koffsetcommit_req_part p1[] = { { 0, 42, 5, kstr_c("m"), 1700000000000 }, { 3, 0, -1, KSTR_NULL, -1 } };
    struct koffsetcommit_req_part p2[] = { { 1, (int64_t)1 << 40, 2, kstr_c(""), 5 } };
    struct koffsetcommit_req_topic ts[] = { { kstr_c("t1"), p1, 2 }, { kstr_c("t2"), p2, 1 } };
    struct koffsetcommit_req rq = { kstr_c("grp"), v >= 1 ? 4 : -1, kstr_c(v >= 1 ? "m-1" : ""), kstr_c("inst"), ts, 2,
                                    86400000 };
    kproto_offsetcommit_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_commit, v, a, &u, false);
    assert_str(u.commit.group_id, rq.group_id);
    assert_int_equal(u.commit.generation_id, v >= 1 ? 4 : -1);
    assert_int_equal(u.commit.retention_time_ms, v >= 2 && v <= 4 ? 86400000 : -1);
    assert_str(u.commit.member_id, rq.member_id);
    assert_str(u.commit.group_instance_id, v >= 7 ? rq.group_instance_id : KSTR_NULL);
    assert_int_equal(u.commit.n_topics, 2);
    for (int t = 0; t < 2; t++) {
        assert_str(u.commit.topics[t].name, ts[t].name);
        assert_int_equal(u.commit.topics[t].n_partitions, ts[t].n_partitions);
        for (int32_t p = 0; p < ts[t].n_partitions; p++) {
            const struct koffsetcommit_req_part *g = &u.commit.topics[t].partitions[p], *w = &ts[t].partitions[p];
            assert_int_equal(g->partition_index, w->partition_index);
            assert_int_equal(g->committed_offset, w->committed_offset);
            assert_int_equal(g->committed_leader_epoch, v >= 6 ? w->committed_leader_epoch : -1);
            assert_str(g->committed_metadata, w->committed_metadata);
            assert_int_equal(g->commit_timestamp, v == 1 ? w->commit_timestamp : -1);
        }
    }
    free(keep);

    struct koffsetcommit_resp_part r1[] = { { 0, 0 }, { 3, 22 } };
    struct koffsetcommit_resp_topic rt[] = { { kstr_c("t1"), r1, 2 }, { kstr_c("t2"), NULL, 0 } };
    struct koffsetcommit_resp rs = { 8, rt, 2 };
    kproto_offsetcommit_encode(b, v, &rs);
    keep = decode_all(b, d_commit_r, v, a, &u, false);
    assert_int_equal(u.commit_r.throttle_time_ms, v >= 3 ? 8 : 0);
    assert_int_equal(u.commit_r.n_topics, 2);
    for (int t = 0; t < 2; t++) {
        assert_str(u.commit_r.topics[t].name, rt[t].name);
        assert_int_equal(u.commit_r.topics[t].n_partitions, rt[t].n_partitions);
        for (int32_t p = 0; p < rt[t].n_partitions; p++) {
            assert_int_equal(u.commit_r.topics[t].partitions[p].partition_index, rt[t].partitions[p].partition_index);
            assert_int_equal(u.commit_r.topics[t].partitions[p].error_code, rt[t].partitions[p].error_code);
        }
    }
    free(keep);
}

static void rt_offsetfetch(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    int32_t i1[] = { 0, 4, 2 };
    struct koffsetfetch_req_topic ts[] = { { kstr_c("t1"), i1, 3 }, { kstr_c("t2"), NULL, 0 } };
    for (int null_topics = 0; null_topics < (v >= 2 ? 2 : 1); null_topics++) {
        struct koffsetfetch_req rq = { .group_id = kstr_c("grp"), .topics = null_topics ? NULL : ts,
                                       .n_topics = null_topics ? -1 : 2, .require_stable = true };
        kproto_offsetfetch_request_encode(b, v, &rq);
        union anyc u;
        uint8_t *keep = decode_all(b, d_fetch, v, a, &u, false);
        assert_str(u.fetch.group_id, rq.group_id);
        assert_int_equal(u.fetch.n_topics, rq.n_topics);
        for (int32_t t = 0; t < rq.n_topics; t++) {
            assert_str(u.fetch.topics[t].name, ts[t].name);
            assert_int_equal(u.fetch.topics[t].n_partition_indexes, ts[t].n_partition_indexes);
            for (int32_t p = 0; p < ts[t].n_partition_indexes; p++)
                assert_int_equal(u.fetch.topics[t].partition_indexes[p], ts[t].partition_indexes[p]);
        }
        assert_int_equal(u.fetch.require_stable, v >= 7);
        assert_int_equal(u.fetch.n_groups, 1); /* v8: the one group sent as a batch of one */
        assert_str(u.fetch.groups[0].group_id, rq.group_id);
        assert_int_equal(u.fetch.groups[0].n_topics, rq.n_topics);
        free(keep);
    }
    if (v >= 8) { /* several groups */
        struct koffsetfetch_req_group gs[] = { { kstr_c("g1"), v >= 9 ? kstr_c("m-1") : KSTR_NULL, v >= 9 ? 5 : -1, ts, 2 },
                                               { kstr_c("g2"), KSTR_NULL, -1, NULL, -1 } };
        struct koffsetfetch_req rq = { .groups = gs, .n_groups = 2 };
        kproto_offsetfetch_request_encode(b, v, &rq);
        union anyc u;
        uint8_t *keep = decode_all(b, d_fetch, v, a, &u, false);
        assert_int_equal(u.fetch.n_groups, 2);
        assert_str(u.fetch.group_id, gs[0].group_id);
        assert_str(u.fetch.groups[1].group_id, gs[1].group_id);
        assert_int_equal(u.fetch.groups[0].n_topics, 2);
        assert_int_equal(u.fetch.groups[1].n_topics, -1);
        assert_str(u.fetch.groups[0].member_id, gs[0].member_id); /* v9: member id and epoch */
        assert_int_equal(u.fetch.groups[0].member_epoch, gs[0].member_epoch);
        assert_true(kstr_is_null(u.fetch.groups[1].member_id));
        assert_int_equal(u.fetch.groups[1].member_epoch, -1);
        free(keep);
    }

    struct koffsetfetch_resp_part r1[] = { { 0, 42, 3, kstr_c("md"), 0 }, { 4, -1, -1, KSTR_NULL, 0 },
                                          { 2, (int64_t)1 << 50, 0, kstr_c(""), 3 } };
    struct koffsetfetch_resp_topic rt[] = { { kstr_c("t1"), r1, 3 }, { kstr_c("t2"), NULL, 0 } };
    struct koffsetfetch_resp_group rg[] = { { kstr_c("g1"), rt, 2, 16 }, { kstr_c("g2"), NULL, 0, 69 } };
    struct koffsetfetch_resp rs = { 6, rt, 2, 16, v >= 8 ? rg : NULL, v >= 8 ? 2 : 0 };
    kproto_offsetfetch_encode(b, v, &rs);
    union anyc u;
    uint8_t *keep = decode_all(b, d_fetch_r, v, a, &u, false);
    assert_int_equal(u.fetch_r.throttle_time_ms, v >= 3 ? 6 : 0);
    assert_int_equal(u.fetch_r.error_code, v >= 2 ? 16 : 0);
    assert_int_equal(u.fetch_r.n_groups, v >= 8 ? 2 : 0);
    if (v >= 8) assert_str(u.fetch_r.groups[1].group_id, rg[1].group_id), assert_int_equal(u.fetch_r.groups[1].error_code, 69);
    assert_int_equal(u.fetch_r.n_topics, 2);
    for (int t = 0; t < 2; t++) {
        assert_str(u.fetch_r.topics[t].name, rt[t].name);
        assert_int_equal(u.fetch_r.topics[t].n_partitions, rt[t].n_partitions);
        for (int32_t p = 0; p < rt[t].n_partitions; p++) {
            const struct koffsetfetch_resp_part *g = &u.fetch_r.topics[t].partitions[p], *w = &rt[t].partitions[p];
            assert_int_equal(g->partition_index, w->partition_index);
            assert_int_equal(g->committed_offset, w->committed_offset);
            assert_int_equal(g->committed_leader_epoch, v >= 5 ? w->committed_leader_epoch : -1);
            assert_str(g->metadata, w->metadata);
            assert_int_equal(g->error_code, w->error_code);
        }
    }
    free(keep);
}

static void rt_describegroups(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct kstr names[] = { kstr_c("g1"), kstr_c("g2") };
    struct kdescribegroups_req rq = { names, 2, true };
    kproto_describegroups_request_encode(b, v, &rq);
    union anyc u;
    uint8_t *keep = decode_all(b, d_desc, v, a, &u, false);
    assert_int_equal(u.describe.n_groups, 2);
    assert_str(u.describe.groups[0], names[0]);
    assert_str(u.describe.groups[1], names[1]);
    assert_int_equal(u.describe.include_authorized_operations, v >= 3);
    free(keep);

    struct kdescribegroups_member ms[] = {
        { kstr_c("m-1"), kstr_c("rdkafka"), kstr_c("/127.0.0.1"), BY("\0\1sub"), BY("\0\1asg\0"), kstr_c("inst") },
        { kstr_c("m-2"), kstr_c(""), kstr_c("/::1"), NOBYTES, NOBYTES, KSTR_NULL },
    };
    struct kdescribegroups_group gs[] = {
        { 0, kstr_c("g1"), kstr_c("Stable"), kstr_c("consumer"), kstr_c("range"), ms, 2, 328 },
        { 16, kstr_c("g2"), kstr_c("Dead"), kstr_c(""), kstr_c(""), NULL, 0, KPROTO_AUTHORIZED_OPS_NONE },
    };
    struct kdescribegroups_resp rs = { 9, gs, 2 };
    kproto_describegroups_encode(b, v, &rs);
    keep = decode_all(b, d_desc_r, v, a, &u, false);
    assert_int_equal(u.describe_r.throttle_time_ms, v >= 1 ? 9 : 0);
    assert_int_equal(u.describe_r.n_groups, 2);
    for (int i = 0; i < 2; i++) {
        const struct kdescribegroups_group *g = &u.describe_r.groups[i];
        assert_int_equal(g->error_code, gs[i].error_code);
        assert_str(g->group_id, gs[i].group_id);
        assert_str(g->state, gs[i].state);
        assert_str(g->protocol_type, gs[i].protocol_type);
        assert_str(g->protocol_data, gs[i].protocol_data);
        assert_int_equal(g->n_members, gs[i].n_members);
        assert_int_equal(g->authorized_operations, v >= 3 ? gs[i].authorized_operations : KPROTO_AUTHORIZED_OPS_NONE);
        for (int32_t j = 0; j < g->n_members; j++) {
            assert_str(g->members[j].member_id, ms[j].member_id);
            assert_str(g->members[j].group_instance_id, v >= 4 ? ms[j].group_instance_id : KSTR_NULL);
            assert_str(g->members[j].client_id, ms[j].client_id);
            assert_str(g->members[j].client_host, ms[j].client_host);
            assert_bytes(g->members[j].metadata, ms[j].metadata);
            assert_bytes(g->members[j].assignment, ms[j].assignment);
        }
    }
    free(keep);
}

static void rt_listgroups(int16_t v, struct weir_arena *a, struct kbuf *b)
{
    struct kstr states[] = { kstr_c("Stable"), kstr_c("PreparingRebalance") };
    kproto_listgroups_request_encode(b, v, &(struct klistgroups_req){ states, 2 });
    if (v < 3) assert_int_equal(b->mem_len, 0); /* empty body before v3 */
    union anyc u;
    uint8_t *keep = decode_all(b, d_list, v, a, &u, v < 3);
    assert_int_equal(u.list.n_states_filter, v >= 4 ? 2 : 0);
    if (v >= 4) assert_str(u.list.states_filter[1], states[1]);
    free(keep);

    struct klistgroups_group gs[] = { { kstr_c("g1"), kstr_c("consumer"), kstr_c("Stable") },
                                      { kstr_c("g2"), kstr_c(""), kstr_c("Empty") } };
    struct klistgroups_resp rs = { 2, 0, gs, 2 };
    kproto_listgroups_encode(b, v, &rs);
    keep = decode_all(b, d_list_r, v, a, &u, false);
    assert_int_equal(u.list_r.throttle_time_ms, v >= 1 ? 2 : 0);
    assert_int_equal(u.list_r.error_code, 0);
    assert_int_equal(u.list_r.n_groups, 2);
    for (int i = 0; i < 2; i++) {
        assert_str(u.list_r.groups[i].group_id, gs[i].group_id);
        assert_str(u.list_r.groups[i].protocol_type, gs[i].protocol_type);
        assert_str(u.list_r.groups[i].group_state, v >= 4 ? gs[i].group_state : kstr_c(""));
    }
    free(keep);
}

static void test_client_direction(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    static void (*const rts[])(int16_t, struct weir_arena *, struct kbuf *) = {
        rt_joingroup, rt_syncgroup, rt_heartbeat, rt_leavegroup,
        rt_offsetcommit, rt_offsetfetch, rt_describegroups, rt_listgroups,
    };
    static const dec_fn resp_dec[] = { d_join_r, d_sync_r, d_hb_r, d_leave_r, d_commit_r, d_fetch_r, d_desc_r, d_list_r };
    size_t versions = 0;
    for (size_t k = 0; k < WEIR_ARRAY_LEN(rts); k++) { /* keys[] minus FindCoordinator (test_proto_client) */
        const struct kproto_api *api = kproto_api_find(keys[k]);
        for (int16_t v = api->min; v <= api->max; v++, versions++) rts[k](v, &a, &b);
        /* Outside the range: refused. */
        union anyc u;
        struct weir_rd rd = weir_rd_make((const uint8_t *)"", 0);
        assert_int_equal(resp_dec[k](&rd, (int16_t)(api->max + 1), &a, &u), WEIR_E_UNSUPPORTED);
    }
    assert_int_equal(versions, 10 + 6 + 5 + 6 + 10 + 10 + 6 + 5);
    print_message("%zu (api, version) pairs, %zu truncations, %zu mutations\n", versions, n_truncated, n_fuzzed);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* Array counts over the bytes left or the maximum are refused before any
 * allocation, in the client's decoders too. */
static void test_client_huge_counts(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union anyc u;
    /* ListGroups v1: throttle, error, count 0x7fffffff */
    static const uint8_t lg[] = { 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 1, 'g' };
    struct weir_rd rd = weir_rd_make(lg, sizeof lg);
    assert_int_not_equal(kproto_listgroups_response_decode(&rd, 1, &a, &u.list_r), WEIR_OK);
    /* DescribeGroups v0: count -2 */
    static const uint8_t dg[] = { 0xff, 0xff, 0xff, 0xfe };
    rd = weir_rd_make(dg, sizeof dg);
    assert_int_not_equal(kproto_describegroups_response_decode(&rd, 0, &a, &u.describe_r), WEIR_OK);
    weir_arena_destroy(&a);
}

/* Responses read a null in a non-nullable string, bytes or array as empty, as
 * librdkafka does: its mock cluster answers a failed SyncGroup with a null
 * assignment and a failed JoinGroup with null names. Requests stay strict. */
static void test_client_null_as_empty(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union anyc u;
    /* SyncGroup v3: throttle, error 27, assignment null */
    static const uint8_t sg[] = { 0, 0, 0, 0, 0, 27, 0xff, 0xff, 0xff, 0xff };
    struct weir_rd rd = weir_rd_make(sg, sizeof sg);
    assert_int_equal(kproto_syncgroup_response_decode(&rd, 3, &a, &u.sync_r), WEIR_OK);
    assert_int_equal(u.sync_r.error_code, 27);
    assert_int_equal(u.sync_r.assignment.len, 0);
    /* JoinGroup v5: throttle, error 27, generation -1, protocol null, leader
     * null, member "m", no members */
    static const uint8_t jg[] = { 0, 0, 0, 0, 0, 27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 1, 'm', 0, 0, 0, 0 };
    rd = weir_rd_make(jg, sizeof jg);
    assert_int_equal(kproto_joingroup_response_decode(&rd, 5, &a, &u.join_r), WEIR_OK);
    assert_int_equal(u.join_r.error_code, 27);
    assert_int_equal(u.join_r.protocol_name.len, 0);
    assert_int_equal(u.join_r.leader.len, 0);
    assert_true(kstr_eq(u.join_r.member_id, "m"));
    /* OffsetFetch v4: throttle, a null topics array, error 0 */
    static const uint8_t of[] = { 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0 };
    rd = weir_rd_make(of, sizeof of);
    assert_int_equal(kproto_offsetfetch_response_decode(&rd, 4, &a, &u.fetch_r), WEIR_OK);
    assert_int_equal(u.fetch_r.n_topics, 0);
    /* A length below -1 is still malformed. */
    static const uint8_t bad[] = { 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe };
    rd = weir_rd_make(bad, sizeof bad);
    assert_int_equal(kproto_syncgroup_response_decode(&rd, 3, &a, &u.sync_r), WEIR_E_INVALID);
    /* The broker direction: a SyncGroup v0 request with a null group id. */
    static const uint8_t req[] = { 0xff, 0xff, 0, 0, 0, 1, 0, 1, 'm', 0, 0, 0, 0 };
    rd = weir_rd_make(req, sizeof req);
    struct ksyncgroup_req sreq;
    assert_int_equal(kproto_syncgroup_decode(&rd, 0, &a, &sreq), WEIR_E_INVALID);
    weir_arena_destroy(&a);
}

/* ---- the consumer embedded protocol ---- */

static void cmp_topic_parts(const struct kconsumer_topic_parts *g, int32_t ng, const struct kconsumer_topic_parts *w,
                            int32_t nw)
{
    assert_int_equal(ng, nw);
    for (int32_t i = 0; i < nw; i++) {
        assert_str(g[i].topic, w[i].topic);
        assert_int_equal(g[i].n_partitions, w[i].n_partitions);
        for (int32_t j = 0; j < w[i].n_partitions; j++) assert_int_equal(g[i].partitions[j], w[i].partitions[j]);
    }
}

static void test_consumer_protocol(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    int32_t p1[] = { 0, 2, 5 }, p2[] = { 7 };
    struct kconsumer_topic_parts tp[] = { { kstr_c("orders"), p1, 3 }, { kstr_c("t"), p2, 1 }, { kstr_c("e"), NULL, 0 } };
    struct kstr topics[] = { kstr_c("orders"), kstr_c("t") };
    union anyc u;

    /* Subscription v0 and v1, user data present and null. */
    for (int16_t v = 0; v <= 1; v++) {
        for (int ud = 0; ud < 2; ud++) {
            struct kconsumer_subscription s = { v, topics, 2, ud ? BY("ud\0") : (struct kbytes){ NULL, -1 }, tp, 3 };
            kproto_consumer_subscription_encode(&b, &s);
            uint8_t *keep = decode_all(&b, d_sub, 0, &a, &u, false);
            assert_int_equal(u.sub.version, v);
            assert_int_equal(u.sub.n_topics, 2);
            assert_str(u.sub.topics[0], topics[0]);
            assert_str(u.sub.topics[1], topics[1]);
            assert_bytes(u.sub.user_data, s.user_data);
            if (v >= 1) cmp_topic_parts(u.sub.owned, u.sub.n_owned, tp, 3);
            else assert_int_equal(u.sub.n_owned, 0);
            free(keep);
        }
    }
    /* Subscription v0 exactly as Kafka writes it. */
    kproto_consumer_subscription_encode(&b, &(struct kconsumer_subscription){ 0, topics + 1, 1, { NULL, -1 }, NULL, 0 });
    static const uint8_t s0[] = { 0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(b.mem_len, sizeof s0);
    assert_memory_equal(b.mem, s0, sizeof s0);
    kbuf_reset(&b);

    /* A v3 subscription (a newer client: + generation_id, rack_id) reads as its v1 prefix. */
    kb_i16(&b, 3);
    kb_str_array(&b, false, topics, 2);
    kb_nbytes(&b, BY("u"));
    kb_array_len(&b, 1);
    kb_string(&b, kstr_c("orders"));
    kb_i32_array(&b, false, p1, 3);
    kb_i32(&b, 42);                 /* generation_id, v2+ */
    kb_nstring(&b, kstr_c("rack")); /* rack_id, v3+ */
    size_t n = b.mem_len;
    uint8_t *v3 = malloc(n);
    assert_non_null(v3);
    memcpy(v3, b.mem, n);
    kbuf_reset(&b);
    struct weir_rd rd = weir_rd_make(v3, n);
    assert_int_equal(kproto_consumer_subscription_decode(&rd, &a, &u.sub), WEIR_OK);
    assert_int_equal(u.sub.version, 3);
    assert_int_equal(u.sub.n_topics, 2);
    assert_bytes(u.sub.user_data, BY("u"));
    cmp_topic_parts(u.sub.owned, u.sub.n_owned, tp, 1);
    assert_int_equal(rd.end - rd.pos, 4 + 2 + 4); /* the v2/v3 fields, unread */
    /* ... but its v1 prefix cut anywhere is refused. */
    size_t prefix = n - 10;
    for (size_t len = 0; len < prefix; len++) {
        rd = weir_rd_make(v3, len);
        assert_int_equal(kproto_consumer_subscription_decode(&rd, &a, &u.sub), WEIR_E_TRUNCATED);
    }
    free(v3);
    /* A negative version is refused. */
    static const uint8_t neg[] = { 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
    rd = weir_rd_make(neg, sizeof neg);
    assert_int_equal(kproto_consumer_subscription_decode(&rd, &a, &u.sub), WEIR_E_INVALID);
    rd = weir_rd_make(neg, sizeof neg);
    assert_int_equal(kproto_consumer_assignment_decode(&rd, &a, &u.asg), WEIR_E_INVALID);

    /* Assignment v0 and v1 (the same fields). */
    for (int16_t v = 0; v <= 1; v++) {
        struct kconsumer_assignment s = { v, tp, 3, v ? BY("x") : (struct kbytes){ NULL, -1 } };
        kproto_consumer_assignment_encode(&b, &s);
        uint8_t *keep = decode_all(&b, d_asg, 0, &a, &u, true);
        assert_int_equal(u.asg.version, v);
        cmp_topic_parts(u.asg.partitions, u.asg.n_partitions, tp, 3);
        assert_bytes(u.asg.user_data, s.user_data);
        free(keep);
    }
    /* Assignment v0 as Kafka writes it. */
    kproto_consumer_assignment_encode(&b, &(struct kconsumer_assignment){ 0, tp + 1, 1, { NULL, -1 } });
    static const uint8_t a0[] = { 0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff };
    assert_int_equal(b.mem_len, sizeof a0);
    assert_memory_equal(b.mem, a0, sizeof a0);
    kbuf_reset(&b);
    /* A v3 assignment (same fields, maybe more after) and the empty assignment. */
    static const uint8_t a3[] = { 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0xee };
    rd = weir_rd_make(a3, sizeof a3);
    assert_int_equal(kproto_consumer_assignment_decode(&rd, &a, &u.asg), WEIR_OK);
    assert_int_equal(u.asg.version, 3);
    assert_int_equal(u.asg.n_partitions, 0);
    assert_int_equal(u.asg.user_data.len, 0);
    rd = weir_rd_make(a3, 0);
    assert_int_equal(kproto_consumer_assignment_decode(&rd, &a, &u.asg), WEIR_OK);
    assert_int_equal(u.asg.n_partitions, 0);
    assert_true(u.asg.user_data.len < 0);
    /* One byte is not an assignment. */
    rd = weir_rd_make(a3, 1);
    assert_int_equal(kproto_consumer_assignment_decode(&rd, &a, &u.asg), WEIR_E_TRUNCATED);

    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* ---- DeleteGroups (42), v0-2: both directions, byte for byte, every truncation ---- */

/* Decodes p[0, n) as a DeleteGroups request (resp false) or response at v.
 * The decoded strings borrow a copy that lives until the next call. */
static enum weir_err dg_decode(bool resp, const uint8_t *p, size_t n, int16_t v, struct weir_arena *a,
                               struct kdeletegroups_req *rq, struct kdeletegroups_resp *rs)
{
    static uint8_t *last;
    free(last);
    last = NULL;
    if (!p) return WEIR_OK; /* frees the last copy */
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
    assert_non_null(copy);
    if (n) memcpy(copy, p, n);
    struct weir_rd rd = weir_rd_make(copy, n);
    weir_arena_reset(a);
    enum weir_err err = resp ? kproto_deletegroups_response_decode(&rd, v, a, rs)
                             : kproto_deletegroups_decode(&rd, v, a, rq);
    if (err == WEIR_OK) assert_true(rd.pos == rd.end);
    last = copy;
    return err;
}

static void test_deletegroups(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kstr names[] = { kstr_c("g1"), kstr_c(""), kstr_c("group-3") };
    struct kdeletegroups_result res[] = { { kstr_c("g1"), 0 }, { kstr_c(""), 24 }, { kstr_c("group-3"), 68 } };
    static const uint8_t req0[] = { 0, 0, 0, 3, 0, 2, 'g', '1', 0, 0, 0, 7, 'g', 'r', 'o', 'u', 'p', '-', '3' };
    static const uint8_t req2[] = { 4, 3, 'g', '1', 1, 8, 'g', 'r', 'o', 'u', 'p', '-', '3', 0 };
    static const uint8_t resp0[] = { 0, 0, 0, 7, 0, 0, 0, 3, 0, 2, 'g', '1', 0, 0, 0, 0, 0, 24,
                                     0, 7, 'g', 'r', 'o', 'u', 'p', '-', '3', 0, 68 };
    static const uint8_t resp2[] = { 0, 0, 0, 7, 4, 3, 'g', '1', 0, 0, 0, 1, 0, 24, 0,
                                     8, 'g', 'r', 'o', 'u', 'p', '-', '3', 0, 68, 0, 0 };
    size_t truncations = 0;
    for (int16_t v = 0; v <= 2; v++) {
        /* client request encode -> broker decode */
        kproto_deletegroups_request_encode(&b, v, &(struct kdeletegroups_req){ names, 3 });
        assert_int_equal(b.err, WEIR_OK);
        const uint8_t *want = v < 2 ? req0 : req2;
        size_t want_len = v < 2 ? sizeof req0 : sizeof req2;
        assert_int_equal(b.mem_len, want_len);
        assert_memory_equal(b.mem, want, want_len);
        struct kdeletegroups_req rq;
        struct kdeletegroups_resp rs;
        assert_int_equal(dg_decode(false, b.mem, b.mem_len, v, &a, &rq, &rs), WEIR_OK);
        assert_int_equal(rq.n_groups, 3);
        for (int i = 0; i < 3; i++) assert_true(kstr_eq(rq.groups[i], names[i].ptr));
        for (size_t len = 0; len < b.mem_len; len++, truncations++)
            assert_int_equal(dg_decode(false, b.mem, len, v, &a, &rq, &rs), WEIR_E_TRUNCATED);
        kbuf_reset(&b);
        /* broker response encode -> client decode */
        kproto_deletegroups_encode(&b, v, &(struct kdeletegroups_resp){ 7, res, 3 });
        assert_int_equal(b.err, WEIR_OK);
        want = v < 2 ? resp0 : resp2;
        want_len = v < 2 ? sizeof resp0 : sizeof resp2;
        assert_int_equal(b.mem_len, want_len);
        assert_memory_equal(b.mem, want, want_len);
        assert_int_equal(dg_decode(true, b.mem, b.mem_len, v, &a, &rq, &rs), WEIR_OK);
        assert_int_equal(rs.throttle_time_ms, 7);
        assert_int_equal(rs.n_results, 3);
        for (int i = 0; i < 3; i++) {
            assert_true(kstr_eq(rs.results[i].group_id, res[i].group_id.ptr));
            assert_int_equal(rs.results[i].error_code, res[i].error_code);
        }
        for (size_t len = 0; len < b.mem_len; len++, truncations++)
            assert_int_equal(dg_decode(true, b.mem, len, v, &a, &rq, &rs), WEIR_E_TRUNCATED);
        kbuf_reset(&b);
        /* an empty list is legal */
        kproto_deletegroups_request_encode(&b, v, &(struct kdeletegroups_req){ NULL, 0 });
        assert_int_equal(dg_decode(false, b.mem, b.mem_len, v, &a, &rq, &rs), WEIR_OK);
        assert_int_equal(rq.n_groups, 0);
        kbuf_reset(&b);
    }
    struct kdeletegroups_req rq;
    struct kdeletegroups_resp rs;
    /* Outside the range, a count over the bytes left, a null name, a null array. */
    assert_int_equal(dg_decode(false, req2, sizeof req2, 3, &a, &rq, &rs), WEIR_E_UNSUPPORTED);
    assert_int_equal(dg_decode(true, resp2, sizeof resp2, 3, &a, &rq, &rs), WEIR_E_UNSUPPORTED);
    static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0, 1, 'g' };
    assert_int_not_equal(dg_decode(false, huge, sizeof huge, 1, &a, &rq, &rs), WEIR_OK);
    static const uint8_t null_name[] = { 0, 0, 0, 1, 0xff, 0xff };
    assert_int_equal(dg_decode(false, null_name, sizeof null_name, 0, &a, &rq, &rs), WEIR_E_INVALID);
    static const uint8_t null_array[] = { 0 }; /* compact: null */
    assert_int_not_equal(dg_decode(false, null_array, sizeof null_array, 2, &a, &rq, &rs), WEIR_OK);
    dg_decode(false, NULL, 0, 0, &a, &rq, &rs);
    print_message("DeleteGroups: %zu truncations\n", truncations);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deletegroups),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_client_direction),
        cmocka_unit_test(test_client_huge_counts),
        cmocka_unit_test(test_client_null_as_empty),
        cmocka_unit_test(test_consumer_protocol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
