"""Labelled examples: the shipped sets in seeds/labelled/ and any JSONL file given to `tipwatch eval`.

One JSON object per line: `text` (required), and optionally `title`, `lang`, `label` (0/1),
`kind`, `id`; other fields are ignored. The shipped sets come in two splits per language:
`<lang>-train.jsonl` (the model learns from it) and `<lang>-test.jsonl` (held out: never
trained on, only scored).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .language import guess_language
from .paths import SEEDS_DIR

LABELLED_DIR = SEEDS_DIR / "labelled"
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


def shipped(split: str, directory: Path = LABELLED_DIR) -> list[Example]:
    """Every shipped example of one split, all languages, in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    examples: list[Example] = []
    for path in sorted(directory.glob(f"*-{split}.jsonl")):
        examples.extend(read_jsonl(path, origin=split))
    return examples
