"""Article metadata (title, author, sitename, description, tags, image) from trafilatura's
helpers, without its date, URL and licence look-ups."""
from __future__ import annotations

import re


def _metadata(tree, url: str):
    """trafilatura's metadata (a trafilatura Document) without the parts tipwatch does not use
    and which cost most: htmldate (pipeline.extract.dates finds the date), the canonical-URL and
    hostname look-ups (see _canonical) and the licence search."""
    from trafilatura import metadata as tm

    try:
        md = tm.examine_meta(tree)
        if md.author and " " not in md.author:
            md.author = None
        try:
            md = tm.extract_meta_json(tree, md)
        except Exception:  # trafilatura's JSON-LD parsing is best-effort
            pass
        if not md.title:
            md.title = tm.extract_title(tree)
        if not md.author:
            md.author = _author(tree)
        if not md.sitename:
            md.sitename = tm.extract_sitename(tree)
        if md.sitename:
            md.sitename = md.sitename.lstrip("@")
            if md.sitename and "." not in md.sitename and not md.sitename[0].isupper():
                md.sitename = md.sitename.title()
        elif url:
            m = tm.META_URL.match(url)
            if m:
                md.sitename = m[1]
        if not md.categories or not md.tags:
            # extract_catstags only keeps links whose href has /categor.../ or /tag.../: a page
            # without such a link needs none of its (costly) XPath searches
            hrefs = [a.get("href") or "" for a in tree.iter("a")]
            if not md.categories:
                if any("/categor" in h for h in hrefs):
                    md.categories = tm.extract_catstags("category", tree)
                else:  # extract_catstags' own fallback
                    from trafilatura.utils import line_processing
                    sections = [el.get("content") for el in tree.xpath(
                        './/head//meta[@property="article:section" or contains(@name, "subject")][@content]')]
                    md.categories = [r for r in dict.fromkeys(line_processing(x) for x in sections if x) if r]
            if not md.tags and any("/tag" in h for h in hrefs):
                md.tags = tm.extract_catstags("tag", tree)
        md.clean_and_trim()
        return md
    except AttributeError:  # a trafilatura without these helpers: its full metadata search
        try:
            return tm.extract_metadata(tree, url, {"extensive_search": False, "original_date": True})
        except Exception:
            return None
    except Exception:  # metadata is best-effort: the article must not be lost with it
        return None


# trafilatura 2.3's byline search (xpaths.AUTHOR_XPATHS, AUTHOR_DISCARD_XPATHS), as predicates
# on one element's own attributes: its XPaths call a Python regex per element through EXSLT, and
# three of them plus the pruning pass cost ~10 ms on a big page; one walk over the tree costs ~1.
# Pages where the two disagree are caught by tests/test_extract.py::test_byline_search_*.
_DISCARD_ID = re.compile(r"^comments|comment-?list|ProductReviews")
_DISCARD_CLASS = re.compile(r"^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                            r"article-(?:share|support)|print|category|meta-date|meta-reviewer")
_NAME_CLASS = re.compile(r"author-?name|AuthorName|authorName")
_BYLINE_ID = re.compile(r"author|zuozhe|bianji|xiaobian")
_BYLINE_CLASS = re.compile(r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ANY_ID = re.compile(r"[Aa]uthor")
_ANY_CLASS = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")


def _discarded(tag: str, get) -> bool:
    if tag in ("time", "figure"):
        return True
    if tag not in ("a", "div", "section", "span"):
        return False
    cls, ident = get("class"), get("id")
    return (ident == "comments" or cls in ("comments", "title", "date")
            or (ident is not None and _DISCARD_ID.search(ident) is not None)
            or (cls is not None and _DISCARD_CLASS.search(cls) is not None)
            or "Figure" in (get("data-component") or ""))


def _byline_rank(element, tag: str, get) -> int | None:
    """Which of trafilatura's three byline expressions (0: specific ... 2: last resort) the
    element matches first, if any."""
    cls, ident, itemprop = get("class"), get("id") or "", get("itemprop") or ""
    if tag == "author" or (tag in ("a", "address", "div", "link", "p", "span", "strong") and (
            get("rel") == "author" or ident == "author" or cls == "author" or itemprop == "author name"
            or get("data-testid") in ("AuthorCard", "AuthorURL")
            or (cls is not None and _NAME_CLASS.search(cls) is not None)
            or any(child.tag == "rel" and child.text_content() == "me" for child in element))):
        return 0
    if tag in ("a", "div", "h3", "h4", "p", "span") and (
            cls in ("byline", "username", "byl", "BBL") or "author" in itemprop or _BYLINE_ID.search(ident)
            or (cls is not None and _BYLINE_CLASS.search(cls) is not None)):
        return 1
    if ("Byline" in (get("data-component") or "") or "author" in itemprop or _ANY_ID.search(ident)
            or (cls is not None and _ANY_CLASS.search(cls) is not None)):
        return 2
    return None


def _author(tree) -> str | None:
    """trafilatura's extract_author without its copy of the whole page and its regex XPaths:
    the first element (in the order of its expressions, then of the page) that names a byline,
    outside what it would have pruned first (comments, sidebars, <time>, <figure>), whose text
    without the pruned parts is 3-119 characters."""
    from trafilatura.json_metadata import normalize_authors
    from trafilatura.utils import trim

    pruned: set = set()
    ranked: list[list] = [[], [], []]
    for element in tree.iter():
        tag = element.tag
        if not isinstance(tag, str):
            continue
        get = element.get
        if _discarded(tag, get):
            pruned.add(element)
        rank = _byline_rank(element, tag, get)
        if rank is not None:
            ranked[rank].append(element)
    for candidates in ranked:
        for element in candidates:
            if element in pruned or any(a in pruned for a in element.iterancestors()):
                continue
            content = trim(" ".join(_text_outside(element, pruned)))
            if content and 2 < len(content) < 120:
                return normalize_authors(None, content)
    return None


def _text_outside(element, pruned: set) -> list[str]:
    """element.itertext() without the text of the pruned elements below it (their tails stay,
    as trafilatura's delete_element keeps them)."""
    parts: list[str] = []

    def walk(node) -> None:
        if isinstance(node.tag, str) and node.text:  # comments and processing instructions: no text
            parts.append(node.text)
        for child in node:
            if child not in pruned:
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return parts
