/* Out of memory: in a child, RLIMIT_AS is set to the current address space + 256 MiB; then
 * blocks of 1 MiB, 64 KiB and 100 bytes are allocated until NULL. NULL must come with ENOMEM
 * and nothing may crash; after freeing half, allocation works again; a 200 MiB request over the
 * limit fails cleanly; after freeing everything, half the budget can be had again.
 * Built twice (standard names and -DUSE_PREFIX). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct pool {
    void **p;
    size_t n, cap;
};

static void pool_init(struct pool *pl, size_t cap)
{
    /* the pointer arrays come from mmap before the limit is set, not from the allocator */
    pl->p = mmap(NULL, cap * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
    CHECK(pl->p != MAP_FAILED);
    pl->n = 0;
    pl->cap = cap;
}

/* Allocate blocks of `size` until NULL; returns how many. Each block is marked (first and
 * last byte, one byte per page) so that the memory is really in use. */
static size_t fill_until_null(struct pool *pl, size_t size, const char *what)
{
    size_t start = pl->n;
    for (;;) {
        CHECK(pl->n < pl->cap,
              "%zu blocks of %s and no failure: the address-space limit has no effect", pl->n,
              what);
        errno = 0;
        unsigned char *p = T_malloc(size);
        if (p == NULL) {
            CHECK(errno == ENOMEM, "malloc(%s) returned NULL with errno %d, expected ENOMEM", what,
                  errno);
            break;
        }
        CHECK(is_aligned(p, 16));
        touch_pages(p, size);
        p[0] = (unsigned char)pl->n;
        pl->p[pl->n++] = p;
    }
    return pl->n - start;
}

static void check_marks(struct pool *pl, size_t size)
{
    for (size_t i = 0; i < pl->n; i++) {
        unsigned char *p = pl->p[i];
        if (p)
            CHECK(p[0] == (unsigned char)i && p[size - 1] == 0x5a, "block %zu of %zu bytes lost its marks",
                  i, size);
    }
}

static void free_half(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i += 2) {
        T_free(pl->p[i]);
        pl->p[i] = NULL;
    }
}

static void free_all(struct pool *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        T_free(pl->p[i]);
        pl->p[i] = NULL;
    }
}

#define EXPECT_ENOMEM(expr, what)                                                                \
    do {                                                                                         \
        errno = 0;                                                                               \
        void *r_ = (expr);                                                                       \
        CHECK(r_ == NULL, "%s over the limit returned %p", what, r_);                            \
        CHECK(errno == ENOMEM, "%s over the limit: errno %d, expected ENOMEM", what, errno);     \
    } while (0)

/* A thread started before memory runs out, that makes its first allocation (and so needs a
 * heap of its own) only once memory is exhausted: NULL + ENOMEM or a block, never a crash. */
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go;

static void *late_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&go_lock);
    while (!go)
        pthread_cond_wait(&go_cond, &go_lock);
    pthread_mutex_unlock(&go_lock);
    static size_t got, nulls;
    void *held[256];
    int nh = 0;
    for (int i = 0; i < 256; i++) {
        errno = 0;
        void *p = T_malloc((size_t)(i % 16) * 64 + 16);
        if (p == NULL) {
            CHECK(errno == ENOMEM, "a new thread's malloc failed with errno %d", errno);
            nulls++;
        } else {
            memset(p, 1, (size_t)(i % 16) * 64 + 16);
            held[nh++] = p;
            got++;
        }
    }
    for (int i = 0; i < nh; i++)
        T_free(held[i]);
    t_log("  a thread's first allocations under exhaustion: %zu blocks, %zu NULL\n", got, nulls);
    return NULL;
}

static void child(void)
{
    struct pool big, mid, small;
    pool_init(&big, 4096);
    pool_init(&mid, 65536);
    pool_init(&small, 4 * 1024 * 1024);
    /* make sure the allocator is up (and has reserved what it reserves) before measuring */
    void *warm = T_malloc(100);
    CHECK(warm != NULL);
    T_free(warm);
    pthread_t late;
    CHECK(pthread_create(&late, NULL, late_thread, NULL) == 0);
    size_t vsz = vsz_bytes();
    struct rlimit rl = {vsz + 256 * MiB, vsz + 256 * MiB};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "setrlimit: %s", strerror(errno));
    t_log("  address space %zu MiB, limit set to %zu MiB\n", vsz / MiB, (size_t)rl.rlim_cur / MiB);

    size_t nb = fill_until_null(&big, MiB, "1 MiB");
    size_t nm = fill_until_null(&mid, 64 * KiB, "64 KiB");
    size_t ns = fill_until_null(&small, 100, "100 B");
    t_log("  until NULL: %zu blocks of 1 MiB, %zu of 64 KiB, %zu of 100 B\n", nb, nm, ns);
    CHECK(nb >= 64, "only %zu MiB could be allocated under a 256 MiB allowance", nb);
    check_marks(&big, MiB);
    check_marks(&mid, 64 * KiB);
    check_marks(&small, 100);

    /* the other calls fail cleanly as well while memory is exhausted */
    EXPECT_ENOMEM(T_malloc(200 * MiB), "malloc(200 MiB)");
    EXPECT_ENOMEM(T_calloc(1, 200 * MiB), "calloc(1, 200 MiB)");
    EXPECT_ENOMEM(T_aligned_alloc(2 * MiB, 200 * MiB), "aligned_alloc(2 MiB, 200 MiB)");
    EXPECT_ENOMEM(T_memalign(4096, 2 * MiB), "memalign(4096, 2 MiB)");
    {
        void *q = NULL;
        int rc = T_posix_memalign(&q, 64 * KiB, 200 * MiB);
        CHECK(rc == ENOMEM, "posix_memalign(64 KiB, 200 MiB) returned %d", rc);
    }

    pthread_mutex_lock(&go_lock);
    go = 1;
    pthread_cond_signal(&go_cond);
    pthread_mutex_unlock(&go_lock);
    CHECK(pthread_join(late, NULL) == 0);

    /* free half: allocation works again */
    free_half(&big);
    free_half(&mid);
    free_half(&small);
    check_marks(&big, MiB);
    check_marks(&mid, 64 * KiB);
    check_marks(&small, 100);
    void *again[30];
    for (int i = 0; i < 30; i++) {
        size_t n = i % 3 == 0 ? 100 : i % 3 == 1 ? 64 * KiB : MiB;
        errno = 0;
        again[i] = T_malloc(n);
        CHECK(again[i] != NULL, "malloc(%zu) failed (errno %d) after half the memory was freed", n,
              errno);
        memset(again[i], 0x11, n);
    }
    unsigned char *g = T_malloc(MiB);
    CHECK(g != NULL);
    fill_pattern(g, MiB, 5);
    /* a request over the limit: NULL + ENOMEM; realloc keeps the old block */
    EXPECT_ENOMEM(T_malloc(200 * MiB), "malloc(200 MiB)");
    EXPECT_ENOMEM(T_calloc(200, MiB), "calloc(200, 1 MiB)");
    EXPECT_ENOMEM(T_realloc(g, 200 * MiB), "realloc(1 MiB block, 200 MiB)");
    CHECK(check_pattern(g, MiB, 5) == (size_t)-1, "failed realloc damaged the block");
    EXPECT_ENOMEM(T_reallocarray(g, 200, MiB), "reallocarray(1 MiB block, 200, 1 MiB)");
    CHECK(check_pattern(g, MiB, 5) == (size_t)-1, "failed reallocarray damaged the block");
    T_free(g);
    for (int i = 0; i < 30; i++)
        T_free(again[i]);

    /* free everything: half of the allowance can be had again in one block */
    free_all(&big);
    free_all(&mid);
    free_all(&small);
    unsigned char *h = T_malloc(128 * MiB);
    CHECK(h != NULL, "malloc(128 MiB) failed after everything was freed (the limit is 256 MiB above "
                     "the start): freed memory was not given back to the address space");
    touch_pages(h, 128 * MiB);
    T_free(h);
    _exit(0);
}

int main(void)
{
    t_log("oom (%s api)\n", API_NAME);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(120);
        child();
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st))
        CHECK(0, "the out-of-memory child died by signal %d (%s)", WTERMSIG(st),
              strsignal(WTERMSIG(st)));
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the out-of-memory child exited with %d",
          WEXITSTATUS(st));
    t_log("oom: passed\n");
    return 0;
}
