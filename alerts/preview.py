"""--dry-run: what a send would deliver on each target, rendered; nothing is sent, written or
recorded (every query here only reads).

Each target gets the digest the outbox (alerts/outbox.py) would make for it: the day's articles
not delivered there yet, after the pending ones of earlier digests; those it got as immediate
alerts listed as such; on a day whose every article went out as an alert, the alerted-only
digest (once a day); on a day with nothing flagged, the empty-day note where asked for.
"""
from __future__ import annotations

from collections import Counter

from alerts.channels import Channel
from alerts.digest import story_order
from alerts.outbox import channel_digest, shared_parts
from alerts.render import plural
from pipeline import store


def preview(db, digest: dict, channels: dict[str, Channel], carry_over_since: str | None = None) -> list[str]:
    """Every message of every target (name → channel), rendered as the send would make it.
    `carry_over_since`: the first day whose unsent digests a send on these targets takes along
    (the day's own channels; None for a subscription's)."""
    out = []
    for target, channel in channels.items():
        data, note = plan(db, digest, target, channel, carry_over_since)
        messages = channel.messages(data) if data is not None else []
        if not messages:
            out.append(f"===== {target}: nothing to send{f' ({note})' if note else ''} =====")
        for message in messages:
            out.append(f"===== {target}: message {message.index + 1} of {len(messages)} "
                       f"({len(message.article_ids)} articles{f'; {note}' if note else ''}) =====")
            out.append(channel.preview(message))
    return out


def plan(db, digest: dict, target: str, channel: Channel, carry_over_since: str | None) -> tuple[dict | None, str]:
    """(the digest `target` would get, or None; a note on why it is what it is)."""
    day, shared = digest["day"], shared_parts(digest)
    day_ids = story_order(digest)
    states = store.delivery_states(db, target, day_ids)
    sending = {i for i in day_ids if states.get(i, "pending") == "pending"}
    earlier = [i for i in store.pending_on(db, target, carry_over_since) if i not in set(day_ids)]
    alerted = alerted_on(db, digest, target)
    if sending or earlier:
        return with_day_items(channel_digest(db, day, earlier, shared), digest, sending) | {"alerted": alerted}, ""
    if day_ids:
        if alerted and not store.note_sent(db, target, day, "alerted"):
            return (dict(channel_digest(db, day, [], shared), alerted=alerted),
                    f"nothing new; the day's {plural(len(alerted), 'immediate alert')} listed")
        return None, "everything of the day was delivered already"
    if not channel.send_empty:
        return None, "nothing new; no note (send_empty = false)"
    if store.note_sent(db, target, day, "empty"):
        return None, "nothing new; the note was already sent today"
    return channel_digest(db, day, [], shared), "nothing new; note"


def with_day_items(data: dict, digest: dict, keep: set[int]) -> dict:
    """`data` (earlier digests' leftovers) followed by the day's stories cut to the articles in
    `keep` (a story whose lead was delivered is led by its first article kept)."""
    stories = list(data["stories"])
    for story in digest["stories"]:
        mine = [i for i in (story["lead"], *story["related"]) if i["id"] in keep]
        if mine:
            stories.append(dict(story, lead=mine[0], related=mine[1:]))
    items = data["items"] + [i for i in digest["items"] if i["id"] in keep]
    return dict(data, items=items, stories=stories, total=len(items), story_count=len(stories),
                per_source=dict(sorted(Counter(i["source"] for i in items).items())),
                languages=dict(sorted(Counter(i["language"] or "?" for i in items).items())))


def alerted_on(db, digest: dict, target: str) -> list[dict]:
    """The day's articles already sent to `target` as immediate alerts, in the order they went out
    (as store.alerted_in_digest gives them once the day's digest is recorded)."""
    sent = store.alerts_sent(db, [item["id"] for item in digest["items"]])
    rows = [{"id": item["id"], "title": item["title"], "url": item["url"], "source": item["source"],
             "delivered_at": at}
            for item in digest["items"] for t, at in sent.get(item["id"], []) if t == target]
    return sorted(rows, key=lambda r: (r["delivered_at"], r["id"]))
