/* client/admin.c: the admin client (client.h): topics created, listed,
 * described, grown and deleted; configs described. One blocking connection,
 * to the controller the bootstrap broker names (or the bootstrap broker when
 * the controller's advertised address does not answer). Each call is one
 * request and its response; the caller's thread does the I/O. A call made
 * after the connection failed reconnects once. Results are copied out of the
 * response frame into memory the caller frees with one call. */
#include "wire_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct weir_admin {
    char *bootstrap;
    char *client_id;
    int timeout_ms;
    struct cw_conn conn;
    struct weir_arena arena;      /* response decoding; reset per call */
    struct kbuf kb;
    char err[CW_ERRBUF];
};

/* A copied-out result: the public struct first, then its arena. */
struct admin_blob {
    union {
        struct weir_metadata md;
        struct weir_configs cf;
    } pub;
    struct weir_arena arena;
};

static int admin_fail(struct weir_admin *a, int err, const char *what)
{
    cw_errf(a->err, sizeof a->err, "%s: %s", what, a->conn.err[0] ? a->conn.err : weir_client_err_str(err));
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
        cw_errf(r->message, sizeof r->message, "%s", err ? weir_client_err_str(err) : "");
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
    struct kdeletetopics_req req = { ks, (int32_t)n, a->timeout_ms };
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

int weir_admin_describe_configs(struct weir_admin *a, int resource_type, const char *name, struct weir_configs **out)
{
    if (!args_ok(a, name, 1, out)) return WEIR_CLIENT_E_INVALID_ARG;
    *out = NULL;
    struct kdescribeconfigs_resource res = { (int8_t)resource_type, kstr_c(name), NULL, -1 };
    struct kdescribeconfigs_req req = { &res, 1, false };
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
        const struct kdescribeconfigs_result *r = &resp.results[0];
        rc = r->error_code;
        if (r->error_message.len > 0)
            cw_errf(a->err, sizeof a->err, "%.*s", (int)r->error_message.len, r->error_message.ptr);
        else
            cw_errf(a->err, sizeof a->err, "%s", weir_client_err_str(rc));
    } else if (rc == 0 && !(*out = configs_copy(&resp.results[0], frame->len))) {
        rc = admin_fail(a, WEIR_CLIENT_E_NOMEM, "DescribeConfigs");
    }
    cw_frame_unref(frame);
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
    struct klistoffsets_req_part rp = { partition, timestamp };
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
        if (rc != 0) cw_errf(a->err, sizeof a->err, "ListOffsets: %s", weir_client_err_str(rc));
        else *offset = p->offset;
    }
    cw_frame_unref(frame);
    return rc;
}
