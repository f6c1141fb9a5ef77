"""The outbox: deliveries of digests and immediate alerts per channel, claimed by one run at a
time, and the once-a-day channel notes."""
from __future__ import annotations

import json

import sqlite_utils

from pipeline.store.rows import _chunks, _with_lists
from pipeline.store.schema import utcnow


def enqueue_deliveries(db: sqlite_utils.Database, channel: str, digest_id: int, article_ids: list[int],
                       since_day: str | None = None) -> None:
    """Queue these articles on a channel, and every article of the digests since `since_day`
    not queued on it yet (digests written by `tipwatch run` without sending)."""
    with db.atomic():
        for article_id in article_ids:
            db.execute("INSERT OR IGNORE INTO deliveries (article_id, channel, digest_id, state, attempts)"
                       " VALUES (?, ?, ?, 'pending', 0)", [article_id, channel, digest_id])
        if since_day:
            db.execute("""INSERT OR IGNORE INTO deliveries (article_id, channel, digest_id, state, attempts)
                          SELECT di.article_id, ?, di.digest_id, 'pending', 0
                          FROM digest_items di JOIN digests d ON d.id = di.digest_id WHERE d.day >= ?""",
                       [channel, since_day])


def claim_deliveries(db: sqlite_utils.Database, channel: str, token: str, stale_claims: list[str],
                     kind: str | None = None) -> list[int]:
    """Atomically take every pending item of `channel` that no live run holds; returns their ids.
    `stale_claims` are claim tokens known dead (their process is gone). `kind` 'alert' takes only
    the queued alerts (a digest takes every pending item: a failed alert then goes in it)."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")  # one claimer at a time: two digests cannot take the same items
    try:
        marks = ",".join("?" * len(stale_claims)) or "NULL"
        conn.execute(f"""UPDATE deliveries SET claimed_by = ?, claimed_at = ?
                         WHERE channel = ? AND state = 'pending'
                           AND (claimed_by IS NULL OR claimed_by IN ({marks}))
                           AND (? IS NULL OR kind = ?)""",
                     [token, utcnow(), channel, *stale_claims, kind, kind])
        ids = [row[0] for row in conn.execute(
            "SELECT article_id FROM deliveries WHERE channel = ? AND claimed_by = ? AND state = 'pending'",
            [channel, token])]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return ids


def claim_tokens(db: sqlite_utils.Database, channel: str) -> list[str]:
    return [row[0] for row in db.execute(
        "SELECT DISTINCT claimed_by FROM deliveries WHERE channel = ? AND state = 'pending' AND claimed_by IS NOT NULL",
        [channel])]


def mark_delivered(db: sqlite_utils.Database, channel: str, article_ids: list[int], token: str,
                   kind: str = "digest") -> None:
    """`kind`: what carried it, 'digest' or 'alert' (the digest then says "alerted at")."""
    with db.atomic():
        for article_id in article_ids:
            db.execute("""UPDATE deliveries SET state = 'delivered', delivered_at = ?, claimed_by = NULL,
                          attempts = attempts + 1, last_error = NULL, kind = ?
                          WHERE article_id = ? AND channel = ? AND claimed_by = ?""",
                       [utcnow(), kind, article_id, channel, token])


def release_claims(db: sqlite_utils.Database, channel: str, token: str, error: str | None) -> int:
    """Give back what a run claimed but did not deliver; they stay pending for the next run."""
    with db.atomic():
        cursor = db.execute("""UPDATE deliveries SET claimed_by = NULL, attempts = attempts + 1,
                               last_error = coalesce(?, last_error)
                               WHERE channel = ? AND claimed_by = ? AND state = 'pending'""",
                            [error, channel, token])
        return cursor.rowcount


def delivery_items(db: sqlite_utils.Database, ids: list[int]) -> list[dict]:
    """The digest rows of these articles with their story, in digest order (oldest digest first)."""
    rows: list[dict] = []
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        rows += db.query(f"""
            SELECT a.id, a.url, a.source, a.title, a.published, a.language, a.author,
                   c.score, c.matched_terms, c.snippet, c.subtopics, c.countries,
                   (SELECT g.gist FROM article_gists g WHERE g.article_id = a.id) AS gist,
                   (SELECT g.title_en FROM article_gists g WHERE g.article_id = a.id) AS title_en,
                   di.story_key, di.follow_up_of, di.position, d.day AS digest_day
            FROM articles a JOIN classifications c ON c.article_id = a.id
            JOIN digest_items di ON di.article_id = a.id JOIN digests d ON d.id = di.digest_id
            WHERE a.id IN ({marks})""", chunk)
    rows = _with_lists(rows)
    for row in rows:
        row["follow_up_of"] = json.loads(row["follow_up_of"]) if row["follow_up_of"] else None
    return sorted(rows, key=lambda r: (r["digest_day"], r["position"]))


def delivery_counts(db: sqlite_utils.Database, channel: str, kind: str | None = None) -> dict[str, int]:
    return {row[0]: row[1] for row in db.execute(
        "SELECT state, count(*) FROM deliveries WHERE channel = ? AND (? IS NULL OR kind = ?) GROUP BY state",
        [channel, kind, kind])}


_ALERT_COLUMNS = """a.id, a.url, a.source, a.title, a.published, a.language, a.author, a.stored_at,
                    c.score, c.rules, c.matched_terms, c.snippet, c.subtopics, c.countries"""


def alert_candidates(db: sqlite_utils.Database, stored_since: str) -> list[dict]:
    """Flagged articles stored since `stored_since` (ISO UTC) and in no digest yet: what a
    crawl's end may alert on (a crawl that died before alerting is caught up by the next)."""
    # the few flagged ids in no digest first (flagged index, digest_items key), then their rows:
    # read the other way, every flagged article's row (text and all) would be read each crawl
    rows = _with_lists(db.query(f"""
        WITH pending AS (
            SELECT c.article_id FROM classifications c WHERE c.flagged = 1
              AND NOT EXISTS (SELECT 1 FROM digest_items di WHERE di.article_id = c.article_id))
        SELECT {_ALERT_COLUMNS} FROM pending p JOIN articles a ON a.id = p.article_id
        JOIN classifications c ON c.article_id = p.article_id
        WHERE a.stored_at >= ? ORDER BY a.id""", [stored_since]))
    for row in rows:
        row["rules"] = json.loads(row["rules"] or "{}")
    return rows


def alert_items(db: sqlite_utils.Database, ids: list[int]) -> list[dict]:
    """The articles of claimed alerts, in id order (the order they were stored)."""
    rows: list[dict] = []
    for chunk in _chunks(ids):
        rows += db.query(f"""SELECT {_ALERT_COLUMNS} FROM articles a JOIN classifications c ON c.article_id = a.id
                             WHERE a.id IN ({",".join("?" * len(chunk))})""", chunk)
    rows = _with_lists(rows)
    for row in rows:
        row["rules"] = json.loads(row["rules"] or "{}")
    return sorted(rows, key=lambda r: r["id"])


def enqueue_alerts(db: sqlite_utils.Database, target: str, article_ids: list[int]) -> None:
    """Queue alerts; an article already queued or delivered on the target is left as it is."""
    with db.atomic():
        db.conn.executemany("INSERT OR IGNORE INTO deliveries (article_id, channel, state, attempts, kind)"
                            " VALUES (?, ?, 'pending', 0, 'alert')", [(i, target) for i in article_ids])


def enqueue_digested(db: sqlite_utils.Database, target: str, article_ids: list[int]) -> None:
    """Queue these articles, each under the digest it is in (a subscription's daily digest)."""
    with db.atomic():
        for chunk in _chunks(article_ids):
            db.execute(f"""INSERT OR IGNORE INTO deliveries (article_id, channel, digest_id, state, attempts, kind)
                           SELECT article_id, ?, digest_id, 'pending', 0, 'digest' FROM digest_items
                           WHERE article_id IN ({",".join("?" * len(chunk))})""", [target, *chunk])


def digested_since(db: sqlite_utils.Database, since_day: str) -> list[int]:
    """Articles of the digests of days from `since_day` on."""
    return [row[0] for row in db.execute("""SELECT di.article_id FROM digest_items di
                                            JOIN digests d ON d.id = di.digest_id WHERE d.day >= ?""", [since_day])]


def alerts_sent(db: sqlite_utils.Database, ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """article id → [(target, delivered_at)] of the alerts it went out in, earliest first."""
    found: dict[int, list[tuple[str, str]]] = {}
    for chunk in _chunks(ids):
        for article_id, target, at in db.execute(f"""
                SELECT article_id, channel, delivered_at FROM deliveries
                WHERE kind = 'alert' AND state = 'delivered' AND article_id IN ({",".join("?" * len(chunk))})
                ORDER BY delivered_at""", chunk):
            found.setdefault(article_id, []).append((target, at))
    return found


def alerted_in_digest(db: sqlite_utils.Database, target: str, day: str) -> list[dict]:
    """The articles of the day's digest already sent to `target` as immediate alerts: id, title,
    url, source and when (delivered_at), in the order they went out."""
    return list(db.query("""
        SELECT a.id, a.title, a.url, a.source, d.delivered_at FROM digests g
        JOIN digest_items di ON di.digest_id = g.id
        JOIN deliveries d ON d.article_id = di.article_id AND d.channel = ? AND d.kind = 'alert'
                          AND d.state = 'delivered'
        JOIN articles a ON a.id = di.article_id
        WHERE g.day = ? ORDER BY d.delivered_at, a.id""", [target, day]))


def note_sent(db: sqlite_utils.Database, channel: str, day: str, kind: str) -> bool:
    return db.execute("SELECT 1 FROM channel_notes WHERE channel = ? AND day = ? AND kind = ?",
                      [channel, day, kind]).fetchone() is not None


def record_note(db: sqlite_utils.Database, channel: str, day: str, kind: str) -> None:
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO channel_notes (channel, day, kind, sent_at) VALUES (?, ?, ?, ?)",
                   [channel, day, kind, utcnow()])
