/* What the replayer measures about its own process: resident set (now and peak), and, when
 * the preloaded allocator is brisk, its statistics and heap dumps (found with dlsym, so that the
 * replayer runs unchanged under any allocator). Nothing here calls malloc: the numbers must be
 * the allocator's own. */
#ifndef BRISK_TRACE_REPLAY_PROBE_H
#define BRISK_TRACE_REPLAY_PROBE_H

#include <stdint.h>

struct probe {
    int (*heap_dump)(int fd);      /* brisk_heap_dump, or NULL */
    void (*get_stats)(void *out);  /* brisk_get_stats, or NULL */
    int timeline_fd;               /* -1 when no timeline is written */
    const char *heapmap_prefix;
    /* live bytes of the trace at this point, total and by size: <= 1 KiB, <= 256 KiB, above
     * (kept by the replay in trace order) */
    uint64_t live[4];
    /* the resident set when the replay began (the replayer's own tables): the timeline's RSS
     * is what came on top of it, the allocator's */
    uint64_t rss_base;
    unsigned dumps_written;
};

/* Looks the brisk functions up; opens the timeline (header line written) when PATH is given. */
void probe_init(struct probe *p, const char *timeline_path, const char *heapmap_prefix);
uint64_t probe_rss_bytes(void);
/* The peak resident set (VmHWM) in KiB; 0 when unknown. */
uint64_t probe_peak_kb(void);
/* Resets the peak to the present resident set; 0 on success. */
int probe_reset_peak(void);
/* One timeline row after trace record RECORD (its time TIME_NS). */
void probe_timeline_row(struct probe *p, uint64_t record, uint64_t time_ns);
/* A heap dump after record RECORD into PREFIX.RECORD.jsonl, when the allocator has one. */
void probe_heap_dump(struct probe *p, uint64_t record);
void probe_close(struct probe *p);

#endif
