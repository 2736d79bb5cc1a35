/* repl/repl.h: replication, the way Apache Kafka did it with ZooKeeper.
 *
 * Each partition has one leader, which alone takes produce and consumer
 * fetch; followers pull from it with the Fetch API; the in-sync replica set
 * (ISR) decides what is committed; a controller elects leaders from the ISR.
 * Cluster metadata lives in ZooKeeper under Kafka's znode layout.
 * See docs/replication.md.
 *
 * Two parts, both used by net/:
 *   1. struct weir_cluster: this broker's membership (registration, the
 *      metadata cache kept by watches, roles, the controller, admin writes),
 *      run on a thread of its own (cluster.c over member.c and controller.c).
 *   2. struct weir_repl_leader and the truncation rule: the per-partition
 *      state a leader keeps on the partition's owner reactor (follower
 *      offsets, ISR, high watermark) and what a follower truncates to
 *      (replica.c, thin wrappers over the deterministic core). No I/O, no
 *      clock of their own: time is an argument. */
#ifndef WEIR_REPL_H
#define WEIR_REPL_H

#include "base/base.h"

enum {
    WEIR_REPLICAS_MAX = 64,    /* replicas of one partition (and so ISR size) */
    WEIR_REPL_HOST_MAX = 256,  /* host name bytes, NUL included */
    WEIR_REPL_LISTENER_MAX = 64, /* listener name bytes, NUL included */
    WEIR_REPL_ENDPOINTS_MAX = 8, /* listeners of one broker */
};

/* One of a broker's advertised listeners (security protocol PLAINTEXT). */
struct weir_repl_endpoint {
    char listener[WEIR_REPL_LISTENER_MAX]; /* upper case: PLAINTEXT, REPLICATION, ... */
    char host[WEIR_REPL_HOST_MAX];
    int32_t port;
};
#define WEIR_NO_LEADER (-1)    /* a partition without a leader (offline) */

/* ---- the cluster ----------------------------------------------------------------- */

struct weir_cluster;

struct weir_cluster_config {
    char zk_connect[1024];       /* zookeeper.connect: "h:p[,h:p...][/chroot]" */
    int32_t broker_id;           /* broker.id / node.id */
    /* Registered in /brokers/ids/<id> (what others dial): endpoints_n
     * advertised listeners, or with endpoints_n 0 one PLAINTEXT at host:port. */
    uint32_t endpoints_n;
    struct weir_repl_endpoint endpoints[WEIR_REPL_ENDPOINTS_MAX];
    char host[WEIR_REPL_HOST_MAX];
    int32_t port;
    int32_t session_timeout_ms;  /* zookeeper.session.timeout.ms, default 18000 */
    int32_t connect_timeout_ms;  /* zookeeper.connection.timeout.ms: start waits this long to register */
    bool unclean_election;       /* unclean.leader.election.enable: the broker default */
    bool auto_rebalance;         /* auto.leader.rebalance.enable */
    int64_t rebalance_check_ms;  /* leader.imbalance.check.interval.seconds x 1000 */
    int32_t imbalance_pct;       /* leader.imbalance.per.broker.percentage */
    char cluster_id[64];         /* meta.properties' cluster.id; "": none yet (take the cluster's) */
};

struct weir_broker_addr {
    int32_t id;
    char host[WEIR_REPL_HOST_MAX];
    int32_t port;
};

enum weir_role_kind {
    WEIR_ROLE_NONE,     /* not hosted here (deleted, or no longer a replica) */
    WEIR_ROLE_LEADER,   /* this broker leads at leader_epoch */
    WEIR_ROLE_FOLLOWER, /* `leader` leads at leader_epoch; this broker fetches from it */
    WEIR_ROLE_OFFLINE,  /* no leader (leader -1): neither serve nor fetch */
};

/* A partition as the cache last read it: its assignment and its state znode. */
struct weir_partition_info {
    int32_t leader;          /* WEIR_NO_LEADER when offline */
    int32_t leader_epoch;
    int32_t zk_version;      /* the state znode's data version (fences ISR writes) */
    uint32_t replicas_n, isr_n;
    int32_t replicas[WEIR_REPLICAS_MAX]; /* the assignment; replicas[0] is the preferred leader */
    int32_t isr[WEIR_REPLICAS_MAX];
};

/* A role of a partition this broker hosts (or hosted: NONE), with the state it
 * comes from. Roles of one partition arrive in order, leader epochs never
 * decreasing. */
struct weir_role {
    enum weir_role_kind kind;
    struct weir_partition_info info;
    struct weir_uuid topic_id; /* the topic znode's id; zero when it has none */
};

/* Called on the cluster's thread; keep them short (post work elsewhere). */
struct weir_cluster_ops {
    void (*on_role)(void *ctx, const char *topic, int32_t partition, const struct weir_role *role);
    void (*on_change)(void *ctx); /* brokers, topics or states changed (may be NULL) */
    /* a topic's /config/topics znode read with other configs than before
     * (may be NULL); weir_cluster_topic_configs has the new ones */
    void (*on_topic_config)(void *ctx, const char *topic);
    /* /config/brokers/<default> or /config/brokers/<id> read with other
     * configs than before (may be NULL); weir_cluster_broker_configs has them */
    void (*on_broker_config)(void *ctx);
};

/* Connects to ZooKeeper, creates the fixed paths, reads the cluster id
 * (/cluster/id, created by the first broker), registers this broker
 * (ephemeral /brokers/ids/<id>), stands for controller and starts the
 * cluster's thread; returns once registered (with the live brokers, itself
 * among them, read) or refused, or after connect_timeout_ms. Roles for
 * hosted partitions follow on the thread, possibly before this returns:
 * *out is set (atomically) before the thread starts, NULL again on an error.
 * Errors: WEIR_E_BAD_CONFIG (zk_connect), WEIR_E_EXISTS (another live broker
 * has the id), WEIR_E_INVALID (cfg->cluster_id is set and differs from
 * the cluster's: Kafka's InconsistentClusterIdException), WEIR_E_TIMEOUT (no session or registration in time), with one
 * line for the user in why. */
enum weir_err weir_cluster_start(const struct weir_cluster_config *cfg, const struct weir_cluster_ops *ops,
                                 void *ctx, struct weir_cluster **out, char *why, size_t why_cap);
/* Stops the thread and closes the session (the registration goes). No
 * callback runs after it returns. */
void weir_cluster_stop(struct weir_cluster *cl);

/* Queries of the cache: any thread, each a consistent snapshot. */
int32_t weir_cluster_id_self(const struct weir_cluster *cl);
/* The cluster's id (/cluster/id) into buf: the same on every broker, fixed
 * once read ("" before, while start has not returned). */
void weir_cluster_id(struct weir_cluster *cl, char *buf, size_t cap);
int32_t weir_cluster_controller(struct weir_cluster *cl); /* -1 when none is known */
/* Live brokers (registration read) in ascending id order, each with its
 * endpoint of `listener` (host "" and port -1 when it has no such listener,
 * or listener is NULL: Metadata leaves it out); returns how many there are
 * (may exceed cap). */
size_t weir_cluster_brokers(struct weir_cluster *cl, const char *listener, struct weir_broker_addr *out, size_t cap);
/* A live broker's endpoint of `listener`; false when it is not live or has
 * no such listener. */
bool weir_cluster_broker(struct weir_cluster *cl, int32_t id, const char *listener, struct weir_broker_addr *out);
/* Partitions of a topic whose assignment has been read, else -1. */
int32_t weir_cluster_topic_partitions(struct weir_cluster *cl, const char *topic);
/* Whether the cluster has a topic of that name (its assignment read or not):
 * 1 yes, 0 no, -1 not known yet (the topic list not read since start). */
int weir_cluster_topic_listed(struct weir_cluster *cl, const char *topic);
/* The topic's id (its znode's "topic_id", Kafka 2.8+) into *out: false when
 * the topic's assignment is not read or it has no id (*out zeroed). */
bool weir_cluster_topic_id(struct weir_cluster *cl, const char *topic, struct weir_uuid *out);
/* Names of known topics (not being deleted), each strdup'd with weir_malloc
 * into out (cap of them); returns how many there are (may exceed cap). */
size_t weir_cluster_topics(struct weir_cluster *cl, char **out, size_t cap);
/* Kafka's stray-log rule (KRaft, KIP-858) for a partition this broker holds
 * on disk, from one snapshot of the cache. local_id is the id in its
 * partition.metadata, NULL when there is none (or it is unreadable): then
 * only the rules that need no id apply. Never STRAY while in doubt. */
enum weir_stray {
    WEIR_STRAY_KEEP,     /* the cluster's, or not provably stale: kept */
    WEIR_STRAY_UNSURE,   /* not decidable yet: the topic list or a topic znode
                            not read since start, or the topic has a deletion
                            request: ask again later */
    WEIR_STRAY_NO_TOPIC, /* (a) the cluster has no topic of that name */
    WEIR_STRAY_OTHER_ID, /* (b) its topic has another id and this broker is
                            not in the partition's assignment */
    WEIR_STRAY_BEYOND,   /* (c) the partition is past the topic's partition count */
};
enum weir_stray weir_cluster_stray(struct weir_cluster *cl, const char *topic, int32_t partition,
                                   const struct weir_uuid *local_id);
/* false: topic or partition unknown, or its state not read yet. */
bool weir_cluster_partition(struct weir_cluster *cl, const char *topic, int32_t partition,
                            struct weir_partition_info *out);

/* Admin writes, from any broker (Kafka's AdminZkClient). done(ctx, err, why)
 * runs once on the cluster's thread; why is a line for error_message.
 * Errors: WEIR_E_EXISTS (topic exists), WEIR_E_NOT_FOUND, WEIR_E_INVALID
 * (replication factor above the live brokers, or 0; with a client's
 * assignment: the assignment does not fit), WEIR_E_UNAVAILABLE (no
 * session now), WEIR_E_IO (ZooKeeper refused). */
typedef void weir_cluster_done_fn(void *ctx, enum weir_err err, const char *why);
/* A client's replica assignment (Kafka's replica_assignment): `parts`
 * partitions of rf replicas each, partition i's broker ids at ids[i * rf],
 * the first of them its preferred leader. Borrowed for the call only. */
struct weir_assignment {
    const int32_t *ids;
    int32_t parts;
    int16_t rf;
};
/* Writes the assignment and the topic's configs (keys[i]=values[i], n of
 * them); the controller creates the states. asg NULL: assigned here
 * (rack-unaware, Kafka's); else exactly asg (partitions and rf are then
 * asg's), written without a look at the live brokers (AdminZkClient's
 * createTopicWithAssignment: the caller checked them). */
void weir_cluster_topic_create(struct weir_cluster *cl, const char *topic, int32_t partitions, int16_t rf,
                               const struct weir_assignment *asg, const char *const *keys,
                               const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx);
/* Replaces /config/topics/<topic> with keys[i]=values[i] (AdminZkClient.
 * changeTopicConfig; every broker's watch on it reads the change: weir
 * writes no /config/changes notification). WEIR_E_NOT_FOUND: no such topic. */
void weir_cluster_topic_configure(struct weir_cluster *cl, const char *topic, const char *const *keys,
                                  const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx);
/* Writes /admin/delete_topics/<topic>; the controller deletes it. */
void weir_cluster_topic_delete(struct weir_cluster *cl, const char *topic, weir_cluster_done_fn *done, void *ctx);
/* Grows the assignment to `total` partitions (existing ones unchanged). asg
 * NULL: the new ones assigned here (Kafka's rule: from the broker at or after
 * partition 0's first replica); else asg gives them, which must be one each
 * (total minus the partitions the znode has) of partition 0's replica count:
 * WEIR_E_INVALID otherwise (Kafka's INVALID_REPLICA_ASSIGNMENT messages). */
void weir_cluster_partitions_add(struct weir_cluster *cl, const char *topic, int32_t total,
                                 const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx);
/* Replaces the dynamic broker configs of broker (its id; NULL: the cluster's
 * default, /config/brokers/<default>) with lines ("k=v\n"), as Kafka's
 * AdminZkClient.changeBrokerConfig (no /config/changes notification: every
 * broker watches both znodes it reads). done(ctx, err, why) runs once on the
 * cluster's thread, after the write. */
void weir_cluster_broker_configure(struct weir_cluster *cl, const char *broker, const char *lines,
                                   weir_cluster_done_fn *done, void *ctx);
/* The dynamic broker configs cached from /config/brokers/<default> (dflt)
 * and /config/brokers/<this id> (self) as "k=v\n" lines ("" when the znode
 * does not exist). WEIR_E_UNAVAILABLE: not read yet; WEIR_E_TOO_LARGE. */
enum weir_err weir_cluster_broker_configs(struct weir_cluster *cl, char *dflt, size_t dflt_cap, char *self,
                                          size_t self_cap);
/* A topic's configs as stored in /config/topics/<t>: "k=v\n" lines into buf
 * (none: ""), from the metadata cache (read before the topic znode, kept by a
 * watch): never waits for ZooKeeper. Errors: WEIR_E_NOT_FOUND (not a topic
 * the cache knows), WEIR_E_UNAVAILABLE (not read yet), WEIR_E_TOO_LARGE (cap). */
enum weir_err weir_cluster_topic_configs(struct weir_cluster *cl, const char *topic, char *buf, size_t cap);

/* The leader's ISR change: writes {leader = me, leader_epoch, isr} to the
 * state znode conditional on zk_version (what it last read). done(ctx, err,
 * new_version) on the cluster's thread: WEIR_OK with the znode's new version
 * (also when the znode already holds exactly this write: its answer was
 * lost, Kafka's checkLeaderAndIsrZkData), WEIR_E_STALE when the version
 * moved (re-read with weir_cluster_partition: a newer role follows when the
 * controller changed it), WEIR_E_NOT_FOUND (no such partition state),
 * WEIR_E_UNAVAILABLE without a session. */
typedef void weir_cluster_isr_done_fn(void *ctx, enum weir_err err, int32_t new_version);
void weir_cluster_isr_write(struct weir_cluster *cl, const char *topic, int32_t partition, int32_t leader_epoch,
                            int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                            void *ctx);

/* Controlled shutdown (controlled.shutdown.enable): asks the controller to
 * move this broker's leaderships to other ISR members and take it out of the
 * ISRs; returns WEIR_OK once it leads no partition that has another live ISR
 * member, WEIR_E_TIMEOUT after timeout_ms. */
enum weir_err weir_cluster_shutdown(struct weir_cluster *cl, int64_t timeout_ms);

/* ---- the metadata interface: one for both modes -----------------------------------
 * What net/ asks about brokers, topics and partitions, and how it creates
 * topics, whichever backend answers (net/ never asks which):
 *   weir_meta_cluster_new: a cluster's, from struct weir_cluster (ZooKeeper);
 *   weir_meta_local_new:   a single node's, from the engine's file-based
 *                          topic store: one live broker (this one), which is
 *                          the controller and leads every partition at leader
 *                          epoch 0 with replicas = ISR = {itself}.
 * Queries: any thread, each a consistent snapshot (as the cluster's above). */

struct weir_meta;
struct weir_store;
struct weir_log_config;
struct weir_topic_deletion;

/* How a single node hosts partitions new to it and lets go of a deleted
 * topic's. open: partitions [from, to) of a topic its store just created or
 * grew: opens them, then done(done_ctx, err, why); on an error the host has
 * rolled the topic back. remove: a topic whose deletion d the store began:
 * closes its partitions' logs (weir_store_deletion_take_log), calls
 * weir_store_topic_delete_finish(d), then done(done_ctx, WEIR_OK, ""). Both
 * run on the thread that called weir_meta_topic_create, _partitions_add or
 * _topic_delete; done may run before they return. */
struct weir_meta_local_host {
    void (*open)(void *ctx, const char *topic, int32_t from, int32_t to, weir_cluster_done_fn *done, void *done_ctx);
    void *ctx;
    void (*remove)(void *ctx, const char *topic, struct weir_topic_deletion *d, weir_cluster_done_fn *done,
                   void *done_ctx);
};

/* The cluster's backend: borrows cl (which must outlive it); rf_default is
 * default.replication.factor. NULL: out of memory. */
struct weir_meta *weir_meta_cluster_new(struct weir_cluster *cl, int16_t rf_default);
/* The single node's backend: borrows st (which must outlive it); self_id and
 * its advertised listeners (endpoints_n of them, copied), cluster_id its
 * meta.properties id. NULL: out of memory. */
struct weir_meta *weir_meta_local_new(struct weir_store *st, int32_t self_id, const struct weir_repl_endpoint *endpoints,
                                      uint32_t endpoints_n, const char *cluster_id,
                                      const struct weir_meta_local_host *host);
/* At start: weir_meta_local_new, after giving the store's topics from before
 * topic ids one each. Errors: WEIR_E_IO (an id not written), WEIR_E_NOMEM;
 * then *out is NULL and why has one line. */
enum weir_err weir_meta_local_open(struct weir_store *st, int32_t self_id, const struct weir_repl_endpoint *endpoints,
                                   uint32_t endpoints_n, const char *cluster_id,
                                   const struct weir_meta_local_host *host, struct weir_meta **out, char *why,
                                   size_t why_cap);
void weir_meta_free(struct weir_meta *m);

int32_t weir_meta_id_self(const struct weir_meta *m);
/* The cluster id into buf ("" when not known yet). */
void weir_meta_cluster_id(struct weir_meta *m, char *buf, size_t cap);
int32_t weir_meta_controller(struct weir_meta *m); /* -1 when none is known */
/* Live brokers in ascending id order, each with its endpoint of `listener` (as
 * weir_cluster_brokers); returns how many there are (may exceed cap). */
size_t weir_meta_brokers(struct weir_meta *m, const char *listener, struct weir_broker_addr *out, size_t cap);
/* A live broker's endpoint of `listener`; false when not live or without it. */
bool weir_meta_broker(struct weir_meta *m, int32_t id, const char *listener, struct weir_broker_addr *out);
/* Partitions of a known topic, else -1. */
int32_t weir_meta_topic_partitions(struct weir_meta *m, const char *topic);
/* Names of known topics, each strdup'd with weir_malloc into out (cap of
 * them); returns how many there are (may exceed cap). */
size_t weir_meta_topics(struct weir_meta *m, char **out, size_t cap);
/* The topic's id (Kafka's Uuid: the topic znode's, or the local store's)
 * into *out; false (*out zeroed) when unknown or the topic has none. */
bool weir_meta_topic_id(struct weir_meta *m, const char *topic, struct weir_uuid *out);
/* false: topic or partition unknown, or its state not read yet. */
bool weir_meta_partition(struct weir_meta *m, const char *topic, int32_t partition, struct weir_partition_info *out);
/* A topic's effective config: defaults with the topic's own settings over
 * them, into *out; set gets "\nkey\n" for each key the topic sets itself
 * ("\n" or "" when none). From the cache (weir_cluster_topic_configs).
 * Errors: WEIR_E_NOT_FOUND (no such topic), WEIR_E_NOMEM. */
enum weir_err weir_meta_topic_config(struct weir_meta *m, const char *topic, const struct weir_log_config *defaults,
                                     struct weir_log_config *out, char *set, size_t set_cap);
/* Creates a topic of `partitions` with replication factor rf (-1: the
 * backend's default: default.replication.factor in a cluster, 1 on a single
 * node) and configs keys[i]=values[i]; asg NULL: the backend assigns the
 * replicas, else asg, each partition's checked with
 * weir_meta_assignment_check (partitions and rf are then asg's; a cluster
 * writes asg as given). WEIR_OK: done(ctx, err, why) runs
 * once, when the topic is written (a cluster: on its thread; the
 * controller then elects leaders) or opened here (a single node: possibly
 * before this returns). Otherwise refused now, done does not run, why says
 * why: WEIR_E_INVALID (rf below 1 or above the live brokers), the store's
 * errors on a single node (WEIR_E_EXISTS, WEIR_E_BAD_NAME, ...). */
enum weir_err weir_meta_topic_create(struct weir_meta *m, const char *topic, int32_t partitions, int16_t rf,
                                     const struct weir_assignment *asg, const char *const *keys,
                                     const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap);
/* Replaces a topic's own configs with keys[i]=values[i] (n of them; every
 * other key takes the broker's default), as AlterConfigs does; the caller
 * has checked them (weir_log_config_set). WEIR_OK: done(ctx, err, why) runs
 * once the configs are written (a cluster: /config/topics/<t> on the
 * cluster's thread; each replica applies them to its logs when its watch
 * fires) or written and applied (a single node: before this returns).
 * Refused now (done does not run): WEIR_E_NOT_FOUND, the store's errors on a
 * single node (WEIR_E_BAD_CONFIG, WEIR_E_IO). */
enum weir_err weir_meta_topic_configure(struct weir_meta *m, const char *topic, const char *const *keys,
                                        const char *const *values, uint32_t n, weir_cluster_done_fn *done, void *ctx,
                                        char *why, size_t why_cap);
/* The replication factor a topic created with rf (-1: the backend's
 * default) gets; -1 and why when the backend cannot place it: a single
 * node takes only 1; a cluster [1, WEIR_REPLICAS_MAX], at most its live
 * brokers. */
int32_t weir_meta_replication_factor(struct weir_meta *m, int32_t rf, char *why, size_t why_cap);
/* A client's replica assignment of one partition (n broker ids, the first
 * the preferred leader; ids may be NULL with n 0): WEIR_OK when the backend
 * can place it so, else WEIR_E_INVALID and why (Kafka's words, naming
 * `partition`; INVALID_REPLICA_ASSIGNMENT on the wire). A single node: itself
 * alone. A cluster: 1 to WEIR_REPLICAS_MAX distinct ids, each a live
 * (registered) broker's, from the cache (WEIR_E_NOMEM when it cannot copy
 * them); checks across partitions (the same count in each) are the caller's. */
enum weir_err weir_meta_assignment_check(struct weir_meta *m, int32_t partition, const int32_t *ids, int32_t n,
                                         char *why, size_t why_cap);
/* Deletes a topic. WEIR_OK: done(ctx, err, why) runs once when the deletion
 * is written (a cluster: on its thread; the controller then deletes it) or
 * done (a single node: its logs closed and its files gone; possibly before
 * this returns). Otherwise refused now (done does not run): WEIR_E_NOT_FOUND
 * and the store's errors on a single node. */
enum weir_err weir_meta_topic_delete(struct weir_meta *m, const char *topic, weir_cluster_done_fn *done, void *ctx,
                                     char *why, size_t why_cap);
/* Grows a topic to `total` partitions (existing ones unchanged), as
 * weir_meta_topic_create: done runs once written (a cluster; the controller
 * elects the new partitions' leaders) or opened here (a single node). asg
 * NULL: the backend assigns the new partitions; else asg gives them, each
 * checked with weir_meta_assignment_check (a cluster: done gets
 * WEIR_E_INVALID when asg does not give (total - current) partitions of the
 * topic's replication factor; weir_cluster_partitions_add). Refused now:
 * WEIR_E_NOT_FOUND, the store's errors on a single node
 * (WEIR_E_BAD_PARTITIONS, ...). */
enum weir_err weir_meta_partitions_add(struct weir_meta *m, const char *topic, int32_t total,
                                       const struct weir_assignment *asg, weir_cluster_done_fn *done, void *ctx,
                                       char *why, size_t why_cap);
/* A leader's ISR change, as weir_cluster_isr_write (done on the cluster's
 * thread). A single node's partitions are led alone and never change their
 * ISR: there done(ctx, WEIR_E_UNSUPPORTED, -1) runs at once. */
void weir_meta_isr_write(struct weir_meta *m, const char *topic, int32_t partition, int32_t leader_epoch,
                         int32_t zk_version, const int32_t *isr, uint32_t isr_n, weir_cluster_isr_done_fn *done,
                         void *ctx);

/* ---- a leader's partition state (kafka.cluster.Partition) ------------------------
 * Lives on the partition's owner thread. Invariants: the leader is in its
 * ISR; hw <= the leader's log end and never moves back while it leads at one
 * epoch; one ISR proposal at a time, applied only after its znode write. */

struct weir_repl_leader;

/* What a fetch or a tick produced: hw_advanced (set the log's HW to
 * weir_repl_leader_hw and wake its waiters); propose (write isr with
 * weir_cluster_isr_write, then call _isr_applied or _isr_failed). */
struct weir_repl_result {
    bool hw_advanced;
    bool propose;
    uint32_t isr_n;
    int32_t isr[WEIR_REPLICAS_MAX];
};

struct weir_repl_leader *weir_repl_leader_new(void);
void weir_repl_leader_free(struct weir_repl_leader *l);
/* Becoming leader at info->leader_epoch, or a newer state while leading
 * (Partition.makeLeader): leo and hw are the local log's end and HW.
 * Errors: WEIR_E_INVALID (me not in the ISR, ISR outside the replicas,
 * an epoch below the current one, hw > leo); nothing changes then. */
enum weir_err weir_repl_leader_make(struct weir_repl_leader *l, int32_t me, const struct weir_partition_info *info,
                                    int64_t leo, int64_t hw, int64_t lag_max_ms, int64_t now_ms, bool *hw_advanced);
/* The local log grew to leo; true when the HW advanced. */
bool weir_repl_leader_on_append(struct weir_repl_leader *l, int64_t leo, int64_t now_ms);
/* Follower `replica` fetched at fetch_offset while the leader's end was
 * leader_leo. Errors: WEIR_E_NOT_FOUND (not a replica), WEIR_E_OFFSET_RANGE. */
enum weir_err weir_repl_leader_on_fetch(struct weir_repl_leader *l, int32_t replica, int64_t fetch_offset,
                                        int64_t leader_leo, int64_t now_ms, struct weir_repl_result *res);
/* ISR shrink check (replica.lag.time.max.ms), on the owner's tick. */
void weir_repl_leader_tick(struct weir_repl_leader *l, int64_t now_ms, int64_t lag_max_ms,
                           struct weir_repl_result *res);
bool weir_repl_leader_isr_applied(struct weir_repl_leader *l, int64_t now_ms); /* true: hw advanced */
void weir_repl_leader_isr_failed(struct weir_repl_leader *l);
int64_t weir_repl_leader_hw(const struct weir_repl_leader *l);
int32_t weir_repl_leader_epoch(const struct weir_repl_leader *l);
/* The current ISR (committed, not a pending proposal). */
uint32_t weir_repl_leader_isr(const struct weir_repl_leader *l, int32_t *out, uint32_t cap);
/* acks=all before the append: |ISR| >= min_insync (else NOT_ENOUGH_REPLICAS). */
bool weir_repl_leader_can_append_all(const struct weir_repl_leader *l, int32_t min_insync);
enum weir_repl_ack { WEIR_REPL_ACK_WAIT, WEIR_REPL_ACK_OK, WEIR_REPL_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND };
/* An acks=all produce whose last offset + 1 is required_offset. */
enum weir_repl_ack weir_repl_leader_ack_check(const struct weir_repl_leader *l, int64_t required_offset,
                                              int32_t min_insync);

/* ---- a follower's truncation (KIP-101, KIP-279) ---------------------------------- */

#define WEIR_UNDEFINED_EPOCH (-1)
#define WEIR_UNDEFINED_EPOCH_OFFSET (-1)

enum weir_trunc_action {
    WEIR_TRUNC_FETCH,  /* truncate to offset, then fetch from it */
    WEIR_TRUNC_AGAIN,  /* truncate to offset, then ask again with next_epoch */
    WEIR_TRUNC_RETRY,  /* the leader answered an error: back off and ask again */
    WEIR_TRUNC_FENCED, /* FENCED_LEADER_EPOCH: wait for a newer partition state */
};
struct weir_trunc {
    enum weir_trunc_action action;
    int64_t offset;
    int32_t next_epoch;
};
/* The follower's local epoch lookup (weir_log_epoch_end_offset): false when
 * it has no answer. */
typedef bool (*weir_epoch_lookup_fn)(void *ctx, int32_t epoch, int32_t *epoch_out, int64_t *end_out);
/* Before asking: a log with no epochs truncates to its HW (returns false,
 * out filled); true: send OffsetsForLeaderEpoch with local_latest_epoch. */
bool weir_repl_follower_should_ask(int32_t local_latest_epoch, int64_t local_hw, struct weir_trunc *out);
/* The leader's answer (error, leader_epoch, leader_end) -> what to do. */
void weir_repl_follower_truncation(int32_t local_latest_epoch, int64_t local_leo, int64_t local_hw,
                                   weir_epoch_lookup_fn lookup, void *ctx, int16_t error, int32_t leader_epoch,
                                   int64_t leader_end, struct weir_trunc *out);

#endif
