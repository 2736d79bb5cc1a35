/* repl/znode.c: Kafka's znode JSON (kafka.zk.ZkData, Kafka 2.x/3.x).
 *
 * Decoders read what ZkData's decode reads and skip what it ignores; a known
 * key given twice is an error (Kafka's Jackson would keep the last one, but a
 * duplicate never comes from Kafka and silently picking one hides a bug).
 * Encoders write ZkData's encode output; key order follows what Kafka's maps
 * produce where it is stable (order carries no meaning to any reader). */
#include <stdio.h>

#include "core_int.h"

/* ---- shared helpers ------------------------------------------------------------- */

/* A decode context: the reader plus the why buffer. */
struct dec {
    struct rp_jr r;
    char *why;
    size_t why_cap;
};

static void dec_init(struct dec *d, const void *data, size_t n, char *why, size_t why_cap)
{
    rp_jr_init(&d->r, data, n);
    d->why = why;
    d->why_cap = why_cap;
    if (why_cap) why[0] = '\0';
}

static enum weir_err dec_done(struct dec *d, bool ok)
{
    if (ok && rp_jr_finish(&d->r)) return WEIR_OK;
    if (!d->r.err) rp_jr_fail(&d->r, "invalid");
    rp_jr_error(&d->r, d->why, d->why_cap);
    return WEIR_E_CORRUPT;
}

/* A known key: fails if seen before, else marks it. */
static bool key_once(struct rp_jr *r, uint32_t *seen, unsigned bit)
{
    if (*seen & (1u << bit)) return rp_jr_fail(r, "duplicate key");
    *seen |= 1u << bit;
    return true;
}

static bool int32_read(struct rp_jr *r, int32_t *out)
{
    int64_t v;
    if (!rp_jr_int(r, INT32_MIN, INT32_MAX, &v)) return false;
    *out = (int32_t)v;
    return true;
}

/* A string or null ("" for null). */
static bool str_or_null(struct rp_jr *r, char *buf, size_t cap)
{
    if (rp_jr_peek(r) == RP_J_NULL) {
        buf[0] = '\0';
        return rp_jr_null(r);
    }
    return rp_jr_str(r, buf, cap, NULL);
}

/* Kafka writes timestamps as decimal strings; -1 when absent or not decimal.
 * Kafka never reads them, so any type is accepted. */
static bool timestamp_read(struct rp_jr *r, int64_t *out)
{
    *out = -1;
    char buf[32];
    if (rp_jr_peek(r) == RP_J_STR) {
        size_t n;
        const uint8_t *at = r->pos;
        if (!rp_jr_str(r, buf, sizeof buf, &n)) {
            if (r->err && strcmp(r->err, "string too long") == 0) { /* not a timestamp: skip it */
                r->err = NULL;
                r->pos = at;
                return rp_jr_skip(r);
            }
            return false;
        }
        int64_t v = 0;
        bool ok = n > 0 && n <= 18;
        for (size_t i = 0; ok && i < n; i++) {
            if (buf[i] < '0' || buf[i] > '9') ok = false;
            else v = v * 10 + (buf[i] - '0');
        }
        if (ok) *out = v;
        return true;
    }
    if (rp_jr_peek(r) == RP_J_NUM) {
        const uint8_t *at = r->pos;
        int64_t v;
        if (rp_jr_int(r, 0, INT64_MAX, &v)) return *out = v, true;
        r->err = NULL; /* a fraction or out of range: ignored like any other odd value */
        r->pos = at;
    }
    return rp_jr_skip(r);
}

/* [ids...]: at most RP_REPLICAS_MAX non-negative int32s, no repeats. */
static bool replica_list_read(struct rp_jr *r, int32_t *ids, uint32_t *n)
{
    *n = 0;
    if (!rp_jr_arr_begin(r)) return false;
    while (rp_jr_arr_next(r)) {
        int32_t id;
        if (!int32_read(r, &id)) return false;
        if (id < 0) return rp_jr_fail(r, "negative broker id");
        if (*n == RP_REPLICAS_MAX) return rp_jr_fail(r, "too many replicas");
        for (uint32_t i = 0; i < *n; i++)
            if (ids[i] == id) return rp_jr_fail(r, "broker id repeated in a replica list");
        ids[(*n)++] = id;
    }
    return r->err == NULL;
}

static void replica_list_write(struct rp_jw *w, const int32_t *ids, uint32_t n)
{
    rp_jw_arr_begin(w);
    for (uint32_t i = 0; i < n; i++) rp_jw_int(w, ids[i]);
    rp_jw_arr_end(w);
}

static enum weir_err enc_done(const struct rp_jw *w, size_t *len) { return rp_jw_done(w, len); }

/* ---- /brokers/ids/<id> ------------------------------------------------------------- */

static const char *const security_protocols[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };

static bool protocol_known(const char *p)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(security_protocols); i++)
        if (strcmp(p, security_protocols[i]) == 0) return true;
    return false;
}

bool rp_endpoint_parse(const char *s, struct rp_endpoint *ep)
{
    /* EndPoint.createEndPoint: ^(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+) */
    const char *sep = strstr(s, "://");
    if (!sep || sep == s || (size_t)(sep - s) >= sizeof ep->listener) return false;
    memcpy(ep->listener, s, (size_t)(sep - s));
    ep->listener[sep - s] = '\0';
    memcpy(ep->protocol, ep->listener, sizeof ep->protocol);
    const char *h = sep + 3, *h_end, *colon;
    if (*h == '[') {
        h++;
        h_end = strchr(h, ']');
        if (!h_end || h_end[1] != ':') return false;
        colon = h_end + 1;
    } else {
        colon = strrchr(h, ':');
        if (!colon) return false;
        h_end = colon;
    }
    if ((size_t)(h_end - h) >= sizeof ep->host) return false;
    for (const char *p = h; p < h_end; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '%' || *p == '.' || *p == '_' || *p == ':'))
            return false;
    memcpy(ep->host, h, (size_t)(h_end - h));
    ep->host[h_end - h] = '\0';
    const char *p = colon + 1;
    bool neg = *p == '-';
    p += neg;
    if (!*p) return false;
    int64_t port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535) return false;
        port = port * 10 + (*p - '0');
    }
    if (port > 65535) return false;
    ep->port = (int32_t)(neg ? -port : port);
    return true;
}

static void endpoint_format(const struct rp_endpoint *ep, char *buf, size_t cap)
{
    /* Utils.formatAddress: brackets around a host with ':' (IPv6) */
    snprintf(buf, cap, strchr(ep->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d", ep->listener, ep->host, ep->port);
}

enum { LSP_MAX = 16 };
struct lsp { char name[RP_LISTENER_MAX], proto[RP_LISTENER_MAX]; };

enum { B_VERSION, B_HOST, B_PORT, B_JMX, B_TS, B_ENDPOINTS, B_RACK, B_LSP };

static bool broker_members(struct rp_jr *r, struct rp_broker_reg *out, struct lsp *map, uint32_t *map_n,
                           uint32_t *seen)
{
    char key[RP_JSON_KEY_MAX], ep_text[RP_LISTENER_MAX + RP_HOST_MAX + 16];
    if (!rp_jr_obj_begin(r)) return false;
    while (rp_jr_obj_next(r, key)) {
        bool ok;
        if (strcmp(key, "version") == 0) ok = key_once(r, seen, B_VERSION) && int32_read(r, &out->version);
        else if (strcmp(key, "host") == 0) ok = key_once(r, seen, B_HOST) && str_or_null(r, out->host, sizeof out->host);
        else if (strcmp(key, "port") == 0) ok = key_once(r, seen, B_PORT) && int32_read(r, &out->port);
        else if (strcmp(key, "jmx_port") == 0) ok = key_once(r, seen, B_JMX) && int32_read(r, &out->jmx_port);
        else if (strcmp(key, "timestamp") == 0) ok = key_once(r, seen, B_TS) && timestamp_read(r, &out->timestamp_ms);
        else if (strcmp(key, "rack") == 0) ok = key_once(r, seen, B_RACK) && str_or_null(r, out->rack, sizeof out->rack);
        else if (strcmp(key, "endpoints") == 0) {
            ok = key_once(r, seen, B_ENDPOINTS) && rp_jr_arr_begin(r);
            while (ok && rp_jr_arr_next(r)) {
                if (out->endpoints_n == RP_ENDPOINTS_MAX) return rp_jr_fail(r, "too many endpoints");
                if (!rp_jr_str(r, ep_text, sizeof ep_text, NULL)) return false;
                if (!rp_endpoint_parse(ep_text, &out->endpoints[out->endpoints_n++]))
                    return rp_jr_fail(r, "bad endpoint");
            }
            ok = ok && r->err == NULL;
        } else if (strcmp(key, "listener_security_protocol_map") == 0) {
            ok = key_once(r, seen, B_LSP) && rp_jr_obj_begin(r);
            while (ok && rp_jr_obj_next(r, key)) {
                if (*map_n == LSP_MAX) return rp_jr_fail(r, "too many listeners");
                if (strlen(key) >= RP_LISTENER_MAX) return rp_jr_fail(r, "listener name too long");
                for (uint32_t i = 0; i < *map_n; i++)
                    if (strcmp(map[i].name, key) == 0) return rp_jr_fail(r, "duplicate key");
                strcpy(map[*map_n].name, key);
                if (!rp_jr_str(r, map[*map_n].proto, RP_LISTENER_MAX, NULL)) return false;
                if (!protocol_known(map[*map_n].proto)) return rp_jr_fail(r, "unknown security protocol");
                (*map_n)++;
            }
            ok = ok && r->err == NULL;
        } else {
            ok = rp_jr_skip(r);
        }
        if (!ok) return false;
    }
    return r->err == NULL;
}

enum weir_err rp_broker_reg_decode(const void *data, size_t n, struct rp_broker_reg *out, char *why, size_t why_cap)
{
    struct dec d;
    dec_init(&d, data, n, why, why_cap);
    memset(out, 0, sizeof *out);
    out->port = -1;
    out->timestamp_ms = -1;
    struct lsp map[LSP_MAX];
    uint32_t map_n = 0, seen = 0;
    bool ok = broker_members(&d.r, out, map, &map_n, &seen);
    /* BrokerIdZNode.decode: version and jmx_port always; host and port for
     * version 1, endpoints from version 2. */
    if (ok && !(seen & 1u << B_VERSION)) ok = rp_jr_fail(&d.r, "missing version");
    if (ok && out->version < 1) ok = rp_jr_fail(&d.r, "unsupported version");
    if (ok && !(seen & 1u << B_JMX)) ok = rp_jr_fail(&d.r, "missing jmx_port");
    if (ok && out->version == 1) {
        if (!(seen & 1u << B_HOST) || !(seen & 1u << B_PORT)) ok = rp_jr_fail(&d.r, "missing host or port");
        /* the endpoint a PLAINTEXT listener string would give (same host rule) */
        char ep_text[RP_LISTENER_MAX + RP_HOST_MAX + 16];
        struct rp_endpoint ep = { .port = out->port };
        memcpy(ep.listener, "PLAINTEXT", sizeof "PLAINTEXT");
        memcpy(ep.host, out->host, sizeof ep.host);
        endpoint_format(&ep, ep_text, sizeof ep_text);
        out->endpoints_n = 1;
        if (ok && !rp_endpoint_parse(ep_text, &out->endpoints[0])) ok = rp_jr_fail(&d.r, "bad host or port");
    } else if (ok) {
        if (!(seen & 1u << B_ENDPOINTS)) ok = rp_jr_fail(&d.r, "missing endpoints");
        /* EndPoint.createEndPoint: the map names each listener's protocol;
         * without it the listener name is the protocol. */
        for (uint32_t i = 0; ok && i < out->endpoints_n; i++) {
            struct rp_endpoint *ep = &out->endpoints[i];
            if (seen & 1u << B_LSP) {
                uint32_t k = 0;
                while (k < map_n && strcmp(map[k].name, ep->listener) != 0) k++;
                if (k == map_n) ok = rp_jr_fail(&d.r, "endpoint listener missing from listener_security_protocol_map");
                else memcpy(ep->protocol, map[k].proto, sizeof ep->protocol);
            } else if (!protocol_known(ep->listener)) {
                ok = rp_jr_fail(&d.r, "endpoint listener is not a security protocol");
            }
        }
    }
    return dec_done(&d, ok);
}

enum weir_err rp_broker_reg_encode(const struct rp_broker_reg *reg, char *buf, size_t cap, size_t *len)
{
    /* BrokerIdZNode.encode(version 5); host and port: the first PLAINTEXT endpoint. */
    const struct rp_endpoint *plain = NULL;
    for (uint32_t i = 0; i < reg->endpoints_n && !plain; i++)
        if (strcmp(reg->endpoints[i].protocol, "PLAINTEXT") == 0) plain = &reg->endpoints[i];
    struct rp_jw w;
    rp_jw_init(&w, buf, cap);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "features");
    rp_jw_obj_begin(&w);
    rp_jw_obj_end(&w);
    rp_jw_key(&w, "listener_security_protocol_map");
    rp_jw_obj_begin(&w);
    for (uint32_t i = 0; i < reg->endpoints_n; i++) {
        bool dup = false;
        for (uint32_t k = 0; k < i; k++) dup |= strcmp(reg->endpoints[k].listener, reg->endpoints[i].listener) == 0;
        if (dup) continue;
        rp_jw_key(&w, reg->endpoints[i].listener);
        rp_jw_str(&w, reg->endpoints[i].protocol);
    }
    rp_jw_obj_end(&w);
    rp_jw_key(&w, "endpoints");
    rp_jw_arr_begin(&w);
    for (uint32_t i = 0; i < reg->endpoints_n; i++) {
        char ep[RP_LISTENER_MAX + RP_HOST_MAX + 16];
        endpoint_format(&reg->endpoints[i], ep, sizeof ep);
        rp_jw_str(&w, ep);
    }
    rp_jw_arr_end(&w);
    rp_jw_key(&w, "jmx_port");
    rp_jw_int(&w, reg->jmx_port);
    rp_jw_key(&w, "host");
    if (plain) rp_jw_str(&w, plain->host);
    else rp_jw_null(&w);
    if (reg->rack[0]) {
        rp_jw_key(&w, "rack");
        rp_jw_str(&w, reg->rack);
    }
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)reg->timestamp_ms);
    rp_jw_key(&w, "timestamp");
    rp_jw_str(&w, ts);
    rp_jw_key(&w, "port");
    rp_jw_int(&w, plain ? plain->port : -1);
    rp_jw_key(&w, "version");
    rp_jw_int(&w, 5);
    rp_jw_obj_end(&w);
    return enc_done(&w, len);
}

/* ---- /controller ------------------------------------------------------------------- */

enum weir_err rp_controller_decode(const void *data, size_t n, struct rp_controller *out, char *why, size_t why_cap)
{
    /* ControllerZNode.decode reads "brokerid" only. */
    struct dec d;
    dec_init(&d, data, n, why, why_cap);
    out->broker_id = -1;
    out->timestamp_ms = -1;
    char key[RP_JSON_KEY_MAX];
    uint32_t seen = 0;
    bool ok = rp_jr_obj_begin(&d.r);
    while (ok && rp_jr_obj_next(&d.r, key)) {
        if (strcmp(key, "brokerid") == 0) ok = key_once(&d.r, &seen, 0) && int32_read(&d.r, &out->broker_id);
        else if (strcmp(key, "timestamp") == 0) ok = key_once(&d.r, &seen, 1) && timestamp_read(&d.r, &out->timestamp_ms);
        else if (strcmp(key, "version") == 0) ok = key_once(&d.r, &seen, 2) && rp_jr_skip(&d.r);
        else ok = rp_jr_skip(&d.r);
    }
    ok = ok && d.r.err == NULL;
    if (ok && !(seen & 1u)) ok = rp_jr_fail(&d.r, "missing brokerid");
    return dec_done(&d, ok);
}

enum weir_err rp_controller_encode(const struct rp_controller *c, char *buf, size_t cap, size_t *len)
{
    struct rp_jw w;
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)c->timestamp_ms);
    rp_jw_init(&w, buf, cap);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "version");
    rp_jw_int(&w, 1);
    rp_jw_key(&w, "brokerid");
    rp_jw_int(&w, c->broker_id);
    rp_jw_key(&w, "timestamp");
    rp_jw_str(&w, ts);
    rp_jw_obj_end(&w);
    return enc_done(&w, len);
}

/* ---- /brokers/topics/<t> ------------------------------------------------------------- */

/* A partition key: decimal, no sign, no leading zero. */
static bool partition_key(struct rp_jr *r, const char *key, uint32_t *p)
{
    size_t n = strlen(key);
    if (n == 0 || n > 7 || (key[0] == '0' && n > 1)) return rp_jr_fail(r, "bad partition key");
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (key[i] < '0' || key[i] > '9') return rp_jr_fail(r, "bad partition key");
        v = v * 10 + (uint32_t)(key[i] - '0');
    }
    *p = v;
    return true;
}

/* Pass 1: the number of members of "partitions" (0 when absent). */
static bool partitions_count(struct rp_jr r, uint32_t *count)
{
    char key[RP_JSON_KEY_MAX];
    *count = 0;
    if (!rp_jr_obj_begin(&r)) return false;
    while (rp_jr_obj_next(&r, key)) {
        if (strcmp(key, "partitions") != 0) {
            if (!rp_jr_skip(&r)) return false;
            continue;
        }
        if (!rp_jr_obj_begin(&r)) return false;
        while (rp_jr_obj_next(&r, key)) {
            if (*count == RP_PARTITIONS_MAX) return false;
            (*count)++;
            if (!rp_jr_skip(&r)) return false;
        }
        return r.err == NULL;
    }
    return r.err == NULL;
}

static int32_t *ids_alloc(struct weir_arena *a, const int32_t *ids, uint32_t n)
{
    int32_t *p = weir_arena_alloc(a, sizeof *p * (n ? n : 1));
    if (p && n) memcpy(p, ids, sizeof *p * n);
    return p;
}

/* "partitions" (which = 0), "adding_replicas" (1) or "removing_replicas" (2). */
static bool assign_map_read(struct rp_jr *r, struct weir_arena *a, struct rp_topic_assign *t, int which, bool *nomem)
{
    char key[RP_JSON_KEY_MAX];
    int32_t ids[RP_REPLICAS_MAX];
    uint32_t n;
    if (!rp_jr_obj_begin(r)) return false;
    while (rp_jr_obj_next(r, key)) {
        uint32_t p = 0;
        if (!partition_key(r, key, &p) || !replica_list_read(r, ids, &n)) return false;
        if (which == 0 && p >= t->partitions_n) return rp_jr_fail(r, "partitions are not 0..n-1");
        if (p >= t->partitions_n) continue; /* TopicZNode.decode reads these only for listed partitions */
        struct rp_part_assign *pa = &t->parts[p];
        int32_t **dst = which == 0 ? &pa->replicas : which == 1 ? &pa->adding : &pa->removing;
        uint32_t *dst_n = which == 0 ? &pa->replicas_n : which == 1 ? &pa->adding_n : &pa->removing_n;
        if (*dst) return rp_jr_fail(r, "duplicate key");
        if (!(*dst = ids_alloc(a, ids, n))) return *nomem = true, rp_jr_fail(r, "arena full");
        *dst_n = n;
    }
    return r->err == NULL;
}

enum weir_err rp_topic_assign_decode(const void *data, size_t n, struct weir_arena *arena,
                                     struct rp_topic_assign *out, char *why, size_t why_cap)
{
    struct dec d;
    dec_init(&d, data, n, why, why_cap);
    memset(out, 0, sizeof *out);
    bool nomem = false, ok = true;
    uint32_t count = 0, seen = 0;
    if (!partitions_count(d.r, &count)) count = 0; /* malformed or too many: pass 2 names it */
    out->partitions_n = count;
    if (count) {
        out->parts = weir_arena_alloc(arena, sizeof *out->parts * count);
        if (!out->parts) nomem = true, ok = rp_jr_fail(&d.r, "arena full");
        else memset(out->parts, 0, sizeof *out->parts * count);
    }
    char key[RP_JSON_KEY_MAX];
    ok = ok && rp_jr_obj_begin(&d.r);
    while (ok && rp_jr_obj_next(&d.r, key)) {
        if (strcmp(key, "version") == 0) ok = key_once(&d.r, &seen, 0) && int32_read(&d.r, &out->version);
        else if (strcmp(key, "partitions") == 0) ok = key_once(&d.r, &seen, 1) && assign_map_read(&d.r, arena, out, 0, &nomem);
        else if (strcmp(key, "adding_replicas") == 0) ok = key_once(&d.r, &seen, 2) && assign_map_read(&d.r, arena, out, 1, &nomem);
        else if (strcmp(key, "removing_replicas") == 0) ok = key_once(&d.r, &seen, 3) && assign_map_read(&d.r, arena, out, 2, &nomem);
        else if (strcmp(key, "topic_id") == 0)
            ok = key_once(&d.r, &seen, 4) && rp_jr_str(&d.r, out->topic_id, sizeof out->topic_id, NULL);
        else ok = rp_jr_skip(&d.r);
    }
    ok = ok && d.r.err == NULL;
    enum weir_err err = dec_done(&d, ok);
    if (nomem) err = WEIR_E_NOMEM;
    /* every absent adding/removing list reads as empty */
    for (uint32_t p = 0; err == WEIR_OK && p < out->partitions_n; p++) {
        WEIR_ASSERT(out->parts[p].replicas != NULL);
        if (!out->parts[p].adding) out->parts[p].adding = out->parts[p].replicas, out->parts[p].adding_n = 0;
        if (!out->parts[p].removing) out->parts[p].removing = out->parts[p].replicas, out->parts[p].removing_n = 0;
    }
    return err;
}

enum weir_err rp_topic_assign_encode(const struct rp_topic_assign *t, char *buf, size_t cap, size_t *len)
{
    /* TopicZNode.encode: adding/removing list only partitions with a nonempty list. */
    struct rp_jw w;
    char key[16];
    rp_jw_init(&w, buf, cap);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "version");
    rp_jw_int(&w, t->topic_id[0] ? 3 : 2);
    for (int which = 0; which < 3; which++) {
        rp_jw_key(&w, which == 0 ? "partitions" : which == 1 ? "adding_replicas" : "removing_replicas");
        rp_jw_obj_begin(&w);
        for (uint32_t p = 0; p < t->partitions_n; p++) {
            const struct rp_part_assign *pa = &t->parts[p];
            const int32_t *ids = which == 0 ? pa->replicas : which == 1 ? pa->adding : pa->removing;
            uint32_t n = which == 0 ? pa->replicas_n : which == 1 ? pa->adding_n : pa->removing_n;
            if (which != 0 && n == 0) continue;
            snprintf(key, sizeof key, "%u", p);
            rp_jw_key(&w, key);
            replica_list_write(&w, ids, n);
        }
        rp_jw_obj_end(&w);
    }
    if (t->topic_id[0]) {
        rp_jw_key(&w, "topic_id");
        rp_jw_str(&w, t->topic_id);
    }
    rp_jw_obj_end(&w);
    return enc_done(&w, len);
}

/* ---- /brokers/topics/<t>/partitions/<p>/state ---------------------------------------- */

enum weir_err rp_pstate_decode(const void *data, size_t n, struct rp_pstate *out, char *why, size_t why_cap)
{
    /* TopicPartitionStateZNode.decode: leader, leader_epoch, isr, controller_epoch. */
    struct dec d;
    dec_init(&d, data, n, why, why_cap);
    memset(out, 0, sizeof *out);
    char key[RP_JSON_KEY_MAX];
    uint32_t seen = 0;
    bool ok = rp_jr_obj_begin(&d.r);
    while (ok && rp_jr_obj_next(&d.r, key)) {
        if (strcmp(key, "leader") == 0) ok = key_once(&d.r, &seen, 0) && int32_read(&d.r, &out->leader);
        else if (strcmp(key, "leader_epoch") == 0) ok = key_once(&d.r, &seen, 1) && int32_read(&d.r, &out->leader_epoch);
        else if (strcmp(key, "isr") == 0) ok = key_once(&d.r, &seen, 2) && replica_list_read(&d.r, out->isr, &out->isr_n);
        else if (strcmp(key, "controller_epoch") == 0)
            ok = key_once(&d.r, &seen, 3) && int32_read(&d.r, &out->controller_epoch);
        else if (strcmp(key, "version") == 0) ok = key_once(&d.r, &seen, 4) && rp_jr_skip(&d.r);
        else ok = rp_jr_skip(&d.r);
    }
    ok = ok && d.r.err == NULL;
    if (ok && (seen & 0xf) != 0xf) ok = rp_jr_fail(&d.r, "missing leader, leader_epoch, isr or controller_epoch");
    if (ok && out->leader < -2) ok = rp_jr_fail(&d.r, "leader out of range"); /* -2: LeaderDuringDelete */
    return dec_done(&d, ok);
}

enum weir_err rp_pstate_encode(const struct rp_pstate *s, char *buf, size_t cap, size_t *len)
{
    struct rp_jw w;
    rp_jw_init(&w, buf, cap);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "controller_epoch");
    rp_jw_int(&w, s->controller_epoch);
    rp_jw_key(&w, "leader");
    rp_jw_int(&w, s->leader);
    rp_jw_key(&w, "version");
    rp_jw_int(&w, 1);
    rp_jw_key(&w, "leader_epoch");
    rp_jw_int(&w, s->leader_epoch);
    rp_jw_key(&w, "isr");
    replica_list_write(&w, s->isr, s->isr_n);
    rp_jw_obj_end(&w);
    return enc_done(&w, len);
}

/* ---- /config/topics/<t> ------------------------------------------------------------- */

/* Pass 1: the number of members of "config". */
static bool config_count(struct rp_jr r, uint32_t *count)
{
    char key[RP_JSON_KEY_MAX];
    *count = 0;
    if (!rp_jr_obj_begin(&r)) return false;
    while (rp_jr_obj_next(&r, key)) {
        if (strcmp(key, "config") != 0 || rp_jr_peek(&r) != RP_J_OBJ) {
            if (!rp_jr_skip(&r)) return false;
            continue;
        }
        if (!rp_jr_obj_begin(&r)) return false;
        while (rp_jr_obj_next(&r, key)) {
            if (*count == 4096) return false;
            (*count)++;
            if (!rp_jr_skip(&r)) return false;
        }
        return r.err == NULL;
    }
    return r.err == NULL;
}

static bool expect_str(struct rp_jr *r)
{
    enum rp_jtype t = rp_jr_peek(r);
    return t == RP_J_STR ? true : t == RP_J_ERR ? false : rp_jr_fail(r, "expected a string");
}

static char *str_alloc(struct weir_arena *a, const char *s, size_t n)
{
    char *p = weir_arena_alloc(a, n + 1);
    if (p) memcpy(p, s, n + 1);
    return p;
}

enum weir_err rp_topic_config_decode(const void *data, size_t n, struct weir_arena *arena,
                                     struct rp_topic_config *out, char *why, size_t why_cap)
{
    /* ConfigEntityZNode.decode: "config", when an object, holds string values;
     * anything else at the top level is ignored. */
    struct dec d;
    dec_init(&d, data, n, why, why_cap);
    memset(out, 0, sizeof *out);
    uint32_t count = 0, seen = 0;
    bool nomem = false, ok = true;
    if (!config_count(d.r, &count)) count = 0;
    char key[RP_JSON_KEY_MAX];
    if (count) {
        out->entries = weir_arena_alloc(arena, sizeof *out->entries * count);
        if (!out->entries) nomem = true, ok = rp_jr_fail(&d.r, "arena full");
    }
    ok = ok && rp_jr_obj_begin(&d.r);
    while (ok && rp_jr_obj_next(&d.r, key)) {
        if (strcmp(key, "config") != 0) {
            ok = rp_jr_skip(&d.r);
            continue;
        }
        if (!key_once(&d.r, &seen, 0)) break;
        if (rp_jr_peek(&d.r) != RP_J_OBJ) {
            ok = rp_jr_skip(&d.r);
            continue;
        }
        ok = rp_jr_obj_begin(&d.r);
        while (ok && rp_jr_obj_next(&d.r, key)) {
            if (out->n == count) { ok = rp_jr_fail(&d.r, "too many config entries"); break; }
            for (uint32_t i = 0; ok && i < out->n; i++)
                if (strcmp(out->entries[i].key, key) == 0) ok = rp_jr_fail(&d.r, "duplicate key");
            if (!ok || !expect_str(&d.r)) { ok = false; break; }
            /* the value decodes to at most its raw length */
            struct rp_jr probe = d.r;
            if (!rp_jr_skip(&probe)) { ok = rp_jr_skip(&d.r); break; }
            size_t raw = (size_t)(probe.pos - d.r.pos), vn;
            struct rp_config_entry *e = &out->entries[out->n];
            char *value = weir_arena_alloc(arena, raw + 1);
            e->key = str_alloc(arena, key, strlen(key));
            if (!value || !e->key) { nomem = true, ok = rp_jr_fail(&d.r, "arena full"); break; }
            ok = rp_jr_str(&d.r, value, raw + 1, &vn);
            e->value = value;
            out->n += ok;
        }
        ok = ok && d.r.err == NULL;
    }
    ok = ok && d.r.err == NULL;
    enum weir_err err = dec_done(&d, ok);
    return nomem ? WEIR_E_NOMEM : err;
}

enum weir_err rp_topic_config_encode(const struct rp_topic_config *c, char *buf, size_t cap, size_t *len)
{
    struct rp_jw w;
    rp_jw_init(&w, buf, cap);
    rp_jw_obj_begin(&w);
    rp_jw_key(&w, "version");
    rp_jw_int(&w, 1);
    rp_jw_key(&w, "config");
    rp_jw_obj_begin(&w);
    for (uint32_t i = 0; i < c->n; i++) {
        rp_jw_key(&w, c->entries[i].key);
        rp_jw_str(&w, c->entries[i].value);
    }
    rp_jw_obj_end(&w);
    rp_jw_obj_end(&w);
    return enc_done(&w, len);
}
