/* net/group_admin.c: DescribeGroups, ListGroups, DeleteGroups and OffsetDelete. Each fans
 * out from the request's reactor to the owners (one ptask per group, or per
 * offsets partition for ListGroups); the last answer encodes the response.
 * DeleteGroups writes tombstones for the group's offsets (group_log.c). */
#include "group_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- DescribeGroups, ListGroups -------------------------------------------------------- */

static const char *const state_names[] = { "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" };

/* DescribeGroups v3+ with include_authorized_operations and no authorizer:
 * every operation a group supports (Kafka's AuthHelper.authorizedOperations,
 * AclEntry.supportedOperations(GROUP) = READ 3, DELETE 6, DESCRIBE 8). */
enum { GROUP_AUTHORIZED_OPS = 1 << 3 | 1 << 6 | 1 << 8 };

static void ginfo_load(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    if (!gc->loaded[partition]) {
        gc->loaded[partition] = true;
        group_log_replay(r, gc, partition);
    }
}

/* Owners of different offsets partitions run at once, so each copies into
 * its slot's own arena, never the request's. */
static struct weir_arena *slot_arena(struct ginfo_slot *s)
{
    if (!s->arena.base && weir_arena_init_growable(&s->arena, 512, GROUP_RESP_BYTES_MAX) != WEIR_OK) return NULL;
    return &s->arena;
}

static void describe_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct gcoord *gc = group_coord_of(r);
    int16_t refused = group_coordinates(r, gc, pt->partition);
    if (!refused) ginfo_load(r, gc, pt->partition);
    struct kdescribegroups_group *out = &s->st->described[s->index];
    struct kstr id = s->st->dr.groups[s->index];
    *out = (struct kdescribegroups_group){ .group_id = id, .state = kstr_c("Dead"), .protocol_type = kstr_c(""),
                                           .protocol_data = kstr_c(""), .error_code = refused,
                                           .authorized_operations = KPROTO_AUTHORIZED_OPS_NONE };
    struct group *g = id.len > 0 && !refused ? group_find(gc, id) : NULL;
    struct weir_arena *a = g ? slot_arena(s) : NULL; /* only a known group costs memory */
    if (id.len <= 0) out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    else if (g && !a) out->error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE, g = NULL;
    if (!out->error_code && s->st->dr.include_authorized_operations) out->authorized_operations = GROUP_AUTHORIZED_OPS;
    if (g) {
        out->state = kstr_c(state_names[g->state]);
        out->protocol_type = group_resp_kstr(a, g->protocol_type ? g->protocol_type : "");
        out->protocol_data = group_resp_kstr(a, g->protocol && g->state != G_PREPARING ? g->protocol : "");
        int32_t n = group_member_count(g);
        struct kdescribegroups_member *ms = group_resp_alloc(a, (size_t)WEIR_MAX(n, 1) * sizeof *ms);
        for (struct gmember *m = g->members; ms && m; m = m->next) {
            const struct gproto *p = g->protocol && g->state != G_PREPARING ? group_member_proto(m, g->protocol) : NULL;
            ms[out->n_members++] = (struct kdescribegroups_member){
                .member_id = group_resp_kstr(a, m->id), .group_instance_id = group_resp_kstr(a, m->instance_id),
                .client_id = group_resp_kstr(a, m->client_id ? m->client_id : ""),
                .client_host = group_resp_kstr(a, m->client_host ? m->client_host : ""),
                .metadata = p ? group_resp_bytes(a, p->meta, p->len) : (struct kbytes){ NULL, 0 },
                .assignment = g->state == G_STABLE ? group_resp_bytes(a, m->assign, m->assign_len)
                                                   : (struct kbytes){ NULL, 0 } };
        }
        out->members = ms;
    }
    ptask_reply(r, pt);
}

/* ListGroups v4's states_filter: none lists every group; else the state's
 * name must be one of them, as written (Kafka's handleListGroups). */
static bool state_listed(const struct klistgroups_req *lr, const struct group *g)
{
    for (int32_t i = 0; i < lr->n_states_filter; i++)
        if (kstr_eq(lr->states_filter[i], state_names[g->state])) return true;
    return lr->n_states_filter == 0;
}

static void list_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct weir_arena *a = slot_arena(s);
    struct gcoord *gc = group_coord_of(r);
    bool ours = !group_coordinates(r, gc, pt->partition); /* in a cluster: the partitions this broker leads */
    if (ours) ginfo_load(r, gc, pt->partition);
    int32_t n = 0;
    for (struct group *g = ours ? gc->groups : NULL; g; g = g->next)
        if (group_partition(kstr_c(g->id)) == pt->partition && state_listed(&s->st->lr, g)) n++;
    struct klistgroups_group *gs = !a ? NULL : group_resp_alloc(a, (size_t)WEIR_MAX(n, 1) * sizeof *gs);
    int32_t i = 0;
    for (struct group *g = ours ? gc->groups : NULL; gs && g; g = g->next)
        if (group_partition(kstr_c(g->id)) == pt->partition && state_listed(&s->st->lr, g))
            gs[i++] = (struct klistgroups_group){ group_resp_kstr(a, g->id),
                                                  group_resp_kstr(a, g->protocol_type ? g->protocol_type : ""),
                                                  kstr_c(state_names[g->state]) };
    if (!gs) s->st->list_error = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
    s->st->listed[pt->partition] = gs;
    s->st->n_listed[pt->partition] = i;
    ptask_reply(r, pt);
}

/* ---- DeleteGroups ------------------------------------------------------------------ */

static void delete_done(struct gjob *j)
{
    struct ginfo_slot *s = j->slot;
    s->st->deleted[s->index].error_code = weir_kerr_from_err(j->err);
    if (j->err == WEIR_OK) weir_log(WEIR_LOG_INFO, "group %.*s: deleted", s->st->dr.groups[s->index].len,
                                    s->st->dr.groups[s->index].ptr);
    ptask_reply(j->r, &s->pt);
}


/* Kafka's rules: 24 for an empty name, 69 for a group this coordinator does
 * not know (Dead), 68 while it has members; otherwise every committed offset
 * gets a tombstone and the group is gone once they are durable. Ids handed
 * out with MEMBER_ID_REQUIRED are not members (Kafka's pendingMembers): they
 * go with the group, and a JoinGroup with one gets 25. */
static void delete_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct gcoord *gc = group_coord_of(r);
    int16_t refused = group_coordinates(r, gc, pt->partition);
    if (!refused) ginfo_load(r, gc, pt->partition);
    struct kstr id = s->st->dr.groups[s->index];
    struct kdeletegroups_result *out = &s->st->deleted[s->index];
    *out = (struct kdeletegroups_result){ .group_id = id };
    struct group *g = id.len > 0 && !refused ? group_find(gc, id) : NULL;
    if (refused) out->error_code = refused;
    else if (id.len <= 0) out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    else if (!g) out->error_code = WEIR_KERR_GROUP_ID_NOT_FOUND;
    else if (g->members || g->state != G_EMPTY) out->error_code = WEIR_KERR_NON_EMPTY_GROUP;
    if (out->error_code) {
        ptask_reply(r, pt);
        return;
    }
    group_pending_free(g);
    if (g->offsets || g->stored_generation >= 0) {
        struct gjob *j = group_job_new(r, pt->partition, true, delete_done);
        j->slot = s;
        int64_t now = weir_time_ms();
        for (struct goffset *o = g->offsets; o; o = o->next) group_job_add(j, id, kstr_c(o->topic), o->partition, NULL, now);
        if (g->stored_generation >= 0) group_job_add_gone(j, id, now);
        group_job_submit(j); /* delete_done answers */
        return;
    }
    weir_log(WEIR_LOG_INFO, "group %s: deleted", g->id);
    group_check(gc, g);
    group_maybe_free(gc, g); /* a commit in flight keeps it (2) */
    ptask_reply(r, pt);
}

static void ginfo_finish(struct request *req)
{
    struct ginfo_state *st = req->state;
    response_begin(req);
    if (req->hdr.api_key == KAPI_DESCRIBE_GROUPS) {
        kproto_describegroups_encode(&req->out, req->hdr.api_version,
                                     &(struct kdescribegroups_resp){ .groups = st->described, .n_groups = st->dr.n_groups });
    } else if (req->hdr.api_key == KAPI_DELETE_GROUPS) {
        struct kdeletegroups_resp resp = { .results = st->deleted, .n_results = st->dr.n_groups };
        kproto_deletegroups_encode(&req->out, req->hdr.api_version, &resp);
    } else {
        int32_t n = 0;
        for (int p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) n += st->n_listed[p];
        struct klistgroups_group *all = group_resp_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *all);
        int32_t i = 0;
        for (int p = 0; all && p < GROUP_OFFSETS_PARTITIONS; p++)
            for (int32_t j = 0; j < st->n_listed[p]; j++) all[i++] = st->listed[p][j];
        kproto_listgroups_encode(&req->out, req->hdr.api_version,
                                 &(struct klistgroups_resp){ .error_code = all ? st->list_error
                                                                               : WEIR_KERR_COORDINATOR_NOT_AVAILABLE,
                                                             .groups = all, .n_groups = i });
    }
    response_end(req);
    request_respond(req);
}

static void ginfo_release(struct request *req)
{
    struct ginfo_state *st = req->state;
    for (int32_t i = 0; i < st->n_slots; i++)
        if (st->slots[i].arena.base) weir_arena_destroy(&st->slots[i].arena);
}

static void ginfo_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct ginfo_state *st = pt->req->state;
    if (--st->remaining == 0) ginfo_finish(pt->req);
}

void group_admin_handle(struct request *req)
{
    struct ginfo_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) memset(st, 0, sizeof *st);
    bool describe = req->hdr.api_key == KAPI_DESCRIBE_GROUPS, delete = req->hdr.api_key == KAPI_DELETE_GROUPS;
    if (err == WEIR_OK && describe)
        err = kproto_describegroups_decode(&req->body, req->hdr.api_version, &req->arena, &st->dr);
    else if (err == WEIR_OK && delete) {
        struct kdeletegroups_req del;
        err = kproto_deletegroups_decode(&req->body, req->hdr.api_version, &req->arena, &del);
        st->dr = (struct kdescribegroups_req){ .groups = del.groups, .n_groups = del.n_groups };
    } else if (err == WEIR_OK)
        err = kproto_listgroups_decode(&req->body, req->hdr.api_version, &req->arena, &st->lr);
    bool per_group = describe || delete;
    int32_t n = per_group && st ? st->dr.n_groups : GROUP_OFFSETS_PARTITIONS;
    struct ginfo_slot *slots = NULL;
    if (err == WEIR_OK) {
        size_t m = (size_t)WEIR_MAX(n, 1);
        slots = weir_arena_alloc(&req->arena, m * sizeof *slots);
        if (describe) st->described = weir_arena_alloc(&req->arena, m * sizeof *st->described);
        if (delete) st->deleted = weir_arena_alloc(&req->arena, m * sizeof *st->deleted);
        if (!slots || (describe && !st->described) || (delete && !st->deleted)) err = WEIR_E_NOMEM;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    req->on_release = ginfo_release;
    st->slots = slots, st->n_slots = n;
    st->remaining = 1; /* held while dispatching */
    for (int32_t i = 0; i < n; i++) {
        int32_t part = per_group ? group_partition(st->dr.groups[i]) : i;
        slots[i] = (struct ginfo_slot){ .pt = { .req = req, .topic = GROUP_OFFSETS_TOPIC, .partition = part,
                                                .on_owner = describe ? describe_owner
                                                            : delete ? delete_owner : list_owner,
                                                .on_origin = ginfo_origin },
                                        .st = st, .index = i };
        st->remaining++;
        ptask_send(&slots[i].pt);
    }
    if (--st->remaining == 0) ginfo_finish(req);
}

/* ---- OffsetDelete ------------------------------------------------------------------ */

enum { OFFDEL_PENDING = INT16_MIN, OFFDEL_WRITING = INT16_MIN + 1 }; /* codes not decided yet */

struct offdel {
    struct ptask pt;
    struct koffsetdelete_req in;
    struct koffsetdelete_resp out; /* in the request's arena; the owner fills the codes */
};

static void offdel_finish(struct gjob *j)
{
    struct offdel *od = j->ctx;
    int16_t code = weir_kerr_from_err(j->err);
    for (int32_t i = 0; i < od->out.n_topics; i++)
        for (int32_t k = 0; k < od->out.topics[i].n_partitions; k++)
            if (od->out.topics[i].partitions[k].error_code == OFFDEL_WRITING)
                od->out.topics[i].partitions[k].error_code = code;
    weir_log(j->err == WEIR_OK ? WEIR_LOG_INFO : WEIR_LOG_WARN, "group %.*s: committed offsets deleted: %s",
             od->in.group_id.len, od->in.group_id.ptr, weir_err_str(j->err));
    ptask_reply(j->r, &od->pt);
}


/* The group-level answer, as Kafka's GroupCoordinator.handleDeleteOffsets:
 * 24 for an empty id, the coordinator's refusal, 69 for a group it does not
 * know, 68 for a group with members whose protocol type is not "consumer". */
static int16_t offdel_group_error(struct reactor *r, struct gcoord *gc, struct offdel *od, struct group **out)
{
    *out = NULL;
    if (od->in.group_id.len <= 0) return WEIR_KERR_INVALID_GROUP_ID;
    int16_t refused = group_coordinates(r, gc, od->pt.partition);
    if (refused) return refused;
    ginfo_load(r, gc, od->pt.partition);
    struct group *g = group_find(gc, od->in.group_id);
    if (!g || g->state == G_DEAD) return WEIR_KERR_GROUP_ID_NOT_FOUND;
    if (g->state != G_EMPTY && (!g->protocol_type || strcmp(g->protocol_type, "consumer"))) return WEIR_KERR_NON_EMPTY_GROUP;
    *out = g;
    return 0;
}

/* Per partition (topics the cluster does not have were answered 3 on the
 * request's reactor): 86 GROUP_SUBSCRIBED_TO_TOPIC when the group has members
 * and one subscribes to the topic; otherwise 0, and a committed offset gets a
 * tombstone in __consumer_offsets, answered once it is durable. */
static void offdel_owner(struct reactor *r, struct ptask *pt)
{
    struct offdel *od = weir_container_of(pt, struct offdel, pt);
    struct gcoord *gc = group_coord_of(r);
    struct group *g;
    od->out.error_code = offdel_group_error(r, gc, od, &g);
    if (od->out.error_code) {
        ptask_reply(r, pt);
        return;
    }
    struct gjob *j = NULL;
    int64_t now = weir_time_ms();
    for (int32_t i = 0; i < od->out.n_topics; i++) {
        struct koffsetdelete_resp_topic *t = &od->out.topics[i];
        bool subscribed = g->state != G_EMPTY && group_subscribed(g, t->name);
        for (int32_t k = 0; k < t->n_partitions; k++) {
            struct koffsetdelete_resp_part *p = &t->partitions[k];
            if (p->error_code != OFFDEL_PENDING) continue;
            p->error_code = subscribed ? WEIR_KERR_GROUP_SUBSCRIBED_TO_TOPIC : 0;
            if (subscribed || !group_offset_find(g, t->name.ptr ? t->name.ptr : "", (size_t)t->name.len,
                                                 p->partition_index))
                continue;
            if (!j) j = group_job_new(r, pt->partition, true, offdel_finish);
            j->ctx = od;
            group_job_add(j, od->in.group_id, t->name, p->partition_index, NULL, now);
            p->error_code = OFFDEL_WRITING;
        }
    }
    if (j) group_job_submit(j); /* offdel_finish answers */
    else ptask_reply(r, pt);
}

static void offdel_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct request *req = pt->req;
    struct offdel *od = weir_container_of(pt, struct offdel, pt);
    if (od->out.error_code) od->out.n_topics = 0; /* Kafka's error response has no topics */
    response_begin(req);
    kproto_offsetdelete_encode(&req->out, req->hdr.api_version, &od->out);
    response_end(req);
    request_respond(req);
}

/* The answer's topics, in request order, each partition's code: 3 for a
 * topic or partition the cluster does not have (KafkaApis checks the
 * metadata cache first), else OFFDEL_PENDING for the owner. */
static bool offdel_prepare(struct request *req, struct offdel *od)
{
    struct weir_meta *m = req->c->r->b->meta;
    int32_t n = od->in.n_topics;
    od->out.topics = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *od->out.topics);
    if (!od->out.topics) return false;
    od->out.n_topics = n;
    for (int32_t i = 0; i < n; i++) {
        const struct koffsetdelete_req_topic *in = &od->in.topics[i];
        struct koffsetdelete_resp_topic *t = &od->out.topics[i];
        char *name = arena_strdup(&req->arena, in->name);
        t->name = in->name;
        t->n_partitions = in->n_partitions;
        t->partitions = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(in->n_partitions, 1) * sizeof *t->partitions);
        if (!name || !t->partitions) return false;
        int32_t have = weir_meta_topic_partitions(m, name);
        for (int32_t k = 0; k < in->n_partitions; k++) {
            int32_t p = in->partitions[k];
            t->partitions[k] = (struct koffsetdelete_resp_part){
                p, p >= 0 && p < have ? OFFDEL_PENDING : WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION };
        }
    }
    return true;
}

void group_offsetdelete_handle(struct request *req)
{
    struct offdel *od = weir_arena_alloc(&req->arena, sizeof *od);
    enum weir_err err = od ? WEIR_OK : WEIR_E_NOMEM;
    if (od) memset(od, 0, sizeof *od);
    if (err == WEIR_OK) err = kproto_offsetdelete_decode(&req->body, req->hdr.api_version, &req->arena, &od->in);
    if (err == WEIR_OK && !offdel_prepare(req, od)) err = WEIR_E_NOMEM;
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    od->pt = (struct ptask){ .req = req, .topic = GROUP_OFFSETS_TOPIC, .partition = group_partition(od->in.group_id),
                             .on_owner = offdel_owner, .on_origin = offdel_origin };
    ptask_send(&od->pt);
}

void groups_offsets_each(struct reactor *r,
                         void (*fn)(void *ctx, const char *group, const char *topic, int32_t partition, int64_t offset),
                         void *ctx)
{
    struct gcoord *gc = r->groups;
    if (!gc) return;
    for (const struct group *g = gc->groups; g; g = g->next)
        for (const struct goffset *o = g->offsets; o; o = o->next)
            if (o->offset >= 0) fn(ctx, g->id, o->topic, o->partition, o->offset);
}
