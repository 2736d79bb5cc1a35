/* client/admin.c: the admin client (client.h): topics created, listed,
 * described, grown and deleted; configs described. One blocking connection,
 * to the controller the bootstrap broker names (or the bootstrap broker when
 * the controller's advertised address does not answer). Each call is one
 * request and its response (group calls: FindCoordinator first, then one per
 * group to the coordinator); the caller's thread does the I/O. A call made
 * after the connection failed reconnects once. Results are copied out of the
 * response frame into memory the caller frees with one call. */
#include "wire_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct weir_admin {
    char *bootstrap;
    char *client_id;
    int timeout_ms;
    struct cw_conn conn;
    struct cw_conn coord;         /* a group's coordinator when it is not conn's broker */
    struct weir_arena arena;      /* response decoding; reset per call */
    struct kbuf kb;
    char err[CW_ERRBUF];
};

/* A copied-out result: the public struct first, then its arena. */
struct admin_blob {
    union {
        struct weir_metadata md;
        struct weir_configs cf;
        struct weir_group_list gl;
        struct weir_group_descriptions gd;
        struct weir_group_offsets go;
        struct weir_log_dirs ld;
    } pub;
    struct weir_arena arena;
};

static int admin_fail(struct weir_admin *a, int err, const char *what)
{
    cw_errf(a->err, sizeof a->err, "%s: %s", what, a->conn.err[0] ? a->conn.err : weir_client_err_text(err));
    return err;
}

/* Moves to the controller when the bootstrap broker names another one. */
static void admin_find_controller(struct weir_admin *a)
{
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    weir_arena_reset(&a->arena);
    if (cw_metadata(&a->conn, &a->arena, NULL, 0, a->timeout_ms, &md, &frame) != 0) return;
    char host[CW_HOST_MAX] = "";
    int port = 0;
    for (int32_t i = 0; i < md.n_brokers; i++) {
        const struct kmetadata_broker *b = &md.brokers[i];
        if (b->node_id == md.controller_id && b->host.len > 0 && (size_t)b->host.len < sizeof host) {
            memcpy(host, b->host.ptr, (size_t)b->host.len);
            host[b->host.len] = '\0';
            port = b->port;
        }
    }
    cw_frame_unref(frame);
    if (!host[0] || (port == a->conn.port && !strcmp(host, a->conn.host))) return;
    struct cw_conn ctl;
    cw_conn_init(&ctl, a->client_id);
    if (cw_connect(&ctl, host, port, a->timeout_ms) == 0) {
        cw_close(&a->conn);
        a->conn = ctl;
    }
}

/* Connects when not connected. */
static int admin_conn(struct weir_admin *a)
{
    if (cw_is_up(&a->conn)) return 0;
    int rc = cw_connect_bootstrap(&a->conn, a->bootstrap, a->timeout_ms);
    if (rc != 0) return admin_fail(a, rc, "cannot connect");
    admin_find_controller(a);
    if (!cw_is_up(&a->conn)) {
        rc = cw_connect_bootstrap(&a->conn, a->bootstrap, a->timeout_ms);
        if (rc != 0) return admin_fail(a, rc, "cannot connect");
    }
    return 0;
}

struct weir_admin *weir_admin_new(const struct weir_conf *conf, char *errbuf, size_t errbuf_size)
{
    char servers[4096], client_id[256], timeout[32];
    if (!conf || weir_conf_get(conf, "bootstrap.servers", servers, sizeof servers) != WEIR_CONF_OK || !servers[0]) {
        cw_errf(errbuf, errbuf_size, "bootstrap.servers is not set");
        return NULL;
    }
    weir_conf_get(conf, "client.id", client_id, sizeof client_id);
    weir_conf_get(conf, "request.timeout.ms", timeout, sizeof timeout);
    struct weir_admin *a = weir_calloc(1, sizeof *a);
    if (!a || !(a->bootstrap = weir_strdup(servers)) || !(a->client_id = weir_strdup(client_id)) ||
        weir_arena_init_growable(&a->arena, 64 << 10, 512 << 20) != WEIR_OK) {
        if (a) weir_free(a->bootstrap), weir_free(a->client_id), weir_free(a);
        cw_errf(errbuf, errbuf_size, "out of memory");
        return NULL;
    }
    a->timeout_ms = atoi(timeout) > 0 ? atoi(timeout) : 30000;
    cw_conn_init(&a->conn, a->client_id);
    cw_conn_init(&a->coord, a->client_id);
    kbuf_init(&a->kb, 0);
    if (admin_conn(a) != 0) {
        cw_errf(errbuf, errbuf_size, "%s", a->err);
        weir_admin_destroy(a);
        return NULL;
    }
    return a;
}

void weir_admin_destroy(struct weir_admin *a)
{
    if (!a) return;
    cw_close(&a->conn);
    cw_close(&a->coord);
    weir_arena_destroy(&a->arena);
    kbuf_free(&a->kb);
    weir_free(a->bootstrap);
    weir_free(a->client_id);
    weir_free(a);
}

const char *weir_admin_error(const struct weir_admin *a) { return a ? a->err : "admin client is NULL"; }

/* Starts a request of `key` at the best common version (>= need). */
static int admin_begin(struct weir_admin *a, int16_t key, const char *name, int16_t *v, int32_t *corr,
                       struct kframe *f)
{
    a->err[0] = '\0';
    int rc = admin_conn(a);
    if (rc != 0) return rc;
    *v = cw_version(&a->conn, key);
    if (*v < 0) {
        cw_errf(a->err, sizeof a->err, "%s: the broker does not support %s", a->conn.host, name);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    *f = cw_request_begin(&a->conn, &a->kb, key, *v, corr);
    return 0;
}

/* Ends the request, sends it, and waits for the answer; *rd covers the body. */
static int admin_finish(struct weir_admin *a, const struct kframe *f, int16_t key, int16_t v, int32_t corr,
                        const char *name, struct cw_frame **frame, struct weir_rd *rd)
{
    kproto_request_end(&a->kb, f);
    weir_arena_reset(&a->arena);
    int rc = cw_call(&a->conn, &a->kb, key, v, corr, a->timeout_ms, frame, rd);
    return rc != 0 ? admin_fail(a, rc, name) : 0;
}

static void result_set(struct weir_admin_result *r, int err, struct kstr msg)
{
    r->err = err;
    if (msg.len > 0)
        cw_errf(r->message, sizeof r->message, "%.*s", (int)msg.len, msg.ptr);
    else
        cw_errf(r->message, sizeof r->message, "%s", err ? weir_client_err_text(err) : "");
}

/* Copies per-topic results to the caller's order (by name). A topic the
 * broker did not answer gets WEIR_CLIENT_E_BAD_MSG. */
static void results_copy(const struct ktopic_result *got, int32_t n_got, const char *const *names, size_t n,
                         struct weir_admin_result *out)
{
    for (size_t i = 0; i < n; i++) {
        result_set(&out[i], WEIR_CLIENT_E_BAD_MSG, kstr_c("the broker's answer does not name this topic"));
        for (int32_t j = 0; j < n_got; j++)
            if (kstr_eq(got[j].name, names[i])) result_set(&out[i], got[j].error_code, got[j].error_message);
    }
}

static bool args_ok(struct weir_admin *a, const void *p, size_t n, const void *out)
{
    if (a && (p || n == 0) && out && n <= KPROTO_TOPICS_MAX) return true;
    if (a) cw_errf(a->err, sizeof a->err, "invalid argument");
    return false;
}

int weir_admin_create_topics(struct weir_admin *a, const struct weir_new_topic *topics, size_t n, int validate_only,
                             struct weir_admin_result *results)
{
    if (!args_ok(a, topics, n, results)) return WEIR_CLIENT_E_INVALID_ARG;
    struct kcreatetopics_req_topic *rt = weir_calloc(n ? n : 1, sizeof *rt);
    size_t n_cfg = 0;
    for (size_t i = 0; i < n; i++) n_cfg += topics[i].configs_count;
    struct kconfig_entry *cfg = weir_calloc(n_cfg ? n_cfg : 1, sizeof *cfg);
    const char **names = weir_calloc(n ? n : 1, sizeof *names);
    if (!rt || !cfg || !names) {
        weir_free(rt), weir_free(cfg), weir_free(names);
        return WEIR_CLIENT_E_NOMEM;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        const struct weir_new_topic *t = &topics[i];
        names[i] = t->name ? t->name : "";
        rt[i] = (struct kcreatetopics_req_topic){ .name = kstr_c(names[i]), .num_partitions = t->partitions,
                                                  .replication_factor = t->replication_factor,
                                                  .configs = &cfg[k], .n_configs = (int32_t)t->configs_count };
        for (size_t j = 0; j < t->configs_count; j++, k++)
            cfg[k] = (struct kconfig_entry){ kstr_c(t->configs[j].name ? t->configs[j].name : ""),
                                             kstr_c(t->configs[j].value) };
    }
    struct kcreatetopics_req req = { rt, (int32_t)n, a->timeout_ms, validate_only };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_CREATE_TOPICS, "CreateTopics", &v, &corr, &f);
    if (rc == 0) {
        kproto_createtopics_request_encode(&a->kb, v, &req);
        rc = admin_finish(a, &f, KAPI_CREATE_TOPICS, v, corr, "CreateTopics", &frame, &rd);
    }
    struct kcreatetopics_resp resp;
    if (rc == 0 && kproto_createtopics_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "CreateTopics: malformed response");
    if (rc == 0) results_copy(resp.topics, resp.n_topics, names, n, results);
    cw_frame_unref(frame);
    weir_free(rt), weir_free(cfg), weir_free(names);
    return rc;
}

int weir_admin_delete_topics(struct weir_admin *a, const char *const *names, size_t n,
                             struct weir_admin_result *results)
{
    if (!args_ok(a, names, n, results)) return WEIR_CLIENT_E_INVALID_ARG;
    struct kstr *ks = weir_calloc(n ? n : 1, sizeof *ks);
    if (!ks) return WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; i < n; i++) ks[i] = kstr_c(names[i] ? names[i] : "");
    struct kdeletetopics_req req = { .topic_names = ks, .n_topic_names = (int32_t)n, .timeout_ms = a->timeout_ms };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_DELETE_TOPICS, "DeleteTopics", &v, &corr, &f);
    if (rc == 0) {
        kproto_deletetopics_request_encode(&a->kb, v, &req);
        rc = admin_finish(a, &f, KAPI_DELETE_TOPICS, v, corr, "DeleteTopics", &frame, &rd);
    }
    struct kdeletetopics_resp resp;
    if (rc == 0 && kproto_deletetopics_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "DeleteTopics: malformed response");
    if (rc == 0) results_copy(resp.responses, resp.n_responses, names, n, results);
    cw_frame_unref(frame);
    weir_free(ks);
    return rc;
}

int weir_admin_create_partitions(struct weir_admin *a, const char *topic, int32_t total, int validate_only,
                                 struct weir_admin_result *result)
{
    if (!args_ok(a, topic, 1, result)) return WEIR_CLIENT_E_INVALID_ARG;
    struct kcreatepartitions_req_topic t = { kstr_c(topic), total, NULL, -1 };
    struct kcreatepartitions_req req = { &t, 1, a->timeout_ms, validate_only };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_CREATE_PARTITIONS, "CreatePartitions", &v, &corr, &f);
    if (rc == 0) {
        kproto_createpartitions_request_encode(&a->kb, v, &req);
        rc = admin_finish(a, &f, KAPI_CREATE_PARTITIONS, v, corr, "CreatePartitions", &frame, &rd);
    }
    struct kcreatepartitions_resp resp;
    if (rc == 0 && kproto_createpartitions_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "CreatePartitions: malformed response");
    if (rc == 0) results_copy(resp.results, resp.n_results, &topic, 1, result);
    cw_frame_unref(frame);
    return rc;
}

/* ---- copying results out of the frame ---------------------------------------------------- */

static struct admin_blob *blob_new(size_t frame_len)
{
    struct admin_blob *b = weir_calloc(1, sizeof *b);
    if (b && weir_arena_init_growable(&b->arena, 16 << 10, 64 + 32 * (size_t)frame_len + (1 << 20)) == WEIR_OK)
        return b;
    weir_free(b);
    return NULL;
}

static void blob_free(struct admin_blob *b)
{
    if (!b) return;
    weir_arena_destroy(&b->arena);
    weir_free(b);
}

/* A NUL-terminated copy; NULL for a null string. Sets *oom on failure. */
static const char *blob_str(struct admin_blob *b, struct kstr s, bool *oom)
{
    if (s.len < 0) return NULL;
    char *p = weir_arena_alloc(&b->arena, (size_t)s.len + 1);
    if (!p) {
        *oom = true;
        return "";
    }
    if (s.len) memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    return p;
}

static void *blob_array(struct admin_blob *b, int32_t n, size_t size, bool *oom)
{
    if (n <= 0) return NULL;
    void *p = weir_arena_alloc(&b->arena, (size_t)n * size);
    if (!p) *oom = true;
    else memset(p, 0, (size_t)n * size);
    return p;
}

static const int32_t *blob_i32s(struct admin_blob *b, const int32_t *v, int32_t n, bool *oom)
{
    int32_t *p = blob_array(b, n, sizeof *p, oom);
    if (p) memcpy(p, v, (size_t)n * sizeof *p);
    return p;
}

static void md_copy_topic(struct admin_blob *b, const struct kmetadata_topic *kt, struct weir_md_topic *t,
                          bool *oom)
{
    t->name = blob_str(b, kt->name, oom);
    t->err = kt->error_code;
    t->internal = kt->is_internal;
    struct weir_md_partition *ps = blob_array(b, kt->n_partitions, sizeof *ps, oom);
    for (int32_t j = 0; ps && j < kt->n_partitions; j++) {
        const struct kmetadata_part *kp = &kt->partitions[j];
        ps[j] = (struct weir_md_partition){
            .id = kp->partition_index, .err = kp->error_code, .leader = kp->leader_id,
            .replicas = blob_i32s(b, kp->replicas, kp->n_replicas, oom), .replicas_count = (size_t)WEIR_MAX(kp->n_replicas, 0),
            .isr = blob_i32s(b, kp->isr, kp->n_isr, oom), .isr_count = (size_t)WEIR_MAX(kp->n_isr, 0),
        };
    }
    /* In partition order, as the tools print them. */
    for (int32_t j = 1; ps && j < kt->n_partitions; j++)
        for (int32_t k = j; k > 0 && ps[k - 1].id > ps[k].id; k--) {
            struct weir_md_partition tmp = ps[k];
            ps[k] = ps[k - 1], ps[k - 1] = tmp;
        }
    t->partitions = ps;
    t->partitions_count = ps ? (size_t)kt->n_partitions : 0;
}

static struct weir_metadata *md_copy(const struct kmetadata_resp *r, size_t frame_len)
{
    struct admin_blob *b = blob_new(frame_len);
    if (!b) return NULL;
    bool oom = false;
    struct weir_metadata *m = &b->pub.md;
    m->cluster_id = blob_str(b, r->cluster_id, &oom);
    m->controller_id = r->controller_id;
    struct weir_md_broker *bs = blob_array(b, r->n_brokers, sizeof *bs, &oom);
    for (int32_t i = 0; bs && i < r->n_brokers; i++)
        bs[i] = (struct weir_md_broker){ r->brokers[i].node_id, blob_str(b, r->brokers[i].host, &oom),
                                           r->brokers[i].port, blob_str(b, r->brokers[i].rack, &oom) };
    m->brokers = bs;
    m->brokers_count = bs ? (size_t)r->n_brokers : 0;
    struct weir_md_topic *ts = blob_array(b, r->n_topics, sizeof *ts, &oom);
    for (int32_t i = 0; ts && i < r->n_topics; i++) md_copy_topic(b, &r->topics[i], &ts[i], &oom);
    m->topics = ts;
    m->topics_count = ts ? (size_t)r->n_topics : 0;
    if (oom) {
        blob_free(b);
        return NULL;
    }
    return m;
}

int weir_admin_metadata(struct weir_admin *a, const char *const *topics, size_t n, struct weir_metadata **out)
{
    if (!args_ok(a, topics, n, out)) return WEIR_CLIENT_E_INVALID_ARG;
    *out = NULL;
    a->err[0] = '\0';
    int rc = admin_conn(a);
    if (rc != 0) return rc;
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    weir_arena_reset(&a->arena);
    rc = cw_metadata(&a->conn, &a->arena, topics, n ? (int)n : -1, a->timeout_ms, &md, &frame);
    if (rc != 0) return admin_fail(a, rc, "Metadata");
    *out = md_copy(&md, frame->len);
    cw_frame_unref(frame);
    if (!*out) return admin_fail(a, WEIR_CLIENT_E_NOMEM, "Metadata");
    return 0;
}

void weir_metadata_destroy(struct weir_metadata *m)
{
    if (m) blob_free(weir_container_of(m, struct admin_blob, pub.md));
}

static struct weir_configs *configs_copy(const struct kdescribeconfigs_result *r, size_t frame_len)
{
    struct admin_blob *b = blob_new(frame_len);
    if (!b) return NULL;
    bool oom = false;
    struct weir_configs *c = &b->pub.cf;
    struct weir_config_entry *es = blob_array(b, r->n_configs, sizeof *es, &oom);
    for (int32_t i = 0; es && i < r->n_configs; i++) {
        const struct kdescribeconfigs_config *k = &r->configs[i];
        es[i] = (struct weir_config_entry){ blob_str(b, k->name, &oom), blob_str(b, k->value, &oom),
                                            k->config_source, k->read_only, k->is_sensitive };
    }
    c->entries = es;
    c->entries_count = es ? (size_t)r->n_configs : 0;
    if (oom) {
        blob_free(b);
        return NULL;
    }
    return c;
}

/* A config resource's Kafka error, returned as is, with the broker's message (or the code's text). */
static int resource_error(struct weir_admin *a, int16_t code, struct kstr message)
{
    if (message.len > 0) cw_errf(a->err, sizeof a->err, "%.*s", (int)message.len, message.ptr);
    else cw_errf(a->err, sizeof a->err, "%s", weir_client_err_text(code));
    return code;
}

int weir_admin_describe_configs(struct weir_admin *a, int resource_type, const char *name, struct weir_configs **out)
{
    if (!args_ok(a, name, 1, out)) return WEIR_CLIENT_E_INVALID_ARG;
    *out = NULL;
    struct kdescribeconfigs_resource res = { (int8_t)resource_type, kstr_c(name), NULL, -1 };
    struct kdescribeconfigs_req req = { .resources = &res, .n_resources = 1 };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_DESCRIBE_CONFIGS, "DescribeConfigs", &v, &corr, &f);
    if (rc == 0) {
        kproto_describeconfigs_request_encode(&a->kb, v, &req);
        rc = admin_finish(a, &f, KAPI_DESCRIBE_CONFIGS, v, corr, "DescribeConfigs", &frame, &rd);
    }
    struct kdescribeconfigs_resp resp;
    if (rc == 0 && (kproto_describeconfigs_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK || resp.n_results != 1))
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "DescribeConfigs: malformed response");
    if (rc == 0 && resp.results[0].error_code != 0) {
        rc = resource_error(a, resp.results[0].error_code, resp.results[0].error_message);
    } else if (rc == 0 && !(*out = configs_copy(&resp.results[0], frame->len))) {
        rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeConfigs");
    }
    cw_frame_unref(frame);
    return rc;
}

int weir_admin_alter_configs(struct weir_admin *a, int resource_type, const char *name,
                             const struct weir_config_op *ops, size_t n, int validate_only)
{
    int zero = 0; /* args_ok needs a non-NULL out */
    if (!args_ok(a, name, 1, &zero) || (n > 0 && !ops) || n > KPROTO_CONFIGS_MAX) return WEIR_CLIENT_E_INVALID_ARG;
    struct kalterconfigs_config *cs = weir_calloc(n + 1, sizeof *cs); /* admin_begin resets the arena */
    if (!cs) return admin_fail(a, WEIR_CLIENT_E_NOMEM, "IncrementalAlterConfigs");
    for (size_t i = 0; i < n; i++)
        cs[i] = (struct kalterconfigs_config){ kstr_c(ops[i].name), (int8_t)ops[i].op,
                                               ops[i].value ? kstr_c(ops[i].value) : KSTR_NULL };
    struct kalterconfigs_resource res = { (int8_t)resource_type, kstr_c(name), cs, (int32_t)n };
    struct kalterconfigs_req req = { .resources = &res, .n_resources = 1, .validate_only = validate_only != 0 };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    const int16_t key = KAPI_INCREMENTAL_ALTER_CONFIGS;
    int rc = admin_begin(a, key, "IncrementalAlterConfigs", &v, &corr, &f);
    if (rc == 0) {
        kproto_alterconfigs_request_encode(&a->kb, key, v, &req);
        rc = admin_finish(a, &f, key, v, corr, "IncrementalAlterConfigs", &frame, &rd);
    }
    struct kalterconfigs_resp resp;
    if (rc == 0 && (kproto_alterconfigs_response_decode(&rd, key, v, &a->arena, &resp) != WEIR_OK || resp.n_results != 1))
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "IncrementalAlterConfigs: malformed response");
    if (rc == 0 && resp.results[0].error_code != 0)
        rc = resource_error(a, resp.results[0].error_code, resp.results[0].error_message);
    cw_frame_unref(frame);
    weir_free(cs);
    return rc;
}

void weir_configs_destroy(struct weir_configs *c)
{
    if (c) blob_free(weir_container_of(c, struct admin_blob, pub.cf));
}

int weir_admin_list_offset(struct weir_admin *a, const char *topic, int32_t partition, int64_t timestamp,
                           int64_t *offset)
{
    if (!args_ok(a, topic, 1, offset) || partition < 0) return WEIR_CLIENT_E_INVALID_ARG;
    *offset = -1;
    struct klistoffsets_req_part rp = { partition, timestamp, -1, 1 };
    struct klistoffsets_req_topic rt = { kstr_c(topic), &rp, 1 };
    struct klistoffsets_req req = { -1, 0, &rt, 1 };
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_LIST_OFFSETS, "ListOffsets", &v, &corr, &f);
    if (rc == 0) {
        kproto_listoffsets_request_encode(&a->kb, v, &req);
        rc = admin_finish(a, &f, KAPI_LIST_OFFSETS, v, corr, "ListOffsets", &frame, &rd);
    }
    struct klistoffsets_resp resp;
    if (rc == 0 && (kproto_listoffsets_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK || resp.n_topics != 1 ||
                    resp.topics[0].n_partitions != 1))
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "ListOffsets: malformed response");
    if (rc == 0) {
        const struct klistoffsets_resp_part *p = &resp.topics[0].partitions[0];
        rc = p->error_code;
        if (rc != 0) cw_errf(a->err, sizeof a->err, "ListOffsets: %s", weir_client_err_text(rc));
        else *offset = p->offset;
    }
    cw_frame_unref(frame);
    return rc;
}

/* ---- consumer groups ------------------------------------------------------------------------ */

enum { ADMIN_RETRY_MS = 100 };
#define ADMIN_GROUP_BLOB_MAX ((size_t)1 << 30) /* what decoded group results may take */

typedef void gc_encode_fn(struct kbuf *kb, int16_t v, const void *req);
typedef enum weir_err gc_decode_fn(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *resp);

/* Errors that say: ask again, maybe elsewhere (the coordinator is loading,
 * not there yet, or moved). */
static bool coord_retriable(int err)
{
    return err == WEIR_KERR_COORDINATOR_LOAD_IN_PROGRESS || err == WEIR_KERR_COORDINATOR_NOT_AVAILABLE ||
           err == WEIR_KERR_NOT_COORDINATOR;
}

static void admin_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One request on connection c: encode, send, wait. *rd covers the body. */
static int conn_request(struct weir_admin *a, struct cw_conn *c, int16_t key, const char *name, gc_encode_fn *enc,
                        const void *req, int timeout_ms, int16_t *v, struct cw_frame **frame, struct weir_rd *rd)
{
    *v = cw_version(c, key);
    if (*v < 0) {
        cw_errf(a->err, sizeof a->err, "%s:%d: the broker does not support %s", c->host, c->port, name);
        return WEIR_CLIENT_E_UNSUPPORTED;
    }
    int32_t corr;
    struct kframe f = cw_request_begin(c, &a->kb, key, *v, &corr);
    enc(&a->kb, *v, req);
    kproto_request_end(&a->kb, &f);
    int rc = cw_call(c, &a->kb, key, *v, corr, timeout_ms, frame, rd);
    if (rc != 0) cw_errf(a->err, sizeof a->err, "%s: %s", name, c->err[0] ? c->err : weir_client_err_text(rc));
    return rc;
}

static void enc_describegroups(struct kbuf *kb, int16_t v, const void *r) { kproto_describegroups_request_encode(kb, v, r); }
static void enc_offsetfetch(struct kbuf *kb, int16_t v, const void *r) { kproto_offsetfetch_request_encode(kb, v, r); }
static void enc_offsetcommit(struct kbuf *kb, int16_t v, const void *r) { kproto_offsetcommit_request_encode(kb, v, r); }
static void enc_deletegroups(struct kbuf *kb, int16_t v, const void *r) { kproto_deletegroups_request_encode(kb, v, r); }
static enum weir_err dec_describegroups(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *r)
{
    return kproto_describegroups_response_decode(rd, v, ar, r);
}
static enum weir_err dec_offsetfetch(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *r)
{
    return kproto_offsetfetch_response_decode(rd, v, ar, r);
}
static enum weir_err dec_offsetcommit(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *r)
{
    return kproto_offsetcommit_response_decode(rd, v, ar, r);
}
static void enc_offsetdelete(struct kbuf *kb, int16_t v, const void *r) { kproto_offsetdelete_request_encode(kb, v, r); }
static enum weir_err dec_offsetdelete(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *r)
{
    return kproto_offsetdelete_response_decode(rd, v, ar, r);
}
static enum weir_err dec_deletegroups(struct weir_rd *rd, int16_t v, struct weir_arena *ar, void *r)
{
    return kproto_deletegroups_response_decode(rd, v, ar, r);
}

/* The group's coordinator (FindCoordinator on the admin connection): *out is
 * the connection to use. 0, FindCoordinator's Kafka error, or WEIR_CLIENT_E_*. */
static int admin_coordinator(struct weir_admin *a, const char *group, int timeout_ms, struct cw_conn **out)
{
    int rc = admin_conn(a);
    if (rc != 0) return rc;
    char host[CW_HOST_MAX];
    int port;
    int32_t node;
    weir_arena_reset(&a->arena);
    rc = cw_find_coordinator(&a->conn, &a->arena, group, timeout_ms, host, sizeof host, &port, &node);
    if (rc != 0) {
        cw_errf(a->err, sizeof a->err, "%s", a->conn.err);
        return rc;
    }
    *out = &a->conn;
    if (port == a->conn.port && !strcmp(host, a->conn.host)) return 0;
    if (cw_is_up(&a->coord) && port == a->coord.port && !strcmp(host, a->coord.host)) *out = &a->coord;
    else if (cw_connect(&a->coord, host, port, timeout_ms) == 0) *out = &a->coord;
    /* else: its advertised address does not answer; the broker we know (on a
     * single node, the same one) says NOT_COORDINATOR if it is not. */
    return 0;
}

/* A request to a group's coordinator; resp_err gives the response's error
 * that concerns the group as a whole. */
struct gcall {
    int16_t key;
    const char *name;
    gc_encode_fn *encode;
    const void *req;
    gc_decode_fn *decode;
    void *resp;
    int (*resp_err)(const void *resp);
};

/* Runs g at group's coordinator until an answer other than a coordinator
 * error, within request.timeout.ms. On 0, *frame holds the response, decoded
 * into g->resp (arrays in a->arena). */
static int group_call(struct weir_admin *a, const char *group, const struct gcall *g, struct cw_frame **frame)
{
    a->err[0] = '\0';
    *frame = NULL;
    int64_t deadline = cw_now_ms() + a->timeout_ms;
    for (;;) {
        int left = (int)WEIR_MAX(deadline - cw_now_ms(), 1);
        struct cw_conn *c = NULL;
        int err = admin_coordinator(a, group, left, &c);
        if (err == 0) {
            int16_t v;
            struct weir_rd rd;
            int rc = conn_request(a, c, g->key, g->name, g->encode, g->req, left, &v, frame, &rd);
            if (rc != 0) return rc;
            if (g->decode(&rd, v, &a->arena, g->resp) != WEIR_OK) {
                cw_frame_unref(*frame);
                *frame = NULL;
                cw_close(c);
                cw_errf(a->err, sizeof a->err, "%s: malformed response", g->name);
                return WEIR_CLIENT_E_BAD_MSG;
            }
            err = g->resp_err(g->resp);
            if (!coord_retriable(err)) return 0;
            cw_frame_unref(*frame);
            *frame = NULL;
        } else if (!coord_retriable(err)) {
            return err;
        }
        if (cw_now_ms() + ADMIN_RETRY_MS >= deadline) {
            cw_errf(a->err, sizeof a->err, "%s: group '%s': %s (still after %d ms)", g->name, group,
                    weir_client_err_text(err), a->timeout_ms);
            return WEIR_CLIENT_E_TIMED_OUT;
        }
        admin_sleep_ms(ADMIN_RETRY_MS);
    }
}

static int invalid_arg(struct weir_admin *a)
{
    if (a) cw_errf(a->err, sizeof a->err, "invalid argument");
    return WEIR_CLIENT_E_INVALID_ARG;
}

/* a, an array p of n (NULL when n is 0) whose names are all set. */
static bool names_ok(const struct weir_admin *a, const char *const *p, size_t n)
{
    if (!a || (!p && n) || n > INT32_MAX / 2) return false;
    for (size_t i = 0; i < n; i++)
        if (!p[i]) return false;
    return true;
}

static int tp_cmp(const char *ta, int32_t pa, const char *tb, int32_t pb)
{
    int c = strcmp(ta, tb);
    return c ? c : (pa > pb) - (pa < pb);
}
static int group_tp_cmp(const void *x, const void *y)
{
    const struct weir_group_tp *a = x, *b = y;
    return tp_cmp(a->topic, a->partition, b->topic, b->partition);
}
static int topic_partition_cmp(const void *x, const void *y)
{
    const struct weir_topic_partition *a = x, *b = y;
    return tp_cmp(a->topic, a->partition, b->topic, b->partition);
}
static int listing_cmp(const void *x, const void *y)
{
    return strcmp(((const struct weir_group_listing *)x)->group_id, ((const struct weir_group_listing *)y)->group_id);
}

int weir_admin_list_groups(struct weir_admin *a, struct weir_group_list **out)
{
    if (!a || !out) return invalid_arg(a);
    *out = NULL;
    int16_t v;
    int32_t corr;
    struct kframe f;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int rc = admin_begin(a, KAPI_LIST_GROUPS, "ListGroups", &v, &corr, &f);
    if (rc == 0) {
        kproto_listgroups_request_encode(&a->kb, v, NULL);
        rc = admin_finish(a, &f, KAPI_LIST_GROUPS, v, corr, "ListGroups", &frame, &rd);
    }
    struct klistgroups_resp resp;
    if (rc == 0 && kproto_listgroups_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "ListGroups: malformed response");
    if (rc == 0 && resp.error_code != 0) {
        rc = resp.error_code;
        cw_errf(a->err, sizeof a->err, "ListGroups: %s", weir_client_err_text(rc));
    }
    if (rc == 0) {
        struct admin_blob *b = blob_new(frame->len);
        bool oom = !b;
        struct weir_group_listing *gs = b ? blob_array(b, resp.n_groups, sizeof *gs, &oom) : NULL;
        for (int32_t i = 0; gs && i < resp.n_groups; i++)
            gs[i] = (struct weir_group_listing){ blob_str(b, resp.groups[i].group_id, &oom),
                                                 blob_str(b, resp.groups[i].protocol_type, &oom) };
        if (oom) {
            blob_free(b);
            rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "ListGroups");
        } else {
            if (gs) qsort(gs, (size_t)resp.n_groups, sizeof *gs, listing_cmp);
            b->pub.gl = (struct weir_group_list){ gs, gs ? (size_t)resp.n_groups : 0 };
            *out = &b->pub.gl;
        }
    }
    cw_frame_unref(frame);
    return rc;
}

void weir_group_list_destroy(struct weir_group_list *l)
{
    if (l) blob_free(weir_container_of(l, struct admin_blob, pub.gl));
}

static int describe_err(const void *r)
{
    const struct kdescribegroups_resp *d = r;
    return d->n_groups >= 1 ? d->groups[0].error_code : 0;
}

/* The member's partitions from its ConsumerProtocolAssignment bytes. */
static void member_assignment(struct weir_admin *a, struct admin_blob *b, struct kbytes bytes,
                              struct weir_group_member *m, bool *oom)
{
    struct weir_rd rd = weir_rd_make(bytes.ptr, (size_t)WEIR_MAX(bytes.len, 0));
    struct kconsumer_assignment as;
    if (kproto_consumer_assignment_decode(&rd, &a->arena, &as) != WEIR_OK) {
        m->assignment_err = WEIR_CLIENT_E_BAD_MSG;
        return;
    }
    int64_t n = 0;
    for (int32_t i = 0; i < as.n_partitions; i++) n += as.partitions[i].n_partitions;
    if (n > INT32_MAX) {
        m->assignment_err = WEIR_CLIENT_E_BAD_MSG;
        return;
    }
    struct weir_group_tp *tps = blob_array(b, (int32_t)n, sizeof *tps, oom);
    size_t k = 0;
    for (int32_t i = 0; tps && i < as.n_partitions; i++) {
        const char *topic = blob_str(b, as.partitions[i].topic, oom);
        for (int32_t j = 0; j < as.partitions[i].n_partitions; j++)
            tps[k++] = (struct weir_group_tp){ topic, as.partitions[i].partitions[j] };
    }
    if (tps) qsort(tps, k, sizeof *tps, group_tp_cmp);
    m->assignment = tps;
    m->assignment_count = tps ? k : 0;
}

static void group_copy(struct weir_admin *a, struct admin_blob *b, const struct kdescribegroups_group *g,
                       struct weir_group_description *d, bool *oom)
{
    d->group_id = blob_str(b, g->group_id, oom);
    d->err = g->error_code;
    d->state = blob_str(b, g->state, oom);
    d->protocol_type = blob_str(b, g->protocol_type, oom);
    d->protocol = blob_str(b, g->protocol_data, oom);
    bool consumer = kstr_eq(g->protocol_type, "consumer");
    struct weir_group_member *ms = blob_array(b, g->n_members, sizeof *ms, oom);
    for (int32_t i = 0; ms && i < g->n_members; i++) {
        const struct kdescribegroups_member *km = &g->members[i];
        ms[i].member_id = blob_str(b, km->member_id, oom);
        ms[i].client_id = blob_str(b, km->client_id, oom);
        ms[i].client_host = blob_str(b, km->client_host, oom);
        if (consumer) member_assignment(a, b, km->assignment, &ms[i], oom);
    }
    d->members = ms;
    d->members_count = ms ? (size_t)g->n_members : 0;
}

int weir_admin_describe_groups(struct weir_admin *a, const char *const *groups, size_t n,
                               struct weir_group_descriptions **out)
{
    if (!names_ok(a, groups, n) || !out) return invalid_arg(a);
    *out = NULL;
    struct admin_blob *b = blob_new(ADMIN_GROUP_BLOB_MAX / 32);
    bool oom = !b;
    struct weir_group_description *ds = b ? blob_array(b, (int32_t)n, sizeof *ds, &oom) : NULL;
    int rc = oom ? admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeGroups") : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct kstr name = kstr_c(groups[i]);
        struct kdescribegroups_req req = { .groups = &name, .n_groups = 1 };
        struct kdescribegroups_resp resp;
        struct gcall g = { KAPI_DESCRIBE_GROUPS, "DescribeGroups", enc_describegroups, &req, dec_describegroups,
                           &resp, describe_err };
        struct cw_frame *frame = NULL;
        rc = group_call(a, groups[i], &g, &frame);
        if (rc > 0) { /* FindCoordinator refused the group (e.g. 24 INVALID_GROUP_ID) */
            ds[i] = (struct weir_group_description){ .group_id = blob_str(b, name, &oom), .err = rc, .state = "",
                                                     .protocol_type = "", .protocol = "" };
            rc = oom ? admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeGroups") : 0;
            continue;
        }
        if (rc == 0 && (resp.n_groups != 1 || !kstr_eq(resp.groups[0].group_id, groups[i]))) {
            cw_errf(a->err, sizeof a->err, "DescribeGroups: the answer does not describe group '%s'", groups[i]);
            rc = WEIR_CLIENT_E_BAD_MSG;
        }
        if (rc == 0) group_copy(a, b, &resp.groups[0], &ds[i], &oom);
        if (rc == 0 && oom) rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeGroups");
        cw_frame_unref(frame);
    }
    if (rc != 0) {
        blob_free(b);
        return rc;
    }
    b->pub.gd = (struct weir_group_descriptions){ ds, n };
    *out = &b->pub.gd;
    return 0;
}

void weir_group_descriptions_destroy(struct weir_group_descriptions *d)
{
    if (d) blob_free(weir_container_of(d, struct admin_blob, pub.gd));
}

static int offsetfetch_err(const void *r) { return ((const struct koffsetfetch_resp *)r)->error_code; }

int weir_admin_group_offsets(struct weir_admin *a, const char *group, const struct weir_group_tp *parts, size_t n,
                             struct weir_group_offsets **out)
{
    if (!a || !group || (!parts && n) || !out || n > INT32_MAX / 2) return invalid_arg(a);
    for (size_t i = 0; i < n; i++)
        if (!parts[i].topic || parts[i].partition < 0) return invalid_arg(a);
    *out = NULL;
    /* The request: the partitions grouped by topic (sorted), or null = all. */
    struct weir_group_tp *sorted = weir_calloc(n ? n : 1, sizeof *sorted);
    int32_t *idx = weir_calloc(n ? n : 1, sizeof *idx);
    struct koffsetfetch_req_topic *ts = weir_calloc(n ? n : 1, sizeof *ts);
    if (!sorted || !idx || !ts) {
        weir_free(sorted), weir_free(idx), weir_free(ts);
        return admin_fail(a, WEIR_CLIENT_E_NOMEM, "OffsetFetch");
    }
    if (n) memcpy(sorted, parts, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, group_tp_cmp);
    int32_t n_ts = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(sorted[i].topic, sorted[i - 1].topic))
            ts[n_ts++] = (struct koffsetfetch_req_topic){ kstr_c(sorted[i].topic), &idx[i], 0 };
        idx[i] = sorted[i].partition;
        ts[n_ts - 1].n_partition_indexes++;
    }
    struct koffsetfetch_req req = { .group_id = kstr_c(group), .topics = n ? ts : NULL, .n_topics = n ? n_ts : -1 };
    struct koffsetfetch_resp resp;
    struct gcall g = { KAPI_OFFSET_FETCH, "OffsetFetch", enc_offsetfetch, &req, dec_offsetfetch, &resp, offsetfetch_err };
    struct cw_frame *frame = NULL;
    int rc = group_call(a, group, &g, &frame);
    if (rc == 0 && resp.error_code != 0) {
        rc = resp.error_code;
        cw_errf(a->err, sizeof a->err, "OffsetFetch: group '%s': %s", group, weir_client_err_text(rc));
    }
    if (rc == 0) {
        struct admin_blob *b = blob_new(frame->len);
        bool oom = !b;
        int64_t total = 0;
        for (int32_t t = 0; t < resp.n_topics; t++) total += resp.topics[t].n_partitions;
        struct weir_topic_partition *ps = b && total <= INT32_MAX ? blob_array(b, (int32_t)total, sizeof *ps, &oom) : NULL;
        size_t k = 0;
        for (int32_t t = 0; ps && t < resp.n_topics; t++) {
            const char *topic = blob_str(b, resp.topics[t].name, &oom);
            for (int32_t p = 0; p < resp.topics[t].n_partitions; p++) {
                const struct koffsetfetch_resp_part *kp = &resp.topics[t].partitions[p];
                ps[k++] = (struct weir_topic_partition){ topic, kp->partition_index, kp->committed_offset,
                                                         kp->error_code };
            }
        }
        if (oom || total > INT32_MAX) {
            blob_free(b);
            rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "OffsetFetch");
        } else {
            if (ps) qsort(ps, k, sizeof *ps, topic_partition_cmp);
            b->pub.go = (struct weir_group_offsets){ ps, k };
            *out = &b->pub.go;
        }
    }
    cw_frame_unref(frame);
    weir_free(sorted), weir_free(idx), weir_free(ts);
    return rc;
}

void weir_group_offsets_destroy(struct weir_group_offsets *o)
{
    if (o) blob_free(weir_container_of(o, struct admin_blob, pub.go));
}

static int offsetcommit_err(const void *r)
{
    const struct koffsetcommit_resp *c = r;
    for (int32_t t = 0; t < c->n_topics; t++)
        if (c->topics[t].n_partitions > 0) return c->topics[t].partitions[0].error_code;
    return 0;
}

/* An offsets[] entry to sort by (topic, partition). */
struct commit_ref {
    const char *topic;
    int32_t partition;
    int64_t offset;
};
static int commit_ref_cmp(const void *x, const void *y)
{
    const struct commit_ref *a = x, *b = y;
    return tp_cmp(a->topic, a->partition, b->topic, b->partition);
}

int weir_admin_commit_group_offsets(struct weir_admin *a, const char *group, struct weir_topic_partition *offsets,
                                    size_t n)
{
    if (!a || !group || (!offsets && n) || n > INT32_MAX / 2) return invalid_arg(a);
    for (size_t i = 0; i < n; i++)
        if (!offsets[i].topic || offsets[i].partition < 0 || offsets[i].offset < 0) return invalid_arg(a);
    if (n == 0) return 0;
    struct commit_ref *order = weir_calloc(n, sizeof *order);
    struct koffsetcommit_req_part *ps = weir_calloc(n, sizeof *ps);
    struct koffsetcommit_req_topic *ts = weir_calloc(n, sizeof *ts);
    if (!order || !ps || !ts) {
        weir_free(order), weir_free(ps), weir_free(ts);
        return admin_fail(a, WEIR_CLIENT_E_NOMEM, "OffsetCommit");
    }
    for (size_t i = 0; i < n; i++) order[i] = (struct commit_ref){ offsets[i].topic, offsets[i].partition, offsets[i].offset };
    qsort(order, n, sizeof *order, commit_ref_cmp);
    int32_t n_ts = 0;
    for (size_t k = 0; k < n; k++) {
        const struct commit_ref *o = &order[k];
        if (k == 0 || strcmp(o->topic, order[k - 1].topic))
            ts[n_ts++] = (struct koffsetcommit_req_topic){ kstr_c(o->topic), &ps[k], 0 };
        ps[k] = (struct koffsetcommit_req_part){ o->partition, o->offset, -1, kstr_c(""), -1 };
        ts[n_ts - 1].n_partitions++;
    }
    /* generation -1, no member: a commit from outside the group */
    struct koffsetcommit_req req = { kstr_c(group), -1, kstr_c(""), KSTR_NULL, ts, n_ts, -1 };
    struct koffsetcommit_resp resp;
    struct gcall g = { KAPI_OFFSET_COMMIT, "OffsetCommit", enc_offsetcommit, &req, dec_offsetcommit, &resp,
                       offsetcommit_err };
    struct cw_frame *frame = NULL;
    int rc = group_call(a, group, &g, &frame);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        offsets[i].err = WEIR_CLIENT_E_BAD_MSG; /* unless the answer names it */
        for (int32_t t = 0; t < resp.n_topics; t++) {
            if (!kstr_eq(resp.topics[t].name, offsets[i].topic)) continue;
            for (int32_t p = 0; p < resp.topics[t].n_partitions; p++)
                if (resp.topics[t].partitions[p].partition_index == offsets[i].partition)
                    offsets[i].err = resp.topics[t].partitions[p].error_code;
        }
    }
    cw_frame_unref(frame);
    weir_free(order), weir_free(ps), weir_free(ts);
    return rc;
}

static int deletegroups_err(const void *r)
{
    const struct kdeletegroups_resp *d = r;
    return d->n_results >= 1 ? d->results[0].error_code : 0;
}

int weir_admin_delete_groups(struct weir_admin *a, const char *const *groups, size_t n,
                             struct weir_admin_result *results)
{
    if (!names_ok(a, groups, n) || (!results && n)) return invalid_arg(a);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct kstr name = kstr_c(groups[i]);
        struct kdeletegroups_req req = { &name, 1 };
        struct kdeletegroups_resp resp;
        struct gcall g = { KAPI_DELETE_GROUPS, "DeleteGroups", enc_deletegroups, &req, dec_deletegroups, &resp,
                           deletegroups_err };
        struct cw_frame *frame = NULL;
        rc = group_call(a, groups[i], &g, &frame);
        if (rc == 0 && (resp.n_results != 1 || !kstr_eq(resp.results[0].group_id, groups[i])))
            result_set(&results[i], WEIR_CLIENT_E_BAD_MSG, kstr_c("the broker's answer does not name this group"));
        else if (rc == 0)
            result_set(&results[i], resp.results[0].error_code, KSTR_NULL);
        else if (rc > 0) /* FindCoordinator refused the group (e.g. 24 INVALID_GROUP_ID) */
            result_set(&results[i], rc, KSTR_NULL), rc = 0;
        cw_frame_unref(frame);
    }
    return rc;
}

static int offsetdelete_err(const void *r) { return ((const struct koffsetdelete_resp *)r)->error_code; }

int weir_admin_delete_group_offsets(struct weir_admin *a, const char *group, struct weir_topic_partition *parts,
                                    size_t n)
{
    if (!a || !group || (!parts && n) || n > INT32_MAX / 2) return invalid_arg(a);
    for (size_t i = 0; i < n; i++)
        if (!parts[i].topic || parts[i].partition < 0) return invalid_arg(a);
    if (n == 0) return 0;
    struct commit_ref *order = weir_calloc(n, sizeof *order);
    int32_t *ps = weir_calloc(n, sizeof *ps);
    struct koffsetdelete_req_topic *ts = weir_calloc(n, sizeof *ts);
    if (!order || !ps || !ts) {
        weir_free(order), weir_free(ps), weir_free(ts);
        return admin_fail(a, WEIR_CLIENT_E_NOMEM, "OffsetDelete");
    }
    for (size_t i = 0; i < n; i++) order[i] = (struct commit_ref){ parts[i].topic, parts[i].partition, 0 };
    qsort(order, n, sizeof *order, commit_ref_cmp);
    int32_t n_ts = 0;
    for (size_t k = 0; k < n; k++) {
        if (k == 0 || strcmp(order[k].topic, order[k - 1].topic))
            ts[n_ts++] = (struct koffsetdelete_req_topic){ kstr_c(order[k].topic), &ps[k], 0 };
        ps[k] = order[k].partition;
        ts[n_ts - 1].n_partitions++;
    }
    struct koffsetdelete_req req = { kstr_c(group), ts, n_ts };
    struct koffsetdelete_resp resp;
    struct gcall g = { KAPI_OFFSET_DELETE, "OffsetDelete", enc_offsetdelete, &req, dec_offsetdelete, &resp,
                       offsetdelete_err };
    struct cw_frame *frame = NULL;
    int rc = group_call(a, group, &g, &frame);
    if (rc == 0 && resp.error_code) rc = resp.error_code;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        parts[i].err = WEIR_CLIENT_E_BAD_MSG; /* unless the answer names it */
        for (int32_t t = 0; t < resp.n_topics; t++) {
            if (!kstr_eq(resp.topics[t].name, parts[i].topic)) continue;
            for (int32_t p = 0; p < resp.topics[t].n_partitions; p++)
                if (resp.topics[t].partitions[p].partition_index == parts[i].partition)
                    parts[i].err = resp.topics[t].partitions[p].error_code;
        }
    }
    if (rc > 0) cw_errf(a->err, sizeof a->err, "OffsetDelete: group '%s': %s", group, weir_kerr_str((int16_t)rc));
    cw_frame_unref(frame);
    weir_free(order), weir_free(ps), weir_free(ts);
    return rc;
}

/* ---- DeleteRecords --------------------------------------------------------------------- */

/* The connection to the leader of (topic, partition) that Metadata names on
 * the admin connection: conn itself, or coord moved there. Unknown (or an
 * address that does not answer): conn, whose broker then answers the error. */
static struct cw_conn *admin_leader(struct weir_admin *a, const char *topic, int32_t partition)
{
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    weir_arena_reset(&a->arena);
    if (cw_metadata(&a->conn, &a->arena, &topic, 1, a->timeout_ms, &md, &frame) != 0) return &a->conn;
    int32_t leader = -1;
    for (int32_t t = 0; t < md.n_topics; t++)
        for (int32_t p = 0; kstr_eq(md.topics[t].name, topic) && p < md.topics[t].n_partitions; p++)
            if (md.topics[t].partitions[p].partition_index == partition) leader = md.topics[t].partitions[p].leader_id;
    char host[CW_HOST_MAX] = "";
    int port = 0;
    for (int32_t i = 0; i < md.n_brokers; i++) {
        const struct kmetadata_broker *b = &md.brokers[i];
        if (b->node_id == leader && b->host.len > 0 && (size_t)b->host.len < sizeof host) {
            memcpy(host, b->host.ptr, (size_t)b->host.len);
            host[b->host.len] = '\0';
            port = b->port;
        }
    }
    cw_frame_unref(frame);
    if (!host[0] || (port == a->conn.port && !strcmp(host, a->conn.host))) return &a->conn;
    if (cw_is_up(&a->coord) && port == a->coord.port && !strcmp(host, a->coord.host)) return &a->coord;
    return cw_connect(&a->coord, host, port, a->timeout_ms) == 0 ? &a->coord : &a->conn;
}

static void enc_deleterecords(struct kbuf *kb, int16_t v, const void *r) { kproto_deleterecords_request_encode(kb, v, r); }

int weir_admin_delete_records(struct weir_admin *a, const char *topic, int32_t partition, int64_t offset,
                              struct weir_admin_result *result, int64_t *low_watermark)
{
    if (!args_ok(a, topic, 1, result) || !low_watermark) return invalid_arg(a);
    a->err[0] = '\0';
    int rc = admin_conn(a);
    if (rc != 0) return rc;
    struct cw_conn *c = admin_leader(a, topic, partition);
    struct kdeleterecords_req_part rp = { partition, offset };
    struct kdeleterecords_req_topic rt = { kstr_c(topic), &rp, 1 };
    struct kdeleterecords_req req = { &rt, 1, a->timeout_ms };
    int16_t v;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    weir_arena_reset(&a->arena);
    rc = conn_request(a, c, KAPI_DELETE_RECORDS, "DeleteRecords", enc_deleterecords, &req, a->timeout_ms, &v, &frame, &rd);
    struct kdeleterecords_resp resp;
    if (rc == 0 && kproto_deleterecords_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "DeleteRecords: malformed response");
    if (rc == 0) {
        result_set(result, WEIR_CLIENT_E_BAD_MSG, kstr_c("the broker's answer does not name this partition"));
        *low_watermark = -1;
        for (int32_t t = 0; t < resp.n_topics; t++)
            for (int32_t p = 0; kstr_eq(resp.topics[t].name, topic) && p < resp.topics[t].n_partitions; p++)
                if (resp.topics[t].partitions[p].partition_index == partition) {
                    result_set(result, resp.topics[t].partitions[p].error_code, KSTR_NULL);
                    *low_watermark = resp.topics[t].partitions[p].low_watermark;
                }
    }
    cw_frame_unref(frame);
    return rc;
}
/* ---- DescribeLogDirs ---------------------------------------------------------------------- */

static void enc_describelogdirs(struct kbuf *kb, int16_t v, const void *r)
{
    kproto_describelogdirs_request_encode(kb, v, r);
}

static struct weir_log_dirs *logdirs_copy(const struct kdescribelogdirs_resp *r, size_t frame_len)
{
    struct admin_blob *b = blob_new(frame_len);
    if (!b) return NULL;
    bool oom = false;
    struct weir_log_dir *ds = blob_array(b, r->n_results, sizeof *ds, &oom);
    for (int32_t i = 0; ds && i < r->n_results; i++) {
        const struct kdescribelogdirs_result *k = &r->results[i];
        int32_t n = 0;
        for (int32_t t = 0; t < k->n_topics; t++) n += k->topics[t].n_partitions;
        struct weir_log_dir_partition *ps = blob_array(b, n, sizeof *ps, &oom);
        size_t at = 0;
        for (int32_t t = 0; ps && t < k->n_topics; t++) {
            const char *name = blob_str(b, k->topics[t].name, &oom);
            for (int32_t p = 0; p < k->topics[t].n_partitions; p++)
                ps[at++] = (struct weir_log_dir_partition){ name, k->topics[t].partitions[p].partition_index,
                                                            k->topics[t].partitions[p].partition_size };
        }
        ds[i] = (struct weir_log_dir){ blob_str(b, k->log_dir, &oom), k->error_code, k->total_bytes, k->usable_bytes,
                                       ps, at };
    }
    b->pub.ld = (struct weir_log_dirs){ ds, ds ? (size_t)r->n_results : 0 };
    if (oom) {
        blob_free(b);
        return NULL;
    }
    return &b->pub.ld;
}

int weir_admin_describe_log_dirs(struct weir_admin *a, const char *host, int port, struct weir_log_dirs **out)
{
    if (!a || !host || !out) return invalid_arg(a);
    *out = NULL;
    a->err[0] = '\0';
    int rc = admin_conn(a);
    if (rc != 0) return rc;
    struct cw_conn *c = &a->conn;
    if (port != a->conn.port || strcmp(host, a->conn.host)) {
        c = &a->coord;
        if (!(cw_is_up(c) && port == c->port && !strcmp(host, c->host)) && (rc = cw_connect(c, host, port, a->timeout_ms)))
            return admin_fail(a, rc, c->err[0] ? c->err : "cannot connect");
    }
    weir_arena_reset(&a->arena);
    struct kdescribelogdirs_req req = { NULL, -1 }; /* every partition */
    struct kdescribelogdirs_resp resp;
    struct cw_frame *frame = NULL;
    struct weir_rd rd;
    int16_t v;
    rc = conn_request(a, c, KAPI_DESCRIBE_LOG_DIRS, "DescribeLogDirs", enc_describelogdirs, &req, a->timeout_ms, &v,
                      &frame, &rd);
    if (rc == 0 && kproto_describelogdirs_response_decode(&rd, v, &a->arena, &resp) != WEIR_OK)
        rc = admin_fail(a, WEIR_CLIENT_E_BAD_MSG, "DescribeLogDirs: malformed response");
    if (rc == 0 && resp.error_code) {
        rc = resp.error_code;
        cw_errf(a->err, sizeof a->err, "DescribeLogDirs: %s", weir_kerr_str(resp.error_code));
    }
    if (rc == 0 && !(*out = logdirs_copy(&resp, frame->len))) rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeLogDirs");
    cw_frame_unref(frame);
    return rc;
}

void weir_log_dirs_destroy(struct weir_log_dirs *d)
{
    if (d) blob_free(weir_container_of(d, struct admin_blob, pub.ld));
}
