"""All of tipwatch's SQL: schema, migrations and every query, in one module.

Writes are idempotent upserts keyed on natural keys (normalised URL, digest
day), so running any command twice leaves the database as it was. Each write is
one transaction, `db.atomic()`: sqlite-utils commits a write statement at once
unless a transaction is open, so `with db.conn:` alone would not hold an article
and its URLs together.
"""
from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlite_utils

from pipeline.urls import url_key

SCHEMA_VERSION = 8
# FTS5's unicode61 folds the diacritics of a letter that carries several (Vietnamese "ệ", "ở")
# only with remove_diacritics 2; with 1 (sqlite-utils' default) "Nghe An" found 1 of 3 "Nghệ An".
FTS_TOKENIZE = "unicode61 remove_diacritics 2"


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


@contextmanager
def immediate(db: sqlite_utils.Database):
    """One write transaction holding the write lock from its start (a savepoint inside an open one).

    sqlite-utils' atomic() begins DEFERRED: a transaction that reads, then writes, must upgrade its
    lock, and when another connection wrote in between SQLite refuses at once ("database is
    locked", the busy timeout never applies). IMMEDIATE waits for the lock up front, on the timeout.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.rollback()  # a no-op when the error already ended the transaction
        raise


def _version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> None:
    """Create or upgrade the schema; safe when several processes open a new database at once
    (each waits for the write lock, then finds the version another one left)."""
    if _version(db) >= SCHEMA_VERSION:
        return
    with immediate(db):
        version = _version(db)
        if version >= SCHEMA_VERSION:
            return  # migrated by another process while this one waited
        _create_tables(db)
        if version >= 1 and "story_key" not in db["digest_items"].columns_dict:
            # v1 → v2: digest items remember their story
            db.execute("ALTER TABLE digest_items ADD COLUMN story_key TEXT")
            db.execute("ALTER TABLE digest_items ADD COLUMN follow_up_of TEXT")
        _create_delivery_tables(db)
        _create_validator_tables(db)
        _create_model_tables(db)
        _create_overview_table(db)
        _create_alert_tables(db)
        _create_place_tables(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _fold_search_accents(db: sqlite_utils.Database) -> None:
    """v6 → v7: rebuild the full-text index with the accent-folding tokenizer. The index has its
    content in `articles` and its triggers on `articles`, so only the index itself is remade."""
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()
    if "remove_diacritics 2" in sql:
        return
    db.execute("DROP TABLE articles_fts")
    db.execute(f"CREATE VIRTUAL TABLE articles_fts USING FTS5 (title, text, tokenize='{FTS_TOKENIZE}', "
               "content='articles')")
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")


# ---------------------------------------------------------------- the Articles page

# What `tipwatch serve` shows as "Articles": every classified article with its classification and
# analyst label, one row each. v7 → v8: a table kept up to date by triggers, no longer a view over
# a join: on a million articles Datasette's row count and facets of the join took ~400 ms each,
# on this table they read one narrow index.
OVERVIEW_SELECT = """
SELECT a.id, a.published, substr(a.published, 1, 7) AS published_month, a.date_source, a.title, a.source,
       a.language, c.flagged, c.score, c.probability, c.reason, coalesce(c.matched_terms, '[]') AS matched_terms,
       coalesce(c.subtopics, '[]') AS subtopics, coalesce(c.countries, '[]') AS countries, c.snippet,
       l.label AS analyst_label, l.note AS analyst_note, a.author, a.url, a.fetched_at
FROM articles a
JOIN classifications c ON c.article_id = a.id
LEFT JOIN labels l ON l.article_id = a.id
"""
OVERVIEW_COLUMNS = {
    "id": int, "published": str, "published_month": str, "date_source": str, "title": str, "source": str,
    "language": str, "flagged": int, "score": float, "probability": float, "reason": str, "matched_terms": str,
    "subtopics": str, "countries": str, "snippet": str, "analyst_label": int, "analyst_note": str,
    "author": str, "url": str, "fetched_at": str,
}
# (name, table, event, the article id in the trigger's row): each refreshes or removes one row
_OVERVIEW_TRIGGERS = [
    ("overview_classified", "classifications", "AFTER INSERT", "NEW.article_id"),
    ("overview_reclassified", "classifications", "AFTER UPDATE", "NEW.article_id"),
    ("overview_unclassified", "classifications", "AFTER DELETE", "OLD.article_id"),
    ("overview_article_changed", "articles", "AFTER UPDATE", "NEW.id"),
    ("overview_article_deleted", "articles", "AFTER DELETE", "OLD.id"),
    ("overview_labelled", "labels", "AFTER INSERT", "NEW.article_id"),
    ("overview_relabelled", "labels", "AFTER UPDATE", "NEW.article_id"),
    ("overview_unlabelled", "labels", "AFTER DELETE", "OLD.article_id"),
]
# the page opens on flagged articles, newest first; its facets and count read these (covering) indexes
_OVERVIEW_INDEXES = [["published"], ["flagged", "published"], ["flagged", "source"], ["flagged", "language"],
                     ["flagged", "published_month"], ["flagged", "subtopics"], ["flagged", "countries"]]


def _create_overview_table(db: sqlite_utils.Database) -> None:
    """v7 → v8: the article_overview table (it replaces the view of that name), filled from the
    stored articles, with its triggers and indexes. Idempotent."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'article_overview'").fetchone():
        db.execute("DROP VIEW article_overview")
    fill = not db["article_overview"].exists()
    db["article_overview"].create(OVERVIEW_COLUMNS, pk="id", if_not_exists=True)
    for columns in _OVERVIEW_INDEXES:
        db["article_overview"].create_index(columns, if_not_exists=True)
    columns = ", ".join(OVERVIEW_COLUMNS)
    for name, table, event, article_id in _OVERVIEW_TRIGGERS:
        db.execute(f"""CREATE TRIGGER IF NOT EXISTS {name} {event} ON {table} BEGIN
            DELETE FROM article_overview WHERE id = {article_id};
            INSERT INTO article_overview ({columns}) {OVERVIEW_SELECT.strip()} WHERE a.id = {article_id};
        END""")
    if fill:
        db.execute(f"INSERT INTO article_overview ({columns}) {OVERVIEW_SELECT.strip()} ORDER BY a.id")
    # Datasette's own pages: classifications newest first; an article's page counts its URLs
    db["classifications"].create_index(["classified_at"], if_not_exists=True)
    db["article_urls"].create_index(["article_id"], if_not_exists=True)
    # Datasette's database page counts every table (10 ms each at most, but the limit is checked
    # between steps, and a step over the index's or the fingerprints' large rows reads megabytes):
    # count(*) reads the narrowest index instead. 1.3 s → a few ms on a million articles.
    for table, column in (("articles_fts_data", "id"), ("article_fingerprints", "article_id")):
        if db[table].exists():
            db.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_count ON {table} ({column})")


def _create_delivery_tables(db: sqlite_utils.Database) -> None:
    db["article_fingerprints"].create({"article_id": int, "fingerprint": str}, pk="article_id",
                                      foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    # the outbox: one row per article and channel; 'delivered' only once the channel accepted it
    db["deliveries"].create({
        "article_id": int, "channel": str, "digest_id": int, "state": str, "claimed_by": str,
        "claimed_at": str, "delivered_at": str, "attempts": int, "last_error": str,
    }, pk=("article_id", "channel"), foreign_keys=[("article_id", "articles", "id"), ("digest_id", "digests", "id")],
        if_not_exists=True)
    db["deliveries"].create_index(["channel", "state"], if_not_exists=True)
    # notes without articles (an empty day's "nothing new"), sent at most once per day and channel
    db["channel_notes"].create({"channel": str, "day": str, "kind": str, "sent_at": str},
                               pk=("channel", "day", "kind"), if_not_exists=True)


def _create_tables(db: sqlite_utils.Database) -> None:
    db["articles"].create({
        "id": int, "url": str, "source": str, "title": str, "text": str, "author": str,
        "published": str, "date_source": str, "language": str, "sitename": str,
        "description": str, "tags": str, "image": str, "fetched_at": str, "stored_at": str,
    }, pk="id", not_null={"url", "source"}, if_not_exists=True)
    db["articles"].create_index(["url"], unique=True, if_not_exists=True)
    db["articles"].create_index(["source", "published"], if_not_exists=True)
    db["articles"].create_index(["published"], if_not_exists=True)
    # source health (last_article_at, article_counts): per-source max/range on stored_at
    db["articles"].create_index(["source", "stored_at"], if_not_exists=True)
    if not db["articles_fts"].exists():
        db["articles"].enable_fts(["title", "text"], create_triggers=True, tokenize=FTS_TOKENIZE)
    _fold_search_accents(db)
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
    # v3 → v4: each decision is explained (rule points, model probability, the reason)
    for column, kind in (("rules", str), ("probability", float), ("model_version", str), ("reason", str)):
        if column not in db["classifications"].columns_dict:
            db["classifications"].add_column(column, kind)
    db["crawl_runs"].create({
        "id": int, "started_at": str, "finished_at": str, "sources": str, "status": str,
        "pid": int, "host": str,
    }, pk="id", if_not_exists=True)
    # v5 → v6: the process that runs a crawl, so the next run can tell one that died (see start_run)
    for column, kind in (("pid", int), ("host", str)):
        if column not in db["crawl_runs"].columns_dict:
            db["crawl_runs"].add_column(column, kind)
    db["crawl_source_stats"].create({
        "run_id": int, "source": str, "requests": int, "responses": int, "articles_found": int,
        "articles_fetched": int, "articles_stored": int, "articles_flagged": int, "skipped_known": int, "skipped_old": int,
        "skipped_offsite": int, "skipped_robots": int, "duplicates": int, "extraction_failures": int, "errors": int,
        "not_modified": int, "status_counts": str, "error_counts": str, "duration_s": float,
    }, pk=("run_id", "source"), foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    # v5 → v6: requests refused by robots.txt are counted apart from those out of a source's scope
    if "skipped_robots" not in db["crawl_source_stats"].columns_dict:
        db["crawl_source_stats"].add_column("skipped_robots", int)
    # source health reads one source's runs (the key leads with run_id)
    db["crawl_source_stats"].create_index(["source", "run_id"], if_not_exists=True)
    db["crawl_errors"].create({
        "id": int, "run_id": int, "source": str, "url": str, "kind": str, "detail": str, "at": str,
    }, pk="id", foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    db["crawl_errors"].create_index(["run_id", "source"], if_not_exists=True)
    db["digests"].create({
        "id": int, "day": str, "path": str, "created_at": str, "item_count": int,
    }, pk="id", if_not_exists=True)
    db["digests"].create_index(["day"], unique=True, if_not_exists=True)
    db["digest_items"].create({"article_id": int, "digest_id": int, "position": int, "story_key": str,
                               "follow_up_of": str},
                              pk="article_id",
                              foreign_keys=[("article_id", "articles", "id"), ("digest_id", "digests", "id")],
                              if_not_exists=True)
    db["digest_items"].create_index(["digest_id"], if_not_exists=True)  # a digest's items


# ---------------------------------------------------------------- articles

def is_known_url(db: sqlite_utils.Database, key: str) -> bool:
    """Is this URL key (see urls.url_key) one not to fetch again: a stored article's, under any of
    its URLs, or a page settled without an article (too old, gone, not an article)?"""
    return db.execute("SELECT EXISTS (SELECT 1 FROM article_urls WHERE url = ?) "
                      "OR EXISTS (SELECT 1 FROM settled_urls WHERE url = ?)", [key, key]).fetchone()[0] == 1


def settle_url(db: sqlite_utils.Database, url: str, source: str, reason: str) -> None:
    """Remember a fetched page that gave no article, so later runs do not fetch it again."""
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO settled_urls (url, source, reason, settled_at) VALUES (?, ?, ?, ?)",
                   [url_key(url), source, reason, utcnow()])


def article_id_for_url(db: sqlite_utils.Database, url: str) -> int | None:
    return _stored_id(db, [url_key(url)])


_ARTICLE_FIELDS = ("title", "text", "author", "published", "date_source", "language", "sitename",
                   "description", "image", "tags")


def _stored_id(db: sqlite_utils.Database, keys: list[str]) -> int | None:
    """The article stored under the first of these URL keys that has one."""
    marks = ", ".join("?" * len(keys))
    found = dict(db.execute(f"SELECT url, article_id FROM article_urls WHERE url IN ({marks})", keys).fetchall())
    return next((found[key] for key in keys if key in found), None)


def save_article(db: sqlite_utils.Database, article: dict, aliases: tuple[str, ...] = ()) -> int:
    """Upsert an article by its URL and record every alias URL; returns its id.

    `article` holds url, source, fetched_at and the extraction fields. An existing
    row keeps its id and first fetch time, so re-running stores nothing twice.
    Plain statements rather than sqlite-utils' table API: the crawl stores every article
    through here, and the API's per-call introspection cost more than the insert itself.
    """
    url = article["url"]
    keys = list(dict.fromkeys(url_key(u) for u in (url, *aliases)))
    row = {key: article.get(key) for key in _ARTICLE_FIELDS}
    row["tags"] = json.dumps(article.get("tags") or [], ensure_ascii=False)
    # looked up under the write lock: an article another process stored meanwhile is then updated,
    # not inserted twice (which the unique URL index would refuse)
    with immediate(db):
        existing = _stored_id(db, keys)
        if existing is None:
            row.update(url=url, source=article["source"], fetched_at=article.get("fetched_at") or utcnow(),
                       stored_at=utcnow())
            article_id = db.execute(f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                    list(row.values())).lastrowid
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


# ---------------------------------------------------------------- classifications

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


# ---------------------------------------------------------------- labels and models

def _create_model_tables(db: sqlite_utils.Database) -> None:
    # the analyst's verdicts: one per article, the latest wins
    db["labels"].create({"article_id": int, "label": int, "note": str, "labelled_at": str},
                        pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    # every model `tipwatch train` made; the newest is the one in use
    db["models"].create({
        "version": str, "trained_at": str, "path": str, "n_train": int, "n_analyst": int,
        "precision": float, "recall": float, "f1": float, "scores": str,
    }, pk="version", if_not_exists=True)


def db_file(db: sqlite_utils.Database) -> Path | None:
    """The file behind an open database (None in memory)."""
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2]) if row and row[2] else None


def save_label(db: sqlite_utils.Database, article_id: int, label: int, note: str | None) -> int | None:
    """Record the analyst's verdict on an article; returns the previous label (None if new)."""
    row = db.execute("SELECT label FROM labels WHERE article_id = ?", [article_id]).fetchone()
    with db.atomic():
        db["labels"].upsert({"article_id": article_id, "label": int(label), "note": note,
                             "labelled_at": utcnow()}, pk="article_id")
    return row[0] if row else None


def labelled_articles(db: sqlite_utils.Database) -> list[dict]:
    return list(db.query("""SELECT a.id, a.title, a.text, a.language, l.label FROM labels l
                            JOIN articles a ON a.id = l.article_id ORDER BY a.id"""))


def save_model(db: sqlite_utils.Database, record: dict) -> None:
    with db.atomic():
        db["models"].upsert(dict(record, trained_at=utcnow()), pk="version")


def trained_models(db: sqlite_utils.Database) -> list[dict]:
    """Every recorded model, newest first."""
    return list(db.query("SELECT * FROM models ORDER BY trained_at DESC, rowid DESC"))


def article_ref(db: sqlite_utils.Database, ref: str) -> dict | None:
    """An article by its id or by any URL it was seen under."""
    article_id = int(ref) if ref.strip().isdigit() else article_id_for_url(db, ref.strip())
    if article_id is None:
        return None
    rows = list(db.query("SELECT id, url, title FROM articles WHERE id = ?", [article_id]))
    return rows[0] if rows else None


# ---------------------------------------------------------------- crawl records

# a 'running' row recorded before runs named their process (schema v6) is taken for dead after
# this long: no crawl runs for a day
PIDLESS_RUN_HOURS = 24


def start_run(db: sqlite_utils.Database, sources: list[str]) -> int:
    """Record a new crawl run of this process; first, every run left 'running' by a process that
    died (killed, power cut) becomes 'interrupted'."""
    with immediate(db):  # no other run can start or end between the look and the update
        interrupt_dead_runs(db)
        return db.execute("INSERT INTO crawl_runs (started_at, sources, status, pid, host) "
                          "VALUES (?, ?, 'running', ?, ?)",
                          [utcnow(), json.dumps(sources), os.getpid(), socket.gethostname()]).lastrowid


def interrupt_dead_runs(db: sqlite_utils.Database) -> list[int]:
    """Mark 'interrupted' the runs still 'running' whose process is dead; returns their ids."""
    rows = db.execute("SELECT id, started_at, pid, host FROM crawl_runs WHERE status = 'running'").fetchall()
    dead = [row[0] for row in rows if run_process_dead(*row[1:])]
    if dead:
        with immediate(db):
            for run_id in dead:  # still 'running': a run that ended meanwhile keeps its status
                db.execute("UPDATE crawl_runs SET status = 'interrupted' WHERE id = ? AND status = 'running'",
                           [run_id])
    return dead


def run_process_dead(started_at: str, pid: int | None, host: str | None) -> bool:
    """Is the process that recorded a 'running' run known to be gone? Only a process of this
    host can be asked; a run of another host is never judged dead."""
    if pid is None:
        started = datetime.fromisoformat(started_at)
        started = started if started.tzinfo else started.replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc) - started > timedelta(hours=PIDLESS_RUN_HOURS)
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, under another user
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited but was not yet reaped by its parent still answers signal 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def finish_run(db: sqlite_utils.Database, run_id: int, status: str) -> None:
    with db.atomic():
        db["crawl_runs"].update(run_id, {"finished_at": utcnow(), "status": status})


def save_source_stats(db: sqlite_utils.Database, run_id: int, source: str, stats: dict) -> None:
    row = dict(stats, run_id=run_id, source=source)
    for key in ("status_counts", "error_counts"):
        row[key] = json.dumps(row.get(key) or {}, sort_keys=True)
    with db.atomic():
        db["crawl_source_stats"].upsert(row, pk=("run_id", "source"))


def record_error(db: sqlite_utils.Database, run_id: int, source: str, url: str, kind: str, detail: str) -> None:
    with db.atomic():
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


_LIST_COLUMNS = ("matched_terms", "subtopics", "countries")


def _with_lists(rows) -> list[dict]:
    """Rows with the classification's JSON list columns decoded."""
    rows = list(rows)
    for row in rows:
        for key in _LIST_COLUMNS:
            row[key] = json.loads(row[key] or "[]")
    return rows


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
        digest_id = digest_for_day(db, day)["id"]
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


# ---------------------------------------------------------------- stories

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


def _chunks(ids: list[int], size: int = 500):
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# ---------------------------------------------------------------- outbox

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
    rows = []
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


# ---- immediate alerts and subscriptions (the same outbox; a target is "email" or "legal:email")

def _create_alert_tables(db: sqlite_utils.Database) -> None:
    """v7 → v8: an outbox row says what carried it ('digest' or 'alert'); older rows are digests."""
    if "kind" not in db["deliveries"].columns_dict:
        db.execute("ALTER TABLE deliveries ADD COLUMN kind TEXT")


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
    rows = []
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


# ---- index validators

def _create_validator_tables(db: sqlite_utils.Database) -> None:
    """v2 → v3: ETag / Last-Modified of index pages (feeds, sitemaps, listings), so the next
    run fetches them conditionally; and the crawl stats' count of 304 answers."""
    db["index_validators"].create({"url": str, "source": str, "etag": str, "last_modified": str,
                                   "checked_at": str}, pk="url", if_not_exists=True)
    if "not_modified" not in db["crawl_source_stats"].columns_dict:
        db.execute("ALTER TABLE crawl_source_stats ADD COLUMN not_modified INTEGER")


def index_validators(db: sqlite_utils.Database) -> dict[str, dict]:
    """url → {"etag", "last_modified"} of every index page parsed successfully before."""
    return {row[0]: {"etag": row[1], "last_modified": row[2]}
            for row in db.execute("SELECT url, etag, last_modified FROM index_validators")}


def save_index_validator(db: sqlite_utils.Database, url: str, source: str, etag: str | None,
                         last_modified: str | None) -> None:
    with db.atomic():
        db.execute("""INSERT INTO index_validators (url, source, etag, last_modified, checked_at)
                      VALUES (?, ?, ?, ?, ?)
                      ON CONFLICT(url) DO UPDATE SET source = excluded.source, etag = excluded.etag,
                        last_modified = excluded.last_modified, checked_at = excluded.checked_at""",
                   [url, source, etag, last_modified, utcnow()])


def forget_index_validators(db: sqlite_utils.Database, source: str) -> None:
    """Drop a source's validators: its index pages are fetched in full on the next run."""
    with db.atomic():
        db.execute("DELETE FROM index_validators WHERE source = ?", [source])


# ---- source health

def source_history(db: sqlite_utils.Database, source: str, limit: int = 10) -> list[dict]:
    """The source's stats in its last `limit` crawl runs, newest first, with the run's
    started_at and the JSON columns decoded."""
    rows = list(db.query("""
        SELECT s.*, r.started_at, r.status FROM crawl_source_stats s JOIN crawl_runs r ON r.id = s.run_id
        WHERE s.source = ? ORDER BY s.run_id DESC LIMIT ?""", [source, limit]))  # run ids grow with time
    for row in rows:
        row["status_counts"] = json.loads(row["status_counts"] or "{}")
        row["error_counts"] = json.loads(row["error_counts"] or "{}")
    return rows


def unrecorded_run(db: sqlite_utils.Database, source: str) -> dict | None:
    """The source's newest run when it recorded no stats for it: one still going, or one whose
    process died (stats are written as the spider closes). None when its newest run recorded them."""
    rows = list(db.query("""
        SELECT id, started_at, status, pid, host FROM crawl_runs r
        WHERE r.id > coalesce((SELECT max(run_id) FROM crawl_source_stats WHERE source = :source), 0)
          AND EXISTS (SELECT 1 FROM json_each(r.sources) WHERE value = :source)
        ORDER BY r.id DESC LIMIT 1""", {"source": source}))  # a range on the key: only the newest runs
    return rows[0] if rows else None


def last_article_at(db: sqlite_utils.Database, source: str) -> str | None:
    """When the source's newest article was stored (ISO UTC), None if it has none."""
    return db.execute("SELECT max(stored_at) FROM articles WHERE source = ?", [source]).fetchone()[0]


def article_counts(db: sqlite_utils.Database, source: str, since_iso: str) -> int:
    """Articles of the source stored at or after `since_iso` (ISO UTC)."""
    return db.execute("SELECT count(*) FROM articles WHERE source = ? AND stored_at >= ?",
                      [source, since_iso]).fetchone()[0]


def sources_with_runs(db: sqlite_utils.Database) -> list[str]:
    """Sources with recorded stats, and those named by an interrupted run (which recorded none)."""
    return [row[0] for row in db.execute(
        "SELECT source FROM crawl_source_stats UNION "
        "SELECT j.value FROM crawl_runs r, json_each(r.sources) j WHERE r.status = 'interrupted' ORDER BY 1")]


def last_success_at(db: sqlite_utils.Database, source: str) -> str | None:
    """started_at of the latest run in which the source got at least one 2xx response."""
    row = db.execute("""
        SELECT r.started_at FROM crawl_source_stats s JOIN crawl_runs r ON r.id = s.run_id
        WHERE s.source = ? AND coalesce(json_extract(s.status_counts, '$."2xx"'), 0) > 0
        ORDER BY s.run_id DESC LIMIT 1""", [source]).fetchone()
    return row[0] if row else None


# ---- places and gists (pipeline/enrich.py)

def _create_place_tables(db: sqlite_utils.Database) -> None:
    """v7 → v8: the places each article names (gazetteer matches, with coordinates), and per
    article the version of the gazetteer and glossary it was read with, and its English gist."""
    db["article_places"].create({
        "article_id": int, "place": str, "country": str, "kind": str, "lat": float, "lon": float,
        "now_in": str, "mentions": int, "first_at": int,
    }, pk=("article_id", "place"), foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db["article_places"].create_index(["place"], if_not_exists=True)
    db["article_places"].create_index(["country"], if_not_exists=True)
    db["article_gists"].create({
        "article_id": int, "gist": str, "title_en": str, "lead_en": str, "method": str, "version": str,
        "made_at": str,
    }, pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)


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
