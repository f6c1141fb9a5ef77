"""Delivery channels: email against a real SMTP server (aiosmtpd) on loopback, Slack against a
local webhook receiver that rejects what Slack rejects; configuration and secret handling."""
from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts import channels as ch
from alerts.channels import ChannelConfigError, DeliveryError, Message, SlackChannel, load_channels
from alerts.render import SLACK_MAX_BLOCKS, slack_escape

from conftest import REPO
from slack_receiver import SlackReceiver, validate

SHIPPED_CHANNELS = REPO / "seeds" / "channels.toml"

EVIL_TITLE = ('Police free 12 <script>alert("x")</script> [click](http://evil.test) '
              '<http://evil.test|click here> <!channel> <!here> <@U123> @channel *bold* _it_ & co')
EVIL_SNIPPET = '… human trafficking ring <img src="http://evil.test/t.png"> <a href="http://evil.test">x</a> & more …'
PASSWORD = "p@ss:w/rd%secret"


# --------------------------------------------------------------------------- sample data

def item(n: int, **extra) -> dict:
    row = {"id": n, "url": f"https://vns.test/society/{n}.html?a=1&b=2", "source": "vns",
           "title": f"Story {n}: trafficking ring broken up", "published": "2026-11-18T09:20:00",
           "language": "en", "author": None, "score": 7.5, "matched_terms": ["human trafficking"],
           "snippet": f"… police said the human trafficking ring {n} lured workers …",
           "subtopics": ["forced labour"], "countries": ["Viet Nam", "Cambodia"]}
    row.update(extra)
    return row


def make_digest(stories: list[dict], **extra) -> dict:
    ids = [i for s in stories for i in [s["lead"]["id"]] + [r["id"] for r in s["related"]]]
    digest = {"day": "2026-11-23", "since": None, "total": len(ids), "story_count": len(stories),
              "per_source": {"vns": len(ids)}, "languages": {"en": len(ids)}, "stories": stories,
              "source_notes": [{"source": "khmertimes", "state": "failed", "detail": "unreachable (dns: <nxdomain>)"},
                               {"source": "vtv", "state": "silent", "detail": "no articles for 5 days"}]}
    digest.update(extra)
    return digest


@pytest.fixture
def digest() -> dict:
    return make_digest([
        {"key": "s1", "lead": item(1, title=EVIL_TITLE, snippet=EVIL_SNIPPET),
         "related": [item(2, source="bcp", language="vi", title="Triệt phá đường dây mua bán người",
                          url="javascript:alert(1)", published="2026-11-18")],
         "follow_up_of": None},
        {"key": "s3", "lead": item(3, published=None), "related": [],
         "follow_up_of": {"day": "2026-11-20", "title": "Earlier <b>raid</b>", "key": "s0"}},
    ])


def empty_digest() -> dict:
    return make_digest([], source_notes=[])


# --------------------------------------------------------------------------- SMTP server

class Collector:
    """aiosmtpd handler: keeps every envelope; refuses recipients by local part."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refused"):
            return "550 5.1.1 no such user"
        if address.startswith("later"):
            return "450 4.2.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


class Authenticator:
    def __init__(self):
        self.seen = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"digest@tipwatch.test" \
            and auth_data.password == PASSWORD.encode()
        self.seen.append((mechanism, ok, session.ssl is not None))
        return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost (cryptography, else openssl CLI)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover
        import subprocess
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(private.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                               x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(private, hashes.SHA256()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


@pytest.fixture
def relay():
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", server_hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler, auth = Collector(), Authenticator()
    controller = Controller(handler, hostname="127.0.0.1", server_hostname="127.0.0.1", port=free_port(),
                            tls_context=context, require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=auth)
    controller.start()
    yield handler, auth, controller.port, cert
    controller.stop()


def email_env(url: str, **extra) -> dict:
    env = {"TIPWATCH_SMTP_URL": url, "TIPWATCH_EMAIL_TO": "analyst@tipwatch.test, Lan Nguyễn <lan@tipwatch.test>",
           "TIPWATCH_EMAIL_FROM": "digest@tipwatch.test"}
    env.update(extra)
    return env


class LinkCounter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_data(self, data):
        self.text.append(data)


# --------------------------------------------------------------------------- email

def test_email_plain_relay(relay, digest, tmp_path):
    handler, port = relay
    email = load_channels(tmp_path / "none.toml", email_env(f"smtp://127.0.0.1:{port}"), ["email"])["email"]
    [message] = email.messages(digest)
    assert message.channel == "email" and message.index == 0 and message.article_ids == [1, 2, 3]
    email.deliver(message)

    [envelope] = handler.envelopes
    assert envelope.mail_from == "digest@tipwatch.test"
    assert envelope.rcpt_tos == ["analyst@tipwatch.test", "lan@tipwatch.test"]
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert msg["Subject"] == "[tipwatch] 3 new items in 2 stories — 2026-11-23"
    assert msg["From"] == "digest@tipwatch.test"
    assert "lan@tipwatch.test" in msg["To"] and "Nguyễn" in msg["To"]
    assert msg["Date"] and msg["Message-ID"].startswith("<tipwatch.2026-11-23.")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text.get_content_charset() == "utf-8" and html.get_content_charset() == "utf-8"
    text, html = text.get_content(), html.get_content()

    # plain text: same content
    assert "Triệt phá đường dây mua bán người" in text
    assert "https://vns.test/society/1.html?a=1&b=2" in text
    assert "Follow-up to a story sent on 20 November" in text
    assert "khmertimes" in text and "vtv" in text and "human trafficking" in text
    assert "javascript:" not in text

    # HTML: parses, no script/img/injected links, all untrusted text escaped
    parser = LinkCounter()
    parser.feed(html)
    parser.close()
    assert "script" not in parser.tags and "img" not in parser.tags
    assert parser.links == ["https://vns.test/society/1.html?a=1&b=2", "https://vns.test/society/3.html?a=1&b=2"]
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "evil.test" not in "".join(parser.links)
    assert 'src="http' not in html and "<img" not in html
    assert "Follow-up</strong> to a story sent on 20 November" in html
    assert "Earlier &lt;b&gt;raid&lt;/b&gt;" in html
    assert "<strong>human trafficking</strong>" in html
    visible = "".join(parser.text)
    assert EVIL_TITLE.replace("  ", " ") in visible  # shown literally, as text
    assert "unreachable (dns: &lt;nxdomain&gt;)" in html
    assert "forced labour" in html and "Cambodia" in html and "vns" in html


def test_email_starttls_and_auth(tls_server, digest, tmp_path):
    handler, auth, port, cert = tls_server
    user = "digest%40tipwatch.test"
    password = "p%40ss%3Aw%2Frd%25secret"  # URL-encoded PASSWORD
    env = email_env(f"smtp://{user}:{password}@127.0.0.1:{port}", TIPWATCH_SMTP_CAFILE=str(cert))
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    assert PASSWORD not in repr(email) and password not in repr(email)
    [message] = email.messages(digest)
    email.deliver(message)
    assert auth.seen and auth.seen[-1][1:] == (True, True)  # authenticated, over TLS
    assert len(handler.envelopes) == 1


def test_email_tls_certificate_is_verified_by_default(tls_server, digest, tmp_path):
    handler, auth, port, cert = tls_server
    env = email_env(f"smtp://127.0.0.1:{port}")
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    with pytest.raises(DeliveryError) as info:
        email.deliver(email.messages(digest)[0])
    assert "certificate" in str(info.value) and info.value.retryable is False
    assert handler.envelopes == []


def test_email_wrong_password_is_not_retryable_and_masked(tls_server, digest, tmp_path):
    handler, auth, port, cert = tls_server
    env = email_env(f"smtp://digest%40tipwatch.test:WrongSecret99@127.0.0.1:{port}", TIPWATCH_SMTP_CAFILE=str(cert))
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    with pytest.raises(DeliveryError) as info:
        email.deliver(email.messages(digest)[0])
    assert info.value.retryable is False and info.value.status == 535
    assert "WrongSecret99" not in str(info.value) and "WrongSecret99" not in repr(info.value)


def test_credentials_never_sent_without_tls(relay, digest, tmp_path):
    handler, port = relay
    env = email_env(f"smtp://user:Hunter2secret@127.0.0.1:{port}")
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    with pytest.raises(DeliveryError) as info:
        email.deliver(email.messages(digest)[0])
    assert "STARTTLS" in str(info.value) and not info.value.retryable
    assert "Hunter2secret" not in str(info.value)
    assert handler.envelopes == []


@pytest.mark.parametrize("recipient, retryable, status", [("refused@tipwatch.test", False, 550),
                                                          ("later@tipwatch.test", True, 450)])
def test_email_refused_recipient(relay, digest, tmp_path, recipient, retryable, status):
    handler, port = relay
    env = email_env(f"smtp://127.0.0.1:{port}", TIPWATCH_EMAIL_TO=recipient)
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    with pytest.raises(DeliveryError) as info:
        email.deliver(email.messages(digest)[0])
    assert info.value.retryable is retryable and info.value.status == status
    assert handler.envelopes == []


def test_email_server_down_is_retryable_and_masked(digest, tmp_path):
    port = free_port()  # nothing listens there
    email = load_channels(tmp_path / "none.toml",
                          email_env(f"smtps://someone:TopSecretPw@127.0.0.1:{port}"), ["email"])["email"]
    with pytest.raises(DeliveryError) as info:
        email.deliver(email.messages(digest)[0])
    assert info.value.retryable is True
    assert "TopSecretPw" not in str(info.value) and "someone:***@127.0.0.1" in str(info.value)


def test_email_empty_day(tmp_path):
    env = email_env("smtp://127.0.0.1:25")
    email = load_channels(tmp_path / "none.toml", env, ["email"])["email"]
    [message] = email.messages(empty_digest())
    assert message.article_ids == []
    assert message.payload["Subject"] == "[tipwatch] nothing new — 2026-11-23"
    assert "Nothing new was flagged" in message.payload.get_body(("plain",)).get_content()
    quiet = load_channels(tmp_path / "none.toml", dict(env, TIPWATCH_EMAIL_SEND_EMPTY="false"), ["email"])["email"]
    assert quiet.messages(empty_digest()) == []


# --------------------------------------------------------------------------- Slack

def big_digest(n: int = 60) -> dict:
    stories = []
    for k in range(n):
        lead = item(1000 + 10 * k, snippet=("long snippet about human trafficking & <forced> labour " * 80),
                    title=f"Story {k} " + "x" * 300)
        related = [item(1000 + 10 * k + j, source="bcp", language="vi") for j in range(1, 1 + k % 4)]
        stories.append({"key": f"s{k}", "lead": lead, "related": related, "follow_up_of": None})
    return make_digest(stories)


def test_slack_big_digest_splits_into_valid_messages_in_order(tmp_path):
    digest = big_digest(60)
    with SlackReceiver() as slack:
        channel = load_channels(tmp_path / "none.toml", {"TIPWATCH_SLACK_WEBHOOK_URL": slack.url}, ["slack"])["slack"]
        messages = channel.messages(digest)
        assert len(messages) > 2
        assert [m.index for m in messages] == list(range(len(messages)))
        for m in messages:
            channel.deliver(m)
        assert slack.errors == [] and len(slack.accepted) == len(messages)
        assert slack.accepted == [m.payload for m in messages]

    all_ids = [i for m in messages for i in m.article_ids]
    expected = [i for s in digest["stories"] for i in [s["lead"]["id"]] + [r["id"] for r in s["related"]]]
    assert all_ids == expected  # every article exactly once, in digest order
    for m in messages:
        blocks = m.payload["blocks"]
        assert len(blocks) <= SLACK_MAX_BLOCKS
        assert blocks[0]["type"] == "header" and f"/{len(messages)})" in blocks[0]["text"]["text"]
        for b in blocks:
            if b["type"] == "section":
                assert len(b["text"]["text"]) <= 3000
        # a story's ids are all in the message that has its lead
        text = json.dumps(m.payload)
        for s in digest["stories"]:
            if s["lead"]["id"] in m.article_ids:
                assert all(r["id"] in m.article_ids for r in s["related"])
                assert f"society/{s['lead']['id']}.html" in text
    assert "khmertimes" in json.dumps(messages[-1].payload)  # footer last


def test_slack_escaping_and_mrkdwn_injection(digest, tmp_path):
    channel = load_channels(tmp_path / "none.toml", {}, ["slack"], dry_run=True)["slack"]
    [message] = channel.messages(digest)
    validate(message.payload)
    texts = []
    for block in message.payload["blocks"]:
        objs = [block["text"]] if "text" in block else block.get("elements", [])
        for obj in objs:
            texts.append(obj["text"])
            if obj["type"] == "mrkdwn":
                assert obj.get("verbatim") is True
    joined = "\n".join(texts)
    # the only links are ours: <https://…|label>; nothing the article wrote becomes markup
    assert "<http://evil" not in joined and "<!channel>" not in joined and "<!here>" not in joined
    assert "<@U123>" not in joined and "<script" not in joined
    assert "&lt;http://evil.test|click here&gt;" in joined and "&lt;!channel&gt;" in joined
    assert "@channel" not in joined and "*bold*" not in joined and "_it_" not in joined
    assert "javascript:" not in joined
    assert "<https://vns.test/society/1.html?a=1&amp;b=2|" in joined
    assert "Follow-up to a story sent on 20 November" in joined
    assert "Earlier &lt;b&gt;raid&lt;/b&gt;" in joined
    import re
    links = re.findall(r"<([^>]*)>", joined)
    assert all(link.startswith("https://vns.test/") for link in links), links
    assert slack_escape("a & <b> c") == "a &amp; &lt;b&gt; c"


def test_slack_errors(digest, tmp_path):
    with SlackReceiver() as slack:
        channel = load_channels(tmp_path / "none.toml", {"TIPWATCH_SLACK_WEBHOOK_URL": slack.url}, ["slack"])["slack"]
        [message] = channel.messages(digest)

        slack.fail(429, retry_after=7)
        with pytest.raises(DeliveryError) as info:
            channel.deliver(message)
        assert info.value.retryable and info.value.retry_after == 7.0 and info.value.status == 429

        slack.fail(500, times=2)
        for _ in range(2):
            with pytest.raises(DeliveryError) as info:
                channel.deliver(message)
            assert info.value.retryable and info.value.status == 500

        too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
        bad = Message("slack", 0, [], {"blocks": [too_long]}, "")
        with pytest.raises(DeliveryError) as info:
            channel.deliver(bad)
        assert not info.value.retryable and info.value.status == 400 and "invalid_blocks" in str(info.value)

        assert slack.accepted == []
        channel.deliver(message)
        assert slack.accepted == [message.payload]
        secret_path = slack.path
    assert all(secret_path not in s and "s3cretWebhookToken" not in s for s in (str(info.value), repr(channel)))

    channel = SlackChannel(webhook_url=f"http://127.0.0.1:{free_port()}{secret_path}")
    with pytest.raises(DeliveryError) as info:
        channel.deliver(message)
    assert info.value.retryable and "s3cretWebhookToken" not in str(info.value)


def test_slack_empty_day(tmp_path):
    channel = load_channels(tmp_path / "none.toml", {}, ["slack"], dry_run=True)["slack"]
    assert channel.messages(empty_digest()) == []
    noisy = load_channels(tmp_path / "none.toml", {"TIPWATCH_SLACK_SEND_EMPTY": "yes"}, ["slack"],
                          dry_run=True)["slack"]
    [message] = noisy.messages(empty_digest())
    validate(message.payload)
    assert message.article_ids == [] and "Nothing new" in json.dumps(message.payload)


def test_slack_story_with_many_related_stays_in_one_valid_message():
    story = {"key": "s1", "lead": item(1), "related": [item(100 + j) for j in range(150)], "follow_up_of": None}
    channel = SlackChannel(channel="#x")
    messages = channel.messages(make_digest([story]))
    assert len(messages) == 1
    validate(messages[0].payload)
    assert len(messages[0].article_ids) == 151


# --------------------------------------------------------------------------- configuration

def test_shipped_channels_toml_loads_without_secrets():
    settings = ch.load_settings(SHIPPED_CHANNELS, env={})
    assert settings["email"]["to"] == [] and settings["email"]["from"] == "tipwatch@localhost"
    assert settings["email"]["subject_prefix"] == "[tipwatch]" and settings["email"]["send_empty"] is True
    assert settings["slack"]["channel"] == "#tip-alerts" and settings["slack"]["send_empty"] is False
    dry = load_channels(SHIPPED_CHANNELS, env={}, dry_run=True)
    assert set(dry) == {"email", "slack"}


def test_missing_secret_names_the_variable():
    with pytest.raises(ChannelConfigError, match="TIPWATCH_SMTP_URL"):
        load_channels(SHIPPED_CHANNELS, env={"TIPWATCH_EMAIL_TO": "a@b.test"}, names=["email"])
    with pytest.raises(ChannelConfigError, match="TIPWATCH_SLACK_WEBHOOK_URL"):
        load_channels(SHIPPED_CHANNELS, env={}, names=["slack"])
    with pytest.raises(ChannelConfigError, match="TIPWATCH_EMAIL_TO"):
        load_channels(SHIPPED_CHANNELS, env={"TIPWATCH_SMTP_URL": "smtp://localhost"}, names=["email"])
    with pytest.raises(ChannelConfigError, match="unknown channel"):
        load_channels(SHIPPED_CHANNELS, env={}, names=["pager"], dry_run=True)


def test_secret_in_toml_is_refused(tmp_path):
    path = tmp_path / "channels.toml"
    path.write_text('[slack]\nchannel = "#x"\nwebhook_url = "https://hooks.slack.com/services/T/B/Zsecret"\n')
    with pytest.raises(ChannelConfigError) as info:
        load_channels(path, {}, ["slack"], dry_run=True)
    assert "TIPWATCH_SLACK_WEBHOOK_URL" in str(info.value) and "Zsecret" not in str(info.value)
    path.write_text('[email]\nto = ["a@b.test"]\nrelay = "smtp://u:Pw0rdSecret@mail.test:587"\n')
    with pytest.raises(ChannelConfigError) as info:
        load_channels(path, {}, ["email"], dry_run=True)
    assert "TIPWATCH_SMTP_URL" in str(info.value) and "Pw0rdSecret" not in str(info.value)


def test_environment_overrides_file(tmp_path):
    path = tmp_path / "channels.toml"
    path.write_text('[email]\nto = ["file@x.test"]\nsubject_prefix = "[file]"\n[slack]\nchannel = "#file"\n')
    env = {"TIPWATCH_EMAIL_TO": "a@x.test,b@x.test", "TIPWATCH_EMAIL_SUBJECT_PREFIX": "[TIP]",
           "TIPWATCH_SLACK_CHANNEL": "#env", "TIPWATCH_SMTP_URL": "smtp://relay.test:2525",
           "TIPWATCH_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/VerySecretToken"}
    chans = load_channels(path, env, ["email", "slack"])
    assert chans["email"].to == ["a@x.test", "b@x.test"] and chans["email"].subject_prefix == "[TIP]"
    assert chans["email"].target.host == "relay.test" and chans["email"].target.port == 2525
    assert chans["slack"].channel == "#env"
    assert "VerySecretToken" not in repr(chans) and "/services" not in repr(chans)
    with pytest.raises(ChannelConfigError, match="TIPWATCH_EMAIL_SEND_EMPTY"):
        load_channels(path, dict(env, TIPWATCH_EMAIL_SEND_EMPTY="maybe"), ["email"])
    with pytest.raises(ChannelConfigError, match="https"):
        load_channels(path, dict(env, TIPWATCH_SLACK_WEBHOOK_URL="http://hooks.slack.com/x"), ["slack"])


def test_secrets_masked_everywhere():
    env = {"TIPWATCH_EMAIL_TO": "a@x.test", "TIPWATCH_SMTP_URL": "smtps://me%40x.test:Sup3r%2FSecret@mail.test",
           "TIPWATCH_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/VerySecretToken"}
    chans = load_channels(SHIPPED_CHANNELS, env=env, names=["email", "slack"])
    shown = (repr(chans) + str(chans) + repr(chans["email"].target) + repr(chans["slack"].webhook)
             + str(chans["slack"].webhook))
    for secret in ("Sup3r", "VerySecretToken", "/B1/"):
        assert secret not in shown
    assert chans["email"].target.password.reveal() == "Sup3r/Secret" and chans["email"].target.username == "me@x.test"
    assert chans["email"].target.port == 465
    with pytest.raises(ChannelConfigError) as info:
        load_channels(SHIPPED_CHANNELS, env=dict(env, TIPWATCH_SMTP_URL="http://me:Sup3rSecret@mail.test"),
                      names=["email"])
    assert "Sup3rSecret" not in str(info.value)


# --------------------------------------------------------------------------- health notes and terms

def _all_channel_texts(digest: dict) -> dict[str, str]:
    from alerts.digest import render_markdown
    from alerts.render import render_email_html, render_email_text, slack_messages

    return {"markdown": render_markdown(digest), "email text": render_email_text(digest),
            "email html": render_email_html(digest), "slack": json.dumps(slack_messages(digest), ensure_ascii=False)}


def test_a_degraded_source_is_called_degraded_not_failed():
    notes = [{"source": "bcp", "state": "degraded", "detail": "extraction failed on 5 of 10 pages in the last run"},
             {"source": "vns", "state": "failing", "detail": "no response to any of 4 requests"}]
    texts = _all_channel_texts(make_digest([{"key": "s", "lead": item(1), "related": [], "follow_up_of": None}],
                                           source_notes=notes))
    for channel, text in texts.items():
        assert "bcp" in text and "degraded" in text, channel
        assert "failed in this period" not in text and "bcp failed" not in text, channel
    assert "bcp is degraded: extraction failed on 5 of 10 pages" in texts["slack"]
    assert "vns is failing: no response to any of 4 requests" in texts["slack"]
    assert "- bcp: degraded (extraction failed on 5 of 10 pages in the last run)" in texts["email text"]


def test_matched_terms_with_commas_stay_readable_in_every_channel():
    terms = ["phòng, chống mua bán người", "việc nhẹ, lương cao"]
    digest = make_digest([{"key": "s", "lead": item(1, matched_terms=terms, language="vi"), "related": [],
                           "follow_up_of": None}], source_notes=[])
    for channel, text in _all_channel_texts(digest).items():
        assert "phòng, chống mua bán người · việc nhẹ, lương cao" in text, channel


def test_no_shipped_profile_term_holds_the_term_separator():
    import tomllib

    from alerts.render import TERM_SEPARATOR

    from conftest import PROFILE

    def strings(value):  # every string in a rule's term lists, however the profile nests them
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for inner in value.values():
                yield from strings(inner)
        elif isinstance(value, list):
            for inner in value:
                yield from strings(inner)

    profile = tomllib.loads(Path(PROFILE).read_text(encoding="utf-8"))
    terms = [t for rule in profile.get("rule", []) for key in ("terms", "near") for t in strings(rule.get(key))]
    assert len(terms) > 50
    assert [t for t in terms if TERM_SEPARATOR.strip() in t] == []
