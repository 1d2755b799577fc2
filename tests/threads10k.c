/* 10,000 threads over the run, at most LIVE at a time: each allocates blocks of every size
 * region, frees (after checking them) blocks that earlier, mostly exited, threads left behind,
 * and leaves its own for later threads or the main thread to free. A third of the threads are
 * detached rather than joined.
 *
 * Checks: every block keeps its contents until freed, whoever frees it; heaps of exited threads
 * are taken over (brisk makes a heap for far fewer than 1 thread in 20); after
 * everything is freed and trimmed, RSS is back near its start and nothing is live.
 * Built with -DUSE_PREFIX too (the TSan build runs that). */
#include "blk.h"

#include <semaphore.h>

enum { THREADS = 10000, LIVE = 16, PER = 24 };

static struct blk left_blocks[4096];
static struct blk_pool left = BLK_POOL(left_blocks);
static sem_t slots; /* LIVE threads at most: a thread posts when it is done */

static size_t some_size(struct rng *r)
{
    uint64_t x = rng_below(r, 100);
    return x < 80 ? 1 + (size_t)rng_below(r, 512)
           : x < 98 ? 512 + (size_t)rng_below(r, 32 * KiB)
                    : 300 * KiB + (size_t)rng_below(r, 200 * KiB);
}

static void *thread_main(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct rng r = {id * 2654435761u + 5};
    struct blk mine[PER];
    for (int i = 0; i < PER; i++) {
        mine[i].n = some_size(&r);
        mine[i].p = T_malloc(mine[i].n);
        CHECK(mine[i].p != NULL, "thread %llu: malloc(%zu) failed", (unsigned long long)id, mine[i].n);
        blk_stamp(&mine[i]);
    }
    /* take what earlier threads left: check, then free or realloc-and-free */
    struct blk theirs[PER];
    int nt = 0;
    while (nt < PER && blk_take(&left, &theirs[nt]))
        nt++;
    for (int i = 0; i < nt; i++) {
        blk_verify(&theirs[i], "a block left by an earlier thread");
        if (i % 3 == 0) {
            size_t keep = theirs[i].n / 2;
            unsigned char *q = T_realloc(theirs[i].p, keep + 1);
            CHECK(q != NULL);
            size_t bad = check_pattern(q, keep, pattern_seed(theirs[i].p, theirs[i].n));
            CHECK(bad == (size_t)-1, "realloc of another thread's block lost byte %zu", bad);
            theirs[i].p = q;
        }
        T_free(theirs[i].p);
    }
    /* leave half of ours, free the rest */
    for (int i = 0; i < PER; i++) {
        if (i % 2 == 1 && blk_put(&left, &mine[i]))
            continue;
        blk_verify(&mine[i], "own block");
        T_free(mine[i].p);
    }
    sem_post(&slots);
    return NULL;
}

int main(void)
{
    T_free(T_malloc(1));
    size_t rss0 = rss_bytes(), live0 = t_stats().live_bytes;
    CHECK(sem_init(&slots, 0, LIVE) == 0);
    pthread_attr_t joinable, detached;
    pthread_attr_init(&joinable);
    pthread_attr_init(&detached);
    pthread_attr_setstacksize(&joinable, 128 * KiB);
    pthread_attr_setstacksize(&detached, 128 * KiB);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    static pthread_t tid[THREADS];
    static char joined[THREADS];
    int next_join = 0;
    for (int i = 0; i < THREADS; i++) {
        while (sem_wait(&slots) != 0)
            CHECK(errno == EINTR);
        int det = i % 3 == 2;
        int rc = pthread_create(&tid[i], det ? &detached : &joinable, thread_main, (void *)(uintptr_t)i);
        CHECK(rc == 0, "pthread_create #%d: %s", i, strerror(rc));
        joined[i] = (char)det;
        /* join what is done, oldest first, so joinable threads do not pile up */
        while (next_join < i - LIVE) {
            if (!joined[next_join])
                CHECK(pthread_join(tid[next_join], NULL) == 0);
            next_join++;
        }
    }
    for (; next_join < THREADS; next_join++)
        if (!joined[next_join])
            CHECK(pthread_join(tid[next_join], NULL) == 0);
    for (int k = 0; k < LIVE; k++) /* the detached ones have posted: all are done */
        while (sem_wait(&slots) != 0)
            CHECK(errno == EINTR);
    size_t n = left.n;
    struct blk b;
    while (blk_take(&left, &b)) {
        blk_verify(&b, "main thread");
        T_free(b.p);
    }
    brisk_trim(0);
    size_t rss1 = rss_bytes();
    /* Live bytes are the heaps' snapshots, which a heap takes at its ticks and at its thread's
     * exit: a detached thread that posted but has not yet run its exit still shows what it had
     * at its last tick. Those exits must come: wait for them, bounded (200 x 10 ms), the bound
     * checked below all the same. */
    struct brisk_stats st = t_stats();
    for (int tries = 0; tries < 200 && st.live_bytes > live0 + 64 * KiB; tries++) {
        usleep(10 * 1000);
        st = t_stats();
    }
    t_log("threads10k (%s api): %d threads, at most %d at once; %zu blocks left at the end; "
          "RSS %zu -> %zu KiB; %zu heaps made, %zu taken over, %zu bytes live\n",
          API_NAME, THREADS, LIVE, n, rss0 / KiB, rss1 / KiB, st.heaps_created,
          st.heaps_reclaimed, st.live_bytes);
    /* Threads that posted but have not finished exiting still hold their heaps, and how many
     * there are depends on the scheduler: the bound is loose, but without takeover brisk
     * would make one heap per thread. */
    CHECK(st.heaps_created <= THREADS / 20, "%zu heaps made for %d threads, at most %d running "
          "at once: heaps of exited threads are not taken over", st.heaps_created, THREADS, LIVE);
    CHECK(st.heaps_reclaimed + st.heaps_created >= THREADS, "%zu heaps made and %zu taken over "
          "for %d threads", st.heaps_created, st.heaps_reclaimed, THREADS);
    CHECK(!RSS_CHECKS || rss1 <= rss0 + 8 * MiB, "RSS %zu KiB after everything was freed, %zu KiB at start",
          rss1 / KiB, rss0 / KiB);
    /* what else in the process allocates (libc, a sanitizer's runtime) is live in both */
    CHECK(st.live_bytes <= live0 + 64 * KiB, "%zu bytes live with every block freed, %zu at start",
          st.live_bytes, live0);
    return 0;
}
