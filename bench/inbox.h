/* Batches of blocks travelling between threads, for the workloads where one thread frees what
 * another allocated (larson.c, xmalloc.c). An inbox is a lock-free stack of batches that any
 * thread pushes onto and its owner takes whole; it counts the batches waiting so that senders
 * can hold back when the receiver is behind, and the blocks in flight stay bounded: peak RSS
 * then measures the allocator, not a backlog that depends on the scheduler. */
#ifndef BRISK_BENCH_INBOX_H
#define BRISK_BENCH_INBOX_H

#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

#define BATCH 64       /* blocks per batch */
#define MAX_PENDING 16 /* batches waiting in one inbox at most */

struct item {
    void *p;
    size_t size;
    uint64_t tag;
};

/* Itself allocated with malloc, and freed by the receiver too. */
struct batch {
    struct batch *next;
    int n;
    struct item items[BATCH];
};

struct inbox {
    _Atomic(struct batch *) head;
    _Atomic long pending;
} __attribute__((aligned(64)));

static inline struct item item_new(size_t size, uint64_t tag)
{
    struct item it = { xmalloc(size), size, tag };
    pattern_write(it.p, size, tag);
    return it;
}

static inline void item_free(struct item *it)
{
    if (!pattern_ok(it->p, it->size, it->tag))
        die("block %p of %zu bytes changed while live", it->p, it->size);
    free(it->p);
    it->p = NULL;
}

static inline struct batch *batch_new(void)
{
    struct batch *b = xmalloc(sizeof *b);
    b->n = 0;
    return b;
}

/* Once pushed, the batch belongs to the receiver, which may free it at once. */
static inline void inbox_push(struct inbox *in, struct batch *b)
{
    atomic_fetch_add(&in->pending, 1);
    b->next = atomic_load_explicit(&in->head, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&in->head, &b->next, b))
        ;
}

static inline int inbox_full(struct inbox *in)
{
    return atomic_load(&in->pending) >= MAX_PENDING;
}

/* Checks and frees every block of every batch waiting in the inbox, and the batches; returns
 * how many blocks it freed. */
static inline long inbox_drain(struct inbox *in)
{
    struct batch *b = atomic_exchange(&in->head, NULL);
    long nbatches = 0, nblocks = 0;
    while (b) {
        struct batch *next = b->next;
        for (int k = 0; k < b->n; k++)
            item_free(&b->items[k]);
        nblocks += b->n;
        nbatches++;
        free(b);
        b = next;
    }
    if (nbatches)
        atomic_fetch_sub(&in->pending, nbatches);
    return nblocks;
}

#endif
