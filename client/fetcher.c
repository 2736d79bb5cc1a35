/* client/fetcher.c: the consumer's fetch thread. Each round it takes a
 * snapshot of the assignment under the lock (the plan), then, without the
 * lock: refreshes metadata for partitions without a known leader, resolves
 * logical start positions with ListOffsets, and sends one Fetch to every
 * leader before reading any answer, so the long polls of several brokers run
 * at the same time. Answers are applied under the lock, and only to partitions
 * whose epoch has not moved since the plan (a seek or assign made meanwhile
 * wins). Data goes to the poll queue as chunks that borrow the response frame.
 * Fetching pauses while queued.max.messages.kbytes of data wait for poll:
 * that, and the Fetch sent as soon as the last one is answered, is the
 * prefetch.
 *
 * Partition states (cpart.state), with what moves them:
 *   NEED_OFFSET ──ListOffsets answer──► ACTIVE ──OFFSET_OUT_OF_RANGE──► NEED_OFFSET (reset earliest/latest)
 *                                          └────OFFSET_OUT_OF_RANGE──► PAUSED (reset error; a seek leaves it)
 *   any ──seek / assign──► NEED_OFFSET or ACTIVE (epoch + 1) */
#include "wire_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum {
    LEADERS_PER_ROUND_MAX = 64,
    META_RETRY_MS = 1000,  /* after a metadata error (unknown topic, no leader) */
    IDLE_WAIT_MS = 1000,   /* longest sleep with nothing to do */
    FETCH_BY_NAME_MAX = 12, /* the last Fetch version that names topics (v13+: ids) */
};

/* ---- plan ---------------------------------------------------------------------------- */

static bool plan_grow(struct weir_consumer *c, size_t n)
{
    if (n <= c->plan_cap) return true;
    size_t cap = WEIR_MAX(n, 2 * c->plan_cap);
    struct pentry *p = weir_realloc(c->plan, cap * sizeof *p);
    if (!p) return false;
    c->plan = p;
    c->plan_cap = cap;
    return true;
}

/* Lock held. Snapshots the partitions to work on now; lowers *wake_ms to the
 * next time something becomes due. *need_meta: some partition lacks a leader. */
static size_t plan_build(struct weir_consumer *c, int64_t now, bool *need_meta, int64_t *wake_ms)
{
    size_t n_parts = 0, n = 0;
    for (struct cpart *p = c->parts; p; p = p->next) n_parts++;
    *need_meta = false;
    if (!plan_grow(c, n_parts)) return 0;
    bool room = c->queued_bytes < (size_t)c->conf.queued_max_kbytes * 1024;
    for (struct cpart *p = c->parts; p; p = p->next) {
        if (p->state == CP_PAUSED) continue;
        if (p->leader < 0) {
            *need_meta = true;
            continue;
        }
        if (p->retry_at_ms > now) {
            *wake_ms = WEIR_MIN(*wake_ms, p->retry_at_ms);
            continue;
        }
        if (p->state == CP_ACTIVE && !room) continue; /* the poller signals cond_work */
        p->refs++;
        c->plan[n++] = (struct pentry){ p, p->epoch, p->state, p->fetch_pos, p->logical, p->ts, p->leader, false };
    }
    if (*need_meta) *wake_ms = WEIR_MIN(*wake_ms, c->meta_next_ms);
    return n;
}

static void plan_release(struct weir_consumer *c, size_t n)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) cw_cpart_unref(c, c->plan[i].part);
    pthread_mutex_unlock(&c->lock);
}

/* Lock held: is the planned partition still where the plan saw it? */
static bool entry_current(const struct pentry *e)
{
    const struct cpart *p = e->part;
    return p->assigned && p->epoch == e->epoch && p->state == e->state && (e->state != CP_ACTIVE || p->fetch_pos == e->fetch_pos);
}

/* Lock held: an error for p, reported once until another error or a success. */
static void part_error(struct weir_consumer *c, struct cpart *p, int err, int64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void part_error(struct weir_consumer *c, struct cpart *p, int err, int64_t offset, const char *fmt, ...)
{
    if (p->last_err == err) return;
    p->last_err = err;
    char text[CW_ERRBUF];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cw_queue_error(c, p, offset, err, "%s [%d]: %s", p->topic, (int)p->id, text);
}

/* A consumer-level error (connections), reported once until a success. */
void cw_consumer_error(struct weir_consumer *c, int err, const char *text)
{
    pthread_mutex_lock(&c->lock);
    if (c->conn_err != err) {
        c->conn_err = err;
        cw_queue_error(c, NULL, -1, err, "%s", text);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Errors after which the leader is looked up again. */
static bool err_refresh(int err)
{
    switch (err) {
    case WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case WEIR_KERR_LEADER_NOT_AVAILABLE:
    case WEIR_KERR_NOT_LEADER_OR_FOLLOWER:
    case WEIR_KERR_REPLICA_NOT_AVAILABLE:
    case WEIR_KERR_KAFKA_STORAGE_ERROR:
    case WEIR_KERR_FENCED_LEADER_EPOCH:
    case WEIR_KERR_UNKNOWN_LEADER_EPOCH:
    case WEIR_CLIENT_E_TRANSPORT:
    case WEIR_CLIENT_E_TIMED_OUT:
    case WEIR_CLIENT_E_BAD_MSG:
        return true;
    default:
        return false;
    }
}

/* ---- brokers and metadata ----------------------------------------------------------------- */

static struct cbroker *broker_find(struct weir_consumer *c, int32_t node)
{
    for (struct cbroker *b = c->brokers; b; b = b->next)
        if (b->node_id == node) return b;
    return NULL;
}

static void broker_update(struct weir_consumer *c, const struct kmetadata_broker *mb)
{
    char host[CW_HOST_MAX];
    if (mb->host.len <= 0 || (size_t)mb->host.len >= sizeof host) return;
    memcpy(host, mb->host.ptr, (size_t)mb->host.len);
    host[mb->host.len] = '\0';
    struct cbroker *b = broker_find(c, mb->node_id);
    if (!b) {
        b = weir_calloc(1, sizeof *b);
        if (!b) return;
        b->node_id = mb->node_id;
        cw_conn_init(&b->conn, c->conf.client_id);
        b->conn.wake_fd = c->wake_fd;
        b->conn.node_id = mb->node_id;
        b->next = c->brokers;
        c->brokers = b;
    }
    if (strcmp(b->conn.host, host) != 0 || b->conn.port != mb->port) {
        cw_close(&b->conn);
        snprintf(b->conn.host, sizeof b->conn.host, "%s", host);
        b->conn.port = mb->port;
    }
}

/* Lock held: applies one topic's metadata to the partitions that wait for a leader. */
static void meta_apply_part(struct weir_consumer *c, struct cpart *p, const struct kmetadata_resp *md, bool *retry)
{
    const struct kmetadata_topic *t = NULL;
    for (int32_t i = 0; i < md->n_topics && !t; i++)
        if (kstr_eq(md->topics[i].name, p->topic)) t = &md->topics[i];
    if (!t || t->error_code == WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
        part_error(c, p, WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION, -1, "unknown topic");
        *retry = true;
        return;
    }
    if (t->error_code != 0) {
        if (t->error_code != WEIR_KERR_LEADER_NOT_AVAILABLE)
            part_error(c, p, t->error_code, -1, "metadata: %s", weir_client_err_str(t->error_code));
        *retry = true;
        return;
    }
    const struct kmetadata_part *mp = NULL;
    for (int32_t i = 0; i < t->n_partitions && !mp; i++)
        if (t->partitions[i].partition_index == p->id) mp = &t->partitions[i];
    if (!mp) {
        part_error(c, p, 3, -1, "unknown partition (the topic has %d)", (int)t->n_partitions);
        *retry = true;
    } else if (mp->leader_id < 0 || !broker_find(c, mp->leader_id)) {
        *retry = true; /* no leader yet: ask again */
    } else {
        p->leader = mp->leader_id;
    }
}

static void meta_refresh(struct weir_consumer *c, int64_t now)
{
    c->meta_next_ms = now + c->conf.retry_backoff_ms;
    const char **names = NULL;
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    names = weir_calloc(c->n_topics ? c->n_topics : 1, sizeof *names);
    for (struct cpart *p = c->parts; names && p; p = p->next) {
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++) seen = names[i] == p->topic;
        if (p->leader < 0 && !seen) names[n++] = p->topic;
    }
    pthread_mutex_unlock(&c->lock);
    if (!names || n == 0) {
        weir_free(names);
        return;
    }
    int rc = cw_is_up(&c->boot) ? 0 : cw_connect_bootstrap(&c->boot, c->conf.bootstrap_servers, c->conf.request_timeout_ms);
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    weir_arena_reset(&c->arena);
    if (rc == 0) rc = cw_metadata(&c->boot, &c->arena, names, (int)n, c->conf.request_timeout_ms, &md, &frame);
    weir_free(names);
    if (rc != 0) {
        if (rc != WEIR_CLIENT_E_CLOSED) cw_consumer_error(c, rc, c->boot.err);
        c->meta_next_ms = cw_now_ms() + WEIR_MAX(c->conf.reconnect_backoff_ms, META_RETRY_MS);
        return;
    }
    for (int32_t i = 0; i < md.n_brokers; i++) broker_update(c, &md.brokers[i]);
    bool retry = false;
    pthread_mutex_lock(&c->lock);
    for (struct cpart *p = c->parts; p; p = p->next)
        if (p->leader < 0 && p->state != CP_PAUSED) meta_apply_part(c, p, &md, &retry);
    pthread_mutex_unlock(&c->lock);
    if (retry) c->meta_next_ms = now + META_RETRY_MS;
    cw_frame_unref(frame);
}

/* The connection to a leader, connecting when needed. NULL (the partitions of
 * the plan that it leads lose their leader) when it does not come up. */
static struct cw_conn *leader_conn(struct weir_consumer *c, int32_t node, size_t n, int64_t now)
{
    struct cbroker *b = broker_find(c, node);
    int rc = WEIR_CLIENT_E_TRANSPORT;
    if (b && cw_is_up(&b->conn)) return &b->conn;
    if (b && b->retry_at_ms <= now) {
        rc = cw_connect(&b->conn, b->conn.host, b->conn.port, c->conf.request_timeout_ms);
        if (rc == 0) return &b->conn;
        b->retry_at_ms = now + c->conf.reconnect_backoff_ms;
        if (rc != WEIR_CLIENT_E_CLOSED) cw_consumer_error(c, rc, b->conn.err);
    }
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++)
        if (c->plan[i].leader == node && entry_current(&c->plan[i])) c->plan[i].part->leader = -1;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ---- request building ----------------------------------------------------------------------- */

/* Index of the plan's topic in the request being built (interned names compare by pointer). */
static int32_t topic_slot(const char **names, int32_t *n, const char *topic)
{
    for (int32_t i = 0; i < *n; i++)
        if (names[i] == topic) return i;
    names[*n] = topic;
    return (*n)++;
}

/* ---- ListOffsets ------------------------------------------------------------------------------- */

static void offsets_apply_part(struct weir_consumer *c, struct pentry *e, const struct klistoffsets_resp_part *rp,
                               int64_t now)
{
    struct cpart *p = e->part;
    e->done = true;
    if (!entry_current(e)) return;
    int err = rp->error_code;
    if (err == 0 && rp->offset < 0) {
        p->logical = WEIR_OFFSET_END; /* no record at or after the timestamp: start at the end */
        e->done = false;
    } else if (err == 0) {
        p->fetch_pos = p->app_pos = rp->offset;
        p->state = CP_ACTIVE;
        p->last_err = 0;
    } else {
        if (err_refresh(err)) p->leader = -1;
        p->retry_at_ms = now + META_RETRY_MS;
        if (err != WEIR_KERR_LEADER_NOT_AVAILABLE && err != WEIR_KERR_NOT_LEADER_OR_FOLLOWER)
            part_error(c, p, err, -1, "ListOffsets: %s", weir_client_err_str(err));
    }
}

static void offsets_apply(struct weir_consumer *c, size_t n, const struct klistoffsets_resp *r, int32_t node,
                          int64_t now)
{
    pthread_mutex_lock(&c->lock);
    for (int32_t t = 0; t < r->n_topics; t++)
        for (int32_t k = 0; k < r->topics[t].n_partitions; k++) {
            const struct klistoffsets_resp_part *rp = &r->topics[t].partitions[k];
            for (size_t i = 0; i < n; i++) {
                struct pentry *e = &c->plan[i];
                if (e->state == CP_NEED_OFFSET && e->leader == node && !e->done && e->part->id == rp->partition_index &&
                    kstr_eq(r->topics[t].name, e->part->topic))
                    offsets_apply_part(c, e, rp, now);
            }
        }
    pthread_mutex_unlock(&c->lock);
}

/* One ListOffsets to `node` for its partitions that need a start offset. */
static void offsets_leader(struct weir_consumer *c, size_t n, int32_t node, int64_t now)
{
    struct cw_conn *conn = leader_conn(c, node, n, now);
    if (!conn) return;
    int16_t v = cw_version(conn, KAPI_LIST_OFFSETS);
    weir_arena_reset(&c->arena);
    const char **names = weir_arena_alloc(&c->arena, n * sizeof *names);
    struct klistoffsets_req_topic *topics = weir_arena_alloc(&c->arena, n * sizeof *topics);
    struct klistoffsets_req_part *parts = weir_arena_alloc(&c->arena, n * sizeof *parts);
    if (v < 0 || !names || !topics || !parts) {
        cw_consumer_error(c, v < 0 ? WEIR_CLIENT_E_UNSUPPORTED : WEIR_CLIENT_E_NOMEM,
                       v < 0 ? "the broker offers no ListOffsets version this client speaks" : "out of memory");
        return;
    }
    int32_t n_topics = 0;
    size_t used = 0;
    /* Partitions grouped by topic: for each new topic, gather its partitions. */
    for (size_t i = 0; i < n; i++) {
        const struct pentry *e = &c->plan[i];
        if (e->state != CP_NEED_OFFSET || e->leader != node) continue;
        int32_t before = n_topics;
        int32_t slot = topic_slot(names, &n_topics, e->part->topic);
        if (slot < before) continue; /* gathered with its topic */
        topics[slot] = (struct klistoffsets_req_topic){ kstr_c(e->part->topic), &parts[used], 0 };
        for (size_t j = i; j < n; j++) {
            const struct pentry *f = &c->plan[j];
            if (f->state != CP_NEED_OFFSET || f->leader != node || f->part->topic != e->part->topic) continue;
            int64_t ts = f->logical == WEIR_OFFSET_TIMESTAMP ? f->ts : f->logical == WEIR_OFFSET_BEGINNING ? -2 : -1;
            parts[used++] = (struct klistoffsets_req_part){ f->part->id, ts, -1, 1 };
            topics[slot].n_partitions++;
        }
    }
    struct klistoffsets_req req = { -1, 0, topics, n_topics };
    int32_t corr;
    struct kframe f = cw_request_begin(conn, &c->kb, KAPI_LIST_OFFSETS, v, &corr);
    kproto_listoffsets_request_encode(&c->kb, v, &req);
    kproto_request_end(&c->kb, &f);
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    struct klistoffsets_resp resp;
    int rc = cw_call(conn, &c->kb, KAPI_LIST_OFFSETS, v, corr, c->conf.request_timeout_ms, &frame, &rd);
    if (rc == 0 && kproto_listoffsets_response_decode(&rd, v, &c->arena, &resp) != WEIR_OK) {
        cw_close(conn);
        cw_errf(conn->err, sizeof conn->err, "%s:%d: malformed ListOffsets response", conn->host, conn->port);
        rc = WEIR_CLIENT_E_BAD_MSG;
    }
    if (rc == 0) offsets_apply(c, n, &resp, node, now);
    else if (rc != WEIR_CLIENT_E_CLOSED) cw_consumer_error(c, rc, conn->err);
    cw_frame_unref(frame);
}

/* ---- Fetch ----------------------------------------------------------------------------------- */

/* Lock held: a successful partition answer: queue the whole batches, move
 * the fetch position past them, and note the end of the partition. */
static void fetch_data(struct weir_consumer *c, struct cpart *p, const struct kfetch_resp_part *rp, struct cw_frame *frame)
{
    p->hwm = rp->high_watermark;
    size_t len = rp->record_set.len > 0 ? (size_t)rp->record_set.len : 0;
    if (len > 0) {
        size_t whole;
        int64_t next = cw_batches_next_offset(rp->record_set.ptr, len, &whole);
        if (next < 0 || next <= p->fetch_pos) {
            if (len >= (size_t)c->conf.max_partition_fetch_bytes)
                part_error(c, p, 10, p->fetch_pos, "the record batch at offset %" PRId64 " is larger than max.partition.fetch.bytes (%d)",
                           p->fetch_pos, (int)c->conf.max_partition_fetch_bytes);
            return;
        }
        struct cchunk *ch = weir_calloc(1, sizeof *ch);
        if (!ch) return; /* fetched again next round */
        *ch = (struct cchunk){ .kind = CC_DATA, .part = p, .epoch = p->epoch, .frame = frame, .p = rp->record_set.ptr, .len = whole };
        cw_frame_ref(frame);
        p->refs++;
        p->fetch_pos = next;
        p->last_err = 0;
        cw_queue_push(c, ch);
    }
    if (c->conf.partition_eof && p->fetch_pos >= p->hwm && p->eof_at != p->fetch_pos) {
        struct cchunk *ch = weir_calloc(1, sizeof *ch);
        if (!ch) return;
        *ch = (struct cchunk){ .kind = CC_EOF, .part = p, .epoch = p->epoch, .offset = p->fetch_pos };
        p->refs++;
        p->eof_at = p->fetch_pos;
        cw_queue_push(c, ch);
    }
}

/* Lock held: one partition of a Fetch answer. */
static void fetch_apply_part(struct weir_consumer *c, struct pentry *e, const struct kfetch_resp_part *rp,
                             struct cw_frame *frame, int64_t now)
{
    struct cpart *p = e->part;
    e->done = true;
    if (!entry_current(e)) return;
    int err = rp->error_code;
    if (err == 0) {
        fetch_data(c, p, rp, frame);
    } else if (err == WEIR_KERR_OFFSET_OUT_OF_RANGE && c->conf.reset != CW_RESET_ERROR) {
        struct weir_partition_start s = { p->topic, p->id, c->conf.reset == CW_RESET_EARLIEST ? WEIR_OFFSET_BEGINNING : WEIR_OFFSET_END, 0 };
        weir_log(WEIR_LOG_DEBUG, "consumer: %s [%d]: offset %" PRId64 " out of range, resetting to the %s", p->topic,
                 (int)p->id, p->fetch_pos, c->conf.reset == CW_RESET_EARLIEST ? "beginning" : "end");
        p->epoch++;
        p->state = CP_NEED_OFFSET;
        p->logical = s.offset;
        p->eof_at = -1;
    } else if (err == WEIR_KERR_OFFSET_OUT_OF_RANGE) {
        p->state = CP_PAUSED;
        p->last_err = 0;
        part_error(c, p, err, p->fetch_pos,
                   "fetch offset %" PRId64 " is out of range (log start %" PRId64 ", high watermark %" PRId64 "); paused until a seek",
                   p->fetch_pos, rp->log_start_offset, rp->high_watermark);
    } else {
        if (err_refresh(err)) p->leader = -1;
        p->retry_at_ms = now + WEIR_MAX(c->conf.retry_backoff_ms, 1);
        if (err != WEIR_KERR_LEADER_NOT_AVAILABLE && err != WEIR_KERR_NOT_LEADER_OR_FOLLOWER)
            part_error(c, p, err, p->fetch_pos, "Fetch: %s", weir_client_err_str(err));
    }
}

static void fetch_apply(struct weir_consumer *c, size_t n, int32_t node, const struct kfetch_resp *r,
                        struct cw_frame *frame, int64_t now)
{
    pthread_mutex_lock(&c->lock);
    c->conn_err = 0;
    for (int32_t t = 0; t < r->n_topics; t++)
        for (int32_t k = 0; k < r->topics[t].n_partitions; k++) {
            const struct kfetch_resp_part *rp = &r->topics[t].partitions[k];
            for (size_t i = 0; i < n; i++) {
                struct pentry *e = &c->plan[i];
                if (e->state == CP_ACTIVE && e->leader == node && !e->done && e->part->id == rp->partition_index &&
                    kstr_eq(r->topics[t].topic, e->part->topic))
                    fetch_apply_part(c, e, rp, frame, now);
            }
        }
    pthread_mutex_unlock(&c->lock);
}

struct sent {
    struct cw_conn *conn;
    int32_t node, corr;
    int16_t v;
};

/* Builds and sends one Fetch to `node`; false when nothing went out. */
static bool fetch_send(struct weir_consumer *c, size_t n, int32_t node, int64_t now, struct sent *s)
{
    struct cw_conn *conn = leader_conn(c, node, n, now);
    if (!conn) return false;
    /* v13+ names topics by id: this consumer fetches by name. */
    int16_t v = WEIR_MIN(cw_version(conn, KAPI_FETCH), FETCH_BY_NAME_MAX);
    weir_arena_reset(&c->arena);
    const char **names = weir_arena_alloc(&c->arena, n * sizeof *names);
    struct kfetch_req_topic *topics = weir_arena_alloc(&c->arena, n * sizeof *topics);
    struct kfetch_req_part *parts = weir_arena_alloc(&c->arena, n * sizeof *parts);
    if (v < 0 || !names || !topics || !parts) {
        cw_consumer_error(c, v < 0 ? WEIR_CLIENT_E_UNSUPPORTED : WEIR_CLIENT_E_NOMEM,
                       v < 0 ? "the broker offers no Fetch version this client speaks (4 or later)" : "out of memory");
        return false;
    }
    int32_t n_topics = 0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        const struct pentry *e = &c->plan[i];
        if (e->state != CP_ACTIVE || e->leader != node) continue;
        int32_t before = n_topics;
        int32_t slot = topic_slot(names, &n_topics, e->part->topic);
        if (slot < before) continue;
        topics[slot] = (struct kfetch_req_topic){ .topic = kstr_c(e->part->topic), .partitions = &parts[used] };
        for (size_t j = i; j < n; j++) {
            const struct pentry *f = &c->plan[j];
            if (f->state != CP_ACTIVE || f->leader != node || f->part->topic != e->part->topic) continue;
            parts[used++] = (struct kfetch_req_part){ .partition = f->part->id, .current_leader_epoch = -1,
                                                     .fetch_offset = f->fetch_pos, .last_fetched_epoch = -1,
                                                     .log_start_offset = -1,
                                                     .partition_max_bytes = c->conf.max_partition_fetch_bytes };
            topics[slot].n_partitions++;
        }
    }
    struct kfetch_req req = {
        .replica_id = -1, .max_wait_ms = c->conf.fetch_max_wait_ms, .min_bytes = c->conf.fetch_min_bytes,
        .max_bytes = c->conf.fetch_max_bytes, .isolation_level = 0, .session_id = 0, .session_epoch = -1,
        .topics = topics, .n_topics = n_topics, .rack_id = kstr_c(""),
    };
    struct kframe f = cw_request_begin(conn, &c->kb, KAPI_FETCH, v, &s->corr);
    kproto_fetch_request_encode(&c->kb, v, &req);
    kproto_request_end(&c->kb, &f);
    int rc = cw_send(conn, &c->kb, now + c->conf.request_timeout_ms);
    if (rc != 0) {
        if (rc != WEIR_CLIENT_E_CLOSED) cw_consumer_error(c, rc, conn->err);
        return false;
    }
    *s = (struct sent){ conn, node, s->corr, v };
    return true;
}

static void fetch_recv(struct weir_consumer *c, size_t n, const struct sent *s, int64_t now)
{
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int64_t deadline = now + c->conf.fetch_max_wait_ms + c->conf.request_timeout_ms;
    int rc = cw_recv_response(s->conn, KAPI_FETCH, s->v, s->corr, deadline, &frame, &rd);
    struct kfetch_resp resp;
    weir_arena_reset(&c->arena);
    if (rc == 0 && kproto_fetch_response_decode(&rd, s->v, &c->arena, &resp) != WEIR_OK) {
        cw_close(s->conn);
        cw_errf(s->conn->err, sizeof s->conn->err, "%s:%d: malformed Fetch response", s->conn->host, s->conn->port);
        rc = WEIR_CLIENT_E_BAD_MSG;
    }
    if (rc == 0 && resp.error_code != 0) {
        cw_errf(s->conn->err, sizeof s->conn->err, "%s:%d: Fetch: %s", s->conn->host, s->conn->port,
                 weir_client_err_str(resp.error_code));
        rc = resp.error_code;
    }
    if (rc == 0) {
        c->stats_fetches++;
        c->stats_bytes += frame->len;
        fetch_apply(c, n, s->node, &resp, frame, cw_now_ms());
    } else if (rc != WEIR_CLIENT_E_CLOSED) {
        cw_consumer_error(c, rc, s->conn->err);
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < n; i++)
            if (c->plan[i].leader == s->node && entry_current(&c->plan[i])) {
                c->plan[i].part->leader = -1;
                c->plan[i].part->retry_at_ms = now + c->conf.retry_backoff_ms;
            }
        pthread_mutex_unlock(&c->lock);
    }
    cw_frame_unref(frame);
}

/* The distinct leaders of the plan's entries in `state`, up to max. */
static size_t plan_leaders(const struct weir_consumer *c, size_t n, enum cpart_state state, int32_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (c->plan[i].state != state) continue;
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++) seen = out[j] == c->plan[i].leader;
        if (!seen && k < max) out[k++] = c->plan[i].leader;
    }
    return k;
}

static void round_run(struct weir_consumer *c, size_t n, int64_t now)
{
    int32_t leaders[LEADERS_PER_ROUND_MAX];
    size_t k = plan_leaders(c, n, CP_NEED_OFFSET, leaders, LEADERS_PER_ROUND_MAX);
    for (size_t i = 0; i < k; i++) offsets_leader(c, n, leaders[i], now);
    k = plan_leaders(c, n, CP_ACTIVE, leaders, LEADERS_PER_ROUND_MAX);
    struct sent sent[LEADERS_PER_ROUND_MAX];
    size_t n_sent = 0;
    for (size_t i = 0; i < k; i++)
        if (fetch_send(c, n, leaders[i], now, &sent[n_sent])) n_sent++;
    for (size_t i = 0; i < n_sent; i++) fetch_recv(c, n, &sent[i], now);
}

/* ---- the thread ------------------------------------------------------------------------------------ */

void *cw_fetch_main(void *arg)
{
    struct weir_consumer *c = arg;
    /* Each turn either does work or waits on cond_work: not a busy loop. */
    for (;;) {
        int64_t now = cw_now_ms();
        int64_t wake_ms = now + IDLE_WAIT_MS;
        bool need_meta;
        pthread_mutex_lock(&c->lock);
        if (c->stop) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        uint64_t gen = c->work_gen;
        size_t n = plan_build(c, now, &need_meta, &wake_ms);
        bool meta_due = need_meta && c->meta_next_ms <= now;
        if (n == 0 && !meta_due) {
            if (gen == c->work_gen) cw_cond_wait_until(&c->cond_work, &c->lock, wake_ms);
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        pthread_mutex_unlock(&c->lock);
        if (meta_due) meta_refresh(c, now);
        round_run(c, n, now);
        plan_release(c, n);
    }
    return NULL;
}
