/* The lab's workloads (`make lab`, lab/run.sh): each stresses what one step of the lab changes.
 *
 *   work pairs N SIZE        malloc(SIZE), write, free, N times: the cost of one call
 *   work hold N SIZE         N blocks of SIZE bytes, all live at once, then freed: the memory
 *                            a design spends on each block besides its bytes
 *   work mixed N SLOTS MAX   SLOTS live blocks; N times a random one is replaced by a block of
 *                            16..MAX bytes: reuse of freed blocks of other sizes
 *   work frag ROUNDS MIB     each round allocates MIB MiB of one size (64 B to 2 KiB, cycling),
 *                            frees every other block of the round before and the rest of the
 *                            round before that: holes that only merging or splitting can reuse
 *   work grow N BUFS         BUFS buffers grow by realloc in small steps up to 128 KiB, then
 *                            start again: growth in place versus copying
 *   work threads T N         T threads, N replacements each over their own 2000 slots; one
 *                            block in 16 is handed to the next thread, which frees it
 *
 * Every block is written when allocated (and, single-threaded, checked before it is freed).
 * The output depends only on the arguments: "ok ..." and, for the single-threaded ones,
 * "live_peak BYTES": the most bytes the program had asked for and not freed at any one time,
 * its tables included (fragmentation = peak RSS / live_peak). Exits 1 if a block changed or malloc returned NULL. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ULL);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static size_t live, live_peak;

static void *get(size_t n, uint64_t tag)
{
    unsigned char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "work: malloc(%zu) returned NULL\n", n);
        exit(1);
    }
    memcpy(p, &tag, n < 8 ? n : 8);
    if (n > 8)
        p[n - 1] = (unsigned char)tag;
    live += n;
    if (live > live_peak)
        live_peak = live;
    return p;
}

static void put(void *v, size_t n, uint64_t tag)
{
    unsigned char *p = v;
    uint64_t got = 0;
    memcpy(&got, p, n < 8 ? n : 8);
    uint64_t want = tag;
    if (n < 8)
        want &= ((uint64_t)1 << (8 * n)) - 1;
    if (got != want || (n > 8 && p[n - 1] != (unsigned char)tag)) {
        fprintf(stderr, "work: a block of %zu bytes changed while live\n", n);
        exit(1);
    }
    live -= n;
    free(p);
}

/* The workload's own tables count as live bytes too: they are memory it asked for. */
static void *table_new(size_t n, size_t size)
{
    void *t = calloc(n, size);
    if (!t) {
        fprintf(stderr, "work: calloc of a table returned NULL\n");
        exit(1);
    }
    live += n * size;
    if (live > live_peak)
        live_peak = live;
    return t;
}

static void table_free(void *t, size_t n, size_t size)
{
    live -= t ? n * size : 0;
    free(t);
}

static long arg(int argc, char **argv, int i)
{
    long v = i < argc ? strtol(argv[i], NULL, 10) : 0;
    if (v <= 0) {
        fprintf(stderr, "work: argument %d must be a positive number\n", i);
        exit(2);
    }
    return v;
}

struct slot {
    void *p;
    size_t n;
};

/* ---- single-threaded ---------------------------------------------------------------------- */

static void pairs(long n, size_t size)
{
    for (long i = 0; i < n; i++)
        put(get(size, (uint64_t)i), size, (uint64_t)i);
    printf("ok pairs: %ld x malloc(%zu)/free\n", n, size);
}

static void hold(long n, size_t size)
{
    void **b = table_new((size_t)n, sizeof *b);
    for (long i = 0; i < n; i++)
        b[i] = get(size, (uint64_t)i);
    for (long i = 0; i < n; i++)
        put(b[i], size, (uint64_t)i);
    table_free(b, (size_t)n, sizeof *b);
    printf("ok hold: %ld blocks of %zu bytes\n", n, size);
}

static void mixed(long n, long nslots, size_t max)
{
    struct slot *s = table_new((size_t)nslots, sizeof *s);
    uint64_t seed = 1;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng(&seed);
        struct slot *x = &s[r % (uint64_t)nslots];
        if (x->p)
            put(x->p, x->n, (uint64_t)(uintptr_t)x);
        x->n = 16 + (r >> 40) % (max - 15);
        x->p = get(x->n, (uint64_t)(uintptr_t)x);
    }
    for (long k = 0; k < nslots; k++)
        if (s[k].p)
            put(s[k].p, s[k].n, (uint64_t)(uintptr_t)&s[k]);
    table_free(s, (size_t)nslots, sizeof *s);
    printf("ok mixed: %ld replacements over %ld slots of 16..%zu bytes\n", n, nslots, max);
}

static void frag(long rounds, long mib)
{
    struct slot *r[3] = {0}; /* this round, the one before, the one before that */
    long cnt[3] = {0};
    for (long k = 0; k < rounds; k++) {
        size_t size = (size_t)64 << (k % 6);
        long n = mib * (1 << 20) / (long)size;
        /* the round before that goes entirely */
        for (long i = 0; i < cnt[2]; i++)
            if (r[2][i].p)
                put(r[2][i].p, r[2][i].n, (uint64_t)i);
        table_free(r[2], (size_t)cnt[2], sizeof **r);
        r[2] = r[1], cnt[2] = cnt[1];
        r[1] = r[0], cnt[1] = cnt[0];
        r[0] = table_new((size_t)n, sizeof **r);
        cnt[0] = n;
        for (long i = 0; i < n; i++) {
            r[0][i].n = size;
            r[0][i].p = get(size, (uint64_t)i);
            if (r[1] && i < cnt[1] && i % 2) { /* every other block of the round before */
                put(r[1][i].p, r[1][i].n, (uint64_t)i);
                r[1][i].p = NULL;
            }
        }
    }
    for (int j = 0; j < 3; j++) {
        for (long i = 0; i < cnt[j]; i++)
            if (r[j][i].p)
                put(r[j][i].p, r[j][i].n, (uint64_t)i);
        table_free(r[j], (size_t)cnt[j], sizeof **r);
    }
    printf("ok frag: %ld rounds of %ld MiB\n", rounds, mib);
}

static void grow(long n, long nbufs)
{
    enum { LIMIT = 128 * 1024 };
    struct slot *b = table_new((size_t)nbufs, sizeof *b);
    uint64_t seed = 2;
    for (long i = 0; i < n; i++) {
        uint64_t r = rng(&seed);
        struct slot *x = &b[r % (uint64_t)nbufs];
        uint64_t tag = (uint64_t)(uintptr_t)x;
        if (x->n >= LIMIT) {
            put(x->p, x->n, tag);
            x->p = NULL;
            x->n = 0;
        }
        size_t add = 1 + (r >> 40) % 512;
        if (!x->p) {
            x->n = 16 + add;
            x->p = get(x->n, tag);
            continue;
        }
        unsigned char *q = realloc(x->p, x->n + add);
        if (!q || memcmp(q, &tag, 8) != 0) {
            fprintf(stderr, "work: realloc %s\n", q ? "lost a buffer's contents" : "returned NULL");
            exit(1);
        }
        x->p = q;
        x->n += add;
        q[x->n - 1] = (unsigned char)tag;
        live += add;
        if (live > live_peak)
            live_peak = live;
    }
    for (long k = 0; k < nbufs; k++)
        if (b[k].p)
            put(b[k].p, b[k].n, (uint64_t)(uintptr_t)&b[k]);
    table_free(b, (size_t)nbufs, sizeof *b);
    printf("ok grow: %ld realloc steps over %ld buffers\n", n, nbufs);
}

/* ---- threads ------------------------------------------------------------------------------ */

enum { TSLOTS = 2000, HANDOFF = 16 };

struct mailbox {
    pthread_mutex_t lock;
    struct slot *items;
    long n, cap;
};

struct worker {
    pthread_t th;
    long id, iters;
    struct mailbox box;   /* blocks other threads handed to this one */
    struct worker *next;  /* who gets this thread's hand-offs */
};

static void drain(struct worker *w)
{
    pthread_mutex_lock(&w->box.lock);
    for (long i = 0; i < w->box.n; i++)
        free(w->box.items[i].p);
    w->box.n = 0;
    pthread_mutex_unlock(&w->box.lock);
}

static void *thread_main(void *arg)
{
    struct worker *w = arg;
    struct slot *s = calloc(TSLOTS, sizeof *s);
    uint64_t seed = (uint64_t)w->id + 100;
    for (long i = 0; i < w->iters; i++) {
        uint64_t r = rng(&seed);
        struct slot *x = &s[r % TSLOTS];
        if (x->p && i % HANDOFF == 0) {
            struct mailbox *m = &w->next->box;
            pthread_mutex_lock(&m->lock);
            if (m->n < m->cap)
                m->items[m->n++] = *x, x->p = NULL;
            pthread_mutex_unlock(&m->lock);
        }
        if (x->p)
            free(x->p);
        x->n = 16 + (r >> 40) % 1009;
        x->p = malloc(x->n);
        if (!x->p) {
            fprintf(stderr, "work: malloc returned NULL in a thread\n");
            exit(1);
        }
        memset(x->p, (int)i, x->n < 64 ? x->n : 64);
        if (i % 1024 == 0)
            drain(w);
    }
    for (long k = 0; k < TSLOTS; k++)
        free(s[k].p);
    free(s);
    return NULL;
}

static void threads(long nthreads, long iters)
{
    struct worker *w = calloc((size_t)nthreads, sizeof *w);
    for (long t = 0; t < nthreads; t++) {
        w[t].id = t;
        w[t].iters = iters;
        w[t].next = &w[(t + 1) % nthreads];
        pthread_mutex_init(&w[t].box.lock, NULL);
        w[t].box.cap = 4096;
        w[t].box.items = calloc(4096, sizeof(struct slot));
    }
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&w[t].th, NULL, thread_main, &w[t]) != 0)
            exit(1);
    for (long t = 0; t < nthreads; t++)
        pthread_join(w[t].th, NULL);
    for (long t = 0; t < nthreads; t++) {
        drain(&w[t]);
        free(w[t].box.items);
    }
    free(w);
    printf("ok threads: %ld threads x %ld replacements, 1 in %d handed to another thread\n",
           nthreads, iters, HANDOFF);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "pairs") == 0)
        pairs(arg(argc, argv, 2), (size_t)arg(argc, argv, 3));
    else if (strcmp(mode, "hold") == 0)
        hold(arg(argc, argv, 2), (size_t)arg(argc, argv, 3));
    else if (strcmp(mode, "mixed") == 0)
        mixed(arg(argc, argv, 2), arg(argc, argv, 3), (size_t)arg(argc, argv, 4));
    else if (strcmp(mode, "frag") == 0)
        frag(arg(argc, argv, 2), arg(argc, argv, 3));
    else if (strcmp(mode, "grow") == 0)
        grow(arg(argc, argv, 2), arg(argc, argv, 3));
    else if (strcmp(mode, "threads") == 0)
        threads(arg(argc, argv, 2), arg(argc, argv, 3));
    else {
        fprintf(stderr, "usage: work pairs|hold|mixed|frag|grow|threads ARGS (lab/bench/work.c)\n");
        return 2;
    }
    if (strcmp(mode, "threads") != 0)
        printf("live_peak %zu\n", live_peak);
    return 0;
}
