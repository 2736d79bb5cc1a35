/* cli/cmd_groups.c: `weir groups list|describe|reset|delete|delete-offsets`, over the admin
 * client's group calls (client.h), after kafka-consumer-groups.sh: list
 * prints one group per line, sorted; describe and reset print tables whose
 * columns are separated by spaces, "-" where a value is unknown. reset is a
 * dry run unless --execute, which commits the new offsets as an admin
 * (generation -1): refused while the group has members, as Kafka does.
 * New offsets are clamped to [log start, log end], as Kafka's tool does. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    GROUPS_MAX = 256,
    PARTS_MAX = 100000,
    CELL = 512, /* bytes per table cell */
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_PARTITION,
    OPT_TO_EARLIEST,
    OPT_TO_LATEST,
    OPT_TO_OFFSET,
    OPT_TO_DATETIME,
    OPT_SHIFT_BY,
    OPT_EXECUTE,
    OPT_GROUP,
    OPT_FORMAT,
};

#define BIT(o) (1u << ((o) - OPT_BOOTSTRAP))
#define RESET_MODES (BIT(OPT_TO_EARLIEST) | BIT(OPT_TO_LATEST) | BIT(OPT_TO_OFFSET) | BIT(OPT_TO_DATETIME) | BIT(OPT_SHIFT_BY))

struct groups_args {
    const char *command; /* "groups <action>" */
    const char *bootstrap;
    const char *groups[GROUPS_MAX];
    size_t n_groups;
    const char *topic;
    int32_t *parts; /* --partition, sorted, unique */
    size_t n_parts;
    int mode;       /* OPT_TO_* / OPT_SHIFT_BY, 0 none */
    int64_t value;  /* --to-offset, --shift-by, --to-datetime (ms) */
    bool execute;
    bool json; /* --format json */
    const char *topics[GROUPS_MAX]; /* delete-offsets: --topic T[:P,...], repeatable */
    size_t n_topics;
};

struct action {
    const char *name;
    unsigned options;            /* BIT()s besides --bootstrap and --help */
    size_t min_groups, max_groups;
    int (*run)(struct weir_admin *a, const struct groups_args *args);
};

static int run_list(struct weir_admin *a, const struct groups_args *args);
static int run_describe(struct weir_admin *a, const struct groups_args *args);
static int run_reset(struct weir_admin *a, const struct groups_args *args);
static int run_delete(struct weir_admin *a, const struct groups_args *args);
static int run_delete_offsets(struct weir_admin *a, const struct groups_args *args);

static const struct action actions[] = {
    { "list", BIT(OPT_FORMAT), 0, 0, run_list },
    { "describe", BIT(OPT_FORMAT), 1, GROUPS_MAX, run_describe },
    { "reset", BIT(OPT_TOPIC) | BIT(OPT_PARTITION) | RESET_MODES | BIT(OPT_EXECUTE), 1, 1, run_reset },
    { "delete", 0, 1, GROUPS_MAX, run_delete },
    { "delete-offsets", BIT(OPT_GROUP) | BIT(OPT_TOPIC), 0, 0, run_delete_offsets },
};

static const struct option groups_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "partition", required_argument, NULL, OPT_PARTITION },
    { "to-earliest", no_argument, NULL, OPT_TO_EARLIEST },
    { "to-latest", no_argument, NULL, OPT_TO_LATEST },
    { "to-offset", required_argument, NULL, OPT_TO_OFFSET },
    { "to-datetime", required_argument, NULL, OPT_TO_DATETIME },
    { "shift-by", required_argument, NULL, OPT_SHIFT_BY },
    { "execute", no_argument, NULL, OPT_EXECUTE },
    { "group", required_argument, NULL, OPT_GROUP },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_groups(FILE *out)
{
    fprintf(out,
            "usage: weir groups list [--format json]\n"
            "       weir groups describe GROUP... [--format json]\n"
            "       weir groups reset GROUP --topic T (--to-earliest | --to-latest | --to-offset N |\n"
            "                         --to-datetime TIME | --shift-by N) [--partition P]... [--execute]\n"
            "       weir groups delete GROUP...\n"
            "       weir groups delete-offsets --group G --topic T[:P,P...]...\n\n"
            "Administers consumer groups. Every action takes --bootstrap HOST:PORT (default " CLI_BOOTSTRAP_DEFAULT ").\n\n"
            "  list                  the groups, one per line\n"
            "  describe              state, members (client id, host, partitions) and, per partition,\n"
            "                        the committed offset, the log end offset and the lag\n"
            "  reset                 prints, per partition, the committed offset and the new one;\n"
            "                        commits the new ones only with --execute, and only while the\n"
            "                        group has no members\n"
            "  delete                deletes groups without members, with their committed offsets\n"
            "  delete-offsets        deletes the group's committed offsets of the partitions named\n"
            "                        (a topic alone: all its partitions); refused per partition\n"
            "                        while a member of the group subscribes to its topic\n\n"
            "  --group G             delete-offsets: the group\n"
            "  --topic T             reset: the topic (all its partitions unless --partition);\n"
            "                        delete-offsets: T or T:P,P,... (repeatable)\n"
            "  --partition P         reset: only partition P (repeatable, or P,P,...)\n"
            "  --to-earliest         reset: to the log start offset\n"
            "  --to-latest           reset: to the log end offset\n"
            "  --to-offset N         reset: to offset N\n"
            "  --to-datetime TIME    reset: to the first record with timestamp >= TIME (ISO 8601\n"
            "                        2024-01-31T12:00:00Z, ms since the epoch, or -15m); the log\n"
            "                        end when there is none\n"
            "  --shift-by N          reset: the committed offset plus N (N may be negative)\n"
            "  --execute             reset: commit (without it: a dry run)\n"
            "  --format text|json    list, describe: text (default) or one JSON document\n"
            "                        (fields in docs/operations.md)\n"
            "  -h, --help            this text\n\n"
            "New offsets are clamped to [log start, log end]. Exit codes: 0 ok, 1 the broker refused\n"
            "or could not be reached (or the group has members, for reset --execute), 2 bad command\n"
            "line.\n");
}

static const char *option_name(int opt)
{
    for (const struct option *o = groups_options; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

static int i32_cmp(const void *x, const void *y)
{
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    return (a > b) - (a < b);
}

/* --partition P[,P...] */
static int add_partitions(struct groups_args *args, const char *arg)
{
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char num[32];
        int64_t v;
        if (len == 0 || len >= sizeof num) v = -1;
        else {
            memcpy(num, p, len);
            num[len] = '\0';
            if (!cli_parse_i64(num, 0, INT32_MAX, &v)) v = -1;
        }
        if (v < 0) return cli_usage("%s: --partition: '%.160s' is not a partition number (0 or more)", args->command, arg);
        if (args->n_parts == PARTS_MAX) return cli_usage("%s: more than %d partitions", args->command, PARTS_MAX);
        if (!args->parts && !(args->parts = malloc(PARTS_MAX * sizeof *args->parts)))
            return cli_fail("%s: out of memory", args->command);
        args->parts[args->n_parts++] = (int32_t)v;
        if (!comma) return 0;
        p = comma + 1;
    }
}

static int set_mode(struct groups_args *args, int opt, const char *arg)
{
    if (args->mode && args->mode != opt)
        return cli_usage("%s: --%s and --%s cannot be combined (one reset mode)", args->command,
                         option_name(args->mode), option_name(opt));
    args->mode = opt;
    switch (opt) {
    case OPT_TO_OFFSET:
        if (!cli_parse_i64(arg, 0, INT64_MAX, &args->value))
            return cli_usage("%s: --to-offset: '%.160s' is not an offset (0 or more)", args->command, arg);
        break;
    case OPT_SHIFT_BY:
        if (!cli_parse_i64(arg, INT64_MIN, INT64_MAX, &args->value))
            return cli_usage("%s: --shift-by: '%.160s' is not an integer", args->command, arg);
        break;
    case OPT_TO_DATETIME: {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (!cli_parse_time(arg, now, &args->value) || args->value < 0)
            return cli_usage("%s: --to-datetime: '%.160s' is not a time (2024-01-31T12:00:00Z, ms since the "
                             "epoch, or -15m)", args->command, arg);
        break;
    }
    default: break;
    }
    return 0;
}

static int apply_option(struct groups_args *args, int opt, const char *arg)
{
    switch (opt) {
    case OPT_BOOTSTRAP: args->bootstrap = arg; return 0;
    case OPT_GROUP:
        if (!*arg) return cli_usage("%s: --group: empty group name", args->command);
        args->groups[0] = arg, args->n_groups = 1;
        return 0;
    case OPT_TOPIC:
        if (!*arg || *arg == ':') return cli_usage("%s: --topic: empty topic name", args->command);
        if (!strcmp(args->command, "groups delete-offsets")) {
            if (args->n_topics == GROUPS_MAX) return cli_usage("%s: more than %d --topic", args->command, GROUPS_MAX);
            const char *colon = strchr(arg, ':');
            struct groups_args check = { .command = args->command };
            int rc = colon ? add_partitions(&check, colon + 1) : 0; /* a bad list is a bad command line */
            free(check.parts);
            args->topics[args->n_topics++] = arg;
            return rc;
        }
        if (args->topic) return cli_usage("%s: one --topic at a time", args->command);
        args->topic = arg;
        return 0;
    case OPT_PARTITION: return add_partitions(args, arg);
    case OPT_EXECUTE: args->execute = true; return 0;
    case OPT_FORMAT: {
        int rc = 0;
        return cli_format_parse(args->command, arg, &args->json, &rc) ? 0 : rc;
    }
    default: return set_mode(args, opt, arg);
    }
}

/* Parses the options of `act`. -1 to go on, else the exit code. */
static int groups_parse(int argc, char **argv, const struct action *act, struct groups_args *args)
{
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, ":h", groups_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return cli_bad_option(opt, argv, args->command, "h");
        if (opt == 'h') {
            usage_groups(stdout);
            return cli_stdout_done();
        }
        if (opt != OPT_BOOTSTRAP && !(act->options & BIT(opt)))
            return cli_usage("%s: option --%s does not apply (try 'weir groups --help')", args->command,
                             option_name(opt));
        int rc = apply_option(args, opt, optarg);
        if (rc != 0) return rc;
    }
    for (int i = optind; i < argc; i++) {
        if (act->max_groups == 0) return cli_usage("%s: unexpected argument '%.160s'", args->command, argv[i]);
        if (args->n_groups == act->max_groups)
            return act->max_groups == 1
                       ? cli_usage("%s: one group at a time (unexpected argument '%.160s')", args->command, argv[i])
                       : cli_usage("%s: more than %zu groups", args->command, act->max_groups);
        if (!*argv[i]) return cli_usage("%s: empty group name", args->command);
        args->groups[args->n_groups++] = argv[i];
    }
    if (args->n_groups < act->min_groups) return cli_usage("%s: GROUP is required", args->command);
    if (act->run == run_delete_offsets && (!args->n_groups || !args->n_topics))
        return cli_usage("%s: --group and --topic are required", args->command);
    if (act->run == run_reset) {
        if (!args->topic) return cli_usage("%s: --topic is required", args->command);
        if (!args->mode)
            return cli_usage("%s: one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by is "
                             "required", args->command);
    }
    if (args->n_parts > 1) {
        qsort(args->parts, args->n_parts, sizeof *args->parts, i32_cmp);
        size_t k = 1;
        for (size_t i = 1; i < args->n_parts; i++)
            if (args->parts[i] != args->parts[k - 1]) args->parts[k++] = args->parts[i];
        args->n_parts = k;
    }
    if (!cli_bootstrap_ok(args->command, args->bootstrap)) return CLI_EXIT_USAGE;
    return -1;
}

int cmd_groups(int argc, char **argv)
{
    if (argc < 2) return cli_usage("groups: missing action: list, describe, reset, delete or delete-offsets");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage_groups(stdout);
        return cli_stdout_done();
    }
    const struct action *act = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(actions[i].name, argv[1])) act = &actions[i];
    if (!act) return cli_usage("groups: unknown action '%.160s' (list, describe, reset, delete, delete-offsets)", argv[1]);
    char command[64];
    snprintf(command, sizeof command, "groups %s", act->name);
    struct groups_args args = { .command = command, .bootstrap = CLI_BOOTSTRAP_DEFAULT };
    int rc = groups_parse(argc - 1, argv + 1, act, &args);
    if (rc < 0) {
        struct weir_admin *a = cli_admin(command, args.bootstrap);
        rc = a ? act->run(a, &args) : CLI_EXIT_FAILED;
        weir_admin_destroy(a);
    }
    free(args.parts);
    if (rc == 0) rc = cli_stdout_done();
    return rc;
}

/* ---- tables ----------------------------------------------------------------------------- */

/* Rows of cells, printed with every column as wide as its widest cell. */
struct table {
    size_t cols, rows, cap;
    char (*cells)[CELL]; /* rows * cols */
};

static bool table_row(struct table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        void *p = realloc(t->cells, cap * t->cols * sizeof *t->cells);
        if (!p) return false;
        t->cells = p;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->cols; c++) {
        snprintf(t->cells[t->rows * t->cols + c], CELL, "%s", cells[c] && *cells[c] ? cells[c] : "-");
        /* one word per cell: a space would shift the columns for readers that split on blanks */
        for (char *p = t->cells[t->rows * t->cols + c]; *p; p++)
            if (*p == ' ' || *p == '\t' || (unsigned char)*p < 0x20) *p = '_';
    }
    t->rows++;
    return true;
}

static void table_print(const struct table *t)
{
    size_t w[16] = { 0 };
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            size_t len = strlen(t->cells[r * t->cols + c]);
            if (len > w[c]) w[c] = len;
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            if (c + 1 == t->cols) printf("%s\n", s);
            else printf("%-*s  ", (int)w[c], s);
        }
    }
}

static void table_free(struct table *t) { free(t->cells); }

static const char *i64_str(char *buf, int64_t v)
{
    if (v < 0) return "-";
    snprintf(buf, 24, "%" PRId64, v);
    return buf;
}

static int request_failed(struct weir_admin *a, const struct groups_args *args)
{
    return cli_fail("%s: %s", args->command, weir_admin_error(a));
}

/* ---- list, delete ------------------------------------------------------------------------ */

static int run_list(struct weir_admin *a, const struct groups_args *args)
{
    struct weir_group_list *l;
    if (weir_admin_list_groups(a, &l) != 0) return request_failed(a, args);
    int rc = 0;
    if (args->json) { /* {"groups": [{"group_id", "protocol_type"}]}, sorted by id */
        struct cli_json j;
        if (!cli_json_open(&j)) {
            weir_group_list_destroy(l);
            return cli_fail("%s: out of memory", args->command);
        }
        cli_json_obj(&j, NULL);
        cli_json_arr(&j, "groups");
        for (size_t i = 0; i < l->groups_count; i++) {
            cli_json_obj(&j, NULL);
            cli_json_str(&j, "group_id", l->groups[i].group_id);
            cli_json_str(&j, "protocol_type", l->groups[i].protocol_type);
            cli_json_end(&j);
        }
        cli_json_end(&j);
        cli_json_end(&j);
        rc = cli_json_emit(&j);
    }
    for (size_t i = 0; !args->json && i < l->groups_count; i++) printf("%s\n", l->groups[i].group_id);
    weir_group_list_destroy(l);
    return rc;
}

static int run_delete(struct weir_admin *a, const struct groups_args *args)
{
    struct weir_admin_result res[GROUPS_MAX];
    if (weir_admin_delete_groups(a, args->groups, args->n_groups, res) != 0) return request_failed(a, args);
    int rc = 0;
    for (size_t i = 0; i < args->n_groups; i++) {
        const char *g = args->groups[i];
        if (res[i].err == 0) printf("Deleted group %s.\n", g);
        else if (res[i].err == 69) rc = cli_fail("%s: group '%s' does not exist", args->command, g);
        else if (res[i].err == 68) rc = cli_fail("%s: group '%s' has active members: stop them first", args->command, g);
        else rc = cli_fail("%s: group '%s': %s", args->command, g, res[i].message);
    }
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------ */

/* The log end offset of topic/partition, -1 when it cannot be had. */
static int64_t log_end(struct weir_admin *a, const char *topic, int32_t partition)
{
    int64_t off;
    return weir_admin_list_offset(a, topic, partition, WEIR_OFFSET_END, &off) == 0 ? off : -1;
}

struct drow {
    const char *topic;
    int32_t partition;
    int64_t committed; /* -1 none */
    const struct weir_group_member *member;
};

static int drow_cmp(const void *x, const void *y)
{
    const struct drow *a = x, *b = y;
    int c = strcmp(a->topic, b->topic);
    return c ? c : (a->partition > b->partition) - (a->partition < b->partition);
}

/* Members by client id, then member id. */
static int member_cmp(const void *x, const void *y)
{
    const struct weir_group_member *a = *(const struct weir_group_member *const *)x;
    const struct weir_group_member *b = *(const struct weir_group_member *const *)y;
    int c = strcmp(a->client_id, b->client_id);
    return c ? c : strcmp(a->member_id, b->member_id);
}

static void json_i64_or_null(struct cli_json *j, const char *k, int64_t v)
{
    if (v < 0) cli_json_null(j, k);
    else cli_json_i64(j, k, v);
}

/* One group of describe --format json (its rows sorted). */
static void describe_json(struct weir_admin *a, const struct weir_group_description *d, const struct drow *rows,
                          size_t k, struct cli_json *j)
{
    cli_json_obj(j, NULL);
    cli_json_str(j, "group_id", d->group_id);
    cli_json_str(j, "state", d->state);
    cli_json_str(j, "protocol_type", d->protocol_type);
    cli_json_str(j, "protocol", d->protocol);
    int64_t total = 0;
    cli_json_arr(j, "offsets");
    for (size_t i = 0; i < k; i++) {
        const struct drow *r = &rows[i];
        int64_t end = log_end(a, r->topic, r->partition);
        int64_t lag = end >= 0 && r->committed >= 0 ? (end > r->committed ? end - r->committed : 0) : -1;
        if (lag > 0) total += lag;
        cli_json_obj(j, NULL);
        cli_json_str(j, "topic", r->topic);
        cli_json_i64(j, "partition", r->partition);
        json_i64_or_null(j, "current_offset", r->committed);
        json_i64_or_null(j, "log_end_offset", end);
        json_i64_or_null(j, "lag", lag);
        cli_json_str(j, "member_id", r->member ? r->member->member_id : NULL);
        cli_json_str(j, "client_id", r->member ? r->member->client_id : NULL);
        cli_json_str(j, "host", r->member ? r->member->client_host : NULL);
        cli_json_end(j);
    }
    cli_json_end(j);
    cli_json_i64(j, "total_lag", total);
    cli_json_arr(j, "members");
    for (size_t m = 0; m < d->members_count; m++) {
        const struct weir_group_member *mb = &d->members[m];
        cli_json_obj(j, NULL);
        cli_json_str(j, "member_id", mb->member_id);
        cli_json_str(j, "client_id", mb->client_id);
        cli_json_str(j, "host", mb->client_host);
        if (mb->assignment_err) {
            cli_json_null(j, "assignment"); /* not a consumer assignment */
        } else {
            cli_json_arr(j, "assignment");
            for (size_t a2 = 0; a2 < mb->assignment_count; a2++) {
                cli_json_obj(j, NULL);
                cli_json_str(j, "topic", mb->assignment[a2].topic);
                cli_json_i64(j, "partition", mb->assignment[a2].partition);
                cli_json_end(j);
            }
            cli_json_end(j);
        }
        cli_json_end(j);
    }
    cli_json_end(j);
    cli_json_end(j);
}

static int describe_one(struct weir_admin *a, const struct groups_args *args, const struct weir_group_description *d,
                        struct cli_json *json)
{
    const char *g = d->group_id;
    if (d->err != 0) return cli_fail("%s: group '%s': %s", args->command, g, weir_client_err_text(d->err));
    struct weir_group_offsets *off;
    if (weir_admin_group_offsets(a, g, NULL, 0, &off) != 0) return request_failed(a, args);
    if (!strcmp(d->state, "Dead") && off->parts_count == 0) {
        weir_group_offsets_destroy(off);
        return cli_fail("%s: group '%s' does not exist", args->command, g);
    }
    /* Rows: every assigned partition and every committed one. */
    size_t n = off->parts_count;
    for (size_t m = 0; m < d->members_count; m++) n += d->members[m].assignment_count;
    struct drow *rows = malloc((n ? n : 1) * sizeof *rows);
    struct table pt = { .cols = 9 }, mt = { .cols = 5 };
    int rc = rows ? 0 : cli_fail("%s: out of memory", args->command);
    size_t k = 0;
    for (size_t m = 0; rows && m < d->members_count; m++)
        for (size_t j = 0; j < d->members[m].assignment_count; j++)
            rows[k++] = (struct drow){ d->members[m].assignment[j].topic, d->members[m].assignment[j].partition, -1,
                                       &d->members[m] };
    for (size_t i = 0; rows && i < off->parts_count; i++) {
        const struct weir_topic_partition *p = &off->parts[i];
        size_t j = 0;
        while (j < k && !(rows[j].partition == p->partition && !strcmp(rows[j].topic, p->topic))) j++;
        if (j == k) rows[k++] = (struct drow){ p->topic, p->partition, -1, NULL };
        if (p->err == 0) rows[j].committed = p->offset;
    }
    if (rows) qsort(rows, k, sizeof *rows, drow_cmp);
    if (json) {
        if (rows) describe_json(a, d, rows, k, json);
        free(rows);
        weir_group_offsets_destroy(off);
        return rc;
    }

    printf("Group: %s  State: %s  Protocol: %s%s%s  Members: %zu\n\n", g, d->state,
           *d->protocol_type ? d->protocol_type : "-", *d->protocol ? "/" : "", d->protocol, d->members_count);
    static const char *const phead[] = { "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG",
                                         "CONSUMER-ID", "HOST", "CLIENT-ID" };
    bool ok = rc == 0 && table_row(&pt, phead);
    int64_t total = 0;
    for (size_t i = 0; ok && i < k; i++) {
        const struct drow *r = &rows[i];
        int64_t end = log_end(a, r->topic, r->partition);
        int64_t lag = end >= 0 && r->committed >= 0 ? (end > r->committed ? end - r->committed : 0) : -1;
        if (lag > 0) total += lag;
        char part[16], cur[24], le[24], lg[24];
        snprintf(part, sizeof part, "%" PRId32, r->partition);
        const char *cells[] = { g, r->topic, part, i64_str(cur, r->committed), i64_str(le, end), i64_str(lg, lag),
                                r->member ? r->member->member_id : NULL, r->member ? r->member->client_host : NULL,
                                r->member ? r->member->client_id : NULL };
        ok = table_row(&pt, cells);
    }
    if (ok) {
        table_print(&pt);
        printf("\nTotal lag: %" PRId64 "\n", total);
    }
    static const char *const mhead[] = { "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT" };
    if (ok && d->members_count > 0) ok = table_row(&mt, mhead);
    const struct weir_group_member **order = malloc((d->members_count ? d->members_count : 1) * sizeof *order);
    ok = ok && order;
    for (size_t m = 0; ok && m < d->members_count; m++) order[m] = &d->members[m];
    if (ok) qsort(order, d->members_count, sizeof *order, member_cmp);
    for (size_t m = 0; ok && m < d->members_count; m++) {
        const struct weir_group_member *mb = order[m];
        char count[24], assign[CELL];
        size_t used = 0;
        assign[0] = '\0';
        if (mb->assignment_err) snprintf(assign, sizeof assign, "(not a consumer assignment)");
        for (size_t j = 0; j < mb->assignment_count && used < sizeof assign; j++) {
            const struct weir_group_tp *tp = &mb->assignment[j];
            bool new_topic = j == 0 || strcmp(tp->topic, mb->assignment[j - 1].topic);
            int w = new_topic ? snprintf(assign + used, sizeof assign - used, "%s%s:%" PRId32, j ? ";" : "",
                                         tp->topic, tp->partition)
                              : snprintf(assign + used, sizeof assign - used, ",%" PRId32, tp->partition);
            used += w > 0 ? (size_t)w : 0;
        }
        snprintf(count, sizeof count, "%zu", mb->assignment_count);
        const char *cells[] = { mb->member_id, mb->client_host, mb->client_id, count, assign };
        ok = table_row(&mt, cells);
    }
    if (ok && d->members_count > 0) {
        printf("\n");
        table_print(&mt);
    }
    if (!ok && rc == 0) rc = cli_fail("%s: out of memory", args->command);
    table_free(&pt);
    table_free(&mt);
    free(order);
    free(rows);
    weir_group_offsets_destroy(off);
    return rc;
}

static int run_describe(struct weir_admin *a, const struct groups_args *args)
{
    struct weir_group_descriptions *ds;
    if (weir_admin_describe_groups(a, args->groups, args->n_groups, &ds) != 0) return request_failed(a, args);
    int rc = 0;
    struct cli_json j;
    if (args->json && !cli_json_open(&j)) rc = cli_fail("%s: out of memory", args->command);
    if (args->json && rc == 0) cli_json_obj(&j, NULL), cli_json_arr(&j, "groups");
    for (size_t i = 0; rc == 0 && i < ds->groups_count; i++) {
        if (i && !args->json) printf("\n");
        rc = describe_one(a, args, &ds->groups[i], args->json ? &j : NULL);
    }
    if (args->json && rc == 0) {
        cli_json_end(&j);
        cli_json_end(&j);
        rc = cli_json_emit(&j);
    } else if (args->json) {
        cli_json_discard(&j);
    }
    weir_group_descriptions_destroy(ds);
    return rc;
}

/* ---- reset ---------------------------------------------------------------------------------- */

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The partitions to reset: --partition's (each must exist) or all of the topic's. */
static int reset_partitions(struct weir_admin *a, const struct groups_args *args, int32_t **out, size_t *n)
{
    struct weir_metadata *md;
    if (weir_admin_metadata(a, &args->topic, 1, &md) != 0) return request_failed(a, args);
    const struct weir_md_topic *t = md->topics_count == 1 ? &md->topics[0] : NULL;
    int rc = 0;
    if (!t || t->err == 3) rc = cli_fail("%s: topic '%s' does not exist", args->command, args->topic);
    else if (t->err != 0) rc = cli_fail("%s: topic '%s': %s", args->command, args->topic, weir_client_err_text(t->err));
    size_t count = rc ? 0 : args->n_parts ? args->n_parts : t->partitions_count;
    int32_t *ps = rc ? NULL : malloc((count ? count : 1) * sizeof *ps);
    if (!rc && !ps) rc = cli_fail("%s: out of memory", args->command);
    for (size_t i = 0; ps && rc == 0 && i < count; i++) {
        if (!args->n_parts) {
            ps[i] = t->partitions[i].id;
            continue;
        }
        ps[i] = args->parts[i];
        bool found = false;
        for (size_t j = 0; j < t->partitions_count && !found; j++) found = t->partitions[j].id == ps[i];
        if (!found)
            rc = cli_fail("%s: topic '%s' has no partition %" PRId32 " (it has %zu)", args->command, args->topic,
                          ps[i], t->partitions_count);
    }
    weir_metadata_destroy(md);
    if (rc) {
        free(ps);
        return rc;
    }
    *out = ps;
    *n = count;
    return 0;
}

/* Refuses --execute while the group has members. */
static int reset_check_inactive(struct weir_admin *a, const struct groups_args *args)
{
    struct weir_group_descriptions *ds;
    if (weir_admin_describe_groups(a, args->groups, 1, &ds) != 0) return request_failed(a, args);
    const struct weir_group_description *d = &ds->groups[0];
    int rc = 0;
    if (d->err != 0) rc = cli_fail("%s: group '%s': %s", args->command, d->group_id, weir_client_err_text(d->err));
    else if (d->members_count > 0)
        rc = cli_fail("%s: group '%s' has %zu active member%s (state %s): offsets can only be reset while it has "
                      "none; stop its consumers first", args->command, d->group_id, d->members_count,
                      d->members_count == 1 ? "" : "s", d->state);
    weir_group_descriptions_destroy(ds);
    return rc;
}

static int run_reset(struct weir_admin *a, const struct groups_args *args)
{
    const char *g = args->groups[0];
    int rc = args->execute ? reset_check_inactive(a, args) : 0;
    int32_t *ps = NULL;
    size_t n = 0;
    if (rc == 0) rc = reset_partitions(a, args, &ps, &n);
    if (rc != 0) return rc;
    struct weir_group_tp *tps = malloc((n ? n : 1) * sizeof *tps);
    struct weir_topic_partition *plan = calloc(n ? n : 1, sizeof *plan);
    int64_t *cur = malloc((n ? n : 1) * sizeof *cur);
    struct weir_group_offsets *off = NULL;
    if (!tps || !plan || !cur) rc = cli_fail("%s: out of memory", args->command);
    for (size_t i = 0; rc == 0 && i < n; i++) tps[i] = (struct weir_group_tp){ args->topic, ps[i] };
    if (rc == 0 && weir_admin_group_offsets(a, g, tps, n, &off) != 0) rc = request_failed(a, args);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        cur[i] = -1;
        for (size_t j = 0; j < off->parts_count; j++)
            if (off->parts[j].partition == ps[i] && off->parts[j].err == 0 && !strcmp(off->parts[j].topic, args->topic))
                cur[i] = off->parts[j].offset;
        int64_t start, end, target = -1;
        int err = weir_admin_list_offset(a, args->topic, ps[i], WEIR_OFFSET_BEGINNING, &start);
        if (err == 0) err = weir_admin_list_offset(a, args->topic, ps[i], WEIR_OFFSET_END, &end);
        if (err == 0 && args->mode == OPT_TO_DATETIME) {
            err = weir_admin_list_offset(a, args->topic, ps[i], args->value, &target);
            if (err == 0 && target < 0) target = end; /* no record at or after it */
        }
        if (err != 0) {
            rc = cli_fail("%s: topic '%s' partition %" PRId32 ": %s", args->command, args->topic, ps[i],
                          err < 0 ? weir_admin_error(a) : weir_client_err_text(err));
            break;
        }
        switch (args->mode) {
        case OPT_TO_EARLIEST: target = start; break;
        case OPT_TO_LATEST: target = end; break;
        case OPT_TO_OFFSET: target = args->value; break;
        case OPT_TO_DATETIME: break;
        case OPT_SHIFT_BY:
            if (cur[i] < 0) {
                rc = cli_fail("%s: cannot shift partition %" PRId32 " of '%s': group '%s' has no committed offset "
                              "for it", args->command, ps[i], args->topic, g);
                break;
            }
            if (__builtin_add_overflow(cur[i], args->value, &target)) target = args->value < 0 ? 0 : INT64_MAX;
            break;
        }
        plan[i] = (struct weir_topic_partition){ args->topic, ps[i], clamp(target, start, end), 0 };
    }
    if (rc == 0 && args->execute && n > 0) {
        if (weir_admin_commit_group_offsets(a, g, plan, n) != 0) rc = request_failed(a, args);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (plan[i].err == 25)
                rc = cli_fail("%s: group '%s' has active members: offsets can only be reset while it has none",
                              args->command, g);
            else if (plan[i].err != 0)
                rc = cli_fail("%s: partition %" PRId32 ": %s", args->command, plan[i].partition,
                              weir_client_err_text(plan[i].err));
        }
    }
    if (rc == 0) {
        struct table t = { .cols = 5 };
        static const char *const head[] = { "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET" };
        bool ok = table_row(&t, head);
        for (size_t i = 0; ok && i < n; i++) {
            char part[16], c[24], nw[24];
            snprintf(part, sizeof part, "%" PRId32, plan[i].partition);
            const char *cells[] = { g, args->topic, part, i64_str(c, cur[i]), i64_str(nw, plan[i].offset) };
            ok = table_row(&t, cells);
        }
        if (ok) {
            table_print(&t);
            if (args->execute) printf("\nCommitted the new offsets of %zu partition%s.\n", n, n == 1 ? "" : "s");
            else printf("\nDry run: nothing was changed (add --execute to commit the new offsets).\n");
        } else {
            rc = cli_fail("%s: out of memory", args->command);
        }
        table_free(&t);
    }
    weir_group_offsets_destroy(off);
    free(tps), free(plan), free(cur), free(ps);
    return rc;
}

/* ---- delete-offsets ----------------------------------------------------------------------- */

/* Adds the partitions of one --topic T[:P,P...] to v (*n of them, cap max);
 * a topic alone: every partition the metadata lists. -1 to go on, else the exit code. */
static int offsets_of_topic(struct weir_admin *a, const struct groups_args *args, char *spec,
                            struct weir_topic_partition *v, size_t *n, size_t max)
{
    char *colon = strchr(spec, ':');
    if (colon) {
        *colon = '\0';
        struct groups_args one = { .command = args->command };
        int rc = add_partitions(&one, colon + 1);
        for (size_t i = 0; rc == 0 && i < one.n_parts; i++) {
            if (*n == max) rc = cli_usage("%s: more than %zu partitions", args->command, max);
            else v[(*n)++] = (struct weir_topic_partition){ .topic = spec, .partition = one.parts[i] };
        }
        free(one.parts);
        return rc ? rc : -1;
    }
    struct weir_metadata *md;
    const char *name = spec;
    if (weir_admin_metadata(a, &name, 1, &md) != 0) return request_failed(a, args);
    int rc = -1;
    const struct weir_md_topic *t = md->topics_count == 1 ? &md->topics[0] : NULL;
    if (!t || t->err) rc = cli_fail("%s: topic '%s' does not exist", args->command, spec);
    for (size_t i = 0; rc < 0 && t && i < t->partitions_count; i++) {
        if (*n == max) rc = cli_usage("%s: more than %zu partitions", args->command, max);
        else v[(*n)++] = (struct weir_topic_partition){ .topic = spec, .partition = t->partitions[i].id };
    }
    weir_metadata_destroy(md);
    return rc;
}

static int run_delete_offsets(struct weir_admin *a, const struct groups_args *args)
{
    struct weir_topic_partition *v = calloc(PARTS_MAX, sizeof *v);
    char *specs[GROUPS_MAX] = { 0 };
    size_t n = 0;
    int rc = v ? -1 : cli_fail("%s: out of memory", args->command);
    for (size_t i = 0; rc < 0 && i < args->n_topics; i++) {
        specs[i] = strdup(args->topics[i]);
        rc = specs[i] ? offsets_of_topic(a, args, specs[i], v, &n, PARTS_MAX) : cli_fail("%s: out of memory", args->command);
    }
    if (rc < 0) {
        int err = weir_admin_delete_group_offsets(a, args->groups[0], v, n);
        rc = 0;
        if (err == 69) rc = cli_fail("%s: group '%s' does not exist", args->command, args->groups[0]);
        else if (err != 0) rc = request_failed(a, args);
        for (size_t i = 0; err == 0 && i < n; i++) {
            if (v[i].err == 0) printf("%s %d deleted\n", v[i].topic, v[i].partition);
            else rc = cli_fail("%s: %s %d: %s", args->command, v[i].topic, v[i].partition, weir_client_err_str(v[i].err));
        }
    }
    for (size_t i = 0; i < args->n_topics; i++) free(specs[i]);
    free(v);
    return rc;
}
