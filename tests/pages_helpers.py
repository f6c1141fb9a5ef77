"""Kept pages for the archive tests: sample-site article pages as FetchedPage records, and
articles stored from them the way the crawl stores them (row, reference, classification, places)."""
from __future__ import annotations

from pathlib import Path

from pipeline import store
from pipeline.reconsider import identity
from pipeline.records import FetchedPage
from pipeline.reprocess import process_record
from pipeline.sources import Source
from tipwatch.samplesites import SITES_DIR

from conftest import PROFILE, stages

BASE = "http://127.0.0.1:9"  # never connected to: the pages are read from the archive only
SOURCES = {"vns": Source(name="vns", title="vns", language="en", article_pattern=r"\.html$",
                         timezone="Asia/Ho_Chi_Minh"),
           "bcp": Source(name="bcp", title="bcp", language="vi", article_pattern=r"\.htm$",
                         timezone="Asia/Ho_Chi_Minh")}

FLAGGED_PAGE = "vns", "/society/1801912/border-guards-rescue-three-women-trafficked-to-china.html"
NEGATIVE_PAGE = "vns", "/society/1801905/road-deaths-fall-during-national-traffic-safety-week.html"
VI_PAGE = "bcp", "/tiep-nhan-12-nan-nhan-bi-mua-ban-tro-ve-tu-trung-quoc-102261118093015123.htm"


def sample_page(site: str, path: str, fetched_at: str = "2026-11-22T01:00:00+00:00") -> FetchedPage:
    body = (SITES_DIR / site / path.lstrip("/")).read_bytes().replace(b"{{BASE}}", BASE.encode())
    charset = "windows-1258" if b"windows-1258" in body[:2000] else "utf-8"
    return FetchedPage(source=site, requested_url=BASE + path, url=BASE + path, status=200,
                       headers=(("Content-Type", f"text/html; charset={charset}"),), body=body,
                       fetched_at=fetched_at)


def store_page(db, archive, page: FetchedPage, profile: str = PROFILE, run: str = "run-1") -> int:
    """Archive the page and store its article as the crawl does; returns the article id."""
    ref = archive.write(page, run)
    result = process_record(page, SOURCES.get(page.source), stages(profile))
    assert result["ok"], result
    url, aliases = identity(page, result["article"])
    article = dict(result["article"], url=url, source=page.source, fetched_at=page.fetched_at)
    with store.immediate(db):
        article_id = store.save_article(db, article, aliases, page_ref=ref)
        store.save_classification(db, article_id, result["classification"])
        store.save_enrichment(db, article_id, result["enrichment"])
    return article_id


def changed_profile(tmp: Path, threshold: float, use_model: bool = True) -> str:
    """The shipped profile with another threshold, and the model off if asked (with it on, the
    model may still rescue an article under a raised threshold): a change that flips decisions."""
    text = Path(PROFILE).read_text(encoding="utf-8").replace("\nthreshold = 3.0\n", f"\nthreshold = {threshold}\n")
    if not use_model:
        text = text.replace("\n[model]\nuse = true\n", "\n[model]\nuse = false\n")
        assert "use = false" in text
    assert f"threshold = {threshold}" in text
    path = tmp / f"profile-{threshold}-{'model' if use_model else 'rules'}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)
