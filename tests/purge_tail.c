/* A page made on a slot that a retired page had carved whole uses only what it carves; the rest
 * of the slot, still resident from the page before, is purged at the next timed tick (mode
 * "tick", run with purge_delay_ms=20) or by malloc_trim (mode "trim"). Work is bounded by
 * counts; the one sleep only lets the purge clock pass. */
#include "internal.h"
#include "common.h"

#include <sys/mman.h>
#include <time.h>

#define BIG   1008     /* class 1024: 64 blocks to a slot */
#define SMALL 200      /* class 208, unused before: its first page is made below */
#define N     200

/* resident OS pages of [a, a + len) */
static unsigned resident(uintptr_t a, size_t len) {
    unsigned char vec[SLOT_SIZE / 4096];
    size_t ps = (size_t)sysconf(_SC_PAGESIZE), n = len / ps;
    CHECK(n <= sizeof vec && mincore((void *)a, len, vec) == 0);
    unsigned r = 0;
    for (size_t i = 0; i < n; i++) r += vec[i] & 1;
    return r;
}

int main(int argc, char **argv) {
    CHECK(argc == 2 && (!strcmp(argv[1], "tick") || !strcmp(argv[1], "trim")), "usage: purge_tail tick|trim");
    /* pages of class 1024, every block written; then the blocks of one in the middle freed: it is not
     * the current page (a later one is), so it retires at once and its slot is free, resident */
    void *big[N];
    for (int i = 0; i < N; i++) {
        big[i] = malloc(BIG);
        CHECK(big[i] != NULL);
        memset(big[i], 0x77, BIG);
    }
    page_t *first = page_of((uintptr_t)big[N / 2]);   /* a page between two others */
    CHECK(first->slot != 0 && first->capacity == first->reserved, "the first page is not a whole slot");
    uintptr_t slot = (uintptr_t)segment_of((uintptr_t)first) + (uintptr_t)first->slot * SLOT_SIZE;
    int kept = 0;
    for (int i = 0; i < N; i++) {
        if (page_of((uintptr_t)big[i]) == first) free(big[i]);
        else big[kept++] = big[i];
    }
    CHECK(resident(slot, SLOT_SIZE) == SLOT_SIZE / 4096, "the freed slot is not resident whole");

    /* the new class's page takes that slot (resident free slots first) and carves 4 KiB of it */
    unsigned char *p = malloc(SMALL);
    CHECK(p != NULL);
    memset(p, 0x5c, SMALL);
    page_t *pg = page_of((uintptr_t)p);
    CHECK((uintptr_t)p - slot < SLOT_SIZE, "the new page is not on the freed slot");
    CHECK(pg->tail_dirty && pg->limit <= 4096, "the new page is not marked (limit %lu)", (unsigned long)pg->limit);
    unsigned before = resident(slot, SLOT_SIZE);

    if (!strcmp(argv[1], "tick")) {
        /* past the purge delay; extent calls tick on every 32nd one */
        struct timespec ts = {0, 60 * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (int i = 0; i < 64; i++) {
            void *e = malloc(20000);
            CHECK(e != NULL);
            free(e);
        }
    } else {
        malloc_trim(0);
    }
    unsigned after = resident(slot, SLOT_SIZE);
    CHECK(!pg->tail_dirty && page_of((uintptr_t)p) == pg, "the page's tail was not purged");
    CHECK(after <= 1, "%u of the slot's %u pages still resident after the %s (%u before)", after,
          (unsigned)(SLOT_SIZE / 4096), argv[1], before);
    for (int i = 0; i < SMALL; i++) CHECK(p[i] == 0x5c, "byte %d of the live block changed", i);
    /* the page carves on into the purged memory: 64 more blocks, all its own, none reused */
    uint32_t cap = pg->capacity;
    void *q[64];
    for (int i = 0; i < 64; i++) {
        q[i] = malloc(SMALL);
        CHECK(q[i] != NULL && page_of((uintptr_t)q[i]) == pg && q[i] != (void *)p, "block %d", i);
        for (int k = 0; k < i; k++) CHECK(q[k] != q[i], "blocks %d and %d are one", k, i);
        memset(q[i], 0x22, SMALL);
    }
    CHECK(pg->capacity > cap, "the page carved nothing into its purged memory");
    for (int i = 0; i < 64; i++) free(q[i]);
    free(p);
    for (int i = 0; i < kept; i++) free(big[i]);
    printf("purge_tail %s ok: %u resident pages of the slot before, %u after\n", argv[1], before, after);
    return 0;
}
