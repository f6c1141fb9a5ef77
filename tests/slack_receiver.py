"""A local stand-in for a Slack Incoming Webhook, strict about what Slack would reject.

    with SlackReceiver() as slack:
        slack.url                       # http://127.0.0.1:PORT/services/T000/B000/XXXX
        slack.fail(429, times=1, retry_after=7)   # script the next answers
        ...
        slack.accepted                  # JSON bodies answered 200 "ok", in order
        slack.requests                  # (status, body) of every request

Validation (answer 400 "invalid_blocks" / "invalid_payload"/ "no_text" like Slack):
JSON object; `blocks` a list of 1..50 blocks; known block types; header plain_text ≤ 150;
section text ≤ 3000 (or fields ≤ 10 × 2000); context 1..10 elements; text objects well-formed
(type plain_text|mrkdwn, non-empty string, `emoji` only on plain_text, `verbatim` only on mrkdwn).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

from tipwatch.samplesites import LoopbackHTTPServer

MAX_BLOCKS = 50
BLOCK_TYPES = {"header", "section", "divider", "context", "actions", "image", "rich_text", "markdown"}
WEBHOOK_PATH = "/services/T0000TEST/B0000TEST/s3cretWebhookToken"


class Invalid(Exception):
    pass


def check_text(obj, limit: int, where: str, plain_only: bool = False) -> None:
    if not isinstance(obj, dict):
        raise Invalid(f"{where}: text object must be an object")
    kind = obj.get("type")
    if kind not in ("plain_text",) + (() if plain_only else ("mrkdwn",)):
        raise Invalid(f"{where}: bad text type {kind!r}")
    allowed = {"type", "text"} | ({"emoji"} if kind == "plain_text" else {"verbatim"})
    extra = set(obj) - allowed
    if extra:
        raise Invalid(f"{where}: unexpected keys {sorted(extra)}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        raise Invalid(f"{where}: text must be a non-empty string")
    if len(text) > limit:
        raise Invalid(f"{where}: text longer than {limit} ({len(text)})")


def validate(payload) -> None:
    if not isinstance(payload, dict):
        raise Invalid("invalid_payload")
    if "text" in payload and (not isinstance(payload["text"], str) or len(payload["text"]) > 40000):
        raise Invalid("invalid text")
    blocks = payload.get("blocks")
    if blocks is None:
        if not payload.get("text"):
            raise Invalid("no_text")
        return
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= MAX_BLOCKS:
        got = len(blocks) if isinstance(blocks, list) else repr(blocks)
        raise Invalid(f"blocks must be a list of 1..{MAX_BLOCKS} (got {got})")
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            raise Invalid(f"{where}: invalid block type")
        if len(str(block.get("block_id", ""))) > 255:
            raise Invalid(f"{where}: block_id too long")
        kind = block["type"]
        if kind == "header":
            check_text(block.get("text"), 150, where, plain_only=True)
        elif kind == "section":
            if "text" in block:
                check_text(block["text"], 3000, where)
            elif "fields" in block:
                fields = block["fields"]
                if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
                    raise Invalid(f"{where}: 1..10 fields")
                for f in fields:
                    check_text(f, 2000, where)
            else:
                raise Invalid(f"{where}: section needs text or fields")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                raise Invalid(f"{where}: context needs 1..10 elements")
            for e in elements:
                check_text(e, 3000, where)
        elif kind == "divider":
            if set(block) - {"type", "block_id"}:
                raise Invalid(f"{where}: divider takes no fields")


class SlackReceiver:
    def __init__(self, path: str = WEBHOOK_PATH):
        self.path = path
        self.accepted: list[dict] = []
        self.requests: list[tuple[int, bytes]] = []
        self.errors: list[str] = []
        self._script: list[tuple[int, dict, str]] = []
        self._lock = threading.Lock()
        self._holds = 0                      # requests to leave unanswered (see hold_next)
        self.holding = threading.Event()     # set while a request is being held
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if receiver._take_hold():
                    receiver.holding.set()
                    receiver._release.wait(60)
                    return  # never answered: to the sender, the message was not accepted
                status, headers, text = receiver._answer(self.path, self.headers, body)
                data = text.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = LoopbackHTTPServer(("127.0.0.1", 0), Handler)  # binds without a DNS look-up
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def fail(self, status: int, times: int = 1, retry_after: float | None = None, body: str | None = None):
        """The next `times` valid-or-not requests are answered `status` (429: with Retry-After)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        text = body or {429: "rate_limited", 500: "internal_error", 404: "no_service"}.get(status, "error")
        with self._lock:
            self._script.extend([(status, headers, text)] * times)

    def hold_next(self, times: int = 1) -> None:
        """Leave the next `times` requests unanswered until release() (to kill a sender mid-send)."""
        with self._lock:
            self._holds += times
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def _take_hold(self) -> bool:
        with self._lock:
            if self._holds:
                self._holds -= 1
                return True
            return False

    def _answer(self, path, headers, body):
        with self._lock:
            if path != self.path:
                result = (404, {}, "no_service")
            elif self._script:
                result = self._script.pop(0)
            elif "application/json" not in (headers.get("Content-Type") or ""):
                result = (400, {}, "invalid_payload")
            else:
                try:
                    payload = json.loads(body.decode("utf-8"))
                    validate(payload)
                except (ValueError, UnicodeDecodeError):
                    result = (400, {}, "invalid_payload")
                except Invalid as e:
                    self.errors.append(str(e))
                    result = (400, {}, "invalid_blocks")
                else:
                    self.accepted.append(payload)
                    result = (200, {}, "ok")
            self.requests.append((result[0], body))
            return result

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.server.shutdown()
        self.server.server_close()
