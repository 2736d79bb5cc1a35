/* client/group_int.h: the consumer group thread's internals, shared by
 * client/group*.c only (wire_int.h declares what the rest of client/ calls).
 *
 *   group_coord.c   small helpers (lowest) and requests to the coordinator
 *                   (FindCoordinator, the request/response frame)
 *   group_commit.c  commits and committed offsets: OffsetCommit (pipelined),
 *                   OffsetFetch, auto commit, the application's commit calls
 *   group_sub.c     the subscription: names and ^patterns resolved against
 *                   metadata; weir_consumer_subscribe/unsubscribe
 *   group_join.c    JoinGroup, the leader's assignment, SyncGroup, the start
 *                   of the assigned partitions at their committed offsets
 *   group.c         the state machine: the thread, rebalance, revoke and
 *                   leave, the rebalance callback handoff, heartbeats, life cycle
 * Each file calls only the ones listed above it. Invariants (1)-(4): group.c. */
#ifndef WEIR_CLIENT_GROUP_INT_H
#define WEIR_CLIENT_GROUP_INT_H

#include "wire_int.h"

enum {
    JOIN_INSTANCE_VERSION_MIN = 5, /* JoinGroup's first with group_instance_id */
    IDLE_WAIT_MS = 1000,
    COMMITS_PIPELINED = 64, /* commits in flight on the coordinator connection */
};

/* ---- group_coord.c ---- */
void cw_group_wait_ms(struct weir_consumer *c, int64_t until_ms); /* lock held: waits on g->cond until then */
char *cw_group_kstr_dup(struct kstr s);                          /* NULL: out of memory */
struct weir_topic_partition *cw_group_parts_dup(const struct weir_topic_partition *parts, size_t n);
void cw_group_error(struct weir_consumer *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct kstr cw_group_instance_id(const struct weir_consumer *c);
bool cw_group_fence_check(struct weir_consumer *c, int rc);
void cw_group_set_state(struct weir_consumer *c, enum cg_state st, int32_t gen);
int cw_group_begin(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t *v, int32_t *corr,
                   struct kframe *f);
int cw_group_finish(struct weir_consumer *c, struct cw_conn *conn, int16_t key, int16_t v, int32_t corr,
                    struct kframe *f, int timeout_ms, struct cw_frame **frame, struct weir_rd *rd);
int cw_group_malformed(struct cw_conn *conn, const char *api);
bool cw_group_coord_lost(int err);
int cw_group_boot_up(struct weir_consumer *c);
int cw_group_coord_up(struct weir_consumer *c);

/* ---- group_commit.c ---- */
void cw_group_note_committed(struct weir_consumer *c, const char *topic, int32_t partition, int64_t offset);
int cw_group_committed_fetch(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n);
void cw_group_serve_requests(struct weir_consumer *c);
void cw_group_auto_commit(struct weir_consumer *c);

/* ---- group_sub.c ---- */
void cw_group_topics_free(struct cgroup *g);
int cw_group_sub_resolve(struct weir_consumer *c, char ***names_out, int32_t **counts_out, size_t *n_out);

/* ---- group_join.c ---- */
int cw_group_join_sync(struct weir_consumer *c, struct weir_topic_partition **assigned, size_t *n_assigned);
/* Starts parts[0, n) at their committed offsets: the assignment (replace), or added to it. */
int cw_group_assign_committed(struct weir_consumer *c, struct weir_topic_partition *parts, size_t n, bool replace);

#endif
