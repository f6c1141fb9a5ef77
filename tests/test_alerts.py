"""Immediate alerts and subscriptions, end to end: `tipwatch crawl` / `run` / `digest` in a
subprocess, crawling sites served on 127.0.0.1, sending to aiosmtpd and the Slack receiver on
127.0.0.1. Every wait is bounded (the CLI helper's timeout, the servers' own)."""
import email
import email.policy
import re

import pytest
from test_channels import Collector, free_port

from pipeline import store
from tipwatch.samplesites import SampleSites, write_sources

from conftest import smtp_server, tipwatch
from slack_receiver import SlackReceiver

PARAGRAPH = ("Provincial police said the women had been promised jobs in a garment factory and were instead "
             "sold to men across the border, in a case of human trafficking that investigators linked to a "
             "ring operating in {place}. ")
SECRET_PARTS = ("s3cretWebhookToken", "hunter2")


def make_sites(root, articles: dict[str, list[str]]):
    """One site per source name, each with a feed of its articles (titles given)."""
    entries = ['allow_addresses = ["127.0.0.1"]']
    for name, titles in articles.items():
        site = root / name
        (site / "news").mkdir(parents=True)
        (site / "robots.txt").write_text("User-agent: *\nDisallow:\n")
        items = ""
        for n, title in enumerate(titles, 1):
            path = f"/news/{n}00001/story-{n}.html"
            items += (f"<item><title>{title}</title><link>{{{{BASE}}}}{path}</link>"
                      f"<pubDate>Sat, 21 Nov 2026 0{n}:00:00 +0700</pubDate></item>")
            page = site / path.lstrip("/")
            page.parent.mkdir(parents=True)
            page.write_text(
                f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
                f'<meta property="article:published_time" content="2026-11-21T0{n}:00:00+07:00"></head><body>'
                f"<h1>{title}</h1>" + f"<p>{PARAGRAPH.format(place=name + ' district ' + str(n))}</p>" * 4
                + "</body></html>")
        (site / "feed.rss").write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
                                       f"<link>{{{{BASE}}}}/</link><description>d</description>{items}</channel></rss>")
        entries.append(f'[[source]]\nname = "{name}"\ntitle = "{name}"\nlanguage = "en"\n'
                       f'feeds = ["{{{{BASE:{name}}}}}/feed.rss"]\n'
                       "article_pattern = '/news/\\d+/[a-z0-9-]+\\.html$'\n")
    (root / "sources.toml").write_text("\n".join(entries))


CHANNELS = """
[email]
to = ["desk@example.org"]
from = "tipwatch@example.org"
[slack]
channel = "#tip-alerts"
"""
IMMEDIATE = """
[immediate]
rules = ["tip-core"]
channels = ["email", "slack"]
"""


@pytest.fixture
def world(tmp_path):
    """Two sources on loopback, a database, a digests folder, and the environment pointing at them."""
    make_sites(tmp_path, {"alpha": ["Police rescue women sold across border"],
                          "beta": ["Court opens human trafficking trial of ring leaders"]})
    with SampleSites(tmp_path, names=["alpha", "beta"]) as sites:
        sources = write_sources(sites, tmp_path / "live-sources.toml")
        env = {"TIPWATCH_DB": str(tmp_path / "t.db"), "TIPWATCH_DIGESTS": str(tmp_path / "digests"),
               "TIPWATCH_SOURCES": str(sources), "TIPWATCH_CHANNELS": str(tmp_path / "channels.toml"),
               "TIPWATCH_EMAIL_TO": "", "TIPWATCH_SMTP_URL": "", "TIPWATCH_SLACK_WEBHOOK_URL": ""}
        yield tmp_path, env


def crawl(env, *args):
    result = tipwatch("crawl", "--lookback-days", "0", *args, env=env, timeout=120)
    for part in SECRET_PARTS:
        assert part not in result.stdout + result.stderr
    return result


def subjects(handler) -> list[str]:
    return [email.message_from_bytes(e.content, policy=email.policy.default)["Subject"] for e in handler.envelopes]


def body(envelope) -> str:
    return email.message_from_bytes(envelope.content, policy=email.policy.default).get_body(("plain",)).get_content()


def test_a_qualifying_article_is_alerted_once_before_the_crawl_returns_and_the_digest_says_so(world):
    root, env = world
    (root / "channels.toml").write_text(CHANNELS + IMMEDIATE)
    handler = Collector()
    smtp = smtp_server(handler)
    smtp.start()
    try:
        with SlackReceiver() as slack:
            env.update(TIPWATCH_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", TIPWATCH_SLACK_WEBHOOK_URL=slack.url)
            first = crawl(env)
            # sent before `tipwatch crawl` returned: nothing runs after it here
            assert sorted(subjects(handler)) == [
                "[tipwatch] ALERT: Court opens human trafficking trial of ring leaders",
                "[tipwatch] ALERT: Police rescue women sold across border"]
            assert "alerts email: sent 2 alerts" in first.stdout and "alerts slack: sent 2 alerts" in first.stdout
            text = body(handler.envelopes[0])
            assert "Why: rule tip-core" in text and "http://127.0.0.1:" in text and "score " in text
            assert [e.rcpt_tos for e in handler.envelopes] == [["desk@example.org"]] * 2
            assert len(slack.accepted) == 2 and not slack.errors
            assert "ALERT" in slack.accepted[0]["blocks"][0]["text"]["text"]

            again = crawl(env)                      # a quiet hour: nothing new, nothing sent
            assert "alerts: nothing new to alert on" in again.stdout
            assert len(handler.envelopes) == 2 and len(slack.accepted) == 2

            # the day's digest still comes, once, listing both as alerted and nothing as new
            digest = tipwatch("digest", "--send", "email,slack", env=env, timeout=60)
            assert "email: nothing new; the day's 2 immediate alerts listed" in digest.stdout, digest.stdout
            assert "slack: nothing new; the day's 2 immediate alerts listed" in digest.stdout
            assert len(handler.envelopes) == 3 and len(slack.accepted) == 3
            assert subjects(handler)[-1].startswith("[tipwatch] nothing new beyond 2 immediate alerts — ")
            listed = body(handler.envelopes[-1])
            new_part, earlier = listed.split("Sent earlier as immediate alerts (not repeated above):")
            assert "Nothing new was flagged" in new_part and "Police rescue" not in new_part
            assert len(re.findall(r"- alerted at \d\d:\d\d: ", earlier)) == 2, earlier
            assert "alerted at " in str(slack.accepted[-1]["blocks"]) and not slack.errors

            again = tipwatch("digest", "--send", "email,slack", env=env, timeout=60)
            assert "email: everything of the day was delivered already" in again.stdout, again.stdout
            assert len(handler.envelopes) == 3 and len(slack.accepted) == 3  # not twice
    finally:
        smtp.stop()
    text = next((root / "digests").glob("*.md")).read_text()
    # the two pages tell one story: the lead says it, the related link too
    assert len(re.findall(r"[Aa]lerted at \d\d:\d\d \(email, slack\)", text)) == 2, text


def test_a_failed_alert_stays_pending_and_the_next_crawl_sends_it_once(world):
    root, env = world
    (root / "channels.toml").write_text(CHANNELS + IMMEDIATE)
    handler = Collector()
    port = free_port()
    env["TIPWATCH_SMTP_URL"] = f"smtp://127.0.0.1:{port}"   # no server there yet: refused
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        slack.fail(500, times=1)
        first = crawl(env)
        assert first.returncode == 0                   # the crawl itself succeeded
        assert "alerts email: FAILED after 0 of 2 alerts (2 stay pending for the next crawl)" in first.stderr
        assert "alerts slack: FAILED after 0 of 2 alerts (2 stay pending" in first.stderr
        db = store.open_db(root / "t.db")
        assert store.delivery_counts(db, "email") == {"pending": 2}

        from aiosmtpd.controller import Controller
        smtp = Controller(handler, hostname="127.0.0.1", server_hostname="127.0.0.1", port=port)
        smtp.start()
        try:
            second = crawl(env, "--quiet")             # stores nothing new, sends what waited
            third = crawl(env)
        finally:
            smtp.stop()
    assert second.stdout == "" and second.stderr == ""
    assert "alerts: nothing new to alert on" in third.stdout
    assert len(handler.envelopes) == 2 and len(slack.accepted) == 2
    assert store.delivery_counts(db, "email") == {"delivered": 2} == store.delivery_counts(db, "slack")


def test_without_secrets_the_crawl_succeeds_and_says_in_one_line_why_nothing_went(world):
    root, env = world
    (root / "channels.toml").write_text(CHANNELS + IMMEDIATE)
    result = crawl(env)
    assert result.returncode == 0 and "alpha: " in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("alerts")]
    assert lines == ["alerts: not sent (4 pending): email: TIPWATCH_SMTP_URL is not set (an SMTP server URL like "
                     "smtp://user:pass@host:587); slack: TIPWATCH_SLACK_WEBHOOK_URL is not set (the Slack Incoming "
                     "Webhook URL) (secrets are read from the environment only)"], result.stderr


def test_run_alerts_then_writes_the_digest_marking_what_was_alerted(world):
    root, env = world
    (root / "channels.toml").write_text(CHANNELS + '[immediate]\nmin_score = 0\nchannels = ["slack"]\n')
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        result = tipwatch("run", "--lookback-days", "0", env=env, timeout=120)
    assert "alerts slack: sent 2 alerts" in result.stdout and len(slack.accepted) == 2
    assert result.stdout.index("alerts slack") < result.stdout.index("digest: ")
    text = next((root / "digests").glob("*.md")).read_text()
    assert len(re.findall(r"[Aa]lerted at \d\d:\d\d \(slack\)", text)) == 2, text


def test_two_subscriptions_with_disjoint_filters_each_get_only_their_items(world):
    root, env = world
    (root / "channels.toml").write_text(CHANNELS + """
[[subscription]]
name = "desk-alpha"
mode = "immediate"
sources = ["alpha"]
channels = ["email", "slack"]
email_to = ["alpha-desk@example.org"]
slack_webhook_env = "TIPWATCH_SLACK_WEBHOOK_ALPHA"

[[subscription]]
name = "legal"
mode = "daily"
sources = ["beta"]
channels = ["email", "slack"]
email_to = ["legal@example.org"]
slack_webhook_env = "TIPWATCH_SLACK_WEBHOOK_LEGAL"
""")
    handler = Collector()
    smtp = smtp_server(handler)
    smtp.start()
    try:
        with SlackReceiver() as alpha_slack, SlackReceiver() as legal_slack:
            env.update(TIPWATCH_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", TIPWATCH_EMAIL_TO="desk@example.org",
                       TIPWATCH_SLACK_WEBHOOK_ALPHA=alpha_slack.url, TIPWATCH_SLACK_WEBHOOK_LEGAL=legal_slack.url)
            crawled = crawl(env)
            assert "alerts desk-alpha:email: sent 1 alert" in crawled.stdout
            assert [e.rcpt_tos for e in handler.envelopes] == [["alpha-desk@example.org"]]
            assert subjects(handler) == ["[tipwatch] ALERT: Police rescue women sold across border"]
            assert len(alpha_slack.accepted) == 1 and not legal_slack.accepted

            dry = tipwatch("digest", "--send", "email", "--dry-run", env=env, timeout=60)
            assert "===== subscription legal: 1 articles in 1 stories =====" in dry.stdout
            team_part = dry.stdout.split("===== subscription legal")[1]
            assert "===== legal:email: message 1 of 1 (1 articles) =====" in team_part
            assert "===== legal:slack: message 1 of 1 (1 articles) =====" in team_part
            assert "To: legal@example.org" in team_part and "Police rescue women" not in team_part
            assert not (root / "digests").exists() and len(handler.envelopes) == 1  # wrote and sent nothing
            first = tipwatch("digest", "--send", "email", env=env, timeout=60)
            second = tipwatch("digest", "--send", "email", env=env, timeout=60)  # exactly once
    finally:
        smtp.stop()
    assert "legal:email: sent 1 message (1 articles)" in first.stdout
    assert "legal:slack: sent 1 message (1 articles)" in first.stdout
    assert "legal:email: everything of the day was delivered already" in second.stdout
    by_rcpt = {tuple(e.rcpt_tos): e for e in handler.envelopes}
    assert set(by_rcpt) == {("alpha-desk@example.org",), ("desk@example.org",), ("legal@example.org",)}
    legal = body(by_rcpt[("legal@example.org",)])
    assert "Court opens human trafficking trial" in legal and "Police rescue women" not in legal
    desk = body(by_rcpt[("desk@example.org",)])       # the whole digest still has both
    assert "Court opens human trafficking trial" in desk and "Police rescue women" in desk
    assert len(alpha_slack.accepted) == 1 and len(legal_slack.accepted) == 1
    posted = str(legal_slack.accepted[0])
    assert "Court opens human trafficking trial" in posted and "Police rescue women" not in posted
    team_file = next((root / "digests" / "legal").glob("*.md")).read_text()
    assert "subscription legal" in team_file and "Court opens" in team_file and "Police rescue" not in team_file
    for part in SECRET_PARTS:
        assert part not in first.stdout + first.stderr + second.stdout + second.stderr


def test_the_daemons_crawl_job_alerts_once_across_its_crawls(world):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    root, env = world
    (root / "channels.toml").write_text(CHANNELS + '[immediate]\nrules = ["tip-core"]\nchannels = ["slack"]\n')
    (root / "schedule.toml").write_text('[crawl]\nevery = "2s"\n[digest]\ncron = "0 7 * * *"\n')
    with SlackReceiver() as slack:
        env.update(TIPWATCH_SLACK_WEBHOOK_URL=slack.url, TIPWATCH_LOOKBACK_DAYS="0")
        daemon = subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "daemon",
                                   "--schedule", str(root / "schedule.toml")],
                                  cwd=REPO, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        try:
            db = store.open_db(root / "t.db")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # two crawls: the first alerts, the second must not
                if db.execute("SELECT count(*) FROM crawl_runs WHERE status = 'finished'").fetchone()[0] >= 2:
                    break
                time.sleep(0.3)
            daemon.send_signal(signal.SIGTERM)
            _, stderr = daemon.communicate(timeout=30)
        finally:
            if daemon.poll() is None:
                daemon.kill()
    finished = db.execute("SELECT count(*) FROM crawl_runs WHERE status = 'finished'").fetchone()[0]
    assert finished >= 2, stderr
    assert len(slack.accepted) == 2 and store.delivery_counts(db, "slack") == {"delivered": 2}, stderr
    assert "s3cretWebhookToken" not in stderr


def test_the_email_and_slack_digests_list_what_went_out_earlier_as_alerts(world):
    root, env = world
    handler = Collector()
    smtp = smtp_server(handler)
    smtp.start()
    try:
        with SlackReceiver() as slack:
            env.update(TIPWATCH_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}", TIPWATCH_SLACK_WEBHOOK_URL=slack.url)
            (root / "channels.toml").write_text(CHANNELS + IMMEDIATE)
            crawl(env, "--source", "alpha")                  # alerted at once
            (root / "channels.toml").write_text(CHANNELS)     # no [immediate]: beta waits for the digest
            crawl(env, "--source", "beta")
            assert subjects(handler) == ["[tipwatch] ALERT: Police rescue women sold across border"]
            tipwatch("digest", "--send", "email,slack", env=env, timeout=60)
            digest_mail = body(handler.envelopes[-1])
            new_part, earlier = digest_mail.split("Sent earlier as immediate alerts (not repeated above):")
            assert "Court opens human trafficking trial of ring leaders" in new_part
            assert "Police rescue women sold across border" not in new_part
            assert re.search(r"- alerted at \d\d:\d\d: Police rescue women sold across border \(alpha\)", earlier)
            html = email.message_from_bytes(handler.envelopes[-1].content, policy=email.policy.default) \
                .get_body(("html",)).get_content()
            assert "Sent earlier as immediate alerts" in html and "alerted at " in html
            footer = str(slack.accepted[-1]["blocks"][-1])
            assert re.search(r"alerted at \d\d:\d\d: <http://127\.0\.0\.1:\d+/news/100001/story-1\.html\|"
                             r"Police rescue women sold across border> \(alpha\)", footer), footer
            assert not slack.errors
    finally:
        smtp.stop()


def test_a_backlog_of_alerts_goes_out_as_one_message_per_channel(tmp_path):
    titles = [f"Police rescue {n + 4} women sold across border in trafficking case" for n in range(7)]
    make_sites(tmp_path, {"alpha": titles})
    (tmp_path / "channels.toml").write_text(CHANNELS + IMMEDIATE)
    handler = Collector()
    smtp = smtp_server(handler)
    smtp.start()
    try:
        with SampleSites(tmp_path, names=["alpha"]) as sites, SlackReceiver() as slack:
            env = {"TIPWATCH_DB": str(tmp_path / "t.db"), "TIPWATCH_DIGESTS": str(tmp_path / "digests"),
                   "TIPWATCH_SOURCES": str(write_sources(sites, tmp_path / "live-sources.toml")),
                   "TIPWATCH_CHANNELS": str(tmp_path / "channels.toml"), "TIPWATCH_EMAIL_TO": "",
                   "TIPWATCH_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}", "TIPWATCH_SLACK_WEBHOOK_URL": slack.url}
            first = crawl(env)
            assert "alerts email: sent 7 alerts in 1 message" in first.stdout, first.stdout
            assert "alerts slack: sent 7 alerts in 1 message" in first.stdout
            assert subjects(handler) == [f"[tipwatch] ALERT: 7 new items — {titles[-1]}"]  # the newest
            text = body(handler.envelopes[0])
            assert sorted(titles, key=text.find) == titles[::-1]  # newest first, each once
            assert text.count("Why: rule tip-core") == 7 and text.count("http://127.0.0.1:") == 7
            blocks = slack.accepted[0]["blocks"]
            assert len(slack.accepted) == 1 and len(blocks) == 8 and not slack.errors
            assert "7 new items" in blocks[0]["text"]["text"]
            assert all("ALERT: <http://127.0.0.1:" in b["text"]["text"] for b in blocks[1:])
            assert "nothing new to alert on" in crawl(env).stdout  # delivered, once
            assert len(handler.envelopes) == 1 and len(slack.accepted) == 1
    finally:
        smtp.stop()
