"""`tipwatch digest --send`: the outbox delivers every item exactly once per channel,
through failures, rate limits, a crash between two messages and two runs at once.

Real parts only: the CLI in a subprocess, aiosmtpd on loopback, and a local HTTP
receiver that rejects what Slack would reject."""
import email
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from aiosmtpd.controller import Controller
from test_channels import Collector, free_port

from pipeline import store

from conftest import REPO, article, tipwatch
from slack_receiver import SlackReceiver

WORDS = ("police province border women rescued victims court sentenced labour factory workers passports "
         "recruiter brokers village district commune officials investigation network compound casino "
         "fishing boat wages debt smuggled crossing repatriated shelter support programme ministry").split()


def distinct_text(n: int) -> str:
    """Prose unlike any other article's, so that no two test articles form one story."""
    rng = random.Random(n)
    return " ".join(rng.choice(WORDS) + ("." if i % 12 == 11 else "") for i in range(160)) + f" Case {n * 7919}."


def flag_articles(db, count: int, start: int = 1) -> list[int]:
    ids = []
    for n in range(start, start + count):
        article_id = store.save_article(db, article(n, title=f"Trafficking case number {n * 7919} reported",
                                                    text=distinct_text(n), published=f"2026-11-{(n % 20) + 1:02d}"))
        store.save_classification(db, article_id, {
            "score": 9.0, "flagged": True, "matched_terms": ["human trafficking"],
            "snippet": f"… case {n} of human trafficking …", "subtopics": [], "countries": ["Viet Nam"],
            "profile_version": "test"})
        ids.append(article_id)
    return ids


@pytest.fixture
def setup(tmp_path):
    db = store.open_db(tmp_path / "t.db")
    env = {"TIPWATCH_DB": str(tmp_path / "t.db"), "TIPWATCH_DIGESTS": str(tmp_path / "digests"),
           "TIPWATCH_EMAIL_TO": "analyst@example.org", "TIPWATCH_EMAIL_FROM": "tipwatch@example.org"}
    return db, env


def send(env, channels="slack", day="2026-11-23", check=False):
    return tipwatch("digest", "--day", day, "--send", channels, env=env, check=check)


def urls_posted(slack) -> list[str]:
    """Every article URL in every accepted Slack message (lead and related links)."""
    found = []
    for payload in slack.accepted:
        found += [u for u in set(json.dumps(payload).replace("\\/", "/").split("<")) if u.startswith("https://news.test")]
    return [u.split("|")[0] for u in found]


def assert_each_posted_once(slack, db):
    posted = sorted(urls_posted(slack))
    stored = sorted(row["url"] for row in db.query("SELECT url FROM articles"))
    assert posted == stored
    states = {row[0]: row[1]
              for row in db.execute("SELECT state, count(*) FROM deliveries WHERE channel = 'slack' GROUP BY state")}
    assert states == {"delivered": len(stored)}


@pytest.fixture
def smtp(setup):
    """A real SMTP relay on loopback, and the environment pointing at it."""
    _, env = setup
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", server_hostname="127.0.0.1", port=free_port())
    controller.start()
    env["TIPWATCH_SMTP_URL"] = f"smtp://127.0.0.1:{controller.port}"
    yield handler
    controller.stop()


def test_email_is_sent_once_through_a_real_smtp_server(setup, smtp):
    db, env = setup
    handler = smtp
    flag_articles(db, 3)
    first = send(env, "email", check=True)
    second = send(env, "email", check=True)
    assert first.stdout.splitlines()[-1] == "email: sent 1 message (3 articles)"
    assert second.stdout.splitlines()[-1] == "email: everything of the day was delivered already"
    assert len(handler.envelopes) == 1
    message = email.message_from_bytes(handler.envelopes[0].content)
    assert message["To"] == "analyst@example.org" and "3 new items" in message["Subject"]
    delivered = db.execute("SELECT count(*) FROM deliveries WHERE channel = 'email' AND state = 'delivered'")
    assert delivered.fetchone()[0] == 3


def test_an_empty_day_sends_one_note_where_asked(setup, smtp):
    db, env = setup
    handler = smtp
    first = send(env, "email", check=True)
    second = send(env, "email", check=True)
    assert first.stdout.splitlines()[-1] == "email: nothing new; note sent"
    assert second.stdout.splitlines()[-1] == "email: nothing new; the note was already sent today"
    assert len(handler.envelopes) == 1
    assert "nothing new" in email.message_from_bytes(handler.envelopes[0].content)["Subject"]


def test_a_failed_send_leaves_items_pending_and_the_next_run_sends_them(setup):
    db, env = setup
    flag_articles(db, 4)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        slack.fail(500)
        failed = send(env)
        assert failed.returncode == 1
        assert "slack: FAILED after 0 of 1 messages (0 articles sent, 4 stay pending for the next run)" in failed.stdout
        assert slack.url not in failed.stdout + failed.stderr  # the webhook is a secret
        assert slack.accepted == []
        flag_articles(db, 2, start=10)  # the next day brings more
        retried = send(env, day="2026-11-24", check=True)
        assert retried.stdout.splitlines()[-1] == "slack: sent 1 message (6 articles)"
        again = send(env, day="2026-11-24", check=True)
        assert again.stdout.splitlines()[-1] == "slack: everything of the day was delivered already"
        assert_each_posted_once(slack, db)


def test_rate_limit_is_waited_out(setup):
    db, env = setup
    flag_articles(db, 2)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        slack.fail(429, times=2, retry_after=1)
        started = time.monotonic()
        done = send(env, check=True)
        assert time.monotonic() - started >= 2.0  # two Retry-After: 1 honoured
        assert done.stdout.splitlines()[-1] == "slack: sent 1 message (2 articles)"
        assert [status for status, _ in slack.requests] == [429, 429, 200]
        assert_each_posted_once(slack, db)


def test_a_long_digest_split_and_a_failure_halfway_resumes_where_it_stopped(setup):
    db, env = setup
    flag_articles(db, 70)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        first = send(env, check=False)  # learn how many parts a full send takes
        parts = len(slack.accepted)
        assert first.returncode == 0 and parts >= 3 and not slack.errors
    db2_env = dict(env)
    with SlackReceiver() as slack:
        # same digest again on a fresh database: part 2 fails, a re-run sends parts 2.. only
        fresh = store.open_db(env["TIPWATCH_DB"] + ".2")
        flag_articles(fresh, 70)
        db2_env.update(TIPWATCH_DB=env["TIPWATCH_DB"] + ".2", TIPWATCH_SLACK_WEBHOOK_URL=slack.url)
        # let part 1 through, then fail part 2
        original = slack._answer
        calls = []

        def second_fails(path, headers, body):
            calls.append(1)
            if len(calls) == 2:
                with slack._lock:
                    slack.requests.append((500, body))
                return 500, {}, "internal_error"
            return original(path, headers, body)

        slack._answer = second_fails
        halfway = send(db2_env)
        assert halfway.returncode == 1 and "FAILED after 1 of" in halfway.stdout
        resumed = send(db2_env, check=True)
        assert resumed.stdout.splitlines()[-1].startswith(f"slack: sent {parts - 1} messages")
        assert_each_posted_once(slack, fresh)


def test_a_crash_between_two_messages_loses_and_repeats_nothing(setup):
    db, env = setup
    flag_articles(db, 70)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        # part 1 accepted; part 2 never answered: the sender is killed while waiting
        calls = []
        original = slack._take_hold

        def hold_second():
            calls.append(1)
            return len(calls) == 2

        slack._take_hold = hold_second
        process = subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "digest", "--day", "2026-11-23",
                                    "--send", "slack"], cwd=REPO, env=dict(os.environ, **env),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert slack.holding.wait(60), "the second message never came"
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        slack.release()
        slack._take_hold = original
        assert len(slack.accepted) == 1
        resumed = send(env, check=True)
        assert "slack: sent" in resumed.stdout
        assert_each_posted_once(slack, db)


def test_two_digests_at_once_do_not_both_send(setup):
    db, env = setup
    flag_articles(db, 5)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        runs = [subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "digest", "--day", "2026-11-23",
                                  "--send", "slack"], cwd=REPO, env=dict(os.environ, **env),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outputs = [run.communicate(timeout=120) for run in runs]
        assert all(run.returncode == 0 for run in runs), outputs
        assert len(slack.accepted) == 1
        assert_each_posted_once(slack, db)


def test_missing_secret_is_a_clear_error_before_anything_is_written(setup, tmp_path):
    db, env = setup
    flag_articles(db, 1)
    result = send(env, "email")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: email: TIPWATCH_SMTP_URL is not set")
    assert not (tmp_path / "digests").exists() and db["digests"].count == 0


def test_dry_run_renders_every_channel_and_changes_nothing(setup, tmp_path):
    db, env = setup
    flag_articles(db, 2)
    result = tipwatch("digest", "--day", "2026-11-23", "--send", "email,slack", "--dry-run", env=env)
    assert "===== email: message 1 of 1 (2 articles) =====" in result.stdout
    assert "===== slack: message 1 of 1 (2 articles) =====" in result.stdout
    assert db["digests"].count == 0 and db["deliveries"].count == 0 and not (tmp_path / "digests").exists()


def database_content(db) -> list[str]:
    """Every table's rows (and the schema) as SQL text: two equal dumps, an unchanged database."""
    return list(db.conn.iterdump())


def test_a_dry_run_writes_nothing_at_all(setup, tmp_path):
    db, env = setup
    flag_articles(db, 2)
    tipwatch("digest", "--day", "2026-11-22", env=env)  # a digest recorded, fingerprints kept
    flag_articles(db, 2, start=5)                       # new articles: no fingerprint yet
    before = database_content(db)
    files_before = sorted((tmp_path / "digests").rglob("*"))
    result = tipwatch("digest", "--day", "2026-11-23", "--send", "email,slack", "--dry-run", env=env)
    assert database_content(db) == before  # not even the new articles' story fingerprints
    assert sorted((tmp_path / "digests").rglob("*")) == files_before
    # as a send would: the new articles, and those of the digest written the day before without sending
    assert "===== email: message 1 of 1 (4 articles) =====" in result.stdout


def _alert_sent(db, target: str, ids: list[int]) -> None:
    """The articles went out on `target` as immediate alerts (as alerts/immediate.py records them)."""
    store.enqueue_alerts(db, target, ids)
    assert store.claim_deliveries(db, target, "test:1:a", [], kind="alert") == ids
    store.mark_delivered(db, target, ids, "test:1:a", kind="alert")


def _slack_preview(stdout: str) -> tuple[str, dict | None]:
    """The dry run's Slack header line, and the JSON payload it previews (None when nothing)."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("===== slack:"))
    if "nothing to send" in lines[at]:
        return lines[at], None
    return lines[at], json.loads("\n".join(lines[at + 2:]))


def test_a_dry_run_previews_the_alerted_only_digest_as_the_send_makes_it(setup, tmp_path):
    db, env = setup
    ids = flag_articles(db, 2)
    _alert_sent(db, "slack", ids)
    before = database_content(db)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        dry = tipwatch("digest", "--day", "2026-11-23", "--send", "slack", "--dry-run", env=env)
        header, payload = _slack_preview(dry.stdout)
        assert header == ("===== slack: message 1 of 1 (0 articles; nothing new; the day's 2 immediate alerts "
                          "listed) =====")
        assert database_content(db) == before and slack.accepted == []
        sent = send(env, "slack", check=True)
        assert sent.stdout.splitlines()[-1] == "slack: nothing new; the day's 2 immediate alerts listed"
        assert slack.accepted == [payload]  # the preview was the message, to the byte
        again = tipwatch("digest", "--day", "2026-11-23", "--send", "slack", "--dry-run", env=env)
        assert _slack_preview(again.stdout) == (
            "===== slack: nothing to send (everything of the day was delivered already) =====", None)


def test_a_dry_run_lists_what_a_channel_alerted_and_sends_only_the_rest(setup):
    db, env = setup
    alerted, new = flag_articles(db, 2)
    _alert_sent(db, "slack", [alerted])
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        dry = tipwatch("digest", "--day", "2026-11-23", "--send", "slack", "--dry-run", env=env)
        header, payload = _slack_preview(dry.stdout)
        assert header == "===== slack: message 1 of 1 (1 articles) ====="
        send(env, "slack", check=True)
        assert slack.accepted == [payload]
    kinds = dict(db.execute("SELECT article_id, kind FROM deliveries WHERE channel = 'slack' AND state = 'delivered'"))
    assert kinds == {alerted: "alert", new: "digest"}


def test_digests_written_without_sending_go_out_with_the_next_send(setup):
    db, env = setup
    flag_articles(db, 2)
    tipwatch("digest", "--day", "2026-11-22", env=env)  # e.g. `tipwatch run` from cron: file only
    flag_articles(db, 1, start=5)
    with SlackReceiver() as slack:
        env["TIPWATCH_SLACK_WEBHOOK_URL"] = slack.url
        sent = send(env, day="2026-11-23", check=True)
        assert sent.stdout.splitlines()[-1] == "slack: sent 1 message (3 articles)"
        assert_each_posted_once(slack, db)


def test_dry_run_writes_the_email_html_to_a_file_and_nothing_else(setup, tmp_path):
    db, env = setup
    flag_articles(db, 2)
    html = tmp_path / "preview" / "email.html"
    html.parent.mkdir()
    result = tipwatch("digest", "--day", "2026-11-23", "--send", "email", "--dry-run", "--html", html, env=env)
    assert result.stdout.splitlines()[-1] == f"email HTML: {html} (open it in a browser)"
    page = html.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith(("<!doctype html", "<html"))
    titles = [row["title"] for row in db.query("SELECT title FROM articles")]
    assert len(titles) == 2 and all(title in page for title in titles)
    assert db["digests"].count == 0 and db["deliveries"].count == 0 and not (tmp_path / "digests").exists()
    refused = tipwatch("digest", "--day", "2026-11-23", "--html", html, env=env, check=False)
    assert refused.returncode == 1 and "--html goes with --dry-run" in refused.stderr
