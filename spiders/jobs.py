"""One long-lived spider that runs every source's crawl as a job.

Starting a Scrapy crawler per source costs tens of milliseconds of CPU; a daemon
polling a thousand feeds would spend its life starting crawlers. Instead one
spider stays open (spider_idle is refused) and each source's crawl is a job:
the source's own spider object (FeedSpider, ListingSpider) makes the requests
and parses the responses, and this spider only routes them, counts what is in
flight per job, and collects the documents. A job is done when none of its requests
is in flight any more (a redirect or retry carries its request's token).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request

from monitor.types import RawDocument
from spiders.base import MonitorSpider

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: int
    handler: MonitorSpider  # the source's spider: it makes the requests and parses the answers
    timeout: float
    done: asyncio.Future
    documents: list[RawDocument] = field(default_factory=list)
    live: set[int] = field(default_factory=set)  # requests in flight (redirects and retries keep their token)
    abandoned: bool = False


class JobsSpider(scrapy.Spider):
    name = "jobs"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any):  # noqa: ANN001, ANN206
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(spider._dropped, signal=signals.request_dropped)
        return spider

    async def start(self) -> AsyncIterator[Any]:
        return
        yield  # an async generator with nothing to start with: jobs bring the requests

    def _idle(self) -> None:
        raise DontCloseSpider

    # ---- jobs ---------------------------------------------------------------------------
    async def submit(self, handler: MonitorSpider, timeout: float) -> Job:
        """Start a source's crawl; await `job.done` for its end."""
        job = Job(next(self._ids), handler, timeout, asyncio.get_running_loop().create_future())
        self.jobs[job.id] = job
        try:
            async for request in handler.start():
                self._send(job, request)
        except Exception as exc:  # noqa: BLE001 - a handler that cannot even start fails its source only
            handler.fail(f"crawl could not start: {exc}")
        self._settle(job)
        return job

    def abandon(self, job: Job) -> None:
        """The job ran out of time: answers still on their way are dropped."""
        job.abandoned = True
        self.jobs.pop(job.id, None)
        if not job.done.done():
            job.done.set_result(None)

    def _send(self, job: Job, request: Request) -> None:
        self.crawler.engine.crawl(self._adopt(job, request))

    def _adopt(self, job: Job, request: Request) -> Request:
        """Tag a handler's request with its job, and route its answers through the job."""
        return request.replace(
            callback=self._callback,
            errback=self._errback,
            dont_filter=True,  # the handlers skip known links; the spider lives for months, so no ever-growing seen-set
            meta={
                **request.meta,
                "job": job.id,
                "job_token": next(self._tokens),
                "download_timeout": job.timeout,
                "handler_callback": request.callback,
                "handler_errback": request.errback,
            },
        )

    def _job(self, request: Request) -> Job | None:
        return self.jobs.get(request.meta.get("job", 0))

    def _scheduled(self, request: Request, spider: scrapy.Spider) -> None:
        job = self._job(request)
        if job is not None:
            job.live.add(request.meta["job_token"])

    def _dropped(self, request: Request, spider: scrapy.Spider) -> None:
        job = self._job(request)
        if job is not None:
            job.live.discard(request.meta["job_token"])
            self._settle(job)

    def _callback(self, response: Any, **kwargs: Any) -> Any:
        request = response.request
        job = self._job(request)
        callback = request.meta["handler_callback"] or (job.handler.parse if job else None)
        return self._run(request, lambda: callback(response, **kwargs))

    def _errback(self, failure: Any) -> Any:
        request = failure.request
        errback = request.meta.get("handler_errback")
        return self._run(request, (lambda: errback(failure)) if errback else (lambda: None))

    def _run(self, request: Request, call: Callable[[], Any]) -> Any:
        job = self._job(request)
        if job is None:  # abandoned: its time ran out
            return
        try:
            out = call()
            for element in out if out is not None and not isinstance(out, (Request, RawDocument)) else ([out] if out is not None else []):
                if job.abandoned:
                    break
                if isinstance(element, Request):
                    yield self._adopt(job, element)
                elif isinstance(element, RawDocument):
                    job.documents.append(element)
        except Exception as exc:  # noqa: BLE001 - a page that breaks a parser is that source's failure
            log.debug("%s: %s failed", job.handler.source, request.url, exc_info=True)
            job.handler.fail(f"could not process {request.url}: {exc}", "parse")
        finally:
            job.live.discard(request.meta["job_token"])
            self._settle(job)

    def _settle(self, job: Job) -> None:
        if not job.live and not job.done.done():
            # let requests yielded just before this one settle into the scheduler first
            loop = job.done.get_loop()
            loop.call_soon(self._finish, job)

    def _finish(self, job: Job) -> None:
        if not job.live and not job.done.done():
            self.jobs.pop(job.id, None)
            job.done.set_result(None)
