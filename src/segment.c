/* Segments: 4 MiB regions cut into 64 slots; a page is a run of free slots. A segment belongs to
 * one heap, which alone changes its slot masks (an orphaned heap's segments are changed only
 * under the orphan lock), so none of this needs atomics. Empty segments go to a small global
 * cache, purged, before they go back to the OS. */
#include "internal.h"

#define SEG_CACHE_MAX 8

static lock_t cache_lock;
static segment_t *cache[SEG_CACHE_MAX];
static unsigned cache_n;

static void list_remove(segment_t **list, segment_t *s) {
    if (s->prev) s->prev->next = s->next;
    else *list = s->next;
    if (s->next) s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

static void list_push(segment_t **list, segment_t *s) {
    s->prev = NULL;
    s->next = *list;
    if (*list) (*list)->prev = s;
    *list = s;
}

static void segment_init(segment_t *s, heap_t *h, uint64_t clean) {
    for (unsigned i = 0; i < SLOTS; i++) s->pages[i].head = &brisk_empty_page;
    s->free_slots = ALL_SLOTS;
    s->clean = clean;
    s->dirty_new = s->dirty_old = 0;
    s->heap = h;
    s->next = s->prev = NULL;
    s->on_full_list = 0;
}

/* os_map, and when the address space is short (a ulimit -v) a second try once what exited
 * threads' heaps (kept warm for adoption) and the segment and large caches hold has gone back */
void *os_map_reclaiming(size_t size, size_t align, size_t lead) {
    void *p = os_map(size, align, lead);
    if (p == NULL) {
        int freed = heap_sweep_orphans();
        freed |= segment_cache_flush();
        freed |= large_cache_flush(1);
        if (freed) p = os_map(size, align, lead);
    }
    return p;
}

static segment_t *segment_new(heap_t *h) {
    segment_t *s = NULL;
    lock_acquire(&cache_lock);
    if (cache_n > 0) s = cache[--cache_n];
    lock_release(&cache_lock);
    if (s == NULL) {
        s = os_map_reclaiming(SEG_SIZE, SEG_SIZE, 0);
        if (s == NULL) return NULL;
        map_set((uintptr_t)s >> SEG_SHIFT, MAP_SEG);
        atomic_fetch_add_explicit(&brisk_cnt.mapped, SEG_SIZE, memory_order_relaxed);
        counter_add_committed(SEG_HDR);
    }
    segment_init(s, h, ALL_SLOTS);  /* cached segments were purged whole */
    list_push(&h->segs, s);
    return s;
}

static inline uint64_t run_mask(unsigned i, unsigned n) {
    return (n >= 64 ? ALL_SLOTS : (((uint64_t)1 << n) - 1)) << i;
}

/* The memory of slots [i, i+n), without the header that sits in slot 0. */
static void slot_range(segment_t *s, unsigned i, unsigned n, uintptr_t *start, size_t *len) {
    uintptr_t a = (uintptr_t)s + (uintptr_t)i * SLOT_SIZE;
    uintptr_t e = (uintptr_t)s + (uintptr_t)(i + n) * SLOT_SIZE;
    if (i == 0) a += SEG_HDR;
    *start = a;
    *len = e - a;
}

/* Purges slots m of s, one madvise per run; a run may cross `fill`, free slots known zero, to
 * reach the next run of m: a range with nothing resident costs the kernel no TLB flush, while
 * each call flushes once (the dearest part of a purge in a VM). Returns the bytes of m. */
static size_t purge_mask(segment_t *s, uint64_t m, uint64_t fill) {
    size_t total = 0;
    while (m) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        uint64_t rest = ~((m | fill) >> i);
        unsigned n = rest ? (unsigned)__builtin_ctzll(rest) : SLOTS - i;   /* run of m | fill */
        uint64_t mine = m & run_mask(i, n);
        n = 64 - (unsigned)__builtin_clzll(mine) - i;                         /* ends in m */
        uintptr_t a;
        size_t len;
        slot_range(s, i, n, &a, &len);
        os_purge((void *)a, len);
        total += (size_t)__builtin_popcountll(mine) * SLOT_SIZE - (mine & 1 ? SEG_HDR : 0);
        m &= ~mine;
    }
    return total;
}

static void segment_release(heap_t *h, segment_t *s) {
    list_remove(s->on_full_list ? &h->segs_full : &h->segs, s);
    uint64_t dirty = ~s->clean;
    size_t purged = purge_mask(s, dirty, s->clean);
    counter_add_committed(-(intptr_t)purged);
    atomic_fetch_add_explicit(&brisk_cnt.purged, purged, memory_order_relaxed);
    s->clean = ALL_SLOTS;
    s->heap = NULL;
    lock_acquire(&cache_lock);
    if (cache_n < SEG_CACHE_MAX) {
        cache[cache_n++] = s;
        s = NULL;
    }
    lock_release(&cache_lock);
    if (s) {
        map_set((uintptr_t)s >> SEG_SHIFT, MAP_NONE);
        atomic_fetch_sub_explicit(&brisk_cnt.mapped, SEG_SIZE, memory_order_relaxed);
        counter_add_committed(-(intptr_t)SEG_HDR);
        os_unmap(s, SEG_SIZE);
    }
}

/* Lowest index where n consecutive bits of m are set, or -1. */
static int find_run(uint64_t m, unsigned n) {
    uint64_t x = m;
    for (unsigned k = 1; k < n && x;) {
        unsigned sh = (n - k < k) ? n - k : k;
        x &= x >> sh;
        k += sh;
    }
    return x ? (int)__builtin_ctzll(x) : -1;
}

/* the free slots `m` of s purged and marked clean; returns the bytes given back */
static size_t slots_purge(segment_t *s, uint64_t m) {
    size_t bytes = purge_mask(s, m, s->free_slots & s->clean);
    s->clean |= m;
    s->dirty_old &= ~m;
    return bytes;
}
static void purged_count(size_t bytes) {
    if (bytes == 0) return;
    counter_add_committed(-(intptr_t)bytes);
    atomic_fetch_add_explicit(&brisk_cnt.purged, bytes, memory_order_relaxed);
}

/* Purges up to `bytes` of h's free slots that are still resident and were free before the
 * last tick (those a tick would purge); returns what is left of `bytes`. Called as fresh
 * memory comes in for a run that no resident slots could serve: they stay resident for reuse
 * until then (a tick purges them once idle), and then give way byte for byte, so a program
 * whose size mix changes from one phase to the next keeps its peak without purging and
 * refaulting what the next phase reuses. */
static size_t segment_shed(heap_t *h, size_t bytes) {
    size_t total = 0, purged = 0;
    for (segment_t *s = h->segs; s && total < bytes; s = s->next) {
        uint64_t m = s->free_slots & ~s->clean & s->dirty_old, take = 0;
        for (; m && total < bytes; m &= m - 1) {
            take |= m & -m;
            total += SLOT_SIZE;
        }
        if (take) purged += slots_purge(s, take);
    }
    purged_count(purged);
    return total < bytes ? bytes - total : 0;
}

/* The segment of h with a run of n free slots (resident ones only, with `resident`), and the
 * run's first slot in *i; NULL if none. */
static segment_t *find_span(heap_t *h, unsigned n, int resident, int *i) {
    for (segment_t *s = h->segs; s; s = s->next) {
        *i = find_run(resident ? s->free_slots & ~s->clean : s->free_slots, n);
        if (*i >= 0) return s;
    }
    return NULL;
}

/* Takes n free slots from one of h's segments (first fit) and returns their page struct, with
 * *fresh telling whether the memory is known zero; with `shed`, fresh memory taken for them
 * makes resident unused memory give way (segment_fresh_used). With min < n, a shorter run of
 * resident slots, the longest of at least min, comes before clean ones (the span's nslots
 * says how long it is). */
page_t *segment_alloc_span(heap_t *h, unsigned n, unsigned min, int *fresh, int shed) {
    segment_t *s = NULL;
    int i = -1;
    /* Slots still resident first: a run of them costs no page faults, and whatever stays
     * unused is purged by the tick; only then clean (purged or never used) slots. */
    int resident;
    for (resident = 1; resident >= 0 && s == NULL; resident--) {
        if (!resident && n == 1 && shed && !brisk_opt.secure) {   /* a class page: see extent_lend_slot */
            page_t *pg = extent_lend_slot(h);
            if (pg) {
                *fresh = 0;
                return pg;
            }
        }
        s = find_span(h, n, resident, &i);
        for (unsigned k = n - 1; resident && s == NULL && k >= min && k > 0; k--)
            if ((s = find_span(h, k, 1, &i)) != NULL) n = k;
    }
    if (s == NULL) {
        s = segment_new(h);
        if (s == NULL) return NULL;
        i = 0;
    }
    uint64_t m = run_mask((unsigned)i, n);
    s->free_slots &= ~m;
    *fresh = (s->clean & m) == m;
    uint64_t newly_committed = s->clean & m;
    s->clean &= ~m;
    s->dirty_new &= ~m;
    s->dirty_old &= ~m;
    if (newly_committed) {
        size_t bytes = (size_t)__builtin_popcountll(newly_committed) * SLOT_SIZE;
        if (newly_committed & 1) bytes -= SEG_HDR;
        counter_add_committed((intptr_t)bytes);
    }
    if (s->free_slots == 0) {
        list_remove(&h->segs, s);
        list_push(&h->segs_full, s);
        s->on_full_list = 1;
    }
    page_t *pg = &s->pages[i];
    for (unsigned k = 0; k < n; k++) s->pages[i + k].head = pg;
    pg->slot = (uint8_t)i;
    pg->nslots = (uint8_t)n;
    pg->lent = 0;
    /* a class page touches its slots as it carves them; an extent span says what it touches
     * itself (segment_fresh_used), unit by unit */
    if (resident < 0 && shed) segment_fresh_used(h, (size_t)n * SLOT_SIZE, 1);
    return pg;
}

/* The heap is about to touch `bytes` of memory that is not resident (fresh or purged): as much
 * of what sits resident unused goes, the heap's free slots first, then (with `extents`) its
 * free extents' units, then the large blocks' cache, so RSS stays where it was as long as there
 * is such memory to give. Clean units carved from a free extent spare the other free extents:
 * any of them could have served, and purging them only sends the next blocks to memory that
 * refaults (a burst of replies walked through spans purged one after the other); those wait for
 * the timed tick. */
void segment_fresh_used(heap_t *h, size_t bytes, int extents) {
    bytes = segment_shed(h, bytes);
    large_cache_shed(extents ? extent_shed(h, bytes) : bytes);
}

void segment_free_span(heap_t *h, page_t *pg, uint64_t clean) {
    segment_t *s = segment_of((uintptr_t)pg);
    unsigned i = pg->slot, n = pg->nslots;
    for (unsigned k = 0; k < n; k++) s->pages[i + k].head = &brisk_empty_page;
    uint64_t m = run_mask(i, n);
    clean = (clean << i) & m & ~s->clean;
    if (clean) {   /* purged by the span's owner already: neither shed nor purged again */
        size_t bytes = (size_t)__builtin_popcountll(clean) * SLOT_SIZE - (clean & 1 ? SEG_HDR : 0);
        s->clean |= clean;
        counter_add_committed(-(intptr_t)bytes);
    }
    s->free_slots |= m;
    s->dirty_new |= m & ~clean;
    h->freed_since_tick += (size_t)n * SLOT_SIZE;
    if (s->on_full_list) {
        list_remove(&h->segs_full, s);
        list_push(&h->segs, s);
        s->on_full_list = 0;
    }
    /* Keep one empty segment per heap so a page freed and needed again costs no mmap. */
    if (s->free_slots == ALL_SLOTS && (h->segs != s || s->next != NULL)) segment_release(h, s);
}

/* A tick by volume: slots free now count as free since before it (segment_shed takes those). */
void segment_age(heap_t *h) {
    for (segment_t *s = h->segs; s; s = s->next) {
        s->dirty_old = (s->dirty_old | s->dirty_new) & s->free_slots;
        s->dirty_new = 0;
    }
}

/* The purge tick: slots free since before the previous tick are purged now; with `all`, every
 * free slot is, and empty segments go back too. Returns 1 if memory was released. */
int segment_purge(heap_t *h, int all) {
    size_t total = 0;
    segment_t *s, *next;
    for (s = h->segs; s; s = next) {
        next = s->next;
        uint64_t m = (all ? (s->dirty_old | s->dirty_new) : s->dirty_old) & s->free_slots & ~s->clean;
        if (m) total += slots_purge(s, m);
        s->dirty_old = all ? 0 : (s->dirty_new & s->free_slots);
        s->dirty_new = 0;
    }
    purged_count(total);
    if (all) segment_release_all_free(h);
    return total > 0;
}

void segment_release_all_free(heap_t *h) {
    segment_t *s, *next;
    for (s = h->segs; s; s = next) {
        next = s->next;
        if (s->free_slots == ALL_SLOTS) segment_release(h, s);
    }
}

int segment_cache_flush(void) {
    segment_t *out[SEG_CACHE_MAX];
    unsigned n;
    lock_acquire(&cache_lock);
    n = cache_n;
    memcpy(out, cache, n * sizeof *out);
    cache_n = 0;
    lock_release(&cache_lock);
    for (unsigned k = 0; k < n; k++) {
        map_set((uintptr_t)out[k] >> SEG_SHIFT, MAP_NONE);
        atomic_fetch_sub_explicit(&brisk_cnt.mapped, SEG_SIZE, memory_order_relaxed);
        counter_add_committed(-(intptr_t)SEG_HDR);
        os_unmap(out[k], SEG_SIZE);
    }
    return n > 0;
}

/* In a child of fork: if another thread held the cache lock, the cache may be half-written;
 * forget it (its segments stay mapped, unused: a bounded leak in the child only). */
void segment_fork_child(void) {
    if (atomic_load_explicit(&cache_lock.v, memory_order_relaxed) != 0) {
        cache_n = 0;
        atomic_store_explicit(&cache_lock.v, 0, memory_order_relaxed);
    }
}
