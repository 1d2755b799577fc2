/* A tiny shared library that tests/misc.c loads with dlopen: its code allocates blocks that the
 * main program frees, and frees blocks that the main program allocated. */
#include <stdlib.h>
#include <string.h>

/* A block of n bytes filled with `c`, allocated here (in the dlopen'ed library). */
char *dlmod_make(size_t n, int c)
{
    char *p = malloc(n);
    if (p)
        memset(p, c, n);
    return p;
}

/* Grow a block the main program made, check its first n bytes, and free it here. */
int dlmod_take(char *p, size_t n, int c)
{
    char *q = realloc(p, n * 2 + 1);
    if (q == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (q[i] != (char)c) {
            free(q);
            return 0;
        }
    free(q);
    return 1;
}

/* A string built with the C library's own allocation (strdup). */
char *dlmod_strdup(const char *s)
{
    return strdup(s);
}
