/* fork handlers for the lab allocators.
 *
 * The child of a multi-threaded program must not inherit a lock that another thread held in
 * the middle of malloc, so the allocator's locks are taken before fork and released after it.
 * The catch (glibc bug 19431, tests/fork.c "stdio"): glibc's fork takes its own lock on the list
 * of open FILEs *after* the atfork prepare handlers ran. A thread in getline holds a FILE lock
 * and reallocs (wants our lock); a thread in fflush(NULL) holds the list lock and waits for that
 * FILE; the forking thread holds our lock and waits for the list lock: a cycle. Taking the list
 * lock first (it is recursive, and libc exports it) puts every thread in the same order:
 * FILE list, then a FILE, then the allocator. */
#include "lab.h"

#include <pthread.h>

/* libc exports these (GLIBC_2.2.5) but no header of glibc 2.36 declares them. */
extern void _IO_list_lock(void);
extern void _IO_list_unlock(void);
extern void _IO_list_resetlock(void);

static void (*lock_all_fn)(void), (*unlock_all_fn)(void), (*reset_all_fn)(void);

static void prepare(void)
{
    _IO_list_lock();
    lock_all_fn();
}

static void parent(void)
{
    unlock_all_fn();
    _IO_list_unlock();
}

/* The child has one thread; glibc resets its list lock there only when the parent had several,
 * so reset it in every case. */
static void child(void)
{
    reset_all_fn();
    _IO_list_resetlock();
}

HIDDEN void lab_atfork(void (*lock_all)(void), void (*unlock_all)(void), void (*reset_all)(void))
{
    lock_all_fn = lock_all;
    unlock_all_fn = unlock_all;
    reset_all_fn = reset_all;
    pthread_atfork(prepare, parent, child);
}
