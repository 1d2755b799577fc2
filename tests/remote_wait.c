/* Other threads' frees into a page wait while its owner has local frees to take
 * (malloc_small_dry reads no thread_free word), but not for long: at the latest on the 32nd dry
 * call they are taken, and they come back before any memory of the page is carved anew or a
 * page is added. Frees by the owner keep coming throughout, as in a server whose workers free
 * their own blocks and some of others'. Work is bounded by counts. */
#include "internal.h"
#include "common.h"

#include <pthread.h>

#define SIZE 48
#define REMOTE 32
#define MAX 1024

static void *blocks[MAX];

static void *free_remote_half(void *arg) {
    (void)arg;
    for (int i = 0; i < REMOTE; i++) free(blocks[i]);
    return NULL;
}

int main(void) {
    /* every carved block of the current page handed out: the page is dry */
    int n = 0;
    blocks[n++] = malloc(SIZE);
    CHECK(blocks[0] != NULL);
    page_t *pg = page_of((uintptr_t)blocks[0]);
    while (pg->free != NULL && n < MAX) {
        blocks[n] = malloc(SIZE);
        CHECK(blocks[n] != NULL && page_of((uintptr_t)blocks[n]) == pg, "block %d left the page", n);
        n++;
    }
    CHECK(pg->free == NULL && n > REMOTE + 1, "the page did not run dry (%d blocks)", n);
    uint32_t carved = pg->capacity;

    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_remote_half, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(TF_PTR(atomic_load(page_tf(pg))) != 0, "the remote frees are not in the page's thread_free");

    /* The owner frees its last block and allocates again, 32 times: each malloc finds the page
     * dry with one local free. By the end the remote frees were taken. */
    void *mine = blocks[n - 1];
    int taken_at = -1;
    for (int k = 0; k < 32; k++) {
        free(mine);
        mine = malloc(SIZE);
        CHECK(mine != NULL && page_of((uintptr_t)mine) == pg, "malloc %d left the page", k);
        if (taken_at < 0 && TF_PTR(atomic_load(page_tf(pg))) == 0) taken_at = k;
    }
    CHECK(taken_at >= 0, "other threads' frees still wait after 32 dry mallocs");
    blocks[n - 1] = mine;

    /* the page holds REMOTE free blocks (mine is live): as many mallocs carve nothing */
    void *again[REMOTE];
    for (int k = 0; k < REMOTE; k++) {
        again[k] = malloc(SIZE);
        CHECK(again[k] != NULL && page_of((uintptr_t)again[k]) == pg, "malloc %d left the page", k);
    }
    CHECK(pg->capacity == carved, "the page carved %u more blocks while %d freed ones waited",
          pg->capacity - carved, REMOTE);
    for (int k = 0; k < REMOTE; k++) free(again[k]);
    for (int i = REMOTE; i < n; i++) free(blocks[i]);
    printf("remote_wait ok: taken at dry malloc %d of 32\n", taken_at);
    return 0;
}
