"""One immediate alert, rendered for its channel: a short email or a short Slack message with
the title, source, time, why it qualified and the link. Article text is untrusted: it is
cleaned to one line, and escaped for Slack as the digest's blocks are (alerts/render.py)."""
from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from alerts import render
from alerts.channels import EmailChannel, Message, SlackChannel


def view(item: dict, reasons: list[str]) -> dict:
    """The alert as plain, cleaned fields: what every channel shows."""
    return {
        "id": item["id"],
        "title": render.clean(item.get("title")) or "(untitled)",
        "source": render.clean(item.get("source")) or "?",
        "published": render.published_text(item.get("published")) or "date unknown",
        "language": render.language_name(item.get("language")),
        "score": float(item.get("score") or 0.0),
        "why": "; ".join(render.clean(r) for r in reasons) or "flagged",
        "link": render.safe_url(item.get("url")),
        "url": render.clean(item.get("url")),
        "matched": render.join_terms(render.clean(t) for t in item.get("matched_terms") or []),
        "snippet": render.clean(item.get("snippet")),
    }


def email_text(v: dict) -> str:
    lines = [v["title"], "", f"{v['source']} · {v['published']} · {v['language']} · score {v['score']:.1f}",
             f"Why: {v['why']}", v["link"] or v["url"] or "(no link)"]
    if v["matched"]:
        lines.append(f"Matched: {v['matched']}")
    if v["snippet"]:
        lines += ["", f'"{v["snippet"]}"']
    lines += ["", "--", "An immediate alert from tipwatch; the daily digest lists it as alerted, not as new."]
    return "\n".join(lines) + "\n"


def email_message(channel: EmailChannel, target: str, item: dict, reasons: list[str]) -> Message:
    v = view(item, reasons)
    msg = _alert_email(channel, target, f"ALERT: {v['title']}", [v["id"]], email_text(v))
    return Message("email", 0, [v["id"]], msg, f"alert email to {', '.join(channel.to)}: article {v['id']}")


def _alert_email(channel: EmailChannel, target: str, subject: str, ids: list[int], text: str) -> EmailMessage:
    msg = EmailMessage()
    prefix = render.clean(channel.subject_prefix)
    msg["Subject"] = f"{prefix} {subject}" if prefix else subject
    msg["From"] = channel.sender
    msg["To"] = ", ".join(channel.to) if channel.to else "undisclosed-recipients:;"
    msg["Date"] = formatdate(localtime=True)
    # the same alert to the same target keeps its Message-ID: a resend after an ambiguous
    # failure is recognisable as a duplicate by mail systems
    single = len(ids) == 1
    fingerprint = hashlib.sha256(f"{target}|{ids[0] if single else ids}|{channel.to}".encode()).hexdigest()[:16]
    domain = parseaddr(channel.sender)[1].rpartition("@")[2] or "localhost"
    key = f"alert.{ids[0]}" if single else f"alerts.{ids[0]}-{ids[-1]}"
    msg["Message-ID"] = f"<tipwatch.{key}.{fingerprint}@{domain}>"
    msg["X-Tipwatch-Alert"] = ", ".join(map(str, ids))
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return msg


def slack_payload(v: dict) -> dict:
    meta = " · ".join(render.slack_fit(p, 120) for p in (v["source"], v["published"], v["language"])) \
        + f" · score {v['score']:.1f}"
    text = "\n".join([f":rotating_light: *ALERT: {render.slack_link(v['link'], v['title'], 400)}*", meta,
                      "Why: " + render.slack_fit(v["why"], 600)]
                     + (["Matched: " + render.slack_fit(v["matched"], 400)] if v["matched"] else []))
    if v["snippet"]:
        text += "\n>" + render.slack_fit(v["snippet"], 1200)
    return {"text": f"tipwatch ALERT: {v['title']}"[:render.SLACK_FALLBACK_TEXT],
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:render.SLACK_SECTION_TEXT],
                                                    "verbatim": True}}]}


def slack_message(channel: SlackChannel, target: str, item: dict, reasons: list[str]) -> Message:
    v = view(item, reasons)
    return Message("slack", 0, [v["id"]], slack_payload(v), f"alert slack {channel.channel}: article {v['id']}")


def alert_message(channel, target: str, item: dict, reasons: list[str]) -> Message:
    if isinstance(channel, EmailChannel):
        return email_message(channel, target, item, reasons)
    return slack_message(channel, target, item, reasons)


# ---- a backlog of alerts as one message: a first crawl of a new source, or a crawl after an
# outage, may find dozens at once, and a desk drowned in separate alerts stops reading them

def batch_email_message(channel: EmailChannel, target: str, items: list[tuple[dict, list[str]]]) -> Message:
    views = [view(item, reasons) for item, reasons in items]
    ids = [v["id"] for v in views]
    blocks = [email_text(v).split("\n--\n")[0].rstrip() for v in views]
    text = (f"{len(views)} new items qualified for an immediate alert at once; here they are together.\n\n"
            + "\n\n* * *\n\n".join(f"{n}. {b}" for n, b in enumerate(blocks, 1))
            + "\n\n--\nImmediate alerts from tipwatch; the daily digest lists them as alerted, not as new.\n")
    msg = _alert_email(channel, target, f"ALERT: {len(views)} new items — {views[0]['title']}", ids, text)
    return Message("email", 0, ids, msg, f"alert email to {', '.join(channel.to)}: articles {ids}")


def batch_slack_message(channel: SlackChannel, target: str, items: list[tuple[dict, list[str]]]) -> Message:
    views = [view(item, reasons) for item, reasons in items]
    intro = {"type": "section", "text": {"type": "mrkdwn", "verbatim": True,
                                         "text": f":rotating_light: *{len(views)} new items qualified for an "
                                                 "immediate alert at once*"}}
    sections = [slack_payload(dict(v, snippet=""))["blocks"][0] for v in views]  # no quote: a list, kept short
    payload = {"text": f"tipwatch ALERT: {len(views)} new items"[:render.SLACK_FALLBACK_TEXT],
               "blocks": [intro, *sections]}
    ids = [v["id"] for v in views]
    return Message("slack", 0, ids, payload, f"alert slack {channel.channel}: articles {ids}")


def batch_message(channel, target: str, items: list[tuple[dict, list[str]]]) -> Message:
    if isinstance(channel, EmailChannel):
        return batch_email_message(channel, target, items)
    return batch_slack_message(channel, target, items)
