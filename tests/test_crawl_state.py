"""The crawl's state components as plain objects (crawler/state.py, recorder.py, plan.py,
context.py), the page reference columns they write, and the fetched-page input of the extraction
stage. End to end they are exercised by every crawl test; here each promise is pinned alone."""
from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from crawler.context import CrawlContext
from crawler.paths import MissingSetting, setting_path, warc_dir
from crawler.plan import CrawlPlan
from crawler.recorder import MAX_ROWS_PER_KIND, CrawlRecorder
from crawler.state import Frontier, SourceStatsBook
from pipeline import store
from pipeline.archive import PageArchive
from pipeline.process import page_input, process_page
from pipeline.records import FetchedPage, PageRef
from pipeline.urls import url_key

from conftest import article, stages, verdict

STORED = "news.test/society/1/story-1.html"


# ---------------------------------------------------------------- Frontier

def test_frontier_sees_what_the_store_knows_and_what_the_run_learnt():
    frontier = Frontier(lambda key: key == STORED)
    assert frontier.seen(STORED)
    assert not frontier.seen("news.test/2")
    frontier.mark_seen("news.test/2")
    assert frontier.seen("news.test/2")
    assert not Frontier(lambda key: False).seen("news.test/2")  # learnt by one crawl only


def test_frontier_queues_a_key_once():
    frontier = Frontier(lambda key: False)
    assert not frontier.is_queued("news.test/3")
    assert frontier.queue("news.test/3") is True
    assert frontier.is_queued("news.test/3")
    assert frontier.queue("news.test/3") is False  # the second discoverer does not request it
    assert not frontier.seen("news.test/3")  # queued is not known: a failed fetch is retried next run


def test_frontier_hands_pending_aliases_out_once():
    frontier = Frontier(lambda key: False)
    frontier.queue("news.test/4")
    frontier.add_alias("news.test/4", "https://news.test/old-4")
    frontier.add_alias("news.test/4", "https://news.test/older-4")
    assert frontier.take_aliases("news.test/4") == ("https://news.test/old-4", "https://news.test/older-4")
    assert frontier.take_aliases("news.test/4") == ()
    assert frontier.take_aliases("news.test/never") == ()


# ---------------------------------------------------------------- SourceStatsBook

def test_stats_book_counts_per_source_and_ignores_strangers():
    book = SourceStatsBook(["vns", "bcp"])
    book.bump("vns", "requests")
    book.bump("vns", "requests", 2)
    book.error("bcp", "http")
    book.bump(None, "requests")       # robots.txt: no source
    book.bump("other", "requests")    # not in this crawl
    book.error("other", "dns")
    assert book.count("vns", "requests") == 3
    assert book.count("bcp", "errors") == 1 and book.of("bcp").error_counts == {"http": 1}
    assert book.count("other", "requests") == 0 and book.of("other") is None
    assert [name for name, _ in book.items()] == ["vns", "bcp"]
    assert book.of("vns").as_row()["requests"] == 3


# ---------------------------------------------------------------- CrawlRecorder

@pytest.fixture
def recorder(tmp_path):
    return CrawlRecorder.open(tmp_path / "t.db", ["vns"], SourceStatsBook(["vns"]))


def test_recorder_starts_and_finishes_its_run(recorder):
    recorder.stats.bump("vns", "requests", 5)
    assert recorder.run_label == f"run-{recorder.run_id}"
    recorder.finish("finished")
    (status,) = recorder.db.execute("SELECT status FROM crawl_runs WHERE id = ?", [recorder.run_id]).fetchone()
    assert status == "finished"
    assert [(r["source"], r["requests"]) for r in store.run_stats(recorder.db, recorder.run_id)] == [("vns", 5)]


def test_recorder_leaves_a_run_it_did_not_start_running(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    run_id = store.start_run(db, ["vns"])
    recorder = CrawlRecorder.open(tmp_path / "t.db", ["vns"], SourceStatsBook(["vns"]), run_id=run_id)
    assert recorder.run_id == run_id and not recorder.owns_run
    recorder.finish("finished")
    assert db.execute("SELECT status FROM crawl_runs WHERE id = ?", [run_id]).fetchone()[0] == "running"
    assert db.execute("SELECT count(*) FROM crawl_runs").fetchone()[0] == 1


def test_recorder_counts_every_error_and_lists_bounded_kinds_up_to_the_bound(recorder):
    for n in range(MAX_ROWS_PER_KIND + 5):
        recorder.record_error("vns", f"https://elsewhere.test/{n}", "offsite", "not a host of vns")
    recorder.record_error("vns", "https://vns.test/a", "http", "HTTP 500")
    assert recorder.stats.count("vns", "errors") == MAX_ROWS_PER_KIND + 6
    assert len(store.run_errors(recorder.db, recorder.run_id)) == MAX_ROWS_PER_KIND + 1
    recorder.finish("finished")
    last = store.run_errors(recorder.db, recorder.run_id)[-1]
    assert last["kind"] == "offsite" and last["detail"].startswith("5 more offsite refusals")


def test_recorder_stores_an_article_with_its_page_reference(recorder):
    result = {"classification": verdict(True), "enrichment": {"places": [], "gist": None}}
    ref = PageRef("2026-11/run-1-vns.warc.gz", 1234)
    article_id = recorder.store_article(dict(article(1), fetched_at="2026-11-01T08:00:00+00:00"),
                                        ("https://news.test/s/1",), result, page_ref=ref)
    row = recorder.db["articles"].get(article_id)
    assert (row["warc_file"], row["warc_offset"]) == (ref.file, ref.offset)
    assert recorder.is_stored(url_key("https://news.test/s/1")) and recorder.is_stored(STORED)
    assert recorder.db.execute("SELECT flagged FROM classifications WHERE article_id = ?",
                               [article_id]).fetchone()[0] == 1


def test_recorder_settles_a_page_with_or_without_its_record(recorder):
    recorder.settle("https://news.test/old.html", "vns", "older than window: 2019-01-01",
                    page_ref=PageRef("2026-11/run-1-vns.warc.gz", 99))
    recorder.settle("https://news.test/gone.html", "vns", "HTTP 404")
    rows = {r["url"]: (r["warc_file"], r["warc_offset"]) for r in recorder.db.query("SELECT * FROM settled_urls")}
    assert rows == {"news.test/old.html": ("2026-11/run-1-vns.warc.gz", 99), "news.test/gone.html": (None, None)}
    assert recorder.is_stored("news.test/old.html")


def test_recorder_keeps_and_forgets_index_validators(recorder):
    recorder.remember_validator("https://vns.test/feed.rss", "vns", '"abc"', None)
    assert recorder.validators() == {"https://vns.test/feed.rss": {"etag": '"abc"', "last_modified": None}}
    recorder.forget_validators("vns")
    assert recorder.validators() == {}


# ---------------------------------------------------------------- the schema

def test_version_8_database_gains_the_page_reference_columns(tmp_path):
    db = store.open_db(tmp_path / "old.db")
    store.save_article(db, article(1))
    with db.conn:  # back to version 8: no page references
        for table in ("articles", "settled_urls"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN warc_file")
            db.execute(f"ALTER TABLE {table} DROP COLUMN warc_offset")
        db.execute("PRAGMA user_version = 8")
    db = store.open_db(tmp_path / "old.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 10
    for table in ("articles", "settled_urls"):
        assert {"warc_file", "warc_offset"} <= set(db[table].columns_dict)
    assert [(r["url"], r["warc_file"]) for r in db.query("SELECT url, warc_file FROM articles")] == [
        (article(1)["url"], None)]


def test_a_new_fetch_moves_the_reference_an_old_save_keeps_it(db):
    first = store.save_article(db, article(1), page_ref=PageRef("a.warc.gz", 0))
    store.save_article(db, article(1))  # the seed import, say: no page
    assert tuple(db.execute("SELECT warc_file, warc_offset FROM articles WHERE id = ?", [first]).fetchone()) == (
        "a.warc.gz", 0)
    store.save_article(db, article(1), page_ref=PageRef("b.warc.gz", 700))
    assert tuple(db.execute("SELECT warc_file, warc_offset FROM articles WHERE id = ?", [first]).fetchone()) == (
        "b.warc.gz", 700)


# ---------------------------------------------------------------- the plan and settings

def sources_file(tmp_path):
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "vns"\ntitle = "VNS"\nlanguage = "en"\nfeeds = ["https://vns.test/rss"]\n'
                    'article_pattern = "/a/"\nlookback_days = 3\n\n'
                    '[[source]]\nname = "bcp"\ntitle = "BCP"\nlanguage = "vi"\nfeeds = ["https://bcp.test/rss"]\n'
                    'article_pattern = "/b/"\nlookback_days = 0\n', encoding="utf-8")
    return path


def test_plan_windows_per_source(tmp_path):
    settings = Settings({"TIPWATCH_SOURCES": str(sources_file(tmp_path))})
    plan = CrawlPlan.from_settings(settings)
    now = datetime.now(UTC)
    assert plan.is_old("vns", now - timedelta(days=4)) and not plan.is_old("vns", now - timedelta(days=2))
    assert not plan.is_old("vns", None)  # an undated page is not too old
    assert not plan.is_old("bcp", datetime(1999, 1, 1, tzinfo=UTC))  # 0: no limit
    since = CrawlPlan.from_settings(settings, ("bcp",), since="2026-11-01")
    assert list(since.sources) == ["bcp"]
    assert since.is_old("bcp", datetime(2026, 10, 31, tzinfo=UTC))


def test_a_missing_path_setting_is_named_not_guessed(tmp_path):
    with pytest.raises(MissingSetting, match="TIPWATCH_SOURCES is not set"):
        CrawlPlan.from_settings(Settings())
    with pytest.raises(MissingSetting, match="TIPWATCH_DB is not set"):
        warc_dir(Settings())
    assert setting_path(Settings(), "TIPWATCH_SOURCES", "x.toml").name == "x.toml"  # a spider argument
    assert warc_dir(Settings({"TIPWATCH_DB": str(tmp_path / "d" / "t.db")})) == tmp_path / "d" / "warc"
    assert warc_dir(Settings({"TIPWATCH_DB": "t.db", "TIPWATCH_WARC_DIR": str(tmp_path / "w")})) == tmp_path / "w"


# ---------------------------------------------------------------- the context

def test_context_is_found_through_the_crawler_and_only_there(tmp_path):
    crawler = get_crawler(Spider, {"TIPWATCH_SOURCES": str(sources_file(tmp_path)),
                                   "TIPWATCH_DB": str(tmp_path / "t.db")})
    assert CrawlContext.find(crawler) is None
    with pytest.raises(NotConfigured):  # a component switched off, not a crash, without the news spider
        CrawlContext.of(crawler)
    context = CrawlContext.open(crawler, CrawlPlan.from_settings(crawler.settings))
    assert CrawlContext.of(crawler) is context
    assert CrawlContext.find(get_crawler(Spider)) is None  # one context per crawl
    assert context.frontier.seen(STORED) is False
    store.save_article(context.recorder.db, article(1))
    assert context.frontier.seen(STORED)  # the frontier asks the recorder's database


# ---------------------------------------------------------------- the extraction stage's input

PAGE_HTML = ("<html><head><meta charset='windows-1258'><title>Port opens</title></head><body><article>"
             "<h1>Port opens new container terminal</h1>"
             + "".join(f"<p>Paragraph {n}: the port authority opened terminal number {n} on the river delta, "
                       f"and {n * 40} ships can now load there at the same time.</p>" for n in range(1, 9))
             + "</article></body></html>")


def fetched(**changes) -> FetchedPage:
    page = FetchedPage(source="vns", requested_url="https://vns.test/a/1?utm_source=x",
                       url="https://VNS.test/a/1?utm_source=x", status=200,
                       headers=(("Content-Type", "text/html; charset=windows-1258"),),
                       body=PAGE_HTML.encode("cp1258"), fetched_at="2026-11-20T08:00:00+00:00")
    return FetchedPage(**{**page.__dict__, **changes})


def test_page_input_is_what_the_crawl_hands_the_workers():
    page = page_input(fetched(), "en", "Asia/Ho_Chi_Minh")
    # the address as fetched, host lower-cased (parameters stay: pipeline.urls.normalize)
    assert page == {"url": "https://vns.test/a/1?utm_source=x", "body": fetched().body, "encoding": "windows-1258",
                    "language": "en", "timezone": "Asia/Ho_Chi_Minh", "fetched_at": "2026-11-20T08:00:00+00:00"}


def test_process_page_reads_a_fetched_page_as_the_dict_made_of_it(tmp_path):
    reading = stages(min_chars=100)
    direct = process_page(fetched(), reading, language="en", timezone="Asia/Ho_Chi_Minh")
    assert direct["ok"], direct
    assert direct == process_page(page_input(fetched(), "en", "Asia/Ho_Chi_Minh"), reading)
    assert direct["article"]["title"] == "Port opens new container terminal"


def test_a_page_read_back_from_the_archive_gives_the_same_article(tmp_path):
    """The crawl's FetchedPage and the one its WARC record gives back are one page to extraction."""
    archive = PageArchive(tmp_path / "warc")
    ref = archive.write(fetched(), "run-1")
    archive.close()
    again = archive.read(ref)
    assert (again.url, again.status, again.body, again.declared_encoding) == (
        fetched().url, 200, fetched().body, "windows-1258")
    reading = stages(min_chars=100)
    assert process_page(again, reading, language="en") == process_page(fetched(), reading, language="en")


def test_dates_are_judged_against_the_time_the_page_was_fetched():
    """A page re-read from its record months later reads as it did in the crawl: a date past its
    fetch time is no publication date, whatever today's clock says."""
    meta = "<meta property='article:published_time' content='{}'>"
    page = fetched(body=PAGE_HTML.replace("<title>", meta.format("2026-11-25T08:00:00+07:00") + "<title>")
                   .encode("cp1258"))
    later = process_page(page, stages(min_chars=100), language="en")
    assert later["ok"] and later["article"]["published"] != "2026-11-25T08:00:00+07:00", later["article"]
    at_fetch = fetched(body=page.body, fetched_at="2026-11-26T08:00:00+00:00")
    assert process_page(at_fetch, stages(min_chars=100), language="en")["article"]["published"].startswith("2026-11-25")


def test_version_9_database_gains_the_reprocess_versions_table(tmp_path):
    db = store.open_db(tmp_path / "old.db")
    store.save_article(db, article(1))
    with db.conn:  # back to version 9: no article_processing
        db.execute("DROP TABLE article_processing")
        db.execute("PRAGMA user_version = 9")
    db = store.open_db(tmp_path / "old.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 10
    assert set(db["article_processing"].columns_dict) == {"article_id", "processed_with", "processed_at"}
    store.make_query_only(db.conn)  # reading what reprocess would select writes nothing
    assert [row["url"] for row in store.articles_to_reprocess(db, skip_version="v1")] == [article(1)["url"]]
