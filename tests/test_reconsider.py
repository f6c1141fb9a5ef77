"""Pages settled as too old, reconsidered when a crawl's window is widened (pipeline/reconsider.py).
The end-to-end run through `tipwatch crawl` is in tests/test_reprocess_e2e.py."""
from datetime import UTC, datetime

import pytest

from pipeline import store
from pipeline.archive import PageArchive
from pipeline.reconsider import Reading, plan, reconsider_settled, settled_date
from pipeline.urls import url_key

from conftest import stages
from pages_helpers import PROFILE, SOURCES, sample_page

FLAGGED = "/society/1801912/border-guards-rescue-three-women-trafficked-to-china.html"  # 2026-11-18
ROAD = "/society/1801905/road-deaths-fall-during-national-traffic-safety-week.html"     # 2026-11-17
UTC = UTC


def row(source="vns", reason="older than window: 2026-11-18T09:20:00+07:00", warc_file="f", url="u"):
    return {"url": url, "source": source, "reason": reason, "warc_file": warc_file, "warc_offset": 0}


def test_settled_date():
    assert settled_date("older than window: 2026-11-18T09:20:00+07:00") == \
        datetime(2026, 11, 18, 2, 20, tzinfo=UTC)
    assert settled_date("older than window: 2019-06-12") == datetime(2019, 6, 12, tzinfo=UTC)
    assert settled_date("extraction: too short") is None
    assert settled_date("older than window: None") is None


def test_plan_takes_in_what_the_window_now_reaches():
    rows = [row(url="in"), row(url="no-record", warc_file=None), row(url="out", reason="older than window: 2019-01-01"),
            row(url="other-source", source="bcp"), row(url="not-old", reason="not html")]
    chosen = plan(rows, {"vns": datetime(2026, 1, 1, tzinfo=UTC)})
    assert [r["url"] for r in chosen.from_record] == ["in"]
    assert [r["url"] for r in chosen.refetch] == ["no-record"]
    everything = plan(rows, {"vns": None, "bcp": datetime(2020, 1, 1, tzinfo=UTC)})
    assert sorted(r["url"] for r in everything.from_record) == ["in", "other-source", "out"]
    # a window start just after the page's time (its offset counts): still too old
    assert plan([row()], {"vns": datetime(2026, 11, 18, 2, 21, tzinfo=UTC)}).from_record == []


@pytest.fixture
def settled(db, tmp_path):
    """Two article pages fetched and settled as too old (one with its record kept, one without)."""
    archive = PageArchive(tmp_path / "warc")
    flagged, road = sample_page("vns", FLAGGED), sample_page("vns", ROAD)
    ref = archive.write(flagged, "run-1")
    archive.close()
    for page, published, kept in ((flagged, "2026-11-18T09:20:00+07:00", ref),
                                  (road, "2026-11-17T14:10:00+07:00", None)):
        store.settle_url(db, page.url, "vns", f"older than window: {published}", page_ref=kept)
    return db, archive, flagged, road, ref


READING = Reading(stages(PROFILE), SOURCES)


def test_a_wider_window_stores_kept_pages_and_unsettles_the_others(settled):
    db, archive, flagged, road, ref = settled
    report = reconsider_settled(db, archive, {"vns": datetime(2026, 11, 1, tzinfo=UTC)}, READING)
    assert (report.stored, report.refetch, report.still_old, report.failed) == (1, 1, 0, 0)
    article = db.execute("SELECT id, title, warc_file, warc_offset, published FROM articles").fetchall()
    assert len(article) == 1
    article_id, title, warc_file, warc_offset, published = article[0]
    assert title == "Border guards rescue three women trafficked to China"
    assert (warc_file, warc_offset) == (ref.file, ref.offset) and published.startswith("2026-11-18")
    assert db.execute("SELECT flagged FROM classifications WHERE article_id = ?", [article_id]).fetchone()[0] == 1
    assert store.is_known_url(db, url_key(flagged.url))     # an article now: the crawl skips it
    assert not store.is_known_url(db, url_key(road.url))    # forgotten: the crawl fetches it when found
    assert db["settled_urls"].count == 0
    again = reconsider_settled(db, archive, {"vns": datetime(2026, 11, 1, tzinfo=UTC)}, READING)
    assert (again.stored, again.refetch) == (0, 0)


def test_the_same_window_leaves_them_settled(settled):
    db, archive, *_ = settled
    report = reconsider_settled(db, archive, {"vns": datetime(2026, 11, 20, tzinfo=UTC)}, READING)
    assert (report.stored, report.refetch) == (0, 0)
    assert db["settled_urls"].count == 2 and db["articles"].count == 0


def test_a_source_not_crawled_is_left_alone(settled):
    db, archive, *_ = settled
    reconsider_settled(db, archive, {"bcp": None}, READING)
    assert db["settled_urls"].count == 2


def test_a_lost_record_means_fetching_again(settled):
    db, archive, flagged, road, ref = settled
    (archive.root / ref.file).unlink()
    report = reconsider_settled(db, archive, {"vns": None}, READING)
    assert (report.stored, report.refetch) == (0, 2)
    assert db["settled_urls"].count == 0 and db["articles"].count == 0
