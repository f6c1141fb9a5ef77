"""An English gist of a Vietnamese article: not a translation, a few facts read off the text.

`build_gist(title, text, published)` is a pure function. It renders in English what can be found
without a translation model: how many people and what happened to them ("27 citizens rescued"),
the places named with their country ("Tây Ninh (Viet Nam) ← Svay Rieng (Cambodia)"), dated events
("trial 2026-11-20") and the matched terms' English (the shipped glossary,
seeds/glossary/vi-en.toml; what is counted and dated: seeds/glossary/gist.toml). Each part is a
phrase the text contains; nothing is inferred beyond the glossary's word-for-word equivalents, so
it is labelled "gist" wherever it is shown.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.enrich.places import Found, Gazetteer

SEPARATOR = " · "
MAX_COUNTS, MAX_PLACES, MAX_DATES, MAX_TERMS = 3, 4, 2, 6
# how far (in characters) an action word or a date's event word may be from what it qualifies
ACTION_WINDOW, DATE_WINDOW = 60, 80


@dataclass(frozen=True)
class Glossary:
    terms: dict[str, str]
    people: dict[str, tuple[str, str]]
    actions: dict[str, str]     # in the file's order: the first found wins
    date_events: dict[str, str]
    version: str


@lru_cache(maxsize=4)
def load_glossary(path: str | Path, counting: str | Path) -> Glossary:
    """The shared vi→en glossary's [[term]] entries (Datasette's bilingual search reads them too,
    pipeline/store/browse.py) and the gist's own tables of people, actions and dated events."""
    raw = Path(path).read_bytes() + Path(counting).read_bytes()
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    tables = tomllib.loads(Path(counting).read_text(encoding="utf-8"))
    nfc = lambda table: {unicodedata.normalize("NFC", k).lower(): v for k, v in table.items()}  # noqa: E731
    terms = {entry["vi"]: entry["en"][0] for entry in data.get("term", []) if entry.get("en")}
    return Glossary(nfc(terms), {k: tuple(v) for k, v in nfc(tables.get("people", {})).items()},
                    nfc(tables.get("actions", {})), nfc(tables.get("date_events", {})),
                    hashlib.sha256(raw).hexdigest()[:12])


@dataclass
class Gist:
    counts: list[str] = field(default_factory=list)
    places: str = ""
    dates: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = [*self.counts, self.places, *self.dates]
        if self.terms:
            parts.append("terms: " + ", ".join(self.terms))
        return SEPARATOR.join(p for p in parts if p)


def _phrase(words: dict) -> str:
    """An alternation of the table's phrases, longest first, as whole words."""
    keys = sorted(words, key=len, reverse=True)
    return r"(?<!\w)(?:" + "|".join(re.escape(k) for k in keys) + r")(?!\w)"


def _number(raw: str) -> int | None:
    digits = raw.replace(".", "").replace(",", "")  # Vietnamese writes 131.000 for 131,000
    return int(digits) if digits.isdigit() else None


_QUALIFIER = {"hơn": "over", "gần": "nearly", "khoảng": "about", "trên": "over", "hàng": ""}


def people_counts(text: str, glossary: Glossary) -> list[str]:
    """'27 citizens rescued' for each number of people the text gives, with the nearest action."""
    lowered = text.lower()
    pattern = re.compile(r"(?:(hơn|gần|khoảng|trên)\s+)?(\d{1,3}(?:[.,]\d{3})+|\d+)\s+(" +
                         _phrase(glossary.people) + r")")
    actions = re.compile(_phrase(glossary.actions))
    counts: list[str] = []
    for m in pattern.finditer(lowered):
        n = _number(m.group(2))
        if n is None or n == 0:
            continue
        singular, plural = glossary.people[m.group(3)]
        action = _action(lowered, m.start(), m.end(), actions, glossary)
        qualifier = _QUALIFIER.get(m.group(1) or "", "")
        phrase = " ".join(p for p in (qualifier, f"{n:,}", singular if n == 1 else plural, action) if p)
        if not any(c.split(" ")[:2] == phrase.split(" ")[:2] or c.startswith(f"{n:,} ") for c in counts):
            counts.append(phrase)  # one phrase per number: "12 victims" and "12 citizens" are the same 12
    return counts[:MAX_COUNTS]


def _action(text: str, start: int, end: int, actions: re.Pattern, glossary: Glossary) -> str:
    """The action word nearest before the count in its sentence (of a run of them joined by a
    comma or "và", the first: "giải cứu, tiếp nhận 27 công dân" → rescued), else nearest after."""
    before_text = re.split(r"[.!?;\n]", text[max(0, start - ACTION_WINDOW):start])[-1]
    before = list(actions.finditer(before_text))
    if before:
        chosen = len(before) - 1
        while chosen and re.fullmatch(r"\s*(?:,|và|and)\s*",
                                      before_text[before[chosen - 1].end():before[chosen].start()]):
            chosen -= 1
        return glossary.actions[before[chosen].group()]
    after_text = re.split(r"[.!?;\n]", text[end:end + ACTION_WINDOW])[0]
    after = actions.search(after_text)
    return glossary.actions[after.group()] if after else ""


_DIRECTION = {"từ": "←", "sang": "→", "đến": "→", "tới": "→", "về": "←"}
_DIRECTION_BEFORE = re.compile(r"(từ|sang|đến|tới|về)\s+(?:(?:tỉnh|thành phố|TP\.?|huyện|cửa khẩu|nước)\s+)?$",
                               re.IGNORECASE)


def place_phrase(text: str, found: list[Found]) -> str:
    """Places grouped by country, Viet Nam first: "Tây Ninh, Nghệ An (Viet Nam) ← Svay Rieng
    (Cambodia)". A foreign group gets ← when one of its places follows 'từ' (from) or 'về', →
    after 'sang', 'đến', 'tới' (to), else a plain separator. A country is named alone only when
    none of its places is."""
    groups: dict[str, list[Found]] = {}
    for f in sorted(found, key=lambda f: f.place.country != "Viet Nam"):
        groups.setdefault(f.place.country, []).append(f)
    phrase = ""
    for country, items in groups.items():
        places = [f for f in items if f.place.kind != "country"] or items
        names = ", ".join(dict.fromkeys(f.place.name for f in places[:MAX_PLACES]))
        label = names if places[0].place.kind == "country" else f"{names} ({country})"
        if country == "Viet Nam" and places[0].place.kind == "country":
            continue  # "Viet Nam" alone says nothing in a Vietnamese article
        arrow = _arrow(text, places) if phrase and country != "Viet Nam" else ""
        phrase = f"{phrase} {arrow} {label}" if arrow else SEPARATOR.join(p for p in (phrase, label) if p)
    return phrase


def _arrow(text: str, places: list[Found]) -> str:
    for f in places:
        before = _DIRECTION_BEFORE.search(text[max(0, f.first_at - 30):f.first_at])
        if before:
            return _DIRECTION[before.group(1).lower()]
    return ""


_DATE = re.compile(r"(?:ngày\s+)?(\d{1,2})\s*(?:/|-|\s+tháng\s+)\s*(\d{1,2})(?:\s*(?:/|-|\s+năm\s+)\s*(\d{4}))?(?!\d)")


def dated_events(text: str, glossary: Glossary, published: str | None) -> list[str]:
    """'trial 2026-11-20' for each date with an event word just before it; a date without a year
    takes the article's (its publication year)."""
    lowered = text.lower()
    events = re.compile(_phrase(glossary.date_events))
    year_of_article = (published or "")[:4]
    found: list[str] = []
    for m in _DATE.finditer(lowered):
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3) or year_of_article
        if not (1 <= day <= 31 and 1 <= month <= 12 and year.isdigit()):
            continue
        # the event word nearest the date in its sentence, before ("xét xử vào ngày 2/12") or after
        # ("Ngày 20/11, TAND sẽ xét xử")
        start = max(0, m.start() - DATE_WINDOW)
        before = re.split(r"[.!?;\n]\s", lowered[start:m.start()])[-1]
        after = re.split(r"[.!?;\n]\s", lowered[m.end():m.end() + DATE_WINDOW])[0]
        near = [(len(before) - w.end(), w.group()) for w in events.finditer(before)]
        near += [(w.start(), w.group()) for w in events.finditer(after)]
        if not near:
            continue
        phrase = f"{glossary.date_events[min(near)[1]]} {year}-{month:02d}-{day:02d}"
        if phrase not in found:
            found.append(phrase)
    return found[:MAX_DATES]


def glossary_terms(text: str, glossary: Glossary, place_names: AbstractSet[str] = frozenset()) -> list[str]:
    """The English of the glossary terms the text contains, in order of first appearance,
    a longer term taking the place of those inside it; `place_names` (lower case) are left out."""
    lowered = text.lower()
    english: list[str] = []
    for m in re.finditer(_phrase(glossary.terms), lowered):
        value = glossary.terms[m.group()]
        if value not in english and value.lower() not in place_names:
            english.append(value)
    return english[:MAX_TERMS]


def build_gist(title: str, text: str, published: str | None = None, *,
               glossary: Glossary, gazetteer: Gazetteer, places: list[Found]) -> Gist:
    """*places*: extract_places' finding in the same title and text, with *gazetteer*."""
    full = unicodedata.normalize("NFC", f"{title or ''}\n{text or ''}")
    # a country's name is a place, shown with the places ("lào" is also the start of "Lào Cai")
    place_names = {name.lower() for name in gazetteer.places}
    return Gist(counts=people_counts(full, glossary), places=place_phrase(full, places),
                dates=dated_events(full, glossary, published), terms=glossary_terms(full, glossary, place_names))
