/* tests/test_log.c: partition logs: append, read and index lookups against a
 * model, timestamp lookups against brute force, roll, retention, truncation,
 * group commit and reopen. Recovery and faults are in test_recovery.c. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The model: every batch appended, in offset order. */
struct model_batch {
    int64_t base, next;
    uint8_t *bytes;
    size_t len;
    int64_t *ts; /* per record */
};
struct model {
    struct model_batch *v;
    size_t n, cap;
};

static void model_add(struct model *m, int64_t base, const uint8_t *bytes, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = weir_realloc(m->v, m->cap * sizeof *m->v);
    }
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(bytes, len, &h), WEIR_OK);
    struct model_batch *b = &m->v[m->n++];
    b->base = base;
    b->next = base + h.records_count;
    b->bytes = weir_malloc(len);
    memcpy(b->bytes, bytes, len);
    b->len = len;
    b->ts = weir_malloc(sizeof(int64_t) * (size_t)h.records_count);
    uint8_t *scratch = NULL;
    size_t scap = 0;
    struct weir_record_iter it;
    struct weir_record rec;
    assert_int_equal(weir_record_iter_init(&it, bytes, len, &scratch, &scap, 1 << 26), WEIR_OK);
    for (int32_t i = 0; weir_record_iter_next(&it, &rec) == WEIR_OK; i++) b->ts[i] = rec.timestamp;
    weir_free(scratch);
}

static void model_free(struct model *m)
{
    for (size_t i = 0; i < m->n; i++) {
        weir_free(m->v[i].bytes);
        weir_free(m->v[i].ts);
    }
    weir_free(m->v);
    *m = (struct model){ 0 };
}

/* Brute force: first offset >= start whose record timestamp >= ts, or -1. */
static int64_t model_offset_for_time(const struct model *m, int64_t start, int64_t ts)
{
    for (size_t i = 0; i < m->n; i++)
        for (int64_t o = m->v[i].base; o < m->v[i].next; o++)
            if (o >= start && m->v[i].ts[o - m->v[i].base] >= ts) return o;
    return -1;
}

static const struct model_batch *model_find(const struct model *m, int64_t offset)
{
    for (size_t i = 0; i < m->n; i++)
        if (offset >= m->v[i].base && offset < m->v[i].next) return &m->v[i];
    return NULL;
}

struct fixture {
    char *dir;
    struct weir_appender *ap;
    struct weir_log *log;
    struct weir_log_config cfg;
};

static void fx_open(struct fixture *fx)
{
    assert_int_equal(weir_log_open(fx->dir, &fx->cfg, fx->ap, NULL, &fx->log), WEIR_OK);
}

static void fx_init(struct fixture *fx, const char *tag)
{
    fx->dir = tu_tmpdir(tag);
    weir_log_config_default(&fx->cfg);
    assert_int_equal(weir_appender_create(256, &fx->ap), WEIR_OK);
}

static void fx_done(struct fixture *fx)
{
    if (fx->log) weir_log_close(fx->log);
    weir_appender_destroy(fx->ap);
    tu_rmrf(fx->dir);
    weir_free(fx->dir);
}

/* Appends n random batches (non-monotonic timestamps) and records them. */
static void append_random(struct fixture *fx, struct model *m, int n, uint64_t *seed, enum weir_codec codec)
{
    for (int i = 0; i < n; i++) {
        int32_t count = 1 + (int32_t)(tu_rand(seed) % 20);
        size_t vlen = tu_rand(seed) % 300;
        int64_t ts0 = 1000000 + (int64_t)(tu_rand(seed) % 100000);
        int64_t step = (int64_t)(tu_rand(seed) % 50) - 20;
        size_t len;
        uint8_t *b = tu_batch(count, vlen, ts0, step, codec, tu_rand(seed), &len);
        int64_t base;
        assert_int_equal(tu_append_sync(fx->ap, fx->log, b, len, &base), WEIR_OK);
        assert_int_equal(base, m->n ? m->v[m->n - 1].next : weir_log_start_offset(fx->log));
        model_add(m, base, b, len);
        weir_free(b);
    }
}

/* Every offset reads back the batch holding it, byte for byte. */
static void check_reads(struct fixture *fx, const struct model *m)
{
    int64_t start = weir_log_start_offset(fx->log);
    assert_int_equal(weir_log_end_offset(fx->log), m->n ? m->v[m->n - 1].next : start);
    for (int64_t o = start; o < weir_log_end_offset(fx->log); o++) {
        const struct model_batch *mb = model_find(m, o);
        assert_non_null(mb);
        struct weir_log_view v;
        assert_int_equal(weir_log_read(fx->log, o, 1, true, &v), WEIR_OK);
        assert_int_equal(v.offset_first, mb->base);
        assert_int_equal(v.offset_next, mb->next);
        assert_int_equal(v.len, mb->len);
        assert_memory_equal(v.data, mb->bytes, mb->len);
        uint8_t buf[64];
        assert_int_equal(pread(v.fd, buf, 61, (off_t)v.pos), 61);
        assert_memory_equal(buf, mb->bytes, 61);
        weir_log_view_release(fx->log, &v);
    }
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx->log, weir_log_end_offset(fx->log), 1 << 20, true, &v), WEIR_OK);
    assert_int_equal(v.len, 0);
    assert_int_equal(weir_log_read(fx->log, weir_log_end_offset(fx->log) + 1, 1 << 20, true, &v),
                     WEIR_E_OFFSET_RANGE);
    if (start > 0) assert_int_equal(weir_log_read(fx->log, start - 1, 1 << 20, true, &v), WEIR_E_OFFSET_RANGE);
}

static void check_times(struct fixture *fx, const struct model *m, uint64_t *seed)
{
    int64_t start = weir_log_start_offset(fx->log);
    for (int i = 0; i < 300; i++) {
        int64_t ts = 990000 + (int64_t)(tu_rand(seed) % 130000);
        int64_t want = model_offset_for_time(m, start, ts), got = -1, got_ts;
        enum weir_err err = weir_log_offset_for_time(fx->log, ts, &got, &got_ts);
        if (want < 0) {
            assert_int_equal(err, WEIR_E_NOT_FOUND);
        } else {
            assert_int_equal(err, WEIR_OK);
            assert_int_equal(got, want);
            assert_true(got_ts >= ts);
        }
    }
}

static void test_append_read_model(void **state)
{
    (void)state;
    for (int codec = 0; codec <= WEIR_CODEC_LZ4; codec += WEIR_CODEC_LZ4) {
        struct fixture fx = { 0 };
        fx_init(&fx, "read");
        fx.cfg.segment_bytes = 64 << 10; /* many segments */
        fx.cfg.index_interval_bytes = 1024;
        fx_open(&fx);
        struct model m = { 0 };
        uint64_t seed = 42 + (uint64_t)codec;
        append_random(&fx, &m, 400, &seed, (enum weir_codec)codec);
        assert_true(weir_log_segment_count(fx.log) > 3);
        check_reads(&fx, &m);
        check_times(&fx, &m, &seed);
        /* Clean reopen: the same answers from files alone. */
        weir_log_close(fx.log);
        fx_open(&fx);
        check_reads(&fx, &m);
        check_times(&fx, &m, &seed);
        append_random(&fx, &m, 50, &seed, (enum weir_codec)codec);
        check_reads(&fx, &m);
        model_free(&m);
        fx_done(&fx);
    }
}

static void test_index_interval_zero_and_large(void **state)
{
    (void)state;
    uint32_t intervals[] = { 0, 1, 100000000 };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(intervals); i++) {
        struct fixture fx = { 0 };
        fx_init(&fx, "interval");
        fx.cfg.index_interval_bytes = intervals[i];
        fx.cfg.segment_bytes = 32 << 10;
        fx_open(&fx);
        struct model m = { 0 };
        uint64_t seed = 7 + i;
        append_random(&fx, &m, 150, &seed, WEIR_CODEC_NONE);
        check_reads(&fx, &m);
        check_times(&fx, &m, &seed);
        model_free(&m);
        fx_done(&fx);
    }
}

static void test_read_max_bytes(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "maxbytes");
    fx_open(&fx);
    struct model m = { 0 };
    uint64_t seed = 3;
    append_random(&fx, &m, 20, &seed, WEIR_CODEC_NONE);
    struct weir_log_view v;
    /* Whole batches only, up to max_bytes. */
    size_t want = m.v[0].len + m.v[1].len;
    assert_int_equal(weir_log_read(fx.log, 0, want + m.v[2].len - 1, false, &v), WEIR_OK);
    assert_int_equal(v.len, want);
    assert_int_equal(v.offset_next, m.v[2].base);
    weir_log_view_release(fx.log, &v);
    /* KIP-74: a first batch larger than max_bytes comes whole when min_one. */
    assert_int_equal(weir_log_read(fx.log, 0, 10, true, &v), WEIR_OK);
    assert_int_equal(v.len, m.v[0].len);
    weir_log_view_release(fx.log, &v);
    assert_int_equal(weir_log_read(fx.log, 0, 10, false, &v), WEIR_OK);
    assert_int_equal(v.len, 0);
    weir_log_view_release(fx.log, &v);
    /* A read from the middle of a batch starts at that batch. */
    assert_int_equal(weir_log_read(fx.log, m.v[1].next - 1, 1 << 20, true, &v), WEIR_OK);
    assert_int_equal(v.offset_first, m.v[1].base);
    weir_log_view_release(fx.log, &v);
    model_free(&m);
    fx_done(&fx);
}

static void test_bad_batches_refused(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "bad");
    fx.cfg.max_message_bytes = 4096;
    fx_open(&fx);
    size_t len;
    uint8_t *b = tu_batch(5, 20, 1000, 1, WEIR_CODEC_NONE, 1, &len);
    assert_int_equal(tu_append_sync(fx.ap, fx.log, b, len, NULL), WEIR_OK);
    int64_t end = weir_log_end_offset(fx.log);
    uint64_t size = weir_log_size_bytes(fx.log);
    struct weir_append a = { .batch = b, .len = len };
    b[len - 1] ^= 1; /* CRC */
    assert_int_equal(weir_log_append(fx.log, &a), WEIR_E_CRC);
    b[len - 1] ^= 1;
    a.len = len - 1; /* truncated */
    assert_int_equal(weir_log_append(fx.log, &a), WEIR_E_TRUNCATED);
    uint8_t *two = weir_malloc(2 * len); /* two batches in one append */
    memcpy(two, b, len);
    memcpy(two + len, b, len);
    a = (struct weir_append){ .batch = two, .len = 2 * len };
    assert_int_equal(weir_log_append(fx.log, &a), WEIR_E_INVALID);
    weir_free(two);
    size_t big_len;
    uint8_t *big = tu_batch(50, 200, 1000, 1, WEIR_CODEC_NONE, 2, &big_len);
    a = (struct weir_append){ .batch = big, .len = big_len };
    assert_int_equal(weir_log_append(fx.log, &a), WEIR_E_TOO_LARGE);
    weir_free(big);
    assert_int_equal(weir_log_end_offset(fx.log), end);
    assert_int_equal(weir_log_size_bytes(fx.log), size);
    weir_free(b);
    fx_done(&fx);
}

static void count_done(struct weir_append *a) { (*(int *)a->user)++; }

/* Many appends queued before one run share one writev and one fdatasync. */
static void test_group_commit(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "group");
    fx.cfg.flush_messages = 1; /* always */
    fx_open(&fx);
    enum { N = 100 };
    uint8_t *b[N];
    struct weir_append a[N];
    int done = 0;
    for (int i = 0; i < N; i++) {
        size_t len;
        b[i] = tu_batch(3, 50, 1000 + i, 1, WEIR_CODEC_NONE, (uint64_t)i, &len);
        a[i] = (struct weir_append){ .batch = b[i], .len = len, .on_done = count_done, .user = &done };
        assert_int_equal(weir_log_append(fx.log, &a[i]), WEIR_OK);
    }
    struct weir_appender_stats s0, s1;
    weir_appender_stats(fx.ap, &s0);
    weir_appender_drain(fx.ap);
    weir_appender_stats(fx.ap, &s1);
    assert_int_equal(done, N);
    assert_int_equal(s1.writes - s0.writes, 1);
    assert_int_equal(s1.fsyncs - s0.fsyncs, 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i].err, WEIR_OK);
        assert_int_equal(a[i].base_offset, 3 * i);
        weir_free(b[i]);
    }
    assert_int_equal(weir_log_flushed_offset(fx.log), 3 * N);
    fx_done(&fx);
}

/* Appends to many logs in one run go down in one io_uring submission. */
static void test_many_logs_one_submit(void **state)
{
    (void)state;
    enum { LOGS = 8 };
    char *dir = tu_tmpdir("multi");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(256, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 1 << 20;
    struct weir_log *logs[LOGS];
    struct weir_append a[LOGS];
    size_t len;
    uint8_t *b[LOGS];
    int done = 0;
    for (int i = 0; i < LOGS; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/t-%d", dir, i);
        assert_int_equal(weir_log_open(path, &cfg, ap, NULL, &logs[i]), WEIR_OK);
        b[i] = tu_batch(10, 100, 5, 1, WEIR_CODEC_NONE, (uint64_t)i, &len);
        a[i] = (struct weir_append){ .batch = b[i], .len = len, .on_done = count_done, .user = &done };
        assert_int_equal(weir_log_append(logs[i], &a[i]), WEIR_OK);
    }
    struct weir_appender_stats s0, s1;
    weir_appender_stats(ap, &s0);
    weir_appender_run(ap, false);
    weir_appender_stats(ap, &s1);
    assert_int_equal(s1.submits - s0.submits, 1);
    assert_int_equal(s1.writes - s0.writes, LOGS);
    weir_appender_drain(ap);
    assert_int_equal(done, LOGS);
    for (int i = 0; i < LOGS; i++) {
        assert_int_equal(weir_log_end_offset(logs[i]), 10);
        weir_log_close(logs[i]);
        weir_free(b[i]);
    }
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_roll_by_size_and_time(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "roll");
    fx.cfg.segment_bytes = 8192;
    fx_open(&fx);
    struct model m = { 0 };
    uint64_t seed = 11;
    append_random(&fx, &m, 60, &seed, WEIR_CODEC_NONE);
    unsigned segs = weir_log_segment_count(fx.log);
    assert_true(segs >= 3);
    /* No sealed segment exceeds segment.bytes unless it holds one batch. */
    struct weir_log_stats st;
    weir_log_stats(fx.log, &st);
    assert_int_equal(st.rolls, segs - 1);
    fx.cfg.segment_bytes = 1 << 30;
    fx.cfg.segment_ms = 1;
    assert_int_equal(weir_log_reconfigure(fx.log, &fx.cfg), WEIR_OK);
    usleep(3000);
    append_random(&fx, &m, 1, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_segment_count(fx.log), segs + 1);
    /* Explicit roll; an empty active segment does not roll. */
    assert_int_equal(weir_log_roll(fx.log), WEIR_OK);
    assert_int_equal(weir_log_segment_count(fx.log), segs + 2);
    assert_int_equal(weir_log_roll(fx.log), WEIR_OK);
    assert_int_equal(weir_log_segment_count(fx.log), segs + 2);
    /* Segment starts (ListOffsets v0): ascending bases from the log start,
     * the empty active one without a timestamp; a small cap gives the newest. */
    int64_t bases[256], times[256], bases2[2], times2[2];
    unsigned n = weir_log_segment_starts(fx.log, bases, times, 256);
    assert_int_equal(n, segs + 2);
    assert_int_equal(bases[0], weir_log_start_offset(fx.log));
    for (unsigned i = 1; i < n; i++) assert_true(bases[i] > bases[i - 1]);
    for (unsigned i = 0; i + 1 < n; i++) assert_true(times[i] != INT64_MIN);
    assert_int_equal(bases[n - 1], weir_log_end_offset(fx.log));
    assert_true(times[n - 1] == INT64_MIN);
    assert_int_equal(weir_log_segment_starts(fx.log, bases2, times2, 2), 2);
    assert_int_equal(bases2[0], bases[n - 2]);
    assert_int_equal(bases2[1], bases[n - 1]);
    check_reads(&fx, &m);
    weir_log_close(fx.log);
    fx_open(&fx);
    check_reads(&fx, &m);
    model_free(&m);
    fx_done(&fx);
}

static void test_retention(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "retain");
    fx.cfg.segment_bytes = 4096;
    fx_open(&fx);
    struct model m = { 0 };
    uint64_t seed = 5;
    append_random(&fx, &m, 80, &seed, WEIR_CODEC_NONE);
    unsigned segs = weir_log_segment_count(fx.log);
    uint64_t size = weir_log_size_bytes(fx.log);
    /* By size: keep at least retention.bytes, delete whole segments only. */
    fx.cfg.retention_bytes = (int64_t)(size / 2);
    fx.cfg.retention_ms = -1;
    assert_int_equal(weir_log_reconfigure(fx.log, &fx.cfg), WEIR_OK);
    unsigned deleted;
    assert_int_equal(weir_log_retain(fx.log, weir_time_ms(), &deleted), WEIR_OK);
    assert_true(deleted > 0);
    assert_int_equal(weir_log_segment_count(fx.log), segs - deleted);
    assert_true(weir_log_size_bytes(fx.log) >= size / 2);
    int64_t start = weir_log_start_offset(fx.log);
    assert_true(start > 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/%020d.log", fx.dir, 0);
    assert_int_equal(tu_file_size(path), -1);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx.log, start - 1, 100, true, &v), WEIR_E_OFFSET_RANGE);
    check_reads(&fx, &m);
    /* By time: records are at ~1e6 ms; at now=1e6+1e5+retention all expire,
     * the active segment too (it is rolled first). */
    fx.cfg.retention_bytes = -1;
    fx.cfg.retention_ms = 1000;
    assert_int_equal(weir_log_reconfigure(fx.log, &fx.cfg), WEIR_OK);
    int64_t end = weir_log_end_offset(fx.log);
    assert_int_equal(weir_log_retain(fx.log, 1200000, &deleted), WEIR_OK);
    assert_int_equal(weir_log_segment_count(fx.log), 1);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    assert_int_equal(weir_log_end_offset(fx.log), end);
    /* Appends continue at the same offsets after a reopen. */
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    model_free(&m);
    m = (struct model){ 0 };
    append_random(&fx, &m, 5, &seed, WEIR_CODEC_NONE);
    assert_int_equal(m.v[0].base, end);
    model_free(&m);
    fx_done(&fx);
}

/* A view pins its segment: retention deletes the files, the bytes stay readable. */
static void test_view_survives_retention(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "pin");
    fx.cfg.segment_bytes = 4096;
    fx.cfg.retention_bytes = 0;
    fx.cfg.retention_ms = -1;
    fx_open(&fx);
    struct model m = { 0 };
    uint64_t seed = 9;
    append_random(&fx, &m, 30, &seed, WEIR_CODEC_NONE);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx.log, 0, 1 << 20, true, &v), WEIR_OK);
    assert_int_equal(weir_log_retain(fx.log, weir_time_ms(), NULL), WEIR_OK);
    assert_true(weir_log_start_offset(fx.log) > 0);
    assert_memory_equal(v.data, m.v[0].bytes, m.v[0].len);
    uint8_t buf[61];
    assert_int_equal(pread(v.fd, buf, sizeof buf, (off_t)v.pos), 61);
    weir_log_view_release(fx.log, &v);
    model_free(&m);
    fx_done(&fx);
}

/* A log of 4 KiB segments without retention holding 60 random batches
 * (at least 4 segments, none in flight); returns the segment count. */
static unsigned fx_open_segmented(struct fixture *fx, const char *tag, struct model *m, uint64_t *seed)
{
    fx_init(fx, tag);
    fx->cfg.segment_bytes = 4096;
    fx->cfg.retention_ms = -1;
    fx_open(fx);
    append_random(fx, m, 60, seed, WEIR_CODEC_NONE);
    assert_true(weir_log_idle(fx->log));
    unsigned segs = weir_log_segment_count(fx->log);
    assert_true(segs >= 4);
    return segs;
}

/* Compaction's primitive: whole segments below an offset go, the segment
 * holding it and the active one stay; the start survives a reopen. */
static void test_delete_below(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    struct model m = { 0 };
    uint64_t seed = 31;
    unsigned segs = fx_open_segmented(&fx, "below", &m, &seed), deleted = 99;
    assert_int_equal(weir_log_delete_below(fx.log, 0, &deleted), WEIR_OK);
    assert_int_equal(deleted, 0);
    /* An offset inside a batch in the middle: its segment stays whole. */
    int64_t cut = m.v[30].base + (m.v[30].next - m.v[30].base) / 2;
    assert_int_equal(weir_log_delete_below(fx.log, cut, &deleted), WEIR_OK);
    int64_t start = weir_log_start_offset(fx.log);
    assert_true(deleted > 0 && start > 0 && start <= m.v[30].base);
    assert_int_equal(weir_log_segment_count(fx.log), segs - deleted);
    char path[4096];
    snprintf(path, sizeof path, "%s/%020d.log", fx.dir, 0);
    assert_int_equal(tu_file_size(path), -1);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx.log, start - 1, 100, true, &v), WEIR_E_OFFSET_RANGE);
    check_reads(&fx, &m);
    /* Again at the same offset: nothing more. */
    assert_int_equal(weir_log_delete_below(fx.log, cut, &deleted), WEIR_OK);
    assert_int_equal(deleted, 0);
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), start);
    check_reads(&fx, &m);
    /* Roll, then everything below the end: only the (empty) active segment is left. */
    append_random(&fx, &m, 10, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx.log), WEIR_OK);
    int64_t end = weir_log_end_offset(fx.log);
    assert_int_equal(weir_log_delete_below(fx.log, INT64_MAX, &deleted), WEIR_OK);
    assert_true(deleted > 0);
    assert_int_equal(weir_log_segment_count(fx.log), 1);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    assert_int_equal(weir_log_end_offset(fx.log), end);
    /* Appends go on at the end, and reopen keeps it all. */
    model_free(&m);
    m = (struct model){ 0 };
    append_random(&fx, &m, 5, &seed, WEIR_CODEC_NONE);
    assert_int_equal(m.v[0].base, end);
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    check_reads(&fx, &m);
    model_free(&m);
    fx_done(&fx);
}

/* DeleteRecords: the start moves inside a batch of a segment; the whole
 * segments below it go; the start survives a reopen; a truncation below it
 * brings it down. */
static void test_advance_start(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    struct model m = { 0 };
    uint64_t seed = 37;
    unsigned segs = fx_open_segmented(&fx, "start", &m, &seed), deleted = 99;
    int64_t hw = weir_log_high_watermark(fx.log);
    assert_int_equal(weir_log_advance_start(fx.log, hw + 1, &deleted), WEIR_E_OFFSET_RANGE);
    assert_int_equal(weir_log_advance_start(fx.log, -2, &deleted), WEIR_E_OFFSET_RANGE);
    assert_int_equal(weir_log_start_offset(fx.log), 0);
    assert_true(m.v[30].next - m.v[30].base > 1);
    int64_t cut = m.v[30].base + 1; /* inside a batch */
    assert_int_equal(weir_log_advance_start(fx.log, cut, &deleted), WEIR_OK);
    assert_int_equal(weir_log_start_offset(fx.log), cut);
    assert_true(deleted > 0);
    assert_int_equal(weir_log_segment_count(fx.log), segs - deleted);
    segs = weir_log_segment_count(fx.log);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx.log, cut - 1, 100, true, &v), WEIR_E_OFFSET_RANGE);
    assert_int_equal(weir_log_read(fx.log, cut, 100, true, &v), WEIR_OK);
    assert_int_equal(v.offset_first, m.v[30].base); /* the whole batch holding it, as Kafka serves */
    weir_log_view_release(fx.log, &v);
    int64_t found = -1, found_ts = -1; /* a time lookup answers no record below the start */
    assert_int_equal(weir_log_offset_for_time(fx.log, 0, &found, &found_ts), WEIR_OK);
    assert_int_equal(found, cut);
    /* Lower or equal: nothing changes. */
    assert_int_equal(weir_log_advance_start(fx.log, cut - 1, &deleted), WEIR_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(weir_log_start_offset(fx.log), cut);
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), cut);
    assert_int_equal(weir_log_segment_count(fx.log), segs);
    assert_int_equal(weir_log_read(fx.log, cut - 1, 100, true, &v), WEIR_E_OFFSET_RANGE);
    /* To the end: the active segment stays, empty of readable offsets. */
    int64_t end = weir_log_end_offset(fx.log);
    assert_int_equal(weir_log_advance_start(fx.log, end, &deleted), WEIR_OK);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    assert_int_equal(weir_log_segment_count(fx.log), 1);
    assert_int_equal(weir_log_offset_for_time(fx.log, 0, &found, &found_ts), WEIR_E_NOT_FOUND);
    append_random(&fx, &m, 3, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), end);
    assert_int_equal(weir_log_end_offset(fx.log), m.v[m.n - 1].next);
    /* A truncation below the start brings the start down with it, durably. */
    int64_t below = m.v[59].base; /* a batch boundary below the start */
    assert_true(below < end);
    assert_int_equal(weir_log_truncate(fx.log, below), WEIR_OK);
    assert_int_equal(weir_log_start_offset(fx.log), below);
    for (size_t i = 59; i < m.n; i++) weir_free(m.v[i].bytes), weir_free(m.v[i].ts);
    m.n = 59;
    append_random(&fx, &m, 2, &seed, WEIR_CODEC_NONE);
    weir_log_close(fx.log);
    fx_open(&fx);
    assert_int_equal(weir_log_start_offset(fx.log), below);
    model_free(&m);
    fx_done(&fx);
}

static void test_truncate(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "trunc");
    fx.cfg.segment_bytes = 8192;
    fx.cfg.index_interval_bytes = 512;
    fx_open(&fx);
    struct model m = { 0 };
    uint64_t seed = 21;
    append_random(&fx, &m, 100, &seed, WEIR_CODEC_NONE);
    /* Inside a batch: refused, nothing changes. At batch 60: it goes, 0..59 stay. */
    if (m.v[60].next - m.v[60].base > 1) {
        int64_t inside = m.v[60].base + 1;
        assert_int_equal(weir_log_truncate(fx.log, inside), WEIR_E_INVALID);
        assert_int_equal(weir_log_end_offset(fx.log), m.v[m.n - 1].next);
    }
    assert_int_equal(weir_log_truncate(fx.log, m.v[60].base), WEIR_OK);
    assert_int_equal(weir_log_end_offset(fx.log), m.v[60].base);
    for (size_t i = 60; i < m.n; i++) weir_free(m.v[i].bytes), weir_free(m.v[i].ts);
    m.n = 60;
    check_reads(&fx, &m);
    check_times(&fx, &m, &seed);
    append_random(&fx, &m, 20, &seed, WEIR_CODEC_NONE);
    check_reads(&fx, &m);
    weir_log_close(fx.log);
    fx_open(&fx);
    check_reads(&fx, &m);
    /* Below the log start: empty log starting there. */
    assert_int_equal(weir_log_truncate(fx.log, 0), WEIR_OK);
    assert_int_equal(weir_log_end_offset(fx.log), 0);
    assert_int_equal(weir_log_segment_count(fx.log), 1);
    model_free(&m);
    fx_done(&fx);
}

static void test_preparer_rolls_without_stall(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "prep");
    fx.cfg.segment_bytes = 16384;
    struct weir_preparer *prep;
    struct weir_disk_policy hot; /* every step is the largest: a hot log */
    weir_disk_policy_default(&hot);
    hot.prealloc_max_bytes = WEIR_PREALLOC_STEP_MIN_BYTES;
    assert_int_equal(weir_preparer_create(NULL, &hot, &prep), WEIR_OK);
    assert_int_equal(weir_log_open(fx.dir, &fx.cfg, fx.ap, prep, &fx.log), WEIR_OK);
    struct model m = { 0 };
    uint64_t seed = 77;
    for (int i = 0; i < 400; i++) {
        append_random(&fx, &m, 1, &seed, WEIR_CODEC_NONE);
        weir_preparer_sync(prep); /* a spare asked past half a segment is ready before its roll */
    }
    struct weir_log_stats st;
    weir_log_stats(fx.log, &st);
    assert_true(st.rolls >= 5);
    assert_true(st.roll_stalls * 4 < st.rolls); /* only when one batch went from below half to the roll */
    check_reads(&fx, &m);
    weir_log_close(fx.log);
    fx.log = NULL;
    weir_preparer_destroy(prep);
    /* Segments sealed by the preparer have true sizes; reopen trusts them. */
    fx_open(&fx);
    check_reads(&fx, &m);
    model_free(&m);
    fx_done(&fx);
}

/* ---- disk footprint and free space ------------------------------------------------ */

/* Allocated bytes of every file under dir (du), directories included. */
static uint64_t du_bytes(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "du -s -B1 '%s'", dir);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    unsigned long long n = 0;
    assert_int_equal(fscanf(f, "%llu", &n), 1);
    pclose(f);
    return n;
}

/* Appends `bytes` in batches of about 64 KiB as fast as it can. */
static void append_bytes(struct fixture *fx, uint64_t bytes)
{
    size_t len;
    uint8_t *b = tu_batch(16, 4000, 1000000, 1, WEIR_CODEC_NONE, 1, &len);
    for (uint64_t done = 0; done < bytes; done += len) assert_int_equal(tu_append_sync(fx->ap, fx->log, b, len, NULL), WEIR_OK);
    weir_free(b);
}

static void test_empty_log_costs_little(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "footprint");
    struct weir_preparer *prep;
    assert_int_equal(weir_preparer_create(fx.dir, NULL, &prep), WEIR_OK);
    assert_int_equal(weir_log_open(fx.dir, &fx.cfg, fx.ap, prep, &fx.log), WEIR_OK);
    weir_preparer_sync(prep);
    assert_true(du_bytes(fx.dir) <= 128 << 10);
    weir_log_close(fx.log);
    assert_int_equal(weir_log_open(fx.dir, &fx.cfg, fx.ap, prep, &fx.log), WEIR_OK);
    assert_true(du_bytes(fx.dir) <= 128 << 10); /* reopened (clean and after recovery alike) */
    /* A quiet log: allocation follows its data by at most one small step, and no spare. */
    append_bytes(&fx, 1 << 20);
    weir_preparer_sync(prep);
    uint64_t size = weir_log_size_bytes(fx.log), alloc = weir_log_allocated_bytes(fx.log);
    struct weir_log_stats st;
    weir_log_stats(fx.log, &st);
    assert_true(alloc >= size);
    assert_true(alloc <= size + st.prealloc_step + (64 << 10)); /* + the indexes */
    struct weir_disk_stats ds;
    weir_preparer_disk_stats(prep, &ds);
    assert_true(ds.prealloc_unused_bytes <= st.prealloc_step);
    assert_false(ds.low);
    weir_log_close(fx.log);
    fx.log = NULL;
    weir_preparer_disk_stats(prep, &ds);
    assert_int_equal(ds.prealloc_unused_bytes, 0); /* closed logs hold no budget */
    weir_preparer_destroy(prep);
    fx_done(&fx);
}

/* A hot log's step grows to the largest; the budget caps what all logs hold
 * ahead of their data; with no budget a write allocates only what it needs. */
static void test_prealloc_step_and_budget(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "budget");
    fx.cfg.segment_bytes = 64 << 20;
    struct weir_disk_policy pol;
    weir_disk_policy_default(&pol);
    pol.prealloc_max_bytes = 1 << 20;
    struct weir_preparer *prep;
    assert_int_equal(weir_preparer_create(fx.dir, &pol, &prep), WEIR_OK);
    assert_int_equal(weir_log_open(fx.dir, &fx.cfg, fx.ap, prep, &fx.log), WEIR_OK);
    append_bytes(&fx, 8 << 20);
    struct weir_log_stats st;
    weir_log_stats(fx.log, &st);
    assert_int_equal(st.prealloc_step, 1 << 20); /* doubled up to the largest */
    uint64_t size = weir_log_size_bytes(fx.log);
    assert_true(weir_log_allocated_bytes(fx.log) <= size + (1 << 20) + (64 << 10));
    pol.prealloc_budget_bytes = 0;
    weir_preparer_set_policy(prep, &pol);
    weir_log_roll(fx.log);
    weir_preparer_sync(prep);
    append_bytes(&fx, 2 << 20);
    size = weir_log_size_bytes(fx.log);
    assert_true(weir_log_allocated_bytes(fx.log) <= size + 2 * 4096 + (64 << 10));
    weir_log_close(fx.log);
    fx.log = NULL;
    weir_preparer_destroy(prep);
    fx_done(&fx);
}

/* Free space below the reserve refuses appends, retriably, except to a log
 * with reserve access; appends resume once a check finds space again. */
static void test_reserve_refuses_and_resumes(void **state)
{
    (void)state;
    struct fixture fx = { 0 };
    fx_init(&fx, "reserve");
    struct weir_disk_policy pol;
    weir_disk_policy_default(&pol);
    pol.reserve_bytes = INT64_MAX / 2; /* more than any disk: low at once */
    struct weir_preparer *prep;
    assert_int_equal(weir_preparer_create(fx.dir, &pol, &prep), WEIR_OK);
    assert_int_equal(weir_log_open(fx.dir, &fx.cfg, fx.ap, prep, &fx.log), WEIR_OK);
    size_t len;
    uint8_t *b = tu_batch(3, 100, 1000000, 1, WEIR_CODEC_NONE, 1, &len);
    struct weir_disk_stats ds;
    weir_preparer_disk_stats(prep, &ds);
    assert_true(ds.low);
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    assert_int_equal(tu_append_sync(fx.ap, fx.log, b, len, NULL), WEIR_E_NOSPACE);
    assert_int_equal(weir_log_state(fx.log), WEIR_OK); /* not read-only: retriable */
    weir_log_set_reserve_access(fx.log, true);
    int64_t base;
    assert_int_equal(tu_append_sync(fx.ap, fx.log, b, len, &base), WEIR_OK);
    assert_int_equal(base, 0);
    weir_log_set_reserve_access(fx.log, false);
    assert_int_equal(tu_append_sync(fx.ap, fx.log, b, len, NULL), WEIR_E_NOSPACE);
    pol.reserve_bytes = 0; /* space is back */
    weir_preparer_set_policy(prep, &pol);
    weir_log_set_level(WEIR_LOG_INFO);
    weir_preparer_disk_stats(prep, &ds);
    assert_false(ds.low);
    assert_int_equal(tu_append_sync(fx.ap, fx.log, b, len, &base), WEIR_OK);
    assert_int_equal(base, 3);
    struct weir_log_stats st;
    weir_log_stats(fx.log, &st);
    assert_int_equal(st.nospace_refusals, 2);
    assert_int_equal(ds.low_events, 1);
    weir_free(b);
    weir_log_close(fx.log);
    fx.log = NULL;
    weir_preparer_destroy(prep);
    fx_done(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_read_model),
        cmocka_unit_test(test_index_interval_zero_and_large),
        cmocka_unit_test(test_read_max_bytes),
        cmocka_unit_test(test_bad_batches_refused),
        cmocka_unit_test(test_group_commit),
        cmocka_unit_test(test_many_logs_one_submit),
        cmocka_unit_test(test_roll_by_size_and_time),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_view_survives_retention),
        cmocka_unit_test(test_delete_below),
        cmocka_unit_test(test_advance_start),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_preparer_rolls_without_stall),
        cmocka_unit_test(test_empty_log_costs_little),
        cmocka_unit_test(test_prealloc_step_and_budget),
        cmocka_unit_test(test_reserve_refuses_and_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
