"""Per-source counters summed over every worker of a crawl: each process keeps its own
SourceStatsBook and adds what changed since its last flush to one Redis hash (HINCRBY), on
each heartbeat and when it stops; the orchestrator reads the sums when the crawl is drained.
A worker killed between flushes loses its last counts, never articles."""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from crawler.runstats import COUNTERS
from crawler.state import SourceStatsBook

_GROUPS = {"counts": "counts", "status": "status_counts", "errors": "error_counts"}
_SEP = "\x1f"


class StatsPublisher:
    def __init__(self, book: SourceStatsBook, conn, key: str):
        self.book, self.conn, self.key = book, conn, key
        self._sent: Counter = Counter()

    def _now(self) -> Counter:
        now: Counter = Counter()
        for source, stats in self.book.items():
            for group, attribute in _GROUPS.items():
                for name, value in getattr(stats, attribute).items():
                    now[_SEP.join((source, group, name))] = value
        return now

    def flush(self) -> None:
        now = self._now()
        changes = {field: value - self._sent[field] for field, value in now.items() if value != self._sent[field]}
        if not changes:
            return
        pipe = self.conn.pipeline(transaction=True)
        for field, delta in changes.items():
            pipe.hincrby(self.key, field, delta)
        pipe.execute()
        self._sent = now


def summed_rows(conn, key: str, duration_s: float) -> dict[str, dict]:
    """source → its row of counters (crawl_source_stats), summed over the workers."""
    groups: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    for field, value in conn.hgetall(key).items():
        source, group, name = field.decode().split(_SEP)
        groups[source][group][name] += int(value)
    rows = {}
    for source, counters in groups.items():
        row: dict[str, Any] = {name: counters["counts"][name] for name in COUNTERS}
        row["status_counts"] = dict(counters["status"])
        row["error_counts"] = dict(counters["errors"])
        row["duration_s"] = round(duration_s, 3)
        rows[source] = row
    return rows
