"""Commands on the stored articles: init, import-seeds, classify, places, label."""
from __future__ import annotations

import sys

import click

from pipeline import store
from pipeline.enrich import enrich_stored
from pipeline.seeds import import_seeds
from pipeline.topic.reclassify import reclassify
from tipwatch.commands import CommandError
from tipwatch.config import Config
from tipwatch.progress import progress
from tipwatch.stages import enrich_files, stage_settings

RECLASSIFY_LISTED = 50  # flips listed one per line; more are counted


def init(config: Config) -> None:
    db = store.open_db(config.db)
    click.echo(f"{config.db}: schema version {store.schema_version(db)}, "
               f"{store.article_count(db)} articles")


def seeds(config: Config) -> None:
    db = store.open_db(config.db)
    for row in import_seeds(db, stage_settings(config, db), config.seeds_dir):
        click.echo(f"seed {row['id']}: {'FLAGGED' if row['flagged'] else 'not flagged'}: {row['title']}")


def classify(config: Config) -> None:
    config.require_db()
    with progress("classify") as on_progress:
        db = store.open_db(config.db)
        counts = reclassify(db, str(config.profile), stage_settings(config, db).model, on_progress=on_progress)
    for line in reclassify_lines(counts):
        click.echo(line)
    if counts["interrupted"]:  # each classification stored so far is kept; a re-run redoes the rest
        click.echo("interrupted: the articles classified so far are stored; run it again for the rest")
        sys.exit(130)


def reclassify_lines(counts: dict) -> list[str]:
    """`classify --all`'s report: the decisions that changed, listed (+ newly flagged, - no longer)."""
    flips = counts["decisions"]
    up = sum(1 for _, now, _ in flips if now)
    lines = [f"{counts['articles']} articles classified: {len(flips)} decisions changed ({up} newly flagged, "
             f"{len(flips) - up} no longer flagged), {counts['flagged']} flagged (model {counts['model']}); "
             f"{counts['rewritten']} stored classifications rewritten"]
    return lines + flip_lines(flips)


def flip_lines(flips: list, listed: int = RECLASSIFY_LISTED) -> list[str]:
    """The changed decisions, one per line (+ newly flagged, - no longer), then a count of the rest."""
    lines = [f"  {'+' if now else '-'} {article_id}: {' '.join(title.split())[:100]}"
             for article_id, now, title in flips[:listed]]
    if len(flips) > listed:
        lines.append(f"  … and {len(flips) - listed} more (see the classifications table)")
    return lines


def places(config: Config, everything: bool) -> None:
    config.require_db()
    counts = enrich_stored(store.open_db(config.db), enrich_files(config), everything=everything)
    click.echo(f"{counts['articles']} articles read: {counts['places']} places, {counts['gists']} gists")


def label(config: Config, ref: str, verdict: str, note: str | None) -> None:
    config.require_db()
    db = store.open_db(config.db)
    article = store.article_ref(db, ref)
    if article is None:
        raise CommandError(f"no stored article has the id or URL {ref!r}")
    previous = store.save_label(db, article["id"], verdict == "yes", note)
    change = "" if previous is None else f" (was {'yes' if previous else 'no'})"
    click.echo(f"article {article['id']} labelled {verdict}{change}: {article['title']}")
