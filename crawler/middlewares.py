"""Downloader middleware: a redirect to an article this run already has (stored, or
being fetched by another request) is not followed; the redirecting URL becomes one
more alias of that article, so the next run does not request it either."""
from __future__ import annotations

from urllib.parse import urljoin

from scrapy.exceptions import IgnoreRequest

from pipeline import store
from pipeline.urls import normalize, url_key

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class DuplicateRedirect(IgnoreRequest):
    """The redirect target is an article already stored or queued in this run."""


class RedirectAliasMiddleware:
    """Sits closer to the downloader than Scrapy's RedirectMiddleware (600), so it sees
    an article's 3xx response first."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response, spider=None):
        spider = self.crawler.spider
        location = response.headers.get(b"Location")
        if (response.status not in REDIRECT_STATUSES or not location
                or request.meta.get("role") != "article" or not hasattr(spider, "known")):
            return response
        target = normalize(urljoin(request.url, location.decode("latin-1")))
        key = url_key(target)
        if key in spider.known:
            store.add_aliases(spider.db, target, (request.url, *request.meta.get("redirect_urls", ())))
            spider.known.add(url_key(request.url))
        elif key in spider.queued:
            spider.pending_aliases.setdefault(key, []).append(request.url)
        else:
            spider.queued.add(key)
            return response
        raise DuplicateRedirect(f"duplicate: {request.url} redirects to {target}, already stored or queued")
