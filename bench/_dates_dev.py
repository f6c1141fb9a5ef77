"""Publication days on the dev set of real pages (../shared/data/dates-dev), for bench/dates_quality.py.

Every page goes through tipwatch the crawler's way (decode_html without a declared charset, then
extract_article) and through the libraries tipwatch wraps, in the same run: htmldate's find_date
(original date; extensive search, and without it) and trafilatura's metadata (extract_metadata).
A page counts when the day matches the truth (the publisher's local day) exactly.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict

from _common import SHARED_DATA, share_text, target, wilson

DEV = SHARED_DATA / "dates-dev"
# languages with fewer pages than this are reported together as "other"
MIN_LANGUAGE_PAGES = 4


def _tipwatch(html_bytes: bytes, url: str) -> tuple[str | None, str | None]:
    from pipeline.extract.article import ExtractionError, ExtractOptions, decode_html, extract_article
    try:
        article = extract_article(decode_html(html_bytes, None), url, options=ExtractOptions(min_chars=0))
    except ExtractionError:
        return None, "extraction error"
    return (article["published"] or None), article["date_source"]


def _htmldate(html: str, url: str, extensive: bool) -> str | None:
    from htmldate import find_date
    try:
        return find_date(html, url=url, original_date=True, extensive_search=extensive)
    except Exception:  # a library's failure on a page is a miss, not a crashed benchmark
        return None


def _trafilatura(html: str, url: str) -> str | None:
    from trafilatura import extract_metadata
    try:
        meta = extract_metadata(html, default_url=url)
    except Exception:
        return None
    return getattr(meta, "date", None) if meta is not None else None


DATERS = {
    "tipwatch": None,  # special-cased: reads the bytes, as the crawler does
    "htmldate extensive": lambda html, url: _htmldate(html, url, True),
    "htmldate fast": lambda html, url: _htmldate(html, url, False),
    "trafilatura": _trafilatura,
}


def _rows(limit: int = 0) -> list[dict]:
    truth = json.loads((DEV / "truth.json").read_text(encoding="utf-8"))
    rows = []
    for key in sorted(truth)[: limit or None]:
        item = truth[key]
        raw = gzip.decompress((DEV / "html" / f"{key}.html.gz").read_bytes())
        html = raw.decode("utf-8", errors="replace")
        got = {}
        value, source = _tipwatch(raw, item["url"])
        got["tipwatch"] = value
        for name, fn in DATERS.items():
            if fn is not None:
                got[name] = fn(html, item["url"])
        rows.append({"id": key, "truth": item["date"], "subset": item["subset"], "lang": item["lang"],
                     "human": item.get("human"), "got": got, "source": source,
                     "ok": {name: bool(v) and v[:10] == item["date"] for name, v in got.items()}})
    return rows


def _group_key(row: dict, by: str, common_langs: set[str]) -> str:
    if by == "lang":
        return row["lang"] if row["lang"] in common_langs else "other"
    return row[by]


def _table(rows: list[dict], by: str, common_langs: set[str]) -> dict:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[_group_key(row, by, common_langs)].append(row)
    out = {}
    for name in sorted(groups, key=lambda g: (-len(groups[g]), g)):
        members = groups[name]
        out[name] = {"pages": len(members),
                     **{d: round(sum(r["ok"][d] for r in members) / len(members), 4) for d in DATERS}}
    return out


def _print_table(title: str, table: dict) -> None:
    print(f"  {title:22}{'pages':>6}" + "".join(f"{d:>20}" for d in DATERS))
    for name, line in table.items():
        print(f"  {name:22}{line['pages']:6d}" + "".join(f"{line[d]:20.3f}" for d in DATERS))


def run(show_misses: bool = False, limit: int = 0) -> tuple[dict, list[dict], list[str]]:
    """(figures, targets, notes) for the dev set; a note and unjudged targets when it is missing."""
    if not (DEV / "truth.json").exists():
        note = f"dates dev set not found at {DEV}: nothing measured on real held-out pages"
        print(note)
        return {}, [target("dev-set exact publication day", f">= {0.97}", None, None)], [note]
    rows = _rows(limit)
    n = len(rows)
    langs = Counter(r["lang"] for r in rows)
    common = {lang for lang, count in langs.items() if count >= MIN_LANGUAGE_PAGES}
    print(f"dates dev set: {n} real pages, {len(langs)} languages, {DEV}")
    for name in DATERS:
        hits = sum(r["ok"][name] for r in rows)
        print(f"  exact day  {name:20} {share_text(hits, n)}")
    per_subset, per_lang = _table(rows, "subset", common), _table(rows, "lang", common)
    _print_table("subset", per_subset)
    _print_table("language", per_lang)
    sources = Counter(r["source"] or "none" for r in rows)
    missed_sources = Counter(r["source"] or "none" for r in rows if not r["ok"]["tipwatch"])
    print("  tipwatch date sources: " + ", ".join(f"{k} {v} ({missed_sources[k]} wrong)"
                                                   for k, v in sources.most_common()))
    off_by_one = sum(1 for r in rows if r["got"]["tipwatch"] and not r["ok"]["tipwatch"]
                     and _days_apart(r["got"]["tipwatch"], r["truth"]) == 1)
    print(f"  tipwatch misses: {n - sum(r['ok']['tipwatch'] for r in rows)}, of which one day off: {off_by_one}")
    if show_misses:
        for r in rows:
            if not r["ok"]["tipwatch"]:
                print(f"    MISS {r['id'][:48]:48} truth {r['truth']} got {str(r['got']['tipwatch'])[:25]:25} "
                      f"({r['source']}) htmldate {r['got']['htmldate extensive']} traf {r['got']['trafilatura']}")

    ours = sum(r["ok"]["tipwatch"] for r in rows) / n
    below = [s for s, line in per_subset.items()
             if line["tipwatch"] < max(line["htmldate extensive"], line["htmldate fast"])]
    figures = {"pages": n,
               "exact_day": {d: round(sum(r["ok"][d] for r in rows) / n, 4) for d in DATERS},
               "exact_day_wilson95": {d: wilson(sum(r["ok"][d] for r in rows), n) for d in DATERS},
               "per_subset": per_subset, "per_language": per_lang, "tipwatch_sources": dict(sources),
               "tipwatch_off_by_one_day": off_by_one}
    targets = [target("dev-set exact publication day", ">= 0.97", round(ours, 4), ours >= 0.97),
               target("dev-set subsets where tipwatch is below htmldate's best", "none", below or "none",
                      not below)]
    return figures, targets, []


def _days_apart(got: str, truth: str) -> int | None:
    from datetime import date
    try:
        return abs((date.fromisoformat(got[:10]) - date.fromisoformat(truth)).days)
    except ValueError:
        return None
