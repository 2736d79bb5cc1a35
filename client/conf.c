/* client/conf.c: producer configuration as string key/values, with Kafka's
 * names, ranges and defaults (Java ProducerConfig where it has one, else
 * librdkafka CONFIGURATION.md), and the cross-key rules of the Java producer.
 * One table drives set, get and the defaults. */
#include "client_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum key_type { K_STR, K_I32, K_I64, K_BOOL, K_ACKS, K_CODEC };

struct conf_key {
    const char *name;
    const char *alias;  /* librdkafka's name, or NULL */
    enum key_type type;
    size_t off;
    int64_t min, max;
    uint32_t set_bit;
};

#define OFF(f) offsetof(struct weir_conf, f)
static const struct conf_key keys[] = {
    { "bootstrap.servers", "metadata.broker.list", K_STR, OFF(bootstrap_servers), 0, 0, 0 },
    { "client.id", NULL, K_STR, OFF(client_id), 0, 0, 0 },
    { "acks", "request.required.acks", K_ACKS, OFF(acks), -1, 1, CL_SET_ACKS },
    { "linger.ms", "queue.buffering.max.ms", K_I32, OFF(linger_ms), 0, 900000, 0 },
    { "batch.size", NULL, K_I32, OFF(batch_size), 1, 1000000000, 0 },
    { "buffer.memory", NULL, K_I64, OFF(buffer_memory), 1024, INT64_C(1) << 40, 0 },
    { "max.block.ms", NULL, K_I32, OFF(max_block_ms), 0, INT32_MAX, 0 },
    { "compression.type", "compression.codec", K_CODEC, OFF(codec), 0, 0, 0 },
    { "compression.level", NULL, K_I32, OFF(codec_level), WEIR_ZSTD_LEVEL_MIN, 22, 0 },
    { "retries", "message.send.max.retries", K_I32, OFF(retries), 0, INT32_MAX, CL_SET_RETRIES },
    { "retry.backoff.ms", NULL, K_I32, OFF(retry_backoff_ms), 1, 300000, 0 },
    { "delivery.timeout.ms", "message.timeout.ms", K_I32, OFF(delivery_timeout_ms), 1, INT32_MAX, 0 },
    { "request.timeout.ms", NULL, K_I32, OFF(request_timeout_ms), 1, 900000, 0 },
    { "max.in.flight.requests.per.connection", "max.in.flight", K_I32, OFF(max_in_flight), 1, 1000000,
      CL_SET_MAX_IN_FLIGHT },
    { "enable.idempotence", NULL, K_BOOL, OFF(idempotence), 0, 1, CL_SET_IDEMPOTENCE },
    { "message.max.bytes", NULL, K_I32, OFF(message_max_bytes), 1000, 1000000000, 0 },
    { "metadata.max.age.ms", NULL, K_I32, OFF(metadata_max_age_ms), 1, 86400000, 0 },
};
#undef OFF

static void conf_defaults(struct weir_conf *c)
{
    memset(c, 0, sizeof *c);
    c->acks = -1;
    c->linger_ms = 5;
    c->batch_size = 16384;
    c->buffer_memory = 32 << 20;
    c->max_block_ms = 60000;
    c->codec = WEIR_CODEC_NONE;
    c->codec_level = WEIR_CODEC_LEVEL_DEFAULT;
    c->retries = INT32_MAX;
    c->retry_backoff_ms = 100;
    c->delivery_timeout_ms = 120000;
    c->request_timeout_ms = 30000;
    c->max_in_flight = 5;
    c->idempotence = true;
    c->message_max_bytes = 1000000;
    c->metadata_max_age_ms = 300000;
}

struct weir_conf *weir_conf_new(void)
{
    struct weir_conf *c = weir_malloc(sizeof *c);
    if (!c) return NULL;
    conf_defaults(c);
    c->client_id = weir_strdup("weir");
    if (!c->client_id) {
        weir_free(c);
        return NULL;
    }
    return c;
}

void cl_conf_free_strings(struct weir_conf *conf)
{
    weir_free(conf->bootstrap_servers);
    weir_free(conf->client_id);
    conf->bootstrap_servers = conf->client_id = NULL;
}

void weir_conf_destroy(struct weir_conf *conf)
{
    if (!conf) return;
    cl_conf_free_strings(conf);
    weir_free(conf);
}

int cl_conf_copy(struct weir_conf *dst, const struct weir_conf *src)
{
    *dst = *src;
    dst->bootstrap_servers = src->bootstrap_servers ? weir_strdup(src->bootstrap_servers) : NULL;
    dst->client_id = src->client_id ? weir_strdup(src->client_id) : NULL;
    if ((src->bootstrap_servers && !dst->bootstrap_servers) || (src->client_id && !dst->client_id)) {
        cl_conf_free_strings(dst);
        return WEIR_CLIENT_E_NOMEM;
    }
    return WEIR_CLIENT_OK;
}

struct weir_conf *weir_conf_dup(const struct weir_conf *conf)
{
    struct weir_conf *c = weir_malloc(sizeof *c);
    if (!c) return NULL;
    if (cl_conf_copy(c, conf) != WEIR_CLIENT_OK) {
        weir_free(c);
        return NULL;
    }
    return c;
}

static const struct conf_key *key_find(const char *name)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(keys); i++)
        if (!strcmp(keys[i].name, name) || (keys[i].alias && !strcmp(keys[i].alias, name))) return &keys[i];
    return NULL;
}

/* Whole-string decimal integer, no sign games: "12", "-1". */
static bool parse_i64(const char *s, int64_t *out)
{
    if (!*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s) return false;
    *out = v;
    return true;
}

static enum weir_conf_res set_int(struct weir_conf *c, const struct conf_key *k, const char *value, char *errbuf,
                                  size_t errbuf_size)
{
    int64_t v;
    if (!parse_i64(value, &v) || v < k->min || v > k->max) {
        cl_errbuf(errbuf, errbuf_size, "invalid value \"%s\" for %s: expected an integer in [%" PRId64 ", %" PRId64 "]",
                  value, k->name, k->min, k->max);
        return WEIR_CONF_INVALID;
    }
    if (k->type == K_I64)
        *(int64_t *)(void *)((char *)c + k->off) = v;
    else
        *(int32_t *)(void *)((char *)c + k->off) = (int32_t)v;
    return WEIR_CONF_OK;
}

static enum weir_conf_res set_enum(struct weir_conf *c, const struct conf_key *k, const char *value, char *errbuf,
                                   size_t errbuf_size)
{
    if (k->type == K_BOOL) {
        bool v;
        if (!strcasecmp(value, "true") || !strcmp(value, "1")) v = true;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0")) v = false;
        else {
            cl_errbuf(errbuf, errbuf_size, "invalid value \"%s\" for %s: expected true or false", value, k->name);
            return WEIR_CONF_INVALID;
        }
        *(bool *)(void *)((char *)c + k->off) = v;
        return WEIR_CONF_OK;
    }
    if (k->type == K_ACKS) {
        int16_t v;
        if (!strcmp(value, "all") || !strcmp(value, "-1")) v = -1;
        else if (!strcmp(value, "0")) v = 0;
        else if (!strcmp(value, "1")) v = 1;
        else {
            cl_errbuf(errbuf, errbuf_size, "invalid value \"%s\" for acks: expected 0, 1, all or -1", value);
            return WEIR_CONF_INVALID;
        }
        c->acks = v;
        return WEIR_CONF_OK;
    }
    /* K_CODEC */
    enum weir_codec codec;
    if (weir_codec_parse(value, &codec) != WEIR_OK) {
        cl_errbuf(errbuf, errbuf_size, "invalid value \"%s\" for compression.type: expected none, gzip, snappy, lz4 or zstd",
                  value);
        return WEIR_CONF_INVALID;
    }
    c->codec = (int32_t)codec;
    return WEIR_CONF_OK;
}

/* "host:port[,host:port...]" with [v6]:port; checks the shape only. */
static bool servers_valid(const char *list, char *errbuf, size_t errbuf_size)
{
    const char *s = list;
    size_t n = 0;
    while (*s) {
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len && *s == ' ') s++, len--;
        while (len && s[len - 1] == ' ') len--;
        const char *colon = len ? memrchr(s, ':', len) : NULL;
        bool ok = colon && colon > s && (size_t)(colon - s) + 1 < len;
        for (const char *q = colon ? colon + 1 : s; ok && q < s + len; q++) ok = *q >= '0' && *q <= '9';
        if (ok) {
            long port = strtol(colon + 1, NULL, 10);
            ok = port > 0 && port <= 65535;
        }
        if (!ok) {
            cl_errbuf(errbuf, errbuf_size, "invalid bootstrap.servers entry \"%.*s\": expected host:port", (int)len,
                      s);
            return false;
        }
        n++;
        if (!end) break;
        s = end + 1;
    }
    if (n == 0) {
        cl_errbuf(errbuf, errbuf_size, "bootstrap.servers is empty");
        return false;
    }
    return true;
}

enum weir_conf_res weir_conf_set(struct weir_conf *conf, const char *key, const char *value, char *errbuf,
                                 size_t errbuf_size)
{
    if (!conf || !key || !value) {
        cl_errbuf(errbuf, errbuf_size, "NULL argument");
        return WEIR_CONF_INVALID;
    }
    const struct conf_key *k = key_find(key);
    if (!k) {
        cl_errbuf(errbuf, errbuf_size, "unknown configuration key \"%s\"", key);
        return WEIR_CONF_UNKNOWN;
    }
    enum weir_conf_res res;
    if (k->type == K_STR) {
        if (k->off == offsetof(struct weir_conf, bootstrap_servers) && !servers_valid(value, errbuf, errbuf_size))
            return WEIR_CONF_INVALID;
        char *dup = weir_strdup(value);
        if (!dup) {
            cl_errbuf(errbuf, errbuf_size, "out of memory");
            return WEIR_CONF_INVALID;
        }
        char **slot = (char **)(void *)((char *)conf + k->off);
        weir_free(*slot);
        *slot = dup;
        res = WEIR_CONF_OK;
    } else if (k->type == K_I32 || k->type == K_I64) {
        res = set_int(conf, k, value, errbuf, errbuf_size);
    } else {
        res = set_enum(conf, k, value, errbuf, errbuf_size);
    }
    if (res == WEIR_CONF_OK) conf->set_bits |= k->set_bit;
    return res;
}

enum weir_conf_res weir_conf_get(const struct weir_conf *conf, const char *key, char *buf, size_t buf_size)
{
    const struct conf_key *k = key ? key_find(key) : NULL;
    if (!conf || !k) return WEIR_CONF_UNKNOWN;
    const char *base = (const char *)conf + k->off;
    switch (k->type) {
    case K_STR: {
        const char *s = *(char *const *)(const void *)base;
        snprintf(buf, buf_size, "%s", s ? s : "");
        break;
    }
    case K_I32: snprintf(buf, buf_size, "%" PRId32, *(const int32_t *)(const void *)base); break;
    case K_I64: snprintf(buf, buf_size, "%" PRId64, *(const int64_t *)(const void *)base); break;
    case K_BOOL: snprintf(buf, buf_size, "%s", *(const bool *)(const void *)base ? "true" : "false"); break;
    case K_ACKS: snprintf(buf, buf_size, "%s", conf->acks == -1 ? "all" : conf->acks == 0 ? "0" : "1"); break;
    case K_CODEC: snprintf(buf, buf_size, "%s", weir_codec_name((enum weir_codec)conf->codec)); break;
    }
    return WEIR_CONF_OK;
}

int cl_conf_finalize(struct weir_conf *c, char *errbuf, size_t errbuf_size)
{
    if (!c->bootstrap_servers) {
        cl_errbuf(errbuf, errbuf_size, "bootstrap.servers is not set");
        return WEIR_CLIENT_E_BAD_CONFIG;
    }
    if (c->idempotence) {
        bool explicit = c->set_bits & CL_SET_IDEMPOTENCE;
        const char *why = c->acks != -1                                          ? "acks must be all"
                          : c->max_in_flight > 5                                 ? "max.in.flight.requests.per.connection must be <= 5"
                          : c->retries == 0                                      ? "retries must be > 0"
                                                                                 : NULL;
        if (why && explicit) {
            cl_errbuf(errbuf, errbuf_size, "enable.idempotence=true: %s", why);
            return WEIR_CLIENT_E_BAD_CONFIG;
        }
        if (why) c->idempotence = false; /* Java 3.x: a default that conflicts gives way */
    }
    if (!weir_codec_level_valid((enum weir_codec)c->codec, c->codec_level)) {
        cl_errbuf(errbuf, errbuf_size, "compression.level %" PRId32 " is out of range for compression.type %s (%s)",
                  c->codec_level, weir_codec_name((enum weir_codec)c->codec),
                  c->codec == WEIR_CODEC_GZIP   ? "1-9 or -1"
                  : c->codec == WEIR_CODEC_LZ4  ? "1-17 or -1"
                  : c->codec == WEIR_CODEC_ZSTD ? "-131072..22, or -1 for the default"
                                                : "only -1: the codec has no levels");
        return WEIR_CLIENT_E_BAD_CONFIG;
    }
    if ((int64_t)c->delivery_timeout_ms < (int64_t)c->linger_ms + c->request_timeout_ms) {
        cl_errbuf(errbuf, errbuf_size, "delivery.timeout.ms (%" PRId32 ") must be >= linger.ms + request.timeout.ms (%" PRId64 ")",
                  c->delivery_timeout_ms, (int64_t)c->linger_ms + c->request_timeout_ms);
        return WEIR_CLIENT_E_BAD_CONFIG;
    }
    return WEIR_CLIENT_OK;
}
