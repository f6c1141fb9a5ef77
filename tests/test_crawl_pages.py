"""A real crawl of a small loopback site: the pages it fetched are kept as WARC records (an
article's and a too-old page's alike), it logs its progress per source, and `scrapy crawl news`
runs it as well as `tipwatch crawl` does."""
import subprocess
import sys

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from pipeline.urls import url_key
from tipwatch.samplesites import SampleSites, write_sources

from conftest import REPO, tipwatch

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=10",
        "-s", "RETRY_TIMES=0"]
SOURCES = """allow_addresses = ["127.0.0.1"]
[[source]]
name = "mini"
title = "Mini sample site"
language = "en"
feeds = ["{{BASE:mini}}/feed.rss"]
article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'
"""
# (title, publication date in the page); the feed gives no dates, so each page is fetched
PAGES = [("Port authority opens new container terminal", "2026-11-21T08:00:00+07:00"),
         ("City council approves budget for school repairs", "2026-11-22T08:00:00+07:00"),
         ("Farmers expect record rice harvest this autumn", "2026-11-23T08:00:00+07:00"),
         ("Old bridge reopens after repairs", "2019-05-01T08:00:00+07:00")]


def paragraphs(title: str) -> str:
    return "".join(f"<p>{title}: paragraph {n} tells what officials said on day {n} of the project, and how "
                   f"{n * 12} residents answered the survey about the work done in their district.</p>"
                   for n in range(1, 9))


def make_site(root):
    site = root / "mini"
    for n, (title, published) in enumerate(PAGES, 1):
        page = site / "news" / str(n) / f"story-{n}.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}"></head>
<body><article><h1>{title}</h1>{paragraphs(title)}</article></body></html>""", encoding="utf-8")
    items = "".join(f"<item><title>{t}</title><link>{{{{BASE}}}}/news/{n}/story-{n}.html</link></item>"
                    for n, (t, _) in enumerate(PAGES, 1))
    (site / "feed.rss").write_text(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                                   f"<title>Mini</title><link>{{{{BASE}}}}/</link>{items}</channel></rss>",
                                   encoding="utf-8")
    (root / "sources.toml").write_text(SOURCES, encoding="utf-8")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pages")
    make_site(tmp / "sites")
    with SampleSites(tmp / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp / "sources.toml")
        args = ["crawl", "--db", tmp / "t.db", "--sources", sources, "--since", "2020-01-01",
                "--log-file", tmp / "crawl.log", *FAST, "-s", "TIPWATCH_PROGRESS_EVERY=1"]
        tipwatch(*args)
        bodies = {f"/news/{n}/story-{n}.html": sites.sites["mini"].body_of(
            sites.sites["mini"].file_for(f"/news/{n}/story-{n}.html", "")) for n in range(1, len(PAGES) + 1)}
        base = sites.base_url("mini")
    return {"db": sqlite_utils.Database(tmp / "t.db"), "warc": tmp / "warc", "log": tmp / "crawl.log",
            "bodies": bodies, "base": base}


def record_at(root, warc_file: str, offset: int):
    """(target URI, status, body) of the record at *offset*, read with warcio alone."""
    with open(root / warc_file, "rb") as stream:
        stream.seek(offset)
        record = next(iter(ArchiveIterator(stream)))
        return (record.rec_headers.get_header("WARC-Target-URI"), record.http_headers.get_statuscode(),
                record.content_stream().read())


def test_stored_and_too_old_pages_both_keep_their_record(crawled):
    db, base = crawled["db"], crawled["base"]
    assert db["articles"].count == 3
    for row in db.query("SELECT url, warc_file, warc_offset FROM articles"):
        path = row["url"][len(base):]
        assert record_at(crawled["warc"], row["warc_file"], row["warc_offset"]) == (
            row["url"], "200", crawled["bodies"][path])
    (old,) = db.query("SELECT url, reason, warc_file, warc_offset FROM settled_urls")
    assert old["url"] == url_key(base + "/news/4/story-4.html")
    assert old["reason"].startswith("older than window: 2019-05-01")
    assert record_at(crawled["warc"], old["warc_file"], old["warc_offset"]) == (
        base + "/news/4/story-4.html", "200", crawled["bodies"]["/news/4/story-4.html"])


def test_the_log_shows_progress_per_source(crawled):
    lines = [line.split("] INFO: ", 1)[1] for line in crawled["log"].read_text(encoding="utf-8").splitlines()
             if "[crawler.progress]" in line]
    assert [line.split(",")[0] for line in lines[:4]] == [f"mini: {n} pages fetched" for n in range(1, 5)]
    assert lines[0].endswith("3 queued")  # four articles queued, one answered
    assert lines[-1] == "mini: 4 pages fetched, 3 stored, 0 queued (crawl finished)"


def test_scrapy_crawl_news_runs_the_same_crawl(tmp_path):
    make_site(tmp_path / "sites")
    with SampleSites(tmp_path / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "news", "-a", "source=mini", "-a", "since=2020-01-01",
             "-s", f"TIPWATCH_DB={tmp_path / 't.db'}", "-s", f"TIPWATCH_SOURCES={sources}", *FAST],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    db = sqlite_utils.Database(tmp_path / "t.db")
    assert db["articles"].count == 3
    assert db.execute("SELECT status FROM crawl_runs").fetchall() == [("finished",)]
    refs = list(db.query("SELECT warc_file FROM articles"))
    # no TIPWATCH_WARC_DIR: the pages are kept beside the database given, not the default one's
    assert refs and all((tmp_path / "warc" / r["warc_file"]).is_file() for r in refs)


def test_lookback_days_of_the_command_outranks_the_sources_own(tmp_path):
    make_site(tmp_path / "sites")
    (tmp_path / "sites" / "sources.toml").write_text(SOURCES + "lookback_days = 7\n", encoding="utf-8")
    with SampleSites(tmp_path / "sites", names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        tipwatch("crawl", "--db", tmp_path / "t.db", "--sources", sources, "--lookback-days", "0",
                 "--log-file", tmp_path / "crawl.log", *FAST)
    titles = {row["title"] for row in sqlite_utils.Database(tmp_path / "t.db").query("SELECT title FROM articles")}
    assert titles == {title for title, _ in PAGES}   # the 2019 page too: 0 days is no limit
