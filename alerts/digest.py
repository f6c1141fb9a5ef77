"""The daily digest: flagged articles not sent in any earlier digest, built as data,
rendered with a Jinja2 template, written to `seeds/digests/YYYY-MM-DD.md`.

Re-running on the same day rebuilds the same day's digest (same items plus any
new ones) and rewrites the same file; an item never appears in two digests.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

from pipeline import store

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def today(tz: str | None = None) -> str:
    """The analysts' calendar day (Indochina time by default, TIPWATCH_TZ to change)."""
    return datetime.now(ZoneInfo(tz or os.environ.get("TIPWATCH_TZ") or DEFAULT_TZ)).date().isoformat()


def build_digest(db, day: str) -> dict:
    items = store.digest_candidates(db, day)
    per_source = Counter(item["source"] for item in items)
    return {
        "day": day,
        "items": items,
        "total": len(items),
        "per_source": dict(sorted(per_source.items())),
        "languages": dict(sorted(Counter(i["language"] or "?" for i in items).items())),
    }


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
    return env


def render_markdown(digest: dict) -> str:
    return _environment().get_template("digest.md.j2").render(**digest)


def write_digest(db, day: str | None, directory: Path) -> tuple[Path, dict]:
    """Build, render, write and record the digest of `day` (today by default)."""
    day = day or today()
    date.fromisoformat(day)  # a malformed day fails here, before anything is written
    digest = build_digest(db, day)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{day}.md"
    text = render_markdown(digest)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    store.save_digest(db, day, str(path), [item["id"] for item in digest["items"]])
    return path, digest
