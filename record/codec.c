/* record/codec.c: Kafka's four codecs behind one interface, each with its own
 * library: gzip (zlib, codec 1), snappy (libsnappy, codec 2), lz4 (liblz4,
 * codec 3, record/lz4.c) and zstd (libzstd, codec 4).
 *
 * Written as Kafka's Java client writes them: one gzip member; snappy in
 * xerial's block framing (SnappyOutputStream: a 16-byte header, then
 * big-endian length-prefixed raw snappy blocks of 32 KiB input each); one
 * zstd frame. Read as Kafka's readers read them: gzip members back to back
 * (record/gzip.c), xerial-framed or raw snappy (librdkafka accepts both; the
 * magic byte 0x82 cannot start a raw block's length varint of a sane size),
 * zstd frames back to back, with or without a content size, through the
 * streaming decoder. Input is untrusted: a library error is WEIR_E_INVALID,
 * and the output never grows past the caller's max (a zip bomb is
 * WEIR_E_TOO_LARGE after at most max bytes, never an allocation of what the
 * input claims). */
#include "record_int.h"

#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static const char *const codec_names[] = {
    [WEIR_CODEC_NONE] = "none", [WEIR_CODEC_GZIP] = "gzip", [WEIR_CODEC_SNAPPY] = "snappy",
    [WEIR_CODEC_LZ4] = "lz4",   [WEIR_CODEC_ZSTD] = "zstd",
};

const char *weir_codec_name(enum weir_codec c)
{
    return (unsigned)c <= WEIR_CODEC_ZSTD ? codec_names[c] : "unknown";
}

enum weir_err weir_codec_parse(const char *name, enum weir_codec *c)
{
    for (unsigned i = 0; i <= WEIR_CODEC_ZSTD; i++) {
        if (!strcmp(name, codec_names[i])) {
            *c = (enum weir_codec)i;
            return WEIR_OK;
        }
    }
    return WEIR_E_BAD_CONFIG;
}

bool weir_codec_level_valid(enum weir_codec c, int level)
{
    if (level == WEIR_CODEC_LEVEL_DEFAULT) return true;
    switch (c) {
    case WEIR_CODEC_GZIP: return level >= 1 && level <= 9;
    case WEIR_CODEC_LZ4: return level >= 1 && level <= 17;
    case WEIR_CODEC_ZSTD: return level >= WEIR_ZSTD_LEVEL_MIN && level <= 22;
    default: return false; /* none and snappy take no level */
    }
}

/* ---- gzip ------------------------------------------------------------------- */

enum { GZIP_WINDOW_BITS = 16 + MAX_WBITS, GZIP_MEM_LEVEL = 8, GZIP_FRAMING_BYTES = 32 };

static size_t gzip_bound(size_t n) { return compressBound((uLong)n) + GZIP_FRAMING_BYTES; }

static enum weir_err gzip_compress(int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                   size_t *out_len)
{
    if (n > UINT32_MAX || cap > UINT32_MAX) return WEIR_E_TOO_LARGE;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    int zlevel = level == WEIR_CODEC_LEVEL_DEFAULT ? Z_DEFAULT_COMPRESSION : level;
    if (deflateInit2(&zs, zlevel, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY) != Z_OK)
        return WEIR_E_NOMEM;
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = dst;
    zs.avail_out = (uInt)cap;
    int zrc = deflate(&zs, Z_FINISH);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END) return zrc == Z_OK || zrc == Z_BUF_ERROR ? WEIR_E_TOO_LARGE : WEIR_E_NOMEM;
    *out_len = len;
    return WEIR_OK;
}

/* ---- snappy (xerial framing) ---------------------------------------------- */

enum {
    XERIAL_HEADER_BYTES = 16, /* magic[8], version be32 = 1, compatible version be32 = 1 */
    XERIAL_MAGIC_BYTES = 8,
    XERIAL_BLOCK_BYTES = 32 * 1024, /* SnappyOutputStream's default block */
};
static const uint8_t xerial_header[XERIAL_HEADER_BYTES] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0,
                                                            0,    0,   0,   1,   0,   0,   0,   1 };

static size_t snappy_bound(size_t n)
{
    size_t blocks = n / XERIAL_BLOCK_BYTES + 1;
    return XERIAL_HEADER_BYTES + blocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK_BYTES));
}

static enum weir_err snappy_compress_framed(const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                            size_t *out_len)
{
    if (cap < snappy_bound(n)) return WEIR_E_TOO_LARGE;
    memcpy(dst, xerial_header, XERIAL_HEADER_BYTES);
    size_t out = XERIAL_HEADER_BYTES;
    for (size_t in = 0; in < n;) {
        size_t chunk = WEIR_MIN(n - in, (size_t)XERIAL_BLOCK_BYTES);
        size_t clen = cap - out - 4;
        if (snappy_compress((const char *)src + in, chunk, (char *)dst + out + 4, &clen) != SNAPPY_OK)
            return WEIR_E_NOMEM;
        weir_store_be32(dst + out, (uint32_t)clen);
        out += 4 + clen;
        in += chunk;
    }
    *out_len = out;
    return WEIR_OK;
}

/* Grows *dst until `need` bytes fit (need <= max). */
static enum weir_err output_reserve(uint8_t **dst, size_t *dst_cap, size_t n_src, size_t max, size_t need)
{
    while (*dst_cap < need) {
        enum weir_err err = record_output_grow(dst, dst_cap, n_src, max);
        if (err != WEIR_OK) return err;
    }
    return WEIR_OK;
}

/* One raw snappy block appended at *out: its declared length is checked
 * against max before any byte is allocated for it. */
static enum weir_err snappy_block(const uint8_t *src, size_t n, size_t n_total, uint8_t **dst, size_t *dst_cap,
                                  size_t max, size_t *out)
{
    size_t ulen = 0;
    if (snappy_uncompressed_length((const char *)src, n, &ulen) != SNAPPY_OK) return WEIR_E_INVALID;
    if (ulen > max - *out) return WEIR_E_TOO_LARGE;
    if (ulen == 0) return snappy_validate_compressed_buffer((const char *)src, n) == SNAPPY_OK ? WEIR_OK
                                                                                                 : WEIR_E_INVALID;
    enum weir_err err = output_reserve(dst, dst_cap, n_total, max, *out + ulen);
    if (err != WEIR_OK) return err;
    size_t got = ulen;
    if (snappy_uncompress((const char *)src, n, (char *)*dst + *out, &got) != SNAPPY_OK || got != ulen)
        return WEIR_E_INVALID;
    *out += ulen;
    return WEIR_OK;
}

static enum weir_err snappy_decompress_any(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                           size_t *out)
{
    if (n == 0) return WEIR_E_INVALID;
    if (n < XERIAL_HEADER_BYTES || memcmp(src, xerial_header, XERIAL_MAGIC_BYTES) != 0)
        return snappy_block(src, n, n, dst, dst_cap, max, out); /* raw snappy (librdkafka, old clients) */
    for (size_t pos = XERIAL_HEADER_BYTES; pos < n;) {
        if (n - pos < 4) return WEIR_E_INVALID;
        size_t blen = weir_load_be32(src + pos);
        pos += 4;
        if (blen == 0 || blen > n - pos) return WEIR_E_INVALID;
        enum weir_err err = snappy_block(src + pos, blen, n, dst, dst_cap, max, out);
        if (err != WEIR_OK) return err;
        pos += blen;
    }
    return WEIR_OK;
}

/* ---- zstd ------------------------------------------------------------------- */

static enum weir_err zstd_compress(int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                   size_t *out_len)
{
    int zlevel = level == WEIR_CODEC_LEVEL_DEFAULT ? ZSTD_CLEVEL_DEFAULT : level;
    size_t r = ZSTD_compress(dst, cap, src, n, zlevel);
    if (ZSTD_isError(r)) return ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall ? WEIR_E_TOO_LARGE : WEIR_E_NOMEM;
    *out_len = r;
    return WEIR_OK;
}

/* As record/lz4.c's loop: every turn consumes input or produces output, or
 * returns; once max bytes are out a one-byte probe tells a frame's end
 * from more output (too large). hint is 0 exactly at a frame's end. */
static enum weir_err zstd_frames(ZSTD_DStream *ds, const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap,
                                 size_t max, size_t *out)
{
    ZSTD_inBuffer in = { src, n, 0 };
    size_t hint = 1;
    if (n == 0) return WEIR_E_INVALID;
    while (in.pos < in.size || hint != 0) {
        if (*out == WEIR_MIN(*dst_cap, max) && *dst_cap < max) {
            enum weir_err err = record_output_grow(dst, dst_cap, n, max);
            if (err != WEIR_OK) return err;
        }
        uint8_t probe;
        size_t room = WEIR_MIN(*dst_cap, max) - *out;
        ZSTD_outBuffer o = { room ? *dst + *out : &probe, room ? room : 1, 0 };
        size_t in_before = in.pos;
        hint = ZSTD_decompressStream(ds, &o, &in);
        if (ZSTD_isError(hint)) {
            return ZSTD_getErrorCode(hint) == ZSTD_error_memory_allocation ? WEIR_E_NOMEM : WEIR_E_INVALID;
        }
        if (!room && o.pos > 0) return WEIR_E_TOO_LARGE;
        if (in.pos == in_before && o.pos == 0 && hint != 0 && in.pos == in.size) return WEIR_E_INVALID; /* cut short */
        *out += o.pos;
    }
    return WEIR_OK;
}

static enum weir_err zstd_decompress_frames(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                            size_t *out)
{
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) return WEIR_E_NOMEM;
    enum weir_err err = WEIR_OK;
    if (ZSTD_isError(ZSTD_initDStream(ds))) err = WEIR_E_NOMEM;
    if (err == WEIR_OK) err = zstd_frames(ds, src, n, dst, dst_cap, max, out);
    ZSTD_freeDStream(ds);
    return err;
}

/* ---- the interface ---------------------------------------------------------- */

size_t weir_codec_bound(enum weir_codec c, size_t n)
{
    switch (c) {
    case WEIR_CODEC_GZIP: return gzip_bound(n);
    case WEIR_CODEC_SNAPPY: return snappy_bound(n);
    case WEIR_CODEC_LZ4: return weir_lz4_bound(n);
    case WEIR_CODEC_ZSTD: return ZSTD_compressBound(n);
    default: return n;
    }
}

enum weir_err weir_codec_compress(enum weir_codec c, int level, const uint8_t *src, size_t n, uint8_t *dst,
                                  size_t cap, size_t *out_len)
{
    if (!weir_codec_level_valid(c, level) && c != WEIR_CODEC_SNAPPY && c != WEIR_CODEC_NONE)
        return WEIR_E_BAD_CONFIG;
    switch (c) {
    case WEIR_CODEC_GZIP: return gzip_compress(level, src, n, dst, cap, out_len);
    case WEIR_CODEC_SNAPPY: return snappy_compress_framed(src, n, dst, cap, out_len);
    case WEIR_CODEC_LZ4: return record_lz4_compress_level(level, src, n, dst, cap, out_len);
    case WEIR_CODEC_ZSTD: return zstd_compress(level, src, n, dst, cap, out_len);
    default: return WEIR_E_UNSUPPORTED;
    }
}

enum weir_err weir_codec_decompress(enum weir_codec c, const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap,
                                    size_t max, size_t *out_len)
{
    size_t out = 0;
    enum weir_err err;
    switch (c) {
    case WEIR_CODEC_GZIP: return weir_gzip_decompress(src, n, dst, dst_cap, max, out_len);
    case WEIR_CODEC_LZ4: return weir_lz4_decompress(src, n, dst, dst_cap, max, out_len);
    case WEIR_CODEC_SNAPPY: err = snappy_decompress_any(src, n, dst, dst_cap, max, &out); break;
    case WEIR_CODEC_ZSTD: err = zstd_decompress_frames(src, n, dst, dst_cap, max, &out); break;
    default: return WEIR_E_UNSUPPORTED;
    }
    if (err == WEIR_OK) *out_len = out;
    return err;
}
