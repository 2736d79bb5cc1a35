/* client/crecords.c: the consumer's record decoding. One RecordBatch v2 from
 * a Fetch response becomes one cbatch: its records (those at or after the
 * position asked for) and their headers in one allocation, each pointing into
 * the batch bytes where they lie in the response frame (which the cbatch keeps
 * a reference to), or into the LZ4 output (which the cbatch owns). Nothing
 * is copied for an uncompressed batch.
 *
 * Every batch is input: a short, corrupt or unsupported batch is an error
 * the caller reports, never an assert. Two passes over the records (count,
 * then fill) bound the allocation by what the bytes really hold, not by the
 * batch's recordsCount. */
#include "wire_int.h"

static const uint8_t empty_bytes[1];

/* A non-null field must have a non-NULL pointer, even when empty. */
static const void *field_ptr(const uint8_t *p, int32_t len) { return len < 0 ? NULL : p ? (const void *)p : empty_bytes; }

void cw_cbatch_unref(struct cbatch *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    cw_frame_unref(b->frame);
    weir_free(b->scratch);
    weir_free(b);
}

int64_t cw_batches_next_offset(const uint8_t *p, size_t n, size_t *whole_len)
{
    int64_t next = -1;
    size_t pos = 0;
    /* Each turn advances by >= one batch header, so at most n / 61 turns. */
    while (n - pos >= WEIR_BATCH_HEADER_BYTES) {
        int32_t length = (int32_t)weir_load_be32(p + pos + WEIR_BATCH_OFF_LENGTH);
        if (length < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD) break; /* malformed: stop here */
        size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)length;
        if (total > n - pos) break; /* the partial batch a Fetch may end with */
        int64_t base = (int64_t)weir_load_be64(p + pos + WEIR_BATCH_OFF_BASE_OFFSET);
        int32_t delta = (int32_t)weir_load_be32(p + pos + WEIR_BATCH_OFF_LAST_DELTA);
        if (base < 0 || delta < 0 || base > INT64_MAX - delta - 1) break;
        next = base + delta + 1;
        pos += total;
    }
    *whole_len = next < 0 ? 0 : pos;
    return next;
}

/* Pass 1: records at or after `from` and their headers, counted. */
static enum weir_err batch_count(struct weir_record_iter it, int64_t from, int32_t *n_recs, size_t *n_hdrs)
{
    struct weir_record rec;
    enum weir_err err;
    *n_recs = 0;
    *n_hdrs = 0;
    while ((err = weir_record_iter_next(&it, &rec)) == WEIR_OK) {
        if (rec.offset < from) continue;
        (*n_recs)++;
        *n_hdrs += (size_t)rec.headers_count;
    }
    return err == WEIR_E_NOT_FOUND ? WEIR_OK : err;
}

/* Pass 2: fills the records and headers the count made room for. */
static enum weir_err batch_fill(struct weir_record_iter it, int64_t from, struct cbatch *b, const char *topic,
                                int32_t partition)
{
    enum weir_timestamp_type tstype = (it.hdr.attributes & WEIR_ATTR_LOG_APPEND_TIME) ? WEIR_TIMESTAMP_LOG_APPEND_TIME
                                                                                     : WEIR_TIMESTAMP_CREATE_TIME;
    struct weir_record rec;
    struct weir_msg_header *h = b->headers;
    int32_t i = 0;
    while (i < b->n && weir_record_iter_next(&it, &rec) == WEIR_OK) {
        if (rec.offset < from) continue;
        struct weir_consumer_record *r = &b->recs[i].pub;
        b->recs[i].owner = b;
        *r = (struct weir_consumer_record){
            .event = WEIR_EVENT_RECORD, .topic = topic, .partition = partition, .offset = rec.offset,
            .timestamp = rec.timestamp, .timestamp_type = tstype,
            .key = field_ptr(rec.key, rec.key_len), .key_len = (size_t)WEIR_MAX(rec.key_len, 0),
            .value = field_ptr(rec.value, rec.value_len), .value_len = (size_t)WEIR_MAX(rec.value_len, 0),
            .headers = rec.headers_count > 0 ? h : NULL, .headers_count = (size_t)rec.headers_count,
        };
        size_t pos = 0;
        struct weir_header wh;
        for (int32_t k = 0; k < rec.headers_count; k++, h++) {
            if (weir_record_header_next(&rec, &pos, &wh) != WEIR_OK) return WEIR_E_INVALID; /* pass 1 read them */
            *h = (struct weir_msg_header){ (const char *)field_ptr(wh.key, wh.key_len), (size_t)wh.key_len,
                                           field_ptr(wh.value, wh.value_len), (size_t)WEIR_MAX(wh.value_len, 0) };
        }
        i++;
    }
    return i == b->n ? WEIR_OK : WEIR_E_INVALID;
}

/* Header checks: whole, CRC when asked, a codec we can read. */
static enum weir_err batch_check(const uint8_t *p, size_t n, bool check_crc, struct weir_batch_header *h,
                                 size_t *total)
{
    enum weir_err err = weir_batch_header_decode(p, n, h);
    if (err != WEIR_OK) return err;
    if (h->length < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD) return WEIR_E_INVALID;
    *total = WEIR_BATCH_LOG_OVERHEAD + (size_t)h->length;
    if (*total > n) return WEIR_E_TRUNCATED;
    if (check_crc && weir_crc32c(0, p + WEIR_BATCH_OFF_ATTRS, *total - WEIR_BATCH_OFF_ATTRS) != h->crc)
        return WEIR_E_CRC;
    int codec = h->attributes & WEIR_ATTR_CODEC_MASK;
    if (codec > WEIR_CODEC_ZSTD) return WEIR_E_UNSUPPORTED; /* 5-7 are not Kafka codecs */
    return WEIR_OK;
}

enum weir_err cw_batch_decode(const uint8_t *p, size_t n, int64_t from, bool check_crc, const char *topic,
                              int32_t partition, struct cw_frame *frame, struct cbatch **out)
{
    *out = NULL;
    struct weir_batch_header h;
    size_t total;
    enum weir_err err = batch_check(p, n, check_crc, &h, &total);
    if (err != WEIR_OK) return err;
    if ((h.attributes & WEIR_ATTR_CONTROL) || h.base_offset + h.last_offset_delta < from) return WEIR_OK;

    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    err = weir_record_iter_init(&it, p, total, &scratch, &scratch_cap, CW_DECOMPRESSED_MAX);
    int32_t n_recs = 0;
    size_t n_hdrs = 0;
    if (err == WEIR_OK) err = batch_count(it, from, &n_recs, &n_hdrs);
    if (err != WEIR_OK || n_recs == 0) {
        weir_free(scratch);
        return err;
    }
    size_t bytes = sizeof(struct cbatch) + (size_t)n_recs * sizeof(struct crec) + n_hdrs * sizeof(struct weir_msg_header);
    struct cbatch *b = weir_malloc(bytes);
    if (!b) {
        weir_free(scratch);
        return WEIR_E_NOMEM;
    }
    atomic_init(&b->refs, 1);
    b->n = n_recs;
    b->next = 0;
    b->recs = (struct crec *)(void *)(b + 1);
    b->headers = (struct weir_msg_header *)(void *)(b->recs + n_recs);
    b->scratch = scratch;
    b->frame = NULL;
    err = batch_fill(it, from, b, topic, partition);
    if (err != WEIR_OK) {
        cw_cbatch_unref(b);
        return err;
    }
    bool in_frame = (h.attributes & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_NONE;
    if (in_frame && frame) {
        cw_frame_ref(frame);
        b->frame = frame;
    }
    *out = b;
    return WEIR_OK;
}
