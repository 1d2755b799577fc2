/* BRISK_OPTIONS=secure=1: checks that cost too much to be always on.
 *
 * Like tracing, secure mode turns the fast paths off (brisk_fast_off), so every call comes here
 * through malloc_core and free_other. Each small block carries a canary: the requested size,
 * encoded with the secret and the block's address, in its last 8 bytes, and the bytes between
 * the request and that word filled with CANARY_BYTE; free checks both, so a write past the end
 * (or before the start of the next block) is reported with the block's address and size.
 * Freed blocks are filled with FREE_BYTE and wait in a bounded FIFO quarantine before they can
 * be handed out again; the fill is checked when malloc takes them again (all of a block up to
 * 512 bytes, the first 256 and last 128 bytes of bigger ones), so a write after free is
 * reported, and no block ever shows another block's old data.
 * Pages are carved in a random order. */
#include "internal.h"

#include <stdio.h>

#define CANARY_BYTE SECURE_CANARY_BYTE
#define FREE_BYTE   0xdf
#define QUAR_N      1024                  /* blocks */
#define QUAR_BYTES  (4u << 20)            /* and bytes held at most */
#define QUAR_SALT   ((uintptr_t)0x9a4a47149a)

static lock_t quar_lock;
static block_t *quar[QUAR_N];
static unsigned quar_head, quar_n;
static size_t quar_bytes;

static uintptr_t tail_code(const block_t *b, size_t n) { return n ^ brisk_secret ^ (uintptr_t)b; }

static COLD void report(const char *func, const char *what, const void *b, size_t size) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s (block of %zu bytes)", what, size);
    brisk_fatal(func, msg, b);
}

/* n bytes at p all equal v, by memcmp against a page of v (glibc's is vectorised): the fill is
 * checked each time a block is handed out again. */
static int filled(const unsigned char *p, size_t n, unsigned char v) {
    static unsigned char page_of_free[4096], page_of_canary[4096];
    unsigned char *ref = v == FREE_BYTE ? page_of_free : page_of_canary;
    if (ref[0] != v) memset(ref, v, 4096);   /* first use; the same bytes if two threads race */
    for (size_t off = 0; off < n; off += 4096) {
        size_t k = n - off < 4096 ? n - off : 4096;
        if (memcmp(p + off, ref, k) != 0) return 0;
    }
    return 1;
}

/* The request a secure block was made for, from its tail word, or a report. */
static size_t request_of(page_t *pg, block_t *b, const char *func) {
    uintptr_t *tail = (uintptr_t *)((uintptr_t)b + pg->bsize - 8);
    size_t n = *tail ^ brisk_secret ^ (uintptr_t)b;
    if (n > pg->bsize - 8) report(func, "heap overflow: the canary after the block is overwritten", b, pg->bsize - 8);
    if (!filled((unsigned char *)b + n, pg->bsize - 8 - n, CANARY_BYTE))
        report(func, "heap overflow: the canary after the block is overwritten", b, n);
    return n;
}

/* A large block's slack between the request and its guard page. */
void secure_check_slack(const void *b, size_t req, size_t room, const char *func) {
    if (!filled((const unsigned char *)b + req, room - req, CANARY_BYTE))
        report(func, "heap overflow: the canary after the block is overwritten", b, req);
}

static int in_quarantine(const block_t *b);

size_t secure_usable(page_t *pg, block_t *b, uintptr_t a, const char *func) {
    if (b->key == (brisk_secret ^ QUAR_SALT)) {
        lock_acquire(&quar_lock);
        int dup = in_quarantine(b);
        lock_release(&quar_lock);
        if (dup) brisk_fatal(func, "double free", (void *)a);
    }
    return request_of(pg, b, func) - (a - (uintptr_t)b);
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
    int ok = pg->bsize <= 512 ? filled(u + 16, pg->bsize - 16, FREE_BYTE)
                              : filled(u + 16, 240, FREE_BYTE) && filled(u + pg->bsize - 128, 128, FREE_BYTE);
    if (!ok) report("malloc", "write after free: a freed block was changed", b, pg->bsize);
    memset((unsigned char *)b + n, CANARY_BYTE, pg->bsize - 8 - n);
    *(uintptr_t *)((uintptr_t)b + pg->bsize - 8) = tail_code(b, n);   /* may cover b->key */
    return b;
}

/* A freed block leaves the quarantine. Its fill is checked once, when malloc hands it out again
 * (secure_malloc), which covers its time here too; only its key is checked now. */
static void release(block_t *b) {
    page_t *pg = page_of((uintptr_t)b);
    if (b->key != (brisk_secret ^ QUAR_SALT))
        report("free", "write after free: a block in quarantine was changed", b, pg->bsize);
    memset(b, FREE_BYTE, 16);   /* the free list writes its own link and key there */
    free_other_now(pg, b);
}

static int in_quarantine(const block_t *b) {
    for (unsigned i = 0; i < quar_n; i++)
        if (quar[(quar_head + i) % QUAR_N] == b) return 1;
    return 0;
}

/* free_other's secure half: check the canary, fill, and queue; the oldest block goes back. */
void secure_free(page_t *pg, block_t *b) {
    if (b->key == (brisk_secret ^ QUAR_SALT)) {
        lock_acquire(&quar_lock);
        int dup = in_quarantine(b);
        lock_release(&quar_lock);
        if (dup) brisk_fatal("free", "double free", b);
    }
    request_of(pg, b, "free");
    memset(b, FREE_BYTE, pg->bsize);
    b->key = brisk_secret ^ QUAR_SALT;
    block_t *out[8];
    unsigned nout = 0;
    lock_acquire(&quar_lock);
    if (quar_n == QUAR_N) {
        out[nout++] = quar[quar_head];
        quar_bytes -= page_of((uintptr_t)quar[quar_head])->bsize;
        quar_head = (quar_head + 1) % QUAR_N;
        quar_n--;
    }
    quar[(quar_head + quar_n) % QUAR_N] = b;
    quar_n++;
    quar_bytes += pg->bsize;
    while (quar_bytes > QUAR_BYTES && nout < 8) {
        out[nout++] = quar[quar_head];
        quar_bytes -= page_of((uintptr_t)quar[quar_head])->bsize;
        quar_head = (quar_head + 1) % QUAR_N;
        quar_n--;
    }
    lock_release(&quar_lock);
    for (unsigned i = 0; i < nout; i++) release(out[i]);
}

void secure_fork_child(void) {
    atomic_store_explicit(&quar_lock.v, 0, memory_order_relaxed);
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
        memset(b, FREE_BYTE, pg->bsize);
        link_set(b, list);
        b->key = brisk_secret;   /* free, as every carved block */
        list = b;
    }
    pg->free = list;
}
