/* base/hist.c: the HDR-style latency histogram of `weir bench` (base.h).
 *
 * Bucket of v (v >= 0): shift = max(0, floor(log2 v) - SUB_BITS), m = v >> shift
 * (below 2^(SUB_BITS+1) when shift > 0), index = shift * SUB + m with
 * SUB = 2^SUB_BITS. Indexes below 2 * SUB hold one value each; above, bucket
 * i covers [m << shift, ((m + 1) << shift) - 1] with m >= SUB, so its width is
 * at most 1/SUB of its lowest value. */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>

enum { SUB = 1 << WEIR_HIST_SUB_BITS };

static size_t bucket_of(int64_t v)
{
    if (v < 2 * SUB) return v < 0 ? 0 : (size_t)v;
    int k = 63 - __builtin_clzll((unsigned long long)v);
    int shift = k - WEIR_HIST_SUB_BITS;
    return (size_t)shift * SUB + (size_t)((uint64_t)v >> shift);
}

static int64_t bucket_lo(size_t i)
{
    if (i < 2 * SUB) return (int64_t)i;
    size_t shift = i / SUB - 1, m = i - shift * SUB;
    return (int64_t)((uint64_t)m << shift);
}

static int64_t bucket_hi(size_t i)
{
    if (i < 2 * SUB) return (int64_t)i;
    size_t shift = i / SUB - 1, m = i - shift * SUB;
    uint64_t hi = (((uint64_t)m + 1) << shift) - 1;
    return hi > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)hi;
}

void weir_hist_reset(struct weir_hist *h)
{
    for (size_t i = 0; i < WEIR_HIST_BUCKETS; i++) atomic_store_explicit(&h->counts[i], 0, memory_order_relaxed);
    atomic_store(&h->total, 0);
    atomic_store(&h->sum, 0);
    atomic_store(&h->min, INT64_MAX);
    atomic_store(&h->max, -1);
}

struct weir_hist *weir_hist_new(void)
{
    struct weir_hist *h = malloc(sizeof *h);
    if (h) weir_hist_reset(h);
    return h;
}

void weir_hist_record(struct weir_hist *h, int64_t v)
{
    if (v < 0) v = 0;
    atomic_fetch_add_explicit(&h->counts[bucket_of(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->total, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, (uint64_t)v, memory_order_relaxed);
    int64_t m = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > m && !atomic_compare_exchange_weak_explicit(&h->max, &m, v, memory_order_relaxed, memory_order_relaxed)) {}
    m = atomic_load_explicit(&h->min, memory_order_relaxed);
    while (v < m && !atomic_compare_exchange_weak_explicit(&h->min, &m, v, memory_order_relaxed, memory_order_relaxed)) {}
}

/* total is the sum of the copied counts, so a snapshot taken mid-record agrees with itself. */
void weir_hist_copy(struct weir_hist *dst, const struct weir_hist *src)
{
    uint64_t total = 0;
    for (size_t i = 0; i < WEIR_HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&src->counts[i], memory_order_relaxed);
        atomic_store_explicit(&dst->counts[i], c, memory_order_relaxed);
        total += c;
    }
    atomic_store(&dst->total, total);
    atomic_store(&dst->sum, atomic_load(&src->sum));
    atomic_store(&dst->min, atomic_load(&src->min));
    atomic_store(&dst->max, atomic_load(&src->max));
}

void weir_hist_diff(struct weir_hist *dst, const struct weir_hist *now, const struct weir_hist *before)
{
    uint64_t total = 0;
    int64_t lo = INT64_MAX, hi = -1;
    for (size_t i = 0; i < WEIR_HIST_BUCKETS; i++) {
        uint64_t a = atomic_load_explicit(&now->counts[i], memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&before->counts[i], memory_order_relaxed);
        uint64_t c = a > b ? a - b : 0;
        atomic_store_explicit(&dst->counts[i], c, memory_order_relaxed);
        total += c;
        if (c && lo == INT64_MAX) lo = bucket_lo(i);
        if (c) hi = bucket_hi(i);
    }
    int64_t mx = atomic_load(&now->max);
    atomic_store(&dst->total, total);
    atomic_store(&dst->sum, atomic_load(&now->sum) - atomic_load(&before->sum));
    atomic_store(&dst->min, lo);
    atomic_store(&dst->max, hi > mx ? mx : hi);
}

void weir_hist_merge(struct weir_hist *dst, const struct weir_hist *src)
{
    for (size_t i = 0; i < WEIR_HIST_BUCKETS; i++)
        atomic_fetch_add_explicit(&dst->counts[i], atomic_load_explicit(&src->counts[i], memory_order_relaxed),
                                  memory_order_relaxed);
    atomic_fetch_add(&dst->total, atomic_load(&src->total));
    atomic_fetch_add(&dst->sum, atomic_load(&src->sum));
    if (atomic_load(&src->max) > atomic_load(&dst->max)) atomic_store(&dst->max, atomic_load(&src->max));
    if (atomic_load(&src->min) < atomic_load(&dst->min)) atomic_store(&dst->min, atomic_load(&src->min));
}

uint64_t weir_hist_count(const struct weir_hist *h) { return atomic_load(&h->total); }

int64_t weir_hist_max(const struct weir_hist *h) { return atomic_load(&h->total) ? atomic_load(&h->max) : -1; }

double weir_hist_mean(const struct weir_hist *h)
{
    uint64_t n = atomic_load(&h->total);
    return n ? (double)atomic_load(&h->sum) / (double)n : -1;
}

int64_t weir_hist_value_at(const struct weir_hist *h, double q)
{
    uint64_t n = atomic_load(&h->total);
    if (n == 0) return -1;
    int64_t mx = atomic_load(&h->max);
    if (q >= 1) return mx;
    if (q < 0) q = 0;
    uint64_t rank = (uint64_t)(q * (double)n); /* ceil, without libm; 99.9 / 100 is not quite 0.999 */
    if ((double)rank + 1e-6 < q * (double)n) rank++;
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < WEIR_HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (seen >= rank) {
            int64_t hi = bucket_hi(i);
            return hi > mx ? mx : hi;
        }
    }
    return mx;
}
