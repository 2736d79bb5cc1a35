/* proto/proto_deleterecords.c: DeleteRecords (key 21), v0-2 (schemas/DeleteRecords*.json).
 * v1 equals v0 (throttling after the response); v2 is flexible. Request: per
 * topic name, per partition index and offset (-1: the high watermark), then
 * timeout_ms. Response: throttle first, per topic name, per partition index,
 * low_watermark, error_code. */
#include "proto.h"

static void deleterecords_decode_parts(struct kdec *d, struct kdeleterecords_req_topic *t)
{
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        t->partitions[i].partition_index = weir_rd_i32(d->rd);
        t->partitions[i].offset = weir_rd_i64(d->rd);
        kd_tags(d);
    }
}

enum weir_err kproto_deleterecords_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                          struct kdeleterecords_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_RECORDS, version), false };
    if (!kproto_supported(KAPI_DELETE_RECORDS, version)) return WEIR_E_UNSUPPORTED;
    req->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    req->topics = kd_alloc(&d, req->n_topics, sizeof *req->topics);
    for (int32_t i = 0; i < req->n_topics && rd->err == WEIR_OK; i++) {
        req->topics[i].name = kd_str(&d);
        deleterecords_decode_parts(&d, &req->topics[i]);
        kd_tags(&d);
    }
    req->timeout_ms = weir_rd_i32(rd);
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_deleterecords_encode(struct kbuf *out, int16_t version, const struct kdeleterecords_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_RECORDS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_RECORDS, version);
    kb_i32(out, resp->throttle_time_ms);
    kb_arr(out, flex, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const struct kdeleterecords_resp_topic *t = &resp->topics[i];
        kb_str(out, flex, t->name);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            kb_i32(out, t->partitions[j].partition_index);
            kb_i64(out, t->partitions[j].low_watermark);
            kb_i16(out, t->partitions[j].error_code);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_deleterecords_request_encode(struct kbuf *out, int16_t version, const struct kdeleterecords_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DELETE_RECORDS, version));
    bool flex = kproto_request_flexible(KAPI_DELETE_RECORDS, version);
    kb_arr(out, flex, req->n_topics);
    for (int32_t i = 0; i < req->n_topics; i++) {
        const struct kdeleterecords_req_topic *t = &req->topics[i];
        kb_str(out, flex, t->name);
        kb_arr(out, flex, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            kb_i32(out, t->partitions[j].partition_index);
            kb_i64(out, t->partitions[j].offset);
            kb_tags(out, flex);
        }
        kb_tags(out, flex);
    }
    kb_i32(out, req->timeout_ms);
    kb_tags(out, flex);
}

static void deleterecords_decode_results(struct kdec *d, struct kdeleterecords_resp_topic *t)
{
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    t->partitions = kd_alloc(d, t->n_partitions, sizeof *t->partitions);
    for (int32_t i = 0; i < t->n_partitions && d->rd->err == WEIR_OK; i++) {
        t->partitions[i].partition_index = weir_rd_i32(d->rd);
        t->partitions[i].low_watermark = weir_rd_i64(d->rd);
        t->partitions[i].error_code = weir_rd_i16(d->rd);
        kd_tags(d);
    }
}

enum weir_err kproto_deleterecords_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                   struct kdeleterecords_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DELETE_RECORDS, version), true };
    if (!kproto_supported(KAPI_DELETE_RECORDS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->n_topics = kd_array(&d, KPROTO_TOPICS_MAX);
    resp->topics = kd_alloc(&d, resp->n_topics, sizeof *resp->topics);
    for (int32_t i = 0; i < resp->n_topics && rd->err == WEIR_OK; i++) {
        resp->topics[i].name = kd_str(&d);
        deleterecords_decode_results(&d, &resp->topics[i]);
        kd_tags(&d);
    }
    kd_tags(&d);
    return kd_done(&d);
}
