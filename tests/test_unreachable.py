import socket

from pipeline import store

from conftest import tipwatch


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_sources_get_one_clear_line_each(tmp_path):
    port = closed_port()
    entries = 'allow_addresses = ["127.0.0.1"]\n' + "".join(
        f'[[source]]\nname = "{name}"\ntitle = "{name}"\nlanguage = "en"\n'
        f'feeds = ["http://127.0.0.1:{port}/{name}/rss"]\nlistings = ["http://127.0.0.1:{port}/{name}/"]\n'
        f"article_pattern = '/\\d+\\.html$'\n\n" for name in ("alpha", "beta"))
    (tmp_path / "sources.toml").write_text(entries)
    result = tipwatch("run", "--db", tmp_path / "t.db", "--sources", tmp_path / "sources.toml",
                      "--digests-dir", tmp_path / "digests", "-s", "RETRY_TIMES=0")
    lines = result.stdout.splitlines()
    robots = "(asking for robots.txt; nothing more is requested from the site in this run)"
    assert lines[:2] == [f"alpha: unreachable (connection: connection refused by 127.0.0.1 {robots}); "
                         "2 requests, no response",
                         f"beta: unreachable (connection: connection refused by 127.0.0.1 {robots}); "
                         "2 requests, no response"]
    assert lines[2].startswith("digest: ") and lines[2].endswith("(0 flagged articles in 0 stories)")
    digest = next((tmp_path / "digests").glob("*.md")).read_text(encoding="utf-8")
    (started,) = store.open_db(tmp_path / "t.db").execute("SELECT started_at FROM crawl_runs").fetchone()
    assert digest.endswith(
        "Sources needing attention (failing, stale, interrupted or degraded):\n"
        f"- alpha: failing (no response to any of 2 requests in the last run (since {started[:16]}))\n"
        f"- beta: failing (no response to any of 2 requests in the last run (since {started[:16]}))\n")
    assert "Traceback" not in result.stderr


def test_a_crawl_that_cannot_run_says_why_in_one_line(tmp_path):
    (tmp_path / "sources.toml").write_text(
        f'allow_addresses = ["127.0.0.1"]\n[[source]]\nname = "alpha"\ntitle = "a"\nlanguage = "en"\n'
        f'feeds = ["http://127.0.0.1:{closed_port()}/rss"]\narticle_pattern = "x"\n')
    (tmp_path / "junk.db").write_bytes(b"this is not a database " * 10)
    for command in ("crawl", "run"):
        result = tipwatch(command, "--db", tmp_path / "junk.db", "--sources", tmp_path / "sources.toml",
                          "--log-file", tmp_path / "crawl.log", check=False)
        assert result.returncode == 1
        assert result.stderr == f"Error: the crawl failed: file is not a database; see {tmp_path / 'crawl.log'}\n"
    assert (tmp_path / "junk.db").read_bytes() == b"this is not a database " * 10
