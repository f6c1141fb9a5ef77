"""Immediate alerts, sent as the crawl that stored the articles ends (`tipwatch crawl`, `run`,
and the daemon's crawl job, which is a child `tipwatch crawl`).

Through the digest's outbox (alerts/outbox.py): each qualifying article is queued once per
target as an 'alert' row, claimed, sent as one short message, and marked delivered only when
the channel accepted it. A failure leaves it pending for the next crawl's alerts (or for the
digest, whichever sends first: either way once). The digest then lists it as "alerted at".

Which articles: flagged, in no digest yet, stored in the last ALERT_WINDOW_HOURS. Not only
this crawl's: a crawl that died between storing and alerting is caught up by the next one.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.alert_render import alert_message, batch_message
from alerts.channels import (
    Channel,
    ChannelConfigError,
    DeliveryError,
    load_channels,
    load_settings,
)
from alerts.channels.settings import _missing_settings
from alerts.outbox import _process_gone, _send, claim_token
from alerts.subscriptions import (
    Alerting,
    describe_match,
    load_alerting,
    matches,
    qualifies,
    subscription_channels,
)
from pipeline import store

ALERT_WINDOW_HOURS = 24
# more alerts than this due at once on one target go out together, this many per message (a
# Slack message holds at most 50 blocks; a long email is still read, a flood of them is not)
ALERT_BATCH_OVER = 3
ALERTS_PER_MESSAGE = 25


def plan_alerts(alerting: Alerting, candidates: list[dict]) -> dict[str, list[int]]:
    """target → ids of the candidate articles it alerts on (pure)."""
    plan: dict[str, list[int]] = {}
    if alerting.immediate is not None:
        ids = [c["id"] for c in candidates if qualifies(alerting.immediate, c)]
        for channel in alerting.immediate.channels:
            plan[channel] = ids
    for sub in alerting.alerting():
        ids = [c["id"] for c in candidates if matches(sub, c)]
        for channel in sub.channels:
            plan[sub.target(channel)] = ids
    return plan


def reasons_for(alerting: Alerting, target: str, item: dict) -> list[str]:
    """Why the article is alerted on this target, for the message."""
    name = target.rpartition(":")[0]
    if not name:
        return qualifies(alerting.immediate, item)
    sub = next((s for s in alerting.subscriptions if s.name == name), None)
    return describe_match(sub, item) if sub else []


def send_alerts(db, channels_file: Path, env: Mapping[str, str], *, now: datetime | None = None,
                sleep=time.sleep) -> tuple[list[str], list[str]]:
    """Queue and send the alerts due after a crawl; returns (info lines, problem lines). Without
    an [immediate] section or immediate subscription: nothing, ([], []). `channels_file` and `env`
    (the secrets and overrides) are the app floor's."""
    try:
        alerting = load_alerting(channels_file)
    except ChannelConfigError as exc:
        return [], [f"alerts: not sent: {exc}"]
    if alerting.immediate is None and not alerting.alerting():
        return [], []
    now = now or datetime.now(UTC)
    since = (now - timedelta(hours=ALERT_WINDOW_HOURS)).replace(microsecond=0).isoformat()
    for target, ids in plan_alerts(alerting, store.alert_candidates(db, since)).items():
        store.enqueue_alerts(db, target, ids)
    try:
        channels, missing = alert_channels(alerting, channels_file, env)
    except ChannelConfigError as exc:  # a malformed [email] or [slack]: queued, sent once it is fixed
        channels, missing = {}, [str(exc)]
    info: list[str] = []
    problems: list[str] = []
    for target, channel in channels.items():
        line, failed = _deliver_alerts(db, target, channel, alerting, sleep)
        if line:
            (problems if failed else info).append(line)
    if missing:
        waiting = sum(store.delivery_counts(db, t, "alert").get("pending", 0) for t in _targets(alerting)
                      if t not in channels)
        problems.append(f"alerts: not sent ({waiting} pending): " + "; ".join(missing)
                        + " (secrets are read from the environment only)")
    if not info and not problems:
        info.append("alerts: nothing new to alert on")
    return info, problems


def _targets(alerting: Alerting) -> list[str]:
    own = list(alerting.immediate.channels) if alerting.immediate else []
    return own + [s.target(c) for s in alerting.alerting() for c in s.channels]


def alert_channels(alerting: Alerting, path: Path, env: Mapping[str, str]) -> tuple[dict[str, Channel], list[str]]:
    """target → ready channel, and one problem per target that cannot send (naming the variable)."""
    channels: dict[str, Channel] = {}
    problems: list[str] = []
    if alerting.immediate is not None:
        settings = load_settings(path, env)
        for name in alerting.immediate.channels:
            lacking = _missing_settings(name, settings[name], env)
            if lacking:
                problems += lacking
            else:
                channels.update(load_channels(path, env, names=[name]))
    for sub in alerting.alerting():
        ready, lacking = subscription_channels(sub, path, env)
        channels.update(ready)
        problems += lacking
    return channels, problems


def _deliver_alerts(db, target: str, channel: Channel, alerting: Alerting, sleep) -> tuple[str | None, bool]:
    """Send the target's pending alerts, one message each, or batched when many are due; (report
    line or None, failed)."""
    token = claim_token()
    stale = [t for t in store.claim_tokens(db, target) if _process_gone(t)]
    claimed = store.claim_deliveries(db, target, token, stale, kind="alert")
    if not claimed:
        return None, False
    sent = messages = 0
    error = None
    try:
        for message in alert_messages(channel, target, alerting, store.alert_items(db, claimed)):
            _send(channel, message, sleep)
            store.mark_delivered(db, target, message.article_ids, token, kind="alert")
            sent += len(message.article_ids)
            messages += 1
    except DeliveryError as exc:
        error = str(exc)  # the channel's errors are scrubbed of secrets
    finally:
        pending = store.release_claims(db, target, token, error)
    if error:
        return (f"alerts {target}: FAILED after {sent} of {len(claimed)} alerts ({pending} stay pending "
                f"for the next crawl): {error}"), True
    line = f"alerts {target}: sent {sent} alert{'s' if sent != 1 else ''}"
    return (line + f" in {messages} message{'s' if messages != 1 else ''}" if messages != sent else line), False


def alert_messages(channel: Channel, target: str, alerting: Alerting, items: list[dict]):
    """The messages for these due alerts: one each, or ALERTS_PER_MESSAGE together when more than
    ALERT_BATCH_OVER are due."""
    if len(items) <= ALERT_BATCH_OVER:
        return [alert_message(channel, target, item, reasons_for(alerting, target, item)) for item in items]
    items = sorted(items, key=lambda i: i.get("published") or "", reverse=True)  # newest first, as read
    batches = [items[i:i + ALERTS_PER_MESSAGE] for i in range(0, len(items), ALERTS_PER_MESSAGE)]
    return [batch_message(channel, target, [(item, reasons_for(alerting, target, item)) for item in batch])
            for batch in batches]
