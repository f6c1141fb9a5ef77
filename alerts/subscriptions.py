"""What goes out before the daily digest, and to whom: `[immediate]` and `[[subscription]]`
in the channels file, validated, and the pure decisions on one article.

    alerting = load_alerting(path)                 # Alerting(immediate=…, subscriptions=[…])
    qualifies(alerting.immediate, item)            # ["score 9.0 ≥ 8", "rule tip-core"] or []
    matches(subscription, item)                    # all of its filters hold

`item` is a flagged article as the store gives it: source, language, score, rules (rule →
points), subtopics, countries. Nothing here reads the database or the network.

Outbox targets: the `[immediate]` section sends on the digest's own channels ("email",
"slack"), so an article alerted there is delivered on that channel once and never again in
the digest; a subscription sends on "<name>:email" / "<name>:slack", its own rows.
"""
from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from alerts.channels import (
    CHANNEL_NAMES,
    Channel,
    ChannelConfigError,
    EmailChannel,
    Secret,
    SlackChannel,
    load_settings,
)
from alerts.channels.settings import _check_address, _looks_secret

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
MODES = ("immediate", "daily")

_IMMEDIATE_KEYS = {"min_score", "rules", "subtopics", "channels"}
_SUBSCRIPTION_KEYS = {"name", "mode", "countries", "subtopics", "sources", "languages", "min_score",
                      "channels", "email_to", "slack_webhook_env", "slack_channel"}


@dataclass(frozen=True)
class Immediate:
    """Any one of these makes a flagged article qualify; `channels` are where alerts go."""
    min_score: float | None = None
    rules: tuple[str, ...] = ()
    subtopics: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Subscription:
    """A team's view: every non-empty filter must hold (a list holds when any entry matches)."""
    name: str
    mode: str = "daily"
    countries: tuple[str, ...] = ()
    subtopics: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_score: float | None = None
    channels: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()
    slack_webhook_env: str | None = None   # the NAME of the variable holding the webhook URL
    slack_channel: str | None = None       # a label for display

    def target(self, channel: str) -> str:
        return f"{self.name}:{channel}"


@dataclass(frozen=True)
class Alerting:
    immediate: Immediate | None = None
    subscriptions: tuple[Subscription, ...] = field(default_factory=tuple)

    def daily(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.mode == "daily"]

    def alerting(self) -> list[Subscription]:
        return [s for s in self.subscriptions if s.mode == "immediate"]


# --------------------------------------------------------------------------- pure decisions

def _fold(value) -> str:
    return " ".join(str(value or "").split()).casefold()


def _any_in(wanted: tuple[str, ...], have) -> list[str]:
    have_folded = {_fold(h): h for h in have or []}
    return [have_folded[_fold(w)] for w in wanted if _fold(w) in have_folded]


def qualifies(rule: Immediate | None, item: dict) -> list[str]:
    """Why a flagged article qualifies for an immediate alert; [] when it does not."""
    if rule is None:
        return []
    reasons = []
    score = item.get("score")
    if rule.min_score is not None and score is not None and float(score) >= rule.min_score:
        reasons.append(f"score {float(score):.1f} ≥ {rule.min_score:g}")
    hit_rules = [name for name, points in (item.get("rules") or {}).items() if points and points > 0]
    reasons += [f"rule {name}" for name in _any_in(rule.rules, hit_rules)]
    reasons += [f"subtopic {name}" for name in _any_in(rule.subtopics, item.get("subtopics"))]
    return reasons


def matches(sub: Subscription, item: dict) -> bool:
    """Does this flagged article belong to the subscription? Every filter given must hold."""
    if sub.min_score is not None and float(item.get("score") or 0.0) < sub.min_score:
        return False
    checks = ((sub.countries, item.get("countries")), (sub.subtopics, item.get("subtopics")),
              (sub.sources, [item.get("source")]), (sub.languages, [item.get("language")]))
    return all(not wanted or _any_in(wanted, have) for wanted, have in checks)


def describe_match(sub: Subscription, item: dict) -> list[str]:
    """The reasons a matching article is in the subscription, for the alert's "why"."""
    reasons = [f"subscription {sub.name}"]
    if sub.min_score is not None:
        reasons.append(f"score {float(item.get('score') or 0.0):.1f} ≥ {sub.min_score:g}")
    for label, wanted, have in (("country", sub.countries, item.get("countries")),
                                ("subtopic", sub.subtopics, item.get("subtopics")),
                                ("source", sub.sources, [item.get("source")]),
                                ("language", sub.languages, [item.get("language")])):
        reasons += [f"{label} {value}" for value in _any_in(wanted, have)]
    return reasons


def filter_digest(digest: dict, sub: Subscription) -> dict:
    """The day's digest as the subscription sees it: only its articles, stories kept together
    (a story whose lead is not the team's is led by its first article that is)."""
    stories = []
    for story in digest["stories"]:
        mine = [i for i in (story["lead"], *story["related"]) if matches(sub, i)]
        if mine:
            stories.append(dict(story, lead=mine[0], related=mine[1:]))
    items = [i for i in digest["items"] if matches(sub, i)]
    return dict(digest, items=items, stories=stories, total=len(items), story_count=len(stories),
                per_source=dict(sorted(Counter(i["source"] for i in items).items())),
                languages=dict(sorted(Counter(i["language"] or "?" for i in items).items())),
                subscription=sub.name)


# --------------------------------------------------------------------------- loading

def load_alerting(path: Path) -> Alerting:
    """[immediate] and [[subscription]] of the channels file at `path` (the app floor finds it);
    an error names the entry and key. Without either (or without the file), Alerting() and
    nothing changes."""
    path = Path(path)
    if not path.exists():
        return Alerting()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ChannelConfigError(f"{path}: invalid TOML: {e}") from None
    immediate = _immediate(data["immediate"], path.name) if "immediate" in data else None
    raw = data.get("subscription", [])
    if not isinstance(raw, list) or not all(isinstance(s, dict) for s in raw):
        raise ChannelConfigError(f"{path.name}: subscriptions are [[subscription]] tables")
    subs = tuple(_subscription(entry, i, path.name) for i, entry in enumerate(raw, 1))
    seen = set()
    for sub in subs:
        if sub.name in seen:
            raise ChannelConfigError(f"subscription {sub.name!r}: name: used twice in {path.name}")
        seen.add(sub.name)
    return Alerting(immediate, subs)


def _immediate(section, file: str) -> Immediate:
    where = f"[immediate] in {file}"
    if not isinstance(section, dict):
        raise ChannelConfigError(f"{where} must be a table")
    _refuse_unknown_and_secrets(section, _IMMEDIATE_KEYS, where)
    rule = Immediate(min_score=_score(section, where), rules=_strings(section, "rules", where),
                     subtopics=_strings(section, "subtopics", where),
                     channels=_channels(section, where, required=True))
    if rule.min_score is None and not rule.rules and not rule.subtopics:
        raise ChannelConfigError(f"{where}: says nothing qualifies: set min_score, rules or subtopics")
    return rule


def _subscription(entry: dict, n: int, file: str) -> Subscription:
    name = entry.get("name")
    label = f"subscription {name!r}" if isinstance(name, str) else f"subscription #{n}"
    where = f"{label} in {file}"
    if not isinstance(name, str) or not NAME.match(name):
        raise ChannelConfigError(f"{where}: name: required, lowercase letters, digits, - or _ (at most 40)")
    _refuse_unknown_and_secrets(entry, _SUBSCRIPTION_KEYS, where)
    mode = entry.get("mode", "daily")
    if mode not in MODES:
        raise ChannelConfigError(f"{where}: mode: must be one of {', '.join(MODES)}, got {mode!r}")
    channels = _channels(entry, where, required=True)
    email_to = _strings(entry, "email_to", where)
    for address in email_to:
        _check_address(address, f"{where}: email_to", "email_to")
    if "email" in channels and not email_to:
        raise ChannelConfigError(f"{where}: email_to: required when channels include email")
    hook_env = entry.get("slack_webhook_env")
    if hook_env is not None and (not isinstance(hook_env, str) or not ENV_NAME.match(hook_env)):
        raise ChannelConfigError(f"{where}: slack_webhook_env: the NAME of an environment variable "
                                 f"(like TIPWATCH_SLACK_WEBHOOK_LEGAL), never the URL itself")
    if "slack" in channels and not hook_env:
        raise ChannelConfigError(f"{where}: slack_webhook_env: required when channels include slack")
    slack_channel = entry.get("slack_channel")
    if slack_channel is not None and (not isinstance(slack_channel, str) or not slack_channel.strip()):
        raise ChannelConfigError(f"{where}: slack_channel: must be a non-empty string")
    return Subscription(name=name, mode=mode, countries=_strings(entry, "countries", where),
                        subtopics=_strings(entry, "subtopics", where), sources=_strings(entry, "sources", where),
                        languages=_strings(entry, "languages", where), min_score=_score(entry, where),
                        channels=channels, email_to=email_to, slack_webhook_env=hook_env,
                        slack_channel=slack_channel)


def _refuse_unknown_and_secrets(table: dict, known: set[str], where: str) -> None:
    for key, value in table.items():
        if _looks_secret(value) or (key not in known and ("webhook" in key or "url" in key or "pass" in key)):
            raise ChannelConfigError(f"{where}: {key}: holds a secret; secrets are read from the environment only "
                                     f"(give slack_webhook_env the variable's NAME)")
        if key not in known:
            raise ChannelConfigError(f"{where}: {key}: unknown key (known: {', '.join(sorted(known))})")


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ChannelConfigError(f"{where}: {key}: must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _score(table: dict, where: str) -> float | None:
    value = table.get("min_score")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ChannelConfigError(f"{where}: min_score: must be a number ≥ 0, got {value!r}")
    return float(value)


def _channels(table: dict, where: str, required: bool) -> tuple[str, ...]:
    channels = _strings(table, "channels", where)
    unknown = [c for c in channels if c not in CHANNEL_NAMES]
    if unknown:
        raise ChannelConfigError(f"{where}: channels: unknown {', '.join(map(repr, unknown))} "
                                 f"(known: {', '.join(CHANNEL_NAMES)})")
    if required and not channels:
        raise ChannelConfigError(f"{where}: channels: required, e.g. [\"email\", \"slack\"]")
    return tuple(dict.fromkeys(channels))


def subscription_channels(sub: Subscription, path: Path, env: Mapping[str, str], *,
                          dry_run: bool = False) -> tuple[dict, list[str]]:
    """(target ("legal:email") → the channel that sends the subscription's messages, problems):
    its own recipients and webhook, the [email] section's sender and the shared SMTP server. A
    channel whose secret is missing is left out, with a problem naming the variable (never a value);
    with `dry_run` every channel is made, without secrets, to render only."""
    settings = load_settings(path, env)
    problems: list[str] = []
    channels: dict[str, Channel] = {}
    if "email" in sub.channels:
        smtp = (env.get("TIPWATCH_SMTP_URL") or "").strip()
        if not smtp and not dry_run:
            problems.append(f"{sub.target('email')}: TIPWATCH_SMTP_URL is not set")
        else:
            s = settings["email"]
            channels[sub.target("email")] = EmailChannel(
                to=list(sub.email_to), sender=s["from"], subject_prefix=s["subject_prefix"], send_empty=False,
                smtp_url=Secret(smtp) if smtp else None, cafile=s["cafile"], timeout=s["timeout"])
    if "slack" in sub.channels:
        hook = (env.get(sub.slack_webhook_env or "") or "").strip()
        if not hook and not dry_run:
            problems.append(f"{sub.target('slack')}: {sub.slack_webhook_env} is not set")
        else:
            channels[sub.target("slack")] = SlackChannel(
                webhook_url=Secret(hook) if hook else None, channel=sub.slack_channel or f"#{sub.name}",
                send_empty=False, timeout=settings["slack"]["timeout"])
    return channels, problems
