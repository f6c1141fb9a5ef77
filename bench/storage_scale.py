"""Storage at scale (issue 7: 5): a database of 1,000,000 synthetic articles, generated, not crawled.

Reports its size on disk and the warm time of what analysts and tipwatch run against it: the
daily digest (its query, and the whole digest as data: stories and health notes), `digest
--since`, full-text searches, the source-health queries of `tipwatch status`, the "Articles" page
of `tipwatch serve` and every Datasette canned query of pipeline/store/browse.py with its default
parameters. Target: each under 100 ms warm.

The data imitates two years of crawling (2 years of 12 sources, English and Vietnamese, ~5 %
flagged with matched terms, subtopics and countries, the places each article names (0 to 4 of the
shipped gazetteer) and the gists of the Vietnamese ones, a digest per day with its items and
deliveries, crawl runs every 6 hours with per-source stats and errors). The schema is the real
one (`pipeline.store.open_db`), indexes included. The data's clock is fixed (REF_NOW), and the
queries' 'now' is pinned to it, so a cached database gives the same answers any day.

Building a million articles takes minutes, so the database is cached under data/bench/, keyed
by generator version and row count; `--rebuild` makes a fresh one, `--rows` another size.

    .venv/bin/python bench/storage_scale.py [--rows 1000000] [--rebuild] [--repeat 5]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import BENCH_DATA, REPO, emit, target

GENERATOR_VERSION = 3  # 3: places and gists, as the crawl stores them for every article
REF_NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)   # the generated data's "now"
DAYS = 730
RUNS_PER_DAY = 4
FLAGGED_SHARE = 0.05
QUERY_TARGET_MS = 100.0
CHUNK = 20_000
GLOSSARY = REPO / "seeds" / "glossary" / "vi-en.toml"  # what the English search reads

# name, host, language, share of articles
SOURCES = [
    ("vns", "vietnamnews.vn", "en", 0.14), ("bcp", "baochinhphu.vn", "vi", 0.12),
    ("bcpen", "en.baochinhphu.vn", "en", 0.05), ("vnexpress", "vnexpress.net", "vi", 0.16),
    ("tuoitre", "tuoitre.vn", "vi", 0.12), ("thanhnien", "thanhnien.vn", "vi", 0.10),
    ("vnepress-en", "e.vnexpress.net", "en", 0.07), ("khmertimes", "www.khmertimeskh.com", "en", 0.07),
    ("phnompenhpost", "www.phnompenhpost.com", "en", 0.05), ("bangkokpost", "www.bangkokpost.com", "en", 0.06),
    ("laotian", "laotiantimes.com", "en", 0.03), ("vnanet", "vnanet.vn", "vi", 0.03),
]
TOPIC_TERMS = {
    "en": ["human trafficking", "trafficking in persons", "trafficked to Cambodia", "forced labour",
           "scam compound", "sold as brides", "debt bondage", "sexual exploitation"],
    "vi": ["mua bán người", "buôn bán người", "lừa bán", "cưỡng bức lao động", "bóc lột tình dục",
           "lừa sang Campuchia"],
}
SUBTOPICS = ["labour exploitation", "forced criminality", "bride trafficking", "sexual exploitation",
             "child trafficking", "victim support", "prosecution", "policy"]
COUNTRIES = ["Viet Nam", "Cambodia", "China", "Laos", "Thailand", "Myanmar", "Malaysia", "Japan"]
PLACES = ["Nghệ An", "Hà Tĩnh", "Lào Cai", "Quảng Ninh", "An Giang", "Tây Ninh", "Sihanoukville",
          "Bavet", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "Lạng Sơn"]


# ---------------------------------------------------------------- synthetic text

def _vocabulary(rng: random.Random, language: str, size: int) -> list[str]:
    """Made-up words in the shape of the language (Vietnamese: toned syllables), most frequent first."""
    if language == "vi":
        onsets = ["b", "c", "ch", "d", "đ", "g", "h", "k", "kh", "l", "m", "n", "ng", "nh", "ph", "qu", "s",
                  "t", "th", "tr", "v", "x", ""]
        rhymes = ["a", "á", "à", "ả", "ã", "ạ", "an", "ăn", "âm", "ấp", "em", "ên", "i", "inh", "ít", "o", "ó",
                  "ô", "ồng", "ơi", "ớn", "u", "ú", "ưa", "ương", "ười", "iệt", "oan", "uyên", "ưởng"]
        syllables = [o + r for o in onsets for r in rhymes]
        words = {" ".join(rng.sample(syllables, rng.choice((1, 1, 2)))) for _ in range(size * 2)}
    else:
        parts = ["ba", "co", "de", "fi", "gu", "ha", "ki", "lo", "ma", "ne", "po", "ra", "si", "tu", "ve",
                 "wo", "ya", "st", "tr", "an", "er", "in", "on", "ly", "ment", "tion", "ed", "ing", "al"]
        words = {"".join(rng.choices(parts, k=rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(size * 2)}
    words = sorted(words)
    rng.shuffle(words)
    return words[:size]


def _sentences(rng: random.Random, language: str, count: int) -> list[str]:
    """A pool of sentences over a Zipf-distributed vocabulary; articles are drawn from it."""
    vocabulary = _vocabulary(rng, language, 30_000)
    weights = [1 / (rank + 1) ** 1.07 for rank in range(len(vocabulary))]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    pool = []
    for _ in range(count):
        words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(8, 26))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice(PLACES))
        if rng.random() < 0.2:
            words.append(str(rng.randint(2, 2000)))
        sentence = " ".join(words)
        pool.append(sentence[0].upper() + sentence[1:] + ".")
    return pool


def _topic_sentences(rng: random.Random, language: str, plain: list[str]) -> list[str]:
    """Sentences that carry the topic's terms, for the flagged articles."""
    out = []
    for _ in range(2000):
        base = rng.choice(plain)[:-1].split(" ")
        base.insert(rng.randrange(len(base)), rng.choice(TOPIC_TERMS[language]))
        base.insert(rng.randrange(len(base)), rng.choice(COUNTRIES))
        out.append(" ".join(base) + ".")
    return out


class Corpus:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.plain = {lang: _sentences(rng, lang, 20_000) for lang in ("en", "vi")}
        self.topic = {lang: _topic_sentences(rng, lang, self.plain[lang]) for lang in ("en", "vi")}

    def article(self, language: str, flagged: bool) -> tuple[str, str, str]:
        """(title, text, description): ~2,600 characters of text on average (the real pages of
        the extraction benchmark average 4,400; Vietnamese government news is shorter)."""
        rng = self.rng
        sentences = rng.choices(self.plain[language], k=rng.randint(8, 28))
        if flagged:
            for _ in range(rng.randint(2, 5)):
                sentences.insert(rng.randrange(len(sentences)), rng.choice(self.topic[language]))
        paragraphs = ["\n".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4)]
        title_pool = self.topic[language] if flagged and rng.random() < 0.6 else self.plain[language]
        title = rng.choice(title_pool)[:110].rstrip(".")
        return title, "\n\n".join(paragraphs), sentences[0][:300]


# ---------------------------------------------------------------- building

def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _pick_sources(rng: random.Random, count: int) -> list[tuple]:
    weights = [share for *_, share in SOURCES]
    return rng.choices(SOURCES, weights=weights, k=count)


def _classification(rng: random.Random, article_id: int, language: str, flagged: bool, at: str) -> tuple:
    if flagged:
        terms = rng.sample(TOPIC_TERMS[language], rng.randint(1, 3))
        score = round(rng.uniform(3, 14), 2)
        subtopics = rng.sample(SUBTOPICS, rng.randint(1, 2))
        countries = rng.sample(COUNTRIES, rng.randint(1, 3))
        probability = round(rng.uniform(0.55, 0.99), 4)
        reason = f"rules {score:g} ≥ threshold 3; model {probability:.2f}"
    else:
        weak = rng.random() < 0.12
        terms = rng.sample(TOPIC_TERMS[language], 1) if weak else []
        score = round(rng.uniform(0.5, 2.5), 2) if weak else 0.0
        subtopics, countries = [], (rng.sample(COUNTRIES, 1) if weak else [])
        probability = round(rng.uniform(0.0, 0.5 if weak else 0.2), 4)
        reason = f"rules {score:g} < threshold 3; model {probability:.2f}"
    rules = {"tip-core": score} if score else {}
    snippet = f"… {' '.join(terms)} … reported by the authorities …" if terms else ""
    return (article_id, "trafficking@12", score, int(flagged), json.dumps(terms, ensure_ascii=False), snippet,
            json.dumps(subtopics), json.dumps(countries), at, json.dumps(rules), probability, "m1a2b3c4d5e6", reason)


def story_fingerprint(rng: random.Random, fetched: datetime, title: str, text: str, language: str) -> str:
    """The digest's story fingerprint of a flagged article: the real one (alerts/stories.py) for
    the last 15 days, which the daily digest compares; one of the same shape for older ones,
    which it never reads (computing 50,000 real ones would double the build time)."""
    from alerts import stories

    if fetched >= REF_NOW - timedelta(days=15):
        value = stories.fingerprint(title, text, language)
    else:
        value = {"v": stories.VERSION, "lang": language, "minhash": [rng.getrandbits(61) for _ in range(64)],
                 "title_tokens": sorted(set(title.lower().split()))[:16], "names": rng.sample(PLACES, 2),
                 "numbers": [str(rng.randint(1, 99))]}
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def gazetteer_places() -> list[tuple]:
    """(name, country, kind, lat, lon, now_in) of every place of the shipped gazetteer."""
    lines = [line for line in (REPO / "seeds" / "places" / "gazetteer.csv").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    return [(r["name"], r["country"], r["kind"], float(r["lat"]), float(r["lon"]), r["now_in"] or None)
            for r in csv.DictReader(lines)]


# places an article names (as pipeline/enrich finds them in every stored article): how many, by weight
PLACES_PER_ARTICLE = {False: ((0, 1, 2, 3), (40, 30, 20, 10)), True: ((1, 2, 3, 4), (35, 35, 20, 10))}


def article_places(rng: random.Random, gazetteer: list[tuple], article_id: int, flagged: bool) -> list[tuple]:
    counts, weights = PLACES_PER_ARTICLE[flagged]
    chosen = rng.sample(gazetteer, rng.choices(counts, weights)[0])
    return [(article_id, name, country, kind, lat, lon, now_in, rng.randint(1, 4), 20 * i)
            for i, (name, country, kind, lat, lon, now_in) in enumerate(chosen)]


def article_gist(rng: random.Random, article_id: int, places: list[tuple], at: str) -> tuple:
    """A Vietnamese article's English gist, of the shape build_gist makes."""
    where = ", ".join(p[1] for p in places[:2]) or "Viet Nam"
    gist = f"{rng.randint(2, 40)} citizens rescued · {where} · {rng.choice(('trafficking', 'forced labour'))}"
    return (article_id, gist, None, None, "glossary", "g1-g1", at)


def insert_articles(conn: sqlite3.Connection, rows: int, rng: random.Random, corpus: Corpus) -> list[tuple]:
    """The articles, their URLs and classifications, in crawl order (ids grow with time).
    Returns (id, day, source, flagged) of the flagged ones, for the digests."""
    start = REF_NOW - timedelta(days=DAYS)
    step = (REF_NOW - start) / rows
    flagged_rows = []
    gazetteer = gazetteer_places()
    for first in range(0, rows, CHUNK):
        articles, urls, classes, prints, places, gists = [], [], [], [], [], []
        for article_id, source in enumerate(_pick_sources(rng, min(CHUNK, rows - first)), start=first + 1):
            name, host, language, _ = source
            fetched = start + step * (article_id - 1)
            published = fetched - timedelta(minutes=rng.randint(5, 600))
            flagged = rng.random() < FLAGGED_SHARE
            title, text, description = corpus.article(language, flagged)
            section = rng.choice(("society", "politics-laws", "world", "thoi-su", "phap-luat"))
            path = f"/{section}/{article_id + 1800000}/a{article_id}.html"
            key = host.removeprefix("www.") + path
            at = _iso(fetched)
            articles.append((article_id, f"https://{host}{path}", name, title, text,
                             rng.choice((None, None, "Staff reporter", "Nguyễn Hằng", "Trần Minh")),
                             _iso(published), "meta", language, host, description, "[]", None, at, at))
            urls.append((key, article_id))
            classes.append(_classification(rng, article_id, language, flagged, at))
            named = article_places(rng, gazetteer, article_id, flagged)
            places += named
            if language == "vi":
                gists.append(article_gist(rng, article_id, named, at))
            if flagged:
                flagged_rows.append((article_id, fetched.date().isoformat(), name))
                prints.append((article_id, story_fingerprint(rng, fetched, title, text, language)))
        conn.executemany("INSERT INTO articles (id, url, source, title, text, author, published, date_source, "
                         "language, sitename, description, tags, image, fetched_at, stored_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", articles)
        conn.executemany("INSERT INTO article_urls (url, article_id) VALUES (?, ?)", urls)
        conn.executemany("INSERT INTO classifications (article_id, profile_version, score, flagged, matched_terms, "
                         "snippet, subtopics, countries, classified_at, rules, probability, model_version, reason) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", classes)
        conn.executemany("INSERT INTO article_fingerprints (article_id, fingerprint) VALUES (?, ?)", prints)
        conn.executemany("INSERT INTO article_places (article_id, place, country, kind, lat, lon, now_in, mentions, "
                         "first_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", places)
        conn.executemany("INSERT INTO article_gists (article_id, gist, title_en, lead_en, method, version, made_at) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)", gists)
        conn.commit()
        done = first + len(articles)
        if done % 200_000 == 0 or done == rows:
            print(f"  articles {done:,}/{rows:,}", flush=True)
    return flagged_rows


def insert_digests(conn: sqlite3.Connection, rng: random.Random, flagged: list[tuple]) -> None:
    """A digest per day before REF_NOW's day with that day's flagged articles, delivered by email
    (and by Slack for the last 90 days); stories of 1-3 articles.
    The flagged articles of REF_NOW's own day are in no digest yet: the digest query's answer."""
    today = REF_NOW.date().isoformat()
    by_day: dict[str, list[int]] = {}
    for article_id, day, _ in flagged:
        if day < today:
            by_day.setdefault(day, []).append(article_id)
    slack_from = (REF_NOW - timedelta(days=90)).date().isoformat()
    items, deliveries = [], []
    for digest_id, day in enumerate(sorted(by_day), start=1):
        ids = by_day[day]
        conn.execute("INSERT INTO digests (id, day, path, created_at, item_count) VALUES (?, ?, ?, ?, ?)",
                     [digest_id, day, f"seeds/digests/{day}.md", f"{day}T23:00:00+00:00", len(ids)])
        story = None
        for position, article_id in enumerate(ids):
            story = story if story and rng.random() < 0.3 else f"s{article_id}"
            items.append((article_id, digest_id, position, story, None))
            sent = f"{day}T23:01:00+00:00"
            deliveries.append((article_id, "email", digest_id, "delivered", None, None, sent, 1, None))
            if day >= slack_from:
                deliveries.append((article_id, "slack", digest_id, "delivered", None, None, sent, 1, None))
    conn.executemany("INSERT INTO digest_items (article_id, digest_id, position, story_key, follow_up_of) "
                     "VALUES (?, ?, ?, ?, ?)", items)
    conn.executemany("INSERT INTO deliveries (article_id, channel, digest_id, state, claimed_by, claimed_at, "
                     "delivered_at, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", deliveries)
    conn.commit()


def insert_runs(conn: sqlite3.Connection, rng: random.Random) -> None:
    """Crawl runs every 6 hours with per-source stats (and a few errors), for the health queries;
    one source has been failing for its last 5 runs, another stopped yielding articles."""
    runs, stats, errors = [], [], []
    total = DAYS * RUNS_PER_DAY
    for run_id in range(1, total + 1):
        started = REF_NOW - timedelta(hours=6 * (total - run_id))
        runs.append((run_id, _iso(started), _iso(started + timedelta(minutes=rng.randint(2, 9))),
                     json.dumps([s[0] for s in SOURCES]), "finished"))
        for name, host, _, share in SOURCES:
            failing = name == "laotian" and run_id > total - 5
            found = 0 if failing else int(share * 800) + rng.randint(0, 20)
            fetched = 0 if failing else int(found * 0.1) + rng.randint(0, 5)
            stored = 0 if name == "vnanet" and run_id > total - 20 else fetched
            requests = 6 + fetched
            status = {"5xx": requests} if failing else {"2xx": requests - 1, "3xx": 1}
            stats.append((run_id, name, requests, 0 if failing else requests, found, fetched, stored,
                          int(stored * FLAGGED_SHARE), found - fetched, rng.randint(0, 3), 0, rng.randint(0, 2),
                          rng.randint(0, 1), requests if failing else 0, rng.randint(0, 4),
                          json.dumps(status), json.dumps({"http": requests} if failing else {}),
                          round(rng.uniform(5, 120), 1)))
            if failing or rng.random() < 0.02:
                errors.append((run_id, name, f"https://{host}/rss", "http", "HTTP 503", _iso(started)))
    conn.executemany("INSERT INTO crawl_runs (id, started_at, finished_at, sources, status) VALUES (?, ?, ?, ?, ?)",
                     runs)
    conn.executemany("INSERT INTO crawl_source_stats (run_id, source, requests, responses, articles_found, "
                     "articles_fetched, articles_stored, articles_flagged, skipped_known, skipped_old, "
                     "skipped_offsite, duplicates, extraction_failures, errors, not_modified, status_counts, "
                     "error_counts, duration_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     stats)
    conn.executemany("INSERT INTO crawl_errors (run_id, source, url, kind, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
                     errors)
    conn.commit()


def insert_labels_and_settled(conn: sqlite3.Connection, rng: random.Random, rows: int) -> None:
    """2,000 analyst labels, and pages fetched without giving an article (2 % of fetches)."""
    labelled = rng.sample(range(1, rows + 1), min(2000, rows))
    conn.executemany("INSERT INTO labels (article_id, label, note, labelled_at) VALUES (?, ?, ?, ?)",
                     [(i, rng.randint(0, 1), None, _iso(REF_NOW)) for i in labelled])
    settled = [(f"{host.removeprefix('www.')}/video/{n}/clip-{n}.html", name, "extraction: too short: 80 chars",
                _iso(REF_NOW - timedelta(days=rng.randint(0, DAYS))))
               for n, (name, host, _, _) in enumerate(_pick_sources(rng, rows // 50))]
    conn.executemany("INSERT INTO settled_urls (url, source, reason, settled_at) VALUES (?, ?, ?, ?)", settled)
    conn.commit()


def build_fts(conn: sqlite3.Connection) -> float:
    """Index every article at once: no merging while building, one merge at the end (faster
    than FTS5's incremental merges), then FTS5's default settings again."""
    started = time.perf_counter()
    conn.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('automerge', 0)")
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO articles_fts (articles_fts) VALUES ('optimize')")
    conn.execute("DELETE FROM articles_fts_config WHERE k = 'automerge'")
    conn.commit()
    return time.perf_counter() - started


_TRIGGER_NAME = re.compile(r"TRIGGER\s+(?:IF NOT EXISTS\s+)?(\S+)", re.IGNORECASE)


def fts_triggers(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'")]


def build(path: Path, rows: int, seed: int = 7) -> dict:
    """Generate the database at `path` (written under a temporary name, renamed when complete)."""
    from pipeline import store

    partial = path.with_name(path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    store.open_db(partial).conn.close()  # the real schema, indexes and FTS triggers included
    started = time.perf_counter()
    conn = sqlite3.connect(partial)
    # a throw-away build: no journal, no fsync; the file is only renamed into place once complete
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    triggers = fts_triggers(conn)
    for sql in triggers:  # one FTS rebuild at the end beats a trigger per row
        conn.execute(f"DROP TRIGGER {_TRIGGER_NAME.search(sql)[1]}")
    rng = random.Random(seed)
    corpus = Corpus(rng)
    flagged = insert_articles(conn, rows, rng, corpus)
    insert_digests(conn, rng, flagged)
    insert_runs(conn, rng)
    insert_labels_and_settled(conn, rng, rows)
    fts_seconds = build_fts(conn)
    for sql in triggers:
        conn.execute(sql)
    conn.execute("CREATE TABLE bench_meta (key TEXT PRIMARY KEY, value TEXT)")
    seconds = time.perf_counter() - started
    meta = {"generator_version": GENERATOR_VERSION, "rows": rows, "build_seconds": round(seconds, 1),
            "fts_seconds": round(fts_seconds, 1), "ref_now": _iso(REF_NOW), "flagged": len(flagged)}
    conn.executemany("INSERT INTO bench_meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
    conn.commit()
    conn.execute("PRAGMA journal_mode = WAL")  # as tipwatch runs it
    conn.close()
    os.replace(partial, path)
    return meta


def read_meta(path: Path) -> dict | None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM bench_meta")}
    except sqlite3.Error:
        return None


def _schema(conn: sqlite3.Connection, kind: str) -> dict[str, str]:
    return {name: sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL AND name != 'bench_meta'", [kind])}


def sync_indexes(path: Path) -> list[str] | None:
    """Brings a cached database's indexes to the current schema (store.py gains an index: build
    it here in seconds rather than the whole database in minutes). None when the tables
    themselves changed: then only a new database will do."""
    from pipeline import store

    fresh = store.open_db(":memory:").conn
    conn = sqlite3.connect(path)
    try:
        if _schema(fresh, "table") != _schema(conn, "table"):
            return None
        wanted, present = _schema(fresh, "index"), _schema(conn, "index")
        changes = []
        for name in present.keys() - wanted.keys():
            conn.execute(f'DROP INDEX "{name}"')
            changes.append(f"dropped index {name}")
        for name in wanted.keys() - present.keys():
            conn.execute(wanted[name])
            changes.append(f"built index {name}")
        conn.commit()
        return changes
    finally:
        conn.close()


def migrate_cached(path: Path) -> list[str] | None:
    """Migrate a cached database made under an older schema as tipwatch migrates a user's one
    (store.open_db), and time it; None when its tables still differ from a fresh database's."""
    from pipeline import store

    with sqlite3.connect(path) as conn:
        before = conn.execute("PRAGMA user_version").fetchone()[0]
    started = time.perf_counter()
    store.open_db(path).conn.close()
    seconds = time.perf_counter() - started
    changes = sync_indexes(path)
    if changes is None:
        return None
    return [f"migrated schema {before} → {store.SCHEMA_VERSION} in {seconds:.1f} s"] + changes


def cached_database(rows: int, rebuild: bool) -> tuple[Path, dict, list[str]]:
    """(path, build record, what was done) of the cached database for this generator and size."""
    BENCH_DATA.mkdir(parents=True, exist_ok=True)
    path = BENCH_DATA / f"storage-v{GENERATOR_VERSION}-{rows}.db"
    meta = None if rebuild else read_meta(path)
    if meta and meta.get("rows") == rows and meta.get("generator_version") == GENERATOR_VERSION:
        changes = sync_indexes(path)
        if changes is None:  # new tables: the real migration (pipeline.store.migrate) adds and fills them
            changes = migrate_cached(path)
        if changes is not None:
            return path, meta, [f"reused the cached {path.relative_to(REPO)}"] + changes
        print("the schema's tables changed since the cached database was generated", flush=True)
    for old in BENCH_DATA.glob("storage-v*.db*"):  # other versions and sizes: gigabytes each
        old.unlink()
    print(f"generating {rows:,} synthetic articles into {path} ...", flush=True)
    meta = build(path, rows)
    return path, meta, [f"generated {path.relative_to(REPO)} this run, in {meta['build_seconds']} s"]


# ---------------------------------------------------------------- timing

_NOW = re.compile(r"'now'")


def pinned(sql: str) -> str:
    """The query with SQLite's clock pinned to the data's: same plan, same cost, same answer any day."""
    return _NOW.sub("'" + REF_NOW.strftime("%Y-%m-%d %H:%M:%S") + "'", sql)


def time_call(call, repeat: int) -> tuple[float, int]:
    """(median milliseconds over `repeat` warm runs, rows in the answer); one untimed run warms."""
    result = call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1), len(result) if hasattr(result, "__len__") else 1


def sql_call(db, sql: str, params=()):
    return lambda: db.execute(pinned(sql), params).fetchall()


def store_queries(db) -> dict:
    from pipeline import store
    from pipeline.store import health

    today = REF_NOW.date().isoformat()
    week_ago = _iso(REF_NOW - timedelta(days=7))
    from alerts.digest import build_digest

    return {
        "digest: digest_candidates (today)": lambda: store.digest_candidates(db, today),
        # the whole digest as data (stories against 14 days of sent items, health notes): a daily
        # job, more than a query, so it has no target here
        "digest: build_digest, the whole day's digest (informative)": lambda: [build_digest(db, today)],
        "digest --since 7 days: flagged_since": lambda: store.flagged_since(db, week_ago),
        "status: health.source_health (all sources)": lambda: health.source_health(db, None, now=REF_NOW),
        "status: last_article_at (one source)": lambda: [store.last_article_at(db, "vns")],
        "status: article_counts 7 days (one source)": lambda: [store.article_counts(db, "vns", week_ago)],
    }


FTS_QUERIES = {
    # what Datasette's search box runs on the articles table (newest first, a page of 101)
    "search 'trafficking' (Datasette table search)":
        ("SELECT * FROM articles WHERE rowid IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) "
         "ORDER BY id DESC LIMIT 101", ["trafficking"]),
    "search \"human trafficking\" by relevance, top 20":
        ("SELECT a.id, a.title, a.published FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
         "WHERE articles_fts MATCH ? ORDER BY rank LIMIT 20", ['"human trafficking"']),
    "search \"mua bán người\" by relevance, top 20":
        ("SELECT a.id, a.title, a.published FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
         "WHERE articles_fts MATCH ? ORDER BY rank LIMIT 20", ['"mua bán người"']),
    "search rare place 'Sihanoukville' AND 'scam', newest 20":
        ("SELECT a.id, a.title, a.published FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
         "WHERE articles_fts MATCH ? ORDER BY a.id DESC LIMIT 20", ["Sihanoukville AND scam"]),
}


# the "Articles" page of `tipwatch serve` (the article_overview table of pipeline/store/, newest
# first), as Datasette 0.65 queries it: the first page, a search, and the row count it shows
ARTICLES_PAGE = {
    "Articles page: newest 51": ("SELECT * FROM article_overview ORDER BY published DESC LIMIT 51", []),
    "Articles page: flagged, newest 51": ("SELECT * FROM article_overview WHERE flagged = 1 "
                                          "ORDER BY published DESC LIMIT 51", []),
    "Articles page: search 'trafficking', newest 51":
        ("SELECT * FROM article_overview WHERE id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) "
         "ORDER BY published DESC LIMIT 51", ["trafficking"]),
    "Articles page: row count": ("SELECT count(*) FROM article_overview", []),
    "Articles page: row count, flagged": ("SELECT count(*) FROM article_overview WHERE flagged = 1", []),
}

# Datasette pages timed over HTTP semantics (Datasette's own ASGI client, in process: routing,
# every query of the page, facets and count included, and the HTML), besides every link of the
# front page and every table page of the database; informative ones have no target
EXTRA_PAGES = {
    "/tipwatch/article_overview (unfiltered, informative)": "/tipwatch/article_overview",
    "/tipwatch/article_overview flagged, search 'trafficking' (informative)":
        "/tipwatch/article_overview?flagged=1&_search=trafficking",
    "/tipwatch/article_overview flagged, search 'Sihanoukville' (informative)":
        "/tipwatch/article_overview?flagged=1&_search=Sihanoukville",
    "/tipwatch/articles/{id}: an article's page (informative)": "/tipwatch/articles/{id}",
}


def datasette_pages(path: Path, repeat: int) -> tuple[dict, list[str]]:
    """Warm times of the pages `tipwatch serve` offers (see EXTRA_PAGES), through Datasette itself.
    A canned query with a `days` window gets it widened by the days between the data's clock and
    today (Datasette's 'now' cannot be pinned), so it reads what it would on the data's day."""
    import asyncio
    import html.parser

    try:
        from pipeline.store import browse
        from tipwatch import serve
    except ImportError as exc:
        return {}, [f"Datasette pages: not available ({exc})"]
    serve.prepare_database(path)
    datasette = serve.build_datasette(path)
    lag = (datetime.now(UTC).date() - REF_NOW.date()).days

    class Links(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.found = []

        def handle_starttag(self, tag, attrs):
            href = dict(attrs).get("href") if tag == "a" else None
            if href and href.startswith("/") and not href.startswith(("/-/", "//")):
                self.found.append(href)

    async def run() -> tuple[dict, list[str]]:
        await datasette.invoke_startup()

        async def fetch(url: str) -> tuple[int, str]:
            response = await datasette.client.get(url)
            return response.status_code, response.text

        status, front = await fetch("/")
        parser = Links()
        parser.feed(front)
        pages = {"/": "/"}
        for href in dict.fromkeys(parser.found):
            name = href.split("?")[0].rsplit("/", 1)[-1]
            query = browse.canned_queries(GLOSSARY).get(name)
            if query and "days" in query.get("params", []):
                href += ("&" if "?" in href else "?") + f"days={7 + lag if name != 'stories' else 30 + lag}"
            pages[f"front page link {href}"] = href
        db = datasette.get_database("tipwatch")
        for table in await db.table_names():
            if not await db.table_exists(table) or table.startswith("articles_fts"):
                continue
            hidden = await db.hidden_table_names()
            if table not in hidden:
                pages.setdefault(f"table page /tipwatch/{table}", f"/tipwatch/{table}")
        some_id = (await db.execute("SELECT max(id) FROM articles")).first()[0]
        for name, url in EXTRA_PAGES.items():
            pages[name] = url.replace("{id}", str(some_id))
        timings, notes = {}, []
        for name, url in pages.items():
            status, body = await fetch(url)  # the untimed warm-up
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                status, body = await fetch(url)
                times.append((time.perf_counter() - started) * 1000)
            ms = round(statistics.median(times), 1)
            timed_out = body.count("facet-timed-out") + body.count("Facet timed out") + body.count("timed out")
            if status != 200:
                notes.append(f"{url}: HTTP {status}")
            if timed_out:
                notes.append(f"{url}: {timed_out} part(s) timed out")
            timings[name] = {"ms": ms, "rows": status}
            print(f"  {name[:90]:90} {ms:8.1f} ms  HTTP {status}", flush=True)
        return timings, notes

    return asyncio.run(run())


# a query that finds nothing with its empty form is timed on what an analyst types
CANNED_PARAMS = {"search_both_languages": {"q": "human trafficking"}}


def canned_queries() -> tuple[dict, str | None]:
    """name → (sql, params with their defaults) from pipeline.store.browse, or a reason they are missing."""
    try:
        from pipeline.store import browse
    except ImportError as exc:
        return {}, f"browse queries: not available ({exc})"
    queries = browse.canned_queries(GLOSSARY)
    found = {}
    for name, query in queries.items():
        params = query.get("params") or {}
        if not isinstance(params, dict):  # a list of names: Datasette binds '' to each, its default
            params = {p: "" for p in params}
        params = {**params, **CANNED_PARAMS.get(name, {})}
        found[name] = (query["sql"], params)
    return found, None


def ensure_views(db) -> bool:
    """The browse views (pipeline/store/browse.py), if that module is there."""
    try:
        from pipeline.store import browse
        browse.ensure_views(db)
    except (ImportError, AttributeError):
        return False
    return True


def run_queries(path: Path, repeat: int) -> tuple[dict, list[str]]:
    from pipeline import store

    db = store.open_db(path)
    timings, notes = {}, []
    calls = dict(store_queries(db))
    for name, (sql, params) in FTS_QUERIES.items():
        calls[name] = sql_call(db, sql, params)
    if ensure_views(db):
        for name, (sql, params) in ARTICLES_PAGE.items():
            calls[name] = sql_call(db, sql, params)
    canned, missing = canned_queries()
    if missing:
        notes.append(missing)
    for name, (sql, params) in canned.items():
        calls[f"canned: {name}"] = sql_call(db, sql, params)
    for name, call in calls.items():
        try:
            ms, count = time_call(call, repeat)
        except Exception as exc:  # one broken query is a finding, not the end of the benchmark
            print(f"  {name:58} FAILED: {exc.__class__.__name__}: {exc}")
            notes.append(f"{name} failed: {exc}")
            continue
        timings[name] = {"ms": ms, "rows": count}
        print(f"  {name:58} {ms:8.1f} ms  {count:6} rows", flush=True)
    # a crawl asks, for every link an index page gives, whether it is known: a sitemap's 500
    keys = [row[0] for row in db.execute("SELECT url FROM article_urls ORDER BY rowid DESC LIMIT 250")]
    keys += [f"{key}-unseen" for key in keys]
    started = time.perf_counter()
    known = sum(store.is_known_url(db, key) for key in keys)
    timings["crawl: is_known_url for a sitemap's 500 links (informative)"] = {
        "ms": round((time.perf_counter() - started) * 1000, 1), "rows": known}
    db.conn.close()
    return timings, notes


def disk_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def table_sizes(path: Path) -> dict[str, float] | None:
    """MB per table with its indexes (dbstat); None if this SQLite lacks it."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
            owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    except sqlite3.Error:
        return None
    sizes: dict[str, float] = {}
    for name, size in rows:
        owner = owners.get(name, name)
        owner = "articles_fts" if owner.startswith("articles_fts") else owner
        sizes[owner] = sizes.get(owner, 0) + size / 2**20
    return {k: round(v, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v >= 0.1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true", help="generate the database again")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (median reported)")
    parser.add_argument("--sizes", action="store_true", help="also report MB per table (reads the whole file)")
    args = parser.parse_args()

    path, meta, done = cached_database(args.rows, args.rebuild)
    built = done[0].startswith("generated")
    size_mb = round(disk_size(path) / 2**20, 1)
    print(f"{args.rows:,} articles, {meta['flagged']:,} flagged, {size_mb:,} MB on disk; " + "; ".join(done))
    timings, notes = run_queries(path, args.repeat)
    print("Datasette pages (`tipwatch serve`), median of warm runs:", flush=True)
    pages, page_notes = datasette_pages(path, args.repeat)
    timings.update({f"page: {name}": t for name, t in pages.items()})
    notes += page_notes
    notes[:0] = [f"database: {args.rows:,} synthetic articles ({meta['flagged']:,} flagged), generated in "
                 f"{meta['build_seconds']} s and cached; " + "; ".join(done),
                 f"queries' 'now' pinned to the data's clock, {meta['ref_now']}; medians of {args.repeat} warm runs"]
    figures = {"rows": args.rows, "size_mb": size_mb, "mb_per_1000_articles": round(size_mb * 1000 / args.rows, 2),
               "build_seconds": meta["build_seconds"], "built_this_run": built,
               "queries_ms": {name: t["ms"] for name, t in timings.items()}}
    if args.sizes:
        figures["table_mb"] = table_sizes(path)
    targets = [target(name, f"< {QUERY_TARGET_MS:g} ms warm", t["ms"], t["ms"] < QUERY_TARGET_MS)
               for name, t in timings.items() if "informative" not in name]
    emit("storage_scale", figures, targets, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
