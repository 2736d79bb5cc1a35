/* net/fetcher.c: followers pull from their leaders (docs/replication.md,
 * "Follower: truncate, then fetch"; Kafka's ReplicaFetcherThread).
 *
 * One fetcher per source broker, living on reactor (leader id % reactors),
 * with one outbound connection (outconn.c) carrying every partition this
 * broker follows from that leader. The fetcher's state of a partition (struct
 * fpart) lives on the fetcher's reactor; its log is touched only on its owner,
 * by owner ops (struct fop, embedded in the fpart, one at a time) that the
 * fetcher posts and the owner answers:
 *   PREPARE   the local latest epoch: ask the leader (OffsetsForLeaderEpoch),
 *             or with no epochs at all truncate to the HW and fetch;
 *   TRUNCATE  the leader's (epoch, end) -> weir_repl_follower_truncation ->
 *             truncate, then fetch or ask again;
 *   APPEND    a fetched record set appended verbatim (weir_log_append_replica),
 *             then HW = min(leader's HW, local end); an empty one sets the HW;
 *             then the log start follows min(leader's log start, HW), whole segments below it go
 *             (Kafka's maybeIncrementLogStartOffset: the leader's retention
 *             and compaction are mirrored);
 *   RESTART   the leader's log starts above ours: start over at its start.
 * Errors as Kafka's fetcher: FENCED_LEADER_EPOCH parks the partition until a
 * newer follow; NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH and the rest
 * (the leader may learn of its role after we learn of ours) back off
 * replica.fetch.backoff.ms and try again; for the first two, which a leader
 * change gives while the new leader has not applied its role yet, the first
 * QUICK_RETRIES tries after a success wait only QUICK_RETRY_MS (a controlled
 * shutdown's acks=all would otherwise wait out a whole backoff).
 * Rounds, as Kafka's fetcher thread: one request in flight at a time, and
 * none while owner ops are out (the next fetch carries the offsets the
 * appends reached, which is what moves the leader's HW). A round asks for
 * the partitions that need OffsetsForLeaderEpoch first, else fetches.
 *
 * Staleness: the owner bumps part.follow_gen at each follow and unfollow;
 * an owner op of another generation does nothing (answers STALE), and the
 * fetcher drops the fpart of an older follow when the new one (or the
 * unfollow) arrives. So fetcher_unfollow leaves nothing that touches the
 * part: appends still queued on the log hold only the fop and the response
 * buffer, both owned here, and find no part (or another generation) when
 * they complete. An fpart is freed only once no op and no request holds it. */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>

enum {
    FETCH_VERSION = 13,             /* topic ids: a leader with another topic's copy of the name refuses */
    FETCH_VERSION_NAMES = 12,       /* when a partition has no topic id (a topic from before ids) */
    OFLE_VERSION = 3,               /* OffsetForLeaderEpoch with replica_id, not flexible */
    SOCKET_TIMEOUT_MS = 30000,      /* Kafka's replica.socket.timeout.ms */
    BUSY_RETRY_MS = 20,             /* the log still has appends of its leader days in flight */
    QUICK_RETRY_MS = 25,            /* the new leader has not applied its role yet */
    QUICK_RETRIES = 20,             /* then replica.fetch.backoff.ms: a real failure */
    SCRATCH_BYTES = 64 << 10,
};

static _Atomic uint64_t follow_gens; /* generations, unique over the process */

struct fbuf {                   /* a Fetch response frame, shared by its appends */
    _Atomic int refs;
    uint8_t *frame;
};

static void fbuf_put(struct fbuf *fb)
{
    if (!fb || atomic_fetch_sub(&fb->refs, 1) != 1) return;
    weir_free(fb->frame);
    weir_free(fb);
}

enum fop_kind { FOP_PREPARE, FOP_TRUNCATE, FOP_APPEND, FOP_RESTART };
enum fop_res { FOPR_FETCH, FOPR_ASK, FOPR_RETRY, FOPR_BUSY, FOPR_PARK, FOPR_STALE };

struct fop {
    struct task t;
    enum fop_kind kind;
    /* in */
    int16_t error;               /* TRUNCATE: the leader's answer */
    int32_t leader_epoch;
    int64_t leader_end;
    int64_t offset;              /* RESTART: where the leader's log starts */
    struct fbuf *buf;            /* APPEND */
    int64_t leader_hw;
    int64_t leader_start;        /* APPEND: the leader's log start offset */
    struct weir_append a;
    /* out */
    enum fop_res res;
    int64_t leo, log_start;
    int64_t start_done;          /* APPEND: follow_log_start's answer */
    int32_t next_epoch;
    enum weir_err err;
};

enum fp_state { FP_PREPARE, FP_ASK, FP_FETCH, FP_PARKED, FP_GONE };

struct fetcher;

struct fpart {
    struct fetcher *f;
    struct reactor *owner;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
    struct weir_uuid topic_id;   /* the owner's copy's (zero: none; Fetch v12 then) */
    uint64_t gen;
    int32_t epoch;               /* the leader's epoch we follow (current_leader_epoch) */
    enum fp_state state;
    int64_t retry_at_ns;         /* backed off until then */
    int quick_retries;           /* quick retries since the last answer without error */
    bool owner_busy;             /* op is out on the owner: not ours to touch */
    bool in_request;             /* in the request in flight */
    int32_t ask_epoch;
    int64_t fetch_offset, log_start;
    int64_t hw_given;            /* the leader HW last handed to the owner */
    int64_t start_given;         /* the leader log start the owner last dealt with */
    struct fop op;
    struct fpart *next;
};

struct fetchers {                /* per reactor: r->fetchers */
    struct fetcher *list;
    int live_conns;
    bool stopping;
};

struct fetcher {
    struct reactor *r;
    struct fetchers *fs;
    int32_t leader;
    struct outconn *oc;
    struct fpart *parts;
    unsigned n_parts;            /* not GONE */
    int pending;                 /* owner ops out */
    bool req_inflight;
    struct fpart **req_parts;    /* the request in flight's partitions, in order */
    int32_t req_n, req_cap;
    int16_t req_version;         /* the Fetch in flight's */
    struct weir_arena scratch;   /* request building and response decoding */
    struct reactor_timer timer;  /* the earliest backed-off partition */
    int64_t sent_ns, answered_ns; /* the last Fetch's send and its response (stats) */
    struct fetcher *next;
};

static void fetcher_kick(struct fetcher *f);

static int64_t backoff_ns(const struct reactor *r) { return (int64_t)r->b->cfg.replica_fetch_backoff_ms * 1000000; }

/* ---- owner ops (on the partition's owner reactor) ------------------------------- */

static void fop_reply_run(struct reactor *r, struct task *t);

static void fop_reply(struct fpart *fp)
{
    fp->op.t.run = fop_reply_run;
    reactor_post(fp->f->r, &fp->op.t);
}

/* Our part of the generation the fop was sent for, or NULL. */
static struct part *fop_part(struct reactor *owner, const struct fpart *fp)
{
    struct part *p = part_find(owner, fp->topic, fp->partition);
    return p && p->followed && p->follow_gen == fp->gen ? p : NULL;
}

static bool epoch_lookup(void *ctx, int32_t epoch, int32_t *epoch_out, int64_t *end_out)
{
    weir_log_epoch_end_offset(ctx, epoch, epoch_out, end_out);
    return *epoch_out != WEIR_EPOCH_NONE;
}

/* Truncates to offset, rounded down to the batch holding it (a follower's HW
 * may fall inside one). At or past the end too: the epoch cache is still cut
 * at the end there (an epoch led without appending goes). */
static enum weir_err truncate_to(struct weir_log *log, int64_t offset)
{
    if (offset > weir_log_start_offset(log) && offset < weir_log_end_offset(log)) {
        struct weir_log_view v;
        if (weir_log_read(log, offset, 1, true, &v) == WEIR_OK) {
            if (v.len > 0 && v.offset_first < offset) offset = v.offset_first;
            weir_log_view_release(log, &v);
        }
    }
    return weir_log_truncate(log, offset);
}

static void fop_truncated(struct fpart *fp, struct weir_log *log, int64_t offset, enum fop_res ok)
{
    struct fop *op = &fp->op;
    int64_t end = weir_log_end_offset(log);
    if (offset < end)
        weir_log(WEIR_LOG_INFO, "follower %s-%d: truncating to %" PRId64 " (log end %" PRId64 ") for leader epoch %d",
                 fp->topic, fp->partition, offset, end, fp->epoch);
    op->err = truncate_to(log, offset);
    if (op->err != WEIR_OK)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "follower %s-%d: truncate to %" PRId64 ": %s", fp->topic, fp->partition,
                             offset, weir_err_str(op->err));
    op->res = op->err == WEIR_OK ? ok : FOPR_RETRY;
}

/* The log start follows the leader's (Kafka's follower
 * maybeIncrementLogStartOffset), never past the HW: durable, then the whole
 * segments below it go; returns the leader log start dealt with (less while
 * the HW is below it). The leader's segments end elsewhere than ours: when
 * the start falls in our active segment, it is rolled, so that it can go
 * once the start passes its end. */
static int64_t follow_log_start(struct fpart *fp, struct weir_log *log, int64_t leader_start)
{
    int64_t to = WEIR_MIN(leader_start, weir_log_high_watermark(log));
    if (to <= weir_log_start_offset(log)) return to;
    unsigned deleted = 0;
    enum weir_err err = weir_log_advance_start(log, to, &deleted);
    if (err != WEIR_OK)
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "follower %s-%d: moving the log start to the leader's %" PRId64
                             ": %s", fp->topic, fp->partition, leader_start, weir_err_str(err));
    else if (deleted)
        weir_log(WEIR_LOG_INFO, "follower %s-%d: %u segment(s) deleted below the leader's log start %" PRId64
                 "; log start now %" PRId64, fp->topic, fp->partition, deleted, leader_start,
                 weir_log_start_offset(log));
    /* One segment left: the active one holds offsets below the new start. */
    if (err == WEIR_OK && weir_log_segment_count(log) == 1 && weir_log_idle(log)) weir_log_roll(log);
    return to;
}

static void fop_append_done(struct weir_append *a)
{
    struct fpart *fp = a->user;
    struct fop *op = &fp->op;
    op->err = a->err;
    op->res = FOPR_RETRY;
    struct part *p = fop_part(fp->owner, fp);
    if (!p) {
        op->res = FOPR_STALE;
    } else if (a->err == WEIR_OK) {
        int64_t end = a->base_offset + a->records; /* where the next fetch starts */
        int64_t hw = WEIR_MIN(op->leader_hw, end);
        if (hw > weir_log_high_watermark(p->log)) weir_log_set_high_watermark(p->log, hw);
        op->start_done = follow_log_start(fp, p->log, op->leader_start);
        op->leo = end;
        op->log_start = weir_log_start_offset(p->log);
        op->res = FOPR_FETCH;
    } else {
        WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "follower %s-%d: append at %" PRId64 ": %s", fp->topic, fp->partition,
                             fp->fetch_offset, weir_err_str(a->err));
    }
    fbuf_put(op->buf);
    op->buf = NULL;
    fop_reply(fp);
}

static void fop_run(struct reactor *owner, struct task *t)
{
    struct fop *op = weir_container_of(t, struct fop, t);
    struct fpart *fp = weir_container_of(op, struct fpart, op);
    struct part *p = fop_part(owner, fp);
    op->err = WEIR_OK;
    if (!p) {
        op->res = FOPR_STALE;
        fbuf_put(op->buf);
        op->buf = NULL;
        fop_reply(fp);
        return;
    }
    struct weir_log *log = p->log;
    if (op->kind == FOP_APPEND) {
        if (op->a.len == 0) { /* no records: the leader's HW only */
            int64_t end = weir_log_end_offset(log);
            int64_t hw = WEIR_MIN(op->leader_hw, end);
            if (hw > weir_log_high_watermark(log)) weir_log_set_high_watermark(log, hw);
            op->start_done = follow_log_start(fp, log, op->leader_start);
            op->leo = end;
            op->log_start = weir_log_start_offset(log);
            op->res = FOPR_FETCH;
        } else {
            op->a.on_done = fop_append_done;
            op->a.user = fp;
            op->err = weir_log_append_replica(log, &op->a);
            if (op->err == WEIR_OK) return; /* fop_append_done replies */
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "follower %s-%d: append at %" PRId64 ": %s", fp->topic,
                                 fp->partition, fp->fetch_offset, weir_err_str(op->err));
            op->res = op->err == WEIR_E_INVALID && !weir_log_idle(log) ? FOPR_BUSY : FOPR_RETRY;
        }
        fbuf_put(op->buf);
        op->buf = NULL;
        fop_reply(fp);
        return;
    }
    if (!weir_log_idle(log)) { /* appends from its leader days still in flight */
        op->res = FOPR_BUSY;
        fop_reply(fp);
        return;
    }
    int32_t latest = weir_log_latest_epoch(log);
    int64_t hw = weir_log_high_watermark(log);
    struct weir_trunc tr;
    switch (op->kind) {
    case FOP_PREPARE:
        if (weir_repl_follower_should_ask(latest, hw, &tr)) {
            op->res = FOPR_ASK;
            op->next_epoch = latest;
        } else {
            fop_truncated(fp, log, tr.offset, FOPR_FETCH);
        }
        break;
    case FOP_TRUNCATE:
        weir_repl_follower_truncation(latest, weir_log_end_offset(log), hw, epoch_lookup, log, op->error,
                                      op->leader_epoch, op->leader_end, &tr);
        switch (tr.action) {
        case WEIR_TRUNC_FETCH: fop_truncated(fp, log, tr.offset, FOPR_FETCH); break;
        case WEIR_TRUNC_AGAIN:
            fop_truncated(fp, log, tr.offset, FOPR_ASK);
            op->next_epoch = tr.next_epoch;
            break;
        case WEIR_TRUNC_RETRY: op->res = FOPR_RETRY; break;
        case WEIR_TRUNC_FENCED: op->res = FOPR_PARK; break;
        }
        break;
    case FOP_RESTART: /* Kafka's truncateFullyAndStartAt */
        weir_log(WEIR_LOG_INFO, "follower %s-%d: the leader's log starts at %" PRId64 ", past this replica's end %"
                 PRId64 ": restarting the log there", fp->topic, fp->partition, op->offset, weir_log_end_offset(log));
        op->err = weir_log_restart_at(log, op->offset);
        if (op->err != WEIR_OK)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "follower %s-%d: restart at %" PRId64 ": %s", fp->topic,
                                 fp->partition, op->offset, weir_err_str(op->err));
        op->res = op->err == WEIR_OK ? FOPR_FETCH : FOPR_RETRY;
        break;
    case FOP_APPEND: break;
    }
    op->leo = weir_log_end_offset(log);
    op->log_start = weir_log_start_offset(log);
    fop_reply(fp);
}

static void fop_send(struct fpart *fp, enum fop_kind kind)
{
    WEIR_ASSERT(!fp->owner_busy && !fp->in_request);
    fp->op.kind = kind;
    fp->op.t.run = fop_run;
    fp->owner_busy = true;
    fp->f->pending++;
    reactor_post(fp->owner, &fp->op.t);
}

/* ---- fetcher side: partitions ---------------------------------------------------- */

static void fpart_backoff(struct fpart *fp, int64_t ns)
{
    fp->retry_at_ns = weir_clock_ns() + ns;
}

/* Backs off after the leader answered `error` (0: no answer, a local failure). */
static void fpart_retry(struct fpart *fp, int16_t error)
{
    bool role_lag = error == WEIR_KERR_NOT_LEADER_OR_FOLLOWER || error == WEIR_KERR_UNKNOWN_LEADER_EPOCH;
    if (role_lag && fp->quick_retries < QUICK_RETRIES) {
        fp->quick_retries++;
        fpart_backoff(fp, (int64_t)QUICK_RETRY_MS * 1000000);
    } else {
        fpart_backoff(fp, backoff_ns(fp->f->r));
    }
}

static void fop_reply_run(struct reactor *r, struct task *t)
{
    (void)r;
    struct fop *op = weir_container_of(t, struct fop, t);
    struct fpart *fp = weir_container_of(op, struct fpart, op);
    struct fetcher *f = fp->f;
    WEIR_ASSERT(fp->owner_busy && f->pending > 0);
    fp->owner_busy = false;
    f->pending--;
    if (fp->state != FP_GONE) {
        switch (op->res) {
        case FOPR_FETCH:
            if (op->kind != FOP_APPEND) fp->hw_given = fp->start_given = -1; /* a truncation may have lowered the HW */
            else fp->start_given = op->start_done;
            fp->state = FP_FETCH;
            fp->fetch_offset = op->leo;
            fp->log_start = op->log_start;
            break;
        case FOPR_ASK:
            fp->state = FP_ASK;
            fp->ask_epoch = op->next_epoch;
            fp->fetch_offset = op->leo;
            fp->log_start = op->log_start;
            break;
        case FOPR_BUSY: fpart_backoff(fp, (int64_t)BUSY_RETRY_MS * 1000000); break;
        case FOPR_RETRY:
            fp->state = FP_PREPARE; /* truncate again before fetching */
            if (op->kind == FOP_TRUNCATE && op->error)
                WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "follower %s-%d: leader %d answered %s to OffsetsForLeaderEpoch; "
                                     "retrying", fp->topic, fp->partition, f->leader, weir_kerr_name(op->error));
            fpart_retry(fp, op->kind == FOP_TRUNCATE ? op->error : 0);
            break;
        case FOPR_PARK:
            weir_log(WEIR_LOG_INFO, "follower %s-%d: fenced at leader epoch %d; waiting for a newer state",
                     fp->topic, fp->partition, fp->epoch);
            fp->state = FP_PARKED;
            break;
        case FOPR_STALE: fp->state = FP_GONE, f->n_parts--; break; /* a newer follow or the unfollow is coming */
        }
    }
    fetcher_kick(f);
}

static bool fpart_due(const struct fpart *fp, int64_t now)
{
    return !fp->owner_busy && !fp->in_request && fp->retry_at_ns <= now;
}

/* ---- requests ------------------------------------------------------------------------ */

static void request_clear(struct fetcher *f)
{
    for (int32_t i = 0; i < f->req_n; i++) f->req_parts[i]->in_request = false;
    f->req_n = 0;
    f->req_inflight = false;
}

/* The fpart answered at index i of the response, found near where it was asked. */
/* The request's partition answered as (topic or, with id non-NULL, its id, partition). */
static struct fpart *req_find(struct fetcher *f, int32_t *cursor, struct kstr topic, const struct weir_uuid *id,
                              int32_t partition)
{
    for (int32_t k = 0; k < f->req_n; k++) {
        struct fpart *fp = f->req_parts[(*cursor + k) % f->req_n];
        if (fp->partition == partition && (id ? weir_uuid_eq(id, &fp->topic_id) : kstr_eq(topic, fp->topic))) {
            *cursor = (*cursor + k + 1) % f->req_n;
            return fp;
        }
    }
    return NULL;
}

static void ofle_done(void *ctx, enum weir_err err, uint8_t *frame, struct weir_rd body)
{
    struct fetcher *f = ctx;
    struct koffsetforleaderepoch_resp resp;
    if (err == WEIR_OK) {
        weir_arena_reset(&f->scratch);
        err = kproto_offsetforleaderepoch_response_decode(&body, OFLE_VERSION, &f->scratch, &resp);
        if (err != WEIR_OK)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "fetcher %d: malformed OffsetForLeaderEpoch response: %s", f->leader,
                                 weir_err_str(err));
    }
    if (err == WEIR_OK && !f->fs->stopping) {
        int32_t cursor = 0;
        for (int32_t i = 0; i < resp.n_topics; i++)
            for (int32_t j = 0; j < resp.topics[i].n_partitions; j++) {
                const struct koffsetforleaderepoch_resp_part *rp = &resp.topics[i].partitions[j];
                struct fpart *fp = req_find(f, &cursor, resp.topics[i].topic, NULL, rp->partition);
                if (!fp || !fp->in_request || fp->state != FP_ASK) continue;
                fp->in_request = false;
                fp->op.error = rp->error_code;
                fp->op.leader_epoch = rp->leader_epoch;
                fp->op.leader_end = rp->end_offset;
                fop_send(fp, FOP_TRUNCATE);
            }
    }
    weir_free(frame); /* a failed request: its partitions ask again on the next connection */
    request_clear(f);
    fetcher_kick(f);
}

/* Bytes of whole batches at the start of a record set (it may end in a partial one). */
static size_t whole_batches(const uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (n - pos >= WEIR_BATCH_LOG_OVERHEAD) {
        size_t len = weir_load_be32(p + pos + 8);
        if (len > n - pos - WEIR_BATCH_LOG_OVERHEAD) break;
        pos += WEIR_BATCH_LOG_OVERHEAD + len;
    }
    return pos;
}

static void fetch_part_answer(struct fetcher *f, struct fpart *fp, const struct kfetch_resp_part *rp, struct fbuf *fb)
{
    switch (rp->error_code) {
    case WEIR_KERR_NONE: {
        fp->quick_retries = 0;
        size_t len = rp->record_set.len > 0 ? whole_batches(rp->record_set.ptr, (size_t)rp->record_set.len) : 0;
        if (len == 0 && rp->high_watermark <= fp->hw_given && rp->log_start_offset <= fp->start_given)
            return; /* nothing new */
        fp->hw_given = rp->high_watermark;
        fp->op.leader_hw = rp->high_watermark;
        fp->op.leader_start = rp->log_start_offset;
        fp->op.a = (struct weir_append){ .batch = (uint8_t *)rp->record_set.ptr, .len = len };
        fp->op.buf = NULL;
        if (len > 0) {
            atomic_fetch_add(&fb->refs, 1);
            fp->op.buf = fb;
        }
        fop_send(fp, FOP_APPEND);
        return;
    }
    case WEIR_KERR_FENCED_LEADER_EPOCH: /* our epoch is old: a newer state is on its way */
        weir_log(WEIR_LOG_INFO, "follower %s-%d: leader %d answered %s at epoch %d; waiting for a newer state",
                 fp->topic, fp->partition, f->leader, weir_kerr_name(rp->error_code), fp->epoch);
        fp->state = FP_PARKED;
        return;
    case WEIR_KERR_OFFSET_OUT_OF_RANGE:
        if (fp->fetch_offset < rp->log_start_offset) { /* behind the leader's retention */
            fp->op.offset = rp->log_start_offset;
            fop_send(fp, FOP_RESTART);
        } else { /* ahead of the leader: find where we diverge again */
            fp->state = FP_PREPARE;
        }
        return;
    default: /* NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH: the leader is behind the state; and the rest */
        WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "follower %s-%d: leader %d answered %s; retrying", fp->topic,
                             fp->partition, f->leader, weir_kerr_name(rp->error_code));
        fpart_retry(fp, rp->error_code);
        return;
    }
}

static void fetch_done(void *ctx, enum weir_err err, uint8_t *frame, struct weir_rd body)
{
    struct fetcher *f = ctx;
    struct kfetch_resp resp;
    struct fbuf *fb = NULL;
    f->answered_ns = weir_clock_ns();
    atomic_fetch_add_explicit(&f->r->stats.fetcher_rtt_ns, (uint64_t)(f->answered_ns - f->sent_ns), memory_order_relaxed);
    if (err == WEIR_OK) {
        weir_arena_reset(&f->scratch);
        err = kproto_fetch_response_decode(&body, f->req_version, &f->scratch, &resp);
        if (err != WEIR_OK)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "fetcher %d: malformed Fetch response: %s", f->leader,
                                 weir_err_str(err));
        else if (resp.error_code != WEIR_KERR_NONE)
            WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "fetcher %d: Fetch answered %s", f->leader,
                                 weir_kerr_name(resp.error_code));
    }
    if (err == WEIR_OK && resp.error_code == WEIR_KERR_NONE && !f->fs->stopping && (fb = weir_malloc(sizeof *fb))) {
        atomic_init(&fb->refs, 1);
        fb->frame = frame;
        frame = NULL;
        int32_t cursor = 0;
        for (int32_t i = 0; i < resp.n_topics; i++)
            for (int32_t j = 0; j < resp.topics[i].n_partitions; j++) {
                const struct kfetch_resp_part *rp = &resp.topics[i].partitions[j];
                struct fpart *fp = req_find(f, &cursor, resp.topics[i].topic,
                                            f->req_version >= 13 ? &resp.topics[i].topic_id : NULL, rp->partition_index);
                if (!fp || !fp->in_request || fp->state != FP_FETCH) continue;
                fp->in_request = false;
                fetch_part_answer(f, fp, rp, fb);
            }
    } else if (err == WEIR_OK && resp.error_code != WEIR_KERR_NONE) {
        for (int32_t i = 0; i < f->req_n; i++) fpart_backoff(f->req_parts[i], backoff_ns(f->r));
    }
    fbuf_put(fb);
    weir_free(frame);
    request_clear(f);
    fetcher_kick(f);
}

/* Room for n partitions in req_parts (kept across requests). */
static struct fpart **req_reserve(struct fetcher *f, int32_t n)
{
    if (n > f->req_cap) {
        struct fpart **p = weir_realloc(f->req_parts, (size_t)n * sizeof *p);
        if (!p) return NULL;
        f->req_parts = p;
        f->req_cap = n;
    }
    return f->req_parts;
}

static bool ofle_send(struct fetcher *f, int64_t now)
{
    int32_t n = 0;
    for (struct fpart *fp = f->parts; fp; fp = fp->next) n += fp->state == FP_ASK && fpart_due(fp, now);
    if (n == 0) return false;
    weir_arena_reset(&f->scratch);
    struct fpart **list = req_reserve(f, n);
    struct koffsetforleaderepoch_req_topic *topics = weir_arena_alloc(&f->scratch, (size_t)n * sizeof *topics);
    struct koffsetforleaderepoch_req_part *parts = weir_arena_alloc(&f->scratch, (size_t)n * sizeof *parts);
    if (!list || !topics || !parts) return false;
    int32_t n_topics = 0, k = 0;
    /* Grouped by topic: each topic's partitions sit together in parts[]. */
    for (struct fpart *fp = f->parts; fp; fp = fp->next) {
        if (fp->state != FP_ASK || !fpart_due(fp, now)) continue;
        bool seen = false;
        for (int32_t t = 0; t < n_topics && !seen; t++) seen = kstr_eq(topics[t].topic, fp->topic);
        if (seen) continue;
        struct koffsetforleaderepoch_req_topic *t = &topics[n_topics++];
        *t = (struct koffsetforleaderepoch_req_topic){ kstr_c(fp->topic), &parts[k], 0 };
        for (struct fpart *q = fp; q; q = q->next) {
            if (q->state != FP_ASK || !fpart_due(q, now) || strcmp(q->topic, fp->topic)) continue;
            parts[k] = (struct koffsetforleaderepoch_req_part){ q->partition, q->epoch, q->ask_epoch };
            list[k++] = q;
            t->n_partitions++;
        }
    }
    struct kbuf *b = outconn_begin(f->oc, KAPI_OFFSET_FOR_LEADER_EPOCH, OFLE_VERSION);
    if (!b) return false;
    kproto_offsetforleaderepoch_request_encode(
        b, OFLE_VERSION, &(struct koffsetforleaderepoch_req){ f->r->b->cfg.node_id, topics, n_topics });
    f->req_n = k;
    f->req_inflight = true;
    for (int32_t i = 0; i < k; i++) list[i]->in_request = true;
    if (outconn_end(f->oc, SOCKET_TIMEOUT_MS, ofle_done, f) != WEIR_OK) request_clear(f);
    return true;
}

static bool fetch_send(struct fetcher *f, int64_t now)
{
    const struct weir_broker_config *cfg = &f->r->b->cfg;
    int32_t n = 0;
    for (struct fpart *fp = f->parts; fp; fp = fp->next) n += fp->state == FP_FETCH && fpart_due(fp, now);
    if (n == 0) return false;
    weir_arena_reset(&f->scratch);
    struct fpart **list = req_reserve(f, n);
    struct kfetch_req_topic *topics = weir_arena_alloc(&f->scratch, (size_t)n * sizeof *topics);
    struct kfetch_req_part *parts = weir_arena_alloc(&f->scratch, (size_t)n * sizeof *parts);
    if (!list || !topics || !parts) return false;
    int32_t n_topics = 0, k = 0;
    int16_t version = FETCH_VERSION;
    for (struct fpart *fp = f->parts; fp; fp = fp->next) {
        if (fp->state != FP_FETCH || !fpart_due(fp, now)) continue;
        if (weir_uuid_is_zero(&fp->topic_id)) version = FETCH_VERSION_NAMES;
        bool seen = false;
        for (int32_t t = 0; t < n_topics && !seen; t++) seen = kstr_eq(topics[t].topic, fp->topic);
        if (seen) continue;
        struct kfetch_req_topic *t = &topics[n_topics++];
        *t = (struct kfetch_req_topic){ .topic = kstr_c(fp->topic), .topic_id = fp->topic_id, .partitions = &parts[k] };
        for (struct fpart *q = fp; q; q = q->next) {
            if (q->state != FP_FETCH || !fpart_due(q, now) || strcmp(q->topic, fp->topic)) continue;
            parts[k] = (struct kfetch_req_part){ .partition = q->partition, .current_leader_epoch = q->epoch,
                                                 .fetch_offset = q->fetch_offset, .last_fetched_epoch = -1, .log_start_offset = q->log_start,
                                                 .partition_max_bytes = cfg->replica_fetch_max_bytes };
            list[k++] = q;
            t->n_partitions++;
        }
    }
    struct kbuf *b = outconn_begin(f->oc, KAPI_FETCH, version);
    if (!b) return false;
    struct kfetch_req req = { .replica_id = cfg->node_id, .max_wait_ms = cfg->replica_fetch_wait_max_ms,
                              .min_bytes = cfg->replica_fetch_min_bytes,
                              .max_bytes = cfg->replica_fetch_response_max_bytes, .isolation_level = 0,
                              .session_id = 0, .session_epoch = -1, .topics = topics, .n_topics = n_topics,
                              .rack_id = kstr_c("") };
    kproto_fetch_request_encode(b, version, &req);
    f->req_version = version;
    f->req_n = k;
    f->req_inflight = true;
    for (int32_t i = 0; i < k; i++) list[i]->in_request = true;
    int64_t timeout = (int64_t)cfg->replica_fetch_wait_max_ms + SOCKET_TIMEOUT_MS;
    f->sent_ns = weir_clock_ns();
    struct reactor_stats *rs = &f->r->stats;
    atomic_fetch_add_explicit(&rs->fetcher_sent, 1, memory_order_relaxed);
    if (f->answered_ns)
        atomic_fetch_add_explicit(&rs->fetcher_turn_ns, (uint64_t)(f->sent_ns - f->answered_ns), memory_order_relaxed);
    f->answered_ns = 0;
    if (outconn_end(f->oc, timeout, fetch_done, f) != WEIR_OK) request_clear(f);
    return true;
}

/* ---- the fetcher ------------------------------------------------------------------------- */

static void fetcher_free(struct fetcher *f)
{
    struct fetchers *fs = f->fs;
    for (struct fetcher **link = &fs->list; *link; link = &(*link)->next)
        if (*link == f) {
            *link = f->next;
            break;
        }
    WEIR_ASSERT(!f->pending && !f->req_inflight);
    while (f->parts) {
        struct fpart *fp = f->parts;
        f->parts = fp->next;
        weir_free(fp);
    }
    if (f->oc) outconn_free(f->oc);
    reactor_timer_cancel(f->r, &f->timer);
    weir_arena_destroy(&f->scratch);
    weir_free(f->req_parts);
    weir_free(f);
}

/* Frees GONE partitions nothing holds any more. */
static void fetcher_reap(struct fetcher *f)
{
    for (struct fpart **link = &f->parts; *link;) {
        struct fpart *fp = *link;
        if (fp->state == FP_GONE && !fp->owner_busy && !fp->in_request) {
            *link = fp->next;
            weir_free(fp);
        } else {
            link = &fp->next;
        }
    }
}

static void fetcher_ready(void *ctx) { fetcher_kick(ctx); }

static void fetcher_timer_fire(struct reactor *r, struct reactor_timer *t)
{
    (void)r;
    fetcher_kick(weir_container_of(t, struct fetcher, timer));
}

/* The leader's inter-broker listener from the metadata; false when it is
 * not live (or has no such listener), or before the metadata is up. */
static bool fetcher_target(struct fetcher *f)
{
    struct weir_meta *meta = __atomic_load_n(&f->r->b->meta, __ATOMIC_ACQUIRE);
    struct weir_broker_addr addr;
    const char *listener = f->r->b->cfg.listeners[f->r->b->inter_broker].name;
    if (!meta || !weir_meta_broker(meta, f->leader, listener, &addr)) return false;
    outconn_target(f->oc, addr.host, addr.port);
    return true;
}

/* Moves every partition along as far as it can go now. The last use of f. */
static void fetcher_kick(struct fetcher *f)
{
    if (f->fs->stopping) return;
    fetcher_reap(f);
    if (f->n_parts == 0 && !f->pending && !f->req_inflight) {
        fetcher_free(f);
        return;
    }
    int64_t now = weir_clock_ns();
    for (struct fpart *fp = f->parts; fp; fp = fp->next)
        if (fp->state == FP_PREPARE && fpart_due(fp, now)) fop_send(fp, FOP_PREPARE);
    if (!f->pending && !f->req_inflight) {
        if (!fetcher_target(f)) {
            WEIR_LOG_RATELIMITED(WEIR_LOG_INFO, "fetcher %d: the leader is not a live broker; waiting", f->leader);
            reactor_timer_arm(f->r, &f->timer, now + backoff_ns(f->r));
            return;
        }
        if (outconn_can_send(f->oc) && !ofle_send(f, now)) fetch_send(f, now);
    }
    /* Wake for the earliest backed-off partition. */
    int64_t at = INT64_MAX;
    for (struct fpart *fp = f->parts; fp; fp = fp->next)
        if (fp->state != FP_GONE && fp->state != FP_PARKED && fp->retry_at_ns > now) at = WEIR_MIN(at, fp->retry_at_ns);
    if (at != INT64_MAX) reactor_timer_arm(f->r, &f->timer, at);
}

static struct fetcher *fetcher_get(struct reactor *r, int32_t leader)
{
    struct fetchers *fs = r->fetchers;
    for (struct fetcher *f = fs->list; f; f = f->next)
        if (f->leader == leader) return f;
    struct fetcher *f = weir_calloc(1, sizeof *f);
    if (!f) return NULL;
    char client_id[64];
    snprintf(client_id, sizeof client_id, "broker-%d-fetcher-%d", r->b->cfg.node_id, leader);
    if (weir_arena_init_growable(&f->scratch, SCRATCH_BYTES, SCRATCH_BYTES) != WEIR_OK ||
        !(f->oc = outconn_new(r, client_id, r->b->cfg.replica_fetch_backoff_ms, fetcher_ready, f, &fs->live_conns))) {
        weir_arena_destroy(&f->scratch);
        weir_free(f);
        return NULL;
    }
    f->r = r;
    f->fs = fs;
    f->leader = leader;
    f->timer.fire = fetcher_timer_fire;
    f->next = fs->list;
    fs->list = f;
    return f;
}

/* ---- follow and unfollow (owner -> fetcher reactor) --------------------------------- */

struct fmsg {
    struct task t;
    bool follow;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
    int32_t partition;
    struct weir_uuid topic_id;
    struct reactor *owner;
    uint64_t gen;
    int32_t leader, epoch;
};

/* Marks a partition's fparts on this reactor GONE: any (follow), or of gen (unfollow). */
static void fparts_drop(struct fetchers *fs, const struct fmsg *m, bool any_gen)
{
    for (struct fetcher *f = fs->list, *next; f; f = next) {
        next = f->next;
        bool dropped = false;
        for (struct fpart *fp = f->parts; fp; fp = fp->next) {
            if (fp->state == FP_GONE || fp->partition != m->partition || strcmp(fp->topic, m->topic)) continue;
            if (!any_gen && fp->gen != m->gen) continue;
            fp->state = FP_GONE;
            f->n_parts--;
            dropped = true;
        }
        if (dropped) fetcher_kick(f); /* may free f */
    }
}

static void fmsg_run(struct reactor *r, struct task *t)
{
    struct fmsg *m = weir_container_of(t, struct fmsg, t);
    struct fetchers *fs = r->fetchers;
    if (!fs->stopping) {
        fparts_drop(fs, m, m->follow);
        struct fetcher *f = m->follow ? fetcher_get(r, m->leader) : NULL;
        struct fpart *fp = f ? weir_calloc(1, sizeof *fp) : NULL;
        if (m->follow && !fp)
            weir_log(WEIR_LOG_ERROR, "follower %s-%d: out of memory for its fetcher state", m->topic, m->partition);
        if (fp) {
            fp->f = f;
            fp->owner = m->owner;
            memcpy(fp->topic, m->topic, sizeof fp->topic);
            fp->partition = m->partition;
            fp->topic_id = m->topic_id;
            fp->gen = m->gen;
            fp->epoch = m->epoch;
            fp->state = FP_PREPARE;
            fp->hw_given = fp->start_given = -1;
            fp->log_start = -1;
            fp->next = f->parts;
            f->parts = fp;
            f->n_parts++;
            fetcher_kick(f);
        }
    }
    weir_free(m);
}

static void fmsg_post(struct reactor *owner, struct part *p, bool follow, uint64_t gen, int32_t leader, int32_t epoch)
{
    struct broker *b = owner->b;
    if (atomic_load(&b->stopping)) return; /* the fetchers are going anyway */
    struct fmsg *m = weir_calloc(1, sizeof *m);
    if (!m) {
        weir_log(WEIR_LOG_ERROR, "follower %s-%d: out of memory to %s it", p->topic, p->partition,
                 follow ? "follow" : "unfollow");
        return;
    }
    m->t.run = fmsg_run;
    m->follow = follow;
    memcpy(m->topic, p->topic, sizeof m->topic);
    m->partition = p->partition;
    m->topic_id = p->topic_id;
    m->owner = owner;
    m->gen = gen;
    m->leader = leader;
    m->epoch = epoch;
    reactor_post(&b->reactors[(uint32_t)leader % b->n_reactors], &m->t);
}

void fetcher_follow(struct reactor *owner, struct part *p, int32_t leader, int32_t leader_epoch)
{
    WEIR_ASSERT(leader >= 0);
    if (p->followed && p->follow_leader == leader && p->follow_epoch == leader_epoch) return; /* an ISR change */
    if (p->followed && p->follow_leader != leader) fetcher_unfollow(owner, p); /* on another fetcher's reactor */
    p->follow_gen = atomic_fetch_add(&follow_gens, 1) + 1;
    p->followed = true;
    p->follow_leader = leader;
    p->follow_epoch = leader_epoch;
    if (weir_log_hw_follows_end(p->log)) weir_log_set_hw_follows_end(p->log, false);
    weir_log(WEIR_LOG_INFO, "following %s-%d from broker %d at leader epoch %d", p->topic, p->partition, leader,
             leader_epoch);
    fmsg_post(owner, p, true, p->follow_gen, leader, leader_epoch);
}

void fetcher_unfollow(struct reactor *owner, struct part *p)
{
    if (!p->followed) return;
    uint64_t gen = p->follow_gen; /* the message names the follow it ends */
    p->followed = false;
    p->follow_gen = atomic_fetch_add(&follow_gens, 1) + 1; /* owner ops of the old follow are stale now */
    fmsg_post(owner, p, false, gen, p->follow_leader, -1);
}

/* ---- the reactor's hook ------------------------------------------------------------------ */

static void fetcher_hook_stop(struct reactor *r, void *ctx, bool force)
{
    (void)r, (void)force;
    struct fetchers *fs = ctx;
    if (fs->stopping) return;
    fs->stopping = true;
    for (struct fetcher *f = fs->list; f; f = f->next) {
        reactor_timer_cancel(f->r, &f->timer);
        struct outconn *oc = f->oc;
        f->oc = NULL;
        if (oc) outconn_free(oc); /* fails the request in flight: its callback sees stopping */
    }
}

static bool fetcher_hook_busy(const struct reactor *r, void *ctx)
{
    (void)r;
    const struct fetchers *fs = ctx;
    if (fs->live_conns > 0) return true;
    for (const struct fetcher *f = fs->list; f; f = f->next)
        if (f->pending > 0) return true;
    return false;
}

static bool fetcher_hook_open(const struct reactor *r, void *ctx)
{
    (void)r;
    const struct fetchers *fs = ctx;
    return fs->live_conns > 0;
}

static void fetcher_hook_fini(struct reactor *r, void *ctx)
{
    struct fetchers *fs = ctx;
    while (fs->list) {
        struct fetcher *f = fs->list;
        f->pending = 0; /* a forced stop: owners answer no more */
        f->req_inflight = false;
        fetcher_free(f);
    }
    if (fs->live_conns > 0) { /* a forced stop left sockets closing: their counter stays */
        weir_log(WEIR_LOG_WARN, "reactor %u: %d fetcher connections still closing at exit", r->id, fs->live_conns);
        return;
    }
    weir_free(fs);
    r->fetchers = NULL;
}

static const struct reactor_hook_ops fetcher_hook = { .stop = fetcher_hook_stop, .busy = fetcher_hook_busy,
                                                      .open = fetcher_hook_open, .fini = fetcher_hook_fini };

void fetcher_reactor_init(struct reactor *r)
{
    struct fetchers *fs = weir_calloc(1, sizeof *fs);
    WEIR_ASSERT(fs); /* setup-rate path */
    r->fetchers = fs;
    reactor_hook_add(r, &fetcher_hook, fs);
}
