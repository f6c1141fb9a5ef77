"""`tipwatch daemon`: crawl and digest on a schedule, for months, unattended.

APScheduler 3 runs two jobs (never two of a kind at once, misfires coalesced, a grace
time for late runs). A crawl runs in a fresh subprocess, because Scrapy's reactor
cannot be restarted within one process; the digest runs here. Both take the database's
work lock, shared with `tipwatch run`, so a cron job and the daemon never do the same
work at once. SIGTERM/SIGINT stop the scheduler, ask a running crawl to finish (Scrapy
closes its spider and records the run), and exit 0. A digest missed while the daemon
was down is made when it comes back; it covers everything not sent before.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from alerts.channels import ChannelConfigError, load_channels
from alerts.digest import summary, today, write_digest
from alerts.outbox import write_and_deliver
from alerts.subscriptions import load_alerting
from alerts.teams import team_channels
from pipeline import store
from tipwatch.commands import CommandError
from tipwatch.commands.digesting import stale_after
from tipwatch.config import Config
from tipwatch.crawl import CrawlOptions, crawl_command
from tipwatch.lock import LockBusy, child_env, work_lock
from tipwatch.schedule import JobSchedule, Schedule, ScheduleError, load_schedule

log = logging.getLogger("tipwatch.daemon")
CHILD_STOP_SECONDS = 20   # a crawl asked to stop gets this long to close its spider


def setup_logging(log_file: Path | None) -> None:
    """One line per job run, on stderr and optionally in a rotating file."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=5))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers,
                        force=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its per-job chatter; misfires still show


def trigger_for(job: JobSchedule, timezone: str):
    if job.cron:
        return CronTrigger.from_crontab(job.cron, timezone=timezone)
    return IntervalTrigger(seconds=job.every_seconds, timezone=timezone)


def missed_digest_day(db, schedule: Schedule, now: datetime) -> str | None:
    """The day of a scheduled digest that fell while the daemon was down (within the grace
    time) and was never made; None when there is none."""
    trigger = trigger_for(schedule.digest, schedule.timezone)
    window_start = now - timedelta(seconds=schedule.digest.misfire_grace_seconds)
    fire = trigger.get_next_fire_time(None, window_start)
    if fire is None or fire > now:
        return None
    day = fire.astimezone(ZoneInfo(schedule.timezone)).date().isoformat()
    return None if store.digest_for_day(db, day) else day


class Daemon:
    def __init__(self, config: Config, schedule: Schedule, crawl_log: Path):
        self.config = config
        self.schedule = schedule
        self.crawl_log = crawl_log
        self.child: subprocess.Popen | None = None
        self.stopping = threading.Event()
        self.scheduler: BlockingScheduler | None = None
        # the daemon's own jobs wait for each other (a digest due during a crawl runs after it);
        # the file lock then keeps out other processes (cron's `tipwatch run`), which are skipped
        self.one_job = threading.Lock()

    # ------------------------------------------------------------ jobs

    def crawl_job(self) -> None:
        if self.stopping.is_set():
            return
        try:
            with self.one_job, work_lock(self.config.db, "daemon crawl", self.config.environ) as held:
                self._crawl(held)
        except LockBusy as exc:
            log.warning("crawl: skipped: %s", exc)

    def _crawl(self, held) -> None:
        started = time.monotonic()
        options = CrawlOptions(config=self.config, log_file=self.crawl_log)
        # the child `tipwatch crawl` takes the work lock too: it works under ours, passed down
        env, fds = child_env(held, self.config.environ) if held else (dict(self.config.environ), ())
        self.child = subprocess.Popen(crawl_command(options), stderr=subprocess.PIPE, text=True, env=env,
                                      pass_fds=fds)
        _, stderr = self.child.communicate()
        code, self.child = self.child.returncode, None
        if code != 0 and self.stopping.is_set():
            # stopped before Scrapy could install its own signal handlers: nothing was recorded
            log.info("crawl: abandoned at shutdown after %.1f s (exit status %s)", time.monotonic() - started, code)
            return
        if code != 0:
            last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {code}"
            log.error("crawl: failed after %.1f s: %s", time.monotonic() - started, last)
            return
        for line in stderr.splitlines():  # the child's alerts that could not go (they stay pending)
            if line.startswith("alerts"):
                log.warning("crawl: %s", line)
        db = store.open_db(self.config.db)
        run_id = store.latest_run_id(db)
        rows = store.run_stats(db, run_id) if run_id is not None else []
        log.info("crawl: run %s finished in %.1f s: %d sources, %d fetched, %d stored, %d flagged, %d errors",
                 run_id, time.monotonic() - started, len(rows), sum(r["articles_fetched"] for r in rows),
                 sum(r["articles_stored"] for r in rows), sum(r["articles_flagged"] for r in rows),
                 sum(r["errors"] for r in rows))

    def digest_job(self, day: str | None = None) -> None:
        if self.stopping.is_set():
            return
        try:
            with self.one_job, work_lock(self.config.db, "daemon digest", self.config.environ):
                if not self.stopping.is_set():
                    self._digest(day)
        except LockBusy as exc:
            log.warning("digest: skipped: %s", exc)

    def _digest(self, day: str | None) -> None:
        config, tz = self.config, self.schedule.timezone
        db = store.open_db(config.db)
        day = day or today(tz)
        limits = stale_after(config)
        try:
            alerting = load_alerting(config.channels)
            channels, teams = self._channels(alerting) if self.schedule.send else ({}, {})
        except ChannelConfigError as exc:
            path, data = write_digest(db, day, config.digests, stale_after=limits, tz=tz)
            log.error("digest: %s (%s); not sent: %s", path, summary(data), exc)
            return
        path, data, reports = write_and_deliver(db, day, config.digests, channels, stale_after=limits, tz=tz,
                                                alerting=alerting, teams=teams)
        line = "; ".join([f"digest: {path} ({summary(data)})", *(report.line() for report in reports)])
        if any(report.failed for report in reports):
            log.error(line)
        else:
            log.info(line)

    # ------------------------------------------------------------ running

    def stop(self, signum, frame) -> None:
        if self.stopping.is_set():
            return
        log.info("daemon: %s received; stopping", signal.Signals(signum).name)
        self.stopping.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()  # Scrapy closes the spider and records the run as 'shutdown'
            def kill_if_running() -> None:
                if child.poll() is None:
                    child.kill()

            threading.Timer(CHILD_STOP_SECONDS, kill_if_running).start()
        # shutdown(wait=True) would block this handler until the job ends: do it off the main thread
        assert self.scheduler is not None  # run() sets it before it installs this handler
        threading.Thread(target=self.scheduler.shutdown, name="shutdown").start()

    def _channels(self, alerting) -> tuple[dict, dict]:
        """The digest's channels, and each daily subscription's (recipients and webhook)."""
        config = self.config
        channels = load_channels(config.channels, config.environ, names=list(self.schedule.send))
        return channels, team_channels(alerting, config.channels, config.environ)

    def check_channels(self) -> None:
        """Every channel the digest job will send to is configured, or ChannelConfigError naming
        all that is missing: found at start, not at 07:00."""
        if self.schedule.send:
            self._channels(load_alerting(self.config.channels))

    def run(self) -> int:
        tz = self.schedule.timezone
        self.scheduler = scheduler = BlockingScheduler(timezone=tz,
                                                       job_defaults={"max_instances": 1, "coalesce": True})
        now = datetime.now(ZoneInfo(tz))
        scheduler.add_job(self.crawl_job, trigger_for(self.schedule.crawl, tz), id="crawl", next_run_time=now,
                          misfire_grace_time=int(self.schedule.crawl.misfire_grace_seconds))
        scheduler.add_job(self.digest_job, trigger_for(self.schedule.digest, tz), id="digest",
                          misfire_grace_time=int(self.schedule.digest.misfire_grace_seconds))
        missed = missed_digest_day(store.open_db(self.config.db), self.schedule, now)
        if missed:
            log.info("daemon: the digest of %s was missed while down; making it now", missed)
            scheduler.add_job(self.digest_job, kwargs={"day": missed}, id="missed-digest",
                              next_run_time=now + timedelta(seconds=1))
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        log.info("daemon: started (pid %s); crawl %s, digest %s, time zone %s", os.getpid(),
                 _describe(self.schedule.crawl), _describe(self.schedule.digest), tz)
        scheduler.start()
        log.info("daemon: stopped")
        return 0


def start_daemon(config: Config, log_file: Path | None) -> int:
    """`tipwatch daemon`: the schedule and the digest's channels checked at start (a missing
    secret found now, not at 07:00), then run until stopped; returns the exit status."""
    try:
        schedule = load_schedule(config.schedule, config.timezone)
    except ScheduleError as exc:
        raise CommandError(str(exc)) from None
    setup_logging(log_file)
    runner = Daemon(config, schedule, crawl_log=config.db.parent / "crawl.log")
    try:
        runner.check_channels()
    except ChannelConfigError as exc:
        raise CommandError(f"the daemon cannot send its digests: {exc}") from None
    return runner.run()


def _describe(job: JobSchedule) -> str:
    return f"cron '{job.cron}'" if job.cron else f"every {job.every_seconds:g} s"
