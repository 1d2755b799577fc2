/* Aligned allocations after mallopt(M_MMAP_THRESHOLD) lowered the large-block threshold: sizes
 * between the new threshold and the largest class must still come back aligned and usable (the
 * aligned path once sent them to a large block and then wrote a page tag through it: a crash).
 * Run in both modes. */
#include "common.h"

#include <stdint.h>

int main(void) {
    CHECK(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1, "mallopt(M_MMAP_THRESHOLD, 64 KiB)");
    int blocks = 0;
    for (size_t n = 1000; n < 300000; n = n * 5 / 4 + 777) {
        for (size_t a = 32; a <= 65536; a *= 2) {
            void *p = NULL;
            CHECK(posix_memalign(&p, a, n) == 0 && p != NULL, "posix_memalign(%zu, %zu)", a, n);
            CHECK((uintptr_t)p % a == 0, "posix_memalign(%zu, %zu) = %p: misaligned", a, n, p);
            CHECK(malloc_usable_size(p) >= n, "usable size %zu < %zu", malloc_usable_size(p), n);
            fill_pattern(p, n, 7);
            void *q = aligned_alloc(a, n);
            CHECK(q != NULL && (uintptr_t)q % a == 0, "aligned_alloc(%zu, %zu) = %p", a, n, q);
            memset(q, 1, n);
            CHECK(check_pattern(p, n, 7) == (size_t)-1, "block of %zu bytes changed", n);
            free(p);
            free(q);
            blocks += 2;
        }
    }
    printf("aligned_threshold: %d aligned blocks with a 64 KiB mmap threshold\n", blocks);
    return 0;
}
