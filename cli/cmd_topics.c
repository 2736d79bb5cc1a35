/* cli/cmd_topics.c: `weir topics create|list|describe|delete|add-partitions|trim`,
 * over the admin client (client.h). Output is for people and simple scripts:
 * list prints one name per line, sorted; describe prints one line per topic
 * and one per partition, tab-separated, as kafka-topics.sh does. */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum {
    TOPICS_MAX = 256,
    CONFIGS_MAX = 256,
    OPT_BOOTSTRAP = 256,
    OPT_TOPIC,
    OPT_PARTITIONS,
    OPT_REPLICATION,
    OPT_CONFIG,
    OPT_IF_NOT_EXISTS,
    OPT_IF_EXISTS,
    OPT_ALL_CONFIGS,
    OPT_PARTITION,
    OPT_OFFSET,
    OPT_SET,
    OPT_DELETE,
    OPT_APPEND,
    OPT_SUBTRACT,
    OPT_VALIDATE_ONLY,
    OPT_FORMAT,
};

/* Which options an action takes (bit = option - OPT_BOOTSTRAP). */
#define BIT(o) (1u << ((o) - OPT_BOOTSTRAP))

struct topics_args {
    const char *command; /* "topics <action>" */
    const char *bootstrap;
    const char *topics[TOPICS_MAX];
    size_t n_topics;
    int64_t partitions, replication;
    int64_t partition, offset; /* trim; -2: not given */
    struct weir_admin_config configs[CONFIGS_MAX];
    size_t n_configs;
    bool if_not_exists, if_exists, all_configs, validate_only;
    bool json; /* --format json */
    struct weir_config_op ops[CONFIGS_MAX]; /* alter-config, in order */
    size_t n_ops;
};

struct action {
    const char *name;
    unsigned options; /* BIT()s besides --bootstrap and --help */
    bool needs_topic;
    int (*run)(struct weir_admin *a, const struct topics_args *args);
};

static int run_create(struct weir_admin *a, const struct topics_args *args);
static int run_list(struct weir_admin *a, const struct topics_args *args);
static int run_describe(struct weir_admin *a, const struct topics_args *args);
static int run_delete(struct weir_admin *a, const struct topics_args *args);
static int run_add_partitions(struct weir_admin *a, const struct topics_args *args);
static int run_trim(struct weir_admin *a, const struct topics_args *args);
static int run_alter_config(struct weir_admin *a, const struct topics_args *args);

static const struct action actions[] = {
    { "create", BIT(OPT_TOPIC) | BIT(OPT_PARTITIONS) | BIT(OPT_REPLICATION) | BIT(OPT_CONFIG) | BIT(OPT_IF_NOT_EXISTS),
      true, run_create },
    { "list", BIT(OPT_FORMAT), false, run_list },
    { "describe", BIT(OPT_TOPIC) | BIT(OPT_ALL_CONFIGS) | BIT(OPT_FORMAT), false, run_describe },
    { "delete", BIT(OPT_TOPIC) | BIT(OPT_IF_EXISTS), true, run_delete },
    { "add-partitions", BIT(OPT_TOPIC) | BIT(OPT_PARTITIONS), true, run_add_partitions },
    { "trim", BIT(OPT_TOPIC) | BIT(OPT_PARTITION) | BIT(OPT_OFFSET), true, run_trim },
    { "alter-config",
      BIT(OPT_TOPIC) | BIT(OPT_SET) | BIT(OPT_DELETE) | BIT(OPT_APPEND) | BIT(OPT_SUBTRACT) | BIT(OPT_VALIDATE_ONLY), true,
      run_alter_config },
};

static const struct option topics_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "topic", required_argument, NULL, OPT_TOPIC },
    { "partitions", required_argument, NULL, OPT_PARTITIONS },
    { "replication-factor", required_argument, NULL, OPT_REPLICATION },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS },
    { "if-exists", no_argument, NULL, OPT_IF_EXISTS },
    { "all-configs", no_argument, NULL, OPT_ALL_CONFIGS },
    { "partition", required_argument, NULL, OPT_PARTITION },
    { "offset", required_argument, NULL, OPT_OFFSET },
    { "set", required_argument, NULL, OPT_SET },
    { "delete", required_argument, NULL, OPT_DELETE },
    { "append", required_argument, NULL, OPT_APPEND },
    { "subtract", required_argument, NULL, OPT_SUBTRACT },
    { "validate-only", no_argument, NULL, OPT_VALIDATE_ONLY },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_topics(FILE *out)
{
    fprintf(out,
            "usage: weir topics create --topic T [--partitions N] [--replication-factor R]\n"
            "                          [--config KEY=VALUE]... [--if-not-exists]\n"
            "       weir topics list [--format json]\n"
            "       weir topics describe [--topic T]... [--all-configs] [--format json]\n"
            "       weir topics alter-config [--topic] T [--set K=V] [--delete K] [--append K=V]\n"
            "                                [--subtract K=V] [--validate-only]\n"
            "       weir topics delete --topic T... [--if-exists]\n"
            "       weir topics add-partitions --topic T --partitions N\n"
            "       weir topics trim --topic T --partition P --offset O\n\n"
            "Administers topics. Every action takes --bootstrap HOST:PORT (default " CLI_BOOTSTRAP_DEFAULT ").\n\n"
            "  --topic T               the topic (repeatable for create, describe and delete)\n"
            "  --partitions N          create: partitions (default: the broker's num.partitions);\n"
            "                          add-partitions: the new total\n"
            "  --replication-factor R  create: replicas per partition (default: the broker's)\n"
            "  --config KEY=VALUE      create: a topic config, e.g. retention.ms=3600000; repeatable\n"
            "  --if-not-exists         create: an existing topic is not an error\n"
            "  --if-exists             delete: a missing topic is not an error\n"
            "  --all-configs           describe: every config with its source, not only the topic's overrides\n"
            "  --set K=V, --delete K   alter-config: set or remove (back to the default) the topic's config K\n"
            "  --append K=V, --subtract K=V\n"
            "                          alter-config: add or remove items of a list config (cleanup.policy)\n"
            "  --validate-only         alter-config: only check the changes (IncrementalAlterConfigs)\n"
            "  --partition P           trim: the partition\n"
            "  --offset O              trim: the new log start offset; records below it are deleted\n"
            "                          (DeleteRecords); -1: the high watermark (everything)\n"
            "  --format text|json      list, describe: text (default) or one JSON document\n"
            "                          (fields in docs/operations.md)\n"
            "  -h, --help              this text\n\n"
            "list prints one topic per line; describe prints a line per topic, then one per\n"
            "partition. Exit codes: 0 ok, 1 the broker refused or could not be reached, 2 bad\n"
            "command line.\n");
}

static const char *option_name(int opt)
{
    for (const struct option *o = topics_options; o->name; o++)
        if (o->val == opt) return o->name;
    return "?";
}

/* --config KEY=VALUE: the key is copied (the value stays in argv). */
static int add_config(struct topics_args *args, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) return cli_usage("%s: --config: expected KEY=VALUE, got '%.160s'", args->command, arg);
    if (args->n_configs == CONFIGS_MAX) return cli_usage("%s: more than %d --config options", args->command, CONFIGS_MAX);
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key) return cli_fail("%s: out of memory", args->command);
    args->configs[args->n_configs++] = (struct weir_admin_config){ key, eq + 1 };
    return 0;
}

/* --set/--append/--subtract K=V, --delete K: one change (the key copied). */
static int add_op(struct topics_args *args, int opt, const char *arg)
{
    const char *eq = opt == OPT_DELETE ? arg + strlen(arg) : strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_usage("%s: --%s: expected %s, got '%.160s'", args->command, option_name(opt),
                         opt == OPT_DELETE ? "KEY" : "KEY=VALUE", arg);
    if (args->n_ops == CONFIGS_MAX) return cli_usage("%s: more than %d changes", args->command, CONFIGS_MAX);
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key) return cli_fail("%s: out of memory", args->command);
    int op = opt == OPT_SET      ? WEIR_CONFIG_OP_SET
             : opt == OPT_DELETE ? WEIR_CONFIG_OP_DELETE
             : opt == OPT_APPEND ? WEIR_CONFIG_OP_APPEND
                                 : WEIR_CONFIG_OP_SUBTRACT;
    args->ops[args->n_ops++] = (struct weir_config_op){ key, op, opt == OPT_DELETE ? NULL : eq + 1 };
    return 0;
}

static int apply_option(struct topics_args *args, int opt, const char *arg)
{
    switch (opt) {
    case OPT_BOOTSTRAP: args->bootstrap = arg; return 0;
    case OPT_TOPIC:
        if (!*arg) return cli_usage("%s: --topic: empty topic name", args->command);
        if (args->n_topics == TOPICS_MAX) return cli_usage("%s: more than %d --topic options", args->command, TOPICS_MAX);
        args->topics[args->n_topics++] = arg;
        return 0;
    case OPT_PARTITIONS:
        if (!cli_parse_i64(arg, 1, 100000, &args->partitions))
            return cli_usage("%s: --partitions: '%.160s' is not a number from 1 to 100000", args->command, arg);
        return 0;
    case OPT_REPLICATION:
        if (!cli_parse_i64(arg, 1, 32767, &args->replication))
            return cli_usage("%s: --replication-factor: '%.160s' is not a number from 1 to 32767", args->command, arg);
        return 0;
    case OPT_CONFIG: return add_config(args, arg);
    case OPT_SET:
    case OPT_DELETE:
    case OPT_APPEND:
    case OPT_SUBTRACT: return add_op(args, opt, arg);
    case OPT_VALIDATE_ONLY: args->validate_only = true; return 0;
    case OPT_IF_NOT_EXISTS: args->if_not_exists = true; return 0;
    case OPT_IF_EXISTS: args->if_exists = true; return 0;
    case OPT_ALL_CONFIGS: args->all_configs = true; return 0;
    case OPT_FORMAT: {
        int rc = 0;
        return cli_format_parse(args->command, arg, &args->json, &rc) ? 0 : rc;
    }
    case OPT_PARTITION:
        if (!cli_parse_i64(arg, 0, INT32_MAX, &args->partition))
            return cli_usage("%s: --partition: '%.160s' is not a partition number", args->command, arg);
        return 0;
    case OPT_OFFSET:
        if (!cli_parse_i64(arg, -1, INT64_MAX, &args->offset))
            return cli_usage("%s: --offset: '%.160s' is not an offset (-1: the high watermark)", args->command, arg);
        return 0;
    default: return 0;
    }
}

/* Parses the options of `act`. -1 to go on, else the exit code. */
static int topics_parse(int argc, char **argv, const struct action *act, struct topics_args *args)
{
    if (act->run == run_alter_config && argc > 1 && argv[1][0] != '-') { /* alter-config TOPIC [options] */
        args->topics[args->n_topics++] = argv[1];
        argv++, argc--;
    }
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", topics_options, NULL)) != -1;) {
        if (opt == '?' || opt == ':') return cli_bad_option(opt, argv, args->command, "h");
        if (opt == 'h') {
            usage_topics(stdout);
            return cli_stdout_done();
        }
        if (opt != OPT_BOOTSTRAP && !(act->options & BIT(opt)))
            return cli_usage("%s: option --%s does not apply (try 'weir topics --help')", args->command,
                             option_name(opt));
        int rc = apply_option(args, opt, optarg);
        if (rc != 0) return rc;
    }
    if (optind < argc) return cli_usage("%s: unexpected argument '%.160s'", args->command, argv[optind]);
    if (act->run == run_alter_config && (args->n_topics != 1 || args->n_ops == 0))
        return cli_usage("%s: one topic and at least one --set, --delete, --append or --subtract", args->command);
    if (act->needs_topic && args->n_topics == 0) return cli_usage("%s: --topic is required", args->command);
    if (act->run == run_add_partitions && args->partitions < 0)
        return cli_usage("%s: --partitions (the new total) is required", args->command);
    if ((act->run == run_add_partitions || act->run == run_trim) && args->n_topics > 1)
        return cli_usage("%s: one --topic at a time", args->command);
    if (act->run == run_trim && (args->partition < 0 || args->offset < -1))
        return cli_usage("%s: --partition and --offset are required", args->command);
    if (!cli_bootstrap_ok(args->command, args->bootstrap)) return CLI_EXIT_USAGE;
    return -1;
}

int cmd_topics(int argc, char **argv)
{
    if (argc < 2) return cli_usage("topics: missing action: create, list, describe, delete, add-partitions, trim or alter-config");
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage_topics(stdout);
        return cli_stdout_done();
    }
    const struct action *act = NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (!strcmp(actions[i].name, argv[1])) act = &actions[i];
    if (!act)
        return cli_usage("topics: unknown action '%.160s' (create, list, describe, delete, add-partitions, trim)", argv[1]);
    char command[64];
    snprintf(command, sizeof command, "topics %s", act->name);
    struct topics_args args = { .command = command, .bootstrap = CLI_BOOTSTRAP_DEFAULT, .partitions = -1,
                                .replication = -1, .partition = -2, .offset = -2 };
    int rc = topics_parse(argc - 1, argv + 1, act, &args);
    if (rc < 0) {
        struct weir_admin *a = cli_admin(command, args.bootstrap);
        rc = a ? act->run(a, &args) : CLI_EXIT_FAILED;
        weir_admin_destroy(a);
    }
    for (size_t i = 0; i < args.n_configs; i++) free((char *)args.configs[i].name);
    for (size_t i = 0; i < args.n_ops; i++) free((char *)args.ops[i].name);
    if (rc == 0) rc = cli_stdout_done();
    return rc;
}

/* ---- actions ----------------------------------------------------------------------------- */

static int request_failed(struct weir_admin *a, const struct topics_args *args)
{
    return cli_fail("%s: %s", args->command, weir_admin_error(a));
}

/* One line per failed topic; `ignore` is an error code that counts as success. */
static int report(const struct topics_args *args, const struct weir_admin_result *res, int ignore, const char *done_fmt,
                  bool quiet_ignored)
{
    int rc = 0;
    for (size_t i = 0; i < args->n_topics; i++) {
        if (res[i].err != 0 && res[i].err != ignore) {
            rc = cli_fail("%s: topic '%s': %s", args->command, args->topics[i], res[i].message);
        } else if (!(res[i].err != 0 && quiet_ignored)) {
            printf(done_fmt, args->topics[i]);
        }
    }
    return rc;
}

static int run_create(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_new_topic topics[TOPICS_MAX];
    struct weir_admin_result res[TOPICS_MAX];
    for (size_t i = 0; i < args->n_topics; i++)
        topics[i] = (struct weir_new_topic){ args->topics[i], (int32_t)args->partitions, (int16_t)args->replication,
                                             args->configs, args->n_configs };
    if (weir_admin_create_topics(a, topics, args->n_topics, 0, res) != 0) return request_failed(a, args);
    return report(args, res, args->if_not_exists ? 36 : 0, "Created topic %s.\n", true);
}

static int run_delete(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_admin_result res[TOPICS_MAX];
    if (weir_admin_delete_topics(a, args->topics, args->n_topics, res) != 0) return request_failed(a, args);
    return report(args, res, args->if_exists ? 3 : 0, "Deleted topic %s.\n", true);
}

static int run_add_partitions(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_admin_result res;
    if (weir_admin_create_partitions(a, args->topics[0], (int32_t)args->partitions, 0, &res) != 0)
        return request_failed(a, args);
    if (res.err != 0) return cli_fail("%s: topic '%s': %s", args->command, args->topics[0], res.message);
    printf("Topic %s now has %" PRId64 " partitions.\n", args->topics[0], args->partitions);
    return 0;
}

static int name_cmp(const void *x, const void *y)
{
    return strcmp((*(const struct weir_md_topic *const *)x)->name, (*(const struct weir_md_topic *const *)y)->name);
}

/* The topics of md sorted by name (a malloc'd array of pointers), or NULL. */
static const struct weir_md_topic **sorted_topics(const struct weir_metadata *md)
{
    const struct weir_md_topic **v = malloc((md->topics_count ? md->topics_count : 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < md->topics_count; i++) v[i] = &md->topics[i];
    qsort(v, md->topics_count, sizeof *v, name_cmp);
    return v;
}

/* --format json: {"topics": [{"name", "partitions", "internal"}]}, sorted by name. */
static int list_json(const struct topics_args *args, const struct weir_md_topic *const *v, size_t n)
{
    struct cli_json j;
    if (!cli_json_open(&j)) return cli_fail("%s: out of memory", args->command);
    cli_json_obj(&j, NULL);
    cli_json_arr(&j, "topics");
    for (size_t i = 0; i < n; i++) {
        if (v[i]->err != 0) continue;
        cli_json_obj(&j, NULL);
        cli_json_str(&j, "name", v[i]->name);
        cli_json_i64(&j, "partitions", (int64_t)v[i]->partitions_count);
        cli_json_bool(&j, "internal", v[i]->internal != 0);
        cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_end(&j);
    return cli_json_emit(&j);
}

static int run_list(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_metadata *md;
    if (weir_admin_metadata(a, NULL, 0, &md) != 0) return request_failed(a, args);
    const struct weir_md_topic **v = sorted_topics(md);
    int rc = v ? 0 : cli_fail("%s: out of memory", args->command);
    if (v && args->json) rc = list_json(args, v, md->topics_count);
    for (size_t i = 0; v && !args->json && i < md->topics_count; i++)
        if (v[i]->err == 0) printf("%s\n", v[i]->name);
    free(v);
    weir_metadata_destroy(md);
    return rc;
}

static void print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) printf("%s%" PRId32, i ? "," : "", ids[i]);
}

/* Kafka's ConfigSource names (DescribeConfigs v1+). */
static const char *source_name(int source)
{
    static const char *const names[] = { "UNKNOWN", "DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG",
                                          "DYNAMIC_DEFAULT_BROKER_CONFIG", "STATIC_BROKER_CONFIG", "DEFAULT_CONFIG",
                                          "DYNAMIC_BROKER_LOGGER_CONFIG" };
    return source >= 0 && source < (int)(sizeof names / sizeof names[0]) ? names[source] : "UNKNOWN";
}

/* alter-config: IncrementalAlterConfigs of the topic; prints what it did. */
static int run_alter_config(struct weir_admin *a, const struct topics_args *args)
{
    int err = weir_admin_alter_configs(a, WEIR_RESOURCE_TOPIC, args->topics[0], args->ops, args->n_ops,
                                       args->validate_only);
    if (err < 0) return request_failed(a, args);
    if (err != 0)
        return cli_fail("%s: topic '%s': %s (%s)", args->command, args->topics[0], weir_admin_error(a),
                        weir_client_err_text(err));
    printf("%s configs of topic %s\n", args->validate_only ? "Validated the new" : "Changed the", args->topics[0]);
    return 0;
}

/* The topic's line: partitions and configs (overrides, or all with --all-configs). */
static int describe_topic_line(struct weir_admin *a, const struct topics_args *args, const struct weir_md_topic *t)
{
    struct weir_configs *cf = NULL;
    int err = weir_admin_describe_configs(a, WEIR_RESOURCE_TOPIC, t->name, &cf);
    if (err != 0) return cli_fail("%s: topic '%s': configs: %s", args->command, t->name, weir_admin_error(a));
    printf("Topic: %s\tPartitions: %zu\tConfigs: ", t->name, t->partitions_count);
    size_t shown = 0;
    for (size_t i = 0; i < cf->entries_count; i++) {
        const struct weir_config_entry *e = &cf->entries[i];
        if (!args->all_configs && e->source != 1) continue;
        printf("%s%s=%s", shown++ ? "," : "", e->name, e->value ? e->value : (e->sensitive ? "(sensitive)" : "null"));
        if (args->all_configs) printf(" (%s)", source_name(e->source));
    }
    printf("\n");
    weir_configs_destroy(cf);
    return 0;
}

static int describe_topic(struct weir_admin *a, const struct topics_args *args, const struct weir_md_topic *t)
{
    if (t->err == 3) return cli_fail("%s: topic '%s' does not exist", args->command, t->name);
    if (t->err != 0) return cli_fail("%s: topic '%s': %s", args->command, t->name, weir_client_err_text(t->err));
    int rc = describe_topic_line(a, args, t);
    for (size_t j = 0; rc == 0 && j < t->partitions_count; j++) {
        const struct weir_md_partition *p = &t->partitions[j];
        printf("\tTopic: %s\tPartition: %" PRId32 "\tLeader: %" PRId32 "\tReplicas: ", t->name, p->id, p->leader);
        print_ids(p->replicas, p->replicas_count);
        printf("\tIsr: ");
        print_ids(p->isr, p->isr_count);
        if (p->err) printf("\tError: %s", weir_client_err_text(p->err));
        printf("\n");
    }
    return rc;
}

static void json_ids(struct cli_json *j, const char *k, const int32_t *ids, size_t n)
{
    cli_json_arr(j, k);
    for (size_t i = 0; i < n; i++) cli_json_i64(j, NULL, ids[i]);
    cli_json_end(j);
}

/* A Kafka error as {"code", "message"}, or null for 0. */
static void json_error(struct cli_json *j, const char *k, int err, const char *message)
{
    if (!err) {
        cli_json_null(j, k);
        return;
    }
    cli_json_obj(j, k);
    cli_json_i64(j, "code", err);
    cli_json_str(j, "message", message ? message : weir_client_err_text(err));
    cli_json_end(j);
}

/* One topic of describe --format json; 0 or the exit code (line printed). */
static int describe_topic_json(struct weir_admin *a, const struct topics_args *args, const struct weir_md_topic *t,
                               struct cli_json *j)
{
    if (t->err == 3) return cli_fail("%s: topic '%s' does not exist", args->command, t->name);
    if (t->err != 0) return cli_fail("%s: topic '%s': %s", args->command, t->name, weir_client_err_text(t->err));
    struct weir_configs *cf = NULL;
    if (weir_admin_describe_configs(a, WEIR_RESOURCE_TOPIC, t->name, &cf) != 0)
        return cli_fail("%s: topic '%s': configs: %s", args->command, t->name, weir_admin_error(a));
    cli_json_obj(j, NULL);
    cli_json_str(j, "name", t->name);
    cli_json_bool(j, "internal", t->internal != 0);
    cli_json_arr(j, "partitions");
    for (size_t i = 0; i < t->partitions_count; i++) {
        const struct weir_md_partition *p = &t->partitions[i];
        cli_json_obj(j, NULL);
        cli_json_i64(j, "partition", p->id);
        cli_json_i64(j, "leader", p->leader);
        json_ids(j, "replicas", p->replicas, p->replicas_count);
        json_ids(j, "isr", p->isr, p->isr_count);
        json_error(j, "error", p->err, NULL);
        cli_json_end(j);
    }
    cli_json_end(j);
    cli_json_arr(j, "configs");
    for (size_t i = 0; i < cf->entries_count; i++) {
        const struct weir_config_entry *e = &cf->entries[i];
        if (!args->all_configs && e->source != 1) continue;
        cli_json_obj(j, NULL);
        cli_json_str(j, "name", e->name);
        cli_json_str(j, "value", e->value);
        cli_json_str(j, "source", source_name(e->source));
        cli_json_bool(j, "read_only", e->read_only != 0);
        cli_json_bool(j, "sensitive", e->sensitive != 0);
        cli_json_end(j);
    }
    cli_json_end(j);
    cli_json_end(j);
    weir_configs_destroy(cf);
    return 0;
}

/* describe --format json: {"topics": [...]} in the order asked (else sorted),
 * printed only when every topic could be described. */
static int describe_json(struct weir_admin *a, const struct topics_args *args, const struct weir_metadata *md)
{
    const struct weir_md_topic **v = args->n_topics ? malloc(args->n_topics * sizeof *v) : sorted_topics(md);
    if (!v) return cli_fail("%s: out of memory", args->command);
    size_t n = 0;
    int rc = 0;
    if (args->n_topics) {
        for (size_t i = 0; rc == 0 && i < args->n_topics; i++) {
            v[n] = NULL;
            for (size_t k = 0; k < md->topics_count && !v[n]; k++)
                if (!strcmp(md->topics[k].name, args->topics[i])) v[n] = &md->topics[k];
            if (v[n]) n++;
            else rc = cli_fail("%s: topic '%s' does not exist", args->command, args->topics[i]);
        }
    } else {
        for (size_t k = 0; k < md->topics_count; k++)
            if (v[k]->err == 0) v[n++] = v[k];
    }
    struct cli_json j;
    if (rc == 0 && !cli_json_open(&j)) rc = cli_fail("%s: out of memory", args->command);
    if (rc == 0) {
        cli_json_obj(&j, NULL);
        cli_json_arr(&j, "topics");
        for (size_t i = 0; rc == 0 && i < n; i++) rc = describe_topic_json(a, args, v[i], &j);
        if (rc == 0) {
            cli_json_end(&j);
            cli_json_end(&j);
            rc = cli_json_emit(&j);
        } else {
            cli_json_discard(&j);
        }
    }
    free(v);
    return rc;
}

static int run_describe(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_metadata *md;
    if (weir_admin_metadata(a, args->topics, args->n_topics, &md) != 0) return request_failed(a, args);
    int rc = 0;
    if (args->json) {
        rc = describe_json(a, args, md);
    } else if (args->n_topics > 0) {
        /* In the order asked; the first missing topic ends it. */
        for (size_t i = 0; rc == 0 && i < args->n_topics; i++) {
            const struct weir_md_topic *t = NULL;
            for (size_t j = 0; j < md->topics_count && !t; j++)
                if (!strcmp(md->topics[j].name, args->topics[i])) t = &md->topics[j];
            rc = t ? describe_topic(a, args, t) : cli_fail("%s: topic '%s' does not exist", args->command, args->topics[i]);
        }
    } else {
        const struct weir_md_topic **v = sorted_topics(md);
        if (!v) rc = cli_fail("%s: out of memory", args->command);
        for (size_t i = 0; v && rc == 0 && i < md->topics_count; i++)
            if (v[i]->err == 0) rc = describe_topic(a, args, v[i]);
        free(v);
    }
    weir_metadata_destroy(md);
    return rc;
}

static int run_trim(struct weir_admin *a, const struct topics_args *args)
{
    struct weir_admin_result res;
    int64_t low = -1;
    if (weir_admin_delete_records(a, args->topics[0], (int32_t)args->partition, args->offset, &res, &low) != 0)
        return request_failed(a, args);
    if (res.err != 0)
        return cli_fail("%s: topic '%s' partition %" PRId64 ": %s", args->command, args->topics[0], args->partition,
                        res.message);
    printf("Topic %s partition %" PRId64 ": log start offset now %" PRId64 ".\n", args->topics[0], args->partition, low);
    return 0;
}
