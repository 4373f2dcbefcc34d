"""What both spiders share: source arguments, per-source timeout, and a record of failures."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable

import scrapy
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError, TimeoutError

try:  # Scrapy >= 2.13 wraps transport errors in its own exceptions
    from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, DownloadTimeoutError
except ImportError:  # pragma: no cover
    CannotResolveHostError = DownloadConnectionRefusedError = DownloadTimeoutError = TimeoutError  # type: ignore[misc]
from twisted.python.failure import Failure

from monitor.schedule import retry_after_seconds


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
        self.failure_class = ""  # dns, timeout, connection, http, parse, blocked, other
        self.retry_after: float | None = None  # seconds, from a 429/503 answer
        self.items_seen = 0

    def is_known(self, *keys: str) -> bool:
        return any(k and k in self.known for k in keys)

    def fail(self, reason: str, kind: str = "other") -> None:
        self.failures.append(reason)
        self.failure_class = self.failure_class or kind
        self.logger.debug("%s: %s", self.source, reason)  # the daemon logs the outcome once

    def source_failed(self, failure: Failure) -> None:
        """The feed or listing page itself could not be fetched."""
        if failure.check(HttpError):
            response = failure.value.response
            if response.status in (429, 503):
                header = response.headers.get("Retry-After", b"").decode("latin-1")
                self.retry_after = retry_after_seconds(header, datetime.now(timezone.utc))
            blocked = response.status in (401, 403, 429, 451)
            self.fail(f"HTTP {response.status} from {response.url}", "blocked" if blocked else "http")
        elif failure.check(TimeoutError, TCPTimedOutError, DownloadTimeoutError):
            self.fail(f"no answer from {failure.request.url} within {self.timeout:g}s", "timeout")
        elif failure.check(DNSLookupError, CannotResolveHostError):
            self.fail(f"cannot resolve host of {failure.request.url}", "dns")
        elif failure.check(DownloadConnectionRefusedError):
            self.fail(f"connection refused by {failure.request.url}", "connection")
        else:
            self.fail(f"{failure.getErrorMessage() or failure.type.__name__} ({failure.request.url})")

    def page_failed(self, failure: Failure) -> None:
        """An article page failed; the source as a whole did not."""
        self.logger.info("%s: article page skipped: %s", self.source, failure.getErrorMessage())

