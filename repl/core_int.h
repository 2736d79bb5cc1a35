/* repl/core_int.h: the deterministic core of repl/ (private to repl/ and its
 * white-box tests). Pure C: no I/O, no clock (time is an argument), no
 * allocation beyond a caller's arena or fixed buffers.
 *
 *   json.c    a strict JSON reader (pull cursor over a byte range) and writer
 *   znode.c   Kafka's znode JSON: broker registration, controller, topic
 *             assignment, partition state, topic config (kafka.zk.ZkData)
 *   leader.c  one partition on its leader: follower offsets, ISR shrink and
 *             expand proposals, the high watermark (kafka.cluster.Partition)
 *   follower.c where a follower truncates before it fetches (KIP-101, KIP-279:
 *             AbstractFetcherThread, LeaderEpochFileCache.endOffsetFor)
 *   ctl.c     the controller's decisions: elections, dead and returning
 *             brokers, controlled shutdown, preferred leaders, assignment
 *             (kafka.controller.*, kafka.admin.AdminUtils)
 *
 * Every rule names the Kafka source it follows (Kafka 2.x/3.x, ZooKeeper era). */
#ifndef WEIR_REPL_CORE_INT_H
#define WEIR_REPL_CORE_INT_H

#include "base/base.h"

/* ---- JSON reader (json.c) ---------------------------------------------------- */

enum {
    RP_JSON_DEPTH_MAX = 32,  /* nesting deeper than this is an error */
    RP_JSON_KEY_MAX = 256,   /* bytes of a decoded object key, NUL included */
};

enum rp_jtype { RP_J_ERR, RP_J_OBJ, RP_J_ARR, RP_J_STR, RP_J_NUM, RP_J_BOOL, RP_J_NULL };

/* A cursor over [pos, end). The first error sticks: err points at a static
 * text and err_at at the byte offset; every later call fails. */
struct rp_jr {
    const uint8_t *base, *pos, *end;
    const char *err;
    size_t err_at;
    uint32_t depth;
    uint64_t first; /* bit d: the container at depth d has had no member yet */
};

void rp_jr_init(struct rp_jr *r, const void *p, size_t n);
bool rp_jr_fail(struct rp_jr *r, const char *why); /* sets the error if none; returns false */
/* The type of the next value (after whitespace); RP_J_ERR on end or bad byte. */
enum rp_jtype rp_jr_peek(struct rp_jr *r);
bool rp_jr_obj_begin(struct rp_jr *r);
/* true: one more member, its key decoded into key (NUL-terminated) and the
 * ':' consumed; false: the object ended ('}' consumed) or an error (r->err). */
bool rp_jr_obj_next(struct rp_jr *r, char key[RP_JSON_KEY_MAX]);
bool rp_jr_arr_begin(struct rp_jr *r);
/* true: one more element follows; false: ']' consumed, or an error. */
bool rp_jr_arr_next(struct rp_jr *r);
/* An integer (no fraction or exponent) within [min, max]. */
bool rp_jr_int(struct rp_jr *r, int64_t min, int64_t max, int64_t *out);
/* A string, unescaped to UTF-8 into buf (cap bytes, NUL-terminated; longer is
 * an error; len may be NULL). Input must be valid UTF-8, escapes paired. */
bool rp_jr_str(struct rp_jr *r, char *buf, size_t cap, size_t *len);
bool rp_jr_null(struct rp_jr *r); /* consumes a null */
/* Validates and skips any one value (depth limit included). */
bool rp_jr_skip(struct rp_jr *r);
/* Only whitespace remains. */
bool rp_jr_finish(struct rp_jr *r);
/* "offset N: why" into buf, for errors (always NUL-terminated). */
void rp_jr_error(const struct rp_jr *r, char *buf, size_t cap);

/* ---- JSON writer (json.c) ----------------------------------------------------
 * Into a fixed buffer; the first overflow sticks (overflow = true). Commas are
 * inserted by the writer. The output is always NUL-terminated when cap > 0. */
struct rp_jw {
    char *buf;
    size_t cap, len;
    bool overflow;
    uint32_t depth;
    uint64_t first; /* bit d: nothing written yet in the container at depth d */
    bool after_key;
};

void rp_jw_init(struct rp_jw *w, char *buf, size_t cap);
void rp_jw_obj_begin(struct rp_jw *w);
void rp_jw_obj_end(struct rp_jw *w);
void rp_jw_arr_begin(struct rp_jw *w);
void rp_jw_arr_end(struct rp_jw *w);
void rp_jw_key(struct rp_jw *w, const char *key);
void rp_jw_int(struct rp_jw *w, int64_t v);
void rp_jw_str(struct rp_jw *w, const char *s);
void rp_jw_null(struct rp_jw *w);
/* Bytes written, or an error: WEIR_E_TOO_LARGE on overflow. */
enum weir_err rp_jw_done(const struct rp_jw *w, size_t *len);

/* ---- znodes (znode.c): kafka.zk.ZkData's JSON --------------------------------
 * Decoders accept what Kafka writes (unknown fields ignored; a known field
 * given twice or with the wrong type is an error); encoders write what Kafka
 * writes, key order included where Kafka's is stable. Decode errors:
 * WEIR_E_CORRUPT with a reason in why (why_cap bytes, NUL-terminated);
 * encode errors: WEIR_E_TOO_LARGE (output buffer too small). */

enum {
    RP_REPLICAS_MAX = 64,     /* replicas of one partition (and so ISR size) */
    RP_HOST_MAX = 256,        /* host name bytes, NUL included */
    RP_LISTENER_MAX = 64,     /* listener or security protocol name, NUL included */
    RP_ENDPOINTS_MAX = 8,
    RP_RACK_MAX = 256,
    RP_TOPIC_ID_MAX = 32,     /* base64 Uuid text (22 chars), NUL included */
    RP_PARTITIONS_MAX = 1000000,
    RP_CONFIG_VALUE_MAX = 65536,
};
#define RP_NO_LEADER (-1) /* LeaderAndIsr.NoLeader */

struct rp_endpoint {
    char listener[RP_LISTENER_MAX];  /* "PLAINTEXT", "INTERNAL", ... */
    char protocol[RP_LISTENER_MAX];  /* its security protocol */
    char host[RP_HOST_MAX];          /* may be empty (bind all) */
    int32_t port;
};

/* /brokers/ids/<id> (BrokerIdZNode), versions 1..5; weir writes version 5. */
struct rp_broker_reg {
    int32_t version;
    char host[RP_HOST_MAX]; /* the first PLAINTEXT endpoint's; "" when none (Kafka writes null) */
    int32_t port;           /* -1 when none */
    int32_t jmx_port;
    int64_t timestamp_ms;   /* -1 when absent or not a decimal string */
    char rack[RP_RACK_MAX]; /* "" when none */
    uint32_t endpoints_n;
    struct rp_endpoint endpoints[RP_ENDPOINTS_MAX];
};

/* /controller (ControllerZNode). */
struct rp_controller {
    int32_t broker_id;
    int64_t timestamp_ms; /* -1 when absent or not a decimal string */
};

/* One partition of /brokers/topics/<t> (TopicZNode). Arrays live in the arena. */
struct rp_part_assign {
    int32_t *replicas, *adding, *removing;
    uint32_t replicas_n, adding_n, removing_n;
};
/* Partitions are dense: parts[p] is partition p, 0 <= p < partitions_n. */
struct rp_topic_assign {
    int32_t version;
    char topic_id[RP_TOPIC_ID_MAX]; /* "" when absent (written from version 3) */
    uint32_t partitions_n;
    struct rp_part_assign *parts;
};

/* /brokers/topics/<t>/partitions/<p>/state (TopicPartitionStateZNode). */
struct rp_pstate {
    int32_t leader;            /* RP_NO_LEADER when offline */
    int32_t leader_epoch;
    int32_t controller_epoch;
    uint32_t isr_n;
    int32_t isr[RP_REPLICAS_MAX];
};

/* /config/topics/<t> (ConfigEntityZNode): string keys and values, in the arena. */
struct rp_config_entry {
    const char *key, *value;
};
struct rp_topic_config {
    uint32_t n;
    struct rp_config_entry *entries;
};

enum weir_err rp_broker_reg_decode(const void *data, size_t n, struct rp_broker_reg *out, char *why, size_t why_cap);
/* Version 5: host/port from the first PLAINTEXT endpoint (null/-1 when none),
 * listener_security_protocol_map and an empty features map, as Kafka 2.7+ does. */
enum weir_err rp_broker_reg_encode(const struct rp_broker_reg *reg, char *buf, size_t cap, size_t *len);
/* "LISTENER://host:port" or "LISTENER://[v6]:port" -> endpoint (protocol = listener). */
bool rp_endpoint_parse(const char *s, struct rp_endpoint *ep);

enum weir_err rp_controller_decode(const void *data, size_t n, struct rp_controller *out, char *why, size_t why_cap);
enum weir_err rp_controller_encode(const struct rp_controller *c, char *buf, size_t cap, size_t *len);

/* Arrays are allocated from arena (WEIR_E_NOMEM when it is full). */
enum weir_err rp_topic_assign_decode(const void *data, size_t n, struct weir_arena *arena,
                                     struct rp_topic_assign *out, char *why, size_t why_cap);
/* Version 2 (2.4+), or version 3 with "topic_id" when topic_id is set (2.8+). */
enum weir_err rp_topic_assign_encode(const struct rp_topic_assign *t, char *buf, size_t cap, size_t *len);

enum weir_err rp_pstate_decode(const void *data, size_t n, struct rp_pstate *out, char *why, size_t why_cap);
enum weir_err rp_pstate_encode(const struct rp_pstate *s, char *buf, size_t cap, size_t *len);

enum weir_err rp_topic_config_decode(const void *data, size_t n, struct weir_arena *arena,
                                     struct rp_topic_config *out, char *why, size_t why_cap);
enum weir_err rp_topic_config_encode(const struct rp_topic_config *c, char *buf, size_t cap, size_t *len);

/* ---- leader (leader.c): kafka.cluster.Partition and Replica on the leader ----------
 *
 * Invariants (rp_leader_check):
 *   1. the leader is in its ISR, the ISR is a subset of the replicas, no repeats;
 *   2. hw <= the leader's log end (leo); hw never moves backwards;
 *   3. a follower's leo is -1 (unknown) or <= the leader's leo;
 *   4. while a proposal is pending it contains the leader, and no other is made;
 *   5. doubt holds replicas outside the ISR only.
 * The ISR changes only in rp_leader_isr_applied, after the znode write. */

struct rp_replica {
    int32_t id;
    int64_t leo;                   /* offset of its last fetch; -1 unknown (Kafka's UnknownOffset) */
    int64_t last_fetch_leader_leo; /* the leader's leo at its previous fetch */
    int64_t last_fetch_ms;         /* time of its previous fetch */
    int64_t last_caught_up_ms;     /* Replica.lastCaughtUpTimeMs */
};

struct rp_isr_change {
    uint32_t n;
    int32_t isr[RP_REPLICAS_MAX];
};

struct rp_leader {
    int32_t me;
    int32_t epoch;
    int64_t epoch_start;   /* the leader's leo when it took this epoch */
    int64_t leo;           /* the leader's own log end offset */
    int64_t hw;
    int64_t lag_max_ms;    /* replica.lag.time.max.ms */
    uint32_t replicas_n;   /* the assignment, the leader included (its entry unused) */
    struct rp_replica replicas[RP_REPLICAS_MAX];
    struct rp_isr_change isr;
    bool pending;          /* a proposal is being written (Kafka's isInflight) */
    struct rp_isr_change proposal;
    struct rp_isr_change doubt; /* joiners of failed proposals whose write may have applied */
    bool active;
};

/* What a fetch or a tick produced. propose: write `isr` to the state znode
 * (conditionally) and then call rp_leader_isr_applied or _isr_failed. */
struct rp_leader_result {
    bool hw_advanced;
    bool propose;
    struct rp_isr_change isr;
};

/* Kafka's Partition.makeLeader: on becoming leader at epoch (or a new state
 * while leading). epoch_start = leo; every follower's caught-up clock restarts
 * (now for ISR members, 0 for the others); followers' leo is forgotten (-1)
 * unless this broker already led. hw is the local log's high watermark.
 * Errors: WEIR_E_INVALID (me not in isr, isr not within replicas, repeats,
 * too many, epoch below the current one, hw > leo); nothing changes then. */
enum weir_err rp_leader_make(struct rp_leader *l, int32_t me, int32_t epoch, const int32_t *replicas,
                             uint32_t replicas_n, const int32_t *isr, uint32_t isr_n, int64_t leo, int64_t hw,
                             int64_t lag_max_ms, int64_t now_ms, bool *hw_advanced);
/* The local log grew to leo (appendRecordsToLeader); returns whether hw advanced. */
bool rp_leader_on_append(struct rp_leader *l, int64_t leo, int64_t now_ms);
/* A follower's Fetch at fetch_offset, leader_leo being the leader's leo when the
 * fetch was read (Partition.updateFollowerFetchState, Replica.updateFetchState),
 * then maybeExpandIsr and maybeIncrementLeaderHW. Errors: WEIR_E_NOT_FOUND
 * (not a follower replica), WEIR_E_OFFSET_RANGE (fetch_offset < 0 or > leo). */
enum weir_err rp_leader_on_fetch(struct rp_leader *l, int32_t follower, int64_t fetch_offset, int64_t leader_leo,
                                 int64_t now_ms, struct rp_leader_result *res);
/* Partition.maybeShrinkIsr: ISR followers whose leo != the leader's and not
 * caught up for more than lag_max_ms are proposed out; the hw is recomputed
 * (time may have dropped a caught-up non-ISR replica from it). */
void rp_leader_tick(struct rp_leader *l, int64_t now_ms, int64_t lag_max_ms, struct rp_leader_result *res);
/* The proposal was written: it becomes the ISR; returns whether hw advanced. */
bool rp_leader_isr_applied(struct rp_leader *l, int64_t now_ms);
/* The write failed (version conflict, session) or its outcome is unknown (an
 * answer lost with the connection or the session): the proposal is dropped,
 * but the replicas it added stay in the maximal ISR (doubt: the znode may
 * hold them, and a clean election may pick one) until a later write succeeds
 * (conditional on the version this leader holds, it proves the failed one
 * did not apply) or rp_leader_make; a doubted replica that falls out of sync
 * makes rp_leader_tick propose the ISR as it is, to settle it. The caller
 * re-reads the state and calls rp_leader_make if it still leads. */
void rp_leader_isr_failed(struct rp_leader *l);
/* The high watermark Kafka would compute now (maybeIncrementLeaderHW, without
 * moving it): min leo over the maximal ISR (the ISR plus a pending proposal's
 * members and the doubted ones) and the followers caught up within lag_max_ms, and the leader's leo. */
int64_t rp_leader_hw_target(const struct rp_leader *l, int64_t now_ms);

/* acks=all, before the append (Partition.appendRecordsToLeader): |ISR| >= min_insync. */
bool rp_leader_can_append_all(const struct rp_leader *l, int32_t min_insync);
enum rp_ack { RP_ACK_WAIT, RP_ACK_OK, RP_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND };
/* Partition.checkEnoughReplicasReachOffset: required_offset = last offset + 1.
 * Done once hw >= required_offset: OK when the maximal ISR still has
 * min_insync members, else NOT_ENOUGH_REPLICAS_AFTER_APPEND (error 20). */
enum rp_ack rp_leader_ack_check(const struct rp_leader *l, int64_t required_offset, int32_t min_insync);
/* Offset x is committed: hw > x. */
static inline bool rp_leader_committed(const struct rp_leader *l, int64_t x) { return l->hw > x; }
bool rp_isr_has(const struct rp_isr_change *isr, int32_t id);
/* The invariants above; true when they hold (use in WEIR_DASSERT). */
bool rp_leader_check(const struct rp_leader *l);

/* ---- follower (follower.c): truncation by leader epoch --------------------------------- */

#define RP_UNDEFINED_EPOCH (-1)        /* OffsetsForLeaderEpochResponse.UNDEFINED_EPOCH */
#define RP_UNDEFINED_EPOCH_OFFSET (-1) /* ...UNDEFINED_EPOCH_OFFSET */
enum { RP_ERR_FENCED_LEADER_EPOCH = 74 };

/* One leader-epoch-checkpoint entry: epoch starts at offset start. */
struct rp_epoch_entry {
    int32_t epoch;
    int64_t start;
};

/* LeaderEpochFileCache.endOffsetFor over entries sorted by epoch (and start):
 * the largest epoch <= requested and where it ends (the next epoch's start,
 * or leo for the latest epoch). (-1, -1) for an undefined request, an empty
 * cache or a request above every epoch; a request below every epoch answers
 * (requested, the first epoch's start). What a leader answers to
 * OffsetsForLeaderEpoch, and what the follower looks up locally. */
void rp_epoch_end_offset(const struct rp_epoch_entry *e, uint32_t n, int32_t requested, int64_t leo,
                         int32_t *epoch_out, int64_t *end_out);

/* The follower's local lookup (Log.endOffsetForEpoch): false when the cache
 * has no answer (its end offset would be UNDEFINED_EPOCH_OFFSET). */
typedef bool (*rp_epoch_lookup_fn)(void *ctx, int32_t epoch, int32_t *epoch_out, int64_t *end_out);

enum rp_trunc_action {
    RP_TRUNC_FETCH,  /* truncate to offset, then fetch from it */
    RP_TRUNC_AGAIN,  /* truncate to offset, then ask again with next_epoch (KIP-279) */
    RP_TRUNC_RETRY,  /* the leader answered an error: back off and ask again */
    RP_TRUNC_FENCED, /* FENCED_LEADER_EPOCH: wait for a newer partition state */
};
struct rp_trunc {
    enum rp_trunc_action action;
    int64_t offset;     /* FETCH, AGAIN: truncate the log (and epoch cache) to this */
    int32_t next_epoch; /* AGAIN: the epoch of the next OffsetsForLeaderEpoch */
};

/* Before asking: a log without leader epochs (old message format, or written
 * before epochs) cannot ask; it truncates to its high watermark, as
 * AbstractFetcherThread.truncateToHighWatermark does. Returns true when the
 * follower should send OffsetsForLeaderEpoch with local_latest_epoch. */
bool rp_follower_should_ask(int32_t local_latest_epoch, int64_t local_hw, struct rp_trunc *out);
/* AbstractFetcherThread.getOffsetTruncationState for the leader's answer
 * (error, leader_epoch, leader_end) to an OffsetsForLeaderEpoch request:
 *   leader_end undefined (the leader has no epoch info) -> FETCH at local_hw
 *     (the initial fetch offset of a ZooKeeper-era follower);
 *   leader_epoch undefined (protocol v0: an offset only) -> FETCH at min(leader_end, local_leo);
 *   leader_epoch above local_latest_epoch (never asked about) -> RETRY;
 *   our cache has no answer for leader_epoch -> FETCH at min(leader_end, local_leo);
 *   our cache's epoch for it differs (we never had leader_epoch) -> AGAIN at
 *     min(our end of that epoch, local_leo), asking with our epoch next;
 *   else FETCH at min(our end of leader_epoch, leader_end, local_leo).
 * The offset is never above local_leo: a follower only truncates. */
void rp_follower_truncation(int32_t local_latest_epoch, int64_t local_leo, int64_t local_hw, rp_epoch_lookup_fn lookup,
                            void *ctx, int16_t error, int32_t leader_epoch, int64_t leader_end, struct rp_trunc *out);

/* ---- controller (ctl.c): kafka.controller's decisions, one partition at a time ---------
 * Each takes the live brokers, the partition's assignment and its current
 * state; it returns true and fills next (leader, leader_epoch + 1, isr,
 * controller_epoch = the caller's) when the state must change, false when it
 * stays. The caller writes next conditionally (zoo_multi with the
 * /controller_epoch check). */

struct rp_ctl {
    const int32_t *live; /* live brokers (children of /brokers/ids) */
    uint32_t live_n;
    int32_t epoch;       /* this controller's epoch, written into every state */
};

/* Offline election (PartitionLeaderElectionAlgorithms.offlinePartitionLeaderElection,
 * Election.leaderForOffline): the first replica in assignment order that is
 * live and in the ISR, the new ISR being the old one's live members; else,
 * with unclean, the first live replica with ISR [it]; else false. */
bool rp_elect_offline(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                      const struct rp_pstate *cur, bool unclean, struct rp_pstate *next);
/* New partition (PartitionStateMachine.initializeLeaderAndIsrForPartitions):
 * leader = the first live replica, ISR = the live replicas, epoch 0; false
 * when no replica is live. */
bool rp_ctl_new_partition(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                          struct rp_pstate *next);
/* Brokers gone[] died (KafkaController.onBrokerFailure -> onReplicasBecomeOffline;
 * c->live has none of them): a partition whose leader is not live gets an
 * offline election (triggerOnlinePartitionStateChange); then each dead
 * replica still in the ISR leaves it (ReplicaStateMachine.doRemoveReplicasFromIsr:
 * leader -1 if it led, the ISR keeps its last member (KIP-966), epoch + 1
 * each). next is the state after all of it. */
bool rp_ctl_brokers_gone(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                         const struct rp_pstate *cur, const int32_t *gone, uint32_t gone_n, bool unclean,
                         struct rp_pstate *next);
/* A broker came back (onBrokerStartup -> triggerOnlinePartitionStateChange):
 * an offline partition (leader -1, or a leader not live) gets an offline election. */
bool rp_ctl_offline_retry(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                          const struct rp_pstate *cur, bool unclean, struct rp_pstate *next);
/* Controlled shutdown of `b` (KafkaController.doControlledShutdown; b is
 * still in c->live): a partition with more than one replica that b leads goes
 * to the first replica live, in the ISR and not b, the ISR losing b
 * (controlledShutdownPartitionLeaderElection); none: unchanged (b keeps it
 * and retries). One b follows in the ISR: b leaves the ISR as above. */
bool rp_ctl_shutdown(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                     const struct rp_pstate *cur, int32_t b, struct rp_pstate *next);
/* Preferred leader (preferredReplicaPartitionLeaderElection): the first
 * assigned replica, when live, in the ISR and not the leader; same ISR. */
bool rp_ctl_preferred(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                      const struct rp_pstate *cur, struct rp_pstate *next);

/* Auto leader rebalance (KafkaController.checkAndTriggerAutoLeaderRebalance):
 * of the partitions whose preferred replica (first assigned) is `broker`, the
 * share led by another (or by none) exceeds imbalance_pct percent
 * (leader.imbalance.per.broker.percentage). Then rp_ctl_preferred runs on each. */
struct rp_ctl_part {
    const int32_t *replicas;
    uint32_t replicas_n;
    const struct rp_pstate *state;
};
bool rp_ctl_imbalanced(const struct rp_ctl_part *parts, uint32_t parts_n, int32_t broker, int32_t imbalance_pct);

/* AdminUtils.assignReplicasToBrokersRackUnaware: partition p (from
 * start_partition) starts at broker index (p + start_index) % n; the others
 * follow at shifts 1 + (shift' + j) % (n - 1), shift' = shift incremented
 * each time p passes a multiple of n. brokers: ascending ids (as Kafka sorts
 * them). out: partitions_n * rf ids, partition by partition. Kafka draws
 * start_index and shift at random (callers pass them; the same value for
 * both when it fixes a start index). Errors: WEIR_E_BAD_PARTITIONS
 * (partitions_n == 0), WEIR_E_INVALID (rf == 0, rf > brokers, brokers not
 * ascending, start_index or shift >= brokers_n). */
enum weir_err rp_assign_rack_unaware(uint32_t partitions_n, uint32_t rf, const int32_t *brokers, uint32_t brokers_n,
                                     uint32_t start_index, uint32_t shift, uint32_t start_partition, int32_t *out);

#endif
