/* Thread heaps: made on a thread's first allocation, handed on when it exits. A heap is never
 * freed: an exited thread's heap becomes an orphan (its pages keep their owner pointer, so
 * remote frees into them stay correct) and the next new thread adopts it whole, its memory still
 * resident. Until then, any thread's purge tick or malloc_trim sweeps the orphans under the
 * orphan lock, purging what they hold free. */
#include "internal.h"

#include <pthread.h>
#include <sys/mman.h>

#define POOL_CHUNK (64 * 1024)

static lock_t pool_lock;            /* registry and the chunk heaps are carved from */
static heap_t *registry;
static char *pool_next, *pool_end;

static lock_t orphan_lock;
static heap_t *orphans;

static pthread_key_t thread_key;
static _Atomic int atfork_done;

heap_t *heap_registry(void) {
    return __atomic_load_n(&registry, __ATOMIC_ACQUIRE);
}

static void heap_reset(heap_t *h) {
    memset(h, 0, sizeof *h);
    for (unsigned i = 0; i < DIRECT_N; i++) h->direct[i] = &brisk_empty_page;
}

static heap_t *heap_alloc(void) {
    heap_t *h = NULL;
    lock_acquire(&pool_lock);
    size_t sz = align_up(sizeof(heap_t), 64);
    if (pool_next == NULL || pool_next + sz > pool_end) {
        void *chunk = os_map_any(POOL_CHUNK);
        if (chunk == NULL) {
            lock_release(&pool_lock);
            return NULL;
        }
        pool_next = chunk;
        pool_end = pool_next + POOL_CHUNK;
    }
    h = (heap_t *)pool_next;
    pool_next += sz;
    heap_reset(h);
    /* the purge clock starts here, not at each adoption: reset there, a pool of threads living
     * shorter than the purge delay never purged (tests/purge_rss.c pool) */
    h->last_tick_ms = os_now_ms();
    h->all_next = registry;
    __atomic_store_n(&registry, h, __ATOMIC_RELEASE);
    lock_release(&pool_lock);
    atomic_fetch_add_explicit(&brisk_cnt.heaps_created, 1, memory_order_relaxed);
    return h;
}

static void on_fork_child(void) {
    /* The child has one thread, this one. Locks another thread held at the fork are reset; the
     * lists they guard are changed one pointer at a time, so they are whole. Other threads' heaps
     * stay owned by threads that do not exist here: a leak in the child, never corruption. */
    atomic_store_explicit(&pool_lock.v, 0, memory_order_relaxed);
    /* A thread that held the orphan lock was sweeping (or adopting, or adding) an orphan: that
     * heap may be half-collected here, a page between two lists. No thread of the child can
     * own those heaps, so the child leaves every orphan alone: a leak, never a heap collected
     * twice. */
    if (atomic_load_explicit(&orphan_lock.v, memory_order_relaxed) != 0) STORE_RELAXED(orphans, NULL);
    atomic_store_explicit(&orphan_lock.v, 0, memory_order_relaxed);
    atomic_store_explicit(&brisk_unmap_lock.v, 0, memory_order_relaxed);
    segment_fork_child();
    large_fork_child();
    trace_fork_child();
    secure_fork_child();
}

/* pthread_atfork may allocate, so it runs once a heap exists and malloc works. No prepare
 * handler: brisk holds no lock across fork (a lock taken there deadlocks against glibc's stdio
 * locks, glibc bug 19431). */
void heap_register_atfork(void) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&atfork_done, &expected, 1)) pthread_atfork(NULL, NULL, on_fork_child);
}

heap_t *heap_init_thread(void) {
    brisk_global_init();
    heap_t *h = NULL;
    if (__atomic_load_n(&orphans, __ATOMIC_RELAXED)) {
        lock_acquire(&orphan_lock);
        h = orphans;
        if (h) STORE_RELAXED(orphans, h->orphan_next);
        lock_release(&orphan_lock);
        if (h) atomic_fetch_add_explicit(&brisk_cnt.heaps_reclaimed, 1, memory_order_relaxed);
    }
    if (h == NULL) h = heap_alloc();
    if (h == NULL) return NULL;
    h->orphan_next = NULL;
    h->state = HEAP_OWNED;
    brisk_tls_heap = h;
    /* may allocate (keys past the first 32): fine, this thread's heap is set */
    pthread_setspecific(thread_key, h);
    heap_register_atfork();
    return h;
}

/* The thread-exit destructor. Frees that other destructors make after this one find the
 * thread on the empty heap: they take the remote path, which is correct for any page. */
void heap_thread_done(void *arg) {
    heap_t *h = arg;
    if (h == NULL || h->state != HEAP_OWNED) return;
    trace_thread_exit();
    if (brisk_opt.secure) secure_heap_done(h);   /* while h is the thread's: local frees */
    brisk_tls_heap = &brisk_empty_heap;
    /* Warm for the thread that adopts it: its pages, free slots and extents stay as they are
     * (a pool's next thread reuses them without a page fault); its free slots count as free
     * before a tick, so fresh memory sheds them, and an orphan nobody adopts is collected whole
     * and purged at the next purge tick of any thread (heap_sweep_orphans). */
    heap_collect(h, 0);
    segment_age(h);
    heap_snapshot(h);
    lock_acquire(&orphan_lock);
    h->state = HEAP_ORPHAN;
    h->orphan_next = orphans;
    STORE_RELAXED(orphans, h);
    lock_release(&orphan_lock);
}

int heap_sweep_orphans(void) {
    int released = 0;
    size_t before = atomic_load_explicit(&brisk_cnt.purged, memory_order_relaxed);
    if (!__atomic_load_n(&orphans, __ATOMIC_RELAXED) || !lock_try(&orphan_lock)) return 0;
    for (heap_t *h = orphans; h; h = h->orphan_next) {
        heap_collect(h, 1);
        heap_snapshot(h);
    }
    lock_release(&orphan_lock);
    released = atomic_load_explicit(&brisk_cnt.purged, memory_order_relaxed) != before;
    return released;
}

/* Called once from brisk_global_init (pthread_key_create does not allocate). */
void heap_global_init(void) { pthread_key_create(&thread_key, heap_thread_done); }
