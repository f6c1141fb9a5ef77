"""Delivering the digest exactly once per channel: the outbox.

Every flagged article of a digest gets one `deliveries` row per channel, 'pending' until
that channel has *accepted* a message carrying it. A run claims the pending rows of a
channel in one IMMEDIATE transaction (two digests running at once cannot both take
them), sends the channel's messages in order, marks each message's articles delivered
as soon as the channel accepts it, and gives back what it could not send. So a failure
halfway through a multi-part Slack digest resumes at the first unsent part on the next
run, and items from a failed day go out with the next digest.

A claim names its host and process; the claim of a process that died (a crash between
two messages) is taken over by the next run on the same host.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from alerts.channels import Channel, DeliveryError
from alerts.digest import DEFAULT_TZ, story_order, write_digest
from alerts.render import plural
from pipeline import store

MAX_RATE_LIMIT_WAITS = 3      # Slack 429s honoured per message before giving up for this run
MAX_WAIT_SECONDS = 120.0      # a Retry-After longer than this ends the run for the channel
# digests written without sending (`tipwatch run`) in this many days before are sent with the
# next sending digest; a channel added later thus gets at most a week of past items, once
UNSENT_DIGEST_DAYS = 7


@dataclass
class ChannelReport:
    channel: str
    messages_sent: int = 0
    messages_total: int = 0
    articles_sent: int = 0
    articles_pending: int = 0
    note: str = ""
    error: str | None = None
    details: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def line(self) -> str:
        if self.error:
            return (f"{self.channel}: FAILED after {self.messages_sent} of {self.messages_total} messages "
                    f"({self.articles_sent} articles sent, {self.articles_pending} stay pending for the next run): "
                    f"{self.error}")
        if self.note:
            return f"{self.channel}: {self.note}"
        return (f"{self.channel}: sent {self.messages_sent} message{'s' if self.messages_sent != 1 else ''} "
                f"({self.articles_sent} articles)")


def claim_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _process_gone(token: str) -> bool:
    host, _, rest = token.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine's claim: leave it to that machine
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def shared_parts(digest: dict) -> dict:
    """What every channel's digest of the day shares with the day's digest: its source-health
    notes and its time zone."""
    return {"source_notes": digest["source_notes"], "timezone": digest.get("timezone") or DEFAULT_TZ}


def channel_digest(db, day: str, article_ids: list[int], shared: dict) -> dict:
    """The digest as one channel will get it: its claimed articles, grouped by the stories
    recorded when each digest was built (older digests' leftovers first); `shared`: see
    shared_parts."""
    items = store.delivery_items(db, article_ids)
    stories: dict[str, dict] = {}
    for item in items:
        key = item["story_key"] or f"s{item['id']}"
        if key in stories:
            stories[key]["related"].append(item)
        else:
            stories[key] = {"key": key, "lead": item, "related": [], "follow_up_of": item["follow_up_of"]}
    return {
        "day": day, "since": None, "items": items, "stories": list(stories.values()),
        "total": len(items), "story_count": len(stories),
        "per_source": dict(sorted(Counter(i["source"] for i in items).items())),
        "languages": dict(sorted(Counter(i["language"] or "?" for i in items).items())),
        **shared,
    }


def write_and_deliver(db, day: str | None, digests_dir, channels: dict[str, Channel], *,
                      stale_after: dict[str, float] | None = None, tz: str = DEFAULT_TZ,
                      sleep=time.sleep, alerting=None, teams: dict | None = None) -> tuple:
    """Write and record the day's digest file, then deliver it on every channel given;
    returns (path, digest, reports). The one path for `tipwatch digest --send`, `run` and the
    daemon. With `alerting` (alerts/subscriptions.py), each daily subscription's digest is
    written too (listed in digest["team_digests"]) and sent on `teams` (alerts/teams.py).
    `stale_after` and `tz`: see alerts/digest.py's build_digest."""
    from alerts.teams import deliver_team_digests, write_team_digests

    path, digest = write_digest(db, day, digests_dir, stale_after=stale_after, tz=tz)
    digest["team_digests"] = write_team_digests(digest, digests_dir, alerting)
    shared = shared_parts(digest)
    reports = []
    if channels:
        stored = store.digest_for_day(db, digest["day"])
        assert stored is not None  # recorded by write_digest
        reports = deliver_digest(db, digest["day"], stored["id"], story_order(digest), channels, shared, sleep=sleep)
    if teams:
        reports += deliver_team_digests(db, digest["day"], digest["team_digests"], teams, shared, sleep=sleep)
    return path, digest, reports


def carry_over_since(day: str) -> str:
    """The first day whose digests written without sending go out with `day`'s digest."""
    return (date.fromisoformat(day) - timedelta(days=UNSENT_DIGEST_DAYS)).isoformat()


def deliver_digest(db, day: str, digest_id: int, digest_ids: list[int], channels: dict[str, Channel],
                   shared: dict, *, sleep=time.sleep) -> list[ChannelReport]:
    """Queue the day's digest on every channel, then send what each channel has pending."""
    reports = []
    for name, channel in channels.items():
        store.enqueue_deliveries(db, name, digest_id, digest_ids, carry_over_since(day))
        reports.append(_deliver_channel(db, day, channel, shared, sleep, bool(digest_ids), name))
    return reports


def deliver_queued(db, day: str, channels: dict[str, Channel], shared: dict, day_has_items: bool,
                   *, sleep=time.sleep) -> list[ChannelReport]:
    """Send what each target (a subscription's "legal:email") has queued, as its digest."""
    return [_deliver_channel(db, day, channel, shared, sleep, day_has_items, target)
            for target, channel in channels.items()]


def _deliver_channel(db, day: str, channel: Channel, shared: dict, sleep,
                     day_has_items: bool, target: str | None = None) -> ChannelReport:
    # the outbox key: the channel's own name, or a subscription's target ("legal:email")
    name = target or channel.name
    report = ChannelReport(name)
    token = claim_token()
    stale = [t for t in store.claim_tokens(db, name) if _process_gone(t)]
    claimed = store.claim_deliveries(db, name, token, stale)
    held_elsewhere = store.delivery_counts(db, name).get("pending", 0) - len(claimed)
    if not claimed:
        if held_elsewhere > 0:
            report.note = f"{held_elsewhere} articles are being sent by another run; nothing to do"
        elif day_has_items:
            _alerted_only_day(db, day, channel, shared, report, sleep)
        else:
            _empty_day(db, day, channel, shared, report, sleep)
        return report
    digest = channel_digest(db, day, claimed, shared)
    # what went out as immediate alerts is listed as such, not sent again as new
    digest["alerted"] = store.alerted_in_digest(db, name, day)
    if digest["alerted"]:  # listed once a day: no alerted-only digest needed after this one
        store.record_note(db, name, day, "alerted")
    messages = channel.messages(digest)
    report.messages_total = len(messages)
    try:
        for message in messages:
            _send(channel, message, sleep)
            store.mark_delivered(db, name, message.article_ids, token)
            report.messages_sent += 1
            report.articles_sent += len(message.article_ids)
    except DeliveryError as exc:
        report.error = str(exc)
    finally:
        # whatever is still claimed (a failure, or an exception we do not know) goes back
        report.articles_pending = store.release_claims(db, name, token, report.error)
    return report


def _alerted_only_day(db, day, channel, shared, report, sleep) -> None:
    """Every item of the day went out as an immediate alert: the digest still comes, once, and
    lists them (an analyst reads the morning digest as the day's record), with nothing as new."""
    alerted = store.alerted_in_digest(db, report.channel, day)
    if not alerted or store.note_sent(db, report.channel, day, "alerted"):
        report.note = "everything of the day was delivered already"
        return
    messages = channel.messages(dict(channel_digest(db, day, [], shared), alerted=alerted))
    report.messages_total = len(messages)
    try:
        for message in messages:
            _send(channel, message, sleep)
            report.messages_sent += 1
    except DeliveryError as exc:
        report.error = str(exc)
        return
    store.record_note(db, report.channel, day, "alerted")
    report.note = f"nothing new; the day's {plural(len(alerted), 'immediate alert')} listed"


def _empty_day(db, day, channel, shared, report, sleep) -> ChannelReport:
    """A day with nothing flagged: a short note, once, where the channel asks for one."""
    if not channel.send_empty:
        report.note = "nothing new; no note (send_empty = false)"
        return report
    if store.note_sent(db, report.channel, day, "empty"):
        report.note = "nothing new; the note was already sent today"
        return report
    digest = channel_digest(db, day, [], shared)
    try:
        for message in channel.messages(digest):
            _send(channel, message, sleep)
    except DeliveryError as exc:
        report.error = str(exc)
        return report
    store.record_note(db, report.channel, day, "empty")
    report.note = "nothing new; note sent"
    return report


def _send(channel: Channel, message, sleep) -> None:
    """One message, waiting out rate limits (Slack 429 + Retry-After) a few times."""
    for attempt in range(MAX_RATE_LIMIT_WAITS + 1):
        try:
            channel.deliver(message)
            return
        except DeliveryError as exc:
            wait = exc.retry_after
            if wait is None or attempt == MAX_RATE_LIMIT_WAITS or wait > MAX_WAIT_SECONDS:
                raise
            sleep(max(wait, 0.0))
