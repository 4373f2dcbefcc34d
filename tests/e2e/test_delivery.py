"""Delivery as users see it: outages, kill -9 in the middle of sending, the alerts commands, notify-test, health."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
import yaml
from conftest import ROOT, free_port, run_monitor, start_daemon, write_config


def _everything_watch(config):
    """Add a watch that matches nearly every article, for many alerts at once."""
    data = yaml.safe_load(config.read_text())
    data["watches"].append({"name": "all", "terms": ["a", "the", "și"], "notify": list(data["notify"])})
    config.write_text(yaml.safe_dump(data, allow_unicode=True))


def test_mail_server_down_then_up_delivers_once_and_other_targets_are_not_repeated(tmp_path, outlets, smtp, webhook):
    config = write_config(
        tmp_path / "monitor.yaml", outlets, {"mail": smtp.url(), "chat": webhook.url()}, sources=["ro-stiri", "wire-en"]
    )
    data = yaml.safe_load(config.read_text())
    real_port = smtp.port
    data["notify"]["mail"] = smtp.url().replace(f":{real_port}", f":{free_port()}")  # nothing listens there
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    first = run_monitor("run", "--once", config=config)
    assert first.returncode == 0, first.stderr
    assert "sending alert to 'mail' failed" in first.stderr
    chat_after_first = Counter(m["title"] for m in webhook.received)
    assert chat_after_first and all(n == 1 for n in chat_after_first.values())
    pending = json.loads(run_monitor("alerts", "--pending", "--json", config=config).stdout)
    assert pending and {p["target"] for p in pending} == {"mail"}
    assert all(p["attempts"] == 1 and "mail" in p["target"] and p["last_error"] for p in pending)

    data["notify"]["mail"] = smtp.url()  # the mail server is back
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    second = run_monitor("run", "--once", config=config)
    assert second.returncode == 0, second.stderr
    assert Counter(str(m["subject"]) for m in smtp.messages) == chat_after_first
    assert Counter(m["title"] for m in webhook.received) == chat_after_first  # chat not repeated
    assert json.loads(run_monitor("alerts", "--pending", "--json", config=config).stdout) == []


def test_kill_9_while_sending_loses_nothing_and_doubles_at_most_the_one_in_flight(tmp_path, outlets, webhook):
    config = write_config(tmp_path / "monitor.yaml", outlets, {"chat": webhook.url()})
    _everything_watch(config)
    webhook.delay = 0.4  # a slow receiver: the pass is still sending when it is killed
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 90
    while len(webhook.received) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    received_before = len(webhook.received)
    assert received_before >= 3
    webhook.delay = 0
    again = run_monitor("run", "--once", config=config)
    assert again.returncode == 0, again.stderr
    titles = Counter(m["title"] for m in webhook.received)
    assert len(titles) > received_before  # what was not sent before the kill went out after the restart
    doubled = [t for t, n in titles.items() if n > 1]
    assert len(doubled) <= 1 and all(n <= 2 for n in titles.values()), titles
    sent = json.loads(run_monitor("alerts", "--json", config=config).stdout)
    assert {a["status"] for a in sent} == {"sent"} and len(sent) == len(titles)
    third = run_monitor("run", "--once", config=config)
    assert third.returncode == 0 and Counter(m["title"] for m in webhook.received) == titles


def test_alerts_commands_and_notify_test(tmp_path, outlets, webhook):
    config = write_config(tmp_path / "monitor.yaml", outlets, {"chat": webhook.url()}, sources=["ro-stiri"])
    data = yaml.safe_load(config.read_text())
    data["notify"]["chat"] = {"url": webhook.url(), "give_up_after": "1s"}
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    webhook.fail_with = 500
    assert run_monitor("run", "--once", config=config).returncode == 0
    failed = json.loads(run_monitor("alerts", "--failed", "--json", config=config).stdout)
    assert failed and all(f["status"] == "failed" and "500" in f["last_error"] for f in failed)
    text = run_monitor("alerts", "--failed", config=config).stdout
    assert f"#{failed[0]['id']}" in text and "failed" in text

    assert run_monitor("alerts", "retry", config=config).returncode == 2  # needs ids or --all-failed
    one = run_monitor("alerts", "retry", str(failed[0]["id"]), config=config)
    assert one.returncode == 0 and "1 failed delivery queued again" in one.stdout
    webhook.fail_with = None
    rest = run_monitor("alerts", "retry", "--all-failed", config=config)
    assert f"{len(failed) - 1} failed deliver" in rest.stdout
    assert run_monitor("run", "--once", config=config).returncode == 0
    assert len(webhook.received) == len(failed)
    assert json.loads(run_monitor("alerts", "--failed", "--json", config=config).stdout) == []

    ok = run_monitor("notify-test", "chat", config=config)
    assert ok.returncode == 0 and "chat (json): OK, sent" in ok.stdout
    assert webhook.received[-1]["title"] == "newsmonitor test message"
    webhook.fail_with = 503
    bad = run_monitor("notify-test", "chat", config=config)
    assert bad.returncode == 1 and "FAILED" in bad.stdout and "503" in bad.stdout
    unknown = run_monitor("notify-test", "nope", config=config)
    assert unknown.returncode == 2 and "no notify target named 'nope'" in unknown.stderr


def test_daemon_health_endpoint_reports_sources_and_failed_alerts(tmp_path, outlets, webhook):
    port = free_port()
    config = write_config(tmp_path / "monitor.yaml", outlets, {"chat": webhook.url()}, sources=["ro-stiri", "broken"], interval="1h")
    data = yaml.safe_load(config.read_text())
    data["health"] = {"listen": f"127.0.0.1:{port}"}
    data["notify"]["chat"] = {"url": webhook.url(), "give_up_after": "1s"}
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    webhook.fail_with = 500
    proc = start_daemon(config)
    try:
        report = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    report = (r.status, json.loads(r.read()))
            except urllib.error.HTTPError as e:  # 503 when degraded
                report = (e.code, json.loads(e.read()))
            except OSError:
                report = None
            if report and report[1]["deliveries"]["failed"] > 0 and all(x["outcome"] != "never" for x in report[1]["sources"]):
                break
            time.sleep(0.2)
        assert report is not None and report[0] == 503 and report[1]["status"] == "degraded"
        sources = {s["name"]: s for s in report[1]["sources"]}
        assert sources["broken"]["outcome"] == "error" and sources["ro-stiri"]["outcome"] == "ok"
        assert report[1]["failed"][0]["target"] == "chat"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0


@pytest.mark.one_backend  # PostgreSQL by its nature
def test_two_daemons_on_one_postgresql_do_not_double_send(tmp_path, outlets, webhook):
    from conftest import _pg_database

    databases = _pg_database()
    url = next(databases)
    try:
        config = write_config(tmp_path / "monitor.yaml", outlets, {"chat": webhook.url()}, database=url)
        _everything_watch(config)
        webhook.delay = 0.2  # both are sending at the same time
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, text=True,
            )
            for _ in range(2)
        ]
        errors = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        titles = Counter(m["title"] for m in webhook.received)
        assert titles and all(n == 1 for n in titles.values()), titles
        sent = json.loads(run_monitor("alerts", "--json", config=config).stdout)
        assert len(sent) == len(titles) and {a["status"] for a in sent} == {"sent"}
    finally:
        next(databases, None)
