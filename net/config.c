/* net/config.c: the broker's configuration, by Kafka server.properties key.
 *
 * Every value is input. It is parsed strictly (decimal integers with an
 * optional '-', nothing before or after; range and overflow checked) and a bad
 * one gets a one-line reason that names the key and the value. On error the
 * config is unchanged, for a single key and for a whole file alike.
 *
 * Precedence, as in Kafka: when several keys set the same thing, the more
 * specific one wins whatever the order they arrive in:
 *   log.retention.ms > log.retention.minutes > log.retention.hours
 *   log.roll.ms > log.roll.hours
 *   log.dirs > log.dir
 *   weir.offsets.retention.ms > offsets.retention.minutes
 * c->keys_set remembers which of them were set; an outranked value is still
 * validated, then ignored (with a warning). broker.id and node.id name the same
 * id; both set to different values is an error. */
#include "engine/engine.h"
#include "net.h"
#include "repl/repl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    CONFIG_FILE_BYTES_MAX = 1 << 20,
    REACTORS_CONFIG_MAX = 64,  /* net_int.h REACTORS_MAX: one waiter bit per reactor */
    PARTITIONS_CONFIG_MAX = 100000,
    SHOWN_BYTES_MAX = 160, /* longest key or value quoted in a message */
    WHY_BYTES = 512,
};

enum key_kind {
    KEY_I32,        /* int32_t field */
    KEY_U32,        /* unsigned field */
    KEY_I64,        /* int64_t field; scale > 1: the value times scale */
    KEY_RATIO,      /* double field: a decimal fraction in [0, 1] */
    KEY_BOOL,       /* bool field: true|false */
    KEY_LISTENER,   /* listeners */
    KEY_ADVERTISED, /* advertised.listeners */
    KEY_PROTOCOL_MAP, /* listener.security.protocol.map */
    KEY_LISTENER_NAME, /* inter.broker.listener.name */
    KEY_DATA_DIR,   /* log.dirs, log.dir */
    KEY_PATH,       /* a char[4096] field; empty = unset */
    KEY_FETCH_SEND, /* weir.fetch.send.mode */
    KEY_NODE_ID,    /* broker.id, node.id */
    KEY_LOG,        /* a topic default: weir_log_config_set(topic_key, value * scale) */
    KEY_ZK,         /* zookeeper.connect */
    KEY_METRICS,    /* weir.metrics.listen: HOST:PORT, empty = off */
};

enum { /* bits of keys_set */
    SET_RETENTION_MS = 1u << 0,
    SET_RETENTION_MINUTES = 1u << 1,
    SET_RETENTION_HOURS = 1u << 2,
    SET_ROLL_MS = 1u << 3,
    SET_ROLL_HOURS = 1u << 4,
    SET_LOG_DIRS = 1u << 5,
    SET_LOG_DIR = 1u << 6,
    SET_BROKER_ID = 1u << 7,
    SET_NODE_ID = 1u << 8,
    SET_OFFSETS_RETENTION_MS = 1u << 9,
    SET_OFFSETS_RETENTION_MINUTES = 1u << 10,
};

struct broker_key {
    const char *name;
    enum key_kind kind;
    size_t field;           /* KEY_I32, KEY_U32, KEY_I64, KEY_RATIO, KEY_BOOL, KEY_PATH */
    int64_t min, max;       /* integer kinds; KEY_LOG, KEY_I64: before scaling, when scale > 1 */
    const char *topic_key;  /* KEY_LOG; a KEY_RATIO topic default */
    int64_t scale;          /* KEY_LOG, KEY_I64: milliseconds per unit; KEY_LOG 1 = the engine checks the range */
    uint32_t self;          /* this key's bit in keys_set, 0 when not ranked */
    uint32_t outranked_by;  /* bits of the keys that win over this one */
};

#define FIELD(f) offsetof(struct weir_broker_config, f)
#define LOG_KEY(name, topic) { name, KEY_LOG, 0, 0, 0, topic, 1, 0, 0 }

static const struct broker_key broker_keys[] = {
    { "listeners", KEY_LISTENER, 0, 0, 0, NULL, 0, 0, 0 },
    { "advertised.listeners", KEY_ADVERTISED, 0, 0, 0, NULL, 0, 0, 0 },
    { "listener.security.protocol.map", KEY_PROTOCOL_MAP, 0, 0, 0, NULL, 0, 0, 0 },
    { "inter.broker.listener.name", KEY_LISTENER_NAME, 0, 0, 0, NULL, 0, 0, 0 },
    { "log.dirs", KEY_DATA_DIR, 0, 0, 0, NULL, 0, SET_LOG_DIRS, 0 },
    { "log.dir", KEY_DATA_DIR, 0, 0, 0, NULL, 0, SET_LOG_DIR, SET_LOG_DIRS },
    { "broker.id", KEY_NODE_ID, 0, 0, INT32_MAX, NULL, 0, SET_BROKER_ID, 0 },
    { "node.id", KEY_NODE_ID, 0, 0, INT32_MAX, NULL, 0, SET_NODE_ID, 0 },
    { "num.partitions", KEY_I32, FIELD(num_partitions), 1, PARTITIONS_CONFIG_MAX, NULL, 0, 0, 0 },
    { "auto.create.topics.enable", KEY_BOOL, FIELD(auto_create_topics), 0, 0, NULL, 0, 0, 0 },
    { "socket.request.max.bytes", KEY_I32, FIELD(socket_request_max_bytes), 1024, INT32_MAX, NULL, 0, 0, 0 },
    { "max.connections", KEY_I32, FIELD(max_connections), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "max.connections.per.ip", KEY_I32, FIELD(max_connections_per_ip), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "log.retention.check.interval.ms", KEY_I64, FIELD(retention_check_ms), 1, INT64_MAX, NULL, 0, 0, 0 },
    { "log.cleaner.enable", KEY_BOOL, FIELD(cleaner_enable), 0, 0, NULL, 0, 0, 0 },
    { "log.cleaner.backoff.ms", KEY_I64, FIELD(cleaner_backoff_ms), 0, INT64_MAX, NULL, 0, 0, 0 },
    { "weir.offsets.retention.ms", KEY_I64, FIELD(offsets_retention_ms), 1, INT64_MAX, NULL, 1,
      SET_OFFSETS_RETENTION_MS, 0 },
    { "offsets.retention.minutes", KEY_I64, FIELD(offsets_retention_ms), 1, INT64_MAX / 60000, NULL, 60000,
      SET_OFFSETS_RETENTION_MINUTES, SET_OFFSETS_RETENTION_MS },
    { "offsets.retention.check.interval.ms", KEY_I64, FIELD(offsets_retention_check_ms), 1, INT64_MAX, NULL, 1, 0, 0 },
    /* a topic default parsed as a ratio (KEY_LOG takes integers) */
    { "log.cleaner.min.cleanable.ratio", KEY_RATIO, FIELD(log.min_cleanable_dirty_ratio), 0, 0,
      "min.cleanable.dirty.ratio", 0, 0, 0 },
    { "offsets.topic.segment.bytes", KEY_I64, FIELD(offsets_segment_bytes), 1 << 20, 1 << 30, NULL, 1, 0, 0 },
    { "group.max.size", KEY_I32, FIELD(group_max_size), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "weir.groups.max", KEY_I64, FIELD(groups_max), 1, INT64_MAX, NULL, 1, 0, 0 },
    { "weir.group.offsets.max", KEY_I32, FIELD(group_offsets_max), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "log.preallocate.max.bytes", KEY_I64, FIELD(disk.prealloc_max_bytes), WEIR_PREALLOC_STEP_MIN_BYTES, 1 << 30,
      NULL, 1, 0, 0 },
    { "log.preallocate.budget.bytes", KEY_I64, FIELD(disk.prealloc_budget_bytes), 0, INT64_MAX, NULL, 1, 0, 0 },
    { "log.disk.reserve.bytes", KEY_I64, FIELD(disk.reserve_bytes), -1, INT64_MAX, NULL, 1, 0, 0 },
    { "weir.reactors", KEY_U32, FIELD(reactors), 0, REACTORS_CONFIG_MAX, NULL, 0, 0, 0 },
    { "weir.fetch.send.mode", KEY_FETCH_SEND, 0, 0, 0, NULL, 0, 0, 0 },
    { "weir.port.file", KEY_PATH, FIELD(port_file), 0, 0, NULL, 0, 0, 0 },
    { "weir.metrics.listen", KEY_METRICS, 0, 0, 0, NULL, 0, 0, 0 },
    { "zookeeper.connect", KEY_ZK, 0, 0, 0, NULL, 0, 0, 0 },
    { "zookeeper.session.timeout.ms", KEY_I32, FIELD(zk_session_timeout_ms), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "zookeeper.connection.timeout.ms", KEY_I32, FIELD(zk_connection_timeout_ms), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "default.replication.factor", KEY_I32, FIELD(default_replication_factor), 1, WEIR_REPLICAS_MAX, NULL, 0, 0, 0 },
    { "offsets.topic.replication.factor", KEY_I32, FIELD(offsets_topic_replication_factor), 1, WEIR_REPLICAS_MAX,
      NULL, 0, 0, 0 },
    { "unclean.leader.election.enable", KEY_BOOL, FIELD(unclean_leader_election), 0, 0, NULL, 0, 0, 0 },
    { "controlled.shutdown.enable", KEY_BOOL, FIELD(controlled_shutdown), 0, 0, NULL, 0, 0, 0 },
    { "controlled.shutdown.max.retries", KEY_I32, FIELD(controlled_shutdown_max_retries), 1, INT32_MAX, NULL, 0, 0,
      0 },
    { "controlled.shutdown.retry.backoff.ms", KEY_I64, FIELD(controlled_shutdown_backoff_ms), 1, INT32_MAX, NULL, 1,
      0, 0 },
    { "auto.leader.rebalance.enable", KEY_BOOL, FIELD(auto_leader_rebalance), 0, 0, NULL, 0, 0, 0 },
    { "leader.imbalance.check.interval.seconds", KEY_I64, FIELD(leader_imbalance_check_ms), 1, INT64_MAX / 1000,
      NULL, 1000, 0, 0 },
    { "leader.imbalance.per.broker.percentage", KEY_I32, FIELD(leader_imbalance_pct), 0, 100, NULL, 0, 0, 0 },
    { "replica.fetch.max.bytes", KEY_I32, FIELD(replica_fetch_max_bytes), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "replica.fetch.min.bytes", KEY_I32, FIELD(replica_fetch_min_bytes), 1, INT32_MAX, NULL, 0, 0, 0 },
    { "replica.fetch.wait.max.ms", KEY_I32, FIELD(replica_fetch_wait_max_ms), 0, INT32_MAX, NULL, 0, 0, 0 },
    { "replica.fetch.response.max.bytes", KEY_I32, FIELD(replica_fetch_response_max_bytes), 1, INT32_MAX, NULL, 0,
      0, 0 },
    { "replica.fetch.backoff.ms", KEY_I32, FIELD(replica_fetch_backoff_ms), 0, INT32_MAX, NULL, 0, 0, 0 },
    LOG_KEY("log.segment.bytes", "segment.bytes"),
    { "log.roll.ms", KEY_LOG, 0, 0, 0, "segment.ms", 1, SET_ROLL_MS, 0 },
    { "log.roll.hours", KEY_LOG, 0, 1, INT64_MAX, "segment.ms", 3600000, SET_ROLL_HOURS, SET_ROLL_MS },
    LOG_KEY("log.index.size.max.bytes", "segment.index.bytes"),
    LOG_KEY("log.index.interval.bytes", "index.interval.bytes"),
    LOG_KEY("log.retention.bytes", "retention.bytes"),
    { "log.retention.ms", KEY_LOG, 0, 0, 0, "retention.ms", 1, SET_RETENTION_MS, 0 },
    { "log.retention.minutes", KEY_LOG, 0, -1, INT64_MAX, "retention.ms", 60000, SET_RETENTION_MINUTES,
      SET_RETENTION_MS },
    { "log.retention.hours", KEY_LOG, 0, -1, INT64_MAX, "retention.ms", 3600000, SET_RETENTION_HOURS,
      SET_RETENTION_MS | SET_RETENTION_MINUTES },
    LOG_KEY("message.max.bytes", "max.message.bytes"),
    LOG_KEY("log.flush.interval.messages", "flush.messages"),
    LOG_KEY("log.flush.interval.ms", "flush.ms"),
    LOG_KEY("min.insync.replicas", "min.insync.replicas"),
    LOG_KEY("compression.type", "compression.type"),
    LOG_KEY("log.cleanup.policy", "cleanup.policy"),
    LOG_KEY("log.cleaner.delete.retention.ms", "delete.retention.ms"),
    LOG_KEY("log.cleaner.min.compaction.lag.ms", "min.compaction.lag.ms"),
    LOG_KEY("log.cleaner.max.compaction.lag.ms", "max.compaction.lag.ms"),
    LOG_KEY("log.message.timestamp.type", "message.timestamp.type"),
    LOG_KEY("log.message.timestamp.difference.max.ms", "message.timestamp.difference.max.ms"),
    LOG_KEY("log.message.timestamp.before.max.ms", "message.timestamp.before.max.ms"),
    LOG_KEY("log.message.timestamp.after.max.ms", "message.timestamp.after.max.ms"),
    { "replica.lag.time.max.ms", KEY_I64, FIELD(replica_lag_time_max_ms), 1, INT64_MAX, NULL, 1, 0, 0 },
};

bool weir_broker_config_known(const char *key)
{
    for (size_t i = 0; i < sizeof broker_keys / sizeof broker_keys[0]; i++)
        if (!strcmp(broker_keys[i].name, key)) return true;
    return false;
}

void weir_broker_config_default(struct weir_broker_config *c)
{
    memset(c, 0, sizeof *c);
    c->listeners_n = 1;
    snprintf(c->listeners[0].name, sizeof c->listeners[0].name, "PLAINTEXT");
    snprintf(c->listeners[0].host, sizeof c->listeners[0].host, "127.0.0.1");
    c->listeners[0].port = 9092;
    static const char *const protocols[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(protocols); i++) { /* Kafka's default map: each to itself */
        snprintf(c->protocol_map[i].listener, sizeof c->protocol_map[i].listener, "%s", protocols[i]);
        snprintf(c->protocol_map[i].protocol, sizeof c->protocol_map[i].protocol, "%s", protocols[i]);
    }
    c->protocol_map_n = WEIR_ARRAY_LEN(protocols);
    snprintf(c->data_dir, sizeof c->data_dir, "./weir-data");
    c->reactors = 0;
    c->node_id = 0;
    c->num_partitions = 1;
    c->auto_create_topics = true;
    c->socket_request_max_bytes = 104857600;
    c->max_connections = INT32_MAX;
    c->max_connections_per_ip = INT32_MAX;
    c->retention_check_ms = 300000;
    c->cleaner_enable = true;
    c->cleaner_backoff_ms = 15000;
    c->replica_lag_time_max_ms = 30000;
    c->offsets_retention_ms = (int64_t)10080 * 60000;
    c->offsets_retention_check_ms = 600000;
    c->offsets_segment_bytes = 0; /* unset: min(100 MiB, log.segment.bytes) */
    c->group_max_size = 1000;     /* Kafka: unbounded; weir's rebalance is quadratic in members */
    c->groups_max = 100000;
    c->group_offsets_max = 100000;
    c->fetch_send = WEIR_FETCH_SEND_COPY;
    c->zk_session_timeout_ms = 18000;
    c->zk_connection_timeout_ms = 0; /* unset: the session timeout */
    c->default_replication_factor = 1;
    c->offsets_topic_replication_factor = 3;
    c->unclean_leader_election = false;
    c->controlled_shutdown = true;
    c->controlled_shutdown_max_retries = 3;
    c->controlled_shutdown_backoff_ms = 5000;
    c->auto_leader_rebalance = true;
    c->leader_imbalance_check_ms = 300000;
    c->leader_imbalance_pct = 10;
    c->replica_fetch_max_bytes = 1048576;
    c->replica_fetch_min_bytes = 1;
    c->replica_fetch_wait_max_ms = 500;
    c->replica_fetch_response_max_bytes = 10485760;
    c->replica_fetch_backoff_ms = 1000;
    weir_log_config_default(&c->log);
    weir_disk_policy_default(&c->disk);
    c->keys_set = 0;
}

/* Copies s into buf for a message: at most SHOWN_BYTES_MAX bytes, control
 * characters as '?', so that a message stays one line whatever the input. */
static const char *shown(const char *s, char *buf, size_t cap)
{
    size_t n = 0, limit = WEIR_MIN(cap - 1, (size_t)SHOWN_BYTES_MAX);
    for (; s[n] && n < limit; n++) buf[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    buf[n] = '\0';
    if (s[n] && n >= 3) memcpy(buf + n - 3, "...", 3);
    return buf;
}

/* Formats "config <key>: '<value>' <reason>". Returns WEIR_E_BAD_CONFIG. */
static enum weir_err bad_value(char *why, size_t why_cap, const char *key, const char *value, const char *reason)
{
    char v[SHOWN_BYTES_MAX + 1];
    snprintf(why, why_cap, "config %s: '%s' %s", key, shown(value, v, sizeof v), reason);
    return WEIR_E_BAD_CONFIG;
}

/* Strict decimal int64: optional '-', then digits, nothing else. NULL on
 * success, else the reason. */
static const char *parse_int(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    const char *p = s + neg;
    if (*p < '0' || *p > '9') return "is not an integer";
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return "is not an integer";
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (limit - d) / 10) return "does not fit a 64-bit integer";
        v = v * 10 + d;
    }
    *out = !neg ? (int64_t)v : v == limit ? INT64_MIN : -(int64_t)v;
    return NULL;
}

static enum weir_err parse_ranged(const struct broker_key *k, const char *value, int64_t *out, char *why,
                                  size_t why_cap)
{
    const char *reason = parse_int(value, out);
    if (reason) return bad_value(why, why_cap, k->name, value, reason);
    if (*out < k->min || *out > k->max) {
        char range[80];
        snprintf(range, sizeof range, "is outside [%" PRId64 ", %" PRId64 "]", k->min, k->max);
        return bad_value(why, why_cap, k->name, value, range);
    }
    return WEIR_OK;
}

/* A valid value of a key that a more specific one, already set, overrides. */
static enum weir_err outranked(const struct broker_key *k, uint32_t keys_set, const char *value)
{
    const char *winner = "a more specific key";
    for (size_t i = 0; i < WEIR_ARRAY_LEN(broker_keys); i++) { /* most specific first */
        if (broker_keys[i].self & k->outranked_by & keys_set) {
            winner = broker_keys[i].name;
            break;
        }
    }
    char v[SHOWN_BYTES_MAX + 1];
    weir_log(WEIR_LOG_WARN, "config %s=%s ignored: %s is set and takes precedence", k->name,
             shown(value, v, sizeof v), winner);
    return WEIR_OK;
}

static bool host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '-' || ch == '_';
}

/* Splits "HOST:PORT" / "[V6]:PORT" / ":PORT" (empty host). NULL or the reason. */
static const char *hostport_split(const char *s, char *host, size_t host_cap, const char **port)
{
    const char *end;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') return "needs [IPV6]:PORT";
        size_t n = (size_t)(close - s - 1);
        if (n == 0 || n >= host_cap) return "has an empty or overlong IPv6 address";
        memcpy(host, s + 1, n), host[n] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1) return "has an invalid IPv6 address";
        *port = close + 2;
        return NULL;
    }
    end = strrchr(s, ':');
    if (!end) return "has no :PORT";
    size_t n = (size_t)(end - s);
    if (memchr(s, ':', n)) return "has more than one ':' (an IPv6 address needs [brackets])";
    if (n >= host_cap) return "has a host longer than 255 bytes";
    for (size_t i = 0; i < n; i++)
        if (!host_char_ok(s[i])) return "has a host with a character other than [A-Za-z0-9._-]";
    memcpy(host, s, n), host[n] = '\0';
    *port = end + 1;
    return NULL;
}

/* A listener or security protocol name: [A-Za-z0-9_]{1,63}, kept upper case
 * (Kafka's ListenerName.normalised). NULL or the reason. */
static const char *name_parse(const char *s, size_t n, char *out)
{
    if (n == 0) return "has an empty listener name";
    if (n >= WEIR_LISTENER_NAME_MAX) return "has a listener name longer than 63 bytes";
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            return "has a listener name with a character other than [A-Za-z0-9_]";
        out[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    out[n] = '\0';
    return NULL;
}

/* NAME://HOST:PORT into l (brackets removed). Listening, an empty host means
 * 0.0.0.0 and port 0 an ephemeral port; advertised, both must be something a
 * client can connect to. NULL on success, else the reason. */
static const char *listener_parse(const char *v, bool advertised, struct weir_listener *l)
{
    if (!*v) return "is empty: expected NAME://HOST:PORT";
    const char *sep = strstr(v, "://");
    if (!sep) return "has no listener name: expected NAME://HOST:PORT";
    const char *reason = name_parse(v, (size_t)(sep - v), l->name);
    if (reason) return reason;
    const char *port_text = "";
    reason = hostport_split(sep + 3, l->host, sizeof l->host, &port_text);
    if (reason) return reason;
    int64_t p = 0;
    if (parse_int(port_text, &p) || port_text[0] == '-' || strlen(port_text) > 5 || p > 65535)
        return advertised ? "needs a port in 1..65535" : "needs a port in 0..65535";
    if (advertised) {
        if (p == 0) return "has port 0: advertise the port clients connect to";
        if (!l->host[0]) return "has no host: advertise a host clients can reach";
        if (strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "::") == 0)
            return "advertises a wildcard address: advertise a host clients can reach";
    } else if (!l->host[0]) {
        snprintf(l->host, sizeof l->host, "0.0.0.0");
    }
    l->port = (uint16_t)p;
    return NULL;
}

/* The next comma-separated entry of a list, trimmed of blanks, into buf;
 * *p moves past it. false at the end of the list. */
static bool list_next(const char **p, char *buf, size_t cap, bool *too_long)
{
    if (!*p) return false;
    const char *s = *p, *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *p = comma ? comma + 1 : NULL;
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t n = (size_t)(end - s);
    *too_long = n >= cap;
    if (*too_long) n = cap - 1;
    memcpy(buf, s, n), buf[n] = '\0';
    return true;
}

/* listeners, advertised.listeners: NAME://HOST:PORT[,NAME://HOST:PORT...]
 * (Kafka's listenerListToEndPoints): names unique; listening, nonzero ports
 * unique too. Each entry is checked alone; the checks against other keys wait
 * for weir_broker_config_check. */
static enum weir_err set_listener(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                  char *why, size_t why_cap)
{
    bool advertised = k->kind == KEY_ADVERTISED;
    struct weir_listener next[WEIR_LISTENERS_MAX];
    memset(next, 0, sizeof next);
    unsigned n = 0;
    char entry[600], reason[160];
    bool too_long = false;
    for (const char *p = value; list_next(&p, entry, sizeof entry, &too_long);) {
        if (too_long) return bad_value(why, why_cap, k->name, value, "has an entry longer than 599 bytes");
        if (!*entry && !p && n > 0) return bad_value(why, why_cap, k->name, value, "ends with a comma");
        if (n == WEIR_LISTENERS_MAX) return bad_value(why, why_cap, k->name, value, "lists more than 8 listeners");
        const char *r = listener_parse(entry, advertised, &next[n]);
        if (r) {
            if (!strchr(value, ',')) return bad_value(why, why_cap, k->name, value, r);
            char shown_entry[SHOWN_BYTES_MAX + 1];
            snprintf(reason, sizeof reason, "entry '%s' %s", shown(entry, shown_entry, sizeof shown_entry), r);
            return bad_value(why, why_cap, k->name, value, reason);
        }
        for (unsigned i = 0; i < n; i++) {
            if (strcmp(next[i].name, next[n].name) == 0) {
                snprintf(reason, sizeof reason, "names listener %.63s twice (each name must be unique)", next[n].name);
                return bad_value(why, why_cap, k->name, value, reason);
            }
            if (!advertised && next[n].port != 0 && next[i].port == next[n].port) {
                snprintf(reason, sizeof reason, "has port %u twice (each listener needs its own port)",
                         (unsigned)next[n].port);
                return bad_value(why, why_cap, k->name, value, reason);
            }
        }
        n++;
    }
    memcpy(advertised ? c->advertised : c->listeners, next, sizeof next);
    *(advertised ? &c->advertised_n : &c->listeners_n) = n;
    return WEIR_OK;
}

/* listener.security.protocol.map: NAME:PROTOCOL[,NAME:PROTOCOL...]; weir
 * speaks PLAINTEXT only, so any other protocol is refused by name. */
static enum weir_err set_protocol_map(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                      char *why, size_t why_cap)
{
    __typeof__(c->protocol_map) next;
    memset(next, 0, sizeof next);
    unsigned n = 0;
    char entry[200], reason[200];
    bool too_long = false;
    for (const char *p = value; list_next(&p, entry, sizeof entry, &too_long);) {
        if (too_long) return bad_value(why, why_cap, k->name, value, "has an entry longer than 199 bytes");
        if (n == WEIR_PROTOCOL_MAP_MAX) return bad_value(why, why_cap, k->name, value, "has more than 16 entries");
        char *colon = strchr(entry, ':');
        if (!colon) return bad_value(why, why_cap, k->name, value, "needs LISTENER:PROTOCOL entries");
        const char *r = name_parse(entry, (size_t)(colon - entry), next[n].listener);
        if (!r) r = name_parse(colon + 1, strlen(colon + 1), next[n].protocol);
        if (r) return bad_value(why, why_cap, k->name, value, r);
        if (strcmp(next[n].protocol, "PLAINTEXT") != 0) {
            snprintf(reason, sizeof reason, "maps listener %.63s to security protocol %.63s: weir supports only PLAINTEXT",
                     next[n].listener, next[n].protocol);
            return bad_value(why, why_cap, k->name, value, reason);
        }
        for (unsigned i = 0; i < n; i++)
            if (strcmp(next[i].listener, next[n].listener) == 0) {
                snprintf(reason, sizeof reason, "maps listener %.63s twice", next[n].listener);
                return bad_value(why, why_cap, k->name, value, reason);
            }
        n++;
    }
    memcpy(c->protocol_map, next, sizeof next);
    c->protocol_map_n = n;
    return WEIR_OK;
}

static enum weir_err set_listener_name(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                       char *why, size_t why_cap)
{
    char name[WEIR_LISTENER_NAME_MAX];
    const char *r = name_parse(value, strlen(value), name);
    if (r) return bad_value(why, why_cap, k->name, value, r);
    memcpy(c->inter_broker_listener, name, sizeof name);
    return WEIR_OK;
}

static int listener_find(const struct weir_listener *v, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return (int)i;
    return -1;
}

int weir_broker_config_inter_broker(const struct weir_broker_config *c)
{
    if (c->inter_broker_listener[0]) return listener_find(c->listeners, c->listeners_n, c->inter_broker_listener);
    int i = listener_find(c->listeners, c->listeners_n, "PLAINTEXT");
    return i >= 0 ? i : c->listeners_n == 1 ? 0 : -1;
}

enum weir_err weir_broker_config_check(const struct weir_broker_config *c, char *why, size_t why_cap)
{
    WEIR_ASSERT(c->listeners_n >= 1 && c->listeners_n <= WEIR_LISTENERS_MAX);
    for (unsigned i = 0; i < c->advertised_n; i++)
        if (listener_find(c->listeners, c->listeners_n, c->advertised[i].name) < 0) {
            snprintf(why, why_cap, "config advertised.listeners: listener %s is not in listeners (advertise only "
                     "listeners that exist)", c->advertised[i].name);
            return WEIR_E_BAD_CONFIG;
        }
    for (unsigned i = 0; i < c->listeners_n; i++) {
        const char *name = c->listeners[i].name, *protocol = NULL;
        for (unsigned k = 0; k < c->protocol_map_n && !protocol; k++)
            if (strcmp(c->protocol_map[k].listener, name) == 0) protocol = c->protocol_map[k].protocol;
        if (!protocol) {
            snprintf(why, why_cap, "config listener.security.protocol.map: no security protocol for listener %s "
                     "(add %s:PLAINTEXT)", name, name);
            return WEIR_E_BAD_CONFIG;
        }
        if (strcmp(protocol, "PLAINTEXT") != 0) {
            snprintf(why, why_cap, "config listeners: listener %s uses security protocol %s: weir supports only "
                     "PLAINTEXT (map it with listener.security.protocol.map=%s:PLAINTEXT)", name, protocol, name);
            return WEIR_E_BAD_CONFIG;
        }
    }
    if (weir_broker_config_inter_broker(c) < 0) {
        if (c->inter_broker_listener[0])
            snprintf(why, why_cap, "config inter.broker.listener.name: listener %s is not in listeners",
                     c->inter_broker_listener);
        else
            snprintf(why, why_cap, "config inter.broker.listener.name: not set, and no listener is named PLAINTEXT: "
                     "name the listener brokers use to reach each other");
        return WEIR_E_BAD_CONFIG;
    }
    return WEIR_OK;
}

/* A comma list of directories, as Kafka writes log.dirs; weir takes exactly
 * one. Entries are trimmed and empty ones ignored (Kafka's parseCsvList). */
static enum weir_err set_data_dir(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                  char *why, size_t why_cap)
{
    const char *dir = NULL;
    size_t dir_len = 0, count = 0;
    for (const char *p = value;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if (end > p) count++, dir = p, dir_len = (size_t)(end - p);
        if (!comma) break;
        p = comma + 1;
    }
    if (count == 0) return bad_value(why, why_cap, k->name, value, "names no directory");
    if (count > 1) return bad_value(why, why_cap, k->name, value, "lists several: weir supports one data directory");
    if (dir_len >= sizeof c->data_dir) return bad_value(why, why_cap, k->name, value, "is longer than 4095 bytes");
    if (c->keys_set & k->outranked_by) return outranked(k, c->keys_set, value);
    memcpy(c->data_dir, dir, dir_len);
    c->data_dir[dir_len] = '\0';
    return WEIR_OK;
}

static enum weir_err set_node_id(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                 char *why, size_t why_cap)
{
    int64_t v;
    enum weir_err err = parse_ranged(k, value, &v, why, why_cap);
    if (err != WEIR_OK) return err;
    uint32_t other = k->self == SET_BROKER_ID ? SET_NODE_ID : SET_BROKER_ID;
    if ((c->keys_set & other) && c->node_id != v) {
        char reason[128];
        snprintf(reason, sizeof reason, "differs from %s=%" PRId32 " (both name this broker's id)",
                 other == SET_NODE_ID ? "node.id" : "broker.id", c->node_id);
        return bad_value(why, why_cap, k->name, value, reason);
    }
    c->node_id = (int32_t)v;
    return WEIR_OK;
}

/* The engine's reason names the topic key ("config segment.bytes: ..."); say
 * the broker key the operator wrote instead. */
static void log_reason_rename(const struct broker_key *k, const char *engine_why, char *why, size_t why_cap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "config %s: ", k->topic_key);
    size_t n = strlen(prefix);
    if (k->scale == 1 && strncmp(engine_why, prefix, n) == 0)
        snprintf(why, why_cap, "config %s: %s", k->name, engine_why + n);
    else
        snprintf(why, why_cap, "config %s: %s", k->name, engine_why);
}

static enum weir_err set_log(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                             char *why, size_t why_cap)
{
    int64_t v;
    enum weir_err err = k->scale > 1 ? parse_ranged(k, value, &v, why, why_cap) : WEIR_OK;
    if (err != WEIR_OK) return err;
    if (k->scale == 1) {
        const char *reason = parse_int(value, &v);
        if (reason) return bad_value(why, why_cap, k->name, value, reason);
    }
    int64_t ms = v;
    if (v >= 0 && __builtin_mul_overflow(v, k->scale, &ms))
        return bad_value(why, why_cap, k->name, value, "overflows a 64-bit count of milliseconds");
    char text[32], engine_why[WHY_BYTES];
    snprintf(text, sizeof text, "%" PRId64, ms); /* -1 stays -1: unlimited */
    struct weir_log_config next = c->log;
    if (weir_log_config_set(&next, k->topic_key, text, engine_why, sizeof engine_why) != WEIR_OK) {
        log_reason_rename(k, engine_why, why, why_cap);
        return WEIR_E_BAD_CONFIG;
    }
    if (c->keys_set & k->outranked_by) return outranked(k, c->keys_set, value);
    c->log = next;
    return WEIR_OK;
}

static enum weir_err set_int(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                             char *why, size_t why_cap)
{
    int64_t v;
    enum weir_err err = parse_ranged(k, value, &v, why, why_cap);
    if (err != WEIR_OK) return err;
    if (k->scale > 1) v *= k->scale; /* the range keeps it within int64 */
    if (c->keys_set & k->outranked_by) return outranked(k, c->keys_set, value);
    char *field = (char *)c + k->field;
    if (k->kind == KEY_I32) *(int32_t *)(void *)field = (int32_t)v;
    else if (k->kind == KEY_U32) *(unsigned *)(void *)field = (unsigned)v;
    else *(int64_t *)(void *)field = v;
    return WEIR_OK;
}

/* A decimal fraction in [0, 1]: digits, an optional '.' and digits, nothing else. */
static enum weir_err set_ratio(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                               char *why, size_t why_cap)
{
    double v = 0, unit = 1;
    size_t digits = 0;
    bool dot = false;
    for (const char *p = value; *p; p++) {
        if (*p == '.' && !dot) {
            dot = true;
        } else if (*p >= '0' && *p <= '9' && digits < 18) {
            digits++;
            if (dot) unit /= 10, v += unit * (*p - '0');
            else v = v * 10 + (*p - '0');
        } else {
            return bad_value(why, why_cap, k->name, value, "is not a decimal number like 0.5");
        }
    }
    if (digits == 0) return bad_value(why, why_cap, k->name, value, "is not a decimal number like 0.5");
    if (v > 1) return bad_value(why, why_cap, k->name, value, "is outside [0, 1]");
    *(double *)(void *)((char *)c + k->field) = v;
    return WEIR_OK;
}

static enum weir_err set_word(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                              char *why, size_t why_cap)
{
    if (k->kind == KEY_BOOL) {
        bool *field = (bool *)(void *)((char *)c + k->field);
        if (strcasecmp(value, "true") == 0) *field = true;
        else if (strcasecmp(value, "false") == 0) *field = false;
        else return bad_value(why, why_cap, k->name, value, "is not true or false");
        return WEIR_OK;
    }
    if (k->kind == KEY_FETCH_SEND) {
        if (strcmp(value, "splice") == 0) c->fetch_send = WEIR_FETCH_SEND_SPLICE;
        else if (strcmp(value, "copy") == 0) c->fetch_send = WEIR_FETCH_SEND_COPY;
        else return bad_value(why, why_cap, k->name, value, "is not splice or copy");
        return WEIR_OK;
    }
    WEIR_ASSERT(k->kind == KEY_PATH);
    char *field = (char *)c + k->field;
    size_t n = strlen(value);
    if (n >= sizeof c->port_file) return bad_value(why, why_cap, k->name, value, "is longer than 4095 bytes");
    memcpy(field, value, n + 1);
    return WEIR_OK;
}

/* zookeeper.connect: "HOST:PORT[,HOST:PORT...][/chroot]" (ZooKeeper's connect
 * string); the chroot is a path of non-empty components. NULL or the reason. */
static const char *zk_connect_problem(const char *v)
{
    if (!*v) return "is empty: expected HOST:PORT[,HOST:PORT...][/chroot]";
    const char *slash = strchr(v, '/'), *hosts_end = slash ? slash : v + strlen(v);
    if (hosts_end == v) return "names no ZooKeeper server: expected HOST:PORT[,HOST:PORT...][/chroot]";
    for (const char *p = v; p < hosts_end;) {
        const char *comma = memchr(p, ',', (size_t)(hosts_end - p));
        const char *end = comma ? comma : hosts_end;
        char one[300], host[256];
        size_t n = (size_t)(end - p);
        if (n == 0) return "has an empty server between commas";
        if (n >= sizeof one) return "has a server longer than 299 bytes";
        memcpy(one, p, n), one[n] = '\0';
        const char *port_text = "";
        const char *reason = hostport_split(one, host, sizeof host, &port_text);
        if (reason) return reason;
        if (!*host) return "has a server without a host";
        int64_t port = 0;
        if (parse_int(port_text, &port) || port < 1 || port > 65535) return "needs a port in 1..65535 for each server";
        p = comma ? comma + 1 : hosts_end;
        if (comma && p == hosts_end) return "ends with a comma";
    }
    if (slash) {
        if (!slash[1]) return "has an empty chroot after '/' (leave the '/' out for none)";
        for (const char *p = slash; *p; p++) {
            if ((unsigned char)*p <= 0x20 || *p == 0x7f) return "has a chroot with a space or control character";
            if (*p == '/' && (p[1] == '/' || p[1] == '\0')) return "has a chroot with an empty path component";
        }
    }
    return NULL;
}

/* weir.metrics.listen: HOST:PORT ([V6]:PORT; an empty host is 0.0.0.0, port
 * 0 an ephemeral one), or empty for no metrics listener. */
static enum weir_err set_metrics(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                 char *why, size_t why_cap)
{
    struct weir_listener l = { .name = "METRICS" };
    if (!*value) {
        c->metrics_on = false;
        return WEIR_OK;
    }
    const char *port_text = "";
    const char *reason = hostport_split(value, l.host, sizeof l.host, &port_text);
    int64_t p = 0;
    if (!reason && (parse_int(port_text, &p) || port_text[0] == '-' || strlen(port_text) > 5 || p > 65535))
        reason = "needs a port in 0..65535";
    if (reason) return bad_value(why, why_cap, k->name, value, reason);
    if (!l.host[0]) snprintf(l.host, sizeof l.host, "0.0.0.0");
    l.port = (uint16_t)p;
    c->metrics = l;
    c->metrics_on = true;
    return WEIR_OK;
}

static enum weir_err set_zk_connect(struct weir_broker_config *c, const struct broker_key *k, const char *value,
                                    char *why, size_t why_cap)
{
    const char *reason = zk_connect_problem(value);
    if (!reason && strlen(value) >= sizeof c->zk_connect) reason = "is longer than 1023 bytes";
    if (reason) return bad_value(why, why_cap, k->name, value, reason);
    memcpy(c->zk_connect, value, strlen(value) + 1);
    return WEIR_OK;
}

enum weir_err weir_broker_config_set(struct weir_broker_config *c, const char *key, const char *value, char *why,
                                     size_t why_cap)
{
    WEIR_ASSERT(c && key && value);
    const struct broker_key *k = NULL;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(broker_keys) && !k; i++)
        if (strcmp(broker_keys[i].name, key) == 0) k = &broker_keys[i];
    /* Keys an older weir took and this one no longer uses: a server.properties
     * written for it still starts. */
    static const char *const retired[][2] = {
        { "weir.offsets.compaction.min.bytes", "__consumer_offsets is compacted by the log cleaner" },
    };
    for (size_t i = 0; i < WEIR_ARRAY_LEN(retired) && !k; i++)
        if (strcmp(retired[i][0], key) == 0) {
            weir_log(WEIR_LOG_WARN, "config %s is no longer used (%s): remove it", key, retired[i][1]);
            return WEIR_OK;
        }
    if (!k) {
        char shown_key[SHOWN_BYTES_MAX + 1];
        snprintf(why, why_cap, "unknown config key '%s'", shown(key, shown_key, sizeof shown_key));
        return WEIR_E_BAD_CONFIG;
    }
    enum weir_err err = WEIR_E_BAD_CONFIG;
    switch (k->kind) {
    case KEY_I32:
    case KEY_U32:
    case KEY_I64: err = set_int(c, k, value, why, why_cap); break;
    case KEY_RATIO: err = set_ratio(c, k, value, why, why_cap); break;
    case KEY_BOOL:
    case KEY_FETCH_SEND:
    case KEY_PATH: err = set_word(c, k, value, why, why_cap); break;
    case KEY_LISTENER:
    case KEY_ADVERTISED: err = set_listener(c, k, value, why, why_cap); break;
    case KEY_PROTOCOL_MAP: err = set_protocol_map(c, k, value, why, why_cap); break;
    case KEY_LISTENER_NAME: err = set_listener_name(c, k, value, why, why_cap); break;
    case KEY_DATA_DIR: err = set_data_dir(c, k, value, why, why_cap); break;
    case KEY_NODE_ID: err = set_node_id(c, k, value, why, why_cap); break;
    case KEY_LOG: err = set_log(c, k, value, why, why_cap); break;
    case KEY_ZK: err = set_zk_connect(c, k, value, why, why_cap); break;
    case KEY_METRICS: err = set_metrics(c, k, value, why, why_cap); break;
    }
    if (err == WEIR_OK) c->keys_set |= k->self;
    size_t used = strlen(c->log_keys_text);
    if (err == WEIR_OK && k->topic_key && used + strlen(k->name) + strlen(value) + 3 < sizeof c->log_keys_text)
        snprintf(c->log_keys_text + used, sizeof c->log_keys_text - used, "%s=%s\n", k->name, value);
    return err;
}

/* ---- the file loader ---------------------------------------------------------- */

static bool is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v' || ch == '\r'; }

static char *trim(char *s)
{
    while (is_blank(*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1])) s[--n] = '\0';
    return s;
}

/* One line, already cut at '\n'. Comments ('#', '!') and blank lines pass. */
static enum weir_err load_line(struct weir_broker_config *c, char *line, char *why, size_t why_cap)
{
    line = trim(line);
    if (*line == '\0' || *line == '#' || *line == '!') return WEIR_OK;
    char *eq = strchr(line, '=');
    char shown_line[SHOWN_BYTES_MAX + 1];
    if (!eq) {
        snprintf(why, why_cap, "expected KEY=VALUE, got '%s'", shown(line, shown_line, sizeof shown_line));
        return WEIR_E_BAD_CONFIG;
    }
    *eq = '\0';
    char *key = trim(line), *value = trim(eq + 1);
    if (*key == '\0') {
        snprintf(why, why_cap, "expected KEY=VALUE, got an empty key");
        return WEIR_E_BAD_CONFIG;
    }
    return weir_broker_config_set(c, key, value, why, why_cap);
}

static enum weir_err load_text(struct weir_broker_config *c, const char *path, char *text, size_t len, char *why,
                               size_t why_cap)
{
    char shown_path[SHOWN_BYTES_MAX + 1], line_why[WHY_BYTES];
    shown(path, shown_path, sizeof shown_path);
    const char *nul = memchr(text, '\0', len);
    char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3; /* UTF-8 byte order mark */
    for (unsigned line_no = 1; p < end; line_no++) {
        WEIR_ASSERT(line_no <= len); /* each turn consumes at least one byte */
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *stop = nl ? nl : end;
        if (nul && nul < stop) {
            snprintf(why, why_cap, "%s:%u: contains a NUL byte", shown_path, line_no);
            return WEIR_E_BAD_CONFIG;
        }
        *stop = '\0'; /* end is text[len], the NUL weir_read_file adds */
        if (load_line(c, p, line_why, sizeof line_why) != WEIR_OK) {
            snprintf(why, why_cap, "%s:%u: %s", shown_path, line_no, line_why);
            return WEIR_E_BAD_CONFIG;
        }
        p = stop + 1;
    }
    if (weir_log_config_check(&c->log, line_why, sizeof line_why) != WEIR_OK) {
        snprintf(why, why_cap, "%s: broker topic defaults: %s", shown_path, line_why);
        return WEIR_E_BAD_CONFIG;
    }
    return WEIR_OK;
}

enum weir_err weir_broker_config_load(struct weir_broker_config *c, const char *path, char *why, size_t why_cap)
{
    WEIR_ASSERT(c && path);
    char shown_path[SHOWN_BYTES_MAX + 1], *text = NULL;
    size_t len = 0;
    errno = 0;
    enum weir_err err = weir_read_file(path, CONFIG_FILE_BYTES_MAX, &text, &len);
    if (err != WEIR_OK) {
        int errnum = errno;
        shown(path, shown_path, sizeof shown_path);
        if (err == WEIR_E_TOO_LARGE)
            snprintf(why, why_cap, "config file '%s' is larger than %d bytes", shown_path, CONFIG_FILE_BYTES_MAX);
        else
            snprintf(why, why_cap, "cannot read config file '%s': %s", shown_path,
                     errnum ? strerror(errnum) : weir_err_str(err));
        return err;
    }
    /* Work on a copy: a bad line leaves *c as it was. */
    struct weir_broker_config *next = weir_malloc(sizeof *next);
    if (!next) {
        weir_free(text);
        snprintf(why, why_cap, "%s", weir_err_str(WEIR_E_NOMEM));
        return WEIR_E_NOMEM;
    }
    *next = *c;
    err = load_text(next, path, text, len, why, why_cap);
    if (err == WEIR_OK) *c = *next;
    weir_free(next);
    weir_free(text);
    return err;
}
