"""Politeness as the standards say it.

RobotsTxtMiddleware: Scrapy's, with RFC 9309's reading of a robots.txt that cannot be read
(§2.3.1.3–4): a 4xx answer means no rules (allow); a 5xx or 429 answer, or no answer at all
(unreachable, refused, a redirect out of scope or too many of them), means the site is to be
treated as disallowed, here for the rest of the run. Each request refused that way is recorded as
`robots-unavailable`. Scrapy's own would read a 500 error page as "allow all".

RetryAfterMiddleware: Scrapy's retries, with a 429 or 503's `Retry-After` (seconds or an HTTP
date) honoured for the whole host: no request to it, the retry included, leaves before the time
it named. A wait over TIPWATCH_RETRY_AFTER_MAX (default 120 s) is not waited for: that URL is
given up for this run and recorded as `retry-after`.
"""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.robotstxt import RobotParser
from scrapy.settings import BaseSettings
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler.runstats import describe_exception
from crawler.scope import OutOfScope, Refusal, host_key

THROTTLE_STATUSES = (429, 503)
UNREACHABLE = ("dns", "connection", "timeout")


class _DisallowAll(RobotParser):
    """The robots rules of a site whose robots.txt could not be read (RFC 9309 §2.3.1.4), with
    the refusal each of its requests is recorded as."""

    def __init__(self, refusal: Refusal):
        self.refusal = refusal

    @classmethod
    def from_crawler(cls, crawler, robotstxt_body):
        raise TypeError("_DisallowAll stands for a robots.txt that could not be read; it parses none")

    def allowed(self, url, user_agent) -> bool:
        return False


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request):
        parser = await super().robot_parser(request)
        # Scrapy hands every request that waits for a robots.txt still in flight the result of one
        # Deferred; the first waiter's asyncio bridge consumes it, and the next ones get None:
        # "no robots.txt, allow all". Seen here with two sources on one host: the second source's
        # requests went out under a robots.txt that refused the first's. The parser is stored
        # before the Deferred fires, so ask for it again.
        current = self._parsers.get(urlparse_cached(request).netloc)
        return parser if current is None or isinstance(current, Deferred) else current

    async def _parse_robots(self, response, netloc, request):
        # 429 "too many requests" is a 4xx by number but says what a 5xx says: not now. Read as
        # "no rules" it would let the crawl loose on a site that asked it to slow down.
        if response.status >= 500 or response.status == 429:
            return self._unavailable(netloc, f"robots.txt answered HTTP {response.status}")
        if response.status >= 400:  # RFC 9309 §2.3.1.3: unavailable, so no rules apply
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc, netloc):
        kind, detail = describe_exception(exc, urlsplit("//" + netloc).hostname)
        if kind == "blocked-address":  # the site itself is refused, not only its robots.txt
            return self._unavailable(netloc, Refusal(kind, detail))
        if kind in UNREACHABLE:  # the site did not answer: that is the error to report
            return self._unavailable(netloc, Refusal(
                kind, f"{detail} (asking for robots.txt; nothing more is requested from the site "
                      "in this run)", unanswered=True))
        self._unavailable(netloc, f"robots.txt could not be fetched ({kind}: {detail})")

    def _unavailable(self, netloc: str, reason: str | Refusal) -> None:
        if isinstance(reason, str):
            reason = Refusal("robots-unavailable",
                             f"{reason}: the site is treated as disallowed for this run (RFC 9309 §2.3.1.4)")
        self._stats.inc_value("robotstxt/unavailable")
        pending = self._parsers[netloc]
        assert isinstance(pending, Deferred)  # as in Scrapy's own: the robots.txt is still awaited
        self._parsers[netloc] = parser = _DisallowAll(reason)
        pending.callback(parser)

    def process_request_2(self, rp, request):
        if isinstance(rp, _DisallowAll):
            raise OutOfScope(rp.refusal)
        super().process_request_2(rp, request)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: '120' or 'Wed, 21 Oct 2026 07:28:00 GMT'; None when
    absent or unreadable (then the header is ignored, as browsers do)."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.max_wait = settings.getfloat("TIPWATCH_RETRY_AFTER_MAX", 120.0)
        # host (host_key's; None for a URL without one) → monotonic time its pause ends
        self.not_before: dict[str | None, float] = {}

    async def process_request(self, request, spider=None):
        wait = self.not_before.get(host_key(request.url), 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def process_response(self, request, response, spider=None):
        if response.status in THROTTLE_STATUSES and not request.meta.get("dont_retry"):
            self._pause_host(request, response)
        return super().process_response(request, response)

    def _pause_host(self, request, response) -> None:
        seconds = retry_after_seconds(response.headers.get(b"Retry-After"))
        if seconds is None:
            return
        if seconds > self.max_wait:
            raise OutOfScope(Refusal(
                "retry-after", f"HTTP {response.status} asks to retry in {seconds:.0f} s, over the "
                               f"{self.max_wait:.0f} s limit: not fetched in this run"))
        host = host_key(request.url)
        self.not_before[host] = max(self.not_before.get(host, 0.0), time.monotonic() + seconds)
