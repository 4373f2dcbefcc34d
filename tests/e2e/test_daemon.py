"""`monitor run` as a daemon: repeated crawls on one reactor, live config reload, clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import yaml
from conftest import ROOT, write_config


def wait_until(condition, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_daemon_recrawls_reloads_config_and_stops_on_sigterm(tmp_path, outlets, webhook):
    config = write_config(tmp_path / "monitor.yaml", outlets, {"desk-chat": webhook.url()}, sources=["gol", "ro-stiri"], interval="1s")
    outlets.reset_hits()
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        # the same process crawls again and again: the reactor is not restarted between crawls
        wait_until(lambda: outlets.hits_snapshot()["/gol/rss.xml"] >= 3, what="three crawls of gol")
        wait_until(lambda: len(webhook.received) >= 3, what="alerts from ro-stiri")
        first_alerts = sorted(m["title"] for m in webhook.received)

        # edit the config while it runs: a new source and a new watch take effect without a restart
        data = yaml.safe_load(config.read_text())
        data["sources"].append(next(s for s in outlets.manifest()["sources"] if s["name"] == "vechi-ro"))
        data["watches"].append({"name": "timisoara", "terms": ["Timișoara"], "notify": ["desk-chat"]})
        config.write_text(yaml.safe_dump(data, allow_unicode=True))
        wait_until(lambda: any(m["title"].startswith("[timisoara]") for m in webhook.received), what="the reloaded watch to fire")

        # a broken edit is reported and the running config kept
        config.write_text(config.read_text() + "\nbogus_key: 1\n")
        wait_until(lambda: "config not reloaded" in log_path.read_text(), what="the rejected reload to be logged")
        crawls = outlets.hits_snapshot()["/gol/rss.xml"]
        wait_until(lambda: outlets.hits_snapshot()["/gol/rss.xml"] > crawls, what="crawling to go on")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    output = log_path.read_text()
    assert code == 0, output
    assert "daemon stopped" in output
    assert "Traceback" not in output
    assert "bogus_key: unknown key" in output
    # nothing was alerted twice across all those crawls
    titles = [m["title"] for m in webhook.received]
    assert len(titles) == len(set(titles))
    assert set(first_alerts) <= set(titles)


def test_sigterm_lets_the_crawl_in_flight_finish(tmp_path, outlets):
    config = write_config(tmp_path / "monitor.yaml", outlets, {}, sources=["slow"], interval="1h", timeout="3s")
    outlets.reset_hits()
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        wait_until(lambda: outlets.hits_snapshot()["/slow/rss.xml"] >= 1, what="the slow feed to be requested")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    output = log_path.read_text()
    assert code == 0, output
    assert "finishing 1 crawl(s) in flight" in output
    # the crawl ran to its timeout and its outcome was recorded before the exit
    assert output.index("source slow failed: no answer") < output.index("daemon stopped")
    assert "Traceback" not in output and "CancelledError" not in output
