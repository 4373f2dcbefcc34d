"""The command line as installed: the console script, `python -m monitor`, the Scrapy project, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_monitor

# command-line behaviour, not storage: one backend is enough (storage runs on both elsewhere)
pytestmark = pytest.mark.one_backend

SCRIPTS = Path(sys.executable).parent


def test_console_script_and_module_agree_on_the_example_config():
    script = subprocess.run([SCRIPTS / "monitor", "check-config"], capture_output=True, text=True, cwd=ROOT)
    module = subprocess.run([sys.executable, "-m", "monitor", "check-config"], capture_output=True, text=True, cwd=ROOT)
    assert script.returncode == module.returncode == 0, script.stderr
    assert script.stdout == module.stdout
    assert "config/monitor.yaml: OK (8 sources" in script.stdout


def test_bad_config_exits_2_with_file_and_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "sources:\n"
        "  - name: a\n"
        "    kind: rss\n"
        "    url: https://example.org/rss\n"
        "    language: ro\n"
        "    intervl: 5m\n"
        "watches:\n"
        "  - name: w\n"
        "    query: '(ICC AND'\n"
    )
    result = run_monitor("check-config", config=config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{config}:6: source 'a': sources[0].intervl: unknown key" in lines
    assert any(line.startswith(f"{config}:9: watch 'w': query: column ") for line in lines), lines
    assert "Traceback" not in result.stderr
    # the daemon refuses to start on it too, the same way
    run = run_monitor("run", "--once", config=config)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_missing_config_file_is_a_clear_error(tmp_path):
    result = run_monitor("status", config=tmp_path / "nope.yaml")
    assert result.returncode == 2
    assert "config file not found" in result.stderr


def test_scrapy_project_lists_and_checks_the_spiders():
    cwd = ROOT / "spiders"
    listed = subprocess.run([SCRIPTS / "scrapy", "list"], capture_output=True, text=True, cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["feed", "listing"]
    checked = subprocess.run([SCRIPTS / "scrapy", "check"], capture_output=True, text=True, cwd=cwd)
    assert checked.returncode == 0, checked.stderr
    assert "Ran 4 contracts" in checked.stderr and "OK" in checked.stderr


def test_unreachable_database_is_a_clear_error(tmp_path):
    config = tmp_path / "m.yaml"
    config.write_text("database: postgresql+psycopg://nobody@127.0.0.1:9/none\n")
    for args in (("status",), ("stories",), ("run", "--once")):
        result = run_monitor(*args, config=config)
        assert result.returncode == 1
        assert "cannot open the database" in result.stderr and "Traceback" not in result.stderr


def test_db_commands(tmp_path):
    config = tmp_path / "m.yaml"
    config.write_text("database: sqlite:///m.db\nretention: {text: 30d}\n")
    up = run_monitor("db", "upgrade", config=config)
    assert up.returncode == 0 and "database at revision" in up.stdout
    revision = up.stdout.split("revision ")[1].split(" ")[0]
    assert f"(newest: {revision})" in up.stdout
    stats = json.loads(run_monitor("db", "stats", "--json", config=config).stdout)
    assert stats["backend"] == "sqlite" and stats["rows"]["article"] == 0 and stats["size_bytes"] > 0
    pruned = run_monitor("db", "prune", config=config)
    assert pruned.returncode == 0 and "pruned the text of 0 article(s) older than 30 day(s)" in pruned.stdout
    config.write_text("database: sqlite:///m.db\n")
    assert run_monitor("db", "prune", config=config).returncode == 2
