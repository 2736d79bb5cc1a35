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

void *weir_malloc(size_t n) { return ALLOC(n ? n : 1); }
void *weir_calloc(size_t count, size_t size) { return CALLOC(count ? count : 1, size ? size : 1); }
void *weir_realloc(void *p, size_t n) { return REALLOC(p, n ? n : 1); }
void weir_free(void *p) { FREE(p); }

char *weir_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = weir_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

enum weir_err weir_arena_init(struct weir_arena *a, size_t cap)
{
    a->base = weir_malloc(cap);
    a->cap = a->base ? cap : 0;
    a->used = 0;
    return a->base ? WEIR_OK : WEIR_E_NOMEM;
}

void weir_arena_destroy(struct weir_arena *a)
{
    weir_free(a->base);
    a->base = NULL;
    a->cap = a->used = 0;
}

void *weir_arena_alloc(struct weir_arena *a, size_t n)
{
    if (n > a->cap - a->used) return NULL; /* caller answers an error; also no wrap below */
    n = (n + 15) & ~(size_t)15;
    if (n > a->cap - a->used) return NULL;
    void *p = a->base + a->used;
    a->used += n;
    return p;
}
