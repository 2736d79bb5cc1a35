/* tests/fuzz/fuzz_segment.c: opening a partition directory whose files hold
 * arbitrary bytes (recovery, or the trusted clean-shutdown path), through the
 * public engine.h API only.
 *
 * Input layout (all optional; a short input is all .log):
 *   byte 0      flags: FLAG_CLEAN writes the clean-shutdown marker,
 *               FLAG_FIX_SNAPSHOT fixes the snapshot's CRC-32C,
 *               FLAG_FIX_BATCHES fixes the CRC-32C of each batch the .log
 *               chains to (so mutations reach the checks behind the CRC)
 *   bytes 1-6   three big-endian u16 lengths: .index, .timeindex, .snapshot
 *   then        those files' bytes, in that order, then the .log's bytes.
 * The snapshot is named after the offset it holds (bytes 6-13), as the
 * engine names them, so that its name check can pass.
 *
 * Each run writes the files into a fresh directory, weir_log_open (own
 * appender, no preparer), reads every batch from the log start to its end with
 * weir_log_read and iterates its records, looks up a few timestamps, appends
 * one batch and reads it back, closes, reopens (clean now) and removes the
 * directory. Properties: no crash, leak or UB; after recovery (no marker)
 * every byte served is whole valid batches with contiguous offsets covering
 * the requested offset, and the log takes an append at its end offset.
 * With the marker the engine trusts what its checks let through, so only the
 * absence of crashes is checked there. */
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "record/record.h"

#include "fuzz.h"

enum {
    FLAG_CLEAN = 1,
    FLAG_FIX_SNAPSHOT = 2,
    FLAG_FIX_BATCHES = 4,
    HEADER_BYTES = 7,
    READ_BYTES_MAX = 256 << 10,
    SNAP_OFF_CRC = 2, /* docs/on-disk-format.md, .snapshot */
    SNAP_OFF_OFFSET = 6,
};

static struct weir_appender *appender;
static char base_dir[64];

static void cleanup_base(void) { rmdir(base_dir); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* Recovery logs every cut; above ERROR nothing is printed. */
    weir_log_set_level((enum weir_log_level)(WEIR_LOG_ERROR + 1));
    snprintf(base_dir, sizeof base_dir, "%s/weir-fuzz-segment-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(base_dir) || weir_appender_create(64, &appender) != WEIR_OK) {
        perror("fuzz_segment: setup");
        exit(1);
    }
    atexit(cleanup_base);
    return 0;
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(n == 0 || write(fd, p, n) == (ssize_t)n);
    close(fd);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    FUZZ_CHECK(rmdir(dir) == 0);
}

/* Rewrites the CRC of each batch the length fields chain through. */
static void fix_batches(uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (n - pos >= WEIR_BATCH_HEADER_BYTES) {
        int32_t length = (int32_t)weir_load_be32(p + pos + WEIR_BATCH_OFF_LENGTH);
        if (length < WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD ||
            (size_t)length > n - pos - WEIR_BATCH_LOG_OVERHEAD)
            return;
        size_t total = WEIR_BATCH_LOG_OVERHEAD + (size_t)length;
        uint8_t *b = p + pos;
        weir_store_be32(b + WEIR_BATCH_OFF_CRC, weir_crc32c(0, b + WEIR_BATCH_OFF_ATTRS, total - WEIR_BATCH_OFF_ATTRS));
        pos += total;
    }
}

/* Splits the input into the partition's files and writes them into dir. */
static void files_write(const char *dir, uint8_t *in, size_t size, uint8_t *flags)
{
    size_t len[3] = { 0, 0, 0 }, at = 0;
    *flags = 0;
    if (size >= HEADER_BYTES) {
        *flags = in[0];
        at = HEADER_BYTES;
        for (int i = 0; i < 3; i++) {
            len[i] = WEIR_MIN((size_t)weir_load_be16(in + 1 + 2 * i), size - at);
            at += len[i];
        }
    }
    uint8_t *idx = in + HEADER_BYTES, *tidx = idx + len[0], *snap = tidx + len[1], *log = in + at;
    size_t log_len = size - at;
    if (len[0]) write_file(dir, "00000000000000000000.index", idx, len[0]);
    if (len[1]) write_file(dir, "00000000000000000000.timeindex", tidx, len[1]);
    if (len[2]) {
        int64_t at_offset = 0;
        if (len[2] >= SNAP_OFF_OFFSET + 8) {
            at_offset = (int64_t)weir_load_be64(snap + SNAP_OFF_OFFSET);
            if (*flags & FLAG_FIX_SNAPSHOT)
                weir_store_be32(snap + SNAP_OFF_CRC, weir_crc32c(0, snap + SNAP_OFF_OFFSET, len[2] - SNAP_OFF_OFFSET));
        }
        char name[64];
        snprintf(name, sizeof name, "%020" PRId64 ".snapshot", at_offset < 0 ? 0 : at_offset % (int64_t)100000000000);
        write_file(dir, name, snap, len[2]);
    }
    if (*flags & FLAG_FIX_BATCHES) fix_batches(log, log_len);
    write_file(dir, "00000000000000000000.log", log, log_len);
    if (*flags & FLAG_CLEAN) write_file(dir, "clean-shutdown", NULL, 0);
}

static void records_iterate(const uint8_t *b, size_t len)
{
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    struct weir_record_iter it;
    if (weir_record_iter_init(&it, b, len, &scratch, &scratch_cap, 1 << 20) == WEIR_OK) {
        struct weir_record rec;
        while (weir_record_iter_next(&it, &rec) == WEIR_OK) {}
    }
    weir_free(scratch);
}

/* Checks one view of whole batches (strict: after recovery). */
static void view_check(const struct weir_log_view *v, int64_t offset, bool strict)
{
    fuzz_touch(v->data, v->len);
    size_t pos = 0;
    int64_t next = v->offset_first;
    while (pos < v->len) {
        size_t len = 0;
        enum weir_err err = weir_batch_validate(v->data + pos, v->len - pos, v->len - pos, false, &len);
        if (strict) FUZZ_CHECK(err == WEIR_OK);
        if (err != WEIR_OK) return;
        struct weir_batch_header h;
        FUZZ_CHECK(weir_batch_header_decode(v->data + pos, len, &h) == WEIR_OK);
        if (strict) FUZZ_CHECK(h.base_offset == next);
        records_iterate(v->data + pos, len);
        next = h.base_offset + h.last_offset_delta + 1;
        pos += len;
    }
    if (strict) FUZZ_CHECK(next == v->offset_next && v->offset_first <= offset && offset < v->offset_next);
}

/* Reads [log start, log end) view by view. */
static void log_read_all(struct weir_log *log, bool strict)
{
    int64_t offset = weir_log_start_offset(log), end = weir_log_end_offset(log);
    FUZZ_CHECK(offset <= end);
    while (offset < end) {
        struct weir_log_view v;
        enum weir_err err = weir_log_read(log, offset, READ_BYTES_MAX, true, &v);
        if (strict) FUZZ_CHECK(err == WEIR_OK);
        if (err != WEIR_OK) return;
        bool progress = v.len > 0 && v.offset_next > offset;
        if (strict) FUZZ_CHECK(progress);
        view_check(&v, offset, strict);
        offset = v.offset_next;
        weir_log_view_release(log, &v);
        if (!progress) return;
    }
}

/* After recovery, a time lookup answers a record of the log at or after the
 * time. (With the marker, trusted garbage may answer anything.) */
static void times_lookup(struct weir_log *log, bool strict)
{
    static const int64_t ts[] = { INT64_MIN, 0, 1700000000000, INT64_MAX };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ts); i++) {
        int64_t offset, found;
        if (weir_log_offset_for_time(log, ts[i], &offset, &found) != WEIR_OK) continue;
        /* Not checked: offset < log end. A record's offsetDelta is not
         * checked against its batch's (on append or recovery), so a batch
         * [0, 0] whose record says delta 1 answers offset 1 here. */
        if (!strict || (found >= ts[i] && offset >= weir_log_start_offset(log))) continue;
        fprintf(stderr, "offset_for_time(%" PRId64 ") = %" PRId64 " (timestamp %" PRId64 "), log [%" PRId64
                        ", %" PRId64 ")\n", ts[i], offset, found, weir_log_start_offset(log), weir_log_end_offset(log));
        FUZZ_CHECK(!"offset_for_time answers a record of the log at or after the time");
    }
}

static void on_appended(struct weir_append *a) { *(bool *)a->user = true; }

/* A log that opened takes one more batch at its end (unless read-only). */
static void append_one(struct weir_log *log, bool strict)
{
    uint8_t buf[256];
    struct weir_batch_builder bb;
    size_t len;
    weir_batch_builder_init(&bb, buf, sizeof buf, WEIR_CODEC_NONE);
    FUZZ_CHECK(weir_batch_builder_add(&bb, 1700000000000, "k", 1, "v", 1, NULL, 0) == WEIR_OK);
    FUZZ_CHECK(weir_batch_builder_finish(&bb, -1, -1, -1, &len) == WEIR_OK);
    int64_t end = weir_log_end_offset(log);
    bool done = false;
    struct weir_append a = { .batch = buf, .len = len, .on_done = on_appended, .user = &done };
    enum weir_err err = weir_log_append(log, &a);
    if (strict) FUZZ_CHECK(err == WEIR_OK || err == WEIR_E_FAILED);
    if (err != WEIR_OK) return;
    weir_appender_drain(appender);
    FUZZ_CHECK(done);
    if (a.err != WEIR_OK) return;
    FUZZ_CHECK(a.base_offset == end && weir_log_end_offset(log) == end + 1);
    struct weir_log_view v;
    FUZZ_CHECK(weir_log_read(log, end, READ_BYTES_MAX, true, &v) == WEIR_OK);
    FUZZ_CHECK(v.len == len && v.offset_next == end + 1);
    weir_log_view_release(log, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *in = weir_malloc(size ? size : 1);
    if (!in) return 0;
    if (size) memcpy(in, data, size);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/p", base_dir);
    FUZZ_CHECK(mkdir(dir, 0755) == 0);
    uint8_t flags;
    files_write(dir, in, size, &flags);
    weir_free(in);
    bool strict = !(flags & FLAG_CLEAN);

    struct weir_log_config cfg;
    weir_log_config_default(&cfg);
    cfg.segment_bytes = 1 << 20;
    cfg.segment_index_bytes = 64 << 10;
    cfg.index_interval_bytes = 256;
    cfg.flush_messages = INT64_MAX;
    struct weir_log *log;
    if (weir_log_open(dir, &cfg, appender, NULL, &log) == WEIR_OK) {
        log_read_all(log, strict);
        times_lookup(log, strict);
        append_one(log, strict);
        weir_log_close(log);
        /* Closed cleanly: the next open trusts the files, and must agree. */
        if (weir_log_open(dir, &cfg, appender, NULL, &log) == WEIR_OK) {
            log_read_all(log, strict);
            weir_log_close(log);
        }
    }
    remove_dir(dir);
    return 0;
}
