"""Extraction stage: fetched HTML → article fields (title, text, dates, ...).

    decode_html(body, declared_encoding) -> str            (see pipeline.decode)
    extract_article(html, url, *, options=None) -> dict
    ExtractionError(reason)                                 raised for empty / too-short pages
    ExtractOptions(min_chars=200, language_hint=None, ...)

Body text and most metadata come from trafilatura; the publication date is found by
pipeline.dates (metadata → site-aware text patterns → URL ids → htmldate, rejecting a
page-header "today" date). On top of trafilatura's text a generic cleanup removes news
chrome it tends to keep: photo captions ("... - Photo: VGP/Thuy Dung", "Ảnh: ..."), a
trailing author-only byline (kept as `author` when metadata has none), "Source:/Nguồn:"
lines, "Comment (0)", "Send Us Your Comments:", "See also:", bare date / "Update: ..." lines.

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

from .decode import decode_html

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
    favor_precision: bool = False
    favor_recall: bool = False
    clean_chrome: bool = True             # the news-chrome cleanup on top of trafilatura
    now: datetime | None = None           # reference "now" for the future-date guard (tests)
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
_BYLINE_WORD = re.compile(r"^(?:[A-ZÀ-ỸĐ][\w'’.\-]*|and|và|&|-|–|/|,)$")
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]$")


def _is_date_line(line: str) -> bool:
    from .dates import _HEADER_LINE
    return len(line) <= 60 and any(p.match(line) for p in _HEADER_LINE)


def _is_chrome(line: str) -> bool:
    if len(line) <= 500 and (_CAPTION_TAIL.match(line) or _CAPTION_HEAD.match(line)
                             or _CAPTION_DOT.match(line) or _CAPTION_ILLUS.match(line)):
        return True
    if (_CAPTION_AGENCY.match(line) or _SOURCE_LINE.match(line) or _CHROME_LINE.match(line)
            or _DATED_LINK.match(line)):
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


def clean_text(text: str, title: str | None = None) -> tuple[str, str | None]:
    """Remove news chrome lines from trafilatura text. Returns (text, byline_author)."""
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
    lines = [ln for ln in lines if not _is_chrome(ln)]
    if title and lines and _squash(lines[0]) == _squash(title):
        lines.pop(0)
    author = None
    if len(lines) > 3:
        author = _byline(lines[-1])
        if author:
            lines.pop()
    return "\n".join(lines), author


def _squash(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().lower()


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


# ----------------------------------------------------------------------------- language

_VI_SPECIFIC = set("ăâđêôơưĂÂĐÊÔƠƯ")
_VI_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_EN_STOP = {"the", "and", "of", "to", "in", "is", "that", "for", "was", "with", "on", "as", "said"}


def _vi_density(text: str) -> float:
    letters = vi = 0
    for ch in text[:20000]:
        if ch.isalpha():
            letters += 1
            if ch in _VI_SPECIFIC or (ord(ch) > 0x7F and any(c in _VI_MARKS for c in unicodedata.normalize("NFD", ch))):
                vi += 1
    return vi / letters if letters else 0.0


def _looks_english(text: str) -> bool:
    words = re.findall(r"[A-Za-z]+", text[:20000].lower())
    if len(words) < 20:
        return False
    non_ascii = sum(1 for ch in text[:20000] if ch.isalpha() and ord(ch) > 0x7F)
    # English prose about Viet Nam carries Vietnamese names (Tây Ninh, Đồng Tháp): their
    # letters are few next to a Vietnamese text's, where nearly every word has one
    return (sum(w in _EN_STOP for w in words) / len(words) > 0.08
            and (non_ascii / max(1, len(words)) < 0.05 or _vi_density(text) < 0.03))


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
    density = _vi_density(text)
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


# ----------------------------------------------------------------------------- main entry

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
    total = len(" ".join(body.text_content().split())) or 1
    for element in list(body.iter("div", "td", "section", "aside", "ul")):
        label = f"{element.get('class', '')} {element.get('id', '')}"
        if element.getparent() is None or not _SIDE_COLUMN.search(label):
            continue
        if element.xpath(".//h1") or len(" ".join(element.text_content().split())) > 0.4 * total:
            continue
        element.drop_tree()


def _squash(value: str) -> str:
    return " ".join(value.split()).casefold()


def _lead(tree, description: str | None, text: str) -> str | None:
    """The standfirst (sapo) that trafilatura leaves out when it sits outside the body
    block, as on baochinhphu.vn: the smallest visible block holding the page's own
    description. It is the article's summary, so it belongs at the head of the text."""
    if not description or len(description) < 60:
        return None
    key = _squash(description)
    if key[:80] in _squash(text):
        return None
    best = None
    for element in tree.iter("p", "div", "h2", "strong", "b", "span", "section"):
        if any(a.tag in ("script", "noscript", "template", "head") for a in element.iterancestors()):
            continue
        own = " ".join(element.text_content().split())
        if len(own) <= 1.5 * len(description) + 40 and key in own.casefold():
            if best is None or len(own) < len(best):
                best = own
    return _nfc(best)


def extract_article(html: str, url: str, *, options: ExtractOptions | None = None) -> dict:
    """Extract article fields from decoded *html* fetched at *url*. See module docstring."""
    import trafilatura
    from trafilatura.utils import load_html

    from .dates import find_published

    opts = options or ExtractOptions()
    if not html or not html.strip():
        raise ExtractionError("empty")
    html = unicodedata.normalize("NFC", html)
    tree = load_html(html)
    if tree is None:
        raise ExtractionError("empty")

    doc = trafilatura.bare_extraction(
        _without_layout_chrome(load_html(html)), url=url, with_metadata=True, include_comments=False,
        include_tables=opts.include_tables, favor_precision=opts.favor_precision,
        favor_recall=opts.favor_recall,
        date_extraction_params={"extensive_search": False, "original_date": True})
    raw_text = (getattr(doc, "text", None) or "") if doc is not None else ""
    raw_text = unicodedata.normalize("NFC", raw_text)

    def attr(name):
        return _nfc(getattr(doc, name, None)) if doc is not None else None

    title = attr("title") or _nfc(_meta(tree, "og:title"))
    if not title:
        h1 = next(iter(tree.iter("h1")), None)
        title = _nfc(" ".join(h1.text_content().split())) if h1 is not None else None
    if not title:
        t = next(iter(tree.iter("title")), None)
        title = _nfc(t.text_content()) if t is not None else None

    if opts.clean_chrome:
        text, byline = clean_text(raw_text, title)
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

    page_text = _page_text(tree)
    hit = find_published(tree, html, url, page_text, _headline_pos(page_text, tree, title), now=opts.now)

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
