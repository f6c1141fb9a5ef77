"""Robust decoding of fetched HTML bytes to NFC text (helper of pipeline.extract.article).

Order: byte-order mark → declared encoding (HTTP header) → <meta charset> → detection, where
every declared encoding is *verified*: a document whose bytes are valid UTF-8 (with non-ASCII
content) is decoded as UTF-8 even when a legacy charset is declared, because legacy text
almost never forms valid multi-byte UTF-8 sequences by accident. windows-1258 (Vietnamese)
decodes to base letters + combining tone marks, hence the final NFC normalisation.
"""
from __future__ import annotations

import codecs
import re
import unicodedata

__all__ = ["decode_html", "normalize_encoding_name"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# WHATWG: these labels mean windows-1252 in practice
_ALIASES = {
    "latin1": "cp1252", "latin-1": "cp1252", "iso-8859-1": "cp1252", "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252", "l1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252", "x-user-defined": "cp1252",
    "windows-1258": "cp1258", "win-1258": "cp1258", "cp-1258": "cp1258", "vn": "cp1258",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "gb2312": "gb18030", "gbk": "gb18030",
    "x-sjis": "shift_jis", "tis-620": "cp874", "iso-8859-11": "cp874",
}

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.IGNORECASE)

# bytes that only windows-1258 gives a Vietnamese meaning: combining tone marks
# (0xCC grave, 0xEC acute, 0xD2 hook, 0xDE tilde, 0xF2 dot below) and ơ/ư/đ/ă.
_CP1258_MARKS = re.compile(rb"[A-Za-z\xe2\xea\xf4\xe3\xf5\xfd\xc2\xca\xd4\xc3\xd5\xdd][\xcc\xec\xd2\xde\xf2]")


def normalize_encoding_name(name: str | None) -> str | None:
    """Canonical Python codec name for a declared label, or None if unknown/empty."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    if not label:
        return None
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try(body: bytes, enc: str) -> str | None:
    try:
        return body.decode(enc)
    except (UnicodeDecodeError, LookupError):
        return None


def _meta_charset(body: bytes) -> str | None:
    m = _META_CHARSET.search(body[:4096])
    return normalize_encoding_name(m.group(1).decode("ascii", "ignore")) if m else None


def _detect(body: bytes) -> str | None:
    if len(_CP1258_MARKS.findall(body[:65536])) >= 3:
        return "cp1258"
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - it ships with trafilatura's deps
        return None
    results = from_bytes(body[:200_000])
    best = results.best()
    if best is None:
        return None
    # on a tie (short samples: cp1250/cp1252/cp1257 all "fit"), prefer the common Western one
    tied = {normalize_encoding_name(m.encoding) for m in results
            if m.chaos == best.chaos and m.coherence == best.coherence}
    for preferred in ("cp1252", "cp1258"):
        if preferred in tied:
            return preferred
    return normalize_encoding_name(best.encoding)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def decode_html(body: bytes, declared_encoding: str | None) -> str:
    """Decode *body* to NFC text, honouring but verifying *declared_encoding*."""
    if not body:
        return ""
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return _nfc(body[len(bom):].decode(bom_encoding, errors="replace"))

    if body.isascii():
        return body.decode("ascii")  # ASCII is NFC
    utf8 = _try(body, "utf-8")

    declared = normalize_encoding_name(declared_encoding)
    meta = _meta_charset(body)
    for enc in (declared, meta):
        if enc is None:
            continue
        if enc == "utf-8":
            if utf8 is not None:
                return _nfc(utf8)
            continue  # declared UTF-8 but it is not: look further
        if utf8 is not None and enc not in ("utf-16", "utf-16-le", "utf-16-be"):
            # valid multi-byte UTF-8 under a legacy declaration: the declaration is wrong
            return _nfc(utf8)
        if enc == "cp1252" and len(_CP1258_MARKS.findall(body[:65536])) >= 3 and (
                declared is None or meta == "cp1258"):
            enc = "cp1258"
        text = _try(body, enc)
        if text is not None:
            return _nfc(text)
    if utf8 is not None:
        return _nfc(utf8)
    detected = _detect(body)
    if detected:
        text = _try(body, detected)
        if text is not None:
            return _nfc(text)
    # last resort: mostly-UTF-8 with a few bad bytes, else windows-1252 (never fails)
    fallback = body.decode("utf-8", errors="replace")
    if fallback.count("\ufffd") <= max(3, len(body) // 1000):
        return _nfc(fallback)
    return _nfc(body.decode(declared or meta or "cp1252", errors="replace"))
