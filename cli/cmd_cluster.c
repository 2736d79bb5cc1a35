/* cli/cmd_cluster.c: `weir cluster`: the brokers, the controller, and the
 * partitions that are under-replicated (ISR smaller than the replica list) or
 * offline (no leader), from one Metadata request (every topic) to the
 * bootstrap broker, as that broker's metadata cache sees the cluster.
 *
 * Output, for people and simple scripts (tab-separated where it lists):
 *   Cluster: <id>	Controller: <id>
 *   Brokers: <n>
 *   	Broker: 1	Address: 127.0.0.1:9092	Leader of: 4	(controller)
 *   Partitions: <n> in <t> topics	Under-replicated: <u>	Offline: <o>
 *   	Under-replicated: <topic>-<p>	Leader: 1	Replicas: 1,2,3	Isr: 1,2
 *   	Offline: <topic>-<p>	Leader: -1	Replicas: 1,2,3	Isr: 3
 * With --log-dirs, then each broker's log directories (DescribeLogDirs, one
 * request per broker; sizes in bytes, total/usable of the file system, -1
 * when unknown) and every partition's size:
 *   Log dirs: <n>
 *   	Log dir: <path>	Node: 1	Size: <bytes>	Total: <bytes>	Usable: <bytes>	Partitions: <k>
 *   	Partition: <topic>-<p>	Node: 1	Size: <bytes>
 *   	Log dir: -	Node: 2	Error: <why>          (a broker that did not answer: exit 1)
 * --under-replicated / --offline print only those lines' counts and lists;
 * --fail-on-problems exits 3 when there is an under-replicated or offline
 * partition (0 otherwise), for scripts waiting for a cluster to be whole.
 * --format json prints the same as one JSON document (docs/operations.md). */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_BOOTSTRAP = 256, OPT_FAIL, OPT_LOG_DIRS, OPT_FORMAT, EXIT_PROBLEMS = 3 };

static const struct option cluster_options[] = {
    { "bootstrap", required_argument, NULL, OPT_BOOTSTRAP },
    { "fail-on-problems", no_argument, NULL, OPT_FAIL },
    { "log-dirs", no_argument, NULL, OPT_LOG_DIRS },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

static void usage_cluster(FILE *out)
{
    fprintf(out, "usage: weir cluster [--bootstrap HOST:PORT] [--fail-on-problems] [--log-dirs]\n"
                 "                    [--format json]\n\n"
                 "Shows the cluster as the bootstrap broker (default " CLI_BOOTSTRAP_DEFAULT ") sees it: each\n"
                 "broker with its address and how many partitions it leads, the controller,\n"
                 "and every partition that is under-replicated (ISR smaller than its replicas)\n"
                 "or offline (no leader).\n\n"
                 "  --bootstrap HOST:PORT  a broker of the cluster\n"
                 "  --fail-on-problems     exit 3 when a partition is under-replicated or offline\n"
                 "  --log-dirs             also each broker's log directories: bytes used, total and\n"
                 "                         usable, and every partition's size (asks every broker)\n"
                 "  --format text|json     text (default) or one JSON document (fields in\n"
                 "                         docs/operations.md)\n"
                 "  -h, --help             this text\n\n"
                 "Exit codes: 0 ok, 1 the broker could not be reached, 2 bad command line,\n"
                 "3 (with --fail-on-problems) under-replicated or offline partitions.\n");
}

static void print_ids(const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) printf("%s%" PRId32, i ? "," : "", ids[i]);
}

static int broker_cmp(const void *x, const void *y)
{
    int32_t a = ((const struct weir_md_broker *)x)->id, b = ((const struct weir_md_broker *)y)->id;
    return (a > b) - (a < b);
}

static int topic_cmp(const void *x, const void *y)
{
    return strcmp((*(const struct weir_md_topic *const *)x)->name, (*(const struct weir_md_topic *const *)y)->name);
}

static bool under_replicated(const struct weir_md_partition *p)
{
    return p->leader >= 0 && p->isr_count < p->replicas_count;
}

static bool offline(const struct weir_md_partition *p)
{
    return p->leader < 0;
}

static void print_partitions(const struct weir_md_topic *const *ts, size_t n, const char *label,
                             bool (*which)(const struct weir_md_partition *))
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < ts[i]->partitions_count; j++) {
            const struct weir_md_partition *p = &ts[i]->partitions[j];
            if (!which(p)) continue;
            printf("\t%s: %s-%" PRId32 "\tLeader: %" PRId32 "\tReplicas: ", label, ts[i]->name, p->id, p->leader);
            print_ids(p->replicas, p->replicas_count);
            printf("\tIsr: ");
            print_ids(p->isr, p->isr_count);
            printf("\n");
        }
}

/* The metadata sorted for output: brokers by id, the topics without an error
 * by name, and the partition counts. */
struct view {
    struct weir_md_broker *bs;
    const struct weir_md_topic **ts;
    size_t nt, nparts, under, off;
};

static bool view_build(const struct weir_metadata *md, struct view *v)
{
    *v = (struct view){ .bs = malloc((md->brokers_count ? md->brokers_count : 1) * sizeof *v->bs),
                        .ts = malloc((md->topics_count ? md->topics_count : 1) * sizeof *v->ts) };
    if (!v->bs || !v->ts) return false;
    memcpy(v->bs, md->brokers, md->brokers_count * sizeof *v->bs);
    qsort(v->bs, md->brokers_count, sizeof *v->bs, broker_cmp);
    for (size_t i = 0; i < md->topics_count; i++)
        if (md->topics[i].err == 0) v->ts[v->nt++] = &md->topics[i];
    qsort(v->ts, v->nt, sizeof *v->ts, topic_cmp);
    for (size_t i = 0; i < v->nt; i++)
        for (size_t j = 0; j < v->ts[i]->partitions_count; j++) {
            v->nparts++;
            v->under += under_replicated(&v->ts[i]->partitions[j]);
            v->off += offline(&v->ts[i]->partitions[j]);
        }
    return true;
}

static void view_free(struct view *v)
{
    free(v->bs);
    free(v->ts);
}

static size_t leads_of(const struct view *v, int32_t id)
{
    size_t leads = 0;
    for (size_t t = 0; t < v->nt; t++)
        for (size_t j = 0; j < v->ts[t]->partitions_count; j++) leads += v->ts[t]->partitions[j].leader == id;
    return leads;
}

static int show(const struct weir_metadata *md, bool fail_on_problems)
{
    struct view v;
    if (!view_build(md, &v)) {
        view_free(&v);
        return cli_fail("cluster: out of memory");
    }
    const struct weir_md_broker *bs = v.bs;

    printf("Cluster: %s\tController: %" PRId32 "\n", md->cluster_id ? md->cluster_id : "(none)", md->controller_id);
    printf("Brokers: %zu\n", md->brokers_count);
    for (size_t i = 0; i < md->brokers_count; i++) {
        size_t leads = leads_of(&v, bs[i].id);
        bool v6 = strchr(bs[i].host, ':') != NULL;
        printf("\tBroker: %" PRId32 "\tAddress: %s%s%s:%" PRId32 "\tLeader of: %zu%s%s%s\n", bs[i].id, v6 ? "[" : "",
               bs[i].host, v6 ? "]" : "", bs[i].port, leads, bs[i].rack ? "\tRack: " : "", bs[i].rack ? bs[i].rack : "",
               bs[i].id == md->controller_id ? "\t(controller)" : "");
    }
    printf("Partitions: %zu in %zu topics\tUnder-replicated: %zu\tOffline: %zu\n", v.nparts, v.nt, v.under, v.off);
    print_partitions(v.ts, v.nt, "Under-replicated", under_replicated);
    print_partitions(v.ts, v.nt, "Offline", offline);
    bool problems = v.under || v.off;
    view_free(&v);
    return fail_on_problems && problems ? EXIT_PROBLEMS : 0;
}

static void json_ids(struct cli_json *j, const char *k, const int32_t *ids, size_t n)
{
    cli_json_arr(j, k);
    for (size_t i = 0; i < n; i++) cli_json_i64(j, NULL, ids[i]);
    cli_json_end(j);
}

static void json_partitions(struct cli_json *j, const char *k, const struct weir_md_topic *const *ts, size_t n,
                            bool (*which)(const struct weir_md_partition *))
{
    cli_json_arr(j, k);
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; p < ts[i]->partitions_count; p++) {
            const struct weir_md_partition *mp = &ts[i]->partitions[p];
            if (!which(mp)) continue;
            cli_json_obj(j, NULL);
            cli_json_str(j, "topic", ts[i]->name);
            cli_json_i64(j, "partition", mp->id);
            cli_json_i64(j, "leader", mp->leader);
            json_ids(j, "replicas", mp->replicas, mp->replicas_count);
            json_ids(j, "isr", mp->isr, mp->isr_count);
            cli_json_end(j);
        }
    cli_json_end(j);
}

/* "log_dirs": each broker's directories; a broker that did not answer has
 * one entry with a null path and its error. 0 or CLI_EXIT_FAILED (such a broker). */
static int json_log_dirs(struct cli_json *j, struct weir_admin *a, const struct weir_md_broker *bs, size_t n)
{
    int rc = 0;
    cli_json_arr(j, "log_dirs");
    for (size_t i = 0; i < n; i++) {
        struct weir_log_dirs *all = NULL;
        int err = weir_admin_describe_log_dirs(a, bs[i].host, bs[i].port, &all);
        if (err != 0) {
            cli_json_obj(j, NULL);
            cli_json_i64(j, "node", bs[i].id);
            cli_json_null(j, "path");
            cli_json_obj(j, "error");
            cli_json_i64(j, "code", err);
            cli_json_str(j, "message", weir_admin_error(a));
            cli_json_end(j);
            cli_json_end(j);
            rc = CLI_EXIT_FAILED;
            continue;
        }
        for (size_t d = 0; d < all->dirs_count; d++) {
            const struct weir_log_dir *ld = &all->dirs[d];
            int64_t used = 0;
            for (size_t p = 0; p < ld->partitions_count; p++) used += ld->partitions[p].size_bytes;
            cli_json_obj(j, NULL);
            cli_json_i64(j, "node", bs[i].id);
            cli_json_str(j, "path", ld->path);
            if (ld->err) {
                cli_json_obj(j, "error");
                cli_json_i64(j, "code", ld->err);
                cli_json_str(j, "message", weir_client_err_text(ld->err));
                cli_json_end(j);
            } else {
                cli_json_null(j, "error");
            }
            cli_json_i64(j, "size_bytes", used);
            cli_json_i64(j, "total_bytes", ld->total_bytes);
            cli_json_i64(j, "usable_bytes", ld->usable_bytes);
            cli_json_arr(j, "partitions");
            for (size_t p = 0; p < ld->partitions_count; p++) {
                cli_json_obj(j, NULL);
                cli_json_str(j, "topic", ld->partitions[p].topic);
                cli_json_i64(j, "partition", ld->partitions[p].partition);
                cli_json_i64(j, "size_bytes", ld->partitions[p].size_bytes);
                cli_json_end(j);
            }
            cli_json_end(j);
            cli_json_end(j);
        }
        weir_log_dirs_destroy(all);
    }
    cli_json_end(j);
    return rc;
}

/* --format json: what show (and show_log_dirs) print, as one document. */
static int show_json(struct weir_admin *a, const struct weir_metadata *md, bool fail_on_problems, bool log_dirs)
{
    struct view v;
    struct cli_json j;
    if (!view_build(md, &v) || !cli_json_open(&j)) {
        view_free(&v);
        return cli_fail("cluster: out of memory");
    }
    cli_json_obj(&j, NULL);
    cli_json_str(&j, "cluster_id", md->cluster_id);
    cli_json_i64(&j, "controller_id", md->controller_id);
    cli_json_arr(&j, "brokers");
    const struct weir_md_broker *bs = v.bs;
    for (size_t i = 0; i < md->brokers_count; i++) {
        size_t leads = leads_of(&v, bs[i].id);
        cli_json_obj(&j, NULL);
        cli_json_i64(&j, "id", bs[i].id);
        cli_json_str(&j, "host", bs[i].host);
        cli_json_i64(&j, "port", bs[i].port);
        cli_json_str(&j, "rack", bs[i].rack);
        cli_json_i64(&j, "leader_of", (int64_t)leads);
        cli_json_bool(&j, "controller", bs[i].id == md->controller_id);
        cli_json_end(&j);
    }
    cli_json_end(&j);
    cli_json_i64(&j, "topics", (int64_t)v.nt);
    cli_json_i64(&j, "partitions", (int64_t)v.nparts);
    json_partitions(&j, "under_replicated", v.ts, v.nt, under_replicated);
    json_partitions(&j, "offline", v.ts, v.nt, offline);
    int rc = log_dirs ? json_log_dirs(&j, a, bs, md->brokers_count) : 0;
    cli_json_end(&j);
    int out = cli_json_emit(&j);
    bool problems = v.under || v.off;
    view_free(&v);
    if (out) return out;
    if (rc) return rc;
    return fail_on_problems && problems ? EXIT_PROBLEMS : 0;
}

/* Each broker's log directories (DescribeLogDirs to each, in id order). 0,
 * or CLI_EXIT_FAILED when a broker did not answer (its line says why). */
static int show_log_dirs(struct weir_admin *a, const struct weir_metadata *md)
{
    struct weir_md_broker *bs = malloc((md->brokers_count ? md->brokers_count : 1) * sizeof *bs);
    if (!bs) return cli_fail("cluster: out of memory");
    memcpy(bs, md->brokers, md->brokers_count * sizeof *bs);
    qsort(bs, md->brokers_count, sizeof *bs, broker_cmp);
    struct weir_log_dirs **all = calloc(md->brokers_count ? md->brokers_count : 1, sizeof *all);
    char(*why)[160] = calloc(md->brokers_count ? md->brokers_count : 1, sizeof *why);
    size_t n_dirs = 0;
    int rc = 0;
    for (size_t i = 0; all && why && i < md->brokers_count; i++) {
        if (weir_admin_describe_log_dirs(a, bs[i].host, bs[i].port, &all[i]) == 0) n_dirs += all[i]->dirs_count;
        else snprintf(why[i], sizeof why[i], "%s", weir_admin_error(a));
    }
    printf("Log dirs: %zu\n", n_dirs);
    for (size_t i = 0; all && why && i < md->brokers_count; i++) {
        if (!all[i]) {
            printf("\tLog dir: -\tNode: %" PRId32 "\tError: %s\n", bs[i].id, why[i]);
            rc = CLI_EXIT_FAILED;
            continue;
        }
        for (size_t d = 0; d < all[i]->dirs_count; d++) {
            const struct weir_log_dir *ld = &all[i]->dirs[d];
            int64_t used = 0;
            for (size_t p = 0; p < ld->partitions_count; p++) used += ld->partitions[p].size_bytes;
            printf("\tLog dir: %s\tNode: %" PRId32 "\tSize: %" PRId64 "\tTotal: %" PRId64 "\tUsable: %" PRId64
                   "\tPartitions: %zu%s%s\n", ld->path, bs[i].id, used, ld->total_bytes, ld->usable_bytes,
                   ld->partitions_count, ld->err ? "\tError: " : "", ld->err ? weir_client_err_str(ld->err) : "");
            for (size_t p = 0; p < ld->partitions_count; p++)
                printf("\tPartition: %s-%" PRId32 "\tNode: %" PRId32 "\tSize: %" PRId64 "\n", ld->partitions[p].topic,
                       ld->partitions[p].partition, bs[i].id, ld->partitions[p].size_bytes);
        }
        weir_log_dirs_destroy(all[i]);
    }
    if (!all || !why) rc = cli_fail("cluster: out of memory");
    free(why);
    free(all);
    free(bs);
    return rc;
}

int cmd_cluster(int argc, char **argv)
{
    const char *bootstrap = CLI_BOOTSTRAP_DEFAULT;
    bool fail_on_problems = false, log_dirs = false, json = false;
    int rc = 0;
    optind = 0;
    opterr = 0;
    for (int opt; (opt = getopt_long(argc, argv, "+:h", cluster_options, NULL)) != -1;) {
        switch (opt) {
        case 'h': usage_cluster(stdout); return cli_stdout_done();
        case OPT_BOOTSTRAP: bootstrap = optarg; break;
        case OPT_FAIL: fail_on_problems = true; break;
        case OPT_LOG_DIRS: log_dirs = true; break;
        case OPT_FORMAT:
            if (!cli_format_parse("cluster", optarg, &json, &rc)) return rc;
            break;
        default: return cli_bad_option(opt, argv, "cluster", "h");
        }
    }
    if (optind < argc) return cli_usage("cluster: unexpected argument '%.160s'", argv[optind]);
    if (!cli_bootstrap_ok("cluster", bootstrap)) return CLI_EXIT_USAGE;
    struct weir_admin *a = cli_admin("cluster", bootstrap);
    if (!a) return CLI_EXIT_FAILED;
    struct weir_metadata *md = NULL;
    if (weir_admin_metadata(a, NULL, 0, &md) != 0) {
        rc = cli_fail("cluster: %s", weir_admin_error(a));
    } else if (json) {
        rc = show_json(a, md, fail_on_problems, log_dirs);
        weir_metadata_destroy(md);
    } else {
        rc = show(md, fail_on_problems);
        int ld = log_dirs ? show_log_dirs(a, md) : 0;
        if (ld) rc = ld;
        weir_metadata_destroy(md);
    }
    weir_admin_destroy(a);
    int out = cli_stdout_done();
    return out ? out : rc;
}
