/* Shared helpers of the brisk benchmarks: a fast deterministic random generator, a block
 * pattern that is written after malloc and checked before free, and an optimisation barrier.
 * Build with -fno-builtin so that the compiler cannot delete or merge malloc/free pairs. */
#ifndef BRISK_BENCH_H
#define BRISK_BENCH_H

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

/* Makes the compiler assume that p is used and memory changed. */
static inline void escape(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* Blocks are at least 8 bytes. The first 8 bytes and the last byte of a block depend on its address, size and a tag, so
 * that a block handed out twice, or overwritten by its neighbour, fails the check. */
static inline uint64_t pattern_word(const void *p, size_t size, uint64_t tag)
{
    return ((uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL) ^ (size << 40) ^ tag;
}

static inline void pattern_write(void *p, size_t size, uint64_t tag)
{
    uint64_t w = pattern_word(p, size, tag);
    memcpy(p, &w, sizeof w);
    if (size > sizeof w)
        ((unsigned char *)p)[size - 1] = (unsigned char)(w >> 56) ^ 0xA5;
}

/* Returns 1 if the block still holds the pattern written by pattern_write. */
static inline int pattern_ok(const void *p, size_t size, uint64_t tag)
{
    uint64_t w = pattern_word(p, size, tag), got;
    memcpy(&got, p, sizeof got);
    return got == w && (size <= sizeof w ||
                        ((const unsigned char *)p)[size - 1] == ((unsigned char)(w >> 56) ^ 0xA5));
}

static inline long arg_long(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "%s: bad number '%s'\n", argv[0], argv[i]);
        exit(2);
    }
    return v;
}

#endif
