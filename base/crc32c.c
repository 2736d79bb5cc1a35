/* base/crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Internally the CRC is kept "raw" (no pre/post inversion), where it is linear:
 * raw(A||B, s) = shift(raw(A, s), |B|) ^ raw(B, 0). The hardware path runs three
 * independent crc32q streams over three adjacent blocks (the instruction has a
 * latency of 3 and a throughput of 1) and joins them with precomputed shift
 * tables. The portable path is slicing-by-8. Both agree bit for bit. */
#include "base.h"

#include <pthread.h>
#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define CRC32C_POLY 0x82f63b78u
enum { BLOCK_LONG = 8192, BLOCK_SHORT = 256 };

static uint32_t table8[8][256];
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static bool hw_present;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static uint32_t raw_bytes(uint32_t s, const uint8_t *p, size_t n)
{
    while (n--) s = table8[0][(s ^ *p++) & 0xff] ^ (s >> 8);
    return s;
}

static uint32_t raw_portable(uint32_t s, const uint8_t *p, size_t n)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    size_t head = (8 - ((uintptr_t)p & 7)) & 7;
    if (head > n) head = n;
    s = raw_bytes(s, p, head);
    p += head;
    n -= head;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= s;
        s = table8[7][w & 0xff] ^ table8[6][(w >> 8) & 0xff] ^ table8[5][(w >> 16) & 0xff] ^
            table8[4][(w >> 24) & 0xff] ^ table8[3][(w >> 32) & 0xff] ^ table8[2][(w >> 40) & 0xff] ^
            table8[1][(w >> 48) & 0xff] ^ table8[0][w >> 56];
    }
#endif
    return raw_bytes(s, p, n);
}

/* table[k][b]: the raw CRC of (b << 8k) followed by `zeros` zero bytes. */
static void shift_table_build(uint32_t table[4][256], size_t zeros)
{
    static const uint8_t zero_block[BLOCK_LONG];
    uint32_t bit_image[32];
    for (int i = 0; i < 32; i++) {
        uint32_t s = 1u << i;
        for (size_t left = zeros; left > 0;) {
            size_t n = WEIR_MIN(left, sizeof zero_block);
            s = raw_portable(s, zero_block, n);
            left -= n;
        }
        bit_image[i] = s;
    }
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (b & (1 << j)) v ^= bit_image[8 * k + j];
            table[k][b] = v;
        }
}

static inline uint32_t shift_apply(uint32_t table[4][256], uint32_t s)
{
    return table[0][s & 0xff] ^ table[1][(s >> 8) & 0xff] ^ table[2][(s >> 16) & 0xff] ^ table[3][s >> 24];
}

static void tables_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        table8[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            table8[k][i] = (table8[k - 1][i] >> 8) ^ table8[0][table8[k - 1][i] & 0xff];
    shift_table_build(shift_long, BLOCK_LONG);
    shift_table_build(shift_short, BLOCK_SHORT);
#if defined(__x86_64__)
    __builtin_cpu_init();
    hw_present = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

__attribute__((target("sse4.2"))) static uint64_t hw_streams3(uint64_t s0, const uint8_t *p, size_t block,
                                                              uint32_t table[4][256])
{
    uint64_t s1 = 0, s2 = 0;
    for (const uint8_t *end = p + block; p < end; p += 8) {
        s0 = _mm_crc32_u64(s0, load64(p));
        s1 = _mm_crc32_u64(s1, load64(p + block));
        s2 = _mm_crc32_u64(s2, load64(p + 2 * block));
    }
    s0 = shift_apply(table, (uint32_t)s0) ^ (uint32_t)s1;
    return shift_apply(table, (uint32_t)s0) ^ (uint32_t)s2;
}

__attribute__((target("sse4.2"))) static uint32_t raw_hw(uint32_t s32, const uint8_t *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        s32 = _mm_crc32_u8(s32, *p++);
        n--;
    }
    uint64_t s = s32;
    for (; n >= 3 * BLOCK_LONG; p += 3 * BLOCK_LONG, n -= 3 * BLOCK_LONG)
        s = hw_streams3(s, p, BLOCK_LONG, shift_long);
    for (; n >= 3 * BLOCK_SHORT; p += 3 * BLOCK_SHORT, n -= 3 * BLOCK_SHORT)
        s = hw_streams3(s, p, BLOCK_SHORT, shift_short);
    for (; n >= 8; p += 8, n -= 8) s = _mm_crc32_u64(s, load64(p));
    s32 = (uint32_t)s;
    while (n--) s32 = _mm_crc32_u8(s32, *p++);
    return s32;
}
#endif

bool weir_crc32c_hw_available(void)
{
    pthread_once(&tables_once, tables_init);
    return hw_present;
}

uint32_t weir_crc32c_portable(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&tables_once, tables_init);
    return ~raw_portable(~crc, buf, n);
}

uint32_t weir_crc32c(uint32_t crc, const void *buf, size_t n)
{
    pthread_once(&tables_once, tables_init);
#if defined(__x86_64__)
    if (hw_present) return ~raw_hw(~crc, buf, n);
#endif
    return ~raw_portable(~crc, buf, n);
}
