"""The one generic news spider: every source is a `[[source]]` entry, not a class.

    scrapy crawl news -a source=vns            # one source (comma-separate several)
    scrapy crawl news -a since=2026-11-01      # look-back window start

Discovery (feeds, sitemaps, listing pages) drops known and too-old links before
requesting them; article pages go to the item pipeline as raw bytes, where
extraction, classification and storage happen.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.http import TextResponse

from crawler.discovery import DiscoveryError, Link, listing_links, next_page_url, parse_feed, parse_sitemap
from crawler.known import KnownUrls
from crawler.runstats import SourceStats, describe_failure
from pipeline import store
from pipeline.dates import url_date
from pipeline.paths import db_path, sources_path
from pipeline.sources import Source, load_sources, select_sources
from pipeline.urls import normalize, url_key

DEFAULT_LOOKBACK_DAYS = 7


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

    def index_request(self, url: str, source: str, callback, **meta) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error, dont_filter=True,
                              meta={"source": source, "role": "index",
                                    # a conditional fetch (crawler/conditional.py) may answer 304
                                    "handle_httpstatus_list": [304], **meta})

    async def start(self):
        for name, src in self.sources.items():
            for url in src.feeds:
                yield self.index_request(url, name, self.parse_feed)
            for url in src.sitemaps:
                yield self.index_request(url, name, self.parse_sitemap)
            for url in src.listings:
                yield self.index_request(url, name, self.parse_listing, page=1)

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
            self.queued.add(key)
            yield scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                                 meta={"source": source, "role": "article", "index_title": link.title,
                                       "index_published": link.published.isoformat() if link.published else None})

    # ------------------------------------------------------------ index pages

    def parse_feed(self, response):
        from crawler.conditional import remember_validators
        stats = self.stats_for(response)
        if response.status == 304:  # unchanged since the last successful parse: nothing new
            stats.bump("not_modified")
            return
        try:
            links = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self.record_error(response.meta["source"], response.url, "parse", str(exc))
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
            page = parse_sitemap(response.body, response.url)
        except DiscoveryError as exc:
            self.record_error(source, response.url, "parse", str(exc))
            return
        for child in page.sitemaps:
            # an index names its children's last change: an old child holds only old URLs
            if not self.is_old(source, child.published):
                yield self.index_request(child.url, source, self.parse_sitemap)
        yield from self.article_requests(source, page.links, stats)
        remember_validators(self.db, response)

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
                yield self.index_request(next_url, source, self.parse_listing, page=page + 1)
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
            "index_title": response.meta.get("index_title"),
            "index_published": response.meta.get("index_published"),
            "fetched_at": store.utcnow(),
        }

    # ------------------------------------------------------------ records

    def record_error(self, source: str, url: str, kind: str, detail: str) -> None:
        stats = self.stats_by_source.get(source)
        if stats is not None:
            stats.error(kind)
        store.record_error(self.db, self.run_id, source, url, kind, detail)
        self.logger.warning("%s: %s error on %s: %s", source, kind, url, detail)

    def on_error(self, failure):
        request = failure.request
        source = request.meta.get("source")
        kind, detail = describe_failure(failure)
        if kind == "duplicate":
            self.stats_by_source[source].bump("duplicates")
            return
        if kind == "robots":
            self.stats_by_source[source].bump("skipped_offsite")
            return
        self.record_error(source, request.url, kind, detail)
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
        for name, stats in self.stats_by_source.items():
            store.save_source_stats(self.db, self.run_id, name, stats.as_row())
        if self.owns_run:
            store.finish_run(self.db, self.run_id, "finished" if reason == "finished" else reason)
