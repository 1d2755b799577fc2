/* brisk: a fast, lean, checked malloc for Linux.
 *
 * Linking libbrisk (or LD_PRELOAD=libbrisk.so) replaces malloc and its whole family;
 * the prefixed functions below reach brisk directly, whatever allocator the standard names
 * resolve to (useful under sanitizers or beside another malloc). */
#ifndef BRISK_H
#define BRISK_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BRISK_VERSION "0.1.0"

void *brisk_malloc(size_t size);
void brisk_free(void *ptr);
void *brisk_calloc(size_t n, size_t size);
void *brisk_realloc(void *ptr, size_t size);
void *brisk_reallocarray(void *ptr, size_t n, size_t size);
int brisk_posix_memalign(void **memptr, size_t alignment, size_t size);
void *brisk_aligned_alloc(size_t alignment, size_t size);
void *brisk_memalign(size_t alignment, size_t size);
void *brisk_valloc(size_t size);
void *brisk_pvalloc(size_t size);
size_t brisk_malloc_usable_size(void *ptr);
void brisk_free_sized(void *ptr, size_t size);
void brisk_free_aligned_sized(void *ptr, size_t alignment, size_t size);
/* Gives free memory back to the OS now; returns 1 if any was released. */
int brisk_trim(size_t pad);
/* mallopt: M_MMAP_THRESHOLD and M_TRIM_THRESHOLD are honoured (returns 1), other known
 * parameters accepted and ignored (1), unknown ones refused (0). */
int brisk_mallopt(int param, int value);

/* Process-wide figures, gathered on demand (the small-block figures of other running
 * threads are a snapshot, exact once those threads are quiet). */
struct brisk_stats {
    size_t allocations;      /* blocks handed out since start (all threads, small and large) */
    size_t live_bytes;       /* bytes in blocks handed out and not yet freed (rounded to block
                              * sizes; frees from other threads count once their owner collects them) */
    size_t mapped_bytes;     /* address space mapped from the OS now */
    size_t committed_bytes;  /* mapped and not purged: an upper bound of brisk's RSS */
    size_t peak_committed_bytes;
    size_t purged_bytes;     /* total given back with madvise/munmap since start */
    size_t large_live;       /* large (mmap) blocks in use */
    size_t large_cached;     /* freed large mappings kept for reuse */
    size_t heaps_created;    /* per-thread heaps made */
    size_t heaps_reclaimed;  /* heaps of exited threads taken over by new threads */
    size_t remote_frees;     /* frees from a thread other than the block's owner */
    size_t peak_live_bytes;  /* the most live_bytes seen, sampled at purge ticks and on demand */
};
void brisk_get_stats(struct brisk_stats *out);
/* Per size class: the block size, blocks handed out since start, blocks live now. */
struct brisk_class_stats {
    size_t block_size;
    size_t allocations;
    size_t live_blocks;
};
/* Fills up to max entries (classes with any allocation); returns how many there are. */
int brisk_get_class_stats(struct brisk_class_stats *out, int max);
/* The same numbers as brisk_stats_print, as one JSON object (what stats=json prints at exit). */
void brisk_stats_print_json(FILE *out);
/* A readable report of brisk_get_stats (what BRISK_OPTIONS=stats=1 prints at exit). */
void brisk_stats_print(FILE *out);
/* The layout of the heap now (segments, pages, large blocks, totals) as JSON lines on fd, in
 * the format of docs/trace-format.md; `brisk heapmap` draws it. Returns 0, or -1 for a bad fd. */
int brisk_heap_dump(int fd);

#ifdef __cplusplus
}
#endif
#endif
