"""Scrapy's settings module for `scrapy crawl news -a source=vns` (scrapy.cfg points here):
crawler/settings.py's plain defaults, with what tipwatch's configuration says on top (its file
and the TIPWATCH_* environment, as a `tipwatch crawl` would read them)."""
from crawler.settings import *  # noqa: F401,F403 (Scrapy reads this module's upper-case names)
from tipwatch.config import load

_config = load()
_settings = _config.crawl_settings()
if "warc_dir" not in _config.given:
    # not set: pages are kept beside whatever database the crawl writes, so that
    # `scrapy crawl news -s TIPWATCH_DB=other.db` keeps them by other.db (crawler/paths.warc_dir)
    del _settings["TIPWATCH_WARC_DIR"]
globals().update(_settings)
