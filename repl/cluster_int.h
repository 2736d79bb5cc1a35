/* repl/cluster_int.h: the control plane over struct rp_zk (private to repl/):
 *
 *   strmap.c     a string -> int64 hash map (watch and write bookkeeping)
 *   member.c     one broker's membership: its /brokers/ids/<id> registration,
 *                the fixed paths, a metadata cache kept by watches (live
 *                brokers, topic assignments, partition states) and the roles
 *                this broker derives from it
 *   controller.c the controller: election on /controller, /controller_epoch,
 *                state znodes for new partitions, elections for gone and
 *                returning brokers, topic deletion, controlled shutdown
 *                (/weir/shutdown/<id>), preferred leaders; every write fenced by a
 *                CHECK of /controller_epoch's version
 *
 * Both run on the member's one ZooKeeper session, from rp_member_dispatch
 * (one thread). Session expiry: the member closes the handle, opens a new
 * session, registers again and re-reads everything; the controller resigns
 * and stands for election again on the new session. */
#ifndef WEIR_REPL_CLUSTER_INT_H
#define WEIR_REPL_CLUSTER_INT_H

#include "core_int.h"
#include "repl.h"
#include "zk_int.h"

/* ---- strmap.c ------------------------------------------------------------------ */

struct rp_strmap_ent;
struct rp_strmap {
    struct rp_strmap_ent **b;
    size_t nb, n;
};
bool rp_strmap_get(const struct rp_strmap *m, const char *k, int64_t *v); /* v may be NULL */
void rp_strmap_put(struct rp_strmap *m, const char *k, int64_t v);        /* inserts or replaces */
bool rp_strmap_del(struct rp_strmap *m, const char *k);                   /* true: it was there */
void rp_strmap_clear(struct rp_strmap *m);                                /* empty, memory freed */

/* ---- member.c -------------------------------------------------------------------- */

enum rp_role_kind { RP_ROLE_NONE, RP_ROLE_LEADER, RP_ROLE_FOLLOWER, RP_ROLE_OFFLINE };
/* A hosted partition's role: LEADER at epoch; FOLLOWER of leader at epoch;
 * OFFLINE (leader -1) at epoch; NONE: not hosted (topic deleted, or this
 * broker no longer among its replicas). */
struct rp_role {
    enum rp_role_kind kind;
    int32_t leader, epoch;
};

enum rp_known { RP_UNREAD, RP_ABSENT, RP_PRESENT }; /* a partition state znode, as last read */

struct rp_mpart {
    int32_t *replicas; /* the assignment's, weir_malloc'd */
    uint32_t replicas_n;
    enum rp_known known;
    struct rp_pstate st; /* PRESENT (and kept while ABSENT: the epoch floor) */
    int32_t version;     /* the state znode's newest data version read */
    int64_t mzxid;       /* and the zxid that wrote it */
    bool seen;           /* st has been read once (its epoch is the floor) */
    struct rp_role role; /* last emitted for this broker */
};

struct rp_mtopic {
    char *name;
    bool assigned; /* the topic znode has been read */
    struct weir_uuid topic_id; /* the topic znode's "topic_id"; zero when it has none (before Kafka 2.8) */
    char *config; /* /config/topics/<t> as "k=v\n" lines ("": none); NULL: not read yet */
    uint32_t parts_n;
    struct rp_mpart *parts;
};

/* Where a live broker listens: its registration's endpoints. */
struct rp_broker_addr {
    bool read;    /* false: its registration not read yet (or unreadable) */
    uint32_t endpoints_n;
    struct rp_endpoint endpoints[RP_ENDPOINTS_MAX];
};

enum { RP_CLUSTER_ID_CAP = 64 };
struct rp_member;
/* Opens a session whose events go to (cb, cb_ctx); never NULL. */
typedef struct rp_zk *rp_member_open_fn(void *ctx, rp_zk_session_fn *cb, void *cb_ctx);
/* A role change of a partition this broker hosts (or hosted: NONE). */
typedef void rp_member_role_fn(void *ctx, const char *topic, uint32_t partition, const struct rp_role *role);

struct rp_member_cfg {
    int32_t id;
    const struct rp_endpoint *endpoints; /* registered (copied); endpoints_n 0: one PLAINTEXT at host:port */
    uint32_t endpoints_n;
    const char *host;
    int32_t port;
    int64_t timestamp_ms; /* written into the registration */
    rp_member_open_fn *open;
    void *open_ctx;
    rp_member_role_fn *on_role; /* may be NULL */
    void (*on_config)(void *ctx, const char *topic); /* /config/topics/<t> read anew and changed; role_ctx; may be NULL */
    void (*on_bconfig)(void *ctx); /* /config/brokers/<default> or /<id> read anew and changed; role_ctx; may be NULL */
    void *role_ctx;
    const char *cluster_id_want; /* meta.properties' cluster.id; "" or NULL: take /cluster/id's */
};

/* One listener (the controller): on_session(zk) once this broker is registered
 * on a session, again after a reconnect of the same session, and (NULL) when
 * the session expired; on_change after every change of the cache. */
struct rp_member_listener {
    void (*on_session)(void *ctx, struct rp_zk *zk);
    void (*on_change)(void *ctx);
};

struct rp_member {
    struct rp_member_cfg cfg;
    struct rp_zk *zk;   /* the current session; NULL between expiry and reopen */
    uint64_t gen;       /* session generation: completions of older ones are dropped */
    bool reopen;        /* the session expired: open another after dispatch */
    bool registered, connected, disconnected_once;
    int fixed_left;     /* fixed paths still being ensured */
    char failure[768];  /* "" unless registration was refused (final) */
    enum weir_err failure_err; /* with failure: WEIR_E_EXISTS (id taken), WEIR_E_INVALID (other cluster) */
    char cluster_id[RP_CLUSTER_ID_CAP]; /* /cluster/id's id, "" until read; then fixed for good */
    bool brokers_known;
    bool topics_listed; /* /brokers/topics' children read once (the names below are the cluster's) */
    int32_t *brokers;   /* live broker ids, ascending */
    int64_t *broker_czxid; /* per brokers[i]: its registration's czxid, 0 until read */
    struct rp_broker_addr *broker_addr; /* per brokers[i]: from its registration (read false until read) */
    int64_t self_czxid;    /* our registration's czxid on this session, 0 until read */
    uint32_t brokers_n;
    struct rp_mtopic **topics;
    uint32_t topics_n;
    struct rp_strmap armed; /* "c:" / "d:" + path: a watch of ours is registered there */
    /* /config/brokers/<default> ([0]) and /config/brokers/<id> ([1]) as
     * "k=v\n" lines ("": none); NULL: not read yet */
    char *bconfig[2];
    const struct rp_member_listener *listener;
    void *listener_ctx;
    uint64_t sessions;  /* sessions opened */
};

/* Opens the first session; registration and reads start from dispatch. */
struct rp_member *rp_member_new(const struct rp_member_cfg *cfg);
/* Runs ready callbacks; after an expiry, opens a new session. Returns how
 * many callbacks ran (0: idle now). */
int rp_member_dispatch(struct rp_member *m);
/* Closes the session (its ephemeral registration goes) and frees m. */
void rp_member_free(struct rp_member *m);
void rp_member_listen(struct rp_member *m, const struct rp_member_listener *l, void *ctx);
/* Registration refused (another live broker has the id): the reason, else NULL. */
const char *rp_member_failure(const struct rp_member *m);
bool rp_member_broker_live(const struct rp_member *m, int32_t id);
/* The children of a znode that are broker ids (decimal int32 >= 0), ascending,
 * in an rp_zk_xmalloc'd array (*n of them; the caller frees it). */
int32_t *rp_children_ids(const struct rp_zk_result *res, uint32_t *n);
struct rp_mtopic *rp_member_topic(const struct rp_member *m, const char *name);
/* weir_cluster_stray's rule over the cache alone (the deletion requests are
 * the cluster's): UNSURE until the topic list and every listed topic's znode
 * have been read. */
enum weir_stray rp_member_stray(const struct rp_member *m, const char *topic, int32_t partition,
                                const struct weir_uuid *local_id);
/* The invariants of the cache; true when they hold (WEIR_DASSERT). */
bool rp_member_check(const struct rp_member *m);

/* ---- controller.c ------------------------------------------------------------------ */

enum rp_ctlr_state { RP_CTLR_IDLE, RP_CTLR_ELECTING, RP_CTLR_STANDBY, RP_CTLR_ACTIVE };

struct rp_ctlr {
    struct rp_member *m;
    int32_t id;
    bool unclean;             /* unclean.leader.election.enable: the default for topics that do not set it */
    struct rp_zk *zk;         /* the member's session, NULL when none */
    uint64_t gen;             /* bumped on every session event: stale completions dropped */
    enum rp_ctlr_state state;
    int32_t epoch;            /* ACTIVE: this controller's epoch */
    int32_t epoch_version;    /* /controller_epoch's zk version that fences our writes */
    bool ctl_armed, del_armed; /* watches on /controller, /admin/delete_topics children */
    struct rp_strmap inflight; /* state path -> version written against (-1: create) */
    struct rp_strmap deleting; /* topics being deleted */
    struct rp_strmap broker_zxid; /* "<id>" -> the czxid of its registration last seen */
    bool shut_armed;          /* watch on /weir/shutdown children */
    int32_t *shut;            /* brokers asking for a controlled shutdown, ascending */
    uint32_t shut_n;
    struct rp_strmap shut_done; /* "<id>:<state path>": that broker was taken out of that ISR once */
    struct rp_strmap tcfg;    /* topic -> its unclean.leader.election.enable (controller.c's TCFG_*) */
    struct rp_strmap tcfg_armed; /* topics whose /config/topics/<t> has a watch of ours */
    uint64_t elected, resigned, fenced; /* counters */
};

/* Listens to m (its one listener) and stands for election once m is registered. */
void rp_ctlr_init(struct rp_ctlr *c, struct rp_member *m, bool unclean);
/* After rp_member_free(m): closing the session runs the controller's
 * completions, so c must outlive it. */
void rp_ctlr_fini(struct rp_ctlr *c);
/* Writes state s to topic/partition on the current session, conditional on
 * the state znode's version (-1: create it) and on /controller_epoch having
 * the version this controller last won it at; done gets the multi's result.
 * The controller's own path; exposed so tests can show a deposed
 * controller's write failing the epoch check (failed_op 0, BADVERSION). */
/* Auto leader rebalance (KafkaController.checkAndTriggerAutoLeaderRebalance),
 * when ACTIVE: for each live broker (not shutting down) whose share of
 * partitions led by another exceeds imbalance_pct, the partitions whose
 * preferred replica it is get it back as leader where it is in the ISR. */
void rp_ctlr_rebalance(struct rp_ctlr *c, int32_t imbalance_pct);
void rp_ctlr_write_state(struct rp_ctlr *c, const char *topic, uint32_t partition, const struct rp_pstate *s,
                         int32_t version, rp_zk_done_fn *done, void *ctx);

#endif
