import os
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import store

from conftest import article, verdict


def table_counts(db):
    return {name: db[name].count for name in db.table_names() if not name.startswith("articles_fts")}


def test_schema_and_wal(db, tmp_path):
    assert {"articles", "article_urls", "settled_urls", "classifications", "crawl_runs",
            "crawl_source_stats", "crawl_errors", "digests", "digest_items", "articles_fts"} <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.open_db(tmp_path / "tipwatch.db")  # migrating twice is a no-op
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION


def test_save_article_is_idempotent_across_aliases(db):
    first = store.save_article(db, article(1), aliases=("http://news.test/society/1/story-1.html?utm_source=x",))
    before = table_counts(db)
    again = store.save_article(db, article(1))
    via_alias = store.save_article(db, article(1, url="https://www.news.test/society/1/story-1.html/"))
    assert first == again == via_alias
    assert table_counts(db) == before
    assert store.article_id_for_url(db, "http://news.test/society/1/story-1.html") == first
    assert store.is_known_url(db, "news.test/society/1/story-1.html")
    assert not store.is_known_url(db, "news.test/society/1/story-2.html")


def test_changed_article_is_updated_not_duplicated(db):
    article_id = store.save_article(db, article(1))
    store.save_article(db, article(1, title="Story 1 (updated)"))
    assert db["articles"].count == 1
    assert db["articles"].get(article_id)["title"] == "Story 1 (updated)"


def test_full_text_search_finds_articles(db):
    store.save_article(db, article(1, title="Scam compound rescue", text="Forty victims rescued. " * 20))
    store.save_article(db, article(2))
    hits = [row["title"] for row in db["articles"].search("rescued")]
    assert hits == ["Scam compound rescue"]


def test_classification_upsert_reports_changes(db):
    article_id = store.save_article(db, article(1))
    assert store.save_classification(db, article_id, verdict(True)) is True
    assert store.save_classification(db, article_id, verdict(True)) is False
    assert store.save_classification(db, article_id, verdict(False)) is True
    assert db["classifications"].count == 1 and store.flagged_count(db) == 0


def test_settled_urls_are_known(db):
    store.settle_url(db, "https://news.test/broken/404.html?utm_medium=x", "news", "HTTP 404")
    store.settle_url(db, "https://news.test/broken/404.html", "news", "HTTP 404")
    assert db["settled_urls"].count == 1
    assert store.is_known_url(db, "news.test/broken/404.html")


def test_digest_items_belong_to_one_digest(db):
    ids = [store.save_article(db, article(n)) for n in (1, 2, 3)]
    for article_id, flagged in zip(ids, (True, False, True), strict=True):
        store.save_classification(db, article_id, verdict(flagged))
    day1 = [row["id"] for row in store.digest_candidates(db, "2026-11-20")]
    assert day1 == [ids[2], ids[0]]  # newest first, unflagged left out
    store.save_digest(db, "2026-11-20", "x.md", day1)
    assert [row["id"] for row in store.digest_candidates(db, "2026-11-20")] == day1  # same day: same items
    assert store.digest_candidates(db, "2026-11-21") == []
    new = store.save_article(db, article(4))
    store.save_classification(db, new, verdict(True))
    assert [row["id"] for row in store.digest_candidates(db, "2026-11-21")] == [new]


def test_run_records(db):
    run_id = store.start_run(db, ["news"])
    store.save_source_stats(db, run_id, "news", {"requests": 3, "status_counts": {"2xx": 2, "5xx": 1},
                                                "error_counts": {"http": 1}})
    store.save_source_stats(db, run_id, "news", {"requests": 4, "status_counts": {"2xx": 3},
                                                "error_counts": {"http": 1}})
    store.record_error(db, run_id, "news", "https://news.test/broken/500.html", "http", "HTTP 500")
    store.finish_run(db, run_id, "finished")
    (row,) = store.run_stats(db, run_id)
    assert row["requests"] == 4 and row["status_counts"] == {"2xx": 3}
    assert store.run_errors(db, run_id) == [{"source": "news", "url": "https://news.test/broken/500.html",
                                            "kind": "http", "detail": "HTTP 500"}]
    assert db["crawl_runs"].get(run_id)["status"] == "finished"


def test_version_1_database_is_migrated_keeping_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE digests (id INTEGER PRIMARY KEY, day TEXT, path TEXT, created_at TEXT, item_count INTEGER);
        CREATE TABLE digest_items (article_id INTEGER PRIMARY KEY, digest_id INTEGER, position INTEGER);
        INSERT INTO digests VALUES (1, '2026-11-01', 'x.md', '2026-11-01T00:00:00', 1);
        INSERT INTO digest_items VALUES (7, 1, 0);
        PRAGMA user_version = 1;""")
    conn.close()
    db = store.open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert {"story_key", "follow_up_of"} <= set(db["digest_items"].columns_dict)
    assert list(db.query("SELECT article_id, digest_id, story_key FROM digest_items")) == [
        {"article_id": 7, "digest_id": 1, "story_key": None}]
    assert db["deliveries"].exists() and db["article_fingerprints"].exists()


def test_an_article_is_stored_whole_or_not_at_all(db):
    # a failure while recording its URLs must not leave the article row behind: the next run
    # would find no URL for it, fetch it again and collide with the orphan row
    db.execute("CREATE TRIGGER refuse_url BEFORE INSERT ON article_urls WHEN NEW.url LIKE '%refused%' "
               "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        store.save_article(db, article(1), aliases=("https://news.test/refused.html",))
    assert db["articles"].count == 0 and db["article_urls"].count == 0
    assert store.save_article(db, article(2)) and db["articles"].count == 1


def zombie_pid() -> tuple[int, subprocess.Popen]:
    """A child that exited but is not reaped yet: it still answers signal 0."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)
    return child.pid, child


def test_a_run_whose_process_died_is_interrupted_by_the_next(db):
    exited = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone_pid = int(exited.stdout)
    zombie, child = zombie_pid()
    here, long_ago = socket.gethostname(), (datetime.now(UTC) - timedelta(hours=30)).isoformat()
    owners = {"gone": (gone_pid, here), "zombie": (zombie, here), "alive": (os.getpid(), here),
              "elsewhere": (gone_pid, "another-host"), "old-without-pid": (None, None),
              "new-without-pid": (None, None)}
    for name, (pid, host) in owners.items():
        started = long_ago if name == "old-without-pid" else store.utcnow()
        with db.conn:
            db.execute("INSERT INTO crawl_runs (started_at, sources, status, pid, host) VALUES (?, ?, 'running', ?, ?)",
                       [started, f'["{name}"]', pid, host])
    with db.conn:
        db.execute("INSERT INTO crawl_runs (started_at, sources, status) VALUES (?, '[\"done\"]', 'finished')",
                   [long_ago])
    run_id = store.start_run(db, ["next"])
    child.wait()
    statuses = {row[0]: row[1] for row in db.execute("SELECT json_extract(sources, '$[0]'), status FROM crawl_runs")}
    assert statuses == {"gone": "interrupted", "zombie": "interrupted", "alive": "running", "elsewhere": "running",
                        "old-without-pid": "interrupted", "new-without-pid": "running", "done": "finished",
                        "next": "running"}
    assert db.execute("SELECT pid, host FROM crawl_runs WHERE id = ?", [run_id]).fetchone() == (os.getpid(), here)


def test_version_5_database_gains_the_run_owner_columns(tmp_path):
    db = store.open_db(tmp_path / "old.db")
    store.finish_run(db, store.start_run(db, ["news"]), "finished")
    with db.conn:  # back to version 5: crawl_runs without pid and host
        db.execute("ALTER TABLE crawl_runs DROP COLUMN pid")
        db.execute("ALTER TABLE crawl_runs DROP COLUMN host")
        db.execute("PRAGMA user_version = 5")
    db = store.open_db(tmp_path / "old.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION == 10
    assert {"pid", "host"} <= set(db["crawl_runs"].columns_dict)
    assert [(r["sources"], r["status"], r["pid"]) for r in db.query("SELECT * FROM crawl_runs")] == [
        ('["news"]', "finished", None)]
