/* tests/test_recovery.c: recovery after torn tails, corruption and kill -9,
 * and the sticky failure of a log after injected I/O errors. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Deterministic batch number i: 1..8 records, values derived from i. */
static uint8_t *batch_i(int i, size_t *len)
{
    return tu_batch(1 + i % 8, 20 + (size_t)(i * 7) % 90, 1000 + i, 1, i % 3 ? WEIR_CODEC_NONE : WEIR_CODEC_LZ4,
                    (uint64_t)i + 1, len);
}

/* Checks batch i is stored at base offset `base`, byte for byte but the offset. */
static void expect_batch_at(struct weir_log *log, int i, int64_t base)
{
    size_t len;
    uint8_t *b = batch_i(i, &len);
    weir_batch_set_base_offset(b, base);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(log, base, 1, true, &v), WEIR_OK);
    assert_int_equal(v.offset_first, base);
    assert_int_equal(v.len, len);
    assert_memory_equal(v.data, b, len);
    weir_log_view_release(log, &v);
    weir_free(b);
}

/* Every batch from start to end reads and validates, offsets contiguous. */
static void expect_log_whole(struct weir_log *log)
{
    int64_t o = weir_log_start_offset(log);
    while (o < weir_log_end_offset(log)) {
        struct weir_log_view v;
        assert_int_equal(weir_log_read(log, o, 1 << 20, true, &v), WEIR_OK);
        assert_int_equal(v.offset_first, o);
        size_t pos = 0;
        while (pos < v.len) {
            size_t blen;
            assert_int_equal(weir_batch_validate(v.data + pos, v.len - pos, v.len - pos, false, &blen), WEIR_OK);
            pos += blen;
        }
        o = v.offset_next;
        weir_log_view_release(log, &v);
    }
    assert_int_equal(o, weir_log_end_offset(log));
}

static void path_in(char *out, size_t cap, const char *dir, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static uint8_t *file_slurp(const char *path, size_t *len)
{
    char *buf;
    assert_int_equal(weir_read_file(path, 1 << 30, &buf, len), WEIR_OK);
    return (uint8_t *)buf;
}

static void file_put(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Opens the log in dir and appends batches 0..n-1, recording their offsets. */
static struct weir_log *log_with_batches(const char *dir, const struct weir_log_config *cfg, struct weir_appender *ap,
                                         int n, int64_t *base)
{
    struct weir_log *log;
    assert_int_equal(weir_log_open(dir, cfg, ap, NULL, &log), WEIR_OK);
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *b = batch_i(i, &len);
        assert_int_equal(tu_append_sync(ap, log, b, len, base ? &base[i] : NULL), WEIR_OK);
        weir_free(b);
    }
    return log;
}

/* A torn last batch, cut at every byte boundary: recovery keeps every earlier
 * batch and cuts exactly the torn bytes. */
static void test_torn_tail_every_byte(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("torn");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.index_interval_bytes = 256;
    enum { N = 40 };
    int64_t base[N];
    struct weir_log *log = log_with_batches(dir, &cfg, ap, N, base);
    uint64_t size = weir_log_size_bytes(log);
    weir_log_close(log);
    size_t last_len;
    uint8_t *last = batch_i(N - 1, &last_len);
    weir_free(last);
    char seg[4096], marker[4096];
    snprintf(seg, sizeof seg, "%s/%020d.log", dir, 0);
    path_in(marker, sizeof marker, dir, "clean-shutdown");
    size_t file_len;
    uint8_t *saved = file_slurp(seg, &file_len);
    assert_int_equal(file_len, size);
    uint64_t last_pos = size - last_len;
    for (size_t k = 0; k < last_len; k++) {
        file_put(seg, saved, last_pos + k);
        assert_int_equal(unlink(marker), 0);
        weir_log_set_level(WEIR_LOG_ERROR);
        assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
        weir_log_set_level(WEIR_LOG_INFO);
        struct weir_log_stats st;
        weir_log_stats(log, &st);
        assert_int_equal(weir_log_end_offset(log), base[N - 1]);
        assert_true(st.recovered_bytes_cut <= k);
        assert_int_equal(st.recovered_batches, N - 1);
        for (int i = 0; i < N - 1; i += 7) expect_batch_at(log, i, base[i]);
        expect_batch_at(log, N - 2, base[N - 2]);
        expect_log_whole(log);
        weir_log_close(log);
    }
    /* A flipped bit anywhere in the last batch: cut there too. */
    for (size_t k = 0; k < last_len; k += 5) {
        file_put(seg, saved, size);
        uint8_t *copy = weir_malloc(size);
        memcpy(copy, saved, size);
        copy[last_pos + k] ^= 0x10;
        file_put(seg, copy, size);
        weir_free(copy);
        assert_int_equal(unlink(marker), 0);
        weir_log_set_level(WEIR_LOG_ERROR);
        assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
        weir_log_set_level(WEIR_LOG_INFO);
        int64_t end = weir_log_end_offset(log);
        /* Bytes 0..11 and 12..15 are outside the CRC: a flip there may leave
         * a valid-looking batch only if the offset still continues. */
        assert_true(end == base[N - 1] || (k >= 12 && k < 16 && end == base[N - 1] + 1 + (N - 1) % 8));
        expect_log_whole(log);
        weir_log_close(log);
    }
    weir_free(saved);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

/* Corruption inside an early segment with no checkpoint: the log is cut
 * there and the unreachable later segments are deleted. */
static void test_corrupt_middle_segment(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("mid");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 2048;
    int64_t base[60];
    struct weir_log *log = log_with_batches(dir, &cfg, ap, 60, base);
    assert_true(weir_log_segment_count(log) >= 4);
    weir_log_close(log);
    char path[4096];
    path_in(path, sizeof path, dir, "clean-shutdown");
    unlink(path);
    path_in(path, sizeof path, dir, "recovery-checkpoint");
    unlink(path);
    /* Corrupt the last byte of segment 0's file: its last batch. */
    snprintf(path, sizeof path, "%s/%020d.log", dir, 0);
    size_t len;
    uint8_t *bytes = file_slurp(path, &len);
    bytes[len - 1] ^= 0xff;
    file_put(path, bytes, len);
    weir_free(bytes);
    weir_log_set_level(WEIR_LOG_ERROR);
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    weir_log_set_level(WEIR_LOG_INFO);
    assert_int_equal(weir_log_segment_count(log), 1);
    int64_t end = weir_log_end_offset(log);
    int cut = 0;
    while (cut < 60 && base[cut] < end) cut++;
    assert_true(cut > 0 && base[cut] == end);
    for (int i = 0; i < cut; i++) expect_batch_at(log, i, base[i]);
    expect_log_whole(log);
    /* Appends continue from the cut. */
    uint8_t *b = batch_i(cut, &len);
    int64_t at;
    assert_int_equal(tu_append_sync(ap, log, b, len, &at), WEIR_OK);
    assert_int_equal(at, end);
    weir_free(b);
    weir_log_close(log);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_clean_marker_skips_scan(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("clean");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    struct weir_log *log;
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    for (int i = 0; i < 50; i++) {
        size_t len;
        uint8_t *b = batch_i(i, &len);
        assert_int_equal(tu_append_sync(ap, log, b, len, NULL), WEIR_OK);
        weir_free(b);
    }
    weir_log_close(log);
    char marker[4096];
    path_in(marker, sizeof marker, dir, "clean-shutdown");
    assert_int_equal(access(marker, F_OK), 0);
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    assert_int_not_equal(access(marker, F_OK), 0); /* gone while open */
    struct weir_log_stats st;
    weir_log_stats(log, &st);
    assert_int_equal(st.recovered_batches, 0);
    weir_log_close(log);
    unlink(marker);
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    weir_log_stats(log, &st);
    assert_int_equal(st.recovered_batches, 50);
    assert_int_equal(st.recovered_bytes_cut, 0);
    weir_log_close(log);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    weir_free(dir);
}

/* ---- kill -9 ------------------------------------------------------------------ */

struct ack { int32_t i; int64_t base; };

struct child_slot {
    struct weir_append a;
    uint8_t *batch;
    int i;
    int ack_fd;
    bool busy;
};

static void child_done(struct weir_append *a)
{
    struct child_slot *s = weir_container_of(a, struct child_slot, a);
    s->busy = false;
    if (a->err != WEIR_OK) _exit(3);
    struct ack ack = { s->i, a->base_offset };
    if (write(s->ack_fd, &ack, sizeof ack) != sizeof ack) _exit(4);
    weir_free(s->batch);
}

/* Appends forever with 8 appends in flight, reporting each ack on ack_fd. */
static _Noreturn void child_append_forever(const char *dir, int64_t flush_messages, int ack_fd)
{
    struct weir_appender *ap;
    struct weir_preparer *prep;
    struct weir_log *log;
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 64 << 10; /* rolls during the run */
    cfg.flush_messages = flush_messages;
    if (weir_appender_create(64, &ap) || weir_preparer_create(NULL, NULL, &prep) || weir_log_open(dir, &cfg, ap, prep, &log))
        _exit(2);
    struct child_slot slots[8] = { 0 };
    for (int next = 0;; weir_appender_run(ap, true)) {
        for (int s = 0; s < 8; s++) {
            if (slots[s].busy) continue;
            size_t len;
            slots[s] = (struct child_slot){ .i = next++, .ack_fd = ack_fd, .busy = true };
            slots[s].batch = batch_i(slots[s].i, &len);
            slots[s].a = (struct weir_append){ .batch = slots[s].batch, .len = len, .on_done = child_done };
            if (weir_log_append(log, &slots[s].a) != WEIR_OK) _exit(5);
        }
    }
}

static void kill9_run(int64_t flush_messages, int acks_wanted)
{
    char *dir = tu_tmpdir("kill9");
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        child_append_forever(dir, flush_messages, pipefd[1]);
    }
    close(pipefd[1]);
    struct ack *acks = weir_calloc((size_t)acks_wanted, sizeof *acks);
    int n = 0;
    int64_t deadline = weir_clock_ns() + 60 * 1000000000LL;
    while (n < acks_wanted && weir_clock_ns() < deadline) {
        ssize_t r = read(pipefd[0], &acks[n], sizeof acks[n]);
        if (r != sizeof acks[n]) break;
        n++;
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pipefd[0]);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(n >= acks_wanted / 2);
    struct weir_appender *ap;
    struct weir_log *log;
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 64 << 10;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
    assert_true(weir_log_segment_count(log) > 2);
    for (int k = 0; k < n; k++) expect_batch_at(log, acks[k].i, acks[k].base);
    expect_log_whole(log);
    print_message("kill -9 (flush.messages=%lld): %d acked batches, all present; log end %lld\n",
                  (long long)flush_messages, n, (long long)weir_log_end_offset(log));
    weir_log_close(log);
    weir_appender_destroy(ap);
    weir_free(acks);
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_kill9_flush_always(void **state)
{
    (void)state;
    kill9_run(1, 3000);
}

static void test_kill9_flush_none(void **state)
{
    (void)state;
    kill9_run(INT64_MAX, 20000);
}

/* ---- injected failures -------------------------------------------------------------- */

static void note_done(struct weir_append *a) { (*(int *)a->user)++; }

/* A log of batches 0..4 (flush always) with `fault` set, and appends of
 * batches 5, 6, 7 ready, counting their completions in `done`. */
struct fault_fx {
    char *dir;
    struct weir_appender *ap;
    struct weir_log_config cfg;
    struct weir_log *log;
    int64_t base[8], end;
    size_t len[3];
    uint8_t *b[3];
    struct weir_append a[3];
    int done;
};

static void fault_fx_init(struct fault_fx *f, const char *tag, struct weir_appender_fault fault)
{
    *f = (struct fault_fx){ .dir = tu_tmpdir(tag) };
    assert_int_equal(weir_appender_create(64, &f->ap), WEIR_OK);
    weir_log_config_default(&f->cfg);
    f->cfg.flush_messages = 1;
    f->log = log_with_batches(f->dir, &f->cfg, f->ap, 5, f->base);
    f->end = weir_log_end_offset(f->log);
    weir_appender_fault_set(f->ap, &fault);
    for (int i = 0; i < 3; i++) {
        f->b[i] = batch_i(5 + i, &f->len[i]);
        f->a[i] = (struct weir_append){ .batch = f->b[i], .len = f->len[i], .on_done = note_done, .user = &f->done };
    }
}

/* Reopens the log without faults: batches 0..n-1 are there, and nothing else. */
static void fault_fx_reopen_done(struct fault_fx *f, int n)
{
    weir_appender_fault_set(f->ap, &(struct weir_appender_fault){ 0 });
    assert_int_equal(weir_log_open(f->dir, &f->cfg, f->ap, NULL, &f->log), WEIR_OK);
    assert_int_equal(weir_log_state(f->log), WEIR_OK);
    for (int i = 0; i < n; i++) expect_batch_at(f->log, i, f->base[i]);
    expect_log_whole(f->log);
    weir_log_close(f->log);
    for (int i = 0; i < 3; i++) weir_free(f->b[i]);
    weir_appender_destroy(f->ap);
    tu_rmrf(f->dir);
    weir_free(f->dir);
}

static void fault_run(struct weir_appender_fault fault, enum weir_err want)
{
    struct fault_fx f;
    fault_fx_init(&f, "fault", fault);
    /* One append goes down; two more queue behind it and must fail too. */
    assert_int_equal(weir_log_append(f.log, &f.a[0]), WEIR_OK);
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    weir_appender_run(f.ap, false);
    /* Usually still in flight, so these queue behind it; if its failure was
     * already reaped, they are refused at once. Either way none is written. */
    int queued = 0;
    for (int i = 1; i < 3; i++) {
        enum weir_err err = weir_log_append(f.log, &f.a[i]);
        assert_true(err == WEIR_OK || err == WEIR_E_FAILED);
        if (err == WEIR_OK) queued++;
        else f.a[i].err = err;
    }
    weir_appender_drain(f.ap);
    assert_int_equal(f.done, 1 + queued);
    assert_int_equal(f.a[0].err, want);
    assert_int_equal(f.a[1].err, WEIR_E_FAILED);
    assert_int_equal(f.a[2].err, WEIR_E_FAILED);
    assert_int_equal(weir_log_state(f.log), WEIR_E_IO);
    assert_int_equal(weir_log_end_offset(f.log), f.end); /* the failed write never became visible */
    assert_int_equal(weir_log_append(f.log, &f.a[0]), WEIR_E_FAILED); /* sticky */
    for (int i = 0; i < 5; i++) expect_batch_at(f.log, i, f.base[i]); /* reads go on */
    weir_log_close(f.log);
    weir_log_set_level(WEIR_LOG_INFO);
    /* Reopen: recovery from disk; every acknowledged batch is there. */
    char marker[4096];
    path_in(marker, sizeof marker, f.dir, "clean-shutdown");
    assert_int_not_equal(access(marker, F_OK), 0);
    fault_fx_reopen_done(&f, 5);
}

static void test_fsync_failure_is_sticky(void **state)
{
    (void)state;
    fault_run((struct weir_appender_fault){ .fsync_nth = 1, .fsync_res = -EIO }, WEIR_E_IO);
}

static void test_write_failure_is_sticky(void **state)
{
    (void)state;
    fault_run((struct weir_appender_fault){ .write_nth = 1, .write_res = -EIO }, WEIR_E_IO);
}

/* A full disk (ENOSPC, or a short write) fails the write group and what queued
 * behind it with WEIR_E_NOSPACE; the log stays writable, the offsets are
 * reused, nothing acknowledged is lost, and a reopen finds exactly that. */
static void nospace_run(struct weir_appender_fault fault)
{
    struct fault_fx f;
    fault_fx_init(&f, "nospace", fault);
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    assert_int_equal(weir_log_append(f.log, &f.a[0]), WEIR_OK);
    weir_appender_run(f.ap, false);
    for (int i = 1; i < 3; i++) assert_int_equal(weir_log_append(f.log, &f.a[i]), WEIR_OK);
    weir_appender_drain(f.ap);
    weir_log_set_level(WEIR_LOG_INFO);
    assert_int_equal(f.done, 3);
    assert_int_equal(f.a[0].err, WEIR_E_NOSPACE);
    for (int i = 1; i < 3; i++) assert_true(f.a[i].err == WEIR_E_NOSPACE || f.a[i].err == WEIR_OK);
    assert_int_equal(weir_log_state(f.log), WEIR_OK);
    weir_appender_fault_set(f.ap, &(struct weir_appender_fault){ 0 });
    /* The failed batches took no offsets: the ones that went in after the
     * failure (a later write group; how many depends on when the failure's
     * completion was reaped) start at the old end, densely, in append order. */
    int64_t next = f.end;
    for (int i = 0; i < 3; i++) {
        if (f.a[i].err != WEIR_OK) continue;
        f.base[5 + i] = f.a[i].base_offset;
        assert_int_equal(f.base[5 + i], next);
        next += f.a[i].records;
    }
    /* Space is back: the failed ones go in after them. */
    for (int i = 0; i < 3; i++) {
        if (f.a[i].err == WEIR_OK) continue;
        assert_int_equal(tu_append_sync(f.ap, f.log, f.b[i], f.len[i], &f.base[5 + i]), WEIR_OK);
        assert_int_equal(f.base[5 + i], next);
        next += f.a[i].records;
    }
    for (int i = 0; i < 8; i++) expect_batch_at(f.log, i, f.base[i]);
    weir_log_close(f.log);
    fault_fx_reopen_done(&f, 8);
}

static void test_write_enospc_is_retriable(void **state)
{
    (void)state;
    nospace_run((struct weir_appender_fault){ .write_nth = 1, .write_res = -ENOSPC });
}

static void test_short_write_is_retriable(void **state)
{
    (void)state;
    nospace_run((struct weir_appender_fault){ .write_nth = 1, .write_res = 17 });
}

/* ---- every Nth synchronous syscall fails ---------------------------------------------- */

static uint64_t io_calls, io_fail_nth;
static bool io_should_fail(void) { return ++io_calls == io_fail_nth; }
static int f_open(const char *p, int fl, mode_t m) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.open(p, fl, m); }
static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t o)
{
    return io_should_fail() ? (errno = ENOSPC, -1) : weir_io_posix.pwrite(fd, b, n, o);
}
static int f_fdatasync(int fd) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.fdatasync(fd); }
static int f_fsync(int fd) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.fsync(fd); }
static int f_ftruncate(int fd, off_t l) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.ftruncate(fd, l); }
static int f_fallocate(int fd, int m, off_t o, off_t l)
{
    return io_should_fail() ? (errno = ENOSPC, -1) : weir_io_posix.fallocate(fd, m, o, l);
}
static int f_rename(const char *a, const char *b) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.rename(a, b); }
static const struct weir_io_ops failing_io = {
    .open = f_open, .pwrite = f_pwrite, .pread = pread, .fdatasync = f_fdatasync, .fsync = f_fsync,
    .ftruncate = f_ftruncate, .fallocate = f_fallocate, .rename = f_rename, .unlink = unlink,
};

/* Runs open + 40 appends (rolling every few) + close with the nth call failing.
 * Returns false once n is past every call the scenario makes. */
static bool nth_fault_scenario(const char *dir, uint64_t n, int64_t *acked_base, int *acked)
{
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 1024;
    cfg.flush_messages = 3;
    io_calls = 0;
    io_fail_nth = n;
    weir_io = &failing_io;
    struct weir_log *log = NULL;
    *acked = 0;
    if (weir_log_open(dir, &cfg, ap, NULL, &log) == WEIR_OK) {
        for (int i = 0; i < 40; i++) {
            size_t len;
            uint8_t *b = batch_i(i, &len);
            int64_t base;
            enum weir_err err = tu_append_sync(ap, log, b, len, &base);
            weir_free(b);
            if (err != WEIR_OK) break;
            acked_base[(*acked)++] = base;
        }
        weir_log_close(log);
    }
    weir_io = &weir_io_posix;
    bool hit = io_calls >= n;
    weir_appender_destroy(ap);
    return hit;
}

static void test_every_nth_syscall_fails(void **state)
{
    (void)state;
    uint64_t n;
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    for (n = 1; n < 2000; n++) {
        char *dir = tu_tmpdir_mem("nth"); /* a fault per syscall, not the disk, is the subject */
        int64_t base[40];
        int acked;
        bool hit = nth_fault_scenario(dir, n, base, &acked);
        /* Whatever failed, a reopen without faults holds every acked batch. */
        struct weir_appender *ap;
        assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
        struct weir_log_config cfg;
        weir_log_config_default(&cfg);
        cfg.segment_bytes = 1024;
        struct weir_log *log;
        assert_int_equal(weir_log_open(dir, &cfg, ap, NULL, &log), WEIR_OK);
        for (int i = 0; i < acked; i++) expect_batch_at(log, i, base[i]);
        expect_log_whole(log);
        weir_log_close(log);
        weir_appender_destroy(ap);
        tu_rmrf(dir);
        weir_free(dir);
        if (!hit) break;
    }
    weir_log_set_level(WEIR_LOG_INFO);
    print_message("every-nth-syscall fault: %llu failure points checked\n", (unsigned long long)n);
    assert_true(n > 50 && n < 2000);
}

/* ---- flipped bits and zeroed blocks in files trusted at open ------------------------ */

static void files_copy(const char *from, const char *to)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    assert_int_equal(system(cmd), 0);
}

/* Damages one file of dir: a flipped bit, or a zeroed 512-byte block. */
static void damage(const char *dir, const char *name, uint64_t *seed)
{
    char path[4096];
    path_in(path, sizeof path, dir, name);
    size_t len;
    uint8_t *bytes = file_slurp(path, &len);
    if (len > 0) {
        size_t at = tu_rand(seed) % len;
        if (tu_rand(seed) % 3) bytes[at] ^= (uint8_t)(1u << (tu_rand(seed) % 8));
        else memset(bytes + at / 512 * 512, 0, WEIR_MIN((size_t)512, len - at / 512 * 512));
        file_put(path, bytes, len);
    }
    weir_free(bytes);
}

/* Reads the whole log; every batch served must be one of the originals, at
 * its offset, byte for byte. A read that fails (CORRUPT) skips ahead. */
static int read_only_originals(struct weir_log *log, const int64_t *base, int n)
{
    int served = 0;
    int64_t o = weir_log_start_offset(log), end = weir_log_end_offset(log);
    for (int steps = 0; o < end; steps++) {
        assert_true(steps < 10000);
        struct weir_log_view v;
        enum weir_err err = weir_log_read(log, o, 4096, true, &v);
        if (err == WEIR_E_CORRUPT) {
            o++;
            continue;
        }
        assert_int_equal(err, WEIR_OK);
        if (v.len == 0) break;
        for (size_t pos = 0; pos < v.len;) {
            size_t blen;
            assert_int_equal(weir_batch_validate(v.data + pos, v.len - pos, v.len - pos, false, &blen), WEIR_OK);
            int64_t b = (int64_t)weir_load_be64(v.data + pos);
            int i = 0;
            while (i < n && base[i] != b) i++;
            assert_true(i < n); /* a batch at an offset some original had */
            size_t len;
            uint8_t *want = batch_i(i, &len);
            weir_batch_set_base_offset(want, b);
            assert_int_equal(blen, len);
            assert_memory_equal(v.data + pos, want, len);
            weir_free(want);
            pos += blen;
            served++;
        }
        o = v.offset_next;
        weir_log_view_release(log, &v);
    }
    return served;
}

static void test_damaged_files_never_served(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("dmg"), *work = tu_tmpdir("dmgw");
    struct weir_appender *ap;
    assert_int_equal(weir_appender_create(64, &ap), WEIR_OK);
    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 200;
    int64_t base[80];
    struct weir_log *log = log_with_batches(dir, &cfg, ap, 80, base);
    assert_true(weir_log_segment_count(log) >= 4);
    weir_log_close(log); /* clean: every segment is trusted at the next open, no CRC scan */
    static const char *const ext[] = { ".log", ".log", ".log", ".index", ".timeindex" };
    uint64_t seed = 2024;
    int trials = 0, partial = 0;
    weir_log_set_level(WEIR_LOG_ERROR + 1);
    for (int t = 0; t < 150; t++) {
        files_copy(dir, work);
        char name[64];
        int64_t seg = (int64_t)(tu_rand(&seed) % 4);
        /* Segments are named by base offset: find the seg-th one. */
        int64_t bases[8];
        int nb = 0;
        for (int i = 0; i < 80 && nb < 8; i++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%020" PRId64 ".log", work, base[i]);
            if (access(p, F_OK) == 0) bases[nb++] = base[i];
        }
        assert_true(nb >= 4);
        snprintf(name, sizeof name, "%020" PRId64 "%s", bases[seg], ext[tu_rand(&seed) % 5]);
        damage(work, name, &seed);
        enum weir_err err = weir_log_open(work, &cfg, ap, NULL, &log);
        if (err != WEIR_OK) continue; /* refused at open: detected, nothing served */
        int served = read_only_originals(log, base, 80);
        if (served < 80) partial++;
        weir_log_close(log);
        trials++;
    }
    weir_log_set_level(WEIR_LOG_INFO);
    print_message("damaged files: %d opened, %d of them with batches withheld\n", trials, partial);
    assert_true(trials > 100 && partial > 10);
    weir_appender_destroy(ap);
    tu_rmrf(dir);
    tu_rmrf(work);
    weir_free(dir);
    weir_free(work);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_every_byte),
        cmocka_unit_test(test_corrupt_middle_segment),
        cmocka_unit_test(test_damaged_files_never_served),
        cmocka_unit_test(test_clean_marker_skips_scan),
        cmocka_unit_test(test_kill9_flush_always),
        cmocka_unit_test(test_kill9_flush_none),
        cmocka_unit_test(test_fsync_failure_is_sticky),
        cmocka_unit_test(test_write_failure_is_sticky),
        cmocka_unit_test(test_short_write_is_retriable),
        cmocka_unit_test(test_write_enospc_is_retriable),
        cmocka_unit_test(test_every_nth_syscall_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
