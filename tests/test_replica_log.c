/* tests/test_replica_log.c: the engine side of replication: leader-epoch
 * stamping and cache (Kafka's LeaderEpochFileCache semantics and checkpoint
 * file), follower appends, truncation to a batch boundary (durable under
 * kill and injected syscall failures), the high watermark and the store's
 * replication-offset-checkpoint. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A batch of `count` records; producer fields as given (pid -1: none),
 * baseOffset and partitionLeaderEpoch set (both outside the CRC). */
static uint8_t *mk(int32_t count, int64_t pid, int16_t pepoch, int32_t seq, int64_t base, int32_t lepoch,
                   uint64_t seed, size_t *len)
{
    size_t cap = 4096 + (size_t)count * 128;
    uint8_t *buf = weir_malloc(cap);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, seed % 3 == 0 ? WEIR_CODEC_LZ4 : WEIR_CODEC_NONE);
    for (int32_t i = 0; i < count; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "value-%llu-%d", (unsigned long long)seed, i);
        assert_int_equal(weir_batch_builder_add(&b, 1000 + (int64_t)seed * 10 + i, "k", 1, v, n, NULL, 0), WEIR_OK);
    }
    assert_int_equal(weir_batch_builder_finish(&b, pid, pepoch, pid < 0 ? -1 : seq, len), WEIR_OK);
    weir_batch_set_base_offset(buf, base);
    weir_batch_set_leader_epoch(buf, lepoch);
    return buf;
}

static void sync_done(struct weir_append *a) { *(int *)a->user = 1; }

static enum weir_err replica_sync(struct weir_appender *ap, struct weir_log *log, uint8_t *set, size_t len)
{
    int done = 0;
    struct weir_append a = { .batch = set, .len = len, .on_done = sync_done, .user = &done };
    enum weir_err err = weir_log_append_replica(log, &a);
    if (err != WEIR_OK) return err;
    for (int i = 0; !done && i < 1000000; i++) weir_appender_run(ap, true);
    assert_true(done);
    return a.err;
}

/* Appends one replica batch at the log end; returns the offset after it. */
static int64_t replica_one(struct weir_appender *ap, struct weir_log *log, int32_t count, int32_t lepoch,
                           uint64_t seed)
{
    size_t len;
    int64_t base = weir_log_end_offset(log);
    uint8_t *b = mk(count, -1, -1, -1, base, lepoch, seed, &len);
    assert_int_equal(replica_sync(ap, log, b, len), WEIR_OK);
    weir_free(b);
    assert_int_equal(weir_log_end_offset(log), base + count);
    return base + count;
}

/* A client append; *base also for a duplicate (the original's offset). */
static enum weir_err client_sync(struct weir_appender *ap, struct weir_log *log, uint8_t *b, size_t len, int64_t *base)
{
    int done = 0;
    struct weir_append a = { .batch = b, .len = len, .on_done = sync_done, .user = &done };
    enum weir_err err = weir_log_append(log, &a);
    if (err == WEIR_OK) {
        for (int i = 0; !done && i < 1000000; i++) weir_appender_run(ap, true);
        assert_true(done);
        err = a.err;
    }
    *base = a.base_offset;
    return err;
}

static void expect_epoch(struct weir_log *log, int32_t req, int32_t want_epoch, int64_t want_end)
{
    int32_t e;
    int64_t o;
    weir_log_epoch_end_offset(log, req, &e, &o);
    assert_int_equal(e, want_epoch);
    assert_int_equal(o, want_end);
}

static char *file_text(const char *dir, const char *name)
{
    char path[4096], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (weir_read_file(path, 1 << 20, &text, NULL) != WEIR_OK) return NULL;
    return text;
}

static void file_write(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

struct fx {
    char *dir;
    struct weir_appender *ap;
    struct weir_log *log;
    struct weir_log_config cfg;
};

static void fx_init(struct fx *f, const char *tag, uint64_t segment_bytes)
{
    f->dir = tu_tmpdir(tag);
    assert_int_equal(weir_appender_create(64, &f->ap), WEIR_OK);
    weir_log_config_default(&f->cfg);
    f->cfg.segment_bytes = segment_bytes;
    f->cfg.index_interval_bytes = 128;
    assert_int_equal(weir_log_open(f->dir, &f->cfg, f->ap, NULL, &f->log), WEIR_OK);
}

static void fx_reopen(struct fx *f)
{
    weir_log_close(f->log);
    assert_int_equal(weir_log_open(f->dir, &f->cfg, f->ap, NULL, &f->log), WEIR_OK);
}

static void fx_done(struct fx *f)
{
    if (f->log) weir_log_close(f->log);
    weir_appender_destroy(f->ap);
    tu_rmrf(f->dir);
    weir_free(f->dir);
}

/* ---- stamping and the cache ------------------------------------------------------ */

/* Until an epoch is set a client batch is stored as sent (its -1 kept) and no
 * checkpoint exists; then every batch gets the epoch, its CRC still valid. */
static void test_stamping(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "stamp", 1 << 20);
    assert_int_equal(weir_log_leader_epoch(f.log), WEIR_EPOCH_NONE);
    size_t len;
    uint8_t *b = mk(3, -1, -1, -1, 0, -1, 1, &len), *copy = weir_malloc(len);
    memcpy(copy, b, len);
    assert_int_equal(tu_append_sync(f.ap, f.log, b, len, NULL), WEIR_OK);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(f.log, 0, 1 << 20, true, &v), WEIR_OK);
    assert_int_equal(v.len, len);
    assert_memory_equal(v.data, copy, len); /* byte for byte, epoch -1 included */
    weir_log_view_release(f.log, &v);
    assert_null(file_text(f.dir, "leader-epoch-checkpoint"));
    assert_int_equal(weir_log_latest_epoch(f.log), WEIR_EPOCH_NONE);

    assert_int_equal(weir_log_set_leader_epoch(f.log, -2), WEIR_E_INVALID);
    assert_int_equal(weir_log_set_leader_epoch(f.log, 3), WEIR_OK);
    char *text = file_text(f.dir, "leader-epoch-checkpoint");
    assert_string_equal(text, "0\n1\n3 3\n");
    weir_free(text);
    weir_free(b);
    b = mk(2, -1, -1, -1, 0, 77, 2, &len);
    assert_int_equal(tu_append_sync(f.ap, f.log, b, len, NULL), WEIR_OK);
    assert_int_equal(weir_log_read(f.log, 3, 1 << 20, true, &v), WEIR_OK);
    struct weir_batch_header h;
    assert_int_equal(weir_batch_header_decode(v.data, v.len, &h), WEIR_OK);
    assert_int_equal(h.leader_epoch, 3);
    assert_int_equal(h.base_offset, 3);
    size_t blen;
    assert_int_equal(weir_batch_validate(v.data, v.len, v.len, false, &blen), WEIR_OK);
    assert_memory_equal(v.data + WEIR_BATCH_OFF_MAGIC, b + WEIR_BATCH_OFF_MAGIC, len - WEIR_BATCH_OFF_MAGIC);
    weir_log_view_release(f.log, &v);
    /* The same epoch again changes nothing (no rewrite). */
    assert_int_equal(weir_log_set_leader_epoch(f.log, 3), WEIR_OK);
    text = file_text(f.dir, "leader-epoch-checkpoint");
    assert_string_equal(text, "0\n1\n3 3\n");
    weir_free(text);
    weir_free(b);
    weir_free(copy);
    fx_done(&f);
}

/* OffsetsForLeaderEpoch answers, as LeaderEpochFileCache.endOffsetFor. */
static void test_epoch_end_offset(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "eoff", 1 << 20);
    expect_epoch(f.log, 0, -1, -1); /* empty cache */
    replica_one(f.ap, f.log, 2, 1, 1);
    int64_t x = replica_one(f.ap, f.log, 3, 1, 2);
    replica_one(f.ap, f.log, 1, 3, 3);
    int64_t y = replica_one(f.ap, f.log, 4, 3, 4);
    int64_t end = replica_one(f.ap, f.log, 2, 4, 5);
    char *text = file_text(f.dir, "leader-epoch-checkpoint");
    char want[128];
    snprintf(want, sizeof want, "0\n3\n1 0\n3 %lld\n4 %lld\n", (long long)x, (long long)y);
    assert_string_equal(text, want);
    weir_free(text);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(weir_log_latest_epoch(f.log), 4);
        expect_epoch(f.log, -1, -1, -1);
        expect_epoch(f.log, 0, 0, 0);   /* below every epoch: (requested, first start) */
        expect_epoch(f.log, 1, 1, x);
        expect_epoch(f.log, 2, 1, x);   /* the largest epoch <= 2 is 1 */
        expect_epoch(f.log, 3, 3, y);
        expect_epoch(f.log, 4, 4, end); /* the latest: the log end */
        expect_epoch(f.log, 5, -1, -1); /* above every epoch */
        fx_reopen(&f);                  /* the same after a clean reopen */
    }
    /* A leader of epoch 2 after 4 (an unclean history): 3 and 4 go (Kafka's assign). */
    assert_int_equal(weir_log_set_leader_epoch(f.log, 2), WEIR_OK);
    assert_int_equal(weir_log_latest_epoch(f.log), 2);
    expect_epoch(f.log, 1, 1, end);
    expect_epoch(f.log, 2, 2, end);
    fx_done(&f);
}

/* A checkpoint that is unreadable is rebuilt from the batches; entries past
 * the log end (a torn tail, an epoch with no batch yet) are dropped at open;
 * a missing file is an empty cache. */
static void test_epoch_file_repair(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "erep", 600);
    int64_t e1 = 0, e2 = 0;
    for (int i = 0; i < 10; i++) e1 = replica_one(f.ap, f.log, 2, 5, (uint64_t)i);
    for (int i = 0; i < 10; i++) e2 = replica_one(f.ap, f.log, 3, 7, (uint64_t)(i + 10));
    assert_true(weir_log_segment_count(f.log) > 2);
    weir_log_close(f.log);
    char want[128];
    snprintf(want, sizeof want, "0\n2\n5 0\n7 %lld\n", (long long)e1);
    static const char *const bad[] = { "", "1\n0\n", "0\n2\n5 0\n", "0\n2\n7 0\n5 10\n", "0\n1\n5 x\n", "zz" };
    for (size_t k = 0; k < WEIR_ARRAY_LEN(bad); k++) {
        file_write(f.dir, "leader-epoch-checkpoint", bad[k]);
        weir_log_set_level(WEIR_LOG_ERROR);
        assert_int_equal(weir_log_open(f.dir, &f.cfg, f.ap, NULL, &f.log), WEIR_OK);
        weir_log_set_level(WEIR_LOG_INFO);
        char *text = file_text(f.dir, "leader-epoch-checkpoint");
        assert_string_equal(text, want);
        weir_free(text);
        expect_epoch(f.log, 5, 5, e1);
        expect_epoch(f.log, 7, 7, e2);
        weir_log_close(f.log);
    }
    /* Past the end: dropped (Kafka's truncateFromEnd at load). */
    char past[128];
    snprintf(past, sizeof past, "0\n4\n5 0\n7 %lld\n8 %lld\n9 %lld\n", (long long)e1, (long long)e2,
             (long long)e2 + 40);
    file_write(f.dir, "leader-epoch-checkpoint", past);
    assert_int_equal(weir_log_open(f.dir, &f.cfg, f.ap, NULL, &f.log), WEIR_OK);
    char *text = file_text(f.dir, "leader-epoch-checkpoint");
    assert_string_equal(text, want);
    weir_free(text);
    assert_int_equal(weir_log_latest_epoch(f.log), 7);
    weir_log_close(f.log);
    char path[4096];
    snprintf(path, sizeof path, "%s/leader-epoch-checkpoint", f.dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(weir_log_open(f.dir, &f.cfg, f.ap, NULL, &f.log), WEIR_OK);
    assert_int_equal(weir_log_latest_epoch(f.log), WEIR_EPOCH_NONE);
    fx_done(&f);
}

/* A log start that moves (delete_below) trims the cache from the start:
 * the epoch holding the new start begins there (truncateFromStart). */
static void test_epoch_start_moves(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "estart", 400);
    int64_t e1 = 0;
    for (int i = 0; i < 12; i++) e1 = replica_one(f.ap, f.log, 2, 1, (uint64_t)i);
    for (int i = 0; i < 12; i++) replica_one(f.ap, f.log, 2, 2, (uint64_t)(i + 12));
    unsigned deleted;
    assert_int_equal(weir_log_delete_below(f.log, e1 / 2, &deleted), WEIR_OK);
    assert_true(deleted > 0);
    int64_t start = weir_log_start_offset(f.log);
    assert_true(start > 0 && start < e1);
    char *text = file_text(f.dir, "leader-epoch-checkpoint"), want[128];
    snprintf(want, sizeof want, "0\n2\n1 %lld\n2 %lld\n", (long long)start, (long long)e1);
    assert_string_equal(text, want);
    weir_free(text);
    assert_int_equal(weir_log_delete_below(f.log, e1 + 6, &deleted), WEIR_OK);
    start = weir_log_start_offset(f.log);
    assert_true(start > e1);
    text = file_text(f.dir, "leader-epoch-checkpoint");
    snprintf(want, sizeof want, "0\n1\n2 %lld\n", (long long)start);
    assert_string_equal(text, want);
    weir_free(text);
    expect_epoch(f.log, 1, 1, start);
    fx_reopen(&f);
    expect_epoch(f.log, 2, 2, weir_log_end_offset(f.log));
    fx_done(&f);
}

/* ---- follower appends ------------------------------------------------------------- */

/* The leader's batches go in verbatim, several per append, across segments;
 * the follower's bytes, epochs and producer state match the leader's. */
static void test_replica_verbatim(void **state)
{
    (void)state;
    struct fx l, f;
    fx_init(&l, "leader", 1024);
    fx_init(&f, "follower", 1024);
    for (int32_t epoch = 0; epoch < 3; epoch++) {
        assert_int_equal(weir_log_set_leader_epoch(l.log, epoch * 2 + 1), WEIR_OK);
        for (int i = 0; i < 20; i++) {
            size_t len;
            int32_t seq = (epoch * 20 + i) * 4;
            uint8_t *b = mk(4, 42, 0, seq, 0, -1, (uint64_t)(epoch * 20 + i), &len);
            assert_int_equal(tu_append_sync(l.ap, l.log, b, len, NULL), WEIR_OK);
            weir_free(b);
        }
    }
    /* Fetch from the leader in views of up to 1500 bytes; append each whole. */
    int64_t o = 0;
    while (o < weir_log_end_offset(l.log)) {
        struct weir_log_view v;
        assert_int_equal(weir_log_read(l.log, o, 1500, true, &v), WEIR_OK);
        uint8_t *set = weir_malloc(v.len);
        memcpy(set, v.data, v.len);
        assert_int_equal(replica_sync(f.ap, f.log, set, v.len), WEIR_OK);
        weir_free(set);
        o = v.offset_next;
        weir_log_view_release(l.log, &v);
    }
    assert_int_equal(weir_log_end_offset(f.log), weir_log_end_offset(l.log));
    assert_true(weir_log_segment_count(f.log) > 3);
    for (int round = 0; round < 2; round++) {
        for (o = 0; o < weir_log_end_offset(l.log);) {
            struct weir_log_view a, b;
            assert_int_equal(weir_log_read(l.log, o, 1, true, &a), WEIR_OK);
            assert_int_equal(weir_log_read(f.log, o, 1, true, &b), WEIR_OK);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            o = a.offset_next;
            weir_log_view_release(l.log, &a);
            weir_log_view_release(f.log, &b);
        }
        for (int32_t e = -1; e < 8; e++) {
            int32_t le, fe;
            int64_t lo, fo;
            weir_log_epoch_end_offset(l.log, e, &le, &lo);
            weir_log_epoch_end_offset(f.log, e, &fe, &fo);
            assert_int_equal(le, fe);
            assert_int_equal(lo, fo);
        }
        char *lt = file_text(l.dir, "leader-epoch-checkpoint"), *ft = file_text(f.dir, "leader-epoch-checkpoint");
        assert_string_equal(lt, ft);
        weir_free(lt);
        weir_free(ft);
        fx_reopen(&f);
    }
    /* Failover: the follower leads; the producer's retry of its last batch is a duplicate. */
    assert_int_equal(weir_log_set_leader_epoch(f.log, 9), WEIR_OK);
    size_t len;
    uint8_t *retry = mk(4, 42, 0, 59 * 4, 0, -1, 59, &len);
    int64_t dup_base = -2;
    assert_int_equal(client_sync(f.ap, f.log, retry, len, &dup_base), WEIR_E_DUPLICATE);
    assert_int_equal(dup_base, weir_log_end_offset(l.log) - 4);
    weir_free(retry);
    uint8_t *next = mk(4, 42, 0, 60 * 4, 0, -1, 60, &len);
    int64_t base;
    assert_int_equal(tu_append_sync(f.ap, f.log, next, len, &base), WEIR_OK);
    assert_int_equal(base, weir_log_end_offset(l.log));
    weir_free(next);
    expect_epoch(f.log, 5, 5, base);
    fx_done(&l);
    fx_done(&f);
}

static void test_replica_checks(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "rchk", 1 << 20);
    size_t l1, l2;
    uint8_t *b1 = mk(3, 7, 0, 0, 0, 1, 1, &l1), *b2 = mk(2, 7, 0, 10, 3, 1, 2, &l2);
    /* Not at the log end. */
    weir_batch_set_base_offset(b1, 1);
    assert_int_equal(replica_sync(f.ap, f.log, b1, l1), WEIR_E_OFFSET_RANGE);
    weir_batch_set_base_offset(b1, 0);
    /* A set whose second batch does not follow the first. */
    uint8_t *set = weir_malloc(l1 + l2);
    memcpy(set, b1, l1);
    memcpy(set + l1, b2, l2);
    weir_batch_set_base_offset(set + l1, 4);
    assert_int_equal(replica_sync(f.ap, f.log, set, l1 + l2), WEIR_E_INVALID);
    weir_batch_set_base_offset(set + l1, 3);
    /* A flipped bit inside the CRC's span; a cut batch. */
    set[l1 + 30] ^= 1;
    assert_int_equal(replica_sync(f.ap, f.log, set, l1 + l2), WEIR_E_CRC);
    set[l1 + 30] ^= 1;
    assert_int_equal(replica_sync(f.ap, f.log, set, l1 + l2 - 1), WEIR_E_TRUNCATED);
    assert_int_equal(weir_log_end_offset(f.log), 0);
    assert_int_equal(weir_log_latest_epoch(f.log), WEIR_EPOCH_NONE);
    /* Sequences 0..2 then 10..11: a gap the leader accepted; a follower takes it. */
    assert_int_equal(replica_sync(f.ap, f.log, set, l1 + l2), WEIR_OK);
    assert_int_equal(weir_log_end_offset(f.log), 5);
    /* Replica appends queued: a client append is refused, and the other way round. */
    int done = 0;
    uint8_t *b3 = mk(1, -1, -1, -1, 5, 1, 3, &l1);
    struct weir_append a = { .batch = b3, .len = l1, .on_done = sync_done, .user = &done };
    assert_int_equal(weir_log_append_replica(f.log, &a), WEIR_OK);
    size_t lc;
    uint8_t *c = mk(1, -1, -1, -1, 0, -1, 4, &lc);
    int cdone = 0;
    struct weir_append ca = { .batch = c, .len = lc, .on_done = sync_done, .user = &cdone };
    assert_int_equal(weir_log_append(f.log, &ca), WEIR_E_INVALID);
    assert_int_equal(weir_log_set_leader_epoch(f.log, 2), WEIR_E_INVALID);
    weir_appender_drain(f.ap);
    assert_true(done);
    assert_int_equal(a.err, WEIR_OK);
    assert_int_equal(weir_log_append(f.log, &ca), WEIR_OK);
    uint8_t *b4 = mk(1, -1, -1, -1, 7, 1, 5, &l2);
    struct weir_append ra = { .batch = b4, .len = l2, .on_done = sync_done, .user = &done };
    assert_int_equal(weir_log_append_replica(f.log, &ra), WEIR_E_INVALID);
    weir_appender_drain(f.ap);
    assert_true(cdone);
    /* The follower as leader: the producer's next after the gap is in sequence. */
    uint8_t *n = mk(1, 7, 0, 12, 0, -1, 6, &lc);
    assert_int_equal(tu_append_sync(f.ap, f.log, n, lc, NULL), WEIR_OK);
    uint8_t *d = mk(2, 7, 0, 10, 0, -1, 7, &lc);
    int64_t dup = -1;
    assert_int_equal(client_sync(f.ap, f.log, d, lc, &dup), WEIR_E_DUPLICATE);
    assert_int_equal(dup, 3);
    weir_free(b1), weir_free(b2), weir_free(b3), weir_free(b4), weir_free(c), weir_free(n), weir_free(d);
    weir_free(set);
    fx_done(&f);
}

/* ---- truncation ------------------------------------------------------------------- */

/* Truncation to any batch boundary, across segments: later segments go,
 * indexes are cut, the epoch cache and producer state follow, all of it
 * survives a reopen; a truncated producer batch is no longer a duplicate. */
static void test_truncate_boundaries(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "rtrunc", 700);
    enum { N = 60 };
    int64_t bases[N + 1];
    int32_t seq[N + 1] = { 0 }; /* producer 5's sequences run on with the records */
    for (int i = 0; i < N; i++) seq[i + 1] = seq[i] + 1 + i % 3;
    for (int i = 0; i < N; i++) {
        size_t len;
        bases[i] = weir_log_end_offset(f.log);
        uint8_t *b = mk(1 + i % 3, 5, 0, seq[i], bases[i], i / 10, (uint64_t)i, &len);
        assert_int_equal(replica_sync(f.ap, f.log, b, len), WEIR_OK);
        weir_free(b);
    }
    bases[N] = weir_log_end_offset(f.log);
    unsigned segs = weir_log_segment_count(f.log);
    assert_true(segs > 4);
    assert_int_equal(weir_log_truncate(f.log, bases[37] + 1), bases[37] + 1 == bases[38] ? WEIR_OK : WEIR_E_INVALID);
    uint64_t seed = 99;
    for (int round = 0; round < 6; round++) {
        int k = (int)(tu_rand(&seed) % (uint64_t)N);
        int64_t end = weir_log_end_offset(f.log);
        if (bases[k] >= end) continue;
        assert_int_equal(weir_log_truncate(f.log, bases[k]), WEIR_OK);
        assert_int_equal(weir_log_end_offset(f.log), bases[k]);
        if (round % 2) fx_reopen(&f);
        assert_int_equal(weir_log_end_offset(f.log), bases[k]);
        assert_true(weir_log_segment_count(f.log) <= segs);
        /* Epochs: batch i has epoch i / 10; the cache ends at k's batch. */
        int32_t want_latest = k == 0 ? WEIR_EPOCH_NONE : (k - 1) / 10;
        assert_int_equal(weir_log_latest_epoch(f.log), want_latest);
        if (k > 0) expect_epoch(f.log, want_latest, want_latest, bases[k]);
        /* Producer 5's last batch is k-1: its retry is a duplicate, k's is not. */
        if (k > 0) {
            struct weir_log_view v;
            assert_int_equal(weir_log_read(f.log, bases[k - 1], 1, true, &v), WEIR_OK);
            assert_int_equal(v.offset_next, bases[k]);
            weir_log_view_release(f.log, &v);
        }
        /* Refill k.. with the same batches (the follower catching up again). */
        for (int i = k; i < N; i++) {
            size_t len;
            uint8_t *b = mk(1 + i % 3, 5, 0, seq[i], bases[i], i / 10, (uint64_t)i, &len);
            assert_int_equal(replica_sync(f.ap, f.log, b, len), WEIR_OK);
            weir_free(b);
        }
        assert_int_equal(weir_log_end_offset(f.log), bases[N]);
    }
    /* After a truncation the producer's truncated batch goes in again, not as a duplicate. */
    assert_int_equal(weir_log_truncate(f.log, bases[N - 1]), WEIR_OK);
    assert_int_equal(weir_log_set_leader_epoch(f.log, 20), WEIR_OK);
    size_t len;
    uint8_t *b = mk(1 + (N - 1) % 3, 5, 0, seq[N - 1], 0, -1, N - 1, &len);
    int64_t base;
    assert_int_equal(tu_append_sync(f.ap, f.log, b, len, &base), WEIR_OK);
    assert_int_equal(base, bases[N - 1]);
    weir_free(b);
    b = mk(1 + (N - 2) % 3, 5, 0, seq[N - 2], 0, -1, N - 2, &len);
    assert_int_equal(client_sync(f.ap, f.log, b, len, &base), WEIR_E_DUPLICATE);
    assert_int_equal(base, bases[N - 2]);
    weir_free(b);
    fx_done(&f);
}

/* Truncating at the log end drops an epoch that starts there (this broker
 * led at it and appended nothing), as Kafka's truncateTo does: kept, the
 * follower's KIP-279 loop asks about it again and again (found by
 * tests/sim_repl.c, seed 9154). */
static void test_truncate_at_end_epoch(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "rtend", 1 << 20);
    replica_one(f.ap, f.log, 3, 2, 1);
    int64_t end = replica_one(f.ap, f.log, 2, 3, 2);
    assert_int_equal(weir_log_set_leader_epoch(f.log, 6), WEIR_OK); /* led at 6, appended nothing */
    assert_int_equal(weir_log_latest_epoch(f.log), 6);
    expect_epoch(f.log, 3, 3, end);
    assert_int_equal(weir_log_truncate(f.log, end + 5), WEIR_OK); /* above the end: the same */
    assert_int_equal(weir_log_end_offset(f.log), end);
    assert_int_equal(weir_log_latest_epoch(f.log), 3);
    expect_epoch(f.log, 6, -1, -1);
    fx_reopen(&f); /* durable */
    assert_int_equal(weir_log_latest_epoch(f.log), 3);
    assert_int_equal(weir_log_set_leader_epoch(f.log, 7), WEIR_OK);
    assert_int_equal(weir_log_truncate(f.log, end), WEIR_OK);
    assert_int_equal(weir_log_latest_epoch(f.log), 3);
    assert_int_equal(weir_log_end_offset(f.log), end);
    fx_done(&f);
}

/* weir_log_restart_at: above the end (a follower behind its leader's log
 * start) and below it; epochs and producer state go, the HW is the new start,
 * appends follow on from there, and a reopen keeps it. */
static void test_restart_at(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "rrestart", 700);
    for (int i = 0; i < 20; i++) {
        size_t len;
        int64_t base = weir_log_end_offset(f.log);
        uint8_t *b = mk(2, 7, 0, 2 * i, base, i / 5, (uint64_t)i, &len);
        assert_int_equal(replica_sync(f.ap, f.log, b, len), WEIR_OK);
        weir_free(b);
    }
    assert_int_equal(weir_log_end_offset(f.log), 40);
    assert_true(weir_log_segment_count(f.log) > 1);
    weir_log_set_hw_follows_end(f.log, false);
    assert_int_equal(weir_log_set_high_watermark(f.log, 30), WEIR_OK);
    assert_int_equal(weir_log_restart_at(f.log, -1), WEIR_E_INVALID);
    assert_int_equal(weir_log_restart_at(f.log, 1000), WEIR_OK);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(weir_log_start_offset(f.log), 1000);
        assert_int_equal(weir_log_end_offset(f.log), 1000);
        assert_int_equal(weir_log_segment_count(f.log), 1);
        assert_int_equal(weir_log_latest_epoch(f.log), WEIR_EPOCH_NONE);
        expect_epoch(f.log, 3, WEIR_EPOCH_NONE, -1);
        if (round == 0) {
            assert_int_equal(weir_log_high_watermark(f.log), 1000);
            fx_reopen(&f);
        }
    }
    struct weir_log_view v;
    assert_int_equal(weir_log_read(f.log, 40, 1, true, &v), WEIR_E_OFFSET_RANGE);
    /* The leader's batches from its start on. */
    size_t len;
    uint8_t *b = mk(2, 7, 0, 0, 1000, 6, 1, &len);
    assert_int_equal(replica_sync(f.ap, f.log, b, len), WEIR_OK);
    weir_free(b);
    assert_int_equal(weir_log_end_offset(f.log), 1002);
    assert_int_equal(weir_log_latest_epoch(f.log), 6);
    expect_epoch(f.log, 6, 6, 1002);
    assert_int_equal(weir_log_read(f.log, 1000, 1, true, &v), WEIR_OK);
    assert_int_equal(v.offset_first, 1000);
    assert_int_equal(v.offset_next, 1002);
    weir_log_view_release(f.log, &v);
    /* Below the start works too: empty again at 500. */
    assert_int_equal(weir_log_restart_at(f.log, 500), WEIR_OK);
    assert_int_equal(weir_log_start_offset(f.log), 500);
    assert_int_equal(weir_log_end_offset(f.log), 500);
    assert_int_equal(weir_log_latest_epoch(f.log), WEIR_EPOCH_NONE);
    fx_reopen(&f);
    assert_int_equal(weir_log_end_offset(f.log), 500);
    /* Producer 7's state went too: leading now, its batch at sequence 38 is
     * neither a duplicate nor out of sequence (it was at 0..1 before). */
    assert_int_equal(weir_log_set_leader_epoch(f.log, 9), WEIR_OK);
    b = mk(2, 7, 0, 38, 0, -1, 38, &len);
    int64_t base;
    assert_int_equal(client_sync(f.ap, f.log, b, len, &base), WEIR_OK);
    assert_int_equal(base, 500);
    weir_free(b);
    fx_done(&f);
}

/* A child truncates, appends a divergent history and dies by SIGKILL
 * without closing: reopened, the log holds the new history only. */
static void test_truncate_then_kill(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("rkill");
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 2048;
    enum { N = 40, K = 23 };
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct weir_appender *ap;
        struct weir_log *log;
        if (weir_appender_create(64, &ap) || weir_log_open(dir, &cfg, ap, NULL, &log)) _exit(2);
        int64_t base_k = -1;
        for (int i = 0; i < N; i++) {
            size_t len;
            if (i == K) base_k = weir_log_end_offset(log);
            uint8_t *b = mk(2, -1, -1, -1, weir_log_end_offset(log), 1, (uint64_t)i, &len);
            if (replica_sync(ap, log, b, len) != WEIR_OK) _exit(3);
            weir_free(b);
        }
        if (weir_log_truncate(log, base_k) != WEIR_OK) _exit(4);
        for (int i = 0; i < 5; i++) {
            size_t len;
            uint8_t *b = mk(3, -1, -1, -1, weir_log_end_offset(log), 2, (uint64_t)(1000 + i), &len);
            if (replica_sync(ap, log, b, len) != WEIR_OK) _exit(5);
            weir_free(b);
        }
        char c = 1;
        if (write(pipefd[1], &c, 1) != 1) _exit(6);
        for (;;) pause();
    }
    close(pipefd[1]);
    char c;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    struct weir_appender *ap;
    struct weir_log *log;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    int64_t base_k = 2 * K;
    assert_int_equal(weir_log_end_offset(log), base_k + 15);
    for (int64_t o = 0; o < weir_log_end_offset(log);) {
        struct weir_log_view v;
        assert_int_equal(weir_log_read(log, o, 1, true, &v), WEIR_OK);
        struct weir_batch_header h;
        assert_int_equal(weir_batch_header_decode(v.data, v.len, &h), WEIR_OK);
        assert_int_equal(h.leader_epoch, o < base_k ? 1 : 2);
        assert_int_equal(h.records_count, o < base_k ? 2 : 3);
        o = v.offset_next;
        weir_log_view_release(log, &v);
    }
    expect_epoch(log, 1, 1, base_k);
    expect_epoch(log, 2, 2, base_k + 15);
    weir_log_close(log);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

/* Every synchronous syscall of a truncation fails in turn: the log either
 * refuses (and goes read-only) or truncates; reopened without faults it is
 * the old log or the truncated one, never more than it acknowledged. */
static uint64_t io_calls, io_fail_nth;
static bool io_should_fail(void) { return ++io_calls == io_fail_nth; }
static int f_open(const char *p, int fl, mode_t m) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.open(p, fl, m); }
static int f_fdatasync(int fd) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.fdatasync(fd); }
static int f_fsync(int fd) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.fsync(fd); }
static int f_ftruncate(int fd, off_t l) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.ftruncate(fd, l); }
static int f_rename(const char *a, const char *b) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.rename(a, b); }
static int f_unlink(const char *p) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.unlink(p); }
static const struct weir_io_ops failing_io = {
    .open = f_open, .pwrite = pwrite, .pread = pread, .fdatasync = f_fdatasync, .fsync = f_fsync,
    .ftruncate = f_ftruncate, .fallocate = fallocate, .rename = f_rename, .unlink = f_unlink,
};

static void test_truncate_faults(void **state)
{
    (void)state;
    char *src = tu_tmpdir("rtf-src");
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 1024;
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log *log;
    assert_int_equal(weir_log_open(src, &cfg, ap, NULL, &log), WEIR_OK);
    int64_t cut = -1;
    for (int i = 0; i < 30; i++) {
        if (i == 11) cut = weir_log_end_offset(log);
        replica_one(ap, log, 2, i / 8, (uint64_t)i);
    }
    int64_t end0 = weir_log_end_offset(log);
    weir_log_close(log);
    uint64_t n;
    int truncated = 0, refused = 0;
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    for (n = 1; n < 500; n++) {
        char *dir = tu_tmpdir("rtf");
        char cmd[9000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", dir, src, dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
        io_calls = 0;
        io_fail_nth = n;
        weir_io = &failing_io;
        enum weir_err err = weir_log_truncate(log, cut);
        weir_io = &weir_io_posix;
        bool hit = io_calls >= n;
        if (err == WEIR_OK) {
            truncated++;
            assert_int_equal(weir_log_end_offset(log), cut);
        } else {
            refused++;
        }
        weir_log_close(log);
        assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
        int64_t end = weir_log_end_offset(log);
        assert_true(end == cut || (err != WEIR_OK && end == end0));
        /* What is there is whole, and the cache matches it. */
        for (int64_t o = 0; o < end;) {
            struct weir_log_view v;
            assert_int_equal(weir_log_read(log, o, 1, true, &v), WEIR_OK);
            size_t blen;
            assert_int_equal(weir_batch_validate(v.data, v.len, v.len, false, &blen), WEIR_OK);
            struct weir_batch_header h;
            assert_int_equal(weir_batch_header_decode(v.data, v.len, &h), WEIR_OK);
            assert_int_equal(h.leader_epoch, (int32_t)(o / 2) / 8);
            o = v.offset_next;
            weir_log_view_release(log, &v);
        }
        int32_t latest = (int32_t)((end - 2) / 2) / 8;
        assert_int_equal(weir_log_latest_epoch(log), latest);
        expect_epoch(log, latest, latest, end);
        weir_log_close(log);
        tu_rmrf(dir);
        weir_free(dir);
        if (!hit) break;
    }
    weir_log_set_level(WEIR_LOG_INFO);
    print_message("truncation with the nth syscall failing: %llu points, %d truncated, %d refused\n",
                  (unsigned long long)n, truncated, refused);
    assert_true(n > 3 && n < 500 && refused > 0 && truncated > 0);
    weir_appender_destroy(ap);
    tu_rmrf(src);
    weir_free(src);
}

/* ---- the high watermark -------------------------------------------------------------- */

static int advances, hw_moves;
static void on_advance(void *ctx, struct weir_log *log) { (void)ctx, (void)log, advances++; }
static void on_hw(void *ctx, struct weir_log *log) { (void)ctx, (void)log, hw_moves++; }

static void test_high_watermark(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "hw", 1024);
    advances = hw_moves = 0;
    weir_log_set_listener(f.log, on_advance, NULL);
    weir_log_set_hw_listener(f.log, on_hw, NULL);
    assert_true(weir_log_hw_follows_end(f.log));
    int64_t end = replica_one(f.ap, f.log, 3, 0, 1);
    assert_int_equal(weir_log_high_watermark(f.log), end);
    assert_int_equal(advances, 1);
    assert_int_equal(hw_moves, 1);
    assert_int_equal(weir_log_set_high_watermark(f.log, 1), WEIR_E_INVALID);
    weir_log_set_hw_follows_end(f.log, false);
    for (int i = 0; i < 40; i++) end = replica_one(f.ap, f.log, 3, 0, (uint64_t)i + 2);
    assert_int_equal(advances, 41);
    assert_int_equal(hw_moves, 1); /* the end moved, the HW did not */
    assert_int_equal(weir_log_high_watermark(f.log), 3);
    assert_int_equal(weir_log_set_high_watermark(f.log, 30), WEIR_OK);
    assert_int_equal(weir_log_high_watermark(f.log), 30);
    assert_int_equal(hw_moves, 2);
    assert_int_equal(weir_log_set_high_watermark(f.log, 12), WEIR_OK); /* never back */
    assert_int_equal(weir_log_high_watermark(f.log), 30);
    assert_int_equal(hw_moves, 2);
    /* Retention keeps every segment holding offsets at or above the HW. */
    unsigned deleted;
    assert_int_equal(weir_log_delete_below(f.log, end, &deleted), WEIR_OK);
    assert_true(weir_log_start_offset(f.log) <= 30);
    assert_true(weir_log_segment_count(f.log) > 1);
    assert_int_equal(weir_log_set_high_watermark(f.log, end + 100), WEIR_OK); /* clamped to the end */
    assert_int_equal(weir_log_high_watermark(f.log), end);
    assert_int_equal(hw_moves, 3);
    /* Truncation below the HW lowers it. */
    assert_int_equal(weir_log_truncate(f.log, 42), WEIR_OK);
    assert_int_equal(weir_log_high_watermark(f.log), 42);
    weir_log_set_hw_follows_end(f.log, true);
    end = replica_one(f.ap, f.log, 3, 0, 77);
    assert_int_equal(weir_log_high_watermark(f.log), end);
    fx_done(&f);
}

/* The store writes the HWs of logs that do not follow their end, Kafka's
 * replication-offset-checkpoint format, and gives them back at open. */
static void test_store_hw_checkpoint(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("hwstore");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    struct weir_store *st;
    assert_int_equal(weir_store_open(dir, &cfg, ap, &st), WEIR_OK);
    char why[128];
    assert_int_equal(weir_store_topic_create(st, "orders", 3, NULL, 0, why, sizeof why), WEIR_OK);
    struct weir_log *p1 = weir_store_log(st, "orders", 1);
    assert_int_equal(weir_store_checkpoint_hw(st), WEIR_OK);
    char *text = file_text(dir, "replication-offset-checkpoint");
    assert_string_equal(text, "0\n0\n");
    weir_free(text);
    weir_log_set_hw_follows_end(p1, false);
    for (int i = 0; i < 4; i++) replica_one(ap, p1, 5, 0, (uint64_t)i);
    assert_int_equal(weir_log_high_watermark(p1), 0);
    assert_int_equal(weir_log_set_high_watermark(p1, 7), WEIR_OK);
    assert_int_equal(weir_store_checkpoint_hw(st), WEIR_OK);
    text = file_text(dir, "replication-offset-checkpoint");
    assert_string_equal(text, "0\n1\norders 1 7\n");
    weir_free(text);
    weir_store_close(st);
    assert_int_equal(weir_store_open(dir, &cfg, ap, &st), WEIR_OK);
    p1 = weir_store_log(st, "orders", 1);
    assert_false(weir_log_hw_follows_end(p1));
    assert_int_equal(weir_log_high_watermark(p1), 7);
    assert_true(weir_log_hw_follows_end(weir_store_log(st, "orders", 0)));
    /* Deleting the topic forgets its HWs: made again, it follows its end. */
    assert_int_equal(weir_store_topic_delete(st, "orders"), WEIR_OK);
    text = file_text(dir, "replication-offset-checkpoint");
    assert_string_equal(text, "0\n0\n");
    weir_free(text);
    assert_int_equal(weir_store_topic_create(st, "orders", 3, NULL, 0, why, sizeof why), WEIR_OK);
    assert_true(weir_log_hw_follows_end(weir_store_log(st, "orders", 1)));
    weir_store_close(st);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamping),
        cmocka_unit_test(test_epoch_end_offset),
        cmocka_unit_test(test_epoch_file_repair),
        cmocka_unit_test(test_epoch_start_moves),
        cmocka_unit_test(test_replica_verbatim),
        cmocka_unit_test(test_replica_checks),
        cmocka_unit_test(test_truncate_boundaries),
        cmocka_unit_test(test_truncate_at_end_epoch),
        cmocka_unit_test(test_truncate_then_kill),
        cmocka_unit_test(test_restart_at),
        cmocka_unit_test(test_truncate_faults),
        cmocka_unit_test(test_high_watermark),
        cmocka_unit_test(test_store_hw_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
