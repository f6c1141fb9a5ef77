"""`tipwatch serve`: the real Datasette on 127.0.0.1, over HTTP and in headless Chromium, on a
database made by the real demo crawl of the sample sites (plus a label, model probabilities, a
two-article story and an outbox, written through pipeline.store where it has a function for it)."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from pipeline import store
from pipeline.store import browse, health
from tipwatch import serve
from tipwatch.samplesites import SampleSites, write_sources

from conftest import REPO, article, tipwatch, verdict

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=10"]
RESCUE_TITLE = "Giải cứu 27 công dân bị lừa sang Campuchia"  # a flagged bcp article
PANGOLIN_TITLE = "Customs seize two tonnes of pangolin scales at Hải Phòng port"  # wildlife: not flagged
GLOSSARY = REPO / "seeds" / "glossary" / "vi-en.toml"  # the shipped one, which `tipwatch serve` reads
CANNED_QUERIES = browse.canned_queries(GLOSSARY)


# ---------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, method: str = "GET", timeout: float = 30) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=b"x=1" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def get_json(url: str):
    status, body = get(url)
    assert status == 200, f"{url}: {status} {body[:500]}"
    return json.loads(body)


def query(base: str, name: str, **params) -> list[dict]:
    """A canned query's rows over HTTP, as objects."""
    return get_json(f"{base}/tipwatch/{name}.json?" + urllib.parse.urlencode({**params, "_shape": "array"}))


@contextmanager
def running_server(db_path: Path, logs: Path):
    """`tipwatch serve` in a subprocess on a free loopback port; yields its base URL, then stops it
    with Ctrl-C (SIGINT) and checks it exited cleanly."""
    port = free_port()
    # open, as without a login configured: a TIPWATCH_SERVE_PASSWORD_HASH in the shell would turn it on
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIPWATCH_SERVE_")}
    with open(logs / f"serve-{port}.out", "w") as out, open(logs / f"serve-{port}.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "serve", "--db", str(db_path),
                                 "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base, logs / f"serve-{port}.err")
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0, (logs / f"serve-{port}.err").read_text()
    assert f"http://127.0.0.1:{port}/" in (logs / f"serve-{port}.out").read_text()


def wait_until_up(proc: subprocess.Popen, base: str, err_log: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tipwatch serve exited {proc.returncode}: {err_log.read_text()}")
        try:
            if get(base + "/-/versions.json", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"tipwatch serve did not answer within {seconds} s: {err_log.read_text()}")


def article_id(db, title_start: str) -> int:
    return db.execute("SELECT id FROM articles WHERE title LIKE ?", [title_start + "%"]).fetchone()[0]


# ---------------------------------------------------------------- the database

def add_browse_fixtures(db) -> dict:
    """What the demo does not make: a label, model probabilities, a follow-up story in a second
    digest, and an outbox. Returns the ids the tests look for."""
    rescue = article_id(db, RESCUE_TITLE)
    ids = [row[0] for row in db.execute("SELECT id FROM articles ORDER BY id")]
    probabilities = {ids[0]: 0.9, ids[1]: 0.55, ids[2]: 0.1, ids[3]: 0.48, ids[4]: 0.5}
    with db.conn:
        db.execute("UPDATE classifications SET probability = NULL, model_version = NULL")  # unscored, but these:
        for article_id_, probability in probabilities.items():
            db.execute("UPDATE classifications SET probability = ?, model_version = 'test-model' WHERE article_id = ?",
                       [probability, article_id_])
        db.execute("INSERT INTO labels (article_id, label, note, labelled_at) VALUES (?, 1, 'checked', ?)",
                   [ids[4], store.utcnow()])
    first_day = db.execute("SELECT day FROM digests").fetchone()[0]
    story = db.execute("SELECT story_key FROM digest_items WHERE article_id = ?", [rescue]).fetchone()[0]
    follow = store.save_article(db, article(1, url="https://news.test/follow-up.html", title="Rescued workers home",
                                            published=f"{first_day}T09:00:00"))
    store.save_classification(db, follow, verdict(True))
    next_day = (date.fromisoformat(first_day) + timedelta(days=1)).isoformat()
    second = store.save_digest(db, next_day, "/tmp/next.md", [follow],
                               {follow: (story, {"day": first_day, "title": "x", "key": story})})
    store.enqueue_deliveries(db, "email", second, [follow])
    # the rescue of 27 citizens is one story of several outlets in the first digest, then the follow-up
    first_items = [row[0] for row in db.execute("""SELECT di.article_id FROM digest_items di JOIN digests d
                   ON d.id = di.digest_id WHERE d.day = ? AND di.story_key = ? ORDER BY di.position""",
                                                [first_day, story])]
    return {"labelled": ids[4], "story": story, "story_ids": first_items + [follow], "follow_up": follow,
            "probabilities": probabilities, "days": [first_day, next_day]}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    tipwatch("demo", "--db", tmp / "demo.db", "--digests-dir", tmp / "digests")
    db = store.open_db(tmp / "demo.db")
    fixtures = add_browse_fixtures(db)
    return {"path": tmp / "demo.db", "db": db, "tmp": tmp, **fixtures}


@pytest.fixture(scope="module")
def served(demo_db):
    with running_server(demo_db["path"], demo_db["tmp"]) as base:
        yield {"base": base, **demo_db}


# ---------------------------------------------------------------- front page, search, facets

def test_front_page_opens_on_starting_points(served):
    status, html = get(served["base"] + "/")
    assert status == 200
    assert "tipwatch — trafficking in persons in the news" in html
    for name, canned in CANNED_QUERIES.items():
        # a chart's link carries its settings in the fragment (datasette-vega)
        end = "#" if canned.get("front_link") else '"'
        assert f'href="/tipwatch/{name}{end}' in html and canned["title"].replace("'", "&#39;") in html
    assert 'href="/tipwatch/article_overview"' in html and "_memory" not in html
    database = get_json(served["base"] + "/tipwatch.json")
    assert [q["name"] for q in database["queries"]] == list(CANNED_QUERIES)
    assert not any(q.get("write") for q in database["queries"])


def test_full_text_search_finds_a_known_article(served):
    english = get_json(served["base"] + "/tipwatch/article_overview.json?_shape=objects&_search=pangolin")
    assert [row["title"] for row in english["rows"]] == [PANGOLIN_TITLE]
    vietnamese = get_json(served["base"] + "/tipwatch/article_overview.json?_shape=objects&_search="
                          + urllib.parse.quote("Campuchia"))
    assert any(row["title"].startswith(RESCUE_TITLE) for row in vietnamese["rows"])


def test_articles_have_facets_and_are_newest_first(served):
    data = get_json(served["base"] + "/tipwatch/article_overview.json?_shape=objects&_size=100&_facet_size=max"
                    "&_facet=flagged")  # flagged: the page opens filtered on it, so it is not a default facet
    facets = data["facet_results"]
    assert set(facets) == {"source", "language", "flagged", "subtopics", "countries", "published_month"}
    total = served["db"].execute("SELECT count(*) FROM articles").fetchone()[0]
    assert sum(value["count"] for value in facets["source"]["results"]) == total
    flagged = {value["value"]: value["count"] for value in facets["flagged"]["results"]}
    assert flagged[1] == store.flagged_count(served["db"])
    assert "Viet Nam" in {value["value"] for value in facets["countries"]["results"]}
    assert {value["value"] for value in facets["subtopics"]["results"]} >= {"forced labour", "bride trafficking"}
    # where each date came from is shown beside it
    assert all(row["date_source"] for row in data["rows"] if row["published"])
    published = [row["published"] for row in data["rows"] if row["published"]]
    assert len(data["rows"]) == total and published == sorted(published, reverse=True)


def test_the_text_of_an_article_reads_as_text(served):
    rescue = article_id(served["db"], RESCUE_TITLE)
    status, html = get(f"{served['base']}/tipwatch/articles/{rescue}")
    assert status == 200 and "<details" in html and "read all" in html
    status, html = get(served["base"] + "/tipwatch/flagged_last_7_days?days=36500")
    assert status == 200 and f'<a href="/tipwatch/articles/{rescue}">{rescue}</a>' in html


# ---------------------------------------------------------------- canned queries

def flagged_rows(db) -> list[dict]:
    return list(db.query("""SELECT a.id, coalesce(a.published, a.fetched_at) AS published FROM articles a
                            JOIN classifications c ON c.article_id = a.id WHERE c.flagged = 1"""))


def test_flagged_last_7_days(served):
    db = served["db"]
    every = query(served["base"], "flagged_last_7_days", days=36500)
    assert sorted(row["article_id"] for row in every) == sorted(row["id"] for row in flagged_rows(db))
    assert all(row["matched_terms"] != "[]" and row["snippet"] for row in every)
    assert [row["published"] for row in every] == sorted((row["published"] for row in every), reverse=True)
    cutoff = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    recent = sorted(row["id"] for row in flagged_rows(db) if row["published"] >= cutoff)
    assert sorted(row["article_id"] for row in query(served["base"], "flagged_last_7_days")) == recent


def test_flagged_feed_is_an_atom_feed(served):
    rows = query(served["base"], "flagged_feed")
    assert len(rows) == min(50, len(flagged_rows(served["db"])))
    status, feed = get(served["base"] + "/tipwatch/flagged_feed.atom")
    assert status == 200 and feed.startswith("<?xml") and feed.count("<entry>") == len(rows)
    assert RESCUE_TITLE in feed


def test_stories_group_the_articles_of_one_story(served):
    one = query(served["base"], "stories", story=served["story"])
    assert [row["article_id"] for row in one] == served["story_ids"]
    assert {row["story_articles"] for row in one} == {len(served["story_ids"])} and len(served["story_ids"]) >= 2
    assert [row["follow_up"] for row in one] == [0] * (len(served["story_ids"]) - 1) + [1]
    every = query(served["base"], "stories")
    sent = served["db"].execute("SELECT count(*) FROM digest_items").fetchone()[0]
    assert len(every) == sent
    positions = [i for i, row in enumerate(every) if row["story"] == served["story"]]
    # a story's articles are together
    assert positions == list(range(positions[0], positions[0] + len(served["story_ids"])))


def test_source_health_agrees_with_tipwatch_status(served):
    rows = {row["source"]: row for row in query(served["base"], "source_health")}
    expected = {row["source"]: row for row in health.source_health(served["db"], None)}
    assert set(rows) == set(expected) == {"vns", "bcp", "bcpen"}
    for name, row in rows.items():
        assert row["verdict"] == expected[name]["verdict"], name
        assert row["last_success"] == expected[name]["last_success"]
        assert row["new_24h"] == expected[name]["articles_24h"]


def test_crawl_history_totals_each_run(served):
    db = served["db"]
    rows = query(served["base"], "crawl_history")
    runs = [row["id"] for row in db.query("SELECT id FROM crawl_runs ORDER BY id DESC")]
    assert [row["run_id"] for row in rows] == runs
    for row in rows:
        stats = store.run_stats(db, row["run_id"])
        assert row["stored"] == sum(s["articles_stored"] for s in stats)
        assert row["requests"] == sum(s["requests"] for s in stats)
    only_vns = query(served["base"], "crawl_history", source="vns")
    assert only_vns[0]["sources"] == "vns"
    [vns_stats] = [s for s in store.run_stats(db, runs[0]) if s["source"] == "vns"]
    assert only_vns[0]["stored"] == vns_stats["articles_stored"]


def test_digests_sent_and_their_contents(served):
    db = served["db"]
    first_day, next_day = served["days"]
    sent = query(served["base"], "digests_sent")
    assert [row["day"] for row in sent] == [next_day, first_day]
    counts = {row["day"]: row["item_count"] for row in db.query("SELECT day, item_count FROM digests")}
    assert {row["day"]: row["articles"] for row in sent} == counts
    assert sent[0]["deliveries"] == "email: 1 pending" and sent[1]["deliveries"] == "not sent"
    latest = query(served["base"], "digest_contents")
    assert [row["article_id"] for row in latest] == [served["follow_up"]]
    first = query(served["base"], "digest_contents", day=first_day)
    expected = [row[0] for row in db.execute("""SELECT di.article_id FROM digest_items di JOIN digests d
                                                ON d.id = di.digest_id WHERE d.day = ? ORDER BY di.position""",
                                             [first_day])]
    assert [row["article_id"] for row in first] == expected and len(expected) == counts[first_day]


def test_awaiting_label_puts_the_uncertain_first(served):
    rows = query(served["base"], "awaiting_label", days=36500)
    ids = [row["article_id"] for row in rows]
    assert served["labelled"] not in ids
    total = served["db"].execute("SELECT count(*) FROM articles").fetchone()[0]
    assert len(ids) == total - 1
    published = {row["article_id"]: row["published"] for row in rows}
    scored = [i for i in served["probabilities"] if i != served["labelled"]]  # the labelled one had 0.5
    scored.sort(key=lambda i: published[i], reverse=True)  # newest first among equally uncertain ...
    scored.sort(key=lambda i: abs(served["probabilities"][i] - 0.5))  # ... the most uncertain first
    assert ids[:len(scored)] == scored
    assert all(row["probability"] is None for row in rows[len(scored):])


def test_a_busy_port_is_one_line_error(served):
    port = urllib.parse.urlsplit(served["base"]).port
    result = tipwatch("serve", "--db", served["path"], "--port", port, check=False, timeout=30)
    assert result.returncode == 1 and "Serving" not in result.stdout
    assert result.stderr.strip() == (f"Error: OSError: cannot listen on 127.0.0.1:{port}: Address already in use "
                                     "(another --port?)")


# ---------------------------------------------------------------- read-only

def test_writes_are_refused(served):
    base, db = served["base"], served["db"]
    before = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    for sql in ("DELETE FROM articles", "INSERT INTO labels (article_id, label) VALUES (1, 0)",
                "UPDATE classifications SET flagged = 0", "WITH x AS (SELECT 1) DELETE FROM articles",
                "PRAGMA query_only = 0"):
        status, body = get(f"{base}/tipwatch.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status != 200 or json.loads(body)["ok"] is False, sql
    status, body = get(f"{base}/tipwatch/awaiting_label", method="POST")
    assert status == 405 and "read-only" in body
    assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == before
    assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 1


def test_readers_never_fail_while_a_crawl_writes(demo_db, tmp_path):
    live = tmp_path / "live.db"
    with sqlite3.connect(demo_db["path"]) as source, sqlite3.connect(live) as copy:
        source.backup(copy)
    before = sqlite_utils.Database(live).execute("SELECT count(*) FROM articles").fetchone()[0]
    with running_server(live, tmp_path) as base, SampleSites() as sites:
        sources = write_sources(sites, tmp_path / "sources.toml")  # new ports: every article is new
        with open(tmp_path / "crawl.err", "w") as err:
            crawl = subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "crawl", "--db", str(live),
                                      "--sources", str(sources), "--since", "2020-01-01", *FAST],
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
        answers = read_while_running(base, crawl)
        assert crawl.wait(timeout=120) == 0, (tmp_path / "crawl.err").read_text()
        after = get_json(f"{base}/tipwatch.json?sql=select+count(*)+as+n+from+articles&_shape=array")[0]["n"]
    failures = [(path, status, body[:200]) for path, status, body in answers
                if status != 200 or "locked" in body.lower()]
    assert len(answers) >= 20 and not failures
    assert after > before  # the crawl wrote, and the server sees it


def read_while_running(base: str, crawl: subprocess.Popen, limit: int = 3000, seconds: float = 120):
    paths = ["/tipwatch/article_overview.json?_size=5", "/tipwatch/flagged_last_7_days.json?days=36500",
             "/tipwatch/source_health.json", "/tipwatch/crawl_history.json", "/tipwatch/articles.json?_size=5",
             "/tipwatch/article_overview.json?_search=trafficking"]
    answers, deadline = [], time.monotonic() + seconds
    while crawl.poll() is None and len(answers) < limit and time.monotonic() < deadline:
        path = paths[len(answers) % len(paths)]
        answers.append((path, *get(base + path)))
    return answers


# ---------------------------------------------------------------- the SQL behind it, without a server

def test_views_are_created_once_and_replaced_when_changed(db, monkeypatch):
    monkeypatch.setitem(browse.VIEWS, "recent_titles", "SELECT id, title FROM articles")
    assert browse.ensure_views(db) == ["recent_titles"]
    assert browse.ensure_views(db) == []
    monkeypatch.setitem(browse.VIEWS, "recent_titles", "SELECT id FROM articles")
    assert browse.ensure_views(db) == ["recent_titles"]
    assert db["recent_titles"].columns_dict == {"id": int}


def overview_rows(db) -> list[tuple]:
    return db.execute("SELECT * FROM article_overview ORDER BY id").fetchall()


def test_the_articles_table_follows_articles_classifications_and_labels(db):
    """article_overview (schema 8) is a table kept by triggers: it must always equal the join it
    replaced, whatever is written, and a database with the old view migrates to it."""
    def expected():
        return db.execute(store.OVERVIEW_SELECT + " ORDER BY a.id").fetchall()

    first = store.save_article(db, article(1, title="Raid frees 12 workers"))
    second = store.save_article(db, article(2, title="Budget hearing"))
    assert overview_rows(db) == [] == expected()  # stored, not yet classified: not listed
    store.save_classification(db, first, verdict(True))
    store.save_classification(db, second, verdict(False))
    assert overview_rows(db) == expected() and len(expected()) == 2
    store.save_label(db, second, 1, "missed it")
    store.save_classification(db, first, verdict(False))
    store.save_article(db, article(1, title="Raid frees 14 workers"))  # same URL: updated in place
    assert overview_rows(db) == expected()
    assert [row[4] for row in overview_rows(db)] == ["Raid frees 14 workers", "Budget hearing"]
    with db.conn:
        db.execute("DELETE FROM labels")
        db.execute("DELETE FROM classifications WHERE article_id = ?", [first])
    assert overview_rows(db) == expected() and [row[0] for row in overview_rows(db)] == [second]
    # a version 7 database, with the view, gets the table filled
    with db.conn:
        db.execute("DROP TABLE article_overview")
        db.execute("CREATE VIEW article_overview AS " + store.OVERVIEW_SELECT)
        db.execute("PRAGMA user_version = 7")
    store.migrate(db)
    assert db.execute("SELECT type FROM sqlite_master WHERE name = 'article_overview'").fetchone()[0] == "table"
    assert overview_rows(db) == expected()


def add_run(db, source: str, hours_ago: float, requests=10, ok=10, found=10, fetched=5, stored=1,
            extraction_failures=0):
    run_id = store.start_run(db, [source])
    store.save_source_stats(db, run_id, source, {
        "requests": requests, "responses": ok, "articles_found": found, "articles_fetched": fetched,
        "articles_stored": stored, "extraction_failures": extraction_failures, "errors": requests - ok,
        "status_counts": {"2xx": ok} if ok else {}, "error_counts": {}})
    store.finish_run(db, run_id, "finished")
    at = (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0).isoformat()
    with db.conn:
        db.execute("UPDATE crawl_runs SET started_at = ?, finished_at = ? WHERE id = ?", [at, at, run_id])
    for n in range(stored):  # what `tipwatch status` reads: articles stored during the run
        article_id_ = store.save_article(db, article(1, url=f"https://{source}.test/{run_id}/{n}", source=source))
        with db.conn:
            db.execute("UPDATE articles SET stored_at = ? WHERE id = ?", [at, article_id_])


def test_source_health_query_follows_the_health_rules(db):
    for hours in (40, 30, 20, 10, 5):
        add_run(db, "steady", hours)
        add_run(db, "broken", hours, ok=0 if hours < 25 else 10, stored=0 if hours < 25 else 1)
        add_run(db, "recovered", hours, ok=0 if 8 < hours < 25 else 10)  # failed most, but not the last run
        add_run(db, "quiet", hours + 60, stored=0)
        add_run(db, "garbled", hours, extraction_failures=4 if hours < 15 else 0)
        add_run(db, "shrunk", hours, found=1 if hours < 8 else 20)
    add_run(db, "quiet", 200, stored=1)
    rows = {row["source"]: row["verdict"] for row in
            db.query(CANNED_QUERIES["source_health"]["sql"], browse.default_params("source_health"))}
    expected = {row["source"]: row["verdict"] for row in health.source_health(db, None)}
    assert rows == expected == {"steady": "healthy", "recovered": "healthy", "broken": "failing", "quiet": "stale",
                                "garbled": "degraded", "shrunk": "degraded"}


def test_canned_queries_run_on_an_empty_database(db):
    for name, canned in CANNED_QUERIES.items():
        assert list(db.query(canned["sql"], browse.default_params(name))) == [], name


def test_canned_queries_never_scan_every_article(db):
    """On a million articles a scan of articles or classifications takes seconds; the only walk
    allowed is down the publication-date index, which a LIMIT stops early."""
    for name, canned in CANNED_QUERIES.items():
        plan = [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + canned["sql"], browse.default_params(name))]
        scans = [step for step in plan if step.split()[:2] in (["SCAN", "a"], ["SCAN", "c"], ["SCAN", "articles"])]
        assert all(step == "SCAN a USING INDEX idx_articles_published" for step in scans), f"{name}: {plan}"
        if scans:
            assert "LIMIT" in canned["sql"], name


# ---------------------------------------------------------------- in a browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1280, 900)


def chromium(url: str, profile, *args: str) -> subprocess.CompletedProcess:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: `sh scripts/test-bootstrap.sh` installs "
                                             "Debian's chromium (as root, with apt-get); `make test` runs it first")
@pytest.mark.parametrize("page, expected", [
    ("/", ["tipwatch — trafficking in persons in the news", "Flagged in the last 7 days", "Source health"]),
    ("/tipwatch/flagged_last_7_days?days=36500", ["Flagged in the last 7 days", RESCUE_TITLE]),
])
def test_chromium_shows_the_page_and_saves_a_screenshot(served, tmp_path, page, expected):
    url = served["base"] + page
    dom = chromium(url, tmp_path / "profile", "--dump-dom").stdout
    for text in expected:
        assert text in dom, f"{text!r} not in the page Chromium rendered from {url}"
    shot = tmp_path / "screenshot.png"
    chromium(url, tmp_path / "profile", f"--screenshot={shot}")
    print(f"screenshot of {url}: {shot}")
    assert png_size(shot) == WINDOW
    assert shot.stat().st_size > 20_000  # a blank or error page compresses to far less


def test_search_ignores_accents_and_takes_prefixes(served):
    def titles(query):
        url = (served["base"] + "/tipwatch/article_overview.json?_shape=objects&_size=100&_search="
               + urllib.parse.quote(query))
        return sorted(row["title"] for row in get_json(url)["rows"])

    accented = titles('"mua bán người"')
    assert len(accented) >= 3 and titles('"mua ban nguoi"') == accented
    assert titles("Campuchia") == titles("campuchia")
    prefixed = set(titles("traffick*"))
    words = [set(titles(word)) for word in ("trafficking", "trafficked", "traffickers")]
    assert titles("traffick") == [] and all(words) and set.union(*words) <= prefixed


def test_search_index_of_an_older_database_is_rebuilt_accent_folding(tmp_path):
    db = store.open_db(tmp_path / "old.db")
    store.save_article(db, {"url": "https://x.test/1.html", "source": "x", "title": "Nghệ An police rescue 12",
                            "text": "Police in Nghệ An province rescued twelve women.", "language": "en"}, ())
    with db.conn:  # back to version 6: the index without accent folding
        db.execute("DROP TABLE articles_fts")
        db.execute("CREATE VIRTUAL TABLE articles_fts USING FTS5 "
                   "(title, text, tokenize='unicode61', content='articles')")
        db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
        db.execute("PRAGMA user_version = 6")
    search = "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
    assert db.execute(search, ["Nghe"]).fetchall() == []
    db = store.open_db(tmp_path / "old.db")
    assert len(db.execute(search, ["Nghe"]).fetchall()) == 1 == len(db.execute(search, ["Nghệ"]).fetchall())
    store.save_article(db, {"url": "https://x.test/2.html", "source": "x", "title": "Đà Nẵng court jails traffickers",
                            "text": "The court in Đà Nẵng sentenced three people.", "language": "en"}, ())
    assert len(db.execute(search, ['"Da Nang" OR "Đa Nang"']).fetchall()) == 1  # triggers index new rows folded


# ---------------------------------------------------------------- searching and reading as an analyst

def test_english_search_finds_vietnamese_items_through_the_glossary(served):
    plain = get_json(served["base"] + "/tipwatch/article_overview.json?_shape=objects&_search=rescue")
    assert not any(row["title"].startswith(RESCUE_TITLE) for row in plain["rows"])  # English words only
    rows = query(served["base"], "search_both_languages", q="rescue")
    rescue = [row for row in rows if row["title"].startswith(RESCUE_TITLE)]
    assert rescue and rescue[0]["language"] == "vi" and "giải cứu" in rescue[0]["vietnamese_terms_searched"]
    assert {row["language"] for row in rows} == {"en", "vi"}  # the English matches are still there
    english = {row["article_id"] for row in rows if row["language"] == "en"}
    assert english == {row["id"] for row in plain["rows"]}
    assert query(served["base"], "search_both_languages") == []  # an empty form finds nothing
    pairs = browse.glossary_pairs(GLOSSARY)
    assert ("human trafficking", "mua bán người") in pairs and ("rescue", "giải cứu") in pairs
    assert all(en == en.lower() for en, _ in pairs)


def test_the_front_page_opens_articles_on_the_flagged_ones(served):
    status, html = get(served["base"] + "/")
    link = html.split('">Articles</a>')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
    assert link.startswith("/tipwatch/article_overview?flagged=1&")
    data = get_json(served["base"] + link.replace("?", ".json?", 1) + "&_shape=objects&_size=100")
    flagged = [row["id"] for row in flagged_rows(served["db"])]
    assert sorted(row["id"] for row in data["rows"]) == sorted(flagged) and flagged
    assert data["filtered_table_rows_count"] == len(flagged)
    assert list(data["rows"][0]) == ["id", *serve.ARTICLE_COLUMNS]
    published = [row["published"] for row in data["rows"]]
    assert published == sorted(published, reverse=True)


def test_an_articles_page_says_why_it_was_flagged(served):
    db = served["db"]
    for title, heading in ((RESCUE_TITLE, "Flagged: on topic"), (PANGOLIN_TITLE, "Not flagged")):
        article_id_ = article_id(db, title)
        row = db.execute("SELECT reason, rules, matched_terms FROM classifications WHERE article_id = ?",
                         [article_id_]).fetchone()
        status, html = get(f"{served['base']}/tipwatch/articles/{article_id_}")
        assert status == 200 and heading in html
        section = html.split('class="tipwatch-verdict"')[1].split("</section>")[0]
        assert str(escape_html(row[0])) in section  # the reason
        for rule in json.loads(row[1]):
            assert rule in section
        for term in json.loads(row[2]):
            assert str(escape_html(term)) in section
        assert html.index("tipwatch-verdict") < html.index("<table class=\"rows-and-columns")  # above the article


def escape_html(text: str) -> str:
    from markupsafe import escape
    return escape(text)


# ---------------------------------------------------------------- the Articles page on a laptop screen

LAPTOP = (1366, 768)


class DevTools:
    """Just enough of the Chrome DevTools protocol (a WebSocket on loopback, framed by hand: no
    client library ships) to load a page in headless Chromium and evaluate JavaScript in it."""

    def __init__(self, ws_url: str):
        parts = urllib.parse.urlsplit(ws_url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        key = "dGlwd2F0Y2gtZGV2dG9vbHM="
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
                           f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id = 0

    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "DevTools closed the connection"
            data += chunk
        return data

    def _frame(self) -> bytes:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            message += self._read(length)
            if first & 0x80:
                return message

    def call(self, method: str, **params):
        self.next_id += 1
        payload = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        header = bytes([0x81]) + (bytes([0x80 | len(payload)]) if len(payload) < 126
                                  else bytes([0x80 | 126]) + struct.pack(">H", len(payload)))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        while True:
            reply = json.loads(self._frame())
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@contextmanager
def devtools_page(profile):
    port = free_port()
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                             "--no-first-run", "--disable-background-networking", "--disable-component-update",
                             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
                             f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
                             "--remote-debugging-address=127.0.0.1", f"--remote-debugging-port={port}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = [t for t in get_json(f"http://127.0.0.1:{port}/json/list") if t["type"] == "page"]
                if pages:
                    break
            except (OSError, AssertionError):
                pass
            assert time.monotonic() < deadline, "Chromium's DevTools did not answer"
            time.sleep(0.2)
        yield DevTools(pages[0]["webSocketDebuggerUrl"])
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def load(page: DevTools, url: str) -> None:
    page.call("Emulation.setDeviceMetricsOverride", width=LAPTOP[0], height=LAPTOP[1], deviceScaleFactor=1,
              mobile=False)
    page.call("Page.navigate", url=url)
    deadline = time.monotonic() + 30
    while not (page.evaluate("location.href") == url and page.evaluate("document.readyState") == "complete"):
        assert time.monotonic() < deadline, f"{url} did not load"
        time.sleep(0.1)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (see test_chromium_shows_the_page_...)")
def test_the_articles_page_fits_a_laptop_screen(served, tmp_path):
    """At 1366×768 in headless Chromium: the Articles link of the front page opens on flagged
    articles, its table is no wider than the window, its facets end within the first screen and the
    first article starts in it; an article's page shows its verdict in the first screen."""
    with devtools_page(tmp_path / "profile") as page:
        load(page, served["base"] + "/")
        href = page.evaluate("[...document.querySelectorAll('a')].find(a => a.textContent === 'Articles').href")
        load(page, href)
        layout = page.evaluate("""JSON.stringify({
            width: window.innerWidth, height: window.innerHeight,
            scrollWidth: document.documentElement.scrollWidth,
            tableRight: document.querySelector('table.rows-and-columns').getBoundingClientRect().right,
            facetsBottom: Math.max(...[...document.querySelectorAll('.facet-info')]
                                   .map(f => f.getBoundingClientRect().bottom)),
            firstRowTop: document.querySelector('table.rows-and-columns tbody tr').getBoundingClientRect().top,
            rows: document.querySelectorAll('table.rows-and-columns tbody tr').length,
            flaggedFilter: !!document.querySelector('select[name="_filter_column_1"] option[value="flagged"][selected]')
                           || location.search.includes('flagged=1')})""")
        layout = json.loads(layout)
        print(layout)
        assert (layout["width"], layout["height"]) == LAPTOP
        assert layout["scrollWidth"] <= LAPTOP[0] and layout["tableRight"] <= LAPTOP[0], layout
        assert layout["facetsBottom"] < LAPTOP[1] and layout["firstRowTop"] < LAPTOP[1] - 40, layout
        assert layout["flaggedFilter"] and layout["rows"] == len(flagged_rows(served["db"]))
        rescue = article_id(served["db"], RESCUE_TITLE)
        load(page, f"{served['base']}/tipwatch/articles/{rescue}")
        verdict_top = page.evaluate("document.querySelector('.tipwatch-verdict').getBoundingClientRect().top")
        text = page.evaluate("document.querySelector('.tipwatch-verdict').innerText")
        assert verdict_top < LAPTOP[1] / 2 and "Flagged: on topic" in text and "Why:" in text


def test_table_counts_are_kept_until_the_database_changes(tmp_path, monkeypatch):
    """The front and database pages count every table; the counts are recomputed only after a write."""
    import asyncio

    path = tmp_path / "t.db"
    db = store.open_db(path)
    store.save_article(db, article(1))
    datasette = serve.build_datasette(path)
    database = datasette.get_database(serve.DATABASE)

    def counted() -> int:
        return asyncio.run(database.table_counts(limit=1000))["articles"]

    assert counted() == 1
    calls = []
    original = serve.Database.table_counts

    async def counting(self, limit=10):
        calls.append(limit)
        return await original(self, limit)

    monkeypatch.setattr(serve.Database, "table_counts", counting)
    assert counted() == 1 and calls == []  # nothing written: the kept counts
    store.save_article(db, article(2))
    assert counted() == 2 and len(calls) == 1  # a write: counted again

    async def table_page_count() -> int:
        response = await datasette.client.get("/tipwatch/articles.json?_size=1")
        return response.json()["filtered_table_rows_count"]

    counts_run = []
    original_execute = serve.Database.execute

    async def recording(self, sql, *args, **kwargs):
        counts_run.extend([sql] if sql.startswith("select count(*) from articles") else [])
        return await original_execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(serve.Database, "execute", recording)
    assert asyncio.run(table_page_count()) == 2 and asyncio.run(table_page_count()) == 2
    assert len(counts_run) == 1  # a table's page: its whole count kept likewise
    store.save_article(db, article(3))
    assert asyncio.run(table_page_count()) == 3 and len(counts_run) == 2


def test_a_facet_past_its_row_bound_is_not_run_and_says_so(tmp_path, monkeypatch):
    import asyncio

    from datasette.plugins import pm

    path = tmp_path / "t.db"
    db = store.open_db(path)
    for n in range(1, 4):
        store.save_classification(db, store.save_article(db, article(n)), verdict(True))
    datasette = serve.build_datasette(path)
    facets = next(p for p in pm.get_plugins() if getattr(p, "__name__", "") == "tipwatch_facets.py")

    async def page() -> tuple[dict, str]:
        data = await datasette.client.get("/tipwatch/article_overview.json?flagged=1")
        html = await datasette.client.get("/tipwatch/article_overview?flagged=1")
        return data.json()["facet_results"], html.text

    shown, html = asyncio.run(page())
    assert {"subtopics", "countries", "source"} <= set(shown) and "timed out" not in html
    monkeypatch.setattr(facets.BoundedArrayFacet, "max_rows", 2)  # three flagged articles: past it
    bounded, html = asyncio.run(page())
    assert "source" in bounded and "subtopics" not in bounded and "countries" not in bounded
    assert "These facets timed out: subtopics, countries" in html
