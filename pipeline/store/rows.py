"""Helpers the query modules share: ids in chunks (SQLite caps a statement's parameters) and the
classification's JSON list columns decoded."""
from __future__ import annotations

import json

_LIST_COLUMNS = ("matched_terms", "subtopics", "countries")


def _with_lists(rows) -> list[dict]:
    """Rows with the classification's JSON list columns decoded."""
    rows = list(rows)
    for row in rows:
        for key in _LIST_COLUMNS:
            row[key] = json.loads(row[key] or "[]")
    return rows


def _chunks(ids: list[int], size: int = 500):
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
