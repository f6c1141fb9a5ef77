"""A programmable hostile web server for tests: each path misbehaves the way it is told.

    with HostileSite({"/ok.html": static(b"<html>..."), "/slow.html": drip(page, per_second=20),
                      "/hang.html": hang(), "/bomb.html": gzip_bomb(1024)}) as site:
        site.url("/ok.html")          # http://127.0.0.1:PORT/ok.html
        site.hits["/ok.html"]         # requests per path
        site.requests                 # [(method, path, headers), ...] in arrival order

Behaviours are functions of the request handler (see the factories below). The server is
HTTP/1.1 on loopback only (127.0.0.1 by default; `HostileSite(routes, host="127.0.0.2")` or
"::1" where `ipv6_loopback()` says it exists) and binds without any DNS look-up
(tipwatch.samplesites.LoopbackHTTPServer). stop() sets an Event that every waiting, dripping
or streaming handler watches, so a hung connection never outlives its test.
"""
from __future__ import annotations

import functools
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler

from tipwatch.samplesites import LoopbackHTTPServer

Behaviour = Callable[["HostileHandler"], None]
HTML = "text/html; charset=utf-8"
MEGABYTE = 1 << 20
_ZEROS = bytes(MEGABYTE)
_FILLER = b"<p>" + b"filler text of a runaway page " * 32 + b"</p>\n"


def ipv6_loopback() -> bool:
    """Python has IPv6 and the machine lets us bind ::1."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


class HostileSite:
    """The server, its routes, its request log and the Event that releases every handler."""

    def __init__(self, routes: dict[str, Behaviour], host: str = "127.0.0.1"):
        self.routes = dict(routes)
        self.stopping = threading.Event()
        self.hits: Counter = Counter()
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        self.server = LoopbackHTTPServer((host, 0), _handler_for(self))
        self._thread = threading.Thread(target=self.server.serve_forever, name="hostile-site", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self, method: str, path: str, headers: dict) -> None:
        with self._lock:
            self.hits[path] += 1
            self.requests.append((method, path, headers))

    def start(self) -> HostileSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # first: handlers waiting on it return and close their sockets
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _handler_for(site: HostileSite):
    class Handler(HostileHandler):
        pass

    Handler.site = site
    return Handler


class HostileHandler(BaseHTTPRequestHandler):
    site: HostileSite
    protocol_version = "HTTP/1.1"
    server_version = "HostileSite/1.0"

    def log_message(self, format, *args):  # the tests read site.hits, not stderr
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        self.site.log("GET", path, dict(self.headers))
        behaviour = self.site.routes.get(path, static(b"<h1>Not found</h1>", status=404))
        try:
            behaviour(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as a crawler should

    def wait(self, seconds: float) -> bool:
        """Sleep unless the site stops first; True when it is stopping (the connection then
        closes rather than waiting for another request)."""
        stopping = self.site.stopping.wait(seconds)
        self.close_connection = self.close_connection or stopping
        return stopping

    def head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


# ---------------------------------------------------------------- behaviours

def static(body: bytes, status: int = 200, content_type: str = HTML, headers: dict | None = None,
           delay: float = 0) -> Behaviour:
    """A plain answer, after `delay` seconds."""
    def answer(handler: HostileHandler) -> None:
        if delay and handler.wait(delay):
            return
        handler.head(status, {"Content-Type": content_type, "Content-Length": str(len(body)), **(headers or {})})
        handler.wfile.write(body)
    return answer


def redirect(location: str, status: int = 301) -> Behaviour:
    return static(b"", status=status, headers={"Location": location})


def drip(body: bytes, per_second: int, content_type: str = HTML) -> Behaviour:
    """Honest headers, then the body a few bytes at a time: each read succeeds, the page never ends in time."""
    def answer(handler: HostileHandler) -> None:
        handler.head(200, {"Content-Type": content_type, "Content-Length": str(len(body))})
        for start in range(0, len(body), per_second):
            handler.wfile.write(body[start:start + per_second])
            handler.wfile.flush()
            if handler.wait(1.0):
                return
    return answer


def hang(after_headers: bool = False) -> Behaviour:
    """Read the request and say nothing more (or only the headers) until the site stops."""
    def answer(handler: HostileHandler) -> None:
        if after_headers:
            handler.head(200, {"Content-Type": HTML, "Content-Length": "100000"})
            handler.wfile.flush()
        handler.wait(3600)
    return answer


def wrong_length(body: bytes, declared: int, content_type: str = HTML) -> Behaviour:
    """Content-Length says `declared`, `body` is sent whatever its size, then the connection closes."""
    def answer(handler: HostileHandler) -> None:
        handler.head(200, {"Content-Type": content_type, "Content-Length": str(declared)})
        handler.wfile.write(body)
        handler.close_connection = True
    return answer


def truncated_chunked(body: bytes, chunk_size: int = 512, content_type: str = HTML) -> Behaviour:
    """Chunked transfer that stops halfway, without the closing zero-length chunk."""
    def answer(handler: HostileHandler) -> None:
        handler.head(200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        for start in range(0, len(body) // 2, chunk_size):
            handler.send_chunk(body[start:start + chunk_size])
        handler.wfile.flush()
        handler.close_connection = True
    return answer


def reset() -> Behaviour:
    """Answer the request with a TCP RST: SO_LINGER 0, then close."""
    def answer(handler: HostileHandler) -> None:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True
    return answer


def stream(chunks: Callable[[], Iterable[bytes]], headers: dict[str, str]) -> Behaviour:
    """A chunked body from a generator of byte strings, stopped early if the client hangs up or
    the site stops: nothing bigger than one chunk is ever held."""
    def answer(handler: HostileHandler) -> None:
        handler.head(200, {"Transfer-Encoding": "chunked", **headers})
        for data in chunks():
            if handler.site.stopping.is_set():
                handler.close_connection = True
                return
            handler.send_chunk(data)
        handler.wfile.write(b"0\r\n\r\n")
    return answer


def huge(megabytes: int, content_type: str = HTML) -> Behaviour:
    """A runaway HTML page of unannounced size (chunked, no Content-Length), in 64 KB chunks."""
    chunk = _FILLER * (64 * 1024 // len(_FILLER))
    def chunks():
        yield b"<html><body>"
        for _ in range(megabytes * MEGABYTE // len(chunk) + 1):
            yield chunk
    return stream(chunks, {"Content-Type": content_type})


def gzip_bomb(megabytes: int, layers: int = 1, content_type: str = HTML) -> Behaviour:
    """`megabytes` MB of zeros, gzip-compressed `layers` times (Content-Encoding: gzip, gzip, ...)."""
    def chunks():
        body = gzip_zeros(megabytes)
        for _ in range(layers - 1):
            body = gzip_stream(body)
        yield from body
    encoding = ", ".join(["gzip"] * layers)
    _zeros_crc32(megabytes)  # now, not while a client waits for the end of the body
    return stream(chunks, {"Content-Type": content_type, "Content-Encoding": encoding})


# ---------------------------------------------------------------- gzip, in bounded time and memory

def gzip_zeros(megabytes: int):
    """A valid gzip stream of `megabytes` MB of zeros, ~1 KB per MB, made in milliseconds.

    After a full flush deflate forgets its history, so every further megabyte of zeros compresses
    to the same bytes: compress two, repeat the second, and write the trailer (CRC32, size) ourselves.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    batches, rest = divmod(megabytes - 1, 64)
    for _ in range(batches):
        yield repeated * 64  # ~64 KB a write
    if rest:
        yield repeated * rest
    end_block = compressor.flush(zlib.Z_FINISH)[:-8]  # its own trailer counts the 2 MB it saw
    yield end_block + struct.pack("<II", _zeros_crc32(megabytes), (megabytes * MEGABYTE) & 0xFFFFFFFF)


@functools.cache
def _zeros_crc32(megabytes: int) -> int:
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(_ZEROS, crc)
    return crc


def gzip_stream(chunks):
    """Gzip a stream of byte strings, chunk by chunk."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    for data in chunks:
        out = compressor.compress(data)
        if out:
            yield out
    yield compressor.flush()


def wait_for(condition: Callable[[], object], seconds: float, step: float = 0.05):
    """Poll `condition` until it is truthy (returned) or `seconds` pass (AssertionError)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not within {seconds} s: {condition}")
