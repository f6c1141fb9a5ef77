"""`tipwatch daemon` and `tipwatch run` under the work lock, on a site served on loopback."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline import store
from tipwatch.daemon import missed_digest_day
from tipwatch.samplesites import SampleSites, write_sources
from tipwatch.schedule import ScheduleError, load_schedule

from conftest import REPO, tipwatch

PARAGRAPH = ("Provincial police said the women had been promised jobs in a garment factory and were instead "
             "sold to men across the border, in a case of human trafficking that investigators linked to a "
             "ring operating in three districts. ")


def make_site(root, slow: bool = False):
    site = root / "mini"
    (site / "news").mkdir(parents=True)
    (site / "robots.txt").write_text("User-agent: *\nDisallow:\n")
    items = "".join(f"<item><title>Story {n}</title><link>{{{{BASE}}}}/news/{n}00001/story-{n}.html</link>"
                    f"<pubDate>Sat, 21 Nov 2026 0{n}:00:00 +0700</pubDate></item>" for n in (1, 2))
    (site / "feed.rss").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Mini</title>'
                                   f'<link>{{{{BASE}}}}/</link><description>d</description>{items}</channel></rss>')
    for n in (1, 2):
        (site / "news" / f"{n}00001").mkdir()
        (site / "news" / f"{n}00001" / f"story-{n}.html").write_text(
            f'<html lang="en"><head><meta charset="utf-8"><title>Police rescue women sold across border {n}</title>'
            f'<meta property="article:published_time" content="2026-11-21T0{n}:00:00+07:00"></head><body>'
            f'<h1>Police rescue women sold across border {n}</h1>' + f"<p>{PARAGRAPH}</p>" * 4 + "</body></html>")
        # (the two pages tell one story: the digest groups them)
    if slow:
        (site / "routes.toml").write_text('["/news/100001/story-1.html"]\ndelay = 4\n')
    (root / "sources.toml").write_text(
        'allow_addresses = ["127.0.0.1"]\n[[source]]\nname = "mini"\ntitle = "Mini"\nlanguage = "en"\n'
        'feeds = ["{{BASE:mini}}/feed.rss"]\n'
        "article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'\n")


def test_daemon_crawls_digests_and_stops_on_sigterm(tmp_path):
    make_site(tmp_path)
    (tmp_path / "schedule.toml").write_text('[crawl]\nevery = "2s"\n[digest]\nevery = "3s"\n')
    with SampleSites(tmp_path, names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "live-sources.toml")
        env = dict(os.environ, TIPWATCH_LOOKBACK_DAYS="0")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "tipwatch.cli", "daemon", "--db", str(tmp_path / "t.db"), "--sources", str(sources),
             "--digests-dir", str(tmp_path / "digests"), "--schedule", str(tmp_path / "schedule.toml")],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            db = store.open_db(tmp_path / "t.db")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                runs = db.execute("SELECT count(*) FROM crawl_runs WHERE status = 'finished'").fetchone()[0]
                digests = db.execute("SELECT count(*) FROM digest_items").fetchone()[0]
                if runs >= 1 and digests >= 1:
                    break
                time.sleep(0.3)
            daemon.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            _, stderr = daemon.communicate(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert daemon.returncode == 0, stderr
    assert time.monotonic() - stopped < 25
    assert runs >= 1 and digests == 2, stderr
    assert db["articles"].count == 2
    lines = [line.split(" ", 3)[-1] for line in stderr.splitlines()]
    assert any(line.startswith("crawl: run 1 finished in ") and "2 stored, 2 flagged, 0 errors" in line
               for line in lines), stderr
    assert any(line.startswith("digest: ") and "(2 flagged articles in 1 story)" in line for line in lines), stderr
    # a crawl running at SIGTERM is asked to stop and may log its end in between
    assert "daemon: SIGTERM received; stopping" in lines and lines[-1] == "daemon: stopped", stderr
    assert not [line for line in lines if "Traceback" in line or line.startswith("crawl: failed")], stderr


def test_two_runs_at_once_one_works_the_other_says_why(tmp_path):
    make_site(tmp_path, slow=True)
    with SampleSites(tmp_path, names=["mini"]) as sites:
        sources = write_sources(sites, tmp_path / "live-sources.toml")
        args = [sys.executable, "-m", "tipwatch.cli", "run", "--db", str(tmp_path / "t.db"), "--sources", str(sources),
                "--digests-dir", str(tmp_path / "digests"), "--lookback-days", "0"]
        first = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lock = tmp_path / "t.db.lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and "tipwatch run pid" in lock.read_text()):
            time.sleep(0.1)
        second = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60)
        out, _ = first.communicate(timeout=120)
    assert second.returncode == 1
    assert second.stderr == (f"Error: another tipwatch job is running (tipwatch run pid {first.pid} holds {lock}); "
                             "try again later\n")
    assert first.returncode == 0 and "mini: " in out and "2 stored" in out


def test_a_digest_missed_while_down_is_made_on_return(tmp_path):
    (tmp_path / "s.toml").write_text('timezone = "Asia/Ho_Chi_Minh"\n'
                                     '[digest]\ncron = "0 7 * * *"\nmisfire_grace = "12h"\n')
    schedule = load_schedule(tmp_path / "s.toml")
    db = store.open_db(tmp_path / "t.db")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    assert missed_digest_day(db, schedule, datetime(2026, 11, 23, 10, 0, tzinfo=tz)) == "2026-11-23"
    assert missed_digest_day(db, schedule, datetime(2026, 11, 23, 6, 59, tzinfo=tz)) is None  # 23 h ago: too late
    assert missed_digest_day(db, schedule, datetime(2026, 11, 23, 18, 59, tzinfo=tz)) == "2026-11-23"
    assert missed_digest_day(db, schedule, datetime(2026, 11, 23, 19, 1, tzinfo=tz)) is None  # past the grace time
    store.save_digest(db, "2026-11-23", "x.md", [])
    assert missed_digest_day(db, schedule, datetime(2026, 11, 23, 10, 0, tzinfo=tz)) is None


@pytest.mark.parametrize("text, message", [
    ('[crawl]\nevery = "3 hours"\n', "[crawl] every: expected a duration like '90s'"),
    ('[crawl]\nevery = "3h"\ncron = "0 * * * *"\n', "[crawl]: give either 'every' or 'cron', not both"),
    ('[digest]\ncron = "0 25 * * *"\n', "[digest] cron '0 25 * * *'"),
    ('timezone = "Mars/Olympus"\n', "unknown timezone 'Mars/Olympus'"),
    ('[digest]\nsend = "email"\n', "[digest] send: a list of channel names"),
])
def test_bad_schedules_name_the_key(tmp_path, text, message):
    (tmp_path / "s.toml").write_text(text)
    with pytest.raises(ScheduleError) as info:
        load_schedule(tmp_path / "s.toml")
    assert message in str(info.value)
    result = tipwatch("daemon", "--schedule", tmp_path / "s.toml", "--db", tmp_path / "t.db", check=False)
    assert result.returncode == 1 and message in result.stderr


def test_daemon_refuses_to_start_without_its_channels_and_names_every_missing_setting(tmp_path):
    (tmp_path / "s.toml").write_text('[digest]\nsend = ["email", "slack"]\n')
    env = {name: "" for name in ("TIPWATCH_SMTP_URL", "TIPWATCH_SLACK_WEBHOOK_URL", "TIPWATCH_EMAIL_TO")}
    started = time.monotonic()
    result = tipwatch("daemon", "--schedule", tmp_path / "s.toml", "--db", tmp_path / "t.db", env=env,
                      check=False, timeout=60)
    assert result.returncode == 1 and time.monotonic() - started < 30  # at start, not at 07:00
    assert result.stderr.startswith("Error: the daemon cannot send its digests: ")
    for missing in ("email: TIPWATCH_SMTP_URL is not set", "slack: TIPWATCH_SLACK_WEBHOOK_URL is not set",
                    "email: no recipients: set TIPWATCH_EMAIL_TO"):
        assert missing in result.stderr
