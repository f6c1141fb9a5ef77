"""One fetched page → extracted, classified article, as plain data.

`process_page` is what runs in the extraction worker processes: it takes a fetched page (a
`FetchedPage` record, or the plain dict `page_input` makes of one) and returns a plain dict, all
picklable; it loads the topic profile and model once per process, and never touches the
database. The crawl and `tipwatch reprocess` (from a page's WARC record) both call it, so a page
gives the same article either way.
"""
from __future__ import annotations

from pipeline.enrich import enrich
from pipeline.extract.article import ExtractionError, ExtractOptions, decode_html, extract_article
from pipeline.records import FetchedPage
from pipeline.topic.stage import load_stage
from pipeline.urls import normalize


def classify_article(profile_path: str, article: dict, model_path: str | None = None) -> dict:
    """Rules, and the model when a model file is given (see pipeline/topic/stage.py)."""
    return load_stage(str(profile_path), model_path and str(model_path)).classify(
        title=article.get("title") or "", text=article.get("text") or "", language=article.get("language"))


def page_input(page: FetchedPage, language: str | None = None, timezone: str | None = None) -> dict:
    """What process_page reads of a fetched page: its final URL (normalised), body and declared
    encoding, with its source's language and timezone (hints the page itself may lack)."""
    return {"url": normalize(page.url), "body": page.body, "encoding": page.declared_encoding,
            "language": language, "timezone": timezone}


def process_page(page: dict | FetchedPage, profile_path: str, min_chars: int = 200, model_path: str | None = None,
                 *, language: str | None = None, timezone: str | None = None) -> dict:
    """page: a FetchedPage (then language and timezone are its source's), or a dict of url, body
    (bytes), encoding (declared or None), language and timezone (see page_input).
    Returns {"ok": True, "article": {...}, "classification": {...}, "enrichment": {...}} or
    {"ok": False, "kind": "extraction" or "parse", "detail": reason}."""
    if isinstance(page, FetchedPage):
        page = page_input(page, language, timezone)
    try:
        html = decode_html(page["body"], page.get("encoding"))
        options = ExtractOptions(min_chars=min_chars, language_hint=page.get("language"),
                                 timezone=page.get("timezone"))
        article = extract_article(html, page["url"], options=options)
    except ExtractionError as exc:
        return {"ok": False, "kind": "extraction", "detail": str(exc)}
    except Exception as exc:  # a parser crash on one hostile page must not end the run
        return {"ok": False, "kind": "parse", "detail": f"{exc.__class__.__name__}: {exc}"}
    # places and gist here, in the worker: the reactor's process only writes them
    return {"ok": True, "article": article,
            "classification": classify_article(profile_path, article, model_path),
            "enrichment": enrich(article)}
