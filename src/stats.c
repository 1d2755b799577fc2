/* Statistics: gathered on demand from the counters the slow paths keep and from the heaps.
 * The calling thread's heap is read exactly; other heaps through the snapshot each takes at its
 * purge tick (exact for threads that have gone quiet or exited). */
#include "internal.h"
#include "brisk.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static _Atomic size_t peak_live;

/* Per-class totals over every heap: the calling thread's exactly, others' from their last tick. */
static void class_totals(uint64_t allocs[NCLASSES], uint64_t live[NCLASSES]) {
    heap_t *self = brisk_tls_heap;
    memset(allocs, 0, NCLASSES * sizeof allocs[0]);
    memset(live, 0, NCLASSES * sizeof live[0]);
    for (heap_t *h = heap_registry(); h; h = h->all_next) {
        uint64_t a[NCLASSES], l[NCLASSES];
        if (h == self && h->state == HEAP_OWNED) {
            heap_class_totals(h, a, l);
        } else {
            for (unsigned c = 0; c < NCLASSES; c++) {
                a[c] = __atomic_load_n(&h->snap_allocs[c], __ATOMIC_RELAXED);
                l[c] = __atomic_load_n(&h->snap_live[c], __ATOMIC_RELAXED);
            }
        }
        for (unsigned c = 0; c < NCLASSES; c++) {
            allocs[c] += a[c];
            live[c] += l[c];
        }
    }
}

static void peak_update(size_t live) {
    size_t p = LOAD(peak_live);
    while (live > p && !atomic_compare_exchange_weak_explicit(&peak_live, &p, live, memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
}

void brisk_get_stats(struct brisk_stats *s) __attribute__((visibility("default")));
void brisk_get_stats(struct brisk_stats *s) {
    uint64_t allocs[NCLASSES], live[NCLASSES];
    memset(s, 0, sizeof *s);
    class_totals(allocs, live);
    for (unsigned c = 0; c < NCLASSES; c++) {
        s->allocations += allocs[c];
        s->live_bytes += (size_t)live[c] * class_size(c);
    }
    for (heap_t *h = heap_registry(); h; h = h->all_next)
        s->remote_frees += __atomic_load_n(&h->remote_frees, __ATOMIC_RELAXED);
    s->allocations += LOAD(brisk_cnt.large_allocs);
    s->live_bytes += LOAD(brisk_cnt.large_live_bytes);
    s->mapped_bytes = LOAD(brisk_cnt.mapped);
    s->committed_bytes = LOAD(brisk_cnt.committed);
    s->peak_committed_bytes = LOAD(brisk_cnt.peak_committed);
    s->purged_bytes = LOAD(brisk_cnt.purged);
    s->large_live = LOAD(brisk_cnt.large_live);
    s->large_cached = LOAD(brisk_cnt.large_cached);
    s->heaps_created = LOAD(brisk_cnt.heaps_created);
    s->heaps_reclaimed = LOAD(brisk_cnt.heaps_reclaimed);
    peak_update(s->live_bytes);
    s->peak_live_bytes = LOAD(peak_live);
}

/* At each heap's tick: the process's live bytes from every heap's snapshot, for the peak. */
void stats_note_live(void) {
    size_t live = LOAD(brisk_cnt.large_live_bytes);
    for (heap_t *h = heap_registry(); h; h = h->all_next) live += __atomic_load_n(&h->live_snapshot, __ATOMIC_RELAXED);
    peak_update(live);
}

int brisk_get_class_stats(struct brisk_class_stats *out, int max) __attribute__((visibility("default")));
int brisk_get_class_stats(struct brisk_class_stats *out, int max) {
    uint64_t allocs[NCLASSES], live[NCLASSES];
    class_totals(allocs, live);
    int n = 0;
    for (unsigned c = 0; c < NCLASSES; c++) {
        if (allocs[c] == 0 && live[c] == 0) continue;
        if (out && n < max) out[n] = (struct brisk_class_stats){class_size(c), allocs[c], live[c]};
        n++;
    }
    return n;
}

/* A growing text in a caller's buffer: no stdio stream, so it is safe at exit and inside malloc. */
typedef struct { char *p; size_t n, len; } text_t;

__attribute__((format(printf, 2, 3))) static void add(text_t *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = t->len < t->n ? vsnprintf(t->p + t->len, t->n - t->len, fmt, ap) : 0;
    va_end(ap);
    if (k > 0) t->len = t->len + (size_t)k < t->n ? t->len + (size_t)k : t->n - 1;
}

static long peak_rss_kib(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

/* What a report shows: the totals and the size classes in use. */
typedef struct {
    struct brisk_stats s;
    struct brisk_class_stats cs[NCLASSES];
    int n;
} report_t;

static void stats_format(text_t *t, const report_t *r) {
    const struct brisk_stats s = r->s;
    const struct brisk_class_stats *cs = r->cs;
    int n = r->n;
    add(t,
        "brisk: stats (pid %d)\n"
        "  allocations          %zu\n"
        "  live bytes           %zu\n"
        "  peak live bytes      %zu (sampled)\n"
        "  mapped bytes         %zu\n"
        "  committed bytes      %zu\n"
        "  peak committed bytes %zu\n"
        "  purged bytes         %zu\n"
        "  fragmentation        %.2f (committed / live)\n"
        "  large blocks live    %zu\n"
        "  large blocks cached  %zu\n"
        "  thread heaps         %zu created, %zu reclaimed\n"
        "  remote frees         %zu\n"
        "  peak RSS (process)   %ld KiB\n",
        (int)getpid(), s.allocations, s.live_bytes, s.peak_live_bytes, s.mapped_bytes, s.committed_bytes,
        s.peak_committed_bytes, s.purged_bytes,
        s.live_bytes ? (double)s.committed_bytes / (double)s.live_bytes : 0.0, s.large_live, s.large_cached,
        s.heaps_created, s.heaps_reclaimed, s.remote_frees, peak_rss_kib());
    add(t, "  size class   allocations   live blocks    live bytes\n");
    for (int i = 0; i < n && i < NCLASSES; i++)
        add(t, "  %10zu %13zu %13zu %13zu\n", cs[i].block_size, cs[i].allocations, cs[i].live_blocks,
            cs[i].live_blocks * cs[i].block_size);
    add(t, "  %10s %13zu %13zu %13zu\n", "large", LOAD(brisk_cnt.large_allocs), s.large_live,
        LOAD(brisk_cnt.large_live_bytes));
}

static void stats_format_json(text_t *t, const report_t *r) {
    const struct brisk_stats s = r->s;
    const struct brisk_class_stats *cs = r->cs;
    int n = r->n;
    add(t,
        "{\"pid\":%d,\"allocations\":%zu,\"live_bytes\":%zu,\"peak_live_bytes\":%zu,\"mapped_bytes\":%zu,"
        "\"committed_bytes\":%zu,\"peak_committed_bytes\":%zu,\"purged_bytes\":%zu,\"large_live\":%zu,"
        "\"large_cached\":%zu,\"heaps_created\":%zu,\"heaps_reclaimed\":%zu,\"remote_frees\":%zu,"
        "\"peak_rss_kib\":%ld,\"classes\":[",
        (int)getpid(), s.allocations, s.live_bytes, s.peak_live_bytes, s.mapped_bytes, s.committed_bytes,
        s.peak_committed_bytes, s.purged_bytes, s.large_live, s.large_cached, s.heaps_created,
        s.heaps_reclaimed, s.remote_frees, peak_rss_kib());
    for (int i = 0; i < n && i < NCLASSES; i++)
        add(t, "%s{\"block_size\":%zu,\"allocations\":%zu,\"live_blocks\":%zu}", i ? "," : "", cs[i].block_size,
            cs[i].allocations, cs[i].live_blocks);
    add(t, "],\"large\":{\"allocations\":%zu,\"live\":%zu,\"live_bytes\":%zu}}\n", LOAD(brisk_cnt.large_allocs),
        s.large_live, LOAD(brisk_cnt.large_live_bytes));
}

#define REPORT_MAX 16384

/* The report (table or JSON) into a buffer, then out through fd or a stream. */
static void report_to(int fd, FILE *out, int json) {
    char buf[REPORT_MAX];
    text_t t = {buf, sizeof buf, 0};
    report_t r;
    buf[0] = 0;
    brisk_get_stats(&r.s);
    r.n = brisk_get_class_stats(r.cs, NCLASSES);
    if (json) stats_format_json(&t, &r);
    else stats_format(&t, &r);
    if (out) fputs(buf, out);
    else brisk_write_fd(fd, buf);
}

void stats_print_fd(int fd) { report_to(fd, NULL, brisk_opt.stats == 2); }

void brisk_stats_print(FILE *out) __attribute__((visibility("default")));
void brisk_stats_print(FILE *out) { report_to(-1, out ? out : stderr, 0); }

void brisk_stats_print_json(FILE *out) __attribute__((visibility("default")));
void brisk_stats_print_json(FILE *out) { report_to(-1, out ? out : stderr, 1); }

struct mallinfo2 stats_mallinfo2(void) INTERNAL;
struct mallinfo2 stats_mallinfo2(void) {
    struct brisk_stats s;
    struct mallinfo2 m;
    brisk_get_stats(&s);
    memset(&m, 0, sizeof m);
    size_t large_bytes = LOAD(brisk_cnt.large_live_bytes) + LOAD(brisk_cnt.large_cached_bytes);
    m.arena = s.mapped_bytes > large_bytes ? s.mapped_bytes - large_bytes : 0;   /* segments */
    m.hblks = s.large_live;
    m.hblkhd = LOAD(brisk_cnt.large_live_bytes);
    m.uordblks = s.live_bytes;    /* every size, large blocks included */
    m.fordblks = s.committed_bytes > s.live_bytes ? s.committed_bytes - s.live_bytes : 0;
    m.usmblks = s.peak_committed_bytes;
    return m;
}

void stats_malloc_stats(void) INTERNAL;
void stats_malloc_stats(void) {
    struct mallinfo2 m = stats_mallinfo2();
    fprintf(stderr,
            "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
            "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
            "max mmap regions = %10zu\nmax mmap bytes   = %10zu\n",
            m.arena, m.uordblks > m.hblkhd ? m.uordblks - m.hblkhd : 0, m.arena + m.hblkhd, m.uordblks,
            m.hblks, m.hblkhd);
    brisk_stats_print(stderr);
}

int stats_malloc_info(int options, FILE *fp) INTERNAL;
int stats_malloc_info(int options, FILE *fp) {
    if (options != 0 || fp == NULL) {
        errno = EINVAL;
        return -1;
    }
    struct brisk_stats s;
    brisk_get_stats(&s);
    fprintf(fp,
            "<malloc version=\"1\" allocator=\"brisk\">\n"
            "<heap nr=\"0\">\n<sizes>\n</sizes>\n"
            "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
            "<total type=\"rest\" count=\"0\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "</heap>\n"
            "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
            "<system type=\"current\" size=\"%zu\"/>\n"
            "<system type=\"max\" size=\"%zu\"/>\n"
            "<aspace type=\"total\" size=\"%zu\"/>\n"
            "<brisk allocations=\"%zu\" live=\"%zu\" purged=\"%zu\" heaps=\"%zu\" remote_frees=\"%zu\"/>\n"
            "</malloc>\n",
            s.committed_bytes > s.live_bytes ? s.committed_bytes - s.live_bytes : 0, s.committed_bytes,
            s.peak_committed_bytes, s.mapped_bytes, s.large_live, LOAD(brisk_cnt.large_live_bytes),
            s.committed_bytes, s.peak_committed_bytes, s.mapped_bytes, s.allocations, s.live_bytes,
            s.purged_bytes, s.heaps_created, s.remote_frees);
    return 0;
}

/* glibc's parameters. M_MMAP_THRESHOLD moves the size above which blocks get their own mapping
 * (brisk's classes end at 256 KiB, so values above that mean 256 KiB, and below 1 KiB mean
 * 1 KiB); glibc's limit of 32 MiB holds, a larger or negative value is refused (0).
 * M_TRIM_THRESHOLD is how much memory a heap frees before its purge tick comes early
 * (default 8 MiB; what was free before it goes as the heap needs fresh memory; 0: at every
 * slow path, at once). The others
 * tune parts of glibc's design brisk does not have (fast bins, arenas, the top chunk, trimming:
 * brisk purges after purge_delay_ms): accepted (1), no effect, as documented in the README.
 * Unknown parameters: 0, as glibc. */
int stats_mallopt(int param, int value) INTERNAL;
int stats_mallopt(int param, int value) {
    switch (param) {
    case M_MMAP_THRESHOLD:
        if (value < 0 || value > 32 * 1024 * 1024) return 0;
        brisk_opt.large_min = value < MAX_SMALL ? MAX_SMALL : value > MAX_MEDIUM ? MAX_MEDIUM : (size_t)value;
        return 1;
    case M_TRIM_THRESHOLD:   /* memory freed that brings the purge tick on */
        if (value < 0) return 0;
        brisk_opt.tick_freed_bytes = (size_t)value;
        return 1;
    case M_MXFAST: case M_TOP_PAD: case M_MMAP_MAX:
    case M_CHECK_ACTION: case M_PERTURB: case M_ARENA_TEST: case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}
