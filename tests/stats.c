/* Statistics, heap dumps and traces, through the library (the brisk command's side of them is in
 * tests/insight). Modes: "stats" (per-class numbers, JSON, mallopt, heap dump) and "traced" (a
 * known sequence of calls, whose trace the suite counts). */
#define _GNU_SOURCE
#include "brisk.h"
#include "common.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct brisk_class_stats cls_of(size_t block_size) {
    struct brisk_class_stats cs[128];
    int n = brisk_get_class_stats(cs, 128);
    for (int i = 0; i < n && i < 128; i++)
        if (cs[i].block_size == block_size) return cs[i];
    return (struct brisk_class_stats){0, 0, 0};
}
static struct brisk_class_stats cls48(void) { return cls_of(48); }

/* Every malloc counts once, whichever path pops its block: 20 rounds of 100 blocks of 950 bytes
 * (class 960, which nothing else here uses), freed after each round, so that each round takes
 * them again through the owner's local frees (the dry path) and now and then a refill. */
static void t_counts_exact(int quarantine) {
    static void *q[100];
    struct brisk_class_stats before = cls_of(960);
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 100; i++) q[i] = malloc(950);
        for (int i = 0; i < 100; i++) free(q[i]);
    }
    struct brisk_class_stats after = cls_of(960);
    CHECK(after.allocations == before.allocations + 2000, "class 960: %zu allocations counted for 2000 mallocs",
          after.allocations - before.allocations);
    CHECK(quarantine || after.live_blocks == before.live_blocks, "class 960: %zu live blocks, %zu before",
          after.live_blocks, before.live_blocks);
}

/* Blocks above 8 KiB (extents, or class blocks in secure mode) count in the class of their
 * usable size: 20000 bytes and an extent's 16-byte tail take five 4 KiB units, 20464 bytes,
 * which the 20480-byte class holds. */
static void t_extent_class_stats(int quarantine) {
    static void *e[40];
    struct brisk_class_stats before = cls_of(20480);
    for (int i = 0; i < 40; i++) e[i] = malloc(20000);
    struct brisk_class_stats mid = cls_of(20480);
    CHECK(mid.allocations >= before.allocations + 40 && mid.live_blocks >= before.live_blocks + 40,
          "class 20480: %zu allocations and %zu live, before %zu and %zu", mid.allocations, mid.live_blocks,
          before.allocations, before.live_blocks);
    for (int i = 0; i < 40; i++) free(e[i]);
    struct brisk_class_stats after = cls_of(20480);
    CHECK(quarantine || after.live_blocks + 40 <= mid.live_blocks, "class 20480 after frees: %zu live, before %zu",
          after.live_blocks, mid.live_blocks);
    CHECK(after.allocations >= mid.allocations, "class 20480: allocations fell from %zu to %zu", mid.allocations,
          after.allocations);
}

static void t_class_stats(void) {
    static void *p[1000];
    struct brisk_class_stats before = cls48();
    for (int i = 0; i < 1000; i++) p[i] = malloc(40);
    struct brisk_class_stats mid = cls48();
    CHECK(mid.allocations >= before.allocations + 1000, "class 48: %zu allocations, want >= %zu", mid.allocations,
          before.allocations + 1000);
    CHECK(mid.live_blocks >= 1000, "class 48: %zu live blocks, want >= 1000", mid.live_blocks);

    /* the heap dump shows them: pages of 48-byte blocks holding at least 1000 */
    int fd = memfd_create("dump", 0);
    CHECK(fd >= 0, "memfd_create");
    CHECK(brisk_heap_dump(-1) == -1, "brisk_heap_dump(-1) must fail");
    /* a dump reads only the parts of the address-space map that say something: reading all of
     * it (32 MiB) once made the process's RSS grow by that much */
    size_t rss0 = rss_bytes();
    CHECK(brisk_heap_dump(fd) == 0, "brisk_heap_dump");
    size_t rss1 = rss_bytes();
    CHECK(!RSS_CHECKS || rss1 < rss0 + (2u << 20), "a heap dump made RSS grow from %zu to %zu KiB", rss0 >> 10,
          rss1 >> 10);
    size_t len = (size_t)lseek(fd, 0, SEEK_END);
    char *dump = malloc(len + 1);
    CHECK(pread(fd, dump, len, 0) == (ssize_t)len, "read the dump");
    dump[len] = 0;
    close(fd);
    long used48 = 0, resident48 = 0;
    for (char *l = strstr(dump, "\"block_size\":48,"); l; l = strstr(l + 1, "\"block_size\":48,")) {
        char *u = strstr(l, "\"used\":"), *r = strstr(l, "\"resident\":"), *n = strchr(l, '\n');
        CHECK(u != NULL && r != NULL && r < n, "page line without used or resident");
        used48 += atol(u + 7);
        long res = atol(r + 11);
        CHECK(res >= 0 && res <= 4 * 65536, "a page of 48-byte blocks with %ld bytes resident", res);
        resident48 += res;
    }
    CHECK(used48 >= 1000, "the dump shows %ld used 48-byte blocks, want >= 1000", used48);
    /* what mincore says: the blocks carved (their free-list links were written) are in RAM */
    CHECK(resident48 >= used48 * 48 - 8192, "%ld used 48-byte blocks in %ld bytes resident", used48, resident48);
    for (char *l = strstr(dump, "{\"type\":\"segment\""); l; l = strstr(l + 1, "{\"type\":\"segment\"")) {
        char *r = strstr(l, "\"resident\":");
        CHECK(r != NULL && r < strchr(l, '\n') && atol(r + 11) > 0, "a segment line without bytes resident");
    }
    CHECK(strncmp(dump, "{\"type\":\"process\"", 17) == 0, "the dump starts with the process line");
    CHECK(strstr(dump, "{\"type\":\"stats\"") != NULL, "the dump ends with a stats line");
    free(dump);

    for (int i = 0; i < 1000; i++) free(p[i]);
    struct brisk_class_stats after = cls48();
    const char *opt = getenv("BRISK_OPTIONS");
    int quarantine = opt && strstr(opt, "secure=1");   /* secure mode holds freed blocks a while */
    CHECK(quarantine || after.live_blocks + 1000 <= mid.live_blocks, "class 48 after frees: %zu live, before %zu", after.live_blocks,
          mid.live_blocks);
    t_extent_class_stats(quarantine);
    t_counts_exact(quarantine);
    struct brisk_stats s;
    brisk_get_stats(&s);
    CHECK(s.peak_live_bytes >= 48000, "peak live bytes %zu, want >= 48000", s.peak_live_bytes);

    /* JSON: the same numbers, one object */
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    brisk_stats_print_json(f);
    fclose(f);
    CHECK(buf[0] == '{' && strstr(buf, "\"classes\":[") && strstr(buf, "{\"block_size\":48,"), "JSON: %s", buf);
    free(buf);

    /* M_MMAP_THRESHOLD: 100 KB blocks become large mappings below a 64 KiB threshold */
    brisk_get_stats(&s);
    size_t large0 = s.large_live;
    void *a = malloc(100000);
    brisk_get_stats(&s);
    CHECK(s.large_live == large0, "100000 bytes is not large by default");
    CHECK(mallopt(M_MMAP_THRESHOLD, 64 * 1024) == 1, "mallopt(M_MMAP_THRESHOLD, 64 KiB)");
    void *b = malloc(100000);
    brisk_get_stats(&s);
    CHECK(s.large_live == large0 + 1, "after M_MMAP_THRESHOLD 64 KiB, 100000 bytes must be large");
    CHECK(mallopt(M_MMAP_THRESHOLD, 64 << 20) == 0, "a threshold above 32 MiB is refused");
    CHECK(mallopt(M_MMAP_THRESHOLD, -1) == 0, "a negative threshold is refused");
    free(a);
    free(b);

    /* M_TRIM_THRESHOLD 0: pages given back are purged at the next slow paths, no delay waited */
    CHECK(mallopt(M_TRIM_THRESHOLD, -1) == 0, "a negative trim threshold is refused");
    CHECK(mallopt(M_TRIM_THRESHOLD, 0) == 1, "mallopt(M_TRIM_THRESHOLD, 0)");
    static void *big[64];
    for (int i = 0; i < 64; i++) big[i] = malloc(60000);
    brisk_get_stats(&s);
    size_t purged0 = s.purged_bytes;
    for (int i = 0; i < 64; i++) free(big[i]);
    for (int i = 0; i < 200; i++) free(malloc(20000 + (size_t)i * 64));   /* slow paths, at once */
    brisk_get_stats(&s);
    CHECK(s.purged_bytes >= purged0 + 1024 * 1024, "M_TRIM_THRESHOLD 0: %zu bytes purged after 3.8 MB "
          "freed, want >= 1 MiB", s.purged_bytes - purged0);
}

/* 100 malloc(7777), 50 calloc(3, 2591), 25 of the first realloc'd to 9999, 10
 * posix_memalign(4096, 5555), the 160 blocks freed: sizes nothing else in the process asks for. */
static void t_trace_calls(void) {
    static void *p[160];
    int k = 0;
    for (int i = 0; i < 100; i++) p[k++] = malloc(7777);
    for (int i = 0; i < 50; i++) p[k++] = calloc(3, 2591);
    for (int i = 0; i < 25; i++) p[i] = realloc(p[i], 9999);
    for (int i = 0; i < 10; i++) CHECK(posix_memalign(&p[k++], 4096, 5555) == 0, "posix_memalign");
    for (int i = 0; i < k; i++) free(p[i]);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "traced") == 0) t_trace_calls();
    else t_class_stats();
    puts("ok");
    return 0;
}
