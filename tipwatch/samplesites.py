"""The bundled sample sites (tests/sites/ in the source; shipped in the package as
tipwatch/sample_sites/), served on 127.0.0.1 for the tests and the demo.

Each site gets its own HTTP server on a free loopback port, so every site has its own
origin (robots.txt, redirects and same-site checks behave as on the real web). The
layout of tests/sites/ is described in tests/sites/README.md.

    with SampleSites() as sites:
        write_sources(sites, "sources.toml")   # source entries pointing at the servers
        ...                                    # crawl them
        sites.request_log                      # {path: times requested}
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import socketserver
import threading
import time
import tomllib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from tipwatch.config import bundled
from tipwatch.sampledates import shift_text

SITES_DIR = bundled("sample_sites")
SOURCES_TEMPLATE = "sources.toml"
_PLACEHOLDER = re.compile(r"\{\{BASE:([A-Za-z0-9_-]+)\}\}")
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8", ".atom": "application/atom+xml; charset=utf-8",
    ".xml": "application/xml; charset=utf-8", ".txt": "text/plain; charset=utf-8",
    ".gz": "application/x-gzip", ".json": "application/json",
}
# cacheable index documents: they answer If-None-Match like a real CDN does
_INDEX_SUFFIXES = {".rss", ".atom", ".xml", ".gz"}
_NEVER_SERVED = {"routes.toml", "articles.json"}
_HUGE_CHUNK = b"<p>" + b"filler text of a runaway page " * 32 + b"</p>\n"


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server that never asks DNS for its own name.

    http.server's server_bind sets server_name from socket.getfqdn(host): a reverse lookup that,
    for an address not in /etc/hosts (127.0.0.2, often ::1), goes out to the network's resolver.
    Tests must send nothing off the machine, so bind as TCPServer does and name the server by
    its address. An IPv6 address ("::1") gets an IPv6 socket.
    """
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        assert isinstance(host, str)  # an AF_INET or AF_INET6 socket's name
        self.server_name = host


class ServedInThread:
    """A site whose `server` (a LoopbackHTTPServer) answers from a thread inside a `with` block."""

    server: LoopbackHTTPServer

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive, as a crawler meets news sites), and no line on stderr per request:
    the sites that use it count their requests themselves."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass


class CountingServedSite(ServedInThread):
    """Documents from memory on 127.0.0.1 (`documents`: path → (body, content type)), counting the
    requests for each path and the most answered at once: how a test or a benchmark sees that no
    page was fetched twice and that a site's limit held. `latency_s` holds each answer that long."""

    def __init__(self, latency_s: float = 0.0):
        self.server = _CountingServer(("127.0.0.1", 0), _CountingHandler)
        self.server.site = self  # the handler's way back to its site
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.documents: dict[str, tuple[bytes, str]] = {}
        self.latency_s = latency_s
        self.hits: Counter = Counter()
        self.in_flight = self.peak = 0
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()
            self.peak = 0

    def article_hits(self) -> Counter:
        return Counter({path: n for path, n in self.hits.items() if path.startswith("/news/")})


class _CountingServer(LoopbackHTTPServer):
    site: CountingServedSite


class _CountingHandler(QuietHandler):
    def do_GET(self):
        site = self.server.site
        path = self.path.split("?", 1)[0]
        with site.lock:
            site.hits[path] += 1
            site.in_flight += 1
            site.peak = max(site.peak, site.in_flight)
        try:
            if site.latency_s:
                time.sleep(site.latency_s)
            body, content_type = site.documents.get(path, (b"not found", "text/plain"))
            self.send_response(200 if path in site.documents else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with site.lock:
                site.in_flight -= 1


class SiteError(Exception):
    """A sample site's own files are wrong (bad routes.toml, unknown site name)."""


class Site:
    """One sample site: its directory, routes and the base URL it is served at."""

    def __init__(self, name: str, directory: Path, shift_days: int = 0):
        self.name = name
        self.directory = directory.resolve()
        self.routes = self._load_routes()
        self.base_url = ""
        self.shift_days = shift_days  # dates served moved by this many days (tipwatch/sampledates.py)

    def _load_routes(self) -> dict:
        path = self.directory / "routes.toml"
        if not path.exists():
            return {}
        try:
            routes = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SiteError(f"{path}: {exc}") from exc
        allowed = {"status", "redirect", "content_type", "delay", "huge_mb"}
        for route, options in routes.items():
            unknown = set(options) - allowed
            if not route.startswith("/") or unknown:
                raise SiteError(f"{path}: route {route!r}: must start with / and use only {sorted(allowed)}")
        return routes

    def file_for(self, path: str, query: str) -> Path | None:
        """The file serving *path*?*query*, or None (see tests/sites/README.md)."""
        relative = unquote(path).lstrip("/")
        candidate = (self.directory / relative).resolve()
        if not candidate.is_relative_to(self.directory):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        inside = candidate.relative_to(self.directory).parts
        if not inside or inside[0] == "expected" or candidate.name in _NEVER_SERVED:
            return None
        if query:
            with_query = candidate.with_name(f"{candidate.stem}@{query}{candidate.suffix}")
            if with_query.is_file():
                return with_query
        return candidate if candidate.is_file() else None

    def body_of(self, file: Path) -> bytes:
        body = file.read_bytes()
        if file.suffix == ".gz":
            return body
        body = body.replace(b"{{BASE}}", self.base_url.encode("ascii"))
        if self.shift_days:  # dates are ASCII: latin-1 keeps every other byte as it was, whatever the charset
            body = shift_text(body.decode("latin-1"), self.shift_days, self.name).encode("latin-1")
        return body

    def file_path(self, requested: str) -> str:
        """The path of the file behind a requested path (dated ids shifted back)."""
        return shift_text(requested, -self.shift_days, self.name) if self.shift_days else requested


class SampleSites:
    """Serves the sample sites named in the sources template (default: all of them)."""

    def __init__(self, root: Path = SITES_DIR, names: list[str] | None = None,
                 template: str = SOURCES_TEMPLATE, ports: dict[str, int] | None = None, shift_days: int = 0):
        self.root = Path(root)
        self.wanted_ports = dict(ports or {})  # site → port to use again if free (0: any)
        self.template = template
        names = names or template_site_names(self.root / template)
        missing = [n for n in names if not (self.root / n).is_dir()]
        if missing:
            raise SiteError(f"no sample site directory for {missing} in {self.root}")
        self.shift_days = shift_days
        self.sites = {name: Site(name, self.root / name, shift_days) for name in names}
        self.request_log: Counter = Counter()         # path → requests, all sites together
        self.requests_by_site: dict[str, Counter[str]] = {name: Counter() for name in names}
        self.conditional_hits: list[str] = []         # paths answered 304 (list.append is thread-safe)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._servers: list[LoopbackHTTPServer] = []

    def __enter__(self) -> SampleSites:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        for site in self.sites.values():
            server = self._server_for(site)
            site.base_url = f"http://127.0.0.1:{server.server_address[1]}"
            threading.Thread(target=server.serve_forever, name=f"site-{site.name}", daemon=True).start()
            self._servers.append(server)

    def _server_for(self, site: Site) -> LoopbackHTTPServer:
        port = self.wanted_ports.get(site.name, 0)
        try:
            return LoopbackHTTPServer(("127.0.0.1", port), _handler_for(self, site))
        except OSError:
            if not port:
                raise
            return LoopbackHTTPServer(("127.0.0.1", 0), _handler_for(self, site))  # taken: any port

    @property
    def ports(self) -> dict[str, int]:
        return {name: int(site.base_url.rsplit(":", 1)[1]) for name, site in self.sites.items()}

    def stop(self) -> None:
        self.stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()

    def base_url(self, name: str) -> str:
        return self.sites[name].base_url

    def record(self, site: Site, path: str) -> None:
        with self._lock:
            self.request_log[path] += 1
            self.requests_by_site[site.name][path] += 1


def _handler_for(sample: SampleSites, site: Site):
    class Handler(SiteRequestHandler):
        pass

    Handler.sample, Handler.site = sample, site
    return Handler


class SiteRequestHandler(BaseHTTPRequestHandler):
    sample: SampleSites
    site: Site
    protocol_version = "HTTP/1.1"
    server_version = "SampleSite/1.0"

    def log_message(self, format, *args):  # the tests read request_log, not stderr
        pass

    def do_HEAD(self):
        self.answer(send_body=False)

    def do_GET(self):
        self.answer(send_body=True)

    def answer(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        path = self.site.file_path(parts.path)
        self.sample.record(self.site, path)
        route = self.site.routes.get(path, {})
        if route.get("delay") and self.sample.stopping.wait(float(route["delay"])):
            return
        if "redirect" in route:
            return self.send_plain(301, "Moved", send_body, Location=self.site.base_url
                                  + shift_text(route["redirect"], self.site.shift_days, self.site.name))
        if "status" in route:
            return self.send_plain(int(route["status"]), "Internal error, try again later", send_body)
        if "huge_mb" in route:
            return self.send_huge(int(route["huge_mb"]), send_body)
        file = self.site.file_for(path, parts.query)
        if file is None:
            return self.send_plain(404, "Page not found", send_body)
        self.send_file(file, route.get("content_type"), send_body)

    def send_file(self, file: Path, content_type: str | None, send_body: bool) -> None:
        body = self.site.body_of(file)
        headers = {"Content-Type": content_type or _CONTENT_TYPES.get(file.suffix, "application/octet-stream")}
        if file.suffix in _INDEX_SUFFIXES:
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers["ETag"] = etag
            if self.headers.get("If-None-Match") == etag:
                self.sample.conditional_hits.append(urlsplit(self.path).path)
                return self.send_bytes(304, b"", False, **headers)
        self.send_bytes(200, body, send_body, **headers)

    def send_plain(self, status: int, message: str, send_body: bool, **headers) -> None:
        body = f"<html><head><title>{status}</title></head><body><h1>{status}</h1><p>{message}</p></body></html>"
        self.send_bytes(status, body.encode(), send_body, **{"Content-Type": "text/html; charset=utf-8", **headers})

    def send_bytes(self, status: int, body: bytes, send_body: bool, **headers) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def send_huge(self, megabytes: int, send_body: bool) -> None:
        """A runaway page, streamed: the crawler must give up on it, not buffer it all."""
        size = megabytes * 1024 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if not send_body:
            return
        sent = 0
        try:
            while sent < size and not self.sample.stopping.is_set():
                chunk = _HUGE_CHUNK[: size - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up, as it should


def template_site_names(template: Path) -> list[str]:
    """Site names in a sources template, in order of first mention."""
    names = _PLACEHOLDER.findall(template.read_text(encoding="utf-8"))
    return list(dict.fromkeys(names))


def write_loopback_sources(path, entries: list[dict], comment: str = "") -> Path:
    """A sources file for sites served on 127.0.0.1 (which it allows: allow_addresses), one
    [[source]] per entry of keys and values (strings, lists of strings, numbers). Strings are
    written JSON-quoted, which TOML reads alike (a regex's backslashes included)."""
    blocks = [f"# {comment}\n" if comment else "", 'allow_addresses = ["127.0.0.1"]\n']
    for entry in entries:
        blocks.append("\n[[source]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in entry.items()))
    path = Path(path)
    path.write_text("".join(blocks), encoding="utf-8")
    tomllib.loads(path.read_text(encoding="utf-8"))  # a value TOML would read otherwise fails here, not in the crawl
    return path


def write_sources(sample: SampleSites, path, template: str | None = None) -> Path:
    """Writes the sources template with every {{BASE:site}} pointing at its server."""
    text = (sample.root / (template or sample.template)).read_text(encoding="utf-8")

    def base(match: re.Match) -> str:
        if match[1] not in sample.sites:
            raise SiteError(f"{template or sample.template} names site {match[1]!r}, which is not served")
        return sample.base_url(match[1])

    path = Path(path)
    path.write_text(_PLACEHOLDER.sub(base, text), encoding="utf-8")
    return path


def manifest(root: Path = SITES_DIR) -> list[dict]:
    """Every sample site's article list (articles.json), sites in name order."""
    articles = []
    for path in sorted(Path(root).glob("*/articles.json")):
        articles += json.loads(path.read_text(encoding="utf-8"))
    return articles


def main() -> None:
    import sys
    import tempfile

    with SampleSites() as sites:
        for name in sites.sites:
            print(f"{name:<8} {sites.base_url(name)}")
        sources = write_sources(sites, Path(tempfile.mkdtemp(prefix="tipwatch-sites-")) / "sources.toml")
        print(f"sources: {sources}")
        print("crawl them:  tipwatch crawl --sources", sources, "--db /tmp/sample.db --since 2020-01-01")
        print("Ctrl-C stops.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
