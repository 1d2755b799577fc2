/* Wholly free pages leave RSS within the purge delay of continued activity, without malloc_trim.
 *
 * 96 MiB of 512-byte blocks are filled and freed, except one block in every 4 MiB, so that every
 * segment stays alive and only the purge (not the release of empty segments) can give the pages
 * back. Then the program keeps allocating and freeing blocks of other sizes, so brisk's slow
 * paths run, and watches its RSS. The purge delay is 250 ms: RSS must fall by 3/4 of what was
 * freed within 3 s of that activity (12 times the delay; no speed is measured, the clock only
 * bounds how long the program waits for something that must happen).
 *
 * `purge_rss pool`: the same, done by a pool of short-lived threads one after another, each
 * living far shorter than the delay: the first fills and frees, the next ones adopt its heap in
 * turn and keep it busy. The heap's purge clock must go on across the threads that own it. */
#include "common.h"

#include <pthread.h>
#include <time.h>

static long rss_kib(void) { return (long)(rss_bytes() / 1024); }

#define BLOCK 512
#define TOTAL ((size_t)96 << 20)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define KEEP_EVERY (((size_t)4 << 20) / BLOCK)

/* n blocks of BLOCK bytes into v, each filled with its index's byte */
static void fill(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(BLOCK);
        CHECK(v[i] != NULL);
        memset(v[i], (int)(i & 0xff), BLOCK);
    }
}

/* frees all but one block in every 4 MiB (so every segment stays); returns how many are kept */
static size_t free_but_kept(char **v, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % KEEP_EVERY == 0) { kept++; continue; }
        free(v[i]);
        v[i] = NULL;
    }
    return kept;
}

/* the kept blocks still hold their bytes; then they are freed */
static void check_kept(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (v[i]) { CHECK(v[i][0] == (char)(i & 0xff) && v[i][BLOCK - 1] == (char)(i & 0xff)); free(v[i]); }
}

static int run_plain(void) {
    size_t n = TOTAL / BLOCK;
    char **v = malloc(n * sizeof *v);
    CHECK(v != NULL);
    long before = rss_kib();
    fill(v, n);
    long full = rss_kib();
    CHECK(full - before > (long)(TOTAL / 1024) * 3 / 4, "filling 96 MiB raised RSS by only %ld KiB", full - before);
    size_t kept = free_but_kept(v, n);
    long freed = rss_kib();
    long target = full - (long)(TOTAL / 1024) * 3 / 4;
    double t0 = now_s();
    void *churn[64] = {0};
    unsigned r = 1;
    long last = freed;
    while (now_s() - t0 < 3.0) {
        for (int k = 0; k < 2000; k++) {   /* other sizes, so pages are made and left */
            r = r * 1103515245u + 12345u;
            unsigned s = r % 64;
            free(churn[s]);
            churn[s] = malloc(1024 + (r >> 8) % 60000);
            CHECK(churn[s] != NULL);
            ((char *)churn[s])[0] = 1;
        }
        last = rss_kib();
        if (last <= target) break;
        usleep(10 * 1000);
    }
    printf("RSS KiB: before %ld, filled %ld, after free %ld, after %.2f s of activity %ld (target <= %ld)\n",
           before, full, freed, now_s() - t0, last, target);
    CHECK(last <= target, "free pages were not purged within 3 s of activity");
    check_kept(v, n);
    for (int s = 0; s < 64; s++) free(churn[s]);
    free(v);
    printf("kept %zu blocks intact\n", kept);
    return 0;
}

/* ---- pool ---- */
static char **pool_v;
static size_t pool_n;
static unsigned pool_r = 1;

static void *pool_fill(void *arg) {
    (void)arg;
    fill(pool_v, pool_n);
    free_but_kept(pool_v, pool_n);
    return NULL;
}

/* a short life: a few blocks of other sizes made and freed (slow paths run), then gone */
static void *pool_work(void *arg) {
    (void)arg;
    void *p[64];
    for (int k = 0; k < 64; k++) {
        pool_r = pool_r * 1103515245u + 12345u;
        p[k] = malloc(1024 + (pool_r >> 8) % 3000);
        CHECK(p[k] != NULL);
        ((char *)p[k])[0] = 1;
    }
    for (int k = 0; k < 64; k++) free(p[k]);
    usleep(5 * 1000);
    return NULL;
}

static int run_pool(void) {
    pool_n = TOTAL / BLOCK;
    pool_v = malloc(pool_n * sizeof *pool_v);
    CHECK(pool_v != NULL);
    long before = rss_kib();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, pool_fill, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    long freed = rss_kib(), target = before + (long)(TOTAL / 1024) / 4;
    CHECK(freed > target, "the freed pages left RSS at once (%ld KiB): nothing to test", freed);
    double t0 = now_s();
    long last = freed;
    unsigned threads = 0;
    while (now_s() - t0 < 3.0 && last > target) {
        CHECK(pthread_create(&t, NULL, pool_work, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        threads++;
        last = rss_kib();
    }
    printf("RSS KiB: before %ld, after the fill and free %ld, after %.2f s of %u short threads %ld (target <= %ld)\n",
           before, freed, now_s() - t0, threads, last, target);
    CHECK(last <= target, "free pages of a heap passed from thread to thread were not purged within 3 s");
    check_kept(pool_v, pool_n);
    free(pool_v);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "pool") == 0) return run_pool();
    return run_plain();
}
