/* client/accum.c: the record accumulator. send() appends each record straight
 * into its partition's OPEN batch buffer in RecordBatch v2 form (the
 * record/ builder: one copy, from the caller's bytes into the batch), under the
 * producer lock. Batch buffers come from a pool bounded by buffer.memory;
 * send() waits for room up to max.block.ms. Completed batches go to a done
 * list whose callbacks run outside the lock (cl_done_run).
 * See client_int.h for the batch states and the invariants. */
#include "client_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

/* ---- time and wakeups -------------------------------------------------------- */

int64_t cl_now_ms(const struct weir_producer *p)
{
    if (p->conf.hooks.now_ms) return p->conf.hooks.now_ms(p->conf.hooks.ctx);
    return weir_clock_ns() / 1000000;
}

bool cl_on_sender_thread(const struct weir_producer *p)
{
    return p->thread_started && pthread_equal(pthread_self(), p->thread);
}

/* Absolute CLOCK_MONOTONIC time `ms` from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

static bool deadline_passed(const struct timespec *d)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

void cl_set_fatal(struct weir_producer *p, int err, const char *fmt, ...)
{
    if (p->fatal_err) return; /* the first one wins */
    p->fatal_err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->fatal_msg, sizeof p->fatal_msg, fmt, ap);
    va_end(ap);
    weir_log(WEIR_LOG_ERROR, "producer: fatal error %s: %s", weir_client_err_str(err), p->fatal_msg);
    pthread_cond_broadcast(&p->cond_space);
    pthread_cond_broadcast(&p->cond_meta);
}

/* ---- topics -------------------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

struct cl_topic *cl_topic_find(struct weir_producer *p, const char *name)
{
    for (struct cl_topic *t = p->topics[name_hash(name) % CL_TOPIC_BUCKETS]; t; t = t->hnext)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

struct cl_topic *cl_topic_get(struct weir_producer *p, const char *name)
{
    struct cl_topic *t = cl_topic_find(p, name);
    if (t) return t;
    t = weir_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->name = weir_strdup(name);
    if (!t->name) {
        weir_free(t);
        return NULL;
    }
    t->name_len = strlen(name);
    t->sticky = -1;
    uint32_t bucket = name_hash(name) % CL_TOPIC_BUCKETS;
    t->hnext = p->topics[bucket];
    p->topics[bucket] = t;
    p->n_topics++;
    p->topics_version++;
    return t;
}

int cl_topic_set_partitions(struct weir_producer *p, struct cl_topic *t, int32_t n)
{
    if (n <= t->n_parts) return WEIR_CLIENT_OK; /* Kafka never shrinks a topic */
    struct cl_part **parts = weir_realloc(t->parts, (size_t)n * sizeof *parts);
    if (!parts) return WEIR_CLIENT_E_NOMEM;
    t->parts = parts;
    if (p->n_parts + (size_t)(n - t->n_parts) > p->parts_cap) {
        size_t cap = WEIR_MAX(p->parts_cap * 2, p->n_parts + (size_t)(n - t->n_parts));
        struct cl_part **all = weir_realloc(p->parts, cap * sizeof *all);
        if (!all) return WEIR_CLIENT_E_NOMEM;
        p->parts = all;
        p->parts_cap = cap;
    }
    for (int32_t i = t->n_parts; i < n; i++) {
        struct cl_part *part = weir_calloc(1, sizeof *part);
        if (!part) return WEIR_CLIENT_E_NOMEM; /* the first i are usable */
        part->topic = t;
        part->id = i;
        part->leader = -1;
        t->parts[i] = part;
        p->parts[p->n_parts++] = part;
        t->n_parts = i + 1;
    }
    return WEIR_CLIENT_OK;
}

/* ---- the buffer pool ---------------------------------------------------------- */

/* Takes cap bytes for a batch buffer, waiting for room until `deadline` (lock
 * held; the wait drops it). NULL with *err: QUEUE_FULL, CLOSED, FATAL, NOMEM. */
static uint8_t *pool_take(struct weir_producer *p, size_t cap, const struct timespec *deadline, int *err)
{
    const int64_t limit = p->conf.buffer_memory;
    for (;;) {
        if (cap == (size_t)p->conf.batch_size && p->n_free_bufs > 0) {
            p->pool_free_bytes -= (int64_t)cap;
            p->pool_used += (int64_t)cap;
            return p->free_bufs[--p->n_free_bufs];
        }
        while (p->n_free_bufs > 0 && p->pool_used + p->pool_free_bytes + (int64_t)cap > limit) {
            weir_free(p->free_bufs[--p->n_free_bufs]);
            p->pool_free_bytes -= p->conf.batch_size;
        }
        if (p->pool_used + p->pool_free_bytes + (int64_t)cap <= limit) {
            uint8_t *buf = weir_malloc(cap);
            if (!buf) {
                *err = WEIR_CLIENT_E_NOMEM;
                return NULL;
            }
            p->pool_used += (int64_t)cap;
            WEIR_ASSERT(p->pool_used + p->pool_free_bytes <= limit); /* invariant (2) */
            return buf;
        }
        /* Full: the Sender drains everything while someone waits (Java's "exhausted"). */
        if (cl_on_sender_thread(p) || deadline_passed(deadline)) {
            *err = WEIR_CLIENT_E_QUEUE_FULL;
            return NULL;
        }
        p->space_waiters++;
        cl_wake(p);
        pthread_cond_timedwait(&p->cond_space, &p->lock, deadline);
        p->space_waiters--;
        if (p->fatal_err) {
            *err = WEIR_CLIENT_E_FATAL;
            return NULL;
        }
        if (p->closing) {
            *err = WEIR_CLIENT_E_CLOSED;
            return NULL;
        }
    }
}

static void pool_give(struct weir_producer *p, uint8_t *buf, size_t cap)
{
    WEIR_ASSERT(p->pool_used >= (int64_t)cap);
    p->pool_used -= (int64_t)cap;
    if (cap == (size_t)p->conf.batch_size && p->n_free_bufs < CL_BUF_FREE_MAX &&
        p->pool_used + p->pool_free_bytes + (int64_t)cap <= p->conf.buffer_memory) {
        p->free_bufs[p->n_free_bufs++] = buf;
        p->pool_free_bytes += (int64_t)cap;
    } else {
        weir_free(buf);
    }
    pthread_cond_broadcast(&p->cond_space);
}

/* ---- batches ------------------------------------------------------------------------ */

static struct cl_batch *batch_new(struct weir_producer *p, struct cl_part *part, uint8_t *buf, size_t cap,
                                  int64_t now)
{
    struct cl_batch *b = p->free_batches;
    if (b) {
        p->free_batches = b->next;
    } else {
        b = weir_calloc(1, sizeof *b);
        if (!b) return NULL;
    }
    struct cl_rec *recs = b->recs;
    uint32_t recs_cap = b->recs_cap;
    memset(b, 0, sizeof *b);
    b->recs = recs;
    b->recs_cap = recs_cap;
    b->part = part;
    b->state = CL_BATCH_OPEN;
    weir_batch_builder_init(&b->bld, buf, cap, (enum weir_codec)p->conf.codec);
    b->bld.level = p->conf.codec_level;
    b->buf_cap = cap;
    b->created_ms = now;
    b->base_seq = -1;
    b->pid = -1;
    b->epoch = -1;
    b->base_offset = -1;
    b->append_time = -1;
    return b;
}

static void batch_free(struct weir_producer *p, struct cl_batch *b)
{
    pool_give(p, b->bld.buf, b->buf_cap);
    b->bld.buf = NULL;
    b->next = p->free_batches;
    p->free_batches = b;
}

static bool recs_reserve(struct cl_batch *b)
{
    if ((uint32_t)b->bld.count < b->recs_cap) return true;
    uint32_t cap = b->recs_cap ? b->recs_cap * 2 : 64;
    struct cl_rec *recs = weir_realloc(b->recs, (size_t)cap * sizeof *recs);
    if (!recs) return false;
    b->recs = recs;
    b->recs_cap = cap;
    return true;
}

static void part_link_tail(struct cl_part *part, struct cl_batch *b)
{
    b->next = NULL;
    if (part->tail)
        part->tail->next = b;
    else
        part->head = b;
    part->tail = b;
}

void cl_part_unlink(struct cl_part *part, struct cl_batch *b)
{
    struct cl_batch *prev = NULL;
    for (struct cl_batch *q = part->head; q; prev = q, q = q->next) {
        if (q != b) continue;
        if (prev)
            prev->next = b->next;
        else
            part->head = b->next;
        if (part->tail == b) part->tail = prev;
        b->next = NULL;
        return;
    }
    WEIR_ASSERT(!"batch not in its partition queue");
}

void cl_part_requeue(struct cl_part *part, struct cl_batch *b, bool idempotent)
{
    b->state = CL_BATCH_SEALED;
    struct cl_batch *prev = NULL, *q = part->head;
    if (idempotent)
        while (q && q->state == CL_BATCH_SEALED && cl_seq_cmp(q->base_seq, b->base_seq) < 0) prev = q, q = q->next;
    b->next = q;
    if (prev)
        prev->next = b;
    else
        part->head = b;
    if (!q) part->tail = b;
}

bool cl_part_check(const struct cl_part *part, bool idempotent)
{
    int stage = 0; /* 0 sealed, 1 closed, 2 open */
    const struct cl_batch *last = NULL, *prev_sealed = NULL;
    for (const struct cl_batch *b = part->head; b; b = b->next) {
        int s = b->state == CL_BATCH_SEALED ? 0 : b->state == CL_BATCH_CLOSED ? 1 : b->state == CL_BATCH_OPEN ? 2 : 9;
        if (s == 9 || s < stage || (s == 2 && b->next)) return false;
        if (s == 0 && idempotent && prev_sealed && cl_seq_cmp(prev_sealed->base_seq, b->base_seq) >= 0) return false;
        if (s == 0) prev_sealed = b;
        if (b->part != part) return false;
        stage = s;
        last = b;
    }
    return last == part->tail;
}

/* ---- sealing ------------------------------------------------------------------------- */

int cl_batch_seal(struct weir_producer *p, struct cl_batch *b)
{
    (void)p;
    WEIR_ASSERT(b->len == 0 && b->bld.count > 0);
    size_t len = 0;
    enum weir_err e = weir_batch_builder_finish(&b->bld, b->pid, b->epoch, b->base_seq, &len);
    if (e == WEIR_E_TOO_LARGE && b->bld.codec != WEIR_CODEC_NONE) {
        /* Incompressible: the compressed records do not fit the buffer. Send them plain
         * (librdkafka also sends uncompressed when compression does not help). */
        b->bld.codec = WEIR_CODEC_NONE;
        e = weir_batch_builder_finish(&b->bld, b->pid, b->epoch, b->base_seq, &len);
    }
    if (e != WEIR_OK) return WEIR_CLIENT_E_NOMEM;
    WEIR_ASSERT(len <= b->buf_cap && len <= (size_t)INT32_MAX);
    b->len = len;
    return WEIR_CLIENT_OK;
}

void cl_batch_restamp(struct cl_batch *b, int64_t pid, int16_t epoch, int32_t base_seq)
{
    WEIR_ASSERT(b->len >= WEIR_BATCH_HEADER_BYTES);
    uint8_t *buf = b->bld.buf;
    weir_store_be64(buf + WEIR_BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    weir_store_be16(buf + WEIR_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    weir_store_be32(buf + WEIR_BATCH_OFF_BASE_SEQ, (uint32_t)base_seq);
    uint32_t crc = weir_crc32c(0, buf + WEIR_BATCH_OFF_ATTRS, b->len - WEIR_BATCH_OFF_ATTRS);
    weir_store_be32(buf + WEIR_BATCH_OFF_CRC, crc);
    b->pid = pid;
    b->epoch = epoch;
    b->base_seq = base_seq;
}

/* ---- completion ------------------------------------------------------------------------ */

void cl_batch_done(struct weir_producer *p, struct cl_batch *b, int err, int64_t base_offset, int64_t append_time)
{
    b->err = err;
    b->base_offset = err ? -1 : base_offset;
    b->append_time = err ? -1 : append_time;
    b->next = NULL;
    if (p->done_tail)
        p->done_tail->next = b;
    else
        p->done_head = b;
    p->done_tail = b;
}

static void batch_report(const struct cl_batch *b)
{
    struct weir_delivery d = {
        .topic = b->part->topic->name,
        .partition = b->part->id,
        .err = b->err,
        .attempts = b->attempts,
        .last_err = b->err == WEIR_CLIENT_E_MSG_TIMED_OUT ? b->last_err : 0,
    };
    for (int32_t i = 0; i < b->bld.count; i++) {
        const struct cl_rec *r = &b->recs[i];
        if (!r->on_delivery) continue;
        d.offset = b->base_offset >= 0 ? b->base_offset + i : -1;
        d.timestamp = b->append_time >= 0 ? b->append_time : r->timestamp;
        r->on_delivery(&d, r->opaque);
    }
}

void cl_done_run(struct weir_producer *p)
{
    pthread_mutex_lock(&p->lock);
    struct cl_batch *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    if (!list) return;
    for (struct cl_batch *b = list; b; b = b->next) batch_report(b);
    pthread_mutex_lock(&p->lock);
    while (list) {
        struct cl_batch *b = list;
        list = b->next;
        uint64_t n = (uint64_t)b->bld.count;
        WEIR_ASSERT(p->outstanding >= n);
        p->outstanding -= n;
        if (b->err)
            p->stats.records_failed += n;
        else
            p->stats.records_delivered += n;
        batch_free(p, b);
    }
    pthread_cond_broadcast(&p->cond_done);
    pthread_mutex_unlock(&p->lock);
}

/* ---- the send path --------------------------------------------------------------------- */

struct send_args {
    const struct weir_msg *m;
    int64_t ts;
    const struct weir_header *hdrs;
    int32_t n_hdrs;
    size_t rec_max;        /* worst-case bytes of the record in a batch */
    struct timespec deadline;
    bool wake;
};

static int msg_check(const struct weir_msg *m)
{
    if (!m || !m->topic || !*m->topic || strlen(m->topic) > KPROTO_STRING_MAX) return WEIR_CLIENT_E_INVALID_ARG;
    if (m->partition < WEIR_PARTITION_ANY) return WEIR_CLIENT_E_INVALID_ARG;
    if ((m->key && m->key_len > INT32_MAX) || (m->value && m->value_len > INT32_MAX)) return WEIR_CLIENT_E_INVALID_ARG;
    if (m->headers_count > INT32_MAX / 2 || (m->headers_count && !m->headers)) return WEIR_CLIENT_E_INVALID_ARG;
    for (size_t i = 0; i < m->headers_count; i++) {
        const struct weir_msg_header *h = &m->headers[i];
        if ((!h->key && h->key_len) || h->key_len > INT32_MAX || (h->value && h->value_len > INT32_MAX))
            return WEIR_CLIENT_E_INVALID_ARG;
    }
    return WEIR_CLIENT_OK;
}

static void headers_convert(const struct weir_msg *m, struct weir_header *out)
{
    for (size_t i = 0; i < m->headers_count; i++) {
        const struct weir_msg_header *h = &m->headers[i];
        out[i] = (struct weir_header){
            .key = (const uint8_t *)(h->key ? h->key : ""),
            .key_len = (int32_t)h->key_len,
            .value = h->value,
            .value_len = h->value ? (int32_t)h->value_len : -1,
        };
    }
}

/* A random available partition (leader known), other than `avoid` when there is a choice. */
static int32_t sticky_pick(struct weir_producer *p, const struct cl_topic *t, int32_t avoid)
{
    int32_t avail = 0;
    for (int32_t i = 0; i < t->n_parts; i++) avail += t->parts[i]->leader >= 0 && i != avoid;
    bool use_avail = avail > 0;
    int32_t n = use_avail ? avail : t->n_parts - (avoid >= 0 && t->n_parts > 1);
    p->rng ^= p->rng << 13, p->rng ^= p->rng >> 7, p->rng ^= p->rng << 17;
    int32_t k = (int32_t)(p->rng % (uint64_t)n);
    for (int32_t i = 0; i < t->n_parts; i++) {
        bool ok = use_avail ? t->parts[i]->leader >= 0 && i != avoid : (i != avoid || t->n_parts == 1);
        if (ok && k-- == 0) return i;
    }
    return 0;
}

/* Waits (lock held) until the topic's partition count is known. */
static int topic_wait(struct weir_producer *p, struct cl_topic *t, struct send_args *a)
{
    while (t->n_parts == 0) {
        if (t->err) return t->err;
        if (p->fatal_err) return WEIR_CLIENT_E_FATAL;
        if (p->closing) return WEIR_CLIENT_E_CLOSED;
        if (cl_on_sender_thread(p) || p->conf.hooks.offline || deadline_passed(&a->deadline))
            return WEIR_CLIENT_E_TIMED_OUT;
        cl_wake(p);
        pthread_cond_timedwait(&p->cond_meta, &p->lock, &a->deadline);
    }
    return WEIR_CLIENT_OK;
}

/* Appends to the OPEN tail of part. 1 = appended, 0 = no room (the tail is now
 * CLOSED, or there was no OPEN tail), < 0 = error. */
static int append_open(struct cl_part *part, struct send_args *a)
{
    struct cl_batch *b = part->tail;
    if (!b || b->state != CL_BATCH_OPEN) return 0;
    if (!recs_reserve(b)) return WEIR_CLIENT_E_NOMEM;
    const struct weir_msg *m = a->m;
    enum weir_err e = weir_batch_builder_add(&b->bld, a->ts, m->key, (int32_t)m->key_len, m->value,
                                             (int32_t)m->value_len, a->hdrs, a->n_hdrs);
    if (e == WEIR_E_TOO_LARGE) {
        b->state = CL_BATCH_CLOSED; /* full: ready now */
        a->wake = true;
        return 0;
    }
    if (e != WEIR_OK) return WEIR_CLIENT_E_INVALID_ARG;
    b->recs[b->bld.count - 1] = (struct cl_rec){ m->on_delivery, m->opaque, a->ts };
    return 1;
}

/* Opens a new batch at the tail of part and appends the record to it. */
static int append_new(struct weir_producer *p, struct cl_part *part, struct send_args *a, int64_t now)
{
    size_t cap = WEIR_MAX((size_t)p->conf.batch_size, WEIR_BATCH_HEADER_BYTES + a->rec_max);
    cap = WEIR_MIN(cap, (size_t)p->conf.message_max_bytes);
    cap = WEIR_MIN(cap, (size_t)p->conf.buffer_memory); /* batch.size > buffer.memory: never wait forever */
    int err = 0;
    uint8_t *buf = pool_take(p, cap, &a->deadline, &err);
    if (!buf) return err;
    /* pool_take may have waited: another send may have opened a batch meanwhile. */
    int r = append_open(part, a);
    if (r != 0) {
        pool_give(p, buf, cap);
        return r;
    }
    struct cl_batch *b = batch_new(p, part, buf, cap, now);
    if (!b || !recs_reserve(b)) {
        if (b) {
            b->next = p->free_batches;
            p->free_batches = b;
        }
        pool_give(p, buf, cap);
        return WEIR_CLIENT_E_NOMEM;
    }
    part_link_tail(part, b);
    a->wake = true; /* a new batch: the Sender's linger timer */
    r = append_open(part, a);
    WEIR_ASSERT(r == 1); /* cap holds the worst-case record */
    return r;
}

static int send_locked(struct weir_producer *p, struct send_args *a, int64_t now)
{
    const struct weir_msg *m = a->m;
    if (p->fatal_err) return WEIR_CLIENT_E_FATAL;
    if (p->closing) return WEIR_CLIENT_E_CLOSED;
    struct cl_topic *t = cl_topic_get(p, m->topic);
    if (!t) return WEIR_CLIENT_E_NOMEM;
    int err = topic_wait(p, t, a);
    if (err) return err;
    int32_t pidx;
    bool sticky = false;
    if (m->partition >= 0) {
        if (m->partition >= t->n_parts) return WEIR_CLIENT_E_UNKNOWN_PARTITION;
        pidx = m->partition;
    } else if (m->key) {
        pidx = weir_partition_for_key(m->key, m->key_len, t->n_parts);
    } else {
        if (t->sticky < 0 || t->sticky >= t->n_parts) t->sticky = sticky_pick(p, t, -1);
        pidx = t->sticky;
        sticky = true;
    }
    int r = append_open(t->parts[pidx], a);
    if (r == 0 && sticky && t->n_parts > 1) {
        /* KIP-480: a new batch is needed, so move the sticky partition on. */
        t->sticky = pidx = sticky_pick(p, t, pidx);
        r = append_open(t->parts[pidx], a);
    }
    if (r == 0) r = append_new(p, t->parts[pidx], a, now);
    if (r < 0) return r;
    p->outstanding++;
    p->stats.records_sent++;
    return WEIR_CLIENT_OK;
}

int cl_send(struct weir_producer *p, const struct weir_msg *m, int64_t now)
{
    int err = msg_check(m);
    if (err) return err;
    struct weir_header stack_hdrs[CL_HEADERS_STACK];
    struct weir_header *hdrs = stack_hdrs;
    if (m->headers_count > CL_HEADERS_STACK) {
        hdrs = weir_malloc(m->headers_count * sizeof *hdrs);
        if (!hdrs) return WEIR_CLIENT_E_NOMEM;
    }
    headers_convert(m, hdrs);
    struct send_args a = {
        .m = m,
        .ts = m->timestamp_ms ? m->timestamp_ms : weir_time_ms(),
        .hdrs = hdrs,
        .n_hdrs = (int32_t)m->headers_count,
        .deadline = deadline_in(p->conf.max_block_ms),
    };
    /* Worst case: the largest timestamp and offset deltas. */
    a.rec_max = weir_batch_record_size(INT64_MAX, INT32_MAX, m->key ? (int32_t)m->key_len : -1,
                                       m->value ? (int32_t)m->value_len : -1, hdrs, a.n_hdrs);
    if (WEIR_BATCH_HEADER_BYTES + a.rec_max > (size_t)p->conf.message_max_bytes ||
        (int64_t)(WEIR_BATCH_HEADER_BYTES + a.rec_max) > p->conf.buffer_memory) {
        err = WEIR_CLIENT_E_MSG_SIZE_TOO_LARGE;
    } else {
        pthread_mutex_lock(&p->lock);
        err = send_locked(p, &a, now);
        pthread_mutex_unlock(&p->lock);
        if (a.wake) cl_wake(p);
    }
    if (hdrs != stack_hdrs) weir_free(hdrs);
    return err;
}
