"""What the README tells a new user to paste must work as pasted."""
import re
import subprocess

from conftest import REPO

CRON_LINE = re.compile(r"^    (?:\S+\s+){5}(cd /opt/tipwatch && .+)$", re.M)


def test_readme_cron_lines_run_in_a_fresh_checkout(tmp_path):
    """Each crontab line's command, run by sh in a folder with no data/ yet (tipwatch stood in for
    by a script that records its arguments), writes its log."""
    lines = CRON_LINE.findall((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(lines) == 2, lines
    assert "    CRON_TZ=Asia/Ho_Chi_Minh\n" in (REPO / "README.md").read_text(encoding="utf-8")
    checkout = tmp_path / "tipwatch"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    fake = checkout / ".venv" / "bin" / "tipwatch"
    fake.write_text('#!/bin/sh\necho "tipwatch $*"\n')
    fake.chmod(0o755)
    for line in lines:
        command = line.replace("/opt/tipwatch", str(checkout))
        result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (command, result.stderr)
    log = (checkout / "data" / "cron.log").read_text()
    assert log.splitlines() == ["tipwatch run", "tipwatch digest --send email,slack"]


def test_systemd_unit_gives_the_service_a_user_and_writable_folders():
    """Everything the daemon writes lies under the folders systemd creates for it, owned by the user
    it makes (a unit that names a user nobody created, or a folder nobody made, fails at start)."""
    service = {}
    for line in (REPO / "deploy" / "tipwatch.service").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            service.setdefault(key, []).append(value)
    assert service["DynamicUser"] == ["yes"] and "User" not in service
    assert service["StateDirectory"] == ["tipwatch"] and service["LogsDirectory"] == ["tipwatch"]
    assert service["CacheDirectory"] == ["tipwatch"]
    writable = ("/var/lib/tipwatch/", "/var/cache/tipwatch", "/var/log/tipwatch/")
    env = dict(value.split("=", 1) for value in service["Environment"])
    for name in ("TIPWATCH_DB", "TIPWATCH_DIGESTS", "TIPWATCH_CACHE", "HOME"):
        assert env[name].startswith(writable) or env[name] + "/" in writable, name
    log_file = service["ExecStart"][0].split("--log-file ", 1)[1].split()[0]
    assert log_file.startswith("/var/log/tipwatch/")
