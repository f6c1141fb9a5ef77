"""Run the Scrapy crawl from Python and report what it did, per source.

Scrapy's reactor cannot be restarted, so `run_crawl` may be called once per
process; the daemon and the demo run it in a fresh subprocess each time.
"""
from __future__ import annotations

import dataclasses
import logging
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tipwatch.config import Config

if TYPE_CHECKING:  # scrapy and twisted are imported only when a crawl runs
    from twisted.python.failure import Failure


class CrawlError(RuntimeError):
    """The crawl could not run at all (as opposed to sources failing, which is recorded)."""


@dataclass
class CrawlOptions:
    config: Config            # database, sources, profile, seeds, WARC folder, crawl settings
    source_names: tuple[str, ...] = ()
    since: str | None = None
    lookback_days: int | None = None
    log_file: Path | None = None
    settings: dict = field(default_factory=dict)


def scrapy_settings(options: CrawlOptions):
    from scrapy.settings import Settings  # here: spawned extraction workers re-import the CLI

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(options.config.crawl_settings(), priority="project")
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

    from crawler.context import CrawlContext
    from crawler.spiders.news import NewsSpider

    process = CrawlerProcess(scrapy_settings(options))
    crawler = process.create_crawler(NewsSpider)
    failures: list[Failure] = []
    # --lookback-days goes to the spider too: a command's option outranks the source's own key
    started = process.crawl(crawler, source=",".join(options.source_names),
                            sources_file=str(options.config.sources), since=options.since or "",
                            lookback_days="" if options.lookback_days is None else str(options.lookback_days))
    started.addErrback(failures.append)
    process.start()
    logging.getLogger("scrapy").handlers.clear()
    context = CrawlContext.find(crawler)  # the crawl's run, once its spider started
    if failures or context is None:
        reason = failures[0].getErrorMessage() if failures else "the spider did not start"
        where = f"; see {options.log_file}" if options.log_file else ""
        raise CrawlError(f"the crawl failed: {reason}{where}")
    return context.recorder.run_id


def reconsider_old_pages(options: CrawlOptions) -> list[str]:
    """Before a crawl: the pages settled as too old that this crawl's window (a wider --since or
    look-back) now takes in are stored from their WARC records, or forgotten to be fetched again
    when no record was kept (pipeline/reconsider.py). Returns the line that says so (none when
    nothing was reconsidered)."""
    from crawler.plan import CrawlPlan
    from pipeline import store
    from pipeline.archive import PageArchive
    from pipeline.reconsider import Reading, candidates, plan, reconsider_settled
    from tipwatch.stages import stage_settings

    settings = scrapy_settings(options)  # the crawl's own windows, WARC folder and profile
    crawl_plan = CrawlPlan.from_settings(settings, options.source_names, str(options.config.sources),
                                         options.since or "")
    try:
        db = store.open_db(options.config.db)
    except sqlite3.DatabaseError:
        return []  # a database the crawl cannot open either: its own error says so, in one line
    chosen = plan(candidates(db, crawl_plan.window_start), crawl_plan.window_start)
    if not (chosen.from_record or chosen.refetch):
        return []  # the common case: no model loaded, nothing read
    stages = dataclasses.replace(stage_settings(options.config, db),
                                 min_chars=settings.getint("TIPWATCH_MIN_CHARS", 200))
    reading = Reading(stages, crawl_plan.sources)
    report = reconsider_settled(db, PageArchive(settings.get("TIPWATCH_WARC_DIR")), crawl_plan.window_start, reading)
    return [f"pages settled as too old, now inside the window: {report.stored} stored from the archive, "
            f"{report.duplicates} already stored, {report.refetch} to fetch again (no record kept), "
            f"{report.still_old} still too old, {report.failed} no longer extract"]


def crawl_command(options: CrawlOptions) -> list[str]:
    """`tipwatch crawl` for a fresh process: the daemon crawls many times, and Scrapy's
    reactor runs once per process. The child reads the same configuration file and environment;
    the paths are passed as options, the profile included."""
    config = options.config
    args = [sys.executable, "-m", "tipwatch.cli"]
    if config.config_file:
        args += ["--config", str(config.config_file)]
    args += ["crawl", "--quiet", "--db", str(config.db), "--sources", str(config.sources),
             "--profile", str(config.profile), "--channels", str(config.channels)]
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
