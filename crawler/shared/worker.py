"""The fetch worker's Scrapy parts: the spider (the `news` spider, whose start requests come
from the shared frontier), the item pipeline that archives each page and hands it to the pages
stream, and the extension that beats, flushes the counters, keeps the spider open while the
crawl runs and closes it when the orchestrator says the crawl is drained.
"""
from __future__ import annotations

import asyncio
import dataclasses

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, DropItem
from twisted.internet import task

from crawler.addresses import guard_installed
from crawler.context import CrawlContext
from crawler.paths import warc_dir
from crawler.shared import heartbeat
from crawler.shared.frontier import finish_request, publisher_of, shared_of
from crawler.shared.streams import page_fields
from crawler.spiders.news import NewsSpider
from pipeline.archive import PageArchive
from pipeline.records import FetchedPage
from pipeline.urls import normalize, url_key

TICK_S = 0.25
# scrapy's own counters that move whenever the worker does anything: unchanged between two
# looks (and idle at both), the worker did nothing in between
ACTIVITY_STATS = ("scheduler/enqueued/redis", "scheduler/dequeued/redis", "downloader/request_count",
                  "response_received_count", "item_scraped_count", "item_dropped_count")


class SharedNewsSpider(NewsSpider):
    """The news spider for Scrapy 2.13+'s `async def start()`: scrapy-redis's RedisSpider feeds
    start requests from a Redis list through the old `start_requests`; here the frontier is
    scrapy-redis's scheduler queue, which the orchestrator seeded, so a worker starts with none."""

    async def start(self):
        if not guard_installed():
            raise RuntimeError("the address guard is not installed: TWISTED_DNS_RESOLVER must be "
                               "crawler.addresses.GuardedResolver")
        return
        yield  # an async generator that yields nothing

    def use(self, context: CrawlContext, settings) -> None:
        super().use(context, settings)
        self.shared = shared_of(context)

    def on_error(self, failure):
        # the failure is recorded (the errback's output skips the spider middlewares): done with
        try:
            return super().on_error(failure)
        finally:
            finish_request(self.shared.conn, self.shared.keys, self.shared.worker, failure.request)


def configure(settings, redis_url: str, run_id: int, worker: str) -> None:
    """Scrapy settings of a fetch worker, on top of the crawl's: the shared scheduler, the page
    publisher in place of the item pipeline that stores, the shared per-host limits."""
    settings.set("TIPWATCH_REDIS_URL", redis_url, priority="cmdline")
    settings.set("TIPWATCH_RUN_ID", run_id, priority="cmdline")
    settings.set("TIPWATCH_WORKER_NAME", worker, priority="cmdline")
    settings.set("SCHEDULER", "crawler.shared.frontier.SharedScheduler", priority="cmdline")
    settings.set("ITEM_PIPELINES", {"crawler.shared.worker.PagePublisher": 300}, priority="cmdline")
    extensions = dict(settings.getdict("EXTENSIONS"), **{"crawler.shared.worker.FetchWorker": 510})
    settings.set("EXTENSIONS", extensions, priority="cmdline")
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES"),
                       **{"crawler.shared.politeness.SharedHostPoliteness": 960})
    settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="cmdline")
    spider_middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"), **{"crawler.shared.worker.FinishedResponses": 10})
    settings.set("SPIDER_MIDDLEWARES", spider_middlewares, priority="cmdline")


class FinishedResponses:
    """Spider middleware (nearest the engine): once a response's callback output has gone by (its
    links are in the shared frontier), its request is finished, unless it gave an item, which is
    finished when the item is published (FetchWorker's item signals)."""

    def __init__(self, shared):
        self.shared = shared

    @classmethod
    def from_crawler(cls, crawler):
        return cls(CrawlContext.of(crawler).shared)

    async def process_spider_output_async(self, response, result, spider=None):
        items = 0
        async for output in result:
            items += not isinstance(output, Request)
            yield output
        if not items:
            finish_request(self.shared.conn, self.shared.keys, self.shared.worker, response.request)


class PagePublisher:
    """Item pipeline of a fetch worker: the page is archived (WARC, this worker's own files),
    then added to the pages stream. When the stream holds more than TIPWATCH_PAGES_BACKLOG_MAX
    pages, it waits: the process workers are behind, and pages waiting in Redis cost its memory."""

    def __init__(self, context: CrawlContext, archive: PageArchive, backlog_max: int):
        self.context, self.archive, self.backlog_max = context, archive, backlog_max
        self.shared = shared_of(context)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(CrawlContext.of(crawler), PageArchive(warc_dir(crawler.settings)),
                   crawler.settings.getint("TIPWATCH_PAGES_BACKLOG_MAX", 200))

    def close_spider(self, spider=None):
        self.archive.close()

    async def process_item(self, page: FetchedPage):
        # the URLs that redirected to this page in this worker go with it (the writer stores them)
        taken = self.context.frontier.take_aliases(url_key(normalize(page.url)))
        page = dataclasses.replace(page, aliases=page.aliases + taken)
        try:
            ref = self.archive.write(page, self.context.recorder.run_label)
        except OSError as exc:
            self.context.recorder.record_error(page.source, page.url, "store",
                                               f"could not keep the page in the WARC archive: {exc}")
            raise DropItem(f"{page.url}: not archived: {exc}") from None
        while self.shared.conn.xlen(self.shared.keys.pages) >= self.backlog_max:
            await asyncio.sleep(0.1)
        source = self.context.plan.sources[page.source]
        self.shared.conn.xadd(self.shared.keys.pages, page_fields(page, ref, source.language, source.timezone))
        return {"url": page.url, "source": page.source}


class FetchWorker:
    """Extension of a fetch worker: heartbeat and counters every TICK_S; the spider kept open
    while the crawl runs (more requests may come from other workers), closed once the
    orchestrator sets the crawl's state to `stopping` (or the crawl is gone)."""

    def __init__(self, crawler, context: CrawlContext):
        self.crawler, self.context, self.shared = crawler, context, shared_of(context)
        self.loop = task.LoopingCall(self.tick)

    @classmethod
    def from_crawler(cls, crawler):
        extension = cls(crawler, CrawlContext.of(crawler))
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(extension.item_done, signal=signal)
        # a redirect or a retry queued in the request's place, or a request the frontier refused
        crawler.signals.connect(extension.request_done, signal=signals.request_scheduled)
        crawler.signals.connect(extension.request_done, signal=signals.request_dropped)
        return extension

    def item_done(self, item=None, response=None, **kwargs) -> None:
        if response is not None:
            finish_request(self.shared.conn, self.shared.keys, self.shared.worker, response.request)

    def request_done(self, request, spider=None) -> None:
        finish_request(self.shared.conn, self.shared.keys, self.shared.worker, request)

    def engine_started(self) -> None:
        self.loop.start(TICK_S, now=True)

    def stopping(self) -> bool:
        state = self.shared.conn.hget(self.shared.keys.crawl, "state")
        return state in (None, b"stopping")

    def spider_idle(self, spider=None) -> None:
        if not self.stopping():
            raise DontCloseSpider

    def tick(self) -> None:
        engine = self.crawler.engine
        idle = engine.spider is not None and engine.spider_is_idle()
        activity = sum(self.crawler.stats.get_value(name, 0) for name in ACTIVITY_STATS)
        if idle:  # nothing in progress: whatever its in-flight hash still holds is finished
            self.shared.conn.delete(self.shared.keys.inflight(self.shared.worker))
        heartbeat.beat(self.shared.conn, self.shared.keys, self.shared.worker, "fetch",
                       idle=int(idle), activity=activity, run_id=self.shared.run_id)
        publisher_of(self.context).flush()
        # Scrapy asks an idle scheduler again only every 5 s; requests pushed by other workers
        # (or the stop) must be seen sooner: ask it now when there may be something to do
        slot = getattr(engine, "_slot", None)
        if slot is not None and (self.shared.conn.zcard(self.shared.keys.requests) or self.stopping()):
            slot.nextcall.schedule()

    def spider_closed(self, spider=None, reason=None) -> None:
        if self.loop.running:
            self.loop.stop()
        self.shared.conn.delete(self.shared.keys.inflight(self.shared.worker))
        heartbeat.forget(self.shared.conn, self.shared.keys, self.shared.worker)
