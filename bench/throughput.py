"""Pipeline throughput, incremental cost and memory of a real `tipwatch crawl` (issue 7: 2, 3, 6).

One setup serves N article pages (real news pages of the extraction benchmark, replicated under
distinct URLs; the bundled sample pages when that data is missing) from a loopback HTTP server
with a sitemap index and a feed, then:

  1. rounds (3 by default), each:
     a. a crawl: `tipwatch crawl --db <empty> --sources <file>` as a subprocess, timed, with the
        peak memory of its whole process tree (the crawl and its extraction workers) sampled;
     b. the baseline right after it, in this process, on the same page bytes from memory:
        trafilatura alone (text and metadata, what any news pipeline needs from it);
     the ratio of their speeds is taken per round, and the target judged on the median, so that
     a slow spell of a shared machine weighs on both sides of a ratio;
  2. a re-crawl of the last round's database with nothing new: requests, articles re-fetched, time;
  3. references in this process: trafilatura's text-only call, and tipwatch's own `process_page`
     (the exact work the crawl's workers do), which also checks that the crawl stored exactly
     what `process_page` extracts (same extraction quality).

Figures are ratios to the baselines measured in the same run. Nothing leaves 127.0.0.1.

    .venv/bin/python bench/throughput.py [--pages 2000] [--rounds 2] [--workers 0] [-s NAME=VALUE ...]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from tipwatch.samplesites import LoopbackHTTPServer, QuietHandler, ServedInThread, write_loopback_sources

from _common import REPO, SHARED_DATA, emit, rate, target

BENCHMARK_PAGES = SHARED_DATA / "article-extraction-benchmark"
SPEEDUP_TARGET = 1.5          # crawl articles/s ÷ single-process trafilatura articles/s
RECRAWL_TIME_TARGET = 0.05    # re-crawl time ÷ first crawl time
RSS_TARGET_MB = 400
SITEMAP_CHUNK = 500           # URLs per child sitemap, as big news sites split theirs


@dataclass(frozen=True)
class Page:
    name: str    # distinct page it replicates
    body: bytes


# ---------------------------------------------------------------- the pages

def benchmark_pages() -> list[Page]:
    truth = json.loads((BENCHMARK_PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = BENCHMARK_PAGES / "html" / f"{key}.html.gz"
        if path.exists():
            pages.append(Page(key, gzip.decompress(path.read_bytes())))
    return pages


def sample_pages() -> list[Page]:
    """The sample sites' article pages. Their {{BASE}} links point off-site here, so a replica's
    canonical link does not fold it into the original (each replica is its own article)."""
    from tipwatch.samplesites import SITES_DIR, manifest

    pages = []
    for article in manifest():
        path = SITES_DIR / article["site"] / article["path"].lstrip("/")
        if path.is_file():
            name = article["site"] + "-" + Path(article["path"]).stem
            pages.append(Page(name, path.read_bytes().replace(b"{{BASE}}", b"https://sample.invalid")))
    return pages


def load_pages(samples: bool = False) -> tuple[list[Page], str, str | None]:
    """(distinct pages, what they are, a warning when they are not the real pages)."""
    if not samples and (BENCHMARK_PAGES / "ground-truth.json").exists():
        return benchmark_pages(), f"real news pages of {BENCHMARK_PAGES.name}", None
    why = "asked for" if samples else f"{BENCHMARK_PAGES} is missing"
    return sample_pages(), "sample pages of tests/sites", (
        f"{why}: served the bundled sample pages instead, which are small and "
        "synthetic, so these ratios are not comparable with a run on the real pages")


def replicate(distinct: list[Page], at_least: int) -> list[Page]:
    """Every distinct page the same number of times, at least `at_least` pages in all, so the
    baseline's mix of pages is the crawl's mix."""
    copies = -(-at_least // len(distinct))
    return [page for _ in range(copies) for page in distinct]


# ---------------------------------------------------------------- the site

def article_path(index: int, page: Page) -> str:
    return f"/news/{index:05d}/{page.name}.html"


def site_documents(pages: list[Page], base: str, paths: list[str] | None = None) -> dict[str, tuple[bytes, str]]:
    """path → (body, content type): robots.txt, a sitemap index with its children, a feed of
    the newest 50 articles (overlapping the sitemap, as real feeds do) and the article pages, at
    `paths` (path and query, one per page; default: article_path)."""
    paths = paths or [article_path(i, page) for i, page in enumerate(pages)]
    docs = {"/robots.txt": (b"User-agent: *\nAllow: /\n", "text/plain; charset=utf-8")}
    children = []
    for start in range(0, len(paths), SITEMAP_CHUNK):
        child = f"/sitemaps/part-{start // SITEMAP_CHUNK + 1}.xml"
        children.append(child)
        urls = "".join(f"<url><loc>{escape(base + p)}</loc></url>" for p in paths[start:start + SITEMAP_CHUNK])
        docs[child] = (_urlset(urls), "application/xml; charset=utf-8")
    index = "".join(f"<sitemap><loc>{base}{c}</loc></sitemap>" for c in children)
    docs["/sitemap.xml"] = (('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
                             'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                             f"{index}</sitemapindex>").encode(), "application/xml; charset=utf-8")
    items = "".join(f"<item><title>Article {i}</title><link>{escape(base + p)}</link></item>"
                    for i, p in enumerate(paths[-50:]))
    docs["/feed.rss"] = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>'
                         f"<link>{base}/</link>{items}</channel></rss>".encode(), "application/rss+xml; charset=utf-8")
    for path, page in zip(paths, pages, strict=True):
        # no charset: the crawl must find the page's own encoding, as trafilatura alone does
        docs[path] = (page.body, "text/html")
    return docs


def _urlset(urls: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{urls}</urlset>").encode()


class BenchSite(ServedInThread):
    """A threaded HTTP/1.1 server on 127.0.0.1 answering from memory; index documents carry an
    ETag and answer If-None-Match with 304, as news sites' CDNs do."""

    def __init__(self, pages: list[Page], paths: list[str] | None = None, handler: type | None = None):
        self.server = LoopbackHTTPServer(("127.0.0.1", 0), handler or _Handler)  # binds without a DNS look-up
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.server.documents = site_documents(pages, self.base_url, paths)



class _Handler(QuietHandler):
    def lookup(self) -> tuple[bytes, str] | None:
        """The document a request asks for (its path; the query is ignored)."""
        return self.server.documents.get(self.path.split("?", 1)[0])

    def do_GET(self):
        found = self.lookup()
        if found is None:
            return self._send(404, b"not found", "text/plain")
        body, content_type = found
        if content_type.startswith("text/html"):
            return self._send(200, body, content_type)
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            return self._send(304, b"", content_type, etag)
        self._send(200, body, content_type, etag)

    def _send(self, status: int, body: bytes, content_type: str, etag: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)


def write_sources(path: Path, base: str) -> Path:
    """The benchmark site as one source; its pages are years old: no look-back window."""
    return write_loopback_sources(path, [{
        "name": "bench", "title": "Benchmark site", "language": "en", "feeds": [f"{base}/feed.rss"],
        "sitemaps": [f"{base}/sitemap.xml"], "article_pattern": r"/news/\d+/[^/]+\.html$", "lookback_days": 0}],
        comment="the benchmark site on loopback (bench/throughput.py)")


# ---------------------------------------------------------------- memory of a process tree

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # the command name may hold spaces and parentheses: fields start after the last ')'
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            for line in rollup:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_pids(root: int) -> list[int]:
    children, found, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


class PeakMemory:
    """Samples a process tree's memory in a thread and keeps the peaks: the sum of RSS every
    `interval` seconds (pages shared by processes, such as libraries, count once per process, so
    it errs high) and, every `pss_every` samples, the sum of PSS (shared pages split between
    their processes: what the tree really takes; reading it costs more)."""

    def __init__(self, pid: int, interval: float = 0.1, pss_every: int = 10):
        self.pid, self.interval, self.pss_every = pid, interval, pss_every
        self.peak_rss, self.peak_pss, self.peak_processes = 0, 0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        samples = 0
        while not self.done.wait(self.interval):
            pids = tree_pids(self.pid)
            rss = sum(_rss_bytes(pid) for pid in pids)
            if rss > self.peak_rss:
                self.peak_rss, self.peak_processes = rss, len(pids)
            samples += 1
            if samples % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, sum(_pss_bytes(pid) for pid in pids))

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.done.set()
        self.thread.join()


# ---------------------------------------------------------------- the crawls

@dataclass
class CrawlRun:
    seconds: float
    cpu_seconds: float     # user + system time of the crawl and all its processes
    returncode: int
    peak_rss_mb: float
    peak_pss_mb: float
    peak_processes: int
    stats: dict
    output: str


def run_crawl(db: Path, sources: Path, log: Path, settings: list[str]) -> CrawlRun:
    """The real command, as the daemon runs it: `python -m tipwatch.cli crawl ...`."""
    command = [sys.executable, "-m", "tipwatch.cli", "crawl", "--db", str(db), "--sources", str(sources),
               "--log-file", str(log)]
    for setting in settings:
        command += ["-s", setting]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(process.pid) as memory:
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    return CrawlRun(seconds, _children_cpu() - cpu_before, process.returncode, round(memory.peak_rss / 2**20, 1),
                    round(memory.peak_pss / 2**20, 1), memory.peak_processes, latest_run_stats(db), output.strip())


def _children_cpu() -> float:
    """CPU seconds of this process's finished descendants: the crawl, and its workers (which it
    waits for), counted once they have all exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def latest_run_stats(db: Path) -> dict:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM crawl_source_stats WHERE run_id = (SELECT max(id) FROM crawl_runs)"
                           " AND source = 'bench'").fetchone()
    return dict(row) if row else {}


# ---------------------------------------------------------------- baselines

@dataclass
class Timing:
    pages: int
    seconds: float
    cpu_seconds: float

    @property
    def per_s(self) -> float:
        return rate(self.pages, self.seconds)


def timed(pages: list[Page], extract) -> Timing:
    extract(0, pages[0])  # imports and first-call caches are not what is measured
    started, cpu = time.perf_counter(), time.process_time()
    for i, page in enumerate(pages):
        extract(i, page)
    return Timing(len(pages), time.perf_counter() - started, time.process_time() - cpu)


def trafilatura_alone(distinct: list[Page], copies: int, base: str) -> Timing:
    """trafilatura alone in this process (one core), from memory, with the metadata a news pipeline
    needs (title, date, author): the baseline of the target."""
    import trafilatura

    def with_metadata(i, page):
        trafilatura.bare_extraction(page.body, url=base + article_path(i, page), with_metadata=True)

    return timed(distinct * copies, with_metadata)


def trafilatura_text_only(distinct: list[Page]) -> Timing:
    """trafilatura's text-only call, for reference."""
    import trafilatura

    return timed(distinct, lambda i, page: trafilatura.extract(page.body, include_comments=False))


def stored_articles(db: Path) -> dict[str, dict]:
    """url key → stored article, under every URL it was seen by (a page whose canonical link
    names another URL of the site is stored under that one)."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT u.url AS key, a.title, a.text, a.published, a.author, a.language "
                            "FROM article_urls u JOIN articles a ON a.id = u.article_id").fetchall()
    return {row["key"]: dict(row) for row in rows}


def process_page_check(distinct: list[Page], db: Path, base: str) -> tuple[Timing, dict]:
    """`process_page` (the crawl workers' job: decode, extract, classify) in this process on the
    first replica of each distinct page: its speed on one core, and whether the crawl stored
    exactly what it extracts (the crawl changes nothing in extraction quality)."""
    from pipeline.process import process_page
    from pipeline.store import open_db
    from pipeline.urls import url_key
    from tipwatch.config import load
    from tipwatch.stages import stage_settings

    stages = stage_settings(load(), open_db(db))  # as the crawl resolves them
    results = {}

    def extract(i, page):
        url = base + article_path(i, page)
        results[url] = process_page({"url": url, "body": page.body, "encoding": None, "language": "en"}, stages)

    timing = timed(distinct, extract)
    stored, fields = stored_articles(db), ("title", "text", "published", "author", "language")
    check = {"same": 0, "differ": 0, "failed": 0}
    for url, result in results.items():
        row = stored.get(url_key(url))
        if result["ok"]:
            same = row is not None and all(row[key] == result["article"].get(key) for key in fields)
        else:  # a page process_page rejects must not be stored either
            check["failed"] += 1
            same = row is None
        check["same" if same else "differ"] += 1
    return timing, check


# ---------------------------------------------------------------- the report

def crawl_settings(args) -> list[str]:
    settings = list(args.set)
    if args.workers:
        settings.append(f"TIPWATCH_EXTRACT_WORKERS={args.workers}")
    return settings


def print_crawl(label: str, run: CrawlRun) -> None:
    s = run.stats
    print(f"{label}: {run.seconds:.1f} s ({run.cpu_seconds:.1f} s CPU), exit {run.returncode}, "
          f"{s.get('requests')} requests, {s.get('articles_fetched')} articles fetched, "
          f"{s.get('articles_stored')} stored, {s.get('extraction_failures')} extraction failures, "
          f"{s.get('errors')} errors; peak memory {run.peak_rss_mb} MB RSS, {run.peak_pss_mb} MB PSS "
          f"over {run.peak_processes} processes", flush=True)
    if run.returncode:
        print(run.output[-2000:])


@dataclass
class Round:
    """One crawl into an empty database, then trafilatura alone right after it: their ratio is
    taken within the round, so a slow spell of the machine weighs on both sides."""
    crawl: CrawlRun
    baseline: Timing

    @property
    def crawl_per_s(self) -> float:
        return rate(self.crawl.stats.get("articles_fetched") or 0, self.crawl.seconds)

    @property
    def ratio(self) -> float:
        return round(self.crawl_per_s / self.baseline.per_s, 3) if self.baseline.per_s else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="article pages to serve (at least; default 2000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="crawl + baseline rounds; the target is judged on the median ratio (default 3)")
    parser.add_argument("--baseline-copies", type=int, default=2,
                        help="trafilatura's baseline extracts every distinct page this many times per round "
                             "(default 2)")
    parser.add_argument("--workers", type=int, default=0, help="TIPWATCH_EXTRACT_WORKERS for the crawl (0: default)")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                        help="extra Scrapy setting for the crawl (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (database, crawl log)")
    parser.add_argument("--sample-pages", action="store_true",
                        help="serve the bundled sample pages even when the benchmark's real pages are there "
                             "(a quick check that the benchmark runs)")
    args = parser.parse_args()

    distinct, origin, warning = load_pages(args.sample_pages)
    if not distinct:
        print("no pages to serve: neither the benchmark data nor the sample sites were found")
        return 1
    pages = replicate(distinct, args.pages)
    notes = [warning] if warning else []
    notes.append(f"pages: {len(pages)} = {len(distinct)} distinct {origin}, each {len(pages) // len(distinct)} "
                 "times under its own URLs, found through a sitemap index and a feed on 127.0.0.1")
    print("\n".join(notes), flush=True)
    work = Path(tempfile.mkdtemp(prefix="tipwatch-bench-"))
    log, settings = work / "crawl.log", crawl_settings(args)
    rounds: list[Round] = []
    with BenchSite(pages) as site:
        sources = write_sources(work / "sources.toml", site.base_url)
        for number in range(1, max(1, args.rounds) + 1):
            db = work / f"bench-{number}.db"
            crawl = run_crawl(db, sources, log, settings)
            print_crawl(f"crawl, round {number}", crawl)
            if crawl.returncode:
                print(f"the crawl failed; its log: {log}")
                return 1
            baseline = trafilatura_alone(distinct, args.baseline_copies, site.base_url)
            rounds.append(Round(crawl, baseline))
            print(f"trafilatura alone, round {number}: {baseline.per_s} articles/s; "
                  f"crawl ÷ trafilatura {rounds[-1].ratio}", flush=True)
        again = run_crawl(db, sources, log, settings)  # the last round's database, nothing new
        print_crawl("re-crawl", again)
    if again.returncode:
        print(f"the re-crawl failed; its log: {log}")
        return 1
    print("references in this process (one core) ...", flush=True)
    traf_text = trafilatura_text_only(distinct)
    pp, check = process_page_check(distinct, db, site.base_url)
    figures, targets = summarize(rounds, again, pages, traf_text, pp, check)
    notes += [f"{len(rounds)} rounds, each a crawl into an empty database followed by trafilatura alone "
              f"(bare_extraction, with_metadata=True: the target's baseline) on every distinct page "
              f"{args.baseline_copies} times; the target is judged on the median of the rounds' ratios",
              "references: trafilatura's text-only call and tipwatch's process_page (decode, extract, classify "
              "with rules and model), each once per distinct page",
              "crawl settings: the defaults (robots.txt, AutoThrottle, 4 requests per site)"
              + (", and " + " ".join(settings) if settings else ""),
              "memory: peak over the rounds of the sum over the crawl process and its extraction workers, RSS "
              "sampled every 0.1 s, PSS every second"]
    if args.keep:
        notes.append(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    emit("throughput", figures, targets, notes)
    return 0


def summarize(rounds: list[Round], again: CrawlRun, pages: list[Page], traf_text: Timing, pp: Timing,
              check: dict) -> tuple[dict, list[dict]]:
    last = rounds[-1]
    speedup = round(statistics.median(r.ratio for r in rounds), 2)
    time_ratio = round(again.seconds / last.crawl.seconds, 4) if last.crawl.seconds else None
    processed = sum(r.crawl.stats.get("articles_fetched") or 0 for r in rounds)
    crawl_cpu = sum(r.crawl.cpu_seconds for r in rounds)
    baseline_pages, baseline_cpu = sum(r.baseline.pages for r in rounds), sum(r.baseline.cpu_seconds for r in rounds)
    peak = max(rounds, key=lambda r: r.crawl.peak_rss_mb).crawl
    compared = check["same"] + check["differ"]
    figures = {
        "pages_served": len(pages),
        "crawl_seconds": [round(r.crawl.seconds, 1) for r in rounds],
        "crawl_articles_processed": last.crawl.stats.get("articles_fetched"),
        "crawl_articles_stored": last.crawl.stats.get("articles_stored"),
        "crawl_extraction_failures": last.crawl.stats.get("extraction_failures"),
        "crawl_articles_per_s": [r.crawl_per_s for r in rounds],
        "trafilatura_alone_per_s": [r.baseline.per_s for r in rounds],
        "crawl_vs_trafilatura_by_round": [r.ratio for r in rounds],
        "crawl_vs_trafilatura": speedup,
        "trafilatura_text_only_per_s": traf_text.per_s,
        "process_page_one_core_per_s": pp.per_s,
        "cpu_ms_per_article": {
            "crawl_all_processes": round(1000 * crawl_cpu / processed, 1) if processed else None,
            "process_page": round(1000 * pp.cpu_seconds / pp.pages, 1),
            "trafilatura_alone": round(1000 * baseline_cpu / baseline_pages, 1),
        },
        "stored_as_process_page": f"{check['same']}/{compared}",
        "recrawl_seconds": round(again.seconds, 2),
        "recrawl_requests": again.stats.get("requests"),
        "recrawl_articles_fetched": again.stats.get("articles_fetched"),
        "recrawl_time_ratio": time_ratio,
        "crawl_peak_rss_mb": peak.peak_rss_mb,
        "crawl_peak_pss_mb": max(r.crawl.peak_pss_mb for r in rounds),
        "crawl_peak_processes": peak.peak_processes,
    }
    for key, value in figures.items():
        print(f"  {key:32} {value}")
    targets = [
        target("crawl throughput", f">= {SPEEDUP_TARGET}x single-process trafilatura", speedup,
               speedup >= SPEEDUP_TARGET),
        target("extraction in the crawl", "stored article = process_page output", figures["stored_as_process_page"],
               check["differ"] == 0 and compared > 0),
        target("re-crawl: articles re-fetched", "0", again.stats.get("articles_fetched"),
               again.stats.get("articles_fetched") == 0),
        target("re-crawl time", f"<= {RECRAWL_TIME_TARGET:.0%} of the first crawl", time_ratio,
               time_ratio is not None and time_ratio <= RECRAWL_TIME_TARGET),
        target("crawl peak memory (sum of RSS)", f"< {RSS_TARGET_MB} MB", peak.peak_rss_mb,
               peak.peak_rss_mb < RSS_TARGET_MB),
    ]
    return figures, targets


if __name__ == "__main__":
    sys.exit(main())
