/* Single-threaded malloc/free loops.
 *
 *   loop fixed ITERATIONS [SIZE]    p = malloc(SIZE); write it; check it; free(p) -- repeated.
 *                                   One byte per 4 KiB is written too, so that an allocator that
 *                                   gives big blocks back to the OS pays the page faults again.
 *   loop random ITERATIONS [SLOTS]  a live set of SLOTS blocks (default 1000): each step frees a
 *                                   random slot's block (after checking it) and puts a new block
 *                                   of 8..1024 bytes there.
 *
 * Prints "ok ..." and exits 0 when every block held what was written into it; exits 1 otherwise.
 * The output does not depend on the allocator. */
#include "bench.h"

static int fail(const char *what, long i)
{
    fprintf(stderr, "loop: %s at iteration %ld\n", what, i);
    return 1;
}

static int run_fixed(long iterations, size_t size)
{
    uint64_t sum = 0, expect = 0, touched = 0;
    if (size < 8) {
        fprintf(stderr, "loop: SIZE must be at least 8\n");
        return 2;
    }
    for (size_t off = 8; off + 1 < size; off += 4096)
        touched++;
    for (long i = 0; i < iterations; i++) {
        unsigned char *p = malloc(size);
        if (!p)
            return fail("malloc returned NULL", i);
        pattern_write(p, size, (uint64_t)i);
        for (size_t off = 8; off + 1 < size; off += 4096)
            p[off] = (unsigned char)i;
        escape(p);
        if (!pattern_ok(p, size, (uint64_t)i))
            return fail("block changed", i);
        for (size_t off = 8; off + 1 < size; off += 4096)
            sum += p[off];
        free(p);
    }
    for (long i = 0; i < iterations; i++)
        expect += touched * (uint64_t)(unsigned char)i;
    if (sum != expect)
        return fail("checksum mismatch", iterations);
    printf("ok fixed: %ld x malloc(%zu)/free, checksum %llu\n", iterations, size,
           (unsigned long long)sum);
    return 0;
}

struct slot {
    void *p;
    size_t size;
};

static int run_random(long iterations, long nslots)
{
    struct slot *slots = calloc((size_t)nslots, sizeof *slots);
    if (!slots)
        return fail("calloc of the slot array returned NULL", 0);
    uint64_t seed = 0x1234567887654321ULL, bytes = 0;
    for (long i = 0; i < iterations; i++) {
        uint64_t r = rng_next(&seed);
        struct slot *s = &slots[r % (uint64_t)nslots];
        if (s->p) {
            if (!pattern_ok(s->p, s->size, (uint64_t)(s - slots)))
                return fail("block changed while live", i);
            free(s->p);
        }
        s->size = 8 + (r >> 32) % 1017;
        s->p = malloc(s->size);
        if (!s->p)
            return fail("malloc returned NULL", i);
        pattern_write(s->p, s->size, (uint64_t)(s - slots));
        bytes += s->size;
    }
    for (long k = 0; k < nslots; k++) {
        if (slots[k].p && !pattern_ok(slots[k].p, slots[k].size, (uint64_t)k))
            return fail("block changed while live", iterations);
        free(slots[k].p);
    }
    free(slots);
    printf("ok random: %ld x malloc(8..1024)/free over %ld slots, %llu bytes\n", iterations,
           nslots, (unsigned long long)bytes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "fixed") == 0)
        return run_fixed(arg_long(argc, argv, 2, 0), (size_t)arg_long(argc, argv, 3, 64));
    if (argc >= 3 && strcmp(argv[1], "random") == 0)
        return run_random(arg_long(argc, argv, 2, 0), arg_long(argc, argv, 3, 1000));
    fprintf(stderr, "usage: %s fixed ITERATIONS [SIZE] | random ITERATIONS [SLOTS]\n", argv[0]);
    return 2;
}
