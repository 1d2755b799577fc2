/* The only file that talks to the kernel: mappings, purging, time, randomness, errors, locks.
 * Nothing here may call malloc: it runs inside malloc. */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static size_t page_size_cache;

size_t os_page_size(void) {
    if (unlikely(page_size_cache == 0)) {
        long ps = sysconf(_SC_PAGESIZE);
        page_size_cache = ps > 0 ? (size_t)ps : 4096;
    }
    return page_size_cache;
}

/* BRISK_OPTIONS=test_fail_map=N, for tests: the N-th mapping call of the process fails as if the
 * kernel refused it, so every path that maps memory can be made to see a refusal. */
static _Atomic unsigned long map_calls;

static int map_refused(void) {
    if (likely(brisk_opt.test_fail_map == 0)) return 0;
    return atomic_fetch_add_explicit(&map_calls, 1, memory_order_relaxed) + 1 == brisk_opt.test_fail_map;
}

static void *raw_map(void *hint, size_t size) {
    if (unlikely(map_refused())) return NULL;
    void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Secure mode's guard pages: no access at all, so a run off the end faults at once. */
void os_guard(void *p, size_t n, int on) {
    int e = errno;
    mprotect(p, n, on ? PROT_NONE : PROT_READ | PROT_WRITE);
    errno = e;
}

/* A mapping anywhere, for brisk's own small structures (heap pool, trace buffers). */
void *os_map_any(size_t size) { return raw_map(NULL, align_up(size, os_page_size())); }

/* Where the next aligned mapping is tried first: one mmap call instead of map-and-trim when the
 * kernel honours the hint. Starts at a random place so brisk's layout is not predictable. */
static _Atomic uintptr_t map_hint;

static uintptr_t next_hint(size_t span) {
    uintptr_t h = atomic_load_explicit(&map_hint, memory_order_relaxed);
    if (h == 0) {
        /* 2 TiB + up to 1 TiB of random offset, in 4 MiB steps */
        uintptr_t start = ((uintptr_t)2 << 40) + ((os_random() & 0x3ffff) << SEG_SHIFT);
        atomic_compare_exchange_strong(&map_hint, &h, start);
        h = atomic_load_explicit(&map_hint, memory_order_relaxed);
    }
    return atomic_fetch_add_explicit(&map_hint, align_up(span, SEG_SIZE), memory_order_relaxed);
}

/* Maps `size` bytes such that (result + lead) is aligned to `align` (a power of two >= 4 MiB
 * apart from lead). Returns NULL when the kernel refuses. */
void *os_map(size_t size, size_t align, size_t lead) {
    if (size > PTRDIFF_MAX - align - SEG_SIZE) return NULL;
    size = align_up(size, os_page_size());
    if (lead == 0 && align == SEG_SIZE) {
        uintptr_t hint = next_hint(size);
        if (hint + size < ((uintptr_t)1 << ADDR_BITS)) {
            void *p = raw_map((void *)hint, size);
            if (p == NULL) return NULL;
            if (((uintptr_t)p & (align - 1)) == 0) return p;
            munmap(p, size);
        }
    }
    size_t over = size + align;
    void *raw = raw_map(NULL, over);
    if (raw == NULL) return NULL;
    uintptr_t r = (uintptr_t)raw;
    uintptr_t base = align_up(r + lead, align) - lead;
    if (base > r) munmap(raw, base - r);
    uintptr_t end = base + size, rend = r + over;
    if (rend > end) munmap((void *)end, rend - end);
    return (void *)base;
}

/* Held around every unmapping and moving remap, and by a heap dump while it reads brisk's
 * mappings through brisk_map. */
lock_t brisk_unmap_lock;

void os_unmap(void *p, size_t size) {
    int e = errno;
    lock_acquire(&brisk_unmap_lock);
    munmap(p, align_up(size, os_page_size()));
    lock_release(&brisk_unmap_lock);
    errno = e;
}

/* MADV_DONTNEED: RSS drops at once and the pages read back as zero, which calloc relies on
 * (purged slots and extent units are marked clean and never cleared again). The kernel refuses
 * locked pages (mlockall, mlock: EINVAL) and leaves them as they are; those are zeroed here, so
 * "purged" still means "reads as zero", only without the RSS drop locked memory cannot have. */
void os_purge(void *p, size_t size) {
    int e = errno;
    if (madvise(p, size, MADV_DONTNEED) != 0) memset(p, 0, size);
    errno = e;
}

/* Moves the pages of [old, old+old_size) to dest (which must be brisk's own reservation of
 * new_size bytes): no copy, the kernel moves page tables. */
int os_remap(void *old, size_t old_size, size_t new_size, void *dest) {
    if (unlikely(map_refused())) return 0;
    int e = errno;
    lock_acquire(&brisk_unmap_lock);
    void *p = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    lock_release(&brisk_unmap_lock);
    errno = e;
    return p == dest;
}

uint64_t os_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t os_random(void) {
    uint64_t r = 0;
    long n = syscall(SYS_getrandom, &r, sizeof r, 1 /* GRND_NONBLOCK */);
    if (n != (long)sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        r = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uintptr_t)&r ^ (uint64_t)getpid();
    }
    /* splitmix64 finaliser: spread whatever entropy there is over all bits */
    r += 0x9e3779b97f4a7c15ull;
    r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
    r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
    return r ^ (r >> 31);
}

void brisk_write_err(const char *s) { brisk_write_fd(2, s); }

void brisk_write_fd(int fd, const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR) continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* "brisk: free(): invalid pointer 0x7f...": formatted by hand, since stdio may allocate. */
void brisk_fatal(const char *func, const char *what, const void *p) {
    char buf[256], hex[19];
    uintptr_t v = (uintptr_t)p;
    int i = 18;
    hex[i] = 0;
    do {
        hex[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v && i > 2);
    hex[--i] = 'x';
    hex[--i] = '0';
    buf[0] = 0;
    strncat(buf, "brisk: ", sizeof buf - 1);
    strncat(buf, func, 64);
    strncat(buf, "(): ", sizeof buf - strlen(buf) - 1);
    strncat(buf, what, 100);
    strncat(buf, " ", sizeof buf - strlen(buf) - 1);
    strncat(buf, hex + i, sizeof buf - strlen(buf) - 1);
    strncat(buf, "\n", sizeof buf - strlen(buf) - 1);
    brisk_write_err(buf);
    abort();
}

void counter_add_committed(intptr_t delta) {
    size_t now = atomic_fetch_add_explicit(&brisk_cnt.committed, (size_t)delta, memory_order_relaxed) + (size_t)delta;
    if (delta > 0) {
        size_t peak = atomic_load_explicit(&brisk_cnt.peak_committed, memory_order_relaxed);
        while (now > peak &&
               !atomic_compare_exchange_weak_explicit(&brisk_cnt.peak_committed, &peak, now,
                                                      memory_order_relaxed, memory_order_relaxed)) {
        }
    }
}

/* Drepper's three-state futex mutex: 0 free, 1 held, 2 held with waiters. */
void lock_acquire(lock_t *l) {
    int c = 0;
    if (likely(atomic_compare_exchange_strong_explicit(&l->v, &c, 1, memory_order_acquire, memory_order_relaxed)))
        return;
    if (c != 2) c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    while (c != 0) {
        int e = errno;
        syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
        errno = e;
        c = atomic_exchange_explicit(&l->v, 2, memory_order_acquire);
    }
}

int lock_try(lock_t *l) {
    int c = 0;
    return atomic_compare_exchange_strong_explicit(&l->v, &c, 1, memory_order_acquire, memory_order_relaxed);
}

void lock_release(lock_t *l) {
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2) {
        int e = errno;
        syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        errno = e;
    }
}
