"""Commands on the topic stage: eval, rules test, train."""
from __future__ import annotations

import json
from pathlib import Path

import click

from pipeline import store
from pipeline.topic.evaluate import evaluate
from pipeline.topic.labelled import read_jsonl
from pipeline.topic.rules import load_profile
from pipeline.topic.rulestest import report_lines, rules_test
from pipeline.topic.stage import TopicStage, load_stage
from pipeline.topic.training import active_model_path, base_model_path
from pipeline.topic.training import train as train_model
from tipwatch.commands import CommandError
from tipwatch.config import Config
from tipwatch.progress import progress
from tipwatch.stages import model_files


def stage(config: Config, rules_only: bool = False, profile: Path | None = None) -> TopicStage:
    """The topic stage in use: the profile, and the database's model (the base model when
    the database has none or does not exist yet)."""
    model = None
    if not rules_only:
        files = model_files(config)
        model = active_model_path(store.open_db(config.db), files) if config.db.exists() else base_model_path(files)
    return load_stage(str(profile or config.profile), model and str(model))


def check_profile(config: Config) -> None:
    """A profile that does not load (a syntax error, an unknown key) stops a crawl before it
    starts: the workers would otherwise fail on every page, and the run exit 0."""
    load_profile(config.profile)


def eval_file(config: Config, file: Path, errors: bool, rules_only: bool) -> None:
    report = evaluate(stage(config, rules_only), read_jsonl(file), errors=errors)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


def test_rules(config: Config, active_path: Path, as_json: bool) -> None:
    """A changed profile (config.profile) against the one in use (active_path)."""
    if Path(config.profile).resolve() == Path(active_path).resolve():
        raise CommandError(f"rules test compares a changed profile with the active one ({active_path}): give the "
                           "changed one with --profile FILE (or the one in use with --against FILE)")
    candidate = stage(config)
    active = stage(config, profile=active_path)
    db = store.open_db(config.db) if config.db.exists() else None
    report = rules_test(active, candidate, model_files(config).labelled_dir, db)
    click.echo(json.dumps(report, ensure_ascii=False, indent=2) if as_json else "\n".join(report_lines(report)))


def train(config: Config) -> None:
    config.require_db()
    try:
        with progress("train", every=1) as on_progress:
            result = train_model(store.open_db(config.db), config.db, load_profile(config.profile),
                                 model_files(config).labelled_dir, on_progress)
    except KeyboardInterrupt:
        raise CommandError("interrupted: no model recorded, the one in use is unchanged") from None
    click.echo(f"model {result['version']}: {result['n_train']} examples ({result['n_analyst']} analyst labels)"
               f", saved to {result['path']}")
    for name, figures in result["scores"].items():
        langs = ", ".join(f"{lang} P {v['precision']} R {v['recall']}" for lang, v in figures["by_lang"].items())
        click.echo(f"held-out test split ({result['n_test']}), {name.replace('_', ' ')}: "
                   f"P {figures['precision']} R {figures['recall']} F1 {figures['f1']} [{langs}]")
    click.echo("run `tipwatch classify --all` to apply it to the stored articles")
