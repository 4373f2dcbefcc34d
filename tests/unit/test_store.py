"""Storage on both backends: identity of articles, the outbox's once-only key, source state."""

from __future__ import annotations

import json

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from monitor.normalize import to_article
from monitor.store import Store
from monitor.types import Hit, RawDocument

NOW = datetime(2025, 11, 26, 12, 0, tzinfo=timezone.utc)


def article(url: str, title: str = "Titlu", text: str = "Text despre Bișkek.", guid: str = "", source: str = "s"):
    return to_article(RawDocument(source=source, url=url, language="ro", title=title, text=text, guid=guid), NOW)


def save(store: Store, articles):
    with store.session() as s:
        new = store.save_articles(s, articles)
        s.commit()
    return new


def test_an_article_is_stored_once_by_url_guid_and_text(database_url):
    store = Store.from_url(database_url)
    try:
        a = article("https://x.ro/a?utm_source=fb", guid="g1", text="Unu doi trei patru.")
        assert len(save(store, [a, a])) == 1
        # same canonical URL without the tracking parameter
        assert save(store, [article("https://x.ro/a", text="Alt text")]) == []
        # same GUID, new URL
        assert save(store, [article("https://x.ro/a-moved", guid="g1", text="Alt text doi")]) == []
        # same text from the same source under a new URL
        assert save(store, [article("https://x.ro/copy", text="Unu doi trei patru.")]) == []
        # the same text from another outlet is that outlet's article
        assert len(save(store, [article("https://y.ro/copy", text="Unu doi trei patru.", source="other")])) == 1
        assert store.counts()["articles"] == 2
    finally:
        store.close()


def test_an_edited_headline_keeps_the_newest_title(database_url):
    store = Store.from_url(database_url)
    try:
        (first,) = save(store, [article("https://x.ro/b", title="Vechi")])
        with store.session() as s:
            story = store.new_story(s, "Vechi", NOW)
            store.attach(s, first.id, story, NOW)
            s.commit()
        assert save(store, [article("https://x.ro/b", title="Titlu nou, corectat")]) == []
        (view,) = store.stories(ids=[story])
        assert [a.title for a in view.articles] == ["Titlu nou, corectat"]
        assert view.first_seen == NOW
    finally:
        store.close()


def test_a_delivery_is_queued_once_per_watch_story_and_target(database_url):
    store = Store.from_url(database_url)
    try:
        a, b = save(store, [article("https://x.ro/1", text="CSTO azi"), article("https://y.ro/2", text="CSTO mâine", source="t")])
        hit = Hit("CSTO", "text", "[[CSTO]] azi")
        with store.session() as s:
            story = store.new_story(s, "CSTO", NOW)
            for item in (a, b):
                store.attach(s, item.id, story, NOW)
            queued = store.record_match(s, "csto", a.id, story, [hit], ["mail", "chat"], NOW, "CSTO")
            queued += store.record_match(s, "csto", b.id, story, [hit], ["mail", "chat"], NOW)
            s.commit()
        assert queued == 2
        pending = store.pending_deliveries()
        assert sorted(d.target for d in pending) == ["chat", "mail"] and {d.mode for d in pending} == {"instant"}
        store.url_done([pending[1].id], "json://a/b")
        store.mark_failed([pending[0].id], "smtp down", NOW + timedelta(minutes=1))
        store.mark_sent([pending[1].id], "chat", "alert", NOW)
        (left,) = store.pending_deliveries()
        assert (left.id, left.attempts, left.next_attempt) == (pending[0].id, 1, NOW + timedelta(minutes=1))
        assert [json.loads(d.done_urls) for d in store.deliveries("sent")] == [["json://a/b"]]
        assert store.messages_since("chat", NOW - timedelta(minutes=1)) == 1
        store.mark_failed([left.id], "smtp down", NOW, give_up=True)
        assert [d.id for d in store.deliveries("failed")] == [left.id] and store.pending_deliveries() == []
        assert store.retry(NOW + timedelta(hours=1)) == 1
        assert store.pending_deliveries()[0].retry_base == NOW + timedelta(hours=1)
        assert store.hits_for("csto", story) == ([hit], ["CSTO"])
    finally:
        store.close()


def test_source_state_counts_consecutive_failures(database_url):
    store = Store.from_url(database_url)
    try:
        store.record_fetch("s", NOW, "HTTP 500", 0, 0)
        store.record_fetch("s", NOW + timedelta(minutes=5), "HTTP 500", 0, 0)
        (state,) = store.source_states()
        assert (state.outcome, state.consecutive_failures, state.last_success) == ("error", 2, None)
        store.record_fetch("s", NOW + timedelta(minutes=10), None, 7, 3)
        (state,) = store.source_states()
        assert (state.outcome, state.consecutive_failures, state.items, state.new_items) == ("ok", 0, 7, 3)
        assert state.last_success == NOW + timedelta(minutes=10)
    finally:
        store.close()


def test_sqlite_uses_wal(tmp_path):
    store = Store.from_url(f"sqlite:///{tmp_path / 'sub' / 'm.db'}")
    try:
        with store.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        store.close()


def test_known_links_cover_url_canonical_url_and_guid(database_url):
    store = Store.from_url(database_url)
    try:
        save(store, [replace(article("https://x.ro/c?utm_medium=rss", guid="urn:c"), url="https://x.ro/c?utm_medium=rss")])
        assert {"https://x.ro/c?utm_medium=rss", "https://x.ro/c", "urn:c"} <= store.known_links("s")
        assert store.known_links("other") == set()
    finally:
        store.close()
