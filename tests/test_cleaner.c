/* tests/test_cleaner.c: log compaction (engine/cleaner.c) against a model of
 * what was written: every record by offset, and the latest value of each key. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

enum { KEYS = 40, RECORDS_MAX = 6000, VALUE_NULL = -1 };

/* What was written: key and value id per offset (value VALUE_NULL: a tombstone). */
struct written {
    int key[RECORDS_MAX], value[RECORDS_MAX];
    int64_t n;
};

struct fixture {
    char *dir;
    struct weir_appender *ap;
    struct weir_log *log;
    struct weir_log_config cfg;
    struct written w;
};

static void fx_open(struct fixture *fx)
{
    assert_int_equal(weir_log_open(fx->dir, &fx->cfg, fx->ap, NULL, &fx->log), WEIR_OK);
}

static void fx_close(struct fixture *fx)
{
    weir_log_close(fx->log);
    fx->log = NULL;
}

static struct fixture *fx_new(const char *tag)
{
    struct fixture *fx = weir_calloc(1, sizeof *fx);
    fx->dir = tu_tmpdir(tag);
    weir_log_config_default(&fx->cfg);
    fx->cfg.segment_bytes = 4096;
    fx->cfg.index_interval_bytes = 512;
    assert_int_equal(weir_appender_create(256, &fx->ap), WEIR_OK);
    fx_open(fx);
    return fx;
}

static void fx_free(struct fixture *fx)
{
    if (fx->log) weir_log_close(fx->log);
    weir_appender_destroy(fx->ap);
    tu_rmrf(fx->dir);
    weir_free(fx->dir);
    weir_free(fx);
}

/* Appends `batches` batches of 1-8 records with random keys, ~1 in 8 a tombstone. */
static void write_random(struct fixture *fx, int batches, uint64_t *seed, enum weir_codec codec)
{
    uint8_t buf[16384];
    for (int b = 0; b < batches; b++) {
        struct weir_batch_builder bb;
        weir_batch_builder_init(&bb, buf, sizeof buf, codec);
        int count = 1 + (int)(tu_rand(seed) % 8);
        int keys[8], values[8];
        for (int i = 0; i < count; i++) {
            char k[16], v[64];
            keys[i] = (int)(tu_rand(seed) % KEYS);
            values[i] = tu_rand(seed) % 8 == 0 ? VALUE_NULL : (int)(fx->w.n + i);
            int kl = snprintf(k, sizeof k, "key-%d", keys[i]);
            int vl = snprintf(v, sizeof v, "value-%d-padding-padding", values[i]);
            assert_int_equal(weir_batch_builder_add(&bb, 1000 + fx->w.n + i, k, kl, values[i] == VALUE_NULL ? NULL : v,
                                                    values[i] == VALUE_NULL ? -1 : vl, NULL, 0),
                             WEIR_OK);
        }
        size_t len;
        assert_int_equal(weir_batch_builder_finish(&bb, -1, -1, -1, &len), WEIR_OK);
        int64_t base;
        assert_int_equal(tu_append_sync(fx->ap, fx->log, buf, len, &base), WEIR_OK);
        assert_int_equal(base, fx->w.n);
        for (int i = 0; i < count; i++) fx->w.key[fx->w.n + i] = keys[i], fx->w.value[fx->w.n + i] = values[i];
        fx->w.n += count;
        assert_true(fx->w.n + 8 < RECORDS_MAX);
    }
}

/* What a reader sees: each record (offset, key, value) from the log start,
 * reading at every offset the previous read ended at. */
struct seen {
    int64_t offset[RECORDS_MAX];
    int key[RECORDS_MAX], value[RECORDS_MAX];
    int n;
    int lz4_rewritten; /* LZ4 batches holding fewer records than offsets: rewritten, codec kept */
};

static void read_all(struct weir_log *log, struct seen *s)
{
    s->n = s->lz4_rewritten = 0;
    uint8_t *scratch = NULL;
    size_t scap = 0;
    int64_t off = weir_log_start_offset(log), end = weir_log_end_offset(log);
    for (int steps = 0; off < end; steps++) {
        assert_true(steps < RECORDS_MAX);
        struct weir_log_view v;
        assert_int_equal(weir_log_read(log, off, 1500, true, &v), WEIR_OK);
        assert_true(v.len > 0 && v.offset_next > off);
        for (size_t pos = 0; pos < v.len;) {
            struct weir_batch_header h;
            assert_int_equal(weir_batch_check(v.data + pos, v.len - pos, SIZE_MAX, false, &h), WEIR_OK);
            s->lz4_rewritten += (h.attributes & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_LZ4 &&
                                h.records_count < h.last_offset_delta + 1;
            struct weir_record_iter it;
            struct weir_record r;
            assert_int_equal(weir_record_iter_init(&it, v.data + pos, v.len - pos, &scratch, &scap, 1 << 24), WEIR_OK);
            while (weir_record_iter_next(&it, &r) == WEIR_OK) {
                if (r.offset < off) continue;
                assert_true(s->n == 0 || r.offset > s->offset[s->n - 1]); /* offsets rise, gaps allowed */
                char k[32] = { 0 }, v2[80] = { 0 };
                assert_non_null(r.key);
                memcpy(k, r.key, (size_t)r.key_len);
                s->offset[s->n] = r.offset;
                s->key[s->n] = atoi(k + 4);
                s->value[s->n] = VALUE_NULL;
                if (r.value) {
                    memcpy(v2, r.value, (size_t)WEIR_MIN(r.value_len, 79));
                    s->value[s->n] = atoi(v2 + 6);
                }
                s->n++;
            }
            pos += WEIR_BATCH_LOG_OVERHEAD + (size_t)h.length;
        }
        off = v.offset_next;
        weir_log_view_release(log, &v);
    }
    weir_free(scratch);
}

/* Checks what a reader sees against what was written:
 *  - every record seen is the record written at its offset;
 *  - replaying it gives each key's latest value (tombstones_gone: keys whose
 *    latest is a tombstone below `cleaned` are absent);
 *  - below `cleaned`, a key appears at most once. */
static struct seen s;

static void check_model(struct fixture *fx, int64_t cleaned, bool tombstones_gone)
{
    read_all(fx->log, &s);
    int latest[KEYS], seen_latest[KEYS], below[KEYS];
    int64_t latest_off[KEYS];
    for (int k = 0; k < KEYS; k++) latest[k] = seen_latest[k] = -2, below[k] = 0, latest_off[k] = -1;
    for (int64_t o = 0; o < fx->w.n; o++) latest[fx->w.key[o]] = fx->w.value[o], latest_off[fx->w.key[o]] = o;
    for (int i = 0; i < s.n; i++) {
        int64_t o = s.offset[i];
        assert_true(o >= 0 && o < fx->w.n);
        assert_int_equal(s.key[i], fx->w.key[o]);
        assert_int_equal(s.value[i], fx->w.value[o]);
        seen_latest[s.key[i]] = s.value[i];
        if (o < cleaned) assert_true(++below[s.key[i]] <= 1);
    }
    for (int k = 0; k < KEYS; k++) {
        if (latest[k] == VALUE_NULL && tombstones_gone && latest_off[k] < cleaned) assert_int_equal(seen_latest[k], -2);
        else assert_int_equal(seen_latest[k], latest[k]);
    }
}

static void clean(struct fixture *fx, int64_t now_ms, int64_t delete_retention_ms, struct weir_clean_stats *st)
{
    struct weir_clean_config cc;
    weir_clean_config_default(&cc);
    cc.delete_retention_ms = delete_retention_ms;
    assert_int_equal(weir_log_clean(fx->log, &cc, now_ms, true, st), WEIR_OK);
}

/* Random keyed writes and tombstones, cleaned, read back, reopened, cleaned again. */
static void t_model(void **state)
{
    (void)state;
    uint64_t seed = 42;
    struct fixture *fx = fx_new("cleaner-model");
    write_random(fx, 300, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    unsigned segs = weir_log_segment_count(fx->log);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 3600000, &st);
    assert_true(st.segments == segs - 1 && st.bytes_after < st.bytes_before);
    assert_int_equal(st.tombstones_dropped, 0); /* never before a first clean + delete.retention.ms */
    int64_t cleaned = weir_log_cleaned_below(fx->log);
    assert_int_equal(cleaned, fx->w.n);
    check_model(fx, cleaned, false);
    /* more writes, a dirty part: cleaned with the map of both */
    write_random(fx, 150, &seed, WEIR_CODEC_LZ4);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    fx_close(fx);
    fx_open(fx); /* gaps below the checkpoint survive a reopen */
    check_model(fx, cleaned, false);
    clean(fx, weir_time_ms(), 3600000, &st);
    cleaned = weir_log_cleaned_below(fx->log);
    check_model(fx, cleaned, false);
    assert_true(s.lz4_rewritten > 0); /* rewritten in their own codec, as Kafka's cleaner does */
    /* delete.retention.ms past since the first clean: tombstones go */
    clean(fx, weir_time_ms() + 7200000, 3600000, &st);
    assert_true(st.tombstones_dropped > 0);
    check_model(fx, cleaned, true);
    fx_close(fx);
    fx_open(fx);
    check_model(fx, cleaned, true);
    /* appends continue after the gaps */
    write_random(fx, 10, &seed, WEIR_CODEC_NONE);
    check_model(fx, cleaned, true);
    fx_free(fx);
}

/* A read inside the gap a cleaned segment leaves at the log end (its last
 * record a tombstone now removed, the active segment empty) finds nothing
 * there yet; after an append it gets the new batch. */
static void t_gap_at_end(void **state)
{
    (void)state;
    uint64_t seed = 5;
    struct fixture *fx = fx_new("cleaner-gap");
    write_random(fx, 100, &seed, WEIR_CODEC_NONE);
    uint8_t buf[256];
    struct weir_batch_builder bb;
    weir_batch_builder_init(&bb, buf, sizeof buf, WEIR_CODEC_NONE);
    assert_int_equal(weir_batch_builder_add(&bb, 5000, "key-999", 7, NULL, -1, NULL, 0), WEIR_OK); /* a tombstone */
    size_t len;
    int64_t base;
    assert_int_equal(weir_batch_builder_finish(&bb, -1, -1, -1, &len), WEIR_OK);
    assert_int_equal(tu_append_sync(fx->ap, fx->log, buf, len, &base), WEIR_OK);
    fx->w.n = base + 1;
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 1000, &st);
    clean(fx, weir_time_ms() + 5000, 1000, &st); /* the tombstone goes */
    assert_true(st.tombstones_dropped > 0);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx->log, base, 1 << 20, true, &v), WEIR_OK);
    assert_int_equal(v.len, 0);
    weir_log_view_release(fx->log, &v);
    write_random(fx, 1, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_read(fx->log, base, 1 << 20, true, &v), WEIR_OK);
    assert_true(v.len > 0 && v.offset_first == base + 1);
    weir_log_view_release(fx->log, &v);
    fx_free(fx);
}

/* Nothing to clean: an active segment only, or a ratio below the config's. */
static void t_nothing(void **state)
{
    (void)state;
    uint64_t seed = 7;
    struct fixture *fx = fx_new("cleaner-nothing");
    struct weir_clean_config cc;
    weir_clean_config_default(&cc);
    assert_int_equal(weir_log_clean(fx->log, &cc, weir_time_ms(), true, NULL), WEIR_E_NOT_FOUND);
    write_random(fx, 200, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    cc.min_compaction_lag_ms = 3600000; /* every record is newer: nothing cleanable */
    assert_int_equal(weir_log_clean(fx->log, &cc, 100000, false, NULL), WEIR_E_NOT_FOUND);
    cc.min_compaction_lag_ms = 0;
    assert_int_equal(weir_log_clean(fx->log, &cc, weir_time_ms(), false, NULL), WEIR_OK);
    cc.min_cleanable_dirty_ratio = 0.99; /* all clean now */
    assert_int_equal(weir_log_clean(fx->log, &cc, weir_time_ms(), false, NULL), WEIR_E_NOT_FOUND);
    fx_free(fx);
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    assert_int_equal(system(cmd), 0);
}

/* Crash states of a pass, made from the files of a pass that finished:
 * .cleaned only (rolled back), .log.swap with or without index swaps (finished). */
static void t_crash_states(void **state)
{
    (void)state;
    uint64_t seed = 9;
    struct fixture *fx = fx_new("cleaner-crash");
    write_random(fx, 300, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    fx_close(fx);
    char *orig = tu_tmpdir("cleaner-orig"), *done = tu_tmpdir("cleaner-done");
    sh("cp -a %s/. %s", fx->dir, orig);
    fx_open(fx);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 3600000, &st);
    int64_t cleaned = weir_log_cleaned_below(fx->log);
    fx_close(fx);
    sh("cp -a %s/. %s", fx->dir, done);
    for (int variant = 0; variant < 3; variant++) {
        /* the original files, plus the cleaned ones under temporary names */
        sh("rm -rf %s && mkdir %s", fx->dir, fx->dir);
        sh("cp -a %s/. %s", orig, fx->dir);
        sh("rm -f %s/clean-shutdown%s", fx->dir, ""); /* as after a kill */
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "cd %s && for f in $(ls %s | grep -E '^[0-9]{20}\\.(log|index|timeindex)$'); do "
                 "b=${f%%%%.*}; [ \"$(ls %s | grep -E '^[0-9]{20}\\.log$' | tail -1)\" = \"$b.log\" ] && continue; "
                 "case %d in 0) cp %s/$f $f.cleaned;; 1) cp %s/$f $f.swap;; "
                 "2) case $f in *.log) cp %s/$f $f.swap;; *.index) cp %s/$f $f;; *) ;; esac;; esac; done",
                 fx->dir, done, done, variant, done, done, done, done);
        assert_int_equal(system(cmd), 0);
        if (variant > 0) sh("cp %s/cleaner-offset-checkpoint %s/", done, fx->dir);
        fx_open(fx);
        if (variant == 0) {
            assert_int_equal(weir_log_cleaned_below(fx->log), 0);
            check_model(fx, 0, false); /* rolled back: the original log */
        } else {
            check_model(fx, cleaned, false); /* finished */
        }
        fx_close(fx);
        snprintf(cmd, sizeof cmd, "ls %s | grep -qE '\\.(cleaned|swap)$'", fx->dir);
        assert_int_not_equal(system(cmd), 0); /* nothing temporary left */
    }
    tu_rmrf(orig);
    tu_rmrf(done);
    weir_free(orig);
    weir_free(done);
    fx_free(fx);
}

/* A second pass merges the segments the first one shrank (each output's
 * input within segment.bytes); the merged log reads back as the model, also
 * after a reopen, and takes appends and a third pass. */
static void t_merge(void **state)
{
    (void)state;
    uint64_t seed = 13;
    struct fixture *fx = fx_new("cleaner-merge");
    write_random(fx, 300, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    unsigned before = weir_log_segment_count(fx->log);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 3600000, &st); /* dirty, each near segment.bytes: none merged */
    assert_int_equal(weir_log_segment_count(fx->log), before);
    clean(fx, weir_time_ms(), 3600000, &st); /* small now: merged */
    unsigned after = weir_log_segment_count(fx->log);
    assert_true(after < before / 2);
    int64_t cleaned = weir_log_cleaned_below(fx->log);
    check_model(fx, cleaned, false);
    fx_close(fx);
    fx_open(fx);
    assert_int_equal(weir_log_segment_count(fx->log), after);
    check_model(fx, cleaned, false);
    write_random(fx, 100, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    clean(fx, weir_time_ms(), 3600000, &st);
    clean(fx, weir_time_ms() + 7200000, 3600000, &st); /* tombstones go */
    check_model(fx, weir_log_cleaned_below(fx->log), true);
    fx_free(fx);
}

/* Crash states of a merging pass, made from the files before it (orig) and
 * after it (done): a marker <base>.merged per output names where its group
 * ends. (0) .cleaned outputs and markers: rolled back; (1) committed, the
 * members still there: deleted, swaps finished; (2) members gone, swaps not
 * renamed; (3) outputs in place, markers left. */
static void t_merge_crash_states(void **state)
{
    (void)state;
    uint64_t seed = 17;
    struct fixture *fx = fx_new("cleaner-mcrash");
    write_random(fx, 300, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 3600000, &st);
    unsigned segs_orig = weir_log_segment_count(fx->log);
    int64_t cleaned = weir_log_cleaned_below(fx->log);
    fx_close(fx);
    char *orig = tu_tmpdir("cleaner-morig"), *done = tu_tmpdir("cleaner-mdone");
    sh("cp -a %s/. %s", fx->dir, orig);
    fx_open(fx);
    clean(fx, weir_time_ms(), 3600000, &st);
    unsigned segs_done = weir_log_segment_count(fx->log);
    assert_true(segs_done < segs_orig);
    fx_close(fx);
    sh("cp -a %s/. %s", fx->dir, done);
    /* markers: each of done's segments but the last, ending at the next one's base */
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "cd %s && set -- $(ls | grep -E '^[0-9]{20}\\.log$' | sed 's/\\.log$//'); "
             "while [ $# -gt 1 ]; do expr $2 + 0 > $1.merged; shift; done", done);
    assert_int_equal(system(cmd), 0);
    for (int variant = 0; variant < 4; variant++) {
        sh("rm -rf %s && mkdir %s", fx->dir, fx->dir);
        sh("cp -a %s/. %s", variant == 3 ? done : orig, fx->dir);
        sh("rm -f %s/clean-shutdown%s", fx->dir, "");
        if (variant == 2) /* the members gone: only done's segments of orig stay */
            snprintf(cmd, sizeof cmd,
                     "cd %s && for f in $(ls | grep -E '^[0-9]{20}\\.(log|index|timeindex)$'); do "
                     "[ -e %s/$f ] || rm $f; done", fx->dir, done);
        else
            snprintf(cmd, sizeof cmd, "true");
        assert_int_equal(system(cmd), 0);
        if (variant < 3) {
            snprintf(cmd, sizeof cmd,
                     "cd %s && cp %s/*.merged . && for m in *.merged; do b=${m%%.merged}; "
                     "for x in log index timeindex; do [ -e %s/$b.$x ] && cp %s/$b.$x $b.$x.%s; done; done; "
                     "cp %s/cleaner-offset-checkpoint .",
                     fx->dir, done, done, done, variant == 0 ? "cleaned" : "swap", done);
            assert_int_equal(system(cmd), 0);
        }
        fx_open(fx);
        assert_int_equal(weir_log_segment_count(fx->log), variant == 0 ? segs_orig : segs_done);
        check_model(fx, cleaned, false);
        fx_close(fx);
        snprintf(cmd, sizeof cmd, "ls %s | grep -qE '\\.(cleaned|swap|merged)$'", fx->dir);
        assert_int_not_equal(system(cmd), 0); /* nothing temporary left */
    }
    tu_rmrf(orig);
    tu_rmrf(done);
    weir_free(orig);
    weir_free(done);
    fx_free(fx);
}

/* A truncation below the cleaned part lowers the cleaner checkpoint first. */
static void t_truncate(void **state)
{
    (void)state;
    uint64_t seed = 11;
    struct fixture *fx = fx_new("cleaner-truncate");
    write_random(fx, 300, &seed, WEIR_CODEC_NONE);
    assert_int_equal(weir_log_roll(fx->log), WEIR_OK);
    struct weir_clean_stats st;
    clean(fx, weir_time_ms(), 3600000, &st);
    read_all(fx->log, &s);
    struct weir_log_view v;
    assert_int_equal(weir_log_read(fx->log, s.offset[s.n / 2], 1, true, &v), WEIR_OK);
    int64_t cut = v.offset_first; /* a batch boundary inside the cleaned part */
    weir_log_view_release(fx->log, &v);
    assert_true(cut < weir_log_cleaned_below(fx->log));
    assert_int_equal(weir_log_truncate(fx->log, cut), WEIR_OK);
    assert_true(weir_log_cleaned_below(fx->log) <= cut);
    fx->w.n = weir_log_end_offset(fx->log);
    fx_close(fx);
    fx_open(fx);
    assert_true(weir_log_end_offset(fx->log) <= cut + 8);
    fx_free(fx);
}

/* The compaction keys of a topic config, with Kafka's checks. */
static void t_config_keys(void **state)
{
    (void)state;
    static const struct {
        const char *key, *value;
        enum weir_err want;
        uint8_t policy;
    } cases[] = {
        { "cleanup.policy", "compact", WEIR_OK, WEIR_CLEANUP_COMPACT },
        { "cleanup.policy", "compact,delete", WEIR_OK, WEIR_CLEANUP_COMPACT | WEIR_CLEANUP_DELETE },
        { "cleanup.policy", "delete,compact", WEIR_OK, WEIR_CLEANUP_COMPACT | WEIR_CLEANUP_DELETE },
        { "cleanup.policy", "delete", WEIR_OK, WEIR_CLEANUP_DELETE },
        { "cleanup.policy", "", WEIR_OK, 0 }, /* Kafka 3.7: an empty list is valid (neither) */
        { "cleanup.policy", "compacted", WEIR_E_BAD_CONFIG, 0 },
        { "min.cleanable.dirty.ratio", "0.01", WEIR_OK, 0 },
        { "min.cleanable.dirty.ratio", "1.5", WEIR_E_BAD_CONFIG, 0 },
        { "min.cleanable.dirty.ratio", "x", WEIR_E_BAD_CONFIG, 0 },
        { "delete.retention.ms", "-1", WEIR_E_BAD_CONFIG, 0 },
        { "max.compaction.lag.ms", "0", WEIR_E_BAD_CONFIG, 0 },
        { "min.compaction.lag.ms", "1000", WEIR_OK, 0 },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(cases); i++) {
        struct weir_log_config c;
        weir_log_config_default(&c);
        char why[256];
        print_message("%s=%s\n", cases[i].key, cases[i].value);
        assert_int_equal(weir_log_config_set(&c, cases[i].key, cases[i].value, why, sizeof why), cases[i].want);
        if (cases[i].policy) assert_int_equal(c.cleanup_policy, cases[i].policy);
    }
    struct weir_log_config c;
    weir_log_config_default(&c);
    assert_int_equal(c.cleanup_policy, WEIR_CLEANUP_DELETE);
    char buf[4096];
    weir_log_config_format(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, "cleanup.policy=delete\n"));
    assert_non_null(strstr(buf, "delete.retention.ms=86400000\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_model),
        cmocka_unit_test(t_nothing),
        cmocka_unit_test(t_gap_at_end),
        cmocka_unit_test(t_crash_states),
        cmocka_unit_test(t_merge),
        cmocka_unit_test(t_merge_crash_states),
        cmocka_unit_test(t_truncate),
        cmocka_unit_test(t_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
