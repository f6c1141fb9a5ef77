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
once; layout tables are flattened, photo captions and right-hand columns dropped first. An
article body split into sibling blocks of one class (ads between "chunks") is completed from
the blocks trafilatura did not take. (Measured on the article-extraction benchmark: see
bench/extraction_quality.py.)

On top of trafilatura's text a generic cleanup removes news chrome it tends to keep: photo
captions ("... - Photo: VGP/Thuy Dung", "Ảnh: ..."), a trailing author-only byline (kept as
`author` when metadata has none), "Source:/Nguồn:" lines, "Comment (0)", "Send Us Your
Comments:", "See also:" / "Related news" tails, bare date / "Update: ..." lines, inline teaser
lines ("Related: <headline>", "READ MORE: ...", "Xem thêm: ..."), newsletter / follow-us /
"write to the author at ..." lines, and runs of linked headlines in the second half of the text.
A Vietnamese-style standfirst (a "sapo" block) that trafilatura left out leads the text.

Metadata (title, author, sitename, description, tags, image) comes from trafilatura's metadata
helpers (without its date, URL and licence look-ups); the publication date is found by
pipeline.extract.dates (metadata → site-aware text patterns → URL ids → htmldate, rejecting a
page-header "today" date), as the publisher's local time with its offset when known
(pipeline.extract.publisher_time).

extract_article is a pure function of its arguments (plus the clock, unless options.now is
set); it is cheap to import (trafilatura/htmldate are imported on first use) and safe to call
from a process pool. Every returned string is Unicode NFC.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from pipeline.extract.decode import decode_html
from pipeline.extract.language import vietnamese_share

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


def _nfc(value):
    if value is None:
        return None
    value = unicodedata.normalize("NFC", str(value)).strip()
    return value or None


# ----------------------------------------------------------------------------- text cleanup

_CREDIT = r"(?:Photo|Photos|Ảnh|Image|Picture|Video|Clip|Nguồn\s+ảnh|Ảnh\s+minh\s+họa)"
_CAPTION_TAIL = re.compile(
    r"^.{0,500}?(?:\s[-–—|]\s*|\s\(|^\()" + _CREDIT + r"(?:\s+(?:by|courtesy\s+of))?\s*:?\s*[^.!?:]{0,80}\)?\.?\s*$",
    re.IGNORECASE)
_CAPTION_DOT = re.compile(r"^.{10,300}?[.!?]\s+\(?(?:Photo|Ảnh)\s*:\s*[^.!?:]{1,40}\)?\.?$", re.IGNORECASE)
_CAPTION_ILLUS = re.compile(
    r"^(?:.{0,300}[\s(\-–—])?\(?(?:Ảnh\s+minh\s+họa|Ảnh\s+minh\s+hoạ|Illustrative\s+(?:photo|image)|File\s+photo|"
    r"Photo\s+for\s+illustration|Ảnh\s+tư\s+liệu)\)?\.?$", re.IGNORECASE)
_CAPTION_HEAD = re.compile(r"^\(?" + _CREDIT + r"(?:\s+(?:by|courtesy\s+of))?\s*:\s*[^.!?]{1,120}\)?\.?$", re.IGNORECASE)
_CAPTION_AGENCY = re.compile(r"^(?:[A-Z]{2,6}/)?(?:VNA|VNS|VGP|TTXVN|AFP|Reuters|AP|EPA)\s+(?:Photo|Ảnh)\b.{0,80}$")
_SOURCE_LINE = re.compile(r"^(?:Source|Sources|Nguồn(?:\s+tin)?)\s*:\s*\S.{0,200}$", re.IGNORECASE)
_CHROME_LINE = re.compile(
    r"^(?:"
    r"(?:Comments?|Bình\s+luận|Ý\s+kiến(?:\s+bạn\s+đọc)?)\s*\(\s*\d+\s*\)"
    r"|Send\s+Us\s+Your\s+Comments?\s*:?"
    r"|(?:See\s+also|Related(?:\s+(?:news|articles?|stories|posts|content))?|Read\s+(?:more|also)|"
    r"More\s+(?:news|stories)|You\s+may\s+also\s+like|Tin\s+liên\s+quan|Tin\s+cùng\s+chuyên\s+mục|"
    r"Tin\s+khác|Xem\s+thêm|Đọc\s+thêm|Bài\s+liên\s+quan)\s*:?"
    r"|(?:Share|Chia\s+sẻ|Tags?|Từ\s+khóa|Từ\s+khoá|Keywords?|Print|In\s+bài(?:\s+viết)?|Email)\s*:?"
    r"|(?:Comment|Bình\s+luận|Gửi\s+bình\s+luận|Your\s+comment|Leave\s+a\s+comment)\s*:?"
    r")$", re.IGNORECASE)
_UPDATE_LINE = re.compile(
    r"^(?:Last\s+updated|Updated?|Published|Posted|Cập\s+nhật|Ngày\s+đăng|Đăng\s+lúc|Đăng\s+ngày|Thời\s+gian\s+đăng)"
    r"(?:\s+(?:on|at|lúc|ngày))?\s*:?\s*[\w ,./:\-–|()+]{0,60}\d{4}[\w ,./:\-–|()+]{0,30}$", re.IGNORECASE)
_TERMINATOR = re.compile(
    r"^(?:See\s+also|Related(?:\s+(?:news|articles?|stories|posts|content))?|Read\s+(?:more|also)|More\s+(?:news|stories)|"
    r"You\s+may\s+also\s+like|Send\s+Us\s+Your\s+Comments?|Tin\s+liên\s+quan|Tin\s+cùng\s+chuyên\s+mục|Tin\s+khác|"
    r"Xem\s+thêm|Đọc\s+thêm|Bài\s+liên\s+quan|Bình\s+luận|Comments?)\s*(?:\(\s*\d+\s*\))?\s*:?$", re.IGNORECASE)
_DATED_LINK = re.compile(r"^(?:[-•*·]\s*)?[^.!?]{5,160}\(\s*\d{1,2}/\d{1,2}(?:/\d{2,4})?\s*\)$")
# an inline pointer to another story: "Related: <headline>", "READ MORE: ...", "Xem thêm: ..."
_TEASER_LINE = re.compile(
    r"^(?:Related|Read\s+(?:more|also)|Also\s+read|See\s+(?:more|also)|More|Watch|Listen|Recommended|"
    r"Xem\s+thêm|Đọc\s+thêm|Tin\s+liên\s+quan|Bài\s+liên\s+quan|Xem\s+tiếp|Mời\s+xem)\s*:\s*\S", re.IGNORECASE)
# newsletter, follow-us and contact-the-author lines: an imperative call to action that names
# a channel (a social network, a newsletter or inbox, an @handle or e-mail address). Only the
# imperative forms: "Theo dõi tài khoản Facebook của nghi phạm, ..." (monitoring a suspect's
# account) or "Subscribers on Telegram were offered jobs" are news, not chrome.
_CTA_LINE = re.compile(
    r"^(?:Follow\s+(?:us|him|her|them|@|\S+(?:\s+\S+){0,5}\s+on\b)|Like\s+us\b|Listen\s+(?:to|on|live)\b|"
    r"Subscribe\b|Sign\s+up\b|Join\s+(?:us|our)\b|Download\s+(?:the|our)\b|Get\s+the\s+(?:latest|day|best)\b|"
    r"Email\s+\S+(?:\s+\S+)?\s+at\b|Write\s+to\b|Have\s+a\s+(?:tip|story)\b|"
    r"Theo\s+dõi\s+(?:chúng\s+tôi|kênh|fanpage|trang|báo)|Đăng\s+ký\s+(?:nhận|theo\s+dõi|kênh)|"
    r"Mời\s+(?:bạn|quý\s+vị)(?:\s+\S+)?\s+(?:đọc|xem|theo\s+dõi|đón\s+đọc|đón\s+xem))"
    r".*(?:\b(?:Twitter|Facebook|Instagram|YouTube|TikTok|Zalo|Telegram|newsletters?|inbox|podcasts?|bản\s+tin|"
    r"fanpage)\b|@\w+)", re.IGNORECASE)
_BYLINE_WORD = re.compile(r"^(?:[A-ZÀ-ỸĐ][\w'’.\-]*|and|và|&|-|–|/|,)$")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]$")
_DIGIT = re.compile(r"\d")


def _is_date_line(line: str) -> bool:
    if len(line) > 60 or not _DIGIT.search(line):
        return False
    from pipeline.extract.dates import _HEADER_LINE
    return any(p.match(line) for p in _HEADER_LINE)


def _is_chrome(line: str) -> bool:
    if len(line) <= 500 and (_CAPTION_TAIL.match(line) or _CAPTION_HEAD.match(line)
                             or _CAPTION_DOT.match(line) or _CAPTION_ILLUS.match(line)):
        return True
    if (_CAPTION_AGENCY.match(line) or _SOURCE_LINE.match(line) or _CHROME_LINE.match(line)
            or _DATED_LINK.match(line)):
        return True
    if len(line) < 200 and _TEASER_LINE.match(line):
        return True
    if len(line) < 250 and _CTA_LINE.match(line):
        return True
    if len(line) <= 100 and _UPDATE_LINE.match(line):
        return True
    return _is_date_line(line)


def _byline(line: str) -> str | None:
    """An author-only line: 1-5 capitalised words, no digits, no sentence punctuation."""
    line = re.sub(r"^(?:By|Bài|Theo|Tác\s+giả)\s*:?\s+", "", line.strip(), flags=re.IGNORECASE) if line else line
    if not line or len(line) > 45 or re.search(r"\d", line) or _SENTENCE_END.search(line):
        return None
    words = line.replace(",", " , ").split()
    if not 1 <= len([w for w in words if w[0].isalpha()]) <= 5:
        return None
    if not all(_BYLINE_WORD.match(w) for w in words) or not words[0][0].isupper():
        return None
    return line


def _words(value: str) -> str:
    return " ".join(value.split())


def _linked_runs(lines: list[str], anchors) -> set[int]:
    """Indices of runs (2+ lines) of linked headlines in the second half of the text: a
    "more stories" list that survived as plain lines. A line counts when it is, apart from a
    list marker, exactly the text of one link of the page and has 4+ words; a short heading
    right above the run ("DON'T MISS") goes with it."""
    total = sum(len(x) for x in lines) or 1
    seen, run, drop = 0, [], set()
    link_texts = None

    def flush():
        if len(run) >= 2:
            drop.update(run)
            above = run[0] - 1
            if above >= 0 and len(lines[above]) < 40 and not _SENTENCE_END.search(lines[above]):
                drop.add(above)

    for i, line in enumerate(lines):
        candidate = _words(line[2:] if line.startswith(("- ", "• ")) else line)
        linked = False
        if seen >= total * 0.5 and len(candidate) < 150 and len(candidate.split()) >= 4:
            if link_texts is None:
                link_texts = anchors() if callable(anchors) else anchors
            linked = candidate in link_texts
        if linked:
            run.append(i)
        else:
            flush()
            run = []
        seen += len(line)
    flush()
    return drop


def clean_text(text: str, title: str | None = None, anchors=None) -> tuple[str, str | None]:
    """Remove news chrome lines from trafilatura text. Returns (text, byline_author).
    *anchors*: the page's link texts (a set, or a callable returning one), which enables the
    removal of linked-headline runs."""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    total = sum(len(ln) for ln in lines)
    seen = 0
    for i, ln in enumerate(lines):
        # a "See also:" / "Related news" / comments heading in the last part of the text, followed
        # only by short lines (link lists, comment forms): the article ends there
        if seen >= total * 0.5 and _TERMINATOR.match(ln) and all(len(x) < 250 for x in lines[i + 1:]):
            lines = lines[:i]
            break
        seen += len(ln)
    if anchors is not None:
        drop = _linked_runs(lines, anchors)
        lines = [ln for i, ln in enumerate(lines) if i not in drop]
    lines = [ln for ln in lines if not _is_chrome(ln)]
    if title and lines and _squash(lines[0]) == _squash(title):
        lines.pop(0)
    author = None
    if len(lines) > 3:
        author = _byline(lines[-1])
        if author:
            lines.pop()
    return "\n".join(lines), author


def _squash(value: str) -> str:
    return " ".join(value.split()).casefold()


# ----------------------------------------------------------------------------- page helpers

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
          "table", "section", "article", "header", "footer", "aside", "nav", "blockquote", "figure",
          "figcaption", "dd", "dt", "dl", "form", "main", "hr", "pre", "address"}
_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "select", "option", "button"}


def _page_text(tree, limit: int = 300_000) -> str:
    """Visible-ish text of the page in document order, block elements on their own lines."""
    from lxml import etree
    parts: list[str] = []
    size = 0
    walker = etree.iterwalk(tree, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if event == "start":
            if tag in _SKIP or not tag:
                walker.skip_subtree()
                if el.tail and el is not tree:
                    parts.append(el.tail)
                continue
            if tag in _BLOCK:
                parts.append("\n")
            if el.text:
                parts.append(el.text)
                size += len(el.text)
        else:
            if tag in _BLOCK:
                parts.append("\n")
            if el.tail and el is not tree:
                parts.append(el.tail)
                size += len(el.tail)
        if size > limit:
            break
    text = "".join(parts)
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text)


def _headline_pos(page_text: str, tree, title: str | None) -> int:
    candidates = []
    for h1 in tree.iter("h1"):
        t = " ".join((h1.text_content() or "").split())
        if t:
            candidates.append(t)
        if len(candidates) >= 3:
            break
    if title:
        candidates.append(title)
    for cand in candidates:
        pos = page_text.find(cand)
        if pos >= 0:
            return pos
    return -1


def _meta(tree, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}"]'):
            if el.get("content", "").strip():
                return el.get("content").strip()
    return None


def _canonical(tree, url: str) -> str | None:
    hrefs = [el.get("href") for el in tree.xpath('//link[@href][contains(concat(" ", '
                                                   'translate(@rel, "CANONIL", "canonil"), " "), " canonical ")]')]
    hrefs.append(_meta(tree, "og:url"))
    for href in hrefs:
        if href and href.strip():
            absolute = urljoin(url, href.strip())
            if absolute.startswith(("http://", "https://")):
                return absolute
    return None


def _anchor_texts(tree) -> set[str]:
    return {t for t in (_words(a.text_content() or "") for a in tree.iter("a")) if t}


# ----------------------------------------------------------------------------- language

_EN_STOP = {"the", "and", "of", "to", "in", "is", "that", "for", "was", "with", "on", "as", "said"}


def _looks_english(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text[:20000].lower())
    if len(words) < 20:
        return False
    non_ascii = sum(1 for ch in text[:20000] if ch.isalpha() and ord(ch) > 0x7F)
    # English prose about Viet Nam carries Vietnamese names (Tây Ninh, Đồng Tháp): their
    # letters are few next to a Vietnamese text's, where nearly every word has one
    return (sum(w in _EN_STOP for w in words) / len(words) > 0.08
            and (non_ascii / max(1, len(words)) < 0.05 or vietnamese_share(text) < 0.03))


def _language(tree, text: str, hint: str | None) -> str | None:
    declared = None
    root = tree.getroottree().getroot() if hasattr(tree, "getroottree") else tree
    for value in (root.get("lang"), root.get("xml:lang"), root.get("{http://www.w3.org/XML/1998/namespace}lang"),
                  _meta(tree, "og:locale", "language", "content-language", "dc.language"),
                  *[el.get("content") for el in tree.xpath('//meta[translate(@http-equiv,"CONTELANGU","contelangu")'
                                                              '="content-language"]')]):
        if value and re.match(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*$", value.strip()):
            declared = value.strip().split("-")[0].split("_")[0].lower()
            break
    density = vietnamese_share(text)
    if declared:
        if declared != "vi" and density > 0.08:
            return "vi"  # template says 'en' but the text is Vietnamese
        if declared == "vi" and density < 0.005 and _looks_english(text):
            return "en"
        return declared
    if density > 0.05:
        return "vi"
    if _looks_english(text):
        return "en"
    return hint.lower() if hint else None


# ----------------------------------------------------------------------------- page preparation

_LAYOUT_CELL_CONTENT = ".//h1 | .//h2 | .//h3 | .//div | .//table | .//ul | .//form"
_CAPTIONS = ('//figcaption | //*[contains(translate(@class, "CAPTION", "caption"), "caption")]'
             '[string-length(normalize-space()) < 400]')


def _without_layout_chrome(tree):
    """The page as trafilatura should see it: layout tables turned into plain blocks
    (else the biggest "table" — the whole page column — is taken as content) and
    photo captions dropped (they are not the article's prose)."""
    for table in list(tree.iter("table")):
        cells = table.xpath("./tr/td | ./tbody/tr/td | ./thead/tr/td")
        if any(cell.xpath(_LAYOUT_CELL_CONTENT) for cell in cells):
            for element in [table, *table.xpath("./tbody | ./thead | ./tfoot | ./tr | ./*/tr"), *cells]:
                element.tag = "div"
                for attribute in ("width", "valign", "cellpadding", "cellspacing", "colspan"):
                    element.attrib.pop(attribute, None)
    for caption in tree.xpath(_CAPTIONS):
        if caption.getparent() is not None:
            caption.drop_tree()
    _drop_side_columns(tree)
    return tree


# class/id names of right-hand columns in table- and grid-based news CMSes; trafilatura
# already drops 'sidebar' and 'aside', and matching those here cost recall on the benchmark
# ('has-sidebar' wrappers hold the article)
_SIDE_COLUMN = re.compile(r"(?:^|[\s_-])(?:col-right|right-col|rightcol|column-right|right-column|box-right)"
                          r"(?:$|[\s_-])", re.IGNORECASE)


def _drop_side_columns(tree) -> None:
    """Side columns (most read, weather, ads) by their class or id, unless one holds the
    headline or most of the page's text, which would make it the article's own column."""
    body = next(iter(tree.iter("body")), tree)
    total = None
    candidates = []
    for element in body.iter("div", "td", "section", "aside", "ul"):
        label = f"{element.get('class') or ''} {element.get('id') or ''}"
        if ("ight" in label or "IGHT" in label) and _SIDE_COLUMN.search(label):
            candidates.append(element)
    for element in candidates:
        if element.getparent() is None:
            continue
        if total is None:
            total = len(" ".join(body.text_content().split())) or 1
        if element.xpath(".//h1") or len(" ".join(element.text_content().split())) > 0.4 * total:
            continue
        element.drop_tree()


# the standfirst block of Vietnamese (and French-school) news CMSes: "sapo", "chapeau", "chapo"
_SAPO_NAME = re.compile(r"sapo|chap+e?au|chapo", re.IGNORECASE)


def _sapo_blocks(tree) -> list:
    """Elements whose class or id names a sapo/chapeau (a plain scan: cheaper than XPath)."""
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for label in (element.get("class"), element.get("id")):
            if label and ("apo" in label or "hap" in label or "APO" in label or "HAP" in label) \
                    and _SAPO_NAME.search(label):
                found.append(element)
                break
    return found


def _lead(tree, description: str | None, text: str) -> str | None:
    """The standfirst (sapo) that trafilatura leaves out when it sits outside the body
    block, as on baochinhphu.vn: the smallest visible block holding the page's own
    description, inside an element the CMS names a sapo/chapeau. In Vietnamese news it is the
    article's first paragraph, so it belongs at the head of the text. (An English-language
    dek — "sub-head", "dek", "summary" in the page header — is a subtitle, not body text, and
    is left out, as the article-extraction benchmark's annotators do.)"""
    if not description or len(description) < 60:
        return None
    key = _squash(description)
    if key[:80] in _squash(text):
        return None
    best = None
    for block in _sapo_blocks(tree):
        if any(a.tag in ("script", "noscript", "template", "head") for a in block.iterancestors()):
            continue
        for element in block.iter("p", "div", "h2", "h3", "strong", "b", "span", "section", "em"):
            own = " ".join(element.text_content().split())
            if len(own) <= 1.5 * len(description) + 40 and key in own.casefold():
                if best is None or len(own) < len(best):
                    best = own
    return _nfc(best)


# ----------------------------------------------------------------------------- body text

# auto mode: a precision-mode text shorter than this gets a balanced second opinion ...
_SECOND_OPINION_CHARS = 500
# ... which replaces it when it is at least this many times longer
_SECOND_OPINION_RATIO = 2.0


def _doc_text(doc) -> str:
    return ((getattr(doc, "text", None) or "") if doc is not None else "").strip()


def _body_text(work, url: str, opts: ExtractOptions) -> str:
    """trafilatura's text of the prepared page *work* (left unchanged: trafilatura copies it)."""
    import trafilatura

    common = {"url": url, "include_comments": False, "include_tables": opts.include_tables, "with_metadata": False}
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


# ----------------------------------------------------------------------------- metadata

def _metadata(tree, url: str):
    """trafilatura's metadata (a trafilatura Document) without the parts tipwatch does not use
    and which cost most: htmldate (pipeline.extract.dates finds the date), the canonical-URL and
    hostname look-ups (see _canonical) and the licence search."""
    from trafilatura import metadata as tm

    try:
        md = tm.examine_meta(tree)
        if md.author and " " not in md.author:
            md.author = None
        try:
            md = tm.extract_meta_json(tree, md)
        except Exception:  # trafilatura's JSON-LD parsing is best-effort
            pass
        if not md.title:
            md.title = tm.extract_title(tree)
        if not md.author:
            md.author = tm.extract_author(tree)
        if not md.sitename:
            md.sitename = tm.extract_sitename(tree)
        if md.sitename:
            md.sitename = md.sitename.lstrip("@")
            if md.sitename and "." not in md.sitename and not md.sitename[0].isupper():
                md.sitename = md.sitename.title()
        elif url:
            m = tm.META_URL.match(url)
            if m:
                md.sitename = m[1]
        if not md.categories or not md.tags:
            # extract_catstags only keeps links whose href has /categor.../ or /tag.../: a page
            # without such a link needs none of its (costly) XPath searches
            hrefs = [a.get("href") or "" for a in tree.iter("a")]
            if not md.categories:
                if any("/categor" in h for h in hrefs):
                    md.categories = tm.extract_catstags("category", tree)
                else:  # extract_catstags' own fallback
                    from trafilatura.utils import line_processing
                    sections = [el.get("content") for el in tree.xpath(
                        './/head//meta[@property="article:section" or contains(@name, "subject")][@content]')]
                    md.categories = [r for r in dict.fromkeys(line_processing(x) for x in sections if x) if r]
            if not md.tags and any("/tag" in h for h in hrefs):
                md.tags = tm.extract_catstags("tag", tree)
        md.clean_and_trim()
        return md
    except AttributeError:  # a trafilatura without these helpers: its full metadata search
        try:
            return tm.extract_metadata(tree, url, {"extensive_search": False, "original_date": True})
        except Exception:
            return None
    except Exception:  # metadata is best-effort: the article must not be lost with it
        return None


# ----------------------------------------------------------------------------- main entry

def extract_article(html: str, url: str, *, options: ExtractOptions | None = None) -> dict:
    """Extract article fields from decoded *html* fetched at *url*. See module docstring.
    A page that comes out empty or short because it nests deeper than the parser follows is
    read again flattened (pipeline/nesting.py)."""
    from pipeline.extract.nesting import flattened, too_deep

    try:
        return _extract_article(html, url, options)
    except ExtractionError:
        if not html or not too_deep(html):
            raise
    return _extract_article(flattened(html), url, options)


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
    hit = find_published(tree, html, url, page_view, now=opts.now, zone=opts.timezone)
    raw_text = unicodedata.normalize("NFC", _body_text(_without_layout_chrome(tree), url, opts))
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
        "canonical_url": _nfc(_canonical(tree, url)),
        "image": _nfc(image),
    }
