/* base/alloc.c: the allocator of every weir binary, and the arena. */
#include "base.h"

#include <stdlib.h>
#ifndef WEIR_SANITIZE
#include <mimalloc.h>
#define ALLOC(n) mi_malloc(n)
#define CALLOC(c, s) mi_calloc(c, s)
#define REALLOC(p, n) mi_realloc(p, n)
#define FREE(p) mi_free(p)
#else
#define ALLOC(n) malloc(n)
#define CALLOC(c, s) calloc(c, s)
#define REALLOC(p, n) realloc(p, n)
#define FREE(p) free(p)
#endif

/* Debug builds count calls process-wide (relaxed atomics: totals only);
 * other builds compile the counting away. */
#ifdef WEIR_ALLOC_COUNT
#include <stdatomic.h>
static _Atomic uint64_t count_malloc, count_calloc, count_realloc, count_strdup, count_arena_block;
#define COUNT(c) atomic_fetch_add_explicit(&(c), 1, memory_order_relaxed)
#else
#define COUNT(c) ((void)0)
#endif

bool weir_alloc_counts(struct weir_alloc_counts *out)
{
#ifdef WEIR_ALLOC_COUNT
    *out = (struct weir_alloc_counts){ atomic_load_explicit(&count_malloc, memory_order_relaxed),
                                       atomic_load_explicit(&count_calloc, memory_order_relaxed),
                                       atomic_load_explicit(&count_realloc, memory_order_relaxed),
                                       atomic_load_explicit(&count_strdup, memory_order_relaxed),
                                       atomic_load_explicit(&count_arena_block, memory_order_relaxed) };
    return true;
#else
    *out = (struct weir_alloc_counts){ 0 };
    return false;
#endif
}

void *weir_malloc(size_t n)
{
    COUNT(count_malloc);
    return ALLOC(n ? n : 1);
}
void *weir_calloc(size_t count, size_t size)
{
    COUNT(count_calloc);
    return CALLOC(count ? count : 1, size ? size : 1);
}
void *weir_realloc(void *p, size_t n)
{
    COUNT(count_realloc);
    return REALLOC(p, n ? n : 1);
}
void weir_free(void *p) { FREE(p); }

char *weir_strdup(const char *s)
{
    COUNT(count_strdup);
    size_t n = strlen(s) + 1;
    char *d = ALLOC(n);
    if (d) memcpy(d, s, n);
    return d;
}

struct weir_arena_block {
    struct weir_arena_block *next;
    uint8_t *base; /* the previous current block */
    size_t cap, used;
};

enum weir_err weir_arena_init_growable(struct weir_arena *a, size_t initial, size_t limit)
{
    COUNT(count_arena_block);
    *a = (struct weir_arena){ .base = weir_malloc(initial), .limit = WEIR_MAX(limit, initial) };
    a->cap = a->total = a->base ? initial : 0;
    return a->base ? WEIR_OK : WEIR_E_NOMEM;
}

enum weir_err weir_arena_init(struct weir_arena *a, size_t cap) { return weir_arena_init_growable(a, cap, cap); }

static void arena_blocks_free(struct weir_arena *a)
{
    while (a->extra) { /* restore the first block, freeing later ones */
        struct weir_arena_block *b = a->extra;
        a->extra = b->next;
        a->total -= a->cap;
        weir_free(a->base);
        a->base = b->base, a->cap = b->cap, a->used = b->used;
        weir_free(b);
    }
}

void weir_arena_destroy(struct weir_arena *a)
{
    arena_blocks_free(a);
    weir_free(a->base);
    *a = (struct weir_arena){ 0 };
}

void weir_arena_reset(struct weir_arena *a)
{
    arena_blocks_free(a);
    a->used = 0;
}

/* Opens a new current block of at least n bytes, within the limit. */
static bool arena_grow(struct weir_arena *a, size_t n)
{
    size_t size = WEIR_MAX(n, a->cap * 2);
    if (a->total > a->limit || size > a->limit - a->total) size = n;
    if (a->total > a->limit || size > a->limit - a->total) return false;
    COUNT(count_arena_block);
    struct weir_arena_block *b = weir_malloc(sizeof *b);
    uint8_t *base = weir_malloc(size);
    if (!b || !base) {
        weir_free(b);
        weir_free(base);
        return false;
    }
    *b = (struct weir_arena_block){ a->extra, a->base, a->cap, a->used };
    a->extra = b;
    a->base = base, a->cap = size, a->used = 0;
    a->total += size;
    return true;
}

void *weir_arena_alloc(struct weir_arena *a, size_t n)
{
    if (n > a->limit) return NULL; /* caller answers an error; also no wrap below */
    n = (n + 15) & ~(size_t)15;
    if (n > a->cap - a->used && !arena_grow(a, n)) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    return p;
}
