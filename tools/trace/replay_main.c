/* brisk-replay: the program behind `brisk trace replay` (the launcher runs prep once, then run
 * once per allocator and round, each under its LD_PRELOAD).
 *
 *   brisk-replay prep [--ordered] TRACE OPS
 *   brisk-replay run OPS [--timeline CSV] [--timeline-every K]
 *                        [--heapmap-at N[,M...]] [--heapmap-prefix PREFIX]
 *
 * run prints one line "replay: key=value ..." (time_s, peak_rss_kb, base_rss_kb, errors ...)
 * and exits 1 when a check failed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mm.h"
#include "replay.h"

static void usage(void)
{
    fprintf(stderr, "usage: brisk-replay prep [--ordered] TRACE OPS\n"
                    "       brisk-replay run OPS [--timeline CSV] [--timeline-every K]\n"
                    "                            [--heapmap-at N[,M...]] [--heapmap-prefix PREFIX]\n");
    exit(2);
}

static uint64_t number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        die("%s: '%s' is not a number", what, s);
    return v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* "N,M,..." into a sorted array (from mm_alloc: this process must not call malloc itself
 * before the replay) */
static unsigned parse_list(const char *s, uint64_t **out)
{
    unsigned n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    uint64_t *v = mm_alloc(n * sizeof *v);
    char item[32];
    unsigned k = 0;
    for (const char *p = s;; p++) {
        if (*p == ',' || *p == 0) {
            size_t len = (size_t)(p - s);
            if (len == 0 || len >= sizeof item)
                die("--heapmap-at: bad list '%s'", s);
            memcpy(item, s, len);
            item[len] = 0;
            v[k++] = number(item, "--heapmap-at");
            s = p + 1;
            if (*p == 0)
                break;
        }
    }
    qsort(v, n, sizeof *v, cmp_u64);
    *out = v;
    return n;
}

int main(int argc, char **argv)
{
    die_prog = "brisk-replay";
    if (argc < 3)
        usage();
    if (strcmp(argv[1], "prep") == 0) {
        int ordered = argc == 5 && strcmp(argv[2], "--ordered") == 0;
        if (argc != 4 + ordered)
            usage();
        return replay_prep(argv[2 + ordered], argv[3 + ordered], ordered);
    }
    if (strcmp(argv[1], "run") != 0)
        usage();
    struct replay_opts o;
    memset(&o, 0, sizeof o);
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            die("%s: missing value (or unknown option)", a);
        const char *v = argv[++i];
        if (strcmp(a, "--timeline") == 0)
            o.timeline = v;
        else if (strcmp(a, "--timeline-every") == 0)
            o.timeline_every = number(v, a);
        else if (strcmp(a, "--heapmap-at") == 0)
            o.nheapmaps = parse_list(v, (uint64_t **)&o.heapmap_at);
        else if (strcmp(a, "--heapmap-prefix") == 0)
            o.heapmap_prefix = v;
        else
            die("unknown option '%s'", a);
    }
    return replay_run(argv[2], &o);
}
