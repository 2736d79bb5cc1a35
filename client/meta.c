/* client/meta.c: the Sender's view of the cluster: bootstrap addresses, the
 * brokers and partition leaders from Metadata (v4-6, auto-creating topics as
 * the Java producer does), and the idempotent producer id (InitProducerId
 * v0-1, null transactional id). Metadata is asked for when a topic is new,
 * when a leader is unknown or failed us (NOT_LEADER_OR_FOLLOWER, transport
 * errors), at most once per retry.backoff.ms, and every metadata.max.age.ms. */
#include "client_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void wake_at(struct cl_sender *s, int64_t t)
{
    if (t < s->next_wake_ms) s->next_wake_ms = t;
}

/* ---- brokers --------------------------------------------------------------------- */

struct cl_broker *cl_broker_find(struct cl_sender *s, int32_t node_id)
{
    for (size_t i = 0; i < s->n_brokers; i++)
        if (s->brokers[i]->node_id == node_id) return s->brokers[i];
    return NULL;
}

static struct cl_broker *broker_add(struct cl_sender *s, int32_t node_id, const char *host, size_t host_len,
                                    int32_t port)
{
    if (s->n_brokers == s->brokers_cap) {
        size_t cap = s->brokers_cap ? s->brokers_cap * 2 : 8;
        struct cl_broker **a = weir_realloc(s->brokers, cap * sizeof *a);
        if (!a) return NULL;
        s->brokers = a;
        s->brokers_cap = cap;
    }
    struct cl_broker *b = weir_calloc(1, sizeof *b);
    char *h = weir_malloc(host_len + 1);
    if (!b || !h) {
        weir_free(b);
        weir_free(h);
        return NULL;
    }
    memcpy(h, host, host_len);
    h[host_len] = '\0';
    b->node_id = node_id;
    b->host = h;
    b->port = port;
    b->conn.broker = b;
    b->conn.fd = -1;
    b->conn.state = CL_CONN_DOWN;
    b->conn.apiv_version = 3;
    b->conn.v_produce = b->conn.v_metadata = b->conn.v_initpid = -1;
    b->conn.backoff_ms = CL_BACKOFF_MS_MIN;
    s->brokers[s->n_brokers++] = b;
    return b;
}

int cl_bootstrap_parse(struct cl_sender *s, const char *list, char *errbuf, size_t errbuf_size)
{
    int32_t id = -1;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        const char *colon = len ? memrchr(p, ':', len) : NULL;
        if (!colon || colon == p) {
            cl_errbuf(errbuf, errbuf_size, "invalid bootstrap.servers entry \"%.*s\"", (int)len, p);
            return WEIR_CLIENT_E_BAD_CONFIG;
        }
        const char *host = p;
        size_t host_len = (size_t)(colon - p);
        if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') host++, host_len -= 2;
        int32_t port = (int32_t)strtol(colon + 1, NULL, 10);
        if (!broker_add(s, id--, host, host_len, port)) {
            cl_errbuf(errbuf, errbuf_size, "out of memory");
            return WEIR_CLIENT_E_NOMEM;
        }
        if (!end) break;
        p = end + 1;
    }
    if (s->n_brokers == 0) {
        cl_errbuf(errbuf, errbuf_size, "bootstrap.servers is empty");
        return WEIR_CLIENT_E_BAD_CONFIG;
    }
    return WEIR_CLIENT_OK;
}

/* ---- Metadata -------------------------------------------------------------------------- */

static bool meta_due(struct cl_sender *s, int64_t now)
{
    struct weir_producer *p = s->p;
    pthread_mutex_lock(&p->lock);
    bool due = p->n_topics > 0 &&
               (s->meta_needed || p->topics_version != s->meta_topics_version || now >= s->meta_refresh_ms);
    pthread_mutex_unlock(&p->lock);
    return due;
}

static int meta_request(struct cl_sender *s, struct cl_conn *c, int64_t now)
{
    struct weir_producer *p = s->p;
    struct cl_req *r = cl_req_new(s, CL_REQ_METADATA, KAPI_METADATA, c->v_metadata);
    if (!r) return WEIR_CLIENT_E_NOMEM;
    weir_arena_reset(&s->scratch);
    pthread_mutex_lock(&p->lock);
    struct kstr *names = weir_arena_alloc(&s->scratch, (p->n_topics + 1) * sizeof *names);
    int32_t n = 0;
    for (uint32_t b = 0; names && b < CL_TOPIC_BUCKETS; b++)
        for (struct cl_topic *t = p->topics[b]; t; t = t->hnext) names[n++] = (struct kstr){ t->name, (int32_t)t->name_len };
    s->meta_topics_version = p->topics_version;
    pthread_mutex_unlock(&p->lock);
    if (!names) {
        cl_req_free(s, r);
        return WEIR_CLIENT_E_NOMEM;
    }
    /* Topic names are immutable and never freed while the producer lives. */
    struct kmetadata_req req = { .all_topics = false, .n_topics = n, .topics = names, .allow_auto_topic_creation = true };
    struct kframe f = cl_req_begin(s, r);
    kproto_metadata_request_encode(&r->kb, r->version, &req);
    return cl_conn_enqueue(s, c, r, &f, now);
}

void cl_meta_step(struct cl_sender *s, int64_t now)
{
    if (s->meta_inflight || !meta_due(s, now)) return;
    if (now < s->meta_next_ms) {
        wake_at(s, s->meta_next_ms);
        return;
    }
    struct cl_conn *c = cl_conn_any(s, now);
    if (!c) return; /* connecting: the connection's progress wakes us */
    if (meta_request(s, c, now) != WEIR_CLIENT_OK) return;
    s->meta_inflight = true;
    s->meta_needed = false;
    s->meta_next_ms = now + s->p->conf.retry_backoff_ms;
    s->meta_refresh_ms = now + s->p->conf.metadata_max_age_ms;
    pthread_mutex_lock(&s->p->lock);
    s->p->stats.metadata_requests++;
    pthread_mutex_unlock(&s->p->lock);
}

static void meta_brokers(struct cl_sender *s, const struct kmetadata_resp *resp)
{
    for (int32_t i = 0; i < resp->n_brokers; i++) {
        const struct kmetadata_broker *mb = &resp->brokers[i];
        if (mb->node_id < 0 || mb->host.len <= 0 || mb->port <= 0 || mb->port > 65535) continue;
        struct cl_broker *b = cl_broker_find(s, mb->node_id);
        if (!b) {
            if (!broker_add(s, mb->node_id, mb->host.ptr, (size_t)mb->host.len, mb->port))
                weir_log(WEIR_LOG_WARN, "producer: out of memory adding broker %" PRId32, mb->node_id);
            continue;
        }
        bool same = b->port == mb->port && strlen(b->host) == (size_t)mb->host.len &&
                    !memcmp(b->host, mb->host.ptr, (size_t)mb->host.len);
        if (same) continue;
        char *h = weir_malloc((size_t)mb->host.len + 1);
        if (!h) continue;
        memcpy(h, mb->host.ptr, (size_t)mb->host.len);
        h[mb->host.len] = '\0';
        weir_free(b->host);
        b->host = h; /* the next connect uses it */
        b->port = mb->port;
    }
}

/* Lock held. Returns true when the topic still needs metadata. */
static bool meta_topic(struct cl_sender *s, const struct kmetadata_topic *mt)
{
    struct weir_producer *p = s->p;
    char name[WEIR_KAFKA_NAME_MAX + 1];
    if (mt->name.len <= 0 || mt->name.len > WEIR_KAFKA_NAME_MAX) return false;
    memcpy(name, mt->name.ptr, (size_t)mt->name.len);
    name[mt->name.len] = '\0';
    struct cl_topic *t = cl_topic_find(p, name);
    if (!t) return false;
    if (mt->error_code != 0 || mt->n_partitions <= 0) {
        if (!cl_err_retriable(mt->error_code) && mt->error_code != 0 && t->n_parts == 0) {
            t->err = mt->error_code; /* e.g. INVALID_TOPIC_EXCEPTION: send() fails fast */
            pthread_cond_broadcast(&p->cond_meta);
            return false;
        }
        return true; /* LEADER_NOT_AVAILABLE after auto-create, UNKNOWN_TOPIC_OR_PARTITION, ... */
    }
    int32_t n = 0;
    for (int32_t i = 0; i < mt->n_partitions; i++) n = WEIR_MAX(n, mt->partitions[i].partition_index + 1);
    if (n > KPROTO_PARTITIONS_MAX || cl_topic_set_partitions(p, t, n) != WEIR_CLIENT_OK) return true;
    bool again = false;
    for (int32_t i = 0; i < mt->n_partitions; i++) {
        const struct kmetadata_part *mp = &mt->partitions[i];
        if (mp->partition_index < 0 || mp->partition_index >= t->n_parts) continue;
        int32_t leader = mp->leader_id >= 0 && cl_broker_find(s, mp->leader_id) ? mp->leader_id : -1;
        t->parts[mp->partition_index]->leader = leader;
        again |= leader < 0;
    }
    t->err = 0;
    pthread_cond_broadcast(&p->cond_meta);
    return again;
}

int cl_meta_response(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, struct weir_rd *rd)
{
    (void)c;
    struct weir_producer *p = s->p;
    struct kmetadata_resp resp;
    weir_arena_reset(&s->arena);
    if (kproto_metadata_response_decode(rd, r->version, &s->arena, &resp) != WEIR_OK) return WEIR_CLIENT_E_BAD_MSG;
    s->meta_inflight = false;
    if (resp.n_brokers == 0 && resp.n_topics == 0) { /* partial answer (librdkafka retries too) */
        s->meta_needed = true;
        return WEIR_CLIENT_OK;
    }
    meta_brokers(s, &resp);
    pthread_mutex_lock(&p->lock);
    bool again = false;
    for (int32_t i = 0; i < resp.n_topics; i++) again |= meta_topic(s, &resp.topics[i]);
    pthread_mutex_unlock(&p->lock);
    if (again) s->meta_needed = true;
    return WEIR_CLIENT_OK;
}

void cl_meta_request_lost(struct cl_sender *s, struct cl_req *r)
{
    if (r->kind == CL_REQ_METADATA) {
        s->meta_inflight = false;
        s->meta_needed = true;
    } else if (r->kind == CL_REQ_INITPID) {
        s->pid_inflight = false;
        if (s->pid_state == CL_PID_REQUESTING) s->pid_state = CL_PID_NONE;
        s->pid_next_ms = cl_now_ms(s->p) + s->p->conf.retry_backoff_ms;
    }
}

/* ---- InitProducerId -------------------------------------------------------------------- */

void cl_pid_step(struct cl_sender *s, int64_t now)
{
    struct weir_producer *p = s->p;
    if (!p->idempotent) return;
    if (s->pid_state == CL_PID_RESET && s->produce_inflight == 0) {
        weir_log(WEIR_LOG_INFO, "producer: requesting a new producer id (was %" PRId64 ")", s->pid);
        s->pid_state = CL_PID_NONE; /* every try is back: a new id, then renumber */
    }
    if (s->pid_state != CL_PID_NONE || s->pid_inflight) return;
    pthread_mutex_lock(&p->lock);
    bool wanted = p->n_topics > 0;
    pthread_mutex_unlock(&p->lock);
    if (!wanted) return;
    if (now < s->pid_next_ms) {
        wake_at(s, s->pid_next_ms);
        return;
    }
    struct cl_conn *c = cl_conn_any(s, now);
    if (!c) return;
    if (c->v_initpid < 0) {
        pthread_mutex_lock(&p->lock);
        cl_set_fatal(p, WEIR_CLIENT_E_UNSUPPORTED, "enable.idempotence: broker %s:%" PRId32 " has no InitProducerId",
                     c->broker->host, c->broker->port);
        pthread_mutex_unlock(&p->lock);
        s->pid_state = CL_PID_FATAL;
        return;
    }
    struct cl_req *r = cl_req_new(s, CL_REQ_INITPID, KAPI_INIT_PRODUCER_ID, c->v_initpid);
    if (!r) return;
    struct kinitproducerid_req req = { .transactional_id = KSTR_NULL, .transaction_timeout_ms = -1,
                                       .producer_id = -1, .producer_epoch = -1 };
    struct kframe f = cl_req_begin(s, r);
    kproto_initproducerid_request_encode(&r->kb, r->version, &req);
    if (cl_conn_enqueue(s, c, r, &f, now) != WEIR_CLIENT_OK) return;
    s->pid_inflight = true;
    s->pid_state = CL_PID_REQUESTING;
}

void cl_pid_renumber(struct cl_sender *s)
{
    struct weir_producer *p = s->p;
    for (size_t i = 0; i < p->n_parts; i++) {
        struct cl_part *part = p->parts[i];
        WEIR_ASSERT(part->inflight == 0);
        int32_t seq = 0;
        for (struct cl_batch *b = part->head; b; b = b->next) {
            if (!b->sequenced) continue;
            WEIR_ASSERT(b->state == CL_BATCH_SEALED);
            if (b->len)
                cl_batch_restamp(b, s->pid, s->epoch, seq);
            else
                b->pid = s->pid, b->epoch = s->epoch, b->base_seq = seq;
            seq = cl_seq_add(seq, b->bld.count);
        }
        part->next_seq = seq;
        part->next_ack_seq = 0;
        part->draining = false;
    }
}

int cl_pid_response(struct cl_sender *s, struct cl_conn *c, struct cl_req *r, struct weir_rd *rd)
{
    (void)c;
    struct weir_producer *p = s->p;
    struct kinitproducerid_resp resp;
    weir_arena_reset(&s->arena);
    if (kproto_initproducerid_response_decode(rd, r->version, &s->arena, &resp) != WEIR_OK)
        return WEIR_CLIENT_E_BAD_MSG;
    s->pid_inflight = false;
    int64_t now = cl_now_ms(p);
    if (resp.error_code != 0 || resp.producer_id < 0) {
        if (resp.error_code == 0 || cl_err_retriable(resp.error_code)) {
            s->pid_state = CL_PID_NONE;
            s->pid_next_ms = now + p->conf.retry_backoff_ms;
            return WEIR_CLIENT_OK;
        }
        pthread_mutex_lock(&p->lock);
        cl_set_fatal(p, resp.error_code, "InitProducerId failed: %s", weir_client_err_str(resp.error_code));
        pthread_mutex_unlock(&p->lock);
        s->pid_state = CL_PID_FATAL;
        return WEIR_CLIENT_OK;
    }
    bool renumber = s->pid >= 0;
    s->pid = resp.producer_id;
    s->epoch = resp.producer_epoch;
    s->pid_state = CL_PID_OK;
    pthread_mutex_lock(&p->lock);
    if (renumber) cl_pid_renumber(s);
    p->stats.pid_inits++;
    pthread_mutex_unlock(&p->lock);
    weir_log(WEIR_LOG_DEBUG, "producer: producer id %" PRId64 " epoch %d", s->pid, s->epoch);
    return WEIR_CLIENT_OK;
}
