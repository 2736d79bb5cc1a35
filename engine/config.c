/* engine/config.c: topic configuration by Kafka key name: every topic-level
 * key Kafka 3.7 documents (LogConfig), parsed and range-checked as Kafka's
 * ConfigDef does (values trimmed; booleans true/false in any case; lists
 * split at commas), with Kafka's defaults, its type for DescribeConfigs, its
 * broker-level synonyms, and what weir does not do with it. */
#include "engine_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum cfg_kind {
    CFG_U64,    /* uint64_t, integer in [min, max] */
    CFG_I64,    /* int64_t */
    CFG_U32,    /* uint32_t */
    CFG_BOOL,   /* bool: true|false */
    CFG_RATIO,  /* double in [0, 1] */
    CFG_CHOICE, /* uint8_t: index into choices (a ' '-separated list) */
    CFG_POLICY, /* uint8_t: WEIR_CLEANUP_* bits, a list of compact|delete */
    CFG_TEXT,   /* char[WEIR_LOG_CONFIG_TEXT_BYTES]: checked by text_ok */
};

enum text_check { TEXT_NONE, TEXT_VERSION, TEXT_THROTTLED };

#define F(f) offsetof(struct weir_log_config, f)
#define NOT_YET(what) "weir does not " what " yet: the value is stored and described only"

static const struct config_key {
    const char *name;
    size_t field;
    enum cfg_kind kind;
    int64_t min, max;
    int8_t type;           /* WEIR_CONFIG_TYPE_* */
    const char *choices;   /* CFG_CHOICE; CFG_TEXT: NULL */
    enum text_check check; /* CFG_TEXT */
    const char *synonyms;  /* broker keys, highest precedence first, ' '-separated;
                              NULL: none */
    const char *note;      /* NULL: honoured; else what weir does not do */
} config_keys[] = {
    { "cleanup.policy", F(cleanup_policy), CFG_POLICY, 0, 0, WEIR_CONFIG_TYPE_LIST, NULL, TEXT_NONE,
      "log.cleanup.policy", NULL },
    { "compression.type", F(compression_type), CFG_CHOICE, 0, 0, WEIR_CONFIG_TYPE_STRING,
      "producer uncompressed gzip snappy lz4 zstd", TEXT_NONE, "compression.type",
      NULL },
    { "delete.retention.ms", F(delete_retention_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.cleaner.delete.retention.ms", NULL },
    { "file.delete.delay.ms", F(file_delete_delay_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.segment.delete.delay.ms",
      "weir removes a deleted segment's files once no reader holds them, "
      "without this delay" },
    { "flush.messages", F(flush_messages), CFG_I64, 1, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.flush.interval.messages", NULL },
    { "flush.ms", F(flush_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE, "log.flush.interval.ms",
      NULL },
    { "follower.replication.throttled.replicas", F(follower_throttled), CFG_TEXT, 0, 0, WEIR_CONFIG_TYPE_LIST, NULL,
      TEXT_THROTTLED, NULL,
      "weir has no replication quotas (Kafka throttles only under a broker "
      "throttled.rate, which weir lacks)" },
    { "index.interval.bytes", F(index_interval_bytes), CFG_U32, 0, INT32_MAX, WEIR_CONFIG_TYPE_INT, NULL, TEXT_NONE,
      "log.index.interval.bytes", NULL },
    { "leader.replication.throttled.replicas", F(leader_throttled), CFG_TEXT, 0, 0, WEIR_CONFIG_TYPE_LIST, NULL,
      TEXT_THROTTLED, NULL,
      "weir has no replication quotas (Kafka throttles only under a broker "
      "throttled.rate, which weir lacks)" },
    { "local.retention.bytes", F(local_retention_bytes), CFG_I64, -2, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.local.retention.bytes",
      "applies to tiered storage only, which weir lacks (Kafka ignores it "
      "while remote.storage.enable is false)" },
    { "local.retention.ms", F(local_retention_ms), CFG_I64, -2, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.local.retention.ms",
      "applies to tiered storage only, which weir lacks (Kafka ignores it while "
      "remote.storage.enable is false)" },
    { "max.compaction.lag.ms", F(max_compaction_lag_ms), CFG_I64, 1, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.cleaner.max.compaction.lag.ms", NULL },
    { "max.message.bytes", F(max_message_bytes), CFG_U32, 61, INT32_MAX, WEIR_CONFIG_TYPE_INT, NULL, TEXT_NONE,
      "message.max.bytes", NULL },
    { "message.downconversion.enable", F(message_downconversion), CFG_BOOL, 0, 0, WEIR_CONFIG_TYPE_BOOLEAN, NULL,
      TEXT_NONE, "log.message.downconversion.enable", "weir down-converts for Fetch v0-3 readers whatever the value" },
    { "message.format.version", F(message_format_version), CFG_TEXT, 0, 0, WEIR_CONFIG_TYPE_STRING, NULL, TEXT_VERSION,
      "log.message.format.version",
      "ignored, as Kafka 3.x ignores it (inter.broker.protocol.version 3.0 and "
      "later): batches are kept as "
      "produced" },
    { "message.timestamp.after.max.ms", F(timestamp_after_max_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL,
      TEXT_NONE, "log.message.timestamp.after.max.ms", NULL },
    { "message.timestamp.before.max.ms", F(timestamp_before_max_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL,
      TEXT_NONE, "log.message.timestamp.before.max.ms", NULL },
    { "message.timestamp.difference.max.ms", F(timestamp_difference_max_ms), CFG_I64, 0, INT64_MAX,
      WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE, "log.message.timestamp.difference.max.ms", NULL },
    { "message.timestamp.type", F(timestamp_type), CFG_CHOICE, 0, 0, WEIR_CONFIG_TYPE_STRING,
      "CreateTime LogAppendTime", TEXT_NONE, "log.message.timestamp.type", NULL },
    { "min.cleanable.dirty.ratio", F(min_cleanable_dirty_ratio), CFG_RATIO, 0, 0, WEIR_CONFIG_TYPE_DOUBLE, NULL,
      TEXT_NONE, "log.cleaner.min.cleanable.ratio", NULL },
    { "min.compaction.lag.ms", F(min_compaction_lag_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.cleaner.min.compaction.lag.ms", NULL },
    { "min.insync.replicas", F(min_insync_replicas), CFG_U32, 1, INT32_MAX, WEIR_CONFIG_TYPE_INT, NULL, TEXT_NONE,
      "min.insync.replicas", NULL },
    { "preallocate", F(preallocate), CFG_BOOL, 0, 0, WEIR_CONFIG_TYPE_BOOLEAN, NULL, TEXT_NONE, "log.preallocate",
      "weir grows segment files ahead of writes in steps "
      "(log.preallocate.max.bytes) whatever the value" },
    { "remote.storage.enable", F(remote_storage), CFG_BOOL, 0, 0, WEIR_CONFIG_TYPE_BOOLEAN, NULL, TEXT_NONE, NULL,
      "weir has no tiered storage: only false is accepted (Kafka too, without "
      "remote.log.storage.system.enable)" },
    { "retention.bytes", F(retention_bytes), CFG_I64, INT64_MIN, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.retention.bytes", NULL },
    { "retention.ms", F(retention_ms), CFG_I64, -1, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.retention.ms log.retention.minutes log.retention.hours", NULL },
    { "segment.bytes", F(segment_bytes), CFG_U64, 14, INT32_MAX, WEIR_CONFIG_TYPE_INT, NULL, TEXT_NONE,
      "log.segment.bytes", NULL },
    { "segment.index.bytes", F(segment_index_bytes), CFG_U64, 8, INT32_MAX, WEIR_CONFIG_TYPE_INT, NULL, TEXT_NONE,
      "log.index.size.max.bytes", NULL },
    { "segment.jitter.ms", F(segment_jitter_ms), CFG_I64, 0, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.roll.jitter.ms log.roll.jitter.hours", NOT_YET("randomise segment rolls") },
    { "segment.ms", F(segment_ms), CFG_I64, 1, INT64_MAX, WEIR_CONFIG_TYPE_LONG, NULL, TEXT_NONE,
      "log.roll.ms log.roll.hours", NULL },
    { "unclean.leader.election.enable", F(unclean_leader_election), CFG_BOOL, 0, 0, WEIR_CONFIG_TYPE_BOOLEAN, NULL,
      TEXT_NONE, "unclean.leader.election.enable",
      "a cluster's controller follows the broker's "
      "unclean.leader.election.enable, not the topic's" },
};

#undef F

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
        .compression_type = WEIR_COMPRESSION_PRODUCER,
        .delete_retention_ms = 86400000,
        .file_delete_delay_ms = 60000,
        .local_retention_bytes = -2,
        .local_retention_ms = -2,
        .max_compaction_lag_ms = INT64_MAX,
        .message_downconversion = true,
        .timestamp_after_max_ms = INT64_MAX,
        .timestamp_before_max_ms = INT64_MAX,
        .timestamp_difference_max_ms = INT64_MAX,
        .timestamp_type = WEIR_LOG_TIMESTAMP_CREATE,
        .min_cleanable_dirty_ratio = 0.5,
        .message_format_version = "3.0-IV1",
    };
}

/* Kafka trims every value before parsing it (ConfigDef.parseType). */
static const char *trimmed(const char *text, char *buf, size_t cap)
{
    while (*text && isspace((unsigned char)*text)) text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return buf;
}

static bool parse_i64(const char *text, int64_t *out)
{
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || isspace((unsigned char)text[0]) ||
        (text[0] == '+' && text[1] == '-'))
        return false;
    *out = v;
    return true;
}

static bool parse_ratio(const char *text, double *out)
{
    if (!*text) return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || *end != '\0' || isnan(v) || (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))) return false;
    *out = v;
    return true;
}

/* The i-th ' '-separated word of list equal to word? Index or -1. */
static int choice_index(const char *list, const char *word)
{
    size_t n = strlen(word);
    int i = 0;
    for (const char *p = list; *p; i++) {
        size_t len = strcspn(p, " ");
        if (len == n && !memcmp(p, word, n)) return i;
        p += len;
        if (*p == ' ') p++;
    }
    return -1;
}

/* The i-th word of list into buf. */
static const char *choice_name(const char *list, int i, char *buf, size_t cap)
{
    const char *p = list;
    for (; i > 0 && *p; i--) {
        p += strcspn(p, " ");
        if (*p == ' ') p++;
    }
    snprintf(buf, cap, "%.*s", (int)strcspn(p, " "), p);
    return buf;
}

/* Kafka's MetadataVersion.fromVersionString: "x.y" (0.x.y for 0.x), an
 * optional "-IVn", and anything past those segments ignored ("2.8.1" is 2.8).
 */
static bool version_ok(const char *v)
{
    static const char *const known[] = {
        "0.8.0",      "0.8.1",      "0.8.2",   "0.9.0",      "0.10.0-IV0", "0.10.0-IV1", "0.10.0",     "0.10.1-IV0",
        "0.10.1-IV1", "0.10.1-IV2", "0.10.1",  "0.10.2-IV0", "0.10.2",     "0.11.0-IV0", "0.11.0-IV1", "0.11.0-IV2",
        "0.11.0",     "1.0-IV0",    "1.0",     "1.1-IV0",    "1.1",        "2.0-IV0",    "2.0-IV1",    "2.0",
        "2.1-IV0",    "2.1-IV1",    "2.1-IV2", "2.1",        "2.2-IV0",    "2.2-IV1",    "2.2",        "2.3-IV0",
        "2.3-IV1",    "2.3",        "2.4-IV0", "2.4-IV1",    "2.4",        "2.5-IV0",    "2.5",        "2.6-IV0",
        "2.6",        "2.7-IV0",    "2.7-IV1", "2.7-IV2",    "2.7",        "2.8-IV0",    "2.8-IV1",    "2.8",
        "3.0-IV0",    "3.0-IV1",    "3.0",     "3.1-IV0",    "3.1",        "3.2-IV0",    "3.2",        "3.3-IV0",
        "3.3-IV1",    "3.3-IV2",    "3.3-IV3", "3.3",        "3.4-IV0",    "3.4",        "3.5-IV0",    "3.5-IV1",
        "3.5-IV2",    "3.5",        "3.6-IV0", "3.6-IV1",    "3.6-IV2",    "3.6",        "3.7-IV0",    "3.7-IV1",
        "3.7-IV2",    "3.7-IV3",    "3.7-IV4", "3.7",
    };
    char key[32];
    int segments = !strncmp(v, "0.", 2) ? 3 : 2, dots = 0;
    size_t n = 0;
    for (; v[n]; n++)
        if (v[n] == '.' && ++dots == segments) break;
    if (n >= sizeof key) return false;
    memcpy(key, v, n);
    key[n] = '\0';
    for (size_t i = 0; i < WEIR_ARRAY_LEN(known); i++)
        if (!strcmp(known[i], key)) return true;
    return false;
}

/* Kafka's ThrottledReplicaListValidator: "*" or partition:broker pairs. */
static bool throttled_ok(const char *v)
{
    if (!strcmp(v, "*") || !*v) return true;
    for (const char *p = v;;) {
        while (isspace((unsigned char)*p)) p++;
        size_t a = strspn(p, "0123456789");
        if (a > 0) {
            if (p[a] != ':') return false;
            size_t b = strspn(p + a + 1, "0123456789");
            if (b == 0) return false;
            p += a + 1 + b;
        }
        while (isspace((unsigned char)*p)) p++;
        if (!*p) return true;
        if (*p++ != ',') return false;
    }
}

static enum weir_err bad(char *why, size_t cap, const char *key, const char *value, const char *reason)
{
    snprintf(why, cap, "config %s: '%.*s' %s", key, 100, value ? value : "(null)", reason);
    return WEIR_E_BAD_CONFIG;
}

static enum weir_err set_policy(uint8_t *field, const char *key, const char *v, char *why, size_t cap)
{
    uint8_t bits = 0;
    for (const char *p = v; *p;) {
        while (isspace((unsigned char)*p)) p++;
        size_t len = strcspn(p, ",");
        size_t word = len;
        while (word > 0 && isspace((unsigned char)p[word - 1])) word--;
        if (word == 7 && !memcmp(p, "compact", 7))
            bits |= WEIR_CLEANUP_COMPACT;
        else if (word == 6 && !memcmp(p, "delete", 6))
            bits |= WEIR_CLEANUP_DELETE;
        else
            return bad(why, cap, key, v, "is not a list of compact and delete");
        p += len;
        if (*p == ',') p++;
    }
    *field = bits;
    return WEIR_OK;
}

static enum weir_err set_number(const struct config_key *k, char *field, const char *v, char *why, size_t cap)
{
    int64_t n;
    if (!parse_i64(v, &n)) return bad(why, cap, k->name, v, "is not an integer");
    if (n < k->min || n > k->max) {
        snprintf(why, cap, "config %s: %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", k->name, n, k->min, k->max);
        return WEIR_E_BAD_CONFIG;
    }
    if (k->kind == CFG_U64)
        *(uint64_t *)(void *)field = (uint64_t)n;
    else if (k->kind == CFG_U32)
        *(uint32_t *)(void *)field = (uint32_t)n;
    else
        *(int64_t *)(void *)field = n;
    return WEIR_OK;
}

static enum weir_err set_other(const struct config_key *k, char *field, const char *v, char *why, size_t cap)
{
    switch (k->kind) {
    case CFG_BOOL: {
        bool t = !strcasecmp(v, "true");
        if (!t && strcasecmp(v, "false")) return bad(why, cap, k->name, v, "is not true or false");
        *(bool *)(void *)field = t;
        return WEIR_OK;
    }
    case CFG_RATIO: {
        double d;
        if (!parse_ratio(v, &d)) return bad(why, cap, k->name, v, "is not a number");
        if (d < 0 || d > 1) return bad(why, cap, k->name, v, "is outside [0, 1]");
        *(double *)(void *)field = d;
        return WEIR_OK;
    }
    case CFG_CHOICE: {
        int i = choice_index(k->choices, v);
        if (i < 0) {
            char reason[160];
            snprintf(reason, sizeof reason, "is not one of: %s", k->choices);
            return bad(why, cap, k->name, v, reason);
        }
        *(uint8_t *)(void *)field = (uint8_t)i;
        return WEIR_OK;
    }
    case CFG_POLICY: return set_policy((uint8_t *)(void *)field, k->name, v, why, cap);
    case CFG_TEXT:
        if (strlen(v) >= WEIR_LOG_CONFIG_TEXT_BYTES) return bad(why, cap, k->name, v, "is too long for weir");
        if (k->check == TEXT_VERSION && !version_ok(v)) return bad(why, cap, k->name, v, "is not a Kafka version");
        if (k->check == TEXT_THROTTLED && !throttled_ok(v))
            return bad(why, cap, k->name, v,
                       "must be the literal '*' or a list of replicas as "
                       "partitionId:brokerId,...");
        snprintf(field, WEIR_LOG_CONFIG_TEXT_BYTES, "%s", v);
        return WEIR_OK;
    default: return set_number(k, field, v, why, cap);
    }
}

static const struct config_key *key_find(const char *key)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(config_keys); i++)
        if (!strcmp(config_keys[i].name, key)) return &config_keys[i];
    return NULL;
}

enum weir_err weir_log_config_set(struct weir_log_config *c, const char *key, const char *value, char *why,
                                  size_t why_cap)
{
    const struct config_key *k = key_find(key);
    if (!k) {
        snprintf(why, why_cap, "unknown topic config '%.200s'", key);
        return WEIR_E_BAD_CONFIG;
    }
    char buf[WEIR_LOG_CONFIG_TEXT_BYTES + 64];
    const char *v = value ? trimmed(value, buf, sizeof buf) : NULL;
    if (!v) return bad(why, why_cap, key, NULL, "is not a value");
    if (k->field == offsetof(struct weir_log_config, remote_storage) && !strcasecmp(v, "true"))
        return bad(why, why_cap, key, v,
                   "is refused: tiered storage is disabled on this broker, so a "
                   "topic cannot use remote log storage");
    return set_other(k, (char *)c + k->field, v, why, why_cap);
}

/* A double as Java's Double.toString writes one in [0, 1]: shortest form, ".0"
 * kept. */
static void format_ratio(double d, char *buf, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) break;
    }
    if (!strpbrk(buf, ".e")) snprintf(buf + strlen(buf), cap - strlen(buf), ".0");
}

static void key_value(const struct weir_log_config *c, const struct config_key *k, char *buf, size_t cap)
{
    const char *field = (const char *)c + k->field;
    switch (k->kind) {
    case CFG_U64: snprintf(buf, cap, "%" PRIu64, *(const uint64_t *)(const void *)field); break;
    case CFG_U32: snprintf(buf, cap, "%" PRIu32, *(const uint32_t *)(const void *)field); break;
    case CFG_I64: snprintf(buf, cap, "%" PRId64, *(const int64_t *)(const void *)field); break;
    case CFG_BOOL: snprintf(buf, cap, "%s", *(const bool *)(const void *)field ? "true" : "false"); break;
    case CFG_RATIO: format_ratio(*(const double *)(const void *)field, buf, cap); break;
    case CFG_CHOICE: choice_name(k->choices, *(const uint8_t *)(const void *)field, buf, cap); break;
    case CFG_POLICY: {
        uint8_t bits = *(const uint8_t *)(const void *)field;
        snprintf(buf, cap, "%s%s%s", bits & WEIR_CLEANUP_COMPACT ? "compact" : "",
                 bits == (WEIR_CLEANUP_COMPACT | WEIR_CLEANUP_DELETE) ? "," : "",
                 bits & WEIR_CLEANUP_DELETE ? "delete" : "");
        break;
    }
    case CFG_TEXT: snprintf(buf, cap, "%s", field); break;
    }
}

enum weir_err weir_log_config_get(const struct weir_log_config *c, const char *key, char *buf, size_t cap)
{
    const struct config_key *k = key_find(key);
    if (!k) return WEIR_E_NOT_FOUND;
    key_value(c, k, buf, cap);
    return WEIR_OK;
}

size_t weir_log_config_format(const struct weir_log_config *c, char *buf, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(config_keys); i++) {
        char value[WEIR_LOG_CONFIG_TEXT_BYTES];
        key_value(c, &config_keys[i], value, sizeof value);
        int n = snprintf(buf + WEIR_MIN(used, cap), used < cap ? cap - used : 0, "%s=%s\n", config_keys[i].name, value);
        if (n > 0) used += (size_t)n;
    }
    return used;
}

bool weir_log_config_key(size_t i, struct weir_log_config_info *out)
{
    if (i >= WEIR_ARRAY_LEN(config_keys)) return false;
    const struct config_key *k = &config_keys[i];
    *out = (struct weir_log_config_info){ .name = k->name, .type = k->type, .synonyms = k->synonyms, .note = k->note };
    return true;
}

bool weir_log_config_info(const char *key, struct weir_log_config_info *out)
{
    const struct config_key *k = key_find(key);
    return k && weir_log_config_key((size_t)(k - config_keys), out);
}

int64_t weir_log_config_timestamp_before_ms(const struct weir_log_config *c)
{
    return c->timestamp_before_max_ms != INT64_MAX ? c->timestamp_before_max_ms : c->timestamp_difference_max_ms;
}

int64_t weir_log_config_timestamp_after_ms(const struct weir_log_config *c)
{
    return c->timestamp_after_max_ms != INT64_MAX ? c->timestamp_after_max_ms : c->timestamp_difference_max_ms;
}

enum weir_err weir_log_config_check(const struct weir_log_config *c, char *why, size_t why_cap)
{
    if (c->segment_index_bytes < 2 * TIME_ENTRY_BYTES) {
        snprintf(why, why_cap, "config segment.index.bytes: %" PRIu64 " holds too few index entries",
                 c->segment_index_bytes);
        return WEIR_E_BAD_CONFIG;
    }
    if (c->segment_bytes + c->max_message_bytes > WEIR_SEGMENT_BYTES_MAX) {
        snprintf(why, why_cap,
                 "config segment.bytes + max.message.bytes exceeds the 32-bit "
                 "index positions");
        return WEIR_E_BAD_CONFIG;
    }
    if (c->min_compaction_lag_ms > c->max_compaction_lag_ms) { /* Kafka's LogConfig.validateValues */
        snprintf(why, why_cap,
                 "config min.compaction.lag.ms: conflicting topic config setting "
                 "min.compaction.lag.ms (%" PRId64 ") > max.compaction.lag.ms (%" PRId64 ")",
                 c->min_compaction_lag_ms, c->max_compaction_lag_ms);
        return WEIR_E_BAD_CONFIG;
    }
    return WEIR_OK;
}
