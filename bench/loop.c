/* Single-threaded malloc/free loops: the allocator's fast paths, with nothing else in the way.
 *
 *   loop fixed ITERATIONS [SIZE]            p = malloc(SIZE); write it; check it; free(p) --
 *                                           repeated: one size freed and reallocated at once.
 *   loop random ITERATIONS [SLOTS [MIN MAX]] a live set of SLOTS blocks (default 1000): each step
 *                                           frees a random slot's block (after checking it) and
 *                                           puts a new block of MIN..MAX bytes (default 8..1024,
 *                                           uniform) there.
 *
 * Prints "ok ..." and exits 0 when every block held what was written into it; exits 1 otherwise.
 * The output does not depend on the allocator. */
#include "bench.h"

static int run_fixed(long iterations, size_t size)
{
    if (size < 8)
        die("SIZE must be at least 8");
    for (long i = 0; i < iterations; i++) {
        void *p = xmalloc(size);
        pattern_write(p, size, (uint64_t)i);
        escape(p);
        if (!pattern_ok(p, size, (uint64_t)i))
            die("block changed at iteration %ld", i);
        free(p);
    }
    printf("ok fixed: %ld x malloc(%zu)/free\n", iterations, size);
    return 0;
}

static int run_random(long iterations, size_t nslots, size_t min, size_t max)
{
    if (min < 8 || max < min)
        die("need 8 <= MIN <= MAX");
    struct slot *set = slots_new(nslots);
    uint64_t seed = 0x1234567887654321ULL, bytes = 0;
    for (long i = 0; i < iterations; i++) {
        size_t k = slot_pick(set, nslots, &seed);
        slot_fill(set, k, rand_between(&seed, min, max));
        bytes += set[k].size;
    }
    slots_free(set, nslots);
    printf("ok random: %ld x malloc(%zu..%zu)/free over %zu slots, %llu bytes\n", iterations,
           min, max, nslots, (unsigned long long)bytes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "fixed") == 0)
        return run_fixed(arg_long(argc, argv, 2, 0), (size_t)arg_long(argc, argv, 3, 64));
    if (argc >= 3 && strcmp(argv[1], "random") == 0)
        return run_random(arg_long(argc, argv, 2, 0), (size_t)arg_long(argc, argv, 3, 1000),
                          (size_t)arg_long(argc, argv, 4, 8), (size_t)arg_long(argc, argv, 5, 1024));
    fprintf(stderr, "usage: %s fixed ITERATIONS [SIZE] | random ITERATIONS [SLOTS [MIN MAX]]\n",
            argv[0]);
    return 2;
}
