/* base/uuid.c: Kafka's Uuid (topic ids): 16 bytes, printed as base64url
 * without padding (22 characters), as org.apache.kafka.common.Uuid does. */
#include "base.h"

#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static const char uuid_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool weir_uuid_is_zero(const struct weir_uuid *u)
{
    static const struct weir_uuid zero;
    return memcmp(u->b, zero.b, sizeof u->b) == 0;
}

bool weir_uuid_eq(const struct weir_uuid *a, const struct weir_uuid *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}

/* Kafka's Uuid.randomUuid: a v4 UUID, never ZERO nor METADATA (0...01), and
 * never one whose text starts with '-' (kafka-topics would read an option). */
enum weir_err weir_uuid_random(struct weir_uuid *out)
{
    for (int tries = 0; tries < 100; tries++) {
        size_t got = 0;
        while (got < sizeof out->b) {
            ssize_t n = getrandom(out->b + got, sizeof out->b - got, 0);
            if (n < 0) return WEIR_E_IO;
            got += (size_t)n;
        }
        out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40); /* version 4 */
        out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80); /* IETF variant */
        if (uuid_b64[out->b[0] >> 2] != '-') return WEIR_OK;
    }
    return WEIR_E_IO;
}

void weir_uuid_text(const struct weir_uuid *u, char out[WEIR_UUID_TEXT_CAP])
{
    size_t o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u->b[i] << 16;
        if (i + 1 < 16) v |= (uint32_t)u->b[i + 1] << 8;
        if (i + 2 < 16) v |= u->b[i + 2];
        int chars = i + 3 <= 16 ? 4 : 2; /* the last group holds one byte: 2 characters */
        for (int k = 0; k < chars; k++) out[o++] = uuid_b64[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
}

static int b64_value(char c)
{
    const char *p = c ? strchr(uuid_b64, c) : NULL;
    return p ? (int)(p - uuid_b64) : -1;
}

bool weir_uuid_parse(const char *text, struct weir_uuid *out)
{
    if (strlen(text) != 22) return false;
    struct weir_uuid u = { { 0 } };
    size_t o = 0;
    for (int i = 0; i < 22; i += 4) {
        int chars = i + 4 <= 22 ? 4 : 2;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = k < chars ? b64_value(text[i + k]) : 0;
            if (d < 0) return false;
            v = v << 6 | (uint32_t)d;
        }
        u.b[o++] = (uint8_t)(v >> 16);
        if (chars == 2) {
            if (v & 0xffff) return false; /* bits past the 16th byte: not canonical */
            break;
        }
        u.b[o++] = (uint8_t)(v >> 8);
        u.b[o++] = (uint8_t)v;
    }
    *out = u;
    return true;
}
