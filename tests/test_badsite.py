"""A site that times out, sends a runaway page, an empty feed, broken HTML and a
redirect loop: each failure is recorded against the source, the good pages are
stored, and a second run neither loses nor duplicates anything."""
import sqlite_utils

from tipwatch.samplesites import SampleSites, write_sources

from conftest import tipwatch

LIMITS = ["-s", "DOWNLOAD_TIMEOUT=2", "-s", "DOWNLOAD_MAXSIZE=1048576", "-s", "RETRY_TIMES=0",
          "-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5"]


def test_misbehaving_site_is_survived_and_recorded(tmp_path):
    db_path = tmp_path / "t.db"
    with SampleSites(names=["bad"], template="sources-bad.toml") as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")
        args = ["crawl", "--db", db_path, "--sources", sources, "--since", "2020-01-01", *LIMITS]
        first = tipwatch(*args)
        second = tipwatch(*args)
    db = sqlite_utils.Database(db_path)
    errors = {(row["url"].split("/", 3)[-1], row["kind"])
              for row in db.query("SELECT url, kind FROM crawl_errors WHERE run_id = 1")}
    assert errors == {
        ("news/100001/minister-speech-transcript.html", "timeout"),
        ("news/100002/full-budget-annex.html", "too-large"),
        ("feed-empty.rss", "parse"),
        ("news/page-2/", "redirect"),
    }
    stored = {row["title"]: row["flagged"] for row in db.query(
        "SELECT a.title, c.flagged FROM articles a JOIN classifications c ON c.article_id = a.id")}
    assert stored == {"Police break up ring that sold women across the border": 1,
                      "Market stalls reopen after renovation": 0}
    assert first.stdout.startswith("bad: ") and "2 stored, 1 flagged" in first.stdout
    assert "0 stored" in second.stdout
    assert db["articles"].count == 2
    assert [r["status"] for r in db.query("SELECT status FROM crawl_runs ORDER BY id")] == ["finished", "finished"]
    assert "Traceback" not in first.stderr + second.stderr
