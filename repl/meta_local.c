/* repl/meta_local.c: the metadata interface's single-node backend, over the
 * engine's file-based topic store. Invariants: one live broker, this one,
 * which is the controller; every partition of every topic in the store is
 * led by it at leader epoch 0, replicas = ISR = {self} (so a partition's
 * high watermark, committed when the whole ISR has it, is its log end). */
#include "meta_int.h"

#include "engine/engine.h"

#include <stdio.h>
#include <string.h>

struct meta_local {
    struct weir_meta m;
    struct weir_store *st;
    int32_t self_id;
    uint32_t endpoints_n;
    struct weir_repl_endpoint endpoints[WEIR_REPL_ENDPOINTS_MAX]; /* this broker's advertised listeners */
    char cluster_id[64];
    struct weir_meta_local_host host;
};

static struct meta_local *ml_of(struct weir_meta *m) { return (struct meta_local *)m; }

static void ml_free(struct weir_meta *m) { weir_free(m); }
static int32_t ml_id_self(const struct weir_meta *m) { return ((const struct meta_local *)m)->self_id; }
static void ml_cluster_id(struct weir_meta *m, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", ml_of(m)->cluster_id);
}
static int32_t ml_controller(struct weir_meta *m) { return ml_of(m)->self_id; }

/* Itself at its endpoint of listener (host "", port -1: none). */
static void ml_self(const struct meta_local *ml, const char *listener, struct weir_broker_addr *out)
{
    *out = (struct weir_broker_addr){ .id = ml->self_id, .port = -1 };
    for (uint32_t i = 0; listener && i < ml->endpoints_n; i++)
        if (strcmp(ml->endpoints[i].listener, listener) == 0) {
            snprintf(out->host, sizeof out->host, "%s", ml->endpoints[i].host);
            out->port = ml->endpoints[i].port;
            break;
        }
}

static size_t ml_brokers(struct weir_meta *m, const char *listener, struct weir_broker_addr *out, size_t cap)
{
    if (cap >= 1) ml_self(ml_of(m), listener, &out[0]);
    return 1;
}

static bool ml_broker(struct weir_meta *m, int32_t id, const char *listener, struct weir_broker_addr *out)
{
    if (id != ml_of(m)->self_id) return false;
    ml_self(ml_of(m), listener, out);
    return out->port >= 0;
}

static int32_t ml_topic_partitions(struct weir_meta *m, const char *topic)
{
    return weir_store_topic_partitions(ml_of(m)->st, topic);
}

static size_t ml_topics(struct weir_meta *m, char **out, size_t cap)
{
    struct weir_store *st = ml_of(m)->st;
    struct weir_topic_info *info = cap ? weir_calloc(cap, sizeof *info) : NULL;
    if (cap && !info) return 0;
    size_t have = weir_store_topics(st, info, cap);
    for (size_t i = 0; i < WEIR_MIN(have, cap); i++) {
        out[i] = weir_strdup(info[i].name);
        if (!out[i]) { /* all or none */
            for (size_t j = 0; j < i; j++) weir_free(out[j]), out[j] = NULL;
            have = 0;
            break;
        }
    }
    weir_free(info);
    return have;
}

static bool ml_partition(struct weir_meta *m, const char *topic, int32_t partition, struct weir_partition_info *out)
{
    struct meta_local *ml = ml_of(m);
    int32_t n = weir_store_topic_partitions(ml->st, topic);
    if (partition < 0 || partition >= n) return false;
    *out = (struct weir_partition_info){ .leader = ml->self_id, .leader_epoch = 0, .zk_version = 0,
                                         .replicas_n = 1, .isr_n = 1 };
    out->replicas[0] = out->isr[0] = ml->self_id;
    return true;
}

/* The store's effective config (its defaults are the broker's: `defaults`
 * is not needed) and the keys the topic overrides. */
static enum weir_err ml_topic_config(struct weir_meta *m, const char *topic, const struct weir_log_config *defaults,
                                     struct weir_log_config *out, char *set, size_t set_cap)
{
    (void)defaults;
    struct weir_store *st = ml_of(m)->st;
    enum weir_err err = weir_store_topic_config(st, topic, out);
    if (err != WEIR_OK) return err;
    char text[WEIR_LOG_CONFIG_FORMAT_BYTES];
    weir_log_config_format(out, text, sizeof text);
    size_t used = 0;
    set[0] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (weir_store_topic_override(st, topic, line)) meta_set_add(set, set_cap, &used, line);
    }
    meta_set_end(set, set_cap, used);
    return WEIR_OK;
}

enum { CREATE_CONFIGS_MAX = 64 };

/* asg: each partition on this node alone (weir_meta_assignment_check), as without one. */
static enum weir_err ml_topic_create(struct weir_meta *m, const char *topic, int32_t partitions, int16_t rf,
                                     const struct weir_assignment *asg, const char *const *keys,
                                     const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    (void)asg;
    struct meta_local *ml = ml_of(m);
    if (rf != -1 && rf != 1) {
        snprintf(why, why_cap, "replication factor must be 1 on a single node");
        return WEIR_E_INVALID;
    }
    if (n > CREATE_CONFIGS_MAX) {
        snprintf(why, why_cap, "too many configs (max %d)", CREATE_CONFIGS_MAX);
        return WEIR_E_BAD_CONFIG;
    }
    const char *pairs[CREATE_CONFIGS_MAX][2];
    for (uint32_t i = 0; i < n; i++) pairs[i][0] = keys[i], pairs[i][1] = values[i];
    enum weir_err err =
        weir_store_topic_create(ml->st, topic, partitions, (const char *const(*)[2])pairs, n, why, why_cap);
    if (err != WEIR_OK) return err;
    ml->host.open(ml->host.ctx, topic, 0, partitions, done, ctx);
    return WEIR_OK;
}

static int32_t ml_replication_factor(struct weir_meta *m, int32_t rf, char *why, size_t why_cap)
{
    (void)m;
    if (rf == -1 || rf == 1) return 1;
    snprintf(why, why_cap, "replication factor must be 1 on a single node");
    return -1;
}

static enum weir_err ml_assignment_check(struct weir_meta *m, int32_t partition, const int32_t *ids, int32_t n,
                                         char *why, size_t why_cap)
{
    if (n == 1 && ids[0] == ml_of(m)->self_id) return WEIR_OK;
    snprintf(why, why_cap, "a single node places partition id %d on itself alone (broker %d)", partition,
             ml_of(m)->self_id);
    return WEIR_E_INVALID;
}

static enum weir_err ml_topic_delete(struct weir_meta *m, const char *topic, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap)
{
    (void)why, (void)why_cap;
    struct meta_local *ml = ml_of(m);
    struct weir_topic_deletion *d = NULL;
    enum weir_err err = weir_store_topic_delete_begin(ml->st, topic, &d);
    if (err != WEIR_OK) return err;
    ml->host.remove(ml->host.ctx, topic, d, done, ctx);
    return WEIR_OK;
}

/* The store persists them at once; the caller has the owners reconfigure the open logs (configs_refresh). */
static enum weir_err ml_topic_configure(struct weir_meta *m, const char *topic, const char *const *keys,
                                        const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                        char *why, size_t why_cap)
{
    const char *(*pairs)[2] = weir_calloc(n ? n : 1, sizeof *pairs);
    if (!pairs) return WEIR_E_NOMEM;
    for (uint32_t i = 0; i < n; i++) pairs[i][0] = keys[i], pairs[i][1] = values[i];
    enum weir_err err =
        weir_store_topic_configs_replace(ml_of(m)->st, topic, (const char *const(*)[2])pairs, n, why, why_cap);
    weir_free(pairs);
    if (err == WEIR_OK) done(ctx, WEIR_OK, "");
    return err;
}

static enum weir_err ml_partitions_add(struct weir_meta *m, const char *topic, int32_t total,
                                       const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx,
                                       char *why, size_t why_cap)
{
    (void)asg, (void)why, (void)why_cap;
    struct meta_local *ml = ml_of(m);
    int32_t old = weir_store_topic_partitions(ml->st, topic);
    if (old < 0) return WEIR_E_NOT_FOUND;
    enum weir_err err = weir_store_topic_add_partitions(ml->st, topic, total);
    if (err != WEIR_OK) return err;
    ml->host.open(ml->host.ctx, topic, old, total, done, ctx);
    return WEIR_OK;
}

static void ml_isr_write(struct weir_meta *m, const char *topic, int32_t partition, int32_t leader_epoch,
                         int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                         void *ctx)
{
    (void)m, (void)topic, (void)partition, (void)leader_epoch, (void)zk_version, (void)isr, (void)isr_n;
    done(ctx, WEIR_E_UNSUPPORTED, -1); /* led alone: ISR = {self} for good */
}

static bool ml_topic_id(struct weir_meta *m, const char *topic, struct weir_uuid *out)
{
    return weir_store_topic_id(ml_of(m)->st, topic, out) == WEIR_OK && !weir_uuid_is_zero(out);
}

static const struct meta_ops local_ops = {
    .free = ml_free,
    .id_self = ml_id_self,
    .cluster_id = ml_cluster_id,
    .controller = ml_controller,
    .brokers = ml_brokers,
    .broker = ml_broker,
    .topic_partitions = ml_topic_partitions,
    .topics = ml_topics,
    .partition = ml_partition,
    .topic_id = ml_topic_id,
    .topic_config = ml_topic_config,
    .topic_create = ml_topic_create,
    .replication_factor = ml_replication_factor,
    .assignment_check = ml_assignment_check,
    .topic_delete = ml_topic_delete,
    .topic_configure = ml_topic_configure,
    .partitions_add = ml_partitions_add,
    .isr_write = ml_isr_write,
};

struct weir_meta *weir_meta_local_new(struct weir_store *st, int32_t self_id, const struct weir_repl_endpoint *endpoints,
                                      uint32_t endpoints_n, const char *cluster_id,
                                      const struct weir_meta_local_host *host)
{
    struct meta_local *ml = weir_calloc(1, sizeof *ml);
    if (!ml) return NULL;
    WEIR_ASSERT(endpoints_n <= WEIR_REPL_ENDPOINTS_MAX);
    *ml = (struct meta_local){ .m = { &local_ops }, .st = st, .self_id = self_id, .endpoints_n = endpoints_n,
                               .host = *host };
    if (endpoints_n) memcpy(ml->endpoints, endpoints, endpoints_n * sizeof *endpoints);
    snprintf(ml->cluster_id, sizeof ml->cluster_id, "%s", cluster_id);
    return &ml->m;
}

/* Topics from before topic ids get one now (a cluster's come from ZooKeeper);
 * partitions write partition.metadata as they open. */
static enum weir_err topic_ids_upgrade(struct weir_store *st)
{
    size_t n = weir_store_topics(st, NULL, 0);
    struct weir_topic_info *info = n ? weir_calloc(n, sizeof *info) : NULL;
    if (n && !info) return WEIR_E_NOMEM;
    n = WEIR_MIN(n, weir_store_topics(st, info, n));
    enum weir_err err = WEIR_OK;
    for (size_t i = 0; i < n && err == WEIR_OK; i++) {
        struct weir_uuid id;
        if (weir_store_topic_id(st, info[i].name, &id) != WEIR_OK || !weir_uuid_is_zero(&id)) continue;
        err = weir_uuid_random(&id);
        if (err == WEIR_OK) err = weir_store_topic_set_id(st, info[i].name, &id);
        char text[WEIR_UUID_TEXT_CAP];
        weir_uuid_text(&id, text);
        if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "topic %s: given topic id %s (it had none)", info[i].name, text);
    }
    weir_free(info);
    return err;
}

enum weir_err weir_meta_local_open(struct weir_store *st, int32_t self_id, const struct weir_repl_endpoint *endpoints,
                                   uint32_t endpoints_n, const char *cluster_id,
                                   const struct weir_meta_local_host *host, struct weir_meta **out, char *why,
                                   size_t why_cap)
{
    *out = NULL;
    enum weir_err err = topic_ids_upgrade(st);
    if (err != WEIR_OK) {
        snprintf(why, why_cap, "cannot give the topics their topic ids: %s", weir_err_text(err));
        return err;
    }
    *out = weir_meta_local_new(st, self_id, endpoints, endpoints_n, cluster_id, host);
    if (!*out) snprintf(why, why_cap, "cannot start: %s", weir_err_text(WEIR_E_NOMEM));
    return *out ? WEIR_OK : WEIR_E_NOMEM;
}
