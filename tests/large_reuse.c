/* The large-block cache reuses freed mappings with their pages: a cached mapping bigger than a
 * request is split at a 4 MiB unit boundary (the rest stays cached under its own header), and
 * several smaller ones are joined with mremap. These tests drive both paths with blocks of many
 * sizes across unit boundaries and check that no block ever shares bytes with another, that
 * realloc keeps content, that calloc'ed blocks made of old pages read zero, and that misuse of a
 * block carved out of a split mapping is still caught.
 *
 *   large_reuse [NAME...]   (no name: all)
 *
 * Run with purge_delay_ms high, so that no idle flush empties the cache between two calls. */
#include "blk.h"
#include "child.h"

#define UNIT (4 * MiB)

/* Sizes on both sides of unit boundaries, from just above the medium range to 40 MiB. */
static const size_t sizes[] = {
    300 * KiB, 1 * MiB,  UNIT - 4096,  UNIT - 64,     UNIT,          UNIT + 1,       5 * MiB + 17,
    2 * UNIT - 64,       2 * UNIT + 4096, 3 * MiB + 512, 9 * MiB,    13 * MiB + 1,  17 * MiB,
    24 * MiB - 64,       31 * MiB + 123,  40 * MiB,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void stamp_all(struct blk *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].p)
            blk_stamp(&b[i]);
}

static void verify_all(struct blk *b, size_t n, const char *when)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].p)
            blk_verify(&b[i], when);
}

/* The first 64 bytes of every page and the last 64 of the block: where a stray header, written
 * at a unit boundary or a block's start, would land. Cheap enough to run after every free. */
static void verify_pages(struct blk *b, size_t n, const char *when)
{
    for (size_t k = 0; k < n; k++) {
        if (b[k].p == NULL)
            continue;
        uint64_t seed = pattern_seed(b[k].p, b[k].n);
        for (size_t off = 0; off < b[k].n; off += off + 4096 < b[k].n ? 4096 : 64) {
            size_t end = off + 64 < b[k].n ? off + 64 : b[k].n;
            for (size_t i = off; i < end; i++)
                CHECK(b[k].p[i] == pattern_byte(seed, i), "%s: block %p of %zu bytes corrupted at byte %zu",
                      when, (void *)b[k].p, b[k].n, i);
        }
    }
}

static void must_be_zero(const unsigned char *p, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        CHECK(p[i] == 0, "%s of %zu bytes: byte %zu is %#x, not 0", what, n, i, p[i]);
}

static size_t cached_now(void)
{
    struct brisk_stats s;
    brisk_get_stats(&s);
    return s.large_cached;
}

/* One big freed mapping serves blocks of every size (split after split), all live together;
 * then they are freed in a shuffled order and the sizes come back reversed, reusing the pieces. */
static void t_split(void)
{
    struct rng r = {11};
    malloc_trim(0);
    unsigned char *big = T_malloc(64 * MiB);
    CHECK(big != NULL);
    memset(big, 0xab, 64 * MiB); /* every page resident and dirty */
    T_free(big);
    CHECK(cached_now() == 1, "a freed 64 MiB block is not in the cache (%zu entries)", cached_now());
    struct blk b[NSIZES];
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < NSIZES; i++) {
            size_t n = sizes[round % 2 ? NSIZES - 1 - i : i];
            b[i].n = n;
            b[i].p = T_malloc(n);
            CHECK(b[i].p != NULL && is_aligned(b[i].p, 16) && T_usable(b[i].p) >= n, "malloc(%zu)", n);
            blk_stamp(&b[i]);
            if (round == 0 && i == 0)
                CHECK(b[0].p == big, "a %zu-byte block was not cut from the cached mapping at %p (got %p)",
                      n, (void *)big, (void *)b[0].p);
        }
        verify_all(b, NSIZES, "all live");
        for (size_t k = NSIZES; k > 0; k--) {
            size_t i = rng_below(&r, k);
            struct blk t = b[i];
            b[i] = b[k - 1];
            b[k - 1] = t;
        }
        for (size_t i = 0; i < NSIZES; i++) {
            blk_verify(&b[i], "before free");
            T_free(b[i].p);
            b[i].p = NULL;
            verify_pages(b + i + 1, NSIZES - i - 1, "after a neighbour's free");
        }
    }
    CHECK(cached_now() > 0, "nothing cached after freeing every block");
}

/* A request bigger than every cached mapping: several are joined (with fresh pages after them),
 * then that joined block is itself cached, split and joined again. calloc must clear old pages. */
static void t_join(void)
{
    malloc_trim(0);
    size_t parts[] = {9 * MiB, 2 * UNIT - 64, 1 * MiB, 5 * MiB + 17};
    struct blk keep = {T_malloc(3 * MiB), 3 * MiB}; /* live across it all */
    CHECK(keep.p != NULL);
    blk_stamp(&keep);
    for (int round = 0; round < 4; round++) {
        void *p[4];
        for (int i = 0; i < 4; i++) {
            p[i] = T_malloc(parts[i]);
            CHECK(p[i] != NULL);
            memset(p[i], 0xcd, parts[i]);
        }
        for (int i = 0; i < 4; i++)
            T_free(p[(i + round) % 4]);
        size_t n = (size_t)(30 + 7 * round) * MiB + 4096 * (size_t)round;
        unsigned char *z = round % 2 ? T_calloc(1, n) : T_malloc(n);
        CHECK(z != NULL && T_usable(z) >= n, "%zu bytes", n);
        if (round % 2)
            must_be_zero(z, n, "calloc over joined mappings");
        struct blk jb = {z, n};
        blk_stamp(&jb);
        blk_verify(&keep, "after a join");
        /* grow it (a joined block moves by copy), shrink it, grow it again */
        size_t sz[] = {n + 20 * MiB, n / 3, n / 3 + 6 * MiB, 2 * MiB};
        size_t have = n;
        for (int k = 0; k < 4; k++) {
            unsigned char *q = T_realloc(jb.p, sz[k]);
            CHECK(q != NULL, "realloc to %zu", sz[k]);
            size_t kept = have < sz[k] ? have : sz[k];
            size_t bad = check_pattern(q, kept, pattern_seed(jb.p, jb.n));
            CHECK(bad == (size_t)-1, "realloc %zu -> %zu lost byte %zu", have, sz[k], bad);
            jb.p = q;
            jb.n = sz[k];
            blk_stamp(&jb);
            have = sz[k];
        }
        T_free(jb.p);
        unsigned char *c = T_calloc(1, 48 * MiB);
        CHECK(c != NULL);
        must_be_zero(c, 48 * MiB, "calloc of old pages");
        T_free(c);
    }
    blk_verify(&keep, "at the end");
    T_free(keep.p);
}

/* Random sizes, random frees, a live set of 8: content checked at every step. */
static void t_churn(void)
{
    struct rng r = {29};
    struct blk b[8] = {{0}};
    for (int step = 0; step < 160; step++) {
        size_t i = rng_below(&r, 8);
        if (b[i].p) {
            blk_verify(&b[i], "churn");
            if (rng_below(&r, 3) == 0) {
                size_t n = 257 * KiB + rng_below(&r, 16 * MiB);
                unsigned char *q = T_realloc(b[i].p, n);
                CHECK(q != NULL);
                size_t kept = b[i].n < n ? b[i].n : n;
                size_t bad = check_pattern(q, kept, pattern_seed(b[i].p, b[i].n));
                CHECK(bad == (size_t)-1, "churn realloc %zu -> %zu lost byte %zu", b[i].n, n, bad);
                b[i].p = q;
                b[i].n = n;
                blk_stamp(&b[i]);
                continue;
            }
            T_free(b[i].p);
        }
        /* log-uniform from 257 KiB to 16 MiB */
        size_t n = 257 * KiB << rng_below(&r, 6);
        n += rng_below(&r, n);
        b[i].n = n;
        b[i].p = T_malloc(n);
        CHECK(b[i].p != NULL, "malloc(%zu)", n);
        blk_stamp(&b[i]);
        if (step % 37 == 0)
            verify_all(b, 8, "churn, all");
    }
    verify_all(b, 8, "churn end");
    for (int i = 0; i < 8; i++)
        T_free(b[i].p);
}

/* ---- misuse of blocks cut from a split mapping (each in a child: brisk aborts) ------------- */

/* b is cut from the head of a cached 40 MiB mapping, c from its tail; each freed twice. */
static void do_split_double_free(const void *which)
{
    malloc_trim(0);
    unsigned char *a = T_malloc(40 * MiB);
    memset(a, 1, 40 * MiB);
    T_free(a);
    unsigned char *b = T_malloc(1 * MiB);
    if (b != a)
        _exit(3); /* not cut from the cached mapping: the parent says so */
    unsigned char *c = T_malloc(20 * MiB);
    if (c != a + UNIT)
        _exit(4);
    unsigned char *victim = *(const char *)which == 'h' ? b : c;
    T_free(victim);
    child_tell(victim);
    T_free(victim);
    _exit(0);
}

/* An address inside the cached rest of a split mapping is no block. */
static void do_split_rest_free(const void *unused)
{
    (void)unused;
    malloc_trim(0);
    unsigned char *a = T_malloc(40 * MiB);
    T_free(a);
    unsigned char *b = T_malloc(1 * MiB);
    if (b != a)
        _exit(3);
    unsigned char *bogus = a + UNIT + 64; /* where the rest's block would start */
    child_tell(bogus);
    T_free(bogus);
    _exit(0);
}

static void expect_abort(void (*fn)(const void *), const void *arg, const char *want, const char *name)
{
    struct child_result res;
    char what[128], how[128];
    child_run(fn, arg, &res);
    child_describe(&res, how, sizeof how);
    CHECK(!(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3),
          "%s: the block was not cut from the cached mapping", name);
    CHECK(!(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 4),
          "%s: the second block was not cut from the rest of the mapping", name);
    CHECK(child_aborted(&res) && res.told, "%s: the child %s; stderr: %s", name, how, res.err);
    CHECK(child_brisk_line(&res, "free", what, sizeof what) && strcmp(what, want) == 0,
          "%s: want \"brisk: free(): %s %#lx\"; stderr: %s", name, want, (unsigned long)res.ptr,
          res.err);
    t_log("  %s: aborted with \"%s\"\n", name, what);
}

static void t_misuse(void)
{
    expect_abort(do_split_double_free, "h", "double free", "double free of a split mapping's head");
    expect_abort(do_split_double_free, "t", "double free", "double free of a split mapping's rest");
    expect_abort(do_split_rest_free, NULL, "invalid pointer", "free inside a cached rest");
}

/* malloc_trim empties the cache; the statistics agree with it. */
static void t_trim(void)
{
    void *p = T_malloc(20 * MiB), *q = T_malloc(6 * MiB);
    CHECK(p && q);
    T_free(p);
    T_free(q);
    CHECK(cached_now() >= 2, "two freed blocks, %zu cached", cached_now());
    malloc_trim(0);
    struct brisk_stats s;
    brisk_get_stats(&s);
    CHECK(s.large_cached == 0, "%zu large mappings cached after malloc_trim", s.large_cached);
    CHECK(s.mapped_bytes >= s.committed_bytes, "committed %zu > mapped %zu", s.committed_bytes,
          s.mapped_bytes);
}

/* The cache gives way when the heap grows elsewhere: a new page of fresh slots sheds as many
 * cached bytes, the longest idle mapping first; a new extent span (16 slots) sheds the next. */
static void t_shed(void)
{
    malloc_trim(0); /* cache empty, free slots purged: the next pages take fresh memory */
    unsigned char *a = T_malloc(1 * MiB), *b = T_malloc(2 * MiB);
    CHECK(a && b);
    memset(a, 1, 1 * MiB);
    memset(b, 2, 2 * MiB);
    T_free(a);
    T_free(b);
    CHECK(cached_now() == 2, "two freed blocks, %zu cached", cached_now());
    void *small = T_malloc(7000); /* a class no page has yet: one fresh slot */
    CHECK(small != NULL);
    CHECK(cached_now() == 1, "a page of fresh memory shed nothing: %zu cached", cached_now());
    void *big = T_malloc(100 * KiB); /* an extent span: 1 MiB of fresh slots */
    CHECK(big != NULL);
    CHECK(cached_now() == 0, "an extent span of fresh memory left %zu cached", cached_now());
    T_free(small);
    T_free(big);
    /* memory that is there already sheds nothing */
    unsigned char *c = T_malloc(1 * MiB);
    CHECK(c != NULL);
    T_free(c);
    CHECK(cached_now() == 1, "a freed 1 MiB block, %zu cached", cached_now());
    small = T_malloc(7000);
    CHECK(small != NULL);
    CHECK(cached_now() == 1, "a page on resident slots shed the cache (%zu cached)", cached_now());
    T_free(small);
}

static const struct t_named tests[] = {
    {"split", t_split}, {"join", t_join}, {"churn", t_churn}, {"misuse", t_misuse}, {"trim", t_trim},
    {"shed", t_shed},
};

int main(int argc, char **argv) { return t_run_named("large_reuse", tests, sizeof tests / sizeof tests[0], argc, argv); }
