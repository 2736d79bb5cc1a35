/* net/handle_logdirs.c: DescribeLogDirs. One log directory (the data dir);
 * its partitions are those of the metadata this broker is a replica of, each
 * asked of its owner reactor (one ptask per partition) for the size of its
 * log. Offsets lag 0 and no future logs: weir has no intra-broker moves. */
#include "net_int.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/statvfs.h>

struct ld_slot {
    struct ptask pt;
    struct kdescribelogdirs_part *out; /* partition_size -1 until the owner answers: left out */
};

struct ld_state {
    struct kdescribelogdirs_req in;
    struct kdescribelogdirs_topic *topics;
    int32_t n_topics;
    int remaining;
};

static void ld_owner(struct reactor *r, struct ptask *pt)
{
    struct ld_slot *s = weir_container_of(pt, struct ld_slot, pt);
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (p) s->out->partition_size = (int64_t)weir_log_size_bytes(p->log);
    ptask_reply(r, pt);
}

/* Partitions whose log could not be opened are left out (Kafka lists the
 * logs it has), and so are topics left without one. */
static void ld_finish(struct request *req)
{
    struct ld_state *st = req->state;
    struct broker *b = req->c->r->b;
    int32_t n_topics = 0;
    for (int32_t i = 0; i < st->n_topics; i++) {
        struct kdescribelogdirs_topic t = st->topics[i];
        int32_t k = 0;
        for (int32_t j = 0; j < t.n_partitions; j++)
            if (t.partitions[j].partition_size >= 0) t.partitions[k++] = t.partitions[j];
        t.n_partitions = k;
        if (k) st->topics[n_topics++] = t;
    }
    char path[PATH_MAX];
    const char *log_dir = realpath(b->cfg.data_dir, path) ? path : b->cfg.data_dir;
    struct kdescribelogdirs_result res = { .log_dir = kstr_c(log_dir), .topics = st->topics, .n_topics = n_topics,
                                           .total_bytes = -1, .usable_bytes = -1 };
    struct statvfs vfs;
    if (statvfs(b->cfg.data_dir, &vfs) == 0) {
        res.total_bytes = (int64_t)((uint64_t)vfs.f_blocks * vfs.f_frsize);
        res.usable_bytes = (int64_t)((uint64_t)vfs.f_bavail * vfs.f_frsize);
    }
    response_begin(req);
    kproto_describelogdirs_encode(&req->out, req->hdr.api_version,
                                  &(struct kdescribelogdirs_resp){ .results = &res, .n_results = 1 });
    response_end(req);
    request_respond(req);
}

static void ld_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct ld_state *st = pt->req->state;
    if (--st->remaining == 0) ld_finish(pt->req);
}

/* Does this broker host (topic, p)? A replica of it in the metadata. */
static bool ld_hosted(struct weir_meta *m, const char *topic, int32_t p)
{
    struct weir_partition_info info;
    if (!weir_meta_partition(m, topic, p, &info)) return false;
    int32_t self = weir_meta_id_self(m);
    for (uint32_t i = 0; i < info.replicas_n && i < WEIR_REPLICAS_MAX; i++)
        if (info.replicas[i] == self) return true;
    return false;
}

/* One response topic: the hosted partitions of parts[0, n) (NULL: all of the
 * topic's), each sent to its owner. */
static enum weir_err ld_topic(struct request *req, struct ld_state *st, const char *topic, const int32_t *parts,
                              int32_t n)
{
    struct weir_meta *m = req->c->r->b->meta;
    int32_t count = weir_meta_topic_partitions(m, topic);
    if (count <= 0) return WEIR_OK;
    if (!parts) n = count;
    struct kdescribelogdirs_topic *t = &st->topics[st->n_topics];
    struct ld_slot *slots = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *slots);
    t->partitions = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(n, 1) * sizeof *t->partitions);
    if (!slots || !t->partitions) return WEIR_E_NOMEM;
    t->name = kstr_c(topic);
    t->n_partitions = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t p = parts ? parts[i] : i;
        bool dup = false;
        for (int32_t j = 0; j < t->n_partitions && !dup; j++) dup = t->partitions[j].partition_index == p;
        if (dup || p < 0 || p >= count || !ld_hosted(m, topic, p)) continue;
        struct kdescribelogdirs_part *out = &t->partitions[t->n_partitions++];
        *out = (struct kdescribelogdirs_part){ .partition_index = p, .partition_size = -1 };
        slots[i] = (struct ld_slot){ .pt = { .req = req, .topic = topic, .partition = p, .on_owner = ld_owner,
                                             .on_origin = ld_origin },
                                     .out = out };
        st->remaining++;
        ptask_send(&slots[i].pt);
    }
    st->n_topics++;
    return WEIR_OK;
}

static enum weir_err ld_dispatch(struct request *req, struct ld_state *st)
{
    struct weir_meta *m = req->c->r->b->meta;
    if (st->in.n_topics >= 0) {
        st->topics = weir_arena_alloc(&req->arena, (size_t)WEIR_MAX(st->in.n_topics, 1) * sizeof *st->topics);
        if (!st->topics) return WEIR_E_NOMEM;
        for (int32_t i = 0; i < st->in.n_topics; i++) {
            const struct kdescribelogdirs_req_topic *in = &st->in.topics[i];
            char *name = arena_strdup(&req->arena, in->topic);
            if (!name) return WEIR_E_NOMEM;
            enum weir_err err = ld_topic(req, st, name, in->partitions ? in->partitions : (int32_t[]){ 0 },
                                         in->n_partitions);
            if (err != WEIR_OK) return err;
        }
        return WEIR_OK;
    }
    size_t cap = 64, n;
    char **names = NULL;
    for (;;) { /* every topic; more may appear meanwhile */
        names = weir_calloc(cap, sizeof *names);
        if (!names) return WEIR_E_NOMEM;
        n = weir_meta_topics(m, names, cap);
        if (n <= cap) break;
        for (size_t i = 0; i < cap; i++) weir_free(names[i]);
        weir_free(names);
        cap = n;
    }
    enum weir_err err = WEIR_OK;
    st->topics = weir_arena_alloc(&req->arena, WEIR_MAX(n, (size_t)1) * sizeof *st->topics);
    if (!st->topics) err = WEIR_E_NOMEM;
    for (size_t i = 0; err == WEIR_OK && i < n; i++) {
        char *name = arena_strdup(&req->arena, kstr_c(names[i]));
        err = name ? ld_topic(req, st, name, NULL, 0) : WEIR_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) weir_free(names[i]);
    weir_free(names);
    return err;
}

void handle_describelogdirs(struct request *req)
{
    struct ld_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct ld_state){ 0 };
    if (err == WEIR_OK) err = kproto_describelogdirs_decode(&req->body, req->hdr.api_version, &req->arena, &st->in);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held while dispatching */
    err = ld_dispatch(req, st);
    if (err != WEIR_OK) kbuf_fail(&req->out, err);
    if (--st->remaining == 0) ld_finish(req);
}
