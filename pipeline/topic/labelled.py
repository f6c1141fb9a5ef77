"""Labelled examples: the shipped sets in seeds/labelled/ and any JSONL file given to `tipwatch eval`.

One JSON object per line: `text` (required), and optionally `title`, `lang`, `label` (0/1),
`kind`, `id`; other fields are ignored. The shipped sets come in two splits per language:
`<lang>-train.jsonl` (the model learns from it) and `<lang>-test.jsonl` (held out: never
trained on, only scored).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.extract.language import guess_language
from pipeline.topic.rules import normalize

SPLITS = ("train", "test")

class LabelledError(ValueError):
    """A labelled file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    title: str = ""
    lang: str = ""
    label: int | None = None
    kind: str = ""
    origin: str = ""  # "train" / "test" (shipped splits), "analyst", or a file name


def read_jsonl(path: str | Path, origin: str | None = None) -> list[Example]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelledError(f"{path}: cannot read: {exc}") from exc
    examples, seen = [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        example = _example(path, number, line, origin or path.name)
        if example.id in seen:
            raise LabelledError(f"{path}:{number}: id {example.id!r} is used twice")
        seen.add(example.id)
        examples.append(example)
    return examples


def _example(path: Path, number: int, line: str, origin: str) -> Example:
    where = f"{path}:{number}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelledError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(row, dict):
        raise LabelledError(f"{where}: each line must be a JSON object")
    text, title = row.get("text"), row.get("title") or ""
    if not isinstance(text, str) or not (text.strip() or str(title).strip()):
        raise LabelledError(f"{where}: 'text' is required (a non-empty string)")
    label = row.get("label")
    if label is not None:
        if label in (True, False) or label in (0, 1):
            label = int(label)
        elif str(label).strip().lower() in ("0", "1"):
            label = int(str(label).strip())
        else:
            raise LabelledError(f"{where}: 'label' must be 0 or 1, got {label!r}")
    lang = _language_code(row.get("lang")) or guess_language(f"{title}\n{text}")
    return Example(id=str(row.get("id") if row.get("id") is not None else number), text=text,
                   title=str(title), lang=lang, label=label, kind=str(row.get("kind") or ""),
                   origin=origin)


def _language_code(value) -> str:
    if not isinstance(value, str):
        return ""
    return re.split(r"[-_]", value.strip().lower())[0]


def shipped(split: str, directory: Path) -> list[Example]:
    """Every shipped example of one split (in *directory*, seeds/labelled), all languages, in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    examples: list[Example] = []
    for path in sorted(Path(directory).glob(f"*-{split}.jsonl")):
        examples.extend(read_jsonl(path, origin=split))
    return examples


# --------------------------------------------------------------------------- leakage between splits

SHINGLE = 5  # words per shingle
SHARED_PASSAGE = 0.10  # share of the shorter text's shingles found in the other: copied passages
SHARED_FACTS = 2  # rare names and figures in common: the same event retold in other words
RARE = 2  # a name or figure is rare when at most this many examples (of all splits) carry it
_WORDS = re.compile(r"\w+")
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-ZĐ][a-zà-ỹđ]+(?:[ -][A-ZĐ][a-zà-ỹđ]+)+")


def _shingles(ex: Example) -> set[str]:
    words = _WORDS.findall(normalize(f"{ex.title}\n{ex.text}"))
    return {" ".join(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def _facts(ex: Example) -> set[str]:
    """Figures of two digits or more and multi-word proper names: what makes an event itself."""
    text = f"{ex.title}\n{ex.text}"
    figures = {f for f in _FIGURE.findall(text) if sum(c.isdigit() for c in f) >= 2}
    return figures | {name.lower() for name in _NAME.findall(text)}


def near_duplicates(held_out: list[Example], train: list[Example]) -> list[dict]:
    """Pairs (held-out item, training item) that are one story twice: the same title, a shared
    passage (word 5-gram overlap), or the same event retold (rare names and figures in common,
    e.g. the same district, the same "17.3%" and "6.9%"). A shared prefix is the least of it:
    a retelling shares no sentence with its twin, and it still lets a model recite the answer."""
    shingles = {id(ex): _shingles(ex) for ex in held_out + train}
    facts = {id(ex): _facts(ex) for ex in held_out + train}
    frequency = Counter(f for ex in held_out + train for f in facts[id(ex)])
    pairs = []
    for a in held_out:
        for b in train:
            if a.lang != b.lang:
                continue
            sa, sb = shingles[id(a)], shingles[id(b)]
            passage = len(sa & sb) / max(1, min(len(sa), len(sb)))
            shared = sorted(f for f in facts[id(a)] & facts[id(b)] if frequency[f] <= RARE)
            same_title = bool(a.title.strip()) and normalize(a.title) == normalize(b.title)
            if same_title or passage >= SHARED_PASSAGE or len(shared) >= SHARED_FACTS:
                pairs.append({"held_out": a.id, "train": b.id, "same_title": same_title,
                              "passage": round(passage, 3), "shared": shared})
    return pairs
