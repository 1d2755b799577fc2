/* Many-thread churn, in the style of mstress and rptest: ROUNDS times, THREADS threads (more
 * than there are cores) are started; each does ITERATIONS steps on a live set of its own
 * (sizes mostly 16-128 B, some up to 4 KiB, a few up to 64 KiB) and, one step in eight, swaps a
 * new block into a random slot of a set shared by all threads, freeing the block it takes out:
 * that block was allocated by another thread, often one that has exited already. Threads come
 * and go while their blocks live on, and are preempted in the middle of their work.
 *
 *   churn THREADS ROUNDS ITERATIONS    (ITERATIONS per thread and round)
 *
 * Prints "ok ..." and exits 0 when every block kept its contents; exits 1 otherwise. */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>

#define LOCAL_SLOTS 256
#define SHARED_PER_THREAD 64
#define SHARED_TAG 0x5A4EDULL

/* A shared block records its size in its bytes 8..15, so that any thread can check it. */
static void *shared_new(size_t size)
{
    void *p = xmalloc(size);
    pattern_write(p, size, SHARED_TAG);
    memcpy((char *)p + 8, &size, sizeof size);
    return p;
}

static void shared_free(void *p)
{
    size_t size;
    memcpy(&size, (char *)p + 8, sizeof size);
    if (size < 24 || size > (64 << 10) || !pattern_ok(p, size, SHARED_TAG))
        die("shared block %p changed while live", p);
    free(p);
}

static _Atomic(void *) *shared;
static size_t nshared;
static long iterations;

static size_t churn_size(uint64_t *seed)
{
    uint64_t r = rng_next(seed) % 100;
    if (r < 75)
        return rand_between(seed, 24, 128);
    if (r < 97)
        return rand_between(seed, 129, 4096);
    return rand_log(seed, 4097, 64 << 10);
}

static void *work(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ULL + 1;
    struct slot *set = slots_new(LOCAL_SLOTS);
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&seed);
        if (r % 8 == 0) {
            void *old = atomic_exchange(&shared[(r >> 8) % nshared], shared_new(churn_size(&seed)));
            if (old)
                shared_free(old);
        } else {
            size_t k = (size_t)((r >> 8) % LOCAL_SLOTS);
            slot_free(set, k);
            slot_fill(set, k, churn_size(&seed));
        }
    }
    slots_free(set, LOCAL_SLOTS);
    return NULL;
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 3, "THREADS ROUNDS ITERATIONS");
    long nthreads = arg_long(argc, argv, 1, 0), rounds = arg_long(argc, argv, 2, 0);
    iterations = arg_long(argc, argv, 3, 0);
    nshared = (size_t)nthreads * SHARED_PER_THREAD;
    shared = calloc(nshared, sizeof *shared);
    pthread_t *threads = xmalloc(sizeof *threads * (size_t)nthreads);
    if (!shared)
        die("calloc of the shared set returned NULL");
    for (long r = 0; r < rounds; r++) {
        for (long t = 0; t < nthreads; t++)
            if (pthread_create(&threads[t], NULL, work, (void *)(uintptr_t)(r * nthreads + t)) != 0)
                die("pthread_create failed");
        for (long t = 0; t < nthreads; t++)
            pthread_join(threads[t], NULL);
    }
    for (size_t k = 0; k < nshared; k++)
        if (shared[k])
            shared_free(shared[k]);
    free(shared);
    free(threads);
    printf("ok churn: %ld rounds of %ld threads x %ld steps\n", rounds, nthreads, iterations);
    return 0;
}
