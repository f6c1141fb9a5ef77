"""Topic stage: score an article against a declarative topic profile.

A profile (TOML, edited by analysts; format documented at the top of
``seeds/topics/trafficking.toml``) is compiled once by :func:`load_profile` into
an immutable :class:`Profile`; :func:`classify` is then a pure function of the
profile and one article.

How matching works
------------------
* Text is NFC-normalised, lower-cased, and Vietnamese tone-mark placement is
  unified ("hoà" == "hòa", "thuỷ" == "thủy").  Diacritics are otherwise
  significant: "mua bán người" does not match "mua ban nguoi" unless the rule
  says ``accent_insensitive = true``.
* Text is split into words (``\\w+``); terms are word sequences, so matching is
  on whole words ("traffic" never matches "trafficking"; a trailing ``*``
  makes a prefix: "traffick*").  A phrase matches across spaces, hyphens,
  apostrophes and quotes, never across a sentence break (. ! ? ; : newline);
  across a comma only where the term itself has one ("phòng, chống").
* Scripts written without spaces (Thai, Lao, Khmer, Chinese) are matched as
  substrings.
* Every hit is checked against its rule's ``near`` (proximity: must have a
  context term within N words) and ``not_near`` (local exclusion) conditions.
  A hit lying inside a longer accepted hit is dropped (so "drug trafficking",
  a zero-weight rule, swallows the bare "trafficking" inside it; "human
  trafficking" likewise outranks it).
* A hit contributes ``rule weight x field weight`` (title vs body).  Within a
  rule, hits are taken strongest first with a geometric ``repeat_decay``, at
  most ``max_hits`` of them, and the rule total is clipped to ``cap``.  The
  score is the sum over rules (floored at 0); ``flagged = score >= threshold``.
* A passing mention counts less: when the only positive evidence is one hit in
  the body, beyond its first ``passing_after`` words, with nothing in the title,
  the score is multiplied by ``passing_mention``. A story about trafficking
  names it in its title, its lead or more than once; an ordinary story touches
  it once, in passing ("forced to work longer", a film "about sexual slavery").
"""
from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterable

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from tipwatch.config import REPO_ROOT

DEFAULT_PROFILE = REPO_ROOT / "seeds" / "topics" / "trafficking.toml"

LANGUAGES = ("any", "en", "vi", "th", "km", "lo", "zh", "my", "ms", "id", "tl")
FIELDS = ("title", "body")
SNIPPET_CHARS = 260

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
_TONE_RE = re.compile("[ou][%s]" % "".join(sorted({k[1] for k in _TONE_MAP})))


class ProfileError(ValueError):
    """The topic profile is unreadable or malformed; the message names the rule and key."""


# --------------------------------------------------------------------------- compiled profile


@dataclass(frozen=True)
class Term:
    id: int
    text: str  # as written in the profile
    lang: str
    mode: str  # "plain" | "fold" (accent-insensitive) | "case" (case-sensitive)
    tokens: tuple[str, ...]  # normalised words; a trailing "*" marks a prefix
    gaps: tuple[int, ...]  # strongest separator allowed after each word (0 space, 1 comma)
    unsegmented: bool = False


@dataclass(frozen=True)
class Condition:
    terms: tuple[int, ...]
    window: int
    order: str  # "any" | "after" | "before"  (where the context must lie)
    cross_sentences: bool


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # "rule" | "subtopic" | "country"
    weight: float
    terms: tuple[int, ...]
    near: Condition | None
    not_near: Condition | None
    tags: tuple[str, ...]
    max_hits: int
    cap: float | None
    min_count: int = 1



@dataclass(frozen=True)
class _Index:
    first: dict  # word -> (_Slot,)
    keys: frozenset  # first words, for a C-speed intersection with an article's words
    prefixes: dict  # prefix -> tuple[Term, ...]  (first word is a prefix pattern)
    unsegmented: re.Pattern | None
    unsegmented_terms: dict  # surface -> tuple[Term, ...]


@dataclass(frozen=True)
class ModelPolicy:
    """How the trained model's probability may overturn the rules (the [model] table)."""
    use: bool = True
    rescue: float = 0.65  # below the threshold: flag when p >= rescue and score >= evidence
    evidence: float = 2.0
    veto: float = 0.1  # at or above the threshold: unflag when p < veto and score < strong
    strong: float = 6.0


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    path: str
    description: str
    threshold: float
    field_weights: tuple[tuple[str, float], ...]
    repeat_decay: float
    max_hits: int
    language_mode: str  # "all" | "declared"
    rules: tuple[Rule, ...]  # scoring rules
    tags: tuple[Rule, ...]  # subtopic and country tags
    terms: tuple[Term, ...]
    indexes: tuple[tuple[str, _Index], ...]  # per matching mode
    owners: dict  # term id -> indexes into rules + tags of the rules/tags it is a main term of
    model: ModelPolicy = ModelPolicy()
    passing_mention: float = 1.0  # share of the score a lone late body mention keeps (1 = off)
    passing_after: int = 50  # words of the body that make its lead

    def field_weight(self, fieldname: str) -> float:
        for name, weight in self.field_weights:
            if name == fieldname:
                return weight
        raise KeyError(fieldname)


# --------------------------------------------------------------------------- normalisation


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


# --------------------------------------------------------------------------- loading


_PROFILE_KEYS = {"name", "description", "threshold", "repeat_decay", "max_hits", "languages",
                 "passing_mention", "passing_after"}
PASSING = "(passing mention)"  # the pseudo-rule that carries the discount in per-rule totals
_RULE_KEYS = {"name", "weight", "terms", "near", "not_near", "tags", "max_hits", "cap",
              "accent_insensitive", "case_sensitive", "note"}
_TAG_KEYS = {"name", "terms", "near", "not_near", "min_count", "accent_insensitive",
             "case_sensitive", "note"}
_COND_KEYS = {"window", "order", "cross_sentences"}


class _Builder:
    """Accumulates terms while the profile's tables are validated."""

    def __init__(self) -> None:
        self.terms: list[Term] = []
        self._seen: dict[tuple, int] = {}

    def term(self, where: str, key: str, raw: Any, lang: str, mode: str) -> int:
        if not isinstance(raw, str) or not raw.strip():
            raise ProfileError(f"{where}: key '{key}' must hold non-empty strings, got {raw!r}")
        text = _nfc(raw.strip())
        norm = text if mode == "case" else _lower(text)
        if mode == "fold":
            norm = _fold(norm)
        if _UNSEGMENTED.search(norm):
            tokens, gaps, unseg = (norm,), (), True
        else:
            parts = _WORD_SPLIT.split(norm)
            tokens = tuple(parts[1::2])
            seps = parts[2::2][: max(len(tokens) - 1, 0)]
            if not tokens:
                raise ProfileError(f"{where}: key '{key}' term {raw!r} has no words")
            for tok, sep in zip(tokens, seps + [""]):
                if sep.startswith("*"):
                    raise ProfileError(f"{where}: key '{key}' term {raw!r}: '*' only ends a term")
            if parts[-1].strip() == "*":
                if len(tokens[-1]) < 3:
                    raise ProfileError(f"{where}: key '{key}' term {raw!r}: prefix before '*' "
                                       "needs at least 3 letters")
                tokens = tokens[:-1] + (tokens[-1] + "*",)
            levels = tuple(_gap_level(s) for s in seps)
            if any(level == 2 for level in levels):
                raise ProfileError(f"{where}: key '{key}' term {raw!r} spans a sentence break")
            gaps, unseg = levels, False
        ident = (tokens, gaps, mode, lang, text)
        if ident not in self._seen:
            self._seen[ident] = len(self.terms)
            self.terms.append(Term(len(self.terms), text, lang, mode, tokens, gaps, unseg))
        return self._seen[ident]

    def term_lists(self, where: str, key: str, raw: Any, mode: str, *,
                   extra: Iterable[str] = ()) -> tuple[int, ...]:
        """`terms = [...]` (any language) or `terms.en = [...]`, `terms.vi = [...]` ..."""
        if isinstance(raw, list):
            raw = {"any": raw}
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: key '{key}' must be a list of terms or a table of "
                               f"per-language lists ({', '.join(LANGUAGES)})")
        ids: list[int] = []
        for lang, values in raw.items():
            if lang in extra:
                continue
            if lang not in LANGUAGES:
                raise ProfileError(f"{where}: key '{key}.{lang}' is not a known language "
                                   f"(known: {', '.join(LANGUAGES)})")
            if not isinstance(values, list):
                raise ProfileError(f"{where}: key '{key}.{lang}' must be a list of strings")
            ids.extend(self.term(where, f"{key}.{lang}", v, lang, mode) for v in values)
        return tuple(dict.fromkeys(ids))


def _number(where: str, key: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProfileError(f"{where}: key '{key}' must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ProfileError(f"{where}: key '{key}' must be >= {minimum}, got {value!r}")
    return float(value)


def _integer(where: str, key: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProfileError(f"{where}: key '{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _boolean(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProfileError(f"{where}: key '{key}' must be true or false, got {value!r}")
    return value


def _condition(b: _Builder, where: str, key: str, raw: Any, mode: str,
               default_window: int) -> Condition | None:
    if raw is None:
        return None
    if isinstance(raw, list):
        raw = {"any": raw}
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: key '{key}' must be a table (e.g. {key}.en = [...], "
                           f"{key}.window = 5)")
    ids = b.term_lists(where, key, raw, mode, extra=_COND_KEYS)
    if not ids:
        raise ProfileError(f"{where}: key '{key}' lists no terms")
    window = _integer(where, f"{key}.window", raw.get("window", default_window))
    order = raw.get("order", "any")
    if order not in ("any", "after", "before"):
        raise ProfileError(f"{where}: key '{key}.order' must be 'any', 'after' or 'before', "
                           f"got {order!r}")
    cross = _boolean(where, f"{key}.cross_sentences", raw.get("cross_sentences", False))
    return Condition(ids, window, order, cross)


def _mode(where: str, table: dict) -> str:
    fold = _boolean(where, "accent_insensitive", table.get("accent_insensitive", False))
    case = _boolean(where, "case_sensitive", table.get("case_sensitive", False))
    if fold and case:
        raise ProfileError(f"{where}: key 'accent_insensitive' cannot be combined with "
                           "'case_sensitive'")
    return "fold" if fold else "case" if case else "plain"


def _rule(b: _Builder, table: Any, index: int, kind: str, names: set, defaults: dict) -> Rule:
    section = "rule" if kind == "rule" else kind
    if not isinstance(table, dict):
        raise ProfileError(f"{section} #{index + 1}: must be a table ([[{section}]])")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"{section} #{index + 1}: key 'name' is required (a non-empty string)")
    where = f"{section} '{name}'"
    if kind == "rule":  # tags may share a name: their evidence adds up
        if name in names:
            raise ProfileError(f"{where}: key 'name' is used twice")
        names.add(name)
    known = _RULE_KEYS if kind == "rule" else _TAG_KEYS
    for key in table:
        if key not in known:
            raise ProfileError(f"{where}: key '{key}' is not a known key "
                               f"(known: {', '.join(sorted(known))})")
    if "terms" not in table:
        raise ProfileError(f"{where}: key 'terms' is required")
    mode = _mode(where, table)
    terms = b.term_lists(where, "terms", table["terms"], mode)
    if not terms:
        raise ProfileError(f"{where}: key 'terms' lists no terms")
    near = _condition(b, where, "near", table.get("near"), mode, 5)
    not_near = _condition(b, where, "not_near", table.get("not_near"), mode, 3)
    if kind == "rule":
        if "weight" not in table:
            raise ProfileError(f"{where}: key 'weight' is required")
        weight = _number(where, "weight", table["weight"])
        tags = table.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise ProfileError(f"{where}: key 'tags' must be a list of subtopic names")
        max_hits = _integer(where, "max_hits", table.get("max_hits", defaults["max_hits"]),
                            minimum=1)
        cap = table.get("cap")
        cap = None if cap is None else _number(where, "cap", cap, minimum=0)
        return Rule(name, kind, weight, terms, near, not_near, tuple(tags), max_hits, cap)
    min_count = _integer(where, "min_count", table.get("min_count", 1), minimum=1)
    return Rule(name, kind, 0.0, terms, near, not_near, (), 1, None, min_count)


# Very frequent words are poor anchors for phrase lookup (see _anchor).
_COMMON = frozenset("""
a an the of in on at to for from by with and or as is are was were be been that this these those
it its their his her they them he she we you our after before into over under than then also
not no but if about up out across there which who whom whose
của và cho có là được những với trong đã một không này tại sang đưa bị bán mua người các công
làm việc lao động ty dân tỉnh nhà trên theo về đến khi từ năm ngày đi ra vào qua đó thì nhiều
hơn cũng để sẽ đang như nhưng hay hoặc rằng vì nên lại còn chỉ rất đều mới phải lên xuống
""".split())


def _anchor(t: Term, popularity: dict[str, int]) -> int:
    """Index of the word to look a phrase up by: a literal word that is neither frequent in
    text nor shared by many terms of the profile (so few candidates need checking)."""
    best, best_key = 0, None
    for k, tok in enumerate(t.tokens):
        key = (tok.endswith("*"), tok in _COMMON, popularity.get(tok, 0), -len(tok), k)
        if best_key is None or key < best_key:
            best, best_key = k, key
    return best


def _index(terms: Iterable[Term]) -> _Index:
    """Terms keyed by their anchor word (or anchor prefix), with the anchor's offset."""
    first: dict[str, list] = {}
    prefixes: dict[str, list] = {}
    unseg: dict[str, list[Term]] = {}
    terms = list(terms)
    popularity: dict[str, int] = {}
    for t in terms:
        for tok in set(t.tokens):
            popularity[tok] = popularity.get(tok, 0) + 1
    for t in terms:
        if t.unsegmented:
            unseg.setdefault(t.tokens[0], []).append(t)
            continue
        k = _anchor(t, popularity)
        tok = t.tokens[k]
        if tok.endswith("*"):
            prefixes.setdefault(tok[:-1], []).append((k, t))
        else:
            first.setdefault(tok, []).append((k, t))
    pattern = None
    if unseg:
        pattern = re.compile("|".join(re.escape(s) for s in sorted(unseg, key=len, reverse=True)))
    return _Index({k: (_slot(v),) for k, v in first.items()}, frozenset(first),
                  {k: _slot(v) for k, v in prefixes.items()},
                  pattern, {k: tuple(v) for k, v in unseg.items()})


@dataclass(frozen=True)
class _Slot:
    """The terms anchored on one word: one-word terms, and phrases keyed by the neighbouring
    word (delta -1 or +1 from the anchor), so a phrase is checked only if its neighbour fits."""
    singles: tuple[Term, ...]
    keyed: dict  # (delta, word) -> tuple[(anchor offset, Term), ...]
    deltas: tuple[int, ...]
    loose: tuple[tuple[int, Term], ...]  # phrases whose neighbours are prefixes


def _slot(entries: list[tuple[int, Term]]) -> _Slot:
    singles, keyed, loose = [], {}, []
    for k, t in entries:
        if len(t.tokens) == 1:
            singles.append(t)
            continue
        for j in (k + 1, k - 1):
            if 0 <= j < len(t.tokens) and not t.tokens[j].endswith("*"):
                keyed.setdefault((j - k, t.tokens[j]), []).append((k, t))
                break
        else:
            loose.append((k, t))
    return _Slot(tuple(singles), {key: tuple(v) for key, v in keyed.items()},
                 tuple(sorted({d for d, _ in keyed})), tuple(loose))


def load_profile(path: str | Path = DEFAULT_PROFILE) -> Profile:
    """Read, validate and compile a topic profile (TOML)."""
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"profile {path}: cannot read: {exc}") from exc
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path}: invalid TOML: {exc}") from exc
    return compile_profile(data, version_seed=raw_bytes, path=str(path))


def compile_profile(data: dict, *, version_seed: bytes = b"", path: str = "") -> Profile:
    """Compile an already-parsed profile mapping (see :func:`load_profile`)."""
    for key in data:
        if key not in ("profile", "fields", "model", "rule", "subtopic", "country"):
            raise ProfileError(f"profile: key '{key}' is not a known section "
                               "(known: profile, fields, model, rule, subtopic, country)")
    head = data.get("profile", {})
    if not isinstance(head, dict):
        raise ProfileError("profile: key 'profile' must be a table")
    for key in head:
        if key not in _PROFILE_KEYS:
            raise ProfileError(f"profile: key '{key}' is not a known key "
                               f"(known: {', '.join(sorted(_PROFILE_KEYS))})")
    name = head.get("name", Path(path).stem or "profile")
    if not isinstance(name, str) or not name:
        raise ProfileError("profile: key 'name' must be a non-empty string")
    if "threshold" not in head:
        raise ProfileError("profile: key 'threshold' is required")
    threshold = _number("profile", "threshold", head["threshold"], minimum=0)
    decay = _number("profile", "repeat_decay", head.get("repeat_decay", 0.5), minimum=0)
    max_hits = _integer("profile", "max_hits", head.get("max_hits", 4), minimum=1)
    passing = _number("profile", "passing_mention", head.get("passing_mention", 1.0), minimum=0)
    if passing > 1:
        raise ProfileError(f"profile: key 'passing_mention' is a share, between 0 and 1, got {passing!r}")
    passing_after = _integer("profile", "passing_after", head.get("passing_after", 50))
    language_mode = head.get("languages", "all")
    if language_mode not in ("all", "declared"):
        raise ProfileError(f"profile: key 'languages' must be 'all' or 'declared', "
                           f"got {language_mode!r}")
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise ProfileError("fields: must be a table (title = 2.0, body = 1.0)")
    for key in fields:
        if key not in FIELDS:
            raise ProfileError(f"fields: key '{key}' is not a known field (known: title, body)")
    weights = tuple((f, _number("fields", f, fields.get(f, 2.0 if f == "title" else 1.0),
                                minimum=0)) for f in FIELDS)

    b = _Builder()
    names: set[str] = set()
    defaults = {"max_hits": max_hits}
    sections = {}
    for section in ("rule", "subtopic", "country"):
        tables = data.get(section, [])
        if not isinstance(tables, list):
            raise ProfileError(f"{section}: must be an array of tables ([[{section}]])")
        sections[section] = tuple(_rule(b, t, i, section, names, defaults)
                                  for i, t in enumerate(tables))
    if not sections["rule"]:
        raise ProfileError("profile: at least one [[rule]] is required")
    digest = hashlib.sha256(version_seed).hexdigest()[:12]
    terms = tuple(b.terms)
    owners: dict[int, list[int]] = {}
    for i, rule in enumerate(sections["rule"] + sections["subtopic"] + sections["country"]):
        for tid in rule.terms:
            owners.setdefault(tid, []).append(i)
    indexes = tuple((mode, _index(t for t in terms if t.mode == mode))
                    for mode in ("plain", "fold", "case") if any(t.mode == mode for t in terms))
    return Profile(
        name=name, version=f"{name}@{digest}", path=path,
        description=str(head.get("description", "")), threshold=threshold,
        field_weights=weights, repeat_decay=decay, max_hits=max_hits,
        language_mode=language_mode, rules=sections["rule"],
        tags=sections["subtopic"] + sections["country"], terms=terms, indexes=indexes,
        owners={k: tuple(v) for k, v in owners.items()}, model=_model_policy(data.get("model", {})),
        passing_mention=passing, passing_after=passing_after)


def _model_policy(table: Any) -> ModelPolicy:
    if not isinstance(table, dict):
        raise ProfileError("model: must be a table (use, rescue, evidence, veto, strong)")
    known = {"use", "rescue", "evidence", "veto", "strong"}
    for key in table:
        if key not in known:
            raise ProfileError(f"model: key '{key}' is not a known key (known: {', '.join(sorted(known))})")
    default = ModelPolicy()
    values = {"use": _boolean("model", "use", table.get("use", default.use))}
    for key in ("rescue", "veto"):
        value = _number("model", key, table.get(key, getattr(default, key)), minimum=0)
        if value > 1:
            raise ProfileError(f"model: key '{key}' is a probability, between 0 and 1, got {value!r}")
        values[key] = value
    for key in ("evidence", "strong"):
        values[key] = _number("model", key, table.get(key, getattr(default, key)), minimum=0)
    return ModelPolicy(**values)


# --------------------------------------------------------------------------- one field


class _Field:
    """A title or body, split into words once; matches every profile term."""

    __slots__ = ("name", "text", "low", "parts", "words", "gaps", "_hard", "_starts", "matches",
                 "by_owner", "context")

    def __init__(self, name: str, text: str, profile: Profile, langs: set[str] | None) -> None:
        self.name = name
        self.text = _nfc(text or "")
        self.low = _lower(self.text)
        self.parts = _WORD_SPLIT.split(self.low)
        self.words = self.parts[1::2]
        self.gaps = self.parts[2::2]
        self._hard: list[int] | None = None
        self._starts: list[int] | None = None
        self.matches: dict[int, list[tuple[int, int]]] = {}
        self.context: dict[int, list[tuple[int, int]]] = {}
        for mode, index in profile.indexes:
            if mode == "fold":
                source = _fold(self.low)
                if source == self.low:  # nothing folded (most English): no second split
                    words = self.words
                else:
                    words = _WORD_SPLIT.split(source)[1::2]
                    if len(words) != len(self.words):
                        words = [_fold(w) for w in self.words]
            elif mode == "case":
                if not index.prefixes and index.unsegmented is None and \
                        not any(key in self.text for key in index.keys):
                    continue  # few case-sensitive terms (acronyms): skip a third split when absent
                source = _canon_tones(self.text)
                words = _WORD_SPLIT.split(source)[1::2]
                if len(words) != len(self.words):
                    source, words = self.low, self.words
            else:
                source, words = self.low, self.words
            self._match(index, source, words, langs)
        # occurrences grouped by the rule/tag they are a main term of
        self.by_owner: dict[int, list[tuple[int, int, int]]] = {}
        owners = profile.owners
        for tid, spans in self.matches.items():
            for owner in owners.get(tid, ()):
                self.by_owner.setdefault(owner, []).extend((s, e, tid) for s, e in spans)

    # positions ------------------------------------------------------------
    def hard_between(self, lo: int, hi: int) -> bool:
        """Is there a sentence break in any gap lo..hi (gap k follows word k)?"""
        if self._hard is None:
            self._hard = [k for k, g in enumerate(self.gaps) if g != " " and _gap_level(g) == 2]
        i = bisect.bisect_left(self._hard, lo)
        return i < len(self._hard) and self._hard[i] <= hi

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        if self._starts is None:  # start of word k = length of parts[0 .. 2k]
            self._starts = list(accumulate(map(len, self.parts)))[0::2]
        s = self._starts[start]
        e = self._starts[end - 1] + len(self.words[end - 1])
        return s, e

    def surface(self, start: int, end: int) -> str:
        """The matched words as written (lower-cased, whitespace collapsed)."""
        s, e = self.char_span(start, end)
        return _WS.sub(" ", self.text[s:e].lower())

    # matching -------------------------------------------------------------
    def _match(self, index: _Index, source: str, words: list[str],
               langs: set[str] | None) -> None:
        """Record every occurrence of every term: (start word, end word) per term id."""
        found, gaps, n = self.matches, self.gaps, len(words)
        lookup = index.first  # word -> slots of terms anchored on it
        distinct = set(words)
        anchors = set(index.keys.intersection(distinct))  # at C speed; most articles match little
        active = [(p, slot) for p, slot in index.prefixes.items() if p in source]
        if active:  # words in this text that a prefix term ("traffick*") anchors on
            lookup = dict(lookup)
            for w in distinct:
                for prefix, slot in active:
                    if w.startswith(prefix):
                        lookup[w] = lookup.get(w, ()) + (slot,)
                        anchors.add(w)
        where: dict[str, list[int]] = {}
        if anchors:
            for i, w in enumerate(words):
                if w in anchors:
                    where.setdefault(w, []).append(i)
        todo = [(slot, positions) for w, positions in where.items() for slot in lookup[w]]
        for slot, positions in todo:
            for i in positions:
                for t in slot.singles:
                    if langs is None or t.lang in langs:
                        found.setdefault(t.id, []).append((i, i + 1))
                options = slot.loose
                for delta in slot.deltas:
                    j = i + delta
                    if 0 <= j < n:
                        more = slot.keyed.get((delta, words[j]))
                        if more:
                            options = options + more
                for off, t in options:
                    if langs is not None and t.lang not in langs:
                        continue
                    size = len(t.tokens)
                    start = i - off
                    if start < 0 or start + size > n:
                        continue
                    for k in range(size):
                        if k != off:
                            tok, word = t.tokens[k], words[start + k]
                            if word != tok and not (tok[-1] == "*" and word.startswith(tok[:-1])):
                                break
                        if k + 1 < size:
                            gap = gaps[start + k]
                            if gap != " " and _gap_level(gap) > t.gaps[k]:
                                break
                    else:
                        found.setdefault(t.id, []).append((start, start + size))
        if index.unsegmented is not None:
            self._match_unsegmented(index, langs)

    def _match_unsegmented(self, index: _Index, langs: set[str] | None) -> None:
        if not self.words:
            return
        self.char_span(0, 1)  # fills self._starts
        starts = self._starts
        for m in index.unsegmented.finditer(self.low):
            i = max(bisect.bisect_right(starts, m.start()) - 1, 0)
            j = min(max(bisect.bisect_left(starts, m.end()), i + 1), len(self.words))
            for t in index.unsegmented_terms[m.group(0)]:
                if langs is None or t.lang in langs:
                    self.matches.setdefault(t.id, []).append((i, j))


# --------------------------------------------------------------------------- evaluation


def _context(f: _Field, cond: Condition) -> list[tuple[int, int]]:
    """Where the condition's terms occur in the field (computed once per field)."""
    key = id(cond)
    spans = f.context.get(key)
    if spans is None:
        matches = f.matches
        spans = [span for tid in cond.terms if tid in matches for span in matches[tid]]
        f.context[key] = spans
    return spans


def _satisfied(f: _Field, cond: Condition, start: int, end: int) -> bool:
    for cs, ce in _context(f, cond):
        if ce <= start:
            side, dist, lo, hi = "before", start - ce, ce - 1, start - 1
        elif cs >= end:
            side, dist, lo, hi = "after", cs - end, end - 1, cs - 1
        else:
            return True  # overlapping context counts in every direction
        if dist > cond.window or (cond.order != "any" and side != cond.order):
            continue
        if cond.cross_sentences or not f.hard_between(lo, hi):
            return True
    return False


def _accepted(f: _Field, rule: Rule, owner: int) -> list[tuple[int, int, int]]:
    """Occurrences of the rule's terms that pass its near / not_near conditions."""
    out = []
    for start, end, tid in f.by_owner.get(owner, ()):
        if rule.near is not None and not _satisfied(f, rule.near, start, end):
            continue
        if rule.not_near is not None and _satisfied(f, rule.not_near, start, end):
            continue
        out.append((start, end, tid))
    return out


def _hits(profile: Profile, fields: list[_Field]) -> list[dict]:
    """Accepted scoring hits, after conditions and containment resolution."""
    hits: list[dict] = []
    for f in fields:
        weight = profile.field_weight(f.name)
        cands = []
        for order, rule in enumerate(profile.rules):
            if order in f.by_owner:
                for start, end, tid in _accepted(f, rule, order):
                    cands.append((start, end, rule, tid, order))
        # longer spans first; for equal spans the heavier rule wins
        cands.sort(key=lambda c: (-(c[1] - c[0]), -c[2].weight, c[4], c[0]))
        kept: list[tuple[int, int]] = []
        for start, end, rule, tid, _ in cands:
            if any(ks <= start and end <= ke for ks, ke in kept):
                continue
            kept.append((start, end))
            hits.append({"field": f.name, "start": start, "end": end, "rule": rule,
                         "term": profile.terms[tid].text, "surface": f.surface(start, end),
                         "value": rule.weight * weight, "source": f})
    return hits


def _score(profile: Profile, hits: list[dict]) -> tuple[float, dict[str, float]]:
    per_rule: dict[str, list[float]] = {}
    rules = {}
    for h in hits:
        per_rule.setdefault(h["rule"].name, []).append(h["value"])
        rules[h["rule"].name] = h["rule"]
    totals = {}
    for name, values in per_rule.items():
        rule = rules[name]
        values.sort(key=abs, reverse=True)
        total = sum(v * profile.repeat_decay ** i for i, v in enumerate(values[: rule.max_hits]))
        if rule.cap is not None:
            total = max(min(total, rule.cap), -rule.cap)
        totals[name] = total
    discount = _passing_discount(profile, hits, sum(totals.values()))
    if discount:
        totals[PASSING] = discount
    return max(0.0, sum(totals.values())), totals


def _passing_discount(profile: Profile, hits: list[dict], total: float) -> float:
    """Negative points for a passing mention (see the module docstring), else 0."""
    if profile.passing_mention >= 1.0 or total <= 0:
        return 0.0
    positive = [h for h in hits if h["value"] > 0]
    if len(positive) != 1:
        return 0.0
    only = positive[0]
    if only["field"] != "body" or only["start"] < profile.passing_after:
        return 0.0
    return -(1.0 - profile.passing_mention) * total


def _tags(profile: Profile, fields: list[_Field], kind: str, hits: Iterable[dict] = (), *,
          by_count: bool = True) -> list[str]:
    """Tag names, most evidence first (title mentions count field-weight times; ties in
    profile order) or, with by_count=False, simply in profile order."""
    counts: dict[str, float] = {}
    order: dict[str, int] = {}
    title_weight = max(profile.field_weight("title"), 1.0)
    base = len(profile.rules)
    for i, tag in enumerate(profile.tags):
        if tag.kind != kind:
            continue
        order.setdefault(tag.name, i)
        owner = base + i
        if owner not in fields[0].by_owner and owner not in fields[1].by_owner:
            continue
        n = len(_accepted(fields[1], tag, owner))
        n += len(_accepted(fields[0], tag, owner)) * title_weight
        if n >= tag.min_count:
            counts[tag.name] = counts.get(tag.name, 0) + n
    for h in hits:  # scoring rules may carry subtopic tags too
        for name in h["rule"].tags:
            counts[name] = counts.get(name, 0) + h["value"]
            order.setdefault(name, len(order))
    if not by_count:
        return sorted(counts, key=lambda k: order[k])
    return sorted(counts, key=lambda k: (-counts[k], order[k]))


def _snippet(hits: list[dict], fields: list[_Field]) -> str:
    body_hits = [h for h in hits if h["value"] > 0 and h["field"] == "body"]
    pool = body_hits or [h for h in hits if h["value"] > 0]
    if not pool:
        body = fields[1].text if fields[1].text.strip() else fields[0].text
        return _cut(body, 0, 0)
    best = max(pool, key=lambda h: (h["value"], -h["start"]))
    f: _Field = best["source"]
    s, e = f.char_span(best["start"], best["end"])
    return _cut(f.text, s, e)


def _cut(text: str, s: int, e: int, size: int = SNIPPET_CHARS) -> str:
    """About `size` characters of text around [s, e), cut at word boundaries."""
    lead = max(0, (size - (e - s)) // 3)
    a = max(0, s - lead)
    # prefer starting at the sentence start if it is close
    sent = max(text.rfind(". ", a, s), text.rfind("\n", a, s))
    if sent != -1 and s - sent < size // 2:
        a = sent + 1
    elif a > 0:
        space = text.find(" ", a, s)
        a = space + 1 if space != -1 else a
    b = min(len(text), max(e, a + size))
    if b < len(text):
        space = text.rfind(" ", e, b)
        b = space if space != -1 else b
    out = _WS.sub(" ", text[a:b]).strip()
    if a > 0 and text[:a].strip():
        out = "…" + out
    if b < len(text) and text[b:].strip():
        out = out + "…"
    return out


def _prepare(profile: Profile, title: str, text: str, language: str | None) -> list[_Field]:
    lang = _language(language)
    langs = None
    if profile.language_mode == "declared" and lang is not None:
        langs = {lang, "any"}
    return [_Field("title", title, profile, langs), _Field("body", text, profile, langs)]


def classify(profile: Profile, *, title: str, text: str, language: str | None) -> dict:
    """Score one article. Pure: same profile and article, same result."""
    fields = _prepare(profile, title, text, language)
    hits = _hits(profile, fields)
    score, totals = _score(profile, hits)
    positive = [h for h in hits if h["value"] > 0]
    best: dict[str, tuple[float, float, int]] = {}
    for h in positive:
        key = h["surface"]
        prev = best.get(key, (0.0, 0.0, 1 << 30))
        position = h["start"] + (0 if h["field"] == "title" else 1 << 20)
        best[key] = (max(prev[0], h["value"]), prev[1] + h["value"], min(prev[2], position))
    matched = sorted(best, key=lambda k: (-best[k][0], -best[k][1], best[k][2]))
    subtopics: list[str] = []
    if positive:
        subtopics = _tags(profile, fields, "subtopic", positive, by_count=False)
    return {
        "score": round(score, 3),
        "flagged": score >= profile.threshold,
        "rules": {name: round(points, 3) for name, points in totals.items() if points},
        "matched_terms": matched,
        "snippet": _snippet(hits, fields),
        "subtopics": subtopics,
        "countries": _tags(profile, fields, "country"),
        "profile_version": profile.version,
    }


def explain(profile: Profile, *, title: str, text: str, language: str | None) -> dict:
    """Like :func:`classify`, plus every accepted hit and per-rule totals (for analysts/tests)."""
    fields = _prepare(profile, title, text, language)
    hits = _hits(profile, fields)
    score, totals = _score(profile, hits)
    return {
        "score": round(score, 3),
        "rules": {k: round(v, 3) for k, v in totals.items()},
        "hits": [{"field": h["field"], "rule": h["rule"].name, "term": h["term"],
                  "surface": h["surface"], "word": h["start"], "value": h["value"]}
                 for h in hits],
    }


def normalize(text: str) -> str:
    """The text as the rules see it: NFC, lower case, one Vietnamese tone placement."""
    return _lower(_nfc(text))
