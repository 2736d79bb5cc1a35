/* tests/fuzz/fuzz.h: what the libFuzzer harnesses share.
 *
 * A harness gets arbitrary bytes and must come back with no crash, no leak,
 * no undefined behaviour, and every property it checks holding. A property
 * that fails is a bug found: FUZZ_CHECK prints it and aborts, which libFuzzer
 * reports as a crash (the input is saved under -artifact_prefix). */
#ifndef WEIR_FUZZ_H
#define WEIR_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(e)                                                                     \
    do {                                                                                  \
        if (!(e)) {                                                                       \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #e); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* [p, p+n) lies inside [lo, hi). n may be 0 (then p may be anything). */
static inline bool fuzz_within(const void *p, size_t n, const void *lo, const void *hi)
{
    const uint8_t *b = p;
    return n == 0 || (b >= (const uint8_t *)lo && b <= (const uint8_t *)hi && n <= (size_t)((const uint8_t *)hi - b));
}

/* Reads every byte of [p, p+n) so AddressSanitizer sees a bad range. */
static inline void fuzz_touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= b[i];
    (void)x;
}

#endif
