"""`monitor run --once` over the fixture outlets, as a user runs it, against real SMTP and webhook servers."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import run_monitor, write_config


def _stories(config):
    out = run_monitor("stories", "--json", "--since", "3650d", config=config)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _expected_alerts(stories, manifest):
    """(watch, story id) pairs that must be alerted: a story alerts a watch if any article of it matches."""
    watches_of = {a["url"]: set(a["watches"]) for a in manifest["articles"]}
    expected = set()
    for story in stories:
        for article in story["articles"]:
            for watch in watches_of[article["url"]]:
                expected.add((watch, story["id"]))
    return expected


@pytest.mark.one_backend  # parametrized over both backends by database_url itself
def test_run_once_collects_matches_and_alerts_once(tmp_path, outlets, smtp, webhook, database_url):
    manifest = outlets.manifest()
    config = write_config(
        tmp_path / "monitor.yaml", outlets, {"desk-email": smtp.url(), "desk-chat": webhook.url()}, database=database_url
    )
    outlets.reset_hits()
    started = time.monotonic()
    first = run_monitor("run", "--once", config=config)
    elapsed = time.monotonic() - started
    assert first.returncode == 0, first.stderr
    # the never-answering feed is cut off by its 3 s timeout, not the server's 120 s hold
    assert elapsed < 60
    log = first.stderr
    assert "source broken failed: HTTP 500" in log
    assert "source slow failed: no answer" in log and "within 3s" in log
    assert "damaged feed" in log  # rau is bozo but salvaged

    # every article collected, once; robots.txt obeyed
    stories = _stories(config)
    stored = [a["url"] for s in stories for a in s["articles"]]
    assert Counter(stored) == Counter(a["url"] for a in manifest["articles"])
    for url in manifest["never_fetch"]:
        assert url.removeprefix(outlets.base) not in outlets.hits_snapshot()
    agents = {headers.get("User-Agent", "") for _, _, headers in outlets.requests}
    assert len(agents) == 1 and agents.pop().startswith("newsmonitor/")

    # articles are grouped exactly as labelled: the syndicated copy and the English wire story
    # joined the Romanian original; same-alliance, same-week events stayed apart
    story_of = {a["url"]: s["id"] for s in stories for a in s["articles"]}
    label_of = {a["url"]: a["story"] for a in manifest["articles"]}
    groups = {frozenset(u for u in story_of if story_of[u] == sid) for sid in story_of.values()}
    assert groups == {frozenset(u for u in label_of if label_of[u] == label) for label in label_of.values()}
    seed = outlets.url("/ro-stiri/articles/x").replace("articles/x", "articole/putin-bishkek-japarov-2911.html")
    copy = outlets.url("/agregator/stire/88123.html")
    assert story_of[seed] == story_of[copy]
    seed_story = next(s for s in stories if s["id"] == story_of[seed])
    assert {a["source"] for a in seed_story["articles"]} == {"ro-stiri", "agregator", "wire-en", "html-ro"}
    assert seed_story["languages"] == ["en", "ro"]

    # alerts: exactly one per (watch, story) on each target; none from sidebars or false friends
    expected = _expected_alerts(stories, manifest)
    assert expected, "the fixtures must produce alerts"
    titles = {s["id"]: s["title"] for s in stories}
    expected_titles = Counter(f"[{w}] {titles[sid]}" for w, sid in expected)
    assert Counter(m["title"] for m in webhook.received) == expected_titles
    assert Counter(str(m["subject"]) for m in smtp.messages) == expected_titles

    # the e-mail: HTML and plain parts, UTF-8 intact, every outlet of the story listed
    mail = next(m for m in smtp.messages if str(m["subject"]) == f"[csto] {titles[story_of[seed]]}")
    html = mail.get_body(preferencelist=("html",)).get_content()
    plain = mail.get_body(preferencelist=("plain",)).get_content()
    for part in (html, plain):
        assert "Kârgâzstan" in part and "Bișkek" in part
        assert seed in part and copy in part
    assert "<mark>" in html
    # the webhook gets structured fields
    hook = json.loads(next(m for m in webhook.received if m["title"] == f"[icc-warrant] {titles[story_of[seed]]}")["message"])
    assert (hook["type"], hook["watch"], hook["story_id"]) == ("alert", "icc-warrant", story_of[seed])
    assert {a["source"] for a in hook["articles"]} == {"ro-stiri", "agregator", "wire-en", "html-ro"}
    assert {a["language"] for a in hook["articles"]} == {"ro", "en"}
    assert '"Curtea Penală Internațională" AND "mandat de arestare"' in hook["why"]
    assert "mandat de arestare" in {m["term"] for m in hook["matched"]}

    # second pass: nothing new, nothing re-sent
    sent_mail, sent_chat = len(smtp.messages), len(webhook.received)
    outlets.reset_hits()
    second = run_monitor("run", "--once", config=config)
    assert second.returncode == 0, second.stderr
    # stored articles' pages are not fetched again: only feeds, listings and robots.txt
    feeds = {s["url"].removeprefix(outlets.base) for s in manifest["sources"]}
    assert set(outlets.hits_snapshot()) <= feeds | {"/robots.txt", "/nou/rss.xml"}
    assert (len(smtp.messages), len(webhook.received)) == (sent_mail, sent_chat)
    assert len(_stories(config)) == len(stories)

    status = json.loads(run_monitor("status", "--json", config=config).stdout)
    by_name = {s["name"]: s for s in status}
    assert by_name["broken"]["outcome"] == "error" and by_name["broken"]["consecutive_failures"] == 2
    assert by_name["ro-stiri"]["outcome"] == "ok" and by_name["ro-stiri"]["items"] == 4
    assert by_name["gol"]["outcome"] == "ok" and by_name["gol"]["items"] == 0
    assert by_name["moved"]["outcome"] == "ok"  # the redirect was followed
    # the second poll was a conditional GET: the fixture server answered 304 and nothing was re-parsed
    assert by_name["ro-stiri"]["not_modified"] is True
    feed_requests = [h for m, path, h in outlets.requests if path == "/ro-stiri/rss.xml"]
    assert feed_requests and "If-None-Match" in feed_requests[-1]


def test_alerts_survive_an_outage_and_are_sent_once_later(tmp_path, outlets, webhook):
    config = write_config(tmp_path / "monitor.yaml", outlets, {"desk-chat": webhook.url()}, sources=["ro-stiri", "agregator"])
    webhook.fail_with = 503
    first = run_monitor("run", "--once", config=config)
    assert first.returncode == 0, first.stderr
    assert webhook.received == []
    assert "alert to 'desk-chat' failed" in first.stderr

    webhook.fail_with = None
    second = run_monitor("run", "--once", config=config)
    assert second.returncode == 0, second.stderr
    titles = [m["title"] for m in webhook.received]
    assert len(titles) == len(set(titles)) >= 2  # csto and icc-warrant on the seed story, armenia on csto

    third = run_monitor("run", "--once", config=config)
    assert third.returncode == 0
    assert [m["title"] for m in webhook.received] == titles


def test_feed_text_is_escaped_in_html_mail(tmp_path, outlets, smtp):
    outlets.set_override(
        "/hostile/rss.xml",
        """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>x</title>
<item><title>CSTO &lt;script&gt;alert(1)&lt;/script&gt; &amp; "quotes"</title>
<link>{{BASE}}/hostile/1.html</link><guid>h1</guid>
<description>&lt;p&gt;OTSC &amp;lt;img src=x onerror=alert(2)&amp;gt; la Bișkek, Kârgâzstan.&lt;/p&gt;</description></item>
</channel></rss>""",
    )
    try:
        config = tmp_path / "monitor.yaml"
        write_config(config, outlets, {"desk-email": smtp.url()}, sources=[])
        text = config.read_text().replace(
            "sources: []",
            f"sources:\n- {{name: hostile, kind: rss, url: '{outlets.url('/hostile/rss.xml')}', language: ro, fulltext: false}}",
        )
        config.write_text(text)
        result = run_monitor("run", "--once", config=config)
        assert result.returncode == 0, result.stderr
    finally:
        outlets.clear_overrides()
    assert len(smtp.messages) == 1
    html = smtp.messages[0].get_body(preferencelist=("html",)).get_content()
    assert "<script" not in html and "<img" not in html
    assert "&lt;img src=x" in html and re.search(r"CSTO &amp; (&quot;|&#34;)quotes", html)
    assert "Kârgâzstan" in html


def test_stories_continue_across_restarts(tmp_path, outlets, webhook):
    """A later run (a new process) puts coverage from other outlets and languages into yesterday's story."""
    config = write_config(tmp_path / "monitor.yaml", outlets, {"desk-chat": webhook.url()}, sources=["ro-stiri"])
    assert run_monitor("run", "--once", config=config).returncode == 0
    alerts = len(webhook.received)
    (seed_story,) = [s for s in _stories(config) if s["articles"][0]["source"] == "ro-stiri" and "Putin" in s["title"]]

    write_config(tmp_path / "monitor.yaml", outlets, {"desk-chat": webhook.url()}, sources=["ro-stiri", "wire-en", "agregator"])
    second = run_monitor("run", "--once", config=config)
    assert second.returncode == 0, second.stderr
    story = next(s for s in _stories(config) if s["id"] == seed_story["id"])
    assert {a["source"] for a in story["articles"]} == {"ro-stiri", "wire-en", "agregator"}
    assert story["languages"] == ["en", "ro"]
    # the story had been alerted already: the new coverage sends nothing new (no `updates: true`)
    new_titles = [m["title"] for m in webhook.received[alerts:]]
    assert not any(story["title"] in t for t in new_titles), new_titles


@pytest.mark.one_backend
def test_a_feed_sent_again_byte_for_byte_is_not_read_again(tmp_path, outlets):
    """A server that ignores conditional requests: the same bytes cost no parsing; changed bytes are read."""
    config = write_config(tmp_path / "monitor.yaml", outlets, {}, sources=["ro-stiri"])
    feed = (Path(__file__).parents[1] / "fixtures" / "outlets" / "ro-stiri" / "rss.xml").read_text(encoding="utf-8")
    outlets.conditional = False
    try:
        outlets.set_override("/ro-stiri/rss.xml", feed, "application/rss+xml; charset=utf-8")
        assert run_monitor("run", "--once", config=config).returncode == 0
        assert run_monitor("run", "--once", config=config).returncode == 0
        state = {s["name"]: s for s in json.loads(run_monitor("status", "--json", config=config).stdout)}["ro-stiri"]
        assert state["outcome"] == "ok" and state["not_modified"] is True
        articles = json.loads(run_monitor("stories", "--json", config=config).stdout)

        extra = (
            "<item><title>Ultima oră: Bișkek găzduiește un nou summit</title>"
            "<link>{{BASE}}/ro-stiri/articole/nou-summit.html</link><guid>nou-summit-1</guid>"
            "<description>Liderii regiunii se întâlnesc din nou la Bișkek.</description></item></channel>"
        )
        outlets.set_override("/ro-stiri/rss.xml", feed.replace("</channel>", extra, 1), "application/rss+xml; charset=utf-8")
        assert run_monitor("run", "--once", config=config).returncode == 0
        state = {s["name"]: s for s in json.loads(run_monitor("status", "--json", config=config).stdout)}["ro-stiri"]
        assert state["not_modified"] is False and state["new_items"] == 1
        assert sum(len(s["articles"]) for s in json.loads(run_monitor("stories", "--json", config=config).stdout)) == (
            sum(len(s["articles"]) for s in articles) + 1
        )
    finally:
        outlets.conditional = True
        outlets.clear_overrides()
