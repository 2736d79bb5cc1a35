/* net/handle_meta.c: the APIs answered from the metadata interface
 * (repl.h, weir_meta_*: a cluster's or a single node's, never asked which):
 * Metadata, DescribeCluster, FindCoordinator, and the offsets topic's creation.
 *
 * A topic unknown to Metadata is auto-created through the interface
 * (answering LEADER_NOT_AVAILABLE meanwhile; clients ask again); a single
 * node opens its partitions before done runs and rolls the topic back when
 * one cannot open. Callbacks may run on the cluster's thread: they only log. */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { BROKERS_FIRST = 64, TOPICS_FIRST = 64 };

/* Live brokers, ascending ids, on the heap (*n of them), with their
 * endpoints of `listener` (port -1: none). */
static struct weir_broker_addr *brokers_live(struct weir_meta *m, const char *listener, size_t *n)
{
    size_t cap = BROKERS_FIRST;
    for (;;) {
        struct weir_broker_addr *v = weir_calloc(cap, sizeof *v);
        if (!v) return NULL;
        size_t have = weir_meta_brokers(m, listener, v, cap);
        if (have <= cap) {
            *n = have;
            return v;
        }
        weir_free(v);
        cap = have;
    }
}

size_t meta_live_count(struct weir_meta *m)
{
    struct weir_broker_addr one;
    return weir_meta_brokers(m, NULL, &one, 0);
}

static const struct weir_broker_addr *live_find(const struct weir_broker_addr *v, size_t n, int32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].id == id) return &v[mid];
        if (v[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The brokers of an answer (Metadata, DescribeCluster) on the heap, *n of
 * them: the live ones with an endpoint of the request's listener (a broker
 * without one is left out), rack null. They borrow live's hosts. NULL: out of
 * memory (or live NULL), *n = 0. */
static struct kmetadata_broker *brokers_answer(const struct weir_broker_addr *live, size_t n_live, int32_t *n)
{
    *n = 0;
    struct kmetadata_broker *v = live ? weir_calloc(n_live ? n_live : 1, sizeof *v) : NULL;
    for (size_t i = 0; v && i < n_live; i++)
        if (live[i].port >= 0) v[(*n)++] = (struct kmetadata_broker){ live[i].id, kstr_c(live[i].host), live[i].port, KSTR_NULL };
    return v;
}

static bool id_live(const struct weir_broker_addr *v, size_t n, int32_t id) { return live_find(v, n, id) != NULL; }

unsigned broker_endpoints(const struct broker *b, struct weir_repl_endpoint *out)
{
    const struct weir_broker_config *c = &b->cfg;
    _Static_assert((int)WEIR_LISTENERS_MAX <= (int)WEIR_REPL_ENDPOINTS_MAX, "");
    for (unsigned li = 0; li < c->listeners_n; li++) {
        const char *host;
        out[li] = (struct weir_repl_endpoint){ .port = -1 };
        listener_advertised(b, li, &host, &out[li].port);
        snprintf(out[li].listener, sizeof out[li].listener, "%s", c->listeners[li].name);
        snprintf(out[li].host, sizeof out[li].host, "%s", host);
    }
    return c->listeners_n;
}

/* ---- __consumer_offsets ------------------------------------------------------------- */

static _Atomic bool offsets_creating; /* one creation in flight per process */

static void offsets_created(void *ctx, enum weir_err err, const char *why)
{
    (void)ctx;
    if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "created %s", GROUP_OFFSETS_TOPIC);
    else if (err != WEIR_E_EXISTS)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "cannot create %s: %s", GROUP_OFFSETS_TOPIC,
                             why && why[0] ? why : weir_err_text(err));
    atomic_store(&offsets_creating, false);
}

/* Kafka creates it on the first FindCoordinator once offsets.topic.replication.factor
 * brokers are live; until then coordinators are not available. (A single
 * node has it from its start: groups_topic_ensure.) */
static void offsets_topic_maybe_create(struct broker *b)
{
    int32_t rf = b->cfg.offsets_topic_replication_factor;
    size_t live = meta_live_count(b->meta);
    if (live < (size_t)rf) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "%s not created yet: %zu live brokers, offsets.topic.replication.factor=%d",
                             GROUP_OFFSETS_TOPIC, live, rf);
        return;
    }
    if (atomic_exchange(&offsets_creating, true)) return;
    char seg_text[24], why[256];
    const char *keys[GROUPS_TOPIC_CONFIGS], *values[GROUPS_TOPIC_CONFIGS];
    unsigned n = groups_topic_configs(b, seg_text, keys, values);
    enum weir_err err = weir_meta_topic_create(b->meta, GROUP_OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS, (int16_t)rf,
                                               NULL, keys, values, n, offsets_created, NULL, why, sizeof why);
    if (err != WEIR_OK) offsets_created(NULL, err, why);
}

/* ---- Metadata ------------------------------------------------------------------------- */

static void autocreate_done(void *ctx, enum weir_err err, const char *why)
{
    char *topic = ctx;
    if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "auto-created topic %s", topic);
    else if (err != WEIR_E_EXISTS)
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "auto-create of topic %s failed: %s", topic,
                             why && why[0] ? why : weir_err_text(err));
    weir_free(topic);
}

/* A named topic unknown to the metadata: auto-created (answering
 * LEADER_NOT_AVAILABLE meanwhile), or UNKNOWN_TOPIC_OR_PARTITION. */
static int16_t metadata_unknown(struct broker *b, const struct kmetadata_req *mr, const char *topic)
{
    if (!strcmp(topic, GROUP_OFFSETS_TOPIC)) {
        offsets_topic_maybe_create(b);
        return WEIR_KERR_LEADER_NOT_AVAILABLE;
    }
    if (!b->cfg.auto_create_topics || !mr->allow_auto_topic_creation) return WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    char *copy = weir_strdup(topic);
    if (!copy) return WEIR_KERR_LEADER_NOT_AVAILABLE;
    char why[256];
    enum weir_err err = weir_meta_topic_create(b->meta, topic, b->cfg.num_partitions, -1, NULL, NULL, NULL, 0,
                                               autocreate_done, copy, why, sizeof why);
    if (err == WEIR_OK) return WEIR_KERR_LEADER_NOT_AVAILABLE;
    weir_free(copy);
    if (err == WEIR_E_EXISTS) return WEIR_KERR_LEADER_NOT_AVAILABLE;
    if (err == WEIR_E_INVALID) return WEIR_KERR_INVALID_REPLICATION_FACTOR;
    WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "auto-create of topic %s failed: %s", topic,
                         why[0] ? why : weir_err_text(err));
    return WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Replica lists of every partition in one growing pool; parts point into it at the end. */
struct id_pool {
    int32_t *v;
    size_t n, cap;
    bool failed;
};

static size_t pool_put(struct id_pool *pl, const int32_t *ids, size_t n)
{
    if (pl->n + n > pl->cap) {
        size_t cap = WEIR_MAX(pl->cap * 2, pl->n + n + 256);
        int32_t *v = weir_realloc(pl->v, cap * sizeof *v);
        if (!v) {
            pl->failed = true;
            return 0;
        }
        pl->v = v, pl->cap = cap;
    }
    size_t at = pl->n;
    if (n) memcpy(pl->v + at, ids, n * sizeof *ids);
    pl->n += n;
    return at;
}

struct mpart_at {
    size_t replicas, isr, offline; /* offsets into the pool */
};

/* live: with the endpoints of the request's listener; a leader without one is
 * no leader to this client (Kafka: LISTENER_NOT_FOUND from Metadata v6). */
static void metadata_topic_fill(struct broker *b, int16_t version, struct kmetadata_topic *t, const char *topic,
                                int32_t n, const struct weir_broker_addr *live, size_t n_live, struct id_pool *pool,
                                struct mpart_at *at)
{
    struct kmetadata_part *parts = weir_calloc(n ? (size_t)n : 1, sizeof *parts);
    t->partitions = parts;
    t->n_partitions = parts ? n : 0;
    t->is_internal = !strcmp(topic, GROUP_OFFSETS_TOPIC);
    for (int32_t p = 0; parts && p < n; p++) {
        struct weir_partition_info info;
        struct kmetadata_part *mp = &parts[p];
        *mp = (struct kmetadata_part){ .partition_index = p, .leader_id = WEIR_NO_LEADER, .leader_epoch = -1 };
        if (!weir_meta_partition(b->meta, topic, p, &info)) {
            mp->error_code = WEIR_KERR_LEADER_NOT_AVAILABLE;
            continue;
        }
        int32_t offline[WEIR_REPLICAS_MAX];
        uint32_t n_off = 0;
        for (uint32_t i = 0; i < info.replicas_n; i++)
            if (!id_live(live, n_live, info.replicas[i])) offline[n_off++] = info.replicas[i];
        mp->leader_id = info.leader;
        mp->leader_epoch = info.leader_epoch; /* also with LEADER_NOT_AVAILABLE, as Kafka */
        const struct weir_broker_addr *leader = live_find(live, n_live, info.leader);
        if (info.leader == WEIR_NO_LEADER || !leader) /* Kafka: -1 then */
            mp->error_code = WEIR_KERR_LEADER_NOT_AVAILABLE, mp->leader_id = WEIR_NO_LEADER;
        else if (leader->port < 0)
            mp->error_code = version >= 6 ? WEIR_KERR_LISTENER_NOT_FOUND : WEIR_KERR_LEADER_NOT_AVAILABLE,
            mp->leader_id = WEIR_NO_LEADER;
        at[p].replicas = pool_put(pool, info.replicas, info.replicas_n);
        at[p].isr = pool_put(pool, info.isr, info.isr_n);
        at[p].offline = pool_put(pool, offline, n_off);
        mp->n_replicas = (int32_t)info.replicas_n;
        mp->n_isr = (int32_t)info.isr_n;
        mp->n_offline = (int32_t)n_off;
    }
}

/* Names of every topic on the heap (*n of them), or NULL. */
static char **topics_all(struct weir_meta *m, size_t *n);

/* Kafka without an authorizer answers every operation the resource supports
 * (AclEntry.supportedOperations, a bit per AclOperation code): weir has no
 * ACLs. TOPIC: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11. CLUSTER: CREATE 5, ALTER 7,
 * DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
 * IDEMPOTENT_WRITE 12. */
enum { TOPIC_OPS_ALL = 0xdf8, CLUSTER_OPS_ALL = 0x1fa0 };

bool meta_topic_name_of_id(struct weir_meta *m, const struct weir_uuid *id, char *out, size_t cap)
{
    size_t n = 0;
    char **names = topics_all(m, &n);
    bool found = false;
    for (size_t i = 0; names && i < n; i++) {
        struct weir_uuid have;
        if (!found && weir_meta_topic_id(m, names[i], &have) && weir_uuid_eq(&have, id))
            found = true, snprintf(out, cap, "%s", names[i]);
        weir_free(names[i]);
    }
    weir_free(names);
    return found;
}

bool deletetopics_resolve(struct request *req, struct kdeletetopics_req *dr, int16_t *errors)
{
    bool both = false;
    for (int32_t i = 0; i < dr->n_topic_names; i++) {
        errors[i] = 0;
        both |= dr->topic_ids && !weir_uuid_is_zero(&dr->topic_ids[i]) && !kstr_is_null(dr->topic_names[i]);
    }
    for (int32_t i = 0; i < dr->n_topic_names; i++) {
        char name[WEIR_TOPIC_NAME_MAX + 1];
        if (both) {
            errors[i] = WEIR_KERR_INVALID_REQUEST;
        } else if (dr->topic_ids && !weir_uuid_is_zero(&dr->topic_ids[i])) {
            if (!meta_topic_name_of_id(req->c->r->b->meta, &dr->topic_ids[i], name, sizeof name)) {
                errors[i] = WEIR_KERR_UNKNOWN_TOPIC_ID;
                continue;
            }
            char *copy = arena_strdup(&req->arena, kstr_c(name));
            if (!copy) return false;
            dr->topic_names[i] = kstr_c(copy);
        } else if (kstr_is_null(dr->topic_names[i])) {
            errors[i] = WEIR_KERR_INVALID_REQUEST; /* neither a name nor an id */
        }
    }
    return true;
}

void deletetopics_messages(const struct request *req, struct ktopic_result *res, int32_t n)
{
    for (int32_t i = 0; req->hdr.api_version >= 5 && i < n; i++)
        if (res[i].error_code != 0 && kstr_is_null(res[i].error_message))
            res[i].error_message = kstr_c(weir_kerr_message(res[i].error_code));
}

/* v12 asks by id (Kafka's KafkaApis: any non-zero id makes the whole request
 * one by id, names ignored): each known id's name replaces the entry's name;
 * unknown ids are marked. NULL when the request asks by name. */
static bool *metadata_by_id(struct request *req, struct kmetadata_req *mr)
{
    bool by_id = false;
    for (int32_t i = 0; mr->topic_ids && i < mr->n_topics; i++) by_id |= !weir_uuid_is_zero(&mr->topic_ids[i]);
    if (!by_id) return NULL;
    bool *unknown = weir_arena_alloc(&req->arena, (size_t)mr->n_topics * sizeof *unknown);
    if (!unknown) return NULL;
    for (int32_t i = 0; i < mr->n_topics; i++) {
        char name[WEIR_TOPIC_NAME_MAX + 1];
        unknown[i] = weir_uuid_is_zero(&mr->topic_ids[i]) ||
                     !meta_topic_name_of_id(req->c->r->b->meta, &mr->topic_ids[i], name, sizeof name);
        char *copy = unknown[i] ? NULL : arena_strdup(&req->arena, kstr_c(name));
        if (copy) mr->topics[i] = kstr_c(copy);
        else unknown[i] = true;
    }
    mr->allow_auto_topic_creation = false;
    return unknown;
}

/* What every topic entry gets besides its partitions: its id (v10+; an
 * unknown id's entry: UNKNOWN_TOPIC_ID, null name) and authorized operations
 * when asked (v8+; cluster ones v8-10). */
static void metadata_finish(struct weir_meta *m, const struct kmetadata_req *mr, const bool *unknown_id,
                            struct kmetadata_topic *topics, int32_t n, struct kmetadata_resp *resp)
{
    for (int32_t i = 0; topics && i < n; i++) {
        struct kmetadata_topic *t = &topics[i];
        if (unknown_id && unknown_id[i]) {
            *t = (struct kmetadata_topic){ .error_code = WEIR_KERR_UNKNOWN_TOPIC_ID, .name = KSTR_NULL,
                                           .topic_id = mr->topic_ids[i] };
        } else if (t->error_code != WEIR_KERR_INVALID_TOPIC_EXCEPTION && t->name.len > 0 &&
                   t->name.len <= WEIR_TOPIC_NAME_MAX) {
            char name[WEIR_TOPIC_NAME_MAX + 1];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            weir_meta_topic_id(m, name, &t->topic_id);
        }
        t->topic_authorized_operations =
            mr->include_topic_authorized_operations ? TOPIC_OPS_ALL : KPROTO_AUTHORIZED_OPS_NONE;
    }
    resp->cluster_authorized_operations =
        mr->include_cluster_authorized_operations ? CLUSTER_OPS_ALL : KPROTO_AUTHORIZED_OPS_NONE;
}

static char **topics_all(struct weir_meta *m, size_t *n)
{
    size_t cap = TOPICS_FIRST;
    for (;;) {
        char **names = weir_calloc(cap, sizeof *names);
        if (!names) return NULL;
        size_t have = weir_meta_topics(m, names, cap);
        if (have <= cap) {
            *n = have;
            return names;
        }
        for (size_t i = 0; i < cap; i++) weir_free(names[i]);
        weir_free(names);
        cap = have;
    }
}

void handle_metadata(struct request *req)
{
    struct broker *b = req->c->r->b;
    struct kmetadata_req mr0, *mr = &mr0;
    enum weir_err err = kproto_metadata_decode(&req->body, req->hdr.api_version, &req->arena, mr);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    const bool *unknown = metadata_by_id(req, mr);
    struct weir_meta *m = b->meta;
    char cluster_id[64];
    weir_meta_cluster_id(m, cluster_id, sizeof cluster_id);
    size_t n_live = 0;
    const char *listener = b->cfg.listeners[req->c->listener].name; /* answer with the request's listener */
    struct weir_broker_addr *live = brokers_live(m, listener, &n_live);
    size_t n_topics = mr->all_topics ? 0 : (size_t)mr->n_topics;
    char **names = mr->all_topics ? topics_all(m, &n_topics) : NULL;
    struct kmetadata_topic *topics = weir_calloc(n_topics ? n_topics : 1, sizeof *topics);
    struct mpart_at **ats = weir_calloc(n_topics ? n_topics : 1, sizeof *ats);
    struct id_pool pool = { 0 };
    bool failed = !live || !topics || !ats || (mr->all_topics && !names);
    for (size_t i = 0; !failed && i < n_topics; i++) {
        struct kmetadata_topic *t = &topics[i];
        if (unknown && unknown[i]) continue; /* metadata_finish fills it */
        const char *name = mr->all_topics ? names[i] : arena_strdup(&req->arena, mr->topics[i]);
        *t = (struct kmetadata_topic){ .name = mr->all_topics ? kstr_c(names[i]) : mr->topics[i] };
        if (!name) {
            failed = true;
            break;
        }
        if (!weir_topic_name_valid(name)) {
            t->error_code = WEIR_KERR_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        int32_t n = weir_meta_topic_partitions(m, name);
        if (n < 0) { /* a listed topic deleted since is not brought back */
            t->error_code = mr->all_topics ? WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION : metadata_unknown(b, mr, name);
            continue;
        }
        ats[i] = weir_calloc(n ? (size_t)n : 1, sizeof **ats);
        if (!ats[i]) {
            failed = true;
            break;
        }
        metadata_topic_fill(b, req->hdr.api_version, t, name, n, live, n_live, &pool, ats[i]);
        if (!t->partitions) failed = true;
    }
    failed = failed || pool.failed;
    for (size_t i = 0; !failed && i < n_topics; i++) /* the pool stopped moving: point into it */
        for (int32_t p = 0; ats[i] && p < topics[i].n_partitions; p++) {
            struct kmetadata_part *mp = (struct kmetadata_part *)&topics[i].partitions[p];
            mp->replicas = pool.v + ats[i][p].replicas;
            mp->isr = pool.v + ats[i][p].isr;
            mp->offline = pool.v + ats[i][p].offline;
        }
    int32_t n_brokers = 0;
    struct kmetadata_broker *brokers = brokers_answer(live, n_live, &n_brokers);
    if (failed || !brokers) kbuf_fail(&req->out, WEIR_E_NOMEM);
    struct kmetadata_resp resp = { .brokers = brokers, .n_brokers = n_brokers,
                                   .cluster_id = kstr_c(cluster_id), .controller_id = weir_meta_controller(m),
                                   .topics = topics, .n_topics = failed ? 0 : (int32_t)n_topics };
    metadata_finish(m, mr, unknown, topics, resp.n_topics, &resp);
    response_begin(req);
    kproto_metadata_encode(&req->out, req->hdr.api_version, &resp);
    response_end(req);
    for (size_t i = 0; topics && i < n_topics; i++) weir_free((void *)topics[i].partitions);
    for (size_t i = 0; ats && i < n_topics; i++) weir_free(ats[i]);
    for (size_t i = 0; names && i < n_topics; i++) weir_free(names[i]);
    weir_free(names);
    weir_free(ats);
    weir_free(topics);
    weir_free(pool.v);
    weir_free(brokers);
    weir_free(live);
    request_respond(req);
}

/* ---- DescribeCluster ------------------------------------------------------------------ */

/* As Kafka's computeDescribeClusterResponse for a broker endpoint: an endpoint
 * type other than brokers is refused (v0: 42 INVALID_REQUEST; v1: 115
 * UNSUPPORTED_ENDPOINT_TYPE for an unknown type, 114 MISMATCHED_ENDPOINT_TYPE
 * for controllers); else the live brokers of the request's listener, the
 * controller, the cluster id, and the authorized operations when asked (all
 * of the cluster's: no authorizer). */
void handle_describecluster(struct request *req)
{
    struct broker *b = req->c->r->b;
    struct kdescribecluster_req dr;
    enum weir_err err = kproto_describecluster_decode(&req->body, req->hdr.api_version, &req->arena, &dr);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    struct kdescribecluster_resp resp = { .error_message = KSTR_NULL, .endpoint_type = KPROTO_ENDPOINT_BROKERS,
                                          .cluster_id = kstr_c(""), .controller_id = -1,
                                          .cluster_authorized_operations = KPROTO_AUTHORIZED_OPS_NONE };
    char cluster_id[64], why[48];
    struct weir_broker_addr *live = NULL;
    struct kmetadata_broker *brokers = NULL;
    if (dr.endpoint_type != KPROTO_ENDPOINT_BROKERS) {
        bool known = dr.endpoint_type == KPROTO_ENDPOINT_CONTROLLERS;
        resp.error_code = req->hdr.api_version == 0 ? WEIR_KERR_INVALID_REQUEST
                          : known                   ? WEIR_KERR_MISMATCHED_ENDPOINT_TYPE
                                                    : WEIR_KERR_UNSUPPORTED_ENDPOINT_TYPE;
        snprintf(why, sizeof why, "Unsupported endpoint type %d", dr.endpoint_type);
        resp.error_message = kstr_c(known ? "The request was sent to an endpoint of type BROKER, but we wanted an "
                                            "endpoint of type CONTROLLER"
                                          : why);
    } else {
        weir_meta_cluster_id(b->meta, cluster_id, sizeof cluster_id);
        size_t n_live = 0;
        live = brokers_live(b->meta, b->cfg.listeners[req->c->listener].name, &n_live);
        brokers = brokers_answer(live, n_live, &resp.n_brokers);
        if (!brokers) kbuf_fail(&req->out, WEIR_E_NOMEM);
        resp.brokers = brokers;
        resp.cluster_id = kstr_c(cluster_id);
        resp.controller_id = weir_meta_controller(b->meta);
        if (dr.include_cluster_authorized_operations) resp.cluster_authorized_operations = CLUSTER_OPS_ALL;
    }
    response_begin(req);
    kproto_describecluster_encode(&req->out, req->hdr.api_version, &resp);
    response_end(req);
    weir_free(brokers);
    weir_free(live);
    request_respond(req);
}

/* ---- FindCoordinator ------------------------------------------------------------------- */

/* The leader of key's __consumer_offsets partition (a single node: itself,
 * for every group; transactions are answered the same way). */
static void coordinator_of(struct request *req, struct kstr key, struct kfindcoordinator_coord *c)
{
    struct broker *b = req->c->r->b;
    *c = (struct kfindcoordinator_coord){ .key = key, .error_message = KSTR_NULL, .node_id = -1, .host = kstr_c(""),
                                          .port = -1 };
    struct weir_partition_info info;
    struct weir_broker_addr addr;
    int32_t p = group_partition(key);
    if (weir_meta_topic_partitions(b->meta, GROUP_OFFSETS_TOPIC) < 0) {
        offsets_topic_maybe_create(b);
        c->error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        c->error_message = kstr_c("the offsets topic is not created yet");
    } else if (!weir_meta_partition(b->meta, GROUP_OFFSETS_TOPIC, p, &info) || info.leader < 0 ||
               !weir_meta_broker(b->meta, info.leader, b->cfg.listeners[req->c->listener].name, &addr)) {
        c->error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        c->error_message = kstr_c("the group's offsets partition has no leader");
    } else {
        char *host = arena_strdup(&req->arena, kstr_c(addr.host));
        c->node_id = addr.id, c->port = addr.port, c->host = kstr_c(host ? host : "");
        if (!host) c->error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE, c->node_id = -1, c->port = -1;
    }
}

/* v0-3 ask for one key; v4 (KIP-699) for a batch, answered key by key. */
void handle_findcoordinator(struct request *req)
{
    struct kfindcoordinator_req fr;
    enum weir_err err = kproto_findcoordinator_decode(&req->body, req->hdr.api_version, &req->arena, &fr);
    struct kfindcoordinator_coord *cs = NULL;
    if (err == WEIR_OK && fr.n_keys > 0) {
        cs = weir_arena_alloc(&req->arena, (size_t)fr.n_keys * sizeof *cs);
        if (!cs) err = WEIR_E_NOMEM;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    for (int32_t i = 0; i < fr.n_keys; i++) coordinator_of(req, fr.keys[i], &cs[i]);
    struct kfindcoordinator_resp resp = { .error_message = KSTR_NULL, .node_id = -1, .host = kstr_c(""), .port = -1,
                                          .coordinators = cs, .n_coordinators = fr.n_keys };
    if (req->hdr.api_version < 4) {
        WEIR_ASSERT(fr.n_keys == 1);
        resp.error_code = cs[0].error_code, resp.error_message = cs[0].error_message;
        resp.node_id = cs[0].node_id, resp.host = cs[0].host, resp.port = cs[0].port;
    }
    response_begin(req);
    kproto_findcoordinator_encode(&req->out, req->hdr.api_version, &resp);
    response_end(req);
    request_respond(req);
}
