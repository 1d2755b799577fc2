/* Stress: random mixes of every allocation call with content checks, single-threaded and
 * multi-threaded, with cross-thread frees and a thread create/exit storm.
 *
 *   stress single      one thread, random ops on a table of blocks
 *   stress threads     8 threads doing the same, passing some blocks to each other
 *   stress prodcons    4 producers, 4 consumers: every block freed by another thread
 *   stress storm       2,000 short threads leaving blocks for later threads to free, while
 *                      the main thread trims and reads statistics
 *   stress many        2 million small blocks live at once, then freed in random order
 *   stress purge       4 threads: fill, free most, pause so that brisk purges (its delay is
 *                      250 ms by default; run it with BRISK_OPTIONS=purge_delay_ms=0 too), check
 *                      the survivors and reuse the memory
 *
 * Every block is filled with a pattern derived from its address and size, and checked before
 * it is freed and after every realloc (the kept prefix). Fixed seeds, bounded counts; no timing.
 * Built with -DUSE_PREFIX too, to run the same through brisk_malloc... */
#include "common.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>

enum kind { K_PLAIN, K_ALIGNED_ALLOC, K_OTHER_ALIGNED };

struct block {
    unsigned char *p;
    size_t n;      /* requested size */
    size_t align;  /* alignment asked for (16 when none) */
    uint64_t seed; /* pattern seed */
    int kind;
};

/* Mostly small, sometimes medium, rarely up to 2 MiB. */
static size_t random_size(struct rng *r)
{
    uint64_t x = rng_below(r, 1000);
    if (x < 700)
        return (size_t)rng_below(r, 129);
    if (x < 900)
        return 129 + (size_t)rng_below(r, 4096 - 128);
    if (x < 980)
        return 4097 + (size_t)rng_below(r, 65536 - 4096);
    if (x < 996)
        return 65537 + (size_t)rng_below(r, 512 * 1024 - 65536);
    return 512 * 1024 + (size_t)rng_below(r, 1536 * 1024 + 1);
}

static void verify(const struct block *b, const char *when)
{
    CHECK(b->p != NULL);
    size_t bad = check_pattern(b->p, b->n, b->seed);
    CHECK(bad == (size_t)-1, "%s: block %p of %zu bytes (kind %d, align %zu) corrupted at byte %zu",
          when, (void *)b->p, b->n, b->kind, b->align, bad);
}

static void stamp(struct block *b)
{
    b->seed = pattern_seed(b->p, b->n);
    fill_pattern(b->p, b->n, b->seed);
}

/* Allocate a block with a randomly chosen function. */
static void random_alloc(struct rng *r, struct block *b)
{
    size_t n = random_size(r);
    uint64_t how = rng_below(r, 100);
    b->n = n;
    b->align = 16;
    b->kind = K_PLAIN;
    int zeroed = 0;
    if (how < 40) {
        b->p = T_malloc(n);
    } else if (how < 55) {
        size_t k = 1 + (size_t)rng_below(r, 8);
        b->n = n = (n / k) * k;
        b->p = T_calloc(k, n / k);
        zeroed = 1;
    } else if (how < 60) {
        b->p = T_realloc(NULL, n);
    } else if (how < 65) {
        size_t k = 1 + (size_t)rng_below(r, 16);
        b->n = n = (n / k) * k;
        b->p = T_reallocarray(NULL, n / k, k);
    } else if (how < 78) {
        size_t a = (size_t)1 << (3 + rng_below(r, 14)); /* 8 .. 64 KiB */
        if (rng_below(r, 50) == 0)
            a = MiB;
        void *p = NULL;
        int rc = T_posix_memalign(&p, a, n);
        CHECK(rc == 0, "posix_memalign(%zu, %zu) returned %d", a, n, rc);
        b->p = p;
        b->align = a;
        b->kind = K_OTHER_ALIGNED;
    } else if (how < 91) {
        size_t a = (size_t)1 << rng_below(r, 17); /* 1 .. 64 KiB */
        b->p = T_aligned_alloc(a, n);
        b->align = a;
        b->kind = K_ALIGNED_ALLOC;
    } else if (how < 98) {
        size_t a = (size_t)1 << rng_below(r, 17);
        b->p = T_memalign(a, n);
        b->align = a;
        b->kind = K_OTHER_ALIGNED;
    } else {
        b->n = n = 0;
        b->p = T_malloc(0);
    }
    CHECK(b->p != NULL, "allocation of %zu bytes (choice %d) failed", n, (int)how);
    size_t want = b->align < 16 ? 16 : b->align;
    CHECK(is_aligned(b->p, want), "%p for %zu bytes is not %zu-aligned", (void *)b->p, n, want);
    if (zeroed) {
        size_t bad = check_zero(b->p, n);
        CHECK(bad == (size_t)-1, "calloc'd block %p of %zu bytes not zero at %zu", (void *)b->p,
              n, bad);
    }
    stamp(b);
}

static void random_free(struct rng *r, struct block *b)
{
    verify(b, "before free");
    uint64_t how = rng_below(r, 3);
    errno = 4321;
    if (how == 1 && b->kind == K_ALIGNED_ALLOC)
        T_free_aligned_sized(b->p, b->align, b->n);
    else if (how == 1 && b->kind == K_PLAIN)
        T_free_sized(b->p, b->n);
    else
        T_free(b->p);
    CHECK(errno == 4321, "free of a %zu-byte block (kind %d) changed errno to %d", b->n, b->kind,
          errno);
    b->p = NULL;
}

/* realloc / reallocarray to a random size; returns 0 when the block was freed (size 0). */
static int random_realloc(struct rng *r, struct block *b)
{
    verify(b, "before realloc");
    size_t n = random_size(r);
    unsigned char *q;
    uint64_t how = rng_below(r, 20);
    if (how == 0) {
        q = T_realloc(b->p, 0);
        CHECK(q == NULL, "realloc(p, 0) returned %p", (void *)q);
        b->p = NULL;
        return 0;
    }
    if (how < 4) {
        size_t k = 1 + (size_t)rng_below(r, 8);
        n = (n / k) * k;
        q = T_reallocarray(b->p, n / k, k);
        if (n == 0) {
            CHECK(q == NULL, "reallocarray to 0 returned %p", (void *)q);
            b->p = NULL;
            return 0;
        }
    } else {
        if (n == 0)
            n = 1;
        q = T_realloc(b->p, n);
    }
    CHECK(q != NULL, "realloc to %zu failed", n);
    CHECK(is_aligned(q, 16), "realloc result %p not 16-aligned", (void *)q);
    size_t keep = b->n < n ? b->n : n;
    size_t bad = check_pattern(q, keep, b->seed);
    CHECK(bad == (size_t)-1, "realloc %p (%zu) -> %p (%zu) lost contents at byte %zu",
          (void *)b->p, b->n, (void *)q, n, bad);
    b->p = q;
    b->n = n;
    b->align = 16;
    b->kind = K_PLAIN;
    stamp(b);
    return 1;
}

static void check_usable(const struct block *b)
{
    size_t u = T_usable(b->p);
    CHECK(u >= b->n, "usable size %zu of %p below request %zu", u, (void *)b->p, b->n);
    if (u > b->n)
        b->p[u - 1] = 0xee; /* the slack is writable */
}

/* One step on a table: allocate into an empty slot, or free/realloc/inspect a full one. */
static void step(struct rng *r, struct block *tab, size_t slots)
{
    struct block *b = &tab[rng_below(r, slots)];
    if (b->p == NULL) {
        random_alloc(r, b);
        return;
    }
    uint64_t x = rng_below(r, 100);
    if (x < 50)
        random_free(r, b);
    else if (x < 85)
        random_realloc(r, b);
    else
        check_usable(b), verify(b, "inspection");
}

static void free_table(struct rng *r, struct block *tab, size_t slots)
{
    for (size_t i = 0; i < slots; i++)
        if (tab[i].p)
            random_free(r, &tab[i]);
}

/* ---- single thread --------------------------------------------------------------------- */

static void run_single(void)
{
    enum { SLOTS = 2048, OPS = 600000 };
    static struct block tab[SLOTS];
    struct rng r = {1};
    for (int i = 0; i < OPS; i++)
        step(&r, tab, SLOTS);
    free_table(&r, tab, SLOTS);
    t_log("single: %d operations checked\n", OPS);
}

/* ---- shared queue (mutex protected ring) ----------------------------------------------- */

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct block *items;
    size_t cap, head, count;
    int closed;
};

static void q_init(struct queue *q, size_t cap)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->items = calloc(cap, sizeof *q->items);
    CHECK(q->items != NULL);
    q->cap = cap;
    q->head = q->count = 0;
    q->closed = 0;
}

/* Non-blocking put; returns 0 when full. */
static int q_try_put(struct queue *q, const struct block *b)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count < q->cap;
    if (ok) {
        q->items[(q->head + q->count) % q->cap] = *b;
        q->count++;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static int q_try_get(struct queue *q, struct block *out)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count > 0;
    if (ok) {
        *out = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void q_put(struct queue *q, const struct block *b)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->cap)
        pthread_cond_wait(&q->not_full, &q->lock);
    q->items[(q->head + q->count) % q->cap] = *b;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

/* Blocking get; returns 0 once the queue is closed and empty. */
static int q_get(struct queue *q, struct block *out)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    int ok = q->count > 0;
    if (ok) {
        *out = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void q_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

/* ---- 8 threads with exchanges ---------------------------------------------------------- */

static struct queue exchange;

static int do_trim(void)
{
#ifdef USE_PREFIX
    return brisk_trim(0);
#else
    return malloc_trim(0);
#endif
}

static void *threads_worker(void *arg)
{
    enum { SLOTS = 1024, OPS = 150000 };
    struct block *tab = calloc(SLOTS, sizeof *tab);
    CHECK(tab != NULL);
    int id = (int)(uintptr_t)arg;
    struct rng r = {1000 + (uint64_t)id};
    for (int i = 0; i < OPS; i++) {
        /* housekeeping calls that walk other threads' state, while they work */
        if (id == 0 && i % 5000 == 4999)
            (void)do_trim();
        if (id == 1 && i % 1000 == 999) {
            struct brisk_stats st = t_stats();
            CHECK(st.allocations > 0 && st.mapped_bytes >= st.committed_bytes,
                  "odd statistics while threads run: %zu allocations, mapped %zu, committed %zu",
                  st.allocations, st.mapped_bytes, st.committed_bytes);
        }
#ifndef USE_PREFIX
        if (id == 2 && i % 2000 == 1999)
            (void)mallinfo2();
#endif
        uint64_t x = rng_below(&r, 100);
        if (x < 3) {
            /* hand a block to whoever takes it next */
            struct block *b = &tab[rng_below(&r, SLOTS)];
            if (b->p && q_try_put(&exchange, b))
                b->p = NULL;
        } else if (x < 6) {
            /* take a block from another thread: check, maybe realloc, then keep or free it */
            struct block got;
            if (q_try_get(&exchange, &got)) {
                verify(&got, "received block");
                if (rng_below(&r, 2) && !random_realloc(&r, &got))
                    continue;
                struct block *b = &tab[rng_below(&r, SLOTS)];
                if (b->p)
                    random_free(&r, b);
                *b = got;
            }
        } else {
            step(&r, tab, SLOTS);
        }
    }
    free_table(&r, tab, SLOTS);
    free(tab);
    return NULL;
}

static void run_threads(void)
{
    enum { T = 8 };
    q_init(&exchange, 4096);
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        CHECK(pthread_create(&th[i], NULL, threads_worker, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < T; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    struct block b;
    struct rng r = {5};
    int left = 0;
    while (q_try_get(&exchange, &b)) {
        random_free(&r, &b);
        left++;
    }
    t_log("threads: %d threads done, %d exchanged blocks freed by main\n", T, left);
}

/* ---- producers and consumers ----------------------------------------------------------- */

static struct queue pc;
static atomic_long produced, consumed;

static void *producer(void *arg)
{
    enum { PER = 60000 };
    struct rng r = {2000 + (uint64_t)(uintptr_t)arg};
    for (int i = 0; i < PER; i++) {
        struct block b;
        random_alloc(&r, &b);
        q_put(&pc, &b);
        atomic_fetch_add(&produced, 1);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct rng r = {3000 + (uint64_t)(uintptr_t)arg};
    struct block b;
    while (q_get(&pc, &b)) {
        verify(&b, "consumer");
        if (rng_below(&r, 4) == 0 && !random_realloc(&r, &b)) {
            atomic_fetch_add(&consumed, 1);
            continue;
        }
        random_free(&r, &b);
        atomic_fetch_add(&consumed, 1);
    }
    return NULL;
}

static void run_prodcons(void)
{
    enum { P = 4, C = 4 };
    q_init(&pc, 1024);
    struct brisk_stats s0 = t_stats();
    pthread_t tp[P], tc[C];
    for (int i = 0; i < C; i++)
        CHECK(pthread_create(&tc[i], NULL, consumer, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < P; i++)
        CHECK(pthread_create(&tp[i], NULL, producer, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < P; i++)
        CHECK(pthread_join(tp[i], NULL) == 0);
    q_close(&pc);
    for (int i = 0; i < C; i++)
        CHECK(pthread_join(tc[i], NULL) == 0);
    CHECK(atomic_load(&produced) == atomic_load(&consumed), "produced %ld, consumed %ld",
          (long)atomic_load(&produced), (long)atomic_load(&consumed));
    struct brisk_stats s1 = t_stats();
    t_log("prodcons: %ld blocks passed between threads; brisk counted %zu remote frees\n",
          (long)atomic_load(&produced), s1.remote_frees - s0.remote_frees);
    CHECK(s1.remote_frees > s0.remote_frees,
          "brisk counted no remote frees while consumers freed every producer's block");
}

/* ---- thread storm ---------------------------------------------------------------------- */

enum { STORM_THREADS = 2000, STORM_LIVE = 8, LEFT_CAP = 8192 };
static struct block leftovers[LEFT_CAP];
static size_t nleft;
static pthread_mutex_t left_lock = PTHREAD_MUTEX_INITIALIZER;

static void *storm_thread(void *arg)
{
    enum { N = 48 };
    uint64_t id = (uint64_t)(uintptr_t)arg;
    struct rng r = {10000 + id};
    struct block mine[N];
    for (int i = 0; i < N; i++)
        random_alloc(&r, &mine[i]);
    /* free what an earlier thread left */
    struct block taken[N / 2];
    int nt = 0;
    pthread_mutex_lock(&left_lock);
    while (nt < N / 2 && nleft > 0)
        taken[nt++] = leftovers[--nleft];
    pthread_mutex_unlock(&left_lock);
    for (int i = 0; i < nt; i++) {
        if (i % 4 == 0 && !random_realloc(&r, &taken[i]))
            continue;
        random_free(&r, &taken[i]);
    }
    /* free half of our own, leave the rest for a later thread */
    for (int i = 0; i < N; i += 2)
        random_free(&r, &mine[i]);
    pthread_mutex_lock(&left_lock);
    for (int i = 1; i < N; i += 2) {
        if (nleft < LEFT_CAP)
            leftovers[nleft++] = mine[i];
        else
            random_free(&r, &mine[i]);
    }
    pthread_mutex_unlock(&left_lock);
    return NULL;
}

static void run_storm(void)
{
    pthread_t live[STORM_LIVE];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    size_t rss0 = rss_bytes();
    for (int i = 0; i < STORM_THREADS; i++) {
        int slot = i % STORM_LIVE;
        if (i % 8 == 0 && i > 0) {
            struct brisk_stats st = t_stats();
            CHECK(st.heaps_created >= 1 && st.allocations > 0, "statistics during the storm: %zu "
                  "heaps, %zu allocations", st.heaps_created, st.allocations);
        }
        if (i % 64 == 0)
            (void)do_trim();
        if (i >= STORM_LIVE)
            CHECK(pthread_join(live[slot], NULL) == 0);
        int rc = pthread_create(&live[slot], &attr, storm_thread, (void *)(uintptr_t)i);
        CHECK(rc == 0, "pthread_create #%d failed: %d", i, rc);
    }
    for (int i = 0; i < STORM_LIVE; i++)
        CHECK(pthread_join(live[i], NULL) == 0);
    /* then many threads alive at once, each with its own heap, exiting together */
    enum { CROWD = 100 };
    static pthread_t crowd[CROWD];
    for (int i = 0; i < CROWD; i++) {
        int rc = pthread_create(&crowd[i], &attr, storm_thread, (void *)(uintptr_t)(50000 + i));
        CHECK(rc == 0, "pthread_create (crowd #%d) failed: %d", i, rc);
    }
    for (int i = 0; i < CROWD; i++)
        CHECK(pthread_join(crowd[i], NULL) == 0);
    struct rng r = {9};
    size_t n = nleft;
    while (nleft > 0)
        random_free(&r, &leftovers[--nleft]);
    size_t rss1 = rss_bytes();
    struct brisk_stats st = t_stats();
    t_log("storm: %d threads; %zu blocks left at the end; RSS %zu -> %zu KiB; brisk: %zu heaps "
          "created, %zu reclaimed, %zu MiB mapped\n",
          STORM_THREADS, n, rss0 / 1024, rss1 / 1024, st.heaps_created, st.heaps_reclaimed,
          st.mapped_bytes / MiB);
    /* dead threads' heaps must not pile up: 2,000 threads with ~50 blocks each */
    CHECK(!RSS_CHECKS || rss1 < rss0 + 256 * MiB, "RSS grew from %zu to %zu KiB over the storm", rss0 / 1024,
          rss1 / 1024);
    CHECK(st.mapped_bytes < 1024 * MiB, "brisk maps %zu MiB after the storm: heaps leak",
          st.mapped_bytes / MiB);
    /* and what they left is usable again */
    struct block b;
    for (int i = 0; i < 1000; i++) {
        random_alloc(&r, &b);
        random_free(&r, &b);
    }
}

/* ---- many small blocks ---------------------------------------------------------------- */

static void run_many(void)
{
    enum { N = 2000000 };
    void **p = calloc(N, sizeof *p);
    uint32_t *order = calloc(N, sizeof *order);
    CHECK(p != NULL && order != NULL);
    for (uint32_t i = 0; i < N; i++) {
        size_t n = 16 + (i * 7) % 49;
        p[i] = T_malloc(n);
        CHECK(p[i] != NULL, "small block #%u of %zu bytes", i, n);
        memcpy(p[i], &i, sizeof i);
        ((unsigned char *)p[i])[n - 1] = (unsigned char)i;
        order[i] = i;
    }
    struct rng r = {31337};
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = (uint32_t)rng_below(&r, i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    size_t rss = rss_bytes();
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = order[k], got;
        size_t n = 16 + (i * 7) % 49;
        memcpy(&got, p[i], sizeof got);
        CHECK(got == i && ((unsigned char *)p[i])[n - 1] == (unsigned char)i,
              "small block #%u was overwritten (holds %u)", i, got);
        if (k % 2) {
            T_free(p[i]);
            p[i] = NULL;
        } else {
            p[i] = T_realloc(p[i], n + 100);
            CHECK(p[i] != NULL);
            memcpy(&got, p[i], sizeof got);
            CHECK(got == i, "realloc of small block #%u lost its contents", i);
        }
    }
    for (uint32_t i = 0; i < N; i++)
        T_free(p[i]);
    free(p);
    free(order);
    t_log("many: %d small blocks live at once (RSS %zu MiB), checked and freed\n", N, rss / MiB);
}

/* ---- purge ----------------------------------------------------------------------------- */

static pthread_barrier_t purge_barrier;

static void *purge_worker(void *arg)
{
    enum { N = 6000, ROUNDS = 8 };
    int id = (int)(uintptr_t)arg;
    struct rng r = {777 + (uint64_t)id};
    struct block *tab = calloc(N, sizeof *tab);
    CHECK(tab != NULL);
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++)
            if (tab[i].p == NULL)
                random_alloc(&r, &tab[i]);
        /* free most blocks: whole pages and segments fall empty */
        for (int i = 0; i < N; i++)
            if (rng_below(&r, 10) != 0)
                random_free(&r, &tab[i]);
        /* let the others' frees land, then idle past the purge delay (no time is measured) */
        pthread_barrier_wait(&purge_barrier);
        usleep(150 * 1000);
        for (int i = 0; i < N; i++)
            if (tab[i].p)
                verify(&tab[i], "survivor after a purge pause");
        /* allocate again (reusing purged memory) with some activity to run the purge ticks */
        for (int i = 0; i < 2000; i++)
            step(&r, tab, N);
        usleep(150 * 1000);
        for (int i = 0; i < N; i++)
            if (tab[i].p)
                verify(&tab[i], "survivor after a second pause");
        if (id == 0 && round % 2)
            (void)do_trim();
        pthread_barrier_wait(&purge_barrier);
    }
    free_table(&r, tab, N);
    free(tab);
    return NULL;
}

static void run_purge(void)
{
    enum { T = 4 };
    CHECK(pthread_barrier_init(&purge_barrier, NULL, T) == 0);
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        CHECK(pthread_create(&th[i], NULL, purge_worker, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < T; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    struct brisk_stats st = t_stats();
    t_log("purge: %d threads, 8 rounds; brisk purged %zu KiB in all\n", T, st.purged_bytes / 1024);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "single";
    t_log("stress (%s api): %s\n", API_NAME, mode);
    if (strcmp(mode, "single") == 0)
        run_single();
    else if (strcmp(mode, "threads") == 0)
        run_threads();
    else if (strcmp(mode, "prodcons") == 0)
        run_prodcons();
    else if (strcmp(mode, "storm") == 0)
        run_storm();
    else if (strcmp(mode, "purge") == 0)
        run_purge();
    else if (strcmp(mode, "many") == 0)
        run_many();
    else
        CHECK(0, "unknown mode %s", mode);
    t_log("stress %s: passed\n", mode);
    return 0;
}
