/* The public names of every lab allocator, on top of its core_* functions (lab.h).
 *
 * Everything here is the same for all four designs: glibc's rules for size 0, sizes too large,
 * overflow, errno and alignment arguments, and aligned allocation done the simple way (a block
 * `align` bytes larger, the aligned address inside it tagged with its distance to the block's
 * start). Linked into each design's .so separately; nothing is shared at run time. */
#include "lab.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define API __attribute__((visibility("default")))

/* The declarations of glibc 2.36 lack these two (C23); the lab exports them all the same, so
 * that a program using them never hands a lab block to another allocator. */
API void free_sized(void *p, size_t n);
API void free_aligned_sized(void *p, size_t align, size_t n);

static size_t page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

static void *no_memory(void)
{
    errno = ENOMEM;
    return NULL;
}

/* The block a pointer belongs to: itself, or the block an aligned pointer was carved from. */
static void *block_of(void *p)
{
    uintptr_t w = ((uintptr_t *)p)[-1];
    return (w & LAB_INNER) ? (char *)p - (w & ~(uintptr_t)15) : p;
}

/* bytes held from the OS now and taken in all (atomic: binned's arenas grow in parallel) */
static size_t os_now, os_total;

HIDDEN void lab_os_account(long delta)
{
    __atomic_add_fetch(&os_now, (size_t)delta, __ATOMIC_RELAXED);
    if (delta > 0)
        __atomic_add_fetch(&os_total, (size_t)delta, __ATOMIC_RELAXED);
}

HIDDEN void lab_die(const char *msg)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "lab: %s: %s\n", core_name(), msg);
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    abort();
}

/* The exit report calls the program's malloc with this size (too large anyway) to learn
 * whether the call lands here. */
#define PROBE (SIZE_MAX - 42)
static int probe_hit;

API void *malloc(size_t n)
{
    if (lab_unlikely(n > LAB_MAX_REQUEST)) {
        probe_hit |= n == PROBE;
        return no_memory();
    }
    return core_malloc(n);
}

API void free(void *p)
{
    if (!p)
        return;
    /* free never changes errno (sbrk or munmap inside a design might) */
    int saved = errno;
    core_free(block_of(p));
    errno = saved;
}

API void free_sized(void *p, size_t n)
{
    (void)n;
    free(p);
}

API void free_aligned_sized(void *p, size_t align, size_t n)
{
    (void)align;
    (void)n;
    free(p);
}

__attribute__((weak)) HIDDEN int core_fresh(void *p)
{
    (void)p;
    return 0;
}

API void *calloc(size_t k, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(k, n, &total) || total > LAB_MAX_REQUEST)
        return no_memory();
    void *p = core_malloc(total);
    if (p && !core_fresh(p))
        memset(p, 0, total);
    return p;
}

API size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    char *b = block_of(p);
    return core_usable(b) - (size_t)((char *)p - b);
}

HIDDEN void *lab_move(void *p, size_t n)
{
    void *q = core_malloc(n);
    if (!q)
        return NULL;
    size_t old = malloc_usable_size(p);
    memcpy(q, p, old < n ? old : n);
    core_free(block_of(p));
    return q;
}

API void *realloc(void *p, size_t n)
{
    if (!p)
        return malloc(n);
    if (n == 0) {
        free(p); /* glibc: realloc(p, 0) frees p and returns NULL */
        return NULL;
    }
    if (n > LAB_MAX_REQUEST)
        return no_memory();
    if (block_of(p) != p) /* an aligned block: keep it while it fits, else move it */
        return n <= malloc_usable_size(p) ? p : lab_move(p, n);
    return core_realloc(p, n);
}

API void *reallocarray(void *p, size_t k, size_t n)
{
    size_t total;
    if (__builtin_mul_overflow(k, n, &total))
        return no_memory();
    return realloc(p, total);
}

/* ---- aligned allocation ------------------------------------------------------------------ */

/* align: a power of two. Blocks are 16-aligned already; for more, take `align` bytes extra and
 * hand out the aligned address inside, at least 16 bytes in, with its tag in the word before. */
static void *aligned(size_t align, size_t n)
{
    if (align <= LAB_ALIGN)
        return malloc(n);
    if (align > LAB_MAX_REQUEST || n > LAB_MAX_REQUEST - align)
        return no_memory();
    char *b = core_malloc(n + align);
    if (!b)
        return NULL;
    uintptr_t q = ((uintptr_t)b + align - 1) & ~(uintptr_t)(align - 1);
    if (q != (uintptr_t)b)
        ((uintptr_t *)q)[-1] = (q - (uintptr_t)b) | LAB_INNER;
    return (void *)q;
}

static int power_of_two(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

API int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || !power_of_two(align))
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, n);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

/* As glibc 2.38 (and brisk): an alignment that is not a power of two is an error. */
API void *aligned_alloc(size_t align, size_t n)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(align, n);
}

/* glibc's memalign rounds an alignment that is not a power of two up to the next one. */
API void *memalign(size_t align, size_t n)
{
    if (align > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!power_of_two(align) && align > LAB_ALIGN)
        align = (size_t)1 << (64 - __builtin_clzl(align - 1));
    return aligned(align, n);
}

API void *valloc(size_t n)
{
    return aligned(page_size(), n);
}

API void *pvalloc(size_t n)
{
    size_t page = page_size(), rounded;
    if (__builtin_add_overflow(n, page - 1, &rounded))
        return no_memory();
    return aligned(page, rounded & ~(page - 1));
}

/* ---- the exit report --------------------------------------------------------------------- */

/* With LAB_STATS=1, one line on stderr at exit: the design, whether the program's malloc is
 * this library's (the tests' proof that the lab allocator was the one in use) and what the
 * design took from the OS. */
__attribute__((destructor)) static void report(void)
{
    const char *v = getenv("LAB_STATS");
    if (!v || strcmp(v, "1") != 0)
        return;
    /* through the program's own binding of malloc (a non-PIE program's is a stub of its own) */
    void *(*m)(size_t) = (void *(*)(size_t))(uintptr_t)dlsym(RTLD_DEFAULT, "malloc");
    probe_hit = 0;
    if (m)
        (void)m(PROBE);
    int here = probe_hit;
    char buf[200];
    int n = snprintf(buf, sizeof buf,
                     "lab: %s: malloc %s; %zu bytes from the OS at exit, %zu taken in all\n",
                     core_name(), here ? "is this library's" : "is NOT this library's",
                     __atomic_load_n(&os_now, __ATOMIC_RELAXED),
                     __atomic_load_n(&os_total, __ATOMIC_RELAXED));
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
