"""Daily digests: their candidates, items and stories (fingerprints of earlier items)."""
from __future__ import annotations

import json

import sqlite_utils

from pipeline.store.rows import _chunks, _with_lists
from pipeline.store.schema import utcnow


def digest_for_day(db: sqlite_utils.Database, day: str) -> dict | None:
    rows = list(db.query("SELECT * FROM digests WHERE day = ?", [day]))
    return rows[0] if rows else None


def digest_candidates(db: sqlite_utils.Database, day: str) -> list[dict]:
    """Flagged articles in no earlier digest (those already in this day's digest stay in it)."""
    # the few pending ids first (flagged index), then their articles: joining articles first
    # reads every flagged article's row, text and all (150 ms at a million articles, 13 ms so)
    sql = """
        WITH pending AS (
            SELECT c.article_id FROM classifications c
            LEFT JOIN digest_items di ON di.article_id = c.article_id
            LEFT JOIN digests d ON d.id = di.digest_id
            WHERE c.flagged = 1 AND (di.article_id IS NULL OR d.day = ?))
        SELECT a.id, a.url, a.source, a.title, a.published, a.language, a.author,
               c.score, c.matched_terms, c.snippet, c.subtopics, c.countries,
               (SELECT g.gist FROM article_gists g WHERE g.article_id = a.id) AS gist,
               (SELECT g.title_en FROM article_gists g WHERE g.article_id = a.id) AS title_en
        FROM pending p
        JOIN articles a ON a.id = p.article_id
        JOIN classifications c ON c.article_id = p.article_id
        ORDER BY coalesce(a.published, '') DESC, a.id DESC
    """
    return _with_lists(db.query(sql, [day]))


def save_digest(db: sqlite_utils.Database, day: str, path: str, article_ids: list[int],
                stories: dict[int, tuple[str, dict | None]] | None = None) -> int:
    """Record the day's digest; `stories` maps article id → (story key, follow-up of)."""
    stories = stories or {}
    with db.atomic():
        # an upsert, not read-then-insert: two digests of the same day may run at once
        db.execute("""INSERT INTO digests (day, path, item_count, created_at) VALUES (?, ?, ?, ?)
                      ON CONFLICT(day) DO UPDATE SET path = excluded.path, item_count = excluded.item_count
                      WHERE digests.path != excluded.path OR digests.item_count != excluded.item_count""",
                   [day, path, len(article_ids), utcnow()])
        digest = digest_for_day(db, day)
        assert digest is not None  # written just above
        digest_id = digest["id"]
        for position, article_id in enumerate(article_ids):
            key, follow_up = stories.get(article_id, (None, None))
            db.execute("INSERT OR REPLACE INTO digest_items (article_id, digest_id, position, story_key, follow_up_of)"
                       " VALUES (?, ?, ?, ?, ?)",
                       [article_id, digest_id, position, key, json.dumps(follow_up) if follow_up else None])
    return digest_id


def flagged_since(db: sqlite_utils.Database, since: str) -> list[dict]:
    """Flagged articles published (or, undated, fetched) on or after `since`, for re-reading."""
    sql = """
        SELECT a.id, a.url, a.source, a.title, a.published, a.language, a.author,
               c.score, c.matched_terms, c.snippet, c.subtopics, c.countries,
               (SELECT g.gist FROM article_gists g WHERE g.article_id = a.id) AS gist,
               (SELECT g.title_en FROM article_gists g WHERE g.article_id = a.id) AS title_en
        FROM articles a JOIN classifications c ON c.article_id = a.id
        WHERE +c.flagged = 1 AND (a.published >= ? OR (a.published IS NULL AND a.fetched_at >= ?))
        ORDER BY coalesce(a.published, '') DESC, a.id DESC
    """
    # spelled out rather than coalesce(), and `+` keeps the flagged index out: the published
    # index then narrows a million articles to the window
    return _with_lists(db.query(sql, [since, since]))


def fingerprints(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict]:
    found = {}
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT article_id, fingerprint FROM article_fingerprints WHERE article_id IN ({marks})",
                              chunk):
            found[row[0]] = json.loads(row[1])
    return found


def save_fingerprints(db: sqlite_utils.Database, prints: dict[int, dict]) -> None:
    with db.atomic():
        for article_id, fingerprint in prints.items():
            db.execute("INSERT OR REPLACE INTO article_fingerprints (article_id, fingerprint) VALUES (?, ?)",
                       [article_id, json.dumps(fingerprint, separators=(",", ":"))])


def earlier_story_items(db: sqlite_utils.Database, day: str, since_day: str) -> list[dict]:
    """Articles sent in digests of days in [since_day, day), with their story and fingerprint."""
    sql = """
        SELECT a.id, a.title, a.published, d.day AS sent_day, di.story_key, f.fingerprint
        FROM digest_items di JOIN digests d ON d.id = di.digest_id JOIN articles a ON a.id = di.article_id
        JOIN article_fingerprints f ON f.article_id = a.id
        WHERE d.day < ? AND d.day >= ?
        ORDER BY d.day DESC, di.position
    """
    rows = list(db.query(sql, [day, since_day]))
    for row in rows:
        row["fingerprint"] = json.loads(row["fingerprint"])
        row["story_key"] = row["story_key"] or f"s{row['id']}"
    return rows
