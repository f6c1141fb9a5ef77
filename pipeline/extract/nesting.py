"""Pages nested deeper than the HTML parser follows.

libxml2 (under lxml, under trafilatura) stops building the tree 256 elements deep and drops what
lies below, so an article wrapped in thousands of <div>s (a broken template, or a page built to
defeat scrapers) comes out empty. Such a page is read again with its layout-only container tags
removed: the paragraphs, headings and links inside keep their own tags, and the text its order.
The scan and the rewrite are linear in the page's size; a page is capped before it gets here
(DOWNLOAD_MAXSIZE), so memory stays bounded. A page whose <title> is never closed comes out empty
too (the parser takes the rest of the page for the title): it is read again with the title closed.
"""
from __future__ import annotations

import re

PARSER_DEPTH = 256  # libxml2's limit without XML_PARSE_HUGE
# tags that only lay out: removing them leaves the text and its block structure to <p>, <h1>, <li>…
_LAYOUT_TAG = re.compile(r"</?(?:div|span|section|font|center|main|aside|header|footer|nav)\b[^>]*>", re.IGNORECASE)


def nesting_depth(html: str) -> int:
    """The deepest nesting of layout tags in *html* (a tag-soup estimate: unclosed tags count)."""
    depth = deepest = 0
    for match in _LAYOUT_TAG.finditer(html):
        if match.group(0)[1] == "/":
            depth = max(depth - 1, 0)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def too_deep(html: str) -> bool:
    return nesting_depth(html) >= PARSER_DEPTH - 16  # the parser needs a few levels of its own


def flattened(html: str) -> str:
    """*html* without its layout tags."""
    return _LAYOUT_TAG.sub(" ", html)


_TITLE_OPEN = re.compile(r"<title\b[^>]*>", re.IGNORECASE)


def closed_title(html: str) -> str | None:
    """*html* with its <title> closed where its text ends, when the page never closes it (a
    mangled head): the parser reads everything after an unclosed <title> as the title's text, so
    the page has no body at all. None when the title is closed."""
    match = _TITLE_OPEN.search(html)
    if match is None or re.search(r"</title\s*>", html[match.end():], re.IGNORECASE):
        return None
    end = html.find("<", match.end())
    return None if end < 0 else html[:end] + "</title>" + html[end:]
