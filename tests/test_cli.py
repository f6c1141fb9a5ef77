import re
from pathlib import Path

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
    assert result.output == f"{tmp_path / 't.db'}: schema version 8, 0 articles\n"


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

    probe = "import sys, tipwatch.cli; print(sorted(m for m in ('sqlite_utils', 'numpy', 'scrapy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"
