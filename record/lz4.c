/* record/lz4.c: the LZ4 frame as Kafka writes it (codec 3).
 *
 * Java's Lz4BlockOutputStream and librdkafka (LZ4F) write frame version 01,
 * independent blocks of at most 64 KiB, no content size, no block or content
 * checksum. We write exactly that. We read any valid LZ4 frame, and frames
 * back to back, as both clients' readers do. Input is untrusted: every LZ4F
 * error is WEIR_E_INVALID, and the output never grows past the caller's max. */
#include "record_int.h"

#include <lz4frame.h>

enum { GROW_MIN_BYTES = 64 * 1024 };

static const LZ4F_preferences_t kafka_prefs = {
    .frameInfo = {
        .blockSizeID = LZ4F_max64KB,
        .blockMode = LZ4F_blockIndependent,
        .contentChecksumFlag = LZ4F_noContentChecksum,
        .frameType = LZ4F_frame,
        .contentSize = 0, /* 0 = not written */
        .dictID = 0,
        .blockChecksumFlag = LZ4F_noBlockChecksum,
    },
    .compressionLevel = 0, /* LZ4 fast, as librdkafka's default */
    .autoFlush = 1,
};

size_t weir_lz4_bound(size_t n) { return LZ4F_compressFrameBound(n, &kafka_prefs); }

/* dst must hold weir_lz4_bound(n) bytes: LZ4F refuses less. Kafka's levels
 * 1-17 go to LZ4F as they are (below 3: fast; 3 and above: HC, capped at 12
 * by LZ4F), as librdkafka passes them; -1 is LZ4 fast. */
static enum weir_err compress_frame(int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                    size_t *out_len)
{
    LZ4F_preferences_t prefs = kafka_prefs;
    if (level != WEIR_CODEC_LEVEL_DEFAULT) prefs.compressionLevel = level;
    size_t r = LZ4F_compressFrame(dst, cap, src, n, &prefs);
    if (LZ4F_isError(r)) return WEIR_E_NOMEM;
    WEIR_ASSERT(r <= cap);
    *out_len = r;
    return WEIR_OK;
}

enum weir_err weir_lz4_compress(const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
    return record_lz4_compress_level(WEIR_CODEC_LEVEL_DEFAULT, src, n, dst, cap, out_len);
}

enum weir_err record_lz4_compress_level(int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                        size_t *out_len)
{
    size_t bound = weir_lz4_bound(n);
    if (cap >= bound) return compress_frame(level, src, n, dst, cap, out_len);
    /* A smaller dst may still be enough once compressed: go through a bound-sized copy. */
    uint8_t *tmp = weir_malloc(bound);
    if (!tmp) return WEIR_E_NOMEM;
    size_t len = 0;
    enum weir_err err = compress_frame(level, src, n, tmp, bound, &len);
    if (err == WEIR_OK && len > cap) err = WEIR_E_TOO_LARGE;
    if (err == WEIR_OK) {
        memcpy(dst, tmp, len);
        *out_len = len;
    }
    weir_free(tmp);
    return err;
}

enum weir_err record_output_grow(uint8_t **dst, size_t *dst_cap, size_t n_src, size_t max)
{
    size_t cap = *dst_cap;
    if (cap == 0) cap = WEIR_MAX(WEIR_MIN(n_src, SIZE_MAX / 4) * 4, (size_t)GROW_MIN_BYTES);
    else cap = cap > max / 2 ? max : cap * 2;
    cap = WEIR_MIN(cap, max);
    WEIR_ASSERT(cap > *dst_cap);
    uint8_t *p = weir_realloc(*dst, cap);
    if (!p) return WEIR_E_NOMEM;
    *dst = p;
    *dst_cap = cap;
    return WEIR_OK;
}

/* Every turn consumes input or produces output, or returns; so the loop ends
 * after at most n + max + 1 turns. Once `max` bytes are out, a one-byte probe
 * tells "frame ends here" (fine) from "more output follows" (too large). */
static enum weir_err decompress_frames(LZ4F_dctx *dctx, const uint8_t *src, size_t n, uint8_t **dst,
                                       size_t *dst_cap, size_t max, size_t *out)
{
    size_t in = 0, hint = 1; /* hint: LZ4F's return, 0 exactly at a frame's end */
    if (n == 0) return WEIR_E_INVALID;
    while (in < n || hint != 0) {
        if (*out == WEIR_MIN(*dst_cap, max) && *dst_cap < max) {
            enum weir_err err = record_output_grow(dst, dst_cap, n, max);
            if (err != WEIR_OK) return err;
        }
        uint8_t probe;
        size_t room = WEIR_MIN(*dst_cap, max) - *out;
        uint8_t *d = room ? *dst + *out : &probe;
        size_t dn = room ? room : 1, sn = n - in;
        hint = LZ4F_decompress(dctx, d, &dn, src + in, &sn, NULL);
        if (LZ4F_isError(hint)) return WEIR_E_INVALID;
        if (d == &probe && dn > 0) return WEIR_E_TOO_LARGE;
        if (sn == 0 && dn == 0 && hint != 0) return WEIR_E_INVALID; /* no progress: frame cut short */
        in += sn;
        *out += dn;
    }
    return WEIR_OK;
}

enum weir_err weir_lz4_decompress(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                  size_t *out_len)
{
    LZ4F_dctx *dctx = NULL;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) return WEIR_E_NOMEM;
    size_t out = 0;
    enum weir_err err = decompress_frames(dctx, src, n, dst, dst_cap, max, &out);
    LZ4F_freeDecompressionContext(dctx);
    if (err == WEIR_OK) *out_len = out;
    return err;
}
