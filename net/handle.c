/* net/handle.c: request dispatch, and the APIs answered without touching a
 * log: ApiVersions, InitProducerId, DescribeConfigs (Metadata and
 * FindCoordinator: handle_meta.c; config listing: topic_configs.c). What
 * handlers share (partition tasks): ptask.c. */
#include "net_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- dispatch ------------------------------------------------------------------ */

/* Answers an API or version we do not serve with 35 UNSUPPORTED_VERSION in
 * the API's response shape (kproto_unsupported_encode); the connection stays
 * open (Kafka closes it; the protocol's clients never send such versions,
 * but a client probing one should not lose its connection). */
static void handle_unsupported(struct request *req)
{
    WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "connection from %s: unsupported api key %d version %d", req->c->peer,
                         req->hdr.api_key, req->hdr.api_version);
    response_begin(req);
    kproto_unsupported_encode(&req->out, req->hdr.api_key, req->hdr.api_version);
    response_end(req);
    request_respond(req);
}

static void handle_apiversions(struct request *req)
{
    struct kapiversions_req ar;
    enum weir_err err = kproto_apiversions_decode(&req->body, req->hdr.api_version, &req->arena, &ar);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    if (!kproto_supported(KAPI_API_VERSIONS, req->hdr.api_version)) {
        kproto_apiversions_encode_unsupported(&req->out, req->hdr.correlation_id);
    } else {
        response_begin(req);
        kproto_apiversions_encode(&req->out, req->hdr.api_version, &(struct kapiversions_resp){ 0, 0 });
        response_end(req);
    }
    request_respond(req);
}

static void handle_initproducerid(struct request *req)
{
    struct kinitproducerid_req ir;
    enum weir_err err = kproto_initproducerid_decode(&req->body, req->hdr.api_version, &req->arena, &ir);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    struct kinitproducerid_resp resp = { .producer_id = -1, .producer_epoch = -1 };
    if ((ir.producer_id == -1) != (ir.producer_epoch == -1)) {
        resp.error_code = WEIR_KERR_INVALID_REQUEST; /* v3+: an id without an epoch, or the reverse (KafkaApis) */
    } else if (!kstr_is_null(ir.transactional_id)) {
        resp.error_code = WEIR_KERR_INVALID_REQUEST; /* transactions are not supported */
    } else {
        /* Without a transactional id Kafka's TransactionCoordinator always
         * hands out a fresh id at epoch 0, even when v3+ names one to bump. */
        resp.producer_id = broker_producer_id_next(req->c->r->b);
        resp.producer_epoch = resp.producer_id >= 0 ? 0 : -1;
        if (resp.producer_id < 0) resp.error_code = WEIR_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    response_begin(req);
    kproto_initproducerid_encode(&req->out, req->hdr.api_version, &resp);
    response_end(req);
    request_respond(req);
}

/* ---- DescribeConfigs ---------------------------------------------------------------- */

static void describe_resource(struct request *req, const struct kdescribeconfigs_req *dr,
                              const struct kdescribeconfigs_resource *res,
                              struct kdescribeconfigs_result *out, char *text, size_t text_cap,
                              struct kdescribeconfigs_config *configs)
{
    struct broker *b = req->c->r->b;
    *out = (struct kdescribeconfigs_result){ .error_message = KSTR_NULL, .resource_type = res->resource_type,
                                             .resource_name = res->resource_name, .configs = configs };
    char *name = arena_strdup(&req->arena, res->resource_name);
    struct weir_log_config cfg;
    if (!name) {
        out->error_code = WEIR_KERR_UNKNOWN_SERVER_ERROR;
    } else if (res->resource_type == KRESOURCE_TOPIC) {
        char set[WEIR_LOG_CONFIG_FORMAT_BYTES];
        struct weir_log_config defaults;
        broker_log_defaults(b, &defaults);
        enum weir_err e = weir_meta_topic_config(b->meta, name, &defaults, &cfg, set, sizeof set);
        if (e != WEIR_OK) {
            out->error_code = WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            out->error_message = kstr_c("the topic does not exist");
            return;
        }
        weir_log_config_format(&cfg, text, text_cap);
        out->n_configs = configs_from_lines(text, res, configs, CONFIGS_MAX, set);
        topic_configs_decorate(req, configs, out->n_configs, dr->include_synonyms, dr->include_documentation);
    } else if (res->resource_type == KRESOURCE_BROKER) {
        out->n_configs = broker_configs_describe(req, dr, res, configs, CONFIGS_MAX);
    } else {
        out->error_code = WEIR_KERR_INVALID_REQUEST;
        out->error_message = kstr_c("only topic (2) and broker (4) resources are described");
    }
}

static void handle_describeconfigs(struct request *req)
{
    struct kdescribeconfigs_req dr;
    enum weir_err err = kproto_describeconfigs_decode(&req->body, req->hdr.api_version, &req->arena, &dr);
    if (err != WEIR_OK) {
        request_malformed(req, err);
        return;
    }
    enum { TEXT = WEIR_LOG_CONFIG_FORMAT_BYTES, CONFIGS = CONFIGS_MAX };
    int32_t n = dr.n_resources > 0 ? dr.n_resources : 0;
    struct kdescribeconfigs_result *results = weir_calloc(n ? (size_t)n : 1, sizeof *results);
    char *text = weir_malloc((size_t)(n ? n : 1) * TEXT);
    struct kdescribeconfigs_config *configs = weir_calloc((size_t)(n ? n : 1) * CONFIGS, sizeof *configs);
    if (results && text && configs)
        for (int32_t i = 0; i < n; i++)
            describe_resource(req, &dr, &dr.resources[i], &results[i], text + (size_t)i * TEXT, TEXT,
                              configs + (size_t)i * CONFIGS);
    else
        kbuf_fail(&req->out, WEIR_E_NOMEM), n = 0;
    response_begin(req);
    kproto_describeconfigs_encode(&req->out, req->hdr.api_version,
                                  &(struct kdescribeconfigs_resp){ .results = results, .n_results = n });
    response_end(req);
    weir_free(results);
    weir_free(text);
    weir_free(configs);
    request_respond(req);
}

void handle_request(struct request *req)
{
    int16_t key = req->hdr.api_key;
    if (key == KAPI_API_VERSIONS) {
        handle_apiversions(req);
        return;
    }
    if (!kproto_supported(key, req->hdr.api_version)) {
        handle_unsupported(req);
        return;
    }
    /* No metadata yet (a cluster not joined yet, on a restart): nothing is
     * served as a single node would, which would acknowledge produces into a
     * replica it truncates once it follows its leader. The connection closes;
     * clients retry. */
    const struct broker *b = req->c->r->b;
    if (!__atomic_load_n(&b->meta, __ATOMIC_ACQUIRE)) {
        kbuf_reset(&req->out);
        req->close_after = true;
        request_respond(req);
        return;
    }
    switch (key) {
    case KAPI_PRODUCE: handle_produce(req); break;
    case KAPI_FETCH: handle_fetch(req); break;
    case KAPI_LIST_OFFSETS: handle_listoffsets(req); break;
    case KAPI_METADATA: handle_metadata(req); break;
    case KAPI_FIND_COORDINATOR: handle_findcoordinator(req); break;
    case KAPI_DESCRIBE_CLUSTER: handle_describecluster(req); break;
    case KAPI_DESCRIBE_LOG_DIRS: handle_describelogdirs(req); break;
    case KAPI_CREATE_TOPICS: handle_createtopics(req); break;
    case KAPI_DELETE_TOPICS: handle_deletetopics(req); break;
    case KAPI_DELETE_RECORDS: handle_deleterecords(req); break;
    case KAPI_CREATE_PARTITIONS: handle_createpartitions(req); break;
    case KAPI_INIT_PRODUCER_ID: handle_initproducerid(req); break;
    case KAPI_DESCRIBE_CONFIGS: handle_describeconfigs(req); break;
    case KAPI_ALTER_CONFIGS:
    case KAPI_INCREMENTAL_ALTER_CONFIGS: handle_alterconfigs(req); break;
    case KAPI_OFFSET_FOR_LEADER_EPOCH: handle_offsetforleaderepoch(req); break;
    case KAPI_JOIN_GROUP:
    case KAPI_SYNC_GROUP:
    case KAPI_HEARTBEAT:
    case KAPI_LEAVE_GROUP:
    case KAPI_OFFSET_COMMIT:
    case KAPI_DESCRIBE_GROUPS:
    case KAPI_LIST_GROUPS:
    case KAPI_DELETE_GROUPS:
    case KAPI_OFFSET_DELETE:
    case KAPI_OFFSET_FETCH: handle_group(req); break;
    default: handle_unsupported(req); break;
    }
}
