/* brisk's data model: every internal type and the small inline helpers, in one place.
 *
 * Memory comes from the OS in segments: 4 MiB, aligned to 4 MiB. A segment is cut into 64 slots
 * of 64 KiB; a page is a span of one or more slots holding blocks of one size class. The segment
 * header (the first 8 KiB of slot 0) holds the page structs, so metadata never sits next to a
 * block: from any pointer, the segment is `p & ~(4 MiB - 1)` and the page a shift away.
 *
 * Each thread allocates from its own heap (no lock, no atomic read-modify-write). Each page has
 * three free lists: `free` (what malloc pops), `local_free` (what the owner freed since) and
 * `thread_free` (what other threads freed, pushed with one CAS). Blocks above extent_min (8 KiB)
 * up to 256 KiB come from extent pages instead: spans shared by all those sizes, carved in 4 KiB
 * units (extent.c). Blocks above 256 KiB are "large": their own mapping, with a header at the
 * start of the mapping (large.c).
 *
 * A byte map with one entry per 4 MiB of address space says what brisk has there, so a pointer
 * brisk never handed out is recognised before anything is read through it. */
#ifndef BRISK_INTERNAL_H
#define BRISK_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define INTERNAL    __attribute__((visibility("hidden")))
#define NOINLINE    __attribute__((noinline))
#define COLD        __attribute__((cold, noinline))

/* ---- geometry ---- */
#define SEG_SHIFT   22
#define SEG_SIZE    ((uintptr_t)1 << SEG_SHIFT)
#define SEG_MASK    (SEG_SIZE - 1)
#define SLOT_SHIFT  16
#define SLOT_SIZE   ((uintptr_t)1 << SLOT_SHIFT)
#define SLOTS       (SEG_SIZE / SLOT_SIZE)          /* 64: one bit each in a uint64_t */
#define SEG_HDR     16384                            /* page structs live here, in slot 0 */
#define ALL_SLOTS   (~(uint64_t)0)

#define ALIGNMENT   16
#define MAX_SMALL   1024                             /* sizes served through heap->direct[] */
#define DIRECT_N    (MAX_SMALL / ALIGNMENT + 1)
#define MAX_MEDIUM  (256 * 1024)                     /* largest size class; above: large.c */
#define CLASS_STEPS 8                                /* size classes per doubling above 128 B */
#define NCLASSES    (8 + 11 * CLASS_STEPS)           /* 16..128 by 16, then to 256 KiB */

#define ADDR_BITS   47                               /* user space of x86-64 / aarch64 (4 levels) */
#define MAP_N       ((size_t)1 << (ADDR_BITS - SEG_SHIFT))
#define LARGE_HDR   64                               /* header before the block of a large mapping */

/* What brisk_map says about one 4 MiB unit of address space. */
enum {
    MAP_NONE = 0,       /* not brisk's */
    MAP_SEG,            /* a segment of pages starts here */
    MAP_LARGE_HERE,     /* a large mapping's header is at the start of this unit */
    MAP_LARGE_PREV,     /* its header is at the start of the unit before (alignment >= 4 MiB) */
    MAP_LARGE_BODY,     /* inside a large block: never the start of one */
};

/* An aligned allocation that hands out p inside block b (p - b >= 16, bytes the user does not
 * own) tags b: b->next = p ^ secret, b->key = secret ^ ALIGNED_SALT. free accepts an interior
 * pointer only when the tag names it. */
#define ALIGNED_SALT ((uintptr_t)0x5a11a11ed)


/* thread_free's low bit: the page sits in its heap's full list, so remote frees go to the
 * heap's delayed list instead (and the owner sees them without scanning full pages). */
#define TF_FULL ((uintptr_t)1)
/* Its top 16 bits count the blocks on the list (pushes since the owner last took it; a page has
 * at most 4096 blocks), so the owner takes the list without walking it: the walk read every
 * block another core had just written, and the pops read them again. Bits 47..63 of a user
 * address are zero. */
#define TF_COUNT_SHIFT 48
#define TF_PTR(x) ((x) & ((((uintptr_t)1) << TF_COUNT_SHIFT) - 1) & ~TF_FULL)

typedef struct block {
    struct block *next;
    uintptr_t key;      /* brisk_secret while the block is free: a cheap double-free tell */
} block_t;

struct heap;

typedef struct page {
    /* first cache line: what free's fast path reads, on any thread, and the owner rarely
     * writes (another thread's free then reads a line the owner's mallocs and frees leave
     * alone) */
    struct page *head;          /* the page struct of this slot's span; &brisk_empty_page if none */
    struct heap *heap;          /* owner, or NULL while the page is full: free's fast path takes
                                 * only pages that are neither another thread's nor full */
    uintptr_t start;            /* address of block 0 */
    uint64_t blim;              /* off (from start) is a carved block's iff off * divc < blim */
    uint64_t divc;              /* see in_blocks */
    struct heap *owner;         /* owner; never changes while the page holds live blocks */
    uintptr_t limit;            /* bytes from start carved into blocks so far */
    uint32_t bsize;
    uint8_t cls;
    uint8_t slot;               /* first slot of the span */
    uint8_t nslots;
    uint8_t lent;               /* a class page on a slot lent by an extent span (extent_lend_slot) */
    /* second cache line: what the owner's mallocs and frees write */
    block_t *free;              /* what malloc pops */
    block_t *local_free;        /* what the owner freed since the last collect */
    uint32_t used;              /* blocks handed out and not known to be freed, +1 if `cur` */
    uint8_t in_full;            /* on the heap's full list */
    uint8_t fresh;              /* `free` holds only never-used blocks of zeroed memory */
    uint8_t has_aligned;        /* interior pointers handed out by an aligned allocation */
    uint8_t cur;                /* first in its class queue: `used` carries one extra count, so
                                 * freeing its last block stays on free's fast path */
    uint8_t tail_dirty;         /* made on slots another span had used: memory past `limit` may
                                 * be resident (purge_tails) */
    uint32_t capacity;          /* blocks carved */
    uint32_t reserved;          /* blocks that fit */
    struct page *next, *prev;   /* in a class queue or the full list */
    uint64_t nalloc;            /* blocks handed out, added to the owner's class count when the
                                 * page is retired (statistics add it before): no pop settles it,
                                 * hence 64 bits */
} __attribute__((aligned(128))) page_t;
/* 128 bytes: the page struct of a pointer is a shift and a mask away (page_of) */
_Static_assert(sizeof(page_t) == 128, "page_t must be 128 bytes");
/* larson on 2 CPUs: 0.31 s with free, used and the rest on the line another thread's free reads,
 * 0.27 s apart from it, 0.31 s again with thread_free on the read-mostly line */
_Static_assert(offsetof(page_t, lent) < 64 && offsetof(page_t, free) == 64,
               "what free reads on any thread, then what the owner writes, one cache line each");

/* A page's thread_free word lives in its segment's header, two to a cache line: other threads'
 * frees CAS it, and on the page struct it pulled away the line the owner's mallocs and frees
 * write (or, on the first line, the one every free reads). larson on 2 CPUs (with the prefetch
 * in brisk_malloc): 0.23 s with it on the page struct, 0.21 s here; 64 bytes apart measured the
 * same as 32 and do not fit beside secure mode's guard page at the header's end. */
#define TF_STRIDE 32
typedef struct segment {
    page_t pages[SLOTS];
    uint64_t free_slots;        /* slots not in any page */
    uint64_t clean;             /* slots whose memory is known zero (fresh or purged) */
    uint64_t dirty_new;         /* free slots freed since the last purge tick */
    uint64_t dirty_old;         /* free slots freed before it: purged at the next tick */
    struct heap *heap;
    struct segment *next, *prev;
    uint8_t on_full_list;
    /* secure mode: slots whose first / last OS page is a guard page now (they stay across a
     * span's retirement, so a span made again on the same slots costs no mprotect) */
    uint64_t guard_lead, guard_tail;
    /* what other threads freed into each page (page_tf): a list, its count and TF_FULL */
    struct { _Atomic uintptr_t v; char pad[TF_STRIDE - sizeof(uintptr_t)]; } __attribute__((aligned(TF_STRIDE))) tf[SLOTS];
} segment_t;

/* the thread_free word of pg, a page struct of a segment (never brisk_empty_page) */
static inline _Atomic uintptr_t *page_tf(page_t *pg) {
    segment_t *s = (segment_t *)((uintptr_t)pg & ~SEG_MASK);
    return &s->tf[pg - s->pages].v;
}

_Static_assert(sizeof(segment_t) <= SEG_HDR - 4096 && offsetof(segment_t, pages) == 0,
               "segment header, with room for secure mode's guard page at its end");

/* extent spans (extent.c): a page whose cls is EXT_CLS holds blocks of any size above
 * extent_min, in 4 KiB units; EXT_BINS free lists per heap */
#define EXTENT_MIN_DEFAULT 8192  /* as the Makefile's EXTENTS */
#ifndef BRISK_EXTENT_MIN
#define BRISK_EXTENT_MIN EXTENT_MIN_DEFAULT
#endif
/* extents=1 when the build has them off (EXTENTS=0): the threshold they would have had */
#define EXTENT_MIN_ON (BRISK_EXTENT_MIN ? BRISK_EXTENT_MIN : EXTENT_MIN_DEFAULT)
#define EXT_CLS  255
#define EXT_BINS 65
/* freed extent blocks of up to EXT_CACHE_LENS units wait for a request of their length, at
 * most EXT_CACHE_N of each (extent.c, deferred coalescing) */
#define EXT_CACHE_LENS 32
/* lengths in 4 KiB units an extent block can have: up to MAX_MEDIUM and its 16-byte tail */
#define EXT_LENS (MAX_MEDIUM / 4096 + 2)
#define EXT_CACHE_N    8

typedef struct pageq { page_t *first, *last; } pageq_t;

/* Secure mode's freed blocks waiting before reuse: a FIFO ring (secure.c). */
typedef struct quarantine {
    block_t **ring;
    uint32_t head, n;
    size_t bytes;
} quarantine_t;

enum { HEAP_EMPTY = 0, HEAP_OWNED, HEAP_ORPHAN };

typedef struct heap {
    page_t *direct[DIRECT_N];   /* (size + 15) / 16 -> page to allocate from */
    uint64_t class_allocs[NCLASSES];   /* blocks handed out, per class (plus pages' nalloc) */
    /* per-class totals at the last tick, for other threads' statistics */
    uint64_t snap_allocs[NCLASSES];
    uint64_t snap_live[NCLASSES];
    pageq_t queues[NCLASSES];   /* pages with (maybe) free blocks; first is current */
    pageq_t full;               /* pages found with no free block */
    _Atomic(block_t *) delayed; /* remote frees into full pages */
    segment_t *segs;            /* segments with free slots */
    segment_t *segs_full;       /* segments without */
    uint64_t last_tick_ms;
    size_t freed_since_tick;    /* bytes of pages given back to segments since the last tick */
    uint32_t slow_calls;
    int state;
    uint64_t remote_frees;      /* frees this thread made into other heaps' pages */
    size_t live_snapshot;       /* bytes live at the last tick, for other threads' stats */
    quarantine_t quar;          /* secure mode: this thread's freed blocks, not yet reusable */
    /* extents (extent.c): free extents by length in units (1..64, then longer), the non-empty
     * bins among the first 64, the heap's extent spans, live extent blocks per class */
    uintptr_t ext_bins[EXT_BINS];
    uint64_t ext_mask;
    struct page *ext_spans;
    /* extent blocks live and handed out, by length in units: turned into classes only when
     * statistics are read (extent_totals), not on each malloc and free */
    uint32_t ext_live[EXT_LENS];
    uint64_t ext_allocs[EXT_LENS];
    size_t ext_freed;           /* bytes of extents freed since the last extent tick */
    size_t ext_live_bytes;      /* bytes of live extent blocks (units) */
    size_t ext_peak;            /* the most of them since the last extent tick */
    size_t ext_peak_prev;       /* the most of them in the tick period before */
    size_t ext_fresh;           /* bytes of clean units handed out, not yet passed on to
                                 * segment_fresh_used */
    int ext_aged;               /* some free units may be aged and resident (extent_shed) */
    uintptr_t ext_cache[EXT_CACHE_LENS][EXT_CACHE_N];   /* freed blocks by length - 1, not joined */
    uint8_t ext_cache_n[EXT_CACHE_LENS];
    size_t ext_cache_bytes;
    struct heap *all_next;      /* registry of every heap ever made */
    struct heap *orphan_next;
} heap_t;

/* ---- globals ---- */
extern uint8_t brisk_map[MAP_N] INTERNAL;
/* One bit per 4 KiB page of brisk_map that ever held an entry: what a walk of the whole map
 * reads (heap dumps), so that it touches none of the zero pages (32 MiB of RSS, read once). */
#define MAP_PAGE_UNITS 4096
extern uint64_t brisk_map_pages[MAP_N / MAP_PAGE_UNITS / 64] INTERNAL;
extern uintptr_t brisk_secret INTERNAL;
extern page_t brisk_empty_page INTERNAL;
extern heap_t brisk_empty_heap INTERNAL;
extern __thread heap_t *brisk_tls_heap INTERNAL __attribute__((tls_model("initial-exec")));

#define OPT_PATH_MAX 256
struct brisk_options {
    int stats;
    unsigned purge_delay_ms;
    char trace[OPT_PATH_MAX];       /* trace=FILE */
    char heapmap[OPT_PATH_MAX];     /* heapmap=FILE */
    int secure;                     /* secure=1: canaries, fill, quarantine (secure.c) */
    int extent_cache;               /* extent_cache=0: freed extent blocks join at once */
    unsigned long test_fail_map;    /* test_fail_map=N: the N-th mapping call fails (os.c) */
    size_t large_min;               /* requests above it get their own mapping: mallopt's
                                     * M_MMAP_THRESHOLD, MAX_SMALL..MAX_MEDIUM */
    size_t extent_min;              /* requests above it (and up to large_min) go to extents;
                                     * SIZE_MAX: none (extents=0, secure mode) */
    size_t tick_freed_bytes;        /* pages freed that bring the purge tick forward: mallopt's
                                     * M_TRIM_THRESHOLD */
};
extern struct brisk_options brisk_opt INTERNAL;

/* Set once at start-up when every call must reach the slow paths (tracing): heaps' direct tables
 * stay empty and pages' `heap` NULL, so the fast paths never take a call. */
extern int brisk_fast_off INTERNAL;
static inline struct heap *fast_heap(struct heap *h) { return brisk_fast_off ? NULL : h; }

/* process-wide counters, updated on slow paths only */
struct brisk_counters {
    _Atomic size_t mapped, committed, peak_committed, purged;
    _Atomic size_t large_allocs, large_live, large_live_bytes, large_cached, large_cached_bytes;
    _Atomic size_t heaps_created, heaps_reclaimed;
};
extern struct brisk_counters brisk_cnt INTERNAL;

/* ---- small helpers ---- */

/* Fields another thread may read while their owner writes them (a free from another thread reads
 * a page's limit and heap; anyone reads brisk_map): relaxed atomic accesses, plain moves on
 * x86-64 and aarch64, which say that the race is meant (the readers check what they read). */
#define LOAD_RELAXED(x)      __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE_RELAXED(x, v)  __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* The same for the three such reads on free's fast path, where gcc will not fold an atomic load
 * into the compare that uses it (three more instructions): atomic under ThreadSanitizer, so it
 * checks the rest, a plain load otherwise (the same machine load). */
#if defined(__SANITIZE_THREAD__)
#define LOAD_FAST(x) LOAD_RELAXED(x)
#else
#define LOAD_FAST(x) (x)
#endif
static inline uint8_t map_kind(uintptr_t a) {
    uintptr_t i = a >> SEG_SHIFT;
    return i < MAP_N ? LOAD_FAST(brisk_map[i]) : MAP_NONE;
}
static inline void map_set(uintptr_t unit, uint8_t kind) {
    if (kind != MAP_NONE)
        __atomic_fetch_or(&brisk_map_pages[unit / MAP_PAGE_UNITS / 64], (uint64_t)1 << (unit / MAP_PAGE_UNITS % 64),
                          __ATOMIC_RELAXED);
    STORE_RELAXED(brisk_map[unit], kind);
}
static inline segment_t *segment_of(uintptr_t a) { return (segment_t *)(a & ~SEG_MASK); }
/* The page struct of a, in the segment at seg: its slot's entry (slot * sizeof(page_t)). */
static inline page_t *page_in(uintptr_t seg, uintptr_t a) {
    return *(page_t **)(seg + ((a >> (SLOT_SHIFT - 7)) & ((SLOTS - 1) << 7)));
}
static inline page_t *page_of(uintptr_t a) {
    uintptr_t seg = a & ~SEG_MASK;
    /* opaque to the compiler, so it adds in the load's address instead of or-ing the two */
    __asm__("" : "+r"(seg));
    return page_in(seg, a);
}
static inline uintptr_t align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
static inline int is_pow2(size_t x) { return x != 0 && (x & (x - 1)) == 0; }
/* Lemire's divisibility test, with the bound folded in: let c = ceil(2^64 / d) (d a power of two:
 * 2^64 / d + 1), so that d * c = 2^64 + e with 0 < e <= d. For |x| < 2^32, x * c (mod 2^64)
 * is k * e when x = k * d, and at least c - 2^33 > 2^32 otherwise (x < 0 included). So with
 * blim = capacity * e (< 2^32), x * c < blim iff x is the offset of one of the first capacity
 * blocks: one multiply and one compare, where a range check and a divisibility test took two
 * of each. c + j works as well (e + j * d, still small), which divc_refusing_null uses.
 * free's offsets lie within a span (a few KiB below start at worst). malloc tests the offset
 * of a link it decoded from freed memory, which may be anything: NULL (the list's end, offset
 * -start) is refused exactly by the choice of c; a link corrupted by a write after free
 * decodes (through the secret) to a random address, accepted with probability
 * blim / 2^64 < 2^-40 when it lies more than 4 GiB from the page, always refused nearer. */
static inline uint64_t make_divc(uint32_t bsize) {
    return UINT64_MAX / bsize + 1 + ((bsize & (bsize - 1)) == 0);
}
/* c for a page at start: the smallest c + j with which NULL's offset fails the test for every
 * capacity up to reserved (a collision has probability about 2^-46 per page; j stays tiny). */
static inline uint64_t divc_refusing_null(uintptr_t start, uint32_t bsize, uint32_t reserved) {
    uint64_t c = make_divc(bsize);
    while ((0 - (uint64_t)start) * c < (uint64_t)reserved * (c * bsize)) c++;
    return c;
}
static inline uint64_t make_blim(const page_t *pg, uint32_t capacity) {
    return (uint64_t)capacity * (pg->divc * pg->bsize);   /* e: d * c wraps to it */
}
static inline int in_blocks(const page_t *pg, uintptr_t off) { return off * pg->divc < pg->blim; }
/* Free-list links are stored encoded, next ^ secret: a write into a freed block cannot name the
 * block malloc hands out next without knowing the secret, and malloc checks that each decoded
 * link lies in its page before following it. The block's own address is not mixed in (as glibc's
 * safe-linking does, for want of a secret): a freed block's key word holds the secret in the
 * clear, so whoever can read freed memory has it anyway, and a blind write needs it either way.
 * Leaving the address out saves an instruction in malloc and two in free. */
static inline void link_set(block_t *b, block_t *next) {
    b->next = (block_t *)((uintptr_t)next ^ brisk_secret);
}
static inline block_t *link_get(const block_t *b) {
    return (block_t *)((uintptr_t)b->next ^ brisk_secret);
}
/* p is one of the page's carved blocks, exactly (the slow paths that walk lists read through
 * each link they accept) */
static inline int in_page(const page_t *pg, const void *p) {
    uintptr_t off = (uintptr_t)p - pg->start;
    return off < LOAD_RELAXED(pg->limit) && in_blocks(pg, off);
}
/* live blocks of a page, without the current page's extra count */
static inline uint32_t page_live(const page_t *pg) { return pg->used - pg->cur; }

/* size classes (size_class.c) */
static inline unsigned size_class(size_t n) {
    if (n <= 128) return n ? (unsigned)((n - 1) >> 4) : 0;   /* 16 bytes apart up to 128 */
    size_t s = n - 1;                                       /* then eight per power of two */
    unsigned b = 63 - (unsigned)__builtin_clzl(s);
    return 8 + (b - 7) * CLASS_STEPS + (unsigned)((s >> (b - 3)) & (CLASS_STEPS - 1));
}
static inline uint32_t class_size(unsigned cls) {
    if (cls < 8) return 16 * (cls + 1);
    unsigned k = cls - 8, b = 7 + k / CLASS_STEPS;
    return ((uint32_t)1 << b) + (k % CLASS_STEPS + 1) * ((uint32_t)1 << (b - 3));
}
unsigned class_slots(unsigned cls) INTERNAL;

/* os.c: the only place that talks to the kernel */
void *os_map(size_t size, size_t align, size_t lead) INTERNAL;
void *os_map_any(size_t size) INTERNAL;
void os_guard(void *p, size_t n, int on) INTERNAL;
void os_unmap(void *p, size_t size) INTERNAL;
void os_purge(void *p, size_t size) INTERNAL;
int os_remap(void *old, size_t old_size, size_t new_size, void *dest) INTERNAL;
size_t os_page_size(void) INTERNAL;
uint64_t os_now_ms(void) INTERNAL;
uint64_t os_random(void) INTERNAL;
void brisk_fatal(const char *func, const char *what, const void *p) INTERNAL __attribute__((noreturn, cold));
void brisk_write_err(const char *s) INTERNAL;
void brisk_write_fd(int fd, const char *s) INTERNAL;
void counter_add_committed(intptr_t delta) INTERNAL;

/* a tiny futex lock for the few global structures (slow paths only) */
typedef struct { _Atomic int v; } lock_t;
void lock_acquire(lock_t *l) INTERNAL;
void lock_release(lock_t *l) INTERNAL;
int lock_try(lock_t *l) INTERNAL;
extern lock_t brisk_unmap_lock INTERNAL;

/* init.c */
void brisk_global_init(void) INTERNAL;
extern _Atomic int brisk_ready INTERNAL;
/* brisk_global_init's test inline, for entry points that need the options on every call */
static inline void global_init(void) {
    if (unlikely(!atomic_load_explicit(&brisk_ready, memory_order_acquire))) brisk_global_init();
}

/* segment.c */
page_t *segment_alloc_span(heap_t *h, unsigned nslots, unsigned min, int *fresh, int shed) INTERNAL;
void segment_fresh_used(heap_t *h, size_t bytes, int extents) INTERNAL;
/* clean: the span's slots (bit 0: its first) whose memory is known zero already */
void segment_free_span(heap_t *h, page_t *pg, uint64_t clean) INTERNAL;
int segment_purge(heap_t *h, int all) INTERNAL;
void segment_age(heap_t *h) INTERNAL;
void segment_release_all_free(heap_t *h) INTERNAL;
int segment_cache_flush(void) INTERNAL;
void *os_map_reclaiming(size_t size, size_t align, size_t lead) INTERNAL;
void segment_fork_child(void) INTERNAL;

/* page.c */
void *malloc_generic(heap_t *h, size_t n) INTERNAL;
void *malloc_small_dry(heap_t *h, page_t *pg, size_t n) INTERNAL;
void *malloc_core(heap_t *h, size_t n) INTERNAL;
void *malloc_core_plain(heap_t *h, size_t n) INTERNAL;
void *malloc_class(heap_t *h, size_t n) INTERNAL;
void free_other_now(page_t *pg, block_t *b) INTERNAL;

/* extent.c */
void *extent_malloc(heap_t *h, size_t n, int zero) INTERNAL;
void *extent_malloc_aligned(heap_t *h, size_t n, size_t align) INTERNAL;
void extent_free(page_t *pg, uintptr_t a, const char *func) INTERNAL;
int extent_is_unit(const page_t *pg, uintptr_t x) INTERNAL;
void extent_free_local(heap_t *h, page_t *pg, uintptr_t a, const char *func) INTERNAL;
size_t extent_usable(page_t *pg, uintptr_t a, const char *func) INTERNAL;
void *extent_realloc(page_t *pg, uintptr_t a, size_t n, size_t *usable) INTERNAL;
enum { EXT_AGE, EXT_TIMED, EXT_ALL };   /* extent_tick's modes */
void extent_tick(heap_t *h, int mode) INTERNAL;
size_t extent_shed(heap_t *h, size_t bytes) INTERNAL;
size_t extent_committed(page_t *pg) INTERNAL;
page_t *extent_lend_slot(heap_t *h) INTERNAL;
void extent_take_back(heap_t *h, page_t *pg) INTERNAL;
void extent_totals(heap_t *h, uint64_t allocs[NCLASSES], uint64_t live[NCLASSES]) INTERNAL;

/* secure.c */
void *secure_malloc(heap_t *h, size_t n) INTERNAL;
void secure_free(page_t *pg, block_t *b) INTERNAL;
void secure_shuffle(page_t *pg, uintptr_t first, uint32_t n) INTERNAL;
void secure_fork_child(void) INTERNAL;
void secure_heap_done(heap_t *h) INTERNAL;
void secure_trim(heap_t *h) INTERNAL;
int secure_in_quarantine(const block_t *b) INTERNAL;
size_t secure_usable(page_t *pg, block_t *b, uintptr_t a, const char *func) INTERNAL;
void *secure_realloc_in_place(page_t *pg, block_t *b, uintptr_t a, size_t n, size_t *usable) INTERNAL;
void secure_check_slack(const void *b, size_t req, size_t room, const char *func) INTERNAL;
void secure_check_before(const void *gap, size_t n, const void *b, size_t req, const char *func) INTERNAL;
#define SECURE_CANARY_BYTE 0xc5
void page_after_local_free(heap_t *h, page_t *pg) INTERNAL;
void free_local(heap_t *h, page_t *pg, block_t *b) INTERNAL;
void free_remote(page_t *pg, block_t *b) INTERNAL;
void heap_process_delayed(heap_t *h) INTERNAL;
void heap_collect(heap_t *h, int all) INTERNAL;
void heap_tick(heap_t *h, int force) INTERNAL;
void heap_class_totals(heap_t *h, uint64_t allocs[NCLASSES], uint64_t live[NCLASSES]) INTERNAL;
void heap_snapshot(heap_t *h) INTERNAL;
int page_contains_free(page_t *pg, block_t *b) INTERNAL;

/* trace.c: ops of docs/trace-format.md */
enum { TRACE_MALLOC = 1, TRACE_FREE, TRACE_CALLOC, TRACE_REALLOC, TRACE_ALIGNED, TRACE_THREAD_EXIT };
extern int brisk_trace_on INTERNAL;
void trace_open(const char *path) INTERNAL;
int trace_begin(void) INTERNAL;
void trace_leave(void) INTERNAL;
void trace_record(int op, size_t size, const void *ptr, uintptr_t arg) INTERNAL;
void trace_realloc_now(const void *q, size_t n, const void *old) INTERNAL;
int trace_realloc_recorded(void) INTERNAL;
void *trace_malloc(struct heap *h, size_t n) INTERNAL;
void trace_thread_exit(void) INTERNAL;
void trace_finish(void) INTERNAL;
void trace_fork_child(void) INTERNAL;

/* heapdump.c */
void heapdump_at_exit(void) INTERNAL;
void heapdump_poll(void) INTERNAL;
void heapdump_install(void) INTERNAL;
extern _Atomic int brisk_heapdump_pending INTERNAL;

/* heap.c */
heap_t *heap_init_thread(void) INTERNAL;
void heap_thread_done(void *h) INTERNAL;
int heap_sweep_orphans(void) INTERNAL;
heap_t *heap_registry(void) INTERNAL;
void heap_global_init(void) INTERNAL;
void heap_register_atfork(void) INTERNAL;

/* large.c */
void *large_alloc(size_t size, size_t align, int zero) INTERNAL;
void large_free(uintptr_t a, uint8_t kind, const char *func) INTERNAL;
void *large_realloc(uintptr_t a, uint8_t kind, size_t size) INTERNAL;
size_t large_usable(uintptr_t a, uint8_t kind, const char *func) INTERNAL;
int large_cache_flush(int all) INTERNAL;
void large_cache_shed(size_t bytes) INTERNAL;
int large_describe(uintptr_t unit, size_t *size, size_t *mapped, int *cached) INTERNAL;
void large_fork_child(void) INTERNAL;

/* free.c */
void free_slow(void *p, const char *func) INTERNAL;
size_t usable_size_checked(void *p, const char *func) INTERNAL;
void *block_start_checked(uintptr_t a, page_t **pgp, const char *func) INTERNAL;
block_t *live_block_checked(uintptr_t a, page_t **pgp, const char *func) INTERNAL;

/* stats.c */
void stats_print_fd(int fd) INTERNAL;
void stats_note_live(void) INTERNAL;

/* A slow-path call that may leave out the housekeeping of malloc_refill and extent_take: not
 * the 32nd (which runs the tick) and nothing pending (delayed frees, a heap dump). Counts the
 * call when it says yes. */
static inline int slow_call_quiet(heap_t *h) {
    if (((h->slow_calls + 1) & 31) == 0 || atomic_load_explicit(&h->delayed, memory_order_relaxed) ||
        atomic_load_explicit(&brisk_heapdump_pending, memory_order_relaxed))
        return 0;
    h->slow_calls++;
    return 1;
}

#endif
