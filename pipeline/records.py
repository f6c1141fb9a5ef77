"""The plain-data records handed from one stage to the next.

The crawler's output is a `FetchedPage`: what was asked for, what came back, and when. It is
kept as a WARC record (pipeline.archive) before anything reads it, so every later stage can be
run again from it, with no network.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FetchedPage:
    source: str               # the source's name (sources.toml)
    requested_url: str        # the URL the crawler asked for
    url: str                  # the final URL, after redirects
    status: int
    headers: tuple[tuple[str, str], ...]  # as received, minus transfer and content encodings
    body: bytes               # the decoded body (no gzip), capped by the crawler's size bound
    fetched_at: str           # ISO 8601, UTC, seconds
    aliases: tuple[str, ...] = field(default=())  # other URLs that led to this page

    def header(self, name: str) -> str | None:
        """The first value of a header, by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def declared_encoding(self) -> str | None:
        """The charset of the Content-Type header, if any."""
        content_type = self.header("Content-Type") or ""
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"\'')
        return None


@dataclass(frozen=True)
class PageRef:
    """Where a fetched page is kept: a WARC file (relative to the archive folder) and the offset
    of its record."""
    file: str
    offset: int
