"""The fetch worker's recorder: the interface of crawler/recorder.py's CrawlRecorder, with no
database. What the embedded crawl writes to SQLite (errors, settled pages, aliases, index
validators) goes to the records stream instead, for the one writer (`tipwatch ingest`) to store;
a fetch worker may run on a machine that has no copy of the database at all."""
from __future__ import annotations

import json
import logging
from collections import Counter

from crawler.recorder import BOUNDED_KINDS, MAX_ROWS_PER_KIND
from crawler.shared.streams import record_fields
from crawler.state import SourceStatsBook

log = logging.getLogger(__name__)


class SharedRecorder:
    def __init__(self, shared, stats: SourceStatsBook, publisher):
        self.shared, self.stats, self.publisher = shared, stats, publisher
        self.run_id = shared.run_id
        self._refusals: Counter = Counter()

    @property
    def run_label(self) -> str:
        """This worker's WARC files: one per run, source and worker, so that no two processes
        ever append to one file."""
        return f"run-{self.run_id}-{self.shared.worker}"

    def is_stored(self, key: str) -> bool:
        return self.shared.known.contains(key)

    def _send(self, kind: str, data: dict) -> None:
        self.shared.conn.xadd(self.shared.keys.records, record_fields(kind, data))

    def record_error(self, source: str, url: str, kind: str, detail: str) -> None:
        """Counted here (this worker's stats), stored by the writer; a bounded kind is sent for
        the first MAX_ROWS_PER_KIND per source and worker, the rest summed up at the end."""
        self.stats.error(source, kind)
        if kind in BOUNDED_KINDS:
            self._refusals[(source, kind)] += 1
            if self._refusals[(source, kind)] > MAX_ROWS_PER_KIND:
                return
        self._send("error", {"run_id": self.run_id, "source": source, "url": url, "kind": kind, "detail": detail})
        log.warning("%s: %s error on %s: %s", source, kind, url, detail)

    def settle(self, url: str, source: str, reason: str, page_ref=None) -> None:
        self._send("settle", {"url": url, "source": source, "reason": reason,
                              "ref": [page_ref.file, page_ref.offset] if page_ref else None})

    def add_aliases(self, url: str, aliases: tuple[str, ...]) -> None:
        self._send("aliases", {"url": url, "aliases": list(aliases)})

    def store_article(self, *args, **kwargs):
        raise RuntimeError("a fetch worker stores nothing: its pages go to the pages stream")

    def validators(self) -> dict[str, dict]:
        """The index validators the crawl started with (loaded into Redis by the orchestrator)."""
        stored = self.shared.conn.hgetall(self.shared.keys.validators)
        return {url.decode(): json.loads(value) for url, value in stored.items()}

    def remember_validator(self, url: str, source: str, etag: str | None, last_modified: str | None) -> None:
        self._send("validator", {"url": url, "source": source, "etag": etag, "last_modified": last_modified})

    def forget_validators(self, source: str) -> None:
        self._send("forget-validators", {"source": source})

    def finish(self, reason: str) -> None:
        """The refusals over the bound, summed up; this worker's last counts sent."""
        for (source, kind), seen in self._refusals.items():
            if seen > MAX_ROWS_PER_KIND:
                self._send("error", {"run_id": self.run_id, "source": source, "url": "", "kind": kind,
                                     "detail": f"{seen - MAX_ROWS_PER_KIND} more {kind} refusals by "
                                               f"{self.shared.worker}, counted but not listed (the first "
                                               f"{MAX_ROWS_PER_KIND} are)"})
        self.publisher.flush()
