"""`tipwatch crawl --redis URL --workers N`: one crawl in distributed form, on this machine.

    seed   a run is started in the database; the known-URL set and the index validators are
           loaded into Redis, the crawl's parameters published, and every source's feeds,
           sitemaps and listings pushed into the shared frontier (scrapy-redis's queue)
    start  N fetch workers, N process workers and one writer, each its own process whose
           command line says what it is (`tipwatch worker --fetch`, `worker --process`, `ingest`);
           more may join from other machines (`tipwatch worker --redis URL`)
    watch  a child that dies is started again (its stream entries are claimed after a timeout);
           the crawl is drained when the frontier and both streams are empty and every fetch
           worker has been idle, doing nothing, across two looks
    stop   the state goes to `stopping`, the workers finish and exit; the per-source counters,
           summed over the workers, are stored as the run's, and the run is finished

The Redis URL reaches the children through their environment (TIPWATCH_REDIS_URL), never their
command line; it is printed only masked.
"""
from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass, field

import redis

from crawler.shared.connection import text
from tipwatch.crawl import CrawlError, CrawlOptions, scrapy_settings
from tipwatch.workers import child_env, dataclass_json, worker_command

log = logging.getLogger(__name__)
LOOK_EVERY_S = 0.5       # between two looks at the crawl's state
STOP_WAIT_S = 60         # how long the workers may take to finish once told to stop
RESTARTS_MAX = 20        # children started again at most, over a crawl (a crash loop ends the crawl)


@dataclass
class Child:
    role: str
    command: list[str]
    process: subprocess.Popen | None = None
    started: list[float] = field(default_factory=list)

    @property
    def running(self) -> subprocess.Popen:
        """Its process (a child is started before it is watched)."""
        if self.process is None:
            raise RuntimeError(f"the {self.role} worker was never started")
        return self.process


class Orchestrator:
    def __init__(self, options: CrawlOptions, workers: int, claim_after_s: float):
        from crawler.shared.connection import connect
        from crawler.shared.frontier import worker_name
        from crawler.shared.keys import Keys

        self.options, self.config = options, options.config
        self.workers, self.claim_after_s = workers, claim_after_s
        self.conn, self.keys = connect(self.config.redis_url), Keys()
        self.name = worker_name("crawl")
        self.children: list[Child] = []
        self.restarts = 0
        self._last_look: tuple | None = None

    # ------------------------------------------------------------ seed

    def claim_crawl(self) -> None:
        """This Redis's crawl becomes ours; refused while another orchestrator beats."""
        from crawler.shared import heartbeat

        running = text(self.conn.hget(self.keys.crawl, "orchestrator"))
        if running and any(row["name"] == running for row in heartbeat.heartbeats(self.conn, self.keys)):
            raise CrawlError(f"a distributed crawl (run {text(self.conn.hget(self.keys.crawl, 'run_id'))}) is "
                             "already running on this Redis; wait for it, or use another Redis database")
        # what a dead crawl left: its queue, streams and counters are of no use to this run
        self.conn.delete(self.keys.crawl, self.keys.requests, self.keys.pages, self.keys.records, self.keys.stats,
                         self.keys.validators)

    def seed(self, run_id: int, db, settings) -> int:
        """Publish the crawl and push the sources' index pages into the frontier; returns how many."""
        from crawler.paths import stage_settings

        self.load_known(db, settings)
        self.load_validators(db)
        stages = stage_settings(settings, db)
        opts = self.options
        self.conn.hset(self.keys.crawl, mapping={
            "run_id": run_id, "state": "seeding", "orchestrator": self.name, "started": f"{time.time():.3f}",
            "sources": ",".join(opts.source_names), "since": opts.since or "",
            "lookback_days": "" if opts.lookback_days is None else str(opts.lookback_days),
            "stages": dataclass_json(stages), "claim_after_s": self.claim_after_s,
            # the known-URL set's buckets, for the writer (which has no -s of its own)
            "known_bucket_s": settings.getint("TIPWATCH_KNOWN_BUCKET_S", 86400),
            "known_buckets": settings.getint("TIPWATCH_KNOWN_BUCKETS", 30)})
        from crawler.shared.keys import PAGES_GROUP, RECORDS_GROUP
        from crawler.shared.streams import Stream

        Stream(self.conn, self.keys.pages, PAGES_GROUP).ensure_group()
        Stream(self.conn, self.keys.records, RECORDS_GROUP).ensure_group()
        pushed = self.push_seeds(run_id, settings)
        self.conn.hset(self.keys.crawl, "state", "running")
        return pushed

    def load_known(self, db, settings) -> None:
        """The database's URL keys into the known-URL set, once a day (or for another database)."""
        from crawler.shared.frontier import known_set
        from pipeline.store.ingest import known_url_keys

        known = known_set(self.conn, self.keys, settings)
        marker = str(self.config.db.resolve())
        if text(self.conn.get(self.keys.known_loaded)) == marker:
            return
        for keys in known_url_keys(db, known.span_s * known.buckets // 86400 or 1):
            known.add(keys)
        self.conn.set(self.keys.known_loaded, marker, ex=known.span_s)

    def load_validators(self, db) -> None:
        from pipeline import store

        validators = store.index_validators(db)
        if validators:
            self.conn.hset(self.keys.validators, mapping={url: json.dumps(v) for url, v in validators.items()})

    def push_seeds(self, run_id: int, settings) -> int:
        """The news spider's start requests, made here and pushed into scrapy-redis's queue (a
        spider object serialises its callbacks by name; the workers' spiders have the same)."""
        from scrapy_redis.queue import PriorityQueue

        from crawler.context import CrawlContext
        from crawler.plan import CrawlPlan
        from crawler.shared.frontier import open_shared_state, publisher_of
        from crawler.spiders.news import NewsSpider

        settings.set("TIPWATCH_REDIS_URL", self.config.redis_url, priority="cmdline")
        settings.set("TIPWATCH_WORKER_NAME", self.name, priority="cmdline")
        opts = self.options
        spider = NewsSpider(source=",".join(opts.source_names), sources_file=str(self.config.sources),
                            since=opts.since or "")
        plan = CrawlPlan.from_settings(settings, spider.source_names, spider.sources_file, spider.since_arg,
                                       "" if opts.lookback_days is None else str(opts.lookback_days))
        context = CrawlContext(plan, *open_shared_state(settings, plan))
        spider.use(context, settings)
        queue = PriorityQueue(self.conn, spider, self.keys.requests)
        pushed = 0
        for request in spider.seed_requests():
            queue.push(request)
            pushed += 1
        publisher_of(context).flush()
        return pushed

    # ------------------------------------------------------------ run

    def start_children(self) -> None:
        roles = ["fetch"] * self.workers + ["process"] * self.workers + ["ingest"]
        self.children = [Child(role, worker_command(self.config, role, self.options)) for role in roles]
        for child in self.children:
            self.start(child)

    def start(self, child: Child) -> None:
        log_file = self.options.log_file
        if log_file:  # the child keeps its own handle on the log: ours closes at once
            with open(log_file, "ab") as out:
                child.process = subprocess.Popen(child.command, env=child_env(self.config), stdout=out, stderr=out)
        else:
            child.process = subprocess.Popen(child.command, env=child_env(self.config),
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        child.started.append(time.monotonic())

    def watch(self) -> None:
        """Until drained: heartbeats, and dead children started again."""
        from crawler.shared import heartbeat

        calm, run_id = 0, text(self.conn.hget(self.keys.crawl, "run_id"))
        while calm < 2:
            heartbeat.beat(self.conn, self.keys, self.name, "crawl", run_id=run_id)
            for child in self.children:
                if child.running.poll() is not None:
                    self.restart(child)
            calm = calm + 1 if self.drained() else 0
            time.sleep(LOOK_EVERY_S)

    def restart(self, child: Child) -> None:
        """A dead child started again. Its heartbeat goes at once (rather than when it expires), so
        its in-flight requests return to the frontier at the next look."""
        from crawler.shared import heartbeat
        from crawler.shared.frontier import worker_name

        role = "writer" if child.role == "ingest" else child.role
        process = child.running
        heartbeat.forget(self.conn, self.keys, worker_name(role, process.pid))
        self.restarts += 1
        if self.restarts > RESTARTS_MAX:
            raise CrawlError(f"the {child.role} worker keeps dying (exit code {process.returncode}); "
                             f"see {self.options.log_file}")
        log.warning("%s worker (pid %s) exited with %s: started again", child.role, process.pid, process.returncode)
        self.start(child)

    def drained(self) -> bool:
        """Frontier and streams empty, no request in flight, and every fetch worker idle with its
        activity unchanged since the last look (so it took nothing from the frontier in between).
        A fetch worker that stopped beating has its in-flight requests put back first."""
        from crawler.shared import heartbeat
        from crawler.shared.frontier import requeue_inflight

        beating = heartbeat.heartbeats(self.conn, self.keys)
        returned = requeue_inflight(self.conn, self.keys, {row["name"] for row in beating})
        if returned:
            log.warning("%d requests in flight at a fetch worker that stopped beating: back in the frontier", returned)
        fetchers = [row for row in beating if row.get("role") == "fetch"]
        empty = (self.conn.zcard(self.keys.requests) == 0 and self.conn.xlen(self.keys.pages) == 0
                 and self.conn.xlen(self.keys.records) == 0
                 and next(self.conn.scan_iter(match=self.keys.inflight("*")), None) is None)
        look = tuple(sorted((row["name"], row.get("activity")) for row in fetchers))
        calm = empty and bool(fetchers) and all(row.get("idle") == "1" for row in fetchers) and look == self._last_look
        self._last_look = look if empty else None
        return calm

    def stop_children(self, wait_s: float = STOP_WAIT_S) -> None:
        if self.conn.exists(self.keys.crawl):
            self.conn.hset(self.keys.crawl, "state", "stopping")
        deadline = time.monotonic() + wait_s
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.terminate()
                try:
                    child.process.wait(10)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()

    def abort(self) -> None:
        """The crawl failed (or was interrupted): its state goes, so that workers elsewhere stop
        too, and this machine's workers are stopped (terminated, then killed)."""
        try:
            self.conn.delete(self.keys.crawl)
        except redis.RedisError:
            pass
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(10)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()

    def finish(self, db, run_id: int, plan_sources: list[str], started: float) -> None:
        """The counters summed over the workers, stored as the run's; Redis left with only the
        seen-set and known-URL set (which expire)."""
        from crawler.runstats import SourceStats
        from crawler.shared import heartbeat
        from crawler.shared.stats import summed_rows
        from pipeline import store

        rows = summed_rows(self.conn, self.keys.stats, time.monotonic() - started)
        for source in plan_sources:
            store.save_source_stats(db, run_id, source, rows.get(source) or SourceStats().as_row())
        self.conn.delete(self.keys.crawl, self.keys.requests, self.keys.pages, self.keys.records, self.keys.stats,
                         self.keys.validators)
        heartbeat.forget(self.conn, self.keys, self.name)


def run_distributed(options: CrawlOptions, workers: int) -> int:
    """The crawl, distributed over worker processes through Redis; returns its run's id. A stream
    entry pending with a consumer for TIPWATCH_CLAIM_AFTER_S (default 60) is taken over by another."""
    from crawler.plan import CrawlPlan
    from pipeline import store

    settings = scrapy_settings(options)
    claim_after_s = settings.getfloat("TIPWATCH_CLAIM_AFTER_S", 60.0)
    plan = CrawlPlan.from_settings(settings, options.source_names, str(options.config.sources), options.since or "")
    orchestrator = Orchestrator(options, workers, claim_after_s)
    orchestrator.claim_crawl()
    db = store.open_db(options.config.db)
    store.fast_commits(db)
    run_id = store.start_run(db, list(plan.sources))
    started, status = time.monotonic(), "failed"
    try:
        orchestrator.seed(run_id, db, settings)
        orchestrator.start_children()
        orchestrator.watch()
        orchestrator.stop_children()
        orchestrator.finish(db, run_id, list(plan.sources), started)
        status = "finished"
    except redis.RedisError as exc:  # Redis went away mid-crawl; its message names no password
        raise CrawlError(f"the distributed crawl lost its Redis: {exc}") from None
    finally:
        if status != "finished":
            orchestrator.abort()
        store.finish_run(db, run_id, status)
    return run_id
