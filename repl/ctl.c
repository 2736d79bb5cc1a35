/* repl/ctl.c: the controller's decisions as Kafka's ZooKeeper-era controller
 * makes them (kafka.controller.Election, PartitionLeaderElectionAlgorithms,
 * PartitionStateMachine, ReplicaStateMachine, KafkaController) and the
 * rack-unaware replica assignment (kafka.admin.AdminUtils). Pure functions
 * of (live brokers, assignment, state). Every change bumps the leader epoch
 * (LeaderAndIsr.newLeaderAndIsr), ISR-only changes too. */
#include "core_int.h"

static bool has(const int32_t *ids, uint32_t n, int32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

static bool live(const struct rp_ctl *c, int32_t id) { return has(c->live, c->live_n, id); }

static void next_from(const struct rp_ctl *c, const struct rp_pstate *cur, int32_t leader, struct rp_pstate *next)
{
    if (next != cur) *next = *cur;
    next->leader = leader;
    WEIR_ASSERT(cur->leader_epoch < INT32_MAX);
    next->leader_epoch = cur->leader_epoch + 1;
    next->controller_epoch = c->epoch;
}

bool rp_elect_offline(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                      const struct rp_pstate *cur, bool unclean, struct rp_pstate *next)
{
    int32_t leader = RP_NO_LEADER;
    for (uint32_t i = 0; i < replicas_n && leader == RP_NO_LEADER; i++)
        if (live(c, replicas[i]) && has(cur->isr, cur->isr_n, replicas[i])) leader = replicas[i];
    if (leader != RP_NO_LEADER) {
        struct rp_pstate s = *cur;
        next_from(c, cur, leader, &s);
        s.isr_n = 0;
        for (uint32_t i = 0; i < cur->isr_n; i++)
            if (live(c, cur->isr[i])) s.isr[s.isr_n++] = cur->isr[i];
        *next = s;
        return true;
    }
    if (!unclean) return false;
    for (uint32_t i = 0; i < replicas_n && leader == RP_NO_LEADER; i++)
        if (live(c, replicas[i])) leader = replicas[i];
    if (leader == RP_NO_LEADER) return false;
    struct rp_pstate s = *cur;
    next_from(c, cur, leader, &s);
    s.isr_n = 1;
    s.isr[0] = leader;
    *next = s;
    return true;
}

bool rp_ctl_new_partition(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                          struct rp_pstate *next)
{
    struct rp_pstate s = { .leader = RP_NO_LEADER, .leader_epoch = 0, .controller_epoch = c->epoch };
    for (uint32_t i = 0; i < replicas_n; i++)
        if (live(c, replicas[i]) && s.isr_n < RP_REPLICAS_MAX) s.isr[s.isr_n++] = replicas[i];
    if (s.isr_n == 0) return false;
    s.leader = s.isr[0];
    *next = s;
    return true;
}

/* ReplicaStateMachine.doRemoveReplicasFromIsr for one replica. */
static bool isr_remove(const struct rp_ctl *c, const struct rp_pstate *cur, int32_t id, struct rp_pstate *next)
{
    if (!has(cur->isr, cur->isr_n, id)) return false;
    struct rp_pstate s = *cur;
    next_from(c, cur, cur->leader == id ? RP_NO_LEADER : cur->leader, &s);
    if (cur->isr_n > 1) { /* the last member stays: only it may take over without loss (KIP-966) */
        s.isr_n = 0;
        for (uint32_t i = 0; i < cur->isr_n; i++)
            if (cur->isr[i] != id) s.isr[s.isr_n++] = cur->isr[i];
    }
    *next = s;
    return true;
}

bool rp_ctl_brokers_gone(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                         const struct rp_pstate *cur, const int32_t *gone, uint32_t gone_n, bool unclean,
                         struct rp_pstate *next)
{
    struct rp_pstate s = *cur, t;
    bool changed = false;
    for (uint32_t i = 0; i < gone_n; i++) WEIR_ASSERT(!live(c, gone[i]));
    if (rp_ctl_offline_retry(c, replicas, replicas_n, &s, unclean, &t)) s = t, changed = true;
    for (uint32_t i = 0; i < gone_n; i++)
        if (has(replicas, replicas_n, gone[i]) && isr_remove(c, &s, gone[i], &t)) s = t, changed = true;
    if (changed) *next = s;
    return changed;
}

bool rp_ctl_offline_retry(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                          const struct rp_pstate *cur, bool unclean, struct rp_pstate *next)
{
    if (cur->leader != RP_NO_LEADER && live(c, cur->leader)) return false;
    if (cur->leader < RP_NO_LEADER) return false; /* -2: being deleted */
    return rp_elect_offline(c, replicas, replicas_n, cur, unclean, next);
}

bool rp_ctl_shutdown(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                     const struct rp_pstate *cur, int32_t b, struct rp_pstate *next)
{
    if (replicas_n <= 1 || !has(replicas, replicas_n, b)) return false;
    if (cur->leader != b) return isr_remove(c, cur, b, next);
    int32_t leader = RP_NO_LEADER;
    for (uint32_t i = 0; i < replicas_n && leader == RP_NO_LEADER; i++)
        if (replicas[i] != b && live(c, replicas[i]) && has(cur->isr, cur->isr_n, replicas[i])) leader = replicas[i];
    if (leader == RP_NO_LEADER) return false;
    struct rp_pstate s = *cur;
    next_from(c, cur, leader, &s);
    s.isr_n = 0;
    for (uint32_t i = 0; i < cur->isr_n; i++)
        if (cur->isr[i] != b) s.isr[s.isr_n++] = cur->isr[i];
    *next = s;
    return true;
}

bool rp_ctl_preferred(const struct rp_ctl *c, const int32_t *replicas, uint32_t replicas_n,
                      const struct rp_pstate *cur, struct rp_pstate *next)
{
    if (replicas_n == 0) return false;
    int32_t pref = replicas[0];
    if (cur->leader == pref || !live(c, pref) || !has(cur->isr, cur->isr_n, pref)) return false;
    struct rp_pstate s = *cur;
    next_from(c, cur, pref, &s);
    *next = s;
    return true;
}

bool rp_ctl_imbalanced(const struct rp_ctl_part *parts, uint32_t parts_n, int32_t broker, int32_t imbalance_pct)
{
    uint64_t total = 0, not_preferred = 0;
    for (uint32_t i = 0; i < parts_n; i++) {
        if (parts[i].replicas_n == 0 || parts[i].replicas[0] != broker) continue;
        total++;
        not_preferred += parts[i].state->leader != broker;
    }
    /* not_preferred / total > pct / 100, in integers */
    return total > 0 && not_preferred * 100 > (uint64_t)(imbalance_pct < 0 ? 0 : imbalance_pct) * total;
}

enum weir_err rp_assign_rack_unaware(uint32_t partitions_n, uint32_t rf, const int32_t *brokers, uint32_t brokers_n,
                                     uint32_t start_index, uint32_t shift, uint32_t start_partition, int32_t *out)
{
    if (partitions_n == 0) return WEIR_E_BAD_PARTITIONS;
    if (rf == 0 || rf > brokers_n || rf > RP_REPLICAS_MAX || start_index >= brokers_n || shift >= brokers_n)
        return WEIR_E_INVALID;
    for (uint32_t i = 1; i < brokers_n; i++)
        if (brokers[i] <= brokers[i - 1]) return WEIR_E_INVALID;
    uint64_t next_shift = shift;
    for (uint32_t k = 0; k < partitions_n; k++) {
        uint64_t p = (uint64_t)start_partition + k;
        if (p > 0 && p % brokers_n == 0) next_shift++;
        uint64_t first = (p + start_index) % brokers_n;
        int32_t *row = out + (size_t)k * rf;
        row[0] = brokers[first];
        for (uint32_t j = 0; j + 1 < rf; j++) {
            uint64_t s = 1 + (next_shift + j) % (brokers_n - 1); /* AdminUtils.replicaIndex */
            row[j + 1] = brokers[(first + s) % brokers_n];
        }
    }
    return WEIR_OK;
}
