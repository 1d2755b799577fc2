/* Tests of the lab allocators: the rules brisk's own tests cannot check on them, and what each
 * design promises (tests/suites/lab.sh runs them under LD_PRELOAD).
 *
 *   labtest DESIGN TEST     DESIGN: bump, freelist, coalesce or binned; the test first checks
 *                           that malloc really is DESIGN.so's (dlsym, dladdr), then runs TEST.
 *
 * Common:   realloc, foreign_brk, fork_threads, threads, double_free
 * bump:     bump_no_reuse      freelist: fit (the policy in LAB_FIT)
 * coalesce: coalesce_merge, coalesce_trim
 * binned:   binned_layout, binned_tcache, binned_bins, binned_mmap, binned_arenas
 *
 * Some tests look at a design's headers on purpose (the size word before a block): that layout
 * is what the design is about. Reporting goes through write(2) (common.h), never malloc. */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static const char *design;

/* The word `back` words before a block (1: its size and flags in every lab design). Volatile:
 * malloc's attributes let the compiler assume a free elsewhere cannot change these bytes. */
static size_t word_before(const void *p, int back)
{
    return ((const volatile size_t *)p)[-back];
}

static size_t size_word(const void *p)
{
    return word_before(p, 1);
}

static char *brk_now(void)
{
    return sbrk(0);
}

/* ---- common ----------------------------------------------------------------------------- */

/* brisk's api test of realloc ends on brisk's own statistics; these are its rules on their own. */
static void t_realloc(void)
{
    static const size_t steps[] = {1, 15, 16, 17, 100, 1000, 1024, 5000, 70000, 300000,
                                   1 << 20, 3 << 20, 9 << 20};
    const int n = (int)(sizeof steps / sizeof steps[0]);
    unsigned char *p = NULL;
    size_t cur = 0;
    for (int k = 0; k < 2 * n; k++) { /* up the steps, then down */
        size_t want = steps[k < n ? k : 2 * n - 1 - k];
        unsigned char *q = T_realloc(p, want);
        CHECK(q != NULL && is_aligned(q, 16) && T_usable(q) >= want, "realloc to %zu", want);
        size_t keep = cur < want ? cur : want;
        CHECK(check_pattern(q, keep, 1234) == (size_t)-1, "realloc %zu -> %zu lost contents", cur,
              want);
        fill_pattern(q, want, 1234);
        p = q;
        cur = want;
    }
    errno = 0;
    CHECK(T_realloc(p, 0) == NULL, "realloc(p, 0) must free p and return NULL");
    p = T_realloc(NULL, 0);
    CHECK(p != NULL, "realloc(NULL, 0) is malloc(0): a unique pointer");
    T_free(p);
    /* an aligned block keeps its contents when it grows and moves */
    p = T_aligned_alloc(4096, 3000);
    CHECK(p != NULL && is_aligned(p, 4096));
    fill_pattern(p, 3000, 77);
    p = T_realloc(p, 200000);
    CHECK(p != NULL && check_pattern(p, 3000, 77) == (size_t)-1, "aligned block lost contents");
    T_free(p);
    /* reallocarray: overflow fails and keeps the block; size 0 frees */
    unsigned *a = T_reallocarray(NULL, 10, sizeof *a);
    CHECK(a != NULL);
    a[9] = 99;
    errno = 0;
    CHECK(T_reallocarray(a, opaque_size(SIZE_MAX / 2), 4) == NULL && errno == ENOMEM,
          "overflow not caught");
    CHECK(a[9] == 99);
    a = T_reallocarray(a, 100000, sizeof *a);
    CHECK(a != NULL && a[9] == 99);
    CHECK(T_reallocarray(a, 0, 4) == NULL, "reallocarray(p, 0, 4) frees and returns NULL");
}

/* Something else moves the break by an odd amount, and later lowers it to the middle of a page
 * it dirtied. The allocator must keep clear of the foreign bytes, stay 16-aligned, and calloc
 * must still return zeros. */
static void t_foreign_brk(void)
{
    enum { N = 3000, FOREIGN = 1013 };
    static unsigned char *b[N];
    static size_t len[N];
    void *warm = T_malloc(100);
    CHECK(warm != NULL);
    unsigned char *f = sbrk(FOREIGN);
    CHECK(f != (void *)-1);
    memset(f, 0xab, FOREIGN);
    struct rng r = {5};
    for (int i = 0; i < N; i++) {
        len[i] = 1 + (size_t)rng_below(&r, 5000);
        b[i] = i % 3 ? T_malloc(len[i]) : T_calloc(1, len[i]);
        CHECK(b[i] != NULL && is_aligned(b[i], 16), "block %d: %p", i, (void *)b[i]);
        CHECK(b[i] + len[i] <= f || b[i] >= f + FOREIGN, "block %p overlaps the foreign bytes",
              (void *)b[i]);
        if (i % 3 == 0)
            CHECK(check_zero(b[i], len[i]) == (size_t)-1, "calloc not zero");
        memset(b[i], i & 0xff, len[i]);
        if (i % 2)
            T_free(b[(i * 7) % (i + 1)]), b[(i * 7) % (i + 1)] = NULL;
    }
    for (int i = 0; i < N; i++)
        T_free(b[i]);
    T_free(warm);
    for (int i = 0; i < FOREIGN; i++)
        CHECK(f[i] == 0xab, "foreign byte %d was overwritten", i);
    /* dirty a page beyond the break, then leave the break 16 bytes into it */
    char *d = sbrk(4096);
    CHECK(d != (void *)-1);
    memset(d, 0xcd, 4096);
    CHECK(sbrk(-(4096 - 16)) != (void *)-1);
    for (int i = 0; i < 64; i++) {
        unsigned char *z = T_calloc(1, 2000);
        CHECK(z != NULL && check_zero(z, 2000) == (size_t)-1, "calloc returned dirty bytes");
        memset(z, 0xee, 2000);
    }
    t_log("  foreign break moves: allocator kept clear, calloc zeroed\n");
}

/* fork while three threads allocate: the children allocate, free and realloc at once, blocks of
 * the parent too, and start a thread; alarm() turns a deadlock into a failure. */
static atomic_int stop;

static void *churn(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    void *slot[32] = {0};
    for (int i = 0; i < 100000 && !atomic_load(&stop); i++) {
        int k = (int)rng_below(&r, 32);
        if (slot[k] && rng_below(&r, 2))
            slot[k] = T_realloc(slot[k], 1 + rng_below(&r, 300));
        else
            T_free(slot[k]), slot[k] = T_malloc(1 + rng_below(&r, 300));
        CHECK(slot[k] != NULL);
        memset(slot[k], 1, 1);
    }
    for (int k = 0; k < 32; k++)
        T_free(slot[k]);
    return NULL;
}

/* A thread of the child: checks and frees the block it is given, returns one of its own. */
static void *child_thread(void *arg)
{
    CHECK(check_pattern(arg, 700, 9) == (size_t)-1, "the parent's block changed in the child");
    T_free(arg);
    void *p = T_malloc(5000);
    CHECK(p != NULL);
    return memset(p, 2, 5000);
}

static void t_fork_threads(void)
{
    enum { T = 3, FORKS = 60 };
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        CHECK(pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1)) == 0);
    void *mine = T_malloc(700);
    CHECK(mine != NULL);
    fill_pattern(mine, 700, 9);
    for (int it = 0; it < FORKS; it++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            alarm(20);
            CHECK(check_pattern(mine, 700, 9) == (size_t)-1);
            void *q = T_realloc(mine, 70000);
            CHECK(q != NULL && check_pattern(q, 700, 9) == (size_t)-1);
            for (int i = 0; i < 500; i++) {
                void *p = T_malloc((size_t)i * 13 % 4000);
                CHECK(p != NULL);
                T_free(p);
            }
            pthread_t t;
            void *left;
            CHECK(pthread_create(&t, NULL, child_thread, q) == 0 && pthread_join(t, &left) == 0);
            T_free(left);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %#x%s", it, st,
              WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? " (deadlocked)" : "");
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < T; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    T_free(mine);
    t_log("  %d forks while %d threads allocated: every child worked\n", FORKS, T);
}

/* Threads passing blocks: producers allocate (malloc, calloc, posix_memalign), consumers check,
 * realloc and free them; then 300 short threads, each freeing what the one before left and
 * leaving half of its own blocks (thread exit with blocks of its arena still live elsewhere). */
enum { QCAP = 256, PRODUCERS = 3, PER_PRODUCER = 20000, SHORT_THREADS = 300, LEFT = 24 };

struct item {
    unsigned char *p;
    size_t n;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item q[QCAP];
    int head, count, producers_left;
} pc = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, PRODUCERS};

static struct item make_item(struct rng *r)
{
    struct item it = {NULL, 1 + (size_t)rng_below(r, 5000)};
    uint64_t how = rng_below(r, 3);
    if (how == 0) {
        it.p = T_malloc(it.n);
    } else if (how == 1) {
        it.p = T_calloc(1, it.n);
        CHECK(it.p && check_zero(it.p, it.n) == (size_t)-1, "calloc'd block not zero");
    } else {
        void *v = NULL;
        CHECK(T_posix_memalign(&v, (size_t)16 << rng_below(r, 6), it.n) == 0);
        it.p = v;
    }
    CHECK(it.p != NULL);
    fill_pattern(it.p, it.n, pattern_seed(it.p, it.n));
    return it;
}

static void check_item(struct item it)
{
    CHECK(check_pattern(it.p, it.n, pattern_seed(it.p, it.n)) == (size_t)-1,
          "block %p of %zu bytes changed while it travelled", (void *)it.p, it.n);
}

static void *producer(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    for (int i = 0; i < PER_PRODUCER; i++) {
        struct item it = make_item(&r);
        pthread_mutex_lock(&pc.lock);
        while (pc.count == QCAP)
            pthread_cond_wait(&pc.cond, &pc.lock);
        pc.q[(pc.head + pc.count++) % QCAP] = it;
        pthread_cond_broadcast(&pc.cond);
        pthread_mutex_unlock(&pc.lock);
    }
    pthread_mutex_lock(&pc.lock);
    pc.producers_left--;
    pthread_cond_broadcast(&pc.cond);
    pthread_mutex_unlock(&pc.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    for (;;) {
        pthread_mutex_lock(&pc.lock);
        while (pc.count == 0 && pc.producers_left > 0)
            pthread_cond_wait(&pc.cond, &pc.lock);
        if (pc.count == 0) {
            pthread_mutex_unlock(&pc.lock);
            return NULL;
        }
        struct item it = pc.q[pc.head];
        pc.head = (pc.head + 1) % QCAP;
        pc.count--;
        pthread_cond_broadcast(&pc.cond);
        pthread_mutex_unlock(&pc.lock);
        check_item(it);
        if (rng_below(&r, 4) == 0) {
            size_t n = 1 + (size_t)rng_below(&r, 9000), keep = n < it.n ? n : it.n;
            uint64_t seed = pattern_seed(it.p, it.n);
            it.p = T_realloc(it.p, n);
            CHECK(it.p && check_pattern(it.p, keep, seed) == (size_t)-1, "realloc lost contents");
        }
        T_free(it.p);
    }
}

static struct item left[LEFT];
static pthread_mutex_t left_lock = PTHREAD_MUTEX_INITIALIZER;

static void *short_thread(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    struct item mine[LEFT];
    for (int i = 0; i < LEFT; i++)
        mine[i] = make_item(&r);
    pthread_mutex_lock(&left_lock);
    for (int i = 0; i < LEFT; i++) {
        if (left[i].p) {
            check_item(left[i]);
            T_free(left[i].p);
        }
        left[i] = i % 2 ? mine[i] : (struct item){NULL, 0};
        if (i % 2 == 0)
            T_free(mine[i].p);
    }
    pthread_mutex_unlock(&left_lock);
    return NULL;
}

static void t_threads(void)
{
    pthread_t p[PRODUCERS], c[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        CHECK(pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)(i + 1)) == 0);
        CHECK(pthread_create(&c[i], NULL, consumer, (void *)(uintptr_t)(i + 100)) == 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        CHECK(pthread_join(p[i], NULL) == 0 && pthread_join(c[i], NULL) == 0);
    for (int i = 0; i < SHORT_THREADS; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)(i + 1000)) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    for (int i = 0; i < LEFT; i++)
        if (left[i].p)
            check_item(left[i]), T_free(left[i].p);
    t_log("  %d blocks passed between threads, then %d short threads\n", PRODUCERS * PER_PRODUCER,
          SHORT_THREADS);
}

/* A second free of the same block stops the program (in a child, which must die by SIGABRT). */
static void t_double_free(void)
{
    static const size_t sizes[] = {24, 100, 500, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            void *guard = T_malloc(64), *p = T_malloc(sizes[i]);
            T_free(opaque_ptr(p));
            T_free(opaque_ptr(p));
            T_free(guard);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
              "double free of a %zu-byte block: status %#x, expected SIGABRT", sizes[i], st);
    }
}

/* ---- bump -------------------------------------------------------------------------------- */

static void t_bump_no_reuse(void)
{
    enum { N = 1000 };
    char *start = brk_now(), *last = NULL;
    for (int i = 0; i < N; i++) {
        char *p = T_malloc(64);
        CHECK(p != NULL && p > last, "block %d at %p is not above the one before (%p)", i,
              (void *)p, (void *)last);
        memset(p, 1, 64);
        T_free(p);
        last = p;
    }
    size_t grown = (size_t)(brk_now() - start);
    CHECK(grown >= N * (64 + 16), "the break grew by %zu bytes for %d blocks of 64", grown, N);
    t_log("  %d x malloc(64)/free: %d different blocks, the break grew by %zu bytes\n", N, N, grown);
}

/* ---- freelist ---------------------------------------------------------------------------- */

/* Free blocks of 208, 128, 112, 304 and 160 bytes (sizes rounded to 16), freed so that the list
 * (newest first) reads A 208, D 128, B 112, C 304, E 160. malloc(250) takes C whatever the
 * policy (the only one large enough); then malloc(116), 128 bytes, shows the policy:
 * first fit takes A (the head), next fit E (after C, where the last search stopped), best fit
 * D (exactly 128). */
static void t_fit(void)
{
    const char *policy = getenv("LAB_FIT");
    CHECK(policy != NULL, "set LAB_FIT to first, next or best");
    void *A = T_malloc(200), *B = T_malloc(100), *C = T_malloc(300), *D = T_malloc(120),
         *E = T_malloc(150);
    CHECK(A && B && C && D && E);
    T_free(E);
    T_free(C);
    T_free(B);
    T_free(D);
    T_free(A);
    void *big = T_malloc(250);
    CHECK(big == C, "malloc(250) = %p, expected C %p (the only block large enough)", big, C);
    void *got = T_malloc(116);
    void *want = strcmp(policy, "first") == 0 ? A : strcmp(policy, "next") == 0 ? E : D;
    CHECK(got == want, "%s fit: malloc(116) = %p; A %p B %p C %p D %p E %p", policy, got, A, B,
          C, D, E);
    t_log("  %s fit took the expected block\n", policy);
}

/* ---- coalesce ---------------------------------------------------------------------------- */

/* Blocks of 40000 bytes (chunks of 40016) come from the top, one after the other. */
static void t_coalesce_merge(void)
{
    enum { N = 40000, CHUNK = N + 16 };
    char *a = T_malloc(N), *b = T_malloc(N), *c = T_malloc(N), *guard = T_malloc(N);
    CHECK(a && b && c && guard);
    CHECK(b == a + CHUNK && c == b + CHUNK, "neighbours are not adjacent: %p %p %p", (void *)a,
          (void *)b, (void *)c);
    T_free(a);
    T_free(c);
    T_free(b); /* b merges with both neighbours: one free chunk of 3 chunks */
    char *x = T_malloc(3 * CHUNK - 16);
    CHECK(x == a, "a block of 3 chunks should be the merged a+b+c at %p, got %p", (void *)a,
          (void *)x);
    T_free(x);
    char *y = T_malloc(100), *z = T_malloc(100);
    CHECK(y == a && z == a + 128, "splitting: malloc(100) twice gave %p and %p, expected %p, %p",
          (void *)y, (void *)z, (void *)a, (void *)(a + 128));
    T_free(y);
    T_free(z);
    T_free(guard);
    t_log("  three free neighbours merged into one chunk, split again on demand\n");
}

static void t_coalesce_trim(void)
{
    enum { N = 8192 }; /* 8 MiB of 1 KiB blocks */
    static void *b[N];
    char *start = brk_now();
    for (int i = 0; i < N; i++) {
        b[i] = T_malloc(1000);
        CHECK(b[i] != NULL);
        memset(b[i], 7, 1000);
    }
    char *top = brk_now();
    size_t rss = rss_bytes();
    CHECK(top >= start + N * 1000, "the break moved by %zu bytes only", (size_t)(top - start));
    struct rng r = {11};
    for (int i = N - 1; i > 0; i--) { /* free in random order: merging must still be complete */
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        void *t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    for (int i = 0; i < N; i++)
        T_free(b[i]);
    char *after = brk_now();
    size_t rss_after = rss_bytes();
    t_log("  break +%zu KiB with 8 MiB live, +%zu KiB after freeing; RSS %zu -> %zu KiB\n",
          (size_t)(top - start) / 1024, (size_t)(after - start) / 1024, rss / 1024,
          rss_after / 1024);
    CHECK(after <= start + 256 * 1024, "the heap top was not given back: the break is %zu KiB up",
          (size_t)(after - start) / 1024);
    CHECK(rss_after + 6 * MiB <= rss, "RSS did not drop");
}

/* ---- binned ------------------------------------------------------------------------------ */

#define B_PREV_INUSE 1
#define B_IS_MMAPPED 2
#define B_NON_MAIN 4

static void t_binned_layout(void)
{
    static const size_t req[][2] = {{0, 32}, {24, 32}, {25, 48}, {100, 112}, {1000, 1008},
                                    {1001, 1024}, {5000, 5008}};
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
        void *p = T_malloc(req[i][0]);
        size_t w = size_word(p);
        CHECK((w & ~(size_t)7) == req[i][1], "malloc(%zu): chunk size %zu, expected %zu",
              req[i][0], w & ~(size_t)7, req[i][1]);
        CHECK((w & B_PREV_INUSE) && !(w & B_IS_MMAPPED), "malloc(%zu): flags %zu", req[i][0],
              w & 7);
        CHECK(T_usable(p) == req[i][1] - 8, "usable size %zu of a %zu-byte chunk", T_usable(p),
              req[i][1]);
    }
    void *m = T_malloc(1 << 20);
    CHECK((size_word(m) & B_IS_MMAPPED) && ((uintptr_t)m & 4095) == 16,
          "malloc(1 MiB) = %p, size word %#zx: expected its own mapping", m, size_word(m));
    T_free(m);
}

/* The tcache: LIFO, per thread, 7 chunks a size; the 8th goes to the arena. */
static void *other_thread_malloc(void *arg)
{
    return T_malloc((size_t)(uintptr_t)arg);
}

static void t_binned_tcache(void)
{
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = T_malloc(200);
    void *guard = T_malloc(200);
    for (int i = 0; i < 8; i++)
        T_free(p[i]);
    for (int i = 6; i >= 0; i--) {
        void *q = T_malloc(200);
        CHECK(q == p[i], "tcache: expected %p (freed #%d) back, got %p", p[i], i, q);
    }
    void *q = T_malloc(200);
    CHECK(q == p[7], "the 8th free went to the arena; malloc should find it there: %p vs %p", q,
          p[7]);
    /* another thread does not see this thread's cache */
    void *x = T_malloc(300);
    T_free(x);
    void *other;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread_malloc, (void *)(uintptr_t)300) == 0);
    CHECK(pthread_join(t, &other) == 0);
    CHECK(other != x, "another thread got %p out of this thread's tcache", x);
    CHECK(T_malloc(300) == x, "this thread's cached chunk should come back");
    T_free(other);
    T_free(guard);
    t_log("  tcache: LIFO, 7 per size, per thread\n");
}

/* Boundary tags at work: a chunk freed past the tcache clears its neighbour's PREV_INUSE and
 * leaves its size as a footer; a fast chunk (<= 128 bytes) stays "in use" (never merged). */
static void t_binned_bins(void)
{
    char *big[8], *small[8];
    for (int i = 0; i < 8; i++)
        big[i] = T_malloc(500); /* 512-byte chunks */
    void *guard1 = T_malloc(500);
    for (int i = 0; i < 8; i++)
        small[i] = T_malloc(40); /* 48-byte chunks */
    void *guard2 = T_malloc(40);
    CHECK(guard1 == big[7] + 512 && guard2 == small[7] + 48, "chunks not adjacent");
    CHECK((size_word(guard1) & B_PREV_INUSE) && (size_word(guard2) & B_PREV_INUSE));
    for (int i = 0; i < 8; i++) {
        T_free(big[i]);
        T_free(small[i]);
    }
    /* big[7] and small[7] did not fit in the tcache (7 each) */
    CHECK(!(size_word(guard1) & B_PREV_INUSE), "freed 512-byte chunk still marked in use");
    CHECK(word_before(guard1, 2) == 512, "no footer: prev_size %zu", word_before(guard1, 2));
    CHECK(size_word(guard2) & B_PREV_INUSE, "a fast chunk must stay marked in use");
    /* unsorted -> exact fit: the next malloc(500) after the tcache ones gets big[7] back */
    for (int i = 0; i < 7; i++)
        CHECK(T_malloc(500) == big[6 - i], "tcache order");
    CHECK(T_malloc(500) == big[7], "the freed chunk was not reused from the bins");
    t_log("  boundary tags and fast chunks as in glibc\n");
}

static void t_binned_mmap(void)
{
    size_t vsz = vsz_bytes();
    void *m = T_malloc(4 * MiB);
    CHECK(m != NULL && (size_word(m) & B_IS_MMAPPED), "4 MiB should be mmapped");
    touch_pages(m, 4 * MiB);
    CHECK(vsz_bytes() >= vsz + 4 * MiB);
    T_free(m);
    CHECK(vsz_bytes() < vsz + MiB, "free did not munmap: VSZ %zu -> %zu KiB", vsz / 1024,
          vsz_bytes() / 1024);
    /* glibc's dynamic threshold: after that free, blocks of that size come from the heap */
    void *h = T_malloc(4 * MiB);
    CHECK(h != NULL && !(size_word(h) & B_IS_MMAPPED), "the mmap threshold did not rise");
    T_free(h);
    t_log("  4 MiB: mmapped, unmapped on free, then served from the heap\n");
}

/* Threads get arenas of their own (NON_MAIN_ARENA chunks in 64 MiB heaps); arenas of exited
 * threads are reused; blocks freed by other threads go back to their own arena. */
enum { WAVE = 4 };
static pthread_barrier_t wave_barrier;
static void *wave_block[2][WAVE];

static void *wave_thread(void *arg)
{
    int w = (int)((uintptr_t)arg >> 8), i = (int)((uintptr_t)arg & 0xff);
    pthread_barrier_wait(&wave_barrier); /* all alive at once: each needs its own arena */
    void *p = T_malloc(100);
    CHECK(p != NULL && (size_word(p) & B_NON_MAIN), "a thread's chunk %p is in the main arena", p);
    memset(p, 3, 100);
    wave_block[w][i] = p;
    void *q = T_malloc(5000);
    pthread_barrier_wait(&wave_barrier);
    T_free(q);
    return NULL;
}

static void t_binned_arenas(void)
{
    void *mainp = T_malloc(100);
    CHECK(!(size_word(mainp) & B_NON_MAIN), "the first thread uses the main arena");
    for (int w = 0; w < 2; w++) {
        pthread_t t[WAVE];
        CHECK(pthread_barrier_init(&wave_barrier, NULL, WAVE) == 0);
        for (int i = 0; i < WAVE; i++)
            CHECK(pthread_create(&t[i], NULL, wave_thread, (void *)(uintptr_t)(w << 8 | i)) == 0);
        for (int i = 0; i < WAVE; i++)
            CHECK(pthread_join(t[i], NULL) == 0);
        pthread_barrier_destroy(&wave_barrier);
    }
    const uintptr_t mask = ~(uintptr_t)(64 * MiB - 1);
    for (int i = 0; i < WAVE; i++) {
        uintptr_t heap = (uintptr_t)wave_block[1][i] & mask;
        int same = 0, distinct = 1;
        for (int j = 0; j < WAVE; j++) {
            same |= ((uintptr_t)wave_block[0][j] & mask) == heap;
            if (j != i && ((uintptr_t)wave_block[1][j] & mask) == heap)
                distinct = 0;
        }
        CHECK(same, "second wave thread %d uses a heap the first wave did not: arenas not reused", i);
        CHECK(distinct, "two live threads share a heap");
    }
    for (int w = 0; w < 2; w++) /* freed here, by another thread than their own */
        for (int i = 0; i < WAVE; i++)
            T_free(wave_block[w][i]);
    T_free(mainp);
    t_log("  %d threads: %d arenas, reused by the next %d threads\n", WAVE, WAVE, WAVE);
}

/* ---- driver ------------------------------------------------------------------------------ */

struct test {
    const char *name;
    void (*fn)(void);
};

static const struct test tests[] = {
    {"realloc", t_realloc},
    {"foreign_brk", t_foreign_brk},
    {"fork_threads", t_fork_threads},
    {"threads", t_threads},
    {"double_free", t_double_free},
    {"bump_no_reuse", t_bump_no_reuse},
    {"fit", t_fit},
    {"coalesce_merge", t_coalesce_merge},
    {"coalesce_trim", t_coalesce_trim},
    {"binned_layout", t_binned_layout},
    {"binned_tcache", t_binned_tcache},
    {"binned_bins", t_binned_bins},
    {"binned_mmap", t_binned_mmap},
    {"binned_arenas", t_binned_arenas},
};

int main(int argc, char **argv)
{
    CHECK(argc == 3, "usage: labtest DESIGN TEST");
    design = argv[1];
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    CHECK(m && dladdr(m, &info) && info.dli_fname, "dlsym/dladdr(malloc) failed");
    const char *base = strrchr(info.dli_fname, '/');
    base = base ? base + 1 : info.dli_fname;
    CHECK(strncmp(base, design, strlen(design)) == 0 && strcmp(base + strlen(design), ".so") == 0,
          "malloc comes from %s, not %s.so: run under LD_PRELOAD", info.dli_fname, design);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[2], tests[i].name) == 0) {
            t_log("%s: %s\n", design, tests[i].name);
            tests[i].fn();
            t_log("%s: %s passed\n", design, tests[i].name);
            return 0;
        }
    }
    CHECK(0, "no test named %s", argv[2]);
}
