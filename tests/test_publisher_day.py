"""Publication dates as the publisher's local day (pipeline.extract.publisher_time, pipeline.extract.dates).

Small hand-made pages: a UTC stamp converted to the zone the page itself uses elsewhere, the
source's `timezone`, or the domain's country; a stamp with its own offset kept as written; the
window check and the stored row keep the offset; byline dates in several languages.
"""
from __future__ import annotations

from datetime import UTC, datetime, timezone

import pytest

from crawler.pipelines import _published
from pipeline import store
from pipeline.extract.article import ExtractOptions, extract_article
from pipeline.extract.publisher_time import domain_zone, page_offset
from pipeline.sources import SourcesError, parse_sources

NOW = datetime(2025, 8, 1, 12, 0, 0)
BODY = " ".join(["Authorities in the province said the victims had been lured abroad with offers of jobs."] * 5)


def _page(head: str = "", byline: str = "", title: str = "Victims rescued") -> str:
    return (f"<html><head>{head}<title>{title}</title></head><body><h1>{title}</h1>{byline}"
            f"<article><p>{BODY}</p><p>{BODY}</p></article></body></html>")


def _published_of(html: str, url: str = "http://127.0.0.1:8000/news/a.html", zone: str | None = None):
    r = extract_article(html, url, options=ExtractOptions(now=NOW, timezone=zone))
    return r["published"], r["date_source"]


HANOI_6AM_AS_UTC = '<meta property="article:published_time" content="2025-07-27T23:00:00Z">'


def test_utc_stamp_becomes_the_sources_local_day():
    # published at 06:00 in Hà Nội, written as 23:00Z of the day before
    assert _published_of(_page(HANOI_6AM_AS_UTC), zone="Asia/Ho_Chi_Minh") == ("2025-07-28T06:00:00+07:00", "meta")


def test_utc_stamp_stays_utc_without_any_zone():
    assert _published_of(_page(HANOI_6AM_AS_UTC)) == ("2025-07-27T23:00:00+00:00", "meta")


def test_utc_stamp_takes_the_offset_the_page_uses_elsewhere():
    head = HANOI_6AM_AS_UTC + '<meta property="article:modified_time" content="2025-07-28T09:30:00+02:00">'
    # the page's own offset beats the source's zone
    assert _published_of(_page(head), zone="Asia/Ho_Chi_Minh")[0] == "2025-07-28T01:00:00+02:00"


def test_utc_stamp_on_a_country_domain_takes_that_countrys_zone():
    head = '<meta property="article:published_time" content="2022-05-04T00:53:29.274Z">'
    assert _published_of(_page(head), url="https://www.example.com.ar/nota-1/")[0] == "2022-05-03T21:53:29-03:00"
    assert domain_zone("https://news.example.vn/a") == "Asia/Ho_Chi_Minh"
    assert domain_zone("https://example.tv/a") is None          # a generic name, not Tuvalu's press
    assert domain_zone("http://127.0.0.1:8000/a") is None


def test_page_served_from_a_bare_address_is_dated_by_the_url_it_declares():
    # a mirror, a cache or a loopback copy: the page's canonical URL still names its publisher
    # (an Italian domain: 23:01Z is past midnight in Rome) and its /YYYY/MM/DD/ path
    canonical = '<link rel="canonical" href="https://www.example.it/2023/11/02/news/a-1/">'
    head = canonical + '<meta property="article:published_time" content="2023-11-01T23:01:00Z">'
    assert _published_of(_page(head))[0] == "2023-11-02T00:01:00+01:00"
    assert _published_of(_page(canonical)) == ("2023-11-02", "url-path")
    # the fetched address's own date comes first; a country it does not have is taken from the declared one
    assert _published_of(_page(canonical), url="http://127.0.0.1:8000/2023/10/30/a.html")[0] == "2023-10-30"
    og_url = '<meta property="og:url" content="https://noticias.example.com.ar/nota-1/">'
    head = og_url + '<meta property="article:published_time" content="2022-05-04T00:53:29Z">'
    assert _published_of(_page(head))[0] == "2022-05-03T21:53:29-03:00"


def test_a_meta_date_written_in_value_instead_of_content_is_read():
    head = '<meta name="pub_date" value="2017-01-13T21:45:08+00:00"><meta name="robots" value="index, follow">'
    assert _published_of(_page(head)) == ("2017-01-13T21:45:08+00:00", "meta")


def test_a_z_on_the_local_time_the_page_shows_is_not_converted():
    # the CMS wrote its local 20:00 with a Z; the page shows the same wall clock at +09:00
    head = '<meta property="article:published_time" content="2019-04-19T20:00:00.000Z">'
    byline = '<p><time datetime="2019-04-19T20:00:00+09:00">2019.04.19 20:00</time></p>'
    assert _published_of(_page(head, byline=byline))[0] == "2019-04-19T20:00:00+09:00"
    # a page that shows the same instant in its own zone keeps the conversion
    shown = '<p><time datetime="2019-04-20T05:00:00+09:00">2019.04.20 05:00</time></p>'
    assert _published_of(_page(head, byline=shown))[0] == "2019-04-20T05:00:00+09:00"


def test_a_stamp_with_its_own_offset_is_kept_as_written():
    head = '<meta property="article:published_time" content="2025-07-28T01:00:00-05:00">'
    assert _published_of(_page(head), zone="Asia/Ho_Chi_Minh")[0] == "2025-07-28T01:00:00-05:00"


def test_wall_clock_time_gets_the_sources_offset_and_keeps_its_day():
    byline = "<p>Published: 28/07/2025 00:30</p>"
    assert _published_of(_page(byline=byline), zone="Asia/Ho_Chi_Minh")[0] == "2025-07-28T00:30:00+07:00"
    assert _published_of(_page(byline=byline))[0] == "2025-07-28T00:30:00"   # no zone known: none invented


def test_rfc2822_gmt_stamp_in_jsonld_is_converted():
    head = ('<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": '
            '"Wed, 04 May 2022 02:41:00 GMT"}</script>')
    assert _published_of(_page(head), zone="America/La_Paz") == ("2022-05-03T22:41:00-04:00", "json-ld")


def test_page_offset_ignores_utc_and_takes_the_most_common():
    assert page_offset('"2020-12-24T23:59:50+00:00" "2020-12-25T01:59:50+02:00" "2020-12-25T02:00:00+0200"') \
        == timezone(datetime(2020, 1, 1, 2) - datetime(2020, 1, 1))
    assert page_offset("2020-12-24T23:59:50Z") is None


def test_teaser_times_naming_several_days_are_not_the_articles_date():
    teasers = "".join(f'<li><time pubdate datetime="2019-09-{d}T07:30:29Z">x</time></li>' for d in (19, 20, 22))
    html = _page(byline="<p>Published: 28/06/2019</p>").replace("</article>", f"</article><ul>{teasers}</ul>")
    assert _published_of(html) == ("2019-06-28", "text-published")


def test_original_date_wins_when_tags_and_jsonld_disagree():
    head = ('<meta property="article:published_time" content="2019-12-12T21:17:43Z">'
            '<script type="application/ld+json">{"@type": "Article", "datePublished": "2019-12-09T22:25:10Z"}</script>')
    assert _published_of(_page(head)) == ("2019-12-09T22:25:10+00:00", "json-ld")


@pytest.mark.parametrize("byline,expected", [
    ("<p>Par Loïc Le Clerc</p><p>30 septembre 2018</p>", "2018-09-30"),
    ("<p>3 de mayo de 2022, 21:10</p>", "2022-05-03T21:10:00"),
    ("<p>2019年04月21日 12時00分更新</p>", "2019-04-21T12:00:00"),
    ("<p>2019.04.19 20:00</p>", "2019-04-19T20:00:00"),
    ("<p>Mis à jour le</p><p>7 janvier 2020</p><p>par Jeanne Roe</p><p>21 déc. 2016</p>", "2016-12-21"),
    ("<p>BroadwayWorld</p><p>Oct. 13, 2016</p>", "2016-10-13"),
])
def test_byline_dates_below_the_headline(byline, expected):
    assert _published_of(_page(byline=byline)) == (expected, "text-byline")


def test_byline_date_of_another_month_than_the_urls_is_not_taken():
    html = _page(byline="<p>Erscheinungsdatum: 14.08.2017</p>")
    assert _published_of(html, url="http://127.0.0.1:8000/2017/09/rezi.html")[1] != "text-byline"


def test_window_check_compares_instants():
    # 23:00Z the day before and 06:00 in Hà Nội are the same moment
    assert _published({"published": "2025-07-28T06:00:00+07:00"}) == datetime(2025, 7, 27, 23, 0, tzinfo=UTC)
    assert _published({"published": "2025-07-28T06:00:00"}).tzinfo is UTC


def test_stored_row_keeps_offset_and_date_source(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    html = _page(HANOI_6AM_AS_UTC)
    article = extract_article(html, "http://127.0.0.1:8000/a.html",
                              options=ExtractOptions(now=NOW, timezone="Asia/Ho_Chi_Minh"))
    store.save_article(db, dict(article, url="http://127.0.0.1:8000/a.html", source="s",
                                fetched_at="2025-07-28T00:00:00+00:00"))
    row = next(db.query("SELECT published, date_source, substr(published, 1, 10) AS day FROM articles"))
    assert row == {"published": "2025-07-28T06:00:00+07:00", "date_source": "meta", "day": "2025-07-28"}


SOURCE = """
[[source]]
name = "vnx"
title = "X"
language = "vi"
feeds = ["https://example.vn/rss"]
article_pattern = "/a/"
"""


def test_sources_timezone_key():
    assert parse_sources(SOURCE + 'timezone = "Asia/Ho_Chi_Minh"\n')[0].timezone == "Asia/Ho_Chi_Minh"
    assert parse_sources(SOURCE)[0].timezone is None
    for bad in ('"+07:00"', '"ICT"', '"Asia"', '""', "7"):
        with pytest.raises(SourcesError, match=r"source 'vnx' \(entry 1\): key 'timezone'"):
            parse_sources(SOURCE + f"timezone = {bad}\n")
