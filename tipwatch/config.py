"""tipwatch's one configuration object, built once per command.

Layers, later ones winning: defaults → a TOML file (`--config FILE`, else TIPWATCH_CONFIG, else
`./tipwatch.toml` when there is one) → the environment (TIPWATCH_*) → the command's options. The CLI
builds it in its group callback and hands it down; nothing else in tipwatch reads `os.environ`:
what callers need of the environment besides settings (the channels' secrets, the serve login,
a translation model) they take from `Config.environ`, a snapshot.

Shipped data (seeds/ and the demo's sample sites) is found as package data of tipwatch, so a
plain `pip install .` runs from any directory.
"""
from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

CONFIG_FILE_ENV = "TIPWATCH_CONFIG"
LOCAL_CONFIG_FILE = Path("tipwatch.toml")
DEFAULT_DATA_DIR = Path("data")
DB_NAME = "tipwatch.db"
DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_EXTRACT_TIMEOUT = 120.0
DEFAULT_WARC_RETENTION_DAYS = 90

_PACKAGE = Path(__file__).resolve().parent
# where a wheel carries each shipped folder (pyproject's package-dir), and where a source checkout
# (or an editable install of one) has it: the folder package-dir takes it from
_BUNDLED = {"seeds": ("seeds", "seeds"), "sample_sites": ("sample_sites", "tests/sites")}


class ConfigError(ValueError):
    """The configuration file or a TIPWATCH_* variable is malformed; the message names which."""


def bundled(name: str) -> Path:
    """A folder shipped with tipwatch ("seeds" or "sample_sites")."""
    installed, checkout = _BUNDLED[name]
    inside = _PACKAGE / installed
    return inside if inside.is_dir() else _PACKAGE.parent / checkout


# every setting: (its key in the config file, its environment variable, how a text value reads)
def _path(value: Any) -> Path:
    return Path(value)


def _int(value: Any) -> int:
    return int(value)


def _float(value: Any) -> float:
    return float(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ValueError(f"expected true or false, got {value!r}")
    return text in {"1", "true", "yes", "on"}


def _addresses(value: Any) -> str:
    # comma-separated in the environment, a list in the file; Scrapy's setting is the text
    return ",".join(value) if isinstance(value, list) else str(value)


SETTINGS: dict[str, tuple[str, str | None, Any]] = {
    # name: (config file key ("section.key"), environment variable, reader)
    "data_dir": ("paths.data", "TIPWATCH_DATA", _path),
    "db": ("paths.db", "TIPWATCH_DB", _path),
    "seeds_dir": ("paths.seeds", "TIPWATCH_SEEDS", _path),
    "sources": ("paths.sources", "TIPWATCH_SOURCES", _path),
    "profile": ("paths.profile", "TIPWATCH_PROFILE", _path),
    "digests": ("paths.digests", "TIPWATCH_DIGESTS", _path),
    "channels": ("paths.channels", "TIPWATCH_CHANNELS", _path),
    "schedule": ("paths.schedule", "TIPWATCH_SCHEDULE", _path),
    "cache_dir": ("paths.cache", "TIPWATCH_CACHE", _path),
    "timezone": ("digest.timezone", "TIPWATCH_TZ", str),
    "log_level": ("crawl.log_level", "TIPWATCH_LOG_LEVEL", str),
    "lookback_days": ("crawl.lookback_days", "TIPWATCH_LOOKBACK_DAYS", _int),
    "extract_workers": ("crawl.extract_workers", "TIPWATCH_EXTRACT_WORKERS", _int),
    "extract_timeout": ("crawl.extract_timeout", "TIPWATCH_EXTRACT_TIMEOUT", _float),
    "allow_addresses": ("crawl.allow_addresses", "TIPWATCH_ALLOW_ADDRESSES", _addresses),
    "warc_dir": ("warc.dir", "TIPWATCH_WARC_DIR", _path),
    "warc_retention_days": ("warc.retention_days", "TIPWATCH_WARC_RETENTION_DAYS", _int),
    "warc_keep_flagged": ("warc.keep_flagged", "TIPWATCH_WARC_KEEP_FLAGGED", _bool),
    # distributed mode (tipwatch/distributed.py): a Redis URL, which may hold a password (never printed)
    "redis_url": ("distributed.redis_url", "TIPWATCH_REDIS_URL", str),
}
_PATH_SETTINGS = {name for name, (_, _, read) in SETTINGS.items() if read is _path}


@dataclass(frozen=True)
class Config:
    data_dir: Path
    db: Path
    seeds_dir: Path
    sources: Path
    profile: Path
    digests: Path
    channels: Path
    schedule: Path
    cache_dir: Path
    timezone: str | None          # None: the schedule file's, else Asia/Ho_Chi_Minh
    log_level: str
    lookback_days: int
    extract_workers: int          # 0: one per core
    extract_timeout: float
    allow_addresses: str          # comma-separated addresses or networks the crawl may connect to
    warc_dir: Path
    warc_retention_days: int
    warc_keep_flagged: bool
    redis_url: str = field(default="", repr=False)  # "": embedded crawl, no Redis
    config_file: Path | None = None
    # the environment when the configuration was built: the secrets of channels and of the serve
    # login, read by the code that needs them from here rather than from os.environ
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    # what was set, before the defaults that derive from other settings (for `override`)
    given: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def override(self, **options: Any) -> Config:
        """This configuration with the command's options on top (None: not given). Derived
        defaults follow: a --db elsewhere moves the WARC folder along with it."""
        given = {**self.given, **{k: v for k, v in options.items() if v is not None}}
        return _build(given, self.environ, self.config_file)

    def crawl_settings(self) -> dict[str, Any]:
        """The Scrapy settings this configuration sets (crawler/settings.py has the rest)."""
        return {"TIPWATCH_DB": str(self.db), "TIPWATCH_SOURCES": str(self.sources),
                "TIPWATCH_PROFILE": str(self.profile), "TIPWATCH_SEEDS_DIR": str(self.seeds_dir),
                "TIPWATCH_CACHE_DIR": str(self.cache_dir), "LOG_LEVEL": self.log_level,
                "TIPWATCH_LOOKBACK_DAYS": self.lookback_days, "TIPWATCH_EXTRACT_WORKERS": self.extract_workers,
                "TIPWATCH_EXTRACT_TIMEOUT": self.extract_timeout,
                "TIPWATCH_ALLOW_ADDRESSES": self.allow_addresses, "TIPWATCH_WARC_DIR": str(self.warc_dir),
                "TIPWATCH_WARC_RETENTION_DAYS": self.warc_retention_days,
                "TIPWATCH_WARC_KEEP_FLAGGED": self.warc_keep_flagged,
                # the operator's translation model, for the workers' gists (pipeline/enrich/translate.py)
                "TIPWATCH_TRANSLATOR": self.environ.get("TIPWATCH_TRANSLATOR", ""),
                "TIPWATCH_MT_DIR": self.environ.get("TIPWATCH_MT_DIR", "")}

    def require_db(self) -> None:
        """Read-side commands: a database that does not exist is a mistake (a typo in --db), not
        a new empty one to report on; nothing is created."""
        if not self.db.is_file():
            raise ConfigError(f"no database at {self.db} (run `tipwatch crawl` or `tipwatch init` to create one, "
                              "or give the right --db)")


def load(config_file: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Defaults → the config file → the environment (options come on top with `override`)."""
    env = MappingProxyType(dict(os.environ if environ is None else environ))
    path = _config_path(config_file, env)
    given = _from_file(path) if path else {}
    given.update(_from_env(env))
    return _build(given, env, path)


def _config_path(explicit, env: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV])
    return LOCAL_CONFIG_FILE if LOCAL_CONFIG_FILE.is_file() else None


def read_toml(path: Path, what: str, error: type[Exception]) -> dict[str, Any]:
    """A TOML file of the app's (configuration, schedule), or *error* saying what is wrong with it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def _from_file(path: Path) -> dict[str, Any]:
    data = read_toml(path, "configuration file", ConfigError)
    by_key = {key: name for name, (key, _, _) in SETTINGS.items()}
    given: dict[str, Any] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section!r}: expected a [section] ({', '.join(_sections())})")
        for key, value in table.items():
            name = by_key.get(f"{section}.{key}")
            if name is None:
                raise ConfigError(f"{path}: [{section}] {key}: unknown setting")
            value = _read(name, value, f"{path}: [{section}] {key}")
            # relative paths in the file are relative to the file, wherever tipwatch runs from
            given[name] = path.parent / value if name in _PATH_SETTINGS else value
    return given


def _sections() -> list[str]:
    return sorted({key.split(".")[0] for key, _, _ in SETTINGS.values()})


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    given = {}
    for name, (_, variable, _) in SETTINGS.items():
        if not variable:  # a setting with no environment variable
            continue
        value = env.get(variable, "").strip()
        if value:
            given[name] = _read(name, value, variable)
    return given


def _read(name: str, value: Any, where: str) -> Any:
    try:
        return SETTINGS[name][2](value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _default_cache(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tipwatch"


def _digests_default(seeds: Path, data_dir: Path) -> Path:
    """Digests are kept beside the seed corpus (seeds/digests/), unless the seeds are the copy
    installed inside the package, which is no place for a user's files: then under the data folder."""
    installed = _PACKAGE.resolve() in seeds.resolve().parents
    return data_dir / "digests" if installed else seeds / "digests"


def _build(given: Mapping[str, Any], env: Mapping[str, str], path: Path | None) -> Config:
    """The settings given, with the defaults (some derived from others) filled in."""
    values = dict(given)
    data_dir = Path(values.get("data_dir", DEFAULT_DATA_DIR))
    seeds = Path(values.get("seeds_dir") or bundled("seeds"))
    db = Path(values.get("db") or data_dir / DB_NAME)
    defaults: dict[str, Any] = {
        "data_dir": data_dir, "db": db, "seeds_dir": seeds,
        "sources": seeds / "sources.toml", "profile": seeds / "topics" / "trafficking.toml",
        "digests": _digests_default(seeds, data_dir), "channels": seeds / "channels.toml",
        "schedule": seeds / "schedule.toml",
        "cache_dir": _default_cache(env), "timezone": None, "log_level": "INFO",
        "lookback_days": DEFAULT_LOOKBACK_DAYS, "extract_workers": 0, "extract_timeout": DEFAULT_EXTRACT_TIMEOUT,
        "allow_addresses": "", "warc_dir": db.parent / "warc", "warc_retention_days": DEFAULT_WARC_RETENTION_DAYS,
        "warc_keep_flagged": True, "redis_url": "",
    }
    settled = {name: _read(name, values[name], name) if name in values else default
               for name, default in defaults.items()}
    return Config(**settled, config_file=path, environ=env, given=MappingProxyType(dict(given)))


def replace(config: Config, **changes: Any) -> Config:
    """A copy with these fields changed as they are (no defaults derived again)."""
    return dataclasses.replace(config, **changes)
