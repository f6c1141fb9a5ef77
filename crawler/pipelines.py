"""Item pipeline: each fetched page is archived, then extracted and classified in worker
processes, then stored with the reference of its WARC record.

The page goes to the WARC archive first (pipeline/archive), before anything reads it: whatever
extraction makes of it, it can be made again from the record, with no network. Extraction is
CPU-bound; run in the reactor it would stall every download. So each page goes to a process pool
and the reactor only awaits the result, then writes it to SQLite (one writer: this process).
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime

from scrapy.exceptions import DropItem

from crawler.context import CrawlContext
from crawler.paths import stage_settings, warc_dir
from pipeline.archive import PageArchive
from pipeline.process import StageSettings, page_input, process_page
from pipeline.records import FetchedPage, PageRef
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
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ArticlePipeline:
    def __init__(self, context: CrawlContext, archive: PageArchive, workers: int, settings,
                 timeout: float = 120.0):
        self.plan, self.frontier, self.stats = context.plan, context.frontier, context.stats
        self.recorder = context.recorder
        self.archive = archive
        self.workers = workers
        self.timeout = timeout  # seconds one page may take in a worker (its start-up included)
        self.settings = settings
        self.pool: ProcessPoolExecutor | None = None
        self.stages: StageSettings | None = None

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        workers = settings.getint("TIPWATCH_EXTRACT_WORKERS", 0) or os.cpu_count() or 1
        return cls(CrawlContext.of(crawler), PageArchive(warc_dir(settings)), workers, settings,
                   settings.getfloat("TIPWATCH_EXTRACT_TIMEOUT", 120.0))

    def _pool(self) -> ProcessPoolExecutor:
        # started on the first article, not at open: a run with nothing new costs no workers.
        # spawn, not fork: forking a process that runs a reactor and threads is unsafe
        if self.pool is None:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self.pool

    def _stages(self) -> StageSettings:
        # resolved once, on the first article: the model in use is recorded in the database
        # (the workers' topic stage ignores it when the profile says [model] use = false)
        if self.stages is None:
            self.stages = stage_settings(self.settings, self.recorder.db)
        return self.stages

    def close_spider(self, spider=None):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.archive.close()

    async def process_item(self, page: FetchedPage):
        ref = self._archive(page)
        source = self.plan.sources[page.source]
        result = await self._extract(page_input(page, source.language, source.timezone), self._stages())
        try:
            return self._store(page, result, ref)
        except sqlite3.Error as exc:
            # a write the database refused (a constraint, a lock held past the busy timeout): the
            # page is left unknown, so the next run fetches it again; this run goes on
            self._store_failed(page, exc)
            raise DropItem(f"{page.url}: not stored: {exc}") from None

    def _archive(self, page: FetchedPage) -> PageRef:
        """Keep the page as a WARC record (in the reactor: one gzip of one page, no fsync)."""
        try:
            return self.archive.write(page, self.recorder.run_label)
        except OSError as exc:  # a full or read-only disk: the page stays unknown, fetched next run
            self.recorder.record_error(page.source, page.url, "store",
                                       f"could not keep the page in the WARC archive: {exc}")
            raise DropItem(f"{page.url}: not archived: {exc}") from None

    async def _extract(self, page: dict, stages: StageSettings) -> dict:
        """process_page's result, within the time bound: a page that keeps a worker busy past it
        (a parser caught in a pathological tree) is given up, its worker killed, the pool
        replaced; a page whose worker died under it (another page's kill, the OOM killer) is
        tried once more."""
        for _attempt in range(2):
            pool = self._pool()
            future = pool.submit(process_page, page, stages)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
            except TimeoutError:
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

    def _store_failed(self, page: FetchedPage, exc: sqlite3.Error) -> None:
        """Count the failure in the source's errors and record it as a crawl error of kind `store`."""
        detail = f"could not store {page.url}: {exc.__class__.__name__}: {exc}"
        try:
            self.recorder.record_error(page.source, page.url, "store", detail)
        except sqlite3.Error as again:  # the database refuses this write too: counted, and logged
            log.error("%s; recording it failed as well: %s", detail, again)

    def _store(self, page: FetchedPage, result: dict, ref: PageRef) -> dict:
        source, fetched_url = page.source, normalize(page.url)
        if not result["ok"]:
            self.stats.bump(source, "extraction_failures")
            self.recorder.record_error(source, fetched_url, result["kind"], result["detail"])
            if result.get("settle", True):
                self.recorder.settle(fetched_url, source, f"{result['kind']}: {result['detail']}", page_ref=ref)
            raise DropItem(f"{fetched_url}: {result['detail']}")
        article = dict(result["article"], source=source, fetched_at=page.fetched_at)
        article["url"], aliases = _identity(fetched_url, page.aliases, article)
        aliases += self.frontier.take_aliases(url_key(fetched_url))
        if self.frontier.seen(url_key(article["url"])):
            self.stats.bump(source, "duplicates")  # its canonical page is stored already: keep the alias only
            self.recorder.add_aliases(article["url"], aliases)
            raise DropItem(f"{fetched_url}: duplicate of {article['url']}")
        if self.plan.is_old(source, _published(article)):
            self.stats.bump(source, "skipped_old")
            self.recorder.settle(fetched_url, source, f"older than window: {article['published']}", page_ref=ref)
            raise DropItem(f"{fetched_url}: published {article['published']}, before the window")
        article_id = self.recorder.store_article(article, aliases, result, page_ref=ref)
        self.stats.bump(source, "articles_stored")
        self.stats.bump(source, "articles_flagged", int(bool(result["classification"]["flagged"])))
        return {"id": article_id, "url": article["url"], "source": source,
                "flagged": result["classification"]["flagged"]}


def _identity(fetched: str, redirects: tuple[str, ...], article: dict) -> tuple[str, tuple[str, ...]]:
    """The URL to store the article under (its canonical link when on the same site) and the
    other URLs it was reached by."""
    canonical = normalize(article["canonical_url"]) if article.get("canonical_url") else None
    url = canonical if canonical and same_site(canonical, fetched) else fetched
    aliases = tuple(u for u in (fetched, *redirects) if u != url)
    return url, aliases
