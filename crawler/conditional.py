"""Conditional fetching of index pages (feeds, sitemaps, listing pages): an unchanged
one costs a 304 instead of a full download and parse.

`ConditionalIndexMiddleware` adds If-None-Match / If-Modified-Since to index requests
whose URL has stored validators, and puts the ETag / Last-Modified of a 200 index
response in `response.meta["validators"]`. It does NOT store them: the spider's index
callbacks call `remember_validators(recorder, response)` at the end of a successful parse.

Why not store them when the response arrives: a feed that answers 200 but cannot be
parsed (malformed XML, an error page served as 200) would then be answered 304 on every
later run, as long as the server keeps sending the same broken body with the same ETag,
and the spider would never read it again, nor record it as broken, even once the parser
learns to read it. Stored only after a parse succeeded, a validator always means "this
exact version was read".

A parsed index also queued article requests, and a 304 next time means those links are
not seen again until the index changes. So an article that failed for a passing reason
(timeout, connection, HTTP 5xx) or a run that did not finish would be lost; when the
spider closes, such a source's validators are dropped and its index pages are read in
full next run (permanent failures, "parse" and "extraction", are settled and never retried
anyway, so they do not count).
"""
from __future__ import annotations

from scrapy import signals

from crawler.context import CrawlContext

META_KEY = "validators"
SETTLED_ERROR_KINDS = {"parse", "extraction"}  # pages settled on failure: never requested again


class ConditionalIndexMiddleware:
    def __init__(self, context: CrawlContext):
        self.recorder, self.stats = context.recorder, context.stats
        self.validators: dict[str, dict] | None = None  # url → {etag, last_modified}, loaded lazily

    @classmethod
    def from_crawler(cls, crawler):
        middleware = cls(CrawlContext.of(crawler))
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def _stored(self) -> dict[str, dict]:
        if self.validators is None:
            self.validators = self.recorder.validators()
        return self.validators

    def process_request(self, request, spider=None):
        if request.meta.get("role") != "index":
            return None
        known = self._stored().get(request.url)
        if not known:
            return None
        if known.get("etag") and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known["etag"]
        if known.get("last_modified") and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known["last_modified"]
        return None

    def process_response(self, request, response, spider=None):
        if request.meta.get("role") != "index" or response.status != 200:
            return response
        etag = _header(response, b"ETag")
        last_modified = _header(response, b"Last-Modified")
        if not (etag or last_modified):
            return response
        fresh = {"etag": etag, "last_modified": last_modified}
        if self._stored().get(response.url) != fresh:  # only write what changed
            request.meta[META_KEY] = fresh  # response.meta is request.meta
        return response

    def spider_closed(self, spider, reason):
        for source, stats in self.stats.items():
            if reason != "finished" or set(stats.error_counts) - SETTLED_ERROR_KINDS:
                self.recorder.forget_validators(source)


def _header(response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def remember_validators(recorder, response) -> None:
    """Store the validators the middleware saw on this index response; call it only once the
    response was parsed successfully (see the module docstring)."""
    fresh = response.meta.pop(META_KEY, None)
    if fresh:
        recorder.remember_validator(response.url, response.meta.get("source"),
                                    fresh["etag"], fresh["last_modified"])
