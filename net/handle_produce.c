/* net/handle_produce.c: Produce. Each partition's batch goes to its owner's
 * log as one append; the response is built when every append has completed
 * (after its fdatasync when the topic's flush policy asks). acks=0 sends no
 * response, and closes the connection on an error, as Kafka does. Idempotent
 * sequence checks run in the engine, on the owner, where appends are ordered.
 * Cluster mode: only the leader appends (else 6); acks=all is refused before
 * the append when the ISR is below min.insync.replicas (19), and after it is
 * held on the owner until the high watermark passes the batch (repl_part.c). */
#include "net_int.h"

#include <stdio.h>


struct produce_slot {
    struct ptask pt;
    struct reactor *owner;
    struct weir_append app;
    uint8_t *records;
    int32_t records_len;
    int64_t base_offset, log_start;
    struct kproduce_resp_part *out;
    int16_t acks;
    int32_t timeout_ms, min_insync;
    struct repl_hold hold;       /* cluster mode, acks=all: after the append */
    uint8_t *converted;          /* a legacy set's up-converted batch (records), freed at the reply */
    struct keyless *keyless;     /* INVALID_RECORD of a compacted topic: the records without a key */
};

/* Kafka's RecordValidationException of a compacted topic's records without
 * a key: one RecordError per such record (its index in the batch), all with
 * the same text. Built on the owner (weir_malloc), copied to the request's
 * arena and freed on the origin. */
struct keyless {
    int32_t n;
    int32_t *index;
    char message[384]; /* "Compacted topic cannot accept message without key in topic partition <t>-<p>" */
};

struct produce_state {
    struct kproduce_req pr;
    struct kproduce_resp_topic *topics;
    int remaining;
};

static void produce_finish(struct request *req)
{
    struct produce_state *st = req->state;
    bool failed = false;
    for (int32_t t = 0; t < st->pr.n_topics; t++)
        for (int32_t p = 0; p < st->topics[t].n_partitions; p++) {
            failed |= st->topics[t].partitions[p].error_code != 0;
            metrics_request_error(req, st->topics[t].partitions[p].error_code);
        }
    if (st->pr.acks == 0) {
        req->no_response = true;
        req->close_after = failed; /* the producer's only way to learn of it */
    } else {
        response_begin(req);
        kproto_produce_encode(&req->out, req->hdr.api_version,
                              &(struct kproduce_resp){ .topics = st->topics, .n_topics = st->pr.n_topics });
        response_end(req);
    }
    request_respond(req);
}

/* v8+ record_errors and error_message of a compacted topic's keyless records,
 * with Kafka's texts (LogValidator.validateKey, processRecordErrors, and
 * RecordError's and List's toString). Nothing when the arena is full. */
static void keyless_answer(struct request *req, struct produce_slot *s)
{
    const struct keyless *k = s->keyless;
    struct kproduce_record_error *e = weir_arena_alloc(&req->arena, (size_t)k->n * sizeof *e);
    size_t cap = 256 + 3 * (sizeof k->message + 48);
    char *m = weir_arena_alloc(&req->arena, cap);
    /* The answer is encoded after keyless_free: its texts live in the arena. */
    char *one = arena_strdup(&req->arena, (struct kstr){ k->message, (int32_t)strlen(k->message) });
    if (!e || !m || !one) return;
    struct kstr text = { one, (int32_t)strlen(one) };
    for (int32_t i = 0; i < k->n; i++) e[i] = (struct kproduce_record_error){ k->index[i], text };
    int n = snprintf(m, cap, "One or more records have been rejected due to %d record errors in total, and only "
                     "showing the first three errors at most: [", (int)k->n);
    for (int32_t i = 0; i < k->n && i < 3 && n > 0 && (size_t)n < cap; i++)
        n += snprintf(m + n, cap - (size_t)n, "%sRecordError(batchIndex=%d, message='%s')", i ? ", " : "",
                      (int)k->index[i], k->message);
    if (n <= 0 || (size_t)n + 2 > cap) return;
    m[n++] = ']';
    m[n] = '\0';
    s->out->record_errors = e;
    s->out->n_record_errors = k->n;
    s->out->error_message = (struct kstr){ m, n };
}

static void keyless_free(struct produce_slot *s)
{
    if (!s->keyless) return;
    weir_free(s->keyless->index);
    weir_free(s->keyless);
    s->keyless = NULL;
}

static void produce_origin(struct reactor *r, struct ptask *pt)
{
    (void)r;
    struct produce_slot *s = weir_container_of(pt, struct produce_slot, pt);
    struct produce_state *st = pt->req->state;
    weir_free(s->converted); /* the owner is done with the batch */
    s->converted = NULL;
    s->out->error_code = pt->error_code;
    /* v8+: Kafka sends a message only for record-level errors (its
     * RecordValidationException); for the others ours is the code's default
     * one, but INVALID_RECORD of a whole batch goes without, as Kafka's. */
    if (pt->error_code && pt->error_code != WEIR_KERR_INVALID_RECORD)
        s->out->error_message = kstr_c(weir_kerr_message(pt->error_code));
    if (pt->error_code == WEIR_KERR_INVALID_RECORD && s->keyless) keyless_answer(pt->req, s);
    keyless_free(s);
    /* A success always names the batch's offset (the original's for a retry):
     * a client would take NONE with -1 as "persisted somewhere unknown". */
    WEIR_ASSERT(pt->error_code != 0 || s->acks == 0 || s->base_offset >= 0);
    s->out->base_offset = pt->error_code ? -1 : s->base_offset;
    s->out->log_start_offset = s->log_start;
    if (--st->remaining == 0) produce_finish(pt->req);
}

static void produce_held_done(struct reactor *owner, struct repl_hold *h, int16_t error_code)
{
    struct produce_slot *s = weir_container_of(h, struct produce_slot, hold);
    s->pt.error_code = error_code;
    ptask_reply(owner, &s->pt);
}

/* acks=all, appended (or a duplicate of an appended batch): answered once
 * the HW passes the batch's last offset (led alone: at once, HW = log end). */
static void produce_hold(struct produce_slot *s)
{
    int64_t last_delta = (int64_t)weir_load_be32(s->records + WEIR_BATCH_OFF_LAST_DELTA);
    s->hold = (struct repl_hold){ .required_offset = s->base_offset + last_delta + 1, .min_insync = s->min_insync,
                                  .timeout_ms = s->timeout_ms, .done = produce_held_done };
    part_repl_hold(s->owner, part_find(s->owner, s->pt.topic, s->pt.partition), &s->hold);
}

static bool produce_holds(const struct produce_slot *s)
{
    return s->acks == -1 && s->pt.error_code == 0 && s->base_offset >= 0;
}

static void produce_appended(struct weir_append *a)
{
    struct produce_slot *s = a->user;
    s->pt.error_code = weir_kerr_from_err(a->err);
    s->base_offset = a->base_offset;
    if (a->err == WEIR_OK) /* the first batch's records (a producer sends one batch per partition) */
        atomic_fetch_add_explicit(&s->owner->stats.records_in,
                                  (uint64_t)weir_load_be32(s->records + WEIR_BATCH_OFF_LAST_DELTA) + 1,
                                  memory_order_relaxed);
    if (produce_holds(s)) produce_hold(s);
    else ptask_reply(s->owner, &s->pt);
}

enum { PRODUCE_INFLATE_MAX = 64 << 20,  /* one batch's records, decompressed */
       PRODUCE_INFLATE_KEEP = 4 << 20 }; /* the reactor's scratch kept between requests up to this */

/* After a use of r->inflate: a rare huge batch's buffer does not stay resident. */
static void inflate_trim(struct reactor *r)
{
    if (r->inflate_cap <= PRODUCE_INFLATE_KEEP) return;
    weir_free(r->inflate);
    r->inflate = NULL;
    r->inflate_cap = 0;
}

static int16_t produce_codec_error(enum weir_err err)
{
    switch (err) {
    case WEIR_OK: return 0;
    case WEIR_E_TOO_LARGE: return WEIR_KERR_MESSAGE_TOO_LARGE;
    case WEIR_E_UNSUPPORTED: return WEIR_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    case WEIR_E_NOMEM:
    case WEIR_E_BAD_CONFIG: return WEIR_KERR_UNKNOWN_SERVER_ERROR;
    default: return WEIR_KERR_CORRUPT_MESSAGE;
    }
}

/* A topic whose compression.type is not `producer` stores its batches in
 * that codec (`uncompressed`: none), as Kafka's LogValidator does: a batch
 * in another codec is decompressed and recompressed here, on the owner,
 * before the append, with every header field kept (producer id, epoch and
 * sequence, timestamps, attributes but the codec) and the CRC recomputed;
 * the append then checks its size against max.message.bytes. The new
 * batch is the slot's until the reply (s->converted). */
static int16_t produce_recompress(struct reactor *r, struct produce_slot *s, const struct part *p)
{
    uint8_t type = weir_log_compression_type(p->log);
    if (type == WEIR_COMPRESSION_PRODUCER) return 0;
    enum weir_codec want = (enum weir_codec)(type - WEIR_COMPRESSION_UNCOMPRESSED);
    if ((s->records[WEIR_BATCH_OFF_ATTRS + 1] & WEIR_ATTR_CODEC_MASK) == want) return 0;
    uint8_t *out = NULL;
    size_t out_len = 0;
    enum weir_err err = weir_batch_recompress(s->records, (size_t)s->records_len, want, WEIR_CODEC_LEVEL_DEFAULT,
                                              PRODUCE_INFLATE_MAX, INT32_MAX, &r->inflate, &r->inflate_cap, &out,
                                              &out_len);
    inflate_trim(r); /* the owner's scratch, as the origin's for the check */
    if (err != WEIR_OK) return produce_codec_error(err);
    weir_free(s->converted);
    s->converted = s->records = out;
    s->records_len = (int32_t)out_len;
    return 0;
}

/* A compacted topic refused the batch: which of its records have no key
 * (none found: the batch is invalid otherwise, and s->keyless stays NULL). */
static void keyless_find(struct reactor *r, struct produce_slot *s, const struct part *p)
{
    struct weir_record_iter it;
    struct weir_record rec;
    int32_t count = (int32_t)weir_load_be32(s->records + WEIR_BATCH_OFF_COUNT);
    if (count <= 0 || weir_record_iter_init(&it, s->records, (size_t)s->records_len, &r->inflate, &r->inflate_cap,
                                            PRODUCE_INFLATE_MAX) != WEIR_OK)
        return;
    struct keyless *k = weir_calloc(1, sizeof *k);
    int32_t *index = weir_malloc((size_t)count * sizeof *index);
    int32_t n = 0;
    for (int32_t i = 0; k && index && i < count && weir_record_iter_next(&it, &rec) == WEIR_OK; i++)
        if (!rec.key) index[n++] = i;
    inflate_trim(r);
    if (!k || !index || n == 0) {
        weir_free(index);
        weir_free(k);
        return;
    }
    k->n = n;
    k->index = index;
    snprintf(k->message, sizeof k->message, "Compacted topic cannot accept message without key in topic partition %s-%d",
             p->topic, p->partition);
    s->keyless = k;
}

static void produce_owner(struct reactor *r, struct ptask *pt)
{
    struct produce_slot *s = weir_container_of(pt, struct produce_slot, pt);
    s->owner = r;
    struct part *p = part_get(r, pt->topic, pt->partition, &pt->error_code);
    if (!p) {
        ptask_reply(r, pt);
        return;
    }
    s->log_start = weir_log_start_offset(p->log);
    if ((pt->error_code = part_repl_produce_check(r, p, s->acks, &s->min_insync)) != 0) {
        ptask_reply(r, pt);
        return;
    }
    if ((pt->error_code = produce_recompress(r, s, p)) != 0) {
        ptask_reply(r, pt);
        return;
    }
    s->app = (struct weir_append){ .batch = s->records, .len = (size_t)s->records_len,
                                   .on_done = produce_appended, .user = s };
    enum weir_err err = weir_log_append(p->log, &s->app);
    if (err != WEIR_OK) {
        /* A retry of an appended idempotent batch: NONE with the original offset,
         * as Kafka answers (45/47 for a gap or an old epoch come from the engine). */
        pt->error_code = weir_kerr_from_err(err);
        s->base_offset = err == WEIR_E_DUPLICATE ? s->app.base_offset : -1;
        if (err == WEIR_E_INVALID && part_repl_follower_tail(p)) pt->error_code = WEIR_KERR_NOT_LEADER_OR_FOLLOWER;
        if (pt->error_code == WEIR_KERR_INVALID_RECORD && weir_log_compacted(p->log)) keyless_find(r, s, p);
        if (produce_holds(s)) produce_hold(s);
        else ptask_reply(r, pt);
    }
}

/* Produce v0-2 may carry a legacy message set (magic 0/1): it is up-converted
 * to one RecordBatch v2 here, on the connection's reactor, as Kafka 3.x's
 * LogValidator does (not a hot path: old clients only; the batch is
 * weir_malloc'd and the slot's until the owner answers). v3+ must carry v2
 * (Kafka's ProduceRequest.validateRecords: INVALID_RECORD). */
static int16_t produce_upconvert(struct request *req, const struct kproduce_req_part *in, struct produce_slot *s)
{
    if (!in->records || !weir_legacy_is_set(in->records, (size_t)WEIR_MAX(in->records_len, 0))) return 0;
    if (req->hdr.api_version >= 3) return WEIR_KERR_INVALID_RECORD;
    size_t max = (size_t)req->c->r->b->cfg.socket_request_max_bytes, n = 0;
    enum weir_err err = weir_legacy_upconvert(in->records, (size_t)in->records_len, max, &s->converted, &n);
    if (err != WEIR_OK) return weir_kerr_from_err(err);
    WEIR_ASSERT(n <= INT32_MAX);
    s->records = s->converted;
    s->records_len = (int32_t)n;
    return 0;
}

/* Checks done before a batch travels: Kafka's client-side batch rules. */
static int16_t produce_precheck(const uint8_t *records, int32_t records_len)
{
    if (!records || records_len < WEIR_BATCH_HEADER_BYTES) return WEIR_KERR_INVALID_RECORD;
    if (records[WEIR_BATCH_OFF_MAGIC] != WEIR_BATCH_MAGIC) return WEIR_KERR_INVALID_RECORD; /* magic 3+ */
    if (weir_load_be64(records) != 0) return WEIR_KERR_INVALID_RECORD; /* clients send base offset 0 */
    return 0;
}

/* A compressed batch is decompressed and its records walked before it
 * travels, as Kafka's LogValidator does: data that does not decode, or
 * records that do not parse or match the count, get 2 CORRUPT_MESSAGE (a
 * batch inflating past 64 MiB: 10 MESSAGE_TOO_LARGE); zstd before Produce
 * v7 gets 76 UNSUPPORTED_COMPRESSION_TYPE (Kafka: KIP-110). Uncompressed
 * batches are checked by the engine's append as before. */
static int16_t produce_codec_check(struct request *req, const uint8_t *records, int32_t records_len)
{
    enum weir_codec codec = (enum weir_codec)(records[WEIR_BATCH_OFF_ATTRS + 1] & WEIR_ATTR_CODEC_MASK);
    if (codec == WEIR_CODEC_NONE) return 0;
    if (codec == WEIR_CODEC_ZSTD && req->hdr.api_version < 7) return WEIR_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    struct reactor *r = req->c->r; /* the request's reactor: its scratch, no allocation per request */
    enum weir_err err = weir_batch_records_check(records, (size_t)records_len, &r->inflate, &r->inflate_cap,
                                                 PRODUCE_INFLATE_MAX);
    inflate_trim(r);
    return produce_codec_error(err);
}

static void produce_dispatch(struct request *req, struct produce_state *st, int32_t t, int32_t p)
{
    const struct kproduce_req_topic *in_t = &st->pr.topics[t];
    const struct kproduce_req_part *in = &in_t->partitions[p];
    struct kproduce_resp_part *out = (struct kproduce_resp_part *)&st->topics[t].partitions[p]; /* ours */
    *out = (struct kproduce_resp_part){ .index = in->index, .base_offset = -1, .log_append_time_ms = -1,
                                        .log_start_offset = -1 };
    struct produce_slot *s = weir_arena_alloc(&req->arena, sizeof *s);
    char *topic = arena_strdup(&req->arena, in_t->name);
    if (!s || !topic) {
        out->error_code = WEIR_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *s = (struct produce_slot){ .records = in->records, .records_len = in->records_len };
    if (st->pr.acks != 0 && st->pr.acks != 1 && st->pr.acks != -1) out->error_code = WEIR_KERR_INVALID_REQUIRED_ACKS;
    if (out->error_code == 0) out->error_code = produce_upconvert(req, in, s);
    if (out->error_code == 0) out->error_code = produce_precheck(s->records, s->records_len);
    if (out->error_code == 0) out->error_code = produce_codec_check(req, s->records, s->records_len);
    if (out->error_code == 0 && !weir_topic_name_valid(topic)) out->error_code = WEIR_KERR_INVALID_TOPIC_EXCEPTION;
    /* Internal topics take the coordinator's appends only (Kafka: "Cannot append to internal topic"). */
    if (out->error_code == 0 && !strcmp(topic, GROUP_OFFSETS_TOPIC)) out->error_code = WEIR_KERR_INVALID_TOPIC_EXCEPTION;
    if (out->error_code != 0) {
        if (out->error_code != WEIR_KERR_INVALID_RECORD) out->error_message = kstr_c(weir_kerr_message(out->error_code));
        weir_free(s->converted);
        return;
    }
    uint8_t *records = s->records, *converted = s->converted;
    int32_t records_len = s->records_len;
    *s = (struct produce_slot){ .pt = { .req = req, .topic = topic, .partition = in->index,
                                        .on_owner = produce_owner, .on_origin = produce_origin },
                                .records = records, .records_len = records_len, .converted = converted, .out = out,
                                .log_start = -1, .acks = st->pr.acks, .timeout_ms = st->pr.timeout_ms,
                                .min_insync = 1 };
    st->remaining++;
    ptask_send(&s->pt);
}

void handle_produce(struct request *req)
{
    struct produce_state *st = weir_arena_alloc(&req->arena, sizeof *st);
    if (!st) {
        request_malformed(req, WEIR_E_NOMEM);
        return;
    }
    *st = (struct produce_state){ 0 };
    enum weir_err err = kproto_produce_decode(&req->body, req->hdr.api_version, &req->arena, &st->pr);
    if (err == WEIR_OK && st->pr.n_topics > 0) {
        st->topics = weir_arena_alloc(&req->arena, (size_t)st->pr.n_topics * sizeof *st->topics);
        if (!st->topics) err = WEIR_E_NOMEM;
    }
    for (int32_t t = 0; err == WEIR_OK && t < st->pr.n_topics; t++) {
        const struct kproduce_req_topic *in = &st->pr.topics[t];
        struct kproduce_resp_part *parts =
            weir_arena_alloc(&req->arena, (size_t)(in->n_partitions ? in->n_partitions : 1) * sizeof *parts);
        if (!parts) err = WEIR_E_NOMEM;
        st->topics[t] = (struct kproduce_resp_topic){ .name = in->name, .partitions = parts,
                                                      .n_partitions = in->n_partitions };
    }
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    req->state = st;
    st->remaining = 1; /* held until every partition is dispatched */
    for (int32_t t = 0; t < st->pr.n_topics; t++)
        for (int32_t p = 0; p < st->pr.topics[t].n_partitions; p++) produce_dispatch(req, st, t, p);
    if (--st->remaining == 0) produce_finish(req);
}
