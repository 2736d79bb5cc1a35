/* base/err.c: the error table and errno translation (Kafka codes: proto/kerr.c). */
#include "base.h"

#include <errno.h>
#include <string.h>

static const char *const err_text[1 - WEIR_E_LAST] = {
    [0] = "WEIR_OK: success",
    [-WEIR_E_TRUNCATED] = "WEIR_E_TRUNCATED: input shorter than its declared length",
    [-WEIR_E_CRC] = "WEIR_E_CRC: record batch CRC-32C mismatch",
    [-WEIR_E_IO] = "WEIR_E_IO: storage I/O failed",
    [-WEIR_E_SEGMENT_FULL] = "WEIR_E_SEGMENT_FULL: batch does not fit the active segment",
    [-WEIR_E_TOO_LARGE] = "WEIR_E_TOO_LARGE: over the size limit",
    [-WEIR_E_INVALID] = "WEIR_E_INVALID: malformed record batch or record",
    [-WEIR_E_NOMEM] = "WEIR_E_NOMEM: out of memory or buffer space",
    [-WEIR_E_NOT_FOUND] = "WEIR_E_NOT_FOUND: unknown topic or partition",
    [-WEIR_E_EXISTS] = "WEIR_E_EXISTS: topic already exists",
    [-WEIR_E_BAD_NAME] = "WEIR_E_BAD_NAME: illegal topic name (legal: [a-zA-Z0-9._-], 1..249 chars, not . or ..)",
    [-WEIR_E_BAD_CONFIG] = "WEIR_E_BAD_CONFIG: unknown config key or value out of range",
    [-WEIR_E_OFFSET_RANGE] = "WEIR_E_OFFSET_RANGE: offset outside [log start, log end]",
    [-WEIR_E_FAILED] = "WEIR_E_FAILED: partition is read-only after a storage error",
    [-WEIR_E_CORRUPT] = "WEIR_E_CORRUPT: on-disk data is unreadable",
    [-WEIR_E_UNSUPPORTED] = "WEIR_E_UNSUPPORTED: unsupported magic or compression codec",
    [-WEIR_E_BAD_PARTITIONS] = "WEIR_E_BAD_PARTITIONS: partition count out of range or not increasing",
    [-WEIR_E_CLOSED] = "WEIR_E_CLOSED: object is closing",
    [-WEIR_E_BUSY] = "WEIR_E_BUSY: data directory is in use by another process",
    [-WEIR_E_DUPLICATE] = "WEIR_E_DUPLICATE: batch was already appended (answered with its original offset)",
    [-WEIR_E_OUT_OF_SEQUENCE] = "WEIR_E_OUT_OF_SEQUENCE: producer sequence does not follow the last appended",
    [-WEIR_E_PRODUCER_EPOCH] = "WEIR_E_PRODUCER_EPOCH: producer epoch is older than the partition's",
    [-WEIR_E_TRANSACTIONAL] = "WEIR_E_TRANSACTIONAL: transactional batches are not supported",
    [-WEIR_E_NOSPACE] = "WEIR_E_NOSPACE: not enough free disk space (file system full, or below the broker's free-space reserve)",
    [-WEIR_E_TIMEOUT] = "WEIR_E_TIMEOUT: timed out",
    [-WEIR_E_UNAVAILABLE] = "WEIR_E_UNAVAILABLE: the cluster's coordination service is not reachable",
    [-WEIR_E_STALE] = "WEIR_E_STALE: the state changed since it was read",
    [-WEIR_E_TIMESTAMP] = "WEIR_E_TIMESTAMP: a record's timestamp is outside the topic's allowed range",
};

const char *weir_err_str(enum weir_err e)
{
    if (e > 0 || e < WEIR_E_LAST || !err_text[-e]) return "WEIR_E_?: unknown error";
    return err_text[-e];
}

const char *weir_err_text(enum weir_err e)
{
    const char *s = weir_err_str(e), *colon = strchr(s, ':');
    return colon ? colon + 2 : s; /* every entry is "NAME: text" */
}

enum weir_err weir_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0: return WEIR_OK;
    case ENOMEM: return WEIR_E_NOMEM;
    case ENOENT: return WEIR_E_NOT_FOUND;
    case EEXIST: return WEIR_E_EXISTS;
    case EFBIG: return WEIR_E_TOO_LARGE;
    case ENOSPC:
    case EDQUOT: return WEIR_E_NOSPACE;
    default: return WEIR_E_IO;
    }
}
