"""Tuning watches on what is stored: `monitor test-watch` and `monitor explain`, as a user runs them."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import run_monitor, write_config

# command-line behaviour, not storage: one backend is enough (storage runs on both elsewhere)
pytestmark = pytest.mark.one_backend


@pytest.fixture(scope="module")
def collected(tmp_path_factory, outlets):
    """One pass over the fixture outlets with the test watches and an extra, filtered watch."""
    path = tmp_path_factory.mktemp("tuning") / "monitor.yaml"
    write_config(path, outlets, {}, sources=["ro-stiri", "wire-en", "html-ro", "agregator", "vechi-ro"])
    data = yaml.safe_load(path.read_text())
    data["watches"].append({"name": "english-icc", "query": "ICC", "languages": ["en"], "exclude": ["cricket"]})
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    result = run_monitor("run", "--once", config=path)
    assert result.returncode == 0, result.stderr
    return path, outlets.manifest()


def test_test_watch_replays_a_saved_watch(collected):
    config, manifest = collected
    out = run_monitor("test-watch", "icc-warrant", "--since", "3650d", "--json", config=config)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    expected = {a["url"] for a in manifest["articles"] if "icc-warrant" in a["watches"] and a["source"] != "moved"}
    got = {a["url"] for s in report["stories"] for a in s["articles"]}
    assert got == expected
    assert report["matched"] == len(expected) == sum(report["per_day"].values())
    assert report["articles_scanned"] >= 14
    # inflection: the html-ro write-up says "mandatul de arestare" as well as the base form; all show why
    for story in report["stories"]:
        for a in story["articles"]:
            assert " AND " in a["clause"] and a["hits"]
            assert all("[[" in h["snippet"] for h in a["hits"])


def test_test_watch_tries_an_unsaved_query(collected):
    config, _ = collected
    out = run_monitor("test-watch", "--query", 'title:(Putin OR Japarov) AND text:"Organizației Tratatului"', "--since", "3650d", config=config)
    assert out.returncode == 0, out.stderr
    assert "matches per day:" in out.stdout and "stories it would alert on:" in out.stdout
    assert "why: " in out.stdout and "«" in out.stdout
    bad = run_monitor("test-watch", "--query", "(Putin AND", config=config)
    assert bad.returncode == 2 and "column" in bad.stderr and "Traceback" not in bad.stderr
    unknown = run_monitor("test-watch", "nope", config=config)
    assert unknown.returncode == 2 and "no watch named 'nope'" in unknown.stderr


def test_explain_says_which_watches_matched_and_where_others_failed(collected, outlets):
    config, _ = collected
    cricket = outlets.url("/wire-en/news/icc-womens-t20-world-cup-2026-schedule.html")
    out = run_monitor("explain", cricket, "--json", config=config)
    assert out.returncode == 0, out.stderr
    verdicts = {v["watch"]: v for v in json.loads(out.stdout)["watches"]}
    assert verdicts["icc-warrant"]["matched"] is False
    assert "warrant" in verdicts["icc-warrant"]["reason"]  # the clause that failed
    assert verdicts["english-icc"]["matched"] is False and "excluded" in verdicts["english-icc"]["reason"]

    seed = outlets.url("/ro-stiri/articole/putin-bishkek-japarov-2911.html")
    out = run_monitor("explain", seed, config=config)
    assert out.returncode == 0, out.stderr
    lines = {line.split(":")[0].strip(): line for line in out.stdout.splitlines() if ":" in line}
    assert lines["MATCH    csto"] and lines["MATCH    icc-warrant"]
    assert "article language ro is not in ['en']" in out.stdout  # english-icc skipped, and says why

    missing = run_monitor("explain", "https://nowhere.example/x", config=config)
    assert missing.returncode == 1 and "no stored article" in missing.stderr
