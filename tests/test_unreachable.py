import socket

from conftest import tipwatch


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_sources_get_one_clear_line_each(tmp_path):
    port = closed_port()
    entries = "".join(
        f'[[source]]\nname = "{name}"\ntitle = "{name}"\nlanguage = "en"\n'
        f'feeds = ["http://127.0.0.1:{port}/{name}/rss"]\nlistings = ["http://127.0.0.1:{port}/{name}/"]\n'
        f"article_pattern = '/\\d+\\.html$'\n\n" for name in ("alpha", "beta"))
    (tmp_path / "sources.toml").write_text(entries)
    result = tipwatch("run", "--db", tmp_path / "t.db", "--sources", tmp_path / "sources.toml",
                      "--digests-dir", tmp_path / "digests", "-s", "RETRY_TIMES=0")
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"alpha: unreachable (connection: connection refused by 127.0.0.1); 2 requests, no response",
                         f"beta: unreachable (connection: connection refused by 127.0.0.1); 2 requests, no response"]
    assert lines[2].startswith("digest: ") and lines[2].endswith("(0 flagged articles)")
    assert "Traceback" not in result.stderr
