"""What a real `tipwatch crawl` STORES, scored against labelled pages (issue 17, end to end).

The labelled pages of three shared sets are served from loopback HTTP servers (one per set, on
127.0.0.1, from bench/throughput.py's BenchSite: robots.txt, a sitemap index with its children),
each page at its original URL's path and query (`--paths original`, the default; a page without
a URL, or whose URL clashes with another's once the crawl has normalised it, gets /<id>.html or a
suffix) or at /<id>.html (`--paths id`), its bytes as stored, `Content-Type: text/html` with no
charset. A sources file names one source per set (`allow_addresses = ["127.0.0.1"]`,
`lookback_days = 0`: the pages are years old; an article pattern that takes every URL of the
sitemaps), and the real command runs as a subprocess in a temporary directory:

    tipwatch crawl --db <tmp>/crawl.db --sources <tmp>/sources.toml --lookback-days 0 --quiet
                   --channels <empty file> --digests-dir <tmp>/digests --log-file <tmp>/crawl.log

Then every page's served URL is mapped to the article stored under it (table `article_urls`, by
`pipeline.urls.url_key`, so a canonical or normalised URL is followed) and scored:

  extraction  ../shared/data/extraction-dev (188 pages): stored `articles.text` against the true
              main text with bench/extraction_quality.py's metric (4-gram shingles, macro P and R,
              F1 of the means), overall and per pages.json subset; target F1 >= 0.94
  scrapinghub ../shared/data/article-extraction-benchmark (181 pages): the same; targets
              F1 >= 0.978, precision >= 0.97
  dates       ../shared/data/dates-dev (249 pages): the first 10 characters of `articles.published`
              against the publisher's local day, overall and per truth.json subset, with Wilson
              95% intervals; target exact day >= 0.97

A page with no stored article counts as a miss (an empty prediction), and is listed with what the
crawl recorded about it (`crawl_errors`: kind and detail; `settled_urls`: the reason a fetched
page gave no article), or with "no record" and whether the server was asked for it at all. The
server answers a page's exact path and query, or an equivalent target (escapes, parameter order,
empty parameters), and 404 otherwise, as a server keyed on path and query would; the crawl must
request what the sitemap lists. `--lenient-query` also answers a request that lost part of its
query with the one page of that path whose query holds the rest, and lists such pages (how the
crawl fared before pipeline.urls.normalize kept queries whole). `--compare` also runs the in-process
extraction (bench/extraction_quality.py `_ours`, bench/_dates_dev.py `_tipwatch`) on the same
pages and lists where the stored value differs.

Nothing leaves 127.0.0.1. Without ../shared/data (or a set of it) that part is skipped and says so.

    .venv/bin/python bench/crawl_quality.py [--set extraction|scrapinghub|dates|all]
                                            [--paths original|id] [--lenient-query] [--compare]
                                            [--keep DIR] [--timeout S]
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from extraction_quality import metrics, page_f1, string_shingle_matching
from throughput import BenchSite, Page, _Handler

from tipwatch.samplesites import write_loopback_sources

from _common import SHARED_DATA, emit, share_text, target, wilson

NAME = "crawl_quality"
CRAWL_TIMEOUT_S = 1200
SAFE = "/%:@!$&'()*+,;=-._~?"  # kept as they are in a served path: reserved characters and escapes


@dataclass(frozen=True)
class LabelledSet:
    name: str         # source name and --set value
    folder: str       # under ../shared/data
    truth_file: str
    kind: str         # "text" or "date"
    targets: tuple    # (figure, goal) pairs: ("f1", 0.94)


SETS = {
    "extraction": LabelledSet("extraction", "extraction-dev", "ground-truth.json", "text", (("f1", 0.94),)),
    "scrapinghub": LabelledSet("scrapinghub", "article-extraction-benchmark", "ground-truth.json", "text",
                               (("f1", 0.978), ("precision", 0.97))),
    "dates": LabelledSet("dates", "dates-dev", "truth.json", "date", (("exact_day", 0.97),)),
}


@dataclass
class Labelled:
    id: str
    body: bytes
    url: str | None    # the original URL
    subset: str
    truth: str         # main text, or YYYY-MM-DD
    path: str = ""     # where it is served (path and query)


@dataclass
class Outcome:
    """What the crawl did with one page."""
    page: Labelled
    served_url: str
    article: dict | None = None
    reasons: list[str] = field(default_factory=list)
    requested_as: str = ""  # the request target that found it
    requested: str = ""   # how the server matched it: exact, equivalent, part of its query, "" (never)


# ---------------------------------------------------------------- the pages

def load_set(spec: LabelledSet) -> tuple[list[Labelled] | None, str]:
    """(pages, "") or (None, why not)."""
    folder = SHARED_DATA / spec.folder
    if not (folder / spec.truth_file).exists():
        return None, f"{spec.name}: {folder / spec.truth_file} not found: nothing measured"
    truth = json.loads((folder / spec.truth_file).read_text(encoding="utf-8"))
    info = {}
    if (folder / "pages.json").exists():
        info = json.loads((folder / "pages.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = folder / "html" / f"{key}.html.gz"
        if not path.exists():
            continue
        item = truth[key]
        subset = item.get("subset") or info.get(key, {}).get("subset") or "all"
        value = item.get("date") if spec.kind == "date" else item.get("articleBody", "")
        pages.append(Labelled(key, gzip.decompress(path.read_bytes()), item.get("url"), subset, value or ""))
    return pages, ""


def original_path(url: str | None) -> str | None:
    """The URL's path and query (no fragment: never sent), non-ASCII characters percent-encoded."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # no URL, or not an absolute one ("8003098")
    path = quote(parts.path or "/", safe=SAFE)
    return path + ("?" + quote(parts.query, safe=SAFE) if parts.query else "")


def assign_paths(pages: list[Labelled], mode: str, base: str) -> list[str]:
    """Each page's served path; one the crawl would take for another's (same URL key) gets a suffix."""
    from pipeline.urls import url_key

    taken: set[str] = set()
    for page in pages:
        path = (original_path(page.url) if mode == "original" else None) or f"/{quote(page.id)}.html"
        stem, mark, query = path.partition("?")
        number = 1
        while url_key(base + path) in taken:
            number += 1
            path = f"{stem}-dup{number}{mark}{query}"
        taken.add(url_key(base + path))
        page.path = path
    return [page.path for page in pages]


# ---------------------------------------------------------------- the site

def _form(target: str) -> tuple[str, tuple]:
    """A request target as a server reads it: the path decoded with runs of / as one, the query's
    parameters in any order, those given an empty value ("s=") left out (a bare "?/route/" stays)."""
    path, _, query = target.partition("?")
    params = tuple(sorted(unquote(part.replace("+", " ")) for part in query.split("&")
                          if part and not part.endswith("=")))
    return re.sub("/+", "/", unquote(path)), params


class _LabelledHandler(_Handler):
    """Answers a page's exact path and query; else an equivalent target (escapes, parameter order,
    empty parameters); else (unless server.strict) the one page of that path whose parameters
    include the request's, as a site that ignores parameters it does not need would. Each page's
    first match is remembered in server.matched."""

    def lookup(self):
        server = self.server
        found = server.documents.get(self.path)
        if found is not None:
            return self._match(self.path, "exact", found)
        form = _form(self.path)
        if form in server.by_form:
            return self._match(server.by_form[form], "equivalent", server.documents[server.by_form[form]])
        wider = [p for p, (path, params) in server.forms.items() if path == form[0] and set(form[1]) <= set(params)]
        if len(wider) == 1 and not server.strict:
            return self._match(wider[0], "part of its query", server.documents[wider[0]])
        return None

    def _match(self, path: str, how: str, found):
        self.server.matched.setdefault(path, (how, self.path))
        return found


def serve(pages: list[Labelled], mode: str, strict: bool) -> BenchSite:
    paths = assign_paths(pages, mode, "http://127.0.0.1:8000")  # URL keys clash alike on any port
    site = BenchSite([Page(p.id, p.body) for p in pages], paths, _LabelledHandler)
    server = site.server
    server.forms = {p: _form(p) for p in paths}
    server.by_form = {form: p for p, form in server.forms.items()}
    server.strict, server.matched = strict, {}
    return site


# ---------------------------------------------------------------- the crawl

# every page the sitemaps list is an article (the pages are at arbitrary paths)
EVERY_PAGE = r"^http://127\.0\.0\.1:\d+/(?!sitemap\.xml$|sitemaps/part-\d+\.xml$|robots\.txt$|feed\.rss$)"


def write_sources(path: Path, bases: dict[str, str]) -> Path:
    """One source per set; the pages are years old: no look-back window."""
    return write_loopback_sources(path, [
        {"name": name, "title": f"Labelled pages: {name}", "language": "en", "sitemaps": [f"{base}/sitemap.xml"],
         "article_pattern": EVERY_PAGE, "lookback_days": 0} for name, base in bases.items()],
        comment="labelled pages on loopback (bench/crawl_quality.py)")


def tipwatch_command() -> list[str]:
    script = Path(sys.executable).parent / "tipwatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tipwatch.cli"]


def run_crawl(work: Path, sources: Path, timeout: float) -> tuple[int | None, float, str]:
    """(exit status or None when stopped at the time bound, seconds, output)."""
    (work / "channels.toml").write_text("# nothing is sent from the benchmark\n", encoding="utf-8")
    command = [*tipwatch_command(), "crawl", "--db", str(work / "crawl.db"), "--sources", str(sources),
               "--lookback-days", "0", "--quiet", "--channels", str(work / "channels.toml"),
               "--digests-dir", str(work / "digests"), "--log-file", str(work / "crawl.log")]
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return None, time.perf_counter() - started, str(exc.stdout or "") + str(exc.stderr or "")
    return done.returncode, time.perf_counter() - started, (done.stdout + done.stderr).strip()


# ---------------------------------------------------------------- what was stored

def read_db(db: Path) -> dict:
    from pipeline.urls import url_key

    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        stored = {r["key"]: dict(r) for r in conn.execute(
            "SELECT u.url AS key, a.id, a.url, a.text, a.published, a.date_source "
            "FROM article_urls u JOIN articles a ON a.id = u.article_id")}
        settled = {r["url"]: r["reason"] for r in conn.execute("SELECT url, reason FROM settled_urls")}
        errors = defaultdict(list)
        for r in conn.execute("SELECT url, kind, detail FROM crawl_errors ORDER BY id"):
            errors[url_key(r["url"]) if r["url"] else ""].append(f"{r['kind']}: {r['detail']}")
        stats = {r["source"]: dict(r) for r in conn.execute(
            "SELECT * FROM crawl_source_stats WHERE run_id = (SELECT max(id) FROM crawl_runs)")}
    return {"stored": stored, "settled": settled, "errors": errors, "stats": stats}


def outcomes(pages: list[Labelled], base: str, found: dict, matched: dict) -> list[Outcome]:
    from pipeline.urls import url_key

    result = []
    for page in pages:
        url = base + page.path
        key = url_key(url)
        how, asked = matched.get(page.path, ("", ""))
        out = Outcome(page, url, found["stored"].get(key), requested_as=asked, requested=how)
        if out.article is None:
            out.reasons = list(found["errors"].get(key, []))
            if key in found["settled"]:
                out.reasons.append(f"settled: {found['settled'][key]}")
            if not out.reasons:
                out.reasons.append("no record" + ("" if out.requested else "; never requested from the server"))
        result.append(out)
    shared = Counter(o.article["id"] for o in result if o.article)
    for o in result:
        if o.article and shared[o.article["id"]] > 1:
            o.reasons.append(f"shares stored article {o.article['url']} with {shared[o.article['id']] - 1} other "
                             "page(s) (a duplicate by its canonical link)")
    return result


# ---------------------------------------------------------------- scores

def text_scores(outs: list[Outcome]) -> dict:
    rows = [(o.page.subset, string_shingle_matching(o.page.truth, (o.article or {}).get("text") or ""))
            for o in outs]
    groups = {"all": [r for _, r in rows]}
    for subset in sorted({s for s, _ in rows}):
        if len({s for s, _ in rows}) > 1:
            groups[f"subset:{subset}"] = [r for s, r in rows if s == subset]
    table = {}
    print(f"  {'group':22}{'pages':>6}{'F1':>8}{'P':>7}{'R':>7}")
    for group, members in groups.items():
        m = {k: round(v, 4) for k, v in metrics(members).items()}
        table[group] = {"pages": len(members), **m}
        print(f"  {group:22}{len(members):6d}{m['f1']:8.3f}{m['precision']:7.3f}{m['recall']:7.3f}")
    return table


def date_ok(o: Outcome) -> bool:
    published = (o.article or {}).get("published") or ""
    return bool(published) and published[:10] == o.page.truth


def date_scores(outs: list[Outcome]) -> dict:
    groups = {"all": outs}
    for subset in sorted({o.page.subset for o in outs}):
        groups[f"subset:{subset}"] = [o for o in outs if o.page.subset == subset]
    table = {}
    for group, members in groups.items():
        hits = sum(date_ok(o) for o in members)
        table[group] = {"pages": len(members), "exact_day": round(hits / len(members), 4),
                        "wilson95": wilson(hits, len(members))}
        print(f"  exact day {group:28} {share_text(hits, len(members))}")
    return table


def print_losses(outs: list[Outcome]) -> list[dict]:
    """Pages not stored (with the crawl's reasons), and pages found only without their query."""
    lost = [o for o in outs if o.article is None or len(o.reasons) > 0]
    print(f"  pages not stored (or stored as another page's article): {len(lost)}")
    for o in lost:
        print(f"    {o.page.id[:56]:56} {o.page.path[:60]}  ->  {' | '.join(o.reasons)[:300]}")
    loose = [o for o in outs if o.requested == "part of its query"]
    if loose:
        print(f"  pages the crawl asked for with part of their query only (found by the rest): {len(loose)}")
        for o in loose:
            dropped = sorted(set(_form(o.page.path)[1]) - set(_form(o.requested_as)[1]))
            print(f"    {o.page.id[:48]:48} {_form(o.page.path)[0][:50]:50} query lost: {' & '.join(dropped)[:80]}")
    return [{"id": o.page.id, "path": o.page.path, "stored": o.article is not None, "reasons": o.reasons}
            for o in lost]


def misses(spec: LabelledSet, outs: list[Outcome]) -> None:
    if spec.kind == "date":
        wrong = [o for o in outs if o.article and not date_ok(o)]
        print(f"  stored with a wrong day: {len(wrong)}")
        for o in wrong:
            print(f"    {o.page.id[:56]:56} truth {o.page.truth} stored {o.article['published']} "
                  f"({o.article.get('date_source')})")
    else:
        worst = sorted((o for o in outs if o.article), key=lambda o: page_f1(
            string_shingle_matching(o.page.truth, o.article.get("text") or "")))[:8]
        print("  lowest page F1 among stored: " + ", ".join(
            f"{o.page.id[:24]} {page_f1(string_shingle_matching(o.page.truth, o.article.get('text') or '')):.2f}"
            for o in worst))


# ---------------------------------------------------------------- in-process comparison (--compare)

def in_process(spec: LabelledSet, page: Labelled) -> str:
    """What the in-process benchmarks get for this page (their own calls, their own URL)."""
    url = page.url or "https://example.com/"
    if spec.kind == "date":
        from _dates_dev import _tipwatch
        return _tipwatch(page.body, url)[0] or ""
    from extraction_quality import _ours

    from pipeline.extract.article import decode_html
    html = decode_html(page.body, None) if spec.name == "extraction" else page.body.decode("utf-8", "replace")
    return _ours(html, url)


def compare(spec: LabelledSet, outs: list[Outcome]) -> dict:
    ours = {o.page.id: in_process(spec, o.page) for o in outs}
    if spec.kind == "date":
        hits = sum(bool(v) and v[:10] == o.page.truth for o, v in zip(outs, ours.values(), strict=True))
        figure = {"exact_day": round(hits / len(outs), 4)}
        print(f"  in process: exact day {share_text(hits, len(outs))}")
        differ = [o for o in outs if (ours[o.page.id] or "")[:10] != ((o.article or {}).get("published") or "")[:10]]
    else:
        figure = {k: round(v, 4) for k, v in metrics(
            [string_shingle_matching(o.page.truth, ours[o.page.id]) for o in outs]).items()}
        print(f"  in process: F1 {figure['f1']:.3f} P {figure['precision']:.3f} R {figure['recall']:.3f}")
        differ = [o for o in outs if ours[o.page.id] != ((o.article or {}).get("text") or "")]
    print(f"  stored value differs from the in-process one: {len(differ)} pages")
    for o in differ:
        got = (o.article or {}).get("published" if spec.kind == "date" else "text") or ""
        detail = (f"in process {ours[o.page.id][:25]} stored {got[:25]}" if spec.kind == "date" else
                  f"in process {len(ours[o.page.id])} chars, stored {len(got)} chars")
        print(f"    {o.page.id[:56]:56} {detail}" + (" (not stored)" if o.article is None else ""))
    return {"in_process": figure, "stored_differs": [o.page.id for o in differ]}


# ---------------------------------------------------------------- the report

def report_set(spec: LabelledSet, outs: list[Outcome], stats: dict, with_compare: bool) -> tuple[dict, list]:
    print(f"== {spec.name} ({spec.folder}): {len(outs)} pages served, {sum(o.article is not None for o in outs)} "
          f"stored; crawl counters: " + ", ".join(f"{k} {v}" for k, v in stats.items()
                                                  if isinstance(v, int) and v and k not in ("run_id", "id")))
    table = date_scores(outs) if spec.kind == "date" else text_scores(outs)
    misses(spec, outs)
    figures = {"pages": len(outs), "stored": sum(o.article is not None for o in outs), "scores": table,
               "requests_matched": dict(Counter(o.requested or "never" for o in outs)),
               "query_lost": [o.page.id for o in outs if o.requested == "part of its query"],
               "not_stored": print_losses(outs)}
    if with_compare:
        figures["compare"] = compare(spec, outs)
    targets = [target(f"{spec.name}: stored {figure}", f">= {goal}", table["all"][figure],
                      table["all"][figure] >= goal) for figure, goal in spec.targets]
    return figures, targets


def skipped_targets(spec: LabelledSet) -> list[dict]:
    return [target(f"{spec.name}: stored {figure}", f">= {goal}", None, None) for figure, goal in spec.targets]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=[*SETS, "all"], default="all", help="which labelled set(s) (default all)")
    parser.add_argument("--paths", choices=["original", "id"], default="original",
                        help="serve each page at its original URL's path and query (default) or at /<id>.html")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR and keep it (database, crawl log)")
    parser.add_argument("--lenient-query", action="store_true",
                        help="also answer a request that lost part of its query with the one page of that path "
                             "whose query holds the rest (default: 404, as a server keyed on path and query)")
    parser.add_argument("--compare", action="store_true", help="also run the in-process extraction and compare")
    parser.add_argument("--timeout", type=float, default=CRAWL_TIMEOUT_S, help="seconds the crawl may take")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    chosen = [SETS[args.set]] if args.set != "all" else list(SETS.values())
    figures, targets, notes, loaded = {"paths": args.paths}, [], [], {}
    for spec in chosen:
        pages, why = load_set(spec)
        if pages:
            loaded[spec.name] = pages
        else:
            print(why or f"{spec.name}: no pages")
            figures[spec.name] = {"skipped": why or "no pages"}
            targets += skipped_targets(spec)
            notes.append(why)
    if not loaded:
        emit(NAME, figures, targets, notes)
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="tipwatch-crawl-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        status = crawl_and_score(args, loaded, work, figures, targets, notes)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if status is None:
        return 1
    emit(NAME, figures, targets, notes)
    return 0


def crawl_and_score(args, loaded: dict, work: Path, figures: dict, targets: list, notes: list) -> int | None:
    with ExitStack() as stack:
        sites = {name: stack.enter_context(serve(pages, args.paths, not args.lenient_query))
                 for name, pages in loaded.items()}
        sources = write_sources(work / "sources.toml", {name: site.base_url for name, site in sites.items()})
        status, seconds, output = run_crawl(work, sources, args.timeout)
        print(f"crawl: exit {status}, {seconds:.0f} s" + (f"\n{output[-3000:]}" if output else ""), flush=True)
        db = work / "crawl.db"
        if not db.exists():
            print("the crawl made no database: nothing to score")
            return None
        found = read_db(db)
        results = {name: outcomes(pages, sites[name].base_url, found, sites[name].server.matched)
                   for name, pages in loaded.items()}
    figures["crawl"] = {"exit": status, "seconds": round(seconds, 1)}
    if status != 0:
        notes.append(f"the crawl ended with exit {status} (None: stopped at the {args.timeout:g} s bound)")
    for name, outs in results.items():
        set_figures, set_targets = report_set(SETS[name], outs, found["stats"].get(name, {}), args.compare)
        figures[name] = set_figures
        targets.extend(set_targets)
    notes.append(f"pages served at their {'original URL path and query' if args.paths == 'original' else '/<id>.html'}"
                 " on 127.0.0.1, found through a sitemap index; a page not stored scores as an empty prediction")
    if args.keep:
        notes.append(f"work directory kept: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
