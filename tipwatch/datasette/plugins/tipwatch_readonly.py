"""Datasette plugin loaded by `tipwatch serve`: nothing served can write to the database.

Datasette already runs only SELECT statements typed into it, on connections opened with
SQLite's mode=ro. This closes the rest: every connection to the tipwatch database, Datasette's
write connection included, is query-only, and any request but GET/HEAD/OPTIONS to it is
answered 405 (Datasette 0.65 answers a POST to a read-only canned query with a 500).
"""
from __future__ import annotations

from datasette import hookimpl

from pipeline import store

DATABASE = "tipwatch"
READ_METHODS = {"GET", "HEAD", "OPTIONS"}


@hookimpl
def prepare_connection(conn, database):
    if database == DATABASE:
        store.make_query_only(conn)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def refuse_writes(scope, receive, send):
            if (scope["type"] == "http" and scope["method"] not in READ_METHODS
                    and scope["path"].startswith(f"/{DATABASE}")):
                await send({"type": "http.response.start", "status": 405,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET, HEAD")]})
                await send({"type": "http.response.body", "body": b"tipwatch serve is read-only\n"})
                return
            await app(scope, receive, send)
        return refuse_writes
    return wrap
