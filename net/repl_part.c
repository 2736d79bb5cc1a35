/* net/repl_part.c: a partition's replication state on its owner reactor.
 *
 * A partition of a reactor that leads alone (r->leads_alone: a single node's)
 * has no state here and never gets a role: this broker is its only replica,
 * its leader at epoch 0 with ISR {itself}; its HW follows its log end, so an
 * acks=all produce is committed once appended. The rest of this file is the
 * partitions whose roles come from the cluster.
 *
 * The role the cluster gave the partition (part_repl_role), and while this
 * broker leads it: the leader state of repl.h (followers' progress, ISR, HW),
 * the acks=all produces held until the HW passes them, and at most one ISR
 * znode write out. Invariants:
 *   - lead != NULL exactly while kind == LEADER and not lead_wait, and then
 *     the partition is on its reactor's led list; lead_wait: made leader while
 *     appends of its follower days were still in flight (the log takes no
 *     leader epoch then), retried on every tick until they are done; the log's HW is the leader state's HW, pushed
 *     after every change (it never follows the log end in cluster mode);
 *   - held produces exist only while leading; leaving the lead answers them;
 *   - an ISR write's answer is applied only when no newer state was made
 *     since it went out (isr_seq), else dropped: the newer state carries it. */
#include "net_int.h"

#include <stdio.h>

enum { ISR_RETRY_MS = 1000, TICK_MS_MIN = 10,
       HW_CHECKPOINT_MS = 5000 }; /* Kafka's replica.high.watermark.checkpoint.interval.ms */

struct part_repl;

/* An ISR write out to the cluster; its answer comes back on the owner. */
struct isr_write {
    struct task t;
    struct reactor *owner;
    struct part_repl *pr;
    uint64_t seq;
    enum weir_err err;
    int32_t new_version;
};

struct part_repl {
    struct part *p;              /* NULL once its partition closed (orphan, waiting for its ISR write) */
    enum weir_role_kind kind;
    int32_t leader;
    int32_t epoch;               /* the applied role's leader epoch; -1 before any */
    int32_t zk_version;          /* the state znode version the applied state comes from */
    struct weir_partition_info info;
    struct weir_repl_leader *lead;
    struct repl_hold *held;      /* acks=all produces waiting, linked both ways */
    struct repl_hold *deletes;   /* DeleteRecords waiting for the followers' log starts */
    struct { int32_t id; int64_t start; } starts[WEIR_REPLICAS_MAX]; /* followers' log starts, since leading */
    uint32_t n_starts;
    bool isr_writing;            /* `w` is out */
    bool follower_tail;          /* made leader with the log busy: its follower appends may be in flight */
    bool lead_wait;              /* LEADER, waiting for follower appends to finish before leading */
    uint64_t isr_seq;            /* bumped by every state made: older answers are dropped */
    int64_t isr_retry_ms;        /* proposals before it are dropped (after a failed write) */
    struct isr_write w;
    struct part_repl *led_next, *led_prev;
};

struct repl_reactor {
    struct part_repl *led;       /* partitions this reactor leads */
    int64_t next_tick_ms;
    int64_t next_checkpoint_ms;  /* reactor 0: the store's HW checkpoint */
    int32_t isr_out;             /* ISR writes whose answer has not come back: the reactor waits for them */
    int32_t lead_waits;          /* partitions with lead_wait */
};

static int64_t now_ms(void) { return weir_clock_ns() / 1000000; }

static struct repl_reactor *rr_of(struct reactor *r) { return r->repl; }

/* ---- held acks=all produces ------------------------------------------------------- */

static void stat_add(_Atomic uint64_t *c, uint64_t v) { atomic_fetch_add_explicit(c, v, memory_order_relaxed); }

static void hold_unlink(struct reactor *owner, struct repl_hold *h)
{
    if (h->list == &h->pr->held) { /* produces only on /metrics */
        stat_add(&owner->stats.held, 1);
        stat_add(&owner->stats.held_ns, (uint64_t)(weir_clock_ns() - h->held_ns));
    }
    if (h->prev) h->prev->next = h->next;
    else *h->list = h->next;
    if (h->next) h->next->prev = h->prev;
    h->next = h->prev = NULL;
    h->pr = NULL;
    h->list = NULL;
    reactor_timer_cancel(owner, &h->timer);
}

static void hold_answer(struct reactor *owner, struct repl_hold *h, int16_t error_code)
{
    hold_unlink(owner, h);
    h->done(owner, h, error_code);
}

static void hold_expired(struct reactor *r, struct reactor_timer *t);

static void held_fail_all(struct reactor *owner, struct part_repl *pr, int16_t error_code)
{
    while (pr->held) hold_answer(owner, pr->held, error_code);
    while (pr->deletes) hold_answer(owner, pr->deletes, error_code);
}

static void hold_link(struct reactor *owner, struct part_repl *pr, struct repl_hold **list, struct repl_hold *h)
{
    h->pr = pr;
    h->list = list;
    h->held_ns = weir_clock_ns();
    h->prev = NULL;
    h->next = *list;
    if (h->next) h->next->prev = h;
    *list = h;
    reactor_timer_arm(owner, &h->timer, weir_clock_ns() + (int64_t)WEIR_MAX(h->timeout_ms, 0) * 1000000);
}

/* Kafka's Partition.lowWatermarkIfLeader: the leader's log start, lowered by
 * each follower's that is alive (registered) in the cluster. */
static int64_t low_watermark(struct reactor *owner, const struct part_repl *pr)
{
    enum { LIVE_SEEN = 32 };
    struct weir_broker_addr live[LIVE_SEEN];
    size_t n_live = weir_meta_brokers(owner->b->meta, NULL, live, LIVE_SEEN);
    int64_t lw = weir_log_start_offset(pr->p->log);
    for (uint32_t i = 0; i < pr->info.replicas_n; i++) {
        int32_t id = pr->info.replicas[i];
        bool alive = n_live > LIVE_SEEN; /* more than seen: counted, the safe side */
        for (size_t k = 0; k < WEIR_MIN(n_live, (size_t)LIVE_SEEN) && !alive; k++) alive = live[k].id == id;
        if (id == owner->b->cfg.node_id || !alive) continue;
        int64_t start = -1;
        for (uint32_t k = 0; k < pr->n_starts; k++)
            if (pr->starts[k].id == id) start = pr->starts[k].start;
        lw = WEIR_MIN(lw, start);
    }
    return lw;
}

/* Answers every held DeleteRecords the low watermark now passes. */
static void deletes_check(struct reactor *owner, struct part_repl *pr)
{
    if (!pr->deletes) return;
    int64_t lw = low_watermark(owner, pr);
    for (struct repl_hold *h = pr->deletes, *next; h; h = next) {
        next = h->next;
        if (lw < h->required_offset) continue;
        h->low_watermark = lw;
        hold_answer(owner, h, 0);
    }
}

void part_repl_delete_hold(struct reactor *owner, struct part *p, struct repl_hold *h)
{
    struct part_repl *pr = p ? p->repl : NULL;
    h->next = h->prev = NULL;
    h->pr = NULL;
    h->list = NULL;
    h->timer = (struct reactor_timer){ .fire = hold_expired };
    if (owner->leads_alone) {
        h->low_watermark = weir_log_start_offset(p->log);
        h->done(owner, h, 0);
        return;
    }
    if (!pr || !pr->lead || owner->stopping) {
        h->done(owner, h, WEIR_KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    h->low_watermark = low_watermark(owner, pr);
    if (h->low_watermark >= h->required_offset) {
        h->done(owner, h, 0);
        return;
    }
    hold_link(owner, pr, &pr->deletes, h);
}

/* Answers every held produce the HW now passes. */
static void held_check(struct reactor *owner, struct part_repl *pr)
{
    for (struct repl_hold *h = pr->held, *next; h; h = next) {
        next = h->next;
        enum weir_repl_ack a = weir_repl_leader_ack_check(pr->lead, h->required_offset, h->min_insync);
        if (a == WEIR_REPL_ACK_OK) hold_answer(owner, h, 0);
        else if (a == WEIR_REPL_ACK_NOT_ENOUGH_REPLICAS_AFTER_APPEND)
            hold_answer(owner, h, WEIR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    }
}

static void hold_expired(struct reactor *r, struct reactor_timer *t)
{
    struct repl_hold *h = weir_container_of(t, struct repl_hold, timer);
    hold_answer(r, h, WEIR_KERR_REQUEST_TIMED_OUT);
}

void part_repl_hold(struct reactor *owner, struct part *p, struct repl_hold *h)
{
    struct part_repl *pr = p ? p->repl : NULL;
    h->next = h->prev = NULL;
    h->pr = NULL;
    h->timer = (struct reactor_timer){ .fire = hold_expired };
    if (owner->leads_alone) { /* ISR {self}: the HW is the log end, past the append */
        h->done(owner, h, 0);
        return;
    }
    if (!pr || !pr->lead || owner->stopping) {
        h->done(owner, h, WEIR_KERR_NOT_LEADER_OR_FOLLOWER);
        return;
    }
    enum weir_repl_ack a = weir_repl_leader_ack_check(pr->lead, h->required_offset, h->min_insync);
    if (a != WEIR_REPL_ACK_WAIT) {
        h->done(owner, h, a == WEIR_REPL_ACK_OK ? 0 : WEIR_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        return;
    }
    hold_link(owner, pr, &pr->held, h);
}

/* ---- the high watermark ------------------------------------------------------------- */

/* The leader state's HW goes to the log (whose HW listener wakes consumers),
 * then held produces are checked. */
static void hw_push(struct reactor *owner, struct part_repl *pr)
{
    struct part *p = pr->p;
    int64_t hw = weir_repl_leader_hw(pr->lead);
    if (hw > weir_log_high_watermark(p->log)) {
        enum weir_err err = weir_log_set_high_watermark(p->log, hw);
        if (err != WEIR_OK)
            WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "%s-%d: cannot set the high watermark to %lld: %s", p->topic,
                                 p->partition, (long long)hw, weir_err_text(err));
    }
    held_check(owner, pr);
}

/* ---- ISR writes ------------------------------------------------------------------------ */

static void isr_answer_run(struct reactor *owner, struct task *t);

/* On the cluster's thread. */
static void isr_done(void *ctx, enum weir_err err, int32_t new_version)
{
    struct isr_write *w = ctx;
    w->err = err;
    w->new_version = new_version;
    w->t.run = isr_answer_run;
    reactor_post(w->owner, &w->t);
}

static void isr_answer_run(struct reactor *owner, struct task *t)
{
    struct isr_write *w = weir_container_of(t, struct isr_write, t);
    struct part_repl *pr = w->pr;
    WEIR_ASSERT(pr->isr_writing && rr_of(owner)->isr_out > 0);
    pr->isr_writing = false;
    rr_of(owner)->isr_out--;
    if (!pr->p) { /* its partition closed meanwhile */
        weir_free(pr);
        return;
    }
    if (!pr->lead || w->seq != pr->isr_seq) return; /* a newer state was made since: it decides */
    struct part *p = pr->p;
    if (w->err == WEIR_OK) {
        pr->zk_version = pr->info.zk_version = w->new_version;
        bool adv = weir_repl_leader_isr_applied(pr->lead, now_ms());
        pr->info.isr_n = weir_repl_leader_isr(pr->lead, pr->info.isr, WEIR_REPLICAS_MAX);
        weir_log(WEIR_LOG_INFO, "%s-%d: ISR now has %u replicas (state version %d)", p->topic, p->partition,
                 pr->info.isr_n, w->new_version);
        if (adv) hw_push(owner, pr);
        else held_check(owner, pr); /* a smaller ISR may decide held produces (20) */
    } else {
        weir_repl_leader_isr_failed(pr->lead);
        pr->isr_retry_ms = now_ms() + ISR_RETRY_MS;
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "%s-%d: ISR write at state version %d failed: %s", p->topic,
                             p->partition, pr->zk_version, weir_err_text(w->err));
    }
}

static void isr_propose(struct reactor *owner, struct part_repl *pr, const struct weir_repl_result *res)
{
    struct weir_meta *meta = __atomic_load_n(&owner->b->meta, __ATOMIC_ACQUIRE); /* NULL: not joined yet */
    /* One write out at a time; while the last one is out, or soon after a
     * failure, the proposal is dropped and made again by a later fetch or tick. */
    if (pr->isr_writing || now_ms() < pr->isr_retry_ms || !meta || owner->stopping) {
        weir_repl_leader_isr_failed(pr->lead);
        return;
    }
    pr->isr_writing = true;
    rr_of(owner)->isr_out++;
    pr->w = (struct isr_write){ .owner = owner, .pr = pr, .seq = pr->isr_seq };
    weir_meta_isr_write(meta, pr->p->topic, pr->p->partition, weir_repl_leader_epoch(pr->lead), pr->zk_version,
                        res->isr, res->isr_n, isr_done, &pr->w);
}

static void result_apply(struct reactor *owner, struct part_repl *pr, const struct weir_repl_result *res)
{
    if (res->propose) isr_propose(owner, pr, res);
    if (res->hw_advanced) hw_push(owner, pr);
}

/* ---- roles ------------------------------------------------------------------------------- */

static void led_link(struct reactor *owner, struct part_repl *pr)
{
    struct repl_reactor *rr = rr_of(owner);
    pr->led_prev = NULL;
    pr->led_next = rr->led;
    if (rr->led) rr->led->led_prev = pr;
    rr->led = pr;
}

static void led_unlink(struct reactor *owner, struct part_repl *pr)
{
    struct repl_reactor *rr = rr_of(owner);
    if (pr->led_prev) pr->led_prev->led_next = pr->led_next;
    else rr->led = pr->led_next;
    if (pr->led_next) pr->led_next->led_prev = pr->led_prev;
    pr->led_next = pr->led_prev = NULL;
}

/* Stops leading: held produces get 6, waiting fetches look again (unless
 * the reactors are ending: `tell` false, other reactors may be gone). */
static void lead_drop(struct reactor *owner, struct part_repl *pr, bool tell)
{
    if (!pr->lead) return;
    held_fail_all(owner, pr, WEIR_KERR_NOT_LEADER_OR_FOLLOWER);
    led_unlink(owner, pr);
    weir_repl_leader_free(pr->lead);
    pr->lead = NULL;
    pr->isr_seq++;
    if (pr->p && tell) {
        part_tell(pr->p, &pr->p->waiters);
        part_tell(pr->p, &pr->p->hw_waiters);
    }
}

static void lead_wait_clear(struct reactor *owner, struct part_repl *pr)
{
    if (!pr->lead_wait) return;
    pr->lead_wait = false;
    rr_of(owner)->lead_waits--;
}

static bool lead_take(struct reactor *owner, struct part_repl *pr, const struct weir_role *role)
{
    struct part *p = pr->p;
    struct broker *b = owner->b;
    const struct weir_partition_info *in = &role->info;
    bool was_leading = pr->lead != NULL;
    fetcher_unfollow(owner, p); /* its appends still in flight are stale now */
    enum weir_err err = weir_log_set_leader_epoch(p->log, in->leader_epoch);
    if (err == WEIR_E_INVALID && !was_leading && in->leader_epoch >= 0) { /* follower appends in flight */
        if (!pr->lead_wait) {
            pr->lead_wait = true;
            rr_of(owner)->lead_waits++;
            weir_log(WEIR_LOG_INFO, "%s-%d: leading at epoch %d once its follower appends are done", p->topic,
                     p->partition, in->leader_epoch);
        }
        return true;
    }
    if (err == WEIR_OK && !pr->lead) {
        pr->n_starts = 0; /* followers' log starts are known again from their fetches */
        pr->lead = weir_repl_leader_new();
        if (!pr->lead) err = WEIR_E_NOMEM;
        else led_link(owner, pr);
    }
    bool adv;
    if (err == WEIR_OK) {
        if (!was_leading) pr->follower_tail = !weir_log_idle(p->log);
        weir_log_set_hw_follows_end(p->log, false);
        err = weir_repl_leader_make(pr->lead, b->cfg.node_id, in, weir_log_end_offset(p->log),
                                    weir_log_high_watermark(p->log), b->cfg.replica_lag_time_max_ms, now_ms(), &adv);
    }
    pr->isr_seq++; /* a write out now answers a state that is gone */
    if (err != WEIR_OK) {
        weir_log(WEIR_LOG_ERROR, "%s-%d: cannot lead at epoch %d: %s", p->topic, p->partition, in->leader_epoch,
                 weir_err_text(err));
        lead_drop(owner, pr, true);
        return false;
    }
    hw_push(owner, pr); /* adv or not: the log's HW is the leader's from now on; held produces rechecked */
    return true;
}

static const char *kind_name(enum weir_role_kind k)
{
    switch (k) {
    case WEIR_ROLE_LEADER: return "leader";
    case WEIR_ROLE_FOLLOWER: return "follower";
    case WEIR_ROLE_OFFLINE: return "offline";
    case WEIR_ROLE_NONE: return "none";
    }
    return "?";
}

static void led_tell(struct reactor *owner, struct part *p, bool leader)
{
    for (unsigned i = 0; i < owner->n_hooks; i++)
        if (owner->hooks[i].ops->part_led) owner->hooks[i].ops->part_led(owner, owner->hooks[i].ctx, p, leader);
}


void part_repl_role(struct reactor *owner, struct part *p, const struct weir_role *role)
{
    struct part_repl *pr = p->repl;
    const struct weir_partition_info *in = &role->info;
    if (!pr) {
        if (role->kind == WEIR_ROLE_NONE) return;
        pr = weir_calloc(1, sizeof *pr);
        if (!pr) {
            weir_log(WEIR_LOG_ERROR, "%s-%d: no memory for its replication state", p->topic, p->partition);
            return;
        }
        *pr = (struct part_repl){ .p = p, .kind = WEIR_ROLE_NONE, .leader = WEIR_NO_LEADER, .epoch = -1,
                                  .zk_version = -1 };
        p->repl = pr;
        weir_log_set_hw_follows_end(p->log, false);
    }
    /* Epochs never go back; at one epoch only a newer znode version counts. */
    if (role->kind != WEIR_ROLE_NONE && pr->epoch >= 0 &&
        (in->leader_epoch < pr->epoch || (in->leader_epoch == pr->epoch && in->zk_version <= pr->zk_version)))
        return;
    enum weir_role_kind was = pr->kind;
    int32_t was_epoch = pr->epoch;
    lead_wait_clear(owner, pr); /* the new role decides */
    pr->kind = role->kind;
    pr->leader = in->leader;
    pr->epoch = in->leader_epoch;
    pr->zk_version = in->zk_version;
    pr->info = *in;
    switch (role->kind) {
    case WEIR_ROLE_LEADER:
        if (!lead_take(owner, pr, role)) pr->kind = WEIR_ROLE_OFFLINE;
        break;
    case WEIR_ROLE_FOLLOWER:
        lead_drop(owner, pr, true);
        fetcher_follow(owner, p, in->leader, in->leader_epoch); /* a new ISR alone changes nothing there */
        break;
    case WEIR_ROLE_OFFLINE:
    case WEIR_ROLE_NONE:
        lead_drop(owner, pr, true);
        fetcher_unfollow(owner, p);
        if (role->kind == WEIR_ROLE_NONE) pr->epoch = pr->zk_version = -1; /* a topic made again starts over */
        break;
    }
    if (was != pr->kind || was_epoch != in->leader_epoch) /* not for an ISR change */
        weir_log(WEIR_LOG_INFO, "%s-%d: %s at epoch %d (leader %d, ISR of %u)", p->topic, p->partition,
                 kind_name(pr->kind), in->leader_epoch, in->leader, in->isr_n);
    led_tell(owner, p, pr->kind == WEIR_ROLE_LEADER);
}

void part_unhost(struct reactor *owner, struct part *p)
{
    if (!p->repl) return;
    struct weir_role none = { .kind = WEIR_ROLE_NONE, .info = { .leader = WEIR_NO_LEADER } };
    part_repl_role(owner, p, &none);
}

/* ---- what the handlers ask -------------------------------------------------------------- */

/* Kafka's Partition.getLocalLog order: the epoch first (against the epoch this
 * broker knows, as leader or follower), then leadership. A single node leads
 * every partition at epoch 0 (what its Metadata reports). */
int16_t part_repl_serve_check(const struct reactor *owner, const struct part *p, int32_t current_leader_epoch)
{
    const struct part_repl *pr = p->repl;
    int32_t ours = owner->leads_alone                      ? 0
                   : pr && pr->lead                         ? weir_repl_leader_epoch(pr->lead)
                   : pr && pr->kind != WEIR_ROLE_NONE       ? pr->epoch
                                                            : -1;
    if (current_leader_epoch >= 0 && ours >= 0) {
        if (current_leader_epoch < ours) return WEIR_KERR_FENCED_LEADER_EPOCH;
        if (current_leader_epoch > ours) return WEIR_KERR_UNKNOWN_LEADER_EPOCH;
    }
    if (owner->leads_alone) return 0;
    if (!pr || !pr->lead) return WEIR_KERR_NOT_LEADER_OR_FOLLOWER;
    return 0;
}

int32_t part_repl_leader_epoch(const struct reactor *owner, const struct part *p)
{
    if (owner->leads_alone) return 0;
    return p->repl && p->repl->lead ? weir_repl_leader_epoch(p->repl->lead) : -1;
}

int16_t part_repl_produce_check(struct reactor *owner, struct part *p, int16_t acks, int32_t *min_insync)
{
    *min_insync = 1;
    int16_t code = part_repl_serve_check(owner, p, -1);
    if (code || acks != -1 || owner->leads_alone) return code; /* ISR {self}: min.insync.replicas not checked */
    struct weir_log_config cfg;
    if (weir_store_topic_config(owner->b->store, p->topic, &cfg) == WEIR_OK)
        *min_insync = (int32_t)WEIR_MIN(cfg.min_insync_replicas, (uint32_t)INT32_MAX);
    return weir_repl_leader_can_append_all(p->repl->lead, *min_insync) ? 0 : WEIR_KERR_NOT_ENOUGH_REPLICAS;
}

bool part_repl_follower_fetch(const struct reactor *r, int32_t replica_id)
{
    return replica_id >= 0 && !r->leads_alone;
}

bool part_repl_follower_tail(struct part *p)
{
    struct part_repl *pr = p->repl;
    if (pr && pr->follower_tail && weir_log_idle(p->log)) pr->follower_tail = false;
    return pr && pr->follower_tail;
}

/* A follower's log start from its fetch (kept per replica id while leading). */
static void start_note(struct part_repl *pr, int32_t replica, int64_t log_start)
{
    uint32_t k = 0;
    while (k < pr->n_starts && pr->starts[k].id != replica) k++;
    if (k == pr->n_starts) {
        if (k == WEIR_REPLICAS_MAX) return;
        pr->n_starts++;
    }
    pr->starts[k].id = replica;
    pr->starts[k].start = log_start;
}

bool part_repl_follower_fetched(struct reactor *owner, struct part *p, int32_t replica, int64_t fetch_offset,
                                int64_t leo, int64_t log_start)
{
    struct part_repl *pr = p->repl;
    if (!pr || !pr->lead) return false;
    struct weir_repl_result res;
    enum weir_err err = weir_repl_leader_on_fetch(pr->lead, replica, fetch_offset, leo, now_ms(), &res);
    if (err != WEIR_OK) return false;
    result_apply(owner, pr, &res);
    start_note(pr, replica, log_start);
    deletes_check(owner, pr);
    return true;
}

/* ---- the reactor's hook ------------------------------------------------------------------- */

/* replication-offset-checkpoint: the HWs a restart starts from, written by
 * reactor 0 for every log, only when one changed (not where partitions are
 * led alone: their HWs follow their log ends, and no such file is written). */
static void hw_checkpoint(struct reactor *r)
{
    enum weir_err err = weir_store_checkpoint_hw(r->b->store);
    if (err != WEIR_OK)
        WEIR_LOG_RATELIMITED(WEIR_LOG_ERROR, "cannot write the high watermark checkpoint: %s", weir_err_text(err));
}

/* Partitions made leader while follower appends were in flight try again. */
static void lead_waits_retry(struct reactor *r)
{
    for (size_t i = 0; i < r->parts.n_buckets && rr_of(r)->lead_waits > 0; i++)
        for (struct part *p = r->parts.buckets[i]; p; p = p->hnext) {
            struct part_repl *pr = p->repl;
            if (!pr || !pr->lead_wait || !weir_log_idle(p->log)) continue;
            lead_wait_clear(r, pr);
            struct weir_role role = { .kind = WEIR_ROLE_LEADER, .info = pr->info };
            if (!lead_take(r, pr, &role)) pr->kind = WEIR_ROLE_OFFLINE;
            else if (!pr->lead_wait)
                weir_log(WEIR_LOG_INFO, "%s-%d: leader at epoch %d (after its follower appends)", p->topic,
                         p->partition, pr->epoch);
        }
}

static void repl_tick(struct reactor *r, void *ctx, int64_t now_ns)
{
    (void)ctx;
    struct repl_reactor *rr = rr_of(r);
    int64_t now = now_ns / 1000000;
    if (r->id == 0 && !r->leads_alone && now >= rr->next_checkpoint_ms) {
        rr->next_checkpoint_ms = now + HW_CHECKPOINT_MS;
        hw_checkpoint(r);
    }
    if (rr->lead_waits > 0 && !r->stopping) lead_waits_retry(r);
    if (!rr->led || now < rr->next_tick_ms || r->stopping) return;
    int64_t lag = r->b->cfg.replica_lag_time_max_ms;
    rr->next_tick_ms = now + WEIR_MAX(lag / 4, (int64_t)TICK_MS_MIN);
    for (struct part_repl *pr = rr->led, *next; pr; pr = next) {
        next = pr->led_next;
        struct weir_repl_result res;
        weir_repl_leader_tick(pr->lead, now, lag, &res);
        result_apply(r, pr, &res);
        if (pr->lead) deletes_check(r, pr); /* a follower no longer alive counts no more */
    }
}

static void repl_part_advanced(struct reactor *r, void *ctx, struct part *p)
{
    (void)ctx;
    struct part_repl *pr = p->repl;
    if (!pr->lead) return;
    if (weir_repl_leader_on_append(pr->lead, weir_log_end_offset(p->log), now_ms())) hw_push(r, pr);
}

/* Frees pr, or leaves it to its ISR write's answer. */
static void repl_forget(struct reactor *r, struct part *p, bool tell)
{
    struct part_repl *pr = p->repl;
    lead_drop(r, pr, tell);
    lead_wait_clear(r, pr);
    p->repl = NULL;
    pr->p = NULL;
    if (!pr->isr_writing) weir_free(pr);
}

static void repl_part_opened(struct reactor *r, void *ctx, struct part *p)
{
    (void)ctx;
    if (r->leads_alone) led_tell(r, p, true); /* its only replica: the leader from its open */
}

static void repl_part_closing(struct reactor *r, void *ctx, struct part *p)
{
    (void)ctx;
    if (!p->repl) return; /* no replication state */
    fetcher_unfollow(r, p);
    repl_forget(r, p, true);
}

static void repl_stop(struct reactor *r, void *ctx, bool force)
{
    (void)ctx;
    for (struct part_repl *pr = rr_of(r)->led; pr; pr = pr->led_next)
        held_fail_all(r, pr, WEIR_KERR_NOT_LEADER_OR_FOLLOWER);
    if (!force && r->id == 0 && !r->leads_alone) hw_checkpoint(r);
}

/* Held produces, and ISR writes whose answers will be posted here. */
static bool repl_busy(const struct reactor *r, void *ctx)
{
    (void)ctx;
    if (((const struct repl_reactor *)r->repl)->isr_out > 0) return true;
    for (const struct part_repl *pr = ((const struct repl_reactor *)r->repl)->led; pr; pr = pr->led_next)
        if (pr->held || pr->deletes) return true;
    return false;
}

/* After the loop: nothing is followed or held any more; the state goes
 * before the logs close. */
static void repl_fini(struct reactor *r, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i]; p; p = p->hnext)
            if (p->repl) repl_forget(r, p, false);
    WEIR_ASSERT(!rr_of(r)->led && rr_of(r)->isr_out == 0);
    weir_free(r->repl);
    r->repl = NULL;
}

static const struct reactor_hook_ops repl_hook = { .tick = repl_tick, .stop = repl_stop, .busy = repl_busy,
                                                   .fini = repl_fini, .part_advanced = repl_part_advanced,
                                                   .part_opened = repl_part_opened, .part_closing = repl_part_closing };

void repl_reactor_init(struct reactor *r)
{
    r->repl = weir_calloc(1, sizeof(struct repl_reactor));
    WEIR_ASSERT(r->repl); /* start-up */
    reactor_hook_add(r, &repl_hook, NULL);
}
