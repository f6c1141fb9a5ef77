"""A topic profile: read from TOML, validated (every error names its place) and compiled once
into an immutable Profile of terms, rules and tags, with its lookup indexes."""
from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.topic.index import _Index, _index
from pipeline.topic.textnorm import (
    _UNSEGMENTED,
    _WORD_SPLIT,
    _fold,
    _gap_level,
    _lower,
    _nfc,
)

LANGUAGES = ("any", "en", "vi", "th", "km", "lo", "zh", "my", "ms", "id", "tl")


FIELDS = ("title", "body")


class ProfileError(ValueError):
    """The topic profile is unreadable or malformed; the message names the rule and key."""


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
        tokens: tuple[str, ...]
        gaps: tuple[int, ...]
        if _UNSEGMENTED.search(norm):
            tokens, gaps, unseg = (norm,), (), True
        else:
            parts = _WORD_SPLIT.split(norm)
            tokens = tuple(parts[1::2])
            seps = parts[2::2][: max(len(tokens) - 1, 0)]
            if not tokens:
                raise ProfileError(f"{where}: key '{key}' term {raw!r} has no words")
            for _tok, sep in zip(tokens, seps + [""], strict=True):
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


def load_profile(path: str | Path) -> Profile:
    """Read, validate and compile a topic profile (TOML). The path comes from the caller's
    configuration (the shipped profile is seeds/topics/trafficking.toml)."""
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
    values: dict[str, Any] = {"use": _boolean("model", "use", table.get("use", default.use))}
    for key in ("rescue", "veto"):
        value = _number("model", key, table.get(key, getattr(default, key)), minimum=0)
        if value > 1:
            raise ProfileError(f"model: key '{key}' is a probability, between 0 and 1, got {value!r}")
        values[key] = value
    for key in ("evidence", "strong"):
        values[key] = _number("model", key, table.get(key, getattr(default, key)), minimum=0)
    return ModelPolicy(**values)
