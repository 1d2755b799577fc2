/* Reading a brisk trace (docs/trace-format.md) in time order, in bounded memory.
 *
 * The recorder writes each thread's records in chunks, so the file is a sequence of sections
 * each in time order ("runs") but not in time order overall. The reader maps the file, finds the
 * runs in one pass, and merges them with a heap keyed by (time, run): ties go to the record
 * earlier in the file, which is the stable sort by time the format asks readers to use. Memory
 * is 24 bytes per run; pages of the file that every run has passed are dropped from the
 * mapping as the merge goes, so a multi-GB trace does not fill the resident set. */
#ifndef BRISK_TRACE_TRACEFILE_H
#define BRISK_TRACE_TRACEFILE_H

#include <stddef.h>
#include <stdint.h>

enum {
    OP_MALLOC = 1,
    OP_FREE = 2,
    OP_CALLOC = 3,
    OP_REALLOC = 4,
    OP_ALIGNED = 5,
    OP_THREAD_EXIT = 6,
    OP_MAX = 6
};

#define TRACE_MAGIC "BRISKTR1"
#define TRACE_HEADER_MIN 64
#define TRACE_RECORD_MIN 40

struct trec {
    uint8_t op;
    uint32_t thread;
    uint64_t time;  /* ns since the trace's start */
    uint64_t size;
    uint64_t ptr;
    uint64_t arg;
};

struct trace {
    const unsigned char *base;  /* the whole file, mapped */
    size_t len;
    size_t hdr_size, rec_size;
    uint64_t nrec;              /* whole records after the header */
    size_t trailing;            /* bytes of a last, partial record (ignored) */
    uint32_t version, pid;
    uint64_t start_ns;
};

/* Maps PATH and checks its header; on error returns -1 with a message in ERR. */
int trace_open(struct trace *t, const char *path, char *err, size_t errlen);
void trace_close(struct trace *t);
/* Decodes record I (in file order). */
void trace_get(const struct trace *t, uint64_t i, struct trec *r);
/* What a call does to the blocks live in the trace (docs/trace-format.md's rules, shared by
 * the summary and the replay): the bits below; *OLD is the pointer of the block it ends. */
enum {
    EFF_END = 1,           /* ends the block at *old: free, realloc's old block, realloc(p, 0) */
    EFF_START = 2,         /* starts a block at r->ptr of r->size bytes */
    EFF_FAILED = 4,        /* returned NULL: nothing changes */
    EFF_REALLOC_NULL = 8,  /* realloc(NULL, n) */
    EFF_REALLOC_FREE = 16  /* realloc(p, 0) that freed */
};
unsigned trace_effect(const struct trec *r, uint64_t *old);
/* The name of an op ("malloc" ...), "?" when unknown. */
const char *trace_op_name(unsigned op);

struct tmerge_run {
    uint64_t next, end;  /* record indices: the next to deliver, one past the last */
    uint64_t first;      /* the time of its first record, noted by the scan: starting the
                          * merge must not touch every run's page again */
};

#define TMERGE_AHEAD 16   /* records decoded before they are delivered (see tmerge_next) */

struct tmerge {
    const struct trace *t;
    struct tmerge_run *runs;
    size_t nruns, runs_bytes;
    uint32_t *heap;     /* run indices, a binary min-heap on (time of next record, run) */
    uint64_t *key;      /* time of each run's next record */
    size_t nheap;
    size_t lo_run;      /* runs before it are done: the file before its cursor can go */
    uint64_t dropped;   /* bytes of the file already released */
    uint64_t delivered;
    struct trec ahead[TMERGE_AHEAD];   /* a ring of the next records in time order */
    unsigned ahead_head, ahead_n;
};

/* Finds the runs of T and prepares the merge. */
void tmerge_init(struct tmerge *m, const struct trace *t);
/* The next record in time order in *R; 0 at the end. Records are decoded TMERGE_AHEAD ahead of
 * delivery, and the one that just entered the queue is returned in *UPCOMING (NULL near the
 * end): a caller whose lookups miss the cache (a large table of live blocks) prefetches for it,
 * so that the miss overlaps the work on the records before. */
int tmerge_next(struct tmerge *m, struct trec *r, const struct trec **upcoming);
void tmerge_free(struct tmerge *m);

#endif
