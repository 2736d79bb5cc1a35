/* proto/proto_describelogdirs.c: DescribeLogDirs (key 35), v0-4; v2 flexible
 * (Kafka's DescribeLogDirs*.json; v1 = v0, v3 adds the top-level error code,
 * v4 each directory's total and usable bytes). Request: topics (null = every
 * partition) [topic, partitions []int32]. Response: throttle, v3 error_code,
 * results[error_code, log_dir, topics[name, partitions[index, size,
 * offset_lag, is_future]], v4 total_bytes, usable_bytes]. */
#include "proto.h"

enum weir_err kproto_describelogdirs_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                            struct kdescribelogdirs_req *req)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_LOG_DIRS, version), false };
    if (!kproto_supported(KAPI_DESCRIBE_LOG_DIRS, version)) return WEIR_E_UNSUPPORTED;
    req->n_topics = kd_narray(&d, KPROTO_TOPICS_MAX);
    struct kdescribelogdirs_req_topic *t = kd_alloc(&d, req->n_topics, sizeof *t);
    for (int32_t i = 0; t && i < req->n_topics && rd->err == WEIR_OK; i++) {
        t[i].topic = kd_str(&d);
        t[i].partitions = kd_i32_array(&d, KPROTO_PARTITIONS_MAX, &t[i].n_partitions);
        kd_tags(&d);
    }
    req->topics = t;
    kd_tags(&d);
    return kd_done(&d);
}

void kproto_describelogdirs_encode(struct kbuf *out, int16_t version, const struct kdescribelogdirs_resp *resp)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_LOG_DIRS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_LOG_DIRS, version);
    kb_i32(out, resp->throttle_time_ms);
    if (version >= 3) kb_i16(out, resp->error_code);
    kb_arr(out, flex, resp->n_results);
    for (int32_t i = 0; i < resp->n_results; i++) {
        const struct kdescribelogdirs_result *r = &resp->results[i];
        kb_i16(out, r->error_code);
        kb_str(out, flex, r->log_dir);
        kb_arr(out, flex, r->n_topics);
        for (int32_t j = 0; j < r->n_topics; j++) {
            kb_str(out, flex, r->topics[j].name);
            kb_arr(out, flex, r->topics[j].n_partitions);
            for (int32_t k = 0; k < r->topics[j].n_partitions; k++) {
                const struct kdescribelogdirs_part *p = &r->topics[j].partitions[k];
                kb_i32(out, p->partition_index);
                kb_i64(out, p->partition_size);
                kb_i64(out, p->offset_lag);
                kb_bool(out, p->is_future);
                kb_tags(out, flex);
            }
            kb_tags(out, flex);
        }
        if (version >= 4) {
            kb_i64(out, r->total_bytes);
            kb_i64(out, r->usable_bytes);
        }
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

/* ---- client side ---- */

void kproto_describelogdirs_request_encode(struct kbuf *out, int16_t version, const struct kdescribelogdirs_req *req)
{
    WEIR_ASSERT(kproto_supported(KAPI_DESCRIBE_LOG_DIRS, version));
    bool flex = kproto_request_flexible(KAPI_DESCRIBE_LOG_DIRS, version);
    kb_arr(out, flex, req->n_topics); /* -1: null */
    for (int32_t i = 0; i < req->n_topics; i++) {
        kb_str(out, flex, req->topics[i].topic);
        kb_i32_array(out, flex, req->topics[i].partitions, req->topics[i].n_partitions);
        kb_tags(out, flex);
    }
    kb_tags(out, flex);
}

static void logdirs_topic_decode(struct kdec *d, struct kdescribelogdirs_topic *t)
{
    t->name = kd_str(d);
    t->n_partitions = kd_array(d, KPROTO_PARTITIONS_MAX);
    struct kdescribelogdirs_part *p = kd_alloc(d, t->n_partitions, sizeof *p);
    for (int32_t k = 0; p && k < t->n_partitions && d->rd->err == WEIR_OK; k++) {
        p[k].partition_index = weir_rd_i32(d->rd);
        p[k].partition_size = weir_rd_i64(d->rd);
        p[k].offset_lag = weir_rd_i64(d->rd);
        p[k].is_future = kr_bool(d->rd);
        kd_tags(d);
    }
    t->partitions = p;
    kd_tags(d);
}

enum weir_err kproto_describelogdirs_response_decode(struct weir_rd *rd, int16_t version, struct weir_arena *a,
                                                     struct kdescribelogdirs_resp *resp)
{
    struct kdec d = { rd, a, version, kproto_request_flexible(KAPI_DESCRIBE_LOG_DIRS, version), true };
    if (!kproto_supported(KAPI_DESCRIBE_LOG_DIRS, version)) return WEIR_E_UNSUPPORTED;
    resp->throttle_time_ms = weir_rd_i32(rd);
    resp->error_code = version >= 3 ? weir_rd_i16(rd) : 0;
    resp->n_results = kd_array(&d, KPROTO_LOG_DIRS_MAX);
    struct kdescribelogdirs_result *r = kd_alloc(&d, resp->n_results, sizeof *r);
    for (int32_t i = 0; r && i < resp->n_results && rd->err == WEIR_OK; i++) {
        r[i].error_code = weir_rd_i16(rd);
        r[i].log_dir = kd_str(&d);
        r[i].n_topics = kd_array(&d, KPROTO_CLUSTER_TOPICS_MAX);
        struct kdescribelogdirs_topic *t = kd_alloc(&d, r[i].n_topics, sizeof *t);
        for (int32_t j = 0; t && j < r[i].n_topics && rd->err == WEIR_OK; j++) logdirs_topic_decode(&d, &t[j]);
        r[i].topics = t;
        r[i].total_bytes = version >= 4 ? weir_rd_i64(rd) : -1;
        r[i].usable_bytes = version >= 4 ? weir_rd_i64(rd) : -1;
        kd_tags(&d);
    }
    resp->results = r;
    kd_tags(&d);
    return kd_done(&d);
}
