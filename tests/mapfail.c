/* Run with BRISK_OPTIONS=test_fail_map=N: brisk's N-th mapping call fails. Whatever call sees it
 * must return NULL with errno ENOMEM (posix_memalign: ENOMEM), nothing may crash or lose data,
 * and the heap must work again afterwards. Prints how many calls failed. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 400
static unsigned char *blk[N];
static size_t len[N];
static int failed;

static void fill(int i) { memset(blk[i], (unsigned char)(i * 31 + 7), len[i]); }

static int check(int i) {
    for (size_t k = 0; k < len[i]; k += 97)
        if (blk[i][k] != (unsigned char)(i * 31 + 7)) return 0;
    return 1;
}

static void got(int i, void *p, int err) {
    if (p == NULL) {
        if (err != ENOMEM) {
            printf("block %d: NULL with errno %d, want ENOMEM\n", i, err);
            exit(1);
        }
        failed++;
        len[i] = 0;
        return;
    }
    blk[i] = p;
    fill(i);
}

static void *thread_main(void *arg) {
    (void)arg;
    for (int r = 0; r < 200; r++) {
        void *p = malloc(100 + r);
        if (p) memset(p, 1, 100 + r);
        free(p);
    }
    return NULL;
}

int main(void) {
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            size_t n = i % 50 == 0 ? (size_t)(1 + i) << 14 : (size_t)(i * 37 % 3000 + 1);
            len[i] = n;
            errno = 0;
            switch (i % 4) {
            case 0: {
                void *p = malloc(n);   /* errno read after the call, not as a sibling argument */
                got(i, p, errno);
                break;
            }
            case 1: {
                void *p = calloc(1, n);
                got(i, p, errno);
                break;
            }
            case 2: {
                void *p = NULL;
                int r = posix_memalign(&p, 64, n);
                got(i, r == 0 ? p : NULL, r);
                break;
            }
            default: {   /* realloc growth: the old block survives a refusal */
                void *p = malloc(16);
                if (p == NULL) { got(i, NULL, errno); break; }
                memset(p, 0x5a, 16);
                errno = 0;
                void *q = realloc(p, n + (i % 8 == 3 ? (size_t)1 << 20 : 0));
                if (q == NULL) {
                    for (int k = 0; k < 16; k++)
                        if (((unsigned char *)p)[k] != 0x5a) { printf("realloc lost data\n"); return 1; }
                    free(p);
                    got(i, NULL, errno);
                    break;
                }
                len[i] = n;
                got(i, q, 0);
            }
            }
        }
        for (int i = 0; i < N; i++) {
            if (len[i] && !check(i)) { printf("block %d: contents changed\n", i); return 1; }
            if (len[i]) free(blk[i]);
        }
        pthread_t t;
        if (pthread_create(&t, NULL, thread_main, NULL) == 0) pthread_join(t, NULL);
    }
    /* afterwards the heap works: no refusal is pending any more */
    for (int i = 0; i < 2000; i++) {
        void *p = malloc((size_t)(i % 700) * 50 + 1);
        if (p == NULL) { printf("malloc failed after the refusal\n"); return 1; }
        free(p);
    }
    printf("%d calls saw the refusal\n", failed);
    return 0;
}
