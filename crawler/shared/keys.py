"""The names of tipwatch's keys in Redis. One crawl at a time per Redis database: a second
crawl needs another Redis database (`redis://host:6379/1`)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "tipwatch"

    @property
    def crawl(self) -> str:
        """Hash: the running crawl's run id, parameters and state (seeding, running, stopping)."""
        return f"{self.prefix}:crawl"

    @property
    def requests(self) -> str:
        """scrapy-redis's request queue: the shared frontier."""
        return f"{self.prefix}:requests"

    @property
    def seen(self) -> str:
        """Prefix of the seen-set's time buckets: URL keys requested in the last hours."""
        return f"{self.prefix}:seen"

    @property
    def known(self) -> str:
        """Prefix of the known-URL set's buckets: URL keys stored or settled (never fetched again)."""
        return f"{self.prefix}:known"

    @property
    def known_loaded(self) -> str:
        """Set once the known-URL set holds the database's keys (expires with the buckets)."""
        return f"{self.prefix}:known:loaded"

    @property
    def pages(self) -> str:
        """Stream: fetched pages, for the process workers."""
        return f"{self.prefix}:pages"

    @property
    def records(self) -> str:
        """Stream: articles, errors, settled pages and validators, for the one writer."""
        return f"{self.prefix}:records"

    @property
    def stats(self) -> str:
        """Hash: per-source counters of the running crawl, summed over the workers."""
        return f"{self.prefix}:stats"

    @property
    def validators(self) -> str:
        """Hash: index URL → its ETag and Last-Modified (JSON), for conditional requests."""
        return f"{self.prefix}:validators"

    @property
    def workers(self) -> str:
        """Set of worker names that sent a heartbeat."""
        return f"{self.prefix}:workers"

    def worker(self, name: str) -> str:
        """Hash: one worker's heartbeat; expires when it stops beating."""
        return f"{self.prefix}:worker:{name}"

    def inflight(self, worker: str) -> str:
        """Hash: the requests a fetch worker took from the frontier and has not finished (token →
        the request as queued); put back into the frontier if the worker dies."""
        return f"{self.prefix}:inflight:{worker}"

    def host(self, host: str) -> str:
        """Hash: a host's next allowed request time (ms, Redis clock)."""
        return f"{self.prefix}:host:{host}"

    def host_leases(self, host: str) -> str:
        """Sorted set: the requests to a host in flight over all workers, scored by expiry."""
        return f"{self.prefix}:host:{host}:leases"


PAGES_GROUP = "process"   # the process workers' consumer group on the pages stream
RECORDS_GROUP = "writer"  # the writer's consumer group on the records stream
