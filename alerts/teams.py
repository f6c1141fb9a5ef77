"""One digest per team: each daily `[[subscription]]` gets the day's digest filtered to its
articles, written to `<digests>/<name>/DAY.md` and delivered on its own targets
("legal:email", "legal:slack"), exactly once per subscription and channel, through the outbox.

The team digest is cut from the day's digest (alerts/digest.py), so an article is in one day's
digest only, for every team as for the whole.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from alerts.channels import Channel, ChannelConfigError, FileChannel
from alerts.digest import story_order
from alerts.outbox import ChannelReport, carry_over_since, deliver_queued
from alerts.subscriptions import (
    Alerting,
    Subscription,
    filter_digest,
    matches,
    subscription_channels,
)
from pipeline import store


def team_channels(alerting: Alerting, channels_file: Path, env: Mapping[str, str]) -> dict[str, dict[str, Channel]]:
    """subscription name → {target: channel} of every daily subscription; a ChannelConfigError
    naming every missing variable when any cannot send (before anything is written)."""
    teams, problems = {}, []
    for sub in alerting.daily():
        channels, lacking = subscription_channels(sub, channels_file, env)
        teams[sub.name] = channels
        problems += lacking
    if problems:
        raise ChannelConfigError("; ".join(problems) + "; secrets are read from the environment only")
    return teams


def write_team_digests(digest: dict, directory: Path, alerting: Alerting | None) -> list[dict]:
    """Write each daily subscription's digest file; [{"subscription", "path", "digest"}]."""
    written = []
    for sub in (alerting.daily() if alerting else []):
        data = filter_digest(digest, sub)
        files = FileChannel(directory / sub.name)
        message = files.messages(data)[0]
        files.deliver(message)
        written.append({"subscription": sub, "path": message.payload["path"], "digest": data})
    return written


def deliver_team_digests(db, day: str, written: list[dict], teams: dict[str, dict[str, Channel]],
                         shared: dict, *, sleep=time.sleep) -> list[ChannelReport]:
    """Queue each team's articles on its targets (with those of the last days' digests written
    without sending), then send what each target has pending."""
    reports = []
    for entry in written:
        sub: Subscription = entry["subscription"]
        channels = teams.get(sub.name) or {}
        if not channels:
            continue
        ids = story_order(entry["digest"])
        queued = ids + _unsent_earlier(db, day, sub, set(ids))
        for target in channels:
            store.enqueue_digested(db, target, queued)
        reports += deliver_queued(db, day, channels, shared, bool(ids), sleep=sleep)
    return reports


def _unsent_earlier(db, day: str, sub: Subscription, today: set[int]) -> list[int]:
    """The team's articles in the digests of the last UNSENT_DIGEST_DAYS days (made by `tipwatch
    run`, which sends nothing); those already delivered on a target stay delivered there."""
    earlier = [i for i in store.digested_since(db, carry_over_since(day)) if i not in today]
    return [row["id"] for row in store.delivery_items(db, earlier) if matches(sub, row)]
