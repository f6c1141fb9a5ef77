"""The one generic news spider: every source is a `[[source]]` entry, not a class.

    scrapy crawl news -a source=vns            # one source (comma-separate several)
    scrapy crawl news -a since=2026-11-01      # look-back window start

Discovery (feeds, sitemaps, listing pages) drops known and too-old links before requesting
them; each article page fetched goes to the item pipeline as a `FetchedPage` record (the
response as received), where it is archived, extracted, classified and stored.

The crawl's state is not kept here: the spider opens the crawl context (crawler/context.py)
and works with its frontier, stats book and recorder, as every other component does.
"""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse

from crawler.addresses import guard_installed
from crawler.budget import SEEN
from crawler.conditional import remember_validators
from crawler.context import CrawlContext
from crawler.discovery import DiscoveryError, Link, listing_links, next_page_url, parse_feed, parse_sitemap
from crawler.plan import CrawlPlan, parse_since  # parse_since: the CLI imports it from here
from crawler.runstats import SourceStats, describe_failure
from crawler.scope import scope_hosts, url_refusal
from pipeline.extract.dates import url_date
from pipeline.records import FetchedPage
from pipeline.sources import Source
from pipeline.urls import normalize, url_key


def fetched_page(source: str, response) -> FetchedPage:
    """The record of an article response: what was asked for, what came back, and when."""
    redirects = tuple(response.request.meta.get("redirect_urls", ()))
    headers = tuple((key.decode("latin-1"), value.decode("latin-1"))
                    for key, values in response.headers.items() for value in values)
    return FetchedPage(source=source, requested_url=(redirects or (response.request.url,))[0], url=response.url,
                       status=response.status, headers=headers, body=response.body,
                       fetched_at=datetime.now(UTC).replace(microsecond=0).isoformat(), aliases=redirects)


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
        plan = CrawlPlan.from_settings(crawler.settings, spider.source_names, spider.sources_file,
                                       spider.since_arg, spider.lookback_arg)
        spider.use(CrawlContext.open(crawler, plan), crawler.settings)
        return spider

    # ------------------------------------------------------------ setup

    def use(self, context: CrawlContext, settings) -> None:
        self.plan, self.frontier, self.stats = context.plan, context.frontier, context.stats
        self.recorder, self.budget = context.recorder, context.budget
        self.sources: dict[str, Source] = context.plan.sources
        # the hosts each source may fetch from, carried by its requests (crawler/guard.py)
        self.scopes = {name: scope_hosts(src.start_urls, src.allowed_hosts) for name, src in self.sources.items()}
        self.max_url_length = settings.getint("URLLENGTH_LIMIT", 2083)
        self.max_index_size = settings.getint("DOWNLOAD_MAXSIZE")

    def stats_for(self, request_or_response) -> SourceStats | None:
        return self.stats.of(request_or_response.meta.get("source"))

    # ------------------------------------------------------------ requests

    def index_request(self, url: str, source: str, callback, **meta) -> scrapy.Request | None:
        """A request for a feed, sitemap or listing page, or None when this run read it already
        or it is over a bound (recorded)."""
        verdict = self.budget.admit(source, normalize(url), meta.get("sitemap_depth"))
        if verdict == SEEN:
            self.stats.bump(source, "duplicates")
            return None
        if verdict:
            self.recorder.record_error(source, url, "limit", f"not read: {verdict}")
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
            self.recorder.record_error(source, url[:300] + "…", "url-too-long",
                                       f"URL of {len(url)} characters, over the limit of {self.max_url_length}: "
                                       "not requested")
            return False
        refusal = url_refusal(url, self.scopes[source], source)
        if refusal:
            self.stats.bump(source, "skipped_offsite")
            self.recorder.record_error(source, url[:1000], refusal.kind, refusal.detail)
            return False
        return True

    async def start(self):
        if not guard_installed():  # a settings override must not switch the address guard off unseen
            raise RuntimeError("the address guard is not installed: TWISTED_DNS_RESOLVER must be "
                               "crawler.addresses.GuardedResolver")
        for request in self.seed_requests():
            yield request

    def seed_requests(self):
        """Each source's feeds, sitemaps and listings: where discovery starts (in distributed mode,
        the orchestrator pushes them into the shared frontier)."""
        for name, src in self.sources.items():
            requests = ([self.index_request(url, name, self.parse_feed) for url in src.feeds]
                        + [self.index_request(url, name, self.parse_sitemap, sitemap_depth=0) for url in src.sitemaps]
                        + [self.index_request(url, name, self.parse_listing, page=1) for url in src.listings])
            for request in requests:
                if request is not None:
                    yield request

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
            if self.frontier.seen(key):
                stats.bump("skipped_known")
                continue
            if self.frontier.is_queued(key):
                stats.bump("duplicates")
                continue
            if self.plan.is_old(source, link.published or self.url_published(src, url)):
                stats.bump("skipped_old")
                continue
            if not self.in_scope(source, url) or not self.frontier.queue(key):
                continue
            stats.bump("queued")  # not a stored counter: crawl progress (crawler/progress.py)
            yield scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                                 meta={"source": source, "role": "article", "scope": self.scopes[source]})

    # ------------------------------------------------------------ index pages

    def parse_feed(self, response):
        stats = self.stats_for(response)
        if response.status == 304:  # unchanged since the last successful parse: nothing new
            stats.bump("not_modified")
            return
        try:
            links = parse_feed(response.body, response.url, max_size=self.max_index_size)
        except DiscoveryError as exc:
            self.recorder.record_error(response.meta["source"], response.url, exc.kind, str(exc))
            return
        yield from self.article_requests(response.meta["source"], links, stats)
        remember_validators(self.recorder, response)  # only once parsed: a broken feed is re-read next run

    def parse_sitemap(self, response):
        source, stats = response.meta["source"], self.stats_for(response)
        if response.status == 304:  # unchanged: its children and links were seen before
            stats.bump("not_modified")
            return
        try:
            page = parse_sitemap(response.body, response.url, max_size=self.max_index_size)
        except DiscoveryError as exc:
            self.recorder.record_error(source, response.url, exc.kind, str(exc))
            return
        # an index names its children's last change: an old child holds only old URLs
        children = [child.url for child in page.sitemaps if not self.plan.is_old(source, child.published)]
        yield from self.child_sitemap_requests(source, response, children)
        yield from self.article_requests(source, page.links, stats)
        remember_validators(self.recorder, response)

    def child_sitemap_requests(self, source: str, response, urls: list[str]):
        """Requests for an index's child sitemaps within the budget; those over it are recorded
        in one line for the index (a runaway index can list 50,000 of them)."""
        depth = response.meta.get("sitemap_depth", 0) + 1
        refused: dict[str, list[str]] = {}
        for url in urls:
            verdict = self.budget.admit(source, normalize(url), depth)
            if verdict == SEEN:
                self.stats.bump(source, "duplicates")
            elif verdict:
                refused.setdefault(verdict, []).append(url)
            elif request := self.scoped_index_request(url, source, self.parse_sitemap, sitemap_depth=depth):
                yield request
        for reason, skipped in refused.items():
            self.recorder.record_error(source, response.url, "limit",
                                       f"{len(skipped)} sitemaps it lists not read: {reason}; "
                                       f"first: {skipped[0][:300]}")

    def parse_listing(self, response):
        source, stats = response.meta["source"], self.stats_for(response)
        if response.status == 304:  # unchanged: nothing new here, so no need to page further back
            stats.bump("not_modified")
            return
        if not isinstance(response, TextResponse):
            self.recorder.record_error(source, response.url, "parse", "listing page is not HTML")
            return
        links = [link for link in listing_links(response.text, response.url)
                 if self.sources[source].is_article_url(normalize(link))]
        yield from self.article_requests(source, [Link(u) for u in links], stats)
        # pages further back hold older articles: stop at the first page with nothing new.
        # "New" means unknown before this run: a link already queued from a feed is new too
        # (else the order in which feeds and listings answer would decide the depth).
        src = self.sources[source]
        fresh = [u for u in links if not self.frontier.seen(url_key(normalize(u)))
                 and not self.plan.is_old(source, self.url_published(src, normalize(u)))]
        page = response.meta.get("page", 1)
        if fresh and page < src.max_pages:
            next_url = next_page_url(response.text, response.url)
            if next_url and urlsplit(next_url).netloc == urlsplit(response.url).netloc:
                request = self.index_request(next_url, source, self.parse_listing, page=page + 1)
                if request is not None:
                    yield request
        remember_validators(self.recorder, response)

    # ------------------------------------------------------------ articles

    def parse_article(self, response):
        source, stats = response.meta["source"], self.stats_for(response)
        stats.bump("dequeued")
        final_key = url_key(response.url)
        if final_key != url_key(response.request.meta.get("redirect_urls", [response.url])[0]) \
                and self.frontier.seen(final_key):
            stats.bump("duplicates")  # a redirect to an article stored before
            return
        if not isinstance(response, TextResponse):
            content_type = response.headers.get("Content-Type", b"").decode("latin-1")
            self.recorder.record_error(source, response.url, "parse", f"not an HTML page ({content_type})")
            self.recorder.settle(response.url, source, "not html")
            return
        stats.bump("articles_fetched")
        yield fetched_page(source, response)

    # ------------------------------------------------------------ failures

    def on_error(self, failure):
        request = failure.request
        source = request.meta.get("source")
        kind, detail = describe_failure(failure)
        if request.meta.get("role") == "article":
            self.stats.bump(source, "dequeued")
        if getattr(failure.value, "unanswered", False):
            self.stats.bump(source, "requests")
        if kind == "duplicate":
            self.stats.bump(source, "duplicates")
            return
        if kind == "robots":
            self.stats.bump(source, "skipped_robots")
            return
        if kind == "offsite":
            self.stats.bump(source, "skipped_offsite")
        # the URL the source listed, not the hop of a redirect chain where it failed
        self.recorder.record_error(source, (request.meta.get("redirect_urls") or [request.url])[0], kind, detail)
        if request.meta.get("role") == "article" and kind == "http" and detail in ("HTTP 404", "HTTP 410"):
            self.recorder.settle(request.url, source, detail)
