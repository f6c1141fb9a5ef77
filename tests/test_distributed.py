"""Distributed mode (issue 14) against a real redis-server on loopback and a site that counts
every request: `tipwatch crawl --redis URL --workers N` stores what the embedded crawl stores,
once each, fetches no page twice, holds the per-site limit over all workers, survives a process
worker killed with SIGKILL, and never prints the Redis password."""
from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from counting_site import CountingSite
from redis_server import running_redis

REPO = Path(__file__).resolve().parent.parent
CRAWL_TIMEOUT_S = 150


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free loopback port, with a password (tests/redis_server.py)."""
    yield from running_redis(tmp_path)


def tipwatch(*args, env=None) -> list[str]:
    return [sys.executable, "-m", "tipwatch.cli", *args]


def crawl_env() -> dict:
    return dict(os.environ, TIPWATCH_ALLOW_ADDRESSES="127.0.0.1", TIPWATCH_LOOKBACK_DAYS="0")


def run(args, timeout=CRAWL_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=crawl_env(), capture_output=True, text=True, timeout=timeout)


def articles(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT url, text FROM articles"))


def known_keys(db: Path) -> tuple[int, int]:
    """(article URL rows, distinct URLs among them) + settled pages, to count what became known."""
    with sqlite3.connect(db) as conn:
        return (conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM settled_urls").fetchone()[0])


def test_distributed_crawl_stores_what_the_embedded_crawl_stores_once_and_politely(redis_server, tmp_path):
    limit = 2
    # no AutoThrottle and no delay: alone, each of the 3 fetch workers would keep `limit`
    # requests in flight to the site, 3 × limit together, unless the limit is held over all of them
    fast = ["-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={limit}", "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "DOWNLOAD_DELAY=0"]
    with CountingSite(copies=2, latency_s=0.05) as site:
        sources = site.write_sources(tmp_path / "sources.toml")
        embedded = run(tipwatch("crawl", "--sources", str(sources), "--db", str(tmp_path / "embedded.db"), *fast))
        assert embedded.returncode == 0, embedded.stderr[-2000:]
        site.hits.clear()
        site.peak = 0
        distributed = run(tipwatch("crawl", "--redis", redis_server.url, "--workers", "3", "--sources", str(sources),
                                   "--db", str(tmp_path / "distributed.db"), *fast))
        assert distributed.returncode == 0, distributed.stderr[-3000:]
        hits, peak = site.article_hits(), site.peak

    assert len(hits) == len(site.articles)                       # every article page fetched ...
    assert [path for path, n in hits.items() if n > 1] == []     # ... once, over 3 fetch workers
    assert 2 <= peak <= limit                                    # the limit reached, never passed
    stored = articles(tmp_path / "distributed.db")
    assert stored == articles(tmp_path / "embedded.db")          # the same articles, the same texts
    assert len(stored) == len(site.articles)                     # one article a page (tests/counting_site.py)
    # the embedded crawl's summary line (the counters summed over the workers), but for how many
    # links were found known rather than queued, which depends on which worker read what first
    assert summary_counts(distributed.stdout) == summary_counts(embedded.stdout)
    assert summary_counts(distributed.stdout)["stored"] == len(stored)

    password = redis_server.password
    log = (tmp_path / "crawl.log").read_text(errors="replace")
    assert password not in distributed.stdout + distributed.stderr + log

    conn = redis.Redis.from_url(redis_server.url)
    # the crawl's queue, streams and counters are gone; the seen-set and known-URL set remain, expiring
    assert not conn.exists("tipwatch:crawl", "tipwatch:requests", "tipwatch:pages", "tipwatch:records")
    buckets = conn.keys("tipwatch:seen:*") + [k for k in conn.keys("tipwatch:known:*") if k != b"tipwatch:known:loaded"]
    assert buckets and all(0 < conn.ttl(key) for key in buckets)
    assert sum(conn.scard(k) for k in conn.keys("tipwatch:known:[0-9]*")) >= len(stored)


def summary_counts(stdout: str) -> dict[str, int]:
    line = next(line for line in stdout.splitlines() if line.startswith("counted:"))
    counts = dict(reversed(part.strip().split(" ", 1)) for part in line.split(":", 1)[1].split(","))
    return {name: int(n) for name, n in counts.items() if name != "known"}


def pending_of(conn, consumer: str) -> int:
    return len(conn.xpending_range("tipwatch:pages", "process", min="-", max="+", count=10, consumername=consumer))


def kill_a_busy_fetch_worker(conn, deadline: float) -> set[str]:
    """SIGKILL a fetch worker while it has requests in flight and the frontier still holds more;
    returns the paths it had in flight (which go back to the frontier, and may be fetched again)."""
    while time.monotonic() < deadline:
        for raw in conn.smembers("tipwatch:workers"):
            name = raw.decode()
            beat = {k.decode(): v.decode() for k, v in conn.hgetall(f"tipwatch:worker:{name}").items()}
            in_flight = conn.hvals(f"tipwatch:inflight:{name}")
            if beat.get("role") == "fetch" and in_flight and conn.zcard("tipwatch:requests") > 5:
                os.kill(int(beat["pid"]), signal.SIGKILL)
                return {urlsplit(pickle.loads(entry)["url"]).path for entry in in_flight}
        time.sleep(0.005)
    raise AssertionError("no fetch worker got busy in time")


def kill_a_busy_process_worker(conn, deadline: float) -> tuple[str, int]:
    """SIGKILL a process worker while it holds a page (read, not yet acknowledged) and has
    done some already: half-way through the crawl."""
    while time.monotonic() < deadline:
        for raw in conn.smembers("tipwatch:workers"):
            name = raw.decode()
            beat = {k.decode(): v.decode() for k, v in conn.hgetall(f"tipwatch:worker:{name}").items()}
            if beat.get("role") == "process" and int(beat.get("done", 0)) >= 3 and pending_of(conn, name):
                os.kill(int(beat["pid"]), signal.SIGKILL)
                return name, int(beat["pid"])
        time.sleep(0.005)
    raise AssertionError("no process worker got busy in time")


def test_workers_killed_half_way_lose_nothing_and_store_nothing_twice(redis_server, tmp_path):
    db = tmp_path / "crawl.db"
    with CountingSite(copies=3, latency_s=0.1) as site:
        sources = site.write_sources(tmp_path / "sources.toml")
        crawl = subprocess.Popen(
            tipwatch("crawl", "--redis", redis_server.url, "--workers", "2", "--sources", str(sources), "--db", str(db),
                     "-s", "TIPWATCH_CLAIM_AFTER_S=2"),
            cwd=REPO, env=crawl_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            conn = redis.Redis.from_url(redis_server.url)
            was_in_flight = kill_a_busy_fetch_worker(conn, time.monotonic() + 90)
            killed, pid = kill_a_busy_process_worker(conn, time.monotonic() + 90)
            time.sleep(0.2)
            assert pending_of(conn, killed) == 1   # its page is left pending, to be claimed
            status = run(tipwatch("status", "--redis", redis_server.url, "--db", str(db), "--sources", str(sources)),
                         timeout=60)
            command_lines = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                             for p in os.listdir("/proc") if p.isdigit() and _is_child(int(p), crawl.pid)]
            out, err = crawl.communicate(timeout=CRAWL_TIMEOUT_S)
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.communicate(timeout=30)
        hits = site.article_hits()

    assert crawl.returncode == 0, err[-3000:]
    assert set(site.articles) - set(hits) == set()
    # no page fetched twice, but those the killed fetch worker had in flight (back in the frontier)
    assert was_in_flight and {path for path, n in hits.items() if n > 1} <= was_in_flight
    stored, settled = known_keys(db)
    assert stored + settled == len(site.articles)                        # 0 lost
    with sqlite3.connect(db) as conn_db:
        assert conn_db.execute("SELECT COUNT(*) - COUNT(DISTINCT url) FROM articles").fetchone()[0] == 0
        # every article page's URL is known (stored or settled), none twice
        urls = [row[0] for row in conn_db.execute(
            "SELECT url FROM article_urls UNION ALL SELECT url FROM settled_urls")]
    assert len(urls) == len(set(urls)) == len(site.articles)
    # while it ran: `tipwatch status` showed the backlogs and the workers' heartbeats
    assert status.returncode == 0, status.stderr
    assert "pages stream" in status.stdout and "worker process-" in status.stdout and "worker fetch-" in status.stdout
    assert redis_server.password not in status.stdout + out + err
    # the workers' command lines say what they are, and carry no password
    roles = " | ".join(command_lines)
    assert "worker --fetch" in roles and "worker --process" in roles and " ingest " in roles
    assert redis_server.password not in roles


def _is_child(pid: int, parent: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return int(fields[1]) == parent
