"""Downloader middleware that applies the fetch scope (crawler/scope.py) to every request.

ScopeMiddleware sits first in request order, before robots.txt is fetched: every request, from
the spider or made by Scrapy itself (a redirect, a meta refresh, a retry, robots.txt), is checked
against the scope its source gave it (`meta["scope"]`, copied by Scrapy onto redirects and
retries). A request with no scope is refused, except robots.txt, which is judged by the scope
of the request that made Scrapy fetch it.

RedirectGuardMiddleware looks at a 3xx before Scrapy's RedirectMiddleware follows it: a target
out of scope, a loop (A → B → A, which Scrapy's duplicate filter would drop without a word) or a
chain over REDIRECT_MAX_TIMES is refused and recorded.
"""
from __future__ import annotations

from urllib.parse import urljoin

from w3lib.url import safe_url_string

from crawler.scope import OutOfScope, Refusal, host_key, redirect_refusal, url_refusal

REDIRECT_STATUSES = {301, 302, 303, 307, 308}


def _robots_request(request) -> bool:
    return bool(request.meta.get("dont_obey_robotstxt")) and "scope" not in request.meta


class ScopeMiddleware:
    def __init__(self, max_redirects: int):
        self.max_redirects = max_redirects
        self.scope_by_host: dict[str, tuple[str, frozenset[str]]] = {}  # for robots.txt requests

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("REDIRECT_MAX_TIMES"))

    def process_request(self, request, spider=None):
        refusal = self.refusal(request)
        if refusal:
            raise OutOfScope(refusal)

    def refusal(self, request) -> Refusal | None:
        chain = request.meta.get("redirect_urls") or []
        if chain:
            refusal = redirect_refusal(request.url, chain, self.max_redirects)
            if refusal:
                return refusal
        if _robots_request(request):
            return self._robots_refusal(request, chain)
        scope, source = request.meta.get("scope"), request.meta.get("source")
        if scope is None or source is None:
            return Refusal("offsite", f"request without a source's scope: {request.url[:200]}")
        refusal = url_refusal(request.url, scope, source)
        # url_refusal refuses a URL without a host: an accepted one has one
        if refusal is None and (host := host_key(request.url)) is not None:
            self.scope_by_host.setdefault(host, (source, scope))
        return refusal

    def _robots_refusal(self, request, chain) -> Refusal | None:
        origin = host_key(chain[0] if chain else request.url)
        if origin not in self.scope_by_host:
            return Refusal("offsite", f"robots.txt of a host no source fetches from: {request.url[:200]}")
        source, scope = self.scope_by_host[origin]
        return url_refusal(request.url, scope, source)


class RedirectGuardMiddleware:
    """Refuses a 3xx whose target the scope or the loop check would refuse, with the redirect
    named in the error (Scrapy's own handling would drop a loop silently)."""

    def __init__(self, max_redirects: int):
        self.max_redirects = max_redirects

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getint("REDIRECT_MAX_TIMES"))

    def process_response(self, request, response, spider=None):
        location = response.headers.get(b"Location")
        if response.status not in REDIRECT_STATUSES or not location:
            return response
        target = urljoin(request.url, safe_url_string(location.decode("latin-1").strip()))
        raise_if_refused(request, target, self.max_redirects)
        return response


def raise_if_refused(request, target: str, max_redirects: int) -> None:
    """For a redirect (3xx or meta refresh) of *request* to *target*."""
    chain = [*request.meta.get("redirect_urls", ()), request.url]
    refusal = redirect_refusal(target, chain, max_redirects)
    if refusal is None and not _robots_request(request):
        scope, source = request.meta.get("scope"), request.meta.get("source")
        if scope is not None:
            refusal = url_refusal(target, scope, source)
            if refusal:
                refusal = Refusal(refusal.kind, f"redirect from {request.url[:200]} refused: {refusal.detail}")
    if refusal:
        raise OutOfScope(refusal)
