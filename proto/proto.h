/* proto/proto.h: the Kafka protocol codec, shared by the broker (net/) and
 * the client (client/). The one public header of proto/.
 *
 * Pure functions, no I/O, no global mutable state. Five parts:
 *  - the API table: supported (advertised) version ranges, each API's first
 *    flexible version (schemas/<Api>Request.json "flexibleVersions"), and the
 *    header versions that follow from it (README §1);
 *  - the error table (proto/kerr.c): every Kafka error code with its name,
 *    retriable flag and message, and the mapping from base.h's weir_err;
 *  - readers over a base.h `struct weir_rd` (first error sticks) for every
 *    protocol primitive; strings and bytes are borrowed from the frame;
 *  - `struct kbuf`, the output buffer: growable memory plus a chunk list that
 *    interleaves memory with file ranges (Fetch records go out by
 *    sendfile/splice) and borrowed memory (Produce records go out from the
 *    producer's batch buffers), so record bytes are never copied (STYLE 2.14);
 *  - per API, in proto/proto_<api>.c, both directions: the broker's request
 *    decoder and response encoder, the client's request encoder and response
 *    decoder, over the same structs.
 *
 * Invariants:
 *  (1) a decoder reads only inside [rd->pos, rd->end). Every array count from the
 *      wire is checked against a named KPROTO_*_MAX and against the bytes left
 *      (each element takes >= 1 byte) before anything is allocated, so arena use
 *      is bounded by a small multiple of the frame size.
 *  (2) decoded kstr/kbytes point into the frame and live as long as it does;
 *      decoded arrays live in the arena until weir_arena_reset.
 *  (3) encoders write the body only and never fail by themselves: kbuf errors
 *      are sticky, and the caller checks kbuf.err once before sending.
 *  (4) kbuf chunks, in order, are exactly the frame bytes: MEM chunks cover
 *      [0, mem_len) of kbuf.mem without gaps, FILE and BORROW chunks sit
 *      between them.
 * Threads: nothing shared; a kbuf and an arena belong to one connection. */
#ifndef WEIR_PROTO_H
#define WEIR_PROTO_H

#include <sys/uio.h>

#include "base/base.h"

/* ---- limits on counts read from the wire ------------------------------- */

enum {
    KPROTO_TOPICS_MAX = 10000,      /* topics per request */
    KPROTO_PARTITIONS_MAX = 100000, /* partitions (or assignments) per topic */
    KPROTO_CONFIGS_MAX = 1000,      /* configs / config keys per topic or resource */
    KPROTO_RESOURCES_MAX = 10000,   /* DescribeConfigs resources */
    KPROTO_REPLICAS_MAX = 1000,     /* broker ids per assignment */
    KPROTO_STRING_MAX = 32767,      /* any string, as Kafka's generated readers check */
    /* responses (the client side) */
    KPROTO_CLUSTER_TOPICS_MAX = 200000, /* topics in a Metadata response: a whole cluster's */
    KPROTO_BROKERS_MAX = 10000,         /* brokers in a Metadata response */
    KPROTO_API_KEYS_MAX = 1000,         /* ApiVersions entries */
    KPROTO_ABORTED_MAX = 1 << 20,       /* aborted transactions per Fetch partition */
};

/* ---- API keys and the version table -------------------------------------- */

enum kapi_key {
    KAPI_PRODUCE = 0,
    KAPI_FETCH = 1,
    KAPI_LIST_OFFSETS = 2,
    KAPI_METADATA = 3,
    KAPI_OFFSET_COMMIT = 8,
    KAPI_OFFSET_FETCH = 9,
    KAPI_FIND_COORDINATOR = 10,
    KAPI_JOIN_GROUP = 11,
    KAPI_HEARTBEAT = 12,
    KAPI_LEAVE_GROUP = 13,
    KAPI_SYNC_GROUP = 14,
    KAPI_DESCRIBE_GROUPS = 15,
    KAPI_LIST_GROUPS = 16,
    KAPI_API_VERSIONS = 18,
    KAPI_CREATE_TOPICS = 19,
    KAPI_DELETE_TOPICS = 20,
    KAPI_DELETE_RECORDS = 21,
    KAPI_INIT_PRODUCER_ID = 22,
    KAPI_OFFSET_FOR_LEADER_EPOCH = 23,
    KAPI_DESCRIBE_CONFIGS = 32,
    KAPI_ALTER_CONFIGS = 33,
    KAPI_DESCRIBE_LOG_DIRS = 35,
    KAPI_CREATE_PARTITIONS = 37,
    KAPI_DELETE_GROUPS = 42,
    KAPI_INCREMENTAL_ALTER_CONFIGS = 44,
    KAPI_OFFSET_DELETE = 47,
    KAPI_DESCRIBE_CLUSTER = 60,
};

struct kproto_api {
    int16_t key;
    int16_t min, max;  /* supported and advertised; -1, -1 = not implemented */
    int16_t flex_from; /* first flexible version, from the schema */
    const char *name;
};

/* Every API key the codec knows, ascending by key. Static, read-only. */
const struct kproto_api *kproto_api_table(size_t *n);
/* The table entry of `key`, or NULL when the key is unknown. */
const struct kproto_api *kproto_api_find(int16_t key);
/* Is (key, version) within the advertised range? */
bool kproto_supported(int16_t key, int16_t version);
/* Does (key, version) use flexible encoding (request header v2, compact
 * strings and arrays, tagged sections)? False for unknown keys. */
bool kproto_request_flexible(int16_t key, int16_t version);
/* Response header v1 (correlation id + tags) or v0: flexible, except that
 * ApiVersions always answers with header v0 (KIP-511). */
bool kproto_response_header_v1(int16_t key, int16_t version);

/* ---- Kafka error codes ------------------------------------------------------ */

/* Every code of Kafka's protocol error list by its official name (K
 * Errors.java, README §0): the one set of names for codes on the wire, used by
 * the broker (net/) and the client (client/). Dense from -1 to WEIR_KERR_LAST. */
enum weir_kerr {
    WEIR_KERR_UNKNOWN_SERVER_ERROR = -1,
    WEIR_KERR_NONE = 0,
    WEIR_KERR_OFFSET_OUT_OF_RANGE = 1,
    WEIR_KERR_CORRUPT_MESSAGE = 2,
    WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    WEIR_KERR_INVALID_FETCH_SIZE = 4,
    WEIR_KERR_LEADER_NOT_AVAILABLE = 5,
    WEIR_KERR_NOT_LEADER_OR_FOLLOWER = 6,
    WEIR_KERR_REQUEST_TIMED_OUT = 7,
    WEIR_KERR_BROKER_NOT_AVAILABLE = 8,
    WEIR_KERR_REPLICA_NOT_AVAILABLE = 9,
    WEIR_KERR_MESSAGE_TOO_LARGE = 10,
    WEIR_KERR_STALE_CONTROLLER_EPOCH = 11,
    WEIR_KERR_OFFSET_METADATA_TOO_LARGE = 12,
    WEIR_KERR_NETWORK_EXCEPTION = 13,
    WEIR_KERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
    WEIR_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    WEIR_KERR_NOT_COORDINATOR = 16,
    WEIR_KERR_INVALID_TOPIC_EXCEPTION = 17,
    WEIR_KERR_RECORD_LIST_TOO_LARGE = 18,
    WEIR_KERR_NOT_ENOUGH_REPLICAS = 19,
    WEIR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
    WEIR_KERR_INVALID_REQUIRED_ACKS = 21,
    WEIR_KERR_ILLEGAL_GENERATION = 22,
    WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL = 23,
    WEIR_KERR_INVALID_GROUP_ID = 24,
    WEIR_KERR_UNKNOWN_MEMBER_ID = 25,
    WEIR_KERR_INVALID_SESSION_TIMEOUT = 26,
    WEIR_KERR_REBALANCE_IN_PROGRESS = 27,
    WEIR_KERR_INVALID_COMMIT_OFFSET_SIZE = 28,
    WEIR_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    WEIR_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    WEIR_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    WEIR_KERR_INVALID_TIMESTAMP = 32,
    WEIR_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    WEIR_KERR_ILLEGAL_SASL_STATE = 34,
    WEIR_KERR_UNSUPPORTED_VERSION = 35,
    WEIR_KERR_TOPIC_ALREADY_EXISTS = 36,
    WEIR_KERR_INVALID_PARTITIONS = 37,
    WEIR_KERR_INVALID_REPLICATION_FACTOR = 38,
    WEIR_KERR_INVALID_REPLICA_ASSIGNMENT = 39,
    WEIR_KERR_INVALID_CONFIG = 40,
    WEIR_KERR_NOT_CONTROLLER = 41,
    WEIR_KERR_INVALID_REQUEST = 42,
    WEIR_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    WEIR_KERR_POLICY_VIOLATION = 44,
    WEIR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
    WEIR_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
    WEIR_KERR_INVALID_PRODUCER_EPOCH = 47,
    WEIR_KERR_INVALID_TXN_STATE = 48,
    WEIR_KERR_INVALID_PRODUCER_ID_MAPPING = 49,
    WEIR_KERR_INVALID_TRANSACTION_TIMEOUT = 50,
    WEIR_KERR_CONCURRENT_TRANSACTIONS = 51,
    WEIR_KERR_TRANSACTION_COORDINATOR_FENCED = 52,
    WEIR_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    WEIR_KERR_SECURITY_DISABLED = 54,
    WEIR_KERR_OPERATION_NOT_ATTEMPTED = 55,
    WEIR_KERR_KAFKA_STORAGE_ERROR = 56,
    WEIR_KERR_LOG_DIR_NOT_FOUND = 57,
    WEIR_KERR_SASL_AUTHENTICATION_FAILED = 58,
    WEIR_KERR_UNKNOWN_PRODUCER_ID = 59,
    WEIR_KERR_REASSIGNMENT_IN_PROGRESS = 60,
    WEIR_KERR_DELEGATION_TOKEN_AUTH_DISABLED = 61,
    WEIR_KERR_DELEGATION_TOKEN_NOT_FOUND = 62,
    WEIR_KERR_DELEGATION_TOKEN_OWNER_MISMATCH = 63,
    WEIR_KERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64,
    WEIR_KERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65,
    WEIR_KERR_DELEGATION_TOKEN_EXPIRED = 66,
    WEIR_KERR_INVALID_PRINCIPAL_TYPE = 67,
    WEIR_KERR_NON_EMPTY_GROUP = 68,
    WEIR_KERR_GROUP_ID_NOT_FOUND = 69,
    WEIR_KERR_FETCH_SESSION_ID_NOT_FOUND = 70,
    WEIR_KERR_INVALID_FETCH_SESSION_EPOCH = 71,
    WEIR_KERR_LISTENER_NOT_FOUND = 72,
    WEIR_KERR_TOPIC_DELETION_DISABLED = 73,
    WEIR_KERR_FENCED_LEADER_EPOCH = 74,
    WEIR_KERR_UNKNOWN_LEADER_EPOCH = 75,
    WEIR_KERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
    WEIR_KERR_STALE_BROKER_EPOCH = 77,
    WEIR_KERR_OFFSET_NOT_AVAILABLE = 78,
    WEIR_KERR_MEMBER_ID_REQUIRED = 79,
    WEIR_KERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
    WEIR_KERR_GROUP_MAX_SIZE_REACHED = 81,
    WEIR_KERR_FENCED_INSTANCE_ID = 82,
    WEIR_KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
    WEIR_KERR_ELECTION_NOT_NEEDED = 84,
    WEIR_KERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
    WEIR_KERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
    WEIR_KERR_INVALID_RECORD = 87,
    WEIR_KERR_UNSTABLE_OFFSET_COMMIT = 88,
    WEIR_KERR_THROTTLING_QUOTA_EXCEEDED = 89,
    WEIR_KERR_PRODUCER_FENCED = 90,
    WEIR_KERR_RESOURCE_NOT_FOUND = 91,
    WEIR_KERR_DUPLICATE_RESOURCE = 92,
    WEIR_KERR_UNACCEPTABLE_CREDENTIAL = 93,
    WEIR_KERR_INCONSISTENT_VOTER_SET = 94,
    WEIR_KERR_INVALID_UPDATE_VERSION = 95,
    WEIR_KERR_FEATURE_UPDATE_FAILED = 96,
    WEIR_KERR_PRINCIPAL_DESERIALIZATION_FAILURE = 97,
    WEIR_KERR_SNAPSHOT_NOT_FOUND = 98,
    WEIR_KERR_POSITION_OUT_OF_RANGE = 99,
    WEIR_KERR_UNKNOWN_TOPIC_ID = 100,
    WEIR_KERR_DUPLICATE_BROKER_REGISTRATION = 101,
    WEIR_KERR_BROKER_ID_NOT_REGISTERED = 102,
    WEIR_KERR_INCONSISTENT_TOPIC_ID = 103,
    WEIR_KERR_INCONSISTENT_CLUSTER_ID = 104,
    WEIR_KERR_TRANSACTIONAL_ID_NOT_FOUND = 105,
    WEIR_KERR_FETCH_SESSION_TOPIC_ID_ERROR = 106,
    WEIR_KERR_INELIGIBLE_REPLICA = 107,
    WEIR_KERR_NEW_LEADER_ELECTED = 108,
    WEIR_KERR_OFFSET_MOVED_TO_TIERED_STORAGE = 109,
    WEIR_KERR_FENCED_MEMBER_EPOCH = 110,
    WEIR_KERR_UNRELEASED_INSTANCE_ID = 111,
    WEIR_KERR_UNSUPPORTED_ASSIGNOR = 112,
    WEIR_KERR_STALE_MEMBER_EPOCH = 113,
    WEIR_KERR_MISMATCHED_ENDPOINT_TYPE = 114,
    WEIR_KERR_UNSUPPORTED_ENDPOINT_TYPE = 115,
    WEIR_KERR_UNKNOWN_CONTROLLER_ID = 116,
    WEIR_KERR_UNKNOWN_SUBSCRIPTION_ID = 117,
    WEIR_KERR_TELEMETRY_TOO_LARGE = 118,
    WEIR_KERR_INVALID_REGISTRATION = 119,
    WEIR_KERR_TRANSACTION_ABORTABLE = 120,
    WEIR_KERR_INVALID_RECORD_STATE = 121,
    WEIR_KERR_SHARE_SESSION_NOT_FOUND = 122,
    WEIR_KERR_INVALID_SHARE_SESSION_EPOCH = 123,
    WEIR_KERR_FENCED_STATE_EPOCH = 124,
    WEIR_KERR_INVALID_VOTER_KEY = 125,
    WEIR_KERR_DUPLICATE_VOTER = 126,
    WEIR_KERR_VOTER_NOT_FOUND = 127,
    WEIR_KERR_INVALID_REGULAR_EXPRESSION = 128,
    WEIR_KERR_LAST = WEIR_KERR_INVALID_REGULAR_EXPRESSION,
};

struct weir_kerr_info {
    int16_t code;
    bool retriable;      /* Kafka's exception for it is a RetriableException */
    const char *name;    /* "NOT_LEADER_OR_FOLLOWER" */
    const char *message; /* Kafka's default message; "" for NONE */
    const char *str;     /* "NAME: message" */
};

/* Entries for codes -1 .. WEIR_KERR_LAST, ascending, entry i has code i - 1. */
const struct weir_kerr_info *weir_kerr_table(size_t *n);
/* The entry of `code`, or NULL when the table has none. */
const struct weir_kerr_info *weir_kerr_find(int16_t code);
/* For a code the table lacks: name "UNKNOWN_CODE", a message saying so, and
 * not retriable (Kafka's clients take an unknown code as UNKNOWN_SERVER_ERROR).
 * Static storage; never NULL. */
const char *weir_kerr_name(int16_t code);
const char *weir_kerr_message(int16_t code);
const char *weir_kerr_str(int16_t code);
bool weir_kerr_retriable(int16_t code);
/* The one mapping from the engine's local errors to the code the broker sends. */
int16_t weir_kerr_from_err(enum weir_err e);

/* ---- borrowed strings and bytes -------------------------------------------- */

/* Not NUL-terminated. len -1 = null (ptr NULL). {NULL, 0} is the empty string. */
struct kstr {
    const char *ptr;
    int32_t len;
};
struct kbytes {
    const uint8_t *ptr;
    int32_t len; /* -1 = null */
};
#define KSTR_NULL ((struct kstr){ NULL, -1 })
static inline struct kstr kstr_c(const char *s)
{
    return (struct kstr){ s, s ? (int32_t)strlen(s) : -1 };
}
static inline bool kstr_is_null(struct kstr s) { return s.len < 0; }
static inline bool kstr_eq(struct kstr s, const char *c)
{
    return s.len >= 0 && strlen(c) == (size_t)s.len && (s.len == 0 || memcmp(s.ptr, c, (size_t)s.len) == 0);
}

/* ---- readers --------------------------------------------------------------- */

/* All readers return 0 / empty after rd->err is set. Errors they set:
 * WEIR_E_TRUNCATED (fewer bytes left than the field needs), WEIR_E_INVALID
 * (null where not nullable, length < -1, varint over 5 bytes, string longer
 * than KPROTO_STRING_MAX), WEIR_E_TOO_LARGE (array count over `max`). */
int8_t kr_i8(struct weir_rd *rd);
bool kr_bool(struct weir_rd *rd);           /* any non-zero byte is true */
uint32_t kr_uvarint(struct weir_rd *rd);    /* 32-bit unsigned varint */
struct kstr kr_string(struct weir_rd *rd);  /* STRING */
struct kstr kr_nstring(struct weir_rd *rd); /* NULLABLE_STRING */
struct kstr kr_compact_string(struct weir_rd *rd);
struct kstr kr_compact_nstring(struct weir_rd *rd);
struct kbytes kr_bytes(struct weir_rd *rd); /* BYTES */
struct kbytes kr_nbytes(struct weir_rd *rd);
struct kbytes kr_compact_bytes(struct weir_rd *rd);
struct kbytes kr_compact_nbytes(struct weir_rd *rd);
/* ARRAY / COMPACT_ARRAY count: 0..max, or -1 when `nullable` and null.
 * Also refuses a count above the bytes left (WEIR_E_TRUNCATED). */
int32_t kr_array_len(struct weir_rd *rd, int32_t max, bool nullable);
int32_t kr_compact_array_len(struct weir_rd *rd, int32_t max, bool nullable);
/* Skips a tagged-field section (every tag is unknown to us). */
void kr_tags_skip(struct weir_rd *rd);
/* UUID: 16 bytes (zeroed after an error). */
struct weir_uuid kr_uuid(struct weir_rd *rd);

/* One request or response body being decoded: picks classic or compact
 * encodings, and turns arena exhaustion into a sticky WEIR_E_NOMEM on the reader. */
struct kdec {
    struct weir_rd *rd;
    struct weir_arena *arena;
    int16_t version;
    bool flex;
    /* Responses only: a null where the schema says non-nullable string, bytes
     * or array reads as empty. librdkafka reads them so and its mock cluster
     * sends them (a SyncGroup error's assignment, a JoinGroup error's names). */
    bool lenient;
};
struct kstr kd_str(struct kdec *d);
struct kstr kd_nstr(struct kdec *d);
struct kbytes kd_bytes(struct kdec *d);
struct kbytes kd_nbytes(struct kdec *d);
int32_t kd_array(struct kdec *d, int32_t max);  /* non-nullable */
int32_t kd_narray(struct kdec *d, int32_t max); /* -1 = null */
void kd_tags(struct kdec *d);                   /* flexible only */
/* n elements of `size` from the arena; NULL for n <= 0 or after an error. */
void *kd_alloc(struct kdec *d, int32_t n, size_t size);
/* []int32 (non-nullable) into the arena. */
int32_t *kd_i32_array(struct kdec *d, int32_t max, int32_t *n);
/* []string (nullable when `nullable`) into the arena; *n = -1 for null. */
struct kstr *kd_str_array(struct kdec *d, int32_t max, bool nullable, int32_t *n);
/* The decoder's one exit check: rd->err, or WEIR_OK. */
static inline enum weir_err kd_done(const struct kdec *d) { return d->rd->err; }

/* ---- request header ----------------------------------------------------------- */

struct kbuf;

struct kreq_header {
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    struct kstr client_id; /* INT16-length nullable string in v1 and v2 */
};

/* Decodes request header v1, plus the v2 tagged section when (key, version) is
 * flexible per the table. `rd` covers the frame after its INT32 size; on
 * WEIR_OK it is left at the body. Unknown keys and unsupported versions are
 * decoded too (the caller decides). Errors: WEIR_E_TRUNCATED, WEIR_E_INVALID. */
enum weir_err kproto_header_decode(struct weir_rd *rd, struct kreq_header *h);
/* The client side: request header v1, or v2 (v1 + an empty tagged section)
 * when (key, version) is flexible per the table. */
void kproto_header_encode(struct kbuf *out, const struct kreq_header *h);

/* ---- response header (the client side) ------------------------------------------ */

/* Decodes the header of the response to a (key, version) request: v0 = the
 * correlation id, v1 = correlation id + tagged section (skipped); ApiVersions
 * always v0. `rd` covers the frame after its INT32 size; on WEIR_OK it is left
 * at the body. The correlation id is the frame's first INT32, so a client that
 * must find the request first can read it with weir_load_be32.
 * Errors: WEIR_E_TRUNCATED, WEIR_E_INVALID (a bad tagged section). */
enum weir_err kproto_response_header_decode(struct weir_rd *rd, int16_t key, int16_t version, int32_t *correlation_id);

/* ---- output buffer ------------------------------------------------------------ */

enum {
    KBUF_MEM_MAX_DEFAULT = 64 << 20, /* memory bytes per kbuf */
    KBUF_CHUNKS_MAX = 1 << 20,
};
#define KBUF_POS_NONE SIZE_MAX

/* MEM: kbuf.mem bytes. FILE: a file range (the broker's Fetch records).
 * BORROW: the caller's memory, by reference (the client's Produce records). */
enum kchunk_kind { KCHUNK_MEM = 0, KCHUNK_FILE = 1, KCHUNK_BORROW = 2 };
struct kchunk {
    enum kchunk_kind kind;
    uint32_t len;        /* bytes; a FILE chunk may have 0 (it still carries its pin) */
    size_t mem_off;      /* MEM: offset into kbuf.mem */
    /* MEM: set by kbuf_chunk(), invalid once kbuf.mem grows. BORROW: the
     * caller's bytes, valid for as long as the caller keeps them. */
    const uint8_t *mem;
    int fd;              /* FILE: borrowed, never closed here */
    uint64_t pos;        /* FILE: file offset of the first byte */
    void *pin;           /* FILE: opaque; the sender releases it after sending */
};

struct kbuf {
    uint8_t *mem;
    size_t mem_len, mem_cap, mem_max;
    size_t mem_closed;     /* mem bytes covered by chunks[] */
    struct kchunk *chunks; /* closed chunks in send order; the open MEM tail is implicit */
    uint32_t n_chunks, chunks_cap;
    uint64_t file_len;     /* sum of FILE chunk lengths */
    uint64_t borrow_len;   /* sum of BORROW chunk lengths */
    enum weir_err err;     /* sticky: WEIR_E_NOMEM, WEIR_E_TOO_LARGE */
};

/* mem_max 0 = KBUF_MEM_MAX_DEFAULT (at most UINT32_MAX). Allocates nothing
 * until the first write. */
void kbuf_init(struct kbuf *b, size_t mem_max);
/* Sets b->err unless an error is already set (the first one wins). */
void kbuf_fail(struct kbuf *b, enum weir_err e);
/* Empties the buffer and clears err; keeps the memory. Pins are not touched. */
void kbuf_reset(struct kbuf *b);
void kbuf_free(struct kbuf *b);
static inline uint64_t kbuf_total_len(const struct kbuf *b) { return b->mem_len + b->file_len + b->borrow_len; }
/* Chunks in send order, the open MEM tail included. */
size_t kbuf_chunk_count(const struct kbuf *b);
struct kchunk kbuf_chunk(const struct kbuf *b, size_t i);

/* A send position: chunk index, and bytes of that chunk already sent. */
struct kbuf_cursor {
    size_t chunk;
    size_t off;
};
/* Fills iov[0, max) with the unsent bytes from `cur` on, for writev/sendmsg:
 * MEM and BORROW chunks, empty ones skipped. Returns the count; 0 = all sent.
 * Valid until the kbuf is written again. FILE chunks are the broker's to send
 * (splice or its segment mapping): meeting one here is our bug (asserted). */
int kbuf_gather(const struct kbuf *b, const struct kbuf_cursor *cur, struct iovec *iov, int max);
/* Moves `cur` past n sent bytes; n must not exceed the bytes left. */
void kbuf_advance(const struct kbuf *b, struct kbuf_cursor *cur, size_t n);

/* Writers: no-ops once b->err is set. Going over mem_max sets WEIR_E_TOO_LARGE,
 * a failed allocation WEIR_E_NOMEM. */
void kb_raw(struct kbuf *b, const void *p, size_t n);
void kb_i8(struct kbuf *b, int8_t v);
void kb_bool(struct kbuf *b, bool v);
void kb_i16(struct kbuf *b, int16_t v);
void kb_i32(struct kbuf *b, int32_t v);
void kb_i64(struct kbuf *b, int64_t v);
void kb_uvarint(struct kbuf *b, uint64_t v);
void kb_uuid(struct kbuf *b, const struct weir_uuid *u);
/* Strings longer than KPROTO_STRING_MAX set WEIR_E_TOO_LARGE. A null kstr
 * passed to a non-nullable writer is our bug: it asserts. */
void kb_string(struct kbuf *b, struct kstr s);
void kb_nstring(struct kbuf *b, struct kstr s);
void kb_compact_string(struct kbuf *b, struct kstr s);
void kb_compact_nstring(struct kbuf *b, struct kstr s);
void kb_bytes(struct kbuf *b, struct kbytes v);
void kb_nbytes(struct kbuf *b, struct kbytes v);
void kb_compact_bytes(struct kbuf *b, struct kbytes v);
void kb_compact_nbytes(struct kbuf *b, struct kbytes v);
void kb_array_len(struct kbuf *b, int32_t n);         /* INT32; -1 = null */
void kb_compact_array_len(struct kbuf *b, int32_t n); /* n+1; -1 = null (0) */
void kb_tags_empty(struct kbuf *b);                   /* the byte 00 */
/* Classic or compact, as `flex` says. */
void kb_str(struct kbuf *b, bool flex, struct kstr s);
/* BYTES, or COMPACT_BYTES when flex; a negative length (null) writes empty. */
void kb_blob(struct kbuf *b, bool flex, struct kbytes v);
void kb_nstr(struct kbuf *b, bool flex, struct kstr s);
void kb_arr(struct kbuf *b, bool flex, int32_t n);
void kb_tags(struct kbuf *b, bool flex); /* empty section when flexible */
void kb_i32_array(struct kbuf *b, bool flex, const int32_t *v, int32_t n); /* []int32 */
/* []string; n -1 = a null array (v unused). */
void kb_str_array(struct kbuf *b, bool flex, const struct kstr *v, int32_t n);
/* Placeholder then patch (librdkafka's write-then-update). KBUF_POS_NONE after
 * an error; patching KBUF_POS_NONE does nothing. */
size_t kb_reserve_i32(struct kbuf *b);
void kb_patch_i32(struct kbuf *b, size_t pos, int32_t v);
/* Closes the current MEM chunk and appends the FILE range [pos, pos+len) of fd.
 * Returns false (pin not recorded) when b->err is or becomes set: the caller
 * then releases its pins from its own records. */
bool kb_file(struct kbuf *b, int fd, uint64_t pos, uint32_t len, void *pin);
/* Closes the current MEM chunk and appends [p, p+len) of the caller's memory
 * by reference, never copied: the bytes must stay valid and unchanged until
 * the kbuf has been sent or reset. len 0 appends nothing. Returns false when
 * b->err is or becomes set. */
bool kb_borrow(struct kbuf *b, const void *p, uint32_t len);
/* RECORDS: NULLABLE_BYTES (COMPACT_ when flex) whose content is borrowed
 * (kb_borrow), not copied. len -1 = null. */
void kb_records(struct kbuf *b, bool flex, const uint8_t *p, int32_t len);

/* ---- frames ------------------------------------------------------------------------ */

struct kframe {
    size_t size_pos;       /* where the INT32 size goes; KBUF_POS_NONE after an error */
    uint64_t file_start;   /* b->file_len when the frame began */
    uint64_t borrow_start; /* b->borrow_len when the frame began */
};
/* Writes the size placeholder and the response header for (key, version):
 * v0 = correlation id, v1 = correlation id + empty tags. Several frames may
 * follow each other in one kbuf (pipelined responses). */
struct kframe kproto_response_begin(struct kbuf *b, int16_t key, int16_t version, int32_t correlation_id);
/* Patches the size to the bytes written since the size field, file and
 * borrowed ranges included. A frame over INT32_MAX sets WEIR_E_TOO_LARGE. */
void kproto_response_end(struct kbuf *b, const struct kframe *f);
/* The client side: the size placeholder and the request header
 * (kproto_header_encode); the body follows. */
struct kframe kproto_request_begin(struct kbuf *b, const struct kreq_header *h);
/* As kproto_response_end. */
void kproto_request_end(struct kbuf *b, const struct kframe *f);

/* ======================================================================== */
/* APIs, both directions over the same structs:                               */
/*   broker: kproto_<api>_decode (request), kproto_<api>_encode (response);   */
/*   client: kproto_<api>_request_encode, kproto_<api>_response_decode.       */
/* Decoders: `rd` covers the body (after the header). On error the struct is  */
/* partly filled and must be ignored. Errors: those of the readers,           */
/* WEIR_E_NOMEM (arena full), WEIR_E_UNSUPPORTED (version outside the         */
/* supported range). Bytes after the body are not looked at. Fields a version */
/* lacks get the schema's default.                                            */
/* Encoders: the body only; the version must be supported (asserted).         */
/* ======================================================================== */

/* ---- ApiVersions (18), v0-3; v3 flexible ---- */

struct kapiversions_req {
    struct kstr client_software_name;    /* v3+, else null */
    struct kstr client_software_version; /* v3+, else null */
};
struct kapiversions_resp {
    int16_t error_code;
    int32_t throttle_time_ms; /* v1+ */
};
/* Decodes any version >= 0 (v4+ as v3) so the caller can answer a too-new
 * request with kproto_apiversions_encode_unsupported. */
enum weir_err kproto_apiversions_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct kapiversions_req *req);
/* Lists every supported entry of the API table. */
void kproto_apiversions_encode(struct kbuf *out, int16_t version, const struct kapiversions_resp *resp);
/* The whole frame (size, header v0, body) Apache Kafka sends for an ApiVersions
 * version it does not know: error 35, an INT32-counted array holding only key 18
 * with its range, no throttle (README §4). */
void kproto_apiversions_encode_unsupported(struct kbuf *out, int32_t correlation_id);
/* Client side. kapiversions_resp has no array (the broker encodes its
 * table), so the client's decode wraps it with one. */
struct kapiversions_key {
    int16_t api_key;
    int16_t min_version;
    int16_t max_version;
};
struct kapiversions_client_resp {
    struct kapiversions_resp base; /* error_code, throttle_time_ms (v1+) */
    const struct kapiversions_key *api_keys;
    int32_t n_api_keys;
};
void kproto_apiversions_request_encode(struct kbuf *out, int16_t version, const struct kapiversions_req *req);
/* Error 35 (UNSUPPORTED_VERSION) at version > 0: the body is decoded as v0,
 * the format a broker answers in when it does not know the version (README
 * §4); its array holds key 18 with the broker's range, for the retry. */
enum weir_err kproto_apiversions_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct kapiversions_client_resp *resp);

/* The body answering key at a version outside its served range (not
 * ApiVersions, see kproto_apiversions_encode_unsupported): the API's empty
 * response at the nearest served version, 35 UNSUPPORTED_VERSION in its
 * top-level error_code where it has one; for a key not served at all, the
 * 2-byte code alone. The caller writes the header for (key, version). */
void kproto_unsupported_encode(struct kbuf *out, int16_t key, int16_t version);

/* ---- Metadata (3), v0-12; v9 flexible ---- */

enum { KPROTO_AUTHORIZED_OPS_NONE = INT32_MIN }; /* -2147483648: not requested / not known */

struct kmetadata_req {
    bool all_topics;                /* topics array null (v1+), or empty in v0 */
    int32_t n_topics;               /* 0 with all_topics */
    struct kstr *topics;            /* a name may be null from v10 (asked by id) */
    struct weir_uuid *topic_ids;    /* v10+ (n_topics of them; zero: by name); NULL before */
    bool allow_auto_topic_creation; /* v4+; true before */
    bool include_cluster_authorized_operations; /* v8-10 */
    bool include_topic_authorized_operations;   /* v8+ */
};
struct kmetadata_broker {
    int32_t node_id;
    struct kstr host;
    int32_t port;
    struct kstr rack; /* v1+, nullable */
};
struct kmetadata_part {
    int16_t error_code;
    int32_t partition_index;
    int32_t leader_id;
    const int32_t *replicas;
    int32_t n_replicas;
    const int32_t *isr;
    int32_t n_isr;
    const int32_t *offline; /* v5+ */
    int32_t n_offline;
    int32_t leader_epoch;   /* v7+; -1 when not sent (decoded below v7) */
};
struct kmetadata_topic {
    int16_t error_code;
    struct kstr name;       /* null only in v12+ (an unknown id) */
    bool is_internal; /* v1+ */
    const struct kmetadata_part *partitions;
    int32_t n_partitions;
    struct weir_uuid topic_id;         /* v10+; zero when unknown */
    int32_t topic_authorized_operations; /* v8+; KPROTO_AUTHORIZED_OPS_NONE unless asked */
};
struct kmetadata_resp {
    int32_t throttle_time_ms; /* v3+ */
    const struct kmetadata_broker *brokers;
    int32_t n_brokers;
    struct kstr cluster_id; /* v2+, nullable */
    int32_t controller_id;  /* v1+ */
    const struct kmetadata_topic *topics;
    int32_t n_topics;
    int32_t cluster_authorized_operations; /* v8-10; KPROTO_AUTHORIZED_OPS_NONE unless asked */
};
enum weir_err kproto_metadata_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                     struct kmetadata_req *req);
void kproto_metadata_encode(struct kbuf *out, int16_t version, const struct kmetadata_resp *resp);
void kproto_metadata_request_encode(struct kbuf *out, int16_t version, const struct kmetadata_req *req);
enum weir_err kproto_metadata_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                              struct kmetadata_resp *resp);

/* ---- Produce (0), v0-9; v9 flexible ---- */

struct kproduce_req_part {
    int32_t index;
    /* RECORDS, borrowed from the frame and writable: the caller owns the frame
     * buffer and may rewrite batches in place (base offset). len -1 = null. */
    uint8_t *records;
    int32_t records_len;
};
struct kproduce_req_topic {
    struct kstr name;
    struct kproduce_req_part *partitions;
    int32_t n_partitions;
};
struct kproduce_req {
    struct kstr transactional_id; /* v3+, nullable */
    int16_t acks;                 /* 0: the caller sends no response at all */
    int32_t timeout_ms;
    struct kproduce_req_topic *topics;
    int32_t n_topics;
};
struct kproduce_record_error {
    int32_t batch_index;
    struct kstr message; /* nullable; ptr NULL = null */
};
struct kproduce_resp_part {
    int32_t index;
    int16_t error_code;
    int64_t base_offset;
    int64_t log_append_time_ms; /* v2+; -1 for CreateTime topics */
    int64_t log_start_offset;   /* v5+ */
    /* v8+ (KIP-467): the records that made the batch be dropped, and a summary.
     * error_message with ptr NULL goes out as null (Kafka's default), so a
     * zero-initialized entry sends no message. */
    const struct kproduce_record_error *record_errors;
    int32_t n_record_errors;
    struct kstr error_message;
};
struct kproduce_resp_topic {
    struct kstr name;
    const struct kproduce_resp_part *partitions; /* librdkafka expects exactly the one it sent */
    int32_t n_partitions;
};
struct kproduce_resp {
    const struct kproduce_resp_topic *topics;
    int32_t n_topics;
    int32_t throttle_time_ms; /* v1+, after the topics */
};
enum weir_err kproto_produce_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                    struct kproduce_req *req);
void kproto_produce_encode(struct kbuf *out, int16_t version, const struct kproduce_resp *resp);
/* Records go in as BORROW chunks (kb_records): the batches must stay valid and
 * unchanged until the request has been sent. */
void kproto_produce_request_encode(struct kbuf *out, int16_t version, const struct kproduce_req *req);
enum weir_err kproto_produce_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                             struct kproduce_resp *resp);

/* ---- Fetch (1), v4-13; v12 flexible, v13 by topic id ---- */

struct kfetch_req_part {
    int32_t partition;
    int32_t current_leader_epoch; /* v9+, else -1 */
    int64_t fetch_offset;
    int32_t last_fetched_epoch;   /* v12+, else -1 */
    int64_t log_start_offset;     /* v5+, else -1 */
    int32_t partition_max_bytes;
};
struct kfetch_req_topic {
    struct kstr topic;            /* v0-12; v13+: empty on decode, not encoded */
    struct kfetch_req_part *partitions;
    int32_t n_partitions;
    struct weir_uuid topic_id;    /* v13+, else zero */
};
struct kfetch_forgotten {
    struct kstr topic;            /* v7-12 */
    int32_t *partitions;
    int32_t n_partitions;
    struct weir_uuid topic_id;    /* v13+ */
};
struct kfetch_req {
    int32_t replica_id;
    int32_t max_wait_ms;
    int32_t min_bytes;
    int32_t max_bytes;       /* v3+, else INT32_MAX */
    int8_t isolation_level;  /* v4+: 0 read_uncommitted, 1 read_committed */
    int32_t session_id;      /* v7+, else 0 */
    int32_t session_epoch;   /* v7+, else -1 */
    struct kfetch_req_topic *topics;
    int32_t n_topics;
    struct kfetch_forgotten *forgotten; /* v7+ */
    int32_t n_forgotten;
    struct kstr rack_id;     /* v11+, else "" */
};
/* One file range of whole record batches (an engine weir_log_view). */
struct kfile_range {
    int fd;
    uint64_t pos;
    uint32_t len;
    void *pin;
};
struct kfetch_aborted {
    int64_t producer_id;
    int64_t first_offset;
};
struct kfetch_resp_part {
    int32_t partition_index;
    int16_t error_code;
    int64_t high_watermark;
    int64_t last_stable_offset; /* v4+ */
    int64_t log_start_offset;   /* v5+: the real log start, never -1 (README §9.8) */
    /* v4+, nullable: -1 = null. Kafka sends null for read_uncommitted and a
     * (possibly empty) array for read_committed; both clients accept either. */
    const struct kfetch_aborted *aborted;
    int32_t n_aborted;
    int32_t preferred_read_replica; /* v11+; must be -1 (README §9.6) */
    /* RECORDS: the sum of the range lengths, exactly (0 when none, never null). */
    const struct kfile_range *records;
    int32_t n_records;
    /* Client decode: RECORDS borrowed from the response frame (len -1 = null;
     * may end in a partial batch); `records` is then NULL. Broker encode,
     * when n_records is 0 and record_set.ptr is set: RECORDS are these bytes,
     * copied (Fetch v0-3's down-converted message sets). */
    struct kbytes record_set;
    /* v12+ tagged field 0 DivergingEpoch, sent when `diverging` (a replica's
     * last_fetched_epoch ends before its fetch offset; no records then).
     * CurrentLeader (tag 1, KIP-951 fills it from v16) and SnapshotId (tag 2,
     * KRaft) are never sent. */
    bool diverging;
    int32_t diverging_epoch;
    int64_t diverging_end_offset;
};
struct kfetch_resp_topic {
    struct kstr topic;            /* v0-12 */
    const struct kfetch_resp_part *partitions;
    int32_t n_partitions;
    struct weir_uuid topic_id;    /* v13+ */
};
struct kfetch_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;       /* v7+ */
    int32_t session_id;       /* v7+; 0 = no session */
    const struct kfetch_resp_topic *topics;
    int32_t n_topics;
};
enum weir_err kproto_fetch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a, struct kfetch_req *req);
/* Every record range becomes one FILE chunk (kb_file), in order. */
void kproto_fetch_encode(struct kbuf *out, int16_t version, const struct kfetch_resp *resp);
void kproto_fetch_request_encode(struct kbuf *out, int16_t version, const struct kfetch_req *req);
enum weir_err kproto_fetch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kfetch_resp *resp);

/* ---- ListOffsets (2), v0-8; v6 flexible ---- */

enum {
    KPROTO_LIST_LATEST = -1,
    KPROTO_LIST_EARLIEST = -2,
    KPROTO_LIST_MAX_TIMESTAMP = -3,  /* v7+ */
    KPROTO_LIST_EARLIEST_LOCAL = -4, /* v8+: the local log start (= the log start: no tiered storage) */
    KPROTO_OLD_STYLE_OFFSETS_MAX = 10000, /* v0 response offsets weir's client reads */
};

struct klistoffsets_req_part {
    int32_t partition_index;
    int64_t timestamp; /* -1 latest, -2 earliest, -3 max timestamp (v7+) */
    int32_t current_leader_epoch; /* v4+; -1: not checked (and below v4) */
    int32_t max_num_offsets;      /* v0 only; 1 from v1 */
};
struct klistoffsets_req_topic {
    struct kstr name;
    struct klistoffsets_req_part *partitions;
    int32_t n_partitions;
};
struct klistoffsets_req {
    int32_t replica_id;
    int8_t isolation_level; /* v2+ */
    struct klistoffsets_req_topic *topics;
    int32_t n_topics;
};
struct klistoffsets_resp_part {
    int32_t partition_index;
    int16_t error_code;
    int64_t timestamp; /* v1+; -1 in v0 */
    int64_t offset;    /* v1+; v0: old_style_offsets when set, else [offset], or [] when offset < 0 */
    int32_t leader_epoch; /* v4+; -1 unknown (and decoded below v4) */
    const int64_t *old_style_offsets; /* v0 only: newest first; NULL: see offset */
    int32_t n_old_style_offsets;      /* decoded v0: how many (offset is the first) */
};
struct klistoffsets_resp_topic {
    struct kstr name;
    const struct klistoffsets_resp_part *partitions;
    int32_t n_partitions;
};
struct klistoffsets_resp {
    int32_t throttle_time_ms; /* v2+ */
    const struct klistoffsets_resp_topic *topics;
    int32_t n_topics;
};
enum weir_err kproto_listoffsets_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct klistoffsets_req *req);
void kproto_listoffsets_encode(struct kbuf *out, int16_t version, const struct klistoffsets_resp *resp);
void kproto_listoffsets_request_encode(struct kbuf *out, int16_t version, const struct klistoffsets_req *req);
enum weir_err kproto_listoffsets_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct klistoffsets_resp *resp);

/* ---- CreateTopics (19), v0-7; v5 flexible ---- */

struct kcreatetopics_assignment {
    int32_t partition_index;
    int32_t *broker_ids;
    int32_t n_broker_ids;
};
struct kconfig_entry {
    struct kstr name;
    struct kstr value; /* nullable */
};
struct kcreatetopics_req_topic {
    struct kstr name;
    int32_t num_partitions;     /* -1 = broker default (v4+, kafkajs sends it at v3 too) */
    int16_t replication_factor; /* -1 = broker default */
    struct kcreatetopics_assignment *assignments;
    int32_t n_assignments;
    struct kconfig_entry *configs;
    int32_t n_configs;
};
struct kcreatetopics_req {
    struct kcreatetopics_req_topic *topics;
    int32_t n_topics;
    int32_t timeout_ms;
    bool validate_only; /* v1+; false in v0 */
};
struct ktopic_result {
    struct kstr name;
    int16_t error_code;
    struct kstr error_message; /* nullable; CreateTopics v1+, CreatePartitions v0+ */
};
struct kdescribeconfigs_config;
/* What a created (or validated) topic got, answered from v5 (KIP-525). */
struct kcreatetopics_detail {
    struct weir_uuid topic_id;   /* v7+; zero when unknown */
    int32_t num_partitions;      /* -1 when the topic failed */
    int16_t replication_factor;  /* -1 when the topic failed */
    const struct kdescribeconfigs_config *configs; /* name, value, read_only, config_source, is_sensitive */
    int32_t n_configs;           /* -1: null */
};
struct kcreatetopics_resp {
    int32_t throttle_time_ms; /* v2+ */
    const struct ktopic_result *topics; /* error_message v1+ */
    int32_t n_topics;
    const struct kcreatetopics_detail *details; /* v5+: one per topic; NULL: -1, -1, null configs, zero id */
};
enum weir_err kproto_createtopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kcreatetopics_req *req);
void kproto_createtopics_encode(struct kbuf *out, int16_t version, const struct kcreatetopics_resp *resp);
void kproto_createtopics_request_encode(struct kbuf *out, int16_t version, const struct kcreatetopics_req *req);
enum weir_err kproto_createtopics_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kcreatetopics_resp *resp);

/* ---- DeleteTopics (20), v0-6; v4 flexible ---- */

struct kdeletetopics_req {
    struct kstr *topic_names;    /* v6+: null for an entry by id */
    int32_t n_topic_names;
    struct weir_uuid *topic_ids; /* v6+: one per entry, zero for one by name; NULL before v6 */
    int32_t timeout_ms;
};
struct kdeletetopics_resp {
    int32_t throttle_time_ms; /* v1+ */
    const struct ktopic_result *responses; /* name (nullable v6+), error_code, error_message (v5+) */
    int32_t n_responses;
    const struct weir_uuid *topic_ids; /* v6+: one per response; NULL: zero */
};
enum weir_err kproto_deletetopics_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletetopics_req *req);
void kproto_deletetopics_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_resp *resp);
void kproto_deletetopics_request_encode(struct kbuf *out, int16_t version, const struct kdeletetopics_req *req);
enum weir_err kproto_deletetopics_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kdeletetopics_resp *resp);

/* ---- DeleteRecords (21), v0-2 (v2 flexible) ---- */

enum { KPROTO_DELETE_RECORDS_HW = -1,         /* offset -1: up to the high watermark */
       KPROTO_INVALID_LOW_WATERMARK = -1 };   /* low_watermark of a partition with an error */
struct kdeleterecords_req_part {
    int32_t partition_index;
    int64_t offset;
};
struct kdeleterecords_req_topic {
    struct kstr name;
    struct kdeleterecords_req_part *partitions;
    int32_t n_partitions;
};
struct kdeleterecords_req {
    struct kdeleterecords_req_topic *topics;
    int32_t n_topics;
    int32_t timeout_ms;
};
struct kdeleterecords_resp_part {
    int32_t partition_index;
    int64_t low_watermark;
    int16_t error_code;
};
struct kdeleterecords_resp_topic {
    struct kstr name;
    struct kdeleterecords_resp_part *partitions;
    int32_t n_partitions;
};
struct kdeleterecords_resp {
    int32_t throttle_time_ms;
    struct kdeleterecords_resp_topic *topics;
    int32_t n_topics;
};
/* Request decode (broker) and encode (client); response encode (broker) and
 * decode (client). Decoders borrow strings from rd's frame and allocate arrays
 * in `a`. Errors: WEIR_E_UNSUPPORTED (version), WEIR_E_TRUNCATED, WEIR_E_INVALID,
 * WEIR_E_TOO_LARGE (a count over KPROTO_TOPICS_MAX / KPROTO_PARTITIONS_MAX), WEIR_E_NOMEM. */
enum weir_err kproto_deleterecords_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                          struct kdeleterecords_req *req);
void kproto_deleterecords_encode(struct kbuf *out, int16_t version, const struct kdeleterecords_resp *resp);
void kproto_deleterecords_request_encode(struct kbuf *out, int16_t version, const struct kdeleterecords_req *req);
enum weir_err kproto_deleterecords_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                   struct kdeleterecords_resp *resp);

/* ---- CreatePartitions (37), v0-3; v2 flexible ---- */

struct kcreatepartitions_assignment {
    int32_t *broker_ids;
    int32_t n_broker_ids;
};
struct kcreatepartitions_req_topic {
    struct kstr name;
    int32_t count; /* the new total */
    struct kcreatepartitions_assignment *assignments;
    int32_t n_assignments; /* -1 = null */
};
struct kcreatepartitions_req {
    struct kcreatepartitions_req_topic *topics;
    int32_t n_topics;
    int32_t timeout_ms;
    bool validate_only;
};
struct kcreatepartitions_resp {
    int32_t throttle_time_ms;
    const struct ktopic_result *results;
    int32_t n_results;
};
enum weir_err kproto_createpartitions_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                             struct kcreatepartitions_req *req);
void kproto_createpartitions_encode(struct kbuf *out, int16_t version, const struct kcreatepartitions_resp *resp);
void kproto_createpartitions_request_encode(struct kbuf *out, int16_t version, const struct kcreatepartitions_req *req);
enum weir_err kproto_createpartitions_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                      struct kcreatepartitions_resp *resp);

/* ---- DescribeConfigs (32), v0-4; v4 flexible ---- */

enum { KRESOURCE_TOPIC = 2, KRESOURCE_BROKER = 4 };
enum { KCONFIG_SOURCE_DYNAMIC_TOPIC = 1, KCONFIG_SOURCE_DYNAMIC_BROKER = 2, KCONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER = 3,
       KCONFIG_SOURCE_STATIC_BROKER = 4, KCONFIG_SOURCE_DEFAULT = 5 };
enum { KCONFIG_TYPE_UNKNOWN = 0, KCONFIG_TYPE_BOOLEAN = 1, KCONFIG_TYPE_STRING = 2, KCONFIG_TYPE_INT = 3,
       KCONFIG_TYPE_LONG = 5 }; /* Kafka's DescribeConfigsResponse.ConfigType ids */
struct kdescribeconfigs_resource {
    int8_t resource_type;
    struct kstr resource_name;
    struct kstr *config_keys;
    int32_t n_config_keys; /* -1 = null = all */
};
struct kdescribeconfigs_req {
    struct kdescribeconfigs_resource *resources;
    int32_t n_resources;
    bool include_synonyms; /* v1+ */
    bool include_documentation; /* v3+ */
};
struct kdescribeconfigs_synonym {
    struct kstr name;
    struct kstr value; /* nullable */
    int8_t source;
};
struct kdescribeconfigs_config {
    struct kstr name;
    struct kstr value; /* nullable */
    bool read_only;
    int8_t config_source; /* v1+; v0 sends is_default = (source is KCONFIG_SOURCE_DEFAULT) */
    bool is_sensitive;
    const struct kdescribeconfigs_synonym *synonyms; /* v1+ */
    int32_t n_synonyms;
    int8_t config_type;         /* v3+: KCONFIG_TYPE_* (0 unknown) */
    struct kstr documentation;  /* v3+, nullable */
};
struct kdescribeconfigs_result {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int8_t resource_type;
    struct kstr resource_name;
    const struct kdescribeconfigs_config *configs;
    int32_t n_configs;
};
struct kdescribeconfigs_resp {
    int32_t throttle_time_ms;
    const struct kdescribeconfigs_result *results;
    int32_t n_results;
};
enum weir_err kproto_describeconfigs_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribeconfigs_req *req);
void kproto_describeconfigs_encode(struct kbuf *out, int16_t version, const struct kdescribeconfigs_resp *resp);
void kproto_describeconfigs_request_encode(struct kbuf *out, int16_t version, const struct kdescribeconfigs_req *req);
enum weir_err kproto_describeconfigs_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribeconfigs_resp *resp);

/* ---- AlterConfigs (33), v0-2, v2 flexible; IncrementalAlterConfigs (44),
 * v0-1, v1 flexible: one shape, `key` says which (44 adds config_operation) ---- */

enum { KCONFIG_OP_SET = 0, KCONFIG_OP_DELETE = 1, KCONFIG_OP_APPEND = 2, KCONFIG_OP_SUBTRACT = 3 };
struct kalterconfigs_config {
    struct kstr name;
    int8_t op;          /* 44 only: KCONFIG_OP_*; 33: KCONFIG_OP_SET */
    struct kstr value;  /* nullable */
};
struct kalterconfigs_resource {
    int8_t resource_type;
    struct kstr resource_name;
    struct kalterconfigs_config *configs;
    int32_t n_configs;
};
struct kalterconfigs_req {
    struct kalterconfigs_resource *resources;
    int32_t n_resources;
    bool validate_only;
};
struct kalterconfigs_result {
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int8_t resource_type;
    struct kstr resource_name;
};
struct kalterconfigs_resp {
    int32_t throttle_time_ms;
    const struct kalterconfigs_result *results;
    int32_t n_results;
};
enum weir_err kproto_alterconfigs_decode(struct weir_rd *rd, int16_t key, int16_t version, struct weir_arena *a,
                                         struct kalterconfigs_req *req);
void kproto_alterconfigs_encode(struct kbuf *out, int16_t key, int16_t version, const struct kalterconfigs_resp *resp);
void kproto_alterconfigs_request_encode(struct kbuf *out, int16_t key, int16_t version,
                                        const struct kalterconfigs_req *req);
enum weir_err kproto_alterconfigs_response_decode(struct weir_rd *rd, int16_t key, int16_t version,
                                                  struct weir_arena *a, struct kalterconfigs_resp *resp);

/* ---- InitProducerId (22), v0-4; v2 flexible ---- */

struct kinitproducerid_req {
    struct kstr transactional_id; /* nullable; null for the idempotent producer */
    int32_t transaction_timeout_ms;
    int64_t producer_id;          /* v3+: the id to bump, -1 none (and before v3) */
    int16_t producer_epoch;       /* v3+: its epoch, -1 none (and before v3) */
};
struct kinitproducerid_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    int64_t producer_id;
    int16_t producer_epoch;
};
enum weir_err kproto_initproducerid_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kinitproducerid_req *req);
void kproto_initproducerid_encode(struct kbuf *out, int16_t version, const struct kinitproducerid_resp *resp);
void kproto_initproducerid_request_encode(struct kbuf *out, int16_t version, const struct kinitproducerid_req *req);
enum weir_err kproto_initproducerid_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                    struct kinitproducerid_resp *resp);

/* ---- OffsetForLeaderEpoch (23), v0-4; v4 flexible ---- */

struct koffsetforleaderepoch_req_part {
    int32_t partition;
    int32_t current_leader_epoch; /* v2+, else -1 */
    int32_t leader_epoch;         /* the epoch whose end is asked for */
};
struct koffsetforleaderepoch_req_topic {
    struct kstr topic;
    struct koffsetforleaderepoch_req_part *partitions;
    int32_t n_partitions;
};
struct koffsetforleaderepoch_req {
    int32_t replica_id; /* v3+, else -2 (a debug consumer) */
    struct koffsetforleaderepoch_req_topic *topics;
    int32_t n_topics;
};
struct koffsetforleaderepoch_resp_part {
    int16_t error_code;
    int32_t partition;
    int32_t leader_epoch; /* v1+, else -1 */
    int64_t end_offset;   /* -1: UNDEFINED_EPOCH_OFFSET */
};
struct koffsetforleaderepoch_resp_topic {
    struct kstr topic;
    const struct koffsetforleaderepoch_resp_part *partitions;
    int32_t n_partitions;
};
struct koffsetforleaderepoch_resp {
    int32_t throttle_time_ms; /* v2+ */
    const struct koffsetforleaderepoch_resp_topic *topics;
    int32_t n_topics;
};
enum weir_err kproto_offsetforleaderepoch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct koffsetforleaderepoch_req *req);
void kproto_offsetforleaderepoch_encode(struct kbuf *out, int16_t version,
                                        const struct koffsetforleaderepoch_resp *resp);
void kproto_offsetforleaderepoch_request_encode(struct kbuf *out, int16_t version,
                                                const struct koffsetforleaderepoch_req *req);
enum weir_err kproto_offsetforleaderepoch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                          struct koffsetforleaderepoch_resp *resp);

/* ---- FindCoordinator (10), v0-4; v3+ flexible, v4 batches the keys ---- */

struct kfindcoordinator_req {
    struct kstr key; /* v0-3; decoded v4: keys[0], or "" when there is none */
    int8_t key_type; /* v1+: 0 group, 1 transaction; 0 before */
    /* v4+ coordinator_keys. Decoded v0-3: the one key. The v4 request encoder
     * sends these, or [key] when n_keys is 0. */
    struct kstr *keys;
    int32_t n_keys;
};
struct kfindcoordinator_coord { /* v4+: one per key */
    struct kstr key;
    int32_t node_id;
    struct kstr host;
    int32_t port;
    int16_t error_code;
    struct kstr error_message; /* nullable */
};
struct kfindcoordinator_resp {
    int32_t throttle_time_ms; /* v1+ */
    /* v0-3; a decoded v4 response copies coordinators[0] here (none:
     * COORDINATOR_NOT_AVAILABLE), for the clients that ask one key. */
    int16_t error_code;
    struct kstr error_message; /* v1+, nullable */
    int32_t node_id;
    struct kstr host;
    int32_t port;
    const struct kfindcoordinator_coord *coordinators; /* v4+ */
    int32_t n_coordinators;
};
enum weir_err kproto_findcoordinator_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kfindcoordinator_req *req);
void kproto_findcoordinator_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_resp *resp);
void kproto_findcoordinator_request_encode(struct kbuf *out, int16_t version, const struct kfindcoordinator_req *req);
enum weir_err kproto_findcoordinator_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kfindcoordinator_resp *resp);

/* ---- consumer groups, both directions ---- */

enum { KPROTO_GROUP_PROTOCOLS_MAX = 1000, /* JoinGroup protocols */
       KPROTO_MEMBERS_MAX = 100000 };   /* SyncGroup assignments, LeaveGroup members */

/* JoinGroup (11), v0-9; v6+ flexible */
struct kjoingroup_protocol {
    struct kstr name;
    struct kbytes metadata;
};
struct kjoingroup_req {
    struct kstr group_id;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v1+, else = session_timeout_ms */
    struct kstr member_id;
    struct kstr group_instance_id; /* v5+, nullable, else null */
    struct kstr protocol_type;
    struct kjoingroup_protocol *protocols;
    int32_t n_protocols;
    struct kstr reason; /* v8+, nullable, else null */
};
struct kjoingroup_member {
    struct kstr member_id;
    struct kstr group_instance_id; /* v5+, nullable */
    struct kbytes metadata;
};
struct kjoingroup_resp {
    int32_t throttle_time_ms; /* v2+ */
    int16_t error_code;
    int32_t generation_id;
    struct kstr protocol_name;
    struct kstr leader;
    struct kstr member_id;
    const struct kjoingroup_member *members;
    int32_t n_members;
    /* v7+ nullable: an empty protocol_type or protocol_name goes out as null
     * (Kafka's JoinGroupResponse); before v7 protocol_name is "" then. */
    struct kstr protocol_type; /* v7+ */
    bool skip_assignment;      /* v9+: the leader keeps the current assignment */
};
enum weir_err kproto_joingroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct kjoingroup_req *req);
void kproto_joingroup_encode(struct kbuf *out, int16_t version, const struct kjoingroup_resp *resp);
void kproto_joingroup_request_encode(struct kbuf *out, int16_t version, const struct kjoingroup_req *req);
enum weir_err kproto_joingroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct kjoingroup_resp *resp);

/* SyncGroup (14), v0-5; v4+ flexible */
struct ksyncgroup_assignment {
    struct kstr member_id;
    struct kbytes assignment;
};
struct ksyncgroup_req {
    struct kstr group_id;
    int32_t generation_id;
    struct kstr member_id;
    struct kstr group_instance_id; /* v3+, nullable */
    struct ksyncgroup_assignment *assignments;
    int32_t n_assignments;
    struct kstr protocol_type, protocol_name; /* v5+, nullable, else null */
};
struct ksyncgroup_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    struct kbytes assignment;
    struct kstr protocol_type, protocol_name; /* v5+, nullable (empty goes out as null) */
};
enum weir_err kproto_syncgroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct ksyncgroup_req *req);
void kproto_syncgroup_encode(struct kbuf *out, int16_t version, const struct ksyncgroup_resp *resp);
void kproto_syncgroup_request_encode(struct kbuf *out, int16_t version, const struct ksyncgroup_req *req);
enum weir_err kproto_syncgroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct ksyncgroup_resp *resp);

/* Heartbeat (12), v0-4; v4 flexible */
struct kheartbeat_req {
    struct kstr group_id;
    int32_t generation_id;
    struct kstr member_id;
    struct kstr group_instance_id; /* v3+, nullable */
};
struct kheartbeat_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
};
enum weir_err kproto_heartbeat_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                      struct kheartbeat_req *req);
void kproto_heartbeat_encode(struct kbuf *out, int16_t version, const struct kheartbeat_resp *resp);
void kproto_heartbeat_request_encode(struct kbuf *out, int16_t version, const struct kheartbeat_req *req);
enum weir_err kproto_heartbeat_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                               struct kheartbeat_resp *resp);

/* LeaveGroup (13), v0-5; v0-2 carry one member_id, v3+ a members array
 * (decoded v0-2 requests become a one-element array); v4+ flexible. */
struct kleavegroup_member {
    struct kstr member_id;
    struct kstr group_instance_id; /* nullable */
    int16_t error_code;            /* response, v3+ */
    struct kstr reason;            /* request, v5+, nullable, else null */
};
struct kleavegroup_req {
    struct kstr group_id;
    struct kleavegroup_member *members;
    int32_t n_members;
};
struct kleavegroup_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    const struct kleavegroup_member *members; /* v3+ */
    int32_t n_members;
};
enum weir_err kproto_leavegroup_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                       struct kleavegroup_req *req);
void kproto_leavegroup_encode(struct kbuf *out, int16_t version, const struct kleavegroup_resp *resp);
/* v0-2 send members[0].member_id and need n_members == 1 (asserted). */
void kproto_leavegroup_request_encode(struct kbuf *out, int16_t version, const struct kleavegroup_req *req);
enum weir_err kproto_leavegroup_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                struct kleavegroup_resp *resp);

/* OffsetCommit (8), v0-9; v8 flexible, v9 = v8 (KIP-848; 69 for a group
 * that does not exist). v0 has no generation or member (decoded as -1 and ""). */
struct koffsetcommit_req_part {
    int32_t partition_index;
    int64_t committed_offset;
    int32_t committed_leader_epoch; /* v6+, else -1 */
    struct kstr committed_metadata; /* nullable */
    int64_t commit_timestamp;       /* v1 only, else -1 */
};
struct koffsetcommit_req_topic {
    struct kstr name;
    struct koffsetcommit_req_part *partitions;
    int32_t n_partitions;
};
struct koffsetcommit_req {
    struct kstr group_id;
    int32_t generation_id;
    struct kstr member_id;
    struct kstr group_instance_id; /* v7+, nullable */
    struct koffsetcommit_req_topic *topics;
    int32_t n_topics;
    int64_t retention_time_ms; /* v2-4, else -1 */
};
struct koffsetcommit_resp_part {
    int32_t partition_index;
    int16_t error_code;
};
struct koffsetcommit_resp_topic {
    struct kstr name;
    const struct koffsetcommit_resp_part *partitions;
    int32_t n_partitions;
};
struct koffsetcommit_resp {
    int32_t throttle_time_ms; /* v3+ */
    const struct koffsetcommit_resp_topic *topics;
    int32_t n_topics;
};
enum weir_err kproto_offsetcommit_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct koffsetcommit_req *req);
void kproto_offsetcommit_encode(struct kbuf *out, int16_t version, const struct koffsetcommit_resp *resp);
void kproto_offsetcommit_request_encode(struct kbuf *out, int16_t version, const struct koffsetcommit_req *req);
enum weir_err kproto_offsetcommit_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct koffsetcommit_resp *resp);

/* OffsetFetch (9), v0-9; v6+ flexible, v8 batches groups, v9 adds each
 * group's member id and epoch (KIP-848; a classic group ignores them). */
struct koffsetfetch_req_topic {
    struct kstr name;
    int32_t *partition_indexes;
    int32_t n_partition_indexes;
};
struct koffsetfetch_req_group { /* v8+ */
    struct kstr group_id;
    struct kstr member_id; /* v9+, nullable; else null */
    int32_t member_epoch;  /* v9+, else -1 */
    struct koffsetfetch_req_topic *topics;
    int32_t n_topics; /* -1 = null = every committed partition */
};
struct koffsetfetch_req {
    /* v0-7 (topics nullable from v2); decoded v8: groups[0] */
    struct kstr group_id;
    struct koffsetfetch_req_topic *topics;
    int32_t n_topics; /* -1 = null = every committed partition */
    bool require_stable; /* v7+ */
    /* v8+. Decoded v0-7: one group, the above. The v8 request encoder sends
     * these, or the above as one group when n_groups is 0. */
    struct koffsetfetch_req_group *groups;
    int32_t n_groups;
};
struct koffsetfetch_resp_part {
    int32_t partition_index;
    int64_t committed_offset;       /* -1 when none */
    int32_t committed_leader_epoch; /* v5+ */
    struct kstr metadata;           /* nullable */
    int16_t error_code;
};
struct koffsetfetch_resp_topic {
    struct kstr name;
    const struct koffsetfetch_resp_part *partitions;
    int32_t n_partitions;
};
struct koffsetfetch_resp_group { /* v8+ */
    struct kstr group_id;
    const struct koffsetfetch_resp_topic *topics;
    int32_t n_topics;
    int16_t error_code;
};
struct koffsetfetch_resp {
    int32_t throttle_time_ms; /* v3+ */
    /* v0-7 (error_code v2+); a decoded v8 response copies groups[0] here */
    const struct koffsetfetch_resp_topic *topics;
    int32_t n_topics;
    int16_t error_code;
    const struct koffsetfetch_resp_group *groups; /* v8+ */
    int32_t n_groups;
};
enum weir_err kproto_offsetfetch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                        struct koffsetfetch_req *req);
void kproto_offsetfetch_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_resp *resp);
void kproto_offsetfetch_request_encode(struct kbuf *out, int16_t version, const struct koffsetfetch_req *req);
enum weir_err kproto_offsetfetch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                 struct koffsetfetch_resp *resp);

/* DescribeGroups (15), v0-5; v5 flexible */
enum { KPROTO_GROUPS_MAX = 100000 }; /* DescribeGroups group names */
struct kdescribegroups_req {
    struct kstr *groups;
    int32_t n_groups;
    bool include_authorized_operations; /* v3+ */
};
struct kdescribegroups_member {
    struct kstr member_id;
    struct kstr client_id;
    struct kstr client_host;
    struct kbytes metadata;
    struct kbytes assignment;
    struct kstr group_instance_id; /* v4+, nullable */
};
struct kdescribegroups_group {
    int16_t error_code;
    struct kstr group_id;
    struct kstr state;
    struct kstr protocol_type;
    struct kstr protocol_data;
    const struct kdescribegroups_member *members;
    int32_t n_members;
    int32_t authorized_operations; /* v3+: a bit per ACL operation code */
};
struct kdescribegroups_resp {
    int32_t throttle_time_ms; /* v1+ */
    const struct kdescribegroups_group *groups;
    int32_t n_groups;
};
enum weir_err kproto_describegroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kdescribegroups_req *req);
void kproto_describegroups_encode(struct kbuf *out, int16_t version, const struct kdescribegroups_resp *resp);
void kproto_describegroups_request_encode(struct kbuf *out, int16_t version, const struct kdescribegroups_req *req);
enum weir_err kproto_describegroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                    struct kdescribegroups_resp *resp);

/* ListGroups (16), v0-4; v3+ flexible. The request body is empty before v4. */
enum { KPROTO_STATES_MAX = 64 }; /* ListGroups states_filter entries */
struct klistgroups_req {
    struct kstr *states_filter; /* v4+: none = every state */
    int32_t n_states_filter;
};
struct klistgroups_group {
    struct kstr group_id;
    struct kstr protocol_type;
    struct kstr group_state; /* v4+ */
};
struct klistgroups_resp {
    int32_t throttle_time_ms; /* v1+ */
    int16_t error_code;
    const struct klistgroups_group *groups;
    int32_t n_groups;
};
enum weir_err kproto_listgroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                       struct klistgroups_req *req);
void kproto_listgroups_encode(struct kbuf *out, int16_t version, const struct klistgroups_resp *resp);
/* req may be NULL: no states filter. */
void kproto_listgroups_request_encode(struct kbuf *out, int16_t version, const struct klistgroups_req *req);
enum weir_err kproto_listgroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                struct klistgroups_resp *resp);

/* The consumer embedded protocol (proto/proto_consumer.c): JoinGroup
 * protocol metadata and SyncGroup/DescribeGroups assignment bytes of
 * protocol_type "consumer". Encoders write version 0 or 1 (asserted).
 * Decoders read any version >= 0 as its v1 prefix (fields of later versions
 * are left unread), into the arena; strings borrow from the input. Errors:
 * the readers', WEIR_E_INVALID (negative version), WEIR_E_NOMEM. */
struct kconsumer_topic_parts {
    struct kstr topic;
    int32_t *partitions;
    int32_t n_partitions;
};
struct kconsumer_subscription {
    int16_t version;       /* as on the wire when decoded */
    struct kstr *topics;
    int32_t n_topics;
    struct kbytes user_data; /* nullable */
    struct kconsumer_topic_parts *owned; /* v1+: owned_partitions */
    int32_t n_owned;
};
struct kconsumer_assignment {
    int16_t version;
    struct kconsumer_topic_parts *partitions; /* assigned_partitions */
    int32_t n_partitions;
    struct kbytes user_data; /* nullable */
};
void kproto_consumer_subscription_encode(struct kbuf *out, const struct kconsumer_subscription *s);
enum weir_err kproto_consumer_subscription_decode(struct weir_rd *rd, struct weir_arena *a,
                                                  struct kconsumer_subscription *s);
void kproto_consumer_assignment_encode(struct kbuf *out, const struct kconsumer_assignment *as);
/* Zero bytes (what a broker sends a member the leader assigned nothing)
 * decode as an empty v0 assignment; anything else must be whole. */
enum weir_err kproto_consumer_assignment_decode(struct weir_rd *rd, struct weir_arena *a,
                                                struct kconsumer_assignment *as);

/* DeleteGroups (42), v0-2; v2 flexible. Both directions. */
struct kdeletegroups_req {
    struct kstr *groups;
    int32_t n_groups;
};
struct kdeletegroups_result {
    struct kstr group_id;
    int16_t error_code;
};
struct kdeletegroups_resp {
    int32_t throttle_time_ms;
    const struct kdeletegroups_result *results;
    int32_t n_results;
};
enum weir_err kproto_deletegroups_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct kdeletegroups_req *req);
void kproto_deletegroups_encode(struct kbuf *out, int16_t version, const struct kdeletegroups_resp *resp);
void kproto_deletegroups_request_encode(struct kbuf *out, int16_t version, const struct kdeletegroups_req *req);
enum weir_err kproto_deletegroups_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct kdeletegroups_resp *resp);

/* ---- DescribeLogDirs (35), v0-4; v2 flexible ---- */

enum { KPROTO_LOG_DIRS_MAX = 1000 }; /* log directories in a response */
struct kdescribelogdirs_req_topic {
    struct kstr topic;
    int32_t *partitions;
    int32_t n_partitions;
};
struct kdescribelogdirs_req {
    struct kdescribelogdirs_req_topic *topics;
    int32_t n_topics; /* -1 = null = every partition */
};
struct kdescribelogdirs_part {
    int32_t partition_index;
    int64_t partition_size; /* bytes of the partition's log segments */
    int64_t offset_lag;
    bool is_future;
};
struct kdescribelogdirs_topic {
    struct kstr name;
    struct kdescribelogdirs_part *partitions;
    int32_t n_partitions;
};
struct kdescribelogdirs_result {
    int16_t error_code;
    struct kstr log_dir; /* absolute path */
    struct kdescribelogdirs_topic *topics;
    int32_t n_topics;
    int64_t total_bytes;  /* v4+; -1 when unknown (and decoded below v4) */
    int64_t usable_bytes; /* v4+; likewise */
};
struct kdescribelogdirs_resp {
    int32_t throttle_time_ms;
    int16_t error_code; /* v3+ */
    struct kdescribelogdirs_result *results;
    int32_t n_results;
};
enum weir_err kproto_describelogdirs_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribelogdirs_req *req);
void kproto_describelogdirs_encode(struct kbuf *out, int16_t version, const struct kdescribelogdirs_resp *resp);
void kproto_describelogdirs_request_encode(struct kbuf *out, int16_t version, const struct kdescribelogdirs_req *req);
enum weir_err kproto_describelogdirs_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribelogdirs_resp *resp);

/* ---- OffsetDelete (47), v0; not flexible ---- */

struct koffsetdelete_req_topic {
    struct kstr name;
    int32_t *partitions;
    int32_t n_partitions;
};
struct koffsetdelete_req {
    struct kstr group_id;
    struct koffsetdelete_req_topic *topics;
    int32_t n_topics;
};
struct koffsetdelete_resp_part {
    int32_t partition_index;
    int16_t error_code;
};
struct koffsetdelete_resp_topic {
    struct kstr name;
    struct koffsetdelete_resp_part *partitions;
    int32_t n_partitions;
};
struct koffsetdelete_resp {
    int16_t error_code; /* first on the wire; with an error, no topics (Kafka's getErrorResponse) */
    int32_t throttle_time_ms;
    struct koffsetdelete_resp_topic *topics;
    int32_t n_topics;
};
enum weir_err kproto_offsetdelete_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                         struct koffsetdelete_req *req);
void kproto_offsetdelete_encode(struct kbuf *out, int16_t version, const struct koffsetdelete_resp *resp);
void kproto_offsetdelete_request_encode(struct kbuf *out, int16_t version, const struct koffsetdelete_req *req);
enum weir_err kproto_offsetdelete_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                  struct koffsetdelete_resp *resp);

/* ---- DescribeCluster (60), v0-1; flexible from v0 ---- */

enum { KPROTO_ENDPOINT_BROKERS = 1, KPROTO_ENDPOINT_CONTROLLERS = 2 }; /* KIP-919 endpoint types */
struct kdescribecluster_req {
    bool include_cluster_authorized_operations;
    int8_t endpoint_type; /* v1+; KPROTO_ENDPOINT_BROKERS before */
};
struct kdescribecluster_resp {
    int32_t throttle_time_ms;
    int16_t error_code;
    struct kstr error_message; /* nullable */
    int8_t endpoint_type;      /* v1+; decoded as KPROTO_ENDPOINT_BROKERS below */
    struct kstr cluster_id;
    int32_t controller_id;     /* -1 when none is known */
    const struct kmetadata_broker *brokers; /* rack nullable */
    int32_t n_brokers;
    int32_t cluster_authorized_operations; /* KPROTO_AUTHORIZED_OPS_NONE unless asked */
};
enum weir_err kproto_describecluster_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribecluster_req *req);
void kproto_describecluster_encode(struct kbuf *out, int16_t version, const struct kdescribecluster_resp *resp);
void kproto_describecluster_request_encode(struct kbuf *out, int16_t version, const struct kdescribecluster_req *req);
enum weir_err kproto_describecluster_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribecluster_resp *resp);

#endif
