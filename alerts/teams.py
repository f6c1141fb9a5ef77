"""One digest per team: each daily `[[subscription]]` gets the day's digest filtered to its
articles, written to `<digests>/<name>/DAY.md` and delivered on its own targets
("legal:email", "legal:slack"), exactly once per subscription and channel, through the outbox.

The team digest is cut from the day's digest (alerts/digest.py), so an article is in one day's
digest only, for every team as for the whole.
"""
from __future__ import annotations

import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Mapping

from pipeline import store

from alerts.channels import Channel, ChannelConfigError
from alerts.digest import render_markdown, story_order
from alerts.outbox import UNSENT_DIGEST_DAYS, ChannelReport, deliver_queued
from alerts.subscriptions import Alerting, Subscription, filter_digest, matches, subscription_channels


def team_channels(alerting: Alerting, channels_file: Path | None = None,
                  env: Mapping[str, str] = os.environ) -> dict[str, dict[str, Channel]]:
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
        path = directory / sub.name / f"{digest['day']}.md"
        _write(path, render_markdown(data))
        written.append({"subscription": sub, "path": path, "digest": data})
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def deliver_team_digests(db, day: str, written: list[dict], teams: dict[str, dict[str, Channel]],
                         source_notes: list[dict], *, sleep=time.sleep) -> list[ChannelReport]:
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
        reports += deliver_queued(db, day, channels, source_notes, bool(ids), sleep=sleep)
    return reports


def _unsent_earlier(db, day: str, sub: Subscription, today: set[int]) -> list[int]:
    """The team's articles in the digests of the last UNSENT_DIGEST_DAYS days (made by `tipwatch
    run`, which sends nothing); those already delivered on a target stay delivered there."""
    since = (date.fromisoformat(day) - timedelta(days=UNSENT_DIGEST_DAYS)).isoformat()
    earlier = [i for i in store.digested_since(db, since) if i not in today]
    return [row["id"] for row in store.delivery_items(db, earlier) if matches(sub, row)]
