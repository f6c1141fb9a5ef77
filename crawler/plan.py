"""What one crawl is asked to do: which sources, and the look-back window of each. Plain
configuration, read once when the crawl starts (the spider's arguments over its settings)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crawler.paths import setting_path
from pipeline.sources import Source, load_sources, select_sources

DEFAULT_LOOKBACK_DAYS = 7


def parse_since(value) -> datetime | None:
    """'2026-11-01' or a datetime → aware UTC datetime; '' / None → None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"since: expected a date like 2026-11-01, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class CrawlPlan:
    sources: dict[str, Source]
    window_start: dict[str, datetime | None]  # source → oldest publication date wanted (None: all)

    @classmethod
    def from_settings(cls, settings, names: tuple[str, ...] = (), sources_file: str = "",
                      since: str = "", lookback_days: str = "") -> CrawlPlan:
        path = setting_path(settings, "TIPWATCH_SOURCES", sources_file)
        sources = {s.name: s for s in select_sources(load_sources(path), names)}
        return cls(sources, {name: _window_start(src, settings, since, lookback_days)
                             for name, src in sources.items()})

    def is_old(self, source: str, published: datetime | None) -> bool:
        since = self.window_start[source]
        return since is not None and published is not None and published < since


def _window_start(source: Source, settings, since_arg: str, lookback_arg: str) -> datetime | None:
    since = parse_since(since_arg or settings.get("TIPWATCH_SINCE"))
    if since is not None:
        return since
    days = lookback_arg or source.lookback_days
    if days in (None, ""):
        days = settings.getint("TIPWATCH_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS)
    days = int(days)
    return None if days == 0 else datetime.now(UTC) - timedelta(days=days)
