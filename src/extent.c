/* Extents: blocks above extent_min (8 KiB) up to large_min share spans of EXT_SLOTS slots
 * (fewer where only a shorter run of resident free slots is free: span_new), carved to the
 * block's size in 4 KiB units and coalesced on free. A class page keeps a freed 40 KiB block
 * for its own class until a purge tick; here it serves any big size at once, so a program
 * mixing big sizes needs about as much memory as it has live.
 *
 * A span's first units hold its metadata (ext_meta_t): tags at both ends of each extent (length,
 * free, aged), so a free finds both neighbours in O(1); a bitmap of extent starts, which alone
 * says what is a block; a bitmap of "freed here" marks that outlive reuse, so a second free of
 * an address is called a double free even once the memory belongs to another block; and a
 * bitmap of units known zero, so calloc clears only what was used.
 *
 * Free extents sit in the owning heap's bins (exact lengths up to 64 units, then one bin), doubly
 * linked through their spans' metadata, not through their own memory: a bin operation touches
 * no block (the memory of a free extent may be cold, or purged), and each link is checked
 * against the metadata before it is followed. Blocks are carved from the high end of a free extent: a freed block's start
 * comes back only for a request of exactly the remaining size, which keeps double frees
 * recognisable longer.
 *
 * Deferred coalescing: a freed block of up to EXT_CACHE_LENS units first waits in its heap's
 * cache, by length, still carved (T_CACHED in its tags; free to its user, live to the bins): the
 * next request of that length takes it back without a bin search, a split and a join, which
 * cost ten times a class block's pop and push (random 1-64 KiB sizes: 670 instructions a pair).
 * The cache holds at most EXT_CACHE_N blocks a length and a 32nd of the live extent bytes
 * (EXT_CACHE_MIN at least), and every extent tick puts it back in the bins (extent_cache=0:
 * none, for tests of the layout). Only a block between two live blocks waits there: one next to
 * free memory joins it, and a join takes cached neighbours along (a cached block splitting a
 * free run sent longer requests to fresh memory).
 *
 * Only the owner changes a span. Another thread's free is checked (a live block's start bit and
 * tags do not change while it is live) and pushed on the owner's delayed list, which the owner
 * drains on its next extent call, at a tick and at heap_collect (orphans included). */
#include "internal.h"

#include <errno.h>

#define UNIT_SHIFT 12
#define UNIT       ((uintptr_t)1 << UNIT_SHIFT)
#define EXT_SLOTS  16                                   /* 1 MiB spans */
#define UNITS_MAX  (EXT_SLOTS * SLOT_SIZE / UNIT)
#define WORDS      ((UNITS_MAX + 63) / 64)
#define META_UNITS 2                                    /* the metadata's units, first in a span */

#define T_LEN  0x0fff
#define T_FREE 0x8000
#define T_CACHED 0x4000   /* freed, waiting in the heap's cache (cache_put) */
/* the cache's bound: a 32nd of the live extent bytes, or EXT_CACHE_MIN. random-medium (bench):
 * 0.40 -> 0.37 s with it, RSS 42.1 -> 44.2 MB (a 16th: 45.7 MB, no faster; a 64th: 0.38 s).
 * The floor is per heap: with 128 KiB churn's 8 heaps of ~300 KiB live extents held 1.1 MB
 * more (20.9 against 19.8 MB, 7 interleaved runs), with 32 KiB none measurable; one block of
 * up to 8 units still fits it. */
#define EXT_CACHE_SHIFT 5
#define EXT_CACHE_MIN ((size_t)32 << 10)
/* A block's last 16 bytes are not its user's: the address just past a block (p + usable size)
 * is then never a unit boundary, so a free of it is refused even when a live block starts at
 * the next unit (carving from the high end puts older blocks there). */
#define TAIL   16

typedef struct ext_meta {
    uint64_t start[WORDS];
    uint64_t freed[WORDS];
    uint64_t clean[WORDS];
    uint64_t aged[WORDS];   /* unit free since the last tick: purged at the next one */
    uint16_t tag[UNITS_MAX];
    uintptr_t next[UNITS_MAX], prev[UNITS_MAX];   /* a free extent's bin links: unit addresses */
    uint64_t lent[WORDS];   /* units of a slot lent to a class page (extent_lend_slot) */
} ext_meta_t;
_Static_assert(sizeof(ext_meta_t) <= META_UNITS * UNIT, "extent metadata must fit its units");

static inline ext_meta_t *meta_of(const page_t *pg) { return (ext_meta_t *)(pg->start - META_UNITS * UNIT); }
static inline uintptr_t unit_addr(const page_t *pg, unsigned u) { return pg->start + ((uintptr_t)u << UNIT_SHIFT); }

/* start, freed and tag are read by other threads' frees: relaxed atomics on both sides */
static inline int bit_get(uint64_t *w, unsigned u) { return (int)((LOAD_RELAXED(w[u >> 6]) >> (u & 63)) & 1); }
static inline void bit_put(uint64_t *w, unsigned u, int on) {
    uint64_t m = (uint64_t)1 << (u & 63), v = LOAD_RELAXED(w[u >> 6]);
    STORE_RELAXED(w[u >> 6], on ? v | m : v & ~m);
}
static inline uint16_t tag_get(ext_meta_t *m, unsigned u) { return LOAD_RELAXED(m->tag[u]); }
static inline void tags_set(ext_meta_t *m, unsigned u, unsigned len, uint16_t flags) {
    STORE_RELAXED(m->tag[u], (uint16_t)(len | flags));
    STORE_RELAXED(m->tag[u + len - 1], (uint16_t)(len | flags));
}
/* the bits of [u, u + n) in a bitmap only the owner changes, a word at a time (relaxed: a heap
 * dump reads `clean` from another thread); inline for a range within one word, the usual case */
/* the mask of [u, u + n) within u's word, u and n moved on past it */
static inline uint64_t word_run(unsigned *u, unsigned *n) {
    unsigned k = *u & 63, c = 64 - k < *n ? 64 - k : *n;
    *u += c;
    *n -= c;
    return (c == 64 ? ~(uint64_t)0 : (((uint64_t)1 << c) - 1)) << k;
}
static NOINLINE void bits_put_long(uint64_t *w, unsigned u, unsigned n, int on) {
    while (n) {
        uint64_t *p = &w[u >> 6], m = word_run(&u, &n), v = LOAD_RELAXED(*p);
        STORE_RELAXED(*p, on ? v | m : v & ~m);
    }
}
static inline void bits_put(uint64_t *w, unsigned u, unsigned n, int on) {
    unsigned k = u & 63;
    if (unlikely(k + n > 63)) {
        bits_put_long(w, u, n, on);
        return;
    }
    uint64_t m = (((uint64_t)1 << n) - 1) << k, v = LOAD_RELAXED(w[u >> 6]);
    STORE_RELAXED(w[u >> 6], on ? v | m : v & ~m);
}
#define clean_put(m, u, n, on) bits_put((m)->clean, u, n, on)
/* how many of the bits of [u, u + n) are set */
static NOINLINE unsigned bits_count_long(const uint64_t *w, unsigned u, unsigned n) {
    unsigned c = 0;
    while (n) {
        const uint64_t *p = &w[u >> 6];
        uint64_t x = LOAD_RELAXED(*p) & word_run(&u, &n);
        if (x) c += (unsigned)__builtin_popcountll(x);   /* no popcnt instruction in the build */
    }
    return c;
}
static inline unsigned bits_count(const uint64_t *w, unsigned u, unsigned n) {
    unsigned k = u & 63;
    if (unlikely(k + n > 63)) return bits_count_long(w, u, n);
    uint64_t x = LOAD_RELAXED(w[u >> 6]) & ((((uint64_t)1 << n) - 1) << k);
    return x ? (unsigned)__builtin_popcountll(x) : 0;
}
/* the heap passes on the clean units it hands out (segment_fresh_used) in batches of this many
 * bytes, and at once when it made a span for them */
#define FRESH_BATCH ((size_t)256 << 10)

static inline unsigned bin_of(unsigned len) { return len <= 64 ? len - 1 : 64; }
/* the class a block is counted in for statistics: its usable size's */
static inline unsigned live_class(unsigned len) {
    size_t n = ((size_t)len << UNIT_SHIFT) - TAIL;
    return size_class(n < MAX_MEDIUM ? n : MAX_MEDIUM);
}
static inline unsigned units_for(size_t n) { return (unsigned)((n + TAIL + UNIT - 1) >> UNIT_SHIFT); }
_Static_assert(UNIT == 4096 && (MAX_MEDIUM + TAIL + UNIT - 1) / UNIT < EXT_LENS, "EXT_LENS counts every block length");


/* x is a unit boundary among pg's units (a block's start, if any block starts there). */
int extent_is_unit(const page_t *pg, uintptr_t x) {
    uintptr_t off = x - pg->start;
    return x >= pg->start && (off & (UNIT - 1)) == 0 && (off >> UNIT_SHIFT) < pg->reserved;
}

static COLD void node_bad(uintptr_t x) {
    brisk_fatal("malloc", "heap corrupted: bad link in the extent bins", (void *)x);
}

/* The metadata and unit of x, which must be the start of a free extent of one of h's spans, or
 * the heap is corrupted (links are checked before they are followed). */
static inline ext_meta_t *node_meta(heap_t *h, uintptr_t x, unsigned *u) {
    if (likely(map_kind(x) == MAP_SEG)) {
        page_t *pg = page_of(x);
        if (likely(pg->owner == h && pg->cls == EXT_CLS && extent_is_unit(pg, x))) {
            ext_meta_t *m = meta_of(pg);
            *u = (unsigned)((x - pg->start) >> UNIT_SHIFT);
            if (likely(bit_get(m->start, *u) && (tag_get(m, *u) & T_FREE))) return m;
        }
    }
    node_bad(x);
    return NULL;
}

/* the metadata and unit of a bin's head, which the owner set: not checked again */
static inline ext_meta_t *meta_at(uintptr_t x, unsigned *u) {
    page_t *pg = page_of(x);
    *u = (unsigned)((x - pg->start) >> UNIT_SHIFT);
    return meta_of(pg);
}

static void bin_push(heap_t *h, page_t *pg, unsigned u, unsigned len) {
    ext_meta_t *m = meta_of(pg);
    uintptr_t x = unit_addr(pg, u);
    unsigned b = bin_of(len), hu;
    uintptr_t head = h->ext_bins[b];
    m->next[u] = head;
    m->prev[u] = 0;
    if (head) meta_at(head, &hu)->prev[hu] = x;
    h->ext_bins[b] = x;
    if (b < 64) h->ext_mask |= (uint64_t)1 << b;
}

static void bin_remove(heap_t *h, page_t *pg, unsigned u, unsigned len) {
    ext_meta_t *m = meta_of(pg);
    uintptr_t x = unit_addr(pg, u);
    unsigned b = bin_of(len), k;
    uintptr_t next = m->next[u], prev = m->prev[u];
    ext_meta_t *mn = next ? node_meta(h, next, &k) : NULL;
    if (prev) {
        unsigned j;
        node_meta(h, prev, &j)->next[j] = next;
    } else if (h->ext_bins[b] == x) {
        h->ext_bins[b] = next;
        if (b < 64 && next == 0) h->ext_mask &= ~((uint64_t)1 << b);
    } else {
        node_bad(x);
    }
    if (mn) mn->prev[k] = prev;
}

/* A span of EXT_SLOTS slots, or of fewer that are resident when no run that long is (slots
 * that class pages left scattered serve a phase of big blocks without fresh memory): enough
 * for `want` units past the metadata (and the segment header, in slot 0). */
static page_t *span_new(heap_t *h, unsigned want) {
    int fresh = 0;
    unsigned min = (unsigned)((((uintptr_t)want + META_UNITS) * UNIT + SEG_HDR + SLOT_SIZE - 1) / SLOT_SIZE);
    page_t *pg = segment_alloc_span(h, EXT_SLOTS, min < EXT_SLOTS ? min : EXT_SLOTS, &fresh, 0);
    if (pg == NULL) return NULL;
    uintptr_t seg = (uintptr_t)segment_of((uintptr_t)pg);
    uintptr_t base = seg + (uintptr_t)pg->slot * SLOT_SIZE + (pg->slot == 0 ? SEG_HDR : 0);
    uintptr_t end = seg + (uintptr_t)(pg->slot + pg->nslots) * SLOT_SIZE;
    pg->start = base + META_UNITS * UNIT;
    pg->reserved = (uint32_t)((end - pg->start) >> UNIT_SHIFT);
    pg->bsize = 0;
    pg->divc = 0;   /* with blim 0, free's fast path never takes a pointer of this span */
    STORE_RELAXED(pg->blim, 0);
    STORE_RELAXED(pg->limit, 0);
    pg->cls = EXT_CLS;
    pg->free = pg->local_free = NULL;
    atomic_store_explicit(page_tf(pg), 0, memory_order_relaxed);
    pg->used = pg->nalloc = pg->capacity = 0;
    pg->in_full = pg->has_aligned = pg->cur = pg->fresh = 0;
    STORE_RELAXED(pg->heap, NULL);
    pg->owner = h;
    ext_meta_t *m = meta_of(pg);
    if (!fresh) memset(m, 0, sizeof *m);
    else clean_put(m, 0, pg->reserved, 1);
    bit_put(m->start, 0, 1);
    tags_set(m, 0, pg->reserved, T_FREE);
    pg->prev = NULL;
    pg->next = h->ext_spans;
    if (h->ext_spans) h->ext_spans->prev = pg;
    h->ext_spans = pg;
    bin_push(h, pg, 0, pg->reserved);
    return pg;
}

/* The span's slots all of whose units are known zero (a tick purged them): bit k for slot k. */
static uint64_t span_clean_slots(page_t *pg) {
    ext_meta_t *m = meta_of(pg);
    uintptr_t seg = (uintptr_t)segment_of(pg->start);
    uint64_t out = 0;
    for (unsigned k = 1; k < pg->nslots; k++) {   /* slot 0 holds the metadata */
        unsigned u = (unsigned)((seg + (uintptr_t)(pg->slot + k) * SLOT_SIZE - pg->start) >> UNIT_SHIFT);
        unsigned e = u + (unsigned)(SLOT_SIZE / UNIT), j = u;
        while (j < e && j < pg->reserved && bit_get(m->clean, j)) j++;
        if (j == e || j == pg->reserved) out |= (uint64_t)1 << k;
    }
    return out;
}

static void span_release(heap_t *h, page_t *pg) {
    uint64_t clean = span_clean_slots(pg);
    bin_remove(h, pg, 0, pg->reserved);
    if (pg->prev) pg->prev->next = pg->next;
    else h->ext_spans = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    pg->next = pg->prev = NULL;
    pg->owner = NULL;
    pg->cls = 0;
    segment_free_span(h, pg, clean);
}

/* Zeroes the units of [u, u + n) not known zero. */
static void zero_dirty(page_t *pg, ext_meta_t *m, unsigned u, unsigned n) {
    unsigned k = u, e = u + n;
    while (k < e) {
        if ((m->clean[k >> 6] >> (k & 63)) & 1) {
            k++;
            continue;
        }
        unsigned j = k + 1;
        while (j < e && !((m->clean[j >> 6] >> (j & 63)) & 1)) j++;
        memset((void *)unit_addr(pg, k), 0, (size_t)(j - k) << UNIT_SHIFT);
        k = j;
    }
}

/* [b, b + need) of the free extent [u, u + len) of pg becomes a block; what is left on either
 * side stays free. */
static void extent_claim(heap_t *h, page_t *pg, ext_meta_t *m, unsigned u, unsigned len, unsigned b,
                         unsigned need) {
    bin_remove(h, pg, u, len);
    if (b > u) {   /* the free extent keeps its start, shorter */
        tags_set(m, u, b - u, T_FREE);
        bin_push(h, pg, u, b - u);
    }
    unsigned r = b + need, end = u + len;
    if (r < end) {
        bit_put(m->start, r, 1);
        tags_set(m, r, end - r, T_FREE);
        bin_push(h, pg, r, end - r);
    }
    bit_put(m->start, b, 1);
    tags_set(m, b, need, 0);
    bit_put(m->freed, b, 0);
    /* Memory that held a class page may still hold a freed block's mark (its key) at the unit's
     * start: realloc copies the first bytes, written or not, into the new block, whose free by
     * another thread would then be called a double free. A clean unit is zero. */
    if (!bit_get(m->clean, b)) ((block_t *)unit_addr(pg, b))->key = 0;
    h->ext_fresh += (size_t)bits_count(m->clean, b, need) << UNIT_SHIFT;
    clean_put(m, b, need, 0);
    bits_put(m->aged, b, need, 0);
    pg->used++;
    pg->capacity = 0;   /* not empty since the last tick */
}

/* The unit to carve `need` units at in the free extent [u, u + len) of pg: its high end, or
 * with `align` (a power of two, 8 KiB or more) the highest unit there at that alignment of
 * address; UNITS_MAX if none. */
static unsigned carve_at(page_t *pg, unsigned u, unsigned len, unsigned need, uintptr_t align) {
    if (len < need) return UNITS_MAX;
    if (align == 0) return u + len - need;
    uintptr_t a = unit_addr(pg, u + len - need) & ~(align - 1);
    return a < unit_addr(pg, u) ? UNITS_MAX : (unsigned)((a - pg->start) >> UNIT_SHIFT);
}

#define ALIGN_SCAN 8   /* long free extents looked at, at most, for an aligned block */

/* The head of a bin that can hold `want` units (best fit), or a long free extent (bin 64) with
 * room for `need` units at `align`; 0 if none. */
static uintptr_t ext_find(heap_t *h, unsigned want, unsigned need, uintptr_t align) {
    uint64_t bins = want <= 64 ? h->ext_mask & (~(uint64_t)0 << (want - 1)) : 0;
    if (bins) return h->ext_bins[__builtin_ctzll(bins)];
    if (align == 0) return h->ext_bins[64];   /* longer than 64 units: room for any block */
    unsigned seen = 0, u;
    for (uintptr_t x = h->ext_bins[64]; x && seen < ALIGN_SCAN; seen++) {
        ext_meta_t *m = node_meta(h, x, &u);
        if (carve_at(page_of(x), u, tag_get(m, u) & T_LEN, need, align) != UNITS_MAX) return x;
        x = m->next[u];
    }
    return 0;
}

/* a block of `need` units handed out */
static inline void count_taken(heap_t *h, unsigned need) {
    h->ext_live_bytes += (size_t)need << UNIT_SHIFT;
    if (h->ext_live_bytes > h->ext_peak) h->ext_peak = h->ext_live_bytes;
    h->ext_allocs[need]++;
    h->ext_live[need]++;
}

/* h's extent blocks handed out and live, added to per-class totals by their usable size */
void extent_totals(heap_t *h, uint64_t allocs[NCLASSES], uint64_t live[NCLASSES]) {
    for (unsigned len = 1; len < EXT_LENS; len++) {
        allocs[live_class(len)] += h->ext_allocs[len];
        live[live_class(len)] += h->ext_live[len];
    }
}

/* The unit of a, a block of `len` units in h's cache: the owner put it there, as it does a bin's
 * head (meta_at), so only its tag is checked again. */
static unsigned cached_unit(page_t *pg, ext_meta_t *m, uintptr_t a, unsigned len) {
    unsigned u = (unsigned)((a - pg->start) >> UNIT_SHIFT);
    if (unlikely(tag_get(m, u) != (len | T_CACHED)))
        brisk_fatal("malloc", "heap corrupted: bad block in the extent cache", (void *)a);
    return u;
}

/* A block of exactly `need` units from h's cache, or NULL. */
static void *cache_take(heap_t *h, unsigned need, size_t n, int zero) {
    if (need > EXT_CACHE_LENS || h->ext_cache_n[need - 1] == 0) return NULL;
    uintptr_t a = h->ext_cache[need - 1][--h->ext_cache_n[need - 1]];
    h->ext_cache_bytes -= (size_t)need << UNIT_SHIFT;
    page_t *pg = page_of(a);
    ext_meta_t *m = meta_of(pg);
    unsigned u = cached_unit(pg, m, a, need);
    tags_set(m, u, need, 0);
    bit_put(m->freed, u, 0);
    if (zero) memset((void *)a, 0, n);
    count_taken(h, need);
    return (void *)a;
}

/* A block of n bytes (n <= large_min) from h's extents, at an address aligned to `align` (0:
 * any unit; else a power of two from 8 KiB to 256 KiB), its memory zeroed with `zero`. */
static void *extent_take(heap_t *h, size_t n, uintptr_t align, int zero) {
    if (unlikely(h->state != HEAP_OWNED)) {
        h = heap_init_thread();
        if (h == NULL) {
            errno = ENOMEM;
            return NULL;
        }
    }
    if (atomic_load_explicit(&h->delayed, memory_order_relaxed)) heap_process_delayed(h);
    /* the purge tick must keep coming in a program that only makes big blocks */
    if ((++h->slow_calls & 31) == 0) heap_tick(h, 0);
    if (unlikely(atomic_load_explicit(&brisk_heapdump_pending, memory_order_relaxed))) heapdump_poll();
    unsigned need = units_for(n);
    /* a free extent this long holds an aligned run of `need` units wherever it starts */
    unsigned want = align ? need + (unsigned)(align >> UNIT_SHIFT) - 1 : need;
    if (align == 0) {
        void *p = cache_take(h, need, n, zero);
        if (p) return p;
    }
    uintptr_t x;
    int made = 0;
    while ((x = ext_find(h, want, need, align)) == 0) {   /* best fit, else a new span */
        if (span_new(h, want) == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        made = 1;
    }
    unsigned u;
    ext_meta_t *m = node_meta(h, x, &u);
    page_t *pg = page_of(x);
    unsigned len = tag_get(m, u) & T_LEN, at = carve_at(pg, u, len, need, align);
    /* calloc: the n bytes asked for; the unit past them that only TAIL needed is left as is */
    if (zero) zero_dirty(pg, m, at, (unsigned)((n + UNIT - 1) >> UNIT_SHIFT));
    extent_claim(h, pg, m, u, len, at, need);
    if (h->ext_fresh >= FRESH_BATCH || made) {
        segment_fresh_used(h, h->ext_fresh, made);   /* a span made: no free extent could serve */
        h->ext_fresh = 0;
    }
    count_taken(h, need);
    return (void *)unit_addr(pg, at);
}

/* A block from the cache, when it holds one of this length and no housekeeping is due on this
 * call (no tick, no delayed frees, no heap dump), without extent_take's frame and checks:
 * random 1-64 KiB sizes take 7 in 10 of their blocks there. */
void *extent_malloc(heap_t *h, size_t n, int zero) {
    unsigned need = units_for(n);
    if (likely(need <= EXT_CACHE_LENS && h->ext_cache_n[need - 1] != 0 && h->state == HEAP_OWNED &&
               slow_call_quiet(h)))
        return cache_take(h, need, n, zero);
    return extent_take(h, n, 0, zero);
}

/* An aligned block: carved at the alignment itself, so it needs no over-allocation and no
 * interior pointer (free finds its start as for any extent block). A memalign(64 KiB, 2 KiB)
 * takes one unit instead of a 64 KiB class block. */
void *extent_malloc_aligned(heap_t *h, size_t n, size_t align) { return extent_take(h, n, align, 0); }

/* The unit of a, the start of a live block of pg, or a message and abort. From another thread
 * too: a live block's own start bit and tags stay as they are while it is live. */
static COLD void not_live(page_t *pg, uintptr_t a, const char *func) {
    if (extent_is_unit(pg, a) && bit_get(meta_of(pg)->freed, (unsigned)((a - pg->start) >> UNIT_SHIFT)))
        brisk_fatal(func, "double free", (void *)a);
    brisk_fatal(func, "invalid pointer (not the start of a block)", (void *)a);
}
static inline unsigned live_unit(page_t *pg, uintptr_t a, const char *func) {
    ext_meta_t *m = meta_of(pg);
    unsigned u = (unsigned)((a - pg->start) >> UNIT_SHIFT);
    if (unlikely(!extent_is_unit(pg, a) || !bit_get(m->start, u) || (tag_get(m, u) & (T_FREE | T_CACHED))))
        not_live(pg, a, func);
    return u;
}

/* On the owner, other threads' frees waiting for it are taken first: an earlier free of a by
 * another thread must be seen, or a second one would free reused memory. */
static COLD void drain_owner(heap_t *h, page_t *pg, uintptr_t a, const char *func) {
    heap_process_delayed(h);
    /* the drain may run a tick that gives a's span back: only once every block in it was
     * freed, a (which lies in it) included */
    if (map_kind(a) != MAP_SEG || page_of(a) != pg || pg->cls != EXT_CLS || pg->owner != h)
        brisk_fatal(func, "double free", (void *)a);
}
static inline void drain_if_owner(page_t *pg, uintptr_t a, const char *func) {
    heap_t *h = pg->owner;
    if (h == brisk_tls_heap && unlikely(atomic_load_explicit(&h->delayed, memory_order_relaxed)))
        drain_owner(h, pg, a, func);
}

size_t extent_usable(page_t *pg, uintptr_t a, const char *func) {
    drain_if_owner(pg, a, func);
    unsigned u = live_unit(pg, a, func);
    return ((size_t)(tag_get(meta_of(pg), u) & T_LEN) << UNIT_SHIFT) - TAIL;
}

/* Takes the block at a, `len` units, out of h's cache (a realloc grows into it, or a join takes
 * it along). */
static void cache_drop(heap_t *h, uintptr_t a, unsigned len) {
    uintptr_t *c = h->ext_cache[len - 1];
    for (unsigned i = 0, n = h->ext_cache_n[len - 1]; i < n; i++)
        if (c[i] == a) {
            c[i] = c[n - 1];
            h->ext_cache_n[len - 1]--;
            h->ext_cache_bytes -= (size_t)len << UNIT_SHIFT;
            return;
        }
    brisk_fatal("malloc", "heap corrupted: a cached extent block is not in the cache", (void *)a);
}

/* The neighbour [v, v + l) of a block being joined, if it is free or cached: out of its bin or
 * the cache (a cached block still counts in pg->used); 0 if it is live. */
static unsigned take_neighbour(heap_t *h, page_t *pg, unsigned v, uint16_t t) {
    unsigned l = t & T_LEN;
    if (t & T_FREE) bin_remove(h, pg, v, l);
    else if (t & T_CACHED) {
        cache_drop(h, unit_addr(pg, v), l);
        pg->used--;
    } else return 0;
    return l;
}

/* Frees [u, u + len) into the bins, joined with the free or cached extents on either side: a
 * cached block never keeps two free extents apart (extent_free_local). */
static void extent_join(heap_t *h, page_t *pg, ext_meta_t *m, unsigned u, unsigned len) {
    unsigned s = u, total = len, l;
    pg->used--;
    if (s > 0) {
        uint16_t t = tag_get(m, s - 1);
        if ((l = take_neighbour(h, pg, s - (t & T_LEN), t)) != 0) {
            bit_put(m->start, s, 0);
            s -= l;
            total += l;
        }
    }
    unsigned r = u + len;
    if (r < pg->reserved && (l = take_neighbour(h, pg, r, tag_get(m, r))) != 0) {
        bit_put(m->start, r, 0);
        total += l;
    }
    tags_set(m, s, total, T_FREE);
    bin_push(h, pg, s, total);
}

/* Puts the freed block [u, u + len) of pg in h's cache; 0 if it has no room for it. */
static int cache_put(heap_t *h, page_t *pg, ext_meta_t *m, unsigned u, unsigned len, uintptr_t a) {
    size_t bytes = (size_t)len << UNIT_SHIFT, cap = h->ext_live_bytes >> EXT_CACHE_SHIFT;
    if (len > EXT_CACHE_LENS || !brisk_opt.extent_cache || h->ext_cache_n[len - 1] == EXT_CACHE_N ||
        h->ext_cache_bytes + bytes > (cap > EXT_CACHE_MIN ? cap : EXT_CACHE_MIN))
        return 0;
    /* only between live blocks: a block next to free memory joins it at once, so that a cached
     * block never splits a free run that a longer request could have (8-64 KiB sizes, 16 live:
     * 1.24 -> 0.99 MB of peak RSS) */
    if ((u > 0 && (tag_get(m, u - 1) & (T_FREE | T_CACHED))) ||
        (u + len < pg->reserved && (tag_get(m, u + len) & (T_FREE | T_CACHED))))
        return 0;
    tags_set(m, u, len, T_CACHED);
    h->ext_cache[len - 1][h->ext_cache_n[len - 1]++] = a;
    h->ext_cache_bytes += bytes;
    return 1;
}

/* Every block of h's cache joins the free extents. */
static void cache_flush(heap_t *h) {
    /* a join may take other cached blocks with it (take_neighbour): n is read again each time */
    for (unsigned l = 0; l < EXT_CACHE_LENS; l++)
        while (h->ext_cache_n[l]) {
            uintptr_t a = h->ext_cache[l][--h->ext_cache_n[l]];
            h->ext_cache_bytes -= (size_t)(l + 1) << UNIT_SHIFT;
            page_t *pg = page_of(a);
            ext_meta_t *m = meta_of(pg);
            extent_join(h, pg, m, cached_unit(pg, m, a, l + 1), l + 1);
        }
}

void extent_free_local(heap_t *h, page_t *pg, uintptr_t a, const char *func) {
    ext_meta_t *m = meta_of(pg);
    unsigned u = live_unit(pg, a, func);
    unsigned len = tag_get(m, u) & T_LEN;
    bit_put(m->freed, u, 1);
    h->ext_live[len]--;
    if (!cache_put(h, pg, m, u, len, a)) extent_join(h, pg, m, u, len);
    /* A tick by volume too, once the live bytes fell to half their peak since the last timed
     * tick (and tick_freed_bytes were freed): what is free now is aged, to give way as soon as
     * the heap takes fresh memory, before the clock comes. It purges nothing itself: a server's
     * bursts free and take again as much, and a purge at each refaulted it all. M_TRIM_THRESHOLD
     * 0 asks for free memory to go at once: then it is a timed tick, keeping nothing. */
    h->ext_freed += (size_t)len << UNIT_SHIFT;
    h->ext_live_bytes -= (size_t)len << UNIT_SHIFT;
    if (h->ext_freed > brisk_opt.tick_freed_bytes && h->ext_live_bytes <= h->ext_peak / 2)
        extent_tick(h, brisk_opt.tick_freed_bytes ? EXT_AGE : EXT_TIMED);
}

void extent_free(page_t *pg, uintptr_t a, const char *func) {
    heap_t *me = brisk_tls_heap, *h = pg->owner;
    if (likely(h == me)) {
        drain_if_owner(pg, a, func);
        extent_free_local(h, pg, a, func);   /* which checks a */
        return;
    }
    live_unit(pg, a, func);
    if (me->state == HEAP_OWNED) STORE_RELAXED(me->remote_frees, me->remote_frees + 1);
    block_t *b = (block_t *)a, *d = atomic_load_explicit(&h->delayed, memory_order_relaxed);
    do link_set(b, d);
    while (!atomic_compare_exchange_weak_explicit(&h->delayed, &d, b, memory_order_release, memory_order_relaxed));
}

/* realloc of a live extent block: in place while the new size fits and wastes at most half, or
 * grown into a free right neighbour (owner only). NULL: move it; *usable says how much to copy. */
void *extent_realloc(page_t *pg, uintptr_t a, size_t n, size_t *usable) {
    ext_meta_t *m = meta_of(pg);
    drain_if_owner(pg, a, "realloc");
    unsigned u = live_unit(pg, a, "realloc");
    unsigned len = tag_get(m, u) & T_LEN;
    *usable = ((size_t)len << UNIT_SHIFT) - TAIL;
    if (n <= *usable) return n >= *usable / 2 ? (void *)a : NULL;
    heap_t *h = pg->owner;
    if (h != brisk_tls_heap || n > brisk_opt.large_min) return NULL;
    unsigned need = units_for(n), r = u + len, extra = need - len;
    if (r >= pg->reserved) return NULL;
    uint16_t t = tag_get(m, r);
    if (t & T_CACHED) {   /* a block freed meanwhile: it joins what is free past it first */
        cache_drop(h, unit_addr(pg, r), t & T_LEN);
        extent_join(h, pg, m, r, t & T_LEN);
        t = tag_get(m, r);
    }
    unsigned rl = t & T_LEN;
    if (!(t & T_FREE) || rl < extra) return NULL;
    bin_remove(h, pg, r, rl);
    bit_put(m->start, r, 0);
    if (rl > extra) {
        bit_put(m->start, r + extra, 1);
        tags_set(m, r + extra, rl - extra, T_FREE);
        bin_push(h, pg, r + extra, rl - extra);
    }
    tags_set(m, u, need, 0);
    clean_put(m, r, extra, 0);
    bits_put(m->aged, r, extra, 0);
    h->ext_live_bytes += (size_t)extra << UNIT_SHIFT;
    if (h->ext_live_bytes > h->ext_peak) h->ext_peak = h->ext_live_bytes;
    h->ext_live[len]--;
    h->ext_live[need]++;
    *usable = ((size_t)need << UNIT_SHIFT) - TAIL;
    return (void *)a;
}

static inline int bit_of(const uint64_t *w, unsigned k) { return (int)((w[k >> 6] >> (k & 63)) & 1); }

/* Purges the units of a free extent that stayed free since the last tick and are not known zero,
 * in whole OS pages; returns bytes. */
static size_t purge_extent(page_t *pg, ext_meta_t *m, unsigned u, unsigned len, int all) {
    size_t ps = os_page_size(), total = 0;
    uintptr_t lo = align_up(unit_addr(pg, u), ps), hi = unit_addr(pg, u + len) & ~(uintptr_t)(ps - 1);
    if (hi <= lo) return 0;
    unsigned k = (unsigned)((lo - pg->start) >> UNIT_SHIFT), e = (unsigned)((hi - pg->start) >> UNIT_SHIFT);
    if (ps != UNIT) {   /* OS pages of several units: the range whole, if anything in it was used */
        for (unsigned j = k; j < e; j++)
            if (!bit_of(m->clean, j) && (all || bit_of(m->aged, j))) {
                os_purge((void *)lo, hi - lo);
                clean_put(m, k, e - k, 1);
                return hi - lo;
            }
        return 0;
    }
    /* runs of used, aged units, one madvise across the clean units between two of them (the
     * kernel flushes no TLB for a range with nothing resident, and flushes once per call) */
#define WANTED(j) (!bit_of(m->clean, j) && (all || bit_of(m->aged, j)))
    while (k < e) {
        if (!WANTED(k)) {
            k++;
            continue;
        }
        unsigned j = k + 1, end = k + 1, n = 1;
        for (; j < e && (WANTED(j) || bit_of(m->clean, j)); j++)
            if (WANTED(j)) end = j + 1, n++;
        os_purge((void *)unit_addr(pg, k), (size_t)(end - k) << UNIT_SHIFT);
        clean_put(m, k, end - k, 1);
        total += (size_t)n << UNIT_SHIFT;
        k = j;
    }
#undef WANTED
    return total;
}

/* Purges pg's free extents (their aged units, or with `all` every unit) until `limit` bytes
 * are gone, passing over whole free extents while *keep bytes of them are left to keep; with
 * `age`, marks every free unit aged for the next tick. Returns the bytes purged. */
static size_t span_purge_free(page_t *pg, int all, int age, size_t limit, size_t *keep) {
    ext_meta_t *m = meta_of(pg);
    size_t total = 0;
    for (unsigned u = 0, len; u < pg->reserved && (age || total < limit); u += len) {
        uint16_t t = tag_get(m, u);
        len = t & T_LEN;
        if (len == 0 || u + len > pg->reserved)
            brisk_fatal("malloc", "heap corrupted: bad extent tag in span", pg);
        if (!(t & T_FREE)) continue;
        size_t bytes = (size_t)len << UNIT_SHIFT;
        if (*keep >= bytes) *keep -= bytes;
        else if (total < limit) total += purge_extent(pg, m, u, len, all);
        if (age) bits_put(m->aged, u, len, 1);
    }
    return total;
}

/* At each timed tick (EXT_TIMED): units free since the previous tick are purged and spans
 * empty since then go back to their segment, but for as much free memory as the live extents
 * rose above their present level in the last two periods: what the heap proved it takes again
 * (a server's bursts of replies). With EXT_ALL (thread exit, malloc_trim, orphans): every free
 * unit and empty span at once. A tick by volume (EXT_AGE) purges and releases nothing: the
 * units free now are aged and give way as fresh memory comes in (extent_shed). An extent
 * page's `capacity` (unused by extents) says the span was empty at the last tick. */
void extent_tick(heap_t *h, int mode) {
    size_t peak = h->ext_peak > h->ext_peak_prev ? h->ext_peak : h->ext_peak_prev;
    size_t total = 0, keep = mode == EXT_TIMED && brisk_opt.tick_freed_bytes && peak > h->ext_live_bytes
                                  ? peak - h->ext_live_bytes : 0;
    page_t *pg, *next;
    cache_flush(h);
    h->ext_freed = 0;
    if (mode != EXT_AGE) {
        h->ext_peak_prev = mode == EXT_ALL ? 0 : h->ext_peak;
        h->ext_peak = h->ext_live_bytes;
    }
    for (pg = h->ext_spans; pg; pg = next) {
        next = pg->next;
        if (pg->used == 0 && (mode == EXT_ALL || (mode == EXT_TIMED && pg->capacity))) {
            size_t bytes = (size_t)pg->reserved << UNIT_SHIFT;
            if (keep < bytes) {
                span_release(h, pg);
                continue;
            }
            keep -= bytes;   /* an empty span the recent peaks took: kept whole, as it is */
            continue;
        }
        pg->capacity = pg->used == 0;
        total += span_purge_free(pg, mode == EXT_ALL, 1, mode == EXT_AGE ? 0 : SIZE_MAX, &keep);
        h->ext_aged = 1;
    }
    if (total) atomic_fetch_add_explicit(&brisk_cnt.purged, total, memory_order_relaxed);
}

/* Purges the free units of h's spans that are still resident and were free before the last
 * tick (those the next tick would purge), a free extent at a time, until `bytes` are gone
 * (segment_fresh_used); returns what is left of `bytes`. */
size_t extent_shed(heap_t *h, size_t bytes) {
    size_t total = 0;
    if (!h->ext_aged) return bytes;
    for (page_t *pg = h->ext_spans; pg && total < bytes; pg = pg->next)
        total += span_purge_free(pg, 0, 0, bytes - total, &(size_t){0});
    if (total) atomic_fetch_add_explicit(&brisk_cnt.purged, total, memory_order_relaxed);
    if (total < bytes) h->ext_aged = 0;   /* every aged unit purged: none until the next tick */
    return total < bytes ? bytes - total : 0;
}

/* Lending: a class page that needs a slot while no segment has a resident free one takes a
 * whole slot of a free extent still resident, as an extent block of the span, rather than
 * fresh memory: a program whose big blocks give way to small ones (frag's phases) then reuses
 * what they freed in place, where a fresh slot would purge it (segment_fresh_used) and a later
 * phase fault it in again. The slot's page struct (pages[k], its head itself) holds the class
 * page; extent_take_back, when that page retires, gives the units back to the span. */
#define SLOT_UNITS ((unsigned)(SLOT_SIZE / UNIT))
#define LEND_SCAN  32   /* free extents looked at, at most, for one slot */

/* the unit of a slot of pg that lies whole in the free extent [u, u + len), resident for at
 * least half its units; UNITS_MAX if none */
static unsigned lend_unit(page_t *pg, ext_meta_t *m, unsigned u, unsigned len) {
    uintptr_t a = align_up(unit_addr(pg, u), SLOT_SIZE);
    if (a + SLOT_SIZE > unit_addr(pg, u + len)) return UNITS_MAX;
    unsigned b = (unsigned)((a - pg->start) >> UNIT_SHIFT);
    return bits_count(m->clean, b, SLOT_UNITS) <= SLOT_UNITS / 2 ? b : UNITS_MAX;
}

page_t *extent_lend_slot(heap_t *h) {
    unsigned seen = 0, u = 0, len = 0, b = UNITS_MAX;
    page_t *pg = NULL;
    ext_meta_t *m = NULL;
    uint64_t bins = h->ext_mask & (~(uint64_t)0 << (SLOT_UNITS - 1));   /* 16 units or more */
    if (bins == 0 && h->ext_bins[64] == 0) return NULL;
    /* only while big blocks gave way (live extents at half their recent peak or less): a heap
     * whose mix of sizes holds steady takes what it freed back at once, and lending would
     * break up the free extents it is about to need */
    size_t peak = h->ext_peak > h->ext_peak_prev ? h->ext_peak : h->ext_peak_prev;
    if (h->ext_live_bytes > peak / 2) return NULL;
    for (unsigned bin = SLOT_UNITS - 1; bin < EXT_BINS && b == UNITS_MAX && seen < LEND_SCAN; bin++) {
        if (bin < 64 && !((bins >> bin) & 1)) continue;
        for (uintptr_t x = h->ext_bins[bin]; x && seen < LEND_SCAN; seen++) {
            m = node_meta(h, x, &u);
            pg = page_of(x);
            len = tag_get(m, u) & T_LEN;
            b = lend_unit(pg, m, u, len);
            if (b != UNITS_MAX) break;
            x = m->next[u];
        }
    }
    if (b == UNITS_MAX) return NULL;
    extent_claim(h, pg, m, u, len, b, SLOT_UNITS);
    bits_put(m->lent, b, SLOT_UNITS, 1);
    segment_t *s = segment_of(pg->start);
    unsigned k = (unsigned)((unit_addr(pg, b) - (uintptr_t)s) / SLOT_SIZE);
    page_t *cp = &s->pages[k];
    cp->slot = (uint8_t)k;
    cp->nslots = 1;
    cp->lent = 1;
    STORE_RELAXED(cp->head, cp);
    return cp;
}

void extent_take_back(heap_t *h, page_t *cp) {
    segment_t *s = segment_of((uintptr_t)cp);
    unsigned k = cp->slot;
    page_t *pg = NULL;
    for (unsigned j = k; j-- > 0 && k - j < EXT_SLOTS;) {   /* the span holding slot k */
        page_t *q = &s->pages[j];
        if (q->head == q && q->cls == EXT_CLS && j + q->nslots > k) {
            pg = q;
            break;
        }
    }
    uintptr_t a = (uintptr_t)s + (uintptr_t)k * SLOT_SIZE;
    ext_meta_t *m = pg ? meta_of(pg) : NULL;
    unsigned b = pg ? (unsigned)((a - pg->start) >> UNIT_SHIFT) : 0;
    if (pg == NULL || pg->owner != h || !bit_get(m->start, b) || !bit_get(m->lent, b) ||
        tag_get(m, b) != SLOT_UNITS)
        brisk_fatal("free", "heap corrupted: a lent slot's span is gone", cp);
    cp->lent = 0;
    cp->cls = 0;
    STORE_RELAXED(cp->head, pg);
    bits_put(m->lent, b, SLOT_UNITS, 0);
    extent_join(h, pg, m, b, SLOT_UNITS);
}

/* For a heap dump, from any thread: the bytes of the span not known purged (its metadata and
 * every unit not marked clean), a snapshot while the owner carves and purges. */
size_t extent_committed(page_t *pg) {
    ext_meta_t *m = meta_of(pg);
    unsigned n = LOAD_RELAXED(pg->reserved), dirty = 0;
    if (n > UNITS_MAX) n = UNITS_MAX;   /* a span being made or given back meanwhile */
    for (unsigned u = 0; u < n; u += 64) {
        uint64_t w = ~LOAD_RELAXED(m->clean[u >> 6]) & ~LOAD_RELAXED(m->lent[u >> 6]);   /* a lent slot is its page's */
        if (n - u < 64) w &= ((uint64_t)1 << (n - u)) - 1;
        dirty += (unsigned)__builtin_popcountll(w);
    }
    return ((size_t)META_UNITS + dirty) << UNIT_SHIFT;
}
