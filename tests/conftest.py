import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import store

REPO = Path(__file__).resolve().parent.parent
# the shipped seeds, which the CLI finds through its configuration and the stages are handed
SEEDS = REPO / "seeds"
PROFILE = str(SEEDS / "topics" / "trafficking.toml")


def enrich_files(environ=None):
    from pipeline.enrich import EnrichFiles

    return EnrichFiles.of(SEEDS, environ)


def model_files():
    """The shipped labelled splits, with the base model cached where the CLI keeps it."""
    from pipeline.topic.training import ModelFiles
    from tipwatch.config import load

    return ModelFiles(SEEDS / "labelled", load().cache_dir)


def stages(profile: str = PROFILE, model: str | None = None, min_chars: int = 200, environ=None):
    """What the crawl reads pages with (pipeline.process.StageSettings), over the shipped seeds."""
    from pipeline.process import StageSettings

    return StageSettings(profile=str(profile), model=model, enrich=enrich_files(environ), min_chars=min_chars)


@pytest.fixture
def db(tmp_path):
    return store.open_db(tmp_path / "tipwatch.db")


def article(n: int, **extra) -> dict:
    row = {"url": f"https://news.test/society/{n}/story-{n}.html", "source": "news",
           "title": f"Story {n}", "text": f"Body of story {n}. " * 20, "author": None,
           "published": f"2026-11-{n:02d}T08:00:00", "date_source": "meta", "language": "en",
           "sitename": "News", "description": None, "tags": ["a"], "image": None}
    row.update(extra)
    return row


def verdict(flagged: bool, score: float = 5.0) -> dict:
    return {"score": score if flagged else 0.0, "flagged": flagged,
            "matched_terms": ["human trafficking"] if flagged else [],
            "snippet": "… human trafficking …" if flagged else "", "subtopics": [], "countries": ["Viet Nam"],
            "profile_version": "test-1"}


def tipwatch(*args, env=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    """Run the real `tipwatch` CLI in a fresh process (Scrapy's reactor is once per process)."""
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run([sys.executable, "-m", "tipwatch.cli", *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"tipwatch {' '.join(map(str, args))} exited {result.returncode}\n"
                             f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def smtp_server(handler, **options):
    """An aiosmtpd Controller on 127.0.0.1 (not started). Both names are given: without
    server_hostname aiosmtpd's SMTP names itself with socket.getfqdn(), a DNS query that may
    leave the machine; without hostname the Controller picks ::1 or 127.0.0.1 itself."""
    from aiosmtpd.controller import Controller

    return Controller(handler, hostname="127.0.0.1", server_hostname="127.0.0.1", port=free_port(), **options)
