/* realloc by small steps, up and down, with every kept byte checked after each call: the
 * in-place paths (the default mode's, and secure mode's, which rewrites the canary after the
 * new size) must never change a byte below the smaller of the old and new sizes. Run in both
 * modes; in secure mode malloc_usable_size must also be the request exactly. */
#include "common.h"

static int secure_mode(void) {
    const char *o = getenv("BRISK_OPTIONS");
    return o && strstr(o, "secure=1");
}

int main(void) {
    int secure = secure_mode();
    struct rng r = {42};
    for (int chain = 0; chain < 200; chain++) {
        size_t n = 1 + rng_below(&r, 64);
        unsigned char *p = malloc(n);
        CHECK(p != NULL, "malloc(%zu)", n);
        for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(i * 7 + chain);
        for (int step = 0; step < 300; step++) {
            /* mostly growth by 1..40 bytes, sometimes a shrink, up to a few KiB */
            size_t m = rng_below(&r, 4) ? n + 1 + rng_below(&r, 40) : 1 + rng_below(&r, n);
            if (m > 6000) m = 1 + rng_below(&r, 100);
            p = realloc(p, m);
            CHECK(p != NULL, "realloc(%zu)", m);
            size_t keep = n < m ? n : m;
            for (size_t i = 0; i < keep; i++)
                CHECK(p[i] == (unsigned char)(i * 7 + chain), "chain %d step %d: %zu -> %zu bytes, byte %zu changed",
                      chain, step, n, m, i);
            for (size_t i = keep; i < m; i++) p[i] = (unsigned char)(i * 7 + chain);
            if (secure) CHECK(malloc_usable_size(p) == m, "usable %zu, want %zu", malloc_usable_size(p), m);
            else CHECK(malloc_usable_size(p) >= m, "usable %zu < %zu", malloc_usable_size(p), m);
            n = m;
        }
        free(p);
    }
    printf("realloc_steps: 200 chains of 300 reallocs, contents kept%s\n", secure ? " (secure)" : "");
    return 0;
}
