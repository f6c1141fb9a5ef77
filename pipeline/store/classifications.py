"""What the topic stage decided on each article, the analyst's labels, and the trained models."""
from __future__ import annotations

import json

import sqlite_utils

from pipeline.store.schema import utcnow

_CLASSIFICATION_FIELDS = ("profile_version", "rules", "probability", "model_version", "reason", "score",
                          "flagged", "matched_terms", "snippet", "subtopics", "countries")


def save_classification(db: sqlite_utils.Database, article_id: int, result: dict) -> bool:
    """Store a classification; returns True when it changed anything."""
    row = {
        "profile_version": result["profile_version"],
        "rules": json.dumps(result.get("rules") or {}, ensure_ascii=False, sort_keys=True),
        "probability": (None if result.get("probability") is None
                        else round(float(result["probability"]), 4)),
        "model_version": result.get("model_version"),
        "reason": result.get("reason"),
        "score": round(float(result["score"]), 4),
        "flagged": int(bool(result["flagged"])),
        "matched_terms": json.dumps(result.get("matched_terms", []), ensure_ascii=False),
        "snippet": result.get("snippet", ""),
        "subtopics": json.dumps(result.get("subtopics", []), ensure_ascii=False),
        "countries": json.dumps(result.get("countries", []), ensure_ascii=False),
    }
    current = db.execute(f"SELECT {', '.join(_CLASSIFICATION_FIELDS)} FROM classifications WHERE article_id = ?",
                         [article_id]).fetchone()
    if current is not None and tuple(current) == tuple(row[k] for k in _CLASSIFICATION_FIELDS):
        return False
    columns = ("article_id", *_CLASSIFICATION_FIELDS, "classified_at")
    values = [article_id, *(row[k] for k in _CLASSIFICATION_FIELDS), utcnow()]
    with db.atomic():
        db.execute(f"INSERT INTO classifications ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                   f"ON CONFLICT (article_id) DO UPDATE SET "
                   + ", ".join(f"{c} = excluded.{c}" for c in columns[1:]), values)
    return True


def flags_of(db: sqlite_utils.Database, article_ids: list[int]) -> dict[int, bool]:
    """article id → flagged, for those of the ids that have a classification."""
    if not article_ids:
        return {}
    rows = db.execute(f"SELECT article_id, flagged FROM classifications WHERE article_id IN "
                      f"({', '.join('?' * len(article_ids))})", list(article_ids))
    return {article_id: bool(flag) for article_id, flag in rows}


def flagged_count(db: sqlite_utils.Database, source: str | None = None) -> int:
    sql = "SELECT count(*) FROM classifications c JOIN articles a ON a.id = c.article_id WHERE c.flagged = 1"
    params: list = []
    if source is not None:
        sql += " AND a.source = ?"
        params.append(source)
    return db.execute(sql, params).fetchone()[0]


def save_label(db: sqlite_utils.Database, article_id: int, label: int, note: str | None) -> int | None:
    """Record the analyst's verdict on an article; returns the previous label (None if new)."""
    row = db.execute("SELECT label FROM labels WHERE article_id = ?", [article_id]).fetchone()
    with db.atomic():
        db.table("labels").upsert({"article_id": article_id, "label": int(label), "note": note,
                                   "labelled_at": utcnow()}, pk="article_id")
    return row[0] if row else None


def labelled_articles(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("""SELECT a.id, a.title, a.text, a.language, l.label FROM labels l
                            JOIN articles a ON a.id = l.article_id ORDER BY a.id"""))


def save_model(db: sqlite_utils.Database, record: dict) -> None:
    with db.atomic():
        db.table("models").upsert(dict(record, trained_at=utcnow()), pk="version")


def trained_models(db: sqlite_utils.Database) -> list[dict]:
    """Every recorded model, newest first."""
    return list(db.query("SELECT * FROM models ORDER BY trained_at DESC, rowid DESC"))
