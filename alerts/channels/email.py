"""The email channel: the digest as one multipart message (plain text + HTML, Jinja2 templates
in alerts/templates), sent through an SMTP server (smtp:// with STARTTLS or a plain relay,
smtps:// with implicit TLS). The server URL is a secret (TIPWATCH_SMTP_URL): it is kept in a
`Secret`, and every error is scrubbed of its password."""
from __future__ import annotations

import hashlib
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import unquote, urlsplit

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

@dataclass(frozen=True)
class SmtpTarget:
    scheme: str          # "smtp" | "smtps"
    host: str
    port: int
    username: str | None
    password: Secret | None
    masked: str

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
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
        plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
        text = plain.get_content() if plain is not None else ""
        html = rich.get_content() if rich is not None else ""
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
        client: smtplib.SMTP
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
        except (TimeoutError, OSError) as e:  # refused, unreachable, DNS, timeouts, TLS errors
            raise self._error(f"cannot reach {t.host}:{t.port}: {type(e).__name__}: {e}", retryable=True) from None


def _decode(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
