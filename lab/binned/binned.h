/* Step 4, binned: the glibc-style heap. The data model, shared by its four files:
 *
 *   binned.c  the core_* entry points: tcache first, then the thread's arena; mmapped chunks
 *   tcache.c  the per-thread cache, and what a thread leaves behind when it exits
 *   bins.c    inside an arena: fast bins, the unsorted bin, small and large bins, the top chunk
 *   arena.c   arenas and their memory: the main arena on sbrk, the others on 64 MiB heaps
 *
 * A chunk, as in glibc (in use: the last word of its payload is the next chunk's prev_size):
 *
 *     chunk -> +-----------------------------+
 *              | prev_size (if prev is free) |   mmapped: offset from the mapping's start
 *              | size          |  A | M | P  |   P: previous chunk in use (PREV_INUSE)
 *     mem ---> +-----------------------------+   M: this chunk is its own mapping (IS_MMAPPED)
 *              | fd   (when free)            |   A: not in the main arena (NON_MAIN_ARENA)
 *              | bk   (when free)            |
 *              | ...                         |
 *     next --> | prev_size = size (if free)  |
 *
 * Whether a chunk is in use is the P bit of the chunk after it. Chunks in the tcache and the
 * fast bins stay "in use" there, so nothing merges with them until malloc_consolidate.
 *
 * Sizes: a request of n bytes needs a chunk of n + 8 rounded up to 16, at least 32 bytes.
 *   tcache      chunk sizes 32..1040 (64 lists per thread, 7 chunks each), no lock
 *   fast bins   32..128 (7 singly linked LIFO lists per arena), not merged
 *   unsorted    any size just freed (and merged): the next malloc sorts it into its bin
 *   small bins  32..1008, one size each (62 doubly linked FIFO lists)
 *   large bins  1024 and up, ranges of sizes growing by powers (63 lists, kept sorted)
 *   top         the rest of the arena's memory; split for a request nothing else serves
 *   mmap        requests of mmap_threshold (128 KiB, raised as large chunks are freed) or more */
#ifndef LAB_BINNED_H
#define LAB_BINNED_H

#include "lab.h"

#include <pthread.h>

/* ---- chunks -------------------------------------------------------------------------------- */

#define PREV_INUSE ((size_t)1)
#define IS_MMAPPED ((size_t)2)
#define NON_MAIN_ARENA ((size_t)4)
#define SIZE_BITS (PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA)
#define SIZE_SZ ((size_t)8)
#define MINSIZE ((size_t)32)
#define HDR ((size_t)16)

typedef struct chunk {
    size_t prev_size;
    size_t size;
    struct chunk *fd, *bk;
} chunk_t;

static inline size_t chunksize(const chunk_t *c)
{
    return c->size & ~SIZE_BITS;
}

static inline chunk_t *chunk_at(void *c, size_t offset)
{
    return (chunk_t *)((char *)c + offset);
}

static inline void *chunk2mem(chunk_t *c)
{
    return (char *)c + HDR;
}

static inline chunk_t *mem2chunk(void *m)
{
    return (chunk_t *)((char *)m - HDR);
}

static inline size_t request2size(size_t n)
{
    size_t s = (n + SIZE_SZ + LAB_ALIGN - 1) & ~(LAB_ALIGN - 1);
    return s < MINSIZE ? MINSIZE : s;
}

/* chunk c (of `size` bytes) is in use: the P bit of the chunk after it */
static inline int inuse_at(chunk_t *c, size_t size)
{
    return chunk_at(c, size)->size & PREV_INUSE;
}

static inline void set_inuse_at(chunk_t *c, size_t size)
{
    chunk_at(c, size)->size |= PREV_INUSE;
}

/* a free chunk's footer: its size in the next chunk's prev_size */
static inline void set_foot(chunk_t *c, size_t size)
{
    chunk_at(c, size)->prev_size = size;
}

/* ---- bins ------------------------------------------------------------------------------- */

#define NBINS 128         /* bin 1: unsorted; 2..63: small; 64..126: large */
#define UNSORTED 1
#define MIN_LARGE_SIZE ((size_t)1024)
#define NFASTBINS 7
#define MAX_FAST ((size_t)128)
#define FASTBIN_CONSOLIDATION_THRESHOLD ((size_t)65536)

static inline int in_smallbin_range(size_t sz)
{
    return sz < MIN_LARGE_SIZE;
}

static inline int fastbin_index(size_t sz)
{
    return (int)(sz >> 4) - 2;
}

static inline int smallbin_index(size_t sz)
{
    return (int)(sz >> 4);
}

/* glibc's spacing: 32 bins 64 bytes apart, 16 of 512, 8 of 4096, 4 of 32768, 2 of 262144, 1 */
static inline int largebin_index(size_t sz)
{
    if ((sz >> 6) <= 48)
        return 48 + (int)(sz >> 6);
    if ((sz >> 9) <= 20)
        return 91 + (int)(sz >> 9);
    if ((sz >> 12) <= 10)
        return 110 + (int)(sz >> 12);
    if ((sz >> 15) <= 4)
        return 119 + (int)(sz >> 15);
    if ((sz >> 18) <= 2)
        return 124 + (int)(sz >> 18);
    return 126;
}

static inline int bin_index(size_t sz)
{
    return in_smallbin_range(sz) ? smallbin_index(sz) : largebin_index(sz);
}

/* ---- arenas and heaps -------------------------------------------------------------------- */

typedef struct arena {
    pthread_mutex_t lock;
    chunk_t *fastbins[NFASTBINS];
    int have_fast;               /* some fast bin may hold chunks */
    chunk_t *top;                /* NULL until the arena first takes memory */
    chunk_t bins[NBINS];         /* list heads: only fd and bk are used */
    uint32_t binmap[NBINS / 32]; /* bit set: the bin may hold chunks (cleared when seen empty) */
    struct arena *next;          /* all arenas */
    struct arena *next_free;     /* arenas no thread is attached to */
    size_t attached;             /* threads using this arena */
    int contiguous;              /* main arena: top still ends at the break */
} arena_t;

/* The start of each 64 MiB-aligned heap of a non-main arena; chunks find it by masking. */
#define HEAP_MAX ((size_t)64 << 20)
typedef struct heap_info {
    arena_t *ar;
    struct heap_info *prev; /* the arena's previous heap */
    size_t size;            /* bytes in use from the start of the heap */
    size_t mprotect_size;   /* bytes made readable and writable */
} heap_info;

static inline heap_info *heap_for_ptr(void *p)
{
    return (heap_info *)((uintptr_t)p & ~(HEAP_MAX - 1));
}

extern HIDDEN arena_t main_arena;

static inline arena_t *arena_for_chunk(chunk_t *c)
{
    return (c->size & NON_MAIN_ARENA) ? heap_for_ptr(c)->ar : &main_arena;
}

/* the A bit a chunk allocated from arena a carries */
static inline size_t arena_bit(arena_t *a)
{
    return a == &main_arena ? 0 : NON_MAIN_ARENA;
}

/* Tunables, as glibc's defaults; mmap_threshold and trim_threshold move (binned.c). */
struct params {
    size_t mmap_threshold; /* 128 KiB, up to 32 MiB */
    size_t trim_threshold; /* 128 KiB, then twice the mmap threshold */
    size_t top_pad;        /* 128 KiB: extra taken each time top grows, kept when it shrinks */
    size_t page;
};
extern HIDDEN struct params mp;

/* ---- tcache ------------------------------------------------------------------------------- */

#define TCACHE_BINS 64
#define TCACHE_COUNT 7

static inline size_t tidx_of(size_t chunk_size)
{
    return (chunk_size - MINSIZE) / LAB_ALIGN;
}

/* ---- across the files --------------------------------------------------------------------- */

/* arena.c */
HIDDEN arena_t *arena_get(void);          /* the calling thread's arena (attached on first use) */
HIDDEN void arena_detach(void);           /* the calling thread exits */
HIDDEN chunk_t *sysmalloc(arena_t *a, size_t nb); /* lock held: grow the arena, or mmap */
HIDDEN void trim_top(arena_t *a);         /* lock held: give a large top back to the OS */
HIDDEN chunk_t *mmap_chunk(size_t nb);
HIDDEN void arena_fork_setup(void);

/* bins.c (the arena's lock held) */
HIDDEN void *int_malloc(arena_t *a, size_t nb);
HIDDEN void free_locked(arena_t *a, chunk_t *c);
HIDDEN chunk_t *split_top(arena_t *a, size_t nb);
HIDDEN int grow_in_place(arena_t *a, chunk_t *c, size_t nb);
HIDDEN void shrink_in_place(arena_t *a, chunk_t *c, size_t nb);

/* tcache.c (the calling thread's cache) */
HIDDEN void *tcache_take(size_t tidx);           /* tidx < TCACHE_BINS; NULL if none cached */
HIDDEN int tcache_offer(chunk_t *c, size_t tidx); /* 1 if the cache kept c */
HIDDEN int tcache_has_room(size_t tidx);
HIDDEN void tcache_ensure(void);                 /* the thread's cache exists from now on */
HIDDEN void tcache_setup(void);

#endif
