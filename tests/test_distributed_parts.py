"""The parts of distributed mode on a real redis-server: the time-bucketed seen-set, the per-host
lease that holds politeness over all workers, and a Redis URL never printed with its password."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.shared import politeness
from crawler.shared.buckets import BucketedSet
from crawler.shared.connection import connect, masked

from redis_server import running_redis

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def redis_server(tmp_path):
    """A real redis-server on a free loopback port, with a password (tests/redis_server.py)."""
    yield from running_redis(tmp_path)


def test_the_seen_set_takes_a_url_once_and_forgets_it_when_its_buckets_expire(redis_server):
    conn = connect(redis_server.url)
    seen = BucketedSet(conn, "t:seen", span_s=1, buckets=2)
    assert seen.add_if_new("key-1") is True
    assert seen.add_if_new("key-1") is False          # a second worker finding it does not take it
    assert seen.contains("key-1") and not seen.contains("key-2")
    buckets = conn.keys("t:seen:*")
    assert buckets and all(0 < conn.ttl(key) <= seen.lifetime_s for key in buckets)
    time.sleep(seen.lifetime_s + 0.2)
    assert conn.keys("t:seen:*") == []                 # expired: the set does not grow without bound
    assert not seen.contains("key-1")


def test_host_leases_hold_the_limit_and_the_delay_over_all_workers(redis_server):
    conn = connect(redis_server.url)
    take = conn.register_script(politeness._TAKE)
    keys = ["t:host:a:leases", "t:host:a"]
    # limit 2, no delay: a third request waits until a lease is given back
    assert take(keys=keys, args=["w1:1", 2, 0, 30000]) == 0
    assert take(keys=keys, args=["w2:1", 2, 0, 30000]) == 0
    assert take(keys=keys, args=["w3:1", 2, 0, 30000]) == -1
    conn.zrem(keys[0], "w1:1")
    assert take(keys=keys, args=["w3:1", 2, 0, 30000]) == 0
    # a delay of 300 ms: the next request of any worker waits for it
    other = ["t:host:b:leases", "t:host:b"]
    assert take(keys=other, args=["w1:2", 10, 300, 30000]) == 0
    assert 200 < take(keys=other, args=["w2:2", 10, 300, 30000]) <= 300
    # a lease of a killed worker expires on its own
    short = ["t:host:c:leases", "t:host:c"]
    assert take(keys=short, args=["dead:1", 1, 0, 200]) == 0
    assert take(keys=short, args=["w1:3", 1, 0, 200]) == -1
    time.sleep(0.3)
    assert take(keys=short, args=["w1:3", 1, 0, 200]) == 0


def test_a_redis_url_is_printed_masked():
    assert masked("redis://:s3cret@10.0.0.5:6379/0") == "redis://***@10.0.0.5:6379/0"
    assert masked("rediss://user:s3cret@redis.example:6380/1") == "rediss://***@redis.example:6380/1"
    assert masked("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_status_with_a_wrong_password_says_so_without_printing_it(redis_server, tmp_path):
    db = tmp_path / "t.db"
    subprocess.run([sys.executable, "-m", "tipwatch.cli", "init", "--db", str(db)], cwd=REPO, check=True,
                   capture_output=True, timeout=60)
    wrong = redis_server.url.replace(redis_server.password, "not-the-password-x9")
    result = subprocess.run([sys.executable, "-m", "tipwatch.cli", "status", "--db", str(db), "--redis", wrong],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "cannot reach Redis at redis://***@127.0.0.1:" in result.stderr
    assert "not-the-password-x9" not in result.stdout + result.stderr
