"""The lookup index of a profile's terms: each term keyed by its rarest word (its anchor), so a
field checks only the few terms whose anchor it contains."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.topic.profile import Term


@dataclass(frozen=True)
class _Index:
    first: dict  # word -> (_Slot,)
    keys: frozenset  # first words, for a C-speed intersection with an article's words
    prefixes: dict  # prefix -> tuple[Term, ...]  (first word is a prefix pattern)
    unsegmented: re.Pattern | None
    unsegmented_terms: dict  # surface -> tuple[Term, ...]


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
    singles: list[Term] = []
    keyed: dict[tuple[int, str], list[tuple[int, Term]]] = {}
    loose: list[tuple[int, Term]] = []
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
