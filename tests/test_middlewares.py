"""crawler.middlewares.MetaRefreshMiddleware on real Scrapy requests and responses: it redirects
exactly where Scrapy's own middleware does, and leaves other pages undecoded."""
import pytest
from scrapy import Request, Spider
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware

from crawler.middlewares import MetaRefreshMiddleware

URL = "https://news.test/society/1/old-address.html"
TARGET = "https://news.test/society/1/new-address.html"


def build(cls):
    crawler = get_crawler(Spider, {"METAREFRESH_MAXDELAY": 100})
    crawler.spider = Spider("news")
    return cls.from_crawler(crawler)


@pytest.fixture
def middleware():
    return build(MetaRefreshMiddleware)


def page(head: str, body: str = "<p>Story.</p>", encoding: str = "utf-8") -> HtmlResponse:
    html = f"<html><head><meta charset='{encoding}'>{head}</head><body>{body}</body></html>"
    return HtmlResponse(URL, body=html.encode(encoding), headers={"Content-Type": "text/html"},
                        request=Request(URL))


def redirected_to(middleware, response) -> str | None:
    result = middleware.process_response(response.request, response)
    return result.url if isinstance(result, Request) else None


@pytest.mark.parametrize("tag", [
    f'<meta http-equiv="refresh" content="0; url={TARGET}">',
    f"<META HTTP-EQUIV='Refresh' CONTENT='0;URL={TARGET}'>",
    '<meta http-equiv="refresh" content="0; url=/society/1/new-address.html">',
])
def test_refresh_tag_redirects(middleware, tag):
    assert redirected_to(middleware, page(tag)) == TARGET


def test_refresh_in_a_wide_encoding_is_still_found(middleware):
    response = page(f'<meta http-equiv="refresh" content="0; url={TARGET}">', encoding="utf-16")
    assert redirected_to(middleware, response) == TARGET


def test_a_page_reloading_itself_is_not_a_redirect(middleware):
    response = page('<meta http-equiv="refresh" content="600">')  # Vietnamese news sites do this
    assert middleware.process_response(response.request, response) is response


def test_page_without_refresh_is_returned_undecoded(middleware):
    response = page("<title>Tin tức</title>", body="<p>Người dân " + "x" * 50_000 + "</p>")
    assert middleware.process_response(response.request, response) is response
    assert response._cached_ubody is None  # Scrapy's middleware would have decoded the whole page


PAGES = [
    ("<title>x</title>", "utf-8"),
    (f'<meta http-equiv="refresh" content="0; url={TARGET}">', "utf-8"),
    (f'<meta http-equiv="refresh" content="5;url={TARGET}">', "windows-1258"),
    (f"<script>document.write('<meta http-equiv=\\'refresh\\' content=\\'0; url={TARGET}\\'>')</script>", "utf-8"),
    (f'<noscript><meta http-equiv="refresh" content="0; url={TARGET}"></noscript>', "utf-8"),
    ('<meta http-equiv="refresh" content="600">', "utf-16"),
    (f'<meta http-equiv="refresh" content="0; url={TARGET}">', "utf-32"),
]


@pytest.mark.parametrize("head,encoding", PAGES)
def test_same_decision_as_scrapys_own_middleware(middleware, head, encoding):
    scrapys = build(ScrapyMetaRefreshMiddleware)
    assert redirected_to(middleware, page(head, encoding=encoding)) == \
        redirected_to(scrapys, page(head, encoding=encoding))
