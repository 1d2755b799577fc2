/* The block-boundary test of free's and malloc's fast paths (in_blocks, internal.h): an offset x
 * from a page's start passes iff it is k * bsize with k < capacity, for every |x| < 2^32, every
 * class, every capacity, and for the divisors c + j that divc_refusing_null may pick; and NULL
 * (offset -start) never passes on a page made by divc_refusing_null. Built with
 * src/size_class.c directly (the functions are internal). Work is bounded by counts. */
#include "internal.h"
#include <stdio.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int fails;
static void fail(const char *what, unsigned cls, uint64_t j, int64_t x, uint32_t cap) {
    if (fails++ < 10)
        printf("class %u (%u B), c+%llu, capacity %u: offset %lld %s\n", cls, class_size(cls),
               (unsigned long long)j, cap, (long long)x, what);
}

static void check(const page_t *pg, unsigned cls, uint64_t j, int64_t x) {
    uint32_t d = pg->bsize;
    uint32_t cap = (uint32_t)(pg->blim / (pg->divc * d));
    int want = x >= 0 && x % d == 0 && x / d < cap;
    if (in_blocks(pg, (uintptr_t)x) != want) fail(want ? "refused" : "accepted", cls, j, x, cap);
}

int main(void) {
    uint64_t tried = 0;
    for (unsigned cls = 0; cls < NCLASSES; cls++) {
        page_t pg = {0};
        pg.bsize = class_size(cls);
        uint32_t reserved = (uint32_t)((class_slots(cls) * SLOT_SIZE) / pg.bsize);
        int64_t span = (int64_t)reserved * pg.bsize;
        for (uint64_t j = 0; j < 3; j++) {
            pg.divc = make_divc(pg.bsize) + j;
            uint32_t caps[] = {0, 1, reserved / 2, reserved};
            for (unsigned k = 0; k < 4; k++) {
                pg.blim = make_blim(&pg, caps[k]);
                /* every offset near the span's two ends, random ones within two spans of it
                 * and below 2^32 */
                for (int64_t x = -8192; x < 8192; x++, tried += 2) {
                    check(&pg, cls, j, x);
                    check(&pg, cls, j, span + x);
                }
                for (int i = 0; i < 20000; i++, tried++)
                    check(&pg, cls, j, (int64_t)(next() % (uint64_t)(4 * span)) - 2 * span);
                for (int i = 0; i < 20000; i++, tried++) {
                    int64_t x = (int64_t)(next() % (1ULL << 33)) - (1LL << 32) + 1;
                    check(&pg, cls, j, x);
                    check(&pg, cls, j, x - x % pg.bsize);   /* a boundary, often far out */
                }
            }
        }
        /* NULL on pages at random 16-aligned starts (and every slot of a few segments) */
        for (int i = 0; i < 200000; i++, tried++) {
            uintptr_t start = (uintptr_t)(next() & ((1ULL << ADDR_BITS) - 16));
            if (i < 64 * 64) start = ((uintptr_t)(i / 64 + 1) << SEG_SHIFT) + (uintptr_t)(i % 64) * SLOT_SIZE + (i % 64 ? 0 : SEG_HDR);
            pg.divc = divc_refusing_null(start, pg.bsize, reserved);
            pg.blim = make_blim(&pg, reserved);
            if (in_blocks(&pg, 0 - start)) fail("(NULL) accepted", cls, pg.divc - make_divc(pg.bsize), -(int64_t)start, reserved);
            if (pg.divc - make_divc(pg.bsize) > 2) fail("needed c + 3 or more", cls, pg.divc - make_divc(pg.bsize), 0, reserved);
        }
    }
    /* pages built to collide: start chosen so that NULL's offset x has x * c = t < blim under
     * the plain c (c odd, so x = t / c mod 2^64; such an x is far from 0 unless t is a
     * multiple of e, which gives x = k * bsize, a real block's offset); divc_refusing_null must
     * move off it */
    for (unsigned cls = 0; cls < NCLASSES; cls++) {
        page_t pg = {0};
        pg.bsize = class_size(cls);
        uint32_t reserved = (uint32_t)((class_slots(cls) * SLOT_SIZE) / pg.bsize);
        uint64_t c = make_divc(pg.bsize), inv = c, e = c * pg.bsize;
        if ((c & 1) == 0) continue;
        for (int i = 0; i < 6; i++) inv *= 2 - c * inv;   /* Newton: c * inv = 1 mod 2^64 */
        uint64_t ts[] = {1, e + 1, (uint64_t)reserved * e - 1};
        for (unsigned i = 0; i < 3; i++, tried++) {
            if (ts[i] % e == 0) continue;
            uint64_t start = 0 - ts[i] * inv;
            pg.divc = c;
            pg.blim = make_blim(&pg, reserved);
            if (!in_blocks(&pg, 0 - start)) fail("(NULL, built to collide) refused by plain c", cls, 0, 0, reserved);
            pg.divc = divc_refusing_null(start, pg.bsize, reserved);
            pg.blim = make_blim(&pg, reserved);
            if (in_blocks(&pg, 0 - start) || pg.divc == c) fail("(NULL, built to collide) accepted", cls, pg.divc - c, 0, reserved);
        }
    }
    printf("%llu offsets tried, %d wrong\n", (unsigned long long)tried, fails);
    return fails != 0;
}
