"""How many index documents a source may read in one run: the bound on sitemap indexes.

A sitemap index can list itself, list a new index at every level for ever, or list a million
children. Each index URL is read at most once per run, indexes nest at most `max_depth` deep
under a source's own sitemaps, and a source reads at most `max_sitemaps` sitemap documents per
run; what is over is recorded, not fetched.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

SEEN = "seen"  # already read (or queued) in this run: skipped without a word


@dataclass
class IndexBudget:
    max_sitemaps: dict[str, int]   # source → sitemap documents it may read per run
    max_depth: int = 3
    seen: set[tuple[str, str]] = field(default_factory=set)
    sitemaps: Counter = field(default_factory=Counter)

    def admit(self, source: str, url: str, sitemap_depth: int | None = None) -> str | None:
        """None when the index page may be requested (and counts it); SEEN for a repeat;
        otherwise why it may not. `sitemap_depth` is None for feeds and listing pages."""
        if (source, url) in self.seen:
            return SEEN
        if sitemap_depth is not None:
            if sitemap_depth > self.max_depth:
                return f"sitemap indexes nest deeper than {self.max_depth} levels"
            if self.sitemaps[source] >= self.max_sitemaps[source]:
                return f"more than {self.max_sitemaps[source]} sitemaps in one run (max_sitemaps)"
            self.sitemaps[source] += 1
        self.seen.add((source, url))
        return None
