/* brisk-replay: a trace turned into per-thread arrays of compact operations (prep), then
 * replayed by one thread per recorded thread (run).
 *
 * Blocks are named by slot numbers, not addresses: each allocation in the trace makes a new
 * slot, and the free (or realloc) that ends the block names the same slot. The only order kept
 * between threads is the one that matters for correctness: the op that ends a block made by
 * another thread waits until that block exists (a per-slot flag, set by the maker with a release
 * store, waited on with a futex). Every such wait points back in trace time, so the wait graph
 * has no cycle: the earliest op not done never waits, and the replay cannot deadlock. A thread
 * whose first record came after other threads exited also waits until as many replay threads
 * have finished, so that threads the program ran one after another are not all alive at once.
 *
 * With --timeline or --heapmap-at the replay runs in trace order instead (one op at a time,
 * the turn passed from thread to thread), so that "after record N" is an exact point; its time
 * is then not a measure of the allocator. */
#ifndef BRISK_TRACE_REPLAY_H
#define BRISK_TRACE_REPLAY_H

#include <stdint.h>

#include "tracefile.h"

enum { R_MALLOC = 1, R_FREE, R_CALLOC, R_REALLOC, R_ALIGNED, R_KINDS };

#define ROP_SIZE_BITS 56
#define ROP_SIZE_MASK ((1ull << ROP_SIZE_BITS) - 1)
#define ROP_KIND(x) ((unsigned)((x) >> ROP_SIZE_BITS) & 7u)
#define ROP_PUBLISH (1ull << 60)   /* another thread waits for the block this op makes */
#define ROP_WAIT (1ull << 61)      /* the block this op ends was made by another thread */
#define SLOT_NONE UINT32_MAX

struct rop {
    uint64_t word;   /* size asked for (low 56 bits), kind, flags */
    uint32_t slot;   /* the block made (malloc, calloc, aligned, realloc) or ended (free) */
    uint32_t aux;    /* realloc: the old slot (SLOT_NONE: realloc(NULL, n)); calloc: the
                      * count; aligned: log2 of the alignment */
};

/* The ops file written by prep and mapped by run. */
#define OPS_MAGIC "BRISKOP1"
struct ops_header {
    char magic[8];
    uint64_t nthreads, nslots, nops, nrecords;
    uint64_t skipped;     /* records that make no op: failures, unmatched frees, exits */
    uint64_t synthetic;   /* frees added before an address came back while live */
    uint64_t kinds[R_KINDS];
    uint64_t threads_off; /* struct ops_thread[nthreads] */
    uint64_t global_off;  /* struct ops_global[nops], in trace order; 0 when prep was not
                           * asked for it (--ordered): the seq arrays are absent too */
    uint64_t file_size;
};

struct ops_thread {
    uint64_t ops_off, n;  /* struct rop[n] */
    uint64_t seq_off;     /* uint64_t[n]: each op's place in trace order (index in global) */
    uint64_t gate;        /* threads to finish before this one starts */
};

struct ops_global {
    uint64_t record;      /* index of the trace record (in time order) that made this op */
    uint64_t time;        /* its time */
    uint32_t thread;
    uint32_t pad;
};

/* prep: reads TRACE, writes OPS (with what a replay in trace order needs when ORDERED: 24 bytes
 * more per op); prints a line of counts on stdout. */
int replay_prep(const char *trace_path, const char *ops_path, int ordered);

/* What run writes beside the timing. */
struct replay_opts {
    const char *timeline;         /* CSV path or NULL */
    uint64_t timeline_every;      /* records between samples; 0: about 500 samples */
    const uint64_t *heapmap_at;   /* record numbers, sorted */
    unsigned nheapmaps;
    const char *heapmap_prefix;   /* dumps go to PREFIX.N.jsonl */
};

int replay_run(const char *ops_path, const struct replay_opts *o);

#endif
