"""Run the Scrapy crawl from Python and report what it did, per source.

Scrapy's reactor cannot be restarted, so `run_crawl` may be called once per
process; the daemon and the demo run it in a fresh subprocess each time.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path


class CrawlError(RuntimeError):
    """The crawl could not run at all (as opposed to sources failing, which is recorded)."""


@dataclass
class CrawlOptions:
    db: Path
    sources_file: Path
    source_names: tuple[str, ...] = ()
    since: str | None = None
    lookback_days: int | None = None
    log_file: Path | None = None
    settings: dict = field(default_factory=dict)


def scrapy_settings(options: CrawlOptions):
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("TIPWATCH_DB", str(options.db), priority="cmdline")
    settings.set("TIPWATCH_SOURCES", str(options.sources_file), priority="cmdline")
    if options.lookback_days is not None:
        settings.set("TIPWATCH_LOOKBACK_DAYS", options.lookback_days, priority="cmdline")
    if options.log_file:
        options.log_file.parent.mkdir(parents=True, exist_ok=True)
        settings.set("LOG_FILE", str(options.log_file), priority="cmdline")
        settings.set("LOG_FILE_APPEND", True, priority="cmdline")
    else:
        settings.set("LOG_ENABLED", False, priority="cmdline")
    for key, value in options.settings.items():
        settings.set(key, value, priority="cmdline")
    return settings


def run_crawl(options: CrawlOptions) -> int:
    """Crawl the selected sources in this process; returns the crawl run's id."""
    from scrapy.crawler import CrawlerProcess

    from crawler.spiders.news import NewsSpider

    process = CrawlerProcess(scrapy_settings(options))
    crawler = process.create_crawler(NewsSpider)
    failures = []
    started = process.crawl(crawler, source=",".join(options.source_names),
                            sources_file=str(options.sources_file), since=options.since or "")
    started.addErrback(failures.append)
    process.start()
    logging.getLogger("scrapy").handlers.clear()
    spider = getattr(crawler, "spider", None)
    if failures or spider is None or not hasattr(spider, "run_id"):
        reason = failures[0].getErrorMessage() if failures else "the spider did not start"
        where = f"; see {options.log_file}" if options.log_file else ""
        raise CrawlError(f"the crawl failed: {reason}{where}")
    return spider.run_id


def crawl_command(options: CrawlOptions) -> list[str]:
    """`tipwatch crawl` for a fresh process: the daemon crawls many times, and Scrapy's
    reactor runs once per process."""
    args = [sys.executable, "-m", "tipwatch.cli", "crawl", "--quiet", "--db", str(options.db),
            "--sources", str(options.sources_file)]
    for name in options.source_names:
        args += ["--source", name]
    if options.since:
        args += ["--since", options.since]
    if options.lookback_days is not None:
        args += ["--lookback-days", str(options.lookback_days)]
    if options.log_file:
        args += ["--log-file", str(options.log_file)]
    for name, value in options.settings.items():
        args += ["-s", f"{name}={value}"]
    return args


# ---------------------------------------------------------------- reporting

def source_lines(db, run_id: int) -> list[str]:
    """One line per source: what the run fetched, stored, flagged and failed on;
    an unreachable source says so plainly."""
    from pipeline import store

    errors = store.run_errors(db, run_id)
    lines = []
    for row in store.run_stats(db, run_id):
        source = row["source"]
        own_errors = [e for e in errors if e["source"] == source]
        if row["responses"] == 0 and own_errors:
            reason = own_errors[0]["detail"] or own_errors[0]["kind"]
            lines.append(f"{source}: unreachable ({own_errors[0]['kind']}: {reason}); "
                         f"{row['requests']} requests, no response")
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(row["error_counts"].items()))
        lines.append(
            f"{source}: {row['requests']} requests, {row['articles_fetched']} articles fetched, "
            f"{row['articles_stored']} stored, {row['articles_flagged']} flagged, "
            f"{row['skipped_known']} known, {row['skipped_old']} too old, "
            f"{row['errors']} errors" + (f" ({kinds})" if kinds else ""))
    return lines
