"""What analysts browse in Datasette (`tipwatch serve`): the views it adds to the database and
the canned queries it offers.

The views exist for Datasette's table pages (search, facets, sorting); the canned queries read
only the base tables and the indexes of `pipeline.store`, so they run on any migrated database,
views or not, and stay fast on a million articles (each is bounded by an indexed date window,
a LIMIT or a small table). Every named parameter is optional: bound to '' (what Datasette sends
for an empty form field) it takes the default its description names.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

import sqlite_utils

from pipeline.store import health

# ---------------------------------------------------------------- views

# "Articles" (article_overview) was a view here until schema 8; it is now a table kept by triggers
# (pipeline.store, _create_overview_table), so that its count and facets stay fast on a million
# articles. Views added here are (re)created by ensure_views.
VIEWS: dict[str, str] = {}


def _view_sql(name: str, select: str) -> str:
    return f"CREATE VIEW {name} AS {select.strip()}"


def ensure_views(db: sqlite_utils.Database) -> list[str]:
    """Create the browse views, replacing any whose definition changed; returns the names
    (re)created. Running it again changes nothing."""
    changed = []
    for name, select in VIEWS.items():
        wanted = _view_sql(name, select)
        row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?", [name]).fetchone()
        if row and row[0] == wanted:
            continue
        with db.atomic():
            db.execute(f"DROP VIEW IF EXISTS {name}")
            db.execute(wanted)
        changed.append(name)
    return changed


# ---------------------------------------------------------------- canned queries

# Rows a canned query's page shows at most. Datasette renders every row of a canned query, with
# no pagination, each cell through the render_cell hooks: ~0.2 ms a row of ten columns, so 500
# rows are a 100 ms page of their own (bench/storage_scale.py). The Articles page paginates them all.
PAGE_ROWS = 200
MAP_PLACES = 300  # the map's pins by default; its `places` asks for more (a slower page)


# "7 days before now", or :days before now: the bound of an indexed range on articles.published
def _cutoff(param: str, default: int) -> str:
    return f"date('now', '-' || coalesce(nullif(:{param}, ''), {default}) || ' days')"


def _recent(cutoff: str) -> str:
    """Published since `cutoff`, or undated and fetched since then (as `tipwatch digest --since`);
    both branches use the index on articles(published)."""
    return f"(a.published >= {cutoff} OR (a.published IS NULL AND a.fetched_at >= {cutoff}))"


FLAGGED_LAST_DAYS = f"""
SELECT coalesce(a.published, a.fetched_at) AS published, a.title, a.source, a.language,
       c.score, c.probability, c.matched_terms, c.snippet, c.subtopics, c.countries, c.reason,
       a.url, a.id AS article_id
FROM articles a JOIN classifications c ON c.article_id = a.id
WHERE +c.flagged = 1 AND {_recent(_cutoff('days', 7))}
ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC
LIMIT {PAGE_ROWS}
"""

# datasette-atom turns a query with atom_id, atom_title and atom_updated into a feed (.atom);
# the 50 newest flagged articles, so a quiet week still gives readers a valid feed
FLAGGED_FEED = """
SELECT a.url AS atom_id, a.title AS atom_title,
       coalesce(strftime('%Y-%m-%dT%H:%M:%SZ', a.published), strftime('%Y-%m-%dT%H:%M:%SZ', a.fetched_at))
         AS atom_updated,
       a.url AS atom_link, a.source AS atom_author_name,
       a.source || ' · ' || coalesce(a.language, '') || ' · ' || coalesce(a.published, 'undated')
         || char(10) || 'Matched: ' || coalesce((SELECT group_concat(value, ' · ') FROM json_each(c.matched_terms)), '')
         || char(10) || coalesce(c.snippet, '')
         AS atom_content
FROM articles a JOIN classifications c ON c.article_id = a.id
WHERE +c.flagged = 1  -- unary +: walk the newest articles by date, not every flagged one
ORDER BY a.published DESC, a.id DESC
LIMIT 50
"""

# one row per article sent in a digest, the articles of a story together, latest story first
STORIES = f"""
WITH chosen AS (  -- the stories sent in the window, or the one asked for
  SELECT DISTINCT coalesce(di.story_key, 's' || di.article_id) AS story
  FROM digests d JOIN digest_items di ON di.digest_id = d.id
  WHERE CASE WHEN :story = '' THEN d.day >= {_cutoff('days', 30)}
             ELSE coalesce(di.story_key, 's' || di.article_id) = :story END
),
items AS (  -- every article of those stories, in whichever digest it was sent
  SELECT c.story, di.article_id, d.day AS digest_day, di.position, di.follow_up_of
  FROM chosen c JOIN digest_items di ON coalesce(di.story_key, 's' || di.article_id) = c.story
  JOIN digests d ON d.id = di.digest_id
),
stories AS (  -- the latest ones: a page of stories, not every one of a month
  SELECT story, count(*) AS articles, min(digest_day) AS first_sent, max(digest_day) AS last_sent,
         min(digest_day || printf('%06d', position)) AS first_place
  FROM items GROUP BY story
  ORDER BY last_sent DESC, first_place LIMIT {PAGE_ROWS // 2}
)
SELECT s.story, s.articles AS story_articles, s.first_sent, s.last_sent, i.digest_day,
       coalesce(a.published, a.fetched_at) AS published, a.title, a.source, a.language,
       i.follow_up_of IS NOT NULL AS follow_up, a.url, i.article_id
FROM stories s JOIN items i ON i.story = s.story JOIN articles a ON a.id = i.article_id
ORDER BY s.last_sent DESC, s.first_place, i.digest_day, i.position
"""

# -- source health: each source's figures from its last runs, and its verdict from health.py's
# rules, called as an SQL function (health.register_sql_functions): one definition of the rules
_H = health  # its constants, so `tipwatch status` and this query read the same runs
_RUN_JSON = ("json_object('n', n, 'started_at', started_at, 'requests', requests, 'responses', responses, "
             "'status_counts', json(coalesce(status_counts, '{}')), 'articles_found', found, "
             "'articles_fetched', fetched, 'extraction_failures', extraction_failures)")
SOURCE_HEALTH = f"""
WITH sources AS (SELECT DISTINCT source FROM crawl_source_stats),
interrupted AS (  -- per source, its newest run marked interrupted (its process died; stats never written)
  SELECT j.value AS source, max(r.id) AS run_id FROM crawl_runs r, json_each(r.sources) j
  WHERE r.status = 'interrupted' GROUP BY j.value
),
cut_short AS (  -- ... when no later run names the source: its last run was interrupted
  SELECT i.source, r.started_at FROM interrupted i JOIN crawl_runs r ON r.id = i.run_id
  WHERE NOT EXISTS (SELECT 1 FROM crawl_runs n, json_each(n.sources) k WHERE n.id > i.run_id AND k.value = i.source)
),
bounds AS (  -- run ids: the first of each source's last runs, its latest success, its latest new article
  SELECT source,
    coalesce((SELECT run_id FROM crawl_source_stats s WHERE s.source = sources.source
              ORDER BY run_id DESC LIMIT 1 OFFSET {_H.HISTORY_RUNS - 1}), 0) AS first_id,
    (SELECT run_id FROM crawl_source_stats s WHERE s.source = sources.source
       AND coalesce(json_extract(s.status_counts, '$."2xx"'), 0) > 0 ORDER BY run_id DESC LIMIT 1) AS success_id,
    (SELECT run_id FROM crawl_source_stats s WHERE s.source = sources.source AND s.articles_stored > 0
     ORDER BY run_id DESC LIMIT 1) AS stored_id
  FROM sources
),
history AS (  -- each source's last runs, n = 1 the latest
  SELECT s.source, r.started_at, s.status_counts,
         coalesce(s.requests, 0) AS requests, coalesce(s.responses, 0) AS responses,
         coalesce(s.articles_found, 0) AS found, coalesce(s.articles_fetched, 0) AS fetched,
         coalesce(s.extraction_failures, 0) AS extraction_failures, s.error_counts,
         CASE WHEN coalesce(s.responses, 0) = 0 THEN coalesce(s.requests, 0)
              ELSE max(coalesce(s.requests, 0) - coalesce(json_extract(s.status_counts, '$."2xx"'), 0)
                       - coalesce(json_extract(s.status_counts, '$."3xx"'), 0), 0) END AS failed,
         row_number() OVER (PARTITION BY s.source ORDER BY s.run_id DESC) AS n
  FROM crawl_source_stats s JOIN bounds b ON b.source = s.source JOIN crawl_runs r ON r.id = s.run_id
  WHERE s.run_id >= b.first_id
    AND s.run_id >= (SELECT min(first_id) FROM bounds)  -- a range on the primary key: only recent runs are read
),
recent AS (  -- articles stored by the runs of the last 7 days and 24 hours
  SELECT s.source, sum(coalesce(s.articles_stored, 0)) AS new_7d,
         sum(CASE WHEN r.started_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-1 day')
                  THEN coalesce(s.articles_stored, 0) ELSE 0 END) AS new_24h
  FROM crawl_source_stats s JOIN crawl_runs r ON r.id = s.run_id
  WHERE s.run_id >= (SELECT min(id) FROM crawl_runs WHERE started_at >= strftime('%Y-%m-%dT%H:%M:%S', 'now', '-7 days'))
  GROUP BY s.source
),
figures AS (
  SELECT h.source,
    (SELECT started_at FROM crawl_runs WHERE id = b.success_id) AS last_success,
    (SELECT coalesce(finished_at, started_at) FROM crawl_runs WHERE id = b.stored_id) AS last_new_article,
    coalesce(rc.new_24h, 0) AS new_24h, coalesce(rc.new_7d, 0) AS new_7d,
    max(CASE WHEN n = 1 THEN started_at END) AS last_run,
    min(started_at) AS first_run_in_history,
    sum(CASE WHEN n <= {_H.FAILING_WINDOW_RUNS} THEN requests END) AS window_requests,
    sum(CASE WHEN n <= {_H.FAILING_WINDOW_RUNS} THEN failed END) AS window_failed,
    max(CASE WHEN n = 1 THEN requests END) AS last_requests,
    max(CASE WHEN n = 1 THEN responses END) AS last_responses,
    max(CASE WHEN n = 1 THEN fetched END) AS last_fetched,
    max(CASE WHEN n = 1 THEN extraction_failures END) AS last_extraction_failures,
    max(CASE WHEN n = 1 THEN found END) AS last_found,
    avg(CASE WHEN n > 1 THEN found END) AS usual_found,
    max(CASE WHEN n = 1 THEN error_counts END) AS last_errors,
    count(*) AS runs,
    json_group_array({_RUN_JSON}) AS runs_json
  FROM history h JOIN bounds b ON b.source = h.source LEFT JOIN recent rc ON rc.source = h.source
  GROUP BY h.source
),
judged AS MATERIALIZED (  -- every source with stats or an interrupted last run; materialised: one verdict call each
  SELECT s.source, c.started_at AS interrupted_run_started, f.last_run, f.last_success, f.last_new_article,
    f.new_24h, f.new_7d, f.last_requests, f.last_responses, f.window_failed, f.window_requests, f.last_fetched,
    f.last_extraction_failures, f.last_found, f.usual_found, f.last_errors, f.runs,
    (julianday('now') - julianday(coalesce(f.last_new_article, f.first_run_in_history))) * 24 AS quiet_hours,
    {health.SQL_VERDICT_FUNCTION}(f.runs_json, f.last_new_article, strftime('%Y-%m-%dT%H:%M:%S', 'now'),
      coalesce(nullif(:stale_after_hours, ''), {_H.DEFAULT_STALE_AFTER_HOURS}), c.started_at) AS judgement
  FROM (SELECT source FROM sources UNION SELECT source FROM cut_short) s
  LEFT JOIN figures f ON f.source = s.source LEFT JOIN cut_short c ON c.source = s.source
),
verdicts AS (
  SELECT *, json_extract(judgement, '$.verdict') AS verdict FROM judged
)
SELECT source, verdict, interrupted_run_started,
  last_run, last_success, last_new_article, round(quiet_hours, 1) AS hours_without_new_article,
  new_24h, new_7d, last_requests, last_responses,
  round(100.0 * window_failed / nullif(window_requests, 0)) AS failed_pct_last_{_H.FAILING_WINDOW_RUNS}_runs,
  last_fetched, last_extraction_failures, last_found, round(usual_found, 1) AS usual_found,
  last_errors, coalesce(runs, 0) AS runs
FROM verdicts
ORDER BY CASE verdict WHEN 'failing' THEN 0 WHEN 'stale' THEN 1 WHEN 'interrupted' THEN 2
                      WHEN 'degraded' THEN 3 ELSE 4 END, source
"""

# an article's page (tipwatch/datasette/plugins/tipwatch_verdict.py): why it was (not) flagged
ARTICLE_VERDICT = """
SELECT c.flagged, c.score, c.reason, c.rules, c.matched_terms, c.subtopics, c.countries, c.probability,
       c.model_version, c.profile_version, c.classified_at, c.snippet, l.label AS analyst_label, l.note AS analyst_note
FROM classifications c LEFT JOIN labels l ON l.article_id = c.article_id
WHERE c.article_id = ?
"""

CRAWL_HISTORY = f"""
SELECT r.id AS run_id, r.started_at, r.finished_at, r.status,
       round((julianday(r.finished_at) - julianday(r.started_at)) * 86400) AS seconds,
       group_concat(s.source, ', ') AS sources, sum(s.requests) AS requests, sum(s.responses) AS responses,
       sum(s.articles_found) AS found, sum(s.articles_fetched) AS fetched, sum(s.articles_stored) AS stored,
       sum(s.articles_flagged) AS flagged, sum(s.skipped_known) AS already_known, sum(s.skipped_old) AS too_old,
       sum(s.not_modified) AS not_modified, sum(s.extraction_failures) AS extraction_failures,
       sum(s.errors) AS errors,
       (SELECT group_concat(kind || ': ' || n, ', ') FROM
          (SELECT e.kind, count(*) AS n FROM crawl_errors e
           WHERE e.run_id = r.id AND (:source = '' OR e.source = :source) GROUP BY e.kind)) AS errors_by_kind
FROM crawl_runs r LEFT JOIN crawl_source_stats s ON s.run_id = r.id AND (:source = '' OR s.source = :source)
GROUP BY r.id
HAVING :source = '' OR count(s.source) > 0
ORDER BY r.id DESC
LIMIT {PAGE_ROWS}
"""

DIGESTS_SENT = """
WITH recent AS (  -- a quarter: each digest costs a source look-up per article
  SELECT * FROM digests ORDER BY day DESC LIMIT 92
),
items AS (
  SELECT r.id AS digest_id, di.article_id, coalesce(di.story_key, 's' || di.article_id) AS story,
         (SELECT source FROM articles WHERE id = di.article_id) AS source
  FROM recent r JOIN digest_items di ON di.digest_id = r.id
),
delivered AS (  -- per digest: "email: 12 delivered; slack: 2 pending"
  SELECT digest_id, group_concat(channel || ': ' || n || ' ' || state, '; ') AS deliveries
  FROM (SELECT i.digest_id, v.channel, v.state, count(*) AS n
        FROM items i JOIN deliveries v ON v.article_id = i.article_id
        GROUP BY i.digest_id, v.channel, v.state ORDER BY v.channel, v.state)
  GROUP BY digest_id
)
SELECT r.day, r.item_count AS articles, count(DISTINCT i.story) AS stories,
       group_concat(DISTINCT i.source) AS sources, coalesce(dl.deliveries, 'not sent') AS deliveries,
       r.path, r.created_at, r.id AS digest_id
FROM recent r
LEFT JOIN items i ON i.digest_id = r.id
LEFT JOIN delivered dl ON dl.digest_id = r.id
GROUP BY r.id
ORDER BY r.day DESC
"""

DIGEST_CONTENTS = """
SELECT d.day, di.position + 1 AS position, coalesce(di.story_key, 's' || di.article_id) AS story,
       di.follow_up_of IS NOT NULL AS follow_up, coalesce(a.published, a.fetched_at) AS published,
       a.title, a.source, a.language, c.matched_terms, c.snippet,
       (SELECT group_concat(channel || ': ' || state, ', ') FROM deliveries v
        WHERE v.article_id = a.id) AS deliveries,
       a.url, a.id AS article_id
FROM digests d
JOIN digest_items di ON di.digest_id = d.id
JOIN articles a ON a.id = di.article_id
LEFT JOIN classifications c ON c.article_id = a.id
WHERE d.day = coalesce(nullif(:day, ''), (SELECT max(day) FROM digests))
ORDER BY di.position
"""

AWAITING_LABEL = f"""
SELECT c.probability, c.flagged, c.score, c.reason, c.model_version,
       coalesce(a.published, a.fetched_at) AS published, a.title, a.source, a.language,
       c.matched_terms, c.snippet, a.url, a.id AS article_id
FROM articles a
LEFT JOIN classifications c ON c.article_id = a.id
LEFT JOIN labels l ON l.article_id = a.id
WHERE l.article_id IS NULL AND {_recent(_cutoff('days', 30))}
ORDER BY c.probability IS NULL, abs(c.probability - 0.5), coalesce(a.published, a.fetched_at) DESC, a.id DESC
LIMIT {PAGE_ROWS // 2}
"""

# -- an English search that also finds Vietnamese articles, through a vi → en glossary (the
# shipped one: seeds/glossary/vi-en.toml, found by the caller's configuration)

def glossary_pairs(path: Path) -> list[tuple[str, str]]:
    """(english, vietnamese) pairs of the glossary (see its header for the format)."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("term", [])
    return [(english.strip().lower(), entry["vi"].strip()) for entry in entries for english in entry.get("en", [])]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _phrase(column: str) -> str:
    """An FTS5 phrase of a column's text (its double quotes doubled)."""
    return f"""'"' || replace({column}, '"', '""') || '"'"""


# The query as typed (FTS syntax: prefix*, "phrase", OR) OR each Vietnamese term whose English
# equivalent names the query's words or is named by them; newest stored first (FTS5 walks its
# rowids backwards, so a common word costs no sort of every match), 100 at most.
def search_both_languages(glossary_file: Path) -> str:
    """The search query with the glossary's pairs written into it."""
    pairs = ", ".join(f"({_sql_text(en)}, {_sql_text(vi)})" for en, vi in glossary_pairs(glossary_file))
    return _SEARCH_BOTH_LANGUAGES.replace("{GLOSSARY}", pairs)


_SEARCH_BOTH_LANGUAGES = f"""
WITH glossary (en, vi) AS (VALUES {{GLOSSARY}}),
q AS (SELECT trim(lower(:q)) AS words),
glossed AS (SELECT DISTINCT g.vi FROM glossary g, q
             WHERE q.words != '' AND (instr(g.en, q.words) > 0 OR instr(q.words, g.en) > 0)),
expression AS (
  SELECT CASE WHEN q.words = '' THEN '""'
              ELSE '(' || :q || ')' || coalesce((SELECT group_concat(' OR ' || {_phrase('vi')}, '') FROM glossed), '')
         END AS match
  FROM q
),
hits AS (SELECT rowid AS id FROM articles_fts WHERE articles_fts MATCH (SELECT match FROM expression)
         ORDER BY rowid DESC LIMIT 100)
SELECT coalesce(a.published, a.fetched_at) AS published, a.title, a.source, a.language, c.flagged,
       c.matched_terms, c.snippet, (SELECT group_concat(vi, ' · ') FROM glossed) AS vietnamese_terms_searched,
       a.url, a.id AS article_id
FROM hits h JOIN articles a ON a.id = h.id LEFT JOIN classifications c ON c.article_id = a.id
ORDER BY coalesce(a.published, a.fetched_at) DESC, a.id DESC
"""

# -- places on a map and counts over time (article_places: pipeline/enrich/places.py via pipeline/enrich/__init__.py)

def _flagged_since(cutoff: str, newest: str = "") -> str:
    """A CTE `flagged` of (id, at): the flagged articles published since `cutoff` (undated ones:
    fetched since), only the `newest` (an SQL expression) when given. Two ranges of the covering
    index on article_overview (flagged, published), merged newest first: only the flagged articles
    of the window are read, not every article of it (5 % are flagged, and a year of a
    million-article database is half a million rows), and with `newest` only as many of them."""
    bound = f"\n  ORDER BY at DESC LIMIT {newest}" if newest else ""
    return f"""flagged AS (
  SELECT id, published AS at FROM article_overview WHERE flagged = 1 AND published >= {cutoff}
  UNION ALL
  SELECT id, fetched_at FROM article_overview WHERE flagged = 1 AND published IS NULL AND fetched_at >= {cutoff}{bound}
)"""


_MAP_PLACES = f"coalesce(nullif(:places, ''), {MAP_PLACES})"

# the newest flagged articles first (as many as pins wanted: each names a place or more), then their places
PLACES_MAP = f"""
WITH {_flagged_since(_cutoff('days', 365), newest=_MAP_PLACES)}
SELECT p.place, p.country, p.kind, p.now_in, p.lat AS latitude, p.lon AS longitude,
       f.at AS published, a.title, a.source, a.language,
       (SELECT g.gist FROM article_gists g WHERE g.article_id = f.id) AS gist, a.url, f.id AS article_id
FROM flagged f JOIN article_places p ON p.article_id = f.id JOIN articles a ON a.id = f.id
WHERE p.kind != 'country'
ORDER BY f.at DESC, f.id DESC, p.first_at
LIMIT {_MAP_PLACES}
"""

# the Monday of the article's week ('weekday 0' is the next Sunday, or the day itself)
_WEEK = "date(substr(f.at, 1, 10), 'weekday 0', '-6 days')"

FLAGGED_PER_WEEK_BY_COUNTRY = f"""
WITH {_flagged_since(_cutoff('days', 182))}
SELECT {_WEEK} AS week, p.country, count(DISTINCT f.id) AS articles
FROM flagged f JOIN article_places p ON p.article_id = f.id
GROUP BY week, p.country
ORDER BY week, articles DESC
"""

FLAGGED_PER_WEEK_BY_SUBTOPIC = f"""
WITH {_flagged_since(_cutoff('days', 182))}
SELECT {_WEEK} AS week, coalesce(t.value, '(none)') AS subtopic, count(DISTINCT f.id) AS articles
FROM flagged f JOIN classifications c ON c.article_id = f.id
LEFT JOIN json_each(CASE WHEN c.subtopics IN ('', '[]') THEN NULL ELSE c.subtopics END) t
GROUP BY week, subtopic
ORDER BY week, articles DESC
"""

# datasette-vega draws a query's rows from the settings in the link's fragment
def _vega(color: str) -> str:
    return (f"#g.mark=bar&g.x_column=week&g.x_type=ordinal&g.y_column=articles&g.y_type=quantitative"
            f"&g.color_column={color}&g.color_type=nominal")


# the search's SQL depends on the glossary: canned_queries() writes it in
_CANNED_QUERIES: dict[str, dict] = {
    "flagged_last_7_days": {
        "title": "Flagged in the last 7 days",
        "description": "Articles the classifier flagged, published (or, undated, fetched) in the last "
                       f"7 days, newest first ({PAGE_ROWS} at most: the Articles page lists every one), with "
                       "the matched terms and the snippet. `days` widens the window (empty: 7). The Atom feed "
                       "of flagged articles is the flagged_feed query.",
        "sql": FLAGGED_LAST_DAYS, "params": ["days"],
    },
    "flagged_feed": {
        "title": "Flagged articles as an Atom feed",
        "description": "The 50 newest flagged articles in the columns datasette-atom needs: subscribe "
                       "to this query's .atom link in a feed reader.",
        "sql": FLAGGED_FEED, "params": [],
    },
    "stories": {
        "title": "Stories",
        "description": "Articles sent in digests grouped by story (the same event reported by several "
                       f"outlets or languages, and its follow-ups), latest story first ({PAGE_ROWS // 2} stories at "
                       "most). `story` shows one story (e.g. s12); `days` is how far back stories were last sent "
                       "(empty: 30).",
        "sql": STORIES, "params": ["story", "days"],
    },
    "source_health": {
        "title": "Source health",
        "description": "The latest verdict per source with crawl runs (failing, stale, interrupted, degraded, healthy: "
                       "the rules of `tipwatch status`) with the figures it rests on, worst first. New-article figures "
                       "come from the crawl runs' counts; `stale_after_hours` is the limit for every "
                       "source (empty: 48; `tipwatch status` uses each source's own). A run whose process died "
                       "counts as interrupted once the next crawl has marked it (`tipwatch status` sees it at once).",
        "sql": SOURCE_HEALTH, "params": ["stale_after_hours"],
    },
    "crawl_history": {
        "title": "Crawl history",
        "description": f"Every crawl run, newest first ({PAGE_ROWS} at most): its totals over its sources and its "
                       "errors by kind. `source` limits it to one source.",
        "sql": CRAWL_HISTORY, "params": ["source"],
    },
    "digests_sent": {
        "title": "Digests sent",
        "description": "The last 92 digests (about three months), newest first: how many articles and stories "
                       "it held, from which sources, and what each channel delivered (not sent: written to its "
                       "file only).",
        "sql": DIGESTS_SENT, "params": [],
    },
    "digest_contents": {
        "title": "What a digest contained",
        "description": "The articles of one digest in the order it listed them, with story and "
                       "delivery per channel. `day` picks the digest (empty: the latest).",
        "sql": DIGEST_CONTENTS, "params": ["day"],
    },
    "search_both_languages": {
        "title": "Search in English, find Vietnamese too",
        "description": "An English search (`q`, full-text syntax: traffick*, \"scam compounds\", OR) that also finds "
                       "Vietnamese articles through the glossary in seeds/glossary/vi-en.toml: \"rescue\" looks for "
                       "\"giải cứu\" too. The Vietnamese terms it added are listed beside each article; "
                       "the 100 newest matches.",
        "sql": None, "params": ["q"],
    },
    "places_map": {
        "title": "Map of flagged articles by place",
        "description": "Each place a flagged article names, on a map (gazetteer: seeds/places/gazetteer.csv), "
                       f"published in the last `days` days (empty: 365); the newest `places` of them (empty: "
                       f"{MAP_PLACES}; more make a slower page). A country named "
                       "without a place is not pinned. Click a cluster to zoom, a pin for the article.",
        "sql": PLACES_MAP, "params": ["days", "places"],
    },
    "flagged_per_week_by_country": {
        "title": "Flagged articles per week, by country",
        "description": "Flagged articles per week (from Monday) and country of the places they name, as a "
                       "stacked bar chart, over the last `days` days (empty: 182). An article naming two "
                       "countries counts in both.",
        "sql": FLAGGED_PER_WEEK_BY_COUNTRY, "params": ["days"], "front_link": _vega("country"),
    },
    "flagged_per_week_by_subtopic": {
        "title": "Flagged articles per week, by subtopic",
        "description": "Flagged articles per week (from Monday) and subtopic, as a stacked bar chart, over the "
                       "last `days` days (empty: 182). An article with two subtopics counts in both.",
        "sql": FLAGGED_PER_WEEK_BY_SUBTOPIC, "params": ["days"], "front_link": _vega("subtopic"),
    },
    "awaiting_label": {
        "title": "Awaiting an analyst's label",
        "description": "Articles no analyst has labelled yet, the model's most uncertain first "
                       "(probability nearest 0.5; unscored ones last), then newest; published in the "
                       f"last `days` days (empty: 30), {PAGE_ROWS // 2} at most.",
        "sql": AWAITING_LABEL, "params": ["days"],
    },
}


def canned_queries(glossary_file: Path) -> dict[str, dict]:
    """Every canned query (name → title, description, sql, params), the English search reading
    the glossary at `glossary_file`."""
    queries = {name: dict(query) for name, query in _CANNED_QUERIES.items()}
    queries["search_both_languages"]["sql"] = search_both_languages(glossary_file)
    return queries


def default_params(name: str) -> dict[str, str]:
    """The parameters of a canned query as Datasette binds an empty form: each takes its default."""
    return {param: "" for param in _CANNED_QUERIES[name]["params"]}
