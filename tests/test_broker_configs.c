/* tests/test_broker_configs.c: engine/broker_configs.c, a single node's
 * dynamic broker configs file: round trips, an absent file, refusals of
 * files weir did not write, and every failing syscall of a write leaving the
 * old file whole. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { CAP = WEIR_BROKER_CONFIGS_BYTES };

static char dflt[CAP], self[CAP];

static void write_raw(const char *dir, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/broker-configs.properties", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_absent_is_empty(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bcfg");
    strcpy(dflt, "junk");
    strcpy(self, "junk");
    assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK);
    assert_string_equal(dflt, "");
    assert_string_equal(self, "");
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_round_trip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bcfg");
    const char *d = "log.retention.ms=1000\nlog.cleanup.policy=compact,delete\n", *s = "log.segment.bytes=1048576\n";
    assert_int_equal(weir_broker_configs_write(dir, d, s), WEIR_OK);
    assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK);
    assert_string_equal(dflt, d);
    assert_string_equal(self, s);
    /* replaced whole: a key gone from the new set is gone from the file */
    assert_int_equal(weir_broker_configs_write(dir, "", "compression.type=zstd\n"), WEIR_OK);
    assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK);
    assert_string_equal(dflt, "");
    assert_string_equal(self, "compression.type=zstd\n");
    /* a value may hold '=' and spaces */
    assert_int_equal(weir_broker_configs_write(dir, "k=a=b c\n", ""), WEIR_OK);
    assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK);
    assert_string_equal(dflt, "k=a=b c\n");
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_write_refuses_bad_lines(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bcfg");
    static const char *const bad[] = { "novalue\n", "=v\n", "k=v", "a b=v\n", "k=v\n\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(weir_broker_configs_write(dir, bad[i], ""), WEIR_E_INVALID);
        assert_int_equal(weir_broker_configs_write(dir, "", bad[i]), WEIR_E_INVALID);
    }
    char *big = weir_malloc(CAP + 16);
    memset(big, 'x', CAP + 8);
    memcpy(big, "k=", 2);
    strcpy(big + CAP + 6, "\n");
    assert_int_equal(weir_broker_configs_write(dir, big, ""), WEIR_E_TOO_LARGE);
    weir_free(big);
    assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK); /* nothing was written */
    assert_string_equal(dflt, "");
    tu_rmrf(dir);
    weir_free(dir);
}

static void test_read_refuses_foreign_files(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bcfg");
    static const struct {
        const char *text;
        enum weir_err err;
    } cases[] = {
        { "default.a=1\n", WEIR_E_CORRUPT },                 /* no format line */
        { "format=2\ndefault.a=1\n", WEIR_E_UNSUPPORTED },
        { "format=1\nother.a=1\n", WEIR_E_CORRUPT },
        { "format=1\ndefault.=1\n", WEIR_E_CORRUPT },
        { "format=1\ndefault.a=1", WEIR_E_CORRUPT },         /* torn: no last newline */
        { "# c\n\nformat=1\nbroker.b=2\n", WEIR_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("%s\n", cases[i].text);
        write_raw(dir, cases[i].text);
        strcpy(dflt, "junk");
        assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), cases[i].err);
        assert_string_equal(dflt, "");
        assert_string_equal(self, cases[i].err == WEIR_OK ? "b=2\n" : "");
    }
    tu_rmrf(dir);
    weir_free(dir);
}

/* ---- a write with its nth syscall failing leaves the old file ---- */

static int fail_at, calls;
static bool io_should_fail(void) { return ++calls == fail_at; }
static int f_open(const char *p, int fl, mode_t m) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.open(p, fl, m); }
static ssize_t f_pwrite(int fd, const void *b, size_t n, off_t o)
{
    return io_should_fail() ? (errno = ENOSPC, -1) : weir_io_posix.pwrite(fd, b, n, o);
}
static int f_fsync(int fd) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.fsync(fd); }
static int f_rename(const char *a, const char *b) { return io_should_fail() ? (errno = EIO, -1) : weir_io_posix.rename(a, b); }

static void test_failed_write_keeps_old(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("bcfg");
    assert_int_equal(weir_broker_configs_write(dir, "log.retention.ms=1\n", ""), WEIR_OK);
    struct weir_io_ops ops = weir_io_posix;
    ops.open = f_open, ops.pwrite = f_pwrite, ops.fsync = f_fsync, ops.rename = f_rename;
    int failed = 0;
    for (fail_at = 1; fail_at < 20; fail_at++) {
        calls = 0;
        weir_io = &ops;
        enum weir_err err = weir_broker_configs_write(dir, "log.retention.ms=2\n", "log.segment.bytes=100000\n");
        weir_io = &weir_io_posix;
        assert_int_equal(weir_broker_configs_read(dir, dflt, CAP, self, CAP), WEIR_OK);
        if (err == WEIR_OK) { /* past the last syscall: the new set */
            assert_true(calls < fail_at);
            assert_string_equal(dflt, "log.retention.ms=2\n");
            break;
        }
        failed++;
        if (!strcmp(dflt, "log.retention.ms=2\n")) { /* only the directory's fsync failed: renamed, whole */
            assert_string_equal(self, "log.segment.bytes=100000\n");
            continue;
        }
        assert_string_equal(dflt, "log.retention.ms=1\n"); /* else the old set, whole */
        assert_string_equal(self, "");
    }
    assert_true(failed >= 3); /* open, write, fsync, rename: each failed once */
    tu_rmrf(dir);
    weir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent_is_empty),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_write_refuses_bad_lines),
        cmocka_unit_test(test_read_refuses_foreign_files),
        cmocka_unit_test(test_failed_write_keeps_old),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
