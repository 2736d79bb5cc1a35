/* net/group_int.h: the group coordinator's internals, shared by net/group*.c.
 * Included only by those files (net_int.h declares what the rest of net/ calls).
 *
 *   group_member.c   helpers (lowest: hash tables, the group, member and offset
 *                    indexes, states and invariants), the membership state machine (JoinGroup,
 *                    SyncGroup, Heartbeat, LeaveGroup), partitions added to a
 *                    subscribed topic
 *   group_log.c      the offsets log: committed offsets in memory, replay,
 *                    batched writes (records, tombstones), expiry;
 *                    its header states invariants (1)-(3)
 *   group_offsets.c  OffsetCommit, OffsetFetch
 *   group_admin.c    DescribeGroups, ListGroups, DeleteGroups
 *   group.c          dispatch (request's reactor -> owner -> back), the tick
 * Each file calls only the ones listed above it. */
#ifndef WEIR_GROUP_INT_H
#define WEIR_GROUP_INT_H

#include "net_int.h"

/* Past a limit (config: group.max.size, weir.groups.max, weir.group.offsets.max;
 * docs/operations.md): codes Kafka clients treat as final, not retried. */
enum {
    LIMIT_GROUP_FULL = WEIR_KERR_GROUP_MAX_SIZE_REACHED,       /* JoinGroup: group.max.size members (Kafka's code) */
    LIMIT_GROUPS_FULL = WEIR_KERR_GROUP_MAX_SIZE_REACHED,      /* JoinGroup, OffsetCommit: a new group past weir.groups.max */
    LIMIT_OFFSETS_FULL = WEIR_KERR_INVALID_COMMIT_OFFSET_SIZE, /* OffsetCommit: a new offset past weir.group.offsets.max */
};
enum {
    GROUP_INITIAL_DELAY_MS = 3000, SESSION_MS_MIN = 6000, SESSION_MS_MAX = 1800000,
    METADATA_BYTES_MAX = 4096,          /* OffsetCommit metadata, else 12 (Kafka's offset.metadata.max.bytes) */
    JOIN_METADATA_BYTES_MAX = 1 << 20,  /* a member's protocol metadata, all protocols: else 10 (see group_join) */
    OFFSETS_BATCH_BYTES = 256 << 10,    /* records per batch of a snapshot or of tombstones */
    GROUP_RESP_BYTES_MAX = 128 << 20,   /* group state copied into one response (group_resp_alloc) */
};
/* Kafka's GroupState; Dead is a group's last state, just before it is freed. */
enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE, G_DEAD };

/* An intrusive chained hash table (groups by id, members by id, offsets by
 * topic and partition). The lists beside them keep the order outputs use. */
struct glink {
    struct glink *hnext;
    uint32_t hash;
};
struct gtable {
    struct glink **buckets; /* mask + 1 of them; NULL while empty */
    uint32_t mask, n;
};

enum gop_kind { GOP_JOIN, GOP_SYNC, GOP_HB, GOP_LEAVE, GOP_COMMIT, GOP_FETCH };

/* DescribeGroups, DeleteGroups and ListGroups fan out: one slot per group or
 * per offsets partition (ListGroups); the last answer encodes the response. */
struct ginfo_state {
    int remaining;
    struct ginfo_slot *slots;
    int32_t n_slots;
    struct kdescribegroups_req dr; /* DescribeGroups' and DeleteGroups' names */
    struct klistgroups_req lr;     /* ListGroups' states filter */
    struct kdescribegroups_group *described;
    struct kdeletegroups_result *deleted;
    struct klistgroups_group *listed[GROUP_OFFSETS_PARTITIONS];
    int32_t n_listed[GROUP_OFFSETS_PARTITIONS];
    int16_t list_error;
};
struct ginfo_slot {
    struct ptask pt;
    struct ginfo_state *st;
    struct weir_arena arena;   /* DescribeGroups, ListGroups: what the owner copies (owners run at once) */
    int32_t index; /* group index (DescribeGroups, DeleteGroups) */
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
    int32_t new_offsets; /* keys it adds: g->offsets_reserved */
    struct weir_append app;
    uint8_t *batch;
    int64_t commit_ts;
    struct repl_hold hold;       /* cluster mode: appended, waiting for the HW to pass it */
    /* OffsetFetch v8: one answer per group, asked one after another (group.c) */
    struct koffsetfetch_resp_group *fetch_groups;
    int32_t fetch_index;
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
    struct gmember *next, *prev; /* g->members, newest first */
    struct glink hl;             /* g->member_ids */
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
    int64_t expire_ms;           /* OffsetCommit v2-4 retention_time_ms: expires then; -1: offsets.retention */
    struct goffset *next, *prev; /* g->offsets, newest first */
    struct glink hl;             /* g->offset_keys */
};
struct group {
    char *id;
    enum gstate state;
    int32_t generation;
    char *protocol_type, *protocol, *leader;
    struct gmember *members;
    struct gtable member_ids;
    int32_t n_members;
    struct gpending *pending;
    int32_t n_pending;
    int64_t rebalance_deadline_ns;
    bool initial;      /* first rebalance of an empty group: wait the whole delay */
    int64_t empty_since_ms; /* wall time it last became Empty; 0 = not since the start */
    int32_t writes;    /* its records being appended (2) */
    struct goffset *offsets;
    struct gtable offset_keys;
    int32_t n_offsets;
    int32_t offsets_reserved; /* new keys of commits in flight (weir.group.offsets.max) */
    int32_t stored_generation; /* the generation its last membership record holds; -1: none written */
    struct group *next, *prev; /* gc->groups, newest first */
    struct glink hl;           /* gc->group_ids */
};
struct gcoord {
    struct broker *b;
    struct group *groups;
    struct gtable group_ids;
    int64_t n_groups;
    bool loaded[GROUP_OFFSETS_PARTITIONS];
    /* this broker leads the offsets partition (part_led: a single node from its open);
     * unload: its groups are still to be dropped (something of it was in flight) */
    bool led[GROUP_OFFSETS_PARTITIONS], unload[GROUP_OFFSETS_PARTITIONS];
    uint64_t member_seq;
    /* per offsets partition, on its owner */
    int64_t n_live[GROUP_OFFSETS_PARTITIONS];   /* committed offsets in memory */
    int32_t inflight[GROUP_OFFSETS_PARTITIONS]; /* our appends not completed */
    int64_t next_expire_ms;
    int64_t timers_due_ns; /* no session, pending id or rebalance timer is due before; 0: walk the groups */
};

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
    void *ctx;                  /* OffsetDelete: its request state */
    uint8_t *kv;                /* scratch for one record */
};

/* ---- group_member.c: helpers ---- */
uint32_t group_hash(const void *p, size_t n, uint32_t salt);
struct glink *gtable_chain(const struct gtable *t, uint32_t hash); /* hash's bucket, to walk by hnext */
void gtable_insert(struct gtable *t, struct glink *l, uint32_t hash);
void gtable_remove(struct gtable *t, struct glink *l);
void gtable_free(struct gtable *t);
char *group_kdup(struct kstr s);  /* NUL-terminated heap copy; panics when out of memory */
/* Copies of group state for a response, from an arena only this thread
 * touches now; past the arena's limit it may grow to GROUP_RESP_BYTES_MAX. */
void *group_resp_alloc(struct weir_arena *a, size_t n);
struct kstr group_resp_kstr(struct weir_arena *a, const char *s);
struct kbytes group_resp_bytes(struct weir_arena *a, const uint8_t *p, int32_t n);
struct gcoord *group_coord_of(struct reactor *r);  /* r's coordinator state, made on first use */
struct group *group_find(struct gcoord *gc, struct kstr id);
struct group *group_get(struct gcoord *gc, struct kstr id);  /* found or made (replay: not capped) */
/* A new group for a request: NULL (and a WARN) past weir.groups.max. */
struct group *group_new_capped(struct gcoord *gc, struct kstr id);
void group_timer(struct gcoord *gc, int64_t at_ns);  /* a deadline set: groups_tick looks by then */
void group_set_state(struct group *g, enum gstate to);  /* asserts Kafka's allowed transitions */
void group_check(struct gcoord *gc, const struct group *g); /* WEIR_DEBUG: g's invariants (NULL: nothing) */
void group_coord_check(struct gcoord *gc);                 /* WEIR_DEBUG: every group, the counters */
int16_t group_member_check(struct group *g, struct kstr member_id, struct kstr instance_id, struct gmember **out);
void group_member_free(struct gmember *m);
void group_free_all(struct gcoord *gc);  /* groups_free: every group, counted off the broker's total */
const struct gproto *group_member_proto(const struct gmember *m, const char *name);
int32_t group_member_count(const struct group *g);
void group_op_reply(struct reactor *r, struct gop *op);
void group_pending_free(struct group *g);
bool group_maybe_free(struct gcoord *gc, struct group *g); /* true: it was freed */
void group_drop(struct gcoord *gc, struct group *g);       /* unlinks and frees g whatever its state (no waits left) */
/* The coordinator's answer for offsets partition p on its owner: 0 when this
 * broker coordinates its groups (leads p and has them loaded), else
 * NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while they are reloading
 * or cannot be loaded yet (the partition not leading, or appends in flight). */
int16_t group_coordinates(struct reactor *r, struct gcoord *gc, int32_t partition);
struct goffset *group_offset_find(const struct group *g, const char *topic, size_t tlen, int32_t partition);
struct goffset *group_offset_add(struct group *g, struct kstr topic, int32_t partition); /* a new key, unset */
void group_offset_unlink(struct group *g, struct goffset *o);                          /* and frees o */
size_t group_put_str(uint8_t *p, struct kstr s);  /* i16 length + bytes; returns bytes written */
struct kstr group_get_str(struct weir_rd *rd);    /* i16 length + bytes; -1: null */

/* A membership record (group_log.c), decoded: strings and bytes point into the record. */
struct gmeta_member {
    struct kstr id, instance_id, client_id, client_host;
    int32_t rebalance_ms, session_ms;
    struct kbytes meta, assign; /* the chosen protocol's metadata; the assignment */
};
struct gmeta {
    struct kstr protocol_type, protocol, leader;
    int32_t generation, n_members;
    struct gmeta_member *members;
};
/* Replay: g takes the recorded membership (Kafka's loaded group): Stable at its
 * generation with those members, each given a fresh session; none: Empty. */
void group_restore(struct gcoord *gc, struct group *g, const struct gmeta *gm);

/* Is a member of g (a "consumer" group with members) subscribed to topic, as
 * Kafka's GroupMetadata.isSubscribedToTopic answers: true also when the
 * subscriptions cannot be known (no chosen protocol, a member without it,
 * metadata that does not parse). */
bool group_subscribed(const struct group *g, struct kstr topic);
/* ---- group_member.c: the state machine ---- */
void group_prepare_rebalance(struct reactor *r, struct group *g);
void group_member_remove(struct reactor *r, struct group *g, struct gmember *m, int16_t code);
void group_try_complete_join(struct reactor *r, struct group *g, int64_t now_ns);
void group_join(struct reactor *r, struct gcoord *gc, struct gop *op);
void group_sync(struct reactor *r, struct gcoord *gc, struct gop *op);
void group_heartbeat(struct reactor *r, struct gcoord *gc, struct gop *op);
void group_leave(struct reactor *r, struct gcoord *gc, struct gop *op);

/* ---- group_log.c ---- */
/* Appends g's membership (Stable: members, generation, assignment; Empty: none)
 * when it changed since the last one written; best effort (a lost one costs
 * the group a rebalance after a coordinator move, as before: loaded members
 * that do not heartbeat expire). */
void group_store_membership(struct reactor *r, struct gcoord *gc, struct group *g);
void group_offset_apply(struct gcoord *gc, struct kstr group, struct kstr topic, int32_t partition, int64_t offset,
                        int32_t epoch, struct kstr meta, int64_t ts, int64_t expire_ms);
/* An offset record's value into v (at most 32 + METADATA_BYTES_MAX bytes):
 * version 0, or 1 with expire_ms >= 0. Returns its length. */
size_t group_offset_value(uint8_t *v, int64_t offset, int32_t epoch, struct kstr meta, int64_t ts, int64_t expire_ms);
void group_log_replay(struct reactor *r, struct gcoord *gc, int32_t partition);
struct gjob *group_job_new(struct reactor *r, int32_t partition, bool apply, void (*done)(struct gjob *job));
void group_job_add(struct gjob *j, struct kstr group, struct kstr topic, int32_t partition, const struct goffset *o,
                   int64_t ts);
/* Adds the tombstone of group's membership record: the group is gone (Kafka's
 * GroupMetadata tombstone), so compaction drops its last record. */
void group_job_add_gone(struct gjob *j, struct kstr group, int64_t ts);
void group_job_submit(struct gjob *j);
void group_expire_tick(struct reactor *r, struct gcoord *gc);

/* ---- group_offsets.c ---- */
void group_offset_commit(struct reactor *r, struct gcoord *gc, struct gop *op);
void group_offset_fetch(struct reactor *r, struct gcoord *gc, struct gop *op);

/* ---- group_admin.c ---- */
void group_admin_handle(struct request *req);  /* DescribeGroups, ListGroups, DeleteGroups */
void group_offsetdelete_handle(struct request *req); /* OffsetDelete */

#endif
