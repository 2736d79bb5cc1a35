/* repl/meta.c: the metadata interface (repl.h, weir_meta_*): dispatch to a
 * backend's ops, and the cluster's backend over struct weir_cluster. The
 * single node's is meta_local.c. */
#include "meta_int.h"

#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

enum { CONFIG_TEXT_BYTES = 8192 };

void weir_meta_free(struct weir_meta *m)
{
    if (m) m->ops->free(m);
}
int32_t weir_meta_id_self(const struct weir_meta *m) { return m->ops->id_self(m); }
void weir_meta_cluster_id(struct weir_meta *m, char *buf, size_t cap) { m->ops->cluster_id(m, buf, cap); }
int32_t weir_meta_controller(struct weir_meta *m) { return m->ops->controller(m); }
size_t weir_meta_brokers(struct weir_meta *m, const char *listener, struct weir_broker_addr *out, size_t cap)
{
    return m->ops->brokers(m, listener, out, cap);
}
bool weir_meta_broker(struct weir_meta *m, int32_t id, const char *listener, struct weir_broker_addr *out)
{
    return m->ops->broker(m, id, listener, out);
}
int32_t weir_meta_topic_partitions(struct weir_meta *m, const char *topic)
{
    return m->ops->topic_partitions(m, topic);
}
size_t weir_meta_topics(struct weir_meta *m, char **out, size_t cap) { return m->ops->topics(m, out, cap); }
bool weir_meta_partition(struct weir_meta *m, const char *topic, int32_t partition, struct weir_partition_info *out)
{
    return m->ops->partition(m, topic, partition, out);
}
bool weir_meta_topic_id(struct weir_meta *m, const char *topic, struct weir_uuid *out)
{
    return m->ops->topic_id(m, topic, out);
}
enum weir_err weir_meta_topic_config(struct weir_meta *m, const char *topic, const struct weir_log_config *defaults,
                                     struct weir_log_config *out, char *set, size_t set_cap)
{
    return m->ops->topic_config(m, topic, defaults, out, set, set_cap);
}
enum weir_err weir_meta_topic_create(struct weir_meta *m, const char *topic, int32_t partitions, int16_t rf,
                                     const struct weir_assignment *asg, const char *const *keys,
                                     const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    WEIR_ASSERT(!asg || (asg->parts == partitions && asg->rf == rf));
    return m->ops->topic_create(m, topic, partitions, rf, asg, keys, values, n, done, ctx, why, why_cap);
}
enum weir_err weir_meta_topic_configure(struct weir_meta *m, const char *topic, const char *const *keys,
                                        const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                        char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    return m->ops->topic_configure(m, topic, keys, values, n, done, ctx, why, why_cap);
}

int32_t weir_meta_replication_factor(struct weir_meta *m, int32_t rf, char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    return m->ops->replication_factor(m, rf, why, why_cap);
}
enum weir_err weir_meta_assignment_check(struct weir_meta *m, int32_t partition, const int32_t *ids, int32_t n,
                                         char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    if (n <= 0) {
        snprintf(why, why_cap, "Cannot have replication factor of 0 for partition id %d.", partition);
        return WEIR_E_INVALID;
    }
    return m->ops->assignment_check(m, partition, ids, n, why, why_cap);
}
enum weir_err weir_meta_topic_delete(struct weir_meta *m, const char *topic, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    return m->ops->topic_delete(m, topic, done, ctx, why, why_cap);
}
enum weir_err weir_meta_partitions_add(struct weir_meta *m, const char *topic, int32_t total,
                                       const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx,
                                       char *why, size_t why_cap)
{
    if (why_cap) why[0] = '\0';
    return m->ops->partitions_add(m, topic, total, asg, done, ctx, why, why_cap);
}

void weir_meta_isr_write(struct weir_meta *m, const char *topic, int32_t partition, int32_t leader_epoch,
                         int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                         void *ctx)
{
    m->ops->isr_write(m, topic, partition, leader_epoch, zk_version, isr, isr_n, done, ctx);
}

void meta_set_add(char *set, size_t cap, size_t *used, const char *key)
{
    int n = snprintf(set + *used, cap - *used, "\n%s", key);
    if (n > 0 && (size_t)n < cap - *used) *used += (size_t)n;
    else set[*used] = '\0';
}

void meta_set_end(char *set, size_t cap, size_t used)
{
    if (used + 1 < cap) set[used] = '\n', set[used + 1] = '\0';
}

/* ---- the cluster's backend ---------------------------------------------------------- */

struct meta_cluster {
    struct weir_meta m;
    struct weir_cluster *cl;
    int16_t rf_default;
};

static struct weir_cluster *cl_of(const struct weir_meta *m)
{
    return ((const struct meta_cluster *)m)->cl;
}

static void mc_free(struct weir_meta *m) { weir_free(m); }
static int32_t mc_id_self(const struct weir_meta *m) { return weir_cluster_id_self(cl_of(m)); }
static void mc_cluster_id(struct weir_meta *m, char *buf, size_t cap) { weir_cluster_id(cl_of(m), buf, cap); }
static int32_t mc_controller(struct weir_meta *m) { return weir_cluster_controller(cl_of(m)); }
static size_t mc_brokers(struct weir_meta *m, const char *listener, struct weir_broker_addr *out, size_t cap)
{
    return weir_cluster_brokers(cl_of(m), listener, out, cap);
}
static bool mc_broker(struct weir_meta *m, int32_t id, const char *listener, struct weir_broker_addr *out)
{
    return weir_cluster_broker(cl_of(m), id, listener, out);
}
static int32_t mc_topic_partitions(struct weir_meta *m, const char *topic)
{
    return weir_cluster_topic_partitions(cl_of(m), topic);
}
static size_t mc_topics(struct weir_meta *m, char **out, size_t cap) { return weir_cluster_topics(cl_of(m), out, cap); }
static bool mc_topic_id(struct weir_meta *m, const char *topic, struct weir_uuid *out)
{
    return weir_cluster_topic_id(cl_of(m), topic, out);
}

static bool mc_partition(struct weir_meta *m, const char *topic, int32_t partition, struct weir_partition_info *out)
{
    return weir_cluster_partition(cl_of(m), topic, partition, out);
}

/* The broker defaults with /config/topics/<t> over them (keys the log config
 * does not take are skipped, as they were when the topic was created). */
static enum weir_err mc_topic_config(struct weir_meta *m, const char *topic, const struct weir_log_config *defaults,
                                     struct weir_log_config *out, char *set, size_t set_cap)
{
    struct weir_cluster *cl = cl_of(m);
    if (weir_cluster_topic_partitions(cl, topic) < 0) return WEIR_E_NOT_FOUND;
    *out = *defaults;
    set[0] = '\0';
    char *text = weir_malloc(CONFIG_TEXT_BYTES);
    if (!text) return WEIR_E_NOMEM;
    if (weir_cluster_topic_configs(cl, topic, text, CONFIG_TEXT_BYTES) != WEIR_OK) text[0] = '\0';
    size_t used = 0;
    char *save = NULL, why[256];
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (weir_log_config_set(out, line, eq + 1, why, sizeof why) != WEIR_OK) continue;
        meta_set_add(set, set_cap, &used, line);
    }
    meta_set_end(set, set_cap, used);
    weir_free(text);
    return WEIR_OK;
}

static enum weir_err mc_topic_create(struct weir_meta *m, const char *topic, int32_t partitions, int16_t rf,
                                     const struct weir_assignment *asg, const char *const *keys,
                                     const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    struct meta_cluster *mc = (struct meta_cluster *)m;
    struct weir_broker_addr one;
    size_t live = weir_cluster_brokers(mc->cl, NULL, &one, 0);
    if (rf == -1) rf = mc->rf_default;
    if (!asg && (rf < 1 || rf > WEIR_REPLICAS_MAX || (size_t)rf > live)) {
        snprintf(why, why_cap, "replication factor %d is larger than the %zu live brokers", rf, live);
        return WEIR_E_INVALID;
    }
    weir_cluster_topic_create(mc->cl, topic, partitions, rf, asg, keys, values, n, done, ctx);
    return WEIR_OK;
}

static int32_t mc_replication_factor(struct weir_meta *m, int32_t rf, char *why, size_t why_cap)
{
    struct meta_cluster *mc = (struct meta_cluster *)m;
    struct weir_broker_addr one;
    size_t live = weir_cluster_brokers(mc->cl, NULL, &one, 0);
    if (rf == -1) rf = mc->rf_default;
    if (rf < 1 || rf > WEIR_REPLICAS_MAX) {
        snprintf(why, why_cap, "replication factor must be in [1, %d], not %d", WEIR_REPLICAS_MAX, rf);
        return -1;
    }
    if ((size_t)rf > live) {
        snprintf(why, why_cap, "replication factor %d is larger than the %zu live brokers", rf, live);
        return -1;
    }
    return rf;
}

/* Appends ", id" (the first without ", ") to list while it fits. */
static void id_list_add(char *list, size_t cap, size_t *used, int32_t id)
{
    int k = snprintf(list + *used, cap - *used, "%s%d", *used ? ", " : "", id);
    if (k > 0 && (size_t)k < cap - *used) *used += (size_t)k;
    else list[*used] = '\0';
}

static bool id_live(const struct weir_broker_addr *live, size_t n, int32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (live[i].id == id) return true;
    return false;
}

/* AdminZkClient.validateReplicaAssignment's rules for one partition, and
 * ZkAdminManager.createPartitions' broker check (here for CreateTopics too:
 * a replica on no live broker would leave the partition without it). */
static enum weir_err mc_assignment_check(struct weir_meta *m, int32_t partition, const int32_t *ids, int32_t n,
                                         char *why, size_t why_cap)
{
    char list[256] = "";
    size_t used = 0;
    if (n > WEIR_REPLICAS_MAX) {
        snprintf(why, why_cap, "Replication factor: %d above %d for partition id %d.", n, WEIR_REPLICAS_MAX,
                 partition);
        return WEIR_E_INVALID;
    }
    for (int32_t i = 0; i < n; i++) id_list_add(list, sizeof list, &used, ids[i]);
    for (int32_t i = 0; i < n; i++)
        for (int32_t j = 0; j < i; j++)
            if (ids[i] == ids[j]) {
                snprintf(why, why_cap, "Duplicate brokers not allowed in replica assignment: %s for partition id %d.",
                         list, partition);
                return WEIR_E_INVALID;
            }
    struct weir_broker_addr one;
    size_t cap = weir_cluster_brokers(cl_of(m), NULL, &one, 0) + 8; /* a few joining meanwhile */
    struct weir_broker_addr *live = weir_malloc(cap * sizeof *live);
    if (!live) {
        snprintf(why, why_cap, "out of memory");
        return WEIR_E_NOMEM;
    }
    size_t live_n = WEIR_MIN(weir_cluster_brokers(cl_of(m), NULL, live, cap), cap);
    used = 0;
    list[0] = '\0';
    for (int32_t i = 0; i < n; i++)
        if (!id_live(live, live_n, ids[i])) id_list_add(list, sizeof list, &used, ids[i]);
    weir_free(live);
    if (!used) return WEIR_OK;
    snprintf(why, why_cap, "Unknown broker(s) in replica assignment: %s (partition id %d).", list, partition);
    return WEIR_E_INVALID;
}

static enum weir_err mc_topic_delete(struct weir_meta *m, const char *topic, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    if (weir_cluster_topic_partitions(cl_of(m), topic) < 0) {
        snprintf(why, why_cap, "the topic does not exist");
        return WEIR_E_NOT_FOUND;
    }
    weir_cluster_topic_delete(cl_of(m), topic, done, ctx);
    return WEIR_OK;
}

static enum weir_err mc_topic_configure(struct weir_meta *m, const char *topic, const char *const *keys,
                                        const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                        char *why, size_t why_cap)
{
    if (weir_cluster_topic_partitions(cl_of(m), topic) < 0) {
        snprintf(why, why_cap, "the topic does not exist");
        return WEIR_E_NOT_FOUND;
    }
    weir_cluster_topic_configure(cl_of(m), topic, keys, values, n, done, ctx);
    return WEIR_OK;
}

static enum weir_err mc_partitions_add(struct weir_meta *m, const char *topic, int32_t total,
                                       const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx,
                                       char *why, size_t why_cap)
{
    if (weir_cluster_topic_partitions(cl_of(m), topic) < 0) {
        snprintf(why, why_cap, "the topic does not exist");
        return WEIR_E_NOT_FOUND;
    }
    weir_cluster_partitions_add(cl_of(m), topic, total, asg, done, ctx);
    return WEIR_OK;
}

static void mc_isr_write(struct weir_meta *m, const char *topic, int32_t partition, int32_t leader_epoch,
                         int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                         void *ctx)
{
    weir_cluster_isr_write(cl_of(m), topic, partition, leader_epoch, zk_version, isr, isr_n, done, ctx);
}

static const struct meta_ops cluster_ops = {
    .free = mc_free,
    .id_self = mc_id_self,
    .cluster_id = mc_cluster_id,
    .controller = mc_controller,
    .brokers = mc_brokers,
    .broker = mc_broker,
    .topic_partitions = mc_topic_partitions,
    .topics = mc_topics,
    .partition = mc_partition,
    .topic_id = mc_topic_id,
    .topic_config = mc_topic_config,
    .topic_create = mc_topic_create,
    .replication_factor = mc_replication_factor,
    .assignment_check = mc_assignment_check,
    .topic_delete = mc_topic_delete,
    .topic_configure = mc_topic_configure,
    .partitions_add = mc_partitions_add,
    .isr_write = mc_isr_write,
};

struct weir_meta *weir_meta_cluster_new(struct weir_cluster *cl, int16_t rf_default)
{
    struct meta_cluster *mc = weir_calloc(1, sizeof *mc);
    if (!mc) return NULL;
    *mc = (struct meta_cluster){ .m = { &cluster_ops }, .cl = cl, .rf_default = rf_default };
    return &mc->m;
}
