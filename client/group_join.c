/* client/group_join.c: one JoinGroup/SyncGroup round (the MEMBER_ID_REQUIRED
 * second try included); as leader, the assignment (assignor.c) over every
 * member's subscription; then the assigned partitions start at their
 * committed offsets (OffsetFetch), else by auto.offset.reset. */
#include "group_int.h"

static const char PROTOCOL_TYPE[] = "consumer";

/* ---- join, assign, sync --------------------------------------------------------------------- */

struct assignor_pref {
    int order[8];
    int n;
};

static bool pref_add(const char *name, size_t len, void *arg)
{
    struct assignor_pref *p = arg;
    int i = cw_assignor_index(name, len);
    for (int k = 0; k < p->n; k++)
        if (p->order[k] == i) return true;
    if (p->n < (int)WEIR_ARRAY_LEN(p->order)) p->order[p->n++] = i;
    return true;
}

/* Bytes of a kbuf written with kb_* only (one MEM chunk), copied into the arena. */
static struct kbytes kbuf_to_arena(struct weir_arena *a, const struct kbuf *b)
{
    uint8_t *p = b->err == WEIR_OK ? weir_arena_alloc(a, b->mem_len ? b->mem_len : 1) : NULL;
    if (!p) return (struct kbytes){ NULL, -1 };
    memcpy(p, b->mem, b->mem_len);
    return (struct kbytes){ p, (int32_t)b->mem_len };
}

/* The id the assignors order a member by (owned): they sort by strcmp, so
 * the first byte puts static members first, ordered by group.instance.id,
 * then dynamic ones by member id: Java's MemberInfo order (librdkafka's for
 * static members too), so a static member restarted under a new member id
 * keeps its place in the order. NULL when out of memory. */
static char *member_sort_key(const struct kjoingroup_member *jm)
{
    bool is_static = jm->group_instance_id.len >= 0 && jm->group_instance_id.ptr;
    struct kstr k = is_static ? jm->group_instance_id : jm->member_id;
    char *key = weir_malloc((size_t)WEIR_MAX(k.len, 0) + 2);
    if (!key) return NULL;
    key[0] = is_static ? '\x01' : '\x02';
    if (k.len > 0) memcpy(key + 1, k.ptr, (size_t)k.len);
    key[1 + WEIR_MAX(k.len, 0)] = '\0';
    return key;
}

/* The generation in a sticky assignor's user data (StickyAssignorUserData
 * v1, as Java's StickyAssignor and librdkafka's sticky assignors write it:
 * [topic [partition]] generation); -1 when absent or unreadable. */
static int32_t sticky_userdata_generation(struct kbytes ud)
{
    struct weir_rd rd = weir_rd_make(ud.ptr, (size_t)WEIR_MAX(ud.len, 0));
    int32_t nt = weir_rd_i32(&rd);
    for (int32_t t = 0; !rd.err && t < nt; t++) {
        int16_t len = weir_rd_i16(&rd);
        weir_rd_bytes(&rd, (size_t)WEIR_MAX(len, 0));
        int32_t np = weir_rd_i32(&rd);
        if (np < 0 || (uint64_t)np * 4 > weir_rd_left(&rd)) return -1;
        weir_rd_bytes(&rd, (size_t)np * 4);
    }
    int32_t gen = weir_rd_i32(&rd);
    return rd.err || ud.len <= 0 || weir_rd_left(&rd) != 0 ? -1 : gen;
}

/* The leader's part: decode every member's subscription, look their topics
 * up, run the assignor, encode one assignment per member. */
static int leader_assign(struct weir_consumer *c, const struct kjoingroup_resp *jr, struct ksyncgroup_assignment **out,
                         int32_t *n_out)
{
    struct cgroup *g = &c->g;
    size_t nm = (size_t)jr->n_members;
    struct cw_amember *m = weir_calloc(nm ? nm : 1, sizeof *m);
    const char ***subs = weir_calloc(nm ? nm : 1, sizeof *subs);
    int rc = m && subs ? 0 : WEIR_CLIENT_E_NOMEM;
    /* names of every member's topics, deduplicated */
    size_t cap_topics = 0, n_topics = 0;
    const char **topics = NULL;
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        struct weir_rd rd = weir_rd_make(jr->members[i].metadata.ptr, (size_t)WEIR_MAX(jr->members[i].metadata.len, 0));
        struct kconsumer_subscription s;
        char *id = member_sort_key(&jr->members[i]);
        m[i].id = id;
        if (!id) rc = WEIR_CLIENT_E_NOMEM;
        else if (kproto_consumer_subscription_decode(&rd, &g->arena, &s) != WEIR_OK) s.n_topics = 0; /* subscribes to nothing */
        subs[i] = rc == 0 ? weir_calloc((size_t)WEIR_MAX(s.n_topics, 1), sizeof *subs[i]) : NULL;
        if (rc == 0 && !subs[i]) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t k = 0; rc == 0 && k < s.n_topics; k++) {
            char *name = cw_group_kstr_dup(s.topics[k]);
            if (!name) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            subs[i][m[i].n_topics++] = name;
            bool seen = false;
            for (size_t t = 0; t < n_topics && !seen; t++) seen = !strcmp(topics[t], name);
            if (seen) continue;
            if (n_topics == cap_topics) {
                cap_topics = cap_topics ? 2 * cap_topics : 16;
                const char **nt = weir_realloc(topics, cap_topics * sizeof *nt);
                if (!nt) {
                    rc = WEIR_CLIENT_E_NOMEM;
                    break;
                }
                topics = nt;
            }
            topics[n_topics++] = name;
        }
        m[i].topics = subs[i];
    }
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    struct cw_atopic *at = NULL;
    size_t n_at = 0;
    if (rc == 0 && n_topics > 0) {
        rc = cw_group_boot_up(c);
        if (rc == 0) rc = cw_metadata(&g->boot, &g->arena, topics, (int)n_topics, c->conf.request_timeout_ms, &md, &frame);
        at = rc == 0 ? weir_calloc(n_topics, sizeof *at) : NULL;
        if (rc == 0 && !at) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t i = 0; rc == 0 && i < md.n_topics; i++) {
            if (md.topics[i].error_code != 0) continue;
            for (size_t t = 0; t < n_topics; t++)
                if (kstr_eq(md.topics[i].name, topics[t])) at[n_at++] = (struct cw_atopic){ topics[t], md.topics[i].n_partitions };
        }
    }
    /* cooperative-sticky: what each member owns (v1+ owned_partitions, topics
     * as indexes into at) and the generation in its user data */
    struct cw_atp **owned = weir_calloc(nm ? nm : 1, sizeof *owned);
    if (rc == 0 && !owned) rc = WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < nm && kstr_eq(jr->protocol_name, "cooperative-sticky"); i++) {
        struct weir_rd rd = weir_rd_make(jr->members[i].metadata.ptr, (size_t)WEIR_MAX(jr->members[i].metadata.len, 0));
        struct kconsumer_subscription s;
        if (kproto_consumer_subscription_decode(&rd, &g->arena, &s) != WEIR_OK) continue;
        m[i].generation = sticky_userdata_generation(s.user_data);
        int32_t n = 0;
        for (int32_t k = 0; k < s.n_owned; k++) n += WEIR_MAX(s.owned[k].n_partitions, 0);
        owned[i] = weir_calloc((size_t)(n ? n : 1), sizeof *owned[i]);
        if (!owned[i]) {
            rc = WEIR_CLIENT_E_NOMEM;
            break;
        }
        for (int32_t k = 0; k < s.n_owned; k++)
            for (size_t t = 0; t < n_at; t++)
                if (kstr_eq(s.owned[k].topic, at[t].name))
                    for (int32_t q = 0; q < s.owned[k].n_partitions; q++)
                        owned[i][m[i].n_owned++] = (struct cw_atp){ (int32_t)t, s.owned[k].partitions[q] };
        m[i].owned = owned[i];
    }
    int strategy = -1;
    if (rc == 0) {
        for (int i = 0; i < 3 && strategy < 0; i++)
            if (kstr_eq(jr->protocol_name, cw_assignor_name(i))) strategy = i;
        if (strategy < 0) rc = WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    }
    if (rc == 0) rc = cw_assignor_run(strategy, m, nm, at, n_at);
    struct ksyncgroup_assignment *as = rc == 0 ? weir_arena_alloc(&g->arena, (nm ? nm : 1) * sizeof *as) : NULL;
    if (rc == 0 && !as) rc = WEIR_CLIENT_E_NOMEM;
    struct kbuf tmp;
    kbuf_init(&tmp, 0);
    for (size_t i = 0; rc == 0 && i < nm; i++) {
        /* group this member's partitions by topic, in topic order */
        struct kconsumer_topic_parts *tp = weir_arena_alloc(&g->arena, (n_at ? n_at : 1) * sizeof *tp);
        int32_t *ids = weir_arena_alloc(&g->arena, (size_t)(m[i].n_out ? m[i].n_out : 1) * sizeof *ids);
        if (!tp || !ids) {
            rc = WEIR_CLIENT_E_NOMEM;
            break;
        }
        int32_t n_tp = 0, used = 0;
        for (size_t t = 0; t < n_at; t++) {
            int32_t start = used;
            for (int32_t k = 0; k < m[i].n_out; k++)
                if (m[i].out[k].topic == (int32_t)t) ids[used++] = m[i].out[k].partition;
            if (used > start) tp[n_tp++] = (struct kconsumer_topic_parts){ kstr_c(at[t].name), &ids[start], used - start };
        }
        struct kconsumer_assignment ca = { 0, tp, n_tp, { NULL, -1 } };
        kbuf_reset(&tmp);
        kproto_consumer_assignment_encode(&tmp, &ca);
        as[i].member_id = jr->members[i].member_id;
        as[i].assignment = kbuf_to_arena(&g->arena, &tmp);
        if (as[i].assignment.len < 0) rc = WEIR_CLIENT_E_NOMEM;
        weir_log(WEIR_LOG_DEBUG, "consumer group %s: %s assigns %d partitions to %s", c->conf.group_id,
                 cw_assignor_name(strategy), (int)m[i].n_out, m[i].id + 1);
    }
    kbuf_free(&tmp);
    cw_frame_unref(frame);
    for (size_t i = 0; m && i < nm; i++) {
        for (int32_t k = 0; subs && subs[i] && k < m[i].n_topics; k++) weir_free((char *)subs[i][k]);
        if (subs) weir_free(subs[i]);
        weir_free((char *)m[i].id);
        weir_free(m[i].out);
    }
    weir_free(subs);
    for (size_t i = 0; owned && i < nm; i++) weir_free(owned[i]);
    weir_free(owned);
    weir_free(m);
    weir_free(topics);
    weir_free(at);
    *out = as;
    *n_out = rc == 0 ? (int32_t)nm : 0;
    return rc;
}

/* The cooperative-sticky subscription (ConsumerProtocolSubscription v1):
 * sub's topics, owned_partitions = the current assignment, and user data
 * as librdkafka's sticky assignors write it ([topic [partition]] of the
 * assignment, then its generation; none before the first), so a leader of
 * either client sees which generation a claim comes from. Into *out (arena). */
static int sub_cooperative(struct weir_consumer *c, const struct kconsumer_subscription *sub, struct kbuf *tmp,
                           struct kbytes *out)
{
    struct cgroup *g = &c->g;
    struct weir_topic_partition *parts;
    size_t n;
    pthread_mutex_lock(&c->lock);
    int rc = cw_positions(c, CW_POS_ALL, &parts, &n);
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) return rc;
    /* by topic, in the order met */
    struct kconsumer_topic_parts *tp = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *tp);
    int32_t *ids = weir_arena_alloc(&g->arena, (n ? n : 1) * sizeof *ids);
    bool *done = weir_calloc(n ? n : 1, sizeof *done);
    int32_t n_tp = 0, used = 0;
    if (!tp || !ids || !done) rc = WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (done[i]) continue;
        char *topic = weir_arena_alloc(&g->arena, strlen(parts[i].topic) + 1);
        if (!topic) {
            rc = WEIR_CLIENT_E_NOMEM;
            break;
        }
        strcpy(topic, parts[i].topic);
        tp[n_tp] = (struct kconsumer_topic_parts){ kstr_c(topic), &ids[used], 0 };
        for (size_t k = i; k < n; k++)
            if (!done[k] && !strcmp(parts[k].topic, parts[i].topic)) ids[used++] = parts[k].partition, done[k] = true;
        tp[n_tp].n_partitions = (int32_t)(&ids[used] - tp[n_tp].partitions);
        n_tp++;
    }
    weir_free(done);
    weir_consumer_partitions_free(parts, n);
    if (rc != 0) return rc;
    struct kbytes ud = { NULL, -1 };
    if (g->owned_gen >= 0) {
        kbuf_reset(tmp);
        kb_i32(tmp, n_tp);
        for (int32_t t = 0; t < n_tp; t++) {
            kb_str(tmp, false, tp[t].topic);
            kb_i32(tmp, tp[t].n_partitions);
            for (int32_t q = 0; q < tp[t].n_partitions; q++) kb_i32(tmp, tp[t].partitions[q]);
        }
        kb_i32(tmp, g->owned_gen);
        ud = kbuf_to_arena(&g->arena, tmp);
        if (ud.len < 0) return WEIR_CLIENT_E_NOMEM;
    }
    struct kconsumer_subscription s1 = { 1, sub->topics, sub->n_topics, ud, tp, n_tp };
    kbuf_reset(tmp);
    kproto_consumer_subscription_encode(tmp, &s1);
    *out = kbuf_to_arena(&g->arena, tmp);
    return out->len < 0 ? WEIR_CLIENT_E_NOMEM : 0;
}

/* Join, (lead,) sync: on success *assignment holds this member's
 * partitions (owned) and the state is CG_STABLE of the new generation. */
int cw_group_join_sync(struct weir_consumer *c, struct weir_topic_partition **assigned, size_t *n_assigned)
{
    struct cgroup *g = &c->g;
    *assigned = NULL;
    *n_assigned = 0;
    /* subscription metadata: the resolved topic names */
    struct kbuf tmp;
    kbuf_init(&tmp, 0);
    weir_arena_reset(&g->arena);
    struct kstr *names = weir_arena_alloc(&g->arena, (g->n_topics ? g->n_topics : 1) * sizeof *names);
    if (!names) return WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; i < g->n_topics; i++) names[i] = kstr_c(g->topics[i]);
    struct kconsumer_subscription sub = { 0, names, (int32_t)g->n_topics, { NULL, -1 }, NULL, 0 };
    kproto_consumer_subscription_encode(&tmp, &sub);
    struct kbytes meta = kbuf_to_arena(&g->arena, &tmp);
    struct kbytes meta_coop = { NULL, -1 };
    int rc = meta.len < 0 ? WEIR_CLIENT_E_NOMEM : 0;
    struct assignor_pref pref = { { 0 }, 0 };
    cw_assignors_each(c->conf.assignors, pref_add, &pref);
    for (int i = 0; rc == 0 && i < pref.n; i++)
        if (!strcmp(cw_assignor_name(pref.order[i]), "cooperative-sticky")) rc = sub_cooperative(c, &sub, &tmp, &meta_coop);
    kbuf_free(&tmp);
    if (rc != 0) return rc;
    struct kjoingroup_protocol protos[8];
    for (int i = 0; i < pref.n; i++) {
        bool coop = !strcmp(cw_assignor_name(pref.order[i]), "cooperative-sticky");
        protos[i] = (struct kjoingroup_protocol){ kstr_c(cw_assignor_name(pref.order[i])), coop ? meta_coop : meta };
    }

    struct kjoingroup_resp jr;
    struct cw_frame *jframe = NULL;
    /* A static member joins with its instance id and an empty member id; the
     * broker answers it at once (no MEMBER_ID_REQUIRED round). */
    int16_t jv = cw_version(&g->coord, KAPI_JOIN_GROUP);
    if (c->conf.group_instance_id && jv >= 0 && jv < JOIN_INSTANCE_VERSION_MIN) {
        cw_errf(g->coord.err, sizeof g->coord.err,
                "%s:%d: the coordinator's JoinGroup v%d has no group.instance.id (v%d+ needed): "
                "unset it or upgrade the broker",
                g->coord.host, g->coord.port, (int)jv, JOIN_INSTANCE_VERSION_MIN);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    for (int attempt = 0;; attempt++) {
        struct kjoingroup_req req = {
            .group_id = kstr_c(c->conf.group_id), .session_timeout_ms = c->conf.session_timeout_ms,
            .rebalance_timeout_ms = c->conf.max_poll_interval_ms, .member_id = kstr_c(g->member_id),
            .group_instance_id = cw_group_instance_id(c), .protocol_type = kstr_c(PROTOCOL_TYPE), .protocols = protos,
            .n_protocols = pref.n,
        };
        int16_t v;
        int32_t corr;
        struct kframe f;
        if ((rc = cw_group_begin(c, &g->coord, KAPI_JOIN_GROUP, &v, &corr, &f)) != 0) return rc;
        kproto_joingroup_request_encode(&g->kb, v, &req);
        struct weir_rd rd;
        cw_frame_unref(jframe);
        jframe = NULL;
        /* The broker holds a JoinGroup up to the rebalance timeout. */
        int timeout = (int)WEIR_MIN((int64_t)c->conf.max_poll_interval_ms + 5000 + c->conf.request_timeout_ms, INT32_MAX);
        rc = cw_group_finish(c, &g->coord, KAPI_JOIN_GROUP, v, corr, &f, timeout, &jframe, &rd);
        if (rc == 0 && kproto_joingroup_response_decode(&rd, v, &g->arena, &jr) != WEIR_OK) rc = cw_group_malformed(&g->coord, "JoinGroup");
        if (rc == 0) rc = jr.error_code;
        if (rc == WEIR_KERR_MEMBER_ID_REQUIRED && attempt == 0) {
            char *id = cw_group_kstr_dup(jr.member_id);
            if (!id) rc = WEIR_CLIENT_E_NOMEM;
            else {
                weir_free(g->member_id);
                g->member_id = id;
                continue;
            }
        }
        break;
    }
    if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID) g->member_id[0] = '\0';
    if (rc != 0) {
        cw_frame_unref(jframe);
        return rc;
    }
    char *id = cw_group_kstr_dup(jr.member_id);
    if (!id) {
        cw_frame_unref(jframe);
        return WEIR_CLIENT_E_NOMEM;
    }
    weir_free(g->member_id);
    g->member_id = id;
    int32_t generation = jr.generation_id;
    bool leader = kstr_eq(jr.leader, g->member_id);
    struct ksyncgroup_assignment *as = NULL;
    int32_t n_as = 0;
    /* JoinGroup v9's skip_assignment: a static leader rejoining a stable group
     * keeps the current assignment (its SyncGroup carries none). */
    if (leader && !jr.skip_assignment) rc = leader_assign(c, &jr, &as, &n_as);
    weir_log(WEIR_LOG_DEBUG, "consumer group %s: joined generation %d as %s%s (%.*s)", c->conf.group_id, (int)generation,
             g->member_id, leader ? ", the leader" : "", (int)WEIR_MAX(jr.protocol_name.len, 0), jr.protocol_name.ptr);
    struct ksyncgroup_resp sr;
    struct cw_frame *sframe = NULL;
    if (rc == 0) {
        struct ksyncgroup_req req = { kstr_c(c->conf.group_id), generation, kstr_c(g->member_id), cw_group_instance_id(c),
                                      as, n_as, kstr_c(PROTOCOL_TYPE), jr.protocol_name };
        int16_t v;
        int32_t corr;
        struct kframe f;
        rc = cw_group_begin(c, &g->coord, KAPI_SYNC_GROUP, &v, &corr, &f);
        if (rc == 0) {
            kproto_syncgroup_request_encode(&g->kb, v, &req);
            struct weir_rd rd;
            int timeout = (int)WEIR_MIN((int64_t)c->conf.max_poll_interval_ms + 5000 + c->conf.request_timeout_ms, INT32_MAX);
            rc = cw_group_finish(c, &g->coord, KAPI_SYNC_GROUP, v, corr, &f, timeout, &sframe, &rd);
            if (rc == 0 && kproto_syncgroup_response_decode(&rd, v, &g->arena, &sr) != WEIR_OK) rc = cw_group_malformed(&g->coord, "SyncGroup");
            if (rc == 0) rc = sr.error_code;
        }
    }
    cw_frame_unref(jframe);
    struct kconsumer_assignment ca = { 0, NULL, 0, { NULL, -1 } };
    if (rc == 0) {
        struct weir_rd rd = weir_rd_make(sr.assignment.ptr, (size_t)WEIR_MAX(sr.assignment.len, 0));
        if (kproto_consumer_assignment_decode(&rd, &g->arena, &ca) != WEIR_OK) rc = WEIR_CLIENT_E_BAD_MSG;
    }
    size_t n = 0;
    for (int32_t t = 0; rc == 0 && t < ca.n_partitions; t++) n += (size_t)WEIR_MAX(ca.partitions[t].n_partitions, 0);
    struct weir_topic_partition *parts = rc == 0 ? weir_calloc(n ? n : 1, sizeof *parts) : NULL;
    if (rc == 0 && !parts) rc = WEIR_CLIENT_E_NOMEM;
    size_t k = 0;
    for (int32_t t = 0; rc == 0 && t < ca.n_partitions; t++)
        for (int32_t i = 0; i < ca.partitions[t].n_partitions; i++) {
            char *topic = cw_group_kstr_dup(ca.partitions[t].topic);
            if (!topic) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            parts[k++] = (struct weir_topic_partition){ topic, ca.partitions[t].partitions[i], -1, 0 };
        }
    cw_frame_unref(sframe);
    if (rc != 0) {
        weir_consumer_partitions_free(parts, k);
        if (rc == WEIR_KERR_UNKNOWN_MEMBER_ID) g->member_id[0] = '\0';
        return rc;
    }
    cw_group_set_state(c, CG_STABLE, generation);
    *assigned = parts;
    *n_assigned = k;
    return 0;
}

/* Starts the assigned partitions at their committed offsets. */
int cw_group_assign_committed(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n, bool replace)
{
    int rc = n ? cw_group_committed_fetch(c, parts, n) : 0;
    if (rc != 0) return rc;
    struct weir_partition_start *s = weir_calloc(n ? n : 1, sizeof *s);
    if (!s) return WEIR_CLIENT_E_NOMEM;
    int64_t reset = c->conf.reset == CW_RESET_EARLIEST ? WEIR_OFFSET_BEGINNING
                    : c->conf.reset == CW_RESET_LATEST ? WEIR_OFFSET_END : CW_OFFSET_RESET_ERROR;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].offset < 0) parts[i].offset = reset;
        s[i] = (struct weir_partition_start){ parts[i].topic, parts[i].partition, parts[i].offset, 0 };
    }
    rc = cw_assign_change(c, s, n, NULL, 0, replace);
    weir_free(s);
    if (rc != 0) return rc;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        if (parts[i].offset >= 0) cw_group_note_committed(c, parts[i].topic, parts[i].partition, parts[i].offset);
    pthread_mutex_unlock(&c->lock);
    return 0;
}
