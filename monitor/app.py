"""Composition root: Settings -> store, watchlist, crawler, notifier; one pass or the daemon.

The pipeline of a source: crawl (Scrapy, on the loop) -> normalise -> store (only
new articles go on) -> stories -> match -> outbox, all in one transaction per
batch, run in a worker thread so the loop keeps crawling -> deliver due alerts.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import time
from itertools import islice
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from monitor import config as config_mod
from monitor.config import ConfigError, HtmlSource, RssSource, Settings
from monitor.config import Watch as WatchConfig
from monitor.crawl import Crawler, CrawlResult
from monitor.match import CompiledWatch, Watchlist, compile_watch
from monitor.normalize import to_article
from monitor.observe import Metrics, serve_http
from monitor.schedule import Cadence, incident
from monitor.store import aware
from monitor.notify import Counts, Deliverer, Sender, send_apprise
from monitor.render import Renderer
from monitor.store import Fetch, NewMatch, SourceState, Store, validators_of
from monitor.stories import Features, StoryIndex, features
from monitor.types import Article, RawDocument

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CONCURRENT_SOURCES = 64  # crawled or being stored at once
BATCH_DOCUMENTS = 1000  # crawled articles stored in one transaction at most
STATES_LINGER = 0.5  # seconds the daemon gathers source states with no articles into one transaction
KNOWN_LINKS = 500  # recent links per source read from the store at start
KNOWN_LINKS_KEPT = 100  # at least this many kept per source (or 3x its feed's length)
DELIVER_EVERY = 20  # seconds between outbox flushes in the daemon
STOP_WAIT = 120  # seconds a stop waits for crawls and deliveries in flight


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class IngestReport:
    received: int = 0
    new: int = 0
    new_stories: int = 0
    matches: int = 0
    queued: int = 0
    updates: int = 0
    by_source: dict[str, "IngestReport"] = field(default_factory=dict)

    def of(self, source: str) -> "IngestReport":
        part = self.by_source.get(source)
        if part is None:
            part = self.by_source[source] = IngestReport()
        return part


def build_watchlist(settings: Settings) -> Watchlist:
    return Watchlist([compile_config_watch(w) for w in settings.config.watches])


def delivery_modes(watch: WatchConfig, settings: Settings) -> dict[str, str]:
    """For each target of a watch: instant, or which digest schedule collects its alerts."""
    out = {}
    for target in watch.notify:
        options = settings.options.get(target)
        if watch.mode == "digest":
            out[target] = f"digest:watch:{watch.name}"
        elif options is not None and options.mode == "digest":
            out[target] = f"digest:target:{target}"
        else:
            out[target] = "instant"
    return out


def compile_config_watch(w: WatchConfig) -> CompiledWatch:
    return compile_watch(w.name, terms=w.terms, query=w.query, exclude=w.exclude, languages=w.languages, sources=w.sources)


class Monitor:
    def __init__(self, settings: Settings, clock: Clock = utcnow, send: Sender = send_apprise, store: Store | None = None):
        self.clock = clock
        self.send = send
        self.store = store or Store.from_url(settings.database_url)
        self.apply(settings)
        self.index = StoryIndex(self.window)
        self._crawler: Crawler | None = None
        self._lock: asyncio.Lock | None = None
        self.metrics = Metrics()
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._host_started: dict[str, float] = {}
        self.in_flight: dict[str, asyncio.Task] = {}  # source name -> its running crawl (daemon)
        self.states: dict[str, SourceState] | None = None  # source states as last written (read once at start)
        self.known: dict[str, dict[str, None]] = {}  # source -> links and GUIDs of its recent entries, oldest first
        self._batch = Batcher(self._store_batch, size=lambda r: len(r.documents) + 1, limit=BATCH_DOCUMENTS, light=lambda r: not r.documents)
        self._warming: asyncio.Future | None = None
        self._busy: asyncio.Semaphore | None = None
        # one thread stores everything: glibc gives each thread its own heap, and several threads
        # each taking turns at big batches would each keep a batch's worth of memory for good
        self._storer = ThreadPoolExecutor(1, thread_name_prefix="store")

    def apply(self, settings: Settings) -> None:
        """Take a (re)loaded config; the database URL is fixed for the process's life."""
        self.settings = settings
        self.sources = {s.name: s for s in settings.config.sources}  # looked up for every crawl result
        self.watchlist = build_watchlist(settings)
        self.targets_of = {w.name: list(w.notify) for w in settings.config.watches}
        self.updating_watches = {w.name for w in settings.config.watches if w.updates}
        self.window = timedelta(seconds=settings.config.stories.window)
        self.modes = {w.name: delivery_modes(w, settings) for w in settings.config.watches}
        self.deliverer = Deliverer(
            self.store,
            settings.targets,
            settings.options,
            settings.unconfigured,
            schedules={
                **{f"digest:watch:{w.name}": w for w in settings.config.watches if w.mode == "digest"},
                **{f"digest:target:{n}": t for n, t in settings.options.items() if t.mode == "digest"},
            },
            renderer=Renderer(settings.config.templates),
            send=self.send,
        )

    async def _store_batch(self, results: list[CrawlResult]) -> None:
        async with self.lock:
            await asyncio.get_running_loop().run_in_executor(self._storer, self.store_results, results)

    def source(self, name: str) -> RssSource | HtmlSource | None:
        return self.sources.get(name)

    # ---- pure-ish pipeline, runs in a worker thread -------------------------------------
    def ingest(self, docs: list[RawDocument]) -> IngestReport:
        """Store what is new, place it in stories, match it, queue alerts: one transaction."""
        from sqlalchemy.exc import IntegrityError

        for attempt in range(3):
            try:
                return self._ingest(docs)
            except IntegrityError:
                # another daemon on the same database stored some of these first: try again, they are known now
                self.index = StoryIndex(self.window)
                if attempt == 2:
                    raise
            except Exception:
                self.index = StoryIndex(self.window)  # it may hold articles the failed transaction did not store
                raise
        raise AssertionError("unreachable")

    def _ingest(self, docs: list[RawDocument]) -> IngestReport:
        now = self.clock()
        report = IngestReport(received=len(docs))
        for d in docs:
            report.of(d.source).received += 1
        articles = [a for a in (to_article(d, now) for d in docs) if a.text or a.title]
        if not articles:  # unchanged feeds, failures: nothing to store here
            return report
        with self.store.session() as s:
            fresh = self.store.fresh_articles(s, articles)
            if fresh:
                self.index.forget_before(now - self.window)
                for article_id, story_id, stored, fetched in self.store.recent_articles(s, now - self.window, self.index.loaded_upto):
                    self.index.add(article_id, story_id, Features.from_json(stored), fetched)
            article_ids = self.store.next_ids(s, "article")
            story_ids: Iterator[int] | None = None
            rows: list[tuple[int, Article, int, dict]] = []
            new_stories: list[tuple[int, str]] = []
            grown: set[int] = set()
            matches: list[NewMatch] = []
            for a in fresh:
                article_id = next(article_ids)
                feats = features(a.title, a.text, a.language)
                story_id = self.index.place(feats, now).story_id
                mine = report.of(a.source)
                mine.new += 1
                if story_id is None:
                    story_ids = story_ids or self.store.next_ids(s, "story")
                    story_id = next(story_ids)
                    new_stories.append((story_id, a.title))
                    mine.new_stories += 1
                else:
                    grown.add(story_id)
                rows.append((article_id, a, story_id, feats.to_json()))
                self.index.add(article_id, story_id, feats, now)
                for m in self.watchlist.match(a.title, a.text, a.language, a.source):
                    mine.matches += 1
                    matches.append(
                        NewMatch(m.watch, article_id, story_id, m.hits, tuple(self.targets_of.get(m.watch, ())), m.clause, self.modes.get(m.watch))
                    )
            self.store.insert_stories(s, new_stories, now)
            self.store.insert_articles(s, rows)
            grown -= {i for i, _ in new_stories}
            self.store.touch_stories(s, grown, now)
            for story_id in sorted(grown):
                report.updates += self.store.queue_updates(s, story_id, now, self.updating_watches)
            report.queued = self.store.record_matches(s, matches, now)
            s.commit()
        for part in report.by_source.values():
            report.new += part.new
            report.new_stories += part.new_stories
            report.matches += part.matches
        return report

    def deliver(self, ignore_backoff: bool = False) -> Counts:
        counts = self.deliverer.flush(self.clock(), ignore_backoff)
        for outcome in ("sent", "failed", "gave_up"):
            self.metrics.alerts.labels(outcome).inc(counts[outcome])
        self.metrics.pending.set(self.store.pending_count())
        return counts

    # ---- the loop side ------------------------------------------------------------------
    @property
    def crawler(self) -> Crawler:
        if self._crawler is None:
            self._crawler = Crawler()
        return self._crawler

    async def close_crawler(self) -> None:
        if self._crawler is not None:
            await self._crawler.stop()

    @asynccontextmanager
    async def _host_slot(self, url: str):  # noqa: ANN202
        """Sources on one host share a limit: `per_host` crawls at a time, started `host_delay` apart."""
        host = urlsplit(url).netloc.lower()
        defaults = self.settings.config.defaults
        slot = self._hosts.setdefault(host, asyncio.Semaphore(defaults.per_host))
        async with slot:
            wait = self._host_started.get(host, 0.0) + defaults.host_delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._host_started[host] = time.monotonic()
            yield

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def run_source(self, name: str, deliver: bool = True) -> CrawlResult | None:
        source = self.source(name)
        if source is None:
            return None
        timeout = self.settings.config.timeout(source)
        await self._warm()
        validators = validators_of(self.states[name]) if isinstance(source, RssSource) and name in self.states else None
        known = self.known.get(name)
        if known is None and (isinstance(source, HtmlSource) or source.fulltext):  # only they fetch pages per link
            known = self.known[name] = dict.fromkeys(await asyncio.to_thread(self.store.known_links, name, KNOWN_LINKS))
        if self._busy is None:
            self._busy = asyncio.Semaphore(CONCURRENT_SOURCES)
        # held until the articles are stored: crawls cannot run ahead of storing and pile up in memory
        async with self._busy:
            started = time.monotonic()
            async with self._host_slot(source.url):
                result = await self.crawler.crawl(source, timeout, known or (), validators)
            result.seconds = time.monotonic() - started
            await self._batch.submit(result)
        if deliver and self.alerts_queued:
            self.alerts_queued = False
            async with self.lock:
                await asyncio.to_thread(self.deliver)
        return result

    async def _warm(self) -> None:
        """Source states are read once, then kept: a pass over unchanged feeds reads nothing."""
        if self.states is None:
            if self._warming is None:
                self._warming = asyncio.ensure_future(asyncio.to_thread(self.store.source_states))
            states = await asyncio.shield(self._warming)
            if self.states is None:
                self.states = {st.name: st for st in states}

    def store_results(self, results: list[CrawlResult]) -> None:
        """What a batch of crawls brought: articles in one transaction, source states in another."""
        try:
            report = self.ingest([d for r in results for d in r.documents])
        except Exception:
            if len(results) == 1:
                self._store_failed(results[0])
                report = IngestReport()
            else:  # one source's articles may be the trouble: the others must not fail with it
                for r in results:
                    self.store_results([r])
                return
        self.alerts_queued = self.alerts_queued or bool(report.queued or report.updates)
        config = self.settings.config
        fetches = []
        for r in results:
            source = self.source(r.source)
            part = report.by_source.get(r.source) or IngestReport(received=len(r.documents))
            cadence = Cadence(config.interval(source), config.max_interval(source)) if source else None
            fetches.append(
                Fetch(r.source, self.clock(), r.error, r.items_seen, part.new, r.validators, r.not_modified, r.error_class, r.retry_after, cadence)
            )
            self._observe(r.source, r, part)
            self._remember(r)
        for name, state in self.store.record_fetches(fetches).items():
            assert self.states is not None
            self.states[name] = state
            self._check_health(name, state)
        if report.received >= 100:
            release_memory()

    def _store_failed(self, result: CrawlResult) -> None:
        log.exception("%s: storing %d articles failed", result.source, len(result.documents))
        result.error = result.error or "storing articles failed"
        result.error_class = result.error_class or "store"
        result.validators = None

    def _remember(self, result: CrawlResult) -> None:
        """The links of a source's recent entries, so its next pass skips fetching their pages again."""
        known = self.known.get(result.source)
        if known is None or result.error:
            return
        for d in result.documents:
            for key in (d.url, d.guid, d.canonical_url):
                if key:
                    known.pop(key, None)
                    known[key] = None
        limit = max(KNOWN_LINKS_KEPT, 3 * result.items_seen)
        for key in list(islice(known, max(0, len(known) - limit))):
            del known[key]

    def _observe(self, name: str, result: CrawlResult, report: IngestReport) -> None:
        outcome = "error" if result.error else "not_modified" if result.not_modified else "ok"
        m = self.metrics
        m.fetches.labels(name, outcome).inc()
        m.fetch_seconds.labels(name).observe(result.seconds)
        m.items.labels(name).inc(result.items_seen if not result.not_modified else 0)
        m.new_articles.labels(name).inc(report.new)
        m.stories.inc(report.new_stories)
        m.matches.inc(report.matches)
        if outcome != "error":
            m.last_success.labels(name).set(self.clock().timestamp())
        fields = {
            "source": name, "outcome": outcome, "items": result.items_seen, "new_articles": report.new,
            "new_stories": report.new_stories, "matches": report.matches, "alerts_queued": report.queued,
            "seconds": round(result.seconds, 3),
        }
        if result.error:
            log.warning("source %s failed: %s [%s]", name, result.error, result.error_class, extra={**fields, "error_class": result.error_class})
        elif result.not_modified:
            log.info("source %s: not modified (%.2fs)", name, result.seconds, extra=fields)
        else:
            log.info(
                "source %s: %d items, %d new articles, %d new stories, %d alerts queued (%.2fs)",
                name, result.items_seen, report.new, report.new_stories, report.queued, result.seconds, extra=fields,
            )

    def _check_health(self, name: str, state) -> None:  # noqa: ANN001
        """One operator alert when a source fails for hours or falls silent; cleared when it recovers."""
        op = self.settings.config.operator
        now = self.clock()
        trouble = incident(now, state.failing_since and aware(state.failing_since), state.last_new_item and aware(state.last_new_item),
                           state.publish_gap, timedelta(seconds=op.failing_after), op.silence_factor)
        if trouble == (state.incident or None):
            return
        if trouble is None:
            self.store.set_incident(name, "")
            state.incident = ""
            return
        if trouble == "failing":
            text = f"Source '{name}' has been failing since {aware(state.failing_since):%Y-%m-%d %H:%M} UTC: {state.error}"
        else:
            text = f"Source '{name}' has brought nothing new since {aware(state.last_new_item):%Y-%m-%d %H:%M} UTC (usually every {state.publish_gap / 3600:.1f} h)."
        log.warning("operator alert: %s", text)
        if not op.notify or all(self.deliverer.operator(t, f"newsmonitor: source {name} is {trouble}", text, now) for t in op.notify):
            self.store.set_incident(name, trouble)
            state.incident = trouble

    async def tick(self, name: str) -> None:
        """A scheduler job: start the source's crawl as our own task, unless it is still running.

        The crawl is not the job itself because APScheduler cancels running jobs on
        shutdown, and a stop must let crawls in flight finish.
        """
        if name in self.in_flight:
            log.info("source %s: previous crawl still running; skipping this turn", name)
            return
        await self._warm()
        state = self.states.get(name)  # type: ignore[union-attr]
        due = aware(state.next_due) if state is not None else None
        if due is not None and due > self.clock():
            return  # backing off after failures, or a quiet source polled less often
        task = asyncio.get_running_loop().create_task(self._guarded(name))
        self.in_flight[name] = task
        task.add_done_callback(lambda _t: self.in_flight.pop(name, None))

    async def _guarded(self, name: str) -> None:
        try:
            await self.run_source(name)
        except Exception:  # one source's unexpected failure must not stop the daemon
            log.exception("source %s: crawl failed unexpectedly", name)

    async def run_once(self) -> list[CrawlResult]:
        """Every source once, concurrently; then every due alert."""
        names = [s.name for s in self.settings.config.sources]
        results = await asyncio.gather(*(self.run_source(n, deliver=False) for n in names))
        async with self.lock:
            # a one-off pass (cron, a user at the terminal) retries every pending alert now
            counts = await asyncio.to_thread(self.deliver, True)
        await self.close_crawler()
        failed = [r for r in results if r is not None and r.error]
        log.info(
            "pass complete: %d sources (%d failed), alerts sent %d, failed %d, waiting %d, held %d, given up %d",
            len(names), len(failed), counts.sent, counts.failed, counts.waiting, counts.held, counts.gave_up,
        )
        return [r for r in results if r is not None]

    async def serve(self, stop: asyncio.Event, reload_every: float = 5.0) -> None:
        """The daemon: one job per source on its interval until `stop` is set, then drain."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=timezone.utc)
        self._batch.linger = STATES_LINGER
        self._schedule(scheduler)
        if self.settings.config.retention.text:
            scheduler.add_job(self.prune_job, "interval", hours=6, id="__prune__", next_run_time=self.clock(), coalesce=True, max_instances=1)
        # retries, digests, quiet hours and rate limits are all decided when the outbox is flushed
        scheduler.add_job(self.deliver_job, "interval", seconds=DELIVER_EVERY, id="__deliver__", coalesce=True, max_instances=1)
        scheduler.start()
        health = None
        listen = self.http or (self.settings.config.health.listen if self.settings.config.health else None)
        if listen:
            try:
                health = await serve_http(listen, self._healthz, self._health_report, self.metrics.render)
                log.info("http endpoint on http://%s (/healthz, /health, /metrics)", listen)
            except OSError as exc:
                log.error("http endpoint not started on %s: %s", listen, exc)
        self.scheduler = scheduler
        log.info("daemon started: %d sources scheduled", len(self.settings.config.sources))
        stamps = _stamps(self.settings)
        self.wake = asyncio.Event()
        try:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(self.wake.wait(), reload_every)
                except asyncio.TimeoutError:
                    pass
                self.wake.clear()
                if stop.is_set():
                    break
                now_stamps = _stamps(self.settings)
                if now_stamps != stamps or self.reload_requested:
                    self.reload_requested = False
                    self.reload(scheduler)
                    stamps = _stamps(self.settings)
        finally:
            scheduler.shutdown(wait=False)
            if health is not None:
                health.close()
            if self.in_flight:
                log.info("stopping: finishing %d crawl(s) and deliveries in flight", len(self.in_flight))
                _, late = await asyncio.wait(list(self.in_flight.values()), timeout=STOP_WAIT)
                if late:
                    log.warning("stopping: %d task(s) still running after %ds; they will be redone at the next start", len(late), STOP_WAIT)
            await self.close_crawler()
            log.info("daemon stopped")

    reload_requested = False
    alerts_queued = False  # the last batch queued alerts: deliver now rather than at the next outbox flush
    wake: asyncio.Event | None = None
    scheduler = None
    http: str | None = None  # --http HOST:PORT

    def health(self) -> dict:
        """What the health endpoint reports: sources, the outbox, and alerts given up on."""
        counts = self.store.counts()
        states = {s.name: s for s in self.store.source_states()}
        sources = []
        for source in self.settings.config.sources:
            st = states.get(source.name)
            sources.append(
                {
                    "name": source.name,
                    "outcome": st.outcome if st else "never",
                    "last_fetch": st.last_fetch.isoformat() if st and st.last_fetch else None,
                    "consecutive_failures": st.consecutive_failures if st else 0,
                }
            )
        failed = [
            {"id": d.id, "watch": d.watch, "target": d.target, "story_id": d.story_id, "last_error": d.last_error}
            for d in self.store.deliveries("failed", limit=20)
        ]
        return {
            "status": "degraded" if counts["failed"] else "ok",
            "deliveries": {"pending": counts["pending"], "sent": counts["sent"], "failed": counts["failed"]},
            "failed": failed,
            "sources": sources,
        }

    async def _health_report(self) -> tuple[int, dict]:
        """/health: sources and the outbox; 503 when alerts were given up on."""
        try:
            report = await asyncio.to_thread(self.health)
        except Exception as exc:  # noqa: BLE001 - the database is unreachable
            return 503, {"status": "down", "error": f"database: {exc}"}
        return (200 if report["status"] == "ok" else 503), report

    async def _healthz(self) -> tuple[int, dict]:
        """/healthz: alive means the scheduler runs and the database answers."""
        scheduler_ok = self.scheduler is not None and self.scheduler.running
        try:
            report = await asyncio.to_thread(self.health)
            database_ok = True
        except Exception as exc:  # noqa: BLE001
            report, database_ok = {"error": f"database: {exc}"}, False
        ok = scheduler_ok and database_ok
        return (200 if ok else 503), {
            "status": "ok" if ok else "unhealthy",
            "scheduler": "running" if scheduler_ok else "stopped",
            "database": "reachable" if database_ok else "unreachable",
            "sources": report.get("sources", []),
            "outbox": report.get("deliveries", {}),
        }

    async def prune_job(self) -> None:
        from monitor import db

        keep = self.settings.config.retention.text
        if keep:
            n = await asyncio.to_thread(db.prune, self.store.engine, self.clock() - timedelta(seconds=keep))
            if n:
                log.info("retention: emptied the text of %d article(s) older than %g day(s)", n, keep / 86400)

    async def deliver_job(self) -> None:
        """Flush the outbox as a tracked task, so a stop waits for the message being sent."""
        if "__deliver__" in self.in_flight:
            return

        async def run() -> None:
            try:
                async with self.lock:
                    await asyncio.to_thread(self.deliver)
            except Exception:  # noqa: BLE001 - a database hiccup: the next flush retries
                log.exception("delivering alerts failed")

        task = asyncio.get_running_loop().create_task(run())
        self.in_flight["__deliver__"] = task
        task.add_done_callback(lambda _t: self.in_flight.pop("__deliver__", None))

    def _schedule(self, scheduler) -> None:  # noqa: ANN001
        wanted = {s.name: s for s in self.settings.config.sources}
        for job in scheduler.get_jobs():
            if not job.id.startswith("__") and job.id not in wanted:
                job.remove()
        for name, source in wanted.items():
            interval = self.settings.config.interval(source)
            job = scheduler.get_job(name)
            if job is None:
                scheduler.add_job(
                    self.tick, "interval", seconds=interval, args=[name], id=name, jitter=min(30.0, interval * 0.1),
                    next_run_time=self.clock(), coalesce=True, max_instances=1, misfire_grace_time=None,
                )
            elif job.trigger.interval != timedelta(seconds=interval):
                job.reschedule("interval", seconds=interval)

    def reload(self, scheduler) -> None:  # noqa: ANN001
        try:
            settings = config_mod.load(self.settings.path)
        except ConfigError as exc:
            for p in exc.problems:
                log.error("config not reloaded: %s", p)
            return
        if settings.database_url != self.settings.database_url:
            log.warning("config reloaded, but the database change needs a restart")
            settings = Settings(**{**settings.__dict__, "database_url": self.settings.database_url})
        self.apply(settings)
        self._schedule(scheduler)
        log.info("config reloaded: %d sources, %d watches", len(settings.config.sources), len(settings.config.watches))


class Batcher:
    """Work that arrives while the previous batch is being done waits, then goes in together.

    Crawls finish one by one; storing each alone would cost a transaction per source.
    Under load the batches grow by themselves (up to `limit` by `size`, so memory stays
    bounded), and an idle daemon stores at once.
    """

    def __init__(
        self,
        work: Callable[[list], "asyncio.Future | object"],
        size: Callable[[object], int] = lambda _: 1,
        limit: int = 1 << 30,
        light: Callable[[object], bool] = lambda _: False,
    ):
        self.work = work
        self.size = size
        self.limit = limit
        self.light = light
        self.linger = 0.0  # seconds a batch of light items only waits for company
        self.waiting: list[tuple[object, asyncio.Future]] = []
        self.running: asyncio.Task | None = None
        self._heavy: asyncio.Event | None = None

    async def submit(self, item: object) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((item, done))
        if not self.light(item) and self._heavy is not None:
            self._heavy.set()
        if self.running is None or self.running.done():
            self.running = asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(done)

    def _next_batch(self) -> list[tuple[object, asyncio.Future]]:
        batch, total = [], 0
        while self.waiting and (not batch or total + self.size(self.waiting[0][0]) <= self.limit):
            item = self.waiting.pop(0)
            total += self.size(item[0])
            batch.append(item)
        return batch

    async def _drain(self) -> None:
        while self.waiting:
            if self.linger and all(self.light(item) for item, _ in self.waiting):
                # a daemon's unchanged feeds finish one by one: their states go in one transaction
                # a moment later, not one each; anything with articles to store ends the wait
                self._heavy = asyncio.Event()
                try:
                    await asyncio.wait_for(self._heavy.wait(), self.linger)
                except asyncio.TimeoutError:
                    pass
                self._heavy = None
            batch = self._next_batch()
            try:
                await self.work([item for item, _ in batch])  # type: ignore[misc]
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set_result(None)


def release_memory() -> None:
    """Hand freed heap back to the system after a big batch (glibc keeps it otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _stamps(settings: Settings) -> tuple[float, ...]:
    out = []
    for f in settings.files:
        try:
            out.append(f.stat().st_mtime)
        except OSError:
            out.append(-1.0)
    return tuple(out)


def run_on_reactor(main: Callable[[], "asyncio.Future | asyncio.Task | object"]) -> int:
    """Run an async main on Scrapy's asyncio reactor; return its exit code."""
    from monitor.crawl import install_reactor

    install_reactor()
    from twisted.internet import reactor

    # What is loaded by now (modules, config, watchlist: some 100,000 objects) lives as long as the
    # process: kept out of the cyclic collector's full passes, a first pass runs ~8% faster.
    gc.collect()
    gc.freeze()
    outcome: dict[str, int] = {}

    def start() -> None:
        future = asyncio.ensure_future(main())  # type: ignore[arg-type]

        def done(f: asyncio.Future) -> None:
            if f.cancelled():
                outcome["code"] = 1
            elif f.exception() is not None:
                exc = f.exception()
                log.error("stopped by an unexpected error", exc_info=exc)
                outcome["code"] = 1
            else:
                outcome["code"] = int(f.result() or 0)
            reactor.stop()

        future.add_done_callback(done)

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    return outcome.get("code", 1)


def install_signals(stop: asyncio.Event, monitor: Monitor) -> None:
    loop = asyncio.get_running_loop()

    def term() -> None:
        log.info("stop requested")
        stop.set()
        if monitor.wake is not None:
            monitor.wake.set()

    def hup() -> None:
        monitor.reload_requested = True
        if monitor.wake is not None:
            monitor.wake.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, term)

    loop.add_signal_handler(signal.SIGHUP, hup)
