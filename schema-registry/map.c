/* A small chained hash map with string keys, for the registry's state. */
#include "registry_int.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a. */
static size_t sl_reg_map_hash(const char *key)
{
        uint64_t h = 1469598103934665603ULL;

        for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
                h ^= *p;
                h *= 1099511628211ULL;
        }
        return (size_t)h;
}

void *sl_reg_map_get(const sl_reg_map_t *m, const char *key)
{
        if (!m->nbuckets)
                return NULL;
        for (sl_reg_map_entry_t *e = m->buckets[sl_reg_map_hash(key) % m->nbuckets]; e; e = e->next)
                if (!strcmp(e->key, key))
                        return e->value;
        return NULL;
}

static int sl_reg_map_grow(sl_reg_map_t *m)
{
        size_t n = m->nbuckets ? m->nbuckets * 2 : 64;
        sl_reg_map_entry_t **b = calloc(n, sizeof(*b));

        if (!b)
                return -1;
        for (size_t i = 0; i < m->nbuckets; i++) {
                sl_reg_map_entry_t *e = m->buckets[i], *next;

                for (; e; e = next) {
                        size_t h = sl_reg_map_hash(e->key) % n;

                        next = e->next;
                        e->next = b[h];
                        b[h] = e;
                }
        }
        free(m->buckets);
        m->buckets = b;
        m->nbuckets = n;
        return 0;
}

int sl_reg_map_put(sl_reg_map_t *m, const char *key, void *value)
{
        sl_reg_map_entry_t *e;
        size_t h;

        if (m->nbuckets) {
                for (e = m->buckets[sl_reg_map_hash(key) % m->nbuckets]; e; e = e->next)
                        if (!strcmp(e->key, key)) {
                                e->value = value;
                                return 0;
                        }
        }
        if (m->cnt + 1 > m->nbuckets && sl_reg_map_grow(m))
                return -1;
        if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
                free(e);
                return -1;
        }
        h = sl_reg_map_hash(key) % m->nbuckets;
        e->value = value;
        e->next = m->buckets[h];
        m->buckets[h] = e;
        m->cnt++;
        return 0;
}

void *sl_reg_map_del(sl_reg_map_t *m, const char *key)
{
        sl_reg_map_entry_t **pp;

        if (!m->nbuckets)
                return NULL;
        for (pp = &m->buckets[sl_reg_map_hash(key) % m->nbuckets]; *pp; pp = &(*pp)->next) {
                sl_reg_map_entry_t *e = *pp;
                void *value;

                if (strcmp(e->key, key))
                        continue;
                *pp = e->next;
                value = e->value;
                free(e->key);
                free(e);
                m->cnt--;
                return value;
        }
        return NULL;
}

void sl_reg_map_clear(sl_reg_map_t *m, void (*fn)(void *value))
{
        for (size_t i = 0; i < m->nbuckets; i++) {
                sl_reg_map_entry_t *e = m->buckets[i], *next;

                for (; e; e = next) {
                        next = e->next;
                        if (fn)
                                fn(e->value);
                        free(e->key);
                        free(e);
                }
        }
        free(m->buckets);
        m->buckets = NULL;
        m->nbuckets = m->cnt = 0;
}

sl_reg_map_entry_t *sl_reg_map_next(const sl_reg_map_t *m, sl_reg_map_entry_t *e, size_t *bucketp)
{
        size_t b;

        if (e && e->next)
                return e->next;
        b = e ? *bucketp + 1 : 0;
        for (; b < m->nbuckets; b++)
                if (m->buckets[b]) {
                        *bucketp = b;
                        return m->buckets[b];
                }
        return NULL;
}
