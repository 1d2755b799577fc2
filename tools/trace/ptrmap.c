/* Open-addressing pointer table (see ptrmap.h). */
#include "ptrmap.h"

#include <string.h>

#include "mm.h"

static uint64_t key_at(const struct ptrmap *m, size_t i)
{
    uint64_t k;
    memcpy(&k, m->tab + i * m->esize, sizeof k);
    return k;
}

/* Blocks are 16-byte aligned and close together: drop the low bits, then multiply so that
 * neighbours spread over the whole table. */
static size_t home(const struct ptrmap *m, uint64_t key)
{
    return (size_t)(((key >> 4) * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
}

void ptrmap_init(struct ptrmap *m, size_t esize)
{
    m->esize = esize;
    m->cap = 1024;
    m->n = 0;
    m->tab = mm_alloc(m->cap * esize);
}

void ptrmap_free(struct ptrmap *m)
{
    mm_free(m->tab, m->cap * m->esize);
    m->tab = NULL;
    m->cap = m->n = 0;
}

void *ptrmap_find(const struct ptrmap *m, uint64_t key)
{
    if (key == 0)   /* the mark of an empty cell, never a key */
        return NULL;
    for (size_t i = home(m, key);; i = (i + 1) & (m->cap - 1)) {
        uint64_t k = key_at(m, i);
        if (k == key)
            return m->tab + i * m->esize;
        if (k == 0)
            return NULL;
    }
}

static void grow(struct ptrmap *m)
{
    struct ptrmap old = *m;
    m->cap *= 2;
    m->n = 0;
    m->tab = mm_alloc(m->cap * m->esize);
    for (size_t i = 0; i < old.cap; i++) {
        uint64_t k = key_at(&old, i);
        if (k)
            memcpy(ptrmap_insert(m, k), old.tab + i * old.esize, old.esize);
    }
    ptrmap_free(&old);
}

void *ptrmap_insert(struct ptrmap *m, uint64_t key)
{
    if ((m->n + 1) * 10 > m->cap * 7)   /* at most 70% full: probes stay short */
        grow(m);
    size_t i = home(m, key);
    while (key_at(m, i) != 0)
        i = (i + 1) & (m->cap - 1);
    unsigned char *e = m->tab + i * m->esize;
    memset(e, 0, m->esize);
    memcpy(e, &key, sizeof key);
    m->n++;
    return e;
}

void ptrmap_remove(struct ptrmap *m, void *entry)
{
    size_t hole = (size_t)((unsigned char *)entry - m->tab) / m->esize;
    /* Backward shift: move later members of the probe chain into the hole when their home
     * does not lie (cyclically) between the hole and them. */
    for (size_t j = (hole + 1) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
        uint64_t k = key_at(m, j);
        if (k == 0)
            break;
        size_t h = home(m, k);
        int stays = (hole <= j) ? (hole < h && h <= j) : (hole < h || h <= j);
        if (!stays) {
            memcpy(m->tab + hole * m->esize, m->tab + j * m->esize, m->esize);
            hole = j;
        }
    }
    memset(m->tab + hole * m->esize, 0, m->esize);
    m->n--;
}

void ptrmap_prefetch(const struct ptrmap *m, uint64_t key)
{
    __builtin_prefetch(m->tab + home(m, key) * m->esize);
}

void *ptrmap_cell(const struct ptrmap *m, size_t i)
{
    return key_at(m, i) ? m->tab + i * m->esize : NULL;
}
