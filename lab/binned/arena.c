/* binned's arenas and where their memory comes from.
 *
 * An arena is a complete heap with its own lock: bins, fast bins, a top chunk. The main arena
 * grows with sbrk; every other arena lives in heaps of its own, 64 MiB of address space each,
 * aligned to 64 MiB so that a chunk finds its heap (and the heap its arena) by masking:
 *
 *     64 MiB-aligned                                     h->size      h->mprotect_size   64 MiB
 *     +-----------+--------------+---------------------+-------------+------------------+
 *     | heap_info | arena (first |  chunks ... top     | (given back |    PROT_NONE     |
 *     | ar, prev  | heap only)   |                     |  by madvise)|    reserved      |
 *     +-----------+--------------+---------------------+-------------+------------------+
 *
 * A thread is attached to one arena on its first malloc: one no thread uses, else a new one
 * (up to 8 per CPU, as glibc on 64-bit), else an existing one in turn. The main arena serves
 * the first thread. Blocks of mmap_threshold and more get a mapping of their own (binned.c).
 *
 * When a region cannot grow where it ends (the heap is full, or something else moved the
 * break), the arena goes on in a new region and the old top is closed with two fenceposts
 * (16-byte chunks marked in use) so that no merge ever crosses the gap. */
#include "binned.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

HIDDEN arena_t main_arena = {.lock = PTHREAD_MUTEX_INITIALIZER, .contiguous = 1};
HIDDEN struct params mp = {.mmap_threshold = 128 * 1024, .trim_threshold = 128 * 1024,
                           .top_pad = 128 * 1024};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static arena_t *free_arenas;    /* arenas with no thread attached */
static arena_t *reuse_next;     /* round robin once the limit is reached */
static size_t narenas = 1, arena_limit;
static int ready;
static __thread arena_t *thread_arena;

static void init_bins(arena_t *a)
{
    for (int i = 0; i < NBINS; i++)
        a->bins[i].fd = a->bins[i].bk = &a->bins[i];
}

/* The first malloc of the process (list_lock held): nothing here may allocate. */
static void first_use(void)
{
    mp.page = (size_t)sysconf(_SC_PAGESIZE);
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    arena_limit = 8 * (size_t)(cpus > 0 ? cpus : 1);
    init_bins(&main_arena);
    free_arenas = &main_arena;
    ready = 1;
}

/* ---- memory from the OS -------------------------------------------------------------------- */

HIDDEN chunk_t *mmap_chunk(size_t nb)
{
    size_t size = lab_align_up(nb + SIZE_SZ, mp.page);
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    lab_os_account((long)size);
    chunk_t *c = (chunk_t *)m;
    c->prev_size = 0; /* glibc's offset to the mapping's start; aligned blocks are api.c's */
    c->size = size | IS_MMAPPED;
    return c;
}

/* 64 MiB of address space aligned to 64 MiB, the first `size` bytes of it usable. */
static heap_info *new_heap(size_t size)
{
    size = lab_align_up(size, mp.page);
    if (size > HEAP_MAX)
        return NULL;
    char *raw = mmap(NULL, 2 * HEAP_MAX, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    char *h = (char *)lab_align_up((uintptr_t)raw, HEAP_MAX);
    if (h > raw)
        munmap(raw, (size_t)(h - raw));
    munmap(h + HEAP_MAX, (size_t)(raw + HEAP_MAX - h));
    if (mprotect(h, size, PROT_READ | PROT_WRITE) != 0) {
        munmap(h, HEAP_MAX);
        return NULL;
    }
    lab_os_account((long)size);
    heap_info *hi = (heap_info *)h;
    hi->size = hi->mprotect_size = size;
    return hi;
}

static int grow_heap(heap_info *h, size_t diff)
{
    size_t size = lab_align_up(h->size + diff, mp.page);
    if (size > HEAP_MAX)
        return 0;
    if (size > h->mprotect_size) {
        if (mprotect((char *)h + h->mprotect_size, size - h->mprotect_size,
                     PROT_READ | PROT_WRITE) != 0)
            return 0;
        h->mprotect_size = size;
    }
    lab_os_account((long)(size - h->size));
    h->size = size;
    return 1;
}

/* Closes the region that `top` ends: two fenceposts at its end; returns what is left before
 * them as an in-use chunk to free (NULL if too small to be one). */
static chunk_t *fence_top(arena_t *a, chunk_t *top)
{
    size_t size = chunksize(top), keep = size - 2 * HDR;
    chunk_at(top, size - HDR)->size = HDR | PREV_INUSE;
    if (keep < MINSIZE) {
        top->size = (size - HDR) | PREV_INUSE;
        return NULL;
    }
    chunk_at(top, keep)->size = HDR | PREV_INUSE;
    top->size = keep | PREV_INUSE | arena_bit(a);
    return top;
}

static void new_top(arena_t *a, void *start, size_t size)
{
    a->top = (chunk_t *)start;
    a->top->size = size | PREV_INUSE;
}

/* The main arena: sbrk by whole pages, top_pad more than needed. If sbrk fails, a mapping of
 * at least 1 MiB stands in (and the arena is no longer contiguous with the break). */
static int grow_main(arena_t *a, size_t nb, chunk_t **old)
{
    chunk_t *top = a->top;
    char *brk_now = sbrk(0);
    int extend = top && a->contiguous && (char *)top + chunksize(top) == brk_now;
    /* a new region starts at the break, realigned if someone else left it misaligned */
    size_t have = extend ? chunksize(top) : 0;
    size_t pad = extend ? 0 : (size_t)(-(uintptr_t)brk_now & (LAB_ALIGN - 1));
    size_t want = nb + MINSIZE + mp.top_pad;
    size_t more = lab_align_up(want - have, mp.page);
    if (sbrk((intptr_t)(pad + more)) != (void *)-1) {
        lab_os_account((long)(pad + more));
        if (top && !extend)
            *old = fence_top(a, top);
        new_top(a, extend ? (char *)top : brk_now + pad, have + more);
        a->contiguous = 1;
        return 1;
    }
    size_t size = lab_align_up(want, mp.page);
    if (size < ((size_t)1 << 20))
        size = (size_t)1 << 20;
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    lab_os_account((long)size);
    if (top)
        *old = fence_top(a, top);
    new_top(a, m, size);
    a->contiguous = 0;
    return 1;
}

/* A thread arena: its current heap grows; when it is full, a new heap follows. */
static int grow_thread_arena(arena_t *a, size_t nb, chunk_t **old)
{
    chunk_t *top = a->top;
    heap_info *h = heap_for_ptr(top);
    size_t have = chunksize(top), need = nb + MINSIZE;
    if (grow_heap(h, need + mp.top_pad - have) || grow_heap(h, need - have)) {
        new_top(a, top, (size_t)((char *)h + h->size - (char *)top));
        return 1;
    }
    heap_info *nh = new_heap(sizeof(heap_info) + need + mp.top_pad);
    if (!nh)
        return 0;
    nh->ar = a;
    nh->prev = h;
    *old = fence_top(a, top);
    new_top(a, nh + 1, nh->size - sizeof(heap_info));
    return 1;
}

HIDDEN chunk_t *sysmalloc(arena_t *a, size_t nb)
{
    chunk_t *c, *old = NULL;
    int big = nb >= __atomic_load_n(&mp.mmap_threshold, __ATOMIC_RELAXED);
    if (big && (c = mmap_chunk(nb)))
        return c;
    if (!(a == &main_arena ? grow_main(a, nb, &old) : grow_thread_arena(a, nb, &old))) {
        c = big ? NULL : mmap_chunk(nb); /* the last resort: a mapping of its own */
        if (!c)
            errno = ENOMEM;
        return c;
    }
    c = split_top(a, nb);
    if (old) /* freed only now: freeing may trim the new top */
        free_locked(a, old);
    return c;
}

/* Gives back what a top larger than trim_threshold holds beyond top_pad: sbrk(-n) for the
 * main arena (if the break is still its own), madvise for a thread heap. */
HIDDEN void trim_top(arena_t *a)
{
    size_t size = chunksize(a->top);
    if (size < __atomic_load_n(&mp.trim_threshold, __ATOMIC_RELAXED) ||
        size <= mp.top_pad + MINSIZE)
        return;
    size_t extra = (size - mp.top_pad - MINSIZE) & ~(mp.page - 1);
    char *end = (char *)a->top + size;
    if (extra == 0)
        return;
    if (a == &main_arena) {
        if (!a->contiguous || sbrk(0) != end || sbrk(-(intptr_t)extra) == (void *)-1)
            return;
    } else {
        heap_info *h = heap_for_ptr(a->top);
        if (madvise(end - extra, extra, MADV_DONTNEED) != 0)
            return;
        h->size -= extra;
    }
    lab_os_account(-(long)extra);
    a->top->size -= extra;
}

/* ---- which arena a thread uses -------------------------------------------------------------- */

static arena_t *new_arena(void)
{
    size_t hdr = lab_align_up(sizeof(heap_info) + sizeof(arena_t), LAB_ALIGN);
    heap_info *h = new_heap(hdr + MINSIZE + mp.top_pad);
    if (!h)
        return NULL;
    arena_t *a = (arena_t *)(h + 1); /* fresh pages: every field is zero */
    pthread_mutex_init(&a->lock, NULL);
    init_bins(a);
    h->ar = a;
    new_top(a, (char *)h + hdr, h->size - hdr);
    a->next = main_arena.next;
    main_arena.next = a;
    narenas++;
    return a;
}

static arena_t *reuse_arena(void)
{
    reuse_next = reuse_next && reuse_next->next ? reuse_next->next : &main_arena;
    return reuse_next;
}

HIDDEN arena_t *arena_get(void)
{
    arena_t *a = thread_arena;
    if (lab_likely(a != NULL))
        return a;
    pthread_mutex_lock(&list_lock);
    if (!ready)
        first_use();
    if ((a = free_arenas) != NULL)
        free_arenas = a->next_free;
    else if (narenas >= arena_limit || !(a = new_arena()))
        a = reuse_arena();
    a->attached++;
    pthread_mutex_unlock(&list_lock);
    thread_arena = a;
    return a;
}

HIDDEN void arena_detach(void)
{
    arena_t *a = thread_arena;
    if (!a)
        return;
    thread_arena = NULL;
    pthread_mutex_lock(&list_lock);
    if (--a->attached == 0) {
        a->next_free = free_arenas;
        free_arenas = a;
    }
    pthread_mutex_unlock(&list_lock);
}

/* ---- fork ---------------------------------------------------------------------------------- */

static void lock_all(void)
{
    pthread_mutex_lock(&list_lock);
    for (arena_t *a = &main_arena; a; a = a->next)
        pthread_mutex_lock(&a->lock);
}

static void unlock_all(void)
{
    for (arena_t *a = &main_arena; a; a = a->next)
        pthread_mutex_unlock(&a->lock);
    pthread_mutex_unlock(&list_lock);
}

/* The child's only thread keeps its arena; every other arena is free for its future threads. */
static void reset_all(void)
{
    pthread_mutex_init(&list_lock, NULL);
    free_arenas = NULL;
    for (arena_t *a = &main_arena; a; a = a->next) {
        pthread_mutex_init(&a->lock, NULL);
        a->attached = a == thread_arena;
        if (ready && a != thread_arena) {
            a->next_free = free_arenas;
            free_arenas = a;
        }
    }
}

HIDDEN void arena_fork_setup(void)
{
    lab_atfork(lock_all, unlock_all, reset_all);
}
