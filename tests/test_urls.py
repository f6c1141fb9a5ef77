"""The URL a crawl requests and stores, and the key that deduplicates (pipeline.urls), as pure
functions; then a real crawl of a loopback site that answers only the exact addresses its
sitemap lists, as many older CMSes do (an article id in a parameter, a query that is a path)."""
import sqlite_utils

from pipeline.urls import normalize, url_key
from tipwatch.samplesites import LoopbackHTTPServer, QuietHandler, ServedInThread, write_loopback_sources

from conftest import tipwatch


def test_parameters_that_name_the_article_are_kept_in_order():
    url = "http://www.example.com/servlet/Satellite?c=JPArticle&cid=1196847353521&pagename=JPost%2FShowFull"
    assert normalize(url) == url
    assert normalize("http://example.org/index.php?/site/article/4255/") == "http://example.org/index.php?/site/article/4255/"
    assert normalize("http://example.net/news/tm_headline=a-b&method=full") == "http://example.net/news/tm_headline=a-b&method=full"
    assert normalize("http://example.net/a//b.html?z=1&a=2") == "http://example.net/a//b.html?z=1&a=2"


def test_fragment_port_and_host_case_go_tracking_parameters_leave_only_the_key():
    listed = "HTTPS://News.Example.VN:443/a.html?utm_source=x&id=7&fbclid=y#comments"
    assert normalize(listed) == "https://news.example.vn/a.html?utm_source=x&id=7&fbclid=y"
    assert url_key(listed) == "news.example.vn/a.html?id=7"
    assert normalize("http://example.vn:8080/a.html") == "http://example.vn:8080/a.html"
    assert normalize("http://example.vn") == "http://example.vn/"


def test_one_key_for_twins_and_distinct_keys_for_distinct_articles():
    twins = ["https://www.example.vn/tin/a.html?b=2&a=1", "http://example.vn/tin/a.html/?a=1&b=2&utm_medium=rss",
             "http://EXAMPLE.vn/tin/%61.html?a=1&b=2"]
    assert len({url_key(u) for u in twins}) == 1
    ids = ["http://example.com/Satellite?cid=101", "http://example.com/Satellite?cid=102",
           "http://example.com/index.php?/site/article/1/", "http://example.com/index.php?/site/article/2/"]
    assert len({url_key(u) for u in ids}) == 4
    assert url_key("seed:corpus/1") == "seed:corpus/1"
    assert url_key("http://127.0.0.1:PORT/x") == "http://127.0.0.1:PORT/x"   # unparseable: its own key


ARTICLES = {
    "/servlet/Satellite?c=Article&cid=101": "Border guards free workers held on fishing boats",
    "/servlet/Satellite?c=Article&cid=102": "Court jails recruiters who sold jobs that did not exist",
    "/index.php?/site/article/4255/": "Shelter opens for women returned from abroad",
}


def _article(title: str) -> bytes:
    body = "".join(f"<p>{title}: paragraph {n} says what the officials told reporters on the day, and what "
                   f"{n * 7} families asked of the province.</p>" for n in range(1, 7))
    return (f'<html><head><meta charset="utf-8"><title>{title}</title><meta property="article:published_time" '
            f'content="2026-11-2{len(title) % 9}T08:00:00+07:00"></head><body><article><h1>{title}</h1>{body}'
            "</article></body></html>").encode()


class StrictSite(ServedInThread):
    """Answers only the exact request targets it has (path and query as written), else 404."""

    def __init__(self):
        self.server = LoopbackHTTPServer(("127.0.0.1", 0), _StrictHandler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        urls = "".join(f"<url><loc>{self.base_url}{path.replace('&', '&amp;')}</loc></url>" for path in ARTICLES)
        self.server.documents = {
            "/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain"),
            "/sitemap.xml": (f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{urls}</urlset>".encode(), "application/xml"),
            **{path: (_article(title), "text/html; charset=utf-8") for path, title in ARTICLES.items()}}
        self.server.requested = []


class _StrictHandler(QuietHandler):
    def do_GET(self):
        self.server.requested.append(self.path)
        body, kind = self.server.documents.get(self.path, (b"not found", "text/plain"))
        self.send_response(200 if self.path in self.server.documents else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_crawl_requests_and_stores_the_addresses_the_sitemap_lists(tmp_path):
    with StrictSite() as site:
        write_loopback_sources(tmp_path / "sources.toml", [{
            "name": "legacy", "title": "A site of query-string articles", "language": "en",
            "sitemaps": [f"{site.base_url}/sitemap.xml"],
            "article_pattern": r"(?:Satellite\?|index\.php\?/site/article/)"}])
        tipwatch("crawl", "--db", tmp_path / "t.db", "--sources", tmp_path / "sources.toml", "--lookback-days", "0",
                 "--log-file", tmp_path / "crawl.log", "--quiet", "-s", "AUTOTHROTTLE_START_DELAY=0",
                 "-s", "DOWNLOAD_TIMEOUT=10", "-s", "RETRY_TIMES=0", timeout=120)
        requested = list(site.server.requested)
    stored = {row["url"]: row["title"] for row in sqlite_utils.Database(tmp_path / "t.db").query(
        "SELECT url, title FROM articles")}
    assert stored == {f"{site.base_url}{path}": title for path, title in ARTICLES.items()}
    assert sorted(p for p in requested if p in ARTICLES) == sorted(ARTICLES)   # each once, as listed
