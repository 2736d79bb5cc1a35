/* net/group.c: the group coordinator (classic protocol) and committed offsets.
 *
 * Group g belongs to partition fnv1a(g) % GROUP_OFFSETS_PARTITIONS of the
 * internal topic __consumer_offsets, and so to that partition's owner reactor
 * (reactor_owner): requests travel there as ptasks, the owner alone touches the
 * group's state and appends its commits to the same partition's log. A
 * JoinGroup or SyncGroup that must wait is held on the owner (its ptask is not
 * answered) until the rebalance completes; each turn the owner runs the
 * session and rebalance timers, offsets expiry and compaction (groups_tick).
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
 * FENCED_INSTANCE_ID (member_check, Kafka's validateCurrentMember).
 *
 * The offsets log. Record (our format, versioned): key = u8 1, i16+group,
 * i16+topic, i32 partition; value = i16 0, i64 offset, i32 leader epoch,
 * i16+metadata (-1 null), i64 commit timestamp ms; a null value is a tombstone
 * (DeleteGroups, offsets expiry): the key is gone. flush.messages=1: a write
 * is answered only after its append and fdatasync. Invariants:
 *  (1) memory = the replay of the log: every change to committed offsets is
 *      a record, applied to memory when its append completes, and appends
 *      complete in log order (last record per key wins, tombstones delete).
 *  (2) a group with a write in flight (writes > 0) is never freed.
 *  (3) compaction of partition p: once it is wanted, new writes to p are held;
 *      when p has no write in flight (so memory = the durable log), the
 *      active segment is rolled, the live set is appended there (a
 *      "snapshot", values as they are), the held writes resume after it; once
 *      the snapshot is durable, the whole segments below it are deleted,
 *      oldest first. A crash at any point leaves old records followed by a
 *      full or partial snapshot of the same values, or the snapshot alone:
 *      the replay is the same, and no acknowledged commit is lost.
 * On first use of an offsets partition its owner replays its log. */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>

enum {
    KERR_MESSAGE_TOO_LARGE_G = 10, KERR_OFFSET_METADATA_TOO_LARGE = 12, KERR_COORDINATOR_NOT_AVAILABLE_G = 15,
    KERR_ILLEGAL_GENERATION = 22, KERR_INCONSISTENT_GROUP_PROTOCOL = 23, KERR_INVALID_GROUP_ID = 24,
    KERR_UNKNOWN_MEMBER_ID = 25, KERR_INVALID_SESSION_TIMEOUT = 26, KERR_REBALANCE_IN_PROGRESS = 27,
    KERR_NON_EMPTY_GROUP = 68, KERR_GROUP_ID_NOT_FOUND = 69, KERR_MEMBER_ID_REQUIRED = 79,
    KERR_FENCED_INSTANCE_ID = 82,
};
enum {
    GROUP_INITIAL_DELAY_MS = 3000, SESSION_MIN_MS = 6000, SESSION_MAX_MS = 1800000,
    METADATA_MAX = 4096,            /* OffsetCommit metadata, else 12 (Kafka's offset.metadata.max.bytes) */
    JOIN_METADATA_MAX = 1 << 20,    /* a member's protocol metadata, all protocols: else 10 (see do_join) */
    OFFSETS_BATCH_BYTES = 256 << 10, /* records per batch of a snapshot or of tombstones */
};
enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE };

enum gop_kind { GOP_JOIN, GOP_SYNC, GOP_HB, GOP_LEAVE, GOP_COMMIT, GOP_FETCH };

/* A write to an offsets partition waiting for its compaction to start (3). */
struct gheld {
    struct gheld *next;
    void (*resume)(struct reactor *r, struct gheld *h);
};

/* DescribeGroups, DeleteGroups and ListGroups fan out: one slot per group or
 * per offsets partition (ListGroups); the last answer encodes the response. */
struct ginfo_state {
    int remaining;
    struct kdescribegroups_req dr; /* DescribeGroups' and DeleteGroups' names */
    struct kdescribegroups_group *described;
    struct kdeletegroups_result *deleted;
    struct klistgroups_group *listed[GROUP_OFFSETS_PARTITIONS];
    int32_t n_listed[GROUP_OFFSETS_PARTITIONS];
    int16_t list_error;
};
struct ginfo_slot {
    struct ptask pt;
    struct ginfo_state *st;
    int32_t index; /* group index (DescribeGroups, DeleteGroups) */
    struct gheld held;
};


struct gop {
    struct ptask pt;
    enum gop_kind kind;
    int16_t version;
    struct kstr client_id;
    struct kstr client_host;
    union {
        struct kjoingroup_req join;
        struct ksyncgroup_req sync;
        struct kheartbeat_req hb;
        struct kleavegroup_req leave;
        struct koffsetcommit_req commit;
        struct koffsetfetch_req fetch;
    } in;
    union {
        struct kjoingroup_resp join;
        struct ksyncgroup_resp sync;
        struct kheartbeat_resp hb;
        struct kleavegroup_resp leave;
        struct koffsetcommit_resp commit;
        struct koffsetfetch_resp fetch;
    } out;
    /* commit in flight */
    struct reactor *owner;
    struct weir_append app;
    uint8_t *batch;
    int64_t commit_ts;
    struct gheld held;
};

struct gproto {
    char *name;
    uint8_t *meta;
    int32_t len;
};
struct gmember {
    char *id, *instance_id, *client_id, *client_host;
    int32_t session_ms, rebalance_ms;
    struct gproto *protos;
    int32_t n_protos;
    uint8_t *assign;
    int32_t assign_len;
    int64_t hb_deadline_ns;
    struct gop *join_wait, *sync_wait;
    struct gmember *next;
};
struct gpending {
    char *id;
    int64_t deadline_ns;
    struct gpending *next;
};
struct goffset {
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t epoch;
    char *meta; /* NULL = null */
    int64_t ts;
    struct goffset *next;
};
struct group {
    char *id;
    enum gstate state;
    int32_t generation;
    char *protocol_type, *protocol, *leader;
    struct gmember *members;
    struct gpending *pending;
    int64_t rebalance_deadline_ns;
    bool initial;      /* first rebalance of an empty group: wait the whole delay */
    int64_t empty_since_ms; /* wall time it last became Empty; 0 = not since the start */
    int32_t writes;    /* its records being appended (2) */
    struct goffset *offsets;
    struct group *next;
};
struct gcoord {
    struct group *groups;
    bool loaded[GROUP_OFFSETS_PARTITIONS];
    uint64_t member_seq;
    /* per offsets partition, on its owner */
    int64_t n_live[GROUP_OFFSETS_PARTITIONS];   /* committed offsets in memory */
    int32_t inflight[GROUP_OFFSETS_PARTITIONS]; /* our appends not completed */
    bool compact_wanted[GROUP_OFFSETS_PARTITIONS];
    bool compacting[GROUP_OFFSETS_PARTITIONS];  /* a snapshot is being written */
    struct gheld *held[GROUP_OFFSETS_PARTITIONS], **held_tail[GROUP_OFFSETS_PARTITIONS];
    int64_t next_expire_ms;
};

/* ---- helpers ---------------------------------------------------------------------- */

static char *kdup(struct kstr s)
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
static struct kstr arena_kstr(struct request *req, const char *s)
{
    if (!s) return KSTR_NULL;
    char *d = arena_strdup(&req->arena, kstr_c(s));
    return d ? kstr_c(d) : kstr_c("");
}
static struct kbytes arena_bytes(struct request *req, const uint8_t *p, int32_t n)
{
    if (n <= 0) return (struct kbytes){ NULL, 0 };
    uint8_t *d = weir_arena_alloc(&req->arena, (size_t)n);
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

static struct gcoord *gc_of(struct reactor *r)
{
    if (!r->groups) {
        r->groups = weir_calloc(1, sizeof(struct gcoord));
        if (!r->groups) weir_panic("out of memory in the group coordinator");
    }
    return r->groups;
}

static struct group *group_find(struct gcoord *gc, struct kstr id)
{
    for (struct group *g = gc->groups; g; g = g->next)
        if (seq(g->id, id)) return g;
    return NULL;
}
static struct group *group_get(struct gcoord *gc, struct kstr id)
{
    struct group *g = group_find(gc, id);
    if (g) return g;
    g = weir_calloc(1, sizeof *g);
    if (!g) weir_panic("out of memory in the group coordinator");
    g->id = kdup(id);
    g->next = gc->groups;
    gc->groups = g;
    return g;
}
static struct gmember *member_find(struct group *g, struct kstr id)
{
    for (struct gmember *m = g->members; m; m = m->next)
        if (seq(m->id, id)) return m;
    return NULL;
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
static int16_t member_check(struct group *g, struct kstr member_id, struct kstr instance_id, struct gmember **out)
{
    *out = NULL;
    if (!g) return KERR_UNKNOWN_MEMBER_ID;
    if (!kstr_is_null(instance_id)) {
        struct gmember *s = member_find_instance(g, instance_id);
        if (!s) return KERR_UNKNOWN_MEMBER_ID;
        if (!seq(s->id, member_id)) return KERR_FENCED_INSTANCE_ID;
        *out = s;
        return 0;
    }
    *out = member_find(g, member_id);
    return *out ? 0 : KERR_UNKNOWN_MEMBER_ID;
}
static void member_free(struct gmember *m)
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
        m->protos[i] = (struct gproto){ kdup(jr->protocols[i].name), bdup(jr->protocols[i].metadata),
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
static const struct gproto *member_proto(const struct gmember *m, const char *name)
{
    for (int32_t i = 0; i < m->n_protos; i++)
        if (!strcmp(m->protos[i].name, name)) return &m->protos[i];
    return NULL;
}
static int32_t member_count(const struct group *g)
{
    int32_t n = 0;
    for (struct gmember *m = g->members; m; m = m->next) n++;
    return n;
}

static void gop_reply(struct reactor *r, struct gop *op) { ptask_reply(r, &op->pt); }

/* ---- the state machine ------------------------------------------------------------- */

static void sync_fail_all(struct reactor *r, struct group *g, int16_t code)
{
    for (struct gmember *m = g->members; m; m = m->next)
        if (m->sync_wait) {
            m->sync_wait->out.sync.error_code = code;
            gop_reply(r, m->sync_wait);
            m->sync_wait = NULL;
        }
}

static void prepare_rebalance(struct reactor *r, struct group *g)
{
    if (g->state == G_PREPARING) return;
    if (g->state == G_COMPLETING) sync_fail_all(r, g, KERR_REBALANCE_IN_PROGRESS);
    int32_t timeout = 0;
    for (struct gmember *m = g->members; m; m = m->next) timeout = WEIR_MAX(timeout, m->rebalance_ms);
    g->initial = g->state == G_EMPTY;
    if (g->initial) timeout = WEIR_MIN(timeout, GROUP_INITIAL_DELAY_MS);
    g->state = G_PREPARING;
    g->rebalance_deadline_ns = weir_clock_ns() + (int64_t)timeout * 1000000;
    weir_log(WEIR_LOG_INFO, "group %s: preparing rebalance (generation %d)", g->id, g->generation);
}

static void member_remove(struct reactor *r, struct group *g, struct gmember *m, int16_t code)
{
    struct gmember **pp = &g->members;
    while (*pp != m) pp = &(*pp)->next;
    *pp = m->next;
    if (m->join_wait) m->join_wait->out.join.error_code = code, gop_reply(r, m->join_wait);
    if (m->sync_wait) m->sync_wait->out.sync.error_code = code, gop_reply(r, m->sync_wait);
    if (g->leader && !strcmp(g->leader, m->id)) weir_free(g->leader), g->leader = NULL;
    member_free(m);
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
        for (const struct gmember *m = g->members; m && all; m = m->next) all = member_proto(m, cand) != NULL;
        if (!all) continue;
        int votes = 0;
        for (const struct gmember *m = g->members; m; m = m->next)
            for (int32_t j = 0; j < m->n_protos; j++) {
                bool cand_all = true;
                for (const struct gmember *o = g->members; o && cand_all; o = o->next)
                    cand_all = member_proto(o, m->protos[j].name) != NULL;
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
    out->protocol_name = arena_kstr(req, g->protocol ? g->protocol : "");
    out->leader = arena_kstr(req, g->leader ? g->leader : "");
    out->member_id = arena_kstr(req, m->id);
    out->n_members = 0;
    if (g->leader && !strcmp(g->leader, m->id)) {
        int32_t n = member_count(g);
        struct kjoingroup_member *ms = weir_arena_alloc(&req->arena, (size_t)n * sizeof *ms);
        for (struct gmember *o = g->members; ms && o; o = o->next) {
            const struct gproto *p = member_proto(o, g->protocol);
            ms[out->n_members++] = (struct kjoingroup_member){
                .member_id = arena_kstr(req, o->id), .group_instance_id = arena_kstr(req, o->instance_id),
                .metadata = p ? arena_bytes(req, p->meta, p->len) : (struct kbytes){ NULL, 0 } };
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

static void try_complete_join(struct reactor *r, struct group *g, int64_t now_ns)
{
    if (g->state != G_PREPARING) return;
    bool due = now_ns >= g->rebalance_deadline_ns;
    if (!due && (g->initial || !all_joined(g))) return;
    /* Members that did not rejoin in time are removed. */
    for (struct gmember *m = g->members, *next; m; m = next) {
        next = m->next;
        if (!m->join_wait) member_remove(r, g, m, KERR_UNKNOWN_MEMBER_ID);
    }
    g->generation++;
    weir_free(g->protocol), g->protocol = NULL;
    if (!g->members) {
        g->state = G_EMPTY;
        g->empty_since_ms = weir_time_ms(); /* offsets expire retention after this (Kafka 2.1+) */
        weir_free(g->protocol_type), g->protocol_type = NULL;
        weir_log(WEIR_LOG_INFO, "group %s: empty at generation %d", g->id, g->generation);
        return;
    }
    const char *p = select_protocol(g);
    g->protocol = kdup(kstr_c(p ? p : ""));
    if (!g->leader) g->leader = kdup(kstr_c(g->members->id));
    g->state = G_COMPLETING;
    weir_log(WEIR_LOG_INFO, "group %s: generation %d with %d members, protocol %s, leader %s", g->id, g->generation,
             member_count(g), g->protocol, g->leader);
    for (struct gmember *m = g->members; m; m = m->next) {
        weir_free(m->assign), m->assign = NULL, m->assign_len = 0;
        m->hb_deadline_ns = now_ns + (int64_t)m->session_ms * 1000000;
        join_answer(m->join_wait, g, m);
        gop_reply(r, m->join_wait);
        m->join_wait = NULL;
    }
}

/* A fresh member id, prefixed with the instance id of a static member (as
 * Kafka does), else with the client id. */
static char *member_id_new(struct gcoord *gc, struct reactor *r, struct kstr prefix)
{
    char id[400];
    snprintf(id, sizeof id, "%.*s-%08" PRIx64 "-%u-%" PRIu64, prefix.len > 0 ? (int)WEIR_MIN(prefix.len, 200) : 0,
             prefix.ptr ? prefix.ptr : "", (uint64_t)weir_clock_ns(), r->id, ++gc->member_seq);
    return kdup(kstr_c(id));
}

/* A static member restarting: JoinGroup with an empty member id and the
 * instance id of member m. m's id becomes `id` (owned; a held join or sync of
 * the old id gets 82; the leader follows), its assignment stays. Stable with
 * unchanged protocols: the current generation is answered at once, with the
 * leader as it was before (so a restarted leader does not reassign; Kafka's
 * JoinGroup < v9), and no rebalance. Otherwise the member waits in the join
 * of a rebalance (started in Stable and CompletingRebalance, whose assignment
 * named the old id). Kafka's updateStaticMemberAndRebalance. */
static void join_static_replace(struct reactor *r, struct group *g, struct gmember *m, char *id, struct gop *op,
                                int64_t now)
{
    const struct kjoingroup_req *jr = &op->in.join;
    WEIR_ASSERT(g->state != G_EMPTY); /* a group with members is never Empty */
    if (m->join_wait) m->join_wait->out.join.error_code = KERR_FENCED_INSTANCE_ID, gop_reply(r, m->join_wait);
    if (m->sync_wait) m->sync_wait->out.sync.error_code = KERR_FENCED_INSTANCE_ID, gop_reply(r, m->sync_wait);
    m->join_wait = m->sync_wait = NULL;
    struct kstr leader_before = arena_kstr(op->pt.req, g->leader ? g->leader : "");
    weir_log(WEIR_LOG_INFO, "group %s: static member %s rejoins: member id %s replaced by %s", g->id, m->instance_id,
             m->id, id);
    if (g->leader && !strcmp(g->leader, m->id)) weir_free(g->leader), g->leader = kdup(kstr_c(id));
    weir_free(m->id), m->id = id;
    bool same = member_same_protocols(m, jr);
    member_set_protocols(m, jr);
    weir_free(m->client_id), m->client_id = kdup(op->client_id);
    weir_free(m->client_host), m->client_host = kdup(op->client_host);
    m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
    const char *p = same && g->state == G_STABLE && g->protocol ? select_protocol(g) : NULL;
    if (p && !strcmp(p, g->protocol)) {
        struct request *req = op->pt.req;
        op->out.join = (struct kjoingroup_resp){ .generation_id = g->generation, .leader = leader_before,
                                                 .protocol_name = arena_kstr(req, g->protocol),
                                                 .member_id = arena_kstr(req, m->id) };
        gop_reply(r, op);
        return;
    }
    m->join_wait = op;
    prepare_rebalance(r, g); /* CompletingRebalance: the others' held syncs get 27 */
    try_complete_join(r, g, now);
}

static void do_join(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct kjoingroup_req *jr = &op->in.join;
    struct kjoingroup_resp *out = &op->out.join;
    struct request *req = op->pt.req;
    *out = (struct kjoingroup_resp){ .generation_id = -1, .protocol_name = kstr_c(""), .leader = kstr_c(""),
                                     .member_id = jr->member_id };
    if (jr->group_id.len <= 0) {
        out->error_code = KERR_INVALID_GROUP_ID;
        goto reply;
    }
    if (jr->session_timeout_ms < SESSION_MIN_MS || jr->session_timeout_ms > SESSION_MAX_MS) {
        out->error_code = KERR_INVALID_SESSION_TIMEOUT;
        goto reply;
    }
    /* Kafka bounds a group's metadata only when it fails to store it (UNKNOWN_SERVER_ERROR at
     * SyncGroup past max.message.bytes); weir refuses an oversize member up front. */
    int64_t meta_bytes = 0;
    for (int32_t i = 0; i < jr->n_protocols; i++) meta_bytes += WEIR_MAX(jr->protocols[i].metadata.len, 0);
    if (meta_bytes > JOIN_METADATA_MAX) {
        out->error_code = KERR_MESSAGE_TOO_LARGE_G;
        goto reply;
    }
    struct group *g = group_find(gc, jr->group_id);
    bool new_member = jr->member_id.len <= 0;
    if (!g && !new_member) {
        out->error_code = KERR_UNKNOWN_MEMBER_ID;
        goto reply;
    }
    if (!g) g = group_get(gc, jr->group_id);
    /* The protocol type and at least one protocol must match the group's. */
    if (jr->n_protocols <= 0 || jr->protocol_type.len <= 0 ||
        (g->members && g->protocol_type && !seq(g->protocol_type, jr->protocol_type))) {
        out->error_code = KERR_INCONSISTENT_GROUP_PROTOCOL;
        goto reply;
    }
    if (g->members) {
        bool common = false;
        for (int32_t i = 0; i < jr->n_protocols && !common; i++) {
            bool all = true;
            for (struct gmember *m = g->members; m && all; m = m->next)
                {
                bool has = false;
                for (int32_t j = 0; j < m->n_protos && !has; j++) has = seq(m->protos[j].name, jr->protocols[i].name);
                all = seq(m->id, jr->member_id) || has;
            }
            common = all;
        }
        if (!common) {
            out->error_code = KERR_INCONSISTENT_GROUP_PROTOCOL;
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
        if (op->version >= 4 && kstr_is_null(jr->group_instance_id)) {
            struct gpending *p = weir_calloc(1, sizeof *p);
            if (!p) weir_panic("out of memory in the group coordinator");
            p->id = id;
            p->deadline_ns = now + (int64_t)jr->session_timeout_ms * 1000000;
            p->next = g->pending;
            g->pending = p;
            out->member_id = arena_kstr(req, id);
            out->error_code = KERR_MEMBER_ID_REQUIRED;
            goto reply;
        }
        m = weir_calloc(1, sizeof *m);
        if (!m) weir_panic("out of memory in the group coordinator");
        m->id = id;
        fresh = true;
    } else if (s && !seq(s->id, jr->member_id)) {
        out->error_code = KERR_FENCED_INSTANCE_ID; /* another process took this instance id */
        goto reply;
    } else {
        m = member_find(g, jr->member_id);
        if (!m) {
            struct gpending **pp = &g->pending;
            while (*pp && !seq((*pp)->id, jr->member_id)) pp = &(*pp)->next;
            if (!*pp) {
                out->error_code = KERR_UNKNOWN_MEMBER_ID;
                goto reply;
            }
            struct gpending *p = *pp;
            *pp = p->next;
            m = weir_calloc(1, sizeof *m);
            if (!m) weir_panic("out of memory in the group coordinator");
            m->id = p->id;
            weir_free(p);
            fresh = true;
        } else if (!kstr_is_null(jr->group_instance_id) && !s) {
            out->error_code = KERR_UNKNOWN_MEMBER_ID; /* a member id with an instance id the group does not know */
            goto reply;
        } else if (m->join_wait) {
            /* A retried join replaces the held one. */
            m->join_wait->out.join.error_code = KERR_UNKNOWN_MEMBER_ID;
            gop_reply(r, m->join_wait);
            m->join_wait = NULL;
        } else if ((g->state == G_STABLE || g->state == G_COMPLETING) && member_same_protocols(m, jr) &&
                   !(g->state == G_STABLE && g->leader && !strcmp(g->leader, m->id))) {
            /* Nothing changed: the current generation stands (Kafka does the same). */
            m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
            join_answer(op, g, m);
            goto reply;
        }
    }
    if (fresh) {
        m->next = g->members;
        g->members = m;
    }
    if (fresh && !kstr_is_null(jr->group_instance_id)) m->instance_id = kdup(jr->group_instance_id); /* not held (s) */
    member_set_protocols(m, jr);
    weir_free(m->client_id), m->client_id = kdup(op->client_id);
    weir_free(m->client_host), m->client_host = kdup(op->client_host);
    if (!g->protocol_type) g->protocol_type = kdup(jr->protocol_type);
    m->join_wait = op;
    m->hb_deadline_ns = now + (int64_t)m->session_ms * 1000000;
    prepare_rebalance(r, g);
    try_complete_join(r, g, now);
    return;
reply:
    gop_reply(r, op);
}

static void do_sync(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct ksyncgroup_req *sr = &op->in.sync;
    struct ksyncgroup_resp *out = &op->out.sync;
    *out = (struct ksyncgroup_resp){ .assignment = { NULL, 0 } };
    struct group *g = group_find(gc, sr->group_id);
    struct gmember *m;
    int16_t code = member_check(g, sr->member_id, sr->group_instance_id, &m);
    if (sr->group_id.len <= 0) out->error_code = KERR_INVALID_GROUP_ID;
    else if (code) out->error_code = code;
    else if (sr->generation_id != g->generation) out->error_code = KERR_ILLEGAL_GENERATION;
    else if (g->state == G_PREPARING) out->error_code = KERR_REBALANCE_IN_PROGRESS;
    else if (g->state == G_STABLE) out->assignment = arena_bytes(op->pt.req, m->assign, m->assign_len);
    if (out->error_code || g->state == G_STABLE) {
        gop_reply(r, op);
        return;
    }
    /* CompletingRebalance: hold until the leader's assignment arrives. */
    if (m->sync_wait) m->sync_wait->out.sync.error_code = KERR_REBALANCE_IN_PROGRESS, gop_reply(r, m->sync_wait);
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
    g->state = G_STABLE;
    weir_log(WEIR_LOG_INFO, "group %s: stable at generation %d", g->id, g->generation);
    for (struct gmember *o = g->members; o; o = o->next)
        if (o->sync_wait) {
            o->sync_wait->out.sync.assignment = arena_bytes(o->sync_wait->pt.req, o->assign, o->assign_len);
            gop_reply(r, o->sync_wait);
            o->sync_wait = NULL;
        }
}

static void do_heartbeat(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct kheartbeat_req *hr = &op->in.hb;
    struct kheartbeat_resp *out = &op->out.hb;
    *out = (struct kheartbeat_resp){ 0 };
    struct group *g = group_find(gc, hr->group_id);
    struct gmember *m;
    int16_t code = member_check(g, hr->member_id, hr->group_instance_id, &m);
    if (hr->group_id.len <= 0) out->error_code = KERR_INVALID_GROUP_ID;
    else if (code) out->error_code = code;
    else if (hr->generation_id != g->generation) out->error_code = KERR_ILLEGAL_GENERATION;
    else if (g->state == G_PREPARING) out->error_code = KERR_REBALANCE_IN_PROGRESS;
    if (m)
        m->hb_deadline_ns = weir_clock_ns() + (int64_t)m->session_ms * 1000000;
    gop_reply(r, op);
}

static void do_leave(struct reactor *r, struct gcoord *gc, struct gop *op)
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
        lm->error_code = lm->member_id.len <= 0 ? (m ? 0 : KERR_UNKNOWN_MEMBER_ID)
                                                : member_check(g, lm->member_id, lm->group_instance_id, &m);
        if (m) {
            weir_log(WEIR_LOG_INFO, "group %s: member %s%s%s left", g->id, m->id, m->instance_id ? " instance " : "",
                     m->instance_id ? m->instance_id : "");
            member_remove(r, g, m, KERR_UNKNOWN_MEMBER_ID);
            removed = true;
        }
    }
    if (lr->group_id.len <= 0) out->error_code = KERR_INVALID_GROUP_ID;
    else if (op->version < 3 && lr->n_members == 1) out->error_code = lr->members[0].error_code;
    if (removed) {
        prepare_rebalance(r, g);
        try_complete_join(r, g, weir_clock_ns());
    }
    gop_reply(r, op);
}

/* ---- offsets --------------------------------------------------------------------------- */

static struct goffset *offset_find(struct group *g, const char *topic, size_t tlen, int32_t partition)
{
    for (struct goffset *o = g->offsets; o; o = o->next)
        if (o->partition == partition && strlen(o->topic) == tlen && !memcmp(o->topic, topic, tlen)) return o;
    return NULL;
}

static void offset_apply(struct gcoord *gc, struct kstr group, struct kstr topic, int32_t partition, int64_t offset,
                         int32_t epoch, struct kstr meta, int64_t ts)
{
    struct group *g = group_get(gc, group);
    struct goffset *o = offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), partition);
    if (!o) {
        o = weir_calloc(1, sizeof *o);
        if (!o) weir_panic("out of memory in the group coordinator");
        o->topic = kdup(topic);
        o->partition = partition;
        o->next = g->offsets;
        g->offsets = o;
        gc->n_live[group_partition(group)]++;
    }
    weir_free(o->meta);
    o->meta = kstr_is_null(meta) ? NULL : kdup(meta);
    o->offset = offset;
    o->epoch = epoch;
    o->ts = ts;
}

static void pending_free(struct group *g)
{
    for (struct gpending *p = g->pending, *pn; p; p = pn) pn = p->next, weir_free(p->id), weir_free(p);
    g->pending = NULL;
}

/* Frees g when nothing holds it: no members, pending ids, offsets or writes. */
static void group_maybe_free(struct gcoord *gc, struct group *g)
{
    if (g->members || g->pending || g->offsets || g->writes > 0 || g->state != G_EMPTY) return;
    struct group **pp = &gc->groups;
    while (*pp != g) pp = &(*pp)->next;
    *pp = g->next;
    weir_free(g->id), weir_free(g->protocol_type), weir_free(g->protocol), weir_free(g->leader);
    weir_free(g);
}

/* A tombstone: the key is gone; so is its group when nothing else holds it. */
static void offset_remove(struct gcoord *gc, struct kstr group, struct kstr topic, int32_t partition)
{
    struct group *g = group_find(gc, group);
    if (!g) return;
    size_t tlen = (size_t)WEIR_MAX(topic.len, 0);
    for (struct goffset **pp = &g->offsets; *pp; pp = &(*pp)->next) {
        struct goffset *o = *pp;
        if (o->partition != partition || strlen(o->topic) != tlen || (tlen && memcmp(o->topic, topic.ptr, tlen)))
            continue;
        *pp = o->next;
        weir_free(o->topic), weir_free(o->meta), weir_free(o);
        gc->n_live[group_partition(group)]--;
        break;
    }
    group_maybe_free(gc, g);
}

static size_t put_str(uint8_t *p, struct kstr s)
{
    weir_store_be16(p, (uint16_t)(int16_t)s.len);
    if (s.len > 0) memcpy(p + 2, s.ptr, (size_t)s.len);
    return 2 + (size_t)WEIR_MAX(s.len, 0);
}

static struct kstr get_str(struct weir_rd *rd)
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

/* Applies one batch of offsets partition `partition` to memory (1): a value
 * sets its key, a tombstone deletes it. Records of another shape, or of a group
 * of another partition, are skipped. Returns how many applied; *tombstones
 * (may be NULL) counts the deletions. */
static uint64_t records_apply(struct gcoord *gc, int32_t partition, const uint8_t *batch, size_t len,
                              uint8_t **scratch, size_t *scratch_cap, uint64_t *tombstones)
{
    struct weir_record_iter it;
    struct weir_record rec;
    uint64_t n = 0;
    if (weir_record_iter_init(&it, batch, len, scratch, scratch_cap, 64 << 20) != WEIR_OK) return 0;
    while (weir_record_iter_next(&it, &rec) == WEIR_OK) {
        if (!rec.key || rec.key_len < 1 || rec.key[0] != 1) continue;
        struct weir_rd k = { rec.key + 1, rec.key + rec.key_len, WEIR_OK };
        struct kstr group = get_str(&k), topic = get_str(&k);
        int32_t part = weir_rd_i32(&k);
        if (k.err || group.len <= 0 || kstr_is_null(topic) || group_partition(group) != partition) continue;
        if (!rec.value) {
            offset_remove(gc, group, topic, part);
            n++;
            if (tombstones) (*tombstones)++;
            continue;
        }
        struct weir_rd val = { rec.value, rec.value + rec.value_len, WEIR_OK };
        (void)weir_rd_i16(&val);
        int64_t offset = weir_rd_i64(&val);
        int32_t epoch = weir_rd_i32(&val);
        struct kstr meta = get_str(&val);
        int64_t ts = weir_rd_i64(&val);
        if (val.err || meta.len > METADATA_MAX) continue;
        offset_apply(gc, group, topic, part, offset, epoch, meta, ts);
        n++;
    }
    return n;
}

static void offsets_replay(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    int16_t code = 0;
    struct part *p = part_get(r, GROUP_OFFSETS_TOPIC, partition, &code);
    if (!p) return;
    uint8_t *scratch = NULL;
    size_t scratch_cap = 0;
    uint64_t n_records = 0, n_tombstones = 0;
    for (int64_t off = weir_log_start_offset(p->log); off < weir_log_end_offset(p->log);) {
        struct weir_log_view v;
        if (weir_log_read(p->log, off, 1 << 20, true, &v) != WEIR_OK || v.len == 0) break;
        for (size_t pos = 0; pos + WEIR_BATCH_HEADER_BYTES <= v.len;) {
            struct weir_batch_header h;
            if (weir_batch_header_decode(v.data + pos, v.len - pos, &h) != WEIR_OK) break;
            size_t blen = 12 + (size_t)h.length;
            n_records += records_apply(gc, partition, v.data + pos, blen, &scratch, &scratch_cap, &n_tombstones);
            pos += blen;
        }
        off = v.offset_next;
        weir_log_view_release(p->log, &v);
    }
    weir_free(scratch);
    if (n_records)
        weir_log(WEIR_LOG_INFO,
                 "reactor %u: replayed %" PRIu64 " offsets records (%" PRIu64 " tombstones) of %s-%d"
                 " from offset %" PRId64 ": %" PRId64 " committed offsets",
                 r->id, n_records, n_tombstones, GROUP_OFFSETS_TOPIC, partition, weir_log_start_offset(p->log),
                 gc->n_live[partition]);
}

/* ---- writes to the offsets log: snapshots and tombstones ---------------------------- */

/* One key's record: key into k, value (NULL o = tombstone) into v. Sizes out. */
static void record_encode(uint8_t *k, size_t *kn, uint8_t *v, int32_t *vn, struct kstr group, struct kstr topic,
                          int32_t partition, const struct goffset *o)
{
    size_t n = 0;
    k[n++] = 1;
    n += put_str(k + n, group);
    n += put_str(k + n, topic);
    weir_store_be32(k + n, (uint32_t)partition), n += 4;
    *kn = n;
    *vn = -1;
    if (!o) return;
    size_t m = 0;
    weir_store_be16(v, 0), m = 2;
    weir_store_be64(v + m, (uint64_t)o->offset), m += 8;
    weir_store_be32(v + m, (uint32_t)o->epoch), m += 4;
    m += put_str(v + m, o->meta ? kstr_c(o->meta) : KSTR_NULL);
    weir_store_be64(v + m, (uint64_t)o->ts), m += 8;
    *vn = (int32_t)m;
}

/* A set of batches appended to one offsets partition, done when all completed. */
struct gjob_batch {
    struct weir_append app;
    uint8_t *buf;
    size_t len;
    struct gjob *job;
};
struct gjob {
    struct reactor *r;
    int32_t partition;
    bool apply;                 /* apply each batch to memory when it completes (tombstones) */
    size_t batch_max;           /* bytes: OFFSETS_BATCH_BYTES, or the log's max.message.bytes if lower */
    struct gjob_batch *batches;
    int32_t n_batches, cap_batches, n_left;
    struct weir_batch_builder bb; /* the open batch, in batches[n_batches - 1] */
    bool open;
    enum weir_err err;
    void (*done)(struct gjob *job);
    struct ginfo_slot *slot;    /* DeleteGroups: the answer waiting for it */
    uint8_t *kv;                /* scratch for one record */
};

static struct gjob *job_new(struct reactor *r, int32_t partition, bool apply, void (*done)(struct gjob *job))
{
    struct gjob *j = weir_calloc(1, sizeof *j);
    uint8_t *kv = weir_malloc(2 * (size_t)KPROTO_STRING_MAX + 64 + METADATA_MAX + 16);
    if (!j || !kv) weir_panic("out of memory in the group coordinator");
    *j = (struct gjob){ .r = r, .partition = partition, .apply = apply, .done = done, .kv = kv,
                        .batch_max = OFFSETS_BATCH_BYTES };
    struct weir_log_config cfg;
    if (weir_store_topic_config(r->b->store, GROUP_OFFSETS_TOPIC, &cfg) == WEIR_OK)
        j->batch_max = WEIR_MIN(j->batch_max, (size_t)cfg.max_message_bytes);
    return j;
}

static void job_free(struct gjob *j)
{
    for (int32_t i = 0; i < j->n_batches; i++) weir_free(j->batches[i].buf);
    weir_free(j->batches);
    weir_free(j->kv);
    weir_free(j);
}

static void job_close_batch(struct gjob *j)
{
    if (!j->open) return;
    j->open = false;
    struct gjob_batch *b = &j->batches[j->n_batches - 1];
    if (weir_batch_builder_finish(&j->bb, -1, -1, -1, &b->len) != WEIR_OK) weir_panic("offsets batch: cannot finish");
}

/* Adds one record (o NULL: a tombstone) to the job's open batch, opening one as needed. */
static void job_add(struct gjob *j, struct kstr group, struct kstr topic, int32_t partition, const struct goffset *o,
                    int64_t ts)
{
    size_t kn;
    int32_t vn;
    uint8_t *v = j->kv + 2 * (size_t)KPROTO_STRING_MAX + 16;
    record_encode(j->kv, &kn, v, &vn, group, topic, partition, o);
    size_t need = kn + (size_t)WEIR_MAX(vn, 0) + 64;
    for (int tries = 0; tries < 2; tries++) {
        if (j->open && weir_batch_builder_add(&j->bb, ts, j->kv, (int32_t)kn, vn >= 0 ? v : NULL, vn, NULL, 0) ==
                           WEIR_OK)
            return;
        job_close_batch(j);
        if (j->n_batches == j->cap_batches) {
            j->cap_batches = j->cap_batches ? j->cap_batches * 2 : 4;
            j->batches = weir_realloc(j->batches, (size_t)j->cap_batches * sizeof *j->batches);
            if (!j->batches) weir_panic("out of memory in the group coordinator");
        }
        size_t cap = WEIR_MAX(j->batch_max, WEIR_BATCH_HEADER_BYTES + need); /* too large: its append says so */
        struct gjob_batch *b = &j->batches[j->n_batches++];
        *b = (struct gjob_batch){ .buf = weir_malloc(cap), .job = j };
        if (!b->buf) weir_panic("out of memory in the group coordinator");
        weir_batch_builder_init(&j->bb, b->buf, cap, WEIR_CODEC_NONE);
        j->open = true;
    }
    weir_panic("offsets batch: a record does not fit an empty batch");
}

static void job_finish(struct gjob *j)
{
    j->done(j);
    job_free(j);
}

/* Batches complete in log order: applying each one that completed keeps (1). */
static void job_batch_done(struct weir_append *a)
{
    struct gjob_batch *b = a->user;
    struct gjob *j = b->job;
    if (a->err != WEIR_OK && j->err == WEIR_OK) j->err = a->err;
    if (a->err == WEIR_OK && j->apply) {
        uint8_t *scratch = NULL;
        size_t scratch_cap = 0;
        records_apply(gc_of(j->r), j->partition, b->buf, b->len, &scratch, &scratch_cap, NULL);
        weir_free(scratch);
    }
    if (--j->n_left > 0) return;
    gc_of(j->r)->inflight[j->partition]--;
    job_finish(j);
}

/* Appends every batch of the job; job->done runs once they all completed (or
 * at once when nothing could be appended), then the job is freed. */
static void job_submit(struct gjob *j)
{
    struct gcoord *gc = gc_of(j->r);
    job_close_batch(j);
    int16_t code = 0;
    struct part *part = j->n_batches ? part_get(j->r, GROUP_OFFSETS_TOPIC, j->partition, &code) : NULL;
    if (j->n_batches && !part) j->err = WEIR_E_NOT_FOUND;
    j->n_left = 1; /* held while appending */
    for (int32_t i = 0; part && i < j->n_batches && j->err == WEIR_OK; i++) {
        struct gjob_batch *b = &j->batches[i];
        b->app = (struct weir_append){ .batch = b->buf, .len = b->len, .on_done = job_batch_done, .user = b };
        enum weir_err err = weir_log_append(part->log, &b->app);
        if (err != WEIR_OK) {
            j->err = err;
            break;
        }
        j->n_left++;
    }
    if (--j->n_left > 0) {
        gc->inflight[j->partition]++;
        return;
    }
    job_finish(j);
}

/* ---- compaction (3) ------------------------------------------------------------------ */

static void hold(struct gcoord *gc, int32_t partition, struct gheld *h,
                 void (*resume)(struct reactor *r, struct gheld *h))
{
    h->next = NULL;
    h->resume = resume;
    if (!gc->held[partition]) gc->held_tail[partition] = &gc->held[partition];
    *gc->held_tail[partition] = h;
    gc->held_tail[partition] = &h->next;
}

static void held_resume(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    struct gheld *h = gc->held[partition];
    gc->held[partition] = NULL;
    while (h) {
        struct gheld *next = h->next; /* resume may answer, and free, h's owner */
        h->resume(r, h);
        h = next;
    }
}

static void snapshot_done(struct gjob *j)
{
    struct gcoord *gc = gc_of(j->r);
    gc->compacting[j->partition] = false;
    struct part *part = part_find(j->r, GROUP_OFFSETS_TOPIC, j->partition);
    if (j->err != WEIR_OK || !part) {
        weir_log(WEIR_LOG_WARN, "%s-%d: compaction snapshot not written: %s", GROUP_OFFSETS_TOPIC, j->partition,
                 weir_err_str(j->err));
        return;
    }
    unsigned deleted = 0;
    uint64_t before = weir_log_size_bytes(part->log);
    int64_t base = j->batches[0].app.base_offset; /* where the snapshot begins */
    weir_log_delete_below(part->log, base, &deleted);
    weir_log(WEIR_LOG_INFO, "%s-%d: compacted: snapshot of %" PRId64 " offsets at offset %" PRId64
             ", %u segments deleted, %" PRIu64 " -> %" PRIu64 " bytes", GROUP_OFFSETS_TOPIC, j->partition,
             gc->n_live[j->partition], base, deleted, before, weir_log_size_bytes(part->log));
}

/* Rolls, appends the live set of the partition, resumes its held writes. */
static void compact_now(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    struct part *part = part_find(r, GROUP_OFFSETS_TOPIC, partition);
    if (!part || weir_log_state(part->log) != WEIR_OK) return;
    /* An idle log rolls at once; otherwise (a foreign append) the snapshot goes
     * after it in the active segment, and what precedes it there stays. */
    if (weir_log_idle(part->log) && weir_log_roll(part->log) != WEIR_OK) return;
    struct gjob *j = job_new(r, partition, false, snapshot_done);
    for (struct group *g = gc->groups; g; g = g->next) {
        if (group_partition(kstr_c(g->id)) != partition) continue;
        for (struct goffset *o = g->offsets; o; o = o->next)
            job_add(j, kstr_c(g->id), kstr_c(o->topic), o->partition, o, o->ts);
    }
    if (!j->n_batches) { /* nothing is live: everything below the end goes */
        unsigned deleted = 0;
        weir_log_delete_below(part->log, weir_log_end_offset(part->log), &deleted);
        weir_log(WEIR_LOG_INFO, "%s-%d: compacted to nothing (%u segments deleted)", GROUP_OFFSETS_TOPIC, partition,
                 deleted);
        job_free(j);
        return;
    }
    gc->compacting[partition] = true;
    job_submit(j);
}

/* Wants a compaction when the log is big enough and dirty enough. */
static void compact_check(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    if (gc->compact_wanted[partition] || gc->compacting[partition]) return;
    struct part *part = part_find(r, GROUP_OFFSETS_TOPIC, partition);
    if (!part || weir_log_state(part->log) != WEIR_OK) return;
    const struct weir_broker_config *cfg = &r->b->cfg;
    int64_t total = weir_log_end_offset(part->log) - weir_log_start_offset(part->log);
    int64_t dirty = total - gc->n_live[partition];
    if (dirty <= 0 || (double)dirty < cfg->offsets_cleanable_ratio * (double)total ||
        weir_log_size_bytes(part->log) < (uint64_t)cfg->offsets_compaction_min_bytes)
        return;
    gc->compact_wanted[partition] = true;
}

static void compaction_tick(struct reactor *r, struct gcoord *gc)
{
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) {
        if (!gc->loaded[p]) continue;
        if (!r->stopping) compact_check(r, gc, p);
        if (!gc->compact_wanted[p] || (gc->inflight[p] > 0 && !r->stopping)) continue;
        gc->compact_wanted[p] = false;
        if (!r->stopping) compact_now(r, gc, p);
        held_resume(r, gc, p);
    }
}

/* ---- offsets retention -------------------------------------------------------------- */

static void expire_done(struct gjob *j)
{
    if (j->err != WEIR_OK)
        weir_log(WEIR_LOG_WARN, "%s-%d: expired offsets not deleted: %s", GROUP_OFFSETS_TOPIC, j->partition,
                 weir_err_str(j->err));
}

/* An Empty group whose offsets were all committed, and which became empty,
 * more than offsets.retention ago loses them (tombstones); an Empty group
 * without offsets goes at once (Kafka's cleanupGroupMetadata). */
static void expire_tick(struct reactor *r, struct gcoord *gc)
{
    int64_t now = weir_time_ms();
    if (now < gc->next_expire_ms || r->stopping) return;
    gc->next_expire_ms = now + r->b->cfg.offsets_retention_check_ms;
    int64_t retention = r->b->cfg.offsets_retention_ms;
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++) /* ours, even if no request touched them yet */
        if (!gc->loaded[p] && reactor_owner(r->b, GROUP_OFFSETS_TOPIC, p) == r) {
            gc->loaded[p] = true;
            offsets_replay(r, gc, p);
        }
    struct gjob *jobs[GROUP_OFFSETS_PARTITIONS] = { 0 };
    for (struct group *g = gc->groups, *next; g; g = next) {
        next = g->next;
        int32_t p = group_partition(kstr_c(g->id));
        if (!gc->loaded[p] || gc->compact_wanted[p] || g->members || g->pending || g->writes > 0 ||
            g->state != G_EMPTY)
            continue;
        int64_t base = g->empty_since_ms;
        for (struct goffset *o = g->offsets; o; o = o->next) base = WEIR_MAX(base, o->ts);
        if (g->offsets && now - base < retention) continue;
        if (!g->offsets) {
            group_maybe_free(gc, g);
            continue;
        }
        weir_log(WEIR_LOG_INFO, "group %s: offsets expired (empty, last commit %" PRId64 " ms ago)", g->id, now - base);
        if (!jobs[p]) jobs[p] = job_new(r, p, true, expire_done);
        for (struct goffset *o = g->offsets; o; o = o->next)
            job_add(jobs[p], kstr_c(g->id), kstr_c(o->topic), o->partition, NULL, now);
    }
    for (int32_t p = 0; p < GROUP_OFFSETS_PARTITIONS; p++)
        if (jobs[p]) job_submit(jobs[p]);
}

static void commit_done(struct weir_append *a)
{
    struct gop *op = a->user;
    struct gcoord *gc = gc_of(op->owner);
    const struct koffsetcommit_req *cr = &op->in.commit;
    int16_t code = weir_err_kafka(a->err);
    struct group *g = group_find(gc, cr->group_id);
    WEIR_ASSERT(g && g->writes > 0); /* (2) */
    g->writes--;
    gc->inflight[op->pt.partition]--;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            if (rp->error_code) continue;
            rp->error_code = code;
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            if (!code)
                offset_apply(gc, cr->group_id, cr->topics[t].name, pp->partition_index, pp->committed_offset,
                             pp->committed_leader_epoch, pp->committed_metadata, op->commit_ts);
        }
    group_maybe_free(gc, g);
    weir_free(op->batch);
    op->batch = NULL;
    gop_reply(op->owner, op);
}

static void do_commit(struct reactor *r, struct gcoord *gc, struct gop *op);

static void commit_resume(struct reactor *r, struct gheld *h)
{
    do_commit(r, gc_of(r), weir_container_of(h, struct gop, held));
}

static void do_commit(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    const struct koffsetcommit_req *cr = &op->in.commit;
    if (gc->compact_wanted[op->pt.partition]) {
        hold(gc, op->pt.partition, &op->held, commit_resume);
        return;
    }
    int16_t all = 0;
    struct group *g = group_find(gc, cr->group_id);
    struct gmember *m = NULL;
    bool simple = cr->generation_id < 0 && cr->member_id.len <= 0; /* assign() consumers, tools */
    int16_t check = 0;
    if (cr->group_id.len <= 0) all = KERR_INVALID_GROUP_ID;
    else if (simple && (!g || !g->members)) all = 0;
    else if (simple && kstr_is_null(cr->group_instance_id)) all = KERR_UNKNOWN_MEMBER_ID;
    else if ((check = member_check(g, cr->member_id, cr->group_instance_id, &m))) all = check;
    else if (cr->generation_id != g->generation) all = KERR_ILLEGAL_GENERATION;
    else if (g->state == G_COMPLETING) all = KERR_REBALANCE_IN_PROGRESS; /* Stable and Preparing commit, as Kafka */
    if (m) m->hb_deadline_ns = weir_clock_ns() + (int64_t)m->session_ms * 1000000;
    size_t cap = WEIR_BATCH_HEADER_BYTES + 64;
    int32_t n_ok = 0;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            rp->error_code = all;
            if (!all && pp->committed_metadata.len > METADATA_MAX) rp->error_code = KERR_OFFSET_METADATA_TOO_LARGE;
            if (rp->error_code) continue;
            n_ok++;
            cap += 64 + (size_t)cr->group_id.len + (size_t)WEIR_MAX(cr->topics[t].name.len, 0) +
                   (size_t)WEIR_MAX(pp->committed_metadata.len, 0) + 32;
        }
    if (!n_ok) {
        gop_reply(r, op);
        return;
    }
    int16_t code = 0;
    struct part *part = part_get(r, GROUP_OFFSETS_TOPIC, op->pt.partition, &code);
    op->batch = weir_malloc(cap);
    uint8_t *kv = weir_malloc(2 * (size_t)KPROTO_STRING_MAX + 64 + METADATA_MAX);
    if (!part || !op->batch || !kv) {
        code = code ? code : KERR_COORDINATOR_NOT_AVAILABLE_G;
        goto fail;
    }
    op->commit_ts = weir_time_ms();
    struct weir_batch_builder bb;
    weir_batch_builder_init(&bb, op->batch, cap, WEIR_CODEC_NONE);
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            if (op->out.commit.topics[t].partitions[p].error_code) continue;
            const struct koffsetcommit_req_part *pp = &cr->topics[t].partitions[p];
            size_t kn = 0, vn;
            kv[kn++] = 1;
            kn += put_str(kv + kn, cr->group_id);
            kn += put_str(kv + kn, cr->topics[t].name);
            weir_store_be32(kv + kn, (uint32_t)pp->partition_index), kn += 4;
            uint8_t *v = kv + kn;
            weir_store_be16(v, 0), vn = 2;
            weir_store_be64(v + vn, (uint64_t)pp->committed_offset), vn += 8;
            weir_store_be32(v + vn, (uint32_t)pp->committed_leader_epoch), vn += 4;
            vn += put_str(v + vn, pp->committed_metadata);
            weir_store_be64(v + vn, (uint64_t)op->commit_ts), vn += 8;
            if (weir_batch_builder_add(&bb, op->commit_ts, kv, (int32_t)kn, v, (int32_t)vn, NULL, 0) != WEIR_OK) {
                code = KERR_COORDINATOR_NOT_AVAILABLE_G;
                goto fail;
            }
        }
    size_t len;
    if (weir_batch_builder_finish(&bb, -1, -1, -1, &len) != WEIR_OK) {
        code = KERR_COORDINATOR_NOT_AVAILABLE_G;
        goto fail;
    }
    weir_free(kv);
    kv = NULL;
    op->owner = r;
    op->app = (struct weir_append){ .batch = op->batch, .len = len, .on_done = commit_done, .user = op };
    g = group_get(gc, cr->group_id);
    g->writes++;
    gc->inflight[op->pt.partition]++;
    enum weir_err err = weir_log_append(part->log, &op->app);
    if (err == WEIR_OK) return; /* commit_done answers */
    g->writes--;
    gc->inflight[op->pt.partition]--;
    group_maybe_free(gc, g);
    code = weir_err_kafka(err);
fail:
    weir_free(kv);
    weir_free(op->batch);
    op->batch = NULL;
    for (int32_t t = 0; t < cr->n_topics; t++)
        for (int32_t p = 0; p < cr->topics[t].n_partitions; p++) {
            struct koffsetcommit_resp_part *rp = (struct koffsetcommit_resp_part *)&op->out.commit.topics[t].partitions[p];
            if (!rp->error_code) rp->error_code = code;
        }
    gop_reply(r, op);
}

static void fetch_part(struct request *req, struct group *g, struct kstr topic, int32_t partition,
                       struct koffsetfetch_resp_part *out)
{
    *out = (struct koffsetfetch_resp_part){ .partition_index = partition, .committed_offset = -1,
                                            .committed_leader_epoch = -1, .metadata = kstr_c("") };
    struct goffset *o = g ? offset_find(g, topic.ptr ? topic.ptr : "", (size_t)WEIR_MAX(topic.len, 0), partition) : NULL;
    if (!o) return;
    out->committed_offset = o->offset;
    out->committed_leader_epoch = o->epoch;
    out->metadata = arena_kstr(req, o->meta);
}

static void do_fetch(struct reactor *r, struct gcoord *gc, struct gop *op)
{
    struct request *req = op->pt.req;
    const struct koffsetfetch_req *fr = &op->in.fetch;
    struct koffsetfetch_resp *out = &op->out.fetch;
    *out = (struct koffsetfetch_resp){ 0 };
    struct group *g = group_find(gc, fr->group_id);
    if (fr->group_id.len <= 0) {
        out->error_code = KERR_INVALID_GROUP_ID;
    } else if (fr->n_topics >= 0) {
        struct koffsetfetch_resp_topic *ts = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(fr->n_topics, 1) * sizeof *ts);
        for (int32_t t = 0; ts && t < fr->n_topics; t++) {
            const struct koffsetfetch_req_topic *it = &fr->topics[t];
            struct koffsetfetch_resp_part *ps =
                weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(it->n_partition_indexes, 1) * sizeof *ps);
            ts[t] = (struct koffsetfetch_resp_topic){ .name = it->name, .partitions = ps,
                                                      .n_partitions = ps ? it->n_partition_indexes : 0 };
            for (int32_t p = 0; ps && p < it->n_partition_indexes; p++)
                fetch_part(req, g, it->name, it->partition_indexes[p], &ps[p]);
        }
        out->topics = ts;
        out->n_topics = ts ? fr->n_topics : 0;
    } else if (g) {
        /* All committed partitions: one topic entry per offset (clients group by name). */
        int32_t n = 0;
        for (struct goffset *o = g->offsets; o; o = o->next) n++;
        struct koffsetfetch_resp_topic *ts = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ts);
        struct koffsetfetch_resp_part *ps = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ps);
        int32_t i = 0;
        for (struct goffset *o = g->offsets; ts && ps && o; o = o->next, i++) {
            ts[i] = (struct koffsetfetch_resp_topic){ .name = arena_kstr(req, o->topic), .partitions = &ps[i],
                                                      .n_partitions = 1 };
            fetch_part(req, g, kstr_c(o->topic), o->partition, &ps[i]);
        }
        out->topics = ts;
        out->n_topics = ts && ps ? n : 0;
    }
    gop_reply(r, op);
}

/* ---- on the owner -------------------------------------------------------------------- */

static void gop_owner(struct reactor *r, struct ptask *pt)
{
    struct gop *op = weir_container_of(pt, struct gop, pt);
    struct gcoord *gc = gc_of(r);
    if (!gc->loaded[pt->partition]) {
        gc->loaded[pt->partition] = true;
        offsets_replay(r, gc, pt->partition);
    }
    if (r->stopping && (op->kind == GOP_JOIN || op->kind == GOP_SYNC)) {
        if (op->kind == GOP_JOIN) op->out.join = (struct kjoingroup_resp){ .error_code = KERR_COORDINATOR_NOT_AVAILABLE_G,
            .generation_id = -1, .protocol_name = kstr_c(""), .leader = kstr_c(""), .member_id = op->in.join.member_id };
        else op->out.sync = (struct ksyncgroup_resp){ .error_code = KERR_COORDINATOR_NOT_AVAILABLE_G };
        gop_reply(r, op);
        return;
    }
    switch (op->kind) {
    case GOP_JOIN: do_join(r, gc, op); break;
    case GOP_SYNC: do_sync(r, gc, op); break;
    case GOP_HB: do_heartbeat(r, gc, op); break;
    case GOP_LEAVE: do_leave(r, gc, op); break;
    case GOP_COMMIT: do_commit(r, gc, op); break;
    case GOP_FETCH: do_fetch(r, gc, op); break;
    }
}

void groups_tick(struct reactor *r)
{
    struct gcoord *gc = r->groups;
    if (!gc) return;
    int64_t now = weir_clock_ns();
    for (struct group *g = gc->groups; g; g = g->next) {
        if (r->stopping) {
            for (struct gmember *m = g->members; m; m = m->next) {
                if (m->join_wait) m->join_wait->out.join.error_code = KERR_COORDINATOR_NOT_AVAILABLE_G,
                                  gop_reply(r, m->join_wait), m->join_wait = NULL;
                if (m->sync_wait) m->sync_wait->out.sync.error_code = KERR_COORDINATOR_NOT_AVAILABLE_G,
                                  gop_reply(r, m->sync_wait), m->sync_wait = NULL;
            }
            continue;
        }
        bool changed = false;
        for (struct gpending **pp = &g->pending; *pp;) {
            if ((*pp)->deadline_ns > now) {
                pp = &(*pp)->next;
                continue;
            }
            struct gpending *p = *pp;
            *pp = p->next;
            weir_free(p->id);
            weir_free(p);
            changed = true;
        }
        for (struct gmember *m = g->members, *next; m; m = next) {
            next = m->next;
            /* Kafka's hasSatisfiedHeartbeat: a member waiting in JoinGroup or
             * SyncGroup is alive; any other, in any state, must heartbeat, so
             * a dead member holds a rebalance for its session timeout, not
             * for the rebalance timeout. */
            if (m->join_wait || m->sync_wait || m->hb_deadline_ns > now) continue;
            weir_log(WEIR_LOG_INFO, "group %s: member %s missed its session timeout", g->id, m->id);
            member_remove(r, g, m, KERR_UNKNOWN_MEMBER_ID);
            prepare_rebalance(r, g);
            changed = true;
        }
        (void)changed;
        try_complete_join(r, g, now);
    }
    compaction_tick(r, gc);
    expire_tick(r, gc);
}

void groups_free(struct reactor *r)
{
    struct gcoord *gc = r->groups;
    if (!gc) return;
    for (struct group *g = gc->groups, *gn; g; g = gn) {
        gn = g->next;
        for (struct gmember *m = g->members, *mn; m; m = mn) mn = m->next, member_free(m);
        pending_free(g);
        for (struct goffset *o = g->offsets, *on; o; o = on)
            on = o->next, weir_free(o->topic), weir_free(o->meta), weir_free(o);
        weir_free(g->id), weir_free(g->protocol_type), weir_free(g->protocol), weir_free(g->leader);
        weir_free(g);
    }
    weir_free(gc);
    r->groups = NULL;
}

/* ---- DescribeGroups, ListGroups -------------------------------------------------------- */

static const char *const state_names[] = { "Empty", "PreparingRebalance", "CompletingRebalance", "Stable" };

static void ginfo_load(struct reactor *r, struct gcoord *gc, int32_t partition)
{
    if (!gc->loaded[partition]) {
        gc->loaded[partition] = true;
        offsets_replay(r, gc, partition);
    }
}

static void describe_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct request *req = pt->req;
    struct gcoord *gc = gc_of(r);
    ginfo_load(r, gc, pt->partition);
    struct kdescribegroups_group *out = &s->st->described[s->index];
    struct kstr id = s->st->dr.groups[s->index];
    *out = (struct kdescribegroups_group){ .group_id = id, .state = kstr_c("Dead"), .protocol_type = kstr_c(""),
                                           .protocol_data = kstr_c("") };
    struct group *g = id.len > 0 ? group_find(gc, id) : NULL;
    if (id.len <= 0) out->error_code = KERR_INVALID_GROUP_ID;
    if (g) {
        out->state = kstr_c(state_names[g->state]);
        out->protocol_type = arena_kstr(req, g->protocol_type ? g->protocol_type : "");
        out->protocol_data = arena_kstr(req, g->protocol && g->state != G_PREPARING ? g->protocol : "");
        int32_t n = member_count(g);
        struct kdescribegroups_member *ms = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *ms);
        for (struct gmember *m = g->members; ms && m; m = m->next) {
            const struct gproto *p = g->protocol && g->state != G_PREPARING ? member_proto(m, g->protocol) : NULL;
            ms[out->n_members++] = (struct kdescribegroups_member){
                .member_id = arena_kstr(req, m->id), .client_id = arena_kstr(req, m->client_id ? m->client_id : ""),
                .client_host = arena_kstr(req, m->client_host ? m->client_host : ""),
                .metadata = p ? arena_bytes(req, p->meta, p->len) : (struct kbytes){ NULL, 0 },
                .assignment = g->state == G_STABLE ? arena_bytes(req, m->assign, m->assign_len)
                                                   : (struct kbytes){ NULL, 0 } };
        }
        out->members = ms;
    }
    ptask_reply(r, pt);
}

static void list_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct request *req = pt->req;
    struct gcoord *gc = gc_of(r);
    ginfo_load(r, gc, pt->partition);
    int32_t n = 0;
    for (struct group *g = gc->groups; g; g = g->next)
        if (group_partition(kstr_c(g->id)) == pt->partition) n++;
    struct klistgroups_group *gs = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *gs);
    int32_t i = 0;
    for (struct group *g = gc->groups; gs && g; g = g->next)
        if (group_partition(kstr_c(g->id)) == pt->partition)
            gs[i++] = (struct klistgroups_group){ arena_kstr(req, g->id),
                                                  arena_kstr(req, g->protocol_type ? g->protocol_type : "") };
    if (!gs) s->st->list_error = KERR_COORDINATOR_NOT_AVAILABLE_G;
    s->st->listed[pt->partition] = gs;
    s->st->n_listed[pt->partition] = i;
    ptask_reply(r, pt);
}

/* ---- DeleteGroups ------------------------------------------------------------------ */

static void delete_done(struct gjob *j)
{
    struct ginfo_slot *s = j->slot;
    s->st->deleted[s->index].error_code = weir_err_kafka(j->err);
    if (j->err == WEIR_OK) weir_log(WEIR_LOG_INFO, "group %.*s: deleted", s->st->dr.groups[s->index].len,
                                    s->st->dr.groups[s->index].ptr);
    ptask_reply(j->r, &s->pt);
}

static void delete_owner(struct reactor *r, struct ptask *pt);

static void delete_resume(struct reactor *r, struct gheld *h)
{
    struct ginfo_slot *s = weir_container_of(h, struct ginfo_slot, held);
    delete_owner(r, &s->pt);
}

/* Kafka's rules: 24 for an empty name, 69 for a group this coordinator does
 * not know (Dead), 68 while it has members; otherwise every committed offset
 * gets a tombstone and the group is gone once they are durable. Ids handed
 * out with MEMBER_ID_REQUIRED are not members (Kafka's pendingMembers): they
 * go with the group, and a JoinGroup with one gets 25. */
static void delete_owner(struct reactor *r, struct ptask *pt)
{
    struct ginfo_slot *s = weir_container_of(pt, struct ginfo_slot, pt);
    struct gcoord *gc = gc_of(r);
    ginfo_load(r, gc, pt->partition);
    struct kstr id = s->st->dr.groups[s->index];
    struct kdeletegroups_result *out = &s->st->deleted[s->index];
    *out = (struct kdeletegroups_result){ .group_id = id };
    struct group *g = id.len > 0 ? group_find(gc, id) : NULL;
    if (id.len <= 0) out->error_code = KERR_INVALID_GROUP_ID;
    else if (!g) out->error_code = KERR_GROUP_ID_NOT_FOUND;
    else if (g->members || g->state != G_EMPTY) out->error_code = KERR_NON_EMPTY_GROUP;
    if (out->error_code) {
        ptask_reply(r, pt);
        return;
    }
    if (gc->compact_wanted[pt->partition]) {
        hold(gc, pt->partition, &s->held, delete_resume);
        return;
    }
    pending_free(g);
    if (g->offsets) {
        struct gjob *j = job_new(r, pt->partition, true, delete_done);
        j->slot = s;
        int64_t now = weir_time_ms();
        for (struct goffset *o = g->offsets; o; o = o->next) job_add(j, id, kstr_c(o->topic), o->partition, NULL, now);
        job_submit(j); /* delete_done answers */
        return;
    }
    weir_log(WEIR_LOG_INFO, "group %s: deleted", g->id);
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
        struct klistgroups_group *all = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *all);
        int32_t i = 0;
        for (int p = 0; all && p < GROUP_OFFSETS_PARTITIONS; p++)
            for (int32_t j = 0; j < st->n_listed[p]; j++) all[i++] = st->listed[p][j];
        kproto_listgroups_encode(&req->out, req->hdr.api_version,
                                 &(struct klistgroups_resp){ .error_code = all ? st->list_error
                                                                               : KERR_COORDINATOR_NOT_AVAILABLE_G,
                                                             .groups = all, .n_groups = i });
    }
    response_end(req);
    request_respond(req);
}

static void ginfo_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct ginfo_state *st = pt->req->state;
    if (--st->remaining == 0) ginfo_finish(pt->req);
}

static void handle_group_info(struct request *req)
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
        st->dr = (struct kdescribegroups_req){ del.groups, del.n_groups };
    } else if (err == WEIR_OK)
        err = kproto_listgroups_decode(&req->body, req->hdr.api_version, &req->arena);
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
 * then fields we do not need) name one of `topics`? Malformed: no. */
static bool subscribes(const uint8_t *meta, int32_t len, char *const *topics, int32_t n)
{
    struct weir_rd rd = weir_rd_make(meta, (size_t)WEIR_MAX(len, 0));
    int16_t version = weir_rd_i16(&rd);
    int32_t count = weir_rd_i32(&rd);
    if (rd.err || version < 0 || count < 0 || (uint64_t)count > weir_rd_left(&rd) / 2) return false;
    bool hit = false;
    for (int32_t i = 0; i < count; i++) {
        struct kstr t = get_str(&rd);
        if (rd.err || kstr_is_null(t)) return false;
        for (int32_t j = 0; j < n && !hit; j++) hit = kstr_eq(t, topics[j]);
    }
    return hit;
}

static void grow_owner(struct reactor *r, struct ptask *pt)
{
    struct grow_state *st = pt->ctx;
    struct gcoord *gc = gc_of(r);
    /* Members exist only in loaded partitions: no need to replay one here. */
    for (struct group *g = gc->loaded[pt->partition] ? gc->groups : NULL; g; g = g->next) {
        if (group_partition(kstr_c(g->id)) != pt->partition || (g->state != G_STABLE && g->state != G_COMPLETING) ||
            !g->protocol || !g->protocol_type || strcmp(g->protocol_type, "consumer"))
            continue;
        for (struct gmember *m = g->members; m; m = m->next) {
            const struct gproto *p = member_proto(m, g->protocol);
            if (!p || !subscribes(p->meta, p->len, st->topics, st->n_topics)) continue;
            weir_log(WEIR_LOG_INFO, "group %s: a subscribed topic gained partitions", g->id);
            prepare_rebalance(r, g);
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

/* ---- on the request's reactor ------------------------------------------------------- */

static void gop_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct gop *op = weir_container_of(pt, struct gop, pt);
    struct request *req = pt->req;
    response_begin(req);
    switch (op->kind) {
    case GOP_JOIN: kproto_joingroup_encode(&req->out, op->version, &op->out.join); break;
    case GOP_SYNC: kproto_syncgroup_encode(&req->out, op->version, &op->out.sync); break;
    case GOP_HB: kproto_heartbeat_encode(&req->out, op->version, &op->out.hb); break;
    case GOP_LEAVE: kproto_leavegroup_encode(&req->out, op->version, &op->out.leave); break;
    case GOP_COMMIT: kproto_offsetcommit_encode(&req->out, op->version, &op->out.commit); break;
    case GOP_FETCH: kproto_offsetfetch_encode(&req->out, op->version, &op->out.fetch); break;
    }
    response_end(req);
    request_respond(req);
}

void handle_group(struct request *req)
{
    if (req->hdr.api_key == KAPI_DESCRIBE_GROUPS || req->hdr.api_key == KAPI_LIST_GROUPS ||
        req->hdr.api_key == KAPI_DELETE_GROUPS) {
        handle_group_info(req);
        return;
    }
    struct gop *op = weir_arena_alloc(&req->arena, sizeof *op);
    if (!op) {
        request_malformed(req, WEIR_E_NOMEM);
        return;
    }
    memset(op, 0, sizeof *op);
    op->version = req->hdr.api_version;
    op->client_id = req->hdr.client_id;
    op->client_host = kstr_c(arena_strdup(&req->arena, kstr_c(req->c->peer)));
    if (!op->client_host.ptr) op->client_host = kstr_c("");
    struct weir_rd *rd = &req->body;
    struct weir_arena *a = &req->arena;
    enum weir_err err = WEIR_OK;
    struct kstr group = KSTR_NULL;
    switch (req->hdr.api_key) {
    case KAPI_JOIN_GROUP:
        op->kind = GOP_JOIN, err = kproto_joingroup_decode(rd, op->version, a, &op->in.join);
        group = op->in.join.group_id;
        break;
    case KAPI_SYNC_GROUP:
        op->kind = GOP_SYNC, err = kproto_syncgroup_decode(rd, op->version, a, &op->in.sync);
        group = op->in.sync.group_id;
        break;
    case KAPI_HEARTBEAT:
        op->kind = GOP_HB, err = kproto_heartbeat_decode(rd, op->version, a, &op->in.hb);
        group = op->in.hb.group_id;
        break;
    case KAPI_LEAVE_GROUP:
        op->kind = GOP_LEAVE, err = kproto_leavegroup_decode(rd, op->version, a, &op->in.leave);
        group = op->in.leave.group_id;
        break;
    case KAPI_OFFSET_COMMIT: {
        op->kind = GOP_COMMIT, err = kproto_offsetcommit_decode(rd, op->version, a, &op->in.commit);
        group = op->in.commit.group_id;
        const struct koffsetcommit_req *cr = &op->in.commit;
        struct koffsetcommit_resp_topic *ts = NULL;
        if (err == WEIR_OK) ts = weir_arena_alloc(a, (size_t)WEIR_MAX(cr->n_topics, 1) * sizeof *ts);
        if (err == WEIR_OK && !ts) err = WEIR_E_NOMEM;
        for (int32_t t = 0; err == WEIR_OK && t < cr->n_topics; t++) {
            struct koffsetcommit_resp_part *ps =
                weir_arena_alloc(a, (size_t)WEIR_MAX(cr->topics[t].n_partitions, 1) * sizeof *ps);
            if (!ps) err = WEIR_E_NOMEM;
            for (int32_t p = 0; ps && p < cr->topics[t].n_partitions; p++)
                ps[p] = (struct koffsetcommit_resp_part){ cr->topics[t].partitions[p].partition_index, 0 };
            ts[t] = (struct koffsetcommit_resp_topic){ cr->topics[t].name, ps, cr->topics[t].n_partitions };
        }
        op->out.commit = (struct koffsetcommit_resp){ .topics = ts, .n_topics = cr->n_topics };
        break;
    }
    case KAPI_OFFSET_FETCH:
        op->kind = GOP_FETCH, err = kproto_offsetfetch_decode(rd, op->version, a, &op->in.fetch);
        group = op->in.fetch.group_id;
        break;
    default: err = WEIR_E_UNSUPPORTED; break;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = op;
    op->pt = (struct ptask){ .req = req, .topic = GROUP_OFFSETS_TOPIC, .partition = group_partition(group),
                             .on_owner = gop_owner, .on_origin = gop_origin };
    ptask_send(&op->pt);
}

/* Creates the offsets topic at start when it is missing. */
enum weir_err groups_topic_ensure(struct broker *b)
{
    if (weir_store_topic_partitions(b->store, GROUP_OFFSETS_TOPIC) >= 0) return WEIR_OK;
    /* Kafka's offsets.topic.segment.bytes (100 MiB): each compaction rolls a
     * segment, and segments are preallocated. */
    int64_t seg = b->cfg.offsets_segment_bytes;
    if (seg == 0) seg = WEIR_MIN((int64_t)104857600, (int64_t)b->cfg.log.segment_bytes);
    char seg_text[24];
    snprintf(seg_text, sizeof seg_text, "%" PRId64, seg);
    const char *const configs[][2] = { { "flush.messages", "1" }, { "retention.ms", "-1" }, { "segment.bytes", seg_text } };
    char why[256];
    enum weir_err err =
        weir_store_topic_create(b->store, GROUP_OFFSETS_TOPIC, GROUP_OFFSETS_PARTITIONS, configs, 3, why, sizeof why);
    if (err == WEIR_E_EXISTS) return WEIR_OK;
    if (err != WEIR_OK) weir_log(WEIR_LOG_ERROR, "cannot create %s: %s", GROUP_OFFSETS_TOPIC, why);
    return err;
}
