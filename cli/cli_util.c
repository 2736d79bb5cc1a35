/* cli/cli_util.c: the helpers cli.h declares for the client subcommands. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum { LINE_BYTES = 1536, ARG_SHOWN = 160 };

static void line_v(const char *fmt, va_list ap)
{
    char line[LINE_BYTES];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) line[0] = '\0';
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fflush(stdout); /* records first, then the line that explains why they stop */
    fprintf(stderr, "weir: %s\n", line);
}

int cli_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_v(fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_v(fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAILED;
}

void cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_v(fmt, ap);
    va_end(ap);
}

int cli_bad_option(int opt, char **argv, const char *command, const char *known_short)
{
    bool long_opt = optopt == 0 || optopt >= 256 || strchr(known_short, optopt);
    if (!long_opt) return cli_usage("%s: unknown option '-%c' (try 'weir %s --help')", command, optopt, command);
    const char *word = argv[optind - 1];
    if (opt == ':') return cli_usage("%s: option '%.*s' needs a value", command, ARG_SHOWN, word);
    return cli_usage("%s: unknown option '%.*s' (or it takes no value, or is ambiguous; try 'weir %s --help')",
                     command, ARG_SHOWN, word, command);
}

int cli_stdout_done(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "weir: cannot write to standard output\n");
        return CLI_EXIT_FAILED;
    }
    return 0;
}

bool cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

bool cli_conf_bootstrap(struct weir_conf *conf, const char *command, const char *bootstrap)
{
    char why[512];
    if (weir_conf_set(conf, "bootstrap.servers", bootstrap, why, sizeof why) != WEIR_CONF_OK) {
        cli_usage("%s: --bootstrap: %s", command, why);
        return false;
    }
    weir_conf_set(conf, "request.timeout.ms", "10000", NULL, 0);
    return true;
}

bool cli_bootstrap_ok(const char *command, const char *bootstrap)
{
    struct weir_conf *conf = weir_conf_new();
    if (!conf) return true; /* out of memory: the connect reports it */
    bool ok = cli_conf_bootstrap(conf, command, bootstrap);
    weir_conf_destroy(conf);
    return ok;
}

struct weir_admin *cli_admin(const char *command, const char *bootstrap)
{
    struct weir_conf *conf = weir_conf_new();
    if (!conf) {
        cli_fail("%s: out of memory", command);
        return NULL;
    }
    char why[512];
    weir_conf_set(conf, "client.id", "weir-cli", NULL, 0);
    struct weir_admin *a = NULL;
    if (cli_conf_bootstrap(conf, command, bootstrap)) {
        a = weir_admin_new(conf, why, sizeof why);
        if (!a) cli_fail("%s: %s", command, why);
    }
    weir_conf_destroy(conf);
    return a;
}
