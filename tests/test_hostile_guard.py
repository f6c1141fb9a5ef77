"""The fetch guard against a hostile site, end to end: a real `tipwatch crawl` of servers on
loopback. Only 127.0.0.1 is allowed; a second server on 127.0.0.2 (and one on ::1 where the machine
has IPv6) records every request it receives and must receive none. Nothing here is sent beyond
loopback: off-loopback addresses are judged as pure functions in tests/test_fetch_scope.py.
"""
import os
import re
import subprocess
import sys
import time

import pytest
import sqlite_utils

from conftest import REPO
from hostile_site import HostileSite, gzip_bomb, ipv6_loopback, redirect, static

FAST = ["-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=1", "-s", "AUTOTHROTTLE_START_DELAY=0",
        "-s", "AUTOTHROTTLE_MAX_DELAY=0.5"]
SECRET = "TOP-SECRET-LOCAL-FILE-CONTENT"
PATTERN = r"'/news/\d{6}/[a-z0-9-]+\.html$'"


def article(title: str, topic: str = "trafficking") -> bytes:
    body = {
        "trafficking": "Provincial police said on Saturday they had dismantled a ring that lured young women "
                       "with promises of factory jobs and then sold them across the border. Four suspects were "
                       "detained on charges of trafficking in persons, and the victims are receiving support "
                       "under the national programme on preventing and combating human trafficking.",
        "market": "The central market reopened on Saturday after a renovation that lasted eight months. Stall "
                  "holders said the new roof and drainage would keep the ground floor dry in the rainy season, "
                  "and the district promised to keep rents unchanged until the end of next year.",
    }[topic]
    paragraphs = "".join(f"<p>{body} Paragraph {n} adds detail for the reader.</p>" for n in range(4))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            '<meta property="article:published_time" content="2026-11-21T10:00:00+07:00"></head>'
            f'<body><article><h1>{title}</h1>{paragraphs}</article></body></html>').encode()


def feed(links: list[str]) -> bytes:
    items = "".join(f"<item><title>Item {n}</title><link>{link.replace('&', '&amp;')}</link>"
                    "<pubDate>Sat, 21 Nov 2026 10:00:00 +0700</pubDate></item>" for n, link in enumerate(links))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Hostile</title>'
            f"{items}</channel></rss>").encode()


def sitemap_index(urls: list[str]) -> bytes:
    entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in urls)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'.encode()


def urlset(urls: list[str]) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


class RetryLater:
    """503 with Retry-After: 2 the first time, the article after; keeps the request times."""

    def __init__(self, page: bytes):
        self.page, self.times = page, []

    def __call__(self, handler):
        self.times.append(time.monotonic())
        if len(self.times) == 1:
            return static(b"busy", status=503, headers={"Retry-After": "2"})(handler)
        return static(self.page)(handler)


def hostile_routes(base: str, internal: str, v6: str | None, secret_dir) -> dict:
    """The main site: ordinary articles among links and redirects to everywhere they must not go."""
    loop = [f"{base}/news/200010/loop-a.html", f"{base}/news/200011/loop-b.html"]
    localhost = base.replace("127.0.0.1", "localhost")
    links = [
        f"{base}/news/200001/ordinary-ring-story.html", f"{base}/news/200002/ordinary-market-story.html",
        f"file://{secret_dir}/news/200003/secret-file.html", f"file:{secret_dir}/news/200003/secret-two.html",
        f"file://localhost{secret_dir}/news/200003/secret-three.html",
        f"{internal}/news/200004/other-address.html", f"{localhost}/news/200004/other-name.html",
        f"{base}/news/200005/redirect-other-address.html", f"{base}/news/200006/redirect-other-name.html",
        f"{base}/news/200007/refresh-other-address.html", f"{base}/news/200008/redirect-to-file.html",
        f"{base}/news/200009/redirect-ipv6.html", loop[0], f"{base}/news/200012/retry-after-short.html",
        f"{base}/news/200013/retry-after-long.html", f"{base}/news/{'9' * 6}/{'a' * 2100}.html",
    ]
    retry = RetryLater(article("Rescued workers return home after being trafficked to a scam compound"))
    refresh = (f'<html><head><meta http-equiv="refresh" content="0; url={internal}/news/200007/x.html">'
               "</head><body>moved</body></html>").encode()
    chain = {f"/sitemap-chain-{n}.xml": static(sitemap_index([f"{base}/sitemap-chain-{n + 1}.xml"]),
                                              content_type="application/xml") for n in range(1, 40)}
    wide = {f"/wide-{n}.xml": static(urlset([]), content_type="application/xml") for n in range(60)}
    return {
        "/robots.txt": static(b"User-agent: *\nAllow: /\n", content_type="text/plain"),
        "/feed.rss": static(feed(links), content_type="application/rss+xml"),
        "/sitemap.xml": static(sitemap_index([f"{base}/sitemap.xml", f"{base}/sitemap-chain-1.xml",
                                              f"{base}/sitemap-bomb.xml.gz", f"{base}/wide.xml"]),
                               content_type="application/xml"),
        "/wide.xml": static(sitemap_index([f"{base}/wide-{n}.xml" for n in range(60)]), content_type="application/xml"),
        # 1 MB on the wire, 1 GB of zeros once opened, served as a file (no Content-Encoding)
        "/sitemap-bomb.xml.gz": gzip_file(1024),
        "/news/200001/ordinary-ring-story.html":
            static(article("Police break up ring that sold women across the border")),
        "/news/200002/ordinary-market-story.html": static(article("Market stalls reopen after renovation", "market")),
        "/news/200005/redirect-other-address.html": redirect(f"{internal}/news/200005/landing.html", 302),
        "/news/200006/redirect-other-name.html": redirect(f"{localhost}/news/200006/landing.html", 302),
        "/news/200007/refresh-other-address.html": static(refresh),
        "/news/200008/redirect-to-file.html": redirect(f"file://{secret_dir}/news/200003/secret-file.html", 302),
        "/news/200009/redirect-ipv6.html": redirect(f"{v6 or 'http://[::1]:9'}/news/200009/landing.html", 302),
        "/news/200010/loop-a.html": redirect(loop[1], 302),
        "/news/200011/loop-b.html": redirect(loop[0], 302),
        "/news/200012/retry-after-short.html": retry,
        "/news/200013/retry-after-long.html": static(b"slow down", status=429, headers={"Retry-After": "3600"}),
        # 250 offsite links: each refused, but listed only up to the bound
        "/flood.rss": static(feed([f"http://127.0.0.{n % 200 + 3}:9/news/{300000 + n}/flood.html" for n in range(250)]),
                             content_type="application/rss+xml"),
        **chain, **wide,
    }, retry


def gzip_file(megabytes: int):
    """gzip_bomb's stream, but as a plain .gz file: no Content-Encoding for Scrapy to undo."""
    bomb = gzip_bomb(megabytes)

    def answer(handler):
        handler.headers_sent = False
        original = handler.head

        def head(status, headers):
            headers = {k: v for k, v in headers.items() if k != "Content-Encoding"}
            original(status, {**headers, "Content-Type": "application/x-gzip"})
        handler.head = head
        bomb(handler)
    return answer


def sources_toml(main: str, internal: str, robots_down: str, robots_missing: str, robots_shut: str,
                 robots_busy: str) -> str:
    def entry(title: str) -> str:
        return f'title = "{title}"\nlanguage = "en"\narticle_pattern = {PATTERN}\n'

    return (
        'allow_addresses = ["127.0.0.1"]\n\n'
        f'[[source]]\nname = "hostile"\n{entry("Hostile")}feeds = ["{main}/feed.rss"]\n'
        f'sitemaps = ["{main}/sitemap.xml"]\nmax_sitemaps = 20\n\n'
        f'[[source]]\nname = "internal"\n{entry("Internal")}feeds = ["{internal}/feed.rss"]\n\n'
        f'[[source]]\nname = "robotsdown"\n{entry("Robots 503")}feeds = ["{robots_down}/feed.rss", '
        f'"{robots_down}/feed2.rss", "{robots_down}/feed3.rss"]\n\n'
        # three sources on one host whose robots.txt shuts /private/: requests that wait together
        # for robots.txt must each be judged by it
        + "".join(f'[[source]]\nname = "shut{n}"\n{entry("Shut")}feeds = ["{robots_shut}/private/feed{n}.rss", '
                  f'"{robots_shut}/private/more{n}.rss"]\n\n' for n in range(3))
        + f'[[source]]\nname = "open"\n{entry("Open")}feeds = ["{robots_shut}/feed.rss"]\n\n'
        + f'[[source]]\nname = "flood"\n{entry("Flood")}feeds = ["{main}/flood.rss"]\n\n'
        + f'[[source]]\nname = "robotsbusy"\n{entry("Robots 429")}feeds = ["{robots_busy}/feed.rss"]\n'
        f'[[source]]\nname = "robotsmissing"\n{entry("Robots 404")}feeds = ["{robots_missing}/feed.rss"]\n')


def crawl_with_peak_rss(args: list) -> tuple[subprocess.CompletedProcess, int]:
    """`tipwatch crawl` in a child process that reports the peak RSS (KiB) of its own children."""
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
               "sys.stdout.write(r.stdout); sys.stderr.write(r.stderr); "
               "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")
    result = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "tipwatch.cli", *map(str, args)],
                            cwd=REPO, capture_output=True, text=True, timeout=240)
    peak = int(result.stdout.rsplit("PEAK ", 1)[1])
    return result, peak


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    secret_dir = tmp / "secret"
    for name in ("secret-file", "secret-two", "secret-three"):
        page = secret_dir / "news" / "200003" / f"{name}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><head><title>{SECRET}</title></head><body><p>{SECRET} " * 50 + "</p></body></html>")
    internal = HostileSite({"/feed.rss": static(b"<rss/>")}, host="127.0.0.2").start()
    v6 = HostileSite({}, host="::1").start() if ipv6_loopback() else None
    robots_down = HostileSite({"/robots.txt": static(b"oops", status=503)}).start()
    robots_busy = HostileSite({"/robots.txt": static(b"slow down", status=429, headers={"Retry-After": "1"})}).start()
    robots_shut = HostileSite({"/robots.txt": static(b"User-agent: *\nDisallow: /private/\n",
                                                     content_type="text/plain"),
                               "/news/200030/open-story.html": static(article("Court jails traffickers"))}).start()
    robots_shut.routes["/feed.rss"] = static(feed([robots_shut.url("/news/200030/open-story.html")]),
                                             content_type="application/rss+xml")
    robots_missing_routes = {
        "/news/200020/no-robots-story.html": static(article("Border guards rescue trafficked women"))}
    robots_missing = HostileSite(robots_missing_routes).start()
    robots_missing.routes["/feed.rss"] = static(feed([robots_missing.url("/news/200020/no-robots-story.html")]),
                                               content_type="application/rss+xml")
    main = HostileSite({})
    routes, retry = hostile_routes(main.base_url, internal.base_url, v6.base_url if v6 else None, secret_dir)
    main.routes.update(routes)
    main.start()
    try:
        sources = tmp / "sources.toml"
        sources.write_text(sources_toml(main.base_url, internal.base_url, robots_down.base_url,
                                        robots_missing.base_url, robots_shut.base_url, robots_busy.base_url))
        db_path = tmp / "t.db"
        args = ["crawl", "--db", db_path, "--sources", sources, "--since", "2020-01-01",
                "--log-file", tmp / "crawl.log", *FAST]
        first, peak_kib = crawl_with_peak_rss(args)
        second, _ = crawl_with_peak_rss(args)
    finally:
        for site in (main, internal, robots_down, robots_missing, robots_shut, robots_busy, *([v6] if v6 else [])):
            site.stop()
    db = sqlite_utils.Database(db_path)
    return {"db": db, "first": first, "second": second, "peak_mb": peak_kib / 1024, "main": main,
            "internal": internal, "v6": v6, "robots_down": robots_down, "robots_missing": robots_missing,
            "robots_shut": robots_shut, "robots_busy": robots_busy, "retry": retry, "secret_dir": secret_dir}


def errors(db, run_id=1, source="hostile") -> dict[str, str]:
    return {row["url"]: (row["kind"], row["detail"]) for row in db.query(
        "SELECT url, kind, detail FROM crawl_errors WHERE run_id = ? AND source = ?", [run_id, source])}


def test_the_crawl_finishes_cleanly_twice(crawled):
    for result in (crawled["first"], crawled["second"]):
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr


def test_nothing_reaches_other_loopback_addresses(crawled):
    assert crawled["internal"].requests == []
    if crawled["v6"] is not None:
        assert crawled["v6"].requests == []


def test_no_local_file_is_read(crawled):
    db = crawled["db"]
    assert db.execute("SELECT count(*) FROM articles WHERE text LIKE ? OR title LIKE ?",
                      [f"%{SECRET}%", f"%{SECRET}%"]).fetchone()[0] == 0
    refused = {url: kind for url, (kind, _) in errors(db).items() if url.startswith("file:")}
    secret_dir = crawled["secret_dir"]
    assert set(refused.values()) == {"offsite"}
    # as the feed parser hands them over (feedparser writes file:///x as file://x)
    assert sorted(u.rsplit("/", 1)[1] for u in refused) == ["secret-file.html", "secret-three.html", "secret-two.html"]
    assert all(str(secret_dir).strip("/") in u for u in refused)


def test_ordinary_articles_are_still_stored_once(crawled):
    titles = [row["title"] for row in crawled["db"].query("SELECT title FROM articles ORDER BY title")]
    assert titles == ["Border guards rescue trafficked women", "Court jails traffickers",
                      "Market stalls reopen after renovation",
                      "Police break up ring that sold women across the border",
                      "Rescued workers return home after being trafficked to a scam compound"]
    assert "0 stored" in crawled["second"].stdout.split("hostile:")[1].splitlines()[0]


def test_every_refusal_is_recorded_with_its_kind(crawled):
    main, internal = crawled["main"], crawled["internal"]
    found = errors(crawled["db"])
    by_path = {url.replace(main.base_url, ""): kind for url, (kind, _) in found.items()}
    assert by_path[f"{internal.base_url}/news/200004/other-address.html"] == "offsite"
    assert by_path[main.base_url.replace("127.0.0.1", "localhost") + "/news/200004/other-name.html"] == "offsite"
    assert by_path["/news/200005/redirect-other-address.html"] == "offsite"
    assert by_path["/news/200006/redirect-other-name.html"] == "offsite"
    assert by_path["/news/200007/refresh-other-address.html"] == "offsite"
    assert by_path["/news/200008/redirect-to-file.html"] == "offsite"
    assert by_path["/news/200009/redirect-ipv6.html"] == "offsite"
    assert by_path["/news/200010/loop-a.html"] == "redirect"
    assert by_path["/news/200013/retry-after-long.html"] == "retry-after"
    assert [kind for url, (kind, _) in found.items() if len(url) > 2000 or url.endswith("…")] == ["url-too-long"]
    assert all(detail for _, detail in found.values()), "an error without its reason"


def test_redirect_loop_names_the_loop(crawled):
    base = crawled["main"].base_url
    kind, detail = errors(crawled["db"])[f"{base}/news/200010/loop-a.html"]
    assert detail == f"redirect loop: {base}/news/200010/loop-a.html → {base}/news/200011/loop-b.html → " \
                     f"{base}/news/200010/loop-a.html"


def test_a_source_at_a_forbidden_address_is_refused_and_recorded(crawled):
    (url, (kind, detail)), = errors(crawled["db"], source="internal").items()
    assert kind == "blocked-address" and url.startswith(crawled["internal"].base_url)
    assert "127.0.0.2" in detail and "loopback" in detail
    line = next(line for line in crawled["first"].stdout.splitlines() if line.startswith("internal:"))
    assert "blocked-address" in line


def test_sitemap_indexes_are_bounded(crawled):
    hits = crawled["main"].hits
    assert hits["/sitemap.xml"] == 2  # once per run, though it lists itself
    assert max(n for n in range(1, 40) if hits[f"/sitemap-chain-{n}.xml"]) <= 3  # depth ≤ 3
    sitemaps_read = sum(n for path, n in hits.items() if path.endswith((".xml", ".xml.gz")))
    assert sitemaps_read <= 2 * 20  # max_sitemaps = 20 per run
    limits = [detail for kind, detail in errors(crawled["db"]).values() if kind == "limit"]
    assert len(limits) <= 3, limits  # one line per index over the budget, not one per sitemap
    assert any(re.match(r"\d\d sitemaps it lists not read: more than 20 sitemaps in one run", d) for d in limits)
    kinds = [kind for kind, _ in errors(crawled["db"]).values()]
    assert "too-large" in kinds


def test_a_sitemap_bomb_leaves_memory_bounded(crawled):
    assert crawled["peak_mb"] < 256 + 200, f"peak RSS {crawled['peak_mb']:.0f} MB"


def test_retry_after_is_honoured_and_a_long_one_given_up(crawled):
    first, second = crawled["retry"].times[:2]
    assert second - first >= 2.0
    assert crawled["main"].hits["/news/200013/retry-after-long.html"] == 2  # once per run, never retried


def test_robots_txt_per_rfc_9309(crawled):
    down, missing = crawled["robots_down"], crawled["robots_missing"]
    assert set(down.hits) == {"/robots.txt"}  # 5xx: the whole site is off limits for the run
    kinds = {kind for kind, _ in errors(crawled["db"], source="robotsdown").values()}
    assert kinds == {"robots-unavailable"}
    assert missing.hits["/news/200020/no-robots-story.html"] == 1  # 404: no rules, allowed
    busy = crawled["robots_busy"]  # 429 says "not now", as a 5xx does: retried after its Retry-After, then off
    assert set(busy.hits) == {"/robots.txt"} and busy.hits["/robots.txt"] == 2 * 2  # 1 retry, 2 runs
    assert {kind for kind, _ in errors(crawled["db"], source="robotsbusy").values()} == {"robots-unavailable"}


def test_robots_txt_judges_every_request_that_waited_for_it(crawled):
    shut = crawled["robots_shut"]
    assert not [path for path in shut.hits if path.startswith("/private/")]
    assert shut.hits["/news/200030/open-story.html"] == 1


def test_scrapy_crawl_news_runs_behind_the_same_guard(tmp_path):
    """`scrapy crawl news` (settings from scrapy.cfg) gets the guard too: the resolver, the scope."""
    internal = HostileSite({}, host="127.0.0.2").start()
    site = HostileSite({"/robots.txt": static(b"", status=404)})
    site.routes.update({
        "/news/200040/kept-story.html": static(article("Police rescue trafficked workers")),
        "/news/200041/moved-story.html": redirect(f"{internal.base_url}/news/200041/moved-story.html", 302),
        "/feed.rss": static(feed([site.url("/news/200040/kept-story.html"), site.url("/news/200041/moved-story.html"),
                                  f"{internal.base_url}/news/200042/elsewhere.html"]),
                            content_type="application/rss+xml"),
    })
    site.start()
    try:
        (tmp_path / "sources.toml").write_text(
            f'allow_addresses = ["127.0.0.1"]\n[[source]]\nname = "plain"\ntitle = "Plain"\nlanguage = "en"\n'
            f'feeds = ["{site.url("/feed.rss")}"]\narticle_pattern = {PATTERN}\n')
        env = {"TIPWATCH_DB": str(tmp_path / "t.db"), "TIPWATCH_SOURCES": str(tmp_path / "sources.toml")}
        result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", "news", "-a", "since=2020-01-01",
                                 *FAST, "-s", "LOG_LEVEL=WARNING"], cwd=REPO, capture_output=True, text=True,
                                timeout=120, env={**os.environ, **env})
    finally:
        site.stop()
        internal.stop()
    assert result.returncode == 0, result.stderr
    assert internal.requests == []
    db = sqlite_utils.Database(tmp_path / "t.db")
    assert [row["title"] for row in db.query("SELECT title FROM articles")] == ["Police rescue trafficked workers"]
    assert sorted(row["kind"] for row in db.query("SELECT kind FROM crawl_errors")) == ["offsite", "offsite"]


def test_a_flood_of_offsite_links_is_counted_but_listed_only_up_to_a_bound(crawled):
    rows = list(crawled["db"].query("SELECT url, kind, detail FROM crawl_errors WHERE run_id = 1 AND source = 'flood'"))
    assert [r["kind"] for r in rows] == ["offsite"] * 101
    assert rows[-1]["detail"] == "150 more offsite refusals in this run, counted but not listed (the first 100 are)"
    counts = crawled["db"].execute("SELECT error_counts, skipped_offsite FROM crawl_source_stats "
                                   "WHERE run_id = 1 AND source = 'flood'").fetchone()
    assert counts == ('{"offsite": 250}', 250)
