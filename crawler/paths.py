"""The files a crawl reads and writes, named by Scrapy settings only.

The crawler reads no environment and knows no default location: the app (tipwatch) fills
TIPWATCH_DB, TIPWATCH_SOURCES, TIPWATCH_PROFILE, TIPWATCH_SEEDS_DIR, TIPWATCH_CACHE_DIR and,
optionally, TIPWATCH_WARC_DIR. A crawl started without one of them fails at once, naming it,
rather than guessing a path.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.enrich.translate import MT_DIR_ENV, TRANSLATOR_ENV
from pipeline.process import StageSettings
from pipeline.process import stage_settings as read_with


class MissingSetting(RuntimeError):
    """A path the crawl needs was given no setting."""


def setting_path(settings, name: str, explicit: str | None = None) -> Path:
    """The path in setting *name* (or *explicit*, a spider argument that overrides it)."""
    value = explicit or settings.get(name)
    if not value:
        raise MissingSetting(f"the Scrapy setting {name} is not set: the crawler reads its paths from "
                             f"settings only (`tipwatch crawl` fills them; with `scrapy crawl`, pass "
                             f"-s {name}=PATH)")
    return Path(value)


def warc_dir(settings) -> Path:
    """Where fetched pages are kept: TIPWATCH_WARC_DIR, or `warc/` beside the database."""
    explicit = settings.get("TIPWATCH_WARC_DIR")
    return Path(explicit) if explicit else setting_path(settings, "TIPWATCH_DB").parent / "warc"


def stage_settings(settings, db) -> StageSettings:
    """What the crawl's workers read pages with (pipeline.process.stage_settings), from the
    settings: TIPWATCH_PROFILE, _SEEDS_DIR, _CACHE_DIR, _MIN_CHARS and the operator's translator
    (TIPWATCH_TRANSLATOR / TIPWATCH_MT_DIR)."""
    translator = {TRANSLATOR_ENV: settings.get("TIPWATCH_TRANSLATOR") or "",
                  MT_DIR_ENV: settings.get("TIPWATCH_MT_DIR") or ""}
    return read_with(db, setting_path(settings, "TIPWATCH_PROFILE"), setting_path(settings, "TIPWATCH_SEEDS_DIR"),
                     setting_path(settings, "TIPWATCH_CACHE_DIR"), translator,
                     settings.getint("TIPWATCH_MIN_CHARS", 200))
