"""Log lines about items that name the page, not print it.

Scrapy's own formatter writes the whole item into the log when it is dropped or fails: here an
item carries the fetched page, up to DOWNLOAD_MAXSIZE of it, so every duplicate, old or
unreadable page would copy megabytes (a PDF's binary, say) into the crawl log. Each drop is
already counted per source, and a failure recorded in crawl_errors, so one line naming the URL
is enough.
"""
from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter


def _item_url(item) -> str:
    url = getattr(item, "url", None)  # a FetchedPage (pipeline/records.py)
    if url is not None:
        return str(url)
    try:
        return str(item.get("url", "(no url)"))
    except AttributeError:
        return f"(a {type(item).__name__})"


class PageLogFormatter(LogFormatter):
    def dropped(self, item, exception, response, spider):
        # a drop is an outcome (duplicate, too old, recorded extraction failure), not a warning
        return {"level": logging.INFO, "msg": "Dropped: %(exception)s", "args": {"exception": exception}}

    def item_error(self, item, exception, response, spider):
        return {"level": logging.ERROR, "msg": "Error processing the page from %(url)s",
                "args": {"url": _item_url(item)}}
