/* Shared helpers of the brisk benchmarks: a fast deterministic random generator, size
 * distributions, a block pattern that is written after malloc and checked before free, a live
 * set of slots, and an optimisation barrier.
 * Build with -fno-builtin so that the compiler cannot delete or merge malloc/free pairs. */
#ifndef BRISK_BENCH_H
#define BRISK_BENCH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64*: good enough to pick sizes and slots, and the same on every run. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [lo, hi]. */
static inline size_t rand_between(uint64_t *s, size_t lo, size_t hi)
{
    return lo + (size_t)((rng_next(s) >> 16) % (hi - lo + 1));
}

/* Log-uniform in [lo, hi]: each power-of-two range is as likely as the next, so that a range
 * like 64 KiB - 64 MiB is not all near its top, as real programs' sizes are not. */
static inline size_t rand_log(uint64_t *s, size_t lo, size_t hi)
{
    int klo = 63 - __builtin_clzll(lo), khi = 63 - __builtin_clzll(hi);
    for (;;) {
        int k = klo + (int)(rng_next(s) % (uint64_t)(khi - klo + 1));
        size_t v = ((size_t)1 << k) + (size_t)(rng_next(s) % ((uint64_t)1 << k));
        if (v >= lo && v <= hi)
            return v;
    }
}

/* Makes the compiler assume that p is used and memory changed. */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Prints "PROGRAM: message" on stderr and exits 1: a workload that finds a block changed, or
 * gets NULL, must not finish as if all was well. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program_invocation_short_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static inline void *xmalloc(size_t size)
{
    void *p = malloc(size);
    if (!p)
        die("malloc(%zu) returned NULL", size);
    return p;
}

/* Blocks are at least 8 bytes. The first 8 bytes, the last byte and one byte in each further
 * 4 KiB page depend on the block's address, size and a tag, so that a block handed out twice,
 * or overwritten by its neighbour, fails the check. Touching every page makes peak RSS count
 * the whole block, as it would for a program that uses its memory, and makes an allocator that
 * gives pages back to the OS pay the page faults when it hands them out again. */
#define BENCH_PAGE 4096

static inline uint64_t pattern_word(const void *p, size_t size, uint64_t tag)
{
    return ((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL) ^ (size << 40) ^ tag;
}

static inline unsigned char pattern_byte(uint64_t w, size_t off)
{
    return (unsigned char)((w >> 56) ^ (off >> 12) ^ 0xA5);
}

static inline void pattern_write(void *p, size_t size, uint64_t tag)
{
    uint64_t w = pattern_word(p, size, tag);
    unsigned char *c = p;
    memcpy(c, &w, sizeof w);
    for (size_t off = BENCH_PAGE; off < size; off += BENCH_PAGE)
        c[off] = pattern_byte(w, off);
    if (size > sizeof w)
        c[size - 1] = pattern_byte(w, size - 1); /* the same as a page's byte if it is one */
}

/* Returns 1 if the block still holds the pattern written by pattern_write. */
static inline int pattern_ok(const void *p, size_t size, uint64_t tag)
{
    uint64_t w = pattern_word(p, size, tag), got;
    const unsigned char *c = p;
    memcpy(&got, c, sizeof got);
    if (got != w)
        return 0;
    for (size_t off = BENCH_PAGE; off < size; off += BENCH_PAGE)
        if (c[off] != pattern_byte(w, off))
            return 0;
    return size <= sizeof w || c[size - 1] == pattern_byte(w, size - 1);
}

/* A live set: slot k holds a block of the given size with pattern tag k (or none). */
struct slot {
    void *p;
    size_t size;
};

/* Checks the block of slot k of the set and frees it. */
static inline void slot_free(struct slot *set, size_t k)
{
    if (!set[k].p)
        return;
    if (!pattern_ok(set[k].p, set[k].size, k))
        die("block %p of %zu bytes (slot %zu) changed while live", set[k].p, set[k].size, k);
    free(set[k].p);
    set[k].p = NULL;
}

/* Puts a new block of SIZE bytes, with its pattern, into slot k (which must be empty). */
static inline void slot_fill(struct slot *set, size_t k, size_t size)
{
    set[k].p = xmalloc(size);
    set[k].size = size;
    pattern_write(set[k].p, size, k);
}

/* Picks a random slot of the set, checks and frees its block (if any); returns the slot. */
static inline size_t slot_pick(struct slot *set, size_t n, uint64_t *seed)
{
    size_t k = (size_t)(rng_next(seed) % n);
    slot_free(set, k);
    return k;
}

static inline struct slot *slots_new(size_t n)
{
    struct slot *set = calloc(n, sizeof *set);
    if (!set)
        die("calloc of %zu slots returned NULL", n);
    return set;
}

/* Checks and frees every block of the set, then the set. */
static inline void slots_free(struct slot *set, size_t n)
{
    for (size_t k = 0; k < n; k++)
        slot_free(set, k);
    free(set);
}

/* Exits 2 with the usage line unless there are at least n arguments after the program name. */
static inline void need_args(int argc, char **argv, int n, const char *usage)
{
    if (argc > n)
        return;
    fprintf(stderr, "usage: %s %s\n", argv[0], usage);
    exit(2);
}

static inline long arg_long(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0 || errno) {
        fprintf(stderr, "%s: bad number '%s'\n", argv[0], argv[i]);
        exit(2);
    }
    return v;
}

#endif
