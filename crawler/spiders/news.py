"""The one generic news spider: every source is a `[[source]]` entry, not a class.

    scrapy crawl news -a source=vns            # one source (comma-separate several)
    scrapy crawl news -a since=2026-11-01      # look-back window start

Discovery (feeds, sitemaps, listing pages) drops known and too-old links before
requesting them; article pages go to the item pipeline as raw bytes, where
extraction, classification and storage happen.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import TextResponse

from crawler.addresses import guard_installed
from crawler.budget import SEEN, IndexBudget
from crawler.discovery import DiscoveryError, Link, listing_links, next_page_url, parse_feed, parse_sitemap
from crawler.known import KnownUrls
from crawler.runstats import SourceStats, describe_failure
from crawler.scope import scope_hosts, url_refusal
from pipeline import store
from pipeline.extract.dates import url_date
from tipwatch.config import db_path, sources_path
from pipeline.sources import Source, load_sources, select_sources
from pipeline.urls import normalize, url_key

DEFAULT_LOOKBACK_DAYS = 7
# Refusals a page's content alone can multiply (a listing of 100,000 offsite links): one row each
# up to the bound per source and run, then only counted, so a hostile page cannot flood the
# database with rows (each one a write) nor the crawl with time spent writing them.
BOUNDED_KINDS = ("offsite", "url-too-long")
MAX_ROWS_PER_KIND = 100


def parse_since(value) -> datetime | None:
    """'2026-11-01' or a datetime → aware UTC datetime; '' / None → None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"since: expected a date like 2026-11-01, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class NewsSpider(scrapy.Spider):
    name = "news"

    def __init__(self, source: str = "", sources_file: str = "", since: str = "",
                 lookback_days: str = "", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source_names = tuple(n.strip() for n in source.split(",") if n.strip() and n.strip() != "all")
        self.sources_file = sources_file
        self.since_arg = since
        self.lookback_arg = lookback_days

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup(crawler.settings)
        crawler.signals.connect(spider.on_request_reached, signal=signals.request_reached_downloader)
        crawler.signals.connect(spider.on_response, signal=signals.response_received)
        crawler.signals.connect(spider.on_closed, signal=signals.spider_closed)
        return spider

    # ------------------------------------------------------------ setup

    def setup(self, settings) -> None:
        path = sources_path(self.sources_file or settings.get("TIPWATCH_SOURCES"))
        self.sources: dict[str, Source] = {s.name: s for s in select_sources(load_sources(path), self.source_names)}
        self.db = store.open_db(db_path(settings.get("TIPWATCH_DB")))
        self.known = KnownUrls(self.db)
        self.queued: set[str] = set()
        self.pending_aliases: dict[str, list[str]] = {}  # key → URLs redirecting to a queued article
        self.stats_by_source = {name: SourceStats() for name in self.sources}
        # the hosts each source may fetch from, carried by its requests (crawler/guard.py)
        self.scopes = {name: scope_hosts(src.start_urls, src.allowed_hosts) for name, src in self.sources.items()}
        default_max = settings.getint("TIPWATCH_MAX_SITEMAPS", 200)
        self.index_budget = IndexBudget(
            {name: src.max_sitemaps if src.max_sitemaps is not None else default_max
             for name, src in self.sources.items()},
            settings.getint("TIPWATCH_MAX_SITEMAP_DEPTH", 3))
        self.max_url_length = settings.getint("URLLENGTH_LIMIT", 2083)
        self.refusals_seen: Counter = Counter()
        self.max_index_size = settings.getint("DOWNLOAD_MAXSIZE")
        self.since_by_source = {name: self._window_start(src, settings) for name, src in self.sources.items()}
        self.run_id = settings.getint("TIPWATCH_RUN_ID") or store.start_run(self.db, list(self.sources))
        self.owns_run = not settings.getint("TIPWATCH_RUN_ID")

    def _window_start(self, source: Source, settings) -> datetime | None:
        since = parse_since(self.since_arg or settings.get("TIPWATCH_SINCE"))
        if since is not None:
            return since
        days = self.lookback_arg or source.lookback_days
        if days in (None, ""):
            days = settings.getint("TIPWATCH_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS)
        days = int(days)
        return None if days == 0 else datetime.now(timezone.utc) - timedelta(days=days)

    def stats_for(self, request_or_response) -> SourceStats | None:
        name = request_or_response.meta.get("source")
        return self.stats_by_source.get(name)

    # ------------------------------------------------------------ requests

    def index_request(self, url: str, source: str, callback, **meta) -> scrapy.Request | None:
        """A request for a feed, sitemap or listing page, or None when this run read it already
        or it is over a bound (recorded)."""
        verdict = self.index_budget.admit(source, normalize(url), meta.get("sitemap_depth"))
        if verdict == SEEN:
            self.stats_by_source[source].bump("duplicates")
            return None
        if verdict:
            self.record_error(source, url, "limit", f"not read: {verdict}")
            return None
        return self.scoped_index_request(url, source, callback, **meta)

    def scoped_index_request(self, url: str, source: str, callback, **meta) -> scrapy.Request | None:
        if not self.in_scope(source, url):
            return None
        return scrapy.Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                              meta={"source": source, "role": "index", "scope": self.scopes[source],
                                    # a conditional fetch (crawler/conditional.py) may answer 304
                                    "handle_httpstatus_list": [304], **meta})

    def in_scope(self, source: str, url: str) -> bool:
        """Whether *source* may request *url*; a refusal is counted and recorded here, before
        anything is sent (the downloader's guard checks again whatever made a request)."""
        if len(url) > self.max_url_length:
            self.record_error(source, url[:300] + "…", "url-too-long",
                              f"URL of {len(url)} characters, over the limit of {self.max_url_length}: not requested")
            return False
        refusal = url_refusal(url, self.scopes[source], source)
        if refusal:
            self.stats_by_source[source].bump("skipped_offsite")
            self.record_error(source, url[:1000], refusal.kind, refusal.detail)
            return False
        return True

    async def start(self):
        if not guard_installed():  # a settings override must not switch the address guard off unseen
            raise RuntimeError("the address guard is not installed: TWISTED_DNS_RESOLVER must be "
                               "crawler.addresses.GuardedResolver")
        for name, src in self.sources.items():
            requests = ([self.index_request(url, name, self.parse_feed) for url in src.feeds]
                        + [self.index_request(url, name, self.parse_sitemap, sitemap_depth=0) for url in src.sitemaps]
                        + [self.index_request(url, name, self.parse_listing, page=1) for url in src.listings])
            for request in requests:
                if request is not None:
                    yield request

    def is_old(self, source: str, published: datetime | None) -> bool:
        since = self.since_by_source[source]
        return since is not None and published is not None and published < since

    @staticmethod
    def url_published(source: Source, url: str) -> datetime | None:
        """The date a source's article URL carries (an id embedding the time, a /2026/11/23/
        path), when the source says its URLs carry one; lets old links go unfetched."""
        if not source.dated_urls:
            return None
        hit = url_date(url, datetime.now())
        return parse_since(hit.value) if hit else None

    def article_requests(self, source: str, links, stats: SourceStats):
        """Requests for the links worth fetching: article URLs of this source that are
        neither known, queued nor older than the window."""
        src = self.sources[source]
        for link in links:
            url = normalize(link.url)
            if not src.is_article_url(url):
                continue
            stats.bump("articles_found")
            key = url_key(url)
            if key in self.known:
                stats.bump("skipped_known")
                continue
            if key in self.queued:
                stats.bump("duplicates")
                continue
            if self.is_old(source, link.published or self.url_published(src, url)):
                stats.bump("skipped_old")
                continue
            if not self.in_scope(source, url):
                continue
            self.queued.add(key)
            yield scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                                 meta={"source": source, "role": "article", "scope": self.scopes[source],
                                       "index_title": link.title,
                                       "index_published": link.published.isoformat() if link.published else None})

    # ------------------------------------------------------------ index pages

    def parse_feed(self, response):
        from crawler.conditional import remember_validators
        stats = self.stats_for(response)
        if response.status == 304:  # unchanged since the last successful parse: nothing new
            stats.bump("not_modified")
            return
        try:
            links = parse_feed(response.body, response.url, max_size=self.max_index_size)
        except DiscoveryError as exc:
            self.record_error(response.meta["source"], response.url, exc.kind, str(exc))
            return
        yield from self.article_requests(response.meta["source"], links, stats)
        remember_validators(self.db, response)  # only once parsed: a broken feed is re-read next run

    def parse_sitemap(self, response):
        from crawler.conditional import remember_validators
        source, stats = response.meta["source"], self.stats_for(response)
        if response.status == 304:  # unchanged: its children and links were seen before
            stats.bump("not_modified")
            return
        try:
            page = parse_sitemap(response.body, response.url, max_size=self.max_index_size)
        except DiscoveryError as exc:
            self.record_error(source, response.url, exc.kind, str(exc))
            return
        # an index names its children's last change: an old child holds only old URLs
        children = [child.url for child in page.sitemaps if not self.is_old(source, child.published)]
        yield from self.child_sitemap_requests(source, response, children)
        yield from self.article_requests(source, page.links, stats)
        remember_validators(self.db, response)

    def child_sitemap_requests(self, source: str, response, urls: list[str]):
        """Requests for an index's child sitemaps within the budget; those over it are recorded
        in one line for the index (a runaway index can list 50,000 of them)."""
        depth = response.meta.get("sitemap_depth", 0) + 1
        refused: dict[str, list[str]] = {}
        for url in urls:
            verdict = self.index_budget.admit(source, normalize(url), depth)
            if verdict == SEEN:
                self.stats_by_source[source].bump("duplicates")
            elif verdict:
                refused.setdefault(verdict, []).append(url)
            elif request := self.scoped_index_request(url, source, self.parse_sitemap, sitemap_depth=depth):
                yield request
        for reason, skipped in refused.items():
            self.record_error(source, response.url, "limit",
                              f"{len(skipped)} sitemaps it lists not read: {reason}; first: {skipped[0][:300]}")

    def parse_listing(self, response):
        from crawler.conditional import remember_validators
        source, stats = response.meta["source"], self.stats_for(response)
        if response.status == 304:  # unchanged: nothing new here, so no need to page further back
            stats.bump("not_modified")
            return
        if not isinstance(response, TextResponse):
            self.record_error(source, response.url, "parse", "listing page is not HTML")
            return
        links = [link for link in listing_links(response.text, response.url)
                 if self.sources[source].is_article_url(normalize(link))]
        yield from self.article_requests(source, [Link(u) for u in links], stats)
        # pages further back hold older articles: stop at the first page with nothing new.
        # "New" means unknown before this run: a link already queued from a feed is new too
        # (else the order in which feeds and listings answer would decide the depth).
        src = self.sources[source]
        fresh = [u for u in links if url_key(normalize(u)) not in self.known
                 and not self.is_old(source, self.url_published(src, normalize(u)))]
        page = response.meta.get("page", 1)
        if fresh and page < src.max_pages:
            next_url = next_page_url(response.text, response.url)
            if next_url and urlsplit(next_url).netloc == urlsplit(response.url).netloc:
                request = self.index_request(next_url, source, self.parse_listing, page=page + 1)
                if request is not None:
                    yield request
        remember_validators(self.db, response)

    # ------------------------------------------------------------ articles

    def parse_article(self, response):
        source, stats = response.meta["source"], self.stats_for(response)
        final_key = url_key(response.url)
        if final_key != url_key(response.request.meta.get("redirect_urls", [response.url])[0]) \
                and final_key in self.known:
            stats.bump("duplicates")  # a redirect to an article stored before
            return
        if not isinstance(response, TextResponse):
            self.record_error(source, response.url, "parse", f"not an HTML page ({response.headers.get('Content-Type', b'').decode()})")
            store.settle_url(self.db, response.url, source, "not html")
            return
        stats.bump("articles_fetched")
        declared = response.headers.get("Content-Type", b"").decode("latin-1")
        encoding = declared.split("charset=", 1)[1].split(";")[0].strip() if "charset=" in declared else None
        redirects = tuple(response.request.meta.get("redirect_urls", ()))
        yield {
            "source": source,
            "url": normalize(response.url),
            "aliases": redirects,
            "body": response.body,
            "encoding": encoding,
            "language": self.sources[source].language,
            "timezone": self.sources[source].timezone,
            "index_title": response.meta.get("index_title"),
            "index_published": response.meta.get("index_published"),
            "fetched_at": store.utcnow(),
        }

    # ------------------------------------------------------------ records

    def record_error(self, source: str, url: str, kind: str, detail: str) -> None:
        stats = self.stats_by_source.get(source)
        if stats is not None:
            stats.error(kind)
        if kind in BOUNDED_KINDS:
            self.refusals_seen[(source, kind)] += 1
            if self.refusals_seen[(source, kind)] > MAX_ROWS_PER_KIND:
                return  # counted; listed only up to the bound (see on_closed)
        store.record_error(self.db, self.run_id, source, url, kind, detail)
        self.logger.warning("%s: %s error on %s: %s", source, kind, url, detail)

    def record_unlisted_refusals(self) -> None:
        for (source, kind), seen in self.refusals_seen.items():
            if seen > MAX_ROWS_PER_KIND:
                store.record_error(self.db, self.run_id, source, "", kind,
                                   f"{seen - MAX_ROWS_PER_KIND} more {kind} refusals in this run, counted but not "
                                   f"listed (the first {MAX_ROWS_PER_KIND} are)")

    def on_error(self, failure):
        request = failure.request
        source = request.meta.get("source")
        kind, detail = describe_failure(failure)
        if getattr(failure.value, "unanswered", False):
            self.stats_by_source[source].bump("requests")
        if kind == "duplicate":
            self.stats_by_source[source].bump("duplicates")
            return
        if kind == "robots":
            self.stats_by_source[source].bump("skipped_robots")
            return
        if kind == "offsite":
            self.stats_by_source[source].bump("skipped_offsite")
        # the URL the source listed, not the hop of a redirect chain where it failed
        self.record_error(source, (request.meta.get("redirect_urls") or [request.url])[0], kind, detail)
        if request.meta.get("role") == "article" and kind == "http" and detail in ("HTTP 404", "HTTP 410"):
            store.settle_url(self.db, request.url, source, detail)

    def on_request_reached(self, request, spider):
        stats = self.stats_for(request)
        if stats is not None:
            stats.bump("requests")

    def on_response(self, response, request, spider):
        stats = self.stats_for(request)
        if stats is not None:
            stats.bump("responses")
            stats.status_counts[f"{response.status // 100}xx"] += 1

    def on_closed(self, spider, reason):
        self.record_unlisted_refusals()
        for name, stats in self.stats_by_source.items():
            store.save_source_stats(self.db, self.run_id, name, stats.as_row())
        if self.owns_run:
            store.finish_run(self.db, self.run_id, "finished" if reason == "finished" else reason)
