/* Secure mode (BRISK_OPTIONS=secure=1): one misuse per run, named by argv[1]; the suite checks
 * that brisk reports it and aborts. "ok" runs correct code that must pass every check. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void churn(size_t n, int times) {
    for (int i = 0; i < times; i++) free(malloc(n));
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    if (!strcmp(m, "ok")) {   /* sizes across classes, realloc, calloc, aligned, usable size */
        const char *opt = getenv("BRISK_OPTIONS");
        int exact = opt && strstr(opt, "secure=1");   /* secure mode: usable size is the request */
        for (int i = 0; i < 100000; i++) {
            size_t n = (size_t)(i * 7919) % 5000 + 1;
            char *p = malloc(n);
            memset(p, 1, n);
            if (exact ? malloc_usable_size(p) != n : malloc_usable_size(p) < n) {
                printf("usable size %zu for %zu bytes\n", malloc_usable_size(p), n);
                return 1;
            }
            p = realloc(p, n + 100);
            for (size_t k = 0; k < n; k++)
                if (p[k] != 1) return printf("realloc lost data\n"), 1;
            memset(p, 2, n + 100);
            free(p);
        }
        for (int i = 0; i < 20; i++) {   /* large blocks, at their guard pages */
            size_t n = 300000 + (size_t)i * 4099;
            char *p = malloc(n);
            memset(p, 4, n);
            if (malloc_usable_size(p) < n) return printf("large usable size\n"), 1;
            p = realloc(p, n * 2);
            for (size_t k = 0; k < n; k += 101)
                if (p[k] != 4) return printf("large realloc lost data\n"), 1;
            memset(p, 5, n * 2);
            free(p);
        }
        unsigned char *c = calloc(100, 3);
        for (int i = 0; i < 300; i++)
            if (c[i]) return printf("calloc not zero\n"), 1;
        free(c);
        void *a;
        if (posix_memalign(&a, 64, 100) || (size_t)a % 64) return printf("alignment\n"), 1;
        memset(a, 3, 100);
        free(a);
        puts("ok");
        return 0;
    }
    if (!strcmp(m, "overflow1")) { char *p = malloc(24); p[24] = 1; free(p); }
    if (!strcmp(m, "overflow32")) { char *p = malloc(100); memset(p, 'x', 132); free(p); }
    if (!strcmp(m, "overflow_large_class")) { char *p = malloc(20000); p[20000] = 1; free(p); }
    if (!strcmp(m, "write_after_free")) {
        char *p = malloc(64);
        free(p);
        p[20] = 7;
        churn(64, 3000);   /* the block leaves the quarantine or is handed out: checked */
    }
    if (!strcmp(m, "overflow_large")) { char *p = malloc(300001); p[300001] = 1; free(p); }
    if (!strcmp(m, "overflow_large_far")) { char *p = malloc(300000); p[300000 + 64] = 1; free(p); }
    if (!strcmp(m, "overflow_page_end")) {   /* past the last block of a span: its guard page */
        for (int i = 0; i < 100000; i++) {
            char *p = malloc(4000);
            memset(p, 1, 4000 + 4096);   /* runs far past the block; reaches a guard within a span */
        }
    }
    if (!strcmp(m, "double_free")) { char *p = malloc(64); free(p); free(p); }
    if (!strcmp(m, "double_free_delayed")) { char *p = malloc(64); free(p); churn(32, 100); free(p); }
    if (!strcmp(m, "fill")) {   /* no block ever shows another's old data */
        for (int r = 0; r < 2000; r++) {
            char *p = malloc(64);
            memset(p, 'S', 64);
            free(p);
            unsigned char *q = malloc(64);
            for (int k = 16; k < 64; k++)
                if (q[k] == 'S') return printf("old data seen\n"), 1;
            free(q);
        }
        puts("no old data");
        return 0;
    }
    if (!strcmp(m, "random_order")) {   /* consecutive allocations are not in address order */
        char *prev = malloc(48);
        int up = 0;
        for (int i = 0; i < 200; i++) {
            char *p = malloc(48);
            up += p > prev;
            prev = p;
        }
        printf("%d of 200 ascending\n", up);
        return up > 180 || up < 20;
    }
    return 3;   /* a misuse that was not caught ends here */
}
