"""The Slack channel: the digest as Block Kit messages (at most 50 blocks each, built in
alerts/render.py) posted to an Incoming Webhook. The webhook URL is a secret
(TIPWATCH_SLACK_WEBHOOK_URL): it is kept in a `Secret`, and every error is scrubbed of it."""
from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.request
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from alerts import render
from alerts.channels.base import (
    DEFAULT_TIMEOUT,
    Channel,
    ChannelConfigError,
    DeliveryError,
    Message,
    Secret,
    _scrub,
    mask_url,
)

log = logging.getLogger(__name__)


class SlackChannel(Channel):
    name = "slack"

    def __init__(self, *, webhook_url: str | Secret | None = None, channel: str = "#tip-alerts",
                 send_empty: bool = False, timeout: float = DEFAULT_TIMEOUT):
        raw = webhook_url.reveal() if isinstance(webhook_url, Secret) else webhook_url
        self.webhook = Secret(raw, mask_url(raw)) if raw else None
        if raw:
            _check_webhook(raw)
        self.channel = channel
        self.send_empty = send_empty
        self.timeout = timeout

    def __repr__(self) -> str:
        hook = str(self.webhook) if self.webhook else None
        return (f"SlackChannel(channel={self.channel!r}, send_empty={self.send_empty}, webhook={hook!r}, "
                f"timeout={self.timeout})")

    @property
    def ready(self) -> bool:
        return self.webhook is not None

    def messages(self, digest: dict) -> list[Message]:
        if not digest.get("stories") and not digest.get("alerted") and not self.send_empty:
            return []
        pages = render.slack_messages(digest, channel_label=self.channel)
        n = len(pages)
        return [Message(self.name, i, page["article_ids"], page["payload"],
                        f"slack {self.channel} {i + 1}/{n}: {len(page['payload']['blocks'])} blocks, "
                        f"{page['stories']} stories, {len(page['article_ids'])} articles")
                for i, page in enumerate(pages)]

    def preview(self, message: Message) -> str:
        return (f"# {message.summary}; article ids {message.article_ids}\n"
                + json.dumps(message.payload, ensure_ascii=False, indent=2) + "\n")

    def _error(self, text: str, **kw) -> DeliveryError:
        secret = self.webhook.reveal() if self.webhook else None
        path = urlsplit(secret).path if secret else None
        return DeliveryError(_scrub(f"slack via {self.webhook}: {text}", secret, path), **kw)

    def deliver(self, message: Message) -> None:
        if self.webhook is None:
            raise ChannelConfigError("slack: TIPWATCH_SLACK_WEBHOOK_URL is not set (required to post to Slack)")
        body = json.dumps(message.payload, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.webhook.reveal(), data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8",
                                                  "User-Agent": "tipwatch"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
                text = response.read(2000).decode("utf-8", "replace").strip()
        except urllib.error.HTTPError as e:
            status = e.code
            text = e.read(2000).decode("utf-8", "replace").strip() if e.fp else ""
            if status == 429:
                raise self._error(f"rate limited (429 {text or 'too many requests'})", retryable=True,
                                  retry_after=_retry_after(e.headers.get("Retry-After")), status=429) from None
            retryable = status >= 500 or status == 408
            raise self._error(f"webhook answered {status} {text[:300]}", retryable=retryable,
                              retry_after=_retry_after(e.headers.get("Retry-After")) if retryable else None,
                              status=status) from None
        except (TimeoutError, urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, ssl.SSLCertVerificationError):
                raise self._error(f"TLS certificate verification failed: {reason}", retryable=False) from None
            raise self._error(f"cannot reach the webhook: {type(reason).__name__}: {reason}",
                              retryable=True) from None
        if not 200 <= status < 300:
            raise self._error(f"webhook answered {status} {text[:300]}", retryable=status >= 500, status=status)
        if text and text != "ok":
            log.warning("slack: webhook answered %s %r (treated as accepted)", status, text[:200])


def _retry_after(value) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:  # Retry-After may also be an HTTP date
        try:
            seconds = (parsedate_to_datetime(str(value)) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds)


def _check_webhook(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ChannelConfigError("slack: TIPWATCH_SLACK_WEBHOOK_URL is not a valid URL") from None
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not loopback):
        raise ChannelConfigError(f"slack: TIPWATCH_SLACK_WEBHOOK_URL must be an https:// URL "
                                 f"(got {mask_url(url)})")
