/* The public entry points. The standard names, glibc's internal names and the brisk_ names are
 * aliases of one definition each, all in this one object: a static link that needs any of them
 * gets all of them, so glibc's malloc.o is never pulled in beside brisk. */
#include "internal.h"
#include "brisk.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#define API __attribute__((visibility("default")))

/* ---- the fast paths ----
 * malloc, size <= 1 KiB: a TLS load, the direct-table load, a pop with its link decoded and
 * checked, three stores; no lock and no atomic instruction. Everything else falls into
 * malloc_generic (page.c). */
API void *brisk_malloc(size_t n) {
    heap_t *h = brisk_tls_heap;
    if (likely(n <= MAX_SMALL)) {
        page_t *pg = h->direct[(n + 15) >> 4];
        block_t *b = pg->free;
        /* b came from a link decoded from freed memory: it must be one of the page's blocks
         * (else page_pop reports it) before anything is read through it. in_blocks turns NULL
         * away too (see divc_refusing_null). */
        uintptr_t off = (uintptr_t)b - pg->start;
        if (likely(in_blocks(pg, off))) {
            block_t *next = link_get(b);
            pg->free = next;
            /* the next malloc reads next's link: often a line another core wrote (its free) or
             * one long out of cache; its fetch overlaps the caller's work until then (larson on
             * 2 CPUs: 0.26 -> 0.23 s). A prefetch of a bad address does not fault. */
            __builtin_prefetch(next, 1);
            pg->used++;
            b->key = 0;
            pg->nalloc++;
            return b;
        }
        return malloc_small_dry(h, pg, n);
    }
    return malloc_generic(h, n);
}

/* free of a block of this thread: the map byte, the page, a boundary check by multiplication,
 * the double-free tell and a push onto the page's local list. Anything unusual (NULL, large,
 * aligned, possibly double, invalid) goes to free_slow (free.c); another thread's block (one
 * CAS) or a block of a full page (whose `heap` is NULL) to free_remote. */
API void brisk_free(void *p) {
    uintptr_t a = (uintptr_t)p;
    uintptr_t unit = a >> SEG_SHIFT;
    if (likely(unit < MAP_N && LOAD_FAST(brisk_map[unit]) == MAP_SEG)) {
        /* page_of, with the segment from the map's index: one shift where a mask of a takes a
         * move and an and (opaque, or gcc goes back to the mask) */
        uintptr_t seg = unit;
        __asm__("" : "+r"(seg));
        seg <<= SEG_SHIFT;
        __asm__("" : "+r"(seg));
        page_t *pg = page_in(seg, a);
        uintptr_t off = a - pg->start;
        block_t *b = p;
        if (likely(off * pg->divc < LOAD_FAST(pg->blim) && b->key != brisk_secret)) {
            heap_t *h = brisk_tls_heap;
            if (likely(LOAD_FAST(pg->heap) == h)) {
                link_set(b, pg->local_free);
                b->key = brisk_secret;
                pg->local_free = b;
                if (unlikely(--pg->used == 0)) page_after_local_free(h, pg);
                return;
            }
            free_remote(pg, b);
            return;
        }
        /* an extent block (its span's blim is 0): straight to its free, past free_slow's
         * second look at the map (tracing must see every call there) */
        if (pg->cls == EXT_CLS && likely(!brisk_trace_on)) {
            extent_free(pg, a, "free");
            return;
        }
    }
    free_slow(p, "free");
}

/* ---- the rest of the family ---- */

static void *calloc_impl(size_t n, size_t size) {
    size_t total;
    if (unlikely(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    if (total > brisk_opt.large_min) {   /* (mallopt's M_MMAP_THRESHOLD) */
        brisk_global_init();
        return large_alloc(total, 0, 1);
    }
    if (total > brisk_opt.extent_min) {   /* extents know which of their units are zero */
        global_init();   /* the options decide (secure mode turns extents off) */
        if (total > brisk_opt.extent_min) return extent_malloc(brisk_tls_heap, total, 1);
    }
    block_t *b = brisk_malloc(total);
    if (unlikely(b == NULL)) return NULL;
    /* A block of a fresh page is zero but for the free-list link carving wrote into it. (It
     * may be a large block after all: secure mode's canary word, or a mallopt meanwhile.) */
    if (!brisk_opt.secure && map_kind((uintptr_t)b) == MAP_SEG && page_of((uintptr_t)b)->fresh) b->next = NULL;
    else memset(b, 0, total);
    return b;
}

static void *move_block(void *p, size_t old_usable, size_t n) {
    void *q = brisk_malloc(n);
    if (q == NULL) return NULL;   /* errno is ENOMEM; p is untouched */
    memcpy(q, p, old_usable < n ? old_usable : n);
    if (unlikely(brisk_trace_on)) trace_realloc_now(q, n, p);   /* before p can be reused */
    brisk_free(p);
    return q;
}

static void *realloc_impl(void *p, size_t n) {
    if (p == NULL) return brisk_malloc(n);
    if (n > PTRDIFF_MAX) {   /* before any path: no size arithmetic below may overflow */
        errno = ENOMEM;
        return NULL;
    }
    if (n == 0) {   /* glibc: frees and returns NULL */
        if (unlikely(brisk_trace_on)) trace_realloc_now(NULL, 0, p);
        brisk_free(p);
        return NULL;
    }
    uintptr_t a = (uintptr_t)p;
    uint8_t kind = map_kind(a);
    size_t usable;
    if (kind == MAP_SEG) {
        page_t *pg = page_of(a);
        if (pg->cls == EXT_CLS) {
            void *q = extent_realloc(pg, a, n, &usable);
            return q ? q : move_block(p, usable, n);
        }
        block_t *b = live_block_checked(a, &pg, "realloc");
        if (unlikely(brisk_opt.secure)) {
            void *q = secure_realloc_in_place(pg, b, a, n, &usable);
            return q ? q : move_block(p, usable, n);
        }
        usable = pg->bsize - (a - (uintptr_t)b);
        /* in place while it fits and does not waste more than half the block */
        if (n <= usable && (n >= usable / 2 || usable <= 64)) return p;
    } else if (kind == MAP_LARGE_HERE || kind == MAP_LARGE_PREV) {
        if (n > MAX_MEDIUM) {
            void *r = large_realloc(a, kind, n);
            if (r) return r;
        }
        usable = large_usable(a, kind, "realloc");
    } else {
        brisk_fatal("realloc", "invalid pointer", p);
    }
    return move_block(p, usable, n);
}

API void *brisk_reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return brisk_realloc(p, total);
}

/* A class block for an aligned request the extents do not take (extents off, or a block
 * over-allocated to hand out an interior pointer, which extents know nothing of). */
static void *aligned_block(size_t n) {
    if (n > brisk_opt.extent_min && n <= brisk_opt.large_min) return malloc_class(brisk_tls_heap, n);
    return brisk_malloc(n);
}

/* Alignment A (a power of two above 16): a class whose blocks are multiples of A holds aligned
 * blocks already (pages start 8 KiB-aligned or better); otherwise over-allocate and hand out
 * the aligned address inside the block (free finds the block again); past the classes, a large
 * mapping placed at the alignment. */
static void *aligned_impl(size_t A, size_t n) {
    if (A <= ALIGNMENT) return brisk_malloc(n);
    global_init();   /* the options below (secure, large_min) must be read, not defaults */
    if (n > PTRDIFF_MAX - A) {
        errno = ENOMEM;
        return NULL;
    }
    /* Extent blocks start on 4 KiB units and can be carved at any alignment their spans hold:
     * a block as big as asked, where a class block would be a power of two of at least A. */
    if (A <= MAX_MEDIUM && n <= brisk_opt.large_min && brisk_opt.extent_min != SIZE_MAX &&
        (A > 4096 || n > brisk_opt.extent_min))
        return extent_malloc_aligned(brisk_tls_heap, n ? n : 1, A > 4096 ? A : 0);
    /* what a class block may hold: up to the large threshold (mallopt may lower it), less
     * secure mode's canary word, which also moves a request to another class; secure mode's
     * spans start a guard page after their slot, so page-aligned at least */
    size_t extra = brisk_opt.secure ? 8 : 0, page_align = brisk_opt.secure ? 4096 : SEG_HDR;
    size_t max_class = brisk_opt.large_min - extra;
    if (n <= max_class && A <= page_align && (class_size(size_class(n + extra)) & (A - 1)) == 0)
        return aligned_block(n);
    /* n >= 1 keeps the aligned address strictly inside the block: with n == 0 it could be the
     * next block's start, and free would release the neighbour. */
    size_t need = (n ? n : 1) + A - ALIGNMENT;
    /* A power-of-two class of at least A holds aligned blocks too: take it when it is no bigger
     * than the over-allocation (a block of n + A - 16), so the block needs no tag and its free
     * stays on the fast path. (Not in secure mode: its canary follows the size asked for.) */
    if (!brisk_opt.secure && A <= page_align) {
        size_t p2 = n > A ? (size_t)1 << (64 - __builtin_clzl(n - 1)) : A;
        if (p2 <= max_class && (need > max_class || p2 <= class_size(size_class(need))))
            return aligned_block(p2);
    }
    if (need <= max_class) {
        void *b = aligned_block(need);
        if (b == NULL) return NULL;
        uintptr_t p = align_up((uintptr_t)b, A);
        if (p != (uintptr_t)b) {
            STORE_RELAXED(page_of((uintptr_t)b)->has_aligned, 1);
            ((block_t *)b)->next = (block_t *)(p ^ brisk_secret);
            ((block_t *)b)->key = brisk_secret ^ ALIGNED_SALT;
        }
        return (void *)p;
    }
    return large_alloc(n ? n : 1, A, 0);   /* 0 would end the block at its mapping's end */
}

static int posix_memalign_impl(void **memptr, size_t align, size_t size) {
    if (!is_pow2(align) || align < sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = aligned_impl(align, size);
    if (p == NULL) {
        errno = saved;   /* posix_memalign reports through its result only */
        return ENOMEM;
    }
    *memptr = p;
    return 0;
}

static void *aligned_alloc_impl(size_t align, size_t size) {
    if (!is_pow2(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned_impl(align, size);
}

/* glibc's memalign: a non-power-of-two alignment is rounded up to one. */
static void *memalign_impl(size_t align, size_t size) {
    if (align <= ALIGNMENT) return brisk_malloc(size);
    if (align > (SIZE_MAX >> 1) + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(align)) align = (size_t)1 << (64 - __builtin_clzl(align));
    return aligned_impl(align, size);
}

static void *valloc_impl(size_t size) { return aligned_impl(os_page_size(), size); }

static void *pvalloc_impl(size_t size) {
    size_t ps = os_page_size();
    if (size > SIZE_MAX - ps) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = align_up(size ? size : 1, ps);
    return aligned_impl(ps, rounded);
}

/* ---- the traced entry points: the work above, recorded when BRISK_OPTIONS has trace=FILE ---- */
#define TRACED(op, size, arg, call)                                    \
    do {                                                               \
        if (unlikely(brisk_trace_on)) {                                \
            int rec_ = trace_begin();                                  \
            void *r_ = (call);                                         \
            if (rec_) trace_record(op, size, r_, (uintptr_t)(arg));    \
            trace_leave();                                             \
            return r_;                                                 \
        }                                                              \
        return (call);                                                 \
    } while (0)

API void *brisk_calloc(size_t n, size_t size) {
    size_t total = __builtin_mul_overflow(n, size, &total) ? SIZE_MAX : total;
    TRACED(TRACE_CALLOC, total, n, calloc_impl(n, size));
}
/* A realloc that moves (or frees) is recorded by trace_realloc_now, between getting the new
 * block and freeing the old, so no other thread's reuse of the old address can be stamped
 * before it; one that stays in place, here. */
API void *brisk_realloc(void *p, size_t n) {
    if (likely(!brisk_trace_on)) return realloc_impl(p, n);
    int rec = trace_begin();
    void *r = realloc_impl(p, n);
    if (rec && !trace_realloc_recorded()) trace_record(TRACE_REALLOC, n, r, (uintptr_t)p);
    trace_leave();
    return r;
}
API void *brisk_aligned_alloc(size_t align, size_t size) {
    TRACED(TRACE_ALIGNED, size, align, aligned_alloc_impl(align, size));
}
API void *brisk_memalign(size_t align, size_t size) { TRACED(TRACE_ALIGNED, size, align, memalign_impl(align, size)); }
API void *brisk_valloc(size_t size) { TRACED(TRACE_ALIGNED, size, os_page_size(), valloc_impl(size)); }
API void *brisk_pvalloc(size_t size) { TRACED(TRACE_ALIGNED, size, os_page_size(), pvalloc_impl(size)); }

API int brisk_posix_memalign(void **memptr, size_t align, size_t size) {
    if (likely(!brisk_trace_on)) return posix_memalign_impl(memptr, align, size);
    int rec = trace_begin();
    int r = posix_memalign_impl(memptr, align, size);
    if (rec) trace_record(TRACE_ALIGNED, size, r == 0 ? *memptr : NULL, align);
    trace_leave();
    return r;
}

API size_t brisk_malloc_usable_size(void *p) { return usable_size_checked(p, "malloc_usable_size"); }

/* C23: the size is a hint; brisk finds the block from the pointer anyway. */
API void brisk_free_sized(void *p, size_t size) {
    (void)size;
    brisk_free(p);
}

API void brisk_free_aligned_sized(void *p, size_t align, size_t size) {
    (void)align;
    (void)size;
    brisk_free(p);
}

API int brisk_trim(size_t pad) {
    (void)pad;
    if (!atomic_load_explicit(&brisk_ready, memory_order_acquire)) return 0;
    size_t purged = atomic_load_explicit(&brisk_cnt.purged, memory_order_relaxed);
    size_t mapped = atomic_load_explicit(&brisk_cnt.mapped, memory_order_relaxed);
    heap_t *h = brisk_tls_heap;
    if (brisk_opt.secure) secure_trim(h);   /* quarantined blocks hold their pages */
    if (h->state == HEAP_OWNED) heap_collect(h, 1);
    heap_sweep_orphans();
    large_cache_flush(1);
    segment_cache_flush();
    return atomic_load_explicit(&brisk_cnt.purged, memory_order_relaxed) != purged ||
           atomic_load_explicit(&brisk_cnt.mapped, memory_order_relaxed) < mapped;
}

/* ---- glibc's reporting functions (stats.c does the work) ---- */
struct mallinfo2 stats_mallinfo2(void) INTERNAL;
void stats_malloc_stats(void) INTERNAL;
int stats_malloc_info(int options, FILE *fp) INTERNAL;
int stats_mallopt(int param, int value) INTERNAL;

API struct mallinfo2 brisk_mallinfo2(void) { return stats_mallinfo2(); }

API struct mallinfo brisk_mallinfo(void) {
    struct mallinfo2 m2 = stats_mallinfo2();
    struct mallinfo m;
    m.arena = (int)m2.arena;
    m.ordblks = (int)m2.ordblks;
    m.smblks = (int)m2.smblks;
    m.hblks = (int)m2.hblks;
    m.hblkhd = (int)m2.hblkhd;
    m.usmblks = (int)m2.usmblks;
    m.fsmblks = (int)m2.fsmblks;
    m.uordblks = (int)m2.uordblks;
    m.fordblks = (int)m2.fordblks;
    m.keepcost = (int)m2.keepcost;
    return m;
}

API void brisk_malloc_stats(void) { stats_malloc_stats(); }
API int brisk_malloc_info(int options, FILE *fp) { return stats_malloc_info(options, fp); }
API int brisk_mallopt(int param, int value) { return stats_mallopt(param, value); }

/* ---- the names programs call ---- */
#define ALIAS(name, target) extern __typeof(target) name __attribute__((alias(#target), visibility("default")))

ALIAS(malloc, brisk_malloc);
ALIAS(free, brisk_free);
ALIAS(calloc, brisk_calloc);
ALIAS(realloc, brisk_realloc);
ALIAS(reallocarray, brisk_reallocarray);
ALIAS(posix_memalign, brisk_posix_memalign);
ALIAS(aligned_alloc, brisk_aligned_alloc);
ALIAS(memalign, brisk_memalign);
ALIAS(valloc, brisk_valloc);
ALIAS(pvalloc, brisk_pvalloc);
ALIAS(malloc_usable_size, brisk_malloc_usable_size);
ALIAS(malloc_trim, brisk_trim);
ALIAS(mallinfo, brisk_mallinfo);
ALIAS(mallinfo2, brisk_mallinfo2);
ALIAS(malloc_stats, brisk_malloc_stats);
ALIAS(malloc_info, brisk_malloc_info);
ALIAS(mallopt, brisk_mallopt);
ALIAS(free_sized, brisk_free_sized);
ALIAS(free_aligned_sized, brisk_free_aligned_sized);
ALIAS(cfree, brisk_free);
ALIAS(__libc_malloc, brisk_malloc);
ALIAS(__libc_free, brisk_free);
ALIAS(__libc_calloc, brisk_calloc);
ALIAS(__libc_realloc, brisk_realloc);
ALIAS(__libc_memalign, brisk_memalign);
ALIAS(__libc_valloc, brisk_valloc);
ALIAS(__libc_pvalloc, brisk_pvalloc);
ALIAS(__posix_memalign, brisk_posix_memalign);
