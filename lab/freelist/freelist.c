/* Step 2, freelist: freed blocks are kept in a list and handed out again.
 *
 * Memory comes from the OS a page at a time (sysconf(_SC_PAGESIZE)) and is cut into blocks
 * from the front of what is left ("top"). free puts a block at the head of a singly linked
 * list, whose link lives in the block's own first bytes; malloc searches the list before it
 * cuts anything new. How it searches is the fit policy, read from LAB_FIT at start-up:
 *
 *   first  the first block that is large enough, from the head
 *   next   the same, but from where the last search stopped (the "rover"), wrapping around
 *   best   the smallest block that is large enough (the whole list, unless one fits exactly)
 *
 *     head --> +------+------+---------+    +------+------+----------------+
 *              |unused| 48|F | next ---+--> |unused|208|F | next = NULL    |
 *              +------+------+---------+    +------+------+----------------+
 *
 *     pages from sbrk:  [blk][blk][ free blk ][blk]......top...........| break
 *
 * A block is never split or merged: a 16-byte request may take a 4 KiB block whole, and two
 * free neighbours stay two small blocks. That waste, and the O(list) search, are what step 3
 * fixes. */
#include "lab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FREE ((size_t)1) /* in the size word: the block is in the free list */

struct block {
    size_t unused;       /* keeps blocks 16-aligned */
    size_t size;         /* bytes after the header, a multiple of 16 (at least 16) | FREE */
    struct block *next;  /* while free: the next free block (the first word of the block) */
};

enum fit { FIRST, NEXT, BEST };
static const char *const fit_names[] = {"freelist (first fit)", "freelist (next fit)",
                                        "freelist (best fit)"};

static enum fit fit = FIRST;
static int ready;
static size_t page;
static struct block *head;              /* the free list, newest first */
static struct block **rover = &head;    /* next fit: the link where the next search starts */
static char *top, *end;                 /* the unused rest of the pages taken so far */

static struct block *block_of(void *p)
{
    return (struct block *)((char *)p - offsetof(struct block, next));
}

static void *payload(struct block *b)
{
    return &b->next;
}

static size_t size_of(const struct block *b)
{
    return b->size & ~FREE;
}

static void init(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    const char *v = getenv("LAB_FIT");
    if (v && strcmp(v, "next") == 0)
        fit = NEXT;
    else if (v && strcmp(v, "best") == 0)
        fit = BEST;
    else if (v && *v && strcmp(v, "first") != 0)
        (void)!write(2, "lab: freelist: LAB_FIT is not first, next or best; using first\n", 64);
    ready = 1;
}

/* ---- the search: each returns the link that points to the chosen block, or NULL ----------- */

static struct block **first_fit(size_t size)
{
    for (struct block **link = &head; *link; link = &(*link)->next)
        if (size_of(*link) >= size)
            return link;
    return NULL;
}

static struct block **best_fit(size_t size)
{
    struct block **best = NULL;
    for (struct block **link = &head; *link; link = &(*link)->next) {
        size_t s = size_of(*link);
        if (s >= size && (!best || s < size_of(*best))) {
            best = link;
            if (s == size)
                break;
        }
    }
    return best;
}

/* From the rover to the end of the list, then from the head back to the rover. */
static struct block **next_fit(size_t size)
{
    struct block **link;
    for (link = rover; *link; link = &(*link)->next)
        if (size_of(*link) >= size)
            return link;
    for (link = &head; link != rover && *link; link = &(*link)->next)
        if (size_of(*link) >= size)
            return link;
    return NULL;
}

/* Takes a block of at least `size` bytes out of the free list, or returns NULL. */
static struct block *take(size_t size)
{
    struct block **link = fit == FIRST ? first_fit(size) : fit == NEXT ? next_fit(size)
                                                                       : best_fit(size);
    if (!link)
        return NULL;
    struct block *b = *link;
    *link = b->next;
    if (fit == NEXT)
        rover = link; /* it now points at the block after the one taken */
    return b;
}

/* ---- growing by pages -------------------------------------------------------------------- */

/* What is left of the old pages when the break moved away (someone else called sbrk) becomes
 * a free block if it can hold one. */
static void retire_top(void)
{
    if (top && (size_t)(end - top) >= sizeof(struct block) + LAB_ALIGN) {
        struct block *b = (struct block *)top;
        b->size = (size_t)(end - top - 16) | FREE;
        b->next = head;
        head = b;
    }
    top = end = NULL;
}

/* Makes room for `need` bytes at top, taking whole pages from the OS (and, in a new region, the
 * few bytes that realign a break someone else left misaligned). */
static int grow(size_t need)
{
    char *brk_now = sbrk(0);
    if (brk_now != end) { /* the first time, or the break was moved by someone else */
        retire_top();
        top = end = brk_now + (-(uintptr_t)brk_now & (LAB_ALIGN - 1));
    }
    size_t more = lab_align_up(need - (size_t)(end - top), page);
    size_t pad = (size_t)(end - brk_now);
    if (sbrk((intptr_t)(pad + more)) == (void *)-1) {
        errno = ENOMEM;
        return 0;
    }
    lab_os_account((long)(pad + more));
    end += more;
    return 1;
}

static struct block *cut_from_top(size_t size)
{
    size_t need = 16 + size;
    if ((size_t)(end - top) < need && !grow(need))
        return NULL;
    struct block *b = (struct block *)top;
    top += need;
    b->size = size;
    return b;
}

/* ---- the core ---------------------------------------------------------------------------- */

HIDDEN void *core_malloc(size_t n)
{
    size_t size = lab_align_up(n ? n : 1, LAB_ALIGN);
    lab_lock();
    if (!ready)
        init();
    struct block *b = take(size);
    if (b)
        b->size &= ~FREE;
    else
        b = cut_from_top(size);
    lab_unlock();
    return b ? payload(b) : NULL;
}

HIDDEN void core_free(void *p)
{
    struct block *b = block_of(p);
    lab_lock();
    if (b->size & FREE)
        lab_die("free(): double free");
    b->size |= FREE;
    b->next = head;
    head = b;
    lab_unlock();
}

HIDDEN size_t core_usable(void *p)
{
    return size_of(block_of(p));
}

/* Without splitting there is nothing to do in place but to keep a block that still fits. */
HIDDEN void *core_realloc(void *p, size_t n)
{
    return n <= core_usable(p) ? p : lab_move(p, n);
}

HIDDEN const char *core_name(void)
{
    if (!ready) {
        lab_lock();
        if (!ready)
            init();
        lab_unlock();
    }
    return fit_names[fit];
}
