/* tests/test_idempotence.c: idempotent produce in the engine (engine/producers.c).
 * Kafka's duplicate, gap and epoch rules (also against a small model over
 * random operations), retries of in-flight appends, failed appends leaving no
 * trace, and durability of the producer state: after a clean close, after an
 * unclean one (the files as a kill -9 leaves them), with missing or corrupt
 * snapshots, after truncation and retention, snapshot + tail replay equals a
 * full replay of the log. White box: reads the producer table directly. */
#include "testutil.h"

#include "engine/engine_int.h"
#include "proto/proto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t ts_base; /* record timestamps: now, so nothing expires by accident */

/* ---- batches and appends ------------------------------------------------------------ */

static uint8_t *idem_batch(int64_t pid, int16_t epoch, int32_t seq, int32_t count, int16_t attrs, size_t *len)
{
    size_t cap = WEIR_BATCH_HEADER_BYTES + (size_t)count * 64 + 64;
    uint8_t *buf = weir_malloc(cap);
    assert_non_null(buf);
    struct weir_batch_builder b;
    weir_batch_builder_init(&b, buf, cap, WEIR_CODEC_NONE);
    for (int32_t i = 0; i < count; i++) {
        char v[64];
        int n = snprintf(v, sizeof v, "p%lld e%d s%d", (long long)pid, epoch, i);
        assert_int_equal(weir_batch_builder_add(&b, ts_base + i, NULL, -1, v, n, NULL, 0), WEIR_OK);
    }
    assert_int_equal(weir_batch_builder_finish(&b, pid, epoch, seq, len), WEIR_OK);
    if (attrs) { /* attributes are under the CRC */
        weir_store_be16(buf + WEIR_BATCH_OFF_ATTRS, (uint16_t)(weir_load_be16(buf + WEIR_BATCH_OFF_ATTRS) | attrs));
        uint32_t crc = weir_crc32c(0, buf + WEIR_BATCH_OFF_ATTRS, *len - WEIR_BATCH_OFF_ATTRS);
        weir_store_be32(buf + WEIR_BATCH_OFF_CRC, crc);
    }
    return buf;
}

struct fx {
    char *dir;
    struct weir_appender *ap;
    struct weir_preparer *prep;
    struct weir_log *log;
    struct weir_log_config cfg;
};

static void fx_open_dir(struct fx *f, const char *dir)
{
    assert_int_equal(weir_log_open(dir, &f->cfg, f->ap, f->prep, &f->log), WEIR_OK);
}
static void fx_open(struct fx *f) { fx_open_dir(f, f->dir); }

static void fx_close(struct fx *f)
{
    weir_log_close(f->log);
    f->log = NULL;
}

static void fx_init(struct fx *f, const char *tag, uint64_t segment_bytes, bool prep)
{
    *f = (struct fx){ .dir = tu_tmpdir(tag) };
    weir_log_config_default(&f->cfg);
    f->cfg.segment_bytes = segment_bytes;
    f->cfg.segment_index_bytes = 4096;
    assert_int_equal(weir_appender_create(256, &f->ap), WEIR_OK);
    if (prep) assert_int_equal(weir_preparer_create(NULL, NULL, &f->prep), WEIR_OK);
    fx_open(f);
}

static void fx_done(struct fx *f)
{
    if (f->log) fx_close(f);
    weir_preparer_destroy(f->prep);
    weir_appender_destroy(f->ap);
    tu_rmrf(f->dir);
    weir_free(f->dir);
}

struct res {
    enum weir_err err;
    int64_t base;
    bool dup;
};

static void note_done(struct weir_append *a) { (*(int *)a->user)++; }

static struct res put_bytes(struct fx *f, uint8_t *b, size_t len)
{
    int done = 0;
    struct weir_append a = { .batch = b, .len = len, .on_done = note_done, .user = &done };
    enum weir_err err = weir_log_append(f->log, &a);
    if (err != WEIR_OK) return (struct res){ err, err == WEIR_E_DUPLICATE ? a.base_offset : -1, a.duplicate };
    for (int i = 0; !done && i < 1000000; i++) weir_appender_run(f->ap, true);
    assert_int_equal(done, 1);
    return (struct res){ a.err, a.base_offset, a.duplicate };
}

static struct res put(struct fx *f, int64_t pid, int16_t epoch, int32_t seq, int32_t count)
{
    size_t len;
    uint8_t *b = idem_batch(pid, epoch, seq, count, 0, &len);
    struct res r = put_bytes(f, b, len);
    weir_free(b);
    return r;
}

static void expect_ok(struct res r, int64_t base)
{
    assert_int_equal(r.err, WEIR_OK);
    assert_false(r.dup);
    if (base >= 0) assert_int_equal(r.base, base);
}

static void expect_dup(struct res r, int64_t base)
{
    assert_int_equal(r.err, WEIR_E_DUPLICATE);
    assert_true(r.dup);
    assert_int_equal(r.base, base);
}

/* ---- producer state comparisons ---------------------------------------------------- */

/* The state a replay of every batch of the log gives. */
static void full_replay(struct weir_log *log, struct prod_table *t)
{
    producers_init(t);
    int64_t o = weir_log_start_offset(log), end = weir_log_end_offset(log);
    while (o < end) {
        struct weir_log_view v;
        assert_int_equal(weir_log_read(log, o, 1 << 20, true, &v), WEIR_OK);
        assert_true(v.len > 0);
        for (size_t pos = 0; pos < v.len;) {
            struct weir_batch_header h;
            assert_int_equal(weir_batch_header_decode(v.data + pos, v.len - pos, &h), WEIR_OK);
            assert_int_equal(producers_replay(t, &h), WEIR_OK);
            pos += WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length;
        }
        o = v.offset_next;
        weir_log_view_release(log, &v);
    }
}

static void expect_state_equal(const struct prod_table *a, const struct prod_table *b)
{
    uint8_t *x, *y;
    size_t nx, ny;
    assert_int_equal(producers_serialize(a, 0, &x, &nx), WEIR_OK);
    assert_int_equal(producers_serialize(b, 0, &y, &ny), WEIR_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    weir_free(x);
    weir_free(y);
}

static void expect_full_replay(struct weir_log *log)
{
    assert_true(producers_valid(&log->producers));
    struct prod_table t;
    full_replay(log, &t);
    expect_state_equal(&log->producers, &t);
    producers_free(&t);
}

/* A copy of the committed state, to compare with later. */
static void state_save(const struct weir_log *log, uint8_t **buf, size_t *len)
{
    assert_int_equal(producers_serialize(&log->producers, 0, buf, len), WEIR_OK);
}

static void expect_state_is(const struct weir_log *log, const uint8_t *buf, size_t len)
{
    uint8_t *now;
    size_t n;
    state_save(log, &now, &n);
    assert_int_equal(n, len);
    assert_memory_equal(now, buf, len);
    weir_free(now);
}

/* ---- files ---------------------------------------------------------------------------- */

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static bool snapshot_exists(const char *dir, int64_t offset)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%020lld.snapshot", dir, (long long)offset);
    return access(path, F_OK) == 0;
}

/* Offsets of the snapshot files in dir, ascending; returns how many. */
static int snapshots_list(const char *dir, int64_t *out, int max)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len != 29 || strcmp(e->d_name + 20, ".snapshot") != 0) continue;
        assert_true(n < max);
        int64_t v = strtoll(e->d_name, NULL, 10);
        int i = n++;
        for (; i > 0 && out[i - 1] > v; i--) out[i] = out[i - 1];
        out[i] = v;
    }
    closedir(d);
    return n;
}

/* The files of an open log as a kill -9 leaves them: page cache intact, no
 * clean-shutdown marker, no closing snapshot. */
static void copy_dir(const char *from, const char *to)
{
    assert_int_equal(mkdir(to, 0755), 0);
    DIR *d = opendir(from);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char src[4096], dst[4096];
        path_in(src, sizeof src, from, e->d_name);
        path_in(dst, sizeof dst, to, e->d_name);
        struct stat st;
        assert_int_equal(stat(src, &st), 0);
        if (!S_ISREG(st.st_mode)) continue;
        int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(in >= 0 && out >= 0);
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0) assert_int_equal(write(out, buf, (size_t)n), n);
        assert_int_equal(n, 0);
        close(in);
        close(out);
    }
    closedir(d);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* ---- the rules -------------------------------------------------------------------------- */

static void test_error_mapping(void **state)
{
    (void)state;
    assert_int_equal(weir_kerr_from_err(WEIR_E_DUPLICATE), 0);         /* NONE, with the original offset */
    assert_int_equal(weir_kerr_from_err(WEIR_E_OUT_OF_SEQUENCE), 45);  /* OUT_OF_ORDER_SEQUENCE_NUMBER */
    assert_int_equal(weir_kerr_from_err(WEIR_E_PRODUCER_EPOCH), 47);   /* INVALID_PRODUCER_EPOCH */
    assert_int_equal(weir_kerr_from_err(WEIR_E_TRANSACTIONAL), 48);    /* INVALID_TXN_STATE */
}

static void test_duplicates_of_last_five(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-dup", 1 << 20, false);
    int64_t base[6];
    for (int i = 0; i < 6; i++) {
        struct res r = put(&f, 7, 0, i * 3, 3);
        expect_ok(r, i * 3);
        base[i] = r.base;
    }
    int64_t end = weir_log_end_offset(f.log);
    for (int i = 1; i < 6; i++) expect_dup(put(&f, 7, 0, i * 3, 3), base[i]); /* each of the last 5 */
    assert_int_equal(put(&f, 7, 0, 0, 3).err, WEIR_E_OUT_OF_SEQUENCE);    /* the 6th-oldest: out of the cache */
    assert_int_equal(put(&f, 7, 0, 3, 2).err, WEIR_E_OUT_OF_SEQUENCE);    /* same first sequence, other last */
    assert_int_equal(put(&f, 7, 0, 4, 2).err, WEIR_E_OUT_OF_SEQUENCE);    /* inside a cached batch */
    assert_int_equal(weir_log_end_offset(f.log), end);                     /* nothing was appended */
    expect_ok(put(&f, 7, 0, 18, 1), end);
    expect_ok(put(&f, 8, 0, 18, 1), end + 1); /* another producer: its own sequences */
    expect_dup(put(&f, 7, 0, 18, 1), end);
    expect_full_replay(f.log);
    fx_done(&f);
}

static void test_gaps_leave_state_alone(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-gap", 1 << 20, false);
    expect_ok(put(&f, 1, 0, 0, 5), 0);
    assert_int_equal(put(&f, 1, 0, 6, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    assert_int_equal(put(&f, 1, 0, 1000, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    assert_int_equal(put(&f, 1, 0, INT32_MAX, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    expect_ok(put(&f, 1, 0, 5, 2), 5); /* the refused batches left no trace */
    expect_ok(put(&f, 1, 0, 7, 1), 7);
    assert_int_equal(weir_log_end_offset(f.log), 8);
    fx_done(&f);
}

static void test_epoch_fencing_and_bump(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-epoch", 1 << 20, false);
    expect_ok(put(&f, 3, 4, 0, 2), 0);
    expect_ok(put(&f, 3, 4, 2, 2), 2);
    assert_int_equal(put(&f, 3, 3, 4, 1).err, WEIR_E_PRODUCER_EPOCH); /* older epoch */
    assert_int_equal(put(&f, 3, 3, 0, 2).err, WEIR_E_PRODUCER_EPOCH); /* an old batch under an older epoch */
    assert_int_equal(put(&f, 3, 5, 4, 1).err, WEIR_E_OUT_OF_SEQUENCE); /* a bump must start at 0 */
    expect_ok(put(&f, 3, 5, 0, 3), 4);                                  /* bump */
    assert_int_equal(put(&f, 3, 4, 0, 2).err, WEIR_E_PRODUCER_EPOCH);  /* old epoch's batch: fenced, not a duplicate */
    assert_int_equal(put(&f, 3, 4, 4, 1).err, WEIR_E_PRODUCER_EPOCH);
    expect_dup(put(&f, 3, 5, 0, 3), 4);
    expect_ok(put(&f, 3, 5, 3, 1), 7);
    expect_ok(put(&f, 3, 9, 0, 1), 8); /* any higher epoch, from 0 */
    expect_full_replay(f.log);
    fx_done(&f);
}

/* Kafka (ProducerAppendInfo.checkSequence, since 2.5 / KIP-360) accepts any
 * first sequence from a producer id the partition has no state for. */
static void test_unknown_producer_any_sequence(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-unknown", 1 << 20, false);
    expect_ok(put(&f, 11, 2, 42, 3), 0);
    assert_int_equal(put(&f, 11, 2, 46, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    expect_ok(put(&f, 11, 2, 45, 1), 3);
    expect_ok(put(&f, 12, 0, 0, 1), 4);
    fx_done(&f);
}

static void test_sequence_wrap(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-wrap", 1 << 20, false);
    expect_ok(put(&f, 5, 0, INT32_MAX - 2, 5), 0); /* INT32_MAX-2 .. 1 */
    expect_dup(put(&f, 5, 0, INT32_MAX - 2, 5), 0);
    assert_int_equal(put(&f, 5, 0, 3, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    expect_ok(put(&f, 5, 0, 2, 1), 5);
    expect_ok(put(&f, 6, 0, INT32_MAX - 1, 2), 6); /* ends exactly at INT32_MAX */
    assert_int_equal(put(&f, 6, 0, INT32_MAX, 1).err, WEIR_E_OUT_OF_SEQUENCE);
    expect_ok(put(&f, 6, 0, 0, 1), 8);
    expect_full_replay(f.log);
    fx_close(&f);
    fx_open(&f);
    expect_dup(put(&f, 5, 0, INT32_MAX - 2, 5), 0);
    expect_ok(put(&f, 6, 0, 1, 1), 9);
    fx_done(&f);
}

static void test_transactional_refused(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-txn", 1 << 20, false);
    size_t len;
    uint8_t *b = idem_batch(9, 0, 0, 2, WEIR_ATTR_TRANSACTIONAL, &len);
    assert_int_equal(put_bytes(&f, b, len).err, WEIR_E_TRANSACTIONAL);
    weir_free(b);
    b = idem_batch(-1, -1, -1, 2, WEIR_ATTR_TRANSACTIONAL, &len);
    assert_int_equal(put_bytes(&f, b, len).err, WEIR_E_TRANSACTIONAL);
    weir_free(b);
    assert_int_equal(weir_log_end_offset(f.log), 0);
    expect_ok(put(&f, 9, 0, 0, 2), 0);
    fx_done(&f);
}

/* ---- in flight ------------------------------------------------------------------------- */

struct slot {
    struct weir_append a;
    uint8_t *b;
    int done;
};

static void slot_done(struct weir_append *a) { weir_container_of(a, struct slot, a)->done++; }

static enum weir_err slot_append(struct fx *f, struct slot *s, int64_t pid, int16_t epoch, int32_t seq, int32_t count)
{
    size_t len;
    *s = (struct slot){ .b = idem_batch(pid, epoch, seq, count, 0, &len) };
    s->a = (struct weir_append){ .batch = s->b, .len = len, .on_done = slot_done };
    return weir_log_append(f->log, &s->a);
}

static void test_retry_of_in_flight_append(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-inflight", 1 << 20, false);
    expect_ok(put(&f, 1, 0, 0, 3), 0);
    struct slot s[6];
    assert_int_equal(slot_append(&f, &s[0], 1, 0, 3, 3), WEIR_OK);
    assert_int_equal(slot_append(&f, &s[1], 1, 0, 6, 3), WEIR_OK);
    assert_int_equal(slot_append(&f, &s[2], 1, 0, 3, 3), WEIR_OK); /* retry of s[0]: waits for it */
    assert_int_equal(slot_append(&f, &s[3], 1, 0, 10, 1), WEIR_E_OUT_OF_SEQUENCE); /* in-flight batches count */
    assert_int_equal(slot_append(&f, &s[4], 1, 0, 9, 1), WEIR_OK);
    assert_int_equal(slot_append(&f, &s[5], 1, 0, 0, 3), WEIR_E_DUPLICATE);
    assert_int_equal(s[5].a.base_offset, 0);
    assert_true(producers_valid(&f.log->producers));
    weir_appender_drain(f.ap);
    assert_int_equal(s[0].done + s[1].done + s[2].done + s[4].done, 4);
    assert_int_equal(s[0].a.base_offset, 3);
    assert_int_equal(s[1].a.base_offset, 6);
    assert_int_equal(s[4].a.base_offset, 9);
    assert_int_equal(s[2].a.err, WEIR_OK);
    assert_int_equal(s[2].a.base_offset, 3);
    assert_true(s[2].a.duplicate);
    assert_false(s[0].a.duplicate);
    assert_int_equal(weir_log_end_offset(f.log), 10);
    expect_dup(put(&f, 1, 0, 6, 3), 6);
    for (int i = 0; i < 6; i++) weir_free(s[i].b);
    expect_full_replay(f.log);
    fx_done(&f);
}

/* White box: an admitted append that fails (here with an I/O error, whose
 * followers fail when the log does) is dropped from the effective view: never
 * answered as a duplicate; the retries waiting on it get its error. */
static void test_failed_append_is_forgotten(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-fail", 1 << 20, false);
    expect_ok(put(&f, 7, 0, 0, 2), 0);
    uint8_t *before;
    size_t before_len;
    state_save(f.log, &before, &before_len);
    struct prod_table *t = &f.log->producers;
    struct slot s[4], retry;
    bool queue;
    struct weir_batch_header h;
    /* Admit (without queueing) seq 2-3 and 4-5; a retry of the first waits on it. */
    for (int i = 0; i < 2; i++) {
        size_t len;
        s[i] = (struct slot){ .b = idem_batch(7, 0, 2 + 2 * i, 2, 0, &len) };
        s[i].a = (struct weir_append){ .batch = s[i].b, .len = len, .on_done = slot_done };
        assert_int_equal(weir_batch_header_decode(s[i].b, len, &h), WEIR_OK);
        s[i].a.records = h.last_offset_delta + 1; /* as weir_log_append fills them */
        s[i].a.max_timestamp = h.max_timestamp;
        assert_int_equal(producers_append(f.log, &s[i].a, &h, &queue), WEIR_OK);
        assert_true(queue);
    }
    assert_int_equal(slot_append(&f, &retry, 7, 0, 2, 2), WEIR_OK); /* chained to s[0] */
    assert_true(producers_valid(t));
    s[0].a.err = WEIR_E_IO;
    producers_done(f.log, &s[0].a);
    assert_int_equal(retry.done, 1);
    assert_int_equal(retry.a.err, WEIR_E_IO); /* answered with its original */
    assert_true(producers_valid(t));
    assert_int_equal(slot_append(&f, &s[2], 7, 0, 2, 2), WEIR_E_OUT_OF_SEQUENCE); /* s[1] still in flight */
    s[1].a.err = WEIR_E_IO;
    producers_done(f.log, &s[1].a);
    expect_state_is(f.log, before, before_len);
    expect_ok(put(&f, 7, 0, 2, 2), 2); /* now the retry is appended */
    /* A failed epoch bump restores the old epoch. */
    assert_int_equal(slot_append(&f, &s[3], 7, 1, 0, 1), WEIR_OK);
    assert_int_equal(put(&f, 7, 0, 4, 1).err, WEIR_E_PRODUCER_EPOCH);
    weir_appender_fault_set(f.ap, &(struct weir_appender_fault){ .write_nth = 1, .write_res = -EIO });
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    weir_appender_drain(f.ap);
    weir_log_set_level(WEIR_LOG_INFO);
    assert_int_equal(s[3].a.err, WEIR_E_IO);
    assert_int_equal(weir_log_state(f.log), WEIR_E_IO);
    assert_true(producers_valid(t));
    assert_int_equal(t->count, 1);
    struct prod_entry *e = t->lru_head;
    assert_int_equal(e->epoch_eff, 0);
    assert_int_equal(e->ring_eff[e->n_eff - 1].last_seq, 3);
    /* A new producer whose only append fails leaves no entry. */
    size_t len;
    struct slot lone = { .b = idem_batch(99, 0, 5, 1, 0, &len) };
    lone.a = (struct weir_append){ .batch = lone.b, .len = len, .on_done = slot_done };
    assert_int_equal(weir_batch_header_decode(lone.b, len, &h), WEIR_OK);
    lone.a.records = h.last_offset_delta + 1;
    lone.a.max_timestamp = h.max_timestamp;
    assert_int_equal(producers_append(f.log, &lone.a, &h, &queue), WEIR_OK);
    assert_int_equal(t->count, 2);
    lone.a.err = WEIR_E_FAILED;
    producers_done(f.log, &lone.a);
    assert_int_equal(t->count, 1);
    assert_true(producers_valid(t));
    weir_free(lone.b);
    for (int i = 0; i < 4; i++) weir_free(s[i].b);
    weir_free(retry.b);
    weir_free(before);
    weir_appender_fault_set(f.ap, &(struct weir_appender_fault){ 0 });
    fx_done(&f);
}

/* A batch too large for the fresh segment it rolled to fails while the log goes
 * on (max.message.bytes grew after the spare segment was made): the producer's
 * later in-flight appends fail as a gap, as Kafka would have refused them, so
 * the retry is in sequence. */
static void test_failed_append_fails_followers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-large", 4096, true);
    struct weir_disk_policy hot; /* every step is the largest: the log gets spares */
    weir_disk_policy_default(&hot);
    hot.prealloc_max_bytes = WEIR_PREALLOC_STEP_MIN_BYTES;
    weir_preparer_set_policy(f.prep, &hot);
    f.cfg.max_message_bytes = 1024;
    assert_int_equal(weir_log_reconfigure(f.log, &f.cfg), WEIR_OK);
    expect_ok(put(&f, 4, 0, 0, 2), 0);
    assert_int_equal(weir_log_roll(f.log), WEIR_OK);
    int32_t seq = 2;
    for (int i = 0; log_active(f.log)->size <= 2048; i++, seq += 40) { /* past half: a spare is asked */
        assert_true(i < 100);
        expect_ok(put(&f, 4, 0, seq, 40), seq);
    }
    weir_preparer_sync(f.prep); /* the spare is mapped for 4 KiB + 1 KiB */
    f.cfg.max_message_bytes = 64 << 10;
    assert_int_equal(weir_log_reconfigure(f.log, &f.cfg), WEIR_OK);
    struct slot big, next, retry;
    size_t len;
    big = (struct slot){ .b = idem_batch(4, 0, seq, 1200, 0, &len) };
    assert_true(len > 16384);
    big.a = (struct weir_append){ .batch = big.b, .len = len, .on_done = slot_done };
    assert_int_equal(weir_log_append(f.log, &big.a), WEIR_OK);
    assert_int_equal(slot_append(&f, &next, 4, 0, seq + 1200, 1), WEIR_OK);
    assert_int_equal(slot_append(&f, &retry, 4, 0, seq + 1200, 1), WEIR_OK); /* waits on `next` */
    weir_appender_drain(f.ap);
    assert_int_equal(big.a.err, WEIR_E_TOO_LARGE);
    assert_int_equal(next.a.err, WEIR_E_OUT_OF_SEQUENCE);
    assert_int_equal(retry.a.err, WEIR_E_OUT_OF_SEQUENCE);
    assert_int_equal(big.done + next.done + retry.done, 3);
    assert_int_equal(weir_log_state(f.log), WEIR_OK);
    assert_true(producers_valid(&f.log->producers));
    expect_ok(put(&f, 4, 0, seq, 3), seq); /* the producer resends from its failed batch */
    expect_ok(put(&f, 4, 0, seq + 3, 1), seq + 3);
    expect_full_replay(f.log);
    weir_free(big.b);
    weir_free(next.b);
    weir_free(retry.b);
    fx_done(&f);
}

/* ---- random operations against a model ----------------------------------------------------- */

enum { MODEL_PIDS = 6, HISTORY = 8 };
static int outcomes[1 - WEIR_E_LAST]; /* by -err */

struct mbatch {
    int16_t epoch;
    int32_t first, count;
    int64_t base;
};

struct mprod {
    bool known;
    int16_t epoch;
    int n;
    struct mbatch last[WEIR_PRODUCER_BATCHES]; /* oldest first */
    int16_t client_epoch;                      /* what the simulated client sends */
    int32_t client_seq;
    struct mbatch sent[HISTORY];               /* recent batches sent, for retries */
    int n_sent;
};

static int32_t mseq_last(int32_t first, int32_t count)
{
    int64_t last = (int64_t)first + count - 1;
    return last > INT32_MAX ? (int32_t)(last - INT32_MAX - 1) : (int32_t)last;
}

/* Kafka's rules, spelled out on the model. */
static enum weir_err model_expect(const struct mprod *p, const struct mbatch *b, int64_t *dup_base)
{
    if (!p->known) return WEIR_OK;
    for (int i = 0; b->epoch == p->epoch && i < p->n; i++)
        if (p->last[i].first == b->first &&
            mseq_last(p->last[i].first, p->last[i].count) == mseq_last(b->first, b->count)) {
            *dup_base = p->last[i].base;
            return WEIR_E_DUPLICATE;
        }
    if (b->epoch < p->epoch) return WEIR_E_PRODUCER_EPOCH;
    if (b->epoch > p->epoch) return b->first == 0 ? WEIR_OK : WEIR_E_OUT_OF_SEQUENCE;
    int32_t last = p->n ? mseq_last(p->last[p->n - 1].first, p->last[p->n - 1].count) : -1;
    bool follows = (int64_t)b->first == (int64_t)last + 1 || (last == INT32_MAX && b->first == 0);
    return follows ? WEIR_OK : WEIR_E_OUT_OF_SEQUENCE;
}

static void model_commit(struct mprod *p, const struct mbatch *b)
{
    if (!p->known || p->epoch != b->epoch) p->n = 0;
    p->known = true;
    p->epoch = b->epoch;
    if (p->n == WEIR_PRODUCER_BATCHES) memmove(p->last, p->last + 1, (WEIR_PRODUCER_BATCHES - 1) * sizeof *p->last);
    else p->n++;
    p->last[p->n - 1] = *b;
}

/* One random operation: a next batch, a retry, a gap, an epoch bump (good or
 * bad), an old epoch, or a wrap-around. Checks the engine against the model. */
static void random_op(struct fx *f, struct mprod *ps, uint64_t *seed)
{
    int pid = (int)(tu_rand(seed) % MODEL_PIDS);
    struct mprod *p = &ps[pid];
    struct mbatch b = { .epoch = p->client_epoch, .first = p->client_seq, .count = 1 + (int32_t)(tu_rand(seed) % 4) };
    unsigned kind = (unsigned)(tu_rand(seed) % 100);
    if (!p->known && kind % 2) {
        b.first = INT32_MAX - (int32_t)(tu_rand(seed) % 6); /* a first batch near the wrap */
    } else if (kind < 25 && p->n_sent > 0) {
        b = p->sent[tu_rand(seed) % (uint64_t)p->n_sent]; /* retry */
    } else if (kind < 32) {
        int64_t gap = (int64_t)b.first + 2 + (int64_t)(tu_rand(seed) % 5);
        b.first = (int32_t)(gap % ((int64_t)INT32_MAX + 1));
    } else if (kind < 37) {
        b.epoch = (int16_t)(b.epoch + 1); /* a bump, good at 0, bad otherwise */
        b.first = (int32_t)(tu_rand(seed) % 3);
    } else if (kind < 40 && b.epoch > 0) {
        b.epoch = (int16_t)(b.epoch - 1); /* fenced */
    } else if (kind < 42) {
        b.first = INT32_MAX - (int32_t)(tu_rand(seed) % 3);
    }
    int64_t dup_base = -1;
    enum weir_err want = model_expect(p, &b, &dup_base);
    struct res r = put(f, pid, b.epoch, b.first, b.count);
    if (r.err != want)
        print_message("pid %d epoch %d first %d count %d: got %s, model %s (known %d epoch %d n %d last %d)\n", pid,
                      b.epoch, b.first, b.count, weir_err_str(r.err), weir_err_str(want), p->known, p->epoch, p->n,
                      p->n ? mseq_last(p->last[p->n - 1].first, p->last[p->n - 1].count) : -1);
    assert_int_equal(r.err, want);
    outcomes[-r.err]++;
    if (want == WEIR_E_DUPLICATE) assert_int_equal(r.base, dup_base);
    if (want != WEIR_OK) return;
    b.base = r.base;
    model_commit(p, &b);
    p->client_epoch = b.epoch;
    p->client_seq = (int32_t)((uint32_t)mseq_last(b.first, b.count) + 1) & INT32_MAX;
    if (p->n_sent == HISTORY) memmove(p->sent, p->sent + 1, (HISTORY - 1) * sizeof *p->sent);
    else p->n_sent++;
    p->sent[p->n_sent - 1] = b;
}

static void test_random_ops_match_model(void **state)
{
    (void)state;
    memset(outcomes, 0, sizeof outcomes);
    for (uint64_t round = 0; round < 4; round++) {
        struct fx f;
        fx_init(&f, "idem-model", 4096, round % 2 == 1); /* small segments: many rolls and snapshots */
        struct mprod ps[MODEL_PIDS] = { 0 };
        uint64_t seed = 0x1234 + round * 7919;
        for (int i = 0; i < 1500; i++) {
            random_op(&f, ps, &seed);
            if (i % 500 == 499) { /* reopen in between: the checks go on from disk */
                fx_close(&f);
                fx_open(&f);
            }
        }
        expect_full_replay(f.log);
        fx_done(&f);
    }
    print_message("outcomes: %d appended, %d duplicates, %d gaps, %d fenced\n", outcomes[0],
                  outcomes[-WEIR_E_DUPLICATE], outcomes[-WEIR_E_OUT_OF_SEQUENCE], outcomes[-WEIR_E_PRODUCER_EPOCH]);
    for (int e = 0; e <= -WEIR_E_PRODUCER_EPOCH; e++)
        if (e == 0 || e == -WEIR_E_DUPLICATE || e == -WEIR_E_OUT_OF_SEQUENCE || e == -WEIR_E_PRODUCER_EPOCH)
            assert_true(outcomes[e] > 20);
}

/* ---- durability ------------------------------------------------------------------------------ */

static void random_log(struct fx *f, struct mprod *ps, uint64_t seed, int ops)
{
    for (int i = 0; i < ops; i++) random_op(f, ps, &seed);
}

static void reopen_expect(struct fx *f, const char *dir, const uint8_t *want, size_t want_len, int64_t snap_want)
{
    fx_open_dir(f, dir);
    struct weir_log_stats st;
    weir_log_stats(f->log, &st);
    if (snap_want != -2) assert_int_equal(st.producer_snapshot, snap_want);
    if (want) expect_state_is(f->log, want, want_len);
    expect_full_replay(f->log);
}

static void test_rebuild_after_clean_close(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-clean", 4096, true);
    struct mprod ps[MODEL_PIDS] = { 0 };
    random_log(&f, ps, 99, 600);
    int64_t end = weir_log_end_offset(f.log);
    uint8_t *want;
    size_t want_len;
    state_save(f.log, &want, &want_len);
    fx_close(&f);
    assert_true(snapshot_exists(f.dir, end));
    reopen_expect(&f, f.dir, want, want_len, end);
    struct weir_log_stats st;
    weir_log_stats(f.log, &st);
    assert_int_equal(st.producer_batches_replayed, 0); /* the snapshot at the end: no scan at all */
    /* Every producer's last batch is still a duplicate. */
    for (int p = 0; p < MODEL_PIDS; p++)
        if (ps[p].known) {
            const struct mbatch *b = &ps[p].last[ps[p].n - 1];
            expect_dup(put(&f, p, b->epoch, b->first, b->count), b->base);
        }
    weir_free(want);
    fx_done(&f);
}

static void test_rebuild_after_unclean_close(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-unclean", 4096, true);
    struct mprod ps[MODEL_PIDS] = { 0 };
    random_log(&f, ps, 4242, 600);
    weir_preparer_sync(f.prep); /* roll snapshots are written */
    uint8_t *want;
    size_t want_len;
    state_save(f.log, &want, &want_len);
    int64_t active_base = log_active(f.log)->base_offset, end = weir_log_end_offset(f.log);
    assert_true(active_base > 0 && active_base < end);
    char crash[4096];
    snprintf(crash, sizeof crash, "%s/crash", f.dir);
    copy_dir(f.dir, crash);
    struct weir_log *live = f.log;
    reopen_expect(&f, crash, want, want_len, active_base); /* newest snapshot: the last roll */
    struct weir_log_stats st;
    weir_log_stats(f.log, &st);
    assert_true(st.producer_batches_replayed > 0);
    for (int p = 0; p < MODEL_PIDS; p++)
        if (ps[p].known) {
            const struct mbatch *b = &ps[p].last[ps[p].n - 1];
            expect_dup(put(&f, p, b->epoch, b->first, b->count), b->base);
        }
    fx_close(&f);
    f.log = live;
    weir_free(want);
    fx_done(&f);
}

/* Snapshot + tail replay equals a full replay, whichever snapshots survive:
 * random logs, then random snapshot files deleted or corrupted. */
static void test_snapshot_plus_tail_equals_full_scan(void **state)
{
    (void)state;
    uint64_t seed = 2024;
    for (int round = 0; round < 12; round++) {
        struct fx f;
        fx_init(&f, "idem-brute", 2048 + 1024 * (uint64_t)(round % 4), round % 3 == 0);
        struct mprod ps[MODEL_PIDS] = { 0 };
        random_log(&f, ps, tu_rand(&seed), 200 + (int)(tu_rand(&seed) % 400));
        if (f.prep) weir_preparer_sync(f.prep);
        uint8_t *want;
        size_t want_len;
        state_save(f.log, &want, &want_len);
        expect_full_replay(f.log);
        char crash[4096];
        snprintf(crash, sizeof crash, "%s/crash", f.dir);
        copy_dir(f.dir, crash);
        int64_t snaps[4096];
        int n = snapshots_list(crash, snaps, 4096);
        assert_true(n >= 1);
        unsigned what = (unsigned)(tu_rand(&seed) % 4);
        for (int i = 0; i < n; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%020lld.snapshot", crash, (long long)snaps[i]);
            bool hit = tu_rand(&seed) % 2 == 0 || i == n - 1;
            if (what == 1 && hit) assert_int_equal(unlink(path), 0);               /* lost */
            if (what == 2 && hit) flip_byte(path, (off_t)(tu_rand(&seed) % (uint64_t)tu_file_size(path)));
            if (what == 3) assert_int_equal(unlink(path), 0);                      /* none: full scan */
        }
        struct weir_log *live = f.log;
        weir_log_set_level(WEIR_LOG_ERROR);
        reopen_expect(&f, crash, want, want_len, what == 3 ? -1 : -2);
        weir_log_set_level(WEIR_LOG_INFO);
        fx_close(&f);
        f.log = live;
        weir_free(want);
        fx_done(&f);
    }
}

static void test_truncate_reloads_state(void **state)
{
    (void)state;
    uint64_t seed = 31337;
    for (int round = 0; round < 4; round++) {
        struct fx f;
        fx_init(&f, "idem-trunc", 4096, round % 2 == 0);
        struct mprod ps[MODEL_PIDS] = { 0 };
        random_log(&f, ps, tu_rand(&seed), 500);
        for (int cut = 0; cut < 4; cut++) {
            int64_t end = weir_log_end_offset(f.log);
            int64_t to = (int64_t)(tu_rand(&seed) % (uint64_t)(end + 1));
            if (to < end) { /* truncation is to a batch boundary: the start of the batch holding `to` */
                struct weir_log_view v;
                assert_int_equal(weir_log_read(f.log, to, 1, true, &v), WEIR_OK);
                to = v.offset_first;
                weir_log_view_release(f.log, &v);
            }
            assert_int_equal(weir_log_truncate(f.log, to), WEIR_OK);
            int64_t new_end = weir_log_end_offset(f.log);
            assert_true(new_end <= to);
            expect_full_replay(f.log);
            int64_t snaps[4096];
            int n = snapshots_list(f.dir, snaps, 4096);
            for (int i = 0; i < n; i++) assert_true(snaps[i] <= new_end);
            /* Producers go on from the truncated state (the client model is stale: rebuild it). */
            struct prod_table t;
            full_replay(f.log, &t);
            for (int p = 0; p < MODEL_PIDS; p++) {
                struct prod_entry *e = NULL;
                for (struct prod_entry *x = t.lru_head; x; x = x->lru_next)
                    if (x->pid == p) e = x;
                ps[p] = (struct mprod){ 0 };
                if (!e) continue;
                ps[p].known = true;
                ps[p].epoch = ps[p].client_epoch = e->epoch;
                ps[p].n = e->n;
                for (int i = 0; i < e->n; i++)
                    ps[p].last[i] = (struct mbatch){ e->epoch, e->ring[i].first_seq, e->ring[i].last_delta + 1,
                                                     e->ring[i].base_offset };
                ps[p].client_seq = (int32_t)((uint32_t)e->ring[e->n - 1].last_seq + 1) & INT32_MAX;
            }
            producers_free(&t);
            random_log(&f, ps, tu_rand(&seed), 100);
            expect_full_replay(f.log);
        }
        uint8_t *want;
        size_t want_len;
        state_save(f.log, &want, &want_len);
        fx_close(&f);
        reopen_expect(&f, f.dir, want, want_len, -2);
        weir_free(want);
        fx_done(&f);
    }
}

static void test_truncate_forgets_truncated_batches(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-trunc2", 1 << 20, false);
    expect_ok(put(&f, 1, 0, 0, 2), 0);
    expect_ok(put(&f, 1, 0, 2, 2), 2);
    expect_ok(put(&f, 1, 0, 4, 2), 4);
    assert_int_equal(weir_log_truncate(f.log, 2), WEIR_OK);
    expect_ok(put(&f, 1, 0, 2, 2), 2); /* the retry is appended again, not a duplicate */
    expect_dup(put(&f, 1, 0, 0, 2), 0);
    assert_int_equal(weir_log_truncate(f.log, 0), WEIR_OK);
    assert_int_equal(f.log->producers.count, 0);
    expect_ok(put(&f, 1, 0, 2, 2), 0); /* no state left: any sequence */
    fx_done(&f);
}

/* Retention deletes batches but not the producer state (Kafka); snapshots
 * below the log start go; idle producers expire. */
static void test_retention_keeps_state(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, "idem-retain", 2048, true);
    f.cfg.retention_bytes = 8192;
    assert_int_equal(weir_log_reconfigure(f.log, &f.cfg), WEIR_OK);
    expect_ok(put(&f, 1, 0, 0, 3), 0); /* producer 1 writes only at the start */
    for (int i = 0; i < 400; i++) {
        int32_t seq = i * 2;
        expect_ok(put(&f, 2, 0, seq, 2), -1);
    }
    weir_preparer_sync(f.prep);
    unsigned deleted = 0;
    uint8_t *want;
    size_t want_len;
    state_save(f.log, &want, &want_len);
    assert_int_equal(weir_log_retain(f.log, ts_base, &deleted), WEIR_OK);
    assert_true(deleted > 0);
    int64_t start = weir_log_start_offset(f.log);
    assert_true(start > 3);
    expect_state_is(f.log, want, want_len);
    int64_t snaps[4096];
    int n = snapshots_list(f.dir, snaps, 4096);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) assert_true(snaps[i] >= start);
    expect_dup(put(&f, 1, 0, 0, 3), 0); /* its batch is gone; its state is not */
    weir_free(want);
    state_save(f.log, &want, &want_len);
    /* After a restart, clean or not, the deleted batches' producers are still known. */
    char crash[4096];
    snprintf(crash, sizeof crash, "%s/crash", f.dir);
    copy_dir(f.dir, crash);
    struct weir_log *live = f.log;
    fx_open_dir(&f, crash);
    expect_state_is(f.log, want, want_len);
    fx_close(&f);
    f.log = live;
    fx_close(&f);
    fx_open(&f);
    expect_state_is(f.log, want, want_len);
    expect_dup(put(&f, 1, 0, 0, 3), 0);
    /* A day without appends: forgotten, and then any sequence is accepted. */
    assert_int_equal(weir_log_retain(f.log, ts_base + WEIR_PRODUCER_EXPIRATION_MS + 1000, NULL), WEIR_OK);
    assert_int_equal(f.log->producers.count, 0);
    expect_ok(put(&f, 1, 0, 77, 1), -1);
    weir_free(want);
    fx_done(&f);
}

/* ---- snapshots and the table ----------------------------------------------------------------- */

static void test_snapshot_corruption_detected(void **state)
{
    (void)state;
    struct prod_table t;
    producers_init(&t);
    for (int64_t pid = 0; pid < 20; pid++)
        for (int i = 0; i < (int)(pid % 7) + 1; i++) {
            struct weir_batch_header h = { .base_offset = pid * 100 + i * 3, .producer_id = pid, .producer_epoch = 1,
                                           .base_sequence = i * 3, .last_offset_delta = 2, .max_timestamp = i };
            assert_int_equal(producers_replay(&t, &h), WEIR_OK);
        }
    uint8_t *buf;
    size_t len;
    assert_int_equal(producers_serialize(&t, 5000, &buf, &len), WEIR_OK);
    struct prod_table u;
    producers_init(&u);
    assert_int_equal(producers_deserialize(&u, buf, len, 5000), WEIR_OK);
    expect_state_equal(&t, &u);
    assert_int_equal(producers_deserialize(&u, buf, len, 5001), WEIR_E_CORRUPT);  /* name and content differ */
    assert_int_equal(u.count, 0);
    for (size_t n = 0; n < len; n++) assert_int_equal(producers_deserialize(&u, buf, n, 5000), WEIR_E_CORRUPT);
    for (size_t at = 0; at < len; at++) {
        buf[at] ^= 0x24;
        assert_int_equal(producers_deserialize(&u, buf, len, 5000), WEIR_E_CORRUPT);
        buf[at] ^= 0x24;
    }
    /* Valid CRC, impossible content: batches at or past the snapshot offset. */
    weir_free(buf);
    assert_int_equal(producers_serialize(&t, 1900, &buf, &len), WEIR_OK);
    assert_int_equal(producers_deserialize(&u, buf, len, 1900), WEIR_E_CORRUPT);
    assert_int_equal(u.count, 0);
    producers_free(&t);
    producers_free(&u);
    weir_free(buf);
}

static void test_producer_cap_evicts_least_recent(void **state)
{
    (void)state;
    struct prod_table t;
    producers_init(&t);
    for (int64_t pid = 0; pid < WEIR_PRODUCERS_MAX + 10; pid++) {
        struct weir_batch_header h = { .base_offset = pid, .producer_id = pid, .base_sequence = 0 };
        assert_int_equal(producers_replay(&t, &h), WEIR_OK);
    }
    assert_int_equal(t.committed, WEIR_PRODUCERS_MAX);
    assert_int_equal(t.count, WEIR_PRODUCERS_MAX);
    assert_int_equal(t.evicted, 10);
    assert_int_equal(t.lru_head->pid, 10);
    assert_true(producers_valid(&t));
    producers_free(&t);
}

int main(void)
{
    ts_base = weir_time_ms();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_mapping),
        cmocka_unit_test(test_duplicates_of_last_five),
        cmocka_unit_test(test_gaps_leave_state_alone),
        cmocka_unit_test(test_epoch_fencing_and_bump),
        cmocka_unit_test(test_unknown_producer_any_sequence),
        cmocka_unit_test(test_sequence_wrap),
        cmocka_unit_test(test_transactional_refused),
        cmocka_unit_test(test_retry_of_in_flight_append),
        cmocka_unit_test(test_failed_append_is_forgotten),
        cmocka_unit_test(test_failed_append_fails_followers),
        cmocka_unit_test(test_random_ops_match_model),
        cmocka_unit_test(test_rebuild_after_clean_close),
        cmocka_unit_test(test_rebuild_after_unclean_close),
        cmocka_unit_test(test_snapshot_plus_tail_equals_full_scan),
        cmocka_unit_test(test_truncate_reloads_state),
        cmocka_unit_test(test_truncate_forgets_truncated_batches),
        cmocka_unit_test(test_retention_keeps_state),
        cmocka_unit_test(test_snapshot_corruption_detected),
        cmocka_unit_test(test_producer_cap_evicts_least_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
