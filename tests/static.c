/* Linked with build/libbrisk.a (not the .so): brisk's definitions must replace glibc's malloc
 * for the program and for the C library's own internal allocations (strdup, fopen, getline,
 * qsort buffers...). tests/run.sh builds it twice: against the dynamic C library and fully
 * static (-static), and also checks the BRISK_OPTIONS=stats=1 report at exit. */
#include "common.h"

#include <pthread.h>

static void *thread_fn(void *arg)
{
    void *p = malloc(1000);
    CHECK(p != NULL);
    memset(p, 1, 1000);
    free(arg);
    return p;
}

/* Allocation before main: in a static link this constructor may run before brisk's own. */
static char *early[16];

__attribute__((constructor(101))) static void early_ctor(void)
{
    for (int i = 0; i < 16; i++) {
        early[i] = malloc((size_t)i * 1000 + 10);
        if (early[i])
            memset(early[i], 'a' + i, (size_t)i * 1000 + 10);
    }
}

int main(void)
{
    for (int i = 0; i < 16; i++) {
        CHECK(early[i] != NULL, "malloc in a constructor failed");
        CHECK(brisk_malloc_usable_size(early[i]) >= (size_t)i * 1000 + 10);
        for (size_t k = 0; k < (size_t)i * 1000 + 10; k++)
            CHECK(early[i][k] == 'a' + i, "block from a constructor changed");
        brisk_free(early[i]);
    }
    struct brisk_stats s0 = t_stats();
    void *p = malloc(100);
    struct brisk_stats s1 = t_stats();
    CHECK(p != NULL);
    CHECK(s1.allocations > s0.allocations, "malloc in a statically linked program is not brisk's");
    free(p);

    /* every name of the family */
    void *q = NULL;
    size_t before = t_stats().allocations;
    void *a = calloc(10, 10), *b = realloc(NULL, 10), *c = reallocarray(NULL, 3, 3);
    void *d = aligned_alloc(64, 64), *e = memalign(64, 10), *f = valloc(10), *g = pvalloc(10);
    CHECK(posix_memalign(&q, 64, 10) == 0);
    void *h = __libc_malloc(10), *i = __libc_calloc(1, 10), *j = __libc_memalign(64, 1);
    CHECK(a && b && c && d && e && f && g && h && i && j);
    size_t after = t_stats().allocations;
    CHECK(after >= before + 11, "only %zu of 11 allocations were brisk's", after - before);
    void *all[] = {a, b, c, d, e, f, g, q, h, i, j};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        brisk_free(all[k]);

    /* the C library's own allocations are brisk's blocks */
    before = t_stats().allocations;
    char *s = strdup("statically linked");
    CHECK(s != NULL && brisk_malloc_usable_size(s) >= 18);
    brisk_free(s);
    FILE *fp = fmemopen((void *)"one\ntwo\n", 8, "r");
    CHECK(fp != NULL);
    char *line = NULL;
    size_t cap = 0;
    CHECK(getline(&line, &cap, fp) == 4);
    CHECK(brisk_malloc_usable_size(line) >= cap);
    brisk_free(line);
    fclose(fp);
    after = t_stats().allocations;
    CHECK(after >= before + 2, "strdup/getline did not allocate through brisk");

    /* threads */
    void *arg = malloc(10);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, thread_fn, arg) == 0);
    void *ret;
    CHECK(pthread_join(t, &ret) == 0);
    free(ret);

    t_log("static: %zu allocations served by brisk\n", t_stats().allocations);
    return 0;
}
