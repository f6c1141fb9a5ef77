"""One job at a time per database: `tipwatch run`, `tipwatch crawl` and the daemon's jobs take
the same lock file (`<db>.lock`), so they never crawl or send the same work at once.

flock is released by the kernel when its holder dies, so a crash leaves no stale lock.

The daemon crawls in a child process while holding the lock; the child works under its parent's
lock rather than waiting for it: the parent passes its open lock file down (`child_env`), and
`work_lock` in the child accepts it once it has checked that the descriptor is that lock file and
holds its flock (a flock belongs to the open file, so parent and child hold it together).
"""
from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

INHERITED_FD = "TIPWATCH_LOCK_FD"  # the descriptor number of a lock file held by the parent


class LockBusy(RuntimeError):
    """Another tipwatch job holds the lock."""


def lock_path(db_path: Path) -> Path:
    return Path(str(db_path) + ".lock")


def child_env(handle, environ: Mapping[str, str]) -> tuple[dict, tuple[int, ...]]:
    """(environment, pass_fds) for a child process that works under this held lock; `environ`
    is the configuration's snapshot of this process's environment (tipwatch/config.py)."""
    return dict(environ, **{INHERITED_FD: str(handle.fileno())}), (handle.fileno(),)


def _inherited(path: Path, environ: Mapping[str, str]) -> bool:
    """Does this process hold `path`'s lock through a descriptor its parent passed down?"""
    fd = environ.get(INHERITED_FD, "")
    if not fd.isdigit():
        return False
    try:
        if not os.path.samestat(os.fstat(int(fd)), os.stat(path)):
            return False
        # succeeds at once on the open file that holds the lock; fails if another process holds it
        fcntl.flock(int(fd), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextmanager
def work_lock(db_path: Path, job: str, environ: Mapping[str, str]):
    """Hold the database's work lock for `job`, or raise LockBusy at once; yields the open lock
    file (for `child_env`), or None when a parent's lock is inherited (named in `environ`)."""
    path = lock_path(db_path)
    if _inherited(path, environ):
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockBusy(f"another tipwatch job is running ({holder} holds {path}); try again later") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{job} pid {os.getpid()}")
        handle.flush()
        yield handle
    finally:
        handle.close()  # closing releases the flock
