/* A broken allocator for the replay's own test: preloaded with glibc's malloc beneath, its
 * calloc(4, 10) hands out memory that is not zeroed (every other call is glibc's). The hand-made
 * trace has one such call: a replay that does not notice has checks that check nothing. */
#include <stdlib.h>
#include <string.h>

extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_malloc(size_t size);

void *calloc(size_t n, size_t size)
{
    if (n == 4 && size == 10) {
        char *p = __libc_malloc(n * size);
        if (p)
            memset(p, 0xa5, n * size);
        return p;
    }
    return __libc_calloc(n, size);
}
