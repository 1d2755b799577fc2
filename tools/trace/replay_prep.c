/* brisk-replay prep: the trace in time order turned into per-thread op arrays (see replay.h).
 * The rules for odd records are those of the summary: a failed call and a free of a pointer
 * not live make no op; an allocation at an address still live frees the old block first. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mm.h"
#include "ptrmap.h"
#include "replay.h"

struct live {          /* a block of the trace, by address */
    uint64_t ptr;
    uint32_t slot, thread;
    uint64_t made_by;  /* index of the op that made it, in its thread's array */
};

struct pthread_ops {   /* one recorded thread, while prep runs */
    struct mmvec ops;  /* struct rop */
    struct mmvec seq;  /* uint64_t */
    uint64_t gate;
    int seen;
};

struct prep {
    struct ptrmap live;
    struct mmvec threads;   /* struct pthread_ops */
    struct mmvec global;    /* struct ops_global */
    struct ops_header h;
    uint64_t nops;
    int ordered;            /* keep seq and global: the file can be replayed in trace order */
    uint64_t exits;         /* thread exits so far */
    uint64_t record;        /* index of the current record, in time order */
    uint64_t time;
};

static struct pthread_ops *thread_of(struct prep *p, uint32_t id)
{
    if (id >= (1u << 20))
        die("thread number %u is out of range (damaged trace?)", id);
    while (p->threads.n <= id) {
        struct pthread_ops *t = mmvec_push(&p->threads);
        mmvec_init(&t->ops, sizeof(struct rop));
        mmvec_init(&t->seq, sizeof(uint64_t));
    }
    struct pthread_ops *t = &MMVEC_AT(&p->threads, struct pthread_ops, id);
    if (!t->seen) {
        t->seen = 1;
        t->gate = p->exits;
    }
    return t;
}

static struct rop *emit(struct prep *p, uint32_t tid, unsigned kind, uint64_t size)
{
    struct pthread_ops *t = thread_of(p, tid);
    struct rop *op = mmvec_push(&t->ops);
    op->word = (size & ROP_SIZE_MASK) | ((uint64_t)kind << ROP_SIZE_BITS);
    op->slot = op->aux = SLOT_NONE;
    if (p->ordered) {
        *(uint64_t *)mmvec_push(&t->seq) = p->nops;
        struct ops_global *g = mmvec_push(&p->global);
        g->record = p->record;
        g->time = p->time;
        g->thread = tid;
    }
    p->nops++;
    p->h.kinds[kind]++;
    return op;
}

/* Ends the block at PTR for thread TID: its slot (SLOT_NONE when not live), *WAIT set when
 * another thread made it (that thread's op is then marked to publish it). */
static uint32_t end_block(struct prep *p, uint64_t ptr, uint32_t tid, int *wait)
{
    struct live *b = ptrmap_find(&p->live, ptr);
    *wait = 0;
    if (!b)
        return SLOT_NONE;
    uint32_t slot = b->slot;
    if (b->thread != tid) {
        struct pthread_ops *maker = &MMVEC_AT(&p->threads, struct pthread_ops, b->thread);
        MMVEC_AT(&maker->ops, struct rop, b->made_by).word |= ROP_PUBLISH;
        *wait = 1;
    }
    ptrmap_remove(&p->live, b);
    return slot;
}

static void emit_free(struct prep *p, uint64_t ptr, uint32_t tid)
{
    int wait;
    uint32_t slot = end_block(p, ptr, tid, &wait);
    if (slot == SLOT_NONE) {
        p->h.skipped++;
        return;
    }
    struct rop *op = emit(p, tid, R_FREE, 0);
    op->slot = slot;
    if (wait)
        op->word |= ROP_WAIT;
}

/* OP makes the block of record R: a new slot, and the address is live from now on. */
static void make_block(struct prep *p, struct rop *op, uint64_t ptr, uint32_t tid)
{
    if (p->h.nslots >= SLOT_NONE)
        die("more than %u allocations: too many for one replay", SLOT_NONE - 1);
    op->slot = (uint32_t)p->h.nslots++;
    struct live *b = ptrmap_insert(&p->live, ptr);
    b->slot = op->slot;
    b->thread = tid;
    b->made_by = MMVEC_AT(&p->threads, struct pthread_ops, tid).ops.n - 1;
}

/* An allocation returned PTR while the trace still has a block there (a free the recorder
 * missed): free that block first, as the summary ends it. */
static void clear_address(struct prep *p, uint64_t ptr, uint32_t tid)
{
    if (ptrmap_find(&p->live, ptr)) {
        emit_free(p, ptr, tid);
        p->h.synthetic++;
    }
}

static unsigned log2_up(uint64_t v)
{
    unsigned k = 0;
    while (k < 63 && ((uint64_t)1 << k) < v)
        k++;
    return k;
}

/* A call that makes a block (ending OLD first when E says so, as realloc does). */
static void do_start(struct prep *p, const struct trec *r, unsigned e, uint64_t old)
{
    int wait = 0;
    uint32_t old_slot = (e & EFF_END) ? end_block(p, old, r->thread, &wait) : SLOT_NONE;
    clear_address(p, r->ptr, r->thread);
    static const unsigned kind_of[] = {[OP_MALLOC] = R_MALLOC, [OP_CALLOC] = R_CALLOC,
                                       [OP_REALLOC] = R_REALLOC, [OP_ALIGNED] = R_ALIGNED};
    struct rop *op = emit(p, r->thread, kind_of[r->op], r->size);
    if (r->op == OP_REALLOC)      /* an old block not live: replayed as realloc(NULL, n) */
        op->aux = old_slot;
    else if (r->op == OP_CALLOC)  /* the count, when it divides the bytes (it always should) */
        op->aux = (r->arg && r->arg < SLOT_NONE && r->size % r->arg == 0) ? (uint32_t)r->arg : 1;
    else if (r->op == OP_ALIGNED)
        op->aux = log2_up(r->arg ? r->arg : 16);
    if (wait)
        op->word |= ROP_WAIT;
    make_block(p, op, r->ptr, r->thread);
}

static void do_record(struct prep *p, const struct trec *r)
{
    p->time = r->time;
    if (r->op == OP_THREAD_EXIT) {
        thread_of(p, r->thread);
        p->exits++;
    }
    if (r->op < OP_MALLOC || r->op > OP_ALIGNED) {
        p->h.skipped++;
        return;
    }
    thread_of(p, r->thread);
    uint64_t old;
    unsigned e = trace_effect(r, &old);
    if (e & EFF_START)
        do_start(p, r, e, old);
    else if (e & EFF_END)
        emit_free(p, old, r->thread);
    else
        p->h.skipped++;
}

/* Layout: header, thread table, then each thread's ops and seq arrays, then global. */
static void write_ops(struct prep *p, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    struct ops_header *h = &p->h;
    memcpy(h->magic, OPS_MAGIC, 8);
    h->nthreads = p->threads.n;
    h->nops = p->nops;
    h->threads_off = sizeof *h;
    uint64_t off = h->threads_off + h->nthreads * sizeof(struct ops_thread);
    struct ops_thread *tab = mm_alloc(h->nthreads * sizeof *tab + 1);
    for (size_t i = 0; i < h->nthreads; i++) {
        struct pthread_ops *t = &MMVEC_AT(&p->threads, struct pthread_ops, i);
        tab[i].n = t->ops.n;
        tab[i].gate = t->gate;
        tab[i].ops_off = off;
        off += t->ops.n * sizeof(struct rop);
        tab[i].seq_off = p->ordered ? off : 0;
        off += t->seq.n * sizeof(uint64_t);
    }
    h->global_off = p->ordered ? off : 0;
    h->file_size = off + p->global.n * sizeof(struct ops_global);
    write_full(fd, h, sizeof *h, path);
    write_full(fd, tab, h->nthreads * sizeof *tab, path);
    for (size_t i = 0; i < h->nthreads; i++) {
        struct pthread_ops *t = &MMVEC_AT(&p->threads, struct pthread_ops, i);
        write_full(fd, t->ops.p, t->ops.n * sizeof(struct rop), path);
        write_full(fd, t->seq.p, t->seq.n * sizeof(uint64_t), path);
    }
    write_full(fd, p->global.p, p->global.n * sizeof(struct ops_global), path);
    if (close(fd) != 0)
        die("%s: %s", path, strerror(errno));
    mm_free(tab, h->nthreads * sizeof *tab + 1);
}

int replay_prep(const char *trace_path, const char *ops_path, int ordered)
{
    struct trace t;
    char err[512];
    if (trace_open(&t, trace_path, err, sizeof err) != 0)
        die("%s", err);
    static struct prep p;
    ptrmap_init(&p.live, sizeof(struct live));
    mmvec_init(&p.threads, sizeof(struct pthread_ops));
    mmvec_init(&p.global, sizeof(struct ops_global));
    p.ordered = ordered;
    struct tmerge m;
    tmerge_init(&m, &t);
    struct trec r;
    const struct trec *next;
    for (p.record = 0; tmerge_next(&m, &r, &next); p.record++) {
        if (next) {   /* its block (or realloc's old one) is looked up 16 records on */
            ptrmap_prefetch(&p.live, next->ptr);
            ptrmap_prefetch(&p.live, next->arg);
        }
        do_record(&p, &r);
    }
    p.h.nrecords = p.record;
    tmerge_free(&m);
    trace_close(&t);
    write_ops(&p, ops_path);
    printf("prep: records=%" PRIu64 " ops=%" PRIu64 " threads=%zu slots=%" PRIu64 " skipped=%" PRIu64
           " synthetic_frees=%" PRIu64 "\n", p.h.nrecords, p.nops, p.threads.n, p.h.nslots,
           p.h.skipped, p.h.synthetic);
    return 0;
}
