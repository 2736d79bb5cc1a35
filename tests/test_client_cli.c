/* tests/test_client_cli.c: the `weir consume` output format and the --at
 * time parser (cli/format.c, linked into this test alone): every token, null
 * and empty keys and values, headers, escapes, bad formats as errors with a
 * reason, and time strings (ms, ISO 8601 with zones and fractions, relative). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Formats r with fmt into a string (malloc'd, NUL-terminated; *len its bytes). */
static char *render(const char *fmt, const struct weir_consumer_record *r, size_t *len)
{
    struct cli_fmt *f = malloc(sizeof *f);
    char err[256];
    if (!cli_fmt_parse(fmt, f, err, sizeof err)) fail_msg("%s: %s", fmt, err);
    char *out = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&out, &n);
    assert_true(cli_fmt_write(mem, f, r));
    fclose(mem);
    free(f);
    *len = n;
    return out;
}

static void expect(const char *fmt, const struct weir_consumer_record *r, const char *want, size_t want_len)
{
    size_t len;
    char *got = render(fmt, r, &len);
    if (len != want_len || memcmp(got, want, len) != 0) fail_msg("format '%s': got '%.*s'", fmt, (int)len, got);
    free(got);
}
#define EXPECT(fmt, r, want) expect(fmt, r, want, sizeof(want) - 1)

static void test_format_tokens(void **state)
{
    (void)state;
    struct weir_msg_header h[] = { { "a", 1, "1", 1 }, { "b", 1, NULL, 0 }, { "c", 1, "", 0 } };
    struct weir_consumer_record r = {
        .event = WEIR_EVENT_RECORD, .topic = "tp", .partition = 2, .offset = 42, .timestamp = 1700000000123,
        .key = "key", .key_len = 3, .value = "va\0lue", .value_len = 6, .headers = h, .headers_count = 3,
    };
    EXPECT("%s\\n", &r, "va\0lue\n");
    EXPECT("%t/%p/%o", &r, "tp/2/42");
    EXPECT("%k=%s", &r, "key=va\0lue");
    EXPECT("%K %S", &r, "3 6");
    EXPECT("%T", &r, "1700000000123");
    EXPECT("[%h]", &r, "[a=1,b=NULL,c=]");
    EXPECT("100%% %%s", &r, "100% %s");
    EXPECT("\\t\\r\\\\\\x41\\0.", &r, "\t\r\\A\0.");
    EXPECT("", &r, "");
    EXPECT("plain", &r, "plain");
    r.key = NULL, r.key_len = 0, r.value = NULL, r.value_len = 0, r.headers = NULL, r.headers_count = 0;
    EXPECT("<%k><%s><%h>", &r, "<><><>");
    EXPECT("%K %S", &r, "-1 -1");
    r.key = "", r.value = "";
    EXPECT("%K %S", &r, "0 0");
}

static void test_format_errors(void **state)
{
    (void)state;
    static const struct { const char *fmt, *why; } bad[] = {
        { "%", "lone '%'" }, { "abc%", "lone '%'" }, { "%x", "unknown token '%x'" }, { "%Z", "unknown token" },
        { "\\", "lone backslash" }, { "\\q", "unknown escape" }, { "\\x4", "two hex digits" }, { "\\xg1", "two hex" },
    };
    struct cli_fmt *f = malloc(sizeof *f);
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(cli_fmt_parse(bad[i].fmt, f, err, sizeof err));
        if (!strstr(err, bad[i].why)) fail_msg("'%s': '%s' lacks '%s'", bad[i].fmt, err, bad[i].why);
    }
    /* Limits: items and literal bytes. */
    char *many = malloc(2 * CLI_FMT_ITEMS_MAX + 3);
    for (int i = 0; i <= CLI_FMT_ITEMS_MAX; i++) memcpy(many + 2 * i, "%o", 2);
    many[2 * CLI_FMT_ITEMS_MAX + 2] = '\0';
    assert_false(cli_fmt_parse(many, f, err, sizeof err));
    assert_non_null(strstr(err, "too many"));
    free(many);
    char *lit = malloc(CLI_FMT_BYTES_MAX + 2);
    memset(lit, 'x', CLI_FMT_BYTES_MAX + 1);
    lit[CLI_FMT_BYTES_MAX + 1] = '\0';
    assert_false(cli_fmt_parse(lit, f, err, sizeof err));
    lit[CLI_FMT_BYTES_MAX] = '\0';
    assert_true(cli_fmt_parse(lit, f, err, sizeof err));
    free(lit);
    free(f);
}

static void test_parse_time(void **state)
{
    (void)state;
    const int64_t now = 1700000000000;
    static const struct { const char *s; int64_t want; } good[] = {
        { "0", 0 },
        { "1700000000123", 1700000000123 },
        { "1970-01-01", 0 },
        { "1970-01-01T00:00:01Z", 1000 },
        { "2023-11-14T22:13:20Z", 1700000000000 },
        { "2023-11-14T22:13:20.5Z", 1700000000500 },
        { "2023-11-14T22:13:20.123Z", 1700000000123 },
        { "2023-11-14 22:13:20", 1700000000000 },
        { "2023-11-14T22:13", 1699999980000 },
        { "2023-11-15T00:13:20+02:00", 1700000000000 },
        { "2023-11-14T20:13:20-02:00", 1700000000000 },
        { "2000-02-29T00:00:00Z", 951782400000 },
        { "now", now },
        { "-1500ms", now - 1500 },
        { "-10s", now - 10000 },
        { "-15m", now - 900000 },
        { "-2h", now - 7200000 },
        { "-1d", now - 86400000 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t got = -12345;
        if (!cli_parse_time(good[i].s, now, &got) || got != good[i].want)
            fail_msg("'%s': got %lld, want %lld", good[i].s, (long long)got, (long long)good[i].want);
    }
    static const char *const bad[] = {
        "", "-", "-5", "-5y", "--5s", "12ab", "2023-13-01", "2023-11-14T25:00", "2023-11-14T22:13:20+2",
        "2023-11-14Tx", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk", "99999999999999999999", "soon",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t got;
        if (cli_parse_time(bad[i], now, &got)) fail_msg("'%s' parsed as %lld", bad[i], (long long)got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_tokens),
        cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
