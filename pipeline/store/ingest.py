"""What distributed mode's writer (`tipwatch ingest`) and orchestrator read in bulk: the URL keys
not to fetch again, loaded once into Redis's known-URL set when a distributed crawl starts.
(The writer's writes are the crawl's: articles.py, classifications.py, enrichment.py, runs.py.)"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlite_utils


def known_url_keys(db: sqlite_utils.Database, days: int, batch: int = 5000) -> Iterator[list[str]]:
    """The URL keys of the articles fetched and the pages settled in the last *days* days (those a
    crawl may still be offered: older links are older than any look-back window, or the writer's
    own check, idempotent on URL keys, catches them), *batch* at a time."""
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    queries = ("SELECT u.url FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE a.fetched_at >= ?",
               "SELECT url FROM settled_urls WHERE settled_at >= ?")
    for query in queries:
        cursor = db.execute(query, [since])
        while rows := cursor.fetchmany(batch):
            yield [row[0] for row in rows]
