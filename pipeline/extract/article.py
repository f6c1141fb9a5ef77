"""Extraction stage: fetched HTML → article fields (title, text, dates, ...).

    decode_html(body, declared_encoding) -> str            (see pipeline.extract.decode)
    extract_article(html, url, *, options=None) -> dict
    ExtractionError(reason)                                 raised for empty / too-short pages
    ExtractOptions(min_chars=200, language_hint=None, ...)

Body text comes from trafilatura, run in two steps (the default, "auto"): first in precision
mode without its fallback extractors (fast), which leaves out most related-link lists, deks
and teaser boxes; when that text is short (< 500 chars) trafilatura's full balanced cascade
(readability/justext fallbacks included) gives a second opinion, taken when it is at least
twice as long — precision mode sometimes prunes the whole article away. The page is parsed
once; layout tables are flattened, drop-down menus, photo captions and right-hand columns
dropped and the spans inside paragraphs unwrapped first. The subheadings precision mode prunes
between two paragraphs it kept are put back. An article body split into sibling blocks of one
class (ads between "chunks") is completed from the blocks trafilatura did not take. (Measured on
the article-extraction benchmark and the dev set of real pages: see bench/extraction_quality.py.)

On top of trafilatura's text a generic cleanup removes news chrome it tends to keep: photo
captions ("... - Photo: VGP/Thuy Dung", "Ảnh: ..."), a trailing author-only byline (kept as
`author` when metadata has none), "Source:/Nguồn:" lines, "Comment (0)", "Send Us Your
Comments:", "See also:" / "Related news" tails, bare date / "Update: ..." lines, inline teaser
lines ("Related: <headline>", "READ MORE: ...", "Xem thêm: ..."), newsletter / follow-us /
"write to the author at ..." lines, runs of (partly) linked headlines in the second half of the
text, everything from a copyright notice or a "You might also like" heading on, and the
single-cell rows of layout tables ("| Most Viewed Articles |").
A Vietnamese-style standfirst (a "sapo" block) that trafilatura left out leads the text.

Metadata (title, author, sitename, description, tags, image) comes from trafilatura's metadata
helpers (without its date, URL and licence look-ups); the publication date is found by
pipeline.extract.dates (metadata → site-aware text patterns → URL ids → htmldate, rejecting a
page-header "today" date), as the publisher's local time with its offset when known
(pipeline.extract.publisher_time).

extract_article is a pure function of its arguments (plus the clock, unless options.now is
set); it is cheap to import (trafilatura/htmldate are imported on first use) and safe to call
from a process pool. Every returned string is Unicode NFC.

This module assembles the fields; each job has its module: page (the parsed page, its
preparation, the standfirst), body (trafilatura's text), cleanup (news chrome), metadata,
dates and publisher_time, language, decode and nesting.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from pipeline.extract.body import _body_text, _bold_leads, _continuations, _inline_blocks
from pipeline.extract.cleanup import _nfc, clean_text
from pipeline.extract.decode import decode_html
from pipeline.extract.language import _language
from pipeline.extract.metadata import _metadata
from pipeline.extract.page import (
    _anchor_texts,
    _canonical,
    _headline_pos,
    _lead,
    _meta,
    _page_text,
    _without_layout_chrome,
)

__all__ = ["decode_html", "extract_article", "ExtractionError", "ExtractOptions", "clean_text"]


class ExtractionError(Exception):
    """The page has no usable article text. ``reason``: 'empty', 'too short: N chars', ..."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self):  # picklable across process pools
        return (type(self), (self.reason,))


@dataclass(frozen=True)
class ExtractOptions:
    min_chars: int = 200                  # shorter cleaned text → ExtractionError
    language_hint: str | None = None      # used only when neither metadata nor text tells
    include_tables: bool = True
    # trafilatura mode: neither flag = "auto" (precision first, balanced second opinion for a
    # short text, see the module docstring); favor_precision / favor_recall = that mode only
    favor_precision: bool = False
    favor_recall: bool = False
    clean_chrome: bool = True             # the news-chrome cleanup on top of trafilatura
    now: datetime | None = None           # reference "now" for the future-date guard (tests)
    timezone: str | None = None           # the source's zone ("Asia/Ho_Chi_Minh"): see pipeline.extract.publisher_time
    extra: tuple = field(default=())      # reserved


def extract_article(html: str, url: str, *, options: ExtractOptions | None = None) -> dict:
    """Extract article fields from decoded *html* fetched at *url*. See module docstring.
    A page that comes out empty or short because it nests deeper than the parser follows is
    read again flattened, one whose <title> is never closed is read again with it closed
    (pipeline/extract/nesting.py)."""
    from pipeline.extract.nesting import closed_title, flattened, too_deep

    try:
        return _extract_article(html, url, options)
    except ExtractionError:
        if not html:
            raise
        if too_deep(html):
            return _extract_article(flattened(html), url, options)
        repaired = closed_title(html)
        if repaired is None:
            raise
    return _extract_article(repaired, url, options)


def _extract_article(html: str, url: str, options: ExtractOptions | None) -> dict:
    from trafilatura.utils import load_html

    from pipeline.extract.dates import find_published

    opts = options or ExtractOptions()
    if not html or not html.strip():
        raise ExtractionError("empty")
    html = unicodedata.normalize("NFC", html)
    tree = load_html(html)
    if tree is None:
        raise ExtractionError("empty")

    doc = _metadata(tree, url)

    def attr(name):
        return _nfc(getattr(doc, name, None)) if doc is not None else None

    title = attr("title") or _nfc(_meta(tree, "og:title"))
    if not title:
        h1 = next(iter(tree.iter("h1")), None)
        title = _nfc(" ".join(h1.text_content().split())) if h1 is not None else None
    if not title:
        t = next(iter(tree.iter("title")), None)
        title = _nfc(t.text_content()) if t is not None else None

    def page_view():
        page_text = _page_text(tree)
        return page_text, _headline_pos(page_text, tree, title)

    # the date is read from the page as served; the body text from the page without layout
    # chrome, prepared in place (parsing twice or copying the tree would cost more)
    canonical_url = _nfc(_canonical(tree, url))
    hit = find_published(tree, html, url, page_view, now=opts.now, zone=opts.timezone, declared_url=canonical_url)
    raw_text = unicodedata.normalize("NFC", _body_text(_without_layout_chrome(tree), url, opts))
    if opts.clean_chrome:
        raw_text = _bold_leads(tree, _inline_blocks(tree, raw_text))
    more = _continuations(tree, raw_text) if opts.clean_chrome else []
    if more:
        raw_text = "\n".join([raw_text, *more])

    if opts.clean_chrome:
        text, byline = clean_text(raw_text, title, anchors=lambda: _anchor_texts(tree))
    else:
        text, byline = raw_text.strip(), None
    text = _nfc(text) or ""
    lead = _lead(tree, attr("description"), text) if opts.clean_chrome else None
    if lead:
        text = lead + "\n" + text
    if not text:
        raise ExtractionError("empty")
    if len(text) < opts.min_chars:
        raise ExtractionError(f"too short: {len(text)} chars")

    tags: list[str] = []
    for group in (getattr(doc, "tags", None) or [], getattr(doc, "categories", None) or []) if doc is not None else ():
        for tag in ([group] if isinstance(group, str) else group):
            for part in str(tag).split(","):
                part = _nfc(part)
                if part and part not in tags:
                    tags.append(part)

    image = attr("image") or _nfc(_meta(tree, "og:image", "twitter:image"))
    if image:
        image = urljoin(url, image)

    return {
        "title": title,
        "text": text,
        "author": attr("author") or _nfc(byline),
        "published": hit.value if hit else None,
        "date_source": hit.source if hit else None,
        "language": _language(tree, text, opts.language_hint),
        "sitename": attr("sitename"),
        "description": attr("description"),
        "tags": tags,
        "canonical_url": canonical_url,
        "image": _nfc(image),
    }
