"""What both spiders share: source arguments, per-source timeout, and a record of failures."""

from __future__ import annotations

from typing import Any, Iterable

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

try:  # Scrapy >= 2.13 wraps transport errors in its own exceptions
    from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, DownloadTimeoutError
except ImportError:  # pragma: no cover
    CannotResolveHostError = DownloadConnectionRefusedError = DownloadTimeoutError = TimeoutError  # type: ignore[misc]
from twisted.python.failure import Failure


class MonitorSpider(scrapy.Spider):
    def __init__(
        self,
        url: str = "",
        source: str = "",
        language: str = "en",
        timeout: float | str = 20,
        known: Iterable[str] = (),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.url = url
        self.source = source or self.name
        self.language = language
        self.timeout = float(timeout)
        self.known = set(known)
        self.failures: list[str] = []
        self.items_seen = 0

    def is_known(self, *keys: str) -> bool:
        return any(k and k in self.known for k in keys)

    def fail(self, reason: str) -> None:
        self.failures.append(reason)
        self.logger.debug("%s: %s", self.source, reason)  # the daemon logs the outcome once

    def source_failed(self, failure: Failure) -> None:
        """The feed or listing page itself could not be fetched."""
        if failure.check(HttpError):
            response = failure.value.response
            self.fail(f"HTTP {response.status} from {response.url}")
        elif failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
            self.fail(f"no answer from {failure.request.url} within {self.timeout:g}s")
        elif failure.check(DNSLookupError, CannotResolveHostError):
            self.fail(f"cannot resolve host of {failure.request.url}")
        elif failure.check(DownloadConnectionRefusedError):
            self.fail(f"connection refused by {failure.request.url}")
        else:
            self.fail(f"{failure.getErrorMessage() or failure.type.__name__} ({failure.request.url})")

    def page_failed(self, failure: Failure) -> None:
        """An article page failed; the source as a whole did not."""
        self.logger.info("%s: article page skipped: %s", self.source, failure.getErrorMessage())
