/* Quantiles of a stream of unsigned values in fixed memory: a log-linear histogram, exact
 * below 256 and within 1/128 (0.8%) above, with the exact maximum kept aside. Lifetimes of a
 * multi-GB trace cannot all be kept to sort them. */
#ifndef BRISK_TRACE_QHIST_H
#define BRISK_TRACE_QHIST_H

#include <stdint.h>

#define QH_EXACT 256
#define QH_SUB 128
#define QH_BUCKETS (QH_EXACT + (64 - 8) * QH_SUB)

struct qhist {
    uint64_t count[QH_BUCKETS];
    uint64_t n, max;
};

void qhist_add(struct qhist *h, uint64_t v);
/* The value at rank ceil(Q * n) (nearest rank; Q in (0, 1]): exact when below 256, otherwise
 * the upper end of its bucket, but never above the maximum. 0 when empty. */
uint64_t qhist_quantile(const struct qhist *h, double q);

#endif
