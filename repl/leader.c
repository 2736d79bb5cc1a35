/* repl/leader.c: one partition on its leader, Kafka's rules
 * (kafka.cluster.Partition and kafka.cluster.Replica, Kafka 2.7-3.x with
 * AlterIsr's pending state mapped onto a conditional znode write).
 *
 * Caught up: Replica.updateFetchState. A fetch at offset f, when the leader's
 * log end was L at that moment:
 *   f >= L                           -> last_caught_up = max(it, now)
 *   f >= L' (the leader's end at the
 *            follower's previous fetch) -> last_caught_up = max(it, time of that fetch)
 * so a follower that keeps reading what existed at its previous fetch stays
 * caught up even while the leader keeps appending.
 * The high watermark: min leo over the maximal ISR (committed ISR plus a
 * pending proposal, KIP-497), over followers caught up within the lag (so a
 * catching-up follower is waited for and can join, see maybeIncrementLeaderHW),
 * and the leader's leo; it only moves forward. */
#include "core_int.h"

bool rp_isr_has(const struct rp_isr_change *isr, int32_t id)
{
    for (uint32_t i = 0; i < isr->n; i++)
        if (isr->isr[i] == id) return true;
    return false;
}

static struct rp_replica *replica_find(struct rp_leader *l, int32_t id)
{
    for (uint32_t i = 0; i < l->replicas_n; i++)
        if (l->replicas[i].id == id) return &l->replicas[i];
    return NULL;
}

/* In the maximal ISR: the committed one, a pending proposal's, or a failed
 * proposal's joiner whose write may have applied (doubt). */
static bool in_maximal_isr(const struct rp_leader *l, int32_t id)
{
    return rp_isr_has(&l->isr, id) || (l->pending && rp_isr_has(&l->proposal, id)) || rp_isr_has(&l->doubt, id);
}

int64_t rp_leader_hw_target(const struct rp_leader *l, int64_t now_ms)
{
    int64_t hw = l->leo;
    for (uint32_t i = 0; i < l->replicas_n; i++) {
        const struct rp_replica *r = &l->replicas[i];
        if (r->id == l->me) continue;
        if (r->leo < hw && (now_ms - r->last_caught_up_ms <= l->lag_max_ms || in_maximal_isr(l, r->id))) hw = r->leo;
    }
    return hw;
}

/* Log.maybeIncrementHighWatermark: forward only. */
static bool hw_maybe_advance(struct rp_leader *l, int64_t now_ms)
{
    int64_t hw = rp_leader_hw_target(l, now_ms);
    if (hw <= l->hw) return false;
    WEIR_ASSERT(hw <= l->leo);
    l->hw = hw;
    return true;
}

static bool ids_valid(const int32_t *ids, uint32_t n)
{
    if (n > RP_REPLICAS_MAX) return false;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < i; k++)
            if (ids[i] == ids[k]) return false;
    return true;
}

static bool ids_has(const int32_t *ids, uint32_t n, int32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id) return true;
    return false;
}

enum weir_err rp_leader_make(struct rp_leader *l, int32_t me, int32_t epoch, const int32_t *replicas,
                             uint32_t replicas_n, const int32_t *isr, uint32_t isr_n, int64_t leo, int64_t hw,
                             int64_t lag_max_ms, int64_t now_ms, bool *hw_advanced)
{
    *hw_advanced = false;
    if (!ids_valid(replicas, replicas_n) || !ids_valid(isr, isr_n) || !ids_has(isr, isr_n, me) ||
        !ids_has(replicas, replicas_n, me) || leo < 0 || hw < 0 || hw > leo)
        return WEIR_E_INVALID;
    for (uint32_t i = 0; i < isr_n; i++)
        if (!ids_has(replicas, replicas_n, isr[i])) return WEIR_E_INVALID;
    bool was_leader = l->active && l->me == me;
    if (was_leader && (epoch < l->epoch || leo < l->leo || hw < l->hw)) return WEIR_E_INVALID;
    /* followers kept across a new state while leading (their leo stays known) */
    struct rp_replica old[RP_REPLICAS_MAX];
    uint32_t old_n = was_leader ? l->replicas_n : 0;
    memcpy(old, l->replicas, sizeof old[0] * old_n);
    l->me = me;
    l->epoch = epoch;
    l->epoch_start = leo;
    l->leo = leo;
    if (!was_leader) l->hw = hw;
    l->lag_max_ms = lag_max_ms;
    l->replicas_n = replicas_n;
    l->isr.n = isr_n;
    memcpy(l->isr.isr, isr, sizeof *isr * isr_n);
    l->pending = false;
    l->doubt.n = 0; /* the state as read says who is in */
    l->active = true;
    for (uint32_t i = 0; i < replicas_n; i++) {
        struct rp_replica *r = &l->replicas[i];
        const struct rp_replica *prev = NULL;
        for (uint32_t k = 0; k < old_n && !prev; k++)
            if (old[k].id == replicas[i]) prev = &old[k];
        r->id = replicas[i];
        r->leo = prev ? prev->leo : -1;
        /* resetLastCaughtUpTime(leaderEpochStartOffset, now, isr ? now : 0) */
        r->last_fetch_leader_leo = leo;
        r->last_fetch_ms = now_ms;
        r->last_caught_up_ms = ids_has(isr, isr_n, r->id) ? now_ms : 0;
        if (r->id == me) r->leo = leo;
    }
    *hw_advanced = hw_maybe_advance(l, now_ms);
    WEIR_DASSERT(rp_leader_check(l));
    return WEIR_OK;
}

bool rp_leader_on_append(struct rp_leader *l, int64_t leo, int64_t now_ms)
{
    WEIR_ASSERT(l->active && leo >= l->leo);
    l->leo = leo;
    struct rp_replica *self = replica_find(l, l->me);
    self->leo = leo;
    bool adv = hw_maybe_advance(l, now_ms);
    WEIR_DASSERT(rp_leader_check(l));
    return adv;
}

/* Partition.isFollowerAtHighwatermark / canAddReplicaToIsr. */
static bool expand_eligible(const struct rp_leader *l, const struct rp_replica *r)
{
    return !l->pending && !rp_isr_has(&l->isr, r->id) && r->leo >= l->hw && r->leo >= l->epoch_start;
}

static void propose(struct rp_leader *l, const struct rp_isr_change *isr, struct rp_leader_result *res)
{
    WEIR_ASSERT(!l->pending && rp_isr_has(isr, l->me));
    l->pending = true;
    l->proposal = *isr;
    res->propose = true;
    res->isr = *isr;
}

enum weir_err rp_leader_on_fetch(struct rp_leader *l, int32_t follower, int64_t fetch_offset, int64_t leader_leo,
                                 int64_t now_ms, struct rp_leader_result *res)
{
    memset(res, 0, sizeof *res);
    WEIR_ASSERT(l->active);
    struct rp_replica *r = replica_find(l, follower);
    if (!r || follower == l->me) return WEIR_E_NOT_FOUND;
    if (fetch_offset < 0 || fetch_offset > leader_leo || leader_leo > l->leo) return WEIR_E_OFFSET_RANGE;
    int64_t prev_leo = r->leo;
    /* Replica.updateFetchState */
    if (fetch_offset >= leader_leo) r->last_caught_up_ms = WEIR_MAX(r->last_caught_up_ms, now_ms);
    else if (fetch_offset >= r->last_fetch_leader_leo) r->last_caught_up_ms = WEIR_MAX(r->last_caught_up_ms, r->last_fetch_ms);
    r->leo = fetch_offset;
    r->last_fetch_leader_leo = leader_leo;
    r->last_fetch_ms = now_ms;
    /* maybeExpandIsr */
    if (expand_eligible(l, r)) {
        struct rp_isr_change next = l->isr;
        WEIR_ASSERT(next.n < RP_REPLICAS_MAX);
        next.isr[next.n++] = r->id;
        propose(l, &next, res);
    }
    /* maybeIncrementLeaderHW, when the follower's leo moved */
    if (prev_leo != r->leo) res->hw_advanced = hw_maybe_advance(l, now_ms);
    WEIR_DASSERT(rp_leader_check(l));
    return WEIR_OK;
}

void rp_leader_tick(struct rp_leader *l, int64_t now_ms, int64_t lag_max_ms, struct rp_leader_result *res)
{
    memset(res, 0, sizeof *res);
    WEIR_ASSERT(l->active);
    l->lag_max_ms = lag_max_ms;
    if (!l->pending) {
        /* getOutOfSyncReplicas / isFollowerOutOfSync */
        struct rp_isr_change next = { 0 };
        for (uint32_t i = 0; i < l->isr.n; i++) {
            int32_t id = l->isr.isr[i];
            const struct rp_replica *r = replica_find(l, id);
            bool out = id != l->me && r->leo != l->leo && now_ms - r->last_caught_up_ms > lag_max_ms;
            if (!out) next.isr[next.n++] = id;
        }
        /* a doubted joiner out of sync: write the ISR as it is to settle the doubt */
        bool settle = false;
        for (uint32_t i = 0; i < l->doubt.n; i++) {
            const struct rp_replica *r = replica_find(l, l->doubt.isr[i]);
            settle |= r->leo != l->leo && now_ms - r->last_caught_up_ms > lag_max_ms;
        }
        if (next.n < l->isr.n || settle) propose(l, &next, res);
    }
    res->hw_advanced = hw_maybe_advance(l, now_ms);
    WEIR_DASSERT(rp_leader_check(l));
}

bool rp_leader_isr_applied(struct rp_leader *l, int64_t now_ms)
{
    WEIR_ASSERT(l->active && l->pending);
    l->isr = l->proposal;
    l->pending = false;
    l->doubt.n = 0; /* written against our version: no failed write before it applied */
    bool adv = hw_maybe_advance(l, now_ms);
    WEIR_DASSERT(rp_leader_check(l));
    return adv;
}

void rp_leader_isr_failed(struct rp_leader *l)
{
    WEIR_ASSERT(l->active && l->pending);
    for (uint32_t i = 0; i < l->proposal.n; i++) {
        int32_t id = l->proposal.isr[i];
        if (!rp_isr_has(&l->isr, id) && !rp_isr_has(&l->doubt, id)) l->doubt.isr[l->doubt.n++] = id;
    }
    l->pending = false;
    WEIR_DASSERT(rp_leader_check(l));
}

bool rp_leader_can_append_all(const struct rp_leader *l, int32_t min_insync)
{
    return (int64_t)l->isr.n >= min_insync;
}

enum rp_ack rp_leader_ack_check(const struct rp_leader *l, int64_t required_offset, int32_t min_insync)
{
    if (l->hw < required_offset) return RP_ACK_WAIT;
    uint32_t maximal = l->isr.n;
    if (l->pending)
        for (uint32_t i = 0; i < l->proposal.n; i++) maximal += !rp_isr_has(&l->isr, l->proposal.isr[i]);
    for (uint32_t i = 0; i < l->doubt.n; i++)
        maximal += !(l->pending && rp_isr_has(&l->proposal, l->doubt.isr[i]));
    return (int64_t)maximal >= min_insync ? RP_ACK_OK : RP_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
}

static bool isr_valid(const struct rp_leader *l, const struct rp_isr_change *isr)
{
    if (!ids_valid(isr->isr, isr->n) || !rp_isr_has(isr, l->me)) return false;
    for (uint32_t i = 0; i < isr->n; i++)
        if (!replica_find((struct rp_leader *)l, isr->isr[i])) return false;
    return true;
}

bool rp_leader_check(const struct rp_leader *l)
{
    if (!l->active) return true;
    if (!isr_valid(l, &l->isr)) return false;
    if (l->pending && !isr_valid(l, &l->proposal)) return false;
    if (!ids_valid(l->doubt.isr, l->doubt.n)) return false;
    for (uint32_t i = 0; i < l->doubt.n; i++)
        if (rp_isr_has(&l->isr, l->doubt.isr[i]) || !replica_find((struct rp_leader *)l, l->doubt.isr[i])) return false;
    if (l->hw < 0 || l->hw > l->leo || l->epoch_start > l->leo) return false;
    for (uint32_t i = 0; i < l->replicas_n; i++) {
        const struct rp_replica *r = &l->replicas[i];
        if (r->leo < -1 || r->leo > l->leo) return false;
        if (r->id == l->me && r->leo != l->leo) return false;
    }
    return true;
}
