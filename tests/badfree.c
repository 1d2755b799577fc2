/* Bad input: free/realloc of pointers brisk never handed out, and double frees.
 *
 * Each case runs in a forked child whose stderr goes into a pipe. brisk must print a line that
 * starts with "brisk: free(): " (or "brisk: realloc(): ") and contains the bad pointer as 0x...
 * hex, then die by SIGABRT. The child tells the parent the pointer through a second pipe
 * before it makes the bad call. The prefixed functions (brisk_free, brisk_realloc) are held to
 * the same rule; for them the message may name either free() or brisk_free(). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

enum op { OP_FREE, OP_REALLOC, OP_BRISK_FREE, OP_BRISK_REALLOC, OP_COUNT };
static const char *const op_name[OP_COUNT] = {"free", "realloc", "brisk_free", "brisk_realloc"};

enum target {
    T_STACK,
    T_GLOBAL,
    T_SMALL_INTERIOR,
    T_MEDIUM_INTERIOR,
    T_LARGE_INTERIOR_PAGE,
    T_LARGE_INTERIOR_16,
    T_MMAP_START,
    T_MMAP_INSIDE,
    T_DOUBLE_SMALL,
    T_DOUBLE_SMALL_NOT_LAST,
    T_DOUBLE_MEDIUM,
    T_DOUBLE_LARGE,
    T_DOUBLE_ALIGNED,
    T_DOUBLE_REMOTE,
    T_INTERIOR_ALIGNED_PAGE,
    T_WILD_LOW,
    T_WILD_HIGH,
    T_WILD_NONCANONICAL,
    T_ALIGNED_INTERIOR,
    T_DOUBLE_ALIGNED_SMALL,
    T_COUNT
};
static const char *const target_key[T_COUNT] = {
    "stack", "global", "small_interior", "medium_interior", "large_interior_page",
    "large_interior_16", "mmap_start", "mmap_inside", "double_small", "double_small_not_last",
    "double_medium", "double_large", "double_aligned", "double_remote", "interior_aligned_page",
    "wild_low", "wild_high", "wild_noncanonical", "aligned_interior", "double_aligned_small",
};
static const char *const target_name[T_COUNT] = {
    "stack address",
    "global",
    "interior pointer of a 100-byte block",
    "interior pointer of a 100 KiB block",
    "interior pointer (+4096) of a 2 MiB block",
    "interior pointer (+16) of a 2 MiB block",
    "start of a foreign mmap",
    "inside a foreign mmap",
    "double free of a 64-byte block",
    "double free of a 64-byte block, not the last one freed",
    "double free of a 100 KiB block",
    "double free of an 8 MiB block",
    "double free of a 4096-aligned block",
    "double free of a block another thread freed first",
    "interior pointer of a small block in a page that also holds aligned blocks",
    "wild pointer 0x10000",
    "wild pointer just above 128 TiB",
    "non-canonical pointer 0xdead000000000010",
    "interior pointer (+16) of a 64-aligned 100-byte block",
    "double free of a 64-aligned 100-byte block",
};

static void *(*remote_release)(void *);

static void *free_in_thread(void *p)
{
    remote_release(p);
    return NULL;
}

static void *call_free(void *p)
{
    free(p);
    return NULL;
}

static void *call_brisk_free(void *p)
{
    brisk_free(p);
    return NULL;
}

static char global_buf[8192] __attribute__((aligned(4096)));

static void do_op(enum op op, void *p)
{
    void *r;
    switch (op) {
    case OP_FREE:
        free(p);
        break;
    case OP_REALLOC:
        r = realloc(p, 200);
        t_dprintf(1, "realloc returned %p\n", r);
        break;
    case OP_BRISK_FREE:
        brisk_free(p);
        break;
    default:
        r = brisk_realloc(p, 200);
        t_dprintf(1, "brisk_realloc returned %p\n", r);
        break;
    }
}

/* In the child: make the bad pointer, report it on fd `tell`, then make the bad call. */
__attribute__((noinline)) static void child(enum op op, enum target t, int tell)
{
    char stack_buf[256] __attribute__((aligned(64)));
    memset(stack_buf, 1, sizeof stack_buf);
    int brisk_side = op == OP_BRISK_FREE || op == OP_BRISK_REALLOC;
    void *(*alloc)(size_t) = brisk_side ? brisk_malloc : malloc;
    void (*release)(void *) = brisk_side ? brisk_free : free;
    unsigned char *p = NULL;
    switch (t) {
    case T_STACK:
        p = (unsigned char *)stack_buf + 64;
        break;
    case T_GLOBAL:
        p = (unsigned char *)global_buf + 64;
        break;
    case T_SMALL_INTERIOR:
        p = alloc(100);
        CHECK(p != NULL);
        p += 16;
        break;
    case T_MEDIUM_INTERIOR:
        p = alloc(100 * KiB);
        CHECK(p != NULL);
        p += 4096;
        break;
    case T_LARGE_INTERIOR_PAGE:
        p = alloc(2 * MiB);
        CHECK(p != NULL);
        p += 4096;
        break;
    case T_LARGE_INTERIOR_16:
        p = alloc(2 * MiB);
        CHECK(p != NULL);
        p += 16;
        break;
    case T_MMAP_START:
    case T_MMAP_INSIDE:
        p = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(p != MAP_FAILED);
        memset(p, 0x42, 64 * KiB);
        if (t == T_MMAP_INSIDE)
            p += 256;
        break;
    case T_DOUBLE_SMALL:
        p = alloc(64);
        CHECK(p != NULL);
        release(p);
        break;
    case T_DOUBLE_SMALL_NOT_LAST: {
        p = alloc(64);
        unsigned char *q = alloc(64), *s = alloc(64);
        CHECK(p != NULL && q != NULL && s != NULL);
        release(p);
        release(q);
        release(s);
        break;
    }
    case T_DOUBLE_MEDIUM:
        p = alloc(100 * KiB);
        CHECK(p != NULL);
        memset(p, 1, 100 * KiB);
        release(p);
        break;
    case T_DOUBLE_LARGE:
        p = alloc(8 * MiB);
        CHECK(p != NULL);
        touch_pages(p, 8 * MiB);
        release(p);
        break;
    case T_DOUBLE_ALIGNED: {
        void *v = NULL;
        CHECK((brisk_side ? brisk_posix_memalign : posix_memalign)(&v, 4096, 5000) == 0);
        p = v;
        release(p);
        break;
    }
    case T_DOUBLE_REMOTE: {
        p = alloc(48);
        CHECK(p != NULL);
        remote_release = brisk_side ? call_brisk_free : call_free;
        pthread_t th;
        CHECK(pthread_create(&th, NULL, free_in_thread, p) == 0);
        CHECK(pthread_join(th, NULL) == 0);
        break;
    }
    case T_INTERIOR_ALIGNED_PAGE: {
        /* aligned blocks carved out of bigger small blocks: their page learns to map interior
         * pointers back to block starts; a plain block's interior pointer must still fail */
        void *al[8];
        for (int i = 0; i < 8; i++) {
            al[i] = brisk_side ? brisk_aligned_alloc(64, 100) : aligned_alloc(64, 100);
            CHECK(al[i] != NULL);
        }
        unsigned char *plain[8];
        for (int i = 0; i < 8; i++) {
            plain[i] = alloc(150); /* the size the aligned requests were rounded to */
            CHECK(plain[i] != NULL);
        }
        p = plain[3] + 32;
        break;
    }
    case T_ALIGNED_INTERIOR:
    case T_DOUBLE_ALIGNED_SMALL: {
        unsigned char *al[6];
        for (int i = 0; i < 6; i++) {
            al[i] = brisk_side ? brisk_aligned_alloc(64, 100) : aligned_alloc(64, 100);
            CHECK(al[i] != NULL);
        }
        if (t == T_ALIGNED_INTERIOR) {
            p = al[2] + 16;
        } else {
            p = al[2];
            release(p);
        }
        break;
    }
    case T_WILD_LOW:
        p = (unsigned char *)(uintptr_t)0x10000;
        break;
    case T_WILD_HIGH:
        p = (unsigned char *)(((uintptr_t)1 << 47) + 0x1000);
        break;
    case T_WILD_NONCANONICAL:
        p = (unsigned char *)(uintptr_t)0xdead000000000010ULL;
        break;
    default:
        CHECK(0, "unknown target");
    }
    char msg[64];
    int n = snprintf(msg, sizeof msg, "%#llx\n", (unsigned long long)(uintptr_t)p);
    t_write_all(tell, msg, (size_t)n);
    close(tell);
    do_op(op, opaque_ptr(p));
    t_dprintf(1, "%s returned normally\n", op_name[op]);
    _exit(0);
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || len + (size_t)r >= cap - 1) {
            if (r > 0)
                len += (size_t)r;
            break;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    return len;
}

/* Does some line of `err` start with `prefix` and contain 0x<ptr>? */
static int has_report(const char *err, const char *prefix, unsigned long long ptr)
{
    size_t pl = strlen(prefix);
    for (const char *line = err; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t)(end - line) : strlen(line);
        if (ll >= pl && strncmp(line, prefix, pl) == 0) {
            for (const char *s = line; s + 2 < line + ll; s++) {
                if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                    char *stop;
                    unsigned long long v = strtoull(s + 2, &stop, 16);
                    if (stop > s + 2 && stop <= line + ll && v == ptr)
                        return 1;
                }
            }
        }
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static int run_case(enum op op, enum target t)
{
    int errp[2], tellp[2];
    CHECK(pipe(errp) == 0 && pipe(tellp) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(errp[0]);
        close(tellp[0]);
        dup2(errp[1], 2);
        close(errp[1]);
        alarm(30);
        child(op, t, tellp[1]);
    }
    close(errp[1]);
    close(tellp[1]);
    char told[64], err[16384];
    read_all(tellp[0], told, sizeof told);
    close(tellp[0]);
    read_all(errp[0], err, sizeof err);
    close(errp[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    unsigned long long ptr = strtoull(told, NULL, 16);
    int ok = 1;
    char why[256] = "";
    if (told[0] == '\0') {
        ok = 0;
        snprintf(why, sizeof why, "the child died before making the bad call");
    } else if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
        ok = 0;
        if (WIFSIGNALED(st))
            snprintf(why, sizeof why, "killed by signal %d (%s), not SIGABRT", WTERMSIG(st),
                     strsignal(WTERMSIG(st)));
        else
            snprintf(why, sizeof why, "exited with status %d instead of dying by SIGABRT",
                     WEXITSTATUS(st));
    } else {
        int is_free = op == OP_FREE || op == OP_BRISK_FREE;
        const char *want = is_free ? "brisk: free(): " : "brisk: realloc(): ";
        const char *alt = op == OP_BRISK_FREE      ? "brisk: brisk_free(): "
                          : op == OP_BRISK_REALLOC ? "brisk: brisk_realloc(): "
                                                   : want;
        if (!has_report(err, want, ptr) && !has_report(err, alt, ptr)) {
            ok = 0;
            snprintf(why, sizeof why, "no stderr line starting with \"%s\" and naming %#llx", want,
                     ptr);
        }
    }
    if (ok) {
        t_log("ok   %s(%s)\n", op_name[op], target_name[t]);
    } else {
        t_log("FAIL %s(%s): %s\n     stderr was: %s\n", op_name[op], target_name[t], why,
              err[0] ? err : "(empty)\n");
    }
    return ok;
}

/* usage: badfree [OP|all] [KEY | -KEY]
 *   OP: free, realloc, brisk_free, brisk_realloc (default all);
 *   KEY: run only that target; -KEY: all targets but that one. */
int main(int argc, char **argv)
{
    const char *ops = argc > 1 ? argv[1] : "all";
    const char *sel = argc > 2 ? argv[2] : NULL;
    int failed = 0, ran = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        if (strcmp(ops, "all") != 0 && strcmp(ops, op_name[op]) != 0)
            continue;
        for (int t = 0; t < T_COUNT; t++) {
            if (sel && sel[0] == '-' && strcmp(sel + 1, target_key[t]) == 0)
                continue;
            if (sel && sel[0] != '-' && strcmp(sel, target_key[t]) != 0)
                continue;
            ran++;
            failed += !run_case((enum op)op, (enum target)t);
        }
    }
    CHECK(ran > 0, "no case selected");
    t_log("badfree: %d of %d cases failed\n", failed, ran);
    return failed ? 1 : 0;
}
