import pytest

from pipeline.sources import SourcesError, load_sources, parse_sources, select_sources

from conftest import SEEDS

SHIPPED_SOURCES = SEEDS / "sources.toml"

GOOD = """
[[source]]
name = "vns"
title = "Viet Nam News"
language = "en"
feeds = ["https://vietnamnews.vn/rss/society.rss"]
article_pattern = '/\\d+/[^/]+\\.html$'
"""


def test_shipped_sources_file_is_valid():
    sources = load_sources(SHIPPED_SOURCES)
    names = [s.name for s in sources]
    assert {"vns", "bcp", "bcpen"} <= set(names)
    assert len(names) >= 6
    languages = {s.name: s.language for s in sources}
    assert languages["bcp"] == "vi" and languages["vns"] == "en" and languages["bcpen"] == "en"


def test_shipped_patterns_tell_articles_from_other_pages():
    by_name = {s.name: s for s in load_sources(SHIPPED_SOURCES)}
    assert by_name["vns"].is_article_url(
        "https://vietnamnews.vn/society/1801167/viet-nam-welcomes-17-7-million-foreign-visitors.html")
    assert not by_name["vns"].is_article_url("https://vietnamnews.vn/society")
    assert by_name["bcp"].is_article_url(
        "https://baochinhphu.vn/cam-ket-manh-me-cua-viet-nam-102250728144405775.htm")
    assert not by_name["bcp"].is_article_url("https://baochinhphu.vn/phap-luat.htm")
    assert by_name["bcpen"].is_article_url("https://en.baochinhphu.vn/some-slug-111250327100445608.htm")


def test_defaults():
    (src,) = parse_sources(GOOD)
    assert src.max_pages == 3 and src.enabled is True and src.listings == ()
    assert src.is_article_url("https://vietnamnews.vn/society/1/a.html")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace('name = "vns"\n', ""), "source '#1' (entry 1): key 'name': missing"),
    (lambda t: t.replace('language = "en"', "language = 3"), "source 'vns' (entry 1): key 'language': must be str"),
    (lambda t: t.replace("article_pattern = '/\\d+/[^/]+\\.html$'", "article_pattern = '(['"),
     "source 'vns' (entry 1): key 'article_pattern': invalid regex"),
    (lambda t: t + 'colour = "red"\n', "source 'vns' (entry 1): key 'colour': unknown key"),
    (lambda t: t + "max_pages = true\n", "source 'vns' (entry 1): key 'max_pages': must be int"),
    (lambda t: t + 'dated_urls = "yes"\n', "source 'vns' (entry 1): key 'dated_urls': must be bool"),
    (lambda t: t.replace('"https://vietnamnews.vn/rss/society.rss"', '"ftp://x"'),
     "source 'vns' (entry 1): key 'feeds': 'ftp://x': only http and https URLs are fetched (not ftp)"),
    (lambda t: t.replace('"https://vietnamnews.vn/rss/society.rss"', '"file:///etc/passwd"'),
     "source 'vns' (entry 1): key 'feeds': 'file:///etc/passwd': only http and https URLs are fetched (not file)"),
    (lambda t: t.replace('"https://vietnamnews.vn/rss/society.rss"', '"data:text/html,x"'),
     "key 'feeds': 'data:text/html,x': only http and https URLs are fetched (not data)"),
    (lambda t: t.replace('"https://vietnamnews.vn/rss/society.rss"', '"http:///rss"'),
     "key 'feeds': 'http:///rss': not an http(s) URL with a host"),
    (lambda t: t + 'allowed_hosts = ["https://cdn.example.com/"]\n',
     "source 'vns' (entry 1): key 'allowed_hosts': must be a list of host names"),
    (lambda t: 'allow_addresses = ["router.lan"]\n' + t, "allow_addresses: 'router.lan' is not an IP address"),
    (lambda t: 'allow_adresses = ["127.0.0.1"]\n' + t, "unknown top-level key 'allow_adresses'"),
    (lambda t: t + t.replace("[[source]]", "[[source]]"), "source 'vns' (entry 2): key 'name': duplicate"),
    (lambda t: t.replace('name = "vns"', 'name = "Viet Nam News"'), "key 'name': use 1-32 lowercase"),
])
def test_bad_entries_name_entry_and_key(edit, message):
    with pytest.raises(SourcesError) as info:
        parse_sources(edit(GOOD))
    assert message in str(info.value)


def test_bad_toml_and_missing_file(tmp_path):
    with pytest.raises(SourcesError, match="not valid TOML"):
        parse_sources("[[source]\nname=")
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "nope.toml")


def test_select_sources():
    sources = parse_sources(GOOD + GOOD.replace("vns", "other") + "enabled = false\n")
    assert [s.name for s in select_sources(sources)] == ["vns"]
    assert [s.name for s in select_sources(sources, ["other"])] == ["other"]
    with pytest.raises(SourcesError, match="unknown source"):
        select_sources(sources, ["nope"])


def test_dated_urls_date_links_only_when_the_source_says_so():
    from crawler.spiders.news import NewsSpider

    (plain,) = parse_sources(GOOD)
    (dated,) = parse_sources(GOOD + "dated_urls = true\n")
    url = "https://baochinhphu.vn/tiep-nhan-nan-nhan-102190520093015123.htm"
    assert NewsSpider.url_published(plain, url) is None
    assert NewsSpider.url_published(dated, url).isoformat() == "2019-05-20T09:30:15+00:00"
    dated_path = "https://vietnamnews.vn/society/2026/11/23/story.html"
    assert NewsSpider.url_published(dated, dated_path).date().isoformat() == "2026-11-23"
    assert NewsSpider.url_published(dated, "https://vietnamnews.vn/society/1801167/story.html") is None
