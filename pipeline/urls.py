"""URL identity: one article, one key, whatever tracking junk or scheme it arrives with.

Two forms. `normalize` gives the URL to request and store: the address as the site listed it,
with only what a server never sees or never reads taken off (the fragment, a default port, the
host's case). Its path and query stay as written: a parameter may be the article's id
(`/servlet/Satellite?cid=1196847353521`), a query need not be key=value pairs
(`/index.php?/site/article/4255/`), and servers differ on encoding and parameter order. (courlan's
normalize_url, used here before, drops parameters its tracker list names, `cid` and `ref` among
them, and those without `=`: the crawl fetched the site's front page for such articles.)
`url_key` gives the identity that deduplicates: that form without tracking parameters (utm_*,
fbclid, ...), in w3lib's canonical spelling (query sorted, percent-encoding normalised), without
scheme, `www.` or trailing slash.
"""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urldefrag, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# parameters that only say how a reader arrived (campaigns, click ids, share buttons)
_TRACKING = re.compile(
    r"(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|igshid|twclid|ttclid|mc_cid|mc_eid|_ga|_gl|"
    r"ns_(?:campaign|mchannel|source|linkname|fee)|__twitter_impression|at_(?:medium|campaign)|xtor)",
    re.IGNORECASE)

_DEFAULT_PORTS = {"http": 80, "https": 443}


# A crawl asks for the same URL's forms a dozen times between discovering it and storing its
# article; a small cache of recent answers saves most of the work.
@lru_cache(maxsize=4096)
def normalize(url: str) -> str:
    """The URL to request and store (see the module docstring)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal: left for the request to refuse
        return urldefrag(url)[0]
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return urldefrag(url)[0]
    host = parts.hostname  # lower-cased by urlsplit
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None:
        netloc = parts.netloc.rsplit("@", 1)[0] + "@" + netloc
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _untracked(url: str) -> str:
    """*url* without the parameters that only say how a reader arrived."""
    base, mark, query = url.partition("?")
    if not mark:
        return url
    query = "&".join(pair for pair in query.split("&") if pair and not _TRACKING.fullmatch(pair.split("=", 1)[0]))
    return f"{base}?{query}" if query else base


@lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """Identity key: the normalised URL in w3lib's canonical spelling without scheme, `www.` or
    trailing slash, so that http/https and www twins of one page are one article."""
    if not url[:8].lower().startswith(("http://", "https://")):
        return url  # seed: and other non-web identifiers are their own key
    try:
        parts = urlsplit(canonicalize_url(_untracked(normalize(url)), keep_blank_values=True))
    except ValueError:  # unparseable (a port that is not a number): its own key, never fetched
        return normalize(url)
    host = parts.netloc.lower()
    if host.startswith("www."):
        host = host[4:]
    path = parts.path.rstrip("/") or "/"
    return host + path + (f"?{parts.query}" if parts.query else "")


def same_site(url_a: str, url_b: str) -> bool:
    """True when both URLs are on one host, ignoring `www.` (a canonical link pointing
    to another site is not trusted: syndication partners point at the original)."""
    def host(u: str) -> str:
        h = urlsplit(u).hostname or ""
        return h[4:] if h.startswith("www.") else h
    return host(url_a) == host(url_b)
