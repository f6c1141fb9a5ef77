"""`tipwatch sources`: the sources file validated and listed."""
from __future__ import annotations

import click

from pipeline.sources import SourcesError, load_sources
from tipwatch.commands import CommandError
from tipwatch.config import Config


def list_sources(config: Config) -> None:
    try:
        sources = load_sources(config.sources)
    except SourcesError as exc:
        raise CommandError(str(exc)) from None
    for src in sources:
        state = "enabled" if src.enabled else "disabled"
        click.echo(f"{src.name}\t{src.language}\t{state}\t{src.title}\t"
                   f"{len(src.feeds)} feeds, {len(src.sitemaps)} sitemaps, {len(src.listings)} listings")
