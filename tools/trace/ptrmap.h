/* A hash table from a pointer (as recorded in a trace, never 0) to a fixed-size entry whose
 * first 8 bytes are that pointer: the live blocks of a trace. Open addressing with linear
 * probing and backward-shift deletion, so that a long trace that allocates and frees billions of
 * times leaves no tombstones behind; memory is proportional to the blocks live at once. */
#ifndef BRISK_TRACE_PTRMAP_H
#define BRISK_TRACE_PTRMAP_H

#include <stddef.h>
#include <stdint.h>

struct ptrmap {
    unsigned char *tab;
    size_t esize;  /* bytes per entry, key included */
    size_t cap;    /* entries, a power of two */
    size_t n;      /* entries in use */
};

void ptrmap_init(struct ptrmap *m, size_t esize);
void ptrmap_free(struct ptrmap *m);
/* The entry of KEY, or NULL (always for 0). */
void *ptrmap_find(const struct ptrmap *m, uint64_t key);
/* Adds KEY (which must be absent and not 0); returns its entry, zeroed but for the key. Entries
 * move on insert and remove: a pointer to one is valid until the next of either. */
void *ptrmap_insert(struct ptrmap *m, uint64_t key);
void ptrmap_remove(struct ptrmap *m, void *entry);
/* Starts loading the cell where KEY's search begins (a hint; changes nothing). */
void ptrmap_prefetch(const struct ptrmap *m, uint64_t key);
/* Entry I of the table (0 <= I < cap), or NULL when that cell is empty: to walk all entries. */
void *ptrmap_cell(const struct ptrmap *m, size_t i);

#endif
