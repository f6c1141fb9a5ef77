from datetime import UTC, datetime

import sqlite_utils

from conftest import tipwatch


def test_demo_runs_the_whole_pipeline_offline_and_again_safely(tmp_path):
    args = ["demo", "--db", tmp_path / "demo.db", "--digests-dir", tmp_path / "digests"]
    first = tipwatch(*args)
    out = first.stdout
    assert "source    pages  stored  flagged  errors" in out
    for name in ("vns", "bcp", "bcpen", "seed"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name
    digest_files = list((tmp_path / "digests").glob("*.md"))
    assert len(digest_files) == 1
    # the command as installed (a venv's bin/ or pip's): no path that only fits a source checkout
    assert f"digest:   {digest_files[0]}" in out and f"browse:   tipwatch serve --db {tmp_path / 'demo.db'}\n" in out
    db = sqlite_utils.Database(tmp_path / "demo.db")
    articles, flagged = db.execute("SELECT count(*), (SELECT count(*) FROM classifications WHERE flagged) "
                                   "FROM articles").fetchone()
    digest_text = digest_files[0].read_text(encoding="utf-8")
    stories = db.execute("SELECT count(DISTINCT story_key) FROM digest_items").fetchone()[0]
    assert digest_text.count("\n## ") == stories and 0 < stories <= flagged
    assert "Mekong countries discuss strategies to stop trafficking" in digest_text

    second = tipwatch(*args)
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == articles
    assert digest_files[0].read_text(encoding="utf-8") == digest_text
    assert db["digests"].count == 1 and db["digest_items"].count == flagged
    last_run = db.execute("SELECT max(id) FROM crawl_runs").fetchone()[0]
    assert db.execute("SELECT sum(articles_fetched) FROM crawl_source_stats WHERE run_id = ?",
                      [last_run]).fetchone()[0] == 0
    assert second.returncode == 0


def test_demo_writes_only_in_its_own_folder_from_any_directory(tmp_path):
    """`make demo` wrote the day's digest into seeds/digests/, over a production digest, and left
    the checkout dirty: it now writes under <data>/demo/ of the directory it runs in."""
    import subprocess
    import sys

    from conftest import REPO

    before = subprocess.run(["git", "status", "--porcelain", "--ignored", "seeds"], cwd=REPO,
                            capture_output=True, text=True).stdout
    result = subprocess.run([sys.executable, "-m", "tipwatch.cli", "demo"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "data" / "demo"
    assert len(list((folder / "digests").glob("*.md"))) == 1 and (folder / "demo.db").is_file()
    assert [path.name for path in tmp_path.iterdir()] == ["data"]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["demo"]
    assert not (REPO / "seeds" / "digests").exists()
    assert subprocess.run(["git", "status", "--porcelain", "--ignored", "seeds"], cwd=REPO,
                          capture_output=True, text=True).stdout == before


def test_demo_serves_the_samples_dated_this_week_with_a_story_across_outlets_and_languages(tmp_path):
    """The demo's sample articles are dated relative to today (whole weeks, tipwatch/sampledates.py):
    every stored sample article still matches its golden file, with `published` moved by exactly
    that many days; the newest is of the last 7 days; and the digest shows one story reported by
    three outlets in English and Vietnamese."""
    import json
    from datetime import datetime, timedelta

    from test_crawl import compare_golden

    from pipeline.store import browse
    from pipeline.urls import url_key
    from tipwatch.samplesites import SITES_DIR, manifest

    tipwatch("demo", "--db", tmp_path / "demo.db", "--digests-dir", tmp_path / "digests")
    ports = json.loads((tmp_path / "demo.db.ports.json").read_text())
    shift = ports["_shift_days"]
    assert shift % 7 == 0
    db = sqlite_utils.Database(tmp_path / "demo.db")
    stored = {key: article_id for key, article_id in db.execute("SELECT url, article_id FROM article_urls")}
    from tipwatch.sampledates import shift_text

    mismatches, checked = [], 0
    for item in manifest():
        stem = item["path"].rsplit("/", 1)[1].rsplit(".", 1)[0]
        golden_path = SITES_DIR / item["site"] / "expected" / (stem + ".json")
        if item.get("old") or not golden_path.exists():
            continue
        url = f"http://127.0.0.1:{ports[item['site']]}" + shift_text(item["path"], shift, item["site"])
        article_id = stored.get(url_key(url))
        if article_id is None:
            continue  # not every golden page is linked for the crawl (tests/test_crawl.py checks those)
        golden = json.loads(golden_path.read_text(encoding="utf-8"))
        moved = datetime.fromisoformat(golden["published"]) + timedelta(days=shift)
        golden["published"] = moved.isoformat() if "T" in golden["published"] else moved.date().isoformat()
        mismatches += compare_golden(golden, db["articles"].get(article_id))
        checked += 1
    assert mismatches == [] and checked >= 20
    newest = max(row[0] for row in db.execute("SELECT published FROM articles WHERE source != 'seed'"))
    now = datetime.now(UTC)
    assert now - timedelta(days=7) < datetime.fromisoformat(newest) <= now
    assert db.execute(browse.FLAGGED_LAST_DAYS, {"days": ""}).fetchall()  # "Flagged in the last 7 days"
    rescue = db.execute("""SELECT group_concat(a.source || ':' || a.language) FROM digest_items di
                           JOIN articles a ON a.id = di.article_id GROUP BY di.story_key
                           HAVING count(*) > 1 AND group_concat(a.title) LIKE '%27%'""").fetchone()
    assert rescue and set(rescue[0].split(",")) == {"vns:en", "bcpen:en", "bcp:vi"}
    digest = next((tmp_path / "digests").glob("*.md")).read_text(encoding="utf-8")
    assert "Also reported:" in digest and "(bcp, " in digest.split("Also reported:")[1].split("\n## ")[0]


def test_sample_dates_move_in_every_format_and_back():
    from tipwatch.sampledates import shift_text, weeks_to_today

    page = ("Monday, 11/23/2026 · Thứ Hai, 23/11/2026 · November 21, 2026 3:30 PM · November 23 2026 · "
            "Update: November, 21/2026 - 18:40 · Sat, 21 Nov 2026 15:30:00 +0700 · 2026-11-21T15:30:00+07:00 · "
            "/giai-cuu-102261121101208457.htm · /Images/2026/11/21/a.jpg · 2026-2030 · 10-thang-nam-2026 · "
            "thumb_w/800/2026/11/111261121153000457-1.jpg")
    moved = shift_text(page, 14, "vns")
    assert "Thứ Hai, 07/12/2026" in moved and "December 5, 2026 3:30 PM" in moved and "December 7 2026" in moved
    assert "Update: December, 05/2026" in moved and "Sat, 05 Dec 2026 15:30:00" in moved
    assert "2026-12-05T15:30:00+07:00" in moved and "/giai-cuu-102261205101208457.htm" in moved
    assert "/Images/2026/12/05/a.jpg" in moved and "2026-2030" in moved and "10-thang-nam-2026" in moved
    assert "thumb_w/800/2026/11/111261205153000457-1.jpg" in moved
    assert "Monday, 12/07/2026" in shift_text(page, 14, "bcpen")  # month first on bcpen
    assert shift_text(moved, -14, "vns") == page and shift_text(page, 0) == page
    newest = [{"published": "2026-11-21T15:30:00"}]
    assert weeks_to_today(newest, datetime(2026, 12, 2, 9, tzinfo=UTC)) == 7
    assert weeks_to_today(newest, datetime(2026, 11, 21, 9, tzinfo=UTC)) == 0  # 15:30 +07 is 08:30 UTC
    assert weeks_to_today(newest, datetime(2026, 11, 21, 8, tzinfo=UTC)) == -7  # never in the future
