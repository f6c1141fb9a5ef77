"""What a crawl writes to the store: its run, its errors, the pages it settled, the articles it
stored (with their WARC references) and the validators of the index pages it read.

One CrawlRecorder per crawl, handed to the components through the crawl context
(crawler/context.py); it is the crawl's only way into the database.
"""
from __future__ import annotations

import logging
from collections import Counter

from crawler.state import SourceStatsBook
from pipeline import store
from pipeline.records import PageRef

log = logging.getLogger(__name__)

# Refusals a page's content alone can multiply (a listing of 100,000 offsite links): one row each
# up to the bound per source and run, then only counted, so a hostile page cannot flood the
# database with rows (each one a write) nor the crawl with time spent writing them.
BOUNDED_KINDS = ("offsite", "url-too-long")
MAX_ROWS_PER_KIND = 100


class CrawlRecorder:
    def __init__(self, db, run_id: int, stats: SourceStatsBook, owns_run: bool = True):
        self.db, self.run_id, self.stats, self.owns_run = db, run_id, stats, owns_run
        self._refusals: Counter = Counter()  # (source, kind) → refusals of a bounded kind

    @classmethod
    def open(cls, db_path, sources: list[str], stats: SourceStatsBook, run_id: int | None = None) -> CrawlRecorder:
        """Over the database at *db_path*: a new run of *sources*, or the run *run_id* the caller
        started (and finishes)."""
        db = store.open_db(db_path)
        store.fast_commits(db)
        return cls(db, run_id or store.start_run(db, sources), stats, owns_run=not run_id)

    @property
    def run_label(self) -> str:
        """Names this run's WARC files (one per source)."""
        return f"run-{self.run_id}"

    def is_stored(self, key: str) -> bool:
        return store.is_known_url(self.db, key)

    # ------------------------------------------------------------ errors

    def record_error(self, source: str, url: str, kind: str, detail: str) -> None:
        """Count the error in the source's stats and record it (a bounded kind: the first
        MAX_ROWS_PER_KIND per source, the rest summed up when the run finishes)."""
        self.stats.error(source, kind)
        if kind in BOUNDED_KINDS:
            self._refusals[(source, kind)] += 1
            if self._refusals[(source, kind)] > MAX_ROWS_PER_KIND:
                return
        store.record_error(self.db, self.run_id, source, url, kind, detail)
        log.warning("%s: %s error on %s: %s", source, kind, url, detail)

    def _record_unlisted_refusals(self) -> None:
        for (source, kind), seen in self._refusals.items():
            if seen > MAX_ROWS_PER_KIND:
                store.record_error(self.db, self.run_id, source, "", kind,
                                   f"{seen - MAX_ROWS_PER_KIND} more {kind} refusals in this run, counted but not "
                                   f"listed (the first {MAX_ROWS_PER_KIND} are)")

    # ------------------------------------------------------------ pages and articles

    def settle(self, url: str, source: str, reason: str, page_ref: PageRef | None = None) -> None:
        """A fetched page that gave no article: never fetched again (its record kept, if any)."""
        store.settle_url(self.db, url, source, reason, page_ref=page_ref)

    def add_aliases(self, url: str, aliases: tuple[str, ...]) -> None:
        store.add_aliases(self.db, url, aliases)

    def store_article(self, article: dict, aliases: tuple[str, ...], result: dict,
                      page_ref: PageRef | None = None) -> int:
        """The article, its classification and enrichment, together or not at all; its URLs are
        known from then on."""
        with store.immediate(self.db):
            article_id = store.save_article(self.db, article, aliases, page_ref=page_ref)
            store.save_classification(self.db, article_id, result["classification"])
            store.save_enrichment(self.db, article_id, result["enrichment"])  # places, gist
        return article_id

    # ------------------------------------------------------------ index validators

    def validators(self) -> dict[str, dict]:
        return store.index_validators(self.db)

    def remember_validator(self, url: str, source: str, etag: str | None, last_modified: str | None) -> None:
        store.save_index_validator(self.db, url, source, etag, last_modified)

    def forget_validators(self, source: str) -> None:
        store.forget_index_validators(self.db, source)

    # ------------------------------------------------------------ the end

    def finish(self, reason: str) -> None:
        """The run's per-source counters and summed-up refusals; the run marked finished (or
        with the reason it stopped) when this crawl started it."""
        self._record_unlisted_refusals()
        for name, stats in self.stats.items():
            store.save_source_stats(self.db, self.run_id, name, stats.as_row())
        if self.owns_run:
            store.finish_run(self.db, self.run_id, "finished" if reason == "finished" else reason)
