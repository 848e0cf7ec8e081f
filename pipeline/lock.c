/* Inter-process lock for nightly runs (see lock.h). */
#include "lock.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

struct kr_lock {
    int fd;
};

static long read_pid(int fd)
{
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *end = NULL;
    long pid = strtol(buf, &end, 10);
    return (end != buf && pid > 0) ? pid : 0;
}

int kr_lock_acquire(const char *path, kr_lock **out, long *stale_pid)
{
    int rc = KR_OK;
    *out = NULL;
    if (stale_pid) *stale_pid = 0;
    kr_lock *lk = calloc(1, sizeof *lk);
    if (!lk) return kr_err(KR_ENOMEM, "out of memory");
    lk->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lk->fd < 0) {
        rc = kr_err(KR_EIO, "%s: cannot open the lock file: %s", path, strerror(errno));
        goto cleanup;
    }
    if (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        long holder = read_pid(lk->fd);
        if (e == EWOULDBLOCK && holder > 0)
            rc = kr_err(KR_EIO, "%s: another kreep nightly is running (pid %ld); not starting a second one", path,
                        holder);
        else if (e == EWOULDBLOCK)
            rc = kr_err(KR_EIO, "%s: another process holds the lock; not starting a second nightly", path);
        else
            rc = kr_err(KR_EIO, "%s: cannot lock: %s", path, strerror(e));
        goto cleanup;
    }
    /* we hold the lock: a pid still in the file belongs to an owner that died without releasing */
    long old = read_pid(lk->fd);
    if (stale_pid) *stale_pid = old;
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(lk->fd, 0) != 0 || pwrite(lk->fd, buf, (size_t)n, 0) != n || fsync(lk->fd) != 0) {
        rc = kr_err(KR_EIO, "%s: cannot write the pid into the lock file: %s", path, strerror(errno));
        goto cleanup;
    }
    *out = lk;
    lk = NULL;
cleanup:
    if (lk) {
        if (lk->fd >= 0) close(lk->fd);
        free(lk);
    }
    return rc;
}

void kr_lock_release(kr_lock *lk)
{
    if (!lk) return;
    if (ftruncate(lk->fd, 0) == 0) (void)fsync(lk->fd);
    close(lk->fd); /* closing the descriptor drops the flock */
    free(lk);
}
