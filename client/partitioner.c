/* client/partitioner.c: Kafka's default partitioner for keyed records:
 * Utils.murmur2 (MurmurHash2, seed 0x9747b28c, little-endian 4-byte blocks)
 * and partition = toPositive(hash) % partitions, so that a key lands on the
 * partition the Java client and librdkafka's murmur2_random choose.
 * Null keys use a sticky partition (accum.c). */
#include "client_int.h"

uint32_t weir_murmur2(const void *key, size_t len)
{
    const uint8_t *p = key;
    const uint32_t m = 0x5bd1e995u, seed = 0x9747b28cu;
    const unsigned r = 24;
    uint32_t h = seed ^ (uint32_t)len;
    size_t blocks = len / 4;
    for (size_t i = 0; i < blocks; i++) {
        const uint8_t *b = p + 4 * i;
        uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    const uint8_t *tail = p + 4 * blocks;
    switch (len & 3) {
    case 3: h ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: h ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        h ^= tail[0];
        h *= m;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

int32_t weir_partition_for_key(const void *key, size_t len, int32_t partitions)
{
    if (partitions < 1) return -1;
    return (int32_t)((weir_murmur2(key, len) & 0x7fffffffu) % (uint32_t)partitions);
}
