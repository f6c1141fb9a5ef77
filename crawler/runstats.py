"""Per-source counters of one crawl run, and how a failed request is named.

The counters are written to `crawl_source_stats` when the spider closes; errors
are written as they happen so a crash mid-run still leaves its trail.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from urllib.parse import urlsplit

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError

# Scrapy ≥ 2.14 wraps download failures in its own exceptions; older Twisted ones are kept
# for other download handlers
_FAILURE_KINDS = (
    ((scrapy_errors.CannotResolveHostError, net_error.DNSLookupError), "dns", "DNS lookup failed for {host}"),
    ((scrapy_errors.DownloadTimeoutError, net_error.TimeoutError, net_error.TCPTimedOutError),
     "timeout", "timed out"),
    ((scrapy_errors.DownloadConnectionRefusedError, net_error.ConnectionRefusedError),
     "connection", "connection refused by {host}"),
    ((scrapy_errors.DownloadCancelledError, CancelledError), "too-large", "download cancelled: {exc}"),
    ((scrapy_errors.DownloadFailedError, scrapy_errors.ResponseDataLossError, net_error.ConnectError,
      net_error.ConnectionLost), "connection", "{exc}"),
)

COUNTERS = ("requests", "responses", "articles_found", "articles_fetched", "articles_stored", "articles_flagged",
            "skipped_known", "skipped_old", "skipped_offsite", "duplicates", "extraction_failures",
            "errors", "not_modified")


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
    host = urlsplit(failure.request.url).hostname if hasattr(failure, "request") else ""
    if isinstance(exc, HttpError):
        return "http", f"HTTP {exc.response.status}"
    for kinds, kind, detail in _FAILURE_KINDS:
        if isinstance(exc, kinds):
            return kind, detail.format(host=host, exc=exc)
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if text.startswith("duplicate: "):
            return "duplicate", text
        if "robots.txt" in text:
            return "robots", text
        if "redirect" in text:
            return "redirect", text or "too many redirects"
        return "ignored", text
    return "other", f"{exc.__class__.__name__}: {exc}"
