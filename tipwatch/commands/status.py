"""`tipwatch status`: the health of every source."""
from __future__ import annotations

import json

import click

from pipeline import store
from pipeline.sources import SourcesError, load_sources
from pipeline.store.health import source_health, status_table
from tipwatch.config import Config


def status(config: Config, as_json: bool) -> None:
    config.require_db()
    try:
        sources = load_sources(config.sources)
    except SourcesError:
        sources = []  # a broken sources file: still report the sources the database knows
    rows = source_health(store.open_db(config.db), sources)
    if as_json:
        # distributed mode (a Redis configured): the crawl's backlogs and heartbeats beside the sources
        shown = {"sources": rows, "distributed": _distributed_rows(config)} if config.redis_url else rows
        click.echo(json.dumps(shown, indent=2, ensure_ascii=False))
        return
    for line in status_table(rows):
        click.echo(line)
    if config.redis_url:
        from tipwatch.commands.distributed import status_lines

        for line in status_lines(config):
            click.echo(line)


def _distributed_rows(config: Config) -> list[dict]:
    from tipwatch.commands.distributed import status_rows

    return status_rows(config)
