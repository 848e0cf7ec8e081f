/* An exclusive lock between kreep processes (nightly runs): flock(2) on a lock file that holds the
 * owner's pid. The kernel drops the lock when the owner dies (kill -9 included), so a lock left by a
 * killed process is recovered by the next taker, which reports the dead owner's pid. */
#ifndef KR_LOCK_H
#define KR_LOCK_H

typedef struct kr_lock kr_lock;

/* Take the lock at `path` (created if absent) without waiting. When another live process holds it,
 * returns KR_EIO naming that process's pid. `stale_pid` (may be NULL) receives the pid a dead owner
 * left in the file (0 when the lock file was clean). Owner: caller (kr_lock_release). */
int kr_lock_acquire(const char *path, kr_lock **out, long *stale_pid);
/* Clear the pid, drop the lock and free (NULL is fine). The file stays, to avoid unlink races. */
void kr_lock_release(kr_lock *lk);

#endif
