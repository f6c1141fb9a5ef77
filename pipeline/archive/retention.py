"""Retention of the page archive: `tipwatch archive prune`.

A WARC file older than the retention (by its modification time: a file is written during its
crawl run only) is deleted, unless it holds pages of flagged articles, which are kept until
deleted by hand. A file holding both kinds is split: the flagged pages' records are copied, byte
for byte (each is a gzip member of its own), to a new file beside it that keeps the old file's
time, the references are moved to the copies, and only then the old file is deleted. References
into a deleted file are cleared first. So at every moment, a crash included, each reference
points at a record that exists.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from pipeline import store
from pipeline.archive import PageArchive

DEFAULT_RETENTION_DAYS = 90
DAY = 86400.0
_KEPT_SUFFIX = re.compile(r"(\.kept-\d+(-\d+)?)?\.warc\.gz$")

KEEP, DELETE, SPLIT = "keep", "delete", "split"


def verdict(age_days: float, retention_days: float, kept: set[int], records: set[int] | None) -> str:
    """What retention does with one file: `kept` are the offsets of its flagged pages, `records`
    the offsets of all its records (needed only when some are kept)."""
    if age_days < retention_days:
        return KEEP
    if not kept:
        return DELETE
    if records is not None and records <= kept:
        return KEEP  # every record flagged: nothing to prune
    return SPLIT


@dataclass
class PruneReport:
    deleted: list = field(default_factory=list)   # files deleted whole
    split: list = field(default_factory=list)     # (old file, new file, records kept)
    bytes_freed: int = 0
    refs_cleared: int = 0
    dry_run: bool = False


def warc_files(root: Path) -> list[str]:
    """Every WARC file of the archive, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.warc.gz") if p.is_file())


def record_spans(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of every record of a WARC file, in order."""
    offsets = []
    with open(path, "rb") as stream:
        records = ArchiveIterator(stream)
        for _record in records:
            offsets.append(records.get_record_offset())
    # each record ends where the next starts, the last one at the end of the file
    return [(start, end - start) for start, end in pairwise(offsets + [path.stat().st_size])]


def prune(db, archive: PageArchive, retention_days: float = DEFAULT_RETENTION_DAYS, *,
          keep_flagged: bool = True, dry_run: bool = False, now: float | None = None) -> PruneReport:
    """Apply the retention to every file of the archive (`keep_flagged` false: the flagged
    articles' pages go with the rest)."""
    now = time.time() if now is None else now
    report = PruneReport(dry_run=dry_run)
    kept_by_file = store.kept_refs(db) if keep_flagged else {}
    for relative in warc_files(archive.root):
        path = archive.root / relative
        kept = kept_by_file.get(relative, set())
        age = (now - path.stat().st_mtime) / DAY
        spans = record_spans(path) if kept and age >= retention_days else None
        action = verdict(age, retention_days, kept, None if spans is None else {o for o, _ in spans})
        if action == DELETE:
            _delete(db, archive, relative, report)
        elif action == SPLIT:
            assert spans is not None  # read for every file with kept records past the retention
            _split(db, archive, relative, [s for s in spans if s[0] in kept], now, report)
    return report


def _delete(db, archive: PageArchive, relative: str, report: PruneReport) -> None:
    path = archive.root / relative
    report.deleted.append(relative)
    report.bytes_freed += path.stat().st_size
    if report.dry_run:
        report.refs_cleared += store.count_refs(db, relative)
        return
    with store.immediate(db):  # no reference may outlive its record: cleared before the file goes
        report.refs_cleared += store.clear_refs(db, relative)
    path.unlink()


def _split(db, archive: PageArchive, relative: str, spans: list[tuple[int, int]], now: float,
           report: PruneReport) -> None:
    """Copy the kept records to a new file, move their references, then delete the old file."""
    old = archive.root / relative
    new_relative = kept_name(relative, now, archive.root)
    report.split.append((relative, new_relative, len(spans)))
    report.bytes_freed += old.stat().st_size - sum(length for _, length in spans)
    if report.dry_run:
        report.refs_cleared += store.count_refs(db, relative) - len(spans)
        return
    moves = _copy_records(old, archive.root / new_relative, spans)
    with store.immediate(db):
        store.move_refs(db, relative, {offset: (new_relative, moved) for offset, moved in moves.items()})
        report.refs_cleared += store.clear_refs(db, relative)
    old.unlink()


def kept_name(relative: str, now: float, root: Path) -> str:
    """A new name beside `relative` for its kept records: `<stem>.kept-<time>.warc.gz`."""
    base = _KEPT_SUFFIX.sub("", relative) + f".kept-{int(now)}"
    name, n = f"{base}.warc.gz", 1
    while (root / name).exists():
        name, n = f"{base}-{n}.warc.gz", n + 1
    return name


def _copy_records(old: Path, new: Path, spans: list[tuple[int, int]]) -> dict[int, int]:
    """Copy records (gzip members) byte for byte; returns old offset → new offset. Written under
    a temporary name and renamed, so the new name never holds a partial file."""
    moves, partial = {}, new.with_name(new.name + ".partial")
    with open(old, "rb") as source, open(partial, "wb") as target:
        for offset, length in spans:
            source.seek(offset)
            moves[offset] = target.tell()
            target.write(source.read(length))
        target.flush()
        os.fsync(target.fileno())
    stat = old.stat()
    os.utime(partial, (stat.st_atime, stat.st_mtime))  # the pages' age, not the copy's
    partial.rename(new)
    return moves
