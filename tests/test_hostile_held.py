"""Hostile web cases that hold today, kept held (issue 12): the real `tipwatch crawl` against a
site the test serves itself on 127.0.0.1 (tests/hostile_site.py).

One module-scoped crawl, run twice, covers the misbehaving pages: error statuses, a slow drip,
silence after the headers, Content-Length lies both ways, a cut chunked body, a connection reset,
gzip bombs (one and two layers), a 60 MB page, broken encodings, a PDF served as HTML, 5 MB of
nested divs and an XSS-shaped title (then followed into the digest, email, Slack and Datasette).
Feed and sitemap attacks (10,000 items, billion laughs, XXE) get their own crawl (see
`discovery`), and so does a crawl killed with SIGKILL halfway (`killed`), whose re-run of
ordinary pages is also the memory baseline.

Tested elsewhere, not repeated here: a page that never answers and a runaway page with an honest
Content-Length (test_badsite.py), Datasette refusing writes (test_serve.py), secrets masked
(test_channels.py), the escaping functions on made-up digests (test_channels.py, test_digest.py).
"""
from __future__ import annotations

import gzip
import html
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlite_utils
from test_channels import EVIL_TITLE, Collector, LinkCounter
from test_extract import VI_FIRST, VI_TITLE
from test_serve import get, running_server

from pipeline.urls import url_key

from conftest import REPO, smtp_server, tipwatch
from hostile_site import (
    HostileSite,
    drip,
    gzip_bomb,
    gzip_stream,
    gzip_zeros,
    hang,
    huge,
    reset,
    static,
    truncated_chunked,
    wait_for,
    wrong_length,
)
from slack_receiver import SlackReceiver

# one extraction worker: each takes ~3 s of CPU to start (trafilatura, the model), and the
# module runs five crawls
LIMITS = ["-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=0", "-s", "AUTOTHROTTLE_START_DELAY=0",
          "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "TIPWATCH_EXTRACT_WORKERS=1"]
PAGES = Path(__file__).parent / "extract_pages"
RSS_MARGIN_KB = 256 * 1024
PUBLISHED = "2026-11-21T10:00:00+07:00"
# runs a command and reports the peak RSS of its process tree (the crawl and its extraction
# workers: Linux folds a reaped child's peak into its parent's RUSAGE_CHILDREN)
PEAK_RSS = ("import resource, subprocess, sys\n"
            "code = subprocess.call(sys.argv[1:])\n"
            "print('peak-rss-kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(code)\n")


# ---------------------------------------------------------------- pages

def article_html(title: str, paragraphs: list[str], charset: str = "utf-8") -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="{charset}"><title>{html.escape(title)}</title>'
            f'<meta property="article:published_time" content="{PUBLISHED}"></head>'
            f'<body><div class="menu"><a href="/">Home</a> <a href="/news/">News</a></div>'
            f"<article><h1>{html.escape(title)}</h1>{body}</article>"
            f'<div class="footer">Copyright Hostile sample site</div></body></html>')


ORDINARY = {
    "/news/200001/police-rescue-workers-from-scam-compound.html": (
        "Police rescue 14 workers held in a scam compound", [
            "AN GIANG — Provincial police said on Friday they had rescued 14 young people who were lured "
            "across the border with promises of well-paid office jobs and then forced to work in an online "
            "scam compound.",
            "The victims told investigators that their passports were taken on arrival and that they were "
            "beaten when they failed to meet their targets. Police described the case as human trafficking "
            "and said three recruiters had been arrested.",
            "All 14 have returned home and are receiving medical care and counselling under the national "
            "programme against trafficking in persons, the police said."]),
    "/news/200002/city-opens-riverside-park.html": (
        "City opens a new riverside park after two years of work", [
            "DA NANG — The city opened a new riverside park on Saturday, with walking paths, a playground "
            "and a small amphitheatre for weekend concerts.",
            "The park replaces a row of warehouses that had stood empty for a decade. Officials said the "
            "project took two years and cost less than planned because much of the old brick was reused.",
            "Residents who came for the opening said the paths were already busy with joggers at dawn, and "
            "food stalls are expected to open along the river next month."]),
    "/news/200003/court-jails-broker-who-sold-fishermen.html": (
        "Court jails labour broker who sold fishermen to foreign boats", [
            "KIEN GIANG — A provincial court on Thursday sentenced a labour broker to twelve years in prison "
            "for trafficking in persons after he sold eleven men to fishing boats operating far offshore.",
            "Prosecutors said the broker promised the men factory work and a salary of ten million dong a "
            "month, then handed them to boat owners who kept them at sea for up to two years without pay.",
            "Two of the victims testified that they were threatened with violence when they asked to go "
            "home. The court also ordered the broker to pay compensation to every victim."]),
}
XSS_PATH = "/news/300903/xss-shaped-title.html"
XSS_PARAGRAPHS = ORDINARY["/news/200001/police-rescue-workers-from-scam-compound.html"][1][:2] + [
    "Officers said the group had advertised the jobs on social media and paid for the victims' "
    "travel, then demanded they repay the cost many times over before they could leave."]
UTF16_TITLE = "Court jails Nguyễn Văn Hùng for selling workers to a fishing fleet"
LATIN1_TITLE = "Almería growers expect a record tomato harvest, says José Ramírez"


def ordinary_page(path: str) -> bytes:
    title, paragraphs = ORDINARY[path]
    return article_html(title, paragraphs).encode()


def windows_1258_undeclared() -> bytes:
    """The extraction tests' windows-1258 page, dated inside the crawl window, served with no charset."""
    body = (PAGES / "vi_windows1258.html").read_bytes()
    assert b"05/03/2008" in body
    return body.replace(b"05/03/2008", b"21/11/2026")


def utf16_page() -> bytes:
    paragraphs = ["HA NOI — The People's Court sentenced Nguyễn Văn Hùng, 46, to fourteen years in prison on "
                  "Tuesday for trafficking in persons after he sold nine workers to a fishing fleet.",
                  "Hùng recruited the men in Thanh Hóa and Nghệ An with promises of factory jobs abroad, "
                  "prosecutors said, and kept their passports until the boats left port.",
                  "The workers were rescued in a joint operation last year and have returned home."]
    return article_html(UTF16_TITLE, paragraphs, charset="utf-16").encode("utf-16")


def latin1_page() -> bytes:
    paragraphs = ["ALMERÍA, Spain - Greenhouse growers around Níjar expect their largest tomato harvest in a decade, "
                  "José Ramírez, who leads the growers' cooperative, said on Monday.",
                  "Señor Ramírez said the mild autumn and new water-saving irrigation had helped, and that "
                  "exports to northern Europe would start earlier than usual this year.",
                  "The cooperative's 300 members employ about 2,000 seasonal workers during the harvest."]
    return article_html(LATIN1_TITLE, paragraphs).encode("latin-1")  # says utf-8, is latin-1


def pdf_bytes() -> bytes:
    stream = bytes(range(256)) * 200
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 51200 >>\nstream\n" + stream + b"\nendstream\n%%EOF\n"


def nested_divs(megabytes: int = 5) -> bytes:
    depth = megabytes * (1 << 20) // len("<div></div>")
    title, paragraphs = ORDINARY["/news/200002/city-opens-riverside-park.html"]
    inner = f"<h1>{title}</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<html><head><title>{title}</title></head><body>" + "<div>" * depth + inner
            + "</div>" * depth + "</body></html>").encode()


# ---------------------------------------------------------------- the hostile site

# path → (behaviour, crawl_errors kinds it may leave); None: the page is stored
def hostile_cases() -> dict:
    page = ordinary_page("/news/200002/city-opens-riverside-park.html")
    return {
        "/news/300404/missing-page.html": (static(b"<h1>Not found</h1>", status=404), {"http"}),
        "/news/300410/removed-page.html": (static(b"<h1>Gone</h1>", status=410), {"http"}),
        "/news/300500/server-error.html": (static(b"<h1>Error</h1>", status=500), {"http"}),
        # Retry-After pauses the whole host (issue 12), so every article still queued when
        # this answer arrives waits that long: short enough for the test's time bound
        "/news/300503/server-busy.html": (static(b"<h1>Busy</h1>", status=503, headers={"Retry-After": "2"}),
                                          {"http"}),
        "/news/300601/slow-drip.html": (drip(page, per_second=64), {"timeout"}),
        "/news/300602/silent-after-headers.html": (hang(after_headers=True), {"timeout"}),
        "/news/300603/length-says-more.html": (wrong_length(page[:800], declared=len(page)), {"connection"}),
        "/news/300605/chunked-cut-short.html": (truncated_chunked(page * 4), {"connection"}),
        "/news/300606/connection-reset.html": (reset(), {"connection"}),
        "/news/300701/gzip-bomb.html": (gzip_bomb(1024), {"too-large"}),
        "/news/300702/double-gzip-bomb.html": (gzip_bomb(1024, layers=2), {"too-large"}),
        "/news/300703/sixty-megabytes.html": (huge(60), {"too-large"}),
        "/news/300901/pdf-served-as-html.html": (static(pdf_bytes()), {"extraction", "parse"}),
        # stored, with the right text
        "/news/300902/nested-divs.html": (static(nested_divs()), None),  # read again flattened
        "/news/300604/length-says-less.html": (wrong_length(page + b"<p>JUNK AFTER THE DECLARED LENGTH</p>" * 50,
                                                            declared=len(page)), None),
        "/news/300801/windows-1258-undeclared.html": (static(windows_1258_undeclared(), content_type="text/html"),
                                                      None),
        "/news/300802/nfd-text.html": (static((PAGES / "vi_nfd.html").read_bytes()), None),
        "/news/300803/utf-16.html": (static(utf16_page(), content_type="text/html; charset=utf-16"), None),
        "/news/300804/latin-1-declared-utf-8.html": (static(latin1_page()), None),
        XSS_PATH: (static(article_html(EVIL_TITLE, XSS_PARAGRAPHS).encode()), None),
    }


# "lol" a thousand times over, nested ten deep: 3 KB × 10⁹ once expanded. (With a 3-byte "lol",
# feedparser takes ~6 s of its per-string callbacks to reach expat's amplification limit.)
LAUGHS_DTD = f'<!ENTITY lol "{"lol" * 1000}">' + "".join(
    f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
# what each attack links to: requested (a 404) when the parser read past the attack
LINKED = {"laughs-feed": "/news/600001/laughs-feed-item.html", "xxe-feed": "/news/600002/xxe-feed-item.html",
          "xxe-sitemap": "/news/600003/xxe-sitemap-item.html",
          "laughs-sitemap": "/news/600004/laughs-sitemap-item.html"}


def big_feed(base: str, count: int = 10_000) -> bytes:
    """`count` old items (before the crawl window): parsed, dated, and none fetched."""
    items = "".join(f"<item><title>Archive story {i}</title><link>{base}/news/{500000 + i}/archive-{i}.html</link>"
                    "<pubDate>Mon, 07 Jan 2019 08:00:00 +0700</pubDate></item>" for i in range(count))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Archive</title>'
            f"{items}</channel></rss>").encode()


def laughs_feed(base: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><!DOCTYPE rss [{LAUGHS_DTD}]><rss version="2.0"><channel>'
            f"<title>&lol9;</title><item><title>&lol9;</title><link>{base}{LINKED['laughs-feed']}</link>"
            "<pubDate>Sat, 21 Nov 2026 08:00:00 +0700</pubDate></item></channel></rss>").encode()


def xxe_doctype(base: str, root: str) -> str:
    # the external entities point at this very server: fetched, they would show in its log
    return (f'<!DOCTYPE {root} [<!ENTITY secret SYSTEM "file:///etc/passwd">'
            f'<!ENTITY probe SYSTEM "{base}/xxe-probe"><!ENTITY % remote SYSTEM "{base}/xxe-dtd"> %remote;]>')


def xxe_feed(base: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>{xxe_doctype(base, "rss")}<rss version="2.0"><channel>'
            f"<title>x</title><item><title>Leak &secret;</title><description>&probe;</description>"
            f"<link>{base}{LINKED['xxe-feed']}</link>"
            "<pubDate>Sat, 21 Nov 2026 08:00:00 +0700</pubDate></item></channel></rss>").encode()


def sitemap(base: str, doctype: str, path: str, title: str) -> bytes:
    """A Google News sitemap of one URL, under `doctype`, whose news:title is `title`."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{base}{path}</loc><lastmod>2026-11-21</lastmod>"
            f"<news:news><news:title>{title}</news:title></news:news></url></urlset>").encode()


KILL_COUNT = 20


def many_articles() -> dict[str, bytes]:
    """Distinct, storable articles (no two alike, so none is taken for another)."""
    pages = {}
    for n in range(KILL_COUNT):
        title = f"District {n + 1} reports case {n * 7919} of labour exploitation"
        paragraphs = [f"Officials in district {n + 1} said case {n * 7919} began when {n + 3} workers were "
                      f"recruited for jobs that paid {n + 2} million dong a month.",
                      f"Inspectors visited {n + 5} workshops in the district and found {n + 1} of them "
                      "without contracts for their staff, the provincial labour department said.",
                      f"The department said it would publish the results of its review of case {n * 7919} "
                      "before the end of the year."]
        pages[f"/news/{400000 + n}/district-{n + 1}-case-report.html"] = article_html(title, paragraphs).encode()
    return pages


def stored_paths(db_path: Path) -> set[str]:
    """Paths of the articles stored so far, read while a crawl may be writing (WAL: readers never block)."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
            return {"/" + row[0].split("/", 3)[-1] for row in conn.execute("SELECT url FROM articles")}
    except sqlite3.OperationalError:
        return set()  # not created yet


def rss(base: str, paths, published: str = "Sat, 21 Nov 2026 08:00:00 +0700") -> bytes:
    items = "".join(f"<item><title>Story</title><link>{base}{p}</link><pubDate>{published}</pubDate></item>"
                    for p in paths)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile</title>'
            f"<link>{base}/</link>{items}</channel></rss>").encode()


def write_sources(path: Path, base: str, name: str, feeds=(), sitemaps=()) -> Path:
    """A sources file for one site; loopback is allowed (the fetch guard refuses it otherwise)."""
    def urls(items) -> str:
        return "[" + ", ".join(f'"{base}{p}"' for p in items) + "]"

    path.write_text('allow_addresses = ["127.0.0.1"]\n\n'
                    f'[[source]]\nname = "{name}"\ntitle = "Hostile sample site"\nlanguage = "en"\n'
                    f"feeds = {urls(feeds)}\nsitemaps = {urls(sitemaps)}\n"
                    "article_pattern = '/news/\\d{6}/[a-z0-9-]+\\.html$'\nmax_pages = 1\n", encoding="utf-8")
    return path


def crawl(db: Path, sources: Path, *extra, **kwargs) -> subprocess.CompletedProcess:
    return tipwatch("crawl", "--db", db, "--sources", sources, "--since", "2020-01-01", *LIMITS, *extra, **kwargs)


class Crawl:
    """`tipwatch crawl` started in the background under the peak-RSS wrapper."""

    def __init__(self, db: Path, sources: Path, *extra, label: str = "crawl"):
        self.out, self.err = db.parent / f"{label}.out", db.parent / f"{label}.err"
        command = [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "tipwatch.cli", "crawl", "--db", str(db),
                   "--sources", str(sources), "--since", "2020-01-01", *LIMITS, *extra]
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=err, start_new_session=True)

    def finish(self) -> tuple[subprocess.CompletedProcess, int]:
        """The finished crawl's output, and the peak RSS (KB) of its process tree."""
        try:
            code = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.kill()  # the crawl too, not only the wrapper: nothing outlives the test
            log = self.out.parent / "crawl.log"  # the crawl's default log, beside its database
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            raise AssertionError(f"the crawl did not finish in 120 s; its log ends:\n{tail}") from None
        result = subprocess.CompletedProcess(self.process.args, code, self.out.read_text(), self.err.read_text())
        assert code == 0, result.stderr
        return result, int(re.search(r"^peak-rss-kb (\d+)$", result.stderr, re.M)[1])

    def kill(self) -> None:
        """SIGKILL to the crawl's whole process group (its own session): crawl and extraction
        worker die at once, as in a power cut."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def served_site(routes: dict, tmp: Path, name: str, feeds: dict = None, sitemaps: dict = None):
    """A started HostileSite with these routes plus its feeds/sitemaps (path → body maker of
    the base URL), and a sources file naming them."""
    site = HostileSite(routes).start()
    for path, make in {**(feeds or {}), **(sitemaps or {})}.items():
        site.routes[path] = static(make(site.base_url), content_type="application/xml; charset=utf-8")
    sources = write_sources(tmp / f"{name}.toml", site.base_url, name, feeds or (), sitemaps or ())
    return site, sources


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The hostile site crawled twice; the first run's peak memory."""
    tmp = tmp_path_factory.mktemp("hostile")
    cases = hostile_cases()
    routes = {**{p: static(ordinary_page(p)) for p in ORDINARY}, **{p: b for p, (b, _) in cases.items()}}
    site, sources = served_site(routes, tmp, "hostile",
                                feeds={"/feed.rss": lambda base: rss(base, [*ORDINARY, *cases])})
    db_path = tmp / "hostile.db"
    try:
        first, peak = Crawl(db_path, sources).finish()
        hits1 = dict(site.hits)
        second = crawl(db_path, sources)
        hits2 = {p: n - hits1.get(p, 0) for p, n in site.hits.items()}
    finally:
        site.stop()
    db = sqlite_utils.Database(db_path)
    return {"db": db, "db_path": db_path, "base": site.base_url, "sources": sources, "tmp": tmp, "cases": cases,
            "first": first, "second": second, "peak_kb": peak, "hits1": hits1, "hits2": hits2,
            "runs": [r[0] for r in db.execute("SELECT id FROM crawl_runs ORDER BY id")]}


@pytest.fixture(scope="module")
def discovery(tmp_path_factory):
    """Hostile feeds and sitemaps. A long download timeout: feedparser spends ~3 s on the
    10,000-item feed in the crawler's only thread, and a feed still downloading meanwhile would
    overrun the main crawl's 2 s."""
    tmp = tmp_path_factory.mktemp("discovery")
    feeds = {"/archive.rss": big_feed, "/laughs.rss": laughs_feed, "/xxe.rss": xxe_feed}
    sitemaps = {
        "/laughs-sitemap.xml": lambda base: sitemap(base, f"<!DOCTYPE urlset [{LAUGHS_DTD}]>",
                                                    LINKED["laughs-sitemap"], "&lol9;"),
        "/xxe-sitemap.xml": lambda base: sitemap(base, xxe_doctype(base, "urlset"), LINKED["xxe-sitemap"],
                                                 "&secret;&probe;")}
    dtd = static(b'<!ENTITY leak SYSTEM "file:///etc/hostname">', content_type="application/xml-dtd")
    site, sources = served_site({"/xxe-dtd": dtd}, tmp, "discovery", feeds, sitemaps)
    try:
        result = crawl(tmp / "discovery.db", sources, "-s", "DOWNLOAD_TIMEOUT=20")
    finally:
        site.stop()
    return {"result": result, "db": sqlite_utils.Database(tmp / "discovery.db"), "hits": dict(site.hits)}


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A crawl of KILL_COUNT ordinary articles (each answered after 0.2 s) killed with SIGKILL
    once a few are stored, then run again to the end (its peak memory: the baseline)."""
    tmp = tmp_path_factory.mktemp("killed")
    pages = many_articles()
    routes = {path: static(body, delay=0.2) for path, body in pages.items()}
    site, sources = served_site(routes, tmp, "many", feeds={"/feed.rss": lambda base: rss(base, pages)})
    db_path = tmp / "many.db"
    try:
        victim = Crawl(db_path, sources, label="killed")
        try:
            wait_for(lambda: len(stored_paths(db_path)) >= 4, seconds=60)
        finally:
            victim.kill()
        # requests the victim sent just before it died may still wait in the server's accept queue
        # on a loaded machine: counted only once the server is quiet, they are not the re-run's
        hits_before = settled_hits(site)
        stored_before = stored_paths(db_path)
        rerun, peak = Crawl(db_path, sources, label="rerun").finish()
    finally:
        site.stop()
    return {"db": sqlite_utils.Database(db_path), "base": site.base_url, "pages": pages, "rerun": rerun,
            "peak_kb": peak, "stored_before": stored_before, "hits_before": hits_before, "hits": dict(site.hits)}


def settled_hits(site, quiet: float = 1.0, bound: float = 15.0) -> dict:
    """The site's hit counts once no request has arrived for `quiet` seconds (at most `bound`)."""
    deadline, last = time.monotonic() + bound, dict(site.hits)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = dict(site.hits)
        if now == last:
            break
        last = now
    return last


def errors_by_path(db, run_id: int) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list] = {}
    for row in db.query("SELECT url, kind, detail FROM crawl_errors WHERE run_id = ?", [run_id]):
        found.setdefault("/" + row["url"].split("/", 3)[-1], []).append((row["kind"], row["detail"]))
    return found


def stored(db, base: str, path: str) -> dict | None:
    row = db.execute("SELECT a.id FROM article_urls u JOIN articles a ON a.id = u.article_id WHERE u.url = ?",
                     [url_key(base + path)]).fetchone()
    return db["articles"].get(row[0]) if row else None


# ---------------------------------------------------------------- the crawl survives

def test_nothing_crashes_and_both_runs_finish(hostile):
    db = hostile["db"]
    for result in (hostile["first"], hostile["second"]):
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        assert result.stdout.startswith("hostile: ")
    assert [r[0] for r in db.execute("SELECT status FROM crawl_runs ORDER BY id")] == ["finished", "finished"]


def test_every_bad_page_is_recorded_with_a_kind_and_a_reason(hostile):
    errors = errors_by_path(hostile["db"], hostile["runs"][0])
    wrong = {}
    for path, (_, kinds) in hostile["cases"].items():
        if kinds is None:
            continue
        found = errors.get(path, [])
        if len(found) != 1 or found[0][0] not in kinds or not found[0][1].strip():
            wrong[path] = found
    assert wrong == {}


def test_error_details_say_what_happened(hostile):
    errors = {path: found[0] for path, found in errors_by_path(hostile["db"], hostile["runs"][0]).items()}
    assert errors["/news/300404/missing-page.html"] == ("http", "HTTP 404")
    assert errors["/news/300410/removed-page.html"] == ("http", "HTTP 410")
    assert errors["/news/300500/server-error.html"] == ("http", "HTTP 500")
    assert errors["/news/300503/server-busy.html"] == ("http", "HTTP 503")
    for bomb in ("/news/300701/gzip-bomb.html", "/news/300702/double-gzip-bomb.html"):
        assert "DOWNLOAD_MAXSIZE" in errors[bomb][1] and "decompression" in errors[bomb][1]


def test_the_crawl_log_names_dropped_pages_without_copying_them(hostile):
    log = (hostile["tmp"] / "crawl.log").read_text(errors="replace")
    base = hostile["base"]
    assert f"[scrapy.core.scraper] INFO: Dropped: {base}/news/300901/pdf-served-as-html.html: empty\n" in log
    assert "%PDF" not in log and "\\x00\\x01" not in log  # not the page's bytes
    assert len(log.encode()) < 200_000, "the log copies pages"


def test_gzip_bombs_are_named_too_large_like_other_oversized_pages(hostile):
    errors = errors_by_path(hostile["db"], hostile["runs"][0])
    kinds = {errors[p][0][0] for p in ("/news/300701/gzip-bomb.html", "/news/300702/double-gzip-bomb.html")}
    assert kinds == {"too-large"}


def test_ordinary_articles_are_stored_beside_the_bad_pages(hostile):
    db, base = hostile["db"], hostile["base"]
    for path, (title, paragraphs) in ORDINARY.items():
        row = stored(db, base, path)
        assert row is not None, f"not stored: {path}"
        assert row["title"] == title and row["text"].startswith(paragraphs[0][:60])
    flagged = {row["url"].split("/", 3)[-1]: row["flagged"] for row in db.query(
        "SELECT a.url, c.flagged FROM articles a JOIN classifications c ON c.article_id = a.id")}
    assert flagged["news/200001/police-rescue-workers-from-scam-compound.html"] == 1
    assert flagged["news/200002/city-opens-riverside-park.html"] == 0


def test_second_run_stores_nothing_twice(hostile):
    db = hostile["db"]
    stored_first = db.execute("SELECT count(*) FROM articles").fetchone()[0]
    expected = len(ORDINARY) + sum(1 for _, kinds in hostile["cases"].values() if kinds is None)
    assert stored_first == expected
    assert "0 stored" in hostile["second"].stdout
    urls = [row[0] for row in db.execute("SELECT url FROM articles")]
    assert len(urls) == len({url_key(u) for u in urls})
    fetched = db.execute("SELECT articles_fetched, articles_stored FROM crawl_source_stats WHERE run_id = ?",
                         [hostile["runs"][1]]).fetchone()
    assert tuple(fetched) == (0, 0)


def test_settled_pages_are_not_fetched_again_and_failing_ones_are(hostile):
    again = hostile["hits2"]
    for path in (*ORDINARY, "/news/300404/missing-page.html", "/news/300410/removed-page.html",
                 "/news/300901/pdf-served-as-html.html", "/news/300902/nested-divs.html"):
        assert again.get(path, 0) == 0, f"{path} fetched again"
    for path in ("/news/300500/server-error.html", "/news/300503/server-busy.html",
                 "/news/300606/connection-reset.html", "/news/300601/slow-drip.html"):
        assert again.get(path) == 1, f"{path}: a passing failure must be tried again next run"


# ---------------------------------------------------------------- what was stored is right

def test_a_page_nested_deeper_than_the_parser_goes_keeps_its_text(hostile):
    title, paragraphs = ORDINARY["/news/200002/city-opens-riverside-park.html"]
    row = stored(hostile["db"], hostile["base"], "/news/300902/nested-divs.html")
    assert row is not None and row["title"] == title
    assert all(" ".join(p.split()[:8]) in row["text"] for p in paragraphs)


def test_content_length_shorter_than_the_body_keeps_only_the_declared_page(hostile):
    row = stored(hostile["db"], hostile["base"], "/news/300604/length-says-less.html")
    assert row is not None and row["title"] == ORDINARY["/news/200002/city-opens-riverside-park.html"][0]
    assert "JUNK" not in row["text"]


@pytest.mark.parametrize("path", ["/news/300801/windows-1258-undeclared.html", "/news/300802/nfd-text.html"])
def test_vietnamese_pages_keep_their_diacritics_in_nfc(hostile, path):
    row = stored(hostile["db"], hostile["base"], path)
    assert row is not None and row["title"] == VI_TITLE
    assert row["text"].startswith(VI_FIRST)
    assert unicodedata.is_normalized("NFC", row["title"] + row["text"])


def test_utf16_page_is_decoded(hostile):
    row = stored(hostile["db"], hostile["base"], "/news/300803/utf-16.html")
    assert row is not None and row["title"] == UTF16_TITLE
    assert "Thanh Hóa and Nghệ An" in row["text"] and unicodedata.is_normalized("NFC", row["text"])


def test_latin1_page_declared_utf8_is_read_as_latin1(hostile):
    row = stored(hostile["db"], hostile["base"], "/news/300804/latin-1-declared-utf-8.html")
    assert row is not None and row["title"] == LATIN1_TITLE
    assert "Níjar" in row["text"] and "Señor" in row["text"] and "\ufffd" not in row["text"]


def test_xss_title_is_stored_as_plain_text(hostile):
    row = stored(hostile["db"], hostile["base"], XSS_PATH)
    assert row is not None and row["title"] == EVIL_TITLE


# ---------------------------------------------------------------- memory

def test_bombs_and_huge_pages_cost_no_more_memory_than_ordinary_pages(hostile, killed):
    ordinary_kb = killed["peak_kb"]  # the re-run: ordinary pages only
    extra_kb = hostile["peak_kb"] - ordinary_kb
    assert extra_kb < RSS_MARGIN_KB, \
        f"hostile crawl peak {hostile['peak_kb'] // 1024} MB, ordinary {ordinary_kb // 1024} MB"


# ---------------------------------------------------------------- the XSS title, everywhere it is shown

@pytest.fixture(scope="module")
def delivered(hostile):
    """`tipwatch digest --send email,slack` of the hostile crawl, to a real SMTP server and the
    Slack stand-in; the Markdown file, the email and the Slack payloads."""
    tmp, handler = hostile["tmp"], Collector()
    controller = smtp_server(handler)
    controller.start()
    try:
        with SlackReceiver() as slack:
            env = {"TIPWATCH_DB": str(hostile["db_path"]), "TIPWATCH_DIGESTS": str(tmp / "digests"),
                   "TIPWATCH_SOURCES": str(hostile["sources"]), "TIPWATCH_EMAIL_TO": "analyst@example.org",
                   "TIPWATCH_EMAIL_FROM": "tipwatch@example.org",
                   "TIPWATCH_SMTP_URL": f"smtp://127.0.0.1:{controller.port}",
                   "TIPWATCH_SLACK_WEBHOOK_URL": slack.url}
            tipwatch("digest", "--day", "2026-12-01", "--send", "email,slack", env=env)
            payloads = list(slack.accepted)
    finally:
        controller.stop()
    [envelope] = handler.envelopes
    message = message_from_bytes(envelope.content, policy=policy.default)
    return {"markdown": (tmp / "digests" / "2026-12-01.md").read_text(encoding="utf-8"),
            "html": message.get_body(("html",)).get_content(), "slack": payloads}


def test_xss_title_is_escaped_in_the_markdown_digest(delivered):
    markdown = delivered["markdown"]
    assert "Police free 12" in markdown
    assert "<script>" not in markdown and "\\<script\\>" in markdown
    assert "[click](http://evil.test)" not in markdown


def test_xss_title_is_escaped_in_the_email(delivered):
    body = delivered["html"]
    parser = LinkCounter()
    parser.feed(body)
    assert "script" not in parser.tags and "<script" not in body and "&lt;script&gt;" in body
    assert not [link for link in parser.links if "evil.test" in link]
    assert EVIL_TITLE.replace("  ", " ") in "".join(parser.text)


def test_xss_title_is_escaped_in_slack(delivered):
    texts = json.dumps(delivered["slack"], ensure_ascii=False)
    assert delivered["slack"] and "Police free 12" in texts
    for markup in ("<script", "<!channel>", "<!here>", "<@U123>", "<http://evil"):
        assert markup not in texts
    assert "&lt;!channel&gt;" in texts


def test_xss_title_is_escaped_in_datasette(hostile):
    article_id = stored(hostile["db"], hostile["base"], XSS_PATH)["id"]
    with running_server(hostile["db_path"], hostile["tmp"]) as base:
        status, page = get(f"{base}/tipwatch/articles/{article_id}")
        search_status, search = get(f"{base}/tipwatch/articles?_search=scam")
    assert status == 200 and search_status == 200
    for body in (page, search):
        assert "Police free 12" in body
        assert '<script>alert("x")' not in body and "&lt;script&gt;alert(" in body


# ---------------------------------------------------------------- feeds and sitemaps

def test_hostile_feeds_and_sitemaps_are_read_past_their_attacks(discovery):
    db, hits = discovery["db"], discovery["hits"]
    assert "Traceback" not in discovery["result"].stderr
    assert db.execute("SELECT status FROM crawl_runs").fetchone()[0] == "finished"
    followed = {name for name, path in LINKED.items() if hits.get(path)}
    assert followed == {"laughs-feed", "xxe-feed", "xxe-sitemap"}  # the laughs sitemap is refused whole


def test_ten_thousand_item_feed_is_read_and_its_old_items_never_fetched(discovery):
    skipped = discovery["db"].execute("SELECT skipped_old FROM crawl_source_stats").fetchone()[0]
    assert skipped == 10_000
    assert not [path for path in discovery["hits"] if path.startswith("/news/5")]


def test_no_external_entity_is_fetched_or_read(discovery):
    db, hits = discovery["db"], discovery["hits"]
    assert hits.get("/xxe-probe", 0) == 0 and hits.get("/xxe-dtd", 0) == 0
    dump = "\n".join(str(tuple(row)) for row in db.execute("SELECT * FROM crawl_errors"))
    assert "root:" not in dump and Path("/etc/hostname").read_text().strip() not in dump


def test_billion_laughs_sitemap_is_refused_as_malformed(discovery):
    [(kind, detail)] = discovery["db"].execute(
        "SELECT kind, detail FROM crawl_errors WHERE url LIKE '%/laughs-sitemap.xml'").fetchall()
    assert kind == "parse" and "amplification" in detail
    assert not discovery["db"].execute("SELECT count(*) FROM crawl_errors WHERE url LIKE '%.rss'").fetchone()[0]


# ---------------------------------------------------------------- kill -9 mid-crawl

def test_kill_9_mid_crawl_loses_and_duplicates_nothing(killed):
    db, pages, stored_before = killed["db"], killed["pages"], killed["stored_before"]
    assert 4 <= len(stored_before) < KILL_COUNT, "the kill came too late to be mid-crawl"
    assert "Traceback" not in killed["rerun"].stderr
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    urls = [row[0] for row in db.execute("SELECT url FROM articles")]
    assert sorted(urls) == sorted(killed["base"] + p for p in pages)  # every article, once
    assert db.execute("SELECT count(DISTINCT article_id) FROM classifications").fetchone()[0] == KILL_COUNT
    # the re-run fetches exactly the articles the killed run had not stored
    refetched = {p: killed["hits"][p] - killed["hits_before"].get(p, 0) for p in pages}
    assert refetched == {p: 0 if p in stored_before else 1 for p in pages}


# ---------------------------------------------------------------- the test server itself

def test_gzip_bombs_are_real_gzip_of_zeros():
    assert gzip.decompress(b"".join(gzip_zeros(3))) == bytes(3 << 20)
    double = b"".join(gzip_stream(gzip_zeros(2)))
    assert gzip.decompress(gzip.decompress(double)) == bytes(2 << 20)
    assert len(b"".join(gzip_zeros(1024))) < 2 << 20  # 1 GB in under 2 MB: a bomb


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()
    except OSError as exc:
        return exc


def test_stopping_the_site_releases_a_hung_request():
    site = HostileSite({"/hang": hang()}).start()
    outcome = []
    client = threading.Thread(target=lambda: outcome.append(fetch(site.url("/hang"))), daemon=True)
    client.start()
    wait_for(lambda: site.hits["/hang"], seconds=5)
    site.stop()
    client.join(5)
    assert not client.is_alive() and isinstance(outcome[0], OSError)  # closed, never answered


def test_a_page_that_outlasts_the_extraction_bound_is_given_up_and_tried_next_run(tmp_path):
    """A page not read within TIPWATCH_EXTRACT_TIMEOUT is given up and its pool killed, not waited for.
    The bound here is 1 ms, under any worker's start-up (a Python process takes tens of ms to
    start; a warm one reads a short page in well under 0.5 s, so 0.5 s was not enough): every page
    outlasts it while its worker is still starting. The crawl must still end, store nothing, and
    leave the pages unsettled, so the next run stores them all."""
    site, sources = served_site({p: static(ordinary_page(p)) for p in ORDINARY}, tmp_path, "slowpages",
                                feeds={"/feed.rss": lambda base: rss(base, ORDINARY)})
    db_path = tmp_path / "slow.db"
    try:
        bounded = crawl(db_path, sources, "-s", "TIPWATCH_EXTRACT_TIMEOUT=0.001", timeout=120)
        db = sqlite_utils.Database(db_path)
        errors = errors_by_path(db, 1)
        assert {p: errors.get(p) for p in ORDINARY} == {
            p: [("extraction", "extraction took longer than 0.001 s; given up for this run")] for p in ORDINARY}
        assert db["articles"].count == 0
        assert "3 errors (extraction 3)" in bounded.stdout, bounded.stdout
        again = crawl(db_path, sources, timeout=120)
        assert "3 stored" in again.stdout, again.stdout
        assert {path for path in ORDINARY if stored(db, site.base_url, path)} == set(ORDINARY)
    finally:
        site.stop()
