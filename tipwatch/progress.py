"""Progress of long work (reprocess, classify --all, train) for the person waiting on it.

The pipeline's long functions take a plain callback, `on_progress(done, total)`; this module turns
it into a bar on a terminal (done / total, rate, time left) or, when the output is a file or
a pipe (cron, the daemon's log), one line per `every` items and one at the end, on stderr so the
command's report on stdout stays clean.

    with progress("reprocess") as on_progress:
        reprocess(db, archive, job, on_progress)
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

DEFAULT_EVERY = 100  # items between two log lines when not on a terminal


def describe(label: str, done: int, total: int, elapsed: float) -> str:
    """'reprocess: 200/1000 (20%), 35.1/s, 23 s left'."""
    share = f" ({100 * done // total}%)" if total else ""
    line = f"{label}: {done}/{total}{share}"
    if elapsed > 0 and done:
        rate = done / elapsed
        line += f", {rate:.1f}/s"
        if done < total:
            line += f", {_duration((total - done) / rate)} left"
    return line


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LineProgress:
    """One line per `every` items (and at the last one): for logs, where a bar would be noise."""

    def __init__(self, label: str, stream: TextIO, every: int = DEFAULT_EVERY, clock=time.monotonic):
        self.label, self.stream, self.every, self.clock = label, stream, max(1, every), clock
        self.started = clock()

    def __call__(self, done: int, total: int) -> None:
        if done % self.every == 0 or done == total:
            self.stream.write(describe(self.label, done, total, self.clock() - self.started) + "\n")
            self.stream.flush()


class BarProgress:
    """A bar redrawn in place on the terminal: bar, done/total, share, rate, time left.

    Drawn by hand rather than with rich: with rich installed, Datasette 0.65 prints every
    server error's traceback with its local variables (a login's secrets among them)."""

    WIDTH = 24

    def __init__(self, label: str, stream: TextIO, clock=time.monotonic):
        self.label, self.stream, self.clock = label, stream, clock
        self.started = clock()
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // total if total else 0
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] " + describe(self.label, done, total, self.clock() - self.started) + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


@contextmanager
def progress(label: str, *, stream: TextIO | None = None, every: int = DEFAULT_EVERY,
             interactive: bool | None = None) -> Iterator[Callable[[int, int], None]]:
    """The on_progress callback for a piece of work: a bar when `stream` (default stderr) is a
    terminal, log lines otherwise."""
    stream = stream or sys.stderr
    if interactive is None:
        interactive = stream.isatty()
    if not interactive:
        yield LineProgress(label, stream, every)
        return
    bar = BarProgress(label, stream)
    try:
        yield bar
    finally:
        bar.close()  # the terminal's line is left whole on Ctrl-C too
