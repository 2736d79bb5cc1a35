/* tests/test_hist.c: base/hist.c, the log-bucketed latency histogram of `weir bench`:
 * percentiles of known inputs within the bucket error, exact small values,
 * max and mean, snapshots, differences and merges. */
#include "testutil.h"

#include <stdlib.h>

/* Exact nearest-rank quantile of n sorted values. */
static int64_t exact_at(const int64_t *sorted, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n);
    if ((double)rank < q * (double)n) rank++;
    if (rank == 0) rank = 1;
    return sorted[rank - 1];
}

/* Never below the true value, at most 1/128 above it. */
static void check_close(int64_t got, int64_t want, double q)
{
    if (got < want || (double)(got - want) > (double)want / 128.0) {
        print_message("q %.5f: got %lld, want %lld\n", q, (long long)got, (long long)want);
        fail();
    }
}

static void check_all(const struct weir_hist *h, int64_t *v, size_t n)
{
    static const double qs[] = { 0, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0 };
    qsort(v, n, sizeof *v, weir_cmp_i64);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(qs); i++) check_close(weir_hist_value_at(h, qs[i]), exact_at(v, n, qs[i]), qs[i]);
    assert_int_equal(weir_hist_max(h), v[n - 1]);
    assert_int_equal(weir_hist_count(h), n);
}

static void test_hist_uniform(void **state)
{
    (void)state;
    enum { N = 100000 };
    struct weir_hist *h = weir_hist_new();
    int64_t *v = malloc(N * sizeof *v);
    assert_non_null(h);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        v[i] = (int64_t)(N - i) * 1000; /* 1 µs .. 100 ms in ns, recorded in reverse */
        weir_hist_record(h, v[i]);
    }
    assert_true(weir_hist_mean(h) > 50000000 && weir_hist_mean(h) < 50002000);
    check_all(h, v, N);
    /* p50 of 1..100000 µs is 50000 µs, reported at most one bucket (1/128) above */
    int64_t p50 = weir_hist_value_at(h, 0.5);
    assert_true(p50 >= 50000000 && p50 <= 50000000 + 50000000 / 128);
    free(v);
    free(h);
}

/* Values spread over nine decades, as latencies with a long tail are. */
static void test_hist_wide(void **state)
{
    (void)state;
    enum { N = 200000 };
    struct weir_hist *h = weir_hist_new();
    int64_t *v = malloc(N * sizeof *v);
    assert_non_null(h);
    assert_non_null(v);
    uint64_t rng = 12345;
    for (size_t i = 0; i < N; i++) {
        int decade = (int)(weir_xorshift(&rng) % 10);
        int64_t x = (int64_t)(weir_xorshift(&rng) % 1000);
        for (int d = 0; d < decade; d++) x *= 10;
        v[i] = x;
        weir_hist_record(h, x);
    }
    check_all(h, v, N);
    free(v);
    free(h);
}

/* Below 256 every value has its own bucket: percentiles are exact. */
static void test_hist_small_exact(void **state)
{
    (void)state;
    struct weir_hist *h = weir_hist_new();
    assert_non_null(h);
    assert_int_equal(weir_hist_value_at(h, 0.5), -1);
    assert_int_equal(weir_hist_max(h), -1);
    for (int64_t x = 0; x < 200; x++) weir_hist_record(h, x);
    weir_hist_record(h, -5); /* counts as 0 */
    assert_int_equal(weir_hist_count(h), 201);
    assert_int_equal(weir_hist_value_at(h, 0), 0);
    assert_int_equal(weir_hist_value_at(h, 0.5), 99);  /* rank 101 of 0,0,1..199 */
    assert_int_equal(weir_hist_value_at(h, 0.99), 197); /* rank 199 */
    assert_int_equal(weir_hist_value_at(h, 1), 199);
    weir_hist_record(h, INT64_MAX);
    assert_int_equal(weir_hist_max(h), INT64_MAX);
    assert_int_equal(weir_hist_value_at(h, 1), INT64_MAX);
    free(h);
}

/* An interval is a snapshot's difference; a merge adds. */
static void test_hist_diff_merge(void **state)
{
    (void)state;
    struct weir_hist *h = weir_hist_new(), *snap = weir_hist_new(), *now = weir_hist_new(), *d = weir_hist_new();
    assert_true(h && snap && now && d);
    for (int i = 0; i < 1000; i++) weir_hist_record(h, 1000000); /* 1 ms */
    weir_hist_copy(snap, h);
    for (int i = 0; i < 100; i++) weir_hist_record(h, 9000000); /* then 9 ms */
    weir_hist_copy(now, h);
    weir_hist_diff(d, now, snap);
    assert_int_equal(weir_hist_count(d), 100);
    check_close(weir_hist_value_at(d, 0.01), 9000000, 0.01);
    check_close(weir_hist_max(d), 9000000, 1);
    assert_true(weir_hist_mean(d) > 8999999 && weir_hist_mean(d) < 9000001);
    weir_hist_reset(now);
    weir_hist_merge(now, snap);
    weir_hist_merge(now, d);
    assert_int_equal(weir_hist_count(now), 1100);
    check_close(weir_hist_value_at(now, 0.9), 1000000, 0.9);
    check_close(weir_hist_value_at(now, 0.95), 9000000, 0.95);
    free(h);
    free(snap);
    free(now);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_uniform),
        cmocka_unit_test(test_hist_wide),
        cmocka_unit_test(test_hist_small_exact),
        cmocka_unit_test(test_hist_diff_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
