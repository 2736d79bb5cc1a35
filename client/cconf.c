/* client/cconf.c: the consumer's configuration as string key/values, with
 * the Java consumer's names, ranges and defaults (librdkafka's names as
 * aliases). One table drives set, get and the defaults. */
#include "wire_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum ckey_type { CK_STR, CK_I32, CK_BOOL, CK_RESET };

struct ckey {
    const char *name;
    const char *alias; /* librdkafka's name, or NULL */
    enum ckey_type type;
    size_t off;
    int32_t min, max;
};

#define OFF(f) offsetof(struct weir_consumer_conf, f)
static const struct ckey ckeys[] = {
    { "bootstrap.servers", "metadata.broker.list", CK_STR, OFF(bootstrap_servers), 0, 0 },
    { "client.id", NULL, CK_STR, OFF(client_id), 0, 0 },
    { "fetch.min.bytes", NULL, CK_I32, OFF(fetch_min_bytes), 1, 100000000 },
    { "fetch.max.wait.ms", "fetch.wait.max.ms", CK_I32, OFF(fetch_max_wait_ms), 0, 300000 },
    { "max.partition.fetch.bytes", "fetch.message.max.bytes", CK_I32, OFF(max_partition_fetch_bytes), 1, 1000000000 },
    { "fetch.max.bytes", NULL, CK_I32, OFF(fetch_max_bytes), 1, 2147483135 },
    { "queued.max.messages.kbytes", NULL, CK_I32, OFF(queued_max_kbytes), 1, 2097151 },
    { "request.timeout.ms", NULL, CK_I32, OFF(request_timeout_ms), 10, 900000 },
    { "retry.backoff.ms", NULL, CK_I32, OFF(retry_backoff_ms), 1, 300000 },
    { "reconnect.backoff.ms", NULL, CK_I32, OFF(reconnect_backoff_ms), 1, 3600000 },
    { "auto.offset.reset", NULL, CK_RESET, OFF(reset), 0, 0 },
    { "enable.partition.eof", NULL, CK_BOOL, OFF(partition_eof), 0, 1 },
    { "check.crcs", NULL, CK_BOOL, OFF(check_crcs), 0, 1 },
    { "group.id", NULL, CK_STR, OFF(group_id), 0, 0 },
    { "group.instance.id", NULL, CK_STR, OFF(group_instance_id), 0, 0 },
    { "partition.assignment.strategy", NULL, CK_STR, OFF(assignors), 0, 0 },
    { "session.timeout.ms", NULL, CK_I32, OFF(session_timeout_ms), 1, 3600000 },
    { "heartbeat.interval.ms", NULL, CK_I32, OFF(heartbeat_interval_ms), 1, 3600000 },
    { "max.poll.interval.ms", NULL, CK_I32, OFF(max_poll_interval_ms), 1, 86400000 },
    { "enable.auto.commit", NULL, CK_BOOL, OFF(auto_commit), 0, 1 },
    { "auto.commit.interval.ms", NULL, CK_I32, OFF(auto_commit_interval_ms), 1, 86400000 },
    { "metadata.max.age.ms", "topic.metadata.refresh.interval.ms", CK_I32, OFF(metadata_max_age_ms), 10, 86400000 },
};
/* The string keys, for copy and free. */
static const size_t str_offs[] = { OFF(bootstrap_servers), OFF(client_id), OFF(group_id), OFF(group_instance_id),
                                   OFF(assignors) };
#undef OFF

static char **str_slot(struct weir_consumer_conf *c, size_t off) { return (char **)(void *)((char *)c + off); }

static const char *const reset_names[] = { [CW_RESET_EARLIEST] = "earliest", [CW_RESET_LATEST] = "latest",
                                           [CW_RESET_ERROR] = "error" };

struct weir_consumer_conf *weir_consumer_conf_new(void)
{
    struct weir_consumer_conf *c = weir_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fetch_min_bytes = 1;
    c->fetch_max_wait_ms = 500;
    c->max_partition_fetch_bytes = 1 << 20;
    c->fetch_max_bytes = 50 << 20;
    c->queued_max_kbytes = 65536;
    c->request_timeout_ms = 30000;
    c->retry_backoff_ms = 100;
    c->reconnect_backoff_ms = 100;
    c->reset = CW_RESET_LATEST;
    c->partition_eof = false;
    c->check_crcs = true;
    c->session_timeout_ms = 45000;
    c->heartbeat_interval_ms = 3000;
    c->max_poll_interval_ms = 300000;
    c->auto_commit = true;
    c->auto_commit_interval_ms = 5000;
    c->metadata_max_age_ms = 300000;
    c->client_id = weir_strdup("weir");
    c->assignors = weir_strdup("range,roundrobin");
    if (!c->client_id || !c->assignors) {
        weir_consumer_conf_destroy(c);
        return NULL;
    }
    return c;
}

void cw_cconf_free_strings(struct weir_consumer_conf *c)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(str_offs); i++) {
        char **slot = str_slot(c, str_offs[i]);
        weir_free(*slot);
        *slot = NULL;
    }
}

void weir_consumer_conf_destroy(struct weir_consumer_conf *conf)
{
    if (!conf) return;
    cw_cconf_free_strings(conf);
    weir_free(conf);
}

void weir_consumer_conf_set_rebalance_cb(struct weir_consumer_conf *conf, weir_rebalance_cb *cb)
{
    if (conf) conf->rebalance_cb = cb;
}

void weir_consumer_conf_set_commit_cb(struct weir_consumer_conf *conf, weir_commit_cb *cb)
{
    if (conf) conf->commit_cb = cb;
}

void weir_consumer_conf_set_opaque(struct weir_consumer_conf *conf, void *opaque)
{
    if (conf) conf->opaque = opaque;
}

int cw_cconf_copy(struct weir_consumer_conf *dst, const struct weir_consumer_conf *src)
{
    *dst = *src;
    bool ok = true;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(str_offs); i++) {
        char **d = str_slot(dst, str_offs[i]);
        const char *from = *d;
        *d = from ? weir_strdup(from) : NULL;
        ok = ok && (!from || *d);
    }
    if (!ok) {
        cw_cconf_free_strings(dst);
        return WEIR_CLIENT_E_NOMEM;
    }
    return 0;
}

static const struct ckey *ckey_find(const char *name)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ckeys); i++)
        if (!strcmp(ckeys[i].name, name) || (ckeys[i].alias && !strcmp(ckeys[i].alias, name))) return &ckeys[i];
    return NULL;
}

static enum weir_conf_res set_str(struct weir_consumer_conf *c, const struct ckey *k, const char *value,
                                  char *errbuf, size_t errbuf_size)
{
    if (k->off == offsetof(struct weir_consumer_conf, bootstrap_servers)) {
        size_t n = 0;
        for (const char *s = value; *s;) {
            const char *end = strchr(s, ',');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            char host[CW_HOST_MAX];
            int port;
            if (!cw_parse_hostport(s, len, host, sizeof host, &port)) {
                cw_errf(errbuf, errbuf_size, "invalid bootstrap.servers entry \"%.*s\": expected host:port", (int)len, s);
                return WEIR_CONF_INVALID;
            }
            n++;
            if (!end) break;
            s = end + 1;
        }
        if (n == 0) {
            cw_errf(errbuf, errbuf_size, "bootstrap.servers is empty");
            return WEIR_CONF_INVALID;
        }
    }
    if (k->off == offsetof(struct weir_consumer_conf, assignors) && !cw_assignors_valid(value)) {
        cw_errf(errbuf, errbuf_size,
                "invalid value \"%s\" for partition.assignment.strategy: expected a comma-separated list of range, roundrobin, cooperative-sticky",
                value);
        return WEIR_CONF_INVALID;
    }
    if (k->off == offsetof(struct weir_consumer_conf, group_id) && (!*value || strlen(value) > KPROTO_STRING_MAX)) {
        cw_errf(errbuf, errbuf_size, "group.id must be 1 to %d bytes", KPROTO_STRING_MAX);
        return WEIR_CONF_INVALID;
    }
    const char *why;
    if (k->off == offsetof(struct weir_consumer_conf, group_instance_id) && (why = weir_kafka_name_problem(value))) {
        char shown[64 + 4]; /* the value cut, unprintable bytes as '?': the message stays one line */
        size_t n = 0;
        for (const char *s = value; *s && n < 64; s++) shown[n++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
        snprintf(shown + n, sizeof shown - n, "%s", strlen(value) > 64 ? "..." : "");
        cw_errf(errbuf, errbuf_size, "invalid value \"%s\" for group.instance.id: %s", shown, why);
        return WEIR_CONF_INVALID;
    }
    char *dup = weir_strdup(value);
    if (!dup) {
        cw_errf(errbuf, errbuf_size, "out of memory");
        return WEIR_CONF_INVALID;
    }
    char **slot = (char **)(void *)((char *)c + k->off);
    weir_free(*slot);
    *slot = dup;
    return WEIR_CONF_OK;
}

static enum weir_conf_res set_value(struct weir_consumer_conf *c, const struct ckey *k, const char *value,
                                    char *errbuf, size_t errbuf_size)
{
    void *slot = (char *)c + k->off;
    switch (k->type) {
    case CK_STR: return set_str(c, k, value, errbuf, errbuf_size);
    case CK_I32: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!*value || *end || errno || v < k->min || v > k->max) {
            cw_errf(errbuf, errbuf_size, "invalid value \"%s\" for %s: expected an integer in [%" PRId32 ", %" PRId32 "]",
                    value, k->name, k->min, k->max);
            return WEIR_CONF_INVALID;
        }
        *(int32_t *)slot = (int32_t)v;
        return WEIR_CONF_OK;
    }
    case CK_BOOL:
        if (!strcasecmp(value, "true") || !strcmp(value, "1")) *(bool *)slot = true;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0")) *(bool *)slot = false;
        else {
            cw_errf(errbuf, errbuf_size, "invalid value \"%s\" for %s: expected true or false", value, k->name);
            return WEIR_CONF_INVALID;
        }
        return WEIR_CONF_OK;
    case CK_RESET:
        if (!strcmp(value, "earliest") || !strcmp(value, "smallest") || !strcmp(value, "beginning"))
            c->reset = CW_RESET_EARLIEST;
        else if (!strcmp(value, "latest") || !strcmp(value, "largest") || !strcmp(value, "end"))
            c->reset = CW_RESET_LATEST;
        else if (!strcmp(value, "error") || !strcmp(value, "none"))
            c->reset = CW_RESET_ERROR;
        else {
            cw_errf(errbuf, errbuf_size, "invalid value \"%s\" for auto.offset.reset: expected earliest, latest or error",
                    value);
            return WEIR_CONF_INVALID;
        }
        return WEIR_CONF_OK;
    }
    return WEIR_CONF_INVALID;
}

enum weir_conf_res weir_consumer_conf_set(struct weir_consumer_conf *conf, const char *key, const char *value,
                                          char *errbuf, size_t errbuf_size)
{
    if (!conf || !key || !value) {
        cw_errf(errbuf, errbuf_size, "NULL argument");
        return WEIR_CONF_INVALID;
    }
    const struct ckey *k = ckey_find(key);
    if (!k) {
        cw_errf(errbuf, errbuf_size, "unknown consumer configuration key \"%s\"", key);
        return WEIR_CONF_UNKNOWN;
    }
    return set_value(conf, k, value, errbuf, errbuf_size);
}

enum weir_conf_res weir_consumer_conf_get(const struct weir_consumer_conf *conf, const char *key, char *buf,
                                          size_t buf_size)
{
    const struct ckey *k = key ? ckey_find(key) : NULL;
    if (!conf || !k || !buf) return WEIR_CONF_UNKNOWN;
    const void *slot = (const char *)conf + k->off;
    switch (k->type) {
    case CK_STR: {
        const char *s = *(char *const *)slot;
        snprintf(buf, buf_size, "%s", s ? s : "");
        break;
    }
    case CK_I32: snprintf(buf, buf_size, "%" PRId32, *(const int32_t *)slot); break;
    case CK_BOOL: snprintf(buf, buf_size, "%s", *(const bool *)slot ? "true" : "false"); break;
    case CK_RESET: snprintf(buf, buf_size, "%s", reset_names[conf->reset]); break;
    }
    return WEIR_CONF_OK;
}
