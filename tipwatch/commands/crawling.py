"""`tipwatch crawl` and `tipwatch run`: a crawl under the database's work lock, then immediate
alerts (and for `run`, the digest)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

from alerts.immediate import send_alerts
from crawler.spiders.news import parse_since
from pipeline import store
from pipeline.archive import PageArchive
from pipeline.archive.retention import prune as prune_archive
from pipeline.sources import SourcesError, load_sources, select_sources
from tipwatch.commands import CommandError
from tipwatch.commands.archive import prune_lines
from tipwatch.commands.digesting import load_teams, write_and_send
from tipwatch.commands.topic import check_profile
from tipwatch.config import Config
from tipwatch.crawl import CrawlOptions, reconsider_old_pages, run_crawl, source_lines
from tipwatch.lock import LockBusy, work_lock


def crawl(config: Config, options: CrawlOptions, quiet: bool, workers: int = 2) -> None:
    """Holds the database's work lock, as `run` does: while another crawl, `run` or daemon job
    holds it, fails at once (a cron line simply tries again at its next time)."""
    _check(config, options)
    with _locked(config, "tipwatch crawl"):
        lines = _crawl(config, options, workers)
        for line in [] if quiet else lines:
            click.echo(line)
        _send_alerts(config, quiet)


def run(config: Config, options: CrawlOptions, workers: int = 2) -> None:
    """One full cycle for cron: crawl, immediate alerts, then the digest (and each subscription's)."""
    _check(config, options)
    with _locked(config, "tipwatch run"):
        for line in _crawl(config, options, workers):
            click.echo(line)
        _send_alerts(config, quiet=False)
        alerting, _ = load_teams(config, sending=False)
        write_and_send(config, None, {}, alerting)


def _check(config: Config, options: CrawlOptions) -> None:
    """Everything the crawl needs is valid, before the lock is taken or a page fetched."""
    try:
        select_sources(load_sources(config.sources), options.source_names)
        if options.since:
            parse_since(options.since)
    except (SourcesError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    check_profile(config)


@contextmanager
def _locked(config: Config, job: str):
    """The work lock; its refusal is the command's error."""
    try:
        with work_lock(config.db, job, config.environ) as held:
            yield held
    except LockBusy as exc:
        raise CommandError(str(exc)) from None


def _crawl(config: Config, options: CrawlOptions, workers: int = 2) -> list[str]:
    reconsidered = reconsider_old_pages(options)  # a widened window: too-old pages from the archive
    run_id = _run_crawl(config, options, workers)
    return reconsidered + source_lines(store.open_db(config.db), run_id) + _apply_retention(config)


def _apply_retention(config: Config) -> list[str]:
    """The archive's retention, after each crawl and under its work lock (no crawl writes a
    reference meanwhile): the line that says what went, or none when nothing did. A file that
    cannot be deleted is the archive's problem, not the crawl's: said, and the crawl succeeds."""
    days = config.warc_retention_days
    if days <= 0 or not config.warc_dir.is_dir():
        return []  # 0: every page kept for ever
    try:
        report = prune_archive(store.open_db(config.db), PageArchive(config.warc_dir), days,
                               keep_flagged=config.warc_keep_flagged)
    except OSError as exc:
        return [f"archive retention not applied: {exc}"]
    return prune_lines(report, days)[:1] if report.deleted or report.split else []


def _run_crawl(config: Config, options: CrawlOptions, workers: int) -> int:
    """Embedded (this process), or distributed over worker processes when the configuration
    names a Redis (`--redis`, TIPWATCH_REDIS_URL): the same run, the same summary."""
    if not config.redis_url:
        return run_crawl(options)
    from tipwatch.distributed import run_distributed  # here: the embedded crawl never loads redis

    return run_distributed(options, workers)


def _send_alerts(config: Config, quiet: bool) -> None:
    """The immediate alerts due once a crawl ended: sent before the command returns. A problem
    (a channel down, a secret not set) is one line on stderr; the crawl itself succeeded."""
    info, problems = send_alerts(store.open_db(config.db), config.channels, config.environ)
    for line in [] if quiet else info:
        click.echo(line)
    for line in problems:
        click.echo(line, err=True)


def crawl_options(config: Config, source_names, since, lookback_days, log_file: Path | None,
                  settings: dict) -> CrawlOptions:
    return CrawlOptions(config=config, source_names=tuple(source_names), since=since, lookback_days=lookback_days,
                        log_file=log_file or config.db.parent / "crawl.log", settings=settings)
