/* repl/strmap.c: a string -> int64 hash map with chaining; the table doubles
 * when it holds as many entries as buckets. Control plane only: allocation
 * failure panics (rp_zk_xmalloc). */
#include "cluster_int.h"

struct rp_strmap_ent {
    struct rp_strmap_ent *next;
    int64_t v;
    char k[];
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static struct rp_strmap_ent **slot(const struct rp_strmap *m, const char *k)
{
    struct rp_strmap_ent **pp = &m->b[hash(k) & (m->nb - 1)];
    while (*pp && strcmp((*pp)->k, k) != 0) pp = &(*pp)->next;
    return pp;
}

bool rp_strmap_get(const struct rp_strmap *m, const char *k, int64_t *v)
{
    if (m->n == 0) return false;
    struct rp_strmap_ent *e = *slot(m, k);
    if (e && v) *v = e->v;
    return e != NULL;
}

static void grow(struct rp_strmap *m)
{
    size_t nb = m->nb ? 2 * m->nb : 16;
    struct rp_strmap_ent **b = rp_zk_xmalloc(nb * sizeof *b);
    memset(b, 0, nb * sizeof *b);
    for (size_t i = 0; i < m->nb; i++) {
        struct rp_strmap_ent *e = m->b[i];
        while (e) {
            struct rp_strmap_ent *next = e->next;
            size_t at = hash(e->k) & (nb - 1);
            e->next = b[at];
            b[at] = e;
            e = next;
        }
    }
    weir_free(m->b);
    m->b = b;
    m->nb = nb;
}

void rp_strmap_put(struct rp_strmap *m, const char *k, int64_t v)
{
    if (m->n >= m->nb) grow(m);
    struct rp_strmap_ent **pp = slot(m, k);
    if (*pp) {
        (*pp)->v = v;
        return;
    }
    size_t len = strlen(k) + 1;
    struct rp_strmap_ent *e = rp_zk_xmalloc(sizeof *e + len);
    e->next = NULL;
    e->v = v;
    memcpy(e->k, k, len);
    *pp = e;
    m->n++;
}

bool rp_strmap_del(struct rp_strmap *m, const char *k)
{
    if (m->n == 0) return false;
    struct rp_strmap_ent **pp = slot(m, k), *e = *pp;
    if (!e) return false;
    *pp = e->next;
    weir_free(e);
    m->n--;
    return true;
}

void rp_strmap_clear(struct rp_strmap *m)
{
    for (size_t i = 0; i < m->nb; i++) {
        struct rp_strmap_ent *e = m->b[i];
        while (e) {
            struct rp_strmap_ent *next = e->next;
            weir_free(e);
            e = next;
        }
    }
    weir_free(m->b);
    *m = (struct rp_strmap){ 0 };
}
