"""Politeness over all workers: per-host concurrency and delay held in Redis.

Scrapy keeps its per-site limits (CONCURRENT_REQUESTS_PER_DOMAIN, DOWNLOAD_DELAY, AutoThrottle's
delay, Retry-After) in each process; N workers would hit a site N times as hard (the known trap
of scrapy-redis). Here each request, just before it goes to the downloader, takes a lease on its
host in Redis: at most CONCURRENT_REQUESTS_PER_DOMAIN leases at a time over all workers, and no
two leases closer than the host's delay (the larger of DOWNLOAD_DELAY and this worker's
AutoThrottle delay for the site). The lease is given back when the response (or the failure)
comes back, and expires on its own after DOWNLOAD_TIMEOUT + 10 s, so a killed worker's leases do
not hold a site for ever. A 429 or 503 with Retry-After pauses the host for every worker.

Times are Redis's own clock (TIME), so the workers' clocks need not agree.
"""
from __future__ import annotations

import asyncio
import itertools

from crawler.context import CrawlContext
from crawler.politeness import THROTTLE_STATUSES, retry_after_seconds
from crawler.scope import host_key

# KEYS: leases (zset token → expiry ms), host (hash: next = earliest next start, ms)
# ARGV: token, limit, delay ms, lease ms. Returns 0 (taken), or ms to wait before trying again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local next_start = tonumber(redis.call('HGET', KEYS[2], 'next') or '0')
if next_start > now then return next_start - now end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('HSET', KEYS[2], 'next', now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) + 600000)
return 0
"""
# KEYS: host hash; ARGV: pause ms. The host's next start pushed to at least now + pause.
_PAUSE = """
local t = redis.call('TIME')
local until_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('HGET', KEYS[1], 'next') or '0') then
  redis.call('HSET', KEYS[1], 'next', until_ms)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 600000)
return 0
"""
FULL_WAIT_S = 0.02   # how soon a worker asks again when the host's leases are all taken
META_KEY = "host_lease"


class SharedHostPoliteness:
    """Downloader middleware, closest to the downloader (its process_request runs last, its
    process_response first), so every request that goes out holds a lease, retries and
    robots.txt included."""

    def __init__(self, crawler, shared):
        settings = crawler.settings
        self.crawler, self.shared, self.keys = crawler, shared, shared.keys
        self.limit = max(1, settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8))
        self.delay_s = settings.getfloat("DOWNLOAD_DELAY", 0.0)
        self.lease_ms = int((settings.getfloat("DOWNLOAD_TIMEOUT", 180) + 10) * 1000)
        self.max_pause_s = settings.getfloat("TIPWATCH_RETRY_AFTER_MAX", 120.0)
        self._take = shared.conn.register_script(_TAKE)
        self._pause = shared.conn.register_script(_PAUSE)
        self._tokens = itertools.count()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, CrawlContext.of(crawler).shared)

    def _delay_ms(self, request) -> int:
        """The host's interval: DOWNLOAD_DELAY, or AutoThrottle's delay for it in this worker."""
        delay = self.delay_s
        downloader = getattr(self.crawler.engine, "downloader", None)
        if downloader is not None:
            slot = downloader.slots.get(downloader.get_slot_key(request))
            if slot is not None:
                delay = max(delay, slot.delay)
        return int(delay * 1000)

    async def process_request(self, request, spider=None):
        host = host_key(request.url)
        if host is None:
            return None
        token = f"{self.shared.worker}:{next(self._tokens)}"
        leases, state = self.keys.host_leases(host), self.keys.host(host)
        while True:
            wait_ms = self._take(keys=[leases, state], args=[token, self.limit, self._delay_ms(request), self.lease_ms])
            if wait_ms == 0:
                request.meta[META_KEY] = (host, token)
                return None
            await asyncio.sleep(FULL_WAIT_S if wait_ms < 0 else wait_ms / 1000)

    def _release(self, request) -> None:
        lease = request.meta.pop(META_KEY, None)
        if lease:
            self.shared.conn.zrem(self.keys.host_leases(lease[0]), lease[1])

    def process_response(self, request, response, spider=None):
        self._release(request)
        if response.status in THROTTLE_STATUSES:
            seconds = retry_after_seconds(response.headers.get(b"Retry-After"))
            if seconds is not None and seconds <= self.max_pause_s:
                host = host_key(request.url)
                self._pause(keys=[self.keys.host(host)], args=[int(seconds * 1000)])
        return response

    def process_exception(self, request, exception, spider=None):
        self._release(request)
        return None
