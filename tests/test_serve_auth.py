"""`tipwatch serve` behind a login: which hosts need one (a pure function: nothing is bound or sent
anywhere but to servers these tests start on 127.0.0.1), the refusal without one, and the real
Datasette with datasette-auth-passwords on 127.0.0.1: anonymous visitors see nothing, the logged-in
analyst sees everything, writes stay refused, and the password never shows in the output."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from pipeline import store
from tipwatch import serve

from conftest import REPO, article, tipwatch, verdict

PASSWORD = "correct horse battery staple 7"
USER = "maria"
TITLE = "Police free 14 women trafficked across the border"
PROTECTED = ["/", "/tipwatch", "/tipwatch/articles", "/tipwatch/articles/1", "/tipwatch/article_overview.json",
             "/tipwatch/flagged_feed.json?_shape=array", "/tipwatch/flagged_feed.atom",
             "/tipwatch.json?sql=select+title+from+articles", "/-/metadata.json", "/-/databases.json"]


# ---------------------------------------------------------------- the decision, as pure functions

@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("127.255.255.254", True), ("::1", True),
    ("::ffff:127.0.0.1", True),  # IPv4-mapped: an IPv6 socket on it takes only 127.0.0.1
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("10.0.0.1", False), ("172.16.0.9", False),
    ("8.8.8.8", False), ("::ffff:10.0.0.1", False), ("fe80::1", False), ("2001:db8::1", False),
    ("localhost", False), ("news-box.lan", False), ("127.1", False), ("2130706433", False), ("", False),
    (" 127.0.0.1", False),
])
def test_only_literal_loopback_addresses_are_loopback(host, loopback):
    assert serve.is_loopback(host) is loopback
    assert serve.access_mode(host, login_configured=False) == ("open" if loopback else "refuse")
    assert serve.access_mode(host, login_configured=True) == "login"  # on loopback too, to try it there


def a_hash(password: str = PASSWORD) -> str:
    """A hash made as the README says: `datasette hash-password --no-confirm`, the password on stdin."""
    result = subprocess.run([sys.executable, "-m", "datasette", "hash-password", "--no-confirm"], input=password,
                            capture_output=True, text=True, timeout=60, check=True)
    return result.stdout.strip()


def test_the_login_user_comes_from_the_environment():
    password_hash = a_hash()
    assert serve.login_user({}) is None
    assert serve.login_user({serve.PASSWORD_HASH_ENV: "  "}) is None
    assert serve.login_user({serve.PASSWORD_HASH_ENV: password_hash}) == "analyst"
    assert serve.login_user({serve.PASSWORD_HASH_ENV: password_hash, serve.USER_ENV: USER}) == USER


@pytest.mark.parametrize("environ, names", [
    ({serve.PASSWORD_HASH_ENV: PASSWORD}, serve.PASSWORD_HASH_ENV),  # the password itself, by mistake
    ({serve.PASSWORD_HASH_ENV: "pbkdf2_sha256"}, serve.PASSWORD_HASH_ENV),  # "$..." eaten by a shell
    ({serve.PASSWORD_HASH_ENV: "pbkdf2_sha256$480000$salt$aGFzaA==", serve.USER_ENV: "a b"}, serve.USER_ENV),
    ({serve.PASSWORD_HASH_ENV: "pbkdf2_sha256$480000$salt$aGFzaA==", serve.USER_ENV: "x_password_hash"},
     serve.USER_ENV),
])
def test_a_malformed_login_is_refused_without_showing_it(environ, names):
    with pytest.raises(serve.ServeRefused) as refused:
        serve.login_user(environ)
    message = str(refused.value)
    assert names in message and "README" in message and "\n" not in message
    assert PASSWORD not in message and "aGFzaA" not in message


# ---------------------------------------------------------------- the refusal, in a subprocess

def env_without_login(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TIPWATCH_SERVE_")}
    return env | extra


def test_no_login_beyond_loopback_refuses_and_starts_nothing(tmp_path):
    db = tmp_path / "never.db"
    with socket.socket() as held:
        # listening on the port on 127.0.0.1 makes 0.0.0.0 on it unbindable: should the refusal ever
        # break, the command fails on the busy port (and this test with it) instead of exposing anything
        held.bind(("127.0.0.1", 0))
        held.listen()
        result = subprocess.run([sys.executable, "-m", "tipwatch.cli", "serve", "--db", str(db), "--host", "0.0.0.0",
                                 "--port", str(held.getsockname()[1])], cwd=REPO, env=env_without_login(),
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "Error: " + serve.refusal("0.0.0.0")
    assert serve.PASSWORD_HASH_ENV in result.stderr and 'README "tipwatch serve"' in result.stderr
    assert not db.exists()  # it stopped before opening the database, let alone listening


def test_a_malformed_hash_refuses_even_on_loopback(tmp_path):
    db = tmp_path / "never.db"
    result = tipwatch("serve", "--db", db, "--port", free_port(), check=False, timeout=30,
                      env=env_without_login(**{serve.PASSWORD_HASH_ENV: PASSWORD}))
    assert result.returncode == 1 and result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert serve.PASSWORD_HASH_ENV in result.stderr and PASSWORD not in result.stderr
    assert not db.exists()


# ---------------------------------------------------------------- the real server on 127.0.0.1

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """HTTP to 127.0.0.1 that keeps cookies and follows no redirect, to see each answer as sent."""

    def __init__(self, port: int):
        self.port, self.cookies = port, {}

    def request(self, path: str, form: dict | None = None, accept: str = "*/*") -> tuple[int, dict, str]:
        headers = {"Accept": accept}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            connection.request("POST" if form is not None else "GET", path, body=body, headers=headers)
            response = connection.getresponse()
            for header in response.headers.get_all("set-cookie") or []:
                self.cookies.update({name: morsel.value for name, morsel in SimpleCookie(header).items()})
            return response.status, dict(response.headers), response.read().decode("utf-8")
        finally:
            connection.close()

    def log_in(self, user: str, password: str) -> tuple[int, dict, str]:
        status, _, page = self.request("/-/login")
        assert status == 200 and "ds_csrftoken" in self.cookies, page[:300]
        token = page.split('name="csrftoken" value="', 1)[1].split('"', 1)[0]
        return self.request("/-/login", form={"username": user, "password": password, "csrftoken": token})


def wait_until_up(proc: subprocess.Popen, port: int, err: Path, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tipwatch serve exited {proc.returncode}: {err.read_text()}")
        try:
            if Client(port).request("/-/static/app.css")[0] == 200:  # static files need no login
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"tipwatch serve did not answer within {seconds} s: {err.read_text()}")


@contextmanager
def running(db: Path, logs: Path, env: dict):
    """`tipwatch serve` on a free 127.0.0.1 port; yields the port and the output files, then stops it
    with Ctrl-C and checks it exited cleanly."""
    port = free_port()
    out, err = logs / f"serve-{port}.out", logs / f"serve-{port}.err"
    with open(out, "w") as out_file, open(err, "w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "tipwatch.cli", "serve", "--db", str(db), "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=REPO, env=env, stdout=out_file, stderr=err_file)
    try:
        wait_until_up(proc, port, err)
        yield port, out, err
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0, err.read_text()


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "tipwatch.db"
    db = store.open_db(path)
    first = store.save_article(db, article(1, title=TITLE))
    store.save_classification(db, first, verdict(True))
    store.save_classification(db, store.save_article(db, article(2)), verdict(False))
    db.conn.close()
    return path


@pytest.fixture(scope="module")
def guarded(small_db):
    password_hash = a_hash()
    env = env_without_login(**{serve.PASSWORD_HASH_ENV: password_hash, serve.USER_ENV: USER})
    with running(small_db, small_db.parent, env) as (port, out, err):
        yield {"port": port, "hash": password_hash, "out": out, "err": err}
    output = out.read_text() + err.read_text()
    assert f"http://127.0.0.1:{port}/, login as {USER}" in output
    assert PASSWORD not in output and password_hash not in output and password_hash.split("$")[-1] not in output


def test_anonymous_visitors_see_nothing(guarded):
    anonymous = Client(guarded["port"])
    for path in PROTECTED:
        status, _, body = anonymous.request(path)
        assert status == 403 and TITLE not in body, path
    assert TITLE not in anonymous.request("/tipwatch/articles/1.json")[2]


def test_a_browser_without_login_is_sent_to_the_login_form(guarded):
    anonymous = Client(guarded["port"])
    for path in ("/", "/tipwatch/articles", "/tipwatch/flagged_last_7_days?days=36500"):
        status, headers, _ = anonymous.request(path, accept="text/html,application/xhtml+xml,*/*;q=0.8")
        assert (status, headers.get("Location")) == (302, "/-/login"), path
    status, _, page = anonymous.request("/-/login", accept="text/html")
    assert status == 200 and 'name="password"' in page


def test_the_analyst_logs_in_and_reads_everything(guarded):
    analyst = Client(guarded["port"])
    status, headers, _ = analyst.log_in(USER, PASSWORD)
    assert status == 302 and "ds_actor" in analyst.cookies and headers["Location"] == "/"
    assert json.loads(analyst.request("/-/actor.json")[2]) == {"actor": {"id": USER}}
    for path in PROTECTED:
        assert analyst.request(path)[0] == 200, path
    status, _, page = analyst.request("/tipwatch/articles")
    assert TITLE in page and "Log in" not in page
    rows = json.loads(analyst.request("/tipwatch/flagged_feed.json?_shape=array")[2])
    assert len(rows) == 1 and TITLE in json.dumps(rows, ensure_ascii=False)  # only the flagged one
    status, headers, feed = analyst.request("/tipwatch/flagged_feed.atom")
    assert feed.startswith("<?xml") and feed.count("<entry>") == 1 and TITLE in feed
    metadata = analyst.request("/-/metadata.json")[2]
    assert guarded["hash"] not in metadata and serve.PASSWORD_HASH_ENV in metadata  # only the "$env" name


@pytest.mark.parametrize("user, password", [(USER, PASSWORD + "x"), (USER, ""), ("analyst", PASSWORD),
                                            (USER.upper(), PASSWORD)])
def test_a_wrong_login_gets_nothing(guarded, user, password):
    intruder = Client(guarded["port"])
    status, _, page = intruder.log_in(user, password)
    assert status == 200 and "Invalid username or password" in page and "ds_actor" not in intruder.cookies
    for path in PROTECTED:
        assert intruder.request(path)[0] == 403, path


def test_a_login_without_the_csrf_token_is_refused(guarded):
    client = Client(guarded["port"])
    client.request("/-/login")  # has the CSRF cookie, does not send the form's token
    status, _, _ = client.request("/-/login", form={"username": USER, "password": PASSWORD})
    assert status == 403 and "ds_actor" not in client.cookies


def test_a_forged_actor_cookie_gets_nothing(guarded):
    forger = Client(guarded["port"])
    forger.cookies["ds_actor"] = '"{\\"a\\": {\\"id\\": \\"maria\\"}}"'
    assert forger.request("/tipwatch/articles")[0] == 403


def test_writes_stay_refused_after_logging_in(guarded, small_db):
    analyst = Client(guarded["port"])
    analyst.log_in(USER, PASSWORD)
    token = analyst.cookies["ds_csrftoken"]
    status, _, body = analyst.request("/tipwatch/flagged_feed", form={"csrftoken": token})
    assert status == 405 and "read-only" in body
    answer = json.loads(analyst.request("/tipwatch.json?" + urllib.parse.urlencode({"sql": "DELETE FROM articles"}))[2])
    assert answer["ok"] is False
    assert store.open_db(small_db).execute("SELECT count(*) FROM articles").fetchone()[0] == 2


def test_without_a_hash_loopback_stays_open_with_no_login_link(small_db, tmp_path):
    with running(small_db, tmp_path, env_without_login()) as (port, out, _):
        visitor = Client(port)
        status, _, page = visitor.request("/tipwatch/articles", accept="text/html")
        assert status == 200 and TITLE in page and "Log in" not in page
        assert visitor.request("/tipwatch/flagged_feed.atom")[0] == 200
        assert visitor.request("/-/login")[0] == 404  # the plugin is not loaded without an account
    assert "login" not in out.read_text()
