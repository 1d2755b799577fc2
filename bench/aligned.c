/* Aligned allocations: a live set of SLOTS blocks (default 1000); each step frees a random one
 * and allocates another with posix_memalign, aligned_alloc or memalign in turn, at an alignment
 * of 16 B - 4 KiB (most) or 8 KiB - 64 KiB (one in eight), for 8 B - 2 KiB. Programs do this
 * for SIMD buffers, cache-line-aligned objects and page-aligned I/O buffers.
 *
 *   aligned STEPS [SLOTS]
 *
 * Prints "ok ..." and exits 0 when every block was aligned as asked and kept its contents;
 * exits 1 otherwise. */
#include "bench.h"

#include <malloc.h>

static void *aligned_one(int how, size_t align, size_t size)
{
    void *p = NULL;
    switch (how) {
    case 0: {
        int rc = posix_memalign(&p, align, size);
        if (rc)
            die("posix_memalign(%zu, %zu) returned %d", align, size, rc);
        break;
    }
    case 1: /* C11 wants the size to be a multiple of the alignment */
        p = aligned_alloc(align, (size + align - 1) & ~(align - 1));
        break;
    default:
        p = memalign(align, size);
        break;
    }
    if (!p)
        die("aligned allocation (%d) of %zu at %zu returned NULL", how, size, align);
    if ((uintptr_t)p % align)
        die("block %p is not aligned to %zu", p, align);
    return p;
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "STEPS [SLOTS]");
    long steps = arg_long(argc, argv, 1, 0);
    size_t nslots = (size_t)arg_long(argc, argv, 2, 1000);
    struct slot *set = slots_new(nslots);
    uint64_t seed = 0xA119AEDULL;
    for (long i = 0; i < steps; i++) {
        size_t k = slot_pick(set, nslots, &seed);
        uint64_t r = rng_next(&seed);
        size_t align = (r & 7) ? (size_t)16 << (r >> 8) % 9 : (size_t)8192 << (r >> 8) % 4;
        size_t size = rand_between(&seed, 8, 2048);
        set[k].p = aligned_one((int)(i % 3), align, size);
        set[k].size = size;
        pattern_write(set[k].p, size, k);
    }
    slots_free(set, nslots);
    printf("ok aligned: %ld aligned allocations over %zu slots\n", steps, nslots);
    return 0;
}
