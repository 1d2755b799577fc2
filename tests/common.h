/* Shared helpers of brisk's test programs: CHECK macros that stop at the first failure with a
 * clear message, a seeded random generator, content patterns and memory figures from /proc.
 *
 * Reporting never allocates (the allocator under test may be what broke): messages are
 * formatted into a stack buffer and written with write(2).
 *
 * API selection: a test source compiled with -DUSE_PREFIX calls brisk's prefixed functions
 * (brisk_malloc...), otherwise the overriding standard names (malloc...). Write T_malloc etc. */
#ifndef BRISK_TESTS_COMMON_H
#define BRISK_TESTS_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brisk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* glibc 2.36 declares neither the C23 sized frees nor its internal names; brisk exports them. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);
void *__libc_malloc(size_t size);
void __libc_free(void *ptr);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *ptr, size_t size);
void *__libc_memalign(size_t alignment, size_t size);
int __posix_memalign(void **memptr, size_t alignment, size_t size);

#ifdef __cplusplus
}
#endif

#ifdef USE_PREFIX
#define API_NAME "prefixed"
#define T_malloc brisk_malloc
#define T_free brisk_free
#define T_calloc brisk_calloc
#define T_realloc brisk_realloc
#define T_reallocarray brisk_reallocarray
#define T_posix_memalign brisk_posix_memalign
#define T_aligned_alloc brisk_aligned_alloc
#define T_memalign brisk_memalign
#define T_valloc brisk_valloc
#define T_pvalloc brisk_pvalloc
#define T_usable brisk_malloc_usable_size
#define T_free_sized brisk_free_sized
#define T_free_aligned_sized brisk_free_aligned_sized
#else
#define API_NAME "standard"
#define T_malloc malloc
#define T_free free
#define T_calloc calloc
#define T_realloc realloc
#define T_reallocarray reallocarray
#define T_posix_memalign posix_memalign
#define T_aligned_alloc aligned_alloc
#define T_memalign memalign
#define T_valloc valloc
#define T_pvalloc pvalloc
#define T_usable malloc_usable_size
#define T_free_sized free_sized
#define T_free_aligned_sized free_aligned_sized
#endif

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* ---- reporting ---------------------------------------------------------------------------- */

static inline void t_write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return;
        }
        s += w;
        n -= (size_t)w;
    }
}

/* printf to fd without malloc (vsnprintf into a stack buffer; no %ls or huge widths). */
__attribute__((format(printf, 2, 3))) static inline void t_dprintf(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    t_write_all(fd, buf, (size_t)n);
}

#define t_log(...) t_dprintf(1, __VA_ARGS__)

__attribute__((noreturn, format(printf, 4, 5))) static inline void
t_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "FAILED CHECK %s:%d: %s", file, line, cond);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    /* fmt always starts with a space (see CHECK); a lone space means no message */
    if (fmt != NULL && fmt[0] != '\0' && fmt[1] != '\0' && (size_t)n < sizeof buf - 4) {
        buf[n++] = ':';
        buf[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt + 1, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n >= sizeof buf)
            n = (int)sizeof buf - 1;
    }
    t_write_all(2, buf, (size_t)n);
    t_write_all(2, "\n", 1);
    _exit(1);
}

/* CHECK(cond) or CHECK(cond, "format", args...): stop the program at the first failure. */
#define CHECK(cond, ...)                                                                         \
    do {                                                                                         \
        if (!(cond))                                                                             \
            t_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                                  \
    } while (0)

/* RSS figures mean nothing under ThreadSanitizer (its shadow memory is in them): checks of
 * brisk's memory use are made in every other build. */
#if defined(__SANITIZE_THREAD__)
#define RSS_CHECKS 0
#else
#define RSS_CHECKS 1
#endif

/* ---- keeping the compiler honest -------------------------------------------------------- */

/* Values the optimiser cannot see through (so malloc(SIZE_MAX) is not folded or warned about,
 * and a pointer to a stack array can be passed to free on purpose). */
static inline size_t opaque_size(size_t x)
{
    __asm__ volatile("" : "+r"(x));
    return x;
}

static inline void *opaque_ptr(void *p)
{
    __asm__ volatile("" : "+r"(p));
    return p;
}

static inline int is_aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* ---- random numbers (fixed seeds, reproducible) ----------------------------------------- */

struct rng {
    uint64_t s;
};

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t rng_next(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

/* Uniform-ish in [0, n). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
    return n ? rng_next(r) % n : 0;
}

/* ---- content patterns ------------------------------------------------------------------- */

/* The pattern of a block: derived from its address and size when it is filled. */
static inline uint64_t pattern_seed(const void *p, size_t n)
{
    return mix64((uint64_t)(uintptr_t)p ^ ((uint64_t)n << 17) ^ 0x5bd1e995ULL);
}

static inline uint8_t pattern_byte(uint64_t seed, size_t i)
{
    uint64_t w = seed ^ ((uint64_t)(i >> 3) * 0x9e3779b97f4a7c15ULL);
    return (uint8_t)(w >> ((i & 7) * 8));
}

static inline void fill_pattern(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = (unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = seed ^ ((uint64_t)(i >> 3) * 0x9e3779b97f4a7c15ULL);
        memcpy(b + i, &w, 8);
    }
    for (; i < n; i++)
        b[i] = pattern_byte(seed, i);
}

/* Returns the offset of the first wrong byte in [0, n), or (size_t)-1 when all are right. */
static inline size_t check_pattern(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = seed ^ ((uint64_t)(i >> 3) * 0x9e3779b97f4a7c15ULL), got;
        memcpy(&got, b + i, 8);
        if (got != w) {
            for (size_t j = i; j < i + 8; j++)
                if (b[j] != pattern_byte(seed, j))
                    return j;
        }
    }
    for (; i < n; i++)
        if (b[i] != pattern_byte(seed, i))
            return i;
    return (size_t)-1;
}

/* Returns the offset of the first non-zero byte, or (size_t)-1. */
static inline size_t check_zero(const void *p, size_t n)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != 0)
            break;
    }
    for (; i < n; i++)
        if (b[i] != 0)
            return i;
    return (size_t)-1;
}

/* Write one byte in every page of [p, p+n) and the last byte. */
static inline void touch_pages(void *p, size_t n)
{
    volatile unsigned char *b = (volatile unsigned char *)p;
    for (size_t i = 0; i < n; i += 4096)
        b[i] = (unsigned char)(i >> 12 | 1);
    if (n)
        b[n - 1] = 0x5a;
}

/* ---- memory figures from /proc (read with read(2): no stdio, no malloc) ----------------- */

static inline long t_read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return (long)len;
}

/* Field `idx` (0 = VSZ, 1 = RSS) of /proc/self/statm, in bytes. */
static inline size_t statm_field(int idx)
{
    char buf[256];
    int saved = errno;
    CHECK(t_read_file("/proc/self/statm", buf, sizeof buf) > 0, "cannot read /proc/self/statm");
    char *s = buf;
    for (int i = 0; i < idx; i++) {
        s = strchr(s, ' ');
        CHECK(s != NULL, "odd /proc/self/statm");
        s++;
    }
    size_t pages = (size_t)strtoull(s, NULL, 10);
    errno = saved;
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

static inline size_t rss_bytes(void) { return statm_field(1); }
static inline size_t vsz_bytes(void) { return statm_field(0); }

/* A "Name:   1234 kB" line of /proc/self/status, in kB (-1 if missing). */
static inline long status_kb(const char *name)
{
    char buf[8192];
    int saved = errno;
    if (t_read_file("/proc/self/status", buf, sizeof buf) <= 0)
        return -1;
    size_t nl = strlen(name);
    for (char *s = buf; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
        if (strncmp(s, name, nl) == 0 && s[nl] == ':') {
            errno = saved;
            return strtol(s + nl + 1, NULL, 10);
        }
    }
    errno = saved;
    return -1;
}

static inline struct brisk_stats t_stats(void)
{
    struct brisk_stats st;
    memset(&st, 0, sizeof st);
    brisk_get_stats(&st);
    return st;
}

/* Named tests in one program: runs those named on the command line (all with none), each
 * announced; fails when a name matches none. */
struct t_named {
    const char *name;
    void (*fn)(void);
};

static inline int t_run_named(const char *prog, const struct t_named *tests, size_t n, int argc, char **argv)
{
    int ran = 0;
    for (size_t i = 0; i < n; i++) {
        int want = argc < 2;
        for (int k = 1; k < argc; k++)
            want |= strcmp(argv[k], tests[i].name) == 0;
        if (!want)
            continue;
        t_log("%s %s (%s api)\n", prog, tests[i].name, API_NAME);
        tests[i].fn();
        ran++;
    }
    CHECK(ran > 0, "no such test");
    t_log("%s: %d test(s) passed\n", prog, ran);
    return 0;
}

/* On a thread of its own, joined: free(p), as a thread other than the block's owner. */
static inline void *t_free_it(void *p)
{
    T_free(p);
    return NULL;
}

#endif
