/* Step 1, bump: the program break only moves up.
 *
 * Every malloc moves the break (sbrk) up by a 16-byte header and the block, rounded to 16
 * bytes; the header holds the block's size, so that realloc knows how much to copy. free does
 * nothing: no byte is ever reused, and memory use grows with every allocation.
 *
 *     break before                                       break after
 *     |                                                  |
 *     v                                                  v
 *     +--------+--------+------------------------------+
 *     | unused |  size  |  block (size bytes)          |
 *     +--------+--------+------------------------------+
 *                       ^ malloc returns this (16-aligned)
 *
 * One system call per malloc: the cost of asking the OS for every byte (step 2 asks by pages).
 * Only the last block can grow in place: it is the one that ends at the break. calloc clears
 * even these fresh bytes: a break that someone else lowered to the middle of a page and raised
 * again shows what they wrote there. */
#include "lab.h"

#include <errno.h>
#include <unistd.h>

struct header {
    size_t unused; /* keeps blocks 16-aligned */
    size_t size;   /* bytes in the block, a multiple of 16 */
};

static char *last_end; /* where the last block ends: the break, unless someone moved it */

static struct header *header_of(void *p)
{
    return (struct header *)p - 1;
}

/* Moves the break up by n bytes (a multiple of 16) plus what realigns it to 16 when something
 * else left it misaligned; returns the start of the n bytes. */
static char *more_core(size_t n)
{
    char *brk_now = sbrk(0);
    size_t pad = (size_t)(-(uintptr_t)brk_now & (LAB_ALIGN - 1));
    char *old = sbrk((intptr_t)(pad + n));
    if (old == (char *)-1) {
        errno = ENOMEM;
        return NULL;
    }
    lab_os_account((long)(pad + n));
    return old + pad;
}

HIDDEN void *core_malloc(size_t n)
{
    size_t size = lab_align_up(n ? n : 1, LAB_ALIGN);
    lab_lock();
    struct header *h = (struct header *)more_core(sizeof(struct header) + size);
    if (h) {
        h->size = size;
        last_end = (char *)(h + 1) + size;
    }
    lab_unlock();
    return h ? h + 1 : NULL;
}

HIDDEN void core_free(void *p)
{
    (void)p; /* the bump allocator never reuses memory */
}

HIDDEN size_t core_usable(void *p)
{
    return header_of(p)->size;
}

HIDDEN void *core_realloc(void *p, size_t n)
{
    struct header *h = header_of(p);
    if (n <= h->size)
        return p;
    size_t size = lab_align_up(n, LAB_ALIGN);
    lab_lock();
    /* the last block, with the break still where it left it, grows by moving the break */
    int grown = 0;
    if ((char *)p + h->size == last_end && sbrk(0) == last_end &&
        sbrk((intptr_t)(size - h->size)) != (void *)-1) {
        lab_os_account((long)(size - h->size));
        last_end += size - h->size;
        h->size = size;
        grown = 1;
    }
    lab_unlock();
    return grown ? p : lab_move(p, n);
}

HIDDEN const char *core_name(void)
{
    return "bump";
}
