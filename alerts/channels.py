"""Delivery channels for the digest: email (SMTP) and Slack (Incoming Webhook).

    channels = load_channels(names=["email", "slack"])           # seeds/channels.toml + environment
    for name, channel in channels.items():
        for message in channel.messages(digest):                    # rendered, in order
            channel.deliver(message)                                # raises DeliveryError

A channel neither remembers nor retries anything: the caller (the outbox) decides what was
delivered from the messages that `deliver` returned from without raising.

Secrets (TIPWATCH_SMTP_URL, TIPWATCH_SLACK_WEBHOOK_URL) come from the environment only and
are kept in `Secret` objects: repr()/str() of channels, configs and errors never show them.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import smtplib
import socket
import ssl
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote, urlsplit

from alerts import render

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
CHANNEL_NAMES = ("email", "slack")


def default_path() -> Path:
    from tipwatch.config import REPO_ROOT
    return REPO_ROOT / "seeds" / "channels.toml"


# --------------------------------------------------------------------------- errors, secrets

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

    __slots__ = ("_value", "_masked")

    def __init__(self, value: str, masked: str = "***"):
        self._value = value
        self._masked = masked

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self._masked!r})"

    __str__ = lambda self: self._masked  # noqa: E731

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


# --------------------------------------------------------------------------- messages

@dataclass
class Message:
    channel: str
    index: int                 # 0-based position in channel.messages(digest)
    article_ids: list[int]     # every article whose content this message carries
    payload: object            # EmailMessage (email) / dict JSON body (slack)
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


# --------------------------------------------------------------------------- email

@dataclass(frozen=True)
class SmtpTarget:
    scheme: str          # "smtp" | "smtps"
    host: str
    port: int
    username: str | None
    password: Secret | None
    masked: str

    @classmethod
    def parse(cls, url: str) -> "SmtpTarget":
        masked = mask_url(url)
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ChannelConfigError(f"email: TIPWATCH_SMTP_URL is not a valid URL ({masked})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps"):
            raise ChannelConfigError(
                f"email: TIPWATCH_SMTP_URL must start with smtp:// (STARTTLS or plain relay) or smtps:// "
                f"(implicit TLS), got {masked}")
        if not parts.hostname:
            raise ChannelConfigError(f"email: TIPWATCH_SMTP_URL has no host ({masked})")
        username = unquote(parts.username) if parts.username else None
        password = Secret(unquote(parts.password)) if parts.password is not None else None
        if password is not None and not username:
            raise ChannelConfigError(f"email: TIPWATCH_SMTP_URL has a password but no user name ({masked})")
        if port is None:
            port = 465 if scheme == "smtps" else (587 if username else 25)
        return cls(scheme, parts.hostname, port, username, password, masked)

    def __repr__(self) -> str:
        return f"SmtpTarget({self.masked})"


class EmailChannel(Channel):
    name = "email"

    def __init__(self, *, to: list[str], sender: str = "tipwatch@localhost",
                 subject_prefix: str = "[tipwatch]", send_empty: bool = True,
                 smtp_url: str | Secret | None = None, cafile: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, ssl_context: ssl.SSLContext | None = None):
        self.to = list(to)
        self.sender = sender
        self.subject_prefix = subject_prefix
        self.send_empty = send_empty
        raw = smtp_url.reveal() if isinstance(smtp_url, Secret) else smtp_url
        self.target = SmtpTarget.parse(raw) if raw else None
        self.cafile = cafile
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        smtp = self.target.masked if self.target else None
        return (f"EmailChannel(to={self.to!r}, sender={self.sender!r}, subject_prefix={self.subject_prefix!r}, "
                f"send_empty={self.send_empty}, smtp={smtp!r}, cafile={self.cafile!r}, timeout={self.timeout})")

    @property
    def ready(self) -> bool:
        return self.target is not None and bool(self.to)

    # -- rendering

    def build(self, digest: dict) -> EmailMessage:
        view = render.prepare(digest)
        msg = EmailMessage()
        msg["Subject"] = render.email_subject(view, self.subject_prefix)
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.to) if self.to else "undisclosed-recipients:;"
        msg["Date"] = formatdate(localtime=True)
        ids = render.digest_ids(digest)
        # Deterministic: the same digest to the same people has the same Message-ID, so a resend
        # after an ambiguous failure can be recognised as a duplicate by mail systems.
        fingerprint = hashlib.sha256(json.dumps([view["period"], ids, self.to]).encode()).hexdigest()[:16]
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
        msg["Message-ID"] = f"<tipwatch.{view['day']}.{fingerprint}@{domain}>"
        msg["X-Tipwatch-Digest"] = view["period"]
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(render.render_email_text(digest), subtype="plain", charset="utf-8", cte="quoted-printable")
        msg.add_alternative(render.render_email_html(digest), subtype="html", charset="utf-8",
                            cte="quoted-printable")
        return msg

    def messages(self, digest: dict) -> list[Message]:
        ids = render.digest_ids(digest)
        if not digest.get("stories") and not digest.get("alerted") and not self.send_empty:
            return []
        msg = self.build(digest)
        recipients = ", ".join(self.to) or "(no recipients)"
        return [Message(self.name, 0, ids, msg,
                        f"email to {recipients}: {msg['Subject']} ({len(ids)} articles)")]

    def preview(self, message: Message) -> str:
        msg: EmailMessage = message.payload
        head = "\n".join(f"{k}: {msg[k]}" for k in ("From", "To", "Subject", "Date", "Message-ID"))
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        return (f"{head}\n\n{text}\n"
                f"[text/html alternative: {len(html)} characters; `tipwatch digest --dry-run --html FILE` "
                f"writes it to a file to view]\n")

    # -- sending

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=self.cafile)
        return self._ssl_context

    def _error(self, text: str, *, retryable: bool, status: int | None = None) -> DeliveryError:
        secrets = [self.target.password.reveal() if self.target and self.target.password else None]
        return DeliveryError(_scrub(f"email via {self.target.masked if self.target else '?'}: {text}", *secrets),
                             retryable=retryable, status=status)

    def deliver(self, message: Message) -> None:
        if self.target is None:
            raise ChannelConfigError("email: TIPWATCH_SMTP_URL is not set (required to send email)")
        if not self.to:
            raise ChannelConfigError("email: no recipients: set TIPWATCH_EMAIL_TO or `to` in [email]")
        t = self.target
        msg: EmailMessage = message.payload
        try:
            if t.scheme == "smtps":
                client = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout, context=self.ssl_context())
            else:
                client = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
            try:
                client.ehlo()
                if t.scheme == "smtp":
                    if client.has_extn("starttls"):
                        client.starttls(context=self.ssl_context())
                        client.ehlo()
                    elif t.username:
                        raise self._error("the server does not offer STARTTLS; refusing to send credentials "
                                          "unencrypted (use smtps:// or a server with STARTTLS)", retryable=False)
                if t.username:
                    client.login(t.username, t.password.reveal() if t.password else "")
                refused = client.send_message(msg, from_addr=parseaddr(self.sender)[1] or self.sender,
                                              to_addrs=self.to)
                if refused:  # accepted for some recipients: delivered; resending would duplicate
                    log.warning("email: %d recipient(s) refused: %s", len(refused),
                                ", ".join(f"{r} ({c[0]})" for r, c in refused.items()))
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as e:
            codes = [c for c, _ in e.recipients.values()]
            retryable = all(400 <= c < 500 for c in codes)
            detail = "; ".join(f"{r}: {c} {_decode(m)}" for r, (c, m) in e.recipients.items())
            raise self._error(f"all recipients refused ({detail})", retryable=retryable,
                              status=codes[0] if codes else None) from None
        except smtplib.SMTPAuthenticationError as e:
            raise self._error(f"authentication failed as {t.username!r}: {e.smtp_code} {_decode(e.smtp_error)}",
                              retryable=400 <= e.smtp_code < 500, status=e.smtp_code) from None
        except smtplib.SMTPResponseException as e:  # SenderRefused, DataError, ConnectError, HELO…
            code = e.smtp_code
            retryable = not (500 <= code < 600)  # 4xx (and nonsense codes like -1) may pass later
            raise self._error(f"server replied {code} {_decode(e.smtp_error)}", retryable=retryable,
                              status=code if code > 0 else None) from None
        except smtplib.SMTPNotSupportedError as e:
            raise self._error(f"not supported by the server: {e}", retryable=False) from None
        except ssl.SSLCertVerificationError as e:
            raise self._error(f"TLS certificate verification failed: {e.verify_message or e} "
                              f"(set TIPWATCH_SMTP_CAFILE for a private CA)", retryable=False) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPException) as e:
            raise self._error(f"{type(e).__name__}: {e}", retryable=True) from None
        except (OSError, socket.timeout) as e:  # refused, unreachable, DNS, timeouts, TLS errors
            raise self._error(f"cannot reach {t.host}:{t.port}: {type(e).__name__}: {e}", retryable=True) from None


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------- Slack

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
        except (urllib.error.URLError, OSError, socket.timeout) as e:
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
    except ValueError:
        from email.utils import parsedate_to_datetime
        try:
            from datetime import datetime, timezone
            seconds = (parsedate_to_datetime(str(value)) - datetime.now(timezone.utc)).total_seconds()
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


# --------------------------------------------------------------------------- configuration

# key in the file → (env var, kind)
_SETTINGS = {
    "email": {"to": ("TIPWATCH_EMAIL_TO", "list"), "from": ("TIPWATCH_EMAIL_FROM", "address"),
              "subject_prefix": ("TIPWATCH_EMAIL_SUBJECT_PREFIX", "line"),
              "send_empty": ("TIPWATCH_EMAIL_SEND_EMPTY", "bool"),
              "cafile": ("TIPWATCH_SMTP_CAFILE", "path"), "timeout": ("TIPWATCH_SMTP_TIMEOUT", "float")},
    "slack": {"channel": ("TIPWATCH_SLACK_CHANNEL", "line"), "send_empty": ("TIPWATCH_SLACK_SEND_EMPTY", "bool"),
              "timeout": ("TIPWATCH_SLACK_TIMEOUT", "float")},
}
_SECRETS = {"email": "TIPWATCH_SMTP_URL", "slack": "TIPWATCH_SLACK_WEBHOOK_URL"}
ALERTING_SECTIONS = ("immediate", "subscription")
_SECRET_KEYS = {"smtp_url", "url", "smtp", "password", "pass", "webhook", "webhook_url", "token", "secret"}
_DEFAULTS = {"email": {"to": [], "from": "tipwatch@localhost", "subject_prefix": "[tipwatch]", "send_empty": True,
                       "cafile": None, "timeout": DEFAULT_TIMEOUT},
             "slack": {"channel": "#tip-alerts", "send_empty": False, "timeout": DEFAULT_TIMEOUT}}


def _looks_secret(value) -> bool:
    if isinstance(value, str):
        v = value.lower()
        if "hooks.slack.com" in v or v.startswith(("smtp://", "smtps://")):
            return True
        try:
            return urlsplit(value).password is not None
        except ValueError:
            return False
    if isinstance(value, list):
        return any(_looks_secret(v) for v in value)
    return False


def _convert(channel: str, key: str, value, origin: str):
    env_name, kind = _SETTINGS[channel][key]
    where = f"{channel}: {origin}"
    if kind == "list":
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ChannelConfigError(f"{where} must be a list of addresses [{env_name}]")
        items = [v for v in items if v]
        for v in items:
            _check_address(v, where, env_name)
        return items
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ChannelConfigError(f"{where} must be true or false, got {value!r} [{env_name}]")
    if kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ChannelConfigError(f"{where} must be a number of seconds, got {value!r} [{env_name}]") from None
        if not number > 0:
            raise ChannelConfigError(f"{where} must be positive [{env_name}]")
        return number
    if not isinstance(value, str):
        raise ChannelConfigError(f"{where} must be a string [{env_name}]")
    if any(ord(c) < 32 for c in value):
        raise ChannelConfigError(f"{where} must be a single line [{env_name}]")
    if kind == "address":
        _check_address(value, where, env_name)
    if kind == "path" and not Path(value).is_file():
        raise ChannelConfigError(f"{where}: no such file {value!r} [{env_name}]")
    return value.strip()


def _check_address(value: str, where: str, env_name: str) -> None:
    name, addr = parseaddr(value)
    if not addr or "@" not in addr or any(ord(c) < 32 for c in value):
        raise ChannelConfigError(f"{where}: {value!r} is not an email address [{env_name}]")
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as e:
        raise ChannelConfigError(f"{where}: {value!r} is not an email address ({e}) [{env_name}]") from None


def load_settings(path: Path | None = None, env: Mapping[str, str] = os.environ) -> dict[str, dict]:
    """The non-secret settings per channel: defaults < channels.toml < environment."""
    path = Path(path) if path is not None else default_path()
    data: dict = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ChannelConfigError(f"{path}: invalid TOML: {e}") from None
    settings: dict[str, dict] = {}
    for section, values in data.items():
        if section in ALERTING_SECTIONS:
            continue  # what is sent before the digest, and to whom: alerts/subscriptions.py reads them
        if section not in _SETTINGS:
            raise ChannelConfigError(f"{path}: unknown channel [{section}] (known: {', '.join(CHANNEL_NAMES)})")
        if not isinstance(values, dict):
            raise ChannelConfigError(f"{path}: [{section}] must be a table")
        for key, value in values.items():
            if key.lower() in _SECRET_KEYS or _looks_secret(value):
                raise ChannelConfigError(
                    f"{section}: {path.name} contains a secret ({key!r}); secrets are read from the environment "
                    f"only: remove it from the file and set {_SECRETS[section]}")
            if key not in _SETTINGS[section]:
                raise ChannelConfigError(f"{section}: unknown setting {key!r} in {path.name} "
                                         f"(known: {', '.join(_SETTINGS[section])})")
    for channel, keys in _SETTINGS.items():
        merged = dict(_DEFAULTS[channel])
        section = data.get(channel, {})
        for key, (env_name, _) in keys.items():
            if key in section:
                merged[key] = _convert(channel, key, section[key], f"{key} in {path.name}")
            value = env.get(env_name)
            if value is not None and value.strip() != "":
                merged[key] = _convert(channel, key, value, env_name)
        merged["_in_file"] = channel in data
        settings[channel] = merged
    return settings


def _missing_settings(name: str, settings: dict, env: Mapping[str, str]) -> list[str]:
    """What a channel lacks to send, each naming the variable that supplies it."""
    problems = []
    if not (env.get(_SECRETS[name]) or "").strip():
        what = "an SMTP server URL like smtp://user:pass@host:587" if name == "email" else "the Slack Incoming Webhook URL"
        problems.append(f"{name}: {_SECRETS[name]} is not set ({what})")
    if name == "email" and not settings["to"]:
        problems.append("email: no recipients: set TIPWATCH_EMAIL_TO (comma-separated) or `to` in [email] of channels.toml")
    return problems


def load_channels(path: Path | None = None, env: Mapping[str, str] = os.environ,
                  names: list[str] | None = None, *, dry_run: bool = False) -> dict[str, Channel]:
    """Configured channels by name, in the order asked (default: every channel with a section in
    channels.toml).  Missing secrets are a ChannelConfigError unless `dry_run` (render only)."""
    settings = load_settings(path, env)
    if names is None:
        names = [n for n in CHANNEL_NAMES if settings[n]["_in_file"]]
    names = [n.strip().lower() for n in names if n and n.strip()]
    unknown = [n for n in names if n not in CHANNEL_NAMES]
    if unknown:
        raise ChannelConfigError(f"unknown channel {', '.join(map(repr, unknown))} (known: {', '.join(CHANNEL_NAMES)})")
    names = list(dict.fromkeys(names))
    if not dry_run:
        problems = [p for name in names for p in _missing_settings(name, settings[name], env)]
        if problems:  # all of them at once: a daemon learns them at start, not one per failed morning
            raise ChannelConfigError("; ".join(problems) + "; secrets are read from the environment only "
                                     "(use --dry-run to render without sending)")
    channels: dict[str, Channel] = {}
    for name in names:
        s = settings[name]
        secret = (env.get(_SECRETS[name]) or "").strip() or None
        if name == "email":
            channels[name] = EmailChannel(to=s["to"], sender=s["from"], subject_prefix=s["subject_prefix"],
                                          send_empty=s["send_empty"], smtp_url=Secret(secret) if secret else None,
                                          cafile=s["cafile"], timeout=s["timeout"])
        else:
            channels[name] = SlackChannel(webhook_url=Secret(secret) if secret else None, channel=s["channel"],
                                          send_empty=s["send_empty"], timeout=s["timeout"])
    return channels
