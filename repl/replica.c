/* repl/replica.c: the public face of the per-partition core (repl.h's
 * weir_repl_leader_* and weir_repl_follower_*): thin wrappers over
 * leader.c and follower.c that map the public structs and enums onto the
 * private ones. No logic of their own. */
#include "core_int.h"
#include "repl.h"

_Static_assert((int)WEIR_REPLICAS_MAX == (int)RP_REPLICAS_MAX, "replica limits agree");
_Static_assert(WEIR_NO_LEADER == RP_NO_LEADER, "no-leader values agree");
_Static_assert(WEIR_UNDEFINED_EPOCH == RP_UNDEFINED_EPOCH, "undefined epochs agree");
_Static_assert(WEIR_UNDEFINED_EPOCH_OFFSET == RP_UNDEFINED_EPOCH_OFFSET, "undefined offsets agree");
_Static_assert((int)WEIR_REPL_ACK_WAIT == (int)RP_ACK_WAIT && (int)WEIR_REPL_ACK_OK == (int)RP_ACK_OK &&
                   (int)WEIR_REPL_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND == (int)RP_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
               "ack values agree");

struct weir_repl_leader {
    struct rp_leader l;
};

struct weir_repl_leader *weir_repl_leader_new(void)
{
    struct weir_repl_leader *l = weir_malloc(sizeof *l);
    if (l) memset(l, 0, sizeof *l);
    return l;
}

void weir_repl_leader_free(struct weir_repl_leader *l) { weir_free(l); }

static void result_of(const struct rp_leader_result *in, struct weir_repl_result *out)
{
    out->hw_advanced = in->hw_advanced;
    out->propose = in->propose;
    out->isr_n = in->propose ? in->isr.n : 0;
    if (in->propose) memcpy(out->isr, in->isr.isr, sizeof out->isr[0] * in->isr.n);
}

enum weir_err weir_repl_leader_make(struct weir_repl_leader *l, int32_t me, const struct weir_partition_info *info,
                                    int64_t leo, int64_t hw, int64_t lag_max_ms, int64_t now_ms, bool *hw_advanced)
{
    *hw_advanced = false;
    if (info->replicas_n > WEIR_REPLICAS_MAX || info->isr_n > WEIR_REPLICAS_MAX) return WEIR_E_INVALID;
    return rp_leader_make(&l->l, me, info->leader_epoch, info->replicas, info->replicas_n, info->isr, info->isr_n, leo,
                          hw, lag_max_ms, now_ms, hw_advanced);
}

bool weir_repl_leader_on_append(struct weir_repl_leader *l, int64_t leo, int64_t now_ms)
{
    return rp_leader_on_append(&l->l, leo, now_ms);
}

enum weir_err weir_repl_leader_on_fetch(struct weir_repl_leader *l, int32_t replica, int64_t fetch_offset,
                                        int64_t leader_leo, int64_t now_ms, struct weir_repl_result *res)
{
    struct rp_leader_result r;
    enum weir_err e = rp_leader_on_fetch(&l->l, replica, fetch_offset, leader_leo, now_ms, &r);
    if (e != WEIR_OK) memset(&r, 0, sizeof r);
    result_of(&r, res);
    return e;
}

void weir_repl_leader_tick(struct weir_repl_leader *l, int64_t now_ms, int64_t lag_max_ms,
                           struct weir_repl_result *res)
{
    struct rp_leader_result r;
    rp_leader_tick(&l->l, now_ms, lag_max_ms, &r);
    result_of(&r, res);
}

bool weir_repl_leader_isr_applied(struct weir_repl_leader *l, int64_t now_ms)
{
    return rp_leader_isr_applied(&l->l, now_ms);
}

void weir_repl_leader_isr_failed(struct weir_repl_leader *l) { rp_leader_isr_failed(&l->l); }

int64_t weir_repl_leader_hw(const struct weir_repl_leader *l) { return l->l.hw; }

int32_t weir_repl_leader_epoch(const struct weir_repl_leader *l) { return l->l.epoch; }

uint32_t weir_repl_leader_isr(const struct weir_repl_leader *l, int32_t *out, uint32_t cap)
{
    uint32_t n = WEIR_MIN(cap, l->l.isr.n);
    memcpy(out, l->l.isr.isr, sizeof *out * n);
    return l->l.isr.n;
}

bool weir_repl_leader_can_append_all(const struct weir_repl_leader *l, int32_t min_insync)
{
    return rp_leader_can_append_all(&l->l, min_insync);
}

enum weir_repl_ack weir_repl_leader_ack_check(const struct weir_repl_leader *l, int64_t required_offset,
                                              int32_t min_insync)
{
    return (enum weir_repl_ack)rp_leader_ack_check(&l->l, required_offset, min_insync);
}

/* ---- the follower's truncation ---------------------------------------------------- */

static void trunc_of(const struct rp_trunc *in, struct weir_trunc *out)
{
    switch (in->action) {
    case RP_TRUNC_FETCH: out->action = WEIR_TRUNC_FETCH; break;
    case RP_TRUNC_AGAIN: out->action = WEIR_TRUNC_AGAIN; break;
    case RP_TRUNC_RETRY: out->action = WEIR_TRUNC_RETRY; break;
    case RP_TRUNC_FENCED: out->action = WEIR_TRUNC_FENCED; break;
    }
    out->offset = in->offset;
    out->next_epoch = in->next_epoch;
}

bool weir_repl_follower_should_ask(int32_t local_latest_epoch, int64_t local_hw, struct weir_trunc *out)
{
    struct rp_trunc t;
    if (rp_follower_should_ask(local_latest_epoch, local_hw, &t)) return true;
    trunc_of(&t, out);
    return false;
}

void weir_repl_follower_truncation(int32_t local_latest_epoch, int64_t local_leo, int64_t local_hw,
                                   weir_epoch_lookup_fn lookup, void *ctx, int16_t error, int32_t leader_epoch,
                                   int64_t leader_end, struct weir_trunc *out)
{
    struct rp_trunc t;
    rp_follower_truncation(local_latest_epoch, local_leo, local_hw, lookup, ctx, error,
                           leader_epoch, leader_end, &t);
    trunc_of(&t, out);
}
