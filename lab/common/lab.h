/* The lab's shared contract: what each design (bump, freelist, coalesce, binned) provides to
 * api.c, and what api.c and the two small helpers (biglock.c, fork.c) give back.
 *
 * api.c owns the public names (malloc, free, calloc, realloc, the aligned functions...) and
 * every rule that is the same whatever the design: sizes too large, calloc overflow, errno,
 * realloc(p, 0), alignment arguments, aligned blocks carved out of larger ones. A design only
 * implements the core_* functions below, so that its file shows its idea and nothing else.
 *
 * One convention every design keeps: the 8 bytes before a block hold its size with flags in
 * bits 0-2, and sizes are multiples of 16, so bit 3 (LAB_INNER) is never set there. api.c uses
 * that bit to mark a pointer it handed out from inside a larger block (aligned allocation). */
#ifndef LAB_H
#define LAB_H

#include <stddef.h>
#include <stdint.h>

#define LAB_ALIGN 16

/* Largest request a design ever sees: far enough below PTRDIFF_MAX that adding a header,
 * alignment slack and page rounding overflows neither size_t nor sbrk's intptr_t. */
#define LAB_MAX_REQUEST ((size_t)PTRDIFF_MAX - ((size_t)1 << 24))

/* Bit 3 of the word before an aligned pointer p inside block b: that word is (p - b) | LAB_INNER. */
#define LAB_INNER ((uintptr_t)8)

#define HIDDEN __attribute__((visibility("hidden")))
#define lab_likely(x) __builtin_expect(!!(x), 1)
#define lab_unlikely(x) __builtin_expect(!!(x), 0)

static inline size_t lab_align_up(size_t n, size_t a)
{
    return (n + a - 1) & ~(a - 1);
}

/* ---- what each design implements (never called with a lock of api.c held) ---------------- */

/* A block of at least n bytes (0 <= n <= LAB_MAX_REQUEST), 16-aligned, distinct from every live
 * block even when n is 0; NULL with errno ENOMEM when memory runs out. */
HIDDEN void *core_malloc(size_t n);
/* Frees a block returned by core_malloc or core_realloc (never NULL, never an inner pointer). */
HIDDEN void core_free(void *p);
/* Resizes block p (not NULL, not inner) to n bytes (1 <= n <= LAB_MAX_REQUEST), in place when
 * the design can, else with lab_move; NULL with errno ENOMEM and p untouched on failure. */
HIDDEN void *core_realloc(void *p, size_t n);
/* How many bytes of block p the program may use (at least what it asked for). */
HIDDEN size_t core_usable(void *p);
/* 1 when block p, just returned by core_malloc, is known to be zero (fresh pages): calloc then
 * skips its memset. Optional: api.c's weak default says 0. */
HIDDEN int core_fresh(void *p);
/* The design's name, for the exit report (LAB_STATS=1) and error messages. */
HIDDEN const char *core_name(void);

/* ---- what api.c provides to the designs --------------------------------------------------- */

/* realloc the slow way: a new block, the contents copied, the old block freed. */
HIDDEN void *lab_move(void *p, size_t n);
/* Prints "lab: MESSAGE" on stderr and aborts: a corrupted heap or a double free. */
HIDDEN __attribute__((noreturn)) void lab_die(const char *msg);
/* Every design reports here what it takes from the OS (delta > 0) and gives back (< 0). */
HIDDEN void lab_os_account(long delta);

/* ---- biglock.c: the one lock of bump, freelist and coalesce ------------------------------- */
HIDDEN void lab_lock(void);
HIDDEN void lab_unlock(void);

/* ---- fork.c: fork handlers that order the allocator's locks after stdio's ----------------- */
/* lock_all runs in fork's prepare step, unlock_all in the parent, reset_all in the child. */
HIDDEN void lab_atfork(void (*lock_all)(void), void (*unlock_all)(void), void (*reset_all)(void));

#endif
