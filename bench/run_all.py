"""Runs every benchmark in bench/ and writes one Markdown report (`make bench`).

Each benchmark runs as its own subprocess, one after the other (they time things: running two at
once would measure the contention), with a time limit. Each prints its figures and ends with a
`BENCH-JSON {...}` line (bench/_common.py describes it); this collects those lines and writes
bench/report.md: the targets met and not met, every figure, the notes, and the output of any
benchmark that failed, timed out or printed no BENCH-JSON line.

    .venv/bin/python bench/run_all.py [--only throughput ...] [--report FILE]
                                      [--args "throughput=--pages 500" ...]

Exit status 0 when every benchmark ran (whatever its targets), 1 when one could not.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _common import JSON_PREFIX, REPO, SHARED_DATA

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR / "report.md"
ORDER = ["extraction_quality", "dates_quality", "crawl_quality", "topic_speed", "throughput", "storage_scale"]
# seconds before a benchmark is stopped: what each needs on 2 busy cores, with room to spare;
# storage_scale's first run generates its million-article database (later runs reuse it)
TIME_LIMITS = {"extraction_quality": 360, "dates_quality": 150, "topic_speed": 180, "throughput": 480,
               "storage_scale": 600,
               # one crawl of the 618 labelled pages (~35-50 s on 2 busy cores), then scoring
               "crawl_quality": 300,
               # five crawls of 2,172 pages (embedded, distributed with 1, 2 and 3 workers, one with a
               # SIGKILL): ~10 min on 2 cores under load; over TOTAL_BUDGET by itself (issue 14)
               "scaleout": 1200}
DEFAULT_TIME_LIMIT = 180
TOTAL_BUDGET = 600  # `make bench` should finish within 10 minutes
OUTPUT_TAIL = 40    # lines of output kept in the report for a benchmark that did not report


@dataclass
class Outcome:
    name: str
    seconds: float = 0.0
    returncode: int | None = None
    timed_out: bool = False
    record: dict | None = None
    output: list[str] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return self.returncode == 0 and not self.timed_out and self.record is not None

    @property
    def status(self) -> str:
        if self.timed_out:
            return f"stopped after its {self.seconds:.0f} s limit"
        if self.returncode != 0:
            return f"could not run (exit {self.returncode})"
        if self.record is None:
            return "ran, but printed no BENCH-JSON line"
        return "ok"


def benchmarks(only: list[str]) -> list[Path]:
    """Every bench/*.py but this runner and helper modules (_*.py), in ORDER, then by name."""
    found = {p.stem: p for p in BENCH_DIR.glob("*.py") if p.stem != "run_all" and not p.stem.startswith("_")}
    unknown = set(only) - set(found)
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(sorted(found))})")
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    return [found[n] for n in names if not only or n in only]


def _pump(stream, name: str, lines: list[str]) -> None:
    for line in stream:
        line = line.rstrip("\n")
        lines.append(line)
        if not line.startswith(JSON_PREFIX):
            print(f"[{name}] {line}", flush=True)


def run_one(path: Path, extra_args: list[str]) -> Outcome:
    """Runs one benchmark in its own process group, so a time-out stops its children too
    (the crawl and its workers), and nothing else."""
    outcome = Outcome(path.stem)
    limit = TIME_LIMITS.get(path.stem, DEFAULT_TIME_LIMIT)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(path), *extra_args], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    reader = threading.Thread(target=_pump, args=(process.stdout, path.stem, outcome.output), daemon=True)
    reader.start()
    try:
        process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        outcome.timed_out = True
        _stop(process)
    reader.join(timeout=10)
    outcome.seconds = time.perf_counter() - started
    outcome.returncode = process.returncode
    outcome.record = _last_record(outcome.output)
    return outcome


def _stop(process: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_record(lines: list[str]) -> dict | None:
    for line in reversed(lines):
        if line.startswith(JSON_PREFIX):
            try:
                return json.loads(line[len(JSON_PREFIX):])
            except json.JSONDecodeError:
                return None
    return None


# ---------------------------------------------------------------- the report

def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    times, busy = busy_now()
    return {"cores": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
            "load": _load(), "cpu_times": times, "busy_share": busy}


def busy_now() -> tuple[list[int] | None, float | None]:
    """(CPU counters, share of the machine busy over the last second): is something else running?"""
    first = cpu_times()
    time.sleep(1)
    now = cpu_times()
    shares = busy_shares(first, now)
    return now, shares[0] if shares else None


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat: user nice system idle iowait irq softirq steal)."""
    try:
        return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None


def busy_shares(before: list[int] | None, after: list[int] | None) -> tuple[float, float] | None:
    """(share of the machine's CPU time busy, share stolen by the hypervisor) between two readings."""
    if not before or not after:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return 1 - (delta[3] + delta[4]) / total, delta[7] / total


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def shared_data_line() -> str:
    bench = SHARED_DATA / "article-extraction-benchmark"
    if (bench / "ground-truth.json").exists():
        pages = len(list((bench / "html").glob("*.html*")))
        return f"Shared data: `{bench}` present ({pages} pages)."
    return (f"**Shared data missing:** `{bench}` was not found, so extraction quality on real pages could not "
            "be measured, and the throughput benchmark served the small bundled sample pages instead of real "
            "news pages (its ratios are then not comparable with a run on real pages).")


def _mark(met) -> str:
    return {True: "met", False: "**not met**"}.get(met, "not judged")


def _cell(value) -> str:
    if isinstance(value, float):
        value = f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("|", "\\|").replace("\n", " ")


def flatten(figures: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and len(name.split(".")) < 3:
            rows += flatten(value, name + ".")
        else:
            rows.append((name, value))
    return rows


def targets_table(outcomes: list[Outcome]) -> list[str]:
    lines = ["| Benchmark | Target | Goal | Value | |", "|---|---|---|---|---|"]
    for outcome in outcomes:
        if not outcome.ran:
            lines.append(f"| {outcome.name} | – | – | – | {outcome.status} |")
            continue
        for t in outcome.record.get("targets", []):
            lines.append(f"| {outcome.name} | {_cell(t.get('name'))} | {_cell(t.get('target', t.get('goal', '')))} "
                         f"| {_cell(t.get('value'))} | {_mark(t.get('met'))} |")
    return lines


def section(outcome: Outcome) -> list[str]:
    lines = [f"## {outcome.name}", "", f"{outcome.status}, {outcome.seconds:.0f} s "
             f"(`.venv/bin/python bench/{outcome.name}.py`)", ""]
    if outcome.record:
        lines += ["| Figure | Value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in flatten(outcome.record.get("figures", {}))]
        lines.append("")
        lines += [f"- {_cell(note)}" for note in outcome.record.get("notes", [])]
    if not outcome.ran:
        tail = [line for line in outcome.output if not line.startswith(JSON_PREFIX)][-OUTPUT_TAIL:]
        lines += ["", "```", *tail, "```"]
    return lines + [""]


def write_report(path: Path, outcomes: list[Outcome], started: datetime, seconds: float, before: dict) -> None:
    after = _load()
    # something else running as the benchmarks start skews ratios of a 2-core crawl to a 1-core
    # baseline: say so from a quarter of the machine on (load averages lag: measured over a second)
    busy = before["busy_share"] is not None and before["busy_share"] >= 0.25
    shares = busy_shares(before["cpu_times"], cpu_times())
    steal = (f" CPU steal (time the hypervisor gave other machines) during the run: {shares[1]:.0%}."
             if shares else "")
    if shares and shares[1] > 0.05:
        busy = True
    within = "within" if seconds <= TOTAL_BUDGET else "**over**"
    lines = [
        "# tipwatch benchmarks", "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {before['cores']} cores ({before['cpu']}), Python {before['python']}; "
        f"{seconds / 60:.1f} min in all, {within} the {TOTAL_BUDGET // 60}-minute budget.",
        f"Load average before: {before['load']}; after: {after}."
        + (f" CPU in use by other work as it started: {before['busy_share']:.0%} of the machine."
           if before["busy_share"] is not None else "") + steal
        + (" **The machine was busy with other work**: timings are noisy, and a ratio of a 2-core run to a "
           "1-core baseline is lowered when another process takes part of a core." if busy else ""),
        "", shared_data_line(), "",
        "Speed figures are ratios to baselines measured in the same run; targets are reported, not enforced.", "",
        "## Targets", "", *targets_table(outcomes), "",
    ]
    for outcome in outcomes:
        lines += section(outcome)
    path.write_text("\n".join(lines), encoding="utf-8")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this benchmark")
    parser.add_argument("--report", type=Path, default=REPORT, help=f"report file (default {REPORT.relative_to(REPO)})")
    parser.add_argument("--args", action="append", default=[], metavar="NAME=ARGS",
                        help='extra arguments for one benchmark, e.g. "throughput=--pages 500"')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    extra = {}
    for item in args.args:
        name, _, rest = item.partition("=")
        extra[name.strip()] = shlex.split(rest)
    started, clock, before = datetime.now(UTC), time.perf_counter(), machine()
    print(shared_data_line().replace("**", "").replace("`", ""), flush=True)
    outcomes = []
    for path in benchmarks(args.only):
        print(f"=== {path.stem}", flush=True)
        outcome = run_one(path, extra.get(path.stem, []))
        print(f"=== {path.stem}: {outcome.status}, {outcome.seconds:.0f} s", flush=True)
        outcomes.append(outcome)
    seconds = time.perf_counter() - clock
    args.report.parent.mkdir(parents=True, exist_ok=True)
    write_report(args.report, outcomes, started, seconds, before)
    print(f"report: {args.report} ({seconds / 60:.1f} min)")
    for line in targets_table(outcomes)[2:]:
        print("  " + line.strip("| ").replace(" | ", " · "))
    return 0 if all(o.ran for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
