"""`tipwatch ingest`: distributed mode's one writer into SQLite.

It reads the records stream (articles from the process workers; errors, settled pages, aliases
and index validators from the fetch workers) in its consumer group, stores a batch of records in
one transaction, then, once committed, acknowledges them and adds the URL keys it stored or
settled to the shared known-URL set, in one Redis transaction. Killed in between, the batch is
read again (its own pending entries when it restarts, or claimed by another writer): storing is
idempotent on URL keys (an article already stored under one of its URLs is not stored again,
only its new URLs are added), so nothing is stored twice.
"""
from __future__ import annotations

import logging
import sqlite3
import time

from tipwatch.config import Config
from tipwatch.crawl import CrawlOptions, scrapy_settings
from tipwatch.workers import CLAIM_EVERY_S, IDLE_READ_MS, WAIT_FOR_CRAWL_S, crawl_info, stopping

log = logging.getLogger(__name__)
BATCH = 200   # records per transaction at most


class Ingest:
    """Stores records as the embedded crawl's item pipeline and recorder would."""

    def __init__(self, db, plan, stats, run_id: int):
        self.db, self.plan, self.stats, self.run_id = db, plan, stats, run_id

    def store_batch(self, records: list[tuple[str, dict]]) -> list[str]:
        """Every record in one transaction (each in its own savepoint: one the database refuses
        is recorded as an error and the rest go on); returns the URL keys now known."""
        from pipeline import store

        known: list[str] = []
        with store.immediate(self.db):
            for kind, data in records:
                try:
                    with self.db.atomic():
                        known += self.store(kind, data)
                except sqlite3.Error as exc:
                    self.refused(kind, data, exc)
        return known

    def store(self, kind: str, data: dict) -> list[str]:
        from pipeline import store
        from pipeline.records import PageRef
        from pipeline.urls import url_key

        if kind == "article":
            return self.store_article(data)
        if kind == "error":  # counted by the worker that met it
            store.record_error(self.db, data["run_id"], data["source"], data["url"], data["kind"], data["detail"])
        elif kind == "settle":
            ref = PageRef(*data["ref"]) if data.get("ref") else None
            store.settle_url(self.db, data["url"], data["source"], data["reason"], page_ref=ref)
            return [url_key(data["url"])]
        elif kind == "aliases":
            store.add_aliases(self.db, data["url"], tuple(data["aliases"]))
            return [url_key(u) for u in data["aliases"]]
        elif kind == "validator":
            store.save_index_validator(self.db, data["url"], data["source"], data["etag"], data["last_modified"])
        elif kind == "forget-validators":
            store.forget_index_validators(self.db, data["source"])
        return []

    def store_article(self, data: dict) -> list[str]:
        """crawler/pipelines.py's ArticlePipeline._store, for a record of a process worker."""
        from crawler.pipelines import _identity, _published
        from pipeline import store
        from pipeline.records import PageRef
        from pipeline.urls import normalize, url_key

        source, fetched_url, result = data["source"], normalize(data["url"]), data["result"]
        ref = PageRef(*data["ref"]) if data.get("ref") else None
        if not result["ok"]:
            self.stats.bump(source, "extraction_failures")
            self.error(source, fetched_url, result["kind"], result["detail"])
            if result.get("settle", True):
                store.settle_url(self.db, fetched_url, source, f"{result['kind']}: {result['detail']}", page_ref=ref)
                return [url_key(fetched_url)]
            return []
        article = dict(result["article"], source=source, fetched_at=data["fetched_at"])
        article["url"], aliases = _identity(fetched_url, tuple(data["aliases"]), article)
        keys = [url_key(u) for u in (article["url"], *aliases)]
        if store.is_known_url(self.db, url_key(article["url"])):
            self.stats.bump(source, "duplicates")  # stored already (by an earlier run, or this record before)
            store.add_aliases(self.db, article["url"], aliases)
            return keys
        if self.plan.is_old(source, _published(article)):
            self.stats.bump(source, "skipped_old")
            store.settle_url(self.db, fetched_url, source, f"older than window: {article['published']}", page_ref=ref)
            return [url_key(fetched_url)]
        article_id = store.save_article(self.db, article, aliases, page_ref=ref)
        store.save_classification(self.db, article_id, result["classification"])
        store.save_enrichment(self.db, article_id, result["enrichment"])
        self.stats.bump(source, "articles_stored")
        self.stats.bump(source, "articles_flagged", int(bool(result["classification"]["flagged"])))
        return keys

    def error(self, source: str, url: str, kind: str, detail: str) -> None:
        from pipeline import store

        self.stats.error(source, kind)
        store.record_error(self.db, self.run_id, source, url, kind, detail)

    def refused(self, kind: str, data: dict, exc: sqlite3.Error) -> None:
        source, url = data.get("source") or "", data.get("url") or ""
        detail = f"could not store a {kind} record of {url}: {exc.__class__.__name__}: {exc}"
        try:
            with self.db.atomic():
                self.error(source, url, "store", detail)
        except sqlite3.Error as again:
            log.error("%s; recording it failed as well: %s", detail, again)


def run_ingest(options: CrawlOptions, wait_s: float = WAIT_FOR_CRAWL_S) -> int:
    """Store records until the crawl stops; returns how many were read."""
    from crawler.plan import CrawlPlan
    from crawler.shared import heartbeat
    from crawler.shared.connection import connect
    from crawler.shared.frontier import known_set, worker_name
    from crawler.shared.keys import RECORDS_GROUP, Keys
    from crawler.shared.stats import StatsPublisher
    from crawler.shared.streams import Stream, read_record
    from crawler.state import SourceStatsBook
    from pipeline import store

    config: Config = options.config
    conn, keys = connect(config.redis_url), Keys()
    info = crawl_info(conn, keys, wait_s)
    settings = scrapy_settings(options)
    for name in ("known_bucket_s", "known_buckets"):  # as the crawl was started with
        if info.get(name):
            settings.set(f"TIPWATCH_{name.upper()}", int(info[name]), priority="cmdline")
    plan = CrawlPlan.from_settings(settings, tuple(filter(None, info.get("sources", "").split(","))),
                                   str(config.sources), info.get("since", ""), info.get("lookback_days", ""))
    db = store.open_db(config.db)
    store.fast_commits(db)
    stats = SourceStatsBook(list(plan.sources))
    publisher, known = StatsPublisher(stats, conn, keys.stats), known_set(conn, keys, settings)
    ingest = Ingest(db, plan, stats, int(info["run_id"]))
    records = Stream(conn, keys.records, RECORDS_GROUP)
    records.ensure_group()
    claim_ms = int(float(info.get("claim_after_s", 60)) * 1000)
    name, done, last_claim = worker_name("writer"), 0, 0.0
    entries = records.own_pending(name, BATCH)   # a restarted writer's unfinished batch first
    while True:
        heartbeat.beat(conn, keys, name, "writer", done=done, run_id=info["run_id"])
        if not entries and time.monotonic() - last_claim > CLAIM_EVERY_S:
            entries, last_claim = records.claim(name, claim_ms, BATCH), time.monotonic()
        if not entries:
            entries = records.read(name, BATCH, IDLE_READ_MS)
        if not entries and stopping(conn, keys):
            break
        if entries:
            stored = ingest.store_batch([read_record(fields) for _, fields in entries])
            pipe = conn.pipeline(transaction=True)
            records.done([entry_id for entry_id, _ in entries], pipe)
            known.add(stored, pipe)
            pipe.execute()
            publisher.flush()
            done += len(entries)
        entries = []
    publisher.flush()
    heartbeat.forget(conn, keys, name)
    return done
