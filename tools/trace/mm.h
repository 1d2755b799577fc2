/* Memory for the trace tools, straight from mmap.
 *
 * The replayer runs under the allocator it measures (LD_PRELOAD): its own tables must not come
 * from malloc, or they would be counted as that allocator's memory and shape its heap. The
 * summary uses the same pieces so that one implementation serves both. */
#ifndef BRISK_TRACE_MM_H
#define BRISK_TRACE_MM_H

#include <stddef.h>

/* Prints "PROG: MESSAGE" on stderr and exits with status 2. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
extern const char *die_prog;

/* Writes all of BUF to FD (again after a short write or EINTR); dies naming WHAT on error. */
void write_full(int fd, const void *buf, size_t len, const char *what);

/* Zeroed anonymous memory; dies when the system has none. */
void *mm_alloc(size_t bytes);
void mm_free(void *p, size_t bytes);
/* Grows (or shrinks) a block from mm_alloc, keeping its contents; new bytes are zero. */
void *mm_resize(void *p, size_t old_bytes, size_t new_bytes);

/* A growable array of fixed-size elements. */
struct mmvec {
    void *p;
    size_t n;    /* elements in use */
    size_t cap;  /* elements allocated */
    size_t esize;
};
void mmvec_init(struct mmvec *v, size_t esize);
/* Appends one zeroed element and returns it (valid until the next push). */
void *mmvec_push(struct mmvec *v);
void mmvec_free(struct mmvec *v);
#define MMVEC_AT(v, type, i) (((type *)(v)->p)[i])

#endif
