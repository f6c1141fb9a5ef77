"""Places named in an article's text, found with the shipped gazetteer (seeds/places/gazetteer.csv).

`extract_places(text)` is a pure function: text → the gazetteer's places it names, each with its
country and coordinates, in order of first mention. No NER model: the gazetteer knows the names
that matter here (Viet Nam's provinces old and new, border gates, the neighbours' provinces and
border towns), and a name it does not know could not be put on the map anyway.

How a name is matched, and why:
- whole words only ("Long An" is not found in "Long Anh");
- each word of the name capitalised in the text as in the gazetteer: place names are proper nouns
  in both languages, and this keeps "hòa bình" (peace) from being Hòa Bình province;
- a name of two or more words also matches written without accents ("Nghe An" = "Nghệ An"); a
  one-word name only as written, so "Lào" (Laos) is never found in "Lao động" (labour), and
  "Vinh" never in "Vĩnh";
- a match right after a personal name's part or a title ("Nguyễn Văn Vinh", "ông Vinh", "Mr
  Long") is taken for a person, not a place;
- a name that is also a common word or name (Kep, Tak, Shan, Bago…) counts only when the text also
  names one of its context words (its country, usually), as the gazetteer's `context` column says;
- the longest name wins where names overlap ("Vĩnh Long" over "Vinh", "Bà Rịa–Vũng Tàu" over
  "Vũng Tàu").
"""
from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import pairwise
from pathlib import Path

# words of a name: letters and digits (Vietnamese letters included); what separates them in a
# name is a space, a hyphen or dash, or a dot with no space after it ("TP.HCM")
_WORD = re.compile(r"\w+", re.UNICODE)
_JOIN = re.compile(r"\s{1,3}|\s?[-–—]\s?|\.\s?")
# a personal name's parts, and titles, that put a person before a place name's word
_PERSON_BEFORE = {
    "văn", "thị", "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi",
    "đỗ", "ngô", "dương", "lý", "đức", "hữu", "đình", "công", "quang", "xuân", "nguyen", "tran", "le",
    "pham", "hoang", "huynh", "vu", "vo", "dang", "bui", "do", "ngo", "duong", "ly", "van", "thi", "duc",
    "huu", "dinh", "cong", "ông", "bà", "anh", "chị", "em", "cô", "chú", "bác", "cháu", "mr", "mrs",
    "ms", "miss", "dr", "sir", "madam",
}


@dataclass(frozen=True)
class Place:
    name: str
    country: str
    kind: str
    lat: float
    lon: float
    now_in: str | None = None


@dataclass(frozen=True)
class Found:
    """One place an article names: how often, and where first (character offset)."""
    place: Place
    mentions: int
    first_at: int

    def as_row(self) -> dict:
        p = self.place
        return {"place": p.name, "country": p.country, "kind": p.kind, "lat": p.lat, "lon": p.lon,
                "now_in": p.now_in, "mentions": self.mentions, "first_at": self.first_at}


@lru_cache(maxsize=65_536)  # the words of news repeat: most folds are a look-up (measured: 4.0 → 0.9 s per 181 pages)
def fold(word: str) -> str:
    """Lower case without diacritics ("Nghệ" → "nghe", "Đà" → "da")."""
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _accented(word: str) -> bool:
    return fold(word) != word.lower()


@dataclass(frozen=True)
class _Alias:
    words: tuple[str, ...]       # as written (NFC)
    place: Place
    context: tuple[str, ...]     # folded words, one of which the text must contain

    @property
    def loose(self) -> bool:
        """May it match its words written without accents (two or more words)?"""
        return len(self.words) > 1


class Gazetteer:
    def __init__(self, aliases: list[_Alias], version: str):
        self.version = version
        self.places = {a.place.name: a.place for a in aliases}
        # first word folded → aliases starting with it, longest first
        self.index: dict[str, list[_Alias]] = {}
        for alias in sorted(aliases, key=lambda a: -len(a.words)):
            self.index.setdefault(fold(alias.words[0]), []).append(alias)
        # a word in lower case can start a name only if some alias starts in lower case
        self.lower_starts = any(not a.words[0][:1].isupper() for a in aliases)


def _split(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split("|") if v.strip()]


def _words(name: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(unicodedata.normalize("NFC", name)))


def parse_gazetteer(text: str) -> Gazetteer:
    """The gazetteer from its CSV text (comment lines start with #)."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    aliases = []
    for row in csv.DictReader(lines):
        place = Place(row["name"], row["country"], row["kind"], float(row["lat"]), float(row["lon"]),
                      row["now_in"] or None)
        context = tuple(" ".join(fold(w) for w in _words(c)) for c in _split(row["context"]))
        for spelling in dict.fromkeys([row["name"], *_split(row["aliases"])]):
            aliases.append(_Alias(_words(spelling), place, context))
    version = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return Gazetteer(aliases, version)


@lru_cache(maxsize=4)
def load_gazetteer(path: str | Path) -> Gazetteer:
    """The gazetteer file (seeds/places/gazetteer.csv), read once per process."""
    return parse_gazetteer(Path(path).read_text(encoding="utf-8"))


def _tokens(text: str) -> list[re.Match]:
    return list(_WORD.finditer(text))


def _joined(text: str, left: re.Match, right: re.Match) -> bool:
    """Are two neighbouring words of the text parts of one name (not split by a comma, a
    sentence end or a line break)?"""
    return bool(_JOIN.fullmatch(text[left.end():right.start()])) and "\n" not in text[left.end():right.start()]


def _word_matches(alias_word: str, text_word: str, loose: bool, span_accented: bool) -> bool:
    if alias_word[:1].isupper() and not text_word[:1].isupper():
        return False
    if alias_word.lower() == text_word.lower():
        return True
    return loose and not span_accented and fold(alias_word) == text_word.lower()


def _match_at(text: str, tokens: list[re.Match], i: int, alias: _Alias) -> bool:
    n = len(alias.words)
    if i + n > len(tokens):
        return False
    span = tokens[i:i + n]
    if any(not _joined(text, a, b) for a, b in pairwise(span)):
        return False
    span_accented = any(_accented(t.group()) for t in span)
    # n words, n tokens (checked above)
    return all(_word_matches(w, t.group(), alias.loose, span_accented) for w, t in zip(alias.words, span, strict=True))


def _after_person(text: str, tokens: list[re.Match], i: int) -> bool:
    """Does the word before the match make it a person's name ("Văn Vinh", "ông Long")?"""
    if i == 0 or not re.fullmatch(r"\.?\s{1,2}", text[tokens[i - 1].end():tokens[i].start()]):
        return False
    before = tokens[i - 1].group()
    return before.lower() in _PERSON_BEFORE and (before[:1].isupper() or before.lower() in
                                                  {"ông", "bà", "anh", "chị", "em", "cô", "chú", "bác", "cháu"})


def extract_places(text: str, gazetteer: Gazetteer) -> list[Found]:
    """The gazetteer's places named in `text`, in order of first mention."""
    text = unicodedata.normalize("NFC", text or "")
    tokens = _tokens(text)
    context = _FoldedText(tokens)
    found: dict[str, list[int]] = {}
    i = 0
    while i < len(tokens):
        word = tokens[i].group()
        if not gazetteer.lower_starts and not word[:1].isupper():
            i += 1
            continue
        alias = next((a for a in gazetteer.index.get(fold(word), ()) if _match_at(text, tokens, i, a)), None)
        if alias is None or _after_person(text, tokens, i) or not _in_context(alias, context):
            i += 1
            continue
        found.setdefault(alias.place.name, []).append(tokens[i].start())
        i += len(alias.words)
    return sorted((Found(gazetteer.places[name], len(offsets), offsets[0]) for name, offsets in found.items()),
                  key=lambda f: f.first_at)


class _FoldedText:
    """The text's words folded, made only when a name that needs context is met."""

    def __init__(self, tokens: list[re.Match]):
        self.tokens = tokens

    @cached_property
    def words(self) -> set[str]:
        return {fold(t.group()) for t in self.tokens}

    @cached_property
    def joined(self) -> str:
        return " " + " ".join(fold(t.group()) for t in self.tokens) + " "


def _in_context(alias: _Alias, text: _FoldedText) -> bool:
    if not alias.context:
        return True
    return any((c in text.words) if " " not in c else (f" {c} " in text.joined) for c in alias.context)
