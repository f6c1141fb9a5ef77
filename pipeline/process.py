"""One fetched page → extracted, classified article, as plain data.

`process_page` is what runs in the extraction worker processes: it takes a fetched page (a
`FetchedPage` record, or the plain dict `page_input` makes of one) and returns a plain dict, all
picklable; it loads the topic profile and model once per process, and never touches the
database. The crawl and `tipwatch reprocess` (from a page's WARC record) both call it, so a page
gives the same article either way.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.enrich import EnrichFiles, enrich
from pipeline.extract.article import ExtractionError, ExtractOptions, decode_html, extract_article
from pipeline.records import FetchedPage
from pipeline.topic.stage import load_stage
from pipeline.urls import normalize


@dataclass(frozen=True)
class StageSettings:
    """What a page is read with besides itself: the topic profile and model files, enrichment's
    files, the shortest text kept. Plain data, handed to the worker processes with each page."""
    profile: str
    model: str | None
    enrich: EnrichFiles
    min_chars: int = 200


def stage_settings(db, profile: str | Path, seeds_dir: str | Path, cache_dir: str | Path,
                   environ: Mapping[str, str] | None = None, min_chars: int = 200) -> StageSettings:
    """What pages are read with: the profile, the model in use in *db* (a trained one, else the
    base model, trained from the seeds' labelled split and cached in *cache_dir*), the seeds'
    gazetteer and glossary, and the translator *environ* names (TIPWATCH_TRANSLATOR / _MT_DIR).
    The app builds it from its configuration, the crawl from its Scrapy settings."""
    from pipeline.topic.training import ModelFiles, active_model_path  # here: the workers never need it

    model = active_model_path(db, ModelFiles(Path(seeds_dir) / "labelled", Path(cache_dir)))
    return StageSettings(profile=str(profile), model=str(model), enrich=EnrichFiles.of(seeds_dir, environ),
                         min_chars=min_chars)


def classify_article(profile_path: str, article: dict, model_path: str | None = None) -> dict:
    """Rules, and the model when a model file is given (see pipeline/topic/stage.py)."""
    return load_stage(str(profile_path), model_path and str(model_path)).classify(
        title=article.get("title") or "", text=article.get("text") or "", language=article.get("language"))


def page_input(page: FetchedPage, language: str | None = None, timezone: str | None = None) -> dict:
    """What process_page reads of a fetched page: its final URL (normalised), body and declared
    encoding, when it was fetched, with its source's language and timezone (hints the page
    itself may lack)."""
    return {"url": normalize(page.url), "body": page.body, "encoding": page.declared_encoding,
            "language": language, "timezone": timezone, "fetched_at": page.fetched_at}


def _clock(fetched_at: str | None) -> datetime | None:
    """The "now" a page's dates are judged against (a date after it is no publication date):
    when it was fetched, as local time like the extractor's own clock, so that a page re-read
    from its record months later reads as it did in the crawl."""
    if not fetched_at:
        return None
    try:
        return datetime.fromisoformat(fetched_at).astimezone().replace(tzinfo=None)
    except ValueError:
        return None


def process_page(page: dict | FetchedPage, stages: StageSettings, *, language: str | None = None,
                 timezone: str | None = None) -> dict:
    """page: a FetchedPage (then language and timezone are its source's), or a dict of url, body
    (bytes), encoding (declared or None), language, timezone and fetched_at (see page_input).
    Returns {"ok": True, "article": {...}, "classification": {...}, "enrichment": {...}} or
    {"ok": False, "kind": "extraction" or "parse", "detail": reason}."""
    if isinstance(page, FetchedPage):
        page = page_input(page, language, timezone)
    try:
        html = decode_html(page["body"], page.get("encoding"))
        options = ExtractOptions(min_chars=stages.min_chars, language_hint=page.get("language"),
                                 timezone=page.get("timezone"), now=_clock(page.get("fetched_at")))
        article = extract_article(html, page["url"], options=options)
    except ExtractionError as exc:
        return {"ok": False, "kind": "extraction", "detail": str(exc)}
    except Exception as exc:  # a parser crash on one hostile page must not end the run
        return {"ok": False, "kind": "parse", "detail": f"{exc.__class__.__name__}: {exc}"}
    # places and gist here, in the worker: the reactor's process only writes them
    return {"ok": True, "article": article,
            "classification": classify_article(stages.profile, article, stages.model),
            "enrichment": enrich(article, stages.enrich)}
