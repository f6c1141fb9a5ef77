"""`tipwatch serve`: the database in Datasette, opened on something useful.

The database is served as "tipwatch" whatever its file is called, so links and feed URLs
stay the same. Datasette gets the metadata shipped in tipwatch/datasette/metadata.yml, the
canned queries of pipeline/store/browse.py, and three small plugins in tipwatch/datasette/plugins/
(readable cells; read-only; a browser without login sent to the login form) besides
datasette-atom and datasette-auth-passwords.

Read-only: Datasette runs only SELECT statements typed into it, on connections opened with
SQLite's mode=ro; no canned query is writable; the read-only plugin makes every connection to
the database query-only and refuses any request but GET/HEAD. The database is not opened
immutable (-i), so a crawl can write meanwhile: in WAL mode its writes never block readers.

Login: the database quotes the names of victims and suspects, so it is served beyond loopback
only behind datasette-auth-passwords' login, whose password hash comes from the environment
(TIPWATCH_SERVE_PASSWORD_HASH). Datasette reads it there through "$env" when a login is checked:
it is in no metadata, page, log or message of ours. With a hash set, the login is on whatever the
host, loopback included.
"""
from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Mapping
from pathlib import Path

import uvicorn
import yaml
from datasette.app import Datasette
from datasette.database import Database
from datasette.plugins import pm
from markupsafe import escape

from pipeline import store
from pipeline.store import browse
from tipwatch.config import Config, bundled

DATASETTE_DIR = Path(__file__).resolve().parent / "datasette"
METADATA_FILE = DATASETTE_DIR / "metadata.yml"
# the English search's vi → en glossary; `serve` passes the configured seeds' one
GLOSSARY_FILE = bundled("seeds") / "glossary" / "vi-en.toml"
PLUGINS_DIR = DATASETTE_DIR / "plugins"
TEMPLATES_DIR = DATASETTE_DIR / "templates"  # an article's page (row-tipwatch-articles.html)
DATABASE = "tipwatch"
SETTINGS = {
    "default_page_size": 50,
    "truncate_cells_html": 300,      # long cells (snippets, descriptions) cut in tables, whole on a row's page
    "suggest_facets": False,         # facets are chosen in the metadata; suggesting them costs a query each
    # a facet that cannot finish in this time says so and the page carries on: on a million
    # articles the subtopic and country facets of every flagged one (json_each over 50,000 rows)
    # do not fit, those of a narrowed list (a source, a month, a search) do (bench/storage_scale.py)
    "facet_time_limit_ms": 30,
    "sql_time_limit_ms": 3000,
}
# keys of a canned query Datasette knows; nothing here sets "write"
_QUERY_KEYS = ("sql", "title", "description", "params")

PASSWORD_HASH_ENV = "TIPWATCH_SERVE_PASSWORD_HASH"
DATASETTE_FACETS = "datasette.facets"  # Datasette's own facet classes (see plugins/tipwatch_facets.py)
USER_ENV = "TIPWATCH_SERVE_USER"
DEFAULT_USER = "analyst"
AUTH_PLUGIN = "datasette-auth-passwords"
AUTH_ENTRY_POINT = "auth_passwords"  # the name Datasette's plugin manager registers it under
README_SECTION = 'README "tipwatch serve"'
# what `datasette hash-password` prints; a plain password or a hash mangled by the shell ("$" in
# double quotes) would lock everyone out instead, silently
_HASH = re.compile(r"pbkdf2_sha256\$\d+\$[^$\s]+\$[A-Za-z0-9+/]+=*")
# the plugin finds accounts by the config key "<user>_password_hash"
_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class ServeRefused(Exception):
    """`tipwatch serve` will not start as asked; the message says what to set."""


def is_loopback(host: str) -> bool:
    """Whether --host is a literal loopback address (127.0.0.0/8, ::1, ::ffff:127.x.x.x).

    A name, "localhost" included, is not: what it resolves to is up to /etc/hosts and DNS, and
    Datasette would listen wherever that points. "127.1" or "2130706433" are refused the same way
    (not literal addresses for ipaddress) though the resolver would read them as 127.0.0.1."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # IPv6 only; Python 3.11 calls ::ffff:127.0.0.1 not loopback
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def access_mode(host: str, login_configured: bool) -> str:
    """"login" whenever a login is configured, "open" on loopback without one, else "refuse"."""
    if login_configured:
        return "login"
    return "open" if is_loopback(host) else "refuse"


def login_user(environ: Mapping[str, str]) -> str | None:
    """The user who may log in, when the environment has a password hash; None when it has none."""
    password_hash = environ.get(PASSWORD_HASH_ENV, "").strip()
    if not password_hash:
        return None
    if not _HASH.fullmatch(password_hash):  # the value itself is never shown: it may be the password
        raise ServeRefused(f"{PASSWORD_HASH_ENV} is not what `datasette hash-password` prints "
                           f"(pbkdf2_sha256$...; in single quotes in a shell), see {README_SECTION}")
    user = environ.get(USER_ENV, "").strip() or DEFAULT_USER
    if not _USER.fullmatch(user) or "_password_hash" in user:
        raise ServeRefused(f"{USER_ENV} must be letters, digits and . _ @ - (up to 64), see {README_SECTION}")
    return user


def refusal(host: str) -> str:
    return (f"refusing to serve on {host} without a login: set {PASSWORD_HASH_ENV} (from `datasette "
            f"hash-password`; user {USER_ENV}, default {DEFAULT_USER}), see {README_SECTION}; "
            f"or use --host 127.0.0.1")


def canned_queries(glossary_file: Path = GLOSSARY_FILE) -> dict[str, dict]:
    queries = {}
    for name, query in browse.canned_queries(glossary_file).items():
        if query.get("write"):
            raise ValueError(f"canned query {name} writes; tipwatch serve is read-only")
        queries[name] = {key: query[key] for key in _QUERY_KEYS if key in query} | {"hide_sql": True}
    return queries


# the Articles page opens on flagged articles, in the columns that fit a 1366 px screen (the rest
# are on each article's page)
ARTICLE_COLUMNS = ["published", "title", "source", "language", "score", "matched_terms", "subtopics", "countries"]
ARTICLES_LINK = (f"/{DATABASE}/article_overview?flagged=1&_sort_desc=published&"
                 + "&".join(f"_col={column}" for column in ARTICLE_COLUMNS))


def start_here_html(glossary_file: Path = GLOSSARY_FILE) -> str:
    """The front page's list of starting points: the Articles view, then every canned query."""
    links = [(ARTICLES_LINK, "Articles",
              "the flagged ones, newest first (remove the filter for all); search, facets by source, language, "
              "subtopic, country and month")]
    # front_link: what the link adds, e.g. the chart settings datasette-vega reads from the fragment
    links += [(f"/{DATABASE}/{name}{query.get('front_link', '')}", query["title"], query["description"].split(". ")[0])
              for name, query in browse.canned_queries(glossary_file).items()]
    items = "".join(f'<li><a href="{escape(href)}">{escape(title)}</a>: {escape(text)}</li>'
                    for href, title, text in links)
    return f"<p><strong>Start here</strong></p><ul>{items}</ul>"


def metadata(user: str | None = None, environ: Mapping[str, str] | None = None,
             glossary_file: Path = GLOSSARY_FILE) -> dict:
    """The shipped metadata with the canned queries and the front page's links added, and with
    a user: only that user may see anything (an instance-wide allow), after logging in."""
    data = yaml.safe_load(METADATA_FILE.read_text(encoding="utf-8"))
    data["description_html"] = data.get("description_html", "") + start_here_html(glossary_file)
    data["databases"][DATABASE]["queries"] = canned_queries(glossary_file)
    if user:
        data["allow"] = {"id": user}
        # "$env": Datasette reads the hash from the environment each time the plugin asks
        data.setdefault("plugins", {})[AUTH_PLUGIN] = {f"{user}_password_hash": {"$env": PASSWORD_HASH_ENV}}
    data.setdefault("plugins", {})["datasette-cluster-map"] = map_settings(environ or {})
    return data


MAP_TILES_ENV = "TIPWATCH_MAP_TILES"
# OpenStreetMap's tiles, as datasette-cluster-map's default; an office without outside access
# points TIPWATCH_MAP_TILES at its own tile server (the pins and clusters need no tiles)
DEFAULT_TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"


def map_settings(environ: Mapping[str, str]) -> dict:
    """datasette-cluster-map's settings: the tile server (TIPWATCH_MAP_TILES) and its credit."""
    tiles = environ.get(MAP_TILES_ENV, "").strip() or DEFAULT_TILES
    return {"tile_layer": tiles, "tile_layer_options": {
        "maxZoom": 18, "attribution": "&copy; OpenStreetMap contributors" if tiles == DEFAULT_TILES else tiles}}


# the row count of a whole table, as Datasette's table page asks it (no filter: no WHERE)
_WHOLE_TABLE_COUNT = re.compile(r"select count\(\*\) from \S+ $")


class CountKeepingDatabase(Database):
    """Datasette's database, with the counts of whole tables kept until the database changes.
    The front and database pages count every table on each view (each count stopped at 10 ms),
    and a table's page counts all its rows: on a million articles ~200 ms and ~30 ms a view,
    though between two crawls nothing changed. Whether anything did is read off the database
    file and its write-ahead log (size and modification time): any write changes the log."""

    _kept_state: tuple | None = None
    _kept: dict

    def _state(self) -> tuple:
        files = (Path(self.path), Path(f"{self.path}-wal"))
        return tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)

    def _kept_counts(self) -> dict:
        state = self._state()
        if state != self._kept_state:
            self._kept_state, self._kept = state, {}
        return self._kept

    async def table_counts(self, limit=10):
        kept = self._kept_counts()
        if "tables" not in kept:
            kept["tables"] = await super().table_counts(limit)
        return dict(kept["tables"])

    async def execute(self, sql, params=None, *args, **kwargs):
        if params or not _WHOLE_TABLE_COUNT.fullmatch(sql):
            return await super().execute(sql, params, *args, **kwargs)
        kept = self._kept_counts()
        if sql not in kept:
            kept[sql] = await super().execute(sql, params, *args, **kwargs)
        return kept[sql]


def prepare_database(db_path: Path) -> None:
    """Create or migrate the database, then add the browse views (idempotent)."""
    db = store.open_db(db_path)
    browse.ensure_views(db)
    db.conn.close()


def build_datasette(db_path: Path, user: str | None = None, environ: Mapping[str, str] | None = None,
                    glossary_file: Path = GLOSSARY_FILE):
    pm.set_blocked(DATASETTE_FACETS)  # replaced by the bounded ones of plugins/tipwatch_facets.py
    datasette = Datasette(metadata=metadata(user, environ, glossary_file), plugins_dir=str(PLUGINS_DIR),
                          template_dir=str(TEMPLATES_DIR), settings=SETTINGS)
    datasette.add_database(CountKeepingDatabase(datasette, path=str(db_path.resolve()), is_mutable=True),
                           name=DATABASE)
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


def drop_login_plugin() -> None:
    """Without a login configured the plugin would still put "Log in" in the menu, leading to a
    form with no account; block it in this process (the one `tipwatch serve` runs in)."""
    pm.set_blocked(AUTH_ENTRY_POINT)


def serve(config: Config, host: str, port: int) -> None:
    """Serve the database until Ctrl-C or SIGTERM; refuse (ServeRefused) before binding anything
    when the host is not loopback and no login is configured, or when the database does not exist
    (browsing a new empty one is a mistyped --db)."""
    db_path = config.db
    user = login_user(config.environ)
    if access_mode(host, user is not None) == "refuse":
        raise ServeRefused(refusal(host))
    config.require_db()
    if user is None:
        drop_login_plugin()
    check_port_free(host, port)
    prepare_database(db_path)
    datasette = build_datasette(db_path, user, config.environ, config.seeds_dir / "glossary" / "vi-en.toml")
    asyncio.run(datasette.invoke_startup())
    login = f", login as {user} at /-/login" if user else ""
    print(f"Serving {db_path} read-only at http://{host}:{port}/{login} (Ctrl-C stops)", flush=True)
    uvicorn.run(datasette.app(), host=host, port=port, log_level="warning", lifespan="on")
