"""Per-source counters of one crawl run, and how a failed request is named.

The counters are written to `crawl_source_stats` when the spider closes; errors
are written as they happen so a crash mid-run still leaves its trail.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net_error
from twisted.internet.defer import CancelledError

from crawler.addresses import refusal_for
from crawler.scope import OutOfScope

# Scrapy ≥ 2.14 wraps download failures in its own exceptions; older Twisted ones are kept
# for other download handlers
_FAILURE_KINDS = (
    ((scrapy_errors.CannotResolveHostError, net_error.DNSLookupError), "dns", "DNS lookup failed for {host}"),
    ((scrapy_errors.DownloadTimeoutError, net_error.TimeoutError, net_error.TCPTimedOutError),
     "timeout", "timed out"),
    ((scrapy_errors.DownloadConnectionRefusedError, net_error.ConnectionRefusedError),
     "connection", "connection refused by {host}"),
    ((scrapy_errors.DownloadCancelledError, CancelledError), "too-large", "download cancelled: {exc}"),
    ((scrapy_errors.ResponseDataLossError,), "connection",
     "the connection closed before the whole body arrived (truncated or lying about its length): {exc}"),
    ((scrapy_errors.DownloadFailedError, net_error.ConnectError, net_error.ConnectionLost), "connection", "{exc}"),
)

COUNTERS = ("requests", "responses", "articles_found", "articles_fetched", "articles_stored", "articles_flagged",
            "skipped_known", "skipped_old", "skipped_offsite", "skipped_robots", "duplicates", "extraction_failures",
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
        row: dict[str, Any] = {name: self.counts[name] for name in COUNTERS}
        row["status_counts"] = dict(self.status_counts)
        row["error_counts"] = dict(self.error_counts)
        row["duration_s"] = round(time.monotonic() - self.started, 3)
        return row


def _exception_text(exc: BaseException) -> str:
    """Never empty: a connection reset or a truncated body often has no message of its own."""
    text = str(exc).strip()
    reasons = getattr(exc, "reasons", None)  # Twisted's ResponseFailed / _DataLoss carry their causes
    if reasons:
        text = "; ".join(filter(None, [text, *(r.getErrorMessage() for r in reasons)]))
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def describe_failure(failure) -> tuple[str, str]:
    """(kind, detail) for a failed request: http, dns, blocked-address, timeout, connection,
    offsite, redirect, robots-unavailable, retry-after, too-large, robots or other. The detail is
    never empty."""
    host = urlsplit(failure.request.url).hostname if hasattr(failure, "request") else ""
    return describe_exception(failure.value, host)


def describe_exception(exc: BaseException, host: str | None) -> tuple[str, str]:
    """describe_failure for an exception raised while fetching from *host*."""
    if isinstance(exc, HttpError):
        return "http", f"HTTP {exc.response.status}"
    if isinstance(exc, OutOfScope):
        return exc.kind, exc.detail
    if isinstance(exc, _FAILURE_KINDS[0][0]) and (refusal := refusal_for(host)):
        address, reason = refusal
        return "blocked-address", (f"not connected to {host}: it resolves to {address}, {reason}, "
                                   "which is not in the allowed addresses (TIPWATCH_ALLOW_ADDRESSES)")
    for kinds, kind, detail in _FAILURE_KINDS:
        if isinstance(exc, kinds):
            return kind, detail.format(host=host, exc=_exception_text(exc))
    if isinstance(exc, IgnoreRequest):
        text = str(exc)
        if text.startswith("duplicate: "):
            return "duplicate", text
        if "robots.txt" in text:
            return "robots", text
        if "redirect" in text:
            return "redirect", text or "too many redirects"
        if "DOWNLOAD_MAXSIZE" in text:  # Scrapy's cap hit while undoing Content-Encoding (a gzip bomb)
            return "too-large", text
        return "ignored", text or "request dropped"
    return "other", _exception_text(exc)
