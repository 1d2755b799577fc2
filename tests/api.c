/* Unit tests of every documented rule of the malloc family.
 *
 * Built twice by tests/run.sh: api_std calls the overriding standard names (malloc, free...),
 * api_prefix (-DUSE_PREFIX) calls brisk_malloc, brisk_free...  Rules that only exist under the
 * standard names (mallinfo2, malloc_info, malloc_stats, mallopt, __libc_*) are tested in
 * api_std; their prefixed counterparts (brisk_trim, brisk_get_stats, brisk_stats_print) in
 * api_prefix.  Run with a test name to run just that one (tests/run.sh runs each separately),
 * with no argument to run them all in order, with --list to list them. */
#include "common.h"

#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef USE_PREFIX
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

static const size_t page = 4096;

/* ---- alignment, malloc(0), usable size ------------------------------------------------- */

static void t_alignment(void)
{
    static void *blocks[2100];
    /* every size up to 2 KiB, all live at once */
    for (size_t n = 0; n <= 2048; n++) {
        void *p = T_malloc(n);
        CHECK(p != NULL, "malloc(%zu) failed", n);
        CHECK(is_aligned(p, 16), "malloc(%zu) = %p is not 16-byte aligned", n, p);
        size_t u = T_usable(p);
        CHECK(u >= n, "usable size %zu < request %zu", u, n);
        memset(p, (int)(n & 0xff), n);
        blocks[n] = p;
    }
    for (size_t n = 0; n <= 2048; n++) {
        unsigned char *b = blocks[n];
        for (size_t i = 0; i < n; i++)
            CHECK(b[i] == (unsigned char)(n & 0xff), "block of %zu changed at %zu", n, i);
        T_free(b);
    }
    /* powers of two and their neighbours up to 16 MiB */
    for (int k = 1; k <= 24; k++) {
        size_t base = (size_t)1 << k;
        size_t cand[4] = {base - 1, base, base + 1, base + base / 2};
        for (int j = 0; j < 4; j++) {
            size_t n = cand[j];
            void *p = T_malloc(n), *q = T_malloc(n);
            CHECK(p != NULL && q != NULL, "malloc(%zu) failed", n);
            CHECK(is_aligned(p, 16) && is_aligned(q, 16), "malloc(%zu): %p %p not 16-aligned", n,
                  p, q);
            CHECK(p != q, "two live blocks at the same address %p", p);
            touch_pages(p, n);
            touch_pages(q, n);
            T_free(q);
            T_free(p);
        }
    }
    /* calloc, realloc results too */
    for (size_t n = 0; n < 600; n += 7) {
        void *p = T_calloc(1, n);
        CHECK(p != NULL && is_aligned(p, 16), "calloc(1, %zu) = %p", n, p);
        void *q = T_realloc(p, n * 3 + 1);
        CHECK(q != NULL && is_aligned(q, 16), "realloc(%zu) = %p", n * 3 + 1, q);
        T_free(q);
    }
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void t_malloc0(void)
{
    enum { N = 512 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = i % 2 ? T_malloc(0) : T_calloc(i % 4 ? 0 : 7, i % 4 ? 7 : 0);
        CHECK(p[i] != NULL, "zero-size allocation %d returned NULL", i);
        CHECK(is_aligned(p[i], 16), "zero-size allocation %p not 16-aligned", p[i]);
    }
    static void *s[N];
    memcpy(s, p, sizeof s);
    qsort(s, N, sizeof s[0], cmp_ptr);
    for (int i = 1; i < N; i++)
        CHECK(s[i] != s[i - 1], "malloc(0) returned the same pointer %p twice", s[i]);
    for (int i = 0; i < N; i++)
        T_free(p[i]);
    void *r = T_realloc(NULL, 0);
    CHECK(r != NULL, "realloc(NULL, 0) must act as malloc(0) and return a unique pointer");
    T_free(r);
    T_free(NULL);
}

static void t_usable(void)
{
    static const size_t sizes[] = {1,     7,     8,     9,      16,     17,      24,      31,
                                   48,    63,    100,   128,    200,    255,     256,     300,
                                   511,   700,   1000,  1024,   1500,   2049,    3000,    4095,
                                   4096,  5000,  8191,  10000,  16385,  40000,   65535,   65536,
                                   70000, 99999, 100000, 200000, 300000, 1048575, 1048577, 3145729,
                                   /* around brisk's class limits: 1 KiB, 256 KiB, 4 MiB */
                                   1025, 262143, 262144, 262145, 4194240, 4194304, 4194305};
    enum { K = 24 };
    CHECK(T_usable(NULL) == 0, "malloc_usable_size(NULL) must be 0");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        void *b[K];
        size_t u[K];
        for (int i = 0; i < K; i++) {
            b[i] = T_malloc(n);
            CHECK(b[i] != NULL, "malloc(%zu)", n);
            u[i] = T_usable(b[i]);
            CHECK(u[i] >= n, "malloc_usable_size %zu < %zu", u[i], n);
            /* the whole usable size is writable and belongs to this block alone */
            fill_pattern(b[i], u[i], pattern_seed(b[i], u[i]));
        }
        for (int i = 0; i < K; i++) {
            size_t bad = check_pattern(b[i], u[i], pattern_seed(b[i], u[i]));
            CHECK(bad == (size_t)-1, "block %p (request %zu, usable %zu) overwritten at %zu", b[i],
                  n, u[i], bad);
            CHECK(T_usable(b[i]) == u[i], "usable size of %p changed", b[i]);
            T_free(b[i]);
        }
    }
}

/* ---- errno ----------------------------------------------------------------------------- */

static void t_free_errno(void)
{
    static const size_t sizes[] = {0, 1, 24, 1000, 30000, 100 * 1024, 600 * 1024, 8 * 1024 * 1024};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        void *p = T_malloc(n);
        CHECK(p != NULL);
        touch_pages(p, n);
        errno = 12345;
        T_free(p);
        CHECK(errno == 12345, "free of a %zu-byte block changed errno to %d", n, errno);
        void *q = NULL;
        CHECK(T_posix_memalign(&q, 65536, n) == 0);
        touch_pages(q, n);
        errno = 54321;
        T_free(q);
        CHECK(errno == 54321, "free of a 64 KiB-aligned %zu-byte block changed errno", n);
        q = T_calloc(1, n);
        CHECK(q != NULL);
        errno = ENOENT;
        T_free_sized(q, n);
        CHECK(errno == ENOENT, "free_sized changed errno");
        q = T_aligned_alloc(256, n);
        CHECK(q != NULL);
        errno = EBADF;
        T_free_aligned_sized(q, 256, n);
        CHECK(errno == EBADF, "free_aligned_sized changed errno");
    }
    errno = ENOMEM;
    T_free(NULL);
    CHECK(errno == ENOMEM, "free(NULL) changed errno");
    /* a batch of frees that empties pages (the path that gives memory back) */
    static void *b[4096];
    for (int i = 0; i < 4096; i++) {
        b[i] = T_malloc(2000);
        CHECK(b[i] != NULL);
        memset(b[i], 1, 2000);
    }
    for (int i = 0; i < 4096; i++) {
        errno = EINTR;
        T_free(b[i]);
        CHECK(errno == EINTR, "free #%d changed errno to %d", i, errno);
    }
}

/* ---- requests too large ---------------------------------------------------------------- */

#define EXPECT_ENOMEM(expr, what)                                                                \
    do {                                                                                         \
        errno = 0;                                                                               \
        void *r_ = (expr);                                                                       \
        CHECK(r_ == NULL, "%s returned %p instead of NULL", what, r_);                           \
        CHECK(errno == ENOMEM, "%s: errno %d, expected ENOMEM", what, errno);                    \
    } while (0)

static void t_too_large(void)
{
    const size_t huge[] = {SIZE_MAX,
                           SIZE_MAX - 1,
                           SIZE_MAX - 15,
                           SIZE_MAX - 16,
                           SIZE_MAX - 4095,
                           SIZE_MAX - 4 * MiB,
                           (size_t)PTRDIFF_MAX + 1,
                           (size_t)PTRDIFF_MAX,
                           (size_t)PTRDIFF_MAX - 4095,
                           (size_t)1 << 62,
                           (size_t)1 << 48};
    char what[128];
    void *keep = T_malloc(100);
    CHECK(keep != NULL);
    fill_pattern(keep, 100, 77);
    void *big = T_malloc(8 * MiB);
    CHECK(big != NULL);
    fill_pattern(big, 8 * MiB, 78);

    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t n = opaque_size(huge[i]);
        snprintf(what, sizeof what, "malloc(%#zx)", n);
        EXPECT_ENOMEM(T_malloc(n), what);
        snprintf(what, sizeof what, "calloc(1, %#zx)", n);
        EXPECT_ENOMEM(T_calloc(1, n), what);
        snprintf(what, sizeof what, "calloc(%#zx, 1)", n);
        EXPECT_ENOMEM(T_calloc(n, 1), what);
        snprintf(what, sizeof what, "realloc(NULL, %#zx)", n);
        EXPECT_ENOMEM(T_realloc(NULL, n), what);
        snprintf(what, sizeof what, "realloc(small, %#zx)", n);
        EXPECT_ENOMEM(T_realloc(keep, n), what);
        CHECK(check_pattern(keep, 100, 77) == (size_t)-1, "failed realloc damaged the block");
        snprintf(what, sizeof what, "realloc(8 MiB block, %#zx)", n);
        EXPECT_ENOMEM(T_realloc(big, n), what);
        CHECK(check_pattern(big, 8 * MiB, 78) == (size_t)-1, "failed realloc damaged the block");
        snprintf(what, sizeof what, "aligned_alloc(64, %#zx)", n);
        EXPECT_ENOMEM(T_aligned_alloc(64, n), what);
        snprintf(what, sizeof what, "aligned_alloc(1 MiB, %#zx)", n);
        EXPECT_ENOMEM(T_aligned_alloc(MiB, n), what);
        snprintf(what, sizeof what, "memalign(4096, %#zx)", n);
        EXPECT_ENOMEM(T_memalign(4096, n), what);
        snprintf(what, sizeof what, "valloc(%#zx)", n);
        EXPECT_ENOMEM(T_valloc(n), what);
        snprintf(what, sizeof what, "pvalloc(%#zx)", n);
        EXPECT_ENOMEM(T_pvalloc(n), what);
        void *q = &what;
        int rc = T_posix_memalign(&q, 64, n);
        CHECK(rc == ENOMEM, "posix_memalign(64, %#zx) returned %d, expected ENOMEM", n, rc);
        rc = T_posix_memalign(&q, 2 * MiB, n);
        CHECK(rc == ENOMEM, "posix_memalign(2 MiB, %#zx) returned %d, expected ENOMEM", n, rc);
    }
    /* multiplication overflow */
    const size_t pairs[][2] = {{SIZE_MAX / 2 + 1, 2},
                               {2, SIZE_MAX / 2 + 1},
                               {(size_t)1 << 32, (size_t)1 << 32},
                               {SIZE_MAX, SIZE_MAX},
                               {65537, 281479271743489ULL},
                               {SIZE_MAX / 16 + 1, 16},
                               {3, SIZE_MAX / 3 + 1}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        size_t a = opaque_size(pairs[i][0]), b = opaque_size(pairs[i][1]);
        snprintf(what, sizeof what, "calloc(%#zx, %#zx)", a, b);
        EXPECT_ENOMEM(T_calloc(a, b), what);
        snprintf(what, sizeof what, "reallocarray(NULL, %#zx, %#zx)", a, b);
        EXPECT_ENOMEM(T_reallocarray(NULL, a, b), what);
        snprintf(what, sizeof what, "reallocarray(small, %#zx, %#zx)", a, b);
        EXPECT_ENOMEM(T_reallocarray(keep, a, b), what);
        CHECK(check_pattern(keep, 100, 77) == (size_t)-1, "failed reallocarray damaged block");
    }
    /* size + alignment overflow */
    EXPECT_ENOMEM(T_aligned_alloc(MiB, opaque_size(SIZE_MAX - MiB / 2)), "aligned_alloc(1M, ~0-512K)");
    EXPECT_ENOMEM(T_memalign(64 * MiB, opaque_size(SIZE_MAX - 32 * MiB)), "memalign(64M, ~0-32M)");
    /* absurd alignments fail cleanly (ENOMEM or EINVAL) */
    {
        void *q = NULL;
        int rc = T_posix_memalign(&q, opaque_size((size_t)1 << 62), 16);
        CHECK(rc == ENOMEM || rc == EINVAL, "posix_memalign(1<<62, 16) returned %d", rc);
        rc = T_posix_memalign(&q, opaque_size((size_t)1 << 63), 16);
        CHECK(rc == ENOMEM || rc == EINVAL, "posix_memalign(1<<63, 16) returned %d", rc);
        errno = 0;
        q = T_aligned_alloc(opaque_size((size_t)1 << 63), 16);
        CHECK(q == NULL && (errno == ENOMEM || errno == EINVAL), "aligned_alloc(1<<63, 16)");
    }
    /* enormous alignments: a block aligned as asked, or NULL + ENOMEM; never a crash */
    for (int shift = 26; shift <= 46; shift += 4) {
        size_t a = (size_t)1 << shift;
        errno = 0;
        void *q = T_aligned_alloc(a, 16);
        if (q != NULL) {
            CHECK(is_aligned(q, a), "aligned_alloc(1<<%d, 16) = %p is not aligned", shift, q);
            memset(q, 1, 16);
            T_free(q);
        } else {
            CHECK(errno == ENOMEM, "aligned_alloc(1<<%d, 16) failed with errno %d", shift, errno);
        }
        q = NULL;
        int rc = T_posix_memalign(&q, a, 5 * MiB);
        if (rc == 0) {
            CHECK(is_aligned(q, a), "posix_memalign(1<<%d, 5 MiB) = %p is not aligned", shift, q);
            touch_pages(q, 5 * MiB);
            T_free(q);
        } else {
            CHECK(rc == ENOMEM, "posix_memalign(1<<%d, 5 MiB) returned %d", shift, rc);
        }
    }
    /* the blocks are still usable */
    void *k2 = T_realloc(keep, 200);
    CHECK(k2 != NULL && check_pattern(k2, 100, 77) == (size_t)-1);
    T_free(k2);
    CHECK(check_pattern(big, 8 * MiB, 78) == (size_t)-1);
    T_free(big);
}

/* ---- calloc ---------------------------------------------------------------------------- */

static void t_calloc_dirty(void)
{
    static const size_t sizes[] = {1,     16,    24,     48,          100,        128,
                                   256,   1000,  1024,   4096,        10000,      65536,
                                   70000, 300000, 1 << 20, (2 << 20) + 100, 5 << 20};
    static void *b[512];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        size_t count = (32 * MiB) / n;
        if (count > 512)
            count = 512;
        if (count < 8)
            count = 8;
        for (int round = 0; round < 3; round++) {
            for (size_t i = 0; i < count; i++) {
                b[i] = T_malloc(n);
                CHECK(b[i] != NULL, "malloc(%zu)", n);
                memset(b[i], 0xa5, T_usable(b[i]));
            }
            for (size_t i = 0; i < count; i++)
                T_free(b[round == 1 ? count - 1 - i : i]);
            for (size_t i = 0; i < count; i++) {
                /* different factorings of the same size */
                if (i % 3 == 0)
                    b[i] = T_calloc(1, n);
                else if (i % 3 == 1)
                    b[i] = T_calloc(n, 1);
                else
                    b[i] = n % 4 == 0 ? T_calloc(n / 4, 4) : T_calloc(1, n);
                CHECK(b[i] != NULL, "calloc of %zu failed", n);
                CHECK(is_aligned(b[i], 16));
                size_t bad = check_zero(b[i], n);
                CHECK(bad == (size_t)-1,
                      "calloc(%zu) block %zu (round %d) reused dirty memory: byte %zu is %#x", n,
                      i, round, bad, ((unsigned char *)b[i])[bad]);
                memset(b[i], 0x5a, n);
            }
            for (size_t i = 0; i < count; i++)
                T_free(b[i]);
        }
    }
    /* realloc'd then freed memory, calloc with interleaved frees */
    struct rng r = {42};
    static void *live[256];
    static size_t live_n[256];
    for (int it = 0; it < 20000; it++) {
        int k = (int)rng_below(&r, 256);
        if (live[k]) {
            T_free(live[k]);
            live[k] = NULL;
        } else {
            size_t n = 1 + rng_below(&r, rng_below(&r, 10) == 0 ? 200000 : 2000);
            if (rng_below(&r, 2)) {
                live[k] = T_calloc(1, n);
                CHECK(live[k] != NULL);
                size_t bad = check_zero(live[k], n);
                CHECK(bad == (size_t)-1, "calloc(1, %zu) at iteration %d: byte %zu not zero", n,
                      it, bad);
            } else {
                live[k] = T_malloc(n);
                CHECK(live[k] != NULL);
            }
            memset(live[k], 0xff, n);
            live_n[k] = n;
        }
    }
    for (int k = 0; k < 256; k++)
        T_free(live[k]);
    (void)live_n;
    /* large blocks grown by realloc (moved or remapped), dirtied, freed, then calloc'd */
    for (int it = 0; it < 12; it++) {
        size_t n1 = (size_t)(it + 1) * 700 * KiB, n2 = n1 * 3 + 12345;
        unsigned char *p = T_malloc(n1);
        CHECK(p != NULL);
        memset(p, 0xff, n1);
        p = T_realloc(p, n2);
        CHECK(p != NULL);
        memset(p, 0xee, T_usable(p));
        p = T_realloc(p, n2 / 3);
        CHECK(p != NULL);
        memset(p, 0xdd, T_usable(p));
        T_free(p);
        unsigned char *z1 = T_calloc(1, n2), *z2 = T_calloc(n1, 1), *z3 = T_calloc(1, n2 / 3);
        CHECK(z1 && z2 && z3);
        size_t bad;
        CHECK((bad = check_zero(z1, n2)) == (size_t)-1, "calloc(1, %zu) byte %zu not zero", n2, bad);
        CHECK((bad = check_zero(z2, n1)) == (size_t)-1, "calloc(%zu, 1) byte %zu not zero", n1, bad);
        CHECK((bad = check_zero(z3, n2 / 3)) == (size_t)-1, "calloc(1, %zu) byte %zu not zero",
              n2 / 3, bad);
        memset(z1, 0xcc, n2);
        memset(z2, 0xcc, n1);
        memset(z3, 0xcc, n2 / 3);
        T_free(z1);
        T_free(z2);
        T_free(z3);
    }
}

/* ---- realloc --------------------------------------------------------------------------- */

static void t_realloc(void)
{
    static const size_t chain[] = {1,      2,      3,       7,       8,       15,     16,
                                   17,     31,     32,     33,      63,      64,      65,
                                   100,    127,    128,    129,     200,     255,     256,
                                   257,    500,    1000,   1024,    2000,    4000,    4096,
                                   5000,   8192,   10000,  16384,   30000,   65536,   100000,
                                   131072, 200000, 262143, 262144,  262145,  500000, 1 << 20,
                                   3 << 19, 2 << 20, (4 << 20) - 64, 4 << 20, (4 << 20) + 1,
                                   8 << 20, 16 << 20, 33 << 20};
    const int len = (int)(sizeof chain / sizeof chain[0]);
    /* realloc(NULL, n) is malloc(n) */
    for (int i = 0; i < len; i++) {
        void *p = T_realloc(NULL, chain[i]);
        CHECK(p != NULL && is_aligned(p, 16) && T_usable(p) >= chain[i], "realloc(NULL, %zu)",
              chain[i]);
        touch_pages(p, chain[i]);
        T_free(p);
    }
    /* up the chain, down the chain, then jumps; contents kept at every step */
    int order[3 * 64], no = 0;
    for (int i = 0; i < len; i++)
        order[no++] = i;
    for (int i = len - 2; i >= 0; i--)
        order[no++] = i;
    struct rng r = {7};
    for (int i = 0; i < 40; i++)
        order[no++] = (int)rng_below(&r, (uint64_t)len);
    size_t cur = 0;
    uint64_t seed = 0;
    unsigned char *p = NULL;
    for (int k = 0; k < no; k++) {
        size_t n = chain[order[k]];
        unsigned char *q = T_realloc(p, n);
        CHECK(q != NULL, "realloc(%p, %zu) failed", (void *)p, n);
        CHECK(is_aligned(q, 16), "realloc result %p not 16-aligned", (void *)q);
        CHECK(T_usable(q) >= n, "usable %zu < %zu after realloc", T_usable(q), n);
        size_t keep = cur < n ? cur : n;
        size_t bad = check_pattern(q, keep, seed);
        CHECK(bad == (size_t)-1, "realloc %zu -> %zu lost contents at byte %zu", cur, n, bad);
        seed = pattern_seed(q, n);
        fill_pattern(q, n, seed);
        p = q;
        cur = n;
    }
    /* shrink a lot and grow back: the kept prefix survives */
    fill_pattern(p, cur, seed = 99);
    unsigned char *q = T_realloc(p, 10);
    CHECK(q != NULL && check_pattern(q, 10, 99) == (size_t)-1, "shrink to 10 lost contents");
    q = T_realloc(q, 3 * MiB);
    CHECK(q != NULL && check_pattern(q, 10, 99) == (size_t)-1, "grow from 10 lost contents");
    T_free(q);

    /* realloc(p, 0) frees and returns NULL; the memory really goes back */
    for (int i = 0; i < len; i++) {
        void *a = T_malloc(chain[i]);
        CHECK(a != NULL);
        errno = 0;
        void *z = T_realloc(a, 0);
        CHECK(z == NULL, "realloc(p, 0) returned %p, glibc returns NULL after freeing", z);
    }
    {
        void *a = T_malloc(16 * MiB);
        CHECK(a != NULL);
        touch_pages(a, 16 * MiB);
        struct brisk_stats before = t_stats();
        CHECK(T_realloc(a, 0) == NULL);
        struct brisk_stats after = t_stats();
        CHECK(after.live_bytes + 16 * MiB <= before.live_bytes,
              "realloc(16 MiB block, 0) did not free it (live bytes %zu -> %zu)", before.live_bytes,
              after.live_bytes);
    }
    /* realloc of aligned blocks keeps contents */
    for (size_t a = 32; a <= 2 * MiB; a *= 4) {
        void *b = NULL;
        CHECK(T_posix_memalign(&b, a, 3000) == 0);
        fill_pattern(b, 3000, a);
        void *c = T_realloc(b, 50000);
        CHECK(c != NULL && check_pattern(c, 3000, a) == (size_t)-1, "realloc of %zu-aligned", a);
        c = T_realloc(c, 1000);
        CHECK(c != NULL && check_pattern(c, 1000, a) == (size_t)-1, "shrink of %zu-aligned", a);
        T_free(c);
    }
    /* small aligned blocks (likely carved out of bigger blocks): grow, shrink, keep contents */
    for (size_t a = 32; a <= 8192; a *= 2) {
        for (size_t n = 1; n <= 700; n = n * 3 + 5) {
            unsigned char *b = T_aligned_alloc(a, n);
            CHECK(b != NULL && is_aligned(b, a), "aligned_alloc(%zu, %zu)", a, n);
            fill_pattern(b, n, a ^ n);
            unsigned char *c = T_realloc(b, n + 200);
            CHECK(c != NULL && check_pattern(c, n, a ^ n) == (size_t)-1, "grow %zu-aligned %zu", a, n);
            fill_pattern(c, n + 200, a + n);
            c = T_realloc(c, n / 2 + 1);
            CHECK(c != NULL && check_pattern(c, n / 2 + 1, a + n) == (size_t)-1,
                  "shrink %zu-aligned %zu", a, n);
            T_free(c);
            b = T_memalign(a, n);
            CHECK(b != NULL && is_aligned(b, a) && T_usable(b) >= n);
            memset(b, 0x42, T_usable(b));
            T_free_sized(b, n);
        }
    }
    /* large blocks: shrink step by step, then grow step by step (in place or moved) */
    {
        size_t n = 40 * MiB;
        unsigned char *b = T_malloc(n);
        CHECK(b != NULL);
        fill_pattern(b, n, 1234);
        size_t kept = n;
        while (n > 300000) {
            n = n / 10 * 9;
            b = T_realloc(b, n);
            CHECK(b != NULL && T_usable(b) >= n, "shrinking realloc to %zu", n);
            kept = n;
            CHECK(check_pattern(b, kept, 1234) == (size_t)-1, "shrink to %zu lost contents", n);
        }
        while (n < 40 * MiB) {
            n = n / 9 * 10 + 4096;
            b = T_realloc(b, n);
            CHECK(b != NULL && T_usable(b) >= n, "growing realloc to %zu", n);
            CHECK(check_pattern(b, kept, 1234) == (size_t)-1, "grow to %zu lost contents", n);
            touch_pages(b + kept, n - kept);
        }
        T_free(b);
    }
    /* large aligned blocks: realloc grows and shrinks them like any other */
    for (size_t a = MiB; a <= 16 * MiB; a *= 4) {
        void *v = NULL;
        CHECK(T_posix_memalign(&v, a, 3 * MiB) == 0 && is_aligned(v, a));
        fill_pattern(v, 3 * MiB, a + 1);
        unsigned char *c = T_realloc(v, 9 * MiB);
        CHECK(c != NULL && check_pattern(c, 3 * MiB, a + 1) == (size_t)-1, "grow %zu-aligned", a);
        touch_pages(c + 3 * MiB, 6 * MiB);
        c = T_realloc(c, 700000);
        CHECK(c != NULL && check_pattern(c, 700000, a + 1) == (size_t)-1, "shrink %zu-aligned", a);
        c = T_realloc(c, 5000);
        CHECK(c != NULL && check_pattern(c, 5000, a + 1) == (size_t)-1, "shrink %zu-aligned", a);
        T_free(c);
    }
    /* reallocarray */
    unsigned *arr = T_reallocarray(NULL, 10, sizeof *arr);
    CHECK(arr != NULL && is_aligned(arr, 16));
    for (unsigned i = 0; i < 10; i++)
        arr[i] = i * 7;
    for (size_t n = 20; n < 2000000; n = n * 3 + 1) {
        arr = T_reallocarray(arr, n, sizeof *arr);
        CHECK(arr != NULL && T_usable(arr) >= n * sizeof *arr, "reallocarray to %zu", n);
        for (unsigned i = 0; i < 10; i++)
            CHECK(arr[i] == i * 7, "reallocarray lost contents");
        arr[n - 1] = 1;
    }
    errno = 0;
    CHECK(T_reallocarray(arr, 0, 4) == NULL, "reallocarray(p, 0, 4) must free and return NULL");
}

/* ---- aligned allocation ---------------------------------------------------------------- */

static void t_posix_memalign_einval(void)
{
    const size_t bad[] = {0,    1,      2,     3,          4,          5,
                          6,    7,      12,    24,         48,         96,
                          100,  4095,   4097,  12288,      MiB + 16,   3 * MiB,
                          SIZE_MAX, SIZE_MAX / 2, ((size_t)1 << 40) + 8};
    const size_t sizes[] = {0, 16, 100000, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
            void *sentinel = (void *)(uintptr_t)0xdeadbeef0ULL;
            void *q = sentinel;
            int rc = T_posix_memalign(&q, opaque_size(bad[i]), opaque_size(sizes[j]));
            CHECK(rc == EINVAL, "posix_memalign(alignment %#zx, %#zx) returned %d, expected EINVAL",
                  bad[i], sizes[j], rc);
            CHECK(q == sentinel, "posix_memalign(alignment %#zx) failed but changed *memptr",
                  bad[i]);
        }
    }
}

static void t_aligned_alloc_einval(void)
{
    const size_t bad[] = {0, 3, 5, 6, 24, 48, 100, 4097, 12288, 3 * MiB, SIZE_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        void *q = T_aligned_alloc(opaque_size(bad[i]), 64);
        CHECK(q == NULL, "aligned_alloc(%#zx, 64) returned %p, expected NULL (not a power of two)",
              bad[i], q);
        CHECK(errno == EINVAL, "aligned_alloc(%#zx, 64): errno %d, expected EINVAL", bad[i], errno);
    }
}

static void t_aligned_many(void)
{
    static const size_t sizes[] = {0, 1, 15, 16, 100, 4096, 100000, 5 * MiB};
    for (int fn = 0; fn < 3; fn++) {
        const char *name = fn == 0 ? "posix_memalign" : fn == 1 ? "aligned_alloc" : "memalign";
        for (size_t a = 1; a <= 64 * MiB; a *= 2) {
            if (fn == 0 && a < sizeof(void *))
                continue;
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t n = sizes[s];
                void *p[2];
                for (int k = 0; k < 2; k++) {
                    p[k] = NULL;
                    if (fn == 0) {
                        int rc = T_posix_memalign(&p[k], a, n);
                        CHECK(rc == 0, "posix_memalign(%zu, %zu) returned %d", a, n, rc);
                    } else if (fn == 1) {
                        p[k] = T_aligned_alloc(a, n);
                    } else {
                        p[k] = T_memalign(a, n);
                    }
                    CHECK(p[k] != NULL, "%s(%zu, %zu) returned NULL", name, a, n);
                    size_t want = a < 16 ? 16 : a;
                    CHECK(is_aligned(p[k], want), "%s(%zu, %zu) = %p is not %zu-aligned", name, a,
                          n, p[k], want);
                    CHECK(T_usable(p[k]) >= n, "%s(%zu, %zu): usable %zu", name, a, n,
                          T_usable(p[k]));
                    if (n <= 100000)
                        fill_pattern(p[k], n, pattern_seed(p[k], n));
                    else
                        touch_pages(p[k], n);
                }
                uintptr_t x = (uintptr_t)p[0], y = (uintptr_t)p[1];
                CHECK(x + n <= y || y + n <= x || (n == 0 && x != y),
                      "%s(%zu, %zu) blocks %p and %p overlap", name, a, n, p[0], p[1]);
                for (int k = 0; k < 2; k++) {
                    if (n <= 100000)
                        CHECK(check_pattern(p[k], n, pattern_seed(p[k], n)) == (size_t)-1,
                              "%s(%zu, %zu) block %p overwritten", name, a, n, p[k]);
                }
                if (fn == 1)
                    T_free_aligned_sized(p[0], a, n);
                else
                    T_free(p[0]);
                T_free(p[1]);
            }
        }
    }
    /* aligned blocks mixed with plain ones, freed in another order */
    static void *mix[3000];
    static size_t ns[3000];
    struct rng r = {3};
    for (int i = 0; i < 3000; i++) {
        size_t n = ns[i] = rng_below(&r, 3000);
        if (i % 3 == 0) {
            mix[i] = T_malloc(n);
        } else {
            size_t a = (size_t)1 << rng_below(&r, 14);
            mix[i] = i % 3 == 1 ? T_memalign(a, n) : T_aligned_alloc(a, n);
            CHECK(mix[i] != NULL && is_aligned(mix[i], a));
        }
        CHECK(mix[i] != NULL && is_aligned(mix[i], 16));
        fill_pattern(mix[i], n, (uint64_t)i);
    }
    for (int i = 2999; i >= 0; i -= 2) {
        CHECK(check_pattern(mix[i], ns[i], (uint64_t)i) == (size_t)-1, "mixed block %d", i);
        T_free(mix[i]);
    }
    for (int i = 0; i < 3000; i += 2) {
        CHECK(check_pattern(mix[i], ns[i], (uint64_t)i) == (size_t)-1, "mixed block %d", i);
        T_free(mix[i]);
    }
}

static void t_valloc(void)
{
    static const size_t sizes[] = {0, 1, 100, 4095, 4096, 4097, 100000, 5 * MiB};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        void *v = T_valloc(n);
        CHECK(v != NULL && is_aligned(v, page), "valloc(%zu) = %p", n, v);
        CHECK(T_usable(v) >= n, "valloc(%zu): usable %zu", n, T_usable(v));
        touch_pages(v, n);
        void *pv = T_pvalloc(n);
        size_t rounded = (n + page - 1) & ~(page - 1);
        CHECK(pv != NULL && is_aligned(pv, page), "pvalloc(%zu) = %p", n, pv);
        CHECK(T_usable(pv) >= rounded, "pvalloc(%zu): usable %zu < rounded size %zu", n,
              T_usable(pv), rounded);
        memset(pv, 0x3c, rounded);
        CHECK(v != pv);
        T_free(v);
        T_free(pv);
    }
}

/* ---- sized frees ----------------------------------------------------------------------- */

static void t_free_sized(void)
{
    for (size_t n = 0; n < 300000; n = n * 2 + 3) {
        void *p = T_malloc(n);
        CHECK(p != NULL);
        memset(p, 1, n);
        T_free_sized(p, n);
        p = T_calloc(n, 3);
        CHECK(p != NULL);
        T_free_sized(p, n * 3);
        for (size_t a = 1; a <= 8192; a *= 8) {
            p = T_aligned_alloc(a, n);
            CHECK(p != NULL && is_aligned(p, a));
            memset(p, 2, n);
            T_free_aligned_sized(p, a, n);
        }
    }
    T_free_sized(NULL, 0);
    T_free_sized(NULL, 100);
    T_free_aligned_sized(NULL, 64, 0);
    void *p = T_malloc(12 * MiB);
    CHECK(p != NULL);
    touch_pages(p, 12 * MiB);
    T_free_sized(p, 12 * MiB);
}

/* ---- giving memory back ---------------------------------------------------------------- */

static int do_trim(void)
{
#ifdef USE_PREFIX
    return brisk_trim(0);
#else
    return malloc_trim(0);
#endif
}

static void t_trim(void)
{
    enum { N = 65536 }; /* 64 MiB in 1 KiB blocks */
    static void *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = T_malloc(1024);
        CHECK(b[i] != NULL);
        memset(b[i], 0x77, 1024);
    }
    size_t peak = rss_bytes();
    for (int i = 0; i < N; i++)
        T_free(b[i]);
    int r = do_trim();
    size_t after = rss_bytes();
    t_log("  trim: RSS %zu KiB with 64 MiB of 1 KiB blocks, %zu KiB after free + trim\n",
          peak / 1024, after / 1024);
    CHECK(r == 1, "trim(0) returned %d after 64 MiB were freed, expected 1", r);
    CHECK(after + 32 * MiB <= peak, "RSS did not drop after trim: %zu KiB -> %zu KiB", peak / 1024,
          after / 1024);
    /* trimming again with nothing freed is harmless; memory is usable afterwards */
    (void)do_trim();
    void *p = T_malloc(1024);
    CHECK(p != NULL);
    memset(p, 1, 1024);
    T_free(p);
}

static void t_big_free_rss(void)
{
    size_t n = 256 * MiB;
    size_t base = rss_bytes();
    unsigned char *p = T_malloc(n);
    CHECK(p != NULL);
    touch_pages(p, n);
    size_t before = rss_bytes();
    CHECK(before >= base + 240 * MiB, "touching 256 MiB raised RSS only from %zu to %zu KiB",
          base / 1024, before / 1024);
    T_free(p);
    size_t after = rss_bytes();
    t_log("  256 MiB block: RSS %zu KiB before free, %zu KiB after\n", before / 1024, after / 1024);
    CHECK(after + 200 * MiB <= before, "free of 256 MiB left RSS at %zu KiB (was %zu KiB)",
          after / 1024, before / 1024);
}

/* ---- statistics and introspection ------------------------------------------------------ */

#ifndef USE_PREFIX
static void t_mallinfo2(void)
{
    enum { N = 1024 };
    static void *b[N];
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < N; i++) {
        b[i] = malloc(4096);
        CHECK(b[i] != NULL);
        memset(b[i], 3, 4096);
    }
    struct mallinfo2 m1 = mallinfo2();
    t_log("  mallinfo2: arena %zu hblkhd %zu uordblks %zu fordblks %zu -> arena %zu hblkhd %zu "
          "uordblks %zu\n",
          m0.arena, m0.hblkhd, m0.uordblks, m0.fordblks, m1.arena, m1.hblkhd, m1.uordblks);
    CHECK(m1.uordblks >= m0.uordblks + N * 4096, "uordblks grew from %zu to %zu after 4 MiB",
          m0.uordblks, m1.uordblks);
    CHECK(m1.arena + m1.hblkhd >= m1.uordblks,
          "memory from the OS (arena %zu + hblkhd %zu) below memory in use (%zu)", m1.arena,
          m1.hblkhd, m1.uordblks);
    void *big = malloc(32 * MiB);
    CHECK(big != NULL);
    touch_pages(big, 32 * MiB);
    struct mallinfo2 m2 = mallinfo2();
    CHECK(m2.uordblks + m2.hblkhd >= m1.uordblks + 32 * MiB,
          "a 32 MiB block is in neither uordblks nor hblkhd (%zu + %zu, before %zu)", m2.uordblks,
          m2.hblkhd, m1.uordblks);
    CHECK(m2.arena + m2.hblkhd >= 32 * MiB + N * 4096, "arena %zu + hblkhd %zu too small",
          m2.arena, m2.hblkhd);
    /* many small blocks count too */
    static void *sm[10000];
    struct mallinfo2 m4 = mallinfo2();
    for (int i = 0; i < 10000; i++) {
        sm[i] = malloc(100);
        CHECK(sm[i] != NULL);
        memset(sm[i], 4, 100);
    }
    struct mallinfo2 m5 = mallinfo2();
    CHECK(m5.uordblks >= m4.uordblks + 10000 * 100,
          "uordblks grew from %zu to %zu after 10000 blocks of 100 bytes", m4.uordblks, m5.uordblks);
    for (int i = 0; i < 10000; i++)
        free(sm[i]);
    struct mallinfo old = mallinfo(); /* the old interface (int fields) agrees */
    CHECK(old.uordblks > 0 || old.hblkhd > 0, "mallinfo() reports nothing in use");
    free(big);
    for (int i = 0; i < N; i++)
        free(b[i]);
    struct mallinfo2 m3 = mallinfo2();
    CHECK(m3.uordblks + N * 4096 <= m1.uordblks, "uordblks did not drop after freeing (%zu -> %zu)",
          m1.uordblks, m3.uordblks);
}

/* A small XML well-formedness check: tags nest and balance, the root is <malloc ...>. */
static void check_xml(const char *s, size_t len)
{
    const char *names[64];
    size_t lens[64];
    int depth = 0, elements = 0;
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
        i++;
    CHECK(len - i >= 7 && strncmp(s + i, "<malloc", 7) == 0, "malloc_info output starts with %.20s",
          s + i);
    while (i < len) {
        if (s[i] != '<') {
            CHECK(depth > 0 || s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r',
                  "text outside the root element at offset %zu", i);
            i++;
            continue;
        }
        size_t start = i++;
        if (i < len && (s[i] == '?' || s[i] == '!')) {
            while (i < len && s[i] != '>')
                i++;
            CHECK(i < len, "unterminated declaration");
            i++;
            continue;
        }
        int closing = 0;
        if (i < len && s[i] == '/') {
            closing = 1;
            i++;
        }
        size_t ns = i;
        while (i < len && s[i] != '>' && s[i] != '/' && s[i] != ' ' && s[i] != '\t' &&
               s[i] != '\n')
            i++;
        size_t nl = i - ns;
        CHECK(nl > 0, "empty tag name at offset %zu", start);
        char quote = 0;
        int self_closing = 0;
        while (i < len) {
            char c = s[i];
            if (quote) {
                if (c == quote)
                    quote = 0;
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '>') {
                self_closing = i > ns && s[i - 1] == '/';
                break;
            } else if (c == '<') {
                t_fail(__FILE__, __LINE__, "well-formed", " '<' inside tag at offset %zu", i);
            }
            i++;
        }
        CHECK(i < len, "unterminated tag at offset %zu", start);
        i++;
        if (closing) {
            CHECK(depth > 0, "closing tag </%.*s> without opening", (int)nl, s + ns);
            depth--;
            CHECK(lens[depth] == nl && memcmp(names[depth], s + ns, nl) == 0,
                  "</%.*s> closes <%.*s>", (int)nl, s + ns, (int)lens[depth], names[depth]);
        } else {
            CHECK(depth > 0 || elements == 0, "second root element at offset %zu", start);
            elements++;
            if (depth == 0)
                CHECK(nl == 6 && memcmp(s + ns, "malloc", 6) == 0, "root element is %.*s",
                      (int)nl, s + ns);
            if (!self_closing) {
                CHECK(depth < 64, "nesting too deep");
                names[depth] = s + ns;
                lens[depth] = nl;
                depth++;
            }
        }
    }
    CHECK(depth == 0, "%d elements left open", depth);
    CHECK(elements > 0);
}

static void t_malloc_info(void)
{
    void *hold[64];
    for (int i = 0; i < 64; i++)
        hold[i] = malloc((size_t)i * 1000 + (i == 63 ? 4 * MiB : 0));
    char path[] = "/tmp/brisk-malloc-info-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w+");
    CHECK(f != NULL);
    errno = 0;
    int rc = malloc_info(0, f);
    CHECK(rc == 0, "malloc_info(0, f) returned %d (errno %d)", rc, errno);
    fflush(f);
    long len = ftell(f);
    CHECK(len > 0, "malloc_info wrote nothing");
    char *buf = malloc((size_t)len + 1);
    CHECK(buf != NULL);
    rewind(f);
    CHECK(fread(buf, 1, (size_t)len, f) == (size_t)len);
    buf[len] = '\0';
    fclose(f);
    check_xml(buf, (size_t)len);
    free(buf);
    /* a real XML parser, where there is one */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; "
                 "r = E.parse(sys.argv[1]).getroot(); sys.exit(r.tag != \"malloc\")' %s",
                 path);
        int st = system(cmd);
        CHECK(st == 0, "python3 could not parse malloc_info's output (%s kept)", path);
    } else {
        t_log("  (no /usr/bin/python3: parsed with the built-in checker only)\n");
    }
    unlink(path);
    for (int i = 0; i < 64; i++)
        free(hold[i]);
}

static void t_malloc_stats(void)
{
    char path[] = "/tmp/brisk-malloc-stats-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    CHECK(saved >= 0);
    CHECK(dup2(fd, 2) == 2);
    void *p = malloc(1000);
    malloc_stats();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    free(p);
    off_t len = lseek(fd, 0, SEEK_END);
    close(fd);
    CHECK(len > 0, "malloc_stats() printed nothing on stderr");
}

static void t_mallopt(void)
{
    CHECK(mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1, "mallopt(M_MMAP_THRESHOLD) must return 1");
    CHECK(mallopt(M_TRIM_THRESHOLD, 1024 * 1024) == 1, "mallopt(M_TRIM_THRESHOLD) must return 1");
    CHECK(mallopt(M_ARENA_MAX, 4) == 1, "mallopt(M_ARENA_MAX) must return 1");
    CHECK(mallopt(12345, 1) == 0, "mallopt(12345) (unknown parameter) must return 0");
    for (size_t n = 1; n < 4 * MiB; n *= 3) {
        void *p = malloc(n);
        CHECK(p != NULL);
        memset(p, 9, n);
        free(p);
    }
}

/* Every overriding name, glibc's internal ones included, is brisk's: allocations counted by
 * brisk, pointers accepted by brisk's own functions; libc's internal mallocs reach brisk. */
static void t_routing(void)
{
    void *p;
    struct brisk_stats s0, s1;
#define ROUTED(expr, n)                                                                          \
    do {                                                                                         \
        s0 = t_stats();                                                                          \
        p = (expr);                                                                              \
        s1 = t_stats();                                                                          \
        CHECK(p != NULL, "%s failed", #expr);                                                    \
        CHECK(s1.allocations > s0.allocations, "%s was not served by brisk", #expr);            \
        CHECK(brisk_malloc_usable_size(p) >= (n), "%s: brisk's usable size too small", #expr);  \
        memset(p, 1, (n));                                                                       \
    } while (0)
    ROUTED(malloc(10), 10);
    brisk_free(p);
    ROUTED(calloc(3, 10), 30);
    free(p);
    ROUTED(realloc(NULL, 50), 50);
    p = realloc(p, 5000);
    CHECK(p != NULL);
    brisk_free(p);
    ROUTED(reallocarray(NULL, 5, 5), 25);
    free(p);
    ROUTED(aligned_alloc(64, 64), 64);
    brisk_free(p);
    ROUTED(memalign(128, 10), 10);
    free(p);
    ROUTED(valloc(10), 10);
    free(p);
    ROUTED(pvalloc(10), 4096);
    brisk_free(p);
    ROUTED(__libc_malloc(10), 10);
    __libc_free(p);
    ROUTED(__libc_calloc(2, 8), 16);
    p = __libc_realloc(p, 100);
    CHECK(p != NULL);
    brisk_free(p);
    ROUTED(__libc_realloc(NULL, 16), 16);
    free(p);
    ROUTED(__libc_memalign(256, 16), 16);
    CHECK(is_aligned(p, 256));
    __libc_free(p);
    {
        void *q = NULL;
        s0 = t_stats();
        CHECK(posix_memalign(&q, 64, 100) == 0);
        s1 = t_stats();
        CHECK(s1.allocations > s0.allocations, "posix_memalign was not served by brisk");
        brisk_free(q);
        s0 = t_stats();
        CHECK(__posix_memalign(&q, 64, 100) == 0);
        s1 = t_stats();
        CHECK(s1.allocations > s0.allocations, "__posix_memalign was not served by brisk");
        free(q);
    }
    /* glibc's own allocations (strdup, getline, fopen) go through brisk */
    ROUTED(strdup("hello, brisk"), 13);
    brisk_free(p);
    {
        char *line = NULL;
        size_t cap = 0;
        FILE *f = fmemopen("a line of text\nsecond\n", 22, "r");
        CHECK(f != NULL);
        CHECK(getline(&line, &cap, f) == 15);
        CHECK(brisk_malloc_usable_size(line) >= cap, "getline's buffer is not brisk's");
        brisk_free(line);
        fclose(f);
    }
#undef ROUTED
}
#else  /* USE_PREFIX */

static void t_prefixed_stats(void)
{
    enum { N = 1024 };
    static void *b[N];
    struct brisk_stats s0 = t_stats();
    for (int i = 0; i < N; i++) {
        b[i] = brisk_malloc(4096);
        CHECK(b[i] != NULL);
        memset(b[i], 3, 4096);
    }
    struct brisk_stats s1 = t_stats();
    CHECK(s1.allocations >= s0.allocations + N, "allocations %zu -> %zu after %d mallocs",
          s0.allocations, s1.allocations, N);
    CHECK(s1.live_bytes >= s0.live_bytes + N * 4096, "live bytes %zu -> %zu after 4 MiB",
          s0.live_bytes, s1.live_bytes);
    CHECK(s1.mapped_bytes >= s1.committed_bytes, "committed %zu > mapped %zu", s1.committed_bytes,
          s1.mapped_bytes);
    CHECK(s1.committed_bytes >= N * 4096, "committed %zu below the 4 MiB in use",
          s1.committed_bytes);
    CHECK(s1.peak_committed_bytes >= s1.committed_bytes);
    CHECK(s1.heaps_created >= 1);
    void *big = brisk_malloc(32 * MiB);
    CHECK(big != NULL);
    touch_pages(big, 32 * MiB);
    struct brisk_stats s2 = t_stats();
    CHECK(s2.large_live == s1.large_live + 1, "large_live %zu -> %zu after a 32 MiB block",
          s1.large_live, s2.large_live);
    CHECK(s2.live_bytes >= s1.live_bytes + 32 * MiB);
    CHECK(s2.mapped_bytes >= 32 * MiB + N * 4096);
    brisk_free(big);
    for (int i = 0; i < N; i++)
        brisk_free(b[i]);
    struct brisk_stats s3 = t_stats();
    CHECK(s3.large_live == s1.large_live, "large_live %zu after freeing the 32 MiB block",
          s3.large_live);
    CHECK(s3.live_bytes + 32 * MiB + N * 4096 <= s2.live_bytes, "live bytes %zu -> %zu after frees",
          s2.live_bytes, s3.live_bytes);
    /* the readable report */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    brisk_stats_print(f);
    fclose(f);
    CHECK(len > 0 && text != NULL, "brisk_stats_print wrote nothing");
    CHECK(strstr(text, "allocations") != NULL, "brisk_stats_print has no allocations line:\n%s",
          text);
    free(text);
}

static void t_routing(void)
{
    /* every prefixed allocating function is counted by brisk */
    struct brisk_stats s0, s1;
    void *p;
#define COUNTED(expr)                                                                            \
    do {                                                                                         \
        s0 = t_stats();                                                                          \
        p = (expr);                                                                              \
        s1 = t_stats();                                                                          \
        CHECK(p != NULL && s1.allocations > s0.allocations, "%s not counted", #expr);            \
        brisk_free(p);                                                                           \
    } while (0)
    COUNTED(brisk_malloc(1));
    COUNTED(brisk_calloc(1, 1));
    COUNTED(brisk_realloc(NULL, 1));
    COUNTED(brisk_reallocarray(NULL, 1, 1));
    COUNTED(brisk_aligned_alloc(64, 1));
    COUNTED(brisk_memalign(64, 1));
    COUNTED(brisk_valloc(1));
    COUNTED(brisk_pvalloc(1));
    s0 = t_stats();
    CHECK(brisk_posix_memalign(&p, 64, 1) == 0);
    s1 = t_stats();
    CHECK(s1.allocations > s0.allocations, "brisk_posix_memalign not counted");
    brisk_free(p);
#undef COUNTED
}
#endif

/* ---- driver ---------------------------------------------------------------------------- */

struct test {
    const char *name;
    void (*fn)(void);
};

static const struct test tests[] = {
    {"alignment", t_alignment},
    {"malloc0", t_malloc0},
    {"usable_size", t_usable},
    {"free_errno", t_free_errno},
    {"too_large", t_too_large},
    {"calloc_dirty", t_calloc_dirty},
    {"realloc", t_realloc},
    {"posix_memalign_einval", t_posix_memalign_einval},
    {"aligned_alloc_einval", t_aligned_alloc_einval},
    {"aligned_many", t_aligned_many},
    {"valloc_pvalloc", t_valloc},
    {"free_sized", t_free_sized},
    {"routing", t_routing},
    {"big_free_rss", t_big_free_rss},
    {"trim", t_trim},
#ifndef USE_PREFIX
    {"mallinfo2", t_mallinfo2},
    {"malloc_info", t_malloc_info},
    {"malloc_stats", t_malloc_stats},
    {"mallopt", t_mallopt},
#else
    {"stats", t_prefixed_stats},
#endif
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
            t_log("%s\n", tests[i].name);
        return 0;
    }
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
            continue;
        t_log("%s api: %s\n", API_NAME, tests[i].name);
        tests[i].fn();
        ran++;
    }
    CHECK(ran > 0, "no test named %s", argc > 1 ? argv[1] : "");
    t_log("%s api: all %d tests passed\n", API_NAME, ran);
    return 0;
}
