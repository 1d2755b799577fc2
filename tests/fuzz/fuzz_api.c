/* libFuzzer target: the input is a program of calls to brisk's whole API (the brisk_* names, so
 * libFuzzer's own allocations stay with glibc), run against a model of what must hold.
 *
 * The model: up to 64 slots, each a live block with an id, the size asked for and the alignment.
 * Every block is marked with a pattern derived from its id (whole for small blocks; for big ones
 * the first 16 KiB, the last 4 KiB and one word per 64 KiB, so a 33 MiB block costs little) and
 * the marks are checked before the block is freed or reallocated (realloc must keep the prefix),
 * and in every slot at the end of an input. Each block handed out must be aligned as asked and
 * at least 16, have a usable size of at least the request (the whole usable size is written),
 * overlap no other live block, and calloc's must read as zero. Impossible requests must give
 * NULL with ENOMEM (EINVAL for a bad alignment). A helper thread frees and allocates on request,
 * so blocks cross threads both ways. Any broken rule aborts, which libFuzzer reports as a crash. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "brisk.h"

#define NSLOTS 64
#define LIVE_CAP ((size_t)256 << 20) /* bytes live at once, so a run stays under rss_limit_mb */
#define HEAD (16 * 1024)
#define TAIL 4096
#define PAGE 4096
#define STRIDE (64 * 1024) /* one marked word this far apart between head and tail */

struct slot {
    unsigned char *p;
    size_t n, align, usable;
    uint64_t id;
};
static struct slot slots[NSLOTS];
static size_t live_bytes;
static uint64_t next_id = 1;

#define REQUIRE(cond, ...)                                                                       \
    do {                                                                                         \
        if (!(cond)) {                                                                           \
            fprintf(stderr, "fuzz_api: %s:%d: %s: ", __FILE__, __LINE__, #cond);                 \
            fprintf(stderr, __VA_ARGS__);                                                        \
            fputc('\n', stderr);                                                                 \
            abort();                                                                             \
        }                                                                                        \
    } while (0)

/* ---- the input, read as a stream of numbers (zeros once it runs out) ---- */

struct input {
    const uint8_t *d;
    size_t n, i;
};

static unsigned u8(struct input *in) { return in->i < in->n ? in->d[in->i++] : 0; }
static unsigned u16(struct input *in) { return u8(in) | u8(in) << 8; }

/* Sizes spread over every region: tiny, small, medium, large, near powers of two, rarely huge
 * blocks above the large cache's limit. */
static size_t any_size(struct input *in)
{
    unsigned sel = u8(in);
    switch (sel % 8) {
    case 0: return u8(in) % 33;
    case 1: return u8(in);
    case 2: return u16(in) % 1025;
    case 3: return 1024 + u16(in);
    case 4: return ((size_t)u16(in) * 4) % (256 * 1024 + 1);
    case 5: return 256 * 1024 + (size_t)u16(in) * 32;
    case 6: { /* a power of two from 16 B to 8 MiB, nudged by -8..+7 */
        size_t base = (size_t)1 << (4 + u8(in) % 20);
        int d = (int)(u8(in) % 16) - 8;
        return d < 0 && (size_t)-d > base ? 0 : base + (size_t)(ptrdiff_t)d;
    }
    default: return sel >= 248 ? (size_t)33 << 20 : (size_t)u16(in) * 16;
    }
}

/* Alignments: powers of two from 1 to 4 MiB, and now and then not a power of two. */
static size_t any_align(struct input *in)
{
    unsigned a = u8(in);
    if (a >= 240)
        return 3 + (size_t)u8(in) * 8; /* not a power of two */
    return (size_t)1 << (a % 23);
}

/* ---- marks ---- */

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The mark of the 8-byte word at offset off (a multiple of 8) of block id. */
static uint64_t mark_word(uint64_t id, size_t off) { return mix(id * 0x9e3779b97f4a7c15ULL + off / 8); }

/* Calls fn on each marked range of a block of n bytes. */
static void each_range(size_t n, void (*fn)(size_t lo, size_t hi, void *ctx), void *ctx)
{
    if (n <= HEAD + TAIL) {
        fn(0, n, ctx);
        return;
    }
    fn(0, HEAD, ctx);
    for (size_t o = HEAD; o + 8 <= n - TAIL; o += STRIDE)
        fn(o, o + 8, ctx);
    fn((n - TAIL) & ~(size_t)7, n, ctx);
}

struct markctx {
    unsigned char *p;
    uint64_t id;
    size_t limit; /* check only below this (the prefix realloc keeps) */
    int zero;     /* check for zeros instead of marks */
    const char *when;
};

/* Word by word, and outside libFuzzer's coverage: these loops are most of the work, and the
 * comparisons in them say nothing about the allocator. */
#define NO_COVERAGE __attribute__((no_sanitize("coverage")))

NO_COVERAGE static void fill_range(size_t lo, size_t hi, void *v)
{
    struct markctx *c = v;
    for (size_t o = lo; o < hi; o += 8) {
        uint64_t w = mark_word(c->id, o);
        memcpy(c->p + o, &w, hi - o < 8 ? hi - o : 8);
    }
}

NO_COVERAGE static void check_range(size_t lo, size_t hi, void *v)
{
    struct markctx *c = v;
    if (hi > c->limit)
        hi = c->limit;
    for (size_t o = lo; o < hi; o += 8) {
        uint64_t want = c->zero ? 0 : mark_word(c->id, o), got = want;
        size_t k = hi - o < 8 ? hi - o : 8;
        memcpy(&got, c->p + o, k);
        if (got != want)
            for (size_t b = 0; b < k; b++)
                REQUIRE(c->p[o + b] == (uint8_t)(want >> (8 * b)),
                        "%s: block %p (id %llu) byte %zu is %#x, want %#x", c->when, (void *)c->p,
                        (unsigned long long)c->id, o + b, c->p[o + b], (uint8_t)(want >> (8 * b)));
    }
}

static void mark(struct slot *s)
{
    struct markctx c = {s->p, s->id, s->n, 0, ""};
    each_range(s->n, fill_range, &c);
}

static void verify(const struct slot *s, size_t limit, const char *when)
{
    struct markctx c = {s->p, s->id, limit, 0, when};
    each_range(s->n, check_range, &c);
}

/* ---- taking a new block into the model ---- */

static void slot_clear(struct slot *s)
{
    live_bytes -= s->n;
    memset(s, 0, sizeof *s);
}

/* Checks a block just handed out and takes it into slot s (which must be empty). */
static void adopt(struct slot *s, void *p, size_t n, size_t align, int zeroed, const char *how)
{
    REQUIRE(p != NULL, "%s(%zu, align %zu) failed: errno %d", how, n, align, errno);
    size_t want = align > 16 ? align : 16;
    REQUIRE(((uintptr_t)p & (want - 1)) == 0, "%s(%zu) returned %p, not %zu-aligned", how, n, p, want);
    size_t u = brisk_malloc_usable_size(p);
    REQUIRE(u >= n, "%s(%zu): usable size %zu", how, n, u);
    uintptr_t a = (uintptr_t)p;
    for (int k = 0; k < NSLOTS; k++) {
        const struct slot *o = &slots[k];
        if (o->p && o != s)
            REQUIRE(a + u <= (uintptr_t)o->p || (uintptr_t)o->p + o->usable <= a,
                    "%s(%zu) = %p (+%zu) overlaps live block %p (+%zu)", how, n, p, u,
                    (void *)o->p, o->usable);
    }
    s->p = p;
    s->n = n;
    s->align = align;
    s->usable = u;
    s->id = next_id++;
    live_bytes += n;
    if (zeroed) {
        struct markctx c = {s->p, 0, n, 1, how};
        each_range(n, check_range, &c);
    }
    /* all of the usable size may be written: the byte past the request and the last one */
    if (u > n) {
        s->p[n] = 0xa5;
        s->p[u - 1] = 0x5a;
    }
    mark(s);
}

/* ---- the helper thread: frees and allocates on request ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int job; /* 0 none, 1 free arg, 2 malloc size */
static void *job_ptr;
static size_t job_size;

static void *helper(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (job == 0)
            pthread_cond_wait(&cv, &mu);
        if (job == 1)
            brisk_free(job_ptr);
        else
            job_ptr = brisk_malloc(job_size);
        job = 0;
        pthread_cond_broadcast(&cv);
    }
    return NULL;
}

static void *on_helper(int what, void *p, size_t n)
{
    static pthread_t th;
    pthread_mutex_lock(&mu);
    if (!th) {
        REQUIRE(pthread_create(&th, NULL, helper, NULL) == 0, "no helper thread");
        pthread_detach(th);
    }
    job_ptr = p;
    job_size = n;
    job = what;
    pthread_cond_broadcast(&cv);
    while (job != 0)
        pthread_cond_wait(&cv, &mu);
    void *r = job_ptr;
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- the operations ---- */

static void release(struct slot *s, unsigned how)
{
    if (!s->p)
        return;
    verify(s, s->n, "before free");
    switch (how % 4) {
    case 0: brisk_free(s->p); break;
    case 1: brisk_free_sized(s->p, s->n); break;
    case 2: brisk_free_aligned_sized(s->p, s->align, s->n); break;
    default: on_helper(1, s->p, 0); break;
    }
    slot_clear(s);
}

static int room_for(size_t n) { return n <= LIVE_CAP - live_bytes; }

static void do_realloc(struct slot *s, size_t n, size_t count, int array)
{
    if (!room_for(n))
        return;
    if (s->p)
        verify(s, s->n, "before realloc");
    errno = 0;
    size_t old_n = s->n;
    void *p = array ? brisk_reallocarray(s->p, count, count ? n / count : 0)
                    : brisk_realloc(s->p, n);
    size_t total = array && count ? n / count * count : n;
    if (s->p && total == 0) {
        /* glibc's rule: realloc(p, 0) frees p and returns NULL */
        REQUIRE(p == NULL, "realloc(p, 0) returned %p", p);
        slot_clear(s);
        return;
    }
    REQUIRE(p != NULL, "realloc(%p, %zu) failed: errno %d", (void *)s->p, total, errno);
    struct slot old = *s;
    old.p = p;
    verify(&old, total < old_n ? total : old_n, "prefix after realloc");
    if (s->p)
        slot_clear(s);
    adopt(s, p, total, 16, 0, "realloc");
}

static void do_aligned(struct slot *s, unsigned how, size_t align, size_t n)
{
    if (!room_for(n + align))
        return;
    int pow2 = align && (align & (align - 1)) == 0;
    void *p = NULL;
    errno = 0;
    switch (how % 5) {
    case 0: {
        int rc = brisk_posix_memalign(&p, align, n);
        if (!pow2 || align < sizeof(void *)) {
            REQUIRE(rc == EINVAL, "posix_memalign(%zu, %zu) = %d, want EINVAL", align, n, rc);
            return;
        }
        REQUIRE(rc == 0, "posix_memalign(%zu, %zu) = %d", align, n, rc);
        break;
    }
    case 1:
        p = brisk_aligned_alloc(align, n);
        if (!pow2) {
            REQUIRE(p == NULL && errno == EINVAL, "aligned_alloc(%zu, %zu) = %p errno %d", align, n, p, errno);
            return;
        }
        break;
    case 2: /* memalign rounds a non-power of two up */
        p = brisk_memalign(align, n);
        if (!pow2)
            while (align & (align - 1))
                align += align & -align;
        break;
    case 3:
        p = brisk_valloc(n);
        align = PAGE;
        break;
    default:
        p = brisk_pvalloc(n);
        align = PAGE;
        n = n ? (n + PAGE - 1) / PAGE * PAGE : PAGE; /* all of it is the caller's */
        break;
    }
    adopt(s, p, n, align, 0, "aligned allocation");
}

/* Requests no allocator can meet: NULL and ENOMEM, nothing else. */
static void do_impossible(struct input *in)
{
    static const size_t big[] = {SIZE_MAX, SIZE_MAX - 4095, (size_t)PTRDIFF_MAX,
                                 (size_t)PTRDIFF_MAX + 1, (size_t)1 << 47, (size_t)1 << 60};
    size_t n = big[u8(in) % 6];
    unsigned how = u8(in) % 6;
    void *p = (void *)1;
    errno = 0;
    switch (how) {
    case 0: p = brisk_malloc(n); break;
    case 1: p = brisk_calloc(n, 1); break;
    case 2: p = brisk_calloc((size_t)1 << 33, (size_t)1 << 33); break;
    case 3: p = brisk_aligned_alloc(64, n); break;
    case 4: p = brisk_realloc(NULL, n); break;
    default: p = brisk_reallocarray(NULL, n, 3); break;
    }
    REQUIRE(p == NULL && errno == ENOMEM, "impossible request %zu (call %u) gave %p errno %d", n,
            how, p, errno);
}

static void step(struct input *in)
{
    unsigned op = u8(in);
    struct slot *s = &slots[u8(in) % NSLOTS];
    switch (op % 16) {
    case 0:
    case 1: { /* malloc, or calloc of count x size */
        size_t n = any_size(in);
        if (s->p || !room_for(n))
            break;
        if (op % 2 == 0) {
            adopt(s, brisk_malloc(n), n, 16, 0, "malloc");
        } else {
            size_t k = 1 + u8(in) % 8;
            adopt(s, brisk_calloc(k, n / k), n / k * k, 16, 1, "calloc");
        }
        break;
    }
    case 2:
    case 3:
        do_realloc(s, any_size(in), 0, 0);
        break;
    case 4:
        do_realloc(s, any_size(in), 1 + u8(in) % 8, 1);
        break;
    case 5:
    case 6: {
        size_t align = any_align(in), n = any_size(in);
        if (!s->p)
            do_aligned(s, u8(in), align, n);
        break;
    }
    case 7:
    case 8:
    case 9:
        release(s, u8(in));
        break;
    case 10: /* realloc within the usable size keeps the block's marks */
        if (s->p)
            do_realloc(s, s->usable - u8(in) % (s->usable + 1), 0, 0);
        break;
    case 11: {
        size_t n = any_size(in);
        if (!s->p && room_for(n))
            adopt(s, on_helper(2, NULL, n), n, 16, 0, "malloc in the helper thread");
        break;
    }
    case 12:
        if (s->p)
            verify(s, s->n, "check");
        break;
    case 13: { /* rarely: a trim gives everything back, and faulting it in again is slow */
        unsigned k = u8(in);
        if (k % 8 == 0)
            brisk_trim(0);
        else if (k % 8 == 1) /* the large-block threshold moves: 1 KiB .. 256 KiB */
            REQUIRE(brisk_mallopt(M_MMAP_THRESHOLD, 1024 << (u8(in) % 9)) == 1, "mallopt refused");
        break;
    }
    case 14:
        do_impossible(in);
        break;
    default: { /* the helper thread is idle: the figures are settled */
        static size_t last_allocs;
        struct brisk_stats st;
        brisk_get_stats(&st);
        REQUIRE(st.allocations >= last_allocs && st.committed_bytes <= st.mapped_bytes &&
                    st.peak_committed_bytes >= st.committed_bytes,
                "odd statistics: %zu allocations (before: %zu), %zu mapped, %zu committed, "
                "peak %zu", st.allocations, last_allocs, st.mapped_bytes, st.committed_bytes,
                st.peak_committed_bytes);
        last_allocs = st.allocations;
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0};
    while (in.i < in.n)
        step(&in);
    for (int k = 0; k < NSLOTS; k++)
        release(&slots[k], 0);
    REQUIRE(live_bytes == 0, "model out of step: %zu bytes live", live_bytes);
    return 0;
}
