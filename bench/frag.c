/* Fragmentation: a long-lived set that grows and shrinks in phases with different size mixes,
 * as a server's caches do when its traffic changes. Each cycle grows the set to TARGET MiB
 * (default 64) with small blocks (16-256 B), frees its oldest blocks until seven tenths of its
 * bytes are gone (but one in 32 of them, at random, lives on: stragglers scattered over the old
 * pages), grows it back with medium blocks (512 B - 8 KiB), frees seven tenths the same way,
 * grows it with large-ish blocks (16-256 KiB), and frees nine tenths;
 * successive cycles rotate the order of the mixes. An allocator that cannot reuse the holes
 * left by one mix for the next, or keeps freed memory, shows a peak RSS far above the peak of
 * live bytes.
 *
 *   frag CYCLES [TARGET_MIB]
 *
 * Prints "ok ..." and "peak_live_bytes N" (the most bytes ever asked for and not yet freed,
 * counting the program's own slot arrays) and
 * exits 0 when every block kept its contents; exits 1 otherwise. */
#include "bench.h"

struct mix {
    size_t lo, hi;
    int free_per_10; /* how many tenths of the set the shrink after this mix frees */
};

static const struct mix mixes[] = { { 16, 256, 7 }, { 512, 8192, 7 }, { 16384, 262144, 9 } };
#define NMIX (sizeof mixes / sizeof mixes[0])

static struct slot *set;
static size_t nlive, cap, live_bytes, peak_live;
static uint64_t seed = 0xF4A6F4A6ULL;

/* Tags are per block (not per slot): blocks move between slots when the set is compacted. */
static uint64_t next_tag;
static uint64_t *tags;

static void grow_to(size_t target, const struct mix *m)
{
    while (live_bytes < target) {
        if (nlive == cap) {
            size_t old = cap;
            cap = cap ? cap * 2 : 4096;
            live_bytes += (cap - old) * (sizeof *set + sizeof *tags);
            set = realloc(set, cap * sizeof *set);
            tags = realloc(tags, cap * sizeof *tags);
            if (!set || !tags)
                die("realloc of the slot arrays returned NULL");
        }
        size_t size = rand_log(&seed, m->lo, m->hi);
        set[nlive].p = xmalloc(size);
        set[nlive].size = size;
        tags[nlive] = next_tag++;
        pattern_write(set[nlive].p, size, tags[nlive]);
        nlive++;
        live_bytes += size;
    }
    if (live_bytes > peak_live)
        peak_live = live_bytes;
}

static void check(size_t k)
{
    if (!pattern_ok(set[k].p, set[k].size, tags[k]))
        die("block %p of %zu bytes changed while live", set[k].p, set[k].size);
}

/* Frees the oldest blocks until per10 tenths of the set's bytes are gone, as a cache expires
 * its entries, except that one in 32 of them lives on (a straggler, kept at random); the
 * survivors stay in age order at the front of the set. */
static void shrink(int per10)
{
    size_t kept = 0, goal = live_bytes / 10 * (size_t)(10 - per10);
    for (size_t k = 0; k < nlive; k++) {
        check(k);
        if (live_bytes > goal && rng_next(&seed) % 32 != 0) {
            live_bytes -= set[k].size;
            free(set[k].p);
        } else {
            set[kept] = set[k];
            tags[kept++] = tags[k];
        }
    }
    nlive = kept;
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "CYCLES [TARGET_MIB]");
    long cycles = arg_long(argc, argv, 1, 0);
    size_t target = (size_t)arg_long(argc, argv, 2, 64) << 20;
    for (long c = 0; c < cycles; c++)
        for (size_t i = 0; i < NMIX; i++) {
            const struct mix *m = &mixes[(i + (size_t)c) % NMIX];
            grow_to(target, m);
            shrink(m->free_per_10);
        }
    for (size_t k = 0; k < nlive; k++) {
        check(k);
        free(set[k].p);
    }
    free(set);
    free(tags);
    printf("ok frag: %ld cycles of 3 phases up to %zu MiB, %llu blocks\n", cycles, target >> 20,
           (unsigned long long)next_tag);
    printf("peak_live_bytes %zu\n", peak_live);
    return 0;
}
