/* net/handle_cluster.c: the APIs answered from the cluster's metadata in
 * cluster mode (b->cluster set): Metadata, FindCoordinator, CreateTopics,
 * DeleteTopics, CreatePartitions, a topic's configs for DescribeConfigs.
 *
 * Admin requests write to ZooKeeper through the cluster (any broker may);
 * the local stores follow through roles (cluster_glue.c). A request is
 * answered once its writes completed and the cache shows the result (every
 * partition of a new or grown topic has a leader; a deleted topic is gone),
 * or with REQUEST_TIMED_OUT at its timeout_ms. The cluster's callbacks run
 * on its thread: they only copy their result and post it to the request's
 * reactor. */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { ADMIN_POLL_MS = 20, BROKERS_FIRST = 64, CONFIG_TEXT_BYTES = 8192 };

/* Live brokers, ascending ids, on the heap (*n of them). */
static struct weir_broker_addr *brokers_live(struct weir_cluster *cl, size_t *n)
{
    size_t cap = BROKERS_FIRST;
    for (;;) {
        struct weir_broker_addr *v = weir_calloc(cap, sizeof *v);
        if (!v) return NULL;
        size_t have = weir_cluster_brokers(cl, v, cap);
        if (have <= cap) {
            *n = have;
            return v;
        }
        weir_free(v);
        cap = have;
    }
}

static size_t live_count(struct weir_cluster *cl)
{
    struct weir_broker_addr one;
    return weir_cluster_brokers(cl, &one, 0);
}

static bool id_live(const struct weir_broker_addr *v, size_t n, int32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid].id == id) return true;
        if (v[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

static struct kstr arena_msg(struct request *req, const char *text)
{
    char *m = arena_strdup(&req->arena, kstr_c(text));
    return m ? kstr_c(m) : KSTR_NULL;
}

/* ---- __consumer_offsets ------------------------------------------------------------- */

static _Atomic bool offsets_creating; /* one creation in flight per process */

static void offsets_created(void *ctx, enum weir_err err, const char *why)
{
    (void)ctx;
    if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "created %s in the cluster", GROUP_OFFSETS_TOPIC);
    else if (err != WEIR_E_EXISTS)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "cannot create %s in the cluster: %s", GROUP_OFFSETS_TOPIC,
                             why && why[0] ? why : weir_err_text(err));
    atomic_store(&offsets_creating, false);
}

/* Kafka creates it on the first FindCoordinator once offsets.topic.replication.factor
 * brokers are live; until then coordinators are not available. */
static void offsets_topic_maybe_create(struct broker *b)
{
    int32_t rf = b->cfg.offsets_topic_replication_factor;
    size_t live = live_count(b->cluster);
    if (live < (size_t)rf) {
        WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "%s not created yet: %zu live brokers, offsets.topic.replication.factor=%d",
                             GROUP_OFFSETS_TOPIC, live, rf);
        return;
    }
    if (atomic_exchange(&offsets_creating, true)) return;
    int64_t seg = b->cfg.offsets_segment_bytes;
    if (seg == 0) seg = WEIR_MIN((int64_t)104857600, (int64_t)b->cfg.log.segment_bytes);
    char seg_text[24];
    snprintf(seg_text, sizeof seg_text, "%" PRId64, seg);
    const char *const keys[] = { "flush.messages", "retention.ms", "segment.bytes" };
    const char *const values[] = { "1", "-1", seg_text };
    weir_cluster_topic_create(b->cluster, GROUP_OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS, (int16_t)rf, keys, values, 3,
                              offsets_created, NULL);
}

/* ---- Metadata ------------------------------------------------------------------------- */

static void autocreate_done(void *ctx, enum weir_err err, const char *why)
{
    char *topic = ctx;
    if (err == WEIR_OK) weir_log(WEIR_LOG_INFO, "auto-created topic %s in the cluster", topic);
    else if (err != WEIR_E_EXISTS)
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "auto-create of topic %s failed: %s", topic,
                             why && why[0] ? why : weir_err_text(err));
    weir_free(topic);
}

/* A named topic unknown to the cluster: auto-created (answering
 * LEADER_NOT_AVAILABLE meanwhile), or UNKNOWN_TOPIC_OR_PARTITION. */
static int16_t metadata_unknown(struct broker *b, const struct kmetadata_req *mr, const char *topic)
{
    if (!strcmp(topic, GROUP_OFFSETS_TOPIC)) {
        offsets_topic_maybe_create(b);
        return WEIR_KERR_LEADER_NOT_AVAILABLE;
    }
    if (!b->cfg.auto_create_topics || !mr->allow_auto_topic_creation) return WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (weir_kafka_name_problem(topic)) return WEIR_KERR_INVALID_TOPIC_EXCEPTION;
    if (live_count(b->cluster) < (size_t)b->cfg.default_replication_factor)
        return WEIR_KERR_INVALID_REPLICATION_FACTOR;
    char *copy = weir_strdup(topic);
    if (!copy) return WEIR_KERR_LEADER_NOT_AVAILABLE;
    weir_cluster_topic_create(b->cluster, topic, b->cfg.num_partitions, (int16_t)b->cfg.default_replication_factor,
                              NULL, NULL, 0, autocreate_done, copy);
    return WEIR_KERR_LEADER_NOT_AVAILABLE;
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

static void metadata_topic_fill(struct broker *b, struct kmetadata_topic *t, const char *topic, int32_t n,
                                const struct weir_broker_addr *live, size_t n_live, struct id_pool *pool,
                                struct mpart_at *at)
{
    struct kmetadata_part *parts = weir_calloc(n ? (size_t)n : 1, sizeof *parts);
    t->partitions = parts;
    t->n_partitions = parts ? n : 0;
    t->is_internal = !strcmp(topic, GROUP_OFFSETS_TOPIC);
    for (int32_t p = 0; parts && p < n; p++) {
        struct weir_partition_info info;
        struct kmetadata_part *mp = &parts[p];
        *mp = (struct kmetadata_part){ .partition_index = p, .leader_id = WEIR_NO_LEADER };
        if (!weir_cluster_partition(b->cluster, topic, p, &info)) {
            mp->error_code = WEIR_KERR_LEADER_NOT_AVAILABLE;
            continue;
        }
        int32_t offline[WEIR_REPLICAS_MAX];
        uint32_t n_off = 0;
        for (uint32_t i = 0; i < info.replicas_n; i++)
            if (!id_live(live, n_live, info.replicas[i])) offline[n_off++] = info.replicas[i];
        mp->leader_id = info.leader;
        if (info.leader == WEIR_NO_LEADER || !id_live(live, n_live, info.leader)) /* Kafka: -1 then */
            mp->error_code = WEIR_KERR_LEADER_NOT_AVAILABLE, mp->leader_id = WEIR_NO_LEADER;
        at[p].replicas = pool_put(pool, info.replicas, info.replicas_n);
        at[p].isr = pool_put(pool, info.isr, info.isr_n);
        at[p].offline = pool_put(pool, offline, n_off);
        mp->n_replicas = (int32_t)info.replicas_n;
        mp->n_isr = (int32_t)info.isr_n;
        mp->n_offline = (int32_t)n_off;
    }
}

void cluster_metadata(struct request *req, const struct kmetadata_req *mr)
{
    struct broker *b = req->c->r->b;
    struct weir_cluster *cl = b->cluster;
    char cluster_id[64];
    weir_cluster_id(cl, cluster_id, sizeof cluster_id);
    size_t n_live = 0;
    struct weir_broker_addr *live = brokers_live(cl, &n_live);
    char **names = NULL;
    size_t n_topics = 0;
    if (mr->all_topics) {
        size_t cap = 64;
        for (;;) {
            names = weir_calloc(cap, sizeof *names);
            if (!names) break;
            size_t have = weir_cluster_topics(cl, names, cap);
            if (have <= cap) {
                n_topics = have;
                break;
            }
            for (size_t i = 0; i < cap; i++) weir_free(names[i]);
            weir_free(names);
            names = NULL;
            cap = have;
        }
    } else {
        n_topics = (size_t)mr->n_topics;
    }
    struct kmetadata_topic *topics = weir_calloc(n_topics ? n_topics : 1, sizeof *topics);
    struct mpart_at **ats = weir_calloc(n_topics ? n_topics : 1, sizeof *ats);
    struct id_pool pool = { 0 };
    bool failed = !live || !topics || !ats || (mr->all_topics && !names);
    for (size_t i = 0; !failed && i < n_topics; i++) {
        struct kmetadata_topic *t = &topics[i];
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
        int32_t n = weir_cluster_topic_partitions(cl, name);
        if (n < 0) {
            t->error_code = metadata_unknown(b, mr, name);
            continue;
        }
        ats[i] = weir_calloc(n ? (size_t)n : 1, sizeof **ats);
        if (!ats[i]) {
            failed = true;
            break;
        }
        metadata_topic_fill(b, t, name, n, live, n_live, &pool, ats[i]);
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
    struct kmetadata_broker *brokers = weir_calloc(n_live ? n_live : 1, sizeof *brokers);
    for (size_t i = 0; brokers && live && i < n_live; i++)
        brokers[i] = (struct kmetadata_broker){ live[i].id, kstr_c(live[i].host), live[i].port, KSTR_NULL };
    if (failed || !brokers) kbuf_fail(&req->out, WEIR_E_NOMEM);
    struct kmetadata_resp resp = { .brokers = brokers, .n_brokers = brokers ? (int32_t)n_live : 0,
                                   .cluster_id = kstr_c(cluster_id), .controller_id = weir_cluster_controller(cl),
                                   .topics = topics, .n_topics = failed ? 0 : (int32_t)n_topics };
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

/* ---- FindCoordinator ------------------------------------------------------------------- */

/* The leader of the group's __consumer_offsets partition. */
void cluster_findcoordinator(struct request *req, const struct kfindcoordinator_req *fr)
{
    struct broker *b = req->c->r->b;
    struct kfindcoordinator_resp resp = { .error_message = KSTR_NULL, .node_id = -1, .host = kstr_c(""), .port = -1 };
    struct weir_partition_info info;
    struct weir_broker_addr addr;
    int32_t p = group_partition(fr->key);
    if (weir_cluster_topic_partitions(b->cluster, GROUP_OFFSETS_TOPIC) < 0) {
        offsets_topic_maybe_create(b);
        resp.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        resp.error_message = kstr_c("the offsets topic is not created yet");
    } else if (!weir_cluster_partition(b->cluster, GROUP_OFFSETS_TOPIC, p, &info) || info.leader < 0 ||
               !weir_cluster_broker(b->cluster, info.leader, &addr)) {
        resp.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
        resp.error_message = kstr_c("the group's offsets partition has no leader");
    } else {
        char *host = arena_strdup(&req->arena, kstr_c(addr.host));
        resp.node_id = addr.id, resp.port = addr.port, resp.host = kstr_c(host ? host : "");
        if (!host) resp.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE, resp.node_id = -1, resp.port = -1;
    }
    response_begin(req);
    kproto_findcoordinator_encode(&req->out, req->hdr.api_version, &resp);
    response_end(req);
    request_respond(req);
}

/* ---- DescribeConfigs ------------------------------------------------------------------- */

enum weir_err cluster_topic_config(struct broker *b, const char *topic, struct weir_log_config *out, char *set,
                                   size_t set_cap)
{
    if (weir_cluster_topic_partitions(b->cluster, topic) < 0) return WEIR_E_NOT_FOUND;
    *out = b->cfg.log;
    set[0] = '\0';
    char *text = weir_malloc(CONFIG_TEXT_BYTES);
    if (!text) return WEIR_E_NOMEM;
    if (weir_cluster_topic_configs(b->cluster, topic, text, CONFIG_TEXT_BYTES) != WEIR_OK) text[0] = '\0';
    size_t used = 0;
    char *save = NULL, why[256];
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (weir_log_config_set(out, line, eq + 1, why, sizeof why) != WEIR_OK) continue;
        int n = snprintf(set + used, set_cap - used, "\n%s", line);
        if (n > 0 && (size_t)n < set_cap - used) used += (size_t)n;
    }
    if (used + 1 < set_cap) set[used] = '\n', set[used + 1] = '\0';
    weir_free(text);
    return WEIR_OK;
}

/* ---- admin writes: CreateTopics, DeleteTopics, CreatePartitions ------------------------------ */

enum admin_kind { ADMIN_CREATE, ADMIN_DELETE, ADMIN_GROW };

struct admin;
struct admin_slot {
    struct task t;
    struct admin *ad;
    struct ktopic_result *res;
    char *name;
    int32_t partitions;          /* CREATE, GROW: the count to see */
    bool waiting;                /* written: wait for the cache */
    enum weir_err err;           /* the write's, set on the cluster's thread */
    char why[256];
};

struct admin {
    enum admin_kind kind;
    struct request *req;
    struct reactor_timer timer;
    int64_t deadline_ns;
    bool no_wait;                /* timeout_ms <= 0: answered once written, as Kafka does */
    int writes;                  /* cluster writes not yet answered, +1 while dispatching */
    int32_t n;
    struct admin_slot *slots;
    struct ktopic_result *res;
    struct kcreatetopics_req ct;
    struct kdeletetopics_req dt;
    struct kcreatepartitions_req cp;
    struct kcreatepartitions_resp cp_resp;
};

static bool slot_settled(struct broker *b, const struct admin_slot *s)
{
    int32_t n = weir_cluster_topic_partitions(b->cluster, s->name);
    if (s->ad->kind == ADMIN_DELETE) return n < 0;
    if (n < s->partitions) return false;
    struct weir_partition_info info;
    for (int32_t p = 0; p < s->partitions; p++)
        if (!weir_cluster_partition(b->cluster, s->name, p, &info) || info.leader < 0) return false;
    return true;
}

static void admin_respond(struct admin *ad)
{
    struct request *req = ad->req;
    response_begin(req);
    switch (ad->kind) {
    case ADMIN_CREATE:
        kproto_createtopics_encode(&req->out, req->hdr.api_version,
                                   &(struct kcreatetopics_resp){ .topics = ad->res, .n_topics = ad->n });
        break;
    case ADMIN_DELETE:
        kproto_deletetopics_encode(&req->out, req->hdr.api_version,
                                   &(struct kdeletetopics_resp){ .responses = ad->res, .n_responses = ad->n });
        break;
    case ADMIN_GROW:
        ad->cp_resp = (struct kcreatepartitions_resp){ .results = ad->res, .n_results = ad->n };
        kproto_createpartitions_encode(&req->out, req->hdr.api_version, &ad->cp_resp);
        break;
    }
    response_end(req);
    request_respond(req);
    request_task_done(req); /* may free req and ad with its arena */
}

/* On the request's reactor: every write answered; done once the cache shows them all. */
static void admin_poll(struct reactor *r, struct reactor_timer *t)
{
    struct admin *ad = weir_container_of(t, struct admin, timer);
    struct broker *b = r->b;
    bool all = true;
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        if (!s->waiting) continue;
        if (ad->no_wait || slot_settled(b, s)) {
            s->waiting = false;
            if (ad->kind == ADMIN_CREATE)
                weir_log(WEIR_LOG_INFO, "created topic %s with %d partitions in the cluster", s->name, s->partitions);
            else if (ad->kind == ADMIN_DELETE) weir_log(WEIR_LOG_INFO, "deleted topic %s in the cluster", s->name);
            else weir_log(WEIR_LOG_INFO, "topic %s grew to %d partitions in the cluster", s->name, s->partitions);
        } else {
            all = false;
        }
    }
    int64_t now = weir_clock_ns();
    if (!all && now < ad->deadline_ns && !r->stopping) {
        reactor_timer_arm(r, &ad->timer, WEIR_MIN(now + (int64_t)ADMIN_POLL_MS * 1000000, ad->deadline_ns));
        return;
    }
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        if (!s->waiting) continue;
        s->res->error_code = WEIR_KERR_REQUEST_TIMED_OUT;
        if (ad->kind != ADMIN_DELETE || ad->req->hdr.api_version >= 5)
            s->res->error_message = arena_msg(ad->req, ad->kind == ADMIN_DELETE
                                                           ? "the deletion was requested but has not completed yet"
                                                           : "written, but not every partition has a leader yet");
    }
    admin_respond(ad);
}

static void admin_write_back(struct reactor *r, struct task *t)
{
    struct admin_slot *s = weir_container_of(t, struct admin_slot, t);
    struct admin *ad = s->ad;
    if (s->err != WEIR_OK) {
        s->res->error_code = weir_kerr_from_err(s->err);
        if (s->err == WEIR_E_INVALID) s->res->error_code = WEIR_KERR_INVALID_REPLICATION_FACTOR;
        if (s->err == WEIR_E_EXISTS && ad->kind == ADMIN_CREATE) s->res->error_code = WEIR_KERR_TOPIC_ALREADY_EXISTS;
        if (s->err == WEIR_E_NOT_FOUND) s->res->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        if (ad->kind != ADMIN_DELETE) s->res->error_message = arena_msg(ad->req, s->why[0] ? s->why : weir_err_text(s->err));
    } else {
        s->waiting = true;
    }
    if (--ad->writes == 0) admin_poll(r, &ad->timer);
}

/* On the cluster's thread. */
static void admin_write_done(void *ctx, enum weir_err err, const char *why)
{
    struct admin_slot *s = ctx;
    s->err = err;
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
    s->t.run = admin_write_back;
    struct reactor *r = s->ad->req->c->r;
    cluster_glue_post(r->b, r, &s->t); /* false: shutting down, the request was abandoned */
}

static struct admin *admin_new(struct request *req, enum admin_kind kind)
{
    struct admin *ad = weir_arena_alloc(&req->arena, sizeof *ad);
    if (!ad) return NULL;
    *ad = (struct admin){ .kind = kind, .req = req, .writes = 1 };
    ad->timer.fire = admin_poll;
    return ad;
}

/* Slots and results for n topics; false: out of memory (the request is malformed). */
static bool admin_slots(struct admin *ad, int32_t n, int32_t timeout_ms)
{
    ad->n = n;
    ad->slots = weir_arena_alloc(&ad->req->arena, (size_t)(n + 1) * sizeof *ad->slots);
    ad->res = weir_arena_alloc(&ad->req->arena, (size_t)(n + 1) * sizeof *ad->res);
    if (!ad->slots || !ad->res) return false;
    ad->deadline_ns = weir_clock_ns() + (int64_t)WEIR_MAX(timeout_ms, 0) * 1000000;
    ad->no_wait = timeout_ms <= 0;
    for (int32_t i = 0; i < n; i++) {
        ad->slots[i] = (struct admin_slot){ .ad = ad, .res = &ad->res[i] };
        ad->res[i] = (struct ktopic_result){ .error_message = KSTR_NULL };
    }
    ad->req->state = ad;
    ad->req->pending++; /* request_task_done in admin_respond */
    return true;
}

static void admin_dispatched(struct admin *ad)
{
    if (--ad->writes == 0) admin_poll(ad->req->c->r, &ad->timer);
}

static bool admin_error(struct admin_slot *s, int16_t code, const char *msg)
{
    s->res->error_code = code;
    s->res->error_message = arena_msg(s->ad->req, msg);
    return false;
}

static bool create_name_repeated(const struct kcreatetopics_req *cr, int32_t i)
{
    for (int32_t j = 0; j < cr->n_topics; j++)
        if (j != i && cr->topics[j].name.len == cr->topics[i].name.len &&
            (cr->topics[i].name.len <= 0 ||
             !memcmp(cr->topics[j].name.ptr, cr->topics[i].name.ptr, (size_t)cr->topics[i].name.len)))
            return true;
    return false;
}

/* true: written (or valid, with validate_only) */
static bool create_one(struct admin *ad, int32_t i)
{
    struct request *req = ad->req;
    struct broker *b = req->c->r->b;
    const struct kcreatetopics_req_topic *t = &ad->ct.topics[i];
    struct admin_slot *s = &ad->slots[i];
    char why[256];
    s->name = arena_strdup(&req->arena, t->name);
    if (!s->name) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    int32_t n = t->num_partitions == -1 ? b->cfg.num_partitions : t->num_partitions;
    int32_t rf = t->replication_factor == -1 ? b->cfg.default_replication_factor : t->replication_factor;
    const char *problem = weir_kafka_name_problem(s->name);
    size_t live = live_count(b->cluster);
    if (create_name_repeated(&ad->ct, i))
        return admin_error(s, WEIR_KERR_INVALID_REQUEST, "the topic is named more than once in the request");
    if (problem) {
        snprintf(why, sizeof why, "illegal topic name '%.64s%s': %s", s->name, strlen(s->name) > 64 ? "..." : "",
                 problem);
        return admin_error(s, WEIR_KERR_INVALID_TOPIC_EXCEPTION, why);
    }
    if (t->n_assignments > 0)
        return admin_error(s, WEIR_KERR_INVALID_REQUEST,
                           "manual replica assignments are not supported in a cluster: give partitions and a "
                           "replication factor");
    if (n < 1 || n > WEIR_PARTITIONS_MAX) {
        snprintf(why, sizeof why, "the number of partitions must be in [1, %d], not %d", WEIR_PARTITIONS_MAX, n);
        return admin_error(s, WEIR_KERR_INVALID_PARTITIONS, why);
    }
    if (rf < 1 || rf > WEIR_REPLICAS_MAX || (size_t)rf > live) {
        snprintf(why, sizeof why, "replication factor %d is larger than the %zu live brokers", rf, live);
        if (rf < 1 || rf > WEIR_REPLICAS_MAX)
            snprintf(why, sizeof why, "replication factor must be in [1, %d], not %d", WEIR_REPLICAS_MAX, rf);
        return admin_error(s, WEIR_KERR_INVALID_REPLICATION_FACTOR, why);
    }
    const char **keys = weir_arena_alloc(&req->arena, (size_t)(t->n_configs + 1) * sizeof *keys);
    const char **values = weir_arena_alloc(&req->arena, (size_t)(t->n_configs + 1) * sizeof *values);
    if (!keys || !values) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    struct weir_log_config cfg = b->cfg.log;
    for (int32_t c = 0; c < t->n_configs; c++) {
        keys[c] = arena_strdup(&req->arena, t->configs[c].name);
        values[c] = arena_strdup(&req->arena, kstr_is_null(t->configs[c].value) ? kstr_c("") : t->configs[c].value);
        if (!keys[c] || !values[c]) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        if (weir_log_config_set(&cfg, keys[c], values[c], why, sizeof why) != WEIR_OK)
            return admin_error(s, WEIR_KERR_INVALID_CONFIG, why);
    }
    if (weir_log_config_check(&cfg, why, sizeof why) != WEIR_OK) return admin_error(s, WEIR_KERR_INVALID_CONFIG, why);
    if (weir_cluster_topic_partitions(b->cluster, s->name) >= 0) {
        snprintf(why, sizeof why, "topic '%s' already exists", s->name);
        return admin_error(s, WEIR_KERR_TOPIC_ALREADY_EXISTS, why);
    }
    if (ad->ct.validate_only) return true;
    s->partitions = n;
    ad->writes++;
    weir_cluster_topic_create(b->cluster, s->name, n, (int16_t)rf, keys, values, (uint32_t)t->n_configs,
                              admin_write_done, s);
    return true;
}

void cluster_createtopics(struct request *req)
{
    struct admin *ad = admin_new(req, ADMIN_CREATE);
    enum weir_err err = ad ? kproto_createtopics_decode(&req->body, req->hdr.api_version, &req->arena, &ad->ct)
                           : WEIR_E_NOMEM;
    if (err == WEIR_OK && !admin_slots(ad, ad->ct.n_topics, ad->ct.timeout_ms)) err = WEIR_E_NOMEM;
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    for (int32_t i = 0; i < ad->n; i++) {
        ad->res[i].name = ad->ct.topics[i].name;
        create_one(ad, i);
    }
    admin_dispatched(ad);
}

void cluster_deletetopics(struct request *req)
{
    struct broker *b = req->c->r->b;
    struct admin *ad = admin_new(req, ADMIN_DELETE);
    enum weir_err err = ad ? kproto_deletetopics_decode(&req->body, req->hdr.api_version, &req->arena, &ad->dt)
                           : WEIR_E_NOMEM;
    if (err == WEIR_OK && !admin_slots(ad, ad->dt.n_topic_names, ad->dt.timeout_ms)) err = WEIR_E_NOMEM;
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        ad->res[i].name = ad->dt.topic_names[i];
        s->name = arena_strdup(&req->arena, ad->dt.topic_names[i]);
        if (!s->name) {
            s->res->error_code = WEIR_KERR_UNKNOWN_SERVER_ERROR;
        } else if (weir_cluster_topic_partitions(b->cluster, s->name) < 0) {
            s->res->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            weir_log(WEIR_LOG_INFO, "deleting topic %s in the cluster", s->name);
            ad->writes++;
            weir_cluster_topic_delete(b->cluster, s->name, admin_write_done, s);
        }
    }
    admin_dispatched(ad);
}

void cluster_createpartitions(struct request *req)
{
    struct broker *b = req->c->r->b;
    struct admin *ad = admin_new(req, ADMIN_GROW);
    enum weir_err err = ad ? kproto_createpartitions_decode(&req->body, req->hdr.api_version, &req->arena, &ad->cp)
                           : WEIR_E_NOMEM;
    if (err == WEIR_OK && !admin_slots(ad, ad->cp.n_topics, ad->cp.timeout_ms)) err = WEIR_E_NOMEM;
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    for (int32_t i = 0; i < ad->n; i++) {
        const struct kcreatepartitions_req_topic *t = &ad->cp.topics[i];
        struct admin_slot *s = &ad->slots[i];
        char why[160];
        ad->res[i].name = t->name;
        s->name = arena_strdup(&req->arena, t->name);
        int32_t old = s->name ? weir_cluster_topic_partitions(b->cluster, s->name) : -1;
        if (old < 0) {
            admin_error(s, WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION, "the topic does not exist");
        } else if (t->count <= old || t->count > WEIR_PARTITIONS_MAX) {
            snprintf(why, sizeof why, "the new partition count %d must be larger than the current %d and at most %d",
                     t->count, old, WEIR_PARTITIONS_MAX);
            admin_error(s, WEIR_KERR_INVALID_PARTITIONS, why);
        } else if (t->n_assignments >= 0) {
            admin_error(s, WEIR_KERR_INVALID_REQUEST,
                        "manual replica assignments are not supported in a cluster: give the new count only");
        } else if (!ad->cp.validate_only) {
            s->partitions = t->count;
            ad->writes++;
            weir_cluster_partitions_add(b->cluster, s->name, t->count, admin_write_done, s);
        }
    }
    admin_dispatched(ad);
}
