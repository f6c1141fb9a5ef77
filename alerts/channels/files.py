"""The file channel: the digest as a Markdown file, `<directory>/DAY.md` (Jinja2 template
alerts/templates/digest.md.j2), the record an analyst reads and keeps.

Written whole and atomically (a temporary file, then a rename), and only when its text changed:
re-running the same day rewrites the same file, and a reader never sees half of one.
"""
from __future__ import annotations

import re
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from alerts.channels.base import Channel, Message
from alerts.render import digest_ids, join_terms

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


class FileChannel(Channel):
    """The day's digest file in `directory`; every digest has one, even an empty day's."""

    name = "file"
    send_empty = True

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileChannel({str(self.directory)!r})"

    @property
    def ready(self) -> bool:
        return True

    def path_for(self, day: str) -> Path:
        return self.directory / f"{day}.md"

    def messages(self, digest: dict) -> list[Message]:
        path = self.path_for(digest["day"])
        ids = digest_ids(digest)
        return [Message(self.name, 0, ids, {"path": path, "text": render_markdown(digest)},
                        f"file {path} ({len(ids)} articles)")]

    def preview(self, message: Message) -> str:
        return message.payload["text"]

    def deliver(self, message: Message) -> None:
        path: Path = message.payload["path"]
        text: str = message.payload["text"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return  # unchanged: leave the file (and its modification time) as it is
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
