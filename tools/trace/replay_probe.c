/* The replayer's measurements of itself (see replay_probe.h). */
#include "replay_probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "brisk.h"
#include "mm.h"

static ssize_t read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n >= 0)
        buf[n] = 0;
    return n;
}

void probe_init(struct probe *p, const char *timeline_path, const char *heapmap_prefix)
{
    memset(p, 0, sizeof *p);
    p->heap_dump = (int (*)(int))dlsym(RTLD_DEFAULT, "brisk_heap_dump");
    p->get_stats = (void (*)(void *))dlsym(RTLD_DEFAULT, "brisk_get_stats");
    p->heapmap_prefix = heapmap_prefix ? heapmap_prefix : "heapmap";
    p->timeline_fd = -1;
    if (timeline_path) {
        p->timeline_fd = open(timeline_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (p->timeline_fd < 0)
            die("%s: %s", timeline_path, strerror(errno));
        static const char head[] = "record,time_ns,live_bytes,live_upto_1KiB,live_upto_256KiB,"
                                   "live_above_256KiB,committed_bytes,rss_bytes\n";
        write_full(p->timeline_fd, head, sizeof head - 1, timeline_path);
    }
}

uint64_t probe_rss_bytes(void)
{
    char buf[256];
    unsigned long long size, resident;
    if (read_file("/proc/self/statm", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t probe_peak_kb(void)
{
    char buf[8192];
    if (read_file("/proc/self/status", buf, sizeof buf) <= 0)
        return 0;
    const char *line = strstr(buf, "\nVmHWM:");
    return line ? strtoull(line + 7, NULL, 10) : 0;
}

int probe_reset_peak(void)
{
    /* "5" resets the peak resident set to the present one (Linux 4.0+): the replay's peak
     * must not include what prep or start-up used */
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok ? 0 : -1;
}

void probe_timeline_row(struct probe *p, uint64_t record, uint64_t time_ns)
{
    if (p->timeline_fd < 0)
        return;
    char committed[32] = "";
    if (p->get_stats) {
        /* room to spare: a newer libbrisk may fill in a longer struct than this build knows */
        union {
            struct brisk_stats st;
            char room[4096];
        } u;
        memset(&u, 0, sizeof u);
        p->get_stats(&u.st);
        snprintf(committed, sizeof committed, "%zu", u.st.committed_bytes);
    }
    uint64_t rss = probe_rss_bytes();
    rss = rss > p->rss_base ? rss - p->rss_base : 0;
    char row[256];
    int n = snprintf(row, sizeof row,
                     "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                     ",%s,%" PRIu64 "\n", record, time_ns, p->live[0], p->live[1], p->live[2],
                     p->live[3], committed, rss);
    write_full(p->timeline_fd, row, (size_t)n, "timeline");
}

void probe_heap_dump(struct probe *p, uint64_t record)
{
    if (!p->heap_dump)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s.%" PRIu64 ".jsonl", p->heapmap_prefix, record);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        die("%s: %s", path, strerror(errno));
    if (p->heap_dump(fd) < 0)
        die("%s: brisk_heap_dump failed", path);
    close(fd);
    p->dumps_written++;
}

void probe_close(struct probe *p)
{
    if (p->timeline_fd >= 0 && close(p->timeline_fd) != 0)
        die("timeline: close: %s", strerror(errno));
    p->timeline_fd = -1;
}
