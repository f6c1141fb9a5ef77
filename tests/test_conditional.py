"""Index pages are fetched conditionally: an unchanged feed costs a 304 on the next run,
a changed one is read again, and a feed that could not be parsed is never made conditional."""
import sqlite_utils

from pipeline import store
from tipwatch.samplesites import SampleSites, write_sources

from conftest import tipwatch

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=10",
        "-s", "RETRY_TIMES=0"]

STORIES = [
    ("Port authority opens new container terminal",
     "The port authority opened a new container terminal on the river delta on Monday, doubling the "
     "number of ships the harbour can load at the same time."),
    ("City council approves budget for school repairs",
     "The city council approved a budget for repairing forty primary schools before the rainy season, "
     "after parents complained about leaking roofs and broken windows."),
    ("Farmers expect record rice harvest this autumn",
     "Farmers in the northern provinces expect a record rice harvest this autumn, helped by mild weather "
     "and new seed varieties distributed by the agriculture ministry."),
]
FILLER = ("Officials said the work had been planned for several years and was finished on schedule. "
          "Local residents told reporters that they welcomed the change but hoped that prices would stay "
          "stable over the coming months. The provincial government will publish a full report on the "
          "project early next year, including its costs and the number of jobs it created. Business groups "
          "said the decision would help small companies that depend on reliable transport and public "
          "services. Several experts cautioned that maintenance must be funded properly so that the new "
          "facilities remain in good condition for decades. The ministry promised regular inspections and "
          "said it would consult communities before any further changes are made to the plan. ")

SOURCES = """allow_addresses = ["127.0.0.1"]
[[source]]
name = "mini"
title = "Mini sample site"
language = "en"
feeds = [{feeds}]
article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'
"""


def write_article(site, n: int) -> None:
    title, lead = STORIES[n - 1]
    page = site / "news" / str(n) / f"story-{n}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="2026-11-2{n}T08:00:00+07:00"></head>
<body><article><h1>{title}</h1>
<p>{lead}</p>
<p>{FILLER}</p>
<p>{FILLER.replace("years", "months")}</p>
</article></body></html>""", encoding="utf-8")


def write_feed(site, count: int, name: str = "feed.rss") -> None:
    items = "".join(
        f"<item><title>{STORIES[n - 1][0]}</title><link>{{{{BASE}}}}/news/{n}/story-{n}.html</link>"
        f"<pubDate>Sat, 2{n} Nov 2026 08:00:00 +0700</pubDate></item>\n" for n in range(1, count + 1))
    (site / name).write_text(f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Mini</title><link>{{{{BASE}}}}/</link><description>Latest</description>
{items}</channel></rss>
""", encoding="utf-8")


def make_site(root, feeds=("feed.rss",), articles: int = 2):
    site = root / "mini"
    site.mkdir(parents=True)
    for n in range(1, articles + 1):
        write_article(site, n)
    write_feed(site, articles)
    (root / "sources.toml").write_text(
        SOURCES.format(feeds=", ".join(f'"{{{{BASE:mini}}}}/{f}"' for f in feeds)), encoding="utf-8")
    return site


def stats(db, run_id: int) -> dict:
    return next(db.query("SELECT * FROM crawl_source_stats WHERE run_id = ? AND source = 'mini'", [run_id]))


def test_unchanged_feed_costs_a_304_and_a_changed_one_is_read(tmp_path):
    site = make_site(tmp_path / "sites")
    db_path = tmp_path / "t.db"
    with SampleSites(tmp_path / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        args = ["crawl", "--db", db_path, "--sources", sources, "--since", "2020-01-01", *FAST]
        tipwatch(*args)
        db = sqlite_utils.Database(db_path)
        assert db["articles"].count == 2
        validators = store.index_validators(db)
        assert list(validators) == [sites.base_url("mini") + "/feed.rss"]
        assert validators[sites.base_url("mini") + "/feed.rss"]["etag"]
        assert sites.conditional_hits == []

        tipwatch(*args)  # nothing changed: the feed answers 304
        assert sites.conditional_hits == ["/feed.rss"]
        assert stats(db, 2)["not_modified"] == 1
        assert stats(db, 2)["articles_found"] == 0
        assert sites.request_log["/news/1/story-1.html"] == 1

        write_article(site, 3)
        write_feed(site, 3)
        tipwatch(*args)  # a new item: the feed's ETag changed, so it is read again (200)
        assert sites.conditional_hits == ["/feed.rss"]
        assert stats(db, 3)["not_modified"] == 0
        assert stats(db, 3)["status_counts"] and '"2xx": 2' in stats(db, 3)["status_counts"]
        assert db["articles"].count == 3
        titles = {r["title"] for r in db.query("SELECT title FROM articles")}
        assert "Farmers expect record rice harvest this autumn" in titles

        tipwatch(*args)  # and its new validator makes the next run conditional again
        assert sites.conditional_hits == ["/feed.rss", "/feed.rss"]
        assert stats(db, 4)["not_modified"] == 1


def test_a_malformed_feed_is_not_made_conditional(tmp_path):
    site = make_site(tmp_path / "sites", feeds=("feed.rss", "broken.rss"))
    (site / "broken.rss").write_text('<?xml version="1.0"?><rss><channel><item><title>cut off', encoding="utf-8")
    db_path = tmp_path / "t.db"
    with SampleSites(tmp_path / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        args = ["crawl", "--db", db_path, "--sources", sources, "--since", "2020-01-01", *FAST]
        tipwatch(*args)
        tipwatch(*args)
        db = sqlite_utils.Database(db_path)
        # the good feed answered 304; the broken one, answered 200 with an ETag, was read
        # in full again and failed again: its validator was never stored
        assert sites.conditional_hits == ["/feed.rss"]
        assert sites.request_log["/broken.rss"] == 2
        assert list(store.index_validators(db)) == [sites.base_url("mini") + "/feed.rss"]
        errors = [(r["run_id"], r["url"].rsplit("/", 1)[-1], r["kind"]) for r in db.query(
            "SELECT run_id, url, kind FROM crawl_errors ORDER BY id")]
        assert errors == [(1, "broken.rss", "parse"), (2, "broken.rss", "parse")]
        assert stats(db, 2)["not_modified"] == 1


def test_a_passing_article_failure_keeps_the_feed_unconditional(tmp_path):
    """A 304 would hide the feed's links until it changes, so an article that failed for a
    passing reason would never be retried: the source's validators are dropped instead."""
    site = make_site(tmp_path / "sites")
    (site / "routes.toml").write_text('["/news/2/story-2.html"]\nstatus = 503\n', encoding="utf-8")
    db_path = tmp_path / "t.db"
    with SampleSites(tmp_path / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        args = ["crawl", "--db", db_path, "--sources", sources, "--since", "2020-01-01", *FAST]
        tipwatch(*args)
        db = sqlite_utils.Database(db_path)
        assert db["articles"].count == 1 and store.index_validators(db) == {}
        sites.sites["mini"].routes = {}  # the article is back (routes are read at start)
        tipwatch(*args)  # the feed is read in full, the article retried and stored
        assert sites.conditional_hits == []
        assert sites.request_log["/news/2/story-2.html"] == 2
        assert db["articles"].count == 2
        assert list(store.index_validators(db)) == [sites.base_url("mini") + "/feed.rss"]
