"""The URLs a crawl must not fetch again, asked of the database one at a time.

Loading every known URL when a crawl starts cost a database of a million articles 0.8 s and
~130 MB, on every run; an indexed look-up per discovered link costs a few microseconds (3.5 ms
for a sitemap's 500 links on that database).
"""
from __future__ import annotations

from pipeline import store


class KnownUrls:
    """URL keys (see pipeline.urls.url_key) stored or settled in the database, and those this run
    learnt without storing them (a redirect to a page settled earlier)."""

    def __init__(self, db):
        self.db = db
        self.learnt: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.learnt or store.is_known_url(self.db, key)

    def add(self, key: str) -> None:
        self.learnt.add(key)
