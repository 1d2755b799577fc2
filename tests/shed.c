/* Free memory stays resident for reuse until the heap needs fresh memory, then gives way byte for
 * byte (segment_fresh_used): a program whose size mix changes from one phase to the next reuses
 * what the last phase freed without purging and refaulting it, and its RSS does not grow by what
 * a phase takes afresh while idle free memory is there to give. A thread's heap stays warm when
 * it exits, for the next thread to adopt.
 *
 *   shed [NAME...]   (no name: all)
 *
 * Run with purge_delay_ms high: only ticks by volume (every 8 MiB freed) may come, so what the
 * tests see is the volume policy, whatever the load of the machine. */
#include "common.h"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PHASE (24 * MiB)
#define BLOCK 4000                /* a class of 1-slot pages: 16 blocks per 64 KiB slot */
#define N (PHASE / BLOCK)

static char *blocks[N];

/* Fills PHASE bytes with blocks of `size`, every page written. */
static void fill(char **v, size_t n, size_t size) {
    for (size_t i = 0; i < n; i++) {
        v[i] = T_malloc(size);
        CHECK(v[i] != NULL, "malloc(%zu) returned NULL", size);
        for (size_t off = 0; off < size; off += 4096) v[i][off] = (char)i;
        v[i][size - 1] = (char)i;
    }
}

/* Frees the blocks for which keep(i) is 0. */
static void drop(char **v, size_t n, int (*keep)(size_t)) {
    for (size_t i = 0; i < n; i++)
        if (v[i] && !keep(i)) {
            T_free(v[i]);
            v[i] = NULL;
        }
}

/* One block in 512 (about one per 2 MiB): every segment keeps a live page, so no segment goes
 * back whole and only the purge policy decides what leaves RSS. */
static int keep_sparse(size_t i) { return i % 512 == 0; }
/* The first block of every other page: the free slots lie one by one between live pages. */
static int keep_alternate(size_t i) { return i % 32 == 0; }
static int keep_none(size_t i) { (void)i; return 0; }

/* Phase after phase on 1-slot pages: 24 MiB of 4000-byte blocks freed (three ticks by volume
 * come meanwhile), then 24 MiB of 2000-byte blocks take the free slots as they are, so next to
 * nothing is purged (the old policy purged each tick's slots at the next: about 16 MiB, all
 * refaulted by the second phase), and RSS stays within the first phase's. */
static void t_reuse(void) {
    static char *other[2 * N];
    fill(blocks, N, BLOCK);
    size_t rss_full = rss_bytes();
    size_t purged0 = t_stats().purged_bytes;
    drop(blocks, N, keep_sparse);
    fill(other, 2 * N, BLOCK / 2);
    size_t purged = t_stats().purged_bytes - purged0, rss = rss_bytes();
    CHECK(purged < 2 * MiB, "a phase freed 24 MiB and the next took it again: %zu KiB purged meanwhile",
          purged / KiB);
    CHECK(rss < rss_full + 4 * MiB, "RSS %zu KiB after the second phase, %zu KiB after the first",
          rss / KiB, rss_full / KiB);
    for (size_t i = 0; i < 2 * N; i++) {
        CHECK(other[i][0] == (char)i && other[i][BLOCK / 2 - 1] == (char)i, "block %zu changed", i);
        T_free(other[i]);
    }
    drop(blocks, N, keep_none);
}

/* Free slots scattered one by one cannot hold a run of 16 (an extent span) or 13 (a page of
 * 200 KiB blocks with extents off): 12 MiB of such blocks take fresh memory, and as much of the
 * idle free slots goes, so RSS stays within what the heap held before (without giving way, it
 * would grow by the 12 MiB). */
static void t_fresh(void) {
    enum { BIG = 200 * 1024, NBIG = 12 * MiB / BIG, NOTHER = 12 * MiB / (BLOCK + 1000) };
    static char *big[NBIG], *other[NOTHER];
    fill(blocks, N, BLOCK);
    fill(other, NOTHER, BLOCK + 1000);
    size_t rss_peak = rss_bytes();
    /* 12 + 6 MiB of pages freed, one by one: ticks by volume come (one per 8 MiB) and the slots
     * of the first 12 MiB are free since before the last of them */
    drop(blocks, N, keep_alternate);
    drop(other, NOTHER, keep_alternate);
    size_t purged0 = t_stats().purged_bytes;
    fill(big, NBIG, BIG);
    size_t rss = rss_bytes(), purged = t_stats().purged_bytes - purged0;
    CHECK(rss < rss_peak + 2 * MiB, "12 MiB of new blocks with 18 MiB of free slots idle: RSS %zu KiB, "
          "%zu KiB before the frees", rss / KiB, rss_peak / KiB);
    CHECK(purged >= 8 * MiB, "12 MiB taken afresh, only %zu KiB of free memory gave way", purged / KiB);
    for (size_t i = 0; i < NBIG; i++) {
        CHECK(big[i][0] == (char)i && big[i][BIG - 1] == (char)i, "block %zu changed", i);
        T_free(big[i]);
    }
    drop(blocks, N, keep_none);
    drop(other, NOTHER, keep_none);
}

/* A thread's page faults so far. */
static long thread_faults(void) {
    struct rusage ru;
    CHECK(getrusage(RUSAGE_THREAD, &ru) == 0);
    return ru.ru_minflt;
}

#define ADOPT (8 * MiB / BLOCK)
static char *adopt_blocks[ADOPT];
static long adopt_faults;

/* First thread: 8 MiB of blocks, every page written, then all freed but one in 512 (a live
 * block per 2 MiB: its segments stay). Second thread: the same again, on the heap it adopted. */
static void *adopt_first(void *arg) {
    (void)arg;
    fill(adopt_blocks, ADOPT, BLOCK);
    drop(adopt_blocks, ADOPT, keep_sparse);
    return NULL;
}

static void *adopt_second(void *arg) {
    static char *v[ADOPT];
    long f0 = thread_faults();
    fill(v, ADOPT, BLOCK);
    adopt_faults = thread_faults() - f0;
    drop(v, ADOPT, keep_none);
    return arg;
}

static void run_thread(void *(*fn)(void *)) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fn, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}

/* A thread that exits leaves its heap warm: the next thread adopts it and fills the same 8 MiB
 * with next to no page fault (2048 if the exit had purged them); an orphan nobody adopts is
 * purged by the next purge tick of any thread, here malloc_trim's. */
static void t_adopt(void) {
    run_thread(adopt_first);
    size_t purged0 = t_stats().purged_bytes;
    run_thread(adopt_second);
    CHECK(adopt_faults < 256, "8 MiB on an adopted heap whose memory was free: %ld page faults", adopt_faults);
    CHECK(t_stats().purged_bytes - purged0 < 1 * MiB, "the adopted heap's memory was purged (%zu KiB)",
          (t_stats().purged_bytes - purged0) / KiB);
    run_thread(adopt_first);   /* an orphan again, its memory free and resident */
    purged0 = t_stats().purged_bytes;
    malloc_trim(0);
    CHECK(t_stats().purged_bytes - purged0 >= 4 * MiB, "malloc_trim purged %zu KiB of an orphan's 8 MiB",
          (t_stats().purged_bytes - purged0) / KiB);
    drop(adopt_blocks, ADOPT, keep_none);   /* the kept blocks, from another thread */
}

/* Bursts of big blocks (extents), as a server's replies come: 8 MiB, then 2 MiB, and so on, all
 * freed after each, with a timed tick between two bursts (run with purge_delay_ms=100: a tick
 * every 50 ms). A tick keeps as much free memory as the last two periods' peaks of live extents
 * above the present, so each 8 MiB burst finds its memory resident (the old tick purged what
 * the 2 MiB burst left idle: about 1500 page faults each 8 MiB burst). Once the bursts stop,
 * later ticks purge it. */
static void t_burst(void) {
    enum { BIG = 20000, NB = 8 * MiB / BIG };
    static char *v[NB];
    long faults = 0;
    for (int round = 0; round < 10; round++) {
        size_t n = round % 2 ? NB / 4 : NB;
        usleep(60 * 1000);
        long f0 = thread_faults();
        fill(v, n, BIG);
        if (round >= 2) faults += thread_faults() - f0;
        for (size_t i = 0; i < n; i++) {
            CHECK(v[i][0] == (char)i && v[i][BIG - 1] == (char)i, "block %zu changed", i);
            T_free(v[i]);
        }
    }
    CHECK(faults < 512, "bursts of 8 and 2 MiB with ticks between: %ld page faults after the first two", faults);
    size_t purged0 = t_stats().purged_bytes;
    for (int round = 0; round < 8; round++) {   /* quiet: the ticks see small peaks */
        usleep(60 * 1000);
        for (int i = 0; i < 40; i++) T_free(T_malloc(BIG));
    }
    CHECK(t_stats().purged_bytes - purged0 >= 6 * MiB, "the bursts stopped: %zu KiB of their 8 MiB purged",
          (t_stats().purged_bytes - purged0) / KiB);
}

/* A class's freed blocks are taken before its never-used memory: with a page just begun and an
 * older full page of the class given a few blocks back, the next allocations take those blocks
 * once the new page's carved ones are gone, instead of carving on (which would leave every page
 * of a class wholly touched whatever its use). */
static void refill_class(size_t size) {
    enum { MAXB = 512, BACK = 3 };
    static char *v[MAXB];
    size_t per = 64 * KiB / size, n = 0;
    uintptr_t slot_of_prev = 0;
    for (;;) {   /* two pages' worth, then on to the first block of a new page */
        CHECK(n < MAXB, "no new page after %zu blocks of %zu bytes", n, size);
        v[n] = T_malloc(size);
        CHECK(v[n] != NULL, "malloc(%zu) returned NULL", size);
        memset(v[n], 1, size);
        uintptr_t slot = (uintptr_t)v[n] >> 16;
        n++;
        if (n > 2 * per && slot != slot_of_prev) break;
        slot_of_prev = slot;
    }
    /* v[n - 2] is in the last page filled: give BACK of its blocks back (not all of them) */
    char *back[BACK];
    size_t k = 0;
    for (size_t i = 0; i < n - 1 && k < BACK; i++)
        if ((uintptr_t)v[i] >> 16 == slot_of_prev) {
            back[k++] = v[i];
            T_free(v[i]);
            v[i] = NULL;
        }
    CHECK(k == BACK, "%zu blocks of %zu bytes in the full page", k, size);
    size_t carved = 4096 / size > 1 ? 4096 / size : 1, again = 0;
    char *w[BACK + 64];
    size_t m = carved + BACK;
    for (size_t i = 0; i < m; i++) {
        w[i] = T_malloc(size);
        CHECK(w[i] != NULL, "malloc(%zu) returned NULL", size);
        for (size_t j = 0; j < BACK; j++) again += w[i] == back[j];
    }
    CHECK(again == BACK, "%zu-byte blocks: %zu of the %d freed blocks taken again in %zu allocations",
          size, again, BACK, m);
    for (size_t i = 0; i < m; i++) T_free(w[i]);
    for (size_t i = 0; i < n; i++) T_free(v[i]);
}

static void t_refill(void) {
    refill_class(512);    /* a size of the direct table */
    refill_class(3072);   /* one block carved at a time */
    refill_class(6000);
}

/* Free slots in runs of 8 (a live page after every eight freed ones) hold no 16-slot extent
 * span, but a span of 8 fits each run: 12 MiB of 100 KiB blocks then reuse 12 of the 21 MiB
 * freed, resident, with next to no page fault (about 3000 if they took fresh memory, as when
 * every span had 16 slots). */
static int keep_ninth(size_t i) { return i % (9 * 16) == 0; }

static void t_spans(void) {
    enum { BIG = 100 * 1024, NBIG = 12 * MiB / BIG };
    static char *big[NBIG];
    fill(blocks, N, BLOCK);
    drop(blocks, N, keep_ninth);
    long f0 = thread_faults();
    fill(big, NBIG, BIG);
    long faults = thread_faults() - f0;
    CHECK(faults < 512, "12 MiB of big blocks beside 21 MiB of free slots in runs of 8: %ld page faults", faults);
    for (size_t i = 0; i < NBIG; i++) {
        CHECK(big[i][0] == (char)i && big[i][BIG - 1] == (char)i, "block %zu changed", i);
        T_free(big[i]);
    }
    drop(blocks, N, keep_none);
}

/* madvise, counted: this program's definition comes before libc's for libbrisk.so's calls */
static long madvise_calls;
int madvise(void *addr, size_t len, int advice) {
    __atomic_fetch_add(&madvise_calls, 1, __ATOMIC_RELAXED);
    return (int)syscall(SYS_madvise, addr, len, advice);
}

/* Three free slots side by side, dirty, clean and dirty, are purged in one madvise: the clean
 * one between holds nothing resident, which costs the kernel nothing, while every call costs
 * a TLB flush (the dearest part of a purge in a VM). */
static void t_gap(void) {
    static const size_t sizes[3] = {3000, 3500, 3900};   /* three classes of 1-slot pages */
    char *keep = T_malloc(2000), *p[3];
    CHECK(keep != NULL);
    for (int i = 0; i < 3; i++) {
        p[i] = T_malloc(sizes[i]);
        CHECK(p[i] != NULL, "malloc(%zu) returned NULL", sizes[i]);
        memset(p[i], 1, sizes[i]);
    }
    uintptr_t slot = (uintptr_t)p[0] >> 16;
    CHECK((uintptr_t)p[1] >> 16 == slot + 1 && (uintptr_t)p[2] >> 16 == slot + 2 && (slot & 63) <= 61,
          "the three pages are not side by side in one segment: %p %p %p", (void *)p[0], (void *)p[1],
          (void *)p[2]);
    T_free(p[1]);
    malloc_trim(0);   /* the middle slot purged: clean */
    T_free(p[0]);
    T_free(p[2]);
    long calls0 = __atomic_load_n(&madvise_calls, __ATOMIC_RELAXED);
    size_t purged0 = t_stats().purged_bytes;
    malloc_trim(0);
    long calls = __atomic_load_n(&madvise_calls, __ATOMIC_RELAXED) - calls0;
    size_t purged = t_stats().purged_bytes - purged0;
    CHECK(calls == 1, "two dirty free slots around a clean one: %ld madvise calls", calls);
    CHECK(purged == 2 * 64 * KiB, "%zu KiB counted as purged, want the two dirty slots' 128", purged / KiB);
    for (int i = 0; i < 3; i++) {   /* the slots read zero when used again */
        char *q = T_calloc(1, sizes[i]);
        CHECK(q != NULL && q[0] == 0 && q[sizes[i] - 1] == 0, "calloc(1, %zu) after the purge", sizes[i]);
        T_free(q);
    }
    T_free(keep);

    /* the same inside a free extent: blocks a, b, c side by side in a span (carved from the
     * top down, below a kept one), b freed and purged, then a and c: one free extent, dirty,
     * clean, dirty */
    const char *opt = getenv("BRISK_OPTIONS");
    if (opt && strstr(opt, "extents=0")) return;
    enum { EXT = 10000 };   /* 3 units of 4 KiB with the block's tail */
    char *x[4];
    for (int i = 0; i < 4; i++) {
        x[i] = T_malloc(EXT);
        CHECK(x[i] != NULL, "malloc(%d) returned NULL", EXT);
        memset(x[i], 1, EXT);
    }
    for (int i = 2; i < 4; i++)
        CHECK(x[i] == x[i - 1] - 3 * 4096, "extent blocks %p and %p are not side by side", (void *)x[i - 1],
              (void *)x[i]);
    T_free(x[2]);
    malloc_trim(0);
    T_free(x[1]);
    T_free(x[3]);
    calls0 = __atomic_load_n(&madvise_calls, __ATOMIC_RELAXED);
    purged0 = t_stats().purged_bytes;
    malloc_trim(0);
    calls = __atomic_load_n(&madvise_calls, __ATOMIC_RELAXED) - calls0;
    purged = t_stats().purged_bytes - purged0;
    CHECK(calls == 1, "a free extent of dirty, clean and dirty units: %ld madvise calls", calls);
    CHECK(purged == 2 * 3 * 4096, "%zu KiB counted as purged, want the dirty units' 24", purged / KiB);
    T_free(x[0]);
}

static const struct t_named tests[] = {{"reuse", t_reuse}, {"fresh", t_fresh}, {"adopt", t_adopt},
                                       {"burst", t_burst}, {"refill", t_refill},
                                       {"gap", t_gap}, {"spans", t_spans}};

int main(int argc, char **argv) { return t_run_named("shed", tests, sizeof tests / sizeof tests[0], argc, argv); }
