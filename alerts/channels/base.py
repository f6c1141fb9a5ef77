"""What every channel shares: the Channel and Message types, the two errors, and secrets that
never show themselves.

A channel neither remembers nor retries anything: the caller (the outbox) decides what was
delivered from the messages that `deliver` returned from without raising. `messages` and
`preview` only render, so a dry run that calls nothing else sends and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

DEFAULT_TIMEOUT = 30.0


class ChannelConfigError(Exception):
    """A channel cannot be configured; the message names the setting and its env var."""


class DeliveryError(Exception):
    """A message was not accepted.  `retryable`: trying again later may work (4xx SMTP,
    connection errors, Slack 429/5xx); `retry_after`: seconds the server asked to wait;
    `status`: SMTP reply code or HTTP status when there was one."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def __repr__(self) -> str:
        return (f"DeliveryError({str(self)!r}, retryable={self.retryable}, "
                f"retry_after={self.retry_after}, status={self.status})")


class Secret:
    """A secret string that never shows itself: use .reveal() where it is actually needed."""

    __slots__ = ("_masked", "_value")

    def __init__(self, value: str, masked: str = "***"):
        self._value = value
        self._masked = masked

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._masked!r})"

    def __str__(self) -> str:
        return self._masked

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask_url(url: str) -> str:
    """smtp://user:pass@host:587 → smtp://user:***@host:587; any path/query → /***."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    user = ""
    if parts.username is not None:
        user = f"{unquote(parts.username)}:***@" if parts.password is not None else f"{unquote(parts.username)}@"
    path = "/***" if (parts.path not in ("", "/") or parts.query) else ""
    return f"{parts.scheme}://{user}{host}{port}{path}"


def _scrub(text: str, *secrets: str | None) -> str:
    """Remove every secret (and its URL-encoded form) from a message."""
    for secret in secrets:
        if not secret or len(secret) < 3:
            continue
        for form in {secret, unquote(secret)}:
            if form:
                text = text.replace(form, "***")
    return text


@dataclass
class Message:
    channel: str
    index: int                 # 0-based position in channel.messages(digest)
    article_ids: list[int]     # every article whose content this message carries
    payload: Any               # EmailMessage (email) / dict JSON body (slack) / {"path", "text"} (file)
    summary: str               # one line for logs, no secrets


class Channel:
    name = "channel"
    send_empty = False

    def messages(self, digest: dict) -> list[Message]:
        raise NotImplementedError

    def deliver(self, message: Message) -> None:
        raise NotImplementedError

    def preview(self, message: Message) -> str:
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        """True when deliver() can be called (the secret is configured)."""
        return False
