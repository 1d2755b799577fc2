/* Trace reader: header checks, record decoding, the time-ordered merge (see tracefile.h). */
#include "tracefile.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mm.h"

/* Release the mapping behind the merge in steps this large: madvise is a system call. */
#define DROP_STEP (64u << 20)

static uint32_t le32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return le32toh(v);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

int trace_open(struct trace *t, const char *path, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    t->len = (size_t)st.st_size;
    if (t->len < TRACE_HEADER_MIN) {
        snprintf(err, errlen, "%s: too short for a trace header (%zu bytes)", path, t->len);
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, t->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        return -1;
    }
    t->base = p;
    madvise(p, t->len, MADV_SEQUENTIAL);
    if (memcmp(t->base, TRACE_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a brisk trace (no magic " TRACE_MAGIC ")", path);
        trace_close(t);
        return -1;
    }
    t->version = le32(t->base + 8);
    t->hdr_size = le32(t->base + 12);
    t->rec_size = le32(t->base + 16);
    t->pid = le32(t->base + 20);
    t->start_ns = le64(t->base + 24);
    /* Larger headers or records are a later version's additions: the known fields stay first. */
    if (t->version < 1 || t->hdr_size < TRACE_HEADER_MIN || t->hdr_size > t->len ||
        t->rec_size < TRACE_RECORD_MIN || t->rec_size > 4096) {
        snprintf(err, errlen, "%s: bad header (version %u, header %zu, record %zu bytes)", path,
                 t->version, t->hdr_size, t->rec_size);
        trace_close(t);
        return -1;
    }
    t->nrec = (t->len - t->hdr_size) / t->rec_size;
    t->trailing = (t->len - t->hdr_size) % t->rec_size;
    return 0;
}

void trace_close(struct trace *t)
{
    if (t->base)
        munmap((void *)t->base, t->len);
    t->base = NULL;
}

void trace_get(const struct trace *t, uint64_t i, struct trec *r)
{
    const unsigned char *p = t->base + t->hdr_size + i * t->rec_size;
    r->op = p[0];
    r->thread = le32(p + 4);
    r->time = le64(p + 8);
    r->size = le64(p + 16);
    r->ptr = le64(p + 24);
    r->arg = le64(p + 32);
}

static uint64_t time_at(const struct trace *t, uint64_t i)
{
    return le64(t->base + t->hdr_size + i * t->rec_size + 8);
}

unsigned trace_effect(const struct trec *r, uint64_t *old)
{
    *old = 0;
    switch (r->op) {
    case OP_MALLOC:
    case OP_CALLOC:
    case OP_ALIGNED:
        return r->ptr ? EFF_START : EFF_FAILED;
    case OP_FREE:   /* free(NULL) is not recorded; a 0 here ends nothing */
        *old = r->ptr;
        return r->ptr ? EFF_END : 0;
    case OP_REALLOC:
        if (r->arg == 0)
            return EFF_REALLOC_NULL | (r->ptr ? EFF_START : EFF_FAILED);
        if (r->ptr == 0 && r->size != 0)   /* failed: the old block stays */
            return EFF_FAILED;
        *old = r->arg;
        return r->ptr ? EFF_END | EFF_START : EFF_END | EFF_REALLOC_FREE;
    }
    return 0;
}

const char *trace_op_name(unsigned op)
{
    static const char *const names[] = {"?", "malloc", "free", "calloc", "realloc", "aligned",
                                        "thread_exit"};
    return op <= OP_MAX ? names[op] : "?";
}

/* Drops file pages below record index I from the mapping (they are clean: the page cache
 * keeps them as long as the system wants). */
static void drop_below(struct tmerge *m, uint64_t i)
{
    uint64_t off = m->t->hdr_size + i * m->t->rec_size;
    off &= ~(uint64_t)4095;
    if (off >= m->dropped + DROP_STEP) {
        madvise((void *)(m->t->base + m->dropped), off - m->dropped, MADV_DONTNEED);
        m->dropped = off;
    }
}

static int run_less(const struct tmerge *m, uint32_t a, uint32_t b)
{
    return m->key[a] < m->key[b] || (m->key[a] == m->key[b] && a < b);
}

static void sift_down(struct tmerge *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, best = i;
        if (l < m->nheap && run_less(m, m->heap[l], m->heap[best]))
            best = l;
        if (l + 1 < m->nheap && run_less(m, m->heap[l + 1], m->heap[best]))
            best = l + 1;
        if (best == i)
            return;
        uint32_t tmp = m->heap[i];
        m->heap[i] = m->heap[best];
        m->heap[best] = tmp;
        i = best;
    }
}

void tmerge_init(struct tmerge *m, const struct trace *t)
{
    memset(m, 0, sizeof *m);
    m->t = t;
    struct mmvec runs;
    mmvec_init(&runs, sizeof(struct tmerge_run));
    uint64_t prev = 0;
    for (uint64_t i = 0; i < t->nrec; i++) {
        uint64_t tm = time_at(t, i);
        if (i == 0 || tm < prev) {
            struct tmerge_run *r = mmvec_push(&runs);
            r->next = i;
            r->first = tm;
        }
        MMVEC_AT(&runs, struct tmerge_run, runs.n - 1).end = i + 1;
        prev = tm;
        drop_below(m, i);
    }
    madvise((void *)t->base, t->len, MADV_DONTNEED);
    m->dropped = 0;
    if (runs.n > UINT32_MAX)
        die("the trace has %zu out-of-order sections; at most %u are supported", runs.n,
            UINT32_MAX);
    m->runs = runs.p;
    m->nruns = runs.n;
    m->runs_bytes = runs.cap * runs.esize;
    m->heap = mm_alloc(m->nruns * sizeof *m->heap + 1);
    m->key = mm_alloc(m->nruns * sizeof *m->key + 1);
    for (size_t r = 0; r < m->nruns; r++) {
        m->key[r] = m->runs[r].first;
        m->heap[r] = (uint32_t)r;
    }
    m->nheap = m->nruns;
    for (size_t i = m->nheap / 2; i-- > 0;)
        sift_down(m, i);
}

/* The merge itself: the next record in time order, 0 at the end. */
static int merge_one(struct tmerge *m, struct trec *r)
{
    if (m->nheap == 0)
        return 0;
    uint32_t run = m->heap[0];
    struct tmerge_run *rr = &m->runs[run];
    trace_get(m->t, rr->next++, r);
    if (rr->next < rr->end) {
        m->key[run] = time_at(m->t, rr->next);
    } else {
        m->heap[0] = m->heap[--m->nheap];
        while (m->lo_run < m->nruns && m->runs[m->lo_run].next == m->runs[m->lo_run].end)
            m->lo_run++;
    }
    sift_down(m, 0);
    if ((++m->delivered & 0xffff) == 0 && m->lo_run < m->nruns)
        drop_below(m, m->runs[m->lo_run].next);
    return 1;
}

int tmerge_next(struct tmerge *m, struct trec *r, const struct trec **upcoming)
{
    *upcoming = NULL;
    if (m->delivered == 0 && m->ahead_n == 0)   /* the first call fills the queue */
        while (m->ahead_n < TMERGE_AHEAD &&
               merge_one(m, &m->ahead[(m->ahead_head + m->ahead_n) % TMERGE_AHEAD]))
            m->ahead_n++;
    if (m->ahead_n == 0)
        return 0;
    *r = m->ahead[m->ahead_head];
    struct trec *slot = &m->ahead[m->ahead_head];
    m->ahead_head = (m->ahead_head + 1) % TMERGE_AHEAD;
    if (merge_one(m, slot))      /* the freed place, now the last of the queue */
        *upcoming = slot;
    else
        m->ahead_n--;
    return 1;
}

void tmerge_free(struct tmerge *m)
{
    mm_free(m->runs, m->runs_bytes);
    mm_free(m->heap, m->nruns * sizeof *m->heap + 1);
    mm_free(m->key, m->nruns * sizeof *m->key + 1);
    memset(m, 0, sizeof *m);
}
