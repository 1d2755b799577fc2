/* Running one misuse in a child process and reading what brisk said about it.
 *
 * A misuse ends the process (brisk aborts), so each one runs in a fork()ed child: its stderr goes
 * into a pipe, and before the bad call it writes the pointer it is about to pass on a second
 * pipe (the "tell" pipe), so the parent knows which address the message must name even when the
 * pointer is made at random or by the allocator. The parent gets the exit status, the stderr
 * text and the told pointer, and can look for brisk's line "brisk: FUNC(): WHAT 0xPTR". */
#ifndef BRISK_TESTS_CHILD_H
#define BRISK_TESTS_CHILD_H

#include "common.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

struct child_result {
    int status;              /* from waitpid */
    int told;                /* the child told a pointer before its bad call */
    uintptr_t ptr;           /* that pointer */
    char err[8192];          /* the child's stderr (truncated) */
};

static int child_tell_fd = -1;

/* In the child: announce the pointer of the coming bad call. */
static inline void child_tell(const void *p)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "%#llx\n", (unsigned long long)(uintptr_t)p);
    t_write_all(child_tell_fd, msg, (size_t)n);
    close(child_tell_fd);
    child_tell_fd = -1;
}

/* Reads fd to its end (keeps what fits). */
static inline void child_slurp(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char sink[512];
    for (;;) {
        char *dst = len + 1 < cap ? buf + len : sink;
        size_t room = len + 1 < cap ? cap - 1 - len : sizeof sink;
        ssize_t r = read(fd, dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            len += (size_t)r;
    }
    buf[len] = '\0';
}

/* Runs fn(arg) in a child (which must end by _exit or by dying) and fills *res. */
static inline void child_run(void (*fn)(const void *), const void *arg, struct child_result *res)
{
    int errp[2], tellp[2];
    CHECK(pipe(errp) == 0 && pipe(tellp) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        struct rlimit nocore = {0, 0};
        setrlimit(RLIMIT_CORE, &nocore); /* a hundred aborts need no core files */
        close(errp[0]);
        close(tellp[0]);
        dup2(errp[1], 2);
        close(errp[1]);
        child_tell_fd = tellp[1];
        alarm(60);
        fn(arg);
        _exit(0);
    }
    close(errp[1]);
    close(tellp[1]);
    char told[64];
    child_slurp(tellp[0], told, sizeof told);
    close(tellp[0]);
    child_slurp(errp[0], res->err, sizeof res->err);
    close(errp[0]);
    CHECK(waitpid(pid, &res->status, 0) == pid);
    res->told = told[0] != '\0';
    res->ptr = (uintptr_t)strtoull(told, NULL, 16);
}

static inline int child_aborted(const struct child_result *res)
{
    return WIFSIGNALED(res->status) && WTERMSIG(res->status) == SIGABRT;
}

/* Finds a line "brisk: FUNC(): WHAT 0xPTR" naming res->ptr; copies WHAT into what[] and
 * returns 1, else 0. */
static inline int child_brisk_line(const struct child_result *res, const char *func, char *what,
                                   size_t cap)
{
    char head[96];
    snprintf(head, sizeof head, "brisk: %s(): ", func);
    size_t hl = strlen(head);
    for (const char *line = res->err; *line;) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        const char *hex = NULL;
        for (const char *s = end - 1; s > line + 1; s--)
            if (s[-1] == '0' && s[0] == 'x') {
                hex = s - 1;
                break;
            }
        if (strncmp(line, head, hl) == 0 && hex != NULL && hex > line + hl && hex[-1] == ' ' &&
            (uintptr_t)strtoull(hex + 2, NULL, 16) == res->ptr) {
            size_t wl = (size_t)(hex - 1 - (line + hl));
            if (wl >= cap)
                wl = cap - 1;
            memcpy(what, line + hl, wl);
            what[wl] = '\0';
            return wl > 0;
        }
        line = *end ? end + 1 : end;
    }
    return 0;
}

/* One line saying how the child ended (for failure messages). */
static inline void child_describe(const struct child_result *res, char *buf, size_t cap)
{
    if (WIFSIGNALED(res->status))
        snprintf(buf, cap, "died by signal %d (%s)", WTERMSIG(res->status),
                 strsignal(WTERMSIG(res->status)));
    else
        snprintf(buf, cap, "exited with status %d", WEXITSTATUS(res->status));
}

#endif
