"""`tipwatch reprocess` (pipeline/reprocess.py): stored articles read again from their WARC records,
no network. Pages are sample-site article pages, archived with PageArchive and stored the way
the crawl stores them (tests/pages_helpers.py); the end-to-end run over a crawl is in
tests/test_reprocess_e2e.py."""
import pytest

from pipeline import store
from pipeline.archive import PageArchive
from pipeline.reprocess import ReprocessJob, reprocess, stage_version

from conftest import stages
from pages_helpers import (
    FLAGGED_PAGE,
    NEGATIVE_PAGE,
    PROFILE,
    SOURCES,
    VI_PAGE,
    changed_profile,
    sample_page,
    store_page,
)


@pytest.fixture
def stored(db, tmp_path):
    archive = PageArchive(tmp_path / "warc")
    ids = {name: store_page(db, archive, sample_page(*page))
           for name, page in (("flagged", FLAGGED_PAGE), ("negative", NEGATIVE_PAGE), ("vi", VI_PAGE))}
    archive.close()
    return db, archive, ids


def job(profile=PROFILE, **options) -> ReprocessJob:
    return ReprocessJob(stages=stages(profile), sources=SOURCES, **options)


def rows(db):
    return [dict(r) for r in db.query("SELECT a.id, a.title, a.text, a.published, a.language, a.tags, c.flagged, "
                                      "c.score, c.reason FROM articles a JOIN classifications c "
                                      "ON c.article_id = a.id ORDER BY a.id")]


def test_the_same_pages_give_the_same_articles(stored):
    db, archive, ids = stored
    before = rows(db)
    assert [r["flagged"] for r in before] == [1, 0, 1]
    report = reprocess(db, archive, job())
    assert (report.selected, report.reprocessed, report.text_changed, report.date_changed) == (3, 3, 0, 0)
    assert (report.decisions, report.rows_changed, report.no_record, report.unreadable) == ([], 0, 0, 0)
    assert rows(db) == before


def test_rows_that_differ_from_their_page_are_rewritten(stored):
    """As after an extractor fix: the stored text and date differ from what the page reads as."""
    db, archive, ids = stored
    before = rows(db)
    db.execute("UPDATE articles SET text = 'stale text', published = '1999-01-01' WHERE id = ?", [ids["negative"]])
    db.execute("UPDATE articles SET text = 'stale text' WHERE id = ?", [ids["vi"]])
    db.conn.commit()
    report = reprocess(db, archive, job())
    assert (report.text_changed, report.date_changed, report.rows_changed) == (2, 1, 2)
    assert rows(db) == before
    # the full-text index follows the rewritten text
    hits = [r[0] for r in db.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'stale'")]
    assert hits == []


def test_a_changed_profile_changes_decisions_and_says_so(stored, tmp_path):
    db, archive, ids = stored
    report = reprocess(db, archive, job(changed_profile(tmp_path, 100.0)))
    assert sorted((article_id, now) for article_id, now, _ in report.decisions) == \
        [(ids["flagged"], False), (ids["vi"], False)]
    # every classification is rewritten (the reason names the new threshold, the profile's version)
    assert (report.text_changed, report.date_changed, report.rows_changed) == (0, 0, 3)
    assert [r["flagged"] for r in rows(db)] == [0, 0, 0]
    # and back: the shipped profile flags them again
    again = reprocess(db, archive, job())
    assert sorted(now for _, now, _ in again.decisions) == [True, True]


def test_no_record_and_unreadable_records_are_counted_and_left_alone(stored):
    db, archive, ids = stored
    db.execute("UPDATE articles SET warc_file = NULL, warc_offset = NULL WHERE id = ?", [ids["flagged"]])
    db.execute("UPDATE articles SET warc_offset = warc_offset + 7 WHERE id = ?", [ids["negative"]])
    db.conn.commit()
    before = rows(db)
    report = reprocess(db, archive, job())
    assert (report.no_record, report.unreadable, report.reprocessed) == (1, 1, 1)
    assert rows(db) == before


def test_interrupted_run_keeps_its_work_and_a_rerun_resumes(stored):
    db, archive, ids = stored
    seen = []

    def stop_after_first(done, total):
        seen.append((done, total))
        if done == 1:
            raise KeyboardInterrupt

    first = reprocess(db, archive, job(), on_progress=stop_after_first)
    assert first.interrupted and first.reprocessed == 1 and seen == [(1, 3)]
    version = stage_version(stages(PROFILE))
    assert store.count_processed(db, version) == 1
    second = reprocess(db, archive, job())
    assert (second.selected, second.skipped, second.reprocessed, second.interrupted) == (3, 1, 2, False)
    third = reprocess(db, archive, job())
    assert (third.skipped, third.reprocessed) == (3, 0)
    redo = reprocess(db, archive, job(redo=True))
    assert (redo.skipped, redo.reprocessed) == (0, 3)


def test_a_changed_profile_is_a_new_version_to_resume_from(stored, tmp_path):
    db, archive, _ = stored
    reprocess(db, archive, job())
    changed = reprocess(db, archive, job(changed_profile(tmp_path, 100.0)))
    assert (changed.skipped, changed.reprocessed) == (0, 3)


def test_source_and_since_select(stored):
    db, archive, ids = stored
    assert reprocess(db, archive, job(source="bcp")).reprocessed == 1
    since = reprocess(db, archive, job(since="2026-11-18", redo=True))  # 18 Nov (vns, bcp); the 17th is out
    assert since.reprocessed == 2
    assert reprocess(db, archive, job(source="vns", since="2026-11-18", redo=True)).reprocessed == 1


def test_progress_is_reported_per_article(stored):
    db, archive, _ = stored
    calls = []
    reprocess(db, archive, job(), on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
