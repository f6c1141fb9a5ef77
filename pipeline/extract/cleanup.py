"""News chrome removed from extracted text: photo captions, bylines, source and update lines,
teasers, calls to action, runs of linked headlines, footers from a copyright notice on, layout-table
cells (see article.py's docstring for the list)."""
from __future__ import annotations

import re
import unicodedata

from pipeline.extract.dates import _ANY_DATE, _HEADER_LINE, _WEEKDAY

_CREDIT = r"(?:Photo|Photos|Ảnh|Image|Picture|Video|Clip|Nguồn\s+ảnh|Ảnh\s+minh\s+họa)"


_CAPTION_TAIL = re.compile(
    r"^.{0,500}?(?:\s[-–—|]\s*|\s\(|^\()" + _CREDIT + r"(?:\s+(?:by|courtesy\s+of))?\s*:?\s*[^.!?:]{0,80}\)?\.?\s*$",
    re.IGNORECASE)


_CAPTION_DOT = re.compile(r"^.{10,300}?[.!?]\s+\(?(?:Photo|Ảnh)\s*:\s*[^.!?:]{1,40}\)?\.?$", re.IGNORECASE)


_CAPTION_ILLUS = re.compile(
    r"^(?:.{0,300}[\s(\-–—])?\(?(?:Ảnh\s+minh\s+họa|Ảnh\s+minh\s+hoạ|Illustrative\s+(?:photo|image)|File\s+photo|"
    r"Photo\s+for\s+illustration|Ảnh\s+tư\s+liệu)\)?\.?$", re.IGNORECASE)


_CAPTION_HEAD = re.compile(r"^\(?" + _CREDIT + r"(?:\s+(?:by|courtesy\s+of))?\s*:\s*[^.!?]{1,120}\)?\.?$",
                           re.IGNORECASE)


_CAPTION_AGENCY = re.compile(r"^(?:[A-Z]{2,6}/)?(?:VNA|VNS|VGP|TTXVN|AFP|Reuters|AP|EPA)\s+(?:Photo|Ảnh)\b.{0,80}$")


_SOURCE_LINE = re.compile(r"^(?:Source|Sources|Nguồn(?:\s+tin)?)\s*:\s*\S.{0,200}$", re.IGNORECASE)


_CHROME_LINE = re.compile(
    r"^(?:"
    r"(?:Comments?|Bình\s+luận|Ý\s+kiến(?:\s+bạn\s+đọc)?)\s*\(\s*\d+\s*\)"
    r"|Send\s+Us\s+Your\s+Comments?\s*:?"
    r"|(?:See\s+also|Related(?:\s+(?:news|articles?|stories|posts|content))?|Read\s+(?:more|also)|"
    r"More\s+(?:news|stories)|You\s+m(?:ay|ight)\s+also\s+like|Tin\s+liên\s+quan|Tin\s+cùng\s+chuyên\s+mục|"
    r"Tin\s+khác|Xem\s+thêm|Đọc\s+thêm|Bài\s+liên\s+quan)\s*:?"
    r"|(?:Share|Chia\s+sẻ|Tags?|Từ\s+khóa|Từ\s+khoá|Keywords?|Print|In\s+bài(?:\s+viết)?|Email)\s*:?"
    r"|(?:Comment|Bình\s+luận|Gửi\s+bình\s+luận|Your\s+comment|Leave\s+a\s+comment)\s*:?"
    r")$", re.IGNORECASE)


_UPDATE_LINE = re.compile(
    r"^(?:Last\s+updated|Updated?|Published|Posted|Cập\s+nhật|Ngày\s+đăng|Đăng\s+lúc|Đăng\s+ngày|Thời\s+gian\s+đăng)"
    r"(?:\s+(?:on|at|lúc|ngày))?\s*:?\s*[\w ,./:\-–|()+]{0,60}\d{4}[\w ,./:\-–|()+]{0,30}$", re.IGNORECASE)


_TERMINATOR = re.compile(
    r"^(?:See\s+also|Related(?:\s+(?:news|articles?|stories|posts|content))?|Read\s+(?:more|also)|More\s+(?:news|stories)|"
    r"Send\s+Us\s+Your\s+Comments?|Tin\s+liên\s+quan|Tin\s+cùng\s+chuyên\s+mục|"
    r"Tin\s+khác|Xem\s+thêm|Đọc\s+thêm|Bài\s+liên\s+quan|Bình\s+luận|Comments?)\s*(?:\(\s*\d+\s*\))?\s*:?$",
    re.IGNORECASE)


# a heading that always opens a recommendations block, however long the teasers below it
_END_HEADING = re.compile(r"^(?:You\s+m(?:ay|ight)\s+also\s+(?:like|enjoy)|Recommended\s+for\s+you)\s*:?$",
                          re.IGNORECASE)


# a copyright notice ("© 2008 The Times", "Copyright 2008 The Associated Press. All rights reserved.")
# closes the article: what follows it is the page's footer and side columns. A year or "rights
# reserved" makes it a notice: a bare "© AFP" is a photo credit
_NOTICE = re.compile(r"^\W{0,3}(?:(?:©|Copyright\s*(?:©|\(c\)))(?:.*\d{4}|.*\brights\s+reserved\b)"
                     r"|\(c\)\s*(?:\d{4}|Copyright)|Copyright\s*\d{4}|Copyright\b.*\brights\s+reserved\b"
                     r"|Copyright\b[^.!?]{0,30}$)", re.IGNORECASE)


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


# the text of a video.js player (its menus and dialogs), which sits inside many article bodies
_PLAYER_LINE = re.compile(
    r"^(?:- )?(?:This is a modal window\..*|Beginning of dialog window\..*|End of dialog window\.|Close Modal Dialog|"
    r"Chapters|[\w ]{1,30} off, selected|default, selected|(?:captions|subtitles) settings, opens [\w ]+ dialog)$")


# a slideshow's captions left as lines: "- 1/50 United goin down ...", "- 2/50 ..."
_GALLERY_ITEM = re.compile(r"^(?:- )?(\d{1,3})/(\d{1,3})\s+\S")


def _gallery(lines: list[str]) -> set[int]:
    """Indices of runs (3+) of slideshow captions: one total of 5 or more slides, counted up,
    each caption a phrase (a recipe's "1/2 tsp salt" and "3/4 cup flour" are no count)."""
    counters = [(int(m[1]), int(m[2])) if (m := _GALLERY_ITEM.match(line)) else None for line in lines]
    drop: set[int] = set()
    for block in _blocks(range(len(lines)), lambda i: counters[i] is not None):
        numbers = [counter for i in block if (counter := counters[i]) is not None]
        total = numbers[0][1]
        if len(block) >= 3 and total >= max(5, len(block)) and all(t == total for _, t in numbers) \
                and all(a[0] < b[0] for a, b in zip(numbers, numbers[1:], strict=False)) \
                and sum(len(lines[i]) for i in block) >= 40 * len(block):
            drop.update(block)
    return drop


_BYLINE_WORD = re.compile(r"^(?:[A-ZÀ-ỸĐ][\w'’.\-]*|and|và|&|-|–|/|,)$")


_SENTENCE_END = re.compile(r"[.!?:;\"”’)]$")


_DIGIT = re.compile(r"\d")


def _is_date_line(line: str) -> bool:
    if len(line) > 60 or not _DIGIT.search(line):
        return False
    return any(p.match(line) for p in _HEADER_LINE)


def _layout_row(line: str) -> bool:
    """A table row of the text ("| cell | cell |") with one filled cell, short and not a
    sentence: a cell of a layout table (a date, a section name, a linked headline), not data."""
    if len(line) > 400 or not (line.startswith("|") and line.endswith("|")):
        return False
    filled = [cell for cell in (c.strip() for c in line.strip("|").split(" | ")) if cell.strip("|- ")]
    return len(filled) == 1 and len(filled[0]) < 120 and not _SENTENCE_END.search(filled[0])


# what a dateline holds beside its date: times, weekdays, zones, "Posted on", "by"
_DATELINE_WORDS = re.compile(
    r"\b(?:\d{1,2}[:.]\d\d(?::\d\d)?\s*(?:[ap]\.?m\b\.?)?|" + _WEEKDAY + r"|[ECMP][SD]?T|GMT|UTC|BST|CET|AEST|IST|"
    r"on|at|Updated|Posted|Published|Last|modified|By)\b\.?", re.IGNORECASE)
_DATELINE_REST = re.compile(r"[\s|·•,:;()\-–—]+")


def _dateline(line: str) -> bool:
    """A line at the head of the text that is a date with at most a source or an author beside
    it ("Associated Press - January 16, 2008 12:55 PM ET", "Jan 14 2008 by Andy Howell, Western
    Mail", "10:02 AM CST on Friday, December 28, 2007"): the date opens or closes it, and at most
    five words that are not date words are left, not ending a sentence. (A headline that names a
    date inside it, "Floods on 12/10/2025 kill five", is no dateline.)"""
    if len(line) > 90 or line.startswith(("—", "–")):  # "— Name (@handle) May 1, 2019": an embedded post
        return False
    found = min((m for m in (form.search(line) for form in _ANY_DATE) if m), key=lambda m: m.start(), default=None)
    if found is None:
        return False
    before = _DATELINE_REST.sub(" ", _DATELINE_WORDS.sub(" ", line[:found.start()])).strip()
    after = _DATELINE_REST.sub(" ", _DATELINE_WORDS.sub(" ", line[found.end():])).strip()
    if before and after:
        return False
    rest = f"{before} {after}".split()
    return len(rest) <= 5 and not re.search(r"[.!?]$", line.rstrip())


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
    if line.startswith("|") and _layout_row(line):
        return True
    if len(line) < 200 and _PLAYER_LINE.match(line):
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


def _linked_runs(lines: list[str], anchors: set[str]) -> set[int]:
    """Indices of "more stories" lists that survived as plain lines: runs (2+ lines) of linked
    headlines in the second half of the text, and lists (consecutive list items) past its first
    fifth that reach into its second half, whose first item and at least half of the items (2+)
    are linked headlines (each headline followed by its teaser). A line is a linked headline when
    it is, apart from a list marker, exactly the text of one link of the page and has 4+ words, or
    is a list item whose link (a headline split into a plain lead-in and a link) makes 40%+ of it.
    A short heading right above ("DON'T MISS") goes with them."""
    starts = _starts(lines)
    half = starts[-1] / 2
    linked = _linked_headlines(lines, anchors, [i for i in range(len(lines)) if starts[i] >= 0.4 * half])
    drop: set[int] = set()

    def take(block: list[int]) -> None:
        drop.update(block)
        above = block[0] - 1
        if above >= 0 and len(lines[above]) < 40 and not _SENTENCE_END.search(lines[above]):
            drop.add(above)

    for block in _blocks(range(len(lines)), lambda i: i in linked and starts[i] >= half):
        if len(block) >= 2:
            take(block)
    for block in _blocks(range(len(lines)), lambda i: lines[i].startswith(("- ", "• "))):
        hits = sum(i in linked for i in block)
        if hits >= 2 and 2 * hits >= len(block) and block[0] in linked and starts[block[-1]] >= half:
            take(block)
    return drop


def _starts(lines: list[str]) -> list[int]:
    """Where each line starts in the text (in characters), and the text's length last."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return starts


def _blocks(indices, member) -> list[list[int]]:
    """Runs of consecutive indices for which *member* holds."""
    blocks: list[list[int]] = [[]]
    for i in indices:
        if member(i):
            blocks[-1].append(i)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _linked_headlines(lines: list[str], link_texts: set[str], candidates: list[int]) -> set[int]:
    """The *candidates* (line indices) that are linked headlines (see _linked_runs)."""
    found: set[int] = set()
    for i in candidates:
        line = lines[i]
        item = line.startswith(("- ", "• "))
        candidate = _words(line[2:] if item else line)
        if len(candidate) < 150 and len(candidate.split()) >= 4 and (candidate in link_texts or (item and any(
                len(link) >= 0.4 * len(candidate) and link in candidate for link in link_texts))):
            found.add(i)
    return found


_PUNCTUATION = "|·•>»<«()[]{}-–—,.;:!?\"'“”‘’/\\*#"


def _token(word: str) -> str:
    """A word without the punctuation and separators around it ("|Home|" -> "Home")."""
    return word.strip(_PUNCTUATION)


class _LinkIndex:
    """The page's link texts, word by word, for finding which words of a line are link text."""

    def __init__(self, anchors: set[str]):
        self.texts: set[str] = set()
        self.spans: dict[str, set[int]] = {}  # first word of a link text -> its lengths in words
        for text in anchors:
            words = [t for t in (_token(w) for w in text.split()) if t]
            if words and len(words) <= 12:
                self.texts.add(" ".join(words))
                self.spans.setdefault(words[0], set()).add(len(words))

    def cover(self, line: str, least: float = 0.0) -> tuple[int, float]:
        """(links, share of the line's letters inside them): the longest link text starting at
        each word is taken, left to right. Gives up with (0, 0.0) once more than 1 - *least*
        of the letters are outside links."""
        words = [t for t in (_token(w) for w in line.split()) if t]
        total = sum(len(w) for w in words) or 1
        allowed = (1 - least) * total
        links = outside = i = 0
        while i < len(words):
            lengths = self.spans.get(words[i], ())
            span = next((n for n in sorted(lengths, reverse=True)
                         if i + n <= len(words) and " ".join(words[i:i + n]) in self.texts), 0)
            if span:
                links += 1
                i += span
                continue
            outside += len(words[i])
            if outside > allowed:
                return 0, 0.0
            i += 1
        return links, 1 - outside / total


def _link_bar(line: str, index: _LinkIndex) -> bool:
    """A line made of links: a navigation bar, a "Print | Email | Comment" row, a list of
    sections or sites. Three links that make 80%+ of its letters, or two that make all of a
    line of a few words. (One link alone may be an in-body pointer to another story, which
    some annotators keep and others do not: left to the other rules.)"""
    if len(line) > 600:
        return False
    links, share = index.cover(line, least=0.8)
    return (links >= 3 and share >= 0.8) or (links >= 2 and share >= 0.95 and len(line.split()) <= 6)


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
        if seen >= total * 0.5 and (_END_HEADING.match(ln) or (
                _TERMINATOR.match(ln) and all(len(x) < 250 for x in lines[i + 1:]))):
            lines = lines[:i]
            break
        # a copyright notice past the first third of the text: the page's footer starts there
        if seen >= total * 0.3 and len(ln) < 300 and _NOTICE.match(ln):
            lines = lines[:i]
            break
        seen += len(ln)
    if anchors is not None:
        anchors = anchors() if callable(anchors) else anchors
        drop = _linked_runs(lines, anchors)
        lines = [ln for i, ln in enumerate(lines) if i not in drop]
        index = _LinkIndex(anchors)
        # a page whose only text is made of links keeps it: an item with a thin text (and its
        # date) beats a page lost as empty
        lines = [ln for ln in lines if not _link_bar(ln, index)] or lines
    lines = [ln for ln in lines if not _is_chrome(ln)]
    gallery = _gallery(lines)
    lines = [ln for i, ln in enumerate(lines) if i not in gallery]
    lines = [ln for i, ln in enumerate(lines) if i >= 3 or not _dateline(ln)]
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


def _nfc(value):
    if value is None:
        return None
    value = unicodedata.normalize("NFC", str(value)).strip()
    return value or None
