/* client/err.c: the client's error space (client.h): names for local errors
 * and Kafka codes, and what the Sender does with each Kafka code.
 * Retry classes follow Kafka's RetriableException subclasses and librdkafka's
 * rd_kafka_handle_Produce_error actions; CORRUPT_MESSAGE is final here (our
 * bytes do not change between tries, so the broker would refuse them again). */
#include "client_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const local_text[] = {
    [-WEIR_CLIENT_E_INVALID_ARG - 100] = "E_INVALID_ARG: invalid argument",
    [-WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE - 100] = "E_MSG_SIZE_TOO_LARGE: record larger than message.max.bytes or buffer.memory",
    [-WEIR_CLIENT_E_UNKNOWN_PARTITION - 100] = "E_UNKNOWN_PARTITION: partition not in the topic",
    [-WEIR_CLIENT_E_QUEUE_FULL - 100] = "E_QUEUE_FULL: buffer.memory full for max.block.ms",
    [-WEIR_CLIENT_E_TIMED_OUT - 100] = "E_TIMED_OUT: operation timed out",
    [-WEIR_CLIENT_E_MSG_TIMED_OUT - 100] = "E_MSG_TIMED_OUT: not delivered within delivery.timeout.ms",
    [-WEIR_CLIENT_E_CLOSED - 100] = "E_CLOSED: closing or closed",
    [-WEIR_CLIENT_E_FATAL - 100] = "E_FATAL: producer in fatal error state",
    [-WEIR_CLIENT_E_TRANSPORT - 100] = "E_TRANSPORT: connection failed",
    [-WEIR_CLIENT_E_BAD_MSG - 100] = "E_BAD_MSG: malformed response",
    [-WEIR_CLIENT_E_UNSUPPORTED - 100] = "E_UNSUPPORTED: broker lacks a required API version",
    [-WEIR_CLIENT_E_NOMEM - 100] = "E_NOMEM: out of memory",
    [-WEIR_CLIENT_E_RESOLVE - 100] = "E_RESOLVE: host name did not resolve",
    [-WEIR_CLIENT_E_BAD_CONFIG - 100] = "E_BAD_CONFIG: inconsistent configuration",
    [-WEIR_CLIENT_E_STATE - 100] = "E_STATE: not possible in the consumer's state",
};

/* Kafka's names (Errors.java), by code. */
static const char *const kafka_text[] = {
    [0] = "NONE: success",
    [1] = "OFFSET_OUT_OF_RANGE: offset out of range",
    [2] = "CORRUPT_MESSAGE: record failed its CRC or is corrupt",
    [3] = "UNKNOWN_TOPIC_OR_PARTITION: this server does not host this topic-partition",
    [4] = "INVALID_FETCH_SIZE: invalid fetch size",
    [5] = "LEADER_NOT_AVAILABLE: no leader for this partition",
    [6] = "NOT_LEADER_OR_FOLLOWER: this server is not the leader",
    [7] = "REQUEST_TIMED_OUT: the request timed out",
    [8] = "BROKER_NOT_AVAILABLE: broker not available",
    [9] = "REPLICA_NOT_AVAILABLE: replica not available",
    [10] = "MESSAGE_TOO_LARGE: larger than the broker's max message size",
    [11] = "STALE_CONTROLLER_EPOCH: stale controller epoch",
    [12] = "OFFSET_METADATA_TOO_LARGE: offset metadata too large",
    [13] = "NETWORK_EXCEPTION: server disconnected before a response",
    [14] = "COORDINATOR_LOAD_IN_PROGRESS: coordinator loading",
    [15] = "COORDINATOR_NOT_AVAILABLE: coordinator not available",
    [16] = "NOT_COORDINATOR: not the coordinator",
    [17] = "INVALID_TOPIC_EXCEPTION: invalid topic name",
    [18] = "RECORD_LIST_TOO_LARGE: batch larger than the segment size",
    [19] = "NOT_ENOUGH_REPLICAS: fewer in-sync replicas than required",
    [20] = "NOT_ENOUGH_REPLICAS_AFTER_APPEND: written to fewer replicas than required",
    [21] = "INVALID_REQUIRED_ACKS: invalid acks",
    [22] = "ILLEGAL_GENERATION: illegal generation",
    [23] = "INCONSISTENT_GROUP_PROTOCOL: no protocol that every member supports",
    [24] = "INVALID_GROUP_ID: invalid group id",
    [25] = "UNKNOWN_MEMBER_ID: unknown member",
    [26] = "INVALID_SESSION_TIMEOUT: session timeout out of the broker's range",
    [27] = "REBALANCE_IN_PROGRESS: rebalance in progress",
    [28] = "INVALID_COMMIT_OFFSET_SIZE: commit request too large",
    [29] = "TOPIC_AUTHORIZATION_FAILED: not authorized for the topic",
    [30] = "GROUP_AUTHORIZATION_FAILED: not authorized for the group",
    [31] = "CLUSTER_AUTHORIZATION_FAILED: not authorized for the cluster",
    [32] = "INVALID_TIMESTAMP: timestamp out of the accepted range",
    [35] = "UNSUPPORTED_VERSION: API version not supported",
    [36] = "TOPIC_ALREADY_EXISTS: topic exists",
    [37] = "INVALID_PARTITIONS: invalid partition count",
    [40] = "INVALID_CONFIG: invalid config",
    [41] = "NOT_CONTROLLER: not the controller",
    [42] = "INVALID_REQUEST: malformed request",
    [43] = "UNSUPPORTED_FOR_MESSAGE_FORMAT: message format not supported",
    [44] = "POLICY_VIOLATION: policy violation",
    [45] = "OUT_OF_ORDER_SEQUENCE_NUMBER: producer sequence out of order",
    [46] = "DUPLICATE_SEQUENCE_NUMBER: duplicate producer sequence",
    [47] = "INVALID_PRODUCER_EPOCH: producer epoch fenced",
    [48] = "INVALID_TXN_STATE: invalid transaction state",
    [49] = "INVALID_PRODUCER_ID_MAPPING: invalid producer id mapping",
    [51] = "CONCURRENT_TRANSACTIONS: concurrent transactions",
    [56] = "KAFKA_STORAGE_ERROR: broker storage error (its disk is full or failing)",
    [59] = "UNKNOWN_PRODUCER_ID: broker lost the producer's state",
    [68] = "NON_EMPTY_GROUP: the group has members",
    [69] = "GROUP_ID_NOT_FOUND: no such group",
    [79] = "MEMBER_ID_REQUIRED: rejoin with the member id given",
    [74] = "FENCED_LEADER_EPOCH: leader epoch older than the broker's",
    [75] = "UNKNOWN_LEADER_EPOCH: leader epoch newer than the broker's",
    [76] = "UNSUPPORTED_COMPRESSION_TYPE: compression codec not supported",
    [82] = "FENCED_INSTANCE_ID: another consumer joined with the same group.instance.id",
    [87] = "INVALID_RECORD: record failed validation",
    [89] = "THROTTLING_QUOTA_EXCEEDED: quota exceeded",
    [90] = "PRODUCER_FENCED: producer fenced",
};

const char *weir_client_err_str(int err)
{
    if (err == -1) return "UNKNOWN_SERVER_ERROR: unexpected broker error";
    if (err >= 0 && (size_t)err < WEIR_ARRAY_LEN(kafka_text) && kafka_text[err]) return kafka_text[err];
    if (err <= -101 && err >= WEIR_CLIENT_E_FIRST) return local_text[-err - 100];
    if (err >= 0) return "KAFKA_ERROR: broker error code not known to this client";
    return "E_UNKNOWN: unknown error code";
}

const char *weir_client_err_text(int err)
{
    const char *s = weir_client_err_str(err), *colon = strchr(s, ':');
    return colon ? colon + 2 : s; /* every entry is "NAME: text" */
}

enum cl_action cl_err_action(int err)
{
    switch (err) {
    case 0:
    case WEIR_KAFKA_DUPLICATE_SEQUENCE_NUMBER: /* an earlier try was written */
        return CL_ACT_OK;
    case WEIR_KAFKA_UNKNOWN_TOPIC_OR_PARTITION:
    case WEIR_KAFKA_LEADER_NOT_AVAILABLE:
    case WEIR_KAFKA_NOT_LEADER_OR_FOLLOWER:
    case 8:  /* BROKER_NOT_AVAILABLE */
    case 9:  /* REPLICA_NOT_AVAILABLE */
    case WEIR_KAFKA_NETWORK_EXCEPTION:
    case WEIR_KAFKA_KAFKA_STORAGE_ERROR:
    case WEIR_KAFKA_FENCED_LEADER_EPOCH:
    case WEIR_KAFKA_UNKNOWN_LEADER_EPOCH:
    case WEIR_CLIENT_E_TRANSPORT:
    case WEIR_CLIENT_E_BAD_MSG:
    case WEIR_CLIENT_E_TIMED_OUT:
        return CL_ACT_RETRY_REFRESH;
    case WEIR_KAFKA_REQUEST_TIMED_OUT:
    case WEIR_KAFKA_NOT_ENOUGH_REPLICAS:
    case WEIR_KAFKA_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case 14: /* COORDINATOR_LOAD_IN_PROGRESS */
    case 15: /* COORDINATOR_NOT_AVAILABLE */
    case 16: /* NOT_COORDINATOR */
    case 51: /* CONCURRENT_TRANSACTIONS */
    case WEIR_KAFKA_THROTTLING_QUOTA_EXCEEDED:
        return CL_ACT_RETRY;
    case WEIR_KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case WEIR_KAFKA_UNKNOWN_PRODUCER_ID:
        return CL_ACT_SEQUENCE;
    default:
        return CL_ACT_FAIL;
    }
}

bool cl_err_retriable(int err)
{
    enum cl_action a = cl_err_action(err);
    return a == CL_ACT_RETRY || a == CL_ACT_RETRY_REFRESH;
}

void cl_errbuf(char *buf, size_t size, const char *fmt, ...)
{
    if (!buf || size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}
