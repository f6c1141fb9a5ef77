"""Test servers never ask DNS for their own name.

http.server's HTTPServer.server_bind calls socket.getfqdn(host), and aiosmtpd's SMTP calls
socket.getfqdn() for its banner unless given a hostname: for an address outside /etc/hosts
(127.0.0.2, often ::1) that is a query to the network's resolver, traffic leaving the machine.
Every server the tests and benchmarks start binds through tipwatch.samplesites.LoopbackHTTPServer
or conftest.smtp_server instead. Here each is started with getfqdn made to fail, and the sources
are searched for servers built any other way.
"""
from __future__ import annotations

import ast
import socket
import urllib.request
from pathlib import Path

import pytest
from test_channels import Collector

from tipwatch.samplesites import SampleSites

from conftest import REPO, smtp_server
from hostile_site import HostileSite, ipv6_loopback, static
from slack_receiver import SlackReceiver

STDLIB_SERVERS = {"HTTPServer", "ThreadingHTTPServer", "TCPServer", "ThreadingTCPServer", "UDPServer",
                  "ThreadingUDPServer"}
SOURCES = [*sorted((REPO / "tests").glob("*.py")), *sorted((REPO / "bench").glob("*.py")),
           REPO / "tipwatch" / "samplesites.py"]


@pytest.fixture
def no_getfqdn(monkeypatch):
    def refuse(*args):
        raise AssertionError(f"socket.getfqdn{args} called: a DNS query that may leave the machine")
    monkeypatch.setattr(socket, "getfqdn", refuse)


def loopback_hosts() -> list[str]:
    return ["127.0.0.1", "127.0.0.2"] + (["::1"] if ipv6_loopback() else [])


@pytest.mark.parametrize("host", loopback_hosts())
def test_hostile_site_binds_and_answers_without_getfqdn(no_getfqdn, host):
    with HostileSite({"/": static(b"hello")}, host=host) as site:
        with urllib.request.urlopen(site.url("/"), timeout=5) as response:
            assert response.read() == b"hello"
    assert site.hits["/"] == 1 and site.requests[0][:2] == ("GET", "/")


def test_sample_sites_and_slack_receiver_bind_without_getfqdn(no_getfqdn):
    with SampleSites(names=["bad"], template="sources-bad.toml") as sites:
        assert sites.base_url("bad").startswith("http://127.0.0.1:")
    with SlackReceiver() as slack:
        assert slack.url.startswith("http://127.0.0.1:")


def test_bench_site_binds_without_getfqdn(no_getfqdn, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "bench"))
    from throughput import BenchSite, Page

    with BenchSite([Page("a", b"<p>a</p>")]) as site:
        assert site.base_url.startswith("http://127.0.0.1:")


def test_smtp_server_starts_without_getfqdn(no_getfqdn):
    controller = smtp_server(Collector())
    controller.start()  # connects once, which builds the SMTP session and its banner name
    controller.stop()


def calls_to(path: Path, names: set[str]) -> list[ast.Call]:
    calls = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in names:
                calls.append(node)
    return calls


def test_no_stdlib_server_is_built_directly():
    direct = {f"{path.name}:{call.lineno}" for path in SOURCES for call in calls_to(path, STDLIB_SERVERS)}
    assert direct == set(), "build it as tipwatch.samplesites.LoopbackHTTPServer"


def test_every_smtp_server_is_named():
    unnamed = {f"{path.name}:{call.lineno}" for path in SOURCES for call in calls_to(path, {"Controller"})
               if "server_hostname" not in {keyword.arg for keyword in call.keywords}}
    assert unnamed == set()
