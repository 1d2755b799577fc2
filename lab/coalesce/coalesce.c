/* Step 3, coalesce: boundary tags, splitting, merging, and giving the heap top back.
 *
 * Every chunk starts with two words: the size of the chunk before it (valid only while that
 * chunk is free: it is that chunk's footer) and its own size with two flags. From any chunk
 * both neighbours are one step away, so free merges a chunk with free neighbours at once, and
 * the free list, doubly linked, lets a neighbour leave it from anywhere.
 *
 *      chunk                                  next chunk
 *      v                                      v
 *      +-----------+-------------+-----------+-----------+---------------+----
 *      | prev_size | size|I|P    | payload   | prev_size | size|I|P      |
 *      +-----------+-------------+-----------+-----------+---------------+----
 *                                ^ malloc returns this   ^ when the chunk is free, its size
 *                                                          here is its footer
 *      I (INUSE): this chunk is in use.  P (PREV_INUSE): the chunk before it is in use.
 *      A free chunk keeps `next` and `prev` (the free list) in its payload.
 *
 *      heap:  [chunk][chunk][free ][chunk]...[ top: the rest, up to the break ]| break
 *
 * malloc takes the first free chunk that is large enough (first fit) and splits off what it does
 * not need; with none, it splits the top chunk, which grows by whole pages with sbrk. free merges
 * with free neighbours; a chunk that reaches the top becomes part of it, and a top larger than
 * TRIM_THRESHOLD shrinks with sbrk(-n): the memory goes back to the OS.
 *
 * If something else moves the break, the heap goes on in a new region after a fence (a small
 * chunk marked in use that no merge crosses), and the old region's top becomes a free chunk. */
#include "lab.h"

#include <errno.h>
#include <unistd.h>

#define INUSE ((size_t)1)
#define PREV_INUSE ((size_t)2)
#define FLAGS (INUSE | PREV_INUSE)
#define HDR ((size_t)16)        /* prev_size and size */
#define MINSIZE ((size_t)32)    /* a header and the two links of a free chunk */
#define FENCE ((size_t)16)
#define TRIM_THRESHOLD ((size_t)128 * 1024) /* a top larger than this is trimmed ... */
#define TRIM_KEEP ((size_t)64 * 1024)       /* ... down to about this */

typedef struct chunk {
    size_t prev_size;           /* size of the chunk before, while that one is free */
    size_t size;                /* size of this chunk, header included | INUSE | PREV_INUSE */
    struct chunk *next, *prev;  /* while free: the free list */
} chunk_t;

static chunk_t *free_list;    /* doubly linked, newest first */
static chunk_t *top;          /* the chunk that ends at the break; never in the free list */
static size_t page;

static size_t csize(const chunk_t *c)
{
    return c->size & ~FLAGS;
}

static chunk_t *at(void *c, size_t offset)
{
    return (chunk_t *)((char *)c + offset);
}

static char *end_of(chunk_t *c)
{
    return (char *)c + csize(c);
}

static void *mem_of(chunk_t *c)
{
    return (char *)c + HDR;
}

static chunk_t *chunk_of(void *p)
{
    return (chunk_t *)((char *)p - HDR);
}

/* Chunk size for a request: the header plus the payload, at least MINSIZE. */
static size_t chunk_size(size_t n)
{
    size_t s = HDR + lab_align_up(n, LAB_ALIGN);
    return s < MINSIZE ? MINSIZE : s;
}

/* ---- the free list ----------------------------------------------------------------------- */

static void list_push(chunk_t *c)
{
    c->prev = NULL;
    c->next = free_list;
    if (free_list)
        free_list->prev = c;
    free_list = c;
}

static void list_remove(chunk_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        free_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* Marks chunk c (of `size` bytes) free: its flags, its footer, its neighbour's PREV_INUSE. */
static void set_free(chunk_t *c, size_t size)
{
    c->size = size | (c->size & PREV_INUSE);
    chunk_t *next = at(c, size);
    next->prev_size = size;
    next->size &= ~PREV_INUSE;
}

/* ---- the top and the OS ------------------------------------------------------------------ */

/* The break moved away from the end of top: end the old region with a fence and keep what is
 * left of its top as an ordinary free chunk. */
static void retire_top(void)
{
    size_t size = csize(top);
    chunk_t *fence = at(top, size - FENCE);
    if (size >= MINSIZE + FENCE) {
        set_free(top, size - FENCE);
        list_push(top);
        fence->size = FENCE | INUSE;
    } else {
        fence = top; /* too small to keep: all of it is the fence */
        fence->size = size | INUSE | (top->size & PREV_INUSE);
    }
    top = NULL;
}

/* Makes top at least `need` bytes, taking whole pages from the OS (and, in a new region, the
 * few bytes that realign a break someone else left misaligned: chunks stay 16-aligned). */
static int grow(size_t need)
{
    char *brk_now = sbrk(0);
    if (top && end_of(top) != brk_now)
        retire_top();
    size_t have = top ? csize(top) : 0;
    size_t pad = top ? 0 : (size_t)(-(uintptr_t)brk_now & (LAB_ALIGN - 1));
    size_t more = lab_align_up(need - have, page);
    if (sbrk((intptr_t)(pad + more)) == (void *)-1) {
        errno = ENOMEM;
        return 0;
    }
    lab_os_account((long)(pad + more));
    if (!top) {
        top = (chunk_t *)(brk_now + pad);
        top->size = PREV_INUSE; /* nothing before a region */
    }
    top->size += more;
    return 1;
}

/* Gives the OS back the part of a large top above TRIM_KEEP, when the break is still ours. */
static void trim(void)
{
    size_t size = csize(top);
    if (size <= TRIM_THRESHOLD || sbrk(0) != end_of(top))
        return;
    size_t release = (size - TRIM_KEEP) & ~(page - 1);
    if (sbrk(-(intptr_t)release) == (void *)-1)
        return;
    lab_os_account(-(long)release);
    top->size -= release;
}

/* Cuts a chunk of `size` bytes from the front of top. */
static chunk_t *from_top(size_t size)
{
    if ((!top || csize(top) < size + MINSIZE) && !grow(size + MINSIZE))
        return NULL;
    chunk_t *c = top;
    size_t rest = csize(top) - size;
    top = at(c, size);
    top->size = rest | PREV_INUSE;
    c->size = size | INUSE | (c->size & PREV_INUSE);
    return c;
}

/* ---- splitting and merging --------------------------------------------------------------- */

static void release(chunk_t *c);

/* c is in use; keep `size` bytes of it and free the rest if the rest can be a chunk. */
static void split(chunk_t *c, size_t size)
{
    size_t have = csize(c);
    if (have - size < MINSIZE)
        return;
    c->size = size | (c->size & FLAGS);
    chunk_t *rest = at(c, size);
    rest->size = (have - size) | INUSE | PREV_INUSE;
    release(rest);
}

/* Frees in-use chunk c: merged with a free chunk before it, with a free chunk (or top) after it. */
static void release(chunk_t *c)
{
    size_t size = csize(c);
    if (!(c->size & PREV_INUSE)) {
        chunk_t *prev = at(c, -c->prev_size);
        list_remove(prev);
        size += csize(prev);
        c = prev;
    }
    chunk_t *next = at(c, size);
    if (next == top) {
        top = c;
        top->size = (size + csize(next)) | PREV_INUSE;
        trim();
        return;
    }
    if (!(next->size & INUSE)) {
        list_remove(next);
        size += csize(next);
    }
    set_free(c, size);
    list_push(c);
}

/* ---- the core ---------------------------------------------------------------------------- */

HIDDEN void *core_malloc(size_t n)
{
    size_t size = chunk_size(n);
    lab_lock();
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    chunk_t *c = free_list;
    while (c && csize(c) < size)
        c = c->next;
    if (c) {
        list_remove(c);
        c->size |= INUSE;
        at(c, csize(c))->size |= PREV_INUSE;
        split(c, size);
    } else {
        c = from_top(size);
    }
    lab_unlock();
    return c ? mem_of(c) : NULL;
}

HIDDEN void core_free(void *p)
{
    chunk_t *c = chunk_of(p);
    lab_lock();
    if (!(c->size & INUSE))
        lab_die("free(): double free");
    release(c);
    lab_unlock();
}

HIDDEN size_t core_usable(void *p)
{
    return csize(chunk_of(p)) - HDR;
}

/* In place when the chunk shrinks, or when the chunk after it is free (or top) and large
 * enough together: the neighbour is absorbed and the rest split off again. */
HIDDEN void *core_realloc(void *p, size_t n)
{
    chunk_t *c = chunk_of(p);
    size_t size = chunk_size(n);
    lab_lock();
    size_t have = csize(c);
    chunk_t *next = at(c, have);
    int done = 1;
    if (have >= size) {
        split(c, size);
    } else if (next == top && (have + csize(top) >= size + MINSIZE ||
                               (end_of(top) == sbrk(0) && grow(size + MINSIZE - have)))) {
        size_t rest = have + csize(top) - size;
        top = at(c, size);
        top->size = rest | PREV_INUSE;
        c->size = size | (c->size & FLAGS);
    } else if (next != top && !(next->size & INUSE) && have + csize(next) >= size) {
        list_remove(next);
        c->size += csize(next);
        at(c, csize(c))->size |= PREV_INUSE;
        split(c, size);
    } else {
        done = 0;
    }
    lab_unlock();
    return done ? p : lab_move(p, n);
}

HIDDEN const char *core_name(void)
{
    return "coalesce";
}
