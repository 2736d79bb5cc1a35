/* tests/fuzz/fuzz_proto.c: every Kafka request decoder the broker runs.
 *
 * The input is one request frame after its INT32 size, as net/conn.c hands it
 * to kproto_header_decode: the header (api key, version, correlation id,
 * client id, tags when flexible) picks the decoder, so every API at every
 * version is reachable from the first four bytes. Decoders are called at any
 * version (out-of-range ones must answer WEIR_E_UNSUPPORTED), into a growable
 * arena bounded as the broker bounds it (16 KiB + 16 × frame).
 *
 * Properties, after a WEIR_OK decode (proto.h invariants (1), (2)):
 *  - every decoded string and byte string lies inside the frame, at most
 *    KPROTO_STRING_MAX long for strings; null is {NULL, -1} only;
 *  - every array count is >= 0 (-1 only where nullable) with storage for it;
 *  - Produce records go through the broker's batch checks without harm. */
#include "proto/proto.h"
#include "record/record.h"

#include "fuzz.h"

static const uint8_t *frame_lo, *frame_hi;

static void check_str(struct kstr s)
{
    if (s.len < 0) {
        FUZZ_CHECK(s.len == -1 && s.ptr == NULL);
        return;
    }
    FUZZ_CHECK(s.len <= KPROTO_STRING_MAX);
    FUZZ_CHECK(s.len == 0 || fuzz_within(s.ptr, (size_t)s.len, frame_lo, frame_hi));
    fuzz_touch(s.ptr, (size_t)s.len);
}

static void check_bytes(struct kbytes b)
{
    if (b.len < 0) {
        FUZZ_CHECK(b.len == -1 && b.ptr == NULL);
        return;
    }
    FUZZ_CHECK(b.len == 0 || fuzz_within(b.ptr, (size_t)b.len, frame_lo, frame_hi));
    fuzz_touch(b.ptr, (size_t)b.len);
}

/* A decoded array: n elements at p (arena), or n == -1 when nullable. */
static void check_array(const void *p, int32_t n, size_t size, bool nullable)
{
    FUZZ_CHECK(n >= 0 || (nullable && n == -1));
    FUZZ_CHECK(n <= 0 || p != NULL);
    if (n > 0) fuzz_touch(p, (size_t)n * size);
}

static void check_strs(const struct kstr *v, int32_t n, bool nullable)
{
    check_array(v, n, sizeof *v, nullable);
    for (int32_t i = 0; i < n; i++) check_str(v[i]);
}

/* What the broker does with a partition's records before weir_log_append
 * (net/handle_produce.c precheck, engine/log.c validate), then every record. */
static void produce_records(const uint8_t *p, int32_t n)
{
    if (!p || n < WEIR_BATCH_HEADER_BYTES) return;
    size_t len;
    if (weir_batch_validate(p, (size_t)n, (size_t)n, true, &len) != WEIR_OK) return;
    FUZZ_CHECK(len <= (size_t)n);
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    if (weir_record_iter_init(&it, p, len, &scratch, &scratch_cap, 1 << 20) == WEIR_OK) {
        struct weir_record rec;
        while (weir_record_iter_next(&it, &rec) == WEIR_OK) {}
    }
    weir_free(scratch);
}

static void check_produce(const struct kproduce_req *r)
{
    check_str(r->transactional_id);
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        const struct kproduce_req_topic *tp = &r->topics[t];
        check_str(tp->name);
        check_array(tp->partitions, tp->n_partitions, sizeof *tp->partitions, false);
        for (int32_t i = 0; i < tp->n_partitions; i++) {
            const struct kproduce_req_part *pp = &tp->partitions[i];
            check_bytes((struct kbytes){ pp->records, pp->records_len });
            produce_records(pp->records, pp->records_len);
        }
    }
}

static void check_fetch(const struct kfetch_req *r)
{
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        check_str(r->topics[t].topic);
        check_array(r->topics[t].partitions, r->topics[t].n_partitions, sizeof *r->topics[t].partitions, false);
    }
    check_array(r->forgotten, r->n_forgotten, sizeof *r->forgotten, false);
    for (int32_t t = 0; t < r->n_forgotten; t++) {
        check_str(r->forgotten[t].topic);
        check_array(r->forgotten[t].partitions, r->forgotten[t].n_partitions, sizeof(int32_t), false);
    }
    check_str(r->rack_id);
}

static void check_listoffsets(const struct klistoffsets_req *r)
{
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        check_str(r->topics[t].name);
        check_array(r->topics[t].partitions, r->topics[t].n_partitions, sizeof *r->topics[t].partitions, false);
    }
}

static void check_offsetforleaderepoch(const struct koffsetforleaderepoch_req *r)
{
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        check_str(r->topics[t].topic);
        check_array(r->topics[t].partitions, r->topics[t].n_partitions, sizeof *r->topics[t].partitions, false);
    }
}

static void check_metadata(const struct kmetadata_req *r)
{
    FUZZ_CHECK(!r->all_topics || r->n_topics == 0);
    check_strs(r->topics, r->n_topics, false);
}

static void check_createtopics(const struct kcreatetopics_req *r)
{
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        const struct kcreatetopics_req_topic *tp = &r->topics[t];
        check_str(tp->name);
        check_array(tp->assignments, tp->n_assignments, sizeof *tp->assignments, false);
        for (int32_t i = 0; i < tp->n_assignments; i++)
            check_array(tp->assignments[i].broker_ids, tp->assignments[i].n_broker_ids, sizeof(int32_t), false);
        check_array(tp->configs, tp->n_configs, sizeof *tp->configs, false);
        for (int32_t i = 0; i < tp->n_configs; i++) {
            check_str(tp->configs[i].name);
            check_str(tp->configs[i].value);
        }
    }
}

static void check_createpartitions(const struct kcreatepartitions_req *r)
{
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        const struct kcreatepartitions_req_topic *tp = &r->topics[t];
        check_str(tp->name);
        check_array(tp->assignments, tp->n_assignments, sizeof *tp->assignments, true);
        for (int32_t i = 0; i < tp->n_assignments; i++)
            check_array(tp->assignments[i].broker_ids, tp->assignments[i].n_broker_ids, sizeof(int32_t), false);
    }
}

static void check_describeconfigs(const struct kdescribeconfigs_req *r)
{
    check_array(r->resources, r->n_resources, sizeof *r->resources, false);
    for (int32_t i = 0; i < r->n_resources; i++) {
        check_str(r->resources[i].resource_name);
        check_strs(r->resources[i].config_keys, r->resources[i].n_config_keys, true);
    }
}

static void check_joingroup(const struct kjoingroup_req *r)
{
    check_str(r->group_id);
    check_str(r->member_id);
    check_str(r->group_instance_id);
    check_str(r->protocol_type);
    check_array(r->protocols, r->n_protocols, sizeof *r->protocols, false);
    for (int32_t i = 0; i < r->n_protocols; i++) {
        check_str(r->protocols[i].name);
        check_bytes(r->protocols[i].metadata);
    }
}

static void check_syncgroup(const struct ksyncgroup_req *r)
{
    check_str(r->group_id);
    check_str(r->member_id);
    check_str(r->group_instance_id);
    check_array(r->assignments, r->n_assignments, sizeof *r->assignments, false);
    for (int32_t i = 0; i < r->n_assignments; i++) {
        check_str(r->assignments[i].member_id);
        check_bytes(r->assignments[i].assignment);
    }
}

static void check_leavegroup(const struct kleavegroup_req *r)
{
    check_str(r->group_id);
    check_array(r->members, r->n_members, sizeof *r->members, false);
    for (int32_t i = 0; i < r->n_members; i++) {
        check_str(r->members[i].member_id);
        check_str(r->members[i].group_instance_id);
    }
}

static void check_offsetcommit(const struct koffsetcommit_req *r)
{
    check_str(r->group_id);
    check_str(r->member_id);
    check_str(r->group_instance_id);
    check_array(r->topics, r->n_topics, sizeof *r->topics, false);
    for (int32_t t = 0; t < r->n_topics; t++) {
        check_str(r->topics[t].name);
        check_array(r->topics[t].partitions, r->topics[t].n_partitions, sizeof *r->topics[t].partitions, false);
        for (int32_t i = 0; i < r->topics[t].n_partitions; i++) check_str(r->topics[t].partitions[i].committed_metadata);
    }
}

static void check_offsetfetch(const struct koffsetfetch_req *r)
{
    check_str(r->group_id);
    check_array(r->topics, r->n_topics, sizeof *r->topics, true);
    for (int32_t t = 0; t < r->n_topics; t++) {
        check_str(r->topics[t].name);
        check_array(r->topics[t].partition_indexes, r->topics[t].n_partition_indexes, sizeof(int32_t), false);
    }
}

/* Decodes the body with the decoder of h->api_key and checks what it gave.
 * All request structs share one zeroed union, as a handler's locals would be. */
static void body_decode(struct weir_rd *rd, const struct kreq_header *h, struct weir_arena *a)
{
    union {
        struct kapiversions_req apiversions;
        struct kmetadata_req metadata;
        struct kproduce_req produce;
        struct kfetch_req fetch;
        struct klistoffsets_req listoffsets;
        struct koffsetforleaderepoch_req offsetforleaderepoch;
        struct kcreatetopics_req createtopics;
        struct kdeletetopics_req deletetopics;
        struct kdeleterecords_req deleterecords;
        struct kcreatepartitions_req createpartitions;
        struct kdescribeconfigs_req describeconfigs;
        struct kinitproducerid_req initproducerid;
        struct kfindcoordinator_req findcoordinator;
        struct kjoingroup_req joingroup;
        struct ksyncgroup_req syncgroup;
        struct kheartbeat_req heartbeat;
        struct kleavegroup_req leavegroup;
        struct koffsetcommit_req offsetcommit;
        struct koffsetfetch_req offsetfetch;
        struct kdescribegroups_req describegroups;
        struct klistgroups_req listgroups;
        struct kdeletegroups_req deletegroups;
    } u;
    memset(&u, 0, sizeof u);
    int16_t v = h->api_version;
    enum weir_err err;
    switch (h->api_key) {
    case KAPI_API_VERSIONS:
        if ((err = kproto_apiversions_decode(rd, v, a, &u.apiversions)) != WEIR_OK) break;
        check_str(u.apiversions.client_software_name);
        check_str(u.apiversions.client_software_version);
        break;
    case KAPI_METADATA:
        if ((err = kproto_metadata_decode(rd, v, a, &u.metadata)) == WEIR_OK) check_metadata(&u.metadata);
        break;
    case KAPI_PRODUCE:
        if ((err = kproto_produce_decode(rd, v, a, &u.produce)) == WEIR_OK) check_produce(&u.produce);
        break;
    case KAPI_FETCH:
        if ((err = kproto_fetch_decode(rd, v, a, &u.fetch)) == WEIR_OK) check_fetch(&u.fetch);
        break;
    case KAPI_LIST_OFFSETS:
        if ((err = kproto_listoffsets_decode(rd, v, a, &u.listoffsets)) == WEIR_OK) check_listoffsets(&u.listoffsets);
        break;
    case KAPI_OFFSET_FOR_LEADER_EPOCH:
        if ((err = kproto_offsetforleaderepoch_decode(rd, v, a, &u.offsetforleaderepoch)) == WEIR_OK)
            check_offsetforleaderepoch(&u.offsetforleaderepoch);
        break;
    case KAPI_CREATE_TOPICS:
        if ((err = kproto_createtopics_decode(rd, v, a, &u.createtopics)) == WEIR_OK)
            check_createtopics(&u.createtopics);
        break;
    case KAPI_DELETE_TOPICS:
        if ((err = kproto_deletetopics_decode(rd, v, a, &u.deletetopics)) == WEIR_OK)
            check_strs(u.deletetopics.topic_names, u.deletetopics.n_topic_names, false);
        break;
    case KAPI_DELETE_RECORDS:
        if ((err = kproto_deleterecords_decode(rd, v, a, &u.deleterecords)) == WEIR_OK)
            for (int32_t i = 0; i < u.deleterecords.n_topics; i++) check_str(u.deleterecords.topics[i].name);
        break;
    case KAPI_CREATE_PARTITIONS:
        if ((err = kproto_createpartitions_decode(rd, v, a, &u.createpartitions)) == WEIR_OK)
            check_createpartitions(&u.createpartitions);
        break;
    case KAPI_DESCRIBE_CONFIGS:
        if ((err = kproto_describeconfigs_decode(rd, v, a, &u.describeconfigs)) == WEIR_OK)
            check_describeconfigs(&u.describeconfigs);
        break;
    case KAPI_INIT_PRODUCER_ID:
        if ((err = kproto_initproducerid_decode(rd, v, a, &u.initproducerid)) == WEIR_OK)
            check_str(u.initproducerid.transactional_id);
        break;
    case KAPI_FIND_COORDINATOR:
        if ((err = kproto_findcoordinator_decode(rd, v, a, &u.findcoordinator)) == WEIR_OK)
            check_str(u.findcoordinator.key);
        break;
    case KAPI_JOIN_GROUP:
        if ((err = kproto_joingroup_decode(rd, v, a, &u.joingroup)) == WEIR_OK) check_joingroup(&u.joingroup);
        break;
    case KAPI_SYNC_GROUP:
        if ((err = kproto_syncgroup_decode(rd, v, a, &u.syncgroup)) == WEIR_OK) check_syncgroup(&u.syncgroup);
        break;
    case KAPI_HEARTBEAT:
        if ((err = kproto_heartbeat_decode(rd, v, a, &u.heartbeat)) != WEIR_OK) break;
        check_str(u.heartbeat.group_id);
        check_str(u.heartbeat.member_id);
        check_str(u.heartbeat.group_instance_id);
        break;
    case KAPI_LEAVE_GROUP:
        if ((err = kproto_leavegroup_decode(rd, v, a, &u.leavegroup)) == WEIR_OK) check_leavegroup(&u.leavegroup);
        break;
    case KAPI_OFFSET_COMMIT:
        if ((err = kproto_offsetcommit_decode(rd, v, a, &u.offsetcommit)) == WEIR_OK)
            check_offsetcommit(&u.offsetcommit);
        break;
    case KAPI_OFFSET_FETCH:
        if ((err = kproto_offsetfetch_decode(rd, v, a, &u.offsetfetch)) == WEIR_OK) check_offsetfetch(&u.offsetfetch);
        break;
    case KAPI_DESCRIBE_GROUPS:
        if ((err = kproto_describegroups_decode(rd, v, a, &u.describegroups)) == WEIR_OK)
            check_strs(u.describegroups.groups, u.describegroups.n_groups, false);
        break;
    case KAPI_LIST_GROUPS: err = kproto_listgroups_decode(rd, v, a, &u.listgroups); break;
    case KAPI_DELETE_GROUPS:
        if ((err = kproto_deletegroups_decode(rd, v, a, &u.deletegroups)) == WEIR_OK)
            check_strs(u.deletegroups.groups, u.deletegroups.n_groups, false);
        break;
    default: return; /* the broker answers 35 without decoding */
    }
    /* A supported version decodes or fails with a reader's error; others fail. */
    FUZZ_CHECK(kproto_supported(h->api_key, v) || h->api_key == KAPI_API_VERSIONS || err == WEIR_E_UNSUPPORTED);
    FUZZ_CHECK(err != WEIR_OK || (rd->pos >= frame_lo && rd->pos <= frame_hi));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The broker's frame is its own writable allocation (Produce records are
     * rewritten in place), exactly frame_len bytes: ASan sees any overread. */
    uint8_t *frame = weir_malloc(size ? size : 1);
    if (!frame) return 0;
    if (size) memcpy(frame, data, size);
    frame_lo = frame, frame_hi = frame + size;
    struct weir_rd rd = weir_rd_make(frame, size);
    struct kreq_header h;
    if (kproto_header_decode(&rd, &h) == WEIR_OK) {
        check_str(h.client_id);
        FUZZ_CHECK(rd.pos >= frame_lo && rd.pos <= frame_hi);
        struct weir_arena a;
        if (weir_arena_init_growable(&a, 16 << 10, (16 << 10) + 16 * size) == WEIR_OK) {
            body_decode(&rd, &h, &a);
            weir_arena_destroy(&a);
        }
    }
    weir_free(frame);
    return 0;
}
