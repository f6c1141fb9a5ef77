"""crawler.middlewares on real Scrapy requests and responses: MetaRefreshMiddleware redirects
exactly where Scrapy's own middleware does, and leaves other pages undecoded; RedirectAliasMiddleware
turns a redirect to an article stored or queued into one more URL of it."""
import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as ScrapyMetaRefreshMiddleware
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.context import CrawlContext
from crawler.middlewares import DuplicateRedirect, MetaRefreshMiddleware, RedirectAliasMiddleware
from crawler.plan import CrawlPlan
from pipeline import store
from pipeline.urls import url_key

from conftest import article

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


# ---------------------------------------------------------------- RedirectAliasMiddleware

STORED = "https://news.test/society/1/story-1.html"


@pytest.fixture
def alias_middleware(tmp_path):
    """The middleware over a real crawl context (frontier and recorder over a real database)."""
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "news"\ntitle = "News"\nlanguage = "en"\n'
                       'feeds = ["https://news.test/rss"]\narticle_pattern = "/society/"\n', encoding="utf-8")
    crawler = get_crawler(Spider, {"TIPWATCH_SOURCES": str(sources), "TIPWATCH_DB": str(tmp_path / "t.db")})
    context = CrawlContext.open(crawler, CrawlPlan.from_settings(crawler.settings))
    store.save_article(context.recorder.db, article(1))
    return RedirectAliasMiddleware.from_crawler(crawler), context


def redirect(url: str, to: str, role: str = "article"):
    request = Request(url, meta={"source": "news", "role": role})
    return request, Response(url, status=301, headers={"Location": to}, request=request)


def test_a_redirect_to_a_stored_article_becomes_its_alias(alias_middleware):
    middleware, context = alias_middleware
    with pytest.raises(DuplicateRedirect):
        middleware.process_response(*redirect("https://news.test/s/1", STORED))
    assert store.article_id_for_url(context.recorder.db, "https://news.test/s/1") is not None
    assert context.frontier.seen(url_key("https://news.test/s/1"))


def test_a_redirect_to_a_queued_article_waits_as_its_alias(alias_middleware):
    middleware, context = alias_middleware
    context.frontier.queue(url_key("https://news.test/society/2/story-2.html"))
    with pytest.raises(DuplicateRedirect):
        middleware.process_response(*redirect("https://news.test/s/2", "https://news.test/society/2/story-2.html"))
    assert context.frontier.take_aliases(url_key("https://news.test/society/2/story-2.html")) == (
        "https://news.test/s/2",)


def test_a_redirect_to_a_new_article_is_followed_and_queued(alias_middleware):
    middleware, context = alias_middleware
    request, response = redirect("https://news.test/s/3", "https://news.test/society/3/story-3.html")
    assert middleware.process_response(request, response) is response
    assert context.frontier.is_queued(url_key("https://news.test/society/3/story-3.html"))
    index_request, index_response = redirect("https://news.test/rss", STORED, role="index")
    assert middleware.process_response(index_request, index_response) is index_response  # articles only


def test_without_a_crawl_context_the_middleware_is_off():
    with pytest.raises(NotConfigured):
        RedirectAliasMiddleware.from_crawler(get_crawler(Spider))
