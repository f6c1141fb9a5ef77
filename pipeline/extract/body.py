"""The article body from trafilatura: precision first, the balanced cascade as a second opinion
on a short text, the subheadings precision mode prunes, and the blocks of a body split by ads
that trafilatura did not take."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pipeline.extract.cleanup import _SENTENCE_END, _words

if TYPE_CHECKING:
    from pipeline.extract.article import ExtractOptions


# auto mode: a precision-mode text shorter than this gets a balanced second opinion ...
_SECOND_OPINION_CHARS = 500


# ... which replaces it when it is at least this many times longer
_SECOND_OPINION_RATIO = 2.0


def _doc_text(doc) -> str:
    return ((getattr(doc, "text", None) or "") if doc is not None else "").strip()


def _body_text(work, url: str, opts: ExtractOptions) -> str:
    """trafilatura's text of the prepared page *work* (left unchanged: trafilatura copies it)."""
    import trafilatura

    common: dict[str, Any] = {"url": url, "include_comments": False, "include_tables": opts.include_tables,
                              "with_metadata": False}
    if opts.favor_precision or opts.favor_recall:
        return _doc_text(trafilatura.bare_extraction(work, favor_precision=opts.favor_precision,
                                                     favor_recall=opts.favor_recall, **common))
    text = _doc_text(trafilatura.bare_extraction(work, favor_precision=True, fast=True, **common))
    if len(text) < _SECOND_OPINION_CHARS:
        other = _doc_text(trafilatura.bare_extraction(work, **common))
        if len(other) > _SECOND_OPINION_RATIO * len(text):
            text = other
    return text


def _source_paragraph(tree, line: str):
    """The <p> of the page whose text starts like *line* (a line of the extracted text)."""
    key = _words(line)[:60]
    for element in tree.iter("p"):
        own = _words(element.text_content() or "")
        if own.startswith(key) and len(own) < 3 * len(line) + 100:
            return element
    return None


def _continuations(tree, text: str) -> list[str]:
    """Paragraphs of an article body split into several sibling blocks (an ad or a pull
    quote between "chunks" of the same class, as on Condé Nast sites) that trafilatura, which
    takes the first matching block, left out. The block holding the extracted paragraphs must
    carry a class; another element of the same tag and class close by (sharing an ancestor at
    most 4 levels up) is a continuation when it holds 2+ prose paragraphs (80+ chars, ending
    like a sentence), 300+ chars not yet extracted, and few links."""
    lines = [ln for ln in text.split("\n") if len(ln) >= 80]
    if len(lines) < 2:
        return []
    first, last = _source_paragraph(tree, lines[0]), _source_paragraph(tree, lines[-1])
    if first is None or last is None:
        return []
    above_last = {last, *last.iterancestors()}
    common = next((a for a in (first, *first.iterancestors()) if a in above_last), None)
    if common is None or common is first:
        common = first.getparent()
    block = common if common is not None and common.get("class") else (
        common.getparent() if common is not None else None)
    if block is None or not block.get("class") or block.tag in ("body", "html"):
        return []
    scope = block
    for _ in range(4):
        if scope.getparent() is None:
            break
        scope = scope.getparent()
    if scope is block:
        return []
    have = _words(text)
    found = []
    for other in scope.iter(block.tag):
        if other is block or other.get("class") != block.get("class"):
            continue
        if any(a is block for a in other.iterancestors()) or any(a is other for a in block.iterancestors()):
            continue
        paragraphs = [_words(el.text_content() or "") for el in other.iter("p", "h2", "h3", "h4")]
        paragraphs = [p for p in paragraphs if p and p[:60] not in have]
        prose = [p for p in paragraphs if len(p) >= 80 and _SENTENCE_END.search(p)]
        size = sum(len(p) for p in paragraphs)
        linked = sum(len(_words(a.text_content() or "")) for a in other.iter("a"))
        if len(prose) >= 2 and size >= 300 and linked < 0.3 * size:
            found += paragraphs
    return found


# elements skipped when looking for the paragraph next to a subheading, and the subheadings
_INERT = {"br", "hr", "img", "figure", "picture", "script", "style", "noscript", "iframe"}


_HEADINGS = ("h2", "h3", "h4")


# an ad slot between the blocks of an article ("js_ad-dynamic", "ad-slot", "advertisement")
_AD_SLOT = re.compile(r"(?:^|[\s_-])(?:ads?|advert\w*|dfp|sponsor\w*)(?:$|[\s_-])", re.IGNORECASE)


def _passed_over(sibling) -> bool:
    """Between a subheading and its paragraph: comments, media, empty elements, ad slots and
    the other headings of a run ("Part One" / "Chapter 1")."""
    if not isinstance(sibling.tag, str) or sibling.tag in _INERT or sibling.tag in _HEADINGS:
        return True
    if sibling.tag == "p":
        return False
    if _AD_SLOT.search(f"{sibling.get('class') or ''} {sibling.get('id') or ''}"):
        return True
    return not any(t.strip() for t in sibling.itertext())


def _neighbour_paragraph(heading, forward: bool):
    """The next (or previous) sibling <p> of *heading* with a sentence's length, past what
    _passed_over names and up to two short paragraphs (an image credit, "(Artist: ...)")."""
    sibling = heading.getnext() if forward else heading.getprevious()
    short = 0
    while sibling is not None:
        if sibling.tag == "p" and len(_words(sibling.text_content() or "")) < 20 and short < 2:
            short += 1
        elif not _passed_over(sibling):
            break
        sibling = sibling.getnext() if forward else sibling.getprevious()
    return sibling if sibling is not None and sibling.tag == "p" else None


def _inline_blocks(tree, text: str) -> str:
    """*text* with the subheadings of the article body that trafilatura's precision mode prunes
    (a linked subheading, a run of short ones) put back in place. A heading (h2-h4) is part of
    the body when it sits between two paragraphs both in *text*; it goes in after the first."""
    lines = text.split("\n")
    have = None
    inserts: list[tuple[int, int, str]] = []
    for heading in tree.iter(*_HEADINGS):
        before = _neighbour_paragraph(heading, False)
        after = _neighbour_paragraph(heading, True) if before is not None else None
        if after is None:
            continue
        if have is None:
            have = _words(text)
        own = _words(heading.text_content() or "")
        head, tail = _words(before.text_content() or "")[:60], _words(after.text_content() or "")[:60]
        if not own or own[:60] in have or len(own) > 300 or len(head) < 20 or len(tail) < 20 \
                or head not in have or tail not in have:
            continue
        at = next((i for i, line in enumerate(lines) if head[:40] in _words(line)), None)
        if at is not None:
            inserts.append((at, len(inserts), own))
    for at, _, own in sorted(inserts, reverse=True):  # a run of headings keeps its order
        lines.insert(at + 1, own)
    return "\n".join(lines)


# elements a lead sentence in bold never sits straight in (it is then part of their own text)
_NO_LEAD_PARENTS = ("p", "li", "a", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "figcaption")


def _bold_leads(tree, text: str) -> str:
    """*text* with an article's opening sentence set in bold straight inside its block
    (<div><strong>Lead sentence.<br></strong><br>The rest...</div>), which trafilatura drops as
    emphasis without a paragraph, put back before the text that follows it. Only a whole sentence
    of 80+ characters, not already in the text, followed on the page by a passage that is."""
    have = None
    lines = text.split("\n")
    for bold in tree.iter("strong", "b"):
        parent = bold.getparent()
        if parent is None or parent.tag in _NO_LEAD_PARENTS or bold.getprevious() is not None \
                or (parent.text or "").strip():
            continue
        own = _words(bold.text_content() or "")
        if len(own) < 80 or not _SENTENCE_END.search(own):
            continue
        following = _text_after(bold)
        if have is None:
            have = _words(text)
        if len(following) < 30 or following not in have or own[:60] in have:
            continue
        at = next((i for i, line in enumerate(lines) if _words(line).startswith(following[:40])), None)
        if at is not None:
            lines.insert(at, own)
            have = _words("\n".join(lines))
    return "\n".join(lines)


def _text_after(element, size: int = 60) -> str:
    """The first *size* characters of the text that follows *element* in its parent."""
    parts = [_words(element.tail or "")]
    siblings = element.itersiblings()
    while sum(map(len, parts)) < size and (sibling := next(siblings, None)) is not None:
        parts += [_words(sibling.text_content() or ""), _words(sibling.tail or "")]
    return " ".join(part for part in parts if part)[:size]
