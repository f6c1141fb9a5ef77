"""Datasette plugin loaded by `tipwatch serve`: an article's page says why it was (not) flagged.

The row page of `articles` (/tipwatch/articles/<id>) gets the article's classification as a
template variable, `verdict`, which tipwatch/datasette/templates/row-tipwatch-articles.html shows
above the article: flagged or not, the reason, the points per rule, the matched terms, the
subtopics and countries, the model's probability and the analyst's label. No second click.
"""
from __future__ import annotations

import json

from datasette import hookimpl

from pipeline.store import browse

DATABASE = "tipwatch"
VERDICT_SQL = browse.ARTICLE_VERDICT  # the product's SQL lives in pipeline.store


def _list(value) -> list:
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(item) for item in items] if isinstance(items, list) else []


def _rules(value) -> list[tuple[str, float]]:
    try:
        points = {rule: float(score) for rule, score in json.loads(value or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        return []
    return sorted(points.items(), key=lambda item: (-item[1], item[0]))


@hookimpl
def extra_template_vars(template, database, table, view_name, request, datasette):
    if view_name != "row" or database != DATABASE or table != "articles" or request is None:
        return {}

    async def verdict() -> dict:  # Datasette awaits it for the template's variables
        pk = (request.url_vars or {}).get("pks", "")
        rows = (await datasette.get_database(DATABASE).execute(VERDICT_SQL, [int(pk)])).rows if pk.isdigit() else []
        if not rows:
            return {"verdict": None}
        row = dict(rows[0])
        row["rules"] = _rules(row["rules"])
        for column in ("matched_terms", "subtopics", "countries"):
            row[column] = _list(row[column])
        return {"verdict": row}

    return verdict
