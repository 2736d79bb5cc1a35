/* repl/follower.c: where a follower's log stops agreeing with its leader's,
 * found by leader epoch (KIP-101), repeated while the leader names an epoch
 * the follower never had (KIP-279). Kafka: AbstractFetcherThread
 * (getOffsetTruncationState, truncateToHighWatermark) and
 * LeaderEpochFileCache.endOffsetFor. Pure functions: the caller truncates its
 * log and epoch cache to the returned offset. */
#include "core_int.h"

void rp_epoch_end_offset(const struct rp_epoch_entry *e, uint32_t n, int32_t requested, int64_t leo,
                         int32_t *epoch_out, int64_t *end_out)
{
    *epoch_out = RP_UNDEFINED_EPOCH;
    *end_out = RP_UNDEFINED_EPOCH_OFFSET;
    if (requested == RP_UNDEFINED_EPOCH || n == 0) return;
    if (e[n - 1].epoch == requested) { /* the latest epoch ends at the log end */
        *epoch_out = requested;
        *end_out = leo;
        return;
    }
    uint32_t higher = 0; /* the first entry with a larger epoch */
    while (higher < n && e[higher].epoch <= requested) higher++;
    if (higher == n) return; /* above every epoch */
    *epoch_out = higher == 0 ? requested : e[higher - 1].epoch;
    *end_out = e[higher].start;
}

bool rp_follower_should_ask(int32_t local_latest_epoch, int64_t local_hw, struct rp_trunc *out)
{
    if (local_latest_epoch != RP_UNDEFINED_EPOCH) return true;
    out->action = RP_TRUNC_FETCH;
    out->offset = local_hw;
    out->next_epoch = RP_UNDEFINED_EPOCH;
    return false;
}

void rp_follower_truncation(int32_t local_latest_epoch, int64_t local_leo, int64_t local_hw, rp_epoch_lookup_fn lookup,
                            void *ctx, int16_t error, int32_t leader_epoch, int64_t leader_end, struct rp_trunc *out)
{
    WEIR_ASSERT(local_hw <= local_leo);
    out->next_epoch = RP_UNDEFINED_EPOCH;
    out->offset = local_leo;
    if (error != 0) {
        out->action = error == RP_ERR_FENCED_LEADER_EPOCH ? RP_TRUNC_FENCED : RP_TRUNC_RETRY;
        return;
    }
    out->action = RP_TRUNC_FETCH;
    if (leader_end == RP_UNDEFINED_EPOCH_OFFSET) {
        out->offset = local_hw;
        return;
    }
    if (leader_epoch == RP_UNDEFINED_EPOCH) {
        out->offset = WEIR_MIN(leader_end, local_leo);
        return;
    }
    if (leader_epoch > local_latest_epoch) { /* never asked about: a bad answer */
        out->action = RP_TRUNC_RETRY;
        return;
    }
    int32_t our_epoch;
    int64_t our_end;
    if (!lookup(ctx, leader_epoch, &our_epoch, &our_end)) {
        /* we tracked no epoch that old: the leader's offset (post-KIP-101, pre-KIP-279) */
        out->offset = WEIR_MIN(leader_end, local_leo);
        return;
    }
    if (our_epoch != leader_epoch) {
        WEIR_ASSERT(our_epoch < leader_epoch); /* a floor lookup never answers above */
        out->action = RP_TRUNC_AGAIN;
        out->offset = WEIR_MIN(our_end, local_leo);
        out->next_epoch = our_epoch;
        return;
    }
    out->offset = WEIR_MIN(WEIR_MIN(our_end, leader_end), local_leo);
}
