"""The fetch scope: which URLs a source may request. Pure decisions, no I/O.

A source may fetch only over http(s), and only from the hosts of its own feeds, sitemaps and
listings plus its `allowed_hosts`. A host is a name and a port: the default ports (80 for http,
443 for https) are one, so an http → https upgrade stays in scope, while another port of the same
name is another service. Whatever made a request (a feed item, a sitemap <loc>, a listing link,
a 3xx Location, a meta refresh, robots.txt) passes the same check.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Refusal:
    kind: str    # offsite, redirect, blocked-address, robots-unavailable, retry-after, limit, …
    detail: str
    # the host did not answer (its robots.txt could not be fetched): the request counts as one
    # sent without a response, as it would have been, so source health sees an unreachable site
    unanswered: bool = False


class OutOfScope(IgnoreRequest):
    """A request the guard refused before anything was sent; the errback records it."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.detail)
        self.kind, self.detail, self.unanswered = refusal.kind, refusal.detail, refusal.unanswered


def host_key(url_or_host: str) -> str | None:
    """'HTTPS://Example.com:443/x' → 'example.com'; 'http://127.0.0.1:8001/' → '127.0.0.1:8001';
    None for a URL without a host or with a bad port."""
    text = url_or_host if "//" in url_or_host else "//" + url_or_host
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets, as in a URL
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()) or (not parts.scheme and port in (80, 443)):
        return host
    return f"{host}:{port}"


def scope_hosts(start_urls: Iterable[str], allowed_hosts: Iterable[str] = ()) -> frozenset[str]:
    """The hosts a source may fetch from."""
    keys = {host_key(u) for u in (*start_urls, *allowed_hosts)}
    return frozenset(k for k in keys if k)


def scheme_refusal(url: str) -> Refusal | None:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme in SCHEMES:
        return None
    return Refusal("offsite", f"{scheme or 'scheme-less'}: URLs are never fetched (only http and https): {url[:200]}")


def url_refusal(url: str, hosts: frozenset[str], source: str) -> Refusal | None:
    """Why *source* must not request *url*, or None."""
    refusal = scheme_refusal(url)
    if refusal:
        return refusal
    key = host_key(url)
    if key is None:
        return Refusal("offsite", f"no host in {url[:200]}")
    if key not in hosts:
        return Refusal("offsite", f"{key} is not a host of source {source!r} "
                                  f"(its hosts: {', '.join(sorted(hosts))}; add it to allowed_hosts to fetch it)")
    return None


def redirect_refusal(url: str, chain: Iterable[str], max_redirects: int) -> Refusal | None:
    """A redirect (3xx or meta refresh) to *url* after *chain*: a loop, or a chain too long."""
    chain = list(chain)
    if url in chain:
        return Refusal("redirect", "redirect loop: " + " → ".join([*chain[chain.index(url):], url])[:900])
    if len(chain) > max_redirects:
        return Refusal("redirect", f"more than {max_redirects} redirects from {chain[0][:300]}")
    return None
