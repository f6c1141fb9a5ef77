"""The daily digest: flagged articles not sent in any earlier digest, built as data, written as
`<digests>/YYYY-MM-DD.md` (the file channel, alerts/channels/files.py) and recorded.

Re-running on the same day rebuilds the same day's digest (same items plus any
new ones) and rewrites the same file; an item never appears in two digests.

Everything comes from the database or from the caller: the digest reads no crawl configuration
and no environment. What it needs about sources beyond the crawl runs recorded (each source's
`stale_after` hours, from the sources file) and the time zone are passed in by the app floor.
`build_digest` only reads; `write_digest` is the one that writes.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

from alerts.channels.files import FileChannel, md_escape, render_markdown  # noqa: F401 (re-exported)
from alerts.stories import fingerprint, group_stories
from pipeline import store
from pipeline.store.health import source_health

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
FOLLOW_UP_WINDOW_DAYS = 14


def today(tz: str = DEFAULT_TZ) -> str:
    """The analysts' calendar day in the digest's time zone (Indochina time by default)."""
    return datetime.now(ZoneInfo(tz)).date().isoformat()


def build_digest(db, day: str, *, since: str | None = None, stale_after: Mapping[str, float] | None = None,
                 tz: str = DEFAULT_TZ) -> dict:
    """The digest as data: stories of flagged articles, counts, and source-health notes. Reads only.

    Without `since`: the articles in no earlier digest (the day's own stay in it). With
    `since`: every flagged article from that date on, for re-reading an older window.
    `stale_after`: source name → hours without a new article before it is stale, in the order
    the sources are listed (the health notes judge by it). Fingerprints computed here for the
    first time are in "new_fingerprints": `write_digest` keeps them, a dry run does not."""
    items = store.flagged_since(db, since) if since else store.digest_candidates(db, day)
    new_prints = attach_fingerprints(db, items)
    attach_alerts(db, items, day, ZoneInfo(tz))
    window_start = (date.fromisoformat(day) - timedelta(days=FOLLOW_UP_WINDOW_DAYS)).isoformat()
    earlier = [] if since else store.earlier_story_items(db, day, window_start)
    stories = group_stories(items, earlier)
    per_source = Counter(item["source"] for item in items)
    return {
        "day": day,
        "since": since,
        "timezone": tz,
        "items": items,
        "stories": stories,
        "total": len(items),
        "story_count": len(stories),
        "per_source": dict(sorted(per_source.items())),
        "languages": dict(sorted(Counter(i["language"] or "?" for i in items).items())),
        "source_notes": source_notes(db, stale_after),
        "new_fingerprints": new_prints,
    }


def attach_fingerprints(db, items: list[dict]) -> dict[int, dict]:
    """Each item gets its story fingerprint: the one kept for it, else computed now. Returns those
    computed now (article id → fingerprint), for the caller to keep or not."""
    ids = [item["id"] for item in items]
    known = store.fingerprints(db, ids)
    missing = {row["id"]: fingerprint(row["title"] or "", row["text"] or "", row["language"])
               for row in store.iter_articles(db, [i for i in ids if i not in known])}
    for item in items:
        item["fingerprint"] = known.get(item["id"]) or missing[item["id"]]
    return missing


def attach_alerts(db, items: list[dict], day: str, zone: ZoneInfo) -> None:
    """Items already sent as immediate alerts say when ("10:42 (email, slack)"), in the digest's
    time zone: the digest lists them as alerted rather than new."""
    sent = store.alerts_sent(db, [item["id"] for item in items])
    for item in items:
        item["alerted"] = alerted_text(sent[item["id"]], day, zone) if item["id"] in sent else None


def alerted_text(alerts: list[tuple[str, str]], day: str, zone: ZoneInfo) -> str:
    """[(target, delivered_at UTC ISO)] → "10:42 (email, slack)"; the date too when not `day`."""
    return f"{alert_time(alerts[0][1], day, zone)} ({', '.join(dict.fromkeys(target for target, _ in alerts))})"


def alert_time(delivered_at: str | None, day: str, zone: ZoneInfo | str | None = None) -> str:
    """A delivery time (UTC ISO) as "10:42" in the digest's time zone, "10:42 on 2026-11-20"
    when not on `day`."""
    if not delivered_at:
        return "?"
    zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone or DEFAULT_TZ)
    first = datetime.fromisoformat(delivered_at).astimezone(zone)
    return first.strftime("%H:%M") + ("" if first.date().isoformat() == day else f" on {first.date().isoformat()}")


class _SourceLimit(NamedTuple):
    """A source as the health verdicts read it (name, stale_after_hours): plain data given by
    the app floor, so that the digest never loads the sources file itself."""
    name: str
    stale_after_hours: float


def source_notes(db, stale_after: Mapping[str, float] | None = None) -> list[dict]:
    """Every source that is not healthy now (failing, stale, interrupted or degraded; see
    pipeline/store/health.py), with its reasons and since when; health is judged on the latest
    runs, whatever window the digest covers. Sources come from the crawl runs recorded, in the
    order of `stale_after` first; a source not in `stale_after` gets the default limit."""
    limits = [_SourceLimit(name, hours) for name, hours in (stale_after or {}).items()]
    notes = []
    for row in source_health(db, limits):
        if row["verdict"] in ("healthy", "unknown"):
            continue
        detail = "; ".join(row["reasons"]) + (f" (since {row['since'][:16]})" if row["since"] else "")
        notes.append({"source": row["source"], "state": row["verdict"], "detail": detail})
    return notes


def summary(digest: dict) -> str:
    """'3 flagged articles in 2 stories': the one phrase every command prints."""
    total, stories = digest["total"], digest["story_count"]
    return (f"{total} flagged article{'s' if total != 1 else ''} "
            f"in {stories} stor{'y' if stories == 1 else 'ies'}")


def write_digest(db, day: str | None, directory: Path, *, stale_after: Mapping[str, float] | None = None,
                 tz: str = DEFAULT_TZ) -> tuple[Path, dict]:
    """Build, write (the file channel), and record the digest of `day` (today by default)."""
    day = day or today(tz)
    date.fromisoformat(day)  # a malformed day fails here, before anything is written
    digest = build_digest(db, day, stale_after=stale_after, tz=tz)
    if digest["new_fingerprints"]:
        store.save_fingerprints(db, digest["new_fingerprints"])
    files = FileChannel(directory)
    message = files.messages(digest)[0]
    files.deliver(message)
    store.save_digest(db, day, str(message.payload["path"]), story_order(digest), story_info(digest))
    return message.payload["path"], digest


def story_order(digest: dict) -> list[int]:
    return [item["id"] for story in digest["stories"] for item in (story["lead"], *story["related"])]


def story_info(digest: dict) -> dict[int, tuple[str, dict | None]]:
    return {item["id"]: (story["key"], story["follow_up_of"])
            for story in digest["stories"] for item in (story["lead"], *story["related"])}
