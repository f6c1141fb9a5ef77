"""`tipwatch`: the command line. Each command parses options and calls one function.

The group builds the configuration (tipwatch/config.py: defaults → file → environment); each
command lays its options on top and hands the result to its job in tipwatch/commands/ (or the
daemon, demo and serve modules).

A command imports its job module when it runs, and nothing else here loads the stages. Besides a
quick `--help`, that matters to the crawl: its extraction workers are spawned processes, and
spawning re-imports the main module, this one; the database layer (sqlite-utils, which loads
NumPy) would cost each worker ~25 MB.
"""
from __future__ import annotations

import functools
import sqlite3
import sys
from pathlib import Path

import click

from pipeline.topic.labelled import LabelledError
from pipeline.topic.model import ModelError
from pipeline.topic.rules import ProfileError
from tipwatch import config as configuration
from tipwatch.commands import CommandError
from tipwatch.config import Config, ConfigError
from tipwatch.crawl import CrawlError

# one line on stderr and exit 1, no traceback: a path that cannot be written, a locked or corrupt
# database, a broken profile, sources or configuration file
EXPECTED_ERRORS = (OSError, sqlite3.DatabaseError, CrawlError, ProfileError, LabelledError, ModelError,
                   ConfigError, CommandError)
# options that are settings of the configuration (their names are its fields)
CONFIG_OPTIONS = ("db", "sources", "profile", "digests", "channels", "schedule", "redis_url")


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def with_config(command):
    """The command gets the group's configuration with the given options on top (their names are
    the configuration's fields), and its expected errors become one line on stderr."""
    @functools.wraps(command)
    @click.pass_obj
    def wrapper(base: Config, **kwargs):
        fields = {name: kwargs.pop(name) for name in CONFIG_OPTIONS if name in kwargs}
        try:
            return command(base.override(**fields), **kwargs)
        except EXPECTED_ERRORS as exc:
            fail(str(exc) if isinstance(exc, (CrawlError, ProfileError, LabelledError, ModelError, ConfigError,
                                              CommandError)) else f"{exc.__class__.__name__}: {exc}")
    return wrapper


def common_options(command):
    """--db, --sources, --profile, --digests-dir on every command (the environment and the
    configuration file set them too, below an option)."""
    command = with_config(command)
    for option in reversed([
        click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="SQLite database file (default data/tipwatch.db) [env TIPWATCH_DB]."),
        click.option("--sources", "sources", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Sources file replacing seeds/sources.toml [env TIPWATCH_SOURCES]."),
        click.option("--profile", "profile", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Topic profile (default seeds/topics/trafficking.toml) [env TIPWATCH_PROFILE]."),
        click.option("--digests-dir", "digests", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Where digest files go (default data/digests) [env TIPWATCH_DIGESTS]."),
    ]):
        command = option(command)
    return command


def channels_option(command):
    return click.option("--channels", "channels", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Channel settings, [immediate] alerts and [[subscription]]s "
                             "(default seeds/channels.toml) [env TIPWATCH_CHANNELS].")(command)


def redis_option(command):
    return click.option("--redis", "redis_url", default=None, metavar="URL",
                        help="Distributed mode: the Redis that holds the crawl's frontier and streams, "
                             "e.g. redis://127.0.0.1:6379/0 [env TIPWATCH_REDIS_URL].")(command)


def workers_option(command):
    return click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
                        help="With --redis: fetch workers, and as many process workers, started on this "
                             "machine (plus one writer).")(command)


def crawl_options(command):
    @click.option("--source", "source_names", multiple=True, help="Crawl only this source (repeatable).")
    @click.option("--since", default=None, help="Look-back window start, e.g. 2026-11-01.")
    @click.option("--lookback-days", type=click.IntRange(min=0), default=None,
                  help="Look-back window in days (default 7, 0 = no limit); outranks a source's lookback_days.")
    @click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Scrapy's log (default: next to the database, crawl.log).")
    @click.option("-s", "--set", "overrides", multiple=True, metavar="NAME=VALUE",
                  help="Override a Scrapy setting, as `scrapy crawl -s` does (repeatable).")
    @functools.wraps(command)
    def wrapper(*args, overrides, **kwargs):
        settings = {}
        for pair in overrides:
            name, sep, value = pair.partition("=")
            if not sep or not name:
                fail(f"-s {pair!r}: expected NAME=VALUE")
            settings[name.strip()] = value
        return command(*args, settings=settings, **kwargs)
    return wrapper


@click.group()
@click.version_option(package_name="tipwatch")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Configuration file (TOML; default ./tipwatch.toml when present) [env TIPWATCH_CONFIG].")
@click.pass_context
def cli(ctx: click.Context, config_file):
    """tipwatch: news monitoring and alerting on trafficking in persons (Viet Nam and the Mekong region).

    Pipeline: crawl (discover, fetch, extract, classify, store) → digest.
    """
    try:
        ctx.obj = configuration.load(config_file)
    except ConfigError as exc:
        fail(str(exc))


@cli.command()
@common_options
def init(config: Config):
    """Create or migrate the database."""
    from tipwatch.commands import database

    database.init(config)


@cli.command("sources")
@common_options
def sources_command(config: Config):
    """Validate the sources file and list its entries."""
    from tipwatch.commands.sources import list_sources

    list_sources(config)


@cli.command()
@common_options
@crawl_options
@channels_option
@redis_option
@workers_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def crawl(config: Config, source_names, since, lookback_days, log_file, settings, quiet, workers):
    """Discover, fetch, extract, classify and store new articles, then send immediate alerts.

    Holds the database's work lock, as `run` does: while another crawl, `run` or daemon job
    holds it, exits 1 at once (a cron line simply tries again at its next time)."""
    from tipwatch.commands import crawling

    crawling.crawl(config, crawling.crawl_options(config, source_names, since, lookback_days, log_file, settings),
                   quiet, workers)


@cli.command()
@common_options
@crawl_options
@redis_option
@click.option("--fetch", "roles", flag_value="fetch", multiple=True, help="Fetch pages (a Scrapy crawl).")
@click.option("--process", "roles", flag_value="process", multiple=True, help="Extract and classify pages.")
def worker(config: Config, source_names, since, lookback_days, log_file, settings, roles):
    """Join the distributed crawl running on --redis: fetch (--fetch), process (--process), or both.

    Needs the same sources file (fetching) or profile and seeds (processing) as the crawl; exits
    when the crawl is drained. --source, --since and --lookback-days are the crawl's, not its own."""
    from tipwatch.commands import distributed

    if source_names or since or lookback_days is not None:
        fail("--source, --since and --lookback-days are the crawl's: give them to `tipwatch crawl --redis`")
    distributed.worker(config, crawling_options(config, log_file, settings), set(roles))


@cli.command()
@common_options
@redis_option
def ingest(config: Config):
    """The one writer of the distributed crawl running on --redis: stores its articles into --db."""
    from tipwatch.commands import distributed

    distributed.ingest(config, crawling_options(config, None, {}))


def crawling_options(config: Config, log_file, settings):
    from tipwatch.commands import crawling

    return crawling.crawl_options(config, (), None, None, log_file, settings)


@cli.command("import-seeds")
@common_options
def import_seeds_command(config: Config):
    """Store and classify the seed corpus (seeds/corpus/) as source 'seed'."""
    from tipwatch.commands import database

    database.seeds(config)


@cli.command()
@common_options
@click.option("--all", "all_articles", is_flag=True, required=True, help="Re-score every stored article.")
def classify(config: Config, all_articles):
    """Re-score stored articles with the current topic profile."""
    from tipwatch.commands import database

    database.classify(config)


@cli.command()
@common_options
@click.option("--all", "all_articles", is_flag=True,
              help="Read every stored article again (default: those not read with this gazetteer and glossary).")
def places(config: Config, all_articles):
    """Find the places each stored article names, and the English gist of Vietnamese ones."""
    from tipwatch.commands import database

    database.places(config, everything=all_articles)


@cli.command("eval")
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--errors", is_flag=True, help="Also list the misclassified items with the reason.")
@click.option("--rules-only", is_flag=True, help="Score the rules alone, without the model.")
def eval_command(config: Config, file, errors, rules_only):
    """Precision and recall on a labelled JSONL file, as one JSON object."""
    from tipwatch.commands import topic

    topic.eval_file(config, file, errors, rules_only)


@cli.group()
def rules():
    """Work on the topic profile (the rules)."""


@rules.command("test")
@common_options
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The profile in use to compare with (default: the active profile).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def rules_test_command(base: Config, config: Config, against, as_json):
    """Dry-run a changed profile (--profile FILE) against the active one."""
    from tipwatch.commands import topic

    topic.test_rules(config, against or base.profile, as_json)


@cli.command()
@common_options
@click.argument("ref", metavar="ID_OR_URL")
@click.argument("verdict", type=click.Choice(["yes", "no"]))
@click.option("--note", default=None, help="Why (kept with the label).")
def label(config: Config, ref, verdict, note):
    """Record the analyst's verdict on a stored article: about trafficking (yes) or not (no)."""
    from tipwatch.commands import database

    database.label(config, ref, verdict, note)


@cli.command()
@common_options
def train(config: Config):
    """Retrain the model from the shipped and the analyst's labels; score it on the test split."""
    from tipwatch.commands import topic

    topic.train(config)


@cli.command()
@common_options
@click.option("--day", default=None, help="Digest day (YYYY-MM-DD, default today in TIPWATCH_TZ).")
@click.option("--send", default=None, metavar="CHANNELS",
              help="Deliver to these channels too, comma-separated: email,slack.")
@click.option("--dry-run", is_flag=True,
              help="Render every channel's messages to stdout; send, write and record nothing.")
@click.option("--since", default=None, metavar="DATE",
              help="Re-read: print the digest of everything flagged since DATE; sends and records nothing.")
@channels_option
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --dry-run: also write the email's HTML part to this file, to open in a browser.")
def digest(config: Config, day, send, dry_run, since, html_file):
    """Write the day's digest to data/digests/DAY.md and deliver it (--send email,slack)."""
    from tipwatch.commands import digesting

    digesting.digest(config, day, send, dry_run, since, html_file)


@cli.command()
@common_options
@crawl_options
@channels_option
@redis_option
@workers_option
def run(config: Config, source_names, since, lookback_days, log_file, settings, workers):
    """One full cycle for cron: crawl every enabled source, send immediate alerts, then write the
    digest (and each subscription's).

    Holds the database's work lock: a second `run` (or a daemon job) meanwhile exits 1."""
    from tipwatch.commands import crawling

    crawling.run(config, crawling.crawl_options(config, source_names, since, lookback_days, log_file, settings),
                 workers)


@cli.command()
@common_options
@channels_option
@click.option("--schedule", "schedule", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Schedule (default seeds/schedule.toml) [env TIPWATCH_SCHEDULE].")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also log to this file (rotated at 5 MB, 5 kept).")
def daemon(config: Config, log_file):
    """Run forever: crawl and digest on the schedule (APScheduler); SIGTERM stops it cleanly."""
    from tipwatch.daemon import start_daemon

    sys.exit(start_daemon(config, log_file))


@cli.command()
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Database for the demo (default data/demo/demo.db).")
@click.option("--digests-dir", "digests", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the digest goes (default data/demo/digests).")
@click.pass_obj
def demo(base: Config, db, digests):
    """Serve the bundled sample sites on 127.0.0.1 and run the whole pipeline on them."""
    from tipwatch.demo import demo_config, run_demo

    for line in run_demo(demo_config(base, db, digests)):
        click.echo(line)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@redis_option
def status(config: Config, as_json):
    """Health of every source: verdict with reasons, last success, articles in 24 h / 7 days, error rate."""
    from tipwatch.commands.status import status as source_status

    source_status(config, as_json)


@cli.command()
@common_options
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Any but a loopback address (127.x.x.x, ::1) needs a login: "
                   "set TIPWATCH_SERVE_PASSWORD_HASH (README, tipwatch serve).")
def serve(config: Config, port, host):
    """Browse the database in Datasette (read-only): search, facets and ready-made queries."""
    from tipwatch.serve import ServeRefused
    from tipwatch.serve import serve as serve_datasette

    try:
        serve_datasette(config, host, port)
    except ServeRefused as exc:
        fail(str(exc))


# ---------------------------------------------------------------- the kept pages (WARC archive)

@cli.command()
@common_options
@click.option("--source", default=None, help="Only this source's articles.")
@click.option("--since", default=None, metavar="DATE", help="Only articles published (undated: fetched) since DATE.")
@click.option("--all", "everything", is_flag=True, help="Every stored article.")
@click.option("--redo", is_flag=True,
              help="Also those already reprocessed with this profile, model and extractor (default: skipped, "
                   "so an interrupted run goes on where it stopped).")
def reprocess(config: Config, source, since, everything, redo):
    """Re-extract and re-classify stored articles from their kept pages (no network); reports how many
    changed text, date or decision."""
    from tipwatch.commands import archive

    archive.reprocess(config, source, since, everything, redo)


@cli.group("archive")
def archive_group():
    """The kept pages (WARC files, under warc/ beside the database [env TIPWATCH_WARC_DIR])."""


@archive_group.command("prune")
@common_options
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--retention-days", type=click.IntRange(min=1), default=None,
              help="Keep pages this many days (default 90; 0 in the configuration: for ever) "
                   "[env TIPWATCH_WARC_RETENTION_DAYS].")
def archive_prune(config: Config, dry_run, retention_days):
    """Delete kept pages older than the retention; the pages of flagged articles are kept."""
    from tipwatch.commands import archive

    archive.prune(config, dry_run, retention_days)


def main():
    cli(prog_name="tipwatch")


if __name__ == "__main__":
    main()
