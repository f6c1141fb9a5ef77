"""The daily digest: flagged articles not sent in any earlier digest, built as data,
rendered with a Jinja2 template, written to `seeds/digests/YYYY-MM-DD.md`.

Re-running on the same day rebuilds the same day's digest (same items plus any
new ones) and rewrites the same file; an item never appears in two digests.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from alerts.render import join_terms
from alerts.stories import fingerprint, group_stories
from pipeline import store

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def today(tz: str | None = None) -> str:
    """The analysts' calendar day (Indochina time by default, TIPWATCH_TZ to change)."""
    return datetime.now(ZoneInfo(tz or os.environ.get("TIPWATCH_TZ") or DEFAULT_TZ)).date().isoformat()


FOLLOW_UP_WINDOW_DAYS = 14


def build_digest(db, day: str, *, since: str | None = None, sources_file=None) -> dict:
    """The digest as data: stories of flagged articles, counts, and source-health notes.

    Without `since`: the articles in no earlier digest (the day's own stay in it). With
    `since`: every flagged article from that date on, for re-reading an older window.
    `sources_file` is the crawl's sources file, whose entries the health notes judge."""
    items = store.flagged_since(db, since) if since else store.digest_candidates(db, day)
    attach_fingerprints(db, items)
    attach_alerts(db, items, day)
    window_start = (date.fromisoformat(day) - timedelta(days=FOLLOW_UP_WINDOW_DAYS)).isoformat()
    earlier = [] if since else store.earlier_story_items(db, day, window_start)
    stories = group_stories(items, earlier)
    per_source = Counter(item["source"] for item in items)
    return {
        "day": day,
        "since": since,
        "items": items,
        "stories": stories,
        "total": len(items),
        "story_count": len(stories),
        "per_source": dict(sorted(per_source.items())),
        "languages": dict(sorted(Counter(i["language"] or "?" for i in items).items())),
        "source_notes": source_notes(db, sources_file),
    }


def attach_fingerprints(db, items: list[dict]) -> None:
    """Each item gets its story fingerprint, computed once per article and kept."""
    ids = [item["id"] for item in items]
    known = store.fingerprints(db, ids)
    missing = {row["id"]: fingerprint(row["title"] or "", row["text"] or "", row["language"])
               for row in store.iter_articles(db, [i for i in ids if i not in known])}
    if missing:
        store.save_fingerprints(db, missing)
    for item in items:
        item["fingerprint"] = known.get(item["id"]) or missing[item["id"]]


def attach_alerts(db, items: list[dict], day: str) -> None:
    """Items already sent as immediate alerts say when ("10:42 (email, slack)"), in the digest's
    time zone: the digest lists them as alerted rather than new."""
    sent = store.alerts_sent(db, [item["id"] for item in items])
    zone = ZoneInfo(os.environ.get("TIPWATCH_TZ") or DEFAULT_TZ)
    for item in items:
        item["alerted"] = alerted_text(sent[item["id"]], day, zone) if item["id"] in sent else None


def alerted_text(alerts: list[tuple[str, str]], day: str, zone: ZoneInfo) -> str:
    """[(target, delivered_at UTC ISO)] → "10:42 (email, slack)"; the date too when not `day`."""
    return f"{alert_time(alerts[0][1], day, zone)} ({', '.join(dict.fromkeys(target for target, _ in alerts))})"


def alert_time(delivered_at: str | None, day: str, zone: ZoneInfo | None = None) -> str:
    """A delivery time (UTC ISO) as "10:42" in the digest's time zone, "10:42 on 2026-11-20"
    when not on `day`."""
    if not delivered_at:
        return "?"
    zone = zone or ZoneInfo(os.environ.get("TIPWATCH_TZ") or DEFAULT_TZ)
    first = datetime.fromisoformat(delivered_at).astimezone(zone)
    return first.strftime("%H:%M") + ("" if first.date().isoformat() == day else f" on {first.date().isoformat()}")


def source_notes(db, sources_file=None) -> list[dict]:
    """Every source that is not healthy now (failing, stale, interrupted or degraded; see pipeline/health.py),
    with its reasons and since when; health is judged on the latest runs, whatever window
    the digest covers."""
    from pipeline.store.health import source_health
    from tipwatch.config import sources_path
    from pipeline.sources import SourcesError, load_sources

    try:
        sources = load_sources(sources_path(sources_file))
    except SourcesError:
        sources = []  # a broken sources file: still report the sources with crawl runs
    notes = []
    for row in source_health(db, sources):
        if row["verdict"] in ("healthy", "unknown"):
            continue
        detail = "; ".join(row["reasons"]) + (f" (since {row['since'][:16]})" if row["since"] else "")
        notes.append({"source": row["source"], "state": row["verdict"], "detail": detail})
    return notes


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(value) -> str:
    """Article text is data: escape what Markdown would read as markup or links."""
    text = " ".join(str(value or "").split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_url(value) -> str:
    """A link target cannot close the link or open another one."""
    return str(value or "").replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace(">", "%3E")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("alerts", "templates"), undefined=StrictUndefined,
                      autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["md"] = md_escape
    env.filters["mdurl"] = md_url
    env.filters["join_terms"] = join_terms
    return env


def render_markdown(digest: dict) -> str:
    return _environment().get_template("digest.md.j2").render(**digest)


def summary(digest: dict) -> str:
    """'3 flagged articles in 2 stories': the one phrase every command prints."""
    total, stories = digest["total"], digest["story_count"]
    return (f"{total} flagged article{'s' if total != 1 else ''} "
            f"in {stories} stor{'y' if stories == 1 else 'ies'}")


def write_digest(db, day: str | None, directory: Path, sources_file=None) -> tuple[Path, dict]:
    """Build, render, write and record the digest of `day` (today by default)."""
    day = day or today()
    date.fromisoformat(day)  # a malformed day fails here, before anything is written
    digest = build_digest(db, day, sources_file=sources_file)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{day}.md"
    text = render_markdown(digest)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    store.save_digest(db, day, str(path), story_order(digest), story_info(digest))
    return path, digest


def story_order(digest: dict) -> list[int]:
    return [item["id"] for story in digest["stories"] for item in (story["lead"], *story["related"])]


def story_info(digest: dict) -> dict[int, tuple[str, dict | None]]:
    return {item["id"]: (story["key"], story["follow_up_of"])
            for story in digest["stories"] for item in (story["lead"], *story["related"])}
