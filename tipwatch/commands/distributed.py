"""`tipwatch worker`, `tipwatch ingest`, and what `tipwatch status` shows of a distributed crawl."""
from __future__ import annotations

import sys

from tipwatch.commands import CommandError
from tipwatch.config import Config
from tipwatch.crawl import CrawlOptions


def _require_redis(config: Config, command: str) -> None:
    if not config.redis_url:
        raise CommandError(f"`tipwatch {command}` joins a distributed crawl: give --redis URL "
                           "(or TIPWATCH_REDIS_URL)")


def worker(config: Config, options: CrawlOptions, roles: set[str]) -> None:
    from tipwatch import workers

    _require_redis(config, "worker")
    if roles == {"fetch"}:
        workers.run_fetch_worker(options)
    elif roles == {"process"}:
        workers.run_process_worker(config)
    else:
        sys.exit(workers.run_both(config, options))


def ingest(config: Config, options: CrawlOptions) -> None:
    from tipwatch.ingest import run_ingest

    _require_redis(config, "ingest")
    run_ingest(options)


def status_lines(config: Config) -> list[str]:
    """The distributed crawl on the configuration's Redis: its state, the backlog of the frontier
    and of each stream, and one line per live worker with the age of its heartbeat."""
    return [_line(row) for row in status_rows(config)]


def status_rows(config: Config) -> list[dict]:
    from crawler.shared import heartbeat
    from crawler.shared.connection import RedisUnavailable, connect, masked, text
    from crawler.shared.keys import PAGES_GROUP, RECORDS_GROUP, Keys
    from crawler.shared.streams import Stream

    try:
        conn = connect(config.redis_url)
    except RedisUnavailable as exc:
        raise CommandError(str(exc)) from None
    keys = Keys()
    crawl = {text(k): text(v) for k, v in conn.hgetall(keys.crawl).items()}
    pages = Stream(conn, keys.pages, PAGES_GROUP).backlog()
    records = Stream(conn, keys.records, RECORDS_GROUP).backlog()
    rows = [{"kind": "crawl", "redis": masked(config.redis_url), "run_id": crawl.get("run_id"),
             "state": crawl.get("state", "none"), "frontier": conn.zcard(keys.requests),
             "pages_waiting": pages.waiting, "pages_pending": pages.pending,
             "records_waiting": records.waiting, "records_pending": records.pending}]
    rows += [dict(row, kind="worker") for row in heartbeat.heartbeats(conn, keys)]
    return rows


def _line(row: dict) -> str:
    if row["kind"] == "crawl":
        run = f"run {row['run_id']}, {row['state']}" if row["run_id"] else "no crawl running"
        return (f"distributed ({row['redis']}): {run}; frontier {row['frontier']} requests; "
                f"pages stream {row['pages_waiting']} waiting ({row['pages_pending']} being processed); "
                f"records stream {row['records_waiting']} waiting ({row['records_pending']} being stored)")
    extra = ", idle" if row.get("idle") == "1" else ""
    done = f", {row['done']} done" if "done" in row else ""
    return f"  worker {row['name']}: {row['role']}, pid {row['pid']} on {row['host']}, " \
           f"heartbeat {row['age_s']} s ago{done}{extra}"
