/* Statistics: gathered on demand from the counters the slow paths keep and from the heaps.
 * The calling thread's heap is read exactly; other heaps through the snapshot each takes at its
 * purge tick (exact for threads that have gone quiet or exited). */
#include "internal.h"
#include "brisk.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void brisk_get_stats(struct brisk_stats *s) __attribute__((visibility("default")));
void brisk_get_stats(struct brisk_stats *s) {
    memset(s, 0, sizeof *s);
    heap_t *self = brisk_tls_heap;
    for (heap_t *h = heap_registry(); h; h = h->all_next) {
        s->allocations += __atomic_load_n(&h->allocs, __ATOMIC_RELAXED);
        s->remote_frees += __atomic_load_n(&h->remote_frees, __ATOMIC_RELAXED);
        s->live_bytes += h == self ? heap_live_bytes(h) : __atomic_load_n(&h->live_snapshot, __ATOMIC_RELAXED);
    }
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
}

/* snprintf into a caller's buffer: no stdio stream, so it is safe at exit and inside malloc. */
static int stats_format(char *buf, size_t n) {
    struct brisk_stats s;
    struct rusage ru;
    brisk_get_stats(&s);
    long maxrss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
    return snprintf(buf, n,
                    "brisk: stats (pid %d)\n"
                    "  allocations          %zu\n"
                    "  live bytes           %zu\n"
                    "  mapped bytes         %zu\n"
                    "  committed bytes      %zu\n"
                    "  peak committed bytes %zu\n"
                    "  purged bytes         %zu\n"
                    "  large blocks live    %zu\n"
                    "  large blocks cached  %zu\n"
                    "  thread heaps         %zu created, %zu reclaimed\n"
                    "  remote frees         %zu\n"
                    "  peak RSS (process)   %ld KiB\n",
                    (int)getpid(), s.allocations, s.live_bytes, s.mapped_bytes, s.committed_bytes,
                    s.peak_committed_bytes, s.purged_bytes, s.large_live, s.large_cached,
                    s.heaps_created, s.heaps_reclaimed, s.remote_frees, maxrss);
}

void stats_print_fd(int fd) {
    char buf[1024];
    int n = stats_format(buf, sizeof buf);
    if (n > 0) brisk_write_fd(fd, buf);
}

void brisk_stats_print(FILE *out) __attribute__((visibility("default")));
void brisk_stats_print(FILE *out) {
    char buf[1024];
    if (stats_format(buf, sizeof buf) > 0) fputs(buf, out ? out : stderr);
}

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

/* glibc's parameters are accepted (1) where brisk has a counterpart or nothing to tune; brisk's
 * geometry does not depend on them yet. Unknown parameters: 0, as glibc. */
int stats_mallopt(int param, int value) INTERNAL;
int stats_mallopt(int param, int value) {
    (void)value;
    switch (param) {
    case M_MXFAST: case M_TRIM_THRESHOLD: case M_TOP_PAD: case M_MMAP_THRESHOLD: case M_MMAP_MAX:
    case M_CHECK_ACTION: case M_PERTURB: case M_ARENA_TEST: case M_ARENA_MAX:
        return 1;
    default:
        return 0;
    }
}
