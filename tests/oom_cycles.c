/* Address space exhausted again and again, by several threads at once (tests/oom.c does it
 * once, in one thread). In a child with RLIMIT_AS at its address space + 192 MiB, CYCLES times:
 * 3 threads allocate blocks of every region with every call (malloc, calloc, aligned, realloc
 * growth) until each has seen NULL 200 times; every NULL must come with ENOMEM (a failed
 * realloc must leave its block as it was); then every block is checked and freed by a thread
 * other than the one that made it. Recovery: each cycle must get at least 3/4 of the bytes the
 * first one got (failures leak nothing), calloc's blocks read as zero, and at the end a
 * 128 MiB block fits again. */
#include "child.h"

#include <pthread.h>
#include <sys/mman.h>

enum { NT = 3, CAP = 1 << 18, CYCLES = 4, NULLS = 200 };

struct blk {
    unsigned char *p;
    size_t n;
};

struct worker {
    struct blk *b; /* mmap'd: the table must not come from the heap under test */
    size_t nb, bytes;
    int id;
};

static struct worker w[NT];
static pthread_barrier_t bar;
static int cycle;

static size_t pick(struct rng *r)
{
    uint64_t x = rng_below(r, 100);
    return x < 60 ? 1 + (size_t)rng_below(r, 1024)
           : x < 90 ? 1024 + (size_t)rng_below(r, 255 * KiB)
                    : 256 * KiB + (size_t)rng_below(r, 4 * MiB);
}

/* One allocation by a call chosen at random; NULL must mean ENOMEM. */
static void *attempt(struct rng *r, struct worker *me, size_t n)
{
    uint64_t how = rng_below(r, 5);
    void *p = NULL;
    errno = 0;
    if (how == 0) {
        p = T_malloc(n);
    } else if (how == 1) {
        p = T_calloc(n, 1);
        if (p)
            CHECK(check_zero(p, n) == (size_t)-1, "calloc(%zu, 1) after recovery not zeroed", n);
    } else if (how == 2) {
        p = T_aligned_alloc((size_t)64 << rng_below(r, 8), n);
    } else if (how == 3) {
        int rc = T_posix_memalign(&p, 4096, n);
        CHECK(rc == 0 || rc == ENOMEM, "posix_memalign: %d", rc);
        return p;
    } else if (me->nb > 0) { /* grow the last block; on failure it must be untouched */
        struct blk *last = &me->b[me->nb - 1];
        unsigned char *q = T_realloc(last->p, last->n + n);
        if (q == NULL) {
            CHECK(errno == ENOMEM, "realloc failed with errno %d", errno);
            CHECK(check_pattern(last->p, last->n, pattern_seed(last->p, last->n)) == (size_t)-1,
                  "a failed realloc changed its block");
            return NULL;
        }
        CHECK(check_pattern(q, last->n, pattern_seed(last->p, last->n)) == (size_t)-1,
              "realloc lost the block's contents");
        me->bytes += n;
        last->p = q;
        last->n += n;
        fill_pattern(q, last->n, pattern_seed(q, last->n));
        return NULL;
    } else {
        p = T_malloc(n);
    }
    CHECK(p != NULL || errno == ENOMEM, "NULL with errno %d, not ENOMEM", errno);
    return p;
}

static void *run(void *arg)
{
    struct worker *me = arg;
    for (int c = 0; c < CYCLES; c++) {
        pthread_barrier_wait(&bar);
        struct rng r = {(uint64_t)(me->id * 1000 + c)};
        int nulls = 0;
        me->bytes = 0;
        while (nulls < NULLS) {
            CHECK(me->nb < CAP, "%zu blocks and no failure: the limit has no effect", me->nb);
            size_t n = pick(&r);
            void *p = attempt(&r, me, n);
            if (p == NULL) {
                nulls++;
                continue;
            }
            me->b[me->nb].p = p;
            me->b[me->nb].n = n;
            fill_pattern(p, n, pattern_seed(p, n));
            me->nb++;
            me->bytes += n;
        }
        pthread_barrier_wait(&bar);
        /* free the blocks of the next thread, checking each */
        struct worker *other = &w[(me->id + 1) % NT];
        for (size_t i = 0; i < other->nb; i++) {
            struct blk *b = &other->b[i];
            CHECK(check_pattern(b->p, b->n, pattern_seed(b->p, b->n)) == (size_t)-1,
                  "cycle %d: block %p of %zu bytes corrupted", c, (void *)b->p, b->n);
            T_free(b->p);
        }
        pthread_barrier_wait(&bar);
        other->nb = 0;
    }
    return NULL;
}

static void child(const void *unused)
{
    (void)unused;
    for (int t = 0; t < NT; t++) {
        w[t].b = mmap(NULL, CAP * sizeof(struct blk), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(w[t].b != MAP_FAILED);
        w[t].id = t;
    }
    T_free(T_malloc(100));
    CHECK(pthread_barrier_init(&bar, NULL, NT + 1) == 0);
    pthread_t th[NT];
    for (int t = 0; t < NT; t++)
        CHECK(pthread_create(&th[t], NULL, run, &w[t]) == 0);
    size_t vsz = vsz_bytes();
    struct rlimit rl = {vsz + 192 * MiB, vsz + 192 * MiB};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
    size_t first = 0;
    for (cycle = 0; cycle < CYCLES; cycle++) {
        pthread_barrier_wait(&bar); /* go */
        pthread_barrier_wait(&bar); /* all exhausted */
        size_t got = 0, blocks = 0;
        for (int t = 0; t < NT; t++) {
            got += w[t].bytes;
            blocks += w[t].nb;
        }
        pthread_barrier_wait(&bar); /* all freed */
        brisk_trim(0);
        t_log("  cycle %d: %zu blocks, %zu MiB until every thread saw %d failures\n", cycle,
              blocks, got / MiB, NULLS);
        if (cycle == 0)
            first = got;
        CHECK(got >= first / 4 * 3, "cycle %d got %zu MiB, the first got %zu MiB: memory leaks "
              "across exhaustion", cycle, got / MiB, first / MiB);
    }
    for (int t = 0; t < NT; t++)
        CHECK(pthread_join(th[t], NULL) == 0);
    unsigned char *h = T_malloc(128 * MiB);
    CHECK(h != NULL, "128 MiB do not fit after everything was freed (limit: start + 192 MiB)");
    touch_pages(h, 128 * MiB);
    T_free(h);
    _exit(0);
}

int main(void)
{
    t_log("oom_cycles (%s api)\n", API_NAME);
    static struct child_result res;
    child_run(child, NULL, &res);
    char how[96];
    child_describe(&res, how, sizeof how);
    CHECK(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 0, "the child %s: %s", how, res.err);
    t_log("oom_cycles: passed\n");
    return 0;
}
