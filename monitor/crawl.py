"""The bridge to Scrapy: crawl one source, get its RawDocuments back.

How crawls run inside the long-lived daemon: one process, one Twisted reactor
(Scrapy's AsyncioSelectorReactor) that drives one asyncio loop for the daemon's
whole life. APScheduler's AsyncIOScheduler and every crawl share that loop.
One Scrapy crawler, started with AsyncCrawlerRunner on first use, stays open
for the process's life, and each source's crawl is a job of its one spider
(spiders/jobs.py): a pass over a thousand feeds costs a thousand requests, not
a thousand crawler start-ups, and crawls of different sources run concurrently. `install_reactor()` must run before anything imports
twisted.internet.reactor.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from monitor.config import HtmlSource, RssSource
from monitor.types import RawDocument

if TYPE_CHECKING:
    from scrapy.settings import Settings as ScrapySettings

log = logging.getLogger(__name__)

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def install_reactor() -> None:
    from scrapy.utils.reactor import install_reactor as scrapy_install

    scrapy_install(REACTOR)


@dataclass
class CrawlResult:
    source: str
    documents: list[RawDocument] = field(default_factory=list)
    items_seen: int = 0
    error: str | None = None
    not_modified: bool = False
    error_class: str = ""  # dns, timeout, connection, http, parse, blocked, other
    retry_after: float | None = None  # the outlet asked us to wait this long (429/503)
    seconds: float = 0.0
    validators: dict[str, str] | None = None  # ETag/Last-Modified to send next time (feeds)


def scrapy_settings() -> ScrapySettings:
    from scrapy.settings import Settings

    from spiders import settings as module

    s = Settings()
    s.setmodule(module, priority="project")
    return s


class Crawler:
    """Runs every source's crawl as a job of one long-lived spider on the running loop.

    Scrapy is imported lazily so that `check-config`, `status` and friends start fast
    and nothing touches twisted.internet.reactor before install_reactor().
    """

    def __init__(self, settings: ScrapySettings | None = None):
        self.settings = settings or scrapy_settings()
        self._crawler = None
        self._spider = None
        self._task = None
        self._starting: asyncio.Future | None = None

    async def _jobs(self):  # noqa: ANN202
        """The shared spider, started on first use (and again if it ever closed)."""
        if self._spider is not None and self._task is not None and not self._task.done():
            return self._spider
        if self._starting is not None:
            return await asyncio.shield(self._starting)
        from scrapy import signals
        from scrapy.crawler import AsyncCrawlerRunner
        from scrapy.crawler import Crawler as ScrapyCrawler

        from spiders.jobs import JobsSpider

        loop = asyncio.get_running_loop()
        self._starting = opened = loop.create_future()
        crawler = ScrapyCrawler(JobsSpider, self.settings.copy())

        def on_open(spider, **_: object) -> None:  # noqa: ANN001
            if not opened.done():
                opened.set_result(spider)

        crawler.signals.connect(on_open, signal=signals.spider_opened)
        self._on_open = on_open  # signals hold receivers weakly
        runner = AsyncCrawlerRunner(self.settings)
        self._task = asyncio.ensure_future(runner.crawl(crawler))

        def ended(task: asyncio.Future) -> None:
            if not opened.done():
                failed = not task.cancelled() and task.exception()
                opened.set_exception(failed or RuntimeError("the crawler stopped before it opened"))

        self._task.add_done_callback(ended)
        try:
            self._spider = await opened
        finally:
            self._starting = None
        self._crawler = crawler
        return self._spider

    async def crawl(
        self, source: RssSource | HtmlSource, timeout: float, known: Iterable[str] = (), validators: dict[str, str] | None = None
    ) -> CrawlResult:
        """Fetch a source once; never raises for a source's own faults, and never outlives its deadline."""
        from spiders.feed import FeedSpider
        from spiders.listing import ListingSpider

        result = CrawlResult(source.name)
        common = {"url": source.url, "source": source.name, "language": source.language, "timeout": timeout, "known": known}
        if isinstance(source, RssSource):
            handler = FeedSpider(fulltext=source.fulltext, validators=validators, **common)
        else:
            handler = ListingSpider(link_pattern=source.link_pattern, link_selector=source.link_selector, **common)
        # the feed or listing request, then article pages: a few timeouts at most, then stop
        deadline = timeout * 3 + 10
        try:
            spider = await self._jobs()
            job = await spider.submit(handler, timeout)
        except Exception as exc:  # a crawl that cannot even start is this source's failure, not the daemon's
            log.exception("%s: crawl failed", source.name)
            result.error = f"crawl failed: {exc}"
            result.error_class = "other"
            return result
        try:
            await asyncio.wait_for(asyncio.shield(job.done), deadline)
        except asyncio.TimeoutError:
            spider.abandon(job)
            result.error = f"crawl did not finish within {deadline:g}s; stopped"
            result.error_class = "timeout"
        result.documents = job.documents
        result.items_seen = handler.items_seen
        result.not_modified = getattr(handler, "not_modified", False)
        result.retry_after = handler.retry_after
        result.validators = getattr(handler, "validators", None)
        if handler.failures and result.error is None:
            result.error = "; ".join(handler.failures)
        result.error_class = (result.error_class or handler.failure_class or "other") if result.error else ""
        return result

    async def stop(self) -> None:
        if self._crawler is not None and self._task is not None and not self._task.done():
            await self._crawler.stop_async()
            await asyncio.wait([self._task], timeout=10)
