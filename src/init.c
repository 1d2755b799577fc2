/* Process start-up: the globals, the one-time initialisation (a few system calls, nothing that
 * allocates), the options and the report at exit. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>

/* One byte per 4 MiB of the 47-bit address space: 32 MiB of zero pages in .bss, of which only
 * the pages covering brisk's own mappings are ever touched. */
uint8_t brisk_map[MAP_N];
uint64_t brisk_map_pages[MAP_N / MAP_PAGE_UNITS / 64];
uintptr_t brisk_secret;
page_t brisk_empty_page = {.head = &brisk_empty_page};
heap_t brisk_empty_heap = {.direct = {[0 ... DIRECT_N - 1] = &brisk_empty_page}};
__thread heap_t *brisk_tls_heap __attribute__((tls_model("initial-exec"))) = &brisk_empty_heap;
struct brisk_options brisk_opt = {.stats = 0, .purge_delay_ms = 250, .large_min = MAX_MEDIUM,
                                 .extent_min = BRISK_EXTENT_MIN ? BRISK_EXTENT_MIN : SIZE_MAX,
                                 .tick_freed_bytes = (size_t)8 << 20, .extent_cache = 1};
struct brisk_counters brisk_cnt;
int brisk_fast_off;
_Atomic int brisk_ready;

static lock_t init_lock;
static int report_fd = 2;

/* ---- BRISK_OPTIONS: "key=value,key=value". The string is untrusted: its length is capped,
 * numbers are range-checked digit by digit, and anything unknown or malformed is named in one
 * warning line and ignored. ---- */
#define OPTIONS_MAX_LEN 4096

static void warn(const char *what, const char *s, size_t n) {
    char buf[160];
    size_t k = 0;
    const char *pre = "brisk: BRISK_OPTIONS: ";
    for (const char *c = pre; *c && k < sizeof buf - 1; c++) buf[k++] = *c;
    for (const char *c = what; *c && k < sizeof buf - 1; c++) buf[k++] = *c;
    if (k < sizeof buf - 1) buf[k++] = '\'';
    for (size_t i = 0; i < n && i < 64 && k < sizeof buf - 1; i++) buf[k++] = (s[i] >= 32 && s[i] < 127) ? s[i] : '?';
    if (k < sizeof buf - 1) buf[k++] = '\'';
    const char *post = " ignored\n";
    for (const char *c = post; *c && k < sizeof buf - 1; c++) buf[k++] = *c;
    buf[k] = 0;
    brisk_write_err(buf);
}

static int parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out) {
    unsigned long v = 0;
    if (n == 0 || n > 20) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

/* A file name: 1..255 bytes, no control characters (a comma ends it, as any value). */
static int parse_path(const char *s, size_t n, char out[OPT_PATH_MAX]) {
    if (n == 0 || n >= OPT_PATH_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
    memcpy(out, s, n);
    out[n] = 0;
    return 1;
}

static int key_is(const char *k, size_t kn, const char *name) {
    return strlen(name) == kn && memcmp(k, name, kn) == 0;
}

static void option(const char *s, size_t n) {
    const char *eq = memchr(s, '=', n);
    if (eq == NULL) {
        warn("malformed option (want key=value) ", s, n);
        return;
    }
    size_t kn = (size_t)(eq - s), vn = n - kn - 1;
    const char *v = eq + 1;
    unsigned long x;
    if (key_is(s, kn, "stats")) {
        if (vn == 4 && memcmp(v, "json", 4) == 0) brisk_opt.stats = 2;
        else if (parse_uint(v, vn, 1, &x)) brisk_opt.stats = (int)x;
        else warn("stats takes 0, 1 or json: ", s, n);
    } else if (key_is(s, kn, "secure")) {
        if (parse_uint(v, vn, 1, &x)) brisk_opt.secure = (int)x;
        else warn("secure takes 0 or 1: ", s, n);
    } else if (key_is(s, kn, "test_fail_map")) {
        if (parse_uint(v, vn, 1000000000, &x)) brisk_opt.test_fail_map = x;
        else warn("test_fail_map takes 0..1000000000: ", s, n);
    } else if (key_is(s, kn, "trace")) {
        if (!parse_path(v, vn, brisk_opt.trace)) warn("trace takes a file name (1..255 bytes): ", s, n);
    } else if (key_is(s, kn, "heapmap")) {
        if (!parse_path(v, vn, brisk_opt.heapmap)) warn("heapmap takes a file name (1..255 bytes): ", s, n);
    } else if (key_is(s, kn, "extents")) {   /* 0: big blocks from the size classes only */
        if (parse_uint(v, vn, 1, &x)) brisk_opt.extent_min = x ? EXTENT_MIN_ON : SIZE_MAX;
        else warn("extents takes 0 or 1: ", s, n);
    } else if (key_is(s, kn, "extent_cache")) {
        if (parse_uint(v, vn, 1, &x)) brisk_opt.extent_cache = (int)x;
        else warn("extent_cache takes 0 or 1: ", s, n);
    } else if (key_is(s, kn, "extent_min")) {
        if (parse_uint(v, vn, MAX_MEDIUM, &x) && x >= 4096) brisk_opt.extent_min = x;
        else warn("extent_min takes 4096..262144: ", s, n);
    } else if (key_is(s, kn, "purge_delay_ms")) {
        if (parse_uint(v, vn, 10000, &x)) brisk_opt.purge_delay_ms = (unsigned)x;
        else warn("purge_delay_ms takes 0..10000: ", s, n);
    } else {
        warn("unknown option ", s, kn);
    }
}

static void options_parse(const char *env) {
    if (env == NULL) return;
    size_t len = strnlen(env, OPTIONS_MAX_LEN + 1);
    if (len > OPTIONS_MAX_LEN) {
        warn("longer than 4096 bytes: whole string ", env, 16);
        return;
    }
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && env[j] != ',') j++;
        if (j > i) option(env + i, j - i);
        i = j + 1;
    }
}

void brisk_global_init(void) {
    if (likely(atomic_load_explicit(&brisk_ready, memory_order_acquire))) return;
    lock_acquire(&init_lock);
    if (!atomic_load_explicit(&brisk_ready, memory_order_relaxed)) {
        os_page_size();
        uintptr_t s;
        do s = (uintptr_t)os_random();
        while (s == 0);
        brisk_secret = s;
        options_parse(getenv("BRISK_OPTIONS"));
        /* Programs like coreutils close stderr before exit; keep a private copy for the report. */
        if (brisk_opt.stats) {
            int fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
            if (fd >= 0) report_fd = fd;
        }
        if (brisk_opt.trace[0]) trace_open(brisk_opt.trace);
        if (brisk_opt.secure) brisk_fast_off = 1;
        if (brisk_opt.secure) brisk_opt.extent_min = SIZE_MAX;   /* its canaries live in class blocks */
        if (brisk_opt.heapmap[0]) heapdump_install();
        heap_global_init();
        atomic_store_explicit(&brisk_ready, 1, memory_order_release);
    }
    lock_release(&init_lock);
}

__attribute__((destructor)) static void brisk_fini(void) {
    trace_finish();
    if (brisk_opt.heapmap[0]) heapdump_at_exit();
    if (brisk_opt.stats) stats_print_fd(report_fd);
}
