"""The channels' settings: defaults < the channels file (channels.toml) < the environment, and
the configured email and Slack channels built from them.

The caller gives both the file and the environment (the app floor's configuration): nothing
here knows where tipwatch keeps its files or reads os.environ. Secrets (TIPWATCH_SMTP_URL,
TIPWATCH_SLACK_WEBHOOK_URL) come from the environment only; a file holding one is refused.
"""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from alerts.channels.base import DEFAULT_TIMEOUT, Channel, ChannelConfigError, Secret
from alerts.channels.email import EmailChannel
from alerts.channels.slack import SlackChannel

CHANNEL_NAMES = ("email", "slack")


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
    _, addr = parseaddr(value)
    if not addr or "@" not in addr or any(ord(c) < 32 for c in value):
        raise ChannelConfigError(f"{where}: {value!r} is not an email address [{env_name}]")
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as e:
        raise ChannelConfigError(f"{where}: {value!r} is not an email address ({e}) [{env_name}]") from None


def load_settings(path: Path, env: Mapping[str, str]) -> dict[str, dict]:
    """The non-secret settings per channel: defaults < the file at `path` (when it exists) <
    `env`. Each channel's dict says `_in_file` when the file has its section."""
    path = Path(path)
    data = _read_file(path)
    _check_file(path, data)
    settings: dict[str, dict] = {}
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


def _read_file(path: Path) -> dict:
    if not path.exists():
        return {}  # no file: defaults and environment only
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ChannelConfigError(f"{path}: invalid TOML: {e}") from None


def _check_file(path: Path, data: dict) -> None:
    """Only known channels and settings, and no secret, in the file."""
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


def _missing_settings(name: str, settings: dict, env: Mapping[str, str]) -> list[str]:
    """What a channel lacks to send, each naming the variable that supplies it."""
    problems = []
    if not (env.get(_SECRETS[name]) or "").strip():
        what = ("an SMTP server URL like smtp://user:pass@host:587" if name == "email"
                else "the Slack Incoming Webhook URL")
        problems.append(f"{name}: {_SECRETS[name]} is not set ({what})")
    if name == "email" and not settings["to"]:
        problems.append("email: no recipients: set TIPWATCH_EMAIL_TO (comma-separated) "
                        "or `to` in [email] of channels.toml")
    return problems


def load_channels(path: Path, env: Mapping[str, str], names: list[str] | None = None, *,
                  dry_run: bool = False) -> dict[str, Channel]:
    """Configured channels by name, in the order asked (default: every channel with a section in
    the file).  Missing secrets are a ChannelConfigError unless `dry_run` (render only)."""
    settings = load_settings(path, env)
    if names is None:
        names = [n for n in CHANNEL_NAMES if settings[n]["_in_file"]]
    names = list(dict.fromkeys(n.strip().lower() for n in names if n and n.strip()))
    unknown = [n for n in names if n not in CHANNEL_NAMES]
    if unknown:
        raise ChannelConfigError(f"unknown channel {', '.join(map(repr, unknown))} (known: {', '.join(CHANNEL_NAMES)})")
    if not dry_run:
        problems = [p for name in names for p in _missing_settings(name, settings[name], env)]
        if problems:  # all of them at once: a daemon learns them at start, not one per failed morning
            raise ChannelConfigError("; ".join(problems) + "; secrets are read from the environment only "
                                     "(use --dry-run to render without sending)")
    return {name: _channel(name, settings[name], env) for name in names}


def _channel(name: str, s: dict, env: Mapping[str, str]) -> Channel:
    secret = (env.get(_SECRETS[name]) or "").strip() or None
    if name == "email":
        return EmailChannel(to=s["to"], sender=s["from"], subject_prefix=s["subject_prefix"],
                            send_empty=s["send_empty"], smtp_url=Secret(secret) if secret else None,
                            cafile=s["cafile"], timeout=s["timeout"])
    return SlackChannel(webhook_url=Secret(secret) if secret else None, channel=s["channel"],
                        send_empty=s["send_empty"], timeout=s["timeout"])
