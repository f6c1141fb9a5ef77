"""Per-source counters of one crawl run, and how a failed request is named.

The counters are written to `crawl_source_stats` when the spider closes; errors
are written as they happen so a crash mid-run still leaves its trail.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError

COUNTERS = ("requests", "responses", "articles_found", "articles_fetched", "articles_stored", "articles_flagged",
            "skipped_known", "skipped_old", "skipped_offsite", "duplicates", "extraction_failures",
            "errors")


@dataclass
class SourceStats:
    counts: Counter = field(default_factory=Counter)
    status_counts: Counter = field(default_factory=Counter)
    error_counts: Counter = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def bump(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def error(self, kind: str) -> None:
        self.counts["errors"] += 1
        self.error_counts[kind] += 1

    def as_row(self) -> dict:
        row = {name: self.counts[name] for name in COUNTERS}
        row["status_counts"] = dict(self.status_counts)
        row["error_counts"] = dict(self.error_counts)
        row["duration_s"] = round(time.monotonic() - self.started, 3)
        return row


def describe_failure(failure) -> tuple[str, str]:
    """(kind, detail) for a failed request: http, dns, timeout, connection, redirect,
    too-large, robots or other."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return "http", f"HTTP {exc.response.status}"
    if isinstance(exc, net_error.DNSLookupError):
        return "dns", f"DNS lookup failed for {failure.request.url.split('/')[2] if hasattr(failure, 'request') else ''}".strip()
    if isinstance(exc, (net_error.TimeoutError, net_error.TCPTimedOutError)):
        return "timeout", "timed out"
    if isinstance(exc, (net_error.ConnectionRefusedError, net_error.ConnectError,
                        net_error.ConnectionLost, net_error.ConnectionDone)):
        return "connection", exc.__class__.__name__
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if "robots.txt" in text:
            return "robots", text
        if "redirect" in text:
            return "redirect", text or "too many redirects"
        return "ignored", text
    if isinstance(exc, CancelledError) or "maxsize" in str(exc).lower() or "max size" in str(exc).lower():
        return "too-large", str(exc) or "response larger than DOWNLOAD_MAXSIZE"
    name = exc.__class__.__name__
    if "Timeout" in name:
        return "timeout", name
    if "DNS" in name:
        return "dns", str(exc)
    return "other", f"{name}: {exc}"
