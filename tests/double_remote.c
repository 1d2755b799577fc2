/* Double frees that only other threads make, of a block whose page is full: the first free goes
 * on the owner's delayed list (the owner does not look at full pages), and the second must be
 * caught as a double free, not pushed there again (the owner would then put the block on its
 * page's list twice and hand it out twice). And two threads freeing one block of a page in use
 * at the same moment: the block's free mark is set atomically, so one of them always sees the
 * other's (the owner takes other threads' frees by a count, without walking their list, so a
 * block pushed twice would be handed out twice). Each case in a child process. */
#include "child.h"

#include <pthread.h>

static void *tell_and_free(void *p)
{
    child_tell(p);
    free(p);
    return NULL;
}

static void on_thread(void *(*fn)(void *), void *p)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fn, p) == 0);
    CHECK(pthread_join(t, NULL) == 0);
}

/* n blocks of `size` bytes: the first page fills, goes to the full list, and a second one
 * starts; the first block lies in the full page. */
static void full_page_double(const void *arg)
{
    size_t size = *(const size_t *)arg;
    static void *v[5000];
    for (int i = 0; i < 5000; i++) CHECK((v[i] = malloc(size)) != NULL);
    on_thread(t_free_it, v[0]);
    on_thread(tell_and_free, v[0]);
}

static pthread_barrier_t start;

static void *wait_and_free(void *p)
{
    pthread_barrier_wait(&start);
    free(p);
    return NULL;
}

/* two threads free one block at once; then the owner allocates from its page again */
static void racing_double(const void *arg)
{
    size_t size = *(const size_t *)arg;
    void *v[8];
    for (int i = 0; i < 8; i++) CHECK((v[i] = malloc(size)) != NULL);
    child_tell(v[3]);
    CHECK(pthread_barrier_init(&start, NULL, 2) == 0);
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, wait_and_free, v[3]) == 0);
    CHECK(pthread_create(&b, NULL, wait_and_free, v[3]) == 0);
    CHECK(pthread_join(a, NULL) == 0);
    CHECK(pthread_join(b, NULL) == 0);
    for (int i = 0; i < 100; i++) (void)malloc(size);
}

int main(void)
{
    static const size_t sizes[] = {64, 1024, 8192};
    int bad = 0;
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        struct child_result res;
        child_run(full_page_double, &sizes[k], &res);
        int aborted = WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGABRT;
        int said = strstr(res.err, "double free") != NULL;
        t_log("  %zu B: %s%s\n", sizes[k], aborted ? "aborted" : "not aborted", said ? " with \"double free\"" : "");
        if (!aborted || !said) bad++;
    }
    CHECK(bad == 0, "%d double frees from other threads into a full page were not caught", bad);
    enum { RACES = 40 };
    for (int k = 0; k < RACES; k++) {
        struct child_result res;
        size_t size = 16 + (size_t)(k % 8) * 48;
        child_run(racing_double, &size, &res);
        char what[128] = "";
        if (!(child_aborted(&res) && child_brisk_line(&res, "free", what, sizeof what) && strcmp(what, "double free") == 0)) {
            t_log("  race %d (%zu B): not caught as a double free; stderr: %s\n", k, size, res.err);
            bad++;
        }
    }
    t_log("  %d races of two threads freeing one block: %s\n", RACES, bad ? "some not caught" : "each caught as a double free");
    CHECK(bad == 0, "%d racing double frees were not caught", bad);
    return 0;
}
