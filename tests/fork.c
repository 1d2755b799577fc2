/* fork() while other threads allocate.
 *
 *   fork threads   200 forks while 3 threads allocate and free; each child allocates, frees,
 *                  reallocs (also blocks the parent's threads made), maybe starts a thread,
 *                  then _exit(0)s. alarm() in the child turns a deadlock into a failure.
 *   fork stdio     glibc bug 19431 (tst-malloc-fork-deadlock): a thread loops getline() (which
 *                  reallocs while it holds the FILE's lock), another loops fflush(NULL), a third
 *                  writes a growing memstream, and the main thread forks repeatedly.
 *   fork orphans   threads keep starting and exiting (their heaps become orphans, holding blocks
 *                  others free later), a thread loops malloc_trim (which sweeps the orphans
 *                  under their lock), and the main thread forks; each child frees blocks of the
 *                  orphans, sweeps them itself and starts threads (which adopt orphans). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

static atomic_int stop;

/* A block that carries its size in its first word and a pattern after it. */
static void *make_block(size_t n)
{
    if (n < 16)
        n = 16;
    unsigned char *p = malloc(n);
    CHECK(p != NULL, "malloc(%zu)", n);
    memcpy(p, &n, sizeof n);
    fill_pattern(p + 8, n - 8, pattern_seed(p, n));
    return p;
}

static void check_block(void *v, const char *who)
{
    unsigned char *p = v;
    size_t n;
    memcpy(&n, p, sizeof n);
    CHECK(n >= 16 && n < 64 * MiB, "%s: block %p has a broken size word %zu", who, v, n);
    size_t bad = check_pattern(p + 8, n - 8, pattern_seed(p, n));
    CHECK(bad == (size_t)-1, "%s: block %p (%zu bytes) corrupted at %zu", who, v, n, bad + 8);
}

static size_t some_size(struct rng *r)
{
    uint64_t x = rng_below(r, 1000);
    if (x < 800)
        return 16 + (size_t)rng_below(r, 512);
    if (x < 990)
        return 512 + (size_t)rng_below(r, 60000);
    return 256 * 1024 + (size_t)rng_below(r, 3 * MiB);
}

/* ---- fork while threads allocate ------------------------------------------------------- */

enum { SHARED = 64 };
static _Atomic(void *) shared_blocks[SHARED]; /* published by the workers, taken by children */

/* Checks and frees every published block. */
static void free_shared(const char *who)
{
    for (int i = 0; i < SHARED; i++) {
        void *b = atomic_exchange(&shared_blocks[i], NULL);
        if (b) {
            check_block(b, who);
            free(b);
        }
    }
}

static void *worker(void *arg)
{
    enum { SLOTS = 256 };
    void *tab[SLOTS] = {0};
    struct rng r = {(uint64_t)(uintptr_t)arg * 77 + 1};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        int k = (int)rng_below(&r, SLOTS);
        if (tab[k]) {
            check_block(tab[k], "worker");
            if (rng_below(&r, 8) == 0) {
                /* publish it; free whatever was published there before */
                void *old = atomic_exchange(&shared_blocks[rng_below(&r, SHARED)], tab[k]);
                if (old) {
                    check_block(old, "worker (published)");
                    free(old);
                }
            } else if (rng_below(&r, 4) == 0) {
                void *q = realloc(tab[k], 40);
                CHECK(q != NULL);
                free(q);
            } else {
                free(tab[k]);
            }
            tab[k] = NULL;
        } else {
            tab[k] = make_block(some_size(&r));
        }
    }
    for (int k = 0; k < SLOTS; k++)
        if (tab[k]) {
            check_block(tab[k], "worker");
            free(tab[k]);
        }
    return NULL;
}

static void *child_thread(void *arg)
{
    struct rng *r = arg;
    for (int i = 0; i < 200; i++) {
        void *p = make_block(some_size(r));
        check_block(p, "child thread");
        free(p);
    }
    return NULL;
}

static void child_work(int iter, void **mine, int nmine)
{
    alarm(20); /* a deadlock in the child ends it with SIGALRM */
    struct rng r = {(uint64_t)iter + 100};
    /* the parent's blocks are intact; free half of them */
    for (int i = 0; i < nmine; i++) {
        check_block(mine[i], "child (parent's block)");
        if (i % 2)
            free(mine[i]);
    }
    /* blocks the other threads made (their owners do not exist in the child) */
    for (int i = 0; i < SHARED; i += 3) {
        void *b = atomic_exchange(&shared_blocks[i], NULL);
        if (b) {
            check_block(b, "child (worker's block)");
            if (i % 2)
                free(b);
            else {
                void *q = realloc(b, 100000);
                CHECK(q != NULL);
                free(q);
            }
        }
    }
    void *tab[64] = {0};
    for (int i = 0; i < 600; i++) {
        int k = (int)rng_below(&r, 64);
        if (tab[k]) {
            check_block(tab[k], "child");
            if (rng_below(&r, 3) == 0) {
                unsigned char *q = realloc(tab[k], some_size(&r));
                CHECK(q != NULL);
                free(q);
            } else {
                free(tab[k]);
            }
            tab[k] = NULL;
        } else {
            tab[k] = make_block(some_size(&r));
        }
    }
    for (int k = 0; k < 64; k++)
        free(tab[k]);
    /* the process-wide paths (trim walks every heap, statistics read them) work in the child */
    if (iter % 2 == 0)
        (void)malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    CHECK(mi.arena + mi.hblkhd > 0, "mallinfo2 in the child reports no memory");
    if (iter % 25 == 0) {
        /* a grandchild: fork from a forked child */
        pid_t g = fork();
        CHECK(g >= 0);
        if (g == 0) {
            for (int i = 0; i < 100; i++) {
                void *p = make_block(some_size(&r));
                check_block(p, "grandchild");
                free(p);
            }
            _exit(0);
        }
        int st;
        CHECK(waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "grandchild failed (status %#x)", st);
    }
    if (iter % 10 == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, child_thread, &r) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    _exit(0);
}

static void check_child(pid_t pid, int iter)
{
    int st;
    pid_t w;
    do
        w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
    CHECK(w == pid, "waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st))
        CHECK(0, "child of fork #%d died by signal %d%s", iter, WTERMSIG(st),
              WTERMSIG(st) == SIGALRM ? " (SIGALRM: deadlocked)" : "");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child of fork #%d exited with %d", iter,
          WEXITSTATUS(st));
}

static void run_threads(void)
{
    enum { FORKS = 200, T = 3, MINE = 32 };
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        CHECK(pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    struct rng r = {4242};
    void *mine[MINE];
    for (int i = 0; i < MINE; i++)
        mine[i] = make_block(some_size(&r));
    for (int it = 0; it < FORKS; it++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0)
            child_work(it, mine, MINE);
        /* the parent keeps allocating between forks */
        int k = (int)rng_below(&r, MINE);
        check_block(mine[k], "parent");
        free(mine[k]);
        mine[k] = make_block(some_size(&r));
        check_child(pid, it);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < T; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < MINE; i++) {
        check_block(mine[i], "parent");
        free(mine[i]);
    }
    free_shared("parent (published)");
    t_log("fork threads: %d forks with %d allocating threads, all children exited 0\n", FORKS, T);
}

/* ---- fork while orphan heaps are swept ------------------------------------------------ */

static void *short_thread(void *arg)
{
    struct rng r = {(uint64_t)(uintptr_t)arg};
    void *tab[48];
    for (int i = 0; i < 48; i++)
        tab[i] = make_block(some_size(&r));
    for (int i = 0; i < 48; i++) {
        check_block(tab[i], "short thread");
        if (i % 4 == 0) {
            /* left to outlive this thread, in its (orphan) heap */
            void *old = atomic_exchange(&shared_blocks[rng_below(&r, SHARED)], tab[i]);
            if (old) {
                check_block(old, "short thread (published)");
                free(old);
            }
        } else {
            free(tab[i]);
        }
    }
    return NULL;
}

static void *spawner(void *arg)
{
    (void)arg;
    uint64_t n = 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            CHECK(pthread_create(&t[i], NULL, short_thread, (void *)(uintptr_t)(n++)) == 0);
        for (int i = 0; i < 2; i++)
            CHECK(pthread_join(t[i], NULL) == 0);
    }
    return NULL;
}

static void *trimmer(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        (void)malloc_trim(0);
    return NULL;
}

static void run_orphans(void)
{
    enum { FORKS = 150 };
    pthread_t ts, tt;
    CHECK(pthread_create(&ts, NULL, spawner, NULL) == 0);
    CHECK(pthread_create(&tt, NULL, trimmer, NULL) == 0);
    for (int it = 0; it < FORKS; it++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(20);
            free_shared("child (orphan's block)");
            (void)malloc_trim(0);
            pthread_t t[2];
            for (int i = 0; i < 2; i++)
                CHECK(pthread_create(&t[i], NULL, short_thread, (void *)(uintptr_t)(it * 2 + i + 1000)) == 0);
            for (int i = 0; i < 2; i++)
                CHECK(pthread_join(t[i], NULL) == 0);
            (void)malloc_trim(0);
            void *p = make_block(100000);
            check_block(p, "child");
            free(p);
            _exit(0);
        }
        check_child(pid, it);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(ts, NULL) == 0);
    CHECK(pthread_join(tt, NULL) == 0);
    free_shared("parent (published)");
    t_log("fork orphans: %d forks while threads exit and orphans are swept; all children exited 0\n", FORKS);
}

/* ---- the stdio lock pattern ------------------------------------------------------------ */

static char *text;
static size_t text_len;
static atomic_long lines_read, flushes, writes;

static void *getline_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        FILE *f = fmemopen(text, text_len, "r");
        CHECK(f != NULL);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            /* each line is one repeated letter followed by '\n' */
            CHECK(line[n - 1] == '\n' && line[0] == line[(n - 1) / 2], "getline returned a bad line");
            atomic_fetch_add(&lines_read, 1);
            if (atomic_load(&stop))
                break;
            /* start from nothing again so that the next getline reallocs its buffer */
            if (n % 3 == 0) {
                free(line);
                line = NULL;
                cap = 0;
            }
        }
        free(line);
        fclose(f);
    }
    return NULL;
}

static void *flush_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        fflush(NULL);
        atomic_fetch_add(&flushes, 1);
    }
    return NULL;
}

static void *memstream_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        CHECK(f != NULL);
        int lines = 0;
        for (int i = 0; i < 2000 && !atomic_load(&stop); i++) {
            fprintf(f, "line %d of a memstream that grows with realloc\n", i);
            atomic_fetch_add(&writes, 1);
            lines++;
        }
        fclose(f);
        /* stop may come before the first line: then the stream is rightly empty */
        CHECK(buf != NULL && (lines == 0 ? buf[0] == 0 : strncmp(buf, "line 0 of", 9) == 0));
        free(buf);
    }
    return NULL;
}

static void run_stdio(void)
{
    enum { FORKS = 400 };
    /* long lines of many lengths: getline's buffer grows by realloc again and again */
    struct rng r = {19431};
    size_t cap = 4 * MiB, len = 0;
    text = malloc(cap);
    CHECK(text != NULL);
    for (int i = 0; len < cap - 70000; i++) {
        size_t n = 1 + (size_t)rng_below(&r, i % 10 == 0 ? 60000 : 3000);
        memset(text + len, 'a' + i % 26, n);
        len += n;
        text[len++] = '\n';
    }
    text_len = len;
    pthread_t tg, tf, tm;
    CHECK(pthread_create(&tg, NULL, getline_thread, NULL) == 0);
    CHECK(pthread_create(&tf, NULL, flush_thread, NULL) == 0);
    CHECK(pthread_create(&tm, NULL, memstream_thread, NULL) == 0);
    for (int it = 0; it < FORKS; it++) {
        pid_t pid = fork();
        CHECK(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            alarm(20);
            for (int i = 0; i < 50; i++) {
                void *p = malloc((size_t)(i * 997) % 70000 + 1);
                CHECK(p != NULL);
                memset(p, i, (size_t)(i * 997) % 70000 + 1);
                free(p);
            }
            if (it % 4 == 0)
                (void)malloc_trim(0);
            /* stdio works in the child too */
            FILE *f = fopen("/dev/null", "w");
            CHECK(f != NULL);
            fprintf(f, "child %d\n", it);
            fclose(f);
            _exit(0);
        }
        check_child(pid, it);
    }
    atomic_store(&stop, 1);
    CHECK(pthread_join(tg, NULL) == 0);
    CHECK(pthread_join(tf, NULL) == 0);
    CHECK(pthread_join(tm, NULL) == 0);
    free(text);
    t_log("fork stdio: %d forks; meanwhile %ld lines read, %ld fflush(NULL), %ld writes\n", FORKS,
          (long)lines_read, (long)flushes, (long)writes);
    CHECK(lines_read > 0 && flushes > 0 && writes > 0, "a helper thread never ran");
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "threads";
    alarm(250); /* the whole test: a deadlock in the parent ends it with SIGALRM */
    if (strcmp(mode, "threads") == 0)
        run_threads();
    else if (strcmp(mode, "stdio") == 0)
        run_stdio();
    else if (strcmp(mode, "orphans") == 0)
        run_orphans();
    else
        CHECK(0, "unknown mode %s", mode);
    return 0;
}
