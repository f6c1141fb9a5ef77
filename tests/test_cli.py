import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tipwatch.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_command_is_documented_in_the_readme():
    documented = set(re.findall(r"^### tipwatch ([a-z-]+(?: [a-z-]+)?)$", README, re.MULTILINE))
    commands = set()
    for name, command in cli.commands.items():  # a group's subcommands are documented one by one
        subcommands = getattr(command, "commands", None)
        commands |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    assert commands == documented


def test_readme_shows_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_init_creates_database(tmp_path):
    result = CliRunner().invoke(cli, ["init", "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 0, result.output
    from pipeline import store  # the schema moves on with migrations; the line says which

    assert result.output == f"{tmp_path / 't.db'}: schema version {store.SCHEMA_VERSION}, 0 articles\n"


def test_env_picks_database(tmp_path):
    result = CliRunner().invoke(cli, ["init"], env={"TIPWATCH_DB": str(tmp_path / "env.db")})
    assert result.exit_code == 0 and (tmp_path / "env.db").exists()


def test_bad_sources_file_names_entry_and_key(tmp_path):
    bad = tmp_path / "sources.toml"
    bad.write_text('[[source]]\nname = "x"\ntitle = "X"\nlanguage = "en"\nfeeds = ["https://x.test/rss"]\n')
    result = CliRunner().invoke(cli, ["sources", "--sources", str(bad)])
    assert result.exit_code == 1
    assert result.output == "Error: source 'x' (entry 1): key 'article_pattern': missing\n"
    crawl = CliRunner().invoke(cli, ["crawl", "--sources", str(bad), "--db", str(tmp_path / "t.db")])
    assert crawl.exit_code == 1 and "key 'article_pattern': missing" in crawl.output


def test_unknown_source_and_bad_since(tmp_path):
    db = str(tmp_path / "t.db")
    result = CliRunner().invoke(cli, ["crawl", "--db", db, "--source", "nope"])
    assert result.exit_code == 1 and "unknown source(s): nope" in result.output
    result = CliRunner().invoke(cli, ["crawl", "--db", db, "--since", "yesterday"])
    assert result.exit_code == 1 and "since: expected a date" in result.output


def test_sources_lists_shipped_entries():
    result = CliRunner().invoke(cli, ["sources"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("vns\ten\tenabled\tViet Nam News\t4 feeds, 0 sitemaps, 2 listings")


def test_cli_module_stays_light_for_the_crawl_workers():
    # spawned extraction workers re-import the main module (this CLI): it must not pull in the
    # database layer, whose sqlite-utils loads NumPy (~25 MB in every worker)
    import subprocess
    import sys

    probe = ("import sys, tipwatch.cli; "
             "print(sorted(m for m in ('sqlite_utils', 'numpy', 'scrapy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_a_broken_profile_fails_the_crawl_and_run_before_anything_is_fetched(tmp_path):
    """--profile was ignored by the crawl: a profile with a syntax error crawled with exit 0."""
    broken = tmp_path / "broken.toml"
    broken.write_text("[topic\nname = 'x'\n")
    sources = tmp_path / "sources.toml"  # a closed port on loopback: nothing leaves the machine
    sources.write_text('allow_addresses = ["127.0.0.1"]\n[[source]]\nname = "x"\ntitle = "X"\nlanguage = "en"\n'
                       'feeds = ["http://127.0.0.1:9/rss"]\narticle_pattern = "/a/"\n')
    db = tmp_path / "t.db"
    for command in ("crawl", "run"):
        result = CliRunner().invoke(cli, [command, "--db", str(db), "--profile", str(broken), "--sources", str(sources),
                                          "--digests-dir", str(tmp_path / "digests")])
        assert result.exit_code == 1, (command, result.output)
        assert result.output.startswith("Error: ") and str(broken) in result.output, result.output
        assert not db.exists() and not (tmp_path / "digests").exists()  # stopped before crawling


def test_the_daemons_crawl_is_given_the_profile():
    from tipwatch.config import load
    from tipwatch.crawl import CrawlOptions, crawl_command

    config = load(environ={}).override(profile=Path("/x/profile.toml"))
    args = crawl_command(CrawlOptions(config=config))
    assert args[args.index("--profile") + 1] == "/x/profile.toml"


READ_SIDE = [["digest"], ["digest", "--dry-run"], ["digest", "--since", "2026-01-01"], ["status"], ["serve"],
             ["label", "1", "yes"], ["classify", "--all"], ["places"], ["train"]]


@pytest.mark.parametrize("args", READ_SIDE, ids=" ".join)
def test_read_side_commands_refuse_a_missing_database_and_create_nothing(tmp_path, args):
    """`tipwatch digest --db data/dmeo.db` (a typo) created an empty database and wrote a
    "Nothing new" digest over the day's file."""
    db = tmp_path / "data" / "dmeo.db"
    result = CliRunner().invoke(cli, [*args, "--db", str(db), "--digests-dir", str(tmp_path / "digests")])
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: no database at {db} (run `tipwatch crawl` or `tipwatch init` to create " \
                            "one, or give the right --db)\n"
    assert list(tmp_path.iterdir()) == []


def test_configuration_layers_defaults_file_environment_options(tmp_path):
    from tipwatch.config import bundled, load

    defaults = load(environ={"HOME": str(tmp_path)})
    assert defaults.db == Path("data/tipwatch.db") and defaults.warc_dir == Path("data/warc")
    assert defaults.seeds_dir == bundled("seeds")
    assert defaults.profile == bundled("seeds") / "topics" / "trafficking.toml"
    assert (defaults.warc_retention_days, defaults.warc_keep_flagged, defaults.lookback_days) == (90, True, 7)
    (tmp_path / "tipwatch.toml").write_text('[paths]\ndata = "state"\n[crawl]\nlookback_days = 3\n'
                                            '[warc]\nretention_days = 30\nkeep_flagged = false\n')
    filed = load(tmp_path / "tipwatch.toml", environ={})
    assert filed.db == tmp_path / "state" / "tipwatch.db" and filed.warc_dir == tmp_path / "state" / "warc"
    assert (filed.lookback_days, filed.warc_retention_days, filed.warc_keep_flagged) == (3, 30, False)
    env = load(tmp_path / "tipwatch.toml", environ={"TIPWATCH_LOOKBACK_DAYS": "5", "TIPWATCH_DB": "x/t.db"})
    assert env.lookback_days == 5 and env.db == Path("x/t.db") and env.warc_dir == Path("x/warc")
    option = env.override(db=Path("y/t.db"))
    assert option.db == Path("y/t.db") and option.warc_dir == Path("y/warc") and option.lookback_days == 5
    assert option.crawl_settings()["TIPWATCH_WARC_DIR"] == "y/warc"


def test_a_bad_configuration_file_names_the_key(tmp_path):
    (tmp_path / "c.toml").write_text("[crawl]\nlookback_dayz = 3\n")
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "c.toml"), "sources"])
    assert result.exit_code == 1
    assert result.output == f"Error: {tmp_path / 'c.toml'}: [crawl] lookback_dayz: unknown setting\n"
    result = CliRunner().invoke(cli, ["sources"], env={"TIPWATCH_LOOKBACK_DAYS": "week"})
    assert result.exit_code == 1 and "TIPWATCH_LOOKBACK_DAYS" in result.output


def test_only_the_configuration_reads_the_environment():
    repo = Path(__file__).resolve().parent.parent
    readers = [str(path.relative_to(repo)) for folder in ("tipwatch", "crawler")
               for path in sorted((repo / folder).rglob("*.py"))
               if re.search(r"os\.environ|os\.getenv", path.read_text(encoding="utf-8"))]
    assert readers == ["tipwatch/config.py"]
