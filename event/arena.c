#include <stdlib.h>
#include <string.h>

#include "event_int.h"

typedef struct sl_block_s {
        struct sl_block_s *next;
        size_t cap;
        size_t used;
        max_align_t data[];
} sl_block_t;

struct sl_arena_s {
        sl_block_t *first;
        sl_block_t *cur;
        size_t total; /* capacity of all blocks */
};

#define SL_ARENA_MIN_BLOCK 4096

static sl_block_t *block_new(size_t cap)
{
        sl_block_t *b = malloc(sizeof(*b) + cap);

        if (!b)
                return NULL;
        b->next = NULL;
        b->cap = cap;
        b->used = 0;
        return b;
}

sl_arena_t *sl_arena_new(void)
{
        sl_arena_t *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        a->first = a->cur = block_new(SL_ARENA_MIN_BLOCK);
        if (!a->first) {
                free(a);
                return NULL;
        }
        a->total = SL_ARENA_MIN_BLOCK;
        return a;
}

static void blocks_free(sl_block_t *b)
{
        while (b) {
                sl_block_t *next = b->next;
                free(b);
                b = next;
        }
}

void sl_arena_destroy(sl_arena_t *a)
{
        if (!a)
                return;
        blocks_free(a->first);
        free(a);
}

void sl_arena_reset(sl_arena_t *a)
{
        /* Coalesce into one block as large as everything used so far, so a steady workload
         * settles on a single block and stops allocating. */
        if (a->first->next) {
                sl_block_t *b = block_new(a->total);
                if (b) {
                        blocks_free(a->first);
                        a->first = b;
                }
        }
        for (sl_block_t *b = a->first; b; b = b->next)
                b->used = 0;
        a->cur = a->first;
}

void *sl_arena_alloc(sl_arena_t *a, size_t size)
{
        const size_t align = sizeof(max_align_t);
        size_t need = (size + align - 1) & ~(align - 1);
        sl_block_t *b = a->cur;

        if (need < size)
                return NULL; /* overflow */
        while (b->cap - b->used < need) {
                if (!b->next) {
                        size_t cap = a->total > need ? a->total : need;
                        sl_block_t *nb = block_new(cap);
                        if (!nb)
                                return NULL;
                        b->next = nb;
                        a->total += cap;
                }
                b = b->next;
        }
        a->cur = b;
        void *p = (char *)b->data + b->used;
        b->used += need;
        return p;
}

char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t len)
{
        char *p = sl_arena_alloc(a, len + 1);

        if (!p)
                return NULL;
        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

void *sl_arena_grow(sl_arena_t *a, void *array, size_t cnt, size_t *capp, size_t elem_size)
{
        if (cnt < *capp)
                return array;
        size_t cap = *capp ? *capp * 2 : 4;
        void *p = sl_arena_alloc(a, cap * elem_size);
        if (!p)
                return NULL;
        if (cnt)
                memcpy(p, array, cnt * elem_size);
        *capp = cap;
        return p;
}
