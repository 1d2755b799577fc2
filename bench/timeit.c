/* timeit: runs a command and writes "SECONDS MAXRSS_KB" (wall time, peak resident set of the
 * command and the children it waited for) to a file; used by bench/run.sh.
 *
 *   timeit [-t LIMIT_SECONDS] -o FILE -- COMMAND [ARGS...]
 *
 * Exits with the command's status, 128+N if it was killed by signal N, 124 if it ran past the
 * limit (then it is killed), 127 if it could not be started. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
    kill(child, SIGKILL);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    unsigned limit = 0;
    int opt;
    while ((opt = getopt(argc, argv, "+t:o:")) != -1) {
        if (opt == 't')
            limit = (unsigned)atoi(optarg);
        else if (opt == 'o')
            out = optarg;
        else
            return 2;
    }
    if (!out || optind >= argc) {
        fprintf(stderr, "usage: %s [-t LIMIT_SECONDS] -o FILE -- COMMAND [ARGS...]\n", argv[0]);
        return 2;
    }

    double start = now();
    child = fork();
    if (child < 0) {
        perror("timeit: fork");
        return 127;
    }
    if (child == 0) {
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "timeit: cannot run %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    if (limit)
        alarm(limit);

    int status;
    struct rusage ru;
    while (wait4(child, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("timeit: wait4");
            return 127;
        }
    }
    double elapsed = now() - start;
    alarm(0);

    FILE *f = fopen(out, "w");
    if (!f || fprintf(f, "%.4f %ld\n", elapsed, ru.ru_maxrss) < 0 || fclose(f) != 0) {
        perror(out);
        return 127;
    }
    if (timed_out)
        return 124;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
