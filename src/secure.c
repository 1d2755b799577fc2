/* BRISK_OPTIONS=secure=1: checks that cost too much to be always on.
 *
 * Like tracing, secure mode turns the fast paths off (brisk_fast_off), so every call comes here
 * through malloc_core and free_other. Each small block carries a canary: the requested size,
 * encoded with the secret and the block's address, in its last 8 bytes, and the bytes between
 * the request and that word filled with CANARY_BYTE; free checks both, so a write past the end
 * (or before the start of the next block) is reported with the block's address and size.
 * Freed blocks are filled with FREE_BYTE and wait in a bounded FIFO quarantine, one per thread
 * (no lock), before they can be handed out again; the fill is checked when malloc takes them
 * again (all of a block up to 512 bytes, the first 256 and last 128 bytes of bigger ones), so a
 * write after free is reported, and no block ever shows another block's old data.
 * Pages are carved in a random order. */
#include "internal.h"

#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define CANARY_BYTE SECURE_CANARY_BYTE
#define FREE_BYTE   0xdf
#define BYTES8(c)   ((uint64_t)(c) * 0x0101010101010101ull)
#define QUAR_N      512                   /* blocks per thread (a page of pointers) */
#define QUAR_BYTES  ((size_t)1 << 20)     /* and bytes held at most per thread */
#define QUAR_SALT   ((uintptr_t)0x9a4a47149a)
#define QUAR_KEY    (brisk_secret ^ QUAR_SALT)

/* Threads without a heap of their own (exiting, or before their first malloc) share this one. */
static lock_t shared_lock;
static block_t *shared_ring[QUAR_N];
static quarantine_t shared = {shared_ring, 0, 0, 0};

static uintptr_t tail_code(const block_t *b, size_t n) { return n ^ brisk_secret ^ (uintptr_t)b; }

static COLD void report(const char *func, const char *what, const void *b, size_t size) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s (block of %zu bytes)", what, size);
    brisk_fatal(func, msg, b);
}

/* n bytes at p (8-aligned, n a multiple of 8) set to / all equal to the byte in v: a loop of
 * words, inlined, for the small blocks that are most of the calls; memset/memcmp above. */
typedef uint64_t word __attribute__((may_alias));
static void fill_big(void *p, size_t n, uint64_t v);

static inline void fill8(void *p, size_t n, uint64_t v) {
    if (n > 256) {
        fill_big(p, n, v);
        return;
    }
    for (word *w = p, *e = (word *)((char *)p + n); w < e; w++) *w = v;
}

static int filled_bytes(const unsigned char *p, size_t n, unsigned char v);

/* Freed blocks of pages and more are mostly not in the cache (the program touched a few of
 * their bytes): stores that bypass it do not read each line before writing it, half the memory
 * traffic of memset's. The fence makes them visible before the block can reach another thread. */
static void fill_big(void *p, size_t n, uint64_t v) {
#if defined(__SSE2__)
    if (n >= 4096 && ((uintptr_t)p & 15) == 0) {
        __m128i x = _mm_set1_epi64x((long long)v);
        char *c = p, *e = c + (n & ~(size_t)63);
        for (; c < e; c += 64) {
            _mm_stream_si128((__m128i *)c, x);
            _mm_stream_si128((__m128i *)(c + 16), x);
            _mm_stream_si128((__m128i *)(c + 32), x);
            _mm_stream_si128((__m128i *)(c + 48), x);
        }
        _mm_sfence();
        memset(e, (int)(v & 0xff), n & 63);
        return;
    }
#endif
    memset(p, (int)(v & 0xff), n);
}

/* The same for whole blocks (16-aligned, a multiple of 16 bytes): two words at a time. */
typedef uint64_t words2 __attribute__((vector_size(16), may_alias));

static inline void fill16(void *p, size_t n, uint64_t v) {
    if (n > 512) {
        fill_big(p, n, v);
        return;
    }
    words2 x = {v, v};
#pragma GCC unroll 4
    for (words2 *w = p, *e = (words2 *)((char *)p + n); w < e; w++) *w = x;
}

static inline int filled16(const void *p, size_t n, uint64_t v) {
    if (n > 512) return filled_bytes(p, n, (unsigned char)v);
    words2 x = {v, v}, d = {0, 0};
#pragma GCC unroll 4
    for (const words2 *w = p, *e = (const words2 *)((const char *)p + n); w < e; w++) d |= *w ^ x;
    return (d[0] | d[1]) == 0;
}

static inline int filled8(const void *p, size_t n, uint64_t v) {
    if (n > 256) return filled_bytes(p, n, (unsigned char)v);
    uint64_t diff = 0;
    for (const word *w = p, *e = (const word *)((const char *)p + n); w < e; w++) diff |= *w ^ v;
    return diff == 0;
}

/* n bytes at p all equal v, by memcmp against a page of v (glibc's is vectorised). */
static int filled_bytes(const unsigned char *p, size_t n, unsigned char v) {
    static unsigned char page_of_free[4096], page_of_canary[4096];
    unsigned char *ref = v == FREE_BYTE ? page_of_free : page_of_canary;
    if (ref[0] != v) memset(ref, v, 4096);   /* first use; the same bytes if two threads race */
    for (size_t off = 0; off < n; off += 4096) {
        size_t k = n - off < 4096 ? n - off : 4096;
        if (memcmp(p + off, ref, k) != 0) return 0;
    }
    return 1;
}

/* The mask of the bytes of the word at n & ~7 that lie at or past n (a canary's first word,
 * shared with the last bytes of the request). Little-endian: the low bytes come first. */
static inline uint64_t canary_mask(size_t n) {
    return n & 7 ? ~(uint64_t)0 << (8 * (n & 7)) : ~(uint64_t)0;
}

/* The request a secure block was made for, from its tail word, or a report. The canary runs
 * from the request to the tail word: its first word under a mask, then whole words. */
static size_t request_of(page_t *pg, block_t *b, const char *func) {
    size_t room = pg->bsize - 8;
    uintptr_t *tail = (uintptr_t *)((uintptr_t)b + room);
    size_t n = *tail ^ brisk_secret ^ (uintptr_t)b;
    if (n > room) report(func, "heap overflow: the canary after the block is overwritten", b, room);
    const unsigned char *c = (const unsigned char *)b;
    size_t w = n & ~(size_t)7;
    uint64_t bad = 0;
    if (w < room) {
        bad = (*(const word *)(c + w) ^ BYTES8(CANARY_BYTE)) & canary_mask(n);
        w += 8;
    }
    if (bad || !filled8(c + w, room - w, BYTES8(CANARY_BYTE)))
        report(func, "heap overflow: the canary after the block is overwritten", b, n);
    return n;
}

/* Makes b a block of n bytes: canary from byte n to the tail word (its first word merged with
 * the request's last bytes), and the tail word. */
static void set_canary(page_t *pg, block_t *b, size_t n) {
    size_t room = pg->bsize - 8, w = n & ~(size_t)7;
    unsigned char *c = (unsigned char *)b;
    if (w < room) {
        word *first = (word *)(c + w);
        uint64_t m = canary_mask(n);
        *first = (*first & ~m) | (BYTES8(CANARY_BYTE) & m);
        w += 8;
    }
    fill8(c + w, room - w, BYTES8(CANARY_BYTE));
    *(uintptr_t *)((uintptr_t)b + room) = tail_code(b, n);
}

/* A large block's canary between its header and the block. */
void secure_check_before(const void *gap, size_t n, const void *b, size_t req, const char *func) {
    if (!filled_bytes(gap, n, CANARY_BYTE))
        report(func, "heap underflow: the bytes before the block are overwritten", b, req);
}

/* A large block's slack between the request and its guard page. */
void secure_check_slack(const void *b, size_t req, size_t room, const char *func) {
    if (!filled_bytes((const unsigned char *)b + req, room - req, CANARY_BYTE))
        report(func, "heap overflow: the canary after the block is overwritten", b, req);
}

int secure_in_quarantine(const block_t *b) { return b->key == QUAR_KEY; }

/* A block in a quarantine carries QUAR_KEY where a live block has its caller's data: a free of
 * it is a double free (the key is secret, so a program cannot write it by chance). */
static void check_not_quarantined(block_t *b, uintptr_t a, const char *func) {
    if (secure_in_quarantine(b)) brisk_fatal(func, "double free", (void *)a);
}

/* Blocks have no header: a write before b runs into the last word of the block before it,
 * which is always brisk's: a live block's tail code, a free block's fill, or (16-byte blocks,
 * whose last word is the key) a free or quarantine key. Anything else there is an underflow of
 * b, reported at b's own free. A page's first block has a guard page before it.
 * The neighbour's owner may be writing that word meanwhile (a new canary, a free fill): each
 * value it takes is accepted, and an aligned word is never torn on the machines brisk runs on,
 * so this one read is meant to race (not instrumented under ThreadSanitizer, as the writers'
 * bulk fills cannot be atomic). */
__attribute__((no_sanitize("thread")))
static void check_before(page_t *pg, block_t *b, size_t n, const char *func) {
    uintptr_t a = (uintptr_t)b;
    if (a == pg->start) return;
    uintptr_t w = *(volatile uintptr_t *)(a - 8), left = a - pg->bsize;
    if (w == BYTES8(FREE_BYTE) || (w ^ brisk_secret ^ left) <= pg->bsize - 8) return;
    if (pg->bsize == 16 && (w == brisk_secret || w == QUAR_KEY)) return;
    report(func, "heap underflow: the bytes before the block are overwritten", b, n);
}

/* The request of b (which a points into), checked from both ends. */
static size_t request_checked(page_t *pg, block_t *b, uintptr_t a, const char *func) {
    check_not_quarantined(b, a, func);
    size_t n = request_of(pg, b, func);
    check_before(pg, b, n, func);
    return n;
}

size_t secure_usable(page_t *pg, block_t *b, uintptr_t a, const char *func) {
    return request_checked(pg, b, a, func) - (a - (uintptr_t)b);
}

/* realloc within the block: a new canary for the new size, when the block is not an aligned
 * block's interior and the new size keeps at least half of it in use. Else NULL, with the
 * usable size for the caller's copy in *usable. */
void *secure_realloc_in_place(page_t *pg, block_t *b, uintptr_t a, size_t n, size_t *usable) {
    size_t old = *usable = secure_usable(pg, b, a, "realloc");
    size_t room = pg->bsize - 8;
    if ((uintptr_t)b != a || n > room || (n < room / 2 && room > 64)) return NULL;
    if (n < old) memset((char *)b + n, CANARY_BYTE, old - n);
    set_canary(pg, b, n);
    return b;
}

/* malloc_core's secure half: one word more for the canary. */
void *secure_malloc(heap_t *h, size_t n) {
    if (n > brisk_opt.large_min - 8) return large_alloc(n, 0, 0);   /* (large_min >= 1 KiB) */
    block_t *b = malloc_core_plain(h, n + 8);
    if (b == NULL) return NULL;
    page_t *pg = page_of((uintptr_t)b);
    /* what a freed block must still hold: the fill after the two words the free list uses;
     * in a block above 512 bytes, its first 256 and last 128 bytes (where stale pointers to an
     * object's header and tail write), so the check costs a bounded amount per call */
    unsigned char *u = (unsigned char *)b;
    size_t bs = pg->bsize;
    int ok = bs <= 512 ? filled16(u + 16, bs - 16, BYTES8(FREE_BYTE))
                       : filled16(u + 16, 240, BYTES8(FREE_BYTE)) && filled16(u + bs - 128, 128, BYTES8(FREE_BYTE));
    if (!ok) report("malloc", "write after free: a freed block was changed", b, bs);
    b->next = NULL;   /* the free list's encoded link: no allocator data reaches the caller */
    set_canary(pg, b, n);   /* may cover b->key */
    return b;
}

/* A freed block leaves the quarantine. Its fill is checked once, when malloc hands it out again
 * (secure_malloc), which covers its time here too; only its key is checked now. */
static void release(block_t *b) {
    page_t *pg = page_of((uintptr_t)b);
    if (b->key != QUAR_KEY) report("free", "write after free: a block in quarantine was changed", b, pg->bsize);
    fill16(b, 16, BYTES8(FREE_BYTE));   /* the free list writes its own link and key there */
    free_other_now(pg, b);
}

static block_t *quar_pop(quarantine_t *q) {
    block_t *o = q->ring[q->head];
    q->head = (q->head + 1) % QUAR_N;
    q->n--;
    q->bytes -= page_of((uintptr_t)o)->bsize;
    return o;
}

/* Queues b; the oldest blocks leave (into out, at most 8) while the ring or its bytes are over
 * their bound (b itself stays: it is what the quarantine is for). */
static unsigned quar_push(quarantine_t *q, block_t *b, size_t size, block_t **out) {
    unsigned nout = 0;
    if (q->n == QUAR_N) out[nout++] = quar_pop(q);
    q->ring[(q->head + q->n) % QUAR_N] = b;
    q->n++;
    q->bytes += size;
    while (q->bytes > QUAR_BYTES && q->n > 1 && nout < 8) out[nout++] = quar_pop(q);
    return nout;
}

/* free_other's secure half: check the canary, fill, and queue in this thread's quarantine (no
 * lock); the oldest blocks go back. */
void secure_free(page_t *pg, block_t *b) {
    request_checked(pg, b, (uintptr_t)b, "free");
    fill16(b, pg->bsize, BYTES8(FREE_BYTE));
    b->key = QUAR_KEY;
    block_t *out[8];
    unsigned nout;
    heap_t *h = brisk_tls_heap;
    if (h->state == HEAP_OWNED && h->quar.ring == NULL) h->quar.ring = os_map_any(QUAR_N * sizeof(block_t *));
    if (h->state == HEAP_OWNED && h->quar.ring != NULL) {
        nout = quar_push(&h->quar, b, pg->bsize, out);
    } else {
        lock_acquire(&shared_lock);
        nout = quar_push(&shared, b, pg->bsize, out);
        lock_release(&shared_lock);
    }
    for (unsigned i = 0; i < nout; i++) release(out[i]);
}

/* A thread's exit: its quarantine goes back (another thread adopts the heap, ring and all). */
void secure_heap_done(heap_t *h) {
    while (h->quar.n > 0) release(quar_pop(&h->quar));
}

/* malloc_trim: the calling thread's quarantine and the shared one go back, so the pages they
 * hold can be given back too (other threads' quarantines stay theirs). */
void secure_trim(heap_t *h) {
    if (h->state == HEAP_OWNED) secure_heap_done(h);
    block_t *out[64];
    unsigned n;
    do {
        n = 0;
        lock_acquire(&shared_lock);
        while (shared.n > 0 && n < 64) out[n++] = quar_pop(&shared);
        lock_release(&shared_lock);
        for (unsigned i = 0; i < n; i++) release(out[i]);
    } while (n == 64);
}

void secure_fork_child(void) {
    atomic_store_explicit(&shared_lock.v, 0, memory_order_relaxed);
}

/* Carving in random order: the new blocks are shuffled before they join the free list. */
void secure_shuffle(page_t *pg, uintptr_t first, uint32_t n) {
    static _Atomic uint64_t seed;
    uint64_t x = atomic_fetch_add_explicit(&seed, 0x9e3779b97f4a7c15ull, memory_order_relaxed) ^ brisk_secret ^ first;
    uint32_t idx[4096 / 16];
    if (n > sizeof idx / sizeof idx[0]) n = sizeof idx / sizeof idx[0];
    for (uint32_t i = 0; i < n; i++) idx[i] = i;
    for (uint32_t i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t j = (uint32_t)(x % i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    block_t *list = pg->free;
    for (uint32_t i = 0; i < n; i++) {
        block_t *b = (block_t *)(first + (uintptr_t)idx[i] * pg->bsize);
        fill16(b, pg->bsize, BYTES8(FREE_BYTE));
        link_set(b, list);
        b->key = brisk_secret;   /* free, as every carved block */
        list = b;
    }
    pg->free = list;
}
