"""Item pipeline: extraction and classification in worker processes, storage here.

Extraction is CPU-bound; run in the reactor it would stall every download. So
each page goes to a process pool and the reactor only awaits the result, then
writes it to SQLite (one writer: this process).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone

from scrapy.exceptions import DropItem

from pipeline import store
from pipeline.process import process_page
from tipwatch.config import profile_path
from pipeline.topic.training import active_model_path
from pipeline.urls import normalize, same_site, url_key

log = logging.getLogger(__name__)


def _published(article: dict) -> datetime | None:
    value = article.get("published")
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class ArticlePipeline:
    def __init__(self, crawler, workers: int, profile: str, min_chars: int, timeout: float = 120.0):
        self.crawler = crawler
        self.workers = workers
        self.timeout = timeout  # seconds one page may take in a worker (its start-up included)
        self.profile = profile
        self.min_chars = min_chars
        self.pool: ProcessPoolExecutor | None = None
        self.model_path: str | None = None

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        workers = settings.getint("TIPWATCH_EXTRACT_WORKERS", 0) or os.cpu_count() or 1
        return cls(crawler, workers, str(profile_path(settings.get("TIPWATCH_PROFILE"))),
                   settings.getint("TIPWATCH_MIN_CHARS", 200), settings.getfloat("TIPWATCH_EXTRACT_TIMEOUT", 120.0))

    def _pool(self) -> ProcessPoolExecutor:
        # started on the first article, not at open: a run with nothing new costs no workers.
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self.pool

    def open_spider(self, spider=None):
        # One fsync per commit would stall the reactor on every stored article. In WAL mode,
        # NORMAL still never corrupts the database; a power cut may lose the last commits, and
        # those articles, no longer known, are simply fetched again by the next crawl.
        self.crawler.spider.db.execute("PRAGMA synchronous = NORMAL")

    def _model_path(self, spider) -> str | None:
        # resolved once, on the first article: the model in use is recorded in the database
        # (the workers' topic stage ignores it when the profile says [model] use = false)
        if self.model_path is None:
            self.model_path = str(active_model_path(spider.db))
        return self.model_path

    def close_spider(self, spider=None):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def process_item(self, item):
        spider = self.crawler.spider
        result = await self._extract(item, self._model_path(spider))
        try:
            return self._store(spider, item, result)
        except sqlite3.Error as exc:
            # a write the database refused (a constraint, a lock held past the busy timeout): the
            # page is left unknown, so the next run fetches it again; this run goes on
            self._store_failed(spider, item, exc)
            raise DropItem(f"{item['url']}: not stored: {exc}") from None

    async def _extract(self, item: dict, model_path: str | None) -> dict:
        """process_page's result, within the time bound: a page that keeps a worker busy past it
        (a parser caught in a pathological tree) is given up, its worker killed, the pool
        replaced; a page whose worker died under it (another page's kill, the OOM killer) is
        tried once more."""
        for _attempt in range(2):
            pool = self._pool()
            future = pool.submit(process_page, item, self.profile, self.min_chars, model_path)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            except asyncio.TimeoutError:
                self._kill_pool(pool)
                # not settled: the next run tries the page again (a loaded machine is not a bad page)
                return {"ok": False, "kind": "extraction", "settle": False,
                        "detail": f"extraction took longer than {self.timeout:g} s; given up for this run"}
            except BrokenProcessPool:
                self._kill_pool(pool)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this task was cancelled (the crawl is stopping), not its page
                # still queued when another page's pool was killed: goes again on the new pool
        return {"ok": False, "kind": "extraction", "settle": False,
                "detail": "its extraction worker was lost twice (killed, or out of memory); not read this run"}

    def _kill_pool(self, pool: ProcessPoolExecutor) -> None:
        if self.pool is not pool:
            return  # replaced already, by another page's failure
        self.pool = None
        # ProcessPoolExecutor cannot stop a running task (3.14's terminate_workers() can): end the
        # workers themselves; the pages they held or queued fail with BrokenProcessPool and go again
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False)

    @staticmethod
    def _store_failed(spider, item: dict, exc: sqlite3.Error) -> None:
        """Count the failure in the source's errors and record it as a crawl error of kind `store`."""
        detail = f"could not store {item['url']}: {exc.__class__.__name__}: {exc}"
        try:
            spider.record_error(item["source"], item["url"], "store", detail)
        except sqlite3.Error as again:  # the database refuses this write too: counted, and logged
            log.error("%s; recording it failed as well: %s", detail, again)

    def _store(self, spider, item: dict, result: dict) -> dict:
        source, stats = item["source"], spider.stats_by_source[item["source"]]
        if not result["ok"]:
            stats.bump("extraction_failures")
            spider.record_error(source, item["url"], result["kind"], result["detail"])
            if result.get("settle", True):
                store.settle_url(spider.db, item["url"], source, f"{result['kind']}: {result['detail']}")
            raise DropItem(f"{item['url']}: {result['detail']}")
        article = dict(result["article"], source=source, fetched_at=item["fetched_at"])
        article["url"], aliases = self._identity(item, article)
        aliases += tuple(spider.pending_aliases.pop(url_key(item["url"]), ()))
        if url_key(article["url"]) in spider.known:
            stats.bump("duplicates")  # its canonical page is stored already: keep the alias only
            store.add_aliases(spider.db, article["url"], aliases)
            raise DropItem(f"{item['url']}: duplicate of {article['url']}")
        if spider.is_old(source, _published(article)):
            stats.bump("skipped_old")
            store.settle_url(spider.db, item["url"], source, f"older than window: {article['published']}")
            raise DropItem(f"{item['url']}: published {article['published']}, before the window")
        with store.immediate(spider.db):  # the article and its classification together, or neither
            article_id = store.save_article(spider.db, article, aliases)  # its URLs are known from now on
            store.save_classification(spider.db, article_id, result["classification"])
            store.save_enrichment(spider.db, article_id, result["enrichment"])  # places, gist
        stats.bump("articles_stored")
        stats.bump("articles_flagged", int(bool(result["classification"]["flagged"])))
        return {"id": article_id, "url": article["url"], "source": source,
                "flagged": result["classification"]["flagged"]}

    @staticmethod
    def _identity(item: dict, article: dict) -> tuple[str, tuple[str, ...]]:
        """The URL to store the article under (its canonical link when on the same site)
        and the other URLs it was reached by."""
        fetched = item["url"]
        canonical = normalize(article["canonical_url"]) if article.get("canonical_url") else None
        url = canonical if canonical and same_site(canonical, fetched) else fetched
        aliases = tuple(u for u in (fetched, *item.get("aliases", ())) if u != url)
        return url, aliases
