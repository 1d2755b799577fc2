/* `brisk trace summary` output: a readable report, or JSON (--json) with the same figures. */
#include <inttypes.h>
#include <stdio.h>

#include "summary.h"

/* "1.5 MiB": numbers in the text report keep their exact value beside this. */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double v = (double)bytes;
    unsigned u = 0;
    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", bytes);
    else
        snprintf(buf, len, "%.1f %s", v, unit[u]);
    return buf;
}

static const char *ns_str(uint64_t ns, char *buf, size_t len)
{
    if (ns < 1000)
        snprintf(buf, len, "%" PRIu64 " ns", ns);
    else if (ns < 1000000)
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.3f s", (double)ns / 1e9);
    return buf;
}

static uint64_t bucket_lo(unsigned k)
{
    return k ? (uint64_t)1 << (k - 1) : 0;
}

static uint64_t bucket_hi(unsigned k)
{
    return k ? (k == 64 ? UINT64_MAX : ((uint64_t)1 << k) - 1) : 0;
}

static double busiest_rate(const struct summary *s)
{
    return (double)s->busiest_calls * 1e9 / (double)SUM_WINDOW_NS;
}

static unsigned threads_exited(const struct summary *s)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->threads.n; i++)
        n += MMVEC_AT(&s->threads, struct sum_thread, i).exited != 0;
    return n;
}

/* At most this many threads get a line in the text report (all of them in JSON). */
#define TEXT_THREADS 32

static void text_threads(const struct summary *s, FILE *out)
{
    fprintf(out, "threads: %zu (%u exited)\n", s->threads.n, threads_exited(s));
    fprintf(out, "  %8s %12s %12s %12s %12s\n", "thread", "calls", "allocs", "frees",
            "cross-frees");
    for (size_t i = 0; i < s->threads.n && i < TEXT_THREADS; i++) {
        const struct sum_thread *th = &MMVEC_AT(&s->threads, struct sum_thread, i);
        fprintf(out, "  %8zu %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", i,
                th->calls, th->allocs, th->frees, th->cross_frees);
    }
    if (s->threads.n > TEXT_THREADS)
        fprintf(out, "  ... %zu more (--json lists them all)\n", s->threads.n - TEXT_THREADS);
}

static void text_sizes(const struct summary *s, FILE *out)
{
    char a[32], b[32], c[32];
    fprintf(out, "sizes asked for (%" PRIu64 " allocations, %" PRIu64 " bytes):\n",
            s->alloc_blocks, s->alloc_bytes);
    fprintf(out, "  %-21s %12s %6s %20s %6s\n", "size", "count", "%", "bytes", "%");
    for (unsigned k = 0; k < SUM_SIZE_BUCKETS; k++) {
        if (!s->size_count[k])
            continue;
        char range[48];
        if (k == 0)
            snprintf(range, sizeof range, "0");
        else
            snprintf(range, sizeof range, "[%s, %s)", human(bucket_lo(k), a, sizeof a),
                     human(bucket_hi(k) + 1, b, sizeof b));
        fprintf(out, "  %-21s %12" PRIu64 " %6.1f %20" PRIu64 " %6.1f  %s\n", range,
                s->size_count[k], 100.0 * (double)s->size_count[k] / (double)s->alloc_blocks,
                s->size_bytes[k],
                s->alloc_bytes ? 100.0 * (double)s->size_bytes[k] / (double)s->alloc_bytes : 0.0,
                human(s->size_bytes[k], c, sizeof c));
    }
}

void summary_print_text(const struct summary *s, FILE *out)
{
    char a[32], b[32], c[32];
    const uint64_t *op = s->ops;
    fprintf(out, "trace: %s (pid %u, %" PRIu64 " records, %s)\n", s->path, s->t->pid, s->records,
            ns_str(s->last_ns - s->first_ns, a, sizeof a));
    if (s->t->trailing)
        fprintf(out, "  (ignored %zu bytes of a partial last record)\n", s->t->trailing);
    fprintf(out, "calls: %" PRIu64 "\n", s->calls);
    fprintf(out, "  malloc %" PRIu64 ", free %" PRIu64 ", calloc %" PRIu64 ", realloc %" PRIu64
            ", aligned %" PRIu64 "; thread exits %" PRIu64 "\n",
            op[OP_MALLOC], op[OP_FREE], op[OP_CALLOC], op[OP_REALLOC], op[OP_ALIGNED],
            op[OP_THREAD_EXIT]);
    fprintf(out, "  failed (NULL) %" PRIu64 ", realloc(NULL, n) %" PRIu64 ", realloc(p, 0) %" PRIu64
            "%s\n", s->failed, s->realloc_null, s->realloc_free,
            s->unknown_ops ? " (and records of unknown ops, skipped)" : "");
    text_threads(s, out);
    text_sizes(s, out);
    fprintf(out, "lifetimes (%" PRIu64 " blocks ended):\n", s->life_calls.n);
    fprintf(out, "  in calls: median %" PRIu64 ", p90 %" PRIu64 ", max %" PRIu64 "\n",
            qhist_quantile(&s->life_calls, 0.5), qhist_quantile(&s->life_calls, 0.9),
            s->life_calls.max);
    fprintf(out, "  in time:  median %s, p90 %s, max %s\n",
            ns_str(qhist_quantile(&s->life_ns, 0.5), a, sizeof a),
            ns_str(qhist_quantile(&s->life_ns, 0.9), b, sizeof b),
            ns_str(s->life_ns.max, c, sizeof c));
    fprintf(out, "  never freed: %" PRIu64 " blocks, %" PRIu64 " bytes (%s)\n", s->never_blocks,
            s->never_bytes, human(s->never_bytes, a, sizeof a));
    fprintf(out, "peak live: %" PRIu64 " bytes (%s) in %" PRIu64 " blocks, at %s (call %" PRIu64
            ")\n", s->peak_bytes, human(s->peak_bytes, a, sizeof a), s->peak_blocks,
            ns_str(s->peak_ns, b, sizeof b), s->peak_call);
    fprintf(out, "busiest 10 ms: %" PRIu64 " calls from %s = %.0f calls/s\n", s->busiest_calls,
            ns_str(s->busiest_start_ns, a, sizeof a), busiest_rate(s));
    fprintf(out, "unmatched: frees %" PRIu64 ", reallocs %" PRIu64
            "; addresses returned while live %" PRIu64 "\n",
            s->unmatched_frees, s->unmatched_reallocs, s->reused_live);
}

static void json_string(FILE *out, const char *str)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void json_quantiles(FILE *out, const char *name, const struct qhist *h)
{
    fprintf(out, "\"%s\":{\"median\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"max\":%" PRIu64 "}", name,
            qhist_quantile(h, 0.5), qhist_quantile(h, 0.9), h->max);
}

static void json_threads(const struct summary *s, FILE *out)
{
    fprintf(out, "\"threads\":{\"count\":%zu,\"exited\":%u,\"per_thread\":[", s->threads.n,
            threads_exited(s));
    for (size_t i = 0; i < s->threads.n; i++) {
        const struct sum_thread *th = &MMVEC_AT(&s->threads, struct sum_thread, i);
        fprintf(out, "%s{\"thread\":%zu,\"calls\":%" PRIu64 ",\"allocs\":%" PRIu64
                ",\"frees\":%" PRIu64 ",\"cross_frees\":%" PRIu64 ",\"exited\":%s}",
                i ? "," : "", i, th->calls, th->allocs, th->frees, th->cross_frees,
                th->exited ? "true" : "false");
    }
    fprintf(out, "]},\n");
}

void summary_print_json(const struct summary *s, FILE *out)
{
    const uint64_t *op = s->ops;
    fprintf(out, "{\"file\":");
    json_string(out, s->path);
    fprintf(out, ",\"pid\":%u,\"records\":%" PRIu64 ",\"calls\":%" PRIu64
            ",\"duration_ns\":%" PRIu64 ",\"runs\":%" PRIu64 ",\"trailing_bytes\":%zu,\n",
            s->t->pid, s->records, s->calls, s->last_ns - s->first_ns, s->runs, s->t->trailing);
    fprintf(out, "\"ops\":{\"malloc\":%" PRIu64 ",\"free\":%" PRIu64 ",\"calloc\":%" PRIu64
            ",\"realloc\":%" PRIu64 ",\"aligned\":%" PRIu64 ",\"thread_exit\":%" PRIu64 "},\n",
            op[OP_MALLOC], op[OP_FREE], op[OP_CALLOC], op[OP_REALLOC], op[OP_ALIGNED],
            op[OP_THREAD_EXIT]);
    fprintf(out, "\"failed\":%" PRIu64 ",\"realloc_null\":%" PRIu64 ",\"realloc_free\":%" PRIu64
            ",\"unknown_ops\":%" PRIu64 ",\n", s->failed, s->realloc_null, s->realloc_free,
            s->unknown_ops);
    json_threads(s, out);
    fprintf(out, "\"allocated\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 "},\n\"sizes\":[",
            s->alloc_blocks, s->alloc_bytes);
    int first = 1;
    for (unsigned k = 0; k < SUM_SIZE_BUCKETS; k++) {
        if (!s->size_count[k])
            continue;
        fprintf(out, "%s{\"lo\":%" PRIu64 ",\"hi\":%" PRIu64 ",\"count\":%" PRIu64
                ",\"bytes\":%" PRIu64 "}", first ? "" : ",", bucket_lo(k), bucket_hi(k),
                s->size_count[k], s->size_bytes[k]);
        first = 0;
    }
    fprintf(out, "],\n\"lifetimes\":{\"ended\":%" PRIu64 ",", s->life_calls.n);
    json_quantiles(out, "calls", &s->life_calls);
    fputc(',', out);
    json_quantiles(out, "ns", &s->life_ns);
    fprintf(out, ",\"never_freed\":{\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64 "}},\n",
            s->never_blocks, s->never_bytes);
    fprintf(out, "\"peak_live\":{\"bytes\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"time_ns\":%" PRIu64
            ",\"call\":%" PRIu64 "},\n", s->peak_bytes, s->peak_blocks, s->peak_ns, s->peak_call);
    fprintf(out, "\"busiest\":{\"window_ns\":%llu,\"calls\":%" PRIu64 ",\"start_ns\":%" PRIu64
            ",\"calls_per_s\":%.0f},\n", SUM_WINDOW_NS, s->busiest_calls, s->busiest_start_ns,
            busiest_rate(s));
    fprintf(out, "\"unmatched\":{\"frees\":%" PRIu64 ",\"reallocs\":%" PRIu64
            ",\"reused_live\":%" PRIu64 "}}\n", s->unmatched_frees, s->unmatched_reallocs,
            s->reused_live);
}
