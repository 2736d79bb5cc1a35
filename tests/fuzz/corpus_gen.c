/* tests/fuzz/corpus_gen.c: writes the seed corpora of the fuzz harnesses
 * from weir's own encoders and engine, so every seed is a valid input:
 *   fuzz_proto/     one request frame (header + body, no size) per API and
 *                   supported version, from the client's request encoders
 *   fuzz_batch/     RecordBatches (plain, each codec, headers, nulls) and an LZ4 frame
 *   fuzz_segment/   partition directories written by weir_log_* and packed in
 *                   fuzz_segment.c's layout (recovery and clean variants)
 *   fuzz_config/, fuzz_client_conf/   config lines
 * fuzz_znode/ is not written here: its seeds are znode JSON as Kafka writes
 * it (repl/znode.c's samples), kept by hand.
 * Usage: fuzz_corpus_gen OUT_DIR (tests/fuzz/corpus). Deterministic except
 * the segment seeds' timestamps, which are fixed too. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "proto/proto.h"
#include "record/record.h"

#include "fuzz.h"

static const char *out_dir;

static void put(const char *target, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) FUZZ_CHECK(!"mkdir");
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    fclose(f);
}

static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

/* ---- batches -------------------------------------------------------------- */

static size_t batch_make(uint8_t *buf, size_t cap, enum weir_codec codec, int n, bool headers, int64_t pid,
                         int32_t seq)
{
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    static const struct weir_header hs[2] = { { (const uint8_t *)"h1", 2, (const uint8_t *)"v1", 2 },
                                              { (const uint8_t *)"h2", 2, NULL, -1 } };
    for (int i = 0; i < n; i++) {
        char v[32];
        int vn = snprintf(v, sizeof v, "value-%d-value-%d", i, i);
        FUZZ_CHECK(weir_batch_builder_add(&b, 1700000000000 + i, i % 3 ? "key" : NULL, i % 3 ? 3 : -1, v, vn,
                                          headers ? hs : NULL, headers ? 2 : 0) == WEIR_OK);
    }
    size_t len;
    FUZZ_CHECK(weir_batch_builder_finish(&b, pid, pid >= 0 ? 0 : -1, seq, &len) == WEIR_OK);
    return len;
}

static void batches(void)
{
    uint8_t buf[8192];
    size_t n;
    n = batch_make(buf, sizeof buf, WEIR_CODEC_NONE, 1, false, -1, -1), put("fuzz_batch", "plain1", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_NONE, 5, true, -1, -1), put("fuzz_batch", "plain5_headers", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_NONE, 3, false, 7, 0), put("fuzz_batch", "idempotent3", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_LZ4, 1, false, -1, -1), put("fuzz_batch", "lz4_1", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_LZ4, 20, true, -1, -1), put("fuzz_batch", "lz4_20_headers", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_GZIP, 20, true, -1, -1), put("fuzz_batch", "gzip_20_headers", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_SNAPPY, 20, true, -1, -1), put("fuzz_batch", "snappy_20_headers", buf, n);
    n = batch_make(buf, sizeof buf, WEIR_CODEC_ZSTD, 20, true, 7, 0), put("fuzz_batch", "zstd_20_idempotent", buf, n);
    static const char text[] = "an LZ4 frame as Kafka writes it, an LZ4 frame as Kafka writes it";
    uint8_t frame[256];
    FUZZ_CHECK(weir_lz4_compress((const uint8_t *)text, sizeof text, frame, sizeof frame, &n) == WEIR_OK);
    put("fuzz_batch", "lz4_frame", frame, n);
}

/* ---- requests ----------------------------------------------------------------- */

static void kbuf_put(const char *target, const char *name, const struct kbuf *b)
{
    FUZZ_CHECK(b->err == WEIR_OK);
    size_t total = (size_t)kbuf_total_len(b), at = 0;
    uint8_t *p = weir_malloc(total + 1);
    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; i < kbuf_chunk_count(b); i++) {
        struct kchunk c = kbuf_chunk(b, i);
        FUZZ_CHECK(c.kind != KCHUNK_FILE);
        memcpy(p + at, c.kind == KCHUNK_MEM ? b->mem + c.mem_off : c.mem, c.len);
        at += c.len;
    }
    FUZZ_CHECK(at == total);
    put(target, name, p, total);
    weir_free(p);
}

static struct kstr S(const char *s) { return kstr_c(s); }

/* Encodes the body of (key, v) from sample structs. */
static void request_body(struct kbuf *out, int16_t key, int16_t v)
{
    static uint8_t batch[1024];
    static size_t batch_len;
    if (!batch_len) batch_len = batch_make(batch, sizeof batch, WEIR_CODEC_NONE, 2, true, -1, -1);
    struct kstr topics[2] = { S("orders"), S("t.2") };
    int32_t ids[3] = { 0, 1, 2 };
    switch (key) {
    case KAPI_API_VERSIONS:
        kproto_apiversions_request_encode(out, v, &(struct kapiversions_req){ S("weir"), S("0.1.0") });
        break;
    case KAPI_METADATA:
        kproto_metadata_request_encode(out, v, &(struct kmetadata_req){ .n_topics = 2, .topics = topics,
                                                                          .allow_auto_topic_creation = true });
        break;
    case KAPI_PRODUCE: {
        struct kproduce_req_part parts[2] = { { 0, batch, (int32_t)batch_len }, { 1, NULL, -1 } };
        struct kproduce_req_topic t = { S("orders"), parts, 2 };
        kproto_produce_request_encode(out, v, &(struct kproduce_req){ .transactional_id = KSTR_NULL, .acks = -1,
                                                                        .timeout_ms = 30000, .topics = &t, .n_topics = 1 });
        break;
    }
    case KAPI_FETCH: {
        struct kfetch_req_part parts[2] = { { 0, -1, 42, -1, -1, 1 << 20 }, { 1, 5, 0, 4, 0, 65536 } };
        struct kfetch_req_topic t = { S("orders"), parts, 2, { { 1, 2, 3 } } };
        struct kfetch_forgotten f = { S("old"), ids, 2, { { 4 } } };
        kproto_fetch_request_encode(out, v, &(struct kfetch_req){ -1, 500, 1, 52428800, 1, 7, 3, &t, 1, &f, 1, S("rack1") });
        break;
    }
    case KAPI_LIST_OFFSETS: {
        struct klistoffsets_req_part parts[2] = { { 0, -1, 3, 1 }, { 1, -2, -1, 5 } };
        struct klistoffsets_req_topic t = { S("orders"), parts, 2 };
        kproto_listoffsets_request_encode(out, v, &(struct klistoffsets_req){ -1, 0, &t, 1 });
        break;
    }
    case KAPI_OFFSET_FOR_LEADER_EPOCH: {
        struct koffsetforleaderepoch_req_part parts[2] = { { 0, 5, 4 }, { 1, -1, 0 } };
        struct koffsetforleaderepoch_req_topic t = { S("orders"), parts, 2 };
        kproto_offsetforleaderepoch_request_encode(out, v, &(struct koffsetforleaderepoch_req){ 2, &t, 1 });
        break;
    }
    case KAPI_CREATE_TOPICS: {
        struct kcreatetopics_assignment as = { 0, ids, 1 };
        struct kconfig_entry cf[2] = { { S("retention.ms"), S("86400000") }, { S("cleanup.policy"), KSTR_NULL } };
        struct kcreatetopics_req_topic ts[2] = { { S("new1"), 3, 1, NULL, 0, cf, 2 }, { S("new2"), -1, -1, &as, 1, NULL, 0 } };
        kproto_createtopics_request_encode(out, v, &(struct kcreatetopics_req){ ts, 2, 30000, false });
        break;
    }
    case KAPI_DELETE_TOPICS:
        kproto_deletetopics_request_encode(out, v, &(struct kdeletetopics_req){ topics, 2, NULL, 30000 });
        break;
    case KAPI_DELETE_RECORDS: {
        struct kdeleterecords_req_part dp[2] = { { 0, 42 }, { 1, KPROTO_DELETE_RECORDS_HW } };
        struct kdeleterecords_req_topic dt = { S("orders"), dp, 2 };
        kproto_deleterecords_request_encode(out, v, &(struct kdeleterecords_req){ &dt, 1, 30000 });
        break;
    }
    case KAPI_CREATE_PARTITIONS: {
        struct kcreatepartitions_assignment as[2] = { { ids, 1 }, { ids + 1, 1 } };
        struct kcreatepartitions_req_topic ts[2] = { { S("orders"), 4, as, 2 }, { S("t.2"), 8, NULL, -1 } };
        kproto_createpartitions_request_encode(out, v, &(struct kcreatepartitions_req){ ts, 2, 30000, true });
        break;
    }
    case KAPI_DESCRIBE_CONFIGS: {
        struct kstr keys[2] = { S("retention.ms"), S("segment.bytes") };
        struct kdescribeconfigs_resource rs[2] = { { KRESOURCE_TOPIC, S("orders"), keys, 2 },
                                                   { KRESOURCE_BROKER, S("0"), NULL, -1 } };
        kproto_describeconfigs_request_encode(out, v, &(struct kdescribeconfigs_req){ rs, 2, true, false });
        break;
    }
    case KAPI_INIT_PRODUCER_ID:
        kproto_initproducerid_request_encode(out, v, &(struct kinitproducerid_req){ KSTR_NULL, 60000, -1, -1 });
        break;
    case KAPI_FIND_COORDINATOR:
        kproto_findcoordinator_request_encode(out, v, &(struct kfindcoordinator_req){ .key = S("group-a") });
        break;
    case KAPI_JOIN_GROUP: {
        static const uint8_t meta[] = { 0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0 };
        struct kjoingroup_protocol ps[2] = { { S("range"), { meta, sizeof meta } }, { S("roundrobin"), { meta, sizeof meta } } };
        kproto_joingroup_request_encode(out, v, &(struct kjoingroup_req){ S("group-a"), 45000, 300000, S(""),
                                                                            v >= 5 ? S("inst-1") : KSTR_NULL,
                                                                            S("consumer"), ps, 2, KSTR_NULL });
        break;
    }
    case KAPI_SYNC_GROUP: {
        static const uint8_t as[] = { 0, 1, 0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's', 0, 0, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
        struct ksyncgroup_assignment a[1] = { { S("member-1"), { as, sizeof as } } };
        kproto_syncgroup_request_encode(out, v, &(struct ksyncgroup_req){ S("group-a"), 1, S("member-1"), KSTR_NULL, a, 1, KSTR_NULL, KSTR_NULL });
        break;
    }
    case KAPI_HEARTBEAT:
        kproto_heartbeat_request_encode(out, v, &(struct kheartbeat_req){ S("group-a"), 1, S("member-1"), KSTR_NULL });
        break;
    case KAPI_LEAVE_GROUP: {
        struct kleavegroup_member ms[2] = { { S("member-1"), KSTR_NULL, 0, KSTR_NULL }, { S("member-2"), S("inst-2"), 0, S("bye") } };
        kproto_leavegroup_request_encode(out, v, &(struct kleavegroup_req){ S("group-a"), ms, v >= 3 ? 2 : 1 });
        break;
    }
    case KAPI_OFFSET_COMMIT: {
        struct koffsetcommit_req_part ps[2] = { { 0, 42, -1, S("meta"), -1 }, { 1, 7, 3, KSTR_NULL, -1 } };
        struct koffsetcommit_req_topic t = { S("orders"), ps, 2 };
        kproto_offsetcommit_request_encode(out, v, &(struct koffsetcommit_req){ S("group-a"), 1, S("member-1"),
                                                                                  KSTR_NULL, &t, 1, -1 });
        break;
    }
    case KAPI_OFFSET_FETCH: {
        struct koffsetfetch_req_topic t = { S("orders"), ids, 3 };
        kproto_offsetfetch_request_encode(out, v, &(struct koffsetfetch_req){ .group_id = S("group-a"), .topics = &t, .n_topics = 1 });
        break;
    }
    case KAPI_DESCRIBE_GROUPS: {
        struct kstr gs[2] = { S("group-a"), S("group-b") };
        kproto_describegroups_request_encode(out, v, &(struct kdescribegroups_req){ gs, 2, false });
        break;
    }
    case KAPI_LIST_GROUPS: kproto_listgroups_request_encode(out, v, NULL); break;
    case KAPI_DELETE_GROUPS: {
        struct kstr gs[2] = { S("group-a"), S("group-b") };
        kproto_deletegroups_request_encode(out, v, &(struct kdeletegroups_req){ gs, 2 });
        break;
    }
    case KAPI_DESCRIBE_LOG_DIRS: {
        struct kdescribelogdirs_req_topic t = { S("orders"), ids, 3 };
        kproto_describelogdirs_request_encode(out, v, &(struct kdescribelogdirs_req){ &t, 1 });
        break;
    }
    case KAPI_OFFSET_DELETE: {
        struct koffsetdelete_req_topic t = { S("orders"), ids, 2 };
        kproto_offsetdelete_request_encode(out, v, &(struct koffsetdelete_req){ S("group-a"), &t, 1 });
        break;
    }
    case KAPI_DESCRIBE_CLUSTER:
        kproto_describecluster_request_encode(out, v, &(struct kdescribecluster_req){ true, KPROTO_ENDPOINT_BROKERS });
        break;
    default: FUZZ_CHECK(!"unknown api");
    }
}

static void requests(void)
{
    size_t n;
    const struct kproto_api *apis = kproto_api_table(&n);
    for (size_t i = 0; i < n; i++) {
        for (int16_t v = apis[i].min; apis[i].min >= 0 && v <= apis[i].max; v++) {
            struct kbuf b;
            kbuf_init(&b, 0);
            struct kreq_header h = { apis[i].key, v, 1000 + v, S("weir-seed") };
            kproto_header_encode(&b, &h);
            request_body(&b, apis[i].key, v);
            char name[64];
            snprintf(name, sizeof name, "%s_v%d", apis[i].name, v);
            kbuf_put("fuzz_proto", name, &b);
            kbuf_free(&b);
        }
    }
}

/* Responses: zeroed (empty) bodies from the broker's encoders, behind the
 * key and version prefix fuzz_proto_response.c reads. */
static void response_body(struct kbuf *out, int16_t key, int16_t v)
{
    static const int32_t zeros[64];
    const void *z = zeros;
    switch (key) {
    case KAPI_API_VERSIONS: kproto_apiversions_encode(out, v, z); break;
    case KAPI_METADATA: kproto_metadata_encode(out, v, z); break;
    case KAPI_PRODUCE: kproto_produce_encode(out, v, z); break;
    case KAPI_FETCH: kproto_fetch_encode(out, v, z); break;
    case KAPI_LIST_OFFSETS: kproto_listoffsets_encode(out, v, z); break;
    case KAPI_OFFSET_FOR_LEADER_EPOCH: kproto_offsetforleaderepoch_encode(out, v, z); break;
    case KAPI_CREATE_TOPICS: kproto_createtopics_encode(out, v, z); break;
    case KAPI_DELETE_TOPICS: kproto_deletetopics_encode(out, v, z); break;
    case KAPI_DELETE_RECORDS: kproto_deleterecords_encode(out, v, z); break;
    case KAPI_CREATE_PARTITIONS: kproto_createpartitions_encode(out, v, z); break;
    case KAPI_DESCRIBE_CONFIGS: kproto_describeconfigs_encode(out, v, z); break;
    case KAPI_INIT_PRODUCER_ID: kproto_initproducerid_encode(out, v, z); break;
    case KAPI_FIND_COORDINATOR: kproto_findcoordinator_encode(out, v, z); break;
    case KAPI_JOIN_GROUP: kproto_joingroup_encode(out, v, z); break;
    case KAPI_SYNC_GROUP: kproto_syncgroup_encode(out, v, z); break;
    case KAPI_HEARTBEAT: kproto_heartbeat_encode(out, v, z); break;
    case KAPI_LEAVE_GROUP: kproto_leavegroup_encode(out, v, z); break;
    case KAPI_OFFSET_COMMIT: kproto_offsetcommit_encode(out, v, z); break;
    case KAPI_OFFSET_FETCH: kproto_offsetfetch_encode(out, v, z); break;
    case KAPI_DESCRIBE_GROUPS: kproto_describegroups_encode(out, v, z); break;
    case KAPI_LIST_GROUPS: kproto_listgroups_encode(out, v, z); break;
    case KAPI_DELETE_GROUPS: kproto_deletegroups_encode(out, v, z); break;
    case KAPI_DESCRIBE_LOG_DIRS: kproto_describelogdirs_encode(out, v, z); break;
    case KAPI_OFFSET_DELETE: kproto_offsetdelete_encode(out, v, z); break;
    case KAPI_DESCRIBE_CLUSTER: kproto_describecluster_encode(out, v, z); break;
    default: FUZZ_CHECK(!"unknown api");
    }
}

static void responses(void)
{
    size_t n;
    const struct kproto_api *apis = kproto_api_table(&n);
    for (size_t i = 0; i < n; i++) {
        for (int16_t v = apis[i].min; apis[i].min >= 0 && v <= apis[i].max; v++) {
            struct kbuf b;
            kbuf_init(&b, 0);
            kb_i16(&b, apis[i].key);
            kb_i16(&b, v);
            kb_i32(&b, 1000 + v);
            if (kproto_response_header_v1(apis[i].key, v)) kb_tags_empty(&b);
            response_body(&b, apis[i].key, v);
            char name[64];
            snprintf(name, sizeof name, "%s_v%d", apis[i].name, v);
            kbuf_put("fuzz_proto_response", name, &b);
            kbuf_free(&b);
        }
    }
    struct kstr topics[2] = { S("orders"), S("t.2") };
    int32_t parts[3] = { 0, 1, 2 };
    struct kconsumer_topic_parts tp = { S("orders"), parts, 3 };
    struct kbuf b;
    kbuf_init(&b, 0);
    kb_i16(&b, -1);
    kb_i16(&b, 0);
    kproto_consumer_subscription_encode(&b, &(struct kconsumer_subscription){ 1, topics, 2, { NULL, -1 }, &tp, 1 });
    kbuf_put("fuzz_proto_response", "consumer_subscription_v1", &b);
    kbuf_reset(&b);
    kb_i16(&b, -2);
    kb_i16(&b, 0);
    kproto_consumer_assignment_encode(&b, &(struct kconsumer_assignment){ 1, &tp, 1, { (const uint8_t *)"ud", 2 } });
    kbuf_put("fuzz_proto_response", "consumer_assignment_v1", &b);
    kbuf_free(&b);
}

/* ---- segments -------------------------------------------------------------------- */

enum { FLAG_CLEAN = 1, FLAG_FIX_SNAPSHOT = 2, FLAG_FIX_BATCHES = 4 }; /* as fuzz_segment.c */

static size_t file_read(const char *dir, const char *name, uint8_t *p, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, p, cap);
    close(fd);
    FUZZ_CHECK(n >= 0 && (size_t)n < cap);
    return (size_t)n;
}

static void on_done(struct weir_append *a) { FUZZ_CHECK(a->err == WEIR_OK); }

/* A log of `batches` appends (idempotent when pid >= 0), closed cleanly,
 * packed as fuzz_segment.c reads it, once per flags value given. */
static void segment(const char *name, int batches, int64_t pid, enum weir_codec codec)
{
    char dir[] = "/tmp/weir-corpus-gen-XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    struct weir_appender *ap;
    FUZZ_CHECK(weir_appender_create(64, &ap) == WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 1 << 20, cfg.segment_index_bytes = 64 << 10, cfg.index_interval_bytes = 256;
    struct weir_log *log;
    FUZZ_CHECK(weir_log_open(dir, &cfg, ap, NULL, &log) == WEIR_OK);
    static uint8_t bufs[64][2048];
    struct weir_append as[64];
    FUZZ_CHECK(batches <= 64);
    for (int i = 0; i < batches; i++) {
        /* 1 + i % 4 records each: the next sequence starts where this one ends */
        int32_t seq = 0;
        for (int j = 0; j < i; j++) seq += 1 + j % 4;
        size_t len = batch_make(bufs[i], sizeof bufs[i], codec, 1 + i % 4, i % 2, pid, pid >= 0 ? seq : -1);
        as[i] = (struct weir_append){ .batch = bufs[i], .len = len, .on_done = on_done };
        FUZZ_CHECK(weir_log_append(log, &as[i]) == WEIR_OK);
        weir_appender_drain(ap);
    }
    weir_log_close(log);
    weir_appender_destroy(ap);

    static uint8_t idx[8192], tidx[8192], snap[8192], seg[1 << 17], out[sizeof idx * 3 + sizeof seg + 8];
    size_t ni = file_read(dir, "00000000000000000000.index", idx, sizeof idx);
    size_t nt = file_read(dir, "00000000000000000000.timeindex", tidx, sizeof tidx);
    size_t nl = file_read(dir, "00000000000000000000.log", seg, sizeof seg);
    size_t ns = 0;
    DIR *d = opendir(dir);
    FUZZ_CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strstr(e->d_name, ".snapshot")) ns = file_read(dir, e->d_name, snap, sizeof snap);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.') unlink(path);
    }
    closedir(d);
    rmdir(dir);
    static const uint8_t flag_sets[] = { 0, FLAG_CLEAN, FLAG_FIX_BATCHES | FLAG_FIX_SNAPSHOT };
    static const char *const flag_names[] = { "recover", "clean", "fixcrc" };
    for (size_t f = 0; f < sizeof flag_sets; f++) {
        size_t at = 0;
        out[at++] = flag_sets[f];
        weir_store_be16(out + at, (uint16_t)ni), at += 2;
        weir_store_be16(out + at, (uint16_t)nt), at += 2;
        weir_store_be16(out + at, (uint16_t)ns), at += 2;
        memcpy(out + at, idx, ni), at += ni;
        memcpy(out + at, tidx, nt), at += nt;
        memcpy(out + at, snap, ns), at += ns;
        memcpy(out + at, seg, nl), at += nl;
        char fname[96];
        snprintf(fname, sizeof fname, "%s_%s", name, flag_names[f]);
        put("fuzz_segment", fname, out, at);
    }
}

static void segments(void)
{
    segment("plain", 12, -1, WEIR_CODEC_NONE);
    segment("idempotent", 10, 42, WEIR_CODEC_NONE);
    segment("lz4", 6, -1, WEIR_CODEC_LZ4);
    segment("one", 1, -1, WEIR_CODEC_NONE);
}

/* ---- configs ------------------------------------------------------------------- */

static void configs(void)
{
    put_text("fuzz_config", "server.properties",
             "# weir broker\nlisten=127.0.0.1:9092\nlog.dirs=/tmp/weir-data\nnum.partitions=3\n"
             "  log.retention.hours = 168\n! comment\nlog.segment.bytes=1073741824\nmessage.max.bytes=1048588\n"
             "auto.create.topics.enable=false\nsocket.request.max.bytes=104857600\n"
             "offsets.retention.minutes=10080\nweir.fetch.send.mode=copy\nbroker.id=1\n");
    put_text("fuzz_config", "topic", "retention.ms=86400000\nsegment.bytes=16384\nsegment.index.bytes=4096\n"
                                     "index.interval.bytes=4096\nretention.bytes=-1\nmax.message.bytes=1000000\n"
                                     "flush.messages=1\nflush.ms=1000\nsegment.ms=604800000\n");
    char text[2048];
    struct weir_log_config c;
    weir_log_config_default(&c);
    size_t n = weir_log_config_format(&c, text, sizeof text);
    put("fuzz_config", "log_config_format", text, n);
    put_text("fuzz_config", "bad", "segment.bytes=-1\nnum.partitions=abc\nunknown.key=1\nnoequals\n=\n");
    put_text("fuzz_client_conf", "producer",
             "bootstrap.servers=127.0.0.1:9092,localhost:9093\nlinger.ms=5\nacks=all\nenable.idempotence=true\n"
             "compression.type=lz4\nbatch.size=16384\nretries=5\nclient.id=seed\nmax.in.flight=5\n");
    put_text("fuzz_client_conf", "consumer",
             "group.id=g1\nauto.offset.reset=earliest\nenable.auto.commit=false\nsession.timeout.ms=45000\n"
             "partition.assignment.strategy=range,roundrobin\ngroup.instance.id=i1\nfetch.max.bytes=52428800\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    weir_log_set_level(WEIR_LOG_ERROR);
    batches();
    requests();
    responses();
    segments();
    configs();
    return 0;
}
