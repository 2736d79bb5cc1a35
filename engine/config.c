/* engine/config.c: topic configuration by Kafka key name. */
#include "engine_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { CFG_U64, CFG_I64, CFG_U32 };

static const struct config_key {
    const char *name;
    size_t field;
    int kind;
    int64_t min, max;
} config_keys[] = {
    { "segment.bytes", offsetof(struct weir_log_config, segment_bytes), CFG_U64, 14, INT32_MAX },
    { "segment.ms", offsetof(struct weir_log_config, segment_ms), CFG_I64, 1, INT64_MAX },
    { "segment.index.bytes", offsetof(struct weir_log_config, segment_index_bytes), CFG_U64, 8, INT32_MAX },
    { "index.interval.bytes", offsetof(struct weir_log_config, index_interval_bytes), CFG_U32, 0, INT32_MAX },
    { "retention.bytes", offsetof(struct weir_log_config, retention_bytes), CFG_I64, -1, INT64_MAX },
    { "retention.ms", offsetof(struct weir_log_config, retention_ms), CFG_I64, -1, INT64_MAX },
    { "max.message.bytes", offsetof(struct weir_log_config, max_message_bytes), CFG_U32, 61, INT32_MAX },
    { "flush.messages", offsetof(struct weir_log_config, flush_messages), CFG_I64, 1, INT64_MAX },
    { "flush.ms", offsetof(struct weir_log_config, flush_ms), CFG_I64, 0, INT64_MAX },
    { "min.insync.replicas", offsetof(struct weir_log_config, min_insync_replicas), CFG_U32, 1, INT32_MAX },
    { "delete.retention.ms", offsetof(struct weir_log_config, delete_retention_ms), CFG_I64, 0, INT64_MAX },
    { "min.compaction.lag.ms", offsetof(struct weir_log_config, min_compaction_lag_ms), CFG_I64, 0, INT64_MAX },
    { "max.compaction.lag.ms", offsetof(struct weir_log_config, max_compaction_lag_ms), CFG_I64, 1, INT64_MAX },
};

void weir_log_config_default(struct weir_log_config *c)
{
    *c = (struct weir_log_config){
        .segment_bytes = 1u << 30,
        .segment_ms = 7LL * 24 * 3600 * 1000,
        .segment_index_bytes = 10u << 20,
        .index_interval_bytes = 4096,
        .retention_bytes = -1,
        .retention_ms = 7LL * 24 * 3600 * 1000,
        .max_message_bytes = 1048588,
        .flush_messages = INT64_MAX,
        .flush_ms = INT64_MAX,
        .min_insync_replicas = 1,
        .cleanup_policy = WEIR_CLEANUP_DELETE,
        .delete_retention_ms = 86400000,
        .max_compaction_lag_ms = INT64_MAX,
        .min_cleanable_dirty_ratio = 0.5,
    };
}

static bool parse_i64(const char *text, int64_t *out)
{
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || (text[0] == '+' && text[1] == '-')) return false;
    *out = v;
    return true;
}

/* cleanup.policy: a list of delete and compact (Kafka's ValidList), not empty. */
static enum weir_err cleanup_policy_set(struct weir_log_config *c, const char *value, char *why, size_t why_cap)
{
    uint8_t bits = 0;
    const char *p = value ? value : "";
    for (size_t steps = 0; *p; steps++) {
        WEIR_ASSERT(steps <= strlen(value));
        size_t n = strcspn(p, ",");
        if (n == 6 && !strncmp(p, "delete", 6)) bits |= WEIR_CLEANUP_DELETE;
        else if (n == 7 && !strncmp(p, "compact", 7)) bits |= WEIR_CLEANUP_COMPACT;
        else break;
        p += n + (p[n] == ',');
    }
    if (*p || bits == 0) {
        snprintf(why, why_cap, "config cleanup.policy: '%s' is not a list of delete and compact",
                 value ? value : "(null)");
        return WEIR_E_BAD_CONFIG;
    }
    c->cleanup_policy = bits;
    return WEIR_OK;
}

static enum weir_err ratio_set(double *out, const char *key, const char *value, char *why, size_t why_cap)
{
    char *end = NULL;
    errno = 0;
    double v = value && *value ? strtod(value, &end) : -1;
    if (errno != 0 || !end || *end != '\0' || !(v >= 0 && v <= 1)) {
        snprintf(why, why_cap, "config %s: '%s' is not a number in [0, 1]", key, value ? value : "(null)");
        return WEIR_E_BAD_CONFIG;
    }
    *out = v;
    return WEIR_OK;
}

/* compression.type: Kafka's values, in enum weir_compression_type's order. */
static const char *const compression_types[] = { "producer", "uncompressed", "gzip", "snappy", "lz4", "zstd" };

static enum weir_err compression_type_set(struct weir_log_config *c, const char *value, char *why, size_t why_cap)
{
    for (size_t i = 0; value && i < WEIR_ARRAY_LEN(compression_types); i++) {
        if (!strcmp(value, compression_types[i])) {
            c->compression_type = (uint8_t)i;
            return WEIR_OK;
        }
    }
    snprintf(why, why_cap, "config compression.type: '%s' is not one of producer, uncompressed, gzip, snappy, lz4, zstd",
             value ? value : "(null)");
    return WEIR_E_BAD_CONFIG;
}

enum weir_err weir_log_config_set(struct weir_log_config *c, const char *key, const char *value, char *why,
                                  size_t why_cap)
{
    if (!strcmp(key, "cleanup.policy")) return cleanup_policy_set(c, value, why, why_cap);
    if (!strcmp(key, "min.cleanable.dirty.ratio"))
        return ratio_set(&c->min_cleanable_dirty_ratio, key, value, why, why_cap);
    if (!strcmp(key, "compression.type")) return compression_type_set(c, value, why, why_cap);
    for (size_t i = 0; i < WEIR_ARRAY_LEN(config_keys); i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(k->name, key) != 0) continue;
        int64_t v;
        if (!parse_i64(value, &v)) {
            snprintf(why, why_cap, "config %s: '%s' is not an integer", key, value ? value : "(null)");
            return WEIR_E_BAD_CONFIG;
        }
        if (v < k->min || v > k->max) {
            snprintf(why, why_cap, "config %s: %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", key, v, k->min,
                     k->max);
            return WEIR_E_BAD_CONFIG;
        }
        char *field = (char *)c + k->field;
        if (k->kind == CFG_U64) *(uint64_t *)(void *)field = (uint64_t)v;
        else if (k->kind == CFG_U32) *(uint32_t *)(void *)field = (uint32_t)v;
        else *(int64_t *)(void *)field = v;
        return WEIR_OK;
    }
    snprintf(why, why_cap, "unknown topic config '%s'", key);
    return WEIR_E_BAD_CONFIG;
}

size_t weir_log_config_format(const struct weir_log_config *c, char *buf, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(config_keys); i++) {
        const struct config_key *k = &config_keys[i];
        const char *field = (const char *)c + k->field;
        int64_t v = k->kind == CFG_U64   ? (int64_t) * (const uint64_t *)(const void *)field
                    : k->kind == CFG_U32 ? (int64_t) * (const uint32_t *)(const void *)field
                                         : *(const int64_t *)(const void *)field;
        int n = snprintf(buf + WEIR_MIN(used, cap), used < cap ? cap - used : 0, "%s=%" PRId64 "\n", k->name, v);
        if (n > 0) used += (size_t)n;
    }
    static const char *const policies[] = { "", "delete", "compact", "compact,delete" };
    int n = snprintf(buf + WEIR_MIN(used, cap), used < cap ? cap - used : 0,
                     "cleanup.policy=%s\nmin.cleanable.dirty.ratio=%g\n", policies[c->cleanup_policy & 3],
                     c->min_cleanable_dirty_ratio);
    if (n > 0) used += (size_t)n;
    WEIR_ASSERT(c->compression_type < WEIR_ARRAY_LEN(compression_types));
    n = snprintf(buf + WEIR_MIN(used, cap), used < cap ? cap - used : 0, "compression.type=%s\n",
                 compression_types[c->compression_type]);
    if (n > 0) used += (size_t)n;
    return used;
}

enum weir_err weir_log_config_check(const struct weir_log_config *c, char *why, size_t why_cap)
{
    if (c->segment_index_bytes < 2 * TIME_ENTRY_BYTES) {
        snprintf(why, why_cap, "config segment.index.bytes: %" PRIu64 " holds too few index entries",
                 c->segment_index_bytes);
        return WEIR_E_BAD_CONFIG;
    }
    if (c->segment_bytes + c->max_message_bytes > WEIR_SEGMENT_BYTES_MAX) {
        snprintf(why, why_cap, "config segment.bytes + max.message.bytes exceeds the 32-bit index positions");
        return WEIR_E_BAD_CONFIG;
    }
    return WEIR_OK;
}
