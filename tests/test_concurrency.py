"""Concurrent starts, dead runs and refused writes, with real processes and real SQLite.

Every crawl here fetches from sample sites this test serves on 127.0.0.1 (tipwatch/samplesites.py).
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import sqlite_utils

from pipeline import store
from pipeline.store import browse
from tipwatch.samplesites import SampleSites, write_sources

from conftest import REPO, tipwatch

# one extraction worker: two articles need no more, and each worker costs a spawned interpreter
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=60",
        "-s", "TIPWATCH_EXTRACT_WORKERS=1", "--lookback-days", "0"]
BUSY = re.compile(r"Error: another tipwatch job is running \((tipwatch crawl pid \d+|another process) holds "
                  r"\S+\.lock\); try again later\n")
PARAGRAPH = ("Provincial police said the women had been promised jobs in a garment factory and were instead "
             "sold to men across the border, in a case of human trafficking that investigators linked to a "
             "ring operating in three districts. ")
TEMPLATE = """allow_addresses = ["127.0.0.1"]

[[source]]
name = "mini"
title = "Mini"
language = "en"
feeds = ["{{BASE:mini}}/feed.rss"]
article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'

[[source]]
name = "slow"
title = "Slow"
language = "en"
feeds = ["{{BASE:slow}}/feed.rss"]
article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'

[[source]]
name = "lagging"
title = "Lagging"
language = "en"
feeds = ["{{BASE:lagging}}/feed.rss"]
article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'
"""


def make_site(root, name: str, routes: str = "") -> None:
    """A site with a feed of two articles; `routes` is its routes.toml (e.g. a delay)."""
    site = root / name
    site.mkdir()
    (site / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    items = "".join(f"<item><title>Story {n}</title><link>{{{{BASE}}}}/news/{n}00001/story-{n}.html</link>"
                    f"<pubDate>Sat, 21 Nov 2026 0{n}:00:00 +0700</pubDate></item>" for n in (1, 2))
    (site / "feed.rss").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
                                   f'<link>{{{{BASE}}}}/</link><description>d</description>{items}</channel></rss>')
    for n in (1, 2):
        page = site / "news" / f"{n}00001" / f"story-{n}.html"
        page.parent.mkdir(parents=True)
        page.write_text(f'<html lang="en"><head><meta charset="utf-8"><title>{name} story {n}: women sold '
                        f'across the border</title><meta property="article:published_time" '
                        f'content="2026-11-21T0{n}:00:00+07:00"></head><body><h1>{name} story {n}</h1>'
                        + f"<p>{PARAGRAPH}</p>" * 4 + "</body></html>")
    if routes:
        (site / "routes.toml").write_text(routes)


@pytest.fixture
def sites(tmp_path):
    """`mini` answers at once; `lagging` takes 2 s over an article (a crawl of it holds the work lock
    that long at least); `slow` holds its feed for 30 s (until the server stops)."""
    make_site(tmp_path, "mini")
    make_site(tmp_path, "lagging", routes='["/news/200001/story-2.html"]\ndelay = 2\n')
    make_site(tmp_path, "slow", routes='["/feed.rss"]\ndelay = 30\n')
    (tmp_path / "template.toml").write_text(TEMPLATE)
    with SampleSites(tmp_path, names=["mini", "lagging", "slow"], template="template.toml") as served:
        served.sources = write_sources(served, tmp_path / "sources.toml")
        yield served


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tipwatch.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(processes, timeout=60) -> list[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of each process, once it ended."""
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            results.append((process.returncode, out, err))
    finally:  # a hung one fails the test; none is left behind
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def assert_sound(db_path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert db.execute("SELECT count(*) - count(DISTINCT url) FROM articles").fetchone()[0] == 0
    return db


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)


# ---------------------------------------------------------------- concurrent starts

def test_many_commands_at_once_on_a_missing_database_all_succeed(tmp_path):
    (tmp_path / "sources.toml").write_text(re.sub(r"\{\{BASE:\w+\}\}", "http://127.0.0.1:9", TEMPLATE))
    sources = ["--sources", tmp_path / "sources.toml"]
    for round_ in range(4):
        db_path = tmp_path / f"round{round_}" / "t.db"
        results = finish([start("init", "--db", db_path), start("init", "--db", db_path),
                          start("status", "--db", db_path, *sources)])
        for code, out, err in results[:2]:
            assert code == 0 and "locked" not in err, (round_, out, err)
        assert_sound(db_path)
        assert [r[1].count(f"schema version {store.SCHEMA_VERSION},") for r in results[:2]] == [1, 1]
        # status reads: before an init has made the file it refuses, creating nothing (read-side
        # commands refuse a missing database); once the file is there it reports, never "locked"
        code, out, err = results[2]
        assert "locked" not in err, (round_, out, err)
        assert (code == 0 and out.splitlines()[1].split()[:2] == ["mini", "unknown"]) or \
            (code == 1 and err.startswith(f"Error: no database at {db_path} ")), (round_, out, err)


def test_crawls_started_at_once_one_crawls_the_others_refuse(sites, tmp_path):
    for round_ in range(2):
        db_path = tmp_path / f"round{round_}" / "t.db"
        common = ["--db", db_path, "--sources", sites.sources, "--source", "lagging", *FAST]
        crawls = [start("crawl", *common) for _ in range(3)]
        others = [start("init", "--db", db_path), start("status", "--db", db_path, "--sources", sites.sources)]
        results = finish(crawls + others)
        assert not [r for r in results if "locked" in r[2]], results
        assert results[3][0] == 0, results[3]
        # status may start before any of them has made the database: then it refuses, creating nothing
        assert results[4][0] == 0 or results[4][2].startswith(f"Error: no database at {db_path} "), results[4]
        won = [out for code, out, _ in results[:3] if code == 0]
        refused = [err for code, _, err in results[:3] if code == 1 and BUSY.fullmatch(err)]
        assert len(won) == 1 and len(refused) == 2, results
        assert "lagging: " in won[0] and "2 stored" in won[0] and "0 errors" in won[0]
        db = assert_sound(db_path)
        assert db["articles"].count == 2
        assert [r["status"] for r in db.query("SELECT status FROM crawl_runs")] == ["finished"]


# ---------------------------------------------------------------- a killed crawl

def test_a_killed_crawl_is_marked_interrupted_and_status_says_so(sites, tmp_path):
    db_path = tmp_path / "t.db"
    common = ["--db", db_path, "--sources", sites.sources, *FAST]
    tipwatch("init", "--db", db_path)
    hung = start("crawl", *common, "--source", "slow")
    db = store.open_db(db_path)
    try:
        wait_for(lambda: sites.requests_by_site["slow"]["/feed.rss"] and
                 db.execute("SELECT count(*) FROM crawl_runs WHERE status = 'running'").fetchone()[0], 30,
                 "the slow crawl to start")
        # meanwhile another crawl is refused, and a run started elsewhere leaves the live one alone
        busy = tipwatch("crawl", *common, "--source", "mini", check=False)
        assert busy.returncode == 1
        assert busy.stderr == (f"Error: another tipwatch job is running (tipwatch crawl pid {hung.pid} holds "
                               f"{db_path}.lock); try again later\n")
        probe = store.start_run(db, ["probe"])
        store.finish_run(db, probe, "finished")
        assert db.execute("SELECT status, pid FROM crawl_runs WHERE id = 1").fetchone() == ("running", hung.pid)
    finally:
        hung.send_signal(signal.SIGKILL)
        hung.wait(timeout=30)
    assert db.execute("SELECT status FROM crawl_runs WHERE id = 1").fetchone()[0] == "running"

    status_args = ("status", "--db", db_path, "--sources", sites.sources)
    before = [line.split()[:2] for line in tipwatch(*status_args).stdout.splitlines()[1:]]
    assert before == [["mini", "unknown"], ["slow", "interrupted"], ["lagging", "unknown"]]  # before any run marks it

    crawled = tipwatch("crawl", *common, "--source", "mini")
    assert "mini: " in crawled.stdout and "2 stored" in crawled.stdout
    runs = {r["id"]: r for r in db.query("SELECT id, status, pid, host FROM crawl_runs")}
    assert runs[1]["status"] == "interrupted" and runs[3]["status"] == "finished"
    assert runs[3]["pid"] != hung.pid and runs[3]["host"] == runs[1]["host"]

    lines = tipwatch(*status_args).stdout.splitlines()
    slow = next(line for line in lines if line.startswith("slow "))
    assert re.fullmatch(r"slow +interrupted +never +0 +0 +- +the last run was interrupted: its process died "
                        r"before it finished \(since \d{4}-\d\d-\d\dT\d\d:\d\d\)", slow), lines
    assert next(line for line in lines if line.startswith("mini ")).split()[1] == "healthy"
    rows = {r["source"]: r for r in json.loads(tipwatch(*status_args, "--json").stdout)}
    assert (rows["slow"]["verdict"], rows["slow"]["last_run_status"]) == ("interrupted", "interrupted")
    assert (rows["mini"]["verdict"], rows["mini"]["last_run_status"]) == ("healthy", "finished")
    # Datasette's copy of the verdicts agrees
    canned = {r["source"]: r["verdict"] for r in
              db.query(browse.SOURCE_HEALTH, browse.default_params("source_health"))}
    assert canned == {"mini": "healthy", "slow": "interrupted"}  # (the query knows sources with runs only)


# ---------------------------------------------------------------- a refused write

def test_an_article_the_database_refuses_is_a_store_error_and_the_crawl_goes_on(sites, tmp_path):
    db_path = tmp_path / "t.db"
    common = ["--db", db_path, "--sources", sites.sources, "--source", "mini", *FAST]
    tipwatch("init", "--db", db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TRIGGER refuse_story BEFORE INSERT ON articles WHEN NEW.url LIKE '%story-2%' "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    first = tipwatch("crawl", *common)
    assert re.fullmatch(r"mini: \d+ requests, 2 articles fetched, 1 stored, \d+ flagged, 0 known, 0 too old, "
                        r"1 errors \(store 1\)\n", first.stdout), first.stdout
    db = store.open_db(db_path)
    (error,) = store.run_errors(db, 1)
    url = sites.base_url("mini") + "/news/200001/story-2.html"
    assert error == {"source": "mini", "url": url, "kind": "store",
                     "detail": f"could not store {url}: IntegrityError: refused by the test"}
    stored = [r["url"] for r in db.query("SELECT url FROM articles")]
    assert stored == [sites.base_url("mini") + "/news/100001/story-1.html"]
    assert db["crawl_source_stats"].get((1, "mini"))["errors"] == 1

    # the refused page was left unknown: once the database accepts it, the next crawl stores it
    with db.conn:
        db.execute("DROP TRIGGER refuse_story")
    second = tipwatch("crawl", *common)
    assert "1 stored" in second.stdout and "0 errors" in second.stdout, second.stdout
    assert db["articles"].count == 2


# ---------------------------------------------------------------- the lock passed to a child

def test_a_child_works_under_its_parents_lock_and_no_one_else_does(tmp_path):
    from tipwatch.lock import child_env, work_lock

    db_path = tmp_path / "t.db"
    take = ("import os, sys; from tipwatch.lock import work_lock, LockBusy\n"
            "try:\n    with work_lock(sys.argv[1], 'child', os.environ): print('held')\n"
            "except LockBusy as exc: print(exc)")
    with work_lock(db_path, "parent", os.environ) as handle:
        env, fds = child_env(handle, os.environ)
        child = subprocess.run([sys.executable, "-c", take, str(db_path)], cwd=REPO, env=env, pass_fds=fds,
                               capture_output=True, text=True, timeout=30)
        # the same variable without the descriptor (another process that copied the environment)
        stranger = subprocess.run([sys.executable, "-c", take, str(db_path)], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=30)
    assert child.stdout == "held\n", child.stderr
    assert stranger.stdout.startswith(f"another tipwatch job is running (parent pid {os.getpid()} holds "), \
        stranger.stderr
