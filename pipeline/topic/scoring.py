"""Scoring an article from its accepted hits: rule totals with decay and caps, the passing-mention
discount, subtopic and country tags, the snippet; `classify` and `explain`."""
from __future__ import annotations

from collections.abc import Iterable

from pipeline.topic.matching import _accepted, _Field, _hits
from pipeline.topic.profile import PASSING, Profile
from pipeline.topic.textnorm import _WS, _language

SNIPPET_CHARS = 260


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
        n: float = len(_accepted(fields[1], tag, owner))
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
