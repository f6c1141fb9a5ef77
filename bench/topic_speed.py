"""Benchmark 4: topic stage speed, documents per second on one core.

Documents: the true article bodies of ../shared/data/article-extraction-benchmark (181 real
news pages, ~4,400 characters each) when present, plus tipwatch's labelled sets (English and
Vietnamese); each is classified several times. Baseline, measured in the same process on the
same documents: splitting the lower-cased text into words, the least any word-based
classifier must do. Prints documents/s for rules only, for rules + model, and their ratio to
the baseline; the target is 2,000 documents/s with rules only.

    .venv/bin/python bench/topic_speed.py [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.topic import labelled  # noqa: E402
from pipeline.topic import rules as classify  # noqa: E402
from pipeline.topic.model import train  # noqa: E402
from pipeline.topic.stage import TopicStage  # noqa: E402

BENCHMARK = REPO.parent / "shared" / "data" / "article-extraction-benchmark" / "ground-truth.json"
TARGET_RULES = 2000.0
LABELLED_DIR = REPO / "seeds" / "labelled"
WORDS = re.compile(r"\w+")


def documents() -> tuple[list[dict], str]:
    docs = [{"title": ex.title, "text": ex.text, "language": ex.lang}
            for split in labelled.SPLITS for ex in labelled.shipped(split, LABELLED_DIR)]
    origin = f"{len(docs)} labelled items"
    if BENCHMARK.exists():
        bodies = json.loads(BENCHMARK.read_text(encoding="utf-8"))
        docs += [{"title": "", "text": v.get("articleBody") or "", "language": None} for v in bodies.values()]
        origin += f" + {len(bodies)} real article bodies from {BENCHMARK.parent.name}"
    else:
        origin += f" (no {BENCHMARK.parent}: real article bodies not included)"
    return docs, origin


def rate(fn, docs: list[dict], repeat: int) -> float:
    """Documents/s, the median over `repeat` passes: one pass takes a fraction of a second, so a
    pause of a shared machine would otherwise decide the figure."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(docs)
        rates.append(len(docs) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="passes over the documents (median taken)")
    args = parser.parse_args()
    docs, origin = documents()
    profile = classify.load_profile(REPO / "seeds" / "topics" / "trafficking.toml")
    stage = TopicStage(profile, train(labelled.shipped("train", LABELLED_DIR)))

    def baseline(batch):
        for d in batch:
            WORDS.findall(f"{d['title']}\n{d['text']}".lower())

    def rules_only(batch):
        for d in batch:
            classify.classify(profile, title=d["title"], text=d["text"], language=d["language"])

    def combined(batch):
        for start in range(0, len(batch), 256):
            stage.classify_many(batch[start:start + 256])

    rules_only(docs[:50])  # warm caches
    base = rate(baseline, docs, args.repeat)
    rules_rate = rate(rules_only, docs, args.repeat)
    combined_rate = rate(combined, docs, max(1, args.repeat // 2))
    chars = sum(len(d["text"]) for d in docs) / len(docs)
    print(f"documents: {origin}; {len(docs)} docs, {chars:.0f} characters on average, one core")
    print(f"baseline (split into words): {base:8.0f} docs/s")
    print(f"rules only:                  {rules_rate:8.0f} docs/s  ({rules_rate / base:.2f} x baseline)")
    print(f"rules + model:               {combined_rate:8.0f} docs/s  ({combined_rate / base:.2f} x baseline)")
    met = rules_rate >= TARGET_RULES
    print(f"target rules only >= {TARGET_RULES:.0f} docs/s: {'met' if met else 'NOT met'}")
    print("BENCH-JSON " + json.dumps({
        "name": "topic_speed",
        "figures": {"documents": len(docs), "avg_chars": round(chars), "baseline_docs_s": round(base),
                    "rules_docs_s": round(rules_rate), "rules_model_docs_s": round(combined_rate),
                    "rules_vs_baseline": round(rules_rate / base, 3),
                    "rules_model_vs_baseline": round(combined_rate / base, 3)},
        "targets": [{"name": "rules only, one core", "target": f">= {TARGET_RULES:.0f} docs/s",
                     "value": round(rules_rate), "met": met}]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
