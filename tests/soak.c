/* Soak: a multi-threaded random workload with content checks, for a fixed amount of work.
 *
 *   soak [SCALE] [THREADS]     SCALE x 250,000 operations per round, 4 rounds (default 1, 4)
 *
 * Each round starts THREADS threads; each keeps a table of blocks (every size region, every
 * allocation call, reallocs up and down), checks each block's pattern before it frees or
 * reallocates it, and passes blocks to the other threads through a shared pool, so frees and
 * reallocs cross threads. At the end of a round the threads exit, the main thread frees what is
 * left in the pool and calls brisk_trim(0). Then:
 *   - RSS must be back near where it was before the first round (within 4 MiB + 1/32 of the
 *     round's peak): freed memory goes back to the OS, dead threads' heaps strand nothing;
 *   - brisk's mapped and live bytes must not grow from round to round (no leak).
 * Built with -DUSE_PREFIX too (the brisk_* names), which is what the TSan build runs. */
#include "blk.h"

enum { SLOTS = 1024, ROUNDS = 4, OPS_PER_SCALE = 250000 };

static struct blk pooled[4096];
static struct blk_pool pool = BLK_POOL(pooled);
static size_t ops_per_thread;

/* Mostly small, some medium, a few large (up to 1.25 MiB: every byte is written and read). */
static size_t soak_size(struct rng *r)
{
    uint64_t x = rng_below(r, 1000);
    if (x < 800)
        return (size_t)rng_below(r, 257);
    if (x < 970)
        return 257 + (size_t)rng_below(r, 8 * KiB);
    if (x < 998)
        return 8 * KiB + (size_t)rng_below(r, 248 * KiB);
    return 256 * KiB + (size_t)rng_below(r, MiB);
}

static void new_block(struct rng *r, struct blk *b)
{
    size_t n = soak_size(r);
    uint64_t how = rng_below(r, 10);
    void *p = NULL;
    if (how < 6) {
        p = T_malloc(n);
    } else if (how < 8) {
        p = T_calloc(1, n);
        CHECK(p == NULL || check_zero(p, n) == (size_t)-1, "calloc(1, %zu) not zeroed", n);
    } else if (how < 9) {
        p = T_aligned_alloc((size_t)16 << rng_below(r, 9), n);
    } else {
        CHECK(T_posix_memalign(&p, (size_t)8 << rng_below(r, 10), n) == 0);
    }
    CHECK(p != NULL, "allocating %zu bytes failed (errno %d)", n, errno);
    CHECK(T_usable(p) >= n, "usable size %zu of a %zu-byte block", T_usable(p), n);
    b->p = p;
    b->n = n;
    blk_stamp(b);
}

static void drop_block(struct blk *b)
{
    if (b->p == NULL)
        return;
    blk_verify(b, "before free");
    T_free(b->p);
    b->p = NULL;
}

static void resize_block(struct rng *r, struct blk *b)
{
    blk_verify(b, "before realloc");
    size_t n = rng_below(r, 2) ? soak_size(r) : b->n / 2 + 1;
    unsigned char *q = T_realloc(b->p, n);
    if (n == 0) { /* glibc's rule: realloc(p, 0) frees p */
        CHECK(q == NULL, "realloc(p, 0) returned %p", (void *)q);
        b->p = NULL;
        return;
    }
    CHECK(q != NULL, "realloc to %zu failed", n);
    size_t keep = n < b->n ? n : b->n;
    size_t bad = check_pattern(q, keep, pattern_seed(b->p, b->n));
    CHECK(bad == (size_t)-1, "realloc %zu -> %zu lost byte %zu", b->n, n, bad);
    b->p = q;
    b->n = n;
    blk_stamp(b);
}

/* Swap a block with the pool: another thread's (if any) comes out, ours goes in. */
static void trade(struct blk *b)
{
    struct blk out = {NULL, 0};
    blk_take(&pool, &out);
    if (b->p && !blk_put(&pool, b))
        drop_block(b);
    *b = out;
    if (b->p)
        blk_verify(b, "taken from another thread");
}

static void *worker(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg * 7919 + 1};
    static __thread struct blk tab[SLOTS];
    for (size_t i = 0; i < ops_per_thread; i++) {
        struct blk *b = &tab[rng_below(&r, SLOTS)];
        uint64_t op = rng_below(&r, 100);
        if (b->p == NULL)
            new_block(&r, b);
        else if (op < 45)
            drop_block(b);
        else if (op < 75)
            resize_block(&r, b);
        else if (op < 95)
            trade(b);
        else
            blk_verify(b, "spot check");
    }
    for (size_t i = 0; i < SLOTS; i++) /* half freed here, half left to others */
        if (i % 2)
            drop_block(&tab[i]);
        else
            trade(&tab[i]), drop_block(&tab[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    int scale = argc > 1 ? atoi(argv[1]) : 1;
    int nthreads = argc > 2 ? atoi(argv[2]) : 4;
    CHECK(scale >= 1 && nthreads >= 1 && nthreads <= 64, "usage: soak [SCALE] [THREADS]");
    ops_per_thread = (size_t)scale * OPS_PER_SCALE / (size_t)nthreads;
    T_free(T_malloc(1)); /* brisk's start-up is part of the baseline */
    size_t rss0 = rss_bytes(), mapped_first = 0, live_first = 0;
    t_log("soak (%s api): %d threads, %d rounds of %zu operations, RSS at start %zu KiB\n",
          API_NAME, nthreads, ROUNDS, ops_per_thread * (size_t)nthreads, rss0 / KiB);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th[64];
        for (int t = 0; t < nthreads; t++)
            CHECK(pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(round * 64 + t)) == 0);
        for (int t = 0; t < nthreads; t++)
            CHECK(pthread_join(th[t], NULL) == 0);
        long peak_kb = status_kb("VmHWM");
        struct blk left;
        while (blk_take(&pool, &left))
            drop_block(&left);
        T_free(T_malloc(1));
        brisk_trim(0);
        size_t rss = rss_bytes();
        struct brisk_stats st = t_stats();
        if (round == 0) {
            mapped_first = st.mapped_bytes;
            live_first = st.live_bytes;
        }
        t_log("  round %d: peak RSS %ld KiB; after the frees and a trim: RSS %zu KiB, brisk maps "
              "%zu KiB, %zu live bytes, %zu heaps made, %zu reclaimed\n",
              round, peak_kb, rss / KiB, st.mapped_bytes / KiB, st.live_bytes,
              st.heaps_created, st.heaps_reclaimed);
        size_t slack = 4 * MiB + (size_t)peak_kb * KiB / 32;
        CHECK(!RSS_CHECKS || rss <= rss0 + slack, "RSS %zu KiB after everything was freed and trimmed; it was "
              "%zu KiB at the start (allowed: %zu KiB more)", rss / KiB, rss0 / KiB, slack / KiB);
        CHECK(st.mapped_bytes <= mapped_first + 4 * MiB, "brisk maps %zu KiB after round %d, "
              "%zu KiB after round 0: memory leaks from round to round", st.mapped_bytes / KiB,
              round, mapped_first / KiB);
        CHECK(st.live_bytes <= live_first + 64 * KiB, "%zu bytes live after round %d, %zu after "
              "round 0, with every block freed", st.live_bytes, round, live_first);
    }
    t_log("soak: passed\n");
    return 0;
}
