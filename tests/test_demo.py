from datetime import date

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
    assert f"digest:   {digest_files[0]}" in out and "browse:   .venv/bin/tipwatch serve --db " in out
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
