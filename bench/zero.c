/* calloc: a live set of SLOTS blocks (default 500) of 16 B - 256 KiB (log-uniform), each step
 * freeing a random one and putting a calloc'ed one in its place. Every byte of each new block is
 * checked to be zero; then small blocks (up to 4 KiB) are dirtied whole and larger ones get the
 * usual pattern (one byte per page), so that memory handed out again must really be cleared.
 * An allocator that knows fresh pages from the OS are zero may skip clearing those.
 *
 *   zero STEPS [SLOTS]
 *
 * Prints "ok ..." and exits 0 when every calloc'ed block was zero and every block kept its
 * contents; exits 1 otherwise. */
#include "bench.h"

#define DIRTY_WHOLE 4096

static const unsigned char zeros[4096];

static void check_zero(const unsigned char *p, size_t size)
{
    for (size_t off = 0; off < size; off += sizeof zeros) {
        size_t n = size - off < sizeof zeros ? size - off : sizeof zeros;
        if (memcmp(p + off, zeros, n) != 0)
            die("calloc'ed block %p of %zu bytes has a non-zero byte after %zu", (void *)p, size, off);
    }
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "STEPS [SLOTS]");
    long steps = arg_long(argc, argv, 1, 0);
    size_t nslots = (size_t)arg_long(argc, argv, 2, 500);
    struct slot *set = slots_new(nslots);
    uint64_t seed = 0x5EED5EED5EED5EEDULL, bytes = 0;
    for (long i = 0; i < steps; i++) {
        size_t k = slot_pick(set, nslots, &seed);
        size_t size = rand_log(&seed, 16, 256 << 10);
        /* n elements of 16 bytes or 1 of size: both forms of the call occur in programs */
        size_t n = size % 16 == 0 ? size / 16 : 1, elem = size / n;
        unsigned char *p = calloc(n, elem);
        if (!p)
            die("calloc(%zu, %zu) returned NULL", n, elem);
        check_zero(p, size);
        if (size <= DIRTY_WHOLE)
            memset(p, 0x5A, size);
        set[k].p = p;
        set[k].size = size;
        pattern_write(p, size, k);
        bytes += size;
    }
    slots_free(set, nslots);
    printf("ok zero: %ld callocs over %zu slots, %llu bytes checked zero\n", steps, nslots,
           (unsigned long long)bytes);
    return 0;
}
