"""Article metadata (title, author, sitename, description, tags, image) from trafilatura's
helpers, without its date, URL and licence look-ups."""
from __future__ import annotations


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
            md.author = tm.extract_author(tree)
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
