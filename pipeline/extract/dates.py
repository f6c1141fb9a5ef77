"""Publication-date finding for pipeline.extract.article.

Order of trust (first hit wins; every candidate must be <= now + 1 day and >= 1995):
  1. explicit article metadata: <meta property=article:published_time> & friends ('meta'),
     itemprop=datePublished ('meta'), JSON-LD datePublished ('json-ld');
  2. site-aware text patterns in the page: labelled "Published/Posted/Đăng", the VNS
     "Update: February, 15/2012 - 09:20" line ('vns-update'), "Thứ hai, 28/07/2025 14:44"
     weekday lines with a time ('text-weekday'), "Updated:/Cập nhật:" lines ('text-updated');
     a time written to the minute takes its seconds from the URL id when that id holds the
     same minute (the page text is only built when the metadata has no date);
  3. dates embedded in the URL: 3-digit prefix + yyMMddHHmmss + 3 digits, or
     yyyyMMddHHmmss + 3 digits ('url-id'); /YYYY/MM/DD/ paths ('url-path');
  4. htmldate in its most accurate mode (extensive search, original date) ('htmldate'),
     rejected when the date only comes from a page-header "today" line (a bare date line
     above the headline).
Within 1, a page's article:published_time-like tags come first, then the JSON-LD datePublished
of an Article, then the weaker tags (Dublin Core, Parse.ly, ...); a tag that names several
different days (a list of teasers' <time pubdate>) says nothing about this article and is skipped.

Results are ISO strings: 'YYYY-MM-DD' (a day), 'YYYY-MM-DDTHH:MM:SS' (a wall-clock time whose
offset nobody knows) or 'YYYY-MM-DDTHH:MM:SS+HH:MM' (a full timestamp): the publisher's local
time, see pipeline.extract.publisher_time; its first 10 characters are the publisher's local day.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache

from pipeline.extract.publisher_time import page_offset, publisher_local

__all__ = ["find_published", "parse_date_string", "DateHit"]

MIN_YEAR = 1995

_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}
_MON = (r"(?P<mon>January|February|March|April|May|June|July|August|September|October|November|December|"
        r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")
_WEEKDAY = (r"(?:Thứ\s*(?:hai|ba|tư|tu|năm|nam|sáu|sau|bảy|bay|[2-7])|Chủ\s*nhật|CN|"
            r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)")
_TIME = r"(?P<H>[01]?\d|2[0-3])\s*[:hg]\s*(?P<M>[0-5]\d)(?:\s*:\s*(?P<S>[0-5]\d))?(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_SEP = r"\s*(?:,|-|–|\||lúc|at|\(|GMT)?\s*"

# date expressions (named groups d, m / mon, y)
_DMY = r"(?P<d>[0-3]?\d)\s*[/.\-]\s*(?P<m>[01]?\d)\s*[/.\-]\s*(?P<y>(?:19|20)\d\d)"
_YMD = r"(?P<y>(?:19|20)\d\d)-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)"
_VNS = _MON + r",?\s*(?P<d>[0-3]?\d)\s*/\s*(?P<y>(?:19|20)\d\d)"          # February, 15/2012
_MDY = _MON + r"\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+(?P<y>(?:19|20)\d\d)"  # February 26, 2020
_DMonY = r"(?P<d>[0-3]?\d)(?:st|nd|rd|th)?\s+" + _MON + r",?\s+(?P<y>(?:19|20)\d\d)"  # 26 February 2020
_VI_DATE = r"ngày\s+(?P<d>[0-3]?\d)\s+tháng\s+(?P<m>[01]?\d)\s+năm\s+(?P<y>(?:19|20)\d\d)"
_DATE_FORMS = [_VNS, _DMY, _YMD, _MDY, _DMonY, _VI_DATE]


def _date_time(date_re: str, *, time: str) -> list[str]:
    """date followed by time, or time followed by date; time: 'req' | 'opt'."""
    if time == "req":
        return [date_re + _SEP + _TIME, _TIME + r"\s*(?:,|-|–|\||ngày)?\s*" + date_re]
    return [date_re + r"(?:" + _SEP + _TIME + r")?", _TIME + r"\s*(?:,|-|–|\||ngày)?\s*" + date_re]


_PUB_LABEL = (r"(?:Originally\s+published(?:\s+on)?|Original|Published(?:\s+on)?|Posted(?:\s+on)?|"
              r"Publish(?:ed)?\s+date|Date\s+published|"
              r"Ngày\s+đăng|Đăng\s+ngày|Đăng\s+lúc|Đăng|Thời\s+gian\s+đăng|Xuất\s+bản|Ngày\s+xuất\s+bản)")
_UPD_LABEL = r"(?:Last\s+updated|Updated(?:\s+on)?|Update|Cập\s+nhật(?:\s+lúc|\s+ngày)?|Ngày\s+cập\s+nhật)"


def _compile(label: str | None, forms: list[str], *, time: str) -> list[re.Pattern]:
    out = []
    for form in forms:
        for dt in _date_time(form, time=time):
            prefix = r"(?<![\w/])" if label is None else r"\b" + label + r"\s*(?:lúc|at|on|:)?\s*:?\s*"
            if label is None:
                prefix = r"\b" + _WEEKDAY + r"\s*,?\s*(?:ngày\s+)?"
            out.append(re.compile(prefix + dt, re.IGNORECASE))
    return out


# (date_source, trigger, patterns) in order of trust; every pattern starts with its rule's
# trigger (the label, or a weekday), so the patterns are only tried where a trigger matches
_TEXT_RULES: list[tuple[str, re.Pattern, list[re.Pattern]]] = [
    ("text-published", re.compile(r"\b" + _PUB_LABEL, re.IGNORECASE), _compile(_PUB_LABEL, _DATE_FORMS, time="opt")),
    ("vns-update", re.compile(r"\b" + _UPD_LABEL, re.IGNORECASE), _compile(_UPD_LABEL, [_VNS], time="opt")),
    ("text-weekday", re.compile(r"\b" + _WEEKDAY, re.IGNORECASE), _compile(None, _DATE_FORMS, time="req")),
    ("text-updated", re.compile(r"\b" + _UPD_LABEL, re.IGNORECASE), _compile(_UPD_LABEL, _DATE_FORMS, time="opt")),
]
_ANY_DATE = [re.compile(r"(?<![\w/])" + f, re.IGNORECASE) for f in _DATE_FORMS]
_HEADER_LINE = [re.compile(r"^\s*(?:" + _WEEKDAY + r"\s*,?\s*(?:ngày\s+)?)?" + f + r"(?:" + _SEP + _TIME + r")?\s*$",
                           re.IGNORECASE) for f in _DATE_FORMS]


@dataclass(frozen=True)
class DateHit:
    value: str          # ISO 'YYYY-MM-DD' or 'YYYY-MM-DDTHH:MM:SS'
    source: str


def _fmt(dt: datetime, has_time: bool) -> str:
    if not has_time:
        return dt.strftime("%Y-%m-%d")
    return dt.replace(microsecond=0).isoformat() if dt.tzinfo else dt.strftime("%Y-%m-%dT%H:%M:%S")


def _ok(dt: datetime, now: datetime) -> bool:
    # the day of slack covers any offset: compare wall-clock values
    return MIN_YEAR <= dt.year and dt.replace(tzinfo=None) <= now.replace(tzinfo=None) + timedelta(days=1)


def _from_match(m: re.Match) -> tuple[datetime, bool] | None:
    g = m.groupdict()
    try:
        month = int(g["m"]) if g.get("m") else _MONTHS[g["mon"].lower().rstrip(".")]
        day, year = int(g["d"]), int(g["y"])
        hour = minute = second = 0
        has_time = g.get("H") is not None
        if has_time:
            hour, minute, second = int(g["H"]), int(g["M"]), int(g["S"] or 0)
            ampm = (g.get("ampm") or "").lower().replace(".", "")
            if ampm == "pm" and hour < 12:
                hour += 12
            elif ampm == "am" and hour == 12:
                hour = 0
        return datetime(year, month, day, hour, minute, second), has_time
    except (ValueError, KeyError, TypeError):
        return None


_ISO = re.compile(
    r"^\s*(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
    r"(?:[T\s]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{1,2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2})?\s*$", re.IGNORECASE)


def _offset(text: str | None) -> timezone | None:
    """'Z', 'GMT', '+07:00', '-0500', '+07' → the fixed offset; None for none."""
    if not text:
        return None
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    return timezone(sign * timedelta(minutes=minutes)) if minutes <= 14 * 60 else None


def parse_date_string(value: str) -> tuple[datetime, bool] | None:
    """Parse a metadata date string. Returns (datetime, has_time) or None; the datetime is aware
    when the string carries an offset ('Z', '+07:00', 'GMT'), else the wall-clock time as written."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    m = _ISO.match(value)
    if m:
        try:
            has_time = m.group("H") is not None
            dt = datetime(int(m["y"]), int(m["m"]), int(m["d"]),
                          int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0))
            return (dt.replace(tzinfo=_offset(m["tz"])) if has_time else dt), has_time
        except ValueError:
            return None
    if re.match(r"^\d{8}$", value):  # 20250728
        try:
            return datetime.strptime(value, "%Y%m%d"), False
        except ValueError:
            return None
    if re.search(r"\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}", value):  # RFC 2822
        try:
            return parsedate_to_datetime(value), True  # aware unless its zone is '-0000' (unknown)
        except (TypeError, ValueError, IndexError):
            pass
    for pats in ([re.compile(p, re.IGNORECASE) for p in _date_time(f, time="opt")] for f in _DATE_FORMS):
        for pat in pats:
            m2 = pat.search(value)
            if m2:
                return _from_match(m2)
    return None


# ---------------------------------------------------------------- metadata

_META_KEYS = [
    "article:published_time", "og:article:published_time", "og:published_time", "article:published",
    "datepublished", "published_time", "publish_date", "publish-date", "publishdate", "pubdate",
    "article.published", "dc.date.issued", "dcterms.issued", "dcterms.created", "dc.date.created",
    "parsely-pub-date", "sailthru.date", "release_date", "original-publish-date", "pub_date",
    "date", "dc.date", "dcterms.date", "citation_publication_date", "citation_date",
]
_META_RANK = {k: i for i, k in enumerate(_META_KEYS)}


def _meta_dates(tree) -> list[tuple[int, str]]:
    found = []
    for el in tree.iter("meta"):
        # `value` instead of `content`: some CMSes (and their saved copies) write it so
        value = el.get("content") or el.get("value")
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (el.get(attr) or "").strip().lower()
            if key in _META_RANK and value:
                found.append((_META_RANK[key], value))
    for el in tree.xpath('//*[@itemprop="datePublished" or @itemprop="datepublished"][not(self::meta)]'):
        val = el.get("datetime") or el.get("content") or (el.text_content() or "").strip()
        if val:
            found.append((_META_RANK["datepublished"], val))
    for el in tree.xpath("//time[@pubdate]"):
        if el.get("datetime"):
            found.append((_META_RANK["pubdate"], el.get("datetime")))
    found.sort(key=lambda kv: kv[0])
    return found


_ARTICLE_TYPES = re.compile(r"Article|Posting|Report|News|WebPage|Blog", re.IGNORECASE)


def _walk_jsonld(node, out: list, depth: int = 0) -> None:
    if depth > 8:
        return
    if isinstance(node, list):
        for item in node:
            _walk_jsonld(item, out, depth + 1)
    elif isinstance(node, dict):
        if isinstance(node.get("datePublished"), str):
            typ = node.get("@type", "")
            typ = " ".join(typ) if isinstance(typ, list) else str(typ)
            out.append((0 if _ARTICLE_TYPES.search(typ) else 1, node["datePublished"]))
        for key, val in node.items():
            if key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement") or isinstance(val, (list, dict)):
                if key not in ("author", "publisher", "image", "comment", "review"):
                    _walk_jsonld(val, out, depth + 1)


def _jsonld_dates(tree) -> list[tuple[int, str]]:
    """(0 for an Article-like type else 1, datePublished) in document order within each."""
    out: list[tuple[int, str]] = []
    for script in tree.xpath('//script[contains(translate(@type,"LDJSON","ldjson"),"ld+json")]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            _walk_jsonld(json.loads(raw), out)
        except ValueError:
            for m in re.finditer(r'"datePublished"\s*:\s*"([^"]+)"', raw):
                out.append((1, m.group(1)))
    out.sort(key=lambda kv: kv[0])
    return out


# meta keys up to this rank (article:published_time and its aliases, itemprop datePublished)
# are trusted above JSON-LD; the others (Dublin Core, Parse.ly, bare "date") below an Article's
_STRONG_META_RANK = _META_RANK["datepublished"]


def _one_day_keys(found: list[tuple[int, str]]) -> list[tuple[int, datetime, bool]]:
    """Parsed metadata dates, without the keys whose values name several days: a list of
    teasers' dates, not this article's."""
    parsed = [(rank, *p) for rank, raw in found if (p := parse_date_string(raw))]
    days: dict[int, set] = {}
    for rank, dt, _ in parsed:
        days.setdefault(rank, set()).add(dt.date())
    return [item for item in parsed if len(days[item[0]]) == 1]


def _metadata_dates(tree) -> list[tuple[str, datetime, bool]]:
    """(date_source, datetime, has_time) of the page's metadata, in order of trust."""
    meta = _one_day_keys(_meta_dates(tree))
    jsonld = [(rank, *p) for rank, raw in _jsonld_dates(tree) if (p := parse_date_string(raw))]
    strong = [("meta", dt, t) for rank, dt, t in meta if rank <= _STRONG_META_RANK]
    article = [("json-ld", dt, t) for rank, dt, t in jsonld if rank == 0]
    if strong and article and _instant(article[0][1]) < _instant(strong[0][1]):
        # the page's two publication stamps disagree: the earlier is the original publication
        # (a CMS that rewrites one of them on an update moves it later, never earlier)
        strong, article = article, strong
    return (strong + article
            + [("meta", dt, t) for rank, dt, t in meta if rank > _STRONG_META_RANK]
            + [("json-ld", dt, t) for rank, dt, t in jsonld if rank != 0])


def _instant(dt: datetime) -> datetime:
    """A comparable naive value: UTC for an aware datetime, the wall clock for a naive one."""
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo else dt


# ---------------------------------------------------------------- URL

_URL_ID18 = re.compile(r"(?<!\d)\d{3}(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\d{3}(?=\.html?\b|/|$|[?#])")
_URL_ID17 = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\d{3}(?=\.html?\b|/|$|[?#])")
_URL_PATH = re.compile(r"/((?:19|20)\d{2})[/-](\d{1,2})[/-](\d{1,2})(?:/|$)")


def url_date(url: str, now: datetime) -> DateHit | None:
    path = re.sub(r"^[a-z]+://[^/]+", "", url or "", flags=re.IGNORECASE)
    for rx, century in ((_URL_ID18, 2000), (_URL_ID17, 0)):
        for m in rx.finditer(path):
            y, mo, d, hh, mi, ss = (int(x) for x in m.groups())
            try:
                dt = datetime(y + century, mo, d, hh, mi, ss)
            except ValueError:
                continue
            if dt.year >= 2000 and _ok(dt, now):
                return DateHit(_fmt(dt, True), "url-id")
    in_path = _URL_PATH.search(path)
    if in_path:
        try:
            dt = datetime(int(in_path[1]), int(in_path[2]), int(in_path[3]))
        except ValueError:
            return None
        if _ok(dt, now):
            return DateHit(_fmt(dt, False), "url-path")
    return None


# ---------------------------------------------------------------- text

# month names of the byline dates of European-language news (English ones are in _MONTHS)
_BYLINE_MONTHS = {
    **{name: i + 1 for i, names in enumerate([
        "janvier enero januar jänner gennaio janeiro", "février fevrier febrero februar febbraio fevereiro",
        "mars marzo märz março marco", "avril abril aprile", "mai mayo maggio maio", "juin junio juni giugno junho",
        "juillet julio juli luglio julho", "août aout agosto", "septembre septiembre setiembre settembre setembro",
        "octobre octubre oktober ottobre outubro", "novembre noviembre novembro",
        "décembre decembre diciembre dezember dicembre dezembro"]) for name in names.split()},
    **_MONTHS,
}
_YEAR = r"(?P<y>(?:19|20)\d\d)"
_AFTER_DATE_TIME = r"(?:\s*(?:,|-|–|\||à|a\s+las|um|alle|às|at)?\s*" + _TIME + r")?"
_BYLINE_FORMS = [re.compile(f, re.IGNORECASE) for f in (
    r"(?<!\d)(?P<d>[0-3]?\d)(?:\.|er|º)?\s+(?:de\s+)?(?P<mon>[^\W\d_]{3,10})\.?,?\s+(?:de\s+)?" + _YEAR
    + _AFTER_DATE_TIME,
    r"\b(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>[0-3]?\d)(?:st|nd|rd|th)?,?\s+" + _YEAR + _AFTER_DATE_TIME,
    _YEAR + r"\s*年\s*(?P<m>[01]?\d)\s*月\s*(?P<d>[0-3]?\d)\s*日(?:\s*(?P<H>[01]?\d|2[0-3])\s*[時:]\s*(?P<M>[0-5]\d))?",
    r"(?<![\d.])" + _YEAR + r"\s*[./-]\s*(?P<m>[01]?\d)\s*[./-]\s*(?P<d>[0-3]?\d)(?![\d.])" + _AFTER_DATE_TIME,
    r"(?<![\d./])(?P<d>[0-3]?\d)\s*[./]\s*(?P<m>[01]?\d)\s*[./]\s*" + _YEAR + r"(?!\d)" + _AFTER_DATE_TIME,
)]
# an "updated" label on a date line or the line above it: that date is not the publication's
_UPDATED_NEAR = re.compile(r"\b(?:updated?|last\s+modified|mis\s+à\s+jour|modifié|actualizad[oa]|aktualisiert|"
                           r"aggiornat[oa]|atualizad[oa])\b", re.IGNORECASE)
_BYLINE_SPAN = 800      # characters after the headline where a byline's date sits
_BYLINE_LINE = 80       # a date line is short: a date, maybe a time, a name, a label


def _month_number(word: str) -> int | None:
    """A month name or its abbreviation ("déc", "sept", "juil"): a prefix of 3+ letters that
    names one month only ("jui" could be juin or juillet)."""
    word = word.lower().rstrip(".")
    if word in _BYLINE_MONTHS:
        return _BYLINE_MONTHS[word]
    months = {n for name, n in _BYLINE_MONTHS.items() if len(word) >= 3 and name.startswith(word)}
    return months.pop() if len(months) == 1 else None


def _byline_match(m: re.Match) -> tuple[datetime, bool] | None:
    mon = m.groupdict().get("mon")
    month = _month_number(mon) if mon is not None else None
    if mon is not None and month is None:
        return None
    g = {**m.groupdict(), "m": m.groupdict().get("m") or month}
    try:
        has_time = g.get("H") is not None
        hour = int(g["H"]) if has_time else 0
        ampm = (g.get("ampm") or "").lower().replace(".", "")
        hour += 12 if ampm == "pm" and hour < 12 else (-12 if ampm == "am" and hour == 12 else 0)
        dt = datetime(int(g["y"]), int(g["m"]), int(g["d"]), hour, int(g["M"]) if has_time else 0,
                      int(g.get("S") or 0))
        return dt, has_time
    except (TypeError, ValueError):
        return None


_URL_MONTH = re.compile(r"/((?:19|20)\d\d)/(0[1-9]|1[0-2])/")


def byline_date(page_text: str, headline_pos: int, now: datetime, url: str = "") -> DateHit | None:
    """The date of the article's byline: the first short line just below the headline that
    holds a date (in English, French, Spanish, German, Italian or Portuguese words, CJK
    年月日, or digits), unless it or the line above is labelled as an update, or the URL's
    /YYYY/MM/ names another month (then it is some other date: a book's, an event's)."""
    if headline_pos < 0:
        return None
    url_month = _URL_MONTH.search(url or "")
    month = f"{url_month[1]}-{url_month[2]}" if url_month else None
    lines = page_text[headline_pos:headline_pos + _BYLINE_SPAN].split("\n")
    for i, line in enumerate(lines[1:], start=1):
        if len(line) > _BYLINE_LINE or not _DIGIT_RE.search(line):
            continue
        if _UPDATED_NEAR.search(line) or _UPDATED_NEAR.search(lines[i - 1]):
            continue
        for form in _BYLINE_FORMS:
            for m in form.finditer(line):
                parsed = _byline_match(m)
                if parsed and _ok(parsed[0], now) and month in (None, parsed[0].strftime("%Y-%m")):
                    return DateHit(_fmt(*parsed), "text-byline")
    return None


_DIGIT_RE = re.compile(r"\d")


def text_pattern_date(page_text: str, headline_pos: int, now: datetime) -> DateHit | None:
    for source, trigger, patterns in _TEXT_RULES:
        best: tuple[int, int, datetime, bool] | None = None
        starts = sorted({t.start() for t in trigger.finditer(page_text)})
        for pat in patterns:
            for m in filter(None, (pat.match(page_text, start) for start in starts)):
                parsed = _from_match(m)
                if parsed is None or not _ok(parsed[0], now):
                    continue
                # prefer the first hit after the headline starts, else the hit closest above it
                # (a dated line above the headline beats a clock in the page header)
                key = (0, m.start()) if m.start() >= headline_pos else (1, -m.start())
                if best is None or key < best[:2]:
                    best = (key[0], key[1], parsed[0], parsed[1])
        if best is not None:
            return DateHit(_fmt(best[2], best[3]), source)
    return None


def header_today_dates(page_text: str, headline_pos: int, tree=None) -> set[str]:
    """Dates written as a bare date (line or small element) above the headline: the
    page-header 'today' of many news sites, which is the fetch date, not the article's."""
    out = set()

    def check(text: str) -> None:
        text = " ".join(text.split())
        if not text or len(text) > 60:
            return
        for pat in _HEADER_LINE:
            m = pat.match(text)
            if m:
                parsed = _from_match(m)
                if parsed:
                    out.add(parsed[0].strftime("%Y-%m-%d"))
                return

    limit = headline_pos if headline_pos > 0 else min(len(page_text), 600)
    for line in page_text[:limit].split("\n"):
        check(line)
    if tree is not None:
        has_h1 = next(iter(tree.iter("h1")), None) is not None
        for n, el in enumerate(tree.iter()):
            tag = el.tag.lower() if isinstance(el.tag, str) else ""
            if tag == "h1" or (not has_h1 and n > 300):
                break
            if tag in ("script", "style", "head", "title", "meta", "") or len(el) > 3:
                continue
            check(el.text_content() or "")
    return out


def _dates_in(text: str) -> set[str]:
    out = set()
    for pat in _ANY_DATE:
        for m in pat.finditer(text):
            parsed = _from_match(m)
            if parsed:
                out.add(parsed[0].strftime("%Y-%m-%d"))
    return out


def _htmldate(html: str, url: str, now: datetime) -> str | None:
    try:
        from htmldate import find_date
        # extensive search with the original date: its most accurate mode (measured on real
        # pages in bench/dates_quality.py)
        return find_date(html, extensive_search=True, original_date=True, url=url,
                         outputformat="%Y-%m-%d", max_date=(now + timedelta(days=1)).strftime("%Y-%m-%d"))
    except Exception:  # htmldate is best-effort
        return None


def find_published(tree, html: str, url: str, page_view, headline_pos: int | None = None,
                   now: datetime | None = None, zone: str | None = None,
                   declared_url: str | None = None) -> DateHit | None:
    """The publication date of the page, as the publisher's local time (see
    pipeline.extract.publisher_time; *zone* is the source's `timezone`, if it names one). *page_view*
    is the page's visible text (see pipeline.extract.page._page_text) with the headline's position
    in it as *headline_pos*, or a zero-argument callable returning (page_text, headline_pos):
    building the text costs time, and pages dated by their metadata never need it.
    *declared_url*: the page's own URL (canonical link, og:url); it is read after the fetched
    *url* for the URL's date and the domain's country: a page fetched through a mirror, a cache
    or a bare address still names its publisher there."""
    now = now or datetime.now()
    urls = (url, declared_url) if declared_url and declared_url != url else (url,)
    stamps = lru_cache(maxsize=1)(lambda: _stamp_strings(tree))  # read from the page once, if at all
    for source, dt, has_time in _metadata_dates(tree):
        if _ok(dt, now):
            if has_time:
                dt = _mislabelled_utc(dt, stamps) or publisher_local(dt, lambda: page_offset(stamps()), zone, urls)
            return DateHit(_fmt(dt, has_time), source)
    hit = _page_date(tree, html, urls, page_view, headline_pos, now)
    if hit is None or len(hit.value) != 19:
        return hit
    local = publisher_local(datetime.fromisoformat(hit.value), lambda: page_offset(stamps()), zone, urls)
    return DateHit(_fmt(local, True), hit.source)


def _mislabelled_utc(dt: datetime, stamps) -> datetime | None:
    """A UTC stamp whose wall-clock time the page also writes with a non-zero offset ("20:00:00Z"
    in a meta tag, <time datetime="...T20:00:00+09:00"> under the headline; *stamps*() gives the
    page's stamp strings): the CMS put a Z on its local time, and that offset is the stamp's
    (converting it would move the article to the next day)."""
    if dt.tzinfo is None or dt.utcoffset() != timedelta(0):
        return None
    written = re.search(re.escape(dt.strftime("%Y-%m-%dT%H:%M")) + r"(?::\d\d(?:\.\d+)?)?([+-])(\d\d):?(\d\d)\b",
                        stamps())
    if written is None or written[2] + written[3] == "0000":
        return None
    minutes = int(written[2]) * 60 + int(written[3])
    return dt.replace(tzinfo=timezone(timedelta(minutes=minutes if written[1] == "+" else -minutes)))


def _stamp_strings(tree) -> str:
    """Where a page writes machine-readable timestamps: meta tags, <time> and other datetime
    attributes, and scripts (JSON-LD, data islands). Scanning these instead of the whole page
    for page_offset costs a tenth of the time."""
    return "\n".join(tree.xpath("//meta/@content | //@datetime | //abbr/@title | //script/text()"))


def _page_date(tree, html: str, urls: tuple[str, ...], page_view, headline_pos: int | None,
               now: datetime) -> DateHit | None:
    """The date from the page's text, its URLs (fetched, then declared) or htmldate (for a page
    without date metadata)."""
    if callable(page_view):
        page_text, headline_pos = page_view()
    else:
        page_text, headline_pos = page_view, (-1 if headline_pos is None else headline_pos)
    hit = text_pattern_date(page_text, headline_pos, now)
    if hit:
        return _with_url_seconds(hit, urls[0], now)
    hit = next(filter(None, (url_date(url, now) for url in urls)), None)
    # the byline's month is checked against a /YYYY/MM/ of the URL that has one
    dated_url = next((url for url in urls if _URL_MONTH.search(url or "")), urls[0])
    hit = hit or byline_date(page_text, headline_pos, now, dated_url)
    if hit:
        return hit
    value = _htmldate(html, urls[-1], now)
    if not value:
        return None
    header = header_today_dates(page_text, headline_pos, tree)
    article_head = page_text[max(0, headline_pos):][:3000] if headline_pos >= 0 else page_text[:3000]
    if value in header and value not in _dates_in(article_head):
        return None  # only the page-header "today" line carries this date
    try:
        if not _ok(datetime.strptime(value, "%Y-%m-%d"), now):
            return None
    except ValueError:
        return None
    return DateHit(value, "htmldate")


def _with_url_seconds(hit: DateHit, url: str, now: datetime) -> DateHit:
    """A text date written to the minute whose URL id carries the same minute plus seconds
    (baochinhphu.vn ids: ...yyMMddHHmmss...): the id's value is the same time, more precise."""
    if len(hit.value) != 19 or not hit.value.endswith(":00"):
        return hit
    from_url = url_date(url, now)
    if from_url and from_url.source == "url-id" and from_url.value[:16] == hit.value[:16]:
        return DateHit(from_url.value, hit.source)
    return hit
