/* cli/cmd_consume.c: `weir consume`: reads partitions of one topic with the
 * consumer (client.h) and prints each record with a kcat-style format.
 * Without --group, partitions are assigned directly; the topic and the
 * partitions are checked with one Metadata request first, so a wrong name is
 * one clear line and exit 1 instead of a consumer that waits forever.
 * With --group the consumer subscribes (names or ^patterns) as a member of a
 * consumer group and commits, at least once: the positions of what was
 * printed, after standard output was flushed, every second, before
 * partitions are revoked, and at exit.
 * Stops at --count records, at the end of every partition with --exit, or at
 * SIGINT/SIGTERM; records are flushed before exiting. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    PARTITIONS_MAX = 100000,
    SETS_MAX = 64,
    POLL_MS = 200,
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_PARTITION,
    OPT_FROM_BEGINNING,
    OPT_OFFSET,
    OPT_AT,
    OPT_COUNT,
    OPT_EXIT,
    OPT_FORMAT,
    OPT_SET,
    OPT_GROUP,
    OPT_SHOW_REBALANCES,
    TOPICS_MAX = 64,
    COMMIT_EVERY_MS = 1000,
};

static bool show_rebalances; /* --show-rebalances */

struct consume_args {
    const char *bootstrap;
    const char *topic;
    const char *topics[TOPICS_MAX]; /* every --topic (several only with --group) */
    size_t n_topics;
    const char *group;   /* --group: subscribe as a member */
    const char *assign_opt; /* an option that --group excludes */
    int32_t *partitions; /* NULL: every partition */
    size_t n_partitions;
    int64_t start;       /* WEIR_OFFSET_* or an offset */
    int64_t at_ms;
    const char *start_opt; /* the option that set start, for the "only one" check */
    int64_t tail;        /* --offset -N: N records before the end (0: not asked) */
    int64_t *offsets;    /* with tail: each partition's start */
    int64_t count;       /* -1: no limit */
    bool exit_at_end;
    const char *format;
    const char *sets[SETS_MAX];
    size_t n_sets;
};

static const struct option consume_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "partition", required_argument, NULL, OPT_PARTITION },
    { "from-beginning", no_argument, NULL, OPT_FROM_BEGINNING },
    { "offset", required_argument, NULL, OPT_OFFSET },
    { "at", required_argument, NULL, OPT_AT },
    { "count", required_argument, NULL, OPT_COUNT },
    { "exit", no_argument, NULL, OPT_EXIT },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "set", required_argument, NULL, OPT_SET },
    { "group", required_argument, NULL, OPT_GROUP },
    { "show-rebalances", no_argument, NULL, OPT_SHOW_REBALANCES },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_consume(FILE *out)
{
    fprintf(out,
            "usage: weir consume --topic T [--partition P]... [--from-beginning | --offset N | --at TIME]\n"
            "                    [--count N] [--exit] [--format FMT] [--set KEY=VALUE]...\n"
            "                    [--bootstrap HOST:PORT]\n"
            "       weir consume --group G --topic T... [--from-beginning] [--count N] [--format FMT]\n"
            "                    [--show-rebalances] [--set KEY=VALUE]... [--bootstrap HOST:PORT]\n\n"
            "Prints the records of a topic's partitions (all of them unless --partition says), or,\n"
            "with --group, of the partitions the consumer group G assigns to this member.\n\n"
            "  --topic T             the topic; with --group repeatable, and ^REGEX matches topics\n"
            "  --group G             join consumer group G: start at its committed offsets, commit\n"
            "                        what was printed (at least once) every second, on rebalance\n"
            "                        and at exit; --from-beginning applies where G has no offset\n"
            "  --show-rebalances     with --group: a line on stderr for each rebalance callback,\n"
            "                        'rebalance: assign|revoke T:P ...' (cooperative-sticky: the\n"
            "                        partitions that join or leave; else the whole assignment)\n"
            "  --partition P         a partition; repeatable (default: every partition)\n"
            "  --from-beginning      start at the first record (default: the end, new records only)\n"
            "  --offset N            start at offset N of each partition; -N: N records before\n"
            "                        the end (not before the first)\n"
            "  --at TIME             start at the first record whose timestamp is >= TIME: ms since\n"
            "                        the epoch, 2024-05-01T12:00:00Z (no zone = UTC), or -15m\n"
            "                        (ago; units ms s m h d)\n"
            "  --count N             exit after N records\n"
            "  --exit                exit once every partition has been read to its end\n"
            "  --format FMT          kcat-style: %%t topic, %%p partition, %%o offset, %%k key,\n"
            "                        %%K key length, %%s value, %%S value length, %%T timestamp (ms),\n"
            "                        %%h headers (k=v,...), %%%% a percent sign; \\n \\t \\r \\\\ \\0 \\xHH.\n"
            "                        Default: \"%%s\\n\"\n"
            "  --set KEY=VALUE       a consumer config key (fetch.max.wait.ms, ...); repeatable\n"
            "  --bootstrap HOST:PORT a broker (default " CLI_BOOTSTRAP_DEFAULT ")\n"
            "  -h, --help            this text\n\n"
            "Exit codes: 0 ok (--count reached, --exit at the end, or SIGINT/SIGTERM), 1 failed\n"
            "(broker unreachable, unknown topic, offset out of range, unreadable batches, with\n"
            "--group and --set group.instance.id=ID: another consumer joined with the same ID),\n"
            "2 bad command line.\n");
}

static int set_start(struct consume_args *a, const char *opt, int64_t start)
{
    if (a->start_opt) return cli_usage("consume: %s and %s cannot be used together", a->start_opt, opt);
    a->start_opt = opt;
    a->start = start;
    return 0;
}

static int add_partition(struct consume_args *a, const char *arg)
{
    int64_t p;
    if (!cli_parse_i64(arg, 0, PARTITIONS_MAX - 1, &p))
        return cli_usage("consume: --partition: '%.160s' is not a partition number", arg);
    int32_t *v = realloc(a->partitions, (a->n_partitions + 1) * sizeof *v);
    if (!v) return cli_fail("consume: out of memory");
    a->partitions = v;
    for (size_t i = 0; i < a->n_partitions; i++)
        if (v[i] == (int32_t)p) return cli_usage("consume: --partition %" PRId64 " given twice", p);
    v[a->n_partitions++] = (int32_t)p;
    return 0;
}

static int apply_option(struct consume_args *a, int opt, const char *arg)
{
    int64_t v;
    switch (opt) {
    case OPT_BOOTSTRAP: a->bootstrap = arg; return 0;
    case OPT_TOPIC:
        if (!*arg) return cli_usage("consume: --topic: empty topic name");
        if (a->n_topics == TOPICS_MAX) return cli_usage("consume: more than %d --topic options", TOPICS_MAX);
        a->topics[a->n_topics++] = arg;
        a->topic = arg;
        return 0;
    case OPT_GROUP:
        if (!*arg) return cli_usage("consume: --group: empty group id");
        a->group = arg;
        return 0;
    case OPT_PARTITION:
        a->assign_opt = "--partition";
        return add_partition(a, arg);
    case OPT_FROM_BEGINNING: return set_start(a, "--from-beginning", WEIR_OFFSET_BEGINNING);
    case OPT_OFFSET:
        if (!cli_parse_i64(arg, -INT64_MAX, INT64_MAX, &v) || (arg[0] == '-' && v == 0))
            return cli_usage("consume: --offset: '%.160s' is not an offset (N >= 0, or -N: N before the end)", arg);
        if (v < 0) a->tail = -v;
        a->assign_opt = "--offset";
        return set_start(a, "--offset", v < 0 ? WEIR_OFFSET_END : v);
    case OPT_AT:
        if (!cli_parse_time(arg, (int64_t)time(NULL) * 1000, &a->at_ms))
            return cli_usage("consume: --at: '%.160s' is not a time (ms since the epoch, "
                             "2024-05-01T12:00:00Z, or -15m)", arg);
        a->assign_opt = "--at";
        return set_start(a, "--at", WEIR_OFFSET_TIMESTAMP);
    case OPT_COUNT:
        if (!cli_parse_i64(arg, 1, INT64_MAX, &a->count))
            return cli_usage("consume: --count: '%.160s' is not a number >= 1", arg);
        return 0;
    case OPT_EXIT: a->exit_at_end = true; return 0;
    case OPT_SHOW_REBALANCES: show_rebalances = true; return 0;
    case OPT_FORMAT: a->format = arg; return 0;
    case OPT_SET:
        if (!strchr(arg, '=') || arg[0] == '=') return cli_usage("consume: --set: expected KEY=VALUE, got '%.160s'", arg);
        if (a->n_sets == SETS_MAX) return cli_usage("consume: more than %d --set options", SETS_MAX);
        a->sets[a->n_sets++] = arg;
        return 0;
    default: return 0;
    }
}

/* --group: flush what was printed, then commit its positions; before
 * partitions go, so the next owner starts after what was printed here. */
static void on_rebalance(struct weir_consumer *c, enum weir_rebalance kind, const struct weir_topic_partition *parts,
                         size_t n, void *opaque)
{
    (void)opaque;
    if (show_rebalances) {
        fprintf(stderr, "rebalance: %s", kind == WEIR_REBALANCE_REVOKE ? "revoke" : "assign");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %s:%d", parts[i].topic, (int)parts[i].partition);
        fputc('\n', stderr);
        fflush(stderr);
    }
    if (kind != WEIR_REBALANCE_REVOKE) return;
    if (fflush(stdout) != 0) return; /* not committed: printed records may be lost */
    int err = weir_consumer_commit(c, NULL, 0, 0);
    if (err != 0 && n > 0 && err != WEIR_KAFKA_FENCED_INSTANCE_ID) /* fenced: reported by its own event */
        cli_warn("consume: commit before %zu partitions were revoked: %s", n, weir_client_err_text(err));
    (void)parts;
}

/* The consumer config of the command line: the CLI's settings, then --set in order. */
static bool consume_conf(const struct consume_args *a, struct weir_consumer_conf *cc, char *why, size_t why_size)
{
    weir_consumer_conf_set(cc, "bootstrap.servers", a->bootstrap, NULL, 0);
    weir_consumer_conf_set(cc, "client.id", "weir-cli", NULL, 0);
    weir_consumer_conf_set(cc, "enable.partition.eof", a->exit_at_end ? "true" : "false", NULL, 0);
    if (a->group) {
        weir_consumer_conf_set(cc, "group.id", a->group, NULL, 0);
        weir_consumer_conf_set(cc, "enable.auto.commit", "false", NULL, 0);
        weir_consumer_conf_set(cc, "auto.offset.reset", a->start == WEIR_OFFSET_BEGINNING ? "earliest" : "latest", NULL, 0);
        weir_consumer_conf_set_rebalance_cb(cc, on_rebalance);
    } else {
        weir_consumer_conf_set(cc, "auto.offset.reset", "error", NULL, 0);
    }
    for (size_t i = 0; i < a->n_sets; i++) {
        char key[256];
        const char *eq = strchr(a->sets[i], '=');
        snprintf(key, sizeof key, "%.*s", (int)(eq - a->sets[i]), a->sets[i]);
        if (weir_consumer_conf_set(cc, key, eq + 1, why, why_size) != WEIR_CONF_OK) return false;
    }
    return true;
}

/* -1 to go on, else the exit code. */
static int consume_parse(int argc, char **argv, struct consume_args *a, struct cli_fmt *fmt)
{
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", consume_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return cli_bad_option(opt, argv, "consume", "h");
        if (opt == 'h') {
            usage_consume(stdout);
            return cli_stdout_done();
        }
        int rc = apply_option(a, opt, optarg);
        if (rc != 0) return rc;
    }
    if (optind < argc) return cli_usage("consume: unexpected argument '%.160s'", argv[optind]);
    if (!a->topic) return cli_usage("consume: --topic is required");
    if (a->group && a->assign_opt) return cli_usage("consume: %s cannot be used with --group", a->assign_opt);
    if (a->group && a->exit_at_end) return cli_usage("consume: --exit cannot be used with --group");
    if (!a->group && show_rebalances) return cli_usage("consume: --show-rebalances needs --group");
    if (!a->group && a->n_topics > 1) return cli_usage("consume: one --topic only (several need --group)");
    if (!a->group && a->topic[0] == '^') return cli_usage("consume: a ^pattern topic needs --group");
    char why[256];
    if (!cli_fmt_parse(a->format, fmt, why, sizeof why)) return cli_usage("consume: --format: %s", why);
    if (!cli_bootstrap_ok("consume", a->bootstrap)) return CLI_EXIT_USAGE;
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    bool ok = !cc || consume_conf(a, cc, why, sizeof why);
    weir_consumer_conf_destroy(cc);
    if (!ok) return cli_usage("consume: --set: %s", why);
    return -1;
}

/* --offset -N: each partition starts N before its end, but not before its start. */
static int consume_tail(struct weir_admin *adm, struct consume_args *a)
{
    a->offsets = calloc(a->n_partitions ? a->n_partitions : 1, sizeof *a->offsets);
    if (!a->offsets) return cli_fail("consume: out of memory");
    for (size_t i = 0; i < a->n_partitions; i++) {
        int64_t begin, end;
        if (weir_admin_list_offset(adm, a->topic, a->partitions[i], WEIR_OFFSET_BEGINNING, &begin) != 0 ||
            weir_admin_list_offset(adm, a->topic, a->partitions[i], WEIR_OFFSET_END, &end) != 0)
            return cli_fail("consume: partition %" PRId32 ": %s", a->partitions[i], weir_admin_error(adm));
        a->offsets[i] = end - a->tail > begin ? end - a->tail : begin;
    }
    return 0;
}

/* Checks the topic (and the partitions asked for) with Metadata; fills in
 * every partition when none was asked for; resolves --offset -N.
 * 0 or the exit code. */
static int consume_partitions(struct consume_args *a)
{
    struct weir_admin *adm = cli_admin("consume", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    struct weir_metadata *md = NULL;
    int rc = 0;
    if (weir_admin_metadata(adm, &a->topic, 1, &md) != 0) {
        rc = cli_fail("consume: %s", weir_admin_error(adm));
    } else if (md->topics_count != 1 || md->topics[0].err == 3) {
        rc = cli_fail("consume: topic '%s' does not exist", a->topic);
    } else if (md->topics[0].err != 0) {
        rc = cli_fail("consume: topic '%s': %s", a->topic, weir_client_err_text(md->topics[0].err));
    } else {
        const struct weir_md_topic *t = &md->topics[0];
        for (size_t i = 0; rc == 0 && i < a->n_partitions; i++)
            if ((size_t)a->partitions[i] >= t->partitions_count)
                rc = cli_fail("consume: topic '%s' has no partition %" PRId32 " (it has %zu)", a->topic,
                              a->partitions[i], t->partitions_count);
        if (rc == 0 && a->n_partitions == 0) {
            a->partitions = malloc((t->partitions_count ? t->partitions_count : 1) * sizeof *a->partitions);
            if (!a->partitions) rc = cli_fail("consume: out of memory");
            for (size_t i = 0; a->partitions && i < t->partitions_count; i++) a->partitions[i] = t->partitions[i].id;
            a->n_partitions = a->partitions ? t->partitions_count : 0;
        }
    }
    if (rc == 0 && a->tail > 0) rc = consume_tail(adm, a);
    weir_metadata_destroy(md);
    weir_admin_destroy(adm);
    return rc;
}

static struct weir_consumer *consumer_open(const struct consume_args *a)
{
    struct weir_consumer_conf *cc = weir_consumer_conf_new();
    char why[512];
    struct weir_consumer *c = NULL;
    if (!cc || !consume_conf(a, cc, why, sizeof why)) cli_fail("consume: out of memory");
    else if (!(c = weir_consumer_new(cc, why, sizeof why))) cli_fail("consume: %s", why);
    weir_consumer_conf_destroy(cc);
    return c;
}

static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig) { stop_signal = sig; }

struct consume_state {
    int64_t printed;
    size_t at_end;     /* partitions whose last event was EOF */
    bool *eof;         /* per index in args.partitions */
    int failed;        /* exit code 1 at the end (unreadable batches) */
};

static size_t part_index(const struct consume_args *a, int32_t partition)
{
    for (size_t i = 0; i < a->n_partitions; i++)
        if (a->partitions[i] == partition) return i;
    return a->n_partitions;
}

/* One polled event. Returns 0 to go on, 1 to stop (done), or -exit code. */
static int consume_event(const struct consume_args *a, const struct cli_fmt *fmt, struct consume_state *st,
                         const struct weir_consumer_record *r)
{
    size_t i = part_index(a, r->partition);
    switch (r->event) {
    case WEIR_EVENT_RECORD:
        if (!cli_fmt_write(stdout, fmt, r)) return -cli_fail("consume: cannot write to standard output");
        if (i < a->n_partitions && st->eof[i]) st->eof[i] = false, st->at_end--;
        return ++st->printed == a->count ? 1 : 0;
    case WEIR_EVENT_PARTITION_EOF:
        if (fflush(stdout) != 0) return -cli_fail("consume: cannot write to standard output");
        if (i < a->n_partitions && !st->eof[i]) st->eof[i] = true, st->at_end++;
        return a->exit_at_end && st->at_end == a->n_partitions ? 1 : 0;
    case WEIR_EVENT_ERROR:
    default:
        /* FENCED_INSTANCE_ID: another process took this --set group.instance.id; this one is out for good */
        if (r->err == WEIR_KAFKA_OFFSET_OUT_OF_RANGE || r->err == WEIR_KAFKA_UNKNOWN_TOPIC_OR_PARTITION ||
            r->err == WEIR_KAFKA_FENCED_INSTANCE_ID)
            return -cli_fail("consume: %s", r->errstr);
        cli_warn("consume: %s", r->errstr);
        if (r->partition >= 0) st->failed = CLI_EXIT_FAILED; /* a batch was skipped */
        return 0;
    }
}

static int consume_run(const struct consume_args *a, const struct cli_fmt *fmt, struct weir_consumer *c)
{
    struct weir_partition_start *starts = calloc(a->n_partitions ? a->n_partitions : 1, sizeof *starts);
    struct consume_state st = { 0, 0, calloc(a->n_partitions ? a->n_partitions : 1, sizeof(bool)), 0 };
    int rc = starts && st.eof ? 0 : cli_fail("consume: out of memory");
    for (size_t i = 0; rc == 0 && i < a->n_partitions; i++)
        starts[i] = (struct weir_partition_start){ a->topic, a->partitions[i], a->offsets ? a->offsets[i] : a->start,
                                                   a->at_ms };
    if (rc == 0 && weir_consumer_assign(c, starts, a->n_partitions) != 0) rc = cli_fail("consume: assign failed");
    if (rc == 0 && a->n_partitions == 0 && a->exit_at_end) rc = 1; /* nothing to read */
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (rc == 0 && !stop_signal) {
        struct weir_consumer_record *r = weir_consumer_poll(c, POLL_MS);
        if (!r) {
            if (fflush(stdout) != 0) rc = -cli_fail("consume: cannot write to standard output");
            continue;
        }
        rc = consume_event(a, fmt, &st, r);
        weir_consumer_record_release(r);
    }
    free(starts);
    free(st.eof);
    if (rc < 0) return -rc;
    return st.failed;
}

/* --group: names (not patterns) must exist, as without --group. 0 or the exit code. */
static int consume_group_topics(const struct consume_args *a)
{
    const char *names[TOPICS_MAX];
    int n = 0;
    for (size_t i = 0; i < a->n_topics; i++)
        if (a->topics[i][0] != '^') names[n++] = a->topics[i];
    if (n == 0) return 0;
    struct weir_admin *adm = cli_admin("consume", a->bootstrap);
    if (!adm) return CLI_EXIT_FAILED;
    struct weir_metadata *md = NULL;
    int rc = 0;
    if (weir_admin_metadata(adm, names, (size_t)n, &md) != 0) rc = cli_fail("consume: %s", weir_admin_error(adm));
    for (size_t i = 0; rc == 0 && i < md->topics_count; i++)
        if (md->topics[i].err == 3) rc = cli_fail("consume: topic '%s' does not exist", md->topics[i].name);
        else if (md->topics[i].err != 0)
            rc = cli_fail("consume: topic '%s': %s", md->topics[i].name, weir_client_err_text(md->topics[i].err));
    weir_metadata_destroy(md);
    weir_admin_destroy(adm);
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Flushes standard output, then commits the positions of what was printed.
 * 0 committed, 1 not (tried again later), or -exit code. */
static int group_commit(struct weir_consumer *c)
{
    if (fflush(stdout) != 0) return -cli_fail("consume: cannot write to standard output");
    int err = weir_consumer_commit(c, NULL, 0, 0);
    if (err != 0 && err != WEIR_KAFKA_FENCED_INSTANCE_ID) /* fenced: its error event ends the run */
        cli_warn("consume: commit: %s", weir_client_err_text(err));
    return err != 0;
}

static int consume_group_run(const struct consume_args *a, const struct cli_fmt *fmt, struct weir_consumer *c)
{
    struct consume_state st = { 0, 0, NULL, 0 };
    int err = weir_consumer_subscribe(c, a->topics, a->n_topics);
    if (err != 0) return cli_fail("consume: subscribe: %s", weir_client_err_text(err));
    struct sigaction sa = { .sa_handler = on_stop_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = 0;
    bool dirty = false;
    int64_t last = now_ms();
    while (rc == 0 && !stop_signal) {
        struct weir_consumer_record *r = weir_consumer_poll(c, POLL_MS);
        if (r) {
            dirty = dirty || r->event == WEIR_EVENT_RECORD;
            rc = consume_event(a, fmt, &st, r);
            weir_consumer_record_release(r);
        }
        if (rc == 0 && dirty && (!r || now_ms() - last >= COMMIT_EVERY_MS)) {
            int crc = group_commit(c);
            if (crc < 0) rc = crc;
            dirty = crc != 0; /* a failed commit is tried again */
            last = now_ms();
        }
    }
    if (rc >= 0 && dirty) {
        int crc = group_commit(c);
        if (crc < 0) rc = crc;
    }
    if (rc < 0) return -rc;
    return st.failed;
}

int cmd_consume(int argc, char **argv)
{
    struct consume_args a = { .bootstrap = CLI_BOOTSTRAP_DEFAULT, .start = WEIR_OFFSET_END, .count = -1,
                              .format = "%s\\n" };
    struct cli_fmt *fmt = malloc(sizeof *fmt);
    if (!fmt) return cli_fail("consume: out of memory");
    int rc = consume_parse(argc, argv, &a, fmt);
    if (rc >= 0) {
        free(a.partitions);
        free(fmt);
        return rc; /* --help, or a usage error */
    }
    rc = a.group ? consume_group_topics(&a) : consume_partitions(&a);
    if (rc == 0) {
        struct weir_consumer *c = consumer_open(&a);
        rc = !c ? CLI_EXIT_FAILED : a.group ? consume_group_run(&a, fmt, c) : consume_run(&a, fmt, c);
        weir_consumer_destroy(c);
    }
    free(a.partitions);
    free(a.offsets);
    free(fmt);
    if (rc == 0) rc = cli_stdout_done();
    return rc;
}
