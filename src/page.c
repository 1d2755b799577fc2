/* Pages: the slow half of malloc and free. Everything here runs on the owning thread (or, for an
 * orphaned heap, under the orphan lock), except free_remote, which any thread may run and which
 * touches only the page's thread_free word (page_tf) and the owner's delayed list, both
 * atomically. */
#include "internal.h"

#include <errno.h>

/* ---- class queues and the direct table ---- */

static void direct_update(heap_t *h, unsigned cls) {
    if (class_size(cls) > MAX_SMALL) return;
    page_t *pg = h->queues[cls].first && !brisk_fast_off ? h->queues[cls].first : &brisk_empty_page;
    unsigned lo = cls == 0 ? 0 : class_size(cls - 1) / ALIGNMENT + 1;
    unsigned hi = class_size(cls) / ALIGNMENT;
    for (unsigned i = lo; i <= hi; i++) h->direct[i] = pg;
}

static void pq_remove(pageq_t *q, page_t *pg) {
    if (pg->prev) pg->prev->next = pg->next;
    else q->first = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    else q->last = pg->prev;
    pg->next = pg->prev = NULL;
}

static void pq_push_front(pageq_t *q, page_t *pg) {
    pg->prev = NULL;
    pg->next = q->first;
    if (q->first) q->first->prev = pg;
    else q->last = pg;
    q->first = pg;
}

static void pq_push_back(pageq_t *q, page_t *pg) {
    pg->next = NULL;
    pg->prev = q->last;
    if (q->last) q->last->next = pg;
    else q->first = pg;
    q->last = pg;
}

/* The first page of a class queue is the class's current page. It carries one extra count in
 * `used` (see page_t.cur); these two keep that true whenever the first page changes. */
static void cur_drop(page_t *pg) {
    if (pg && pg->cur) {
        pg->cur = 0;
        pg->used--;
    }
}

static void cur_take(heap_t *h, unsigned cls) {
    page_t *f = h->queues[cls].first;
    if (f && !f->cur) {
        f->cur = 1;
        f->used++;
    }
    direct_update(h, cls);
}

static void queue_remove(heap_t *h, page_t *pg) {
    pageq_t *q = &h->queues[pg->cls];
    if (q->first != pg) {
        pq_remove(q, pg);
        return;
    }
    cur_drop(pg);
    pq_remove(q, pg);
    cur_take(h, pg->cls);
}

static void queue_push_first(heap_t *h, page_t *pg) {
    pageq_t *q = &h->queues[pg->cls];
    cur_drop(q->first);
    pq_push_front(q, pg);
    cur_take(h, pg->cls);
}

static void queue_make_first(heap_t *h, page_t *pg) {
    pageq_t *q = &h->queues[pg->cls];
    if (q->first == pg) return;
    pq_remove(q, pg);
    queue_push_first(h, pg);
}

/* ---- carving and collecting ---- */

/* n more blocks carved: the bounds free's checks read (limit for the slow paths, blim for the
 * fast one) follow. */
static void page_carved(page_t *pg, uint32_t n) {
    pg->capacity += n;
    STORE_RELAXED(pg->limit, (uintptr_t)pg->capacity * pg->bsize);
    STORE_RELAXED(pg->blim, make_blim(pg, pg->capacity));
}

/* Carves up to 4 KiB of never-used memory into blocks, so a page touches its memory as it is
 * used (RSS follows use), not all at once. */
static void page_extend(page_t *pg) {
    uint32_t n = 4096 / pg->bsize;
    if (n == 0) n = 1;
    if (n > pg->reserved - pg->capacity) n = pg->reserved - pg->capacity;
    if (n == 0) return;
    uintptr_t first = pg->start + (uintptr_t)pg->capacity * pg->bsize;
    if (unlikely(brisk_opt.secure)) {
        secure_shuffle(pg, first, n);
        page_carved(pg, n);
        return;
    }
    /* carved blocks are free blocks: the free mark too, so freeing one that was never handed
     * out is seen as a double free (tests/misuse: just past a block) */
    uintptr_t b = first;
    for (uint32_t i = 1; i < n; i++, b += pg->bsize) {
        link_set((block_t *)b, (block_t *)(b + pg->bsize));
        ((block_t *)b)->key = brisk_secret;
    }
    link_set((block_t *)b, pg->free);
    ((block_t *)b)->key = brisk_secret;
    pg->free = (block_t *)first;
    page_carved(pg, n);
}

/* Takes the blocks other threads freed into pg; returns how many. The list's links are checked
 * as malloc pops them (as every link of `free` is); a walk is needed only to join it in front
 * of blocks `free` still holds. */
static uint32_t page_collect_remote(page_t *pg) {
    uintptr_t tf = atomic_load_explicit(page_tf(pg), memory_order_relaxed);
    if (TF_PTR(tf) == 0) return 0;
    /* Blocks are only pushed while TF_FULL is clear, and only the owner sets it. */
    tf = atomic_exchange_explicit(page_tf(pg), 0, memory_order_acquire);
    block_t *list = (block_t *)TF_PTR(tf);
    uint32_t n = (uint32_t)(tf >> TF_COUNT_SHIFT);
    if (unlikely(n == 0 || n > pg->used))
        brisk_fatal("free", "heap corrupted: bad count of other threads' frees in page", pg);
    if (pg->free != NULL) {
        block_t *tail = list;
        uint32_t k = 1;
        for (block_t *next; (next = link_get(tail)) != NULL; tail = next) {
            if (unlikely(++k > n || !in_page(pg, next)))
                brisk_fatal("free", "heap corrupted: bad link in the free list of page", pg);
        }
        link_set(tail, pg->free);
    }
    pg->free = list;
    pg->used -= n;
    pg->fresh = 0;
    return n;
}

/* The owner's own frees become what malloc pops (pg->free is empty). */
static inline void page_take_local(page_t *pg) {
    pg->free = pg->local_free;
    pg->local_free = NULL;
    pg->fresh = 0;
}

/* `free` is empty: other threads' frees become what malloc pops, or else the owner's own.
 * One list at a time, so neither is walked to join them; the other waits for the next time. */
static void page_collect(page_t *pg) {
    if (page_collect_remote(pg) == 0 && pg->local_free != NULL) page_take_local(pg);
}

/* Secure mode: a guard page before a span's first block (slot 0: the segment header's last
 * page, which the header never reaches) and one after its last, none between. Guards stay when
 * a span is retired; a new span changes only the pages whose state differs, so slots reused
 * for the same shape of span cost no mprotect. */
static void guard_set(uint64_t *mask, unsigned k, int want, uintptr_t page) {
    if ((int)((*mask >> k) & 1) == want) return;
    os_guard((void *)page, os_page_size(), want);
    *mask ^= (uint64_t)1 << k;
}

static void span_guards(page_t *pg) {
    size_t ps = os_page_size();
    segment_t *s = segment_of(pg->start);
    unsigned first = pg->slot, last = pg->slot + pg->nslots - 1;
    for (unsigned k = first; k <= last; k++) {
        uintptr_t slot = (uintptr_t)s + (uintptr_t)k * SLOT_SIZE;
        if (k > 0) guard_set(&s->guard_lead, k, k == first, slot);
        else if (ps <= SEG_HDR - sizeof(segment_t)) guard_set(&s->guard_lead, 0, 1, slot + SEG_HDR - ps);
        guard_set(&s->guard_tail, k, k == last, slot + SLOT_SIZE - ps);
    }
}

static void page_retire(heap_t *h, page_t *pg) {
    queue_remove(h, pg);
    h->class_allocs[pg->cls] += pg->nalloc;
    pg->nalloc = 0;
    STORE_RELAXED(pg->heap, NULL);
    pg->owner = NULL;
    pg->free = pg->local_free = NULL;
    if (pg->lent) extent_take_back(h, pg);
    else segment_free_span(h, pg, 0);
}

/* Moves a page with no free block to the full list, unless a remote free beat us to it. */
static int page_to_full(heap_t *h, page_t *pg) {
    uintptr_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(page_tf(pg), &expected, TF_FULL,
                                                 memory_order_acq_rel, memory_order_relaxed))
        return 0;
    queue_remove(h, pg);
    pq_push_back(&h->full, pg);
    pg->in_full = 1;
    STORE_RELAXED(pg->heap, NULL);
    return 1;
}

static void page_unfull(heap_t *h, page_t *pg) {
    pq_remove(&h->full, pg);
    pg->in_full = 0;
    STORE_RELAXED(pg->heap, fast_heap(h));
    atomic_fetch_and_explicit(page_tf(pg), ~TF_FULL, memory_order_acq_rel);
    pageq_t *q = &h->queues[pg->cls];
    pq_push_back(q, pg);
    if (q->first == pg) cur_take(h, pg->cls);
}

/* After a local free left pg empty or freed into a full page. An empty page goes back to its
 * segment; the current page never comes here empty (its extra count), so a loop that frees its
 * only block and allocates again stays on the fast path. */
void page_after_local_free(heap_t *h, page_t *pg) {
    if (pg->in_full) page_unfull(h, pg);
    if (pg->used == 0) {
        page_retire(h, pg);
        heap_tick(h, 0);   /* not inside page_retire: callers walking a queue must not see it change */
    }
}

static page_t *page_new(heap_t *h, unsigned cls) {
    int fresh = 0;
    unsigned nslots = class_slots(cls);
    page_t *pg = segment_alloc_span(h, nslots, nslots, &fresh, 1);
    if (pg == NULL) return NULL;
    uintptr_t seg = (uintptr_t)segment_of((uintptr_t)pg);
    uintptr_t start = seg + (uintptr_t)pg->slot * SLOT_SIZE + (pg->slot == 0 ? SEG_HDR : 0);
    uintptr_t end = seg + (uintptr_t)(pg->slot + nslots) * SLOT_SIZE;
    pg->bsize = class_size(cls);
    pg->cls = (uint8_t)cls;
    if (brisk_opt.secure) {   /* guard pages around the blocks: a run off either end faults */
        size_t ps = os_page_size();
        if (pg->slot != 0) start += ps;   /* slot 0's leading guard is the header's last page */
        end -= ps;
    }
    pg->start = start;
    if (brisk_opt.secure) span_guards(pg);
    pg->reserved = (uint32_t)((end - start) / pg->bsize);
    pg->divc = divc_refusing_null(start, pg->bsize, pg->reserved);
    pg->capacity = 0;
    STORE_RELAXED(pg->limit, 0);
    STORE_RELAXED(pg->blim, 0);
    pg->free = pg->local_free = NULL;
    atomic_store_explicit(page_tf(pg), 0, memory_order_relaxed);
    pg->used = 0;
    pg->in_full = 0;
    pg->has_aligned = 0;
    pg->cur = 0;
    pg->fresh = (uint8_t)(fresh && !brisk_opt.secure);   /* secure mode fills what it carves */
    pg->tail_dirty = (uint8_t)!fresh;
    STORE_RELAXED(pg->heap, fast_heap(h));
    pg->owner = h;
    page_extend(pg);
    queue_push_first(h, pg);
    return pg;
}

/* Pops `free`'s head, which the caller knows to be one of pg's blocks. */
static inline void *page_pop_known(page_t *pg) {
    block_t *b = pg->free;
    pg->free = link_get(b);
    __builtin_prefetch(pg->free, 1);   /* see brisk_malloc */
    pg->used++;
    b->key = 0;
    pg->nalloc++;
    return b;
}

/* Pops `free`'s head after checking it: it may be a link decoded from freed memory. */
static inline void *page_pop(page_t *pg) {
    if (unlikely(!in_page(pg, pg->free)))
        brisk_fatal("malloc", "heap corrupted: bad link in a free list (a write after free?)", pg->free);
    return page_pop_known(pg);
}

/* Finds a page of class cls with a free block: the queue in order, collecting each page's
 * freed blocks; pages with nothing left to carve go to the full list (so each is passed over
 * once). Only when no page has a freed block is never-used memory carved (in the first page
 * with some left), and at the end a new page made: carving in the current page while another
 * holds free blocks would touch fresh memory, and every page of a class with a few pages would
 * end wholly carved, its RSS the pages' size instead of the class's high-water mark. */
static NOINLINE void *malloc_refill(heap_t *h, unsigned cls) {
    if (unlikely(h->state != HEAP_OWNED)) {
        h = heap_init_thread();
        if (h == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        page_t *pg = h->queues[cls].first;
        if (pg && pg->free) return page_pop(pg);
    }
    if (atomic_load_explicit(&h->delayed, memory_order_relaxed)) heap_process_delayed(h);
    if ((++h->slow_calls & 31) == 0) heap_tick(h, 0);
    if (unlikely(atomic_load_explicit(&brisk_heapdump_pending, memory_order_relaxed))) heapdump_poll();

    pageq_t *q = &h->queues[cls];
    page_t *pg, *next;
    for (pg = q->first; pg; pg = next) {
        next = pg->next;
        if (pg->free == NULL) page_collect(pg);
        if (pg->free == NULL && pg->capacity == pg->reserved && page_to_full(h, pg)) continue;
        if (pg->free == NULL) page_collect_remote(pg);   /* lost the race to a remote free */
        if (pg->free) {
            queue_make_first(h, pg);
            return page_pop(pg);
        }
    }
    /* every page left in the queue has memory to carve */
    for (pg = q->first; pg; pg = pg->next) {
        page_extend(pg);
        if (pg->free) {
            queue_make_first(h, pg);
            return page_pop(pg);
        }
    }
    pg = page_new(h, cls);
    if (pg == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return page_pop(pg);
}

/* malloc's fast path found the current page of a size <= MAX_SMALL dry (pg from the direct
 * table). Most such calls in a steady program only need the page's local frees moved to `free`:
 * done here without malloc_refill's housekeeping, which still runs on every 32nd call (the
 * purge tick must keep coming in a loop that never needs a new page), and whenever anything
 * else is pending (delayed frees, a heap dump). Other threads' frees into this page wait for
 * the 32nd call or for the local frees to run out: the thread_free word is a line the freeing
 * core keeps writing, and reading it here missed at each call (larson on 2 CPUs, perf: 86% of
 * this function's samples on that load, 10% of the run; 21 interleaved runs 0.19 -> 0.17 s).
 * The empty page of a heap not set up yet, or of the tracing and secure modes, has no local
 * frees, so those go on as before. */
void *malloc_small_dry(heap_t *h, page_t *pg, size_t n) {
    if (pg->free == NULL && pg->local_free != NULL && slow_call_quiet(h)) {
        /* the head of local_free is a block that free checked and stored here itself, not a
         * link read from freed memory: no bounds check (its link is checked by the next pop) */
        page_take_local(pg);
        return page_pop_known(pg);
    }
    return malloc_generic(h, n);
}

void *malloc_generic(heap_t *h, size_t n) {
    /* options first: the first call of all decides nothing before they are read */
    if (unlikely(h->state != HEAP_OWNED)) brisk_global_init();
    if (unlikely(brisk_trace_on)) return trace_malloc(h, n);
    return malloc_core(h, n);
}

void *malloc_core(heap_t *h, size_t n) {
    if (unlikely(brisk_opt.secure)) return secure_malloc(h, n);
    return malloc_core_plain(h, n);
}

static inline void *class_alloc(heap_t *h, size_t n) {
    unsigned cls = size_class(n);
    page_t *pg = h->queues[cls].first;
    if (likely(pg != NULL && pg->free != NULL)) return page_pop(pg);
    return malloc_refill(h, cls);
}

void *malloc_core_plain(heap_t *h, size_t n) {
    if (likely(n <= brisk_opt.large_min)) {   /* MAX_MEDIUM unless mallopt(M_MMAP_THRESHOLD) */
        if (unlikely(n > brisk_opt.extent_min)) return extent_malloc(h, n, 0);
        return class_alloc(h, n);
    }
    if (unlikely(h->state != HEAP_OWNED)) brisk_global_init();
    return large_alloc(n, 0, 0);
}

/* A block of n <= large_min from the size classes, whatever extent_min says: aligned requests
 * rely on the alignment of class blocks. */
void *malloc_class(heap_t *h, size_t n) { return class_alloc(h, n); }

/* ---- frees from other threads ---- */

/* A free of this thread's block off the fast path (free_slow, a full page, delayed frees). */
void free_local(heap_t *h, page_t *pg, block_t *b) {
    link_set(b, pg->local_free);
    b->key = brisk_secret;
    pg->local_free = b;
    if (--pg->used == 0 || pg->in_full) page_after_local_free(h, pg);
}

static void free_other(page_t *pg, block_t *b) {
    if (unlikely(brisk_opt.secure)) secure_free(pg, b);
    else free_other_now(pg, b);
}

/* What free's fast path does not take: another thread's block, or one of a full page (or any
 * block, while tracing). */
void free_remote(page_t *pg, block_t *b) {
    if (unlikely(brisk_trace_on)) {
        if (trace_begin()) trace_record(TRACE_FREE, 0, b, 0);
        free_other(pg, b);
        trace_leave();
        return;
    }
    free_other(pg, b);
}

void free_other_now(page_t *pg, block_t *b) {
    heap_t *me = brisk_tls_heap;
    if (pg->owner == me) {
        free_local(me, pg, b);
        return;
    }
    if (me->state == HEAP_OWNED) STORE_RELAXED(me->remote_frees, me->remote_frees + 1);
    /* One free of two racing on this block wins; the other would push it twice, and the owner
     * no longer walks the list (page_collect_remote), so the mark is set atomically. */
    if (unlikely(__atomic_exchange_n(&b->key, brisk_secret, __ATOMIC_RELAXED) == brisk_secret))
        brisk_fatal("free", "double free", b);
    uintptr_t tf = atomic_load_explicit(page_tf(pg), memory_order_relaxed);
    for (;;) {
        if (tf & TF_FULL) {
            /* The owner does not look at full pages; tell it through its heap. The page cannot
             * go away meanwhile: b is still counted as used. */
            heap_t *h = pg->owner;
            block_t *d = atomic_load_explicit(&h->delayed, memory_order_relaxed);
            do link_set(b, d);
            while (!atomic_compare_exchange_weak_explicit(&h->delayed, &d, b, memory_order_release,
                                                          memory_order_relaxed));
            return;
        }
        link_set(b, (block_t *)TF_PTR(tf));
        uintptr_t count = (tf >> TF_COUNT_SHIFT) + 1;
        if (atomic_compare_exchange_weak_explicit(page_tf(pg), &tf, (uintptr_t)b | count << TF_COUNT_SHIFT,
                                                  memory_order_release, memory_order_relaxed))
            return;
    }
}

void heap_process_delayed(heap_t *h) {
    block_t *b = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
    while (b) {
        block_t *next = link_get(b);
        page_t *pg = page_of((uintptr_t)b);
        if (pg->cls == EXT_CLS) extent_free_local(h, pg, (uintptr_t)b, "free");
        else free_local(h, pg, b);
        b = next;
    }
}

/* ---- housekeeping: trim, thread exit, the purge tick ---- */

/* A page made on slots that another span had used leaves what that span touched past its own
 * carving resident: a 16-byte class on a slot that held 1 KiB blocks carves 4 KiB of 64. That
 * memory is in no free list, so neither the slot purge nor purge_free_blocks sees it; the
 * timed tick (and malloc_trim) purges it, once for each page that lived through a tick. At the
 * page's creation instead, it cost a madvise for every page made (frag 0.81 -> 1.53 s,
 * random-small 0.28 -> 0.64 s): most pages live shorter than a tick. The slots stay committed
 * in the statistics, which count whole slots. */
static void purge_tails(heap_t *h) {
    size_t ps = os_page_size(), total = 0;
    for (unsigned cls = 0; cls < NCLASSES; cls++)
        for (page_t *pg = h->queues[cls].first; pg; pg = pg->next) {
            if (!pg->tail_dirty) continue;
            pg->tail_dirty = 0;
            uintptr_t lo = align_up(pg->start + pg->limit, ps);
            /* up to the OS page holding the last block's end: the uncarved blocks and the
             * span's last bytes, never secure mode's guard page (the blocks end before it) */
            uintptr_t hi = align_up(pg->start + (uintptr_t)pg->reserved * pg->bsize, ps);
            if (hi > lo) {
                os_purge((void *)lo, hi - lo);
                total += hi - lo;
            }
        }
    if (total) atomic_fetch_add_explicit(&brisk_cnt.purged, total, memory_order_relaxed);
}

/* Collects every page's remote frees and gives back empty pages (thread exit); with `all`, also
 * the current pages, the pages' unused tails and every free slot at once (malloc_trim, the
 * sweep of orphaned heaps). */
void heap_collect(heap_t *h, int all) {
    heap_process_delayed(h);
    for (unsigned cls = 0; cls < NCLASSES; cls++) {
        page_t *pg, *next;
        for (pg = h->queues[cls].first; pg; pg = next) {
            next = pg->next;
            page_collect_remote(pg);
            if (page_live(pg) == 0 && (all || !pg->cur)) page_retire(h, pg);
        }
    }
    if (all) {
        purge_tails(h);
        extent_tick(h, EXT_ALL);
        segment_purge(h, 1);
    }
}

/* Blocks handed out and live blocks per class, by walking the heap's pages (owner only). */
void heap_class_totals(heap_t *h, uint64_t allocs[NCLASSES], uint64_t live[NCLASSES]) {
    for (unsigned cls = 0; cls < NCLASSES; cls++) {
        allocs[cls] = h->class_allocs[cls];
        live[cls] = 0;
        for (page_t *pg = h->queues[cls].first; pg; pg = pg->next) {
            allocs[cls] += pg->nalloc;
            live[cls] += page_live(pg);
        }
    }
    for (page_t *pg = h->full.first; pg; pg = pg->next) {
        allocs[pg->cls] += pg->nalloc;
        live[pg->cls] += page_live(pg);
    }
    extent_totals(h, allocs, live);   /* counted by their usable size */
}

static _Atomic uint64_t last_global_tick;


/* Big blocks freed inside a page that stays in use would hold their memory as long as the page
 * lives (a few live blocks keep a page of eight 32 KiB blocks). At each tick the whole OS pages
 * inside each free big block, past the first (which holds the free-list link), are purged,
 * once: a mark in the block's third word says so. A wrong mark (user data that happens to equal
 * it) only costs a purge, never correctness. */
#define PURGE_BLOCK_MIN (16 * 1024)
#define PURGED_SALT     ((uintptr_t)0x7075726765)

static size_t purge_free_list(page_t *pg, block_t *b) {
    size_t ps = os_page_size(), total = 0;
    uint32_t steps = 0;
    while (b && in_page(pg, b) && steps++ < pg->capacity) {
        uintptr_t *mark = (uintptr_t *)b + 2;
        uintptr_t want = (uintptr_t)b ^ brisk_secret ^ PURGED_SALT;
        if (*mark != want) {
            uintptr_t lo = align_up((uintptr_t)b + 3 * sizeof(uintptr_t), ps);
            uintptr_t hi = ((uintptr_t)b + pg->bsize) & ~(uintptr_t)(ps - 1);
            if (hi > lo) {
                os_purge((void *)lo, hi - lo);
                total += hi - lo;
            }
            *mark = want;
        }
        b = link_get(b);
    }
    return total;
}

static void purge_free_blocks(heap_t *h) {
    if (brisk_opt.secure) return;   /* its fill must survive, and is checked */
    size_t total = 0;
    for (unsigned cls = size_class(PURGE_BLOCK_MIN); cls < NCLASSES; cls++)
        for (page_t *pg = h->queues[cls].first; pg; pg = pg->next)
            if (!pg->fresh) total += purge_free_list(pg, pg->free) + purge_free_list(pg, pg->local_free);
    if (total) atomic_fetch_add_explicit(&brisk_cnt.purged, total, memory_order_relaxed);
}

/* What other threads' statistics read of this heap: its totals now. */
void heap_snapshot(heap_t *h) {
    uint64_t a[NCLASSES], l[NCLASSES];
    size_t bytes = 0;
    heap_class_totals(h, a, l);
    for (unsigned c = 0; c < NCLASSES; c++) {
        __atomic_store_n(&h->snap_allocs[c], a[c], __ATOMIC_RELAXED);
        __atomic_store_n(&h->snap_live[c], l[c], __ATOMIC_RELAXED);
        bytes += (size_t)l[c] * class_size(c);
    }
    __atomic_store_n(&h->live_snapshot, bytes, __ATOMIC_RELAXED);
    stats_note_live();
}

/* Runs on this heap's slow paths. Every purge_delay/2: current pages left empty since the last
 * tick go back to their segments, and slots free since the tick before are purged, so a freed
 * page leaves RSS within purge_delay of continued activity. In between, slots free across a
 * tick give way as the heap takes fresh memory (segment_fresh_used). */
void heap_tick(heap_t *h, int force) {
    uint64_t now = os_now_ms();
    uint64_t period = brisk_opt.purge_delay_ms / 2;
    /* a tick every half purge delay, and one by volume each time TICK_FREED_BYTES of pages have
     * been freed (8 MiB, or mallopt's M_TRIM_THRESHOLD): a program that churns through memory
     * faster than the delay would otherwise hold all it freed meanwhile; what it freed before
     * such a tick is what fresh memory sheds */
    int timed = force || now - h->last_tick_ms >= period;
    if (!timed && h->freed_since_tick < brisk_opt.tick_freed_bytes) return;
    if (timed) h->last_tick_ms = now;   /* ticks by volume do not put the timed one off */
    h->freed_since_tick = 0;
    for (unsigned cls = 0; cls < NCLASSES; cls++) {
        page_t *pg = h->queues[cls].first;
        if (pg && page_live(pg) == 0) page_retire(h, pg);
    }
    /* Free slots are purged by time; by volume they only age: those free before it give way
     * once the heap takes fresh memory (segment_fresh_used), and a phase that reuses them
     * costs no refault. M_TRIM_THRESHOLD 0 asks for them to go at once. */
    if (timed || brisk_opt.tick_freed_bytes == 0) segment_purge(h, brisk_opt.purge_delay_ms == 0);
    else segment_age(h);
    if (timed) {   /* by time only: blocks freed in a churn come back soon */
        purge_free_blocks(h);
        purge_tails(h);
        extent_tick(h, EXT_TIMED);
    }
    heap_snapshot(h);
    /* process-wide work, by whichever thread comes first in each period */
    uint64_t last = atomic_load_explicit(&last_global_tick, memory_order_relaxed);
    if (now - last >= period &&
        atomic_compare_exchange_strong_explicit(&last_global_tick, &last, now, memory_order_relaxed,
                                                memory_order_relaxed)) {
        large_cache_flush(0);
        heap_sweep_orphans();
    }
}

/* Is b already free in pg? Walks the page's lists with every link checked to lie on a block
 * boundary inside the page, so a list another thread is changing cannot lead us astray. */
static int list_has(page_t *pg, block_t *list, block_t *b) {
    uint32_t steps = 0;
    while (list && steps++ <= pg->capacity) {
        if (list == b) return 1;
        uintptr_t off = (uintptr_t)list - pg->start;
        if (off >= LOAD_RELAXED(pg->limit) || !in_blocks(pg, off)) return 0;
        list = link_get(list);
    }
    return 0;
}

/* Is b on h's delayed list? Another thread may be draining it meanwhile (its blocks then move
 * to local lists, whose links are as good): every link is checked to be a block of brisk's
 * before it is read through, and the walk is bounded. The reads race with the drain on
 * purpose (every value they can see is checked), so ThreadSanitizer does not instrument them. */
__attribute__((no_sanitize("thread")))
static int delayed_has(heap_t *h, block_t *b) {
    block_t *d = atomic_load_explicit(&h->delayed, memory_order_acquire);
    for (unsigned steps = 0; d && steps < (1u << 20); steps++) {
        if (d == b) return 1;
        uintptr_t x = (uintptr_t)d;
        if (map_kind(x) != MAP_SEG) return 0;
        page_t *p = page_of(x);
        if (p->cls == EXT_CLS ? !extent_is_unit(p, x) : !in_page(p, d)) return 0;
        d = link_get(d);
    }
    return 0;
}

int page_contains_free(page_t *pg, block_t *b) {
    if (list_has(pg, pg->free, b) || list_has(pg, pg->local_free, b)) return 1;
    uintptr_t tf = TF_PTR(atomic_load_explicit(page_tf(pg), memory_order_acquire));
    if (list_has(pg, (block_t *)tf, b)) return 1;
    /* a block of a full page freed by another thread waits on the owner's delayed list: a
     * second free, from the owner or from yet another thread, must find it there */
    heap_t *h = LOAD_RELAXED(pg->owner);
    return h != NULL && delayed_has(h, b);
}
