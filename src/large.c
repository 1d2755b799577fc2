/* Large blocks (above 256 KiB): one mapping each, aligned to 4 MiB so brisk_map finds the header
 * at the start of the mapping; the block follows it (or, for alignments of 4 MiB and more,
 * starts one unit later). Freed mappings up to 32 MiB wait in a small cache for reuse, so a loop
 * that allocates and frees big blocks does not fault its pages in each time; the cache is
 * unmapped after 4 purge delays (1 s by default) or at malloc_trim. Larger ones leave at once. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#define CACHE_MAX_ENTRIES 16
#define CACHE_MAX_BYTES   ((size_t)128 << 20)
#define CACHE_MAX_BLOCK   ((size_t)64 << 20)

enum { LARGE_LIVE = 0x4c495645, LARGE_FREE = 0x46524545 };

typedef struct large {
    uintptr_t check;        /* block address ^ secret: a pointer is a block only if this matches */
    size_t map_size;
    size_t usable;
    uint32_t offset;        /* block = base + offset */
    uint32_t state;
    uint64_t freed_ms;
    size_t req;             /* secure mode: the size asked for (canary up to the guard page) */
    uint32_t guarded;       /* secure mode: the mapping's last page is a guard page */
} large_t;

_Static_assert(sizeof(large_t) <= LARGE_HDR, "large header must fit before the block");

static lock_t cache_lock;
static large_t *cache[CACHE_MAX_ENTRIES];
static unsigned cache_n;
static size_t cache_bytes;

static void map_mark(uintptr_t base, size_t size, uint32_t offset) {
    uintptr_t u0 = base >> SEG_SHIFT, u1 = (base + size - 1) >> SEG_SHIFT;
    for (uintptr_t u = u0; u <= u1; u++) STORE_RELAXED(brisk_map[u], MAP_LARGE_BODY);
    STORE_RELAXED(brisk_map[u0], MAP_LARGE_HERE);
    if (offset >= SEG_SIZE) STORE_RELAXED(brisk_map[u0 + 1], MAP_LARGE_PREV);
}

static void map_clear(uintptr_t base, size_t size) {
    uintptr_t u0 = base >> SEG_SHIFT, u1 = (base + size - 1) >> SEG_SHIFT;
    for (uintptr_t u = u0; u <= u1; u++) STORE_RELAXED(brisk_map[u], MAP_NONE);
}

static void large_unmap(large_t *l) {
    size_t sz = l->map_size;
    map_clear((uintptr_t)l, sz);
    atomic_fetch_sub_explicit(&brisk_cnt.mapped, sz, memory_order_relaxed);
    counter_add_committed(-(intptr_t)sz);
    atomic_fetch_add_explicit(&brisk_cnt.purged, sz, memory_order_relaxed);
    os_unmap(l, sz);
}

/* Gives back the tail of l's mapping past keep bytes; units wholly past the new end are no
 * longer brisk's. */
static void mapping_cut(large_t *l, size_t keep) {
    uintptr_t base = (uintptr_t)l, old_end = base + l->map_size, new_end = base + keep;
    uintptr_t first_free_unit = align_up(new_end, SEG_SIZE);
    if (first_free_unit < old_end) map_clear(first_free_unit, old_end - first_free_unit);
    os_unmap((void *)new_end, old_end - new_end);
    size_t cut = l->map_size - keep;
    atomic_fetch_sub_explicit(&brisk_cnt.mapped, cut, memory_order_relaxed);
    counter_add_committed(-(intptr_t)cut);
    l->map_size = keep;
    l->usable = keep - l->offset;
}

/* Moves l's pages into a new, bigger mapping of new_map bytes (mremap: no copy, no faults).
 * NULL, with l untouched, if the kernel refuses. */
static large_t *mapping_move(large_t *l, size_t new_map) {
    void *dest = os_map(new_map, SEG_SIZE, 0);
    if (dest == NULL) return NULL;
    size_t old_map = l->map_size;
    uintptr_t old_base = (uintptr_t)l;
    /* The old range's map entries go before mremap hands the range back to the kernel: after
     * it, another thread may get that range and mark it (clearing then wiped its marks:
     * TSan-built stress, "realloc(): invalid pointer" of a live aligned block). */
    map_clear(old_base, old_map);
    if (!os_remap(l, old_map, new_map, dest)) {
        map_mark(old_base, old_map, l->offset);
        os_unmap(dest, new_map);
        return NULL;
    }
    l = dest;
    l->map_size = new_map;
    l->usable = new_map - l->offset;
    map_mark((uintptr_t)l, new_map, l->offset);
    atomic_fetch_add_explicit(&brisk_cnt.mapped, new_map - old_map, memory_order_relaxed);
    counter_add_committed((intptr_t)(new_map - old_map));
    return l;
}

static large_t *header_of(uintptr_t a, uint8_t kind) {
    uintptr_t unit = a & ~SEG_MASK;
    if (kind == MAP_LARGE_PREV) unit -= SEG_SIZE;
    else if (kind != MAP_LARGE_HERE) return NULL;
    return (large_t *)unit;
}

/* For a heap dump: the large mapping whose header is at unit (under the unmap lock). */
int large_describe(uintptr_t unit, size_t *size, size_t *mapped, int *cached) {
    large_t *l = (large_t *)unit;
    if (l->state != LARGE_LIVE && l->state != LARGE_FREE) return 0;
    *size = l->usable;
    *mapped = l->map_size;
    *cached = l->state == LARGE_FREE;
    return 1;
}

/* The header of the live large block at a, or a message and abort. */
static large_t *large_checked(uintptr_t a, uint8_t kind, const char *func) {
    large_t *l = header_of(a, kind);
    if (l == NULL || l->check != (a ^ brisk_secret)) brisk_fatal(func, "invalid pointer", (void *)a);
    if (l->state == LARGE_FREE) brisk_fatal(func, "double free", (void *)a);
    if (l->state != LARGE_LIVE) brisk_fatal(func, "heap corrupted at large block", (void *)a);
    return l;
}

static void *large_take(large_t *l, size_t size, int zero, int fresh) {
    uintptr_t block = (uintptr_t)l + l->offset;
    l->check = block ^ brisk_secret;
    l->usable = l->map_size - l->offset;
    l->state = LARGE_LIVE;
    if (zero && !fresh) memset((void *)block, 0, size);
    atomic_fetch_add_explicit(&brisk_cnt.large_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&brisk_cnt.large_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&brisk_cnt.large_live_bytes, l->map_size, memory_order_relaxed);
    return (void *)block;
}

/* A mapping of map_size bytes: a cached one, shrunk when it is a quarter too big, or moved with
 * mremap to a bigger place (its pages, resident already, go along: no faults). NULL and the old
 * mapping unmapped if the kernel refuses. */
static large_t *mapping_fit(large_t *l, size_t map_size) {
    size_t ms = l->map_size;
    if (map_size <= ms) {
        if (ms - map_size > ms / 4) mapping_cut(l, map_size);
        return l;
    }
    large_t *n = mapping_move(l, map_size);
    if (n == NULL) {
        large_unmap(l);
        return NULL;
    }
    return n;
}

static large_t *cache_take(size_t need) {
    large_t *best = NULL;
    unsigned bi = 0;
    lock_acquire(&cache_lock);
    /* the mapping whose pages serve most of the request (they are resident already: the
     * rest is resized to fit), the smaller one on a tie */
    size_t best_use = 0;
    for (unsigned i = 0; i < cache_n; i++) {
        size_t ms = cache[i]->map_size, use = ms < need ? ms : need;
        if (use > best_use || (use == best_use && best && ms < best->map_size)) {
            best = cache[i];
            best_use = use;
            bi = i;
        }
    }
    if (best) {
        cache[bi] = cache[cache_n - 1];
        STORE_RELAXED(cache_n, cache_n - 1);
        cache_bytes -= best->map_size;
    }
    lock_release(&cache_lock);
    if (best) {
        atomic_fetch_sub_explicit(&brisk_cnt.large_cached, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&brisk_cnt.large_cached_bytes, best->map_size, memory_order_relaxed);
    }
    return best;
}

void *large_alloc(size_t size, size_t align, int zero) {
    if (size > PTRDIFF_MAX - 2 * SEG_SIZE || align > PTRDIFF_MAX / 2 ||
        size + align > PTRDIFF_MAX - 2 * SEG_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t ps = os_page_size();
    uint32_t offset;
    size_t lead = 0, map_align = SEG_SIZE;
    if (align <= LARGE_HDR) offset = LARGE_HDR;
    else if (align < SEG_SIZE) offset = (uint32_t)align;
    else {
        offset = SEG_SIZE;
        lead = SEG_SIZE;
        map_align = align;
    }
    size_t map_size = align_up(offset + size, ps);
    if (offset == LARGE_HDR && !brisk_opt.secure) {
        large_t *l = cache_take(map_size);
        if (l) {
            l = mapping_fit(l, map_size);
            if (l) return large_take(l, size, zero, 0);
        }
    }
    if (brisk_opt.secure && offset == LARGE_HDR) {
        /* the block ends at a guard page, the few bytes of rounding between filled with canary;
         * rounded to the alignment asked for (up to LARGE_HDR) so the block keeps it */
        size_t body = align_up(size, align > ALIGNMENT ? align : ALIGNMENT);
        map_size = align_up(LARGE_HDR + body, ps) + ps;
        offset = (uint32_t)(map_size - ps - body);
    }
    large_t *l = os_map(map_size, map_align, lead);
    if (l == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    l->map_size = map_size;
    l->offset = offset;
    if (brisk_opt.secure) {
        l->req = size;
        l->guarded = align <= LARGE_HDR;
        if (l->guarded) {
            os_guard((void *)((uintptr_t)l + map_size - ps), ps, 1);
            memset((char *)l + offset + size, SECURE_CANARY_BYTE, map_size - ps - offset - size);
        }
    }
    map_mark((uintptr_t)l, map_size, offset);
    atomic_fetch_add_explicit(&brisk_cnt.mapped, map_size, memory_order_relaxed);
    counter_add_committed((intptr_t)map_size);
    return large_take(l, size, zero, 1);
}

void large_free(uintptr_t a, uint8_t kind, const char *func) {
    large_t *l = large_checked(a, kind, func);
    if (brisk_opt.secure && l->guarded)
        secure_check_slack((void *)a, l->req, l->map_size - os_page_size() - l->offset, func);
    l->state = LARGE_FREE;
    atomic_fetch_sub_explicit(&brisk_cnt.large_live, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&brisk_cnt.large_live_bytes, l->map_size, memory_order_relaxed);
    size_t ms = l->map_size;   /* once l is in the cache, another thread may unmap it */
    if (l->offset == LARGE_HDR && ms <= CACHE_MAX_BLOCK) {
        l->freed_ms = os_now_ms();
        large_t *evict = NULL;
        lock_acquire(&cache_lock);
        if (cache_n == CACHE_MAX_ENTRIES || cache_bytes + ms > CACHE_MAX_BYTES) {
            /* make room by dropping the oldest entry, if that is enough */
            unsigned oldest = 0;
            for (unsigned i = 1; i < cache_n; i++)
                if (cache[i]->freed_ms < cache[oldest]->freed_ms) oldest = i;
            if (cache_n > 0 && cache_bytes - cache[oldest]->map_size + ms <= CACHE_MAX_BYTES) {
                evict = cache[oldest];
                cache[oldest] = cache[cache_n - 1];
                STORE_RELAXED(cache_n, cache_n - 1);
                cache_bytes -= evict->map_size;
            }
        }
        int kept = 0;
        if (cache_n < CACHE_MAX_ENTRIES && cache_bytes + ms <= CACHE_MAX_BYTES) {
            cache[cache_n] = l;
            STORE_RELAXED(cache_n, cache_n + 1);
            cache_bytes += ms;
            kept = 1;
        }
        lock_release(&cache_lock);
        if (evict) {
            atomic_fetch_sub_explicit(&brisk_cnt.large_cached, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&brisk_cnt.large_cached_bytes, evict->map_size, memory_order_relaxed);
            large_unmap(evict);
        }
        if (kept) {
            atomic_fetch_add_explicit(&brisk_cnt.large_cached, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&brisk_cnt.large_cached_bytes, ms, memory_order_relaxed);
            return;
        }
    }
    large_unmap(l);
}

size_t large_usable(uintptr_t a, uint8_t kind, const char *func) {
    large_t *l = large_checked(a, kind, func);
    return brisk_opt.secure ? l->req : l->usable;
}

/* Resizes in place or by moving the pages with mremap (no copy). Returns NULL when the caller
 * must allocate, copy and free instead (a new size below the large range, or mremap failed). */
void *large_realloc(uintptr_t a, uint8_t kind, size_t size) {
    large_t *l = large_checked(a, kind, "realloc");
    if (size <= MAX_MEDIUM || l->offset != LARGE_HDR || brisk_opt.secure) return NULL;
    size_t ps = os_page_size();
    if (size <= l->usable) {
        size_t keep = align_up(l->offset + size, ps);
        if (size >= l->usable / 2 || keep >= l->map_size) return (void *)a;
        size_t cut = l->map_size - keep;
        mapping_cut(l, keep);
        atomic_fetch_sub_explicit(&brisk_cnt.large_live_bytes, cut, memory_order_relaxed);
        return (void *)a;
    }
    /* grow with 1/8 slack, so a chain of small growths costs few system calls */
    size_t want = size + size / 8;
    if (want < size) want = size;
    size_t old_map = l->map_size, new_map = align_up(l->offset + want, ps);
    l = mapping_move(l, new_map);
    if (l == NULL) return NULL;
    atomic_fetch_add_explicit(&brisk_cnt.large_live_bytes, new_map - old_map, memory_order_relaxed);
    uintptr_t block = (uintptr_t)l + l->offset;
    l->check = block ^ brisk_secret;
    return (void *)block;
}

/* Unmaps cached mappings: all of them, or those idle for 4 purge delays. */
int large_cache_flush(int all) {
    large_t *out[CACHE_MAX_ENTRIES];
    unsigned n = 0;
    uint64_t now = os_now_ms(), idle = (uint64_t)brisk_opt.purge_delay_ms * 4;
    if (!all && LOAD_RELAXED(cache_n) == 0) return 0;   /* a hint; the lock settles it */
    lock_acquire(&cache_lock);
    for (unsigned i = 0; i < cache_n;) {
        if (all || now - cache[i]->freed_ms >= idle) {
            out[n++] = cache[i];
            cache_bytes -= cache[i]->map_size;
            cache[i] = cache[cache_n - 1];
            STORE_RELAXED(cache_n, cache_n - 1);
        } else {
            i++;
        }
    }
    lock_release(&cache_lock);
    for (unsigned i = 0; i < n; i++) {
        atomic_fetch_sub_explicit(&brisk_cnt.large_cached, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&brisk_cnt.large_cached_bytes, out[i]->map_size, memory_order_relaxed);
        large_unmap(out[i]);
    }
    return n > 0;
}

/* In a fork child: a cache another thread was changing may hold a duplicate; start empty. */
void large_fork_child(void) {
    if (atomic_load_explicit(&cache_lock.v, memory_order_relaxed) != 0) {
        cache_n = 0;
        cache_bytes = 0;
        atomic_store_explicit(&cache_lock.v, 0, memory_order_relaxed);
    }
}
