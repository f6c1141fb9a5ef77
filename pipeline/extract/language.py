"""Which language a text is in, from its letters: shared by extraction and the labelled sets."""
from __future__ import annotations

import re
import unicodedata

from pipeline.extract.page import _meta

_SCRIPTS = (("th", "\u0e00", "\u0e7f"), ("lo", "\u0e80", "\u0eff"), ("km", "\u1780", "\u17ff"),
            ("my", "\u1000", "\u109f"), ("zh", "\u4e00", "\u9fff"))
_VI_SPECIFIC = "ăâđêôơưĂÂĐÊÔƠƯ"
_VI_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VI_CHARS_RE = None
_LETTER_RE = re.compile(r"[^\W\d_]")


def _vi_chars_re():
    """One character class: the Vietnamese-specific letters and every precomposed letter
    carrying a Vietnamese tone mark (grave, acute, tilde, hook above, dot below)."""
    global _VI_CHARS_RE
    if _VI_CHARS_RE is None:
        chars = set(_VI_SPECIFIC)
        for code in range(0x80, 0x2000):
            ch = chr(code)
            if ch.isalpha() and any(c in _VI_MARKS for c in unicodedata.normalize("NFD", ch)):
                chars.add(ch)
        _VI_CHARS_RE = re.compile("[" + re.escape("".join(sorted(chars))) + "]")
    return _VI_CHARS_RE


def vietnamese_share(text: str) -> float:
    """Share of the letters that only Vietnamese writes (ă, ơ, đ, tone-marked vowels ...)."""
    sample = text[:20000]
    letters = len(_LETTER_RE.findall(sample))
    return len(_vi_chars_re().findall(sample)) / letters if letters else 0.0


def guess_language(text: str) -> str:
    """A coarse language code from the script and Vietnamese letters ('en' for Latin otherwise)."""
    sample = text[:5000]
    letters = [ch for ch in sample if ch.isalpha()]
    if not letters:
        return "und"
    for code, low, high in _SCRIPTS:
        if sum(low <= ch <= high for ch in letters) > len(letters) / 3:
            return code
    return "vi" if vietnamese_share(sample) > 0.05 else "en"


# ---------------------------------------------------------------- a page's language
# (extraction: the page's declared language checked against its text)


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
