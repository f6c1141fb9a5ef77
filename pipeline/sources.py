"""News sources: the declarative `[[source]]` entries of `seeds/sources.toml`.

A source is data, not code: one generic spider reads these entries. Loading
validates every key and names the entry and key in its error, because the
file is edited by analysts, not programmers.
"""
from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class SourcesError(ValueError):
    """The sources file is unreadable or an entry is malformed."""


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    language: str
    article_pattern: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    max_pages: int = 3
    enabled: bool = True
    lookback_days: int | None = None
    dated_urls: bool = False
    stale_after_hours: float = 48.0
    allowed_hosts: tuple[str, ...] = ()   # hosts beyond those of its start URLs ("cdn.example.com")
    max_sitemaps: int | None = None        # sitemap documents per run (None: the crawl's setting)
    # the publisher's IANA zone, for its local day (pipeline.extract.publisher_time)
    timezone: str | None = None
    compiled_pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def is_article_url(self, url: str) -> bool:
        assert self.compiled_pattern is not None, "a Source from load_sources() carries its compiled pattern"
        return bool(self.compiled_pattern.search(url))

    @property
    def start_urls(self) -> tuple[str, ...]:
        return self.feeds + self.sitemaps + self.listings


_NUMBER = (int, float)  # an int or a float (not a bool)

# key -> (type, required)
_SCHEMA: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "name": (str, True),
    "title": (str, True),
    "language": (str, True),
    "article_pattern": (str, True),
    "feeds": (list, False),
    "sitemaps": (list, False),
    "listings": (list, False),
    "max_pages": (int, False),
    "enabled": (bool, False),
    "lookback_days": (int, False),
    "dated_urls": (bool, False),
    "stale_after_hours": (_NUMBER, False),
    "allowed_hosts": (list, False),
    "max_sitemaps": (int, False),
    "timezone": (str, False),
}
_URL_LISTS = ("feeds", "sitemaps", "listings")
# a host name or address with an optional port, nothing else: "www.example.com", "example.com:8080"
_HOST_RE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
TOP_LEVEL_KEYS = ("source", "allow_addresses")


def _entry_error(index: int, entry: dict, key: str, message: str) -> SourcesError:
    label = entry.get("name") if isinstance(entry.get("name"), str) else f"#{index + 1}"
    return SourcesError(f"source {label!r} (entry {index + 1}): key {key!r}: {message}")


def _check_types(index: int, entry: dict) -> None:
    for key in entry:
        if key not in _SCHEMA:
            raise _entry_error(index, entry, key, f"unknown key (allowed: {', '.join(_SCHEMA)})")
    for key, (kind, required) in _SCHEMA.items():
        if key not in entry:
            if required:
                raise _entry_error(index, entry, key, "missing")
            continue
        value = entry[key]
        # bool is a subclass of int: reject True for max_pages
        if not isinstance(value, kind) or (kind in (int, _NUMBER) and isinstance(value, bool)):
            expected = "a number" if isinstance(kind, tuple) else kind.__name__  # the one tuple: _NUMBER
            raise _entry_error(index, entry, key, f"must be {expected}, got {type(value).__name__}")
        if key in _URL_LISTS and isinstance(value, list):  # (a list: their kind, checked above)
            _check_urls(index, entry, key, value)
    if not all(isinstance(h, str) and _HOST_RE.match(h) for h in entry.get("allowed_hosts", [])):
        raise _entry_error(index, entry, "allowed_hosts",
                           'must be a list of host names, e.g. ["www.example.com", "cdn.example.com:8443"]')


def _check_urls(index: int, entry: dict, key: str, urls: list) -> None:
    """Start URLs: http or https, with a host (a file:, ftp: or data: URL is never fetched)."""
    for url in urls:
        if not isinstance(url, str):
            raise _entry_error(index, entry, key, "must be a list of http(s) URLs")
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in ("http", "https"):
            raise _entry_error(index, entry, key, f"{url!r}: only http and https URLs are fetched "
                                                  f"(not {scheme or 'a URL without scheme'})")
        if not re.match(r"^https?://[^/?#@\s]+([/?#]|$)", url, re.IGNORECASE):
            raise _entry_error(index, entry, key, f"{url!r}: not an http(s) URL with a host")


def _source_from_entry(index: int, entry: dict) -> Source:
    _check_types(index, entry)
    if not NAME_RE.match(entry["name"]):
        raise _entry_error(index, entry, "name", "use 1-32 lowercase letters, digits, '-' or '_'")
    try:
        pattern = re.compile(entry["article_pattern"])
    except re.error as exc:
        raise _entry_error(index, entry, "article_pattern", f"invalid regex: {exc}") from None
    if not (entry.get("feeds") or entry.get("sitemaps") or entry.get("listings")):
        raise _entry_error(index, entry, "feeds", "a source needs at least one of feeds, sitemaps, listings")
    for key in ("max_pages", "lookback_days", "max_sitemaps"):
        if key in entry and entry[key] < 0:
            raise _entry_error(index, entry, key, "must be >= 0")
    if "stale_after_hours" in entry and not 0 < entry["stale_after_hours"] < float("inf"):
        raise _entry_error(index, entry, "stale_after_hours", "must be > 0 (hours)")
    if "timezone" in entry:
        _check_zone(index, entry)
    return Source(
        name=entry["name"],
        title=entry["title"],
        language=entry["language"],
        article_pattern=entry["article_pattern"],
        feeds=tuple(entry.get("feeds", ())),
        sitemaps=tuple(entry.get("sitemaps", ())),
        listings=tuple(entry.get("listings", ())),
        max_pages=entry.get("max_pages", 3),
        enabled=entry.get("enabled", True),
        lookback_days=entry.get("lookback_days"),
        dated_urls=entry.get("dated_urls", False),
        stale_after_hours=float(entry.get("stale_after_hours", 48)),
        allowed_hosts=tuple(entry.get("allowed_hosts", ())),
        max_sitemaps=entry.get("max_sitemaps"),
        timezone=entry.get("timezone"),
        compiled_pattern=pattern,
    )


def _check_zone(index: int, entry: dict) -> None:
    """An IANA zone name this machine's zone database knows ("Asia/Ho_Chi_Minh"), not an
    offset or an abbreviation ("+07:00", "ICT"), which would not follow daylight saving."""
    name = entry["timezone"]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory, say 'Asia'
        raise _entry_error(index, entry, "timezone", f"{name!r} is not a time zone name "
                                                     '(use an IANA name, e.g. "Asia/Ho_Chi_Minh")') from None


def parse_sources(text: str, origin: str = "<string>") -> list[Source]:
    data = _parse_toml(text, origin)
    _allow_addresses(data, origin)  # a bad allow list fails `tipwatch sources`, not the crawl
    entries = data.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourcesError(f"{origin}: no [[source]] entries")
    sources = [_source_from_entry(i, e) for i, e in enumerate(entries)]
    seen: set[str] = set()
    for i, src in enumerate(sources):
        if src.name in seen:
            raise _entry_error(i, entries[i], "name", "duplicate source name")
        seen.add(src.name)
    return sources


def _parse_toml(text: str, origin: str) -> dict:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{origin}: not valid TOML: {exc}") from None
    unknown = [key for key in data if key not in TOP_LEVEL_KEYS]
    if unknown:
        raise SourcesError(f"{origin}: unknown top-level key {unknown[0]!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    return data


def parse_allow_addresses(text: str, origin: str = "<string>") -> tuple[str, ...]:
    """The file's top-level `allow_addresses`: loopback or private addresses (or networks) the
    crawl may connect to, e.g. ["127.0.0.1"] for sites served on this machine. Host names are
    refused: whoever answers DNS could move them."""
    return _allow_addresses(_parse_toml(text, origin), origin)


def _allow_addresses(data: dict, origin: str) -> tuple[str, ...]:
    value = data.get("allow_addresses", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{origin}: allow_addresses: must be a list of IP addresses or networks")
    for entry in value:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise SourcesError(f"{origin}: allow_addresses: {entry!r} is not an IP address or network "
                               "(like 127.0.0.1 or 10.0.0.0/8)") from None
    return tuple(v.strip() for v in value)


def _read(path: str | Path) -> tuple[str, str]:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise SourcesError(f"cannot read sources file {path}: {exc.strerror}") from None


def load_sources(path: str | Path) -> list[Source]:
    text, origin = _read(path)
    return parse_sources(text, origin=origin)


def load_allow_addresses(path: str | Path) -> tuple[str, ...]:
    return parse_allow_addresses(*_read(path))


def select_sources(sources: list[Source], names: tuple[str, ...] | list[str] = ()) -> list[Source]:
    """Enabled sources, or the named ones (named ones run even when disabled)."""
    if not names:
        return [s for s in sources if s.enabled]
    by_name = {s.name: s for s in sources}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise SourcesError(f"unknown source(s): {', '.join(unknown)} (known: {', '.join(by_name)})")
    return [by_name[n] for n in names]
