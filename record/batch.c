/* record/batch.c: Kafka RecordBatch v2 (magic 2): header, validation, record
 * iteration, and the builder.
 *
 * A batch is the 61-byte header, then the records; with a codec the bytes
 * from 61 on are the compressed records (record/codec.c). The CRC-32C covers
 * [21, 12 + length) and is stored big-endian at 17 (README §5).
 * Invariants:
 *  (1) the iterator reads only inside [batch + 61, batch + 12 + length), or the
 *      decompressed scratch: every length is checked against what remains, so
 *      any bytes at all give a record or an error, never a crash;
 *  (2) a record's fields consume exactly the `length` that precedes them;
 *  (3) a builder's buf[61, len) holds whole records, and len <= cap, until
 *      finish() writes the header and CRC and compresses the records. */
#include "record.h"

enum { BATCH_LENGTH_MIN = WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD };
_Static_assert(BATCH_LENGTH_MIN == 49, "batchLength counts the header bytes after itself");

static int64_t add_wrap(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

/* ---- header and validation ----------------------------------------------- */

enum weir_err weir_batch_header_decode(const uint8_t *p, size_t n, struct weir_batch_header *h)
{
    if (n < WEIR_BATCH_HEADER_BYTES) return WEIR_E_TRUNCATED;
    h->base_offset = (int64_t)weir_load_be64(p + WEIR_BATCH_OFF_BASE_OFFSET);
    h->length = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LENGTH);
    h->leader_epoch = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)p[WEIR_BATCH_OFF_MAGIC];
    h->crc = weir_load_be32(p + WEIR_BATCH_OFF_CRC);
    h->attributes = (int16_t)weir_load_be16(p + WEIR_BATCH_OFF_ATTRS);
    h->last_offset_delta = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LAST_DELTA);
    h->base_timestamp = (int64_t)weir_load_be64(p + WEIR_BATCH_OFF_BASE_TS);
    h->max_timestamp = (int64_t)weir_load_be64(p + WEIR_BATCH_OFF_MAX_TS);
    h->producer_id = (int64_t)weir_load_be64(p + WEIR_BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = (int16_t)weir_load_be16(p + WEIR_BATCH_OFF_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_BASE_SEQ);
    h->records_count = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_COUNT);
    return h->magic == WEIR_BATCH_MAGIC ? WEIR_OK : WEIR_E_UNSUPPORTED;
}

/* Kafka's codecs 0-4; 5-7 are not codecs. */
static bool codec_supported(int16_t attributes)
{
    return (attributes & WEIR_ATTR_CODEC_MASK) <= WEIR_CODEC_ZSTD;
}

/* Checks run in a fixed order, cheapest and most basic first; the first
 * failure decides the error. Only the size checks precede the magic. */
enum weir_err weir_batch_check(const uint8_t *p, size_t n, size_t max_bytes, bool from_client,
                               struct weir_batch_header *h)
{
    if (n < WEIR_BATCH_LOG_OVERHEAD) return WEIR_E_TRUNCATED;
    int32_t length = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LENGTH);
    if (length < BATCH_LENGTH_MIN) return WEIR_E_INVALID;
    size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)length;
    if (total > max_bytes) return WEIR_E_TOO_LARGE;
    if (total > n) return WEIR_E_TRUNCATED;

    enum weir_err err = weir_batch_header_decode(p, total, h);
    if (err != WEIR_OK) return err;
    if (weir_crc32c(0, p + WEIR_BATCH_OFF_ATTRS, total - WEIR_BATCH_OFF_ATTRS) != h->crc) return WEIR_E_CRC;
    /* A producer's batch holds every offset it spans; a stored one may have
     * fewer records after compaction (Kafka keeps the offsets: gaps). */
    if (h->records_count < 1 || h->last_offset_delta < 0 || (int64_t)h->last_offset_delta + 1 < h->records_count ||
        (from_client && (int64_t)h->last_offset_delta + 1 != h->records_count))
        return WEIR_E_INVALID;
    if (!codec_supported(h->attributes)) return WEIR_E_UNSUPPORTED;
    if (from_client && (h->attributes & WEIR_ATTR_CONTROL)) return WEIR_E_INVALID;
    if (from_client && h->producer_id >= 0 && h->base_sequence < 0) return WEIR_E_INVALID;
    return WEIR_OK;
}

enum weir_err weir_batch_validate(const uint8_t *p, size_t n, size_t max_bytes, bool from_client,
                                  size_t *batch_bytes)
{
    struct weir_batch_header h;
    enum weir_err err = weir_batch_check(p, n, max_bytes, from_client, &h);
    if (err == WEIR_OK && batch_bytes) *batch_bytes = WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length;
    return err;
}

/* ---- record iteration ---------------------------------------------------- */

static void rd_fail(struct weir_rd *rd, enum weir_err err)
{
    if (rd->err == WEIR_OK) rd->err = err;
}

/* Bytes of a length-prefixed field: -1 is null (NULL), below -1 is malformed. */
static const uint8_t *rd_nullable(struct weir_rd *rd, int32_t len)
{
    if (len == -1) return NULL;
    if (len < -1) {
        rd_fail(rd, WEIR_E_INVALID);
        return NULL;
    }
    return weir_rd_bytes(rd, (size_t)len);
}

/* One header: keyLength >= 0 (keys are never null), key, nullable value. */
static void header_read(struct weir_rd *rd, struct weir_header *h)
{
    h->key_len = weir_rd_varint(rd);
    if (h->key_len < 0) rd_fail(rd, WEIR_E_INVALID);
    h->key = rd_nullable(rd, h->key_len);
    h->value_len = weir_rd_varint(rd);
    h->value = rd_nullable(rd, h->value_len);
}

/* Decodes one record from exactly `len` bytes at body. */
static enum weir_err record_decode(const struct weir_record_iter *it, const uint8_t *body, size_t len,
                                   struct weir_record *rec)
{
    struct weir_rd r = weir_rd_make(body, len);
    (void)weir_rd_u8(&r); /* record attributes: unused by Kafka */
    int64_t ts_delta = weir_rd_varlong(&r);
    int32_t offset_delta = weir_rd_varint(&r);
    rec->key_len = weir_rd_varint(&r);
    rec->key = rd_nullable(&r, rec->key_len);
    rec->value_len = weir_rd_varint(&r);
    rec->value = rd_nullable(&r, rec->value_len);
    rec->headers_count = weir_rd_varint(&r);
    if (rec->headers_count < 0) rd_fail(&r, WEIR_E_INVALID);
    rec->headers_raw = r.pos;
    /* Each header takes >= 2 bytes or fails: bounded by len / 2 turns. */
    for (int32_t i = 0; i < rec->headers_count && r.err == WEIR_OK; i++) {
        struct weir_header h;
        header_read(&r, &h);
    }
    if (r.err != WEIR_OK || weir_rd_left(&r) != 0) return WEIR_E_INVALID;
    rec->headers_raw_len = (size_t)(r.pos - rec->headers_raw);

    const struct weir_batch_header *h = &it->hdr;
    rec->offset = add_wrap(h->base_offset, offset_delta);
    rec->timestamp = (h->attributes & WEIR_ATTR_LOG_APPEND_TIME) ? h->max_timestamp
                                                                 : add_wrap(h->base_timestamp, ts_delta);
    return WEIR_OK;
}

/* Points it->rd at the records: in place, or decompressed into scratch. */
static enum weir_err iter_records_open(struct weir_record_iter *it, const uint8_t *batch, size_t n,
                                       size_t max_decompressed)
{
    const struct weir_batch_header *h = &it->hdr;
    if (h->length < BATCH_LENGTH_MIN || h->records_count < 0) return WEIR_E_INVALID;
    size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)h->length;
    if (total > n) return WEIR_E_TRUNCATED;
    const uint8_t *records = batch + WEIR_BATCH_HEADER_BYTES;
    size_t len = total - WEIR_BATCH_HEADER_BYTES;

    enum weir_codec codec = (enum weir_codec)(h->attributes & WEIR_ATTR_CODEC_MASK);
    if (codec == WEIR_CODEC_NONE) {
        it->rd = weir_rd_make(records, len);
        return WEIR_OK;
    }
    if (codec > WEIR_CODEC_ZSTD) return WEIR_E_UNSUPPORTED;
    if (!it->scratch || !it->scratch_cap) return WEIR_E_UNSUPPORTED; /* nowhere to decompress */
    size_t out = 0;
    enum weir_err err = weir_codec_decompress(codec, records, len, it->scratch, it->scratch_cap, max_decompressed, &out);
    if (err != WEIR_OK) return err;
    it->rd = out ? weir_rd_make(*it->scratch, out) : weir_rd_make(records, 0);
    return WEIR_OK;
}

enum weir_err weir_record_iter_init(struct weir_record_iter *it, const uint8_t *batch, size_t n,
                                    uint8_t **scratch, size_t *scratch_cap, size_t max_decompressed)
{
    memset(it, 0, sizeof *it);
    it->scratch = scratch;
    it->scratch_cap = scratch_cap;
    enum weir_err err = weir_batch_header_decode(batch, n, &it->hdr);
    if (err == WEIR_OK) err = iter_records_open(it, batch, n, max_decompressed);
    if (err != WEIR_OK) {
        it->rd = weir_rd_make(batch, 0);
        it->rd.err = err; /* next() repeats the error */
    }
    return err;
}

/* Errors stick in it->rd.err: after one, every call returns it again. */
enum weir_err weir_record_iter_next(struct weir_record_iter *it, struct weir_record *rec)
{
    struct weir_rd *rd = &it->rd;
    if (rd->err != WEIR_OK) return rd->err;
    if (it->index >= it->hdr.records_count) {
        if (weir_rd_left(rd) == 0) return WEIR_E_NOT_FOUND;
        rd_fail(rd, WEIR_E_INVALID); /* bytes past the last counted record */
        return rd->err;
    }
    if (weir_rd_left(rd) == 0) {
        rd_fail(rd, WEIR_E_INVALID); /* fewer records than counted */
        return rd->err;
    }
    int32_t len = weir_rd_varint(rd);
    if (rd->err == WEIR_OK && len < 0) rd_fail(rd, WEIR_E_INVALID);
    const uint8_t *body = weir_rd_bytes(rd, (size_t)WEIR_MAX(len, 0));
    if (!body) return rd->err;
    enum weir_err err = record_decode(it, body, (size_t)len, rec);
    if (err != WEIR_OK) {
        rd_fail(rd, err);
        return err;
    }
    it->index++;
    return WEIR_OK;
}

enum weir_err weir_record_header_next(const struct weir_record *rec, size_t *pos, struct weir_header *h)
{
    if (*pos == rec->headers_raw_len) return WEIR_E_NOT_FOUND;
    if (*pos > rec->headers_raw_len || !rec->headers_raw) return WEIR_E_INVALID;
    struct weir_rd r = weir_rd_make(rec->headers_raw + *pos, rec->headers_raw_len - *pos);
    header_read(&r, h);
    if (r.err != WEIR_OK) return WEIR_E_INVALID;
    *pos = (size_t)(r.pos - rec->headers_raw);
    return WEIR_OK;
}

/* ---- the builder ----------------------------------------------------------- */

static size_t nullable_size(int32_t len) { return len < 0 ? 1 : weir_varlong_len(len) + (size_t)len; }

/* A header's value is null when its pointer is NULL. */
static int32_t header_value_len(const struct weir_header *h) { return h->value ? h->value_len : -1; }

/* Bytes of a record after its length varint. Lengths < 0 are null. */
static size_t record_body_size(int64_t timestamp_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
                               const struct weir_header *headers, int32_t headers_count)
{
    size_t n = 1 + weir_varlong_len(timestamp_delta) + weir_varlong_len(offset_delta) + nullable_size(key_len) +
               nullable_size(value_len) + weir_varlong_len(headers_count);
    for (int32_t i = 0; i < headers_count; i++) {
        n += nullable_size(WEIR_MAX(headers[i].key_len, 0));
        n += nullable_size(header_value_len(&headers[i]));
    }
    return n;
}

size_t weir_batch_record_size(int64_t timestamp_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
                              const struct weir_header *headers, int32_t headers_count)
{
    size_t body = record_body_size(timestamp_delta, offset_delta, key_len, value_len, headers, headers_count);
    return weir_varlong_len((int64_t)body) + body;
}

void weir_batch_builder_init(struct weir_batch_builder *b, uint8_t *buf, size_t cap, enum weir_codec codec)
{
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = cap;
    b->len = WEIR_BATCH_HEADER_BYTES; /* the header is written by finish() */
    b->codec = codec;
    b->level = WEIR_CODEC_LEVEL_DEFAULT;
}

static bool bytes_arg_valid(const void *p, int32_t len) { return p ? len >= 0 : true; }

static bool add_args_valid(const void *key, int32_t key_len, const void *value, int32_t value_len,
                           const struct weir_header *headers, int32_t headers_count)
{
    if (!bytes_arg_valid(key, key_len) || !bytes_arg_valid(value, value_len)) return false;
    if (headers_count < 0 || (headers_count > 0 && !headers)) return false;
    for (int32_t i = 0; i < headers_count; i++) {
        const struct weir_header *h = &headers[i];
        if (h->key_len < 0 || (h->key_len > 0 && !h->key) || !bytes_arg_valid(h->value, h->value_len))
            return false;
    }
    return true;
}

static void wr_nullable(struct weir_wr *wr, const void *p, int32_t len)
{
    weir_wr_varint(wr, len);
    if (len > 0) weir_wr_bytes(wr, p, (size_t)len);
}

enum weir_err weir_batch_builder_add(struct weir_batch_builder *b, int64_t timestamp, const void *key,
                                     int32_t key_len, const void *value, int32_t value_len,
                                     const struct weir_header *headers, int32_t headers_count)
{
    if (b->finished || !add_args_valid(key, key_len, value, value_len, headers, headers_count))
        return WEIR_E_INVALID;
    if (b->count == INT32_MAX) return WEIR_E_TOO_LARGE;
    if (!key) key_len = -1;
    if (!value) value_len = -1;
    int64_t ts_delta = b->count ? (int64_t)((uint64_t)timestamp - (uint64_t)b->base_timestamp) : 0;
    size_t body = record_body_size(ts_delta, b->count, key_len, value_len, headers, headers_count);
    size_t size = weir_varlong_len((int64_t)body) + body;
    if (body > INT32_MAX || b->len > b->cap || size > b->cap - b->len) return WEIR_E_TOO_LARGE;
    if (size > (size_t)INT32_MAX - (b->len - WEIR_BATCH_LOG_OVERHEAD)) return WEIR_E_TOO_LARGE; /* batchLength */

    struct weir_wr wr = weir_wr_make(b->buf + b->len, size);
    weir_wr_varint(&wr, (int32_t)body);
    weir_wr_u8(&wr, 0); /* record attributes */
    weir_wr_varlong(&wr, ts_delta);
    weir_wr_varint(&wr, b->count); /* offsetDelta */
    wr_nullable(&wr, key, key_len);
    wr_nullable(&wr, value, value_len);
    weir_wr_varint(&wr, headers_count);
    for (int32_t i = 0; i < headers_count; i++) {
        wr_nullable(&wr, headers[i].key, headers[i].key_len);
        wr_nullable(&wr, headers[i].value, header_value_len(&headers[i]));
    }
    WEIR_ASSERT(wr.err == WEIR_OK && weir_wr_len(&wr) == size);

    if (b->count == 0) b->base_timestamp = b->max_timestamp = timestamp;
    b->max_timestamp = WEIR_MAX(b->max_timestamp, timestamp);
    b->count++;
    b->len += size;
    return WEIR_OK;
}

/* Replaces buf[61, len) with the records compressed. Nothing changes on error. */
static enum weir_err finish_compress(struct weir_batch_builder *b)
{
    size_t n = b->len - WEIR_BATCH_HEADER_BYTES, clen = 0;
    size_t bound = weir_codec_bound(b->codec, n);
    uint8_t *tmp = weir_malloc(bound);
    if (!tmp) return WEIR_E_NOMEM;
    enum weir_err err = weir_codec_compress(b->codec, b->level, b->buf + WEIR_BATCH_HEADER_BYTES, n, tmp, bound, &clen);
    if (err == WEIR_OK && (clen > b->cap - WEIR_BATCH_HEADER_BYTES || clen > (size_t)INT32_MAX - BATCH_LENGTH_MIN))
        err = WEIR_E_TOO_LARGE;
    if (err == WEIR_OK) {
        memcpy(b->buf + WEIR_BATCH_HEADER_BYTES, tmp, clen);
        b->len = WEIR_BATCH_HEADER_BYTES + clen;
    }
    weir_free(tmp);
    return err;
}

static void header_write(struct weir_batch_builder *b, int64_t producer_id, int16_t producer_epoch,
                         int32_t base_sequence)
{
    uint8_t *p = b->buf;
    weir_store_be64(p + WEIR_BATCH_OFF_BASE_OFFSET, 0);
    weir_store_be32(p + WEIR_BATCH_OFF_LENGTH, (uint32_t)(b->len - WEIR_BATCH_LOG_OVERHEAD));
    weir_store_be32(p + WEIR_BATCH_OFF_LEADER_EPOCH, 0);
    p[WEIR_BATCH_OFF_MAGIC] = WEIR_BATCH_MAGIC;
    weir_store_be16(p + WEIR_BATCH_OFF_ATTRS, (uint16_t)b->codec);
    weir_store_be32(p + WEIR_BATCH_OFF_LAST_DELTA, (uint32_t)(b->count - 1));
    weir_store_be64(p + WEIR_BATCH_OFF_BASE_TS, (uint64_t)b->base_timestamp);
    weir_store_be64(p + WEIR_BATCH_OFF_MAX_TS, (uint64_t)b->max_timestamp);
    weir_store_be64(p + WEIR_BATCH_OFF_PRODUCER_ID, (uint64_t)producer_id);
    weir_store_be16(p + WEIR_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)producer_epoch);
    weir_store_be32(p + WEIR_BATCH_OFF_BASE_SEQ, (uint32_t)base_sequence);
    weir_store_be32(p + WEIR_BATCH_OFF_COUNT, (uint32_t)b->count);
    /* Last: the CRC covers everything from the attributes on. */
    uint32_t crc = weir_crc32c(0, p + WEIR_BATCH_OFF_ATTRS, b->len - WEIR_BATCH_OFF_ATTRS);
    weir_store_be32(p + WEIR_BATCH_OFF_CRC, crc);
}

enum weir_err weir_batch_builder_finish(struct weir_batch_builder *b, int64_t producer_id,
                                        int16_t producer_epoch, int32_t base_sequence, size_t *out_len)
{
    if (b->finished || b->count == 0) return WEIR_E_INVALID;
    if (b->codec > WEIR_CODEC_ZSTD) return WEIR_E_UNSUPPORTED;
    if (b->codec != WEIR_CODEC_NONE) {
        enum weir_err err = finish_compress(b);
        if (err != WEIR_OK) return err;
    }
    WEIR_ASSERT(b->len <= b->cap && b->len - WEIR_BATCH_LOG_OVERHEAD <= INT32_MAX);
    header_write(b, producer_id, producer_epoch, base_sequence);
    b->finished = true;
    *out_len = b->len;
    return WEIR_OK;
}

/* ---- checking and recompressing a producer's batch ----------------------- */

/* Walks every record of the batch; *records and *len: the (decompressed)
 * records section, valid while batch and scratch are. */
static enum weir_err records_walk(struct weir_record_iter *it, const uint8_t *batch, size_t n, uint8_t **scratch,
                                  size_t *scratch_cap, size_t max_decompressed, const uint8_t **records, size_t *len)
{
    enum weir_err err = weir_record_iter_init(it, batch, n, scratch, scratch_cap, max_decompressed);
    *records = it->rd.pos;
    *len = (size_t)(it->rd.end - it->rd.pos);
    struct weir_record rec;
    while (err == WEIR_OK) err = weir_record_iter_next(it, &rec);
    return err == WEIR_E_NOT_FOUND ? WEIR_OK : err;
}

enum weir_err weir_batch_records_check(const uint8_t *batch, size_t n, uint8_t **scratch, size_t *scratch_cap,
                                       size_t max_decompressed)
{
    struct weir_record_iter it;
    const uint8_t *records;
    size_t len;
    return records_walk(&it, batch, n, scratch, scratch_cap, max_decompressed, &records, &len);
}

enum weir_err weir_batch_recompress(const uint8_t *batch, size_t n, enum weir_codec to, int level,
                                    size_t max_decompressed, size_t max_bytes, uint8_t **scratch,
                                    size_t *scratch_cap, uint8_t **out, size_t *out_len)
{
    if (to > WEIR_CODEC_ZSTD || (to != WEIR_CODEC_NONE && !weir_codec_level_valid(to, level))) return WEIR_E_BAD_CONFIG;
    struct weir_batch_header h;
    enum weir_err err = weir_batch_check(batch, n, SIZE_MAX, false, &h); /* never launder a bad CRC */
    if (err != WEIR_OK) return err;
    if (WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length != n) return WEIR_E_INVALID;
    struct weir_record_iter it;
    const uint8_t *records;
    size_t len;
    err = records_walk(&it, batch, n, scratch, scratch_cap, max_decompressed, &records, &len);
    if (err != WEIR_OK) return err;
    size_t cap = WEIR_BATCH_HEADER_BYTES + (to == WEIR_CODEC_NONE ? len : weir_codec_bound(to, len));
    uint8_t *b = weir_malloc(cap);
    if (!b) return WEIR_E_NOMEM;
    size_t body = len;
    if (to == WEIR_CODEC_NONE) memcpy(b + WEIR_BATCH_HEADER_BYTES, records, len);
    else err = weir_codec_compress(to, level, records, len, b + WEIR_BATCH_HEADER_BYTES, cap - WEIR_BATCH_HEADER_BYTES,
                                   &body);
    size_t total = WEIR_BATCH_HEADER_BYTES + body;
    if (err == WEIR_OK && (total > max_bytes || total - WEIR_BATCH_LOG_OVERHEAD > INT32_MAX)) err = WEIR_E_TOO_LARGE;
    if (err != WEIR_OK) {
        weir_free(b);
        return err;
    }
    memcpy(b, batch, WEIR_BATCH_HEADER_BYTES);
    weir_store_be32(b + WEIR_BATCH_OFF_LENGTH, (uint32_t)(total - WEIR_BATCH_LOG_OVERHEAD));
    uint16_t attrs = (uint16_t)((it.hdr.attributes & ~WEIR_ATTR_CODEC_MASK) | (int16_t)to);
    weir_store_be16(b + WEIR_BATCH_OFF_ATTRS, attrs);
    weir_store_be32(b + WEIR_BATCH_OFF_CRC, weir_crc32c(0, b + WEIR_BATCH_OFF_ATTRS, total - WEIR_BATCH_OFF_ATTRS));
    *out = b;
    *out_len = total;
    return WEIR_OK;
}
