/* client/group_sub.c: the subscription. weir_consumer_subscribe (names, or
 * ^regex patterns matched against every non-internal topic) and
 * weir_consumer_unsubscribe; cw_group_sub_resolve looks it up in metadata (topics and
 * partition counts, sorted by name) for the join and for the metadata check. */
#include "group_int.h"

#include <regex.h>

/* ---- subscription ------------------------------------------------------------------------------ */

void cw_group_topics_free(struct cgroup *g)
{
    for (size_t i = 0; i < g->n_topics; i++) weir_free(g->topics[i]);
    weir_free(g->topics);
    weir_free(g->counts);
    g->topics = NULL;
    g->counts = NULL;
    g->n_topics = 0;
}

static bool sub_matches(char *const *sub, size_t n_sub, const regex_t *re, struct kstr name)
{
    char buf[WEIR_KAFKA_NAME_MAX + 1];
    if (name.len <= 0 || name.len > WEIR_KAFKA_NAME_MAX) return false;
    memcpy(buf, name.ptr, (size_t)name.len);
    buf[name.len] = '\0';
    for (size_t i = 0; i < n_sub; i++) {
        if (sub[i][0] != '^') {
            if (!strcmp(sub[i], buf)) return true;
        } else if (strncmp(buf, "__", 2) != 0 && regexec(&re[i], buf, 0, NULL, 0) == 0) {
            return true;
        }
    }
    return false;
}

/* Looks the subscription up: the topics it names that exist (patterns
 * matched against every topic), with partition counts, sorted by name, into
 * names_out and counts_out. 0 or an error (metadata). */
int cw_group_sub_resolve(struct weir_consumer *c, char ***names_out, int32_t **counts_out, size_t *n_out)
{
    struct cgroup *g = &c->g;
    *names_out = NULL;
    *counts_out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&c->lock);
    size_t n_sub = g->n_sub;
    char **sub = weir_calloc(n_sub ? n_sub : 1, sizeof *sub);
    bool pattern = false;
    for (size_t i = 0; sub && i < n_sub; i++) {
        sub[i] = weir_strdup(g->sub[i]);
        pattern = pattern || g->sub[i][0] == '^';
    }
    pthread_mutex_unlock(&c->lock);
    regex_t *re = weir_calloc(n_sub ? n_sub : 1, sizeof *re);
    bool *compiled = weir_calloc(n_sub ? n_sub : 1, sizeof *compiled);
    int rc = sub && re && compiled ? 0 : WEIR_CLIENT_E_NOMEM;
    for (size_t i = 0; rc == 0 && i < n_sub; i++) {
        if (!sub[i]) rc = WEIR_CLIENT_E_NOMEM;
        else if (sub[i][0] == '^') compiled[i] = regcomp(&re[i], sub[i], REG_EXTENDED | REG_NOSUB) == 0;
    }
    const char **want = NULL;
    int n_want = 0;
    if (rc == 0 && !pattern) {
        want = weir_calloc(n_sub ? n_sub : 1, sizeof *want);
        if (!want) rc = WEIR_CLIENT_E_NOMEM;
        for (size_t i = 0; want && i < n_sub; i++) want[n_want++] = sub[i];
    }
    struct kmetadata_resp md;
    struct cw_frame *frame = NULL;
    if (rc == 0) rc = cw_group_boot_up(c);
    weir_arena_reset(&g->arena);
    if (rc == 0) rc = cw_metadata(&g->boot, &g->arena, want, pattern ? -1 : n_want, c->conf.request_timeout_ms, &md, &frame);
    if (rc == 0) {
        char **names = weir_calloc((size_t)WEIR_MAX(md.n_topics, 1), sizeof *names);
        int32_t *counts = weir_calloc((size_t)WEIR_MAX(md.n_topics, 1), sizeof *counts);
        size_t k = 0;
        if (!names || !counts) rc = WEIR_CLIENT_E_NOMEM;
        for (int32_t i = 0; rc == 0 && i < md.n_topics; i++) {
            const struct kmetadata_topic *t = &md.topics[i];
            if (t->error_code != 0 || !sub_matches(sub, n_sub, re, t->name)) continue;
            /* sorted insert, so two resolutions compare element by element */
            char *name = cw_group_kstr_dup(t->name);
            if (!name) {
                rc = WEIR_CLIENT_E_NOMEM;
                break;
            }
            size_t at = k;
            while (at > 0 && strcmp(names[at - 1], name) > 0) {
                names[at] = names[at - 1];
                counts[at] = counts[at - 1];
                at--;
            }
            names[at] = name;
            counts[at] = t->n_partitions;
            k++;
        }
        if (rc == 0) {
            *names_out = names;
            *counts_out = counts;
            *n_out = k;
        } else {
            for (size_t i = 0; names && i < k; i++) weir_free(names[i]);
            weir_free(names);
            weir_free(counts);
        }
    }
    cw_frame_unref(frame);
    for (size_t i = 0; i < n_sub; i++) {
        if (compiled && compiled[i]) regfree(&re[i]);
        if (sub) weir_free(sub[i]);
    }
    weir_free(want);
    weir_free(compiled);
    weir_free(re);
    weir_free(sub);
    return rc;
}

/* ---- the application's calls --------------------------------------------------------------------- */

int weir_consumer_subscribe(struct weir_consumer *c, const char *const *topics, size_t n)
{
    if (!c || (n > 0 && !topics) || n == 0) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    for (size_t i = 0; i < n; i++) {
        if (!topics[i] || !topics[i][0]) return WEIR_CLIENT_E_INVALID_ARG;
        if (topics[i][0] == '^') {
            regex_t re;
            if (regcomp(&re, topics[i], REG_EXTENDED | REG_NOSUB) != 0) return WEIR_CLIENT_E_INVALID_ARG;
            regfree(&re);
        } else if (strlen(topics[i]) > WEIR_KAFKA_NAME_MAX) {
            return WEIR_CLIENT_E_INVALID_ARG;
        }
    }
    char **sub = weir_calloc(n, sizeof *sub);
    for (size_t i = 0; sub && i < n; i++)
        if (!(sub[i] = weir_strdup(topics[i]))) {
            for (size_t k = 0; k < i; k++) weir_free(sub[k]);
            weir_free(sub);
            sub = NULL;
        }
    if (!sub) return WEIR_CLIENT_E_NOMEM;
    pthread_mutex_lock(&c->lock);
    /* parts made by weir_consumer_assign: not the group's (those exist only while not CG_IDLE) */
    bool assigned = c->parts && c->g.n_sub == 0 && c->g.state == CG_IDLE;
    int rc = c->stop ? WEIR_CLIENT_E_CLOSED : c->g.fenced ? WEIR_KERR_FENCED_INSTANCE_ID : assigned ? WEIR_CLIENT_E_STATE : 0;
    if (rc == 0) {
        for (size_t i = 0; i < c->g.n_sub; i++) weir_free(c->g.sub[i]);
        weir_free(c->g.sub);
        c->g.sub = sub;
        c->g.n_sub = n;
        c->g.sub_gen++;
        c->g.last_poll_ms = cw_now_ms();
        pthread_cond_broadcast(&c->g.cond);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) weir_free(sub[i]);
        weir_free(sub);
    }
    return rc;
}

int weir_consumer_unsubscribe(struct weir_consumer *c)
{
    if (!c) return WEIR_CLIENT_E_INVALID_ARG;
    if (!c->conf.group_id) return WEIR_CLIENT_E_STATE;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->g.n_sub; i++) weir_free(c->g.sub[i]);
    weir_free(c->g.sub);
    c->g.sub = NULL;
    c->g.n_sub = 0;
    uint64_t sub_gen = ++c->g.sub_gen;
    pthread_cond_broadcast(&c->g.cond);
    pthread_mutex_unlock(&c->lock);
    cw_group_leave_wait(c, sub_gen);
    return 0;
}
