"""Pages settled as too old, reconsidered when a crawl's window is widened.

A fetched article older than the crawl's window is settled ("older than window: <date>") so later
crawls do not fetch it again. When a later crawl's window reaches back past that date, the page is
wanted after all: read again from its WARC record and stored as an article (no fetch), or, with no
record kept, forgotten (un-settled) so that the crawl fetches it when it finds it again.

`plan` is the decision, pure; `reconsider_settled` carries it out against the database and archive.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pipeline import store
from pipeline.archive import ArchiveError, PageArchive
from pipeline.process import StageSettings
from pipeline.records import FetchedPage, PageRef
from pipeline.reprocess import process_record
from pipeline.urls import normalize, same_site

# the settled rows' dates carry the publisher's offset (up to ±14 h): text order is off by as much
_TEXT_ORDER_SLACK = timedelta(days=1)


def settled_date(reason: str) -> datetime | None:
    """The date a too-old settled page was recorded with (aware; naive taken as UTC), or None."""
    if not reason.startswith(store.TOO_OLD_PREFIX):
        return None
    return parse_date(reason[len(store.TOO_OLD_PREFIX):])


def parse_date(value: str | None) -> datetime | None:
    """An ISO date or datetime as an aware datetime (naive taken as UTC); None if not one."""
    try:
        parsed = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def in_window(published: datetime | None, start: datetime | None) -> bool:
    """Inside a window starting at `start` (None: no limit)? An undated page is never too old."""
    return start is None or published is None or published >= start


@dataclass
class Plan:
    from_record: list = field(default_factory=list)  # settled rows to store from their record
    refetch: list = field(default_factory=list)      # settled rows with no record: un-settle them


def plan(rows: list[dict], windows: Mapping[str, datetime | None]) -> Plan:
    """Which settled too-old rows (url, source, reason, warc_file, warc_offset) the windows
    (source → window start, None for no limit) now take in. Rows of sources not crawled, or
    dated before their source's window, stay settled."""
    chosen = Plan()
    for row in rows:
        if row["source"] not in windows:
            continue
        published = settled_date(row["reason"] or "")
        if published is None or not in_window(published, windows[row["source"]]):
            continue
        (chosen.from_record if row["warc_file"] else chosen.refetch).append(row)
    return chosen


def candidates(db, windows: Mapping[str, datetime | None]) -> list[dict]:
    """The settled too-old rows of the windows' sources dated no earlier than a day before the
    earliest window (the exact test is `plan`'s)."""
    starts = [start for start in windows.values() if start is not None]
    if len(starts) < len(windows):
        bound = ""  # a source with no limit: every too-old page of it
    else:
        bound = (min(starts) - _TEXT_ORDER_SLACK).date().isoformat() if starts else ""
    return store.settled_too_old(db, list(windows), bound)


@dataclass
class ReconsiderReport:
    stored: int = 0      # stored as articles from their record
    duplicates: int = 0  # their article was stored under another URL meanwhile: the URL is kept as an alias
    refetch: int = 0     # no record: un-settled, fetched when found again
    still_old: int = 0   # the record reads as older than the window after all
    failed: int = 0      # the record no longer extracts


@dataclass(frozen=True)
class Reading:
    """How kept pages are read: the stages' settings, the sources (language, timezone)."""
    stages: StageSettings
    sources: Mapping


def reconsider_settled(db, archive: PageArchive, windows: Mapping[str, datetime | None],
                       reading: Reading) -> ReconsiderReport:
    """Carry out the plan for these windows; each page is one transaction."""
    report = ReconsiderReport()
    chosen = plan(candidates(db, windows), windows)
    for row in chosen.refetch:
        with store.immediate(db):
            store.unsettle(db, row["url"])
        report.refetch += 1
    for row in chosen.from_record:
        _from_record(db, archive, row, windows[row["source"]], reading, report)
    return report


def _from_record(db, archive: PageArchive, row: dict, start: datetime | None, reading: Reading,
                 report: ReconsiderReport) -> None:
    ref = PageRef(row["warc_file"], row["warc_offset"])
    try:
        page = archive.read(ref)
    except ArchiveError:  # the file was pruned or damaged: fetch the page again instead
        with store.immediate(db):
            store.unsettle(db, row["url"])
        report.refetch += 1
        return
    result = process_record(page, reading.sources.get(row["source"]), reading.stages)
    if not result["ok"]:
        report.failed += 1
        return
    if not in_window(parse_date(result["article"].get("published")), start):
        with store.immediate(db):
            store.resettle(db, row["url"], store.TOO_OLD_PREFIX + result["article"]["published"])
        report.still_old += 1
        return
    _store(db, row, page, ref, result, report)


def _store(db, row: dict, page: FetchedPage, ref: PageRef, result: dict, report: ReconsiderReport) -> None:
    """Store the page's article as the crawl would (under its canonical URL when on the same
    site), with its record's reference, and forget the settled row."""
    url, aliases = identity(page, result["article"])
    article = dict(result["article"], url=url, source=row["source"], fetched_at=page.fetched_at)
    with store.immediate(db):
        if store.stored_id(db, url) is not None:
            store.add_aliases(db, url, aliases)
            report.duplicates += 1
        else:
            article_id = store.save_article(db, article, aliases, page_ref=ref)
            store.save_classification(db, article_id, result["classification"])
            store.save_enrichment(db, article_id, result["enrichment"])
            report.stored += 1
        store.unsettle(db, row["url"])


def identity(page: FetchedPage, article: dict) -> tuple[str, tuple[str, ...]]:
    """The URL to store the article under and the other URLs it was reached by (as the crawl's
    item pipeline decides: the canonical link when on the same site)."""
    fetched = normalize(page.url)
    canonical = normalize(article["canonical_url"]) if article.get("canonical_url") else None
    url = canonical if canonical and same_site(canonical, fetched) else fetched
    reached = (fetched, normalize(page.requested_url), *page.aliases)
    return url, tuple(dict.fromkeys(u for u in reached if u != url))
