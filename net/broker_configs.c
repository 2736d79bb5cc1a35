/* net/broker_configs.c: dynamic broker configs, as Kafka's DynamicBrokerConfig
 * for the log defaults: AlterConfigs / IncrementalAlterConfigs on BROKER ""
 * (cluster-wide) and BROKER "<id>" (this broker), DescribeConfigs with
 * sources and synonyms, persisted (a single node's file in the data dir; a
 * cluster's /config/brokers/<default> and /config/brokers/<id>) and applied
 * without a restart: the store's defaults change, then every reactor
 * reconfigures the logs it owns (configs_refresh), never another thread.
 *
 * Invariant: b->log_defaults is always cfg.log with dyn_default and dyn_self
 * over it (effective()), and the store's defaults equal it once applied. */
#include "net_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

enum { LINE_BYTES = 512 };

/* ---- the dynamic keys ------------------------------------------------------------------- */

/* Milliseconds per unit of a broker key (log.retention.hours: 3600000). */
static int64_t key_scale(const char *key)
{
    size_t n = strlen(key);
    if (n > 6 && !strcmp(key + n - 6, ".hours")) return 3600000;
    if (n > 8 && !strcmp(key + n - 8, ".minutes")) return 60000;
    return 1;
}

/* Each word of a ' '-separated list into word (cap bytes); returns the rest or NULL at the end. */
static const char *next_word(const char *list, char *word, size_t cap)
{
    if (!list || !*list) return NULL;
    size_t len = strcspn(list, " ");
    snprintf(word, cap, "%.*s", (int)len, list);
    return list + len + (list[len] == ' ');
}

/* Whether word is one of the ' '-separated words of list. */
static bool list_has(const char *list, const char *word)
{
    char w[128];
    for (const char *l = next_word(list, w, sizeof w); l; l = next_word(l, w, sizeof w))
        if (!strcmp(w, word)) return true;
    return false;
}

/* The topic key a broker key is the default of; false when the broker key is
 * no topic key's synonym or (log.message.format.version, as Kafka's
 * DynamicLogConfig excludes it) not dynamic. */
static bool dynamic_key(const char *key, struct weir_log_config_info *info)
{
    if (!strcmp(key, "log.message.format.version")) return false;
    for (size_t i = 0; weir_log_config_key(i, info); i++)
        if (info->synonyms && list_has(info->synonyms, key)) return true;
    return false;
}

/* ---- "k=v\n" lines ------------------------------------------------------------------------ */

/* lines (cap bytes) with key's line replaced, added, or (value NULL) removed; false: no room. */
static bool lines_put(char *lines, size_t cap, const char *key, const char *value)
{
    size_t n = strlen(key);
    for (char *p = lines; *p;) {
        char *nl = strchr(p, '\n');
        if (!strncmp(p, key, n) && p[n] == '=') {
            memmove(p, nl + 1, strlen(nl + 1) + 1);
            continue;
        }
        p = nl + 1;
    }
    if (!value) return true;
    size_t used = strlen(lines);
    int w = snprintf(lines + used, cap - used, "%s=%s\n", key, value);
    if (w < 0 || (size_t)w >= cap - used) {
        lines[used] = '\0';
        return false;
    }
    return true;
}

/* ---- the effective defaults ---------------------------------------------------------------- */

/* value of broker key (in its own unit) as the topic key takes it into out. */
static bool value_scaled(const char *key, const char *value, char *out, size_t cap, char *why, size_t why_cap)
{
    int64_t scale = key_scale(key);
    if (scale == 1) return snprintf(out, cap, "%s", value), true;
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v > INT64_MAX / scale) {
        snprintf(why, why_cap, "Invalid value %.64s for configuration %s: Not a number of type LONG or out of range",
                 value, key);
        return false;
    }
    snprintf(out, cap, "%" PRId64, v < 0 ? (int64_t)-1 : (int64_t)v * scale); /* Kafka: negative is unlimited */
    return true;
}

/* cfg.log with dflt and self over it: per topic key, its first broker
 * synonym (in precedence order) set anywhere decides; this broker's lines
 * win over the cluster's, and both over the static config (whose value
 * cfg.log already holds). Errors: WEIR_E_BAD_CONFIG with why. */
static enum weir_err effective(const struct broker *b, const char *dflt, const char *self,
                               struct weir_log_config *out, char *why, size_t cap)
{
    *out = b->cfg.log;
    struct weir_log_config_info info;
    for (size_t i = 0; weir_log_config_key(i, &info); i++) {
        char word[128], value[LINE_BYTES], scaled[LINE_BYTES], engine_why[300];
        for (const char *l = next_word(info.synonyms, word, sizeof word); l; l = next_word(l, word, sizeof word)) {
            if (!strcmp(word, "log.message.format.version")) continue;
            bool dyn = config_lines_get(self, word, value, sizeof value) || config_lines_get(dflt, word, value, sizeof value);
            if (!dyn && config_lines_get(b->cfg.log_keys_text, word, NULL, 0)) break; /* static, in cfg.log */
            if (!dyn) continue;
            if (!value_scaled(word, value, scaled, sizeof scaled, why, cap)) return WEIR_E_BAD_CONFIG;
            if (weir_log_config_set(out, info.name, scaled, engine_why, sizeof engine_why) != WEIR_OK) {
                snprintf(why, cap, "%s: %s", word, engine_why);
                return WEIR_E_BAD_CONFIG;
            }
            break;
        }
    }
    return weir_log_config_check(out, why, cap);
}

/* The new sets into the store's defaults and b; under dyn_mu. */
static enum weir_err apply_locked(struct broker *b, const char *dflt, const char *self, char *why, size_t cap)
{
    struct weir_log_config next;
    enum weir_err err = effective(b, dflt, self, &next, why, cap);
    if (err == WEIR_OK) err = weir_store_defaults_set(b->store, &next, why, cap);
    if (err != WEIR_OK) return err;
    b->log_defaults = next;
    if (dflt != b->dyn_default) snprintf(b->dyn_default, sizeof b->dyn_default, "%s", dflt);
    if (self != b->dyn_self) snprintf(b->dyn_self, sizeof b->dyn_self, "%s", self);
    return WEIR_OK;
}

enum weir_err broker_configs_init(struct broker *b, char *why, size_t cap)
{
    if (b->cfg.zk_connect[0]) return WEIR_OK; /* ZooKeeper's, once joined (broker_configs_apply) */
    char *dflt = weir_malloc(WEIR_BROKER_CONFIGS_BYTES), *self = weir_malloc(WEIR_BROKER_CONFIGS_BYTES);
    enum weir_err err = dflt && self ? WEIR_OK : WEIR_E_NOMEM;
    if (err == WEIR_OK)
        err = weir_broker_configs_read(b->cfg.data_dir, dflt, WEIR_BROKER_CONFIGS_BYTES, self,
                                       WEIR_BROKER_CONFIGS_BYTES);
    if (err != WEIR_OK) {
        snprintf(why, cap, "cannot read %s/broker-configs.properties: %s", b->cfg.data_dir, weir_err_text(err));
    } else {
        char apply_why[400] = "";
        pthread_mutex_lock(&b->dyn_mu);
        err = apply_locked(b, dflt, self, apply_why, sizeof apply_why);
        pthread_mutex_unlock(&b->dyn_mu);
        if (err != WEIR_OK)
            snprintf(why, cap, "%s/broker-configs.properties: %s", b->cfg.data_dir, apply_why);
        else if (dflt[0] || self[0])
            weir_log(WEIR_LOG_INFO, "dynamic broker configs applied from %s/broker-configs.properties",
                     b->cfg.data_dir);
    }
    weir_free(dflt);
    weir_free(self);
    return err;
}

/* ---- applying on the owners ------------------------------------------------------------------ */

struct refresh_task {
    struct task t;
    bool all;
    char topic[WEIR_TOPIC_NAME_MAX + 1];
};

static void refresh_run(struct reactor *r, struct task *t)
{
    struct refresh_task *rt = weir_container_of(t, struct refresh_task, t);
    for (size_t i = 0; i < r->parts.n_buckets; i++)
        for (struct part *p = r->parts.buckets[i]; p; p = p->hnext) {
            struct weir_log_config cfg;
            if (!p->log || (!rt->all && strcmp(p->topic, rt->topic) != 0)) continue;
            if (weir_store_topic_config(r->b->store, p->topic, &cfg) == WEIR_OK &&
                weir_log_reconfigure(p->log, &cfg) != WEIR_OK)
                WEIR_LOG_RATELIMITED(WEIR_LOG_WARN, "%s-%d: its new config is refused by the log", p->topic,
                                     p->partition);
        }
    weir_free(rt);
}

struct task *configs_refresh_task(const char *topic)
{
    struct refresh_task *rt = weir_calloc(1, sizeof *rt);
    if (!rt) {
        weir_log(WEIR_LOG_ERROR, "config change: out of memory; some logs keep their old configs");
        return NULL;
    }
    rt->t.run = refresh_run;
    rt->all = topic == NULL;
    if (topic) snprintf(rt->topic, sizeof rt->topic, "%s", topic);
    return &rt->t;
}

void configs_refresh_task_free(struct task *t) { weir_free(weir_container_of(t, struct refresh_task, t)); }

void configs_refresh(struct broker *b, const char *topic)
{
    WEIR_ASSERT(!b->cluster); /* a cluster's come from its watches (cluster_glue.c) */
    for (unsigned i = 0; i < b->n_reactors; i++) {
        struct task *t = configs_refresh_task(topic);
        if (t) reactor_post(&b->reactors[i], t); /* a request's: the reactors outlive it */
    }
}

bool broker_configs_apply(struct broker *b, const char *dflt, const char *self)
{
    char why[400] = "";
    pthread_mutex_lock(&b->dyn_mu);
    bool same = !strcmp(dflt, b->dyn_default) && !strcmp(self, b->dyn_self);
    enum weir_err err = same ? WEIR_OK : apply_locked(b, dflt, self, why, sizeof why);
    pthread_mutex_unlock(&b->dyn_mu);
    if (err != WEIR_OK) weir_log(WEIR_LOG_WARN, "dynamic broker configs from ZooKeeper not applied: %s", why);
    if (err == WEIR_OK && !same) weir_log(WEIR_LOG_INFO, "dynamic broker configs changed");
    return err == WEIR_OK && !same;
}

/* ---- AlterConfigs ----------------------------------------------------------------------------- */

/* Appends ", key" (or "key" first) to list (cap bytes). */
static void list_add(char *list, size_t cap, const char *key)
{
    size_t used = strlen(list);
    snprintf(list + used, cap - used, "%s%s", used ? ", " : "", key);
}

/* The keys of r that are known but not dynamic into nondyn, the first
 * unknown one into unknown ("" when none). */
static void keys_sort(const struct kalterconfigs_resource *r, char *nondyn, size_t ncap, char *unknown, size_t ucap)
{
    nondyn[0] = unknown[0] = '\0';
    for (int32_t i = 0; i < r->n_configs; i++) {
        char key[256];
        struct weir_log_config_info info;
        snprintf(key, sizeof key, "%.*s", WEIR_MAX(r->configs[i].name.len, 0), r->configs[i].name.ptr);
        if (dynamic_key(key, &info)) continue;
        if (weir_broker_config_known(key) || !strcmp(key, "log.message.format.version")) list_add(nondyn, ncap, key);
        else if (!unknown[0]) snprintf(unknown, ucap, "%s", key);
    }
}

/* One operation on lines (the entity's set); 0 or 42 with why. */
static int16_t broker_op(struct request *req, char *lines, const struct kalterconfigs_config *c, char *why,
                         size_t cap)
{
    char *key = arena_strdup(&req->arena, c->name);
    char *value = kstr_is_null(c->value) ? NULL : arena_strdup(&req->arena, c->value);
    if (!key || (!value && !kstr_is_null(c->value)))
        return snprintf(why, cap, "out of memory"), WEIR_KERR_UNKNOWN_SERVER_ERROR;
    struct weir_log_config_info info;
    dynamic_key(key, &info);
    switch (c->op) {
    case KCONFIG_OP_SET:
        if (!value) return snprintf(why, cap, "Null value not supported for : SET:%s", key), WEIR_KERR_INVALID_REQUEST;
        break;
    case KCONFIG_OP_DELETE: value = NULL; break;
    case KCONFIG_OP_APPEND:
    case KCONFIG_OP_SUBTRACT: {
        const char *op = c->op == KCONFIG_OP_APPEND ? "append" : "subtract";
        if (info.type != WEIR_CONFIG_TYPE_LIST)
            return snprintf(why, cap, "Config value %s is not allowed for config key: %s", op, key),
                   WEIR_KERR_INVALID_REQUEST;
        if (!value) return snprintf(why, cap, "Null value not supported for : %s:%s", op, key), WEIR_KERR_INVALID_REQUEST;
        char old[LINE_BYTES];
        if (!config_lines_get(lines, key, old, sizeof old)) {
            struct weir_log_config kafka_defaults;
            weir_log_config_default(&kafka_defaults);
            weir_log_config_get(&kafka_defaults, info.name, old, sizeof old);
        }
        value = config_list_apply(req, old, value, c->op == KCONFIG_OP_APPEND);
        if (!value) return snprintf(why, cap, "out of memory"), WEIR_KERR_UNKNOWN_SERVER_ERROR;
        break;
    }
    default: return snprintf(why, cap, "Unknown alter config operation type %d", c->op), WEIR_KERR_INVALID_REQUEST;
    }
    if (value && (strchr(value, '\n') || strlen(value) >= LINE_BYTES - strlen(key) - 2))
        return snprintf(why, cap, "Invalid value for configuration %s", key), WEIR_KERR_INVALID_REQUEST;
    if (!lines_put(lines, WEIR_BROKER_CONFIGS_BYTES, key, value))
        return snprintf(why, cap, "too many dynamic broker configs"), WEIR_KERR_INVALID_REQUEST;
    return 0;
}

int16_t alter_broker_plan(struct request *req, const struct kalterconfigs_resource *r, struct broker_alter *a,
                          char *why, size_t cap)
{
    struct broker *b = req->c->r->b;
    char self_id[16], shown[300], nondyn[1024], unknown[256];
    snprintf(self_id, sizeof self_id, "%d", b->cfg.node_id);
    snprintf(shown, sizeof shown, "ConfigResource(type=BROKER, name='%.*s')", WEIR_MAX(r->resource_name.len, 0),
             r->resource_name.ptr ? r->resource_name.ptr : "");
    a->dflt = r->resource_name.len <= 0;
    if (!a->dflt && !kstr_eq(r->resource_name, self_id))
        return snprintf(why, cap, "Unexpected broker id, expected %s, but received %.*s", self_id,
                        r->resource_name.len, r->resource_name.ptr),
               WEIR_KERR_INVALID_REQUEST;
    for (int32_t i = 0; i < r->n_configs; i++)
        for (int32_t j = 0; j < i; j++)
            if (r->configs[j].name.len == r->configs[i].name.len &&
                !memcmp(r->configs[j].name.ptr, r->configs[i].name.ptr, (size_t)WEIR_MAX(r->configs[i].name.len, 0)))
                return snprintf(why, cap, "Error due to duplicate config keys"), WEIR_KERR_INVALID_REQUEST;
    keys_sort(r, nondyn, sizeof nondyn, unknown, sizeof unknown);
    if (nondyn[0])
        return snprintf(why, cap, "Invalid config value for resource %s: Cannot update these configs dynamically: Set(%s)",
                        shown, nondyn),
               WEIR_KERR_INVALID_REQUEST;
    if (unknown[0])
        return snprintf(why, cap, "Unknown broker config name: %s (weir has no such dynamic broker config)", unknown),
               WEIR_KERR_INVALID_CONFIG;
    /* the sets are larger than a small request's arena: scratch of our own */
    char *dflt = weir_malloc(WEIR_BROKER_CONFIGS_BYTES), *self = weir_malloc(WEIR_BROKER_CONFIGS_BYTES);
    int16_t code = dflt && self ? 0 : WEIR_KERR_UNKNOWN_SERVER_ERROR;
    if (code) snprintf(why, cap, "out of memory");
    if (!code) {
        pthread_mutex_lock(&b->dyn_mu);
        memcpy(dflt, b->dyn_default, WEIR_BROKER_CONFIGS_BYTES);
        memcpy(self, b->dyn_self, WEIR_BROKER_CONFIGS_BYTES);
        pthread_mutex_unlock(&b->dyn_mu);
    }
    char *lines = a->dflt ? dflt : self;
    if (!code && req->hdr.api_key == KAPI_ALTER_CONFIGS) lines[0] = '\0'; /* the whole set is replaced */
    for (int32_t i = 0; i < r->n_configs && !code; i++) {
        const struct kalterconfigs_config *c = &r->configs[i];
        if (req->hdr.api_key == KAPI_ALTER_CONFIGS && kstr_is_null(c->value)) continue;
        code = broker_op(req, lines, c, why, cap);
    }
    struct weir_log_config next;
    char engine_why[400];
    if (!code && effective(b, dflt, self, &next, engine_why, sizeof engine_why) != WEIR_OK) {
        snprintf(why, cap, "Invalid config value for resource %s: %s", shown, engine_why);
        code = WEIR_KERR_INVALID_REQUEST;
    }
    if (!code && !(a->lines = arena_strdup(&req->arena, kstr_c(lines)))) {
        snprintf(why, cap, "out of memory");
        code = WEIR_KERR_UNKNOWN_SERVER_ERROR;
    }
    weir_free(dflt);
    weir_free(self);
    return code;
}

enum weir_err broker_configs_write(struct broker *b, const struct broker_alter *a, weir_cluster_done_fn *done,
                                   void *ctx, char *why, size_t cap)
{
    if (b->cluster) {
        char entity[16];
        snprintf(entity, sizeof entity, "%d", b->cfg.node_id);
        weir_cluster_broker_configure(b->cluster, a->dflt ? NULL : entity, a->lines, done, ctx);
        return WEIR_OK;
    }
    char *old_dflt = weir_malloc(WEIR_BROKER_CONFIGS_BYTES), *old_self = weir_malloc(WEIR_BROKER_CONFIGS_BYTES);
    enum weir_err err = old_dflt && old_self ? WEIR_OK : WEIR_E_NOMEM;
    pthread_mutex_lock(&b->dyn_mu);
    if (err == WEIR_OK) {
        memcpy(old_dflt, b->dyn_default, WEIR_BROKER_CONFIGS_BYTES);
        memcpy(old_self, b->dyn_self, WEIR_BROKER_CONFIGS_BYTES);
        err = apply_locked(b, a->dflt ? a->lines : old_dflt, a->dflt ? old_self : a->lines, why, cap);
    }
    if (err == WEIR_OK && (err = weir_broker_configs_write(b->cfg.data_dir, b->dyn_default, b->dyn_self)) != WEIR_OK) {
        snprintf(why, cap, "cannot write %s/broker-configs.properties: %s", b->cfg.data_dir, weir_err_text(err));
        char ignored[256];
        apply_locked(b, old_dflt, old_self, ignored, sizeof ignored); /* the file still holds the old ones: so do we */
    }
    pthread_mutex_unlock(&b->dyn_mu);
    weir_free(old_dflt);
    weir_free(old_self);
    if (err != WEIR_OK) return err;
    configs_refresh(b, NULL);
    done(ctx, WEIR_OK, "");
    return WEIR_OK;
}

bool broker_alter_settled(struct broker *b, const struct broker_alter *a)
{
    pthread_mutex_lock(&b->dyn_mu);
    bool same = !strcmp(a->dflt ? b->dyn_default : b->dyn_self, a->lines);
    pthread_mutex_unlock(&b->dyn_mu);
    return same;
}

/* ---- DescribeConfigs ----------------------------------------------------------------------- */

static int8_t key_type(const struct weir_log_config_info *info, const char *key)
{
    if (key_scale(key) > 1) return KCONFIG_TYPE_INT; /* Kafka's hours and minutes keys */
    return info->type;
}

/* One dynamic key of this broker: Kafka's createBrokerConfigEntry (the
 * synonyms of its group from every source, dropped up to the first of its
 * own name; the source is the first's). */
static void describe_key(struct request *req, const struct kdescribeconfigs_req *dr, const char *key,
                         const struct weir_log_config_info *info, struct kdescribeconfigs_config *c)
{
    struct kdescribeconfigs_synonym syn[16]; /* then copied: the arena is small */
    int32_t ns = broker_synonyms(req, info->synonyms, syn, 15), skip = 0;
    while (skip < ns && !kstr_eq(syn[skip].name, key)) skip++;
    char *name = arena_strdup(&req->arena, kstr_c(key));
    *c = (struct kdescribeconfigs_config){ .name = name ? kstr_c(name) : KSTR_NULL, .value = KSTR_NULL,
                                           .config_source = KCONFIG_SOURCE_DEFAULT,
                                           .config_type = key_type(info, key), .documentation = KSTR_NULL };
    if (skip < ns) {
        c->value = syn[skip].value;
        c->config_source = syn[skip].source;
    } else {
        char first[128], def[WEIR_LOG_CONFIG_TEXT_BYTES];
        struct weir_log_config kafka_defaults;
        weir_log_config_default(&kafka_defaults);
        next_word(info->synonyms, first, sizeof first);
        char *v = !strcmp(first, key) && weir_log_config_get(&kafka_defaults, info->name, def, sizeof def) == WEIR_OK
                      ? arena_strdup(&req->arena, kstr_c(def))
                      : NULL;
        if (v) c->value = kstr_c(v);
        if (v) syn[ns++] = (struct kdescribeconfigs_synonym){ c->name, c->value, KCONFIG_SOURCE_DEFAULT };
    }
    struct kdescribeconfigs_synonym *kept =
        dr->include_synonyms ? weir_arena_alloc(&req->arena, (size_t)(ns - skip) * sizeof *kept + 1) : NULL;
    if (kept) memcpy(kept, syn + skip, (size_t)(ns - skip) * sizeof *kept), c->synonyms = kept, c->n_synonyms = ns - skip;
}

/* BROKER "": the cluster-wide dynamic configs alone (Kafka describes only those). */
static int32_t describe_default(struct request *req, const struct kdescribeconfigs_req *dr,
                                const struct kdescribeconfigs_resource *res, struct kdescribeconfigs_config *configs,
                                int32_t max)
{
    struct broker *b = req->c->r->b;
    pthread_mutex_lock(&b->dyn_mu);
    char *text = arena_strdup(&req->arena, kstr_c(b->dyn_default)); /* only what is set */
    pthread_mutex_unlock(&b->dyn_mu);
    if (!text) return 0;
    int32_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        struct weir_log_config_info info;
        if (!eq) continue;
        *eq = '\0';
        if (!configs_key_wanted(res, line) || !dynamic_key(line, &info)) continue;
        struct kdescribeconfigs_synonym *syn = weir_arena_alloc(&req->arena, sizeof *syn);
        configs[n] = (struct kdescribeconfigs_config){ .name = kstr_c(line), .value = kstr_c(eq + 1),
                                                       .config_source = KCONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER,
                                                       .config_type = key_type(&info, line),
                                                       .documentation = KSTR_NULL };
        if (syn && dr->include_synonyms) {
            *syn = (struct kdescribeconfigs_synonym){ configs[n].name, configs[n].value,
                                                      KCONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER };
            configs[n].synonyms = syn, configs[n].n_synonyms = 1;
        }
        n++;
    }
    return n;
}

int32_t broker_configs_describe(struct request *req, const struct kdescribeconfigs_req *dr,
                                const struct kdescribeconfigs_resource *res, struct kdescribeconfigs_config *configs,
                                int32_t max)
{
    if (res->resource_name.len <= 0) return describe_default(req, dr, res, configs, max);
    struct broker *b = req->c->r->b;
    const struct weir_broker_config *c = &b->cfg;
    char *text = weir_arena_alloc(&req->arena, 512);
    if (!text) return 0;
    snprintf(text, 512, "num.partitions=%d\nauto.create.topics.enable=%s\nsocket.request.max.bytes=%d\n",
             c->num_partitions, c->auto_create_topics ? "true" : "false", c->socket_request_max_bytes);
    int32_t n = configs_from_lines(text, res, configs, max, NULL);
    for (int32_t i = 0; i < n; i++) configs[i].read_only = true; /* none changes at runtime */
    struct weir_log_config_info info;
    for (size_t i = 0; weir_log_config_key(i, &info) && n < max; i++) {
        char word[128];
        for (const char *l = next_word(info.synonyms, word, sizeof word); l && n < max;
             l = next_word(l, word, sizeof word)) {
            if (!strcmp(word, "log.message.format.version") || !configs_key_wanted(res, word)) continue;
            describe_key(req, dr, word, &info, &configs[n++]);
        }
    }
    return n;
}
