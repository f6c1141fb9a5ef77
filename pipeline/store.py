"""All of tipwatch's SQL: schema, migrations and every query, in one module.

Writes are idempotent upserts keyed on natural keys (normalised URL, digest
day), so running any command twice leaves the database as it was.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import sqlite_utils

from .urls import url_key

SCHEMA_VERSION = 1


def utcnow() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating and migrating if needed) the tipwatch database."""
    path = Path(path)
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 30000")
    if str(path) != ":memory:":
        db.enable_wal()
    migrate(db)
    return db


def migrate(db: sqlite_utils.Database) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return
    with db.conn:
        _create_tables(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create_tables(db: sqlite_utils.Database) -> None:
    db["articles"].create({
        "id": int, "url": str, "source": str, "title": str, "text": str, "author": str,
        "published": str, "date_source": str, "language": str, "sitename": str,
        "description": str, "tags": str, "image": str, "fetched_at": str, "stored_at": str,
    }, pk="id", not_null={"url", "source"}, if_not_exists=True)
    db["articles"].create_index(["url"], unique=True, if_not_exists=True)
    db["articles"].create_index(["source", "published"], if_not_exists=True)
    db["articles"].create_index(["published"], if_not_exists=True)
    if not db["articles_fts"].exists():
        db["articles"].enable_fts(["title", "text"], create_triggers=True, tokenize="unicode61")
    # every URL an article was seen under (feed link, tracking variant, canonical):
    # the spider skips all of them on later runs
    db["article_urls"].create({"url": str, "article_id": int}, pk="url",
                              foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db["settled_urls"].create({"url": str, "source": str, "reason": str, "settled_at": str},
                              pk="url", if_not_exists=True)
    db["classifications"].create({
        "article_id": int, "profile_version": str, "score": float, "flagged": int,
        "matched_terms": str, "snippet": str, "subtopics": str, "countries": str,
        "classified_at": str,
    }, pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db["classifications"].create_index(["flagged"], if_not_exists=True)
    db["crawl_runs"].create({
        "id": int, "started_at": str, "finished_at": str, "sources": str, "status": str,
    }, pk="id", if_not_exists=True)
    db["crawl_source_stats"].create({
        "run_id": int, "source": str, "requests": int, "responses": int, "articles_found": int,
        "articles_fetched": int, "articles_stored": int, "articles_flagged": int, "skipped_known": int, "skipped_old": int,
        "skipped_offsite": int, "duplicates": int, "extraction_failures": int, "errors": int,
        "status_counts": str, "error_counts": str, "duration_s": float,
    }, pk=("run_id", "source"), foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    db["crawl_errors"].create({
        "id": int, "run_id": int, "source": str, "url": str, "kind": str, "detail": str, "at": str,
    }, pk="id", foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    db["crawl_errors"].create_index(["run_id", "source"], if_not_exists=True)
    db["digests"].create({
        "id": int, "day": str, "path": str, "created_at": str, "item_count": int,
    }, pk="id", if_not_exists=True)
    db["digests"].create_index(["day"], unique=True, if_not_exists=True)
    db["digest_items"].create({"article_id": int, "digest_id": int, "position": int},
                              pk="article_id",
                              foreign_keys=[("article_id", "articles", "id"), ("digest_id", "digests", "id")],
                              if_not_exists=True)


# ---------------------------------------------------------------- articles

def known_url_keys(db: sqlite_utils.Database) -> set[str]:
    """Keys (see urls.url_key) of every URL not to fetch again: stored articles under all
    their aliases, and pages settled without an article (too old, gone, not an article)."""
    stored = {row[0] for row in db.execute("SELECT url FROM article_urls")}
    return stored | {row[0] for row in db.execute("SELECT url FROM settled_urls")}


def settle_url(db: sqlite_utils.Database, url: str, source: str, reason: str) -> None:
    """Remember a fetched page that gave no article, so later runs do not fetch it again."""
    with db.conn:
        db.execute("INSERT OR IGNORE INTO settled_urls (url, source, reason, settled_at) VALUES (?, ?, ?, ?)",
                   [url_key(url), source, reason, utcnow()])


def article_id_for_url(db: sqlite_utils.Database, url: str) -> int | None:
    row = db.execute("SELECT article_id FROM article_urls WHERE url = ?", [url_key(url)]).fetchone()
    return row[0] if row else None


_ARTICLE_FIELDS = ("title", "text", "author", "published", "date_source", "language", "sitename",
                   "description", "image")


def save_article(db: sqlite_utils.Database, article: dict, aliases: tuple[str, ...] = ()) -> int:
    """Upsert an article by its URL and record every alias URL; returns its id.

    `article` holds url, source, fetched_at and the extraction fields. An existing
    row keeps its id and first fetch time, so re-running stores nothing twice.
    """
    url = article["url"]
    existing = article_id_for_url(db, url)
    for alias in aliases:
        existing = existing or article_id_for_url(db, alias)
    row = {key: article.get(key) for key in _ARTICLE_FIELDS}
    row["tags"] = json.dumps(article.get("tags") or [], ensure_ascii=False)
    with db.conn:
        if existing is None:
            row.update(url=url, source=article["source"], fetched_at=article.get("fetched_at") or utcnow(),
                       stored_at=utcnow())
            article_id = db["articles"].insert(row).last_pk
        else:
            article_id = existing
            current = db["articles"].get(article_id)
            if any(current[key] != value for key, value in row.items()):
                db["articles"].update(article_id, row)
        for key in {url_key(u) for u in (url, *aliases)}:
            db.execute("INSERT OR IGNORE INTO article_urls (url, article_id) VALUES (?, ?)",
                       [key, article_id])
    return article_id


def add_aliases(db: sqlite_utils.Database, url: str, aliases: tuple[str, ...]) -> None:
    """Record more URLs for the article stored under `url` (no-op if it is not stored)."""
    article_id = article_id_for_url(db, url)
    if article_id is None:
        return
    with db.conn:
        for key in {url_key(u) for u in aliases}:
            db.execute("INSERT OR IGNORE INTO article_urls (url, article_id) VALUES (?, ?)", [key, article_id])


def iter_articles(db: sqlite_utils.Database, ids: list[int] | None = None):
    if ids is None:
        yield from db.query("SELECT id, title, text, language FROM articles ORDER BY id")
        return
    for article_id in ids:
        yield from db.query("SELECT id, title, text, language FROM articles WHERE id = ?", [article_id])


def article_count(db: sqlite_utils.Database, source: str | None = None) -> int:
    if source is None:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]
    return db.execute("SELECT count(*) FROM articles WHERE source = ?", [source]).fetchone()[0]


# ---------------------------------------------------------------- classifications

def save_classification(db: sqlite_utils.Database, article_id: int, result: dict) -> bool:
    """Store a classification; returns True when it changed anything."""
    row = {
        "article_id": article_id,
        "profile_version": result["profile_version"],
        "score": round(float(result["score"]), 4),
        "flagged": int(bool(result["flagged"])),
        "matched_terms": json.dumps(result.get("matched_terms", []), ensure_ascii=False),
        "snippet": result.get("snippet", ""),
        "subtopics": json.dumps(result.get("subtopics", []), ensure_ascii=False),
        "countries": json.dumps(result.get("countries", []), ensure_ascii=False),
    }
    current = db["classifications"].get(article_id) if _has_classification(db, article_id) else None
    if current and all(current[k] == v for k, v in row.items()):
        return False
    row["classified_at"] = utcnow()
    with db.conn:
        db["classifications"].upsert(row, pk="article_id")
    return True


def _has_classification(db, article_id: int) -> bool:
    return db.execute("SELECT 1 FROM classifications WHERE article_id = ?", [article_id]).fetchone() is not None


def flagged_count(db: sqlite_utils.Database, source: str | None = None) -> int:
    sql = "SELECT count(*) FROM classifications c JOIN articles a ON a.id = c.article_id WHERE c.flagged = 1"
    params: list = []
    if source is not None:
        sql += " AND a.source = ?"
        params.append(source)
    return db.execute(sql, params).fetchone()[0]


# ---------------------------------------------------------------- crawl records

def start_run(db: sqlite_utils.Database, sources: list[str]) -> int:
    with db.conn:
        return db["crawl_runs"].insert({
            "started_at": utcnow(), "sources": json.dumps(sources), "status": "running",
        }).last_pk


def finish_run(db: sqlite_utils.Database, run_id: int, status: str) -> None:
    with db.conn:
        db["crawl_runs"].update(run_id, {"finished_at": utcnow(), "status": status})


def save_source_stats(db: sqlite_utils.Database, run_id: int, source: str, stats: dict) -> None:
    row = dict(stats, run_id=run_id, source=source)
    for key in ("status_counts", "error_counts"):
        row[key] = json.dumps(row.get(key) or {}, sort_keys=True)
    with db.conn:
        db["crawl_source_stats"].upsert(row, pk=("run_id", "source"))


def record_error(db: sqlite_utils.Database, run_id: int, source: str, url: str, kind: str, detail: str) -> None:
    with db.conn:
        db["crawl_errors"].insert({
            "run_id": run_id, "source": source, "url": url, "kind": kind,
            "detail": detail[:1000], "at": utcnow(),
        })


def run_stats(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    rows = list(db.query("SELECT * FROM crawl_source_stats WHERE run_id = ? ORDER BY source", [run_id]))
    for row in rows:
        row["status_counts"] = json.loads(row["status_counts"] or "{}")
        row["error_counts"] = json.loads(row["error_counts"] or "{}")
    return rows


def run_errors(db: sqlite_utils.Database, run_id: int) -> list[dict]:
    return list(db.query("SELECT source, url, kind, detail FROM crawl_errors WHERE run_id = ? ORDER BY id",
                         [run_id]))


def latest_run_id(db: sqlite_utils.Database) -> int | None:
    row = db.execute("SELECT max(id) FROM crawl_runs").fetchone()
    return row[0]


# ---------------------------------------------------------------- digests

def digest_for_day(db: sqlite_utils.Database, day: str) -> dict | None:
    rows = list(db.query("SELECT * FROM digests WHERE day = ?", [day]))
    return rows[0] if rows else None


def digest_candidates(db: sqlite_utils.Database, day: str) -> list[dict]:
    """Flagged articles in no earlier digest (those already in this day's digest stay in it)."""
    sql = """
        SELECT a.id, a.url, a.source, a.title, a.published, a.language, a.author,
               c.score, c.matched_terms, c.snippet, c.subtopics, c.countries
        FROM articles a
        JOIN classifications c ON c.article_id = a.id
        LEFT JOIN digest_items di ON di.article_id = a.id
        LEFT JOIN digests d ON d.id = di.digest_id
        WHERE c.flagged = 1 AND (di.article_id IS NULL OR d.day = ?)
        ORDER BY coalesce(a.published, '') DESC, a.id DESC
    """
    rows = list(db.query(sql, [day]))
    for row in rows:
        for key in ("matched_terms", "subtopics", "countries"):
            row[key] = json.loads(row[key] or "[]")
    return rows


def save_digest(db: sqlite_utils.Database, day: str, path: str, article_ids: list[int]) -> int:
    with db.conn:
        existing = digest_for_day(db, day)
        row = {"day": day, "path": path, "item_count": len(article_ids), "created_at": utcnow()}
        if existing:
            digest_id = existing["id"]
            if existing["item_count"] != len(article_ids) or existing["path"] != path:
                db["digests"].update(digest_id, row)
        else:
            digest_id = db["digests"].insert(row).last_pk
        for position, article_id in enumerate(article_ids):
            db.execute("INSERT OR REPLACE INTO digest_items (article_id, digest_id, position) VALUES (?, ?, ?)",
                       [article_id, digest_id, position])
    return digest_id
