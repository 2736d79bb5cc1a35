/* client/sender.c: the Sender thread. One loop: scan the accumulator (linger,
 * expiry), keep metadata and the producer id fresh, drain ready batches of
 * each broker's partitions into one Produce request (one batch per partition,
 * up to message.max.bytes), pipelined up to max.in.flight per connection on
 * non-blocking sockets under poll(2); then handle responses and run the
 * delivery callbacks, never under the lock.
 *
 * Outcome rules (cl_batch_outcome), after librdkafka's
 * rd_kafka_handle_Produce_error and the Java Sender:
 *  - NONE, DUPLICATE_SEQUENCE_NUMBER: delivered.
 *  - retriable (cl_err_action): back in the queue after retry.backoff.ms, in
 *    sequence order, keeping its bytes and sequence; metadata is refreshed
 *    for leader and transport errors. With idempotence the partition
 *    "drains": nothing more is sent for it until its in-flight batches are
 *    back, so retries leave in order. Out of retries: failed with that error.
 *    Past delivery.timeout.ms: failed with E_MSG_TIMED_OUT, and the delivery
 *    report's last_err says why the last try failed (KAFKA_STORAGE_ERROR from
 *    a broker whose disk is full, ...). librdkafka reports a bare
 *    ERR__MSG_TIMED_OUT there (rd_kafka_msgq_age_scan), the error is lost.
 *  - OUT_OF_ORDER_SEQUENCE_NUMBER: a batch behind a failed one (its sequence
 *    is past the next one the broker acknowledges) is retried like the
 *    above; the head batch itself means the broker and we disagree: fatal.
 *  - UNKNOWN_PRODUCER_ID on a first try at the next acknowledged sequence:
 *    a new producer id (all in-flight requests drain first), every queued
 *    batch renumbered, retried. Otherwise fatal.
 *  - any other error: reported; with idempotence the gap it leaves is closed
 *    by the same producer-id reset.
 * A partition's batches are in flight at one broker at a time: after a leader
 * change the new leader gets nothing until the old one has answered, so
 * order never depends on a broker checking sequences across the move. */
#include "client_int.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static void wake_at(struct cl_sender *s, int64_t t)
{
    if (t < s->next_wake_ms) s->next_wake_ms = t;
}

/* ---- scanning the accumulator ---------------------------------------------------- */

static void batch_expire(struct cl_sender *s, struct cl_part *part, struct cl_batch *b)
{
    struct weir_producer *p = s->p;
    cl_part_unlink(part, b);
    /* A sequenced batch that never gets acknowledged leaves a gap. */
    if (p->idempotent && b->sequenced && s->pid_state == CL_PID_OK) s->pid_state = CL_PID_RESET;
    /* Never tried, or tried without an answer: why its partition's tries failed. */
    if (!b->last_err) b->last_err = part->last_err;
    cl_batch_done(p, b, WEIR_CLIENT_E_MSG_TIMED_OUT, -1, -1);
}

static void scan_part(struct cl_sender *s, struct cl_part *part, int64_t now, bool all_ready)
{
    struct weir_producer *p = s->p;
    struct cl_batch *tail = part->tail;
    if (tail && tail->state == CL_BATCH_OPEN) {
        int64_t due = tail->created_ms + p->conf.linger_ms;
        /* A lingered batch closes only when it could leave now; behind a full
         * pipeline it keeps taking records, so a backlog goes out in one batch
         * instead of one per round trip (as Java's and librdkafka's do). */
        bool can_leave = part->head == tail && part->inflight < p->conf.max_in_flight;
        if (all_ready || (due <= now && can_leave))
            tail->state = CL_BATCH_CLOSED;
        else if (due > now)
            wake_at(s, due);
    }
    for (struct cl_batch *b = part->head, *next; b; b = next) {
        next = b->next;
        if (b->state == CL_BATCH_OPEN) continue;
        int64_t expire = b->created_ms + p->conf.delivery_timeout_ms;
        if (expire <= now)
            batch_expire(s, part, b);
        else
            wake_at(s, expire);
    }
    if (part->head && part->head->state != CL_BATCH_OPEN) {
        if (part->head->retry_at_ms > now) wake_at(s, part->head->retry_at_ms);
        /* A leader we cannot reach (its connection failed and waits out its
         * reconnect backoff) may have been replaced: ask again each
         * retry.backoff.ms rather than only after each reconnect attempt,
         * whose backoff grows to 1 s. */
        struct cl_broker *lb = part->leader < 0 ? NULL : cl_broker_find(s, part->leader);
        if (!lb || (lb->conn.state == CL_CONN_DOWN && lb->conn.retry_at_ms > now)) s->meta_needed = true;
    }
}

void cl_accum_scan(struct cl_sender *s, int64_t now)
{
    struct weir_producer *p = s->p;
    if (p->fatal_err || p->aborting) {
        cl_accum_fail_all(s, p->fatal_err ? WEIR_CLIENT_E_FATAL : WEIR_CLIENT_E_CLOSED);
        return;
    }
    bool all_ready = p->flushing || p->closing || p->space_waiters || p->stop;
    for (size_t i = 0; i < p->n_parts; i++) scan_part(s, p->parts[i], now, all_ready);
    for (uint32_t b = 0; b < CL_TOPIC_BUCKETS; b++)
        for (struct cl_topic *t = p->topics[b]; t; t = t->hnext)
            if (t->n_parts == 0 && !t->err) s->meta_needed = true;
}

void cl_accum_fail_all(struct cl_sender *s, int err)
{
    struct weir_producer *p = s->p;
    for (size_t i = 0; i < p->n_parts; i++) {
        struct cl_part *part = p->parts[i];
        while (part->head) {
            struct cl_batch *b = part->head;
            cl_part_unlink(part, b);
            cl_batch_done(p, b, err, -1, -1);
        }
    }
}

/* ---- draining ---------------------------------------------------------------------------- */

static bool part_sendable(const struct cl_sender *s, struct cl_part *part, int64_t now)
{
    const struct weir_producer *p = s->p;
    const struct cl_batch *b = part->head;
    if (!b || b->state == CL_BATCH_OPEN || b->retry_at_ms > now) return false;
    /* After a leader change, nothing goes to the new leader while batches are
     * out at the old one: they may fail and must be retried first. */
    if (part->inflight > 0 && part->inflight_node != part->leader) return false;
    if (p->idempotent) {
        if (s->pid_state != CL_PID_OK) return false;
        if (part->draining) {
            if (part->inflight > 0) return false;
            part->draining = false; /* every earlier try is back: resume, in order */
        }
        return part->inflight < p->conf.max_in_flight;
    }
    /* max.in.flight 1: one batch per partition at a time keeps order (Java's guaranteeMessageOrder). */
    return p->conf.max_in_flight > 1 || part->inflight == 0;
}

size_t cl_accum_drain(struct cl_sender *s, int64_t now, int32_t node, size_t max_bytes, struct cl_batch **out,
                      size_t max)
{
    struct weir_producer *p = s->p;
    size_t n = 0, bytes = 0, np = p->n_parts;
    for (size_t k = 0; k < np && n < max; k++) {
        struct cl_part *part = p->parts[(p->drain_start + k) % np];
        if (part->leader != node || !part_sendable(s, part, now)) continue;
        struct cl_batch *b = part->head;
        size_t blen = b->len ? b->len : b->bld.len;
        if (n > 0 && bytes + blen > max_bytes) continue; /* the first always goes, whatever its size */
        cl_part_unlink(part, b);
        if (!b->sequenced) {
            if (p->idempotent) {
                b->pid = s->pid;
                b->epoch = s->epoch;
                b->base_seq = part->next_seq;
                part->next_seq = cl_seq_add(part->next_seq, b->bld.count);
            }
            b->sequenced = true;
        }
        b->state = CL_BATCH_INFLIGHT;
        b->attempts++;
        part->inflight++;
        part->inflight_node = node;
        s->produce_inflight++;
        out[n++] = b;
        bytes += blen;
    }
    if (np) p->drain_start = (p->drain_start + 1) % np;
    return n;
}

/* ---- outcomes ------------------------------------------------------------------------------- */

static void outcome_retry(struct cl_sender *s, struct cl_batch *b, int err, bool charge, int64_t now)
{
    struct weir_producer *p = s->p;
    b->last_err = b->part->last_err = err; /* told with a later delivery timeout: not a bare "timed out" */
    if (charge && b->retries >= p->conf.retries) {
        cl_batch_done(p, b, err, -1, -1);
        return;
    }
    if (now >= b->created_ms + p->conf.delivery_timeout_ms) {
        cl_batch_done(p, b, WEIR_CLIENT_E_MSG_TIMED_OUT, -1, -1);
        if (p->idempotent && s->pid_state == CL_PID_OK) s->pid_state = CL_PID_RESET;
        return;
    }
    if (charge) b->retries++;
    b->retry_at_ms = now + p->conf.retry_backoff_ms;
    cl_part_requeue(b->part, b, p->idempotent);
    if (p->idempotent) b->part->draining = true;
    p->stats.batches_retried++;
    WEIR_DASSERT(cl_part_check(b->part, p->idempotent));
}

/* OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID (idempotent only). */
static void outcome_sequence(struct cl_sender *s, struct cl_batch *b, int err, int64_t now)
{
    struct weir_producer *p = s->p;
    struct cl_part *part = b->part;
    int32_t ahead = cl_seq_cmp(b->base_seq, part->next_ack_seq);
    if (err == WEIR_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER && ahead > 0) {
        outcome_retry(s, b, err, false, now); /* behind a failed batch: not this one's fault */
        return;
    }
    if (err == WEIR_KERR_UNKNOWN_PRODUCER_ID && ahead == 0 && b->attempts == 1) {
        if (s->pid_state == CL_PID_OK) s->pid_state = CL_PID_RESET; /* nothing unacknowledged before it */
        outcome_retry(s, b, err, false, now);
        return;
    }
    cl_set_fatal(p, err, "%s [%d] base sequence %d (next acknowledged %d): %s: cannot retry without risking duplication or reordering",
                 part->topic->name, part->id, b->base_seq, part->next_ack_seq, weir_client_err_str(err));
    cl_batch_done(p, b, err, -1, -1);
}

void cl_batch_outcome(struct cl_sender *s, struct cl_batch *b, int err, int64_t base_offset, int64_t append_time)
{
    struct weir_producer *p = s->p;
    struct cl_part *part = b->part;
    int64_t now = cl_now_ms(p);
    WEIR_ASSERT(b->state == CL_BATCH_INFLIGHT && part->inflight > 0 && s->produce_inflight > 0);
    part->inflight--;
    s->produce_inflight--;
    enum cl_action act = cl_err_action(err);
    if (act == CL_ACT_OK) {
        if (p->idempotent && b->base_seq >= 0) {
            int32_t next = cl_seq_add(b->base_seq, b->bld.count);
            if (cl_seq_cmp(next, part->next_ack_seq) > 0) part->next_ack_seq = next;
        }
        part->last_err = 0;
        cl_batch_done(p, b, 0, err ? -1 : base_offset, append_time);
        return;
    }
    if (p->fatal_err || p->aborting) {
        cl_batch_done(p, b, p->fatal_err ? WEIR_CLIENT_E_FATAL : WEIR_CLIENT_E_CLOSED, -1, -1);
        return;
    }
    if (act == CL_ACT_RETRY_REFRESH) s->meta_needed = true;
    if (act == CL_ACT_RETRY || act == CL_ACT_RETRY_REFRESH) {
        outcome_retry(s, b, err, true, now);
    } else if (act == CL_ACT_SEQUENCE && p->idempotent) {
        outcome_sequence(s, b, err, now);
    } else {
        /* Final. With idempotence the sequence gap it leaves needs a new producer id. */
        if (p->idempotent && s->pid_state == CL_PID_OK) s->pid_state = CL_PID_RESET;
        cl_batch_done(p, b, err, -1, -1);
    }
}

/* ---- Produce requests ------------------------------------------------------------------ */

/* Fails batches that never made it into a request. */
static void produce_lost(struct cl_sender *s, struct cl_batch **bs, size_t n, int err)
{
    pthread_mutex_lock(&s->p->lock);
    for (size_t i = 0; i < n; i++) cl_batch_outcome(s, bs[i], err, -1, -1);
    pthread_mutex_unlock(&s->p->lock);
}

/* Builds and queues one Produce request of n sealed batches. Every batch gets
 * its outcome through the request, or here when the request cannot be made. */
static void produce_request(struct cl_sender *s, struct cl_conn *c, struct cl_batch **bs, size_t n, int64_t now)
{
    struct weir_producer *p = s->p;
    struct cl_req *r = cl_req_new(s, CL_REQ_PRODUCE, KAPI_PRODUCE, c->v_produce);
    if (r && r->batches_cap < n) {
        struct cl_batch **a = weir_realloc(r->batches, n * sizeof *a);
        if (a) r->batches = a, r->batches_cap = (uint32_t)n;
    }
    weir_arena_reset(&s->scratch);
    struct kproduce_req_topic *topics = weir_arena_alloc(&s->scratch, n * sizeof *topics);
    struct kproduce_req_part *parts = weir_arena_alloc(&s->scratch, n * sizeof *parts);
    if (!r || r->batches_cap < n || !topics || !parts) {
        if (r) cl_req_free(s, r);
        produce_lost(s, bs, n, WEIR_CLIENT_E_NOMEM);
        return;
    }
    /* Group by topic, keeping drain order inside each. */
    int32_t nt = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cl_topic *t = bs[i]->part->topic;
        bool seen = false;
        for (int32_t k = 0; k < nt && !seen; k++) seen = topics[k].name.ptr == t->name;
        if (seen) continue;
        struct kproduce_req_topic *kt = &topics[nt++];
        *kt = (struct kproduce_req_topic){ .name = { t->name, (int32_t)t->name_len }, .partitions = &parts[used] };
        for (size_t j = i; j < n; j++) {
            if (bs[j]->part->topic != t) continue;
            parts[used++] = (struct kproduce_req_part){ bs[j]->part->id, bs[j]->bld.buf, (int32_t)bs[j]->len };
            r->batches[r->n_batches++] = bs[j];
            r->bytes += bs[j]->len;
            kt->n_partitions++;
        }
    }
    WEIR_ASSERT(used == n && r->n_batches == n);
    struct kproduce_req req = {
        .transactional_id = KSTR_NULL,
        .acks = p->conf.acks,
        .timeout_ms = p->conf.request_timeout_ms,
        .topics = topics,
        .n_topics = nt,
    };
    r->no_response = p->conf.acks == 0;
    struct kframe f = cl_req_begin(s, r);
    kproto_produce_request_encode(&r->kb, r->version, &req);
    uint64_t bytes = r->bytes;
    if (cl_conn_enqueue(s, c, r, &f, now) != WEIR_CLIENT_OK) return; /* its batches got their outcome */
    pthread_mutex_lock(&p->lock);
    p->stats.requests_sent++;
    p->stats.batches_sent += n;
    p->stats.bytes_sent += bytes;
    pthread_mutex_unlock(&p->lock);
}

/* Seals what needs it (outside the lock: compression and CRC), fails what
 * could not be sealed, and sends the rest as one request. */
static void produce_send(struct cl_sender *s, struct cl_conn *c, struct cl_batch **bs, size_t n, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct cl_batch *b = bs[i];
        int err = b->len ? WEIR_CLIENT_OK : cl_batch_seal(s->p, b);
        if (err)
            produce_lost(s, &b, 1, err);
        else
            bs[kept++] = b;
    }
    if (kept) produce_request(s, c, bs, kept, now);
}

/* Grows the drain array to hold one batch per partition. */
static bool drain_reserve(struct cl_sender *s, size_t n)
{
    if (n <= s->drain_cap) return true;
    size_t cap = WEIR_MAX(n, s->drain_cap * 2);
    struct cl_batch **a = weir_realloc(s->drain, cap * sizeof *a);
    if (!a) return false;
    s->drain = a;
    s->drain_cap = cap;
    return true;
}

/* Kicks the connection of a leader that has batches waiting. */
static void produce_kick(struct cl_sender *s, struct cl_broker *br, int64_t now)
{
    struct weir_producer *p = s->p;
    bool wanted = false;
    pthread_mutex_lock(&p->lock);
    for (size_t k = 0; k < p->n_parts && !wanted; k++) wanted = p->parts[k]->leader == br->node_id && p->parts[k]->head;
    pthread_mutex_unlock(&p->lock);
    if (wanted) cl_conn_kick(s, &br->conn, now);
}

static void produce_step(struct cl_sender *s, int64_t now)
{
    struct weir_producer *p = s->p;
    pthread_mutex_lock(&p->lock);
    size_t max = p->n_parts;
    pthread_mutex_unlock(&p->lock);
    if (max == 0 || !drain_reserve(s, max)) return;
    for (size_t i = 0; i < s->n_brokers; i++) {
        struct cl_broker *br = s->brokers[i];
        struct cl_conn *c = &br->conn;
        if (br->node_id < 0) continue;
        if (c->state != CL_CONN_UP) {
            produce_kick(s, br, now);
            continue;
        }
        while (cl_conn_has_room(s, c)) {
            pthread_mutex_lock(&p->lock);
            size_t n = cl_accum_drain(s, now, br->node_id, (size_t)p->conf.message_max_bytes, s->drain, max);
            pthread_mutex_unlock(&p->lock);
            if (n == 0) break;
            produce_send(s, c, s->drain, n, now);
            if (c->state != CL_CONN_UP) break;
        }
    }
}

int cl_produce_response(struct cl_sender *s, struct cl_req *r, struct weir_rd *rd)
{
    struct weir_producer *p = s->p;
    struct kproduce_resp resp;
    weir_arena_reset(&s->arena);
    if (kproto_produce_response_decode(rd, r->version, &s->arena, &resp) != WEIR_OK) return WEIR_CLIENT_E_BAD_MSG;
    pthread_mutex_lock(&p->lock);
    for (uint32_t i = 0; i < r->n_batches; i++) {
        struct cl_batch *b = r->batches[i];
        const struct kproduce_resp_part *found = NULL;
        for (int32_t t = 0; t < resp.n_topics && !found; t++) {
            const struct kproduce_resp_topic *rt = &resp.topics[t];
            if (!kstr_eq(rt->name, b->part->topic->name)) continue;
            for (int32_t k = 0; k < rt->n_partitions && !found; k++)
                if (rt->partitions[k].index == b->part->id) found = &rt->partitions[k];
        }
        if (found)
            cl_batch_outcome(s, b, found->error_code, found->base_offset, found->log_append_time_ms);
        else
            cl_batch_outcome(s, b, WEIR_CLIENT_E_BAD_MSG, -1, -1);
    }
    r->n_batches = 0;
    pthread_mutex_unlock(&p->lock);
    return WEIR_CLIENT_OK;
}

/* ---- the loop --------------------------------------------------------------------------- */

void cl_sender_step(struct cl_sender *s, int64_t now)
{
    struct weir_producer *p = s->p;
    pthread_mutex_lock(&p->lock);
    cl_accum_scan(s, now);
    pthread_mutex_unlock(&p->lock);
    cl_meta_step(s, now);
    cl_pid_step(s, now);
    produce_step(s, now);
}

static size_t poll_fill(struct cl_sender *s)
{
    if (s->pfds_cap < s->n_brokers + 1) {
        size_t cap = s->n_brokers + 8;
        struct pollfd *pf = weir_realloc(s->pfds, cap * sizeof *pf);
        if (pf) s->pfds = pf;
        struct cl_conn **pc = weir_realloc(s->pconns, cap * sizeof *pc);
        if (pc) s->pconns = pc;
        if (!pf || !pc) return 0;
        s->pfds_cap = cap;
    }
    size_t n = 0;
    s->pfds[n] = (struct pollfd){ .fd = s->p->efd, .events = POLLIN };
    s->pconns[n++] = NULL;
    for (size_t i = 0; i < s->n_brokers; i++) {
        struct cl_conn *c = &s->brokers[i]->conn;
        if (c->fd < 0) continue;
        short ev = POLLIN;
        if (c->state == CL_CONN_CONNECTING || c->out_head) ev |= POLLOUT;
        s->pfds[n] = (struct pollfd){ .fd = c->fd, .events = ev };
        s->pconns[n++] = c;
    }
    return n;
}

static bool sender_finished(struct cl_sender *s)
{
    struct weir_producer *p = s->p;
    pthread_mutex_lock(&p->lock);
    bool done = p->stop && (p->outstanding == 0 || p->aborting);
    pthread_mutex_unlock(&p->lock);
    return done;
}

/* Fails whatever is left (close timed out) and closes every connection. */
static void sender_shutdown(struct cl_sender *s)
{
    struct weir_producer *p = s->p;
    pthread_mutex_lock(&p->lock);
    p->aborting = p->outstanding > 0 || p->aborting;
    cl_accum_fail_all(s, WEIR_CLIENT_E_CLOSED);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i]->conn.fd >= 0) cl_conn_fail(s, &s->brokers[i]->conn, WEIR_CLIENT_E_CLOSED, "producer closed");
    cl_done_run(p);
}

void *cl_sender_main(void *arg)
{
    struct cl_sender *s = arg;
    struct weir_producer *p = s->p;
    for (;;) {
        atomic_store(&p->wake_pending, false);
        int64_t now = cl_now_ms(p);
        s->next_wake_ms = now + 1000;
        cl_sender_step(s, now);
        cl_done_run(p);
        if (sender_finished(s)) break;
        size_t n = poll_fill(s);
        int64_t timeout = WEIR_MAX(s->next_wake_ms - cl_now_ms(p), 0);
        int rc = n ? poll(s->pfds, n, (int)WEIR_MIN(timeout, 1000)) : 0;
        if (!n) usleep(1000);
        if (rc < 0 && errno != EINTR) weir_log(WEIR_LOG_WARN, "producer: poll: %s", strerror(errno));
        now = cl_now_ms(p);
        for (size_t i = 0; rc > 0 && i < n; i++) {
            if (!s->pfds[i].revents) continue;
            if (!s->pconns[i]) {
                uint64_t v;
                if (read(p->efd, &v, sizeof v) < 0 && errno != EAGAIN)
                    weir_log(WEIR_LOG_WARN, "producer: eventfd read: %s", strerror(errno));
                continue;
            }
            if (s->pconns[i]->fd == s->pfds[i].fd) cl_conn_io(s, s->pconns[i], s->pfds[i].revents, now);
        }
        for (size_t i = 0; i < s->n_brokers; i++) cl_conn_timeouts(s, &s->brokers[i]->conn, now);
        cl_done_run(p);
    }
    sender_shutdown(s);
    return NULL;
}

struct cl_sender *cl_sender_new(struct weir_producer *p, char *errbuf, size_t errbuf_size)
{
    struct cl_sender *s = weir_calloc(1, sizeof *s);
    if (!s) {
        cl_errbuf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    s->p = p;
    s->pid = -1;
    s->epoch = -1;
    s->pid_state = p->idempotent ? CL_PID_NONE : CL_PID_OK;
    if (weir_arena_init_growable(&s->arena, 64 * 1024, (size_t)CL_RECV_MAX * 4) != WEIR_OK ||
        weir_arena_init_growable(&s->scratch, 16 * 1024, 1u << 30) != WEIR_OK) {
        cl_errbuf(errbuf, errbuf_size, "out of memory");
        cl_sender_free(s);
        return NULL;
    }
    if (cl_bootstrap_parse(s, p->conf.bootstrap_servers, errbuf, errbuf_size) != WEIR_CLIENT_OK) {
        cl_sender_free(s);
        return NULL;
    }
    return s;
}

void cl_sender_free(struct cl_sender *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_brokers; i++) {
        cl_conn_free(s, &s->brokers[i]->conn);
        weir_free(s->brokers[i]->host);
        weir_free(s->brokers[i]);
    }
    weir_free(s->brokers);
    while (s->free_reqs) {
        struct cl_req *r = s->free_reqs;
        s->free_reqs = r->next;
        kbuf_free(&r->kb);
        weir_free(r->batches);
        weir_free(r);
    }
    weir_arena_destroy(&s->arena);
    weir_arena_destroy(&s->scratch);
    weir_free(s->pfds);
    weir_free(s->pconns);
    weir_free(s->drain);
    weir_free(s);
}
