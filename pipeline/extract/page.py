"""The parsed page: its visible text and headline position (for dates), meta tags, canonical
URL, link texts; and its preparation for the body extractor (layout tables flattened, captions
and side columns dropped) with the Vietnamese-style standfirst ("sapo") trafilatura leaves out."""
from __future__ import annotations

import re
from urllib.parse import urljoin

from pipeline.extract.cleanup import _nfc, _squash, _words

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th",
          "table", "section", "article", "header", "footer", "aside", "nav", "blockquote", "figure",
          "figcaption", "dd", "dt", "dl", "form", "main", "hr", "pre", "address"}


_SKIP = {"script", "style", "noscript", "template", "svg", "head", "iframe", "select", "option", "button"}


def _page_text(tree, limit: int = 300_000) -> str:
    """Visible-ish text of the page in document order, block elements on their own lines."""
    from lxml import etree
    parts: list[str] = []
    size = 0
    walker = etree.iterwalk(tree, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower()
        if event == "start":
            if tag in _SKIP or not tag:
                walker.skip_subtree()
                if el.tail and el is not tree:
                    parts.append(el.tail)
                continue
            if tag in _BLOCK:
                parts.append("\n")
            if el.text:
                parts.append(el.text)
                size += len(el.text)
        else:
            if tag in _BLOCK:
                parts.append("\n")
            if el.tail and el is not tree:
                parts.append(el.tail)
                size += len(el.tail)
        if size > limit:
            break
    text = "".join(parts)
    text = re.sub(r"[ \t\r\f\v\u00a0]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text)


def _headline_pos(page_text: str, tree, title: str | None) -> int:
    candidates = []
    for h1 in tree.iter("h1"):
        t = " ".join((h1.text_content() or "").split())
        if t:
            candidates.append(t)
        if len(candidates) >= 3:
            break
    if title:
        candidates.append(title)
    for cand in candidates:
        pos = page_text.find(cand)
        if pos >= 0:
            return pos
    return -1


def _meta(tree, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}"]'):
            if el.get("content", "").strip():
                return el.get("content").strip()
    return None


def _canonical(tree, url: str) -> str | None:
    hrefs = [el.get("href") for el in tree.xpath('//link[@href][contains(concat(" ", '
                                                   'translate(@rel, "CANONIL", "canonil"), " "), " canonical ")]')]
    hrefs.append(_meta(tree, "og:url"))
    for href in hrefs:
        if href and href.strip():
            absolute = urljoin(url, href.strip())
            if absolute.startswith(("http://", "https://")):
                return absolute
    return None


def _anchor_texts(tree) -> set[str]:
    return {t for t in (_words(a.text_content() or "") for a in tree.iter("a")) if t}


_LAYOUT_CELL_CONTENT = ".//h1 | .//h2 | .//h3 | .//div | .//table | .//ul | .//form"


# "caption" / "Caption" / "CAPTION" in the class (two plain contains() cost a third less than translate())
_CAPTIONS = ('//figcaption | //*[contains(@class, "aption") or contains(@class, "APTION")]'
             '[string-length(normalize-space()) < 400]')


def _without_layout_chrome(tree):
    """The page as trafilatura should see it: layout tables turned into plain blocks
    (else the biggest "table" — the whole page column — is taken as content), drop-down
    menus and photo captions dropped (they are not the article's prose; trafilatura's own
    pass removes menus, but its fallback extractors take a stock-ticker <select> of a
    thousand options as the page's longest text); spans inside paragraphs unwrapped."""
    from lxml.etree import strip_tags

    for menu in list(tree.iter("select")):
        if menu.getparent() is not None:
            menu.drop_tree()
    for table in list(tree.iter("table")):
        cells = table.xpath("./tr/td | ./tbody/tr/td | ./thead/tr/td")
        if any(cell.xpath(_LAYOUT_CELL_CONTENT) for cell in cells):
            for element in [table, *table.xpath("./tbody | ./thead | ./tfoot | ./tr | ./*/tr"), *cells]:
                element.tag = "div"
                for attribute in ("width", "valign", "cellpadding", "cellspacing", "colspan"):
                    element.attrib.pop(attribute, None)
    for caption in tree.xpath(_CAPTIONS):
        if caption.getparent() is not None:
            caption.drop_tree()
    # a <span> inside a paragraph only styles words of its sentence: unwrapped, so that the
    # extractor's class-name rules (a class="link" span is pruned in precision mode) cannot
    # cut words out of the middle of a sentence
    for paragraph in tree.xpath("//p[.//span]"):
        strip_tags(paragraph, "span")
    _drop_side_columns(tree)
    return tree


# class/id names of right-hand columns in table- and grid-based news CMSes; trafilatura
# already drops 'sidebar' and 'aside', and matching those here cost recall on the benchmark
# ('has-sidebar' wrappers hold the article)
_SIDE_COLUMN = re.compile(r"(?:^|[\s_-])(?:col-right|right-col|rightcol|column-right|right-column|box-right)"
                          r"(?:$|[\s_-])", re.IGNORECASE)


def _drop_side_columns(tree) -> None:
    """Side columns (most read, weather, ads) by their class or id, unless one holds the
    headline or most of the page's text, which would make it the article's own column."""
    body = next(iter(tree.iter("body")), tree)
    total = None
    candidates = []
    for element in body.iter("div", "td", "section", "aside", "ul"):
        label = f"{element.get('class') or ''} {element.get('id') or ''}"
        if ("ight" in label or "IGHT" in label) and _SIDE_COLUMN.search(label):
            candidates.append(element)
    for element in candidates:
        if element.getparent() is None:
            continue
        if total is None:
            total = len(" ".join(body.text_content().split())) or 1
        if element.xpath(".//h1") or len(" ".join(element.text_content().split())) > 0.4 * total:
            continue
        element.drop_tree()


# the standfirst block of Vietnamese (and French-school) news CMSes: "sapo", "chapeau", "chapo"
_SAPO_NAME = re.compile(r"sapo|chap+e?au|chapo", re.IGNORECASE)


def _sapo_blocks(tree) -> list:
    """Elements whose class or id names a sapo/chapeau (a plain scan: cheaper than XPath)."""
    found = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for label in (element.get("class"), element.get("id")):
            if label and ("apo" in label or "hap" in label or "APO" in label or "HAP" in label) \
                    and _SAPO_NAME.search(label):
                found.append(element)
                break
    return found


def _lead(tree, description: str | None, text: str) -> str | None:
    """The standfirst (sapo) that trafilatura leaves out when it sits outside the body
    block, as on baochinhphu.vn: the smallest visible block holding the page's own
    description, inside an element the CMS names a sapo/chapeau. In Vietnamese news it is the
    article's first paragraph, so it belongs at the head of the text. (An English-language
    dek — "sub-head", "dek", "summary" in the page header — is a subtitle, not body text, and
    is left out, as the article-extraction benchmark's annotators do.)"""
    if not description or len(description) < 60:
        return None
    key = _squash(description)
    if key[:80] in _squash(text):
        return None
    best = None
    for block in _sapo_blocks(tree):
        if any(a.tag in ("script", "noscript", "template", "head") for a in block.iterancestors()):
            continue
        for element in block.iter("p", "div", "h2", "h3", "strong", "b", "span", "section", "em"):
            own = " ".join(element.text_content().split())
            if len(own) <= 1.5 * len(description) + 40 and key in own.casefold():
                if best is None or len(own) < len(best):
                    best = own
    return _nfc(best)
