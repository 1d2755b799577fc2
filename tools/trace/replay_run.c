/* brisk-replay run: the ops file replayed under whatever malloc the process has (see replay.h).
 *
 * Every block gets its tag byte (a function of its slot) at offset 0, at every 4 KiB and at its
 * last byte: the pages are touched, so the resident set is real, and the tags are checked
 * before the block is freed or reallocated (realloc must keep them), calloc's memory is checked
 * for zeros at the same places, aligned calls for their alignment. A failed check is an error:
 * the run reports it and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mm.h"
#include "replay.h"
#include "replay_probe.h"

#define PAGE 4096u
#define SPIN 200   /* polls of a flag before sleeping on it: a cross-thread wait is often short */

struct rthread {
    const struct rop *ops;
    const uint64_t *seq;
    uint64_t n, gate;
    _Atomic uint32_t turn;      /* ordered mode: the op (low 32 bits of its place) it may run */
    uint32_t id;
    pthread_t pt;
    uint64_t kinds[R_KINDS];
} __attribute__((aligned(64)));

struct sample {
    uint64_t at;       /* taken when this many ops are done */
    uint64_t record;   /* after this many trace records */
    int heapmap;       /* a heap dump; else a timeline row */
};

static struct {
    const struct ops_header *h;
    const struct ops_global *global;
    struct rthread *th;
    void **ptr;
    uint64_t *size;
    _Atomic uint32_t *flag;   /* 0 not made, 1 made, 2 made not yet and a thread sleeps on it */
    _Atomic uint32_t go, finished;
    _Atomic uint64_t errors;
    int ordered;
    struct sample *samples;
    size_t nsamples, next_sample;
    struct probe probe;
} R;

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static void error_at(const char *what, uint32_t slot)
{
    uint64_t n = atomic_fetch_add(&R.errors, 1) + 1;
    if (n <= 5)
        fprintf(stderr, "brisk-replay: check failed: %s (block %u)%s\n", what, slot,
                n == 5 ? "; further failures are only counted" : "");
}

static uint8_t tag_of(uint32_t slot)
{
    return (uint8_t)(slot * 151u + 89u) | 1u;   /* never 0, so calloc's zeros cannot pass */
}

/* The places of a block of SIZE bytes that carry its tag: 0, every 4 KiB, the last byte.
 * CHECK_BELOW limits the check to the first bytes (what realloc keeps). */
static int tags_ok(const unsigned char *p, uint64_t size, uint8_t tag, uint64_t check_below)
{
    if (size == 0 || check_below == 0)
        return 1;
    for (uint64_t off = 0; off < size && off < check_below; off += PAGE)
        if (p[off] != tag)
            return 0;
    return size - 1 >= check_below || p[size - 1] == tag;
}

static void put_tags(unsigned char *p, uint64_t size, uint8_t tag)
{
    if (size == 0)
        return;
    for (uint64_t off = 0; off < size; off += PAGE)
        p[off] = tag;
    p[size - 1] = tag;
}

static void wait_made(uint32_t slot)
{
    _Atomic uint32_t *f = &R.flag[slot];
    for (int i = 0; i < SPIN; i++) {
        if (atomic_load_explicit(f, memory_order_acquire) == 1)
            return;
        __builtin_ia32_pause();
    }
    for (;;) {
        uint32_t v = atomic_load_explicit(f, memory_order_acquire);
        if (v == 1)
            return;
        if (v == 0 && !atomic_compare_exchange_weak(f, &v, 2))
            continue;
        futex_wait(f, 2);
    }
}

static void track_live(int64_t delta, uint64_t size)
{
    /* ordered mode only: one op at a time, so plain arithmetic is exact */
    unsigned range = size <= 1024 ? 1 : size <= 256 * 1024 ? 2 : 3;
    R.probe.live[0] += (uint64_t)delta;
    R.probe.live[range] += (uint64_t)delta;
}

/* The end of an op that made a block P of SIZE bytes for OP's slot. */
static void made(const struct rop *op, void *p, uint64_t size)
{
    uint32_t s = op->slot;
    if (!p && size)
        error_at("allocation returned NULL", s);
    R.ptr[s] = p;
    R.size[s] = size;
    if (p)
        put_tags(p, size, tag_of(s));
    if (R.ordered)
        track_live((int64_t)size, size);
    if ((op->word & ROP_PUBLISH) &&
        atomic_exchange_explicit(&R.flag[s], 1, memory_order_release) == 2)
        futex_wake(&R.flag[s]);
}

/* The block of SLOT as OP ends it: waited for when another thread made it, and checked. */
static void *ending(const struct rop *op, uint32_t slot)
{
    if ((op->word & ROP_WAIT) && !R.ordered)
        wait_made(slot);
    void *p = R.ptr[slot];
    if (p && !tags_ok(p, R.size[slot], tag_of(slot), R.size[slot]))
        error_at("block changed while it was allocated", slot);
    if (R.ordered)
        track_live(-(int64_t)R.size[slot], R.size[slot]);
    return p;
}

static void do_op(const struct rop *op)
{
    uint64_t size = op->word & ROP_SIZE_MASK;
    void *p = NULL, *old;
    switch (ROP_KIND(op->word)) {
    case R_MALLOC:
        made(op, malloc(size), size);
        break;
    case R_CALLOC:
        p = calloc(op->aux, size / op->aux);
        if (p && !tags_ok(p, size, 0, size))
            error_at("calloc's memory is not zero", op->slot);
        made(op, p, size);
        break;
    case R_ALIGNED: {
        size_t align = (size_t)1 << op->aux;
        if (align < sizeof(void *))
            align = sizeof(void *);
        if (posix_memalign(&p, align, size) != 0)
            p = NULL;
        if ((uintptr_t)p & (align - 1))
            error_at("aligned block not aligned", op->slot);
        made(op, p, size);
        break;
    }
    case R_REALLOC:
        if (op->aux == SLOT_NONE) {
            made(op, realloc(NULL, size), size);
            break;
        }
        old = ending(op, op->aux);
        p = realloc(old, size);
        if (p && !tags_ok(p, R.size[op->aux], tag_of(op->aux), size))
            error_at("realloc lost the block's contents", op->aux);
        made(op, p, size);
        break;
    case R_FREE:
        free(ending(op, op->slot));
        break;
    }
}

static void take_samples(uint64_t done)
{
    while (R.next_sample < R.nsamples && R.samples[R.next_sample].at == done) {
        const struct sample *s = &R.samples[R.next_sample++];
        if (s->heapmap)
            probe_heap_dump(&R.probe, s->record);
        else
            probe_timeline_row(&R.probe, s->record, done ? R.global[done - 1].time : 0);
    }
}

/* Ordered mode: op number E (in trace order) is done; hand the turn to the next op's thread. */
static void pass_turn(uint64_t e)
{
    take_samples(e + 1);
    if (e + 1 >= R.h->nops)
        return;
    struct rthread *next = &R.th[R.global[e + 1].thread];
    atomic_store_explicit(&next->turn, (uint32_t)(e + 1), memory_order_release);
    futex_wake(&next->turn);
}

static void wait_turn(struct rthread *t, uint64_t e)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&t->turn, memory_order_acquire);
        if (v == (uint32_t)e)
            return;
        futex_wait(&t->turn, v);
    }
}

static void wait_at_least(_Atomic uint32_t *w, uint32_t n)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(w, memory_order_acquire);
        if (v >= n)
            return;
        futex_wait(w, v);
    }
}

static void *replay_thread(void *arg)
{
    struct rthread *t = arg;
    wait_at_least(&R.go, 1);
    wait_at_least(&R.finished, (uint32_t)t->gate);
    for (uint64_t i = 0; i < t->n; i++) {
        const struct rop *op = &t->ops[i];
        if (R.ordered)
            wait_turn(t, t->seq[i]);
        do_op(op);
        t->kinds[ROP_KIND(op->word)]++;
        if (R.ordered)
            pass_turn(t->seq[i]);
    }
    atomic_fetch_add_explicit(&R.finished, 1, memory_order_release);
    futex_wake(&R.finished);
    return NULL;
}

static const void *map_ops(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(struct ops_header))
        die("%s: not an ops file (run prep first)", path);
    const void *base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
                            fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        die("%s: mmap: %s", path, strerror(errno));
    const struct ops_header *h = base;
    if (memcmp(h->magic, OPS_MAGIC, 8) != 0 || h->file_size != (uint64_t)st.st_size)
        die("%s: not an ops file of this version, or damaged", path);
    return base;
}

/* Tables indexed by slot, faulted in now so that they are not counted in the replay's peak. */
static void *touched(size_t bytes)
{
    char *p = mm_alloc(bytes);
    for (size_t off = 0; off < bytes; off += PAGE)
        ((volatile char *)p)[off] = 0;
    return p;
}

static uint64_t ops_done_before(uint64_t record)
{
    uint64_t lo = 0, hi = R.h->nops;   /* ops whose record index is below RECORD */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (R.global[mid].record < record)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The samples in the order they fall: timeline rows after records 0, EVERY, 2 EVERY, ... and
 * the last one; heap dumps after the records asked for. */
static void plan_samples(const struct replay_opts *o)
{
    uint64_t nrec = R.h->nrecords, every = o->timeline_every;
    if (!every)
        every = nrec / 500 ? nrec / 500 : 1;
    size_t nrows = o->timeline ? (size_t)(nrec / every + 1 + (nrec % every != 0)) : 0;
    R.samples = mm_alloc((nrows + o->nheapmaps) * sizeof *R.samples);
    for (unsigned h = 0; h < o->nheapmaps; h++)
        if (o->heapmap_at[h] > nrec)
            die("--heapmap-at %" PRIu64 ": the trace has only %" PRIu64 " records",
                o->heapmap_at[h], nrec);
    size_t i = 0, h = 0;
    while (i < nrows || h < o->nheapmaps) {
        uint64_t row = i < nrows ? (i * every < nrec ? i * every : nrec) : UINT64_MAX;
        struct sample *s = &R.samples[R.nsamples++];
        if (h < o->nheapmaps && o->heapmap_at[h] <= row) {
            s->record = o->heapmap_at[h++];
            s->heapmap = 1;
        } else {
            s->record = row;
            i++;
        }
        s->at = ops_done_before(s->record);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void start_threads(void)
{
    const struct ops_thread *tab = (const void *)((const char *)R.h + R.h->threads_off);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    for (uint64_t i = 0; i < R.h->nthreads; i++) {
        struct rthread *t = &R.th[i];
        t->id = (uint32_t)i;
        t->ops = (const void *)((const char *)R.h + tab[i].ops_off);
        t->seq = tab[i].seq_off ? (const void *)((const char *)R.h + tab[i].seq_off) : NULL;
        t->n = tab[i].n;
        t->gate = tab[i].gate;
        t->turn = UINT32_MAX;
        int rc = pthread_create(&t->pt, &attr, replay_thread, t);
        if (rc != 0)
            die("pthread_create (thread %" PRIu64 " of %" PRIu64 "): %s", i, R.h->nthreads,
                strerror(rc));
    }
    pthread_attr_destroy(&attr);
}

int replay_run(const char *ops_path, const struct replay_opts *o)
{
    R.h = map_ops(ops_path);
    R.global = (const void *)((const char *)R.h + R.h->global_off);
    R.ordered = o->timeline || o->nheapmaps;
    if (R.ordered && R.h->nops >= UINT32_MAX)
        die("--timeline and --heapmap-at take traces of fewer than 2^32 operations");
    if (R.ordered && R.h->nops && !R.h->global_off)
        die("%s: made without 'prep --ordered': --timeline and --heapmap-at need it", ops_path);
    size_t nslots = R.h->nslots ? R.h->nslots : 1;
    R.th = touched(R.h->nthreads * sizeof *R.th + 1);
    R.ptr = touched(nslots * sizeof *R.ptr);
    R.size = touched(nslots * sizeof *R.size);
    R.flag = touched(nslots * sizeof *R.flag);
    probe_init(&R.probe, o->timeline, o->heapmap_prefix);
    if (R.ordered)
        plan_samples(o);
    start_threads();
    if (R.ordered && R.h->nops)   /* the first op's thread has the turn */
        R.th[R.global[0].thread].turn = 0;

    int reset = probe_reset_peak();
    R.probe.rss_base = probe_rss_bytes();
    uint64_t base_kb = R.probe.rss_base / 1024;
    if (R.ordered)
        take_samples(0);
    double t0 = now();
    atomic_store_explicit(&R.go, 1, memory_order_release);
    futex_wake(&R.go);
    for (uint64_t i = 0; i < R.h->nthreads; i++)
        pthread_join(R.th[i].pt, NULL);
    double t1 = now();
    uint64_t peak_kb = probe_peak_kb();
    probe_close(&R.probe);

    uint64_t kinds[R_KINDS] = {0}, ops = 0;
    for (uint64_t i = 0; i < R.h->nthreads; i++)
        for (unsigned k = 1; k < R_KINDS; k++) {
            kinds[k] += R.th[i].kinds[k];
            ops += R.th[i].kinds[k];
        }
    uint64_t errors = atomic_load(&R.errors);
    printf("replay: threads=%" PRIu64 " ops=%" PRIu64 " malloc=%" PRIu64 " free=%" PRIu64
           " calloc=%" PRIu64 " realloc=%" PRIu64 " aligned=%" PRIu64 " time_s=%.6f"
           " peak_rss_kb=%" PRIu64 " base_rss_kb=%" PRIu64 " peak_reset=%s ordered=%d"
           " heapmaps=%u errors=%" PRIu64 "\n",
           R.h->nthreads, ops, kinds[R_MALLOC], kinds[R_FREE], kinds[R_CALLOC], kinds[R_REALLOC],
           kinds[R_ALIGNED], t1 - t0, peak_kb, base_kb, reset == 0 ? "yes" : "no", R.ordered,
           R.probe.dumps_written, errors);
    return errors ? 1 : 0;
}
