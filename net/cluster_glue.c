/* net/cluster_glue.c: a broker as a cluster member (zookeeper.connect set).
 *
 * Start: once the listeners are bound and every reactor runs, weir_cluster_start
 * registers this broker with its advertised address. Roles then arrive on the
 * cluster's thread (on_role); each is copied into a task for the partition's
 * owner reactor, which makes the local store follow the cluster (the topic
 * with the cluster's partition count and configs), opens the log and applies
 * the role (part_repl_role). A NONE role for a deleted topic deletes the local
 * topic: its logs close on their owners, then its files go. Once joined,
 * start also deletes the local partitions the cluster does not place here
 * and that are not its (strays_sweep, Kafka's stray logs), the same way.
 *
 * Stop: controlled shutdown (weir_cluster_shutdown) while the reactors still
 * serve; then no more roles are posted (glue->closed), the reactors stop
 * (their busy hook waits for role work in flight), and only then
 * weir_cluster_stop closes the session.
 *
 * Invariant: a role task is posted to a reactor only while glue->closed is
 * false (checked under glue->mu), so none is left in a mailbox at
 * reactor_join. Answers of cluster writes (cluster_glue_post) are dropped
 * once the reactors are gone (a request still waiting then was abandoned by
 * the forced stop). */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

enum { TOPIC_CONFIG_TEXT = 8192, TOPIC_CONFIGS_MAX = 64 };

struct cluster_glue {
    pthread_mutex_t mu;
    bool closed;                 /* no more role tasks (under mu) */
    bool gone;                   /* the reactors ended: nothing is posted (under mu) */
    _Atomic int64_t inflight;    /* role tasks and deletion jobs not yet finished */
};

struct role_task {
    struct task t;
    struct reactor_timer retry;   /* armed while a deletion of the same name finishes */
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
    struct weir_role role;
};

enum { ROLE_RETRY_MS = 20 };

/* Posts t to the partition's owner as in-flight glue work, unless the glue
 * is closed (false: not posted, t is the caller's). Any thread. */
static bool glue_post(struct broker *b, const char *topic, int32_t partition, struct task *t)
{
    struct cluster_glue *g = b->glue;
    pthread_mutex_lock(&g->mu);
    bool open = !g->closed;
    if (open) {
        atomic_fetch_add(&g->inflight, 1);
        reactor_post(reactor_owner(b, topic, partition), t);
    }
    pthread_mutex_unlock(&g->mu);
    return open;
}

/* ---- deleting a topic the cluster deleted --------------------------------------------- */

/* A deletion's log line and its count in the glue's in-flight work. */
struct del_note {
    struct broker *b;
    const char *why;              /* a string constant */
    int32_t from;
};

static void deletion_done(void *ctx, const char *topic)
{
    struct del_note *n = ctx;
    if (n->from == 0) weir_log(WEIR_LOG_INFO, "deleted topic %s (%s)", topic, n->why);
    else weir_log(WEIR_LOG_INFO, "deleted the partitions of topic %s from %d on (%s)", topic, n->from, n->why);
    atomic_fetch_sub(&n->b->glue->inflight, 1);
    weir_free(n);
}

/* Runs a begun deletion of partitions [from, n) of topic: each owner
 * unhosts and closes its log, then finish (on origin, a reactor) removes the
 * files (topic_close_all). Any thread. */
static void deletion_run(struct broker *b, struct reactor *origin, struct weir_topic_deletion *d, const char *topic,
                         int32_t from, const char *why)
{
    struct del_note *n = weir_malloc(sizeof *n);
    if (!n) { /* finish closes the logs itself */
        weir_store_topic_delete_finish(b->store, d);
        return;
    }
    *n = (struct del_note){ .b = b, .why = why, .from = from };
    atomic_fetch_add(&b->glue->inflight, 1);
    topic_close_all(origin, topic, d, from, deletion_done, n);
}

/* The local topic goes (once; a later NONE of the same topic finds it gone).
 * Any thread; r is the reactor that finishes it. */
static void topic_delete_local(struct reactor *r, const char *topic, const char *why)
{
    struct broker *b = r->b;
    struct weir_topic_deletion *d = NULL;
    enum weir_err err = weir_store_topic_delete_begin(b->store, topic, &d);
    if (err != WEIR_OK) {
        if (err != WEIR_E_NOT_FOUND)
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot delete local topic %s: %s", topic, weir_err_text(err));
        return;
    }
    deletion_run(b, r, d, topic, 0, why);
}

/* ---- applying a role on the owner -------------------------------------------------------- */

/* The "k=v" lines of text (split in place) the engine takes, as pairs;
 * returns how many (others are the replication layer's, skipped). */
static size_t config_pairs(struct broker *b, char *text, const char *pairs[TOPIC_CONFIGS_MAX][2])
{
    struct weir_log_config probe = b->cfg.log;
    char *save = NULL, skip_why[256];
    size_t np = 0;
    for (char *line = strtok_r(text, "\n", &save); line && np < TOPIC_CONFIGS_MAX; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (weir_log_config_set(&probe, line, eq + 1, skip_why, sizeof skip_why) != WEIR_OK) continue;
        pairs[np][0] = line, pairs[np][1] = eq + 1, np++;
    }
    return np;
}

/* The local topic has at least n partitions; created with the cluster's
 * configs (those the engine knows; others are the replication layer's). */
static enum weir_err topic_follow(struct broker *b, const char *topic, int32_t n, char *why, size_t cap)
{
    int32_t have = weir_store_topic_partitions(b->store, topic);
    if (have >= n) return WEIR_OK;
    enum weir_err err;
    if (have < 0) {
        char *text = weir_malloc(TOPIC_CONFIG_TEXT);
        const char *pairs[TOPIC_CONFIGS_MAX][2];
        size_t np = 0;
        if (!text) return WEIR_E_NOMEM;
        text[0] = '\0';
        err = weir_cluster_topic_configs(b->cluster, topic, text, TOPIC_CONFIG_TEXT);
        if (err != WEIR_OK) { /* never with the defaults: the next role or metadata change retries */
            weir_free(text);
            snprintf(why, cap, "its configs (/config/topics) are not known yet: %s", weir_err_text(err));
            return err;
        }
        np = config_pairs(b, text, pairs);
        err = weir_store_topic_create(b->store, topic, n, (const char *const(*)[2])pairs, np, why, cap);
        weir_free(text);
        if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "topic %s: created locally with %d partitions", topic, n);
    } else {
        err = weir_store_topic_add_partitions(b->store, topic, n);
        if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "topic %s: grown locally to %d partitions", topic, n);
    }
    if (err != WEIR_OK && weir_store_topic_partitions(b->store, topic) >= n) return WEIR_OK; /* another owner won */
    if (err != WEIR_OK && !why[0]) snprintf(why, cap, "%s", weir_err_text(err));
    return err;
}

/* Every reactor reconfigures its open logs of topic (NULL: all) from the store. */
static void refresh_post(struct broker *b, const char *topic)
{
    for (unsigned i = 0; i < b->n_reactors; i++) {
        struct task *t = configs_refresh_task(topic);
        if (t && !cluster_glue_post(b, &b->reactors[i], t)) configs_refresh_task_free(t); /* the reactors are gone */
    }
}

/* A /config/topics/<t> change (another broker's AlterConfigs): the local
 * topic, when this broker hosts it, takes the new configs at once (the
 * store persists them; each owner reactor then reconfigures its open logs).
 * On the cluster's thread. */
static void on_topic_config(void *ctx, const char *topic)
{
    struct broker *b = ctx;
    if (weir_store_topic_partitions(b->store, topic) < 0) return; /* created with them when it comes */
    char *text = weir_malloc(TOPIC_CONFIG_TEXT), why[256] = "";
    const char *pairs[TOPIC_CONFIGS_MAX][2];
    if (!text) return;
    enum weir_err err = weir_cluster_topic_configs(b->cluster, topic, text, TOPIC_CONFIG_TEXT);
    if (err == WEIR_OK)
        err = weir_store_topic_configs_replace(b->store, topic, (const char *const(*)[2])pairs,
                                               config_pairs(b, text, pairs), why, sizeof why);
    if (err != WEIR_OK && err != WEIR_E_NOT_FOUND)
        weir_log(WEIR_LOG_WARN, "topic %s: its new configs are not applied here: %s", topic,
                 why[0] ? why : weir_err_text(err));
    if (err == WEIR_OK) refresh_post(b, topic); /* each owner reconfigures its logs */
    weir_free(text);
}

/* /config/brokers/<default> or /<id> changed: the new defaults, on the cluster's thread. */
static void on_broker_config(void *ctx)
{
    struct broker *b = ctx;
    char *dflt = weir_malloc(WEIR_BROKER_CONFIGS_BYTES), *self = weir_malloc(WEIR_BROKER_CONFIGS_BYTES);
    if (dflt && self &&
        weir_cluster_broker_configs(b->cluster, dflt, WEIR_BROKER_CONFIGS_BYTES, self, WEIR_BROKER_CONFIGS_BYTES) ==
            WEIR_OK)
        if (broker_configs_apply(b, dflt, self)) refresh_post(b, NULL);
    weir_free(dflt);
    weir_free(self);
}

/* The cluster's topic id against the partition's partition.metadata (Kafka's
 * check): another id means the topic was deleted and re-created while this
 * broker was down, so the local copy is not this topic's: its files go and
 * the partition starts empty (then follows its leader). A partition without
 * the file (from before topic ids) takes the cluster's id. */
static enum weir_err topic_id_check(struct reactor *r, const struct role_task *rt)
{
    struct broker *b = r->b;
    const struct weir_uuid *want = &rt->role.topic_id;
    if (weir_uuid_is_zero(want)) return WEIR_OK; /* a topic znode from before Kafka 2.8 */
    struct weir_uuid have;
    enum weir_err err = weir_store_partition_topic_id(b->store, rt->topic, rt->partition, &have);
    if (err == WEIR_OK && !weir_uuid_eq(&have, want)) {
        char a[WEIR_UUID_TEXT_CAP], c[WEIR_UUID_TEXT_CAP];
        weir_uuid_text(&have, a);
        weir_uuid_text(want, c);
        weir_log(WEIR_LOG_WARN, "%s-%d: the local copy has topic id %s but the cluster's topic has %s (deleted and "
                 "re-created while this broker was away): deleting the stale local data, starting the partition empty",
                 rt->topic, rt->partition, a, c);
        struct part *p = part_find(r, rt->topic, rt->partition);
        if (p) {
            part_unhost(r, p);
            part_close(r, rt->topic, rt->partition, NULL);
        }
        err = weir_store_partition_reset(b->store, rt->topic, rt->partition);
        if (err != WEIR_OK) return err;
    } else if (err != WEIR_OK && err != WEIR_E_NOT_FOUND) {
        return err; /* unreadable: neither served nor followed */
    }
    return weir_store_topic_set_id(b->store, rt->topic, want);
}

/* false: the local topic is still being deleted (a deletion of the same
 * name, seen just before this role, has not finished): retry the role. */
static bool role_host(struct reactor *r, const struct role_task *rt)
{
    struct broker *b = r->b;
    int32_t n = WEIR_MAX(weir_cluster_topic_partitions(b->cluster, rt->topic), rt->partition + 1);
    char why[256] = "";
    enum weir_err err = topic_follow(b, rt->topic, n, why, sizeof why);
    if (err == WEIR_E_EXISTS && weir_store_topic_partitions(b->store, rt->topic) < 0) return false;
    struct part *p = NULL;
    if (err == WEIR_OK && (err = topic_id_check(r, rt)) != WEIR_OK)
        snprintf(why, sizeof why, "its partition.metadata: %s", weir_err_text(err));
    if (err == WEIR_OK) err = part_open(r, rt->topic, rt->partition, &p);
    if (err != WEIR_OK) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot host %s-%d: %s", rt->topic, rt->partition,
                             why[0] ? why : weir_err_text(err));
        return true;
    }
    part_topic_id_load(r, p); /* topic_id_check may have just written it */
    part_repl_role(r, p, &rt->role); /* tells the group coordinator when it is __consumer_offsets' */
    return true;
}

static void role_run(struct reactor *r, struct task *t);

/* A retried role is applied only while it is still the partition's latest
 * state: a newer one was posted after it and runs (or retries) itself. */
static void role_retry(struct reactor *r, struct reactor_timer *tm)
{
    struct role_task *rt = weir_container_of(tm, struct role_task, retry);
    struct cluster_glue *g = r->b->glue;
    pthread_mutex_lock(&g->mu);
    bool closed = g->closed;
    pthread_mutex_unlock(&g->mu);
    struct weir_partition_info now;
    bool current = !closed && weir_cluster_partition(r->b->cluster, rt->topic, rt->partition, &now) &&
                   now.leader_epoch == rt->role.info.leader_epoch && now.zk_version == rt->role.info.zk_version;
    if (current) {
        role_run(r, &rt->t);
        return;
    }
    atomic_fetch_sub(&r->b->glue->inflight, 1);
    weir_free(rt);
}

static void role_run(struct reactor *r, struct task *t)
{
    struct role_task *rt = weir_container_of(t, struct role_task, t);
    struct broker *b = r->b;
    static const char *const kinds[] = { "none", "leader", "follower", "offline" };
    weir_log(WEIR_LOG_DEBUG, "%s-%d: %s (leader %d, epoch %d)", rt->topic, rt->partition, kinds[rt->role.kind],
             rt->role.info.leader, rt->role.info.leader_epoch);
    if (rt->role.kind != WEIR_ROLE_NONE) {
        if (!role_host(r, rt)) {
            WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "%s-%d: waiting for the local deletion of the old %s to finish",
                                 rt->topic, rt->partition, rt->topic);
            rt->retry.fire = role_retry;
            reactor_timer_arm(r, &rt->retry, weir_clock_ns() + ROLE_RETRY_MS * 1000000LL);
            return; /* still in flight */
        }
    } else {
        struct part *p = part_find(r, rt->topic, rt->partition);
        if (p) part_unhost(r, p);
        if (weir_cluster_topic_partitions(b->cluster, rt->topic) < 0) topic_delete_local(r, rt->topic, "deleted in the cluster");
        else if (p) part_close(r, rt->topic, rt->partition, NULL); /* no longer a replica: the files stay */
    }
    atomic_fetch_sub(&b->glue->inflight, 1);
    weir_free(rt);
}

/* On the cluster's thread. */
static void on_role(void *ctx, const char *topic, int32_t partition, const struct weir_role *role)
{
    struct broker *b = ctx;
    if (strlen(topic) > WEIR_TOPIC_NAME_MAX || partition < 0) return;
    struct role_task *rt = weir_malloc(sizeof *rt);
    if (!rt) weir_panic("out of memory for a partition role"); /* a lost role would leave the partition stale */
    *rt = (struct role_task){ .t.run = role_run, .partition = partition, .role = *role };
    snprintf(rt->topic, sizeof rt->topic, "%s", topic);
    if (!glue_post(b, topic, partition, &rt->t)) weir_free(rt);
}

/* ---- the broker's side ----------------------------------------------------------------- */

static bool glue_busy(const struct reactor *r, void *ctx)
{
    (void)ctx;
    return r->b->glue && atomic_load(&r->b->glue->inflight) > 0;
}

static const struct reactor_hook_ops glue_hook = { .busy = glue_busy };

void cluster_glue_reactor_init(struct reactor *r) { reactor_hook_add(r, &glue_hook, NULL); }

static void strays_sweep(struct broker *b, int32_t wait_ms);

enum weir_err cluster_glue_start(struct broker *b, char *why, size_t cap)
{
    const struct weir_broker_config *c = &b->cfg;
    struct cluster_glue *g = weir_calloc(1, sizeof *g);
    if (!g) return WEIR_E_NOMEM;
    pthread_mutex_init(&g->mu, NULL);
    b->glue = g;
    struct weir_cluster_config cc = {
        .broker_id = c->node_id,
        .session_timeout_ms = c->zk_session_timeout_ms,
        .connect_timeout_ms = c->zk_connection_timeout_ms ? c->zk_connection_timeout_ms : c->zk_session_timeout_ms,
        .unclean_election = c->unclean_leader_election,
        .auto_rebalance = c->auto_leader_rebalance,
        .rebalance_check_ms = c->leader_imbalance_check_ms,
        .imbalance_pct = c->leader_imbalance_pct,
    };
    snprintf(cc.zk_connect, sizeof cc.zk_connect, "%s", c->zk_connect);
    cc.endpoints_n = broker_endpoints(b, cc.endpoints); /* every advertised listener, as Kafka registers them */
    const struct weir_repl_endpoint *ib = &cc.endpoints[b->inter_broker];
    snprintf(cc.cluster_id, sizeof cc.cluster_id, "%s", b->cluster_id);
    static const struct weir_cluster_ops ops = { .on_role = on_role, .on_change = NULL,
                                                 .on_topic_config = on_topic_config,
                                                 .on_broker_config = on_broker_config };
    char line[512] = "";
    enum weir_err err = weir_cluster_start(&cc, &ops, b, &b->cluster, line, sizeof line);
    if (err != WEIR_OK) {
        b->cluster = NULL;
        snprintf(why, cap, "cannot join the cluster at zookeeper.connect=%s: %s", c->zk_connect,
                 line[0] ? line : weir_err_text(err));
        return err;
    }
    struct weir_meta *meta = weir_meta_cluster_new(b->cluster, (int16_t)c->default_replication_factor);
    if (!meta) {
        snprintf(why, cap, "cannot join the cluster: %s", weir_err_text(WEIR_E_NOMEM));
        return WEIR_E_NOMEM; /* cluster_glue_stop stops the cluster */
    }
    /* Each member hands out producer ids of its own range, broker.id x 2^31 +
     * its counter, so no two give the same id (a leader keeps one idempotence
     * state per id, whichever broker handed it out). */
    b->pid_prefix = (int64_t)c->node_id << 31;
    b->pid_local_max = INT32_MAX;
    __atomic_store_n(&b->meta, meta, __ATOMIC_RELEASE); /* requests are served from here on */
    weir_log(WEIR_LOG_INFO, "broker %d joined the cluster at %s as %s:%d (%s, the inter-broker listener)",
             cc.broker_id, c->zk_connect, ib->host, ib->port, ib->listener);
    strays_sweep(b, cc.connect_timeout_ms);
    return WEIR_OK;
}

/* ---- stray local partitions (Kafka's KIP-858) -------------------------------------------- */

static const char *const stray_text[] = {
    [WEIR_STRAY_NO_TOPIC] = "the cluster has no such topic (deleted while this broker was away)",
    [WEIR_STRAY_OTHER_ID] = "the cluster's topic of that name has another topic id and does not place this "
                            "partition here (deleted and re-created while this broker was away)",
    [WEIR_STRAY_BEYOND] = "the cluster's topic has fewer partitions",
};

/* The rule for one local partition now, by its partition.metadata's id. */
static enum weir_stray stray_now(struct broker *b, const char *topic, int32_t partition)
{
    struct weir_uuid id;
    bool known = weir_store_partition_topic_id(b->store, topic, partition, &id) == WEIR_OK;
    return weir_cluster_stray(b->cluster, topic, partition, known ? &id : NULL);
}

/* The rule, asked again until the cache can tell (or the deadline passes:
 * then UNSURE). */
static enum weir_stray stray_of(struct broker *b, const char *topic, int32_t partition, int64_t deadline)
{
    enum weir_stray s;
    while ((s = stray_now(b, topic, partition)) == WEIR_STRAY_UNSURE && weir_clock_ns() < deadline) usleep(20000);
    return s;
}

/* A stray partition among kept ones of its topic (another id, not placed
 * here): on its owner, unless a role made it this broker's meanwhile, its
 * log closes and its files go (weir_store_partition_reset: one rename, so a
 * crash leaves it whole or gone). The topic keeps its partition count. */
struct stray_task {
    struct task t;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
};

static void stray_run(struct reactor *r, struct task *t)
{
    struct stray_task *st = weir_container_of(t, struct stray_task, t);
    struct broker *b = r->b;
    struct part *p = part_find(r, st->topic, st->partition);
    if (p && p->repl) {
        weir_log(WEIR_LOG_INFO, "%s-%d: given a role before its stray copy went; kept", st->topic, st->partition);
    } else if (stray_now(b, st->topic, st->partition) == WEIR_STRAY_OTHER_ID) {
        if (p) part_close(r, st->topic, st->partition, NULL);
        enum weir_err err = weir_store_partition_reset(b->store, st->topic, st->partition);
        if (err != WEIR_OK)
            weir_log(WEIR_LOG_ERROR, "%s-%d: cannot delete the stray copy: %s", st->topic, st->partition,
                     weir_err_text(err));
        else
            weir_log(WEIR_LOG_INFO, "%s-%d: deleted the stray copy in %s", st->topic, st->partition, b->cfg.data_dir);
    }
    atomic_fetch_sub(&b->glue->inflight, 1);
    weir_free(st);
}

static void stray_post(struct broker *b, const char *topic, int32_t partition)
{
    struct stray_task *st = weir_malloc(sizeof *st);
    if (!st) return; /* kept: checked again at the next start */
    *st = (struct stray_task){ .t.run = stray_run, .partition = partition };
    snprintf(st->topic, sizeof st->topic, "%s", topic);
    if (!glue_post(b, topic, partition, &st->t)) weir_free(st);
}

/* One local topic: all of it stray goes as a topic; a stray tail past the
 * cluster's partition count goes as a shrink; stray partitions among kept
 * ones (another id, not placed here) go one by one (stray_post). */
static void strays_topic(struct broker *b, const struct weir_topic_info *t, int64_t deadline)
{
    int32_t n = t->partitions, stray = 0, tail = n, unsure = 0;
    enum weir_stray *rule = weir_calloc((size_t)n, sizeof *rule);
    if (!rule) return; /* kept: checked again at the next start */
    for (int32_t p = 0; p < n; p++) {
        enum weir_stray s = rule[p] = stray_of(b, t->name, p, deadline);
        unsure += s == WEIR_STRAY_UNSURE;
        stray += s >= WEIR_STRAY_NO_TOPIC;
        if (s == WEIR_STRAY_BEYOND && tail == n) tail = p;
        if (s >= WEIR_STRAY_NO_TOPIC)
            weir_log(WEIR_LOG_WARN, "%s-%d in %s is stray: %s; deleting it", t->name, p, b->cfg.data_dir, stray_text[s]);
    }
    if (unsure)
        weir_log(WEIR_LOG_WARN, "topic %s in %s: %d of its %d partitions not checked for stray data (the cluster's "
                 "metadata was not fully read in time, or the topic is being deleted); kept", t->name,
                 b->cfg.data_dir, unsure, n);
    if (stray == n && !unsure) {
        topic_delete_local(&b->reactors[0], t->name, "stray: not the cluster's");
    } else {
        struct weir_topic_deletion *d = NULL;
        if (tail < n && tail > 0 && weir_store_topic_shrink_begin(b->store, t->name, tail, &d) == WEIR_OK)
            deletion_run(b, &b->reactors[0], d, t->name, tail, "stray: past the cluster's partition count");
        for (int32_t p = 0; p < tail; p++)
            if (rule[p] == WEIR_STRAY_OTHER_ID) stray_post(b, t->name, p);
    }
    weir_free(rule);
}

/* Local partitions the cluster does not place here and that are not its
 * (Kafka's stray logs): deleted through the store's deletion, never served.
 * Only for a data directory of this cluster (meta.properties named its id
 * and start checked it), once the cache holds every topic znode. */
static void strays_sweep(struct broker *b, int32_t wait_ms)
{
    size_t n = weir_store_topics(b->store, NULL, 0);
    struct weir_topic_info *info = n ? weir_calloc(n, sizeof *info) : NULL;
    if (!info) return;
    n = WEIR_MIN(n, weir_store_topics(b->store, info, n));
    int64_t deadline = weir_clock_ns() + (int64_t)wait_ms * 1000000;
    for (size_t i = 0; i < n; i++) {
        if (b->cluster_id[0]) strays_topic(b, &info[i], deadline);
        else if (weir_cluster_topic_listed(b->cluster, info[i].name) == 0)
            weir_log(WEIR_LOG_WARN, "topic %s in %s is not the cluster's, and meta.properties named no cluster: kept, "
                     "not served", info[i].name, b->cfg.data_dir);
    }
    weir_free(info);
}

/* Before the reactors stop: leaderships move away while this broker still serves. */
void cluster_glue_shutdown(struct broker *b)
{
    const struct weir_broker_config *c = &b->cfg;
    if (!b->cluster || !c->controlled_shutdown) return;
    int64_t timeout_ms = (int64_t)c->controlled_shutdown_max_retries * c->controlled_shutdown_backoff_ms;
    int64_t t0 = weir_clock_ns();
    enum weir_err err = weir_cluster_shutdown(b->cluster, timeout_ms);
    int64_t took_ms = (weir_clock_ns() - t0) / 1000000;
    if (err == WEIR_OK)
        weir_log(WEIR_LOG_INFO, "controlled shutdown: leaderships moved in %" PRId64 " ms", took_ms);
    else
        weir_log(WEIR_LOG_WARN, "controlled shutdown: %s after %" PRId64 " ms; stopping anyway", weir_err_text(err),
                 took_ms);
}

/* No role is posted after it returns (the reactors are about to stop). */
void cluster_glue_close(struct broker *b)
{
    if (!b->glue) return;
    pthread_mutex_lock(&b->glue->mu);
    b->glue->closed = true;
    pthread_mutex_unlock(&b->glue->mu);
}

bool cluster_glue_post(struct broker *b, struct reactor *to, struct task *t)
{
    if (!b->glue) { /* a single node: its completions run on a reactor, which outlives them */
        reactor_post(to, t);
        return true;
    }
    pthread_mutex_lock(&b->glue->mu);
    bool gone = b->glue->gone;
    if (!gone) reactor_post(to, t);
    pthread_mutex_unlock(&b->glue->mu);
    return !gone;
}

/* After the reactors ended. */
void cluster_glue_stop(struct broker *b)
{
    if (b->glue) {
        pthread_mutex_lock(&b->glue->mu);
        b->glue->gone = true;
        pthread_mutex_unlock(&b->glue->mu);
    }
    if (b->cluster) weir_cluster_stop(b->cluster);
    b->cluster = NULL;
    if (!b->glue) return;
    WEIR_ASSERT(atomic_load(&b->glue->inflight) == 0);
    pthread_mutex_destroy(&b->glue->mu);
    weir_free(b->glue);
    b->glue = NULL;
}
