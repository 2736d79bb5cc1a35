/* record/gzip.c: gzip (codec 1) decompression, with zlib.
 *
 * Java's GZIPOutputStream and librdkafka write one gzip member; we read any
 * number of members back to back, as Java's GZIPInputStream does. Input is
 * untrusted: every zlib error is WEIR_E_INVALID, and the output never grows
 * past the caller's max. */
#include "record_int.h"

#include <zlib.h>

enum { GZIP_WINDOW_BITS = 16 + MAX_WBITS /* gzip header, not zlib */ };

/* One turn of inflate into [*out, min(cap, max)), or a one-byte probe once
 * max bytes are out (more output then is WEIR_E_TOO_LARGE). */
static enum weir_err inflate_turn(z_stream *zs, uint8_t *dst, size_t room, size_t *out, int *zrc)
{
    uint8_t probe;
    zs->next_out = room ? dst + *out : &probe;
    zs->avail_out = (uInt)WEIR_MIN(room ? room : 1, (size_t)UINT32_MAX);
    uInt before = zs->avail_out;
    *zrc = inflate(zs, Z_NO_FLUSH);
    if (*zrc != Z_OK && *zrc != Z_STREAM_END) return *zrc == Z_MEM_ERROR ? WEIR_E_NOMEM : WEIR_E_INVALID;
    size_t produced = before - zs->avail_out;
    if (!room && produced > 0) return WEIR_E_TOO_LARGE;
    *out += produced;
    return WEIR_OK;
}

/* Every turn consumes input, produces output, ends a member, or returns:
 * bounded by n + max + members (each member takes >= 18 bytes of input). */
static enum weir_err inflate_members(z_stream *zs, const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap,
                                     size_t max, size_t *out)
{
    zs->next_in = (Bytef *)(uintptr_t)src;
    zs->avail_in = (uInt)n;
    for (;;) {
        if (*out == WEIR_MIN(*dst_cap, max) && *dst_cap < max) {
            enum weir_err err = record_output_grow(dst, dst_cap, n, max);
            if (err != WEIR_OK) return err;
        }
        size_t in_before = zs->avail_in, out_before = *out;
        int zrc = Z_OK;
        enum weir_err err = inflate_turn(zs, *dst, WEIR_MIN(*dst_cap, max) - *out, out, &zrc);
        if (err != WEIR_OK) return err;
        if (zrc == Z_STREAM_END) {
            if (zs->avail_in == 0) return WEIR_OK;
            if (inflateReset(zs) != Z_OK) return WEIR_E_INVALID; /* another member follows */
            continue;
        }
        if (zs->avail_in == in_before && *out == out_before) return WEIR_E_INVALID; /* cut short */
    }
}

enum weir_err weir_gzip_decompress(const uint8_t *src, size_t n, uint8_t **dst, size_t *dst_cap, size_t max,
                                   size_t *out_len)
{
    if (n == 0 || n > UINT32_MAX) return WEIR_E_INVALID;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, GZIP_WINDOW_BITS) != Z_OK) return WEIR_E_NOMEM;
    size_t out = 0;
    enum weir_err err = inflate_members(&zs, src, n, dst, dst_cap, max, &out);
    inflateEnd(&zs);
    if (err == WEIR_OK) *out_len = out;
    return err;
}

uint32_t weir_crc32(const uint8_t *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = (uInt)WEIR_MIN(n, (size_t)UINT32_MAX);
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}
