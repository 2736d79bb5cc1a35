/* net/handle_admin.c: CreateTopics, DeleteTopics, CreatePartitions, in
 * either mode, through the metadata interface (repl.h, weir_meta_*).
 *
 * Each topic of a request is checked here (what both backends share), then
 * written with weir_meta_topic_create, _topic_delete or _partitions_add,
 * whose completion may come from any thread (a cluster's: its own; a single
 * node's: this reactor, after its store committed and every partition opened
 * or closed on its owner); it only copies its result and posts it to the
 * request's reactor. A request is answered once every write completed and
 * the metadata shows the result (every partition of a new or grown topic has
 * a leader; a deleted topic is gone: at once on a single node), or with
 * REQUEST_TIMED_OUT at its timeout_ms. A grown topic makes the groups
 * subscribed to it that this broker coordinates rebalance before the answer. */
#include "net_int.h"

#include <stdio.h>

enum { ADMIN_POLL_MS = 20, ALTER_WAIT_MS = 5000 };

static struct kstr arena_msg(struct request *req, const char *text)
{
    char *m = arena_strdup(&req->arena, kstr_c(text));
    return m ? kstr_c(m) : KSTR_NULL;
}

enum admin_kind { ADMIN_CREATE, ADMIN_DELETE, ADMIN_GROW, ADMIN_ALTER };

struct admin;
struct admin_slot {
    struct task t;
    struct admin *ad;
    struct ktopic_result *res;
    char *name;
    int32_t partitions;          /* CREATE, GROW: the count to see */
    int32_t old;                 /* GROW: the count before */
    char *expect;                /* ALTER: the topic's configs as weir_meta_topic_config will show them */
    struct broker_alter *broker; /* ALTER of a BROKER resource: its new set, else NULL */
    bool waiting;                /* written: wait for the metadata */
    bool manual;                 /* CREATE, GROW: with the client's replica assignment */
    enum weir_err err;           /* the write's, set on the completing thread */
    char why[256];
};

struct admin {
    enum admin_kind kind;
    struct request *req;
    struct reactor_timer timer;
    int64_t deadline_ns;
    bool no_wait;                /* timeout_ms <= 0: answered once written, as Kafka does */
    int writes;                  /* writes not yet completed, +1 while dispatching */
    int32_t n;
    struct admin_slot *slots;
    struct ktopic_result *res;
    char **grown;                /* GROW: topics that grew, for the groups */
    int32_t n_grown;
    struct kcreatetopics_req ct;
    struct kdeletetopics_req dt;
    int16_t *del_errors;         /* DELETE: deletetopics_resolve's, per entry */
    struct kcreatepartitions_req cp;
    struct kcreatepartitions_resp cp_resp;
    struct kalterconfigs_req ac; /* ALTER: AlterConfigs or IncrementalAlterConfigs */
};

static bool slot_settled(struct weir_meta *m, const struct admin_slot *s)
{
    if (s->ad->kind == ADMIN_ALTER && s->broker) return broker_alter_settled(s->ad->req->c->r->b, s->broker);
    if (s->ad->kind == ADMIN_ALTER) return alter_settled(s->ad->req, s->name, s->expect);
    int32_t n = weir_meta_topic_partitions(m, s->name);
    if (s->ad->kind == ADMIN_DELETE) return n < 0;
    if (n < s->partitions) return false;
    struct weir_partition_info info;
    for (int32_t p = 0; p < s->partitions; p++)
        if (!weir_meta_partition(m, s->name, p, &info) || info.leader < 0) return false;
    return true;
}

static void admin_respond(struct request *req, void *ctx)
{
    struct admin *ad = ctx;
    response_begin(req);
    switch (ad->kind) {
    case ADMIN_CREATE: {
        /* -1 asked for the backend's default (a cluster whose default exceeds
         * its live brokers created none of those: their details are -1). */
        char why[160];
        int32_t rf_default = weir_meta_replication_factor(req->c->r->b->meta, -1, why, sizeof why);
        kproto_createtopics_encode(&req->out, req->hdr.api_version,
                                   &(struct kcreatetopics_resp){
                                       .topics = ad->res, .n_topics = ad->n,
                                       .details = createtopics_details(req, &ad->ct, ad->res, (int16_t)rf_default) });
        break;
    }
    case ADMIN_DELETE:
        deletetopics_messages(req, ad->res, ad->n);
        kproto_deletetopics_encode(&req->out, req->hdr.api_version,
                                   &(struct kdeletetopics_resp){ .responses = ad->res, .n_responses = ad->n,
                                                                 .topic_ids = ad->dt.topic_ids });
        break;
    case ADMIN_GROW:
        ad->cp_resp = (struct kcreatepartitions_resp){ .results = ad->res, .n_results = ad->n };
        kproto_createpartitions_encode(&req->out, req->hdr.api_version, &ad->cp_resp);
        break;
    case ADMIN_ALTER: alter_respond(req, &ad->ac, ad->res, ad->n); break;
    }
    response_end(req);
    request_respond(req);
    request_task_done(req); /* may free req and ad with its arena */
}

static void admin_settled(struct admin *ad, struct admin_slot *s)
{
    s->waiting = false;
    if (ad->kind == ADMIN_CREATE) {
        weir_log(WEIR_LOG_INFO, "created topic %s with %d partitions", s->name, s->partitions);
    } else if (ad->kind == ADMIN_DELETE) {
        weir_log(WEIR_LOG_INFO, "deleted topic %s", s->name);
    } else if (ad->kind == ADMIN_ALTER && s->broker) {
        weir_log(WEIR_LOG_INFO, "dynamic broker configs (%s) changed", s->broker->dflt ? "cluster-wide" : "this broker's");
    } else if (ad->kind == ADMIN_ALTER) {
        weir_log(WEIR_LOG_INFO, "topic %s: configs changed", s->name);
    } else {
        weir_log(WEIR_LOG_INFO, "topic %s grew from %d to %d partitions", s->name, s->old, s->partitions);
        if (ad->grown) ad->grown[ad->n_grown++] = s->name;
    }
}

/* On the request's reactor: every write completed; done once the metadata shows them all. */
static void admin_poll(struct reactor *r, struct reactor_timer *t)
{
    struct admin *ad = weir_container_of(t, struct admin, timer);
    bool all = true;
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        if (!s->waiting) continue;
        if (ad->no_wait || slot_settled(r->b->meta, s)) admin_settled(ad, s);
        else all = false;
    }
    int64_t now = weir_clock_ns();
    if (!all && now < ad->deadline_ns && !r->stopping) {
        reactor_timer_arm(r, &ad->timer, WEIR_MIN(now + (int64_t)ADMIN_POLL_MS * 1000000, ad->deadline_ns));
        return;
    }
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        if (!s->waiting) continue;
        if (ad->kind == ADMIN_ALTER) { /* written: every broker's watch applies it */
            admin_settled(ad, s);
            continue;
        }
        s->res->error_code = WEIR_KERR_REQUEST_TIMED_OUT;
        if (ad->kind != ADMIN_DELETE || ad->req->hdr.api_version >= 5)
            s->res->error_message = arena_msg(ad->req, ad->kind == ADMIN_DELETE
                                                           ? "the deletion was requested but has not completed yet"
                                                           : "written, but not every partition has a leader yet");
    }
    /* Groups subscribed to a grown topic rebalance before the answer (group_member.c). */
    if (ad->n_grown > 0) groups_partitions_grown(ad->req, ad->grown, ad->n_grown, admin_respond, ad);
    else admin_respond(ad->req, ad);
}

/* A write's error into its result (DeleteTopics carries no message). */
static void slot_fail(struct admin_slot *s, enum weir_err err, const char *why)
{
    struct admin *ad = s->ad;
    s->res->error_code = weir_kerr_from_err(err);
    if (err == WEIR_E_INVALID)
        s->res->error_code = s->manual ? WEIR_KERR_INVALID_REPLICA_ASSIGNMENT : WEIR_KERR_INVALID_REPLICATION_FACTOR;
    if (err == WEIR_E_EXISTS && ad->kind == ADMIN_CREATE) s->res->error_code = WEIR_KERR_TOPIC_ALREADY_EXISTS;
    if (err == WEIR_E_NOT_FOUND) s->res->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (ad->kind != ADMIN_DELETE) s->res->error_message = arena_msg(ad->req, why && why[0] ? why : weir_err_text(err));
}

static void admin_write_back(struct reactor *r, struct task *t)
{
    struct admin_slot *s = weir_container_of(t, struct admin_slot, t);
    struct admin *ad = s->ad;
    if (s->err != WEIR_OK) {
        slot_fail(s, s->err, s->why);
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot change topic %s: %s", s->name,
                             s->why[0] ? s->why : weir_err_text(s->err));
    } else {
        s->waiting = true;
    }
    if (--ad->writes == 0) admin_poll(r, &ad->timer);
}

/* On the completing thread (a cluster's, or this reactor). */
static void admin_write_done(void *ctx, enum weir_err err, const char *why)
{
    struct admin_slot *s = ctx;
    s->err = err;
    snprintf(s->why, sizeof s->why, "%s", why ? why : "");
    s->t.run = admin_write_back;
    struct reactor *r = s->ad->req->c->r;
    cluster_glue_post(r->b, r, &s->t); /* false: shutting down, the request was abandoned */
}

/* After weir_meta_*: a refusal now, or one more write to wait for. */
static void admin_wrote(struct admin_slot *s, enum weir_err err, const char *why)
{
    if (err == WEIR_OK) s->ad->writes++;
    else slot_fail(s, err, why);
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

/* Decodes the request and makes its slots; NULL: malformed (the connection closes). */
static struct admin *admin_begin(struct request *req, enum admin_kind kind)
{
    struct admin *ad = admin_new(req, kind);
    enum weir_err err = ad ? WEIR_OK : WEIR_E_NOMEM;
    int32_t n = 0, timeout_ms = 0;
    struct weir_rd *rd = &req->body;
    int16_t v = req->hdr.api_version;
    if (ad && kind == ADMIN_CREATE && (err = kproto_createtopics_decode(rd, v, &req->arena, &ad->ct)) == WEIR_OK)
        n = ad->ct.n_topics, timeout_ms = ad->ct.timeout_ms;
    if (ad && kind == ADMIN_DELETE && (err = kproto_deletetopics_decode(rd, v, &req->arena, &ad->dt)) == WEIR_OK) {
        n = ad->dt.n_topic_names, timeout_ms = ad->dt.timeout_ms;
        ad->del_errors = weir_arena_alloc(&req->arena, (size_t)(n + 1) * sizeof *ad->del_errors);
        if (!ad->del_errors || !deletetopics_resolve(req, &ad->dt, ad->del_errors)) err = WEIR_E_NOMEM;
    }
    if (ad && kind == ADMIN_GROW && (err = kproto_createpartitions_decode(rd, v, &req->arena, &ad->cp)) == WEIR_OK)
        n = ad->cp.n_topics, timeout_ms = ad->cp.timeout_ms;
    if (ad && kind == ADMIN_ALTER &&
        (err = kproto_alterconfigs_decode(rd, req->hdr.api_key, v, &req->arena, &ad->ac)) == WEIR_OK)
        n = ad->ac.n_resources, timeout_ms = ALTER_WAIT_MS; /* none in the request: answered once seen here */
    if (err == WEIR_OK && !admin_slots(ad, n, timeout_ms)) err = WEIR_E_NOMEM;
    if (err == WEIR_OK) return ad;
    request_malformed(req, err);
    return NULL;
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

/* ---- CreateTopics ------------------------------------------------------------------ */

static bool create_name_repeated(const struct kcreatetopics_req *cr, int32_t i)
{
    for (int32_t j = 0; j < cr->n_topics; j++)
        if (j != i && cr->topics[j].name.len == cr->topics[i].name.len &&
            (cr->topics[i].name.len <= 0 ||
             !memcmp(cr->topics[j].name.ptr, cr->topics[i].name.ptr, (size_t)cr->topics[i].name.len)))
            return true;
    return false;
}

/* Whether the backend can place one partition's replicas as the client gave
 * them; the slot's error when not. */
static bool assignment_placeable(struct admin_slot *s, int32_t partition, const int32_t *ids, int32_t n)
{
    char why[256];
    if (weir_meta_assignment_check(s->ad->req->c->r->b->meta, partition, ids, n, why, sizeof why) == WEIR_OK)
        return true;
    return admin_error(s, WEIR_KERR_INVALID_REPLICA_ASSIGNMENT, why);
}

/* Replica assignments (AdminZkClient.validateTopicCreate): partitions 0..n-1
 * in any order, each with the same number of replicas, each placeable by the
 * backend; into *asg (asg->ids NULL: none given). */
static bool create_assignments_ok(struct admin_slot *s, const struct kcreatetopics_req_topic *t,
                                  struct weir_assignment *asg)
{
    struct weir_arena *a = &s->ad->req->arena;
    int32_t n = t->n_assignments;
    *asg = (struct weir_assignment){ .ids = NULL };
    if (n <= 0) return true;
    if (t->num_partitions != -1 || t->replication_factor != -1)
        return admin_error(s, WEIR_KERR_INVALID_REQUEST,
                           "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot "
                           "be used at the same time.");
    int32_t rf = t->assignments[0].n_broker_ids;
    for (int32_t i = 1; i < n; i++)
        if (t->assignments[i].n_broker_ids != rf)
            return admin_error(s, WEIR_KERR_INVALID_REPLICA_ASSIGNMENT,
                               "All partitions should have the same number of replicas");
    int32_t *ids = weir_arena_alloc(a, (size_t)n * (size_t)WEIR_MAX(rf, 1) * sizeof *ids);
    bool *seen = weir_arena_alloc(a, (size_t)n * sizeof *seen);
    if (!ids || !seen) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    memset(seen, 0, (size_t)n * sizeof *seen);
    for (int32_t i = 0; i < n; i++) {
        const struct kcreatetopics_assignment *as = &t->assignments[i];
        int32_t p = as->partition_index;
        if (p < 0 || p >= n || seen[p])
            return admin_error(s, WEIR_KERR_INVALID_REPLICA_ASSIGNMENT,
                               "partitions should be a consecutive 0-based integer sequence");
        seen[p] = true;
        if (!assignment_placeable(s, p, as->broker_ids, rf)) return false;
        memcpy(ids + (size_t)p * (size_t)rf, as->broker_ids, (size_t)rf * sizeof *ids);
    }
    *asg = (struct weir_assignment){ .ids = ids, .parts = n, .rf = (int16_t)rf };
    s->manual = true;
    return true;
}

/* The topic's configs over the broker defaults, checked; keys and values out. */
static bool create_configs(struct admin_slot *s, const struct kcreatetopics_req_topic *t, const char ***keys_out,
                           const char ***values_out)
{
    struct request *req = s->ad->req;
    char why[256];
    const char **keys = weir_arena_alloc(&req->arena, (size_t)(t->n_configs + 1) * sizeof *keys);
    const char **values = weir_arena_alloc(&req->arena, (size_t)(t->n_configs + 1) * sizeof *values);
    if (!keys || !values) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    struct weir_log_config cfg;
    broker_log_defaults(req->c->r->b, &cfg);
    for (int32_t c = 0; c < t->n_configs; c++) {
        keys[c] = arena_strdup(&req->arena, t->configs[c].name);
        values[c] = arena_strdup(&req->arena, kstr_is_null(t->configs[c].value) ? kstr_c("") : t->configs[c].value);
        if (!keys[c] || !values[c]) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        if (weir_log_config_set(&cfg, keys[c], values[c], why, sizeof why) != WEIR_OK)
            return admin_error(s, WEIR_KERR_INVALID_CONFIG, why);
    }
    if (weir_log_config_check(&cfg, why, sizeof why) != WEIR_OK) return admin_error(s, WEIR_KERR_INVALID_CONFIG, why);
    *keys_out = keys;
    *values_out = values;
    return true;
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
    int32_t n = t->num_partitions != -1 ? t->num_partitions
                : t->n_assignments > 0  ? t->n_assignments
                                        : b->cfg.num_partitions;
    if (create_name_repeated(&ad->ct, i))
        return admin_error(s, WEIR_KERR_INVALID_REQUEST, "the topic is named more than once in the request");
    struct weir_assignment asg;
    if (!create_assignments_ok(s, t, &asg)) return false;
    int32_t rf = asg.ids ? asg.rf : weir_meta_replication_factor(b->meta, t->replication_factor, why, sizeof why);
    if (rf < 0) return admin_error(s, WEIR_KERR_INVALID_REPLICATION_FACTOR, why);
    const char *problem = weir_kafka_name_problem(s->name);
    if (problem) {
        snprintf(why, sizeof why, "illegal topic name '%.64s%s': %s", s->name, strlen(s->name) > 64 ? "..." : "",
                 problem);
        return admin_error(s, WEIR_KERR_INVALID_TOPIC_EXCEPTION, why);
    }
    if (n < 1 || n > WEIR_PARTITIONS_MAX) {
        snprintf(why, sizeof why, "the number of partitions must be in [1, %d], not %d", WEIR_PARTITIONS_MAX, n);
        return admin_error(s, WEIR_KERR_INVALID_PARTITIONS, why);
    }
    const char **keys = NULL, **values = NULL;
    if (!create_configs(s, t, &keys, &values)) return false;
    if (weir_meta_topic_partitions(b->meta, s->name) >= 0) {
        snprintf(why, sizeof why, "topic '%s' already exists", s->name);
        return admin_error(s, WEIR_KERR_TOPIC_ALREADY_EXISTS, why);
    }
    if (ad->ct.validate_only) return true;
    s->partitions = n;
    enum weir_err err = weir_meta_topic_create(b->meta, s->name, n, (int16_t)rf, asg.ids ? &asg : NULL, keys,
                                               values, (uint32_t)t->n_configs, admin_write_done, s, why, sizeof why);
    admin_wrote(s, err, why);
    return err == WEIR_OK;
}

void handle_createtopics(struct request *req)
{
    struct admin *ad = admin_begin(req, ADMIN_CREATE);
    if (!ad) return;
    for (int32_t i = 0; i < ad->n; i++) {
        ad->res[i].name = ad->ct.topics[i].name;
        create_one(ad, i);
    }
    admin_dispatched(ad);
}

/* ---- DeleteTopics ------------------------------------------------------------------ */

void handle_deletetopics(struct request *req)
{
    struct weir_meta *m = req->c->r->b->meta;
    struct admin *ad = admin_begin(req, ADMIN_DELETE);
    if (!ad) return;
    const int16_t *errors = ad->del_errors;
    for (int32_t i = 0; i < ad->n; i++) {
        struct admin_slot *s = &ad->slots[i];
        char why[256];
        ad->res[i].name = ad->dt.topic_names[i];
        s->res->error_code = errors[i]; /* deletetopics_resolve's */
        s->name = errors[i] ? NULL : arena_strdup(&req->arena, ad->dt.topic_names[i]);
        if (errors[i]) {
            continue;
        } else if (!s->name) {
            s->res->error_code = WEIR_KERR_UNKNOWN_SERVER_ERROR;
        } else if (weir_meta_topic_partitions(m, s->name) < 0) {
            s->res->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        } else {
            weir_log(WEIR_LOG_INFO, "deleting topic %s", s->name);
            admin_wrote(s, weir_meta_topic_delete(m, s->name, admin_write_done, s, why, sizeof why), why);
        }
    }
    admin_dispatched(ad);
}

/* ---- CreatePartitions -------------------------------------------------------------- */

/* The new partitions' assignments (ZkAdminManager.createPartitions,
 * AdminZkClient.validateReplicaAssignment): one each, each placeable by the
 * backend, each of the topic's replication factor (partition 0's, when the
 * cache has it; the cluster checks again against what it writes); into *asg
 * (asg->ids NULL: none given). */
static bool grow_assignments_ok(struct admin_slot *s, const struct kcreatepartitions_req_topic *t, int32_t old,
                                struct weir_assignment *asg)
{
    struct weir_meta *m = s->ad->req->c->r->b->meta;
    int32_t n = t->n_assignments, add = t->count - old;
    char why[256];
    *asg = (struct weir_assignment){ .ids = NULL };
    if (n < 0) return true;
    if (n != add) {
        snprintf(why, sizeof why, "Increasing the number of partitions by %d but %d assignments provided.", add, n);
        return admin_error(s, WEIR_KERR_INVALID_REPLICA_ASSIGNMENT, why);
    }
    struct weir_partition_info p0;
    int32_t rf = weir_meta_partition(m, s->name, 0, &p0) ? (int32_t)p0.replicas_n : t->assignments[0].n_broker_ids;
    int32_t *ids = weir_arena_alloc(&s->ad->req->arena, (size_t)n * (size_t)WEIR_MAX(rf, 1) * sizeof *ids);
    if (!ids) return admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
    for (int32_t a = 0; a < n; a++) {
        const struct kcreatepartitions_assignment *as = &t->assignments[a];
        if (!assignment_placeable(s, old + a, as->broker_ids, as->n_broker_ids)) return false;
        if (as->n_broker_ids != rf) {
            snprintf(why, sizeof why, "Inconsistent replication factor between partitions, partition 0 has %d while "
                     "partitions [%d] have replication factors [%d], respectively.", rf, old + a, as->n_broker_ids);
            return admin_error(s, WEIR_KERR_INVALID_REPLICA_ASSIGNMENT, why);
        }
        memcpy(ids + (size_t)a * (size_t)rf, as->broker_ids, (size_t)rf * sizeof *ids);
    }
    *asg = (struct weir_assignment){ .ids = ids, .parts = n, .rf = (int16_t)rf };
    s->manual = true;
    return true;
}

static void grow_one(struct admin *ad, int32_t i)
{
    struct request *req = ad->req;
    struct weir_meta *m = req->c->r->b->meta;
    const struct kcreatepartitions_req_topic *t = &ad->cp.topics[i];
    struct admin_slot *s = &ad->slots[i];
    struct weir_assignment asg;
    char why[256];
    ad->res[i].name = t->name;
    s->name = arena_strdup(&req->arena, t->name);
    int32_t old = s->name ? weir_meta_topic_partitions(m, s->name) : -1;
    if (old < 0) {
        admin_error(s, WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION, "the topic does not exist");
    } else if (t->count <= old || t->count > WEIR_PARTITIONS_MAX) {
        snprintf(why, sizeof why, "the new partition count %d must be larger than the current %d and at most %d",
                 t->count, old, WEIR_PARTITIONS_MAX);
        admin_error(s, WEIR_KERR_INVALID_PARTITIONS, why);
    } else if (grow_assignments_ok(s, t, old, &asg) && !ad->cp.validate_only) {
        s->partitions = t->count;
        s->old = old;
        admin_wrote(s, weir_meta_partitions_add(m, s->name, t->count, asg.ids ? &asg : NULL, admin_write_done, s, why,
                                                sizeof why), why);
    }
}

void handle_createpartitions(struct request *req)
{
    struct admin *ad = admin_begin(req, ADMIN_GROW);
    if (!ad) return;
    ad->grown = weir_arena_alloc(&req->arena, (size_t)(ad->n + 1) * sizeof *ad->grown);
    for (int32_t i = 0; i < ad->n; i++) grow_one(ad, i);
    admin_dispatched(ad);
}

/* ---- AlterConfigs, IncrementalAlterConfigs -------------------------------------------
 * Topic resources (net/topic_configs.c computes and checks the new set);
 * broker resources: the dynamic broker configs (net/broker_configs.c). */

static void alter_one(struct admin *ad, int32_t i)
{
    struct request *req = ad->req;
    struct broker *b = req->c->r->b;
    const struct kalterconfigs_resource *r = &ad->ac.resources[i];
    struct admin_slot *s = &ad->slots[i];
    ad->res[i].name = r->resource_name;
    char why[512];
    if (r->resource_type == KRESOURCE_BROKER) {
        struct broker_alter *a = weir_arena_alloc(&req->arena, sizeof *a);
        int16_t code = a ? alter_broker_plan(req, r, a, why, sizeof why) : WEIR_KERR_UNKNOWN_SERVER_ERROR;
        if (code) {
            admin_error(s, code, a ? why : "out of memory");
            return;
        }
        if (ad->ac.validate_only) return;
        s->broker = a;
        s->name = arena_strdup(&req->arena, kstr_c("broker configs"));
        admin_wrote(s, broker_configs_write(b, a, admin_write_done, s, why, sizeof why), why);
        return;
    }
    if (r->resource_type != KRESOURCE_TOPIC) {
        snprintf(why, sizeof why, "%s is only supported for topics and brokers, but resource type is %d",
                 req->hdr.api_key == KAPI_ALTER_CONFIGS ? "AlterConfigs" : "IncrementalAlterConfigs",
                 r->resource_type);
        admin_error(s, WEIR_KERR_INVALID_REQUEST, why);
        return;
    }
    s->name = arena_strdup(&req->arena, r->resource_name);
    if (!s->name) {
        admin_error(s, WEIR_KERR_UNKNOWN_SERVER_ERROR, "out of memory");
        return;
    }
    struct alter_plan plan;
    int16_t code = alter_topic_plan(req, s->name, r, &plan, why, sizeof why);
    if (code) {
        admin_error(s, code, why);
        return;
    }
    if (ad->ac.validate_only) return;
    s->expect = plan.expect;
    enum weir_err err =
        weir_meta_topic_configure(b->meta, s->name, plan.keys, plan.values, plan.n, admin_write_done, s, why, sizeof why);
    if (err == WEIR_OK && !b->cluster) configs_refresh(b, s->name); /* a cluster's: when its watch applies them */
    admin_wrote(s, err, why);
}

void handle_alterconfigs(struct request *req)
{
    struct admin *ad = admin_begin(req, ADMIN_ALTER);
    if (!ad) return;
    for (int32_t i = 0; i < ad->n; i++) alter_one(ad, i);
    admin_dispatched(ad);
}
