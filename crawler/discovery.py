"""Finding article links: feeds, sitemaps and listing pages, as pure functions of bytes.

Each parser returns plain `Link` records (URL plus whatever date and title the
index page gave), so the spider can drop old or known entries before fetching.
"""
from __future__ import annotations

import re
from calendar import timegm
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import feedparser
from lxml import etree
from parsel import Selector
from scrapy.utils.gz import gunzip


class DiscoveryError(ValueError):
    """An index page (feed, sitemap) could not be parsed."""

    kind = "parse"


class IndexTooLarge(DiscoveryError):
    """A gzipped index page expands beyond the size a crawl accepts."""

    kind = "too-large"


def _opened(body: bytes, max_size: int) -> bytes:
    """A gzipped feed or sitemap (served as a .gz file, without Content-Encoding) opened in
    chunks, and given up once it expands past *max_size* bytes (0: no cap): a 1 MB file can hold
    1 GB of zeros."""
    if body[:2] != b"\x1f\x8b":
        return body
    try:
        return gunzip(body, max_size=max_size)
    except ValueError:  # Scrapy's own "decompressed beyond max_size"
        raise IndexTooLarge(f"gzipped index expands beyond {max_size} bytes: not read") from None
    except (OSError, EOFError) as exc:
        raise DiscoveryError(f"bad gzip data: {exc}") from None


@dataclass(frozen=True)
class Link:
    url: str
    published: datetime | None = None
    title: str | None = None


@dataclass(frozen=True)
class SitemapPage:
    sitemaps: tuple[Link, ...]  # child sitemaps of a sitemap index
    links: tuple[Link, ...]     # page URLs of a urlset


def parse_datetime(value: str | None) -> datetime | None:
    """W3C/ISO 8601 dates as sitemaps write them ('2026-11-20', '2026-11-20T08:00:00+07:00')."""
    if not value:
        return None
    value = value.strip().replace("Z", "+00:00")
    for candidate in (value, value[:19], value[:10]):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def parse_feed(body: bytes, base_url: str, max_size: int = 0) -> list[Link]:
    """RSS/Atom entries. A feed that is broken and yields nothing raises DiscoveryError;
    a slightly broken one (feedparser's 'bozo') still gives what it could read."""
    feed = feedparser.parse(_opened(body, max_size))
    links = []
    for entry in feed.entries:
        href = entry.get("link") or entry.get("id")
        if not href:
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime.fromtimestamp(timegm(stamp), UTC) if stamp else None
        links.append(Link(urljoin(base_url, href.strip()), published, entry.get("title")))
    if not links and feed.bozo:
        raise DiscoveryError(f"malformed feed: {feed.bozo_exception}")
    if not links and not feed.get("version"):
        raise DiscoveryError("not an RSS or Atom feed")
    return links


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element, name: str) -> str | None:
    for child in element.iter():
        if _local(child.tag) == name and child.text:
            return child.text.strip()
    return None


def parse_sitemap(body: bytes, base_url: str, max_size: int = 0) -> SitemapPage:
    """A sitemap index or urlset, Google News extensions included
    (news:publication_date, news:title); gzip bodies are opened, up to *max_size* bytes."""
    body = _opened(body, max_size)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed sitemap: {exc}") from None
    kind = _local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise DiscoveryError(f"not a sitemap: root element <{kind}>")
    wanted = "sitemap" if kind == "sitemapindex" else "url"
    links = []
    for node in root:
        if _local(node.tag) != wanted:
            continue
        loc = _child_text(node, "loc")
        if not loc:
            continue
        date = parse_datetime(_child_text(node, "publication_date") or _child_text(node, "lastmod"))
        links.append(Link(urljoin(base_url, loc), date, _child_text(node, "title")))
    if kind == "sitemapindex":
        return SitemapPage(tuple(links), ())
    return SitemapPage((), tuple(links))


# Words that label a "next page" link on English and Vietnamese news sites.
_NEXT_TEXT = re.compile(r"^\s*(next|next page|older|older posts|more|»|›|>|trang sau|tiếp|sau|xem thêm)\s*[»›>]*\s*$",
                        re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"(?:[?&](?:page|p|trang)=|/page[/-]|/trang[/-]|-p|/p)(\d+)(?:\.html?|/)?(?:$|[?&#])",
                          re.IGNORECASE)


def page_number(url: str) -> int | None:
    match = _PAGE_NUMBER.search(url)
    return int(match.group(1)) if match else None


def listing_links(html: str, base_url: str) -> list[str]:
    """Absolute http(s) URLs of every link on a page, in page order, without repeats."""
    selector = Selector(text=html)
    seen: dict[str, None] = {}
    for href in selector.css("a::attr(href)").getall():
        href = href.strip()
        if not href or href.startswith(("javascript:", "mailto:", "tel:", "#")):
            continue
        url = urljoin(base_url, href)
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, None)
    return list(seen)


def next_page_url(html: str, base_url: str) -> str | None:
    """The listing's next page: rel=next, a link labelled 'Next'/'Trang sau'/'»', or the link
    whose page number is one more than this page's."""
    selector = Selector(text=html)
    rel_next = selector.css('a[rel~="next"]::attr(href), link[rel~="next"]::attr(href)').get()
    if rel_next:
        return urljoin(base_url, rel_next.strip())
    for anchor in selector.css("a[href]"):
        label = " ".join(anchor.css("::text").getall()).strip() or anchor.attrib.get("aria-label", "")
        if label and _NEXT_TEXT.match(label):
            return urljoin(base_url, anchor.attrib["href"].strip())
    current = page_number(base_url) or 1
    for href in selector.css("a::attr(href)").getall():
        url = urljoin(base_url, href.strip())
        if page_number(url) == current + 1:
            return url
    return None
