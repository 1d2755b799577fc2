/* Blocks that carry a pattern derived from their address and size (so any thread can check
 * one it did not make), and a pool through which threads hand blocks to each other. */
#ifndef BRISK_TESTS_BLK_H
#define BRISK_TESTS_BLK_H

#include "common.h"

#include <pthread.h>

struct blk {
    unsigned char *p;
    size_t n;
};

static inline void blk_stamp(const struct blk *b) { fill_pattern(b->p, b->n, pattern_seed(b->p, b->n)); }

static inline void blk_verify(const struct blk *b, const char *when)
{
    size_t bad = check_pattern(b->p, b->n, pattern_seed(b->p, b->n));
    CHECK(bad == (size_t)-1, "%s: block %p of %zu bytes corrupted at byte %zu", when,
          (void *)b->p, b->n, bad);
}

struct blk_pool {
    pthread_mutex_t lock;
    struct blk *v;
    size_t n, cap;
};
#define BLK_POOL(array) {PTHREAD_MUTEX_INITIALIZER, array, 0, sizeof array / sizeof array[0]}

/* Puts *b in the pool (b->p becomes NULL) unless the pool is full; returns 1 if it took it. */
static inline int blk_put(struct blk_pool *pl, struct blk *b)
{
    pthread_mutex_lock(&pl->lock);
    int took = pl->n < pl->cap;
    if (took) {
        pl->v[pl->n++] = *b;
        b->p = NULL;
    }
    pthread_mutex_unlock(&pl->lock);
    return took;
}

/* Takes the block put last into *out; returns 0 if the pool is empty. */
static inline int blk_take(struct blk_pool *pl, struct blk *out)
{
    pthread_mutex_lock(&pl->lock);
    int got = pl->n > 0;
    if (got)
        *out = pl->v[--pl->n];
    pthread_mutex_unlock(&pl->lock);
    return got;
}

#endif
