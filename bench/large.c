/* Large blocks: a live set of SLOTS blocks (default 3) of 64 KiB - 64 MiB (log-uniform); each
 * step checks and frees a random one and allocates another, writing one byte in every page of
 * it. This is where allocators differ most in what they keep mapped (peak RSS) and in how often
 * they make the program fault its pages in again (time).
 *
 *   large STEPS [SLOTS]
 *
 * Prints "ok ..." and exits 0 when every page of every block kept what was written into it;
 * exits 1 otherwise. */
#include "bench.h"

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "STEPS [SLOTS]");
    long steps = arg_long(argc, argv, 1, 0);
    size_t nslots = (size_t)arg_long(argc, argv, 2, 3);
    struct slot *set = slots_new(nslots);
    uint64_t seed = 0x1A26EB10C5ULL, bytes = 0;
    for (long i = 0; i < steps; i++) {
        size_t k = slot_pick(set, nslots, &seed);
        slot_fill(set, k, rand_log(&seed, 64 << 10, 64 << 20));
        bytes += set[k].size;
    }
    slots_free(set, nslots);
    printf("ok large: %ld blocks of 64 KiB..64 MiB over %zu slots, %llu MiB\n", steps, nslots,
           (unsigned long long)(bytes >> 20));
    return 0;
}
