/* tests/testutil.c */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/weir-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return weir_strdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void tu_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t tu_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

uint8_t *tu_batch(int32_t count, size_t value_len, int64_t ts0, int64_t ts_step, enum weir_codec codec,
                  uint64_t seed, size_t *len)
{
    size_t cap = WEIR_BATCH_HEADER_BYTES + (size_t)count * (value_len + 64) + 1024;
    uint8_t *buf = weir_malloc(cap);
    uint8_t *val = weir_malloc(value_len + 1);
    assert_non_null(buf);
    assert_non_null(val);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, codec);
    for (int32_t i = 0; i < count; i++) {
        char key[32];
        int klen = snprintf(key, sizeof key, "k%d", i);
        for (size_t j = 0; j < value_len; j++) val[j] = (uint8_t)('a' + (tu_rand(&seed) % 26));
        assert_int_equal(weir_batch_builder_add(&b, ts0 + i * ts_step, key, klen, val, (int32_t)value_len, NULL, 0),
                         WEIR_OK);
    }
    assert_int_equal(weir_batch_builder_finish(&b, -1, -1, -1, len), WEIR_OK);
    weir_free(val);
    return buf;
}

static void sync_done(struct weir_append *a) { *(int *)a->user = 1; }

enum weir_err tu_append_sync(struct weir_appender *ap, struct weir_log *log, uint8_t *batch, size_t len,
                             int64_t *base_offset)
{
    int done = 0;
    struct weir_append a = { .batch = batch, .len = len, .on_done = sync_done, .user = &done };
    enum weir_err err = weir_log_append(log, &a);
    if (err != WEIR_OK) return err;
    for (int i = 0; !done && i < 1000000; i++) weir_appender_run(ap, true);
    assert_true(done);
    if (base_offset) *base_offset = a.base_offset;
    return a.err;
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Fuzz: 1-4 random mutations of p[0, n) (bit flips, boundary values, cuts,
 * inserted bytes while n < cap); returns the new length. */
size_t tu_mutate(uint8_t *p, size_t n, size_t cap, uint64_t *s)
{
    static const uint32_t w32[] = { 0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 0xfffffffe, 10001, 100001, 0x10000 };
    static const uint16_t w16[] = { 0, 0xffff, 0x7fff, 0x8000, 0xfffe, 0x0100 };
    static const uint8_t w8[] = { 0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe };
    for (int ops = 1 + (int)(tu_rand(s) % 4); ops > 0; ops--) {
        size_t at = n ? (size_t)(tu_rand(s) % n) : 0;
        switch (tu_rand(s) % 7) {
        case 0: if (n) p[at] ^= (uint8_t)(1u << (tu_rand(s) % 8)); break;
        case 1: if (n) p[at] = w8[tu_rand(s) % WEIR_ARRAY_LEN(w8)]; break;
        case 2: if (n >= 4) weir_store_be32(p + (at > n - 4 ? n - 4 : at), w32[tu_rand(s) % WEIR_ARRAY_LEN(w32)]); break;
        case 3: if (n >= 2) weir_store_be16(p + (at > n - 2 ? n - 2 : at), w16[tu_rand(s) % WEIR_ARRAY_LEN(w16)]); break;
        case 4: n = (size_t)(tu_rand(s) % (n + 1)); break;
        case 5:
            if (n < cap) {
                memmove(p + at + 1, p + at, n - at);
                p[at] = (uint8_t)tu_rand(s);
                n++;
            }
            break;
        default: if (n) p[at] = (uint8_t)tu_rand(s); break;
        }
    }
    return n;
}
