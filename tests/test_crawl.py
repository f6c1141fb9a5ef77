"""End to end: the real `tipwatch crawl` against the sample sites served on loopback.

One module-scoped fixture crawls twice (the second run must fetch nothing) and
every test reads what the two runs left in the database and the server's log.
"""
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils
from warcio.archiveiterator import ArchiveIterator

from pipeline.urls import url_key
from tipwatch.samplesites import SITES_DIR, SampleSites, manifest, write_sources

from conftest import tipwatch

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0", "-s", "AUTOTHROTTLE_MAX_DELAY=0.5", "-s", "DOWNLOAD_TIMEOUT=10"]


def manifest_articles():
    return manifest()


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crawl")
    db_path = tmp / "t.db"
    with SampleSites() as sites:
        sources = write_sources(sites, tmp / "sources.toml")
        common = ["--db", db_path, "--sources", sources, "--since", "2020-01-01", *FAST]
        first = tipwatch("crawl", *common)
        log_after_first = dict(sites.request_log)
        warc_after_first = warc_records(tmp / "warc")
        second = tipwatch("crawl", *common)
        log_after_second = dict(sites.request_log)
        bases = {name: sites.base_url(name) for name in sites.sites}
    db = sqlite_utils.Database(db_path)
    runs = [r["id"] for r in db.query("SELECT id FROM crawl_runs ORDER BY id")]
    return {"db": db, "first": first, "second": second, "runs": runs, "bases": bases,
            "log1": log_after_first, "log2": log_after_second, "sites": sites, "warc": tmp / "warc",
            "warc1": warc_after_first, "warc2": warc_records(tmp / "warc")}


def warc_records(root: Path) -> dict[str, list[str]]:
    """WARC file (relative to *root*) → the target URIs of its records, read with warcio."""
    found = {}
    for path in sorted(root.rglob("*.warc.gz")):
        with open(path, "rb") as stream:
            found[path.relative_to(root).as_posix()] = [
                r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)]
    return found


def stored_by_key(db):
    keys = {}
    for row in db.query("SELECT a.id, a.url, u.url AS key FROM articles a JOIN article_urls u ON u.article_id = a.id"):
        keys[row["key"]] = row["id"]
    return keys


def expected_articles(crawled, old=False):
    for item in manifest_articles():
        if bool(item.get("old")) == old and "/private/" not in item["path"]:
            yield item, crawled["bases"][item["site"]] + item["path"]


def test_every_sample_article_is_stored_once(crawled):
    db, keys = crawled["db"], stored_by_key(crawled["db"])
    ids = []
    for _item, url in expected_articles(crawled):
        assert url_key(url) in keys, f"not stored: {url}"
        ids.append(keys[url_key(url)])
    assert len(ids) == len(set(ids)), "two manifest articles stored as one"
    assert db["articles"].count == len(ids)
    urls = [row["url"] for row in db.query("SELECT url FROM articles")]
    assert len(urls) == len({url_key(u) for u in urls})


def test_old_and_private_articles_are_never_requested(crawled):
    for item, _url in expected_articles(crawled, old=True):
        assert crawled["log2"].get(item["path"], 0) == 0, f"old article fetched: {item['path']}"
    assert not [path for path in crawled["log2"] if path.startswith("/private/")]


def test_trafficking_flagged_hard_negatives_not(crawled):
    db, keys = crawled["db"], stored_by_key(crawled["db"])
    wrong = []
    for item, url in expected_articles(crawled):
        row = db.execute("SELECT flagged FROM classifications WHERE article_id = ?", [keys[url_key(url)]]).fetchone()
        if bool(row[0]) != (item["topic"] == "trafficking"):
            wrong.append((item["path"], item["topic"], row[0]))
    assert wrong == []


def test_second_crawl_fetches_no_article_again(crawled):
    db = crawled["db"]
    second_run = crawled["runs"][-1]
    fetched = db.execute("SELECT sum(articles_fetched), sum(articles_stored) FROM crawl_source_stats WHERE run_id = ?",
                         [second_run]).fetchone()
    assert tuple(fetched) == (0, 0)
    for item, _url in expected_articles(crawled):
        times = crawled["log1"].get(item["path"])
        assert times == 1, f"{item['path']} fetched {times} times"
        assert crawled["log2"].get(item["path"]) == 1, f"{item['path']} fetched again"


def test_bad_input_is_recorded_per_source_and_the_run_goes_on(crawled):
    db = crawled["db"]
    first_run = crawled["runs"][0]
    errors = {(r["source"], r["kind"], r["detail"].split(":")[0])
              for r in db.query("SELECT source, kind, detail FROM crawl_errors WHERE run_id = ?", [first_run])}
    kinds = {(source, kind) for source, kind, _ in errors}
    for site in crawled["bases"]:
        assert (site, "http") in kinds, f"{site}: no HTTP error recorded"
    assert any(kind == "parse" for _, kind in kinds), "malformed feed/sitemap not recorded"
    assert any(kind == "extraction" for _, kind in kinds), "empty page not recorded"
    assert db.execute("SELECT status FROM crawl_runs WHERE id = ?", [first_run]).fetchone()[0] == "finished"


def test_crawl_prints_one_line_per_source(crawled):
    lines = crawled["first"].stdout.splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted(crawled["bases"])
    second = crawled["second"].stdout
    assert " 0 articles fetched, 0 stored" in second


def test_extracted_fields_match_golden_files(crawled):
    """Every sample article page has a golden file; the stored fields must match it."""
    db, keys = crawled["db"], stored_by_key(crawled["db"])
    mismatches = []
    for item, url in expected_articles(crawled):
        golden_path = SITES_DIR / item["site"] / "expected" / (Path(item["path"]).name.rsplit(".", 1)[0] + ".json")
        golden = json.loads(golden_path.read_text(encoding="utf-8"))
        row = db["articles"].get(keys[url_key(url)])
        mismatches += compare_golden(golden, row)
    assert mismatches == []


def compare_golden(golden: dict, row: dict) -> list:
    problems = []
    where = golden.get("url_path")
    precision = golden.get("published_precision", "date")
    published = (row["published"] or "")[: 10 if precision == "date" else 19]
    if published != golden["published"][: 10 if precision == "date" else 19]:
        problems.append((where, "published", row["published"], golden["published"]))
    if row["title"] != golden["title"]:
        problems.append((where, "title", row["title"], golden["title"]))
    if golden.get("author") and row["author"] != golden["author"]:
        problems.append((where, "author", row["author"], golden["author"]))
    if row["language"] != golden["language"]:
        problems.append((where, "language", row["language"], golden["language"]))
    text = row["text"] or ""
    if not text.startswith(golden["text_startswith"]):
        problems.append((where, "text start", text[:80], golden["text_startswith"]))
    if not text.rstrip().endswith(golden["text_endswith"]):
        problems.append((where, "text end", text[-80:], golden["text_endswith"]))
    for chrome in golden.get("must_not_contain", []):
        if chrome in text:
            problems.append((where, "chrome left in text", chrome))
    return problems


def test_every_sample_source_has_golden_pages():
    from pipeline.sources import parse_sources

    template = (SITES_DIR / "sources.toml").read_text(encoding="utf-8")
    for source in parse_sources(template.replace("{{BASE:", "http://x.test/").replace("}}", "")):
        goldens = list((SITES_DIR / source.name / "expected").glob("*.json"))
        assert goldens, f"source {source.name} has no golden pages in tests/sites/{source.name}/expected/"
        pages = [item for item in manifest_articles() if item["site"] == source.name]
        assert len(goldens) >= len([p for p in pages if not p.get("old") and "/private/" not in p["path"]])


def test_every_stored_article_points_at_the_warc_record_of_its_page(crawled):
    """Read with warcio alone, at the stored offset: a response record of the final URL, status
    200, and the very bytes the site served."""
    db, sites = crawled["db"], crawled["sites"]
    site_by_base = {site.base_url: site for site in sites.sites.values()}
    rows = list(db.query("SELECT id, warc_file, warc_offset FROM articles"))
    assert rows and all(r["warc_file"] and r["warc_offset"] is not None for r in rows)
    for row in rows:
        with open(crawled["warc"] / row["warc_file"], "rb") as stream:
            stream.seek(row["warc_offset"])
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_type == "response"
            target = record.rec_headers.get_header("WARC-Target-URI")
            status = record.http_headers.get_statuscode()
            body = record.content_stream().read()
        keys = {r[0] for r in db.execute("SELECT url FROM article_urls WHERE article_id = ?", [row["id"]])}
        assert url_key(target) in keys, f"article {row['id']}: record of {target}, not of one of its URLs"
        assert status == "200"
        parts = urlsplit(target)
        site = site_by_base[f"{parts.scheme}://{parts.netloc}"]
        assert body == site.body_of(site.file_for(parts.path, parts.query)), f"{target}: body differs"


def test_one_warc_file_per_run_and_source_and_a_recrawl_adds_no_record(crawled):
    first_run = crawled["runs"][0]
    files = crawled["warc1"]
    assert sorted(Path(f).name for f in files) == sorted(f"run-{first_run}-{s}.warc.gz" for s in crawled["bases"])
    # every page fetched is kept once; the second crawl fetched none again, so it wrote nothing
    fetched = crawled["db"].execute("SELECT sum(articles_fetched) FROM crawl_source_stats WHERE run_id = ?",
                                    [first_run]).fetchone()[0]
    assert sum(len(uris) for uris in files.values()) == fetched
    assert crawled["warc2"] == files


def test_pages_settled_after_fetching_keep_their_record(crawled):
    db = crawled["db"]
    unreadable = list(db.query("SELECT url, warc_file, warc_offset FROM settled_urls WHERE reason LIKE 'extraction:%'"))
    assert unreadable, "the sample sites have pages that give no article"
    for row in unreadable:
        with open(crawled["warc"] / row["warc_file"], "rb") as stream:
            stream.seek(row["warc_offset"])
            record = next(iter(ArchiveIterator(stream)))
            assert url_key(record.rec_headers.get_header("WARC-Target-URI")) == row["url"]
    gone = list(db.query("SELECT warc_file FROM settled_urls WHERE reason LIKE 'HTTP 4%'"))
    assert gone and all(r["warc_file"] is None for r in gone)  # never fetched as a page: no record
