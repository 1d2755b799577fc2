/* brisk loaded with dlopen(RTLD_LOCAL) into a program that does not link it: the standard names
 * stay glibc's, and the prefixed API reaches brisk (the use beside another allocator). This also
 * proves brisk's static TLS is small enough for a late dlopen.
 * usage: dlbrisk PATH-TO-libbrisk.so */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c, ...)                                                                            \
    do {                                                                                         \
        if (!(c)) {                                                                              \
            fprintf(stderr, "FAILED CHECK %s:%d: %s\n", __FILE__, __LINE__, #c);                 \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

static void *(*b_malloc)(size_t);
static void (*b_free)(void *);
static void *(*b_realloc)(void *, size_t);
static size_t (*b_usable)(void *);

static void *worker(void *arg)
{
    size_t seed = (size_t)(uintptr_t)arg;
    void *blocks[500];
    size_t sizes[500];
    for (int i = 0; i < 500; i++) {
        size_t n = sizes[i] = (seed * 31 + (size_t)i * 977) % 5000 + 1;
        blocks[i] = b_malloc(n);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], i & 0xff, n);
        void *g = malloc(n); /* glibc's, side by side */
        CHECK(g != NULL);
        free(g);
    }
    for (int i = 0; i < 500; i++) {
        blocks[i] = b_realloc(blocks[i], 100);
        size_t last = (sizes[i] < 100 ? sizes[i] : 100) - 1;
        CHECK(blocks[i] != NULL && ((unsigned char *)blocks[i])[last] == (i & 0xff));
        b_free(blocks[i]);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc > 1);
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen(%s) failed: %s\n", argv[1], dlerror());
        return 1;
    }
    b_malloc = (void *(*)(size_t))dlsym(h, "brisk_malloc");
    b_free = (void (*)(void *))dlsym(h, "brisk_free");
    b_realloc = (void *(*)(void *, size_t))dlsym(h, "brisk_realloc");
    b_usable = (size_t(*)(void *))dlsym(h, "brisk_malloc_usable_size");
    CHECK(b_malloc && b_free && b_realloc && b_usable);
    void *p = b_malloc(1000);
    CHECK(p != NULL && b_usable(p) >= 1000);
    b_free(p);
    /* the standard names are still glibc's: brisk must not have taken them over */
    void *g = malloc(100);
    CHECK(g != NULL);
    void *(*b_malloc_default)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    CHECK(b_malloc_default != (void *(*)(size_t))dlsym(h, "malloc"));
    free(g);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    printf("dlbrisk: brisk_malloc works in a program that loaded brisk with dlopen\n");
    return 0;
}
