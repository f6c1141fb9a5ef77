"""Commands on the kept pages: `tipwatch reprocess` (stored articles read again from their WARC
records) and `tipwatch archive prune` (the retention)."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date

import click

from pipeline import store
from pipeline.archive import PageArchive
from pipeline.archive.retention import prune as prune_archive
from pipeline.reprocess import ReprocessJob
from pipeline.reprocess import reprocess as reprocess_articles
from pipeline.sources import SourcesError, load_sources
from tipwatch.commands import CommandError
from tipwatch.commands.database import flip_lines
from tipwatch.config import Config
from tipwatch.lock import LockBusy, work_lock
from tipwatch.progress import progress
from tipwatch.stages import stage_settings

LISTED = 50  # flipped decisions listed one per line; more are counted
INTERRUPTED_EXIT = 130  # as a shell reports a command ended by Ctrl-C


def reprocess(config: Config, source: str | None, since: str | None, everything: bool, redo: bool) -> None:
    """Re-extract and re-classify the chosen stored articles from their records; no network."""
    if not (source or since or everything):
        raise CommandError("say which articles to reprocess: --all, --source NAME and/or --since DATE")
    if since:
        _check_date(since)
    config.require_db()
    db = store.open_db(config.db)
    job = ReprocessJob(stages=stage_settings(config, db), sources=_sources(config), source=source, since=since,
                       redo=redo)
    # no work lock: each article is one transaction, and a crawl never rewrites a stored article
    with progress("reprocess") as on_progress:
        report = reprocess_articles(db, PageArchive(config.warc_dir), job, on_progress)
    for line in reprocess_lines(report):
        click.echo(line)
    if report.interrupted:
        sys.exit(INTERRUPTED_EXIT)


def _check_date(value: str) -> None:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: expected a date like 2026-11-01, got {value!r}") from None


def _sources(config: Config) -> dict:
    """Each source's language and timezone, as the crawl read its pages with."""
    try:
        return {source.name: source for source in load_sources(config.sources)}
    except SourcesError as exc:
        raise CommandError(str(exc)) from None


def reprocess_lines(report) -> list[str]:
    """What reprocess did, and the decisions it changed (+ newly flagged, - no longer)."""
    flips = report.decisions
    up = sum(1 for _, now, _ in flips if now)
    lines = [f"{report.selected} articles: {report.reprocessed} reprocessed from the archive, "
             f"{report.skipped} already reprocessed with this profile, model and extractor; "
             f"{report.text_changed} changed text, {report.date_changed} changed date, "
             f"{len(flips)} changed decision ({up} newly flagged, {len(flips) - up} no longer flagged); "
             f"{report.no_record} with no record, {report.unreadable} with an unreadable record, "
             f"{report.failed} no longer extract"]
    lines += flip_lines(flips, LISTED)
    if report.interrupted:
        lines.append("interrupted: what was done is stored; run the same command again to go on")
    return lines


def prune(config: Config, dry_run: bool, retention_days: int | None) -> None:
    """Delete the kept pages past the retention (the flagged articles' pages stay)."""
    config.require_db()
    days = config.warc_retention_days if retention_days is None else retention_days
    if days <= 0:
        raise CommandError(f"the retention is {days} days: pages are kept for ever (give --retention-days N, "
                           "N at least 1, to prune)")
    with _locked(config, "tipwatch archive prune"):
        report = prune_archive(store.open_db(config.db), PageArchive(config.warc_dir), days,
                               keep_flagged=config.warc_keep_flagged, dry_run=dry_run)
    for line in prune_lines(report, days):
        click.echo(line)


def prune_lines(report, days: int) -> list[str]:
    verb = "would delete" if report.dry_run else "deleted"
    kept = sum(count for _, _, count in report.split)
    lines = [f"retention {days} days: {verb} {len(report.deleted)} files whole and {len(report.split)} in part "
             f"(keeping {kept} pages of flagged articles), {report.bytes_freed / 1e6:.1f} MB; "
             f"{report.refs_cleared} references cleared"]
    lines += [f"  {verb}: {file}" for file in report.deleted]
    lines += [f"  {'would keep' if report.dry_run else 'kept'} {count} of {old} in {new}"
              for old, new, count in report.split]
    return lines


@contextmanager
def _locked(config: Config, job: str):
    """The database's work lock: no crawl stores a reference into a file being pruned."""
    try:
        with work_lock(config.db, job, config.environ):
            yield
    except LockBusy as exc:
        raise CommandError(str(exc)) from None
