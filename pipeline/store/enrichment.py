"""The places each article names and its English gist (pipeline/enrich)."""
from __future__ import annotations

import sqlite_utils

from pipeline.store.schema import utcnow

_GIST_FIELDS = ("gist", "title_en", "lead_en", "method", "version")


_PLACE_FIELDS = ("place", "country", "kind", "lat", "lon", "now_in", "mentions", "first_at")


def save_enrichment(db: sqlite_utils.Database, article_id: int, result: dict) -> None:
    """Replace an article's places and gist with those of `result` (pipeline.enrich.enrich)."""
    with db.atomic():
        db.execute("DELETE FROM article_places WHERE article_id = ?", [article_id])
        db.conn.executemany(
            f"INSERT INTO article_places (article_id, {', '.join(_PLACE_FIELDS)}) "
            f"VALUES (?, {', '.join('?' * len(_PLACE_FIELDS))})",
            [(article_id, *(row[k] for k in _PLACE_FIELDS)) for row in result["places"]])
        values = [article_id, *(result.get(k) for k in _GIST_FIELDS), utcnow()]
        db.execute(f"INSERT OR REPLACE INTO article_gists (article_id, {', '.join(_GIST_FIELDS)}, made_at) "
                   f"VALUES ({', '.join('?' * len(values))})", values)


def articles_to_enrich(db: sqlite_utils.Database, version: str, everything: bool = False):
    """Articles never read for places, or read with another gazetteer or glossary (all with
    `everything`), as dicts with id, title, text, language, published."""
    where = "" if everything else ("WHERE NOT EXISTS (SELECT 1 FROM article_gists g "
                                   "WHERE g.article_id = a.id AND g.version = :version)")
    return db.query(f"SELECT a.id, a.title, a.text, a.language, a.published FROM articles a {where} ORDER BY a.id",
                    {"version": version})


def article_places(db: sqlite_utils.Database, article_id: int) -> list[dict]:
    return list(db.query(f"SELECT {', '.join(_PLACE_FIELDS)} FROM article_places WHERE article_id = ? "
                         "ORDER BY first_at", [article_id]))


def article_gist(db: sqlite_utils.Database, article_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM article_gists WHERE article_id = ?", [article_id]))
    return rows[0] if rows else None
