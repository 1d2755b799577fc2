/* One lock around the whole heap: how bump, freelist and coalesce are thread-safe. Simple and
 * correct; every thread waits for every other, which `make lab`'s threaded workload shows. */
#include "lab.h"

#include <pthread.h>

static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;

HIDDEN void lab_lock(void)
{
    pthread_mutex_lock(&big);
}

HIDDEN void lab_unlock(void)
{
    pthread_mutex_unlock(&big);
}

/* In the child of fork the lock was taken by the forking thread, which is the child's only
 * thread: a fresh lock is the same as releasing it. */
static void reset(void)
{
    pthread_mutex_init(&big, NULL);
}

/* Registered from a constructor, not from malloc: pthread_atfork may itself call malloc. */
__attribute__((constructor)) static void biglock_init(void)
{
    lab_atfork(lab_lock, lab_unlock, reset);
}
