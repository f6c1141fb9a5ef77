"""Choose the [model] policy (rescue, evidence, veto) by cross-validation on the training split.

The held-out test split is never read here: each fold's model is trained on four fifths of the
training split and gives probabilities for the other fifth; every policy on the grid is then
scored on those out-of-fold decisions, per language. Printed best first by the worse of
precision and recall over languages (then F1):

    .venv/bin/python scripts/tune_policy.py
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline import classify, labelled, model  # noqa: E402
from pipeline.classify import ModelPolicy  # noqa: E402
from pipeline.evaluate import figures  # noqa: E402
from pipeline.topic import decide  # noqa: E402

FOLDS = 5


def out_of_fold(examples: list[labelled.Example]) -> list[float]:
    probabilities = [0.0] * len(examples)
    for fold in range(FOLDS):
        train = [ex for i, ex in enumerate(examples) if i % FOLDS != fold]
        held = [i for i in range(len(examples)) if i % FOLDS == fold]
        fitted = model.train(train)
        for i, p in zip(held, fitted.probabilities([(examples[i].title, examples[i].text) for i in held])):
            probabilities[i] = p
    return probabilities


def main() -> int:
    examples = labelled.shipped("train")
    profile = classify.load_profile(REPO / "seeds" / "topics" / "trafficking.toml")
    scores = [classify.classify(profile, title=ex.title, text=ex.text, language=ex.lang)["score"] for ex in examples]
    probabilities = out_of_fold(examples)
    rows = []
    for rescue, evidence, veto in itertools.product((0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 1.01), (0.0, 1.0, 2.0),
                                                    (0.0, 0.05, 0.1, 0.2)):
        policy = ModelPolicy(True, rescue, evidence, veto, 6.0)
        flags = [decide(s, profile.threshold, p, policy)[0] for s, p in zip(scores, probabilities)]
        report = figures(examples, flags)
        worst = min(min(v["precision"] or 0, v["recall"] or 0) for v in report["by_lang"].values())
        rows.append((worst, report["f1"], rescue, evidence, veto, report))
    rules_only = figures(examples, [s >= profile.threshold for s in scores])
    print(f"{len(examples)} training examples, {FOLDS}-fold out-of-fold probabilities")
    print(f"rules only: P {rules_only['precision']} R {rules_only['recall']} F1 {rules_only['f1']}")
    for worst, f1, rescue, evidence, veto, report in sorted(rows, key=lambda r: (-r[0], -r[1]))[:12]:
        langs = "  ".join(f"{k} P {v['precision']} R {v['recall']}" for k, v in report["by_lang"].items())
        print(f"rescue {rescue:<4} evidence {evidence:<3} veto {veto:<4}: worst {worst:.3f} F1 {f1}  [{langs}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
