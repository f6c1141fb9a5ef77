"""The state one crawl keeps while it runs: which URLs not to request (the frontier) and what
each source did (the stats book).

Every crawl component that needs this state (the spider, the redirect middleware, the item
pipeline, the progress extension) gets these objects through the crawl context
(crawler/context.py), never from the spider. Their small interfaces are the seam where a crawl
spread over several machines puts shared, Redis-backed versions in their place.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from crawler.runstats import SourceStats


class Frontier:
    """URL keys (pipeline.urls.url_key) this crawl must not request, and those it has queued.

    Known URLs are asked of the store one at a time (`is_stored`) rather than loaded when the
    crawl starts: loading a million articles' URLs cost 0.8 s and ~130 MB on every run, an
    indexed look-up per discovered link costs a few microseconds.
    """

    def __init__(self, is_stored: Callable[[str], bool]):
        self._is_stored = is_stored
        self._learnt: set[str] = set()   # known from this run only (a redirect to a settled page)
        self._queued: set[str] = set()
        self._aliases: dict[str, list[str]] = {}  # queued key → URLs that redirect to it

    def seen(self, key: str) -> bool:
        """Stored or settled before, or learnt in this run: never to be requested again."""
        return key in self._learnt or self._is_stored(key)

    def mark_seen(self, key: str) -> None:
        self._learnt.add(key)

    def is_queued(self, key: str) -> bool:
        return key in self._queued

    def queue(self, key: str) -> bool:
        """Queue *key*; False when it was queued already (a test-and-set, so two discoverers of
        one URL cannot both request it)."""
        if key in self._queued:
            return False
        self._queued.add(key)
        return True

    def add_alias(self, key: str, url: str) -> None:
        """*url* redirects to the article queued as *key*: stored as one of its URLs."""
        self._aliases.setdefault(key, []).append(url)

    def take_aliases(self, key: str) -> tuple[str, ...]:
        """The URLs that redirected to *key*, handed out once."""
        return tuple(self._aliases.pop(key, ()))


class SourceStatsBook:
    """Per-source counters of one crawl run (crawler.runstats.SourceStats), by source name. A name
    outside the crawl (a request without a source, robots.txt) is counted nowhere."""

    def __init__(self, sources: Iterable[str]):
        self._stats = {name: SourceStats() for name in sources}

    def of(self, source: str | None) -> SourceStats | None:
        return self._stats.get(source) if source is not None else None

    def bump(self, source: str | None, counter: str, n: int = 1) -> None:
        stats = self.of(source)
        if stats is not None:
            stats.bump(counter, n)

    def error(self, source: str | None, kind: str) -> None:
        stats = self.of(source)
        if stats is not None:
            stats.error(kind)

    def count(self, source: str, counter: str) -> int:
        stats = self.of(source)
        return stats.counts[counter] if stats is not None else 0

    def items(self) -> Iterator[tuple[str, SourceStats]]:
        return iter(self._stats.items())
