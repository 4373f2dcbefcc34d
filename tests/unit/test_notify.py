"""The outbox flushed through real Apprise to loopback receivers, with a clock we move: digests,
quiet hours, rate limits, give-up, per-URL once-only, Retry-After."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import Webhook

from monitor import config
from monitor.app import Monitor
from monitor.types import RawDocument

BUCHAREST = ZoneInfo("Europe/Bucharest")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def doc(n: int, words: str = "CSTO", source: str = "s") -> RawDocument:
    # distinct stories: different names and numbers, no shared text
    return RawDocument(
        source=source,
        url=f"https://outlet.example/{n}",
        language="en",
        title=f"{words} story number {n} about Name{n}x",
        text=f"Officials in Town{n}q said {1000 + n * 37} people met Person{n}z. {words} was mentioned once.",
    )


def make(tmp_path, clock, notify: dict, watches: list[dict] | None = None) -> Monitor:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path / 'm.db'}",
                "notify": notify,
                "watches": watches or [{"name": "csto", "terms": ["CSTO"], "notify": list(notify)}],
            },
            allow_unicode=True,
        )
    )
    return Monitor(config.load(path), clock=clock)


@pytest.fixture
def monitor_factory(tmp_path):
    made = []

    def factory(*args, **kwargs):
        m = make(tmp_path, *args, **kwargs)
        made.append(m)
        return m

    yield factory
    for m in made:
        m.store.close()


def test_digest_every_hour_groups_by_story_and_sends_nothing_when_empty(monitor_factory, webhook):
    clock = Clock(datetime(2025, 11, 26, 9, tzinfo=timezone.utc))
    m = monitor_factory(
        clock,
        {"digest": {"url": webhook.url(), "mode": "digest", "every": "1h"}},
        [
            {"name": "csto", "terms": ["CSTO"], "notify": ["digest"]},
            {"name": "people", "terms": ["people"], "notify": ["digest"]},
        ],
    )
    m.ingest([doc(1), doc(2)])
    m.deliver()
    assert webhook.received == []  # collected, not sent
    clock.now += timedelta(minutes=61)
    m.deliver()
    (message,) = webhook.received
    assert message["title"].startswith("Digest: 4 alert(s) in 2 story(ies)")
    import json

    body = json.loads(message["message"])
    assert body["type"] == "digest" and len(body["alerts"]) == 4
    clock.now += timedelta(hours=3)
    m.deliver()
    assert len(webhook.received) == 1  # nothing new: no empty digest


def test_quiet_hours_hold_alerts_and_send_them_as_one_message_afterwards(monitor_factory, webhook):
    clock = Clock(datetime(2025, 11, 26, 23, 30, tzinfo=BUCHAREST))
    m = monitor_factory(clock, {"chat": {"url": webhook.url(), "quiet": "22:00-07:00"}})
    m.ingest([doc(1)])
    clock.now = datetime(2025, 11, 27, 2, 0, tzinfo=BUCHAREST)
    m.ingest([doc(2), doc(3)])
    m.deliver()
    assert webhook.received == []
    clock.now = datetime(2025, 11, 27, 7, 1, tzinfo=BUCHAREST)
    m.deliver()
    (message,) = webhook.received
    assert message["title"] == "Held during quiet hours (22:00-07:00): 3 alert(s) in 3 story(ies)"
    # after quiet hours alerts go out one by one again
    m.ingest([doc(4)])
    m.deliver()
    assert len(webhook.received) == 2 and webhook.received[-1]["title"].startswith("[csto] CSTO story number 4")


def test_rate_limit_folds_the_excess_into_one_summary(monitor_factory, webhook):
    clock = Clock(datetime(2025, 11, 26, 12, tzinfo=timezone.utc))
    m = monitor_factory(clock, {"chat": {"url": webhook.url(), "rate": 3}})
    m.ingest([doc(n) for n in range(1, 8)])
    counts = m.deliver()
    titles = [x["title"] for x in webhook.received]
    assert len(titles) == 3 and counts.sent == 7
    assert titles[-1] == "5 alert(s) in 5 story(ies) more (rate limit: 3 per minute)"
    m.ingest([doc(9)])
    m.deliver()
    assert len(webhook.received) == 3  # the minute's budget is spent: held, not dropped
    clock.now += timedelta(seconds=61)
    m.deliver()
    assert webhook.received[-1]["title"].startswith("[csto] CSTO story number 9")


def test_a_failing_url_does_not_hold_back_or_repeat_the_others(monitor_factory, webhook, smtp):
    clock = Clock(datetime(2025, 11, 26, 12, tzinfo=timezone.utc))
    down = Webhook()
    down.fail_with = 500
    try:
        m = monitor_factory(clock, {"both": [webhook.url(), down.url()], "mail": smtp.url()})
        m.ingest([doc(1)])
        counts = m.deliver()
        assert (len(webhook.received), len(smtp.messages), counts.failed) == (1, 1, 1)
        down.fail_with = None
        clock.now += timedelta(minutes=5)
        m.deliver()
        # the healthy URL and the other target got it once; the failed one now too
        assert (len(webhook.received), len(down.received), len(smtp.messages)) == (1, 1, 1)
    finally:
        down.close()


def test_retry_after_is_honoured_and_failures_give_up_after_the_limit(monitor_factory, webhook):
    clock = Clock(datetime(2025, 11, 26, 12, tzinfo=timezone.utc))
    webhook.fail_with = 429
    webhook.retry_after = "300"
    m = monitor_factory(clock, {"chat": {"url": webhook.url(), "give_up_after": "30m"}})
    m.ingest([doc(1)])
    m.deliver()
    (row,) = m.store.deliveries("pending")
    assert row.next_attempt - clock.now >= timedelta(seconds=299) and "429" in row.last_error
    clock.now += timedelta(minutes=4)
    m.deliver()
    assert m.store.deliveries("pending")[0].attempts == 1  # not before Retry-After
    clock.now += timedelta(minutes=40)
    m.deliver()
    (failed,) = m.store.deliveries("failed")
    assert failed.attempts == 2
    assert m.health()["status"] == "degraded" and m.health()["deliveries"]["failed"] == 1
    assert m.store.retry(clock.now) == 1
    webhook.fail_with = None
    m.deliver()
    assert len(webhook.received) == 1 and m.store.counts()["failed"] == 0


def test_chat_instant_and_email_daily_digest_together(monitor_factory, webhook, smtp):
    clock = Clock(datetime(2025, 11, 26, 9, 30, tzinfo=BUCHAREST))
    m = monitor_factory(
        clock,
        {"chat": webhook.url(), "mail": {"url": smtp.url(), "mode": "digest", "digest": "0 8 * * *"}},
    )
    m.ingest([doc(1), doc(2)])
    m.deliver()
    assert len(webhook.received) == 2 and smtp.messages == []  # chat at once, e-mail waits for 08:00
    clock.now = datetime(2025, 11, 27, 7, 59, tzinfo=BUCHAREST)
    m.deliver()
    assert smtp.messages == []
    clock.now = datetime(2025, 11, 27, 8, 0, 30, tzinfo=BUCHAREST)
    m.deliver()
    (mail,) = smtp.messages
    assert str(mail["subject"]) == "Digest: 2 alert(s) in 2 story(ies)"
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "CSTO story number 1" in html and "CSTO story number 2" in html
    m.deliver()
    assert len(smtp.messages) == 1 and len(webhook.received) == 2


def test_a_digest_watch_sends_its_alerts_as_digests_to_every_target(monitor_factory, webhook):
    clock = Clock(datetime(2025, 11, 26, 9, tzinfo=timezone.utc))
    m = monitor_factory(
        clock,
        {"chat": webhook.url()},
        [
            {"name": "csto", "terms": ["CSTO"], "notify": ["chat"], "mode": "digest", "every": "30m"},
            {"name": "people", "terms": ["people"], "notify": ["chat"]},
        ],
    )
    m.ingest([doc(1)])
    m.deliver()
    assert [x["title"] for x in webhook.received] == ["[people] CSTO story number 1 about Name1x"]
    clock.now += timedelta(minutes=31)
    m.deliver()
    assert webhook.received[-1]["title"] == "Digest: 1 alert(s) in 1 story(ies)"
