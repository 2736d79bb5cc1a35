/* net/handle_admin.c: CreateTopics, DeleteTopics, CreatePartitions.
 * The store's metadata is the commit point; partitions then open on their
 * owners (lazily on first use if the eager open is late). A deletion makes
 * the topic unknown first, then every owner closes its log, then the files go.
 * A grown topic makes the groups subscribed to it rebalance before the answer. */
#include "net_int.h"

#include <stdio.h>

/* One result slot per topic, or NULL (the request is then malformed). */
static struct ktopic_result *results_alloc(struct request *req, enum weir_err *err, int32_t n)
{
    struct ktopic_result *res = *err == WEIR_OK ? weir_arena_alloc(&req->arena, (size_t)(n + 1) * sizeof *res) : NULL;
    if (*err == WEIR_OK && !res) *err = WEIR_E_NOMEM;
    if (*err != WEIR_OK) request_malformed(req, *err);
    return res;
}

static struct kstr arena_msg(struct request *req, const char *text)
{
    char *m = arena_strdup(&req->arena, kstr_c(text));
    return m ? kstr_c(m) : KSTR_NULL;
}

/* Replica assignments may only name this node, one replica per partition. */
static bool assignment_ok(int32_t node, const int32_t *ids, int32_t n)
{
    return n == 1 && ids[0] == node;
}

static bool name_repeated(const struct kcreatetopics_req *cr, int32_t i)
{
    for (int32_t j = 0; j < cr->n_topics; j++)
        if (j != i && cr->topics[j].name.len == cr->topics[i].name.len &&
            !memcmp(cr->topics[j].name.ptr, cr->topics[i].name.ptr, (size_t)cr->topics[i].name.len))
            return true;
    return false;
}

/* Validates one topic of a CreateTopics request; returns its partition count. */
static int32_t create_check(struct request *req, const struct kcreatetopics_req *cr, int32_t i,
                            struct ktopic_result *res)
{
    const struct broker *b = req->c->r->b;
    const struct kcreatetopics_req_topic *t = &cr->topics[i];
    int32_t n = t->num_partitions == -1 ? (t->n_assignments > 0 ? t->n_assignments : b->cfg.num_partitions)
                                        : t->num_partitions;
    if (name_repeated(cr, i)) {
        res->error_code = WEIR_KERR_INVALID_REQUEST;
        res->error_message = arena_msg(req, "the topic is named more than once in the request");
    } else if (t->replication_factor != -1 && t->replication_factor != 1) {
        res->error_code = WEIR_KERR_INVALID_REPLICATION_FACTOR;
        res->error_message = arena_msg(req, "replication factor must be 1 on a single node");
    } else if (t->n_assignments > 0 && (t->num_partitions != -1 || t->replication_factor != -1)) {
        res->error_code = WEIR_KERR_INVALID_REQUEST;
        res->error_message = arena_msg(req, "give either replica assignments or partitions and replication factor");
    }
    for (int32_t a = 0; res->error_code == 0 && a < t->n_assignments; a++)
        if (t->assignments[a].partition_index != a ||
            !assignment_ok(b->cfg.node_id, t->assignments[a].broker_ids, t->assignments[a].n_broker_ids)) {
            res->error_code = WEIR_KERR_INVALID_REPLICA_ASSIGNMENT;
            res->error_message = arena_msg(req, "assignments must list partitions 0..n-1 in order, each on this node "
                                                "alone");
        }
    return n;
}

/* Why a topic name or partition count is refused, in why; WEIR_OK if neither. */
static enum weir_err create_precheck(const char *name, int32_t n, char *why, size_t cap)
{
    const char *problem = weir_kafka_name_problem(name);
    if (problem) {
        snprintf(why, cap, "illegal topic name '%.64s%s': %s", name, strlen(name) > 64 ? "..." : "", problem);
        return WEIR_E_BAD_NAME;
    }
    if (n < 1 || n > WEIR_PARTITIONS_MAX) {
        snprintf(why, cap, "the number of partitions must be in [1, %d], not %d", WEIR_PARTITIONS_MAX, n);
        return WEIR_E_BAD_PARTITIONS;
    }
    return WEIR_OK;
}

static enum weir_err create_one(struct request *req, const struct kcreatetopics_req_topic *t, int32_t n,
                                bool validate_only, char *why, size_t cap, char **created)
{
    struct broker *b = req->c->r->b;
    char *name = arena_strdup(&req->arena, t->name);
    const char *(*pairs)[2] = weir_arena_alloc(&req->arena, (size_t)(t->n_configs + 1) * sizeof *pairs);
    if (!name || !pairs) return WEIR_E_NOMEM;
    for (int32_t c = 0; c < t->n_configs; c++) {
        pairs[c][0] = arena_strdup(&req->arena, t->configs[c].name);
        pairs[c][1] = arena_strdup(&req->arena, kstr_is_null(t->configs[c].value) ? kstr_c("") : t->configs[c].value);
        if (!pairs[c][0] || !pairs[c][1]) return WEIR_E_NOMEM;
    }
    enum weir_err err = create_precheck(name, n, why, cap);
    if (err != WEIR_OK) return err;
    if (validate_only) {
        struct weir_log_config cfg = b->cfg.log;
        for (int32_t c = 0; c < t->n_configs; c++) {
            err = weir_log_config_set(&cfg, pairs[c][0], pairs[c][1], why, cap);
            if (err != WEIR_OK) return err;
        }
        if (weir_store_topic_partitions(b->store, name) >= 0) {
            snprintf(why, cap, "topic '%s' already exists", name);
            return WEIR_E_EXISTS;
        }
        return weir_log_config_check(&cfg, why, cap);
    }
    err = weir_store_topic_create(b->store, name, n, (const char *const(*)[2])pairs, (size_t)t->n_configs, why, cap);
    if (err == WEIR_OK) *created = name;
    return err;
}

struct create_state {
    struct kcreatetopics_req cr;
    struct ktopic_result *res;
    int remaining;               /* topics whose partitions are still opening, +1 while dispatching */
};

struct create_slot {
    struct request *req;
    struct ktopic_result *res;
    const char *name;
    int32_t partitions;
};

static void createtopics_respond(struct request *req)
{
    struct create_state *st = req->state;
    response_begin(req);
    kproto_createtopics_encode(&req->out, req->hdr.api_version,
                               &(struct kcreatetopics_resp){ .topics = st->res, .n_topics = st->cr.n_topics,
                                                             .details = createtopics_details(req, &st->cr, st->res, 1) });
    response_end(req);
    request_respond(req);
}

/* Every partition of one new topic opened, or the topic was rolled back. */
static void create_opened(const struct topic_open_result *r, void *ctx)
{
    struct create_slot *slot = ctx;
    struct request *req = slot->req;
    struct create_state *st = req->state;
    if (r->err == WEIR_OK) {
        weir_log(WEIR_LOG_INFO, "created topic %s with %d partitions", slot->name, slot->partitions);
    } else {
        slot->res->error_code = weir_kerr_from_err(r->err);
        slot->res->error_message = arena_msg(req, r->why);
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot create topic %s", r->why);
    }
    if (--st->remaining == 0) createtopics_respond(req);
    request_task_done(req);
}

static void create_topic(struct request *req, struct create_state *st, int32_t i)
{
    struct ktopic_result *res = &st->res[i];
    int32_t n = create_check(req, &st->cr, i, res);
    if (res->error_code != 0) return;
    char why[256] = "", *created = NULL;
    enum weir_err err = create_one(req, &st->cr.topics[i], n, st->cr.validate_only, why, sizeof why, &created);
    res->error_code = weir_kerr_from_err(err);
    if (err != WEIR_OK) res->error_message = arena_msg(req, why[0] ? why : weir_err_text(err));
    struct create_slot *slot = created ? weir_arena_alloc(&req->arena, sizeof *slot) : NULL;
    if (!created) return;
    if (!slot) { /* cannot wait for it: its partitions open lazily on first use */
        weir_log(WEIR_LOG_INFO, "created topic %s with %d partitions", created, n);
        return;
    }
    *slot = (struct create_slot){ .req = req, .res = res, .name = created, .partitions = n };
    st->remaining++;
    req->pending++; /* request_task_done in create_opened */
    topic_open_all(req->c->r, created, 0, n, create_opened, slot);
}

void handle_createtopics(struct request *req)
{
    if (req->c->r->b->cluster) {
        cluster_createtopics(req);
        return;
    }
    struct create_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct create_state){ .remaining = 1 };
    if (err == WEIR_OK) err = kproto_createtopics_decode(&req->body, req->hdr.api_version, &req->arena, &st->cr);
    if (!(st && (st->res = results_alloc(req, &err, st->cr.n_topics)))) {
        if (!st) request_malformed(req, err);
        return;
    }
    req->state = st;
    for (int32_t i = 0; i < st->cr.n_topics; i++)
        st->res[i] = (struct ktopic_result){ .name = st->cr.topics[i].name, .error_message = KSTR_NULL };
    for (int32_t i = 0; i < st->cr.n_topics; i++) create_topic(req, st, i);
    if (--st->remaining == 0) createtopics_respond(req);
}

/* ---- DeleteTopics ---------------------------------------------------------------- */

struct del_slot {
    struct ptask pt;
    struct reactor_timer retry;  /* the log still has appends in flight */
    struct weir_topic_deletion *d;
};

struct del_state {
    struct kdeletetopics_req dr;
    struct ktopic_result *res;
    struct weir_topic_deletion **deletions;
    int remaining;
};

static void del_finish(struct request *req)
{
    struct del_state *st = req->state;
    for (int32_t i = 0; i < st->dr.n_topic_names; i++)
        if (st->deletions[i]) weir_store_topic_delete_finish(req->c->r->b->store, st->deletions[i]);
    deletetopics_messages(req, st->res, st->dr.n_topic_names);
    response_begin(req);
    kproto_deletetopics_encode(&req->out, req->hdr.api_version,
                               &(struct kdeletetopics_resp){ .responses = st->res, .n_responses = st->dr.n_topic_names,
                                                             .topic_ids = st->dr.topic_ids });
    response_end(req);
    request_respond(req);
}

static void del_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct del_state *st = pt->req->state;
    if (--st->remaining == 0) del_finish(pt->req);
}

static void del_owner(struct reactor *r, struct ptask *pt);

static void del_retry(struct reactor *r, struct reactor_timer *tm)
{
    del_owner(r, &weir_container_of(tm, struct del_slot, retry)->pt);
}

/* A log closes only once its appends have completed (on this reactor's
 * ring, which the close cannot run). */
static void del_owner(struct reactor *r, struct ptask *pt)
{
    struct del_slot *s = weir_container_of(pt, struct del_slot, pt);
    struct part *p = part_find(r, pt->topic, pt->partition);
    if (p && !weir_log_idle(p->log)) {
        s->retry.fire = del_retry;
        reactor_timer_arm(r, &s->retry, weir_clock_ns() + DEL_RETRY_NS);
        return;
    }
    part_close(r, pt->topic, pt->partition, weir_store_deletion_take_log(s->d, pt->partition));
    ptask_reply(r, pt);
}

static enum weir_err del_topic(struct request *req, struct del_state *st, int32_t i)
{
    struct ktopic_result *res = &st->res[i];
    if (res->error_code != 0) return WEIR_OK; /* deletetopics_resolve's */
    char *name = arena_strdup(&req->arena, st->dr.topic_names[i]);
    if (!name) return WEIR_E_NOMEM;
    enum weir_err err = weir_store_topic_delete_begin(req->c->r->b->store, name, &st->deletions[i]);
    res->error_code = weir_kerr_from_err(err);
    if (err != WEIR_OK) {
        st->deletions[i] = NULL;
        return WEIR_OK;
    }
    weir_log(WEIR_LOG_INFO, "deleting topic %s", name);
    int32_t n = weir_store_deletion_partitions(st->deletions[i]);
    struct del_slot *slots = weir_arena_alloc(&req->arena, (size_t)n * sizeof *slots);
    if (!slots) return WEIR_E_NOMEM; /* finish closes the logs itself */
    for (int32_t p = 0; p < n; p++) {
        slots[p] = (struct del_slot){ .pt = { .req = req, .topic = name, .partition = p, .on_owner = del_owner,
                                              .on_origin = del_origin },
                                      .d = st->deletions[i] };
        st->remaining++;
        ptask_send(&slots[p].pt);
    }
    return WEIR_OK;
}

void handle_deletetopics(struct request *req)
{
    if (req->c->r->b->cluster) {
        cluster_deletetopics(req);
        return;
    }
    struct del_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct del_state){ 0 };
    if (err == WEIR_OK) err = kproto_deletetopics_decode(&req->body, req->hdr.api_version, &req->arena, &st->dr);
    if (err == WEIR_OK) {
        size_t n = (size_t)st->dr.n_topic_names + 1;
        st->res = weir_arena_alloc(&req->arena, n * sizeof *st->res);
        st->deletions = weir_arena_alloc(&req->arena, n * sizeof *st->deletions);
        int16_t *errors = weir_arena_alloc(&req->arena, n * sizeof *errors);
        if (!st->res || !st->deletions || !errors || !deletetopics_resolve(req, &st->dr, errors)) err = WEIR_E_NOMEM;
        for (int32_t i = 0; err == WEIR_OK && i < st->dr.n_topic_names; i++)
            st->res[i] = (struct ktopic_result){ .name = st->dr.topic_names[i], .error_code = errors[i],
                                                 .error_message = KSTR_NULL };
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held while dispatching */
    for (int32_t i = 0; i < st->dr.n_topic_names; i++) st->deletions[i] = NULL;
    for (int32_t i = 0; i < st->dr.n_topic_names && err == WEIR_OK; i++) err = del_topic(req, st, i);
    if (err != WEIR_OK) kbuf_fail(&req->out, err);
    if (--st->remaining == 0) del_finish(req);
}

/* ---- CreatePartitions ---------------------------------------------------------------- */

struct grow_state {
    struct kcreatepartitions_req cr;
    struct kcreatepartitions_resp resp;
    char **grown;                /* topics whose new partitions all opened */
    int32_t n_grown;
    int remaining;               /* topics whose new partitions are still opening, +1 while dispatching */
};

struct grow_slot {
    struct request *req;
    struct ktopic_result *res;
    char *name;
    int32_t old, count;
};

/* Returns the topic's old partition count when the store grew it, else -1. */
static int32_t grow_one(struct request *req, const struct kcreatepartitions_req_topic *t, bool validate_only,
                        struct ktopic_result *res, char **name_out)
{
    struct broker *b = req->c->r->b;
    char *name = arena_strdup(&req->arena, t->name);
    int32_t old = name ? weir_store_topic_partitions(b->store, name) : -1;
    if (!name || old < 0) {
        res->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        res->error_message = arena_msg(req, "the topic does not exist");
        return -1;
    }
    if (t->count <= old || t->count > WEIR_PARTITIONS_MAX) {
        char why[160];
        snprintf(why, sizeof why, "the new partition count %d must be larger than the current %d and at most %d",
                 t->count, old, WEIR_PARTITIONS_MAX);
        res->error_code = WEIR_KERR_INVALID_PARTITIONS;
        res->error_message = arena_msg(req, why);
        return -1;
    }
    if (t->n_assignments >= 0 && t->n_assignments != t->count - old) res->error_code = WEIR_KERR_INVALID_REPLICA_ASSIGNMENT;
    for (int32_t a = 0; res->error_code == 0 && a < t->n_assignments; a++)
        if (!assignment_ok(b->cfg.node_id, t->assignments[a].broker_ids, t->assignments[a].n_broker_ids))
            res->error_code = WEIR_KERR_INVALID_REPLICA_ASSIGNMENT;
    if (res->error_code != 0)
        res->error_message = arena_msg(req, "assignments must give each new partition this node alone");
    if (res->error_code != 0 || validate_only) return -1;
    enum weir_err err = weir_store_topic_add_partitions(b->store, name, t->count);
    res->error_code = weir_kerr_from_err(err);
    if (err != WEIR_OK) {
        res->error_message = arena_msg(req, weir_err_text(err));
        return -1;
    }
    *name_out = name;
    return old;
}

static void createpartitions_respond(struct request *req, void *ctx)
{
    const struct kcreatepartitions_resp *resp = ctx;
    response_begin(req);
    kproto_createpartitions_encode(&req->out, req->hdr.api_version, resp);
    response_end(req);
    request_respond(req);
}

static void grow_finish(struct request *req)
{
    struct grow_state *st = req->state;
    if (st->n_grown == 0) createpartitions_respond(req, &st->resp);
    /* Groups subscribed to a grown topic rebalance before the answer (group_member.c). */
    else groups_partitions_grown(req, st->grown, st->n_grown, createpartitions_respond, &st->resp);
}

static void grow_opened(const struct topic_open_result *r, void *ctx)
{
    struct grow_slot *slot = ctx;
    struct request *req = slot->req;
    struct grow_state *st = req->state;
    if (r->err == WEIR_OK) {
        weir_log(WEIR_LOG_INFO, "topic %s grew from %d to %d partitions", slot->name, slot->old, slot->count);
        st->grown[st->n_grown++] = slot->name;
    } else {
        slot->res->error_code = weir_kerr_from_err(r->err);
        slot->res->error_message = arena_msg(req, r->why);
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot add partitions to topic %s", r->why);
    }
    if (--st->remaining == 0) grow_finish(req);
    request_task_done(req);
}

void handle_createpartitions(struct request *req)
{
    if (req->c->r->b->cluster) {
        cluster_createpartitions(req);
        return;
    }
    struct grow_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct grow_state){ .remaining = 1 };
    if (err == WEIR_OK) err = kproto_createpartitions_decode(&req->body, req->hdr.api_version, &req->arena, &st->cr);
    struct ktopic_result *res = st ? results_alloc(req, &err, st->cr.n_topics) : NULL;
    if (!st && err != WEIR_OK) request_malformed(req, err);
    if (!res) return;
    st->grown = weir_arena_alloc(&req->arena, (size_t)(st->cr.n_topics + 1) * sizeof *st->grown);
    st->resp = (struct kcreatepartitions_resp){ .results = res, .n_results = st->cr.n_topics };
    req->state = st;
    for (int32_t i = 0; i < st->cr.n_topics; i++) {
        res[i] = (struct ktopic_result){ .name = st->cr.topics[i].name, .error_message = KSTR_NULL };
        char *name = NULL;
        int32_t old = grow_one(req, &st->cr.topics[i], st->cr.validate_only, &res[i], &name);
        struct grow_slot *slot = old >= 0 ? weir_arena_alloc(&req->arena, sizeof *slot) : NULL;
        if (!slot || !st->grown) continue; /* (out of arena: the new partitions open lazily) */
        *slot = (struct grow_slot){ .req = req, .res = &res[i], .name = name, .old = old,
                                    .count = st->cr.topics[i].count };
        st->remaining++;
        req->pending++; /* request_task_done in grow_opened */
        topic_open_all(req->c->r, name, old, slot->count, grow_opened, slot);
    }
    if (--st->remaining == 0) grow_finish(req);
}
