/* tests/fuzz/fuzz_proto_response.c: the client's response decoders (a broker,
 * or anything answering on its port, is untrusted input too) and the consumer
 * protocol's embedded subscription and assignment decoders.
 *
 * Input: INT16 api key, INT16 version (what the client asked with), then the
 * response frame after its INT32 size: kproto_response_header_decode, then
 * that API's response decoder, into an arena bounded as the client's. Keys
 * outside the table, and versions the client never sends, are folded into
 * the table (key, version mod the range), so every input reaches a decoder.
 * Key -1 decodes the body as a consumer subscription, -2 as an assignment.
 * Properties: no crash, leak or UB; a decode that succeeds stopped inside
 * the frame. */
#include "proto/proto.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    weir_log_set_level(WEIR_LOG_ERROR);
    return 0;
}

#define DECODE(key, fn, type)                 \
    case key: {                               \
        type r;                               \
        memset(&r, 0, sizeof r);              \
        err = fn(rd, v, a, &r);               \
        break;                                \
    }

static enum weir_err body_decode(struct weir_rd *rd, int16_t key, int16_t v, struct weir_arena *a)
{
    enum weir_err err = WEIR_E_UNSUPPORTED;
    switch (key) {
    DECODE(KAPI_API_VERSIONS, kproto_apiversions_response_decode, struct kapiversions_client_resp)
    DECODE(KAPI_METADATA, kproto_metadata_response_decode, struct kmetadata_resp)
    DECODE(KAPI_PRODUCE, kproto_produce_response_decode, struct kproduce_resp)
    DECODE(KAPI_FETCH, kproto_fetch_response_decode, struct kfetch_resp)
    DECODE(KAPI_LIST_OFFSETS, kproto_listoffsets_response_decode, struct klistoffsets_resp)
    DECODE(KAPI_OFFSET_FOR_LEADER_EPOCH, kproto_offsetforleaderepoch_response_decode, struct koffsetforleaderepoch_resp)
    DECODE(KAPI_CREATE_TOPICS, kproto_createtopics_response_decode, struct kcreatetopics_resp)
    DECODE(KAPI_DELETE_TOPICS, kproto_deletetopics_response_decode, struct kdeletetopics_resp)
    DECODE(KAPI_DELETE_RECORDS, kproto_deleterecords_response_decode, struct kdeleterecords_resp)
    DECODE(KAPI_CREATE_PARTITIONS, kproto_createpartitions_response_decode, struct kcreatepartitions_resp)
    DECODE(KAPI_DESCRIBE_CONFIGS, kproto_describeconfigs_response_decode, struct kdescribeconfigs_resp)
    DECODE(KAPI_INIT_PRODUCER_ID, kproto_initproducerid_response_decode, struct kinitproducerid_resp)
    DECODE(KAPI_FIND_COORDINATOR, kproto_findcoordinator_response_decode, struct kfindcoordinator_resp)
    DECODE(KAPI_JOIN_GROUP, kproto_joingroup_response_decode, struct kjoingroup_resp)
    DECODE(KAPI_SYNC_GROUP, kproto_syncgroup_response_decode, struct ksyncgroup_resp)
    DECODE(KAPI_HEARTBEAT, kproto_heartbeat_response_decode, struct kheartbeat_resp)
    DECODE(KAPI_LEAVE_GROUP, kproto_leavegroup_response_decode, struct kleavegroup_resp)
    DECODE(KAPI_OFFSET_COMMIT, kproto_offsetcommit_response_decode, struct koffsetcommit_resp)
    DECODE(KAPI_OFFSET_FETCH, kproto_offsetfetch_response_decode, struct koffsetfetch_resp)
    DECODE(KAPI_DESCRIBE_GROUPS, kproto_describegroups_response_decode, struct kdescribegroups_resp)
    DECODE(KAPI_LIST_GROUPS, kproto_listgroups_response_decode, struct klistgroups_resp)
    DECODE(KAPI_DELETE_GROUPS, kproto_deletegroups_response_decode, struct kdeletegroups_resp)
    DECODE(KAPI_DESCRIBE_LOG_DIRS, kproto_describelogdirs_response_decode, struct kdescribelogdirs_resp)
    DECODE(KAPI_OFFSET_DELETE, kproto_offsetdelete_response_decode, struct koffsetdelete_resp)
    DECODE(KAPI_DESCRIBE_CLUSTER, kproto_describecluster_response_decode, struct kdescribecluster_resp)
    default: break;
    }
    return err;
}

/* Folds (key, version) onto an implemented API and one of its versions. */
static bool api_pick(int16_t *key, int16_t *v)
{
    size_t n;
    const struct kproto_api *apis = kproto_api_table(&n);
    const struct kproto_api *api = kproto_api_find(*key);
    if (!api || api->min < 0) {
        api = &apis[(uint16_t)*key % n];
        if (api->min < 0) return false;
        *key = api->key;
    }
    *v = (int16_t)(api->min + (uint16_t)*v % (api->max - api->min + 1));
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    int16_t key = (int16_t)weir_load_be16(data), v = (int16_t)weir_load_be16(data + 2);
    size_t len = size - 4;
    uint8_t *frame = weir_malloc(len ? len : 1);
    if (!frame) return 0;
    if (len) memcpy(frame, data + 4, len);
    struct weir_rd rd = weir_rd_make(frame, len);
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 16 << 10, (16 << 10) + 16 * len) != WEIR_OK) {
        weir_free(frame);
        return 0;
    }
    enum weir_err err = WEIR_E_UNSUPPORTED;
    if (key == -1) {
        struct kconsumer_subscription s;
        err = kproto_consumer_subscription_decode(&rd, &a, &s);
    } else if (key == -2) {
        struct kconsumer_assignment as;
        err = kproto_consumer_assignment_decode(&rd, &a, &as);
    } else if (api_pick(&key, &v)) {
        int32_t correlation_id;
        err = kproto_response_header_decode(&rd, key, v, &correlation_id);
        if (err == WEIR_OK) err = body_decode(&rd, key, v, &a);
    }
    FUZZ_CHECK(err != WEIR_OK || (rd.pos >= frame && rd.pos <= frame + len));
    weir_arena_destroy(&a);
    weir_free(frame);
    return 0;
}
