"""The Articles page of `tipwatch serve`: the article_overview table and the triggers that keep it
up to date with articles, classifications and labels."""
from __future__ import annotations

import sqlite_utils

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
    db.table("article_overview").create(OVERVIEW_COLUMNS, pk="id", if_not_exists=True)
    for index_columns in _OVERVIEW_INDEXES:
        db.table("article_overview").create_index(index_columns, if_not_exists=True)
    columns = ", ".join(OVERVIEW_COLUMNS)
    for name, table, event, article_id in _OVERVIEW_TRIGGERS:
        db.execute(f"""CREATE TRIGGER IF NOT EXISTS {name} {event} ON {table} BEGIN
            DELETE FROM article_overview WHERE id = {article_id};
            INSERT INTO article_overview ({columns}) {OVERVIEW_SELECT.strip()} WHERE a.id = {article_id};
        END""")
    if fill:
        db.execute(f"INSERT INTO article_overview ({columns}) {OVERVIEW_SELECT.strip()} ORDER BY a.id")
    # Datasette's own pages: classifications newest first; an article's page counts its URLs
    db.table("classifications").create_index(["classified_at"], if_not_exists=True)
    db.table("article_urls").create_index(["article_id"], if_not_exists=True)
    # Datasette's database page counts every table (10 ms each at most, but the limit is checked
    # between steps, and a step over the index's or the fingerprints' large rows reads megabytes):
    # count(*) reads the narrowest index instead. 1.3 s → a few ms on a million articles.
    for table, column in (("articles_fts_data", "id"), ("article_fingerprints", "article_id")):
        if db[table].exists():
            db.execute(f"CREATE INDEX IF NOT EXISTS idx_{table}_count ON {table} ({column})")
