/* cli/weir.c: the `weir` command.
 *
 * `weir <subcommand> [options]`; each subcommand is one row of `commands`
 * and one cmd_* function taking its own argv (argv[0] = the subcommand).
 *
 * Exit codes, for every subcommand:
 *   0  success (and --help, --version)
 *   1  the work itself failed (for serve: weir_broker_run returned an error)
 *   2  the command line or the config file was rejected; nothing was started
 * A rejection is exactly one line on stderr, starting with "weir: ". */
#include "engine/engine.h"
#include "net/net.h"

#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

#ifndef WEIR_VERSION
#define WEIR_VERSION "0.1.0"
#endif

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, WHY_BYTES = 1024, ARG_SHOWN_MAX = 160 };

struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

static int cmd_serve(int argc, char **argv);

static const struct command commands[] = {
    { "serve", "run the broker", cmd_serve },
    { "topics", "create, list, describe, delete topics; add partitions", cmd_topics },
    { "cluster", "brokers, controller, under-replicated and offline partitions", cmd_cluster },
    { "groups", "list, describe, delete consumer groups; reset their offsets", cmd_groups },
    { "produce", "send lines of standard input as records", cmd_produce },
    { "consume", "print the records of a topic", cmd_consume },
    { "bench", "measure the client library: produce or consume throughput, latency", cmd_bench },
};

/* Prints "weir: <message>" as one line on stderr (control characters from
 * arguments become '?') and returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) static int fail_usage(const char *fmt, ...)
{
    char line[WHY_BYTES + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) line[0] = '\0';
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    fprintf(stderr, "weir: %s\n", line);
    return EXIT_USAGE;
}

/* An argument as shown in a message: at most ARG_SHOWN_MAX bytes. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    snprintf(buf, WEIR_MIN(cap, (size_t)ARG_SHOWN_MAX + 1), "%s", s);
    return buf;
}

/* getopt_long's '?' or ':' as one line. `known_short` lists the short options
 * of the command: an optopt among them (or 0, or a long option's value) means
 * the offending word was a long option, left at argv[optind - 1]. */
static int bad_option(int opt, char **argv, const char *command, const char *known_short)
{
    char buf[ARG_SHOWN_MAX + 1];
    const char *space = *command ? " " : "", *colon = *command ? ": " : "";
    bool long_opt = optopt == 0 || optopt >= 256 || strchr(known_short, optopt);
    if (!long_opt)
        return fail_usage("%s%sunknown option '-%c' (try 'weir%s%s --help')", command, colon, optopt, space,
                          command);
    const char *word = shown(argv[optind - 1], buf, sizeof buf);
    if (opt == ':') return fail_usage("%s%soption '%s' needs a value", command, colon, word);
    return fail_usage("%s%sunknown option '%s' (or it takes no value, or is ambiguous; try 'weir%s%s --help')",
                      command, colon, word, space, command);
}

/* Flushes stdout after --help/--version; a failed write is an error too. */
static int stdout_done(void)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "weir: cannot write to standard output\n");
        return EXIT_FAILED;
    }
    return 0;
}

static void usage_top(FILE *out)
{
    fprintf(out, "usage: weir <command> [options]\n"
                 "       weir --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < WEIR_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'weir <command> --help' describes a command's options. Exit codes: 0 ok,\n"
                 "1 failed while running, 2 bad command line or config file.\n");
}

/* ---- weir serve ------------------------------------------------------------------ */

enum serve_opt {
    OPT_LISTEN = 256,
    OPT_ADVERTISE,
    OPT_DATA_DIR,
    OPT_CONFIG,
    OPT_REACTORS,
    OPT_SET,
    OPT_LOG_LEVEL,
};

static const struct option serve_options[] = {
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "advertise", required_argument, NULL, OPT_ADVERTISE },
    { "data-dir", required_argument, NULL, OPT_DATA_DIR },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "reactors", required_argument, NULL, OPT_REACTORS },
    { "set", required_argument, NULL, OPT_SET },
    { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_serve(FILE *out)
{
    fprintf(out,
            "usage: weir serve [--listen HOST:PORT] [--advertise HOST:PORT] [--data-dir DIR]\n"
            "                  [--config FILE] [--reactors N] [--set KEY=VALUE]...\n"
            "                  [--log-level debug|info|warn|error]\n\n"
            "Runs the broker until SIGINT or SIGTERM, then shuts down cleanly.\n\n"
            "  --listen HOST:PORT     address to listen on (listeners; default 127.0.0.1:9092;\n"
            "                         empty HOST = 0.0.0.0, PORT 0 = any free port, [IPv6]:PORT)\n"
            "  --advertise HOST:PORT  address given to clients (advertised.listeners;\n"
            "                         default: the listen address, localhost for 0.0.0.0)\n"
            "  --data-dir DIR         data directory (log.dirs; default ./weir-data)\n"
            "  --config FILE          server.properties-style KEY=VALUE file, read first\n"
            "  --reactors N           reactor threads, 0..256 (weir.reactors; 0 = one per CPU)\n"
            "  --set KEY=VALUE        any config key; repeatable\n"
            "  --log-level LEVEL      debug, info, warn or error (default info)\n"
            "  -h, --help             this text\n\n"
            "Order: defaults, then --config FILE, then the other options left to right.\n"
            "Config keys: docs/operations.md.\n");
}

static bool log_level_parse(const char *s, enum weir_log_level *out)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    static const enum weir_log_level levels[] = { WEIR_LOG_DEBUG, WEIR_LOG_INFO, WEIR_LOG_WARN, WEIR_LOG_ERROR };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = levels[i];
            return true;
        }
    }
    return false;
}

/* HOST:PORT (or a full PLAINTEXT://HOST:PORT) for a listener key: one
 * listener (several: listeners= in --config or --set). */
static int serve_set_listener(struct weir_broker_config *cfg, const char *option, const char *key, const char *arg)
{
    char value[600], why[WHY_BYTES], buf[ARG_SHOWN_MAX + 1];
    if (strchr(arg, ','))
        return fail_usage("%s: '%s' names more than one listener: %s takes one (set %s=... for several)", option,
                          shown(arg, buf, sizeof buf), option, key);
    int n = snprintf(value, sizeof value, "%s%s", strstr(arg, "://") ? "" : "PLAINTEXT://", arg);
    if (n < 0 || (size_t)n >= sizeof value)
        return fail_usage("%s: '%s' is too long", option, shown(arg, buf, sizeof buf));
    if (weir_broker_config_set(cfg, key, value, why, sizeof why) != WEIR_OK)
        return fail_usage("%s: %s", option, why);
    return 0;
}

static int serve_set(struct weir_broker_config *cfg, const char *option, const char *key, const char *value)
{
    char why[WHY_BYTES];
    if (weir_broker_config_set(cfg, key, value, why, sizeof why) != WEIR_OK) return fail_usage("%s: %s", option, why);
    return 0;
}

/* --set KEY=VALUE: split at the first '='. */
static int serve_set_pair(struct weir_broker_config *cfg, const char *arg)
{
    char key[256], buf[ARG_SHOWN_MAX + 1];
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return fail_usage("--set: expected KEY=VALUE, got '%s'", shown(arg, buf, sizeof buf));
    size_t n = (size_t)(eq - arg);
    if (n >= sizeof key) return fail_usage("--set: key in '%s' is too long", shown(arg, buf, sizeof buf));
    memcpy(key, arg, n), key[n] = '\0';
    return serve_set(cfg, "--set", key, eq + 1);
}

/* Applies one option of the second pass (the scan took --config, --help and
 * --log-level). */
static int serve_apply(struct weir_broker_config *cfg, int opt, const char *arg)
{
    switch (opt) {
    case OPT_LISTEN: return serve_set_listener(cfg, "--listen", "listeners", arg);
    case OPT_ADVERTISE: return serve_set_listener(cfg, "--advertise", "advertised.listeners", arg);
    case OPT_DATA_DIR: return serve_set(cfg, "--data-dir", "log.dirs", arg);
    case OPT_REACTORS: return serve_set(cfg, "--reactors", "weir.reactors", arg);
    case OPT_SET: return serve_set_pair(cfg, arg);
    default: return 0; /* --config, --log-level: taken by the scan */
    }
}

/* First pass: checks the syntax, answers --help, finds --config, sets the
 * log level (so that warnings about the config obey it). Returns -1 to go on,
 * else the exit code. */
static int serve_scan(int argc, char **argv, const char **config_path)
{
    enum weir_log_level level = weir_log_get_level();
    char buf[ARG_SHOWN_MAX + 1];
    optind = 0; /* glibc and musl: restart scanning from argv[1] */
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", serve_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return bad_option(opt, argv, "serve", "h");
        if (opt == 'h') {
            usage_serve(stdout);
            return stdout_done();
        }
        if (opt == OPT_CONFIG && *config_path) return fail_usage("serve: --config given more than once");
        if (opt == OPT_CONFIG) *config_path = optarg;
        if (opt == OPT_LOG_LEVEL && !log_level_parse(optarg, &level))
            return fail_usage("--log-level: '%s' is not debug, info, warn or error", shown(optarg, buf, sizeof buf));
    }
    if (optind < argc)
        return fail_usage("serve: unexpected argument '%s' (try 'weir serve --help')",
                          shown(argv[optind], buf, sizeof buf));
    weir_log_set_level(level);
    return -1;
}

/* Defaults, then the file, then the other options in order; then the checks
 * that span keys. Returns -1 to go on, else the exit code. */
static int serve_configure(int argc, char **argv, struct weir_broker_config *cfg)
{
    const char *config_path = NULL;
    int rc = serve_scan(argc, argv, &config_path);
    if (rc >= 0) return rc;
    char why[WHY_BYTES];
    weir_broker_config_default(cfg);
    if (config_path && weir_broker_config_load(cfg, config_path, why, sizeof why) != WEIR_OK)
        return fail_usage("%s", why);
    optind = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", serve_options, NULL)) != -1;) {
        WEIR_ASSERT(opt != '?' && opt != ':' && opt != 'h'); /* the scan answered those */
        rc = serve_apply(cfg, opt, optarg);
        if (rc != 0) return rc;
    }
    if (weir_log_config_check(&cfg->log, why, sizeof why) != WEIR_OK)
        return fail_usage("broker topic defaults: %s", why);
    if (weir_broker_config_check(cfg, why, sizeof why) != WEIR_OK) return fail_usage("%s", why);
    return -1;
}

static int cmd_serve(int argc, char **argv)
{
    /* ~9 KiB: on the heap, so that the stack holds only small things. */
    struct weir_broker_config *cfg = weir_malloc(sizeof *cfg);
    if (!cfg) {
        fprintf(stderr, "weir serve: %s\n", weir_err_text(WEIR_E_NOMEM));
        return EXIT_FAILED;
    }
    int rc = serve_configure(argc, argv, cfg);
    if (rc >= 0) {
        weir_free(cfg);
        return rc;
    }
    /* weir_broker_run waits for SIGINT/SIGTERM itself; every thread it starts
     * inherits this mask, so no thread is killed by the default action. A
     * peer that closes early must not kill us with SIGPIPE either. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int err = pthread_sigmask(SIG_BLOCK, &stop, NULL);
    if (err != 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        fprintf(stderr, "weir: cannot set the signal mask: %s\n", strerror(err ? err : errno));
        weir_free(cfg);
        return EXIT_FAILED;
    }
    char why[1024];
    enum weir_err run_err = weir_broker_run(cfg, why, sizeof why);
    weir_free(cfg);
    if (run_err != WEIR_OK) {
        fprintf(stderr, "weir serve: %s\n", why);
        return EXIT_FAILED;
    }
    return 0;
}

/* ---- dispatch ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct option top_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    char buf[ARG_SHOWN_MAX + 1];
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:hV", top_options, NULL)) != -1;) {
        if (opt == 'h') {
            usage_top(stdout);
            return stdout_done();
        }
        if (opt == 'V') {
            printf("weir %s\n", WEIR_VERSION);
            return stdout_done();
        }
        return bad_option(opt, argv, "", "hV");
    }
    if (optind >= argc) return fail_usage("missing command (try 'weir --help')");
    const char *name = argv[optind];
    for (size_t i = 0; i < WEIR_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].run(argc - optind, argv + optind);
    return fail_usage("unknown command '%s' (try 'weir --help')", shown(name, buf, sizeof buf));
}
