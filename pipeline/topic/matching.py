"""Matching one field (a title or a body) against every term of a profile, and the hits the
rules accept (their near / not_near conditions, longer hits swallowing shorter ones)."""
from __future__ import annotations

import bisect
from itertools import accumulate

from pipeline.topic.index import _Index
from pipeline.topic.profile import Condition, Profile, Rule
from pipeline.topic.textnorm import (
    _WORD_SPLIT,
    _WS,
    _canon_tones,
    _fold,
    _gap_level,
    _lower,
    _nfc,
)


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
        unsegmented = index.unsegmented
        assert unsegmented is not None  # called only for an index with unsegmented terms
        self.char_span(0, 1)  # fills self._starts
        starts = self._starts
        assert starts is not None
        for m in unsegmented.finditer(self.low):
            i = max(bisect.bisect_right(starts, m.start()) - 1, 0)
            j = min(max(bisect.bisect_left(starts, m.end()), i + 1), len(self.words))
            for t in index.unsegmented_terms[m.group(0)]:
                if langs is None or t.lang in langs:
                    self.matches.setdefault(t.id, []).append((i, j))


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
