"""Distributed mode against the embedded crawl (issue 14), on the real-page site of throughput.py.

One setup serves N article pages (real news pages of the extraction benchmark, replicated under
distinct URLs, with a sitemap index and a feed; the bundled sample pages when that data is
missing) from a loopback HTTP server that counts every request, and the requests it answers at
once. Then, each crawl into an empty database, with a fresh redis-server on loopback per
distributed run:

  1. the embedded crawl: `tipwatch crawl` (the baseline);
  2. distributed, 1 fetch + 1 process worker: `tipwatch crawl --redis URL --workers 1`;
  3. distributed, `--workers 2`: speed-up over 1, and cost against the embedded crawl;
  4. distributed, `--workers 3`: pages fetched twice (from the server's count) and the peak number
     of requests in flight to the one host over all workers, against CONCURRENT_REQUESTS_PER_DOMAIN;
  5. distributed, `--workers 2`, one process worker SIGKILLed half-way: articles lost (article
     URLs of the embedded crawl that this run did not store) and stored twice (articles beyond
     the embedded crawl's count).

Speeds are articles stored per second of the whole command (start-up included), so ratios
between runs in this one process. Nothing leaves 127.0.0.1.

    .venv/bin/python bench/scaleout.py [--pages 2000] [--sample-pages] [--keep] [-s NAME=VALUE ...]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from throughput import load_pages, replicate, site_documents, write_sources

from tipwatch.samplesites import CountingServedSite

from _common import REPO, emit, rate, target

sys.path.insert(0, str(REPO / "tests"))
from redis_server import RedisServer, redis_binary  # noqa: E402

SPEEDUP_TARGET = 1.6        # 2 process workers ÷ 1
COST_TARGET = 0.9           # distributed with 2 workers ÷ embedded
CRAWL_TIMEOUT_S = 1200
PER_HOST_LIMIT = 4          # CONCURRENT_REQUESTS_PER_DOMAIN (crawler/settings.py)


class CountingSite(CountingServedSite):
    """throughput.py's site, counting requests per path and the most in flight at once."""

    def __init__(self, pages):
        super().__init__()
        self.documents = site_documents(pages, self.base_url)


@dataclass
class Run:
    label: str
    seconds: float
    returncode: int
    stored: int
    urls: set[str]
    hits: Counter
    peak: int
    output: str
    killed: list[int] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return rate(self.stored, self.seconds)

    @property
    def fetched_twice(self) -> int:
        return sum(1 for n in self.hits.values() if n > 1)


def stored_articles(db: Path) -> tuple[int, set[str]]:
    if not db.exists():
        return 0, set()
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
                {row[0] for row in conn.execute("SELECT url FROM articles")})


def crawl(label: str, site: CountingSite, work: Path, sources: Path, settings: list[str],
          redis_url: str | None = None, workers: int = 0, kill_half_way: int = 0) -> Run:
    db = work / f"{label}.db"
    command = [sys.executable, "-m", "tipwatch.cli", "crawl", "--db", str(db), "--sources", str(sources),
               "--log-file", str(work / f"{label}.log")]
    if redis_url:
        command += ["--redis", redis_url, "--workers", str(workers)]
    for setting in settings:
        command += ["-s", setting]
    site.reset()
    env = dict(os.environ, TIPWATCH_ALLOW_ADDRESSES="127.0.0.1")
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = []
    try:
        if kill_half_way:
            killed = kill_a_process_worker(redis_url, db, kill_half_way, started)
        output, _ = process.communicate(timeout=CRAWL_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    seconds = time.perf_counter() - started
    count, urls = stored_articles(db)
    return Run(label, seconds, process.returncode, count, urls, site.article_hits(), site.peak, output.strip(), killed)


def kill_a_process_worker(redis_url: str, db: Path, half: int, started: float) -> list[int]:
    """SIGKILL one process worker once about *half* the articles are stored, while it holds a page."""
    import redis

    conn = redis.Redis.from_url(redis_url)
    while time.perf_counter() - started < CRAWL_TIMEOUT_S:
        stored = 0
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as db_conn:
                    stored = db_conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            except sqlite3.Error:
                pass
        if stored >= half:
            for raw in conn.smembers("tipwatch:workers"):
                name = raw.decode()
                beat = conn.hgetall(f"tipwatch:worker:{name}")
                if beat.get(b"role") == b"process" and conn.xpending_range(
                        "tipwatch:pages", "process", min="-", max="+", count=1, consumername=name):
                    os.kill(int(beat[b"pid"]), signal.SIGKILL)
                    return [int(beat[b"pid"])]
        time.sleep(0.05)
    return []


# ---------------------------------------------------------------- the parts, for docs/scale.md

def extraction_cost(distinct, base: str) -> tuple[float, list[dict]]:
    """CPU ms per article of a process worker's job (process_page), one core, and its results."""
    from crawler.paths import stage_settings
    from pipeline.process import process_page
    from pipeline.store import open_db
    from tipwatch.config import load
    from tipwatch.crawl import CrawlOptions, scrapy_settings

    config = load()
    stages = stage_settings(scrapy_settings(CrawlOptions(config=config)), open_db(":memory:"))
    pages = [{"url": f"{base}/news/{i:05d}/{p.name}.html", "body": p.body, "encoding": None, "language": "en"}
             for i, p in enumerate(distinct)]
    process_page(pages[0], stages)  # imports and caches are not what is measured
    cpu = time.process_time()
    results = [dict(page, result=process_page(page, stages)) for page in pages]
    return round((time.process_time() - cpu) * 1000 / len(pages), 1), results


def writer_rate(results: list[dict], work: Path, articles: int = 2000) -> float:
    """Articles/s `tipwatch ingest` stores (batches of 200, one transaction each), from article
    records as the process workers send them, under distinct URLs."""
    from crawler.plan import CrawlPlan
    from crawler.state import SourceStatsBook
    from pipeline import store
    from pipeline.sources import Source
    from tipwatch.ingest import BATCH, Ingest

    good = [r for r in results if r["result"]["ok"]]
    records = [("article", {"source": "bench", "url": f"http://127.0.0.1/w/{i}/{good[i % len(good)]['url'][-40:]}",
                            "aliases": [], "fetched_at": "2026-12-01T00:00:00+00:00", "ref": None,
                            "result": good[i % len(good)]["result"]}) for i in range(articles)]
    db = store.open_db(work / "writer.db")
    store.fast_commits(db)
    source = Source(name="bench", title="bench", language="en", article_pattern=".")
    plan = CrawlPlan({"bench": source}, {"bench": None})
    ingest = Ingest(db, plan, SourceStatsBook(["bench"]), store.start_run(db, ["bench"]))
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        ingest.store_batch(records[start:start + BATCH])
    return rate(articles, time.perf_counter() - started)


def redis_bytes(work: Path) -> dict:
    """Redis memory per seen-set URL key and per queued request (scrapy-redis's encoding)."""
    import redis
    import scrapy
    from scrapy_redis.queue import PriorityQueue

    from crawler.shared.buckets import BucketedSet
    from crawler.spiders.news import NewsSpider

    server = RedisServer(work / "redis-memory", redis_binary()).start()
    try:
        conn = redis.Redis.from_url(server.url)
        used = lambda: conn.info("memory")["used_memory"]  # noqa: E731
        before, keys = used(), 100_000
        url = "example-news.com/2026/12/{:07d}/a-headline-of-ten-words-or-so-here.html"
        BucketedSet(conn, "m:seen", 3600, 24).add(url.format(i) for i in range(keys))
        per_key = (used() - before) / keys
        spider, before, requests = NewsSpider(), used(), 10_000
        queue = PriorityQueue(conn, spider, "m:requests")
        for i in range(requests):
            queue.push(scrapy.Request(f"https://example-news.com/2026/12/{i:07d}/a-headline-of-ten-words-or-so-here.html",
                                      callback=spider.parse_article, errback=spider.on_error,
                                      meta={"source": "example", "role": "article", "scope": ("example-news.com",)}))
        return {"redis_bytes_per_seen_key": round(per_key),
                "redis_bytes_per_queued_request": round((used() - before) / requests)}
    finally:
        server.stop()


def disk_per_article(db: Path, warc: Path, stored: int) -> dict:
    db_bytes = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
    warc_bytes = sum(f.stat().st_size for f in warc.rglob("*.warc.gz"))
    return {"db_bytes_per_article": round(db_bytes / stored) if stored else None,
            "warc_bytes_per_page": round(warc_bytes / stored) if stored else None}


def distributed(label: str, site, work, sources, settings, workers: int, kill_half_way: int = 0) -> Run:
    server = RedisServer(work / f"redis-{label}", redis_binary(), password="bench").start()
    try:
        return crawl(label, site, work, sources, settings, server.url, workers, kill_half_way)
    finally:
        server.stop()


def report(run: Run) -> None:
    print(f"{run.label}: {run.seconds:.1f} s, exit {run.returncode}, {run.stored} articles stored "
          f"({run.per_s:.1f}/s), {len(run.hits)} article pages fetched, {run.fetched_twice} twice, "
          f"peak {run.peak} requests in flight to the host" + (f", killed pid {run.killed}" if run.killed else ""),
          flush=True)
    if run.returncode:
        print(run.output[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages to serve (at least; default 2000)")
    parser.add_argument("--sample-pages", action="store_true", help="serve the bundled sample pages (a quick check)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="extra Scrapy setting for every crawl (repeatable)")
    args = parser.parse_args()
    if redis_binary() is None:
        print("redis-server is not installed (Debian's redis-server; scripts/test-bootstrap.sh installs it)")
        return 1
    distinct, origin, warning = load_pages(args.sample_pages)
    pages = replicate(distinct, args.pages)
    notes = [warning] if warning else []
    notes.append(f"pages: {len(pages)} = {len(distinct)} distinct {origin}, each {len(pages) // len(distinct)} times")
    notes.append(f"machine: {os.cpu_count()} cores; every process of a distributed run (orchestrator, fetch and "
                 "process workers, writer, redis-server) and the site share them")
    print("\n".join(notes), flush=True)
    work = Path(tempfile.mkdtemp(prefix="tipwatch-scaleout-"))
    settings = args.set
    try:
        with CountingSite(pages) as site:
            sources = write_sources(work / "sources.toml", site.base_url)
            runs = {}
            runs["embedded"] = crawl("embedded", site, work, sources, settings)
            report(runs["embedded"])
            # before the distributed runs add their own WARC files beside it
            parts = disk_per_article(work / "embedded.db", work / "warc", runs["embedded"].stored)
            for workers in (1, 2, 3):
                runs[f"distributed-{workers}"] = distributed(f"distributed-{workers}", site, work, sources, settings,
                                                             workers)
                report(runs[f"distributed-{workers}"])
            # a killed worker's page is taken over after TIPWATCH_CLAIM_AFTER_S (60 s by default)
            runs["killed"] = distributed("killed", site, work, sources, settings + ["TIPWATCH_CLAIM_AFTER_S=10"], 2,
                                         kill_half_way=max(1, runs["embedded"].stored // 2))
            report(runs["killed"])
        parts["extraction_cpu_ms_per_article"], results = extraction_cost(distinct, site.base_url)
        parts["writer_articles_per_s"] = writer_rate(results, work)
        parts.update(redis_bytes(work))
        print(f"parts: {parts}", flush=True)
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    summarize(runs, parts, len(pages), notes)
    return 0 if all(run.returncode == 0 for run in runs.values()) else 1


def summarize(runs: dict[str, Run], parts: dict, pages: int, notes: list[str]) -> None:
    embedded, one, two, three, killed = (runs[k] for k in ("embedded", "distributed-1", "distributed-2",
                                                          "distributed-3", "killed"))
    speedup = round(two.per_s / one.per_s, 2) if one.per_s else None
    cost = round(two.per_s / embedded.per_s, 2) if embedded.per_s else None
    lost = len(embedded.urls - killed.urls)
    twice = max(0, killed.stored - embedded.stored)
    peak = max(r.peak for r in (one, two, three, killed))
    figures = {"pages_served": pages,
               **{f"{k}_seconds": round(r.seconds, 1) for k, r in runs.items()},
               **{f"{k}_articles_per_s": r.per_s for k, r in runs.items()},
               **{f"{k}_stored": r.stored for k, r in runs.items()},
               "speedup_2_vs_1_process_workers": speedup, "distributed_2_vs_embedded": cost,
               "fetched_twice_3_fetch_workers": three.fetched_twice,
               "fetched_twice_all_distributed_runs": sum(r.fetched_twice for r in (one, two, three, killed)),
               "peak_requests_in_flight_to_the_host": peak, "per_host_limit": PER_HOST_LIMIT,
               "embedded_peak_requests_in_flight": embedded.peak,
               "sigkill_articles_lost": lost, "sigkill_articles_stored_twice": twice,
               "sigkill_fetched_twice": killed.fetched_twice, "sigkill_killed_pids": killed.killed, **parts}
    targets = [
        target("2 process workers vs 1", f">= {SPEEDUP_TARGET}x", speedup,
               speedup is not None and speedup >= SPEEDUP_TARGET),
        target("distributed (2 workers) vs embedded", f">= {COST_TARGET}x", cost,
               cost is not None and cost >= COST_TARGET),
        target("pages fetched twice, 3 fetch workers", "0", three.fetched_twice, three.fetched_twice == 0),
        target("articles lost after a SIGKILL", "0", lost, lost == 0 and bool(killed.killed)),
        target("articles stored twice after a SIGKILL", "0", twice, twice == 0 and bool(killed.killed)),
        target("peak requests in flight to one host, all workers", f"<= {PER_HOST_LIMIT}", peak,
               peak <= PER_HOST_LIMIT),
    ]
    emit("scaleout", figures, targets, notes)


if __name__ == "__main__":
    sys.exit(main())
