/* record/record_int.h: helpers shared by record/'s own files; never included
 * from another folder (record.h is the public header). */
#ifndef WEIR_RECORD_INT_H
#define WEIR_RECORD_INT_H

#include "record.h"

/* Grows *dst (weir_realloc) toward max for a decompressor's output: doubling,
 * starting near 4x the compressed size n_src. Requires *dst_cap < max.
 * Errors: WEIR_E_NOMEM (nothing changed). */
enum weir_err record_output_grow(uint8_t **dst, size_t *dst_cap, size_t n_src, size_t max);

/* weir_lz4_compress at a Kafka lz4 level (1-17, or WEIR_CODEC_LEVEL_DEFAULT). */
enum weir_err record_lz4_compress_level(int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                                        size_t *out_len);

#endif
