/* repl/member.c: one broker's membership (kafka.zk.KafkaZkClient's broker
 * side, and the metadata a ZooKeeper-era broker learnt from its controller,
 * read here from the znodes themselves).
 *
 * Session life: CONNECTED -> the fixed paths are ensured -> /brokers/ids/<id>
 * is created (ephemeral) -> everything is read with watches. EXPIRED -> the
 * handle is closed, the cache kept, and a new session goes through the same
 * steps; every read is then repeated (a resync), so the cache converges to
 * the tree. A reconnect of the same session repeats the reads too.
 *
 * Invariants:
 *  1. `armed` holds "d:<path>" / "c:<path>" exactly while a data / children
 *     watch of ours is registered on the session (cleared with the session):
 *     a path never gets a second registration, so one-shot watches never pile
 *     up across resyncs.
 *  2. Per partition, the cached leader epoch never decreases (a state whose
 *     epoch is lower, or equal at an older zk version, is ignored: late reads;
 *     the version is still taken, so the controller's next write, conditional
 *     on it, replaces such a state instead of failing forever).
 *  3. role_emit runs on_role only when (kind, leader, epoch) changes.
 *  4. A completion from an older session (gen) or with RP_ZK_CLOSED does nothing.
 *  5. Before its first registration the broker reads /cluster/id (creating
 *     it with a fresh id when absent: Kafka's getOrGenerateClusterId) and
 *     stops for good when its meta.properties names another cluster; the id
 *     read then never changes for the life of m.
 *  6. This broker never becomes LEADER from a state written before its own
 *     registration on the current session (state mzxid < our czxid, or our
 *     czxid not read yet): it may have restarted since and lost an unflushed
 *     tail, and leading again at that epoch would write a second history
 *     into it. It keeps its last role; the controller, which sees the same
 *     (czxid > mzxid), hands the partition on with a new epoch (controller.c). */
#include "cluster_int.h"

#include <stdio.h>
#include <stdlib.h>

enum mop_kind { MOP_FIXED, MOP_CID_CREATE, MOP_CID_GET, MOP_REGISTER, MOP_REG_GET, MOP_IDS, MOP_BROKER, MOP_TOPICS, MOP_TOPIC, MOP_STATE, MOP_STATE_EXISTS, MOP_TCONFIG, MOP_BCONFIG,
               MOP_BCONFIG_EXISTS };

/* One op in flight. */
struct mop {
    struct rp_member *m;
    uint64_t gen;
    enum mop_kind kind;
    bool watched; /* it carried our watch (and armed holds its key) */
    char path[];
};

static const char *const fixed_paths[] = { "/brokers/ids", "/brokers/topics", "/config/topics", "/config/brokers",
                                           "/admin/delete_topics", "/weir/shutdown", "/cluster" };
enum { FIXED_N = sizeof fixed_paths / sizeof fixed_paths[0], PATH_LEN = 512 };

static void op_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res);
static void register_broker(struct rp_member *m);

static struct mop *mop_new(struct rp_member *m, enum mop_kind kind, const char *path)
{
    size_t n = strlen(path) + 1;
    struct mop *op = rp_zk_xmalloc(sizeof *op + n);
    *op = (struct mop){ .m = m, .gen = m->gen, .kind = kind };
    memcpy(op->path, path, n);
    return op;
}

static void armed_key(char *key, char k, const char *path) { snprintf(key, PATH_LEN + 4, "%c:%s", k, path); }

/* true: the caller registers the watch (none of ours is there yet). */
static bool arm(struct rp_member *m, char k, const char *path)
{
    char key[PATH_LEN + 4];
    armed_key(key, k, path);
    if (rp_strmap_get(&m->armed, key, NULL)) return false;
    rp_strmap_put(&m->armed, key, 1);
    return true;
}

static void disarm(struct rp_member *m, char k, const char *path)
{
    char key[PATH_LEN + 4];
    armed_key(key, k, path);
    rp_strmap_del(&m->armed, key);
}

/* ---- the cache ------------------------------------------------------------------- */

static bool ids_has(const int32_t *ids, uint32_t n, int32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

bool rp_member_broker_live(const struct rp_member *m, int32_t id) { return ids_has(m->brokers, m->brokers_n, id); }

static uint32_t topic_index(const struct rp_member *m, const char *name)
{
    uint32_t i = 0;
    while (i < m->topics_n && strcmp(m->topics[i]->name, name) != 0) i++;
    return i;
}

struct rp_mtopic *rp_member_topic(const struct rp_member *m, const char *name)
{
    uint32_t i = topic_index(m, name);
    return i < m->topics_n ? m->topics[i] : NULL;
}

enum weir_stray rp_member_stray(const struct rp_member *m, const char *topic, int32_t partition,
                                const struct weir_uuid *local_id)
{
    WEIR_ASSERT(partition >= 0);
    if (!m->topics_listed) return WEIR_STRAY_UNSURE;
    for (uint32_t i = 0; i < m->topics_n; i++)
        if (!m->topics[i]->assigned) return WEIR_STRAY_UNSURE; /* being created, or just listed */
    const struct rp_mtopic *t = rp_member_topic(m, topic);
    if (!t) return WEIR_STRAY_NO_TOPIC;
    if ((uint32_t)partition >= t->parts_n) return WEIR_STRAY_BEYOND;
    if (!local_id || weir_uuid_is_zero(local_id) || weir_uuid_is_zero(&t->topic_id) ||
        weir_uuid_eq(local_id, &t->topic_id))
        return WEIR_STRAY_KEEP; /* the same topic, or no ids to tell */
    const struct rp_mpart *p = &t->parts[partition];
    for (uint32_t r = 0; r < p->replicas_n; r++)
        if (p->replicas[r] == m->cfg.id) return WEIR_STRAY_KEEP; /* its role resets the copy (topic id check) */
    return WEIR_STRAY_OTHER_ID;
}

static void changed(struct rp_member *m)
{
    WEIR_DASSERT(rp_member_check(m));
    if (m->listener && m->listener->on_change) m->listener->on_change(m->listener_ctx);
}

/* The role this broker derives for p; an unread or absent state keeps the last one. */
static struct rp_role role_of(const struct rp_member *m, const struct rp_mpart *p)
{
    if (!ids_has(p->replicas, p->replicas_n, m->cfg.id)) return (struct rp_role){ RP_ROLE_NONE, RP_NO_LEADER, 0 };
    if (p->known != RP_PRESENT) return p->role;
    if (p->st.leader == m->cfg.id && (m->self_czxid == 0 || p->mzxid < m->self_czxid)) return p->role; /* 5. */
    struct rp_role r = { .leader = p->st.leader, .epoch = p->st.leader_epoch };
    r.kind = p->st.leader == m->cfg.id           ? RP_ROLE_LEADER
             : p->st.leader == RP_NO_LEADER ? RP_ROLE_OFFLINE
                                                 : RP_ROLE_FOLLOWER;
    return r;
}

static void role_emit(struct rp_member *m, const struct rp_mtopic *t, uint32_t i, struct rp_role r)
{
    struct rp_mpart *p = &t->parts[i];
    if (r.kind == RP_ROLE_NONE) r = (struct rp_role){ RP_ROLE_NONE, RP_NO_LEADER, 0 };
    if (r.kind == p->role.kind && r.leader == p->role.leader && r.epoch == p->role.epoch) return;
    p->role = r;
    if (m->cfg.on_role) m->cfg.on_role(m->cfg.role_ctx, t->name, i, &r);
}

static void part_free(struct rp_mpart *p) { weir_free(p->replicas); }

static void topic_free(struct rp_mtopic *t)
{
    for (uint32_t i = 0; i < t->parts_n; i++) part_free(&t->parts[i]);
    weir_free(t->parts);
    weir_free(t->config);
    weir_free(t->name);
    weir_free(t);
}

static void topic_remove(struct rp_member *m, uint32_t ti)
{
    struct rp_mtopic *t = m->topics[ti];
    for (uint32_t i = 0; i < t->parts_n; i++) role_emit(m, t, i, (struct rp_role){ .kind = RP_ROLE_NONE });
    topic_free(t);
    m->topics[ti] = m->topics[--m->topics_n];
}

/* ---- reads ------------------------------------------------------------------------- */

static void watch_data(void *ctx, enum rp_zk_event ev, const char *path);
static void watch_children(void *ctx, enum rp_zk_event ev, const char *path);

static void read_children(struct rp_member *m, enum mop_kind kind, const char *path)
{
    struct mop *op = mop_new(m, kind, path);
    op->watched = arm(m, 'c', path);
    rp_zk_get_children(m->zk, path, op->watched ? watch_children : NULL, m, op_done, op);
}

/* get (or exists) with our data watch unless one is registered already. */
static void read_data(struct rp_member *m, enum mop_kind kind, const char *path)
{
    struct mop *op = mop_new(m, kind, path);
    op->watched = arm(m, 'd', path);
    if (kind == MOP_STATE_EXISTS || kind == MOP_BCONFIG_EXISTS) rp_zk_exists(m->zk, path, op->watched ? watch_data : NULL, m, op_done, op);
    else rp_zk_get(m->zk, path, op->watched ? watch_data : NULL, m, op_done, op);
}

/* The config znode first: ZooKeeper answers a session's ops in order, so a
 * topic's configs are cached before its znode's answer emits its roles. */
static void read_topic(struct rp_member *m, const char *name)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "/config/topics/%s", name);
    read_data(m, MOP_TCONFIG, path);
    snprintf(path, sizeof path, "/brokers/topics/%s", name);
    read_data(m, MOP_TOPIC, path);
}

static void read_state(struct rp_member *m, const char *name, uint32_t i)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "/brokers/topics/%s/partitions/%u/state", name, i);
    read_data(m, MOP_STATE, path);
}

/* The dynamic broker configs' znodes: the cluster's default, then ours. */
static void bconfig_path(const struct rp_member *m, int which, char *path, size_t cap)
{
    if (which == 0) snprintf(path, cap, "/config/brokers/<default>");
    else snprintf(path, cap, "/config/brokers/%d", m->cfg.id);
}

static int bconfig_which(const struct rp_member *m, const char *path)
{
    char p[PATH_LEN];
    for (int w = 0; w < 2; w++) {
        bconfig_path(m, w, p, sizeof p);
        if (!strcmp(p, path)) return w;
    }
    return -1;
}

/* Every read again: after registering on a session or a reconnect. */
static void resync(struct rp_member *m)
{
    char path[PATH_LEN];
    for (int w = 0; w < 2; w++) {
        bconfig_path(m, w, path, sizeof path);
        read_data(m, MOP_BCONFIG, path);
    }
    read_children(m, MOP_IDS, "/brokers/ids");
    read_children(m, MOP_TOPICS, "/brokers/topics");
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        struct rp_mtopic *t = m->topics[ti];
        read_topic(m, t->name);
        for (uint32_t i = 0; i < t->parts_n; i++) read_state(m, t->name, i);
    }
}

/* "/brokers/topics/<t>/partitions/<p>/state" -> topic and partition; false otherwise. */
static bool parse_state_path(const char *path, char *topic, size_t cap, uint32_t *p)
{
    const char *pre = "/brokers/topics/";
    if (strncmp(path, pre, strlen(pre)) != 0) return false;
    const char *t = path + strlen(pre), *slash = strchr(t, '/');
    if (!slash || (size_t)(slash - t) >= cap) return false;
    unsigned long v;
    char tail[8];
    if (sscanf(slash, "/partitions/%lu/%7s", &v, tail) != 2 || strcmp(tail, "state") != 0) return false;
    memcpy(topic, t, (size_t)(slash - t));
    topic[slash - t] = '\0';
    *p = (uint32_t)v;
    return true;
}

/* The topic of "/brokers/topics/<t>" (no further component), else NULL. */
static const char *topic_path_name(const char *path)
{
    const char *pre = "/brokers/topics/";
    if (strncmp(path, pre, strlen(pre)) != 0) return NULL;
    const char *t = path + strlen(pre);
    return *t && !strchr(t, '/') ? t : NULL;
}

static struct rp_mpart *part_of_path(struct rp_member *m, const char *path, struct rp_mtopic **tout, uint32_t *iout)
{
    char name[WEIR_KAFKA_NAME_MAX + 1];
    uint32_t i;
    if (!parse_state_path(path, name, sizeof name, &i)) return NULL;
    struct rp_mtopic *t = rp_member_topic(m, name);
    if (!t || i >= t->parts_n) return NULL;
    *tout = t;
    *iout = i;
    return &t->parts[i];
}

static void watch_data(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev;
    struct rp_member *m = ctx;
    disarm(m, 'd', path);
    const char *name = topic_path_name(path);
    struct rp_mtopic *t;
    uint32_t i;
    if (name) {
        if (rp_member_topic(m, name)) read_data(m, MOP_TOPIC, path);
    } else if (!strncmp(path, "/config/topics/", strlen("/config/topics/"))) {
        if (rp_member_topic(m, path + strlen("/config/topics/"))) read_data(m, MOP_TCONFIG, path);
    } else if (part_of_path(m, path, &t, &i)) {
        read_data(m, MOP_STATE, path);
    } else if (bconfig_which(m, path) >= 0) {
        read_data(m, MOP_BCONFIG, path);
    }
}

static void watch_children(void *ctx, enum rp_zk_event ev, const char *path)
{
    (void)ev;
    struct rp_member *m = ctx;
    disarm(m, 'c', path);
    if (strcmp(path, "/brokers/ids") == 0) read_children(m, MOP_IDS, path);
    else if (strcmp(path, "/brokers/topics") == 0) read_children(m, MOP_TOPICS, path);
}

/* ---- what the reads answer --------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int32_t *rp_children_ids(const struct rp_zk_result *res, uint32_t *n_out)
{
    int32_t *ids = rp_zk_xmalloc((res->n_children + 1) * sizeof *ids);
    uint32_t n = 0;
    for (size_t i = 0; i < res->n_children; i++) {
        char *end;
        long v = strtol(res->children[i], &end, 10);
        if (*end == '\0' && end != res->children[i] && v >= 0 && v <= INT32_MAX) ids[n++] = (int32_t)v;
    }
    qsort(ids, n, sizeof *ids, cmp_id);
    *n_out = n;
    return ids;
}

static void on_ids(struct rp_member *m, const struct rp_zk_result *res)
{
    uint32_t n;
    int32_t *ids = rp_children_ids(res, &n);
    int64_t *czxid = rp_zk_xmalloc((n ? n : 1) * sizeof *czxid);
    struct rp_broker_addr *addr = rp_zk_xmalloc((n ? n : 1) * sizeof *addr);
    for (uint32_t i = 0; i < n; i++) { /* the address of a broker still live stays until re-read */
        uint32_t k = 0;
        while (k < m->brokers_n && m->brokers[k] != ids[i]) k++;
        czxid[i] = 0;
        addr[i] = k < m->brokers_n ? m->broker_addr[k] : (struct rp_broker_addr){ .read = false };
    }
    weir_free(m->brokers);
    weir_free(m->broker_czxid);
    weir_free(m->broker_addr);
    m->brokers = ids;
    m->broker_czxid = czxid;
    m->broker_addr = addr;
    m->brokers_n = n;
    m->brokers_known = true;
    for (uint32_t i = 0; i < n; i++) { /* which registration: a broker back on a new session has a new czxid */
        char path[64];
        snprintf(path, sizeof path, "/brokers/ids/%d", ids[i]);
        rp_zk_get(m->zk, path, NULL, NULL, op_done, mop_new(m, MOP_BROKER, path));
    }
    changed(m);
}

static void on_broker(struct rp_member *m, const char *path, const struct rp_zk_result *res)
{
    int32_t id = (int32_t)atoi(path + strlen("/brokers/ids/"));
    struct rp_broker_reg reg;
    char why[128];
    struct rp_broker_addr a = { .read = false };
    if (rp_broker_reg_decode(res->data, res->len, &reg, why, sizeof why) == WEIR_OK) {
        a.read = true;
        a.endpoints_n = reg.endpoints_n;
        memcpy(a.endpoints, reg.endpoints, reg.endpoints_n * sizeof *reg.endpoints);
    } else {
        weir_log(WEIR_LOG_WARN, "replication: %s unreadable: %s", path, why);
    }
    for (uint32_t i = 0; i < m->brokers_n; i++)
        if (m->brokers[i] == id) m->broker_czxid[i] = res->stat.czxid, m->broker_addr[i] = a;
    if (id == m->cfg.id && res->stat.ephemeral_owner == rp_zk_session_id(m->zk) && m->self_czxid != res->stat.czxid) {
        m->self_czxid = res->stat.czxid; /* roles blocked by invariant 5 may be taken now */
        for (uint32_t ti = 0; ti < m->topics_n; ti++)
            for (uint32_t i = 0; i < m->topics[ti]->parts_n; i++)
                role_emit(m, m->topics[ti], i, role_of(m, &m->topics[ti]->parts[i]));
    }
    changed(m);
}

static void on_topics(struct rp_member *m, const struct rp_zk_result *res)
{
    for (uint32_t ti = 0; ti < m->topics_n;) {
        bool found = false;
        for (size_t i = 0; i < res->n_children && !found; i++) found = strcmp(res->children[i], m->topics[ti]->name) == 0;
        if (found) ti++;
        else topic_remove(m, ti);
    }
    for (size_t i = 0; i < res->n_children; i++) {
        if (rp_member_topic(m, res->children[i])) continue;
        struct rp_mtopic *t = rp_zk_xmalloc(sizeof *t);
        *t = (struct rp_mtopic){ .name = rp_zk_xstrdup(res->children[i]) };
        m->topics = weir_realloc(m->topics, (m->topics_n + 1) * sizeof *m->topics);
        if (!m->topics) weir_panic("member: out of memory");
        m->topics[m->topics_n++] = t;
        read_topic(m, t->name);
    }
    m->topics_listed = true;
    changed(m);
}

static void on_topic(struct rp_member *m, const char *name, const struct rp_zk_result *res)
{
    uint32_t ti = topic_index(m, name);
    if (ti == m->topics_n) return; /* gone from the cache meanwhile */
    struct rp_mtopic *t = m->topics[ti];
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 4096, 256u << 20) != WEIR_OK) weir_panic("member: out of memory");
    struct rp_topic_assign ta;
    char why[256];
    if (rp_topic_assign_decode(res->data, res->len, &a, &ta, why, sizeof why) != WEIR_OK) {
        weir_log(WEIR_LOG_WARN, "replication: /brokers/topics/%s unreadable, ignored: %s", name, why);
        weir_arena_destroy(&a);
        return;
    }
    uint32_t old_n = t->parts_n;
    for (uint32_t i = ta.partitions_n; i < old_n; i++) { /* Kafka never shrinks; tolerated */
        role_emit(m, t, i, (struct rp_role){ .kind = RP_ROLE_NONE });
        part_free(&t->parts[i]);
    }
    if (ta.partitions_n != old_n) {
        t->parts = weir_realloc(t->parts, (ta.partitions_n ? ta.partitions_n : 1) * sizeof *t->parts);
        if (!t->parts) weir_panic("member: out of memory");
    }
    for (uint32_t i = old_n; i < ta.partitions_n; i++)
        t->parts[i] = (struct rp_mpart){ .role = { RP_ROLE_NONE, RP_NO_LEADER, 0 } };
    t->parts_n = ta.partitions_n;
    t->assigned = true;
    struct weir_uuid was = t->topic_id;
    if (!ta.topic_id[0] || !weir_uuid_parse(ta.topic_id, &t->topic_id)) t->topic_id = (struct weir_uuid){ { 0 } };
    /* Another id: deleted and re-created while this session saw neither (a
     * paused broker). The cached states are the old topic's, and the new
     * topic's start again at epoch 0 and version 0, so they would read as
     * stale: the old role goes (NONE: the log closes, its files stay), the
     * states are forgotten and read again, and the new role that follows
     * carries the new id (the broker drops its stale copy then). */
    bool reborn = !weir_uuid_is_zero(&was) && !weir_uuid_eq(&was, &t->topic_id);
    if (reborn)
        weir_log(WEIR_LOG_INFO, "replication: topic %s has another id (deleted and re-created): its partition "
                 "states are read again", name);
    for (uint32_t i = 0; i < t->parts_n; i++) {
        struct rp_mpart *p = &t->parts[i];
        const struct rp_part_assign *pa = &ta.parts[i];
        weir_free(p->replicas);
        p->replicas = rp_zk_xmalloc((pa->replicas_n ? pa->replicas_n : 1) * sizeof *p->replicas);
        memcpy(p->replicas, pa->replicas, pa->replicas_n * sizeof *p->replicas);
        p->replicas_n = pa->replicas_n;
        if (reborn && i < old_n) {
            role_emit(m, t, i, (struct rp_role){ .kind = RP_ROLE_NONE });
            *p = (struct rp_mpart){ .replicas = p->replicas, .replicas_n = p->replicas_n, .role = p->role };
        }
        role_emit(m, t, i, role_of(m, p));
        if (i >= old_n || reborn) read_state(m, t->name, i);
    }
    weir_arena_destroy(&a);
    changed(m);
}

/* The "k=v\n" lines of a config znode (topic or broker: the same JSON);
 * unreadable: "", logged. */
static char *config_lines(const char *path, const struct rp_zk_result *res)
{
    struct weir_arena a;
    if (weir_arena_init_growable(&a, 4096, 256u << 20) != WEIR_OK) weir_panic("member: out of memory");
    struct rp_topic_config tc;
    char why[256], *text = NULL;
    if (rp_topic_config_decode(res->data, res->len, &a, &tc, why, sizeof why) == WEIR_OK) {
        size_t cap = 1;
        for (uint32_t i = 0; i < tc.n; i++) cap += strlen(tc.entries[i].key) + strlen(tc.entries[i].value) + 2;
        text = rp_zk_xmalloc(cap);
        char *p = text;
        *p = '\0';
        for (uint32_t i = 0; i < tc.n; i++)
            p += snprintf(p, cap - (size_t)(p - text), "%s=%s\n", tc.entries[i].key, tc.entries[i].value);
    } else {
        weir_log(WEIR_LOG_WARN, "replication: %s unreadable, ignored: %s", path, why);
    }
    weir_arena_destroy(&a);
    return text ? text : rp_zk_xstrdup("");
}

/* /config/topics/<t> into the cache; NONODE: none (Kafka creates it with
 * the topic; a topic created without one has none). Unreadable: none, logged. */
static void on_tconfig(struct rp_member *m, const char *name, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    struct rp_mtopic *t = rp_member_topic(m, name);
    if (!t) return;
    char path[300];
    snprintf(path, sizeof path, "/config/topics/%s", name);
    char *text = rc == RP_ZK_OK ? config_lines(path, res) : rp_zk_xstrdup("");
    bool same = t->config && !strcmp(t->config, text);
    weir_free(t->config);
    t->config = text;
    if (!same && m->cfg.on_config) m->cfg.on_config(m->cfg.role_ctx, name);
    if (!same) changed(m);
}

/* /config/brokers/<default> or /<id> into the cache (res NULL: it does not exist). */
static void on_bconfig(struct rp_member *m, const char *path, const struct rp_zk_result *res)
{
    int w = bconfig_which(m, path);
    if (w < 0) return;
    char *text = res ? config_lines(path, res) : rp_zk_xstrdup("");
    bool same = m->bconfig[w] && !strcmp(m->bconfig[w], text);
    weir_free(m->bconfig[w]);
    m->bconfig[w] = text;
    if (!same && m->cfg.on_bconfig) m->cfg.on_bconfig(m->cfg.role_ctx);
}

static void on_state(struct rp_member *m, const char *path, const struct rp_zk_result *res)
{
    struct rp_mtopic *t;
    uint32_t i;
    struct rp_mpart *p = part_of_path(m, path, &t, &i);
    if (!p) return;
    struct rp_pstate st;
    char why[256];
    if (rp_pstate_decode(res->data, res->len, &st, why, sizeof why) != WEIR_OK) {
        weir_log(WEIR_LOG_WARN, "replication: %s unreadable, ignored: %s", path, why);
        return;
    }
    if (p->seen && (st.leader_epoch < p->st.leader_epoch ||
                 (st.leader_epoch == p->st.leader_epoch && p->known == RP_PRESENT && res->stat.version <= p->version))) {
        weir_log(WEIR_LOG_DEBUG, "replication: %s at epoch %d (version %d) ignored: have %d (version %d)", path,
                 st.leader_epoch, res->stat.version, p->st.leader_epoch, p->version);
        if (res->stat.version > p->version) p->version = res->stat.version, p->mzxid = res->stat.mzxid; /* a write replaces it */
        return;
    }
    WEIR_DASSERT(st.leader_epoch >= p->st.leader_epoch);
    p->st = st;
    p->version = res->stat.version;
    p->mzxid = res->stat.mzxid;
    p->known = RP_PRESENT;
    p->seen = true;
    role_emit(m, t, i, role_of(m, p));
    changed(m);
}

static void state_absent(struct rp_member *m, const char *path)
{
    struct rp_mtopic *t;
    uint32_t i;
    struct rp_mpart *p = part_of_path(m, path, &t, &i);
    if (!p) return;
    p->known = RP_ABSENT;
    changed(m);
}

/* ---- registration ---------------------------------------------------------------- */

static void on_registered(struct rp_member *m)
{
    m->registered = true;
    weir_log(WEIR_LOG_INFO, "replication: broker %d registered (session 0x%llx)", m->cfg.id,
             (unsigned long long)rp_zk_session_id(m->zk));
    resync(m);
    if (m->listener && m->listener->on_session) m->listener->on_session(m->listener_ctx, m->zk);
}

static void register_broker(struct rp_member *m)
{
    struct rp_broker_reg reg = { .version = 5, .jmx_port = -1, .timestamp_ms = m->cfg.timestamp_ms };
    if (m->cfg.endpoints_n) {
        reg.endpoints_n = m->cfg.endpoints_n;
        memcpy(reg.endpoints, m->cfg.endpoints, m->cfg.endpoints_n * sizeof *reg.endpoints);
    } else {
        struct rp_endpoint *ep = &reg.endpoints[0];
        reg.endpoints_n = 1;
        snprintf(ep->listener, sizeof ep->listener, "PLAINTEXT");
        snprintf(ep->protocol, sizeof ep->protocol, "PLAINTEXT");
        snprintf(ep->host, sizeof ep->host, "%s", m->cfg.host);
        ep->port = m->cfg.port;
    }
    char buf[4096], path[64];
    size_t len;
    WEIR_ASSERT(rp_broker_reg_encode(&reg, buf, sizeof buf, &len) == WEIR_OK);
    snprintf(path, sizeof path, "/brokers/ids/%d", m->cfg.id);
    rp_zk_create(m->zk, path, buf, len, RP_ZK_EPHEMERAL, op_done, mop_new(m, MOP_REGISTER, path));
}

/* Another session holds our id: the final failure, naming the other. */
static void refuse(struct rp_member *m, const struct rp_zk_result *res)
{
    struct rp_broker_reg other;
    char why[128];
    if (rp_broker_reg_decode(res->data, res->len, &other, why, sizeof why) != WEIR_OK)
        snprintf(other.host, sizeof other.host, "(unreadable: %s)", why), other.port = -1;
    snprintf(m->failure, sizeof m->failure,
             "broker id %d is already registered by a live broker at %s:%d (/brokers/ids/%d, session 0x%llx)",
             m->cfg.id, other.host, other.port, m->cfg.id, (unsigned long long)res->stat.ephemeral_owner);
    m->failure_err = WEIR_E_EXISTS;
    weir_log(WEIR_LOG_ERROR, "replication: %s", m->failure);
}

/* ---- the cluster id (/cluster/id) --------------------------------------------------- */

static void cluster_id_create(struct rp_member *m)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[22];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) weir_panic("cluster: cannot read /dev/urandom");
    fclose(f);
    char id[23], buf[128];
    for (int i = 0; i < 22; i++) id[i] = alphabet[raw[i] & 63];
    id[22] = '\0';
    struct rp_jw w;
    size_t len;
    rp_jw_init(&w, buf, sizeof buf);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "version");
    rp_jw_str(&w, "1");
    rp_jw_key(&w, "id");
    rp_jw_str(&w, id);
    rp_jw_obj_end(&w);
    WEIR_ASSERT(rp_jw_done(&w, &len) == WEIR_OK);
    rp_zk_create(m->zk, "/cluster/id", buf, len, 0, op_done, mop_new(m, MOP_CID_CREATE, id));
}

/* {"version":"1","id":"..."}: false when unreadable. */
static bool cluster_id_parse(const void *data, size_t n, char *id, size_t cap)
{
    struct rp_jr r;
    char key[RP_JSON_KEY_MAX];
    size_t len;
    id[0] = '\0';
    rp_jr_init(&r, data, n);
    if (!rp_jr_obj_begin(&r)) return false;
    while (rp_jr_obj_next(&r, key))
        if (strcmp(key, "id") == 0 ? !rp_jr_str(&r, id, cap, &len) : !rp_jr_skip(&r)) return false;
    return rp_jr_finish(&r) && id[0];
}

static void cluster_id_take(struct rp_member *m, const char *id)
{
    const char *want = m->cfg.cluster_id_want;
    if (want && want[0] && strcmp(want, id) != 0) {
        m->failure_err = WEIR_E_INVALID;
        snprintf(m->failure, sizeof m->failure,
                 "the cluster id in ZooKeeper (/cluster/id) is %s but meta.properties has cluster.id %s: this data "
                 "directory belongs to another cluster (InconsistentClusterIdException)", id, want);
        weir_log(WEIR_LOG_ERROR, "replication: broker %d: %s", m->cfg.id, m->failure);
        return;
    }
    snprintf(m->cluster_id, sizeof m->cluster_id, "%s", id);
    register_broker(m);
}

static void session_start(struct rp_member *m)
{
    m->fixed_left = FIXED_N;
    for (int i = 0; i < FIXED_N; i++) rp_zk_ensure_path(m->zk, fixed_paths[i], op_done, mop_new(m, MOP_FIXED, fixed_paths[i]));
}

/* ---- completions and session events ------------------------------------------------ */

static void op_done(void *ctx, enum rp_zk_rc rc, const struct rp_zk_result *res)
{
    struct mop *op = ctx;
    struct rp_member *m = op->m;
    if (rc == RP_ZK_CLOSED || op->gen != m->gen || !m->zk || m->failure[0]) {
        weir_free(op);
        return;
    }
    bool watch_set = rc == RP_ZK_OK || ((op->kind == MOP_STATE_EXISTS || op->kind == MOP_BCONFIG_EXISTS) &&
                                         rc == RP_ZK_NONODE);
    if (op->watched && !watch_set) disarm(m, op->kind == MOP_IDS || op->kind == MOP_TOPICS ? 'c' : 'd', op->path);
    if (rc != RP_ZK_OK && rc != RP_ZK_NONODE && rc != RP_ZK_NODEEXISTS)
        weir_log(rc == RP_ZK_CONNECTIONLOSS ? WEIR_LOG_INFO : WEIR_LOG_WARN, "replication: broker %d: %s: %s",
                 m->cfg.id, op->path, rp_zk_rc_str(rc)); /* retried on reconnect or a new session */
    switch (op->kind) {
    case MOP_FIXED:
        if (rc != RP_ZK_OK) m->fixed_left = -1; /* a reconnect starts over */
        else if (m->fixed_left > 0 && --m->fixed_left == 0) {
            if (m->cluster_id[0]) register_broker(m);
            else rp_zk_get(m->zk, "/cluster/id", NULL, NULL, op_done, mop_new(m, MOP_CID_GET, "/cluster/id"));
        }
        break;
    case MOP_CID_CREATE: /* op->path holds the id we offered */
        if (rc == RP_ZK_OK) cluster_id_take(m, op->path);
        else if (rc == RP_ZK_NODEEXISTS) rp_zk_get(m->zk, "/cluster/id", NULL, NULL, op_done, mop_new(m, MOP_CID_GET, "/cluster/id"));
        break;
    case MOP_CID_GET: {
        char id[RP_CLUSTER_ID_CAP];
        if (rc == RP_ZK_NONODE) cluster_id_create(m);
        else if (rc == RP_ZK_OK && cluster_id_parse(res->data, res->len, id, sizeof id)) cluster_id_take(m, id);
        else if (rc == RP_ZK_OK) {
            m->failure_err = WEIR_E_INVALID;
            snprintf(m->failure, sizeof m->failure, "/cluster/id is unreadable (want {\"version\":\"1\",\"id\":\"...\"})");
            weir_log(WEIR_LOG_ERROR, "replication: broker %d: %s", m->cfg.id, m->failure);
        }
        break;
    }
    case MOP_REGISTER:
        if (rc == RP_ZK_OK) on_registered(m);
        else if (rc == RP_ZK_NODEEXISTS) rp_zk_get(m->zk, op->path, NULL, NULL, op_done, mop_new(m, MOP_REG_GET, op->path));
        break;
    case MOP_REG_GET:
        if (rc == RP_ZK_NONODE) register_broker(m); /* the other just left */
        else if (rc == RP_ZK_OK && res->stat.ephemeral_owner == rp_zk_session_id(m->zk)) on_registered(m);
        else if (rc == RP_ZK_OK) refuse(m, res);
        break;
    case MOP_IDS:
        if (rc == RP_ZK_OK) on_ids(m, res);
        break;
    case MOP_BROKER:
        if (rc == RP_ZK_OK) on_broker(m, op->path, res);
        break;
    case MOP_TOPICS:
        if (rc == RP_ZK_OK) on_topics(m, res);
        break;
    case MOP_TOPIC: {
        uint32_t ti = topic_index(m, op->path + strlen("/brokers/topics/"));
        if (rc == RP_ZK_OK) on_topic(m, op->path + strlen("/brokers/topics/"), res);
        else if (rc == RP_ZK_NONODE && ti < m->topics_n) topic_remove(m, ti), changed(m);
        break;
    }
    case MOP_STATE:
        if (rc == RP_ZK_OK) on_state(m, op->path, res);
        else if (rc == RP_ZK_NONODE && arm(m, 'd', op->path)) { /* watch for its creation */
            disarm(m, 'd', op->path);
            read_data(m, MOP_STATE_EXISTS, op->path);
        } else if (rc == RP_ZK_NONODE) state_absent(m, op->path);
        break;
    case MOP_STATE_EXISTS:
        if (rc == RP_ZK_OK) read_data(m, MOP_STATE, op->path); /* created meanwhile; our watch is set */
        else if (rc == RP_ZK_NONODE) state_absent(m, op->path);
        break;
    case MOP_TCONFIG:
        if (rc == RP_ZK_OK || rc == RP_ZK_NONODE) on_tconfig(m, op->path + strlen("/config/topics/"), rc, res);
        break;
    case MOP_BCONFIG:
        if (rc == RP_ZK_OK) on_bconfig(m, op->path, res);
        else if (rc == RP_ZK_NONODE && arm(m, 'd', op->path)) { /* watch for its creation */
            disarm(m, 'd', op->path);
            read_data(m, MOP_BCONFIG_EXISTS, op->path);
        } else if (rc == RP_ZK_NONODE) on_bconfig(m, op->path, NULL);
        break;
    case MOP_BCONFIG_EXISTS:
        if (rc == RP_ZK_OK) read_data(m, MOP_BCONFIG, op->path); /* created meanwhile; our watch is set */
        else if (rc == RP_ZK_NONODE) on_bconfig(m, op->path, NULL);
        break;
    }
    weir_free(op);
}

static void session_event(void *ctx, enum rp_zk_session_event ev)
{
    struct rp_member *m = ctx;
    if (m->failure[0]) return;
    switch (ev) {
    case RP_ZK_SESSION_CONNECTED:
        m->connected = true;
        if (!m->registered) {
            session_start(m);
        } else {
            resync(m);
            if (m->listener && m->listener->on_session) m->listener->on_session(m->listener_ctx, m->zk);
        }
        break;
    case RP_ZK_SESSION_DISCONNECTED: m->connected = false; break;
    case RP_ZK_SESSION_EXPIRED:
        weir_log(WEIR_LOG_WARN, "replication: broker %d: ZooKeeper session expired; registering again", m->cfg.id);
        m->gen++;
        m->registered = m->connected = false;
        m->self_czxid = 0;
        rp_strmap_clear(&m->armed);
        if (m->listener && m->listener->on_session) m->listener->on_session(m->listener_ctx, NULL);
        rp_zk_close(m->zk); /* takes effect when this callback returns */
        m->zk = NULL;
        m->reopen = true;
        break;
    }
}

static void session_open(struct rp_member *m)
{
    m->reopen = false;
    m->gen++;
    m->sessions++;
    m->zk = m->cfg.open(m->cfg.open_ctx, session_event, m);
}

/* ---- the interface --------------------------------------------------------------- */

struct rp_member *rp_member_new(const struct rp_member_cfg *cfg)
{
    struct rp_member *m = rp_zk_xmalloc(sizeof *m);
    *m = (struct rp_member){ .cfg = *cfg };
    m->cfg.host = rp_zk_xstrdup(cfg->host ? cfg->host : "");
    WEIR_ASSERT(cfg->endpoints_n <= RP_ENDPOINTS_MAX);
    m->cfg.endpoints = NULL; /* the caller's; ours is a copy */
    if (cfg->endpoints_n) {
        struct rp_endpoint *eps = rp_zk_xmalloc(cfg->endpoints_n * sizeof *eps);
        memcpy(eps, cfg->endpoints, cfg->endpoints_n * sizeof *eps);
        m->cfg.endpoints = eps;
    }
    m->cfg.cluster_id_want = cfg->cluster_id_want ? rp_zk_xstrdup(cfg->cluster_id_want) : NULL;
    session_open(m);
    return m;
}

int rp_member_dispatch(struct rp_member *m)
{
    int ran = 0;
    if (m->zk) ran = rp_zk_dispatch(m->zk);
    if (m->reopen && !m->failure[0]) {
        session_open(m);
        ran++;
    }
    return ran;
}

void rp_member_listen(struct rp_member *m, const struct rp_member_listener *l, void *ctx)
{
    m->listener = l;
    m->listener_ctx = ctx;
}

const char *rp_member_failure(const struct rp_member *m) { return m->failure[0] ? m->failure : NULL; }

void rp_member_free(struct rp_member *m)
{
    if (!m) return;
    m->gen++;
    if (m->listener && m->listener->on_session) m->listener->on_session(m->listener_ctx, NULL);
    if (m->zk) rp_zk_close(m->zk);
    while (m->topics_n) topic_free(m->topics[--m->topics_n]);
    weir_free(m->topics);
    weir_free(m->brokers);
    weir_free(m->broker_czxid);
    weir_free(m->broker_addr);
    rp_strmap_clear(&m->armed);
    weir_free(m->bconfig[0]);
    weir_free(m->bconfig[1]);
    weir_free((char *)m->cfg.host);
    weir_free((void *)m->cfg.endpoints);
    weir_free((char *)m->cfg.cluster_id_want);
    weir_free(m);
}

bool rp_member_check(const struct rp_member *m)
{
    for (uint32_t i = 1; i < m->brokers_n; i++)
        if (m->brokers[i] <= m->brokers[i - 1]) return false;
    for (uint32_t ti = 0; ti < m->topics_n; ti++) {
        const struct rp_mtopic *t = m->topics[ti];
        if (topic_index(m, t->name) != ti) return false; /* names unique */
        for (uint32_t i = 0; i < t->parts_n; i++) {
            const struct rp_mpart *p = &t->parts[i];
            bool hosted = ids_has(p->replicas, p->replicas_n, m->cfg.id);
            if (!hosted && p->role.kind != RP_ROLE_NONE) return false;
            if (p->known == RP_PRESENT && (p->st.isr_n > RP_REPLICAS_MAX || p->role.epoch > p->st.leader_epoch))
                return false;
        }
    }
    return true;
}
