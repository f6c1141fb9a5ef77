from datetime import UTC

from alerts.digest import md_escape, write_digest
from pipeline import store

from conftest import article, verdict


def flag(db, n, flagged=True, **extra):
    article_id = store.save_article(db, article(n, **extra))
    store.save_classification(db, article_id, verdict(flagged))
    return article_id


def test_digest_file_exact(db, tmp_path):
    flag(db, 3, title="Police rescue 12 from [scam] compound", source="vns", language="en")
    flag(db, 5, title="Triệt phá đường dây mua bán người", source="bcp", language="vi")
    flag(db, 4, flagged=False)
    path, data = write_digest(db, "2026-11-20", tmp_path)
    assert path == tmp_path / "2026-11-20.md"
    assert data["total"] == 2
    assert path.read_text(encoding="utf-8") == (
        "# tipwatch digest — 2026-11-20\n\n"
        "2 new flagged articles in 2 stories: bcp 1, vns 1.\n\n"
        "## 1. Triệt phá đường dây mua bán người\n\n"
        "- Source: bcp · Published: 2026-11-05 · Language: vi · Score: 5.0\n"
        "- Link: <https://news.test/society/5/story-5.html>\n"
        "- Matched: human trafficking\n"
        "- Countries: Viet Nam\n\n"
        "> … human trafficking …\n\n"
        "## 2. Police rescue 12 from \\[scam\\] compound\n\n"
        "- Source: vns · Published: 2026-11-03 · Language: en · Score: 5.0\n"
        "- Link: <https://news.test/society/3/story-3.html>\n"
        "- Matched: human trafficking\n"
        "- Countries: Viet Nam\n\n"
        "> … human trafficking …\n\n")


def test_same_day_rewrites_same_file_next_day_sends_nothing_twice(db, tmp_path):
    flag(db, 1)
    path, _ = write_digest(db, "2026-11-20", tmp_path)
    first = path.read_text()
    write_digest(db, "2026-11-20", tmp_path)
    assert path.read_text() == first
    assert db["digests"].count == 1 and db["digest_items"].count == 1
    late = flag(db, 2)
    _, same_day = write_digest(db, "2026-11-20", tmp_path)
    assert [i["id"] for i in same_day["items"]][0] == late and same_day["total"] == 2
    next_path, next_day = write_digest(db, "2026-11-21", tmp_path)
    assert next_day["total"] == 0
    assert "Nothing new was flagged" in next_path.read_text()


def test_article_text_cannot_inject_markdown():
    assert md_escape("[click](http://evil.test) <script>") == "\\[click\\](http://evil.test) \\<script\\>"
    assert md_escape("line\nbreak\n## heading") == "line break \\#\\# heading"


def test_footer_judges_health_by_the_sources_file_given(db, tmp_path):
    from datetime import datetime, timedelta

    from crawler.runstats import SourceStats

    from conftest import tipwatch

    stats = SourceStats()
    stats.bump("requests", 4)
    stats.bump("responses", 4)
    stats.status_counts["2xx"] = 4
    run_id = store.start_run(db, ["alpha"])
    store.save_source_stats(db, run_id, "alpha", stats.as_row())
    store.finish_run(db, run_id, "finished")
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0).isoformat()
    db["crawl_runs"].update(run_id, {"started_at": two_hours_ago})
    entry = ('[[source]]\nname = "alpha"\ntitle = "a"\nlanguage = "en"\nfeeds = ["https://a.test/rss"]\n'
             'article_pattern = "x"\nstale_after_hours = {}\n')
    footers = []
    for hours in (1, 48):
        (tmp_path / "sources.toml").write_text(entry.format(hours))
        tipwatch("digest", "--day", "2026-11-20", "--db", tmp_path / "tipwatch.db",
                 "--sources", tmp_path / "sources.toml", "--digests-dir", tmp_path / "digests")
        footers.append("Sources needing attention" in (tmp_path / "digests" / "2026-11-20.md").read_text())
    assert footers == [True, False]
