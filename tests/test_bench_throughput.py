"""bench/throughput.py runs end to end (on the bundled sample pages, in rounds, with its re-crawl)
and reports every target it promises; its figures are the benchmark's business, not this test's."""
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_throughput_benchmark_runs_and_reports_its_targets():
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "throughput.py"), "--sample-pages", "--pages", "40",
         "--rounds", "2", "--baseline-copies", "1", "-s", "AUTOTHROTTLE_START_DELAY=0"],
        cwd=REPO, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("BENCH-JSON ")][-1]
    report = json.loads(line[len("BENCH-JSON "):])
    figures = report["figures"]
    assert len(figures["crawl_vs_trafilatura_by_round"]) == 2
    assert figures["crawl_articles_processed"] == figures["pages_served"]
    assert figures["recrawl_articles_fetched"] == 0
    same, compared = figures["stored_as_process_page"].split("/")
    assert same == compared and int(compared) > 0
    assert [t["name"] for t in report["targets"]] == [
        "crawl throughput", "extraction in the crawl", "re-crawl: articles re-fetched", "re-crawl time",
        "crawl peak memory (sum of RSS)"]
    assert all(t["value"] is not None for t in report["targets"])
    assert any("asked for: served the bundled sample pages" in note for note in report["notes"])
