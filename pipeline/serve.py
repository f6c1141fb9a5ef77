"""`tipwatch serve`: the database in Datasette, opened on something useful.

The database is served as "tipwatch" whatever its file is called, so links and feed URLs
stay the same. Datasette gets the metadata shipped in pipeline/datasette/metadata.yml, the
canned queries of pipeline/browse.py, and two small plugins in pipeline/datasette/plugins/
(readable cells; read-only) besides datasette-atom.

Read-only: Datasette runs only SELECT statements typed into it, on connections opened with
SQLite's mode=ro; no canned query is writable; the read-only plugin makes every connection to
the database query-only and refuses any request but GET/HEAD. The database is not opened
immutable (-i), so a crawl can write meanwhile: in WAL mode its writes never block readers.
"""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import yaml
from markupsafe import escape

from . import browse, store

DATASETTE_DIR = Path(__file__).resolve().parent / "datasette"
METADATA_FILE = DATASETTE_DIR / "metadata.yml"
PLUGINS_DIR = DATASETTE_DIR / "plugins"
DATABASE = "tipwatch"
SETTINGS = {
    "default_page_size": 50,
    "truncate_cells_html": 300,      # long cells (snippets, descriptions) cut in tables, whole on a row's page
    "suggest_facets": False,         # facets are chosen in the metadata; suggesting them costs a query each
    "facet_time_limit_ms": 500,      # a facet over ~400k articles fits; beyond, facets show once the list is narrowed
    "sql_time_limit_ms": 3000,
}
# keys of a canned query Datasette knows; nothing here sets "write"
_QUERY_KEYS = ("sql", "title", "description", "params")


def canned_queries() -> dict[str, dict]:
    queries = {}
    for name, query in browse.CANNED_QUERIES.items():
        if query.get("write"):
            raise ValueError(f"canned query {name} writes; tipwatch serve is read-only")
        queries[name] = {key: query[key] for key in _QUERY_KEYS if key in query} | {"hide_sql": True}
    return queries


def start_here_html() -> str:
    """The front page's list of starting points: the Articles view, then every canned query."""
    links = [(f"/{DATABASE}/article_overview", "Articles",
              "search, facets by source, language, subtopic, country and month; newest first")]
    links += [(f"/{DATABASE}/{name}", query["title"], query["description"].split(". ")[0])
              for name, query in browse.CANNED_QUERIES.items()]
    items = "".join(f'<li><a href="{href}">{escape(title)}</a>: {escape(text)}</li>'
                    for href, title, text in links)
    return f"<p><strong>Start here</strong></p><ul>{items}</ul>"


def metadata() -> dict:
    """The shipped metadata with the canned queries and the front page's links added."""
    data = yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))
    data["description_html"] = data.get("description_html", "") + start_here_html()
    data["databases"][DATABASE]["queries"] = canned_queries()
    return data


def prepare_database(db_path: Path) -> None:
    """Create or migrate the database, then add the browse views (idempotent)."""
    db = store.open_db(db_path)
    browse.ensure_views(db)
    db.conn.close()


def build_datasette(db_path: Path):
    from datasette.app import Datasette
    from datasette.database import Database

    datasette = Datasette(metadata=metadata(), plugins_dir=str(PLUGINS_DIR), settings=SETTINGS)
    datasette.add_database(Database(datasette, path=str(db_path.resolve()), is_mutable=True), name=DATABASE)
    datasette.remove_database("_memory")  # added when no file is given; an empty database on the front page
    return datasette


def check_port_free(host: str, port: int) -> None:
    """Fail before saying "Serving" when something listens there already."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror} (another --port?)") from None


def serve(db_path: Path, host: str, port: int) -> None:
    """Serve the database until Ctrl-C or SIGTERM."""
    import uvicorn

    check_port_free(host, port)
    prepare_database(db_path)
    datasette = build_datasette(db_path)
    asyncio.run(datasette.invoke_startup())
    print(f"Serving {db_path} read-only at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")
