"""The page archive's retention (`tipwatch archive prune`, pipeline/archive/retention.py): old files
go, the flagged articles' pages stay, and no reference ever points at a record that is gone."""
import os
import time

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline import store
from pipeline.archive import PageArchive
from pipeline.archive.retention import DELETE, KEEP, SPLIT, prune, verdict, warc_files
from pipeline.records import PageRef

from pages_helpers import sample_page, store_page

FLAGGED = "/society/1801912/border-guards-rescue-three-women-trafficked-to-china.html"
FLAGGED_2 = "/politics-laws/1801870/mekong-countries-review-commit-action-plan-against-trafficking.html"
ROAD = "/society/1801905/road-deaths-fall-during-national-traffic-safety-week.html"
PANGOLIN = "/environment/1801899/customs-seize-two-tonnes-of-pangolin-scales-at-hai-phong-port.html"
DRUGS = "/politics-laws/1801880/police-bust-cross-border-drug-trafficking-ring-in-nghe-an.html"
OLD = 100 * 86400  # seconds: past the 90-day retention


@pytest.fixture
def archived(db, tmp_path):
    """Four run files: mixed (a flagged and an ordinary page), ordinary only, flagged only (all
    three 100 days old) and a young ordinary one; a settled page's reference into the mixed file."""
    archive = PageArchive(tmp_path / "warc")
    ids = {"flagged": store_page(db, archive, sample_page("vns", FLAGGED), run="run-a"),
           "road": store_page(db, archive, sample_page("vns", ROAD), run="run-a"),
           "pangolin": store_page(db, archive, sample_page("vns", PANGOLIN), run="run-b"),
           "flagged_2": store_page(db, archive, sample_page("vns", FLAGGED_2), run="run-c"),
           "drugs": store_page(db, archive, sample_page("vns", DRUGS), run="run-d")}
    archive.close()
    road_ref = ref_of(db, ids["road"])
    db.execute("INSERT INTO settled_urls (url, source, reason, settled_at, warc_file, warc_offset) "
               "VALUES ('x', 'vns', 'older than window: 2019-01-01', '2026-11-22', ?, ?)",
               [road_ref.file, road_ref.offset])
    db.conn.commit()
    files = {name: ref_of(db, ids[name]).file for name in ("flagged", "pangolin", "flagged_2", "drugs")}
    assert len(set(files.values())) == 4
    now = time.time()
    for name in ("flagged", "pangolin", "flagged_2"):
        os.utime(archive.root / files[name], (now - OLD, now - OLD))
    return db, archive, ids, files


def ref_of(db, article_id) -> PageRef | None:
    file, offset = db.execute("SELECT warc_file, warc_offset FROM articles WHERE id = ?", [article_id]).fetchone()
    return None if file is None else PageRef(file, offset)


def all_refs(db) -> list[PageRef]:
    return [PageRef(f, o) for table in ("articles", "settled_urls")
            for f, o in db.execute(f"SELECT warc_file, warc_offset FROM {table} WHERE warc_file IS NOT NULL")]


def test_verdict():
    assert verdict(10, 90, set(), None) == KEEP
    assert verdict(91, 90, set(), None) == DELETE
    assert verdict(91, 90, {0, 500}, {0, 500}) == KEEP
    assert verdict(91, 90, {500}, {0, 500}) == SPLIT


def test_prune_deletes_old_pages_and_keeps_flagged_ones(archived):
    db, archive, ids, files = archived
    pages_before = {name: archive.read(ref_of(db, ids[name])) for name in ("flagged", "flagged_2", "drugs")}
    report = prune(db, archive, 90)
    remaining = set(warc_files(archive.root))
    # the ordinary-only old file is gone, the young one and the flagged-only one stay as they were
    assert files["pangolin"] not in remaining and files["drugs"] in remaining and files["flagged_2"] in remaining
    # the mixed file is replaced by a copy of its flagged record
    assert files["flagged"] not in remaining
    (old, new, kept), = report.split
    assert (old, kept) == (files["flagged"], 1) and new in remaining
    assert report.deleted == [files["pangolin"]]
    # references: the flagged page's moved and reads the same page; the pruned ones cleared
    assert ref_of(db, ids["flagged"]).file == new
    for name, page in pages_before.items():
        assert archive.read(ref_of(db, ids[name])) == page
    assert ref_of(db, ids["road"]) is None and ref_of(db, ids["pangolin"]) is None
    assert db.execute("SELECT warc_file FROM settled_urls WHERE url = 'x'").fetchone()[0] is None
    assert report.refs_cleared == 3  # road's, pangolin's, the settled page's
    for ref in all_refs(db):  # every reference left points at a record
        archive.read(ref)


def test_the_kept_copy_is_a_plain_warc_file_that_keeps_its_age(archived):
    db, archive, ids, files = archived
    report = prune(db, archive, 90)
    (_, new, _), = report.split
    path = archive.root / new
    with open(path, "rb") as stream:
        records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(stream)]
    assert records == [("response", "http://127.0.0.1:9" + FLAGGED)]
    assert time.time() - path.stat().st_mtime > OLD - 60
    # a second prune finds nothing more to do
    again = prune(db, archive, 90)
    assert (again.deleted, again.split, again.refs_cleared) == ([], [], 0)
    assert new in warc_files(archive.root)


def test_dry_run_changes_nothing(archived):
    db, archive, ids, files = archived
    refs_before = sorted(all_refs(db), key=repr)
    listing = warc_files(archive.root)
    report = prune(db, archive, 90, dry_run=True)
    assert report.deleted == [files["pangolin"]] and [s[0] for s in report.split] == [files["flagged"]]
    assert report.refs_cleared == 3 and report.bytes_freed > 0
    assert warc_files(archive.root) == listing
    assert sorted(all_refs(db), key=repr) == refs_before


def test_an_unflagged_article_lets_its_page_go(archived):
    db, archive, ids, files = archived
    db.execute("UPDATE classifications SET flagged = 0 WHERE article_id = ?", [ids["flagged_2"]])
    db.conn.commit()
    prune(db, archive, 90)
    assert files["flagged_2"] not in warc_files(archive.root)
    assert ref_of(db, ids["flagged_2"]) is None


def test_without_keep_flagged_every_old_file_goes(archived):
    db, archive, ids, files = archived
    report = prune(db, archive, 90, keep_flagged=False)
    assert warc_files(archive.root) == [files["drugs"]] and report.split == []
    assert [r.file for r in all_refs(db)] == [files["drugs"]]


def test_a_longer_retention_keeps_everything(archived):
    db, archive, ids, files = archived
    report = prune(db, archive, 365)
    assert (report.deleted, report.split) == ([], [])
    assert len(warc_files(archive.root)) == 4


def test_archive_read_refuses_a_bad_offset(archived):
    from pipeline.archive import ArchiveError

    db, archive, ids, files = archived
    ref = ref_of(db, ids["drugs"])
    with pytest.raises(ArchiveError):
        archive.read(PageRef(ref.file, ref.offset + 3))
    with pytest.raises(ArchiveError):
        archive.read(PageRef("2026-11/missing.warc.gz", 0))
    assert store.count_refs(db, ref.file) == 1
