/* A program that never allocates: it prints its own VmRSS (kB) from /proc/self/status using
 * only read(2)/write(2). tests/run.sh runs it with and without LD_PRELOAD=libbrisk.so and
 * compares: brisk must not cost a resident-memory fortune to a program that never calls it. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0)
        return 2;
    ssize_t len = 0, r;
    while (len < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - (size_t)len)) > 0)
        len += r;
    close(fd);
    buf[len] = '\0';
    char *s = strstr(buf, "\nVmRSS:");
    if (s == NULL)
        return 3;
    s += 7;
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s;
    while (*e >= '0' && *e <= '9')
        e++;
    *e++ = '\n';
    if (write(1, s, (size_t)(e - s)) != e - s)
        return 4;
    return 0;
}
