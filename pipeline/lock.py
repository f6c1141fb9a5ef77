"""One job at a time per database: `tipwatch run` from cron and the daemon's jobs take
the same lock file (`<db>.lock`), so they never crawl or send the same work at once.

flock is released by the kernel when its holder dies, so a crash leaves no stale lock.
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


class LockBusy(RuntimeError):
    """Another tipwatch job holds the lock."""


def lock_path(db_path: Path) -> Path:
    return Path(str(db_path) + ".lock")


@contextmanager
def work_lock(db_path: Path, job: str):
    path = lock_path(db_path)
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
        yield
    finally:
        handle.close()  # closing releases the flock
