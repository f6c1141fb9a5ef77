"""Where tipwatch keeps things, and the environment variables that move them."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = REPO_ROOT / "seeds"
CORPUS_DIR = SEEDS_DIR / "corpus"
DIGESTS_DIR = SEEDS_DIR / "digests"
DEFAULT_DB = Path("data") / "tipwatch.db"


def db_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("TIPWATCH_DB") or DEFAULT_DB)


def sources_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("TIPWATCH_SOURCES") or SEEDS_DIR / "sources.toml")


def digests_dir(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("TIPWATCH_DIGESTS") or DIGESTS_DIR)


def profile_path(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get("TIPWATCH_PROFILE") or SEEDS_DIR / "topics" / "trafficking.toml")


def cache_dir() -> Path:
    """Where tipwatch caches what it can rebuild (the base topic model) [env TIPWATCH_CACHE]."""
    explicit = os.environ.get("TIPWATCH_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tipwatch"
