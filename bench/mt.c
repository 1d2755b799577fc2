/* Multi-threaded, larson-style: each of T threads owns an array of slots and, ITERATIONS times,
 * replaces the block of a random slot with a new block of 8..1024 bytes. Every BATCH_EVERY steps
 * a thread hands a batch of its blocks to the next thread, which frees them: cross-thread frees.
 * Every block is checked before it is freed. The work done (blocks allocated, blocks freed by
 * another thread) is the same whatever the allocator and the scheduling: a sender whose receiver
 * has MAX_PENDING batches waiting frees its own inbox and yields until the receiver catches up,
 * so the blocks in flight stay bounded and peak RSS measures the allocator, not a backlog.
 *
 *   mt THREADS ITERATIONS [SLOTS]    (ITERATIONS per thread; SLOTS per thread, default 1000)
 *
 * Prints "ok ..." and exits 0 when every block held what was written into it; exits 1 otherwise. */
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define BATCH 64        /* blocks per hand-over */
#define BATCH_EVERY 256 /* steps between hand-overs */
#define MAX_PENDING 16  /* batches waiting in one inbox at most */

struct item {
    void *p;
    size_t size;
    uint64_t tag;
};

/* A batch of blocks travelling to another thread; itself allocated with malloc, so it is freed
 * by the receiver too. */
struct batch {
    struct batch *next;
    int n;
    struct item items[BATCH];
};

struct worker {
    pthread_t thread;
    int id;
    struct worker *next_worker;    /* who receives our batches */
    _Atomic(struct batch *) inbox; /* batches sent to us (a lock-free stack) */
    _Atomic long pending;          /* how many batches are in the inbox */
    struct item *slots;
    long iterations, nslots;
    long allocs, sent, received;
    int failed;
} __attribute__((aligned(64)));

static _Atomic long running; /* threads still in their main loop (the only time they send) */

static void check_and_free(struct worker *w, struct item *it)
{
    if (!pattern_ok(it->p, it->size, it->tag)) {
        fprintf(stderr, "mt: thread %d: block %p of %zu bytes changed while live\n", w->id, it->p,
                it->size);
        w->failed = 1;
    }
    free(it->p);
    it->p = NULL;
}

/* Frees every block of every batch in our inbox. */
static void drain_inbox(struct worker *w)
{
    struct batch *b = atomic_exchange(&w->inbox, NULL);
    long nbatches = 0;
    while (b) {
        nbatches++;
        struct batch *next = b->next;
        for (int k = 0; k < b->n; k++)
            check_and_free(w, &b->items[k]);
        w->received += b->n;
        free(b);
        b = next;
    }
    if (nbatches)
        atomic_fetch_sub(&w->pending, nbatches);
}

static void send_batch(struct worker *w, uint64_t *seed)
{
    struct batch *b = malloc(sizeof *b);
    if (!b) {
        fprintf(stderr, "mt: malloc of a batch returned NULL\n");
        w->failed = 1;
        return;
    }
    b->n = 0;
    long start = (long)(rng_next(seed) % (uint64_t)w->nslots);
    for (long k = 0; k < w->nslots && b->n < BATCH; k++) {
        struct item *s = &w->slots[(start + k) % w->nslots];
        if (s->p) {
            b->items[b->n++] = *s;
            s->p = NULL;
        }
    }
    /* Once pushed, the batch belongs to the receiver, which may free it at once. */
    int n = b->n;
    struct worker *to = w->next_worker;
    /* Our own inbox is drained while we wait, so a ring of waiting threads still moves on. */
    while (atomic_load(&to->pending) >= MAX_PENDING) {
        drain_inbox(w);
        sched_yield();
    }
    atomic_fetch_add(&to->pending, 1);
    b->next = atomic_load_explicit(&to->inbox, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&to->inbox, &b->next, b))
        ;
    w->sent += n;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t seed = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->id + 1), tag = (uint64_t)w->id << 48;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    if (!w->slots) {
        w->failed = 1;
        w->iterations = 0;
    }
    for (long i = 0; i < w->iterations && !w->failed; i++) {
        uint64_t r = rng_next(&seed);
        struct item *s = &w->slots[r % (uint64_t)w->nslots];
        if (s->p)
            check_and_free(w, s);
        s->size = 8 + (r >> 32) % 1017;
        s->tag = tag++;
        s->p = malloc(s->size);
        if (!s->p) {
            fprintf(stderr, "mt: malloc returned NULL\n");
            w->failed = 1;
            break;
        }
        pattern_write(s->p, s->size, s->tag);
        w->allocs++;
        if (i % BATCH_EVERY == BATCH_EVERY - 1) {
            send_batch(w, &seed);
            if (atomic_load_explicit(&w->inbox, memory_order_relaxed))
                drain_inbox(w);
        }
    }
    for (long k = 0; k < w->nslots && w->slots; k++)
        if (w->slots[k].p)
            check_and_free(w, &w->slots[k]);
    free(w->slots);
    /* Keep receiving (a sender may be waiting for us) until every thread is out of its loop;
     * nobody sends after that, so one more drain gets everything. */
    atomic_fetch_sub(&running, 1);
    while (atomic_load(&running) > 0) {
        drain_inbox(w);
        sched_yield();
    }
    drain_inbox(w);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s THREADS ITERATIONS [SLOTS]\n", argv[0]);
        return 2;
    }
    long nthreads = arg_long(argc, argv, 1, 0), iterations = arg_long(argc, argv, 2, 0);
    long nslots = arg_long(argc, argv, 3, 1000);
    struct worker *ws = aligned_alloc(64, sizeof *ws * (size_t)nthreads);
    if (!ws)
        return 1;
    memset(ws, 0, sizeof *ws * (size_t)nthreads);
    atomic_init(&running, nthreads);
    for (long t = 0; t < nthreads; t++) {
        ws[t].id = (int)t;
        ws[t].next_worker = &ws[(t + 1) % nthreads];
        ws[t].iterations = iterations;
        ws[t].nslots = nslots;
        atomic_init(&ws[t].inbox, NULL);
        atomic_init(&ws[t].pending, 0);
    }
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&ws[t].thread, NULL, work, &ws[t]) != 0) {
            fprintf(stderr, "mt: pthread_create failed\n");
            return 1;
        }
    long allocs = 0, sent = 0, received = 0;
    int failed = 0;
    for (long t = 0; t < nthreads; t++) {
        pthread_join(ws[t].thread, NULL);
        allocs += ws[t].allocs;
        sent += ws[t].sent;
        received += ws[t].received;
        failed |= ws[t].failed;
    }
    if (sent != received) {
        fprintf(stderr, "mt: %ld blocks sent to other threads but %ld received\n", sent, received);
        failed = 1;
    }
    free(ws);
    if (failed)
        return 1;
    printf("ok mt: %ld threads, %ld blocks allocated, %ld freed by another thread\n", nthreads,
           allocs, sent);
    return 0;
}
