/* Extents under review (src/extent.c): the cases tests/extent.c leaves out.
 *
 *   stress    threads allocate 8..300 KiB, free each other's blocks, grow and shrink realloc
 *             chains and calloc; threads exit with blocks live (orphan heaps) and new ones adopt
 *             them; every byte of every live block is checked. A bounded number of operations.
 *   fork      a child forked while other threads churn extents uses the parent's blocks
 *   misuse    pointers into a span's metadata, inside live and free extents, realloc and
 *             malloc_usable_size of freed blocks, double frees in more orders, a bin link overwritten
 *             in the metadata (a child each):
 *             every one must end in "brisk: FUNC(): ..." and abort
 *   mallopt   M_MMAP_THRESHOLD lowered below live extent blocks: realloc, usable size and free
 *             of them stay right
 *   mlock     calloc after a purge under mlockall (madvise cannot drop locked pages)
 *   dump      a heap dump counts an extent span's memory as committed
 *
 *   extent_review [NAME...]   (no name: all)
 */
#include "blk.h"
#include "child.h"
#include "brisk.h"

#include <malloc.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define UNITB (4 * KiB)

/* brisk's, in the prefixed build too (there the plain names are the C library's) */
#define B_trim    brisk_trim
#define B_mallopt brisk_mallopt

static int extents_on(void)
{
    void *p = T_malloc(8 * KiB + 1);
    int on = is_aligned(p, UNITB) && (T_usable(p) + 16) % UNITB == 0;
    T_free(p);
    return on;
}

/* ---- stress ---- */

enum { ST_THREADS = 4, ST_ROUNDS = 4, ST_OPS = 3000, ST_OWN = 24 };
static struct blk st_pool_v[512];
static struct blk_pool st_pool = BLK_POOL(st_pool_v);

static size_t st_size(struct rng *r)
{
    /* mostly extent sizes, some around both thresholds, some class and large ones */
    switch (rng_below(r, 8)) {
    case 0: return 4 * KiB + rng_below(r, 16 * KiB);
    case 1: return 8 * KiB - 64 + rng_below(r, 128);
    case 2: return 256 * KiB - 64 + rng_below(r, 128);
    case 3: return 256 * KiB + rng_below(r, 44 * KiB);
    default: return 16 * KiB + 1 + rng_below(r, 240 * KiB);
    }
}

static void st_new(struct blk *b, struct rng *r)
{
    b->n = st_size(r);
    if (rng_below(r, 4) == 0) {
        b->p = T_calloc(1, b->n);
        CHECK(b->p != NULL, "calloc(%zu)", b->n);
        size_t bad = check_zero(b->p, b->n);
        CHECK(bad == (size_t)-1, "calloc(1, %zu) = %p: byte %zu is %#x", b->n, (void *)b->p, bad, b->p[bad]);
    } else {
        b->p = T_malloc(b->n);
        CHECK(b->p != NULL, "malloc(%zu)", b->n);
    }
    CHECK(T_usable(b->p) >= b->n, "usable %zu < %zu", T_usable(b->p), b->n);
    blk_stamp(b);
}

/* realloc to a new size: the kept bytes carry the old pattern */
static void st_realloc(struct blk *b, struct rng *r)
{
    size_t m = rng_below(r, 2) ? b->n + rng_below(r, 64 * KiB) : st_size(r);
    uint64_t seed = pattern_seed(b->p, b->n);
    unsigned char *q = T_realloc(b->p, m);
    CHECK(q != NULL, "realloc(%zu)", m);
    size_t keep = b->n < m ? b->n : m, bad = check_pattern(q, keep, seed);
    CHECK(bad == (size_t)-1, "realloc %p (%zu) -> %p (%zu): byte %zu changed", (void *)b->p, b->n, (void *)q, m, bad);
    b->p = q;
    b->n = m;
    CHECK(T_usable(b->p) >= b->n);
    blk_stamp(b);
}

static void *st_thread(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg * 7919};
    struct blk mine[ST_OWN] = {{0}};
    for (int i = 0; i < ST_OPS; i++) {
        struct blk *b = &mine[rng_below(&r, ST_OWN)], got;
        switch (rng_below(&r, 6)) {
        case 0: /* hand it over */
            if (b->p && blk_put(&st_pool, b))
                break;
            /* fall through */
        case 1:
            if (b->p) {
                blk_verify(b, "own block");
                T_free(b->p);
                b->p = NULL;
            }
            break;
        case 2: /* someone else's: free it, or keep it and grow it */
            if (blk_take(&st_pool, &got)) {
                blk_verify(&got, "block from another thread");
                if (b->p == NULL && rng_below(&r, 2)) {
                    *b = got;
                    st_realloc(b, &r);
                } else {
                    T_free(got.p);
                }
            }
            break;
        case 3:
            if (b->p) {
                blk_verify(b, "before realloc");
                st_realloc(b, &r);
            }
            break;
        default:
            break;
        }
        if (b->p == NULL)
            st_new(b, &r);
    }
    /* some threads exit with blocks live: in the pool for others, or leaked to the end */
    for (int i = 0; i < ST_OWN; i++)
        if (mine[i].p && !((uintptr_t)arg & 1 && blk_put(&st_pool, &mine[i]))) {
            blk_verify(&mine[i], "at thread end");
            T_free(mine[i].p);
        }
    return NULL;
}

static void pool_drain(const char *when)
{
    struct blk got;
    while (blk_take(&st_pool, &got)) {
        blk_verify(&got, when);
        T_free(got.p);
    }
}

static void t_stress(void)
{
    for (int round = 0; round < ST_ROUNDS; round++) {
        pthread_t t[ST_THREADS];
        for (uintptr_t i = 0; i < ST_THREADS; i++)
            CHECK(pthread_create(&t[i], NULL, st_thread, (void *)(round * ST_THREADS + i + 1)) == 0);
        for (int i = 0; i < ST_THREADS; i++)
            CHECK(pthread_join(t[i], NULL) == 0);
        /* the pool's blocks now belong to exited threads' heaps; check them all, free half
         * (the next round's threads adopt those heaps and free the rest) */
        pthread_mutex_lock(&st_pool.lock);
        for (size_t i = 0; i < st_pool.n; i++)
            blk_verify(&st_pool.v[i], "after a round");
        pthread_mutex_unlock(&st_pool.lock);
        for (int k = 0; k < 40; k++) {
            struct blk got;
            if (!blk_take(&st_pool, &got))
                break;
            blk_verify(&got, "orphan's block");
            T_free(got.p);
        }
        if (round == 1)
            B_trim(0);
        /* round 3: an extent tick after every free that halves the live bytes (by volume), so
         * spans come and go under the other threads' frees */
        B_mallopt(M_TRIM_THRESHOLD, round == 2 ? 0 : 8 << 20);
    }
    pool_drain("at the end");
    B_trim(0);
    struct brisk_stats bs;
    brisk_get_stats(&bs);
    t_log("  stress: %d rounds x %d threads x %d ops; live after: %zu bytes\n", ST_ROUNDS, ST_THREADS, ST_OPS,
          bs.live_bytes);
}

/* ---- fork while others churn ---- */

static _Atomic int fk_stop;

static void *fk_churn(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    struct blk mine[8] = {{0}};
    for (int i = 0; i < 200000 && !atomic_load(&fk_stop); i++) {
        struct blk *b = &mine[rng_below(&r, 8)];
        if (b->p) {
            blk_verify(b, "churn");
            T_free(b->p);
        }
        b->n = 16 * KiB + 1 + rng_below(&r, 200 * KiB);
        b->p = T_malloc(b->n);
        CHECK(b->p != NULL);
        blk_stamp(b);
    }
    for (int i = 0; i < 8; i++)
        T_free(mine[i].p);
    return NULL;
}

static void t_fork(void)
{
    enum { N = 16 };
    struct blk mine[N];
    for (int i = 0; i < N; i++) {
        mine[i].n = 20 * KiB + (size_t)i * 9000;
        mine[i].p = T_malloc(mine[i].n);
        blk_stamp(&mine[i]);
    }
    pthread_t t[2];
    for (uintptr_t i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, fk_churn, (void *)(i + 5)) == 0);
    for (int f = 0; f < 8; f++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            struct rng r = {(uint64_t)f};
            for (int i = 0; i < N; i++) {
                blk_verify(&mine[i], "in the child");
                if (i & 1) {
                    T_free(mine[i].p);
                    mine[i].p = NULL;
                }
            }
            for (int k = 0; k < 300; k++) {
                struct blk *b = &mine[rng_below(&r, N)];
                if (b->p) {
                    blk_verify(b, "child's block");
                    st_realloc(b, &r);
                } else {
                    st_new(b, &r);
                }
            }
            for (int i = 0; i < N; i++)
                if (mine[i].p) {
                    blk_verify(&mine[i], "child at end");
                    T_free(mine[i].p);
                }
            B_trim(0);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %#x", f, st);
    }
    atomic_store(&fk_stop, 1);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    for (int i = 0; i < N; i++) {
        blk_verify(&mine[i], "parent at end");
        T_free(mine[i].p);
    }
}

/* ---- misuse, each in a child ---- */

struct mis {
    const char *name, *func, *want;
    void (*fn)(void);
};

/* A block of `units` units in a span of its own: right after a trim the first extent of a new
 * span is carved from its top, so the span ends where the block does. */
static unsigned char *top_block(size_t units, uintptr_t *span_end)
{
    unsigned char *p = T_malloc(units * UNITB - 16);
    *span_end = (uintptr_t)p + units * UNITB;
    if (*span_end % (64 * KiB) != 0)
        _exit(3);
    return p;
}

/* The span's metadata: its first two units, after the segment's header in slot 0. */
static uintptr_t meta_of(uintptr_t span_end)
{
    uintptr_t base = span_end - MiB;
    return base % (4 * MiB) == 0 ? base + 16 * KiB : base;
}

static void m_meta0(void)
{
    uintptr_t end;
    top_block(10, &end);
    child_tell((void *)meta_of(end));
    T_free((void *)meta_of(end));
}

/* An overflow into a span's metadata that rewrites the bin link of its free extent (unit 0,
 * below the top block): the next malloc that takes that extent must refuse the link. The
 * metadata's layout: four bitmaps of four words, 256 two-byte tags, then the `next` links. */
static void m_bin_link(void)
{
    uintptr_t end;
    top_block(10, &end);
    uintptr_t *next = (uintptr_t *)(meta_of(end) + 4 * 4 * 8 + 256 * 2);
    uintptr_t bad = end - 5000;   /* inside the span, not a unit boundary */
    next[0] = bad;
    child_tell((void *)bad);
    T_malloc(20 * KiB);
}

static void m_meta1(void)
{
    uintptr_t end;
    top_block(10, &end);
    child_tell((void *)(meta_of(end) + UNITB));
    T_free((void *)(meta_of(end) + UNITB));
}

/* the first unit of the span's blocks: free, never a block */
static void m_free_start(void)
{
    uintptr_t end;
    top_block(10, &end);
    void *p = (void *)(meta_of(end) + 2 * UNITB);
    child_tell(p);
    T_free(p);
}

/* a unit boundary inside a free extent, never a block */
static void m_free_inside(void)
{
    uintptr_t end;
    top_block(10, &end);
    void *p = (void *)(end - 40 * UNITB);
    child_tell(p);
    T_free(p);
}

static void m_interior_realloc(void)
{
    unsigned char *a = T_malloc(100 * KiB);
    child_tell(a + 8 * UNITB);
    (void)!T_realloc(a + 8 * UNITB, 10);
}

static void m_interior_usable(void)
{
    unsigned char *a = T_malloc(100 * KiB);
    child_tell(a + 24 * UNITB);
    (void)!T_usable(a + 24 * UNITB);
}

static void m_misaligned(void)
{
    unsigned char *a = T_malloc(100 * KiB);
    child_tell(a + 16);
    T_free(a + 16);
}

static void m_realloc_freed(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    T_free(a);
    child_tell(a);
    (void)!T_realloc(a, 80 * KiB);
}

static void m_usable_freed(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB);
    (void)keep;
    T_free(a);
    child_tell(a);
    (void)!T_usable(a);
}

/* a joins its free neighbour above, then is freed again */
static void m_df_right(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *b = T_malloc(40 * KiB), *a = T_malloc(40 * KiB),
                  *low = T_malloc(40 * KiB);
    (void)keep;
    (void)low;
    T_free(b);
    T_free(a);
    child_tell(a);
    T_free(a);
}

/* a's freed start sits inside a block grown by realloc into it */
static void m_df_grown_over(void)
{
    unsigned char *keep = T_malloc(40 * KiB), *a = T_malloc(40 * KiB), *low = T_malloc(40 * KiB);
    (void)keep;
    T_free(a);
    unsigned char *g = T_realloc(low, 70 * KiB);
    if (g != low)
        _exit(3);
    child_tell(a);
    T_free(a);
}

static void m_df_two_remote(void)
{
    unsigned char *a = T_malloc(40 * KiB);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, t_free_it, a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    child_tell(a);
    CHECK(pthread_create(&t, NULL, t_free_it, a) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    void *volatile x = T_malloc(40 * KiB); /* the owner takes its delayed frees */
    (void)x;
}

/* an exited thread's block freed twice by others, then swept (malloc_trim) */
static unsigned char *m_orphan_block;
static void *m_make(void *arg)
{
    (void)arg;
    m_orphan_block = T_malloc(40 * KiB);
    return NULL;
}

static void m_df_orphan(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, m_make, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    T_free(m_orphan_block);
    child_tell(m_orphan_block);
    CHECK(pthread_create(&t, NULL, t_free_it, m_orphan_block) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    B_trim(0);
}

static void m_run(const void *arg)
{
    B_trim(0);
    (*(void (*const *)(void))arg)();
    _exit(0);
}

static void t_misuse(void)
{
    if (!extents_on()) {
        t_log("  misuse: extents are off; skipped\n");
        return;
    }
    static const char *const inval = "invalid pointer (not the start of a block)";
    static const struct mis cases[] = {
        {"metadata unit 0", "free", inval, m_meta0},
        {"metadata unit 1", "free", inval, m_meta1},
        {"first unit, free", "free", inval, m_free_start},
        {"inside a free extent", "free", inval, m_free_inside},
        {"interior, realloc", "realloc", inval, m_interior_realloc},
        {"interior, usable size", "malloc_usable_size", inval, m_interior_usable},
        {"misaligned", "free", inval, m_misaligned},
        {"realloc of a freed block", "realloc", "double free", m_realloc_freed},
        {"usable size of a freed block", "malloc_usable_size", "double free", m_usable_freed},
        {"joined its right neighbour", "free", "double free", m_df_right},
        {"start inside a grown block", "free", "double free", m_df_grown_over},
        {"two remote frees", "free", "double free", m_df_two_remote},
        {"orphan's block freed twice", "free", "double free", m_df_orphan},
        {"bin link overwritten", "malloc", "heap corrupted: bad link in the extent bins", m_bin_link},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct mis *c = &cases[i];
        struct child_result res;
        char what[128], how[128];
        child_run(m_run, &c->fn, &res);
        child_describe(&res, how, sizeof how);
        CHECK(!(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3), "%s: blocks not laid out as the test needs",
              c->name);
        CHECK(child_aborted(&res) && res.told, "%s: the child %s; stderr: %s", c->name, how, res.err);
        CHECK(child_brisk_line(&res, c->func, what, sizeof what) && strcmp(what, c->want) == 0,
              "%s: want \"brisk: %s(): %s %#lx\"; stderr: %s", c->name, c->func, c->want, (unsigned long)res.ptr,
              res.err);
        t_log("  %s: %s(): %s\n", c->name, c->func, what);
    }
}

/* ---- mallopt(M_MMAP_THRESHOLD) below live extent blocks ---- */

static void t_mallopt(void)
{
    enum { N = 12 };
    struct blk b[N];
    struct rng r = {3};
    for (int i = 0; i < N; i++) {
        b[i].n = 17 * KiB + (size_t)i * 20 * KiB;
        b[i].p = T_malloc(b[i].n);
        blk_stamp(&b[i]);
    }
    CHECK(B_mallopt(M_MMAP_THRESHOLD, 32 * 1024) == 1);
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < N; i++) {
            blk_verify(&b[i], "after mallopt");
            CHECK(T_usable(b[i].p) >= b[i].n);
            st_realloc(&b[i], &r);
        }
    unsigned char *z = T_calloc(1, 100 * KiB);
    CHECK(z && check_zero(z, 100 * KiB) == (size_t)-1);
    T_free(z);
    CHECK(B_mallopt(M_MMAP_THRESHOLD, 256 * 1024) == 1);
    for (int i = 0; i < N; i++) {
        blk_verify(&b[i], "threshold back");
        st_realloc(&b[i], &r);
        blk_verify(&b[i], "at end");
        T_free(b[i].p);
    }
}

/* ---- calloc under mlockall ---- */

static void mlock_child(const void *arg)
{
    (void)arg;
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        _exit(4);
    unsigned char *volatile keep = T_malloc(40 * KiB); /* the span stays */
    memset(keep, 1, 40 * KiB);
    for (size_t n = 20 * KiB; n <= 200 * KiB; n += 60 * KiB) {
        unsigned char *p[4];
        for (int i = 0; i < 4; i++) {
            p[i] = T_malloc(n);
            memset(p[i], 0xa5, n);
        }
        for (int i = 0; i < 4; i++)
            T_free(p[i]);
        B_trim(0); /* purges the free units: madvise fails on locked pages */
        for (int i = 0; i < 4; i++) {
            p[i] = T_calloc(1, n);
            size_t bad = check_zero(p[i], n);
            CHECK(bad == (size_t)-1, "mlockall: calloc(1, %zu) = %p: byte %zu is %#x", n, (void *)p[i], bad, p[i][bad]);
        }
        for (int i = 0; i < 4; i++)
            T_free(p[i]);
    }
    /* the same for class blocks: a page made again on purged slots counts as zeroed */
    enum { NC = 300 };
    unsigned char *c[NC];
    for (int i = 0; i < NC; i++) {
        c[i] = T_malloc(3000);
        memset(c[i], 0xa5, 3000);
    }
    for (int i = 0; i < NC; i++)
        T_free(c[i]);
    B_trim(0);
    for (int i = 0; i < NC; i++) {
        c[i] = T_calloc(1, 3000);
        size_t bad = check_zero(c[i], 3000);
        CHECK(bad == (size_t)-1, "mlockall: calloc(1, 3000) = %p: byte %zu is %#x", (void *)c[i], bad, c[i][bad]);
    }
    for (int i = 0; i < NC; i++)
        T_free(c[i]);
    T_free(keep);
    _exit(0);
}

static void t_mlock(void)
{
    struct child_result res;
    char how[128];
    child_run(mlock_child, NULL, &res);
    if (WIFEXITED(res.status) && WEXITSTATUS(res.status) == 4) {
        t_log("  mlock: mlockall refused here; skipped\n");
        return;
    }
    child_describe(&res, how, sizeof how);
    CHECK(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0, "the child %s; stderr: %s", how, res.err);
}

/* ---- heap dump ---- */

static void t_dump(void)
{
    if (!extents_on()) {
        t_log("  dump: extents are off; skipped\n");
        return;
    }
    enum { N = 20 };
    void *p[N];
    B_trim(0);
    for (int i = 0; i < N; i++) {
        p[i] = T_malloc(40 * KiB);
        memset(p[i], 1, 40 * KiB);
    }
    char path[] = "/tmp/brisk-extent-dump-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK(brisk_heap_dump(fd) == 0);
    static char text[1 << 16];
    ssize_t len = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    CHECK(len > 0);
    text[len] = 0;
    /* the span holding p[0]: its page line must count the 800 KiB written into it */
    size_t committed = 0;
    int found = 0;
    for (char *l = strstr(text, "\"type\":\"page\""); l; l = strstr(l + 1, "\"type\":\"page\"")) {
        char *seg = strstr(l, "\"segment\":\"");
        unsigned slot = 0, nslots = 0;
        unsigned long long sa = 0;
        if (!seg || sscanf(seg, "\"segment\":\"%llx\",\"slot\":%u,\"nslots\":%u", &sa, &slot, &nslots) != 3)
            continue;
        uintptr_t lo = (uintptr_t)sa + (uintptr_t)slot * 64 * KiB, hi = lo + (uintptr_t)nslots * 64 * KiB;
        if ((uintptr_t)p[0] >= lo && (uintptr_t)p[0] < hi) {
            char *c = strstr(l, "\"committed\":");
            CHECK(c && sscanf(c, "\"committed\":%zu", &committed) == 1);
            found = 1;
            break;
        }
    }
    CHECK(found, "no page line for the span of %p:\n%s", p[0], text);
    CHECK(committed >= N * 40 * KiB, "extent span: committed %zu bytes, %zu written:\n%s", committed,
          (size_t)N * 40 * KiB, text);
    for (int i = 0; i < N; i++)
        T_free(p[i]);
}

static const struct t_named tests[] = {
    {"stress", t_stress}, {"fork", t_fork}, {"misuse", t_misuse},
    {"mallopt", t_mallopt}, {"mlock", t_mlock}, {"dump", t_dump},
};

int main(int argc, char **argv) { return t_run_named("extent_review", tests, sizeof tests / sizeof tests[0], argc, argv); }
