"""Datasette plugin loaded by `tipwatch serve` (its plugins directory): cells an analyst can read.

- JSON lists (matched terms, subtopics, countries, tags) show as "a, b, c"; a classification's
  rule points as "rule 3, rule 1.5".
- A title links to the article on its site when the row has its `url`.
- An article's text shows its opening lines, the whole text a click away, paragraphs kept.
- `article_id` in a query's results (and `id` in the Articles view, which Datasette cannot
  link itself because a view has no primary key) links to the article's row.
"""
from __future__ import annotations

import json

from datasette import hookimpl
from markupsafe import Markup

DATABASE = "tipwatch"
LIST_COLUMNS = {"matched_terms", "subtopics", "countries", "tags"}
TEXT_OPENING = 240  # characters of an article's text shown before "read all"


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DATABASE or value is None:
        return None
    if column == "title" and isinstance(value, str):
        return _title_link(value, row)
    if column in LIST_COLUMNS and isinstance(value, str):
        return _json_list(value)
    if column == "rules" and isinstance(value, str):
        return _rule_points(value)
    if column == "text" and table == "articles" and isinstance(value, str):
        return _long_text(value)
    if (column == "article_id" and table is None) or (column == "id" and table == "article_overview"):
        return _article_link(value, datasette)
    return None


def _json_list(value: str):
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    return ", ".join(str(item) for item in items) or Markup("&nbsp;")  # Datasette ignores a blank answer


def _rule_points(value: str):
    try:
        points = {rule: float(score) for rule, score in json.loads(value).items()}
    except (ValueError, TypeError, AttributeError):
        return None  # not a JSON object of numbers: Datasette shows it as it is
    ranked = sorted(points.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{rule} {score:g}" for rule, score in ranked) or Markup("&nbsp;")


def _long_text(value: str):
    if len(value) <= TEXT_OPENING:
        return Markup('<div style="white-space: pre-wrap">{}</div>').format(value)
    opening = value[:TEXT_OPENING].rsplit(" ", 1)[0]
    return Markup('<details style="min-width: 24em"><summary>{}… <em>(read all, {:,} characters)</em></summary>'
                  '<div style="white-space: pre-wrap; max-width: 50em">{}</div></details>'
                  ).format(opening, len(value), value)


def _article_link(value, datasette):
    url = datasette.urls.row(DATABASE, "articles", str(value))
    return Markup('<a href="{}">{}</a>').format(url, value)


def _title_link(value: str, row):
    url = row["url"] if "url" in row.keys() else None
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        return None
    return Markup('<a href="{}">{}</a>').format(url, value)
