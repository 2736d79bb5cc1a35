/* net/handle_records.c: DeleteRecords (key 21): each partition's log start
 * offset moves up to the requested offset on its owner reactor
 * (weir_log_advance_start: durable, then whole segments below it are freed).
 * As Kafka's ReplicaManager.deleteRecordsOnLocalLog and
 * Partition.deleteRecordsOnLeader: an internal topic is refused
 * (INVALID_TOPIC_EXCEPTION), only the leader answers (NOT_LEADER_OR_FOLLOWER),
 * -1 means the high watermark, an offset above the high watermark or below 0
 * is OFFSET_OUT_OF_RANGE, an offset at or below the log start changes nothing;
 * the answer is the log start (low_watermark), -1 with an error.
 * Cluster mode: followers follow the leader's start from their next fetch
 * response (fetcher.c) and tell theirs in their next fetch; the answer is held
 * until every live replica's start has reached the offset (Kafka's
 * DelayedDeleteRecords: part_repl_delete_hold), low_watermark the minimum of
 * them, or 7 REQUEST_TIMED_OUT after the request's timeout_ms. */
#include "net_int.h"

struct dr_slot {
    struct ptask pt;
    int64_t offset;
    int32_t timeout_ms;
    struct repl_hold hold; /* after the leader's move: until the replicas' starts pass it */
    struct kdeleterecords_resp_part *out;
};

struct dr_state {
    struct kdeleterecords_req dr;
    struct kdeleterecords_resp_topic *topics;
    int remaining;
};

static void dr_finish(struct request *req)
{
    struct dr_state *st = req->state;
    response_begin(req);
    kproto_deleterecords_encode(&req->out, req->hdr.api_version,
                                &(struct kdeleterecords_resp){ .topics = st->topics, .n_topics = st->dr.n_topics });
    response_end(req);
    request_respond(req);
}

static void dr_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct dr_state *st = pt->req->state;
    if (--st->remaining == 0) dr_finish(pt->req);
}

/* Moves the partition's log start to *offset (-1: the HW, resolved into
 * *offset); 0 with its new log start, or a Kafka error code. */
static int16_t dr_move(struct part *p, int64_t *offset_io, int64_t *low_watermark)
{
    int64_t hw = weir_log_high_watermark(p->log), offset = *offset_io;
    if (offset == KPROTO_DELETE_RECORDS_HW) offset = hw;
    *offset_io = offset;
    if (offset < 0 || offset > hw) return WEIR_KERR_OFFSET_OUT_OF_RANGE;
    int64_t before = weir_log_start_offset(p->log);
    unsigned deleted = 0;
    enum weir_err err = weir_log_advance_start(p->log, offset, &deleted);
    if (err != WEIR_OK) return weir_kerr_from_err(err);
    *low_watermark = weir_log_start_offset(p->log);
    if (*low_watermark != before)
        weir_log(WEIR_LOG_INFO, "DeleteRecords %s-%d: log start %" PRId64 " -> %" PRId64 " (%u segment(s) deleted)",
                 p->topic, p->partition, before, *low_watermark, deleted);
    return 0;
}

static void dr_held_done(struct reactor *owner, struct repl_hold *h, int16_t error_code)
{
    struct dr_slot *s = weir_container_of(h, struct dr_slot, hold);
    s->pt.error_code = error_code;
    s->out->error_code = error_code;
    /* 7: the low watermark when it was held, as Kafka's; 6: none */
    s->out->low_watermark = error_code && error_code != WEIR_KERR_REQUEST_TIMED_OUT ? KPROTO_INVALID_LOW_WATERMARK
                                                                                    : h->low_watermark;
    ptask_reply(owner, &s->pt);
}

static void dr_owner(struct reactor *r, struct ptask *pt)
{
    struct dr_slot *s = weir_container_of(pt, struct dr_slot, pt);
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (p) pt->error_code = part_repl_serve_check(r, p, -1);
    int64_t low = KPROTO_INVALID_LOW_WATERMARK, offset = s->offset;
    if (p && !pt->error_code) pt->error_code = dr_move(p, &offset, &low);
    s->out->error_code = pt->error_code;
    s->out->low_watermark = pt->error_code ? KPROTO_INVALID_LOW_WATERMARK : low;
    if (pt->error_code) {
        ptask_reply(r, pt);
        return;
    }
    s->hold = (struct repl_hold){ .required_offset = offset, .timeout_ms = s->timeout_ms, .done = dr_held_done };
    part_repl_delete_hold(r, p, &s->hold);
}

/* Kafka's topic-level answers: a name that cannot exist, an internal topic. */
static int16_t dr_topic_check(const char *topic)
{
    if (!weir_topic_name_valid(topic)) return WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (!strcmp(topic, GROUP_OFFSETS_TOPIC)) return WEIR_KERR_INVALID_TOPIC_EXCEPTION;
    return 0;
}

static enum weir_err dr_dispatch(struct request *req, struct dr_state *st)
{
    for (int32_t t = 0; t < st->dr.n_topics; t++) {
        const struct kdeleterecords_req_topic *in = &st->dr.topics[t];
        size_t n = (size_t)(in->n_partitions ? in->n_partitions : 1);
        struct kdeleterecords_resp_part *parts = weir_arena_alloc(&req->arena, n * sizeof *parts);
        struct dr_slot *slots = weir_arena_alloc(&req->arena, n * sizeof *slots);
        char *topic = arena_strdup(&req->arena, in->name);
        if (!parts || !slots || !topic) return WEIR_E_NOMEM;
        st->topics[t] = (struct kdeleterecords_resp_topic){ in->name, parts, in->n_partitions };
        int16_t topic_error = dr_topic_check(topic);
        for (int32_t p = 0; p < in->n_partitions; p++) {
            parts[p] = (struct kdeleterecords_resp_part){ in->partitions[p].partition_index,
                                                          KPROTO_INVALID_LOW_WATERMARK, topic_error };
            if (topic_error) continue;
            slots[p] = (struct dr_slot){ .pt = { .req = req, .topic = topic, .partition = parts[p].partition_index,
                                                 .on_owner = dr_owner, .on_origin = dr_origin },
                                         .offset = in->partitions[p].offset,
                                         .timeout_ms = st->dr.timeout_ms,
                                         .out = &parts[p] };
            st->remaining++;
            ptask_send(&slots[p].pt);
        }
    }
    return WEIR_OK;
}

void handle_deleterecords(struct request *req)
{
    struct dr_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    enum weir_err err = st ? WEIR_OK : WEIR_E_NOMEM;
    if (st) *st = (struct dr_state){ 0 };
    if (err == WEIR_OK) err = kproto_deleterecords_decode(&req->body, req->hdr.api_version, &req->arena, &st->dr);
    if (err == WEIR_OK && st->dr.n_topics > 0) {
        st->topics = weir_arena_alloc(&req->arena, (size_t)st->dr.n_topics * sizeof *st->topics);
        if (!st->topics) err = WEIR_E_NOMEM;
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held while dispatching */
    err = dr_dispatch(req, st);
    if (err != WEIR_OK) kbuf_fail(&req->out, err);
    if (--st->remaining == 0) dr_finish(req);
}
