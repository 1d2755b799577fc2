/* mmap-backed memory and growable arrays (see mm.h for why not malloc). */
#include "mm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

const char *die_prog = "brisk";

void die(const char *fmt, ...)
{
    /* vsnprintf into a stack buffer and one write: stderr's stdio may not be set up, and
     * this must not allocate either */
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s: ", die_prog);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(2, buf, (size_t)n) < 0) {
        /* nothing more to say */
    }
    exit(2);
}

void write_full(int fd, const void *buf, size_t len, const char *what)
{
    const char *b = buf;
    while (len) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("%s: write: %s", what, strerror(errno));
        b += n;
        len -= (size_t)n;
    }
}

static size_t round_pages(size_t bytes)
{
    size_t pg = 4096;
    return bytes ? (bytes + pg - 1) & ~(pg - 1) : pg;
}

void *mm_alloc(size_t bytes)
{
    void *p = mmap(NULL, round_pages(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        die("out of memory (mmap of %zu bytes failed)", bytes);
    /* Large tables (the live blocks of a long trace) are read at random: huge pages spare
     * a TLB miss on nearly every lookup. */
    if (bytes >= (4u << 20))
        madvise(p, round_pages(bytes), MADV_HUGEPAGE);
    return p;
}

void mm_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, round_pages(bytes));
}

void *mm_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    if (!p)
        return mm_alloc(new_bytes);
    if (round_pages(old_bytes) == round_pages(new_bytes))
        return p;
    void *q = mremap(p, round_pages(old_bytes), round_pages(new_bytes), MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        die("out of memory (mremap to %zu bytes failed)", new_bytes);
    return q;
}

void mmvec_init(struct mmvec *v, size_t esize)
{
    memset(v, 0, sizeof *v);
    v->esize = esize;
}

void *mmvec_push(struct mmvec *v)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4096 / v->esize + 1;
        v->p = mm_resize(v->p, v->cap * v->esize, cap * v->esize);
        v->cap = cap;
    }
    return (char *)v->p + v->esize * v->n++;
}

void mmvec_free(struct mmvec *v)
{
    mm_free(v->p, v->cap * v->esize);
    mmvec_init(v, v->esize);
}
