"""Progress of long work (tipwatch/progress.py) and the callbacks of the pipeline's long functions:
a bar on a terminal, log lines elsewhere; Ctrl-C keeps the work done."""
import io

from pipeline import store
from pipeline.topic.reclassify import reclassify
from tipwatch.progress import LineProgress, describe, progress

from conftest import article, verdict
from pages_helpers import PROFILE


def test_describe_says_done_total_rate_and_time_left():
    assert describe("reprocess", 200, 1000, 10.0) == "reprocess: 200/1000 (20%), 20.0/s, 40 s left"
    assert describe("reprocess", 1000, 1000, 10.0) == "reprocess: 1000/1000 (100%), 100.0/s"
    assert describe("train", 1, 4, 0.0) == "train: 1/4 (25%)"
    assert describe("classify", 10, 100000, 5.0).endswith("13 h 53 min left")


def test_off_a_terminal_one_line_per_n_items_and_one_at_the_end():
    out, now = io.StringIO(), [0.0]
    report = LineProgress("classify", out, every=100, clock=lambda: now[0])
    for done in range(1, 251):
        now[0] = done / 50
        report(done, 250)
    assert out.getvalue().splitlines() == ["classify: 100/250 (40%), 50.0/s, 3 s left",
                                           "classify: 200/250 (80%), 50.0/s, 1 s left",
                                           "classify: 250/250 (100%), 50.0/s"]


def test_a_pipe_gets_lines_and_a_terminal_a_bar():
    piped = io.StringIO()
    with progress("reprocess", stream=piped, every=2) as on_progress:
        for done in range(1, 4):
            on_progress(done, 3)
    assert piped.getvalue().splitlines()[0].startswith("reprocess: 2/3 (66%)")
    terminal = io.StringIO()
    with progress("reprocess", stream=terminal, interactive=True) as on_progress:
        for done in range(1, 4):
            on_progress(done, 3)
    shown = terminal.getvalue()
    assert "reprocess" in shown and "3/3" in shown and "100%" in shown


def test_classify_all_reports_progress_and_keeps_its_work_when_interrupted(db):
    for n in range(1, 5):
        article_id = store.save_article(db, article(n, text="Police rescued victims of human trafficking. " * 10))
        store.save_classification(db, article_id, verdict(False))
    calls = []

    def stop_after_first_batch(done, total):
        calls.append((done, total))
        raise KeyboardInterrupt

    counts = reclassify(db, PROFILE, None, on_progress=stop_after_first_batch)
    assert counts["interrupted"] and calls == [(4, 4)]  # one batch holds all four
    assert counts["articles"] == 4 and len(counts["decisions"]) == 4
    flags = store.flags_of(db, [1, 2, 3, 4])
    assert all(flags.values())  # stored before the interruption


def test_classify_all_on_the_cli_logs_progress_to_stderr(tmp_path):
    from conftest import tipwatch

    db_path = tmp_path / "t.db"
    db = store.open_db(db_path)
    for n in range(1, 4):
        store.save_article(db, article(n))
    result = tipwatch("classify", "--all", "--db", db_path)
    assert result.stdout.startswith("3 articles classified")
    assert "classify: 3/3 (100%)" in result.stderr
