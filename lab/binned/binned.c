/* binned's entry points: the tcache first (no lock), then the thread's arena under its lock;
 * chunks of their own mapping bypass both.
 *
 *   malloc  tcache entry of the exact size? taken.  Else: lock the arena, int_malloc (bins.c).
 *   free    mmapped? munmap, and raise the mmap threshold to its size (glibc's dynamic
 *           threshold: a program that frees blocks this large will want them again, and a
 *           fresh mapping each time costs page faults).  Else: into the tcache if its list
 *           has room, else into the chunk's own arena (its A bit says which), under its lock.
 *   realloc in place into the top or a free neighbour; mremap for mmapped chunks; else move. */
#include "binned.h"

#include <errno.h>
#include <sys/mman.h>

#define MMAP_THRESHOLD_MAX ((size_t)32 << 20) /* glibc on 64-bit: 4 MiB * sizeof(long) */

static void unmap_chunk(chunk_t *c)
{
    size_t size = chunksize(c);
    if (size > __atomic_load_n(&mp.mmap_threshold, __ATOMIC_RELAXED) && size <= MMAP_THRESHOLD_MAX) {
        __atomic_store_n(&mp.mmap_threshold, size, __ATOMIC_RELAXED);
        __atomic_store_n(&mp.trim_threshold, 2 * size, __ATOMIC_RELAXED);
    }
    size_t total = size + c->prev_size;
    munmap((char *)c - c->prev_size, total);
    lab_os_account(-(long)total);
}

HIDDEN void *core_malloc(size_t n)
{
    size_t nb = request2size(n), tidx = tidx_of(nb);
    if (tidx < TCACHE_BINS) {
        void *m = tcache_take(tidx);
        if (m)
            return m;
    }
    tcache_ensure();
    arena_t *a = arena_get();
    pthread_mutex_lock(&a->lock);
    void *m = int_malloc(a, nb);
    pthread_mutex_unlock(&a->lock);
    if (!m)
        errno = ENOMEM;
    return m;
}

HIDDEN void core_free(void *m)
{
    chunk_t *c = mem2chunk(m);
    if (c->size & IS_MMAPPED) {
        unmap_chunk(c);
        return;
    }
    if (tcache_offer(c, tidx_of(chunksize(c))))
        return;
    arena_t *a = arena_for_chunk(c);
    pthread_mutex_lock(&a->lock);
    free_locked(a, c);
    pthread_mutex_unlock(&a->lock);
}

HIDDEN size_t core_usable(void *m)
{
    chunk_t *c = mem2chunk(m);
    /* in use, a chunk also owns the next chunk's prev_size word; a mapping has no next chunk */
    return chunksize(c) - ((c->size & IS_MMAPPED) ? HDR : SIZE_SZ);
}

/* A mapping grows or shrinks with mremap: the kernel moves page tables, not bytes. */
static void *remap(chunk_t *c, size_t n, size_t nb)
{
    size_t old = chunksize(c), size = lab_align_up(nb + SIZE_SZ, mp.page);
    if (size == old)
        return chunk2mem(c);
    chunk_t *r = mremap(c, old, size, MREMAP_MAYMOVE);
    if (r != MAP_FAILED) {
        lab_os_account((long)size - (long)old);
        r->size = size | IS_MMAPPED;
        return chunk2mem(r);
    }
    return old - HDR >= n ? chunk2mem(c) : lab_move(chunk2mem(c), n);
}

HIDDEN void *core_realloc(void *m, size_t n)
{
    chunk_t *c = mem2chunk(m);
    size_t nb = request2size(n);
    if (c->size & IS_MMAPPED)
        return remap(c, n, nb);
    arena_t *a = arena_for_chunk(c);
    int done = 1;
    pthread_mutex_lock(&a->lock);
    if (chunksize(c) >= nb)
        shrink_in_place(a, c, nb);
    else
        done = grow_in_place(a, c, nb);
    pthread_mutex_unlock(&a->lock);
    return done ? m : lab_move(m, n);
}

/* A fresh mapping is zero: calloc skips its memset, as glibc's does. */
HIDDEN int core_fresh(void *m)
{
    return (mem2chunk(m)->size & IS_MMAPPED) != 0;
}

HIDDEN const char *core_name(void)
{
    return "binned";
}

__attribute__((constructor)) static void binned_init(void)
{
    tcache_setup();
    arena_fork_setup();
}
