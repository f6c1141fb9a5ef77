from datetime import UTC, datetime

import pytest

from crawler.discovery import DiscoveryError, listing_links, next_page_url, parse_feed, parse_sitemap

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Society</title>
<item><title>Two rescued from scam compound</title><link>https://vietnamnews.vn/society/11/a.html</link>
<pubDate>Fri, 20 Nov 2026 08:00:00 +0700</pubDate></item>
<item><title>No date</title><link>/society/12/b.html</link></item>
</channel></rss>"""

NEWS_SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://baochinhphu.vn/a-102261120080000123.htm</loc>
<news:news><news:publication><news:name>Bao Chinh phu</news:name><news:language>vi</news:language></news:publication>
<news:publication_date>2026-11-20T08:00:00+07:00</news:publication_date>
<news:title>Triệt phá đường dây mua bán người</news:title></news:news></url>
<url><loc>https://baochinhphu.vn/b-102190101080000123.htm</loc><lastmod>2019-01-01</lastmod></url>
</urlset>""".encode()

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://baochinhphu.vn/sitemap-news.xml</loc><lastmod>2026-11-20</lastmod></sitemap>
</sitemapindex>"""


def test_feed_entries_with_dates_and_relative_links():
    links = parse_feed(RSS, "https://vietnamnews.vn/rss/society.rss")
    assert [link.url for link in links] == ["https://vietnamnews.vn/society/11/a.html",
                                            "https://vietnamnews.vn/society/12/b.html"]
    assert links[0].published == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert links[0].title == "Two rescued from scam compound"
    assert links[1].published is None


@pytest.mark.parametrize("body", [b"<rss><channel><item><title>cut", b"", b"<html><body>Not found</body></html>"])
def test_broken_feeds_raise(body):
    with pytest.raises(DiscoveryError):
        parse_feed(body, "https://x.test/rss")


def test_google_news_sitemap():
    page = parse_sitemap(NEWS_SITEMAP, "https://baochinhphu.vn/sitemap-news.xml")
    assert page.sitemaps == ()
    first, second = page.links
    assert first.published == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert first.title == "Triệt phá đường dây mua bán người"
    assert second.published == datetime(2019, 1, 1, tzinfo=UTC)


def test_sitemap_index_and_gzip():
    import gzip
    page = parse_sitemap(gzip.compress(INDEX), "https://baochinhphu.vn/sitemap.xml")
    assert [s.url for s in page.sitemaps] == ["https://baochinhphu.vn/sitemap-news.xml"]
    assert page.links == ()


@pytest.mark.parametrize("body", [b"<urlset><url><loc>x", b"<html/>", b"\x1f\x8bnot gzip"])
def test_broken_sitemaps_raise(body):
    with pytest.raises(DiscoveryError):
        parse_sitemap(body, "https://x.test/sitemap.xml")


def test_listing_links_absolute_unique_in_order():
    html = '<a href="/a.html">A</a><a href="b.html">B</a><a href="/a.html">A</a><a href="mailto:x@y">m</a>'
    assert listing_links(html, "https://x.test/news/") == ["https://x.test/a.html", "https://x.test/news/b.html"]


@pytest.mark.parametrize("html, expected", [
    ('<a rel="next" href="/society?page=2">2</a>', "https://x.test/society?page=2"),
    ('<a href="/phap-luat/trang-2.htm">Trang sau</a>', "https://x.test/phap-luat/trang-2.htm"),
    ('<a href="/s/p3">3</a><a href="/s/p2">2</a>', "https://x.test/s/p2"),
    ('<a href="/s/other">Home</a>', None),
])
def test_next_page(html, expected):
    assert next_page_url(html, "https://x.test/society") == expected
