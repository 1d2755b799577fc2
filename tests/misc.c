/* Miscellaneous rules:
 *   - malloc from constructors before main (one with the earliest user priority);
 *   - allocation in a dlopen'ed library, freed by the main program, and the reverse;
 *   - frees (and new allocations) from pthread_key destructors after a thread's allocations,
 *     with keys made both before and after brisk's own start;
 *   - blocks of a thread that exited, freed by the main thread.
 * Usage: misc PATH-TO-libdlmod.so */
#include "common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- constructors ---------------------------------------------------------------------- */

enum { EARLY = 64 };
static void *early[EARLY];
static size_t early_n[EARLY];
static pthread_key_t early_key;
static int early_key_ok;

__attribute__((constructor(101))) static void very_early(void)
{
    for (int i = 0; i < EARLY / 2; i++) {
        early_n[i] = (size_t)i * 37 + 1;
        early[i] = i % 2 ? malloc(early_n[i]) : calloc(1, early_n[i]);
        if (early[i])
            fill_pattern(early[i], early_n[i], (uint64_t)i);
    }
}

static void early_destructor(void *v);

__attribute__((constructor)) static void early_ctor(void)
{
    for (int i = EARLY / 2; i < EARLY; i++) {
        early_n[i] = (size_t)i * 1001;
        void *p = NULL;
        if (i % 3 == 0)
            p = malloc(early_n[i]);
        else if (i % 3 == 1)
            p = realloc(NULL, early_n[i]);
        else if (posix_memalign(&p, 256, early_n[i]) != 0)
            p = NULL;
        early[i] = p;
        if (p)
            fill_pattern(p, early_n[i], (uint64_t)i);
    }
    early_key_ok = pthread_key_create(&early_key, early_destructor) == 0;
}

static void t_constructors(void)
{
    struct brisk_stats st = t_stats();
    CHECK(st.allocations >= EARLY, "brisk counted %zu allocations, the constructors made %d",
          st.allocations, EARLY);
    for (int i = 0; i < EARLY; i++) {
        CHECK(early[i] != NULL, "allocation %d in a constructor failed", i);
        CHECK(is_aligned(early[i], 16));
        CHECK(brisk_malloc_usable_size(early[i]) >= early_n[i],
              "block %d from a constructor: usable size too small", i);
        CHECK(check_pattern(early[i], early_n[i], (uint64_t)i) == (size_t)-1,
              "block %d from a constructor was overwritten", i);
        void *q = realloc(early[i], early_n[i] + 5000);
        CHECK(q != NULL && check_pattern(q, early_n[i], (uint64_t)i) == (size_t)-1);
        free(q);
    }
    t_log("ok   constructors: %d blocks allocated before main\n", EARLY);
}

/* ---- dlopen ---------------------------------------------------------------------------- */

static void t_dlopen(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(h != NULL, "dlopen(%s): %s", path, dlerror());
    char *(*make)(size_t, int) = (char *(*)(size_t, int))dlsym(h, "dlmod_make");
    int (*take)(char *, size_t, int) = (int (*)(char *, size_t, int))dlsym(h, "dlmod_take");
    char *(*dup)(const char *) = (char *(*)(const char *))dlsym(h, "dlmod_strdup");
    CHECK(make && take && dup, "symbols missing in %s", path);
    for (size_t n = 1; n < 3 * MiB; n = n * 5 + 3) {
        struct brisk_stats s0 = t_stats();
        char *p = make(n, 'q');
        struct brisk_stats s1 = t_stats();
        CHECK(p != NULL, "the library's malloc(%zu) failed", n);
        CHECK(s1.allocations > s0.allocations, "the library's malloc was not brisk's");
        CHECK(brisk_malloc_usable_size(p) >= n);
        for (size_t i = 0; i < n; i++)
            CHECK(p[i] == 'q', "the library's block changed");
        free(p);
        char *m = malloc(n);
        CHECK(m != NULL);
        memset(m, 'z', n);
        CHECK(take(m, n, 'z'), "the library could not realloc/free the main program's block");
    }
    char *s = dup("made by strdup in a dlopen'ed library");
    CHECK(s != NULL && strcmp(s, "made by strdup in a dlopen'ed library") == 0);
    brisk_free(s);
    CHECK(dlclose(h) == 0);
    t_log("ok   dlopen: blocks crossed between %s and the main program\n", path);
}

/* ---- pthread_key destructors ----------------------------------------------------------- */

static pthread_key_t late_key;
static atomic_int destructor_calls, early_destructor_calls;

struct tls_block {
    size_t n;
    int round;
    unsigned char data[];
};

static struct tls_block *tls_make(size_t n, int round)
{
    struct tls_block *b = malloc(sizeof *b + n);
    CHECK(b != NULL);
    b->n = n;
    b->round = round;
    fill_pattern(b->data, n, n + (size_t)round);
    return b;
}

static void tls_check_free(struct tls_block *b)
{
    CHECK(check_pattern(b->data, b->n, b->n + (size_t)b->round) == (size_t)-1,
          "thread-specific block corrupted before its destructor");
    free(b);
}

static void late_destructor(void *v)
{
    struct tls_block *b = v;
    int round = b->round;
    tls_check_free(b);
    /* allocate and free again, from a destructor */
    void *tmp[16];
    for (int i = 0; i < 16; i++) {
        tmp[i] = malloc((size_t)i * 300 + 1);
        CHECK(tmp[i] != NULL);
        memset(tmp[i], i, (size_t)i * 300 + 1);
    }
    for (int i = 0; i < 16; i++)
        free(tmp[i]);
    /* set a new value: the C library calls the destructor again (up to 4 rounds) */
    if (round < 2)
        pthread_setspecific(late_key, tls_make(5000 + (size_t)round * 100000, round + 1));
    atomic_fetch_add(&destructor_calls, 1);
}

static void early_destructor(void *v)
{
    tls_check_free(v);
    void *p = malloc(64);
    CHECK(p != NULL);
    free(p);
    atomic_fetch_add(&early_destructor_calls, 1);
}

static void *key_thread(void *arg)
{
    int id = (int)(uintptr_t)arg;
    /* the thread's own allocations, some left live */
    void *mine[200];
    for (int i = 0; i < 200; i++) {
        mine[i] = malloc((size_t)(i * 53 % 4000) + 1);
        CHECK(mine[i] != NULL);
    }
    for (int i = 0; i < 200; i += 2)
        free(mine[i]);
    CHECK(pthread_setspecific(late_key, tls_make((size_t)id * 10 + 1, 0)) == 0);
    if (early_key_ok)
        CHECK(pthread_setspecific(early_key, tls_make(300, 7)) == 0);
    /* hand the rest to the main thread through the return value */
    void **rest = malloc(100 * sizeof *rest);
    CHECK(rest != NULL);
    for (int i = 0; i < 100; i++)
        rest[i] = mine[2 * i + 1];
    return rest;
}

static void t_key_destructors(void)
{
    enum { T = 50 };
    CHECK(pthread_key_create(&late_key, late_destructor) == 0);
    struct brisk_stats s0 = t_stats();
    for (int i = 0; i < T; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, key_thread, (void *)(uintptr_t)i) == 0);
        void *ret = NULL;
        CHECK(pthread_join(t, &ret) == 0);
        void **rest = ret;
        for (int k = 0; k < 100; k++)
            free(rest[k]); /* blocks of a thread that has exited */
        free(rest);
    }
    struct brisk_stats s1 = t_stats();
    t_log("     %d threads one after another: brisk made %zu heaps, reclaimed %zu\n", T,
          s1.heaps_created - s0.heaps_created, s1.heaps_reclaimed - s0.heaps_reclaimed);
    /* the threads ran one after another: what a finished thread had must serve the next one */
    CHECK(s1.mapped_bytes < s0.mapped_bytes + 64 * MiB,
          "mapped bytes grew from %zu to %zu KiB over %d sequential threads: heaps leak",
          s0.mapped_bytes / 1024, s1.mapped_bytes / 1024, T);
    CHECK(atomic_load(&destructor_calls) == 3 * T, "%d destructor calls, expected %d",
          atomic_load(&destructor_calls), 3 * T);
    if (early_key_ok)
        CHECK(atomic_load(&early_destructor_calls) == T);
    t_log("ok   pthread_key destructors: %d calls freed and allocated after the threads' work\n",
          atomic_load(&destructor_calls) + atomic_load(&early_destructor_calls));
}

int main(int argc, char **argv)
{
    CHECK(argc > 1, "usage: misc PATH-TO-libdlmod.so");
    t_constructors();
    t_dlopen(argv[1]);
    t_key_destructors();
    t_log("misc: passed\n");
    return 0;
}
