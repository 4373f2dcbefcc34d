"""The composition root in process: ingest -> stories -> match -> outbox -> Apprise, with a clock we move."""

from __future__ import annotations

import json

from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from monitor import config
from monitor.app import Monitor
from monitor.types import RawDocument

SEED_TITLE, SEED_TEXT = (
    (Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_784eaa9a48f1fa15.txt").read_text(encoding="utf-8").split("\n", 1)
)
EN = RawDocument(
    source="wire-en",
    url="https://wire.example/putin-japarov",
    language="en",
    title="Putin meets Kyrgyz leader Japarov in Bishkek ahead of CSTO summit",
    text=(
        "Russian President Vladimir Putin held talks with Kyrgyz President Sadyr Japarov in Bishkek on Wednesday, "
        "the Kremlin said. Putin said about 1,700 Russian companies operate in Kyrgyzstan. His October 2023 visit "
        "was his first trip abroad after the International Criminal Court issued an arrest warrant. A CSTO summit "
        "follows on Thursday in Bishkek, with Kassym-Jomart Tokayev invited to attend."
    ),
)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def monitor_for(tmp_path, webhook, clock) -> Monitor:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path / 'm.db'}",
                "notify": {"chat": webhook.url()},
                "watches": [
                    {"name": "csto", "terms": ["CSTO", "OTSC"], "notify": ["chat"], "updates": True},
                    {"name": "icc", "query": '"Curtea Penală Internațională" OR "International Criminal Court"', "notify": ["chat"]},
                ],
            },
            allow_unicode=True,
        )
    )
    return Monitor(config.load(path), clock=clock)


def seed(url: str = "https://digi24.example/putin", source: str = "digi24") -> RawDocument:
    return RawDocument(source=source, url=url, language="ro", title=SEED_TITLE, text=SEED_TEXT)


def test_one_alert_per_story_and_hourly_follow_ups_only_for_watches_that_ask(tmp_path, webhook):
    clock = Clock(datetime(2025, 11, 26, 12, tzinfo=timezone.utc))
    m = monitor_for(tmp_path, webhook, clock)
    try:
        report = m.ingest([seed()])
        assert (report.new, report.new_stories, report.queued) == (1, 1, 2)
        m.deliver()
        assert sorted(x["title"] for x in webhook.received) == sorted([f"[csto] {SEED_TITLE}", f"[icc] {SEED_TITLE}"])

        # the English wire story joins the story: no new alert; csto's follow-up waits for the hour
        clock.now += timedelta(minutes=10)
        report = m.ingest([EN])
        assert (report.new, report.new_stories, report.queued, report.updates) == (1, 0, 0, 1)
        m.deliver(ignore_backoff=True)
        assert len(webhook.received) == 2

        clock.now += timedelta(minutes=51)
        m.deliver()
        assert len(webhook.received) == 3
        update = webhook.received[-1]
        assert update["title"] == f"[csto] Also covered: {SEED_TITLE}"
        body = json.loads(update["message"])
        assert body["type"] == "update" and body["new_articles"] == [EN.url]
        assert {a["source"] for a in body["articles"]} == {"digi24", "wire-en"}

        # another copy ten minutes later: the next follow-up comes an hour after the last one, not before
        clock.now += timedelta(minutes=10)
        m.ingest([seed("https://agregator.example/88123", "agregator")])
        m.deliver()
        assert len(webhook.received) == 3
        clock.now += timedelta(minutes=51)
        m.deliver()
        assert len(webhook.received) == 4
        assert json.loads(webhook.received[-1]["message"])["new_articles"] == ["https://agregator.example/88123"]
        assert not any(x["title"].startswith("[icc] Also") for x in webhook.received)
    finally:
        m.store.close()


def test_a_failed_transaction_leaves_no_ghosts_in_the_story_index(tmp_path, webhook):
    clock = Clock(datetime(2025, 11, 26, 12, tzinfo=timezone.utc))
    m = monitor_for(tmp_path, webhook, clock)
    try:
        with m.store.engine.begin() as c:  # the database refuses the write, as a full disk would
            c.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON article BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        try:
            m.ingest([seed()])
            raise AssertionError("the write should have failed")
        except Exception as exc:  # noqa: BLE001
            assert "disk full" in str(exc)
        assert len(m.index) == 0 and m.store.counts()["articles"] == 0
        with m.store.engine.begin() as c:
            c.exec_driver_sql("DROP TRIGGER refuse")
        assert m.ingest([seed()]).new_stories == 1  # nothing was lost: the article comes in on the retry
    finally:
        m.store.close()


def test_a_source_failing_for_hours_raises_one_operator_alert(tmp_path, webhook):
    clock = Clock(datetime(2025, 11, 26, 0, tzinfo=timezone.utc))
    path = tmp_path / "monitor.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path / 'm.db'}",
                "sources": [{"name": "digi24", "kind": "rss", "url": "https://www.digi24.ro/rss", "language": "ro"}],
                "notify": {"ops": webhook.url()},
                "operator": {"notify": ["ops"], "failing_after": "6h"},
            }
        )
    )
    m = Monitor(config.load(path), clock=clock)
    try:
        for hours in (0, 3, 6, 7):
            clock.now = datetime(2025, 11, 26, hours, tzinfo=timezone.utc)
            state = m.store.record_fetch("digi24", clock.now, "HTTP 503 from https://www.digi24.ro/rss", 0, 0, error_class="http")
            m._check_health("digi24", state)
        (alert,) = webhook.received
        assert alert["title"] == "newsmonitor: source digi24 is failing"
        assert "failing since 2025-11-26 00:00 UTC" in alert["message"] and "HTTP 503" in alert["message"]
        clock.now += timedelta(hours=1)
        state = m.store.record_fetch("digi24", clock.now, None, 20, 5)
        m._check_health("digi24", state)
        assert m.store.source_states()[0].incident == "" and len(webhook.received) == 1
    finally:
        m.store.close()


def test_batcher_stores_what_waited_together_within_its_limit_and_reports_failures_to_each_waiter():
    import asyncio

    from monitor.app import Batcher

    seen: list[list[int]] = []

    async def work(items: list[int]) -> None:
        seen.append(list(items))
        await asyncio.sleep(0)
        if 13 in items:
            raise RuntimeError("disk full")

    async def main() -> list:
        b = Batcher(work, size=lambda n: n, limit=10)
        ok = await asyncio.gather(*(b.submit(n) for n in [3, 3, 3, 3, 12, 1]))
        failed = await asyncio.gather(b.submit(13), b.submit(2), return_exceptions=True)
        return [ok, failed]

    ok, failed = asyncio.run(main())
    assert ok == [None] * 6
    # everything waited while the first batch ran; batches never pass the limit unless one item alone does
    assert seen[:4] == [[3, 3, 3], [3], [12], [1]]
    assert seen[4:] == [[13], [2]] or seen[4:] == [[13, 2]]
    assert isinstance(failed[0], RuntimeError) and "disk full" in str(failed[0])


def test_batcher_lets_light_items_gather_and_a_heavy_one_ends_the_wait():
    import asyncio

    from monitor.app import Batcher

    seen: list[list[str]] = []

    async def work(items: list[str]) -> None:
        seen.append(list(items))

    async def main() -> float:
        b = Batcher(work, light=lambda item: item.startswith("304"))
        b.linger = 30.0  # far longer than the test may take: only a heavy item can end it
        loop = asyncio.get_running_loop()
        first = loop.create_task(b.submit("304 a"))
        await asyncio.sleep(0)
        second = loop.create_task(b.submit("304 b"))
        await asyncio.sleep(0)
        assert seen == []  # the light ones wait for company
        started = loop.time()
        await asyncio.gather(first, second, b.submit("new articles"))
        took = loop.time() - started
        b.linger = 0.0
        await b.submit("304 c")  # no lingering when it is off (run --once)
        return took

    took = asyncio.run(main())
    assert seen == [["304 a", "304 b", "new articles"], ["304 c"]]
    assert took < 30.0
