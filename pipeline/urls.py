"""URL identity: one article, one key, whatever tracking junk or scheme it arrives with."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urldefrag, urlsplit

from courlan import normalize_url


# A crawl asks for the same URL's forms a dozen times between discovering it and storing its
# article; a small cache of recent answers saves most of courlan's work.
@lru_cache(maxsize=4096)
def normalize(url: str) -> str:
    """Canonical form for requests and storage: courlan's normalisation (lower-case host,
    default port dropped, tracking parameters such as utm_* and fbclid removed, query sorted)
    without the fragment."""
    try:
        cleaned = normalize_url(url.strip())
    except (ValueError, TypeError):
        cleaned = url.strip()
    return urldefrag(cleaned)[0]


@lru_cache(maxsize=4096)
def url_key(url: str) -> str:
    """Identity key: the normalised URL without scheme, `www.` or trailing slash, so that
    http/https and www twins of one page are one article."""
    if not url.startswith(("http://", "https://")):
        return url  # seed: and other non-web identifiers are their own key
    parts = urlsplit(normalize(url))
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
