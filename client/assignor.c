/* client/assignor.c: the partition assignors a group leader runs, as the
 * Java consumer's RangeAssignor and RoundRobinAssignor do, so a weir leader
 * and a librdkafka or Java leader give the same members the same partitions:
 *  - range: per topic, the members subscribed to it in member id order get
 *    consecutive ranges; the first (partitions % members) get one more.
 *  - roundrobin: every subscribed topic-partition in (topic, partition)
 *    order goes to the next member, in member id order and circularly, that
 *    subscribes to its topic.
 *  - cooperative-sticky (KIP-429, the Java CooperativeStickyAssignor's
 *    contract): each member keeps the partitions it owns (its subscription's
 *    owned partitions; of two claims the newer generation wins) while its
 *    subscription still names their topic; free partitions go, in (topic,
 *    partition) order, to the eligible member holding fewest; then a
 *    partition moves from a member to an eligible one holding at least two
 *    fewer, until none can (each move lowers the sum of squared counts, so
 *    it ends; with equal subscriptions the counts end within one of each
 *    other, and only what balance needs has moved). Last, the two-phase
 *    rule: a partition given to a member that does not own it while
 *    another member owns it is left out this round; its owner revokes it,
 *    rejoins, and the next round hands it over. */
#include "wire_int.h"

#include <stdlib.h>

static const char *const strategies[] = { "range", "roundrobin", "cooperative-sticky" };

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

static bool is_cooperative(const char *name, size_t len, void *arg)
{
    (void)arg;
    return cw_assignor_index(name, len) == 2;
}

bool cw_assignors_cooperative(const char *list) { return list && cw_assignors_each(list, is_cooperative, NULL); }

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

/* ---- cooperative-sticky ---- */

struct sticky {
    struct cw_amember *m;
    const size_t *mo;           /* members by id */
    size_t n_members;
    const struct cw_atopic *t;
    const size_t *to;           /* topics by name */
    size_t n_topics;
    int32_t *base;              /* partition index of topic t's partition 0: base[t] + p */
    int32_t *owner;             /* per partition index: member index or -1 */
    int32_t *count;             /* per member */
    bool *elig;                 /* [member * n_topics + topic] */
};

static bool sticky_owns(const struct cw_amember *m, int32_t topic, int32_t partition)
{
    for (int32_t k = 0; k < m->n_owned; k++)
        if (m->owned[k].topic == topic && m->owned[k].partition == partition) return true;
    return false;
}

static bool sticky_valid(const struct sticky *s, const struct cw_atp *tp)
{
    return tp->topic >= 0 && (size_t)tp->topic < s->n_topics && tp->partition >= 0 &&
           tp->partition < s->t[tp->topic].n_partitions;
}

/* The eligible member (in id order) holding fewest, -1 when none subscribes. */
static int32_t sticky_least(const struct sticky *s, int32_t topic)
{
    int32_t best = -1;
    for (size_t i = 0; i < s->n_members; i++) {
        size_t mi = s->mo[i];
        if (s->elig[mi * s->n_topics + (size_t)topic] && (best < 0 || s->count[mi] < s->count[best])) best = (int32_t)mi;
    }
    return best;
}

static int sticky_out(struct sticky *s);

/* Equal subscriptions (Java's constrained assignment): P partitions over N
 * members give each min = P / N, and P % N of them one more. In member id
 * order a member keeps what it owns up to one more than min while such
 * places are left, else up to min; the rest is freed. Free partitions fill
 * members below min, then members at min while places for one more are
 * left. A member that gave partitions up thus ends with no fewer than one
 * that gets them, so the next round (owners rejoined without the revoked
 * ones) hands each freed partition to a member below its share, never back. */
static void sticky_quotas(struct sticky *s)
{
    int32_t total = 0, indexed = 0; /* partitions the members subscribe to; all */
    for (size_t t = 0; t < s->n_topics; t++) {
        indexed += WEIR_MAX(s->t[t].n_partitions, 0);
        if (s->elig[t]) total += WEIR_MAX(s->t[t].n_partitions, 0);
    }
    int32_t n = (int32_t)s->n_members, min = total / n, over = total % n, n_over = 0;
    for (size_t i = 0; i < s->n_members; i++) {
        int32_t mi = (int32_t)s->mo[i], keep = s->count[mi];
        if (keep > min) {
            keep = n_over < over ? WEIR_MIN(keep, min + 1) : min;
            if (keep > min) n_over++;
        }
        int32_t kept = 0;
        for (int32_t pi = 0; pi < indexed; pi++)
            if (s->owner[pi] == mi && ++kept > keep) s->owner[pi] = -1;
        s->count[mi] = keep;
    }
    for (size_t ti = 0; ti < s->n_topics; ti++) {
        int32_t t = (int32_t)s->to[ti];
        for (int32_t p = 0; s->elig[t] && p < s->t[t].n_partitions; p++) {
            int32_t pi = s->base[t] + p, to = -1;
            if (s->owner[pi] >= 0) continue;
            for (size_t i = 0; i < s->n_members && to < 0; i++)
                if (s->count[s->mo[i]] < min) to = (int32_t)s->mo[i];
            for (size_t i = 0; i < s->n_members && to < 0 && n_over < over; i++)
                if (s->count[s->mo[i]] == min) to = (int32_t)s->mo[i], n_over++;
            WEIR_ASSERT(to >= 0); /* the counts add up to total */
            s->owner[pi] = to;
            s->count[to]++;
        }
    }
}

static int sticky_assign(struct sticky *s)
{
    /* claims: the newest generation first, then member id order */
    size_t *order = weir_malloc((s->n_members ? s->n_members : 1) * sizeof *order);
    if (!order) return WEIR_CLIENT_E_NOMEM;
    memcpy(order, s->mo, s->n_members * sizeof *order);
    for (size_t i = 1; i < s->n_members; i++) /* stable insertion sort by generation, descending */
        for (size_t j = i; j > 0 && s->m[order[j - 1]].generation < s->m[order[j]].generation; j--) {
            size_t x = order[j];
            order[j] = order[j - 1], order[j - 1] = x;
        }
    for (size_t i = 0; i < s->n_members; i++) {
        size_t mi = order[i];
        const struct cw_amember *m = &s->m[mi];
        for (int32_t k = 0; k < m->n_owned; k++) {
            const struct cw_atp *tp = &m->owned[k];
            if (!sticky_valid(s, tp) || !s->elig[mi * s->n_topics + (size_t)tp->topic]) continue;
            int32_t pi = s->base[tp->topic] + tp->partition;
            if (s->owner[pi] >= 0) continue;
            s->owner[pi] = (int32_t)mi;
            s->count[mi]++;
        }
    }
    weir_free(order);
    bool equal = true; /* every member subscribes to the same topics */
    for (size_t mi = 1; mi < s->n_members && equal; mi++)
        equal = !memcmp(&s->elig[mi * s->n_topics], s->elig, s->n_topics * sizeof *s->elig);
    if (equal) {
        sticky_quotas(s);
        return sticky_out(s);
    }
    /* free partitions */
    for (size_t ti = 0; ti < s->n_topics; ti++) {
        int32_t t = (int32_t)s->to[ti];
        for (int32_t p = 0; p < s->t[t].n_partitions; p++) {
            int32_t pi = s->base[t] + p;
            if (s->owner[pi] >= 0) continue;
            int32_t mi = sticky_least(s, t);
            if (mi < 0) break; /* nobody subscribes */
            s->owner[pi] = mi;
            s->count[mi]++;
        }
    }
    /* balance */
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t ti = 0; ti < s->n_topics; ti++) {
            int32_t t = (int32_t)s->to[ti];
            for (int32_t p = 0; p < s->t[t].n_partitions; p++) {
                int32_t pi = s->base[t] + p, a = s->owner[pi];
                if (a < 0) continue;
                int32_t b = sticky_least(s, t);
                if (s->count[a] <= s->count[b] + 1) continue;
                s->owner[pi] = b;
                s->count[a]--, s->count[b]++;
                moved = true;
            }
        }
    }
    return sticky_out(s);
}

/* The assignment, leaving out what a member gets that another still owns. */
static int sticky_out(struct sticky *s)
{
    for (size_t ti = 0; ti < s->n_topics; ti++) {
        int32_t t = (int32_t)s->to[ti];
        for (int32_t p = 0; p < s->t[t].n_partitions; p++) {
            int32_t x = s->owner[s->base[t] + p];
            if (x < 0) continue;
            bool held_elsewhere = false;
            if (!sticky_owns(&s->m[x], t, p))
                for (size_t o = 0; o < s->n_members && !held_elsewhere; o++)
                    held_elsewhere = (int32_t)o != x && sticky_owns(&s->m[o], t, p);
            if (!held_elsewhere && give(&s->m[x], t, p) != 0) return WEIR_CLIENT_E_NOMEM;
        }
    }
    return 0;
}

static int assign_sticky(struct cw_amember *m, const size_t *mo, size_t n_members, const struct cw_atopic *t,
                         const size_t *to, size_t n_topics)
{
    struct sticky s = { m, mo, n_members, t, to, n_topics, NULL, NULL, NULL, NULL };
    int64_t total = 0;
    for (size_t i = 0; i < n_topics; i++) total += WEIR_MAX(t[i].n_partitions, 0);
    if (total > INT32_MAX / 2) return WEIR_CLIENT_E_INVALID_ARG;
    s.base = weir_calloc(n_topics ? n_topics : 1, sizeof *s.base);
    s.owner = weir_malloc((size_t)(total ? total : 1) * sizeof *s.owner);
    s.count = weir_calloc(n_members, sizeof *s.count);
    s.elig = weir_calloc(n_members * (n_topics ? n_topics : 1), sizeof *s.elig);
    int rc = s.base && s.owner && s.count && s.elig ? 0 : WEIR_CLIENT_E_NOMEM;
    if (rc == 0) {
        int32_t next = 0;
        for (size_t i = 0; i < n_topics; i++) {
            s.base[i] = next;
            next += WEIR_MAX(t[i].n_partitions, 0);
        }
        for (int32_t i = 0; i < (int32_t)total; i++) s.owner[i] = -1;
        for (size_t mi = 0; mi < n_members; mi++)
            for (size_t ti = 0; ti < n_topics; ti++) s.elig[mi * n_topics + ti] = subscribes(&m[mi], t[ti].name);
        rc = sticky_assign(&s);
    }
    weir_free(s.base), weir_free(s.owner), weir_free(s.count), weir_free(s.elig);
    return rc;
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
    int rc = strategy == 0   ? assign_range(m, mo, n_members, t, to, n_topics, scratch)
             : strategy == 1 ? assign_roundrobin(m, mo, n_members, t, to, n_topics)
                             : assign_sticky(m, mo, n_members, t, to, n_topics);
    weir_free(mo);
    return rc;
}
