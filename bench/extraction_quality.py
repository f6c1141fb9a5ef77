"""Scratch quality check: article-body extraction on the Zyte/Scrapinghub benchmark.

Compares plain ``trafilatura.extract(html, include_comments=False)`` with
``pipeline.extract.extract_article`` (our cleanup on top of trafilatura) using the
benchmark's metric: lowercase word-token 4-gram shingles, precision and recall per page,
macro-averaged over pages, F1 of the two averages.

Data is read from ``<repo>/../shared/data/article-extraction-benchmark`` (not committed).
Usage:  .venv/bin/python bench/extraction_quality.py [--limit N] [--show-worst K]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "article-extraction-benchmark"
sys.path.insert(0, str(REPO))

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def _shingles(text: str, n: int = 4) -> Counter:
    tokens = [t.lower() for t in _TOKEN_RE.findall(text or "")]
    if len(tokens) < n:
        return Counter([" ".join(tokens)]) if tokens else Counter()
    return Counter(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _match(true: str, pred: str) -> tuple[int, int, int]:
    t, p = _shingles(true), _shingles(pred)
    tp = sum((t & p).values())
    return tp, sum((p - t).values()), sum((t - p).values())


def _scores(tpfpfn: list[tuple[int, int, int]]) -> tuple[float, float, float]:
    precisions = [tp / (tp + fp) for tp, fp, fn in tpfpfn if tp + fp > 0] or [0.0]
    recalls = [tp / (tp + fn) for tp, fp, fn in tpfpfn if tp + fn > 0] or [0.0]
    p, r = statistics.mean(precisions), statistics.mean(recalls)
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f1, p, r


def _ours(html: str, url: str) -> str:
    from pipeline.extract import ExtractionError, ExtractOptions, extract_article
    try:
        return extract_article(html, url, options=ExtractOptions(min_chars=0))["text"]
    except ExtractionError:
        return ""


def _plain(html: str, url: str) -> str:
    import trafilatura
    return trafilatura.extract(html, include_comments=False) or ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--show-worst", type=int, default=0, help="list pages where ours loses most F1")
    args = ap.parse_args()
    gt_path = DATA / "ground-truth.json"
    if not gt_path.exists():
        print(f"benchmark data not found at {DATA} - skipping (nothing to measure)")
        return 0
    truth = json.loads(gt_path.read_text(encoding="utf-8"))
    keys = sorted(truth)
    if args.limit:
        keys = keys[: args.limit]
    plain, ours, per_page = [], [], []
    for key in keys:
        page = DATA / "html" / f"{key}.html.gz"
        if not page.exists():
            continue
        html = gzip.decompress(page.read_bytes()).decode("utf-8", errors="replace")
        url = truth[key].get("url") or "https://example.com/"
        gt = truth[key].get("articleBody", "")
        a, b = _match(gt, _plain(html, url)), _match(gt, _ours(html, url))
        plain.append(a)
        ours.append(b)
        per_page.append((key, url, _scores([a])[0], _scores([b])[0]))
    fp, pp, rp = _scores(plain)
    fo, po, ro = _scores(ours)
    print(f"pages: {len(plain)}  (metric: 4-gram shingles, macro P/R, F1 of averages)")
    print(f"{'':24}{'F1':>8}{'P':>8}{'R':>8}")
    print(f"{'trafilatura.extract':24}{fp:8.3f}{pp:8.3f}{rp:8.3f}")
    print(f"{'pipeline.extract':24}{fo:8.3f}{po:8.3f}{ro:8.3f}")
    print(f"{'difference':24}{fo - fp:+8.3f}{po - pp:+8.3f}{ro - rp:+8.3f}")
    if args.show_worst:
        per_page.sort(key=lambda row: row[3] - row[2])
        for key, url, a, b in per_page[: args.show_worst]:
            print(f"  {b - a:+.3f}  plain {a:.3f} ours {b:.3f}  {key[:12]}  {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
