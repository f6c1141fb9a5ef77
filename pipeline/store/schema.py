"""The database: opening it, its tables and their migrations (PRAGMA user_version), and the
write transaction every module takes."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from pipeline.store import health
from pipeline.store.overview import _create_overview_table

SCHEMA_VERSION = 10


# FTS5's unicode61 folds the diacritics of a letter that carries several (Vietnamese "ệ", "ở")
# only with remove_diacritics 2; with 1 (sqlite-utils' default) "Nghe An" found 1 of 3 "Nghệ An".
FTS_TOKENIZE = "unicode61 remove_diacritics 2"


def utcnow() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


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
    health.register_sql_functions(db.conn)  # the browse queries' source verdicts, run on this connection
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


def schema_version(db: sqlite_utils.Database) -> int:
    """The schema version the database is at (SQLite's user_version)."""
    return db.execute("PRAGMA user_version").fetchone()[0]


def fast_commits(db: sqlite_utils.Database) -> None:
    """Commit without an fsync each time, for a crawl's many small writes.

    One fsync per commit would stall the reactor on every stored article. In WAL mode,
    NORMAL still never corrupts the database; a power cut may lose the last commits, and
    those articles, no longer known, are simply fetched again by the next crawl.
    """
    db.execute("PRAGMA synchronous = NORMAL")


def make_query_only(conn) -> None:
    """Refuse every write on this connection (`tipwatch serve`'s connections, its write one too)."""
    conn.execute("PRAGMA query_only = 1")


def migrate(db: sqlite_utils.Database) -> None:
    """Create or upgrade the schema; safe when several processes open a new database at once
    (each waits for the write lock, then finds the version another one left)."""
    if schema_version(db) >= SCHEMA_VERSION:
        return
    with immediate(db):
        version = schema_version(db)
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
        _add_page_refs(db)
        _create_processing_table(db)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _add_page_refs(db: sqlite_utils.Database) -> None:
    """v8 → v9: an article, and a page settled without one (too old, not an article), points at
    the WARC record of its fetched page (pipeline/archive): file (relative to the archive
    folder) and offset. Rows stored before have none. Idempotent."""
    for table in ("articles", "settled_urls"):
        columns = db[table].columns_dict
        for column, kind in (("warc_file", "TEXT"), ("warc_offset", "INTEGER")):
            if column not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _create_processing_table(db: sqlite_utils.Database) -> None:
    """v9 → v10: which stage versions `tipwatch reprocess` last read each article with
    (pipeline/reprocess.py), so that an interrupted run resumes where it stopped."""
    db.execute("CREATE TABLE IF NOT EXISTS article_processing (article_id INTEGER PRIMARY KEY "
               "REFERENCES articles(id), processed_with TEXT, processed_at TEXT)")


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


def _create_delivery_tables(db: sqlite_utils.Database) -> None:
    db.table("article_fingerprints").create({"article_id": int, "fingerprint": str}, pk="article_id",
                                            foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    # the outbox: one row per article and channel; 'delivered' only once the channel accepted it
    db.table("deliveries").create({
        "article_id": int, "channel": str, "digest_id": int, "state": str, "claimed_by": str,
        "claimed_at": str, "delivered_at": str, "attempts": int, "last_error": str,
    }, pk=("article_id", "channel"), foreign_keys=[("article_id", "articles", "id"), ("digest_id", "digests", "id")],
        if_not_exists=True)
    db.table("deliveries").create_index(["channel", "state"], if_not_exists=True)
    # notes without articles (an empty day's "nothing new"), sent at most once per day and channel
    db.table("channel_notes").create({"channel": str, "day": str, "kind": str, "sent_at": str},
                                     pk=("channel", "day", "kind"), if_not_exists=True)


def _create_tables(db: sqlite_utils.Database) -> None:
    db.table("articles").create({
        "id": int, "url": str, "source": str, "title": str, "text": str, "author": str,
        "published": str, "date_source": str, "language": str, "sitename": str,
        "description": str, "tags": str, "image": str, "fetched_at": str, "stored_at": str,
    }, pk="id", not_null={"url", "source"}, if_not_exists=True)
    db.table("articles").create_index(["url"], unique=True, if_not_exists=True)
    db.table("articles").create_index(["source", "published"], if_not_exists=True)
    db.table("articles").create_index(["published"], if_not_exists=True)
    # source health (last_article_at, article_counts): per-source max/range on stored_at
    db.table("articles").create_index(["source", "stored_at"], if_not_exists=True)
    if not db["articles_fts"].exists():
        db.table("articles").enable_fts(["title", "text"], create_triggers=True, tokenize=FTS_TOKENIZE)
    _fold_search_accents(db)
    # every URL an article was seen under (feed link, tracking variant, canonical):
    # the spider skips all of them on later runs
    db.table("article_urls").create({"url": str, "article_id": int}, pk="url",
                                    foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("settled_urls").create({"url": str, "source": str, "reason": str, "settled_at": str},
                                    pk="url", if_not_exists=True)
    db.table("classifications").create({
        "article_id": int, "profile_version": str, "score": float, "flagged": int,
        "matched_terms": str, "snippet": str, "subtopics": str, "countries": str,
        "classified_at": str,
    }, pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("classifications").create_index(["flagged"], if_not_exists=True)
    # v3 → v4: each decision is explained (rule points, model probability, the reason)
    for column, kind in (("rules", str), ("probability", float), ("model_version", str), ("reason", str)):
        if column not in db["classifications"].columns_dict:
            db.table("classifications").add_column(column, kind)
    db.table("crawl_runs").create({
        "id": int, "started_at": str, "finished_at": str, "sources": str, "status": str,
        "pid": int, "host": str,
    }, pk="id", if_not_exists=True)
    # v5 → v6: the process that runs a crawl, so the next run can tell one that died (see start_run)
    for column, column_type in (("pid", int), ("host", str)):
        if column not in db["crawl_runs"].columns_dict:
            db.table("crawl_runs").add_column(column, column_type)
    db.table("crawl_source_stats").create({
        "run_id": int, "source": str, "requests": int, "responses": int, "articles_found": int,
        "articles_fetched": int, "articles_stored": int, "articles_flagged": int, "skipped_known": int,
        "skipped_old": int, "skipped_offsite": int, "skipped_robots": int, "duplicates": int,
        "extraction_failures": int, "errors": int, "not_modified": int, "status_counts": str, "error_counts": str,
        "duration_s": float,
    }, pk=("run_id", "source"), foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    # v5 → v6: requests refused by robots.txt are counted apart from those out of a source's scope
    if "skipped_robots" not in db["crawl_source_stats"].columns_dict:
        db.table("crawl_source_stats").add_column("skipped_robots", int)
    # source health reads one source's runs (the key leads with run_id)
    db.table("crawl_source_stats").create_index(["source", "run_id"], if_not_exists=True)
    db.table("crawl_errors").create({
        "id": int, "run_id": int, "source": str, "url": str, "kind": str, "detail": str, "at": str,
    }, pk="id", foreign_keys=[("run_id", "crawl_runs", "id")], if_not_exists=True)
    db.table("crawl_errors").create_index(["run_id", "source"], if_not_exists=True)
    db.table("digests").create({
        "id": int, "day": str, "path": str, "created_at": str, "item_count": int,
    }, pk="id", if_not_exists=True)
    db.table("digests").create_index(["day"], unique=True, if_not_exists=True)
    db.table("digest_items").create({"article_id": int, "digest_id": int, "position": int, "story_key": str,
                                     "follow_up_of": str},
                                    pk="article_id",
                                    foreign_keys=[("article_id", "articles", "id"), ("digest_id", "digests", "id")],
                                    if_not_exists=True)
    db.table("digest_items").create_index(["digest_id"], if_not_exists=True)  # a digest's items


def _create_model_tables(db: sqlite_utils.Database) -> None:
    # the analyst's verdicts: one per article, the latest wins
    db.table("labels").create({"article_id": int, "label": int, "note": str, "labelled_at": str},
                              pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    # every model `tipwatch train` made; the newest is the one in use
    db.table("models").create({
        "version": str, "trained_at": str, "path": str, "n_train": int, "n_analyst": int,
        "precision": float, "recall": float, "f1": float, "scores": str,
    }, pk="version", if_not_exists=True)


def db_file(db: sqlite_utils.Database) -> Path | None:
    """The file behind an open database (None in memory)."""
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2]) if row and row[2] else None


def _create_alert_tables(db: sqlite_utils.Database) -> None:
    """v7 → v8: an outbox row says what carried it ('digest' or 'alert'); older rows are digests."""
    if "kind" not in db["deliveries"].columns_dict:
        db.execute("ALTER TABLE deliveries ADD COLUMN kind TEXT")


def _create_validator_tables(db: sqlite_utils.Database) -> None:
    """v2 → v3: ETag / Last-Modified of index pages (feeds, sitemaps, listings), so the next
    run fetches them conditionally; and the crawl stats' count of 304 answers."""
    db.table("index_validators").create({"url": str, "source": str, "etag": str, "last_modified": str,
                                         "checked_at": str}, pk="url", if_not_exists=True)
    if "not_modified" not in db["crawl_source_stats"].columns_dict:
        db.execute("ALTER TABLE crawl_source_stats ADD COLUMN not_modified INTEGER")


def _create_place_tables(db: sqlite_utils.Database) -> None:
    """v7 → v8: the places each article names (gazetteer matches, with coordinates), and per
    article the version of the gazetteer and glossary it was read with, and its English gist."""
    db.table("article_places").create({
        "article_id": int, "place": str, "country": str, "kind": str, "lat": float, "lon": float,
        "now_in": str, "mentions": int, "first_at": int,
    }, pk=("article_id", "place"), foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
    db.table("article_places").create_index(["place"], if_not_exists=True)
    db.table("article_places").create_index(["country"], if_not_exists=True)
    db.table("article_gists").create({
        "article_id": int, "gist": str, "title_en": str, "lead_en": str, "method": str, "version": str,
        "made_at": str,
    }, pk="article_id", foreign_keys=[("article_id", "articles", "id")], if_not_exists=True)
