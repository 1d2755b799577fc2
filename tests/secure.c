/* Secure mode (BRISK_OPTIONS=secure=1): one misuse per run, named by argv[1] (argv[2]: how many
 * bytes, for the modes that take it); the suite checks that brisk reports it and aborts, or that
 * the run dies at a guard page. "ok" runs correct code that must pass every check.
 * A run that gets to its end without being stopped exits 3: the misuse was not caught; 4: the
 * layout the mode needs (adjacent blocks, a span's first or last block) was not found. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define SLOT ((uintptr_t)64 << 10)   /* brisk's page spans start on 64 KiB slots */
#define SEG ((uintptr_t)4 << 20)     /* ... of 4 MiB segments, whose first 16 KiB is a header */
#define SEG_HDR ((uintptr_t)16 << 10)

static void churn(size_t n, int times) {
    for (int i = 0; i < times; i++) free(malloc(n));
}

/* Stops the compiler from reasoning about what the bytes at p hold (or that p is a fresh block). */
static char *opaque(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

static int cmp_addr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return (x > y) - (x < y);
}

/* Two live blocks of n bytes, *right starting where *left's block ends: secure mode carves in a
 * random order, so they are found by address among enough blocks to fill a few spans. */
static int adjacent_pair(size_t n, char **left, char **right) {
    enum { CAP = 4096 };
    static uintptr_t v[CAP];
    size_t k = 3 * 61440 / (n + 8) + 16;
    if (k > CAP) k = CAP;
    for (size_t i = 0; i < k; i++) v[i] = (uintptr_t)malloc(n);
    qsort(v, k, sizeof v[0], cmp_addr);
    uintptr_t stride = UINTPTR_MAX;   /* the block size: the closest two blocks are */
    for (size_t i = 0; i + 1 < k; i++)
        if (v[i + 1] - v[i] < stride) stride = v[i + 1] - v[i];
    for (size_t i = 0; i + 1 < k; i++)
        if (v[i + 1] - v[i] == stride) {
            *left = (char *)v[i];
            *right = (char *)v[i + 1];
            return 1;
        }
    return 0;
}

/* A live block of n bytes for which want(address) holds, among at most `tries` allocations. */
static char *block_where(size_t n, size_t tries, int (*want)(uintptr_t)) {
    for (size_t i = 0; i < tries; i++) {
        char *p = malloc(n);
        if (want((uintptr_t)p)) return p;
    }
    return NULL;
}

/* the first block of a span past a segment's first slot: after the span's leading guard page */
static int span_first_not_seg(uintptr_t a) { return a % SLOT == 4096 && a % SEG != 4096; }
/* the first block of a segment's first span, just after the segment header */
static int span_first_in_seg(uintptr_t a) { return a % SEG == SEG_HDR; }
/* a 4096-byte block (a 4088-byte request and its canary word) whose end is its span's guard
 * page: spans of that class are one slot, its last 4 KiB the guard */
static int span_last_4k(uintptr_t a) { return a % SLOT == SLOT - 2 * 4096; }

/* Changes the k bytes before p (each flipped: a fixed byte would already be there one time in
 * 256 when it falls on the neighbour's tail word, whose bytes come from the secret), then frees
 * p (and with `neighbour`, the block before it, whose canary those bytes are). */
static void underflow(char *left, char *p, size_t k, int neighbour) {
    volatile char *q = opaque(p) - k;
    for (size_t i = 0; i < k; i++) q[i] = (char)~q[i];
    free(p);
    if (neighbour) free(left);
}

/* Reads the k bytes from p + from; a read that returns is printed, so it is not optimised out. */
static void read_past(char *p, size_t from, size_t k) {
    volatile char *q = opaque(p);
    unsigned sum = 0;
    for (size_t i = 0; i < k; i++) sum += (unsigned char)q[from + i];
    printf("read %zu bytes past the end: sum %u\n", k, sum);
}

/* The misuse modes of the remaining cases; returns 0 if m is none of them. */
static int misuse_mode(const char *m, size_t k) {
    char *left, *p;
    /* underflow: k bytes before a block; "_own": only that block is freed, "_nb": then its left
     * neighbour too (the bytes before a block are its neighbour's canary) */
    static const struct { const char *name; size_t n; int nb; } under[] = {
        {"underflow_small_own", 100, 0}, {"underflow_small_nb", 100, 1},
        {"underflow_medium_own", 20000, 0}, {"underflow_medium_nb", 20000, 1},
    };
    for (unsigned i = 0; i < sizeof under / sizeof under[0]; i++) {
        if (strcmp(m, under[i].name)) continue;
        if (!adjacent_pair(under[i].n, &left, &p)) return 4;
        underflow(left, p, k, under[i].nb);
        return 1;
    }
    if (!strcmp(m, "underflow_freed_nb")) {   /* the neighbour is in quarantine: its fill is hit */
        if (!adjacent_pair(100, &left, &p)) return 4;
        free(left);
        underflow(NULL, p, k, 0);
        churn(32, 1100);   /* pushes the neighbour out of the quarantine (512 blocks a thread) */
        for (int i = 0; i < 8000; i++) (void)opaque(malloc(100));   /* until it is handed out */
        return 1;
    }
    if (!strcmp(m, "underflow_span_first") || !strcmp(m, "underflow_seg_first")) {
        int (*want)(uintptr_t) = !strcmp(m, "underflow_span_first") ? span_first_not_seg : span_first_in_seg;
        if ((p = block_where(100, 200000, want)) == NULL) return 4;
        underflow(NULL, p, k, 0);
        return 1;
    }
    if (!strcmp(m, "underflow_large")) {   /* argv[2] bytes before a 1 MiB and a 300 KiB block */
        underflow(NULL, malloc(MiB), k, 0);
        underflow(NULL, malloc(300 * KiB), k, 0);
        return 1;
    }
    /* a linear run of 1 MiB past the end, from the block's start */
    size_t run_n = !strcmp(m, "run_small") ? 100 : !strcmp(m, "run_medium") ? 20000 : !strcmp(m, "run_large") ? MiB : 0;
    if (run_n) {
        p = malloc(run_n);
        memset(opaque(p), 'r', run_n + MiB);
        free(p);
        return 1;
    }
    if (!strcmp(m, "far_large")) {   /* one byte 1 MiB past the end of a block of argv[2] MiB */
        p = malloc(k * MiB);
        opaque(p)[k * MiB + MiB] = 1;
        free(p);
        return 1;
    }
    /* reads of argv[2] bytes past the end of a block that ends at a guard page */
    if (!strcmp(m, "read_span_end")) {
        if ((p = block_where(4088, 20000, span_last_4k)) == NULL) return 4;
        read_past(p, 4088, k);
        return 1;
    }
    if (!strcmp(m, "read_large_end")) {   /* 300000: a multiple of 16, no rounding before the guard */
        read_past(malloc(300000), 300000, k);
        return 1;
    }
    if (!strcmp(m, "write_zero_size")) {   /* argv[2] bytes into a zero-size block */
        p = malloc(0);
        memset(opaque(p), 'z', k);
        free(p);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *m = argv[1];
    int r = misuse_mode(m, argc > 2 ? strtoul(argv[2], NULL, 10) : 1);
    if (r) return r == 4 ? 4 : 3;
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
    if (!strcmp(m, "span_shapes")) {   /* slots reused by spans of other sizes: guards move */
        static const size_t sizes[] = {100, 40000, 3000, 150000, 20000, 700, 90000, 8000};
        for (int round = 0; round < 24; round++) {
            size_t n = sizes[round % 8];
            int count = (int)(3000000 / n) + 1;
            char **p = malloc(sizeof *p * (size_t)count);
            for (int i = 0; i < count; i++) memset(p[i] = malloc(n), 'a' + round % 26, n);
            for (int i = 0; i < count; i++)
                if (p[i][0] != 'a' + round % 26 || p[i][n - 1] != 'a' + round % 26) return printf("changed\n"), 1;
            for (int i = 0; i < count; i++) free(p[i]);
            free(p);
            if (round % 3 == 2) malloc_trim(0);
        }
        printf("span_shapes: ok\n");
        return 0;
    }
    if (!strcmp(m, "quarantine_big")) {   /* a few big blocks fill the quarantine's byte bound */
        for (int round = 0; round < 50; round++) {
            char *p[8];
            size_t n = 150000 + (size_t)round * 1000;
            for (int i = 0; i < 8; i++) memset(p[i] = malloc(n), 'a' + i, n);
            for (int i = 0; i < 8; i++)
                for (size_t k = 0; k < n; k += 997)
                    if (p[i][k] != 'a' + i) return printf("big block %d changed\n", i), 1;
            for (int i = 0; i < 8; i++) free(p[i]);
        }
        printf("quarantine_big: ok\n");
        return 0;
    }
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
