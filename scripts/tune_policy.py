"""Choose the [model] policy (rescue, evidence, veto) by cross-validation on the training split.

The held-out test split is never read here: each fold's model is trained on four fifths of the
training split and gives probabilities for the other fifth; every policy on the grid is then
scored on those out-of-fold decisions, per language.

The training split is text we wrote; real news is told otherwise, and the model is most wrong
where it matters at the real base rate: ordinary stories that touch the topic once. So when
../shared/data/news-stream/dev.jsonl is there (1,988 ordinary real articles, never shipped,
never trained on), each policy is also scored on it with the base model (trained on the whole
training split): false alarms per 1,000 per language and trafficking stories missed. Printed
best first: fewest stream errors (worst language), then the worse of cross-validated precision
and recall over languages, then F1:

    .venv/bin/python scripts/tune_policy.py
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.topic import labelled, model  # noqa: E402
from pipeline.topic import rules as classify  # noqa: E402
from pipeline.topic.evaluate import figures  # noqa: E402
from pipeline.topic.rules import ModelPolicy  # noqa: E402
from pipeline.topic.stage import decide  # noqa: E402

FOLDS = 5
STREAM = REPO.parent / "shared" / "data" / "news-stream" / "dev.jsonl"


def out_of_fold(examples: list[labelled.Example]) -> list[float]:
    probabilities = [0.0] * len(examples)
    for fold in range(FOLDS):
        train = [ex for i, ex in enumerate(examples) if i % FOLDS != fold]
        held = [i for i in range(len(examples)) if i % FOLDS == fold]
        fitted = model.train(train)
        for i, p in zip(held, fitted.probabilities([(examples[i].title, examples[i].text) for i in held]),
                        strict=True):
            probabilities[i] = p
    return probabilities


def scored(profile, examples: list[labelled.Example], probabilities: list[float | None]) -> list[tuple]:
    return [(classify.classify(profile, title=ex.title, text=ex.text, language=ex.lang)["score"], p)
            for ex, p in zip(examples, probabilities, strict=True)]


def stream_errors(profile, policy: ModelPolicy, stream: list[labelled.Example], pairs: list[tuple]) -> dict:
    """Per language: false alarms per 1,000 negatives and positives missed, on the real stream."""
    flags = [decide(s, profile.threshold, p, policy)[0] for s, p in pairs]
    out = {}
    for lang, v in figures(stream, flags)["by_lang"].items():
        out[lang] = (v["false_alarms_per_1000"] or 0.0, v["fn"])
    return out


def main() -> int:
    examples = labelled.shipped("train", REPO / "seeds" / "labelled")
    profile = classify.load_profile(REPO / "seeds" / "topics" / "trafficking.toml")
    pairs = scored(profile, examples, out_of_fold(examples))
    stream, stream_pairs = [], []
    if STREAM.exists():
        stream = labelled.read_jsonl(STREAM)
        base = model.train(examples)
        stream_pairs = scored(profile, stream, [base.probability(ex.title, ex.text) for ex in stream])
    rows = []
    for rescue, evidence, veto in itertools.product((0.5, 0.6, 0.65, 0.7, 0.8, 0.85, 0.9, 1.01),
                                                    (0.0, 1.0, 1.5, 2.0, 2.5), (0.0, 0.05, 0.1, 0.2)):
        policy = ModelPolicy(True, rescue, evidence, veto, 6.0)
        flags = [decide(s, profile.threshold, p, policy)[0] for s, p in pairs]
        report = figures(examples, flags)
        worst = min(min(v["precision"] or 0, v["recall"] or 0) for v in report["by_lang"].values())
        real = stream_errors(profile, policy, stream, stream_pairs) if stream else {}
        badness = max((fa + 1000 * missed for fa, missed in real.values()), default=0.0)
        rows.append((badness, worst, report["f1"], rescue, evidence, veto, report, real))
    rules_only = figures(examples, [s >= profile.threshold for s, _ in pairs])
    print(f"{len(examples)} training examples, {FOLDS}-fold out-of-fold probabilities")
    print(f"rules only: P {rules_only['precision']} R {rules_only['recall']} F1 {rules_only['f1']}")
    print(f"real stream: {len(stream)} articles from {STREAM}" if stream else
          f"real stream: {STREAM} is missing; policies ranked on cross-validation alone")
    shown = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    ranked = sorted(rows, key=lambda r: (r[0], -r[1], -r[2]))
    for _, worst, f1, rescue, evidence, veto, report, real in ranked[:shown]:
        langs = "  ".join(f"{k} P {v['precision']} R {v['recall']}" for k, v in report["by_lang"].items())
        stream_note = "  ".join(f"{k} FA/1000 {fa:g} missed {m}" for k, (fa, m) in real.items())
        print(f"rescue {rescue:<4} evidence {evidence:<3} veto {veto:<4}: CV worst {worst:.3f} F1 {f1}  [{langs}]"
              + (f"  stream [{stream_note}]" if stream_note else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
