/* The loops of the micro view (bench/micro.sh), run under callgrind, which counts the
 * instructions executed inside measured_same or measured_random and everything they call:
 * the malloc/free pairs and the loop itself, nothing before or after.
 *
 *   micro same PAIRS [SIZE]   p = malloc(SIZE) (default 64); write a byte; free(p) -- one size
 *                             freed and reallocated at once
 *   micro random PAIRS        1000 live blocks; each pair frees a random one and puts a new block
 *                             of 8..1024 bytes in its place
 *
 * The same loops run first, outside the measured functions, so that the allocator's start-up
 * and the filling of the live set are not counted. */
#include "bench.h"

#define LIVE 1000

static void *live[LIVE];

static inline void pair_same(long i, size_t size)
{
    char *p = malloc(size);
    if (!p)
        die("malloc returned NULL");
    *p = (char)i;
    escape(p);
    free(p);
}

static inline void pair_random(uint64_t *seed)
{
    uint64_t r = rng_next(seed);
    void **s = &live[r % LIVE];
    free(*s);
    *s = malloc(8 + (r >> 32) % 1017);
    if (!*s)
        die("malloc returned NULL");
    *(char *)*s = 1;
}

__attribute__((noinline)) void measured_same(long pairs, size_t size)
{
    for (long i = 0; i < pairs; i++)
        pair_same(i, size);
}

__attribute__((noinline)) void measured_random(long pairs, uint64_t *seed)
{
    for (long i = 0; i < pairs; i++)
        pair_random(seed);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "same") != 0 && strcmp(argv[1], "random") != 0)) {
        fprintf(stderr, "usage: %s same PAIRS [SIZE] | random PAIRS\n", argv[0]);
        return 2;
    }
    long pairs = arg_long(argc, argv, 2, 0);
    if (strcmp(argv[1], "same") == 0) {
        size_t size = (size_t)arg_long(argc, argv, 3, 64);
        for (long i = 0; i < 1000; i++)
            pair_same(i, size);
        measured_same(pairs, size);
    } else {
        uint64_t seed = 0x0123456789ABCDEFULL;
        for (long i = 0; i < 20 * LIVE; i++)
            pair_random(&seed);
        measured_random(pairs, &seed);
        for (int k = 0; k < LIVE; k++)
            free(live[k]);
    }
    printf("ok micro %s: %ld pairs\n", argv[1], pairs);
    return 0;
}
