"""The shared frontier and seen-set, on scrapy-redis.

Fetch workers pop requests from one scrapy-redis queue (its `Scheduler`) and push what they
discover into it; its `RFPDupeFilter` decides, atomically, which worker takes a newly found
article URL. Here its fingerprint of an article request is tipwatch's URL key (the one the store
uses), and its set is time-bucketed (crawler/shared/buckets.py) rather than one set for ever.
Index pages (feeds, sitemaps, listings) are read once per run by the worker that found them
(`dont_filter`, and the worker's own IndexBudget), as in the embedded crawl.
"""
from __future__ import annotations

import itertools
import logging
import os
import socket
from dataclasses import dataclass

import redis
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.budget import IndexBudget
from crawler.context import CrawlContext
from crawler.shared.buckets import BucketedSet
from crawler.shared.connection import connect
from crawler.shared.keys import Keys
from crawler.shared.recorder import SharedRecorder
from crawler.shared.stats import StatsPublisher
from crawler.state import Frontier, SourceStatsBook
from pipeline.urls import url_key

QUEUE_CLASS = "scrapy_redis.queue.PriorityQueue"
# KEYS: the queue, then the seen-set's live buckets, newest first. ARGV: fingerprint ("": not
# filtered), bucket lifetime, the encoded request, its score. 1 if queued, 0 if seen before.
_ENQUEUE = """
if ARGV[1] ~= '' then
  for i = 2, #KEYS do
    if redis.call('SISMEMBER', KEYS[i], ARGV[1]) == 1 then return 0 end
  end
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1
"""
# KEYS: the queue, this worker's in-flight hash. ARGV: token. The first request (lowest score, as
# scrapy-redis's PriorityQueue pops), moved into the in-flight hash; nil when the queue is empty.
_POP = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0)
if #found == 0 then return false end
redis.call('ZREM', KEYS[1], found[1])
redis.call('HSET', KEYS[2], ARGV[1], found[1])
return found[1]
"""
log = logging.getLogger(__name__)


@dataclass
class SharedState:
    """One worker's handle on the crawl's shared state."""
    conn: redis.Redis
    keys: Keys
    seen: BucketedSet    # URL keys requested lately (the seen-set)
    known: BucketedSet   # URL keys stored or settled (never fetched again)
    run_id: int
    worker: str          # this worker's name, in its heartbeat and its WARC files

    @classmethod
    def from_settings(cls, settings, role: str = "fetch") -> SharedState:
        conn = connect(settings.get("TIPWATCH_REDIS_URL"))
        keys = Keys()
        run_id = int(conn.hget(keys.crawl, "run_id") or 0)
        worker = settings.get("TIPWATCH_WORKER_NAME") or worker_name(role)
        return cls(conn, keys, seen_set(conn, keys, settings), known_set(conn, keys, settings), run_id, worker)


def shared_of(context: CrawlContext) -> SharedState:
    """The shared state of a crawl context: the distributed components need one."""
    if context.shared is None:
        raise NotConfigured("this component runs in distributed mode only (TIPWATCH_REDIS_URL)")
    return context.shared


def publisher_of(context: CrawlContext) -> StatsPublisher:
    """The publisher of a distributed crawl's per-source counters (its recorder's)."""
    recorder = context.recorder
    if not isinstance(recorder, SharedRecorder):
        raise NotConfigured("this component runs in distributed mode only (TIPWATCH_REDIS_URL)")
    return recorder.publisher


def worker_name(role: str, pid: int | None = None) -> str:
    """fetch-HOST-PID, process-HOST-PID, writer-HOST-PID, crawl-HOST-PID (the orchestrator)."""
    return f"{role}-{socket.gethostname()}-{pid or os.getpid()}"


def seen_set(conn, keys: Keys, settings) -> BucketedSet:
    """URL keys requested: an hour per bucket, remembered a day by default."""
    return BucketedSet(conn, keys.seen, settings.getint("TIPWATCH_SEEN_BUCKET_S", 3600),
                       settings.getint("TIPWATCH_SEEN_BUCKETS", 24))


def known_set(conn, keys: Keys, settings) -> BucketedSet:
    """URL keys stored or settled: a day per bucket, remembered 30 days by default; older ones are
    asked of nobody (an undated link to an article stored months ago may be fetched again, and the
    writer, idempotent on URL keys, stores nothing twice)."""
    return BucketedSet(conn, keys.known, settings.getint("TIPWATCH_KNOWN_BUCKET_S", 86400),
                       settings.getint("TIPWATCH_KNOWN_BUCKETS", 30))


class SharedFrontier(Frontier):
    """Known URLs from the shared known-URL set, queued ones from the seen-set. `queue` only
    looks: the scheduler's dupefilter takes a URL for one worker, atomically, when the request
    reaches it (two workers may both find a link; one fetches it)."""

    def __init__(self, shared: SharedState):
        super().__init__(shared.known.contains)
        self.shared = shared

    def is_queued(self, key: str) -> bool:
        return self.shared.seen.contains(key)

    def queue(self, key: str) -> bool:
        return not self.is_queued(key)


def open_shared_state(settings, plan) -> tuple:
    """open_local_state's counterpart: (frontier, stats, recorder, budget, shared)."""
    shared = SharedState.from_settings(settings)
    names = list(plan.sources)
    stats = SourceStatsBook(names)
    recorder = SharedRecorder(shared, stats, StatsPublisher(stats, shared.conn, shared.keys.stats))
    default_max = settings.getint("TIPWATCH_MAX_SITEMAPS", 200)
    budget = IndexBudget({name: src.max_sitemaps if src.max_sitemaps is not None else default_max
                          for name, src in plan.sources.items()},
                         settings.getint("TIPWATCH_MAX_SITEMAP_DEPTH", 3))
    return SharedFrontier(shared), stats, recorder, budget, shared


class BucketedDupeFilter(RFPDupeFilter):
    """scrapy-redis's dupefilter over the time-bucketed seen-set, keyed by URL key for articles."""

    def __init__(self, seen: BucketedSet, debug: bool = False):
        super().__init__(seen.conn, seen.prefix, debug=debug)
        self.seen = seen

    def request_seen(self, request) -> bool:
        return not self.seen.add_if_new(self.request_fingerprint(request))

    def request_fingerprint(self, request) -> str:
        if request.meta.get("role") == "article":
            return url_key(request.url)
        return super().request_fingerprint(request)

    def clear(self) -> None:
        """Never emptied by one worker: the set is every worker's, and its buckets expire."""


class SharedScheduler(Scheduler):
    """scrapy-redis's Scheduler, built from the crawl context's shared state (its own
    from_settings would open a second connection from REDIS_URL and never pass the seen-set).
    The queue persists when a worker closes: it is every worker's frontier."""

    @classmethod
    def from_crawler(cls, crawler):
        shared = CrawlContext.of(crawler).shared
        scheduler = cls(server=shared.conn, persist=True, queue_key=shared.keys.requests, queue_cls=QUEUE_CLASS,
                        dupefilter=BucketedDupeFilter(shared.seen, crawler.settings.getbool("DUPEFILTER_DEBUG")),
                        idle_before_close=0)
        scheduler.stats = crawler.stats
        scheduler.inflight_key = shared.keys.inflight(shared.worker)
        scheduler._tokens = itertools.count()
        scheduler._enqueue = shared.conn.register_script(_ENQUEUE)
        scheduler._pop = shared.conn.register_script(_POP)
        return scheduler

    # scrapy-redis 0.9.1 (2024-07) predates Scrapy 2.13: it logs through Spider.log() and passes
    # `spider` to the stats collector, both deprecated; the same steps without them
    def open(self, spider):
        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider, key=self.queue_key,
                                                 serializer=self.serializer)
        if len(self.queue):
            log.info("joining a crawl with %d requests in the shared frontier", len(self.queue))

    def enqueue_request(self, request) -> bool:
        """The dupefilter's test-and-add and the push in one step (a Lua script): a worker
        killed between the two would leave a URL seen and never queued."""
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        seen = self.df.seen
        encoded = self.queue._encode_request(request)
        added = self._enqueue(keys=[self.queue.key, *seen.live_keys()],
                              args=[fingerprint, seen.lifetime_s, encoded, -request.priority])
        if not added:
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self):
        """The next request of the shared frontier, kept in this worker's in-flight hash until it
        is finished (crawler/shared/worker.py), so that it returns to the frontier if the worker
        dies meanwhile."""
        token = f"{next(self._tokens)}"
        data = self._pop(keys=[self.queue.key, self.inflight_key], args=[token])
        if data is None:
            return None
        request = self.queue._decode_request(data)
        request.meta[LEASE_KEY] = token
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request


LEASE_KEY = "frontier_lease"   # request meta: the token of its in-flight entry


def finish_request(conn, keys, worker: str, request) -> None:
    """*request* is done with (its page published, its links queued, its failure recorded, or a
    redirect or retry of it queued in its place): its in-flight entry goes."""
    token = request.meta.pop(LEASE_KEY, None)
    if token is not None:
        conn.hdel(keys.inflight(worker), token)


def requeue_inflight(conn, keys, live_workers: set[str]) -> int:
    """The in-flight requests of fetch workers that no longer beat, back into the frontier, and
    their leases on hosts given back; returns how many requests."""
    returned = 0
    for raw in conn.scan_iter(match=keys.inflight("*")):
        worker = raw.decode().rsplit(":", 1)[1]
        if worker in live_workers:
            continue
        release_leases(conn, keys, worker)
        entries = conn.hvals(raw)
        pipe = conn.pipeline(transaction=True)
        if entries:
            pipe.zadd(keys.requests, {entry: 0 for entry in entries})
        pipe.delete(raw)
        pipe.execute()
        returned += len(entries)
    return returned


def release_leases(conn, keys, worker: str) -> None:
    """A dead worker's leases on hosts (crawler/shared/politeness.py), which would otherwise
    hold their hosts until they expire."""
    for leases in conn.scan_iter(match=keys.host_leases("*")):
        mine = [token for token in conn.zrange(leases, 0, -1) if token.decode().startswith(worker + ":")]
        if mine:
            conn.zrem(leases, *mine)
