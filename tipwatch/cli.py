"""`tipwatch`: the command line. Each command parses options and calls one function.

Commands import what they need when they run. Besides a quick `--help`, that matters to the
crawl: its extraction workers are spawned processes, and spawning re-imports the main module,
this one; the database layer (sqlite-utils, which loads NumPy) would cost each worker ~25 MB.
"""
from __future__ import annotations

import functools
import sqlite3
import sys
from datetime import date
from dataclasses import dataclass
from pathlib import Path

import click

from tipwatch import config as paths
from pipeline.topic.rules import ProfileError
from tipwatch.crawl import CrawlError
from pipeline.topic.labelled import LabelledError
from pipeline.topic.model import ModelError


@dataclass(frozen=True)
class Config:
    db: Path
    sources: Path
    profile: Path
    digests: Path

    def open_db(self):
        from pipeline import store

        return store.open_db(self.db)


def common_options(command):
    """--db, --sources, --profile, --digests-dir on every command (environment variables too)."""
    @click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), envvar="TIPWATCH_DB",
                  default=paths.DEFAULT_DB, show_default=True, help="SQLite database file [env TIPWATCH_DB].")
    @click.option("--sources", "sources", type=click.Path(dir_okay=False, path_type=Path),
                  envvar="TIPWATCH_SOURCES", default=None,
                  help="Sources file replacing seeds/sources.toml [env TIPWATCH_SOURCES].")
    @click.option("--profile", "profile", type=click.Path(dir_okay=False, path_type=Path),
                  envvar="TIPWATCH_PROFILE", default=None,
                  help="Topic profile (default seeds/topics/trafficking.toml) [env TIPWATCH_PROFILE].")
    @click.option("--digests-dir", "digests", type=click.Path(file_okay=False, path_type=Path),
                  envvar="TIPWATCH_DIGESTS", default=None,
                  help="Where digest files go (default seeds/digests) [env TIPWATCH_DIGESTS].")
    @functools.wraps(command)
    def wrapper(db, sources, profile, digests, **kwargs):
        config = Config(db=paths.db_path(db), sources=paths.sources_path(sources),
                        profile=paths.profile_path(profile), digests=paths.digests_dir(digests))
        try:
            return command(config, **kwargs)
        except (OSError, sqlite3.DatabaseError) as exc:
            # a path that cannot be written, a locked or corrupt database: one line, no traceback
            fail(f"{exc.__class__.__name__}: {exc}")
        except (CrawlError, ProfileError, LabelledError, ModelError) as exc:
            fail(str(exc))
    return wrapper


def fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="tipwatch")
def cli():
    """tipwatch: news monitoring and alerting on trafficking in persons (Viet Nam and the Mekong region).

    Pipeline: crawl (discover, fetch, extract, classify, store) → digest.
    """


@cli.command()
@common_options
def init(config: Config):
    """Create or migrate the database."""
    from pipeline import store

    db = config.open_db()
    click.echo(f"{config.db}: schema version {db.execute('PRAGMA user_version').fetchone()[0]}, "
               f"{store.article_count(db)} articles")


@cli.command("sources")
@common_options
def sources_command(config: Config):
    """Validate the sources file and list its entries."""
    from pipeline.sources import SourcesError, load_sources

    try:
        sources = load_sources(config.sources)
    except SourcesError as exc:
        fail(str(exc))
    for src in sources:
        state = "enabled" if src.enabled else "disabled"
        click.echo(f"{src.name}\t{src.language}\t{state}\t{src.title}\t"
                   f"{len(src.feeds)} feeds, {len(src.sitemaps)} sitemaps, {len(src.listings)} listings")


def crawl_options(command):
    @click.option("--source", "source_names", multiple=True, help="Crawl only this source (repeatable).")
    @click.option("--since", default=None, help="Look-back window start, e.g. 2026-11-01.")
    @click.option("--lookback-days", type=click.IntRange(min=0), default=None,
                  help="Look-back window in days (default 7, 0 = no limit).")
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


def _crawl(config: Config, source_names, since, lookback_days, log_file, settings=None) -> int:
    from tipwatch.crawl import CrawlOptions, run_crawl
    from pipeline.sources import SourcesError, load_sources, select_sources

    try:
        select_sources(load_sources(config.sources), source_names)
        if since:
            from crawler.spiders.news import parse_since
            parse_since(since)
    except (SourcesError, ValueError) as exc:
        fail(str(exc))
    options = CrawlOptions(db=config.db, sources_file=config.sources, source_names=tuple(source_names),
                           since=since, lookback_days=lookback_days,
                           log_file=log_file or config.db.parent / "crawl.log", settings=settings or {})
    return run_crawl(options)


def channels_option(command):
    return click.option("--channels", "channels_file", type=click.Path(dir_okay=False, path_type=Path),
                        envvar="TIPWATCH_CHANNELS", default=None,
                        help="Channel settings, [immediate] alerts and [[subscription]]s "
                             "(default seeds/channels.toml) [env TIPWATCH_CHANNELS].")(command)


def _send_alerts(config: Config, channels_file, quiet: bool) -> None:
    """The immediate alerts due once a crawl ended: sent before the command returns. A problem
    (a channel down, a secret not set) is one line on stderr; the crawl itself succeeded."""
    from alerts.immediate import send_alerts

    info, problems = send_alerts(config.open_db(), channels_file)
    for line in [] if quiet else info:
        click.echo(line)
    for line in problems:
        click.echo(line, err=True)


@cli.command()
@common_options
@crawl_options
@channels_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def crawl(config: Config, source_names, since, lookback_days, log_file, settings, channels_file, quiet):
    """Discover, fetch, extract, classify and store new articles, then send immediate alerts.

    Holds the database's work lock, as `run` does: while another crawl, `run` or daemon job
    holds it, exits 1 at once (a cron line simply tries again at its next time)."""
    from tipwatch.crawl import source_lines
    from tipwatch.lock import LockBusy, work_lock

    try:
        with work_lock(config.db, "tipwatch crawl"):
            run_id = _crawl(config, source_names, since, lookback_days, log_file, settings)
            lines = source_lines(config.open_db(), run_id)
            if not quiet:
                for line in lines:
                    click.echo(line)
            _send_alerts(config, channels_file, quiet)
    except LockBusy as exc:
        fail(str(exc))


@cli.command("import-seeds")
@common_options
def import_seeds_command(config: Config):
    """Store and classify the seed corpus (seeds/corpus/) as source 'seed'."""
    from pipeline.seeds import import_seeds

    for row in import_seeds(config.open_db(), str(config.profile)):
        click.echo(f"seed {row['id']}: {'FLAGGED' if row['flagged'] else 'not flagged'}: {row['title']}")


@cli.command()
@common_options
@click.option("--all", "all_articles", is_flag=True, required=True, help="Re-score every stored article.")
def classify(config: Config, all_articles):
    """Re-score stored articles with the current topic profile."""
    from pipeline.topic.reclassify import reclassify

    counts = reclassify(config.open_db(), str(config.profile))
    for line in reclassify_lines(counts):
        click.echo(line)


@cli.command()
@common_options
@click.option("--all", "all_articles", is_flag=True,
              help="Read every stored article again (default: those not read with this gazetteer and glossary).")
def places(config: Config, all_articles):
    """Find the places each stored article names, and the English gist of Vietnamese ones."""
    from pipeline.enrich import enrich_stored

    counts = enrich_stored(config.open_db(), everything=all_articles)
    click.echo(f"{counts['articles']} articles read: {counts['places']} places, {counts['gists']} gists")


RECLASSIFY_LISTED = 50  # flips listed one per line; more are counted


def reclassify_lines(counts: dict) -> list[str]:
    """`classify --all`'s report: the decisions that changed, listed (+ newly flagged, - no longer)."""
    flips = counts["decisions"]
    up = sum(1 for _, now, _ in flips if now)
    lines = [f"{counts['articles']} articles classified: {len(flips)} decisions changed ({up} newly flagged, "
             f"{len(flips) - up} no longer flagged), {counts['flagged']} flagged (model {counts['model']}); "
             f"{counts['rewritten']} stored classifications rewritten"]
    lines += [f"  {'+' if now else '-'} {article_id}: {' '.join(title.split())[:100]}"
              for article_id, now, title in flips[:RECLASSIFY_LISTED]]
    if len(flips) > RECLASSIFY_LISTED:
        lines.append(f"  … and {len(flips) - RECLASSIFY_LISTED} more (see the classifications table)")
    return lines


def _stage(config: Config, rules_only: bool = False, profile: Path | None = None):
    """The topic stage in use: the profile, and the database's model (the base model when
    the database has none or does not exist yet)."""
    from pipeline.topic.stage import load_stage
    from pipeline.topic.training import active_model_path, base_model_path

    model = None
    if not rules_only:
        model = active_model_path(config.open_db()) if config.db.exists() else base_model_path()
    return load_stage(str(profile or config.profile), model and str(model))


@cli.command("eval")
@common_options
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--errors", is_flag=True, help="Also list the misclassified items with the reason.")
@click.option("--rules-only", is_flag=True, help="Score the rules alone, without the model.")
def eval_command(config: Config, file, errors, rules_only):
    """Precision and recall on a labelled JSONL file, as one JSON object."""
    import json

    from pipeline.topic.evaluate import evaluate
    from pipeline.topic.labelled import read_jsonl

    report = evaluate(_stage(config, rules_only), read_jsonl(file), errors=errors)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@cli.group()
def rules():
    """Work on the topic profile (the rules)."""


@rules.command("test")
@common_options
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The profile in use to compare with (default: the active profile).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rules_test_command(config: Config, against, as_json):
    """Dry-run a changed profile (--profile FILE) against the active one."""
    import json

    from pipeline.topic.rulestest import report_lines, rules_test

    active_path = against or paths.profile_path(None)
    if Path(config.profile).resolve() == Path(active_path).resolve():
        fail(f"rules test compares a changed profile with the active one ({active_path}): give the changed one "
             "with --profile FILE (or the one in use with --against FILE)")
    candidate = _stage(config)
    active = _stage(config, profile=active_path)
    db = config.open_db() if config.db.exists() else None
    report = rules_test(active, candidate, db)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else "\n".join(report_lines(report)))


@cli.command()
@common_options
@click.argument("ref", metavar="ID_OR_URL")
@click.argument("verdict", type=click.Choice(["yes", "no"]))
@click.option("--note", default=None, help="Why (kept with the label).")
def label(config: Config, ref, verdict, note):
    """Record the analyst's verdict on a stored article: about trafficking (yes) or not (no)."""
    from pipeline import store

    db = config.open_db()
    article = store.article_ref(db, ref)
    if article is None:
        fail(f"no stored article has the id or URL {ref!r}")
    previous = store.save_label(db, article["id"], verdict == "yes", note)
    change = "" if previous is None else f" (was {'yes' if previous else 'no'})"
    click.echo(f"article {article['id']} labelled {verdict}{change}: {article['title']}")


@cli.command()
@common_options
def train(config: Config):
    """Retrain the model from the shipped and the analyst's labels; score it on the test split."""
    from pipeline.topic.rules import load_profile
    from pipeline.topic.training import train as train_model

    result = train_model(config.open_db(), config.db, load_profile(config.profile))
    click.echo(f"model {result['version']}: {result['n_train']} examples ({result['n_analyst']} analyst labels)"
               f", saved to {result['path']}")
    for name, figures in result["scores"].items():
        langs = ", ".join(f"{lang} P {v['precision']} R {v['recall']}" for lang, v in figures["by_lang"].items())
        click.echo(f"held-out test split ({result['n_test']}), {name.replace('_', ' ')}: "
                   f"P {figures['precision']} R {figures['recall']} F1 {figures['f1']} [{langs}]")
    click.echo("run `tipwatch classify --all` to apply it to the stored articles")


@cli.command()
@common_options
@click.option("--day", default=None, help="Digest day (YYYY-MM-DD, default today in TIPWATCH_TZ).")
@click.option("--send", default=None, metavar="CHANNELS",
              help="Deliver to these channels too, comma-separated: email,slack.")
@click.option("--dry-run", is_flag=True,
              help="Render every channel's messages to stdout; send, write and record nothing.")
@click.option("--since", default=None, metavar="DATE",
              help="Re-read: print the digest of everything flagged since DATE; sends and records nothing.")
@click.option("--channels", "channels_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar="TIPWATCH_CHANNELS", default=None,
              help="Channel settings (default seeds/channels.toml) [env TIPWATCH_CHANNELS].")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --dry-run: also write the email's HTML part to this file, to open in a browser.")
def digest(config: Config, day, send, dry_run, since, channels_file, html_file):
    """Write the day's digest to seeds/digests/DAY.md and deliver it (--send email,slack)."""
    from alerts import digest as digests

    day = day or digests.today()
    try:
        for value, option in ((day, "--day"), (since, "--since")):
            if value:
                date.fromisoformat(value)
    except ValueError as exc:
        fail(f"{option}: {exc}")
    if html_file and not dry_run:
        fail("--html goes with --dry-run (it shows the email a send would make)")
    if since:
        if send:
            fail("--since re-reads an older window; it never sends (drop --send)")
        data = digests.build_digest(config.open_db(), day, since=since, sources_file=config.sources)
        click.echo(digests.render_markdown(data), nl=False)
        return
    names = [n for n in (send or "").split(",") if n.strip()] or None
    channels = _channels(channels_file, names, dry_run) if (send or dry_run) else {}
    alerting, teams = _teams(channels_file, bool(send) and not dry_run)
    if dry_run:
        from alerts.outbox import preview

        data = digests.build_digest(config.open_db(), day, sources_file=config.sources)
        click.echo(digests.render_markdown(data), nl=False)
        for line in preview(channels, data):
            click.echo(line)
        for line in _team_previews(data, alerting, channels_file):
            click.echo(line)
        if html_file:
            from alerts.render import render_email_html

            html_file.write_text(render_email_html(data), encoding="utf-8")
            click.echo(f"email HTML: {html_file} (open it in a browser)")
        return
    _write_and_send(config, day, channels, alerting, teams)


def _team_previews(data: dict, alerting, channels_file) -> list[str]:
    """--dry-run: each daily subscription's digest as its channels would send it."""
    from alerts.outbox import preview
    from alerts.subscriptions import filter_digest, subscription_channels

    lines = []
    for sub in alerting.daily():
        team = filter_digest(data, sub)
        lines.append(f"===== subscription {sub.name}: {team['total']} articles in {team['story_count']} stories =====")
        lines += preview(subscription_channels(sub, channels_file, dry_run=True)[0], team)
    return lines


def _teams(path, sending: bool):
    """[immediate]/[[subscription]] of the channels file, and when sending, each daily
    subscription's channels (every missing secret named before anything is written)."""
    from alerts.channels import ChannelConfigError
    from alerts.subscriptions import load_alerting
    from alerts.teams import team_channels

    try:
        alerting = load_alerting(path)
        return alerting, (team_channels(alerting, path) if sending else {})
    except ChannelConfigError as exc:
        fail(str(exc))


def _channels(path, names, dry_run):
    from alerts.channels import ChannelConfigError, load_channels

    try:
        return load_channels(path, names=names, dry_run=dry_run)
    except ChannelConfigError as exc:
        fail(str(exc))


def _write_and_send(config: Config, day: str | None, channels: dict, alerting=None, teams=None) -> None:
    from alerts.digest import summary
    from alerts.outbox import write_and_deliver

    path, data, reports = write_and_deliver(config.open_db(), day, config.digests, channels, config.sources,
                                            alerting=alerting, teams=teams)
    click.echo(f"digest: {path} ({summary(data)})")
    for team in data["team_digests"]:
        click.echo(f"digest {team['subscription'].name}: {team['path']} ({summary(team['digest'])})")
    for report in reports:
        click.echo(report.line())
    if any(report.failed for report in reports):
        sys.exit(1)


@cli.command()
@common_options
@crawl_options
@channels_option
def run(config: Config, source_names, since, lookback_days, log_file, settings, channels_file):
    """One full cycle for cron: crawl every enabled source, send immediate alerts, then write the
    digest (and each subscription's).

    Holds the database's work lock: a second `run` (or a daemon job) meanwhile exits 1."""
    from tipwatch.crawl import source_lines
    from tipwatch.lock import LockBusy, work_lock

    try:
        with work_lock(config.db, "tipwatch run"):
            run_id = _crawl(config, source_names, since, lookback_days, log_file, settings)
            for line in source_lines(config.open_db(), run_id):
                click.echo(line)
            _send_alerts(config, channels_file, quiet=False)
            alerting, _ = _teams(channels_file, sending=False)
            _write_and_send(config, None, {}, alerting)
    except LockBusy as exc:
        fail(str(exc))


@cli.command()
@common_options
@click.option("--schedule", "schedule_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              envvar="TIPWATCH_SCHEDULE", help="Schedule (default seeds/schedule.toml) [env TIPWATCH_SCHEDULE].")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also log to this file (rotated at 5 MB, 5 kept).")
def daemon(config: Config, schedule_file, log_file):
    """Run forever: crawl and digest on the schedule (APScheduler); SIGTERM stops it cleanly."""
    from tipwatch.daemon import Daemon, setup_logging
    from tipwatch.schedule import ScheduleError, load_schedule

    try:
        schedule = load_schedule(schedule_file)
    except ScheduleError as exc:
        fail(str(exc))
    from alerts.channels import ChannelConfigError

    setup_logging(log_file)
    runner = Daemon(config, schedule, crawl_log=config.db.parent / "crawl.log")
    try:
        runner.check_channels()
    except ChannelConfigError as exc:
        fail(f"the daemon cannot send its digests: {exc}")
    sys.exit(runner.run())


@cli.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=Path("data/demo.db"),
              show_default=True, help="Database for the demo.")
@click.option("--digests-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the digest goes (default seeds/digests).")
def demo(db, digests_dir):
    """Serve the bundled sample sites on 127.0.0.1 and run the whole pipeline on them."""
    from tipwatch.demo import run_demo

    for line in run_demo(db, paths.digests_dir(digests_dir)):
        click.echo(line)


@cli.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def status(config: Config, as_json):
    """Health of every source: verdict with reasons, last success, articles in 24 h / 7 days, error rate."""
    import json

    from pipeline.store.health import source_health, status_table
    from pipeline.sources import SourcesError, load_sources

    try:
        sources = load_sources(config.sources)
    except SourcesError:
        sources = []  # a broken sources file: still report the sources the database knows
    rows = source_health(config.open_db(), sources)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for line in status_table(rows):
        click.echo(line)


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
        serve_datasette(config.db, host, port)
    except ServeRefused as exc:
        fail(str(exc))


def main():
    cli(prog_name="tipwatch")


if __name__ == "__main__":
    main()
