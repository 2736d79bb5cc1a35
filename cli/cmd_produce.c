/* cli/cmd_produce.c: `weir produce`: one record per line of standard input,
 * sent with the producer (client.h). The line's newline is not part of the
 * record; with --key-separator the line is split at the first separator into
 * key and value (a line without it has a null key). The topic is checked
 * first (no auto-creation), so a wrong name is one line and exit 1. Exits
 * once every record is acknowledged or has failed: 0 when all were
 * delivered, 1 (with the first error and a count) otherwise. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    HEADERS_MAX = 256,
    SETS_MAX = 64,
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_KEY_SEPARATOR,
    OPT_HEADER,
    OPT_PARTITION,
    OPT_ACKS,
    OPT_COMPRESSION,
    OPT_SET,
};

struct produce_args {
    const char *bootstrap;
    const char *topic;
    const char *key_sep;  /* NULL: no key */
    struct weir_msg_header headers[HEADERS_MAX];
    size_t n_headers;
    int64_t partition;    /* WEIR_PARTITION_ANY */
    const char *acks, *compression;
    const char *sets[SETS_MAX];
    size_t n_sets;
};

static const struct option produce_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "key-separator", required_argument, NULL, OPT_KEY_SEPARATOR },
    { "header", required_argument, NULL, OPT_HEADER },
    { "partition", required_argument, NULL, OPT_PARTITION },
    { "acks", required_argument, NULL, OPT_ACKS },
    { "compression", required_argument, NULL, OPT_COMPRESSION },
    { "set", required_argument, NULL, OPT_SET },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_produce(FILE *out)
{
    fprintf(out,
            "usage: weir produce --topic T [--key-separator SEP] [--header KEY=VALUE]...\n"
            "                    [--partition P] [--acks 0|1|all] [--compression none|gzip|snappy|lz4|zstd]\n"
            "                    [--set KEY=VALUE]... [--bootstrap HOST:PORT]\n\n"
            "Sends each line of standard input as one record (without its newline).\n\n"
            "  --topic T             the topic (must exist)\n"
            "  --key-separator SEP   split each line at the first SEP into key and value\n"
            "                        (a line without SEP gets a null key)\n"
            "  --header KEY=VALUE    a header on every record; repeatable\n"
            "  --partition P         this partition (default: by key hash, null keys spread)\n"
            "  --acks 0|1|all        acknowledgements to wait for (default all)\n"
            "  --compression C       none, gzip, snappy, lz4 or zstd (default none)\n"
            "  --set KEY=VALUE       a producer config key (linger.ms, batch.size, ...); repeatable\n"
            "  --bootstrap HOST:PORT a broker (default " CLI_BOOTSTRAP_DEFAULT ")\n"
            "  -h, --help            this text\n\n"
            "Exit codes: 0 every record delivered, 1 some failed or the broker is unreachable,\n"
            "2 bad command line.\n");
}

static int add_header(struct produce_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return cli_usage("produce: --header: expected KEY=VALUE, got '%.160s'", arg);
    if (a->n_headers == HEADERS_MAX) return cli_usage("produce: more than %d --header options", HEADERS_MAX);
    a->headers[a->n_headers++] = (struct weir_msg_header){ arg, (size_t)(eq - arg), eq + 1, strlen(eq + 1) };
    return 0;
}

static int apply_option(struct produce_args *a, int opt, const char *arg)
{
    switch (opt) {
    case OPT_BOOTSTRAP: a->bootstrap = arg; return 0;
    case OPT_TOPIC:
        if (!*arg) return cli_usage("produce: --topic: empty topic name");
        a->topic = arg;
        return 0;
    case OPT_KEY_SEPARATOR:
        if (!*arg) return cli_usage("produce: --key-separator: empty separator");
        a->key_sep = arg;
        return 0;
    case OPT_HEADER: return add_header(a, arg);
    case OPT_PARTITION:
        if (!cli_parse_i64(arg, 0, 99999, &a->partition))
            return cli_usage("produce: --partition: '%.160s' is not a partition number", arg);
        return 0;
    case OPT_ACKS: a->acks = arg; return 0;
    case OPT_COMPRESSION: a->compression = arg; return 0;
    case OPT_SET:
        if (!strchr(arg, '=') || arg[0] == '=') return cli_usage("produce: --set: expected KEY=VALUE, got '%.160s'", arg);
        if (a->n_sets == SETS_MAX) return cli_usage("produce: more than %d --set options", SETS_MAX);
        a->sets[a->n_sets++] = arg;
        return 0;
    default: return 0;
    }
}

/* The producer config: the CLI's settings, then --acks, --compression, --set. */
static bool produce_conf(const struct produce_args *a, struct weir_conf *conf, char *why, size_t why_size)
{
    weir_conf_set(conf, "bootstrap.servers", a->bootstrap, NULL, 0);
    weir_conf_set(conf, "client.id", "weir-cli", NULL, 0);
    if (a->acks && weir_conf_set(conf, "acks", a->acks, why, why_size) != WEIR_CONF_OK) return false;
    if (a->compression && weir_conf_set(conf, "compression.type", a->compression, why, why_size) != WEIR_CONF_OK)
        return false;
    for (size_t i = 0; i < a->n_sets; i++) {
        char key[256];
        const char *eq = strchr(a->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->sets[i]), a->sets[i]);
        if (weir_conf_set(conf, key, eq + 1, why, why_size) != WEIR_CONF_OK) return false;
    }
    return true;
}

/* -1 to go on, else the exit code. */
static int produce_parse(int argc, char **argv, struct produce_args *a)
{
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", produce_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return cli_bad_option(opt, argv, "produce", "h");
        if (opt == 'h') {
            usage_produce(stdout);
            return cli_stdout_done();
        }
        int rc = apply_option(a, opt, optarg);
        if (rc != 0) return rc;
    }
    if (optind < argc) return cli_usage("produce: unexpected argument '%.160s'", argv[optind]);
    if (!a->topic) return cli_usage("produce: --topic is required");
    if (!cli_bootstrap_ok("produce", a->bootstrap)) return CLI_EXIT_USAGE;
    struct weir_conf *conf = weir_conf_new();
    char why[512];
    bool ok = !conf || produce_conf(a, conf, why, sizeof why);
    weir_conf_destroy(conf);
    if (!ok) return cli_usage("produce: %s", why);
    return -1;
}

/* The topic must exist, and so must --partition. 0 or the exit code. */
static int produce_check_topic(const struct produce_args *a)
{
    struct weir_admin *adm = cli_admin("produce", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    struct weir_metadata *md = NULL;
    int rc = 0;
    if (weir_admin_metadata(adm, &a->topic, 1, &md) != 0)
        rc = cli_fail("produce: %s", weir_admin_error(adm));
    else if (md->topics_count != 1 || md->topics[0].err == 3)
        rc = cli_fail("produce: topic '%s' does not exist (create it with 'weir topics create')", a->topic);
    else if (md->topics[0].err != 0)
        rc = cli_fail("produce: topic '%s': %s", a->topic, weir_client_err_text(md->topics[0].err));
    else if (a->partition >= 0 && (size_t)a->partition >= md->topics[0].partitions_count)
        rc = cli_fail("produce: topic '%s' has no partition %" PRId64 " (it has %zu)", a->topic, a->partition,
                      md->topics[0].partitions_count);
    weir_metadata_destroy(md);
    weir_admin_destroy(adm);
    return rc;
}

/* Delivery outcomes, written by the Sender thread. */
struct outcome {
    atomic_uint_fast64_t delivered, failed;
    atomic_int first_err;
    atomic_int first_last_err; /* the first failure's last_err (why a timed-out record's last try failed) */
};

static void on_delivery(const struct weir_delivery *d, void *opaque)
{
    struct outcome *o = opaque;
    if (d->err == 0) {
        atomic_fetch_add(&o->delivered, 1);
        return;
    }
    int none = 0;
    if (atomic_compare_exchange_strong(&o->first_err, &none, d->err)) atomic_store(&o->first_last_err, d->last_err);
    atomic_fetch_add(&o->failed, 1);
}

/* Sends one line (without its newline). 0 or the send error. */
static int send_line(struct weir_producer *p, const struct produce_args *a, char *line, size_t len, struct outcome *o)
{
    struct weir_msg m = {
        .topic = a->topic, .partition = a->partition >= 0 ? (int32_t)a->partition : WEIR_PARTITION_ANY,
        .value = line, .value_len = len, .headers = a->n_headers ? a->headers : NULL, .headers_count = a->n_headers,
        .on_delivery = on_delivery, .opaque = o,
    };
    if (a->key_sep) {
        size_t sep_len = strlen(a->key_sep);
        char *sep = memmem(line, len, a->key_sep, sep_len);
        if (sep) {
            m.key = line;
            m.key_len = (size_t)(sep - line);
            m.value = sep + sep_len;
            m.value_len = len - m.key_len - sep_len;
        }
    }
    return weir_producer_send(p, &m);
}

static int produce_run(const struct produce_args *a, struct weir_producer *p)
{
    struct outcome o;
    atomic_init(&o.delivered, 0);
    atomic_init(&o.failed, 0);
    atomic_init(&o.first_err, 0);
    atomic_init(&o.first_last_err, 0);
    char *line = NULL;
    size_t cap = 0;
    uint64_t sent = 0;
    int send_err = 0;
    for (ssize_t n; !send_err && (n = getline(&line, &cap, stdin)) >= 0;) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n') len--;
        send_err = send_line(p, a, line, len, &o);
        if (!send_err) sent++;
    }
    bool read_err = ferror(stdin);
    free(line);
    int close_err = weir_producer_close(p, -1);
    uint64_t failed = atomic_load(&o.failed);
    if (send_err)
        return cli_fail("produce: record %" PRIu64 " not sent: %s", sent + 1, weir_client_err_text(send_err));
    if (read_err) return cli_fail("produce: cannot read standard input");
    int last_err = atomic_load(&o.first_last_err);
    if (failed && last_err) /* timed out retrying: say why, e.g. the broker's disk is full */
        return cli_fail("produce: %" PRIu64 " of %" PRIu64 " records failed: %s; the last try failed with: %s",
                        failed, sent, weir_client_err_text(atomic_load(&o.first_err)),
                        weir_client_err_text(last_err));
    if (failed)
        return cli_fail("produce: %" PRIu64 " of %" PRIu64 " records failed: %s", failed, sent,
                        weir_client_err_text(atomic_load(&o.first_err)));
    if (close_err) return cli_fail("produce: %s", weir_client_err_text(close_err));
    return 0;
}

int cmd_produce(int argc, char **argv)
{
    struct produce_args a = { .bootstrap = CLI_BOOTSTRAP_DEFAULT, .partition = -1 };
    int rc = produce_parse(argc, argv, &a);
    if (rc >= 0) return rc; /* --help, or a usage error */
    rc = produce_check_topic(&a);
    if (rc == 0) {
        struct weir_conf *conf = weir_conf_new();
        char why[512];
        struct weir_producer *p = NULL;
        if (!conf || !produce_conf(&a, conf, why, sizeof why)) rc = cli_fail("produce: out of memory");
        else if (!(p = weir_producer_new(conf, why, sizeof why))) rc = cli_fail("produce: %s", why);
        weir_conf_destroy(conf);
        if (p) rc = produce_run(&a, p);
        weir_producer_destroy(p);
    }
    return rc;
}
