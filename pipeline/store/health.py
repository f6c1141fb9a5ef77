"""Source health: is each source failing, stale, degraded or healthy, and why.

The decisions are pure functions over plain data (a source's recent crawl runs as
dicts, the time of its latest stored article, the current time), so they are tested
with crafted histories and no database. `source_health` is the thin glue that reads
the records from `pipeline.store` and feeds them to `verdict`.

Precedence: failing > stale > interrupted > degraded > healthy; "unknown" when a source has
no run. Every triggered condition is listed in `reasons` (worst first); `since` belongs to the
verdict shown.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

# -- failing: most requests fail
FAILING_WINDOW_RUNS = 3       # look at the requests of the last 3 runs together
FAILING_SHARE = 0.5           # failing when more than half of them got no 2xx/3xx answer
                              # (and the latest run itself is that bad: a recovered source is not failing)

# -- stale: no new article for too long
DEFAULT_STALE_AFTER_HOURS = 48  # per source: `stale_after_hours` in the sources file

# -- degraded: extraction failures rising
EXTRACTION_FAIL_SHARE = 0.3   # failed extractions / fetched pages in the latest run(s) above 30 % ...
EXTRACTION_RISE_FACTOR = 2.0  # ... and above twice the share of the earlier runs

# -- degraded: far fewer articles found than usual
DROP_SHARE = 0.25             # latest articles_found below 25 % of the mean of the earlier runs ...
DROP_MIN_RUNS = 4             # ... judged only with at least 4 runs (the latest and 3 earlier) ...
DROP_MIN_MEAN = 4.0           # ... and an earlier mean of at least 4 articles (small numbers are noise)

# -- `tipwatch status` figures
ERROR_RATE_RUNS = 5           # error rate over the last 5 runs
HISTORY_RUNS = 10             # runs read per source

VERDICTS = ("failing", "stale", "interrupted", "degraded", "healthy", "unknown")


def parse_time(value: str) -> datetime:
    """An ISO timestamp as an aware datetime (naive ones are UTC, as tipwatch writes them)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ok_responses(run: dict) -> int:
    """Responses that count as an answer: 2xx and 3xx (a 304 is a good answer)."""
    counts = run.get("status_counts") or {}
    return int(counts.get("2xx", 0)) + int(counts.get("3xx", 0))


def failed_requests(run: dict) -> int:
    """Requests without a 2xx/3xx answer; a run with no response at all failed entirely."""
    requests = int(run.get("requests") or 0)
    if not run.get("responses"):
        return requests
    return max(requests - ok_responses(run), 0)


def _share(run: dict) -> float:
    requests = int(run.get("requests") or 0)
    return failed_requests(run) / requests if requests else 0.0


def _runs(n: int) -> str:
    return "the last run" if n == 1 else f"the last {n} runs"


def _percent(share: float) -> str:
    return f"{share:.0%}"


def _duration(hours: float) -> str:
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _failing(history: list[dict]) -> tuple[str, str] | None:
    window = history[:FAILING_WINDOW_RUNS]
    requests = sum(int(r.get("requests") or 0) for r in window)
    failed = sum(failed_requests(r) for r in window)
    if not requests or failed / requests <= FAILING_SHARE or _share(history[0]) <= FAILING_SHARE:
        return None
    streak = 0
    while streak < len(history) and _share(history[streak]) > FAILING_SHARE:
        streak += 1
    if not any(r.get("responses") for r in window):
        reason = f"no response to any of {requests} requests in {_runs(len(window))}"
    else:
        reason = f"{failed} of {requests} requests failed in {_runs(len(window))}"
    return reason, history[streak - 1]["started_at"]


def _stale(history: list[dict], last_article_at: str | None, now: datetime,
           stale_after_hours: float) -> tuple[str, str] | None:
    quiet_since = last_article_at or history[-1]["started_at"]
    hours = (now - parse_time(quiet_since)).total_seconds() / 3600
    if hours <= stale_after_hours:
        return None
    limit = f"usual limit {stale_after_hours:g} h"
    if last_article_at:
        return f"no new article for {_duration(hours)} ({limit})", quiet_since
    return f"no article stored in {_duration(hours)} of runs ({limit})", quiet_since


def _extraction(history: list[dict]) -> tuple[str, str] | None:
    fetched_runs = [r for r in history if r.get("articles_fetched")]  # a run that fetched nothing says nothing

    def share(runs):
        fetched = sum(int(r["articles_fetched"]) for r in runs)
        return sum(int(r.get("extraction_failures") or 0) for r in runs) / fetched if fetched else 0.0

    streak = 0
    while streak < len(fetched_runs) and share(fetched_runs[streak:streak + 1]) > EXTRACTION_FAIL_SHARE:
        streak += 1
    if not streak:
        return None
    recent, earlier = fetched_runs[:streak], fetched_runs[streak:]
    now_share, before = share(recent), share(earlier)
    if now_share <= EXTRACTION_RISE_FACTOR * before:
        return None
    failures = sum(int(r.get("extraction_failures") or 0) for r in recent)
    fetched = sum(int(r["articles_fetched"]) for r in recent)
    before_text = f"before: {_percent(before)}" if earlier else "no earlier run to compare"
    return (f"extraction failed on {failures} of {fetched} pages in {_runs(streak)} ({before_text})",
            recent[-1]["started_at"])


def _drop(history: list[dict]) -> tuple[str, str] | None:
    if len(history) < DROP_MIN_RUNS or _share(history[0]) > FAILING_SHARE:
        return None  # too little history; or a run whose requests failed, which finds nothing anyway
    earlier = history[1:]
    mean = sum(int(r.get("articles_found") or 0) for r in earlier) / len(earlier)
    if mean < DROP_MIN_MEAN:
        return None
    limit = DROP_SHARE * mean
    latest = int(history[0].get("articles_found") or 0)
    if latest >= limit:
        return None
    streak = 0
    while streak < len(history) and int(history[streak].get("articles_found") or 0) < limit:
        streak += 1
    return (f"{latest} articles found in the last run (usual: {mean:.0f})", history[streak - 1]["started_at"])


def _interrupted(cut_short: dict | None) -> tuple[str, str] | None:
    if not cut_short:
        return None
    return "the last run was interrupted: its process died before it finished", cut_short["started_at"]


def verdict(history: list[dict], last_article_at: str | None, now: datetime, *,
            stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS, cut_short: dict | None = None) -> dict:
    """The health of one source from its last runs (newest first) and the `stored_at` of its
    latest article: {"verdict", "reasons", "since"}. `cut_short` is its newest run when that one
    died before recording anything (`{"started_at": ...}`): the history then ends before it."""
    if not history and not cut_short:
        return {"verdict": "unknown", "reasons": ["no crawl run yet"], "since": None}
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rules = [("interrupted", lambda: _interrupted(cut_short))]
    if history:  # worst first
        rules = [("failing", lambda: _failing(history)),
                 ("stale", lambda: _stale(history, last_article_at, now, stale_after_hours)),
                 *rules,
                 ("degraded", lambda: _extraction(history)),
                 ("degraded", lambda: _drop(history))]
    found = [(name, *outcome) for name, rule in rules if (outcome := rule())]
    if not found:
        return {"verdict": "healthy", "reasons": [], "since": None}
    return {"verdict": found[0][0], "reasons": [reason for _, reason, _ in found], "since": found[0][2]}


# ---------------------------------------------------------------- the same rules, called from SQL

# The browse query `source_health` (browse.py) gathers each source's runs in SQL and asks this
# function for the verdict, so Datasette and `tipwatch status` judge by these rules alone.
SQL_VERDICT_FUNCTION = "tipwatch_source_verdict"


def verdict_json(history_json: str | None, last_article_at: str | None, now_iso: str,
                 stale_after_hours, cut_short_started: str | None) -> str:
    """`verdict` for SQL: the runs as a JSON array of objects (each with its place `n`, 1 the
    newest), the time of the source's newest article, the current time (ISO, naive is UTC), the
    staleness limit and the start of a run cut short (or NULL); the result as JSON."""
    history = sorted(json.loads(history_json or "[]"), key=lambda run: run["n"])
    result = verdict(history, last_article_at, parse_time(now_iso), stale_after_hours=float(stale_after_hours),
                     cut_short={"started_at": cut_short_started} if cut_short_started else None)
    return json.dumps(result, ensure_ascii=False)


def register_sql_functions(conn) -> None:
    """Make the verdict callable from SQL on this sqlite3 connection (store.open_db and `tipwatch
    serve`'s connections call it)."""
    conn.create_function(SQL_VERDICT_FUNCTION, 5, verdict_json, deterministic=True)


def error_rate(history: list[dict], runs: int = ERROR_RATE_RUNS) -> float | None:
    """Failed requests / requests over the last `runs` runs; None when nothing was requested."""
    window = history[:runs]
    requests = sum(int(r.get("requests") or 0) for r in window)
    return sum(failed_requests(r) for r in window) / requests if requests else None


# ---------------------------------------------------------------- glue: records → verdicts

def source_health(db, sources: list | None, now: datetime | None = None) -> list[dict]:
    """One row per source (the sources file's, in its order, then any other source with crawl
    runs in the database): source, verdict, reasons, since, last_run_status, last_success,
    articles_24h, articles_7d, error_rate, runs."""
    from pipeline import store

    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    limits = {s.name: getattr(s, "stale_after_hours", DEFAULT_STALE_AFTER_HOURS) for s in sources or ()}
    names = list(limits) + sorted(set(store.sources_with_runs(db)) - set(limits))
    day_ago = (now - timedelta(hours=24)).replace(microsecond=0).isoformat()
    week_ago = (now - timedelta(days=7)).replace(microsecond=0).isoformat()
    rows = []
    for name in names:
        history = store.source_history(db, name, limit=HISTORY_RUNS)
        last_run = newest_run(db, name, history)
        result = verdict(history, store.last_article_at(db, name), now,
                         stale_after_hours=limits.get(name, DEFAULT_STALE_AFTER_HOURS),
                         cut_short=last_run if last_run and last_run["status"] == "interrupted" else None)
        rows.append({
            "source": name, **result,
            "last_run_status": last_run and last_run["status"],
            "last_success": store.last_success_at(db, name),
            "articles_24h": store.article_counts(db, name, day_ago),
            "articles_7d": store.article_counts(db, name, week_ago),
            "error_rate": error_rate(history),
            "runs": len(history),
        })
    return rows


def newest_run(db, source: str, history: list[dict]) -> dict | None:
    """The source's newest run: {"started_at", "status"}, None before its first. A run left
    'running' by a process that died is 'interrupted' here even before the next run marks it."""
    from pipeline import store

    run = store.unrecorded_run(db, source)
    if run is None:
        return {"started_at": history[0]["started_at"], "status": history[0]["status"]} if history else None
    if run["status"] == "running" and store.run_process_dead(run["started_at"], run["pid"], run["host"]):
        run["status"] = "interrupted"
    return {"started_at": run["started_at"], "status": run["status"]}


# ---------------------------------------------------------------- presentation

def _minute(iso: str | None) -> str:
    return iso[:16] if iso else "never"


def describe(row: dict) -> str:
    """The reasons of a row in one phrase, with since when: "a; b (since 2026-11-20T04:00)"."""
    text = "; ".join(row["reasons"])
    if row.get("since"):
        text += f" (since {_minute(row['since'])})"
    return text


STATUS_COLUMNS = ("source", "verdict", "last success", "24h", "7d", "errors", "reasons")


def status_table(rows: list[dict]) -> list[str]:
    """`tipwatch status` as fixed-width lines: a header, then one line per source."""
    cells = [STATUS_COLUMNS]
    for row in rows:
        rate = row["error_rate"]
        cells.append((row["source"], row["verdict"], _minute(row["last_success"]), str(row["articles_24h"]),
                       str(row["articles_7d"]), "-" if rate is None else f"{rate:.0%}",
                       "" if row["verdict"] == "healthy" else describe(row)))
    widths = [max(len(line[i]) for line in cells) for i in range(len(STATUS_COLUMNS) - 1)]
    return ["  ".join([*(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)), line[-1]]).rstrip()
            for line in cells]
