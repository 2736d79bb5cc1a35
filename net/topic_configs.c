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

static bool key_wanted(const struct kdescribeconfigs_resource *res, const char *key)
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
        if (!key_wanted(res, line)) continue;
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

/* ---- CreateTopics v5+: what each topic got ---------------------------------------------- */

enum { TOPIC_CONFIG_TEXT = WEIR_LOG_CONFIG_FORMAT_BYTES, TOPIC_CONFIGS_MAX = CONFIGS_MAX };

/* The configs a topic created by t has: the broker's defaults with t's
 * overrides (sources 1 and 5, as DescribeConfigs answers). */
static bool created_configs(struct request *req, const struct kcreatetopics_req_topic *t,
                            struct kcreatetopics_detail *dt)
{
    struct broker *b = req->c->r->b;
    struct weir_log_config cfg = b->cfg.log;
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

