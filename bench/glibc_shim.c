/* libglibc_shim.so: gives glibc's malloc back to a program linked against another allocator.
 * Debian's redis-server links libjemalloc, so run without LD_PRELOAD it uses jemalloc, not
 * glibc; preloading this library makes the standard names resolve to glibc's malloc again (the
 * benchmark's "glibc" column for redis). Every call forwards to glibc's exported __libc_*
 * entry points, or to glibc's own symbol looked up in libc.so.6 itself; the extra call costs a
 * few instructions, against the hundreds a server spends per request.
 * jemalloc-only calls (mallctl, used by redis for its INFO figures) still reach jemalloc, which
 * then manages nothing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

#define API __attribute__((visibility("default")))

API void *malloc(size_t n) { return __libc_malloc(n); }
API void free(void *p) { __libc_free(p); }
API void *calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
API void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
API void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
API void *aligned_alloc(size_t a, size_t n) { return __libc_memalign(a, n); }
API void *valloc(size_t n) { return __libc_valloc(n); }
API void *pvalloc(size_t n) { return __libc_pvalloc(n); }

API int posix_memalign(void **out, size_t a, size_t n)
{
    if (a < sizeof(void *) || (a & (a - 1)))
        return EINVAL;
    void *p = __libc_memalign(a, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

API void *reallocarray(void *p, size_t n, size_t s)
{
    size_t total;
    if (__builtin_mul_overflow(n, s, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, total);
}

/* glibc exports no __libc_ name for this one: take it from libc.so.6 itself, so that the
 * other allocator's malloc_usable_size, earlier in the search order, is passed over. */
API size_t malloc_usable_size(void *p)
{
    static size_t (*real)(void *);
    if (!real) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        if (libc)
            real = (size_t(*)(void *))dlsym(libc, "malloc_usable_size");
        if (!real)
            return 0;
    }
    return real(p);
}
