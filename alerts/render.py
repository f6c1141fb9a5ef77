"""Render the digest data for each delivery channel.

One digest (built as data elsewhere) → three outputs: Markdown file (alerts/digest.py),
multipart email (plain text + HTML, Jinja2 templates here) and Slack Block Kit (built here
as Python data, so the JSON is always well-formed and every limit can be enforced).

Everything inside a story item is untrusted article data.  It is escaped for its medium:
autoescaped HTML (and only http/https links) in email; `&`, `<`, `>` escaped and mrkdwn
formatting / mentions neutralised in Slack (plus ``verbatim: true`` so Slack auto-parses nothing).
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

LANGUAGES = {"en": "English", "vi": "Vietnamese", "km": "Khmer", "lo": "Lao", "th": "Thai",
             "zh": "Chinese", "my": "Burmese"}

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks): 50 blocks per message,
# section text ≤ 3000, header plain_text ≤ 150, context ≤ 10 elements.
SLACK_MAX_BLOCKS = 50
SLACK_SECTION_TEXT = 3000
SLACK_HEADER_TEXT = 150
SLACK_CONTEXT_ELEMENTS = 10
SLACK_CONTEXT_TEXT = 2000   # conservative per element
SLACK_FALLBACK_TEXT = 3000  # top-level notification text, kept short
SLACK_MAX_URL = 1500        # longer article URLs are not linked (a link must stay within the text limit)
SLACK_STORY_MAX_BLOCKS = 12  # a story never needs more; extra related links are summarised


# --------------------------------------------------------------------------- helpers

def clean(value) -> str:
    """Untrusted text on one line: whitespace (incl. newlines/control chars) collapsed."""
    text = "".join(" " if (ord(c) < 32 or 0x7f <= ord(c) < 0xa0 or c in "\u2028\u2029") else c
                   for c in str(value if value is not None else ""))
    return " ".join(text.split())


def safe_url(value) -> str | None:
    """An http(s) URL fit for a link, or None (javascript:, data:, relative, garbage…)."""
    url = clean(value).replace(" ", "%20")
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    # characters that could close an attribute/link or open markup are percent-encoded
    return re.sub(r"[<>\"'`|\\{}^]", lambda m: quote(m.group(0), safe=""), url)


def human_day(value, year_of: str | None = None) -> str:
    """'2026-11-20' → '20 November' (with the year when it differs from `year_of`'s)."""
    try:
        d = date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return clean(value)
    text = f"{d.day} {d:%B}"
    try:
        same_year = year_of is not None and date.fromisoformat(str(year_of)[:10]).year == d.year
    except ValueError:
        same_year = False
    return text if same_year else f"{text} {d.year}"


def published_text(value) -> str | None:
    if not value:
        return None
    raw = str(value)
    try:
        if "T" in raw or " " in raw.strip():
            dt = datetime.fromisoformat(raw.strip())
            return f"{dt.day} {dt:%b %Y}" + (f", {dt:%H:%M}" if (dt.hour, dt.minute) != (0, 0) else "")
        d = date.fromisoformat(raw[:10])
        return f"{d.day} {d:%b %Y}"
    except ValueError:
        return clean(raw)[:40] or None


def language_name(code) -> str:
    code = clean(code)
    return LANGUAGES.get(code.lower(), code or "?")


# Terms may hold commas ("phòng, chống mua bán người", "việc nhẹ, lương cao"): a comma cannot
# separate them. No profile term holds a middle dot (tests/test_channels.py checks the shipped one).
TERM_SEPARATOR = " · "


def join_terms(terms) -> str:
    return TERM_SEPARATOR.join(str(t) for t in terms)


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


# --------------------------------------------------------------------------- view model

def _item_view(item: dict) -> dict:
    score = item.get("score")
    try:
        score = float(score) if score is not None else None
    except (TypeError, ValueError):
        score = None
    return {
        "id": item.get("id"),
        "url": clean(item.get("url")),
        "link": safe_url(item.get("url")),
        "source": clean(item.get("source")) or "?",
        "title": clean(item.get("title")) or "(untitled)",
        "published": published_text(item.get("published")),
        "language": language_name(item.get("language")),
        "language_code": clean(item.get("language")) or "?",
        "author": clean(item.get("author")) or None,
        "score": score,
        "matched_terms": [t for t in (clean(x) for x in item.get("matched_terms") or []) if t],
        "snippet": clean(item.get("snippet")),
        "subtopics": [t for t in (clean(x) for x in item.get("subtopics") or []) if t],
        "countries": [t for t in (clean(x) for x in item.get("countries") or []) if t],
        # a Vietnamese article's English gist (pipeline/enrich/gist.py) and, with an operator's model,
        # its machine-translated title: both labelled for what they are wherever shown
        "gist": clean(item.get("gist")) or None,
        "title_en": clean(item.get("title_en")) or None,
    }


def story_ids(story: dict) -> list[int]:
    ids = []
    for item in [story.get("lead") or {}, *(story.get("related") or [])]:
        if item.get("id") is not None and item["id"] not in ids:
            ids.append(item["id"])
    return ids


def digest_ids(digest: dict) -> list[int]:
    ids: list[int] = []
    for story in digest.get("stories") or []:
        ids.extend(i for i in story_ids(story) if i not in ids)
    return ids


def _alerted_view(rows: list[dict], day: str, tz: str | None) -> list[dict]:
    """Articles sent earlier as immediate alerts: title, source, link and when, in the digest's
    time zone `tz` (alerts/digest.py's alerted_text)."""
    from alerts.digest import alert_time

    return [{"title": clean(r.get("title")) or "(untitled)", "source": clean(r.get("source")),
             "url": safe_url(r.get("url")), "at": alert_time(r.get("delivered_at"), day, tz)} for r in rows]


def prepare(digest: dict) -> dict:
    """The digest as the templates see it: defaults filled, dates readable, URLs vetted."""
    day = str(digest.get("day") or "")
    stories = []
    for n, story in enumerate(digest.get("stories") or [], 1):
        follow = story.get("follow_up_of")
        stories.append({
            "n": n,
            "key": clean(story.get("key")),
            "ids": story_ids(story),
            "lead": _item_view(story.get("lead") or {}),
            "related": [_item_view(r) for r in story.get("related") or []],
            "follow_up": None if not follow else {
                "day": clean(follow.get("day")),
                "day_human": human_day(follow.get("day"), day),
                "title": clean(follow.get("title")) or None,
                "key": clean(follow.get("key")),
            },
        })
    ids = digest_ids(digest)
    total = digest.get("total")
    total = len(ids) if total is None else int(total)
    # state: the health verdict (failing, stale, interrupted, degraded), said as it is: a degraded
    # source still delivers and must not read as a failed one
    notes = [{"source": clean(n.get("source")) or "?", "state": clean(n.get("state")) or "failing",
              "detail": clean(n.get("detail"))} for n in digest.get("source_notes") or []]
    since = digest.get("since")
    story_count = digest.get("story_count")
    return {
        "day": day,
        "day_human": human_day(day),
        "since": since,
        "since_human": human_day(since, day) if since else None,
        "period": f"{since} to {day}" if since else day,
        "total": total,
        "story_count": int(story_count if story_count is not None else len(stories)),
        "per_source": [(clean(k), v) for k, v in (digest.get("per_source") or {}).items()],
        "languages": [(language_name(k), v) for k, v in (digest.get("languages") or {}).items()],
        "stories": stories,
        "follow_ups": sum(1 for s in stories if s["follow_up"]),
        "attention": [n for n in notes if n["state"] != "silent"],
        "silent": [n for n in notes if n["state"] == "silent"],
        "empty": not stories,
        "alerted": _alerted_view(digest.get("alerted") or [], day, digest.get("timezone")),
    }


def headline(view: dict) -> str:
    """'3 new items in 2 stories' / 'nothing new' / 'nothing new beyond 2 immediate alerts'."""
    if view["empty"]:
        alerted = len(view.get("alerted") or ())
        return f"nothing new beyond {plural(alerted, 'immediate alert')}" if alerted else "nothing new"
    total, stories = view["total"], view["story_count"]
    text = f"{total} new item{'s' if total != 1 else ''}"
    if stories != total:
        text += f" in {plural(stories, 'story', 'stories')}"
    return text


def email_subject(digest_or_view: dict, prefix: str = "[tipwatch]") -> str:
    view = digest_or_view if "empty" in digest_or_view else prepare(digest_or_view)
    subject = f"{headline(view)} — {view['period']}"
    prefix = clean(prefix)
    return f"{prefix} {subject}" if prefix else subject


# --------------------------------------------------------------------------- email

def highlight(snippet: str, terms: list[str]) -> Markup:
    """HTML-escaped snippet with the matched terms in <strong> (escaping first, piece by piece)."""
    terms = sorted({t for t in terms if t}, key=len, reverse=True)
    if not terms:
        return escape(snippet)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(snippet):
        out.append(str(escape(snippet[pos:m.start()])))
        out.append(f"<strong>{escape(m.group(0))}</strong>")
        pos = m.end()
    out.append(str(escape(snippet[pos:])))
    return Markup("".join(out))


def _environment(html: bool) -> Environment:
    env = Environment(loader=PackageLoader("alerts", "templates"), undefined=StrictUndefined,
                      autoescape=html, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["highlight"] = highlight
    env.filters["plural"] = plural
    env.filters["join_terms"] = join_terms
    env.globals["headline"] = headline
    return env


def render_email_text(digest: dict, *, channel_label: str | None = None) -> str:
    view = prepare(digest)
    return _environment(False).get_template("digest.email.txt.j2").render(
        **view, headline=headline(view), label=channel_label)


def render_email_html(digest: dict, *, channel_label: str | None = None) -> str:
    view = prepare(digest)
    return _environment(True).get_template("digest.email.html.j2").render(
        **view, headline=headline(view), label=channel_label)


# --------------------------------------------------------------------------- Slack

_MENTION = re.compile(r"@(?=(channel|here|everyone|group)\b)", re.IGNORECASE)
_MRKDWN = re.compile(r"([*_~`])")
ZWSP = "\u200b"


def slack_escape(value) -> str:
    """Article text for a Slack mrkdwn field: one line, `&<>` escaped (so `<http://x|y>`,
    `<!channel>`, `<@U1>` are just text), formatting markers and @mentions neutralised with a
    zero-width space.  Used together with ``verbatim: true`` on every text object."""
    text = clean(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MRKDWN.sub(ZWSP + r"\1" + ZWSP, text)
    return _MENTION.sub("@" + ZWSP, text)


def slack_fit(value, limit: int) -> str:
    """slack_escape(value) cut to at most `limit` characters without breaking an escape."""
    raw = clean(value)
    text = slack_escape(raw)
    while len(text) > limit and raw:
        raw = raw[: max(0, min(len(raw) - 1, len(raw) - (len(text) - limit) - 1))].rstrip()
        text = slack_escape(raw + "…") if raw else ""
    return text


def slack_link(url: str | None, label: str, limit: int = 300) -> str:
    """`<url|label>` with both parts escaped; just the label when the URL is not a safe http(s) one."""
    label = slack_fit(label, limit) or "(untitled)"
    if not url or len(url) > SLACK_MAX_URL:
        return label
    target = url.replace("&", "&amp;")  # safe_url already percent-encoded < > | and quotes
    return f"<{target}|{label}>"


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _context(texts: list[str]) -> list[dict]:
    """Context blocks (≤ 10 elements each) carrying these mrkdwn texts."""
    texts = [t[:SLACK_CONTEXT_TEXT] for t in texts if t]
    return [{"type": "context", "elements": [_mrkdwn(t) for t in texts[i:i + SLACK_CONTEXT_ELEMENTS]]}
            for i in range(0, len(texts), SLACK_CONTEXT_ELEMENTS)]


def _meta(item: dict) -> str:
    parts = [slack_fit(item["source"], 80), item["published"] or "date unknown", item["language"]]
    if item["score"] is not None:
        parts.append(f"score {item['score']:.1f}")
    return " · ".join(slack_fit(p, 120) for p in parts)


def slack_story_blocks(story: dict) -> list[dict]:
    """Blocks of one story: section (follow-up marker, title link, meta, terms, snippet),
    context blocks for topic tags and related links, divider."""
    lead = story["lead"]
    head = []
    if story["follow_up"]:
        fu = story["follow_up"]
        marker = f":repeat: _Follow-up to a story sent on {slack_fit(fu['day_human'], 60)}_"
        if fu["title"]:
            marker += f" — {slack_fit(fu['title'], 200)}"
        head.append(marker)
    head.append(f"*{story['n']}. {slack_link(lead['link'], lead['title'], 400)}*")
    if lead["title_en"]:
        head.append("_Title, machine-translated:_ " + slack_fit(lead["title_en"], 400))
    if lead["gist"]:
        head.append("_English gist (not a translation):_ " + slack_fit(lead["gist"], 600))
    head.append(_meta(lead))
    if lead["matched_terms"]:
        head.append("Matched: " + slack_fit(join_terms(lead["matched_terms"]), 400))
    text = "\n".join(head)
    room = SLACK_SECTION_TEXT - len(text) - 3
    if lead["snippet"] and room > 20:
        text += "\n>" + slack_fit(lead["snippet"], room)
    blocks: list[dict] = [{"type": "section", "text": _mrkdwn(text[:SLACK_SECTION_TEXT])}]
    tags = []
    if lead["subtopics"]:
        tags.append("Topics: " + slack_fit(", ".join(lead["subtopics"]), 500))
    if lead["countries"]:
        tags.append("Countries: " + slack_fit(", ".join(lead["countries"]), 500))
    if lead["author"]:
        tags.append("By " + slack_fit(lead["author"], 200))
    blocks += _context(tags)
    related = [f"↳ {slack_link(r['link'], r['title'], 200)} ({slack_fit(r['source'], 60)}, "
               f"{slack_fit(r['language'], 40)}, {slack_fit(r['published'] or 'date unknown', 60)})"
               + (f" — _English gist (not a translation):_ {slack_fit(r['gist'], 400)}" if r.get("gist") else "")
               for r in story["related"]]
    related_blocks = _context(related)
    spare = SLACK_STORY_MAX_BLOCKS - len(blocks) - 1
    if len(related_blocks) > spare:
        shown = (spare - 1) * SLACK_CONTEXT_ELEMENTS + (SLACK_CONTEXT_ELEMENTS - 1)
        related_blocks = _context(related[:shown] + [f"… and {len(related) - shown} more related articles"])
    blocks += related_blocks
    blocks.append({"type": "divider"})
    return blocks


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:SLACK_HEADER_TEXT], "emoji": True}}


def _summary_text(view: dict, label: str | None) -> str:
    if view["empty"]:
        text = f"Nothing new was flagged{' since ' + view['since_human'] if view['since'] else ''}."
    else:
        text = f"*{headline(view).capitalize()}*"
        if view["follow_ups"]:
            text += f" ({plural(view['follow_ups'], 'follow-up')})"
        text += "\nBy source: " + ", ".join(f"{slack_fit(s, 60)} {n}" for s, n in view["per_source"])
        text += "\nLanguages: " + ", ".join(f"{slack_fit(lang, 40)} {n}" for lang, n in view["languages"])
    return text[:SLACK_SECTION_TEXT]


SLACK_ALERTED_LISTED = 20  # earlier alerts named in a digest's footer; the rest counted


def _footer_texts(view: dict) -> list[str]:
    alerted = view["alerted"]
    texts = [f":rotating_light: alerted at {slack_fit(a['at'], 30)}: "
             f"{slack_link(a['url'], a['title'], 200)} ({slack_fit(a['source'], 60)})"
             for a in alerted[:SLACK_ALERTED_LISTED]]
    if len(alerted) > SLACK_ALERTED_LISTED:
        texts.append(f"… and {len(alerted) - SLACK_ALERTED_LISTED} more sent earlier as immediate alerts")
    for n in view["attention"]:
        detail = f": {slack_fit(n['detail'], 300)}" if n["detail"] else ""
        texts.append(f":warning: {slack_fit(n['source'], 80)} is {slack_fit(n['state'], 20)}{detail}")
    for n in view["silent"]:
        detail = f": {slack_fit(n['detail'], 300)}" if n["detail"] else ""
        texts.append(f":zzz: {slack_fit(n['source'], 80)} was silent{detail}")
    return texts


def slack_messages(digest: dict, *, channel_label: str | None = None) -> list[dict]:
    """The digest as Slack webhook payloads, in order: each ≤ 50 blocks, a story never split.

    Returns ``[{"payload": {...}, "article_ids": [...], "stories": n}, ...]``.
    """
    view = prepare(digest)
    title = f"tipwatch digest — {view['period']}"
    intro = [_header(title), {"type": "section", "text": _mrkdwn(_summary_text(view, channel_label))},
             {"type": "divider"}]
    units = [(slack_story_blocks(s), s["ids"]) for s in view["stories"]]
    footer = _context(_footer_texts(view))

    pages: list[dict] = []
    current: dict[str, Any] = {"blocks": list(intro), "ids": [], "stories": 0}
    for blocks, ids in units:
        if len(current["blocks"]) + len(blocks) > SLACK_MAX_BLOCKS:
            pages.append(current)
            current = {"blocks": [None], "ids": [], "stories": 0}  # header placeholder
        current["blocks"] += blocks
        current["ids"] += ids
        current["stories"] += 1
    if footer:
        if len(current["blocks"]) + len(footer) > SLACK_MAX_BLOCKS:
            pages.append(current)
            current = {"blocks": [None], "ids": [], "stories": 0}
        current["blocks"] += footer
    pages.append(current)

    out = []
    count = len(pages)
    for i, page in enumerate(pages, 1):
        blocks = page["blocks"]
        if count > 1:
            part = f" ({i}/{count})"
            head_text = (title if i == 1 else f"tipwatch digest — {view['period']}, continued") + part
            blocks = [_header(head_text), *blocks[1:]]
        while blocks and blocks[-1]["type"] == "divider" and i == count:
            blocks = blocks[:-1]
        fallback = f"tipwatch digest {view['period']}: {headline(view)}"
        if count > 1:
            fallback += f" (part {i} of {count})"
        out.append({"payload": {"text": fallback[:SLACK_FALLBACK_TEXT], "blocks": blocks},
                    "article_ids": page["ids"], "stories": page["stories"]})
    return out
