"""Articles and the URLs they were seen under, and pages settled without an article."""
from __future__ import annotations

import json

import sqlite_utils

from pipeline.records import PageRef
from pipeline.store.schema import immediate, utcnow
from pipeline.urls import url_key


def is_known_url(db: sqlite_utils.Database, key: str) -> bool:
    """Is this URL key (see urls.url_key) one not to fetch again: a stored article's, under any of
    its URLs, or a page settled without an article (too old, gone, not an article)?"""
    return db.execute("SELECT EXISTS (SELECT 1 FROM article_urls WHERE url = ?) "
                      "OR EXISTS (SELECT 1 FROM settled_urls WHERE url = ?)", [key, key]).fetchone()[0] == 1


def settle_url(db: sqlite_utils.Database, url: str, source: str, reason: str,
               page_ref: PageRef | None = None) -> None:
    """Remember a fetched page that gave no article, so later runs do not fetch it again; with
    `page_ref`, the WARC record it was kept as (pipeline/archive)."""
    ref = (page_ref.file, page_ref.offset) if page_ref else (None, None)
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO settled_urls (url, source, reason, settled_at, warc_file, warc_offset) "
                   "VALUES (?, ?, ?, ?, ?, ?)", [url_key(url), source, reason, utcnow(), *ref])


def article_id_for_url(db: sqlite_utils.Database, url: str) -> int | None:
    return _stored_id(db, [url_key(url)])


_ARTICLE_FIELDS = ("title", "text", "author", "published", "date_source", "language", "sitename",
                   "description", "image", "tags")


def _stored_id(db: sqlite_utils.Database, keys: list[str]) -> int | None:
    """The article stored under the first of these URL keys that has one."""
    marks = ", ".join("?" * len(keys))
    found = dict(db.execute(f"SELECT url, article_id FROM article_urls WHERE url IN ({marks})", keys).fetchall())
    return next((found[key] for key in keys if key in found), None)


def save_article(db: sqlite_utils.Database, article: dict, aliases: tuple[str, ...] = (),
                 page_ref: PageRef | None = None) -> int:
    """Upsert an article by its URL and record every alias URL; returns its id.

    `article` holds url, source, fetched_at and the extraction fields; `page_ref`, the WARC
    record of the page they were extracted from. An existing row keeps its id and first fetch
    time (and its record, unless a new one is given), so re-running stores nothing twice.
    Plain statements rather than sqlite-utils' table API: the crawl stores every article
    through here, and the API's per-call introspection cost more than the insert itself.
    """
    url = article["url"]
    keys = list(dict.fromkeys(url_key(u) for u in (url, *aliases)))
    row = {key: article.get(key) for key in _ARTICLE_FIELDS}
    row["tags"] = json.dumps(article.get("tags") or [], ensure_ascii=False)
    if page_ref is not None:
        row.update(warc_file=page_ref.file, warc_offset=page_ref.offset)
    # looked up under the write lock: an article another process stored meanwhile is then updated,
    # not inserted twice (which the unique URL index would refuse)
    with immediate(db):
        existing = _stored_id(db, keys)
        if existing is None:
            row.update(url=url, source=article["source"], fetched_at=article.get("fetched_at") or utcnow(),
                       stored_at=utcnow())
            article_id = db.execute(f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                    list(row.values())).lastrowid
            assert article_id is not None  # set by every INSERT
        else:
            article_id = existing
            current = db.execute(f"SELECT {', '.join(row)} FROM articles WHERE id = ?", [article_id]).fetchone()
            if tuple(current) != tuple(row.values()):
                db.execute(f"UPDATE articles SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                           [*row.values(), article_id])
        db.conn.executemany("INSERT OR IGNORE INTO article_urls (url, article_id) VALUES (?, ?)",
                            [(key, article_id) for key in keys])
    return article_id


def add_aliases(db: sqlite_utils.Database, url: str, aliases: tuple[str, ...]) -> None:
    """Record more URLs for the article stored under `url` (no-op if it is not stored)."""
    article_id = article_id_for_url(db, url)
    if article_id is None:
        return
    with db.atomic():
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


def article_ref(db: sqlite_utils.Database, ref: str) -> dict | None:
    """An article by its id or by any URL it was seen under."""
    article_id = int(ref) if ref.strip().isdigit() else article_id_for_url(db, ref.strip())
    if article_id is None:
        return None
    rows = list(db.query("SELECT id, url, title FROM articles WHERE id = ?", [article_id]))
    return rows[0] if rows else None
