"""Downloader middleware.

RedirectAliasMiddleware: a redirect to an article this run already has (stored, or being
fetched by another request) is not followed; the redirecting URL becomes one more alias of
that article, so the next run does not request it either.

MetaRefreshMiddleware: Scrapy's, looking at a page only when it can hold a refresh tag, and
refusing a refresh out of scope or in a loop as a 3xx would be (crawler/guard.py).
"""
from __future__ import annotations

from urllib.parse import urljoin

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.exceptions import IgnoreRequest

from crawler.context import CrawlContext
from crawler.guard import raise_if_refused
from pipeline.urls import normalize, url_key

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


class DuplicateRedirect(IgnoreRequest):
    """The redirect target is an article already stored or queued in this run."""


class RedirectAliasMiddleware:
    """Sits closer to the downloader than Scrapy's RedirectMiddleware (600), so it sees
    an article's 3xx response first."""

    def __init__(self, context: CrawlContext):
        self.frontier, self.recorder = context.frontier, context.recorder

    @classmethod
    def from_crawler(cls, crawler):
        return cls(CrawlContext.of(crawler))

    def process_response(self, request, response, spider=None):
        location = response.headers.get(b"Location")
        if response.status not in REDIRECT_STATUSES or not location or request.meta.get("role") != "article":
            return response
        target = normalize(urljoin(request.url, location.decode("latin-1")))
        key = url_key(target)
        if self.frontier.seen(key):
            self.recorder.add_aliases(target, (request.url, *request.meta.get("redirect_urls", ())))
            self.frontier.mark_seen(url_key(request.url))
        elif self.frontier.queue(key):
            return response  # a new article: followed
        else:  # queued already: this URL is stored as one more of its URLs
            self.frontier.add_alias(key, request.url)
        raise DuplicateRedirect(f"duplicate: {request.url} redirects to {target}, already stored or queued")


# Scrapy reads a refresh tag in a page's first 4,096 characters: at most 16 KiB of UTF-8
_REFRESH_WINDOW = 4 * 4096


class MetaRefreshMiddleware(ScrapyMetaRefreshMiddleware):
    """Scrapy's meta-refresh redirects, without decoding every page to look for them.

    Scrapy's looks by decoding the whole body (kept with the response while it waits for
    extraction) for every HTML page. A refresh tag needs the letters "refresh" in the bytes of
    the page's head, in any ASCII-compatible encoding; a page without them has no tag, and a page
    in UTF-16 or UTF-32 (NUL bytes) is left to Scrapy's own check."""

    def process_response(self, request, response, spider=None):
        head = response.body[:_REFRESH_WINDOW]
        if b"refresh" not in head.lower() and b"\x00" not in head:
            return response
        result = super().process_response(request, response)
        if result is not response:  # a refresh to follow: the same checks as a 3xx
            raise_if_refused(request, result.url, self.max_redirect_times)
        return result
