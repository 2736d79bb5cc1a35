/* cli/cli.h: what the client subcommands of `weir` share (cmd_topics.c,
 * cmd_groups.c, cmd_produce.c, cmd_consume.c, cmd_bench.c): the exit-code and one-line-error conventions
 * of cli/weir.c, option helpers, the kcat-style output format, and time
 * parsing for --at. format.c depends on client/client.h and libc only, so a
 * unit test can link it alone. */
#ifndef WEIR_CLI_H
#define WEIR_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "client/client.h"

/* Exit codes, as cli/weir.c: 0 ok, 1 failed while running, 2 bad command line. */
enum { CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

#define CLI_BOOTSTRAP_DEFAULT "localhost:9092"

/* The subcommands (rows of the table in weir.c). argv[0] is the subcommand. */
int cmd_topics(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_groups(int argc, char **argv);
int cmd_produce(int argc, char **argv);
int cmd_consume(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* "weir: <message>" as one line on stderr (control characters become '?');
 * return CLI_EXIT_USAGE / CLI_EXIT_FAILED. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same line without deciding the exit code (warnings while running). */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* getopt_long's '?' or ':' for `command` as one usage line (see weir.c). */
int cli_bad_option(int opt, char **argv, const char *command, const char *known_short);
/* Flushes stdout after --help; a failed write is an error (exit 1). */
int cli_stdout_done(void);
/* A whole-string decimal integer in [min, max]. */
bool cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* Checks a bootstrap list and sets it with the CLI defaults on conf
 * (request.timeout.ms 10000). Usage error line printed on failure: returns false. */
bool cli_conf_bootstrap(struct weir_conf *conf, const char *command, const char *bootstrap);
/* Checks a --bootstrap value; prints the usage line and returns false when bad. */
bool cli_bootstrap_ok(const char *command, const char *bootstrap);
/* Connects an admin client; prints "weir: <command>: ..." and returns NULL on failure. */
struct weir_admin *cli_admin(const char *command, const char *bootstrap);

/* ---- output format (format.c) --------------------------------------------------- */

enum cli_fmt_kind {
    CLI_FMT_LIT,       /* literal bytes */
    CLI_FMT_TOPIC,     /* %t */
    CLI_FMT_PARTITION, /* %p */
    CLI_FMT_OFFSET,    /* %o */
    CLI_FMT_KEY,       /* %k: nothing for a null key */
    CLI_FMT_KEY_LEN,   /* %K: -1 for a null key */
    CLI_FMT_VALUE,     /* %s: nothing for a null value */
    CLI_FMT_VALUE_LEN, /* %S: -1 for a null value */
    CLI_FMT_TIMESTAMP, /* %T: ms since the epoch */
    CLI_FMT_HEADERS,   /* %h: k=v,k2=v2 (a null value prints NULL), as kcat */
};

enum { CLI_FMT_ITEMS_MAX = 64, CLI_FMT_BYTES_MAX = 4096 };

struct cli_fmt_item {
    enum cli_fmt_kind kind;
    size_t lit_off, lit_len; /* CLI_FMT_LIT: bytes in cli_fmt.lit */
};
struct cli_fmt {
    struct cli_fmt_item items[CLI_FMT_ITEMS_MAX];
    size_t n;
    char lit[CLI_FMT_BYTES_MAX]; /* literals, escapes resolved */
    size_t lit_len;
};

/* Parses a kcat-style format: %t %p %o %k %K %s %S %T %h %%, and the escapes
 * \n \r \t \\ \0 \xHH. false with a one-line reason in err. */
bool cli_fmt_parse(const char *s, struct cli_fmt *f, char *err, size_t err_size);
/* Writes one record as the format says. false when the write failed. */
bool cli_fmt_write(FILE *out, const struct cli_fmt *f, const struct weir_consumer_record *r);

/* ---- --format json (json.c) ------------------------------------------------------ */

/* A JSON document built in memory and written to stdout whole by
 * cli_json_emit (then a newline): on failure part way, cli_json_discard
 * instead, so stdout gets nothing. k is the member's name inside an object,
 * NULL inside an array; a NULL string is null. */
enum { CLI_JSON_DEPTH = 16 };
struct cli_json {
    FILE *f;
    char *buf;
    size_t len;
    int depth;
    bool first[CLI_JSON_DEPTH];
    char close[CLI_JSON_DEPTH];
};
bool cli_json_open(struct cli_json *j); /* false: out of memory */
void cli_json_obj(struct cli_json *j, const char *k);
void cli_json_arr(struct cli_json *j, const char *k);
void cli_json_end(struct cli_json *j);
void cli_json_str(struct cli_json *j, const char *k, const char *s);
void cli_json_i64(struct cli_json *j, const char *k, int64_t v);
void cli_json_bool(struct cli_json *j, const char *k, bool v);
void cli_json_null(struct cli_json *j, const char *k);
int cli_json_emit(struct cli_json *j); /* 0, or CLI_EXIT_FAILED with the line printed */
void cli_json_discard(struct cli_json *j);
/* --format text|json; false (with *rc the usage exit) for anything else. */
bool cli_format_parse(const char *command, const char *arg, bool *json, int *rc);

/* --at TIME: ms since the epoch (digits), an ISO 8601 date-time
 * (YYYY-MM-DD[THH:MM[:SS[.fff]]], then Z, +HH:MM or -HH:MM; no zone = UTC),
 * or a moment before now_ms: -N followed by ms, s, m, h or d ("-15m").
 * false when it does not parse. */
bool cli_parse_time(const char *s, int64_t now_ms, int64_t *out_ms);

#endif
