/* Server simulation, larson-style: each of T threads owns an array of slots and, ITERATIONS
 * times, replaces the block of a random slot with a new block of 8..1024 bytes, as a server's
 * worker threads replace the objects of the requests they serve. Every 256 steps a thread hands
 * a batch of 64 of its blocks to the next thread, which frees them: a quarter of all blocks are
 * freed by another thread than the one that allocated them. The work done is the same whatever
 * the allocator and the scheduling: a sender whose receiver is behind frees its own inbox and
 * yields until the receiver catches up (inbox.h).
 *
 *   larson THREADS ITERATIONS [SLOTS]    (ITERATIONS per thread; SLOTS per thread, default 1000)
 *
 * Prints "ok ..." and exits 0 when every block held what was written into it; exits 1 otherwise. */
#include "inbox.h"

#include <pthread.h>

#define BATCH_EVERY 256 /* steps between hand-overs */

struct worker {
    struct inbox inbox; /* batches sent to us */
    pthread_t thread;
    int id;
    struct worker *next_worker; /* who receives our batches */
    long iterations, nslots;
    long sent, received;
} __attribute__((aligned(64)));

static _Atomic long running; /* threads still in their main loop (the only time they send) */

static void send_batch(struct worker *w, struct item *slots, uint64_t *seed)
{
    struct batch *b = batch_new();
    long start = (long)(rng_next(seed) % (uint64_t)w->nslots);
    for (long k = 0; k < w->nslots && b->n < BATCH; k++) {
        struct item *s = &slots[(start + k) % w->nslots];
        if (s->p) {
            b->items[b->n++] = *s;
            s->p = NULL;
        }
    }
    /* Our own inbox is drained while we wait, so a ring of waiting threads still moves on. */
    while (inbox_full(&w->next_worker->inbox)) {
        w->received += inbox_drain(&w->inbox);
        sched_yield();
    }
    w->sent += b->n;
    inbox_push(&w->next_worker->inbox, b);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->id + 1), tag = (uint64_t)w->id << 48;
    struct item *slots = calloc((size_t)w->nslots, sizeof *slots);
    if (!slots)
        die("calloc of the slot array returned NULL");
    for (long i = 0; i < w->iterations; i++) {
        uint64_t r = rng_next(&seed);
        struct item *s = &slots[r % (uint64_t)w->nslots];
        if (s->p)
            item_free(s);
        *s = item_new(8 + (r >> 32) % 1017, tag++);
        if (i % BATCH_EVERY == BATCH_EVERY - 1) {
            send_batch(w, slots, &seed);
            w->received += inbox_drain(&w->inbox);
        }
    }
    for (long k = 0; k < w->nslots; k++)
        if (slots[k].p)
            item_free(&slots[k]);
    free(slots);
    /* Keep receiving (a sender may be waiting for us) until every thread is out of its loop;
     * nobody sends after that, so one more drain gets everything. */
    atomic_fetch_sub(&running, 1);
    while (atomic_load(&running) > 0) {
        w->received += inbox_drain(&w->inbox);
        sched_yield();
    }
    w->received += inbox_drain(&w->inbox);
    return NULL;
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 2, "THREADS ITERATIONS [SLOTS]");
    long nthreads = arg_long(argc, argv, 1, 0), iterations = arg_long(argc, argv, 2, 0);
    long nslots = arg_long(argc, argv, 3, 1000);
    struct worker *ws = aligned_alloc(64, sizeof *ws * (size_t)nthreads);
    if (!ws)
        die("aligned_alloc of the workers returned NULL");
    memset(ws, 0, sizeof *ws * (size_t)nthreads);
    atomic_init(&running, nthreads);
    for (long t = 0; t < nthreads; t++) {
        ws[t].id = (int)t;
        ws[t].next_worker = &ws[(t + 1) % nthreads];
        ws[t].iterations = iterations;
        ws[t].nslots = nslots;
    }
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&ws[t].thread, NULL, work, &ws[t]) != 0)
            die("pthread_create failed");
    long sent = 0, received = 0;
    for (long t = 0; t < nthreads; t++) {
        pthread_join(ws[t].thread, NULL);
        sent += ws[t].sent;
        received += ws[t].received;
    }
    if (sent != received)
        die("%ld blocks sent to other threads but %ld received", sent, received);
    free(ws);
    printf("ok larson: %ld threads, %ld blocks allocated, %ld handed to the next thread\n",
           nthreads, nthreads * iterations, sent);
    return 0;
}
