"""The fetch guard's decisions as pure functions: nothing here sends a packet. Addresses outside
loopback are only ever judged here, never connected to (crawls against loopback servers are in
tests/test_hostile_guard.py)."""
from datetime import UTC, datetime

import pytest

from crawler.addresses import AllowListError, address_refusal, embedded_ipv4, parse_allow_list
from crawler.budget import SEEN, IndexBudget
from crawler.discovery import DiscoveryError, IndexTooLarge, parse_feed, parse_sitemap
from crawler.politeness import retry_after_seconds
from crawler.runstats import _exception_text
from crawler.scope import host_key, redirect_refusal, scope_hosts, url_refusal

LOCAL = parse_allow_list("127.0.0.1")


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.2", "loopback"), ("127.255.255.254", "loopback"), ("::1", "loopback"),
    ("10.0.0.1", "private"), ("172.16.5.4", "private"), ("172.31.255.255", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"), ("fd00::1", "unique-local"), ("fc00::1", "unique-local"),
    ("100.64.0.1", "carrier-grade NAT (100.64/10)"), ("100.127.255.254", "carrier-grade NAT (100.64/10)"),
    ("224.0.0.251", "multicast"), ("ff02::1", "multicast"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("::ffff:10.0.0.1", "private (as ::ffff:a00:1)"), ("::ffff:169.254.169.254", "link-local (as ::ffff:a9fe:a9fe)"),
    ("::ffff:127.0.0.2", "loopback (as ::ffff:7f00:2)"), ("::7f00:2", "loopback (as ::7f00:2)"),
    ("::a00:1", "private (as ::a00:1)"), ("2002:a00:1::1", "private (as 2002:a00:1::1)"),
    ("64:ff9b::a9fe:a9fe", "link-local (as 64:ff9b::a9fe:a9fe)"),
    ("fec0::1", "site-local"), ("192.0.2.10", "private"), ("240.0.0.1", "private"),
    ("not-an-ip", "not an IP address"),
])
def test_internal_addresses_are_refused(address, reason):
    assert address_refusal(address, LOCAL) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "2001:4860:4860::8888",
                                     "100.63.255.255", "100.128.0.1", "172.32.0.1", "127.0.0.1", "::ffff:127.0.0.1"])
def test_public_and_allowed_addresses_pass(address):
    assert address_refusal(address, LOCAL) is None


def test_the_allow_list_takes_addresses_and_networks_never_names():
    allow = parse_allow_list(["127.0.0.0/8", " ::1 ", "10.1.2.3"])
    assert [address_refusal(a, allow) for a in ("127.0.0.2", "::1", "10.1.2.3", "10.1.2.4")] == \
        [None, None, None, "private"]
    assert address_refusal("127.0.0.2", ()) == "loopback"  # nothing allowed by default
    assert parse_allow_list("") == () and parse_allow_list(None) == ()
    with pytest.raises(AllowListError, match="'localhost' is not an IP address"):
        parse_allow_list("127.0.0.1, localhost")


def test_embedded_ipv4_forms():
    import ipaddress
    assert [str(embedded_ipv4(ipaddress.ip_address(a))) for a in
            ("::ffff:1.2.3.4", "::1.2.3.4", "2002:102:304::", "64:ff9b::102:304")] == ["1.2.3.4"] * 4
    assert embedded_ipv4(ipaddress.ip_address("::1")) is None
    assert embedded_ipv4(ipaddress.ip_address("1.2.3.4")) is None


@pytest.mark.parametrize("url, key", [
    ("https://Example.com/a", "example.com"), ("http://example.com:80/a", "example.com"),
    ("https://example.com:443/", "example.com"), ("http://example.com:8080/", "example.com:8080"),
    ("http://127.0.0.1:8001/x", "127.0.0.1:8001"), ("http://[::1]:8001/", "[::1]:8001"),
    ("http://example.com./", "example.com"), ("cdn.example.com", "cdn.example.com"),
    ("cdn.example.com:8443", "cdn.example.com:8443"), ("http:///x", None), ("http://x:99999/", None),
])
def test_host_keys(url, key):
    assert host_key(url) == key


def test_a_source_fetches_only_from_its_own_hosts():
    hosts = scope_hosts(["https://vietnamnews.vn/rss/home.rss", "http://vietnamnews.vn/sitemap.xml"],
                        ["www.vietnamnews.vn"])
    assert hosts == {"vietnamnews.vn", "www.vietnamnews.vn"}
    assert url_refusal("https://vietnamnews.vn/society/1/a.html", hosts, "vns") is None
    assert url_refusal("http://www.vietnamnews.vn/a", hosts, "vns") is None
    for url in ("https://evil.example/a", "http://vietnamnews.vn:8080/admin", "http://169.254.169.254/latest/",
                "http://[::1]:8000/", "http://localhost:9000/", "http://vietnamnews.vn.evil.example/"):
        refusal = url_refusal(url, hosts, "vns")
        assert refusal.kind == "offsite" and "is not a host of source 'vns'" in refusal.detail, url


@pytest.mark.parametrize("url", ["file:///etc/passwd", "file:/etc/passwd", "file://localhost/etc/passwd",
                                 "FILE:///etc/passwd", "s3://bucket/key", "ftp://vietnamnews.vn/x",
                                 "data:text/html,<h1>x</h1>", "gopher://vietnamnews.vn/", "//vietnamnews.vn/a"])
def test_only_http_and_https(url):
    refusal = url_refusal(url, frozenset({"vietnamnews.vn"}), "vns")
    assert refusal.kind == "offsite" and "only http and https" in refusal.detail


def test_redirect_loops_and_long_chains():
    assert redirect_refusal("http://a.test/1", ["http://a.test/1", "http://a.test/2"], 5).detail == \
        "redirect loop: http://a.test/1 → http://a.test/2 → http://a.test/1"
    assert redirect_refusal("http://a.test/1", ["http://a.test/1"], 5).kind == "redirect"  # to itself
    chain = [f"http://a.test/{n}" for n in range(6)]
    assert redirect_refusal("http://a.test/9", chain, 5).detail == "more than 5 redirects from http://a.test/0"
    assert redirect_refusal("http://a.test/9", chain[:5], 5) is None


def test_sitemap_budget():
    budget = IndexBudget({"vns": 3}, max_depth=3)
    assert budget.admit("vns", "https://v.test/sitemap.xml", 0) is None
    assert budget.admit("vns", "https://v.test/sitemap.xml", 1) == SEEN  # an index listing itself
    assert budget.admit("vns", "https://v.test/4.xml", 4) == "sitemap indexes nest deeper than 3 levels"
    assert budget.admit("vns", "https://v.test/1.xml", 1) is None
    assert budget.admit("vns", "https://v.test/2.xml", 2) is None
    assert budget.admit("vns", "https://v.test/3.xml", 3) == "more than 3 sitemaps in one run (max_sitemaps)"
    assert budget.admit("vns", "https://v.test/feed.rss") is None  # feeds and listings: read once only
    assert budget.admit("vns", "https://v.test/feed.rss") == SEEN


def _gzip_bomb(expanded: int) -> bytes:
    import zlib
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(expanded >> 20)) + packer.flush()


def test_gzipped_indexes_are_opened_up_to_a_cap():
    bomb = _gzip_bomb(64 << 20)  # 64 MB of zeros in ~64 KB
    assert len(bomb) < 100_000
    with pytest.raises(IndexTooLarge, match="expands beyond 8388608 bytes"):
        parse_sitemap(bomb, "https://x.test/sitemap.xml.gz", max_size=8 << 20)
    with pytest.raises(IndexTooLarge):
        parse_feed(bomb, "https://x.test/feed.rss.gz", max_size=8 << 20)
    with pytest.raises(DiscoveryError, match="bad gzip data"):
        parse_sitemap(b"\x1f\x8b" + b"garbage" * 10, "https://x.test/s.xml.gz", max_size=8 << 20)


@pytest.mark.parametrize("value, seconds", [
    (b"2", 2.0), ("10", 10.0), (b" 120 ", 120.0), (b"Wed, 02 Dec 2026 12:00:30 GMT", 30.0),
    (b"Wed, 02 Dec 2026 11:00:00 GMT", 0.0), (b"soon", None), (b"-5", None), (None, None), (b"", None),
])
def test_retry_after_values(value, seconds):
    now = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds


def test_failure_details_are_never_empty():
    from twisted.internet.error import ConnectionLost
    from twisted.python.failure import Failure
    from twisted.web._newclient import ResponseFailed

    assert _exception_text(ConnectionLost()) .startswith("ConnectionLost: ")
    assert _exception_text(ValueError()) == "ValueError"
    failed = ResponseFailed([Failure(ConnectionLost("Connection to the other side was lost"))])
    assert "Connection to the other side was lost" in _exception_text(failed)
