"""`tipwatch digest`: write the day's digest and deliver it, re-read an older window, or render
every channel's messages without sending (--dry-run)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from alerts import digest as digests
from alerts.channels import ChannelConfigError, load_channels
from alerts.outbox import carry_over_since, write_and_deliver
from alerts.preview import preview
from alerts.render import render_email_html
from alerts.subscriptions import filter_digest, load_alerting, subscription_channels
from alerts.teams import team_channels
from pipeline import store
from pipeline.sources import SourcesError, load_sources
from tipwatch.commands import CommandError
from tipwatch.config import Config

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def timezone(config: Config) -> str:
    return config.timezone or DEFAULT_TZ


def stale_after(config: Config) -> dict[str, float]:
    """Each configured source's limit for "stale": the digest's health notes judge sources by
    it. A broken sources file leaves the defaults (the digest still goes out)."""
    try:
        return {source.name: source.stale_after_hours for source in load_sources(config.sources)}
    except SourcesError:
        return {}


def digest(config: Config, day: str | None, send: str | None, dry_run: bool, since: str | None,
           html_file: Path | None) -> None:
    config.require_db()  # a mistyped --db must not become an empty database and a "Nothing new" file
    day = day or digests.today(timezone(config))
    for value, option in ((day, "--day"), (since, "--since")):
        try:
            if value:
                date.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(f"{option}: {exc}") from None
    if html_file and not dry_run:
        raise CommandError("--html goes with --dry-run (it shows the email a send would make)")
    if since:
        reread(config, day, since, send)
        return
    names = [n for n in (send or "").split(",") if n.strip()] or None
    channels = _channels(config, names, dry_run) if (send or dry_run) else {}
    alerting, teams = load_teams(config, bool(send) and not dry_run)
    if dry_run:
        preview_all(config, day, channels, alerting, html_file)
        return
    write_and_send(config, day, channels, alerting, teams)


def _build(config: Config, day: str, since: str | None = None) -> dict:
    return digests.build_digest(store.open_db(config.db), day, since=since, stale_after=stale_after(config),
                                tz=timezone(config))


def reread(config: Config, day: str, since: str, send: str | None) -> None:
    """--since: everything flagged since DATE, printed; sends and records nothing."""
    if send:
        raise CommandError("--since re-reads an older window; it never sends (drop --send)")
    click.echo(digests.render_markdown(_build(config, day, since)), nl=False)


def preview_all(config: Config, day: str, channels: dict, alerting, html_file: Path | None) -> None:
    """--dry-run: the digest and every channel's messages (each subscription's too) on stdout."""
    data = _build(config, day)
    click.echo(digests.render_markdown(data), nl=False)
    db = store.open_db(config.db)
    for line in preview(db, data, channels, carry_over_since(day)):
        click.echo(line)
    for sub in alerting.daily():
        team = filter_digest(data, sub)
        click.echo(f"===== subscription {sub.name}: {team['total']} articles in {team['story_count']} stories =====")
        for line in preview(db, team, subscription_channels(sub, config.channels, config.environ, dry_run=True)[0]):
            click.echo(line)
    if html_file:
        html_file.write_text(render_email_html(data), encoding="utf-8")
        click.echo(f"email HTML: {html_file} (open it in a browser)")


def load_teams(config: Config, sending: bool):
    """[immediate]/[[subscription]] of the channels file, and when sending, each daily
    subscription's channels (every missing secret named before anything is written)."""
    try:
        alerting = load_alerting(config.channels)
        return alerting, (team_channels(alerting, config.channels, config.environ) if sending else {})
    except ChannelConfigError as exc:
        raise CommandError(str(exc)) from None


def _channels(config: Config, names, dry_run: bool) -> dict:
    try:
        return load_channels(config.channels, config.environ, names=names, dry_run=dry_run)
    except ChannelConfigError as exc:
        raise CommandError(str(exc)) from None


def write_and_send(config: Config, day: str | None, channels: dict, alerting=None, teams=None) -> None:
    path, data, reports = write_and_deliver(store.open_db(config.db), day or digests.today(timezone(config)),
                                            config.digests, channels, stale_after=stale_after(config),
                                            tz=timezone(config), alerting=alerting, teams=teams)
    click.echo(f"digest: {path} ({digests.summary(data)})")
    for team in data["team_digests"]:
        click.echo(f"digest {team['subscription'].name}: {team['path']} ({digests.summary(team['digest'])})")
    for report in reports:
        click.echo(report.line())
    if any(report.failed for report in reports):
        raise SystemExit(1)
