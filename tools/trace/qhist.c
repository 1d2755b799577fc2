/* Log-linear histogram for quantiles (see qhist.h). */
#include "qhist.h"

#include <math.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < QH_EXACT)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);   /* 8..63 */
    unsigned sub = (unsigned)(v >> (e - 7)) & (QH_SUB - 1);
    return QH_EXACT + (e - 8) * QH_SUB + sub;
}

/* The largest value that falls in bucket B. */
static uint64_t bucket_top(unsigned b)
{
    if (b < QH_EXACT)
        return b;
    unsigned e = (b - QH_EXACT) / QH_SUB + 8, sub = (b - QH_EXACT) % QH_SUB;
    uint64_t lo = ((uint64_t)(QH_SUB + sub)) << (e - 7);
    return lo + (((uint64_t)1 << (e - 7)) - 1);
}

void qhist_add(struct qhist *h, uint64_t v)
{
    h->count[bucket_of(v)]++;
    if (h->n == 0 || v > h->max)
        h->max = v;
    h->n++;
}

uint64_t qhist_quantile(const struct qhist *h, double q)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < QH_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
