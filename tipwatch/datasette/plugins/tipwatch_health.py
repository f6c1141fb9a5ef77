"""Datasette plugin loaded by `tipwatch serve`: the source_health query's verdicts.

The canned query gathers each source's runs in SQL and calls health.py's rules as an SQL function
(pipeline.store.health), so the page and `tipwatch status` judge by one definition. Datasette
opens its own connections; each gets the function here.
"""
from __future__ import annotations

from datasette import hookimpl

from pipeline.store import health

DATABASE = "tipwatch"


@hookimpl
def prepare_connection(conn, database):
    if database == DATABASE:
        health.register_sql_functions(conn)
