/* realloc growth chains: 16 buffers grow side by side, as strings and vectors do in real
 * programs. Chains 0..13 are strings appended to a few bytes at a time (1..64) up to 4 KiB,
 * with a realloc per append; chains 14 and 15 are vectors that double from 16 bytes up to MAX
 * (default 256 KiB). Every appended byte is written, every realloc is checked to have
 * kept the first and the last byte, and a finished chain is checked whole before it is freed
 * and started again.
 *
 *   grow STEPS [MAX]
 *
 * Prints "ok ..." and exits 0 when every byte survived every realloc; exits 1 otherwise. */
#include "bench.h"

#define CHAINS 16
#define STRING_MAX 4096
#define VECTORS 2 /* the last chains */

struct chain {
    unsigned char *p;
    size_t size;
    unsigned char salt; /* makes each chain's bytes different */
};

/* A chain's bytes change every 64 bytes (and differ between chains and between the chains
 * that one slot holds in turn), so that filling and checking them runs at memset speed and the
 * time goes to realloc, while a lost or misplaced copy still shows. */
#define RUN 64

static unsigned char chain_byte(const struct chain *c, size_t i)
{
    return (unsigned char)((i / RUN) * 31 + c->salt);
}

static void chain_fill(struct chain *c, size_t from, size_t to)
{
    while (from < to) {
        size_t end = (from / RUN + 1) * RUN;
        if (end > to)
            end = to;
        memset(c->p + from, chain_byte(c, from), end - from);
        from = end;
    }
}

/* Each run of equal bytes is checked against itself shifted by one (its first byte against the
 * value, then memcmp of the run with itself one byte on): no buffer of expected bytes on the
 * stack. With one, this bench's time fell in two groups, ~0.25 and ~0.37 s, from run to run, for
 * every allocator, and never with ASLR off: the stack's random place against the heap's, 4K
 * aliasing by all signs (inferred, not counted). */
static void chain_check(const struct chain *c, size_t from, size_t to)
{
    while (from < to) {
        size_t end = (from / RUN + 1) * RUN;
        if (end > to)
            end = to;
        const unsigned char *run = c->p + from;
        if (run[0] != chain_byte(c, from) || memcmp(run, run + 1, end - from - 1) != 0)
            die("bytes %zu..%zu of a %zu-byte chain changed", from, end, c->size);
        from = end;
    }
}

int main(int argc, char **argv)
{
    need_args(argc, argv, 1, "STEPS [MAX]");
    long steps = arg_long(argc, argv, 1, 0);
    size_t max = (size_t)arg_long(argc, argv, 2, 256 << 10);
    struct chain chains[CHAINS] = { { 0 } };
    for (int k = 0; k < CHAINS; k++)
        chains[k].salt = (unsigned char)(k * 17);
    uint64_t seed = 0xC0FFEE123456789ULL;
    long finished = 0;
    for (long i = 0; i < steps; i++) {
        int k = (int)(rng_next(&seed) % CHAINS);
        struct chain *c = &chains[k];
        size_t old = c->size;
        int vector = k >= CHAINS - VECTORS;
        size_t limit = vector ? max : STRING_MAX;
        size_t size = vector ? (old ? old * 2 : 16) : old + rand_between(&seed, 1, 64);
        unsigned char *p = realloc(c->p, size);
        if (!p)
            die("realloc(%zu) returned NULL", size);
        c->p = p;
        if (old && (p[0] != chain_byte(c, 0) || p[old - 1] != chain_byte(c, old - 1)))
            die("realloc from %zu to %zu bytes lost the contents", old, size);
        chain_fill(c, old, size);
        c->size = size;
        if (size >= limit) {
            chain_check(c, 0, c->size);
            free(c->p);
            c->p = NULL;
            c->size = 0;
            c->salt++;
            finished++;
        }
    }
    for (int k = 0; k < CHAINS; k++) {
        chain_check(&chains[k], 0, chains[k].size);
        free(chains[k].p);
    }
    printf("ok grow: %ld reallocs, %ld chains finished\n", steps, finished);
    return 0;
}
