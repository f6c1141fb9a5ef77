"""[immediate] and [[subscription]]: the pure decisions, the validation of the channels file,
and the outbox bookkeeping of alerts (no network: the end-to-end runs are in test_alerts.py)."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.channels import ChannelConfigError, load_settings
from alerts.digest import alerted_text, build_digest
from alerts.immediate import plan_alerts, send_alerts
from alerts.subscriptions import Alerting, Immediate, Subscription, filter_digest, load_alerting, matches, qualifies
from pipeline import store

from conftest import REPO, article

SHIPPED_CHANNELS = REPO / "seeds" / "channels.toml"

ITEM = {"id": 7, "source": "vnexpress", "language": "vi", "score": 7.5,
        "rules": {"tip-core": 3.0, "rescue-vi": 1.5, "job-lure": 0.0},
        "subtopics": ["arrest / prosecution / rescue"], "countries": ["Viet Nam", "Cambodia"]}


def test_qualifies_on_any_of_score_rule_or_subtopic_and_says_why():
    assert qualifies(Immediate(min_score=7.0), ITEM) == ["score 7.5 ≥ 7"]
    assert qualifies(Immediate(min_score=8.0), ITEM) == []
    assert qualifies(Immediate(rules=("job-lure", "rescue-vi")), ITEM) == ["rule rescue-vi"]  # 0 points: no hit
    assert qualifies(Immediate(subtopics=("Arrest / Prosecution / Rescue",)), ITEM) == [
        "subtopic arrest / prosecution / rescue"]
    assert qualifies(Immediate(min_score=1, rules=("tip-core",)), ITEM) == ["score 7.5 ≥ 1", "rule tip-core"]
    assert qualifies(None, ITEM) == []


@pytest.mark.parametrize("sub, expected", [
    (Subscription("a"), True),                                      # no filter: everything flagged
    (Subscription("a", countries=("cambodia",)), True),             # any entry of a list, any case
    (Subscription("a", countries=("Laos", "Thailand")), False),
    (Subscription("a", languages=("vi",), sources=("vnexpress",)), True),
    (Subscription("a", languages=("vi",), sources=("tuoitre",)), False),  # every filter must hold
    (Subscription("a", subtopics=("bride trafficking",)), False),
    (Subscription("a", min_score=7.5), True),
    (Subscription("a", min_score=7.6), False),
])
def test_a_subscription_matches_when_every_filter_holds(sub, expected):
    assert matches(sub, ITEM) is expected


def test_plan_sends_each_target_its_own_articles():
    en = dict(ITEM, id=1, language="en", score=3.5, rules={"tip-core": 3.0})
    vi = dict(ITEM, id=2, rules={"brides-vi": 2.0}, subtopics=["bride trafficking"])
    alerting = Alerting(Immediate(rules=("tip-core",), channels=("email",)),
                        (Subscription("partner", mode="immediate", languages=("vi",), channels=("slack",)),
                         Subscription("legal", mode="daily", channels=("email",))))
    assert plan_alerts(alerting, [en, vi]) == {"email": [1], "partner:slack": [2]}  # a daily one alerts on nothing
    assert plan_alerts(Alerting(), [en, vi]) == {}


def test_a_team_digest_keeps_its_articles_and_their_stories():
    a, b, c = (dict(ITEM, id=i, source=s) for i, s in ((1, "x"), (2, "y"), (3, "y")))
    digest = {"day": "2026-11-23", "items": [a, b, c], "total": 3, "story_count": 2,
              "stories": [{"key": "s1", "lead": a, "related": [b], "follow_up_of": None},
                          {"key": "s3", "lead": c, "related": [], "follow_up_of": None}],
              "per_source": {"x": 1, "y": 2}, "languages": {"vi": 3}, "source_notes": []}
    team = filter_digest(digest, Subscription("y-team", sources=("y",)))
    assert [(s["lead"]["id"], [r["id"] for r in s["related"]]) for s in team["stories"]] == [(2, []), (3, [])]
    assert (team["total"], team["story_count"], team["per_source"]) == (2, 2, {"y": 2})
    assert filter_digest(digest, Subscription("none", sources=("z",)))["stories"] == []


def test_alerted_text_is_in_the_digest_time_zone_with_the_day_when_it_differs():
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    sent = [("email", "2026-11-23T03:42:00+00:00"), ("slack", "2026-11-23T03:43:10+00:00")]
    assert alerted_text(sent, "2026-11-23", zone) == "10:42 (email, slack)"
    assert (alerted_text([("legal:email", "2026-11-22T16:05:00+00:00")], "2026-11-23", zone)
            == "23:05 on 2026-11-22 (legal:email)")


GOOD = """
[email]
to = ["desk@example.org"]
[immediate]
min_score = 8
channels = ["email"]
[[subscription]]
name = "legal"
subtopics = ["policy / law / cooperation"]
channels = ["email", "slack"]
email_to = ["legal@example.org"]
slack_webhook_env = "TIPWATCH_SLACK_WEBHOOK_LEGAL"
"""


def test_a_good_file_loads_and_the_channel_settings_ignore_the_new_sections(tmp_path):
    path = tmp_path / "channels.toml"
    path.write_text(GOOD)
    alerting = load_alerting(path)
    assert alerting.immediate == Immediate(min_score=8.0, channels=("email",))
    (legal,) = alerting.subscriptions
    assert (legal.mode, legal.email_to, legal.target("slack")) == ("daily", ("legal@example.org",), "legal:slack")
    assert load_settings(path, env={})["email"]["to"] == ["desk@example.org"]
    assert load_alerting(tmp_path / "absent.toml") == Alerting()


@pytest.mark.parametrize("text, message", [
    ('[immediate]\nchannels = ["email"]\n', "[immediate] in channels.toml: says nothing qualifies"),
    ('[immediate]\nmin_score = 5\n', "[immediate] in channels.toml: channels: required"),
    ('[immediate]\nmin_score = 5\nchannels = ["pager"]\n', "channels: unknown 'pager'"),
    ('[immediate]\nmin_score = "high"\nchannels = ["email"]\n', "min_score: must be a number"),
    ('[[subscription]]\nmode = "daily"\nchannels = ["email"]\n', "subscription #1 in channels.toml: name: required"),
    ('[[subscription]]\nname = "legal"\nmode = "weekly"\nchannels = ["email"]\nemail_to = ["a@b.org"]\n',
     "subscription 'legal' in channels.toml: mode: must be one of immediate, daily"),
    ('[[subscription]]\nname = "legal"\nchannels = ["email"]\n',
     "subscription 'legal' in channels.toml: email_to: required"),
    ('[[subscription]]\nname = "legal"\nchannels = ["email"]\nemail_to = ["not an address"]\n',
     "subscription 'legal' in channels.toml: email_to: 'not an address' is not an email address"),
    ('[[subscription]]\nname = "legal"\nchannels = ["slack"]\n',
     "subscription 'legal' in channels.toml: slack_webhook_env: required"),
    ('[[subscription]]\nname = "legal"\nchannels = ["slack"]\nslack_webhook_env = "https://hooks.slack.com/services/T/B/x"\n',
     "subscription 'legal' in channels.toml: slack_webhook_env: holds a secret"),
    ('[[subscription]]\nname = "legal"\nchannels = ["slack"]\nslack_webhook_url = "http://127.0.0.1/x"\n',
     "subscription 'legal' in channels.toml: slack_webhook_url: holds a secret"),
    ('[[subscription]]\nname = "legal"\nchannels = ["email"]\nemail_to = ["a@b.org"]\ncountry = ["Laos"]\n',
     "subscription 'legal' in channels.toml: country: unknown key"),
    ('[[subscription]]\nname = "legal"\nchannels = ["email"]\nemail_to = ["a@b.org"]\nlanguages = "vi"\n',
     "subscription 'legal' in channels.toml: languages: must be a list"),
    ('[[subscription]]\nname = "x"\nchannels = ["email"]\nemail_to = ["a@b.org"]\n' * 2,
     "subscription 'x': name: used twice"),
])
def test_a_bad_entry_is_refused_naming_the_entry_and_the_key(tmp_path, text, message):
    path = tmp_path / "channels.toml"
    path.write_text(text)
    with pytest.raises(ChannelConfigError) as info:
        load_alerting(path)
    assert message in str(info.value)
    assert "hooks.slack.com/services/T/B/x" not in str(info.value) and "127.0.0.1/x" not in str(info.value)


def test_the_shipped_channels_file_configures_no_alerts():
    assert load_alerting(SHIPPED_CHANNELS) == Alerting()   # its examples are comments: nothing changes


def _flagged(db, n: int, **extra) -> int:
    article_id = store.save_article(db, article(n, **extra))
    store.save_classification(db, article_id, {
        "score": 9.0, "flagged": True, "matched_terms": ["human trafficking"], "rules": {"tip-core": 3.0},
        "snippet": "…", "subtopics": [], "countries": ["Viet Nam"], "profile_version": "test"})
    return article_id


def test_without_immediate_alerts_a_crawl_end_sends_and_queues_nothing(db, tmp_path):
    _flagged(db, 1)
    (tmp_path / "channels.toml").write_text('[email]\nto = ["a@b.org"]\n')
    assert send_alerts(db, tmp_path / "channels.toml", env={}) == ([], [])
    assert db["deliveries"].count == 0


def test_alert_candidates_are_recent_flagged_articles_in_no_digest(db):
    first, second = _flagged(db, 1), _flagged(db, 2)
    store.save_digest(db, "2026-11-23", "x.md", [first])
    since = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    assert [c["id"] for c in store.alert_candidates(db, since)] == [second]
    assert store.alert_candidates(db, "2999-01-01T00:00:00+00:00") == []   # older than the window


def test_an_alert_marks_the_channel_delivered_so_the_digest_does_not_send_it_as_new(db):
    first, second = _flagged(db, 1), _flagged(db, 2)
    store.enqueue_alerts(db, "email", [first])
    assert store.claim_deliveries(db, "email", "me:1:a", [], kind="alert") == [first]
    store.mark_delivered(db, "email", [first], "me:1:a", kind="alert")
    store.enqueue_alerts(db, "email", [first])           # a later crawl: left as it is
    digest = build_digest(db, "2026-11-23")
    alerted = {i["id"]: i["alerted"] for i in digest["items"]}
    assert alerted[second] is None and alerted[first].endswith("(email)")
    store.save_digest(db, "2026-11-23", "x.md", [first, second])
    store.enqueue_deliveries(db, "email", 1, [first, second])
    assert store.claim_deliveries(db, "email", "me:1:b", []) == [second]
