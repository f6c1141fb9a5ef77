"""Source health verdicts from crafted crawl histories, and `tipwatch status` on a real database."""
import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline import store
from pipeline.sources import SourcesError, parse_sources
from pipeline.store.health import error_rate, verdict

from conftest import article, tipwatch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RECENT = (NOW - timedelta(hours=1)).isoformat()


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).isoformat()


def run(n: int, *, requests=10, ok=None, responses=None, found=20, fetched=10, failures=0) -> dict:
    """The stats of run number n (runs are 3 hours apart, run 0 is the newest)."""
    ok = requests if ok is None else ok
    responses = requests if responses is None else responses
    counts = {"2xx": ok, "5xx": responses - ok} if responses else {}
    return {"run_id": 100 - n, "started_at": at(3 * n + 1), "requests": requests, "responses": responses,
            "articles_found": found, "articles_fetched": fetched, "articles_stored": 2,
            "extraction_failures": failures, "errors": requests - ok, "status_counts": counts}


def history(*runs: dict, healthy_before: int = 0) -> list[dict]:
    """`runs` newest first, then `healthy_before` healthy runs before them."""
    return [*runs, *(run(len(runs) + i) for i in range(healthy_before))]


def judge(runs, last_article_at=RECENT, **kwargs):
    return verdict(runs, last_article_at, NOW, stale_after_hours=kwargs.pop("stale_after_hours", 48), **kwargs)


# ---------------------------------------------------------------- healthy, unknown

def test_no_runs_is_unknown():
    assert judge([]) == {"verdict": "unknown", "reasons": ["no crawl run yet"], "since": None}


def test_a_steady_source_is_healthy():
    assert judge(history(healthy_before=8)) == {"verdict": "healthy", "reasons": [], "since": None}


# ---------------------------------------------------------------- failing

def test_a_source_that_starts_failing_is_failing_since_its_first_failing_run():
    runs = history(run(0, ok=1), run(1, ok=0), run(2, ok=1), healthy_before=5)
    assert judge(runs) == {"verdict": "failing", "reasons": ["28 of 30 requests failed in the last 3 runs"],
                           "since": runs[2]["started_at"]}


def test_failing_needs_more_than_half_of_the_requests_failed():
    assert judge(history(*(run(i, ok=5) for i in range(3)), healthy_before=3))["verdict"] == "healthy"  # 15 of 30
    just_over = history(run(0, ok=4), run(1, ok=5), run(2, ok=5), healthy_before=3)  # 16 of 30
    assert judge(just_over)["verdict"] == "failing"
    assert judge(just_over)["reasons"] == ["16 of 30 requests failed in the last 3 runs"]


def test_one_bad_run_is_not_failing_and_two_are():
    assert judge(history(run(0, ok=0), healthy_before=5))["verdict"] == "healthy"  # 10 of 30
    runs = history(run(0, ok=0), run(1, ok=0), healthy_before=5)  # 20 of 30
    assert judge(runs)["verdict"] == "failing" and judge(runs)["since"] == runs[1]["started_at"]


def test_a_source_that_recovered_is_not_failing():
    assert judge(history(run(0), run(1, ok=0), run(2, ok=0), healthy_before=3))["verdict"] == "healthy"


def test_an_unreachable_source_says_no_response():
    runs = [run(i, requests=2, responses=0, found=0, fetched=0) for i in range(2)]
    assert judge(runs) == {"verdict": "failing", "reasons": ["no response to any of 4 requests in the last 2 runs"],
                           "since": runs[1]["started_at"]}


def test_a_304_is_an_answer():
    runs = history(*({**run(i, ok=0), "status_counts": {"3xx": 10}} for i in range(3)))
    assert judge(runs)["verdict"] == "healthy"


# ---------------------------------------------------------------- stale

def test_a_source_that_goes_silent_is_stale_since_its_last_article():
    runs = history(healthy_before=8)
    assert judge(runs, at(60)) == {"verdict": "stale",
                                   "reasons": ["no new article for 2.5 days (usual limit 48 h)"],
                                   "since": at(60)}
    assert judge(runs, at(47.9))["verdict"] == "healthy"
    assert judge(runs, at(48.1))["verdict"] == "stale"
    assert judge(runs, at(24.5), stale_after_hours=24)["reasons"] == ["no new article for 24 h (usual limit 24 h)"]


def test_the_limit_is_per_source():
    assert judge(history(healthy_before=3), at(60), stale_after_hours=72)["verdict"] == "healthy"
    assert judge(history(healthy_before=3), at(73), stale_after_hours=72)["verdict"] == "stale"


def test_a_source_that_never_stored_anything_is_stale_since_its_first_run():
    runs = [run(i, found=0, fetched=0) for i in range(17)]  # the first run 49 hours ago
    assert judge(runs, None) == {"verdict": "stale",
                                 "reasons": ["no article stored in 2.0 days of runs (usual limit 48 h)"],
                                 "since": runs[-1]["started_at"]}
    assert judge(runs[:15], None)["verdict"] == "healthy"  # the first run 43 hours ago


# ---------------------------------------------------------------- degraded: extraction

def test_a_source_whose_extraction_breaks_is_degraded():
    runs = history(run(0, failures=8), healthy_before=5)
    assert judge(runs) == {"verdict": "degraded",
                           "reasons": ["extraction failed on 8 of 10 pages in the last run (before: 0%)"],
                           "since": runs[0]["started_at"]}


def test_extraction_failures_must_pass_30_percent():
    assert judge(history(run(0, failures=3), healthy_before=5))["verdict"] == "healthy"
    assert judge(history(run(0, failures=4), healthy_before=5))["verdict"] == "degraded"


def test_extraction_failures_must_double_the_earlier_share():
    earlier = [run(i, failures=2) for i in range(1, 5)]  # 20 % before
    assert judge([run(0, failures=4), *earlier])["verdict"] == "healthy"  # 40 %: not above twice 20 %
    result = judge([run(0, failures=5), *earlier])
    assert result["verdict"] == "degraded"
    assert result["reasons"] == ["extraction failed on 5 of 10 pages in the last run (before: 20%)"]


def test_extraction_streak_and_runs_that_fetched_nothing():
    runs = history(run(0, fetched=0), run(1, failures=6), run(2, failures=7), healthy_before=4)
    result = judge(runs)
    assert result["reasons"] == ["extraction failed on 13 of 20 pages in the last 2 runs (before: 0%)"]
    assert result["since"] == runs[2]["started_at"]


# ---------------------------------------------------------------- degraded: fewer articles found

def test_articles_found_dropping_far_below_average_is_degraded():
    runs = [run(0, found=2), *(run(i, found=f) for i, f in enumerate((18, 22, 20, 21, 19), start=1))]
    assert judge(runs) == {"verdict": "degraded", "reasons": ["2 articles found in the last run (usual: 20)"],
                           "since": runs[0]["started_at"]}


def test_the_drop_must_be_below_a_quarter_of_the_average():
    earlier = [run(i, found=20) for i in range(1, 5)]
    assert judge([run(0, found=5), *earlier])["verdict"] == "healthy"  # exactly 25 %
    assert judge([run(0, found=4), *earlier])["verdict"] == "degraded"


def test_the_drop_needs_enough_history_and_enough_articles():
    assert judge([run(0, found=0), run(1, found=20), run(2, found=20)])["verdict"] == "healthy"  # 3 runs
    assert judge([run(0, found=0), *(run(i, found=20) for i in range(1, 4))])["verdict"] == "degraded"  # 4
    assert judge([run(0, found=0), *(run(i, found=f) for i, f in enumerate((4, 4, 4, 3), 1))])["verdict"] == "healthy"
    assert judge([run(0, found=0), *(run(i, found=4) for i in range(1, 5))])["verdict"] == "degraded"


# ---------------------------------------------------------------- precedence, error rate

def test_failing_comes_before_stale_and_every_reason_is_kept():
    runs = history(*(run(i, ok=0, found=0, fetched=0) for i in range(3)), healthy_before=3)
    result = judge(runs, at(60))
    assert result["verdict"] == "failing" and result["since"] == runs[2]["started_at"]
    assert result["reasons"] == ["30 of 30 requests failed in the last 3 runs",
                                 "no new article for 2.5 days (usual limit 48 h)"]


def test_stale_comes_before_degraded():
    result = judge(history(run(0, failures=9), healthy_before=4), at(50))
    assert result["verdict"] == "stale" and result["since"] == at(50) and len(result["reasons"]) == 2


INTERRUPTED = "the last run was interrupted: its process died before it finished"


def test_a_last_run_that_died_is_interrupted_not_healthy():
    cut_short = {"started_at": at(0.5)}
    assert judge(history(healthy_before=6), cut_short=cut_short) == {
        "verdict": "interrupted", "reasons": [INTERRUPTED], "since": at(0.5)}
    assert judge([], cut_short=cut_short) == {"verdict": "interrupted", "reasons": [INTERRUPTED], "since": at(0.5)}


def test_interrupted_comes_after_failing_and_stale_before_degraded():
    cut_short = {"started_at": at(0.5)}
    failing = judge(history(*(run(i, ok=0) for i in range(3)), healthy_before=3), cut_short=cut_short)
    assert failing["verdict"] == "failing" and failing["reasons"][1:] == [INTERRUPTED]
    stale = judge(history(healthy_before=4), at(50), cut_short=cut_short)
    assert stale["verdict"] == "stale" and stale["reasons"][1:] == [INTERRUPTED]
    garbled = judge(history(run(0, failures=9), healthy_before=4), cut_short=cut_short)
    assert garbled["verdict"] == "interrupted" and garbled["reasons"][0] == INTERRUPTED and len(garbled["reasons"]) == 2


def test_error_rate_over_the_last_five_runs():
    runs = [run(0, ok=5), run(1, responses=0), *(run(i) for i in range(2, 8))]
    assert error_rate(runs) == 15 / 50
    assert error_rate([]) is None


# ---------------------------------------------------------------- the sources file

GOOD = ('[[source]]\nname = "vns"\ntitle = "VNS"\nlanguage = "en"\nfeeds = ["https://vietnamnews.vn/rss"]\n'
        'article_pattern = "x"\n')


@pytest.mark.parametrize("value, hours", [(None, 48.0), ("72", 72.0), ("1.5", 1.5)])
def test_stale_after_hours_is_an_optional_number(value, hours):
    (src,) = parse_sources(GOOD + (f"stale_after_hours = {value}\n" if value else ""))
    assert src.stale_after_hours == hours


@pytest.mark.parametrize("value, message", [
    ("0", "key 'stale_after_hours': must be > 0"),
    ("-1.0", "key 'stale_after_hours': must be > 0"),
    ("inf", "key 'stale_after_hours': must be > 0"),
    ("true", "key 'stale_after_hours': must be a number, got bool"),
    ('"48"', "key 'stale_after_hours': must be a number, got str"),
])
def test_bad_stale_after_hours(value, message):
    with pytest.raises(SourcesError) as info:
        parse_sources(GOOD + f"stale_after_hours = {value}\n")
    assert message in str(info.value)


# ---------------------------------------------------------------- tipwatch status on a real database

def test_status_prints_one_line_per_source(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    now = datetime.now(UTC).replace(microsecond=0)
    ago = lambda hours: (now - timedelta(hours=hours)).isoformat()  # noqa: E731
    starts = [ago(100), ago(30), ago(20), ago(10)]
    for number, started in enumerate(starts):
        run_id = store.start_run(db, ["alpha", "beta", "gamma"])
        store.save_source_stats(db, run_id, "alpha", {"requests": 5, "responses": 5, "articles_found": 3,
                                                      "articles_fetched": 1, "status_counts": {"2xx": 5}})
        if number == 0:
            beta = {"requests": 10, "responses": 10, "status_counts": {"2xx": 10}}
        else:  # unreachable from the second run on
            beta = {"requests": 4, "responses": 0, "errors": 4, "error_counts": {"connection": 4}}
        store.save_source_stats(db, run_id, "beta", beta)
        store.save_source_stats(db, run_id, "gamma", {"requests": 3, "responses": 3, "status_counts": {"2xx": 3}})
        store.finish_run(db, run_id, "finished")
        db.execute("UPDATE crawl_runs SET started_at = ? WHERE id = ?", [started, run_id])
    for n, stored in ((1, ago(60)), (2, ago(200))):
        article_id = store.save_article(db, article(n, source="alpha"))
        db.execute("UPDATE articles SET stored_at = ? WHERE id = ?", [stored, article_id])
    db.conn.commit()
    (tmp_path / "sources.toml").write_text(
        "".join(f'[[source]]\nname = "{name}"\ntitle = "{name}"\nlanguage = "en"\n'
                f'feeds = ["http://127.0.0.1:9/{name}/rss"]\narticle_pattern = "x"\n{extra}\n'
                for name, extra in (("alpha", "stale_after_hours = 72\n"), ("beta", ""), ("delta", ""))))
    args = ("status", "--db", tmp_path / "t.db", "--sources", tmp_path / "sources.toml")
    t0, t1, t3 = starts[0][:16], starts[1][:16], starts[3][:16]
    assert tipwatch(*args).stdout.splitlines() == [
        "source  verdict  last success      24h  7d  errors  reasons",
        f"alpha   healthy  {t3}  0    1   0%",
        f"beta    failing  {t0}  0    0   55%     no response to any of 12 requests in the last 3 runs;"
        f" no article stored in 4.2 days of runs (usual limit 48 h) (since {t1})",
        "delta   unknown  never             0    0   -       no crawl run yet",
        f"gamma   stale    {t3}  0    0   0%      no article stored in 4.2 days of runs (usual limit 48 h)"
        f" (since {t0})",
    ]
    rows = json.loads(tipwatch(*args, "--json").stdout)
    assert [(r["source"], r["verdict"], r["runs"]) for r in rows] == [
        ("alpha", "healthy", 4), ("beta", "failing", 4), ("delta", "unknown", 0), ("gamma", "stale", 4)]
    assert rows[1]["error_rate"] == 12 / 22 and rows[1]["last_success"] == starts[0]
    assert rows[0]["articles_7d"] == 1 and rows[0]["articles_24h"] == 0

    # a broken sources file: the sources with runs are still reported, with the default limit
    (tmp_path / "sources.toml").write_text("not toml [")
    lines = tipwatch(*args).stdout.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [["alpha", "stale"], ["beta", "failing"], ["gamma", "stale"]]


def test_status_and_the_browse_query_agree_on_interrupted_runs(tmp_path):
    from pipeline.store import browse
    from pipeline.store.health import source_health

    db = store.open_db(tmp_path / "t.db")
    stats = {"requests": 5, "responses": 5, "articles_found": 3, "articles_fetched": 1, "status_counts": {"2xx": 5}}

    def crawl(sources, status="finished"):
        run_id = store.start_run(db, sources)
        if status == "finished":
            for name in sources:
                store.save_source_stats(db, run_id, name, stats)
        with db.conn:  # what a killed run leaves, once the next run found its process gone
            db.execute("UPDATE crawl_runs SET status = ? WHERE id = ?", [status, run_id])

    crawl(["alpha", "beta", "gamma"])
    crawl(["alpha", "beta"], "interrupted")
    crawl(["beta"])                          # beta recovered; gamma was not in the interrupted run
    crawl(["delta"], "interrupted")          # delta never finished a run
    for n, name in enumerate(("alpha", "beta", "gamma")):
        store.save_article(db, article(n + 1, source=name))
    expected = {"alpha": "interrupted", "beta": "healthy", "gamma": "healthy", "delta": "interrupted"}
    rows = {row["source"]: row for row in source_health(db, None)}
    assert {name: row["verdict"] for name, row in rows.items()} == expected
    assert [rows[name]["last_run_status"] for name in ("alpha", "beta", "gamma", "delta")] == [
        "interrupted", "finished", "finished", "interrupted"]
    canned = {row["source"]: row for row in db.query(browse.SOURCE_HEALTH, browse.default_params("source_health"))}
    assert {name: row["verdict"] for name, row in canned.items()} == expected
    assert canned["delta"]["runs"] == 0 and canned["alpha"]["interrupted_run_started"] is not None
