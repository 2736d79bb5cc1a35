/* record/legacy.c: the message formats before RecordBatch v2 (magic 0 and 1),
 * converted to and from v2 as a Kafka 3.x broker does (LogValidator's
 * up-conversion on produce, RecordsUtil.downConvert on fetch). Storage never
 * holds them: docs/on-disk-format.md.
 *
 * A message set is messages back to back, each
 *   offset INT64, size INT32, crc UINT32 (CRC-32, IEEE, over magic..value),
 *   magic INT8, attributes INT8 (codec in bits 0-2; magic 1: bit 3 = log
 *   append time), timestamp INT64 (magic 1 only), key BYTES, value BYTES.
 * A compressed message (a "wrapper") holds a whole message set in its value,
 * compressed with its codec: gzip, snappy or lz4 (magic 0 lz4 writers got the
 * frame's header checksum wrong: it is recomputed before decoding, as Kafka's
 * KafkaLZ4BlockInputStream ignores it). */
#include "record_int.h"

enum {
    MSG_OFF_SIZE = 8,
    MSG_OFF_CRC = 12,
    MSG_OFF_MAGIC = 16,
    MSG_OFF_ATTRS = 17,
    MSG_OFF_TIMESTAMP = 18,
    MSG_KEY_OFF_V0 = 18,
    MSG_KEY_OFF_V1 = 26,
    MSG_SIZE_MIN_V0 = 14, /* crc, magic, attributes, key and value lengths */
    MSG_SIZE_MIN_V1 = 22, /* and the timestamp */
    LZ4_MAGIC = 0x184D2204,
    LZ4_FLG_CONTENT_SIZE = 0x08,
    DOWN_GROW_MIN_BYTES = 64 * 1024,
};
_Static_assert((int)MSG_OFF_MAGIC == (int)WEIR_BATCH_OFF_MAGIC, "both formats keep the magic at byte 16");
_Static_assert((int)MSG_KEY_OFF_V0 - (int)WEIR_BATCH_LOG_OVERHEAD + 8 == (int)MSG_SIZE_MIN_V0, "v0 overhead");

bool weir_legacy_is_set(const uint8_t *p, size_t n)
{
    return n > MSG_OFF_MAGIC && (p[MSG_OFF_MAGIC] == 0 || p[MSG_OFF_MAGIC] == 1);
}

/* ---- reading messages ---------------------------------------------------- */

struct legacy_msg {
    int8_t magic;
    uint8_t attributes;
    int64_t timestamp; /* -1 for magic 0 */
    const uint8_t *key, *value;
    int32_t key_len, value_len; /* -1 = null */
    size_t bytes;               /* 12 + size */
};

static const uint8_t *bytes_read(struct weir_rd *rd, int32_t *len)
{
    *len = weir_rd_i32(rd);
    if (*len < -1) rd->err = WEIR_E_INVALID;
    return *len >= 0 ? weir_rd_bytes(rd, (size_t)*len) : NULL; /* empty: not NULL (not null) */
}

/* The message at p (n bytes left in its set). Errors: WEIR_E_TRUNCATED (a
 * size below the format's minimum, or past the set's end), WEIR_E_CRC,
 * WEIR_E_INVALID (magic not 0/1, lengths that do not add up to the size). */
static enum weir_err msg_read(const uint8_t *p, size_t n, struct legacy_msg *m)
{
    if (n < WEIR_BATCH_LOG_OVERHEAD + MSG_SIZE_MIN_V0) return WEIR_E_TRUNCATED;
    int32_t size = (int32_t)weir_load_be32(p + MSG_OFF_SIZE);
    if (size < MSG_SIZE_MIN_V0 || (size_t)size > n - WEIR_BATCH_LOG_OVERHEAD) return WEIR_E_TRUNCATED;
    m->magic = (int8_t)p[MSG_OFF_MAGIC];
    if (m->magic != 0 && m->magic != 1) return WEIR_E_INVALID;
    if (m->magic == 1 && size < MSG_SIZE_MIN_V1) return WEIR_E_TRUNCATED;
    m->bytes = WEIR_BATCH_LOG_OVERHEAD + (size_t)size;
    if (weir_crc32(p + MSG_OFF_MAGIC, m->bytes - MSG_OFF_MAGIC) != weir_load_be32(p + MSG_OFF_CRC)) return WEIR_E_CRC;
    m->attributes = p[MSG_OFF_ATTRS];
    m->timestamp = m->magic ? (int64_t)weir_load_be64(p + MSG_OFF_TIMESTAMP) : -1;
    size_t key_off = m->magic ? MSG_KEY_OFF_V1 : MSG_KEY_OFF_V0;
    struct weir_rd rd = weir_rd_make(p + key_off, m->bytes - key_off);
    m->key = bytes_read(&rd, &m->key_len);
    m->value = bytes_read(&rd, &m->value_len);
    if (rd.err != WEIR_OK || weir_rd_left(&rd) != 0) return WEIR_E_INVALID;
    return WEIR_OK;
}

/* ---- up-conversion (produce) ---------------------------------------------- */

/* The HC byte of the LZ4 frame at p, as the spec says: the second byte of
 * XXH32 (seed 0) over the frame descriptor after the magic. */
static uint8_t lz4_header_checksum(const uint8_t *d, size_t n)
{
    static const uint32_t P1 = 2654435761u, P2 = 2246822519u, P3 = 3266489917u, P4 = 668265263u, P5 = 374761393u;
    WEIR_ASSERT(n < 16); /* a descriptor is 2 or 10 bytes: XXH32's short-input path */
    uint32_t h = P5 + (uint32_t)n;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t w = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        h += w * P3;
        h = ((h << 17) | (h >> 15)) * P4;
    }
    for (; i < n; i++) {
        h += (uint32_t)d[i] * P5;
        h = ((h << 11) | (h >> 21)) * P1;
    }
    h ^= h >> 15, h *= P2, h ^= h >> 13, h *= P3, h ^= h >> 16;
    return (uint8_t)(h >> 8);
}

/* Magic 0 wrappers: rewrites the frame's header checksum in place. */
static void lz4_fix_header(uint8_t *p, size_t n)
{
    if (n < 7 || weir_load_be32(p) != __builtin_bswap32(LZ4_MAGIC)) return; /* the decoder will refuse it */
    size_t desc = (p[4] & LZ4_FLG_CONTENT_SIZE) ? 10 : 2;
    if (n < 4 + desc + 1) return;
    p[4 + desc] = lz4_header_checksum(p + 4, desc);
}

/* The inner message set of a wrapper into *out (scratch, grown up to max). */
static enum weir_err wrapper_open(const struct legacy_msg *w, uint8_t **scratch, size_t *scratch_cap, size_t max,
                                  size_t *out_len)
{
    if (!w->value || w->value_len == 0) return WEIR_E_INVALID;
    switch (w->attributes & WEIR_ATTR_CODEC_MASK) {
    case WEIR_CODEC_GZIP:
    case WEIR_CODEC_SNAPPY: /* xerial-framed from Java clients, raw from librdkafka */
        return weir_codec_decompress((enum weir_codec)(w->attributes & WEIR_ATTR_CODEC_MASK), w->value,
                                     (size_t)w->value_len, scratch, scratch_cap, max, out_len);
    case WEIR_CODEC_LZ4:
        /* The value lies in the caller's writable set (weir_legacy_upconvert). */
        if (w->magic == 0) lz4_fix_header((uint8_t *)(uintptr_t)w->value, (size_t)w->value_len);
        return weir_lz4_decompress(w->value, (size_t)w->value_len, scratch, scratch_cap, max, out_len);
    default:
        return WEIR_E_UNSUPPORTED; /* zstd (not for magic < 2), 5-7 */
    }
}

/* Decompression failures are corrupt messages, as Kafka reports them. */
static enum weir_err wrapper_error(enum weir_err e) { return e == WEIR_E_INVALID ? WEIR_E_CRC : e; }

struct upconv {
    const uint8_t *set; /* the records: the shallow set, or a wrapper's inner set */
    size_t n;
    int8_t inner_magic;      /* -1: shallow messages of any magic */
    int64_t wrapper_ts;      /* magic 1 log-append-time wrapper: the inner timestamp; else -1 */
    size_t bytes;            /* v2 record bytes */
    int32_t count;
    int64_t base_ts;
};

/* One pass over the records: checks each (pass 1), or adds it (pass 2, b set). */
static enum weir_err upconv_walk(struct upconv *u, struct weir_batch_builder *b)
{
    u->count = 0;
    u->bytes = 0;
    for (size_t pos = 0; pos < u->n;) {
        struct legacy_msg m;
        enum weir_err err = msg_read(u->set + pos, u->n - pos, &m);
        if (err != WEIR_OK) return err;
        if (u->inner_magic >= 0 && m.magic != u->inner_magic) return WEIR_E_INVALID; /* Kafka: not the outer magic */
        if (m.attributes & WEIR_ATTR_CODEC_MASK) return WEIR_E_INVALID;              /* nested compression */
        int64_t ts = u->wrapper_ts >= 0 && m.magic == 1 ? u->wrapper_ts : m.timestamp;
        if (u->count == 0) u->base_ts = ts;
        if (u->count == INT32_MAX) return WEIR_E_TOO_LARGE;
        u->bytes += weir_batch_record_size((int64_t)((uint64_t)ts - (uint64_t)u->base_ts), u->count, m.key_len,
                                           m.value_len, NULL, 0);
        if (b) {
            err = weir_batch_builder_add(b, ts, m.key, m.key_len, m.value, m.value_len, NULL, 0);
            if (err != WEIR_OK) return err;
        }
        u->count++;
        pos += m.bytes;
    }
    return u->count ? WEIR_OK : WEIR_E_INVALID;
}

static enum weir_err upconv_build(struct upconv *u, enum weir_codec codec, size_t max_bytes, uint8_t **out,
                                  size_t *out_len)
{
    enum weir_err err = upconv_walk(u, NULL);
    if (err != WEIR_OK) return err;
    size_t cap = WEIR_BATCH_HEADER_BYTES + u->bytes;
    if (codec == WEIR_CODEC_LZ4) cap = WEIR_BATCH_HEADER_BYTES + WEIR_MAX(u->bytes, weir_lz4_bound(u->bytes));
    if (u->bytes > max_bytes) return WEIR_E_TOO_LARGE;
    uint8_t *buf = weir_malloc(cap);
    if (!buf) return WEIR_E_NOMEM;
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    err = upconv_walk(u, &b);
    size_t len = 0;
    if (err == WEIR_OK) err = weir_batch_builder_finish(&b, -1, -1, -1, &len);
    if (err == WEIR_OK && len > max_bytes) err = WEIR_E_TOO_LARGE;
    if (err != WEIR_OK) {
        weir_free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return WEIR_OK;
}

enum weir_err weir_legacy_upconvert(uint8_t *set, size_t n, size_t max_bytes, uint8_t **out, size_t *out_len)
{
    /* The first message says whether the set is one wrapper or plain messages. */
    struct legacy_msg first;
    if (n == 0) return WEIR_E_INVALID;
    enum weir_err err = msg_read(set, n, &first);
    if (err != WEIR_OK) return err;
    struct upconv u = { .set = set, .n = n, .inner_magic = -1, .wrapper_ts = -1 };
    if (!(first.attributes & WEIR_ATTR_CODEC_MASK)) return upconv_build(&u, WEIR_CODEC_NONE, max_bytes, out, out_len);

    /* Kafka: a compressed set is exactly one wrapper. */
    if (first.bytes != n) return n - first.bytes < WEIR_BATCH_LOG_OVERHEAD ? WEIR_E_TRUNCATED : WEIR_E_INVALID;
    uint8_t *inner = NULL;
    size_t inner_cap = 0, inner_len = 0;
    err = wrapper_error(wrapper_open(&first, &inner, &inner_cap, max_bytes, &inner_len));
    if (err == WEIR_OK) {
        u = (struct upconv){ .set = inner, .n = inner_len, .inner_magic = first.magic, .wrapper_ts = -1 };
        if (first.magic == 1 && (first.attributes & WEIR_ATTR_LOG_APPEND_TIME)) u.wrapper_ts = first.timestamp;
        /* lz4 stays lz4 (Kafka recompresses with the producer's codec); gzip
         * is stored uncompressed: weir has no gzip compressor. */
        enum weir_codec codec = (first.attributes & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_LZ4 ? WEIR_CODEC_LZ4 : WEIR_CODEC_NONE;
        err = upconv_build(&u, codec, max_bytes, out, out_len);
    }
    weir_free(inner);
    return err;
}

/* ---- down-conversion (fetch) ------------------------------------------------- */

struct downconv {
    int8_t magic;
    uint8_t **out;
    size_t *out_cap, len, max, need;
};

/* Room for n more bytes within max; false (need = n) when they do not fit. */
static enum weir_err down_reserve(struct downconv *d, size_t n, bool *fits)
{
    *fits = n <= d->max - d->len;
    if (!*fits) {
        d->need = n;
        return WEIR_OK;
    }
    if (d->len + n <= *d->out_cap) return WEIR_OK;
    size_t cap = WEIR_MAX(*d->out_cap * 2, WEIR_MAX(d->len + n, (size_t)DOWN_GROW_MIN_BYTES));
    cap = WEIR_MIN(cap, d->max);
    uint8_t *p = weir_realloc(*d->out, cap);
    if (!p) return WEIR_E_NOMEM;
    *d->out = p;
    *d->out_cap = cap;
    return WEIR_OK;
}

static void put_bytes(struct weir_wr *wr, const uint8_t *p, int32_t len)
{
    weir_wr_i32(wr, p ? len : -1);
    if (p && len > 0) weir_wr_bytes(wr, p, (size_t)len);
}

/* Appends rec as one uncompressed message; *fits false when it would pass max. */
static enum weir_err down_message(struct downconv *d, const struct weir_record *rec, bool log_append, bool *fits)
{
    int32_t key_len = rec->key ? rec->key_len : -1, value_len = rec->value ? rec->value_len : -1;
    size_t size = (d->magic ? MSG_SIZE_MIN_V1 : MSG_SIZE_MIN_V0) + (size_t)WEIR_MAX(key_len, 0) +
                  (size_t)WEIR_MAX(value_len, 0);
    enum weir_err err = down_reserve(d, WEIR_BATCH_LOG_OVERHEAD + size, fits);
    if (err != WEIR_OK || !*fits) return err;
    uint8_t *m = *d->out + d->len;
    struct weir_wr wr = weir_wr_make(m, WEIR_BATCH_LOG_OVERHEAD + size);
    weir_wr_i64(&wr, rec->offset);
    weir_wr_i32(&wr, (int32_t)size);
    weir_wr_i32(&wr, 0); /* crc, below */
    weir_wr_u8(&wr, (uint8_t)d->magic);
    weir_wr_u8(&wr, d->magic && log_append ? WEIR_ATTR_LOG_APPEND_TIME : 0);
    if (d->magic) weir_wr_i64(&wr, rec->timestamp);
    put_bytes(&wr, rec->key, key_len);
    put_bytes(&wr, rec->value, value_len);
    WEIR_ASSERT(wr.err == WEIR_OK && weir_wr_len(&wr) == WEIR_BATCH_LOG_OVERHEAD + size);
    weir_store_be32(m + MSG_OFF_CRC, weir_crc32(m + MSG_OFF_MAGIC, WEIR_BATCH_LOG_OVERHEAD + size - MSG_OFF_MAGIC));
    d->len += WEIR_BATCH_LOG_OVERHEAD + size;
    return WEIR_OK;
}

/* The records of one stored batch at or after first_offset; *full when one did not fit. */
static enum weir_err down_batch(struct downconv *d, const uint8_t *batch, size_t n, int64_t first_offset,
                                uint8_t **scratch, size_t *scratch_cap, size_t max_decompressed, bool *full)
{
    if (n > WEIR_BATCH_OFF_ATTRS + 1 &&
        (weir_load_be16(batch + WEIR_BATCH_OFF_ATTRS) & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_ZSTD)
        return WEIR_E_UNSUPPORTED; /* Kafka: zstd is never down-converted (UNSUPPORTED_COMPRESSION_TYPE) */
    struct weir_record_iter it;
    enum weir_err err = weir_record_iter_init(&it, batch, n, scratch, scratch_cap, max_decompressed);
    if (err != WEIR_OK) return err;
    if (it.hdr.attributes & WEIR_ATTR_CONTROL) return WEIR_OK; /* Kafka: control batches are not down-converted */
    bool log_append = it.hdr.attributes & WEIR_ATTR_LOG_APPEND_TIME;
    struct weir_record rec;
    while ((err = weir_record_iter_next(&it, &rec)) == WEIR_OK) {
        if (rec.offset < first_offset) continue;
        bool fits = true;
        err = down_message(d, &rec, log_append, &fits);
        if (err != WEIR_OK) return err;
        if (!fits) {
            *full = true;
            return WEIR_OK;
        }
    }
    return err == WEIR_E_NOT_FOUND ? WEIR_OK : err;
}

enum weir_err weir_legacy_downconvert(const uint8_t *p, size_t n, int8_t magic, int64_t first_offset, size_t max,
                                      size_t max_decompressed, uint8_t **out, size_t *out_cap, size_t *out_len,
                                      size_t *need)
{
    WEIR_ASSERT(magic == 0 || magic == 1);
    struct downconv d = { .magic = magic, .out = out, .out_cap = out_cap, .max = max };
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0, pos = 0;
    bool full = false;
    enum weir_err err = WEIR_OK;
    /* Whole batches only: a partial one at the end is where the read stopped. */
    while (err == WEIR_OK && !full && n - pos >= WEIR_BATCH_HEADER_BYTES) {
        size_t len = (size_t)weir_load_be32(p + pos + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
        if (len > n - pos) break;
        err = down_batch(&d, p + pos, len, first_offset, &scratch, &scratch_cap, max_decompressed, &full);
        pos += len;
    }
    weir_free(scratch);
    *out_len = d.len;
    *need = d.need;
    return err;
}
