"""The daemon's schedule: `seeds/schedule.toml` (or the configuration's `schedule`), validated."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tipwatch.config import read_toml

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class JobSchedule:
    every_seconds: float | None   # an interval ...
    cron: str | None              # ... or a crontab expression
    misfire_grace_seconds: float


@dataclass(frozen=True)
class Schedule:
    timezone: str
    crawl: JobSchedule
    digest: JobSchedule
    send: tuple[str, ...]


def seconds(value: str, where: str) -> float:
    match = _DURATION.match(str(value))
    if not match:
        raise ScheduleError(f"{where}: expected a duration like '90s', '15m', '3h' or '1d', got {value!r}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _job(table: dict, name: str, default_cron: str | None, default_every: str | None, grace: str) -> JobSchedule:
    unknown = set(table) - {"every", "cron", "misfire_grace", "send"}
    if unknown:
        raise ScheduleError(f"[{name}]: unknown key(s) {sorted(unknown)}")
    if "every" in table and "cron" in table:
        raise ScheduleError(f"[{name}]: give either 'every' or 'cron', not both")
    cron = table.get("cron")
    every = table.get("every")
    if cron is None and every is None:
        cron, every = default_cron, default_every
    if cron is not None:
        from apscheduler.triggers.cron import CronTrigger
        try:
            CronTrigger.from_crontab(cron)
        except ValueError as exc:
            raise ScheduleError(f"[{name}] cron {cron!r}: {exc}") from None
    every_seconds = seconds(every, f"[{name}] every") if every is not None else None
    if every_seconds is not None and every_seconds <= 0:
        raise ScheduleError(f"[{name}] every: must be more than 0")
    return JobSchedule(every_seconds, cron, seconds(table.get("misfire_grace", grace), f"[{name}] misfire_grace"))


def load_schedule(path: Path, timezone: str | None = None) -> Schedule:
    """The schedule file; `timezone` (the configuration's, TIPWATCH_TZ) wins over the file's."""
    path = Path(path)
    data = read_toml(path, "schedule", ScheduleError)
    timezone = timezone or data.get("timezone") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"{path}: unknown timezone {timezone!r}") from None
    send = data.get("digest", {}).get("send", [])
    if not isinstance(send, list) or not all(isinstance(s, str) for s in send):
        raise ScheduleError(f"{path}: [digest] send: a list of channel names, e.g. [\"email\", \"slack\"]")
    return Schedule(
        timezone=timezone,
        crawl=_job(data.get("crawl", {}), "crawl", None, "3h", "30m"),
        digest=_job(data.get("digest", {}), "digest", "0 7 * * *", None, "12h"),
        send=tuple(send),
    )
