"""Read-only looks at the outbox, for a dry run (`tipwatch digest --dry-run`): what a send would
queue and claim on a target, without queueing or claiming anything (pipeline/store/outbox.py
does both for a real send)."""
from __future__ import annotations

import sqlite_utils

from pipeline.store.rows import _chunks


def delivery_states(db: sqlite_utils.Database, target: str, ids: list[int]) -> dict[int, str]:
    """article id → its state on `target` ('pending' or 'delivered'); an article never queued
    there is left out."""
    found: dict[int, str] = {}
    for chunk in _chunks(ids):
        found.update(db.execute(f"""SELECT article_id, state FROM deliveries
                                    WHERE channel = ? AND article_id IN ({",".join("?" * len(chunk))})""",
                                [target, *chunk]).fetchall())
    return found


def pending_on(db: sqlite_utils.Database, target: str, since_day: str | None = None) -> list[int]:
    """The articles a send on `target` would take besides the day's own: those pending there, and
    with `since_day`, those of the digests of days from `since_day` on never queued there (as
    enqueue_deliveries would queue them)."""
    rows = db.execute("""
        SELECT article_id FROM deliveries WHERE channel = :target AND state = 'pending'
        UNION
        SELECT di.article_id FROM digest_items di JOIN digests d ON d.id = di.digest_id
        WHERE :since IS NOT NULL AND d.day >= :since
          AND NOT EXISTS (SELECT 1 FROM deliveries x WHERE x.article_id = di.article_id AND x.channel = :target)
        ORDER BY 1""", {"target": target, "since": since_day})
    return [row[0] for row in rows]
