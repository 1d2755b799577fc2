/* `brisk trace summary`: the figures gathered from one pass over a trace in time order. */
#ifndef BRISK_TRACE_SUMMARY_H
#define BRISK_TRACE_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "mm.h"
#include "ptrmap.h"
#include "qhist.h"
#include "tracefile.h"

#define SUM_WINDOW_NS 10000000ull   /* the busiest-rate window: 10 ms */
#define SUM_SIZE_BUCKETS 65         /* size 0, then [2^k, 2^(k+1)) for k = 0..63 */

struct sum_thread {
    uint64_t calls, allocs, frees, cross_frees;
    int exited;
};

struct summary {
    const char *path;
    const struct trace *t;
    uint64_t records, calls, runs;
    uint64_t ops[OP_MAX + 1];
    uint64_t unknown_ops, failed, realloc_null, realloc_free;
    uint64_t unmatched_frees, unmatched_reallocs, reused_live;
    uint64_t first_ns, last_ns;

    struct mmvec threads;   /* struct sum_thread, indexed by the recorded thread number */

    uint64_t size_count[SUM_SIZE_BUCKETS], size_bytes[SUM_SIZE_BUCKETS];
    uint64_t alloc_blocks, alloc_bytes;

    struct ptrmap live;     /* struct sum_block */
    uint64_t live_bytes;
    uint64_t peak_bytes, peak_blocks, peak_ns, peak_call;

    struct qhist life_calls, life_ns;   /* of blocks freed (or ended by a realloc) */
    uint64_t never_blocks, never_bytes;

    /* calls in the sliding window: a ring of their times */
    uint64_t *ring;
    size_t ring_cap, ring_head, ring_n;
    uint64_t busiest_calls, busiest_start_ns;
};

void summary_init(struct summary *s, const struct trace *t, const char *path);
void summary_record(struct summary *s, const struct trec *r);
/* Ends the pass: counts the blocks never freed. */
void summary_finish(struct summary *s);

void summary_print_text(const struct summary *s, FILE *out);
void summary_print_json(const struct summary *s, FILE *out);

#endif
