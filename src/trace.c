/* BRISK_OPTIONS=trace=FILE: every allocation call recorded in the format of docs/trace-format.md.
 *
 * The fast paths know nothing of it. With tracing on, every heap's direct table points at the
 * empty page and every page's `heap` is NULL (brisk_fast_off), so each malloc reaches
 * malloc_generic and each free reaches free_remote or free_slow, where the recording is. The
 * other entry points wrap their work in trace_begin/trace_end; calls brisk makes to itself
 * inside them (calloc's malloc, realloc's free) are not recorded, by a per-thread flag.
 *
 * Each thread fills its own buffer (mapped, never malloc'd) and writes it out in one write()
 * under a lock when full, at thread exit and at process exit. */
#include "internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define TBUF_BYTES  (64 * 1024)
#define REC_SIZE    40
#define TBUF_RECS   ((TBUF_BYTES - 64) / REC_SIZE)

typedef struct tbuf {
    struct tbuf *next;          /* every buffer, for the flush at exit */
    uint32_t thread;
    uint32_t n;                 /* records in rec */
    _Atomic int busy;           /* its thread is adding a record or writing it out */
    unsigned char rec[TBUF_RECS][REC_SIZE];
} tbuf_t;

_Static_assert(sizeof(tbuf_t) <= TBUF_BYTES, "trace buffer");

int brisk_trace_on;
static int trace_fd = -1;
static uint64_t start_ns;
static lock_t write_lock;      /* one chunk at a time in the file; guards `all` */
static tbuf_t *all;
static _Atomic uint32_t next_thread;
static __thread tbuf_t *tls_buf __attribute__((tls_model("initial-exec")));
static __thread int depth __attribute__((tls_model("initial-exec")));   /* traced calls open */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }

static void write_all(const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(trace_fd, p, n);
        if (w <= 0) return;   /* a full disk loses the rest of the trace, never the program */
        p += w;
        n -= (size_t)w;
    }
}

static void flush(tbuf_t *b) {
    if (b->n == 0) return;
    lock_acquire(&write_lock);
    write_all(&b->rec[0][0], (size_t)b->n * REC_SIZE);
    lock_release(&write_lock);
    b->n = 0;
}

static tbuf_t *buf_get(void) {
    tbuf_t *b = tls_buf;
    if (likely(b != NULL)) return b;
    void *m = os_map_any(TBUF_BYTES);
    if (m == NULL) return NULL;
    b = m;
    b->thread = atomic_fetch_add_explicit(&next_thread, 1, memory_order_relaxed);
    lock_acquire(&write_lock);
    b->next = all;
    all = b;
    lock_release(&write_lock);
    tls_buf = b;
    return b;
}

/* Opens FILE and writes the header; on failure one warning and no tracing. Runs once, from
 * brisk_global_init, before any heap exists. */
void trace_open(const char *path) {
    trace_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (trace_fd < 0) {
        brisk_write_err("brisk: trace: cannot open the trace file; not tracing\n");
        return;
    }
    if (trace_fd < 100) {   /* out of the way of programs that close or dup2 low descriptors */
        int fd = fcntl(trace_fd, F_DUPFD_CLOEXEC, 100);
        if (fd >= 0) {
            close(trace_fd);
            trace_fd = fd;
        }
    }
    start_ns = now_ns();
    unsigned char h[64] = "BRISKTR1";
    put32(h + 8, 1);
    put32(h + 12, 64);
    put32(h + 16, REC_SIZE);
    put32(h + 20, (uint32_t)getpid());
    put64(h + 24, start_ns);
    write_all(h, sizeof h);
    brisk_trace_on = 1;
    brisk_fast_off = 1;
}

/* 1 if the caller's call is to be recorded: the outermost traced call of this thread. Every
 * trace_begin is paired with a trace_leave. */
int trace_begin(void) {
    return depth++ == 0;
}

void trace_leave(void) {
    depth--;
}

/* The outermost realloc of this thread records itself at the moment its old block is about to
 * be freed (api.c: move_block); brisk_realloc then knows not to record it again. */
static __thread int realloc_done __attribute__((tls_model("initial-exec")));

void trace_realloc_now(const void *q, size_t n, const void *old) {
    if (depth != 1 || realloc_done) return;   /* not inside the recorded realloc itself */
    trace_record(TRACE_REALLOC, n, q, (uintptr_t)old);
    realloc_done = 1;
}

int trace_realloc_recorded(void) {
    int d = realloc_done;
    realloc_done = 0;
    return d;
}

void trace_record(int op, size_t size, const void *ptr, uintptr_t arg) {
    if (!brisk_trace_on) return;
    tbuf_t *b = buf_get();
    if (b == NULL) return;
    uint64_t t = now_ns() - start_ns;
    atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
    unsigned char *r = b->rec[b->n];
    memset(r, 0, REC_SIZE);
    r[0] = (unsigned char)op;
    put32(r + 4, b->thread);
    put64(r + 8, t);
    put64(r + 16, size);
    put64(r + 24, (uintptr_t)ptr);
    put64(r + 32, arg);
    if (++b->n == TBUF_RECS) flush(b);
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

void trace_thread_exit(void) {
    tbuf_t *b = tls_buf;
    if (!brisk_trace_on || b == NULL) return;
    trace_record(TRACE_THREAD_EXIT, 0, NULL, 0);
    atomic_store_explicit(&b->busy, 1, memory_order_relaxed);
    flush(b);
    atomic_store_explicit(&b->busy, 0, memory_order_release);
}

/* At exit: every buffer not being written this very moment. */
void trace_finish(void) {
    if (!brisk_trace_on) return;
    lock_acquire(&write_lock);
    tbuf_t *list = all;
    lock_release(&write_lock);
    for (tbuf_t *b = list; b; b = b->next) {
        int idle = 0;
        if (atomic_compare_exchange_strong(&b->busy, &idle, 1)) {
            flush(b);
            atomic_store(&b->busy, 0);
        }
    }
}

/* The child of a fork stops: its records would interleave with the parent's in one file. */
void trace_fork_child(void) {
    if (!brisk_trace_on) return;
    brisk_trace_on = 0;
    atomic_store_explicit(&write_lock.v, 0, memory_order_relaxed);
    if (tls_buf) tls_buf->n = 0;
    close(trace_fd);
}

/* ---- the traced slow halves of malloc and free ---- */

void *trace_malloc(heap_t *h, size_t n) {
    int rec = trace_begin();
    void *r = malloc_core(h, n);
    if (rec) trace_record(TRACE_MALLOC, n, r, 0);
    trace_leave();
    return r;
}
