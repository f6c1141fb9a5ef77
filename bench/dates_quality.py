"""Publication-date quality of pipeline.extract.article on the bundled sample sites.

For every article page listed in tests/sites/{vns,bcp,bcpen}/articles.json (old pages included,
pages under /private/ too: they are article pages, only robots.txt keeps the crawler out), the
page is decoded and extracted the way the crawler does it (pipeline.process: decode_html with the
charset the sample server would declare, then extract_article), and the published date is compared
with the truth: the golden file tests/sites/<site>/expected/<page>.json when there is one, else
the page's entry in articles.json.

Figures:
  exact_day       share of pages whose published date is the true calendar day
  exact_datetime  share, among pages whose truth carries a time (golden published_precision
                  "minute", or no golden), whose published value is the true date and time
                  (to the second, as the goldens are compared in tests/test_crawl.py)
  golden_fields   share of golden pages whose title/author/language/text start+end/chrome checks
                  all pass (the same checks as tests/test_crawl.py::compare_golden; informative)
The article-extraction benchmark in ../shared/data holds no publication dates (its
ground-truth.json has only articleBody and url), so nothing is measured there; the script says so.

Dev set (../shared/data/dates-dev, optional: the script says so when it is missing): real article
pages in ~30 languages with their true publication day (the publisher's local day). Each page is
decoded as the crawler does it (decode_html, no declared charset) and extracted; the day tipwatch
stores (the first 10 characters of `published`) is compared with the truth, beside, in the same
run, htmldate (find_date, original date, extensive search, and without extensive search) and
trafilatura's metadata (extract_metadata). Exact-day shares are given with their Wilson 95%
interval, overall, per subset and per language; "htmldate best" on a subset is the better of the
two htmldate modes there. The dev set is half of a collection whose other half is kept apart for
checking: tune on it, prefer general fixes.

Usage:  .venv/bin/python bench/dates_quality.py [-v] [--dev-only] [--misses]
Last line: BENCH-JSON {...} (see bench/extraction_quality.py). Exit status is non-zero only when
the measurement could not run at all.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
SITES = REPO / "tests" / "sites"
SITE_NAMES = ("vns", "bcp", "bcpen")
BENCHMARK = REPO.parent / "shared" / "data" / "article-extraction-benchmark"
TARGET_EXACT_DAY = 0.95
TARGET_DEV_EXACT_DAY = 0.97
BASE = "http://127.0.0.1:8000"   # stands for the sample server's address ({{BASE}} in the pages)
sys.path.insert(0, str(REPO))

import _dates_dev  # noqa: E402
from _common import emit  # noqa: E402


def _declared_charset(site, path: str) -> str | None:
    """The charset the sample server would put in Content-Type for *path*."""
    from tipwatch.samplesites import _CONTENT_TYPES
    route = site.routes.get(path, {})
    content_type = route.get("content_type") or _CONTENT_TYPES.get(Path(path).suffix.lower(), "")
    m = re.search(r"charset=([\w.:-]+)", content_type, re.IGNORECASE)
    return m.group(1) if m else None


def _pages() -> list[dict]:
    from tipwatch.samplesites import Site
    pages = []
    for name in SITE_NAMES:
        site = Site(name, SITES / name)
        site.base_url = BASE
        for item in json.loads((SITES / name / "articles.json").read_text(encoding="utf-8")):
            path = item["path"]
            file = site.file_for(path, "")
            golden_path = SITES / name / "expected" / (Path(path).name.rsplit(".", 1)[0] + ".json")
            golden = json.loads(golden_path.read_text(encoding="utf-8")) if golden_path.exists() else None
            pages.append({"site": name, "path": path, "url": BASE + path, "file": file,
                          "body": site.body_of(file) if file else None,
                          "charset": _declared_charset(site, path), "item": item, "golden": golden})
    return pages


def _golden_problems(golden: dict, article: dict) -> list:
    """tests/test_crawl.py::compare_golden, on the extractor's output instead of the stored row."""
    problems = []
    precision = golden.get("published_precision", "date")
    n = 10 if precision == "date" else 19
    if (article.get("published") or "")[:n] != golden["published"][:n]:
        problems.append(("published", article.get("published"), golden["published"]))
    if article.get("title") != golden["title"]:
        problems.append(("title", article.get("title"), golden["title"]))
    if golden.get("author") and article.get("author") != golden["author"]:
        problems.append(("author", article.get("author"), golden["author"]))
    if article.get("language") != golden["language"]:
        problems.append(("language", article.get("language"), golden["language"]))
    text = article.get("text") or ""
    if not text.startswith(golden["text_startswith"]):
        problems.append(("text start", text[:80], golden["text_startswith"]))
    if not text.rstrip().endswith(golden["text_endswith"]):
        problems.append(("text end", text[-80:], golden["text_endswith"]))
    for chrome in golden.get("must_not_contain", []):
        if chrome in text:
            problems.append(("chrome left in text", chrome))
    return problems


def _benchmark_has_dates() -> str:
    truth = BENCHMARK / "ground-truth.json"
    if not truth.exists():
        return f"article-extraction benchmark not found at {BENCHMARK}: no benchmark dates to check"
    data = json.loads(truth.read_text(encoding="utf-8"))
    keys = set()
    for value in data.values():
        keys.update(value)
    date_keys = sorted(k for k in keys if "date" in k.lower() or "publish" in k.lower())
    if not date_keys:
        return (f"article-extraction benchmark ({len(data)} pages) holds no publication dates "
                f"(fields: {', '.join(sorted(keys))}): nothing to measure there")
    return f"article-extraction benchmark has date fields {date_keys}: not measured by this script"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per page")
    ap.add_argument("--dev-only", action="store_true", help="only the dev set of real pages")
    ap.add_argument("--misses", action="store_true", help="list the dev-set pages tipwatch gets wrong")
    ap.add_argument("--limit", type=int, default=0, help="only the first N dev-set pages")
    args = ap.parse_args()
    if args.dev_only:
        figures, targets, notes = _dates_dev.run(args.misses, args.limit)
        emit("dates_quality", {"dev": figures}, targets, notes)
        return 0
    try:
        from pipeline.extract.article import ExtractionError, ExtractOptions, decode_html, extract_article
        pages = _pages()
    except Exception:
        traceback.print_exc()
        print("dates benchmark could not run")
        return 2

    truths = [(p["golden"] or p["item"])["published"] for p in pages]
    latest = max(datetime.fromisoformat(t) for t in truths)
    # the future-date guard must not reject the fixtures' (late-2026) dates on a machine whose clock
    # is earlier; on the real clock this is just "now"
    now = max(datetime.now(), latest + timedelta(days=1))

    rows, errors, started = [], 0, time.perf_counter()
    for page, truth in zip(pages, truths, strict=True):
        precision = (page["golden"] or {}).get("published_precision", "minute")
        has_time = "T" in truth and precision != "date"
        got, source, problems = None, None, []
        if page["body"] is None:
            source, errors = "missing file", errors + 1
        else:
            try:
                html = decode_html(page["body"], page["charset"])
                article = extract_article(html, page["url"], options=ExtractOptions(min_chars=0, now=now))
                got, source = article["published"], article["date_source"]
                if page["golden"]:
                    problems = _golden_problems(page["golden"], article)
            except ExtractionError as exc:
                source, errors = f"extraction error: {exc.reason}", errors + 1
        day_ok = bool(got) and got[:10] == truth[:10]
        time_ok = bool(got) and got[:19] == truth[:19]
        rows.append({"page": page, "truth": truth, "got": got, "source": source, "day_ok": day_ok,
                     "has_time": has_time, "time_ok": time_ok, "problems": problems})
    elapsed = time.perf_counter() - started

    n = len(rows)
    timed = [r for r in rows if r["has_time"]]
    golden_rows = [r for r in rows if r["page"]["golden"]]
    exact_day = sum(r["day_ok"] for r in rows) / n
    exact_datetime = sum(r["time_ok"] for r in timed) / len(timed) if timed else None
    golden_ok = sum(not r["problems"] for r in golden_rows) / len(golden_rows) if golden_rows else None
    per_site = {}
    for name in SITE_NAMES:
        site_rows = [r for r in rows if r["page"]["site"] == name]
        per_site[name] = round(sum(r["day_ok"] for r in site_rows) / len(site_rows), 4) if site_rows else None
    sources: dict[str, int] = {}
    for r in rows:
        sources[r["source"] or "none"] = sources.get(r["source"] or "none", 0) + 1

    print(f"sample-site article pages: {n} ({len(golden_rows)} with a golden file), sites {', '.join(SITE_NAMES)}")
    for r in rows:
        mark = "ok " if r["day_ok"] and (r["time_ok"] or not r["has_time"]) else ("DAY" if r["day_ok"] else "BAD")
        if args.verbose or mark != "ok " or r["problems"]:
            print(f"  {mark} {r['page']['site']:6} {r['page']['path'][:70]:70} truth {r['truth']:19} "
                  f"got {str(r['got']):19} ({r['source']})")
            for problem in r["problems"]:
                print(f"        golden mismatch: {problem}")
    print(f"exact day:       {exact_day:.3f}  ({sum(r['day_ok'] for r in rows)}/{n})   per site: "
          + ", ".join(f"{k} {v:.3f}" for k, v in per_site.items() if v is not None))
    if exact_datetime is not None:
        print(f"exact datetime:  {exact_datetime:.3f}  ({sum(r['time_ok'] for r in timed)}/{len(timed)} "
              f"pages whose truth has a time)")
    if golden_ok is not None:
        print(f"golden fields:   {golden_ok:.3f}  ({sum(not r['problems'] for r in golden_rows)}/{len(golden_rows)} "
              f"golden pages with every checked field right)")
    print("date sources:    " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
    print(f"speed:           {n / elapsed:.1f} pages/s (decode + extract_article)")
    note = _benchmark_has_dates()
    print(note)

    print()
    dev_figures, dev_targets, dev_notes = _dates_dev.run(args.misses, args.limit)
    figures = {"pages": n, "exact_day": round(exact_day, 4), "per_site_exact_day": per_site,
               "exact_datetime": None if exact_datetime is None else round(exact_datetime, 4),
               "pages_with_time": len(timed), "golden_fields_ok": None if golden_ok is None else round(golden_ok, 4),
               "errors": errors, "date_sources": sources, "benchmark_dates": note, "dev": dev_figures}
    targets = [{"name": "sample-site exact publication day", "target": f">= {TARGET_EXACT_DAY}",
                "value": round(exact_day, 4), "met": exact_day >= TARGET_EXACT_DAY}]
    emit("dates_quality", figures, targets + dev_targets, dev_notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
