"""A news site on 127.0.0.1 that counts every request: the sample sites' article pages, each
served under several distinct URLs, with a sitemap index, its children and a feed; it records
the hits per path and the most requests it answered at once (optionally each slowed down, so
that concurrency shows)."""
from __future__ import annotations

from pathlib import Path

from tipwatch.samplesites import SITES_DIR, CountingServedSite, manifest, write_loopback_sources

SITEMAP_CHUNK = 25


def sample_bodies() -> list[tuple[str, bytes]]:
    """(name, body) of each sample article page; its {{BASE}} links and its canonical link point
    off-site, so a copy's canonical link does not fold it into another copy: one article a page."""
    pages = []
    for article in manifest():
        path = SITES_DIR / article["site"] / article["path"].lstrip("/")
        if path.is_file():
            pages.append((f"{article['site']}-{Path(article['path']).stem}"[:60],
                          path.read_bytes().replace(b"{{BASE}}", b"https://sample.invalid")
                          .replace(b'rel="canonical" href="/', b'rel="canonical" href="https://sample.invalid/')))
    return pages


class CountingSite(CountingServedSite):
    def __init__(self, copies: int = 2, latency_s: float = 0.0):
        super().__init__(latency_s)
        self.articles = [f"/news/{i:04d}/{name}.html" for i, (name, _) in
                         enumerate(sample_bodies() * copies)]
        bodies = [body for _, body in sample_bodies() * copies]
        self.documents["/robots.txt"] = (b"User-agent: *\nAllow: /\n", "text/plain")
        self.documents.update({path: (body, "text/html") for path, body in zip(self.articles, bodies, strict=True)})
        self._index_documents()

    def _index_documents(self) -> None:
        children = []
        for start in range(0, len(self.articles), SITEMAP_CHUNK):
            child = f"/sitemaps/{start // SITEMAP_CHUNK}.xml"
            children.append(child)
            chunk = self.articles[start:start + SITEMAP_CHUNK]
            urls = "".join(f"<url><loc>{self.base_url}{p}</loc></url>" for p in chunk)
            self.documents[child] = (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                     f"{urls}</urlset>".encode(), "application/xml")
        index = "".join(f"<sitemap><loc>{self.base_url}{c}</loc></sitemap>" for c in children)
        self.documents["/sitemap.xml"] = (f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                                          f'sitemap/0.9">{index}</sitemapindex>'.encode(), "application/xml")
        items = "".join(f"<item><title>{i}</title><link>{self.base_url}{p}</link></item>"
                        for i, p in enumerate(self.articles[-10:]))
        self.documents["/feed.rss"] = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
                                       f"{items}</channel></rss>".encode(), "application/rss+xml")

    def write_sources(self, path: Path, name: str = "counted") -> Path:
        return write_loopback_sources(path, [{
            "name": name, "title": "Counting site", "language": "en", "feeds": [f"{self.base_url}/feed.rss"],
            "sitemaps": [f"{self.base_url}/sitemap.xml"], "article_pattern": r"/news/\d+/[^/]+\.html$",
            "lookback_days": 0}])
