"""Precision and recall of the topic stage on labelled examples (`tipwatch eval`, `rules test`).

Pure functions of examples and predictions; the figures are plain JSON-ready dicts.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from pipeline.topic.labelled import Example
from pipeline.topic.stage import TopicStage

BATCH = 256  # documents held in memory at once when streaming stored articles


def batches(items: Iterable, size: int = BATCH) -> Iterator[list]:
    """Consecutive lists of `size` items (the last may be shorter), without materialising `items`."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def classify_examples(stage: TopicStage, examples: Sequence[Example]) -> list[dict]:
    results: list[dict] = []
    for batch in batches(examples):
        results.extend(stage.classify_many([{"title": ex.title, "text": ex.text, "language": ex.lang or None}
                                            for ex in batch]))
    return results


def evaluate(stage: TopicStage, examples: Sequence[Example], *, errors: bool = False) -> dict:
    """The figures `tipwatch eval` prints: overall, by language and by kind (+ the errors)."""
    results = classify_examples(stage, examples)
    report = figures(examples, [r["flagged"] for r in results])
    unlabelled = sum(ex.label is None for ex in examples)
    if unlabelled:
        report["unlabelled"] = unlabelled
    report["profile_version"] = stage.profile.version
    report["model_version"] = stage.model.version if stage.model and stage.profile.model.use else None
    if errors:
        report["errors"] = [_error(ex, r) for ex, r in zip(examples, results, strict=True)
                            if ex.label is not None and bool(ex.label) != r["flagged"]]
    return report


def figures(examples: Sequence[Example], flags: Sequence[bool]) -> dict:
    """metrics() overall, by language and by kind."""
    report = metrics(examples, flags)
    report["by_lang"] = _grouped(examples, flags, lambda ex: ex.lang or "und")
    report["by_kind"] = _grouped(examples, flags, lambda ex: ex.kind or "(none)")
    return report


def metrics(examples: Iterable[Example], predicted: Iterable[bool]) -> dict:
    tp = fp = fn = tn = 0
    for ex, flag in zip(examples, predicted, strict=True):
        if ex.label is None:
            continue
        if ex.label:
            tp, fn = tp + bool(flag), fn + (not flag)
        else:
            fp, tn = fp + bool(flag), tn + (not flag)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = (None if precision is None or recall is None
          else round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0)
    negatives = fp + tn
    return {"precision": precision, "recall": recall, "f1": f1,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": tp + fp + fn + tn,
            # a small set cannot pass for proof: every rate comes with its 95% interval
            "precision_ci95": wilson(tp, tp + fp), "recall_ci95": wilson(tp, tp + fn),
            # at the real base rate (almost all news is negative) what an analyst sees is the
            # false alarms among ordinary articles, so they are reported per 1,000 negatives
            "false_alarms_per_1000": None if not negatives else round(1000 * fp / negatives, 2),
            "false_alarms_per_1000_ci95": _per_1000(wilson(fp, negatives, digits=9))}


def wilson(successes: int, trials: int, z: float = 1.96, digits: int = 4) -> list[float] | None:
    """The Wilson score interval (95% by default) of a proportion: unlike the normal
    approximation it stays inside [0, 1] and is honest at 0/n and n/n (40/40 is not "1.0 ± 0")."""
    if not trials:
        return None
    p, n = successes / trials, trials
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), digits), round(min(1.0, centre + half), digits)]


def _per_1000(interval: list[float] | None) -> list[float] | None:
    return None if interval is None else [round(1000 * v, 2) for v in interval]


def _ratio(part: int, whole: int) -> float | None:
    # undefined (no positives predicted, or none labelled) is null, not a made-up 0 or 1
    return round(part / whole, 4) if whole else None


def _grouped(examples: Sequence[Example], flags: Sequence[bool], key) -> dict:
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(key(ex), []).append(i)
    return {name: metrics([examples[i] for i in idx], [flags[i] for i in idx])
            for name, idx in sorted(groups.items())}


def _error(ex: Example, result: dict) -> dict:
    return {"id": ex.id, "label": ex.label, "flagged": result["flagged"], "lang": ex.lang, "kind": ex.kind,
            "title": ex.title[:160], "reason": result["reason"], "score": result["score"],
            "rules": result["rules"], "matched_terms": result["matched_terms"][:8],
            "probability": None if result["probability"] is None else round(result["probability"], 4)}
