"""`monitor run` as a daemon: repeated crawls on one reactor, live config reload, clean stop on SIGTERM."""

from __future__ import annotations

import re
import signal
import time

import pytest
import yaml
from conftest import start_daemon, write_config


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
    proc = start_daemon(config, log_path)
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


@pytest.mark.one_backend
def test_sigterm_lets_the_crawl_in_flight_finish(tmp_path, outlets):
    config = write_config(tmp_path / "monitor.yaml", outlets, {}, sources=["slow"], interval="1h", timeout="3s")
    outlets.reset_hits()
    log_path = tmp_path / "daemon.log"
    proc = start_daemon(config, log_path)
    try:
        wait_until(lambda: outlets.hits_snapshot()["/slow/rss.xml"] >= 1, what="the slow feed to be requested")
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    output = log_path.read_text()
    assert code == 0, output
    assert re.search(r"finishing [12] crawl\(s\) and deliveries in flight", output)
    # the crawl ran to its timeout and its outcome was recorded before the exit
    assert output.index("source slow failed: no answer") < output.index("daemon stopped")
    assert "Traceback" not in output and "CancelledError" not in output


def _get(url: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name) and (not labels or line.startswith(f"{name}{{")):
            head, _, value = line.rpartition(" ")
            got = head[len(name):].strip("{}")
            if ",".join(sorted(got.split(","))) == want or (not labels and head == name):
                return float(value)
    return 0.0


@pytest.mark.one_backend
def test_http_endpoint_metrics_and_json_logs_and_304_costs_no_parsing(tmp_path, outlets):
    import json

    from conftest import free_port

    port = free_port()
    config = write_config(tmp_path / "monitor.yaml", outlets, {}, sources=["gol", "ro-stiri", "broken"], interval="1s")
    log_path = tmp_path / "daemon.log"
    proc = start_daemon(config, log_path, "--http", f"127.0.0.1:{port}", "--log-format", "json")
    base = f"http://127.0.0.1:{port}"
    try:
        def metrics() -> str:
            try:
                return _get(base + "/metrics")[1].decode()
            except OSError:
                return ""

        wait_until(lambda: _metric(metrics(), "monitor_fetches_total", source="ro-stiri", outcome="not_modified") >= 2, what="304 re-polls")
        text = metrics()
        assert _metric(text, "monitor_fetches_total", source="ro-stiri", outcome="ok") == 1  # parsed once
        assert _metric(text, "monitor_new_articles_total", source="ro-stiri") == 4  # and never again
        assert _metric(text, "monitor_items_total", source="ro-stiri") == 4
        assert _metric(text, "monitor_fetches_total", source="broken", outcome="error") >= 1
        assert "monitor_fetch_seconds_bucket" in text and "monitor_outbox_pending" in text
        assert _metric(text, "monitor_last_success_timestamp_seconds", source="gol") > 1e9

        status, body = _get(base + "/healthz")
        report = json.loads(body)
        assert status == 200 and report["scheduler"] == "running" and report["database"] == "reachable"
        assert {s["name"]: s["outcome"] for s in report["sources"]}["broken"] == "error"
        assert _get(base + "/nope")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    passes = [x for x in lines if x.get("source") == "ro-stiri" and "outcome" in x]
    assert passes and all({"items", "new_articles", "seconds", "outcome"} <= set(x) for x in passes)
    assert any(x["outcome"] == "not_modified" for x in passes)
    assert any(x.get("error_class") == "http" for x in lines if x.get("source") == "broken")
