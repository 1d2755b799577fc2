/* binned's per-thread cache (tcache): 64 short lists of free chunks, one per chunk size from
 * 32 to 1040 bytes, at most 7 chunks each, owned by one thread, so malloc and free of small
 * blocks take no lock at all. The chunks stay "in use" as far as their arena knows.
 *
 *     struct tcache (allocated from the thread's arena on its first malloc)
 *       counts[0]=2   entries[0] --> [next|key|...] --> [next|key|...] --> NULL   (32-byte chunks)
 *       counts[1]=0   entries[1] --> NULL                                        (48-byte chunks)
 *       ...
 *       counts[63]=7  entries[63] --> ... (7 chunks)                             (1040-byte chunks)
 *
 * An entry lives in the chunk's payload: the link, and a process-wide random key that marks the
 * chunk as cached, so that a second free of the same pointer is caught (glibc's "double free
 * detected in tcache 2"). When a thread exits, its cached chunks go back to their arenas. */
#include "binned.h"

#include <string.h>
#include <sys/random.h>

struct entry {
    struct entry *next;
    uintptr_t key;
};

struct tcache {
    uint16_t counts[TCACHE_BINS];
    struct entry *entries[TCACHE_BINS];
};

enum { TC_NONE, TC_STARTING, TC_ON, TC_OFF };

static __thread struct tcache *tcache;
static __thread int tc_state; /* TC_STARTING and TC_OFF: this thread's calls bypass the cache */
static uintptr_t tcache_key;
static pthread_key_t exit_key;
static int exit_key_ok;

HIDDEN void *tcache_take(size_t tidx)
{
    struct tcache *tc = tcache;
    if (!tc || !tc->entries[tidx])
        return NULL;
    struct entry *e = tc->entries[tidx];
    tc->entries[tidx] = e->next;
    tc->counts[tidx]--;
    e->key = 0;
    return e;
}

HIDDEN int tcache_has_room(size_t tidx)
{
    struct tcache *tc = tcache;
    return tc && tidx < TCACHE_BINS && tc->counts[tidx] < TCACHE_COUNT;
}

HIDDEN int tcache_offer(chunk_t *c, size_t tidx)
{
    struct tcache *tc = tcache;
    if (!tc || tidx >= TCACHE_BINS)
        return 0;
    struct entry *e = chunk2mem(c);
    /* the key says "cached" (or is a coincidence: then the list does not hold it) */
    if (lab_unlikely(e->key == tcache_key))
        for (struct entry *x = tc->entries[tidx]; x; x = x->next)
            if (x == e)
                lab_die("free(): double free detected in tcache");
    if (tc->counts[tidx] >= TCACHE_COUNT)
        return 0;
    e->key = tcache_key;
    e->next = tc->entries[tidx];
    tc->entries[tidx] = e;
    tc->counts[tidx]++;
    return 1;
}

/* A thread's first malloc: its cache, from its arena. pthread_setspecific may call calloc (for
 * keys past the first 32): that call finds TC_STARTING and goes straight to the arena. */
HIDDEN void tcache_ensure(void)
{
    if (lab_likely(tc_state != TC_NONE))
        return;
    tc_state = TC_STARTING;
    if (!tcache_key && getrandom(&tcache_key, sizeof tcache_key, GRND_NONBLOCK) != sizeof tcache_key)
        tcache_key = (uintptr_t)&tcache_key * 0x9E3779B97F4A7C15ULL;
    arena_t *a = arena_get();
    pthread_mutex_lock(&a->lock);
    struct tcache *tc = int_malloc(a, request2size(sizeof *tc));
    pthread_mutex_unlock(&a->lock);
    if (!tc) {
        tc_state = TC_NONE; /* out of memory: try again on a later malloc */
        return;
    }
    memset(tc, 0, sizeof *tc);
    if (exit_key_ok)
        pthread_setspecific(exit_key, tc);
    tcache = tc;
    tc_state = TC_ON;
}

static void free_to_arena(chunk_t *c)
{
    arena_t *a = arena_for_chunk(c);
    pthread_mutex_lock(&a->lock);
    free_locked(a, c);
    pthread_mutex_unlock(&a->lock);
}

/* The thread exits: its cached chunks and the cache itself go back to their arenas, and frees
 * that come later (other TLS destructors) go straight there too. */
static void thread_exit(void *arg)
{
    (void)arg;
    struct tcache *tc = tcache;
    tcache = NULL;
    tc_state = TC_OFF;
    if (tc) {
        for (size_t i = 0; i < TCACHE_BINS; i++) {
            while (tc->entries[i]) {
                struct entry *e = tc->entries[i];
                tc->entries[i] = e->next;
                e->key = 0;
                free_to_arena(mem2chunk(e));
            }
        }
        free_to_arena(mem2chunk(tc));
    }
    arena_detach();
}

/* From a constructor: pthread_key_create does not allocate, but it must run only once. */
HIDDEN void tcache_setup(void)
{
    exit_key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}
