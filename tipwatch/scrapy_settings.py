"""Scrapy's settings module for `scrapy crawl news -a source=vns` (scrapy.cfg points here):
crawler/settings.py's plain defaults, with what tipwatch's configuration says on top (its file
and the TIPWATCH_* environment, as a `tipwatch crawl` would read them)."""
from crawler.settings import *  # noqa: F401,F403 (Scrapy reads this module's upper-case names)
from tipwatch.config import load

globals().update(load().crawl_settings())
