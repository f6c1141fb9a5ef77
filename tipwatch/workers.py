"""The workers of distributed mode: `tipwatch worker --fetch` (a Scrapy crawl over the shared
frontier) and `tipwatch worker --process` (pages stream → extract, classify, enrich → records
stream). Either joins a running crawl from any machine that reaches its Redis; it needs the
same sources file (fetch) or the same profile and seeds files (process) as the orchestrator.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tipwatch.config import Config

if TYPE_CHECKING:  # twisted is imported only when a worker runs
    from twisted.python.failure import Failure
from tipwatch.crawl import CrawlError, CrawlOptions, scrapy_settings

log = logging.getLogger(__name__)
WAIT_FOR_CRAWL_S = 60      # how long a worker waits for a crawl to join before giving up
IDLE_READ_MS = 500         # a process worker's blocking read, between looks at the crawl's state
CLAIM_EVERY_S = 1.0        # how often a consumer looks for a dead consumer's entries


def crawl_info(conn, keys, wait_s: float = WAIT_FOR_CRAWL_S) -> dict:
    """The running crawl's parameters (its hash in Redis), waiting up to *wait_s* for one."""
    deadline = time.monotonic() + wait_s
    while True:
        info = {k.decode(): v.decode() for k, v in conn.hgetall(keys.crawl).items()}
        if info.get("run_id") and info.get("state") in ("running", "stopping"):
            return info
        if time.monotonic() > deadline:
            raise CrawlError(f"no distributed crawl is running on this Redis (waited {wait_s:g} s)")
        time.sleep(0.2)


def stopping(conn, keys) -> bool:
    return conn.hget(keys.crawl, "state") in (None, b"stopping")


# ---------------------------------------------------------------- fetch

def run_fetch_worker(options: CrawlOptions, wait_s: float = WAIT_FOR_CRAWL_S) -> None:
    """One Scrapy crawl over the shared frontier, until the orchestrator says the crawl is drained."""
    from scrapy.crawler import CrawlerProcess

    from crawler.shared.connection import connect
    from crawler.shared.frontier import worker_name
    from crawler.shared.keys import Keys
    from crawler.shared.worker import SharedNewsSpider, configure

    redis_url = options.config.redis_url
    conn, keys = connect(redis_url), Keys()
    info = crawl_info(conn, keys, wait_s)
    settings = scrapy_settings(options)
    configure(settings, redis_url, int(info["run_id"]), worker_name("fetch"))
    process = CrawlerProcess(settings)
    failures: list[Failure] = []
    started = process.crawl(SharedNewsSpider, source=info.get("sources", ""), sources_file=str(options.config.sources),
                            since=info.get("since", ""), lookback_days=info.get("lookback_days", ""))
    started.addErrback(failures.append)
    process.start()
    if failures:
        raise CrawlError(f"the fetch worker failed: {failures[0].getErrorMessage()}")


# ---------------------------------------------------------------- process

class PageTimeout(Exception):
    pass


@contextmanager
def time_bound(seconds: float):
    """PageTimeout raised in this (main) thread after *seconds*: a page that keeps the parser
    busy past it is given up, as the embedded crawl's pool does."""
    def expire(signum, frame):
        raise PageTimeout
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def stages_of(info: dict):
    from pipeline.enrich import EnrichFiles
    from pipeline.process import StageSettings

    data = json.loads(info["stages"])
    return StageSettings(**dict(data, enrich=EnrichFiles(**data["enrich"])))


def processed(fields: dict, stages, timeout_s: float) -> dict:
    """The article record a pages-stream entry gives: process_page's result with the page's meta."""
    from crawler.shared.streams import read_page
    from pipeline.process import page_input, process_page

    page, ref, meta = read_page(fields)
    try:
        with time_bound(timeout_s):
            result = process_page(page_input(page, meta.get("language"), meta.get("timezone")), stages)
    except PageTimeout:
        # not settled: the next run tries the page again (a loaded machine is not a bad page)
        result = {"ok": False, "kind": "extraction", "settle": False,
                  "detail": f"extraction took longer than {timeout_s:g} s; given up for this run"}
    return {"source": page.source, "url": page.url, "aliases": list(page.aliases), "fetched_at": page.fetched_at,
            "ref": meta.get("ref"), "result": result}


def run_process_worker(config: Config, wait_s: float = WAIT_FOR_CRAWL_S) -> int:
    """Pages stream → records stream, one page at a time, until the crawl stops; returns the
    number of pages processed. Each page's article record is added and the page acknowledged
    in one transaction: killed in between, the page stays pending, and is claimed again."""
    from crawler.shared import heartbeat
    from crawler.shared.connection import connect
    from crawler.shared.frontier import worker_name
    from crawler.shared.keys import PAGES_GROUP, RECORDS_GROUP, Keys
    from crawler.shared.streams import Stream, record_fields

    conn, keys = connect(config.redis_url), Keys()
    info = crawl_info(conn, keys, wait_s)
    stages, claim_ms = stages_of(info), int(float(info.get("claim_after_s", 60)) * 1000)
    pages, records = Stream(conn, keys.pages, PAGES_GROUP), Stream(conn, keys.records, RECORDS_GROUP)
    pages.ensure_group()
    name, done, last_claim = worker_name("process"), 0, 0.0
    entries = pages.own_pending(name, 100)
    while True:
        heartbeat.beat(conn, keys, name, "process", done=done, run_id=info["run_id"])
        if not entries and time.monotonic() - last_claim > CLAIM_EVERY_S:
            entries, last_claim = pages.claim(name, claim_ms, 1), time.monotonic()
        if not entries:
            entries = pages.read(name, 1, IDLE_READ_MS)
        if not entries and stopping(conn, keys):
            break
        for entry_id, fields in entries:
            record = processed(fields, stages, config.extract_timeout)
            pipe = conn.pipeline(transaction=True)
            records.add(record_fields("article", record), pipe)
            pages.done([entry_id], pipe)
            pipe.execute()
            done += 1
        entries = []
    heartbeat.forget(conn, keys, name)
    return done


# ---------------------------------------------------------------- both

def worker_command(config: Config, role: str, options: CrawlOptions | None = None) -> list[str]:
    """`tipwatch worker --ROLE` (or `tipwatch ingest`) for a child process, with this one's paths.
    The Redis URL is not on it (a command line is public): the child reads TIPWATCH_REDIS_URL."""
    args = [sys.executable, "-m", "tipwatch.cli"]
    if config.config_file:
        args += ["--config", str(config.config_file)]
    args += ["ingest"] if role == "ingest" else ["worker", f"--{role}"]
    args += ["--db", str(config.db), "--sources", str(config.sources), "--profile", str(config.profile)]
    if options is not None and role == "fetch":
        if options.log_file:
            args += ["--log-file", str(options.log_file)]
        for name, value in options.settings.items():
            args += ["-s", f"{name}={value}"]
    return args


def child_env(config: Config) -> dict[str, str]:
    return dict(config.environ, TIPWATCH_REDIS_URL=config.redis_url)


def run_both(config: Config, options: CrawlOptions) -> int:
    """`tipwatch worker` with no role (or both): one child per role, waited for; the exit code
    is the first non-zero one."""
    children = [subprocess.Popen(worker_command(config, role, options), env=child_env(config))
                for role in ("fetch", "process")]
    try:
        codes = [child.wait() for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
    return next((code for code in codes if code), 0)


def dataclass_json(value) -> str:
    return json.dumps(dataclasses.asdict(value))
