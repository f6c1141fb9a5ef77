"""Place extraction quality (pipeline/enrich/places.py) on a labelled set.

The set is tests/places_cases/labelled.jsonl: 62 sentences in English and Vietnamese, written for
this project in the style of regional news (not copied from any article), each with the gazetteer
places a reader would mark in it. A third are hard cases: place names that are also personal names
("Nguyễn Văn Long An", "Anh Vinh"), common words ("hòa bình", "Lao động", "hue", "Chin up", "Kep
crab"), lower-case or unaccented spellings, names past the gazetteer's reach. Places outside the
gazetteer (Kuala Lumpur, districts) are not labelled: this measures matching, not coverage.
Caveat: written by the author of the matcher, after it was built; a held-out set written by
someone else would be a fairer test.

Figures: micro precision and recall over (sentence, place) pairs, with Wilson 95% intervals, and
each miss and false hit with -v.

Usage:  .venv/bin/python bench/places_quality.py [-v] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.enrich.places import extract_places, load_gazetteer  # noqa: E402
from pipeline.topic.evaluate import wilson  # noqa: E402

LABELLED = ROOT / "tests" / "places_cases" / "labelled.jsonl"
GAZETTEER = ROOT / "seeds" / "places" / "gazetteer.csv"  # the shipped one, of this checkout


def measure(path: Path = LABELLED, gazetteer_file: Path = GAZETTEER) -> dict:
    gazetteer = load_gazetteer(gazetteer_file)
    tp = fp = fn = 0
    errors = []
    for line in path.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        unknown = set(case["places"]) - set(gazetteer.places)
        if unknown:
            raise ValueError(f"{case['id']}: labelled places not in the gazetteer: {sorted(unknown)}")
        got = {f.place.name for f in extract_places(case["text"], gazetteer)}
        want = set(case["places"])
        tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
        if got != want:
            errors.append({"id": case["id"], "false_hits": sorted(got - want), "missed": sorted(want - got)})
    return {"tp": tp, "fp": fp, "fn": fn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "precision_ci95": wilson(tp, tp + fp), "recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "recall_ci95": wilson(tp, tp + fn), "errors": errors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", action="store_true", help="list every miss and false hit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"places on {LABELLED.relative_to(ROOT)}: tp {result['tp']} fp {result['fp']} fn {result['fn']}")
    print(f"precision {result['precision']} (95% CI {result['precision_ci95']})")
    print(f"recall    {result['recall']} (95% CI {result['recall_ci95']})")
    if args.v:
        for error in result["errors"]:
            print(f"  {error['id']}: missed {error['missed']} false hits {error['false_hits']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
