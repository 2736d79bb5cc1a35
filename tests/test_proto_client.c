/* tests/test_proto_client.c: proto/, the client direction of the Kafka codec.
 * For every API at every supported version: the client's request encoder
 * against the broker's decoder, and the broker's response encoder against the
 * client's decoder, field by field; every strict prefix of every response body
 * is WEIR_E_TRUNCATED. Hand-built bytes from the schemas (ApiVersions v3,
 * Metadata v4, Produce v7, Fetch v11, both ways), request and response
 * headers, BORROW chunks and iovec gathering, counts over their maximum, and
 * a deterministic mutation fuzz loop over response bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the above first */
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "proto/proto.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

#define KS(s) { (s), (int32_t)sizeof(s) - 1 }
#define KNULL { NULL, -1 }


/* A heap copy of exactly n bytes, so ASan catches any read past the frame. */
static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

static void assert_bytes(const uint8_t *got, size_t got_n, const uint8_t *want, size_t want_n)
{
    if (got_n != want_n || memcmp(got, want, want_n) != 0) {
        print_message("got %zu bytes:", got_n);
        for (size_t i = 0; i < got_n; i++) print_message(" %02x", got[i]);
        print_message("\nwant %zu bytes:", want_n);
        for (size_t i = 0; i < want_n; i++) print_message(" %02x", want[i]);
        print_message("\n");
        fail();
    }
}

static void eq_kstr(struct kstr got, struct kstr want)
{
    if (kstr_is_null(want)) {
        assert_true(kstr_is_null(got));
        return;
    }
    assert_false(kstr_is_null(got));
    assert_int_equal(got.len, want.len);
    if (want.len > 0) assert_memory_equal(got.ptr, want.ptr, (size_t)want.len);
}

static void eq_raw(const uint8_t *got, int32_t got_len, const uint8_t *want, int32_t want_len)
{
    assert_int_equal(got_len, want_len);
    if (want_len < 0) assert_null(got);
    if (want_len > 0) assert_memory_equal(got, want, (size_t)want_len);
}

static void eq_i32s(const int32_t *got, int32_t n_got, const int32_t *want, int32_t n_want)
{
    assert_int_equal(n_got, n_want);
    for (int32_t i = 0; i < n_want; i++) assert_int_equal(got[i], want[i]);
}

/* A memfd of FILE_BYTES whose byte i is file_byte(i): Fetch's file ranges. */
enum { FILE_BYTES = 16384, FILE_ABCD_POS = 8192 };
static uint8_t file_byte(uint64_t i) { return (uint8_t)(i * 13 + 1); }
static int test_fd = -1;
static int file_fd(void)
{
    if (test_fd >= 0) return test_fd;
    test_fd = memfd_create("weir-test-proto-client", 0);
    assert_true(test_fd >= 0);
    static uint8_t content[FILE_BYTES];
    for (size_t i = 0; i < sizeof content; i++) content[i] = file_byte(i);
    memcpy(content + FILE_ABCD_POS, "abcd", 4);
    assert_int_equal(pwrite(test_fd, content, sizeof content, 0), (ssize_t)sizeof content);
    return test_fd;
}

/* The kbuf's bytes, in chunk order: memory, borrowed memory, file ranges. */
static uint8_t *flatten(const struct kbuf *b, size_t *n)
{
    assert_int_equal(b->err, WEIR_OK);
    *n = (size_t)kbuf_total_len(b);
    uint8_t *out = malloc(*n ? *n : 1);
    assert_non_null(out);
    size_t at = 0;
    for (size_t i = 0; i < kbuf_chunk_count(b); i++) {
        struct kchunk c = kbuf_chunk(b, i);
        if (c.kind == KCHUNK_FILE)
            assert_int_equal(pread(c.fd, out + at, c.len, (off_t)c.pos), (ssize_t)c.len);
        else if (c.len)
            memcpy(out + at, c.mem, c.len);
        at += c.len;
    }
    assert_int_equal(at, *n);
    return out;
}

/* Bounds of the frame under test: every borrowed pointer must fall inside. */
struct span {
    const uint8_t *lo, *hi;
};
static void in_span(const struct span *sp, const void *p, int32_t len)
{
    if (len <= 0) return;
    assert_true((const uint8_t *)p >= sp->lo && (const uint8_t *)p + len <= sp->hi);
}
static void span_str(const struct span *sp, struct kstr s) { in_span(sp, s.ptr, s.len); }

/* Reads n bytes of decoded (arena) memory so ASan sees any bad pointer. */
static void touch(const void *p, int32_t n, size_t size)
{
    if (n <= 0) return;
    assert_non_null(p);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < (size_t)n * size; i++) sink ^= ((const uint8_t *)p)[i];
    (void)sink;
}

union any_req {
    struct kapiversions_req apiversions;
    struct kmetadata_req metadata;
    struct kproduce_req produce;
    struct kfetch_req fetch;
    struct klistoffsets_req listoffsets;
    struct kcreatetopics_req createtopics;
    struct kdeletetopics_req deletetopics;
    struct kdeleterecords_req deleterecords;
    struct kcreatepartitions_req createpartitions;
    struct kdescribeconfigs_req describeconfigs;
    struct kinitproducerid_req initproducerid;
    struct kfindcoordinator_req findcoordinator;
    struct koffsetforleaderepoch_req offsetforleaderepoch;
};

union any_resp {
    struct kapiversions_client_resp apiversions; /* the broker encodes .base */
    struct kmetadata_resp metadata;
    struct kproduce_resp produce;
    struct kfetch_resp fetch;
    struct klistoffsets_resp listoffsets;
    struct kcreatetopics_resp createtopics;
    struct kdeletetopics_resp deletetopics;
    struct kdeleterecords_resp deleterecords;
    struct kcreatepartitions_resp createpartitions;
    struct kdescribeconfigs_resp describeconfigs;
    struct kinitproducerid_resp initproducerid;
    struct kfindcoordinator_resp findcoordinator;
    struct koffsetforleaderepoch_resp offsetforleaderepoch;
};

/* ======================================================================== */
/* Fixtures: per API a request and a response, varied by version, and the    */
/* checks (want = the fixture, got = decoded; absent fields get defaults).   */
/* ======================================================================== */

/* ---- ApiVersions ---- */
static void req_fill_apiversions(union any_req *r, int16_t v)
{
    (void)v; /* v0-2 send neither string */
    r->apiversions = (struct kapiversions_req){ kstr_c("weir"), kstr_c("0.1.0") };
}
static void req_check_apiversions(const union any_req *w, const union any_req *g, int16_t v)
{
    eq_kstr(g->apiversions.client_software_name, v >= 3 ? w->apiversions.client_software_name : KSTR_NULL);
    eq_kstr(g->apiversions.client_software_version, v >= 3 ? w->apiversions.client_software_version : KSTR_NULL);
}
static void resp_fill_apiversions(union any_resp *r, int16_t v)
{
    (void)v;
    r->apiversions = (struct kapiversions_client_resp){ .base = { 0, 250 } };
}
static void resp_check_apiversions(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kapiversions_client_resp *got = &g->apiversions;
    assert_int_equal(got->base.error_code, w->apiversions.base.error_code);
    assert_int_equal(got->base.throttle_time_ms, v >= 1 ? w->apiversions.base.throttle_time_ms : 0);
    size_t n_table;
    const struct kproto_api *t = kproto_api_table(&n_table);
    int32_t k = 0;
    for (size_t i = 0; i < n_table; i++) { /* the broker lists its table */
        if (t[i].min < 0) continue;
        assert_true(k < got->n_api_keys);
        assert_int_equal(got->api_keys[k].api_key, t[i].key);
        assert_int_equal(got->api_keys[k].min_version, t[i].min);
        assert_int_equal(got->api_keys[k].max_version, t[i].max);
        k++;
    }
    assert_int_equal(got->n_api_keys, k);
}
static void resp_walk_apiversions(const union any_resp *g, const struct span *sp)
{
    (void)sp;
    touch(g->apiversions.api_keys, g->apiversions.n_api_keys, sizeof *g->apiversions.api_keys);
}

/* ---- Metadata: v0 and v4 all topics (v0: an empty array), v6 none (an empty array), else two
 * (v12: one by id, name null) ---- */
static struct kstr md_names[] = { KS("orders"), KS("logs") };
static struct kstr md_names12[] = { KS("orders"), KNULL };
static struct weir_uuid md_ids[] = { { { 0 } }, { { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                                                   0xdd, 0xee, 0xff, 0x01 } } };
static void req_fill_metadata(union any_req *r, int16_t v)
{
    bool two = v != 0 && v != 4 && v != 6;
    r->metadata = (struct kmetadata_req){ .all_topics = v == 0 || v == 4, .n_topics = two ? 2 : 0,
                                          .topics = !two ? NULL : v >= 12 ? md_names12 : md_names,
                                          .topic_ids = v >= 12 ? md_ids : NULL,
                                          .allow_auto_topic_creation = v != 5,
                                          .include_cluster_authorized_operations = v == 8 || v == 10,
                                          .include_topic_authorized_operations = v == 9 || v == 11 };
}
static void req_check_metadata(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct kmetadata_req *a = &w->metadata, *b = &g->metadata;
    assert_int_equal(b->all_topics, a->all_topics);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) eq_kstr(b->topics[i], a->topics[i]);
    if (v >= 10) {
        static const struct weir_uuid zero;
        for (int32_t i = 0; i < a->n_topics; i++)
            assert_memory_equal(b->topic_ids[i].b, (a->topic_ids ? &a->topic_ids[i] : &zero)->b, 16);
    } else {
        assert_null(b->topic_ids);
    }
    assert_int_equal(b->allow_auto_topic_creation, a->allow_auto_topic_creation);
    assert_int_equal(b->include_cluster_authorized_operations,
                     v >= 8 && v <= 10 && a->include_cluster_authorized_operations);
    assert_int_equal(b->include_topic_authorized_operations, v >= 8 && a->include_topic_authorized_operations);
}
static const int32_t md_r12[] = { 1, 2 }, md_r2[] = { 2 };
static const struct kmetadata_broker md_brokers[] = { { 1, KS("host-a"), 9092, KS("r1") },
                                                      { 2, KS("host-b"), 19092, KNULL } };
static const struct kmetadata_part md_parts[] = {
    { 0, 0, 1, md_r12, 2, md_r12, 2, NULL, 0, 7 },
    { 9, 1, 2, md_r12, 2, md_r2, 1, md_r12 + 0, 1, -1 },
};
static const struct kmetadata_topic md_topics[] = {
    { 0, KS("orders"), false, md_parts, 2, { { 0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xcd } }, 0x1f8 },
    { 3, KS("missing"), true, NULL, 0, { { 0 } }, KPROTO_AUTHORIZED_OPS_NONE },
};
static const struct kmetadata_topic md_topics12[] = { /* v12: an unknown id has a null name */
    { 0, KS("orders"), false, md_parts, 2, { { 0xab, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xcd } }, 0x1f8 },
    { 100, KNULL, false, NULL, 0, { { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
                                      0xff, 0x01 } }, KPROTO_AUTHORIZED_OPS_NONE },
};
static void resp_fill_metadata(union any_resp *r, int16_t v)
{
    r->metadata = (struct kmetadata_resp){ 17, md_brokers, 2, v == 5 ? (struct kstr)KNULL : kstr_c("weir-cluster"),
                                           1, v >= 12 ? md_topics12 : md_topics, 2,
                                           v == 9 ? 0xfff : KPROTO_AUTHORIZED_OPS_NONE };
}
static void resp_check_metadata(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kmetadata_resp *a = &w->metadata, *b = &g->metadata;
    assert_int_equal(b->throttle_time_ms, v >= 3 ? a->throttle_time_ms : 0);
    assert_int_equal(b->n_brokers, a->n_brokers);
    for (int32_t i = 0; i < a->n_brokers; i++) {
        assert_int_equal(b->brokers[i].node_id, a->brokers[i].node_id);
        eq_kstr(b->brokers[i].host, a->brokers[i].host);
        assert_int_equal(b->brokers[i].port, a->brokers[i].port);
        eq_kstr(b->brokers[i].rack, v >= 1 ? a->brokers[i].rack : (struct kstr)KNULL);
    }
    eq_kstr(b->cluster_id, v >= 2 ? a->cluster_id : (struct kstr)KNULL);
    assert_int_equal(b->controller_id, v >= 1 ? a->controller_id : -1);
    assert_int_equal(b->cluster_authorized_operations,
                     v >= 8 && v <= 10 ? a->cluster_authorized_operations : KPROTO_AUTHORIZED_OPS_NONE);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        const struct kmetadata_topic *ta = &a->topics[i], *tb = &b->topics[i];
        static const struct weir_uuid zero;
        assert_int_equal(tb->error_code, ta->error_code);
        eq_kstr(tb->name, ta->name);
        assert_memory_equal(tb->topic_id.b, (v >= 10 ? &ta->topic_id : &zero)->b, 16);
        assert_int_equal(tb->topic_authorized_operations,
                         v >= 8 ? ta->topic_authorized_operations : KPROTO_AUTHORIZED_OPS_NONE);
        assert_int_equal(tb->is_internal, v >= 1 && ta->is_internal);
        assert_int_equal(tb->n_partitions, ta->n_partitions);
        for (int32_t j = 0; j < ta->n_partitions; j++) {
            const struct kmetadata_part *pa = &ta->partitions[j], *pb = &tb->partitions[j];
            assert_int_equal(pb->error_code, pa->error_code);
            assert_int_equal(pb->partition_index, pa->partition_index);
            assert_int_equal(pb->leader_id, pa->leader_id);
            assert_int_equal(pb->leader_epoch, v >= 7 ? pa->leader_epoch : -1);
            eq_i32s(pb->replicas, pb->n_replicas, pa->replicas, pa->n_replicas);
            eq_i32s(pb->isr, pb->n_isr, pa->isr, pa->n_isr);
            eq_i32s(pb->offline, pb->n_offline, pa->offline, v >= 5 ? pa->n_offline : 0);
        }
    }
}
static void resp_walk_metadata(const union any_resp *g, const struct span *sp)
{
    const struct kmetadata_resp *m = &g->metadata;
    touch(m->brokers, m->n_brokers, sizeof *m->brokers);
    for (int32_t i = 0; i < m->n_brokers; i++) span_str(sp, m->brokers[i].host), span_str(sp, m->brokers[i].rack);
    span_str(sp, m->cluster_id);
    touch(m->topics, m->n_topics, sizeof *m->topics);
    for (int32_t i = 0; i < m->n_topics; i++) {
        span_str(sp, m->topics[i].name);
        touch(m->topics[i].partitions, m->topics[i].n_partitions, sizeof *m->topics[i].partitions);
        for (int32_t j = 0; j < m->topics[i].n_partitions; j++) {
            const struct kmetadata_part *p = &m->topics[i].partitions[j];
            touch(p->replicas, p->n_replicas, 4);
            touch(p->isr, p->n_isr, 4);
            touch(p->offline, p->n_offline, 4);
        }
    }
}

/* ---- Produce: records, null records, empty records ---- */
static uint8_t pr_batch[97];
static struct kproduce_req_part pr_parts0[] = { { 0, pr_batch, sizeof pr_batch }, { 1, NULL, -1 } };
static struct kproduce_req_part pr_parts1[] = { { 3, pr_batch, 0 } };
static struct kproduce_req_topic pr_topics[] = { { KS("orders"), pr_parts0, 2 }, { KS("logs"), pr_parts1, 1 } };
static void req_fill_produce(union any_req *r, int16_t v)
{
    for (size_t i = 0; i < sizeof pr_batch; i++) pr_batch[i] = (uint8_t)(i * 7 + 3);
    r->produce = (struct kproduce_req){ kstr_c(v == 7 ? "txn-1" : "txn-x"), (int16_t)(v % 2 ? 1 : -1),
                                        30000, pr_topics, 2 };
    if (v == 4) r->produce.transactional_id = KSTR_NULL;
}
static void req_check_produce(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct kproduce_req *a = &w->produce, *b = &g->produce;
    eq_kstr(b->transactional_id, v >= 3 ? a->transactional_id : KSTR_NULL);
    assert_int_equal(b->acks, a->acks);
    assert_int_equal(b->timeout_ms, a->timeout_ms);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].name, a->topics[i].name);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct kproduce_req_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->index, pa->index);
            eq_raw(pb->records, pb->records_len, pa->records, pa->records_len);
        }
    }
}
static const struct kproduce_record_error pr_rerrors[] = { { 3, KS("bad key") }, { 7, { NULL, -1 } } };
static const struct kproduce_resp_part pr_rparts0[] = {
    { 0, 0, 100, 1700000000000, 5, NULL, 0, { NULL, -1 } },
    { 1, 87, -1, -1, -1, pr_rerrors, 2, KS("2 records invalid") },
};
static const struct kproduce_resp_part pr_rparts1[] = { { 3, 0, 0, -1, 0, NULL, 0, KS("") } };
static const struct kproduce_resp_topic pr_rtopics[] = { { KS("orders"), pr_rparts0, 2 },
                                                         { KS("logs"), pr_rparts1, 1 } };
static void resp_fill_produce(union any_resp *r, int16_t v)
{
    (void)v;
    r->produce = (struct kproduce_resp){ pr_rtopics, 2, 33 };
}
static void resp_check_produce(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kproduce_resp *a = &w->produce, *b = &g->produce;
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].name, a->topics[i].name);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct kproduce_resp_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->index, pa->index);
            assert_int_equal(pb->error_code, pa->error_code);
            assert_int_equal(pb->base_offset, pa->base_offset);
            assert_int_equal(pb->log_append_time_ms, v >= 2 ? pa->log_append_time_ms : -1);
            assert_int_equal(pb->log_start_offset, v >= 5 ? pa->log_start_offset : -1);
            assert_int_equal(pb->n_record_errors, v >= 8 ? pa->n_record_errors : 0);
            for (int32_t k = 0; k < pb->n_record_errors; k++) {
                assert_int_equal(pb->record_errors[k].batch_index, pa->record_errors[k].batch_index);
                eq_kstr(pb->record_errors[k].message, pa->record_errors[k].message);
            }
            if (v >= 8) eq_kstr(pb->error_message, pa->error_message);
        }
    }
    assert_int_equal(b->throttle_time_ms, v >= 1 ? a->throttle_time_ms : 0);
}
static void resp_walk_produce(const union any_resp *g, const struct span *sp)
{
    const struct kproduce_resp *r = &g->produce;
    touch(r->topics, r->n_topics, sizeof *r->topics);
    for (int32_t i = 0; i < r->n_topics; i++) {
        span_str(sp, r->topics[i].name);
        touch(r->topics[i].partitions, r->topics[i].n_partitions, sizeof *r->topics[i].partitions);
    }
}

/* ---- Fetch: two topics, forgotten topics (v7+), rack (v11+) ---- */
static struct kfetch_req_part fe_parts0[] = { { 0, 5, 100, 4, 7, 1 << 20 }, { 2, 6, 0, -1, 0, 65536 } };
static struct kfetch_req_part fe_parts1[] = { { 1, -1, 12345678901, 9, -1, 1 } };
static struct kfetch_req_topic fe_topics[] = { { KS("orders"), fe_parts0, 2, { { 1, 2, 3 } } },
                                               { KS("logs"), fe_parts1, 1, { { 0xff, [15] = 9 } } } };
static int32_t fe_forgot_parts[] = { 1, 2 };
static struct kfetch_forgotten fe_forgotten[] = { { KS("old"), fe_forgot_parts, 2, { { 4 } } },
                                                  { KS("older"), NULL, 0, { { 5 } } } };
static void req_fill_fetch(union any_req *r, int16_t v)
{
    (void)v;
    r->fetch = (struct kfetch_req){ -1, 500, 1, 52428800, 1, 77, 3, fe_topics, 2, fe_forgotten, 2, kstr_c("rack-a") };
}
/* v13+ names a topic by id (the decoded name is empty), before by name. */
static void fetch_eq_topic(struct kstr got, const struct weir_uuid *got_id, struct kstr want,
                           const struct weir_uuid *want_id, int16_t v)
{
    eq_kstr(got, v >= 13 ? kstr_c("") : want);
    if (v >= 13) assert_memory_equal(got_id->b, want_id->b, 16);
    else assert_true(weir_uuid_is_zero(got_id));
}
static void req_check_fetch(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct kfetch_req *a = &w->fetch, *b = &g->fetch;
    assert_int_equal(b->replica_id, a->replica_id);
    assert_int_equal(b->max_wait_ms, a->max_wait_ms);
    assert_int_equal(b->min_bytes, a->min_bytes);
    assert_int_equal(b->max_bytes, v >= 3 ? a->max_bytes : INT32_MAX);
    assert_int_equal(b->isolation_level, v >= 4 ? a->isolation_level : 0);
    assert_int_equal(b->session_id, v >= 7 ? a->session_id : 0);
    assert_int_equal(b->session_epoch, v >= 7 ? a->session_epoch : -1);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        fetch_eq_topic(b->topics[i].topic, &b->topics[i].topic_id, a->topics[i].topic, &a->topics[i].topic_id, v);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct kfetch_req_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->partition, pa->partition);
            assert_int_equal(pb->current_leader_epoch, v >= 9 ? pa->current_leader_epoch : -1);
            assert_int_equal(pb->fetch_offset, pa->fetch_offset);
            assert_int_equal(pb->last_fetched_epoch, v >= 12 ? pa->last_fetched_epoch : -1);
            assert_int_equal(pb->log_start_offset, v >= 5 ? pa->log_start_offset : -1);
            assert_int_equal(pb->partition_max_bytes, pa->partition_max_bytes);
        }
    }
    assert_int_equal(b->n_forgotten, v >= 7 ? a->n_forgotten : 0);
    for (int32_t i = 0; i < b->n_forgotten; i++) {
        fetch_eq_topic(b->forgotten[i].topic, &b->forgotten[i].topic_id, a->forgotten[i].topic,
                       &a->forgotten[i].topic_id, v);
        eq_i32s(b->forgotten[i].partitions, b->forgotten[i].n_partitions, a->forgotten[i].partitions,
                a->forgotten[i].n_partitions);
    }
    eq_kstr(b->rack_id, v >= 11 ? a->rack_id : kstr_c(""));
}
static struct kfile_range fe_ranges[2];
static const struct kfetch_aborted fe_aborted[] = { { 77, 10 }, { 78, 12 } };
static struct kfetch_resp_part fe_rparts0[2];
static struct kfetch_resp_part fe_rparts1[1];
static const struct kfetch_resp_topic fe_rtopics[] = { { KS("orders"), fe_rparts0, 2, { { 1, 2, 3 } } },
                                                       { KS("logs"), fe_rparts1, 1, { { 0xff, [15] = 9 } } } };
static void resp_fill_fetch(union any_resp *r, int16_t v)
{
    (void)v;
    int fd = file_fd();
    fe_ranges[0] = (struct kfile_range){ fd, 100, 61, NULL };
    fe_ranges[1] = (struct kfile_range){ fd, 1000, 70, NULL };
    fe_rparts0[0] = (struct kfetch_resp_part){ 0, 0, 200, 190, 3, NULL, -1, 2, fe_ranges, 2, { NULL, 0 }, false, 0, 0 };
    fe_rparts0[1] = (struct kfetch_resp_part){ 1, 1, 10, 10, 0, fe_aborted, 2, -1, NULL, 0, { NULL, 0 }, v >= 12, 3, 77 };
    fe_rparts1[0] =
        (struct kfetch_resp_part){ 4, 0, 5, 5, 5, fe_aborted, 0, -1, fe_ranges + 1, 1, { NULL, 0 }, false, 0, 0 };
    r->fetch = (struct kfetch_resp){ 12, 0, 42, fe_rtopics, 2 };
    if (v >= 7) r->fetch.error_code = 1; /* decoded as 0 before v7 */
}
static void check_record_set(struct kbytes got, const struct kfetch_resp_part *want)
{
    assert_int_equal(got.len >= 0, true); /* never null from the broker */
    assert_null(want->record_set.ptr);
    int32_t at = 0;
    for (int32_t i = 0; i < want->n_records; i++)
        for (uint32_t k = 0; k < want->records[i].len; k++, at++) {
            assert_true(at < got.len);
            assert_int_equal(got.ptr[at], file_byte(want->records[i].pos + k));
        }
    assert_int_equal(got.len, at);
}
static void resp_check_fetch(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kfetch_resp *a = &w->fetch, *b = &g->fetch;
    assert_int_equal(b->throttle_time_ms, v >= 1 ? a->throttle_time_ms : 0);
    assert_int_equal(b->error_code, v >= 7 ? a->error_code : 0);
    assert_int_equal(b->session_id, v >= 7 ? a->session_id : 0);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        fetch_eq_topic(b->topics[i].topic, &b->topics[i].topic_id, a->topics[i].topic, &a->topics[i].topic_id, v);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct kfetch_resp_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->partition_index, pa->partition_index);
            assert_int_equal(pb->error_code, pa->error_code);
            assert_int_equal(pb->high_watermark, pa->high_watermark);
            assert_int_equal(pb->last_stable_offset, v >= 4 ? pa->last_stable_offset : -1);
            assert_int_equal(pb->log_start_offset, v >= 5 ? pa->log_start_offset : -1);
            assert_int_equal(pb->n_aborted, v >= 4 ? pa->n_aborted : -1);
            for (int32_t k = 0; k < pb->n_aborted; k++) {
                assert_int_equal(pb->aborted[k].producer_id, pa->aborted[k].producer_id);
                assert_int_equal(pb->aborted[k].first_offset, pa->aborted[k].first_offset);
            }
            assert_int_equal(pb->preferred_read_replica, v >= 11 ? pa->preferred_read_replica : -1);
            assert_int_equal(pb->diverging, pa->diverging); /* set only from v12 */
            if (pa->diverging) {
                assert_int_equal(pb->diverging_epoch, pa->diverging_epoch);
                assert_int_equal(pb->diverging_end_offset, pa->diverging_end_offset);
            }
            assert_null(pb->records);
            assert_int_equal(pb->n_records, 0);
            check_record_set(pb->record_set, pa);
        }
    }
}
static void resp_walk_fetch(const union any_resp *g, const struct span *sp)
{
    const struct kfetch_resp *r = &g->fetch;
    touch(r->topics, r->n_topics, sizeof *r->topics);
    for (int32_t i = 0; i < r->n_topics; i++) {
        span_str(sp, r->topics[i].topic);
        touch(r->topics[i].partitions, r->topics[i].n_partitions, sizeof *r->topics[i].partitions);
        for (int32_t j = 0; j < r->topics[i].n_partitions; j++) {
            const struct kfetch_resp_part *p = &r->topics[i].partitions[j];
            touch(p->aborted, p->n_aborted, sizeof *p->aborted);
            in_span(sp, p->record_set.ptr, p->record_set.len);
        }
    }
}

/* ---- ListOffsets ---- */
static struct klistoffsets_req_part lo_parts0[] = { { 0, -1, 3, 1 }, { 1, -2, -1, 4 } };
static struct klistoffsets_req_part lo_parts1[] = { { 5, 1700000000000, 12, 1 } };
static struct klistoffsets_req_topic lo_topics[] = { { KS("t"), lo_parts0, 2 }, { KS("u"), lo_parts1, 1 } };
static void req_fill_listoffsets(union any_req *r, int16_t v)
{
    r->listoffsets = (struct klistoffsets_req){ -1, (int8_t)(v == 3), lo_topics, 2 };
}
static void req_check_listoffsets(const union any_req *w, const union any_req *g, int16_t v)
{
    (void)v;
    const struct klistoffsets_req *a = &w->listoffsets, *b = &g->listoffsets;
    assert_int_equal(b->replica_id, a->replica_id);
    assert_int_equal(b->isolation_level, v >= 2 ? a->isolation_level : 0);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].name, a->topics[i].name);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            assert_int_equal(b->topics[i].partitions[j].partition_index, a->topics[i].partitions[j].partition_index);
            assert_int_equal(b->topics[i].partitions[j].timestamp, a->topics[i].partitions[j].timestamp);
            assert_int_equal(b->topics[i].partitions[j].max_num_offsets,
                             v == 0 ? a->topics[i].partitions[j].max_num_offsets : 1);
            assert_int_equal(b->topics[i].partitions[j].current_leader_epoch,
                             v >= 4 ? a->topics[i].partitions[j].current_leader_epoch : -1);
        }
    }
}
static const int64_t lo_old[] = { 42, 7 };
static const struct klistoffsets_resp_part lo_rparts[] = { { 0, 0, -1, 42, 5, lo_old, 2 },
                                                           { 1, 6, -1, -1, -1, NULL, 0 } };
static const struct klistoffsets_resp_topic lo_rtopics[] = { { KS("t"), lo_rparts, 2 }, { KS("u"), NULL, 0 } };
static void resp_fill_listoffsets(union any_resp *r, int16_t v)
{
    (void)v;
    r->listoffsets = (struct klistoffsets_resp){ 4, lo_rtopics, 2 };
}
static void resp_check_listoffsets(const union any_resp *w, const union any_resp *g, int16_t v)
{
    (void)v;
    const struct klistoffsets_resp *a = &w->listoffsets, *b = &g->listoffsets;
    assert_int_equal(b->throttle_time_ms, v >= 2 ? a->throttle_time_ms : 0);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].name, a->topics[i].name);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct klistoffsets_resp_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->partition_index, pa->partition_index);
            assert_int_equal(pb->error_code, pa->error_code);
            assert_int_equal(pb->timestamp, v >= 1 ? pa->timestamp : -1);
            assert_int_equal(pb->offset, pa->offset);
            /* v0 sends old_style_offsets when set (their first is the offset here), else [offset] or [] */
            int32_t n_old = v >= 1 ? 0 : pa->old_style_offsets ? pa->n_old_style_offsets : pa->offset >= 0;
            assert_int_equal(pb->n_old_style_offsets, n_old);
            for (int32_t k = 0; k < n_old; k++)
                assert_int_equal(pb->old_style_offsets[k], pa->old_style_offsets ? pa->old_style_offsets[k] : pa->offset);
            assert_int_equal(pb->leader_epoch, v >= 4 ? pa->leader_epoch : -1);
        }
    }
}
static void resp_walk_listoffsets(const union any_resp *g, const struct span *sp)
{
    const struct klistoffsets_resp *r = &g->listoffsets;
    touch(r->topics, r->n_topics, sizeof *r->topics);
    for (int32_t i = 0; i < r->n_topics; i++) {
        span_str(sp, r->topics[i].name);
        touch(r->topics[i].partitions, r->topics[i].n_partitions, sizeof *r->topics[i].partitions);
    }
}

/* ---- CreateTopics ---- */
static struct kconfig_entry ct_configs[] = { { KS("retention.ms"), KS("1000") }, { KS("cleanup.policy"), KNULL } };
static int32_t ct_b12[] = { 1, 2 }, ct_b2[] = { 2 };
static struct kcreatetopics_assignment ct_assign[] = { { 0, ct_b12, 2 }, { 1, ct_b2, 1 } };
static struct kcreatetopics_req_topic ct_topics[] = {
    { KS("a"), 3, 1, NULL, 0, ct_configs, 2 },
    { KS("b"), -1, -1, ct_assign, 2, NULL, 0 },
};
static void req_fill_createtopics(union any_req *r, int16_t v)
{
    r->createtopics = (struct kcreatetopics_req){ ct_topics, 2, 30000, v % 2 == 0 };
}
static void req_check_createtopics(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct kcreatetopics_req *a = &w->createtopics, *b = &g->createtopics;
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        const struct kcreatetopics_req_topic *ta = &a->topics[i], *tb = &b->topics[i];
        eq_kstr(tb->name, ta->name);
        assert_int_equal(tb->num_partitions, ta->num_partitions);
        assert_int_equal(tb->replication_factor, ta->replication_factor);
        assert_int_equal(tb->n_assignments, ta->n_assignments);
        for (int32_t j = 0; j < ta->n_assignments; j++) {
            assert_int_equal(tb->assignments[j].partition_index, ta->assignments[j].partition_index);
            eq_i32s(tb->assignments[j].broker_ids, tb->assignments[j].n_broker_ids, ta->assignments[j].broker_ids,
                    ta->assignments[j].n_broker_ids);
        }
        assert_int_equal(tb->n_configs, ta->n_configs);
        for (int32_t j = 0; j < ta->n_configs; j++) {
            eq_kstr(tb->configs[j].name, ta->configs[j].name);
            eq_kstr(tb->configs[j].value, ta->configs[j].value);
        }
    }
    assert_int_equal(b->timeout_ms, a->timeout_ms);
    assert_int_equal(b->validate_only, v >= 1 && a->validate_only);
}
static const struct ktopic_result ct_results[] = { { KS("a"), 0, KNULL }, { KS("b"), 36, KS("exists") } };
static const struct kdescribeconfigs_config ct_rcfg[] = {
    { .name = KS("retention.ms"), .value = KS("1000"), .config_source = 1 },
    { .name = KS("cleanup.policy"), .value = KNULL, .read_only = true, .config_source = 5, .is_sensitive = true },
};
static const struct kcreatetopics_detail ct_details[] = {
    { { { 0x5a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0xa5 } }, 3, 1, ct_rcfg, 2 },
    { { { 0 } }, -1, -1, NULL, -1 },
};
static void resp_fill_createtopics(union any_resp *r, int16_t v)
{
    r->createtopics = (struct kcreatetopics_resp){ 5, ct_results, 2, v % 2 ? ct_details : NULL };
}
static void check_results(const struct ktopic_result *got, int32_t n_got, const struct ktopic_result *want,
                          int32_t n_want, bool with_message)
{
    assert_int_equal(n_got, n_want);
    for (int32_t i = 0; i < n_want; i++) {
        eq_kstr(got[i].name, want[i].name);
        assert_int_equal(got[i].error_code, want[i].error_code);
        eq_kstr(got[i].error_message, with_message ? want[i].error_message : KSTR_NULL);
    }
}
static void walk_results(const struct ktopic_result *r, int32_t n, const struct span *sp)
{
    touch(r, n, sizeof *r);
    for (int32_t i = 0; i < n; i++) span_str(sp, r[i].name), span_str(sp, r[i].error_message);
}
static void resp_check_createtopics(const union any_resp *w, const union any_resp *g, int16_t v)
{
    assert_int_equal(g->createtopics.throttle_time_ms, v >= 2 ? w->createtopics.throttle_time_ms : 0);
    check_results(g->createtopics.topics, g->createtopics.n_topics, w->createtopics.topics, w->createtopics.n_topics,
                  v >= 1);
    if (v < 5) {
        assert_null(g->createtopics.details);
        return;
    }
    static const struct kcreatetopics_detail none = { .num_partitions = -1, .replication_factor = -1, .n_configs = -1 };
    static const struct weir_uuid zero;
    for (int32_t i = 0; i < w->createtopics.n_topics; i++) {
        const struct kcreatetopics_detail *a = w->createtopics.details ? &w->createtopics.details[i] : &none,
                                          *b = &g->createtopics.details[i];
        assert_memory_equal(b->topic_id.b, (v >= 7 ? &a->topic_id : &zero)->b, 16);
        assert_int_equal(b->num_partitions, a->num_partitions);
        assert_int_equal(b->replication_factor, a->replication_factor);
        assert_int_equal(b->n_configs, a->n_configs);
        for (int32_t j = 0; j < a->n_configs; j++) {
            eq_kstr(b->configs[j].name, a->configs[j].name);
            eq_kstr(b->configs[j].value, a->configs[j].value);
            assert_int_equal(b->configs[j].read_only, a->configs[j].read_only);
            assert_int_equal(b->configs[j].config_source, a->configs[j].config_source);
            assert_int_equal(b->configs[j].is_sensitive, a->configs[j].is_sensitive);
        }
    }
}
static void resp_walk_createtopics(const union any_resp *g, const struct span *sp)
{
    walk_results(g->createtopics.topics, g->createtopics.n_topics, sp);
}

/* ---- DeleteTopics ---- */
/* v6: the third by id (null name) */
static struct kstr dt_names[] = { KS("a"), KS("b"), KS("c") }, dt_names6[] = { KS("a"), KS("b"), KNULL };
static struct weir_uuid dt_ids[] = { { { 0 } }, { { 0 } }, { { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8 } } };
static void req_fill_deletetopics(union any_req *r, int16_t v)
{
    r->deletetopics = (struct kdeletetopics_req){ .topic_names = v >= 6 ? dt_names6 : dt_names,
                                                  .n_topic_names = v ? 3 : 1, .timeout_ms = 1000,
                                                  .topic_ids = v >= 6 ? dt_ids : NULL };
}
static void req_check_deletetopics(const union any_req *w, const union any_req *g, int16_t v)
{
    assert_int_equal(g->deletetopics.n_topic_names, w->deletetopics.n_topic_names);
    for (int32_t i = 0; i < w->deletetopics.n_topic_names; i++) {
        eq_kstr(g->deletetopics.topic_names[i], w->deletetopics.topic_names[i]);
        if (v >= 6) assert_memory_equal(g->deletetopics.topic_ids[i].b, dt_ids[i].b, 16);
    }
    if (v < 6) assert_null(g->deletetopics.topic_ids);
    assert_int_equal(g->deletetopics.timeout_ms, w->deletetopics.timeout_ms);
}
static const struct ktopic_result dt_results[] = { { KS("a"), 0, KNULL }, { KS("b"), 3, KS("not sent before v5") } };
static const struct ktopic_result dt_results6[] = { { KS("a"), 0, KNULL }, { KNULL, 100, KS("no topic has this id") } };
static const struct weir_uuid dt_rids[] = { { { 0 } }, { { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8 } } };
static void resp_fill_deletetopics(union any_resp *r, int16_t v)
{
    r->deletetopics = (struct kdeletetopics_resp){ 5, v >= 6 ? dt_results6 : dt_results, 2, v >= 6 ? dt_rids : NULL };
}
static void resp_check_deletetopics(const union any_resp *w, const union any_resp *g, int16_t v)
{
    assert_int_equal(g->deletetopics.throttle_time_ms, v >= 1 ? w->deletetopics.throttle_time_ms : 0);
    check_results(g->deletetopics.responses, g->deletetopics.n_responses, w->deletetopics.responses,
                  w->deletetopics.n_responses, v >= 5);
    for (int32_t i = 0; v >= 6 && i < w->deletetopics.n_responses; i++)
        assert_memory_equal(g->deletetopics.topic_ids[i].b, dt_rids[i].b, 16);
    if (v < 6) assert_null(g->deletetopics.topic_ids);
}
static void resp_walk_deletetopics(const union any_resp *g, const struct span *sp)
{
    walk_results(g->deletetopics.responses, g->deletetopics.n_responses, sp);
}

/* ---- DeleteRecords: two topics, one with no partitions; -1 and an error ---- */
static struct kdeleterecords_req_part dr_parts[] = { { 0, 42 }, { 5, KPROTO_DELETE_RECORDS_HW } };
static struct kdeleterecords_req_topic dr_topics[] = { { KS("a"), dr_parts, 2 }, { KS("b"), NULL, 0 } };
static void req_fill_deleterecords(union any_req *r, int16_t v)
{
    r->deleterecords = (struct kdeleterecords_req){ dr_topics, v ? 2 : 1, 2500 };
}
static void req_check_deleterecords(const union any_req *w, const union any_req *g, int16_t v)
{
    (void)v;
    assert_int_equal(g->deleterecords.n_topics, w->deleterecords.n_topics);
    for (int32_t i = 0; i < w->deleterecords.n_topics; i++) {
        const struct kdeleterecords_req_topic *wt = &w->deleterecords.topics[i], *gt = &g->deleterecords.topics[i];
        eq_kstr(gt->name, wt->name);
        assert_int_equal(gt->n_partitions, wt->n_partitions);
        for (int32_t j = 0; j < wt->n_partitions; j++) {
            assert_int_equal(gt->partitions[j].partition_index, wt->partitions[j].partition_index);
            assert_int_equal(gt->partitions[j].offset, wt->partitions[j].offset);
        }
    }
    assert_int_equal(g->deleterecords.timeout_ms, w->deleterecords.timeout_ms);
}
static struct kdeleterecords_resp_part drr_parts[] = { { 0, 42, 0 }, { 5, KPROTO_INVALID_LOW_WATERMARK, 1 } };
static struct kdeleterecords_resp_topic drr_topics[] = { { KS("a"), drr_parts, 2 }, { KS("b"), NULL, 0 } };
static void resp_fill_deleterecords(union any_resp *r, int16_t v)
{
    r->deleterecords = (struct kdeleterecords_resp){ 9, drr_topics, v == 2 ? 1 : 2 };
}
static void resp_check_deleterecords(const union any_resp *w, const union any_resp *g, int16_t v)
{
    (void)v;
    assert_int_equal(g->deleterecords.throttle_time_ms, w->deleterecords.throttle_time_ms);
    assert_int_equal(g->deleterecords.n_topics, w->deleterecords.n_topics);
    for (int32_t i = 0; i < w->deleterecords.n_topics; i++) {
        const struct kdeleterecords_resp_topic *wt = &w->deleterecords.topics[i], *gt = &g->deleterecords.topics[i];
        eq_kstr(gt->name, wt->name);
        assert_int_equal(gt->n_partitions, wt->n_partitions);
        for (int32_t j = 0; j < wt->n_partitions; j++) {
            assert_int_equal(gt->partitions[j].partition_index, wt->partitions[j].partition_index);
            assert_int_equal(gt->partitions[j].low_watermark, wt->partitions[j].low_watermark);
            assert_int_equal(gt->partitions[j].error_code, wt->partitions[j].error_code);
        }
    }
}
static void resp_walk_deleterecords(const union any_resp *g, const struct span *sp)
{
    for (int32_t i = 0; i < g->deleterecords.n_topics; i++) {
        span_str(sp, g->deleterecords.topics[i].name);
        touch(g->deleterecords.topics[i].partitions, g->deleterecords.topics[i].n_partitions,
              sizeof *g->deleterecords.topics[i].partitions);
    }
}

/* ---- CreatePartitions: null and present assignments ---- */
static int32_t cp_b1[] = { 1 }, cp_b12[] = { 1, 2 };
static struct kcreatepartitions_assignment cp_assign[] = { { cp_b1, 1 }, { cp_b12, 2 } };
static struct kcreatepartitions_req_topic cp_topics[] = { { KS("a"), 4, NULL, -1 }, { KS("b"), 3, cp_assign, 2 } };
static void req_fill_createpartitions(union any_req *r, int16_t v)
{
    r->createpartitions = (struct kcreatepartitions_req){ cp_topics, 2, 100, v % 2 == 1 };
}
static void req_check_createpartitions(const union any_req *w, const union any_req *g, int16_t v)
{
    (void)v;
    const struct kcreatepartitions_req *a = &w->createpartitions, *b = &g->createpartitions;
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].name, a->topics[i].name);
        assert_int_equal(b->topics[i].count, a->topics[i].count);
        assert_int_equal(b->topics[i].n_assignments, a->topics[i].n_assignments);
        for (int32_t j = 0; j < a->topics[i].n_assignments; j++)
            eq_i32s(b->topics[i].assignments[j].broker_ids, b->topics[i].assignments[j].n_broker_ids,
                    a->topics[i].assignments[j].broker_ids, a->topics[i].assignments[j].n_broker_ids);
    }
    assert_int_equal(b->timeout_ms, a->timeout_ms);
    assert_int_equal(b->validate_only, a->validate_only);
}
static const struct ktopic_result cp_results[] = { { KS("a"), 0, KNULL }, { KS("b"), 37, KS("too few") } };
static void resp_fill_createpartitions(union any_resp *r, int16_t v)
{
    (void)v;
    r->createpartitions = (struct kcreatepartitions_resp){ 6, cp_results, 2 };
}
static void resp_check_createpartitions(const union any_resp *w, const union any_resp *g, int16_t v)
{
    (void)v;
    assert_int_equal(g->createpartitions.throttle_time_ms, w->createpartitions.throttle_time_ms);
    check_results(g->createpartitions.results, g->createpartitions.n_results, w->createpartitions.results,
                  w->createpartitions.n_results, true);
}
static void resp_walk_createpartitions(const union any_resp *g, const struct span *sp)
{
    walk_results(g->createpartitions.results, g->createpartitions.n_results, sp);
}

/* ---- DescribeConfigs: all keys (null), two keys, none (empty) ---- */
static struct kstr dc_keys[] = { KS("log.retention.ms"), KS("num.partitions") };
static struct kdescribeconfigs_resource dc_res[] = {
    { KRESOURCE_TOPIC, KS("orders"), NULL, -1 },
    { KRESOURCE_BROKER, KS("0"), dc_keys, 2 },
    { KRESOURCE_TOPIC, KS("x"), NULL, 0 },
};
static void req_fill_describeconfigs(union any_req *r, int16_t v)
{
    r->describeconfigs = (struct kdescribeconfigs_req){ dc_res, 3, v == 2 || v == 4, v >= 3 };
}
static void req_check_describeconfigs(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct kdescribeconfigs_req *a = &w->describeconfigs, *b = &g->describeconfigs;
    assert_int_equal(b->n_resources, a->n_resources);
    for (int32_t i = 0; i < a->n_resources; i++) {
        assert_int_equal(b->resources[i].resource_type, a->resources[i].resource_type);
        eq_kstr(b->resources[i].resource_name, a->resources[i].resource_name);
        assert_int_equal(b->resources[i].n_config_keys, a->resources[i].n_config_keys);
        for (int32_t j = 0; j < a->resources[i].n_config_keys; j++)
            eq_kstr(b->resources[i].config_keys[j], a->resources[i].config_keys[j]);
    }
    assert_int_equal(b->include_synonyms, v >= 1 && a->include_synonyms);
    assert_int_equal(b->include_documentation, v >= 3 && a->include_documentation);
}
static const struct kdescribeconfigs_synonym dc_syn[] = { { KS("log.retention.ms"), KS("1000"), 5 },
                                                          { KS("log.retention.hours"), KNULL, 4 } };
static const struct kdescribeconfigs_config dc_cfg[] = {
    { KS("retention.ms"), KS("1000"), false, 1, false, dc_syn, 2, KCONFIG_TYPE_LONG, KNULL },
    { KS("secret"), KNULL, true, 5, true, NULL, 0, KCONFIG_TYPE_STRING, KS("a password") },
};
static const struct kdescribeconfigs_result dc_results[] = {
    { 0, KNULL, KRESOURCE_TOPIC, KS("orders"), dc_cfg, 2 },
    { 3, KS("unknown topic"), KRESOURCE_TOPIC, KS("nope"), NULL, 0 },
};
static void resp_fill_describeconfigs(union any_resp *r, int16_t v)
{
    (void)v;
    r->describeconfigs = (struct kdescribeconfigs_resp){ 2, dc_results, 2 };
}
static void resp_check_describeconfigs(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kdescribeconfigs_resp *a = &w->describeconfigs, *b = &g->describeconfigs;
    assert_int_equal(b->throttle_time_ms, a->throttle_time_ms);
    assert_int_equal(b->n_results, a->n_results);
    for (int32_t i = 0; i < a->n_results; i++) {
        const struct kdescribeconfigs_result *ra = &a->results[i], *rb = &b->results[i];
        assert_int_equal(rb->error_code, ra->error_code);
        eq_kstr(rb->error_message, ra->error_message);
        assert_int_equal(rb->resource_type, ra->resource_type);
        eq_kstr(rb->resource_name, ra->resource_name);
        assert_int_equal(rb->n_configs, ra->n_configs);
        for (int32_t j = 0; j < ra->n_configs; j++) {
            const struct kdescribeconfigs_config *ca = &ra->configs[j], *cb = &rb->configs[j];
            eq_kstr(cb->name, ca->name);
            eq_kstr(cb->value, ca->value);
            assert_int_equal(cb->read_only, ca->read_only);
            /* v0: is_default only, read back as source 5 or -1 */
            assert_int_equal(cb->config_source, v >= 1 ? ca->config_source : ca->config_source == 5 ? 5 : -1);
            assert_int_equal(cb->is_sensitive, ca->is_sensitive);
            assert_int_equal(cb->n_synonyms, v >= 1 ? ca->n_synonyms : 0);
            assert_int_equal(cb->config_type, v >= 3 ? ca->config_type : KCONFIG_TYPE_UNKNOWN);
            eq_kstr(cb->documentation, v >= 3 ? ca->documentation : KSTR_NULL);
            for (int32_t k = 0; k < cb->n_synonyms; k++) {
                eq_kstr(cb->synonyms[k].name, ca->synonyms[k].name);
                eq_kstr(cb->synonyms[k].value, ca->synonyms[k].value);
                assert_int_equal(cb->synonyms[k].source, ca->synonyms[k].source);
            }
        }
    }
}
static void resp_walk_describeconfigs(const union any_resp *g, const struct span *sp)
{
    const struct kdescribeconfigs_resp *r = &g->describeconfigs;
    touch(r->results, r->n_results, sizeof *r->results);
    for (int32_t i = 0; i < r->n_results; i++) {
        span_str(sp, r->results[i].error_message);
        span_str(sp, r->results[i].resource_name);
        touch(r->results[i].configs, r->results[i].n_configs, sizeof *r->results[i].configs);
        for (int32_t j = 0; j < r->results[i].n_configs; j++) {
            const struct kdescribeconfigs_config *c = &r->results[i].configs[j];
            span_str(sp, c->name), span_str(sp, c->value), span_str(sp, c->documentation);
            touch(c->synonyms, c->n_synonyms, sizeof *c->synonyms);
            for (int32_t k = 0; k < c->n_synonyms; k++)
                span_str(sp, c->synonyms[k].name), span_str(sp, c->synonyms[k].value);
        }
    }
}

/* ---- InitProducerId: idempotent (null id) at v0, transactional at v1 ---- */
static void req_fill_initproducerid(union any_req *r, int16_t v)
{
    r->initproducerid = v % 2 ? (struct kinitproducerid_req){ kstr_c("txn-a"), 60000, -1, -1 }
                              : (struct kinitproducerid_req){ KSTR_NULL, -1, 99, 3 }; /* v3+: bump 99 epoch 3 */
}
static void req_check_initproducerid(const union any_req *w, const union any_req *g, int16_t v)
{
    eq_kstr(g->initproducerid.transactional_id, w->initproducerid.transactional_id);
    assert_int_equal(g->initproducerid.transaction_timeout_ms, w->initproducerid.transaction_timeout_ms);
    assert_int_equal(g->initproducerid.producer_id, v >= 3 ? w->initproducerid.producer_id : -1);
    assert_int_equal(g->initproducerid.producer_epoch, v >= 3 ? w->initproducerid.producer_epoch : -1);
}
static void resp_fill_initproducerid(union any_resp *r, int16_t v)
{
    r->initproducerid = (struct kinitproducerid_resp){ 1, (int16_t)(v ? 47 : 0), 1234567890123, 2 };
}
static void resp_check_initproducerid(const union any_resp *w, const union any_resp *g, int16_t v)
{
    (void)v;
    assert_int_equal(g->initproducerid.throttle_time_ms, w->initproducerid.throttle_time_ms);
    assert_int_equal(g->initproducerid.error_code, w->initproducerid.error_code);
    assert_int_equal(g->initproducerid.producer_id, w->initproducerid.producer_id);
    assert_int_equal(g->initproducerid.producer_epoch, w->initproducerid.producer_epoch);
}
static void resp_walk_initproducerid(const union any_resp *g, const struct span *sp)
{
    (void)g, (void)sp;
}

/* ---- FindCoordinator ---- */
static void req_fill_findcoordinator(union any_req *r, int16_t v)
{
    (void)v;
    r->findcoordinator = (struct kfindcoordinator_req){ .key = kstr_c("group-1"), .key_type = 1 };
}
static void req_check_findcoordinator(const union any_req *w, const union any_req *g, int16_t v)
{
    eq_kstr(g->findcoordinator.key, w->findcoordinator.key);
    assert_int_equal(g->findcoordinator.key_type, v >= 1 ? w->findcoordinator.key_type : 0);
}
static void resp_fill_findcoordinator(union any_resp *r, int16_t v)
{
    /* v4+ batches: one coordinator, which the decoder copies to the v0-3 fields */
    static const struct kfindcoordinator_coord one = { { "group-1", 7 }, 1, { "localhost", 9 }, 9092, 15,
                                                       { "not available", 13 } };
    r->findcoordinator = (struct kfindcoordinator_resp){ 8, 15, kstr_c("not available"), 1, kstr_c("localhost"), 9092,
                                                         v >= 4 ? &one : NULL, v >= 4 ? 1 : 0 };
}
static void resp_check_findcoordinator(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct kfindcoordinator_resp *a = &w->findcoordinator, *b = &g->findcoordinator;
    assert_int_equal(b->throttle_time_ms, v >= 1 ? a->throttle_time_ms : 0);
    assert_int_equal(b->error_code, a->error_code);
    eq_kstr(b->error_message, v >= 1 ? a->error_message : KSTR_NULL);
    assert_int_equal(b->node_id, a->node_id);
    eq_kstr(b->host, a->host);
    assert_int_equal(b->port, a->port);
}
static void resp_walk_findcoordinator(const union any_resp *g, const struct span *sp)
{
    span_str(sp, g->findcoordinator.error_message);
    span_str(sp, g->findcoordinator.host);
}

/* ---- OffsetForLeaderEpoch ---- */
static struct koffsetforleaderepoch_req_part ofle_parts0[] = { { 0, 7, 6 }, { 2, -1, 0 } };
static struct koffsetforleaderepoch_req_part ofle_parts1[] = { { 1, 3, 3 } };
static struct koffsetforleaderepoch_req_topic ofle_topics[] = { { KS("t"), ofle_parts0, 2 }, { KS("u"), ofle_parts1, 1 } };
static void req_fill_offsetforleaderepoch(union any_req *r, int16_t v)
{
    (void)v;
    r->offsetforleaderepoch = (struct koffsetforleaderepoch_req){ 2, ofle_topics, 2 };
}
static void req_check_offsetforleaderepoch(const union any_req *w, const union any_req *g, int16_t v)
{
    const struct koffsetforleaderepoch_req *a = &w->offsetforleaderepoch, *b = &g->offsetforleaderepoch;
    assert_int_equal(b->replica_id, v >= 3 ? a->replica_id : -2);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].topic, a->topics[i].topic);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct koffsetforleaderepoch_req_part *pa = &a->topics[i].partitions[j], *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->partition, pa->partition);
            assert_int_equal(pb->current_leader_epoch, v >= 2 ? pa->current_leader_epoch : -1);
            assert_int_equal(pb->leader_epoch, pa->leader_epoch);
        }
    }
}
static const struct koffsetforleaderepoch_resp_part ofle_rparts[] = { { 0, 0, 6, 1234 }, { 74, 2, -1, -1 } };
static const struct koffsetforleaderepoch_resp_topic ofle_rtopics[] = { { KS("t"), ofle_rparts, 2 }, { KS("u"), NULL, 0 } };
static void resp_fill_offsetforleaderepoch(union any_resp *r, int16_t v)
{
    (void)v;
    r->offsetforleaderepoch = (struct koffsetforleaderepoch_resp){ 9, ofle_rtopics, 2 };
}
static void resp_check_offsetforleaderepoch(const union any_resp *w, const union any_resp *g, int16_t v)
{
    const struct koffsetforleaderepoch_resp *a = &w->offsetforleaderepoch, *b = &g->offsetforleaderepoch;
    assert_int_equal(b->throttle_time_ms, v >= 2 ? a->throttle_time_ms : 0);
    assert_int_equal(b->n_topics, a->n_topics);
    for (int32_t i = 0; i < a->n_topics; i++) {
        eq_kstr(b->topics[i].topic, a->topics[i].topic);
        assert_int_equal(b->topics[i].n_partitions, a->topics[i].n_partitions);
        for (int32_t j = 0; j < a->topics[i].n_partitions; j++) {
            const struct koffsetforleaderepoch_resp_part *pa = &a->topics[i].partitions[j];
            const struct koffsetforleaderepoch_resp_part *pb = &b->topics[i].partitions[j];
            assert_int_equal(pb->error_code, pa->error_code);
            assert_int_equal(pb->partition, pa->partition);
            assert_int_equal(pb->leader_epoch, v >= 1 ? pa->leader_epoch : -1);
            assert_int_equal(pb->end_offset, pa->end_offset);
        }
    }
}
static void resp_walk_offsetforleaderepoch(const union any_resp *g, const struct span *sp)
{
    const struct koffsetforleaderepoch_resp *r = &g->offsetforleaderepoch;
    touch(r->topics, r->n_topics, sizeof *r->topics);
    for (int32_t i = 0; i < r->n_topics; i++) {
        span_str(sp, r->topics[i].topic);
        touch(r->topics[i].partitions, r->topics[i].n_partitions, sizeof *r->topics[i].partitions);
    }
}

/* ---- the case table ---- */

#define THUNKS(api, field) \
    static void req_enc_##api(struct kbuf *b, int16_t v, const union any_req *r) \
    { \
        kproto_##api##_request_encode(b, v, &r->field); \
    } \
    static enum weir_err req_dec_##api(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r) \
    { \
        return kproto_##api##_decode(rd, v, a, &r->field); \
    } \
    static void resp_enc_##api(struct kbuf *b, int16_t v, const union any_resp *r) \
    { \
        kproto_##api##_encode(b, v, &r->field); \
    } \
    static enum weir_err resp_dec_##api(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_resp *r) \
    { \
        return kproto_##api##_response_decode(rd, v, a, &r->field); \
    }
THUNKS(metadata, metadata)
THUNKS(produce, produce)
THUNKS(fetch, fetch)
THUNKS(listoffsets, listoffsets)
THUNKS(createtopics, createtopics)
THUNKS(deletetopics, deletetopics)
THUNKS(deleterecords, deleterecords)
THUNKS(createpartitions, createpartitions)
THUNKS(describeconfigs, describeconfigs)
THUNKS(initproducerid, initproducerid)
THUNKS(findcoordinator, findcoordinator)
THUNKS(offsetforleaderepoch, offsetforleaderepoch)
static void req_enc_apiversions(struct kbuf *b, int16_t v, const union any_req *r)
{
    kproto_apiversions_request_encode(b, v, &r->apiversions);
}
static enum weir_err req_dec_apiversions(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r)
{
    return kproto_apiversions_decode(rd, v, a, &r->apiversions);
}
static void resp_enc_apiversions(struct kbuf *b, int16_t v, const union any_resp *r)
{
    kproto_apiversions_encode(b, v, &r->apiversions.base);
}
static enum weir_err resp_dec_apiversions(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_resp *r)
{
    return kproto_apiversions_response_decode(rd, v, a, &r->apiversions);
}

struct api_case {
    const char *name;
    int16_t key;
    void (*req_fill)(union any_req *r, int16_t v);
    void (*req_encode)(struct kbuf *b, int16_t v, const union any_req *r);
    enum weir_err (*req_decode)(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_req *r);
    void (*req_check)(const union any_req *want, const union any_req *got, int16_t v);
    void (*resp_fill)(union any_resp *r, int16_t v);
    void (*resp_encode)(struct kbuf *b, int16_t v, const union any_resp *r);
    enum weir_err (*resp_decode)(struct weir_rd *rd, int16_t v, struct weir_arena *a, union any_resp *r);
    void (*resp_check)(const union any_resp *want, const union any_resp *got, int16_t v);
    void (*resp_walk)(const union any_resp *got, const struct span *sp);
};

#define CASE(api, key) \
    { #api, key, req_fill_##api, req_enc_##api, req_dec_##api, req_check_##api, resp_fill_##api, \
      resp_enc_##api, resp_dec_##api, resp_check_##api, resp_walk_##api }
static const struct api_case api_cases[] = {
    CASE(produce, KAPI_PRODUCE),
    CASE(fetch, KAPI_FETCH),
    CASE(listoffsets, KAPI_LIST_OFFSETS),
    CASE(metadata, KAPI_METADATA),
    CASE(findcoordinator, KAPI_FIND_COORDINATOR),
    CASE(apiversions, KAPI_API_VERSIONS),
    CASE(createtopics, KAPI_CREATE_TOPICS),
    CASE(deletetopics, KAPI_DELETE_TOPICS),
    CASE(deleterecords, KAPI_DELETE_RECORDS),
    CASE(initproducerid, KAPI_INIT_PRODUCER_ID),
    CASE(describeconfigs, KAPI_DESCRIBE_CONFIGS),
    CASE(createpartitions, KAPI_CREATE_PARTITIONS),
    CASE(offsetforleaderepoch, KAPI_OFFSET_FOR_LEADER_EPOCH),
};

/* A response body (no header), flattened into a heap buffer of its exact size. */
static uint8_t *resp_body(const struct api_case *c, int16_t v, union any_resp *want, size_t *n)
{
    memset(want, 0, sizeof *want);
    c->resp_fill(want, v);
    struct kbuf b;
    kbuf_init(&b, 0);
    c->resp_encode(&b, v, want);
    uint8_t *body = flatten(&b, n);
    kbuf_free(&b);
    return body;
}

/* ======================================================================== */
/* Round trips                                                               */
/* ======================================================================== */

/* Every table entry with a codec has a case here, and the other way round. */
static void test_cases_cover_table(void **state)
{
    (void)state;
    size_t n_table, supported = 0;
    const struct kproto_api *t = kproto_api_table(&n_table);
    for (size_t i = 0; i < n_table; i++) {
        if (t[i].min < 0) continue;
        /* The consumer-group APIs round-trip both directions in tests/test_proto_groups.c. */
        if (t[i].key == KAPI_JOIN_GROUP || t[i].key == KAPI_SYNC_GROUP || t[i].key == KAPI_HEARTBEAT ||
            t[i].key == KAPI_LEAVE_GROUP || t[i].key == KAPI_OFFSET_COMMIT || t[i].key == KAPI_OFFSET_FETCH ||
            t[i].key == KAPI_DESCRIBE_GROUPS || t[i].key == KAPI_LIST_GROUPS || t[i].key == KAPI_DELETE_GROUPS)
            continue;
        if (t[i].key == KAPI_DESCRIBE_CLUSTER || t[i].key == KAPI_OFFSET_DELETE || t[i].key == KAPI_DESCRIBE_LOG_DIRS ||
            t[i].key == KAPI_ALTER_CONFIGS || t[i].key == KAPI_INCREMENTAL_ALTER_CONFIGS)
            continue; /* both directions in tests/test_proto_admin.c */
        supported++;
        bool found = false;
        for (size_t j = 0; j < WEIR_ARRAY_LEN(api_cases); j++) found |= api_cases[j].key == t[i].key;
        assert_true(found);
    }
    assert_int_equal(supported, WEIR_ARRAY_LEN(api_cases));
}

/* Client request frame -> broker header and body decoders. */
static void test_requests_roundtrip(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    size_t runs = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++, runs++) {
            print_message("%s v%d request\n", c->name, v);
            union any_req want, got;
            memset(&want, 0, sizeof want);
            c->req_fill(&want, v);
            struct kbuf b;
            kbuf_init(&b, 0);
            struct kreq_header h = { c->key, v, 1000 + v, kstr_c("weir-client") };
            struct kframe f = kproto_request_begin(&b, &h);
            c->req_encode(&b, v, &want);
            kproto_request_end(&b, &f);
            size_t n;
            uint8_t *frame = flatten(&b, &n);
            assert_int_equal(weir_load_be32(frame), n - 4);
            struct weir_rd rd = weir_rd_make(frame + 4, n - 4);
            struct kreq_header got_h;
            assert_int_equal(kproto_header_decode(&rd, &got_h), WEIR_OK);
            assert_int_equal(got_h.api_key, c->key);
            assert_int_equal(got_h.api_version, v);
            assert_int_equal(got_h.correlation_id, 1000 + v);
            eq_kstr(got_h.client_id, h.client_id);
            weir_arena_reset(&a);
            memset(&got, 0xa5, sizeof got); /* every field must be written */
            assert_int_equal(c->req_decode(&rd, v, &a, &got), WEIR_OK);
            assert_int_equal(weir_rd_left(&rd), 0);
            c->req_check(&want, &got, v);
            free(frame);
            kbuf_free(&b);
        }
    }
    assert_int_equal(runs, 10 + 14 + 9 + 13 + 5 + 4 + 8 + 7 + 5 + 5 + 4 + 5 + 3);
    weir_arena_destroy(&a);
}

/* Broker response frame -> client header and body decoders. */
static void test_responses_roundtrip(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++) {
            print_message("%s v%d response\n", c->name, v);
            union any_resp want, got;
            memset(&want, 0, sizeof want);
            c->resp_fill(&want, v);
            struct kbuf b;
            kbuf_init(&b, 0);
            struct kframe f = kproto_response_begin(&b, c->key, v, 2000 + v);
            c->resp_encode(&b, v, &want);
            kproto_response_end(&b, &f);
            size_t n;
            uint8_t *frame = flatten(&b, &n);
            assert_int_equal(weir_load_be32(frame), n - 4);
            struct weir_rd rd = weir_rd_make(frame + 4, n - 4);
            int32_t corr = 0;
            assert_int_equal(kproto_response_header_decode(&rd, c->key, v, &corr), WEIR_OK);
            assert_int_equal(corr, 2000 + v);
            weir_arena_reset(&a);
            memset(&got, 0xa5, sizeof got);
            assert_int_equal(c->resp_decode(&rd, v, &a, &got), WEIR_OK);
            assert_int_equal(weir_rd_left(&rd), 0);
            c->resp_check(&want, &got, v);
            struct span sp = { frame, frame + n };
            c->resp_walk(&got, &sp);
            free(frame);
            kbuf_free(&b);
        }
    }
    weir_arena_destroy(&a);
}

/* Every strict prefix of every response body is WEIR_E_TRUNCATED. */
static void test_responses_truncated(void **state)
{
    (void)state;
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 16), WEIR_OK);
    size_t prefixes = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++) {
            union any_resp want, got;
            size_t n0;
            uint8_t *full = resp_body(c, v, &want, &n0);
            for (size_t n = 0; n <= n0; n++, prefixes++) {
                uint8_t *p = dup_exact(full, n);
                struct weir_rd rd = weir_rd_make(p, n);
                weir_arena_reset(&a);
                enum weir_err err = c->resp_decode(&rd, v, &a, &got);
                if (err != (n == n0 ? WEIR_OK : WEIR_E_TRUNCATED))
                    print_message("%s v%d: prefix %zu of %zu: %s\n", c->name, v, n, n0, weir_err_str(err));
                assert_int_equal(err, n == n0 ? WEIR_OK : WEIR_E_TRUNCATED);
                free(p);
            }
            free(full);
        }
    }
    print_message("%zu prefixes\n", prefixes);
    weir_arena_destroy(&a);
}

/* Outside the supported range: WEIR_E_UNSUPPORTED, nothing read. */
static void test_responses_unsupported_version(void **state)
{
    (void)state;
    static const uint8_t zeros[64];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        int16_t bad[] = { (int16_t)(api->min - 1), (int16_t)(api->max + 1) };
        for (int k = 0; k < 2; k++) {
            struct weir_rd rd = weir_rd_make(zeros, sizeof zeros);
            union any_resp got;
            assert_int_equal(c->resp_decode(&rd, bad[k], NULL, &got), WEIR_E_UNSUPPORTED);
            assert_int_equal(weir_rd_left(&rd), sizeof zeros);
        }
    }
}

/* ======================================================================== */
/* Headers                                                                    */
/* ======================================================================== */

/* librdkafka 2.0.2's ApiVersions v3 request: header v2, compact strings. */
static const uint8_t rdkafka_apiversions_v3[] = {
    0x00, 0x00, 0x00, 0x24,                                          /* size 36 */
    0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,                  /* key 18, v3, correlation 1 */
    0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a',             /* client_id, INT16 length */
    0x00,                                                            /* header tags */
    0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f',  'k', 'a', /* client_software_name */
    0x06, '2',  '.',  '0',  '.',  '2',                               /* client_software_version */
    0x00,                                                            /* body tags */
};

static void test_request_headers(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    struct kreq_header h = { KAPI_API_VERSIONS, 3, 1, kstr_c("rdkafka") };
    struct kframe f = kproto_request_begin(&b, &h);
    struct kapiversions_req av = { kstr_c("librdkafka"), kstr_c("2.0.2") };
    kproto_apiversions_request_encode(&b, 3, &av);
    kproto_request_end(&b, &f);
    assert_int_equal(b.err, WEIR_OK);
    assert_bytes(b.mem, b.mem_len, rdkafka_apiversions_v3, sizeof rdkafka_apiversions_v3);
    kbuf_free(&b);

    /* Header v1: Metadata v4 with a null client_id; ApiVersions v0 with one. */
    kbuf_init(&b, 0);
    kproto_header_encode(&b, &(struct kreq_header){ KAPI_METADATA, 4, INT32_MAX, KSTR_NULL });
    kproto_header_encode(&b, &(struct kreq_header){ KAPI_API_VERSIONS, 0, -2, kstr_c("c") });
    static const uint8_t v1[] = { 0, 3, 0, 4, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0, 18, 0, 0, 0xff, 0xff, 0xff, 0xfe, 0, 1, 'c' };
    assert_bytes(b.mem, b.mem_len, v1, sizeof v1);
    /* Header v2 (Produce v9 is flexible): client_id keeps its INT16 length. */
    kbuf_reset(&b);
    kproto_header_encode(&b, &(struct kreq_header){ KAPI_PRODUCE, 9, 5, kstr_c("ab") });
    static const uint8_t v2[] = { 0, 0, 0, 9, 0, 0, 0, 5, 0, 2, 'a', 'b', 0 };
    assert_bytes(b.mem, b.mem_len, v2, sizeof v2);
    kbuf_free(&b);
}

static void test_response_headers(void **state)
{
    (void)state;
    /* v0 (Fetch v11): the correlation id, then the body. */
    static const uint8_t v0[] = { 0, 0, 0, 7, 0xaa };
    struct weir_rd rd = weir_rd_make(v0, sizeof v0);
    int32_t corr = 0;
    assert_int_equal(kproto_response_header_decode(&rd, KAPI_FETCH, 11, &corr), WEIR_OK);
    assert_int_equal(corr, 7);
    assert_ptr_equal(rd.pos, v0 + 4);
    /* ApiVersions v3 answers with header v0 (KIP-511): no tags read. */
    rd = weir_rd_make(v0, sizeof v0);
    assert_int_equal(kproto_response_header_decode(&rd, KAPI_API_VERSIONS, 3, &corr), WEIR_OK);
    assert_ptr_equal(rd.pos, v0 + 4);
    /* v1 (Produce v9): correlation id, a tagged section with one field, body. */
    static const uint8_t v1[] = { 0xff, 0xff, 0xff, 0xfe, 0x01, 0x03, 0x02, 0xaa, 0xbb, 0xcc };
    rd = weir_rd_make(v1, sizeof v1);
    assert_int_equal(kproto_response_header_decode(&rd, KAPI_PRODUCE, 9, &corr), WEIR_OK);
    assert_int_equal(corr, -2);
    assert_ptr_equal(rd.pos, v1 + 9);
    for (size_t n = 0; n < 9; n++) {
        uint8_t *p = dup_exact(v1, n);
        rd = weir_rd_make(p, n);
        assert_int_equal(kproto_response_header_decode(&rd, KAPI_PRODUCE, 9, &corr), WEIR_E_TRUNCATED);
        free(p);
    }
    for (size_t n = 0; n < 4; n++) {
        uint8_t *p = dup_exact(v0, n);
        rd = weir_rd_make(p, n);
        assert_int_equal(kproto_response_header_decode(&rd, KAPI_FETCH, 4, &corr), WEIR_E_TRUNCATED);
        free(p);
    }
}

/* ======================================================================== */
/* Hand-built bytes from the schemas                                          */
/* ======================================================================== */

/* Decodes exactly the bytes (in an exact-size heap copy) or fails. */
static uint8_t *decode_exact(const struct api_case *c, int16_t v, const uint8_t *bytes, size_t n,
                             struct weir_arena *a, union any_resp *got)
{
    uint8_t *p = dup_exact(bytes, n);
    struct weir_rd rd = weir_rd_make(p, n);
    weir_arena_reset(a);
    assert_int_equal(c->resp_decode(&rd, v, a, got), WEIR_OK);
    assert_int_equal(weir_rd_left(&rd), 0);
    return p;
}

static const struct api_case *find_case(int16_t key)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++)
        if (api_cases[i].key == key) return &api_cases[i];
    fail();
    return NULL;
}

/* ApiVersionsResponse v3: compact array, entry tags, throttle, then a tagged
 * section carrying FinalizedFeaturesEpoch (tag 1), which is skipped. */
static void test_hand_apiversions_v3(void **state)
{
    (void)state;
    static const uint8_t body[] = {
        0x00, 0x00,                                     /* ErrorCode 0 */
        0x04,                                           /* ApiKeys: 3 entries, compact (+1) */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00,       /* Produce 0..7, entry tags */
        0x00, 0x01, 0x00, 0x04, 0x00, 0x0b, 0x00,       /* Fetch 4..11 */
        0x00, 0x12, 0x00, 0x00, 0x00, 0x03, 0x00,       /* ApiVersions 0..3 */
        0x00, 0x00, 0x00, 0x64,                         /* ThrottleTimeMs 100 */
        0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05,    /* tags: [1] = INT64 5 */
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union any_resp got;
    uint8_t *p = decode_exact(find_case(KAPI_API_VERSIONS), 3, body, sizeof body, &a, &got);
    const struct kapiversions_client_resp *r = &got.apiversions;
    assert_int_equal(r->base.error_code, 0);
    assert_int_equal(r->base.throttle_time_ms, 100);
    assert_int_equal(r->n_api_keys, 3);
    static const int16_t want[3][3] = { { 0, 0, 7 }, { 1, 4, 11 }, { 18, 0, 3 } };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->api_keys[i].api_key, want[i][0]);
        assert_int_equal(r->api_keys[i].min_version, want[i][1]);
        assert_int_equal(r->api_keys[i].max_version, want[i][2]);
    }
    free(p);
    /* The same entries classic (v2): INT32 count, no tags. */
    static const uint8_t v2[] = { 0, 0, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3, 0, 0, 0, 9 };
    p = decode_exact(find_case(KAPI_API_VERSIONS), 2, v2, sizeof v2, &a, &got);
    assert_int_equal(got.apiversions.n_api_keys, 1);
    assert_int_equal(got.apiversions.api_keys[0].max_version, 3);
    assert_int_equal(got.apiversions.base.throttle_time_ms, 9);
    free(p);
    weir_arena_destroy(&a);
}

/* A broker that does not know the version answers in v0 format with error 35
 * (README §4): decoded as v0 whatever version was asked, key 18's range kept. */
static void test_apiversions_unsupported_answer(void **state)
{
    (void)state;
    struct kbuf b;
    kbuf_init(&b, 0);
    kproto_apiversions_encode_unsupported(&b, 42);
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    for (int16_t v = 0; v <= 3; v++) {
        uint8_t *p = dup_exact(b.mem, b.mem_len);
        struct weir_rd rd = weir_rd_make(p + 4, b.mem_len - 4);
        int32_t corr;
        assert_int_equal(kproto_response_header_decode(&rd, KAPI_API_VERSIONS, v, &corr), WEIR_OK);
        assert_int_equal(corr, 42);
        struct kapiversions_client_resp r;
        weir_arena_reset(&a);
        assert_int_equal(kproto_apiversions_response_decode(&rd, v, &a, &r), WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        assert_int_equal(r.base.error_code, WEIR_KERR_UNSUPPORTED_VERSION);
        assert_int_equal(r.base.throttle_time_ms, 0);
        assert_int_equal(r.n_api_keys, 1);
        assert_int_equal(r.api_keys[0].api_key, KAPI_API_VERSIONS);
        assert_int_equal(r.api_keys[0].min_version, 0);
        assert_int_equal(r.api_keys[0].max_version, 3);
        free(p);
    }
    weir_arena_destroy(&a);
    kbuf_free(&b);
}

/* MetadataResponse v4: throttle first, rack (null), cluster_id, controller_id,
 * is_internal; no offline_replicas before v5. Decoded, then re-encoded. */
static void test_hand_metadata_v4(void **state)
{
    (void)state;
    static const uint8_t body[] = {
        0, 0, 0, 0,                                             /* ThrottleTimeMs */
        0, 0, 0, 1,                                             /* Brokers: 1 */
        0, 0, 0, 1,                                             /*   NodeId 1 */
        0, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',      /*   Host */
        0, 0, 0x23, 0x84,                                       /*   Port 9092 */
        0xff, 0xff,                                             /*   Rack null */
        0, 2, 'c', '1',                                         /* ClusterId "c1" */
        0, 0, 0, 1,                                             /* ControllerId 1 */
        0, 0, 0, 1,                                             /* Topics: 1 */
        0, 0,                                                   /*   ErrorCode */
        0, 6, 'o', 'r', 'd', 'e', 'r', 's',                     /*   Name */
        0,                                                      /*   IsInternal false */
        0, 0, 0, 1,                                             /*   Partitions: 1 */
        0, 0,                                                   /*     ErrorCode */
        0, 0, 0, 0,                                             /*     PartitionIndex 0 */
        0, 0, 0, 1,                                             /*     LeaderId 1 */
        0, 0, 0, 1, 0, 0, 0, 1,                                 /*     ReplicaNodes [1] */
        0, 0, 0, 1, 0, 0, 0, 1,                                 /*     IsrNodes [1] */
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union any_resp got;
    uint8_t *p = decode_exact(find_case(KAPI_METADATA), 4, body, sizeof body, &a, &got);
    const struct kmetadata_resp *m = &got.metadata;
    assert_int_equal(m->n_brokers, 1);
    assert_true(kstr_eq(m->brokers[0].host, "localhost"));
    assert_int_equal(m->brokers[0].port, 9092);
    assert_true(kstr_is_null(m->brokers[0].rack));
    assert_true(kstr_eq(m->cluster_id, "c1"));
    assert_int_equal(m->controller_id, 1);
    assert_int_equal(m->n_topics, 1);
    assert_true(kstr_eq(m->topics[0].name, "orders"));
    assert_false(m->topics[0].is_internal);
    assert_int_equal(m->topics[0].n_partitions, 1);
    assert_int_equal(m->topics[0].partitions[0].leader_id, 1);
    assert_int_equal(m->topics[0].partitions[0].n_replicas, 1);
    assert_int_equal(m->topics[0].partitions[0].n_isr, 1);
    assert_int_equal(m->topics[0].partitions[0].n_offline, 0);
    struct kbuf b;
    kbuf_init(&b, 0);
    kproto_metadata_encode(&b, 4, m);
    assert_bytes(b.mem, b.mem_len, body, sizeof body);
    kbuf_free(&b);
    free(p);
    weir_arena_destroy(&a);
}

/* ProduceRequest v7 and ProduceResponse v7: the request's records travel as a
 * BORROW chunk of the caller's buffer; the response's throttle is last. */
static void test_hand_produce_v7(void **state)
{
    (void)state;
    static const uint8_t records[] = { 'b', 'a', 't', 'c', 'h', 0x00, 0xff };
    static const uint8_t req_body[] = {
        0xff, 0xff,                             /* TransactionalId null */
        0xff, 0xff,                             /* Acks -1 */
        0x00, 0x00, 0x75, 0x30,                 /* TimeoutMs 30000 */
        0, 0, 0, 1,                             /* TopicData: 1 */
        0, 6, 'o', 'r', 'd', 'e', 'r', 's',     /*   Name */
        0, 0, 0, 1,                             /*   PartitionData: 1 */
        0, 0, 0, 2,                             /*     Index 2 */
        0, 0, 0, 7,                             /*     Records: 7 bytes */
        'b', 'a', 't', 'c', 'h', 0x00, 0xff,
    };
    struct kproduce_req_part part = { 2, (uint8_t *)(uintptr_t)records, sizeof records };
    struct kproduce_req_topic topic = { kstr_c("orders"), &part, 1 };
    struct kproduce_req req = { KSTR_NULL, -1, 30000, &topic, 1 };
    struct kbuf b;
    kbuf_init(&b, 0);
    kproto_produce_request_encode(&b, 7, &req);
    assert_int_equal(kbuf_chunk_count(&b), 2); /* MEM up to the records length, then BORROW */
    struct kchunk c = kbuf_chunk(&b, 1);
    assert_int_equal(c.kind, KCHUNK_BORROW);
    assert_ptr_equal(c.mem, records); /* the caller's bytes, not a copy */
    assert_int_equal(c.len, sizeof records);
    size_t n;
    uint8_t *flat = flatten(&b, &n);
    assert_bytes(flat, n, req_body, sizeof req_body);
    free(flat);
    kbuf_free(&b);

    static const uint8_t resp_body[] = {
        0, 0, 0, 1,                             /* Responses: 1 */
        0, 6, 'o', 'r', 'd', 'e', 'r', 's',     /*   Name */
        0, 0, 0, 1,                             /*   PartitionResponses: 1 */
        0, 0, 0, 2,                             /*     Index 2 */
        0, 0,                                   /*     ErrorCode */
        0, 0, 0, 0, 0, 0, 0, 100,               /*     BaseOffset 100 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* LogAppendTimeMs -1 */
        0, 0, 0, 0, 0, 0, 0, 3,                 /*     LogStartOffset 3 */
        0, 0, 0, 0x0a,                          /* ThrottleTimeMs 10, after the topics */
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union any_resp got;
    uint8_t *p = decode_exact(find_case(KAPI_PRODUCE), 7, resp_body, sizeof resp_body, &a, &got);
    const struct kproduce_resp *r = &got.produce;
    assert_int_equal(r->n_topics, 1);
    assert_true(kstr_eq(r->topics[0].name, "orders"));
    assert_int_equal(r->topics[0].n_partitions, 1);
    const struct kproduce_resp_part *rp = &r->topics[0].partitions[0];
    assert_int_equal(rp->index, 2);
    assert_int_equal(rp->error_code, 0);
    assert_int_equal(rp->base_offset, 100);
    assert_int_equal(rp->log_append_time_ms, -1);
    assert_int_equal(rp->log_start_offset, 3);
    assert_int_equal(r->throttle_time_ms, 10);
    kbuf_init(&b, 0);
    kproto_produce_encode(&b, 7, r);
    assert_bytes(b.mem, b.mem_len, resp_body, sizeof resp_body);
    kbuf_free(&b);
    free(p);
    weir_arena_destroy(&a);
}

/* FetchRequest v11 and FetchResponse v11: session fields, current leader
 * epoch, forgotten topics, rack; the response's records are borrowed bytes. */
static void test_hand_fetch_v11(void **state)
{
    (void)state;
    static const uint8_t req_body[] = {
        0xff, 0xff, 0xff, 0xff,                 /* ReplicaId -1 */
        0x00, 0x00, 0x01, 0xf4,                 /* MaxWaitMs 500 */
        0x00, 0x00, 0x00, 0x01,                 /* MinBytes 1 */
        0x03, 0x20, 0x00, 0x00,                 /* MaxBytes 52428800 */
        0x01,                                   /* IsolationLevel read_committed */
        0x00, 0x00, 0x00, 0x00,                 /* SessionId 0 */
        0xff, 0xff, 0xff, 0xff,                 /* SessionEpoch -1 */
        0, 0, 0, 1,                             /* Topics: 1 */
        0, 6, 'o', 'r', 'd', 'e', 'r', 's',     /*   Topic */
        0, 0, 0, 1,                             /*   Partitions: 1 */
        0, 0, 0, 0,                             /*     Partition 0 */
        0xff, 0xff, 0xff, 0xff,                 /*     CurrentLeaderEpoch -1 */
        0, 0, 0, 0, 0, 0, 0, 5,                 /*     FetchOffset 5 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* LogStartOffset -1 */
        0x00, 0x10, 0x00, 0x00,                 /*     PartitionMaxBytes 1 MiB */
        0, 0, 0, 0,                             /* ForgottenTopicsData: 0 */
        0, 0,                                   /* RackId "" */
    };
    struct kfetch_req_part rp = { 0, -1, 5, -1, -1, 1 << 20 };
    struct kfetch_req_topic rt = { kstr_c("orders"), &rp, 1, { { 0 } } };
    struct kfetch_req req = { -1, 500, 1, 52428800, 1, 0, -1, &rt, 1, NULL, 0, kstr_c("") };
    struct kbuf b;
    kbuf_init(&b, 0);
    kproto_fetch_request_encode(&b, 11, &req);
    assert_int_equal(b.err, WEIR_OK);
    assert_bytes(b.mem, b.mem_len, req_body, sizeof req_body);
    kbuf_free(&b);

    static const uint8_t resp_body[] = {
        0, 0, 0, 0,                             /* ThrottleTimeMs */
        0, 0,                                   /* ErrorCode */
        0, 0, 0, 0,                             /* SessionId */
        0, 0, 0, 1,                             /* Responses: 1 */
        0, 6, 'o', 'r', 'd', 'e', 'r', 's',     /*   Topic */
        0, 0, 0, 1,                             /*   Partitions: 1 */
        0, 0, 0, 0,                             /*     PartitionIndex 0 */
        0, 0,                                   /*     ErrorCode */
        0, 0, 0, 0, 0, 0, 0, 10,                /*     HighWatermark 10 */
        0, 0, 0, 0, 0, 0, 0, 10,                /*     LastStableOffset 10 */
        0, 0, 0, 0, 0, 0, 0, 0,                 /*     LogStartOffset 0 */
        0xff, 0xff, 0xff, 0xff,                 /*     AbortedTransactions null */
        0xff, 0xff, 0xff, 0xff,                 /*     PreferredReadReplica -1 */
        0, 0, 0, 4, 'a', 'b', 'c', 'd',         /*     Records: 4 bytes */
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    union any_resp got;
    uint8_t *p = decode_exact(find_case(KAPI_FETCH), 11, resp_body, sizeof resp_body, &a, &got);
    const struct kfetch_resp *r = &got.fetch;
    assert_int_equal(r->n_topics, 1);
    assert_int_equal(r->topics[0].n_partitions, 1);
    const struct kfetch_resp_part *fp = &r->topics[0].partitions[0];
    assert_int_equal(fp->high_watermark, 10);
    assert_int_equal(fp->last_stable_offset, 10);
    assert_int_equal(fp->log_start_offset, 0);
    assert_int_equal(fp->n_aborted, -1);
    assert_null(fp->aborted);
    assert_int_equal(fp->preferred_read_replica, -1);
    assert_int_equal(fp->record_set.len, 4);
    assert_ptr_equal(fp->record_set.ptr, p + sizeof resp_body - 4); /* borrowed from the frame */
    assert_memory_equal(fp->record_set.ptr, "abcd", 4);
    /* The broker's encoding of the same, records from a file range. */
    struct kfile_range fr = { file_fd(), FILE_ABCD_POS, 4, NULL };
    struct kfetch_resp_part ep = *fp;
    ep.records = &fr;
    ep.n_records = 1;
    struct kfetch_resp_topic et = { r->topics[0].topic, &ep, 1, { { 0 } } };
    struct kfetch_resp er = { 0, 0, 0, &et, 1 };
    kbuf_init(&b, 0);
    kproto_fetch_encode(&b, 11, &er);
    size_t n;
    uint8_t *flat = flatten(&b, &n);
    assert_bytes(flat, n, resp_body, sizeof resp_body);
    free(flat);
    kbuf_free(&b);
    free(p);
    weir_arena_destroy(&a);
}

/* ======================================================================== */
/* BORROW chunks and gathering                                                */
/* ======================================================================== */

/* Sends the frame through kbuf_gather/kbuf_advance in pieces of at most
 * max_iov iovecs and step bytes; returns what went out, concatenated. */
static uint8_t *gather_all(const struct kbuf *b, int max_iov, size_t step, size_t *n)
{
    size_t total = (size_t)kbuf_total_len(b), at = 0;
    uint8_t *out = malloc(total ? total : 1);
    assert_non_null(out);
    struct kbuf_cursor cur = { 0, 0 };
    struct iovec iov[64];
    for (int rounds = 0;; rounds++) {
        assert_true(rounds <= (int)(total + kbuf_chunk_count(b) + 1));
        int cnt = kbuf_gather(b, &cur, iov, max_iov);
        if (cnt == 0) break;
        size_t sent = 0; /* a short write: at most step bytes */
        for (int i = 0; i < cnt && sent < step; i++) {
            assert_true(iov[i].iov_len > 0);
            size_t k = WEIR_MIN(iov[i].iov_len, step - sent);
            assert_true(at + k <= total);
            memcpy(out + at, iov[i].iov_base, k);
            at += k, sent += k;
        }
        kbuf_advance(b, &cur, sent);
    }
    *n = at;
    return out;
}

static void test_kbuf_borrow_gather(void **state)
{
    (void)state;
    uint8_t batch_a[300], batch_b[45];
    for (size_t i = 0; i < sizeof batch_a; i++) batch_a[i] = (uint8_t)(i ^ 0x5a);
    for (size_t i = 0; i < sizeof batch_b; i++) batch_b[i] = (uint8_t)(i + 1);
    struct kproduce_req_part parts[] = {
        { 0, batch_a, sizeof batch_a }, { 1, NULL, -1 }, { 2, batch_b, 0 }, { 3, batch_b, sizeof batch_b },
    };
    struct kproduce_req_topic topic = { kstr_c("orders"), parts, 4 };
    struct kproduce_req req = { kstr_c("txn"), 1, 1000, &topic, 1 };
    struct kbuf b;
    kbuf_init(&b, 0);
    /* Two pipelined frames in one kbuf. */
    for (int32_t corr = 1; corr <= 2; corr++) {
        struct kframe f = kproto_request_begin(&b, &(struct kreq_header){ KAPI_PRODUCE, 7, corr, kstr_c("w") });
        kproto_produce_request_encode(&b, 7, &req);
        kproto_request_end(&b, &f);
    }
    assert_int_equal(b.err, WEIR_OK);
    assert_int_equal(b.borrow_len, 2 * (sizeof batch_a + sizeof batch_b));
    assert_int_equal(b.file_len, 0);
    /* Per frame: MEM, BORROW a, MEM, BORROW b; the empty records add no chunk. */
    assert_int_equal(kbuf_chunk_count(&b), 8);
    static const enum kchunk_kind kinds[] = { KCHUNK_MEM, KCHUNK_BORROW, KCHUNK_MEM, KCHUNK_BORROW };
    for (size_t i = 0; i < 8; i++) assert_int_equal(kbuf_chunk(&b, i).kind, kinds[i % 4]);
    assert_ptr_equal(kbuf_chunk(&b, 1).mem, batch_a);
    assert_ptr_equal(kbuf_chunk(&b, 3).mem, batch_b);
    assert_ptr_equal(kbuf_chunk(&b, 7).mem, batch_b);

    size_t n;
    uint8_t *flat = flatten(&b, &n);
    size_t frame_len = n / 2;
    assert_int_equal(weir_load_be32(flat), frame_len - 4);
    assert_int_equal(weir_load_be32(flat + frame_len), frame_len - 4);
    /* Each frame decodes with the broker's decoders, records intact. */
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 1 << 12), WEIR_OK);
    for (int k = 0; k < 2; k++) {
        struct weir_rd rd = weir_rd_make(flat + k * frame_len + 4, frame_len - 4);
        struct kreq_header h;
        assert_int_equal(kproto_header_decode(&rd, &h), WEIR_OK);
        assert_int_equal(h.correlation_id, k + 1);
        struct kproduce_req got;
        weir_arena_reset(&a);
        assert_int_equal(kproto_produce_decode(&rd, 7, &a, &got), WEIR_OK);
        assert_int_equal(weir_rd_left(&rd), 0);
        union any_req w = { .produce = req }, g = { .produce = got };
        req_check_produce(&w, &g, 7);
    }
    weir_arena_destroy(&a);

    /* Gathered iovecs cover exactly the frame bytes, however the sends split. */
    static const struct { int max_iov; size_t step; } splits[] = {
        { 64, SIZE_MAX }, { 1, SIZE_MAX }, { 3, 1 }, { 2, 7 }, { 64, 100 }, { 5, 301 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(splits); i++) {
        size_t got_n;
        uint8_t *got = gather_all(&b, splits[i].max_iov, splits[i].step, &got_n);
        assert_bytes(got, got_n, flat, n);
        free(got);
    }
    /* One writev of everything, into a file. */
    struct iovec iov[64];
    struct kbuf_cursor cur = { 0, 0 };
    int cnt = kbuf_gather(&b, &cur, iov, 64);
    assert_int_equal(cnt, 8);
    int fd = memfd_create("weir-test-gather", 0);
    assert_true(fd >= 0);
    assert_int_equal(writev(fd, iov, cnt), (ssize_t)n);
    uint8_t *back = malloc(n);
    assert_non_null(back);
    assert_int_equal(pread(fd, back, n, 0), (ssize_t)n);
    assert_bytes(back, n, flat, n);
    free(back);
    close(fd);
    kbuf_advance(&b, &cur, n);
    assert_int_equal(kbuf_gather(&b, &cur, iov, 64), 0);
    free(flat);

    /* Errors stick: no chunk after a failure; reset clears the borrowed total. */
    assert_true(kb_borrow(&b, batch_a, 0)); /* empty: nothing appended */
    assert_int_equal(kbuf_chunk_count(&b), 8);
    kbuf_fail(&b, WEIR_E_NOMEM);
    assert_false(kb_borrow(&b, batch_a, 10));
    assert_int_equal(kbuf_chunk_count(&b), 8);
    kbuf_reset(&b);
    assert_int_equal(b.borrow_len, 0);
    assert_int_equal(kbuf_total_len(&b), 0);
    assert_int_equal(kbuf_chunk_count(&b), 0);
    kbuf_free(&b);
}

/* The chunk list has a cap: a borrow past it fails the kbuf, it is not lost. */
static void test_kbuf_borrow_cap(void **state)
{
    (void)state;
    static const uint8_t one = 1;
    struct kbuf b;
    kbuf_init(&b, 0);
    size_t ok = 0;
    while (kb_borrow(&b, &one, 1)) {
        ok++;
        kb_i8(&b, 0); /* alternate, so each borrow closes a MEM chunk too */
    }
    assert_int_equal(b.err, WEIR_E_TOO_LARGE);
    assert_true(ok >= KBUF_CHUNKS_MAX / 2 - 1 && ok <= KBUF_CHUNKS_MAX / 2);
    assert_int_equal(b.borrow_len, ok);
    kbuf_free(&b);
}

/* ======================================================================== */
/* Counts over their maximum                                                  */
/* ======================================================================== */

static void test_response_counts(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int16_t key, version;
        uint8_t prefix[8]; /* the bytes before the count */
        size_t prefix_len;
        int32_t count;
        enum weir_err want;
    } cases[] = {
        { "api keys over", KAPI_API_VERSIONS, 2, { 0, 0 }, 2, KPROTO_API_KEYS_MAX + 1, WEIR_E_TOO_LARGE },
        { "brokers over", KAPI_METADATA, 4, { 0, 0, 0, 0 }, 4, KPROTO_BROKERS_MAX + 1, WEIR_E_TOO_LARGE },
        { "produce topics over", KAPI_PRODUCE, 7, { 0 }, 0, KPROTO_TOPICS_MAX + 1, WEIR_E_TOO_LARGE },
        { "fetch topics over", KAPI_FETCH, 4, { 0, 0, 0, 0 }, 4, KPROTO_TOPICS_MAX + 1, WEIR_E_TOO_LARGE },
        { "configs results over", KAPI_DESCRIBE_CONFIGS, 1, { 0, 0, 0, 0 }, 4, KPROTO_RESOURCES_MAX + 1,
          WEIR_E_TOO_LARGE },
        { "negative", KAPI_LIST_OFFSETS, 2, { 0, 0, 0, 0 }, 4, -2, WEIR_E_INVALID },
        { "null, not nullable: empty", KAPI_CREATE_TOPICS, 3, { 0, 0, 0, 0 }, 4, -1, WEIR_OK },
        { "more than the bytes left", KAPI_DELETE_TOPICS, 1, { 0, 0, 0, 0 }, 4, 100, WEIR_E_TRUNCATED },
    };
    struct weir_arena a;
    assert_int_equal(weir_arena_init(&a, 64 << 20), WEIR_OK); /* big: the limit, not the arena, must refuse */
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        print_message("count: %s\n", cases[i].name);
        uint8_t body[4 + 8 + 64] = { 0 };
        memcpy(body, cases[i].prefix, cases[i].prefix_len);
        weir_store_be32(body + cases[i].prefix_len, (uint32_t)cases[i].count);
        size_t n = cases[i].prefix_len + 4 + (cases[i].want == WEIR_E_TRUNCATED ? 8 : 64);
        uint8_t *p = dup_exact(body, n);
        struct weir_rd rd = weir_rd_make(p, n);
        union any_resp got;
        weir_arena_reset(&a);
        assert_int_equal(find_case(cases[i].key)->resp_decode(&rd, cases[i].version, &a, &got), cases[i].want);
        assert_int_equal(a.used, 0); /* refused before allocating */
        free(p);
    }
    /* An aborted-transactions count over its maximum, deep in a Fetch v4 body. */
    struct kbuf b;
    kbuf_init(&b, 0);
    kb_i32(&b, 0);            /* throttle */
    kb_array_len(&b, 1);      /* topics */
    kb_string(&b, kstr_c("t"));
    kb_array_len(&b, 1);      /* partitions */
    kb_i32(&b, 0), kb_i16(&b, 0), kb_i64(&b, 0), kb_i64(&b, 0);
    kb_array_len(&b, KPROTO_ABORTED_MAX + 1);
    for (int k = 0; k < 64; k++) kb_i64(&b, 0);
    uint8_t *p = dup_exact(b.mem, b.mem_len);
    struct weir_rd rd = weir_rd_make(p, b.mem_len);
    struct kfetch_resp fr;
    weir_arena_reset(&a);
    assert_int_equal(kproto_fetch_response_decode(&rd, 4, &a, &fr), WEIR_E_TOO_LARGE);
    free(p);
    kbuf_free(&b);
    weir_arena_destroy(&a);
}

/* ======================================================================== */
/* Fuzz: random mutations of valid response bodies through every decoder     */
/* ======================================================================== */


static bool fuzz_one(const struct api_case *c, int16_t v, const uint8_t *p, size_t n, struct weir_arena *a)
{
    uint8_t *body = dup_exact(p, n);
    struct weir_rd rd = weir_rd_make(body, n);
    union any_resp got;
    weir_arena_reset(a);
    enum weir_err err = c->resp_decode(&rd, v, a, &got);
    assert_true(err == WEIR_OK || err == WEIR_E_TRUNCATED || err == WEIR_E_INVALID || err == WEIR_E_TOO_LARGE ||
                err == WEIR_E_NOMEM);
    assert_true(rd.pos >= body && rd.pos <= body + n);
    if (err == WEIR_OK) {
        struct span sp = { body, body + n };
        c->resp_walk(&got, &sp);
    }
    free(body);
    return err == WEIR_OK;
}

static void test_responses_fuzz(void **state)
{
    (void)state;
    enum { ITER_PER_BODY = 1500, CAP = 2048 };
    uint64_t seed = 0x2545f4914f6cdd1dull;
    struct weir_arena a;
    assert_int_equal(weir_arena_init_growable(&a, 1 << 12, 1 << 20), WEIR_OK);
    uint8_t *buf = malloc(CAP);
    assert_non_null(buf);
    size_t iters = 0, ok = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(api_cases); i++) {
        const struct api_case *c = &api_cases[i];
        const struct kproto_api *api = kproto_api_find(c->key);
        for (int16_t v = api->min; v <= api->max; v++) {
            union any_resp want;
            size_t n0;
            uint8_t *body = resp_body(c, v, &want, &n0);
            assert_true(n0 <= CAP);
            for (int it = 0; it < ITER_PER_BODY; it++, iters++) {
                memcpy(buf, body, n0);
                size_t n = tu_mutate(buf, n0, CAP, &seed);
                ok += fuzz_one(c, v, buf, n, &a);
                /* The same bytes through another decoder at a random supported version. */
                const struct api_case *o = &api_cases[tu_rand(&seed) % WEIR_ARRAY_LEN(api_cases)];
                const struct kproto_api *oa = kproto_api_find(o->key);
                ok += fuzz_one(o, (int16_t)(oa->min + (int16_t)(tu_rand(&seed) % (uint64_t)(oa->max - oa->min + 1))), buf,
                               n, &a);
            }
            free(body);
        }
    }
    print_message("%zu fuzz iterations (x2 decodes), %zu decoded\n", iters, ok);
    assert_true(iters >= 50000);
    assert_true(ok > 0);
    free(buf);
    weir_arena_destroy(&a);
}

static int teardown(void **state)
{
    (void)state;
    if (test_fd >= 0) close(test_fd);
    test_fd = -1;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_cover_table),
        cmocka_unit_test(test_requests_roundtrip),
        cmocka_unit_test(test_responses_roundtrip),
        cmocka_unit_test(test_responses_truncated),
        cmocka_unit_test(test_responses_unsupported_version),
        cmocka_unit_test(test_request_headers),
        cmocka_unit_test(test_response_headers),
        cmocka_unit_test(test_hand_apiversions_v3),
        cmocka_unit_test(test_apiversions_unsupported_answer),
        cmocka_unit_test(test_hand_metadata_v4),
        cmocka_unit_test(test_hand_produce_v7),
        cmocka_unit_test(test_hand_fetch_v11),
        cmocka_unit_test(test_kbuf_borrow_gather),
        cmocka_unit_test(test_kbuf_borrow_cap),
        cmocka_unit_test(test_response_counts),
        cmocka_unit_test(test_responses_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
