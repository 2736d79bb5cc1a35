/* client/assignor.c: the partition assignors a group leader runs, as the
 * Java consumer's RangeAssignor and RoundRobinAssignor do, so a weir leader
 * and a librdkafka or Java leader give the same members the same partitions:
 *  - range: per topic, the members subscribed to it in member id order get
 *    consecutive ranges; the first (partitions % members) get one more.
 *  - roundrobin: every subscribed topic-partition in (topic, partition)
 *    order goes to the next member, in member id order and circularly, that
 *    subscribes to its topic. */
#include "wire_int.h"

#include <stdlib.h>

static const char *const strategies[] = { "range", "roundrobin" };

/* Calls fn on each name of a comma-separated list (spaces around names are
 * skipped); false when fn says so or a name is empty. */
bool cw_assignors_each(const char *list, bool (*fn)(const char *name, size_t len, void *arg), void *arg)
{
    const char *s = list;
    for (;;) {
        while (*s == ' ') s++;
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len > 0 && s[len - 1] == ' ') len--;
        if (len == 0 || !fn(s, len, arg)) return false;
        if (!end) return true;
        s = end + 1;
    }
}

int cw_assignor_index(const char *name, size_t len)
{
    for (size_t i = 0; i < WEIR_ARRAY_LEN(strategies); i++)
        if (strlen(strategies[i]) == len && !memcmp(strategies[i], name, len)) return (int)i;
    return -1;
}

const char *cw_assignor_name(int index) { return strategies[index]; }

static bool known(const char *name, size_t len, void *arg)
{
    (void)arg;
    return cw_assignor_index(name, len) >= 0;
}

bool cw_assignors_valid(const char *list) { return list && cw_assignors_each(list, known, NULL); }

static bool subscribes(const struct cw_amember *m, const char *topic)
{
    for (int32_t i = 0; i < m->n_topics; i++)
        if (!strcmp(m->topics[i], topic)) return true;
    return false;
}

static int give(struct cw_amember *m, int32_t topic, int32_t partition)
{
    if (m->n_out == m->cap_out) {
        int32_t cap = m->cap_out ? 2 * m->cap_out : 16;
        struct cw_atp *p = weir_realloc(m->out, (size_t)cap * sizeof *p);
        if (!p) return WEIR_CLIENT_E_NOMEM;
        m->out = p;
        m->cap_out = cap;
    }
    m->out[m->n_out++] = (struct cw_atp){ topic, partition };
    return 0;
}

static const struct cw_amember *sort_base_m;
static int by_member_id(const void *a, const void *b)
{
    return strcmp(sort_base_m[*(const size_t *)a].id, sort_base_m[*(const size_t *)b].id);
}
static const struct cw_atopic *sort_base_t;
static int by_topic_name(const void *a, const void *b)
{
    return strcmp(sort_base_t[*(const size_t *)a].name, sort_base_t[*(const size_t *)b].name);
}

/* Index orders: members by id, topics by name. Not reentrant across threads
 * (qsort has no context argument): callers hold `sort_lock`. */
static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

static int assign_range(struct cw_amember *m, const size_t *mo, size_t n_members, const struct cw_atopic *t,
                        const size_t *to, size_t n_topics, size_t *scratch)
{
    for (size_t ti = 0; ti < n_topics; ti++) {
        const struct cw_atopic *topic = &t[to[ti]];
        size_t k = 0;
        for (size_t i = 0; i < n_members; i++)
            if (subscribes(&m[mo[i]], topic->name)) scratch[k++] = mo[i];
        if (k == 0) continue;
        int32_t per = topic->n_partitions / (int32_t)k, extra = topic->n_partitions % (int32_t)k;
        for (size_t i = 0; i < k; i++) {
            int32_t start = per * (int32_t)i + WEIR_MIN((int32_t)i, extra);
            int32_t len = per + ((int32_t)i < extra ? 1 : 0);
            for (int32_t p = start; p < start + len; p++)
                if (give(&m[scratch[i]], (int32_t)to[ti], p) != 0) return WEIR_CLIENT_E_NOMEM;
        }
    }
    return 0;
}

static int assign_roundrobin(struct cw_amember *m, const size_t *mo, size_t n_members, const struct cw_atopic *t,
                             const size_t *to, size_t n_topics)
{
    size_t next = 0;
    for (size_t ti = 0; ti < n_topics; ti++) {
        const struct cw_atopic *topic = &t[to[ti]];
        bool any = false;
        for (size_t i = 0; i < n_members && !any; i++) any = subscribes(&m[mo[i]], topic->name);
        if (!any) continue;
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            while (!subscribes(&m[mo[next]], topic->name)) next = (next + 1) % n_members;
            if (give(&m[mo[next]], (int32_t)to[ti], p) != 0) return WEIR_CLIENT_E_NOMEM;
            next = (next + 1) % n_members;
        }
    }
    return 0;
}

int cw_assignor_run(int strategy, struct cw_amember *m, size_t n_members, const struct cw_atopic *t, size_t n_topics)
{
    if (strategy < 0 || (size_t)strategy >= WEIR_ARRAY_LEN(strategies)) return WEIR_CLIENT_E_INVALID_ARG;
    for (size_t i = 0; i < n_members; i++) m[i].n_out = 0;
    if (n_members == 0) return 0;
    size_t *mo = weir_malloc((2 * n_members + n_topics + 1) * sizeof *mo);
    if (!mo) return WEIR_CLIENT_E_NOMEM;
    size_t *scratch = mo + n_members, *to = scratch + n_members;
    for (size_t i = 0; i < n_members; i++) mo[i] = i;
    for (size_t i = 0; i < n_topics; i++) to[i] = i;
    pthread_mutex_lock(&sort_lock);
    sort_base_m = m;
    qsort(mo, n_members, sizeof *mo, by_member_id);
    sort_base_t = t;
    qsort(to, n_topics, sizeof *to, by_topic_name);
    pthread_mutex_unlock(&sort_lock);
    int rc = strategy == 0 ? assign_range(m, mo, n_members, t, to, n_topics, scratch)
                           : assign_roundrobin(m, mo, n_members, t, to, n_topics);
    weir_free(mo);
    return rc;
}
