/* brisk-trace-summary: `brisk trace summary [--json] FILE` (the launcher calls it). */
#include <stdio.h>
#include <string.h>

#include "summary.h"

static struct summary sum;   /* large (two quantile histograms): not on the stack */

int main(int argc, char **argv)
{
    die_prog = "brisk trace summary";
    int json = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] == '-' && argv[i][1])
            die("unknown option '%s'", argv[i]);
        else if (path)
            die("one trace at a time ('%s' and '%s')", path, argv[i]);
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: brisk trace summary [--json] FILE\n");
        return 2;
    }
    struct trace t;
    char err[512];
    if (trace_open(&t, path, err, sizeof err) != 0)
        die("%s", err);
    struct tmerge m;
    tmerge_init(&m, &t);
    summary_init(&sum, &t, path);
    sum.runs = m.nruns;
    struct trec r;
    const struct trec *next;
    while (tmerge_next(&m, &r, &next)) {
        if (next) {   /* its block (or realloc's old one) is looked up 16 records on */
            ptrmap_prefetch(&sum.live, next->ptr);
            ptrmap_prefetch(&sum.live, next->arg);
        }
        summary_record(&sum, &r);
    }
    summary_finish(&sum);
    if (json)
        summary_print_json(&sum, stdout);
    else
        summary_print_text(&sum, stdout);
    tmerge_free(&m);
    trace_close(&t);
    return fflush(stdout) == 0 ? 0 : 2;
}
