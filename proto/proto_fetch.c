/* proto/proto_fetch.c: Fetch (key 1), v4-13 (schemas/Fetch*.json).
 * Request: max_bytes v3+, isolation_level v4+, session id/epoch and forgotten
 * topics v7+, current_leader_epoch v9+, log_start_offset v5+, rack_id v11+,
 * flexible and last_fetched_epoch v12+, topic ids instead of names v13+
 * (topics and forgotten topics).
 * Response: throttle first (v1+), error_code + session_id v7+, topic id
 * instead of name v13+, per partition last_stable_offset v4+,
 * log_start_offset v5+, aborted_transactions v4+ (nullable),
 * preferred_read_replica v11+, then RECORDS sized exactly to the file ranges
 * that follow it as FILE chunks (README §9.9), then (v12+) the tagged
 * DivergingEpoch (tag 0) when set. The client decodes RECORDS as bytes
 * borrowed from the response frame (record_set); it skips tagged fields. */
#include "proto.h"

static void fetch_decode_topic(struct kdec *d, struct kfetch_req_topic *t)
{
    t->topic = d->version >= 13 ? (struct kstr){ "", 0 } : kd_str(d);
    t->topic_id = d->version >= 13 ? kr_uuid(d->rd) : (struct weir_uuid){ { 0 } };
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        struct kfetch_req_part *p = &t->partitions[i];
        p->partition = weir_rd_i32(d->rd);
        p->current_leader_epoch = d->version >= 9 ? weir_rd_i32(d->rd) : -1;
        p->fetch_offset = weir_rd_i64(d->rd);
        p->last_fetched_epoch = d->version >= 12 ? weir_rd_i32(d->rd) : -1;
        p->log_start_offset = d->version >= 5 ? weir_rd_i64(d->rd) : -1;
        p->partition_max_bytes = weir_rd_i32(d->rd);
        kd_tags(d);
    }
    kd_tags(d);
}

static void fetch_decode_forgotten(struct kdec *d, struct kfetch_req *req)
{
    req->n_forgotten = kd_array(d, KPROTO_TOPICS_MAX);
    req->forgotten = kd_alloc(d, req->n_forgotten, sizeof *req->forgotten);
    for (int32_t i = 0; i < req->n_forgotten && d->rd->err == WEIR_OK; i++) {
        struct kfetch_forgotten *f = &req->forgotten[i];
        f->topic = d->version >= 13 ? (struct kstr){ "", 0 } : kd_str(d);
        f->topic_id = d->version >= 13 ? kr_uuid(d->rd) : (struct weir_uuid){ { 0 } };
        f->partitions = kd_i32_array(d, KPROTO_PARTITIONS_MAX, &f->n_partitions);
        kd_tags(d);
    }
}

enum weir_err kproto_fetch_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a, struct kfetch_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FETCH, version), false };
    if (!kproto_supported(KAPI_FETCH, version)) return WEIR_E_UNSUPPORTED;
    req->replica_id = weir_rd_i32(rd);
    req->max_wait_ms = weir_rd_i32(rd);
    req->min_bytes = weir_rd_i32(rd);
    req->max_bytes = version >= 3 ? weir_rd_i32(rd) : INT32_MAX;
    req->isolation_level = version >= 4 ? kr_i8(rd) : 0;
    req->session_id = version >= 7 ? weir_rd_i32(rd) : 0;
    req->session_epoch = version >= 7 ? weir_rd_i32(rd) : -1;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) fetch_decode_topic(&d, &req->topics[i]);
    req->n_forgotten = 0;
    req->forgotten = NULL;
    if (version >= 7) fetch_decode_forgotten(&d, req);
    req->rack_id = version >= 11 ? kd_str(&d) : (struct kstr){ "", 0 };
    kd_tags(&d);
    return kd_done(&d);
}

/* RECORDS: the exact length, then each range as a FILE chunk (or the
 * record_set bytes, copied). Never null: librdkafka refuses a negative
 * MessageSetSize. */
static void fetch_encode_records(struct kbuf *out, bool flex, const struct kfetch_resp_part *p)
{
    WEIR_ASSERT(p->n_records >= 0);
    if (p->n_records == 0 && p->record_set.ptr) {
        WEIR_ASSERT(p->record_set.len >= 0);
        if (flex) kb_compact_bytes(out, p->record_set);
        else kb_bytes(out, p->record_set);
        return;
    }
    uint64_t len = 0;
    for (int32_t i = 0; i < p->n_records; i++) len += p->records[i].len;
    if (len > INT32_MAX) {
        kbuf_fail(out, WEIR_E_TOO_LARGE);
        return;
    }
    if (flex)
        kb_uvarint(out, len + 1);
    else
        kb_i32(out, (int32_t)len);
    for (int32_t i = 0; i < p->n_records; i++) {
        const struct kfile_range *r = &p->records[i];
        kb_file(out, r->fd, r->pos, r->len, r->pin);
    }
}

/* The partition's tagged section with DivergingEpoch (tag 0): one field, a
 * struct of Epoch INT32, EndOffset INT64 and its own (empty) tagged section. */
static void fetch_encode_diverging(struct kbuf *out, const struct kfetch_resp_part *p)
{
    enum { DIVERGING_TAG = 0, DIVERGING_BYTES = 4 + 8 + 1 };
    kb_uvarint(out, 1); /* one tagged field */
    kb_uvarint(out, DIVERGING_TAG);
    kb_uvarint(out, DIVERGING_BYTES);
    kb_i32(out, p->diverging_epoch);
    kb_i64(out, p->diverging_end_offset);
    kb_tags_empty(out);
}

static void fetch_encode_part(struct kbuf *out, int16_t version, bool flex, const struct kfetch_resp_part *p)
{
    kb_i32(out, p->partition_index);
    kb_i16(out, p->error_code);
    kb_i64(out, p->high_watermark);
    if (version >= 4) kb_i64(out, p->last_stable_offset);
    if (version >= 5) kb_i64(out, p->log_start_offset);
    if (version >= 4) {
        kb_arr(out, flex, p->n_aborted); /* -1 = null */
        for (int32_t i = 0; i < p->n_aborted; i++) {
            kb_i64(out, p->aborted[i].producer_id);
            kb_i64(out, p->aborted[i].first_offset);
            kb_tags(out, flex);
        }
    }
    if (version >= 11) kb_i32(out, p->preferred_read_replica);
    fetch_encode_records(out, flex, p);
    if (flex && p->diverging) fetch_encode_diverging(out, p);
    else kb_tags(out, flex);
}

void kproto_fetch_encode(struct kbuf *out, int16_t version, const struct kfetch_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_FETCH, version));
    bool flex = kproto_request_flexible(KAPI_FETCH, version);
    if (version >= 1) kb_i32(out, resp->throttle_time_ms);
    if (version >= 7) {
        kb_i16(out, resp->error_code);
        kb_i32(out, resp->session_id);
    }
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct kfetch_resp_topic *t = &resp->topics[i];
        if (version >= 13) kb_uuid(out, &t->topic_id);
        else kb_str(out, flex, t->topic);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) fetch_encode_part(out, version, flex, &t->partitions[j]);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

static void fetch_encode_request_topic(struct kbuf *out, int16_t version, bool flex, const struct kfetch_req_topic *t)
{
    if (version >= 13) kb_uuid(out, &t->topic_id);
    else kb_str(out, flex, t->topic);
    kb_arr(out, flex, t->n_partitions);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        const struct kfetch_req_part *p = &t->partitions[i];
        kb_i32(out, p->partition);
        if (version >= 9) kb_i32(out, p->current_leader_epoch);
        kb_i64(out, p->fetch_offset);
        if (version >= 12) kb_i32(out, p->last_fetched_epoch);
        if (version >= 5) kb_i64(out, p->log_start_offset);
        kb_i32(out, p->partition_max_bytes);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

void kproto_fetch_request_encode(struct kbuf *out, int16_t version, const struct kfetch_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_FETCH, version));
    bool flex = kproto_request_flexible(KAPI_FETCH, version);
    kb_i32(out, req->replica_id);
    kb_i32(out, req->max_wait_ms);
    kb_i32(out, req->min_bytes);
    if (version >= 3) kb_i32(out, req->max_bytes);
    if (version >= 4) kb_i8(out, req->isolation_level);
    if (version >= 7) {
        kb_i32(out, req->session_id);
        kb_i32(out, req->session_epoch);
    }
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) fetch_encode_request_topic(out, version, flex, &req->topics[i]);
    if (version >= 7) {
        kb_arr(out, flex, req->n_forgotten);
        for (int32_t i = 0; i < req->n_forgotten; i++) {
            if (version >= 13) kb_uuid(out, &req->forgotten[i].topic_id);
            else kb_str(out, flex, req->forgotten[i].topic);
            kb_i32_array(out, flex, req->forgotten[i].partitions, req->forgotten[i].n_partitions);
            kb_tags(out, flex);
        }
    }
    if (version >= 11) kb_str(out, flex, req->rack_id);
    kb_tags(out, flex);
}

static void fetch_decode_aborted(struct kdec *d, struct kfetch_resp_part *p)
{
    p->n_aborted = kd_narray(d, KPROTO_ABORTED_MAX); /* v4+, -1 = null */
    struct kfetch_aborted *ab = kd_alloc(d, p->n_aborted, sizeof *ab);
    for (int32_t i = 0; i < p->n_aborted && d->rd->err == WEIR_OK; i++) {
        ab[i].producer_id = weir_rd_i64(d->rd);
        ab[i].first_offset = weir_rd_i64(d->rd);
        kd_tags(d);
    }
    p->aborted = ab;
}

/* The partition's tagged section: DivergingEpoch (tag 0) is read, every other
 * tag skipped (as kr_tags_skip, whose bound this keeps). */
static void fetch_decode_part_tags(struct weir_rd *rd, struct kfetch_resp_part *p)
{
    uint32_t n = kr_uvarint(rd);
    if (rd->err == WEIR_OK && n > weir_rd_left(rd) / 2) rd->err = WEIR_E_TRUNCATED;
    for (uint32_t i = 0; i < n && rd->err == WEIR_OK; i++) {
        uint32_t tag = kr_uvarint(rd), size = kr_uvarint(rd);
        const uint8_t *bytes = weir_rd_bytes(rd, size);
        if (rd->err != WEIR_OK || tag != 0) continue;
        struct weir_rd field = weir_rd_make(bytes, size);
        p->diverging_epoch = weir_rd_i32(&field);
        p->diverging_end_offset = weir_rd_i64(&field);
        kr_tags_skip(&field);
        p->diverging = field.err == WEIR_OK;
        if (field.err != WEIR_OK) rd->err = field.err;
    }
}

static void fetch_decode_part(struct kdec *d, struct kfetch_resp_part *p)
{
    p->partition_index = weir_rd_i32(d->rd);
    p->error_code = weir_rd_i16(d->rd);
    p->high_watermark = weir_rd_i64(d->rd);
    p->last_stable_offset = d->version >= 4 ? weir_rd_i64(d->rd) : -1;
    p->log_start_offset = d->version >= 5 ? weir_rd_i64(d->rd) : -1;
    p->n_aborted = -1;
    p->aborted = NULL;
    if (d->version >= 4) fetch_decode_aborted(d, p);
    p->preferred_read_replica = d->version >= 11 ? weir_rd_i32(d->rd) : -1;
    p->records = NULL;
    p->n_records = 0;
    p->record_set = kd_nbytes(d); /* borrowed from the frame */
    p->diverging = false;
    if (d->flex) fetch_decode_part_tags(d->rd, p);
}

static void fetch_decode_response_topic(struct kdec *d, struct kfetch_resp_topic *t)
{
    t->topic = d->version >= 13 ? (struct kstr){ "", 0 } : kd_str(d);
    t->topic_id = d->version >= 13 ? kr_uuid(d->rd) : (struct weir_uuid){ { 0 } };
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct kfetch_resp_part *parts = kd_alloc(d, t->n_partitions, sizeof *parts);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) fetch_decode_part(d, &parts[i]);
    t->partitions = parts;
    kd_tags(d);
}

enum weir_err kproto_fetch_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                           struct kfetch_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_FETCH, version), true };
    if (!kproto_supported(KAPI_FETCH, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = version >= 1 ? weir_rd_i32(rd) : 0;
    resp->error_code = version >= 7 ? weir_rd_i16(rd) : 0;
    resp->session_id = version >= 7 ? weir_rd_i32(rd) : 0;
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    struct kfetch_resp_topic *topics = kd_alloc(&d, resp->n_topics, sizeof *topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) fetch_decode_response_topic(&d, &topics[i]);
    resp->topics = topics;
    kd_tags(&d);
    return kd_done(&d);
}
