"""End to end, through the real CLI: a crawl of the sample sites keeps every page as WARC; with the
sites stopped, `tipwatch reprocess --all` re-creates the same texts and decisions (no network
to go to); a changed profile changes decisions and says so; a later crawl with a wider window
stores the pages settled as too old from their records, without fetching them again."""
import os
import sqlite3

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.urls import url_key
from tipwatch.samplesites import SampleSites, manifest, write_sources

from conftest import tipwatch
from pages_helpers import changed_profile

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=10"]
SHORT_WINDOW = "2026-11-15"  # vns articles of the 10th-14th are fetched (no date before) and settled too old
NO_RECORD = "/society/1801858/japan-and-south-korea-lead-as-guest-worker-numbers-pass-annual-target.html"


def state(db_path) -> dict:
    """url → (title, text, published, flagged) of every stored article."""
    with sqlite3.connect(db_path) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT a.url, a.title, a.text, a.published, c.flagged FROM articles a "
            "JOIN classifications c ON c.article_id = a.id")}


def settled_old(db_path) -> dict:
    with sqlite3.connect(db_path) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT url, reason, warc_file FROM settled_urls WHERE reason LIKE 'older than window:%'")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reprocess")
    db = tmp / "t.db"
    out = {"db": db, "tmp": tmp}
    with SampleSites() as sites:
        sources = write_sources(sites, tmp / "sources.toml")
        common = ["--db", db, "--sources", sources]
        tipwatch("crawl", *common, "--since", SHORT_WINDOW, *FAST)
        ports, bases = sites.ports, {name: sites.base_url(name) for name in sites.sites}
    out.update(bases=bases, crawled=state(db), settled=settled_old(db))
    # the sites are down: reprocess can only read the archive
    out["same"] = tipwatch("reprocess", *common, "--all")
    out["same_state"] = state(db)
    out["resumed"] = tipwatch("reprocess", *common, "--all")
    strict = changed_profile(tmp, 100.0, use_model=False)
    out["strict"] = tipwatch("reprocess", *common, "--profile", strict, "--all")
    out["strict_state"] = state(db)
    out["back"] = tipwatch("reprocess", *common, "--all")
    out["back_state"] = state(db)
    # one settled page loses its record (as if pruned): that one is fetched again
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE settled_urls SET warc_file = NULL, warc_offset = NULL WHERE url = ?",
                     [url_key(bases["vns"] + NO_RECORD)])
    # a file past the retention, referenced by nothing: the crawl's end prunes it
    old = tmp / "warc" / "2026-01" / "old-run.warc.gz"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(next((tmp / "warc").rglob("*.warc.gz")).read_bytes())
    os.utime(old, (old.stat().st_atime, old.stat().st_mtime - 200 * 86400))
    out["old_file"] = old
    with SampleSites(ports=ports) as sites:
        assert sites.ports == ports, "the sample sites could not get their ports back"
        out["wide"] = tipwatch("crawl", *common, "--since", "2020-01-01", *FAST)
        out["wide_log"] = dict(sites.request_log)
    out["wide_state"] = state(db)
    return out


def test_the_crawl_kept_every_fetched_page_in_readable_warc_files(run):
    files = sorted((run["db"].parent / "warc").rglob("*.warc.gz"))
    assert files
    urls = []
    for path in files:
        with open(path, "rb") as stream:
            urls += [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                     if r.rec_type == "response"]
    assert set(run["crawled"]) <= set(urls)
    assert run["settled"] and all(warc_file for _, warc_file in run["settled"].values())


def test_reprocess_with_the_sites_down_recreates_the_same_articles(run):
    n = len(run["crawled"])
    assert n >= 10
    assert run["same_state"] == run["crawled"]
    first = run["same"].stdout.splitlines()[0]
    assert first.startswith(f"{n} articles: {n} reprocessed from the archive, 0 already")
    assert "0 changed text, 0 changed date, 0 changed decision" in first
    assert "0 with no record, 0 with an unreadable record, 0 no longer extract" in first
    # not on a terminal: progress as log lines on stderr, the report alone on stdout
    assert f"reprocess: {n}/{n} (100%)" in run["same"].stderr


def test_a_rerun_skips_what_was_reprocessed_with_the_same_versions(run):
    n = len(run["crawled"])
    assert run["resumed"].stdout.startswith(f"{n} articles: 0 reprocessed from the archive, {n} already")


def test_a_changed_profile_changes_decisions_and_says_so(run):
    flagged = sorted(url for url, row in run["crawled"].items() if row[3])
    assert flagged
    assert not any(row[3] for row in run["strict_state"].values())
    report = run["strict"].stdout
    assert f"{len(flagged)} changed decision (0 newly flagged, {len(flagged)} no longer flagged)" in report
    assert report.count("\n  - ") == len(flagged)
    # the profile in use again: the same decisions as the crawl's
    assert run["back_state"] == run["crawled"]
    assert f"{len(flagged)} changed decision ({len(flagged)} newly flagged, 0 no longer flagged)" in run["back"].stdout


def test_a_wider_window_stores_settled_pages_from_their_records(run):
    vns = run["bases"]["vns"]
    settled_paths = [key.split("/", 1)[1] for key in run["settled"]]
    assert len(settled_paths) >= 3
    line = run["wide"].stdout.splitlines()[0]
    stored = len(settled_paths) - 1
    assert line.startswith(f"pages settled as too old, now inside the window: {stored} stored from the archive, "
                           f"0 already stored, 1 to fetch again")
    for path in settled_paths:
        url = vns + "/" + path
        assert url in run["wide_state"], f"not stored: {url}"
        requests = run["wide_log"].get("/" + path, 0)
        assert requests == (1 if "/" + path == NO_RECORD else 0), f"/{path} requested {requests} times"


def test_after_the_wider_crawl_every_sample_article_is_stored_and_judged(run):
    wrong = []
    for item in manifest():
        if item.get("old") or "/private/" in item["path"]:
            continue
        url = run["bases"][item["site"]] + item["path"]
        row = run["wide_state"].get(url)
        if row is None or bool(row[3]) != (item["topic"] == "trafficking"):
            wrong.append((item["path"], row and row[3]))
    assert wrong == []


def test_the_crawl_applies_the_archive_retention_at_its_end(run):
    assert not run["old_file"].exists()
    assert "retention 90 days: deleted 1 files whole and 0 in part" in run["wide"].stdout
