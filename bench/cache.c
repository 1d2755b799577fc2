/* False sharing, in the style of Hoard's cache-thrash and cache-scratch: THREADS threads each,
 * ITERATIONS times, allocate a SIZE-byte object (default 8), write every byte of it WRITES times
 * in all (default 500), check it and free it. If the allocator gives two threads objects on one
 * cache line, their writes fight over the line and the run slows down many times over.
 *
 *   cache thrash THREADS ITERATIONS [SIZE WRITES]   each thread starts from nothing: does the
 *                                                   allocator itself hand out neighbouring
 *                                                   objects to different threads?
 *   cache scratch THREADS ITERATIONS [SIZE WRITES]  the main thread first allocates THREADS
 *                                                   objects side by side and gives one to each
 *                                                   thread, which frees it before its loop: does
 *                                                   the allocator hand that remotely freed memory,
 *                                                   on a line shared with the others, back to
 *                                                   the thread that freed it?
 *
 * Prints "ok ..." and exits 0 when every object held exactly the writes made to it; exits 1
 * otherwise. */
#include "bench.h"

#include <pthread.h>

struct worker {
    pthread_t thread;
    char *given; /* scratch: the object the main thread allocated for us */
} __attribute__((aligned(64)));

static long iterations, size, writes;

static void *work(void *arg)
{
    struct worker *w = arg;
    free(w->given);
    for (long i = 0; i < iterations; i++) {
        volatile unsigned char *p = xmalloc((size_t)size);
        for (long j = 0; j < size; j++)
            p[j] = (unsigned char)i;
        for (long n = 0; n < writes; n++)
            p[n % size]++;
        /* byte j was written writes / size times, plus one if j < writes % size */
        for (long j = 0; j < size; j++) {
            unsigned char want = (unsigned char)(i + writes / size + (j < writes % size));
            if (p[j] != want)
                die("object %p: byte %ld is %u, not %u", (void *)p, j, p[j], want);
        }
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int scratch = argc >= 2 && strcmp(argv[1], "scratch") == 0;
    if (argc < 4 || (!scratch && strcmp(argv[1], "thrash") != 0)) {
        fprintf(stderr, "usage: %s thrash|scratch THREADS ITERATIONS [SIZE WRITES]\n", argv[0]);
        return 2;
    }
    long nthreads = arg_long(argc, argv, 2, 0);
    iterations = arg_long(argc, argv, 3, 0);
    size = arg_long(argc, argv, 4, 8);
    writes = arg_long(argc, argv, 5, 500);
    struct worker *ws = aligned_alloc(64, sizeof *ws * (size_t)nthreads);
    if (!ws)
        die("aligned_alloc of the workers returned NULL");
    memset(ws, 0, sizeof *ws * (size_t)nthreads);
    for (long t = 0; scratch && t < nthreads; t++)
        ws[t].given = xmalloc((size_t)size);
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&ws[t].thread, NULL, work, &ws[t]) != 0)
            die("pthread_create failed");
    for (long t = 0; t < nthreads; t++)
        pthread_join(ws[t].thread, NULL);
    free(ws);
    printf("ok cache %s: %ld threads x %ld objects of %ld bytes, %ld writes each\n", argv[1],
           nthreads, iterations, size, writes);
    return 0;
}
