/* Heap dumps (docs/trace-format.md, "Heap dump"): brisk_heap_dump(fd) writes the layout of the
 * heap as JSON lines; BRISK_OPTIONS=heapmap=FILE writes one at exit and one per SIGUSR2.
 *
 * Segments and large blocks are found through brisk_map, not through the heaps' lists, which
 * their owner threads change without locks: a segment's page array never moves, and the only
 * danger, a mapping going back to the OS while it is read, is ruled out by holding the unmap
 * lock (os.c) for the whole dump. */
#include "internal.h"
#include "brisk.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

_Atomic int brisk_heapdump_pending;
static _Atomic unsigned dump_seq;

typedef struct { int fd; char buf[4096]; size_t n; } out_t;

static void out_flush(out_t *o) {
    size_t off = 0;
    while (off < o->n) {
        ssize_t w = write(o->fd, o->buf + off, o->n - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    o->n = 0;
}

__attribute__((format(printf, 2, 3))) static void out(out_t *o, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k <= 0) return;
    if ((size_t)k >= sizeof line) k = sizeof line - 1;
    if (o->n + (size_t)k > sizeof o->buf) out_flush(o);
    memcpy(o->buf + o->n, line, (size_t)k);
    o->n += (size_t)k;
}

/* CLOCK_MONOTONIC, as a trace's start time: a dump can be placed on a trace's timeline */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int heap_number(const heap_t *h) {
    int i = 0;
    for (heap_t *r = heap_registry(); r; r = r->all_next, i++)
        if (r == h) return i;
    return -1;
}

/* Bytes of each slot of s in RAM now (mincore), slot 0's without the segment header (returned:
 * the header's), or -1 each if the kernel does not say. */
static long slots_resident(segment_t *s, long res[SLOTS]) {
    size_t ps = os_page_size(), per = SLOT_SIZE / ps, hdr = 0;
    unsigned char vec[SEG_SIZE / 4096];
    if (ps < 4096 || SLOT_SIZE % ps != 0 || SEG_HDR % ps != 0 || mincore(s, SEG_SIZE, vec) != 0) {
        for (unsigned k = 0; k < SLOTS; k++) res[k] = -1;
        return -1;
    }
    for (unsigned k = 0; k < SLOTS; k++) {
        size_t n = 0;
        for (size_t j = k * per; j < (k + 1) * per; j++) n += vec[j] & 1;
        res[k] = (long)(n * ps);
    }
    for (size_t j = 0; j < SEG_HDR / ps; j++) hdr += (vec[j] & 1) * ps;
    res[0] -= (long)hdr;
    return (long)hdr;
}

static void dump_segment(out_t *o, segment_t *s) {
    heap_t *h = s->heap;
    const char *state = h == NULL ? "cache" : h->state == HEAP_ORPHAN ? "orphan" : "owned";
    long res[SLOTS], total = slots_resident(s, res);
    for (unsigned k = 0; k < SLOTS && total >= 0; k++) total += res[k];
    out(o, "{\"type\":\"segment\",\"addr\":\"%p\",\"heap\":%d,\"state\":\"%s\",\"resident\":%ld}\n",
        (void *)s, h ? heap_number(h) : -1, state, total);
    for (unsigned i = 0; i < SLOTS; i++) {
        page_t *pg = &s->pages[i];
        if (pg->head != pg || pg->owner == NULL) continue;   /* not the first slot of a page */
        uintptr_t span = (uintptr_t)s + (uintptr_t)pg->slot * SLOT_SIZE;
        size_t committed = align_up(pg->start + pg->limit - span, 4096);
        if (pg->slot == 0) committed -= SEG_HDR;
        if (pg->cls == EXT_CLS) committed = extent_committed(pg);   /* its `limit` is unused */
        /* its slots' bytes in RAM, but for slots lent to class pages (their own lines count
         * them) and the segment's header */
        long resident = 0;
        for (unsigned k = pg->slot; k < pg->slot + pg->nslots && k < SLOTS && resident >= 0; k++)
            if (LOAD_RELAXED(s->pages[k].head) == pg) resident = res[k] < 0 ? -1 : resident + res[k];
        out(o, "{\"type\":\"page\",\"segment\":\"%p\",\"slot\":%u,\"nslots\":%u,\"class\":%u,"
               "\"block_size\":%u,\"capacity\":%u,\"used\":%u,\"committed\":%zu,\"resident\":%ld}\n",
            (void *)s, pg->slot, pg->nslots, pg->cls, pg->bsize, pg->reserved, page_live(pg), committed, resident);
    }
}

static void dump_stats(out_t *o) {
    struct brisk_stats st;
    brisk_get_stats(&st);
    out(o, "{\"type\":\"stats\",\"allocations\":%zu,\"live_bytes\":%zu,\"mapped_bytes\":%zu,"
           "\"committed_bytes\":%zu,\"peak_committed_bytes\":%zu,\"purged_bytes\":%zu,"
           "\"large_live\":%zu,\"large_cached\":%zu,\"heaps_created\":%zu,\"heaps_reclaimed\":%zu,"
           "\"remote_frees\":%zu}\n",
        st.allocations, st.live_bytes, st.mapped_bytes, st.committed_bytes, st.peak_committed_bytes,
        st.purged_bytes, st.large_live, st.large_cached, st.heaps_created, st.heaps_reclaimed,
        st.remote_frees);
}

/* The unit after u that may hold an entry: the next one, or the first of the next page of the
 * map that ever held one (MAP_N if none); map_next(SIZE_MAX) is the first. */
static size_t map_next(size_t u) {
    size_t n = u + 1;
    if (n % MAP_PAGE_UNITS != 0) return n;
    for (size_t pg = n / MAP_PAGE_UNITS; pg < MAP_N / MAP_PAGE_UNITS; pg++)
        if ((LOAD_RELAXED(brisk_map_pages[pg / 64]) >> (pg % 64)) & 1) return pg * MAP_PAGE_UNITS;
    return MAP_N;
}

__attribute__((visibility("default"))) int brisk_heap_dump(int fd) {
    if (fd < 0) return -1;
    brisk_global_init();
    out_t o = {.fd = fd, .n = 0};
    out(&o, "{\"type\":\"process\",\"pid\":%d,\"time_ns\":%llu,\"segment_size\":%zu,\"slot_size\":%zu,"
            "\"slots\":%u}\n",
        (int)getpid(), (unsigned long long)now_ns(), (size_t)SEG_SIZE,
        (size_t)SLOT_SIZE, (unsigned)SLOTS);
    lock_acquire(&brisk_unmap_lock);
    for (size_t u = map_next(SIZE_MAX); u < MAP_N; u = map_next(u))
        if (LOAD_RELAXED(brisk_map[u]) == MAP_SEG) dump_segment(&o, (segment_t *)(u << SEG_SHIFT));
    for (size_t u = map_next(SIZE_MAX); u < MAP_N; u = map_next(u)) {
        if (LOAD_RELAXED(brisk_map[u]) != MAP_LARGE_HERE) continue;
        size_t size, mapped;
        int cached;
        if (large_describe(u << SEG_SHIFT, &size, &mapped, &cached))
            out(&o, "{\"type\":\"large\",\"addr\":\"%p\",\"size\":%zu,\"mapped\":%zu,\"cached\":%s}\n",
                (void *)(u << SEG_SHIFT), size, mapped, cached ? "true" : "false");
    }
    lock_release(&brisk_unmap_lock);
    dump_stats(&o);
    out_flush(&o);
    return 0;
}

static void dump_to(const char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        brisk_write_err("brisk: heapmap: cannot open the dump file\n");
        return;
    }
    brisk_heap_dump(fd);
    close(fd);
}

void heapdump_at_exit(void) { dump_to(brisk_opt.heapmap); }

/* From a slow path of the thread that comes first after a SIGUSR2. */
void heapdump_poll(void) {
    if (!atomic_exchange_explicit(&brisk_heapdump_pending, 0, memory_order_acquire)) return;
    char path[OPT_PATH_MAX + 16];
    unsigned n = atomic_fetch_add_explicit(&dump_seq, 1, memory_order_relaxed) + 1;
    snprintf(path, sizeof path, "%s.%u", brisk_opt.heapmap, n);
    dump_to(path);
}

static void on_sigusr2(int sig) {
    (void)sig;
    atomic_store_explicit(&brisk_heapdump_pending, 1, memory_order_release);
}

void heapdump_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
}
