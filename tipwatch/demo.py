"""`tipwatch demo`: the whole pipeline on the bundled sample sites, offline.

The sample sites (tests/sites/, shipped as tipwatch/sample_sites/) are served on random loopback
ports, their source entries are rewritten to point there, and the real crawl, classification,
storage and digest run against them. Everything the demo writes goes under its own folder,
`<data>/demo/` (database, digests, crawl log, WARC files): never the production digests, never
the source checkout.
"""
from __future__ import annotations

import json
import tempfile
from datetime import date, timedelta
from pathlib import Path

from alerts.digest import summary, write_digest
from pipeline import store
from pipeline.seeds import import_seeds
from tipwatch.commands.digesting import stale_after, timezone
from tipwatch.config import Config
from tipwatch.crawl import CrawlOptions, run_crawl
from tipwatch.sampledates import weeks_to_today
from tipwatch.samplesites import SampleSites, manifest, write_sources
from tipwatch.stages import stage_settings

# the sample articles are dated November 2026, and served moved by whole weeks so that the newest
# is of the last 7 days (tipwatch/sampledates.py); the window, moved alike, keeps out the
# deliberately old one (2019)
DEMO_SINCE = "2020-01-01"
# loopback answers in microseconds: no need to wait between requests
DEMO_SETTINGS = {"AUTOTHROTTLE_START_DELAY": 0.0, "AUTOTHROTTLE_MAX_DELAY": 1.0, "DOWNLOAD_TIMEOUT": 10}
SHIFT_KEY = "_shift_days"


def demo_config(config: Config, db: Path | None, digests: Path | None) -> Config:
    """The demo's own folder under the data folder: its database, digests, and (beside the
    database) its crawl log and WARC files."""
    folder = config.data_dir / "demo"
    return config.override(db=db or folder / "demo.db", digests=digests or folder / "digests")


def _ports_file(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".ports.json")


def _saved_ports(db_path: Path) -> dict[str, int]:
    try:
        return {name: int(port) for name, port in json.loads(_ports_file(db_path).read_text()).items()
                if name != SHIFT_KEY}
    except (OSError, ValueError, AttributeError):
        return {}


def _shift(db_path: Path) -> int:
    """Days the sample dates move: those of the database's first demo run (its articles' dated
    URLs stay the same on a re-run), else what brings the newest sample article to this week.
    `make clean` (a new demo database) dates them to the current week again."""
    try:
        return int(json.loads(_ports_file(db_path).read_text())[SHIFT_KEY])
    except (OSError, ValueError, KeyError, TypeError):
        return weeks_to_today(manifest())


def run_demo(config: Config):
    """Yields the lines of the demo's report as it goes (config: the demo's, see demo_config).

    The sites' addresses are part of every article's URL, so a re-run serves them on the
    ports of the first run (kept beside the database): the re-run then finds every
    article known, as a re-run against real sites would."""
    db_path = config.db
    shift = _shift(db_path) if db_path.exists() else weeks_to_today(manifest())
    with SampleSites(ports=_saved_ports(db_path), shift_days=shift) as sites, \
            tempfile.TemporaryDirectory(prefix="tipwatch-demo-") as tmp:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        _ports_file(db_path).write_text(json.dumps({**sites.ports, SHIFT_KEY: shift}))
        live = config.override(sources=write_sources(sites, Path(tmp) / "sources.toml"))
        yield f"sample sites: {', '.join(f'{name} {sites.base_url(name)}' for name in sites.sites)}"
        since = (date.fromisoformat(DEMO_SINCE) + timedelta(days=shift)).isoformat()
        options = CrawlOptions(config=live, since=since, log_file=db_path.parent / "demo-crawl.log",
                               settings=DEMO_SETTINGS)
        run_id = run_crawl(options)
        db = store.open_db(db_path)
        seeds = import_seeds(db, stage_settings(live, db), live.seeds_dir)
        # health judged on the sample sources
        path, digest = write_digest(db, None, live.digests, stale_after=stale_after(live), tz=timezone(live))
    yield from summary_lines(db, run_id, seeds, path, digest)


def summary_lines(db, run_id: int, seeds: list[dict], digest_path: Path, digest: dict):
    yield ""
    yield f"{'source':<8} {'pages':>6} {'stored':>7} {'flagged':>8} {'errors':>7}"
    for row in store.run_stats(db, run_id):
        yield (f"{row['source']:<8} {row['responses']:>6} {row['articles_stored']:>7} "
               f"{row['articles_flagged']:>8} {row['errors']:>7}")
    flagged_seeds = sum(1 for s in seeds if s["flagged"])
    yield f"{'seed':<8} {'-':>6} {len(seeds):>7} {flagged_seeds:>8} {0:>7}"
    yield ""
    db_file = store.db_file(db)
    yield f"database: {db_file} ({store.article_count(db)} articles, {store.flagged_count(db)} flagged)"
    yield f"digest:   {digest_path} ({summary(digest)})"
    yield f"browse:   tipwatch serve --db {db_file}"
