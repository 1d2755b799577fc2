/* Producer/consumer, xmalloc-style: half of the THREADS threads (at least one) only allocate
 * blocks of 8..512 bytes and send them in batches of 64 to the other half, which only check and
 * free them -- a pipeline of stages, a logger or a message queue. Every free is a free from
 * another thread, and the allocating threads never get their own blocks back through free:
 * what the allocator does with remotely freed memory decides its speed and its RSS.
 * A producer whose consumer is behind waits (inbox.h), so the blocks in flight stay bounded.
 *
 *   xmalloc THREADS BLOCKS    (BLOCKS in all, shared among the producers; THREADS >= 2)
 *
 * Prints "ok ..." and exits 0 when every block arrived intact and was freed; exits 1 otherwise. */
#include "inbox.h"

#include <pthread.h>

struct consumer {
    struct inbox inbox;
    pthread_t thread;
    long received;
} __attribute__((aligned(64)));

static struct consumer *consumers;
static long nproducers, nconsumers, per_producer;
static _Atomic long producing; /* producers not finished yet */

static void *produce(void *arg)
{
    long id = (long)arg;
    uint64_t seed = 0x7AB1E5ULL * (uint64_t)(id + 1), tag = (uint64_t)id << 48;
    long next = id % nconsumers;
    struct batch *b = batch_new();
    for (long i = 0; i < per_producer; i++) {
        b->items[b->n++] = item_new(rand_between(&seed, 8, 512), tag++);
        if (b->n == BATCH || i == per_producer - 1) {
            struct consumer *c = &consumers[next];
            next = (next + 1) % nconsumers;
            while (inbox_full(&c->inbox))
                sched_yield();
            inbox_push(&c->inbox, b);
            b = i == per_producer - 1 ? NULL : batch_new();
        }
    }
    free(b);
    atomic_fetch_sub(&producing, 1);
    return NULL;
}

static void *consume(void *arg)
{
    struct consumer *c = arg;
    for (;;) {
        int done = atomic_load(&producing) == 0; /* read before the drain: nothing comes after */
        long n = inbox_drain(&c->inbox);
        c->received += n;
        if (done && n == 0)
            return NULL;
        if (n == 0)
            sched_yield();
    }
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 2, "THREADS BLOCKS");
    long nthreads = arg_long(argc, argv, 1, 0), blocks = arg_long(argc, argv, 2, 0);
    if (nthreads < 2)
        nthreads = 2; /* one producer and one consumer at least */
    nproducers = nthreads / 2;
    nconsumers = nthreads - nproducers;
    per_producer = blocks / nproducers;
    if (per_producer < 1)
        per_producer = 1;
    consumers = aligned_alloc(64, sizeof *consumers * (size_t)nconsumers);
    if (!consumers)
        die("aligned_alloc of the consumers returned NULL");
    memset(consumers, 0, sizeof *consumers * (size_t)nconsumers);
    atomic_init(&producing, nproducers);
    for (long c = 0; c < nconsumers; c++)
        if (pthread_create(&consumers[c].thread, NULL, consume, &consumers[c]) != 0)
            die("pthread_create failed");
    pthread_t *producers = xmalloc(sizeof *producers * (size_t)nproducers);
    for (long p = 0; p < nproducers; p++)
        if (pthread_create(&producers[p], NULL, produce, (void *)p) != 0)
            die("pthread_create failed");
    for (long p = 0; p < nproducers; p++)
        pthread_join(producers[p], NULL);
    long received = 0;
    for (long c = 0; c < nconsumers; c++) {
        pthread_join(consumers[c].thread, NULL);
        received += consumers[c].received;
    }
    if (received != nproducers * per_producer)
        die("%ld blocks produced but %ld consumed", nproducers * per_producer, received);
    free(producers);
    free(consumers);
    printf("ok xmalloc: %ld producers, %ld consumers, %ld blocks passed\n", nproducers,
           nconsumers, received);
    return 0;
}
