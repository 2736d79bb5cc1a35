/* net/group_member.c: the group coordinator's helpers (the lowest file of
 * net/group*.c) and the membership state machine: JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, and the rebalance when partitions are added to a
 * subscribed topic.
 *
 * States: Empty, PreparingRebalance, CompletingRebalance, Stable (Kafka's
 * ClassicGroup). A rebalance starts when a member joins, leaves, times out or
 * changes its protocols, and when CreatePartitions grows a topic that a member
 * of a Stable or CompletingRebalance "consumer" group subscribes to.
 *
 * Static members (KIP-345): at most one member of a group holds a given
 * group_instance_id. A JoinGroup with an empty member id and a held instance
 * id is that member restarting: its member id is replaced (join_static_replace);
 * a request naming the instance with any other member id gets 82
 * FENCED_INSTANCE_ID (group_member_check, Kafka's validateCurrentMember). */
#include "group_int.h"

#include <inttypes.h>
#include <stdio.h>

/* ---- helpers ---------------------------------------------------------------------- */

char *group_kdup(struct kstr s)
{
    size_t n = s.len > 0 ? (size_t)s.len : 0;
    char *d = weir_malloc(n + 1);
    if (!d) weir_panic("out of memory in the group coordinator");
    if (n) memcpy(d, s.ptr, n);
    d[n] = '\0';
    return d;
}
static uint8_t *bdup(struct kbytes b)
{
    size_t n = b.len > 0 ? (size_t)b.len : 0;
    uint8_t *d = weir_malloc(n ? n : 1);
    if (!d) weir_panic("out of memory in the group coordinator");
    if (n) memcpy(d, b.ptr, n);
    return d;
}
/* Responses copy group state, which the request's size does not bound: past
 * its limit the arena may grow to GROUP_RESP_BYTES_MAX. */
void *group_resp_alloc(struct weir_arena *a, size_t n)
{
    void *p = weir_arena_alloc(a, n);
    if (!p && a->limit < GROUP_RESP_BYTES_MAX) {
        a->limit = GROUP_RESP_BYTES_MAX;
        p = weir_arena_alloc(a, n);
    }
    return p;
}
struct kstr group_resp_kstr(struct weir_arena *a, const char *s)
{
    if (!s) return KSTR_NULL;
    size_t n = strlen(s);
    char *d = n <= INT16_MAX ? group_resp_alloc(a, n + 1) : NULL;
    if (!d) return kstr_c("");
    memcpy(d, s, n + 1);
    return kstr_c(d);
}
struct kbytes group_resp_bytes(struct weir_arena *a, const uint8_t *p, int32_t n)
{
    if (n <= 0) return (struct kbytes){ NULL, 0 };
    uint8_t *d = group_resp_alloc(a, (size_t)n);
    if (!d) return (struct kbytes){ NULL, 0 };
    memcpy(d, p, (size_t)n);
    return (struct kbytes){ d, n };
}
static bool seq(const char *a, struct kstr b) { return a && kstr_eq(b, a); }

static uint32_t fnv1a_k(struct kstr s)
{
    uint32_t h = 2166136261u;
    for (int32_t i = 0; i < s.len; i++) h = (h ^ (uint8_t)s.ptr[i]) * 16777619u;
    return h;
}

int32_t group_partition(struct kstr group_id) { return (int32_t)(fnv1a_k(group_id) % GROUP_OFFSETS_PARTITIONS); }

struct gcoord *group_coord_of(struct reactor *r)
{
    if (!r->groups) {
        struct gcoord *gc = weir_calloc(1, sizeof *gc);
        if (!gc) weir_panic("out of memory in the group coordinator");
        gc->b = r->b;
        r->groups = gc;
    }
    return r->groups;
}

/* ---- hash tables ---------------------------------------------------------------------- */

/* fnv1a, then murmur3's finalizer: the low bits of the partition hash
 * (fnv1a % 50) pick a reactor's groups, so they must not pick buckets too. */
uint32_t group_hash(const void *p, size_t n, uint32_t salt)
{
    uint32_t h = 2166136261u ^ salt;
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 16777619u;
    h ^= h >> 16, h *= 0x85ebca6bu, h ^= h >> 13, h *= 0xc2b2ae35u, h ^= h >> 16;
    return h;
}
struct glink *gtable_chain(const struct gtable *t, uint32_t hash)
{
    return t->buckets ? t->buckets[hash & t->mask] : NULL;
}
void gtable_insert(struct gtable *t, struct glink *l, uint32_t hash)
{
    if (!t->buckets || t->n > t->mask) { /* load factor <= 1 */
        uint32_t cap = t->buckets ? 2 * (t->mask + 1) : 8;
        struct glink **nb = weir_calloc(cap, sizeof *nb);
        if (!nb) weir_panic("out of memory in the group coordinator");
        for (uint32_t i = 0; t->buckets && i <= t->mask; i++)
            for (struct glink *e = t->buckets[i], *next; e; e = next) {
                next = e->hnext;
                e->hnext = nb[e->hash & (cap - 1)];
                nb[e->hash & (cap - 1)] = e;
            }
        weir_free(t->buckets);
        t->buckets = nb;
        t->mask = cap - 1;
    }
    l->hash = hash;
    l->hnext = t->buckets[hash & t->mask];
    t->buckets[hash & t->mask] = l;
    t->n++;
}
void gtable_remove(struct gtable *t, struct glink *l)
{
    struct glink **pp = &t->buckets[l->hash & t->mask];
    while (*pp != l) pp = &(*pp)->hnext; /* l is in t */
    *pp = l->hnext;
    t->n--;
}
void gtable_free(struct gtable *t)
{
    weir_free(t->buckets);
    *t = (struct gtable){ 0 };
}

/* ---- groups and members ------------------------------------------------------------- */

static uint32_t id_hash(struct kstr id) { return group_hash(id.ptr, (size_t)WEIR_MAX(id.len, 0), 0); }

struct group *group_find(struct gcoord *gc, struct kstr id)
{
    uint32_t h = id_hash(id);
    for (struct glink *l = gtable_chain(&gc->group_ids, h); l; l = l->hnext) {
        struct group *g = weir_container_of(l, struct group, hl);
        if (l->hash == h && seq(g->id, id)) return g;
    }
    return NULL;
}
static struct group *group_new(struct gcoord *gc, struct kstr id)
{
    struct group *g = weir_calloc(1, sizeof *g);
    if (!g) weir_panic("out of memory in the group coordinator");
    g->id = group_kdup(id);
    g->stored_generation = -1;
    g->next = gc->groups;
    if (g->next) g->next->prev = g;
    gc->groups = g;
    gtable_insert(&gc->group_ids, &g->hl, id_hash(id));
    gc->n_groups++;
    return g;
}
struct group *group_get(struct gcoord *gc, struct kstr id)
{
    struct group *g = group_find(gc, id);
    if (g) return g;
    atomic_fetch_add(&gc->b->groups_live, 1);
    return group_new(gc, id);
}
struct group *group_new_capped(struct gcoord *gc, struct kstr id)
{
    int64_t max = gc->b->cfg.groups_max;
    if (atomic_fetch_add(&gc->b->groups_live, 1) >= max) { /* exact across reactors */
        atomic_fetch_sub(&gc->b->groups_live, 1);
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "group %.*s refused: the broker holds weir.groups.max = %" PRId64
                             " groups (error %d to the client)", (int)WEIR_MIN(id.len, 200), id.ptr, max,
                             LIMIT_GROUPS_FULL);
        return NULL;
    }
    return group_new(gc, id);
}
static void group_destroy(struct gcoord *gc, struct group *g)
{
    for (struct gmember *m = g->members, *mn; m; m = mn) mn = m->next, group_member_free(m);
    group_pending_free(g);
    for (struct goffset *o = g->offsets, *on; o; o = on)
        on = o->next, weir_free(o->topic), weir_free(o->meta), weir_free(o);
    gtable_free(&g->member_ids);
    gtable_free(&g->offset_keys);
    weir_free(g->id), weir_free(g->protocol_type), weir_free(g->protocol), weir_free(g->leader);
    weir_free(g);
    gc->n_groups--;
    atomic_fetch_sub(&gc->b->groups_live, 1);
}
void group_free_all(struct gcoord *gc)
{
    for (struct group *g = gc->groups, *gn; g; g = gn) gn = g->next, group_destroy(gc, g);
    gc->groups = NULL;
    gtable_free(&gc->group_ids);
}
static struct gmember *member_find(const struct group *g, struct kstr id)
{
    uint32_t h = id_hash(id);
    for (struct glink *l = gtable_chain(&g->member_ids, h); l; l = l->hnext) {
        struct gmember *m = weir_container_of(l, struct gmember, hl);
        if (l->hash == h && seq(m->id, id)) return m;
    }
    return NULL;
}
static void member_link(struct group *g, struct gmember *m)
{
    m->prev = NULL;
    m->next = g->members;
    if (m->next) m->next->prev = m;
    g->members = m;
    gtable_insert(&g->member_ids, &m->hl, id_hash(kstr_c(m->id)));
    g->n_members++;
}
static void member_unlink(struct group *g, struct gmember *m)
{
    if (m->prev) m->prev->next = m->next;
    else g->members = m->next;
    if (m->next) m->next->prev = m->prev;
    gtable_remove(&g->member_ids, &m->hl);
    g->n_members--;
}
/* m's id becomes id (owned); its place in g->members stays. */
static void member_rename(struct group *g, struct gmember *m, char *id)
{
    gtable_remove(&g->member_ids, &m->hl);
    weir_free(m->id);
    m->id = id;
    gtable_insert(&g->member_ids, &m->hl, id_hash(kstr_c(id)));
}
/* The member holding a group instance id (a static member); NULL for a null id. */
static struct gmember *member_find_instance(struct group *g, struct kstr instance_id)
{
    if (kstr_is_null(instance_id)) return NULL;
    for (struct gmember *m = g->members; m; m = m->next)
        if (seq(m->instance_id, instance_id)) return m;
    return NULL;
}
/* Kafka's validateCurrentMember: with an instance id, 82 FENCED_INSTANCE_ID
 * when it belongs to another member id and 25 when no member holds it; then
 * 25 for an unknown member id. *out is the member when 0 is returned. */
int16_t group_member_check(struct group *g, struct kstr member_id, struct kstr instance_id, struct gmember **out)
{
    *out = NULL;
    if (!g) return WEIR_KERR_UNKNOWN_MEMBER_ID;
    if (!kstr_is_null(instance_id)) {
        struct gmember *s = member_find_instance(g, instance_id);
        if (!s) return WEIR_KERR_UNKNOWN_MEMBER_ID;
        if (!seq(s->id, member_id)) return WEIR_KERR_FENCED_INSTANCE_ID;
        *out = s;
        return 0;
    }
    *out = member_find(g, member_id);
    return *out ? 0 : WEIR_KERR_UNKNOWN_MEMBER_ID;
}
void group_member_free(struct gmember *m)
{
    for (int32_t i = 0; i < m->n_protos; i++) weir_free(m->protos[i].name), weir_free(m->protos[i].meta);
    weir_free(m->protos);
    weir_free(m->assign);
    weir_free(m->id);
    weir_free(m->instance_id);
    weir_free(m->client_id);
    weir_free(m->client_host);
    weir_free(m);
}
static void member_set_protocols(struct gmember *m, const struct kjoingroup_req *jr)
{
    for (int32_t i = 0; i < m->n_protos; i++) weir_free(m->protos[i].name), weir_free(m->protos[i].meta);
    weir_free(m->protos);
    m->n_protos = jr->n_protocols;
    m->protos = weir_calloc(jr->n_protocols ? (size_t)jr->n_protocols : 1, sizeof *m->protos);
    if (!m->protos) weir_panic("out of memory in the group coordinator");
    for (int32_t i = 0; i < jr->n_protocols; i++)
        m->protos[i] = (struct gproto){ group_kdup(jr->protocols[i].name), bdup(jr->protocols[i].metadata),
                                        jr->protocols[i].metadata.len > 0 ? jr->protocols[i].metadata.len : 0 };
    m->session_ms = jr->session_timeout_ms;
    m->rebalance_ms = jr->rebalance_timeout_ms;
}
static bool member_same_protocols(const struct gmember *m, const struct kjoingroup_req *jr)
{
    if (m->n_protos != jr->n_protocols) return false;
    for (int32_t i = 0; i < m->n_protos; i++) {
        int32_t len = jr->protocols[i].metadata.len > 0 ? jr->protocols[i].metadata.len : 0;
        if (!seq(m->protos[i].name, jr->protocols[i].name) || m->protos[i].len != len ||
            (len && memcmp(m->protos[i].meta, jr->protocols[i].metadata.ptr, (size_t)len)))
            return false;
    }
    return true;
}
const struct gproto *group_member_proto(const struct gmember *m, const char *name)
{
    for (int32_t i = 0; i < m->n_protos; i++)
        if (!strcmp(m->protos[i].name, name)) return &m->protos[i];
    return NULL;
}
int32_t group_member_count(const struct group *g) { return g->n_members; }

void group_op_reply(struct reactor *r, struct gop *op) { ptask_reply(r, &op->pt); }

void group_pending_free(struct group *g)
{
    for (struct gpending *p = g->pending, *pn; p; p = pn) pn = p->next, weir_free(p->id), weir_free(p);
    g->pending = NULL;
    g->n_pending = 0;
}

/* Frees g when nothing holds it: no members, pending ids, offsets or writes. */
void group_drop(struct gcoord *gc, struct group *g)
{
    WEIR_ASSERT(g->writes == 0);
    if (g->prev) g->prev->next = g->next;
    else gc->groups = g->next;
    if (g->next) g->next->prev = g->prev;
    gtable_remove(&gc->group_ids, &g->hl);
    group_destroy(gc, g);
}

int16_t group_coordinates(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    if (!gc->led[partition]) return WEIR_KERR_NOT_COORDINATOR;
    if (gc->unload[partition]) return WEIR_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (gc->loaded[partition]) return 0;
    /* The replay must see the whole log: not before the partition leads (a
     * role waiting for its follower appends) nor while any append is in flight
     * (the end offset would miss its records: commits acknowledged by the old
     * leader, answered from memory as older offsets, and overwritten later). */
    struct part *p = part_find(r, GROUP_OFFSETS_TOPIC, partition);
    if (!p || part_repl_serve_check(r, p, -1) || !weir_log_idle(p->log)) return WEIR_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    return 0;
}

bool group_maybe_free(struct gcoord *gc, struct group *g)
{
    if (g->members || g->pending || g->offsets || g->writes > 0 || g->state != G_EMPTY) return false;
    group_set_state(g, G_DEAD);
    if (g->prev) g->prev->next = g->next;
    else gc->groups = g->next;
    if (g->next) g->next->prev = g->prev;
    gtable_remove(&gc->group_ids, &g->hl);
    group_destroy(gc, g);
    return true;
}

size_t group_put_str(uint8_t *p, struct kstr s)
{
    weir_store_be16(p, (uint16_t)(int16_t)s.len);
    if (s.len > 0) memcpy(p + 2, s.ptr, (size_t)s.len);
    return 2 + (size_t)WEIR_MAX(s.len, 0);
}

struct kstr group_get_str(struct weir_rd *rd)
{
    int16_t n = weir_rd_i16(rd);
    if (n < 0) return KSTR_NULL;
    if (rd->err || (size_t)(rd->end - rd->pos) < (size_t)n) {
        rd->err = WEIR_E_TRUNCATED;
        return KSTR_NULL;
    }
    struct kstr s = { (const char *)rd->pos, n };
    rd->pos += n;
    return s;
}

/* ---- committed offsets: the index ------------------------------------------------------ */

static uint32_t offset_hash(const char *topic, size_t tlen, int32_t partition)
{
    return group_hash(topic, tlen, (uint32_t)partition * 0x9e3779b9u);
}
struct goffset *group_offset_find(const struct group *g, const char *topic, size_t tlen, int32_t partition)
{
    uint32_t h = offset_hash(topic, tlen, partition);
    for (struct glink *l = gtable_chain(&g->offset_keys, h); l; l = l->hnext) {
        struct goffset *o = weir_container_of(l, struct goffset, hl);
        if (l->hash == h && o->partition == partition && strlen(o->topic) == tlen && !memcmp(o->topic, topic, tlen))
            return o;
    }
    return NULL;
}
struct goffset *group_offset_add(struct group *g, struct kstr topic, int32_t partition)
{
    struct goffset *o = weir_calloc(1, sizeof *o);
    if (!o) weir_panic("out of memory in the group coordinator");
    o->topic = group_kdup(topic);
    o->partition = partition;
    o->expire_ms = -1;
    o->next = g->offsets;
    if (o->next) o->next->prev = o;
    g->offsets = o;
    gtable_insert(&g->offset_keys, &o->hl, offset_hash(o->topic, strlen(o->topic), partition));
    g->n_offsets++;
    return o;
}
void group_offset_unlink(struct group *g, struct goffset *o)
{
    if (o->prev) o->prev->next = o->next;
    else g->offsets = o->next;
    if (o->next) o->next->prev = o->prev;
    gtable_remove(&g->offset_keys, &o->hl);
    g->n_offsets--;
    weir_free(o->topic), weir_free(o->meta), weir_free(o);
}

/* ---- states and invariants -------------------------------------------------------- */

/* Kafka's GroupState.validPreviousStates, but for Dead: weir frees only an
 * Empty group (group_maybe_free), Kafka also a loaded group it no longer owns. */
static const uint8_t valid_previous[] = {
    [G_EMPTY] = 1u << G_PREPARING,
    [G_PREPARING] = 1u << G_EMPTY | 1u << G_COMPLETING | 1u << G_STABLE,
    [G_COMPLETING] = 1u << G_PREPARING,
    [G_STABLE] = 1u << G_COMPLETING,
    [G_DEAD] = 1u << G_EMPTY,
};

/* A timer that may be due before the earliest one groups_tick knows of: a
 * new deadline, or one moved earlier (one moved later needs nothing). */
void group_timer(struct gcoord *gc, int64_t at_ns)
{
    if (at_ns < gc->timers_due_ns) gc->timers_due_ns = at_ns;
}

void group_set_state(struct group *g, enum gstate to)
{
    WEIR_ASSERT((unsigned)to < WEIR_ARRAY_LEN(valid_previous) && (valid_previous[to] >> g->state & 1u));
    g->state = to;
}

/* g's invariants between requests (a request's steps may break them for a
 * moment: a member removed before the rebalance it starts). */
void group_check(struct gcoord *gc, const struct group *g)
{
#ifdef WEIR_DEBUG
    if (!g) return;
    WEIR_DASSERT(g->state != G_DEAD);
    if (gc) WEIR_DASSERT(group_find(gc, kstr_c(g->id)) == g);
    if (gc) WEIR_DASSERT(gc->loaded[group_partition(kstr_c(g->id))]); /* groups live only in replayed partitions */
    int32_t n = 0, joining = 0, syncing = 0;
    bool leader_found = false;
    for (const struct gmember *m = g->members; m; m = m->next, n++) {
        WEIR_DASSERT(m->prev ? m->prev->next == m : g->members == m);
        WEIR_DASSERT(member_find(g, kstr_c(m->id)) == m); /* indexed, ids unique */
        WEIR_DASSERT(m->n_protos > 0 && m->session_ms >= SESSION_MS_MIN);
        joining += m->join_wait != NULL;
        syncing += m->sync_wait != NULL;
        leader_found |= g->leader && !strcmp(g->leader, m->id);
    }
    WEIR_DASSERT(n == g->n_members && (uint32_t)n == g->member_ids.n);
    WEIR_DASSERT(!g->leader || leader_found); /* a leader is a member */
    WEIR_DASSERT(g->state != G_EMPTY || (n == 0 && !g->protocol && !g->leader)); /* Empty: no members */
    WEIR_DASSERT(joining == 0 || g->state == G_PREPARING); /* joins are held only while preparing */
    WEIR_DASSERT(syncing == 0 || g->state == G_COMPLETING); /* syncs are held only until the assignment */
    if (g->state == G_COMPLETING || g->state == G_STABLE)
        WEIR_DASSERT(n > 0 && g->leader && g->protocol && g->protocol_type && g->generation > 0);
    WEIR_DASSERT(g->state != G_PREPARING || g->rebalance_deadline_ns > 0);
    WEIR_DASSERT(g->generation >= 0);
    int32_t np = 0;
    for (const struct gpending *p = g->pending; p; p = p->next) np++;
    WEIR_DASSERT(np == g->n_pending);
    int32_t no = 0;
    for (const struct goffset *o = g->offsets; o; o = o->next, no++) {
        WEIR_DASSERT(o->prev ? o->prev->next == o : g->offsets == o);
        WEIR_DASSERT(group_offset_find(g, o->topic, strlen(o->topic), o->partition) == o);
    }
    WEIR_DASSERT(no == g->n_offsets && (uint32_t)no == g->offset_keys.n);
    /* each commit in flight counts one write and reserves its new keys */
    WEIR_DASSERT(g->writes >= 0 && g->offsets_reserved >= 0 && (g->writes > 0 || g->offsets_reserved == 0));
#else
    (void)gc, (void)g;
#endif
}

/* Every group of the coordinator, and the counters over them. O(all groups):
 * at replay and the expiry check. */
void group_coord_check(struct gcoord *gc)
{
#ifdef WEIR_DEBUG
    int64_t n = 0, live[GROUP_OFFSETS_PARTITIONS] = { 0 }, writes[GROUP_OFFSETS_PARTITIONS] = { 0 };
    for (const struct group *g = gc->groups; g; g = g->next, n++) {
        WEIR_DASSERT(g->prev ? g->prev->next == g : gc->groups == g);
        group_check(gc, g);
        int32_t p = group_partition(kstr_c(g->id));
        live[p] += g->n_offsets;
        writes[p] += g->writes;
    }
    WEIR_DASSERT(n == gc->n_groups && (uint64_t)n == gc->group_ids.n);
    WEIR_DASSERT(n <= atomic_load(&gc->b->groups_live));
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) {
        WEIR_DASSERT(live[p] == gc->n_live[p]);        /* (1): n_live counts the keys in memory */
        WEIR_DASSERT(writes[p] <= gc->inflight[p]);    /* a group's commits are the partition's appends */
    }
#else
    (void)gc;
#endif
}

/* ---- the state machine ------------------------------------------------------------- */

static void sync_fail_all(struct reactor *r, struct group *g, int16_t code)
{
    for (struct gmember *m = g->members; m; m = m->next)
        if (m->sync_wait) {
            m->sync_wait->out.sync.error_code = code;
            group_op_reply(r, m->sync_wait);
            m->sync_wait = NULL;
        }
}

void group_prepare_rebalance(struct reactor *r, struct group *g)
{
    if (g->state == G_PREPARING) return;
    if (g->state == G_COMPLETING) sync_fail_all(r, g, WEIR_KERR_REBALANCE_IN_PROGRESS);
    int32_t timeout = 0;
    for (struct gmember *m = g->members; m; m = m->next) timeout = WEIR_MAX(timeout, m->rebalance_ms);
    g->initial = g->state == G_EMPTY;
    if (g->initial) timeout = WEIR_MIN(timeout, GROUP_INITIAL_DELAY_MS);
    group_set_state(g, G_PREPARING);
    g->rebalance_deadline_ns = weir_clock_ns() + (int64_t)timeout * 1000000;
    group_timer(group_coord_of(r), g->rebalance_deadline_ns);
    weir_log(WEIR_LOG_INFO, "group %s: preparing rebalance (generation %d)", g->id, g->generation);
    group_check(NULL, g);
}

void group_member_remove(struct reactor *r, struct group *g, struct gmember *m, int16_t code)
{
    member_unlink(g, m);
    if (m->join_wait) m->join_wait->out.join.error_code = code, group_op_reply(r, m->join_wait);
    if (m->sync_wait) m->sync_wait->out.sync.error_code = code, group_op_reply(r, m->sync_wait);
    if (g->leader && !strcmp(g->leader, m->id)) weir_free(g->leader), g->leader = NULL;
    group_member_free(m);
}

void group_restore(struct gcoord *gc, struct group *g, const struct gmeta *gm)
{
    for (struct gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        member_unlink(g, m);
        group_member_free(m);
    }
    weir_free(g->protocol_type), g->protocol_type = NULL;
    weir_free(g->protocol), g->protocol = NULL;
    weir_free(g->leader), g->leader = NULL;
    g->generation = gm->generation;
    g->stored_generation = gm->generation;
    g->state = G_EMPTY; /* loaded, not a transition */
    if (gm->n_members == 0) return;
    int64_t now = weir_clock_ns();
    for (int32_t i = gm->n_members - 1; i >= 0; i--) { /* linking reverses: keep the recorded order */
        const struct gmeta_member *rm = &gm->members[i];
        struct gmember *m = weir_calloc(1, sizeof *m);
        struct gproto *proto = weir_calloc(1, sizeof *proto);
        if (!m || !proto) weir_panic("out of memory in the group coordinator");
        *proto = (struct gproto){ group_kdup(gm->protocol), bdup(rm->meta), WEIR_MAX(rm->meta.len, 0) };
        m->id = group_kdup(rm->id);
        m->instance_id = kstr_is_null(rm->instance_id) ? NULL : group_kdup(rm->instance_id);
        m->client_id = group_kdup(rm->client_id);
        m->client_host = group_kdup(rm->client_host);
        m->session_ms = rm->session_ms;
        m->rebalance_ms = rm->rebalance_ms;
        m->protos = proto;
        m->n_protos = 1;
        m->assign = bdup(rm->assign);
        m->assign_len = WEIR_MAX(rm->assign.len, 0);
        m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
        group_timer(gc, m->hb_deadline_ns);
        member_link(g, m);
    }
    g->protocol_type = group_kdup(gm->protocol_type);
    g->protocol = group_kdup(gm->protocol);
    g->leader = group_kdup(gm->leader);
    g->state = G_STABLE;
}

/* Chooses the protocol every member supports that gets the most first-choice votes. */
static const char *select_protocol(const struct group *g)
{
    const struct gmember *first = g->members;
    const char *best = NULL;
    int best_votes = -1;
    for (int32_t i = 0; first && i < first->n_protos; i++) {
        const char *cand = first->protos[i].name;
        bool all = true;
        for (const struct gmember *m = g->members; m && all; m = m->next) all = group_member_proto(m, cand) != NULL;
        if (!all) continue;
        int votes = 0;
        for (const struct gmember *m = g->members; m; m = m->next)
            for (int32_t j = 0; j < m->n_protos; j++) {
                bool cand_all = true;
                for (const struct gmember *o = g->members; o && cand_all; o = o->next)
                    cand_all = group_member_proto(o, m->protos[j].name) != NULL;
                if (!cand_all) continue;
                if (!strcmp(m->protos[j].name, cand)) votes++;
                break;
            }
        if (votes > best_votes) best = cand, best_votes = votes;
    }
    return best;
}

static void join_answer(struct gop *op, struct group *g, struct gmember *m)
{
    struct request *req = op->pt.req;
    struct kjoingroup_resp *out = &op->out.join;
    out->error_code = 0;
    out->generation_id = g->generation;
    out->protocol_type = group_resp_kstr(&req->arena, g->protocol_type); /* v7+ */
    out->protocol_name = group_resp_kstr(&req->arena, g->protocol ? g->protocol : "");
    out->leader = group_resp_kstr(&req->arena, g->leader ? g->leader : "");
    out->member_id = group_resp_kstr(&req->arena, m->id);
    out->n_members = 0;
    if (g->leader && !strcmp(g->leader, m->id)) {
        int32_t n = group_member_count(g);
        struct kjoingroup_member *ms = group_resp_alloc(&req->arena, (size_t)n * sizeof *ms);
        for (struct gmember *o = g->members; ms && o; o = o->next) {
            const struct gproto *p = group_member_proto(o, g->protocol);
            ms[out->n_members++] = (struct kjoingroup_member){
                .member_id = group_resp_kstr(&req->arena, o->id), .group_instance_id = group_resp_kstr(&req->arena, o->instance_id),
                .metadata = p ? group_resp_bytes(&req->arena, p->meta, p->len) : (struct kbytes){ NULL, 0 } };
        }
        out->members = ms;
    }
}

static bool all_joined(const struct group *g)
{
    if (g->pending) return false;
    for (const struct gmember *m = g->members; m; m = m->next)
        if (!m->join_wait) return false;
    return true;
}

void group_try_complete_join(struct reactor *r, struct group *g, int64_t now_ns)
{
    if (g->state != G_PREPARING) return;
    bool due = now_ns >= g->rebalance_deadline_ns;
    if (!due && (g->initial || !all_joined(g))) return;
    /* Members that did not rejoin in time are removed. */
    for (struct gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_wait) group_member_remove(r, g, m, WEIR_KERR_UNKNOWN_MEMBER_ID);
    }
    g->generation++;
    weir_free(g->protocol), g->protocol = NULL;
    if (!g->members) {
        group_set_state(g, G_EMPTY);
        g->empty_since_ms = weir_time_ms(); /* offsets expire retention after this (Kafka 2.1+) */
        weir_free(g->protocol_type), g->protocol_type = NULL;
        weir_log(WEIR_LOG_INFO, "group %s: empty at generation %d", g->id, g->generation);
        group_check(NULL, g);
        return;
    }
    const char *p = select_protocol(g);
    g->protocol = group_kdup(kstr_c(p ? p : ""));
    if (!g->leader) g->leader = group_kdup(kstr_c(g->members->id));
    group_set_state(g, G_COMPLETING);
    weir_log(WEIR_LOG_INFO, "group %s: generation %d with %d members, protocol %s, leader %s", g->id, g->generation,
             group_member_count(g), g->protocol, g->leader);
    for (struct gmember *m = g->members; m; m = m->next) {
        weir_free(m->assign), m->assign = NULL, m->assign_len = 0;
        m->hb_deadline_ns = now_ns + (int64_t)m->session_ms * 1000000;
        group_timer(group_coord_of(r), m->hb_deadline_ns);
        join_answer(m->join_wait, g, m);
        group_op_reply(r, m->join_wait);
        m->join_wait = NULL;
    }
    group_check(NULL, g);
}

/* A fresh member id, prefixed with the instance id of a static member (as
 * Kafka does), else with the client id. */
static char *member_id_new(struct gcoord *gc, struct reactor *r, struct kstr prefix)
{
    char id[400];
    snprintf(id, sizeof id, "%.*s-%08" PRIx64 "-%u-%" PRIu64, prefix.len > 0 ? (int)WEIR_MIN(prefix.len, 200) : 0,
             prefix.ptr ? prefix.ptr : "", (uint64_t)weir_clock_ns(), r->id, ++gc->member_seq);
    return group_kdup(kstr_c(id));
}

/* A static member restarting: JoinGroup with an empty member id and the
 * instance id of member m. m's id becomes `id` (owned; a held join or sync of
 * the old id gets 82; the leader follows), its assignment stays. Stable with
 * unchanged protocols: the current generation is answered at once, with the
 * leader as it was before (so a restarted leader does not reassign; Kafka's
 * JoinGroup < v9), or from v9 a restarted leader learns it leads, with the
 * members, and skip_assignment set (KIP-814); no rebalance. Otherwise the member waits in the join
 * of a rebalance (started in Stable and CompletingRebalance, whose assignment
 * named the old id). Kafka's updateStaticMemberAndRebalance. */
static void join_static_replace(struct reactor *r, struct group *g, struct gmember *m, char *id, struct gop *op,
                                int64_t now)
{
    const struct kjoingroup_req *jr = &op->in.join;
    WEIR_ASSERT(g->state != G_EMPTY); /* a group with members is never Empty */
    if (m->join_wait) m->join_wait->out.join.error_code = WEIR_KERR_FENCED_INSTANCE_ID, group_op_reply(r, m->join_wait);
    if (m->sync_wait) m->sync_wait->out.sync.error_code = WEIR_KERR_FENCED_INSTANCE_ID, group_op_reply(r, m->sync_wait);
    m->join_wait = m->sync_wait = NULL;
    struct kstr leader_before = group_resp_kstr(&op->pt.req->arena, g->leader ? g->leader : "");
    weir_log(WEIR_LOG_INFO, "group %s: static member %s rejoins: member id %s replaced by %s", g->id, m->instance_id,
             m->id, id);
    if (g->leader && !strcmp(g->leader, m->id)) weir_free(g->leader), g->leader = group_kdup(kstr_c(id));
    member_rename(g, m, id);
    bool same = member_same_protocols(m, jr);
    member_set_protocols(m, jr);
    weir_free(m->client_id), m->client_id = group_kdup(op->client_id);
    weir_free(m->client_host), m->client_host = group_kdup(op->client_host);
    m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
    group_timer(group_coord_of(r), m->hb_deadline_ns);
    const char *p = same && g->state == G_STABLE && g->protocol ? select_protocol(g) : NULL;
    if (p && !strcmp(p, g->protocol)) {
        struct request *req = op->pt.req;
        bool leads = g->leader && !strcmp(g->leader, m->id);
        if (op->version >= 9 && leads) {
            join_answer(op, g, m);
            op->out.join.skip_assignment = true;
        } else {
            op->out.join = (struct kjoingroup_resp){ .generation_id = g->generation, .leader = leader_before,
                                                     .protocol_type = group_resp_kstr(&req->arena, g->protocol_type),
                                                     .protocol_name = group_resp_kstr(&req->arena, g->protocol),
                                                     .member_id = group_resp_kstr(&req->arena, m->id) };
        }
        group_op_reply(r, op);
        return;
    }
    m->join_wait = op;
    group_prepare_rebalance(r, g); /* CompletingRebalance: the others' held syncs get 27 */
    group_try_complete_join(r, g, now);
}

/* Room for one more member (pending: for an id handed out with 79)? Kafka
 * counts members only (an Empty group takes anyone); weir also bounds the
 * ids handed out and not yet used, which Kafka lets grow. */
static bool join_room(const struct gcoord *gc, const struct group *g, bool pending)
{
    int32_t max = gc->b->cfg.group_max_size;
    if (g->n_members < max && (!pending || g->n_pending < max)) return true;
    WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "group %s: a new member refused: %d members and %d ids handed out, "
                         "group.max.size = %d (error %d to the client)", g->id, g->n_members, g->n_pending, max,
                         LIMIT_GROUP_FULL);
    return false;
}

void group_join(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct kjoingroup_req *jr = &op->in.join;
    struct kjoingroup_resp *out = &op->out.join;
    struct request *req = op->pt.req;
    *out = (struct kjoingroup_resp){ .generation_id = -1, .protocol_name = kstr_c(""), .leader = kstr_c(""),
                                     .member_id = jr->member_id };
    struct group *g = NULL;
    bool created = false; /* by this join: freed again when it is refused */
    if (jr->group_id.len <= 0) {
        out->error_code = WEIR_KERR_INVALID_GROUP_ID;
        goto reply;
    }
    if (jr->session_timeout_ms < SESSION_MS_MIN || jr->session_timeout_ms > SESSION_MS_MAX) {
        out->error_code = WEIR_KERR_INVALID_SESSION_TIMEOUT;
        goto reply;
    }
    /* Kafka bounds a group's metadata only when it fails to store it (UNKNOWN_SERVER_ERROR at
     * SyncGroup past max.message.bytes); weir refuses an oversize member up front. */
    int64_t meta_bytes = 0;
    for (int32_t i = 0; i < jr->n_protocols; i++) meta_bytes += WEIR_MAX(jr->protocols[i].metadata.len, 0);
    if (meta_bytes > JOIN_METADATA_BYTES_MAX) {
        out->error_code = WEIR_KERR_MESSAGE_TOO_LARGE;
        goto reply;
    }
    g = group_find(gc, jr->group_id);
    bool new_member = jr->member_id.len <= 0;
    if (!g && !new_member) {
        out->error_code = WEIR_KERR_UNKNOWN_MEMBER_ID;
        goto reply;
    }
    if (!g) {
        g = group_new_capped(gc, jr->group_id);
        if (!g) {
            out->error_code = LIMIT_GROUPS_FULL;
            goto reply;
        }
        created = true;
    }
    /* The protocol type and at least one protocol must match the group's. */
    if (jr->n_protocols <= 0 || jr->protocol_type.len <= 0 ||
        (g->members && g->protocol_type && !seq(g->protocol_type, jr->protocol_type))) {
        out->error_code = WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL;
        goto reply;
    }
    /* Kafka's supportsProtocols: one of them every member supports, a
     * rejoining member counted with the protocols it joined with before. */
    if (g->members) {
        bool common = false;
        for (int32_t i = 0; i < jr->n_protocols && !common; i++) {
            bool all = true;
            for (struct gmember *m = g->members; m && all; m = m->next) {
                bool has = false;
                for (int32_t j = 0; j < m->n_protos && !has; j++) has = seq(m->protos[j].name, jr->protocols[i].name);
                all = has;
            }
            common = all;
        }
        if (!common) {
            out->error_code = WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL;
            goto reply;
        }
    }
    int64_t now = weir_clock_ns();
    struct gmember *m = NULL;
    bool fresh = false;
    struct gmember *s = member_find_instance(g, jr->group_instance_id); /* a static member's current self */
    if (new_member) {
        char *id = member_id_new(gc, r, kstr_is_null(jr->group_instance_id) ? op->client_id : jr->group_instance_id);
        if (s) {
            join_static_replace(r, g, s, id, op, now);
            return;
        }
        /* Kafka's acceptJoiningMember: no new member past group.max.size (nor
         * an id handed out for one); one that replaces itself (s) may join. */
        if (!join_room(gc, g, op->version >= 4 && kstr_is_null(jr->group_instance_id))) {
            weir_free(id);
            out->error_code = LIMIT_GROUP_FULL;
            goto reply;
        }
        if (op->version >= 4 && kstr_is_null(jr->group_instance_id)) {
            struct gpending *p = weir_calloc(1, sizeof *p);
            if (!p) weir_panic("out of memory in the group coordinator");
            p->id = id;
            p->deadline_ns = now + (int64_t)jr->session_timeout_ms * 1000000;
            group_timer(gc, p->deadline_ns);
            p->next = g->pending;
            g->pending = p;
            g->n_pending++;
            out->member_id = group_resp_kstr(&req->arena, id);
            out->error_code = WEIR_KERR_MEMBER_ID_REQUIRED;
            goto reply;
        }
        m = weir_calloc(1, sizeof *m);
        if (!m) weir_panic("out of memory in the group coordinator");
        m->id = id;
        fresh = true;
    } else if (s && !seq(s->id, jr->member_id)) {
        out->error_code = WEIR_KERR_FENCED_INSTANCE_ID; /* another process took this instance id */
        goto reply;
    } else {
        m = member_find(g, jr->member_id);
        if (!m) {
            struct gpending **pp = &g->pending;
            while (*pp && !seq((*pp)->id, jr->member_id)) pp = &(*pp)->next;
            if (!*pp) {
                out->error_code = WEIR_KERR_UNKNOWN_MEMBER_ID;
                goto reply;
            }
            struct gpending *p = *pp;
            *pp = p->next;
            g->n_pending--;
            if (!join_room(gc, g, false)) { /* its id goes: the client gives up on 81 */
                weir_free(p->id), weir_free(p);
                out->error_code = LIMIT_GROUP_FULL;
                goto reply;
            }
            m = weir_calloc(1, sizeof *m);
            if (!m) weir_panic("out of memory in the group coordinator");
            m->id = p->id;
            weir_free(p);
            fresh = true;
        } else if (!kstr_is_null(jr->group_instance_id) && !s) {
            out->error_code = WEIR_KERR_UNKNOWN_MEMBER_ID; /* a member id with an instance id the group does not know */
            goto reply;
        } else if (m->join_wait) {
            /* A retried join replaces the held one. */
            m->join_wait->out.join.error_code = WEIR_KERR_UNKNOWN_MEMBER_ID;
            group_op_reply(r, m->join_wait);
            m->join_wait = NULL;
        } else if ((g->state == G_STABLE || g->state == G_COMPLETING) && member_same_protocols(m, jr) &&
                   !(g->state == G_STABLE && g->leader && !strcmp(g->leader, m->id))) {
            /* Nothing changed: the current generation stands (Kafka does the same). */
            m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
            group_timer(gc, m->hb_deadline_ns);
            join_answer(op, g, m);
            goto reply;
        }
    }
    if (fresh) member_link(g, m);
    if (fresh && !kstr_is_null(jr->group_instance_id)) m->instance_id = group_kdup(jr->group_instance_id); /* not held (s) */
    member_set_protocols(m, jr);
    weir_free(m->client_id), m->client_id = group_kdup(op->client_id);
    weir_free(m->client_host), m->client_host = group_kdup(op->client_host);
    if (!g->protocol_type) g->protocol_type = group_kdup(jr->protocol_type);
    m->join_wait = op;
    m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
    group_timer(gc, m->hb_deadline_ns);
    group_prepare_rebalance(r, g);
    group_try_complete_join(r, g, now);
    return;
reply:
    if (created) group_maybe_free(gc, g); /* a refused join leaves no group behind */
    group_op_reply(r, op);
}

/* A member's assignment, and (v5+) the group's protocol type and name. */
static void sync_answer(struct gop *op, const struct group *g, const struct gmember *m)
{
    struct weir_arena *a = &op->pt.req->arena;
    op->out.sync.assignment = group_resp_bytes(a, m->assign, m->assign_len);
    op->out.sync.protocol_type = group_resp_kstr(a, g->protocol_type);
    op->out.sync.protocol_name = group_resp_kstr(a, g->protocol);
}

void group_sync(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct ksyncgroup_req *sr = &op->in.sync;
    struct ksyncgroup_resp *out = &op->out.sync;
    *out = (struct ksyncgroup_resp){ .assignment = { NULL, 0 } };
    struct group *g = group_find(gc, sr->group_id);
    struct gmember *m;
    int16_t code = group_member_check(g, sr->member_id, sr->group_instance_id, &m);
    if (sr->group_id.len <= 0) out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    else if (code) out->error_code = code;
    else if (sr->generation_id != g->generation) out->error_code = WEIR_KERR_ILLEGAL_GENERATION;
    /* v5+ (KIP-559): what the member names must be what the group chose */
    else if (!kstr_is_null(sr->protocol_type) && !seq(g->protocol_type, sr->protocol_type))
        out->error_code = WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    else if (!kstr_is_null(sr->protocol_name) && !seq(g->protocol, sr->protocol_name))
        out->error_code = WEIR_KERR_INCONSISTENT_GROUP_PROTOCOL;
    else if (g->state == G_PREPARING) out->error_code = WEIR_KERR_REBALANCE_IN_PROGRESS;
    else if (g->state == G_STABLE) sync_answer(op, g, m);
    if (out->error_code || g->state == G_STABLE) {
        group_op_reply(r, op);
        return;
    }
    /* CompletingRebalance: hold until the leader's assignment arrives. */
    if (m->sync_wait) m->sync_wait->out.sync.error_code = WEIR_KERR_REBALANCE_IN_PROGRESS, group_op_reply(r, m->sync_wait);
    m->sync_wait = op;
    m->hb_deadline_ns = weir_clock_ns() + (int64_t)m->session_ms * 1000000;
    if (!g->leader || strcmp(g->leader, m->id)) return;
    for (int32_t i = 0; i < sr->n_assignments; i++) {
        struct gmember *t = member_find(g, sr->assignments[i].member_id);
        if (!t) continue;
        weir_free(t->assign);
        t->assign = bdup(sr->assignments[i].assignment);
        t->assign_len = WEIR_MAX(sr->assignments[i].assignment.len, 0);
    }
    group_set_state(g, G_STABLE);
    weir_log(WEIR_LOG_INFO, "group %s: stable at generation %d", g->id, g->generation);
    for (struct gmember *o = g->members; o; o = o->next)
        if (o->sync_wait) {
            sync_answer(o->sync_wait, g, o);
            group_op_reply(r, o->sync_wait);
            o->sync_wait = NULL;
        }
    group_check(NULL, g);
}

void group_heartbeat(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct kheartbeat_req *hr = &op->in.hb;
    struct kheartbeat_resp *out = &op->out.hb;
    *out = (struct kheartbeat_resp){ 0 };
    struct group *g = group_find(gc, hr->group_id);
    struct gmember *m;
    int16_t code = group_member_check(g, hr->member_id, hr->group_instance_id, &m);
    if (hr->group_id.len <= 0) out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    else if (code) out->error_code = code;
    else if (hr->generation_id != g->generation) out->error_code = WEIR_KERR_ILLEGAL_GENERATION;
    else if (g->state == G_PREPARING) out->error_code = WEIR_KERR_REBALANCE_IN_PROGRESS;
    if (m)
        m->hb_deadline_ns = weir_clock_ns() + (int64_t)m->session_ms * 1000000;
    group_op_reply(r, op);
}

void group_leave(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    struct kleavegroup_req *lr = &op->in.leave;
    struct kleavegroup_resp *out = &op->out.leave;
    *out = (struct kleavegroup_resp){ .members = lr->members, .n_members = lr->n_members };
    struct group *g = group_find(gc, lr->group_id);
    bool removed = false;
    for (int32_t i = 0; i < lr->n_members; i++) {
        struct kleavegroup_member *lm = &lr->members[i];
        struct gmember *m = NULL;
        /* An empty member id names a static member by its instance id (an admin removal). */
        if (lm->member_id.len <= 0) m = g ? member_find_instance(g, lm->group_instance_id) : NULL;
        lm->error_code = lm->member_id.len <= 0 ? (m ? 0 : WEIR_KERR_UNKNOWN_MEMBER_ID)
                                                : group_member_check(g, lm->member_id, lm->group_instance_id, &m);
        if (m) {
            weir_log(WEIR_LOG_INFO, "group %s: member %s%s%s left", g->id, m->id, m->instance_id ? " instance " : "",
                     m->instance_id ? m->instance_id : "");
            group_member_remove(r, g, m, WEIR_KERR_UNKNOWN_MEMBER_ID);
            removed = true;
        }
    }
    if (lr->group_id.len <= 0) out->error_code = WEIR_KERR_INVALID_GROUP_ID;
    else if (op->version < 3 && lr->n_members == 1) out->error_code = lr->members[0].error_code;
    if (removed) {
        group_prepare_rebalance(r, g);
        group_try_complete_join(r, g, weir_clock_ns());
    }
    group_op_reply(r, op);
}

/* ---- partitions added to a subscribed topic ------------------------------------------ */

struct grow_state {
    int remaining;
    char **topics;
    int32_t n_topics;
    void (*done)(struct request *req, void *ctx);
    void *ctx;
    struct ptask slots[GROUP_OFFSETS_PARTITIONS];
};

/* Does ConsumerProtocolSubscription metadata (i16 version, topics []string,
 * then fields we do not need) name `one`, or one of `topics` (one null)?
 * 1 yes, 0 no, -1 malformed. */
static int subscription_names(const uint8_t *meta, int32_t len, char *const *topics, int32_t n, struct kstr one)
{
    struct weir_rd rd = weir_rd_make(meta, (size_t)WEIR_MAX(len, 0));
    int16_t version = weir_rd_i16(&rd);
    int32_t count = weir_rd_i32(&rd);
    if (rd.err || version < 0 || count < 0 || (uint64_t)count > weir_rd_left(&rd) / 2) return -1;
    bool hit = false;
    for (int32_t i = 0; i < count; i++) {
        struct kstr t = group_get_str(&rd);
        if (rd.err || kstr_is_null(t)) return -1;
        hit = hit || (one.len >= 0 && t.len == one.len && (!t.len || !memcmp(t.ptr, one.ptr, (size_t)t.len)));
        for (int32_t j = 0; j < n && !hit; j++) hit = kstr_eq(t, topics[j]);
    }
    return hit;
}

/* Malformed metadata: not subscribed (a rebalance it does not need is not forced). */
static bool subscribes(const uint8_t *meta, int32_t len, char *const *topics, int32_t n)
{
    return subscription_names(meta, len, topics, n, KSTR_NULL) == 1;
}

bool group_subscribed(const struct group *g, struct kstr topic)
{
    if (!g->protocol) return true; /* no chosen protocol: Kafka's subscribedTopics is None */
    for (const struct gmember *m = g->members; m; m = m->next) {
        const struct gproto *p = group_member_proto(m, g->protocol);
        if (!p || subscription_names(p->meta, p->len, NULL, 0, topic) != 0) return true;
    }
    return false;
}

static void grow_owner(struct reactor *r, struct ptask *pt)
{
    struct grow_state *st = pt->ctx;
    struct gcoord *gc = group_coord_of(r);
    /* Members exist only in loaded partitions: no need to replay one here. */
    for (struct group *g = gc->loaded[pt->partition] ? gc->groups : NULL; g; g = g->next) {
        if (group_partition(kstr_c(g->id)) != pt->partition || (g->state != G_STABLE && g->state != G_COMPLETING) ||
            !g->protocol || !g->protocol_type || strcmp(g->protocol_type, "consumer"))
            continue;
        for (struct gmember *m = g->members; m; m = m->next) {
            const struct gproto *p = group_member_proto(m, g->protocol);
            if (!p || !subscribes(p->meta, p->len, st->topics, st->n_topics)) continue;
            weir_log(WEIR_LOG_INFO, "group %s: a subscribed topic gained partitions", g->id);
            group_prepare_rebalance(r, g);
            break;
        }
    }
    ptask_reply(r, pt);
}

static void grow_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct grow_state *st = pt->ctx;
    if (--st->remaining == 0) st->done(pt->req, st->ctx);
}

void groups_partitions_grown(struct request *req, char **topics, int32_t n,
                             void (*done)(struct request *req, void *ctx), void *ctx)
{
    struct grow_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    if (!st) { /* members still see the new partitions at their next metadata refresh */
        done(req, ctx);
        return;
    }
    *st = (struct grow_state){ .remaining = GROUP_OFFSETS_PARTITIONS, .topics = topics, .n_topics = n,
                               .done = done, .ctx = ctx };
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) {
        st->slots[p] = (struct ptask){ .req = req, .topic = GROUP_OFFSETS_TOPIC, .partition = p,
                                       .on_owner = grow_owner, .on_origin = grow_origin, .ctx = st };
        ptask_send(&st->slots[p]);
    }
}
