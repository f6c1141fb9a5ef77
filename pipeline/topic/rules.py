"""Topic stage: score an article against a declarative topic profile (the rules).

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

Modules, one job each: textnorm (how text is normalised and split), profile (reading, validating
and compiling a profile), index (the terms' lookup index), matching (terms found in a field and
the hits the rules accept), scoring (scores, tags, snippet: `classify`, `explain`). Callers use
`from pipeline.topic import rules` (or import its names): this module re-exports the public ones.
"""
from pipeline.topic.profile import (
    FIELDS,
    LANGUAGES,
    PASSING,
    Condition,
    ModelPolicy,
    Profile,
    ProfileError,
    Rule,
    Term,
    compile_profile,
    load_profile,
)
from pipeline.topic.scoring import SNIPPET_CHARS, classify, explain
from pipeline.topic.textnorm import normalize

__all__ = [
    "FIELDS", "LANGUAGES", "PASSING", "SNIPPET_CHARS", "Condition", "ModelPolicy", "Profile", "ProfileError", "Rule",
    "Term", "classify", "compile_profile", "explain", "load_profile", "normalize",
]
