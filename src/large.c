/* Large blocks (above 256 KiB): one mapping each, aligned to 4 MiB so brisk_map finds the header
 * at the start of the mapping; the block follows it (or, for alignments of 4 MiB and more,
 * starts one unit later).
 *
 * Freed mappings of up to 68 MiB wait in a cache of up to 128 MiB with their pages still
 * resident, so that the next large block reuses them instead of faulting fresh pages in: a cached
 * mapping bigger than needed is split at a unit boundary (the block keeps whole units, the rest
 * stays cached with its own header there), and when none is big enough the biggest are moved
 * side by side into one range with mremap (page tables move, pages stay). Splits and joins fall
 * on unit boundaries, so every kernel mapping inside a joined one can be moved a unit at a time.
 * The cache is unmapped after 4 purge delays (1 s by default), at malloc_trim, or when the
 * address space runs short; bigger mappings leave at once. It also gives way, longest idle
 * first, byte for byte as the heap takes fresh memory for pages (large_cache_shed): a program
 * that moved on from big blocks to small ones would otherwise hold both at its peak. */
#include "internal.h"

#include <errno.h>
#include <sys/mman.h>

#define CACHE_MAX_ENTRIES 32
#define CACHE_MAX_BYTES   ((size_t)128 << 20)
#define CACHE_MAX_BLOCK   (((size_t)64 << 20) + SEG_SIZE)   /* a 64 MiB block and its header */

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
    uint32_t pieced;        /* made of several kernel mappings (joined by mremap), each a whole
                             * number of units: one mremap cannot move it, unit-sized ones can */
} large_t;

/* (and leave a word at least for secure mode's canary between it and the block) */
_Static_assert(sizeof(large_t) + 8 <= LARGE_HDR, "large header must fit before the block");

static lock_t cache_lock;
static large_t *cache[CACHE_MAX_ENTRIES];
static unsigned cache_n;
static size_t cache_bytes;

static void map_mark(uintptr_t base, size_t size, uint32_t offset) {
    uintptr_t u0 = base >> SEG_SHIFT, u1 = (base + size - 1) >> SEG_SHIFT;
    for (uintptr_t u = u0; u <= u1; u++) map_set(u, MAP_LARGE_BODY);
    map_set(u0, MAP_LARGE_HERE);
    if (offset >= SEG_SIZE) map_set(u0 + 1, MAP_LARGE_PREV);
}

static void map_clear(uintptr_t base, size_t size) {
    uintptr_t u0 = base >> SEG_SHIFT, u1 = (base + size - 1) >> SEG_SHIFT;
    for (uintptr_t u = u0; u <= u1; u++) map_set(u, MAP_NONE);
}

static void counted_unmap(void *p, size_t sz) {
    atomic_fetch_sub_explicit(&brisk_cnt.mapped, sz, memory_order_relaxed);
    counter_add_committed(-(intptr_t)sz);
    atomic_fetch_add_explicit(&brisk_cnt.purged, sz, memory_order_relaxed);
    os_unmap(p, sz);
}

static void large_unmap(large_t *l) {
    size_t sz = l->map_size;
    map_clear((uintptr_t)l, sz);
    counted_unmap(l, sz);
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

/* The block in l, of size bytes (its page-rounded extent is what malloc_usable_size tells; the
 * rest of the last unit stays untouched). The first `reused` bytes of the mapping may hold old
 * data: calloc clears only those. */
static void *large_take(large_t *l, size_t size, int zero, size_t reused) {
    uintptr_t block = (uintptr_t)l + l->offset;
    l->check = block ^ brisk_secret;
    l->usable = align_up(l->offset + size, os_page_size()) - l->offset;
    l->state = LARGE_LIVE;
    if (zero && reused > l->offset) {
        size_t dirty = reused - l->offset;
        memset((void *)block, 0, dirty < size ? dirty : size);
    }
    atomic_fetch_add_explicit(&brisk_cnt.large_allocs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&brisk_cnt.large_live, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&brisk_cnt.large_live_bytes, l->map_size, memory_order_relaxed);
    return (void *)block;
}

/* ---- the cache (its array, count and bytes change under cache_lock) ------------------------- */

static void cache_remove(unsigned i) {
    cache_bytes -= cache[i]->map_size;
    cache[i] = cache[cache_n - 1];
    STORE_RELAXED(cache_n, cache_n - 1);
}

/* The entry freed longest ago (the cache is not empty). */
static unsigned cache_oldest(void) {
    unsigned oldest = 0;
    for (unsigned i = 1; i < cache_n; i++)
        if (cache[i]->freed_ms < cache[oldest]->freed_ms) oldest = i;
    return oldest;
}

static void cache_put(large_t *l) {
    cache[cache_n] = l;
    STORE_RELAXED(cache_n, cache_n + 1);
    cache_bytes += l->map_size;
}

/* The statistics follow the cache after its lock is dropped: entries and bytes it gained. */
static void cached_add(long entries, intptr_t bytes) {
    atomic_fetch_add_explicit(&brisk_cnt.large_cached, (size_t)entries, memory_order_relaxed);
    atomic_fetch_add_explicit(&brisk_cnt.large_cached_bytes, (size_t)bytes, memory_order_relaxed);
}

/* Keeps the first keep bytes (whole units) of the cached mapping l, just taken out of the cache,
 * and puts the rest back as a mapping of its own: a header at its first unit, which brisk_map
 * now points to. Its check matches no block, so freeing an address in it is an invalid pointer. */
static void cache_split(large_t *l, size_t keep) {
    large_t *t = (large_t *)((uintptr_t)l + keep);
    *t = (large_t){ .check = 0, .map_size = l->map_size - keep, .offset = LARGE_HDR,
                    .state = LARGE_FREE, .freed_ms = l->freed_ms, .pieced = l->pieced };
    map_set((uintptr_t)t >> SEG_SHIFT, MAP_LARGE_HERE);
    l->map_size = keep;
    cache_put(t);
}

/* Moves len bytes of pages from src to dst (brisk's own reservation); a pieced mapping a unit at
 * a time, since its kernel mappings meet at unit boundaries. The last move may grow into the
 * fresh pages after it (grow > len: one kernel mapping fewer). Returns the bytes moved. */
static size_t pages_move(uintptr_t src, size_t len, size_t grow, uintptr_t dst, int pieced) {
    if (!pieced) return os_remap((void *)src, len, grow, (void *)dst) ? len : 0;
    size_t done = 0;
    for (; done < len; done += SEG_SIZE)
        if (!os_remap((void *)(src + done), SEG_SIZE, SEG_SIZE, (void *)(dst + done))) break;
    return done;
}

/* One mapping of total bytes made of the cached ones in got[0..n) (taken out of the cache: whole
 * units each, together at most total), moved side by side to its start; the rest is fresh pages.
 * NULL, with all of them unmapped, if the kernel refuses. */
static large_t *mapping_join(large_t **got, unsigned n, size_t total) {
    uintptr_t dest = (uintptr_t)os_map(total, SEG_SIZE, 0);
    size_t off = 0, pieces = 0, lost = 0;
    int pieced = n > 1;
    unsigned i = 0;
    for (unsigned k = 0; k < n; k++) pieces += got[k]->map_size;
    for (; dest && i < n; i++) {
        uintptr_t p = (uintptr_t)got[i];
        size_t sz = got[i]->map_size, grow = i == n - 1 ? total - off : sz;
        int pp = got[i]->pieced;
        pieced |= pp;
        map_clear(p, sz);   /* before the range goes back to the kernel, as in mapping_move */
        size_t moved = pages_move(p, sz, grow, dest + off, pp);
        if (moved < sz) {
            os_unmap((void *)(p + moved), sz - moved);
            i++;
            break;
        }
        off += sz;
    }
    if (dest == 0 || off < pieces) {
        if (dest) os_unmap((void *)dest, total);
        for (; i < n; i++) {
            map_clear((uintptr_t)got[i], got[i]->map_size);
            os_unmap(got[i], got[i]->map_size);
        }
        lost = pieces;
        atomic_fetch_sub_explicit(&brisk_cnt.mapped, lost, memory_order_relaxed);
        counter_add_committed(-(intptr_t)lost);
        atomic_fetch_add_explicit(&brisk_cnt.purged, lost, memory_order_relaxed);
        return NULL;
    }
    large_t *l = (large_t *)dest;
    *l = (large_t){ .map_size = total, .offset = LARGE_HDR, .state = LARGE_FREE, .pieced = pieced };
    map_mark(dest, total, LARGE_HDR);
    atomic_fetch_add_explicit(&brisk_cnt.mapped, total - pieces, memory_order_relaxed);
    counter_add_committed((intptr_t)(total - pieces));
    return l;
}

static int ragged(const large_t *l) { return (l->map_size & SEG_MASK) != 0; }

/* A mapping of at least need bytes made of cached ones: the smallest big enough (split after
 * span, need rounded up to whole units); or, when none is, the biggest ones joined into span
 * bytes (the last split to fit; at most one that ends inside a unit, placed last). *reused: how
 * many of its bytes come from the cache (they may hold old data). NULL when the cache is empty. */
static large_t *cache_get(size_t need, size_t span, size_t *reused) {
    large_t *got[CACHE_MAX_ENTRIES];
    unsigned n = 0, rag = CACHE_MAX_ENTRIES;
    size_t have = 0;
    lock_acquire(&cache_lock);
    unsigned n0 = cache_n, best = cache_n;
    size_t b0 = cache_bytes;
    for (unsigned i = 0; i < cache_n; i++)
        if (cache[i]->map_size >= need && (best == cache_n || cache[i]->map_size < cache[best]->map_size))
            best = i;
    while (have < need) {
        if (best == cache_n) {   /* none big enough: the biggest next */
            for (unsigned i = 0; i < cache_n; i++)
                if ((rag == CACHE_MAX_ENTRIES || !ragged(cache[i])) &&
                    (best == cache_n || cache[i]->map_size > cache[best]->map_size))
                    best = i;
            if (best == cache_n) break;
        }
        /* splits at whole units: the ragged one, placed last, counts as its units here */
        size_t room = span - align_up(have, SEG_SIZE);
        if (room == 0) break;
        large_t *l = cache[best];
        cache_remove(best);
        if (l->map_size > room) cache_split(l, room);
        if (ragged(l)) rag = n;
        got[n++] = l;
        have += l->map_size;
        best = cache_n;
    }
    long dn = (long)cache_n - (long)n0;
    intptr_t db = (intptr_t)(cache_bytes - b0);
    lock_release(&cache_lock);
    if (n == 0) return NULL;
    cached_add(dn, db);
    *reused = have;
    if (n == 1 && have >= need) return got[0];
    if (rag < n) {   /* the ragged one last, where it grows over the fresh rest */
        large_t *t = got[rag];
        got[rag] = got[n - 1];
        got[n - 1] = t;
    }
    return mapping_join(got, n, span);
}

/* ---- the calls ------------------------------------------------------------------------------ */

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
    if (offset == LARGE_HDR && !brisk_opt.secure && align_up(map_size, SEG_SIZE) <= CACHE_MAX_BLOCK) {
        size_t reused = 0;
        large_t *l = cache_get(map_size, align_up(map_size, SEG_SIZE), &reused);
        if (l) return large_take(l, size, zero, reused);
    }
    if (brisk_opt.secure && offset == LARGE_HDR) {
        /* the block ends at a guard page, the few bytes of rounding between filled with canary;
         * rounded to the alignment asked for (up to LARGE_HDR) so the block keeps it */
        size_t body = align_up(size, align > ALIGNMENT ? align : ALIGNMENT);
        map_size = align_up(LARGE_HDR + body, ps) + ps;
        offset = (uint32_t)(map_size - ps - body);
    }
    large_t *l = os_map_reclaiming(map_size, map_align, lead);
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
        /* between the header and the block: a write before the block lands here */
        memset((char *)l + sizeof *l, SECURE_CANARY_BYTE, offset - sizeof *l);
    }
    map_mark((uintptr_t)l, map_size, offset);
    atomic_fetch_add_explicit(&brisk_cnt.mapped, map_size, memory_order_relaxed);
    counter_add_committed((intptr_t)map_size);
    return large_take(l, size, zero, 0);
}

/* Secure mode: the canary before the block and the one after it (up to the guard page). */
static void secure_check_ends(large_t *l, uintptr_t a, const char *func) {
    secure_check_before((char *)l + sizeof *l, l->offset - sizeof *l, (void *)a, l->req, func);
    if (l->guarded) secure_check_slack((void *)a, l->req, l->map_size - os_page_size() - l->offset, func);
}

void large_free(uintptr_t a, uint8_t kind, const char *func) {
    large_t *l = large_checked(a, kind, func);
    if (brisk_opt.secure) secure_check_ends(l, a, func);
    l->state = LARGE_FREE;
    size_t ms = l->map_size;   /* once l is in the cache, another thread may unmap it */
    atomic_fetch_sub_explicit(&brisk_cnt.large_live, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&brisk_cnt.large_live_bytes, ms, memory_order_relaxed);
    if (l->offset != LARGE_HDR || brisk_opt.secure || ms > CACHE_MAX_BLOCK) {
        large_unmap(l);
        return;
    }
    l->freed_ms = os_now_ms();
    large_t *out[CACHE_MAX_ENTRIES];
    unsigned n_out = 0;
    lock_acquire(&cache_lock);
    unsigned n0 = cache_n;
    size_t b0 = cache_bytes;
    /* room for it: the oldest go */
    while (cache_n == CACHE_MAX_ENTRIES || cache_bytes + ms > CACHE_MAX_BYTES) {
        unsigned oldest = cache_oldest();
        out[n_out++] = cache[oldest];
        cache_remove(oldest);
    }
    cache_put(l);
    long dn = (long)cache_n - (long)n0;
    intptr_t db = (intptr_t)(cache_bytes - b0);
    lock_release(&cache_lock);
    cached_add(dn, db);
    for (unsigned i = 0; i < n_out; i++) large_unmap(out[i]);
}

size_t large_usable(uintptr_t a, uint8_t kind, const char *func) {
    large_t *l = large_checked(a, kind, func);
    if (!brisk_opt.secure) return l->usable;
    secure_check_ends(l, a, func);
    return l->req;
}

/* Resizes in place (within the mapping's last unit, or giving back whole units past the block)
 * or by moving the pages with mremap (no copy). Returns NULL when the caller must allocate, copy
 * and free instead (a new size below the large range, a mapping joined from pieces, or mremap
 * failed). */
void *large_realloc(uintptr_t a, uint8_t kind, size_t size) {
    large_t *l = large_checked(a, kind, "realloc");
    if (size <= MAX_MEDIUM || l->offset != LARGE_HDR || brisk_opt.secure) return NULL;
    size_t ps = os_page_size(), old_map = l->map_size;
    if (size <= l->usable) {
        if (size >= l->usable / 2) return (void *)a;
        size_t keep = align_up(l->offset + size, ps), unit_end = align_up(keep, SEG_SIZE);
        /* the pages past the block, written while it was bigger, are not kept resident */
        os_purge((void *)((uintptr_t)l + keep), (unit_end < old_map ? unit_end : old_map) - keep);
        l->usable = keep - l->offset;
        if (unit_end < old_map) {
            mapping_cut(l, unit_end);
            atomic_fetch_sub_explicit(&brisk_cnt.large_live_bytes, old_map - unit_end, memory_order_relaxed);
        }
        return (void *)a;
    }
    /* grow with 1/8 slack, so a chain of small growths costs few system calls */
    size_t want = size + size / 8;
    if (want < size) want = size;
    size_t ext = align_up(l->offset + want, ps);
    if (ext <= old_map) {
        l->usable = ext - l->offset;
        return (void *)a;
    }
    if (l->pieced) return NULL;
    size_t new_map = ext;
    l = mapping_move(l, new_map);
    if (l == NULL) return NULL;
    l->usable = ext - l->offset;
    atomic_fetch_add_explicit(&brisk_cnt.large_live_bytes, new_map - old_map, memory_order_relaxed);
    uintptr_t block = (uintptr_t)l + l->offset;
    l->check = block ^ brisk_secret;
    return (void *)block;
}

/* Unmaps cached mappings: all of them, or those idle for `idle` ms, or (bytes > 0) the longest
 * idle until `bytes` have gone. */
static int cache_evict(int all, uint64_t idle, size_t bytes) {
    large_t *out[CACHE_MAX_ENTRIES];
    unsigned n = 0;
    uint64_t now = os_now_ms();
    if (LOAD_RELAXED(cache_n) == 0) return 0;   /* a hint; the lock settles it */
    lock_acquire(&cache_lock);
    size_t b0 = cache_bytes, gone = 0;
    while (cache_n > 0 && (bytes == 0 || gone < bytes)) {
        unsigned oldest = cache_oldest();
        if (!all && bytes == 0 && now - cache[oldest]->freed_ms < idle) break;
        gone += cache[oldest]->map_size;
        out[n++] = cache[oldest];
        cache_remove(oldest);
    }
    intptr_t db = (intptr_t)(cache_bytes - b0);
    lock_release(&cache_lock);
    cached_add(-(long)n, db);
    for (unsigned i = 0; i < n; i++) large_unmap(out[i]);
    return n > 0;
}

/* Unmaps cached mappings: all of them, or those idle for 4 purge delays. */
int large_cache_flush(int all) {
    return cache_evict(all, (uint64_t)brisk_opt.purge_delay_ms * 4, 0);
}

/* The heap grows elsewhere by `bytes` (fresh slots, new segments): as many cached bytes go,
 * longest idle first. The cache keeps memory resident for the next large block; while the
 * program grows its small blocks instead, that memory is idle, and would add to its peak. */
void large_cache_shed(size_t bytes) {
    if (bytes) cache_evict(0, 0, bytes);
}

/* In a fork child: a cache another thread was changing may hold a duplicate; start empty. */
void large_fork_child(void) {
    if (atomic_load_explicit(&cache_lock.v, memory_order_relaxed) != 0) {
        cache_n = 0;
        cache_bytes = 0;
        atomic_store_explicit(&cache_lock.v, 0, memory_order_relaxed);
    }
}
