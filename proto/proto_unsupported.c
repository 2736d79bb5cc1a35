/* proto/proto_unsupported.c: the answer to a request at a version this codec
 * does not serve (outside its API's [min, max] in the API table; ApiVersions
 * has its own, kproto_apiversions_encode_unsupported). Apache Kafka closes
 * the connection there; weir answers and keeps it open. The body is the
 * API's own response at the nearest served version (its shape is the closest
 * one weir knows), empty, with 35 UNSUPPORTED_VERSION in the top-level
 * error_code where that version has one: Fetch v7+, OffsetFetch v2+,
 * FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ListGroups,
 * InitProducerId, DescribeLogDirs v3+, OffsetDelete, DescribeCluster. The
 * others (Metadata, Produce, ListOffsets, OffsetCommit, DescribeGroups,
 * the admin APIs, OffsetForLeaderEpoch, DeleteGroups) have per-topic or
 * per-resource errors only, and a request weir cannot read
 * names none: they get the empty answer. A key the codec does not serve at
 * all gets a body of the code alone (2 bytes). */
#include "proto.h"

void kproto_unsupported_encode(struct kbuf *out, int16_t key, int16_t version)
{
    const struct kproto_api *api = kproto_api_find(key);
    if (!api || api->min < 0 || key == KAPI_API_VERSIONS) {
        kb_i16(out, WEIR_KERR_UNSUPPORTED_VERSION);
        return;
    }
    WEIR_ASSERT(!kproto_supported(key, version));
    int16_t v = version < api->min ? api->min : api->max;
    const int16_t e = WEIR_KERR_UNSUPPORTED_VERSION;
    switch (key) {
    case KAPI_PRODUCE: kproto_produce_encode(out, v, &(struct kproduce_resp){ 0 }); break;
    case KAPI_FETCH: kproto_fetch_encode(out, v, &(struct kfetch_resp){ .error_code = e }); break;
    case KAPI_LIST_OFFSETS: kproto_listoffsets_encode(out, v, &(struct klistoffsets_resp){ 0 }); break;
    case KAPI_METADATA:
        kproto_metadata_encode(out, v, &(struct kmetadata_resp){ .controller_id = -1, .cluster_id = KSTR_NULL,
                                                                 .cluster_authorized_operations =
                                                                     KPROTO_AUTHORIZED_OPS_NONE });
        break;
    case KAPI_OFFSET_COMMIT: kproto_offsetcommit_encode(out, v, &(struct koffsetcommit_resp){ 0 }); break;
    case KAPI_OFFSET_FETCH: kproto_offsetfetch_encode(out, v, &(struct koffsetfetch_resp){ .error_code = e }); break;
    case KAPI_FIND_COORDINATOR:
        kproto_findcoordinator_encode(out, v, &(struct kfindcoordinator_resp){ .error_code = e,
                                                                              .error_message = KSTR_NULL });
        break;
    case KAPI_JOIN_GROUP: kproto_joingroup_encode(out, v, &(struct kjoingroup_resp){ .error_code = e }); break;
    case KAPI_HEARTBEAT: kproto_heartbeat_encode(out, v, &(struct kheartbeat_resp){ .error_code = e }); break;
    case KAPI_LEAVE_GROUP: kproto_leavegroup_encode(out, v, &(struct kleavegroup_resp){ .error_code = e }); break;
    case KAPI_SYNC_GROUP: kproto_syncgroup_encode(out, v, &(struct ksyncgroup_resp){ .error_code = e }); break;
    case KAPI_DESCRIBE_GROUPS: kproto_describegroups_encode(out, v, &(struct kdescribegroups_resp){ 0 }); break;
    case KAPI_LIST_GROUPS: kproto_listgroups_encode(out, v, &(struct klistgroups_resp){ .error_code = e }); break;
    case KAPI_CREATE_TOPICS: kproto_createtopics_encode(out, v, &(struct kcreatetopics_resp){ 0 }); break;
    case KAPI_DELETE_TOPICS: kproto_deletetopics_encode(out, v, &(struct kdeletetopics_resp){ 0 }); break;
    case KAPI_DELETE_RECORDS: kproto_deleterecords_encode(out, v, &(struct kdeleterecords_resp){ 0 }); break;
    case KAPI_INIT_PRODUCER_ID:
        kproto_initproducerid_encode(out, v, &(struct kinitproducerid_resp){ .error_code = e, .producer_id = -1,
                                                                            .producer_epoch = -1 });
        break;
    case KAPI_OFFSET_FOR_LEADER_EPOCH:
        kproto_offsetforleaderepoch_encode(out, v, &(struct koffsetforleaderepoch_resp){ 0 });
        break;
    case KAPI_DESCRIBE_CONFIGS: kproto_describeconfigs_encode(out, v, &(struct kdescribeconfigs_resp){ 0 }); break;
    case KAPI_CREATE_PARTITIONS:
        kproto_createpartitions_encode(out, v, &(struct kcreatepartitions_resp){ 0 });
        break;
    case KAPI_DELETE_GROUPS: kproto_deletegroups_encode(out, v, &(struct kdeletegroups_resp){ 0 }); break;
    case KAPI_DESCRIBE_LOG_DIRS:
        kproto_describelogdirs_encode(out, v, &(struct kdescribelogdirs_resp){ .error_code = e });
        break;
    case KAPI_OFFSET_DELETE: kproto_offsetdelete_encode(out, v, &(struct koffsetdelete_resp){ .error_code = e }); break;
    case KAPI_DESCRIBE_CLUSTER:
        kproto_describecluster_encode(out, v, &(struct kdescribecluster_resp){
                                                  .error_code = e, .error_message = KSTR_NULL, .controller_id = -1,
                                                  .cluster_authorized_operations = KPROTO_AUTHORIZED_OPS_NONE });
        break;
    default: kb_i16(out, e); break; /* served, but not listed here: the code alone */
    }
}
