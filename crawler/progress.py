"""Crawl progress in the log: a first crawl of a big source fetches thousands of pages, and the
log says how far it is, one line per TIPWATCH_PROGRESS_EVERY (default 100) article pages a source
answered:

    vns: 300 pages fetched, 250 stored, 42 queued

"queued" is the source's article requests not yet answered. A source that logged progress
logs its last line when the crawl ends. TIPWATCH_PROGRESS_EVERY = 0 switches this off.
"""
from __future__ import annotations

import logging
from collections import Counter

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.context import CrawlContext
from crawler.state import SourceStatsBook

log = logging.getLogger(__name__)


class CrawlProgress:
    def __init__(self, stats: SourceStatsBook, every: int):
        self.stats, self.every = stats, every
        self.answered: Counter = Counter()  # source → article responses so far

    @classmethod
    def from_crawler(cls, crawler):
        every = crawler.settings.getint("TIPWATCH_PROGRESS_EVERY", 100)
        if every <= 0:
            raise NotConfigured("TIPWATCH_PROGRESS_EVERY is 0")
        extension = cls(CrawlContext.of(crawler).stats, every)
        crawler.signals.connect(extension.response_received, signal=signals.response_received)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def line(self, source: str, in_hand: int = 0) -> str:
        """*in_hand*: answers the spider has not seen yet (the signal comes before its callback,
        which takes the request off the source's queue)."""
        count = self.stats.count
        queued = max(0, count(source, "queued") - count(source, "dequeued") - in_hand)
        return (f"{source}: {self.answered[source]} pages fetched, "
                f"{count(source, 'articles_stored')} stored, {queued} queued")

    def response_received(self, response, request, spider=None) -> None:
        source = request.meta.get("source")
        if request.meta.get("role") != "article" or self.stats.of(source) is None:
            return
        self.answered[source] += 1
        if self.answered[source] % self.every == 0:
            log.info(self.line(source, in_hand=1))

    def spider_closed(self, spider, reason) -> None:
        for source, answered in self.answered.items():
            if answered >= self.every:
                log.info("%s (crawl %s)", self.line(source), reason)
