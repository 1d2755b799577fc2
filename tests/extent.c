/* Extents (src/extent.c): blocks above 8 KiB up to 256 KiB carved in 4 KiB units from spans
 * shared by all big sizes, coalesced on free. These tests check that no block shares bytes with
 * another, that freed neighbours join into one extent, that other threads' frees (and an exited
 * thread's blocks) come back, that double frees are caught even after the memory was reused,
 * that calloc reads zero over reused and purged units, that realloc keeps content across the
 * threshold, that malloc_trim gives the memory back, and that a freed block waiting in the
 * extent cache comes back for its length only, counted free and cleared by calloc.
 *
 *   extent [NAME...]   (no name: all)
 *
 * Run with extents on (the default build). Under extents=0 the layout tests say so and skip. */
#include "blk.h"
#include "child.h"

#include <malloc.h>

#define EXT_MIN (8 * KiB)
#define UNITB   (4 * KiB)

static const size_t sizes[] = {
    EXT_MIN - 16, EXT_MIN, EXT_MIN + 1, EXT_MIN + 4095, EXT_MIN + 4096, 20000, 40 * KiB + 7,
    64 * KiB,     100 * KiB + 3, 192 * KiB, 256 * KiB - 1, 256 * KiB, 256 * KiB + 1,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Are blocks of this size extents here? (8 KiB + 1 .. 256 KiB, 4 KiB-aligned starts) */
static int extents_on(void)
{
    void *p = T_malloc(EXT_MIN + 1);
    int on = is_aligned(p, UNITB) && (T_usable(p) + 16) % UNITB == 0; /* the last 16 bytes: none's */
    T_free(p);
    return on;
}

/* Many blocks of every size, freed in random order and made again: content intact throughout. */
static void t_sizes(void)
{
    enum { N = 600 };
    static struct blk b[N];
    struct rng r = {7};
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < N; i++) {
            if (b[i].p && rng_below(&r, 2)) {
                blk_verify(&b[i], "before free");
                T_free(b[i].p);
                b[i].p = NULL;
            }
            if (b[i].p == NULL) {
                size_t n = sizes[rng_below(&r, NSIZES)] + (round & 1 ? rng_below(&r, 8000) : 0);
                b[i].p = T_malloc(n);
                b[i].n = n;
                CHECK(b[i].p != NULL && is_aligned(b[i].p, 16), "malloc(%zu)", n);
                CHECK(T_usable(b[i].p) >= n, "usable %zu < %zu", T_usable(b[i].p), n);
                blk_stamp(&b[i]);
            }
        }
        for (int i = 0; i < N; i++)
            blk_verify(&b[i], "after a round");
    }
    for (int i = 0; i < N; i++) {
        T_free(b[i].p);
        b[i].p = NULL;
    }
}

/* Three neighbours (each carved below the one before) freed in every order join with each other
 * and what is free around them: one block of their total size lands where the lowest was. */
static void t_coalesce(void)
{
    if (!extents_on()) {
        t_log("  coalesce: extents are off; skipped\n");
        return;
    }
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const size_t n = 20 * KiB - 16, stride = 20 * KiB; /* 5 units apiece */
    for (int o = 0; o < 6; o++) {
        malloc_trim(0);
        unsigned char *guard = T_malloc(n), *v[3];
        memset(guard, 0x33, n);
        for (int i = 0; i < 3; i++)
            v[i] = T_malloc(n);
        CHECK(v[0] + stride == guard && v[1] + stride == v[0] && v[2] + stride == v[1],
              "blocks not carved downwards from one extent: %p %p %p %p", (void *)guard, (void *)v[0],
              (void *)v[1], (void *)v[2]);
        for (int i = 0; i < 3; i++) {
            memset(v[orders[o][i]], 0x11 * (i + 1), n);
            T_free(v[orders[o][i]]);
        }
        malloc_trim(0); /* the three wait in the extent cache until a tick (extent_cache=0: joined) */
        unsigned char *big = T_malloc(3 * stride - 16);
        CHECK(big == v[2], "order %d: 3 x %zu freed at %p, a block of %zu at %p", o, n, (void *)v[2],
              3 * stride - 16, (void *)big);
        memset(big, 0x77, 3 * stride - 16);
        for (size_t i = 0; i < n; i++)
            CHECK(guard[i] == 0x33, "order %d: the block above changed at byte %zu", o, i);
        T_free(big);
        T_free(guard);
    }
}

/* Threads make blocks and hand them to each other through a pool; every block is checked by the
 * thread that frees it. */
static struct blk pool_v[256];
static struct blk_pool pool = BLK_POOL(pool_v);

static void *xthread(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    struct blk mine[32] = {{0}};
    for (int i = 0; i < 6000; i++) {
        struct blk *b = &mine[rng_below(&r, 32)];
        if (b->p) {
            if (!blk_put(&pool, b)) {
                blk_verify(b, "own block");
                T_free(b->p);
                b->p = NULL;
            }
        }
        struct blk got;
        if (blk_take(&pool, &got)) {
            blk_verify(&got, "block from another thread");
            T_free(got.p);
        }
        b->n = EXT_MIN + 1 + rng_below(&r, 240 * KiB);
        b->p = T_malloc(b->n);
        CHECK(b->p != NULL);
        blk_stamp(b);
    }
    for (int i = 0; i < 32; i++)
        if (mine[i].p) {
            blk_verify(&mine[i], "at thread end");
            T_free(mine[i].p);
        }
    return NULL;
}

/* An exited thread's blocks, freed by this one: its heap is an orphan; trim takes them. */
static void *leave_blocks(void *out)
{
    struct blk *b = out;
    for (int i = 0; i < 64; i++) {
        b[i].n = EXT_MIN + 1 + (size_t)i * 3001;
        b[i].p = T_malloc(b[i].n);
        CHECK(b[i].p != NULL);
        blk_stamp(&b[i]);
    }
    return NULL;
}

static void t_threads(void)
{
    pthread_t t[4];
    for (uintptr_t i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, xthread, (void *)(i + 1)) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    struct blk got;
    while (blk_take(&pool, &got)) {
        blk_verify(&got, "left in the pool");
        T_free(got.p);
    }
    static struct blk left[64];
    pthread_t lt;
    CHECK(pthread_create(&lt, NULL, leave_blocks, left) == 0);
    CHECK(pthread_join(lt, NULL) == 0);
    for (int i = 0; i < 64; i++) {
        blk_verify(&left[i], "exited thread's block");
        T_free(left[i].p);
    }
    malloc_trim(0);
}

/* ---- double frees, each in a child ---- */

static void df_immediate(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    T_free(a);
    child_tell(a);
    T_free(a);
}

/* a joins its free neighbour below, then is freed again */
static void df_coalesced(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB), *b = T_malloc(40 * KiB);
    (void)keep;
    T_free(b);
    T_free(a);
    child_tell(a);
    T_free(a);
}

/* a's start now lies inside a bigger live block */
static void df_bigger(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB), *b = T_malloc(40 * KiB);
    (void)keep;
    T_free(b);
    T_free(a);
    malloc_trim(0); /* from the extent cache into the bins, joined */
    unsigned char *big = T_malloc(64 * KiB);
    if (!(big < a && big + 64 * KiB > a))
        _exit(3);
    child_tell(a);
    T_free(a);
}

/* a's memory partly reused by a smaller live block (carved from the high end) */
static void df_smaller(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB), *c = T_malloc(40 * KiB);
    (void)keep;
    (void)c;
    T_free(a);
    malloc_trim(0); /* from the extent cache into the bins */
    unsigned char *s = T_malloc(20 * KiB);
    if (!(s > a && s < a + 40 * KiB))
        _exit(3);
    child_tell(a);
    T_free(a);
}

static void df_remote(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, t_free_it, a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    child_tell(a);
    T_free(a);
}

/* freed by this thread, waiting in the extent cache; then freed by another */
static void df_cached_remote(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    T_free(a);
    child_tell(a);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, t_free_it, a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}

static void bad_interior(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    child_tell(a + 4096);
    T_free(a + 4096);
}

static void run_df(const void *fnp)
{
    malloc_trim(0);
    (*(void (*const *)(void))fnp)();
    _exit(0);
}

static void expect_abort(void (*fn)(void), const char *want, const char *name)
{
    struct child_result res;
    char what[128], how[128];
    child_run(run_df, &fn, &res);
    child_describe(&res, how, sizeof how);
    CHECK(!(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3), "%s: blocks not laid out as the test needs",
          name);
    CHECK(child_aborted(&res) && res.told, "%s: the child %s; stderr: %s", name, how, res.err);
    CHECK(child_brisk_line(&res, "free", what, sizeof what) && strcmp(what, want) == 0,
          "%s: want \"brisk: free(): %s %#lx\"; stderr: %s", name, want, (unsigned long)res.ptr, res.err);
    t_log("  %s: aborted with \"%s\"\n", name, what);
}

static void t_double(void)
{
    if (!extents_on()) {
        t_log("  double: extents are off; skipped\n");
        return;
    }
    expect_abort(df_immediate, "double free", "immediate");
    expect_abort(df_coalesced, "double free", "after coalescing");
    expect_abort(df_bigger, "double free", "start inside a bigger block");
    expect_abort(df_smaller, "double free", "memory reused by a smaller block");
    expect_abort(df_remote, "double free", "first free by another thread");
    expect_abort(df_cached_remote, "double free", "second free by another thread");
    expect_abort(bad_interior, "invalid pointer (not the start of a block)", "interior pointer");
}

/* calloc reads zero over dirtied memory, freed and reused, and after a purge (trim). */
static void t_calloc(void)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < NSIZES; k++) {
            unsigned char *p[8];
            for (int i = 0; i < 8; i++) {
                p[i] = T_malloc(sizes[k]);
                memset(p[i], 0xa5, sizes[k]);
            }
            for (int i = 0; i < 8; i++)
                T_free(p[i]);
            if (pass)
                malloc_trim(0);
            for (int i = 0; i < 8; i++) {
                p[i] = T_calloc(1, sizes[k]);
                CHECK(p[i] != NULL);
                size_t u = T_usable(p[i]);
                for (size_t j = 0; j < sizes[k]; j++)
                    CHECK(p[i][j] == 0, "calloc(%zu) pass %d: byte %zu is %#x", sizes[k], pass, j, p[i][j]);
                memset(p[i], 0x5a, u);
            }
            for (int i = 0; i < 8; i++)
                T_free(p[i]);
        }
    }
}

/* realloc up and down across 8 KiB and 256 KiB keeps every byte; growth into a free
 * neighbour keeps the address. */
static void t_realloc(void)
{
    struct rng r = {11};
    for (int chain = 0; chain < 40; chain++) {
        size_t n = 1 + rng_below(&r, 8 * KiB);
        unsigned char *p = T_malloc(n);
        fill_pattern(p, n, (uint64_t)chain);
        for (int step = 0; step < 40; step++) {
            size_t m = step & 1 ? 1 + rng_below(&r, 300 * KiB) : n + rng_below(&r, 40 * KiB);
            p = T_realloc(p, m);
            CHECK(p != NULL);
            size_t keep = n < m ? n : m, bad = check_pattern(p, keep, (uint64_t)chain);
            CHECK(bad == (size_t)-1, "realloc %zu -> %zu: byte %zu changed", n, m, bad);
            fill_pattern(p, m, (uint64_t)chain);
            n = m;
        }
        T_free(p);
    }
    if (!extents_on())
        return;
    malloc_trim(0);
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB), *b = T_malloc(40 * KiB);
    (void)b;
    T_free(keep); /* a's right neighbour is free now */
    unsigned char *g = T_realloc(a, 70 * KiB);
    CHECK(g == a, "realloc into a free neighbour moved %p to %p", (void *)a, (void *)g);
    T_free(g);
    T_free(b);
}

/* Deferred coalescing: a freed block waits in its heap's cache for a request of the same length
 * in units, counted free at once; calloc clears it; malloc_trim puts it back in the bins. */
static void t_cache(void)
{
    if (!extents_on()) {
        t_log("  cache: extents are off; skipped\n");
        return;
    }
    malloc_trim(0);
    /* 24 KiB: 7 units, within the cache's 32 KiB floor while little else is live */
    unsigned char *keep = T_malloc(24 * KiB), *a = T_malloc(24 * KiB), *low = T_malloc(24 * KiB);
    CHECK(a + 28 * KiB == keep && low + 28 * KiB == a, "blocks not carved downwards: %p %p %p", (void *)keep,
          (void *)a, (void *)low);
    size_t live = t_stats().live_bytes;
    memset(a, 0xa5, 24 * KiB);
    T_free(a);
    size_t after = t_stats().live_bytes;
    CHECK(after + 24 * KiB <= live, "live bytes %zu -> %zu for a freed block of 24 KiB", live, after);
    unsigned char *b = T_malloc(24 * KiB + 100); /* 7 units as well */
    CHECK(b == a, "a block of the freed one's length came from %p, not the cache's %p", (void *)b, (void *)a);
    T_free(b);
    unsigned char *c = T_calloc(1, 24 * KiB);
    CHECK(c == a, "calloc of the freed block's length came from %p, not the cache's %p", (void *)c, (void *)a);
    for (size_t i = 0; i < 24 * KiB; i++)
        CHECK(c[i] == 0, "calloc from the cache: byte %zu is %#x", i, c[i]);
    T_free(c);
    /* joined, a's 7 units are a free extent of their own, the best fit for 5 units (carved from
     * its high end); while a waits in the cache they come from elsewhere */
    const char *opts = getenv("BRISK_OPTIONS");
    int cached = opts == NULL || strstr(opts, "extent_cache=0") == NULL;
    unsigned char *e = T_malloc(20 * KiB - 16);
    CHECK(cached ? (e < a || e >= a + 28 * KiB) : e == a + 8 * KiB, "cache %s: 5 units at %p, the freed %p",
          cached ? "on" : "off", (void *)e, (void *)a);
    T_free(e);
    malloc_trim(0);
    unsigned char *d = T_malloc(20 * KiB - 16);
    CHECK(d == a + 8 * KiB, "after malloc_trim, 5 units at %p, not the top of the freed %p", (void *)d, (void *)a);
    T_free(d);
    /* the bound: 40 KiB (11 units) is more than the floor and a 32nd of what is live, so it is
     * joined at once with the free extent below it, from whose top 15 units then come */
    unsigned char *big = T_malloc(40 * KiB);
    CHECK(big + 44 * KiB == low, "not carved below the others: %p, %p", (void *)big, (void *)low);
    T_free(big);
    unsigned char *f = T_malloc(60 * KiB - 16);
    CHECK(f == big - 16 * KiB, "15 units at %p, not ending where the freed 40 KiB block %p did (cached?)",
          (void *)f, (void *)big);
    T_free(f);
    T_free(low);
    T_free(keep);
}

/* A cached block never splits free memory: a block freed next to a free extent joins it at once,
 * and one freed next to a cached block joins with it, so a longer request finds the run. */
static void t_cache_joins(void)
{
    if (!extents_on()) {
        t_log("  cache_joins: extents are off; skipped\n");
        return;
    }
    malloc_trim(0);
    /* 24 KiB: 7 units apiece, carved downwards from the top of one free extent */
    unsigned char *keep = T_malloc(24 * KiB), *a = T_malloc(24 * KiB), *b = T_malloc(24 * KiB),
                  *low = T_malloc(24 * KiB);
    CHECK(a + 28 * KiB == keep && b + 28 * KiB == a && low + 28 * KiB == b, "blocks not carved downwards: %p %p %p %p",
          (void *)keep, (void *)a, (void *)b, (void *)low);
    T_free(a); /* between two live blocks: may wait in the cache */
    T_free(b); /* next to a: both join, 14 units */
    unsigned char *ab = T_malloc(56 * KiB - 16);
    CHECK(ab == b, "14 units at %p, not the joined run of the two freed blocks at %p", (void *)ab, (void *)b);
    /* low lies between ab (live) and the free rest of the extent: it joins that rest, and 5
     * units are then carved from the top of the run, inside low's old units */
    T_free(low);
    unsigned char *e = T_malloc(20 * KiB - 16);
    CHECK(e == low + 8 * KiB, "5 units at %p, not at the top of the run the freed %p joined", (void *)e, (void *)low);
    T_free(e);
    T_free(ab);
    T_free(keep);
}

/* malloc_trim gives freed extents back: RSS falls by most of what they held. */
static void t_trim(void)
{
    enum { N = 400 };
    static unsigned char *p[N];
    malloc_trim(0);
    size_t before = rss_bytes();
    for (int i = 0; i < N; i++) {
        p[i] = T_malloc(100 * KiB);
        CHECK(p[i] != NULL);
        memset(p[i], 1, 100 * KiB);
    }
    size_t full = rss_bytes();
    for (int i = 0; i < N; i++)
        T_free(p[i]);
    malloc_trim(0);
    size_t after = rss_bytes();
    t_log("  trim: RSS %zu KiB before, %zu KiB with 40 MB live, %zu KiB after free + trim\n", before / KiB,
          full / KiB, after / KiB);
    if (RSS_CHECKS) {
        CHECK(full > before + 30 * MiB, "RSS grew only %zu KiB", (full - before) / KiB);
        CHECK(after < before + 4 * MiB, "RSS %zu KiB after trim, %zu KiB before", after / KiB, before / KiB);
    }
}

static void *free_there(void *p)
{
    T_free(p);
    return NULL;
}

/* Memory that held class pages holds their free marks (a freed block's second word) until
 * written: an extent block carved over it must not hand one out. realloc copies a block's
 * bytes, written or not, so a mark at the start of an extent moved into a small block made
 * another thread's free of that block a "double free" (found by the trace replay). */
static void t_stale(void)
{
    enum { SMALL = 960, NS = 2400, BIG = 64000 }; /* BIG: 16 units, a whole slot at a span's end */
    static void *v[NS];
    for (int i = 0; i < NS; i++) {
        v[i] = T_malloc(SMALL);
        CHECK(v[i] != NULL);
    }
    for (int i = 0; i < NS; i++)
        T_free(v[i]); /* their pages go, their slots stay resident with the marks */
    for (int round = 0; round < 16; round++) {
        unsigned char *big = T_malloc(BIG);
        CHECK(big != NULL);
        memset(big, 1, 8); /* the first word only, as a program might */
        void *small = T_realloc(big, 100);
        CHECK(small != NULL);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, free_there, small) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
}

/* Lending (extent_lend_slot): a class page needing a slot when no segment has a resident free
 * one takes a whole slot of a free extent, in place: the small blocks land inside the span the
 * big ones left, calloc still reads zero there, and once the small blocks are gone the span is
 * whole again for big blocks. */
static void t_lend(void)
{
    enum { BIG = 100 * KiB, NB = 9, SMALL = 1000, NS = 256 };
    static unsigned char *big[NB], *small[NS];
    if (!extents_on()) {
        t_log("  lend: extents are off; skipped\n");
        return;
    }
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < NB; i++) {
        big[i] = T_malloc(BIG);
        CHECK(big[i] != NULL);
        memset(big[i], 0xab, BIG);
        if (i == 0)
            continue; /* kept live: the span stays */
        if ((uintptr_t)big[i] < lo)
            lo = (uintptr_t)big[i];
        if ((uintptr_t)big[i] + BIG > hi)
            hi = (uintptr_t)big[i] + BIG;
    }
    for (int i = 1; i < NB; i++)
        T_free(big[i]);
    size_t inside = 0;
    for (int i = 0; i < NS; i++) {
        small[i] = T_calloc(1, SMALL);
        CHECK(small[i] != NULL);
        for (size_t j = 0; j < SMALL; j++)
            CHECK(small[i][j] == 0, "calloc(%d) #%d: byte %zu is %#x", SMALL, i, j, small[i][j]);
        memset(small[i], 0x5a, SMALL);
        uintptr_t a = (uintptr_t)small[i];
        CHECK(a + SMALL <= (uintptr_t)big[0] || a >= (uintptr_t)big[0] + BIG, "small block %p in the live big one", (void *)a);
        inside += a >= lo && a < hi;
    }
    t_log("  lend: %zu of %d small blocks inside the freed extents' %zu KiB\n", inside, NS, (hi - lo) / KiB);
    CHECK(inside >= NS / 2, "only %zu of %d small blocks took the freed extents' memory", inside, NS);
    for (int i = 0; i < NS; i++)
        T_free(small[i]);
    malloc_trim(0); /* the class keeps its last page, empty, until a tick */
    /* the slots came back and joined their neighbours: the big blocks fit where they were */
    size_t back = 0;
    for (int i = 1; i < NB; i++) {
        big[i] = T_malloc(BIG);
        CHECK(big[i] != NULL);
        back += (uintptr_t)big[i] >= lo && (uintptr_t)big[i] + BIG <= hi;
    }
    CHECK(back == NB - 1, "%zu of %d big blocks back in their span after the small ones went", back, NB - 1);
    for (int i = 0; i < NB; i++)
        T_free(big[i]);
}

/* Aligned blocks are carved at their alignment in a span: memalign(64 KiB, 100) takes one unit
 * where a class block would be 64 KiB, and the units between two such blocks serve other big
 * blocks (which a page of 64 KiB class blocks could not hold): 200 of them and then 200 blocks
 * of 40000 bytes map no more than the aligned ones alone would. */
static void t_aligned(void)
{
    enum { N = 200, BIG = 40000 };
    static void *al[N], *big[N];
    if (!extents_on()) {
        t_log("  aligned: extents are off; skipped\n");
        return;
    }
    for (size_t a = 8 * KiB; a <= 256 * KiB; a *= 2) { /* every alignment, freed and reused */
        for (int i = 0; i < 8; i++) {
            size_t n = i % 2 ? 100 : a + 1000 * (size_t)i;
            CHECK(posix_memalign(&al[i], a, n) == 0 && al[i] != NULL, "posix_memalign(%zu, %zu)", a, n);
            CHECK(is_aligned(al[i], a), "posix_memalign(%zu, %zu) = %p", a, n, al[i]);
            CHECK(T_usable(al[i]) >= n, "usable size %zu of a block of %zu", T_usable(al[i]), n);
            memset(al[i], i, n);
        }
        for (int i = 0; i < 8; i++) {
            size_t n = i % 2 ? 100 : a + 1000 * (size_t)i;
            for (size_t j = 0; j < n; j += 997)
                CHECK(((unsigned char *)al[i])[j] == i, "aligned block %d changed", i);
            T_free(al[i]);
        }
    }
    size_t mapped0 = t_stats().mapped_bytes;
    for (int i = 0; i < N; i++) {
        al[i] = memalign(64 * KiB, 100);
        CHECK(al[i] != NULL && is_aligned(al[i], 64 * KiB), "memalign(64 KiB, 100) = %p", al[i]);
        CHECK(T_usable(al[i]) < UNITB, "memalign(64 KiB, 100): a block of %zu bytes", T_usable(al[i]));
        memset(al[i], 1, 100);
    }
    size_t mapped1 = t_stats().mapped_bytes;
    for (int i = 0; i < N; i++) {
        big[i] = T_malloc(BIG);
        CHECK(big[i] != NULL);
        memset(big[i], 2, BIG);
    }
    size_t mapped2 = t_stats().mapped_bytes;
    t_log("  aligned: %zu KiB mapped for the aligned blocks, %zu KiB more for the others\n",
          (mapped1 - mapped0) / KiB, (mapped2 - mapped1) / KiB);
    CHECK(mapped2 - mapped1 < 4 * MiB, "blocks of %d bytes mapped %zu KiB more beside %d aligned ones", BIG,
          (mapped2 - mapped1) / KiB, N);
    for (int i = 0; i < N; i++) {
        CHECK(((unsigned char *)al[i])[99] == 1 && ((unsigned char *)big[i])[BIG - 1] == 2, "block %d changed", i);
        T_free(al[i]);
        T_free(big[i]);
    }
}

static const struct t_named tests[] = {
    {"coalesce", t_coalesce}, {"sizes", t_sizes}, {"threads", t_threads}, {"double", t_double},
    {"calloc", t_calloc},     {"realloc", t_realloc}, {"trim", t_trim}, {"lend", t_lend}, {"stale", t_stale},
    {"aligned", t_aligned},   {"cache", t_cache},       {"cache_joins", t_cache_joins},
};

int main(int argc, char **argv) { return t_run_named("extent", tests, sizeof tests / sizeof tests[0], argc, argv); }
