/* client/consumer.c: the consumer's application side (client.h): life cycle,
 * assign/seek/position, and poll, which turns queued chunks of Fetch
 * responses into records one batch at a time (crecords.c) and hands them out.
 * The fetch thread (fetcher.c) fills the queue.
 *
 * Invariants (under c->lock):
 *  (1) a chunk in the queue, the poller's `cur` chunk and every planned fetch
 *      hold one reference on their cpart; an assigned cpart holds one more;
 *      a cpart is freed at 0 refs (it is then unassigned).
 *  (2) c->queued_bytes is the sum over queued and current DATA chunks of the
 *      bytes not yet decoded, and equals the sum of the cparts' queued_bytes.
 *  (3) data of a partition is handed out only while the chunk's epoch equals
 *      the cpart's: a seek or an assign bumps or retires it, so nothing
 *      fetched for an older position leaks out.
 *  (4) within a partition, chunks are queued in offset order, and the poller
 *      hands out offsets >= app_pos only, raising app_pos past each. */
#include "wire_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* A stand-alone event (EOF, error): the record and its text in one allocation. */
struct cevent {
    struct crec rec;
    char errstr[CW_ERRBUF];
};

/* ---- parts and chunks (lock held) -------------------------------------------------------- */

void cw_cpart_unref(struct weir_consumer *c, struct cpart *p)
{
    (void)c;
    WEIR_ASSERT(p->refs > 0);
    if (--p->refs == 0) {
        WEIR_ASSERT(!p->assigned && p->queued_bytes == 0);
        weir_free(p);
    }
}

static void chunk_free(struct weir_consumer *c, struct cchunk *ch)
{
    if (ch->kind == CC_DATA && ch->pos < ch->len) {
        size_t left = ch->len - ch->pos;
        ch->part->queued_bytes -= left;
        c->queued_bytes -= left;
        pthread_cond_signal(&c->cond_work);
    }
    cw_frame_unref(ch->frame);
    if (ch->part) cw_cpart_unref(c, ch->part);
    weir_free(ch);
}

void cw_queue_push(struct weir_consumer *c, struct cchunk *ch)
{
    ch->next = NULL;
    if (c->tail) c->tail->next = ch;
    else c->head = ch;
    c->tail = ch;
    if (ch->kind == CC_DATA) {
        ch->part->queued_bytes += ch->len;
        c->queued_bytes += ch->len;
    }
    pthread_cond_broadcast(&c->cond_data);
}

/* Drops queued chunks of `p` (every partition when NULL). */
static void queue_purge(struct weir_consumer *c, struct cpart *p)
{
    struct cchunk **link = &c->head;
    c->tail = NULL;
    while (*link) {
        struct cchunk *ch = *link;
        if (!p || ch->part == p) {
            *link = ch->next;
            chunk_free(c, ch);
        } else {
            c->tail = ch;
            link = &ch->next;
        }
    }
}

void cw_queue_error(struct weir_consumer *c, struct cpart *p, int64_t offset, int err, const char *fmt, ...)
{
    struct cchunk *ch = weir_calloc(1, sizeof *ch);
    if (!ch) return; /* out of memory: the error is lost, the consumer goes on */
    ch->kind = CC_ERROR;
    ch->part = p;
    if (p) {
        p->refs++;
        ch->epoch = p->epoch;
    }
    ch->offset = offset;
    ch->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ch->errstr, sizeof ch->errstr, fmt, ap);
    va_end(ap);
    cw_queue_push(c, ch);
}

/* The interned copy of a topic name (lives until destroy); NULL when out of memory. */
static const char *topic_intern(struct weir_consumer *c, const char *name)
{
    for (size_t i = 0; i < c->n_topics; i++)
        if (!strcmp(c->topics[i], name)) return c->topics[i];
    if (c->n_topics == c->topics_cap) {
        size_t cap = c->topics_cap ? 2 * c->topics_cap : 8;
        char **t = weir_realloc(c->topics, cap * sizeof *t);
        if (!t) return NULL;
        c->topics = t;
        c->topics_cap = cap;
    }
    char *dup = weir_strdup(name);
    if (dup) c->topics[c->n_topics++] = dup;
    return dup;
}

static struct cpart *part_find(struct weir_consumer *c, const char *topic, int32_t partition)
{
    for (struct cpart *p = c->parts; p; p = p->next)
        if (p->id == partition && !strcmp(p->topic, topic)) return p;
    return NULL;
}

/* Sets where p starts (or restarts): a logical position to look up, or an offset. */
static void part_start(struct cpart *p, const struct weir_partition_start *s)
{
    p->epoch++;
    p->hwm = -1;
    p->eof_at = -1;
    p->last_err = 0;
    p->retry_at_ms = 0;
    if (s->offset >= 0) {
        p->state = CP_ACTIVE;
        p->fetch_pos = p->app_pos = s->offset;
    } else if (s->offset == CW_OFFSET_RESET_ERROR) {
        p->state = CP_PAUSED; /* the caller queues the error */
        p->fetch_pos = p->app_pos = -1;
    } else {
        p->state = CP_NEED_OFFSET;
        p->logical = s->offset;
        p->ts = s->timestamp_ms;
        p->fetch_pos = p->app_pos = -1;
    }
}

static bool start_valid(const struct weir_partition_start *s)
{
    return s->topic && s->topic[0] && s->partition >= 0 &&
           (s->offset >= 0 || s->offset == WEIR_OFFSET_END || s->offset == WEIR_OFFSET_BEGINNING ||
            s->offset == WEIR_OFFSET_TIMESTAMP);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static int consumer_init_sync(struct weir_consumer *c)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca)) return -1;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_mutex_init(&c->lock, NULL);
    rc |= pthread_mutex_init(&c->poll_lock, NULL);
    rc |= pthread_cond_init(&c->cond_data, &ca);
    rc |= pthread_cond_init(&c->cond_work, &ca);
    pthread_condattr_destroy(&ca);
    return rc ? -1 : 0;
}

struct weir_consumer *weir_consumer_new(const struct weir_consumer_conf *conf, char *errbuf, size_t errbuf_size)
{
    if (!conf || !conf->bootstrap_servers) {
        cw_errf(errbuf, errbuf_size, "bootstrap.servers is not set");
        return NULL;
    }
    struct weir_consumer *c = weir_calloc(1, sizeof *c);
    if (!c || cw_cconf_copy(&c->conf, conf) != 0) {
        weir_free(c);
        cw_errf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    c->wake_fd = -1;
    c->g.wake_fd = -1;
    kbuf_init(&c->kb, 0);
    const char *why = NULL;
    if (consumer_init_sync(c) != 0) why = "cannot initialize locks";
    else if (weir_arena_init_growable(&c->arena, 64 << 10, (size_t)1 << 30) != WEIR_OK) why = "out of memory";
    else if ((c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) why = "eventfd failed";
    if (!why && cw_group_start(c) != 0) why = "cannot start the group thread";
    if (!why) {
        cw_conn_init(&c->boot, c->conf.client_id);
        c->boot.wake_fd = c->wake_fd;
        int err = pthread_create(&c->thread, NULL, cw_fetch_main, c);
        if (err == 0) c->thread_started = true;
        else why = "cannot start the fetch thread";
    }
    if (why) {
        cw_errf(errbuf, errbuf_size, "%s", why);
        weir_consumer_destroy(c);
        return NULL;
    }
    return c;
}

void weir_consumer_close(struct weir_consumer *c)
{
    if (!c) return;
    cw_group_stop(c); /* first: the last commit and the revoke need the assignment */
    pthread_mutex_lock(&c->lock);
    bool was = c->stop;
    c->stop = true;
    pthread_cond_broadcast(&c->cond_work);
    pthread_cond_broadcast(&c->cond_data);
    pthread_mutex_unlock(&c->lock);
    if (!was && c->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(c->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
            weir_log(WEIR_LOG_WARN, "consumer: eventfd write: %s", strerror(errno));
    }
    if (c->thread_started) {
        pthread_join(c->thread, NULL);
        c->thread_started = false;
    }
    pthread_mutex_lock(&c->poll_lock);
    pthread_mutex_lock(&c->lock);
    if (c->cur) chunk_free(c, c->cur);
    c->cur = NULL;
    cw_cbatch_unref(c->cur_batch);
    c->cur_batch = NULL;
    queue_purge(c, NULL);
    while (c->parts) {
        struct cpart *p = c->parts;
        c->parts = p->next;
        p->assigned = false;
        cw_cpart_unref(c, p);
    }
    c->closed = true;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->poll_lock);
}

void weir_consumer_destroy(struct weir_consumer *c)
{
    if (!c) return;
    weir_consumer_close(c);
    while (c->brokers) {
        struct cbroker *b = c->brokers;
        c->brokers = b->next;
        cw_close(&b->conn);
        weir_free(b);
    }
    cw_close(&c->boot);
    cw_group_free(c);
    for (size_t i = 0; i < c->n_topics; i++) weir_free(c->topics[i]);
    weir_free(c->topics);
    weir_free(c->plan);
    weir_arena_destroy(&c->arena);
    kbuf_free(&c->kb);
    if (c->wake_fd >= 0) close(c->wake_fd);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->poll_lock);
    pthread_cond_destroy(&c->cond_data);
    pthread_cond_destroy(&c->cond_work);
    cw_cconf_free_strings(&c->conf);
    weir_free(c);
}

/* ---- assign, seek, position ------------------------------------------------------------------ */

static int assign_check(const struct weir_partition_start *parts, size_t n)
{
    if (n > 0 && !parts) return WEIR_CLIENT_E_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        if (!start_valid(&parts[i])) return WEIR_CLIENT_E_INVALID_ARG;
        for (size_t j = 0; j < i; j++)
            if (parts[j].partition == parts[i].partition && !strcmp(parts[j].topic, parts[i].topic))
                return WEIR_CLIENT_E_INVALID_ARG;
    }
    return 0;
}

int weir_consumer_assign(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n)
{
    if (!c) return WEIR_CLIENT_E_INVALID_ARG;
    int rc = assign_check(parts, n);
    if (rc != 0) return rc;
    /* Not while the group holds its assignment (state not CG_IDLE until its
     * revoke ran): the group thread's revoke would replace this assignment
     * with none. Once weir_consumer_unsubscribe returned the state is
     * CG_IDLE (cw_group_leave_wait), unless it was called in a callback. */
    pthread_mutex_lock(&c->lock);
    bool subscribed = c->g.n_sub > 0 || c->g.state != CG_IDLE;
    pthread_mutex_unlock(&c->lock);
    return subscribed ? WEIR_CLIENT_E_STATE : cw_assign(c, parts, n);
}

int cw_assign(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n)
{
    return cw_assign_change(c, parts, n, NULL, 0, true);
}

int cw_assign_change(struct weir_consumer *c, const struct weir_partition_start *parts, size_t n,
                     const struct weir_topic_partition *drop, size_t n_drop, bool replace)
{
    int rc = 0;
    struct cpart *list = NULL, **tail = &list;
    pthread_mutex_lock(&c->lock);
    if (c->stop && !c->g.stop) rc = WEIR_CLIENT_E_CLOSED;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct cpart *p = weir_calloc(1, sizeof *p);
        const char *topic = p ? topic_intern(c, parts[i].topic) : NULL;
        if (!topic) {
            weir_free(p);
            rc = WEIR_CLIENT_E_NOMEM;
            break;
        }
        p->topic = topic;
        p->id = parts[i].partition;
        p->refs = 1;
        p->assigned = true;
        p->leader = -1;
        p->committed = -1;
        part_start(p, &parts[i]);
        if (parts[i].offset == CW_OFFSET_RESET_ERROR)
            cw_queue_error(c, p, -1, WEIR_KERR_OFFSET_OUT_OF_RANGE,
                           "%s [%d]: no committed offset and auto.offset.reset is error: paused until a seek", p->topic,
                           (int)p->id);
        *tail = p;
        tail = &p->next;
    }
    if (rc != 0) {
        while (list) {
            struct cpart *p = list;
            list = p->next;
            weir_free(p);
        }
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    for (struct cpart **pp = &c->parts; *pp;) {
        struct cpart *p = *pp;
        bool gone = replace;
        for (size_t i = 0; i < n_drop && !gone; i++) gone = p->id == drop[i].partition && !strcmp(p->topic, drop[i].topic);
        if (!gone) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        p->assigned = false;
        queue_purge(c, p);
        cw_cpart_unref(c, p);
    }
    *tail = c->parts; /* kept ones after the new */
    c->parts = list;
    c->work_gen++;
    pthread_cond_broadcast(&c->cond_work);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int weir_consumer_seek(struct weir_consumer *c, const struct weir_partition_start *pos)
{
    if (!c || !pos || !start_valid(pos)) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    struct cpart *p = part_find(c, pos->topic, pos->partition);
    if (p) {
        part_start(p, pos);
        queue_purge(c, p);
        c->work_gen++;
        pthread_cond_broadcast(&c->cond_work);
    }
    pthread_mutex_unlock(&c->lock);
    return p ? 0 : WEIR_CLIENT_E_UNKNOWN_PARTITION;
}

int weir_consumer_position(struct weir_consumer *c, const char *topic, int32_t partition, int64_t *offset)
{
    if (!c || !topic || !offset) return WEIR_CLIENT_E_INVALID_ARG;
    pthread_mutex_lock(&c->lock);
    struct cpart *p = part_find(c, topic, partition);
    if (p) *offset = p->state == CP_NEED_OFFSET ? -1 : p->app_pos;
    pthread_mutex_unlock(&c->lock);
    return p ? 0 : WEIR_CLIENT_E_UNKNOWN_PARTITION;
}

int cw_positions(struct weir_consumer *c, enum cw_pos which, struct weir_topic_partition **out, size_t *n)
{
    size_t k = 0, cap = 0;
    for (struct cpart *p = c->parts; p; p = p->next) cap++;
    *out = NULL;
    *n = 0;
    if (cap == 0) return 0;
    struct weir_topic_partition *v = weir_calloc(cap, sizeof *v);
    if (!v) return WEIR_CLIENT_E_NOMEM;
    for (struct cpart *p = c->parts; p; p = p->next) {
        bool known = p->state != CP_NEED_OFFSET && p->app_pos >= 0;
        if (which != CW_POS_ALL && !known) continue;
        if (which == CW_POS_MOVED && p->app_pos == p->committed) continue;
        char *topic = weir_strdup(p->topic);
        if (!topic) {
            weir_consumer_partitions_free(v, k);
            return WEIR_CLIENT_E_NOMEM;
        }
        v[k++] = (struct weir_topic_partition){ topic, p->id, known ? p->app_pos : -1, 0 };
    }
    if (k == 0) {
        weir_free(v);
        return 0;
    }
    *out = v;
    *n = k;
    return 0;
}

/* ---- poll ------------------------------------------------------------------------------------------ */

static struct weir_consumer_record *event_new(const struct cchunk *ch, enum weir_event ev)
{
    struct cevent *e = weir_calloc(1, sizeof *e);
    if (!e) return NULL;
    struct weir_consumer_record *r = &e->rec.pub;
    r->event = ev;
    r->topic = ch->part ? ch->part->topic : "";
    r->partition = ch->part ? ch->part->id : -1;
    r->offset = ch->offset;
    if (ev == WEIR_EVENT_ERROR) {
        r->err = ch->err;
        snprintf(e->errstr, sizeof e->errstr, "%s", ch->errstr);
        r->errstr = e->errstr;
    }
    return r;
}

/* Lock held: is the poller's chunk still current (partition assigned, same epoch)? */
static bool cur_valid(const struct weir_consumer *c)
{
    return c->cur && c->cur->part && c->cur->part->assigned && c->cur->epoch == c->cur->part->epoch;
}

/* The next record of the current batch, or NULL when it is used up / stale. */
static struct weir_consumer_record *next_from_batch(struct weir_consumer *c)
{
    struct cbatch *b = c->cur_batch;
    struct weir_consumer_record *r = NULL;
    pthread_mutex_lock(&c->lock);
    if (cur_valid(c) && b->next < b->n) {
        struct crec *rec = &b->recs[b->next++];
        atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
        c->cur->part->app_pos = rec->pub.offset + 1;
        r = &rec->pub;
    }
    pthread_mutex_unlock(&c->lock);
    if (!r) {
        cw_cbatch_unref(b);
        c->cur_batch = NULL;
    }
    return r;
}

/* Text for a batch the poller cannot hand out. */
static int batch_err_kafka(enum weir_err err, const char **what)
{
    switch (err) {
    case WEIR_E_UNSUPPORTED: *what = "not a Kafka compression codec (attributes 5-7)"; return 76;
    case WEIR_E_CRC: *what = "CRC-32C mismatch"; return 2;
    case WEIR_E_NOMEM: *what = "out of memory"; return WEIR_CLIENT_E_NOMEM;
    case WEIR_E_TOO_LARGE: *what = "decompresses to more than 256 MiB"; return 2;
    default: *what = weir_err_text(err); return 2;
    }
}

/* Decodes the next batch of the current chunk into c->cur_batch; returns an
 * error event when that batch cannot be read (it is skipped). */
static struct weir_consumer_record *decode_next(struct weir_consumer *c)
{
    struct cchunk *ch = c->cur;
    const uint8_t *p = ch->p + ch->pos;
    size_t left = ch->len - ch->pos;
    size_t total = left; /* a batch with a bad length takes the rest of the chunk */
    if (left >= WEIR_BATCH_HEADER_BYTES) {
        int32_t length = (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LENGTH);
        if (length >= WEIR_BATCH_HEADER_BYTES - WEIR_BATCH_LOG_OVERHEAD && (size_t)length + WEIR_BATCH_LOG_OVERHEAD <= left)
            total = WEIR_BATCH_LOG_OVERHEAD + (size_t)length;
    }
    pthread_mutex_lock(&c->lock);
    int64_t from = ch->part->app_pos;
    ch->pos += total;
    ch->part->queued_bytes -= total;
    c->queued_bytes -= total;
    pthread_cond_signal(&c->cond_work);
    pthread_mutex_unlock(&c->lock);

    struct cbatch *b = NULL;
    enum weir_err err = cw_batch_decode(p, total, from, c->conf.check_crcs, ch->part->topic, ch->part->id, ch->frame, &b);
    if (err == WEIR_OK) {
        c->cur_batch = b;
        return NULL;
    }
    int64_t base = left >= 8 ? (int64_t)weir_load_be64(p) : -1;
    int64_t next = -1;
    if (left >= WEIR_BATCH_HEADER_BYTES) next = base + (int32_t)weir_load_be32(p + WEIR_BATCH_OFF_LAST_DELTA) + 1;
    pthread_mutex_lock(&c->lock);
    if (next > ch->part->app_pos && cur_valid(c)) ch->part->app_pos = next; /* skipped */
    pthread_mutex_unlock(&c->lock);
    const char *what;
    struct cchunk ev = { .part = ch->part, .offset = base, .err = batch_err_kafka(err, &what) };
    snprintf(ev.errstr, sizeof ev.errstr, "%s [%d]: record batch at offset %lld skipped: %s", ch->part->topic,
             (int)ch->part->id, (long long)base, what);
    return event_new(&ev, WEIR_EVENT_ERROR);
}

/* Pops the next chunk: DATA becomes c->cur; EOF and ERROR become an event. */
static struct weir_consumer_record *take_chunk(struct weir_consumer *c, bool *empty)
{
    pthread_mutex_lock(&c->lock);
    struct cchunk *ch = c->head;
    *empty = !ch;
    if (!ch) {
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    c->head = ch->next;
    if (!c->head) c->tail = NULL;
    struct weir_consumer_record *r = NULL;
    bool valid = !ch->part || (ch->part->assigned && ch->epoch == ch->part->epoch);
    if (ch->kind == CC_DATA && valid) {
        c->cur = ch;
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    if (valid) r = event_new(ch, ch->kind == CC_EOF ? WEIR_EVENT_PARTITION_EOF : WEIR_EVENT_ERROR);
    chunk_free(c, ch);
    pthread_mutex_unlock(&c->lock);
    return r;
}

/* One step towards the next record; NULL with *empty when nothing is queued. */
static struct weir_consumer_record *poll_step(struct weir_consumer *c, bool *empty)
{
    *empty = false;
    if (c->cur_batch) return next_from_batch(c);
    if (c->cur) {
        pthread_mutex_lock(&c->lock);
        bool more = cur_valid(c) && c->cur->pos < c->cur->len;
        if (!more) {
            chunk_free(c, c->cur);
            c->cur = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        return more ? decode_next(c) : NULL;
    }
    return take_chunk(c, empty);
}

struct weir_consumer_record *weir_consumer_poll(struct weir_consumer *c, int timeout_ms)
{
    if (!c) return NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms > 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) deadline.tv_sec++, deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&c->poll_lock);
    struct weir_consumer_record *r = NULL;
    for (;;) {
        cw_group_poll(c);
        bool empty = true;
        pthread_mutex_lock(&c->lock);
        bool gated = c->g.gate;
        pthread_mutex_unlock(&c->lock);
        r = c->closed || gated ? NULL : poll_step(c, &empty);
        if (r || c->closed) break;
        if (!empty) continue;
        pthread_mutex_lock(&c->lock);
        int rc = 0;
        while ((!c->head || c->g.gate) && !c->stop && rc == 0 && timeout_ms != 0 && !(c->g.cb && !c->g.cb->taken)) {
            if (timeout_ms < 0) pthread_cond_wait(&c->cond_data, &c->lock);
            else rc = pthread_cond_timedwait(&c->cond_data, &c->lock, &deadline);
        }
        bool give_up = (!c->head || c->g.gate) && !(c->g.cb && !c->g.cb->taken);
        pthread_mutex_unlock(&c->lock);
        if (give_up) break;
    }
    pthread_mutex_unlock(&c->poll_lock);
    return r;
}

void weir_consumer_record_release(struct weir_consumer_record *r)
{
    if (!r) return;
    struct crec *rec = (struct crec *)r;
    if (rec->owner) cw_cbatch_unref(rec->owner);
    else weir_free(weir_container_of(rec, struct cevent, rec));
}
