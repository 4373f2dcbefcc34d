"""The bridge to Scrapy: crawl one source, get its RawDocuments back.

How crawls run inside the long-lived daemon: one process, one Twisted reactor
(Scrapy's AsyncioSelectorReactor) that drives one asyncio loop for the daemon's
whole life. APScheduler's AsyncIOScheduler and every crawl share that loop;
each crawl is a fresh Scrapy Crawler started with AsyncCrawlerRunner, so the
reactor is never restarted (Scrapy cannot restart it) and crawls of different
sources run concurrently. `install_reactor()` must run before anything imports
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
    """Runs spiders on the running loop; one instance per daemon.

    Scrapy is imported lazily so that `check-config`, `status` and friends start fast
    and nothing touches twisted.internet.reactor before install_reactor().
    """

    def __init__(self, settings: ScrapySettings | None = None):
        from scrapy.crawler import AsyncCrawlerRunner

        self.settings = settings or scrapy_settings()
        self.runner = AsyncCrawlerRunner(self.settings)

    async def crawl(
        self, source: RssSource | HtmlSource, timeout: float, known: Iterable[str] = (), validators: dict[str, str] | None = None
    ) -> CrawlResult:
        """Fetch a source once; never raises for a source's own faults, and never outlives its deadline."""
        from scrapy import signals
        from scrapy.crawler import Crawler as ScrapyCrawler

        from spiders.feed import FeedSpider
        from spiders.listing import ListingSpider

        settings = self.settings.copy()
        settings.set("DOWNLOAD_TIMEOUT", timeout, priority="spider")
        # the feed or listing request, then article pages: a few timeouts at most, then stop
        deadline = timeout * 3 + 5
        settings.set("CLOSESPIDER_TIMEOUT", deadline, priority="spider")
        if isinstance(source, RssSource):
            spidercls, extra = FeedSpider, {"fulltext": source.fulltext, "validators": validators}
        else:
            spidercls, extra = ListingSpider, {"link_pattern": source.link_pattern, "link_selector": source.link_selector}
        crawler = ScrapyCrawler(spidercls, settings)
        result = CrawlResult(source.name)

        def collect(item: RawDocument, **_: object) -> None:
            result.documents.append(item)

        # Scrapy's signals hold receivers weakly: `collect` stays referenced until the crawl ends
        crawler.signals.connect(collect, signal=signals.item_scraped)
        task = self.runner.crawl(
            crawler, url=source.url, source=source.name, language=source.language, timeout=timeout, known=set(known), **extra
        )
        try:
            await asyncio.wait_for(asyncio.shield(task), deadline + 5)
        except asyncio.TimeoutError:
            result.error = f"crawl did not finish within {deadline + 5:g}s; stopped"
            result.error_class = "timeout"
            await crawler.stop_async()
            await asyncio.wait([task], timeout=10)
        except Exception as exc:  # a crawl that cannot even start is this source's failure, not the daemon's
            log.exception("%s: crawl failed", source.name)
            result.error = f"crawl failed: {exc}"
        spider = crawler.spider
        if spider is not None:
            result.items_seen = spider.items_seen
            result.not_modified = getattr(spider, "not_modified", False)
            result.retry_after = spider.retry_after
            result.validators = getattr(spider, "validators", None)
            if spider.failures and result.error is None:
                result.error = "; ".join(spider.failures)
            result.error_class = (result.error_class or spider.failure_class or "other") if result.error else ""
        return result

    async def stop(self) -> None:
        await self.runner.stop()
