"""The crawl context: one crawl's plan and state components, made once, when the spider is
created, and found by every other component through its crawler (in `from_crawler`).

    context = CrawlContext.of(crawler)
    context.plan       # CrawlPlan: the sources and their look-back windows
    context.frontier   # Frontier: URL keys seen (stored, settled) and queued, aliases pending
    context.stats      # SourceStatsBook: per-source counters of this run
    context.recorder   # CrawlRecorder: the run, errors, settled pages and articles in the store
    context.budget     # IndexBudget: the index pages each source may still read
    context.shared     # distributed mode only: the crawl's state in Redis (crawler/shared/)

Scrapy creates the spider before its extensions, middlewares and item pipelines, so the spider
opens the context and the others find it already there. `open_state` is the one place that
decides what these are: in-process objects over SQLite (`open_local_state`), or, in distributed
mode (TIPWATCH_REDIS_URL), versions shared by all the crawl's workers through Redis
(crawler/shared/frontier.py, `open_shared_state`).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.budget import IndexBudget
from crawler.paths import setting_path
from crawler.plan import CrawlPlan
from crawler.recorder import CrawlRecorder
from crawler.state import Frontier, SourceStatsBook

if TYPE_CHECKING:  # redis is imported only in distributed mode
    from crawler.shared.frontier import SharedState

_CONTEXTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # crawler → its context


@dataclass
class CrawlContext:
    plan: CrawlPlan
    frontier: Frontier
    stats: SourceStatsBook
    recorder: CrawlRecorder
    budget: IndexBudget
    shared: SharedState | None = None  # distributed mode: the Redis-backed state (crawler/shared/frontier.py)

    @classmethod
    def open(cls, crawler, plan: CrawlPlan) -> CrawlContext:
        """The context of *crawler*'s crawl, registered on it, counting its requests and
        responses, and finishing its run when the spider closes."""
        context = cls(plan, *open_state(crawler.settings, plan))
        _CONTEXTS[crawler] = context
        crawler.signals.connect(context._on_request_reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(context._on_response, signal=signals.response_received)
        crawler.signals.connect(context._on_closed, signal=signals.spider_closed)
        return context

    @staticmethod
    def find(crawler) -> CrawlContext | None:
        return _CONTEXTS.get(crawler)

    @staticmethod
    def of(crawler) -> CrawlContext:
        """*crawler*'s context; NotConfigured (which switches a Scrapy component off) when the
        crawl has none, i.e. its spider is not tipwatch's."""
        context = _CONTEXTS.get(crawler)
        if context is None:
            raise NotConfigured("no tipwatch crawl context: this component needs the `news` spider")
        return context

    def _on_request_reached(self, request, spider=None) -> None:
        self.stats.bump(request.meta.get("source"), "requests")

    def _on_response(self, response, request, spider=None) -> None:
        stats = self.stats.of(request.meta.get("source"))
        if stats is not None:
            stats.bump("responses")
            stats.status_counts[f"{response.status // 100}xx"] += 1

    def _on_closed(self, spider, reason) -> None:
        self.recorder.finish(reason)


def open_state(settings, plan: CrawlPlan) -> tuple:
    """Local state over SQLite, or, with TIPWATCH_REDIS_URL (distributed mode), state shared with
    the crawl's other workers through Redis."""
    if settings.get("TIPWATCH_REDIS_URL"):
        from crawler.shared.frontier import open_shared_state  # here: the embedded crawl never loads redis

        return open_shared_state(settings, plan)
    return open_local_state(settings, plan)


def open_local_state(settings, plan: CrawlPlan) -> tuple[Frontier, SourceStatsBook, CrawlRecorder, IndexBudget]:
    """This process's state for one crawl, over the SQLite database of TIPWATCH_DB."""
    names = list(plan.sources)
    stats = SourceStatsBook(names)
    recorder = CrawlRecorder.open(setting_path(settings, "TIPWATCH_DB"), names, stats,
                                  run_id=settings.getint("TIPWATCH_RUN_ID") or None)
    default_max = settings.getint("TIPWATCH_MAX_SITEMAPS", 200)
    budget = IndexBudget({name: src.max_sitemaps if src.max_sitemaps is not None else default_max
                          for name, src in plan.sources.items()},
                         settings.getint("TIPWATCH_MAX_SITEMAP_DEPTH", 3))
    return Frontier(recorder.is_stored), stats, recorder, budget
