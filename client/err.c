/* client/err.c: the client's error space (client.h): names for local errors
 * and Kafka codes (proto's table), and what the Sender does with each code.
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

/* The client's own wording of the codes it commonly sees, for users (the
 * name and the codes themselves are proto's table; other codes read Kafka's
 * default message from it). */
#define T(n, text) [WEIR_KERR_##n + 1] = #n ": " text
static const char *const kafka_text[] = {
    T(UNKNOWN_SERVER_ERROR, "unexpected broker error"),
    T(NONE, "success"),
    T(OFFSET_OUT_OF_RANGE, "offset out of range"),
    T(CORRUPT_MESSAGE, "record failed its CRC or is corrupt"),
    T(UNKNOWN_TOPIC_OR_PARTITION, "this server does not host this topic-partition"),
    T(INVALID_FETCH_SIZE, "invalid fetch size"),
    T(LEADER_NOT_AVAILABLE, "no leader for this partition"),
    T(NOT_LEADER_OR_FOLLOWER, "this server is not the leader"),
    T(REQUEST_TIMED_OUT, "the request timed out"),
    T(BROKER_NOT_AVAILABLE, "broker not available"),
    T(REPLICA_NOT_AVAILABLE, "replica not available"),
    T(MESSAGE_TOO_LARGE, "larger than the broker's max message size"),
    T(STALE_CONTROLLER_EPOCH, "stale controller epoch"),
    T(OFFSET_METADATA_TOO_LARGE, "offset metadata too large"),
    T(NETWORK_EXCEPTION, "server disconnected before a response"),
    T(COORDINATOR_LOAD_IN_PROGRESS, "coordinator loading"),
    T(COORDINATOR_NOT_AVAILABLE, "coordinator not available"),
    T(NOT_COORDINATOR, "not the coordinator"),
    T(INVALID_TOPIC_EXCEPTION, "invalid topic name"),
    T(RECORD_LIST_TOO_LARGE, "batch larger than the segment size"),
    T(NOT_ENOUGH_REPLICAS, "fewer in-sync replicas than required"),
    T(NOT_ENOUGH_REPLICAS_AFTER_APPEND, "written to fewer replicas than required"),
    T(INVALID_REQUIRED_ACKS, "invalid acks"),
    T(ILLEGAL_GENERATION, "illegal generation"),
    T(INCONSISTENT_GROUP_PROTOCOL, "no protocol that every member supports"),
    T(INVALID_GROUP_ID, "invalid group id"),
    T(UNKNOWN_MEMBER_ID, "unknown member"),
    T(INVALID_SESSION_TIMEOUT, "session timeout out of the broker's range"),
    T(REBALANCE_IN_PROGRESS, "rebalance in progress"),
    T(INVALID_COMMIT_OFFSET_SIZE, "commit request too large"),
    T(TOPIC_AUTHORIZATION_FAILED, "not authorized for the topic"),
    T(GROUP_AUTHORIZATION_FAILED, "not authorized for the group"),
    T(CLUSTER_AUTHORIZATION_FAILED, "not authorized for the cluster"),
    T(INVALID_TIMESTAMP, "timestamp out of the accepted range"),
    T(UNSUPPORTED_VERSION, "API version not supported"),
    T(TOPIC_ALREADY_EXISTS, "topic exists"),
    T(INVALID_PARTITIONS, "invalid partition count"),
    T(INVALID_CONFIG, "invalid config"),
    T(NOT_CONTROLLER, "not the controller"),
    T(INVALID_REQUEST, "malformed request"),
    T(UNSUPPORTED_FOR_MESSAGE_FORMAT, "message format not supported"),
    T(POLICY_VIOLATION, "policy violation"),
    T(OUT_OF_ORDER_SEQUENCE_NUMBER, "producer sequence out of order"),
    T(DUPLICATE_SEQUENCE_NUMBER, "duplicate producer sequence"),
    T(INVALID_PRODUCER_EPOCH, "producer epoch fenced"),
    T(INVALID_TXN_STATE, "invalid transaction state"),
    T(INVALID_PRODUCER_ID_MAPPING, "invalid producer id mapping"),
    T(CONCURRENT_TRANSACTIONS, "concurrent transactions"),
    T(KAFKA_STORAGE_ERROR, "broker storage error (its disk is full or failing)"),
    T(UNKNOWN_PRODUCER_ID, "broker lost the producer's state"),
    T(NON_EMPTY_GROUP, "the group has members"),
    T(GROUP_ID_NOT_FOUND, "no such group"),
    T(FENCED_LEADER_EPOCH, "leader epoch older than the broker's"),
    T(UNKNOWN_LEADER_EPOCH, "leader epoch newer than the broker's"),
    T(UNSUPPORTED_COMPRESSION_TYPE, "compression codec not supported"),
    T(MEMBER_ID_REQUIRED, "rejoin with the member id given"),
    T(FENCED_INSTANCE_ID, "another consumer joined with the same group.instance.id"),
    T(INVALID_RECORD, "record failed validation"),
    T(THROTTLING_QUOTA_EXCEEDED, "quota exceeded"),
    T(PRODUCER_FENCED, "producer fenced"),
};
#undef T

/* The public names are proto's codes. */
#define SAME(n) _Static_assert((int)WEIR_KAFKA_##n == (int)WEIR_KERR_##n, "WEIR_KAFKA_" #n)
SAME(UNKNOWN_SERVER_ERROR);
SAME(OFFSET_OUT_OF_RANGE);
SAME(CORRUPT_MESSAGE);
SAME(UNKNOWN_TOPIC_OR_PARTITION);
SAME(LEADER_NOT_AVAILABLE);
SAME(NOT_LEADER_OR_FOLLOWER);
SAME(REQUEST_TIMED_OUT);
SAME(MESSAGE_TOO_LARGE);
SAME(NETWORK_EXCEPTION);
SAME(INVALID_TOPIC_EXCEPTION);
SAME(RECORD_LIST_TOO_LARGE);
SAME(NOT_ENOUGH_REPLICAS);
SAME(NOT_ENOUGH_REPLICAS_AFTER_APPEND);
SAME(INVALID_REQUIRED_ACKS);
SAME(ILLEGAL_GENERATION);
SAME(INCONSISTENT_GROUP_PROTOCOL);
SAME(INVALID_GROUP_ID);
SAME(UNKNOWN_MEMBER_ID);
SAME(INVALID_SESSION_TIMEOUT);
SAME(REBALANCE_IN_PROGRESS);
SAME(TOPIC_AUTHORIZATION_FAILED);
SAME(CLUSTER_AUTHORIZATION_FAILED);
SAME(INVALID_TIMESTAMP);
SAME(UNSUPPORTED_VERSION);
SAME(INVALID_REQUEST);
SAME(UNSUPPORTED_FOR_MESSAGE_FORMAT);
SAME(OUT_OF_ORDER_SEQUENCE_NUMBER);
SAME(DUPLICATE_SEQUENCE_NUMBER);
SAME(INVALID_PRODUCER_EPOCH);
SAME(KAFKA_STORAGE_ERROR);
SAME(UNKNOWN_PRODUCER_ID);
SAME(FENCED_LEADER_EPOCH);
SAME(UNKNOWN_LEADER_EPOCH);
SAME(UNSUPPORTED_COMPRESSION_TYPE);
SAME(FENCED_INSTANCE_ID);
SAME(INVALID_RECORD);
SAME(THROTTLING_QUOTA_EXCEEDED);
#undef SAME

const char *weir_client_err_str(int err)
{
    if (err >= WEIR_KERR_UNKNOWN_SERVER_ERROR && err <= WEIR_KERR_LAST) {
        const char *s = (size_t)(err + 1) < WEIR_ARRAY_LEN(kafka_text) ? kafka_text[err + 1] : NULL;
        return s ? s : weir_kerr_str((int16_t)err);
    }
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
    case WEIR_KERR_NONE:
    case WEIR_KERR_DUPLICATE_SEQUENCE_NUMBER: /* an earlier try was written */
        return CL_ACT_OK;
    case WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case WEIR_KERR_LEADER_NOT_AVAILABLE:
    case WEIR_KERR_NOT_LEADER_OR_FOLLOWER:
    case WEIR_KERR_BROKER_NOT_AVAILABLE: /* not retriable in Kafka; librdkafka refreshes and retries */
    case WEIR_KERR_REPLICA_NOT_AVAILABLE:
    case WEIR_KERR_NETWORK_EXCEPTION:
    case WEIR_KERR_KAFKA_STORAGE_ERROR:
    case WEIR_KERR_FENCED_LEADER_EPOCH:
    case WEIR_KERR_UNKNOWN_LEADER_EPOCH:
    case WEIR_CLIENT_E_TRANSPORT:
    case WEIR_CLIENT_E_BAD_MSG:
    case WEIR_CLIENT_E_TIMED_OUT:
        return CL_ACT_RETRY_REFRESH;
    case WEIR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case WEIR_KERR_UNKNOWN_PRODUCER_ID:
        return CL_ACT_SEQUENCE;
    case WEIR_KERR_CORRUPT_MESSAGE: /* retriable in Kafka; final here (see the top) */
        return CL_ACT_FAIL;
    default: /* any other wire code: as Kafka's table says */
        if (err >= WEIR_KERR_UNKNOWN_SERVER_ERROR && err <= WEIR_KERR_LAST && weir_kerr_retriable((int16_t)err))
            return CL_ACT_RETRY;
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
