/* record/record.h: the Kafka RecordBatch v2 (magic 2) format, the one header
 * other modules include from record/: batch header decode and validation,
 * record iteration, the batch builder, Kafka's four codecs (gzip, snappy,
 * lz4, zstd: record/codec.c) and the legacy message formats. Shared by
 * the storage engine (engine/), the broker (net/) and the client (client/);
 * depends on base/ only. Pure functions over caller memory: no threads, no I/O.
 * Layout and CRC range: docs/on-disk-format.md. */
#ifndef WEIR_RECORD_H
#define WEIR_RECORD_H

#include "base/base.h"

enum {
    WEIR_BATCH_OFF_BASE_OFFSET = 0,
    WEIR_BATCH_OFF_LENGTH = 8,
    WEIR_BATCH_OFF_LEADER_EPOCH = 12,
    WEIR_BATCH_OFF_MAGIC = 16,
    WEIR_BATCH_OFF_CRC = 17,
    WEIR_BATCH_OFF_ATTRS = 21,
    WEIR_BATCH_OFF_LAST_DELTA = 23,
    WEIR_BATCH_OFF_BASE_TS = 27,
    WEIR_BATCH_OFF_MAX_TS = 35,
    WEIR_BATCH_OFF_PRODUCER_ID = 43,
    WEIR_BATCH_OFF_PRODUCER_EPOCH = 51,
    WEIR_BATCH_OFF_BASE_SEQ = 53,
    WEIR_BATCH_OFF_COUNT = 57,
    WEIR_BATCH_HEADER_BYTES = 61,
    WEIR_BATCH_LOG_OVERHEAD = 12, /* baseOffset + batchLength precede the length */
    WEIR_BATCH_MAGIC = 2,
};
_Static_assert(WEIR_BATCH_OFF_CRC + 4 == WEIR_BATCH_OFF_ATTRS, "CRC-32C covers attributes onward");
_Static_assert(WEIR_BATCH_OFF_COUNT + 4 == WEIR_BATCH_HEADER_BYTES, "records follow the count");

enum weir_codec { WEIR_CODEC_NONE = 0, WEIR_CODEC_GZIP = 1, WEIR_CODEC_SNAPPY = 2, WEIR_CODEC_LZ4 = 3, WEIR_CODEC_ZSTD = 4 };
enum {
    WEIR_ATTR_CODEC_MASK = 0x07,
    WEIR_ATTR_LOG_APPEND_TIME = 0x08,
    WEIR_ATTR_TRANSACTIONAL = 0x10,
    WEIR_ATTR_CONTROL = 0x20,
};

/* The 61-byte header, decoded. */
struct weir_batch_header {
    int64_t base_offset;
    int32_t length;        /* bytes after the length field; whole batch = 12 + length */
    int32_t leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

/* Decodes the header of the batch at p (n bytes available). Checks only that
 * the header is there and magic is 2. Errors: WEIR_E_TRUNCATED, WEIR_E_UNSUPPORTED. */
enum weir_err weir_batch_header_decode(const uint8_t *p, size_t n, struct weir_batch_header *h);

/* Full check of one batch as it arrives from a producer or is read back at
 * recovery: length within [49, n-12] and <= max_bytes, magic 2, CRC-32C,
 * records_count >= 1 and == last_offset_delta + 1 when `from_client`
 * (<= when not: a compacted batch keeps its offsets, with gaps), codec 0-4
 * (the records are not decompressed: weir_batch_records_check does that), not a
 * control batch when `from_client`. Sets *batch_bytes to 12 + length.
 * Errors: WEIR_E_TRUNCATED, WEIR_E_TOO_LARGE, WEIR_E_UNSUPPORTED, WEIR_E_CRC,
 * WEIR_E_INVALID. Reads only; O(batch) for the CRC. */
enum weir_err weir_batch_validate(const uint8_t *p, size_t n, size_t max_bytes, bool from_client,
                                  size_t *batch_bytes);
/* weir_batch_validate that also returns the decoded header (valid only on
 * WEIR_OK; the batch is 12 + h->length bytes), for callers that need its
 * fields: one decode instead of two. The same checks, in the same order. */
enum weir_err weir_batch_check(const uint8_t *p, size_t n, size_t max_bytes, bool from_client,
                               struct weir_batch_header *h);

/* Rewrite fields outside the CRC (no recompute needed). */
static inline void weir_batch_set_base_offset(uint8_t *batch, int64_t offset)
{
    weir_store_be64(batch + WEIR_BATCH_OFF_BASE_OFFSET, (uint64_t)offset);
}
static inline void weir_batch_set_leader_epoch(uint8_t *batch, int32_t epoch)
{
    weir_store_be32(batch + WEIR_BATCH_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

struct weir_header {
    const uint8_t *key;   /* never NULL for a valid header (may be length 0) */
    int32_t key_len;
    const uint8_t *value; /* NULL when null */
    int32_t value_len;    /* -1 when null */
};

/* One decoded record. Pointers borrow the batch (or the iterator's scratch). */
struct weir_record {
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key;   /* NULL when null */
    int32_t key_len;      /* -1 when null */
    const uint8_t *value; /* NULL when null */
    int32_t value_len;    /* -1 when null */
    int32_t headers_count;
    const uint8_t *headers_raw; /* the encoded headers; walk with weir_record_header_next */
    size_t headers_raw_len;
};

/* Iterates the records of one batch. A compressed batch (any of the four codecs) is decompressed into
 * scratch (caller-owned, grown with weir_realloc; free it with weir_free). */
struct weir_record_iter {
    struct weir_batch_header hdr;
    struct weir_rd rd;   /* over the (decompressed) records */
    int32_t index;
    uint8_t **scratch;
    size_t *scratch_cap;
};
/* Errors: as weir_batch_header_decode, WEIR_E_UNSUPPORTED (codec 5-7, or a
 * compressed batch without scratch), WEIR_E_INVALID (compressed data that
 * does not decode), WEIR_E_TOO_LARGE (decompresses past `max_decompressed`). */
enum weir_err weir_record_iter_init(struct weir_record_iter *it, const uint8_t *batch, size_t n,
                                    uint8_t **scratch, size_t *scratch_cap, size_t max_decompressed);
/* WEIR_OK and a record, or WEIR_E_NOT_FOUND at the end, or WEIR_E_INVALID /
 * WEIR_E_TRUNCATED for a malformed record (count, varints, lengths). */
enum weir_err weir_record_iter_next(struct weir_record_iter *it, struct weir_record *rec);
/* Walks rec->headers_raw; *pos starts at 0. WEIR_E_NOT_FOUND at the end. */
enum weir_err weir_record_header_next(const struct weir_record *rec, size_t *pos, struct weir_header *h);

/* Builds one RecordBatch v2 into a caller buffer. Records are written as they
 * are added; finish() compresses them in place (any codec, at `level`: set it
 * after init, default WEIR_CODEC_LEVEL_DEFAULT) and writes the header and
 * CRC. The buffer holds at most `cap` bytes. */
struct weir_batch_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;          /* bytes used, header included */
    enum weir_codec codec;
    int level;           /* the codec's level (weir_codec_level_valid) */
    int32_t count;
    int64_t base_timestamp;
    int64_t max_timestamp;
    bool finished;
};
void weir_batch_builder_init(struct weir_batch_builder *b, uint8_t *buf, size_t cap, enum weir_codec codec);
/* Appends one record. key/value NULL means null. Errors: WEIR_E_TOO_LARGE
 * (does not fit: nothing added), WEIR_E_INVALID (after finish). */
enum weir_err weir_batch_builder_add(struct weir_batch_builder *b, int64_t timestamp, const void *key,
                                     int32_t key_len, const void *value, int32_t value_len,
                                     const struct weir_header *headers, int32_t headers_count);
/* Bytes the next record would take, to decide when a batch is full. */
size_t weir_batch_record_size(int64_t timestamp_delta, int32_t offset_delta, int32_t key_len,
                              int32_t value_len, const struct weir_header *headers, int32_t headers_count);
/* Writes the header (base offset 0) and CRC; returns the batch length in *out_len.
 * Errors: WEIR_E_INVALID (no records), WEIR_E_NOMEM, WEIR_E_TOO_LARGE (compressed
 * output larger than cap). */
enum weir_err weir_batch_builder_finish(struct weir_batch_builder *b, int64_t producer_id,
                                        int16_t producer_epoch, int32_t base_sequence, size_t *out_len);

/* Checks a whole batch's records (after weir_batch_check passed): they
 * decompress within max_decompressed bytes, and there are exactly
 * records_count of them with well-formed varints, lengths and headers and
 * offset deltas 0, 1, ... (Kafka's LogValidator on a compressed batch).
 * Scratch as for weir_record_iter_init. Errors: WEIR_E_INVALID (a codec
 * error or a malformed record), WEIR_E_TRUNCATED, WEIR_E_TOO_LARGE,
 * WEIR_E_UNSUPPORTED, WEIR_E_NOMEM. Reads only. */
enum weir_err weir_batch_records_check(const uint8_t *batch, size_t n, uint8_t **scratch, size_t *scratch_cap,
                                       size_t max_decompressed);
/* Rewrites the one batch at batch (exactly n bytes) with its records in
 * codec `to` at `level`: every header field kept (offsets, timestamps,
 * producer id, epoch and sequence, other attribute bits) but the codec bits
 * and the length; CRC recomputed. The batch is first checked as by
 * weir_batch_check (so a bad CRC is never made good) and its records as by
 * weir_batch_records_check. On WEIR_OK *out is a weir_malloc'd batch of
 * *out_len bytes (the caller frees it). Errors: those of
 * weir_batch_check and weir_batch_records_check, WEIR_E_BAD_CONFIG (level), WEIR_E_TOO_LARGE
 * (the result over max_bytes). Scratch as for weir_record_iter_init. */
enum weir_err weir_batch_recompress(const uint8_t *batch, size_t n, enum weir_codec to, int level,
                                    size_t max_decompressed, size_t max_bytes, uint8_t **scratch,
                                    size_t *scratch_cap, uint8_t **out, size_t *out_len);

/* ---- codecs (record/codec.c; gzip.c and lz4.c under it) --------------------
 * Kafka's codec ids are enum weir_codec. Compression writes what Kafka's Java
 * client writes (one gzip member; xerial-framed snappy; Kafka's LZ4 frame;
 * one zstd frame). Decompression takes what Kafka's readers take (gzip
 * members, xerial or raw snappy, LZ4 frames, zstd frames with or without a
 * content size, each back to back), grows *dst with weir_realloc up to max
 * bytes and never past it. */
enum { WEIR_CODEC_LEVEL_DEFAULT = -1, WEIR_ZSTD_LEVEL_MIN = -131072 };
/* "none", "gzip", "snappy", "lz4", "zstd" ("unknown" past 4). */
const char *weir_codec_name(enum weir_codec c);
/* The inverse of weir_codec_name. Errors: WEIR_E_BAD_CONFIG. */
enum weir_err weir_codec_parse(const char *name, enum weir_codec *c);
/* Kafka's ranges: gzip 1-9, lz4 1-17, zstd -131072..22; -1 (default) for
 * every codec; none and snappy take no other level. */
bool weir_codec_level_valid(enum weir_codec c, int level);
/* The most bytes weir_codec_compress writes for n bytes of input. */
size_t weir_codec_bound(enum weir_codec c, size_t n);
/* Compresses src into dst (cap bytes; give weir_codec_bound(c, n)).
 * Errors: WEIR_E_TOO_LARGE (does not fit cap), WEIR_E_BAD_CONFIG (level),
 * WEIR_E_UNSUPPORTED (codec none or above 4), WEIR_E_NOMEM. */
enum weir_err weir_codec_compress(enum weir_codec c, int level, const uint8_t *src, size_t n, uint8_t *dst,
                                  size_t cap, size_t *out_len);
/* Errors: WEIR_E_INVALID (not this codec's data, corrupt, cut short, or
 * empty), WEIR_E_TOO_LARGE (more than max bytes), WEIR_E_UNSUPPORTED (codec
 * none or above 4), WEIR_E_NOMEM. On error *out_len is untouched; *dst may
 * have grown. */
enum weir_err weir_codec_decompress(enum weir_codec c, const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap,
                                    size_t max, size_t *out_len);

/* gzip (record/gzip.c, zlib): decompresses one or more gzip members; *dst
 * grows with weir_realloc up to max bytes. Errors: WEIR_E_INVALID (not gzip,
 * corrupt, cut short), WEIR_E_TOO_LARGE (more than max), WEIR_E_NOMEM. */
enum weir_err weir_gzip_decompress(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                   size_t *out_len);
/* CRC-32 (IEEE, zlib's): the legacy formats' message checksum. */
uint32_t weir_crc32(const uint8_t *p, size_t n);

/* ---- the legacy message formats, magic 0 and 1 (record/legacy.c) ----------
 * Never stored: Produce v0-2 sets are up-converted to one RecordBatch v2 and
 * Fetch v0-3 readers get stored batches down-converted, as Kafka 3.x does. */

/* Is the set at p a legacy message set (its first magic byte 0 or 1)? */
bool weir_legacy_is_set(const uint8_t *p, size_t n);
/* Up-converts the legacy message set at set (n bytes) to one RecordBatch v2
 * with base offset 0 and no producer id (Kafka's LogValidator): plain messages
 * become its records in order; a compressed set must be exactly one wrapper
 * (gzip, snappy or lz4) whose inner messages become the records (inner offsets are
 * not used: offsets are assigned on append). Magic 1 timestamps are kept (the
 * wrapper's for a log-append-time wrapper); magic 0 ones are -1. Keys and
 * values are copied; headers none. An lz4 wrapper gives an lz4 batch, the
 * others an uncompressed one. Every message's CRC-32 is checked. A magic 0
 * lz4 wrapper's frame header checksum is rewritten in place (`set` must be
 * writable). On WEIR_OK *out is a weir_malloc'd batch of *out_len bytes, the
 * caller frees it. Errors (nothing allocated): WEIR_E_CRC (a CRC, or a
 * wrapper that does not decompress), WEIR_E_TRUNCATED (a message cut short or
 * below the format's minimum size), WEIR_E_INVALID (empty set, bad lengths,
 * an inner magic other than the wrapper's, nested compression, more than one
 * wrapper), WEIR_E_UNSUPPORTED (zstd, or a codec above 3), WEIR_E_TOO_LARGE
 * (records or the batch over max_bytes, or a wrapper decompressing past it),
 * WEIR_E_NOMEM. */
enum weir_err weir_legacy_upconvert(uint8_t *set, size_t n, size_t max_bytes, uint8_t **out, size_t *out_len);
/* Down-converts the whole RecordBatch v2 batches at p (n bytes; a partial
 * batch at the end is ignored) to an uncompressed message set of `magic` (0
 * or 1; Kafka's RecordsUtil.downConvert keeps the batch codec, weir writes
 * plain messages): one message per record at or after first_offset, with its
 * absolute offset, key and value (headers are dropped; magic 1: its timestamp,
 * and the log-append-time attribute of its batch). Control batches are
 * skipped. Whole messages are appended to *out (grown with weir_realloc; the
 * caller frees it) while the total stays within max: *out_len bytes; *need is
 * the size of the first message that did not fit (0 when every record did).
 * A compressed batch decompresses into scratch up to max_decompressed bytes.
 * Errors: those of weir_record_iter_init/next (WEIR_E_UNSUPPORTED for a
 * zstd batch: Kafka refuses zstd to magic < 2 readers), WEIR_E_NOMEM; *out_len holds what was
 * converted before. */
enum weir_err weir_legacy_downconvert(const uint8_t *p, size_t n, int8_t magic, int64_t first_offset, size_t max,
                                      size_t max_decompressed, uint8_t **out, size_t *out_cap, size_t *out_len,
                                      size_t *need);

/* LZ4 frame as Kafka writes it: independent 64 KiB blocks, no checksums. */
size_t weir_lz4_bound(size_t n);
enum weir_err weir_lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t *out_len);
/* Decompresses a whole frame; *dst grows with weir_realloc up to max bytes. */
enum weir_err weir_lz4_decompress(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                  size_t *out_len);

#endif
