/* net/handle_fetch.c: Fetch (with long polling) and ListOffsets.
 *
 * A fetch runs in rounds. A round asks every partition's owner for a view of
 * whole batches from the fetch offset (the segment stays pinned until the
 * response is sent). When the round has fewer than min_bytes and the wait
 * has not expired, the views are dropped, each partition's slot is linked as
 * a waiter on this reactor (reactor_waiter, keyed by the partition), each
 * owner is asked to tell this reactor when its partition advances past the
 * offset, and a wake of any slot or the deadline's timer starts the next
 * round. Record bytes are never copied here: the response carries file
 * ranges that the connection sends by splice or from the mapping.
 *
 * Only the leader answers (6 elsewhere; current_leader_epoch checked: 74,
 * 75). A follower (replica_id >= 0, where partitions have followers: not led
 * alone, part_repl_follower_fetch) reads up to the log end,
 * its fetch offset moves the ISR and the high watermark (repl_part.c), and it
 * waits on the log end; a consumer reads whole batches below the high
 * watermark, which is its high_watermark and last_stable_offset, and waits
 * on the high watermark (a partition led alone: its HW is its log end).
 *
 * v12+: a fetch that names its last fetched epoch is checked against the
 * epoch cache first, as Kafka's Partition.readRecords does: when that epoch
 * ends before the fetch offset (or is unknown), the partition answers no
 * records and DivergingEpoch (the largest epoch <= it and its end offset), at
 * once. v13+ names topics by id: each id is resolved to its name when the
 * request arrives; an unknown id answers UNKNOWN_TOPIC_ID. */
#include "net_int.h"

#include <stdio.h>

struct fetch_slot {
    struct ptask pt;             /* the read */
    struct ptask sub;            /* the subscription */
    struct reactor_waiter w;     /* linked while the fetch waits */
    bool sub_busy, ready_now;
    bool follower;               /* part_repl_follower_fetch(replica_id) */
    int32_t replica;             /* replica_id */
    int64_t follower_start;      /* a follower's log_start_offset (Fetch v5+, else -1) */
    int32_t leader_epoch;        /* current_leader_epoch, -1: unchecked */
    int32_t last_fetched_epoch;  /* v12+, -1: unchecked */
    int16_t fixed_error;         /* answered every round without a read (unknown topic id) */
    struct weir_uuid topic_id;   /* v13+: the request's; zero: not checked */
    bool diverging;              /* this round: last_fetched_epoch diverges, no records */
    int32_t diverging_epoch;
    int64_t diverging_end_offset;
    int64_t offset;
    int32_t max_bytes;
    struct weir_log_view view;
    bool has_view;
    int64_t high_watermark, log_start;
    uint32_t send_len;           /* bytes of the view that go out */
    uint32_t send_records;       /* records of the batches in them (weir_fetched_records_total) */
};

struct fetch_state {
    struct request *req;
    struct kfetch_req fr;
    struct fetch_slot *slots;
    int32_t n_slots;
    int remaining;
    bool waiting, done;
    int64_t deadline_ns;
    int64_t wait_ns;             /* when it last parked */
    bool follower;               /* part_repl_follower_fetch(replica_id) */
    struct reactor_timer timer;  /* armed while waiting */
    struct request *wait_next, *wait_prev; /* the reactor's waiting fetches */
};

#ifdef WEIR_DEBUG
/* A fetch's invariants (debug builds), at each change of its state: it is on
 * its reactor's long-poll list exactly once while waiting and never once
 * answered; while waiting it holds no views and its round is over; every
 * read of the round and every subscription in flight is a task counted in
 * req->pending. Returns true so that it sits in WEIR_DASSERT. */
static bool fetch_check(const struct request *req)
{
    const struct fetch_state *st = req->state;
    const struct reactor *r = req->c->r;
    int linked = 0;
    for (const struct request *q = r->waiting; q; q = ((const struct fetch_state *)q->state)->wait_next) {
        const struct fetch_state *qs = q->state;
        WEIR_ASSERT(qs->wait_prev ? ((const struct fetch_state *)qs->wait_prev->state)->wait_next == q
                                  : q == r->waiting);
        linked += q == req;
    }
    WEIR_ASSERT(linked == (st->waiting ? 1 : 0));
    /* The deadline timer is armed while waiting; a timer that fires is
     * disarmed before its fetch_wake, at or after the deadline. */
    WEIR_ASSERT(!st->timer.armed || st->waiting);
    if (st->waiting && !st->timer.armed) WEIR_ASSERT(weir_clock_ns() >= st->timer.deadline_ns);
    if (!st->waiting) WEIR_ASSERT(!st->wait_next && !st->wait_prev);
    for (int32_t i = 0; i < st->n_slots; i++) /* slot waiters are linked only while waiting */
        if (!st->waiting) WEIR_ASSERT(!st->slots[i].w.pprev);
    WEIR_ASSERT(!(st->waiting && st->done));
    WEIR_ASSERT(st->remaining >= 0 && st->remaining <= st->n_slots);
    if (st->waiting || st->done) WEIR_ASSERT(st->remaining == 0);
    int subs = 0;
    for (int32_t i = 0; i < st->n_slots; i++) {
        subs += st->slots[i].sub_busy;
        if (st->waiting) WEIR_ASSERT(!st->slots[i].has_view);
    }
    WEIR_ASSERT(req->pending >= st->remaining + subs);
    return true;
}
#endif

static void fetch_views_release(struct fetch_state *st)
{
    for (int32_t i = 0; i < st->n_slots; i++)
        if (st->slots[i].has_view) {
            weir_log_view_release(NULL, &st->slots[i].view);
            st->slots[i].has_view = false;
        }
}

static void waiting_remove(struct request *req)
{
    struct fetch_state *st = req->state;
    struct reactor *r = req->c->r;
    WEIR_ASSERT(st->wait_prev || r->waiting == req);
    if (st->wait_prev) ((struct fetch_state *)st->wait_prev->state)->wait_next = st->wait_next;
    else if (r->waiting == req) r->waiting = st->wait_next;
    if (st->wait_next) ((struct fetch_state *)st->wait_next->state)->wait_prev = st->wait_prev;
    st->wait_next = st->wait_prev = NULL;
    reactor_timer_cancel(r, &st->timer);
    for (int32_t i = 0; i < st->n_slots; i++) reactor_waiter_remove(r, &st->slots[i].w);
}

static void fetch_release(struct request *req)
{
    struct fetch_state *st = req->state;
    WEIR_ASSERT(req->pending == 0); /* no read or subscription still out */
    WEIR_DASSERT(fetch_check(req));
    if (st->waiting) waiting_remove(req), st->waiting = false;
    fetch_views_release(st);
}

/* Whole batches of v that fit `budget` bytes (the first always when min_one). */
static uint32_t fit_batches(const struct weir_log_view *v, uint64_t budget, bool min_one, uint32_t *records)
{
    size_t pos = 0;
    *records = 0;
    while (pos + WEIR_BATCH_LOG_OVERHEAD <= v->len) {
        size_t len = (size_t)weir_load_be32(v->data + pos + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
        if (pos + len > v->len || (pos + len > budget && !(min_one && pos == 0))) break;
        if (len >= WEIR_BATCH_HEADER_BYTES) *records += weir_load_be32(v->data + pos + WEIR_BATCH_OFF_COUNT);
        pos += len;
    }
    return (uint32_t)pos;
}

/* Applies response max_bytes across partitions in request order (KIP-74). */
static uint64_t fetch_budget(struct fetch_state *st)
{
    uint64_t total = 0, max = st->fr.max_bytes > 0 ? (uint64_t)st->fr.max_bytes : 0;
    bool first = true;
    for (int32_t i = 0; i < st->n_slots; i++) {
        struct fetch_slot *s = &st->slots[i];
        s->send_len = s->send_records = 0;
        if (!s->has_view || s->view.len == 0) continue;
        uint64_t left = total < max ? max - total : 0;
        s->send_len = fit_batches(&s->view, WEIR_MIN(left, (uint64_t)(uint32_t)s->max_bytes), first, &s->send_records);
        total += s->send_len;
        if (s->send_len) first = false;
    }
    return total;
}

/* Fetch v0-3 readers know only magic 0 (v0-1) and magic 1 (v2-3): each
 * partition's view is down-converted into memory (Kafka's
 * RecordsUtil.downConvert; not zero-copy), within partition_max_bytes and,
 * v3, what is left of max_bytes, so memory is bounded by the fetch's own
 * limits. v3 answers the first message of the first non-empty partition whole
 * (KIP-74); v0-2 have Kafka's hard limit: a first message over it is cut
 * there (the reader reports a message too large). bufs[i] (heap, or NULL)
 * is the caller's to free once encoded. */
static void fetch_downconvert(struct request *req, struct kfetch_resp_part *parts, uint8_t **bufs)
{
    enum { INFLATE_MAX = 64 << 20 }; /* one stored batch decompressed: kept bytes, not output */
    struct fetch_state *st = req->state;
    int16_t v = req->hdr.api_version;
    uint64_t left = st->fr.max_bytes > 0 ? (uint64_t)st->fr.max_bytes : 0;
    bool first = true;
    for (int32_t i = 0; i < st->n_slots; i++) {
        const struct fetch_slot *s = &st->slots[i];
        if (!s->has_view || s->view.len == 0 || parts[i].error_code) continue;
        size_t limit = (size_t)WEIR_MIN(left, (uint64_t)(uint32_t)WEIR_MAX(s->max_bytes, 0));
        size_t cap = 0, len = 0, need = 0;
        int8_t magic = v <= 1 ? 0 : 1;
        enum weir_err err = weir_legacy_downconvert(s->view.data, s->view.len, magic, s->offset, limit, INFLATE_MAX,
                                                    &bufs[i], &cap, &len, &need);
        if (err == WEIR_OK && len == 0 && need > 0 && (v <= 2 ? limit > 0 : first)) {
            err = weir_legacy_downconvert(s->view.data, s->view.len, magic, s->offset, need, INFLATE_MAX, &bufs[i],
                                          &cap, &len, &need);
            if (v <= 2) len = WEIR_MIN(len, limit);
        }
        if (err != WEIR_OK && len == 0) parts[i].error_code = weir_kerr_from_err(err);
        WEIR_ASSERT(len <= INT32_MAX);
        parts[i].record_set = (struct kbytes){ bufs[i], (int32_t)len };
        left -= WEIR_MIN(left, (uint64_t)len);
        first = first && len == 0;
    }
}

static void fetch_respond(struct request *req)
{
    struct fetch_state *st = req->state;
    WEIR_ASSERT(!st->done && !st->waiting && st->remaining == 0);
    st->done = true;
    fetch_budget(st);
    bool legacy = req->hdr.api_version <= 3;
    int32_t n_topics = st->fr.n_topics;
    /* From the arena; from the heap when the arena's limit is reached. */
    size_t n_parts = st->n_slots ? (size_t)st->n_slots : 1;
    size_t bytes_topics = (n_topics ? (size_t)n_topics : 1) * sizeof(struct kfetch_resp_topic);
    size_t bytes = bytes_topics + n_parts * (sizeof(struct kfetch_resp_part) + sizeof(struct kfile_range)) +
                   (legacy ? n_parts * sizeof(uint8_t *) : 0);
    uint8_t *mem = weir_arena_alloc(&req->arena, bytes), *heap = NULL;
    if (!mem) mem = heap = weir_malloc(bytes);
    if (mem) memset(mem, 0, bytes);
    struct kfetch_resp_topic *topics = (void *)mem;
    struct kfetch_resp_part *parts = mem ? (void *)(mem + bytes_topics) : NULL;
    struct kfile_range *ranges = mem ? (void *)(parts + n_parts) : NULL;
    uint8_t **bufs = mem && legacy ? (void *)(ranges + n_parts) : NULL;
    if (!mem) kbuf_fail(&req->out, WEIR_E_NOMEM), n_topics = 0;
    int32_t i = 0;
    uint64_t records_out = 0;
    for (int32_t t = 0; t < n_topics; t++) {
        topics[t] = (struct kfetch_resp_topic){ .topic = st->fr.topics[t].topic, .partitions = parts + i,
                                                .n_partitions = st->fr.topics[t].n_partitions,
                                                .topic_id = st->fr.topics[t].topic_id };
        for (int32_t p = 0; p < st->fr.topics[t].n_partitions; p++, i++) {
            struct fetch_slot *s = &st->slots[i];
            metrics_request_error(req, s->pt.error_code);
            parts[i] = (struct kfetch_resp_part){ .partition_index = s->pt.partition, .error_code = s->pt.error_code,
                                                  .high_watermark = s->high_watermark,
                                                  .last_stable_offset = s->high_watermark,
                                                  .log_start_offset = s->log_start, .n_aborted = -1,
                                                  .preferred_read_replica = -1, .diverging = s->diverging,
                                                  .diverging_epoch = s->diverging_epoch,
                                                  .diverging_end_offset = s->diverging_end_offset };
            if (s->send_len == 0 || legacy) continue;
            records_out += s->send_records;
            ranges[i] = (struct kfile_range){ s->view.fd, s->view.pos, s->send_len, &s->view };
            parts[i].records = &ranges[i];
            parts[i].n_records = 1;
        }
    }
    if (bufs) fetch_downconvert(req, parts, bufs);
    atomic_fetch_add_explicit(&req->c->r->stats.records_out, records_out, memory_order_relaxed);
    response_begin(req);
    kproto_fetch_encode(&req->out, req->hdr.api_version,
                        &(struct kfetch_resp){ .topics = topics, .n_topics = n_topics });
    response_end(req);
    for (size_t b = 0; bufs && b < n_parts; b++) weir_free(bufs[b]);
    weir_free(heap);
    request_respond(req);
}

/* ---- subscriptions ---------------------------------------------------------------- */

static void fetch_wake(struct request *req);

static void sub_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct fetch_slot *s = weir_container_of(pt, struct fetch_slot, sub);
    struct fetch_state *st = pt->req->state;
    WEIR_ASSERT(s->sub_busy);
    s->sub_busy = false;
    if (s->ready_now && st->waiting) fetch_wake(pt->req);
}

static void sub_owner(struct reactor *r, struct ptask *pt)
{
    struct fetch_slot *s = weir_container_of(pt, struct fetch_slot, sub);
    struct part *p = part_find(r, pt->topic, pt->partition);
    bool consumer = !s->follower; /* waits on the high watermark (the log end where that follows it) */
    s->ready_now = !p || weir_log_state(p->log) != WEIR_OK ||
                   (consumer ? weir_log_high_watermark(p->log) : weir_log_end_offset(p->log)) > s->offset ||
                   part_repl_serve_check(r, p, s->leader_epoch) != 0;
    if (!s->ready_now) {
        if (consumer) p->hw_waiters |= 1ull << pt->origin->id;
        else p->waiters |= 1ull << pt->origin->id;
    }
    ptask_reply(r, pt);
}

static void slot_wake(struct reactor *r, struct reactor_waiter *w)
{
    (void)r;
    fetch_wake(weir_container_of(w, struct fetch_slot, w)->pt.req);
}

static void deadline_fire(struct reactor *r, struct reactor_timer *t)
{
    (void)r;
    struct fetch_state *st = weir_container_of(t, struct fetch_state, timer);
    fetch_wake(st->req);
}

/* Links before subscribing: a wake for a slot is only sent after its
 * subscription reached the owner, so none is missed. */
static void fetch_wait(struct request *req)
{
    struct fetch_state *st = req->state;
    struct reactor *r = req->c->r;
    WEIR_ASSERT(!st->waiting && !st->done && !st->wait_next && !st->wait_prev && r->waiting != req);
    fetch_views_release(st);
    st->waiting = true;
    st->wait_prev = NULL;
    st->wait_next = r->waiting;
    if (r->waiting) ((struct fetch_state *)r->waiting->state)->wait_prev = req;
    r->waiting = req;
    st->wait_ns = weir_clock_ns();
    st->timer.fire = deadline_fire;
    reactor_timer_arm(r, &st->timer, st->deadline_ns);
    for (int32_t i = 0; i < st->n_slots; i++) {
        struct fetch_slot *s = &st->slots[i];
        if (s->pt.error_code) continue;
        s->w.wake = slot_wake;
        reactor_waiter_add(r, &s->w);
        if (s->sub_busy) continue;
        s->sub = (struct ptask){ .req = req, .topic = s->pt.topic, .partition = s->pt.partition,
                                 .on_owner = sub_owner, .on_origin = sub_origin };
        s->sub_busy = true;
        ptask_send(&s->sub);
    }
    WEIR_DASSERT(fetch_check(req));
}

/* ---- reads -------------------------------------------------------------------------- */

static void fetch_round(struct request *req);

static void read_origin(struct reactor *r, struct ptask *pt)
{
    struct fetch_state *st = pt->req->state;
    WEIR_ASSERT(st->remaining > 0 && !st->waiting && !st->done);
    WEIR_DASSERT(fetch_check(pt->req));
    if (--st->remaining > 0) return;
    uint64_t total = 0;
    bool errors = false;
    for (int32_t i = 0; i < st->n_slots; i++) {
        total += st->slots[i].has_view ? st->slots[i].view.len : 0;
        errors |= st->slots[i].pt.error_code != 0 || st->slots[i].diverging;
    }
    bool expired = weir_clock_ns() >= st->deadline_ns;
    if (total >= (uint64_t)WEIR_MAX(st->fr.min_bytes, 1) || errors || expired || r->stopping ||
        st->fr.max_wait_ms <= 0)
        fetch_respond(pt->req);
    else
        fetch_wait(pt->req);
}

/* Cuts v after its last whole batch that ends at or below `limit`. */
static void view_trim(struct weir_log_view *v, int64_t limit)
{
    size_t pos = 0;
    int64_t next = v->offset_first;
    while (pos + WEIR_BATCH_HEADER_BYTES <= v->len) {
        const uint8_t *b = v->data + pos;
        size_t len = (size_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
        int64_t end = (int64_t)weir_load_be64(b + WEIR_BATCH_OFF_BASE_OFFSET) +
                      (int64_t)weir_load_be32(b + WEIR_BATCH_OFF_LAST_DELTA) + 1;
        if (pos + len > v->len || end > limit) break;
        pos += len;
        next = end;
    }
    v->len = pos;
    v->offset_next = next;
}

/* Whether `epoch` is the one p is led at here while the log's epoch cache is
 * empty: a partition led alone leads at epoch 0 from its log's start
 * (Metadata says so) but keeps no cache, so epoch 0 spans the whole log, as
 * Kafka's cache {(0, start)} would answer; without that a KIP-320 client (one
 * that saw epoch 0) would take -1 for a truncation and reset its offset. A
 * cluster's leader stamps its epoch into the cache when it takes the lead. */
static bool epoch_uncached(const struct reactor *r, const struct part *p, int32_t epoch)
{
    return epoch >= 0 && epoch == part_repl_leader_epoch(r, p) && weir_log_latest_epoch(p->log) < 0;
}

/* Where `requested` ends in p's log: (epoch, end offset) as Kafka's
 * LeaderEpochFileCache.endOffsetFor answers; the epoch p is led at, missing
 * from the cache, ends at the log end (epoch_uncached). */
static void epoch_end_offset(const struct reactor *r, const struct part *p, int32_t requested, int32_t *epoch,
                             int64_t *end_offset)
{
    if (epoch_uncached(r, p, requested)) {
        *epoch = requested;
        *end_offset = weir_log_end_offset(p->log);
        return;
    }
    weir_log_epoch_end_offset(p->log, requested, epoch, end_offset);
}

/* v12+ (Partition.readRecords): the fetcher's last fetched epoch must end at
 * or after its fetch offset, else the slot answers DivergingEpoch and no records. */
static bool read_diverges(const struct reactor *r, const struct part *p, struct fetch_slot *s)
{
    if (s->last_fetched_epoch < 0) return false;
    epoch_end_offset(r, p, s->last_fetched_epoch, &s->diverging_epoch, &s->diverging_end_offset);
    s->diverging = s->diverging_epoch < s->last_fetched_epoch || s->diverging_end_offset < s->offset;
    return s->diverging;
}

/* Fetch v0-9 readers predate zstd (KIP-110): a partition whose answer
 * would carry a zstd batch gets 76 UNSUPPORTED_COMPRESSION_TYPE and no
 * records, as Kafka answers for a topic whose compression.type is zstd (and
 * weir also for zstd batches on any topic: Kafka never down-converts zstd,
 * and such a reader cannot decode them). Reads only the batch headers. */
static bool view_has_zstd(const struct weir_log_view *v)
{
    for (size_t pos = 0; v->len - pos >= WEIR_BATCH_HEADER_BYTES;) {
        const uint8_t *b = v->data + pos;
        if ((b[WEIR_BATCH_OFF_ATTRS + 1] & WEIR_ATTR_CODEC_MASK) == WEIR_CODEC_ZSTD) return true;
        size_t len = (size_t)weir_load_be32(b + WEIR_BATCH_OFF_LENGTH) + WEIR_BATCH_LOG_OVERHEAD;
        if (len > v->len - pos || len < WEIR_BATCH_HEADER_BYTES) break;
        pos += len;
    }
    return false;
}

static void read_owner(struct reactor *r, struct ptask *pt)
{
    struct fetch_slot *s = weir_container_of(pt, struct fetch_slot, pt);
    if (s->fixed_error) {
        pt->error_code = s->fixed_error;
        ptask_reply(r, pt);
        return;
    }
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (p) pt->error_code = part_repl_serve_check(r, p, s->leader_epoch);
    /* The name's topic, but this log is of another topic of that name (a
     * deleted one whose copy is still here): Kafka's hasConsistentTopicId. */
    if (p && !pt->error_code && !weir_uuid_is_zero(&s->topic_id) && !weir_uuid_is_zero(&p->topic_id) &&
        !weir_uuid_eq(&s->topic_id, &p->topic_id))
        pt->error_code = WEIR_KERR_INCONSISTENT_TOPIC_ID;
    if (p && !pt->error_code && read_diverges(r, p, s)) {
        s->log_start = weir_log_start_offset(p->log);
        s->high_watermark = weir_log_high_watermark(p->log);
    } else if (p && !pt->error_code) {
        int64_t end = weir_log_end_offset(p->log);
        s->log_start = weir_log_start_offset(p->log);
        size_t max = s->max_bytes > 0 ? (size_t)s->max_bytes : 0;
        enum weir_err err = weir_log_read(p->log, s->offset, max, true, &s->view);
        s->has_view = err == WEIR_OK && s->view.segment;
        if (err != WEIR_OK) pt->error_code = weir_kerr_from_err(err);
        if (s->follower) {
            /* Not a replica of it: no records, as Kafka answers. */
            if (err == WEIR_OK && !part_repl_follower_fetched(r, p, s->replica, s->offset, end, s->follower_start) &&
                s->has_view)
                weir_log_view_release(p->log, &s->view), s->has_view = false;
            atomic_fetch_add_explicit(&r->stats.ffetch_reads, 1, memory_order_relaxed);
            if (s->has_view && s->view.len) atomic_fetch_add_explicit(&r->stats.ffetch_records, 1, memory_order_relaxed);
            s->high_watermark = weir_log_high_watermark(p->log);
        } else {
            s->high_watermark = weir_log_high_watermark(p->log);
            if (s->has_view) view_trim(&s->view, s->high_watermark);
            if (s->has_view && pt->req->hdr.api_version < 10 &&
                (weir_log_compression_type(p->log) == WEIR_COMPRESSION_ZSTD || view_has_zstd(&s->view))) {
                weir_log_view_release(p->log, &s->view);
                s->has_view = false;
                pt->error_code = WEIR_KERR_UNSUPPORTED_COMPRESSION_TYPE;
            }
        }
    }
    ptask_reply(r, pt);
}

static void fetch_round(struct request *req)
{
    struct fetch_state *st = req->state;
    WEIR_ASSERT(st->remaining == 0 && !st->waiting && !st->done);
    st->remaining = st->n_slots;
    for (int32_t i = 0; i < st->n_slots; i++) {
        struct fetch_slot *s = &st->slots[i];
        s->pt.error_code = 0;
        s->has_view = s->diverging = false;
        s->high_watermark = s->log_start = -1;
        ptask_send(&s->pt);
    }
    WEIR_DASSERT(fetch_check(req));
}

static void fetch_wake(struct request *req)
{
    struct fetch_state *st = req->state;
    WEIR_DASSERT(fetch_check(req));
    if (!st->waiting || st->done) return;
    waiting_remove(req);
    st->waiting = false;
    if (st->follower) {
        struct reactor_stats *rs = &req->c->r->stats;
        atomic_fetch_add_explicit(&rs->ffetch_waits, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&rs->ffetch_wait_ns, (uint64_t)(weir_clock_ns() - st->wait_ns), memory_order_relaxed);
    }
    fetch_round(req);
}

/* v13+: the request topic's name from its id (into the arena); the error
 * its partitions answer when the id is unknown (UNKNOWN_TOPIC_ID), else 0. */
static int16_t fetch_topic_by_id(struct request *req, struct kfetch_req_topic *t)
{
    char name[WEIR_TOPIC_NAME_MAX + 1];
    char *copy = NULL;
    if (!weir_uuid_is_zero(&t->topic_id) && meta_topic_name_of_id(req->c->r->b->meta, &t->topic_id, name, sizeof name))
        copy = arena_strdup(&req->arena, kstr_c(name));
    t->topic = copy ? kstr_c(copy) : (struct kstr){ "", 0 };
    return copy ? 0 : WEIR_KERR_UNKNOWN_TOPIC_ID;
}

static enum weir_err fetch_slots_make(struct request *req, struct fetch_state *st)
{
    int32_t n = 0;
    for (int32_t t = 0; t < st->fr.n_topics; t++) n += st->fr.topics[t].n_partitions;
    st->n_slots = n;
    st->slots = n ? weir_arena_alloc(&req->arena, (size_t)n * sizeof *st->slots) : NULL;
    if (n && !st->slots) return WEIR_E_NOMEM;
    int32_t i = 0;
    bool follower = part_repl_follower_fetch(req->c->r, st->fr.replica_id);
    st->follower = follower;
    for (int32_t t = 0; t < st->fr.n_topics; t++) {
        int16_t fixed_error = 0;
        if (req->hdr.api_version >= 13) fixed_error = fetch_topic_by_id(req, &st->fr.topics[t]);
        char *topic = arena_strdup(&req->arena, st->fr.topics[t].topic);
        if (!topic) return WEIR_E_NOMEM;
        for (int32_t p = 0; p < st->fr.topics[t].n_partitions; p++, i++) {
            const struct kfetch_req_part *in = &st->fr.topics[t].partitions[p];
            st->slots[i] = (struct fetch_slot){ .pt = { .req = req, .topic = topic, .partition = in->partition,
                                                        .on_owner = read_owner, .on_origin = read_origin },
                                                .w = { .key = part_key(topic, in->partition) },
                                                .follower = follower, .replica = st->fr.replica_id,
                                                .follower_start = in->log_start_offset,
                                                .leader_epoch = in->current_leader_epoch,
                                                .last_fetched_epoch = in->last_fetched_epoch,
                                                .fixed_error = fixed_error,
                                                .topic_id = st->fr.topics[t].topic_id,
                                                .offset = in->fetch_offset, .max_bytes = in->partition_max_bytes };
            if (!weir_topic_name_valid(topic) && !fixed_error)
                st->slots[i].pt.error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }
    return WEIR_OK;
}

void handle_fetch(struct request *req)
{
    struct fetch_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct fetch_state){ .req = req };
    if (err == WEIR_OK) err = kproto_fetch_decode(&req->body, req->hdr.api_version, &req->arena, &st->fr);
    if (err == WEIR_OK) err = fetch_slots_make(req, st);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    req->on_release = fetch_release;
    st->deadline_ns = weir_clock_ns() + (int64_t)WEIR_MAX(st->fr.max_wait_ms, 0) * 1000000;
    if (st->n_slots == 0) fetch_respond(req);
    else fetch_round(req);
}

/* ---- the reactor's hook: stopping answers every waiting fetch ------------------------- */

static void fetch_hook_stop(struct reactor *r, void *ctx, bool force)
{
    (void)ctx, (void)force;
    for (struct request *req = r->waiting; req; req = r->waiting) {
        fetch_wake(req); /* its round answers at once: r->stopping */
        WEIR_ASSERT(r->waiting != req);
    }
}

static bool fetch_hook_busy(const struct reactor *r, void *ctx)
{
    (void)ctx;
    return r->waiting != NULL;
}

static const struct reactor_hook_ops fetch_hook = { .stop = fetch_hook_stop, .busy = fetch_hook_busy };

void fetch_reactor_init(struct reactor *r) { reactor_hook_add(r, &fetch_hook, NULL); }

/* ---- ListOffsets ---------------------------------------------------------------------- */

struct lo_slot {
    struct ptask pt;
    int64_t timestamp;
    int32_t current_leader_epoch; /* -1: unchecked */
    bool v0;                      /* old_style_offsets (lo_old_style) */
    bool replica;                /* replica_id >= 0: a broker, which may read to the log end */
    struct klistoffsets_resp_part *out;
    int64_t *old_style;           /* v0: room for old_style_cap offsets, from the request's arena */
    int32_t old_style_cap;        /* v0: max_num_offsets, at most LO_OLD_STYLE_MAX */
};

enum { LO_OLD_STYLE_MAX = 256 }; /* offsets one v0 partition answers at most (Kafka: every segment's) */

/* ListOffsets v0 as Kafka's UnifiedLog.legacyFetchOffsetsBefore answers it:
 * the segments' first offsets and, when the active segment holds records,
 * the log end, each with a time (a segment's largest record timestamp here,
 * its file's modification time in Kafka; now for the end). From the newest
 * (-1), the oldest (-2), or the newest whose time is <= the one asked, going
 * back, at most `max` offsets, newest first. For a consumer, offsets past
 * `end` (the high watermark) give way to end (ReplicaManager's
 * legacyFetchOffsetsForTimestamp). Returns the count written to out. */
static int32_t lo_old_style(struct weir_log *log, int64_t ts, int64_t end, bool consumer, int64_t *out, int32_t max)
{
    int64_t offs[LO_OLD_STYLE_MAX + 1], times[LO_OLD_STYLE_MAX + 1];
    unsigned n = weir_log_segment_starts(log, offs, times, LO_OLD_STYLE_MAX);
    int64_t leo = weir_log_end_offset(log);
    if (n > 0 && leo > offs[n - 1]) offs[n] = leo, times[n] = weir_time_ms(), n++;
    int32_t at = (int32_t)n - 1; /* latest */
    if (ts == KPROTO_LIST_EARLIEST) at = 0;
    else if (ts != KPROTO_LIST_LATEST)
        while (at >= 0 && times[at] > ts) at--;
    int32_t k = 0;
    for (; k < max && at >= 0; k++, at--) out[k] = offs[at];
    if (consumer && k > 0 && out[0] > end) { /* hw +: offsets.dropWhile(_ > hw) */
        int32_t drop = 0;
        while (drop < k && out[drop] > end) drop++;
        memmove(out + 1, out + drop, (size_t)(k - drop) * sizeof *out);
        out[0] = end;
        k = k - drop + 1;
    }
    return k;
}

struct lo_state {
    struct klistoffsets_req lr;
    struct klistoffsets_resp_topic *topics;
    int remaining;
};

static void lo_finish(struct request *req)
{
    struct lo_state *st = req->state;
    response_begin(req);
    kproto_listoffsets_encode(&req->out, req->hdr.api_version,
                              &(struct klistoffsets_resp){ .topics = st->topics, .n_topics = st->lr.n_topics });
    response_end(req);
    request_respond(req);
}

static void lo_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct lo_state *st = pt->req->state;
    if (--st->remaining == 0) lo_finish(pt->req);
}

static void lo_owner(struct reactor *r, struct ptask *pt)
{
    struct lo_slot *s = weir_container_of(pt, struct lo_slot, pt);
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (p) pt->error_code = part_repl_serve_check(r, p, s->current_leader_epoch);
    s->out->error_code = pt->error_code;
    if (p && !pt->error_code) {
        /* What a consumer may read ends at the high watermark (for either
         * isolation level: no transactions, so the last stable offset is the
         * high watermark; led alone, it is the log end). The epoch answered
         * is the current one for the latest offset, else the epoch of the
         * batch holding the offset (Kafka's UnifiedLog.fetchOffsetByTimestamp),
         * -1 unknown; one the log's epoch cache lacks is the current epoch's
         * (epoch_uncached). */
        int64_t offset = -1, ts = -1;
        int32_t epoch = -1;
        int64_t end = !s->replica ? weir_log_high_watermark(p->log) : weir_log_end_offset(p->log);
        if (s->v0) {
            s->out->n_old_style_offsets =
                lo_old_style(p->log, s->timestamp, end, !s->replica, s->old_style, s->old_style_cap);
            s->out->old_style_offsets = s->old_style;
            ptask_reply(r, pt);
            return;
        }
        if (s->timestamp == KPROTO_LIST_EARLIEST || s->timestamp == KPROTO_LIST_EARLIEST_LOCAL) {
            offset = weir_log_start_offset(p->log); /* no tiered storage: local start = start */
            epoch = weir_log_epoch_for_offset(p->log, offset);
        } else if (s->timestamp == KPROTO_LIST_LATEST) {
            offset = end;
            epoch = part_repl_leader_epoch(r, p);
        } else {
            enum weir_err err = s->timestamp == KPROTO_LIST_MAX_TIMESTAMP
                                    ? weir_log_offset_for_max_time(p->log, &offset, &ts)
                                    : weir_log_offset_for_time(p->log, s->timestamp, &offset, &ts);
            if (err == WEIR_E_NOT_FOUND || (err == WEIR_OK && offset >= end)) offset = ts = -1;
            else if (err != WEIR_OK) s->out->error_code = weir_kerr_from_err(err);
            else epoch = weir_log_epoch_for_offset(p->log, offset);
        }
        s->out->offset = offset;
        s->out->timestamp = ts;
        if (offset >= 0 && epoch_uncached(r, p, 0)) epoch = 0;
        s->out->leader_epoch = s->out->error_code ? -1 : epoch;
    }
    ptask_reply(r, pt);
}

static enum weir_err lo_dispatch(struct request *req, struct lo_state *st)
{
    for (int32_t t = 0; t < st->lr.n_topics; t++) {
        const struct klistoffsets_req_topic *in = &st->lr.topics[t];
        struct klistoffsets_resp_part *parts =
            weir_arena_alloc(&req->arena, (size_t)(in->n_partitions ? in->n_partitions : 1) * sizeof *parts);
        char *topic = arena_strdup(&req->arena, in->name);
        struct lo_slot *slots =
            weir_arena_alloc(&req->arena, (size_t)(in->n_partitions ? in->n_partitions : 1) * sizeof *slots);
        if (!parts || !topic || !slots) return WEIR_E_NOMEM;
        st->topics[t] = (struct klistoffsets_resp_topic){ in->name, parts, in->n_partitions };
        for (int32_t p = 0; p < in->n_partitions; p++) {
            parts[p] = (struct klistoffsets_resp_part){ .partition_index = in->partitions[p].partition_index,
                                                        .timestamp = -1, .offset = -1, .leader_epoch = -1 };
            bool v0 = req->hdr.api_version == 0;
            int32_t cap = v0 ? WEIR_MAX(WEIR_MIN(in->partitions[p].max_num_offsets, LO_OLD_STYLE_MAX), 0) : 0;
            int64_t *old_style = cap > 0 ? weir_arena_alloc(&req->arena, (size_t)cap * sizeof *old_style) : NULL;
            if (cap > 0 && !old_style) return WEIR_E_NOMEM;
            if (!weir_topic_name_valid(topic)) {
                parts[p].error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                continue;
            }
            slots[p] = (struct lo_slot){ .pt = { .req = req, .topic = topic, .partition = parts[p].partition_index,
                                                 .on_owner = lo_owner, .on_origin = lo_origin },
                                         .timestamp = in->partitions[p].timestamp,
                                         .current_leader_epoch = in->partitions[p].current_leader_epoch,
                                         .v0 = v0,
                                         .old_style = old_style,
                                         .old_style_cap = cap,
                                         .out = &parts[p],
                                         .replica = st->lr.replica_id >= 0 };
            st->remaining++;
            ptask_send(&slots[p].pt);
        }
    }
    return WEIR_OK;
}

void handle_listoffsets(struct request *req)
{
    struct lo_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct lo_state){ 0 };
    if (err == WEIR_OK) err = kproto_listoffsets_decode(&req->body, req->hdr.api_version, &req->arena, &st->lr);
    if (err == WEIR_OK && st->lr.n_topics > 0) {
        st->topics = weir_arena_alloc(&req->arena, (size_t)st->lr.n_topics * sizeof *st->topics);
        if (!st->topics) err = WEIR_E_NOMEM;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held while dispatching */
    err = lo_dispatch(req, st);
    if (err != WEIR_OK) kbuf_fail(&req->out, err);
    if (--st->remaining == 0) lo_finish(req);
}

/* ---- OffsetForLeaderEpoch ------------------------------------------------------------------ */

/* Where the requested epoch ends in this log (the leader's answer to a
 * follower's truncation question; cluster mode: only the leader answers). */
struct ofle_slot {
    struct ptask pt;
    int32_t current_leader_epoch;
    struct koffsetforleaderepoch_resp_part *out;
};

struct ofle_state {
    struct koffsetforleaderepoch_req er;
    struct koffsetforleaderepoch_resp_topic *topics;
    int remaining;
};

static void ofle_finish(struct request *req)
{
    struct ofle_state *st = req->state;
    response_begin(req);
    kproto_offsetforleaderepoch_encode(
        &req->out, req->hdr.api_version,
        &(struct koffsetforleaderepoch_resp){ .topics = st->topics, .n_topics = st->er.n_topics });
    response_end(req);
    request_respond(req);
}

static void ofle_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct ofle_state *st = pt->req->state;
    if (--st->remaining == 0) ofle_finish(pt->req);
}

static void ofle_owner(struct reactor *r, struct ptask *pt)
{
    struct ofle_slot *s = weir_container_of(pt, struct ofle_slot, pt);
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (p) pt->error_code = part_repl_serve_check(r, p, s->current_leader_epoch);
    s->out->error_code = pt->error_code;
    if (p && !pt->error_code) epoch_end_offset(r, p, s->out->leader_epoch, &s->out->leader_epoch, &s->out->end_offset);
    else s->out->leader_epoch = -1;
    ptask_reply(r, pt);
}

static enum weir_err ofle_dispatch(struct request *req, struct ofle_state *st)
{
    for (int32_t t = 0; t < st->er.n_topics; t++) {
        const struct koffsetforleaderepoch_req_topic *in = &st->er.topics[t];
        size_t n = in->n_partitions > 0 ? (size_t)in->n_partitions : 1;
        struct koffsetforleaderepoch_resp_part *parts = weir_arena_alloc(&req->arena, n * sizeof *parts);
        struct ofle_slot *slots = weir_arena_alloc(&req->arena, n * sizeof *slots);
        char *topic = arena_strdup(&req->arena, in->topic);
        if (!parts || !slots || !topic) return WEIR_E_NOMEM;
        st->topics[t] = (struct koffsetforleaderepoch_resp_topic){ .topic = in->topic, .partitions = parts,
                                                                   .n_partitions = in->n_partitions };
        for (int32_t p = 0; p < in->n_partitions; p++) {
            const struct koffsetforleaderepoch_req_part *ip = &in->partitions[p];
            /* leader_epoch holds the requested epoch until the owner answers */
            parts[p] = (struct koffsetforleaderepoch_resp_part){ .partition = ip->partition,
                                                                 .leader_epoch = ip->leader_epoch, .end_offset = -1 };
            if (!weir_topic_name_valid(topic)) {
                parts[p].error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                parts[p].leader_epoch = -1;
                continue;
            }
            slots[p] = (struct ofle_slot){ .pt = { .req = req, .topic = topic, .partition = ip->partition,
                                                   .on_owner = ofle_owner, .on_origin = ofle_origin },
                                           .current_leader_epoch = ip->current_leader_epoch, .out = &parts[p] };
            st->remaining++;
            ptask_send(&slots[p].pt);
        }
    }
    return WEIR_OK;
}

void handle_offsetforleaderepoch(struct request *req)
{
    struct ofle_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct ofle_state){ 0 };
    if (err == WEIR_OK) err = kproto_offsetforleaderepoch_decode(&req->body, req->hdr.api_version, &req->arena, &st->er);
    if (err == WEIR_OK && st->er.n_topics > 0) {
        st->topics = weir_arena_alloc(&req->arena, (size_t)st->er.n_topics * sizeof *st->topics);
        if (!st->topics) err = WEIR_E_NOMEM;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held while dispatching */
    err = ofle_dispatch(req, st);
    if (err != WEIR_OK) kbuf_fail(&req->out, err);
    if (--st->remaining == 0) ofle_finish(req);
}
