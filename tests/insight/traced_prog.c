/* The program the end-to-end tests trace (BRISK_OPTIONS=trace=FILE, LD_PRELOAD=libbrisk.so).
 *
 *   traced_prog work   three threads make the calls listed in expected(), and free
 *                      everything they made
 *   traced_prog base   the same threads, started and joined, making none of those calls
 *
 * The C library allocates too (thread start-up): it does the same in both modes, so the
 * difference between the summaries of the two traces is exactly the calls of work. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>

#define THREADS 3
#define BLOCKS 1000   /* malloc'd per thread; half freed by the next thread */

static void *handoff[THREADS][BLOCKS / 2];
static pthread_barrier_t barrier;
static int work;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "traced_prog: %s\n", what);
        exit(1);
    }
}

static void calls(int id)
{
    void *p[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        p[i] = malloc(16 + (size_t)(i % 64) * 16);   /* 16 .. 1024 bytes */
        check(p[i] != NULL, "malloc");
        memset(p[i], id, 16);
    }
    for (int i = 0; i < 100; i++)
        free(calloc(4, 25));
    for (int i = 0; i < 50; i++) {
        void *a;
        check(posix_memalign(&a, 64, 200) == 0, "posix_memalign");
        free(a);
        a = aligned_alloc(4096, 4096);
        check(a && ((uintptr_t)a & 4095) == 0, "aligned_alloc");
        free(a);
    }
    for (int i = 0; i < 20; i++)
        free(memalign(128, 100));
    char *q = realloc(NULL, 10);
    for (int k = 1; k <= 20; k++) {
        q = realloc(q, (size_t)10 * k * k);
        check(q != NULL, "realloc");
    }
    check(realloc(q, 0) == NULL, "realloc(p, 0) frees");
    for (int i = 0; i < 5; i++)
        free(NULL);                          /* not recorded */
    for (int i = 0; i < BLOCKS / 2; i++) {
        free(p[i]);
        handoff[id][i] = p[BLOCKS / 2 + i];
    }
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < BLOCKS / 2; i++)     /* the previous thread's blocks */
        free(handoff[(id + THREADS - 1) % THREADS][i]);
}

static void *thread_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    if (work)
        calls(id);
    else
        pthread_barrier_wait(&barrier);
    return NULL;
}

/* What work adds, as JSON for the test: per op, and the sizes of the mallocs. */
static void expected(void)
{
    printf("{\"threads\":%d,\"malloc\":%d,\"calloc\":%d,\"aligned\":%d,\"realloc\":%d,"
           "\"free\":%d,\"realloc_null\":%d,\"realloc_free\":%d,\"cross_frees\":%d,"
           "\"blocks_per_thread\":%d}\n",
           THREADS, THREADS * BLOCKS, THREADS * 100, THREADS * 120, THREADS * 22,
           THREADS * (BLOCKS + 100 + 120), THREADS, THREADS, THREADS * BLOCKS / 2, BLOCKS);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "work") && strcmp(argv[1], "base") &&
                      strcmp(argv[1], "expected"))) {
        fprintf(stderr, "usage: traced_prog work|base|expected\n");
        return 2;
    }
    if (strcmp(argv[1], "expected") == 0) {
        expected();
        return 0;
    }
    work = strcmp(argv[1], "work") == 0;
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        check(pthread_create(&t[i], NULL, thread_main, (void *)(intptr_t)i) == 0,
              "pthread_create");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    return 0;
}
