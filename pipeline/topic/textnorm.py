"""How the topic stage sees text: NFC, lower case, one Vietnamese tone placement, accents
folded on request, words and the separators between them (see rules.py for the matching rules)."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD_SPLIT = re.compile(r"(\w+)")


_HARD_GAP = re.compile(r"[.!?;:…](?=[\s\"'”’»)\]])|[\n\r|•·▪]")


_SOFT_GAP = re.compile(r"[,()\[\]{}–—/]|\s-\s")


_INVISIBLE_CHARS = "\u00ad\u200b\u200c\u200d\u2060\ufeff"


_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")


_MARKS = re.compile("[\u0300-\u036f]+")


_WS = re.compile(r"\s+")


# Unsegmented scripts: Thai, Lao, Khmer, Myanmar, CJK, Hiragana/Katakana.
_UNSEGMENTED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u9fff]")


# "Old style" vs "new style" Vietnamese tone placement: canonicalise oa/oe/uy
# so that the mark sits on the first vowel (hoà -> hòa, thuỷ -> thủy).
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook, tilde, dot below


def _tone_map() -> dict[str, str]:
    out: dict[str, str] = {}
    for first, second in (("o", "a"), ("o", "e"), ("u", "y")):
        for mark in _TONES:
            old = first + unicodedata.normalize("NFC", second + mark)
            new = unicodedata.normalize("NFC", first + mark) + second
            out[old] = new
    return out


_TONE_MAP = _tone_map()


_TONE_RE = re.compile(f"[ou][{''.join(sorted({k[1] for k in _TONE_MAP}))}]")


def _nfc(text: str) -> str:
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    if any(ch in text for ch in _INVISIBLE_CHARS):
        text = _INVISIBLE.sub("", text)
    return text


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) != len(text):  # rare letters (e.g. "İ") lengthen; keep offsets aligned
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return _canon_tones(low)


def _canon_tones(text: str) -> str:
    if _TONE_RE.search(text):
        text = _TONE_RE.sub(lambda m: _TONE_MAP.get(m.group(0), m.group(0)), text)
    return text


def _fold(text: str) -> str:
    """Strip diacritics (đ -> d). Same number of words; not necessarily the same length."""
    text = _MARKS.sub("", unicodedata.normalize("NFD", text))
    return text.replace("đ", "d").replace("Đ", "D")


@lru_cache(maxsize=4096)
def _gap_level(gap: str) -> int:
    if _HARD_GAP.search(gap):
        return 2
    if _SOFT_GAP.search(gap):
        return 1
    return 0


def _language(language: str | None) -> str | None:
    if not language:
        return None
    return language.strip().lower().replace("_", "-").split("-")[0] or None


def normalize(text: str) -> str:
    """The text as the rules see it: NFC, lower case, one Vietnamese tone placement."""
    return _lower(_nfc(text))
