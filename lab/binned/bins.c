/* binned, inside one arena (its lock held): where malloc looks, in glibc's order, and where
 * free puts a chunk.
 *
 *   malloc(nb)  1. fast bin of exactly nb (and more of them into the tcache)
 *               2. small bin of exactly nb (and more of them into the tcache)
 *               3. the unsorted bin, oldest first: an exact fit is taken (or cached); every
 *                  other chunk is sorted into its small or large bin
 *               4. a large request: the smallest chunk of its own large bin that fits
 *               5. the binmap: the first non-empty bin above, its smallest chunk, split
 *               6. the top chunk, split; else merge the fast bins and try again; else grow
 *                  the arena or mmap (arena.c)
 *   free(c)     fast size: pushed on its fast bin, no merging. Else merged with free
 *               neighbours (the top included) and put in the unsorted bin; a large free merges
 *               the fast bins (malloc_consolidate) and may give the top back.
 *
 *     bins[1] unsorted  <-> c <-> c <-> c <->            (any size, newest at fd)
 *     bins[2..63] small <-> c <-> c <->                  (one size each, FIFO)
 *     bins[64..126]     <-> 1456 <-> 1200 <-> 1040 <->   (a range each, largest first)
 *     binmap: 0001 0100 0000 ... one bit per bin, "may be non-empty" */
#include "binned.h"

static chunk_t *bin_at(arena_t *a, int i)
{
    return &a->bins[i];
}

static chunk_t *chunk_before(chunk_t *c, size_t size)
{
    return (chunk_t *)((char *)c - size);
}

static void mark_bin(arena_t *a, int i)
{
    a->binmap[i >> 5] |= 1u << (i & 31);
}

/* The first bin after `after` whose map bit is set, or -1. */
static int next_marked(arena_t *a, int after)
{
    for (int i = after + 1; i < NBINS;) {
        uint32_t word = a->binmap[i >> 5] >> (i & 31);
        if (word)
            return i + __builtin_ctz(word);
        i = (i | 31) + 1;
    }
    return -1;
}

static void unlink_chunk(chunk_t *c)
{
    chunk_t *fd = c->fd, *bk = c->bk;
    if (fd->bk != c || bk->fd != c)
        lab_die("corrupted double-linked list");
    fd->bk = bk;
    bk->fd = fd;
}

/* Puts c into its list before `fwd`. */
static void link_before(chunk_t *fwd, chunk_t *c)
{
    c->fd = fwd;
    c->bk = fwd->bk;
    fwd->bk->fd = c;
    fwd->bk = c;
}

/* Small bins: newest at the front. Large bins: kept sorted, largest first. */
static void place_in_bin(arena_t *a, chunk_t *c, size_t size)
{
    int i = bin_index(size);
    chunk_t *bin = bin_at(a, i), *fwd = bin->fd;
    if (!in_smallbin_range(size))
        while (fwd != bin && chunksize(fwd) > size)
            fwd = fwd->fd;
    link_before(fwd, c);
    mark_bin(a, i);
}

/* ---- free -------------------------------------------------------------------------------- */

/* Merges in-use chunk c with a free chunk before it and a free chunk (or the top) after it;
 * the result goes to the unsorted bin or becomes the top. Returns the merged size. */
static size_t merge_and_bin(arena_t *a, chunk_t *c)
{
    size_t size = chunksize(c);
    chunk_t *next = chunk_at(c, size);
    if (!(c->size & PREV_INUSE)) {
        size_t prev_size = c->prev_size;
        c = chunk_before(c, prev_size);
        if (chunksize(c) != prev_size)
            lab_die("corrupted size vs. prev_size");
        unlink_chunk(c);
        size += prev_size;
    }
    if (next == a->top) {
        size += chunksize(next);
        c->size = size | PREV_INUSE;
        a->top = c;
        return size;
    }
    size_t next_size = chunksize(next);
    if (!inuse_at(next, next_size)) {
        unlink_chunk(next);
        size += next_size;
    } else {
        next->size &= ~PREV_INUSE;
    }
    c->size = size | PREV_INUSE;
    set_foot(c, size);
    link_before(bin_at(a, UNSORTED)->fd, c);
    return size;
}

/* malloc_consolidate: every fast chunk merged with its free neighbours. */
static void consolidate(arena_t *a)
{
    a->have_fast = 0;
    for (int i = 0; i < NFASTBINS; i++) {
        chunk_t *c = a->fastbins[i];
        a->fastbins[i] = NULL;
        while (c) {
            chunk_t *next = c->fd;
            merge_and_bin(a, c);
            c = next;
        }
    }
}

HIDDEN void free_locked(arena_t *a, chunk_t *c)
{
    size_t size = chunksize(c);
    if (c == a->top)
        lab_die("double free or corruption (top)");
    if (!inuse_at(c, size))
        lab_die("double free or corruption (!prev)");
    if (size <= MAX_FAST) {
        int i = fastbin_index(size);
        if (a->fastbins[i] == c)
            lab_die("double free or corruption (fasttop)");
        c->fd = a->fastbins[i];
        a->fastbins[i] = c;
        a->have_fast = 1;
        return;
    }
    if (merge_and_bin(a, c) >= FASTBIN_CONSOLIDATION_THRESHOLD) {
        if (a->have_fast)
            consolidate(a);
        trim_top(a);
    }
}

/* ---- malloc ------------------------------------------------------------------------------ */

/* c leaves its bin whole to serve a request: in use, with its arena's bit. */
static chunk_t *use_whole(arena_t *a, chunk_t *c, size_t size)
{
    set_inuse_at(c, size);
    c->size |= arena_bit(a);
    return c;
}

/* Free chunk c (in a bin) serves nb bytes; a remainder of MINSIZE or more goes to unsorted. */
static chunk_t *split_chunk(arena_t *a, chunk_t *c, size_t nb)
{
    size_t size = chunksize(c), rest = size - nb;
    unlink_chunk(c);
    if (rest < MINSIZE)
        return use_whole(a, c, size);
    c->size = nb | PREV_INUSE | arena_bit(a);
    chunk_t *r = chunk_at(c, nb);
    r->size = rest | PREV_INUSE;
    set_foot(r, rest);
    link_before(bin_at(a, UNSORTED)->fd, r);
    return c;
}

HIDDEN chunk_t *split_top(arena_t *a, size_t nb)
{
    chunk_t *c = a->top;
    size_t size = chunksize(c);
    a->top = chunk_at(c, nb);
    a->top->size = (size - nb) | PREV_INUSE;
    c->size = nb | PREV_INUSE | arena_bit(a);
    return c;
}

/* Steps 1 and 2: an exact fit from a fast or small bin, and more of that size into the
 * thread's tcache while it has room. */
static chunk_t *exact_from_bins(arena_t *a, size_t nb)
{
    size_t tidx = tidx_of(nb);
    chunk_t *c;
    if (nb <= MAX_FAST && (c = a->fastbins[fastbin_index(nb)])) {
        chunk_t **fb = &a->fastbins[fastbin_index(nb)];
        *fb = c->fd;
        while (*fb && tcache_has_room(tidx)) {
            chunk_t *s = *fb;
            *fb = s->fd;
            s->size |= arena_bit(a);
            tcache_offer(s, tidx);
        }
        c->size |= arena_bit(a);
        return c;
    }
    if (!in_smallbin_range(nb))
        return NULL;
    chunk_t *bin = bin_at(a, smallbin_index(nb));
    if ((c = bin->bk) == bin)
        return NULL;
    unlink_chunk(c);
    use_whole(a, c, nb);
    while (bin->bk != bin && tcache_has_room(tidx)) {
        chunk_t *s = bin->bk;
        unlink_chunk(s);
        tcache_offer(use_whole(a, s, nb), tidx);
    }
    return c;
}

/* Step 3: empties the unsorted bin into the small and large bins, except exact fits: the first
 * is returned, unless the tcache has room for it (then *cached is set and sorting goes on). */
static chunk_t *sort_unsorted(arena_t *a, size_t nb, int *cached)
{
    chunk_t *uns = bin_at(a, UNSORTED), *c;
    size_t tidx = tidx_of(nb);
    for (int n = 0; n < 10000 && (c = uns->bk) != uns; n++) {
        size_t size = chunksize(c);
        unlink_chunk(c);
        if (size == nb) {
            use_whole(a, c, size);
            if (tcache_offer(c, tidx)) {
                *cached = 1;
                continue;
            }
            return c;
        }
        place_in_bin(a, c, size);
    }
    return NULL;
}

/* Step 4: the smallest chunk of a large request's own bin that fits (the bin is sorted). */
static chunk_t *best_in_bin(arena_t *a, int idx, size_t nb)
{
    chunk_t *bin = bin_at(a, idx);
    for (chunk_t *c = bin->bk; c != bin; c = c->bk)
        if (chunksize(c) >= nb)
            return split_chunk(a, c, nb);
    return NULL;
}

/* Step 5: any chunk of a larger bin fits; the binmap skips the empty ones. */
static chunk_t *from_larger_bin(arena_t *a, int idx, size_t nb)
{
    for (int i = next_marked(a, idx); i > 0; i = next_marked(a, i)) {
        chunk_t *bin = bin_at(a, i);
        if (bin->bk != bin)
            return split_chunk(a, bin->bk, nb);
        a->binmap[i >> 5] &= ~(1u << (i & 31)); /* seen empty */
    }
    return NULL;
}

HIDDEN void *int_malloc(arena_t *a, size_t nb)
{
    chunk_t *c = exact_from_bins(a, nb);
    if (c)
        return chunk2mem(c);
    int idx = bin_index(nb);
    if (!in_smallbin_range(nb) && a->have_fast)
        consolidate(a);
    for (;;) {
        int cached = 0;
        if ((c = sort_unsorted(a, nb, &cached)))
            return chunk2mem(c);
        if (cached)
            return tcache_take(tidx_of(nb));
        if (!in_smallbin_range(nb) && (c = best_in_bin(a, idx, nb)))
            return chunk2mem(c);
        if ((c = from_larger_bin(a, idx, nb)))
            return chunk2mem(c);
        if (a->top && chunksize(a->top) >= nb + MINSIZE)
            return chunk2mem(split_top(a, nb));
        if (!a->have_fast)
            break;
        consolidate(a); /* the fast bins may merge into something large enough */
    }
    c = sysmalloc(a, nb);
    return c ? chunk2mem(c) : NULL;
}

/* ---- realloc in place -------------------------------------------------------------------- */

/* In-use chunk c keeps nb of its bytes; a remainder of MINSIZE or more is freed. */
HIDDEN void shrink_in_place(arena_t *a, chunk_t *c, size_t nb)
{
    size_t rest = chunksize(c) - nb;
    if (rest < MINSIZE)
        return;
    c->size = nb | (c->size & SIZE_BITS);
    chunk_t *r = chunk_at(c, nb);
    r->size = rest | PREV_INUSE | arena_bit(a); /* in use until freed just below */
    free_locked(a, r);
}

/* In-use chunk c grows to nb bytes into the top or a free chunk after it; 0 if it cannot. */
HIDDEN int grow_in_place(arena_t *a, chunk_t *c, size_t nb)
{
    size_t size = chunksize(c);
    chunk_t *next = chunk_at(c, size);
    if (next == a->top) {
        if (size + chunksize(next) < nb + MINSIZE)
            return 0;
        size_t rest = size + chunksize(next) - nb;
        c->size = nb | (c->size & SIZE_BITS);
        a->top = chunk_at(c, nb);
        a->top->size = rest | PREV_INUSE;
        return 1;
    }
    size_t next_size = chunksize(next);
    if (inuse_at(next, next_size) || size + next_size < nb)
        return 0;
    unlink_chunk(next);
    c->size += next_size;
    set_inuse_at(c, size + next_size);
    shrink_in_place(a, c, nb);
    return 1;
}
