"""Crawl runs: their per-source stats and errors, index-page validators, and the history that
source health reads."""
from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlite_utils

from pipeline.store.schema import immediate, utcnow

# a 'running' row recorded before runs named their process (schema v6) is taken for dead after
# this long: no crawl runs for a day
PIDLESS_RUN_HOURS = 24


def start_run(db: sqlite_utils.Database, sources: list[str]) -> int:
    """Record a new crawl run of this process; first, every run left 'running' by a process that
    died (killed, power cut) becomes 'interrupted'."""
    with immediate(db):  # no other run can start or end between the look and the update
        interrupt_dead_runs(db)
        run_id = db.execute("INSERT INTO crawl_runs (started_at, sources, status, pid, host) "
                            "VALUES (?, ?, 'running', ?, ?)",
                            [utcnow(), json.dumps(sources), os.getpid(), socket.gethostname()]).lastrowid
        assert run_id is not None  # set by every INSERT
        return run_id


def interrupt_dead_runs(db: sqlite_utils.Database) -> list[int]:
    """Mark 'interrupted' the runs still 'running' whose process is dead; returns their ids."""
    rows = db.execute("SELECT id, started_at, pid, host FROM crawl_runs WHERE status = 'running'").fetchall()
    dead = [row[0] for row in rows if run_process_dead(*row[1:])]
    if dead:
        with immediate(db):
            for run_id in dead:  # still 'running': a run that ended meanwhile keeps its status
                db.execute("UPDATE crawl_runs SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                           [run_id])
    return dead


def run_process_dead(started_at: str, pid: int | None, host: str | None) -> bool:
    """Is the process that recorded a 'running' run known to be gone? Only a process of this
    host can be asked; a run of another host is never judged dead."""
    if pid is None:
        started = datetime.fromisoformat(started_at)
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        return datetime.now(UTC) - started > timedelta(hours=PIDLESS_RUN_HOURS)
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, under another user
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited but was not yet reaped by its parent still answers signal 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def finish_run(db: sqlite_utils.Database, run_id: int, status: str) -> None:
    with db.atomic():
        db.table("crawl_runs").update(run_id, {"finished_at": utcnow(), "status": status})


def save_source_stats(db: sqlite_utils.Database, run_id: int, source: str, stats: dict) -> None:
    row = dict(stats, run_id=run_id, source=source)
    for key in ("status_counts", "error_counts"):
        row[key] = json.dumps(row.get(key) or {}, sort_keys=True)
    with db.atomic():
        db.table("crawl_source_stats").upsert(row, pk=("run_id", "source"))


def record_error(db: sqlite_utils.Database, run_id: int, source: str, url: str, kind: str, detail: str) -> None:
    with db.atomic():
        db.table("crawl_errors").insert({
            "run_id": run_id, "source": source, "url": url, "kind": kind,
            "detail": detail[:1000], "at": utcnow(),
        })


def run_stats(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    rows = list(db.query("SELECT * FROM crawl_source_stats WHERE run_id = ? ORDER BY source", [run_id]))
    for row in rows:
        row["status_counts"] = json.loads(row["status_counts"] or "{}")
        row["error_counts"] = json.loads(row["error_counts"] or "{}")
    return rows


def run_errors(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    return list(db.query("SELECT source, url, kind, detail FROM crawl_errors WHERE run_id = ? ORDER BY id",
                         [run_id]))


def latest_run_id(db: sqlite_utils.Database) -> int | None:
    row = db.execute("SELECT max(id) FROM crawl_runs").fetchone()
    return row[0]


def index_validators(db: sqlite_utils.Database) -> dict[str, dict]:
    """url → {"etag", "last_modified"} of every index page parsed successfully before."""
    return {row[0]: {"etag": row[1], "last_modified": row[2]}
            for row in db.execute("SELECT url, etag, last_modified FROM index_validators")}


def save_index_validator(db: sqlite_utils.Database, url: str, source: str, etag: str | None,
                         last_modified: str | None) -> None:
    with db.atomic():
        db.execute("""INSERT INTO index_validators (url, source, etag, last_modified, checked_at)
                      VALUES (?, ?, ?, ?, ?)
                      ON CONFLICT(url) DO UPDATE SET source = excluded.source, etag = excluded.etag,
                        last_modified = excluded.last_modified, checked_at = excluded.checked_at""",
                   [url, source, etag, last_modified, utcnow()])


def forget_index_validators(db: sqlite_utils.Database, source: str) -> None:
    """Drop a source's validators: its index pages are fetched in full on the next run."""
    with db.atomic():
        db.execute("DELETE FROM index_validators WHERE source = ?", [source])


def source_history(db: sqlite_utils.Database, source: str, limit: int = 10) -> list[dict]:
    """The source's stats in its last `limit` crawl runs, newest first, with the run's
    started_at and the JSON columns decoded."""
    rows = list(db.query("""
        SELECT s.*, r.started_at, r.status FROM crawl_source_stats s JOIN crawl_runs r ON r.id = s.run_id
        WHERE s.source = ? ORDER BY s.run_id DESC LIMIT ?""", [source, limit]))  # run ids grow with time
    for row in rows:
        row["status_counts"] = json.loads(row["status_counts"] or "{}")
        row["error_counts"] = json.loads(row["error_counts"] or "{}")
    return rows


def unrecorded_run(db: sqlite_utils.Database, source: str) -> dict | None:
    """The source's newest run when it recorded no stats for it: one still going, or one whose
    process died (stats are written as the spider closes). None when its newest run recorded them."""
    rows = list(db.query("""
        SELECT id, started_at, status, pid, host FROM crawl_runs r
        WHERE r.id > coalesce((SELECT max(run_id) FROM crawl_source_stats WHERE source = :source), 0)
          AND EXISTS (SELECT 1 FROM json_each(r.sources) WHERE value = :source)
        ORDER BY r.id DESC LIMIT 1""", {"source": source}))  # a range on the key: only the newest runs
    return rows[0] if rows else None


def last_article_at(db: sqlite_utils.Database, source: str) -> str | None:
    """When the source's newest article was stored (ISO UTC), None if it has none."""
    return db.execute("SELECT max(stored_at) FROM articles WHERE source = ?", [source]).fetchone()[0]


def article_counts(db: sqlite_utils.Database, source: str, since_iso: str) -> int:
    """Articles of the source stored at or after `since_iso` (ISO UTC)."""
    return db.execute("SELECT count(*) FROM articles WHERE source = ? AND stored_at >= ?",
                      [source, since_iso]).fetchone()[0]


def sources_with_runs(db: sqlite_utils.Database) -> list[str]:
    """Sources with recorded stats, and those named by an interrupted run (which recorded none)."""
    return [row[0] for row in db.execute(
        "SELECT source FROM crawl_source_stats UNION "
        "SELECT j.value FROM crawl_runs r, json_each(r.sources) j WHERE r.status = 'interrupted' ORDER BY 1")]


def last_success_at(db: sqlite_utils.Database, source: str) -> str | None:
    """started_at of the latest run in which the source got at least one 2xx response."""
    row = db.execute("""
        SELECT r.started_at FROM crawl_source_stats s JOIN crawl_runs r ON r.id = s.run_id
        WHERE s.source = ? AND coalesce(json_extract(s.status_counts, '$."2xx"'), 0) > 0
        ORDER BY s.run_id DESC LIMIT 1""", [source]).fetchone()
    return row[0] if row else None
