/* net/topic_configs.c: configs as Kafka lists them, from weir's "key=value"
 * lines: for DescribeConfigs (handle.c) and for what CreateTopics v5+
 * answers about each new topic (KIP-525). Calls nothing in net/ above it. */
#include "net_int.h"

#include <stdio.h>

/* Kafka's type of each config weir lists: a topic key's from the engine's
 * table; the broker's are numbers or booleans, LONG unless listed. */
static int8_t config_type(const char *key)
{
    static const char *const ints[] = { "num.partitions", "socket.request.max.bytes", "log.segment.bytes",
                                        "message.max.bytes" };
    struct weir_log_config_info info;
    if (weir_log_config_info(key, &info)) return info.type;
    if (!strcmp(key, "auto.create.topics.enable")) return KCONFIG_TYPE_BOOLEAN;
    if (!strcmp(key, "compression.type")) return KCONFIG_TYPE_STRING;
    for (size_t i = 0; i < WEIR_ARRAY_LEN(ints); i++)
        if (!strcmp(key, ints[i])) return KCONFIG_TYPE_INT;
    return KCONFIG_TYPE_LONG;
}

bool configs_key_wanted(const struct kdescribeconfigs_resource *res, const char *key)
{
    if (res->n_config_keys < 0) return true;
    for (int32_t i = 0; i < res->n_config_keys; i++)
        if (kstr_eq(res->config_keys[i], key)) return true;
    return false;
}

int32_t configs_from_lines(char *text, const struct kdescribeconfigs_resource *res, struct kdescribeconfigs_config *out,
                           int32_t max, const char *set_keys)
{
    int32_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        if (!configs_key_wanted(res, line)) continue;
        char nkey[300];
        snprintf(nkey, sizeof nkey, "\n%s\n", line);
        bool set = set_keys && strstr(set_keys, nkey) != NULL;
        int8_t source = !set_keys ? KCONFIG_SOURCE_STATIC_BROKER
                        : set     ? KCONFIG_SOURCE_DYNAMIC_TOPIC
                                  : KCONFIG_SOURCE_DEFAULT;
        out[n++] = (struct kdescribeconfigs_config){ .name = kstr_c(line), .value = kstr_c(eq + 1),
                                                     .config_source = source, .config_type = config_type(line),
                                                     .documentation = KSTR_NULL };
    }
    return n;
}

/* Each word of a ' '-separated list into word (cap bytes); returns the rest or NULL at the end. */
static const char *next_word(const char *list, char *word, size_t cap)
{
    if (!list || !*list) return NULL;
    size_t len = strcspn(list, " ");
    snprintf(word, cap, "%.*s", (int)len, list);
    return list + len + (list[len] == ' ');
}

/* The value of key in lines (the last line naming it) into out; false: none. */
void broker_log_defaults(struct broker *b, struct weir_log_config *out)
{
    pthread_mutex_lock(&b->dyn_mu);
    *out = b->log_defaults;
    pthread_mutex_unlock(&b->dyn_mu);
}

bool config_lines_get(const char *lines, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    const char *found = NULL;
    for (const char *p = lines; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, key, n) && p[n] == '=') found = p + n + 1;
    if (found && out) snprintf(out, cap, "%.*s", (int)strcspn(found, "\n"), found);
    return found != NULL;
}

struct syn_src {
    const char *lines;
    int8_t source;
};

int32_t broker_synonyms(struct request *req, const char *synonyms, struct kdescribeconfigs_synonym *out, int32_t max)
{
    struct broker *b = req->c->r->b;
    int32_t n = 0;
    pthread_mutex_lock(&b->dyn_mu);
    const struct syn_src srcs[] = { { b->dyn_self, KCONFIG_SOURCE_DYNAMIC_BROKER },
                                    { b->dyn_default, KCONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER },
                                    { b->cfg.log_keys_text, KCONFIG_SOURCE_STATIC_BROKER } };
    for (size_t s = 0; s < WEIR_ARRAY_LEN(srcs); s++) {
        char word[128], value[512];
        for (const char *l = next_word(synonyms, word, sizeof word); l && n < max; l = next_word(l, word, sizeof word)) {
            if (!config_lines_get(srcs[s].lines, word, value, sizeof value)) continue;
            char *w = arena_strdup(&req->arena, kstr_c(word)), *v = arena_strdup(&req->arena, kstr_c(value));
            if (w && v) out[n++] = (struct kdescribeconfigs_synonym){ kstr_c(w), kstr_c(v), srcs[s].source };
        }
    }
    pthread_mutex_unlock(&b->dyn_mu);
    return n;
}

void topic_configs_decorate(struct request *req, struct kdescribeconfigs_config *cfgs, int32_t n, bool synonyms,
                            bool docs)
{
    struct weir_log_config kafka_defaults;
    weir_log_config_default(&kafka_defaults);
    for (int32_t i = 0; i < n; i++) {
        struct kdescribeconfigs_config *c = &cfgs[i];
        char name[128], word[128], def[WEIR_LOG_CONFIG_TEXT_BYTES];
        snprintf(name, sizeof name, "%.*s", c->name.len, c->name.ptr);
        struct weir_log_config_info info;
        if (!weir_log_config_info(name, &info)) continue;
        if (docs && info.note) c->documentation = kstr_c(info.note);
        enum { SYNONYMS_MAX = 16 };
        struct kdescribeconfigs_synonym syn[SYNONYMS_MAX]; /* then copied: the arena is small */
        int32_t ns = 0;
        if (c->config_source == KCONFIG_SOURCE_DYNAMIC_TOPIC)
            syn[ns++] = (struct kdescribeconfigs_synonym){ c->name, c->value, KCONFIG_SOURCE_DYNAMIC_TOPIC };
        /* Kafka's order: this broker's dynamic keys, the cluster's, the static ones, the default */
        int32_t nb = info.synonyms ? broker_synonyms(req, info.synonyms, syn + ns, SYNONYMS_MAX - 1 - ns) : 0;
        if (nb > 0 && c->config_source == KCONFIG_SOURCE_DEFAULT) c->config_source = syn[ns].source;
        ns += nb;
        next_word(info.synonyms ? info.synonyms : name, word, sizeof word);
        char *w = arena_strdup(&req->arena, kstr_c(word));
        char *v = weir_log_config_get(&kafka_defaults, name, def, sizeof def) == WEIR_OK
                      ? arena_strdup(&req->arena, kstr_c(def))
                      : NULL;
        if (w && v) syn[ns++] = (struct kdescribeconfigs_synonym){ kstr_c(w), kstr_c(v), KCONFIG_SOURCE_DEFAULT };
        struct kdescribeconfigs_synonym *kept = synonyms ? weir_arena_alloc(&req->arena, (size_t)ns * sizeof *kept + 1) : NULL;
        if (kept) memcpy(kept, syn, (size_t)ns * sizeof *kept), c->synonyms = kept, c->n_synonyms = ns;
    }
}

/* ---- CreateTopics v5+: what each topic got ---------------------------------------------- */

enum { TOPIC_CONFIG_TEXT = WEIR_LOG_CONFIG_FORMAT_BYTES, TOPIC_CONFIGS_MAX = CONFIGS_MAX };

/* The configs a topic created by t has: the broker's defaults with t's
 * overrides (sources 1 and 5, as DescribeConfigs answers). */
static bool created_configs(struct request *req, const struct kcreatetopics_req_topic *t,
                            struct kcreatetopics_detail *dt)
{
    struct weir_log_config cfg;
    broker_log_defaults(req->c->r->b, &cfg);
    char *text = weir_arena_alloc(&req->arena, TOPIC_CONFIG_TEXT);
    char *set = weir_arena_alloc(&req->arena, TOPIC_CONFIG_TEXT);
    struct kdescribeconfigs_config *configs = weir_arena_alloc(&req->arena, TOPIC_CONFIGS_MAX * sizeof *configs);
    if (!text || !set || !configs) return false;
    size_t used = 0;
    set[0] = '\0';
    for (int32_t c = 0; c < t->n_configs; c++) {
        char key[256], value[256], why[128];
        snprintf(key, sizeof key, "%.*s", t->configs[c].name.len, t->configs[c].name.ptr);
        snprintf(value, sizeof value, "%.*s", WEIR_MAX(t->configs[c].value.len, 0),
                 t->configs[c].value.ptr ? t->configs[c].value.ptr : "");
        if (weir_log_config_set(&cfg, key, value, why, sizeof why) != WEIR_OK) continue;
        int n = snprintf(set + used, TOPIC_CONFIG_TEXT - used, "\n%s\n", key);
        if (n > 0 && (size_t)n < TOPIC_CONFIG_TEXT - used) used += (size_t)n - 1; /* share the newlines */
    }
    weir_log_config_format(&cfg, text, TOPIC_CONFIG_TEXT);
    struct kdescribeconfigs_resource all = { .resource_type = KRESOURCE_TOPIC, .n_config_keys = -1 };
    dt->n_configs = configs_from_lines(text, &all, configs, TOPIC_CONFIGS_MAX, set);
    topic_configs_decorate(req, configs, dt->n_configs, false, false);
    dt->configs = configs;
    return true;
}

const struct kcreatetopics_detail *createtopics_details(struct request *req, const struct kcreatetopics_req *cr,
                                                        const struct ktopic_result *res, int16_t rf_default)
{
    struct broker *b = req->c->r->b;
    if (req->hdr.api_version < 5 || cr->n_topics <= 0) return NULL;
    struct kcreatetopics_detail *out = weir_arena_alloc(&req->arena, (size_t)cr->n_topics * sizeof *out);
    for (int32_t i = 0; out && i < cr->n_topics; i++) {
        const struct kcreatetopics_req_topic *t = &cr->topics[i];
        out[i] = (struct kcreatetopics_detail){ .num_partitions = -1, .replication_factor = -1, .n_configs = -1 };
        if (res[i].error_code != 0) continue;
        out[i].num_partitions = t->num_partitions != -1 ? t->num_partitions
                                : t->n_assignments > 0  ? t->n_assignments
                                                        : b->cfg.num_partitions;
        out[i].replication_factor = t->replication_factor != -1 ? t->replication_factor
                                    : t->n_assignments > 0       ? (int16_t)t->assignments[0].n_broker_ids
                                                                 : rf_default;
        char *name = arena_strdup(&req->arena, t->name);
        if (!name || !created_configs(req, t, &out[i])) return NULL;
        if (!cr->validate_only) weir_meta_topic_id(b->meta, name, &out[i].topic_id);
    }
    return out;
}

/* ---- AlterConfigs (33) and IncrementalAlterConfigs (44) ------------------------------ */

/* The topic's own keys, canonical: its effective configs as formatted, then
 * "#set" and each key it sets, in the engine's order. */
static char *configs_canonical(struct request *req, const struct weir_log_config *cfg, const char *set)
{
    char *text = weir_arena_alloc(&req->arena, 2 * WEIR_LOG_CONFIG_FORMAT_BYTES);
    if (!text) return NULL;
    size_t used = weir_log_config_format(cfg, text, WEIR_LOG_CONFIG_FORMAT_BYTES);
    used = WEIR_MIN(used, (size_t)WEIR_LOG_CONFIG_FORMAT_BYTES - 1);
    used += (size_t)snprintf(text + used, 8, "#set");
    struct weir_log_config_info info;
    for (size_t i = 0; weir_log_config_key(i, &info); i++) {
        char nkey[128];
        snprintf(nkey, sizeof nkey, "\n%s\n", info.name);
        if (!strstr(set, nkey)) continue;
        int n = snprintf(text + used, 2 * WEIR_LOG_CONFIG_FORMAT_BYTES - used, "\n%s", info.name);
        if (n > 0 && used + (size_t)n < 2 * WEIR_LOG_CONFIG_FORMAT_BYTES) used += (size_t)n;
    }
    return text;
}

bool alter_settled(struct request *req, const char *topic, const char *expect)
{
    struct broker *b = req->c->r->b;
    struct weir_log_config cfg, defaults;
    char set[WEIR_LOG_CONFIG_FORMAT_BYTES];
    broker_log_defaults(b, &defaults);
    if (weir_meta_topic_config(b->meta, topic, &defaults, &cfg, set, sizeof set) != WEIR_OK) return true; /* gone */
    const char *now = configs_canonical(req, &cfg, set);
    return !now || !expect || !strcmp(now, expect);
}

/* One override of the plan: replaced or added (value NULL: removed). */
static bool plan_put(struct request *req, struct alter_plan *p, const char *key, const char *value)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (!strcmp(p->keys[i], key)) {
            if (value) {
                p->values[i] = value;
            } else {
                p->keys[i] = p->keys[p->n - 1], p->values[i] = p->values[p->n - 1];
                p->n--;
            }
            return true;
        }
    if (!value) return true;
    if (p->n == CONFIGS_MAX) return false;
    p->keys[p->n] = key;
    p->values[p->n++] = value;
    (void)req;
    return true;
}

char *config_list_apply(struct request *req, const char *old, const char *items, bool add)
{
    size_t cap = strlen(old) + strlen(items) + 2;
    char *out = weir_arena_alloc(&req->arena, cap), *copy = arena_strdup(&req->arena, kstr_c(old));
    char *more = arena_strdup(&req->arena, kstr_c(items));
    if (!out || !copy || !more) return NULL;
    out[0] = '\0';
    char *save = NULL;
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char nit[300], hay[600];
        snprintf(nit, sizeof nit, ",%s,", it);
        snprintf(hay, sizeof hay, ",%s,", items);
        if (!add && strstr(hay, nit)) continue;
        snprintf(hay, sizeof hay, ",%s,", out);
        if (*it && !strstr(hay, nit)) snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "", it);
    }
    for (char *it = strtok_r(add ? more : "", ",", &save); add && it; it = strtok_r(NULL, ",", &save)) {
        char nit[300], hay[600];
        snprintf(nit, sizeof nit, ",%s,", it);
        snprintf(hay, sizeof hay, ",%s,", out);
        if (*it && !strstr(hay, nit)) snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "," : "", it);
    }
    return out;
}

/* One operation of IncrementalAlterConfigs (Kafka's ConfigAdminManager
 * .prepareIncrementalConfigs) on the plan; 0 or an error code and why. */
static int16_t plan_op(struct request *req, struct alter_plan *p, const struct kalterconfigs_config *c, char *why,
                       size_t cap)
{
    char *key = arena_strdup(&req->arena, c->name);
    char *value = kstr_is_null(c->value) ? NULL : arena_strdup(&req->arena, c->value);
    if (!key || (!value && !kstr_is_null(c->value))) return WEIR_KERR_UNKNOWN_SERVER_ERROR;
    struct weir_log_config_info info;
    bool known = weir_log_config_info(key, &info);
    switch (c->op) {
    case KCONFIG_OP_SET:
        if (!value) return snprintf(why, cap, "Null value not supported for : SET:%s", key), WEIR_KERR_INVALID_REQUEST;
        break;
    case KCONFIG_OP_DELETE: value = NULL; break;
    case KCONFIG_OP_APPEND:
    case KCONFIG_OP_SUBTRACT: {
        const char *op = c->op == KCONFIG_OP_APPEND ? "append" : "subtract";
        if (!known || info.type != WEIR_CONFIG_TYPE_LIST)
            return snprintf(why, cap, "Config value %s is not allowed for config key: %s", op, key),
                   WEIR_KERR_INVALID_REQUEST;
        if (!value) return snprintf(why, cap, "Null value not supported for : %s:%s", op, key), WEIR_KERR_INVALID_REQUEST;
        const char *old = NULL;
        for (uint32_t i = 0; i < p->n && !old; i++)
            if (!strcmp(p->keys[i], key)) old = p->values[i];
        char def[WEIR_LOG_CONFIG_TEXT_BYTES];
        struct weir_log_config kafka_defaults;
        weir_log_config_default(&kafka_defaults);
        if (!old) weir_log_config_get(&kafka_defaults, key, def, sizeof def), old = def;
        value = config_list_apply(req, old, value, c->op == KCONFIG_OP_APPEND);
        if (!value) return WEIR_KERR_UNKNOWN_SERVER_ERROR;
        break;
    }
    default: return snprintf(why, cap, "Unknown alter config operation type %d", c->op), WEIR_KERR_INVALID_REQUEST;
    }
    if (!plan_put(req, p, key, value)) return snprintf(why, cap, "too many configs"), WEIR_KERR_INVALID_REQUEST;
    return 0;
}

/* The plan's configs over the broker's defaults, checked as Kafka does: an
 * unknown key, tiered storage and cross-key conflicts are 40
 * INVALID_CONFIG (InvalidConfigurationException); a bad value is 42
 * INVALID_REQUEST (ZkAdminManager wraps the ConfigException so). */
static int16_t plan_check(struct request *req, const char *topic, struct alter_plan *p, char *why, size_t cap)
{
    struct weir_log_config cfg;
    char engine_why[400];
    broker_log_defaults(req->c->r->b, &cfg);
    for (uint32_t i = 0; i < p->n; i++) {
        struct weir_log_config_info info;
        if (!weir_log_config_info(p->keys[i], &info))
            return snprintf(why, cap, "Unknown topic config name: %s", p->keys[i]), WEIR_KERR_INVALID_CONFIG;
        if (weir_log_config_set(&cfg, p->keys[i], p->values[i], engine_why, sizeof engine_why) == WEIR_OK) continue;
        snprintf(why, cap, "Invalid config value for resource ConfigResource(type=TOPIC, name='%s'): %s", topic,
                 engine_why);
        return strcmp(p->keys[i], "remote.storage.enable") ? WEIR_KERR_INVALID_REQUEST : WEIR_KERR_INVALID_CONFIG;
    }
    if (weir_log_config_check(&cfg, why, cap) != WEIR_OK) return WEIR_KERR_INVALID_CONFIG;
    char set[WEIR_LOG_CONFIG_FORMAT_BYTES] = "\n";
    for (uint32_t i = 0; i < p->n; i++) snprintf(set + strlen(set), sizeof set - strlen(set), "%s\n", p->keys[i]);
    p->expect = configs_canonical(req, &cfg, set);
    return p->expect ? 0 : WEIR_KERR_UNKNOWN_SERVER_ERROR;
}

int16_t alter_topic_plan(struct request *req, const char *topic, const struct kalterconfigs_resource *r,
                         struct alter_plan *p, char *why, size_t cap)
{
    struct broker *b = req->c->r->b;
    struct weir_log_config cur, defaults;
    char set[WEIR_LOG_CONFIG_FORMAT_BYTES];
    broker_log_defaults(b, &defaults);
    *p = (struct alter_plan){ .keys = weir_arena_alloc(&req->arena, CONFIGS_MAX * sizeof *p->keys),
                              .values = weir_arena_alloc(&req->arena, CONFIGS_MAX * sizeof *p->values) };
    if (!p->keys || !p->values) return WEIR_KERR_UNKNOWN_SERVER_ERROR;
    if (weir_meta_topic_config(b->meta, topic, &defaults, &cur, set, sizeof set) != WEIR_OK)
        return snprintf(why, cap, "Topic '%s' does not exist.", topic), WEIR_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    for (int32_t i = 0; i < r->n_configs; i++)
        for (int32_t j = 0; j < i; j++)
            if (r->configs[j].name.len == r->configs[i].name.len &&
                !memcmp(r->configs[j].name.ptr, r->configs[i].name.ptr, (size_t)WEIR_MAX(r->configs[i].name.len, 0)))
                return snprintf(why, cap, "Error due to duplicate config keys"), WEIR_KERR_INVALID_REQUEST;
    bool incremental = req->hdr.api_key == KAPI_INCREMENTAL_ALTER_CONFIGS;
    char *save = NULL;
    for (char *key = strtok_r(incremental ? set : "", "\n", &save); incremental && key; key = strtok_r(NULL, "\n", &save)) {
        char value[WEIR_LOG_CONFIG_TEXT_BYTES];
        if (weir_log_config_get(&cur, key, value, sizeof value) != WEIR_OK) continue;
        const char *k = arena_strdup(&req->arena, kstr_c(key)), *v = arena_strdup(&req->arena, kstr_c(value));
        if (!k || !v || !plan_put(req, p, k, v)) return WEIR_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int32_t i = 0; i < r->n_configs; i++) {
        const struct kalterconfigs_config *c = &r->configs[i];
        if (!incremental && kstr_is_null(c->value)) continue; /* AlterConfigs drops null values */
        int16_t code = plan_op(req, p, c, why, cap);
        if (code) return code;
    }
    return plan_check(req, topic, p, why, cap);
}

void alter_respond(struct request *req, const struct kalterconfigs_req *ac, const struct ktopic_result *res, int32_t n)
{
    struct kalterconfigs_result *out = weir_arena_alloc(&req->arena, (size_t)(n + 1) * sizeof *out);
    if (!out) n = 0, kbuf_fail(&req->out, WEIR_E_NOMEM);
    for (int32_t i = 0; i < n; i++)
        out[i] = (struct kalterconfigs_result){ .error_code = res[i].error_code,
                                                .error_message = res[i].error_code ? res[i].error_message : KSTR_NULL,
                                                .resource_type = ac->resources[i].resource_type,
                                                .resource_name = ac->resources[i].resource_name };
    kproto_alterconfigs_encode(&req->out, req->hdr.api_key, req->hdr.api_version,
                               &(struct kalterconfigs_resp){ .results = out, .n_results = n });
}
