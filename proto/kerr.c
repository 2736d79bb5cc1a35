/* proto/kerr.c: Kafka's error codes, one entry per code from -1 on, indexed
 * by code + 1 (dense: every code up to WEIR_KERR_LAST has an entry). Names,
 * numbers and default messages are K clients/src/main/java/org/apache/kafka/
 * common/protocol/Errors.java (README §0); retriable = the exception extends
 * RetriableException there (K clients/.../common/errors/). The name is the enum
 * constant's own token, so the enum and the table cannot disagree. */
#include "proto.h"

#define K(n, retriable, msg) [WEIR_KERR_##n + 1] = { WEIR_KERR_##n, retriable, #n, msg, #n ": " msg }

static const struct weir_kerr_info kerr_table[WEIR_KERR_LAST + 2] = {
    K(UNKNOWN_SERVER_ERROR, 0, "The server experienced an unexpected error when processing the request."),
    [WEIR_KERR_NONE + 1] = { WEIR_KERR_NONE, false, "NONE", "", "NONE" }, /* Kafka has no message for success */
    K(OFFSET_OUT_OF_RANGE, 0, "The requested offset is not within the range of offsets maintained by the server."),
    K(CORRUPT_MESSAGE, 1, "This message has failed its CRC checksum, exceeds the valid size, has a null key for a "
      "compacted topic, or is otherwise corrupt."),
    K(UNKNOWN_TOPIC_OR_PARTITION, 1, "This server does not host this topic-partition."),
    K(INVALID_FETCH_SIZE, 0, "The requested fetch size is invalid."),
    K(LEADER_NOT_AVAILABLE, 1, "There is no leader for this topic-partition as we are in the middle of a leadership "
      "election."),
    K(NOT_LEADER_OR_FOLLOWER, 1, "For requests intended only for the leader, this error indicates that the broker "
      "is not the current leader. For requests intended for any replica, this error indicates that the broker is "
      "not a replica of the topic partition."),
    K(REQUEST_TIMED_OUT, 1, "The request timed out."),
    K(BROKER_NOT_AVAILABLE, 0, "The broker is not available."),
    K(REPLICA_NOT_AVAILABLE, 1, "The replica is not available for the requested topic-partition. Produce/Fetch "
      "requests and other requests intended only for the leader or follower return NOT_LEADER_OR_FOLLOWER if the "
      "broker is not a replica of the topic-partition."),
    K(MESSAGE_TOO_LARGE, 0, "The request included a message larger than the max message size the server will "
      "accept."),
    K(STALE_CONTROLLER_EPOCH, 0, "The controller moved to another broker."),
    K(OFFSET_METADATA_TOO_LARGE, 0, "The metadata field of the offset request was too large."),
    K(NETWORK_EXCEPTION, 1, "The server disconnected before a response was received."),
    K(COORDINATOR_LOAD_IN_PROGRESS, 1, "The coordinator is loading and hence can't process requests."),
    K(COORDINATOR_NOT_AVAILABLE, 1, "The coordinator is not available."),
    K(NOT_COORDINATOR, 1, "This is not the correct coordinator."),
    K(INVALID_TOPIC_EXCEPTION, 0, "The request attempted to perform an operation on an invalid topic."),
    K(RECORD_LIST_TOO_LARGE, 0, "The request included message batch larger than the configured segment size on the "
      "server."),
    K(NOT_ENOUGH_REPLICAS, 1, "Messages are rejected since there are fewer in-sync replicas than required."),
    K(NOT_ENOUGH_REPLICAS_AFTER_APPEND, 1, "Messages are written to the log, but to fewer in-sync replicas than "
      "required."),
    K(INVALID_REQUIRED_ACKS, 0, "Produce request specified an invalid value for required acks."),
    K(ILLEGAL_GENERATION, 0, "Specified group generation id is not valid."),
    K(INCONSISTENT_GROUP_PROTOCOL, 0, "The group member's supported protocols are incompatible with those of "
      "existing members or first group member tried to join with empty protocol type or empty protocol list."),
    K(INVALID_GROUP_ID, 0, "The configured groupId is invalid."),
    K(UNKNOWN_MEMBER_ID, 0, "The coordinator is not aware of this member."),
    K(INVALID_SESSION_TIMEOUT, 0, "The session timeout is not within the range allowed by the broker (as configured "
      "by group.min.session.timeout.ms and group.max.session.timeout.ms)."),
    K(REBALANCE_IN_PROGRESS, 0, "The group is rebalancing, so a rejoin is needed."),
    K(INVALID_COMMIT_OFFSET_SIZE, 0, "The committing offset data size is not valid."),
    K(TOPIC_AUTHORIZATION_FAILED, 0, "Topic authorization failed."),
    K(GROUP_AUTHORIZATION_FAILED, 0, "Group authorization failed."),
    K(CLUSTER_AUTHORIZATION_FAILED, 0, "Cluster authorization failed."),
    K(INVALID_TIMESTAMP, 0, "The timestamp of the message is out of acceptable range."),
    K(UNSUPPORTED_SASL_MECHANISM, 0, "The broker does not support the requested SASL mechanism."),
    K(ILLEGAL_SASL_STATE, 0, "Request is not valid given the current SASL state."),
    K(UNSUPPORTED_VERSION, 0, "The version of API is not supported."),
    K(TOPIC_ALREADY_EXISTS, 0, "Topic with this name already exists."),
    K(INVALID_PARTITIONS, 0, "Number of partitions is below 1."),
    K(INVALID_REPLICATION_FACTOR, 0, "Replication factor is below 1 or larger than the number of available brokers."),
    K(INVALID_REPLICA_ASSIGNMENT, 0, "Replica assignment is invalid."),
    K(INVALID_CONFIG, 0, "Configuration is invalid."),
    K(NOT_CONTROLLER, 1, "This is not the correct controller for this cluster."),
    K(INVALID_REQUEST, 0, "This most likely occurs because of a request being malformed by the client library or "
      "the message was sent to an incompatible broker. See the broker logs for more details."),
    K(UNSUPPORTED_FOR_MESSAGE_FORMAT, 0, "The message format version on the broker does not support the request."),
    K(POLICY_VIOLATION, 0, "Request parameters do not satisfy the configured policy."),
    K(OUT_OF_ORDER_SEQUENCE_NUMBER, 0, "The broker received an out of order sequence number."),
    K(DUPLICATE_SEQUENCE_NUMBER, 0, "The broker received a duplicate sequence number."),
    K(INVALID_PRODUCER_EPOCH, 0, "Producer attempted to produce with an old epoch."),
    K(INVALID_TXN_STATE, 0, "The producer attempted a transactional operation in an invalid state."),
    K(INVALID_PRODUCER_ID_MAPPING, 0, "The producer attempted to use a producer id which is not currently assigned "
      "to its transactional id."),
    K(INVALID_TRANSACTION_TIMEOUT, 0, "The transaction timeout is larger than the maximum value allowed by the "
      "broker (as configured by transaction.max.timeout.ms)."),
    K(CONCURRENT_TRANSACTIONS, 1, "The producer attempted to update a transaction while another concurrent "
      "operation on the same transaction was ongoing."),
    K(TRANSACTION_COORDINATOR_FENCED, 0, "Indicates that the transaction coordinator sending a WriteTxnMarker is no "
      "longer the current coordinator for a given producer."),
    K(TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 0, "Transactional Id authorization failed."),
    K(SECURITY_DISABLED, 0, "Security features are disabled."),
    K(OPERATION_NOT_ATTEMPTED, 0, "The broker did not attempt to execute this operation. This may happen for "
      "batched RPCs where some operations in the batch failed, causing the broker to respond without trying the "
      "rest."),
    K(KAFKA_STORAGE_ERROR, 1, "Disk error when trying to access log file on the disk."),
    K(LOG_DIR_NOT_FOUND, 0, "The user-specified log directory is not found in the broker config."),
    K(SASL_AUTHENTICATION_FAILED, 0, "SASL Authentication failed."),
    K(UNKNOWN_PRODUCER_ID, 0, "This exception is raised by the broker if it could not locate the producer metadata "
      "associated with the producerId in question. This could happen if, for instance, the producer's records "
      "were deleted because their retention time had elapsed. Once the last records of the producerId are "
      "removed, the producer's metadata is removed from the broker, and future appends by the producer will "
      "return this exception."),
    K(REASSIGNMENT_IN_PROGRESS, 0, "A partition reassignment is in progress."),
    K(DELEGATION_TOKEN_AUTH_DISABLED, 0, "Delegation Token feature is not enabled."),
    K(DELEGATION_TOKEN_NOT_FOUND, 0, "Delegation Token is not found on server."),
    K(DELEGATION_TOKEN_OWNER_MISMATCH, 0, "Specified Principal is not valid Owner/Renewer."),
    K(DELEGATION_TOKEN_REQUEST_NOT_ALLOWED, 0, "Delegation Token requests are not allowed on PLAINTEXT/1-way SSL "
      "channels and on delegation token authenticated channels."),
    K(DELEGATION_TOKEN_AUTHORIZATION_FAILED, 0, "Delegation Token authorization failed."),
    K(DELEGATION_TOKEN_EXPIRED, 0, "Delegation Token is expired."),
    K(INVALID_PRINCIPAL_TYPE, 0, "Supplied principalType is not supported."),
    K(NON_EMPTY_GROUP, 0, "The group is not empty."),
    K(GROUP_ID_NOT_FOUND, 0, "The group id does not exist."),
    K(FETCH_SESSION_ID_NOT_FOUND, 1, "The fetch session ID was not found."),
    K(INVALID_FETCH_SESSION_EPOCH, 1, "The fetch session epoch is invalid."),
    K(LISTENER_NOT_FOUND, 1, "There is no listener on the leader broker that matches the listener on which metadata "
      "request was processed."),
    K(TOPIC_DELETION_DISABLED, 0, "Topic deletion is disabled."),
    K(FENCED_LEADER_EPOCH, 1, "The leader epoch in the request is older than the epoch on the broker."),
    K(UNKNOWN_LEADER_EPOCH, 1, "The leader epoch in the request is newer than the epoch on the broker."),
    K(UNSUPPORTED_COMPRESSION_TYPE, 0, "The requesting client does not support the compression type of given "
      "partition."),
    K(STALE_BROKER_EPOCH, 0, "Broker epoch has changed."),
    K(OFFSET_NOT_AVAILABLE, 1, "The leader high watermark has not caught up from a recent leader election so the "
      "offsets cannot be guaranteed to be monotonically increasing."),
    K(MEMBER_ID_REQUIRED, 0, "The group member needs to have a valid member id before actually entering a consumer "
      "group."),
    K(PREFERRED_LEADER_NOT_AVAILABLE, 1, "The preferred leader was not available."),
    K(GROUP_MAX_SIZE_REACHED, 0, "The consumer group has reached its max size."),
    K(FENCED_INSTANCE_ID, 0, "The broker rejected this static consumer since another consumer with the same "
      "group.instance.id has registered with a different member.id."),
    K(ELIGIBLE_LEADERS_NOT_AVAILABLE, 1, "Eligible topic partition leaders are not available."),
    K(ELECTION_NOT_NEEDED, 1, "Leader election not needed for topic partition."),
    K(NO_REASSIGNMENT_IN_PROGRESS, 0, "No partition reassignment is in progress."),
    K(GROUP_SUBSCRIBED_TO_TOPIC, 0, "Deleting offsets of a topic is forbidden while the consumer group is actively "
      "subscribed to it."),
    K(INVALID_RECORD, 0, "This record has failed the validation on broker and hence will be rejected."),
    K(UNSTABLE_OFFSET_COMMIT, 1, "There are unstable offsets that need to be cleared."),
    K(THROTTLING_QUOTA_EXCEEDED, 1, "The throttling quota has been exceeded."),
    K(PRODUCER_FENCED, 0, "There is a newer producer with the same transactionalId which fences the current one."),
    K(RESOURCE_NOT_FOUND, 0, "A request illegally referred to a resource that does not exist."),
    K(DUPLICATE_RESOURCE, 0, "A request illegally referred to the same resource twice."),
    K(UNACCEPTABLE_CREDENTIAL, 0, "Requested credential would not meet criteria for acceptability."),
    K(INCONSISTENT_VOTER_SET, 0, "Indicates that the either the sender or recipient of a voter-only request is not "
      "one of the expected voters."),
    K(INVALID_UPDATE_VERSION, 0, "The given update version was invalid."),
    K(FEATURE_UPDATE_FAILED, 0, "Unable to update finalized features due to an unexpected server error."),
    K(PRINCIPAL_DESERIALIZATION_FAILURE, 0, "Request principal deserialization failed during forwarding. This "
      "indicates an internal error on the broker cluster security setup."),
    K(SNAPSHOT_NOT_FOUND, 0, "Requested snapshot was not found."),
    K(POSITION_OUT_OF_RANGE, 0, "Requested position is not greater than or equal to zero, and less than the size of "
      "the snapshot."),
    K(UNKNOWN_TOPIC_ID, 1, "This server does not host this topic ID."),
    K(DUPLICATE_BROKER_REGISTRATION, 0, "This broker ID is already in use."),
    K(BROKER_ID_NOT_REGISTERED, 0, "The given broker ID was not registered."),
    K(INCONSISTENT_TOPIC_ID, 1, "The log's topic ID did not match the topic ID in the request."),
    K(INCONSISTENT_CLUSTER_ID, 0, "The clusterId in the request does not match that found on the server."),
    K(TRANSACTIONAL_ID_NOT_FOUND, 0, "The transactionalId could not be found."),
    K(FETCH_SESSION_TOPIC_ID_ERROR, 1, "The fetch session encountered inconsistent topic ID usage."),
    K(INELIGIBLE_REPLICA, 0, "The new ISR contains at least one ineligible replica."),
    K(NEW_LEADER_ELECTED, 0, "The AlterPartition request successfully updated the partition state but the leader "
      "has changed."),
    K(OFFSET_MOVED_TO_TIERED_STORAGE, 0, "The requested offset is moved to tiered storage."),
    K(FENCED_MEMBER_EPOCH, 0, "The member epoch is fenced by the group coordinator. The member must abandon all its "
      "partitions and rejoin."),
    K(UNRELEASED_INSTANCE_ID, 0, "The instance ID is still used by another member in the consumer group. That "
      "member must leave first."),
    K(UNSUPPORTED_ASSIGNOR, 0, "The assignor or its version range is not supported by the consumer group."),
    K(STALE_MEMBER_EPOCH, 0, "The member epoch is stale. The member must retry after receiving its updated member "
      "epoch via the ConsumerGroupHeartbeat API."),
    K(MISMATCHED_ENDPOINT_TYPE, 0, "The request was sent to an endpoint of the wrong type."),
    K(UNSUPPORTED_ENDPOINT_TYPE, 0, "This endpoint type is not supported yet."),
    K(UNKNOWN_CONTROLLER_ID, 0, "This controller ID is not known."),
    K(UNKNOWN_SUBSCRIPTION_ID, 0, "Client sent a push telemetry request with an invalid or outdated subscription "
      "ID."),
    K(TELEMETRY_TOO_LARGE, 0, "Client sent a push telemetry request larger than the maximum size the broker will "
      "accept."),
    K(INVALID_REGISTRATION, 0, "The controller has considered the broker registration to be invalid."),
    K(TRANSACTION_ABORTABLE, 0, "The server encountered an error with the transaction. The client can abort the "
      "transaction to continue using this transactional ID."),
    K(INVALID_RECORD_STATE, 0, "The record state is invalid. The acknowledgement of delivery could not be "
      "completed."),
    K(SHARE_SESSION_NOT_FOUND, 1, "The share session was not found."),
    K(INVALID_SHARE_SESSION_EPOCH, 1, "The share session epoch is invalid."),
    K(FENCED_STATE_EPOCH, 0, "The share coordinator rejected the request because the share-group state epoch did "
      "not match."),
    K(INVALID_VOTER_KEY, 0, "The voter key doesn't match the receiving replica's key."),
    K(DUPLICATE_VOTER, 0, "The voter is already part of the set of voters."),
    K(VOTER_NOT_FOUND, 0, "The voter is not part of the set of voters."),
    K(INVALID_REGULAR_EXPRESSION, 0, "The regular expression is not valid."),
};

static const struct weir_kerr_info kerr_unknown = {
    .code = WEIR_KERR_UNKNOWN_SERVER_ERROR, /* as Errors.forCode maps codes it does not know */
    .retriable = false,
    .name = "UNKNOWN_CODE",
    .message = "error code not known to this build",
    .str = "UNKNOWN_CODE: error code not known to this build",
};

const struct weir_kerr_info *weir_kerr_table(size_t *n)
{
    *n = WEIR_ARRAY_LEN(kerr_table);
    return kerr_table;
}

const struct weir_kerr_info *weir_kerr_find(int16_t code)
{
    if (code < WEIR_KERR_UNKNOWN_SERVER_ERROR || code > WEIR_KERR_LAST) return NULL;
    return &kerr_table[code + 1];
}

static const struct weir_kerr_info *info(int16_t code)
{
    const struct weir_kerr_info *k = weir_kerr_find(code);
    return k ? k : &kerr_unknown;
}

const char *weir_kerr_name(int16_t code) { return info(code)->name; }
const char *weir_kerr_message(int16_t code) { return info(code)->message; }
const char *weir_kerr_str(int16_t code) { return info(code)->str; }
bool weir_kerr_retriable(int16_t code) { return info(code)->retriable; }

int16_t weir_kerr_from_err(enum weir_err e)
{
    switch (e) {
    case WEIR_OK:
    case WEIR_E_DUPLICATE: return WEIR_KERR_NONE; /* the original's offset is the answer */
    case WEIR_E_OFFSET_RANGE: return WEIR_KERR_OFFSET_OUT_OF_RANGE;
    case WEIR_E_TRUNCATED:
    case WEIR_E_CRC: return WEIR_KERR_CORRUPT_MESSAGE;
    case WEIR_E_NOT_FOUND: return WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    case WEIR_E_SEGMENT_FULL:
    case WEIR_E_TOO_LARGE: return WEIR_KERR_MESSAGE_TOO_LARGE;
    case WEIR_E_BAD_NAME: return WEIR_KERR_INVALID_TOPIC_EXCEPTION;
    case WEIR_E_EXISTS: return WEIR_KERR_TOPIC_ALREADY_EXISTS;
    case WEIR_E_BAD_PARTITIONS: return WEIR_KERR_INVALID_PARTITIONS;
    case WEIR_E_BAD_CONFIG: return WEIR_KERR_INVALID_CONFIG;
    case WEIR_E_IO:
    case WEIR_E_NOSPACE:
    case WEIR_E_FAILED:
    case WEIR_E_CORRUPT: return WEIR_KERR_KAFKA_STORAGE_ERROR;
    case WEIR_E_UNSUPPORTED: return WEIR_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    case WEIR_E_INVALID: return WEIR_KERR_INVALID_RECORD;
    case WEIR_E_OUT_OF_SEQUENCE: return WEIR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
    case WEIR_E_PRODUCER_EPOCH: return WEIR_KERR_INVALID_PRODUCER_EPOCH;
    case WEIR_E_TRANSACTIONAL: return WEIR_KERR_INVALID_TXN_STATE;
    case WEIR_E_TIMEOUT: return WEIR_KERR_REQUEST_TIMED_OUT;
    case WEIR_E_UNAVAILABLE: return WEIR_KERR_NOT_CONTROLLER; /* retriable: the client asks again */
    case WEIR_E_STALE: return WEIR_KERR_NOT_LEADER_OR_FOLLOWER;
    case WEIR_E_TIMESTAMP: return WEIR_KERR_INVALID_TIMESTAMP;
    case WEIR_E_NOMEM:
    case WEIR_E_BUSY:
    case WEIR_E_CLOSED: return WEIR_KERR_UNKNOWN_SERVER_ERROR;
    }
    return WEIR_KERR_UNKNOWN_SERVER_ERROR;
}
