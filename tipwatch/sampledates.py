"""The sample sites dated relative to today (`tipwatch demo`, `python -m tipwatch.samplesites`).

The sample articles (tests/sites/) were written in November 2026; a week later the demo's "last 7
days" would be empty. Served with a shift, every date a reader or the crawler sees moves by the
same whole number of weeks (weekday names stay right): in pages, feeds and sitemaps, in every
format the sites use (2026-11-21, 21/11/2026, 11/23/2026 on bcpen, November 21, 2026, Sat, 21 Nov
2026, "Update: November, 21/2026", /2026/11/21/ in paths) and in the dated article ids of
baochinhphu (…-102261121101208457.htm: yymmddhhmmss after a 3-digit prefix). A requested path is
shifted back to find its file, so the files themselves never change; the tests serve them
unshifted (shift 0) and compare with the golden files as written.

    shift = weeks_to_today(manifest())        # days, a multiple of 7
    SampleSites(shift_days=shift)
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
_ABBR = [m[:3] for m in MONTHS]
_FULL = "|".join(MONTHS)
_SHORT = "|".join(_ABBR)
# sites whose numeric dates are month first (11/23/2026); the others write day first (23/11/2026)
MONTH_FIRST_SITES = {"bcpen"}
# the sample pages' own timezone (articles.json gives wall-clock times in it)
SITE_TZ = timezone(timedelta(hours=7))


def weeks_to_today(articles: list[dict], now: datetime | None = None) -> int:
    """Days (a multiple of 7) that bring the newest sample article into the last 7 days without
    putting it in the future."""
    now = now or datetime.now(UTC)
    newest = max(datetime.fromisoformat(a["published"]).replace(tzinfo=SITE_TZ)
                 for a in articles if a.get("published"))
    return 7 * ((now - newest).days // 7)


def _shifted(year: int, month: int, day: int, days: int) -> date | None:
    try:
        return date(year, month, day) + timedelta(days=days)
    except ValueError:  # not a date after all (e.g. 31/02): left as it is
        return None


def shift_text(text: str, days: int, site: str = "") -> str:
    """Every date of the formats above in `text`, moved by `days` (negative: back)."""
    if not days:
        return text

    def iso(m: re.Match) -> str:
        d = _shifted(int(m[1]), int(m[2]), int(m[3]), days)
        return f"{d:%Y-%m-%d}" if d else m[0]

    def numeric(m: re.Match) -> str:
        first, second, year = int(m[1]), int(m[2]), int(m[3])
        month_first = site in MONTH_FIRST_SITES
        month, day = (first, second) if month_first else (second, first)
        d = _shifted(year, month, day, days)
        if not d:
            return m[0]
        a, b = (d.month, d.day) if month_first else (d.day, d.month)
        # keep the page's own padding ("8/9/2026" or "08/09/2026")
        def fmt(n: int, raw: str) -> str:
            return f"{n:02d}" if len(raw) == 2 else str(n)

        return f"{fmt(a, m[1])}/{fmt(b, m[2])}/{d.year}"

    def long_date(m: re.Match) -> str:  # November 21, 2026 / November 23 2026
        d = _shifted(int(m[4]), MONTHS.index(m[1]) + 1, int(m[2]), days)
        return f"{MONTHS[d.month - 1]} {d.day}{m[3]}{d.year}" if d else m[0]

    def update_line(m: re.Match) -> str:  # vns: "November, 21/2026"
        d = _shifted(int(m[3]), MONTHS.index(m[1]) + 1, int(m[2]), days)
        return f"{MONTHS[d.month - 1]}, {d.day:02d}/{d.year}" if d else m[0]

    def rfc(m: re.Match) -> str:  # Sat, 21 Nov 2026
        d = _shifted(int(m[3]), _ABBR.index(m[2]) + 1, int(m[1]), days)
        return f"{d.day:02d} {_ABBR[d.month - 1]} {d.year}" if d else m[0]

    def article_id(m: re.Match) -> str:  # 102 261121 101208 457
        d = _shifted(2000 + int(m[2]), int(m[3]), int(m[4]), days)
        return f"{m[1]}{d:%y%m%d}{m[5]}" if d else m[0]

    def path_date(m: re.Match) -> str:  # /2026/11/21/
        d = _shifted(int(m[1]), int(m[2]), int(m[3]), days)
        return f"/{d:%Y/%m/%d}/" if d else m[0]

    text = re.sub(r"(?<![\d/])(\d{4})-(\d{2})-(\d{2})(?!\d)", iso, text)
    text = re.sub(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])", numeric, text)
    text = re.sub(rf"\b({_FULL}) (\d{{1,2}})(,? )(\d{{4}})\b", long_date, text)
    text = re.sub(rf"\b({_FULL}), (\d{{1,2}})/(\d{{4}})\b", update_line, text)
    text = re.sub(rf"\b(\d{{1,2}}) ({_SHORT}) (\d{{4}})\b", rfc, text)
    text = re.sub(r"(?<!\d)(10\d|11\d)(\d{2})(\d{2})(\d{2})(\d{9})(?!\d)", article_id, text)
    text = re.sub(r"/(\d{4})/(\d{2})/(\d{2})/", path_date, text)
    return text
