/* The figures of `brisk trace summary`, gathered record by record in time order.
 *
 * Rules (docs/insight.md says them to users):
 * - a call is a record of ops 1-5; a thread-exit record is counted apart;
 * - an allocation is a successful malloc, calloc, aligned call or realloc (its new block): a
 *   realloc ends the old block and starts a new one, even in place;
 * - live bytes are the sizes asked for; lifetimes run from an allocation to the call that ends
 *   the block, in calls (difference of call numbers) and in ns;
 * - a free or realloc of a pointer not live is unmatched and otherwise ignored; an allocation
 *   returning an address already live ends the old block first (counted as reused). */
#include "summary.h"

#include <string.h>

struct sum_block {     /* 32 bytes: a long trace can have millions live at once */
    uint64_t ptr;      /* the key */
    uint64_t size, time;
    uint64_t call_thread;   /* the call that made it << 24 | its thread (below 2^24) */
};

#define THREAD_BITS 24
#define BLOCK_CALL(b) ((b)->call_thread >> THREAD_BITS)
#define BLOCK_THREAD(b) ((uint32_t)((b)->call_thread & ((1u << THREAD_BITS) - 1)))

void summary_init(struct summary *s, const struct trace *t, const char *path)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->path = path;
    mmvec_init(&s->threads, sizeof(struct sum_thread));
    ptrmap_init(&s->live, sizeof(struct sum_block));
}

static struct sum_thread *thread_of(struct summary *s, uint32_t id)
{
    /* thread numbers are dense (0, 1, 2, ...): a huge one is a damaged file, not a table size */
    if (id >= (1u << THREAD_BITS))
        die("%s: thread number %u is out of range (damaged trace?)", s->path, id);
    while (s->threads.n <= id)
        mmvec_push(&s->threads);
    return &MMVEC_AT(&s->threads, struct sum_thread, id);
}

static unsigned size_bucket(uint64_t size)
{
    return size ? 64u - (unsigned)__builtin_clzll(size) : 0;
}

/* The block at PTR ends with the current call (or, for REUSED, because its address came back). */
static void end_block(struct summary *s, uint64_t ptr, const struct trec *r, int reused)
{
    struct sum_block *b = ptrmap_find(&s->live, ptr);
    if (!b) {
        if (r->op == OP_REALLOC)
            s->unmatched_reallocs++;
        else
            s->unmatched_frees++;
        return;
    }
    s->live_bytes -= b->size;
    if (!reused) {
        struct sum_thread *th = thread_of(s, r->thread);
        th->frees++;
        if (BLOCK_THREAD(b) != r->thread)
            th->cross_frees++;
        qhist_add(&s->life_calls, s->calls - 1 - BLOCK_CALL(b));
        qhist_add(&s->life_ns, r->time >= b->time ? r->time - b->time : 0);
    }
    ptrmap_remove(&s->live, b);
}

static void start_block(struct summary *s, const struct trec *r)
{
    if (ptrmap_find(&s->live, r->ptr)) {
        s->reused_live++;
        end_block(s, r->ptr, r, 1);
    }
    struct sum_block *b = ptrmap_insert(&s->live, r->ptr);
    b->size = r->size;
    b->time = r->time;
    b->call_thread = (s->calls - 1) << THREAD_BITS | r->thread;
    s->live_bytes += r->size;
    s->alloc_blocks++;
    s->alloc_bytes += r->size;
    unsigned k = size_bucket(r->size);
    s->size_count[k]++;
    s->size_bytes[k] += r->size;
    thread_of(s, r->thread)->allocs++;
}

/* The busiest window: calls with times in (t - 10 ms, t], for each call's time t. */
static void window_add(struct summary *s, uint64_t t)
{
    if (s->ring_n == s->ring_cap) {
        size_t cap = s->ring_cap ? s->ring_cap * 2 : 4096;
        uint64_t *ring = mm_alloc(cap * sizeof *ring);
        for (size_t i = 0; i < s->ring_n; i++)
            ring[i] = s->ring[(s->ring_head + i) & (s->ring_cap - 1)];
        mm_free(s->ring, s->ring_cap * sizeof *ring);
        s->ring = ring;
        s->ring_cap = cap;
        s->ring_head = 0;
    }
    s->ring[(s->ring_head + s->ring_n++) & (s->ring_cap - 1)] = t;
    while (s->ring[s->ring_head] + SUM_WINDOW_NS <= t) {
        s->ring_head = (s->ring_head + 1) & (s->ring_cap - 1);
        s->ring_n--;
    }
    if (s->ring_n > s->busiest_calls) {
        s->busiest_calls = s->ring_n;
        s->busiest_start_ns = s->ring[s->ring_head];
    }
}

static void do_call(struct summary *s, const struct trec *r)
{
    uint64_t old;
    unsigned e = trace_effect(r, &old);
    s->failed += (e & EFF_FAILED) != 0;
    s->realloc_null += (e & EFF_REALLOC_NULL) != 0;
    s->realloc_free += (e & EFF_REALLOC_FREE) != 0;
    if (e & EFF_END)
        end_block(s, old, r, 0);
    if (e & EFF_START)
        start_block(s, r);
}

void summary_record(struct summary *s, const struct trec *r)
{
    if (s->records++ == 0)
        s->first_ns = r->time;
    s->last_ns = r->time;
    if (r->op == OP_THREAD_EXIT) {
        s->ops[OP_THREAD_EXIT]++;
        thread_of(s, r->thread)->exited = 1;
        return;
    }
    if (r->op < OP_MALLOC || r->op > OP_ALIGNED) {
        s->unknown_ops++;
        return;
    }
    s->ops[r->op]++;
    s->calls++;
    thread_of(s, r->thread)->calls++;
    window_add(s, r->time);
    do_call(s, r);
    if (s->live_bytes > s->peak_bytes) {
        s->peak_bytes = s->live_bytes;
        s->peak_blocks = s->live.n;
        s->peak_ns = r->time;
        s->peak_call = s->calls;
    }
}

void summary_finish(struct summary *s)
{
    for (size_t i = 0; i < s->live.cap; i++) {
        const struct sum_block *b = ptrmap_cell(&s->live, i);
        if (b) {
            s->never_blocks++;
            s->never_bytes += b->size;
        }
    }
}
