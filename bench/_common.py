"""Shared by the benchmarks in bench/: where things are, and the one machine-readable line
each benchmark ends with, which bench/run_all.py collects into the report.

    BENCH-JSON {"name": "throughput", "figures": {...}, "targets": [...], "notes": [...]}

A target is {"name", "target" (the goal, as a reader would say it: ">= 2000 docs/s"), "value",
"met": true/false/null}; null means it could not be judged this run (data missing, a stage skipped).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
BENCH_DATA = REPO / "data" / "bench"
JSON_PREFIX = "BENCH-JSON "

if str(REPO) not in sys.path:  # run as `python bench/x.py`: import the project from the checkout
    sys.path.insert(0, str(REPO))


def target(name: str, goal: str, value, met: bool | None) -> dict:
    return {"name": name, "target": goal, "value": value, "met": met}


def emit(name: str, figures: dict, targets: list[dict], notes: list[str] = ()) -> None:
    """Print the final machine-readable line (one line, last thing the benchmark prints)."""
    record = {"name": name, "figures": figures, "targets": targets, "notes": list(notes)}
    print(JSON_PREFIX + json.dumps(record, ensure_ascii=False, default=str), flush=True)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """Wilson 95% score interval of a proportion hits/n (None when n is 0): small sets
    get honest error bars beside their point figure."""
    if n <= 0:
        return None
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)


def share_text(hits: int, n: int) -> str:
    """'0.952 [0.917, 0.973] (237/249)'."""
    if n <= 0:
        return "n/a (0 pages)"
    lo, hi = wilson(hits, n)
    return f"{hits / n:.3f} [{lo:.3f}, {hi:.3f}] ({hits}/{n})"
