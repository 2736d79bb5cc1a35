/* proto/proto_produce.c: Produce (key 0), v0-9 (schemas/Produce*.json); v9
 * flexible. v0-2 are advertised because librdkafka <= 2.11 sends gzip, snappy
 * and lz4 only to a broker whose Produce range includes v0 (msgset_writer
 * compr_req). RECORDS are bytes here, whatever their format (the broker
 * checks magic).
 * Request: transactional_id (v3+, nullable), acks, timeout, topics of
 * partitions with RECORDS (nullable bytes, borrowed writable from the frame).
 * Response: topics first, throttle_time_ms AFTER them (v1+, README §9.1);
 * log_append_time_ms v2+, log_start_offset v5+, record_errors and
 * error_message v8+ (KIP-467). The client's request carries
 * the producer's batches as BORROW chunks: they are never copied. */
#include "proto.h"

static void produce_decode_topic(struct kdec *d, struct kproduce_req_topic *t)
{
    t->name = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        struct kproduce_req_part *p = &t->partitions[i];
        p->index = weir_rd_i32(d->rd);
        struct kbytes r = kd_nbytes(d);
        /* The frame is the caller's writable buffer (see kproduce_req_part). */
        p->records = (uint8_t *)(uintptr_t)r.ptr;
        p->records_len = r.len;
        kd_tags(d);
    }
    kd_tags(d);
}

enum weir_err kproto_produce_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                    struct kproduce_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_PRODUCE, version), false };
    if (!kproto_supported(KAPI_PRODUCE, version)) return WEIR_E_UNSUPPORTED;
    req->transactional_id = version >= 3 ? kd_nstr(&d) : KSTR_NULL;
    req->acks = weir_rd_i16(rd);
    req->timeout_ms = weir_rd_i32(rd);
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) produce_decode_topic(&d, &req->topics[i]);
    kd_tags(&d);
    return kd_done(&d);
}

/* Nullable strings with ptr NULL go out as null (kproduce_resp_part). */
static struct kstr produce_nstr(struct kstr s) { return s.ptr ? s : KSTR_NULL; }

static void produce_encode_errors(struct kbuf *out, bool flex, const struct kproduce_resp_part *p)
{
    kb_arr(out, flex, p->n_record_errors);
    for (int32_t i = 0; i < p->n_record_errors; i++) {
        kb_i32(out, p->record_errors[i].batch_index);
        kb_nstr(out, flex, produce_nstr(p->record_errors[i].message));
        kb_tags(out, flex);
    }
    kb_nstr(out, flex, produce_nstr(p->error_message));
}

static void produce_encode_topic(struct kbuf *out, int16_t version, bool flex, const struct kproduce_resp_topic *t)
{
    kb_str(out, flex, t->name);
    kb_arr(out, flex, t->n_partitions);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        const struct kproduce_resp_part *p = &t->partitions[i];
        kb_i32(out, p->index);
        kb_i16(out, p->error_code);
        kb_i64(out, p->base_offset);
        if (version >= 2) kb_i64(out, p->log_append_time_ms); /* v2+ */
        if (version >= 5) kb_i64(out, p->log_start_offset); /* v5+ */
        if (version >= 8) produce_encode_errors(out, flex, p);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_produce_encode(struct kbuf *out, int16_t version, const struct kproduce_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_PRODUCE, version));
    bool flex = kproto_request_flexible(KAPI_PRODUCE, version);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) produce_encode_topic(out, version, flex, &resp->topics[i]);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms); /* v1+: after the topics */
    kb_tags(out, flex);
}

/* ---- client side ---- */

static void produce_encode_request_topic(struct kbuf *out, bool flex, const struct kproduce_req_topic *t)
{
    kb_str(out, flex, t->name);
    kb_arr(out, flex, t->n_partitions);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        const struct kproduce_req_part *p = &t->partitions[i];
        kb_i32(out, p->index);
        kb_records(out, flex, p->records, p->records_len); /* borrowed, not copied */
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_produce_request_encode(struct kbuf *out, int16_t version, const struct kproduce_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_PRODUCE, version));
    bool flex = kproto_request_flexible(KAPI_PRODUCE, version);
    if (version >= 3) kb_nstr(out, flex, req->transactional_id);
    kb_i16(out, req->acks);
    kb_i32(out, req->timeout_ms);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) produce_encode_request_topic(out, flex, &req->topics[i]);
    kb_tags(out, flex);
}

static void produce_decode_errors(struct kdec *d, struct kproduce_resp_part *p)
{
    p->n_record_errors = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct kproduce_record_error *e = kd_alloc(d, p->n_record_errors, sizeof *e);
    for (int32_t i = 0; i < p->n_record_errors && d->rd->err == WEIR_OK; i++) {
        e[i].batch_index = weir_rd_i32(d->rd);
        e[i].message = kd_nstr(d);
        kd_tags(d);
    }
    p->record_errors = e;
    p->error_message = kd_nstr(d);
}

static void produce_decode_response_topic(struct kdec *d, struct kproduce_resp_topic *t)
{
    t->name = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct kproduce_resp_part *parts = kd_alloc(d, t->n_partitions, sizeof *parts);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        struct kproduce_resp_part *p = &parts[i];
        p->index = weir_rd_i32(d->rd);
        p->error_code = weir_rd_i16(d->rd);
        p->base_offset = weir_rd_i64(d->rd);
        p->log_append_time_ms = d->version >= 2 ? weir_rd_i64(d->rd) : -1;
        p->log_start_offset = d->version >= 5 ? weir_rd_i64(d->rd) : -1;
        *p = (struct kproduce_resp_part){ p->index, p->error_code, p->base_offset, p->log_append_time_ms,
                                          p->log_start_offset, NULL, 0, KSTR_NULL };
        if (d->version >= 8) produce_decode_errors(d, p);
        kd_tags(d);
    }
    t->partitions = parts;
    kd_tags(d);
}

enum weir_err kproto_produce_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                             struct kproduce_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_PRODUCE, version), true };
    if (!kproto_supported(KAPI_PRODUCE, version)) return WEIR_E_UNSUPPORTED;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct kproduce_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) produce_decode_response_topic(&d, &topics[i]);
    resp->topics = topics;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0; /* after the topics */
    kd_tags(&d);
    return kd_done(&d);
}
