"""Stored rows as seen from the page archive: each article's and settled page's WARC reference,
what `tipwatch reprocess` reads and rewrites, the too-old pages a wider window reconsiders, and
the references retention moves or clears.

A reference is (warc_file, warc_offset) on `articles` and `settled_urls` (schema migration);
`article_processing` records which stage versions an article was last re-processed with, so an
interrupted `reprocess` resumes where it stopped.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlite_utils

from pipeline.urls import url_key

__all__ = [
    "TOO_OLD_PREFIX", "REPROCESSED_FIELDS", "articles_to_reprocess", "count_processed",
    "article_state", "article_row", "update_article_fields", "mark_processed", "gist_version",
    "settled_too_old", "unsettle", "resettle", "stored_id", "kept_refs", "move_refs", "clear_refs", "count_refs",
]

TOO_OLD_PREFIX = "older than window: "
# the article fields extraction gives (the URL and source are the row's identity: never rewritten)
REPROCESSED_FIELDS = ("title", "text", "author", "published", "date_source", "language", "sitename",
                      "description", "image", "tags")


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------- reprocess

def articles_to_reprocess(db: sqlite_utils.Database, *, source: str | None = None, since: str | None = None,
                          skip_version: str | None = None) -> list[dict]:
    """Stored articles (id, source, url, language, warc_file, warc_offset) of a source and/or
    published (undated: fetched) on or after `since`, in id order; those last re-processed with
    `skip_version` are left out (the resume of an interrupted run)."""
    sql = """SELECT a.id, a.source, a.url, a.language, a.warc_file, a.warc_offset FROM articles a
             LEFT JOIN article_processing p ON p.article_id = a.id
             WHERE (:source IS NULL OR a.source = :source)
               AND (:since IS NULL OR a.published >= :since OR (a.published IS NULL AND a.fetched_at >= :since))
               AND (:skip IS NULL OR p.processed_with IS NULL OR p.processed_with != :skip)
             ORDER BY a.id"""
    return list(db.query(sql, {"source": source, "since": since, "skip": skip_version}))


def count_processed(db: sqlite_utils.Database, version: str, *, source: str | None = None,
                    since: str | None = None) -> int:
    """How many of the selected articles were last re-processed with `version`."""
    return db.execute("""SELECT count(*) FROM articles a JOIN article_processing p ON p.article_id = a.id
                         WHERE p.processed_with = :version AND (:source IS NULL OR a.source = :source)
                           AND (:since IS NULL OR a.published >= :since
                                OR (a.published IS NULL AND a.fetched_at >= :since))""",
                      {"version": version, "source": source, "since": since}).fetchone()[0]


def article_state(db: sqlite_utils.Database, article_id: int) -> dict:
    """The stored extraction fields of an article, and its decision (None: never classified)."""
    row = db.execute(f"SELECT {', '.join(REPROCESSED_FIELDS)} FROM articles WHERE id = ?", [article_id]).fetchone()
    state = dict(zip(REPROCESSED_FIELDS, row, strict=True))
    flag = db.execute("SELECT flagged FROM classifications WHERE article_id = ?", [article_id]).fetchone()
    state["flagged"] = None if flag is None else bool(flag[0])
    return state


def article_row(article: dict) -> dict:
    """An extracted article as stored: its fields, tags as JSON."""
    row = {key: article.get(key) for key in REPROCESSED_FIELDS}
    row["tags"] = json.dumps(article.get("tags") or [], ensure_ascii=False)
    return row


def update_article_fields(db: sqlite_utils.Database, article_id: int, row: dict) -> bool:
    """Rewrite an article's extraction fields (article_row); True when any differed."""
    current = db.execute(f"SELECT {', '.join(row)} FROM articles WHERE id = ?", [article_id]).fetchone()
    if current is not None and tuple(current) == tuple(row.values()):
        return False
    db.execute(f"UPDATE articles SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?", [*row.values(), article_id])
    return True


def mark_processed(db: sqlite_utils.Database, article_id: int, version: str) -> None:
    db.execute("INSERT INTO article_processing (article_id, processed_with, processed_at) VALUES (?, ?, ?) "
               "ON CONFLICT (article_id) DO UPDATE SET processed_with = excluded.processed_with, "
               "processed_at = excluded.processed_at", [article_id, version, _now()])


def gist_version(db: sqlite_utils.Database, article_id: int) -> str | None:
    row = db.execute("SELECT version FROM article_gists WHERE article_id = ?", [article_id]).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------- too-old pages

def settled_too_old(db: sqlite_utils.Database, sources: list[str], dated_from: str) -> list[dict]:
    """Pages of these sources settled as older than a window, whose recorded date (the reason's
    suffix, ISO) is at or after `dated_from` as text: a coarse bound the caller refines on the
    parsed date (offsets make text order approximate). Rows: url (key), source, reason,
    warc_file, warc_offset."""
    if not sources:
        return []
    marks = ", ".join("?" * len(sources))
    start = len(TOO_OLD_PREFIX) + 1
    return list(db.query(f"""SELECT url, source, reason, warc_file, warc_offset FROM settled_urls
                             WHERE source IN ({marks}) AND reason LIKE '{TOO_OLD_PREFIX}%'
                               AND substr(reason, {start}) >= ? ORDER BY url""", [*sources, dated_from]))


def unsettle(db: sqlite_utils.Database, key: str) -> None:
    """Forget a settled page (by its URL key): the crawl fetches it again when it finds it."""
    db.execute("DELETE FROM settled_urls WHERE url = ?", [key])


def resettle(db: sqlite_utils.Database, key: str, reason: str) -> None:
    """A settled page's reason, restated (its date as extraction now reads it)."""
    db.execute("UPDATE settled_urls SET reason = ? WHERE url = ?", [reason, key])


def stored_id(db: sqlite_utils.Database, url: str) -> int | None:
    row = db.execute("SELECT article_id FROM article_urls WHERE url = ?", [url_key(url)]).fetchone()
    return row[0] if row else None


# ---------------------------------------------------------------- retention

def kept_refs(db: sqlite_utils.Database) -> dict[str, set[int]]:
    """WARC file → offsets of the records retention keeps: the pages of flagged articles."""
    kept: dict[str, set[int]] = {}
    for file, offset in db.execute("""SELECT a.warc_file, a.warc_offset FROM articles a
                                      JOIN classifications c ON c.article_id = a.id
                                      WHERE c.flagged = 1 AND a.warc_file IS NOT NULL"""):
        kept.setdefault(file, set()).add(offset)
    return kept


def move_refs(db: sqlite_utils.Database, old_file: str, moves: dict[int, tuple[str, int]]) -> None:
    """Point the references to records of `old_file` at their copies (offset → (file, offset))."""
    for table in ("articles", "settled_urls"):
        db.conn.executemany(f"UPDATE {table} SET warc_file = ?, warc_offset = ? "
                            "WHERE warc_file = ? AND warc_offset = ?",
                            [(file, offset, old_file, old) for old, (file, offset) in moves.items()])


def clear_refs(db: sqlite_utils.Database, file: str) -> int:
    """Clear every reference still pointing into `file` (about to be deleted); returns how many."""
    cleared = 0
    for table in ("articles", "settled_urls"):
        cleared += db.execute(f"UPDATE {table} SET warc_file = NULL, warc_offset = NULL WHERE warc_file = ?",
                              [file]).rowcount
    return cleared


def count_refs(db: sqlite_utils.Database, file: str) -> int:
    return sum(db.execute(f"SELECT count(*) FROM {table} WHERE warc_file = ?", [file]).fetchone()[0]
               for table in ("articles", "settled_urls"))
